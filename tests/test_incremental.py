"""Incremental fetching over many runs: the stored last value advances every run, nothing is duplicated.

Run after run with source changes in between, as a scheduled extraction lives: the rows fetched per run
and the state kept between runs are checked every time (the state once stopped advancing from the
third run: the task changed the saved state in place, so the runner saw no change and never saved it).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kbc_tui.components import get_component
from kbc_tui.model.job import JobStatus
from tests.helpers.components import run_config
from tests.helpers.job_state import component_state
from tests.helpers.projects import project


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-generic", "mariadb"])
def source(request, tmp_path, unique):
    """(url, sqlalchemy engine, table name, extra table settings) of a real database."""
    kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'source.sqlite'}"
    else:
        url = request.getfixturevalue("mysql_url" if kind == "mariadb" else "pg_url")
    engine = sa.create_engine(url)
    name = f"inc_{unique}"
    ts = {"mariadb": "datetime(6)", "sqlite": "TIMESTAMP"}.get(kind, "timestamp")
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id int PRIMARY KEY, value varchar(20), updated_at {ts})"))
    yield url, engine, name, ({"fast": False} if kind == "postgresql-generic" else {})
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    engine.dispose()


def execute(engine, *statements):
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def stored_state(root):
    return component_state(root, "db-extractor", "src")


def test_the_last_value_advances_on_every_run_and_no_row_is_duplicated(source, tmp_path):
    url, engine, name, extra = source
    execute(engine, *(f"INSERT INTO {name} VALUES ({i}, 'v{i}', '2026-01-{i:02d} 10:00:00')" for i in range(1, 11)))
    root = project(tmp_path / "p")
    params = {"url": url, "tables": [{"name": "inc", "table": name, "output": "in.c-db.inc", "primary_key": ["id"],
                                      "incremental_fetching_column": "updated_at", **extra}]}
    changes = [
        [],
        [f"UPDATE {name} SET value = 'changed', updated_at = '2026-02-01 00:00:00' WHERE id = 2",
         f"INSERT INTO {name} VALUES (11, 'v11', '2026-02-02 00:00:00')"],
        [f"INSERT INTO {name} VALUES (12, 'v12', '2026-02-03 00:00:00')"],
        [f"UPDATE {name} SET value = 'again', updated_at = '2026-02-04 00:00:00' WHERE id = 5"],
        [],
    ]
    # rows fetched: all; then the boundary row (>= the last value) plus what changed since it
    expected_rows = [10, 3, 2, 2, 1]
    expected_last = ["2026-01-10T10:00:00", "2026-02-02T00:00:00", "2026-02-03T00:00:00",
                     "2026-02-04T00:00:00", "2026-02-04T00:00:00"]
    for run, (change, rows, last) in enumerate(zip(changes, expected_rows, expected_last), 1):
        execute(engine, *change)
        job, storage, log = run_config(root, "db-extractor", "src", params if run == 1 else None)
        assert job.status is JobStatus.SUCCESS, job.message
        assert (run, job.tasks[0].rows) == (run, rows)
        assert (run, stored_state(root)) == (run, {"last_fetched": {"inc": last}})
        stored = storage.preview("in.c-db.inc", limit=1000)[1]
        ids = [r[0] for r in stored]
        assert sorted(ids) == sorted(set(ids)), f"run {run}: duplicate rows in storage"
    values = {r[0]: r[1] for r in stored}
    assert len(values) == 12 and values[2] == "changed" and values[5] == "again" and values[12] == "v12"


def test_incremental_fetching_without_a_primary_key_is_refused_with_the_reason():
    problems = get_component("db-extractor").validate({
        "url": "sqlite:///x.sqlite",
        "tables": [{"name": "t", "table": "t", "output": "in.c-db.t", "incremental_fetching_column": "updated_at"}]})
    assert len(problems) == 1
    key, message = problems[0]
    assert key == "parameters.tables[0].primary_key"
    assert "incremental_fetching_column" in message and "twice" in message


def test_a_component_cannot_change_the_saved_state_behind_the_runner(tmp_path):
    """A task that fails after changing its state in place leaves the saved state as it was."""
    from tests.helpers.components import write_config

    root = project(tmp_path / "p")
    source = tmp_path / "source.sqlite"
    db = sa.create_engine(f"sqlite:///{source}")
    execute(db, "CREATE TABLE t (id int PRIMARY KEY, updated_at TIMESTAMP)",
            "INSERT INTO t VALUES (1, '2026-01-01 00:00:00')")
    params = {"url": f"sqlite:///{source}", "tables": [
        {"name": "t", "table": "t", "output": "in.c-db.t", "primary_key": ["id"],
         "incremental_fetching_column": "updated_at"},
        {"name": "missing", "table": "no_such_table", "output": "in.c-db.missing"}]}
    write_config(root, "db-extractor", "src", {**params, "tables": params["tables"][:1]})
    job, _, _ = run_config(root, "db-extractor", "src")
    assert job.status is JobStatus.SUCCESS
    execute(db, "INSERT INTO t VALUES (2, '2026-03-01 00:00:00')")
    job, _, _ = run_config(root, "db-extractor", "src", params)  # table 1 advances, then table 2 fails
    assert job.status is JobStatus.ERROR
    assert stored_state(root) == {"last_fetched": {"t": "2026-01-01T00:00:00"}}
    db.dispose()
