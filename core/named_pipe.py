"""The single-instance channel on Windows: a named pipe of the user's own, and the app's mutex.

:mod:`.ipc` speaks the same protocol over it as over the Unix socket elsewhere; this module is
only the Windows transport, kept apart because its calls exist only there:

* **The pipe** is ``\\\\.\\pipe\\VoxTray-<hash of the user's SID>``: one per user, whatever the
  session. It is created with a protected DACL that grants the current user, and nobody else
  (administrators and SYSTEM included), access, and with ``PIPE_REJECT_REMOTE_CLIENTS``. The
  first instance is created with ``FILE_FLAG_FIRST_PIPE_INSTANCE``: if the name is taken, a
  VoxTray of this user already serves it (:class:`~.errors.AlreadyRunningError`).
* **The client** refuses a pipe whose owner is not the current user (someone who squatted the
  name), as the Unix client refuses a socket file another user owns.
* **The mutex** :data:`~.ipc.INSTANCE_MUTEX` is held while the server runs, so that the
  installer (Inno Setup's ``AppMutex``) sees that VoxTray runs and waits for it to quit.

The server rides on asyncio's proactor (qasync's event loop on Windows is one): pipe instances
are accepted with ``IocpProactor.accept_pipe`` and served as duplex pipe transports, as
``ProactorEventLoop.start_serving_pipe`` does, but with the DACL, which asyncio cannot pass.
The pure parts (the name, the DACL's text) are tested everywhere; the rest only on Windows.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from .errors import AlreadyRunningError, InstanceError, InstanceUnavailableError

PIPE_PREFIX = "\\\\.\\pipe\\VoxTray-"

_SID = re.compile(r"S-1(-\d+){1,15}")
_PIPE_TYPE_BYTE = _PIPE_READMODE_BYTE = 0x0  # _winapi names only the message-mode flags
_PIPE_REJECT_REMOTE_CLIENTS = 0x00000008
_BUFFER = 64 * 1024

ClientConnected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def pipe_name(user_sid: str) -> str:
    """The user's pipe: the same in every session of theirs, another for every other user."""
    return PIPE_PREFIX + hashlib.sha256(user_sid.encode("ascii")).hexdigest()[:24]


def owner_only_sddl(user_sid: str) -> str:
    """A security descriptor (SDDL) owned by ``user_sid`` whose protected DACL lets only it in.

    The owner is named, not left to the token's default: an elevated process would otherwise
    make the Administrators group the owner, and the client checks the owner.
    """
    if not _SID.fullmatch(user_sid):
        raise ValueError(f"not a SID: {user_sid!r}")
    return f"O:{user_sid}D:P(A;;GA;;;{user_sid})"


def _not_windows() -> InstanceUnavailableError:
    return InstanceUnavailableError("Named pipes exist only on Windows.")


# -- Windows calls (ctypes) ---------------------------------------------------------------------


class _Api:
    """advapi32 and kernel32, typed as far as VoxTray uses them (built on first use)."""

    ctypes: Any
    wintypes: Any
    kernel32: Any
    advapi32: Any
    SecurityAttributes: Any

    def __init__(self) -> None:
        if sys.platform != "win32":  # mypy: the rest is Windows-only
            raise _not_windows()
        import ctypes
        from ctypes import wintypes

        self.ctypes = ctypes
        self.wintypes = wintypes
        self.kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        self.advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)

        class SecurityAttributes(ctypes.Structure):
            _fields_ = [
                ("nLength", wintypes.DWORD),
                ("lpSecurityDescriptor", wintypes.LPVOID),
                ("bInheritHandle", wintypes.BOOL),
            ]

        self.SecurityAttributes = SecurityAttributes

    def error(self, what: str) -> OSError:
        code = self.ctypes.get_last_error()
        return OSError(code, f"{what} failed (Windows error {code})")

    def sid_text(self, sid: Any) -> str:
        text = self.wintypes.LPWSTR()
        if not self.advapi32.ConvertSidToStringSidW(sid, self.ctypes.byref(text)):
            raise self.error("ConvertSidToStringSidW")
        try:
            return str(text.value)
        finally:
            self.kernel32.LocalFree(text)

    def current_user_sid(self) -> str:
        ctypes, wintypes = self.ctypes, self.wintypes
        token = wintypes.HANDLE()
        token_query = 0x0008
        process = self.kernel32.GetCurrentProcess()
        if not self.advapi32.OpenProcessToken(process, token_query, ctypes.byref(token)):
            raise self.error("OpenProcessToken")
        try:
            size = wintypes.DWORD()
            token_user = 1
            self.advapi32.GetTokenInformation(token, token_user, None, 0, ctypes.byref(size))
            buffer = ctypes.create_string_buffer(size.value)
            if not self.advapi32.GetTokenInformation(
                token, token_user, buffer, size, ctypes.byref(size)
            ):
                raise self.error("GetTokenInformation")
            sid = ctypes.cast(buffer, ctypes.POINTER(wintypes.LPVOID))[0]  # TOKEN_USER.User.Sid
            return self.sid_text(sid)
        finally:
            self.kernel32.CloseHandle(token)

    def pipe_owner_sid(self, handle: int) -> str:
        ctypes, wintypes = self.ctypes, self.wintypes
        owner, descriptor = wintypes.LPVOID(), wintypes.LPVOID()
        se_kernel_object, owner_security_information = 6, 0x1
        status = self.advapi32.GetSecurityInfo(
            wintypes.HANDLE(handle),
            se_kernel_object,
            owner_security_information,
            ctypes.byref(owner),
            None,
            None,
            None,
            ctypes.byref(descriptor),
        )
        if status:
            raise OSError(status, f"GetSecurityInfo failed (Windows error {status})")
        try:
            return self.sid_text(owner)
        finally:
            self.kernel32.LocalFree(descriptor)


class OwnerOnly:
    """``SECURITY_ATTRIBUTES`` for objects only the current user may open; :meth:`close` frees
    them. ``address`` is what ``_winapi.CreateNamedPipe`` takes."""

    def __init__(self, api: _Api, user_sid: str) -> None:
        ctypes = api.ctypes
        self._api = api
        self._descriptor = api.wintypes.LPVOID()
        revision = 1
        if not api.advapi32.ConvertStringSecurityDescriptorToSecurityDescriptorW(
            owner_only_sddl(user_sid), revision, ctypes.byref(self._descriptor), None
        ):
            raise api.error("ConvertStringSecurityDescriptorToSecurityDescriptorW")
        self._attributes = api.SecurityAttributes(
            ctypes.sizeof(api.SecurityAttributes), self._descriptor, False
        )
        self.address = ctypes.addressof(self._attributes)

    def close(self) -> None:
        if self._descriptor:
            self._api.kernel32.LocalFree(self._descriptor)
            self._descriptor = self._api.wintypes.LPVOID()


class InstanceMutex:
    """The named mutex the installer looks for, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._handle: int | None = None

    def acquire(self) -> None:
        api = _Api()
        handle = api.kernel32.CreateMutexW(None, False, self._name)
        if not handle:
            raise api.error("CreateMutexW")
        # ERROR_ALREADY_EXISTS: another VoxTray runs in this session; the pipe decides whether
        # it is this user's (an already running instance) — the handle keeps the mutex alive.
        self._handle = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            _Api().kernel32.CloseHandle(handle)


# -- server -------------------------------------------------------------------------------------


class PipeListener:
    """Accepts connections on the user's pipe and hands each to ``client_connected`` as a
    stream pair (as ``asyncio.start_server`` does). Start with :meth:`start`; :meth:`close`."""

    def __init__(self, client_connected: ClientConnected, *, limit: int) -> None:
        self._client_connected = client_connected
        self._limit = limit
        self._closed = False
        self._pipe: Any = None  # the instance waiting for a client (a windows_utils.PipeHandle)
        self._accepting: asyncio.Future[Any] | None = None
        self._security: OwnerOnly | None = None
        self.name = ""

    def start(self) -> None:
        """Create the first instance and accept on it. Raises AlreadyRunningError."""
        if sys.platform != "win32":  # mypy: the rest is Windows-only
            raise _not_windows()
        api = _Api()
        user = api.current_user_sid()
        self.name = pipe_name(user)
        self._security = OwnerOnly(api, user)
        try:
            self._pipe = self._instance(first=True)
        except PermissionError as exc:  # ERROR_ACCESS_DENIED: the name is served already
            self.close()
            raise AlreadyRunningError("VoxTray is already running.") from exc
        except BaseException:
            self.close()
            raise
        asyncio.get_running_loop().call_soon(self._accept)

    def _instance(self, *, first: bool) -> Any:
        if sys.platform != "win32":  # mypy: the rest is Windows-only
            raise _not_windows()
        import _winapi
        from asyncio import windows_utils

        assert self._security is not None
        flags = _winapi.PIPE_ACCESS_DUPLEX | _winapi.FILE_FLAG_OVERLAPPED
        if first:
            flags |= _winapi.FILE_FLAG_FIRST_PIPE_INSTANCE
        handle = _winapi.CreateNamedPipe(
            self.name,
            flags,
            _PIPE_TYPE_BYTE | _PIPE_READMODE_BYTE | _winapi.PIPE_WAIT | _PIPE_REJECT_REMOTE_CLIENTS,
            _winapi.PIPE_UNLIMITED_INSTANCES,
            _BUFFER,
            _BUFFER,
            _winapi.NMPWAIT_WAIT_FOREVER,
            self._security.address,
        )
        return windows_utils.PipeHandle(handle)

    def _accept(self, done: asyncio.Future[Any] | None = None) -> None:
        """The accept loop of ``ProactorEventLoop.start_serving_pipe``, on our own instances."""
        loop: Any = asyncio.get_running_loop()
        try:
            if done is not None:
                connected = done.result()
                if self._closed:
                    connected.close()
                    return
                reader = asyncio.StreamReader(limit=self._limit)
                protocol = asyncio.StreamReaderProtocol(reader, self._client_connected)
                loop._make_duplex_pipe_transport(connected, protocol, extra={"addr": self.name})
                self._pipe = self._instance(first=False)
            if self._closed:
                return
            self._accepting = loop._proactor.accept_pipe(self._pipe)
        except asyncio.CancelledError:
            return
        except OSError:
            # A client that left before it was accepted, or a failed instance: start over on
            # a fresh one, so the pipe name never disappears while the server runs.
            if self._closed:
                return
            if self._pipe is not None:
                self._pipe.close()
            self._pipe = self._instance(first=False)
            loop.call_soon(self._accept)
            return
        self._accepting.add_done_callback(self._accept)

    def close(self) -> None:
        self._closed = True
        accepting, self._accepting = self._accepting, None
        if accepting is not None:
            accepting.cancel()
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.close()
        security, self._security = self._security, None
        if security is not None:
            security.close()


# -- client -------------------------------------------------------------------------------------


async def exchange(request: bytes, *, limit: int) -> bytes | None:
    """Send one request line to this user's VoxTray and read the reply line.

    ``None`` when no instance serves the pipe; ``b""`` when it hung up without answering.
    Raises :class:`~.errors.InstanceError` for a pipe another user owns.
    """
    if sys.platform != "win32":  # mypy: the rest is Windows-only
        raise _not_windows()
    api = _Api()
    user = api.current_user_sid()
    name = pipe_name(user)
    loop: Any = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    try:
        transport, _ = await loop.create_pipe_connection(
            lambda: asyncio.StreamReaderProtocol(reader), name
        )
    except FileNotFoundError:
        return None
    try:
        pipe = transport.get_extra_info("pipe")
        if pipe is None or api.pipe_owner_sid(pipe.handle) != user:
            raise InstanceError(f"{name} belongs to another user; it was not used.")
        transport.write(request)
        try:
            line: bytes = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            return b""
        return line[:-1]
    finally:
        transport.close()
