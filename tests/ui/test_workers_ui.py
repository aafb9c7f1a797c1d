"""A shared job state (``[state] url``, issue 13): the jobs list and the job screen say which worker ran a job,
at 80 columns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kbc_tui.model.job import JobStatus, Trigger
from kbc_tui.ui.app import KbcApp
from tests.helpers.pg import pg_database  # noqa: F401 - the fixture
from tests.ui.conftest import wait_until
from tests.ui.test_small_terminal import SMALL, screen_lines, screen_text

pytestmark = pytest.mark.services


async def test_the_jobs_list_and_the_job_screen_show_the_worker(demo_project, pg_database):
    from kbc_tui.store.pg_state import PgJobState

    with open(demo_project / "kbc.toml", "a") as f:
        f.write(f'\n[state]\nurl = "{pg_database}"\n')
    state = PgJobState(pg_database)
    t0 = datetime(2025, 3, 14, 6, 0, tzinfo=timezone.utc)
    job = state.create_job("sales-to-tableau", Trigger.SCHEDULE, "scheduler")
    assert state.claim_job(job.id, 4711, worker="db-server-2")
    state.update_job(job.id, status=JobStatus.SUCCESS, started_at=t0, finished_at=t0 + timedelta(seconds=12))
    state.close()
    app = KbcApp(demo_project, watch_files=False, run_jobs=False)  # a client only: it runs no job
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause(0.3)
        assert app.engine.shared and not app.engine.is_runner
        await pilot.press("J")
        await pilot.pause(0.5)
        await pilot.pause(0.5)
        await wait_until(pilot, lambda: "db-server-2" in screen_text(app), message="the jobs list")
        lines = screen_lines(app)
        [header] = [line for line in lines if "Orchestration" in line and "Took" in line]
        assert header.rstrip().endswith("Worker"), header
        [row] = [line for line in lines if "sales-to-tableau" in line]
        assert "12.0 s" in row and row.rstrip().endswith("db-server-2"), row
        assert all(len(line.rstrip()) <= 80 for line in lines)
        await pilot.press("enter")
        await wait_until(pilot, lambda: f"Job {job.id}" in screen_text(app), message="the job screen")
        assert "on db-server-2" in screen_text(app), screen_text(app)
