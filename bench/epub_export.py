"""Exporting a 1 MB EPUB with ``voxtray export``: the local voice, the ElevenLabs fake, peak RSS.

The book is built here (ebooklib, as ``tests/harness/documents.py`` builds its EPUBs): 20
chapters of generated prose (``bench.prose``), one XHTML file each with an ``<h1>``, a nav and
an NCX, about 1,000,000 characters of text. Every export is the real command, ``voxtray export
-f book.epub -o out.wav``, in a process of its own with private XDG folders; a wrapper around
the console-script entry point records the process's peak RSS (``VmHWM``) when it exits. The
benchmark samples the size of the WAV being written every 0.25 s, so it knows how much audio
existed at any moment, also of a run it stops.

**Local voice (Piper).** A whole book is ~14 h of audio: at 10–25× real time that is most of
an hour to hours, so the book is exported for a fixed time budget, then stopped (SIGINT, as
Ctrl+C). Figures: start → first audio in the file; the steady rate (audio seconds per wall
second, from ``SETTLE`` s after the first audio to the end of the budget); characters per
second, using VoxTray's own audio per character, measured by exporting a prefix of the same
text completely (the prefix as a one-chapter EPUB); the whole book's time extrapolated as
start-up + the book's characters × audio per character / the steady rate. Baseline in the same
run: raw Piper (``bench.raw_piper``, all cores, no VoxTray) synthesizing that same prefix text,
once before and once after the VoxTray runs.

**ElevenLabs fake.** The fake runs in this process (tone mode, 0.05 s of audio per character,
about what a voice reads; each request answered after ``CLOUD_TTFB`` s, then the audio at
once), the plan's limit at 5, the key from ``ELEVENLABS_API_KEY`` and the URL from
``VOXTRAY_ELEVENLABS_BASE_URL``; the client's limit (``[elevenlabs] concurrency``) 5 exports
the whole book, 1 runs for a time budget (its whole-book time is extrapolated from its rate).
Characters per second are the characters the fake billed. The ratio compares both over the same
window of their runs. The fake's own CPU (in this process) is reported as ``fake_cpu_s``: on
the real service it would not share the machine.

``--quick``: a 3,000-character prefix, a 45 s Piper budget, 25 s cloud budgets (limit 5 too).
"""

from __future__ import annotations

import functools
import html
import logging
import os
import random
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ebooklib import epub
from voxtray.core.text.readers import open_document

from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cli import isolated_env

from .prose import prose
from .raw_piper import load_voice, synthesize_to_wav
from .report import LoadMeter, emit, note

NAME = "epub_export"
BOOK_CHARS = 1_000_000
CHAPTERS = 20
SEED = 101
PREFIX_CHARS = 12_000
QUICK_PREFIX_CHARS = 3_000
PIPER_BUDGET = 300.0
QUICK_PIPER_BUDGET = 45.0
CLOUD_BUDGET = 120.0
QUICK_CLOUD_BUDGET = 25.0
CLOUD_WHOLE_LIMIT = 1800.0
"""Seconds the whole-book cloud export may take before it is stopped and reported as such."""
SETTLE = 5.0
"""Seconds after the first audio before the steady rate is measured (the pipeline fills)."""
SAMPLE_EVERY = 0.25
CLOUD_KEY = "bench-key"
CLOUD_VOICE = "21m00Tcm4TlvDq8ikWAM"
CLOUD_TTFB = 0.150
CLOUD_SECONDS_PER_CHAR = 0.05
CLOUD_PLAN_LIMIT = 5
WAV_HEADER = 44

_ENTRY = """\
import atexit, os, sys
from importlib.metadata import entry_points

def _peak():
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                with open(os.environ['BENCH_PEAK_RSS_FILE'], 'w') as out:
                    out.write(line.split()[1])

atexit.register(_peak)
(script,) = entry_points(group='console_scripts', name='voxtray')
sys.argv = ['voxtray', *sys.argv[1:]]
sys.exit(script.load()())
"""
"""``python -c _ENTRY ARGS`` is ``voxtray ARGS`` (the installed console script) plus a peak-RSS
note at exit: ``VmHWM``, not the parent's ``getrusage``, which Linux carries over the fork."""


# -- the book -------------------------------------------------------------------------------------


def build_book(
    path: Path,
    chars: int,
    *,
    chapters: int = CHAPTERS,
    seed: int = SEED,
    image_bytes: int = 0,
) -> Path:
    """An EPUB of ``chapters`` chapters holding about ``chars`` characters of prose in all.

    Chapter ``n`` is ``prose(chars // chapters, seed + n)`` under ``<h1>Chapter n</h1>``, its
    paragraphs as ``<p>``; the same seed gives the same opening text whatever ``chars`` is.
    ``image_bytes``: that much incompressible picture data besides, one JPEG-named item shown
    (``<img>``) in every tenth chapter, as an illustrated book has (the generated prose
    compresses ~12×, so without pictures the file is far smaller than its text).
    """
    book = epub.EpubBook()
    book.set_identifier(f"voxtray-bench-{chars}-{chapters}-{seed}-{image_bytes}")
    book.set_title("A Long Book")
    book.set_language("en")
    book.add_author("VoxTray Benchmarks")
    pictured = list(range(1, chapters + 1, 10)) if image_bytes else []
    noise = random.Random(seed)
    items = []
    for number in range(1, chapters + 1):
        text = prose(max(1, chars // chapters), seed + number)
        picture = None
        if number in pictured:
            picture = f"images/plate{number:03d}.jpg"
            book.add_item(
                epub.EpubImage(
                    uid=f"plate{number}",
                    file_name=picture,
                    media_type="image/jpeg",
                    content=noise.randbytes(image_bytes // len(pictured)),
                )
            )
        items.append(_chapter(number, f"Chapter {number}", text.strip().split("\n\n"), picture))
    _finish(book, items, path)
    return path


def build_prefix_book(path: Path, text: str) -> Path:
    """A one-chapter EPUB of ``text`` as laid out by the reader (a heading, then paragraphs)."""
    heading, *paragraphs = text.strip().split("\n\n")
    book = epub.EpubBook()
    book.set_identifier("voxtray-bench-prefix")
    book.set_title("A Prefix")
    book.set_language("en")
    _finish(book, [_chapter(1, heading, paragraphs)], path)
    return path


def _chapter(
    number: int, heading: str, paragraphs: list[str], picture: str | None = None
) -> epub.EpubHtml:
    item = epub.EpubHtml(title=heading, file_name=f"text/ch{number:03d}.xhtml", lang="en")
    body = "\n".join(f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs)
    figure = f'<p><img src="../{picture}" alt="Plate {number}"/></p>\n' if picture else ""
    item.content = f"<html><body><h1>{html.escape(heading)}</h1>\n{figure}{body}\n</body></html>"
    return item


def _finish(book: epub.EpubBook, items: list[epub.EpubHtml], path: Path) -> None:
    for item in items:
        book.add_item(item)
    book.toc = [epub.Link(item.file_name, item.title, f"ch{k}") for k, item in enumerate(items, 1)]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)


def document_text(path: Path) -> str:
    """What VoxTray reads of ``path`` (the public reader, as the narrator opens it)."""
    with open_document(path) as pieces:
        return "".join(pieces)


def prefix_of(text: str, chars: int) -> str:
    """The first paragraphs of ``text`` totalling at least ``chars`` characters."""
    end = text.find("\n\n", chars)
    return text if end < 0 else text[:end]


# -- one export process ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """What the benchmark saw of a running export at one moment."""

    at: float
    """Seconds since Popen."""
    audio_s: float
    """Audio in the file (its size; the header is counted out)."""
    count: int
    """A caller's counter (the cloud: characters the fake billed)."""
    rss_kib: int


@dataclass
class ExportRun:
    """One ``voxtray export`` process, seen from outside."""

    returncode: int
    completed: bool
    """It exited by itself with 0 (not stopped at the budget)."""
    wall_s: float
    """Popen → exit, or → the stop signal when stopped."""
    first_audio_s: float | None
    """Popen → the first audio frames in the file."""
    audio_s: float
    """Audio in the file at the end."""
    peak_rss_mib: float
    """``VmHWM`` as the process exited."""
    samples: list[Sample] = field(default_factory=list)

    def at(self, when: float) -> Sample:
        """The last sample taken at or before ``when``."""
        best = self.samples[0]
        for sample in self.samples:
            if sample.at > when:
                break
            best = sample
        return best

    def rate(self, start: float, end: float) -> tuple[float, float]:
        """(audio seconds, counter) per wall second over [start, end]."""
        first, last = self.at(start), self.at(end)
        span = last.at - first.at
        if span <= 0:
            raise RuntimeError(f"no samples between {start:.1f} s and {end:.1f} s")
        return (last.audio_s - first.audio_s) / span, (last.count - first.count) / span

    def rss_mib_at(self, when: float) -> float:
        return self.at(when).rss_kib / 1024


def export(
    env: dict[str, str],
    args: list[str],
    output: Path,
    *,
    budget: float | None,
    counter: Callable[[], int] = lambda: 0,
) -> ExportRun:
    """Run ``voxtray export ARGS -o OUTPUT``; stop it with SIGINT after ``budget`` seconds."""
    peak_file = output.with_suffix(".peak")
    peak_file.unlink(missing_ok=True)
    env = {**env, "BENCH_PEAK_RSS_FILE": str(peak_file)}
    command = [sys.executable, "-c", _ENTRY, "export", *args, "-o", str(output)]
    samples: list[Sample] = []
    first: float | None = None
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stopped = False
    while process.poll() is None:
        now = time.monotonic() - started
        sample = Sample(now, _audio_seconds(output), counter(), _rss_kib(process.pid))
        samples.append(sample)
        if first is None and sample.audio_s > 0:
            first = now
        if budget is not None and now >= budget:
            process.send_signal(signal.SIGINT)  # Ctrl+C: the CLI stops and removes the file
            stopped = True
            break
        time.sleep(SAMPLE_EVERY)
    wall = time.monotonic() - started
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    if not stopped and process.returncode != 0:
        raise RuntimeError(
            f"voxtray export failed ({process.returncode}): {stderr.decode()[-500:]}"
        )
    completed = not stopped
    if completed:
        samples.append(Sample(wall, _audio_seconds(output), counter(), samples[-1].rss_kib))
        first = wall if first is None else first
    peak = int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
    output.unlink(missing_ok=True)
    peak_file.unlink(missing_ok=True)
    return ExportRun(process.returncode, completed, wall, first, samples[-1].audio_s, peak, samples)


def _audio_seconds(path: Path) -> float:
    """Seconds of audio in a WAV being written: its size past the header, at its format."""
    try:
        with path.open("rb") as wav:
            header = wav.read(WAV_HEADER)
            size = wav.seek(0, os.SEEK_END)
    except FileNotFoundError:
        return 0.0
    if len(header) < WAV_HEADER or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return 0.0
    rate, _, frame_bytes = struct.unpack_from("<IIH", header, 24)
    return (size - WAV_HEADER) / frame_bytes / rate


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


# -- the benchmark --------------------------------------------------------------------------------


def run(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="voxtray-bench-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        book = build_book(tmp / "book.epub", BOOK_CHARS)
        built = time.perf_counter() - started
        started = time.perf_counter()
        text = document_text(book)
        read = time.perf_counter() - started
        note(
            f"epub_export: {book.stat().st_size:,} byte EPUB, {len(text):,} characters "
            f"(built in {built:.2f} s, read in {read:.2f} s)"
        )
        context = {
            "book_chars": len(text),
            "book_bytes": book.stat().st_size,
            "chapters": CHAPTERS,
            "book_read_s": read,
        }
        _local(tmp, book, text, quick, context)
        _cloud(tmp, book, text, quick, context)


def _local(tmp: Path, book: Path, text: str, quick: bool, book_context: dict[str, Any]) -> None:
    meter = LoadMeter()
    prefix = prefix_of(text, QUICK_PREFIX_CHARS if quick else PREFIX_CHARS)
    prefix_book = build_prefix_book(tmp / "prefix.epub", prefix)
    if document_text(prefix_book) != prefix:
        raise RuntimeError("the prefix EPUB does not read back as the book's opening text")
    budget = QUICK_PIPER_BUDGET if quick else PIPER_BUDGET
    (tmp / "local-env").mkdir()
    env = isolated_env(tmp / "local-env")
    raw = load_voice()
    raw_rtf: list[float] = []
    raw_chars: list[float] = []

    def raw_round(label: str) -> None:
        audio, wall = synthesize_to_wav(raw, prefix, tmp / "raw.wav")
        raw_rtf.append(audio / wall)
        raw_chars.append(len(prefix) / wall)
        note(f"epub_export: raw Piper ({label}) {audio:.0f} s of audio in {wall:.1f} s")

    raw_round("before")
    whole = export(env, ["-f", str(prefix_book)], tmp / "prefix.wav", budget=None)
    whole_first = whole.first_audio_s or 0.0
    note(
        f"epub_export: VoxTray prefix ({len(prefix):,} chars): {whole.audio_s:.0f} s of audio, "
        f"process {whole.wall_s:.1f} s, first audio at {whole_first:.1f} s"
    )
    book_run = export(env, ["-f", str(book)], tmp / "book.wav", budget=budget)
    first = book_run.first_audio_s
    if first is None or first + SETTLE >= budget:
        raise RuntimeError("the book export produced no audio within its budget")
    steady, _ = book_run.rate(first + SETTLE, budget)
    note(
        f"epub_export: VoxTray book, {budget:.0f} s budget: first audio at {first:.1f} s, "
        f"{book_run.audio_s:.0f} s of audio, steady {steady:.1f}× real time, "
        f"peak RSS {book_run.peak_rss_mib:.0f} MiB"
    )
    raw_round("after")

    audio_per_char = whole.audio_s / len(prefix)
    raw_median = statistics.median(raw_rtf)
    book_audio = len(text) * audio_per_char
    context = {
        **book_context,
        "prefix_chars": len(prefix),
        "budget_s": budget,
        "audio_per_char_s": audio_per_char,
        **meter.context(),
    }
    emit(NAME, "piper_first_audio", first, "s", **context)
    emit(
        NAME,
        "piper_steady_rtf",
        steady,
        "x_realtime",
        audio_in_budget_s=book_run.audio_s,
        window_s=[first + SETTLE, budget],
        **context,
    )
    emit(NAME, "piper_chars_per_s", steady / audio_per_char, "chars/s", **context)
    emit(
        NAME,
        "raw_piper_rtf",
        raw_median,
        "x_realtime",
        rounds=raw_rtf,
        chars_per_s=statistics.median(raw_chars),
        **context,
    )
    emit(NAME, "piper_steady_over_raw", steady / raw_median, "x", **context)
    emit(
        NAME,
        "piper_prefix_rtf",
        whole.audio_s / (whole.wall_s - whole_first),
        "x_realtime",
        first_audio_s=whole_first,
        process_wall_s=whole.wall_s,
        audio_s=whole.audio_s,
        **context,
    )
    emit(NAME, "piper_book_audio_estimate", book_audio / 3600, "h", **context)
    emit(NAME, "piper_book_wall_estimate", (first + book_audio / steady) / 60, "min", **context)
    emit(
        NAME,
        "piper_peak_rss",
        book_run.peak_rss_mib,
        "MiB",
        rss_mib_at_s={f"{at:.0f}": book_run.rss_mib_at(at) for at in _checkpoints(budget)},
        **context,
    )
    emit(NAME, "piper_prefix_peak_rss", whole.peak_rss_mib, "MiB", **context)


def _checkpoints(budget: float) -> list[float]:
    """Moments at which the RSS trace is reported: 15 s, then every fifth of the budget."""
    return sorted({15.0, *(budget * k / 5 for k in range(1, 6))})


def _cloud(tmp: Path, book: Path, text: str, quick: bool, book_context: dict[str, Any]) -> None:
    meter = LoadMeter()
    budget = QUICK_CLOUD_BUDGET if quick else CLOUD_BUDGET
    cpu_before = time.process_time()
    runs: dict[int, ExportRun] = {}
    # A run stopped at its budget hangs up mid-reply; the fake's server would log each one.
    server_log = logging.getLogger("aiohttp.server")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)
    try:
        with FakeElevenLabs(mode="tone", keys=[(CLOUD_KEY, "pro", 100 * BOOK_CHARS)]) as fake:
            requests, max_in_flight = _cloud_runs(fake, tmp, book, quick, budget, runs)
    finally:
        server_log.setLevel(level)
    context = {
        **book_context,
        "server_ttfb_s": CLOUD_TTFB,
        "tone_s_per_char": CLOUD_SECONDS_PER_CHAR,
        "plan_limit": CLOUD_PLAN_LIMIT,
        "max_in_flight": max_in_flight,
        "fake_cpu_s": time.process_time() - cpu_before,
        **meter.context(),
    }
    # The same stretch of both runs: from the limit-1 run's first audio + SETTLE to its end.
    one = runs[1]
    window = ((one.first_audio_s or 0.0) + SETTLE, min(budget, one.wall_s))
    rates = {limit: got.rate(*window) for limit, got in runs.items()}
    # What the service bills for the whole book (the whitespace between paragraphs is not sent):
    # known when the limit-5 run read it all, else the text's length.
    billable = runs[5].samples[-1].count if runs[5].completed else len(text)
    for limit, got in runs.items():
        audio_rtf, chars_per_s = rates[limit]
        first = got.first_audio_s or 0.0
        emit(
            NAME,
            f"cloud_limit{limit}_chars_per_s",
            chars_per_s,
            "chars/s",
            audio_rtf=audio_rtf,
            window_s=list(window),
            first_audio_s=first,
            requests=requests[limit],
            **context,
        )
        book_wall = got.wall_s if got.completed else first + billable / chars_per_s
        emit(
            NAME,
            f"cloud_limit{limit}_book_wall",
            book_wall / 60,
            "min",
            measured=got.completed,
            audio_s=got.audio_s if got.completed else None,
            billed_chars=got.samples[-1].count,
            book_billable_chars=billable,
            **context,
        )
        emit(NAME, f"cloud_limit{limit}_peak_rss", got.peak_rss_mib, "MiB", **context)
    emit(
        NAME,
        "cloud_speedup_limit5_over_limit1",
        rates[5][1] / rates[1][1],
        "x",
        window_s=list(window),
        **context,
    )


def _cloud_runs(
    fake: FakeElevenLabs,
    tmp: Path,
    book: Path,
    quick: bool,
    budget: float,
    runs: dict[int, ExportRun],
) -> tuple[dict[int, int], int]:
    """Limit 5 (the whole book, unless quick), then limit 1 for the budget; fills ``runs``.

    Returns the requests each limit made, and the most the fake saw in flight at once.
    """
    requests: dict[int, int] = {}
    fake.configure(tone_seconds_per_char=CLOUD_SECONDS_PER_CHAR)
    fake.set_concurrency(CLOUD_KEY, CLOUD_PLAN_LIMIT)
    fake.faults.set_latency(CLOUD_TTFB)
    for limit in (5, 1):
        made = len(fake.requests)
        env = _cloud_env(tmp / f"cloud-env-{limit}", fake, limit)
        whole_book = limit == 5 and not quick
        got = export(
            env,
            ["--provider", "elevenlabs", "--voice", CLOUD_VOICE, "-f", str(book)],
            tmp / f"cloud{limit}.wav",
            budget=CLOUD_WHOLE_LIMIT if whole_book else budget,
            counter=functools.partial(_billed_since, fake, fake.billed(CLOUD_KEY)),
        )
        runs[limit] = got
        requests[limit] = len(fake.requests) - made
        note(
            f"epub_export: cloud limit {limit}: {'done' if got.completed else 'stopped'} "
            f"after {got.wall_s:.1f} s, {got.audio_s:.0f} s of audio, "
            f"{got.samples[-1].count:,} characters billed, "
            f"peak RSS {got.peak_rss_mib:.0f} MiB"
        )
    return requests, fake.max_in_flight(CLOUD_KEY)


def _billed_since(fake: FakeElevenLabs, before: int) -> int:
    return fake.billed(CLOUD_KEY) - before


def _cloud_env(root: Path, fake: FakeElevenLabs, limit: int) -> dict[str, str]:
    """A private environment whose settings file sets the client's limit."""
    root.mkdir()
    env = isolated_env(root)
    settings = Path(env["XDG_CONFIG_HOME"]) / "voxtray" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(
        f"[elevenlabs]\nconcurrency = {limit}\nfallback_to_local = false\n\n"
        "[cache]\nenabled = false\n",  # every character must reach the service
        encoding="utf-8",
    )
    env["ELEVENLABS_API_KEY"] = CLOUD_KEY
    env["VOXTRAY_ELEVENLABS_BASE_URL"] = fake.base_url
    return env
