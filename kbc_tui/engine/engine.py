"""The Engine facade. SIGNATURE STUB: the engine work replaces the bodies; the signatures are the contract."""

from __future__ import annotations

import os
from pathlib import Path

from kbc_tui.engine.events import EventBus
from kbc_tui.model.job import Job, LogLine, Trigger
from kbc_tui.store.project import Project


class Engine:
    def __init__(self, project: Project | str | os.PathLike) -> None:
        self.project = project if isinstance(project, Project) else Project.load(Path(project))
        self.events = EventBus()
        self.is_runner = False

    async def start(self, *, run_jobs: bool = True, scheduler: bool = True) -> None:
        """Open the job history, recover jobs left 'processing' by a dead process (-> terminated),
        try to take the runner lock; the holder executes queued jobs (and runs the scheduler)."""
        raise NotImplementedError

    async def stop(self, grace: float = 10.0) -> None:
        raise NotImplementedError

    async def enqueue(self, orchestration: str, *, trigger: Trigger = Trigger.MANUAL,
                      triggered_by: str | None = None) -> Job:
        raise NotImplementedError

    async def wait(self, job_id: int) -> Job:
        raise NotImplementedError

    async def cancel(self, job_id: int) -> Job:
        raise NotImplementedError

    def list_jobs(self, orchestration: str | None = None, limit: int = 50) -> list[Job]:
        raise NotImplementedError

    def get_job(self, job_id: int) -> Job | None:
        raise NotImplementedError

    def job_log(self, job_id: int, after_id: int = 0, limit: int | None = None) -> list[LogLine]:
        raise NotImplementedError

    def last_jobs(self) -> dict[str, Job]:
        raise NotImplementedError

    def reload_project(self) -> Project:
        raise NotImplementedError
