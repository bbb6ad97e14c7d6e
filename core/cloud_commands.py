"""``voxtray key``, ``voxtray quota`` and ``voxtray cache``: the cloud voice's housekeeping.

Kept apart from ``cli.py`` (which speaks and exports) because these talk to the keyring, the
account and the cache, not to the sound card. The key is read without echo and never printed:
at most its last four characters, masked.

The keyring, the cache and the cloud provider are imported by the commands that use them, not
with this module: building the ``voxtray`` command line must stay cheap (see ``cli.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .command_support import CommandError, guarded
from .errors import VoxTrayError
from .settings import Settings, load_settings

if TYPE_CHECKING:
    from .providers.elevenlabs.provider import ElevenLabsProvider

SERVICES = ("elevenlabs",)


def add_cloud_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``key``, ``quota`` and ``cache`` to the ``voxtray`` command line."""
    key = commands.add_parser("key", help="store, check or delete the ElevenLabs API key")
    key_commands = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    for name, handler, text in (
        ("set", _key_set, "store a key in the OS keyring (asked for without echo)"),
        ("status", _key_status, "say whether a key is stored and whether it works"),
        ("delete", _key_delete, "remove the stored key"),
    ):
        sub = key_commands.add_parser(name, help=text)
        sub.add_argument("service", nargs="?", default="elevenlabs", choices=SERVICES)
        sub.set_defaults(handler=guarded(handler))

    quota = commands.add_parser("quota", help="characters used and left on the ElevenLabs plan")
    quota.set_defaults(handler=guarded(_quota))

    cache = commands.add_parser("cache", help="the cache of synthesized cloud speech")
    cache_commands = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    cache_commands.add_parser("stats", help="size and entries").set_defaults(
        handler=guarded(_cache_stats)
    )
    cache_commands.add_parser("clear", help="delete every cached segment").set_defaults(
        handler=guarded(_cache_clear)
    )


# -- key ----------------------------------------------------------------------------------------


def _key_set(args: argparse.Namespace) -> int:
    from .secrets import Secret, describe_backend, key_source, set_api_key

    if sys.stdin.isatty():
        typed = getpass.getpass(f"{_title(args.service)} API key (not shown): ")
    else:
        typed = sys.stdin.readline()
    typed = typed.strip()
    if not typed:
        raise CommandError("No key was given; nothing was stored.", 2)
    set_api_key(args.service, typed)
    print(
        f"Stored the {_title(args.service)} key ({Secret(typed).masked}) in {describe_backend()}."
    )
    if key_source(args.service) == "environment":
        print("Note: ELEVENLABS_API_KEY is set and takes precedence over the stored key.")
    return 0


def _key_delete(args: argparse.Namespace) -> int:
    from .secrets import delete_api_key

    if delete_api_key(args.service):
        print(f"Deleted the stored {_title(args.service)} key.")
        return 0
    print(f"No {_title(args.service)} key was stored.")
    return 0


def _key_status(args: argparse.Namespace) -> int:
    from .secrets import describe_backend, get_api_key, key_source

    source = key_source(args.service)
    if source is None:
        print(f"No {_title(args.service)} key: run `voxtray key set {args.service}`.")
        print(f"Keyring: {describe_backend()}")
        return 1
    secret = get_api_key(args.service)
    where = "the ELEVENLABS_API_KEY variable" if source == "environment" else describe_backend()
    print(f"Key {secret.masked if secret else '?'} from {where}.")

    async def check(provider: ElevenLabsProvider) -> str:
        plan = await provider.subscription()
        used = f"{plan.character_count:,} of {plan.character_limit:,}"
        return f"It works: {plan.tier} plan, {used} characters used."

    try:
        print(_with_provider(check))
    except VoxTrayError as error:
        print(f"It does not work: {error}")
        return 1
    return 0


# -- quota --------------------------------------------------------------------------------------


def _quota(args: argparse.Namespace) -> int:
    async def fetch(provider: ElevenLabsProvider) -> str:
        plan = await provider.subscription()
        left = plan.characters_left
        lines = [
            f"Plan:      {plan.tier} ({plan.status})",
            f"Used:      {plan.character_count:,} of {plan.character_limit:,} characters",
            f"Left:      {left:,}",
        ]
        if plan.next_character_count_reset_unix:
            reset = time.strftime(
                "%Y-%m-%d %H:%M", time.localtime(plan.next_character_count_reset_unix)
            )
            lines.append(f"Resets:    {reset}")
        return "\n".join(lines)

    print(_with_provider(fetch))
    return 0


# -- cache --------------------------------------------------------------------------------------


def _cache_stats(args: argparse.Namespace) -> int:
    from .cache import AudioCache

    settings = _settings()
    with AudioCache(max_bytes=settings.cache.max_megabytes * 1024 * 1024) as cache:
        stats = cache.stats()
    print(f"Entries:   {stats.entries:,}")
    print(f"Size:      {stats.bytes / 1024**2:,.1f} MB of {stats.max_bytes / 1024**2:,.0f} MB")
    print(f"File:      {stats.path}")
    if not settings.cache.enabled:
        print("The cache is turned off in the settings ([cache] enabled = false).")
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    from .cache import AudioCache

    with AudioCache() as cache:
        removed = cache.clear()
    print(f"Removed {removed:,} cached segment{'s' if removed != 1 else ''}.")
    return 0


# -- helpers ------------------------------------------------------------------------------------


def _settings() -> Settings:
    loaded = load_settings()
    for warning in loaded.warnings:
        print(f"voxtray: warning: {warning}", file=sys.stderr)
    return loaded.settings


def _with_provider(work: Callable[[ElevenLabsProvider], Awaitable[str]]) -> str:
    """Run ``work`` with an ElevenLabs provider built from the settings, then close it."""
    from .engine import ApiKeyHolder, default_providers
    from .providers.elevenlabs.provider import ElevenLabsProvider

    async def run() -> str:
        holder = ApiKeyHolder()
        await holder.aload()
        registry = default_providers(_settings(), api_key=holder)
        try:
            provider = registry.get("elevenlabs")
            assert isinstance(provider, ElevenLabsProvider)
            return await work(provider)
        finally:
            await registry.aclose()

    return asyncio.run(run())


def _title(service: str) -> str:
    return {"elevenlabs": "ElevenLabs"}.get(service, service)
