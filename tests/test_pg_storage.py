"""PostgreSQL storage (``[storage] url``): atomic replace and upsert, cancel, a killed writer, leftovers, types,
both SQL transformation backends, the demo end to end against DuckDB storage, errors in words.

Each test gets its own database (tests/helpers/pg_storage.py), dropped afterwards."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from kbc_tui.engine import Engine
from kbc_tui.errors import KbcError
from kbc_tui.model.cancel import Cancelled, CancelToken
from kbc_tui.model.job import JobStatus, Trigger
from kbc_tui.storage.pg_storage import STAGE_PREFIX, PostgresStorage
from tests.helpers.demo import copy_demo
from tests.helpers.pg_storage import admin_conninfo, pg_storage_url  # noqa: F401 (a fixture)
from tests.helpers.projects import orchestration, project, sql_config

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def storage(pg_storage_url):
    return PostgresStorage(pg_storage_url)


def rows(storage, table):
    return sorted(storage.preview(table, limit=10_000)[1])


def staging_tables(url) -> list[str]:
    with psycopg.connect(autocommit=True, **admin_conninfo(url)) as conn:
        return [r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE left(relname, %s) = %s",
                                           (len(STAGE_PREFIX), STAGE_PREFIX)).fetchall()]


def failing_stream(schema, good_batches, error=RuntimeError("the source broke")):
    def batches():
        for i in range(good_batches):
            yield pa.record_batch([pa.array([i * 10 + j for j in range(10)]), pa.array(["x"] * 10)], schema=schema)
        raise error

    return pa.RecordBatchReader.from_batches(schema, batches())


# -- writes ---------------------------------------------------------------------------------------

def test_a_failing_stream_leaves_the_previous_table_exactly(storage, pg_storage_url):
    before = pa.table({"id": pa.array([1, 2], pa.int64()), "s": ["a", "b"]})
    storage.write_arrow("in.c-x.t", before, primary_key=["id"])
    with pytest.raises(RuntimeError, match="the source broke"):
        storage.write_arrow("in.c-x.t", failing_stream(before.schema, 5), primary_key=["id"])
    assert storage.read_arrow("in.c-x.t").read_all().equals(before)
    info = storage.table("in.c-x.t")
    assert info.rows == 2 and info.primary_key == ["id"] and [c.type for c in info.columns] == ["bigint", "text"]
    assert staging_tables(pg_storage_url) == []  # the failed write dropped its staging table


def test_incremental_upsert_by_primary_key(storage):
    storage.write_arrow("in.c-x.t", pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}), primary_key=["id"])
    n = storage.write_arrow("in.c-x.t", pa.table({"id": [3, 4], "v": ["C", "d"]}), incremental=True,
                            primary_key=["id"])
    assert n == 2
    assert rows(storage, "in.c-x.t") == [(1, "a"), (2, "b"), (3, "C"), (4, "d")]
    assert storage.table("in.c-x.t").primary_key == ["id"]
    # a composite key; an incremental write without a key appends
    storage.write_arrow("out.c-x.k", pa.table({"a": [1, 1], "b": ["x", "y"], "n": [1, 2]}), primary_key=["a", "b"])
    storage.write_arrow("out.c-x.k", pa.table({"a": [1], "b": ["y"], "n": [20]}), incremental=True,
                        primary_key=["a", "b"])
    assert rows(storage, "out.c-x.k") == [(1, "x", 1), (1, "y", 20)]
    storage.write_arrow("out.c-x.log", pa.table({"n": [1]}))
    storage.write_arrow("out.c-x.log", pa.table({"n": [1]}), incremental=True)
    assert rows(storage, "out.c-x.log") == [(1,), (1,)]


def test_repeated_primary_keys_fail_in_words_and_keep_the_table(storage):
    storage.write_arrow("in.c-x.t", pa.table({"id": [1], "v": ["kept"]}), primary_key=["id"])
    with pytest.raises(KbcError, match=r"writing in.c-x.t failed: the rows repeat a primary key value"):
        storage.write_arrow("in.c-x.t", pa.table({"id": [5, 5], "v": ["a", "b"]}), primary_key=["id"])
    with pytest.raises(KbcError, match="primary key column\\(s\\) nope not in the data"):
        storage.write_arrow("in.c-x.t", pa.table({"id": [5]}), primary_key=["nope"])
    assert rows(storage, "in.c-x.t") == [(1, "kept")]


def test_cancel_mid_copy_stops_it_and_leaves_the_previous_table(storage, pg_storage_url):
    before = pa.table({"id": pa.array([1], pa.int64()), "s": ["old"]})
    storage.write_arrow("in.c-x.t", before)
    token = CancelToken()
    sent = [0]

    def endless():
        i = 0
        while True:
            sent[0] += 1
            yield pa.record_batch([pa.array(range(i, i + 1000), pa.int64()), pa.array(["y" * 50] * 1000)],
                                  schema=before.schema)
            i += 1000

    threading.Timer(0.5, token.cancel, args=("cancelled by the test",)).start()
    started = time.monotonic()
    with pytest.raises(Cancelled, match="cancelled by the test"):
        storage.write_arrow("in.c-x.t", pa.RecordBatchReader.from_batches(before.schema, endless()), cancel=token)
    assert time.monotonic() - started < 5 and sent[0] > 1  # it was streaming, and stopped promptly
    assert storage.read_arrow("in.c-x.t").read_all().equals(before)
    assert staging_tables(pg_storage_url) == []


KILLED_WRITER = """
import sys, time
import pyarrow as pa
from kbc_tui.storage.pg_storage import PostgresStorage

schema = pa.schema([("id", pa.int64()), ("s", pa.string())])
def batches():
    i = 0
    while True:
        yield pa.record_batch([pa.array(range(i, i + 100), pa.int64()), pa.array(["new"] * 100)], schema=schema)
        if i == 300:
            print("streaming", flush=True)
        i += 100
        time.sleep(0.02)
PostgresStorage(sys.argv[1]).write_arrow("in.c-x.t", pa.RecordBatchReader.from_batches(schema, batches()))
"""


def test_a_killed_writer_leaves_no_half_table_and_its_staging_table_is_swept(storage, pg_storage_url):
    before = pa.table({"id": pa.array([1, 2], pa.int64()), "s": ["old", "old"]})
    storage.write_arrow("in.c-x.t", before)
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, pg_storage_url], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "streaming", writer.stderr.read()
        # a live writer's staging table is never swept (it holds its advisory lock)
        assert len(staging_tables(pg_storage_url)) == 1
        started = time.monotonic()
        assert storage.drop_leftovers() == 0
        assert time.monotonic() - started < 2.5  # not even tried (it would wait for the COPY's table lock)
        assert len(staging_tables(pg_storage_url)) == 1
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert storage.read_arrow("in.c-x.t").read_all().equals(before)
    assert [str(t.id) for t in storage.list_tables()] == ["in.c-x.t"]  # a staging table is not a table
    deadline = time.monotonic() + 10  # the server notices the closed connection and frees its lock
    dropped = 0
    while time.monotonic() < deadline and not dropped:
        dropped = storage.drop_leftovers()
        time.sleep(0.1)
    assert dropped == 1
    assert staging_tables(pg_storage_url) == []


def test_every_supported_arrow_type_round_trips(storage):
    utc = datetime.timezone.utc
    data = {
        "i8": (pa.array([-128, None], pa.int8()), pa.int16(), "smallint"),
        "i16": (pa.array([-32768, 7], pa.int16()), pa.int16(), "smallint"),
        "i32": (pa.array([2**31 - 1, None], pa.int32()), pa.int32(), "integer"),
        "i64": (pa.array([2**63 - 1, -1], pa.int64()), pa.int64(), "bigint"),
        "u8": (pa.array([255, None], pa.uint8()), pa.int16(), "smallint"),
        "u16": (pa.array([65535, 0], pa.uint16()), pa.int32(), "integer"),
        "u32": (pa.array([2**32 - 1, 0], pa.uint32()), pa.int64(), "bigint"),
        "f32": (pa.array([1.5, None], pa.float32()), pa.float32(), "real"),
        "f64": (pa.array([1 / 3, -1e300], pa.float64()), pa.float64(), "double precision"),
        "dec": (pa.array([decimal.Decimal("12345.67"), None], pa.decimal128(12, 2)), pa.decimal128(12, 2),
                "numeric(12,2)"),
        "dec38": (pa.array([decimal.Decimal("1" * 28 + ".1234567890"), None], pa.decimal128(38, 10)),
                  pa.decimal128(38, 10), "numeric(38,10)"),
        "s": (pa.array(['quote " comma , newline \n tab \t back \\ ünï', ""]), pa.string(), "text"),
        "ls": (pa.array(["large", None], pa.large_string()), pa.string(), "text"),
        "dict": (pa.array(["a", "b"]).dictionary_encode(), pa.string(), "text"),
        "b": (pa.array([True, False]), pa.bool_(), "boolean"),
        "d": (pa.array([datetime.date(2026, 12, 7), None], pa.date32()), pa.date32(), "date"),
        "ts": (pa.array([datetime.datetime(2026, 1, 1, 10, 0, 0, 123456), None], pa.timestamp("us")),
               pa.timestamp("us"), "timestamp without time zone"),
        "ts_s": (pa.array([datetime.datetime(2026, 1, 1, 10), None], pa.timestamp("s")), pa.timestamp("us"),
                 "timestamp without time zone"),
        "tz": (pa.array([datetime.datetime(2026, 6, 1, 8, 30, tzinfo=utc), None], pa.timestamp("us", "UTC")),
               pa.timestamp("us", "UTC"), "timestamp with time zone"),
        "t": (pa.array([datetime.time(23, 59, 59, 999999), None], pa.time64("us")), pa.time64("us"),
              "time without time zone"),
        "bin": (pa.array([b"\x00\x01\xff\\", b""]), pa.binary(), "bytea"),
        "nul": (pa.nulls(2), pa.string(), "text"),
    }
    table = pa.table({k: v[0] for k, v in data.items()})
    assert storage.write_arrow("in.c-types.all", table) == 2
    info = storage.table("in.c-types.all")
    assert {c.name: c.type for c in info.columns} == {k: v[2] for k, v in data.items()}
    back = storage.read_arrow("in.c-types.all").read_all()
    assert {f.name: f.type for f in back.schema} == {k: v[1] for k, v in data.items()}
    for name, (original, _, _) in data.items():
        expected = original.cast(original.type.value_type) if pa.types.is_dictionary(original.type) else original
        if pa.types.is_timestamp(expected.type):
            expected = expected.cast(pa.timestamp("us", expected.type.tz))
        assert back.column(name).to_pylist() == expected.to_pylist(), name
    with pytest.raises(KbcError, match="column 'l' of in.c-types.bad has type list<item: int64>, which PostgreSQL "
                                       "storage does not hold"):
        storage.write_arrow("in.c-types.bad", pa.table({"l": pa.array([[1]])}))


def test_write_select_runs_duckdb_sql_and_streams_the_result(storage, tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("id,name\n1,one\n2,two\n")
    seen = []
    n = storage.write_select("in.c-csv.a", f"SELECT * FROM read_csv('{csv}', all_varchar = true)",
                             primary_key=["id"],
                             inspect=lambda conn, stage: seen.append(conn.execute(f"SELECT count(*) FROM {stage}")
                                                                     .fetchone()[0]))
    assert n == 2 and seen == [2]
    assert rows(storage, "in.c-csv.a") == [("1", "one"), ("2", "two")]
    with pytest.raises(KbcError, match="writing in.c-csv.a failed: .*no_such_table"):
        storage.write_select("in.c-csv.a", "SELECT * FROM no_such_table")
    bad = tmp_path / "bad.csv"  # fails after 200,000 good rows have streamed in
    bad.write_text("id,name\n" + "".join(f"{i},n\n" for i in range(200_000)) + "not-a-number,n\n")
    with pytest.raises(KbcError, match="writing in.c-csv.a failed: Conversion Error"):
        storage.write_select("in.c-csv.a", f"SELECT * FROM read_csv('{bad}', header = true, auto_detect = false, "
                                           "columns = {'id': 'BIGINT', 'name': 'VARCHAR'})")
    assert rows(storage, "in.c-csv.a") == [("1", "one"), ("2", "two")]


# -- words ----------------------------------------------------------------------------------------

def test_unreachable_storage_says_so_in_words(tmp_path, pg_url):
    closed = PostgresStorage("postgresql+psycopg://kbc@127.0.0.1:1/kbc")
    with pytest.raises(KbcError, match=r"cannot reach PostgreSQL storage at 127.0.0.1:1 .*is the server running"):
        closed.list_tables()
    with pytest.raises(KbcError, match="cannot reach PostgreSQL storage at 127.0.0.1:1"):
        closed.write_arrow("in.c-x.t", pa.table({"a": [1]}))
    from sqlalchemy.engine import make_url

    missing = make_url(pg_url).set(database="kbc_no_such_database")
    with pytest.raises(KbcError, match="database 'kbc_no_such_database' does not exist .*createdb"):
        PostgresStorage(missing.render_as_string(hide_password=False)).table("in.c-x.t")
    nobody = make_url(pg_url).set(username="kbc_no_such_user")
    with pytest.raises(KbcError, match="user 'kbc_no_such_user' does not exist|refused user kbc_no_such_user"):
        PostgresStorage(nobody.render_as_string(hide_password=False)).list_tables()


async def test_an_unreachable_storage_fails_the_task_in_words(tmp_path):
    root = project(tmp_path / "p", storage={"url": "postgresql+psycopg://kbc@127.0.0.1:1/kbc"})
    sql_config(root, "t", "create table r as select 1 as a", ["r"])
    orchestration(root, "o", [["t"]])
    job = await run_job(root, "o")
    assert job.status == JobStatus.ERROR
    assert "cannot reach PostgreSQL storage at 127.0.0.1:1" in job.message + " ".join(
        t.message for t in job.tasks)


# -- the SQL transformation's backends ------------------------------------------------------------------

async def run_job(root, orch, timeout=120):
    engine = Engine(root, poll_seconds=0.1)
    await engine.start(scheduler=False)
    try:
        job = await engine.enqueue(orch, trigger=Trigger.MANUAL)
        job = await asyncio.wait_for(engine.wait(job.id), timeout)
        return engine.get_job(job.id)
    finally:
        await engine.stop(grace=0)


PORTABLE = """
create table summary as
select region, count(*) as orders, cast(sum(amount) as decimal(12, 2)) as total, max(ordered_at) as last_order
from orders
group by region
order by region;
create table big_orders as select id, region, amount from orders where amount > 10;
"""


def seed_orders(storage):
    storage.write_arrow("in.c-shop.orders", pa.table({
        "id": pa.array(range(1, 101), pa.int64()),
        "region": pa.array([["East", "West", "North"][i % 3] for i in range(100)]),
        "amount": pa.array([decimal.Decimal(f"{i}.{i % 100:02d}") for i in range(100)], pa.decimal128(10, 2)),
        "ordered_at": pa.array([datetime.datetime(2026, 1, 1) + datetime.timedelta(hours=i) for i in range(100)],
                               pa.timestamp("us")),
    }), primary_key=["id"])


async def test_both_transformation_backends_produce_the_same_output(tmp_path, pg_storage_url):
    root = project(tmp_path / "p", storage={"url": pg_storage_url})
    storage = PostgresStorage(pg_storage_url)
    seed_orders(storage)
    inputs = {"orders": "in.c-shop.orders"}
    for backend in ("duckdb", "postgresql"):
        sql_config(root, backend, PORTABLE, {"summary": {"destination": f"out.c-{backend}.summary",
                                                         "primary_key": ["region"]},
                                             "big_orders": {"destination": f"out.c-{backend}.big_orders"}},
                   inputs=inputs)
        path = root / "components" / "sql-transformation" / f"{backend}.toml"
        path.write_text(path.read_text().replace("[parameters]\n", f'[parameters]\nbackend = "{backend}"\n', 1))
    orchestration(root, "o", [["duckdb", "postgresql"]])
    job = await run_job(root, "o")
    assert job.status == JobStatus.SUCCESS, job.message
    for name in ("summary", "big_orders"):
        via_duckdb = storage.read_arrow(f"out.c-duckdb.{name}").read_all().sort_by(
            [(c, "ascending") for c in ("region", "id") if c in storage.arrow_schema(f"out.c-duckdb.{name}").names])
        in_pg = storage.read_arrow(f"out.c-postgresql.{name}").read_all().sort_by(
            [(c, "ascending") for c in ("region", "id") if c in via_duckdb.schema.names])
        assert via_duckdb.schema == in_pg.schema, name
        assert via_duckdb.equals(in_pg), name
        assert via_duckdb.num_rows > 0
    assert storage.table("out.c-postgresql.summary").primary_key == ["region"]
    with psycopg.connect(autocommit=True, **admin_conninfo(pg_storage_url)) as conn:  # no scratch schema is left
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '\\_kbc\\_tx\\_%'").fetchone()[0] == 0


async def test_the_postgresql_backend_swaps_all_outputs_at_once_or_none(tmp_path, pg_storage_url):
    root = project(tmp_path / "p", storage={"url": pg_storage_url})
    storage = PostgresStorage(pg_storage_url)
    seed_orders(storage)
    storage.write_arrow("out.c-r.a", pa.table({"v": ["old a"]}))
    storage.write_arrow("out.c-r.b", pa.table({"v": ["old b"]}))
    script = "create table a as select 'new a' as v; create table b as select 'new b' as v; select 1 / 0;"
    sql_config(root, "t", script, {"a": {"destination": "out.c-r.a"}, "b": {"destination": "out.c-r.b"}})
    path = root / "components" / "sql-transformation" / "t.toml"
    path.write_text(path.read_text().replace("[parameters]\n", '[parameters]\nbackend = "postgresql"\n', 1))
    orchestration(root, "o", [["t"]])
    job = await run_job(root, "o")
    assert job.status == JobStatus.ERROR
    assert "SQL error in statement 3 ('select 1 / 0')" in job.tasks[0].message
    assert "division by zero" in job.tasks[0].message
    assert rows(storage, "out.c-r.a") == [("old a",)] and rows(storage, "out.c-r.b") == [("old b",)]
    # a transaction statement is refused in words; a script that reads and replaces its own input works
    path.write_text(path.read_text().replace("select 1 / 0;", "commit;"))
    job = await run_job(root, "o")
    assert job.status == JobStatus.ERROR and "may not control transactions" in job.tasks[0].message
    sql_config(root, "t", "create table a as select v || '!' as v from a_in", {"a": {"destination": "out.c-r.a"}},
               inputs={"a_in": "out.c-r.a"})
    path.write_text(path.read_text().replace("[parameters]\n", '[parameters]\nbackend = "postgresql"\n', 1))
    job = await run_job(root, "o")
    assert job.status == JobStatus.SUCCESS, job.tasks[0].message
    assert rows(storage, "out.c-r.a") == [("old a!",)]


async def test_cancel_stops_a_statement_running_in_postgresql(tmp_path, pg_storage_url):
    root = project(tmp_path / "p", storage={"url": pg_storage_url})
    storage = PostgresStorage(pg_storage_url)
    storage.write_arrow("out.c-r.a", pa.table({"v": ["old"]}))
    sql_config(root, "t", "create table a as select 'new' as v from pg_sleep(60)", {"a": {"destination": "out.c-r.a"}})
    path = root / "components" / "sql-transformation" / "t.toml"
    path.write_text(path.read_text().replace("[parameters]\n", '[parameters]\nbackend = "postgresql"\n', 1))
    orchestration(root, "o", [["t"]])
    engine = Engine(root, poll_seconds=0.1)
    await engine.start(scheduler=False)
    try:
        job = await engine.enqueue("o", trigger=Trigger.MANUAL)
        await asyncio.sleep(1.5)
        started = time.monotonic()
        await engine.cancel(job.id)
        job = await asyncio.wait_for(engine.wait(job.id), 30)
        assert time.monotonic() - started < 5
    finally:
        await engine.stop(grace=0)
    assert job.status == JobStatus.CANCELLED, [t.message for t in job.tasks]
    with psycopg.connect(autocommit=True, **admin_conninfo(pg_storage_url)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' "
                            "AND pid <> pg_backend_pid()").fetchone()[0] == 0
    assert rows(storage, "out.c-r.a") == [("old",)]


async def test_the_postgresql_backend_on_duckdb_storage_is_refused_in_words(tmp_path):
    root = project(tmp_path / "p")
    sql_config(root, "t", "create table r as select 1 as a", ["r"])
    path = root / "components" / "sql-transformation" / "t.toml"
    path.write_text(path.read_text().replace("[parameters]\n", '[parameters]\nbackend = "postgresql"\n', 1))
    orchestration(root, "o", [["t"]])
    job = await run_job(root, "o")
    assert job.status == JobStatus.ERROR
    assert ('backend = "postgresql" runs the script inside PostgreSQL storage, but this project\'s storage is the '
            "DuckDB file: set [storage] url in kbc.toml") in job.tasks[0].message


# -- the demo on PostgreSQL storage ---------------------------------------------------------------

async def test_the_demo_runs_unchanged_on_postgresql_storage_with_the_same_tables(tmp_path, pg_storage_url):
    on_duckdb = copy_demo(tmp_path / "duckdb")
    on_pg = copy_demo(tmp_path / "pg")
    with (on_pg / "kbc.toml").open("a") as fh:
        fh.write(f'\n[storage]\nurl = "{pg_storage_url}"\n')
    storages = {}
    for root in (on_duckdb, on_pg):
        for orch in ("sales-to-tableau", "sales-to-gooddata"):
            job = await run_job(root, orch)
            assert job.status == JobStatus.SUCCESS, (root.name, orch, job.message,
                                                     [t.message for t in job.tasks])
        storages[root.name] = Engine(root).storage
    duck, pg = storages["duckdb"], storages["pg"]
    assert isinstance(pg, PostgresStorage)
    tables = sorted(str(t.id) for t in duck.list_tables())
    assert tables == sorted(str(t.id) for t in pg.list_tables())
    assert {"out.c-reports.revenue_vs_target", "out.c-reports.top_products", "in.c-shop.orders"} <= set(tables)
    for table in tables:
        a, b = duck.read_arrow(table).read_all(), pg.read_arrow(table).read_all()
        assert [(f.name, normal(f.type)) for f in a.schema] == [(f.name, normal(f.type)) for f in b.schema], table
        keys = [(c, "ascending") for c in a.schema.names]
        a, b = a.cast(b.schema).sort_by(keys), b.sort_by(keys)
        assert a.equals(b), table
        assert duck.table(table).primary_key == pg.table(table).primary_key, table
    assert (on_pg / "out" / "tableau" / "revenue_vs_target.hyper").is_file()


def normal(t: pa.DataType) -> pa.DataType:
    """Arrow types that are the same column type in both storages (DuckDB gives large strings on some paths)."""
    if pa.types.is_large_string(t):
        return pa.string()
    return t


# -- extractors into PostgreSQL storage ---------------------------------------------------------------

def test_db_extractor_streams_postgresql_into_postgresql_storage_with_incremental_fetching(tmp_path, pg_url,
                                                                                          pg_storage_url, unique):
    """PostgreSQL's COPY fast path goes through ``write_select`` (DuckDB's read_csv of a pipe) and its ``inspect``
    (the newest incremental value, read from the staging table in PostgreSQL)."""
    import sqlalchemy as sa

    from tests.helpers.components import run_config

    name = f"inc_{unique}"
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {name} (id int PRIMARY KEY, value text, amount numeric(18,4), "
                                 "at_zone timestamptz, updated_at timestamp)"))
            for i in range(1, 11):
                conn.execute(sa.text(f"INSERT INTO {name} VALUES ({i}, 'v{i}', {i}.5, '2026-01-01 10:00:00+01', "
                                     f"'2026-01-{i:02d} 10:00:00')"))
        root = project(tmp_path / "p", storage={"url": pg_storage_url})
        params = {"url": pg_url, "tables": [{"name": "inc", "table": name, "output": "in.c-db.inc",
                                             "primary_key": ["id"], "incremental_fetching_column": "updated_at"}]}
        job, storage, log = run_config(root, "db-extractor", "src", params)
        assert job.status is JobStatus.SUCCESS and job.tasks[0].rows == 10, (job.message, log)
        assert any(line.endswith("; COPY)") for line in log)
        info = storage.table("in.c-db.inc")
        assert {c.name: c.type for c in info.columns} == {
            "id": "bigint", "value": "text", "amount": "numeric(18,4)", "at_zone": "timestamp with time zone",
            "updated_at": "timestamp without time zone"} and info.primary_key == ["id"]
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {name} SET value = 'changed', updated_at = '2026-02-01' WHERE id = 2"))
        job, storage, log = run_config(root, "db-extractor", "src")
        assert job.status is JobStatus.SUCCESS and job.tasks[0].rows == 2, (job.message, log)  # id 2 + the boundary
        got = {r[0]: r for r in storage.preview("in.c-db.inc")[1]}
        assert len(got) == 10 and got[2][1] == "changed" and got[3][2] == decimal.Decimal("3.5000")
        assert got[1][3] == datetime.datetime(2026, 1, 1, 9, tzinfo=datetime.timezone.utc)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


def test_the_storage_password_comes_from_its_setting_and_a_missing_one_is_named(tmp_path, pg_storage_url,
                                                                                monkeypatch):
    from kbc_tui.errors import SecretError
    from kbc_tui.storage.duckdb_storage import DuckDBStorage

    root = project(tmp_path / "p", storage={"url": pg_storage_url, "#password": "env:KBC_TEST_STORAGE_PW"})
    monkeypatch.delenv("KBC_TEST_STORAGE_PW", raising=False)
    with pytest.raises(SecretError, match="storage.*environment variable KBC_TEST_STORAGE_PW is not set"):
        Engine(root)
    monkeypatch.setenv("KBC_TEST_STORAGE_PW", "s3cret")
    storage = Engine(root).storage
    assert isinstance(storage, PostgresStorage) and storage._params["password"] == "s3cret"
    assert storage.list_tables() == []  # the server (trust) lets it in
    assert isinstance(Engine(project(tmp_path / "q")).storage, DuckDBStorage)


def test_a_name_longer_than_postgresql_allows_is_refused_in_words(storage):
    long_name = "t" * 64
    with pytest.raises(KbcError, match=f"the table name '{long_name}' is longer than 63 bytes"):
        storage.write_arrow(f"in.c-x.{long_name}", pa.table({"a": [1]}))
    assert storage.list_tables() == []


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
async def test_a_missing_input_table_is_named_on_either_backend(tmp_path, pg_storage_url, backend):
    root = project(tmp_path / "p", storage={"url": pg_storage_url})
    sql_config(root, "t", "create table r as select * from src", ["r"], inputs={"src": "in.c-none.missing"})
    path = root / "components" / "sql-transformation" / "t.toml"
    path.write_text(path.read_text().replace("[parameters]\n", f'[parameters]\nbackend = "{backend}"\n', 1))
    orchestration(root, "o", [["t"]])
    job = await run_job(root, "o")
    assert job.status == JobStatus.ERROR
    assert "input table in.c-none.missing does not exist in storage (run the extractor that fills it first)" \
        in job.tasks[0].message


async def test_a_duckdb_script_on_postgresql_storage_reaches_files_only_inside_the_project(tmp_path, pg_storage_url):
    outside = tmp_path / "outside.csv"
    outside.write_text("secret\n42\n")
    root = project(tmp_path / "p", storage={"url": pg_storage_url})
    (root / "inside.csv").write_text("n\n7\n")
    sql_config(root, "inside", f"create table r as select * from read_csv('{root / 'inside.csv'}')", ["r"])
    sql_config(root, "outside", f"create table r as select * from read_csv('{outside}')", ["r"])
    orchestration(root, "ok", [["inside"]])
    orchestration(root, "bad", [["outside"]])
    job = await run_job(root, "ok")
    assert job.status == JobStatus.SUCCESS, job.tasks[0].message
    assert rows(PostgresStorage(pg_storage_url), "out.c-test.r") == [(7,)]
    job = await run_job(root, "bad")
    assert job.status == JobStatus.ERROR
    assert "(a script reads and writes files only inside the project folder)" in job.tasks[0].message
