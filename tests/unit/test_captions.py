"""Caption and chapter-list formats, exactly as players read them."""

from __future__ import annotations

import pytest
from voxtray.core.captions import CUE_CHARS, chapter_list, chapter_times, cues, to_lrc, to_srt


def test_srt_numbers_from_one_with_comma_millis_and_blank_lines() -> None:
    entries = [(0.0, 1.5, "Hello  there,\nworld."), (1.5, 3723.0456, "Next.")]
    assert to_srt(entries) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there, world.\n"
        "\n"
        "2\n00:00:01,500 --> 01:02:03,046\nNext.\n"
    )


def test_srt_leaves_out_empty_texts_and_keeps_numbering() -> None:
    entries = [(0.0, 1.0, "One."), (1.0, 2.0, "  \n"), (2.0, 3.0, "Two.")]
    assert to_srt(entries) == (
        "1\n00:00:00,000 --> 00:00:01,000\nOne.\n\n2\n00:00:02,000 --> 00:00:03,000\nTwo.\n"
    )


def test_srt_of_nothing_is_empty() -> None:
    assert to_srt([]) == ""
    assert to_lrc([]) == ""


def test_lrc_uses_minutes_seconds_and_hundredths() -> None:
    entries = [(0.0, 1.0, "One."), (61.234, 62.0, "Two\nlines."), (3725.5, 3726.0, "Late.")]
    assert to_lrc(entries) == "[00:00.00]One.\n[01:01.23]Two lines.\n[62:05.50]Late.\n"


def test_chapter_list_lines() -> None:
    text = chapter_list([(0.0, "Opening"), (3661.0015, "The  second\npart")])
    assert text == "00:00:00.000 Opening\n01:01:01.002 The second part\n"


def test_chapter_times_start_at_the_segment_holding_the_offset() -> None:
    segments = [(0, 13, 0.0), (15, 41, 0.52), (43, 57, 1.56), (59, 73, 2.24)]
    chapters = [("One", 0), ("Two", 59), ("Between", 14), ("After the end", 100)]
    assert chapter_times(chapters, segments) == [(0.0, "One"), (2.24, "Two"), (0.52, "Between")]


SENTENCE = "The quick brown fox jumps over the lazy dog while the farmer watches from his porch."
"""84 characters: two or three cues of at most 42."""


def test_an_aligned_segment_is_cut_into_cues_timed_by_the_voice() -> None:
    # The voice says the first 40 characters in 1 s, then the rest slower: 44 more in 4 s.
    alignment = [(20, 10.5), (40, 11.0), (62, 13.0), (84, 15.0)]
    entries = cues(10.0, 15.2, SENTENCE, alignment)
    assert [text for _start, _end, text in entries] == [
        "The quick brown fox jumps over the lazy",
        "dog while the farmer watches from his",
        "porch.",
    ]
    assert " ".join(text for _s, _e, text in entries) == SENTENCE
    assert all(len(text) <= CUE_CHARS for _s, _e, text in entries)
    dog, porch = SENTENCE.index("dog"), SENTENCE.index("porch")
    assert entries[0][:2] == (10.0, pytest.approx(11.0 + 2.0 * (dog - 40) / 22))
    assert entries[1][:2] == (
        pytest.approx(11.0 + 2.0 * (dog - 40) / 22),
        pytest.approx(13.0 + 2.0 * (porch - 62) / 22),
    )
    assert entries[2][:2] == (pytest.approx(13.0 + 2.0 * (porch - 62) / 22), 15.2)


def test_without_alignment_inside_the_text_a_segment_stays_one_caption() -> None:
    assert cues(1.0, 6.0, SENTENCE, []) == [(1.0, 6.0, SENTENCE)]
    # Cached audio: one point, at the end of the text, says nothing of the words in it.
    assert cues(1.0, 6.0, SENTENCE, [(len(SENTENCE), 5.5)]) == [(1.0, 6.0, SENTENCE)]
    assert cues(1.0, 2.0, "Short.", [(3, 1.5), (6, 2.0)]) == [(1.0, 2.0, "Short.")]


def test_cue_times_stay_in_the_segment_and_in_order() -> None:
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis is a word longer than a cue."
    entries = cues(2.0, 3.0, word, [(30, 2.2), (60, 9.0)])  # a point past the segment's end
    assert entries[0][2].startswith("Pneumono") and len(entries[0][2]) > CUE_CHARS
    starts = [start for start, _end, _text in entries]
    assert starts == sorted(starts) and starts[0] == 2.0
    assert all(2.0 <= start <= 3.0 for start in starts) and entries[-1][1] == 3.0
