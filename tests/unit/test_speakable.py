"""The speakable pass: each rule, the offset map back to the source, and robustness."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from voxtray.core.text.offsets import OffsetMap, OffsetMapBuilder
from voxtray.core.text.speakable import code_block_open_after, make_speakable


def say(text: str, **options: object) -> str:
    kwargs: dict[str, object] = {"expand": True, "code": "announce", "emoji": "name"}
    kwargs.update(options)
    return make_speakable(text, **kwargs).text  # type: ignore[arg-type]


EXPANDED = [
    # URLs and e-mail
    ("See https://www.example.com/path?x=1 now.", "See link to example dot com now."),
    ("Go to www.python.org.", "Go to link to python dot org."),
    ("Write to ada.l@example.org today", "Write to ada dot l at example dot org today"),
    ("Read example.com/docs now.", "Read link to example dot com now."),
    ("Visit www.example.org.", "Visit link to example dot org."),
    ("Visit WWW.Example.org", "Visit link to Example dot org"),
    ("Is it example.com? Yes", "Is it link to example dot com? Yes"),
    ("(see docs.python.org/3/)", "(see link to docs dot python dot org)"),
    ("at shop.example.co.uk:8080/a?b=1", "at link to shop dot example dot co dot uk"),
    # numbers
    ("1,234 people", "one thousand two hundred thirty-four people"),
    ("It is 3.5 now", "It is three point five now"),
    ("the 3rd try", "the third try"),
    ("the 21st day", "the twenty-first day"),
    ("in 1999 it rained", "in nineteen ninety-nine it rained"),
    ("1999 apples", "one thousand nine hundred ninety-nine apples"),
    ("the 1990s", "the nineteen nineties"),
    ("it fell to -5 today", "it fell to minus five today"),
    # dates and times
    ("On 2026-11-21.", "On November twenty-first, twenty twenty-six."),
    ("On November 21, 2026.", "On November twenty-first, twenty twenty-six."),
    ("at 10:30", "at ten thirty"),
    ("at 10:05 pm", "at ten oh five p m"),
    ("at 7:00", "at seven o'clock"),
    # currency
    ("$5.20", "five dollars and twenty cents"),
    ("€3", "three euros"),
    ("£1m", "one million pounds"),
    ("$1", "one dollar"),
    ("$0.50", "fifty cents"),
    ("$2.5bn", "two point five billion dollars"),
    # units
    ("5 km", "five kilometers"),
    ("3.5 kg", "three point five kilograms"),
    ("1 km", "one kilometer"),
    ("20°C", "twenty degrees Celsius"),
    ("50%", "fifty percent"),
    ("5m long", "five meters long"),
    # abbreviations
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("and so on, etc.", "and so on, et cetera."),
    # things left alone
    ("version 1.2.3 and mp3 and 3D", "version 1.2.3 and mp3 and 3D"),
    ("2026-13-45", "2026-13-45"),
]

ALWAYS = [
    ("Wow!!! Really?!?!", "Wow! Really?!"),
    ("Hmm.... ok", "Hmm… ok"),
    ("above\n\n----\n\nbelow", "above below"),
    ("a **bold** move", "a bold move"),
    ("hi😀there", "hi grinning face there"),
    ("nice 👍🏽!", "nice thumbs up!"),
    ("go 🇫🇷", "go flag of France"),
    ("  lots   of\n\n space  ", "lots of space"),
    ("Run `make test` now.", "Run make test now."),
    ("Look:\n```python\nprint(1)\n```\nDone.", "Look: Code block. Done."),
]


@pytest.mark.parametrize(("text", "spoken"), EXPANDED)
def test_expanded_for_the_local_voice(text: str, spoken: str) -> None:
    assert say(text) == spoken


@pytest.mark.parametrize(("text", "spoken"), ALWAYS)
def test_rules_that_apply_for_every_voice(text: str, spoken: str) -> None:
    assert say(text, expand=True) == spoken
    assert say(text, expand=False) == spoken


@pytest.mark.parametrize(
    "text", ["$5.20", "1,234 people", "On 2026-11-21.", "at 10:30", "5 km", "the 3rd try"]
)
def test_a_normalizing_voice_gets_numbers_as_written(text: str) -> None:
    assert say(text, expand=False) == text


@pytest.mark.parametrize(
    "text",
    [
        "fruit, e.g. apples",
        "open file.txt and notes.md",
        "ask Mr.Smith",
        "run setup.py or main.rs or node.js",
        "the end.Next one",
        "the end.it was",
        "version v1.2.3",
        "/usr/share/example.com",
        "example.comma",
    ],
)
def test_what_only_looks_a_little_like_a_host_is_not_a_link(text: str) -> None:
    assert "link to" not in say(text, expand=False)


def test_urls_are_shortened_even_for_a_normalizing_voice() -> None:
    assert say("at https://example.com/a", expand=False) == "at link to example dot com"


@pytest.mark.parametrize(
    ("mode", "spoken"),
    [
        ("skip", "Look: Done."),
        ("announce", "Look: Code block. Done."),
        ("read", "Look: x = 1 Done."),
    ],
)
def test_code_blocks_follow_the_setting(mode: str, spoken: str) -> None:
    assert say("Look:\n```\nx = 1\n```\nDone.", code=mode) == spoken


def test_inline_code_is_dropped_when_skipping() -> None:
    assert say("Run `make test` now.", code="skip") == "Run now."


def test_a_segment_inside_an_open_block_is_skipped_up_to_its_end() -> None:
    assert say("x = 1\n```\nAfter it.", code="announce", in_code_block=True) == "After it."
    assert say("x = 1\n```\nAfter it.", code="read", in_code_block=True) == "x = 1 After it."
    assert code_block_open_after("text\n```py\ncode") is True
    assert code_block_open_after("more code\n```\n", open_before=True) is False


def test_emoji_can_be_dropped() -> None:
    assert say("nice 😀 day", emoji="drop") == "nice day"
    assert say("done😀.", emoji="drop") == "done."


def test_numbers_follow_the_language() -> None:
    spoken = say("Il y a 1\u202f234,5 personnes.", language="fr")
    assert spoken == "Il y a mille deux cent trente-quatre virgule cinq personnes."
    assert say("Es sind 21 Leute.", language="de") == "Es sind einundzwanzig Leute."
    assert say("Le 1er mai", language="fr") == "Le premier mai"


def test_a_language_num2words_does_not_know_keeps_its_digits() -> None:
    assert say("42 😀", language="xx") == "42 grinning face"


# -- the offset map -----------------------------------------------------------------------------

MAPPED = [
    ("It costs $5.20, see https://example.com/x now.", ["$5.20", "https://example.com/x"]),
    ("On 2026-11-21 at 10:30 we met 1,234 people 😀!!!", ["2026-11-21", "10:30", "1,234", "😀"]),
    ("plain   words\nonly", []),
]


@pytest.mark.parametrize(("text", "tokens"), MAPPED)
def test_every_spoken_index_maps_into_the_right_source_token(text: str, tokens: list[str]) -> None:
    spoken = make_speakable(text, expand=True, code="announce", emoji="name")
    spans = [(text.index(t), text.index(t) + len(t)) for t in tokens]
    for index, char in enumerate(spoken.text):
        source = spoken.source_offset(index)
        assert 0 <= source <= len(text)
        inside = [span for span in spans if span[0] <= source < span[1]]
        if inside:
            assert source == inside[0][0]  # an expansion maps to the start of what it replaced
        elif not char.isspace() and char in text:
            assert text[source] == char  # copied text maps character for character
    assert spoken.source_offset(len(spoken.text)) == len(text)


def test_expansions_map_to_their_token() -> None:
    text = "Pay $5.20 now"
    spoken = make_speakable(text, expand=True, code="skip", emoji="drop")
    assert spoken.text == "Pay five dollars and twenty cents now"
    twenty = spoken.text.index("twenty")
    assert spoken.source_offset(twenty) == text.index("$")
    assert spoken.source_offset(spoken.text.index("now")) == text.index("now")


def test_maps_compose_through_a_chain() -> None:
    builder = OffsetMapBuilder(6)
    builder.copy("ab", 0)
    builder.replace("XYZ", 2)
    builder.copy("ef", 4)
    text, outer = builder.build()
    assert text == "ab XYZ ef"
    inner = OffsetMap([0, 2], [0, 10], [True, False], out_len=6, src_len=20)
    chained = outer.then(inner)
    assert [chained.source_offset(i) for i in range(len(text) + 1)] == [
        0, 1, 10, 10, 10, 10, 10, 10, 10, 20,
    ]  # fmt: skip
    assert chained.source_length == 20


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(
            [
                *"abc XYZ 0123456789.,:;-$€£%°!?`*_#~@/\n\t",
                "😀",
                "👍🏽",
                "https://",
                "www.",
                "```",
                "km",
                "st",
                "th",
                "e.g.",
                "\u202f",
            ]
        )
        | st.characters(),
        max_size=80,
    ).map("".join),
    expand=st.booleans(),
    code=st.sampled_from(["skip", "announce", "read"]),
    emoji=st.sampled_from(["name", "drop"]),
    language=st.sampled_from(["en", "fr", "de", "ja", "xx"]),
    in_code_block=st.booleans(),
)
def test_any_text_is_handled_and_the_map_is_monotonic(
    text: str, expand: bool, code: str, emoji: str, language: str, in_code_block: bool
) -> None:
    spoken = make_speakable(
        text,
        expand=expand,
        code=code,  # type: ignore[arg-type]
        emoji=emoji,  # type: ignore[arg-type]
        language=language,
        in_code_block=in_code_block,
    )
    assert spoken.text == spoken.text.strip()
    assert not re.search(r"\s\s", spoken.text)
    offsets = [spoken.source_offset(i) for i in range(len(spoken.text) + 1)]
    assert offsets == sorted(offsets)
    assert all(0 <= offset <= len(text) for offset in offsets)
    assert offsets[-1] == len(text)


def test_a_long_text_takes_linear_time() -> None:
    import time

    unit = "On 2026-11-21 it cost $5.20 (see https://example.com) 😀!!! 1,234 km. "
    started = time.perf_counter()
    make_speakable(unit * 50, expand=True, code="announce", emoji="name")
    small = time.perf_counter() - started
    started = time.perf_counter()
    make_speakable(unit * 500, expand=True, code="announce", emoji="name")
    large = time.perf_counter() - started
    assert large < small * 10 * 3 + 0.05


@pytest.mark.parametrize("unit", ["a.", "1.", "a-", "-1", "e.g.", "ab.cd", "a.b.", "x"])
def test_runs_without_spaces_take_linear_time(unit: str) -> None:
    """A run without spaces is one long word: no pattern may retry it from each of its letters
    (an e-mail tried so made a 10,000 character segment of "a.a.a…" take seconds)."""
    import time

    def cost(chars: int) -> float:
        text = (unit * chars)[:chars]
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            make_speakable(text, expand=True, code="announce", emoji="name")
            best = min(best, time.perf_counter() - started)
        return best

    small, large = cost(2_000), cost(16_000)
    assert large < small * 8 * 2 + 0.005, f"{large / small:.0f}x the time for 8x the text"
