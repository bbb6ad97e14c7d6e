"""The pronunciation dictionary: matching, scopes, the map back, the file, and bad rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from voxtray.core.errors import SettingsError
from voxtray.core.model import VoiceRef
from voxtray.core.text.dictionary import PronunciationDictionary, PronunciationRule
from voxtray.core.text.prepare import SegmentContext, TextPreparer

PIPER = VoiceRef("piper", "en_US-joe-medium")


def apply(rules: list[PronunciationRule], text: str, **where: object) -> str:
    return PronunciationDictionary(rules).apply(text, **where)[0]  # type: ignore[arg-type]


def test_whole_words_and_case() -> None:
    rule = PronunciationRule("Nginx", "engine x")
    assert apply([rule], "nginx and Nginxes and NGINX") == "engine x and Nginxes and engine x"
    exact = PronunciationRule("US", "United States", case_sensitive=True)
    assert apply([exact], "US, us and USB") == "United States, us and USB"
    inside = PronunciationRule("colour", "color", whole_word=False)
    assert apply([inside], "colourful") == "colorful"


def test_regex_rules_use_groups() -> None:
    rule = PronunciationRule(r"(\d+)x", r"\1 times", regex=True)
    assert apply([rule], "zoom 4x now") == "zoom 4 times now"


def test_rules_apply_in_order_each_to_the_result() -> None:
    rules = [PronunciationRule("a", "b"), PronunciationRule("b", "c")]
    assert apply(rules, "a b") == "c c"


def test_scopes() -> None:
    french = PronunciationRule("chat", "cha", scope="language:fr")
    joe = PronunciationRule("Joe", "Joseph", scope="voice:piper:en_US-joe-medium")
    any_piper = PronunciationRule("tom", "Thomas", scope="voice:piper")
    rules = [french, joe, any_piper]
    assert apply(rules, "chat Joe tom", language="fr", voice=None) == "cha Joe tom"
    assert apply(rules, "chat Joe tom", language="en", voice=PIPER) == "chat Joseph Thomas"
    other = VoiceRef("elevenlabs", "Rachel")
    assert apply(rules, "chat Joe tom", language="en", voice=other) == "chat Joe tom"


def test_the_map_points_back_into_the_source() -> None:
    text = "Ask Nginx now"
    rewritten, offsets = PronunciationDictionary([PronunciationRule("Nginx", "engine x")]).apply(
        text
    )
    assert rewritten == "Ask engine x now"
    assert offsets.source_offset(rewritten.index("x now")) == text.index("Nginx")
    assert offsets.source_offset(rewritten.index("now")) == text.index("now")
    assert offsets.source_offset(len(rewritten)) == len(text)


def test_the_dictionary_composes_with_the_speakable_pass() -> None:
    preparer = TextPreparer(
        dictionary=PronunciationDictionary([PronunciationRule("SQL", "sequel")])
    )
    text = "SQL costs $5 now"
    spoken = preparer.prepare(text, provider="piper", context=SegmentContext("en"))
    assert spoken.text == "sequel costs five dollars now"
    assert spoken.source_offset(spoken.text.index("dollars")) == text.index("$")
    assert spoken.source_offset(spoken.text.index("now")) == text.index("now")
    cloud = preparer.prepare(text, provider="elevenlabs", context=SegmentContext("en"))
    assert cloud.text == "sequel costs $5 now"  # the rules apply to every provider


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"match": "a(", "replace": "b", "regex": True}, "not a valid regular expression"),
        ({"match": "x*", "replace": "y", "regex": True, "whole_word": False}, "empty text"),
        ({"match": "a", "replace": r"\2", "regex": True}, "bad replacement"),
        ({"match": "a", "replace": "b", "scope": "planet:mars"}, "scope"),
        ({"match": "", "replace": "b"}, "something to match"),
    ],
)
def test_bad_rules_are_refused_by_name(rule: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        PronunciationRule(**rule)  # type: ignore[arg-type]
    if rule["match"]:
        assert str(rule["match"]) in str(caught.value)


def test_add_list_remove_save_load(tmp_path: Path) -> None:
    path = tmp_path / "pronunciation.toml"
    dictionary = PronunciationDictionary()
    assert dictionary.add(PronunciationRule("Nginx", "engine x")) == 1
    assert dictionary.add(PronunciationRule(r"(\d+)x", r"\1 times", regex=True)) == 2
    assert dictionary.add(PronunciationRule("Nginx", "engine ex")) == 1  # same match: replaced
    dictionary.save(path)
    loaded = PronunciationDictionary.load(path)
    assert loaded.rules == dictionary.rules
    assert loaded.remove("1").match == "Nginx"
    assert loaded.remove(r"(\d+)x").regex
    with pytest.raises(SettingsError, match="no rule 3"):
        loaded.remove("3")
    with pytest.raises(SettingsError, match="No rule matches"):
        loaded.remove("nothing")


def test_a_broken_file_names_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "pronunciation.toml"
    path.write_text(
        '[[rule]]\nmatch = "ok"\nreplace = "fine"\n\n'
        '[[rule]]\nmatch = "a("\nreplace = "b"\nregex = true\n'
    )
    with pytest.raises(SettingsError, match=r"rule 2: The rule for “a\(”"):
        PronunciationDictionary.load(path)
    path.write_text('[[rule]]\nmatch = "x"\nreplace = "y"\ncolour = "blue"\n')
    with pytest.raises(SettingsError, match="unknown keys: colour"):
        PronunciationDictionary.load(path)
    assert PronunciationDictionary.load(tmp_path / "missing.toml").rules == ()
