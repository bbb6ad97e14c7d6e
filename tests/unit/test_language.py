"""Language per segment, inheritance for short ones, and the voice for each language."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import langdetect.detector_factory as factory
import pytest
from voxtray.core.errors import SettingsError
from voxtray.core.model import VoiceRef
from voxtray.core.text.language import (
    LanguageTracker,
    LanguageVoices,
    VoiceChooser,
    detect_language,
    language_name,
    paragraphs,
    voice_for,
)

ENGLISH = "The quick brown fox jumps over the lazy dog while the farmer watches from the porch."
FRENCH = "Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde."
GERMAN = "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer zuschaut."
DEFAULT = VoiceRef("piper", "en_US-joe-medium")


@pytest.mark.parametrize(("text", "language"), [(ENGLISH, "en"), (FRENCH, "fr"), (GERMAN, "de")])
def test_paragraphs_are_detected(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_detection_is_deterministic() -> None:
    mixed = "Bonjour the world, this is ein Satz mixed up."
    assert len({detect_language(mixed, min_chars=10) for _ in range(5)}) == 1


def test_short_paragraphs_inherit_the_previous_language() -> None:
    tracker = LanguageTracker(min_chars=40, default="en")
    assert tracker.language_of("Oui.") == "en"  # nothing before: the default
    assert tracker.language_of(FRENCH) == "fr"
    assert tracker.language_of("Merci !") == "fr"
    assert tracker.language_of(GERMAN) == "de"
    assert tracker.language_of("12:30 — 14:00 " * 4) == "de"  # no letters: inherits


@pytest.mark.parametrize("junk", ["x" * 400, "a." * 200, "ha ha ha " * 20])
def test_text_with_hardly_any_letters_is_not_a_language(junk: str) -> None:
    """langdetect calls "xxxx…" Somali and "a.a.a…" Hungarian, slowly: it inherits instead."""
    tracker = LanguageTracker(default="en")
    assert tracker.language_of(FRENCH) == "fr"
    assert tracker.language_of(junk) == "fr"


def test_detection_can_be_switched_off() -> None:
    tracker = LanguageTracker(enabled=False, default="en")
    assert tracker.language_of(FRENCH) == "en"


def test_paragraph_spans() -> None:
    text = "one\n\n two\n  \nthree"
    assert [text[a:b] for a, b in paragraphs(text)] == ["one", "two", "three"]


def test_voice_for_a_mapped_and_an_unmapped_language() -> None:
    mapping = {"fr": {"piper": "fr_FR-siwis-medium"}}
    assert voice_for("fr", "piper", mapping, DEFAULT) == (
        VoiceRef("piper", "fr_FR-siwis-medium"),
        None,
    )
    voice, note = voice_for("fr", "elevenlabs", mapping, VoiceRef("elevenlabs", "Rachel"))
    assert voice == VoiceRef("elevenlabs", "Rachel")
    assert note == "No voice is set for French; the default voice reads it."


def test_every_language_langdetect_knows_has_a_name() -> None:
    profiles = Path(factory.PROFILES_DIRECTORY)
    codes = sorted(path.name for path in profiles.iterdir())
    assert len(codes) == 55
    for code in codes:
        name = language_name(code)
        assert name != code and name[0].isupper() and name.isalpha(), (code, name)
    assert language_name("zh-tw") == language_name("zh-cn") == "Chinese"
    assert language_name("so") == "Somali"
    assert language_name("xx") == "xx"  # not a language langdetect returns: shown as it is


def test_the_note_comes_once_per_language() -> None:
    chooser = VoiceChooser(LanguageVoices("en", {"fr": {"piper": "fr_FR-siwis-medium"}}))
    assert chooser.voice_for("en", DEFAULT) == (DEFAULT, None)  # the default voice's language
    assert chooser.voice_for("fr", DEFAULT)[0].voice_id == "fr_FR-siwis-medium"
    notes = [chooser.voice_for("de", DEFAULT)[1] for _ in range(3)]
    assert notes == ["No voice is set for German; the default voice reads it.", None, None]
    assert chooser.voice_for("es", DEFAULT)[1] is not None


def test_languages_file(tmp_path: Path) -> None:
    path = tmp_path / "languages.toml"
    path.write_text('default_language = "en"\n[voices.fr]\npiper = "fr_FR-siwis-medium"\n')
    loaded = LanguageVoices.load(path)
    assert loaded.voices == {"fr": {"piper": "fr_FR-siwis-medium"}}
    path.write_text("[voices.fr]\npiper = 3\n")
    with pytest.raises(SettingsError, match=r"voices\.fr"):
        LanguageVoices.load(path)
    assert LanguageVoices.load(tmp_path / "missing.toml") == LanguageVoices()


@pytest.mark.parametrize(("detect", "loaded"), [(True, True), (False, False)])
def test_warming_the_text_pipeline_loads_the_language_profiles(detect: bool, loaded: bool) -> None:
    """The narrator warms the text pipeline at start; the profiles must be loaded by then (in a
    fresh interpreter: this one has loaded them for the tests above)."""
    probe = (
        "import langdetect.detector_factory as factory\n"
        "from voxtray.core.text.prepare import TextOptions, TextPreparer\n"
        f"TextPreparer(TextOptions(detect_language={detect})).warm()\n"
        "print(factory._factory is not None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == str(loaded)
