"""Streaming segmentation: offsets, first clause, sentences, long text, bounded memory."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from itertools import pairwise

import pysbd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from voxtray.core.model import Segment, SegmentKind
from voxtray.core.text.segment import Segmenter, segment_text

PROSE = (
    "Dr. Smith went to Washington on Monday. He said that pi is about 3.14, e.g. in "
    "geometry, and that the U.S. Senate agreed. Did it rain? It did!\n\n"
    "A new paragraph starts here, and it goes on for a while; it has clauses: several "
    "of them — with dashes – too. The last sentence ends here.\n"
)


def segments(
    text: str | Sequence[str],
    max_chars: int = 250,
    *,
    first_clause_chars: int = 60,
    long_sentence_chars: int | None = None,
    language: str = "en",
) -> list[Segment]:
    pieces = [text] if isinstance(text, str) else text
    return list(
        segment_text(
            pieces,
            max_chars=max_chars,
            first_clause_chars=first_clause_chars,
            long_sentence_chars=long_sentence_chars,
            language=language,
        )
    )


def texts(
    text: str,
    max_chars: int = 250,
    *,
    first_clause_chars: int = 60,
    long_sentence_chars: int | None = None,
    language: str = "en",
) -> list[str]:
    result = segments(
        text,
        max_chars,
        first_clause_chars=first_clause_chars,
        long_sentence_chars=long_sentence_chars,
        language=language,
    )
    return [s.text for s in result]


def check_invariants(source: str, result: list[Segment], max_chars: int) -> None:
    """What every caller relies on, whatever the input."""
    previous_end = 0
    for number, segment in enumerate(result):
        assert segment.index == number
        assert source[segment.start : segment.end] == segment.text
        assert segment.text
        assert segment.text == segment.text.strip()
        assert len(segment.text) <= max_chars
        gap = source[previous_end : segment.start]
        assert gap.strip() == "", f"text lost before segment {number}: {gap!r}"
        previous_end = segment.end
    assert source[previous_end:].strip() == ""


# -- trivial inputs -------------------------------------------------------------------


@pytest.mark.parametrize("source", ["", " ", "\n\n\t  \n", "\u3000\u2028 "])
def test_nothing_to_say_yields_nothing(source: str) -> None:
    assert segments(source) == []
    assert segments(list(source)) == []


def test_one_word() -> None:
    assert segments("  hello \n") == [Segment(0, "hello", 2, 7, SegmentKind.PARAGRAPH)]


def test_no_pieces_at_all() -> None:
    assert list(segment_text(iter([]), max_chars=100)) == []


@pytest.mark.parametrize(
    "options",
    [
        {"max_chars": 0},
        {"max_chars": 10, "first_clause_chars": 0},
        {"max_chars": 10, "long_sentence_chars": 0},
    ],
)
def test_nonsense_limits_are_refused(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Segmenter(**options)


def test_feed_after_close_is_refused() -> None:
    segmenter = Segmenter(max_chars=100)
    list(segmenter.close())
    with pytest.raises(ValueError, match="after close"):
        list(segmenter.feed("more"))


# -- the first clause -----------------------------------------------------------------


def test_first_segment_is_the_first_clause() -> None:
    result = segments(
        "When the narrator starts reading a long document, the first clause goes out alone."
    )
    assert result[0] == Segment(
        0, "When the narrator starts reading a long document,", 0, 49, SegmentKind.CLAUSE
    )
    assert result[1].text == "the first clause goes out alone."
    assert result[1].kind is SegmentKind.PARAGRAPH  # the end of the text


def test_a_short_first_sentence_is_not_cut() -> None:
    assert texts("Hello, world. This is the second sentence.") == [
        "Hello, world.",
        "This is the second sentence.",
    ]
    assert segments("Hi. Then more.")[0].kind is SegmentKind.SENTENCE


def test_a_clause_shorter_than_fifteen_characters_is_not_cut() -> None:
    first = segments("Well, this sentence goes on and on without stopping for quite a while now.")
    assert first[0].text != "Well,"
    assert len(first[0].text) <= 60


def test_first_clause_without_punctuation_ends_at_a_word() -> None:
    source = "this text has no punctuation at all and simply keeps going word after word forever"
    first = segments(source)[0]
    assert first.kind is SegmentKind.CLAUSE
    assert len(first.text) <= 60
    assert source[first.end] == " "  # cut between words, never inside one
    assert first.text == "this text has no punctuation at all and simply keeps going"


def test_first_clause_of_text_without_spaces_is_cut_hard() -> None:
    source = "x" * 500
    result = segments(source, max_chars=100)
    assert result[0] == Segment(0, "x" * 60, 0, 60, SegmentKind.CLAUSE)
    check_invariants(source, result, 100)


def test_first_clause_limit_is_configurable() -> None:
    result = segments("one two three four five six seven eight nine ten", first_clause_chars=20)
    assert result[0].text == "one two three four"


def test_first_clause_respects_a_small_max_chars() -> None:
    result = segments("A long sentence with many words in it, going on.", max_chars=10)
    check_invariants("A long sentence with many words in it, going on.", result, 10)


# -- sentences ------------------------------------------------------------------------


def test_abbreviations_and_numbers_do_not_end_sentences() -> None:
    source = (
        "Intro. Dr. Smith met Mr. Jones at 3.14 p.m. in the U.S. capital yesterday. "
        "They ate e.g. apples and pears. Done."
    )
    assert texts(source) == [
        "Intro.",
        "Dr. Smith met Mr. Jones at 3.14 p.m. in the U.S. capital yesterday.",
        "They ate e.g. apples and pears.",
        "Done.",
    ]


def test_ellipses_exclamations_and_quotes() -> None:
    assert texts('Start. Really?! No way... "I told you so." she said.') == [
        "Start.",
        "Really?!",
        'No way... "I told you so." she said.',  # the quote belongs to the sentence around it
    ]
    assert texts('He left. "Go home." Then silence.') == ["He left.", '"Go home."', "Then silence."]
    assert texts("He said “stop.” Then he left.") == ["He said “stop.”", "Then he left."]


def test_paragraph_break_ends_a_sentence_and_single_newlines_stay_inside() -> None:
    source = (
        "Intro.\n\nA heading without punctuation\n\nThis sentence is\nwrapped over\nthree lines."
    )
    result = segments(source)
    assert [s.text for s in result] == [
        "Intro.",
        "A heading without punctuation",
        "This sentence is\nwrapped over\nthree lines.",
    ]
    assert all(s.kind is SegmentKind.PARAGRAPH for s in result)


def test_the_last_sentence_of_each_paragraph_ends_a_paragraph() -> None:
    source = (
        "A first sentence is here. A second one follows it.\n\n"
        "The next paragraph begins. It has two sentences too.\n\nLast."
    )
    result = segments(source, first_clause_chars=200)
    kinds = {s.text: s.kind for s in result}
    assert kinds == {
        "A first sentence is here.": SegmentKind.SENTENCE,
        "A second one follows it.": SegmentKind.PARAGRAPH,
        "The next paragraph begins.": SegmentKind.SENTENCE,
        "It has two sentences too.": SegmentKind.PARAGRAPH,
        "Last.": SegmentKind.PARAGRAPH,
    }
    assert all(kind.ends_sentence for kind in kinds.values())


def test_list_items_are_their_own_segments() -> None:
    source = "Shopping.\n\n- eggs\n- flour\n* milk\n1. first\n2) second\n\nEnd of list"
    assert texts(source) == [
        "Shopping.",
        "- eggs",
        "- flour",
        "* milk",
        "1. first",
        "2) second",
        "End of list",
    ]


def test_crlf_line_ends_are_understood() -> None:
    source = "Title\r\n\r\nFirst line\r\ncontinues here. Second."
    assert texts(source) == ["Title", "First line\r\ncontinues here.", "Second."]


def test_cjk_emoji_and_combining_marks() -> None:
    source = "这是第一句。这是第二句，有一个逗号。😀 Emoji sentence here! Cafe\u0301 au lait."
    result = segments(source)
    check_invariants(source, result, 250)
    assert "Cafe\u0301 au lait." in [s.text for s in result]
    assert result[0].text == "这是第一句。"


def test_hard_cut_keeps_combining_marks_with_their_letter() -> None:
    source = "e\u0301" * 300  # no spaces, and every other code point is a combining mark
    result = segments(source, max_chars=101)
    check_invariants(source, result, 101)
    for segment in result:
        assert segment.text[0] != "\u0301", "a combining mark was cut off its letter"


def test_language_tag_variants_and_unknown_languages() -> None:
    source = "Herr Dr. Müller kam am Montag. Er blieb lange."
    assert texts(source, language="de-DE") == texts(source, language="de")
    assert texts("One thing. Another.", language="tlh") == ["One thing.", "Another."]


# -- long sentences -------------------------------------------------------------------


def test_long_sentence_is_split_at_clauses_first() -> None:
    clause = "this clause is a little over forty chars"
    sentence = "Start. " + ", ".join([clause] * 12) + "."
    result = segments(sentence, max_chars=1000, long_sentence_chars=100)
    check_invariants(sentence, result, 1000)
    body = result[1:]
    assert all(len(s.text) <= 100 for s in body)
    assert all(s.text.endswith(",") for s in body[:-1]), [s.text for s in body]
    assert [s.kind for s in body] == [SegmentKind.PART] * (len(body) - 1) + [SegmentKind.PARAGRAPH]


def test_long_sentence_without_clauses_is_split_between_words() -> None:
    sentence = "Start. " + "word " * 300 + "end."
    result = segments(sentence, max_chars=200)
    check_invariants(sentence, result, 200)
    for segment in result[1:]:
        assert set(segment.text.split()) <= {"word", "end."}
    tails = [len(s.text) for s in result[1:]]
    assert min(tails) > 100, f"parts should be even, not a long run and a stub: {tails}"


def test_long_sentence_default_threshold_is_300() -> None:
    sentence = "Start. " + "word " * 100 + "end."  # 505 chars, under max_chars
    result = segments(sentence, max_chars=5000)
    assert all(len(s.text) <= 300 for s in result)
    assert len(result) == 3


def test_line_without_spaces_is_cut_hard_at_max_chars() -> None:
    source = "Start. " + "y" * 10_000 + " end."
    result = segments(source, max_chars=500)
    check_invariants(source, result, 500)
    parts = [s for s in result if "y" in s.text]
    assert [len(s.text) for s in parts[:-1]] == [500] * (len(parts) - 1)
    assert all(s.kind is SegmentKind.PART for s in parts[:-1])


def test_huge_max_chars_with_text_without_spaces() -> None:
    source = "z" * 12_000
    result = segments(source, max_chars=5000, long_sentence_chars=5000)
    check_invariants(source, result, 5000)


# -- streaming ------------------------------------------------------------------------


def test_piece_boundaries_do_not_change_the_result() -> None:
    source = PROSE * 40
    whole = segments(source)
    check_invariants(source, whole, 250)
    for size in (1, 7, 100, 4096):
        pieces = [source[i : i + size] for i in range(0, len(source), size)]
        assert segments(pieces) == whole, f"pieces of {size}"


def test_first_segments_come_out_before_the_rest_of_the_text_arrives() -> None:
    class SourceBrokeError(Exception):
        pass

    def pieces() -> Iterator[str]:
        yield "Hello there, this is a streaming test "
        yield "of the segmenter. It should not wait for the end. "
        yield "It has more sentences to come, many more. And more. "
        yield "Another one arrives later, after a pause. And yet another one here. "
        raise SourceBrokeError

    received: list[Segment] = []

    def consume() -> None:
        for segment in segment_text(pieces(), max_chars=250):
            received.append(segment)

    with pytest.raises(SourceBrokeError):
        consume()
    assert [s.text for s in received[:3]] == [
        "Hello there,",
        "this is a streaming test of the segmenter.",
        "It should not wait for the end.",
    ]


def test_trickled_text_gives_the_first_clause_early() -> None:
    segmenter = Segmenter(max_chars=250)
    out: list[Segment] = []
    text = "This is the first clause, and the rest of the sentence follows it slowly, word by word."
    fed = 0
    for char in text:
        fed += 1
        out.extend(segmenter.feed(char))
        if out:
            break
    assert out[0].text == "This is the first clause,"
    # It waited only to see whether the sentence ends within first_clause_chars (60).
    assert fed <= 60 + 16


def test_buffer_stays_bounded_on_a_long_stream() -> None:
    segmenter = Segmenter(max_chars=250)
    bound = 4 * 4096
    total = emitted = highest = 0
    paragraph = PROSE + "no punctuation here " * 50 + "\n\n" + "q" * 3000 + "\n"
    for number in range(150):  # about 600 KB in pieces of many sizes
        piece = paragraph[: 37 + number * 13 % len(paragraph)]
        total += len(piece)
        for segment in segmenter.feed(piece):
            emitted += len(segment.text)
        highest = max(highest, segmenter.buffered_chars)
    for segment in segmenter.close():
        emitted += len(segment.text)
    assert highest <= bound
    assert emitted > 0.9 * total


def test_one_huge_piece_is_taken_a_window_at_a_time() -> None:
    segmenter = Segmenter(max_chars=250)
    highest = 0
    count = 0
    for _segment in segmenter.feed(PROSE * 1000):  # about 240 KB in one piece
        highest = max(highest, segmenter.buffered_chars)
        count += 1
    assert count > 300
    assert highest <= 4 * 4096


def test_analysis_work_is_linear_in_the_input(monkeypatch: pytest.MonkeyPatch) -> None:
    analysed = 0
    original = pysbd.Segmenter.processor

    def counting(self: pysbd.Segmenter, text: str) -> object:
        nonlocal analysed
        analysed += len(text)
        return original(self, text)

    monkeypatch.setattr(pysbd.Segmenter, "processor", counting)
    sources = [(PROSE * 200, 50_000), (PROSE * 200, 1), ("Word. " + "word " * 40_000, 3)]
    for source, size in sources:
        analysed = 0
        pieces = [source[i : i + size] for i in range(0, len(source), size)]
        assert segments(pieces)
        assert 0 < analysed <= 3 * len(source), f"{analysed / len(source):.1f}x, pieces of {size}"


@pytest.mark.slow
def test_throughput_on_two_megabytes() -> None:
    source = PROSE * (2_000_000 // len(PROSE))
    pieces = (source[i : i + 65536] for i in range(0, len(source), 65536))
    started = time.perf_counter()
    count = sum(1 for _ in segment_text(pieces, max_chars=250))
    elapsed = time.perf_counter() - started
    rate = len(source) / elapsed
    print(f"\nsegmented {len(source)} chars into {count} segments: {rate:,.0f} chars/s")
    assert rate > 50_000


# -- the offset invariant, on anything --------------------------------------------------

_ALPHABET = st.sampled_from(
    list("abcdefgh ABC   xyz")
    + list("\n\n\t\r,;:.!?…—–-'\"”“()")
    + ["Dr.", "e.g.", "3.14", "U.S.", "...", "?!", "\n\n", "- ", "1. "]
    + ["https://x.org/a?b=1!c", "example.com/d?e", "ada@b.org"]
    + list("éü中文字😀👍🏽\u0301\u200d\u3000\u2028")
)


@st.composite
def split_text(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = "".join(draw(st.lists(_ALPHABET, max_size=400)))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in pairwise(bounds)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=split_text(),
    max_chars=st.integers(1, 120),
    first=st.integers(1, 80),
    long=st.one_of(st.none(), st.integers(1, 150)),
)
def test_offsets_always_reconstruct_the_source(
    sample: tuple[str, list[str]], max_chars: int, first: int, long: int | None
) -> None:
    text, pieces = sample
    result = list(
        segment_text(
            pieces, max_chars=max_chars, first_clause_chars=first, long_sentence_chars=long
        )
    )
    check_invariants(text, result, max_chars)


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=300),
    size=st.integers(1, 5000),
)
def test_offsets_on_arbitrary_unicode(words: list[str], size: int) -> None:
    text = " ".join(words)
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    check_invariants(text, list(segment_text(pieces, max_chars=80)), 80)


def test_a_short_clause_beats_a_cut_between_words() -> None:
    text = "Hello there, this is a rather long first sentence of the text."
    result = segments(text, first_clause_chars=40)
    assert [s.text for s in result] == [
        "Hello there,",
        "this is a rather long first sentence of the text.",
    ]
