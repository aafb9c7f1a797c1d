"""DuckDB storage: atomic replace and upsert, cancel rollback, listing, the one-process rule."""

import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from kbc_tui.components.base import Cancelled, CancelToken
from kbc_tui.errors import KbcError, StorageBusyError
from kbc_tui.storage.base import TableId
from kbc_tui.storage.duckdb_storage import DuckDBStorage


@pytest.fixture
def storage(tmp_path):
    return DuckDBStorage(tmp_path / "storage.duckdb", busy_retry_seconds=0.5)


def rows(storage, table):
    return sorted(storage.preview(table, limit=1000)[1])


def test_replace_and_list(storage):
    storage.write_arrow("in.c-shop.orders", pa.table({"id": [1, 2], "total": [9.5, 3.25]}), primary_key=["id"])
    storage.write_arrow("in.c-shop.orders", pa.table({"id": [7], "total": [1.0]}))
    assert rows(storage, "in.c-shop.orders") == [(7, 1.0)]
    [info] = storage.list_tables()
    assert str(info.id) == "in.c-shop.orders" and info.rows == 1
    assert [c.name for c in info.columns] == ["id", "total"]


def test_incremental_upsert_by_primary_key(storage):
    storage.write_arrow("in.c-x.t", pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]}), primary_key=["id"])
    n = storage.write_arrow("in.c-x.t", pa.table({"id": [3, 4], "v": ["C", "d"]}), incremental=True,
                            primary_key=["id"])
    assert n == 2
    assert rows(storage, "in.c-x.t") == [(1, "a"), (2, "b"), (3, "C"), (4, "d")]
    assert storage.table("in.c-x.t").primary_key == ["id"]


def test_failed_write_leaves_previous_table(storage):
    storage.write_arrow("out.c-r.t", pa.table({"id": [1, 2]}))
    schema = pa.schema([("id", pa.int64())])

    def broken():
        yield pa.record_batch({"id": [10, 11]}, schema=schema)
        raise RuntimeError("source died mid-stream")

    with pytest.raises(Exception):
        storage.write_arrow("out.c-r.t", broken(), schema=schema)
    assert rows(storage, "out.c-r.t") == [(1,), (2,)]


def test_cancel_mid_write_rolls_back(storage):
    storage.write_arrow("out.c-r.t", pa.table({"id": [1]}))
    token = CancelToken()
    schema = pa.schema([("id", pa.int64())])

    def batches():
        yield pa.record_batch({"id": [5]}, schema=schema)
        token.cancel()
        yield pa.record_batch({"id": [6]}, schema=schema)

    with pytest.raises(Cancelled):
        storage.write_arrow("out.c-r.t", batches(), schema=schema, cancel=token)
    assert rows(storage, "out.c-r.t") == [(1,)]


def test_read_arrow_streams_batches(storage):
    storage.write_arrow("in.c-x.big", pa.table({"id": list(range(250_000))}))
    reader = storage.read_arrow("in.c-x.big", batch_size=100_000)
    sizes = [b.num_rows for b in reader]
    assert sum(sizes) == 250_000 and len(sizes) >= 2


def test_bad_table_ids_and_missing_tables(storage):
    with pytest.raises(KbcError, match="invalid table id"):
        storage.write_arrow("shop.orders", pa.table({"a": [1]}))
    with pytest.raises(KbcError, match="does not exist"):
        storage.preview("in.c-x.nothing")
    with pytest.raises(KbcError, match="primary key"):
        storage.write_arrow("in.c-x.t", pa.table({"a": [1]}), primary_key=["id"])
    assert TableId.parse("out.c-my-bucket.t_1").bucket_id == "out.c-my-bucket"


def test_another_process_holding_the_file_means_busy(storage, tmp_path):
    storage.write_arrow("in.c-x.t", pa.table({"a": [1]}))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(storage.path)!r})
        print("held", flush=True)
        time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StorageBusyError, match="storage is busy"):
            storage.list_tables()
    finally:
        holder.kill()
        holder.wait()
    assert storage.table("in.c-x.t").rows == 1


def test_staging_tables_of_a_killed_writer_are_swept(storage):
    storage.write_arrow("in.c-x.t", pa.table({"a": [1]}))
    with storage.connect() as con:
        con.execute('CREATE TABLE "in.c-x"."__kbc_stage_deadbeef" AS SELECT 1 AS a')
    assert [str(t.id) for t in storage.list_tables()] == ["in.c-x.t"]
    assert storage.drop_leftovers() == 1
    assert storage.drop_leftovers() == 0


def test_a_reader_in_another_process_is_let_in_between_tasks_of_a_long_job(tmp_path):
    """The runner keeps the storage open while a job runs (cheap tasks); a reader in another process that
    waits for it is let in between two tasks instead of waiting for the whole job to end."""
    import json
    import subprocess
    import sys
    import time

    from tests.helpers.projects import orchestration, project, sql_config

    root = project(tmp_path / "p")
    sql_config(root, "seed", "create table t as select 1 as id;", ["t"])
    sql_config(root, "busy", "create table b as select sum(a.range * b.range) as n from range(12000) a, range(12000) b;",
               ["b"])  # about a second each
    orchestration(root, "long", [["seed"]] + [["busy"]] * 12)
    kbc = [sys.executable, "-m", "kbc_tui"]
    runner = subprocess.Popen([*kbc, "run", "long", "--project", str(root)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:  # the busy tasks have begun
            out = subprocess.run([*kbc, "job", "1", "--json", "--project", str(root)], capture_output=True, text=True)
            if out.stdout.strip() and any(t["status"] == "success" for t in json.loads(out.stdout)["tasks"]):
                break
            time.sleep(0.2)
        reader = subprocess.run([sys.executable, "-c", (
            "import sys; from kbc_tui.storage.duckdb_storage import DuckDBStorage; "
            f"s = DuckDBStorage({str(root / '.kbc' / 'storage.duckdb')!r}, busy_retry_seconds=20); "
            "print([str(t.id) for t in s.list_tables()])")], capture_output=True, text=True, timeout=60)
        assert reader.returncode == 0, reader.stderr
        assert "out.c-test.t" in reader.stdout
        assert runner.poll() is None, "the reader got in only after the whole job"
        assert runner.wait(timeout=120) == 0, runner.stdout.read()[-2000:]
    finally:
        runner.kill()
