"""Running one job: phases in order, the tasks of a phase concurrently, timeouts, retries, cancel.

A task's failure ends the job ``error`` unless the task has ``continue_on_failure`` (then the
job goes on and ends ``warning``). Cancel sets every running task's ``CancelToken`` first (so
storage writes roll back and DuckDB queries are interrupted), then, if a task has not stopped
within ``HARD_CANCEL_SECONDS``, cancels its coroutine.
"""

from __future__ import annotations

import asyncio
import json
import os
import traceback
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from kbc_tui.components import get_component
from kbc_tui.components.base import Cancelled, CancelToken, RunContext, TaskResult
from kbc_tui.engine.jobspec import JobSpec, load_spec
from kbc_tui.engine.waiting import wait_event
from kbc_tui.errors import KbcError, StateError, describe_os_error, is_disk_full
from kbc_tui.model.job import Job, JobStatus, LogLine, TaskRun, TaskStatus
from kbc_tui.model.orchestration import Task
from kbc_tui.store.secrets import Masker

if TYPE_CHECKING:
    from kbc_tui.engine.engine import Engine

HARD_CANCEL_SECONDS = 1.5


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def private_copy(state: dict) -> dict:
    """The task's own deep copy of its saved state: changing it in place cannot change ``saved``, so the
    runner always sees (and saves, on success only) what the task changed."""
    return json.loads(json.dumps(state, default=str))


class TaskLog:
    """The logger a component gets: thread-safe, masked, tagged with the task."""

    def __init__(self, run: "JobRun", task: str | None):
        self._run = run
        self._task = task

    def debug(self, text: str) -> None:
        self._run.log("debug", text, self._task)

    def info(self, text: str) -> None:
        self._run.log("info", text, self._task)

    def warning(self, text: str) -> None:
        self._run.log("warning", text, self._task)

    def error(self, text: str) -> None:
        self._run.log("error", text, self._task)


class JobRun:
    def __init__(self, engine: "Engine", job: Job):
        self.engine = engine
        self.job = job
        self.masker = Masker()
        self.cancelled = False
        self.lost = False  # another worker ended the job (ours looked dead): nothing more is recorded as its end
        self.cancel_reason = "cancelled"
        self.cancel_event = asyncio.Event()
        self.tokens: set[CancelToken] = set()
        self.component_tasks: set[asyncio.Task] = set()
        self.runs: list[TaskRun] = []
        self.prepared: dict[str, tuple] = {}  # task ref -> (component, resolved parameters, problem)

    # -- logging and state ------------------------------------------------------------
    def log(self, level: str, text: str, task: str | None = None) -> None:
        line = LogLine(self.job.id, utcnow(), level, self.masker(str(text)), task)
        self.engine.feed.log(line)

    def _record(self, write, *args) -> bool:
        """Write to the job history; if it cannot be written (disk full...), the engine stops running jobs
        (this one is cancelled) and the job is marked terminated later: the job itself never wedges."""
        try:
            self.engine.record(write, *args)
            return True
        except StateError:
            return False

    def _set_job(self, **fields) -> None:
        for key, value in fields.items():
            setattr(self.job, key, value)
        self._record(lambda: self.engine.history.update_job(self.job.id, **fields))
        self.engine.feed.job_changed(self.job)

    def _set_task(self, run: TaskRun, **fields) -> None:
        for key, value in fields.items():
            setattr(run, key, value)
        if "message" in fields:
            run.message = self.masker(run.message)
        self._record(self.engine.history.update_task, run)
        self.engine.feed.task_changed(run)

    # -- cancel -------------------------------------------------------------------------
    def cancel(self, reason: str = "cancelled") -> None:
        if self.cancelled:
            return
        self.cancelled = True
        self.cancel_reason = reason
        self.cancel_event.set()
        self.log("warning", f"Job {self.job.id} {reason}: stopping running tasks")
        for token in list(self.tokens):
            token.cancel(reason)
        asyncio.get_running_loop().call_later(HARD_CANCEL_SECONDS, self._hard_cancel)

    def lose(self, message: str) -> None:
        """Another worker ended this job (``terminated``: this worker's heartbeat was late): stop it here and
        leave its recorded end as it is."""
        self.lost = True
        self.cancel(f"stopped: another worker ended the job ({message})")

    def _hard_cancel(self) -> None:
        for task in list(self.component_tasks):
            task.cancel()

    # -- the job --------------------------------------------------------------------------
    async def run(self) -> JobStatus:
        self._set_job(status=JobStatus.PROCESSING, started_at=utcnow(), pid=os.getpid())
        self.log("info", f"Job {self.job.id} started: orchestration {self.job.orchestration!r}, "
                         f"trigger {self.job.trigger.value}" + (f" by {self.job.triggered_by}"
                                                                if self.job.triggered_by else ""))
        try:  # reading the files, importing components (drivers) and validating: one trip off the event loop
            spec, self.prepared = await asyncio.to_thread(self._load_and_prepare)
        except KbcError as exc:
            return self.finish(JobStatus.ERROR, f"cannot start: {exc}")
        orch = spec.orchestration
        index = 0
        for pi, phase in enumerate(orch.phases):
            for task in phase.tasks:
                self.runs.append(TaskRun(self.job.id, pi, index, task.component, task.config))
                index += 1
        self._record(self.engine.history.create_task_runs, self.runs)
        if not self.runs:
            self.log("warning", "The orchestration has no tasks")
        status = JobStatus.SUCCESS
        error_message = ""
        limit = asyncio.Semaphore(self.engine.project.settings.jobs.max_parallel_tasks)
        position = 0
        for pi, phase in enumerate(orch.phases):
            runs = self.runs[position:position + len(phase.tasks)]
            position += len(phase.tasks)
            if self.cancelled or status is JobStatus.ERROR:
                break
            if phase.name:
                self.log("info", f"Phase {pi + 1}: {phase.name}")

            async def bounded(run: TaskRun, task: Task) -> str:
                async with limit:
                    return await self.run_task(run, task, spec)

            outcomes = await asyncio.gather(*(bounded(r, t) for r, t in zip(runs, phase.tasks)))
            for run, task, outcome in zip(runs, phase.tasks, outcomes):
                if outcome == "failed":
                    if task.continue_on_failure:
                        status = JobStatus.WARNING if status is JobStatus.SUCCESS else status
                        self.log("warning", f"Task {task.ref} failed; continuing (continue_on_failure)")
                    else:
                        status = JobStatus.ERROR
                        error_message = error_message or f"task {task.ref} failed: {run.message}"
        for run in self.runs:
            if run.status is TaskStatus.WAITING:
                self._set_task(run, status=TaskStatus.SKIPPED,
                               message="not run: the job was cancelled" if self.cancelled
                               else "not run: an earlier task failed")
        if self.cancelled:
            return self.finish(JobStatus.CANCELLED, self.cancel_reason)
        if status is JobStatus.WARNING:
            failed = [r for r in self.runs if r.status is TaskStatus.ERROR]
            error_message = "; ".join(f"task {r.component}/{r.config} failed: {r.message}" for r in failed)
        return self.finish(status, error_message)

    def finish(self, status: JobStatus, message: str) -> JobStatus:
        if self.lost:
            self.engine.feed.flush()
            return JobStatus.TERMINATED
        finished = utcnow()
        duration = (finished - self.job.started_at).total_seconds() if self.job.started_at else 0
        level = {"success": "info", "warning": "warning"}.get(status.value, "error")
        self.log(level, f"Job {self.job.id} finished: {status.value} in {duration:.1f} s"
                        + (f": {message}" if message else ""))
        self.engine.feed.flush()
        self._set_job(status=status, finished_at=finished, message=self.masker(message))
        return status

    # -- one task ---------------------------------------------------------------------------
    async def run_task(self, run: TaskRun, task: Task, spec: JobSpec) -> str:
        """Returns "ok", "failed", "skipped" or "cancelled"."""
        if self.cancelled:
            return "cancelled"
        if not task.active:
            self.log("info", f"Task {task.ref} skipped: inactive", task.ref)
            self._set_task(run, status=TaskStatus.SKIPPED, message="inactive")
            return "skipped"
        component, params, problem = self.prepared[task.ref]
        cfg = spec.configs.get(task.ref)
        if problem is not None or component is None or cfg is None or params is None:
            return self._task_failed(run, task, problem or "cannot run", started=False)

        attempts = task.retries + 1
        await self.engine.make_way_for_readers()
        if self.cancelled:  # while a waiting reader was let in: the task never starts (its token would be new)
            return "cancelled"
        for attempt in range(1, attempts + 1):
            token = CancelToken()
            self.tokens.add(token)
            try:
                saved = self.engine.history.component_state(task.component, task.config)
            except StateError as exc:
                return self._task_failed(run, task, f"cannot read its saved state: {exc}", started=False)
            ctx = RunContext(config=cfg, parameters=params, storage=self.engine.storage,
                             log=TaskLog(self, task.ref), cancel=token, project_root=self.engine.root,
                             state_dir=self.engine.state_dir, job_id=self.job.id, state=private_copy(saved))
            self._set_task(run, status=TaskStatus.PROCESSING, started_at=utcnow(), finished_at=None,
                           attempt=attempt, message="")
            self.log("info", f"Task {task.ref} started" + (f" (attempt {attempt} of {attempts})"
                                                            if attempts > 1 else ""), task.ref)
            try:
                result = await self._execute(component.run(ctx), token, task)
            except _Stopped:
                self._set_task(run, status=TaskStatus.CANCELLED, finished_at=utcnow(), message="cancelled")
                self.log("warning", f"Task {task.ref} cancelled", task.ref)
                return "cancelled"
            except _Failed as failure:
                self.tokens.discard(token)
                if attempt < attempts and not self.cancelled:
                    self._set_task(run, message=str(failure))
                    self.log("warning", f"Task {task.ref} attempt {attempt} failed: {failure}; "
                                        f"retrying in {task.retry_delay_seconds:g} s", task.ref)
                    await wait_event(self.cancel_event, task.retry_delay_seconds)
                    if self.cancelled:
                        self._set_task(run, status=TaskStatus.CANCELLED, finished_at=utcnow(), message="cancelled")
                        return "cancelled"
                    continue
                return self._task_failed(run, task, str(failure))
            self.tokens.discard(token)
            if ctx.state != saved:  # the task had its own copy: a change is a change
                if not self._record(self.engine.history.save_component_state, task.component, task.config,
                                    ctx.state):
                    return self._task_failed(run, task, "its new state (e.g. the last fetched value) could not "
                                                        "be saved: the job history cannot be written")
            rows = result.rows if isinstance(result, TaskResult) else None
            message = result.message if isinstance(result, TaskResult) else ""
            self._set_task(run, status=TaskStatus.SUCCESS, finished_at=utcnow(), rows=rows, message=message)
            took = run.duration_s or 0
            self.log("info", f"Task {task.ref} succeeded in {took:.2f} s"
                             + (f", {rows:,} rows" if rows is not None else "")
                             + (f": {message}" if message else ""), task.ref)
            return "ok"
        return "failed"  # not reached

    def _load_and_prepare(self) -> tuple[JobSpec, dict]:
        """The job's spec and every active task prepared (component, resolved parameters, problem); runs in a
        worker thread. A job runs its configurations as saved when it starts."""
        self._check_spec_hash()
        spec = load_spec(self.engine.root, self.job.orchestration)
        prepared = {task.ref: self._prepare(task, spec) for task in spec.orchestration.tasks if task.active}
        return spec, prepared

    def _check_spec_hash(self) -> None:
        """A shared state: the job runs only if this checkout has the orchestration it was queued with (a
        worker whose configs are behind must not run an older version silently)."""
        queued = self.job.spec_hash
        if not queued or not self.engine.shared:
            return
        from kbc_tui.engine.spec_hash import mismatch_words, spec_hash

        here = spec_hash(self.engine.root, self.job.orchestration)
        if here is not None and here != queued:
            raise KbcError(mismatch_words(self.job.orchestration, queued, here, self.engine.worker_name))

    def _prepare(self, task: Task, spec: JobSpec):
        """(component, resolved parameters, problem) for a task."""
        problem = spec.task_problems.get(task.ref)
        cfg = spec.configs.get(task.ref)
        component = params = None
        if problem is None and cfg is not None:
            try:
                component = get_component(task.component)
                problems = component.validate(cfg.parameters)
                if problems:
                    problem = "invalid configuration: " + "; ".join(f"{k}: {m}" if k else m for k, m in problems)
                else:
                    params = self.engine.project.secrets.resolve_tree(cfg.parameters, self.masker, "parameters")
            except KbcError as exc:
                problem = str(exc)
        return component, params, problem

    def _task_failed(self, run: TaskRun, task: Task, message: str, started: bool = True) -> str:
        now = utcnow()
        self._set_task(run, status=TaskStatus.ERROR, finished_at=now,
                       started_at=run.started_at or now, message=message)
        self.log("error", f"Task {task.ref} failed: {self.masker(message)}", task.ref)
        return "failed"

    async def _execute(self, coro, token: CancelToken, task: Task) -> TaskResult | None:
        """Await a component's run with the task's timeout; map every ending to a result or _Failed/_Stopped."""
        job_task = asyncio.ensure_future(coro)
        self.component_tasks.add(job_task)
        timeout = task.timeout_minutes * 60 if task.timeout_minutes else None
        try:
            done, _ = await asyncio.wait({job_task}, timeout=timeout)
            if not done:
                token.cancel("timeout")
                done, _ = await asyncio.wait({job_task}, timeout=HARD_CANCEL_SECONDS)
                if not done:
                    job_task.cancel()
                    await asyncio.wait({job_task})
                raise _Failed(f"timed out after {task.timeout_minutes:g} min")
            return job_task.result()
        except (_Failed, _Stopped):
            raise
        except (Cancelled, asyncio.CancelledError):
            if token.reason == "timeout" and not self.cancelled:
                raise _Failed(f"timed out after {task.timeout_minutes:g} min") from None
            raise _Stopped() from None
        except KbcError as exc:
            raise _Failed(failure_words(exc, str(exc))) from None
        except OSError as exc:  # a file the component writes: disk full, permissions...
            raise _Failed(failure_words(exc, describe_os_error(exc))) from None
        except Exception as exc:  # a component bug: say what, keep the traceback in the debug log
            self.log("debug", "".join(traceback.format_exception(exc)).rstrip(), task.ref)
            raise _Failed(failure_words(exc, f"{type(exc).__name__}: {exc}")) from None
        finally:
            self.component_tasks.discard(job_task)


def failure_words(exc: BaseException, text: str) -> str:
    """A task's failure as the user reads it: a full disk says so first, whatever library noticed it."""
    if is_disk_full(exc) and not text.startswith("disk full"):
        return f"disk full: {text} (free space, then run the job again; storage keeps the previous tables)"
    return text


class _Failed(Exception):
    pass


class _Stopped(Exception):
    pass
