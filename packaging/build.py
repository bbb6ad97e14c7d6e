"""Build VoxTray's release artefacts from one set of values (packaging/metadata.py).

    python packaging/build.py freeze [--clean]   the one-folder app; prints its directory
    python packaging/build.py iss-defines         the /D flags for ISCC, on one line
    python packaging/build.py installer           the Windows installer (runs ISCC; Windows)
    python packaging/build.py metadata            the values, as JSON

``freeze`` runs PyInstaller on ``packaging/voxtray.spec`` with this Python (the project's
virtual environment: ``make package`` installs the ``package`` extra into it). The output is
``dist/<exe-name>/``; the build's own files go to ``build/pyinstaller/``.

``installer`` compiles ``installer.iss`` with every value injected as a ``/D`` define: the
version and identity from pyproject.toml, the mutex name from the app's single-instance guard,
and the directories (the frozen app to pack, where to write the setup program). The script
writes none of them itself and stops with ``#error`` if one is missing. ISCC is looked up in
``$ISCC``, on ``PATH``, then in Inno Setup 6's default install folders.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metadata import ROOT, AppMetadata, MetadataError, load

SPEC = ROOT / "packaging" / "voxtray.spec"
ISS = ROOT / "installer.iss"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
INSTALLER_OUTPUT = DIST / "installer"


def frozen_dir(meta: AppMetadata, dist: Path = DIST) -> Path:
    """Where ``freeze`` puts the one-folder app."""
    return dist / meta.exe_name


def frozen_executable(meta: AppMetadata, dist: Path = DIST) -> Path:
    suffix = ".exe" if sys.platform == "win32" else ""
    return frozen_dir(meta, dist) / f"{meta.exe_name}{suffix}"


def iss_defines(
    meta: AppMetadata, source_dir: Path | None = None, output_dir: Path | None = None
) -> dict[str, str]:
    """Every value installer.iss uses, by define name."""
    return {
        "AppName": meta.app_name,
        "AppVersion": meta.version,
        "AppNumericVersion": meta.numeric_version,
        "AppId": meta.app_id,
        "AppPublisher": meta.publisher,
        "AppURL": meta.homepage,
        "AppExeName": f"{meta.exe_name}.exe",
        "AppCliExeName": f"{meta.cli_exe_name}.exe",
        "AppMutex": meta.instance_mutex,
        "AppDataDirName": meta.data_dir_name,
        "RunValueName": meta.run_value_name,
        "SourceDir": str(source_dir or frozen_dir(meta)),
        "OutputDir": str(output_dir or INSTALLER_OUTPUT),
        "OutputBaseFilename": f"{meta.exe_name}-{meta.version}-setup",
        "LicenseFile": str(ROOT / "LICENSE"),
        "SetupIconFile": str(ROOT / "resources" / "icons" / f"{meta.exe_name}.ico"),
    }


def define_flags(defines: dict[str, str]) -> list[str]:
    return [f"/D{name}={value}" for name, value in defines.items()]


def freeze(clean: bool = False) -> Path:
    """Run PyInstaller on the spec; the one-folder app's directory."""
    meta = load()
    command = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm"]
    command += ["--distpath", str(DIST), "--workpath", str(WORK), "--log-level", "WARN"]
    if clean:
        command.append("--clean")
    started = time.monotonic()
    subprocess.run(command, check=True, cwd=ROOT)
    elapsed = time.monotonic() - started
    output = frozen_dir(meta)
    size = sum(f.stat().st_size for f in output.rglob("*") if f.is_file() and not f.is_symlink())
    print(
        f"voxtray: froze {meta.app_name} {meta.version} in {elapsed:.1f} s, {size / 1e6:.0f} MB",
        file=sys.stderr,
    )
    return output


def find_iscc() -> Path | None:
    configured = os.environ.get("ISCC")
    if configured:
        return Path(configured)
    found = shutil.which("ISCC") or shutil.which("iscc")
    if found:
        return Path(found)
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
        if base and (Path(base) / "Inno Setup 6" / "ISCC.exe").is_file():
            return Path(base) / "Inno Setup 6" / "ISCC.exe"
    local = os.environ.get("LOCALAPPDATA")  # Inno Setup installed for the current user
    if local and (Path(local) / "Programs" / "Inno Setup 6" / "ISCC.exe").is_file():
        return Path(local) / "Programs" / "Inno Setup 6" / "ISCC.exe"
    return None


def installer(source_dir: Path | None = None) -> Path:
    """Compile installer.iss over the frozen app; the setup program's path."""
    meta = load()
    iscc = find_iscc()
    if iscc is None:
        raise SystemExit(
            "voxtray: ISCC (Inno Setup 6) was not found; install it, or set ISCC to its path. "
            "The installer is built on Windows, from a frozen Windows build."
        )
    defines = iss_defines(meta, source_dir)
    if not (Path(defines["SourceDir"]) / defines["AppExeName"]).is_file():
        raise SystemExit(
            f"voxtray: no {defines['AppExeName']} in {defines['SourceDir']}: run "
            "`python packaging/build.py freeze` on Windows first."
        )
    subprocess.run([str(iscc), *define_flags(defines), str(ISS)], check=True, cwd=ROOT)
    return Path(defines["OutputDir"]) / f"{defines['OutputBaseFilename']}.exe"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/build.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    freeze_cmd = commands.add_parser("freeze", help="build the one-folder app; print its path")
    freeze_cmd.add_argument("--clean", action="store_true", help="drop PyInstaller's cache")
    defines_cmd = commands.add_parser("iss-defines", help="print the /D flags for ISCC")
    installer_cmd = commands.add_parser("installer", help="compile installer.iss (Windows)")
    for sub in (defines_cmd, installer_cmd):
        sub.add_argument("--source-dir", type=Path, help="the frozen app (default: dist/…)")
    commands.add_parser("metadata", help="print the release's values as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "freeze":
            print(freeze(clean=args.clean))
        elif args.command == "iss-defines":
            meta = load()
            print(subprocess.list2cmdline(define_flags(iss_defines(meta, args.source_dir))))
        elif args.command == "installer":
            print(installer(args.source_dir))
        else:
            meta = load()
            print(json.dumps({**asdict(meta), "numeric_version": meta.numeric_version}, indent=2))
    except MetadataError as error:
        print(f"voxtray: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"voxtray: {error.cmd[0]} failed with exit code {error.returncode}.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
