"""The engine: job queue and runner, scheduler, notifier. Everything the TUI does, headless. No Textual.

Public API (the TUI, the CLI and the scheduler use only this):

    engine = Engine(project_dir_or_Project)
    await engine.start()            # open history, recover crashed jobs, try to take the runner lock;
                                    # the lock holder runs queued jobs and the scheduler
    engine.is_runner                # True if this process executes jobs
    job = await engine.enqueue("orch-id", trigger=Trigger.MANUAL, triggered_by="me@x.com")
    job = await engine.wait(job.id) # until finished
    await engine.cancel(job.id)
    engine.list_jobs(orchestration=None, limit=50)  -> list[Job]   (latest first)
    engine.get_job(job_id)           -> Job | None   (with .tasks)
    engine.job_log(job_id, after_id=0, limit=None) -> list[LogLine]
    engine.job_log_view(job_id)      -> JobLogView: .refresh() -> count, .line(n), .search(text), .all_lines()
    engine.last_jobs()               -> dict[orchestration id, Job]  (latest job of each)
    engine.events.subscribe(fn)      -> unsubscribe   (JobChanged / TaskChanged / LogBatch)
    engine.reload_project()          -> Project
    await engine.stop(grace=10)
"""

from kbc_tui.engine.engine import Engine
from kbc_tui.engine.events import EventBus, JobChanged, LogBatch, TaskChanged

__all__ = ["Engine", "EventBus", "JobChanged", "LogBatch", "TaskChanged"]
