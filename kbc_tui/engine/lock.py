"""The project's runner lock: one process per project executes jobs (``.kbc/runner.lock``, fcntl).

The file holds the holder's pid; a holder that releases the lock writes ``stopped`` after it, so the next
holder knows whether the one before it stopped cleanly or died (then it cleans up after it).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from kbc_tui.store.private import FILE_MODE, private_dir, tighten


class RunnerLock:
    STOPPED = "stopped"

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        #: after ``try_acquire``: whether the previous holder released the lock (False: it died, or none ran)
        self.previous_stopped_cleanly = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        tighten(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        before = os.pread(fd, 64, 0).decode(errors="replace").split()
        self.previous_stopped_cleanly = before[1:2] == [self.STOPPED]
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            try:
                try:
                    os.pwrite(self._fd, f"{os.getpid()}\n{self.STOPPED}\n".encode(), 0)
                except OSError:
                    pass  # a full disk: the next holder cleans up as after a crash
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def abandon(self) -> None:
        """Give the lock up without writing ``stopped`` (from any thread, e.g. a watchdog ending a wedged process):
        the next holder cleans up as after a crash. The descriptor stays open (the process is about to end);
        unlocking also frees the lock when a forked child shares the descriptor."""
        fd = self._fd
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError:
                pass

    def holder_pid(self) -> int | None:
        try:
            return int(self.path.read_text().split()[0]) or None
        except (OSError, ValueError, IndexError):
            return None
