"""The engine headless, on real DuckDB storage and a real SQLite history."""

import asyncio
import time

import pytest

from kbc_tui.engine import Engine
from kbc_tui.engine.events import JobChanged, LogBatch
from kbc_tui.model.job import JobStatus, TaskStatus, Trigger
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config

#: ~0.3-1 s of real DuckDB work
BUSY = "create table t as select sum(a.range * b.range) as s from range(20000) a, range(15000) b;"


@pytest.fixture
def root(tmp_path):
    return project(tmp_path / "p")


@pytest.fixture
async def engine(root):
    engines = []

    async def make(**kwargs):
        e = Engine(root, poll_seconds=0.1, **kwargs)
        await e.start(scheduler=False)
        engines.append(e)
        return e

    yield make
    for e in engines:
        await e.stop(grace=0)


async def run(engine, orch):
    job = await engine.enqueue(orch)
    return await asyncio.wait_for(engine.wait(job.id), 60)


async def test_phases_run_in_order_and_data_flows(root, engine):
    sql_config(root, "make", "create table nums as select range as n from range(5);", ["nums"])
    sql_config(root, "double", "create table doubled as select n * 2 as n2 from nums;", ["doubled"],
               inputs={"nums": "out.c-test.nums"})
    orchestration(root, "flow", [["make"], ["double"]])
    e = await engine()
    job = await run(e, "flow")
    assert job.status is JobStatus.SUCCESS, job.message
    first, second = job.tasks
    assert (first.phase, second.phase) == (0, 1)
    assert first.finished_at <= second.started_at
    assert second.rows == 5
    assert sorted(e.storage.preview("out.c-test.doubled")[1]) == [(0,), (2,), (4,), (6,), (8,)]


async def test_tasks_in_one_phase_run_concurrently(root, engine):
    sql_config(root, "a", BUSY, ["t"])
    sql_config(root, "b", BUSY.replace("table t", "table u"), ["u"])
    orchestration(root, "par", [["a", "b"]])
    e = await engine()
    job = await run(e, "par")
    assert job.status is JobStatus.SUCCESS, job.message
    a, b = job.tasks
    assert a.started_at < b.finished_at and b.started_at < a.finished_at, "tasks of one phase did not overlap"


async def test_continue_on_failure_gives_warning_and_goes_on(root, engine):
    sql_config(root, "bad", "select * from no_such_table;", ["x"])
    sql_config(root, "good", "create table g as select 1 as one;", ["g"])
    orchestration(root, "soft", [[{"config": "bad", "continue_on_failure": True}], ["good"]])
    e = await engine()
    job = await run(e, "soft")
    assert job.status is JobStatus.WARNING
    assert [t.status for t in job.tasks] == [TaskStatus.ERROR, TaskStatus.SUCCESS]
    assert "no_such_table" in job.message


async def test_failure_stops_the_job_and_names_the_statement(root, engine):
    sql_config(root, "bad", "create table ok as select 1 as a;\nselect nope from ok;", ["ok"])
    sql_config(root, "after", "create table g as select 1 as one;", ["g"])
    orchestration(root, "hard", [["bad"], ["after"]])
    e = await engine()
    job = await run(e, "hard")
    assert job.status is JobStatus.ERROR
    bad, after = job.tasks
    assert "statement 2" in bad.message and "nope" in bad.message
    assert after.status is TaskStatus.SKIPPED and "earlier task failed" in after.message
    assert e.storage.table("out.c-test.g") is None


async def test_inactive_task_is_skipped_and_logged(root, engine):
    sql_config(root, "a", "create table a as select 1 as x;", ["a"])
    orchestration(root, "inactive", [[{"config": "a", "active": False}]])
    e = await engine()
    job = await run(e, "inactive")
    assert job.status is JobStatus.SUCCESS
    assert job.tasks[0].status is TaskStatus.SKIPPED
    assert any("skipped: inactive" in ln.text for ln in e.job_log(job.id))


async def test_timeout_ends_the_task_as_error(root, engine):
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "timeout", [[{"config": "slow", "timeout_minutes": 0.01}]])
    e = await engine()
    started = time.monotonic()
    job = await run(e, "timeout")
    assert time.monotonic() - started < 10
    assert job.status is JobStatus.ERROR
    assert "timed out after 0.01 min" in job.tasks[0].message


async def test_retries_with_delay(root, engine):
    sql_config(root, "flaky", "select * from not_there_yet;", ["x"])
    orchestration(root, "retry", [[{"config": "flaky", "retries": 2, "retry_delay_seconds": 0.2}]])
    e = await engine()
    job = await run(e, "retry")
    assert job.status is JobStatus.ERROR
    assert job.tasks[0].attempt == 3
    log = [ln.text for ln in e.job_log(job.id)]
    assert sum("retrying in 0.2 s" in t for t in log) == 2


async def test_cancel_running_job_stops_quickly_and_keeps_storage(root, engine):
    sql_config(root, "seed", "create table t as select 42 as s;", ["t"])
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "seed", [["seed"]])
    orchestration(root, "slow", [["slow"]])
    e = await engine()
    assert (await run(e, "seed")).status is JobStatus.SUCCESS
    job = await e.enqueue("slow")
    for _ in range(200):
        current = e.get_job(job.id)
        if current.tasks and current.tasks[0].status is TaskStatus.PROCESSING:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    asked = time.monotonic()
    await e.cancel(job.id)
    done = await asyncio.wait_for(e.wait(job.id), 10)
    assert time.monotonic() - asked < 2.0
    assert done.status is JobStatus.CANCELLED
    assert done.tasks[0].status is TaskStatus.CANCELLED
    assert e.storage.preview("out.c-test.t")[1] == [(42,)]


async def test_cancel_waiting_job(root, engine):
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "slow", [["slow"]])
    e = await engine()
    first = await e.enqueue("slow")
    second = await e.enqueue("slow")  # same orchestration: waits behind the first
    await asyncio.sleep(0.3)
    assert e.get_job(second.id).status is JobStatus.WAITING
    cancelled = await e.cancel(second.id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.started_at is None
    await e.cancel(first.id)
    assert (await asyncio.wait_for(e.wait(first.id), 10)).status is JobStatus.CANCELLED


async def test_two_runs_of_one_orchestration_never_overlap(root, engine):
    sql_config(root, "busy", BUSY, ["t"])
    orchestration(root, "busy", [["busy"]])
    e = await engine()
    a = await e.enqueue("busy")
    b = await e.enqueue("busy")
    ja = await asyncio.wait_for(e.wait(a.id), 60)
    jb = await asyncio.wait_for(e.wait(b.id), 60)
    assert ja.status is jb.status is JobStatus.SUCCESS
    assert jb.started_at >= ja.finished_at


async def test_missing_configuration_and_unknown_component_fail_clearly(root, engine):
    orchestration(root, "broken", [[{"config": "ghost"}], [{"component": "ftp-extractor", "config": "x"}]])
    e = await engine()
    job = await run(e, "broken")
    assert job.status is JobStatus.ERROR
    assert "configuration 'sql-transformation/ghost' does not exist" in job.tasks[0].message


async def test_invalid_parameters_fail_the_task_not_the_engine(root, engine):
    (root / "components" / "sql-transformation").mkdir(parents=True)
    (root / "components" / "sql-transformation" / "x.toml").write_text(
        'name = "x"\n[parameters]\nscript = "select 1"\n[[parameters.output]]\nsource = "t"\n'
        'destination = "warehouse.t"\n')
    orchestration(root, "invalid", [["x"]])
    e = await engine()
    job = await run(e, "invalid")
    assert job.status is JobStatus.ERROR
    assert "invalid configuration" in job.tasks[0].message and "destination" in job.tasks[0].message


async def test_unknown_orchestration_is_refused(root, engine):
    e = await engine()
    with pytest.raises(Exception, match="unknown orchestration 'nope'"):
        await e.enqueue("nope")


async def test_events_and_log_batches(root, engine):
    lines = "; ".join(f"create table t{i} as select {i} as x" for i in range(30)) + ";"
    sql_config(root, "many", lines, ["t0"])
    orchestration(root, "ev", [["many"]])
    e = await engine()
    seen = []
    e.events.subscribe(seen.append)
    job = await run(e, "ev")
    await asyncio.sleep(0.1)
    statuses = [ev.job.status for ev in seen if isinstance(ev, JobChanged) and ev.job.id == job.id]
    assert statuses[0] is JobStatus.WAITING and statuses[-1] is JobStatus.SUCCESS
    assert JobStatus.PROCESSING in statuses
    batches = [ev for ev in seen if isinstance(ev, LogBatch)]
    assert sum(len(b.lines) for b in batches) >= 4
    assert len(batches) < sum(len(b.lines) for b in batches), "log lines were not batched"


async def test_second_engine_only_enqueues_and_the_runner_runs(root, engine):
    sql_config(root, "a", "create table a as select 1 as x;", ["a"])
    orchestration(root, "o", [["a"]])
    runner = await engine()
    watcher = await engine()
    assert runner.is_runner and not watcher.is_runner
    seen = []
    watcher.events.subscribe(seen.append)
    job = await watcher.enqueue("o", triggered_by="ops@example.com")
    done = await asyncio.wait_for(watcher.wait(job.id), 20)
    assert done.status is JobStatus.SUCCESS and done.triggered_by == "ops@example.com"
    assert done.pid is not None
    await asyncio.sleep(0.3)
    assert any(isinstance(ev, JobChanged) and ev.job.status is JobStatus.SUCCESS for ev in seen)
    assert any(isinstance(ev, LogBatch) and ev.job_id == job.id for ev in seen)


async def test_retention_keeps_last_n_jobs(root, engine):
    (root / "kbc.toml").write_text('name = "r"\n[jobs]\nretention = 3\n')
    sql_config(root, "a", "create table a as select 1 as x;", ["a"])
    orchestration(root, "o", [["a"]])
    e = await engine()
    ids = [(await run(e, "o")).id for _ in range(5)]
    kept = [j.id for j in e.list_jobs("o", limit=10)]
    assert kept == ids[::-1][:3]
    assert e.job_log(ids[0]) == []


async def test_component_state_is_saved_only_on_success(root, engine):
    e = await engine()
    e.history.save_component_state("db-extractor", "shop", {"last": 5})
    assert e.history.component_state("db-extractor", "shop") == {"last": 5}
    assert e.history.component_state("db-extractor", "other") == {}


async def test_a_job_opens_the_storage_once_for_all_its_tasks(root, engine):
    """The engine keeps the storage open while a job runs (``retain``): its 20 tasks join the open database
    instead of opening the file each (~20 ms a task), and the job's end closes it."""
    for i in range(20):
        sql_config(root, f"t{i}", f"create table r as select {i} as x;", {"r": {"destination": f"out.c-test.r{i}"}})
    orchestration(root, "twenty", [[f"t{i}"] for i in range(20)])
    orchestration(root, "first", [["t0"]])
    e = await engine()
    assert (await run(e, "first")).status is JobStatus.SUCCESS  # after the take-over's clean-up, which opens it
    for _ in range(100):  # the job's end closes the storage just after its status is recorded
        if not e.storage._hold_count:
            break
        await asyncio.sleep(0.01)
    opened = e.storage.opens
    job = await run(e, "twenty")
    assert job.status is JobStatus.SUCCESS, job.message
    assert [t.status for t in job.tasks] == [TaskStatus.SUCCESS] * 20
    assert e.storage.opens - opened == 1
    assert len(e.storage.list_tables()) == 20


def test_manual_trigger_defaults_to_the_user(root, monkeypatch):
    monkeypatch.setenv("KBC_USER_EMAIL", "me@example.com")
    e = Engine(root)
    assert e.default_user() == "me@example.com"
    e.history.close()
    assert Trigger("schedule") is Trigger.SCHEDULE


async def test_each_log_line_reaches_runner_and_watcher_once(root, engine):
    """The runner emits its own job's lines as they are written and never reads them back; a watcher in
    another engine gets every line of that job exactly once, in order, from the history."""
    script = "; ".join(f"create table t{i} as select {i} as x" for i in range(40)) + ";"
    sql_config(root, "many", script, ["t0"])
    orchestration(root, "ev", [["many"]])
    runner = await engine()
    watcher = await engine()
    by_runner, by_watcher = [], []
    runner.events.subscribe(by_runner.append)
    watcher.events.subscribe(by_watcher.append)
    job = await run(runner, "ev")
    await asyncio.sleep(0.5)  # a few polls of both after the job ended
    written = [ln.text for ln in runner.history.log(job.id)]
    assert len(written) >= 4
    for seen in (by_runner, by_watcher):
        texts = [ln.text for ev in seen if isinstance(ev, LogBatch) and ev.job_id == job.id for ln in ev.lines]
        assert texts == written


def test_log_since_skips_excluded_jobs_and_stops_at_upto(root):
    from datetime import datetime, timezone

    from kbc_tui.model.job import LogLine
    from kbc_tui.store.history import JobHistory

    history = JobHistory(root / ".kbc" / "jobs.sqlite")
    now = datetime.now(timezone.utc)
    assert [history.create_job("o", Trigger.MANUAL, "me").id for _ in range(2)] == [1, 2]
    history.add_log([LogLine(job, now, "info", f"{job}-{n}") for n in range(3) for job in (1, 2)])
    top = history.max_log_id()
    history.add_log([LogLine(1, now, "info", "later")])
    assert [ln.text for ln in history.log_since(0, upto=top, exclude_jobs={2})] == ["1-0", "1-1", "1-2"]
    assert [ln.text for ln in history.log_since(top)] == ["later"]
    assert [ln.text for ln in history.log_since(0, 2)] == ["1-0", "2-0"]


async def test_the_engine_runs_on_the_job_state_the_test_asks_for(root, engine, state_backend) -> None:
    """The parametrization is real: on ``postgresql`` the very same engine tests use the shared PostgreSQL state
    (a worker registered under its name, jobs claimed by it), on ``sqlite`` the project's file."""
    orchestration(root, "one", [["t"]])
    sql_config(root, "t", "create table r as select 1 as x;", ["r"])
    e = await engine()
    assert e.history.shared is (state_backend == "postgresql")
    job = await run(e, "one")
    assert job.status is JobStatus.SUCCESS, job.message
    if state_backend == "postgresql":
        assert job.worker and [w.name for w in e.history.workers()] == [job.worker]
    else:
        assert (root / ".kbc" / "jobs.sqlite").exists()
