"""What a text-to-speech response carries besides errors, decoded without I/O.

Raw ``/stream`` bodies are 16-bit PCM split wherever the network pleases
(:class:`PcmAssembler`); ``/stream/with-timestamps`` bodies are NDJSON (:class:`NdjsonDecoder`);
socket messages are JSON frames (:func:`parse_server_frame`) whose spelling varies between
``contextId``/``context_id``, ``isFinal``/``is_final`` and ``charDurationsMs``/
``charsDurationsMs``, all accepted. Alignment is a bonus: malformed timing becomes ``None``
rather than costing the audio.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from ...errors import ProtocolError

# --- audio and alignment ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CharacterAlignment:
    """Which character is heard when. Times are seconds from the start of the chunk's audio
    (WebSocket) or of the request's audio (HTTP); :meth:`shifted` moves them."""

    characters: tuple[str, ...]
    start_seconds: tuple[float, ...]
    end_seconds: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.characters)

    @property
    def text(self) -> str:
        return "".join(self.characters)

    def shifted(self, seconds: float) -> CharacterAlignment:
        return CharacterAlignment(
            self.characters,
            tuple(t + seconds for t in self.start_seconds),
            tuple(t + seconds for t in self.end_seconds),
        )


def _numbers(value: object) -> list[float] | None:
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        return None
    return [float(v) for v in value]


def parse_http_alignment(obj: object) -> CharacterAlignment | None:
    """``{characters, character_start_times_seconds, character_end_times_seconds}`` (§1.5).

    A missing or malformed alignment is ``None``: timing is a bonus, never worth losing audio.
    """
    if not isinstance(obj, dict):
        return None
    chars = obj.get("characters")
    starts = _numbers(obj.get("character_start_times_seconds"))
    ends = _numbers(obj.get("character_end_times_seconds"))
    if not isinstance(chars, list) or starts is None or ends is None:
        return None
    n = min(len(chars), len(starts), len(ends))
    return CharacterAlignment(tuple(str(c) for c in chars[:n]), tuple(starts[:n]), tuple(ends[:n]))


def parse_socket_alignment(obj: object) -> CharacterAlignment | None:
    """``{chars, charStartTimesMs, charDurationsMs | charsDurationsMs}`` in ms (§2.1)."""
    if not isinstance(obj, dict):
        return None
    chars = obj.get("chars")
    starts = _numbers(obj.get("charStartTimesMs", obj.get("charsStartTimesMs")))
    durations = _numbers(obj.get("charDurationsMs", obj.get("charsDurationsMs")))
    if not isinstance(chars, list) or starts is None or durations is None:
        return None
    n = min(len(chars), len(starts), len(durations))
    return CharacterAlignment(
        tuple(str(c) for c in chars[:n]),
        tuple(s / 1000 for s in starts[:n]),
        tuple((s + d) / 1000 for s, d in zip(starts[:n], durations[:n], strict=True)),
    )


def decode_audio(value: object) -> bytes:
    """Base64 audio of a frame or NDJSON line; ``None``/absent is no audio."""
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise ProtocolError("ElevenLabs sent audio that is not base64 text.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("ElevenLabs sent audio that is not valid base64.") from exc


class PcmAssembler:
    """Re-chunks a byte stream into whole 16-bit samples (a network read can split one)."""

    def __init__(self) -> None:
        self._carry = b""
        self.total_bytes = 0

    def feed(self, data: bytes) -> bytes:
        data = self._carry + data
        whole = len(data) - len(data) % 2
        self._carry = data[whole:]
        self.total_bytes += whole
        return data[:whole]

    @property
    def pending(self) -> int:
        """Bytes held back (0 or 1). A lone byte left at the end is a truncated sample."""
        return len(self._carry)


@dataclass(frozen=True, slots=True)
class TimestampedAudio:
    """One line of ``/stream/with-timestamps``: PCM and the timing of its characters."""

    pcm: bytes
    alignment: CharacterAlignment | None
    normalized_alignment: CharacterAlignment | None


def parse_timestamped_line(line: bytes | str) -> TimestampedAudio:
    """Decode one NDJSON line (§1.5)."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("ElevenLabs sent a timing line that is not JSON.") from exc
    if not isinstance(obj, dict):
        raise ProtocolError("ElevenLabs sent a timing line that is not a JSON object.")
    return TimestampedAudio(
        decode_audio(obj.get("audio_base64")),
        parse_http_alignment(obj.get("alignment")),
        parse_http_alignment(obj.get("normalized_alignment")),
    )


class NdjsonDecoder:
    """Splits a byte stream into NDJSON lines, whatever the network's chunk boundaries."""

    MAX_LINE = 16 * 1024 * 1024

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[TimestampedAudio]:
        self._buffer += data
        out: list[TimestampedAudio] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if line.strip():
                out.append(parse_timestamped_line(line))
        if len(self._buffer) > self.MAX_LINE:
            raise ProtocolError("ElevenLabs sent a timing line too long to be real.")
        return out

    def end(self) -> list[TimestampedAudio]:
        """The last line, when the body does not end with a newline."""
        line, self._buffer = bytes(self._buffer), bytearray()
        return [parse_timestamped_line(line)] if line.strip() else []


# --- WebSocket frames -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SocketError:
    """An error frame: ``{"message", "error", "code"}`` (§2.1, §2.2)."""

    message: str
    error: str | None
    code: int | None


@dataclass(frozen=True, slots=True)
class ServerFrame:
    """One decoded message from a text-to-speech socket."""

    context_id: str | None = None
    pcm: bytes = b""
    alignment: CharacterAlignment | None = None
    normalized_alignment: CharacterAlignment | None = None
    is_final: bool = False
    flush_done: bool = False
    error: SocketError | None = None


def parse_server_frame(raw: str | bytes) -> ServerFrame:
    """Decode a server message, accepting both casings of the context id and final flag."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("ElevenLabs sent a socket message that is not JSON.") from exc
    if not isinstance(obj, dict):
        raise ProtocolError("ElevenLabs sent a socket message that is not a JSON object.")
    context = obj.get("contextId", obj.get("context_id"))
    context_id = str(context) if context is not None else None
    final = obj.get("isFinal", obj.get("is_final"))
    error: SocketError | None = None
    has_audio = obj.get("audio") not in (None, "")
    if "error" in obj or ("message" in obj and not has_audio and not final):
        code = obj.get("code")
        error = SocketError(
            message=str(obj.get("message") or obj.get("error") or "unknown error"),
            error=str(obj["error"]) if obj.get("error") is not None else None,
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        )
    return ServerFrame(
        context_id=context_id,
        pcm=decode_audio(obj.get("audio")),
        alignment=parse_socket_alignment(obj.get("alignment")),
        normalized_alignment=parse_socket_alignment(obj.get("normalizedAlignment")),
        is_final=final is True,
        flush_done=obj.get("type") == "flush_done",
        error=error,
    )
