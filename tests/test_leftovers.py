"""What killed processes leave behind is removed by the next runner, and nothing of a live process is touched."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import duckdb

from kbc_tui.engine import Engine
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.projects import orchestration, project, sql_config


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_runner_removes_what_dead_processes_left_and_keeps_what_live_ones_use(tmp_path):
    root = project(tmp_path / "p")
    sql_config(root, "ok", "create table t as select 1 as id;", ["t"])
    orchestration(root, "good", [["ok"]])
    state = root / ".kbc"
    storage = DuckDBStorage(state / "storage.duckdb")
    storage.write_select("out.c-test.kept", "SELECT range AS id FROM range(1000)")
    with storage.connect() as con:  # a transformation's workspace and a staging table of a killed process
        con.execute('CREATE SCHEMA "_kbc_tx_7_abc"')
        con.execute('CREATE TABLE "_kbc_tx_7_abc".big AS SELECT range AS x FROM range(100000)')
        con.execute('CREATE TABLE "out.c-test"."__kbc_stage_0123456789ab" AS SELECT 1 AS id')
    dead, live = dead_pid(), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = root / "out"
        out.mkdir()
        partial = out / f".extract.hyper.{dead}.tmp"
        partial.write_bytes(b"half a hyper file")
        stranger = out / f".notes.txt.{dead}.tmp"  # same shape, but the dead process never named it
        stranger.write_text("the user's")
        dead_dir = state / "tmp" / str(dead)
        dead_dir.mkdir(parents=True)
        (dead_dir / "pg-copy-x.csv").write_bytes(b"x" * 100_000)
        (dead_dir / "partials").write_text(f"{partial}\n")
        live_dir = state / "tmp" / str(live.pid)
        live_dir.mkdir()
        (live_dir / "download.csv").write_text("in use")
        (state / "tmp" / "pg-copy-old.csv").write_text("from an older version")
        (state / "tmpk3j2h1").mkdir()
        (state / "tmpk3j2h1" / "download.csv").write_text("from an older version")

        async def take_over():
            engine = Engine(root)
            await engine.start(scheduler=False)
            assert engine.is_runner
            await engine.stop(grace=0)

        asyncio.run(take_over())
        assert not dead_dir.exists() and not partial.exists()
        assert stranger.exists()
        assert (live_dir / "download.csv").read_text() == "in use"
        assert not (state / "tmp" / "pg-copy-old.csv").exists() and not (state / "tmpk3j2h1").exists()
        con = duckdb.connect(str(state / "storage.duckdb"), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM duckdb_schemas() WHERE starts_with(schema_name, '_kbc_tx_')"
                               ).fetchall() == [(0,)]
            assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE starts_with(table_name, '__kbc_stage_')"
                               ).fetchall() == [(0,)]
            assert con.execute('SELECT count(*) FROM "out.c-test".kept').fetchall() == [(1000,)]
        finally:
            con.close()
    finally:
        live.kill()
        live.wait()


def test_recovery_gives_the_space_of_dropped_leftovers_back(tmp_path):
    root = project(tmp_path / "p")
    state = root / ".kbc"
    storage = DuckDBStorage(state / "storage.duckdb")
    storage.write_select("out.c-test.kept", "SELECT range AS id, md5(range::varchar) AS h FROM range(300000)")
    clean = storage.file_size()
    with storage.connect() as con:
        for n in range(4):  # four killed transformations' copies of a big table
            con.execute(f'CREATE SCHEMA "_kbc_tx_{n}_x"')
            con.execute(f'CREATE TABLE "_kbc_tx_{n}_x".copy AS SELECT * FROM "out.c-test".kept')
    assert storage.file_size() > 3 * clean

    async def take_over():
        engine = Engine(root)
        await engine.start(scheduler=False)
        await engine.stop(grace=0)

    asyncio.run(take_over())
    assert storage.file_size() <= 1.2 * clean
    assert storage.preview("out.c-test.kept", limit=1)[1]
