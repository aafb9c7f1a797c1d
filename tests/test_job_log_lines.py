"""What a job tells its user, read from the real engine's log and history: the start and end lines, phase names,
each task's outcome line, the job message after failures, cancels and retries. Engine headless, DuckDB storage."""

from __future__ import annotations

import asyncio
import re

import pytest

from kbc_tui.engine import Engine
from kbc_tui.model.job import JobStatus, TaskStatus
from kbc_tui.store.toml_io import dumps_toml
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config

FIVE_ROWS = "create table nums as select range as n from range(5);"
FAILS = "select * from not_there_yet;"
REF = "sql-transformation/{}".format


@pytest.fixture
def root(tmp_path):
    return project(tmp_path / "p")


@pytest.fixture
async def engine(root):
    e = Engine(root, poll_seconds=0.1)
    await e.start(scheduler=False)
    yield e
    await e.stop(grace=0)


def named_phases(root, orch_id, phases: dict[str, list[dict]]) -> None:
    data = {"name": orch_id, "phases": [{"name": name, "tasks": [{"component": "sql-transformation", **t}
                                                                  for t in tasks]}
                                        for name, tasks in phases.items()]}
    (root / "orchestrations" / f"{orch_id}.toml").write_bytes(dumps_toml(data))


async def run(engine, orch, **kwargs):
    job = await engine.enqueue(orch, **kwargs)
    done = await asyncio.wait_for(engine.wait(job.id), 60)
    return done, [(ln.level, ln.text, ln.task) for ln in engine.job_log(job.id)]


def matching(lines, pattern):
    return [line for line in lines if re.fullmatch(pattern, line[1])]


async def test_a_successful_job_logs_its_start_phases_tasks_and_end(root, engine):
    sql_config(root, "make", FIVE_ROWS, ["nums"])
    sql_config(root, "off", FIVE_ROWS, ["nums"])
    named_phases(root, "flow", {"Load numbers": [{"config": "make"}, {"config": "off", "active": False}]})
    job, lines = await run(engine, "flow", triggered_by="ops@example.com")
    assert job.status is JobStatus.SUCCESS and job.message == ""
    assert lines[0] == ("info", f"Job {job.id} started: orchestration 'flow', trigger manual by ops@example.com",
                        None)
    assert ("info", "Phase 1: Load numbers", None) in lines
    assert ("info", f"Task {REF('make')} started", REF("make")) in lines  # one attempt: no "(attempt 1 of 1)"
    assert [(level, task) for level, text, task in lines if text.startswith("Input mapping: ")] \
        == [("info", REF("make"))]  # the component's own lines, tagged with its task
    done = matching(lines, rf"Task {REF('make')} succeeded in \d+\.\d\d s, 5 rows: 1 output table\(s\)")
    assert [(level, task) for level, _, task in done] == [("info", REF("make"))]
    make, off = job.tasks
    took = re.search(r"succeeded in (\S+) s", done[0][1]).group(1)
    assert took == f"{make.duration_s:.2f}" and make.duration_s >= 0.005  # DuckDB work and a storage write
    assert (make.status, make.rows, make.message) == (TaskStatus.SUCCESS, 5, "1 output table(s)")
    assert (off.status, off.message) == (TaskStatus.SKIPPED, "inactive")
    assert ("info", f"Task {REF('off')} skipped: inactive", REF("off")) in lines
    level, text, task = lines[-1]
    assert (level, task) == ("info", None) and re.fullmatch(rf"Job {job.id} finished: success in \d+\.\d s", text)


async def test_a_job_without_a_user_names_only_its_trigger(root, engine):
    sql_config(root, "make", FIVE_ROWS, ["nums"])
    orchestration(root, "flow", [["make"]])
    job, lines = await run(engine, "flow", triggered_by="")
    assert lines[0] == ("info", f"Job {job.id} started: orchestration 'flow', trigger manual", None)


async def test_an_orchestration_without_tasks_succeeds_with_a_warning(root, engine):
    orchestration(root, "empty", [])
    job, lines = await run(engine, "empty")
    assert job.status is JobStatus.SUCCESS and job.tasks == []
    assert ("warning", "The orchestration has no tasks", None) in lines


async def test_continue_on_failure_ends_warning_naming_each_failed_task(root, engine):
    sql_config(root, "bad", FAILS, ["x"])
    sql_config(root, "good", "create table g as select 1 as one;", ["g"])
    orchestration(root, "soft", [[{"config": "bad", "continue_on_failure": True}], ["good"]])
    job, lines = await run(engine, "soft")
    assert job.status is JobStatus.WARNING
    bad, good = job.tasks
    assert "not_there_yet" in bad.message and good.status is TaskStatus.SUCCESS
    assert job.message == f"task {REF('bad')} failed: {bad.message}"
    assert ("error", f"Task {REF('bad')} failed: {bad.message}", REF("bad")) in lines
    assert ("warning", f"Task {REF('bad')} failed; continuing (continue_on_failure)", None) in lines
    assert lines[-1][0] == "warning" and lines[-1][1].endswith(f" s: {job.message}")


async def test_a_hard_failure_beside_a_soft_one_ends_the_job_error_naming_the_first(root, engine):
    sql_config(root, "hard", FAILS, ["x"])
    sql_config(root, "soft", FAILS.replace("not_there_yet", "also_missing"), ["y"])
    sql_config(root, "later", FIVE_ROWS, ["nums"])
    orchestration(root, "mixed", [["hard", {"config": "soft", "continue_on_failure": True}], ["later"]])
    job, lines = await run(engine, "mixed")
    assert job.status is JobStatus.ERROR
    hard, soft, later = job.tasks
    assert hard.started_at < hard.finished_at  # it ran: its start is kept
    assert job.message == f"task {REF('hard')} failed: {hard.message}"
    assert (later.status, later.message) == (TaskStatus.SKIPPED, "not run: an earlier task failed")
    assert lines[-1][0] == "error" and lines[-1][1].endswith(f" s: {job.message}")


async def test_a_cancelled_job_says_so_and_skips_the_phases_after(root, engine):
    sql_config(root, "slow", ENDLESS, ["t"])
    sql_config(root, "after", FIVE_ROWS, ["nums"])
    orchestration(root, "slow", [["slow"], ["after"]])
    job = await engine.enqueue("slow")
    for _ in range(300):
        current = engine.get_job(job.id)
        if current.tasks and current.tasks[0].status is TaskStatus.PROCESSING:
            break
        await asyncio.sleep(0.05)
    assert current.tasks[0].message == ""  # running: nothing to say yet
    await asyncio.sleep(0.3)
    await engine.cancel(job.id)
    done = await asyncio.wait_for(engine.wait(job.id), 20)
    lines = [(ln.level, ln.text, ln.task) for ln in engine.job_log(job.id)]
    assert (done.status, done.message) == (JobStatus.CANCELLED, "cancelled")
    slow, after = done.tasks
    assert (slow.status, slow.message) == (TaskStatus.CANCELLED, "cancelled")
    assert (after.status, after.message) == (TaskStatus.SKIPPED, "not run: the job was cancelled")
    assert ("warning", f"Job {job.id} cancelled: stopping running tasks", None) in lines
    assert ("warning", f"Task {REF('slow')} cancelled", REF("slow")) in lines
    assert re.fullmatch(rf"Job {job.id} finished: cancelled in \d+\.\d s: cancelled", lines[-1][1])


async def test_a_task_waiting_to_retry_shows_why_and_a_cancel_there_says_cancelled(root, engine):
    sql_config(root, "flaky", FAILS, ["x"])
    orchestration(root, "retry", [[{"config": "flaky", "retries": 1, "retry_delay_seconds": 60}]])
    job = await engine.enqueue("retry")
    for _ in range(300):
        if any("retrying in 60 s" in ln.text for ln in engine.job_log(job.id)):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the first attempt never failed")
    waiting = engine.get_job(job.id).tasks[0]
    assert waiting.status is TaskStatus.PROCESSING and waiting.attempt == 1
    assert "not_there_yet" in waiting.message  # the task table says why it will run again
    lines = [(ln.level, ln.text, ln.task) for ln in engine.job_log(job.id)]
    assert ("info", f"Task {REF('flaky')} started (attempt 1 of 2)", REF("flaky")) in lines
    assert matching(lines, rf"Task {REF('flaky')} attempt 1 failed: .*not_there_yet.*; retrying in 60 s")[0][0] \
        == "warning"
    await engine.cancel(job.id)
    done = await asyncio.wait_for(engine.wait(job.id), 20)
    assert (done.tasks[0].status, done.tasks[0].message) == (TaskStatus.CANCELLED, "cancelled")


async def test_a_secret_in_a_failure_is_masked_and_a_missing_one_is_named(root, engine, pg_url, monkeypatch):
    """The db-extractor's password (a ``#`` parameter) never shows in the task's message or log, even when the
    database repeats it (here as a table name); a password whose variable is not set names the parameter."""
    from tests.helpers.components import write_config

    secret = "Sekr3tPasswordValue"
    monkeypatch.setenv("KBC_TEST_DB_PASSWORD", secret)
    write_config(root, "db-extractor", "leaky", {"url": pg_url, "#password": "env:KBC_TEST_DB_PASSWORD",
                                                 "tables": [{"name": "t", "table": secret, "output": "in.c-x.t"}]})
    job, lines = await run(engine, "run-db-extractor-leaky")
    assert job.status is JobStatus.ERROR
    message = job.tasks[0].message
    assert "*****" in message and secret not in message, message
    assert not [text for _, text, _ in lines if secret in text]
    assert secret not in job.message

    write_config(root, "db-extractor", "unset", {"url": pg_url, "#password": "env:KBC_TEST_NOT_SET_ANYWHERE",
                                                 "tables": [{"name": "t", "table": "t", "output": "in.c-x.t"}]})
    job, _ = await run(engine, "run-db-extractor-unset")
    assert job.tasks[0].message == "parameters.#password: environment variable KBC_TEST_NOT_SET_ANYWHERE is not set"


async def test_a_file_the_task_cannot_read_fails_it_with_the_systems_words(root, engine):
    from tests.helpers.components import write_config

    (root / "exports.csv").mkdir()  # a folder where a CSV file was expected
    write_config(root, "sheet-extractor", "local", {"path": "exports.csv", "output": "in.c-x.t"})
    job, lines = await run(engine, "run-sheet-extractor-local")
    assert job.status is JobStatus.ERROR and job.tasks[0].status is TaskStatus.ERROR
    assert job.tasks[0].message.endswith("exports.csv: Is a directory"), job.tasks[0].message
    assert engine.storage.table("in.c-x.t") is None


async def test_a_timed_out_task_stops_its_query_so_the_next_job_runs(root, engine):
    sql_config(root, "slow", ENDLESS, ["t"])
    sql_config(root, "make", FIVE_ROWS, ["nums"])
    orchestration(root, "slow", [[{"config": "slow", "timeout_minutes": 0.01}]])
    orchestration(root, "next", [["make"]])
    job, _ = await run(engine, "slow")
    assert (job.status, job.tasks[0].message) == (JobStatus.ERROR, "timed out after 0.01 min")
    assert job.tasks[0].duration_s < 0.6 + 1.3, job.tasks[0].duration_s  # stopped at once, not at the hard stop
    after = await engine.enqueue("next")
    done = await asyncio.wait_for(engine.wait(after.id), 20)
    assert done.status is JobStatus.SUCCESS and done.tasks[0].rows == 5
