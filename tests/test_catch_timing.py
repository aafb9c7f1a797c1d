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


# -- a task whose work cannot be interrupted (a SQLite source read waiting on a lock) ---------------------------
@pytest.fixture
def locked_source(root, tmp_path):
    """A db-extractor configuration reading a SQLite file another program holds an exclusive lock on: the
    read waits SQLite's busy timeout (5 s) in the task's thread, deaf to the job's cancel (SQLite has no cancel
    request from outside). Yields the lock holder's connection; the lock is released at the end."""
    import sqlite3

    from tests.helpers.components import write_config

    path = tmp_path / "source.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (id int PRIMARY KEY)")
    holder.execute("INSERT INTO t VALUES (1)")
    write_config(root, "db-extractor", "src", {"url": f"sqlite:///{path}", "tables": [
        {"name": "t", "table": "t", "output": "in.c-db.t"}]})
    holder.execute("BEGIN EXCLUSIVE")
    yield holder
    holder.rollback()
    holder.close()


def seconds(a, b) -> float:
    return (b - a).total_seconds()


async def test_a_cancel_ends_a_task_deaf_to_it_after_the_hard_stop_delay(root, engine, locked_source):
    """The job's cancel cannot reach a query waiting on a lock: the task is stopped 1.5 s after the cancel
    anyway (not after the 5 s wait), and the job ends cancelled."""
    job = await engine.enqueue("run-db-extractor-src")
    for _ in range(300):
        current = engine.get_job(job.id)
        if current.tasks and current.tasks[0].status is TaskStatus.PROCESSING:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the read is waiting on the lock
    await engine.cancel(job.id)
    done = await asyncio.wait_for(engine.wait(job.id), 20)
    locked_source.rollback()  # the read gets the file, sees the cancel and ends
    assert done.status is JobStatus.CANCELLED and done.tasks[0].status is TaskStatus.CANCELLED
    asked = [ln.time for ln in engine.job_log(job.id) if "stopping running tasks" in ln.text][0]
    # the upper bound leaves a loaded machine room; the lock wait (5 s) is what it must stay under
    assert 1.4 <= seconds(asked, done.tasks[0].finished_at) < 3.4, seconds(asked, done.tasks[0].finished_at)


async def test_a_timeout_ends_a_task_deaf_to_it_after_the_hard_stop_delay(root, engine, locked_source, caplog):
    """0.01 min (0.6 s), then 1.5 s for the task to stop by itself; it cannot, so it is stopped: timed out
    about 2.1 s after it started, not when the lock wait ends (5 s). The stopped task is not left behind: when
    its read ends later, nothing complains about a task nobody waited for."""
    import gc

    path = root / "orchestrations" / "run-db-extractor-src.toml"
    path.write_text(path.read_text().replace('config = "src"', 'config = "src"\ntimeout_minutes = 0.01'))
    job = await engine.enqueue("run-db-extractor-src")
    done = await asyncio.wait_for(engine.wait(job.id), 20)
    locked_source.rollback()
    task = done.tasks[0]
    assert (done.status, task.status, task.message) == (JobStatus.ERROR, TaskStatus.ERROR, "timed out after 0.01 min")
    assert 2.0 <= task.duration_s < 3.9, task.duration_s  # well under the 5 s lock wait, with room for a loaded machine
    await asyncio.sleep(1.0)  # the read gets the file and ends (seeing the cancel)
    gc.collect()
    assert not [r.getMessage() for r in caplog.records if r.name == "asyncio"]
