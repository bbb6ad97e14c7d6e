"""The tray app: a QApplication on the qasync loop, wiring the narrator to the tray, the
hotkeys, the windows and the single-instance channel.

Start-up order matters:

1. the single-instance server first: if another VoxTray of this user already runs, nothing
   else is started (no second sound card stream);
2. the narrator (opens the output, warms the voice in the background);
3. tray icon, hotkeys, first-run drop window; then the server starts answering (commands that
   arrived meanwhile wait for :attr:`TrayApp.ready`).

Shutdown (Quit, ``voxtray quit``, SIGTERM, SIGINT) runs the same path in reverse: hotkeys
released, the server closed (a ``quit`` reply is still delivered), the statistics saved for
``voxtray stats``, the narrator closed (its tasks, the audio stream and the voice threads), the
icon hidden. Every task the app starts is owned here and cancelled and awaited on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget
from voxtray.core.audio.output import AudioOutput, OutputDevice, ReconfigurableOutput
from voxtray.core.audio.player import list_output_devices
from voxtray.core.engine import (
    ApiKeyHolder,
    build_narrator,
    default_providers,
    export_providers,
    sound_output,
)
from voxtray.core.errors import (
    AlreadyRunningError,
    InputError,
    InstanceUnavailableError,
    VoxTrayError,
)
from voxtray.core.ipc import Command, InstanceServer, Reply
from voxtray.core.model import Priority, RequestId, SpeakRequest, TextUnit, Voice, VoiceRef
from voxtray.core.narrator import Narrator, RequestHandle
from voxtray.core.paths import atomic_write, last_stats_file, state_dir
from voxtray.core.providers.elevenlabs.provider import ElevenLabsProvider
from voxtray.core.providers.registry import ProviderRegistry
from voxtray.core.secrets import adelete_api_key, aset_api_key
from voxtray.core.settings import Settings, load_settings, save_settings
from voxtray.core.stats import save_snapshot
from voxtray.core.text.readers import probe_document

from .autostart import APP_ID
from .bridge import NarratorBridge, TrayState
from .clipboard import ClipboardEmptyError, Source, read_text
from .export import Exporter
from .notices import Level, Notice, Notifier
from .transcript import Transcript
from .tray import TrayIcon, state_icon
from .windows.drop import DropWindow

_LOG = logging.getLogger("voxtray.desktop")

WELCOMED_FILE = "welcomed"
"""A marker in the state dir: the drop window was shown once, on the first run."""


class TrayApp(QObject):
    """The running app. ``await run()`` returns the exit code when the user quits."""

    def __init__(
        self,
        settings: Settings,
        *,
        narrator: Narrator | None = None,
        providers: ProviderRegistry | None = None,
        instance_dir: Path | None = None,
        hotkeys: bool = True,
        save: bool = True,
        warnings: tuple[str, ...] = (),
        notice_window: float = 5.0,
        output: AudioOutput | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self._api_key = ApiKeyHolder()
        self._providers = providers or default_providers(settings, api_key=self._api_key)
        self.output: AudioOutput | None = None
        """The app's own output (the sound card unless given); ``None`` with a given narrator."""
        if narrator is None:
            self.output = output or sound_output(settings, on_device_change=self._device_lost)
            narrator = build_narrator(settings, providers=self._providers, output=self.output)
        self.narrator = narrator
        self._chores: set[asyncio.Task[None]] = set()
        self._closing_dialogs: set[Any] = set()
        """Settings dialogs closed while a key was being saved or removed."""
        """Short tasks started by user actions (key reads, output switches), owned here."""
        self._save = save
        self._use_hotkeys = hotkeys
        self._warnings = warnings
        self.server = InstanceServer(self.handle_command, directory=instance_dir)
        self._serving = False
        self.ready = asyncio.Event()
        self._quit = asyncio.Event()
        self._voices_task: asyncio.Task[None] | None = None
        self.hotkeys: Any = None  # a HotkeyBackend, when the session has one
        self.bridge = NarratorBridge(self.narrator, self)
        self.tray = TrayIcon(self.narrator.queue, self)
        self.notifier = Notifier(self._show_notice, window=notice_window, parent=self)
        # Exports get providers of their own (the live voice keeps its core) and the same key.
        self.exporter = Exporter(
            lambda: self.settings,
            lambda settings: export_providers(settings, spare_cores=1, api_key=self._api_key),
            self.notify,
            self,
        )
        self.drop = DropWindow()
        self.drop.setWindowIcon(state_icon(TrayState.IDLE))
        self.stats_window: QWidget | None = None
        # The reading window can open at any time and show the current request from its
        # start: its text is collected from now on, the window itself made on first use.
        self.transcript = Transcript(self.bridge, self)
        self.reader_window: QWidget | None = None
        self.settings_dialog: QWidget | None = None
        self._connect()

    # -- life cycle ---------------------------------------------------------------------------

    async def run(self) -> int:
        try:
            await self.start()
        except AlreadyRunningError:
            print("voxtray: VoxTray is already running.", file=sys.stderr)
            await self.shutdown()
            return 0
        try:
            await self._quit.wait()
        finally:
            await self.shutdown()
        return 0

    async def start(self) -> None:
        """Everything up, in the order of the module docstring. Raises AlreadyRunningError."""
        try:
            await self.server.start()
            self._serving = True
        except InstanceUnavailableError as error:
            _LOG.warning("%s", error)
        if self.settings.voice.provider == "elevenlabs":
            await self._load_api_key()
        try:
            await self.narrator.start()
        except VoxTrayError as error:
            self.bridge.report_error()
            self.notify("VoxTray cannot speak", str(error))
        self.tray.set_state(self.bridge.state)
        self.tray.set_speed(self.settings.voice.rate)
        self.tray.show()
        if self._use_hotkeys:
            self._start_hotkeys()
        for warning in self._warnings:
            self.notify("VoxTray settings", warning, Level.WARNING)
        if self._first_run():
            self.drop.show_and_raise()
        self.ready.set()
        _LOG.info("VoxTray is ready (tray available: %s)", self.tray_available())

    async def _load_api_key(self) -> None:
        """Read the cloud key off the event loop now, so no request reads it on the loop.

        A keyring that is locked (a prompt nobody answers) or absent must not hold the tray:
        after a few seconds the app goes on, and the cloud voice reports the problem itself.
        """
        try:
            async with asyncio.timeout(5):
                await self._api_key.aload()
        except (TimeoutError, VoxTrayError) as error:
            _LOG.warning("The ElevenLabs key could not be read yet: %s", error)

    def quit(self) -> None:
        self._quit.set()

    async def shutdown(self) -> None:
        for dialog in list(self._closing_dialogs):  # a keyring write that was asked for
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await dialog.settle()
        chores, self._chores = list(self._chores), set()
        for chore in chores:
            chore.cancel()
        await asyncio.gather(*chores, return_exceptions=True)
        task, self._voices_task = self._voices_task, None
        if task is not None:
            task.cancel()
            # Its own failure was logged when it happened; it must not stop the shutdown.
            await asyncio.gather(task, return_exceptions=True)
        await self.exporter.aclose()
        if self.hotkeys is not None:
            self.hotkeys.close()
            self.hotkeys = None
        self.notifier.stop()
        if self._serving:
            self._serving = False
            await self.server.aclose()
        if self.ready.is_set():
            with contextlib.suppress(OSError):
                save_snapshot(self.narrator.stats(), last_stats_file())
        self.bridge.close()
        await self.narrator.aclose()
        self.tray.hide()
        for window in (self.drop, self.stats_window, self.settings_dialog, self.reader_window):
            if window is not None:
                window.close()

    def load_voices(self) -> None:
        """Fill Voice ▸ in the background, once, the first time the menu opens.

        Not at start-up: a cloud provider lists its voices over the network and reads its key
        from the keyring, and neither may delay the tray icon or the first hotkey.
        """
        if self._voices_task is None and self.ready.is_set():
            self._voices_task = asyncio.get_running_loop().create_task(self._load_voices())

    def dispose(self) -> None:
        """After :meth:`shutdown`: delete the windows and the icon (Qt objects) right away."""
        for window in (self.drop, self.stats_window, self.settings_dialog, self.reader_window):
            if window is not None:
                window.deleteLater()
        self.stats_window = self.settings_dialog = self.reader_window = None
        self.tray.deleteLater()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)

    def tray_available(self) -> bool:
        from PySide6.QtWidgets import QSystemTrayIcon

        return QSystemTrayIcon.isSystemTrayAvailable()

    # -- actions (menu, hotkeys, drop window, other processes) ----------------------------------

    def speak(
        self,
        *,
        text: str | None = None,
        source: Path | None = None,
        interrupt: bool = False,
        rate: float | None = None,
        voice: VoiceRef | None = None,
        from_start: bool = False,
    ) -> RequestHandle:
        """Queue a request with the user's rate; raises VoxTrayError (empty text…)."""
        if self.narrator.paused and interrupt:
            self.bridge.resume()  # "read now" means now
        request = SpeakRequest(
            text=text,
            source=source,
            priority=Priority.HIGH if interrupt else Priority.NORMAL,
            voice=voice,
            interrupt=interrupt,
            rate=self.settings.voice.rate if rate is None else rate,
            from_start=from_start,
        )
        try:
            return self.narrator.speak(request)
        except RuntimeError as exc:  # the output never opened: the narrator is not running
            raise VoxTrayError("VoxTray cannot speak: the audio output is not open.") from exc

    def read_clipboard(self, source: Source = "clipboard", *, interrupt: bool) -> RequestHandle:
        """Read the clipboard or the selection; raises ClipboardEmptyError or VoxTrayError."""
        return self.speak(text=read_text(source), interrupt=interrupt)

    def read_now(self) -> RequestHandle | None:
        keys = self.settings.hotkeys
        interrupt = keys.read_now_while_playing == "interrupt"
        source: Source = "selection" if keys.read_now_source == "selection" else "clipboard"
        return self._user_action(lambda: self.read_clipboard(source, interrupt=interrupt))

    def read_next(self) -> RequestHandle | None:
        source: Source = (
            "selection" if self.settings.hotkeys.read_now_source == "selection" else "clipboard"
        )
        return self._user_action(lambda: self.read_clipboard(source, interrupt=False))

    def _user_action(self, action: Callable[[], RequestHandle]) -> RequestHandle | None:
        """Run a user's action; what goes wrong becomes a notice, never an exception."""
        try:
            return action()
        except ClipboardEmptyError as empty:
            self.notify("Nothing to read", str(empty), Level.INFO)
        except VoxTrayError as error:
            self.notify("VoxTray could not read that", str(error))
        return None

    def choose_voice(self, voice: VoiceRef) -> None:
        self._with_key(voice.provider, lambda: self._use_voice(voice))

    def _use_voice(self, voice: VoiceRef) -> None:
        self.narrator.default_voice = voice
        self._store(
            self.settings.replace(
                voice=self.settings.voice.replace(
                    provider=voice.provider, voice=voice.voice_id or ""
                )
            )
        )
        self.tray.set_current_voice(voice)

    def _move(self, command: str, unit: str) -> None:
        """A transport entry of the tray menu: skip or rewind by ``unit``."""
        move = self.narrator.skip if command == "skip" else self.narrator.rewind
        move(TextUnit(unit))

    def choose_speed(self, rate: float) -> None:
        """The new speed for what comes next, and for what plays now from its sentence on."""
        self._store(self.settings.replace(voice=self.settings.voice.replace(rate=rate)))
        self.tray.set_speed(rate)
        self.narrator.change_rate(rate)

    def apply_settings(self, settings: Settings) -> None:
        """New settings from the settings dialog: store them and apply what can be live."""
        hotkeys_changed = settings.hotkeys != self.settings.hotkeys
        old_audio, audio = self.settings.audio, settings.audio
        self._store(settings)
        self._with_key(settings.voice.provider, lambda: self._set_default(settings.voice.ref))
        self.narrator.volume = settings.audio.volume
        if (audio.device, audio.latency) != (old_audio.device, old_audio.latency):
            self._own(self._switch_output(audio.device, audio.latency), "voxtray-output-switch")
        self.tray.set_current_voice(settings.voice.ref)
        self.tray.set_speed(settings.voice.rate)
        if hotkeys_changed and self.hotkeys is not None:
            self._register_hotkeys()

    def _set_default(self, voice: VoiceRef) -> None:
        self.narrator.default_voice = voice

    async def _switch_output(self, device: str, latency: float) -> None:
        """Device and latency from the settings, at once (the speech goes on there)."""
        output = self.output
        if not isinstance(output, ReconfigurableOutput):
            return  # a sink, or a narrator given from outside: nothing to switch
        try:
            await output.reconfigure(device or None, latency)
        except VoxTrayError as error:
            self.notify("Audio output not changed", str(error), Level.WARNING)

    def _device_lost(self, device: str, reason: str) -> None:
        self.narrator.device_changed(device, reason)

    # -- the ElevenLabs key: read, saved and deleted off the event loop ----------------------

    def _with_key(self, provider: str, then: Callable[[], None]) -> None:
        """Run ``then`` now, or, for the cloud voice with its key not read yet, once the key
        was read in a thread: the request that follows must not read the keyring on the loop."""
        if provider != "elevenlabs" or self._api_key.loaded:
            then()
            return

        async def read_then() -> None:
            await self._load_api_key()
            then()

        self._own(read_then(), "voxtray-read-key")

    async def _save_key(self, key: str) -> None:
        await aset_api_key("elevenlabs", key)
        self._api_key.invalidate()  # the next cloud request uses the new key
        await self._load_api_key()

    async def _delete_key(self) -> bool:
        removed = await adelete_api_key("elevenlabs")
        self._api_key.invalidate()
        await self._load_api_key()
        return removed

    async def _voices_of(self, provider_id: str) -> list[Voice]:
        """A provider's voices; the cloud's need the key, read first in a thread (listing
        must not read the keyring on the loop)."""
        if provider_id == "elevenlabs" and not self._api_key.loaded:
            await self._load_api_key()
        return await self._providers.get(provider_id).voices()

    async def _stored_key(self) -> str | None:
        """The stored key, masked. A keyring that cannot be read raises, for the dialog to say
        so (``_load_api_key`` would only log it, and "no key" would be shown)."""
        if not self._api_key.loaded:
            async with asyncio.timeout(5):
                await self._api_key.aload()
        return self._api_key.masked

    async def _key_status(self) -> str:
        if not self._api_key.loaded:
            await self._load_api_key()
        provider = self._providers.get("elevenlabs")
        if not isinstance(provider, ElevenLabsProvider):
            return "The ElevenLabs voice is not available here."
        plan = await provider.subscription()
        return (
            f"The key works: {plan.tier} plan, {plan.character_count:,} of "
            f"{plan.character_limit:,} characters used."
        )

    def _own(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._chores.add(task)
        task.add_done_callback(self._chore_done)

    def _chore_done(self, task: asyncio.Task[None]) -> None:
        self._chores.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            _LOG.error("%s failed", task.get_name(), exc_info=error)

    def notify(self, title: str, message: str, level: Level = Level.ERROR) -> None:
        self.notifier.notify(title, message, level)

    def show_stats(self) -> None:
        if self.stats_window is None:
            try:
                from .windows.stats import StatsWindow
            except ImportError as exc:  # pragma: no cover - only while the window is missing
                self.notify("Stats", f"The stats window is not available ({exc}).")
                return
            self.stats_window = StatsWindow(self.narrator.stats, self.narrator.queue, self._cancel)
        self.stats_window.show()
        self.stats_window.raise_()
        self.stats_window.activateWindow()

    def show_reader(self) -> None:
        if self.reader_window is None:
            from .windows.reader import ReaderWindow

            self.reader_window = ReaderWindow(self.transcript)
        self.reader_window.show()
        self.reader_window.raise_()
        self.reader_window.activateWindow()

    def show_settings(self) -> None:
        if self.settings_dialog is None:
            try:
                from .windows.settings import SettingsDialog
            except ImportError as exc:  # pragma: no cover - only while the dialog is missing
                self.notify("Settings", f"The settings dialog is not available ({exc}).")
                return
            dialog = SettingsDialog(
                self.settings,
                voices=self._voices_of,
                devices=_output_devices,
                key_status=self._key_status,
                save_key=self._save_key,
                delete_key=self._delete_key,
                stored_key=self._stored_key,
            )
            dialog.saved.connect(self.apply_settings)
            dialog.finished.connect(self._settings_closed)
            self.settings_dialog = dialog
        self.settings_dialog.show()
        self.settings_dialog.raise_()
        self.settings_dialog.activateWindow()

    def _settings_closed(self, _result: int = 0) -> None:
        dialog, self.settings_dialog = self.settings_dialog, None
        if dialog is not None:  # the next one opens with the settings as they are then
            self._closing_dialogs.add(dialog)
            self._own(self._dispose_dialog(dialog), "voxtray-settings-closed")

    async def _dispose_dialog(self, dialog: Any) -> None:
        """Delete a closed settings dialog once the key it was saving or removing is written:
        that was asked for, and it reports into the dialog's own labels."""
        try:
            await dialog.settle()
        finally:
            self._closing_dialogs.discard(dialog)
            dialog.deleteLater()

    # -- the single-instance channel ----------------------------------------------------------

    async def handle_command(self, command: Command) -> Reply:
        await self.ready.wait()
        name = command["cmd"]
        if name == "speak":
            return self._remote_speak(command)
        if name == "read-clipboard":
            keys = self.settings.hotkeys
            source: Source = "selection" if keys.read_now_source == "selection" else "clipboard"
            interrupt = keys.read_now_while_playing == "interrupt"
            try:
                handle = self.read_clipboard(source, interrupt=interrupt)
            except ClipboardEmptyError as empty:
                self.notify("Nothing to read", str(empty), Level.INFO)
                raise InputError(str(empty)) from None
            return {"request_id": int(handle.request_id)}
        if name == "stop":
            return {"canceled": self.bridge.stop()}
        if name == "pause":
            self.bridge.pause()
        elif name == "resume":
            self.bridge.resume()
        elif name == "skip":
            return {"skipped": self.narrator.skip(TextUnit(command.get("unit", "sentence")))}
        elif name == "rewind":
            return {"rewound": self.narrator.rewind(TextUnit(command.get("unit", "sentence")))}
        elif name == "show":
            self.drop.show_and_raise()
        elif name == "stats":
            return {"stats": self.narrator.stats().as_dict()}
        elif name == "quit":
            self.quit()
        return {}

    def _remote_speak(self, command: Command) -> Reply:
        source = Path(command["file"]) if command.get("file") is not None else None
        if source is not None:
            probe_document(source)  # a missing, binary or protected file is refused now, by name
        voice = command.get("voice")
        handle = self.speak(
            text=command.get("text"),
            source=source,
            interrupt=bool(command.get("interrupt", False)),
            rate=float(command.get("rate", self.settings.voice.rate)),
            voice=VoiceRef.parse(voice, self.settings.voice.provider) if voice else None,
            from_start=bool(command.get("from_start", False)),
        )
        return {"request_id": int(handle.request_id)}

    # -- wiring -------------------------------------------------------------------------------

    def _connect(self) -> None:
        bridge, tray, drop = self.bridge, self.tray, self.drop
        bridge.stateChanged.connect(tray.set_state)
        bridge.failed.connect(
            lambda _id, reason, _permanent: self.notify("VoxTray could not read that", reason)
        )
        bridge.fellBack.connect(
            lambda _id, _from, to, reason: self.notify(
                "VoxTray switched voices", f"{reason} Going on with the {to} voice.", Level.WARNING
            )
        )
        bridge.warning.connect(lambda _id, message: self.notify("VoxTray", message, Level.WARNING))
        bridge.quotaLow.connect(
            lambda provider, used, limit: self.notify(
                f"{'ElevenLabs' if provider == 'elevenlabs' else provider} quota almost used up",
                f"{used:,} of {limit:,} characters used ({used / limit:.0%}).",
                Level.WARNING,
            )
        )
        bridge.deviceChanged.connect(
            lambda device, reason: self.notify(
                "Audio output changed", f"Now playing on {device}: {reason}", Level.INFO
            )
        )
        tray.readClipboard.connect(
            lambda: self._user_action(lambda: self.read_clipboard("clipboard", interrupt=True))
        )
        tray.readSelection.connect(
            lambda: self._user_action(lambda: self.read_clipboard("selection", interrupt=True))
        )
        tray.pauseToggled.connect(bridge.toggle_pause)
        tray.skip.connect(self.narrator.skip)
        tray.move.connect(self._move)
        tray.stop.connect(bridge.stop)
        tray.cancel.connect(self._cancel)
        tray.voiceChosen.connect(self.choose_voice)
        tray.speedChosen.connect(self.choose_speed)
        tray.openFile.connect(drop.choose_file)
        tray.exportFile.connect(self.exporter.choose)
        tray.cancelExport.connect(self.exporter.cancel)
        self.exporter.progressed.connect(tray.set_export)
        tray.showDropWindow.connect(drop.show_and_raise)
        tray.showStats.connect(self.show_stats)
        tray.showReader.connect(self.show_reader)
        tray.showSettings.connect(self.show_settings)
        tray.quit.connect(self.quit)
        tray.voice_menu.aboutToShow.connect(self.load_voices)
        drop.fileDropped.connect(lambda path: self._user_action(lambda: self.speak(source=path)))
        drop.textDropped.connect(lambda text: self._user_action(lambda: self.speak(text=text)))
        drop.rejected.connect(lambda message: self.notify("Not queued", message, Level.WARNING))

    def _cancel(self, request_id: int) -> None:
        self.narrator.cancel(RequestId(request_id))

    def _show_notice(self, notice: Notice) -> None:
        _LOG.warning("notice: %s: %s", notice.title, notice.message)
        if self.tray_available() and self.tray.is_visible():
            self.tray.show_notice(notice)
        else:  # no tray host (some GNOME sessions): the drop window is the app's face
            self.drop.status.setText(f"{notice.title}: {notice.message}")
            self.drop.show_and_raise()

    def _start_hotkeys(self) -> None:
        try:
            from .hotkeys.base import create_hotkey_backend, hotkeys_unavailable_reason
        except ImportError as exc:  # pragma: no cover - only while the backends are missing
            _LOG.warning("Global hotkeys are not available: %s", exc)
            return
        self.hotkeys = create_hotkey_backend()
        if self.hotkeys is None:
            reason = hotkeys_unavailable_reason() or "this session offers none"
            self.notify(
                "Global hotkeys are off",
                f"Global hotkeys are not available: {reason}. Bind `voxtray read-clipboard`, "
                "`voxtray stop` and the other commands to keys in your desktop's settings.",
                Level.WARNING,
            )
            return
        if hasattr(self.hotkeys, "problem_handler"):  # the portal answers later, by signal
            self.hotkeys.problem_handler = lambda text: self.notify(
                "Hotkey not available", text, Level.WARNING
            )
        self._register_hotkeys()

    def _register_hotkeys(self) -> None:
        from .hotkeys.base import HotkeyUnavailableError, InvalidHotkeyError

        backend = self.hotkeys
        backend.unregister_all()
        keys = self.settings.hotkeys
        actions: list[tuple[str, str, Callable[[], object]]] = [
            (keys.read_now, "read now", self.read_now),
            (keys.read_next, "read next", self.read_next),
            (keys.stop, "stop", self.bridge.stop),
            (keys.pause, "pause", self.bridge.toggle_pause),
            (keys.skip, "skip", self.narrator.skip),
            (keys.rewind, "back", self.narrator.rewind),
        ]
        problems = []
        # A list, not a dict by combination: one combination set for two actions (a
        # hand-edited settings file) must reach the backend twice, which names it.
        for combo, name, action in actions:
            if not combo:
                continue  # turned off
            try:
                backend.register(combo, action)
            except HotkeyUnavailableError as taken:
                problems.append(f"{taken} ({name})")
            except InvalidHotkeyError as invalid:
                problems.append(f"{combo} cannot be used: {invalid}")
        if problems:
            self.notify("Hotkey not available", "; ".join(problems) + ".", Level.WARNING)

    async def _load_voices(self) -> None:
        voices: list[Voice] = []
        for provider_id in self._providers.ids:
            try:
                voices.extend(await self._voices_of(provider_id))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one provider's failure hides its voices, not the menu
                _LOG.info("No voices from %s: %s", provider_id, exc)
        self.tray.set_voices(voices, self.narrator.default_voice)

    def _store(self, settings: Settings) -> None:
        self.settings = settings
        if not self._save:
            return
        try:
            save_settings(settings)
        except VoxTrayError as error:
            self.notify("Settings not saved", str(error), Level.WARNING)

    def _first_run(self) -> bool:
        marker = state_dir() / WELCOMED_FILE
        if marker.exists():
            return False
        with contextlib.suppress(OSError):
            atomic_write(marker, b"")
        return True


def _output_devices() -> list[OutputDevice]:
    try:
        return list_output_devices()
    except VoxTrayError as error:  # no sound system: the dialog still offers the default
        _LOG.warning("%s", error)
        return []


def run(*, verbose: bool = False, argv: list[str] | None = None, hard_exit: bool = True) -> int:
    """Start the tray app and run it until the user quits; the process exit code.

    With ``hard_exit`` (the ``voxtray`` command), the process ends here, after the clean
    shutdown, without the interpreter's final garbage collection. That collection is where a
    binding's reference-count bug surfaces: PySide6 6.12.0 loses a reference to ``None`` on
    every void Qt call and to ``True`` on every ``Signal.emit()``, so a long session aborted at
    exit ("none_dealloc"). pyproject.toml keeps 6.12 out; the hard exit stays so that a
    similar bug in whatever binding a distribution ships cannot turn a clean quit into SIGABRT.
    Everything that matters (narrator, audio stream, socket, statistics, hotkey grabs) is
    closed and flushed before.
    """
    import qasync

    del verbose  # logging is configured by the command line
    app = QApplication.instance() or QApplication(argv or ["voxtray"])
    assert isinstance(app, QApplication)
    app.setApplicationName("VoxTray")
    app.setDesktopFileName(APP_ID)  # Wayland matches windows to the launcher and icon by it
    app.setQuitOnLastWindowClosed(False)  # closing a window leaves the tray running
    app.setWindowIcon(state_icon(TrayState.IDLE))
    loaded = load_settings()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        tray_app = TrayApp(loaded.settings, warnings=loaded.warnings)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # Windows: no Unix signals
                loop.add_signal_handler(signum, tray_app.quit)
        code: int = loop.run_until_complete(tray_app.run())
        tray_app.dispose()
    asyncio.set_event_loop(None)
    # Destroy the Qt objects now, children before the application, while the interpreter is
    # whole: left to the garbage collector at exit, PySide frees them in no particular order.
    del tray_app
    gc.collect()
    app.shutdown()
    if hard_exit:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
