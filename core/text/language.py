"""Which language each stretch of text is in, and which voice reads it.

An English voice reading French sounds like a parody, and "1 234" is said differently in each
language. So text is detected (langdetect, seeded so that the same text always gets the same
answer) and each language can map to a voice per provider.

What is detected is a segment, not a paragraph: the narrator's scheduler and ``voxtray clean``
alike call :meth:`~.prepare.RequestText.context` for each segment the segmenter makes (the
first clause, then sentences or parts of long ones), in order, and that asks
:class:`LanguageTracker` here. A sentence of 40 characters or more is enough for langdetect.
(:func:`paragraphs` splits at blank lines for a caller that wants real paragraphs; the
pipeline does not use it.)

Short text is where detectors guess: a segment shorter than ``min_chars`` ("OK.", a heading,
a name, often the first clause), one with hardly any different letters ("a.a.a…", "xxxx",
"ha ha ha": not language at all, and the slowest kind for langdetect, which never becomes
sure of it), or one the detector is unsure of, keeps the language of the segment before it
(the default language for the first). Detection can be switched off; then everything is in
the default language.

The voice mapping lives in ``config_dir()/languages.toml``, because the settings file holds
scalars only::

    default_language = "en"   # what the default voices speak: no note for text in it

    [voices.fr]
    piper = "fr_FR-siwis-medium"
    elevenlabs = "Antoine"

A language without a voice for the provider in use is read by the default voice, and the user
is told so once per language (:class:`VoiceChooser`).
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from langdetect import DetectorFactory, detect_langs
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import LangDetectException

from ..errors import SettingsError
from ..model import VoiceRef
from ..paths import config_dir

__all__ = [
    "LanguageTracker",
    "LanguageVoices",
    "VoiceChooser",
    "detect_language",
    "language_name",
    "languages_file",
    "load_language_profiles",
    "paragraphs",
    "voice_for",
]

LANGUAGES_FILE_NAME = "languages.toml"
DEFAULT_MIN_CHARS = 40
_MIN_PROBABILITY = 0.8
"""Below this, langdetect's best guess is a guess: the previous language is kept."""
_MIN_LETTERS = 5
"""Text with fewer different letters than this is not language; it is not worth detecting."""

DetectorFactory.seed = 0  # langdetect is randomized; seeded, the same text gets the same answer
_LOCK = threading.Lock()  # langdetect's factory loads its profiles lazily and is not thread-safe

_NAMES = {
    # Every language langdetect has a profile for (55: "zh-cn" and "zh-tw" are both "zh").
    "af": "Afrikaans",
    "ar": "Arabic",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "ca": "Catalan",
    "cs": "Czech",
    "cy": "Welsh",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "gu": "Gujarati",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "kn": "Kannada",
    "ko": "Korean",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mk": "Macedonian",
    "ml": "Malayalam",
    "mr": "Marathi",
    "ne": "Nepali",
    "nl": "Dutch",
    "no": "Norwegian",
    "pa": "Punjabi",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "so": "Somali",
    "sq": "Albanian",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "th": "Thai",
    "tl": "Tagalog",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh": "Chinese",
}
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


def language_name(code: str) -> str:
    """ "fr" → "French"; a code without a name is shown as it is."""
    return _NAMES.get(_base(code), code)


def load_language_profiles() -> None:
    """Load langdetect's profiles now rather than on the first detection.

    The first detection decodes 55 JSON profiles (about 0.3 s). Even in a worker thread that
    stalls the event loop: JSON decoding holds the GIL in long C calls, and the tray app's loop
    was measured waiting 100 ms at a time for it while the first sentence began (a "shut up"
    pressed then was heard late). Call it in a thread while nothing plays.
    """
    with _LOCK:
        init_factory()


def detect_language(text: str, *, min_chars: int = DEFAULT_MIN_CHARS) -> str | None:
    """The language of ``text`` ("fr", "zh"…), or None when it is too short or unclear."""
    if len(text.strip()) < min_chars:
        return None
    if sum(1 for char in set(text) if char.isalpha()) < _MIN_LETTERS:
        return None
    try:
        with _LOCK:
            found = detect_langs(text)
    except LangDetectException:  # no letters at all ("12:30 — 14:00")
        return None
    if not found or found[0].prob < _MIN_PROBABILITY:
        return None
    return _base(str(found[0].lang))


class LanguageTracker:
    """The language of successive stretches (segments) of one text, in order."""

    def __init__(
        self, *, enabled: bool = True, min_chars: int = DEFAULT_MIN_CHARS, default: str = "en"
    ) -> None:
        self._enabled = enabled
        self._min_chars = min_chars
        self.current = _base(default)

    def language_of(self, text: str) -> str:
        """The language of the next stretch (short or unclear: the one before it)."""
        if self._enabled:
            found = detect_language(text, min_chars=self._min_chars)
            if found is not None:
                self.current = found
        return self.current


def paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each paragraph of ``text`` (blank lines separate them)."""
    start = 0
    for found in _PARAGRAPH_BREAK.finditer(text):
        if found.start() > start:
            yield start, found.start()
        start = found.end()
    if start < len(text):
        yield start, len(text)


@dataclass(frozen=True, slots=True)
class LanguageVoices:
    """The contents of ``languages.toml``: a voice per language and provider."""

    default_language: str = "en"
    voices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """language → provider → voice id."""

    @classmethod
    def load(cls, path: Path | None = None) -> LanguageVoices:
        """Read the file; missing means no mapping. Raises :class:`SettingsError`."""
        path = languages_file() if path is None else path
        try:
            document = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"The language file {path} could not be read ({exc}).") from exc
        default = document.get("default_language", "en")
        table = document.get("voices", {})
        if not isinstance(default, str) or not isinstance(table, dict):
            raise SettingsError(
                f"{path}: default_language is text and [voices.xx] tables map providers to voices."
            )
        voices: dict[str, dict[str, str]] = {}
        for language, providers in table.items():
            if not isinstance(providers, dict) or not all(
                isinstance(v, str) for v in providers.values()
            ):
                raise SettingsError(
                    f"{path}: [voices.{language}] should map providers to voice ids, "
                    'like piper = "…".'
                )
            voices[_base(language)] = dict(providers)
        return cls(_base(default), voices)


def languages_file() -> Path:
    """``config_dir()/languages.toml``."""
    return config_dir() / LANGUAGES_FILE_NAME


def voice_for(
    language: str,
    provider: str,
    mapping: Mapping[str, Mapping[str, str]],
    default: VoiceRef,
) -> tuple[VoiceRef, str | None]:
    """The voice for text in ``language`` on ``provider``, and a note when there is none."""
    voice_id = mapping.get(_base(language), {}).get(provider)
    if voice_id:
        return VoiceRef(provider, voice_id), None
    name = language_name(language)
    return default, f"No voice is set for {name}; the default voice reads it."


class VoiceChooser:
    """:func:`voice_for` that says "no voice for French" once per language, not per sentence."""

    def __init__(self, voices: LanguageVoices) -> None:
        self._voices = voices
        self._noted: set[str] = set()

    def voice_for(self, language: str, default: VoiceRef) -> tuple[VoiceRef, str | None]:
        base = _base(language)
        if base == self._voices.default_language and base not in self._voices.voices:
            return default, None  # the default voice speaks this language
        voice, note = voice_for(base, default.provider, self._voices.voices, default)
        if note is not None:
            if base in self._noted:
                return voice, None
            self._noted.add(base)
        return voice, note


def _base(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()
