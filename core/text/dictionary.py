"""The user's pronunciation dictionary: "say *this* as *that*", before any voice reads it.

Voices mispronounce names, jargon and acronyms, and no normalizer knows that "Nginx" is
"engine x" in this user's world. So the user keeps rules in one TOML file
(``config_dir()/pronunciation.toml``), edited by hand or with ``voxtray dict``::

    [[rule]]
    match = "Nginx"            # a word, or a regular expression with regex = true
    replace = "engine x"       # for a regex: may use \\1 or \\g<name>
    regex = false
    whole_word = true          # "Nginx" but not "Nginxes"
    case_sensitive = false
    scope = "all"              # or "language:fr", or "voice:piper:en_US-joe-medium", "voice:piper"

Rules apply in file order, each to the text the previous ones left, before the speakable pass
and for every provider (a cloud voice mispronounces names too). Each application returns an
:class:`~.offsets.OffsetMap`, so the spoken text still maps back to the source.

A bad rule is refused with a message that names it ("rule 3 (“C++”): ..."), when it is added,
imported or loaded, never half-way through speaking. The file is written atomically.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from ..errors import SettingsError
from ..model import VoiceRef
from ..paths import atomic_write, config_dir
from .offsets import OffsetMap, OffsetMapBuilder

__all__ = ["PronunciationDictionary", "PronunciationRule", "dictionary_file"]

DICTIONARY_FILE_NAME = "pronunciation.toml"

_HEADER = """\
# VoxTray pronunciation dictionary: rules apply in this order, before any voice reads the text.
# Manage it with `voxtray dict add|list|remove|import|export`, or edit it by hand.

"""
_KEYS = frozenset({"match", "replace", "regex", "whole_word", "case_sensitive", "scope"})
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]+)?")


def dictionary_file() -> Path:
    """``config_dir()/pronunciation.toml``."""
    return config_dir() / DICTIONARY_FILE_NAME


@dataclass(frozen=True, slots=True)
class PronunciationRule:
    """One "say this as that" rule; checked when made (:class:`SettingsError` if unusable)."""

    match: str
    replace: str
    regex: bool = False
    whole_word: bool = True
    case_sensitive: bool = False
    scope: str = "all"
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = f"The rule for “{self.match}”"
        if not self.match:
            raise SettingsError("A pronunciation rule needs something to match.")
        _check_scope(self.scope, what)
        body = self.match if self.regex else re.escape(self.match)
        flags = 0 if self.case_sensitive else re.IGNORECASE
        try:
            re.compile(body, flags)  # alone first, so an error's position is the user's
            if self.whole_word:
                body = rf"(?<!\w)(?:{body})(?!\w)"
            pattern = re.compile(body, flags)
        except re.error as exc:
            where = f" at position {exc.pos + 1}" if exc.pos is not None else ""
            raise SettingsError(
                f"{what} is not a valid regular expression ({exc.msg}{where})."
            ) from exc
        if pattern.search("") is not None:
            raise SettingsError(f"{what} matches empty text, so it would match everywhere.")
        if self.regex:
            try:
                pattern.sub(self.replace, self.match)
                for found in pattern.finditer(self.match):
                    found.expand(self.replace)
            except (re.error, IndexError) as exc:
                raise SettingsError(
                    f"{what} has a bad replacement “{self.replace}”: {exc}."
                ) from exc
        object.__setattr__(self, "pattern", pattern)

    def applies(self, *, language: str, voice: VoiceRef | None) -> bool:
        """Whether the rule's scope covers text in ``language`` read by ``voice``."""
        kind, _, value = self.scope.partition(":")
        if kind == "all":
            return True
        if kind == "language":
            return _base(language) == _base(value)
        if voice is None:
            return False
        provider, _, voice_id = value.partition(":")
        return voice.provider == provider and (not voice_id or voice_id == (voice.voice_id or ""))

    def as_table(self) -> dict[str, Any]:
        table = asdict(self)
        table.pop("pattern", None)
        return table


class PronunciationDictionary:
    """The rules, in order; see the module docstring for the file."""

    def __init__(self, rules: Iterable[PronunciationRule] = ()) -> None:
        self._rules = list(rules)

    @property
    def rules(self) -> tuple[PronunciationRule, ...]:
        return tuple(self._rules)

    # -- the file ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None = None) -> PronunciationDictionary:
        """Read the dictionary; a missing file is an empty one. Raises :class:`SettingsError`."""
        path = dictionary_file() if path is None else path
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise SettingsError(
                f"The pronunciation file {path} could not be read ({reason})."
            ) from exc
        return cls(_rules_from(raw, path))

    def save(self, path: Path | None = None) -> None:
        """Write the rules atomically (the old file or the new one, never half of each)."""
        path = dictionary_file() if path is None else path
        document = {"rule": [rule.as_table() for rule in self._rules]}
        data = (_HEADER + tomli_w.dumps(document)).encode("utf-8")
        try:
            atomic_write(path, data)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise SettingsError(
                f"The pronunciation rules could not be saved to {path} ({reason})."
            ) from exc

    # -- editing -------------------------------------------------------------------------------

    def add(self, rule: PronunciationRule) -> int:
        """Add ``rule`` (replacing a rule with the same match and scope); its 1-based number."""
        for index, known in enumerate(self._rules):
            if _same(known, rule):
                self._rules[index] = rule
                return index + 1
        self._rules.append(rule)
        return len(self._rules)

    def remove(self, key: str) -> PronunciationRule:
        """Remove the rule numbered ``key`` (1-based, as listed) or whose match is ``key``."""
        if key.isdigit():
            number = int(key)
            if not 1 <= number <= len(self._rules):
                raise SettingsError(f"There is no rule {number} (there are {len(self._rules)}).")
            return self._rules.pop(number - 1)
        for index, rule in enumerate(self._rules):
            if rule.match == key:
                return self._rules.pop(index)
        raise SettingsError(f"No rule matches “{key}”.")

    def merge(self, other: PronunciationDictionary) -> int:
        """Add every rule of ``other`` (an import); how many there were."""
        for rule in other.rules:
            self.add(rule)
        return len(other.rules)

    # -- applying ------------------------------------------------------------------------------

    def apply(
        self, text: str, *, language: str = "en", voice: VoiceRef | None = None
    ) -> tuple[str, OffsetMap]:
        """``text`` with every rule in scope applied, and the map back to ``text``."""
        offsets: OffsetMap | None = None
        for rule in self._rules:
            if not rule.applies(language=language, voice=voice):
                continue
            changed = _apply_rule(rule, text)
            if changed is None:
                continue
            text, step = changed
            offsets = step if offsets is None else step.then(offsets)
        return text, offsets if offsets is not None else OffsetMap.identity(len(text))


def _apply_rule(rule: PronunciationRule, text: str) -> tuple[str, OffsetMap] | None:
    """One rule over ``text``; None when it matched nothing."""
    builder: OffsetMapBuilder | None = None
    at = 0
    for found in rule.pattern.finditer(text):
        if found.start() == found.end():
            continue
        if builder is None:
            builder = OffsetMapBuilder(len(text), collapse=False)
        builder.copy(text[at : found.start()], at)
        said = found.expand(rule.replace) if rule.regex else rule.replace
        builder.replace(said, found.start())
        at = found.end()
    if builder is None:
        return None
    builder.copy(text[at:], at)
    return builder.build()


def _rules_from(raw: bytes, path: Path) -> list[PronunciationRule]:
    try:
        document = tomllib.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"The pronunciation file {path} is not valid TOML ({exc}).") from exc
    tables = document.get("rule", [])
    if not isinstance(tables, list):
        raise SettingsError(f"{path}: rules are written as [[rule]] tables.")
    rules = []
    for number, table in enumerate(tables, 1):
        rules.append(_rule_from(table, f"{path}: rule {number}"))
    return rules


def _rule_from(table: object, where: str) -> PronunciationRule:
    if not isinstance(table, dict):
        raise SettingsError(f"{where} is not a table.")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise SettingsError(f"{where} has unknown keys: {', '.join(unknown)}.")
    for key in ("match", "replace", "scope"):
        if key in table and not isinstance(table[key], str):
            raise SettingsError(f"{where}: {key} should be text in quotes.")
    for key in ("regex", "whole_word", "case_sensitive"):
        if key in table and not isinstance(table[key], bool):
            raise SettingsError(f"{where}: {key} should be true or false.")
    if "match" not in table or "replace" not in table:
        raise SettingsError(f"{where} needs both match and replace.")
    try:
        return PronunciationRule(**table)
    except SettingsError as error:
        raise SettingsError(f"{where}: {error}") from error


def _check_scope(scope: str, what: str) -> None:
    kind, _, value = scope.partition(":")
    if kind == "all" and not value:
        return
    if kind == "language" and _LANGUAGE.fullmatch(value):
        return
    if kind == "voice" and value and value.partition(":")[0]:
        return
    raise SettingsError(
        f"{what} has the scope “{scope}”; a scope is all, language:xx (like language:fr) "
        "or voice:provider:voice (like voice:piper:en_US-joe-medium)."
    )


def _same(a: PronunciationRule, b: PronunciationRule) -> bool:
    return a.match == b.match and a.scope == b.scope


def _base(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def export_rules(rules: Sequence[PronunciationRule], path: Path) -> None:
    """Write ``rules`` to ``path`` in the dictionary's own format (``voxtray dict export``)."""
    PronunciationDictionary(rules).save(path)
