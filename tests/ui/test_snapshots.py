"""Snapshots of every screen at 80x24 (what it is designed for) and 120x40 (how it grows), editors with an
error shown. Job data is fixed, and no picture shows a time that moves with the clock."""

from datetime import datetime, timezone

import pytest

from kbc_tui.model.job import JobStatus, LogLine, TaskRun, TaskStatus, Trigger
from kbc_tui.store.history import JobHistory
from kbc_tui.ui.app import KbcApp

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()


def fixed_job(root) -> int:
    """A finished job with fixed times and log lines, written straight into the history."""
    history = JobHistory(root / ".kbc" / "jobs.sqlite")
    t0 = datetime(2025, 3, 14, 6, 0, 0, tzinfo=timezone.utc)
    job = history.create_job("sales-to-tableau", Trigger.SCHEDULE, "scheduler")
    history.update_job(job.id, status=JobStatus.ERROR, created_at=t0, started_at=t0,
                       finished_at=t0.replace(second=12), message="task tableau-writer/sales-dashboard failed: disk full")
    runs = [TaskRun(job.id, 0, 0, "db-extractor", "shop"), TaskRun(job.id, 0, 1, "sheet-extractor", "sales-targets"),
            TaskRun(job.id, 1, 2, "sql-transformation", "sales-report"),
            TaskRun(job.id, 2, 3, "tableau-writer", "sales-dashboard")]
    history.create_task_runs(runs)
    for i, run in enumerate(runs):
        run.status = TaskStatus.ERROR if i == 3 else TaskStatus.SUCCESS
        run.started_at, run.finished_at = t0.replace(second=i * 3), t0.replace(second=i * 3 + 2)
        run.rows = [564, 24, 34, None][i]
        run.message = "disk full" if i == 3 else ""
        history.update_task(run)
    history.add_log([LogLine(job.id, t0.replace(second=s), lvl, text) for s, lvl, text in [
        (0, "info", "Job 1 started: orchestration 'sales-to-tableau', trigger schedule by scheduler"),
        (2, "info", "Task db-extractor/shop succeeded in 2.00 s, 564 rows"),
        (5, "info", "Task sheet-extractor/sales-targets succeeded in 2.00 s, 24 rows"),
        (8, "info", "Task sql-transformation/sales-report succeeded in 2.00 s, 34 rows"),
        (11, "error", "Task tableau-writer/sales-dashboard failed: disk full"),
        (12, "error", "Job 1 finished: error in 12.0 s")]])
    history.close()
    return job.id


async def open_job(pilot) -> None:
    from kbc_tui.ui.screens.job_detail import JobDetailScreen

    await pilot.app.push_screen(JobDetailScreen(1))
    await pilot.pause()


# screen -> (keys pressed from the home screen, whether a fixed job is in the history first)
SCREENS = {
    "home": ([], False),
    "orchestration": (["down", "enter"], False),
    "task_editor": (["down", "enter", "t", "down", "down", "shift+up"], False),
    "task_picker": (["down", "enter", "t", "a", "space"], False),
    "schedule_editor_error": (["down", "enter", "s", "end", "space", "x"], False),
    "notifications_editor_error": (["down", "enter", "m", *"ops.example.com", "enter"], False),
    "smtp_settings_error": (["S", "ctrl+t", "tab", "tab", "end", "backspace", "backspace", "0", "ctrl+s"], False),
    "jobs": (["J"], True),
    "job_detail": ([], True),
    "help": (["down", "enter", "t", "question_mark"], False),
    "confirm_dialog": (["d"], False),
    "new_orchestration_dialog_error": (["n", *"Sales", "tab", "end", "!"], False),  # NameAndIdModal
    "rename_dialog": (["down", "enter", "R"], False),  # PromptModal
    "rename_dialog_error": (["down", "enter", "R", "ctrl+u", "enter"], False),
    "phase_name_dialog": (["down", "enter", "t", "r"], False),
    "task_limits_dialog": (["down", "enter", "t", "e"], False),
    "task_limits_dialog_error": (["down", "enter", "t", "e", *"x", "tab", "ctrl+u", *"-1"], False),
    "command_palette": (["ctrl+p", *"run"], False),
    "unsaved_dialog": (["down", "enter", "t", "space", "escape"], False),
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, demo_project, screen, size):
    keys, with_job = SCREENS[screen]
    if with_job:
        fixed_job(demo_project)
    assert snap_compare(KbcApp(demo_project, watch_files=False), terminal_size=SIZES[size], press=keys,
                        run_before=open_job if screen == "job_detail" else None)
