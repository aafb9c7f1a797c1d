"""Runner paths the other engine tests do not take: a job whose orchestration broke after it was queued, a task
whose saved state cannot be read, the task events a screen follows, a reader let in between two tasks.
Engine headless, DuckDB storage, a real SQLite history."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from kbc_tui.engine import Engine
from kbc_tui.engine.events import TaskChanged
from kbc_tui.model.job import JobStatus, TaskStatus
from tests.helpers.disk import disk_full_once
from tests.helpers.job_state import execute_on_state
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config

FIVE_ROWS = "create table nums as select range as n from range(5);"


@pytest.fixture
def root(tmp_path):
    return project(tmp_path / "p")


@pytest.fixture
async def engine(root):
    e = Engine(root, poll_seconds=0.05)
    await e.start(scheduler=False)
    yield e
    await e.stop(grace=0)


async def until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def start_reader(root):
    """A reader in another process listing the storage's tables: while the runner holds the storage it waits
    (up to 20 s), leaving its note for the runner."""
    return await asyncio.create_subprocess_exec(sys.executable, "-c", (
        "from kbc_tui.storage.duckdb_storage import DuckDBStorage; "
        f"s = DuckDBStorage({str(root / '.kbc' / 'storage.duckdb')!r}, busy_retry_seconds=20); "
        "import json; print(json.dumps([str(t.id) for t in s.list_tables()]))"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def tables_read(reader) -> list[str]:
    try:
        out, err = await asyncio.wait_for(reader.communicate(), 30)
    finally:
        if reader.returncode is None:
            reader.kill()
    assert reader.returncode == 0, err.decode()[-2000:]
    return json.loads(out)


@pytest.fixture
def held_source(root, tmp_path):
    """A db-extractor configuration "held" whose SQLite source another program holds locked: its task waits
    (SQLite's 5 s busy timeout) until the test releases the lock (``.rollback()``)."""
    import sqlite3

    from tests.helpers.components import write_config

    path = tmp_path / "held.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE h (id int PRIMARY KEY)")
    holder.execute("INSERT INTO h VALUES (1)")
    write_config(root, "db-extractor", "held", {"url": f"sqlite:///{path}", "tables": [
        {"name": "h", "table": "h", "output": "in.c-db.h"}]})
    holder.execute("BEGIN EXCLUSIVE")
    yield holder
    holder.rollback()
    holder.close()


async def reader_waits_on_the_held_task(engine, root, held_source, job_id):
    """Once the job's held task waits on its source (the job holds the storage open), start a reader; when its
    note is there, release the source: the held task ends and the runner moves to the next task."""
    held = lambda: [t for t in engine.get_job(job_id).tasks if t.component == "db-extractor"]  # noqa: E731
    assert await until(lambda: held() and held()[0].status is TaskStatus.PROCESSING)
    reader = await start_reader(root)
    assert await until(engine.storage.reader_waiting), "the reader never waited"
    held_source.rollback()
    return reader


def processing(engine, job_id) -> bool:
    tasks = engine.get_job(job_id).tasks
    return bool(tasks) and tasks[0].status is TaskStatus.PROCESSING


async def test_a_job_whose_orchestration_broke_while_it_waited_ends_error_saying_it_cannot_start(root, engine):
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "o", [["slow"]])
    first = await engine.enqueue("o")
    second = await engine.enqueue("o")  # waits behind the first
    assert await until(lambda: processing(engine, first.id))
    (root / "orchestrations" / "o.toml").write_text("phases = [[[\n")  # someone saves a broken file meanwhile
    await engine.cancel(first.id)
    done = await asyncio.wait_for(engine.wait(second.id), 20)
    assert done.status is JobStatus.ERROR and done.tasks == []
    assert done.message.startswith("cannot start: ") and "o.toml" in done.message, done.message
    assert done.finished_at is not None
    last = engine.job_log(second.id)[-1]
    assert (last.level, last.text.endswith(f": {done.message}")) == ("error", True)


async def test_a_task_whose_saved_state_cannot_be_read_fails_without_running(root, engine):
    sql_config(root, "make", FIVE_ROWS, ["nums"])
    orchestration(root, "o", [["make"]])
    # a damaged history
    execute_on_state(root, engine.history, "ALTER TABLE component_state RENAME TO component_state_moved")
    job = await asyncio.wait_for(engine.wait((await engine.enqueue("o")).id), 20)
    task = job.tasks[0]
    assert (job.status, task.status) == (JobStatus.ERROR, TaskStatus.ERROR)
    assert task.message.startswith("cannot read its saved state: ") and "component_state" in task.message
    assert task.started_at is not None and task.finished_at is not None
    assert engine.storage.table("out.c-test.nums") is None  # it did not run
    assert job.message == f"task sql-transformation/make failed: {task.message}"


async def test_each_task_change_is_sent_to_the_screens_following_the_job(root, engine):
    sql_config(root, "make", FIVE_ROWS, ["nums"])
    sql_config(root, "off", FIVE_ROWS, ["nums"])
    orchestration(root, "o", [["make", {"config": "off", "active": False}]])
    seen: list[TaskChanged] = []
    engine.events.subscribe(lambda e: seen.append(e) if isinstance(e, TaskChanged) else None)
    job = await asyncio.wait_for(engine.wait((await engine.enqueue("o")).id), 20)
    assert await until(lambda: any(e.task.config == "make" and e.task.status is TaskStatus.SUCCESS for e in seen))
    make = [(e.task.status, e.task.rows) for e in seen if e.job_id == job.id and e.task.config == "make"]
    assert make[0] == (TaskStatus.PROCESSING, None) and make[-1] == (TaskStatus.SUCCESS, 5)
    assert [e.task.status for e in seen if e.task.config == "off"] == [TaskStatus.SKIPPED]


async def test_a_reader_in_another_process_gets_in_before_the_next_task(root, engine, held_source):
    """A reader that waits for the storage while a task runs is let in when that task ends, before the next
    one (here a query that never ends by itself) opens the storage again."""
    sql_config(root, "seed", "create table t as select 1 as id;", ["t"])
    sql_config(root, "slow", ENDLESS, ["s"])
    orchestration(root, "long", [["seed"], [{"component": "db-extractor", "config": "held"}], ["slow"]])
    job = await engine.enqueue("long")
    reader = await reader_waits_on_the_held_task(engine, root, held_source, job.id)
    assert {"out.c-test.t", "in.c-db.h"} <= set(await tables_read(reader))
    assert not engine.get_job(job.id).status.finished, "the reader got in only after the whole job"
    assert await until(lambda: engine.get_job(job.id).tasks[2].status is TaskStatus.PROCESSING)
    await asyncio.sleep(0.5)  # its query runs
    await engine.cancel(job.id)
    assert (await asyncio.wait_for(engine.wait(job.id), 20)).status is JobStatus.CANCELLED


async def test_tasks_are_numbered_in_order_across_phases(root, engine):
    """Each task's index (``kbc-tui job N --json`` shows it) counts 0, 1, 2... over the whole job."""
    for name in ("a", "b", "c"):
        sql_config(root, name, f"create table {name} as select 1 as x;", [name])
    orchestration(root, "o", [["a", "b"], ["c"]])
    job = await asyncio.wait_for(engine.wait((await engine.enqueue("o")).id), 20)
    assert job.status is JobStatus.SUCCESS
    assert [(t.index, t.phase, t.config) for t in job.tasks] == [(0, 0, "a"), (1, 0, "b"), (2, 1, "c")]


async def test_a_job_seen_finished_from_another_process_has_its_last_log_line_written(root, engine, monkeypatch):
    """The runner writes a job's log before its final status: a watcher (another kbc-tui) that sees the job end
    reads the whole log at once, the "finished" line included, even when the runner's log flush is rare."""
    import kbc_tui.engine.engine as engine_module

    monkeypatch.setattr(engine_module, "LOG_FLUSH_SECONDS", 30.0)
    sql_config(root, "a", "create table a as select 1 as x;", ["a"])
    orchestration(root, "o", [["a"]])
    watcher = Engine(root, poll_seconds=0.02)
    await watcher.start(scheduler=False)
    try:
        assert not watcher.is_runner
        job = await engine.enqueue("o")
        done = await asyncio.wait_for(watcher.wait(job.id), 20)
        assert done.status is JobStatus.SUCCESS
        assert watcher.job_log(job.id)[-1].text.startswith(f"Job {job.id} finished: success in ")
    finally:
        await watcher.stop(grace=0)


async def test_an_unexpected_error_in_a_component_fails_the_task_naming_it_with_the_traceback_in_the_debug_log(
        root, engine, tmp_path):
    """Not a failure the component words itself (here pyarrow refusing a SQLite column that holds a number and a
    text): the task fails with the error's type and text, and the traceback is kept in the job log at debug."""
    import sqlite3

    from tests.helpers.components import write_config

    source = tmp_path / "mixed.sqlite"
    db = sqlite3.connect(source)
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1), ('abc')")
    db.commit()
    db.close()
    write_config(root, "db-extractor", "src", {"url": f"sqlite:///{source}", "tables": [
        {"name": "t", "table": "t", "output": "in.c-db.t"}]})
    job = await asyncio.wait_for(engine.wait((await engine.enqueue("run-db-extractor-src")).id), 30)
    task = job.tasks[0]
    assert (job.status, task.status) == (JobStatus.ERROR, TaskStatus.ERROR)
    assert task.message.startswith("ArrowInvalid: ") and "'abc'" in task.message, task.message
    debug = [ln for ln in engine.job_log(job.id) if ln.level == "debug"]
    assert len(debug) == 1 and debug[0].task == "db-extractor/src"
    lines = debug[0].text.splitlines()
    assert lines[0] == "Traceback (most recent call last):" and lines[-1].endswith(task.message)
    assert any(line.startswith("  File ") and "db_extractor.py" in line for line in lines)
    assert engine.storage.table("in.c-db.t") is None


async def test_a_cancel_while_a_reader_is_let_in_stops_the_job_before_its_next_task(root, engine, held_source,
                                                                                     monkeypatch):
    """The job is cancelled during the pause it makes for a waiting reader, before its next task: that task must
    not start afterwards (it did, with a fresh cancel token: its query ran on after the job said cancelled)."""
    import kbc_tui.engine.engine as engine_module

    monkeypatch.setattr(engine_module, "READER_WINDOW_SECONDS", 3.0)  # a wide pause, to cancel inside it
    sql_config(root, "seed", "create table t as select 1 as id;", ["t"])
    sql_config(root, "slow", ENDLESS, ["s"])
    orchestration(root, "o", [["seed"], [{"component": "db-extractor", "config": "held"}], ["slow"]])
    job = await engine.enqueue("o")
    reader = await reader_waits_on_the_held_task(engine, root, held_source, job.id)
    assert "in.c-db.h" in await tables_read(reader)  # let in after the held task: the pause has begun
    await engine.cancel(job.id)
    done = await asyncio.wait_for(engine.wait(job.id), 20)
    seed, held, slow = done.tasks
    assert done.status is JobStatus.CANCELLED and seed.status is held.status is TaskStatus.SUCCESS
    assert (slow.status, slow.started_at, slow.message) == (TaskStatus.SKIPPED, None,
                                                            "not run: the job was cancelled")


@pytest.mark.sqlite_state("the reserve is a file beside .kbc/jobs.sqlite; PostgreSQL's full disk is its server's")
async def test_a_full_disk_when_a_job_is_claimed_does_not_stop_the_runner_for_good(root, engine):
    """The claim's write finds the disk full; the runner gives its reserve back and claims again. Before, the
    runner's loop ended there while the engine still held the runner lock: no job ever ran again."""
    sql_config(root, "quick", FIVE_ROWS, ["nums"])
    orchestration(root, "o", [["quick"]])
    engine.reload_project()
    assert engine.is_runner and engine.reserve.path.exists()
    db = disk_full_once(root, engine, "BEFORE UPDATE OF status ON jobs WHEN NEW.status = 'processing'")
    try:
        job = await engine.enqueue("o")
        done = await asyncio.wait_for(engine.wait(job.id), 20)
    finally:
        db.close()
    assert done.status is JobStatus.SUCCESS
    assert engine.problem and "disk almost full" in engine.problem
    second = await engine.enqueue("o")
    assert (await asyncio.wait_for(engine.wait(second.id), 20)).status is JobStatus.SUCCESS
