"""db-extractor's MySQL / MariaDB paths against the real MariaDB: the ConnectorX fast path gives the same table as
the generic (SQLAlchemy) path, keeps every value exact, falls back when it cannot, and cancels cleanly."""

import datetime as dt
import time
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from kbc_tui.model.job import JobStatus
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.components import cancel_mid_task, run_config, write_config
from tests.helpers.projects import project

UNICODE = "Příliš žluťoučký kůň úpěl ďábelské ódy 🐎"


@pytest.fixture
def maria(mysql_url, unique):
    engine = sa.create_engine(mysql_url)
    created: list[str] = []
    yield mysql_url, engine, unique, created
    with engine.begin() as conn:
        for table in created:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


def mixed_table(engine, name):
    with engine.begin() as conn:
        conn.execute(sa.text(
            f"CREATE TABLE {name} (id INT PRIMARY KEY, small SMALLINT, big BIGINT, tiny TINYINT, "
            "uint INT UNSIGNED, amount DECIMAL(18,4), wide DECIMAL(30,15), ratio DOUBLE, single FLOAT, flag BOOLEAN, "
            "day DATE, "
            "at DATETIME(6), stamp TIMESTAMP(6) NULL, kind ENUM('a','b'), doc JSON, raw BLOB, label TEXT, "
            "code CHAR(3)) CHARSET utf8mb4"))
        conn.execute(sa.text(
            f"INSERT INTO {name} VALUES (1, -7, 9007199254740993, -128, 4294967295, 12345678901234.5678, "
            "123456789012345.123456789012345, 0.1428571428571428, 1.5, true, '2024-02-29', "
            "'2026-02-28 13:45:01.123456', "
            "'2026-02-28 13:45:01.654321', 'b', '{\"a\": [1, 2]}', 'xyz', :label, 'ab'), "
            "(2" + ", NULL" * 17 + "), "
            "(3, 32767, -9223372036854775808, 127, 0, -0.0001, -0.000000000000001, -1e308, -0.25, false, '1970-01-01', "
            "'1999-12-31 23:59:59', '1999-12-31 23:59:59', 'a', '[]', '', '', '')"), {"label": UNICODE})


def seed(root, table_id):
    DuckDBStorage(root / ".kbc" / "storage.duckdb").write_arrow(table_id, pa.table({"old": ["kept"]}))


def extract(root, url, name, output, **extra):
    return run_config(root, "db-extractor", output.rsplit(".", 1)[-1], {"url": url, "tables": [
        {"name": "t", "table": name, "output": output, **extra}]})


def test_double_keeps_every_digit_on_the_generic_path(maria, tmp_path):
    url, engine, u, created = maria
    name = f"dbl_{u}"
    created.append(name)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id INT PRIMARY KEY, ratio DOUBLE)"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (1, 1 / 7e0), (2, NULL), (3, 1e-300)"))
    job, storage, _ = extract(project(tmp_path / "p"), url, name, "in.c-db.dbl", fast=False)
    assert job.status is JobStatus.SUCCESS, job.message
    assert sorted(storage.preview("in.c-db.dbl")[1]) == [(1, 1 / 7), (2, None), (3, 1e-300)]
    assert {c.name: c.type for c in storage.table("in.c-db.dbl").columns}["ratio"] == "DOUBLE"


def test_fast_path_gives_the_same_table_as_the_generic_path(maria, tmp_path):
    url, engine, u, created = maria
    name = f"mixed_{u}"
    created.append(name)
    mixed_table(engine, name)
    root = project(tmp_path / "p")
    fast, storage, log = extract(root, url, name, "in.c-db.fast", primary_key=["id"])
    assert fast.status is JobStatus.SUCCESS, fast.message
    assert any(line.endswith("; ConnectorX)") for line in log)
    generic, storage, log = extract(root, url, name, "in.c-db.generic", primary_key=["id"], fast=False)
    assert generic.status is JobStatus.SUCCESS, generic.message
    assert not any("ConnectorX" in line for line in log)
    tables = [storage.table(t) for t in ("in.c-db.fast", "in.c-db.generic")]
    assert [(c.name, c.type) for c in tables[0].columns] == [(c.name, c.type) for c in tables[1].columns]
    rows = [sorted(storage.preview(t)[1]) for t in ("in.c-db.fast", "in.c-db.generic")]
    assert rows[0] == rows[1]
    types = {c.name: c.type for c in tables[0].columns}
    assert types["amount"] == "DECIMAL(18,4)" and types["wide"] == "DECIMAL(30,15)" and types["flag"] == "BOOLEAN"
    one, two, three = rows[0]
    assert one[5:12] == (Decimal("12345678901234.5678"), Decimal("123456789012345.123456789012345"), 0.1428571428571428,
                         1.5, True, dt.date(2024, 2, 29), dt.datetime(2026, 2, 28, 13, 45, 1, 123456))
    assert one[1:5] == (-7, 9007199254740993, -128, 4294967295)
    assert one[16] == UNICODE and one[17] == "ab"
    assert two[1:] == (None,) * 17  # NULL stays NULL
    assert three[6] == Decimal("-0.000000000000001") and three[7] == -1e308
    assert three[16] == "" and three[17] == ""  # empty text stays empty, not NULL
    assert tables[0].primary_key == ["id"]


def test_a_column_it_cannot_carry_falls_back_to_the_generic_path(maria, tmp_path):
    url, engine, u, created = maria
    name = f"bits_{u}"
    created.append(name)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id INT PRIMARY KEY, flags BIT(8))"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (1, 5), (2, NULL)"))
    job, storage, log = extract(project(tmp_path / "p"), url, name, "in.c-db.bits")
    assert job.status is JobStatus.SUCCESS, job.message
    assert not any("ConnectorX" in line for line in log)
    assert storage.table("in.c-db.bits").rows == 2


def test_time_is_a_duration_and_keeps_negative_and_long_values(maria, tmp_path):
    """MySQL's TIME is a duration (-838:59:59 to 838:59:59), not a time of day: stored as an INTERVAL, every
    value as it was (a time of day wrapped -01:00 to 23:00 and 838:59:59 to 22:59:59 without a word)."""
    url, engine, u, created = maria
    name = f"times_{u}"
    created.append(name)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id INT PRIMARY KEY, took TIME(6))"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (1, '12:34:56.5'), (2, '-01:00:00'), (3, '838:59:59'), "
                             "(4, NULL)"))
    root = project(tmp_path / "p")
    for query in (False, True):
        output = "in.c-db.q" if query else "in.c-db.t"
        source = {"query": f"SELECT id, took FROM {name}"} if query else {"table": name}
        job, storage, _ = run_config(root, "db-extractor", output.rsplit(".", 1)[-1], {"url": url, "tables": [
            {"name": "t", **source, "output": output}]})
        assert job.status is JobStatus.SUCCESS, job.message
        assert {c.name: c.type for c in storage.table(output).columns}["took"] == "INTERVAL", output
        assert sorted(storage.preview(output)[1]) == [
            (1, dt.timedelta(hours=12, minutes=34, seconds=56.5)), (2, dt.timedelta(hours=-1)),
            (3, dt.timedelta(hours=838, minutes=59, seconds=59)), (4, None)], output


def test_a_value_that_does_not_fit_is_named(maria, tmp_path):
    url, engine, u, created = maria
    name = f"unsigned_{u}"
    created.append(name)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id INT PRIMARY KEY, counter BIGINT UNSIGNED)"))
        conn.execute(sa.text(f"INSERT INTO {name} VALUES (1, 18446744073709551615)"))
    root = project(tmp_path / "p")
    seed(root, "in.c-db.unsigned")
    job, storage, _ = extract(root, url, name, "in.c-db.unsigned")
    assert job.status is JobStatus.ERROR
    assert "column 'counter'" in job.tasks[0].message and "mysql at 127.0.0.1:3306" in job.tasks[0].message
    assert storage.preview("in.c-db.unsigned")[1] == [("kept",)]  # the failed load left the old table alone


@pytest.mark.slow
async def test_cancel_mid_load_leaves_storage_and_the_server_alone(maria, tmp_path):
    url, engine, u, created = maria
    name = f"big_{u}"
    created.append(name)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, label VARCHAR(64), amount DECIMAL(12,2))"))
        conn.execute(sa.text(f"INSERT INTO {name} SELECT seq, CONCAT('row ', seq), seq * 1.5 FROM seq_1_to_2000000"))
    root = project(tmp_path / "p")
    seed(root, "in.c-db.big")
    write_config(root, "db-extractor", "big", {"url": url, "tables": [
        {"name": "t", "table": name, "output": "in.c-db.big"}]})
    done, took, storage = await cancel_mid_task(root, "run-db-extractor-big", after=0.3)
    assert took < 2.0
    assert done.status is JobStatus.CANCELLED, done.message
    assert storage.preview("in.c-db.big")[1] == [("kept",)]
    for _ in range(50):  # the server stops sending once the reader is closed
        with engine.connect() as conn:
            running = conn.execute(sa.text(
                "SELECT count(*) FROM information_schema.processlist "
                f"WHERE info LIKE '%FROM {name}%' AND info NOT LIKE '%processlist%'")).scalar()
        if not running:
            break
        time.sleep(0.1)
    assert not running
