"""The ElevenLabs quota and key changes, over real sockets against the fake server.

The provider learns the quota from ``GET /v1/user/subscription`` (on warm-up, or beside the
first request), moves it with what it bills, looks again at most once per interval while it is
in use, and never makes a synthesis wait for the account service. A new key is a new account:
the warm socket is replaced and the quota asked again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from voxtray.core.providers.base import CharacterQuota
from voxtray.core.providers.elevenlabs.provider import ElevenLabsProvider
from voxtray.core.stats import StatsRecorder

from tests.fakes.elevenlabs import FakeElevenLabs
from tests.fakes.elevenlabs.protocol import fingerprint
from tests.harness.cloud import (
    KEY,
    ProviderFactory,
    collect,
    eventually,
    provider_factory,
    speech_job,
)

SUBSCRIPTION = "/v1/user/subscription"


@pytest.fixture
def fake(fake_elevenlabs: FakeElevenLabs) -> FakeElevenLabs:
    fake_elevenlabs.configure(mode="tone", tone_seconds_per_char=0.01)
    return fake_elevenlabs


@pytest.fixture
async def make(fake: FakeElevenLabs) -> AsyncIterator[ProviderFactory]:
    async with provider_factory(fake) as factory:
        yield factory


job = speech_job


def lookups(fake: FakeElevenLabs) -> int:
    return sum(1 for r in fake.requests if r.path == SUBSCRIPTION)


def quota(provider: ElevenLabsProvider) -> CharacterQuota:
    found = provider.counters().quota
    assert found is not None, "no quota known yet"
    return found


async def test_warm_up_learns_the_quota_and_billing_moves_it(
    fake: FakeElevenLabs, make: Callable[..., ElevenLabsProvider]
) -> None:
    fake.exhaust_quota(KEY, remaining=4_000)
    provider = make()
    assert provider.counters().quota is None
    await provider.warm()
    reset = fake.state.subscription(KEY)["next_character_count_reset_unix"]
    assert quota(provider) == CharacterQuota(used=6_000, limit=10_000, resets_at=float(reset))
    for urgent in (False, True):  # HTTP (character-cost) and the socket (the text sent)
        assert await collect(
            provider, job(f"Counting every character, urgent {urgent}.", urgent=urgent)
        )
        assert quota(provider).used == fake.billed(KEY) > 6_000
    assert fake.websocket_contexts, "the urgent job did not go over the socket"
    assert lookups(fake) == 1  # not one look-up per request

    # The stats carry it as plain data, for the window and `voxtray stats`.
    snapshot = StatsRecorder().snapshot(
        queue_size=0,
        current_request=None,
        current_label=None,
        worker_running=False,
        output=None,
        providers=[provider.counters()],
    )
    assert snapshot.as_dict()["providers"]["elevenlabs"]["quota"] == {
        "used": fake.billed(KEY),
        "limit": 10_000,
        "resets_at": float(reset),
    }


async def test_the_first_request_does_not_wait_for_the_account_service(
    fake: FakeElevenLabs, make: Callable[..., ElevenLabsProvider]
) -> None:
    fake.configure(account_latency=3.0)
    provider = make(transport="http", concurrency_limit=2)  # a set limit: warm-up asks nothing
    assert await collect(provider, job("Speech comes first."))
    # Spoken while the subscription answer was still on its way…
    assert provider.counters().quota is None
    assert await eventually(lambda: lookups(fake) == 1)
    # …and the quota arrives later, by itself.
    assert await eventually(lambda: provider.counters().quota is not None, within=10.0)
    assert quota(provider).used == fake.billed(KEY)


async def test_looked_up_again_at_most_once_per_interval(
    fake: FakeElevenLabs, make: Callable[..., ElevenLabsProvider]
) -> None:
    provider = make(transport="http", concurrency_limit=2)  # the default: once a minute
    for i in range(3):
        assert await collect(provider, job(f"Sentence number {i}.", index=i))
    assert await eventually(lambda: provider.counters().quota is not None)
    assert lookups(fake) == 1

    eager = make(transport="http", concurrency_limit=2, quota_refresh=0.0)
    assert await collect(eager, job("Hello."))
    assert await eventually(lambda: eager.counters().quota is not None)
    # Characters spent elsewhere (another device, the web site) show up at the next look-up.
    fake.exhaust_quota(KEY, remaining=500)
    assert await collect(eager, job("Hello again."))
    assert await eventually(lambda: quota(eager).used >= 9_500)
    assert lookups(fake) >= 3


async def test_a_new_key_is_a_new_account(
    fake: FakeElevenLabs, make: Callable[..., ElevenLabsProvider]
) -> None:
    fake.add_key("second-key", tier="starter", character_limit=30_000)
    keys = [KEY]
    provider = make(lambda: keys[-1])
    await provider.warm()
    assert await collect(provider, job("Spoken with the first key.", urgent=True))
    assert quota(provider).limit == 10_000
    first_billed = fake.billed(KEY)

    keys.append("second-key")  # what ApiKeyHolder does after the settings saved another key
    assert await collect(provider, job("Spoken with the second key.", urgent=True))
    assert await collect(provider, job("And over HTTP too."))
    assert fake.billed(KEY) == first_billed  # nothing more on the old account
    assert fake.billed("second-key") > 0
    sockets = fake.websocket_contexts
    assert [c.key_fingerprint for c in sockets] == [fingerprint(KEY), fingerprint("second-key")]
    assert await eventually(lambda: sockets[0].closed is not None)  # the old socket is let go
    assert await eventually(lambda: quota(provider).limit == 30_000)
    assert await eventually(lambda: quota(provider).used == fake.billed("second-key"))
