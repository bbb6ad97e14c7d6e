"""``voxtray clean`` and ``voxtray dict`` as a user runs them: a real process, private XDG dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.cli import isolated_env, run_voxtray


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return isolated_env(tmp_path)


voxtray = run_voxtray


def test_clean_prints_what_each_provider_is_given(env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "note.txt"
    source.write_text("It costs $5.20 today!!! Ask Nginx.\n\nMerci 😀\n", encoding="utf-8")
    voxtray(env, "dict", "add", "Nginx", "engine x")

    local = voxtray(env, "clean", str(source), "--plain")
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip() == (
        "It costs five dollars and twenty cents today! Ask engine x. Merci grinning face"
    )

    cloud = voxtray(env, "clean", str(source), "--plain", "--provider", "elevenlabs")
    assert cloud.returncode == 0, cloud.stderr
    assert cloud.stdout.strip() == "It costs $5.20 today! Ask engine x. Merci grinning face"

    segments = voxtray(env, "clean", str(source))
    lines = segments.stdout.splitlines()
    assert lines[0].startswith("[1 0-") and "piper:" in lines[0]
    assert len(lines) >= 2


def test_clean_follows_the_text_settings(env: dict[str, str], tmp_path: Path) -> None:
    settings = Path(env["XDG_CONFIG_HOME"]) / "voxtray" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text('[text]\nexpand_for_local_voice = false\nemoji = "drop"\n')
    source = tmp_path / "note.txt"
    source.write_text("Pay $5 😀 now.", encoding="utf-8")
    result = voxtray(env, "clean", str(source), "--plain")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Pay $5 now."


def test_dict_round_trip(env: dict[str, str], tmp_path: Path) -> None:
    assert voxtray(env, "dict", "add", "Nginx", "engine x").returncode == 0
    added = voxtray(env, "dict", "add", r"(\d+)x", r"\1 times", "--regex", "--scope", "language:en")
    assert added.returncode == 0, added.stderr
    listing = voxtray(env, "dict", "list")
    assert "1  “Nginx” → “engine x”" in listing.stdout
    assert "2  “(\\d+)x” → “\\1 times” (regex, language:en)" in listing.stdout

    exported = tmp_path / "rules.toml"
    assert voxtray(env, "dict", "export", str(exported)).returncode == 0
    assert "engine x" in exported.read_text(encoding="utf-8")

    assert voxtray(env, "dict", "remove", "1").returncode == 0
    assert voxtray(env, "dict", "remove", r"(\d+)x").returncode == 0
    assert "No pronunciation rules" in voxtray(env, "dict", "list").stdout

    imported = voxtray(env, "dict", "import", str(exported))
    assert imported.returncode == 0, imported.stderr
    assert "Imported 2 rules" in imported.stdout
    assert "Nginx" in voxtray(env, "dict", "list").stdout


def test_dict_refuses_bad_rules_plainly(env: dict[str, str], tmp_path: Path) -> None:
    bad = voxtray(env, "dict", "add", "a(", "b", "--regex")
    assert bad.returncode == 2
    assert "“a(” is not a valid regular expression" in bad.stderr
    scope = voxtray(env, "dict", "add", "a", "b", "--scope", "planet:mars")
    assert scope.returncode == 2 and "scope" in scope.stderr
    missing = voxtray(env, "dict", "remove", "7")
    assert missing.returncode == 2 and "no rule 7" in missing.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('[[rule]]\nmatch = "x"\n')
    result = voxtray(env, "dict", "import", str(broken))
    assert result.returncode == 2 and "rule 1" in result.stderr
