"""Caption and chapter-list formats, exactly as players read them."""

from __future__ import annotations

from voxtray.core.captions import chapter_list, chapter_times, to_lrc, to_srt


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
