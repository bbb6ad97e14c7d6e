"""``voxtray clean`` and ``voxtray dict``: what will be spoken, and the pronunciation rules.

Kept apart from ``cli.py`` (which speaks and exports) because neither touches the sound card:
``clean`` runs the very pipeline the narrator runs (reader, segmenter, dictionary, speakable
pass for the chosen provider, language detection) and prints the result, so that "why did it
say that?" has an answer without listening; ``dict`` edits ``pronunciation.toml``.

Exit codes: 0 done; 1 a file could not be written; 2 the input or a rule was wrong.

The text pipeline is imported by ``clean`` when it runs, not with this module: building the
``voxtray`` command line must stay cheap (see ``cli.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .command_support import CommandError, guarded
from .errors import SettingsError
from .settings import Settings, load_settings
from .text.dictionary import PronunciationDictionary, PronunciationRule

__all__ = ["add_text_commands"]


def add_text_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``clean`` and ``dict`` to the ``voxtray`` command line."""
    clean = commands.add_parser("clean", help="show exactly what would be spoken for a file")
    clean.add_argument("file", type=Path, help="a text file or document")
    clean.add_argument(
        "--provider",
        help="prepare for this provider (default: the default voice's)",
    )
    clean.add_argument(
        "--plain", action="store_true", help="the whole text, without segment numbers"
    )
    clean.set_defaults(handler=guarded(_clean))

    rules = commands.add_parser("dict", help="the pronunciation dictionary")
    actions = rules.add_subparsers(dest="dict_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="say MATCH as REPLACE")
    add.add_argument("match")
    add.add_argument("replace")
    add.add_argument("--regex", action="store_true", help="MATCH is a regular expression")
    add.add_argument(
        "--case-sensitive", action="store_true", help="match the case exactly (default: any)"
    )
    add.add_argument(
        "--anywhere",
        action="store_true",
        help="match inside words too (default: whole words only)",
    )
    add.add_argument(
        "--scope", default="all", help="all (default), language:fr or voice:piper:VOICE"
    )
    add.set_defaults(handler=guarded(_dict_add))
    actions.add_parser("list", help="the rules, numbered").set_defaults(handler=guarded(_dict_list))
    remove = actions.add_parser("remove", help="remove a rule by number or by its match")
    remove.add_argument("rule", help="the number from `voxtray dict list`, or the match")
    remove.set_defaults(handler=guarded(_dict_remove))
    load = actions.add_parser("import", help="add the rules of a TOML file")
    load.add_argument("file", type=Path)
    load.set_defaults(handler=guarded(_dict_import))
    save = actions.add_parser("export", help="write the rules to a TOML file")
    save.add_argument("file", type=Path)
    save.set_defaults(handler=guarded(_dict_export))


# -- clean --------------------------------------------------------------------------------------


def _clean(args: argparse.Namespace) -> int:
    from .engine import text_preparer
    from .text.readers import open_document
    from .text.segment import segment_text

    settings = _settings()
    voice = settings.voice.ref
    provider_id: str = args.provider or voice.provider
    if provider_id != voice.provider:
        voice = type(voice)(provider_id)
    max_chars = _max_chars(settings, provider_id)
    preparer = text_preparer(settings)
    for warning in preparer.warnings:
        print(f"voxtray: warning: {warning}", file=sys.stderr)
    request = preparer.for_request()

    def warn(message: str) -> None:
        print(f"voxtray: warning: {message}", file=sys.stderr)

    said: list[str] = []
    noted: set[str] = set()
    with open_document(args.file, on_warning=warn) as pieces:
        for segment in segment_text(
            pieces, max_chars=max_chars, first_clause_chars=settings.engine.first_clause_chars
        ):
            context = request.context(segment.text)
            chosen, note = preparer.voice_for(context.language, voice)
            if note is not None and note not in noted:
                noted.add(note)
                print(f"voxtray: note: {note}", file=sys.stderr)
            spoken = preparer.prepare(
                segment.text, provider=chosen.provider, voice=chosen, context=context
            )
            if args.plain:
                if spoken.text:
                    said.append(spoken.text)
            else:
                where = f"{segment.start}-{segment.end}"
                print(f"[{segment.index + 1} {where} {context.language} {chosen}] {spoken.text}")
    if args.plain:
        print(" ".join(said))
    return 0


def _max_chars(settings: Settings, provider_id: str) -> int:
    """The provider's segment limit: segments are cut exactly as the narrator cuts them."""
    from .engine import default_providers

    async def ask() -> int:
        registry = default_providers(settings)
        try:
            if provider_id not in registry.ids:
                known = ", ".join(registry.ids)
                raise CommandError(f"There is no speech provider “{provider_id}” ({known}).")
            return registry.get(provider_id).capabilities.max_chars
        finally:
            await registry.aclose()

    return asyncio.run(ask())


def _settings() -> Settings:
    loaded = load_settings()
    for warning in loaded.warnings:
        print(f"voxtray: warning: {warning}", file=sys.stderr)
    return loaded.settings


# -- dict ---------------------------------------------------------------------------------------


def _dict_add(args: argparse.Namespace) -> int:
    rule = PronunciationRule(
        match=args.match,
        replace=args.replace,
        regex=args.regex,
        whole_word=not args.anywhere,
        case_sensitive=args.case_sensitive,
        scope=args.scope,
    )
    dictionary = PronunciationDictionary.load()
    number = dictionary.add(rule)
    dictionary.save()
    print(f"Rule {number}: {_describe(rule)}")
    return 0


def _dict_list(args: argparse.Namespace) -> int:
    rules = PronunciationDictionary.load().rules
    if not rules:
        print("No pronunciation rules yet (add one with `voxtray dict add MATCH REPLACE`).")
    for number, rule in enumerate(rules, 1):
        print(f"{number:>3}  {_describe(rule)}")
    return 0


def _dict_remove(args: argparse.Namespace) -> int:
    dictionary = PronunciationDictionary.load()
    rule = dictionary.remove(args.rule)
    dictionary.save()
    print(f"Removed: {_describe(rule)}")
    return 0


def _dict_import(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise CommandError(f"{args.file} is not a file.")
    incoming = PronunciationDictionary.load(args.file)
    dictionary = PronunciationDictionary.load()
    count = dictionary.merge(incoming)
    dictionary.save()
    print(f"Imported {count} rule{'s' if count != 1 else ''} from {args.file}.")
    return 0


def _dict_export(args: argparse.Namespace) -> int:
    dictionary = PronunciationDictionary.load()
    try:
        dictionary.save(args.file)
    except SettingsError as error:
        raise CommandError(str(error), 1) from error
    print(f"Exported {len(dictionary.rules)} rules to {args.file}.")
    return 0


def _describe(rule: PronunciationRule) -> str:
    flags = [
        "regex" if rule.regex else "",
        "anywhere" if not rule.whole_word else "",
        "case-sensitive" if rule.case_sensitive else "",
        "" if rule.scope == "all" else rule.scope,
    ]
    shown = ", ".join(flag for flag in flags if flag)
    return f"“{rule.match}” → “{rule.replace}”" + (f" ({shown})" if shown else "")
