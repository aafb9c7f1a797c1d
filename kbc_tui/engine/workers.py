"""A worker's presence in a shared job state (``[state] url``): its name, its heartbeat, its reaping of the jobs
of workers that stopped answering.

Several processes on several machines run jobs from one PostgreSQL state. None can see another's process, so
each announces itself (``register_worker``) and beats its heart every ``heartbeat_timeout / 4`` seconds from a
thread of its own, on a connection of its own: an event loop busy for a while (a big job's bookkeeping) does not
make it look dead, a killed process, a power cut or a cut network does. Every worker looks for the jobs of
silent workers every ``heartbeat_timeout / 3`` seconds (and when it starts) and ends them ``terminated`` with
the worker named; ``terminate_job`` ends each once, whoever looks first, and the e-mail outbox holds one e-mail
per job and event, so the error e-mail goes out once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import TYPE_CHECKING, Callable

from kbc_tui.errors import StateError

if TYPE_CHECKING:
    from kbc_tui.store.project import Project

log = logging.getLogger("kbc_tui.workers")


def default_worker_name() -> str:
    """``host:pid``: unique on a machine, and says where the worker ran."""
    return f"{socket.gethostname()}:{os.getpid()}"


def stale_message(worker: str | None, pid: int | None, timeout: float) -> str:
    if worker:
        who = f"worker {worker}"
    else:
        who = f"the process running this job (pid {pid})" if pid else "the process running this job"
    return f"terminated: {who} stopped answering (no heartbeat for {timeout:g} s)"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """Beats ``name``'s heart every ``interval`` seconds in a daemon thread, on a state opened by ``open``.

    The thread's state registers the name again for this process (the same host and pid: welcome), so that it
    beats only this process's row: should another process have taken the name over (this one was presumed dead),
    the registration says so and the beating stops rather than keep the other's row alive."""

    def __init__(self, open_state: Callable[[], object], name: str, interval: float, timeout: float):
        self._open = open_state
        self.name = name
        self.interval = interval
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"kbc-heartbeat-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        state = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    if state is None:
                        state = self._open()
                        state.register_worker(self.name, socket.gethostname(), os.getpid(), self.timeout)
                    state.heartbeat(self.name)
                    self.failures = 0
                except Exception as exc:  # the state is unreachable now: try again at the next beat
                    if isinstance(exc, StateError) and exc.kind == "worker":
                        log.error("worker %s: %s", self.name, exc)  # another process has our name now
                        return
                    self.failures += 1
                    log.warning("worker %s: heartbeat failed (%s)", self.name, exc)
                    if state is not None:
                        try:
                            state.close()
                        except Exception:
                            pass
                        state = None
        finally:
            if state is not None:
                try:
                    state.close()
                except Exception:
                    pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


def join(history, project: "Project", name: str) -> None:
    """Register ``name`` (``StateError`` kind ``worker`` if a live worker elsewhere has it). A worker of this
    name that died on this machine (its pid is gone) is replaced at once rather than after the timeout."""
    host = socket.gethostname()
    timeout = project.settings.state.heartbeat_timeout
    for worker in history.workers():
        if worker.name == name and worker.host == host and worker.pid != os.getpid() and not pid_alive(worker.pid):
            history.unregister_worker(name)
    history.register_worker(name, host, os.getpid(), timeout)
