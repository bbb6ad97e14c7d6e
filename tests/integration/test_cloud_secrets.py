"""The API key never leaves the process except in the ``xi-api-key`` header.

A whole session runs with a marker key: speech over HTTP and over the socket, the voice list,
the subscription, a cache, a failure with the key revoked and a fallback to the local voice.
Then the marker is searched for everywhere it could have gone: every log record at DEBUG (all
loggers: httpx, httpcore, websockets included), stdout and stderr, the text and ``repr`` of
every event and of every exception (with their causes and tracebacks), the stats snapshot,
the settings file, and the bytes of every file under the isolated XDG directories (the cache
database included). The CLI gets the same treatment as a subprocess.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from voxtray.core.engine import build_narrator
from voxtray.core.errors import VoxTrayError
from voxtray.core.model import (
    ProviderFellBack,
    RequestFailed,
    RequestFinished,
    RequestId,
    Segment,
    SpeakRequest,
    SynthesisJob,
)
from voxtray.core.paths import last_stats_file, settings_file
from voxtray.core.providers.elevenlabs.provider import ElevenLabsProvider
from voxtray.core.settings import save_settings
from voxtray.core.stats import save_snapshot

from tests.fakes.clocked_output import ClockedOutput
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cloud import (
    ELEVEN,
    RATE,
    EventLog,
    cloud_narrator,
    cloud_settings,
    numbered_text,
)
from tests.harness.pulse import PulseServer

MARKER = "sk_LEAKCHECK_0123456789abcdef"
NEEDLES = (MARKER, "LEAKCHECK", "0123456789abcdef")


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        f"XDG_{name}_HOME": str(tmp_path / name.lower())
        for name in ("CONFIG", "CACHE", "DATA", "STATE")
    }
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "runtime")
    (tmp_path / "runtime").mkdir(mode=0o700)
    env["ELEVENLABS_API_KEY"] = MARKER
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("VOXTRAY_ELEVENLABS_BASE_URL", raising=False)
    return env


@pytest.fixture
def fake(fake_elevenlabs: FakeElevenLabs) -> FakeElevenLabs:
    fake_elevenlabs.configure(mode="tone", tone_seconds_per_char=0.01)
    fake_elevenlabs.add_key(MARKER)
    return fake_elevenlabs


def exception_texts(error: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def assert_nowhere(places: dict[str, str | bytes]) -> None:
    leaked = [
        where
        for where, text in places.items()
        for needle in NEEDLES
        if (needle.encode() if isinstance(text, bytes) else needle) in text
    ]
    assert not leaked, f"the key (or a part of it) appears in: {sorted(set(leaked))}"


async def test_a_whole_session_never_shows_the_key(
    fake: FakeElevenLabs,
    isolated: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: dict[str, str | bytes] = {}
    settings = cloud_settings(fake, transport="auto", fallback=True, cache=True)
    save_settings(settings)
    assert settings_file().is_file()

    # Speech as the app builds it: the key from the environment through ApiKeyHolder; the first
    # clause over the socket, the rest over HTTP; everything lands in the audio cache.
    narrator = build_narrator(
        settings, output=ClockedOutput(sample_rate=RATE, speed=50.0), warm=True
    )
    async with narrator:
        log = EventLog(narrator)
        outcome = await narrator.speak(SpeakRequest(text=numbered_text(range(1, 4)))).wait()
        assert isinstance(outcome, RequestFinished), outcome
        provider = narrator._providers.get("elevenlabs")  # the instance the app created
        assert isinstance(provider, ElevenLabsProvider)
        texts["voices"] = repr(await provider.voices())
        texts["subscription"] = repr(await provider.subscription())
        texts["user"] = repr(await provider.user())
        counters = provider.counters()
        assert counters.requests >= 3 and counters.connections_opened >= 2
        save_snapshot(narrator.stats(), last_stats_file())
        texts["stats"] = repr(narrator.stats())
        # The key is revoked: a direct call fails, and so does a request without fallback.
        fake.revoke(MARKER)
        job = SynthesisJob(RequestId(99), Segment(0, "Hello there.", 0, 12), ELEVEN)
        for urgent in (False, True):
            with pytest.raises(VoxTrayError) as caught:
                async for _ in provider.synthesize(
                    SynthesisJob(job.request_id, job.segment, job.voice, urgent=urgent)
                ):
                    pass
            for i, text in enumerate(exception_texts(caught.value)):
                texts[f"exception {urgent} {i}"] = text
    events = list(log.all)

    # A failure with the key revoked (no fallback) and a fallback to the local voice.
    for fallback in (False, True):
        settings_f = cloud_settings(fake, transport="auto", fallback=fallback)
        narrator, _, _ = cloud_narrator(
            settings_f,
            ClockedOutput(sample_rate=RATE, speed=50.0),
            api_key=lambda: os.environ["ELEVENLABS_API_KEY"],
            seconds_per_char=0.01,
        )
        async with narrator:
            log = EventLog(narrator)
            outcome = await narrator.speak(SpeakRequest(text="Part 7 has 7x.")).wait()
            expected = ProviderFellBack if fallback else RequestFailed
            assert log.of(expected), log.all
            events += log.all

    for i, event in enumerate(events):
        texts[f"event {i}"] = f"{event!r} {event}"
    for i, record in enumerate(caplog.records):
        texts[f"log {i} {record.name}"] = record.getMessage() + (record.exc_text or "")
        if record.exc_info and record.exc_info[1] is not None:
            texts[f"log {i} exception"] = "\n".join(exception_texts(record.exc_info[1]))
    texts["caplog"] = caplog.text
    out, err = capfd.readouterr()
    texts["stdout"], texts["stderr"] = out, err
    written = [
        p for name in ("config", "cache", "data", "state") for p in files_under(tmp_path / name)
    ]
    assert settings_file() in written and last_stats_file() in written
    assert any(p.name.startswith("audio.sqlite3") for p in written), written
    for path in written:
        texts[str(path)] = path.read_bytes()
    assert len(caplog.records) > 20  # DEBUG logging really was on
    assert_nowhere(texts)


@pytest.mark.sound
def test_the_cli_never_shows_the_key(
    fake: FakeElevenLabs, isolated: dict[str, str], pulse: PulseServer, tmp_path: Path
) -> None:
    env = {**os.environ, **isolated, "VOXTRAY_ELEVENLABS_BASE_URL": fake.base_url}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PULSE_")})
    places: dict[str, str | bytes] = {}
    for transport_args in ([], ["-vv"]):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "voxtray.core.cli",
                *transport_args,
                "speak",
                "--no-instance",
                "--provider",
                "elevenlabs",
                "--voice",
                "Rachel",
                numbered_text(range(1, 3)),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        places[f"stdout {transport_args}"] = done.stdout
        places[f"stderr {transport_args}"] = done.stderr
    assert "DEBUG" in places["stderr ['-vv']"]  # the verbose run really logged details
    paths = [r.path for r in fake.requests]
    assert any(p.endswith("-input") for p in paths) and any("/stream" in p for p in paths)
    # A refused key: the CLI goes on with the local voice (default settings), and says why.
    fake.revoke(MARKER)
    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "voxtray.core.cli",
            "-vv",
            "speak",
            "--no-instance",
            "--provider",
            "elevenlabs",
            "Part 5 has 5x.",
        ],
        env={**env, "XDG_CONFIG_HOME": str(tmp_path / "nofallback")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    places["failed stdout"], places["failed stderr"] = failed.stdout, failed.stderr
    for path in files_under(tmp_path):
        places[str(path)] = path.read_bytes()
    assert_nowhere(places)
