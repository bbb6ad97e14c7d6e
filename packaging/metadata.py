"""The release's identity, read from where it is written once; no value is written here.

``pyproject.toml`` holds the version (``[project].version``) and the app's identity
(``[tool.voxtray]``: app id, display name, executable name, publisher, home page). Two names
belong to the running app and are read from its source, so the installer cannot drift from it:
the Windows mutex of the single-instance guard (``core/ipc.py``, ``INSTANCE_MUTEX``) and the
per-user directory name (``core/paths.py``, ``APP_NAME``). The Run-key value name that the
start-at-login task writes is the settings toggle's (``desktop/autostart.py``, ``APP_NAME``), so
the toggle sees and removes what the installer wrote.

Used by ``packaging/build.py`` (freeze, installer defines), ``packaging/voxtray.spec`` and the
tests. Standard library only: it must run before anything is installed (Windows build hosts).
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class MetadataError(Exception):
    """A value is missing or malformed where it is written; the message says where."""


@dataclass(frozen=True)
class AppMetadata:
    version: str
    app_id: str
    app_name: str
    exe_name: str
    publisher: str
    homepage: str
    description: str
    instance_mutex: str
    data_dir_name: str
    run_value_name: str

    @property
    def numeric_version(self) -> str:
        """``X.Y.Z.0`` for Windows version resources (``0.2.0rc1`` gives ``0.2.0.0``)."""
        match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", self.version)
        if match is None:
            raise MetadataError(f"The version {self.version!r} does not start with a number.")
        parts = [int(part or 0) for part in match.groups()]
        return ".".join(str(part) for part in [*parts, 0])

    @property
    def cli_exe_name(self) -> str:
        """The console twin of the windowed executable on Windows."""
        return f"{self.exe_name}-cli"


def load(root: Path = ROOT) -> AppMetadata:
    """Read every value from its one place. Raises :class:`MetadataError`."""
    pyproject = root / "pyproject.toml"
    with pyproject.open("rb") as stream:
        data = tomllib.load(stream)
    project = data.get("project", {})
    tool = data.get("tool", {}).get("voxtray", {})

    def required(table: dict[str, object], key: str, where: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise MetadataError(f"{pyproject.name}: {where}.{key} is missing or empty.")
        return value

    app_id = required(tool, "app-id", "[tool.voxtray]")
    if not re.fullmatch(r"[A-Za-z][\w-]*(\.[A-Za-z_][\w-]*){2,}", app_id):
        raise MetadataError(f"{pyproject.name}: app-id {app_id!r} is not reverse-DNS.")
    return AppMetadata(
        version=required(project, "version", "[project]"),
        app_id=app_id,
        app_name=required(tool, "app-name", "[tool.voxtray]"),
        exe_name=required(tool, "exe-name", "[tool.voxtray]"),
        publisher=required(tool, "publisher", "[tool.voxtray]"),
        homepage=required(tool, "homepage", "[tool.voxtray]"),
        description=required(project, "description", "[project]"),
        instance_mutex=module_constant(root / "core" / "ipc.py", "INSTANCE_MUTEX"),
        data_dir_name=module_constant(root / "core" / "paths.py", "APP_NAME"),
        run_value_name=module_constant(root / "desktop" / "autostart.py", "APP_NAME"),
    )


def module_constant(path: Path, name: str) -> str:
    """The string assigned to ``name`` at the top level of ``path``, read without importing."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        value = getattr(node, "value", None)
        for target in targets:
            if (
                isinstance(target, ast.Name)
                and target.id == name
                and isinstance(value, ast.Constant)
                and isinstance(value.value, str)
            ):
                return value.value
    raise MetadataError(f"{path}: no string constant {name}.")
