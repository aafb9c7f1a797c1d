"""Task timing users rely on, measured on the real engine: the retry delay is waited (and a cancel ends it at
once), and ``timeout_minutes`` is minutes. Bounds are generous for a loaded machine but far from the broken
behaviour (no delay at all; a cancel waiting out a 60 s delay; a timeout 60 times too short)."""

from __future__ import annotations

import asyncio
import time

import pytest

from kbc_tui.engine import Engine
from kbc_tui.model.job import JobStatus, TaskStatus
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config

FAILS_AT_ONCE = "select * from not_there_yet;"


@pytest.fixture
def root(tmp_path):
    return project(tmp_path / "p")


@pytest.fixture
async def engine(root):
    e = Engine(root, poll_seconds=0.1)
    await e.start(scheduler=False)
    yield e
    await e.stop(grace=0)


def log_times(engine, job_id, needle):
    return [ln.time.timestamp() for ln in engine.job_log(job_id) if needle in ln.text]


async def test_retries_wait_their_delay_between_attempts(root, engine):
    sql_config(root, "flaky", FAILS_AT_ONCE, ["x"])
    orchestration(root, "retry", [[{"config": "flaky", "retries": 2, "retry_delay_seconds": 1.5}]])
    started = time.monotonic()
    job = await engine.enqueue("retry")
    done = await asyncio.wait_for(engine.wait(job.id), 60)
    took = time.monotonic() - started
    assert done.status is JobStatus.ERROR and done.tasks[0].attempt == 3
    failed = log_times(engine, job.id, "failed: ")[:2]  # "attempt 1 failed: ...; retrying in 1.5 s", attempt 2
    again = log_times(engine, job.id, "started (attempt ")[1:]  # attempts 2 and 3
    assert len(failed) == 2 and len(again) == 2
    gaps = [b - a for a, b in zip(failed, again)]
    assert all(gap >= 1.4 for gap in gaps), gaps
    assert 2.9 <= took < 30, took


async def test_cancel_during_a_retry_delay_ends_the_job_at_once(root, engine):
    sql_config(root, "flaky", FAILS_AT_ONCE, ["x"])
    orchestration(root, "retry", [[{"config": "flaky", "retries": 3, "retry_delay_seconds": 60}]])
    job = await engine.enqueue("retry")
    for _ in range(300):
        if log_times(engine, job.id, "retrying in 60 s"):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the first attempt never failed")
    await asyncio.sleep(0.3)  # well inside the delay
    asked = time.monotonic()
    await engine.cancel(job.id)
    done = await asyncio.wait_for(engine.wait(job.id), 20)
    assert time.monotonic() - asked < 3.0
    assert done.status is JobStatus.CANCELLED
    assert done.tasks[0].status is TaskStatus.CANCELLED and done.tasks[0].attempt == 1
    assert not log_times(engine, job.id, "started (attempt 2")


async def test_timeout_minutes_are_minutes(root, engine):
    """0.025 min is 1.5 s: the task runs that long, then ends as timed out (taken as seconds it would end after
    0.025 s)."""
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "timeout", [[{"config": "slow", "timeout_minutes": 0.025}]])
    started = time.monotonic()
    job = await engine.enqueue("timeout")
    done = await asyncio.wait_for(engine.wait(job.id), 60)
    took = time.monotonic() - started
    task = done.tasks[0]
    assert done.status is JobStatus.ERROR and task.status is TaskStatus.ERROR
    assert task.message == "timed out after 0.025 min"
    assert task.duration_s >= 1.4, task.duration_s
    assert 1.4 <= took < 15, took
