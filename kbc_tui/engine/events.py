"""Engine events: job and task state changes and (batched) log lines.

Subscribers are plain callables run on the engine's event loop; they must be quick
(the TUI's posts a Textual message). Log lines are coalesced: the bus delivers at most
one ``LogBatch`` per job every ``LOG_FLUSH_SECONDS``, however fast a task logs, so a
task printing 10,000 lines a second neither slows the runner nor floods subscribers.
``stream()`` gives the same events as an async iterator (the CLI uses it).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Union

from kbc_tui.model.job import Job, LogLine, TaskRun

LOG_FLUSH_SECONDS = 0.05


@dataclass(frozen=True)
class JobChanged:
    job: Job  # a snapshot: status, times, message (tasks may be empty)


@dataclass(frozen=True)
class TaskChanged:
    job_id: int
    task: TaskRun


@dataclass(frozen=True)
class LogBatch:
    job_id: int
    lines: tuple[LogLine, ...]


@dataclass(frozen=True)
class EngineProblem:
    """Why this process cannot run jobs now (e.g. the job history cannot be written), in words to show
    loudly; ``message`` None: the problem is over and jobs run again."""

    message: str | None


@dataclass(frozen=True)
class MailWaiting:
    """The engine is stopping and waits up to ``seconds`` for the SMTP server to take the e-mails of these jobs;
    what it has not taken by then stays in the outbox for the next process that runs jobs."""

    job_ids: tuple[int, ...]
    seconds: float

    @property
    def text(self) -> str:
        """One line to say (the process does not end at once: say why and for how long at most)."""
        ids = [str(i) for i in self.job_ids]
        whose = (f"job {ids[0]}'s e-mail" if len(ids) == 1
                 else f"the e-mails of jobs {', '.join(ids[:-1])} and {ids[-1]}")
        return (f"waiting up to {self.seconds:.1f} s for the SMTP server to take {whose}; what it has not taken by "
                "then stays queued, and the next kbc-tui that runs jobs in this project sends it")


Event = Union[JobChanged, TaskChanged, LogBatch, EngineProblem, MailWaiting]
Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._pending: dict[int, list[LogLine]] = {}  # guarded by _lock: worker threads log too
        self._lock = threading.Lock()
        self._flush_wanted = False  # a flush is scheduled (or being scheduled from a thread)
        self._flush_handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Deliver now (call on the loop). Pending log lines of the same job go first, keeping order."""
        if isinstance(event, (JobChanged, TaskChanged)):
            job_id = event.job.id if isinstance(event, JobChanged) else event.job_id
            with self._lock:
                pending = self._pending.pop(job_id, None)
            if pending:
                self._deliver(LogBatch(job_id, tuple(pending)))
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken subscriber must not break the runner
                import logging

                logging.getLogger(__name__).exception("event listener failed")

    def log(self, line: LogLine) -> None:
        """Queue a log line (thread-safe); delivered in a batch shortly after. A thread logging 10,000 lines
        a second wakes the loop once per batch, not once per line."""
        loop = self._loop
        if loop is None:
            return
        with self._lock:
            self._pending.setdefault(line.job_id, []).append(line)
            if self._flush_wanted:
                return
            self._flush_wanted = True
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._schedule_flush()
        else:
            try:
                loop.call_soon_threadsafe(self._schedule_flush)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                pass

    def _schedule_flush(self) -> None:
        if self._flush_handle is None and self._loop is not None:
            self._flush_handle = self._loop.call_later(LOG_FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._flush_handle = None
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flush_wanted = False
        for job_id, lines in pending.items():
            self._deliver(LogBatch(job_id, tuple(lines)))

    async def stream(self) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        unsubscribe = self.subscribe(queue.put_nowait)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()
