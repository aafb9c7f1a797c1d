"""Ctrl+C / SIGTERM while a command starts up: end at once, with one line, even inside a blocking call.

Until ``kbc-tui run`` has queued its job and installed its own handlers (which cancel the job), a signal would
otherwise wait for the call the main thread is in: SQLite waits up to its busy timeout (30 s) for a job
history another process holds a write lock on, and Python's ``KeyboardInterrupt`` only comes after that; a
SIGTERM would kill the process without a word. Here the signal's number reaches a thread through the wake-up
file descriptor, which the C signal handler writes at once, and that thread ends the process. Nothing that
start-up writes is harmed by that: the job history (SQLite transactions), the storage and the runner lock are
made to survive a SIGKILL, which this is no worse than.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from typing import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: the exit status of a command interrupted before it did anything (the shell's 128 + SIGINT)
EXIT_INTERRUPTED = 130


class StartupInterrupt:
    """Armed from creation until ``disarm()``: a SIGINT / SIGTERM prints ``say()`` to stderr and exits 130.

    Call ``disarm()`` after the command's own handlers are in place (``loop.add_signal_handler`` takes the
    wake-up descriptor over), so that no signal falls between the two."""

    def __init__(self, say: Callable[[], str]):
        self.say = say
        self._off = threading.Lock()
        self._disarmed = False
        self._missed = b""
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)
        self._handlers = {sig: signal.signal(sig, _ignore) for sig in SIGNALS}  # no KeyboardInterrupt later
        self._old_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="kbc-startup-interrupt", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        try:
            data = self._read.recv(1)
        except OSError:
            return
        with self._off:
            if self._disarmed:
                self._missed = data  # disarm() passes it on to the handlers that are in place now
                return
            if not data or data[0] not in SIGNALS:
                return
            try:
                sys.stderr.write(f"\nkbc-tui: {self.say()}\n")
                sys.stderr.flush()
                sys.stdout.flush()
            finally:
                os._exit(EXIT_INTERRUPTED)

    def disarm(self, *, restore: bool = False) -> None:
        """Stop watching. ``restore``: also put back the signal handlers and wake-up descriptor found at
        creation (when the command installed none of its own)."""
        with self._off:
            if self._disarmed:
                return
            self._disarmed = True
        if restore:
            signal.set_wakeup_fd(self._old_fd)
            for sig, handler in self._handlers.items():
                signal.signal(sig, handler)
        self._write.close()  # the watching thread's recv() ends
        self._thread.join(1)
        self._read.setblocking(False)
        try:
            missed = self._missed + self._read.recv(64)
        except OSError:
            missed = self._missed
        self._read.close()
        for signum in dict.fromkeys(missed):  # a signal that came just before the new handlers took over
            if signum in SIGNALS:
                signal.raise_signal(signum)


def _ignore(signum, frame) -> None:
    """The Python-level handler while armed: the watching thread acts on the signal."""
