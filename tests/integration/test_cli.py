"""The ``voxtray`` command as a user runs it: a real process, real files, real exit codes.

Bad input must give one clear sentence and the right exit code, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from tests.harness.cli import isolated_env, run_voxtray
from tests.harness.pulse import PulseServer
from tests.harness.signal import db, dominant_frequency, rms, sound_spans


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


def voxtray(
    env: dict[str, str], *args: str, stdin: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    text = stdin.decode("latin-1") if stdin is not None else None  # bytes through, as given
    return run_voxtray(env, *args, stdin=text, timeout=timeout)


@pytest.mark.parametrize("text", ["", "   ", "\n\t  \n"])
def test_empty_text_is_refused_with_exit_2(home: dict[str, str], text: str) -> None:
    result = voxtray(home, "speak", text)
    assert result.returncode == 2
    assert "no text to speak" in result.stderr.lower()


def test_no_text_at_all(home: dict[str, str]) -> None:
    result = voxtray(home, "speak")
    assert result.returncode == 2
    assert "no text to speak" in result.stderr.lower()


def test_empty_stdin(home: dict[str, str]) -> None:
    result = voxtray(home, "speak", "-", stdin=b"  \n")
    assert result.returncode == 2
    assert "standard input contains no text" in result.stderr


def test_missing_file(home: dict[str, str], tmp_path: Path) -> None:
    result = voxtray(home, "speak", "--file", str(tmp_path / "nowhere.txt"))
    assert result.returncode == 2
    assert "nowhere.txt" in result.stderr and "no such file" in result.stderr.lower()


def test_folder_instead_of_file(home: dict[str, str], tmp_path: Path) -> None:
    result = voxtray(home, "speak", "--file", str(tmp_path))
    assert result.returncode == 2
    assert "folder" in result.stderr.lower()


def test_binary_file_is_named(home: dict[str, str], tmp_path: Path) -> None:
    blob = tmp_path / "picture.png"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20)
    result = voxtray(home, "speak", "--file", str(blob))
    assert result.returncode == 2
    assert "picture.png" in result.stderr and "not a text file" in result.stderr


def test_binary_stdin(home: dict[str, str]) -> None:
    result = voxtray(home, "speak", "-", stdin=b"\x7fELF\x02\x01\x01\x00" + bytes(300))
    assert result.returncode == 2
    assert "standard input is not a text file" in result.stderr


def test_whitespace_only_file(home: dict[str, str], tmp_path: Path) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n")
    result = voxtray(home, "speak", "--file", str(blank))
    assert result.returncode == 2
    assert "blank.txt contains no text" in result.stderr


def test_bad_rate(home: dict[str, str]) -> None:
    result = voxtray(home, "speak", "--rate", "9", "hello")
    assert result.returncode == 2
    assert "--rate" in result.stderr


def test_no_output_device_names_voxtray_devices(home: dict[str, str]) -> None:
    env = dict(home, PULSE_SERVER="unix:/nonexistent/voxtray-test/native")
    result = voxtray(env, "speak", "--provider", "tone", "Hello there.")
    assert result.returncode == 1
    assert "voxtray devices" in result.stderr


def test_broken_utf8_is_spoken_with_a_warning(home: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_bytes(b"Caf\xe9 au lait, s'il vous pla\xeet. Hello \xff\xfe world.\n")
    target = tmp_path / "notes.wav"
    result = voxtray(home, "export", "--provider", "tone", "--file", str(source), "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert "notes.txt" in result.stderr and "UTF-8" in result.stderr
    audio, _ = soundfile.read(target)
    assert len(audio) > 0


def test_ten_thousand_characters_without_a_space(home: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "line.txt"
    source.write_text("x" * 10_000)
    target = tmp_path / "line.wav"
    result = voxtray(home, "export", "--provider", "tone", "--file", str(source), "-o", str(target))
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(target)
    # The tone voice speaks 0.04 s per character: every character was spoken, none dropped.
    assert len(audio) / rate == pytest.approx(10_000 * 0.04, rel=0.01)


def test_unknown_export_format(home: dict[str, str], tmp_path: Path) -> None:
    result = voxtray(home, "export", "hello", "-o", str(tmp_path / "out.xyz"))
    assert result.returncode == 2
    assert "xyz" in result.stderr
    assert not (tmp_path / "out.xyz").exists()


@pytest.mark.piper
@pytest.mark.parametrize("extension", ["wav", "flac", "ogg", "mp3"])
def test_export_with_the_real_voice(home: dict[str, str], tmp_path: Path, extension: str) -> None:
    source = tmp_path / "book.txt"
    source.write_text("Chapter one. It was a bright cold day in April, and the clocks struck.\n")
    target = tmp_path / f"book.{extension}"
    result = voxtray(home, "export", "--file", str(source), "-o", str(target))
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(target, dtype="float32")
    seconds = len(audio) / rate
    assert 2.5 < seconds < 9.0
    assert rms(audio) > 0.02


def test_voices_lists_the_embedded_voice(home: dict[str, str]) -> None:
    result = voxtray(home, "voices")
    assert result.returncode == 0, result.stderr
    line = next(row for row in result.stdout.splitlines() if "en_US-joe-medium" in row)
    assert line.split()[:4] == ["piper", "en_US-joe-medium", "en_US", "22050"]


def test_unknown_provider(home: dict[str, str]) -> None:
    result = voxtray(home, "voices", "--provider", "nope")
    assert result.returncode == 2
    assert "nope" in result.stderr


def test_stats_before_any_session(home: dict[str, str]) -> None:
    result = voxtray(home, "stats", "--json")
    assert result.returncode == 0
    assert "note" in json.loads(result.stdout)


@pytest.mark.sound
def test_devices_lists_the_null_sink(home: dict[str, str], pulse: PulseServer) -> None:
    result = voxtray(dict(home, **pulse.client_env), "devices")
    assert result.returncode == 0, result.stderr
    assert any(row.startswith("*") for row in result.stdout.splitlines())


@pytest.mark.sound
def test_speak_stdin_is_heard_and_stats_are_saved(home: dict[str, str], pulse: PulseServer) -> None:
    env = dict(home, **pulse.client_env)
    with pulse.recorder() as recorder:
        result = voxtray(
            env, "speak", "--provider", "tone", "--voice", "523", "-", stdin=b"Hi there."
        )
    assert result.returncode == 0, result.stderr
    heard = recorder.result
    (span,) = sound_spans(heard.samples, heard.rate, threshold=db(-30))
    part = heard.samples[int(span.start * heard.rate) : int(span.end * heard.rate)]
    assert abs(dominant_frequency(part, heard.rate) - 523) < 5
    stats = json.loads(voxtray(env, "stats", "--json").stdout)
    for key in (
        "total_requests",
        "successful_requests",
        "failed_requests",
        "canceled_requests",
        "rate_limit_errors",
        "queue_size",
        "current_request",
        "worker_running",
        "time_to_first_audio",
        "underruns",
    ):
        assert key in stats
    assert stats["successful_requests"] == 1
    assert stats["time_to_first_audio"]["count"] == 1


def test_broken_settings_are_reported_by_line_and_left_alone(home: dict[str, str]) -> None:
    settings = Path(home["XDG_CONFIG_HOME"]) / "voxtray" / "settings.toml"
    settings.parent.mkdir(parents=True)
    broken = b'[voice]\nrate = 1.2\nvoice = "unterminated\n'
    settings.write_bytes(broken)
    result = voxtray(home, "voices", "--provider", "tone")
    assert result.returncode == 0, result.stderr
    assert "settings.toml" in result.stderr and "line 3" in result.stderr
    assert settings.read_bytes() == broken


def test_tray_without_a_display_points_to_the_command_line(home: dict[str, str]) -> None:
    env = {k: v for k, v in home.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    result = voxtray(env)
    assert result.returncode == 1
    assert "no graphical display" in result.stderr
    assert 'voxtray speak "text"' in result.stderr
    assert "qt." not in result.stderr.lower()  # Qt never got to complain


def test_tray_without_qts_system_libraries_says_what_is_missing(
    home: dict[str, str], tmp_path: Path
) -> None:
    """A machine with a display but without Qt's system libraries (PySide6 fails to import
    there): one sentence naming the library, not an ImportError traceback."""
    broken = tmp_path / "broken-qt" / "PySide6"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        'raise ImportError("libxcb-cursor.so.0: cannot open shared object file")\n'
    )
    env = {**home, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(broken.parent)}
    result = voxtray(env)
    assert result.returncode == 1
    assert "Qt could not be loaded (libxcb-cursor.so.0" in result.stderr
    assert "linux-deps.sh" in result.stderr and 'voxtray speak "text"' in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["stop", "pause", "resume", "skip", "read-clipboard", "quit"])
def test_control_commands_need_a_running_tray_app(home: dict[str, str], command: str) -> None:
    result = voxtray(home, command)
    assert result.returncode == 1
    assert result.stderr.strip() == "voxtray: VoxTray is not running (start it with `voxtray`)."


def test_speak_hands_over_to_a_running_instance(home: dict[str, str], tmp_path: Path) -> None:
    """A stand-in instance (the real channel, a recording handler) receives the request."""
    notes = tmp_path / "notes.txt"
    notes.write_text("Some notes.\n")
    code = (
        "import asyncio, json, sys\n"
        "from voxtray.core.ipc import InstanceServer\n"
        "async def main():\n"
        "    done = asyncio.Event()\n"
        "    async def handler(command):\n"
        "        print(json.dumps(command), flush=True)\n"
        "        if command['cmd'] == 'quit':\n"
        "            done.set()\n"
        "        return {'request_id': 7}\n"
        "    async with InstanceServer(handler):\n"
        "        print('ready', flush=True)\n"
        "        await done.wait()\n"
        "asyncio.run(main())\n"
    )
    instance = subprocess.Popen(
        [sys.executable, "-c", code], env=home, stdout=subprocess.PIPE, text=True
    )
    try:
        assert instance.stdout is not None
        assert instance.stdout.readline().strip() == "ready"
        spoken = voxtray(home, "speak", "--interrupt", "--rate", "1.25", "Hello", "there.")
        assert spoken.returncode == 0, spoken.stderr
        filed = voxtray(home, "speak", "--file", str(notes))
        assert filed.returncode == 0, filed.stderr
        piped = voxtray(home, "speak", "-", stdin=b"From stdin.")
        assert piped.returncode == 0, piped.stderr
        assert voxtray(home, "quit").returncode == 0
        received = [json.loads(instance.stdout.readline()) for _ in range(4)]
    finally:
        instance.wait(timeout=30)
    assert received == [
        {"cmd": "speak", "interrupt": True, "rate": 1.25, "text": "Hello there."},
        {"cmd": "speak", "interrupt": False, "rate": 1.0, "file": str(notes.resolve())},
        {"cmd": "speak", "interrupt": False, "rate": 1.0, "text": "From stdin."},
        {"cmd": "quit"},
    ]


@pytest.mark.parametrize(
    ("flags", "ours", "libraries"),
    [((), False, False), (("-v",), True, False), (("-vv",), True, True)],
)
def test_verbosity_keeps_library_noise_out_of_a_single_v(
    flags: tuple[str, ...], ours: bool, libraries: bool
) -> None:
    """``-v`` is VoxTray's own debug log; the libraries' (qasync logs every thread hand-off,
    thousands a minute while speaking) only come with ``-vv``."""
    probe = (
        "import logging, sys; from voxtray.core import cli; "
        "cli._configure_logging(cli._parser().parse_args(sys.argv[1:]).verbose); "
        "print(logging.getLogger('voxtray.desktop.app').isEnabledFor(logging.DEBUG), "
        "logging.getLogger('qasync').isEnabledFor(logging.DEBUG))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *flags, "voices"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split() == [str(ours), str(libraries)]
