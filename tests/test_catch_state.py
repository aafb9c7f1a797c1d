"""An incremental extraction whose task fails after it fetched rows keeps the saved state (the last fetched value)
as it was, however the task ends: an error, an error on every retry, a timeout, a cancel. The next run fetches
those rows again; had the state advanced, they would never be loaded."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from kbc_tui.model.job import JobStatus
from kbc_tui.store.toml_io import dumps_toml
from kbc_tui.engine import Engine
from tests.helpers.components import run_config, write_config
from tests.helpers.job_state import component_state
from tests.helpers.projects import project

ORCH = "run-db-extractor-src"


@pytest.fixture(params=["postgresql", "mariadb"])
def source(request, unique):
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "mysql_url")
    engine = sa.create_engine(url)
    name = f"state_{unique}"
    ts = "timestamp" if request.param == "postgresql" else "datetime(6)"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id int PRIMARY KEY, updated_at {ts})"))
        for i in (1, 2, 3):
            conn.execute(sa.text(f"INSERT INTO {name} VALUES ({i}, '2026-01-0{i} 00:00:00')"))
    sleep = "SELECT pg_sleep(60) AS slept" if request.param == "postgresql" else "SELECT SLEEP(60) AS slept"
    yield url, engine, name, sleep
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    engine.dispose()


def saved_state(root):
    return component_state(root, "db-extractor", "src")


def with_task_options(root, **options):
    path = root / "orchestrations" / f"{ORCH}.toml"
    path.write_bytes(dumps_toml({"name": "run src", "tasks": [{"component": "db-extractor", "config": "src",
                                                              **options}]}))


async def cancel_after_the_first_table(root):
    """Run the extraction; cancel it once table t is stored (the second table's query sleeps)."""
    engine = Engine(root, poll_seconds=0.1)
    await engine.start(scheduler=False)
    try:
        job = await engine.enqueue(ORCH)
        for _ in range(600):
            if any("in.c-db.t: 3 rows" in line.text for line in engine.job_log(job.id)):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("table t was never stored")
        await asyncio.sleep(0.2)
        await engine.cancel(job.id)
        return await asyncio.wait_for(engine.wait(job.id), 15)
    finally:
        await engine.stop(grace=0)


@pytest.mark.parametrize("ending", ["error", "error on every retry", "timeout", "cancel"])
def test_a_task_failing_after_it_fetched_keeps_the_state_and_the_next_run_fetches_again(source, tmp_path, ending):
    url, engine, name, sleep = source
    root = project(tmp_path / "p")
    fetched = {"name": "t", "table": name, "output": "in.c-db.t", "primary_key": ["id"],
               "incremental_fetching_column": "updated_at"}
    job, _, _ = run_config(root, "db-extractor", "src", {"url": url, "tables": [fetched]})
    assert job.status is JobStatus.SUCCESS and job.tasks[0].rows == 3
    before = saved_state(root)
    assert before == {"last_fetched": {"t": "2026-01-03T00:00:00"}}
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (4, '2026-02-01 00:00:00'), (5, '2026-02-02 00:00:00')"))

    # table t is fetched first (its new rows reach storage), then the second table ends the task
    if ending in ("error", "error on every retry"):
        second = {"name": "gone", "table": f"gone_{name}", "output": "in.c-db.gone"}
    else:
        second = {"name": "slow", "query": sleep, "output": "in.c-db.slow"}
    write_config(root, "db-extractor", "src", {"url": url, "tables": [fetched, second]})
    if ending == "error on every retry":
        with_task_options(root, retries=1, retry_delay_seconds=0)
    if ending == "timeout":
        with_task_options(root, timeout_minutes=0.05)
    if ending == "cancel":
        job = asyncio.run(cancel_after_the_first_table(root))
        assert job.status is JobStatus.CANCELLED, job.message
    else:
        job, _, log = run_config(root, "db-extractor", "src")
        assert job.status is JobStatus.ERROR
        assert any("in.c-db.t: 3 rows" in line for line in log), log  # it did fetch before it failed
        if ending == "error on every retry":
            assert job.tasks[0].attempt == 2
        if ending == "timeout":
            assert "timed out after 0.05 min" in job.tasks[0].message
    assert saved_state(root) == before

    write_config(root, "db-extractor", "src", {"url": url, "tables": [fetched]})
    with_task_options(root)
    job, storage, _ = run_config(root, "db-extractor", "src")
    assert job.status is JobStatus.SUCCESS, job.message
    assert job.tasks[0].rows == 3  # the boundary row 3 and rows 4 and 5 again
    assert saved_state(root) == {"last_fetched": {"t": "2026-02-02T00:00:00"}}
    assert sorted(r[0] for r in storage.preview("in.c-db.t")[1]) == [1, 2, 3, 4, 5]
