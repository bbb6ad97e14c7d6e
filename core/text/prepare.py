"""From a segment of the source to the text a provider is given.

The scheduler asks a :class:`TextPreparer` for each synthesis call. Preparation is the
pronunciation dictionary (the user's rules, for every provider), then the speakable pass
(URLs, code, emoji, punctuation; numbers and the like only for providers that do not
normalize text themselves), in the language of the segment. The two offset maps compose, so
an index of the prepared text maps back to the segment's source text.

Some of it depends on what came before: the language of a short sentence is that of the one
before it, and a segment may start inside a fenced code block opened two segments earlier. So
each request gets a :class:`RequestText` that sees the segments in order
(:meth:`RequestText.context`) and hands out a :class:`SegmentContext`; preparing is then a pure
function of the text, the context and the provider, and can be repeated for a retry, a resume
or a fallback voice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..errors import SettingsError
from ..model import VoiceRef
from .dictionary import PronunciationDictionary
from .language import (
    DEFAULT_MIN_CHARS,
    LanguageTracker,
    LanguageVoices,
    VoiceChooser,
    load_language_profiles,
)
from .speakable import CodeMode, EmojiMode, Spoken, code_block_open_after, make_speakable

__all__ = ["RequestText", "SegmentContext", "TextOptions", "TextPreparer"]

_WARM_UP_TEXT = "On 3 May 2024 it cost $12.50 at https://example.com, about 5 km away."
"""Dates, money, a URL and a unit: the first use of each expander loads its tables."""

_LOG = logging.getLogger(__name__)

NORMALIZING_PROVIDERS = frozenset({"elevenlabs"})
"""Providers whose service writes numbers, dates and units out itself (expanding them here too
would only add chances to be wrong). Every other provider gets the full speakable pass."""


@dataclass(frozen=True, slots=True)
class TextOptions:
    """The ``[text]`` settings, as the preparer needs them."""

    expand_for_local_voice: bool = True
    code: CodeMode = "announce"
    emoji: EmojiMode = "name"
    detect_language: bool = True
    min_language_chars: int = DEFAULT_MIN_CHARS


@dataclass(frozen=True, slots=True)
class SegmentContext:
    """What a segment inherits from the segments before it."""

    language: str = "en"
    in_code_block: bool = False

    def after(self, text: str) -> SegmentContext:
        """The context at the end of ``text`` (resuming part-way through a segment)."""
        return SegmentContext(self.language, code_block_open_after(text, self.in_code_block))


@dataclass(slots=True)
class TextPreparer:
    """Dictionary + speakable + language, for every synthesis call of a narrator."""

    options: TextOptions = field(default_factory=TextOptions)
    dictionary: PronunciationDictionary = field(default_factory=PronunciationDictionary)
    voices: LanguageVoices = field(default_factory=LanguageVoices)
    warnings: tuple[str, ...] = ()
    """Problems met while loading the files (the rest still works): for the user."""
    _chooser: VoiceChooser | None = None

    @classmethod
    def load(cls, options: TextOptions) -> TextPreparer:
        """The preparer with the user's dictionary and language voices.

        A broken file costs that file only (speech goes on without it) and is reported in
        :attr:`warnings`, as the settings file does.
        """
        warnings: list[str] = []
        dictionary = PronunciationDictionary()
        voices = LanguageVoices()
        try:
            dictionary = PronunciationDictionary.load()
        except SettingsError as error:
            warnings.append(f"{error} The pronunciation rules are not used.")
        try:
            voices = LanguageVoices.load()
        except SettingsError as error:
            warnings.append(f"{error} Every language is read by the default voice.")
        for warning in warnings:
            _LOG.warning("%s", warning)
        return cls(options, dictionary, voices, tuple(warnings))

    def for_request(self) -> RequestText:
        return RequestText(self)

    def warm(self) -> None:
        """Load now, in a thread while nothing plays, what the first request would load.

        Blocking (a few hundred milliseconds the first time); see
        :func:`~.language.load_language_profiles` for why it matters even off the loop.
        """
        if self.options.detect_language:
            load_language_profiles()
        self.prepare(_WARM_UP_TEXT, provider="piper")

    def expands_for(self, provider: str) -> bool:
        return self.options.expand_for_local_voice and provider not in NORMALIZING_PROVIDERS

    def prepare(
        self,
        text: str,
        *,
        provider: str,
        voice: VoiceRef | None = None,
        context: SegmentContext | None = None,
    ) -> Spoken:
        """``text`` as ``provider`` should be given it, mapped back to ``text``."""
        context = context or SegmentContext(self.voices.default_language)
        rewritten, rules_map = self.dictionary.apply(text, language=context.language, voice=voice)
        spoken = make_speakable(
            rewritten,
            expand=self.expands_for(provider),
            code=self.options.code,
            emoji=self.options.emoji,
            language=context.language,
            in_code_block=context.in_code_block,
        )
        return Spoken(spoken.text, spoken.offsets.then(rules_map))

    def voice_for(self, language: str, default: VoiceRef) -> tuple[VoiceRef, str | None]:
        """The voice for ``language``; a note (once per language) when none is set."""
        if self._chooser is None:
            self._chooser = VoiceChooser(self.voices)
        return self._chooser.voice_for(language, default)


class RequestText:
    """The in-order state of one request's text: language and open code blocks."""

    def __init__(self, preparer: TextPreparer) -> None:
        options = preparer.options
        self._languages = LanguageTracker(
            enabled=options.detect_language,
            min_chars=options.min_language_chars,
            default=preparer.voices.default_language,
        )
        self._in_code_block = False

    def context(self, text: str) -> SegmentContext:
        """The context of the next segment, ``text``; call for every segment, in order.

        May take a few milliseconds (language detection; the first call loads langdetect's
        profiles, a few hundred): call it off the event loop.
        """
        context = SegmentContext(self._languages.language_of(text), self._in_code_block)
        self._in_code_block = code_block_open_after(text, self._in_code_block)
        return context
