"""An exclusive lock on a file, held by one process until it releases it or dies.

The operating system drops the lock with the process, so a crashed holder never leaves a stale
lock behind. The holder writes its process id into the file, for the error of the next one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = ["FileLock"]

_PID_OFFSET = 16
"""Where the holder's pid is written: past the byte Windows locks, so others can read it."""


class FileLock:
    """A non-blocking exclusive lock on `path` (created 0600 if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, held={self._fd is not None})"

    def try_acquire(self) -> bool:
        """Take the lock and record our pid; False when another process holds it.

        Raises `OSError` when the file cannot be opened."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _lock(fd):
            os.close(fd)
            return False
        try:
            os.ftruncate(fd, _PID_OFFSET)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), _PID_OFFSET)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def holder_pid(self) -> int | None:
        """The pid the current holder recorded, if any can be read."""
        try:
            with self.path.open("rb") as file:
                file.seek(_PID_OFFSET)
                text = file.read(32).decode("ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        """Give the lock back (closing the file releases it)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
