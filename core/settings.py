"""Typed settings, kept in one TOML file in the platform's config directory.

The file is meant to be edited by hand as well as by the settings window, so reading it never
fails: a missing file means the defaults; a file that is not valid TOML means the defaults and a
warning that says where the mistake is (the file is left alone so the user's text is not lost);
an unknown key, a wrong type or an out-of-range value costs that one key only, with a warning
naming it. The warnings are plain sentences for the user; the caller shows them (tray
notification, CLI stderr).

**No secrets here.** API keys live in the OS keyring (``secrets.py``), never in this file, which
is plain text that users copy between machines and paste into bug reports.

Adding a section: write a frozen ``_Section`` dataclass whose fields have scalar types
(``bool``, ``int``, ``float``, ``str``) and defaults, give numeric fields their bounds with
:func:`_setting`, and add it as a field of :class:`Settings`. Loading, validation and saving
follow from the annotations.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Self, TypeVar, get_type_hints

import tomli_w

from .errors import SettingsError
from .model import VoiceRef
from .paths import atomic_write, settings_file
from .text.segment import DEFAULT_FIRST_CLAUSE_CHARS

T = TypeVar("T")

_SCALARS: tuple[type, ...] = (bool, int, float, str)

_HEADER = """\
# VoxTray settings. VoxTray rewrites this file when settings change in its window;
# comments are not kept. Only values that differ from the defaults are written.
# API keys are not stored here: they live in the system keyring.

"""

_SECRET_HINT = re.compile(r"key|token|secret|password", re.IGNORECASE)


def _setting(
    default: T,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> T:
    """A field with a default and the range (or the set) of values that make sense for it."""
    metadata = {"minimum": minimum, "maximum": maximum, "choices": choices}
    return field(default=default, metadata=metadata)


class _BadValueError(Exception):
    """A value that cannot be used; ``str()`` completes "voice.rate = 9 …"."""


@dataclass(frozen=True, slots=True)
class _Frozen:
    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (``dataclasses.replace``, validated again)."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class _Section(_Frozen):
    """A ``[table]`` of the file. Its values are checked on construction, however made."""

    def __post_init__(self) -> None:
        hints = _field_types(type(self))
        for spec in fields(self):
            value = getattr(self, spec.name)
            try:
                checked = _check(value, hints[spec.name], spec)
            except _BadValueError as bad:
                name = f"{type(self).__name__}.{spec.name}"
                raise ValueError(f"{name} = {_show(value)} {bad}") from None
            if checked is not value:  # an int given for a float: store the float
                object.__setattr__(self, spec.name, checked)


@dataclass(frozen=True, slots=True)
class VoiceSettings(_Section):
    """``[voice]``: the default voice, used when a request names none."""

    provider: str = "piper"
    voice: str = "en_US-joe-medium"
    """The provider's voice id; empty for the provider's own default."""
    rate: float = _setting(1.0, minimum=0.25, maximum=4.0)
    """Speaking rate: 1.3 is 30 % faster, at the same pitch."""
    sentence_pause: float = _setting(0.1, minimum=0.0, maximum=3.0)
    """Seconds of silence added after a sentence (at rate 1; shorter when faster)."""
    paragraph_pause: float = _setting(0.45, minimum=0.0, maximum=5.0)
    """Seconds of silence added after a paragraph or heading (at rate 1; shorter when faster)."""

    @property
    def ref(self) -> VoiceRef:
        return VoiceRef(self.provider, self.voice or None)


@dataclass(frozen=True, slots=True)
class AudioSettings(_Section):
    """``[audio]``: the output stream."""

    device: str = ""
    """Output device name; empty for the system default."""
    volume: float = _setting(1.0, minimum=0.0, maximum=1.5)
    latency: float = _setting(0.1, minimum=0.0, maximum=1.0)
    """Seconds of audio the sound card holds. More is safer on a busy machine, but ``stop()``
    takes that long to be heard, hence the upper bound."""
    buffer_seconds: float = _setting(4.0, minimum=0.5, maximum=30.0)
    """Ring buffer size: how much synthesized speech may wait to be played."""


@dataclass(frozen=True, slots=True)
class EngineSettings(_Section):
    """``[engine]``: how far ahead and how finely speech is prepared."""

    lookahead_seconds: float = _setting(10.0, minimum=0.0, maximum=300.0)
    """Speech synthesized ahead of what plays, so sentences follow without gaps."""
    first_clause_chars: int = _setting(DEFAULT_FIRST_CLAUSE_CHARS, minimum=10, maximum=1000)
    """The first segment is cut near this length so speech starts before a sentence ends."""
    synthesis_threads: int = _setting(1, minimum=1, maximum=16)
    """Threads the local voice may use."""


@dataclass(frozen=True, slots=True)
class ElevenLabsSettings(_Section):
    """``[elevenlabs]``: the cloud voice. The API key is not here: it lives in the keyring."""

    voice: str = "Rachel"
    """A voice name or id from ``voxtray voices --provider elevenlabs``."""
    model: str = "eleven_flash_v2_5"
    transport: str = _setting("auto", choices=("auto", "http", "websocket"))
    """auto: WebSocket for speech someone waits for, HTTP for look-ahead and export."""
    base_url: str = "https://api.elevenlabs.io"
    """``VOXTRAY_ELEVENLABS_BASE_URL`` overrides it; the WebSocket URL is derived from it."""
    concurrency: int = _setting(0, minimum=0, maximum=100)
    """Requests in flight at once; 0: what the plan allows."""
    sample_rate: int = _setting(22050, minimum=8000, maximum=48000)
    """PCM rate asked of the service (pcm_16000, pcm_22050, pcm_24000, pcm_44100…)."""
    fallback_to_local: bool = True
    """Go on with the local voice when the cloud cannot (bad key, quota, offline)."""


@dataclass(frozen=True, slots=True)
class CacheSettings(_Section):
    """``[cache]``: synthesized cloud speech kept on disk so it is never paid for twice."""

    enabled: bool = True
    max_megabytes: int = _setting(500, minimum=1, maximum=100_000)


@dataclass(frozen=True, slots=True)
class HotkeySettings(_Section):
    """``[hotkeys]``: global key combinations, like ``"Ctrl+Alt+R"``; ``""`` turns one off.

    Modifiers are Ctrl, Alt, Shift and Meta (Super, Windows, Command), then one key. The
    desktop app checks each combination when it registers it and says which one it could not
    use and why (taken by another application, not a valid combination).
    """

    read_now: str = "Ctrl+Alt+R"
    """Read the clipboard (or the selection, see ``read_now_source``) aloud now."""
    read_next: str = "Ctrl+Alt+N"
    """Queue the clipboard to be read after what is playing."""
    stop: str = "Ctrl+Alt+S"
    pause: str = "Ctrl+Alt+P"
    """Pause, or resume when paused."""
    skip: str = "Ctrl+Alt+K"
    """Skip to the next sentence."""
    rewind: str = "Ctrl+Alt+J"
    """Back to the start of the sentence (or the one before, right after it began)."""
    read_now_source: str = _setting("clipboard", choices=("clipboard", "selection"))
    """clipboard: what was copied, on every platform. selection: the text last selected with
    the mouse (the X11/Wayland primary selection; elsewhere the clipboard is used). The
    clipboard is the default everywhere because it is what the user chose explicitly: the
    primary selection changes whenever anything is highlighted, even by accident."""
    read_now_while_playing: str = _setting("interrupt", choices=("interrupt", "queue"))
    """When read_now is pressed while something plays: interrupt it, or queue behind it."""


@dataclass(frozen=True, slots=True)
class TextSettings(_Section):
    """``[text]``: how written text becomes what a voice says.

    The pronunciation rules are in ``pronunciation.toml`` (``voxtray dict``) and the voice for
    each language in ``languages.toml``, both beside this file: they are tables, not scalars.
    """

    expand_for_local_voice: bool = True
    """Write numbers, dates, currency and units out in words for the local voice. ElevenLabs
    does this itself and never gets them expanded."""
    code: str = _setting("announce", choices=("skip", "announce", "read"))
    """Fenced code blocks: skip them, say "Code block.", or read them."""
    emoji: str = _setting("name", choices=("name", "drop"))
    """Say an emoji's name ("grinning face"), or nothing."""
    detect_language: bool = True
    """Detect each paragraph's language (numbers in its words, its voice from languages.toml)."""
    min_language_chars: int = _setting(40, minimum=10, maximum=1000)
    """Shorter paragraphs keep the language of the one before: detection needs some text."""


@dataclass(frozen=True, slots=True)
class AppSettings(_Section):
    """``[app]``: how the desktop app itself behaves."""

    start_at_login: bool = False
    """Start VoxTray in the tray when you log in."""


@dataclass(frozen=True, slots=True)
class Settings(_Frozen):
    """Everything the user can configure. ``Settings()`` is the defaults."""

    voice: VoiceSettings = field(default_factory=VoiceSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    elevenlabs: ElevenLabsSettings = field(default_factory=ElevenLabsSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    hotkeys: HotkeySettings = field(default_factory=HotkeySettings)
    text: TextSettings = field(default_factory=TextSettings)
    app: AppSettings = field(default_factory=AppSettings)


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    """What :func:`load_settings` found."""

    settings: Settings
    warnings: tuple[str, ...]
    """Plain-language sentences for the user, one per problem; empty when all is well."""
    path: Path
    file_broken: bool = False
    """The file exists but could not be read as a whole (not TOML, not UTF-8, no permission).
    Saving would replace the user's text with the defaults, so ask before saving."""


def load_settings(path: Path | None = None) -> LoadedSettings:
    """Read the settings file (default: :func:`~.paths.settings_file`). Never raises for the
    file's content; see the module docstring."""
    path = settings_file() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadedSettings(Settings(), (), path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return _broken(path, f"The settings file {path} could not be read ({reason}).")
    try:
        text = raw.decode("utf-8-sig")  # Notepad may add a BOM; TOML itself does not allow one
    except UnicodeDecodeError as exc:
        return _broken(path, f"The settings file {path} is not UTF-8 text (byte {exc.start + 1}).")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _broken(path, f"The settings file {path} is not valid TOML ({_where(exc, text)}).")
    warnings: list[str] = []
    settings = _settings_from(document, path, warnings)
    return LoadedSettings(settings, tuple(warnings), path)


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write ``settings`` atomically (the old file or the new one, never half of each).

    Only values that differ from the defaults are written, so that a better default in a
    later release reaches users who never chose that value themselves. The directory is made
    ``0700`` and the file ``0600``. Raises :class:`~.errors.SettingsError`.
    """
    path = settings_file() if path is None else path
    document: dict[str, dict[str, Any]] = {}
    for spec in fields(settings):
        section = getattr(settings, spec.name)
        default = type(section)()
        changed = {
            item.name: getattr(section, item.name)
            for item in fields(section)
            if getattr(section, item.name) != getattr(default, item.name)
        }
        if changed:
            document[spec.name] = changed
    data = (_HEADER + tomli_w.dumps(document)).encode("utf-8")
    try:
        atomic_write(path, data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SettingsError(f"The settings could not be saved to {path} ({reason}).") from exc


def _broken(path: Path, problem: str) -> LoadedSettings:
    message = f"{problem} The default settings are used; the file was left as it is."
    return LoadedSettings(Settings(), (message,), path, file_broken=True)


def _where(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """Where and what the TOML mistake is, e.g. "line 3, column 7: Invalid value".

    Python 3.14 gives the position as attributes; earlier versions only put it at the end of
    the message, as "(at line 3, column 7)" or "(at end of document)".
    """
    line, column, message = (getattr(exc, name, None) for name in ("lineno", "colno", "msg"))
    if isinstance(line, int) and isinstance(column, int) and isinstance(message, str):
        return f"line {line}, column {column}: {message}"
    message = str(exc)
    if found := re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message):
        return f"line {found[1]}, column {found[2]}: {message[: found.start()]}"
    if found := re.search(r"\s*\(at end of document\)\s*$", message):
        lines = text.split("\n")
        end = f"line {len(lines)}, column {len(lines[-1]) + 1}"
        return f"{end}, the end of the file: {message[: found.start()]}"
    return message


def _settings_from(document: dict[str, Any], path: Path, warnings: list[str]) -> Settings:
    section_types = _field_types(Settings)
    sections: dict[str, Any] = {}
    for name, table in document.items():
        section_type = section_types.get(name)
        if section_type is None:
            what = f"section [{name}]" if isinstance(table, dict) else f"setting {name}"
            warnings.append(f"{path}: unknown {what} ignored.")
        elif not isinstance(table, dict):
            warnings.append(f"{path}: {name} should be a [{name}] section; the defaults are used.")
        else:
            sections[name] = _section_from(section_type, name, table, path, warnings)
    return replace(Settings(), **sections)


def _section_from(
    section_type: type[_Section],
    name: str,
    table: dict[str, Any],
    path: Path,
    warnings: list[str],
) -> _Section:
    default = section_type()
    specs = {spec.name: spec for spec in fields(section_type)}
    hints = _field_types(section_type)
    good: dict[str, Any] = {}
    for key, value in table.items():
        spec = specs.get(key)
        if spec is None:
            # The value is not shown: it might be a key pasted into the wrong file.
            hint = " (API keys belong in the system keyring)" if _SECRET_HINT.search(key) else ""
            warnings.append(f"{path}: unknown setting {name}.{key} ignored{hint}.")
            continue
        try:
            good[key] = _check(value, hints[key], spec)
        except _BadValueError as bad:
            fallback = _show(getattr(default, key))
            warnings.append(
                f"{path}: {name}.{key} = {_show(value)} {bad}; the default, {fallback}, is used."
            )
    return replace(default, **good)


def _check(value: object, kind: type, spec: Field[Any]) -> Any:
    """``value`` as a ``kind`` within the field's bounds, or :class:`_BadValueError`."""
    if kind is bool:
        if not isinstance(value, bool):
            raise _BadValueError("should be true or false")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise _BadValueError("should be text in quotes")
        choices = spec.metadata.get("choices")
        if choices and value not in choices:
            raise _BadValueError("should be one of " + ", ".join(_show(c) for c in choices))
        return value
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _BadValueError("should be a whole number")
        number: float = value
    elif kind is float:
        # TOML tells 1 from 1.0, people do not: accept ints.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _BadValueError("should be a number")
        if not math.isfinite(value):
            raise _BadValueError("should be a finite number")
        value = number = float(value)
    else:
        raise TypeError(f"settings of type {kind} are not supported")
    minimum, maximum = spec.metadata.get("minimum"), spec.metadata.get("maximum")
    if minimum is not None and maximum is not None and not minimum <= number <= maximum:
        raise _BadValueError(f"is out of range ({_show(minimum)} to {_show(maximum)})")
    if minimum is not None and number < minimum:
        raise _BadValueError(f"should be at least {_show(minimum)}")
    if maximum is not None and number > maximum:
        raise _BadValueError(f"should be at most {_show(maximum)}")
    return value


def _field_types(cls: type) -> dict[str, Any]:
    """The resolved annotations of a dataclass (they are strings under ``__future__``)."""
    if (known := _FIELD_TYPES.get(cls)) is not None:
        return known
    hints = get_type_hints(cls)
    types = {spec.name: hints[spec.name] for spec in fields(cls)}
    if cls is not Settings:
        unsupported = {name: kind for name, kind in types.items() if kind not in _SCALARS}
        if unsupported:
            raise TypeError(f"{cls.__name__} has fields of unsupported types: {unsupported}")
    _FIELD_TYPES[cls] = types
    return types


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def _show(value: object) -> str:
    """A value as it would be written in TOML, shortened: for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "…"
        return '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
