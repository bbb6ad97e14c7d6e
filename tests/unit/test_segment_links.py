"""Links are never cut across segments, so the voice says "link to example dot com" once."""

from __future__ import annotations

import pytest
from voxtray.core.model import Segment, SegmentKind
from voxtray.core.text.segment import segment_text
from voxtray.core.text.speakable import make_speakable

INTRO = "This first sentence is long enough to be cut as a clause. "


def segments(text: str, max_chars: int = 400, piece: int | None = None) -> list[Segment]:
    size = piece or max(len(text), 1)
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    return list(segment_text(pieces, max_chars=max_chars))


def spoken(text: str, max_chars: int = 400) -> list[str]:
    """What the local voice is given, segment by segment, as the narrator prepares it."""
    return [
        make_speakable(s.text, expand=True, code="announce", emoji="name").text
        for s in segments(text, max_chars)
    ]


@pytest.mark.parametrize(
    "link",
    [
        "https://www.example.com/path?q=1",
        "https://example.com/a.b!c?d=1&e=2#frag",
        "https://example.com/?a=Why?Really",
        "http://example.com/Hello.World!Again",
        "www.example.com/search?q=what?",
        "example.com/docs?x=1",
        "ada.lovelace@example.co.uk",
    ],
)
@pytest.mark.parametrize("where", ["start", "middle"])
def test_a_link_is_never_split_across_segments(link: str, where: str) -> None:
    text = f"Read {link} for details. Then more."
    if where == "middle":
        text = INTRO + text
    result = segments(text)
    assert any(link in s.text for s in result), [s.text for s in result]
    for size in (1, 5, 64):
        assert segments(text, piece=size) == result, f"pieces of {size}"


def test_a_link_with_a_question_mark_is_said_once_and_whole() -> None:
    said = spoken("Read https://www.example.com/path?q=1 for details.")
    assert " ".join(said) == "Read link to example dot com for details."
    said = spoken(INTRO + "Read https://www.example.com/path?q=1 for details. Then more.")
    joined = " ".join(said)
    assert joined.count("link to example dot com") == 1
    assert "q=" not in joined and "one" not in joined


def test_a_sentence_ending_right_after_a_link_still_ends() -> None:
    texts = [s.text for s in segments(INTRO + "Read https://example.com/path?q=1. Then more.")]
    assert texts[-2:] == ["Read https://example.com/path?q=1.", "Then more."]
    texts = [s.text for s in segments(INTRO + "Is it example.com? Yes, it is.")]
    assert texts[-2:] == ["Is it example.com?", "Yes, it is."]


def test_a_text_opening_with_a_long_link_starts_with_the_whole_link() -> None:
    link = "https://example.com/a/rather/long/path/to/a/page?with=a&query=string"
    text = f"{link} is where it is. Then more."
    result = segments(text)
    assert result[0] == Segment(0, link, 0, len(link), SegmentKind.CLAUSE)
    assert segments(text, piece=1) == result
    only = segments(link)
    assert [(s.text, s.kind) for s in only] == [(link, SegmentKind.PARAGRAPH)]


def test_a_link_longer_than_max_chars_is_still_cut_hard() -> None:
    link = "https://example.com/" + "a" * 300 + "?q=1"
    result = segments(INTRO + link + " done.", max_chars=100)
    assert all(len(s.text) <= 100 for s in result)
    assert "".join(s.text for s in result[2:]).startswith(link)


@pytest.mark.parametrize(
    "sentence",
    [
        "They ate fruit, e.g. apples, i.e. the red ones.",
        "Pi is 3.14 and the release is v1.2.3 today.",
        "The server at 192.168.0.1 ran file.txt for Mr.Smith quickly.",
    ],
)
def test_abbreviations_numbers_and_versions_stay_in_their_sentence(sentence: str) -> None:
    assert [s.text for s in segments(INTRO + sentence + " Next one.")][-2:] == [
        sentence,
        "Next one.",
    ]
