"""Speakable text: what a voice should say for what is written.

A local voice reads "$5.20" as "dollar five point two zero" and a URL letter by letter, says
nothing useful for an emoji, and spends a minute on a fenced code block. So before a segment
goes to a voice, :func:`make_speakable` rewrites it:

* URLs, bare host names ("example.com/docs", if the domain is one of a few well-known ones)
  and e-mail addresses become "link to example dot com" and "ada at example dot com";
* code: fenced blocks (```` ``` ```` or ``~~~``) and inline `` `code` `` are skipped, announced
  ("Code block.") or read, as the user chose; inline code is part of its sentence, so
  "announce" reads it (it is short), and only whole blocks are announced;
* emoji are named ("grinning face") or dropped;
* runs of punctuation are tamed ("!!!" → "!", "...." → "…", "-----" and "***" → nothing);
* with ``expand=True`` (the local voice): numbers, ordinals, years after a cue word, dates,
  times, currency, units and a few abbreviations are written out in words, in the language
  of the text (num2words). A cloud voice that normalizes text itself gets ``expand=False``,
  because expanding twice ("five dollars" for "$5", then a model that reads "5" its own way)
  only adds chances to be wrong.

The result keeps an :class:`~.offsets.OffsetMap` back to the input, so highlighting and resume
still point into the source. Whitespace runs become one space and the ends are trimmed: what
``voxtray clean`` prints is byte for byte what a voice receives.

Everything is one pass of one precompiled pattern (per language and mode) over the text, so
the cost is linear in its length, provided no alternative can start inside a run it then fails
to match: an e-mail tried from every letter of "a.a.a…" costs the square of the run (a 10,000
character segment of it took seconds), so patterns of unbounded length start only where their
run starts. Rules for dates, ordinals, unit names and abbreviations are English first; other
languages get their numbers, currency and percent in their own words (where num2words knows
the language) and the rest as written. Nothing here raises for odd
input: a rule that cannot make sense of its match leaves the text as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

import emoji as emoji_data
import num2words as num2words_module

from .offsets import OffsetMap, OffsetMapBuilder

__all__ = [
    "LINK",
    "CodeMode",
    "EmojiMode",
    "Spoken",
    "code_block_open_after",
    "make_speakable",
]

CodeMode = Literal["skip", "announce", "read"]
EmojiMode = Literal["name", "drop"]


@dataclass(frozen=True, slots=True)
class Spoken:
    """Text as a voice should say it, and where each of its characters came from."""

    text: str
    offsets: OffsetMap

    def source_offset(self, index: int) -> int:
        """The offset in the input of the spoken character at ``index`` (the end: the end)."""
        return self.offsets.source_offset(index)


def make_speakable(
    text: str,
    *,
    expand: bool,
    code: CodeMode,
    emoji: EmojiMode,
    language: str = "en",
    in_code_block: bool = False,
) -> Spoken:
    """Rewrite ``text`` for a voice; see the module docstring for the rules.

    ``in_code_block``: the text starts inside a fenced block opened earlier (a segment in the
    middle of a document); :func:`code_block_open_after` tracks that from segment to segment.
    """
    lang = _base_language(language)
    rules = _Rules(text, lang, code=code, emoji=emoji)
    builder = OffsetMapBuilder(len(text))
    pos = 0
    if in_code_block:
        close = _FENCE_LINE.search(text)
        end = close.end() if close else len(text)
        if code == "read":
            builder.copy(text[: close.start() if close else end], 0)
        pos = end
    for match in _pattern(lang, expand).finditer(text, pos):
        if match.start() > pos:
            rules.plain(builder, pos, match.start())
        kind = match.lastgroup or ""
        handled = rules.handle(kind, match, builder)
        if not handled:
            rules.plain(builder, match.start(), match.end())
        pos = match.end()
    if pos < len(text):
        rules.plain(builder, pos, len(text))
    spoken, offsets = builder.build()
    return Spoken(spoken, offsets)


def code_block_open_after(text: str, open_before: bool = False) -> bool:
    """Whether a fenced code block is still open at the end of ``text``."""
    for _ in _FENCE_LINE.finditer(text):
        open_before = not open_before
    return open_before


# -- words that are not numbers -----------------------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "link": "link to",
        "dot": "dot",
        "at": "at",
        "code": "Code block.",
        "percent": "percent",
        "minus": "minus",
        "degrees": "degrees",
        "flag": "flag of",
        "oclock": "o'clock",
    },
    "fr": {
        "link": "lien vers",
        "dot": "point",
        "at": "arobase",
        "code": "Bloc de code.",
        "percent": "pour cent",
        "minus": "moins",
        "degrees": "degrés",
        "flag": "drapeau",
        "hours": "heures",
    },
    "de": {
        "link": "Link zu",
        "dot": "Punkt",
        "at": "at",
        "code": "Codeblock.",
        "percent": "Prozent",
        "minus": "minus",
        "degrees": "Grad",
        "flag": "Flagge",
        "hours": "Uhr",
    },
    "es": {
        "link": "enlace a",
        "dot": "punto",
        "at": "arroba",
        "code": "Bloque de código.",
        "percent": "por ciento",
        "minus": "menos",
        "degrees": "grados",
        "flag": "bandera de",
        "hours": "y",
    },
}

_MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_BY_NAME = {name.lower(): number for number, name in enumerate(_MONTHS_EN, 1)} | {
    name[:3].lower(): number for number, name in enumerate(_MONTHS_EN, 1)
}
_MONTH_BY_NAME["sept"] = 9
_MONTH_NAMES = {
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre"
    " diciembre",
}
_YEAR_CUES = {
    "en": frozenset(
        [
            "in",
            "since",
            "by",
            "from",
            "until",
            "till",
            "of",
            "year",
            "before",
            "after",
            "around",
            "circa",
            "c.",
            "to",
        ]
    ),
    "de": frozenset(["im", "seit", "bis", "von", "jahr", "vor", "nach", "ab", "um"]),
}
_ABBREVIATIONS_EN = {
    "e.g.": "for example",
    "i.e.": "that is",
    "etc.": "et cetera",
    "vs.": "versus",
    "approx.": "approximately",
}

# Unit symbol → (singular, plural), English. Symbols of one letter must touch their number
# ("5m", not "5 m"): "I have 5 m" is too rare to beat "Plan B in 5 s" going wrong.
_UNITS_EN: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "min": ("minute", "minutes"),
    "ms": ("millisecond", "milliseconds"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "kW": ("kilowatt", "kilowatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "m": ("meter", "meters"),
    "g": ("gram", "grams"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "s": ("second", "seconds"),
    "h": ("hour", "hours"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
}
_TEMPERATURE = {"C": "Celsius", "F": "Fahrenheit"}
# Currency symbol → ISO code; English names (singular, plural) and their hundredth.
_CURRENCY_CODES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CURRENCY_EN: dict[str, tuple[tuple[str, str], tuple[str, str] | None]] = {
    "USD": (("dollar", "dollars"), ("cent", "cents")),
    "EUR": (("euro", "euros"), ("cent", "cents")),
    "GBP": (("pound", "pounds"), ("penny", "pence")),
    "JPY": (("yen", "yen"), None),
    "INR": (("rupee", "rupees"), ("paisa", "paise")),
}
_MAGNITUDES = {
    "k": 1_000,
    "thousand": 1_000,
    "m": 1_000_000,
    "mn": 1_000_000,
    "million": 1_000_000,
    "b": 1_000_000_000,
    "bn": 1_000_000_000,
    "billion": 1_000_000_000,
    "tn": 1_000_000_000_000,
    "trillion": 1_000_000_000_000,
}
_MAGNITUDE_WORDS_EN = {
    1_000: "thousand",
    1_000_000: "million",
    1_000_000_000: "billion",
    1_000_000_000_000: "trillion",
}

# Languages that group thousands with "." (or a narrow space) and write decimals with ",".
_DECIMAL_COMMA = frozenset(
    [
        "de",
        "fr",
        "es",
        "it",
        "pt",
        "nl",
        "da",
        "sv",
        "no",
        "fi",
        "pl",
        "cs",
        "sk",
        "ru",
        "uk",
        "tr",
        "ro",
        "hu",
        "id",
    ]
)
_MAX_DIGITS = 15
"""Longer digit strings (ids, card numbers) are left as written: nobody says them as numbers."""

_FENCE_LINE = re.compile(r"^[ \t]*(?:```|~~~)[^\n]*(?:\n|\Z)", re.MULTILINE)

_MAYBE_EMOJI = re.compile(
    "[\u00a9\u00ae\u203c-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff\ufe0f\u20e3]"
)
_SKIN_TONE = re.compile(r"_(?:light|medium-light|medium|medium-dark|dark)_skin_tone")

# -- links ---------------------------------------------------------------------------------------
# A link ends before trailing punctuation: "see example.com/a." ends a sentence after the link.
_LINK_TAIL = r"[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]"
_TOP_LEVEL_DOMAINS = (
    "com net org edu gov info biz io dev co eu uk de fr es nl ch se dk fi ie ru jp cn au ca nz br"
)
"""What a bare host name ("example.com", no scheme, no "www.") must end with to be read as a
link. A short list rather than a rule, because many two-letter country codes are also an
English word ("end.it", "see.in", "us", "me", "to") or a file extension (".py", ".sh", ".md",
".pl", ".rs"); only the big generic domains and country codes that are neither are here, in
lower case ("end.Next" is a sentence without its space, not a host)."""
_SCHEME_URL = rf"(?i:\b(?:(?:https?|ftp)://|www\.)){_LINK_TAIL}"
# A bare host starts only after a character that cannot be part of it: then every run of
# "a.a.a…" is tried once, not from each of its letters (which costs the square of its length).
_BARE_HOST = (
    r"(?<![\w.@/\\-])(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+"
    rf"(?:{'|'.join(_TOP_LEVEL_DOMAINS.split())})(?![\w@-]|\.\w)"
    rf"(?::\d{{1,5}})?(?:/(?:{_LINK_TAIL})?)?"
)
# The same rule for the local part: it starts where a run of its characters starts.
_EMAIL = r"(?<![\w.+-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
LINK = re.compile(f"{_SCHEME_URL}|{_BARE_HOST}|{_EMAIL}")
"""A URL, a bare host name with a known top-level domain, or an e-mail address: one word to
the speakable pass, so the segmenter must not cut inside one."""


# -- the pattern --------------------------------------------------------------------------------


def _number(lang: str) -> str:
    """A number as written in ``lang``: digits, grouped thousands, decimals."""
    if lang in _DECIMAL_COMMA:
        return r"(?:\d{1,3}(?:[.\u00a0\u202f]\d{3})+|\d+)(?:,\d+)?"
    return r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"


@lru_cache(maxsize=32)
def _pattern(lang: str, expand: bool) -> re.Pattern[str]:
    """The one pattern for a language and mode; compiled once, kept."""
    alternatives = [
        r"(?P<fence>^[ \t]*(?:```|~~~)[^\n]*(?:\n|\Z)(?s:.*?)"
        r"(?:^[ \t]*(?:```|~~~)[^\n]*(?:\n|\Z)|\Z))",
        r"(?P<inline>`[^`\n]+`)",
        rf"(?P<url>{_SCHEME_URL}|{_BARE_HOST})",
        rf"(?P<email>{_EMAIL})",
    ]
    if expand and _has_numbers(lang):
        num = _number(lang)
        edge = r"(?<![\w.,])"  # not the middle of 1.2.3, v2 or a word
        end = r"(?![\w]|[.,]\d)"
        months = "|".join(sorted(_MONTH_BY_NAME, key=len, reverse=True))
        alternatives.append(r"(?P<isodate>\b\d{4}-\d{2}-\d{2}\b)")
        if lang == "en":
            alternatives += [
                r"(?P<decade>\b(?:1\d|20)\d0s\b)",
                rf"(?P<mdate>(?i:\b(?:{months}))\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
                r"(?:,?\s+\d{4}\b)?)",
                rf"(?P<dmdate>\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?i:(?:{months}))\b\.?"
                r"(?:,?\s+\d{4}\b)?)",
            ]
        units = "|".join(
            re.escape(u) for u in sorted(_UNITS_EN, key=len, reverse=True) if len(u) > 1
        )
        singles = "".join(u for u in _UNITS_EN if len(u) == 1)
        alternatives += [
            r"(?P<time>\b(?:[01]?\d|2[0-3]):[0-5]\d\b(?!:\d)(?:\s?[AaPp]\.?[Mm]\.?(?!\w))?)",
            rf"(?P<money>[-−]?[$€£¥₹]{num}(?:\s?(?:k|K|m|M|mn|bn|b|B|tn|thousand|million|billion"
            r"|trillion)\b)?(?!\w))",
            rf"(?P<moneyafter>{edge}{num}\s?[€£¥₹](?!\w))",
            rf"(?P<percent>{edge}[-−]?{num}\s?%)",
            rf"(?P<temperature>{edge}[-−]?{num}\s?°\s?[CF]?(?!\w))",
            rf"(?P<unit>{edge}[-−]?{num}(?:\s?(?:{units})|[{singles}])(?![\w/]))",
        ]
        if lang == "en":
            alternatives += [
                r"(?P<ordinal>\b\d+(?:st|nd|rd|th)\b)",
                r"(?P<abbr>(?<!\w)(?:e\.g\.|i\.e\.|etc\.|vs\.|approx\.)(?!\w))",
            ]
        elif lang == "fr":
            alternatives.append(r"(?P<ordinal>\b\d+(?:er|re|e|ème|eme)\b)")
        alternatives.append(rf"(?P<number>(?:(?<![\w\d])[-−])?{edge}{num}{end})")
    alternatives += [
        r"(?P<marks>[!?]{2,})",
        r"(?P<ellipsis>\.{3,}|…[.…]+)",
        r"(?P<rule>-{3,}|[*_=#~]{2,}|[—–]{2,})",
    ]
    return re.compile("|".join(alternatives), re.MULTILINE)


# -- the rules ----------------------------------------------------------------------------------


class _Rules:
    """What each kind of match is said as, for one text in one language."""

    def __init__(self, text: str, lang: str, *, code: CodeMode, emoji: EmojiMode) -> None:
        self.text = text
        self.lang = lang
        self.words = _WORDS.get(lang, _WORDS["en"])
        self.code = code
        self.emoji = emoji
        self._handlers: dict[str, Callable[[re.Match[str]], str | None]] = {
            "url": self._url,
            "email": self._email,
            "isodate": self._isodate,
            "mdate": self._mdate,
            "dmdate": self._dmdate,
            "time": self._time,
            "money": self._money,
            "moneyafter": self._money_after,
            "percent": self._percent,
            "temperature": self._temperature,
            "unit": self._unit,
            "ordinal": self._ordinal,
            "decade": self._decade,
            "abbr": self._abbreviation,
            "number": self._number,
        }

    def handle(self, kind: str, match: re.Match[str], builder: OffsetMapBuilder) -> bool:
        """Write what ``match`` is said as; False: say it as written."""
        start = match.start()
        if kind == "fence":
            self._fence(match, builder)
        elif kind == "inline":
            if self.code != "skip":
                builder.copy(match.group()[1:-1], start + 1)
            else:
                builder.drop(start)
        elif kind == "marks":
            marks = match.group()
            said = marks[0] + ("" if len(set(marks)) == 1 else ("?" if marks[0] == "!" else "!"))
            builder.replace(said, start, word=False)
        elif kind == "ellipsis":
            builder.replace("…", start, word=False)
        elif kind == "rule":
            builder.drop(start)
        else:
            words = self._handlers[kind](match)
            if words is None:
                return False
            builder.replace(words, start)
        return True

    def plain(self, builder: OffsetMapBuilder, start: int, end: int) -> None:
        """Text no rule matched: copied, except its emoji."""
        text = self.text
        if not _MAYBE_EMOJI.search(text, start, end):
            builder.copy(text[start:end], start)
            return
        piece = text[start:end]
        at = 0
        for found in emoji_data.emoji_list(piece):
            first, last = found["match_start"], found["match_end"]
            if first > at:
                builder.copy(piece[at:first], start + at)
            if self.emoji == "name":
                builder.replace(self._emoji_name(found["emoji"]), start + first)
            else:
                builder.drop(start + first)
            at = last
        if at < len(piece):
            rest = piece[at:].replace("\ufe0f", "").replace("\u20e3", "").replace("\u200d", "")
            if rest == piece[at:]:
                builder.copy(rest, start + at)
            else:
                builder.replace(rest, start + at, word=False)

    # -- code, links, emoji --------------------------------------------------------------------

    def _fence(self, match: re.Match[str], builder: OffsetMapBuilder) -> None:
        if self.code == "skip":
            builder.drop(match.start())
        elif self.code == "announce":
            builder.replace(self.words["code"], match.start())
        else:
            block = match.group()
            opening = _FENCE_LINE.match(block)
            body_start = opening.end() if opening else 0
            closings = list(_FENCE_LINE.finditer(block, body_start))
            body_end = closings[-1].start() if closings else len(block)
            builder.copy(block[body_start:body_end], match.start() + body_start)

    def _url(self, match: re.Match[str]) -> str:
        rest = re.sub(r"^(?:[a-z]+://)?", "", match.group(), flags=re.IGNORECASE)
        host = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2].split(":")[0]
        if host.lower().startswith("www."):
            host = host[4:]
        return f"{self.words['link']} {self._dotted(host)}"

    def _email(self, match: re.Match[str]) -> str:
        local, _, domain = match.group().partition("@")
        return f"{self._dotted(local)} {self.words['at']} {self._dotted(domain)}"

    def _dotted(self, name: str) -> str:
        return f" {self.words['dot']} ".join(part for part in name.split(".") if part)

    def _emoji_name(self, char: str) -> str:
        name = ""
        if self.lang != "en" and self.lang in emoji_data.LANGUAGES:
            name = emoji_data.demojize(char, language=self.lang, delimiters=("", ""))
        if not name or name == char:
            name = emoji_data.demojize(char, delimiters=("", ""))
        if name == char:  # not an emoji after all
            return ""
        name = _SKIN_TONE.sub("", name).replace("_", " ").strip()
        if all(0x1F1E6 <= ord(c) <= 0x1F1FF for c in char):  # two regional indicators: a flag
            return f"{self.words['flag']} {name}"
        return name

    # -- numbers and what is counted -----------------------------------------------------------

    def _say(self, value: Decimal | int, to: str = "cardinal") -> str | None:
        """num2words in this language; None when it cannot (the text stays as written)."""
        try:
            said: str = num2words_module.num2words(value, lang=self.lang, to=to)
        except Exception:  # num2words raises many kinds (Overflow, NotImplemented, Type…)
            return None
        if self.lang == "en":  # "one thousand two hundred thirty-four", as Americans say it
            said = said.replace(",", "").replace(" and ", " ")
        return said

    def _value(self, written: str) -> Decimal | int | None:
        """The number ``written`` in this language's notation."""
        cleaned = written.replace("−", "-")
        if self.lang in _DECIMAL_COMMA:
            cleaned = re.sub(r"[.\u00a0\u202f]", "", cleaned).replace(",", ".")
        else:
            cleaned = cleaned.replace(",", "")
        if len(cleaned.lstrip("-").replace(".", "")) > _MAX_DIGITS:
            return None
        try:
            return int(cleaned) if "." not in cleaned else Decimal(cleaned)
        except (ValueError, InvalidOperation):
            return None

    def _amount(self, written: str) -> str | None:
        value = self._value(written)
        return None if value is None else self._say(value)

    def _number(self, match: re.Match[str]) -> str | None:
        written = match.group()
        value = self._value(written)
        if value is None:
            return None
        if (
            isinstance(value, int)
            and 1000 <= value <= 2099
            and written.isdigit()
            and self._previous_word(match.start()) in _YEAR_CUES.get(self.lang, ())
        ):
            return self._say(value, "year")
        return self._say(value)

    def _previous_word(self, before: int) -> str:
        found = re.search(r"(\S+)\s+$", self.text[max(0, before - 24) : before])
        return found.group(1).lower() if found else ""

    def _ordinal(self, match: re.Match[str]) -> str | None:
        digits = re.match(r"\d+", match.group())
        if digits is None or len(digits.group()) > _MAX_DIGITS:
            return None
        return self._say(int(digits.group()), "ordinal")

    def _decade(self, match: re.Match[str]) -> str | None:
        year = self._say(int(match.group()[:-1]), "year")
        if year is None:
            return None
        head, _, last = year.rpartition(" ")
        plural = last[:-1] + "ies" if last.endswith("y") else last + "s"
        return f"{head} {plural}".strip()

    def _percent(self, match: re.Match[str]) -> str | None:
        amount = self._signed(match.group().rstrip("%").strip())
        return None if amount is None else f"{amount} {self.words['percent']}"

    def _signed(self, written: str) -> str | None:
        if written[:1] in "-−":
            amount = self._amount(written[1:])
            return None if amount is None else f"{self.words['minus']} {amount}"
        return self._amount(written)

    def _temperature(self, match: re.Match[str]) -> str | None:
        written, _, scale = match.group().partition("°")
        amount = self._signed(written.strip())
        if amount is None:
            return None
        scale = scale.strip()
        degrees = self.words["degrees"]
        if self.lang == "en" and amount in ("one", "minus one"):
            degrees = "degree"
        return f"{amount} {degrees} {_TEMPERATURE.get(scale, '')}".strip()

    def _unit(self, match: re.Match[str]) -> str | None:
        found = re.match(r"([-−]?[\d.,\u00a0\u202f]*\d)\s?(.+)", match.group())
        if found is None:
            return None
        amount = self._signed(found.group(1))
        if amount is None:
            return None
        symbol = found.group(2)
        names = _UNITS_EN.get(symbol)
        if self.lang != "en" or names is None:
            return f"{amount} {symbol}"
        return f"{amount} {names[0] if amount == 'one' else names[1]}"

    def _money(self, match: re.Match[str]) -> str | None:
        found = re.match(r"([-−]?)([$€£¥₹])([\d.,\u00a0\u202f]*\d)\s?([A-Za-z]*)", match.group())
        if found is None:
            return None
        sign, symbol, written, magnitude = found.groups()
        said = self._currency(written, _CURRENCY_CODES[symbol], magnitude.lower())
        if said is None:
            return None
        return f"{self.words['minus']} {said}" if sign else said

    def _money_after(self, match: re.Match[str]) -> str | None:
        written = match.group()[:-1].strip()
        return self._currency(written, _CURRENCY_CODES[match.group()[-1]], "")

    def _currency(self, written: str, code: str, magnitude: str) -> str | None:
        value = self._value(written)
        if value is None:
            return None
        if magnitude:
            scale = _MAGNITUDES.get(magnitude)
            if scale is None:
                return None
            amount = self._say(value)
            if amount is None:
                return None
            if self.lang == "en":
                return f"{amount} {_MAGNITUDE_WORDS_EN[scale]} {_CURRENCY_EN[code][0][1]}"
            return self._currency_words(Decimal(value) * scale, code)
        if self.lang == "en":
            return self._currency_en(
                Decimal(value), code, hundredths=len(written) > 2 and written[-3] in ".,"
            )
        return self._currency_words(Decimal(value), code)

    def _currency_en(self, value: Decimal, code: str, *, hundredths: bool) -> str | None:
        (one, many), small = _CURRENCY_EN[code]
        whole = int(value)
        cents = int((value - whole) * 100)
        if value != whole and (not hundredths or small is None):
            amount = self._say(value)  # "5.255 dollars": read as a decimal
            return None if amount is None else f"{amount} {many}"
        parts = []
        if whole or not cents:
            words = self._say(whole)
            if words is None:
                return None
            parts.append(f"{words} {one if whole == 1 else many}")
        if cents and small is not None:
            parts.append(f"{self._say(cents)} {small[0] if cents == 1 else small[1]}")
        return " and ".join(parts)

    def _currency_words(self, value: Decimal, code: str) -> str | None:
        """Currency in another language: num2words' own forms, without "zero cents"."""
        if value == int(value):
            converter = num2words_module.CONVERTER_CLASSES.get(self.lang)
            forms = getattr(converter, "CURRENCY_FORMS", {}).get(code)
            amount = self._say(int(value))
            if forms is None or amount is None:
                return None
            return f"{amount} {forms[0][0] if int(value) == 1 else forms[0][1]}"
        return self._say_currency(value, code)

    def _say_currency(self, value: Decimal, code: str) -> str | None:
        try:
            said: str = num2words_module.num2words(
                value, lang=self.lang, to="currency", currency=code
            )
        except Exception:  # num2words raises many kinds (Overflow, NotImplemented, Type…)
            return None
        return said

    # -- dates and times -----------------------------------------------------------------------

    def _isodate(self, match: re.Match[str]) -> str | None:
        year, month, day = (int(part) for part in match.group().split("-"))
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        return self._date(year, month, day)

    def _date(self, year: int | None, month: int, day: int) -> str | None:
        if self.lang == "en":
            said_day = self._say(day, "ordinal")
            said = f"{_MONTHS_EN[month - 1]} {said_day}"
            if year is not None:
                said += f", {self._say(year, 'year')}"
            return said
        months = _MONTH_NAMES.get(self.lang)
        if months is None:
            return None
        said_day = self._say(day, "ordinal" if self.lang == "fr" and day == 1 else "cardinal")
        said = f"{said_day} {months.split()[month - 1]}"
        if year is not None:
            said += f" {self._say(year, 'year' if self.lang == 'de' else 'cardinal')}"
        return said

    def _mdate(self, match: re.Match[str]) -> str | None:
        found = re.match(r"([A-Za-z]+)\.?\s+(\d{1,2})\D*?(?:\s(\d{4}))?$", match.group())
        if found is None:
            return None
        month = _MONTH_BY_NAME.get(found.group(1).lower())
        day = int(found.group(2))
        if month is None or not 1 <= day <= 31:
            return None
        return self._date(int(found.group(3)) if found.group(3) else None, month, day)

    def _dmdate(self, match: re.Match[str]) -> str | None:
        found = re.match(
            r"(\d{1,2})\D*?\s(?:of\s+)?([A-Za-z]+)\.?(?:,?\s+(\d{4}))?$", match.group()
        )
        if found is None:
            return None
        day = int(found.group(1))
        month = _MONTH_BY_NAME.get(found.group(2).lower())
        if month is None or not 1 <= day <= 31:
            return None
        said_day = self._say(day, "ordinal")
        said = f"the {said_day} of {_MONTHS_EN[month - 1]}"
        if found.group(3):
            said += f" {self._say(int(found.group(3)), 'year')}"
        return said

    def _time(self, match: re.Match[str]) -> str | None:
        clock, _, suffix = match.group().partition(":")
        hour = int(clock)
        minute = int(suffix[:2])
        meridiem = re.sub(r"[^ap]", "", suffix[2:].lower())
        said_hour = self._say(hour)
        if self.lang == "en":
            if minute == 0:
                said = f"{said_hour} {'' if meridiem else self.words['oclock']}".strip()
            elif minute < 10:
                said = f"{said_hour} oh {self._say(minute)}"
            else:
                said = f"{said_hour} {self._say(minute)}"
            return f"{said} {meridiem[0]} m" if meridiem else said
        hours = self.words.get("hours", "")
        if minute == 0:
            return f"{said_hour} {hours}".strip()
        return f"{said_hour} {hours} {self._say(minute)}".replace("  ", " ")

    def _abbreviation(self, match: re.Match[str]) -> str | None:
        said = _ABBREVIATIONS_EN.get(match.group())
        if said is None:
            return None
        after = self.text[match.end() : match.end() + 2]
        if match.group() == "etc." and (not after.strip() or after[1:2].isupper()):
            said += "."  # "etc." ended the sentence too
        return said


def _base_language(language: str) -> str:
    """ "en_US", "pt-BR", "FR" → "en", "pt", "fr"."""
    return language.replace("_", "-").split("-")[0].lower() or "en"


def _has_numbers(lang: str) -> bool:
    return lang in num2words_module.CONVERTER_CLASSES
