"""Settings: defaults, hand-edited files with mistakes, atomic private saves."""

from __future__ import annotations

import stat
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from voxtray.core import settings as settings_module
from voxtray.core.errors import SettingsError
from voxtray.core.model import VoiceRef
from voxtray.core.settings import (
    AppSettings,
    AudioSettings,
    EngineSettings,
    HotkeySettings,
    LoadedSettings,
    Settings,
    VoiceSettings,
    load_settings,
    save_settings,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


def load_text(tmp_path: Path, text: str) -> LoadedSettings:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_defaults() -> None:
    defaults = Settings()
    assert defaults.voice == VoiceSettings(provider="piper", voice="en_US-joe-medium", rate=1.0)
    assert defaults.audio == AudioSettings(device="", volume=1.0, latency=0.1, buffer_seconds=4.0)
    assert defaults.engine == EngineSettings(
        lookahead_seconds=10.0, first_clause_chars=40, synthesis_threads=1
    )


def test_a_missing_file_gives_the_defaults_silently(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "nothing.toml")
    assert loaded == LoadedSettings(Settings(), (), tmp_path / "nothing.toml")
    assert not (tmp_path / "nothing.toml").exists()


def test_the_default_path_is_the_platform_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings_module, "settings_file", lambda: tmp_path / "x" / "s.toml")
    save_settings(Settings().replace(voice=VoiceSettings(rate=1.5)))
    assert (tmp_path / "x" / "s.toml").is_file()
    assert load_settings().settings.voice.rate == 1.5


def test_a_valid_file_is_read(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        '[voice]\nprovider = "elevenlabs"\nvoice = "Rachel"\nrate = 1.25\n'
        '[audio]\ndevice = "USB Headset"\nvolume = 0.5\n'
        "[engine]\nfirst_clause_chars = 80\n",
    )
    assert loaded.warnings == ()
    assert not loaded.file_broken
    assert loaded.settings == Settings(
        voice=VoiceSettings(provider="elevenlabs", voice="Rachel", rate=1.25),
        audio=AudioSettings(device="USB Headset", volume=0.5),
        engine=EngineSettings(first_clause_chars=80),
    )


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(b"\xef\xbb\xbf[voice]\nrate = 2.0\n")
    loaded = load_settings(path)
    assert loaded.warnings == ()
    assert loaded.settings.voice.rate == 2.0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[voice]\nrate = 1.0\nvoice = tru\n", "line 3, column 9"),
        ("[audio]\nvolume = 0.5\n[audio]\n", "line 3, column 7"),
        ("[voice]\nrate = ", "line 2, column 8, the end of the file"),
    ],
)
def test_broken_toml_gives_defaults_a_located_warning_and_an_untouched_file(
    tmp_path: Path, text: str, where: str
) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(text.encode())
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert loaded.file_broken
    [warning] = loaded.warnings
    assert str(path) in warning
    assert where in warning
    assert "(at line" not in warning  # the location is not repeated in tomllib's own words
    assert path.read_bytes() == text.encode()


def test_the_decode_error_position_attributes_of_newer_pythons_are_used() -> None:
    error = tomllib.TOMLDecodeError("Invalid value")
    error.lineno, error.colno, error.msg = 4, 2, "Invalid value"  # type: ignore[attr-defined]
    assert settings_module._where(error, "") == "line 4, column 2: Invalid value"


def test_a_decode_error_without_a_position_is_still_reported() -> None:
    error = tomllib.TOMLDecodeError("Something odd")
    assert settings_module._where(error, "a = 1") == "Something odd"


def test_a_file_that_is_not_utf8_gives_defaults_and_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(b'[voice]\nvoice = "caf\xe9"\n')
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert loaded.file_broken
    [warning] = loaded.warnings
    assert "not UTF-8" in warning
    assert "byte 21" in warning  # 1-based: the é after 20 ASCII bytes
    assert path.read_bytes() == b'[voice]\nvoice = "caf\xe9"\n'


def test_an_unreadable_file_gives_defaults_and_a_warning(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").mkdir()
    loaded = load_settings(tmp_path / "settings.toml")
    assert loaded.settings == Settings()
    assert loaded.file_broken
    [warning] = loaded.warnings
    assert "could not be read" in warning


def test_unknown_sections_and_keys_are_named_and_ignored(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        "colour = 3\n[voice]\npitch = 2\nrate = 1.5\n[fancy]\nx = 1\n[audio]\nvolume = 0.3\n",
    )
    assert loaded.settings == Settings(
        voice=VoiceSettings(rate=1.5), audio=AudioSettings(volume=0.3)
    )
    assert not loaded.file_broken
    assert len(loaded.warnings) == 3
    assert "unknown setting colour" in loaded.warnings[0]
    assert "unknown setting voice.pitch" in loaded.warnings[1]
    assert "unknown section [fancy]" in loaded.warnings[2]


def test_an_api_key_pasted_into_the_file_is_pointed_to_the_keyring_and_never_echoed(
    tmp_path: Path,
) -> None:
    loaded = load_text(tmp_path, '[voice]\napi_key = "sk_abcdef0123456789"\n')
    [warning] = loaded.warnings
    assert "voice.api_key" in warning
    assert "keyring" in warning
    assert "sk_abcdef" not in warning


def test_a_section_given_as_a_value_is_reported(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, 'voice = "Rachel"\n[audio]\nvolume = 0.7\n')
    assert loaded.settings == Settings(audio=AudioSettings(volume=0.7))
    [warning] = loaded.warnings
    assert "voice should be a [voice] section" in warning


@pytest.mark.parametrize(
    ("section", "key", "toml", "shown", "problem"),
    [
        ("voice", "rate", "9.0", "9.0", "is out of range (0.25 to 4.0)"),
        ("voice", "rate", "0.1", "0.1", "is out of range"),
        ("voice", "rate", '"fast"', '"fast"', "should be a number"),
        ("voice", "rate", "true", "true", "should be a number"),
        ("voice", "rate", "nan", "nan", "should be a finite number"),
        ("voice", "voice", "42", "42", "should be text"),
        ("audio", "volume", "1.6", "1.6", "is out of range (0.0 to 1.5)"),
        ("audio", "volume", "-0.1", "-0.1", "is out of range"),
        ("audio", "latency", "-0.05", "-0.05", "is out of range"),
        ("audio", "latency", "inf", "inf", "should be a finite number"),
        ("audio", "buffer_seconds", "[1, 2]", "a list", "should be a number"),
        ("audio", "device", "{ name = 'x' }", "a table", "should be text"),
        ("engine", "first_clause_chars", "60.5", "60.5", "should be a whole number"),
        ("engine", "synthesis_threads", "0", "0", "is out of range (1 to 16)"),
        ("engine", "synthesis_threads", "false", "false", "should be a whole number"),
        ("engine", "lookahead_seconds", "1979-05-27", "date", "should be a number"),
    ],
)
def test_a_bad_value_costs_that_key_only(
    tmp_path: Path, section: str, key: str, toml: str, shown: str, problem: str
) -> None:
    # Each section also carries good values, which must survive their neighbour's mistake.
    sections = {
        "voice": {"provider": '"other"', "rate": "2.0"},
        "audio": {"device": '"Speakers"', "volume": "0.25"},
        "engine": {"synthesis_threads": "3", "lookahead_seconds": "5.0"},
    }
    sections[section][key] = toml
    text = "".join(
        f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
        for name, values in sections.items()
    )
    loaded = load_text(tmp_path, text)

    [warning] = loaded.warnings
    assert f"{section}.{key} = {shown} {problem}" in warning
    default = getattr(getattr(Settings(), section), key)
    assert f"the default, {settings_module._show(default)}, is used" in warning
    assert getattr(getattr(loaded.settings, section), key) == default
    for name, values in sections.items():
        for good_key, good_value in values.items():
            if (name, good_key) != (section, key):
                expected = tomllib.loads(f"v = {good_value}")["v"]
                assert getattr(getattr(loaded.settings, name), good_key) == expected


def test_whole_numbers_are_accepted_where_fractions_are_expected(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, "[voice]\nrate = 2\n[audio]\nvolume = 1\nlatency = 0\n")
    assert loaded.warnings == ()
    assert loaded.settings.voice.rate == 2.0
    assert type(loaded.settings.voice.rate) is float
    assert type(loaded.settings.audio.latency) is float


def test_a_whole_float_is_accepted_for_a_count(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, "[engine]\nfirst_clause_chars = 80.0\n")
    assert loaded.warnings == ()
    assert loaded.settings.engine.first_clause_chars == 80
    assert type(loaded.settings.engine.first_clause_chars) is int


def test_boundaries_are_inclusive(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, "[voice]\nrate = 4.0\n[audio]\nvolume = 0\nlatency = 0.0\n")
    assert loaded.warnings == ()
    assert (loaded.settings.voice.rate, loaded.settings.audio.volume) == (4.0, 0.0)


def test_sections_validate_values_given_in_code() -> None:
    with pytest.raises(ValueError, match=r"VoiceSettings.rate = 5 is out of range"):
        VoiceSettings(rate=5)
    with pytest.raises(ValueError, match=r"AudioSettings.volume = -1.0"):
        Settings().audio.replace(volume=-1.0)
    with pytest.raises(ValueError, match=r"EngineSettings.synthesis_threads = 1.5"):
        EngineSettings(synthesis_threads=1.5)  # type: ignore[arg-type]


def test_replace_makes_a_new_validated_copy() -> None:
    original = Settings()
    changed = original.replace(voice=original.voice.replace(rate=1.3, voice="Rachel"))
    assert changed.voice == VoiceSettings(voice="Rachel", rate=1.3)
    assert changed.audio is original.audio
    assert original.voice.rate == 1.0


def test_voice_ref() -> None:
    assert VoiceSettings().ref == VoiceRef("piper", "en_US-joe-medium")
    assert VoiceSettings(provider="elevenlabs", voice="").ref == VoiceRef("elevenlabs", None)


@posix_only
def test_save_writes_a_private_file_in_a_private_directory(tmp_path: Path) -> None:
    path = tmp_path / "config" / "voxtray" / "settings.toml"
    save_settings(Settings().replace(audio=AudioSettings(volume=0.4)), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["settings.toml"]


def test_save_writes_only_what_differs_from_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    save_settings(Settings().replace(audio=AudioSettings(volume=0.4)), path)
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    assert document == {"audio": {"volume": 0.4}}
    assert "keyring" in path.read_text(encoding="utf-8")


def test_saving_the_defaults_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    save_settings(Settings(), path)
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {}
    assert load_settings(path) == LoadedSettings(Settings(), (), path)


def test_save_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[voice]\nrate = 2.0\n# a long comment that is longer than the new file\n")
    save_settings(Settings().replace(voice=VoiceSettings(rate=0.5)), path)
    assert load_settings(path).settings.voice.rate == 0.5


def test_a_failed_save_raises_settings_error_and_keeps_the_old_file(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    with pytest.raises(SettingsError, match="could not be saved") as caught:
        save_settings(Settings(), tmp_path / "blocker" / "settings.toml")
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.is_permanent


section_values = st.builds(
    Settings,
    voice=st.builds(
        VoiceSettings,
        provider=st.sampled_from(["piper", "elevenlabs"]),
        voice=st.text(max_size=30),
        rate=st.floats(0.25, 4.0),
    ),
    audio=st.builds(
        AudioSettings,
        device=st.text(max_size=30),
        volume=st.floats(0.0, 1.5),
        latency=st.floats(0.0, 1.0),
        buffer_seconds=st.floats(0.5, 30.0),
    ),
    engine=st.builds(
        EngineSettings,
        lookahead_seconds=st.floats(0.0, 300.0),
        first_clause_chars=st.integers(10, 1000),
        synthesis_threads=st.integers(1, 16),
    ),
    hotkeys=st.builds(
        HotkeySettings,
        read_now=st.sampled_from(["", "Ctrl+Alt+R", "Meta+F9"]),
        stop=st.text(max_size=20),
        read_now_source=st.sampled_from(["clipboard", "selection"]),
        read_now_while_playing=st.sampled_from(["interrupt", "queue"]),
    ),
    app=st.builds(AppSettings, start_at_login=st.booleans()),
)


@hypothesis_settings(
    max_examples=150,
    deadline=None,
    # One file, rewritten by every example: sharing tmp_path between them is the point.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=section_values)
def test_any_valid_settings_survive_a_save_and_a_load(tmp_path: Path, value: Settings) -> None:
    path = tmp_path / "settings.toml"
    save_settings(value, path)
    loaded = load_settings(path)
    assert loaded.warnings == ()
    assert loaded.settings == value


def test_a_choice_outside_the_allowed_ones_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[elevenlabs]\ntransport = "carrier pigeon"\nmodel = "eleven_v3"\n')
    loaded = load_settings(path)
    assert loaded.settings.elevenlabs.transport == "auto"
    assert loaded.settings.elevenlabs.model == "eleven_v3"
    (warning,) = loaded.warnings
    assert "elevenlabs.transport" in warning and '"websocket"' in warning


def test_hotkey_and_app_defaults() -> None:
    defaults = Settings()
    assert defaults.hotkeys == HotkeySettings(
        read_now="Ctrl+Alt+R",
        read_next="Ctrl+Alt+N",
        stop="Ctrl+Alt+S",
        pause="Ctrl+Alt+P",
        skip="Ctrl+Alt+K",
        read_now_source="clipboard",
        read_now_while_playing="interrupt",
    )
    assert defaults.app == AppSettings(start_at_login=False)


def test_hotkeys_are_read_and_an_empty_one_is_kept_as_turned_off(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        '[hotkeys]\nread_now = "Meta+F9"\nskip = ""\nread_now_source = "selection"\n'
        'read_now_while_playing = "queue"\n[app]\nstart_at_login = true\n',
    )
    assert loaded.warnings == ()
    assert loaded.settings.hotkeys == HotkeySettings(
        read_now="Meta+F9", skip="", read_now_source="selection", read_now_while_playing="queue"
    )
    assert loaded.settings.app.start_at_login is True


def test_bad_hotkey_choices_cost_that_key_only(tmp_path: Path) -> None:
    loaded = load_text(
        tmp_path,
        '[hotkeys]\nread_now_source = "telepathy"\nread_now_while_playing = 1\nstop = "F8"\n'
        '[app]\nstart_at_login = "yes"\n',
    )
    assert loaded.settings.hotkeys.read_now_source == "clipboard"
    assert loaded.settings.hotkeys.read_now_while_playing == "interrupt"
    assert loaded.settings.hotkeys.stop == "F8"
    assert loaded.settings.app.start_at_login is False
    assert len(loaded.warnings) == 3
    assert any("hotkeys.read_now_source" in w and '"selection"' in w for w in loaded.warnings)
    assert any("app.start_at_login" in w and "true or false" in w for w in loaded.warnings)


def test_a_turned_off_hotkey_is_saved_and_loaded_back_empty(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    save_settings(Settings().replace(hotkeys=HotkeySettings(pause="")), path)
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {"hotkeys": {"pause": ""}}
    assert load_settings(path).settings.hotkeys.pause == ""
