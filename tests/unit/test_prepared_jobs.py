"""The scheduler gives each provider prepared text, and resume still points into the source."""

from __future__ import annotations

from voxtray.core.errors import ConnectionLostError
from voxtray.core.model import RequestFinished, SegmentAudible, SpeakRequest, VoiceRef
from voxtray.core.narrator import Narrator
from voxtray.core.orchestrator.worker import WorkerSettings
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.providers.tone import ToneProvider
from voxtray.core.text.dictionary import PronunciationDictionary, PronunciationRule
from voxtray.core.text.prepare import TextOptions, TextPreparer

from tests.fakes.clocked_output import ClockedOutput
from tests.unit.test_resilience import RATE, SECONDS_PER_CHAR, Events, FlakyCloud


class NormalizingCloud(FlakyCloud):
    @property
    def id(self) -> str:
        return "elevenlabs"


def narrator_for(cloud: FlakyCloud, preparer: TextPreparer) -> Narrator:
    registry = ProviderRegistry()
    registry.add(cloud)  # type: ignore[arg-type]
    registry.add(ToneProvider(sample_rate=RATE, seconds_per_char=SECONDS_PER_CHAR))
    return Narrator(
        output=ClockedOutput(sample_rate=RATE, speed=40.0),
        providers=registry,
        default_voice=VoiceRef(cloud.id, "v"),
        settings=WorkerSettings(
            fallback_voice=VoiceRef("tone", "440"),
            retry_base_delay=0.01,
            first_clause_chars=60,
            text=preparer,
        ),
    )


PREPARER = TextPreparer(
    TextOptions(detect_language=False),
    PronunciationDictionary([PronunciationRule("Nginx", "engine x")]),
)
TEXT = "Pay $5.20 and then 1,234 more. Ask Nginx now."


async def test_providers_get_prepared_text_and_events_keep_source_offsets() -> None:
    cloud = FlakyCloud()
    async with narrator_for(cloud, PREPARER) as narrator:
        events = Events(narrator)
        outcome = await narrator.speak(SpeakRequest(text=TEXT)).wait()
    assert isinstance(outcome, RequestFinished)
    assert cloud.jobs == [
        "Pay five dollars and twenty cents and then one thousand two hundred thirty-four more.",
        "Ask engine x now.",
    ]
    audible = events.of(SegmentAudible)
    assert [TEXT[e.start : e.end] for e in audible] == [
        "Pay $5.20 and then 1,234 more.",
        "Ask Nginx now.",
    ]


async def test_a_normalizing_provider_gets_numbers_as_written() -> None:
    cloud = NormalizingCloud()
    async with narrator_for(cloud, PREPARER) as narrator:
        await narrator.speak(SpeakRequest(text=TEXT)).wait()
    assert cloud.jobs == ["Pay $5.20 and then 1,234 more.", "Ask engine x now."]


async def test_a_drop_inside_an_expansion_resumes_at_its_source_word() -> None:
    # 20 prepared characters are heard: "Pay five dollars and" — inside the words for "$5.20".
    cloud = FlakyCloud(script=[(2, ConnectionLostError("dropped"))])
    async with narrator_for(cloud, PREPARER) as narrator:
        outcome = await narrator.speak(SpeakRequest(text=TEXT)).wait()
    assert isinstance(outcome, RequestFinished)
    assert cloud.jobs[1] == (
        "five dollars and twenty cents and then one thousand two hundred thirty-four more."
    )


async def test_a_drop_after_an_expansion_never_repeats_it() -> None:
    # 40 prepared characters: "Pay five dollars and twenty cents and th" — "then" is cut.
    cloud = FlakyCloud(script=[(4, ConnectionLostError("dropped"))])
    async with narrator_for(cloud, PREPARER) as narrator:
        await narrator.speak(SpeakRequest(text=TEXT)).wait()
    assert cloud.jobs[1] == "then one thousand two hundred thirty-four more."


def test_text_settings_reach_the_preparer(tmp_path: object) -> None:
    from voxtray.core.engine import text_options
    from voxtray.core.settings import Settings, TextSettings

    settings = Settings(text=TextSettings(code="skip", emoji="drop", detect_language=False))
    options = text_options(settings)
    assert (options.code, options.emoji, options.detect_language) == ("skip", "drop", False)
    assert text_options(Settings()) == TextOptions()
