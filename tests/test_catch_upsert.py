"""Incremental loads upsert by the WHOLE primary key (order id + line number), never by its first column alone:
in DuckDB storage (both write paths), through db-extractor incremental runs against PostgreSQL and MariaDB (fast
and generic paths), and in the db-writer's targets (PostgreSQL, MariaDB, SQLite)."""

from __future__ import annotations

import sqlite3

import pyarrow as pa
import pytest
import sqlalchemy as sa

from kbc_tui.model.job import JobStatus
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.components import run_config
from tests.helpers.projects import project

KEY = ["order_id", "line"]
#: (order_id, line, item): two orders of two lines each
FIRST = [(1, 1, "apple"), (1, 2, "pear"), (2, 1, "plum"), (2, 2, "fig")]
#: line 2 of order 1 changes, order 2 gets a line 3: every other line must stay as it was
SECOND = [(1, 2, "PEAR"), (2, 3, "kiwi")]
AFTER = [(1, 1, "apple"), (1, 2, "PEAR"), (2, 1, "plum"), (2, 2, "fig"), (2, 3, "kiwi")]


def lines(rows) -> pa.Table:
    return pa.table({"order_id": [r[0] for r in rows], "line": [r[1] for r in rows], "item": [r[2] for r in rows]})


def values_sql(rows) -> str:
    return ("SELECT * FROM (VALUES " + ", ".join(f"({o}, {n}, '{i}')" for o, n, i in rows)
            + ") v(order_id, line, item)")


def stored(storage, table_id) -> list[tuple]:
    return sorted(storage.preview(table_id, limit=100)[1])


@pytest.mark.parametrize("write", ["arrow", "select"])
def test_duckdb_storage_upserts_by_the_whole_composite_key(tmp_path, write):
    storage = DuckDBStorage(tmp_path / "storage.duckdb")
    for rows, incremental in ((FIRST, False), (SECOND, True)):
        if write == "arrow":
            storage.write_arrow("in.c-shop.lines", lines(rows), incremental=incremental, primary_key=KEY)
        else:
            storage.write_select("in.c-shop.lines", values_sql(rows), incremental=incremental, primary_key=KEY)
    assert stored(storage, "in.c-shop.lines") == AFTER
    assert storage.table("in.c-shop.lines").primary_key == KEY


@pytest.mark.parametrize("kind,fast", [("postgresql", True), ("postgresql", False),
                                       ("mariadb", True), ("mariadb", False)])
def test_db_extractor_incremental_runs_upsert_by_the_whole_composite_key(request, unique, tmp_path, kind, fast):
    url = request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url")
    engine = sa.create_engine(url)
    name = f"lines_{unique}"
    ts = "timestamp" if kind == "postgresql" else "datetime(6)"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {name} (order_id int, line int, item varchar(20), updated_at {ts}, "
                                 "PRIMARY KEY (order_id, line))"))
            for minute, (o, n, i) in enumerate(FIRST):
                conn.execute(sa.text(f"INSERT INTO {name} VALUES ({o}, {n}, '{i}', '2026-01-01 10:0{minute}:00')"))
        root = project(tmp_path / "p")
        table = {"name": "lines", "table": name, "output": "in.c-shop.lines", "primary_key": KEY,
                 "incremental_fetching_column": "updated_at"}
        if not fast:
            table["fast"] = False
        job, storage, _ = run_config(root, "db-extractor", "shop", {"url": url, "tables": [table]})
        assert job.status is JobStatus.SUCCESS, job.message
        assert sorted(r[:3] for r in storage.preview("in.c-shop.lines", limit=100)[1]) == FIRST
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {name} SET item = 'PEAR', updated_at = '2026-01-02 10:00:00' "
                                 "WHERE order_id = 1 AND line = 2"))
            conn.execute(sa.text(f"INSERT INTO {name} VALUES (2, 3, 'kiwi', '2026-01-02 10:00:00')"))
        job, storage, _ = run_config(root, "db-extractor", "shop")
        assert job.status is JobStatus.SUCCESS, job.message
        assert job.tasks[0].rows == 3  # the two changed since the last run, and the boundary row (2, 2) again
        assert sorted(r[:3] for r in storage.preview("in.c-shop.lines", limit=100)[1]) == AFTER
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "sqlite"])
def test_db_writer_incremental_upserts_by_the_whole_composite_key(request, unique, tmp_path, kind):
    root = project(tmp_path / "p")
    storage_path = root / ".kbc" / "storage.duckdb"
    if kind == "sqlite":
        url = "sqlite:///out/shop.sqlite"
    else:
        url = request.getfixturevalue("pg_url" if kind == "postgresql" else "mysql_url")
    name = f"lines_{unique}"
    params = {"url": url, "tables": [{"source": "out.c-shop.lines", "table": name, "primary_key": KEY,
                                      "incremental": True}]}
    try:
        for rows in (FIRST, SECOND):
            DuckDBStorage(storage_path).write_arrow("out.c-shop.lines", lines(rows), primary_key=KEY)
            job, _, _ = run_config(root, "db-writer", "shop", params)
            assert job.status is JobStatus.SUCCESS, job.message
        if kind == "sqlite":
            with sqlite3.connect(root / "out" / "shop.sqlite") as db:
                got = db.execute(f"SELECT order_id, line, item FROM {name}").fetchall()
        else:
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                got = [tuple(r) for r in conn.execute(sa.text(f"SELECT order_id, line, item FROM {name}"))]
            engine.dispose()
        assert sorted(got) == AFTER
    finally:
        if kind != "sqlite":
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            engine.dispose()
