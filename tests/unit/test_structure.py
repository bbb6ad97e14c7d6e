"""Rules of the architecture that code review alone would let slip."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import voxtray.core

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"
FORBIDDEN_IN_CORE = ("PySide6", "qasync", "shiboken6", "voxtray.desktop", "desktop")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            # A relative import climbing out of core/ would reach desktop/.
            depth = len(path.relative_to(CORE).parts) - 1
            if node.level > depth + 1:
                names.add(f"<outside core>.{node.module}")
    return names


def test_core_never_imports_qt_or_desktop() -> None:
    offenders = {}
    for path in CORE.rglob("*.py"):
        bad = {
            name
            for name in imported_modules(path)
            if name.startswith("<outside core>")
            or any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_CORE)
        }
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_importing_the_whole_engine_loads_no_qt() -> None:
    """Checked at run time too: a dependency of core must not drag Qt in."""
    modules = [
        f"voxtray.core.{p.relative_to(CORE).with_suffix('').as_posix().replace('/', '.')}"
        for p in CORE.rglob("*.py")
        if p.name != "__init__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'shiboken6')]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""


def test_public_api_is_locked() -> None:
    """Changing what ``voxtray.core`` exports is a decision, not an accident."""
    assert sorted(voxtray.core.__all__) == [
        "AudioChunk",
        "ErrorCategory",
        "Event",
        "FirstAudio",
        "Narrator",
        "OutputDeviceChanged",
        "Priority",
        "QueuedItem",
        "RequestCanceled",
        "RequestFailed",
        "RequestFinished",
        "RequestHandle",
        "RequestId",
        "RequestQueued",
        "RequestStarted",
        "RequestWarning",
        "Segment",
        "SegmentAudible",
        "SpeakRequest",
        "TerminalEvent",
        "Voice",
        "VoiceRef",
        "VoxTrayError",
        "VoxTrayWarning",
        "__version__",
    ]
    for name in voxtray.core.__all__:
        assert hasattr(voxtray.core, name), name


def test_each_third_party_library_lives_in_one_module() -> None:
    owners = {
        "sounddevice": {"audio/player.py"},
        "piper": {"providers/piper.py"},
        "onnxruntime": {"providers/piper.py"},
        "soundfile": {"audio/sinks.py"},
        "soxr": {"audio/resample.py"},
        "pysbd": {"text/segment.py"},
        "httpx": {"providers/elevenlabs/http.py"},
        "websockets": {"providers/elevenlabs/ws.py"},
        "keyring": {"secrets.py"},
        "markdown_it": {"text/formats/markdown.py"},
        "selectolax": {"text/formats/html.py"},
        "pypdf": {"text/formats/pdf.py"},
        "docx": {"text/formats/docx.py"},
        "num2words": {"text/speakable.py"},
        "emoji": {"text/speakable.py"},
        "langdetect": {"text/language.py"},
    }
    found: dict[str, set[str]] = {name: set() for name in owners}
    for path in CORE.rglob("*.py"):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in found:
                found[top].add(path.relative_to(CORE).as_posix())
    assert found == owners


def test_the_command_line_loads_no_engine_until_a_command_needs_it() -> None:
    """``voxtray stop`` (bound to a key by Wayland users) and the hand-over of ``voxtray speak``
    only talk to the running tray app; parsing the command line and sending a command must not
    import numpy, PortAudio, the voices or the readers (0.4 s, more in the frozen app)."""
    code = (
        "import sys\n"
        "from voxtray.core import cli, ipc\n"
        "cli._parser().parse_args(['stop'])\n"
        "heavy = ('numpy', 'sounddevice', 'onnxruntime', 'piper', 'httpx', 'pypdf', 'keyring',\n"
        "         'voxtray.core.narrator', 'voxtray.core.engine', 'voxtray.core.text.readers')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""
