"""db-extractor's PostgreSQL fast path streams COPY into storage through a named pipe: a failure on either
side (the server mid-COPY, DuckDB mid-parse) or a cancel leaves the old table, no pipe and no busy server."""

import time

import pyarrow as pa
import pytest
import sqlalchemy as sa

from kbc_tui.model.job import JobStatus
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.components import cancel_mid_task, run_config, write_config
from tests.helpers.projects import project

OLD = pa.table({"old": ["kept"]})


@pytest.fixture
def pg(pg_url, unique):
    engine = sa.create_engine(pg_url)
    created: list[str] = []
    yield pg_url, engine, unique, created
    with engine.begin() as conn:
        for kind, name in reversed(created):
            conn.execute(sa.text(f"DROP {kind} IF EXISTS {name}"))
    engine.dispose()


@pytest.fixture
def root(tmp_path):
    root = project(tmp_path / "p")
    DuckDBStorage(root / ".kbc" / "storage.duckdb").write_arrow("in.c-db.t", OLD)
    return root


def extract(root, url, table):
    return run_config(root, "db-extractor", "src", {"url": url, "tables": [
        {"name": "t", "table": table, "output": "in.c-db.t"}]})


def leftovers(root):
    return list((root / ".kbc" / "tmp").glob("feed-*"))


def test_a_server_error_mid_copy_fails_the_load_and_keeps_the_old_table(pg, root):
    url, engine, u, created = pg
    name = f"fails_{u}"
    created.append(("VIEW", name))
    with engine.begin() as conn:  # rows stream out, then the server fails at row 300,000
        conn.execute(sa.text(f"CREATE VIEW {name} AS SELECT g AS id, 1000000 / (g - 300000) AS ratio, "
                             "'row ' || g AS label FROM generate_series(1, 400000) g"))
    job, storage, log = extract(root, url, name)
    assert job.status is JobStatus.ERROR
    assert job.tasks[0].message.endswith("postgresql at 127.0.0.1:5432: division by zero")
    assert storage.preview("in.c-db.t")[1] == [("kept",)]
    assert not leftovers(root)


def test_a_value_duckdb_cannot_read_fails_the_load_and_stops_the_copy(pg, root):
    url, engine, u, created = pg
    name = f"nan_{u}"
    created.append(("TABLE", name))
    with engine.begin() as conn:  # a DECIMAL cannot be NaN in DuckDB: it stops mid-stream
        conn.execute(sa.text(f"CREATE TABLE {name} AS SELECT g AS id, (g * 1.5)::numeric(12,2) AS amount "
                             "FROM generate_series(1, 500000) g"))
        conn.execute(sa.text(f"UPDATE {name} SET amount = 'NaN' WHERE id = 200000"))
    started = time.monotonic()
    job, storage, _ = extract(root, url, name)
    assert job.status is JobStatus.ERROR and "writing in.c-db.t failed" in job.tasks[0].message
    assert time.monotonic() - started < 30
    assert storage.preview("in.c-db.t")[1] == [("kept",)]
    assert not leftovers(root)


def test_a_missing_table_on_the_copy_side_is_said_in_words(pg, root):
    url, engine, u, created = pg
    job, storage, _ = extract(root, url, f"nothing_{u}")
    assert job.status is JobStatus.ERROR and f"table 'nothing_{u}' not found" in job.tasks[0].message
    assert not leftovers(root)


@pytest.mark.slow
async def test_cancel_mid_copy_keeps_the_old_table_and_ends_the_copy(pg, root):
    url, engine, u, created = pg
    name = f"big_{u}"
    created.append(("TABLE", name))
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} AS SELECT g AS id, md5(g::text) AS label, (g * 1.5)::numeric(12,2) "
                             "AS amount FROM generate_series(1, 3000000) g"))
    write_config(root, "db-extractor", "big", {"url": url, "tables": [
        {"name": "t", "table": name, "output": "in.c-db.t"}]})
    done, took, storage = await cancel_mid_task(root, "run-db-extractor-big", after=0.5)
    assert took < 2.0
    assert done.status is JobStatus.CANCELLED, done.message
    assert storage.preview("in.c-db.t")[1] == [("kept",)]
    for _ in range(50):
        with engine.connect() as conn:
            running = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                           f"AND query LIKE 'COPY%{name}%'")).scalar()
        if not running:
            break
        time.sleep(0.1)
    assert not running
    assert not leftovers(root)
