"""Cancelling a job while Hyper writes a large extract: the job ends cancelled at once (Hyper's query is
cancelled, not waited for), the previous extract stays as it was and no half-written file is left."""

import asyncio
import time

import pytest

from kbc_tui.engine import Engine
from kbc_tui.model.job import JobStatus
from kbc_tui.storage.duckdb_storage import DuckDBStorage
from tests.helpers.components import run_config
from tests.helpers.projects import project

ROWS = 12_000_000  # Hyper needs a few seconds to load them: a cancel that waits for it is seen


def _partials(out):
    return list(out.glob(".big.hyper.*.tmp"))


@pytest.mark.slow
async def test_cancel_while_hyper_loads_a_big_table_ends_promptly_and_keeps_the_old_extract(tmp_path):
    from tests.test_writers import read_hyper

    root = project(tmp_path / "p")
    storage = DuckDBStorage(root / ".kbc" / "storage.duckdb")
    storage.write_select("out.c-r.big", "select range as id, 'row ' || range as label from range(3)")
    job, _, _ = await asyncio.to_thread(run_config, root, "tableau-writer", "t",
                                        {"output_dir": "out", "tables": [{"source": "out.c-r.big"}]})
    assert job.status is JobStatus.SUCCESS, job.message
    out = root / "out"
    old = (out / "big.hyper").read_bytes()
    storage.write_select("out.c-r.big", "select range as id, 'row number ' || range as label, range * 1.5 as amount, "
                                        f"range % 7 as k from range({ROWS})")
    del storage

    engine = Engine(root, poll_seconds=0.1)
    await engine.start(scheduler=False)
    try:
        job = await engine.enqueue("run-tableau-writer-t")
        deadline = time.monotonic() + 120
        # Hyper has started loading rows once its partial file holds data (the export to Arrow is done by then)
        while not any(p.stat().st_size > 1 << 20 for p in _partials(out) if p.exists()):
            assert time.monotonic() < deadline, "Hyper never started writing"
            assert engine.get_job(job.id).status not in (JobStatus.SUCCESS, JobStatus.ERROR)
            await asyncio.sleep(0.02)
        asked = time.monotonic()
        await engine.cancel(job.id)
        done = await asyncio.wait_for(engine.wait(job.id), 60)
        took = time.monotonic() - asked
    finally:
        await engine.stop(grace=0)
    assert done.status is JobStatus.CANCELLED, done.message
    assert took < 0.75, f"the job took {took:.2f} s to end after the cancel"
    assert (out / "big.hyper").read_bytes() == old, "the previous extract was replaced"
    assert len(read_hyper(out / "big.hyper")[1]) == 3
    assert not _partials(out), "a half-written extract was left"
    assert not list((root / ".kbc" / "tmp").rglob("*.arrow")), "the Arrow export was left"
