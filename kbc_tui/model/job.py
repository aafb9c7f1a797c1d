"""Jobs: one run of an orchestration, its task runs and log lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class JobStatus(str, Enum):
    WAITING = "waiting"
    PROCESSING = "processing"
    SUCCESS = "success"
    WARNING = "warning"  # a task with continue_on_failure failed
    ERROR = "error"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"  # the process running it died

    @property
    def finished(self) -> bool:
        return self not in (JobStatus.WAITING, JobStatus.PROCESSING)

    @property
    def event(self) -> str | None:
        """The notification event a finished job belongs to."""
        return {JobStatus.SUCCESS: "success", JobStatus.WARNING: "warning", JobStatus.ERROR: "error",
                JobStatus.CANCELLED: "error", JobStatus.TERMINATED: "error"}.get(self)


class TaskStatus(str, Enum):
    WAITING = "waiting"
    PROCESSING = "processing"
    SUCCESS = "success"
    ERROR = "error"
    SKIPPED = "skipped"  # inactive task
    CANCELLED = "cancelled"
    TERMINATED = "terminated"


class Trigger(str, Enum):
    MANUAL = "manual"
    SCHEDULE = "schedule"


@dataclass
class TaskRun:
    job_id: int
    phase: int
    index: int  # position within the orchestration (0-based, across phases)
    component: str
    config: str
    status: TaskStatus = TaskStatus.WAITING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rows: int | None = None
    message: str = ""
    attempt: int = 1

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass
class LogLine:
    job_id: int
    time: datetime
    level: str  # "debug" | "info" | "warning" | "error"
    text: str
    task: str | None = None  # "component/config" or None for the orchestrator itself
    id: int | None = None


@dataclass
class Job:
    id: int
    orchestration: str
    status: JobStatus
    trigger: Trigger
    triggered_by: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    pid: int | None = None  # the process executing it
    tasks: list[TaskRun] = field(default_factory=list)
    worker: str | None = None  # the name of the worker that claimed it (default ``host:pid``)
    spec_hash: str | None = None  # the orchestration's content hash where it was queued (None: not recorded)

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass
class Notification:
    """One e-mail about a job (an event's message to its recipients), kept in the outbox until sent."""

    job_id: int
    event: str  # "error" | "warning" | "success" | "processing"
    recipients: list[str]
    subject: str
    body_text: str
    body_html: str
    status: str = "pending"  # "pending" | "sent" | "failed"
    attempts: int = 0
    next_try: float = 0.0  # epoch seconds
    last_error: str = ""
    id: int | None = None
