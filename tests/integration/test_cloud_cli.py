"""``voxtray key``, ``quota`` and ``cache`` as a user runs them: a real process, a real Secret
Service (gnome-keyring on a private bus) and the ElevenLabs fake server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fakes.elevenlabs import FakeElevenLabs
from tests.harness.cli import isolated_env, run_voxtray
from tests.harness.keyring import SecretServiceSession

KEY = "sk_cli_test_0123456789abcdef"


@pytest.fixture
def env(
    tmp_path: Path, secret_service: SecretServiceSession, fake_elevenlabs: FakeElevenLabs
) -> dict[str, str]:
    environment = isolated_env(tmp_path)
    environment["DBUS_SESSION_BUS_ADDRESS"] = secret_service.bus_address
    environment["VOXTRAY_ELEVENLABS_BASE_URL"] = fake_elevenlabs.base_url
    fake_elevenlabs.add_key(KEY, tier="creator", character_limit=100_000)
    return environment


def voxtray(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = run_voxtray(env, *args, stdin=stdin, timeout=60)
    assert KEY not in result.stdout + result.stderr  # the key is never printed
    return result


def test_set_status_delete_round_trip(
    env: dict[str, str], secret_service: SecretServiceSession
) -> None:
    stored = voxtray(env, "key", "set", stdin=KEY + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "••••cdef" in stored.stdout
    assert secret_service.lookup("voxtray", "elevenlabs") == KEY  # another client sees it

    status = voxtray(env, "key", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "It works: creator plan" in status.stdout

    deleted = voxtray(env, "key", "delete")
    assert deleted.returncode == 0
    assert secret_service.lookup("voxtray", "elevenlabs") is None
    missing = voxtray(env, "key", "status")
    assert missing.returncode == 1
    assert "voxtray key set elevenlabs" in missing.stdout


def test_a_revoked_key_does_not_work(env: dict[str, str], fake_elevenlabs: FakeElevenLabs) -> None:
    voxtray(env, "key", "set", stdin=KEY)
    fake_elevenlabs.revoke(KEY)
    status = voxtray(env, "key", "status")
    assert status.returncode == 1
    assert "It does not work" in status.stdout


def test_the_environment_overrides_the_keyring(env: dict[str, str]) -> None:
    voxtray(env, "key", "set", stdin="sk_other_key_that_is_wrong")
    status = voxtray(dict(env, ELEVENLABS_API_KEY=KEY), "key", "status")
    assert status.returncode == 0, status.stdout
    assert "ELEVENLABS_API_KEY" in status.stdout


def test_empty_key_is_refused(env: dict[str, str]) -> None:
    result = voxtray(env, "key", "set", stdin="\n")
    assert result.returncode == 2
    assert "No key was given" in result.stderr


def test_no_keyring_says_how_to_get_one(env: dict[str, str]) -> None:
    no_bus = dict(env, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/voxtray-bus")
    result = voxtray(no_bus, "key", "set", stdin=KEY)
    assert result.returncode == 1
    assert "keyring" in result.stderr.lower()
    assert "GNOME Keyring" in result.stderr or "KWallet" in result.stderr


def test_quota(env: dict[str, str], fake_elevenlabs: FakeElevenLabs) -> None:
    voxtray(env, "key", "set", stdin=KEY)
    result = voxtray(env, "quota")
    assert result.returncode == 0, result.stderr
    assert "creator" in result.stdout
    assert "of 100,000 characters" in result.stdout
    assert "Resets:" in result.stdout


def test_cache_stats_and_clear(env: dict[str, str]) -> None:
    stats = voxtray(env, "cache", "stats")
    assert stats.returncode == 0, stats.stderr
    assert "Entries:   0" in stats.stdout
    cleared = voxtray(env, "cache", "clear")
    assert cleared.returncode == 0
    assert "Removed 0 cached segments" in cleared.stdout
