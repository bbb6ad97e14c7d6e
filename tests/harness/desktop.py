"""A private desktop for system tests: Xvfb, a session D-Bus, the trayer tray host.

Recipe: /work/shared/test-harness.md. Everything runs with an isolated HOME and XDG tree in a
temporary directory, so nothing touches the user's session, and every process started here is
stopped by its PID. ``Xvfb -displayfd`` picks a free display number and writes it when the
server is ready, and ``dbus-daemon --print-address`` prints its address when it listens: no
start-up waits on the clock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.process import die_with_parent
from tests.harness.process import missing_binaries as missing
from tests.harness.pulse import HarnessError

_REQUIRED = ("Xvfb", "dbus-daemon", "trayer", "xdotool", "xclip", "xwininfo", "import")


def missing_binaries() -> list[str]:
    return missing(_REQUIRED)


@dataclass(frozen=True)
class Geometry:
    x: int
    y: int
    width: int
    height: int

    @property
    def center(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2


@dataclass
class DesktopSession:
    """A running Xvfb + D-Bus + trayer; ``env`` is what a client process needs."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def start(cls, base_env: dict[str, str] | None = None, timeout: float = 10.0) -> DesktopSession:
        missing = missing_binaries()
        if missing:
            raise HarnessError(
                f"Desktop tools missing ({', '.join(missing)}): run `make test`, which installs "
                "the system packages the desktop tests need."
            )
        desktop = cls(Path(tempfile.mkdtemp(prefix="voxtray-desktop-")))
        try:
            desktop._boot(dict(base_env or os.environ), timeout)
        except BaseException:
            desktop.stop()
            raise
        return desktop

    def _boot(self, env: dict[str, str], timeout: float) -> None:
        home, runtime = self.root / "home", self.root / "runtime"
        for folder in (home, runtime):
            folder.mkdir()
            folder.chmod(0o700)
        for key in (
            "WAYLAND_DISPLAY",
            "XDG_SESSION_TYPE",
            "QT_QPA_PLATFORM",
            "DBUS_SESSION_BUS_ADDRESS",
        ):
            env.pop(key, None)
        env.update(
            HOME=str(home),
            XDG_RUNTIME_DIR=str(runtime),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_STATE_HOME=str(home / ".local" / "state"),
            XDG_CACHE_HOME=str(home / ".cache"),
            XDG_DATA_HOME=str(home / ".local" / "share"),
        )
        read_fd, write_fd = os.pipe()
        xvfb = self._spawn(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ],
            env,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number or xvfb.poll() is not None:
            raise HarnessError("Xvfb did not start")
        env["DISPLAY"] = f":{number}"
        bus = self._spawn(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"], env, stdout=True
        )
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        if not address:
            raise HarnessError("dbus-daemon did not start")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        self.env = env
        self._spawn(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width",
             "200", "--height", "32", "--SetDockType", "true"],
            env,
        )  # fmt: skip
        if self.wait_for(lambda: self.window("panel") is not None, timeout) is None:
            raise HarnessError("trayer did not show its panel")

    def _spawn(
        self,
        argv: list[str],
        env: dict[str, str],
        *,
        pass_fds: tuple[int, ...] = (),
        stdout: bool = False,
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=pass_fds,
            preexec_fn=die_with_parent,
        )
        self._processes.append(process)
        return process

    # -- looking at the screen ------------------------------------------------------------------

    def _tree(self) -> list[str]:
        return subprocess.run(
            ["xwininfo", "-root", "-tree"], env=self.env, capture_output=True, text=True, check=True
        ).stdout.splitlines()

    def tray_clients(self) -> list[str]:
        """The ``xwininfo`` lines of the windows embedded in trayer's panel (the tray icons)."""
        lines, inside, depth = [], False, 0
        for line in self._tree():
            indent = len(line) - len(line.lstrip())
            if '"panel": ("panel" "trayer")' in line:
                inside, depth = True, indent
            elif inside and indent <= depth:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
        return lines

    def windows(self) -> list[tuple[str, Geometry, int]]:
        """Every named window: (name, absolute geometry, depth in the tree)."""
        tree = self._tree()
        found = []
        pattern = re.compile(
            r'^(\s+)0x[0-9a-f]+ (?:"(.*)"|\(has no name\)): .*?'
            r"(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)"
        )
        for line in tree:
            match = pattern.match(line)
            if match:
                indent, name, w, h, x, y = match.groups()
                found.append((name or "", Geometry(int(x), int(y), int(w), int(h)), len(indent)))
        return found

    def window(self, name: str) -> Geometry | None:
        for found, geometry, _ in self.windows():
            if found == name:
                return geometry
        return None

    def tray_icon(self, name: str) -> Geometry | None:
        """The geometry of the icon ``name`` embedded in trayer's panel, once it is there."""
        inside = False
        panel_depth = 0
        for found, geometry, depth in self.windows():
            if found == "panel":
                inside, panel_depth = True, depth
                continue
            if inside and depth <= panel_depth:
                inside = False
            if inside and found == name and geometry.width > 1:
                return geometry
        return None

    def wait_for(
        self,
        condition: Callable[[], object],
        timeout: float = 10.0,
        message: str | None = None,
        interval: float = 0.02,
    ) -> object | None:
        """Poll an external condition (the X server has no event we can wait on from here).

        Its first true value; on timeout ``None``, or an AssertionError saying ``message``.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                if message is not None:
                    raise AssertionError(message)
                return None
            time.sleep(interval)

    def pixels(self, area: Geometry) -> bytes:
        """The RGB bytes of ``area`` of the screen as it is now."""
        crop = f"{area.width}x{area.height}+{area.x}+{area.y}"
        return subprocess.run(
            ["import", "-window", "root", "-crop", crop, "-depth", "8", "rgb:-"],
            env=self.env,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout

    def wait_painted(self, area: Geometry, timeout: float = 10.0) -> None:
        """Wait until a window just mapped over the (black) root has drawn itself in ``area``:
        most of it is no longer black, and two looks in a row see the same picture."""
        last: list[bytes] = []

        def settled() -> bool:
            now = self.pixels(area)
            painted = now.count(0) < len(now) // 2
            stable = bool(last) and last[-1] == now
            last.append(now)
            return painted and stable

        self.wait_for(settled, timeout, "the window never finished drawing", interval=0.1)

    def screenshot(self, path: Path, area: Geometry | None = None, margin: int = 8) -> Path:
        """The screen, or only ``area`` (with ``margin`` pixels around it), as a PNG."""
        path.parent.mkdir(parents=True, exist_ok=True)
        crop: list[str] = []
        if area is not None:
            x, y = max(0, area.x - margin), max(0, area.y - margin)
            crop = ["-crop", f"{area.width + 2 * margin}x{area.height + 2 * margin}+{x}+{y}"]
        subprocess.run(
            ["import", "-window", "root", *crop, "+repage", str(path)],
            env=self.env,
            check=True,
            timeout=30,
        )
        return path

    # -- input ----------------------------------------------------------------------------------

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=10)

    def press(self, keys: str) -> float:
        """Press a key combination; returns ``time.monotonic()`` just before the press."""
        started = time.monotonic()
        self.xdotool("key", "--clearmodifiers", keys)
        return started

    @contextmanager
    def clipboard(self, text: str, selection: str = "clipboard") -> Iterator[None]:
        """Own the clipboard (or ``primary``) with ``text`` while the block runs."""
        owner = subprocess.Popen(
            ["xclip", "-quiet", "-selection", selection, "-i"],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        assert owner.stdin is not None
        owner.stdin.write(text.encode())
        owner.stdin.close()
        try:
            check = ["xclip", "-o", "-selection", selection]
            if (
                self.wait_for(
                    lambda: (
                        subprocess.run(check, env=self.env, capture_output=True, text=True).stdout
                        == text
                    )
                )
                is None
            ):
                raise HarnessError("xclip did not take the clipboard")
            yield
        finally:
            owner.terminate()
            owner.wait(timeout=5)

    # -- the end --------------------------------------------------------------------------------

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self._processes.clear()
        shutil.rmtree(self.root, ignore_errors=True)
