"""The ``voxtray`` command.

``voxtray`` alone starts the tray app (or, when it already runs, shows its drop window).
``voxtray speak`` hands its request to a running tray app over the single-instance channel
(``ipc.py``) and returns as soon as it was accepted; with no tray app, or ``--no-instance``, it
plays the request itself. ``stop``, ``pause``, ``resume``, ``skip``, ``read-clipboard`` and
``quit`` control the running tray app: they are what a Wayland user binds to keys in the
compositor.

Exit codes: 0 spoken, listed or accepted by the tray app; 1 it could not be spoken (no device,
the voice failed…), no tray app runs for a command that needs one, or the tray app cannot
start because there is no graphical display (over SSH, in CI: use the commands instead);
2 the input or the command line was wrong (empty text, missing or binary file…); 130 stopped
with Ctrl+C. Every failure prints one plain sentence to stderr, never a traceback (``-v``
shows the details in the log).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .cloud_commands import add_cloud_commands
from .errors import EmptyTextError, ErrorCategory, InputError, InstanceError, VoxTrayError
from .ipc import MAX_MESSAGE_BYTES, send_command
from .model import Event, RequestFailed, RequestWarning, SpeakRequest, TerminalEvent, VoiceRef
from .paths import last_stats_file
from .settings import Settings, load_settings
from .stats import load_snapshot, save_snapshot
from .text.stdin import spool_stdin
from .text_commands import add_text_commands

if TYPE_CHECKING:
    from .export import ExportProgress

# The engine (numpy, PortAudio, the voices, the document readers: ~0.4 s to import) is imported
# inside the functions that speak, export or read documents. The commands a user binds to keys
# (`voxtray stop`, `pause`, `skip`) and `voxtray speak` handing text to the tray app only talk
# to the running app, and must answer in a fraction of that (tests/integration/test_cli.py).

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_LOG = logging.getLogger("voxtray")
_USE_THE_COMMAND_LINE = (
    "The tray app needs a graphical session. Without one, use the command line: "
    'voxtray speak "text", voxtray speak --file notes.txt (see voxtray --help).'
)


class CliError(Exception):
    """A failure with its exit code, reported as one line on stderr."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _configure_logging(verbosity: int) -> None:
    """``-v``: VoxTray's own details; ``-vv``: every library's too.

    The libraries' debug output is mostly noise for a user (qasync alone logs every call it
    hands to a thread, thousands a minute while speaking), so one ``-v`` leaves it out.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbosity >= 2 else logging.WARNING,
        format="voxtray: %(levelname)s: %(message)s",
    )
    if verbosity == 1:
        _LOG.setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handler: Callable[[argparse.Namespace], int] = args.handler if args.command else _tray
    try:
        result: int = handler(args)
        return result
    except CliError as error:
        print(f"voxtray: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("voxtray: stopped.", file=sys.stderr)
        return EXIT_INTERRUPTED


# -- commands -----------------------------------------------------------------------------------


def _speak(args: argparse.Namespace) -> int:
    settings = _settings()
    with tempfile.TemporaryDirectory(prefix="voxtray-") as spool:
        request = _request(args, settings, Path(spool))
        voice = _voice(args, settings)
        local_only = args.no_instance or args.device or args.volume is not None
        if not local_only and _hand_over(request, args, voice, Path(spool)):
            return EXIT_OK
        return asyncio.run(_narrate(settings, request, voice, args))


def _hand_over(
    request: SpeakRequest, args: argparse.Namespace, voice: VoiceRef, spool: Path
) -> bool:
    """Give the request to the running tray app; False when none runs."""
    command: dict[str, Any] = {"cmd": "speak", "interrupt": args.interrupt, "rate": request.rate}
    if request.from_start:
        command["from_start"] = True
    if request.source is None:
        command["text"] = request.text
    elif request.source.parent == spool:  # stdin, spooled here: gone when we exit
        from .text.readers import open_text

        command["text"] = "".join(open_text(request.source))
    else:
        command["file"] = str(request.source.resolve())
    if len(command.get("text") or "") * 4 > MAX_MESSAGE_BYTES:
        raise CliError("The text is too long to hand to the running VoxTray; use --file.", 2)
    if args.voice or args.provider:
        command["voice"] = str(voice)
    return _instance(command) is not None


def _control(args: argparse.Namespace) -> int:
    """``stop``, ``pause``, ``resume``, ``skip``, ``rewind``, ``read-clipboard``, ``quit``."""
    command: dict[str, Any] = {"cmd": args.command}
    unit = getattr(args, "unit", None)
    if unit is not None:
        command["unit"] = unit
    if _instance(command) is None:
        raise CliError("VoxTray is not running (start it with `voxtray`).", EXIT_FAILED)
    return EXIT_OK


def _instance(command: dict[str, Any]) -> dict[str, Any] | None:
    """Send ``command`` to the running tray app: its reply, or None if none runs."""
    try:
        reply = send_command(command)
    except InstanceError as error:
        raise CliError(str(error), EXIT_FAILED) from error
    if reply is not None and not reply["ok"]:
        raise CliError(str(reply.get("error", "The running VoxTray refused.")), EXIT_FAILED)
    return reply


def _export(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="voxtray-") as spool:
        return _export_to(args, Path(spool))


def _export_to(args: argparse.Namespace, spool: Path) -> int:
    """``voxtray export``: the work is :func:`~.export.export_narration`'s; this is
    the terminal's side of it (arguments, the progress bar, one line per file written)."""
    from .export import ExportOptions, audio_suffix, export_narration

    settings = _settings()
    request = _request(args, settings, spool)
    voice = _voice(args, settings)
    options = ExportOptions(
        target=args.output,
        format=args.format,
        captions=tuple(args.captions or ()),
        chapter_list=args.chapters,
        split_chapters=args.split_chapters,
    )
    try:
        audio_suffix(options)
    except VoxTrayError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    progress = _ProgressBar(sys.stderr) if sys.stderr.isatty() else None

    def warn(message: str) -> None:
        print(f"voxtray: warning: {message}", file=sys.stderr)

    def advance(step: ExportProgress) -> None:
        if progress is not None:
            progress.update(step.fraction)

    try:
        result = asyncio.run(
            export_narration(
                request,
                options,
                settings=settings,
                voice=voice,
                on_progress=advance,
                on_warning=warn,
                stats_file=last_stats_file(),
            )
        )
    except VoxTrayError as error:
        raise CliError(str(error), _code(error)) from error
    finally:
        if progress is not None:
            progress.close()
    for path in result.files:
        print(f"Wrote {path}", file=sys.stderr)
    for note in result.notes:
        print(f"voxtray: note: {note}", file=sys.stderr)
    return EXIT_OK


def _voices(args: argparse.Namespace) -> int:
    from .engine import default_providers

    async def listing() -> int:
        registry = default_providers(_settings())
        try:
            if args.provider and args.provider not in registry.ids:
                known = ", ".join(registry.ids)
                raise CliError(f"There is no speech provider “{args.provider}” ({known}).", 2)
            ids = [args.provider] if args.provider else registry.ids
            rows: list[tuple[str, ...]] = []
            for provider_id in ids:
                try:
                    voices = await registry.get(provider_id).voices()
                except VoxTrayError as error:
                    if args.provider:
                        raise CliError(str(error), _code(error)) from error
                    # Listing everything: one provider's trouble (no key, offline) is a note.
                    print(f"voxtray: {provider_id}: {error}", file=sys.stderr)
                    continue
                rows.extend(
                    (v.provider, v.id, v.language, str(v.sample_rate), v.name) for v in voices
                )
        finally:
            await registry.aclose()
        _table(("PROVIDER", "ID", "LANGUAGE", "RATE", "NAME"), rows)
        return EXIT_OK

    return asyncio.run(listing())


def _devices(args: argparse.Namespace) -> int:
    from .audio.player import list_output_devices

    try:
        devices = list_output_devices()
    except VoxTrayError as error:
        raise CliError(str(error), EXIT_FAILED) from error
    if not devices:
        raise CliError("No audio output device was found.", EXIT_FAILED)
    rows = [
        (
            "*" if d.is_default else "",
            str(d.index),
            d.name,
            d.hostapi,
            f"{d.default_samplerate:.0f}",
        )
        for d in devices
    ]
    _table(("", "INDEX", "NAME", "API", "RATE"), rows)
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    live = _instance({"cmd": "stats"})
    path = last_stats_file()
    snapshot = load_snapshot(path) if live is None and path.exists() else None
    data: dict[str, object]
    if live is not None:
        data = dict(live["stats"])
    elif snapshot is None:
        data = {"note": "No session has run yet."}
    else:
        data = snapshot.as_dict()
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        for key, value in sorted(data.items()):
            print(f"{key:>24}: {value}")
    return EXIT_OK


def _tray(args: argparse.Namespace) -> int:
    """``voxtray`` alone: start the tray app, or show the drop window of the one running."""
    if _instance({"cmd": "show"}) is not None:
        print("VoxTray is already running; its drop window is shown.", file=sys.stderr)
        return EXIT_OK
    # Imported by name, and only here: the engine never depends on the Qt layer, the command
    # that starts it does (and `voxtray speak` never loads Qt). The display is checked before
    # Qt is loaded: without one, Qt would abort with its own message.
    display: Any = importlib.import_module("voxtray.desktop.display")
    problem: str | None = display.display_problem()
    if problem is not None:
        raise CliError(f"{problem} {_USE_THE_COMMAND_LINE}", EXIT_FAILED)
    try:
        desktop: Any = importlib.import_module("voxtray.desktop.app")
    except ImportError as error:  # Qt's own libraries missing (libxcb-cursor0, libEGL…)
        raise CliError(
            f"The tray app cannot start: Qt could not be loaded ({error}). Install the system "
            f"packages that packaging/linux-deps.sh lists. {_USE_THE_COMMAND_LINE}",
            EXIT_FAILED,
        ) from error
    code: int = desktop.run(verbose=args.verbose > 0)
    return code


# -- the narration itself -----------------------------------------------------------------------


async def _narrate(
    settings: Settings, request: SpeakRequest, voice: VoiceRef, args: argparse.Namespace
) -> int:
    """``voxtray speak`` here, through the sound card."""
    from .engine import build_narrator

    if args.device:
        settings = settings.replace(audio=settings.audio.replace(device=str(args.device)))
    if args.volume is not None:
        settings = settings.replace(audio=settings.audio.replace(volume=args.volume))
    narrator = build_narrator(settings, voice=voice)
    try:
        await narrator.start()
    except VoxTrayError as error:
        await narrator.aclose()
        await _document_problem(request)
        raise CliError(str(error), EXIT_FAILED) from error
    remove_listener = narrator.add_listener(_reporter)
    try:
        outcome = await narrator.speak(request).wait()
    finally:
        remove_listener()
        with contextlib.suppress(OSError):
            save_snapshot(narrator.stats(), last_stats_file())
        await narrator.aclose()
    return _exit_code(outcome)


async def _document_problem(request: SpeakRequest) -> None:
    """Raise the document's own problem (encrypted, scanned…), if it has one.

    :func:`_check_file` only probes a document, and its one real reading is the worker's, after
    the sound card opened. When the sound card cannot open, nothing reads the document, yet
    its problem is the more useful sentence: another device may be found, the file stays
    unreadable. So then, and only then, the document is opened here to learn it.
    """
    if request.source is None:
        return
    from .text.readers import open_document

    try:
        stream = await asyncio.to_thread(open_document, request.source)
    except InputError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    stream.close()


def _reporter(event: Event) -> None:
    if isinstance(event, RequestWarning):
        print(f"voxtray: warning: {event.message}", file=sys.stderr)


def _code(error: VoxTrayError) -> int:
    """Exit code for an error: 2 when the user's input or command was wrong, else 1."""
    return EXIT_USAGE if error.category is ErrorCategory.INPUT else EXIT_FAILED


def _exit_code(outcome: TerminalEvent) -> int:
    if isinstance(outcome, RequestFailed):
        is_input = outcome.category is ErrorCategory.INPUT
        raise CliError(outcome.reason, EXIT_USAGE if is_input else EXIT_FAILED)
    return EXIT_OK


# -- arguments ----------------------------------------------------------------------------------


def _settings() -> Settings:
    loaded = load_settings()
    for warning in loaded.warnings:
        print(f"voxtray: warning: {warning}", file=sys.stderr)
    return loaded.settings


def _request(args: argparse.Namespace, settings: Settings, spool: Path) -> SpeakRequest:
    rate = args.rate if args.rate is not None else settings.voice.rate
    if not 0.25 <= rate <= 4.0:
        raise CliError(f"--rate must be between 0.25 and 4, not {rate:g}.", EXIT_USAGE)
    words: list[str] = args.text or []
    if args.file is not None and words:
        raise CliError("Give either text or --file, not both.", EXIT_USAGE)
    if words == ["-"] or (args.file is not None and str(args.file) == "-"):
        path = spool_stdin(sys.stdin.buffer, spool)
        _check_file(path)
        return SpeakRequest(source=path, rate=rate)
    if args.file is not None:
        _check_file(args.file)
        return SpeakRequest(
            source=args.file, rate=rate, from_start=getattr(args, "from_start", False)
        )
    if not words:
        raise CliError("There is no text to speak: give some text, --file FILE, or - for stdin.", 2)
    text = " ".join(words)
    if not text.strip():
        raise CliError(str(EmptyTextError()), EXIT_USAGE)
    return SpeakRequest(text=text, rate=rate)


def _check_file(path: Path) -> None:
    """Fail fast, before the sound card opens, on a file that cannot be read at all.

    Only what is cheap: :func:`probe_document` (missing, unreadable, binary, unsupported),
    and for plain text, whether it has a word in it. A document (EPUB, PDF…) is not opened
    here: that would parse a book once to check it and again to read it. Its deeper problems
    (encrypted, damaged, scanned, empty) come, in the same sentences, from its one reading:
    the export's, before any file is written, or the narrator's.
    """
    from .text.readers import open_document, probe_document

    try:
        if probe_document(path) != "txt":
            return
        with open_document(path) as pieces:
            if not any(piece.strip() for piece in pieces):
                raise CliError(f"{path.name} contains no text to speak.", EXIT_USAGE)
    except InputError as error:
        raise CliError(str(error), EXIT_USAGE) from error


def _voice(args: argparse.Namespace, settings: Settings) -> VoiceRef:
    default = settings.voice.ref
    provider = args.provider or (None if args.voice and ":" in args.voice else default.provider)
    if args.voice:
        return VoiceRef.parse(args.voice, default_provider=provider or default.provider)
    if args.provider and args.provider != default.provider:
        return VoiceRef(args.provider)
    return default


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxtray",
        description="Read text aloud with an embedded neural voice.",
        epilog='Examples: voxtray speak "Hello" · voxtray speak --file notes.txt · '
        "echo hi | voxtray speak - · voxtray export --file book.txt -o book.mp3",
    )
    parser.add_argument("--version", action="version", version=f"voxtray {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log details to stderr (-vv: the libraries' details too)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def voice_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("text", nargs="*", help="the text to speak, or - to read stdin")
        sub.add_argument("-f", "--file", type=Path, help="a text file to read (- for stdin)")
        sub.add_argument("--voice", help="voice id, or provider:voice (see `voxtray voices`)")
        sub.add_argument("--provider", help="speech provider: piper (default) or tone")
        sub.add_argument("--rate", type=float, help="speaking rate, e.g. 1.3 (same pitch)")

    speak = commands.add_parser("speak", help="speak text, a file or stdin")
    voice_options(speak)
    speak.add_argument(
        "--from-start",
        action="store_true",
        help="read a document from its beginning, not from where it was left",
    )
    speak.add_argument("--device", help="output device name or index (see `voxtray devices`)")
    speak.add_argument("--volume", type=float, help="volume from 0 to 1.5")
    speak.add_argument(
        "--interrupt", action="store_true", help="cut off what the tray app plays and speak now"
    )
    speak.add_argument(
        "--no-instance",
        action="store_true",
        help="play here even when the tray app runs (--device and --volume imply it)",
    )
    speak.set_defaults(handler=_speak)

    export = commands.add_parser("export", help="write the narration to an audio file")
    voice_options(export)
    export.add_argument("-o", "--output", type=Path, required=True, help="the audio file")
    export.add_argument("--format", help="wav, flac, ogg or mp3 (default: from the extension)")
    export.add_argument(
        "--captions",
        action="append",
        choices=("srt", "lrc"),
        help="also write captions next to the audio file (book.srt, book.lrc); repeatable",
    )
    chapters = export.add_mutually_exclusive_group()
    chapters.add_argument(
        "--chapters",
        action="store_true",
        help="also write the document's chapters as book.chapters.txt (HH:MM:SS.mmm Title)",
    )
    chapters.add_argument(
        "--split-chapters",
        action="store_true",
        help="one audio file per chapter: book-01 Title.mp3, book-02 …; text before the first "
        "chapter goes to book-00 Opening.mp3",
    )
    export.set_defaults(handler=_export)

    voices = commands.add_parser("voices", help="list the voices")
    voices.add_argument("--provider", help="only this provider's voices")
    voices.set_defaults(handler=_voices)

    devices = commands.add_parser("devices", help="list the audio output devices")
    devices.set_defaults(handler=_devices)

    stats = commands.add_parser("stats", help="statistics of the tray app, or the last session")
    stats.add_argument("--json", action="store_true", help="as JSON")
    stats.set_defaults(handler=_stats)

    add_cloud_commands(commands)
    add_text_commands(commands)

    for name, summary in (
        ("stop", "silence the tray app and empty its queue"),
        ("pause", "pause the tray app"),
        ("resume", "resume the tray app"),
        ("skip", "skip to the next sentence (paragraph, chapter) of what the tray app reads"),
        ("rewind", "back to the start of the sentence (paragraph, chapter) the tray app reads"),
        ("read-clipboard", "the tray app reads the clipboard (or selection) now"),
        ("quit", "end the tray app"),
    ):
        sub = commands.add_parser(name, help=summary)
        sub.set_defaults(handler=_control)
        if name in ("skip", "rewind"):
            units = sub.add_mutually_exclusive_group()
            for unit in ("paragraph", "chapter"):
                units.add_argument(
                    f"--{unit}",
                    dest="unit",
                    action="store_const",
                    const=unit,
                    help=f"by {unit} instead of by sentence",
                )
    return parser


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


class _ProgressBar:
    """A one-line progress bar on a terminal, redrawn in place."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = -1

    def update(self, fraction: float) -> None:
        percent = int(min(0.99, fraction) * 100)  # 100 % is the bar going away
        if percent == self._shown:
            return
        self._shown = percent
        filled = percent * 30 // 100
        self._stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%")
        self._stream.flush()

    def close(self) -> None:
        if self._shown >= 0:
            self._stream.write("\r" + " " * 40 + "\r")
            self._stream.flush()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
