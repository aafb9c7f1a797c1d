"""DuckDB storage edges users rely on, through its public API on real files: what a write returns and refuses,
how incremental loads treat keys, holding the file for a job and making way for a reader, leftovers and compaction
(never losing a row), file modes, and files an earlier version wrote."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import duckdb
import pyarrow as pa
import pytest

from kbc_tui.components.base import Cancelled, CancelToken
from kbc_tui.errors import KbcError
from kbc_tui.storage.duckdb_storage import DuckDBStorage


@pytest.fixture
def storage(tmp_path):
    return DuckDBStorage(tmp_path / "storage.duckdb", busy_retry_seconds=0.3)


def rows(storage, table):
    return sorted(storage.preview(table, limit=1000)[1], key=repr)


def test_a_storage_file_of_an_earlier_version_keeps_its_primary_keys(tmp_path):
    path = tmp_path / "storage.duckdb"
    con = duckdb.connect(str(path))  # the layout earlier versions wrote: metadata in schema _kbc
    con.execute('CREATE SCHEMA "in.c-x"; CREATE TABLE "in.c-x".t AS SELECT 1 AS id, 2 AS v')
    con.execute("CREATE SCHEMA _kbc; CREATE TABLE _kbc.tables (table_id VARCHAR PRIMARY KEY, primary_key VARCHAR, "
                "updated_at DOUBLE); INSERT INTO _kbc.tables VALUES ('in.c-x.t', '[\"id\"]', 0)")
    con.close()
    storage = DuckDBStorage(path)
    assert storage.table("in.c-x.t").primary_key == ["id"]
    storage.write_arrow("in.c-x.t", pa.table({"id": [1, 3], "v": [20, 30]}), incremental=True, primary_key=["id"])
    assert rows(storage, "in.c-x.t") == [(1, 20), (3, 30)]
    with storage.connect() as con:
        assert con.execute("SELECT primary_key FROM _kbc.tables").fetchall() == [('["id"]',)]


def test_a_missing_file_has_no_tables_and_is_not_created_by_looking(tmp_path):
    storage = DuckDBStorage(tmp_path / "none" / "storage.duckdb")
    assert storage.list_tables() == [] and storage.table("in.c-x.t") is None
    assert storage.drop_leftovers() == 0 and storage.compact_if_bloated() == 0
    assert storage.file_size() == 0
    assert not storage.path.exists()


def test_the_storage_file_is_private_and_a_file_that_is_no_database_is_said_so(tmp_path, storage):
    storage.write_arrow("in.c-x.t", pa.table({"a": [1]}))
    assert stat.S_IMODE(storage.path.stat().st_mode) == 0o600
    assert storage.file_size() >= storage.path.stat().st_size > 0
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"not a database at all" * 1000)
    with pytest.raises(KbcError, match="cannot open storage"):
        DuckDBStorage(bad, busy_retry_seconds=0.3).list_tables()


def test_listing_shows_only_in_and_out_tables_sorted_with_columns_rows_and_keys(storage):
    storage.write_arrow("out.c-b.z", pa.table({"x": [1, 2, 3]}))
    storage.write_select("in.c-a.y", "SELECT 1 AS k, 'v' AS s", primary_key=["k"])
    storage.write_arrow("in.c-a.b", pa.table({"q": [1.5]}))
    with storage.connect() as con:
        con.execute('CREATE SCHEMA other; CREATE TABLE other.t AS SELECT 1 AS a')
        con.execute('CREATE TABLE "in.c-a"."__kbc_stage_abc" AS SELECT 1 AS a')
    infos = storage.list_tables()
    assert [str(i.id) for i in infos] == ["in.c-a.b", "in.c-a.y", "out.c-b.z"]
    assert [(i.rows, i.primary_key) for i in infos] == [(1, []), (1, ["k"]), (3, [])]
    assert [(c.name, c.type) for c in infos[1].columns] == [("k", "INTEGER"), ("s", "VARCHAR")]
    assert infos[1].id.stage == "in" and infos[1].id.bucket == "a" and infos[1].id.name == "y"
    assert storage.table("in.c-a.nothing") is None and storage.table("in.c-zz.y") is None


def test_preview_limits_and_read_arrow_picks_columns(storage):
    storage.write_arrow("in.c-x.t", pa.table({"id": list(range(10)), "v": [str(i) for i in range(10)]}))
    columns, first = storage.preview("in.c-x.t", limit=3)
    assert columns == ["id", "v"] and len(first) == 3
    assert len(storage.preview("in.c-x.t")[1]) == 10
    table = storage.read_arrow("in.c-x.t", columns=["v"]).read_all()
    assert table.column_names == ["v"] and table.num_rows == 10
    with pytest.raises(KbcError, match="does not exist"):
        storage.read_arrow("in.c-x.nothing")
    storage.drop_table("in.c-x.t")
    assert storage.table("in.c-x.t") is None
    storage.write_arrow("in.c-x.t", pa.table({"a": [1]}))  # the file is free again: every reader was closed


def test_write_arrow_takes_a_batch_or_batches_with_a_schema_and_counts_rows(storage):
    schema = pa.schema([("id", pa.int64())])
    assert storage.write_arrow("in.c-x.one", pa.record_batch({"id": [1, 2]}, schema=schema)) == 2
    batches = [pa.record_batch({"id": [i]}, schema=schema) for i in range(3)]
    assert storage.write_arrow("in.c-x.many", iter(batches), schema=schema) == 3
    assert rows(storage, "in.c-x.many") == [(0,), (1,), (2,)]
    with pytest.raises(KbcError, match="needs a schema"):
        storage.write_arrow("in.c-x.many", iter(batches))
    assert storage.write_arrow("in.c-x.t", pa.table({"id": [1, 2, 3]}).to_reader()) == 3


def test_incremental_without_a_key_appends_and_to_a_new_table_creates_it(storage):
    assert storage.write_select("in.c-x.t", "SELECT 1 AS id", incremental=True) == 1
    storage.write_select("in.c-x.t", "SELECT 1 AS id UNION ALL SELECT 2", incremental=True)
    assert rows(storage, "in.c-x.t") == [(1,), (1,), (2,)]
    assert storage.drop_leftovers() == 0  # the staging table went with the swap
    storage.write_select("in.c-x.t", "SELECT 5 AS id")  # a full load replaces
    assert rows(storage, "in.c-x.t") == [(5,)]


def test_incremental_upsert_matches_null_keys_and_keeps_column_order_by_name(storage):
    storage.write_arrow("in.c-x.t", pa.table({"id": [None, 1, 2], "v": ["n", "a", "b"]}), primary_key=["id"])
    storage.write_arrow("in.c-x.t", pa.table({"v": ["N", "B"], "id": [None, 2]}), incremental=True,
                        primary_key=["id"])
    assert rows(storage, "in.c-x.t") == [(1, "a"), (2, "B"), (None, "N")]


def test_write_select_refuses_a_missing_key_says_a_sql_error_in_one_line_and_lets_inspect_see_the_rows(storage):
    storage.write_select("out.c-x.t", "SELECT 1 AS id")
    with pytest.raises(KbcError, match=r"primary key column\(s\) key not in the data .*columns: id"):
        storage.write_select("out.c-x.t", "SELECT 2 AS id", primary_key=["key"])
    with pytest.raises(KbcError, match=r"^writing out.c-x.t failed: .*no_such_table") as caught:
        storage.write_select("out.c-x.t", "SELECT * FROM no_such_table")
    assert "\n" not in str(caught.value)
    seen = []
    storage.write_select("out.c-x.t", "SELECT 3 AS id UNION ALL SELECT 4",
                         inspect=lambda con, stage: seen.append(con.execute(f"SELECT count(*) FROM {stage}")
                                                                .fetchall()))
    assert seen == [[(2,)]] and rows(storage, "out.c-x.t") == [(3,), (4,)]

    def refuse(con, stage):
        raise ValueError("the staged rows are wrong")

    with pytest.raises(ValueError, match="staged rows are wrong"):
        storage.write_select("out.c-x.t", "SELECT 9 AS id", inspect=refuse)
    assert rows(storage, "out.c-x.t") == [(3,), (4,)]
    assert storage.drop_leftovers() == 0  # the failed write dropped its staging table itself


def test_a_cancel_at_the_last_moment_rolls_back_the_swap_and_the_key(storage):
    storage.write_arrow("in.c-x.t", pa.table({"id": [1]}), primary_key=["id"])
    token = CancelToken()
    storage.write_select("in.c-x.t", "SELECT 2 AS id", cancel=token, primary_key=["id"])  # not cancelled: written
    assert rows(storage, "in.c-x.t") == [(2,)]
    with pytest.raises(Cancelled):
        storage.write_select("in.c-x.t", "SELECT 3 AS other", cancel=token,
                             inspect=lambda con, stage: token.cancel("stop"))
    assert rows(storage, "in.c-x.t") == [(2,)] and storage.table("in.c-x.t").primary_key == ["id"]
    assert storage.drop_leftovers() == 0


def _other_process_reads(path) -> str:
    """What a reader in another process gets: 'ok' or 'busy' (it waits a moment, leaving its note)."""
    code = ("import sys; from kbc_tui.storage.duckdb_storage import DuckDBStorage\n"
            "from kbc_tui.errors import StorageBusyError\n"
            f"s = DuckDBStorage({str(path)!r}, busy_retry_seconds=0.5)\n"
            "try:\n    s.list_tables(); print('ok')\nexcept StorageBusyError:\n    print('busy')\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()


def test_a_retained_storage_stays_open_until_the_last_release_and_makes_way_for_a_waiting_reader(storage):
    storage.write_arrow("in.c-x.t", pa.table({"a": [1]}))
    assert _other_process_reads(storage.path) == "ok" and not storage.reader_waiting()
    storage.retain()
    storage.retain()
    storage.table("in.c-x.t")  # the first use opens it and keeps it open
    assert _other_process_reads(storage.path) == "busy"
    assert storage.reader_waiting()  # the reader left its note, private like everything in the state folder
    note = storage.path.with_name(storage.path.name + ".read-wanted")
    assert stat.S_IMODE(note.stat().st_mode) == 0o600
    storage.make_way()
    assert storage.reader_waiting() is False and not note.exists()
    assert _other_process_reads(storage.path) == "ok"
    storage.table("in.c-x.t")  # still retained: opened and held again
    storage.release()
    note.touch()
    os.utime(note, (0, 0))  # an old note, of a reader long gone
    assert storage.reader_waiting() is False
    assert _other_process_reads(storage.path) == "busy"  # one retain is left
    assert storage.reader_waiting()  # the new reader renewed the note
    storage.release()
    storage.release()  # one too many does no harm
    assert _other_process_reads(storage.path) == "ok"
    storage.retain()
    storage.table("in.c-x.t")
    storage.release()
    assert _other_process_reads(storage.path) == "ok"


def test_leftovers_are_counted_dropped_and_scratch_schemas_too(storage):
    storage.write_arrow("out.c-x.kept", pa.table({"a": [1, 2]}))
    with storage.connect() as con:
        con.execute('CREATE SCHEMA "_kbc_tx_1_a"; CREATE TABLE "_kbc_tx_1_a".w AS SELECT 1 AS a')
        con.execute('CREATE SCHEMA "_kbc_tx_2_b"')
        con.execute('CREATE TABLE "out.c-x"."__kbc_stage_1" AS SELECT 1 AS a')
        con.execute('CREATE TABLE "out.c-x"."__kbc_stage_2" AS SELECT 1 AS a')
        con.execute('CREATE SCHEMA "kbc_tx_keep"')
    assert storage.drop_leftovers() == 4
    with storage.connect() as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
    assert "kbc_tx_keep" in schemas and not any(s.startswith("_kbc_tx_") for s in schemas)
    assert rows(storage, "out.c-x.kept") == [(1,), (2,)] and storage.drop_leftovers() == 0


def test_compaction_gives_space_back_only_when_much_is_free_and_never_loses_a_row(storage, tmp_path):
    storage.write_select("out.c-x.kept", "SELECT range AS id, 'row ' || range AS s FROM range(50000)",
                         primary_key=["id"])
    assert storage.compact_if_bloated() == 0  # nothing free: the file stays
    before = storage.path.stat().st_ino
    storage.write_select("out.c-x.big", "SELECT range AS id, md5(range::VARCHAR) AS s FROM range(600000)")
    storage.drop_table("out.c-x.big")
    with storage.connect() as con:
        con.execute("CHECKPOINT")
    size = storage.file_size()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    half_made = tmp_path / f".storage.duckdb.compact-{dead.pid}"
    half_made.write_bytes(b"x")
    half_made.with_name(half_made.name + ".wal").write_bytes(b"x")  # its log too
    mine = tmp_path / f".storage.duckdb.compact-{os.getpid()}.wal"
    open_files = len(os.listdir("/proc/self/fd"))
    freed = storage.compact_if_bloated()
    assert len(os.listdir("/proc/self/fd")) == open_files  # nothing left open
    assert freed > 0 and storage.file_size() == size - freed
    assert storage.path.stat().st_ino != before and stat.S_IMODE(storage.path.stat().st_mode) == 0o600
    assert not half_made.exists() and not mine.exists()
    assert not list(tmp_path.glob(".storage.duckdb.compact-*"))
    info = storage.table("out.c-x.kept")
    assert info.rows == 50000 and info.primary_key == ["id"] and storage.table("out.c-x.big") is None
    assert storage.compact_if_bloated() == 0


def test_a_live_processes_compaction_copy_is_left_alone(storage, tmp_path):
    storage.write_arrow("out.c-x.t", pa.table({"a": [1]}))
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        copy = tmp_path / f".storage.duckdb.compact-{live.pid}"
        copy.write_bytes(b"x")
        odd = tmp_path / ".storage.duckdb.compact-notapid"
        odd.write_bytes(b"x")
        storage.compact_if_bloated()
        assert copy.exists() and odd.exists()
    finally:
        live.kill()
        live.wait()


def test_confinement_lets_duckdb_read_only_inside_the_given_folders(tmp_path):
    inside, outside = tmp_path / "p", tmp_path / "o"
    (inside / "data").mkdir(parents=True)
    outside.mkdir()
    storage = DuckDBStorage(inside / ".kbc" / "storage.duckdb", confine_to=[inside / "data"])
    assert storage.may_read(inside / "data") and storage.may_read(inside / "data" / "a.csv")
    assert storage.may_read(inside / ".kbc" / "x.csv")  # its own folder
    assert not storage.may_read(outside / "a.csv") and not storage.may_read(inside / "other.csv")
    assert DuckDBStorage(tmp_path / "s.duckdb").may_read(outside / "a.csv")
    (inside / "data" / "a.csv").write_text("n\n1\n")
    (outside / "a.csv").write_text("n\n2\n")
    storage.write_select("in.c-x.t", f"SELECT * FROM read_csv('{inside / 'data' / 'a.csv'}')")
    assert rows(storage, "in.c-x.t") == [(1,)]
    with pytest.raises(KbcError, match="writing in.c-x.t failed"):
        storage.write_select("in.c-x.t", f"SELECT * FROM read_csv('{outside / 'a.csv'}')")


def test_a_readers_note_counts_for_five_seconds(storage):
    import time

    note = storage.path.with_name(storage.path.name + ".read-wanted")
    assert not storage.reader_waiting()
    note.touch()
    for age, waiting in ((0, True), (4.5, True), (5.5, False)):
        os.utime(note, (time.time() - age, time.time() - age))
        assert storage.reader_waiting() is waiting, age
    storage.make_way()
    assert not note.exists()


def test_a_few_free_megabytes_are_not_worth_rewriting_the_file(storage):
    storage.write_select("out.c-x.kept", "SELECT 1 AS id")
    storage.write_select("out.c-x.big", "SELECT range AS id, md5(range::VARCHAR) AS s FROM range(100000)")
    storage.drop_table("out.c-x.big")  # ~2 MB free: most of the ~3 MB file, but under 8 MB
    with storage.connect() as con:
        con.execute("CHECKPOINT")
    before = storage.path.stat().st_ino
    assert storage.compact_if_bloated() == 0 and storage.path.stat().st_ino == before


def test_column_names_with_quotes_work_as_keys_and_in_reads(storage):
    key, value = 'say "hi"', 'it""s'
    storage.write_arrow("in.c-x.t", pa.table({key: [1, 2], value: ["a", "b"]}), primary_key=[key])
    storage.write_arrow("in.c-x.t", pa.table({key: [2, 3], value: ["B", "c"]}), incremental=True, primary_key=[key])
    assert rows(storage, "in.c-x.t") == [(1, "a"), (2, "B"), (3, "c")]
    assert storage.read_arrow("in.c-x.t", columns=[value]).read_all().column_names == [value]
    assert storage.table("in.c-x.t").primary_key == [key]


def test_confinement_follows_a_symlinked_folder_to_where_it_points(tmp_path):
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real)
    (real / "a.csv").write_text("n\n1\n")
    storage = DuckDBStorage(tmp_path / "p" / ".kbc" / "storage.duckdb", confine_to=[link])
    assert storage.may_read(link / "a.csv") and storage.may_read(real / "a.csv")
    storage.write_select("in.c-x.t", f"SELECT * FROM read_csv('{link / 'a.csv'}')")
    assert rows(storage, "in.c-x.t") == [(1,)]


def test_a_write_ahead_log_left_by_a_crash_is_made_private_and_replayed(tmp_path):
    path = tmp_path / "storage.duckdb"
    subprocess.run([sys.executable, "-c", (
        "import duckdb, os\n"
        f"con = duckdb.connect({str(path)!r})\n"
        "con.execute(\"SET checkpoint_threshold = '1GB'\")\n"
        "con.execute('CREATE SCHEMA \"in.c-x\"; CREATE TABLE \"in.c-x\".t AS SELECT 1 AS a; CHECKPOINT')\n"
        "con.execute('INSERT INTO \"in.c-x\".t VALUES (2)')\n"
        "os._exit(0)  # killed: the insert is only in the log\n")], check=True)
    wal = tmp_path / "storage.duckdb.wal"
    os.chmod(wal, 0o644)
    storage = DuckDBStorage(path)
    storage.retain()  # keeps the database open, so the log is still there to look at
    try:
        assert rows(storage, "in.c-x.t") == [(1,), (2,)]
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        storage.release()


def test_a_folder_the_storage_makes_is_private_and_the_users_own_folder_keeps_its_mode(tmp_path):
    made = DuckDBStorage(tmp_path / "new" / "deeper" / "storage.duckdb")
    made.write_arrow("in.c-x.t", pa.table({"a": [1]}))
    assert stat.S_IMODE((tmp_path / "new" / "deeper").stat().st_mode) == 0o700
    mine = tmp_path / "mine"
    mine.mkdir()
    os.chmod(mine, 0o755)
    (mine / "notes.txt").write_text("the user's")
    os.chmod(mine / "notes.txt", 0o644)
    DuckDBStorage(mine / "storage.duckdb").write_arrow("in.c-x.t", pa.table({"a": [1]}))
    assert stat.S_IMODE(mine.stat().st_mode) == 0o755
    assert stat.S_IMODE((mine / "notes.txt").stat().st_mode) == 0o644


COMPACT = """
import sys
from kbc_tui.storage.duckdb_storage import DuckDBStorage
print(DuckDBStorage(sys.argv[1]).compact_if_bloated())
"""


def test_a_compacted_file_is_fsynced_before_it_replaces_the_storage_and_the_folder_after(storage, tmp_path):
    """Compaction survives a power cut: the copy's bytes are on disk before the rename makes them the storage."""
    import re
    import shutil

    from tests.conftest import ROOT

    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (apt-get install -y strace)")
    storage.write_select("out.c-x.kept", "SELECT range AS id FROM range(1000)")
    storage.write_select("out.c-x.big", "SELECT range AS id, md5(range::VARCHAR) AS s FROM range(600000)")
    storage.drop_table("out.c-x.big")
    out = subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2",
                          sys.executable, "-c", COMPACT, str(storage.path)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    if out.returncode != 0 and "ptrace" in out.stderr:
        pytest.skip(f"strace cannot trace here: {out.stderr.strip().splitlines()[-1]}")
    assert out.returncode == 0 and int(out.stdout) > 0, out.stderr[-2000:]
    calls = [c for c in out.stderr.splitlines() if str(tmp_path) in c]
    copy = re.escape(str(tmp_path / ".storage.duckdb.compact-"))
    [rename] = [i for i, c in enumerate(calls) if re.search(r"rename(at2?)?\(.*" + copy + r"\d+\"", c)
                and f'"{storage.path}"' in c]
    assert any(re.search(r"f(data)?sync\(\d+<" + copy + r"\d+>", c) for c in calls[:rename]), calls
    assert any(re.search(r"fsync\(\d+<" + re.escape(str(tmp_path)) + r">\)", c) for c in calls[rename + 1:]), calls
    assert storage.table("out.c-x.kept").rows == 1000


def test_cancelling_a_long_select_stops_it_promptly_and_keeps_the_previous_table(storage):
    import threading
    import time

    storage.write_select("out.c-x.t", "SELECT 1 AS n")
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        storage.write_select("out.c-x.t", "SELECT sum(a.range * b.range) AS n FROM range(60000) a, range(60000) b",
                             cancel=token)
    assert time.monotonic() - started < 5  # uninterrupted it runs ~25 s
    assert rows(storage, "out.c-x.t") == [(1,)] and storage.drop_leftovers() == 0
    storage.write_select("out.c-x.t", "SELECT 2 AS n", cancel=CancelToken())  # a later write is not interrupted
    assert rows(storage, "out.c-x.t") == [(2,)]


def test_parallel_tasks_writing_new_buckets_at_once_all_succeed(storage):
    """A phase's tasks run in threads: each creates its bucket (and the first the metadata) at the same moment."""
    from concurrent.futures import ThreadPoolExecutor

    def write(i: int) -> int:
        return storage.write_select(f"out.c-b{i}.t", f"SELECT range AS id FROM range({i + 1})", primary_key=["id"])

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(write, range(8))) == list(range(1, 9))
    assert [(str(t.id), t.rows, t.primary_key) for t in storage.list_tables()] == [
        (f"out.c-b{i}.t", i + 1, ["id"]) for i in range(8)]


def test_a_cancel_stops_reading_the_source_at_the_next_batch(storage):
    storage.write_arrow("in.c-x.t", pa.table({"id": [1]}))
    token, schema, pulled = CancelToken(), pa.schema([("id", pa.int64())]), []

    def endless():
        for i in range(1000):
            pulled.append(i)
            if i == 2:
                token.cancel()
            yield pa.record_batch({"id": [i]}, schema=schema)

    with pytest.raises(Cancelled):
        storage.write_arrow("in.c-x.t", endless(), schema=schema, cancel=token)
    assert len(pulled) <= 4 and rows(storage, "in.c-x.t") == [(1,)]


def test_a_compaction_that_fails_leaves_the_storage_as_it_was_and_no_copy_behind(storage, tmp_path):
    storage.write_select("out.c-x.kept", "SELECT range AS id FROM range(1000)", primary_key=["id"])
    storage.write_select("out.c-x.big", "SELECT range AS id, md5(range::VARCHAR) AS s FROM range(600000)")
    storage.drop_table("out.c-x.big")
    blocker = tmp_path / f".storage.duckdb.compact-{os.getpid()}"  # this process's copy: not a database
    blocker.write_bytes(b"not a database" * 1000)
    before = (storage.path.stat().st_ino, storage.file_size())
    assert storage.compact_if_bloated() == 0
    assert (storage.path.stat().st_ino, storage.file_size()) == before
    assert not blocker.exists() and not blocker.with_name(blocker.name + ".wal").exists()
    assert storage.table("out.c-x.kept").rows == 1000
    assert storage.compact_if_bloated() > 0  # the next one works


def test_free_space_over_8_mb_but_a_small_part_of_a_big_file_is_not_worth_rewriting_it(storage):
    storage.write_select("out.c-x.kept", "SELECT range AS id, md5(range::VARCHAR) AS s FROM range(2600000)")
    storage.write_select("out.c-x.big", "SELECT range AS id, md5(range::VARCHAR) AS s FROM range(500000)")
    storage.drop_table("out.c-x.big")
    with storage.connect() as con:
        con.execute("CHECKPOINT")
        block, free = con.execute("SELECT block_size, free_blocks FROM pragma_database_size()").fetchall()[0]
    assert 8 * 2**20 < block * free < 0.2 * storage.file_size()  # the case this test is about
    before = storage.path.stat().st_ino
    assert storage.compact_if_bloated() == 0 and storage.path.stat().st_ino == before


def test_tables_made_by_sql_without_kbc_metadata_are_listed_and_odd_bucket_names_do_not_break_the_list(storage):
    """A table made by SQL straight in storage (no write through kbc-tui yet, so no metadata) is listed with no
    key; a schema named with '.c-' twice is listed by its first '.c-', never breaking the listing."""
    with storage.connect() as con:
        con.execute('CREATE SCHEMA "in.c-raw"; CREATE TABLE "in.c-raw".t AS SELECT 1 AS a')
    [info] = storage.list_tables()
    assert (str(info.id), info.rows, info.primary_key) == ("in.c-raw.t", 1, [])
    assert storage.table("in.c-raw.t").primary_key == []
    with storage.connect() as con:
        con.execute('CREATE SCHEMA "out.c-a.c-b"; CREATE TABLE "out.c-a.c-b".u AS SELECT 2 AS b')
    assert [(i.id.stage, i.id.bucket, i.id.name) for i in storage.list_tables()] == [
        ("in", "raw", "t"), ("out", "a.c-b", "u")]


def test_preview_shows_100_rows_and_read_arrow_streams_100_000_row_batches_by_default(storage):
    """The Storage protocol's defaults: a preview is the first 100 rows; a reader holds at most 100,000 rows at
    once (a writer reading a big table keeps its memory bounded)."""
    storage.write_select("in.c-x.big", "SELECT range AS id FROM range(250000)")
    assert len(storage.preview("in.c-x.big")[1]) == 100
    sizes = [batch.num_rows for batch in storage.read_arrow("in.c-x.big")]
    assert sum(sizes) == 250_000 and max(sizes) == 100_000, sizes  # DuckDB also ends a batch at a row group


def test_reading_a_missing_table_leaves_the_file_free_for_another_process(storage):
    """The failed read closes its connection at once, even while the caller still holds the error (and its
    traceback): another process can open the storage."""
    storage.write_arrow("in.c-x.t", pa.table({"a": [1]}))
    with pytest.raises(KbcError, match="does not exist") as caught:
        storage.read_arrow("in.c-x.nothing")
    assert _other_process_reads(storage.path) == "ok", caught.value


def test_a_reader_read_to_its_end_frees_the_file_while_it_is_still_held(storage):
    storage.write_arrow("in.c-x.t", pa.table({"a": [1, 2]}))
    reader = storage.read_arrow("in.c-x.t")
    assert reader.read_all().num_rows == 2
    assert _other_process_reads(storage.path) == "ok", reader


def test_a_project_folder_named_with_an_apostrophe_is_confined_to_itself(tmp_path):
    """Paths go into DuckDB's SQL as quoted literals: a folder such as "Anna's data" still works."""
    inside, outside = tmp_path / "Anna's data", tmp_path / "o"
    inside.mkdir()
    outside.mkdir()
    storage = DuckDBStorage(inside / ".kbc" / "storage.duckdb", confine_to=[inside])
    (inside / "a.csv").write_text("n\n1\n")
    (outside / "a.csv").write_text("n\n2\n")
    quoted = str(inside / "a.csv").replace("'", "''")
    storage.write_select("in.c-x.t", f"SELECT * FROM read_csv('{quoted}')")
    assert rows(storage, "in.c-x.t") == [(1,)]
    with pytest.raises(KbcError, match="writing in.c-x.t failed"):
        storage.write_select("in.c-x.t", f"SELECT * FROM read_csv('{outside / 'a.csv'}')")
