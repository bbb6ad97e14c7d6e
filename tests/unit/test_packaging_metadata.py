"""The release's values are written once and every artefact agrees with them.

pyproject.toml holds the version and ``[tool.voxtray]``; packaging/build.py hands them to the
PyInstaller spec and, as /D defines, to installer.iss. These tests read each artefact and
check it against pyproject.toml and the app's own constants (mutex, data directory, Run value).
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.etree import ElementTree

import pytest
from voxtray.core import ipc, paths
from voxtray.desktop import autostart

ROOT = Path(__file__).resolve().parents[2]
ISS = ROOT / "installer.iss"
SPEC = ROOT / "packaging" / "voxtray.spec"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


BUILD = _load("voxtray_packaging_build", ROOT / "packaging" / "build.py")
METADATA = sys.modules["metadata"]  # build.py imports packaging/metadata.py by that name


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as stream:
        return tomllib.load(stream)


def test_metadata_comes_from_pyproject_and_the_app(pyproject: dict[str, Any]) -> None:
    meta = METADATA.load()
    tool = pyproject["tool"]["voxtray"]
    assert meta.version == pyproject["project"]["version"]
    assert (meta.app_id, meta.app_name, meta.exe_name) == (
        tool["app-id"],
        tool["app-name"],
        tool["exe-name"],
    )
    assert meta.instance_mutex == ipc.INSTANCE_MUTEX
    assert meta.data_dir_name == paths.APP_NAME
    assert meta.run_value_name == autostart.APP_NAME
    assert meta.app_id == autostart.APP_ID  # the icon name the autostart entry uses
    assert pyproject["project"]["scripts"][meta.exe_name] == "voxtray.core.cli:main"


def test_numeric_version_for_windows_resources() -> None:
    meta = METADATA.load()
    assert re.fullmatch(r"\d+\.\d+\.\d+\.0", meta.numeric_version)
    other = types.SimpleNamespace(version="2.10rc1")
    assert METADATA.AppMetadata.numeric_version.fget(other) == "2.10.0.0"


def test_a_missing_value_is_an_error_that_says_where(tmp_path: Path) -> None:
    for part in ("core", "desktop"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(re.sub(r"(?m)^app-id = .*$", "", text))
    with pytest.raises(METADATA.MetadataError, match=r"\[tool.voxtray\].app-id"):
        METADATA.load(tmp_path)
    (tmp_path / "pyproject.toml").write_text(text.replace('"io.github.', '"io github.'))
    with pytest.raises(METADATA.MetadataError, match="reverse-DNS"):
        METADATA.load(tmp_path)


# -- installer.iss ----------------------------------------------------------------------------


def _iss_code_lines() -> list[str]:
    """installer.iss without its comment lines (``;`` and ``//``)."""
    lines = ISS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if not line.lstrip().startswith((";", "//"))]


def test_iss_defines_command_prints_every_value(pyproject: dict[str, Any]) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build.py"), "iss-defines"],
        capture_output=True,
        text=True,
        check=True,
    )
    flags = shlex.split(done.stdout)
    defines = dict(flag.removeprefix("/D").split("=", 1) for flag in flags)
    assert all(flag.startswith("/D") for flag in flags)
    tool = pyproject["tool"]["voxtray"]
    assert defines["AppVersion"] == pyproject["project"]["version"]
    assert defines["AppId"] == tool["app-id"]
    assert defines["AppName"] == tool["app-name"]
    assert defines["AppExeName"] == f"{tool['exe-name']}.exe"
    assert defines["AppCliExeName"] == f"{tool['exe-name']}-cli.exe"
    assert defines["AppMutex"] == ipc.INSTANCE_MUTEX
    assert defines["RunValueName"] == autostart.APP_NAME
    assert Path(defines["SourceDir"]) == ROOT / "dist" / tool["exe-name"]
    assert Path(defines["LicenseFile"]).is_file()
    assert Path(defines["SetupIconFile"]).is_file()


def test_iss_uses_only_injected_values_and_guards_each() -> None:
    code = "\n".join(_iss_code_lines())
    used = set(re.findall(r"\{#(\w+)\}", code))
    guarded = set(re.findall(r"#ifndef (\w+)\s*\n\s*#error", code))
    injected = set(BUILD.iss_defines(METADATA.load()))
    assert used, "installer.iss uses no injected value"
    assert used <= guarded, f"used without an #error guard: {sorted(used - guarded)}"
    assert guarded == injected, "the guards and build.py's defines differ"
    assert "#define" not in code, "installer.iss defines a value itself"


def test_iss_writes_no_version_and_no_identity_of_its_own(pyproject: dict[str, Any]) -> None:
    code = "\n".join(_iss_code_lines())
    tool = pyproject["tool"]["voxtray"]
    assert not re.search(r"\d+\.\d+(\.\d+)?", code), "a literal version in installer.iss"
    for value in (pyproject["project"]["version"], tool["app-id"], ipc.INSTANCE_MUTEX):
        assert value not in code
    assert not re.search(rf"\b{re.escape(tool['exe-name'])}(-cli)?\.exe\b", code)


def test_iss_is_per_user_with_the_apps_mutex_and_optional_tasks() -> None:
    setup = dict(
        line.split("=", 1) for line in _iss_code_lines() if re.match(r"^\w+=", line.strip())
    )
    assert setup["PrivilegesRequired"] == "lowest"
    assert setup["AppMutex"] == "{#AppMutex}"
    assert setup["AppVersion"] == "{#AppVersion}"
    assert setup["AppId"] == "{#AppId}"
    code = "\n".join(_iss_code_lines())
    tasks = re.findall(r'^Name: "(\w+)"; Description:', code.split("[Tasks]")[1], re.M)
    assert set(tasks) >= {"startup", "desktopicon"}
    run_key = next(line for line in code.splitlines() if "CurrentVersion\\Run" in line)
    assert "Root: HKCU" in run_key and "Tasks: startup" in run_key
    assert "uninsdeletevalue" in run_key
    # The user's data is removed only when asked.
    purge = code.split("procedure CurUninstallStepChanged")[1]
    assert "PurgeRequested()" in purge and "DelTree" in purge
    assert "MsgBox" in code.split("function PurgeRequested")[1]


# -- the PyInstaller spec ---------------------------------------------------------------------


class _Recorder:
    def __init__(self, kind: str, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]):
        self.kind, self.calls = kind, calls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((self.kind, args, kwargs))
        return types.SimpleNamespace(
            binaries=[], datas=[], pure=[], scripts=[], args=args, kwargs=kwargs
        )


def _run_spec(monkeypatch: pytest.MonkeyPatch, platform: str) -> list[Any]:
    """Execute the spec with PyInstaller's objects recorded instead of building anything."""
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_data_files = lambda *a, **k: []  # type: ignore[attr-defined]
    hooks.collect_submodules = lambda *a, **k: []  # type: ignore[attr-defined]
    hooks.copy_metadata = lambda *a, **k: []  # type: ignore[attr-defined]
    versioninfo = types.ModuleType("PyInstaller.utils.win32.versioninfo")
    version_classes = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable")
    for name in (*version_classes, "StringStruct", "VarFileInfo", "VarStruct"):
        setattr(versioninfo, name, _Recorder(name, []))
    win32 = types.ModuleType("PyInstaller.utils.win32")
    win32.versioninfo = versioninfo  # type: ignore[attr-defined]
    for name, module in {
        "PyInstaller": types.ModuleType("PyInstaller"),
        "PyInstaller.utils": types.ModuleType("PyInstaller.utils"),
        "PyInstaller.utils.hooks": hooks,
        "PyInstaller.utils.win32": win32,
        "PyInstaller.utils.win32.versioninfo": versioninfo,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(shutil, "copytree", lambda *a, **k: None)  # no staging copy
    monkeypatch.setattr(shutil, "rmtree", lambda *a, **k: None)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec puts packaging/ in front
    monkeypatch.setattr(sys, "platform", platform)
    namespace: dict[str, Any] = {"SPECPATH": str(SPEC.parent), "__file__": str(SPEC)}
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT"):
        namespace[kind] = _Recorder(kind, calls)
    exec(compile(SPEC.read_text(), str(SPEC), "exec"), namespace)
    return [*calls, namespace]


def test_spec_names_the_app_from_pyproject_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    *calls, namespace = _run_spec(monkeypatch, "linux")
    meta = METADATA.load()
    exes = [kwargs for kind, _args, kwargs in calls if kind == "EXE"]
    assert [exe["name"] for exe in exes] == [meta.exe_name]
    collect = next(kwargs for kind, _args, kwargs in calls if kind == "COLLECT")
    assert collect["name"] == meta.exe_name
    analysis = next(args for kind, args, _kwargs in calls if kind == "Analysis")
    assert analysis[0] == [str(ROOT / "packaging" / "entry.py")]
    wanted = namespace["wanted"]
    assert not wanted(("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/x", "BINARY"))
    assert wanted(("PySide6/Qt/plugins/platforms/libqxcb.so", "/x", "BINARY"))
    assert wanted(("PySide6/Qt/plugins/iconengines/libqsvgicon.so", "/x", "BINARY"))
    assert "PySide6.QtQml" in next(kw for k, _a, kw in calls if k == "Analysis")["excludes"]


def test_spec_on_windows_has_a_windowed_and_a_console_exe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    *calls, _namespace = _run_spec(monkeypatch, "win32")
    meta = METADATA.load()
    exes = {kwargs["name"]: kwargs for kind, _args, kwargs in calls if kind == "EXE"}
    assert set(exes) == {meta.exe_name, meta.cli_exe_name}
    assert exes[meta.exe_name]["console"] is False
    assert exes[meta.cli_exe_name]["console"] is True
    assert exes[meta.exe_name]["icon"] == str(ROOT / "resources" / "icons" / "voxtray.ico")
    assert exes[meta.exe_name]["version"] is not None


def test_spec_writes_no_version_or_name_of_its_own() -> None:
    code = "\n".join(
        line for line in SPEC.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    assert not re.search(r"\d+\.\d+\.\d+", code)
    assert not re.search(r"name\s*=\s*[\"']", code), "a literal executable name"
    assert METADATA.load().app_id not in code


# -- the Linux files carry the same identity ----------------------------------------------------


def test_linux_files_are_named_and_tagged_with_the_app_id(pyproject: dict[str, Any]) -> None:
    meta = METADATA.load()
    linux = ROOT / "resources" / "linux"
    assert sorted(path.name for path in linux.iterdir()) == [
        f"{meta.app_id}.desktop",
        f"{meta.app_id}.metainfo.xml",
    ]
    desktop = (linux / f"{meta.app_id}.desktop").read_text()
    assert f"\nIcon={meta.app_id}\n" in desktop
    assert f"\nName={meta.app_name}\n" in desktop
    assert re.findall(r"(?m)^Exec=(\S+)", desktop) == [meta.exe_name] * 4
    info = ElementTree.parse(linux / f"{meta.app_id}.metainfo.xml").getroot()
    assert info.findtext("id") == meta.app_id
    assert info.findtext("name") == meta.app_name
    assert info.findtext("launchable") == f"{meta.app_id}.desktop"
    assert info.findtext("project_license") == pyproject["project"]["license"]
    assert info.findtext("provides/binary") == meta.exe_name
    newest = info.find("releases/release")
    assert newest is not None and newest.get("version") == meta.version
