"""Reading text files as streams: validation, encodings, line ends, bounded memory."""

from __future__ import annotations

import codecs
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from voxtray.core.errors import (
    BinaryFileError,
    InputError,
    SourceNotFoundError,
    SourceUnreadableError,
)
from voxtray.core.text import readers
from voxtray.core.text.readers import open_text, probe_text


def read_all(path: Path, chunk_chars: int = 65536) -> tuple[str, list[str]]:
    warnings: list[str] = []
    text = "".join(open_text(path, chunk_chars=chunk_chars, on_warning=warnings.append))
    return text, warnings


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- encodings ------------------------------------------------------------------------


def test_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.txt", "Grüße, 世界 😀\nSecond line.\n".encode())
    assert read_all(path) == ("Grüße, 世界 😀\nSecond line.\n", [])
    assert probe_text(path).encoding == "utf-8"


def test_utf8_bom_is_stripped(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.txt", codecs.BOM_UTF8 + "Héllo".encode())
    assert read_all(path) == ("Héllo", [])


@pytest.mark.parametrize(
    ("bom", "codec"), [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
)
def test_utf16_with_bom(tmp_path: Path, bom: bytes, codec: str) -> None:
    text = "Windows Notepad\r\nsaved this: ünïcödé 😀\r\n"
    path = write(tmp_path, "u16.txt", bom + text.encode(codec))
    assert read_all(path, chunk_chars=5) == ("Windows Notepad\nsaved this: ünïcödé 😀\n", [])
    assert probe_text(path).encoding == codec


def test_broken_utf8_is_replaced_and_reported_once(tmp_path: Path) -> None:
    data = "Café one. ".encode() + b"\xff" + "Naïve two. ".encode() + b"\xe2\x82" + b" three.\n"
    path = write(tmp_path, "notes.txt", data * 3)
    text, warnings = read_all(path, chunk_chars=7)
    assert text == "Café one. \ufffdNaïve two. \ufffd three.\n" * 3
    assert warnings == ["notes.txt is not valid UTF-8: 9 bytes were replaced."]


def test_utf16_with_a_dangling_byte_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "u16.txt", codecs.BOM_UTF16_LE + "ok".encode("utf-16-le") + b"\x00")
    assert read_all(path) == ("ok\ufffd", ["u16.txt is not valid UTF-16: 1 byte was replaced."])


def test_odd_os_errors_still_name_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "x.txt", b"x")

    def broken(*args: object, **kwargs: object) -> object:
        raise OSError("device went away")

    monkeypatch.setattr(readers, "open", broken, raising=False)
    with pytest.raises(SourceUnreadableError, match=r"Cannot read .*x\.txt: device went away\."):
        open_text(path)


def test_broken_utf8_split_across_blocks(tmp_path: Path) -> None:
    good = "é€😀".encode()
    data = (b"a" * 4095 + good + b"\xc3" + b"b" * 5000) * 3
    path = write(tmp_path, "split.txt", data)
    warnings: list[str] = []
    text = "".join(open_text(path, chunk_chars=4096, on_warning=warnings.append))
    assert text == ("a" * 4095 + "é€😀\ufffd" + "b" * 5000) * 3
    assert warnings == ["split.txt is not valid UTF-8: 3 bytes were replaced."]


def test_windows_1252_text_is_recognised(tmp_path: Path) -> None:
    path = write(tmp_path, "old.txt", "Café crème, déjà vu — naïve “quotes”.".encode("cp1252"))
    text, warnings = read_all(path)
    assert text == "Café crème, déjà vu — naïve “quotes”."
    assert warnings == ["old.txt is not UTF-8, so it was read as Windows-1252."]


def test_one_stray_byte_in_ascii_is_broken_utf8_not_windows_1252(tmp_path: Path) -> None:
    path = write(tmp_path, "stray.txt", b"plain ascii \xff text")
    assert read_all(path) == (
        "plain ascii \ufffd text",
        ["stray.txt is not valid UTF-8: 1 byte was replaced."],
    )


def test_bytes_windows_1252_leaves_undefined_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "old.txt", b"caf\xe9 cr\xe8me \x81")
    assert read_all(path) == (
        "café crème \ufffd",
        ["old.txt is not UTF-8, so it was read as Windows-1252; 1 byte could not be read."],
    )


def test_warning_comes_once_even_when_the_stream_is_abandoned(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.txt", "é".encode() + b"ok \xff " * 10_000)
    warnings: list[str] = []
    stream = open_text(path, chunk_chars=100, on_warning=warnings.append)
    next(stream)
    stream.close()  # type: ignore[attr-defined]  # open_text promises an Iterator; it is a generator
    assert len(warnings) == 1
    assert warnings[0].startswith("bad.txt is not valid UTF-8: ")


def test_valid_text_gives_no_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "fine.txt", "\ufffd is a legitimate character too".encode())
    assert read_all(path)[1] == []


# -- line ends ------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_chars", [1, 2, 3, 64, 65536])
def test_crlf_and_cr_become_lf_across_block_boundaries(tmp_path: Path, chunk_chars: int) -> None:
    body = "one\r\ntwo\rthree\n\r\nfour\r\r\nfive\r"
    path = write(tmp_path, "ends.txt", (body * 2000).encode())
    text, _ = read_all(path, chunk_chars=chunk_chars)
    assert text == "one\ntwo\nthree\n\nfour\n\nfive\n" * 2000


def test_pieces_never_exceed_chunk_chars(tmp_path: Path) -> None:
    path = write(tmp_path, "p.txt", ("é\r\n" * 50_000).encode())
    pieces = list(open_text(path, chunk_chars=1000))
    assert all(0 < len(piece) <= 1000 for piece in pieces)
    assert "".join(pieces) == "é\n" * 50_000


# -- validation ---------------------------------------------------------------------


def test_empty_and_whitespace_files_are_not_errors(tmp_path: Path) -> None:
    assert read_all(write(tmp_path, "empty.txt", b"")) == ("", [])
    assert read_all(write(tmp_path, "blank.txt", b" \r\n\t\n")) == (" \n\t\n", [])


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(SourceNotFoundError) as caught:
        open_text(path)
    assert str(caught.value) == f"No such file: {path}"
    assert caught.value.is_permanent


def test_missing_parent_is_also_not_found(tmp_path: Path) -> None:
    not_a_dir = write(tmp_path, "file.txt", b"x")
    with pytest.raises(SourceNotFoundError, match="No such file"):
        open_text(not_a_dir / "child.txt")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="is a folder"):
        open_text(tmp_path)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(SourceNotFoundError, match="not a regular file"):
        open_text(fifo)


def test_permission_denied(tmp_path: Path) -> None:
    """A real EACCES. Root reads anything, so as root the check runs as the nobody user."""
    if os.geteuid() != 0:
        path = write(tmp_path, "secret.txt", b"hidden")
        path.chmod(0)
        with pytest.raises(SourceUnreadableError, match="permission denied"):
            open_text(path)
        return
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        Path(folder).chmod(0o755)  # nobody reaches the file, and is refused by *its* mode
        path = write(Path(folder), "secret.txt", b"hidden")
        path.chmod(0)
        code = (
            "import os, pathlib\n"
            "from voxtray.core.errors import SourceUnreadableError\n"
            "from voxtray.core.text.readers import open_text\n"
            "os.setgid(65534); os.setuid(65534)\n"
            "try:\n"
            f"    open_text(pathlib.Path({str(path)!r}))\n"
            "except SourceUnreadableError as error:\n"
            "    print(error)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 0, result.stderr
    assert "secret.txt" in result.stdout
    assert "permission denied" in result.stdout.lower()


def test_permission_denied_is_translated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The translation itself, which runs as root too (there chmod cannot deny anything)."""
    path = write(tmp_path, "secret.txt", b"hidden")

    def denied(*args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(readers, "open", denied, raising=False)
    with pytest.raises(SourceUnreadableError) as caught:
        open_text(path)
    assert str(caught.value) == f"Cannot read {path}: permission denied."
    assert isinstance(caught.value.__cause__, PermissionError)


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_read_error_is_translated() -> None:
    # Reading /proc/self/mem at offset 0 fails with a real EIO, root or not.
    with pytest.raises(
        SourceUnreadableError, match=r"Cannot read /proc/self/mem: input/output error"
    ) as caught:
        open_text(Path("/proc/self/mem"))
    assert isinstance(caught.value.__cause__, OSError)


def test_file_vanishing_after_the_check(tmp_path: Path) -> None:
    path = write(tmp_path, "gone.txt", b"text")
    stream = open_text(path)
    path.unlink()
    with pytest.raises(SourceNotFoundError):
        next(iter(stream))


def _png() -> bytes:
    rng = random.Random(7)
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(5000))


def _elf() -> bytes:
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + bytes(range(256)) * 8


def _control_heavy() -> bytes:
    rng = random.Random(3)
    return bytes(rng.choice(b"abc\x01\x02\x03\x04\x05\x06\x0e\x0f\x10") for _ in range(4000))


@pytest.mark.parametrize("data", [_png(), _elf(), _control_heavy()], ids=["png", "elf", "controls"])
def test_binary_files_are_refused_by_name(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "picture.txt", data)
    with pytest.raises(BinaryFileError) as caught:
        open_text(path)
    assert str(caught.value).startswith("picture.txt is not a text file")
    assert isinstance(caught.value, InputError)


def test_text_with_a_few_control_characters_is_still_text(tmp_path: Path) -> None:
    """Accepted as text, then read without the controls: colour codes, bells and form feeds."""
    data = b"\x1b[1mbold\x1b[0m log line\tand a form feed\f\n" * 100 + b"bell\x07"
    path = write(tmp_path, "log.txt", data)
    assert read_all(path)[0] == "bold log line\tand a form feed\n\n\n" * 100 + "bell"


def test_utf16_text_is_not_mistaken_for_binary(tmp_path: Path) -> None:
    path = write(
        tmp_path, "u16.txt", codecs.BOM_UTF16_LE + ("ascii only " * 500).encode("utf-16-le")
    )
    assert read_all(path)[0] == "ascii only " * 500


def test_chunk_chars_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        open_text(write(tmp_path, "x.txt", b"x"), chunk_chars=0)


# -- big files ------------------------------------------------------------------------


def test_twenty_megabytes_stream_with_bounded_memory(tmp_path: Path) -> None:
    line = "Line with ünïcödé and emoji 😀 in it, ending with CRLF.\r\n"
    encoded = line.encode()
    repeats = 20_000_000 // len(encoded)
    path = tmp_path / "big.txt"
    with path.open("wb") as file:
        block = encoded * 1000
        for _ in range(repeats // 1000):
            file.write(block)
    expected_line = line.replace("\r\n", "\n").encode()
    expected = hashlib.sha256(expected_line * 1000 * (repeats // 1000)).hexdigest()
    del block

    digest = hashlib.sha256()
    largest = count = 0
    tracemalloc.start()
    try:
        for piece in open_text(path, chunk_chars=65536):
            largest = max(largest, len(piece))
            count += 1
            digest.update(piece.encode())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert largest <= 65536
    assert count > 250
    assert digest.hexdigest() == expected
    assert peak < 2_000_000, f"peak {peak} bytes while streaming a 20 MB file"
