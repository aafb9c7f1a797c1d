"""The app's terminal driver and its hang-up guard: whatever happens to the terminal, the app ends within seconds.

How Textual 8's ``LinuxDriver`` could keep an app alive forever, holding the runner lock (kbc-tui issue 11; seen
with ``py-spy dump`` on orphans left by ``tmux kill-session``):

* A terminal that goes away (tmux killed, SSH dropped) makes the kernel send ``SIGHUP`` *and* ``SIGCONT``.
  Textual's ``SIGCONT`` handler resumes "application mode" although nothing was suspended: a second writer thread
  (and input thread) start on the dead terminal.
* A writer thread whose write fails (``EIO`` on a hung-up terminal) dies; its queue holds 30 writes, so the next
  writes (a redraw, or ``disable_input`` at shutdown) block the UI thread for ever in ``Queue.put``.
* ``SIGHUP`` / ``SIGTERM`` then only woke the asyncio loop, which never ran again: the signals were ignored.

``KbcDriver`` writes with a timeout, notices a dead writer thread (the terminal is gone), drops output once the
terminal is gone or the app is ending, and resumes only after its own suspend. ``HangupGuard`` owns ``SIGHUP``
and ``SIGTERM``: a thread of its own hears them (through ``signal.set_wakeup_fd``, whichever thread the kernel
interrupts), asks the app to stop its engine and quit, and, if the process still lives ``deadline`` seconds
later, gives up the runner lock and ends the process with status 128 + the signal's number.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
from typing import Callable

from textual.drivers.linux_driver import LinuxDriver

#: seconds a hang-up or SIGTERM gives the app to end cleanly before the guard ends the process
HANGUP_DEADLINE = 8.0
#: how often a write waiting for a full writer queue checks whether the terminal or the app went away
WRITE_POLL = 0.1
#: seconds ``close`` still waits, once the app is ending, for the writer thread to write what is queued
CLOSE_WAIT = 2.0
#: the signals the guard owns; a process it has to end exits with 128 + the signal's number (a lost terminal:
#: SIGHUP's), as if the signal had killed it
SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def _heard_by_the_guard_thread(_signum: int, _frame) -> None:
    """The Python-level handler does nothing (it runs in the main thread, which may be stuck, and must take no
    lock): CPython's C-level handler writes the signal's number to the wake-up fd, read by the guard's thread."""


class HangupGuard:
    """``SIGHUP`` / ``SIGTERM`` / a lost terminal: ``on_stop(reason)`` once (from any thread; it must only hand
    over to the app's loop), then after ``deadline`` seconds ``emergency()`` and ``os._exit(128 + signal)``."""

    def __init__(self, on_stop: Callable[[str], None], emergency: Callable[[], None],
                 deadline: float = HANGUP_DEADLINE) -> None:
        self._on_stop = on_stop
        self._emergency = emergency
        self.deadline = deadline
        self._lock = threading.Lock()
        self.triggered = threading.Event()
        self.reason = ""
        self.status = 0

    def install(self) -> None:
        """Call in the main thread. The wake-up fd is written by CPython's C-level handler in whichever thread the
        kernel interrupts; the main thread, which may be stuck, is not needed to hear the signal."""
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        for sig in SIGNALS:
            signal.signal(sig, _heard_by_the_guard_thread)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        threading.Thread(target=self._listen, args=(read_end,), name="kbc-hangup", daemon=True).start()

    def _listen(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 64)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data:
                return
            for signum in data:  # every signal with a Python handler lands here (SIGWINCH, SIGINT, ...)
                if signum in SIGNALS:
                    self.trigger(signal.Signals(signum).name, signum)

    def trigger(self, reason: str, signum: int = signal.SIGHUP) -> None:
        with self._lock:
            if self.triggered.is_set():
                return
            self.reason, self.status = reason, 128 + signum
            self.triggered.set()
        threading.Thread(target=self._watchdog, name="kbc-hangup-deadline", daemon=True).start()
        try:
            self._on_stop(reason)
        except Exception:  # e.g. the loop already closed: the watchdog ends the process
            pass

    def _watchdog(self) -> None:
        threading.Event().wait(self.deadline)
        try:
            self._emergency()
        finally:
            try:
                os.write(2, f"\r\nkbc-tui: {self.reason}: did not end within {self.deadline:g} s; "
                            f"exiting with status {self.status}\r\n".encode())
            except OSError:
                pass
            os._exit(self.status)

    def exit_now(self, status: int = 0) -> None:
        """After the app stopped cleanly on a hang-up: end the process without the interpreter's exit work, which
        could wait on a terminal that is gone (flushing it) or on a job's worker thread that ignored its cancel."""
        os._exit(status)


class KbcDriver(LinuxDriver):
    """``LinuxDriver`` whose writes cannot block the UI thread for ever (see the module's doc)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        #: set when the terminal is gone or the app is ending: output that does not fit the writer's queue is
        #: dropped instead of waited for (what fits still goes out: a live terminal gets its modes restored)
        self.ending = threading.Event()
        #: called once (in the UI thread) when a write finds the writer thread dead: the terminal is gone
        self.on_terminal_lost: Callable[[], None] | None = None
        self._suspended = False
        self._closed = False  # between ``close`` (a suspend, or the end) and the next start: writes are dropped

    def start_application_mode(self) -> None:
        self._closed = False
        super().start_application_mode()

    def _sigtstp_application(self, *args) -> None:
        self._suspended = self._auto_restart
        super()._sigtstp_application(*args)

    def _sigcont_application(self, *args) -> None:
        """Resume only what a SIGTSTP suspended: a hang-up sends SIGCONT too (never start on a dead terminal)."""
        if self._suspended and not self.ending.is_set():
            self._suspended = False
            super()._sigcont_application(*args)

    def write(self, data: str) -> None:
        writer = self._writer_thread
        assert writer is not None, "Driver must be in application mode"
        put = writer._queue.put
        while True:
            if not writer.is_alive():  # it died writing (EIO: the terminal is gone), or was closed
                if writer.ident is not None and not self._closed:
                    self._terminal_lost()
                return
            ending = self.ending.is_set()
            try:
                put(data, timeout=0 if ending else WRITE_POLL)
                return
            except queue.Full:  # a slow terminal: wait, but not once the app is ending
                if ending:
                    return

    def _terminal_lost(self) -> None:
        if not self.ending.is_set():
            self.ending.set()
            if self.on_terminal_lost is not None:
                self.on_terminal_lost()

    def close(self) -> None:
        """Let the writer thread write what is queued and end, as Textual does, but never wait past a hang-up
        (then at most ``CLOSE_WAIT`` s: a terminal that reads nothing keeps a daemon thread, not the app)."""
        self._closed = True
        writer = self._writer_thread
        if writer is None:
            return
        while writer.is_alive():
            ending = self.ending.is_set()
            try:
                writer._queue.put(None, timeout=0 if ending else WRITE_POLL)
                break
            except queue.Full:
                if ending:
                    return
        while writer.is_alive() and not self.ending.is_set():
            writer.join(WRITE_POLL)
        writer.join(CLOSE_WAIT)
