"""Engines for notifier tests: started without a scheduler, stopped after the test; a job run to its end; a log
line waited for."""

from __future__ import annotations

import asyncio
import time

import pytest

from kbc_tui.engine import Engine
from kbc_tui.model.job import Trigger


@pytest.fixture
async def engines():
    """``await engines(root)``: a started engine (no scheduler), stopped when the test ends."""
    started: list[Engine] = []

    async def make(root) -> Engine:
        engine = Engine(root, poll_seconds=0.1)
        await engine.start(scheduler=False)
        started.append(engine)
        return engine

    yield make
    for engine in started:
        await engine.stop(grace=0)


async def run_job(engine, orch, trigger=Trigger.SCHEDULE, triggered_by=None):
    job = await engine.enqueue(orch, trigger=trigger, triggered_by=triggered_by)
    return await asyncio.wait_for(engine.wait(job.id), 60)


async def log_line(engine, job_id, needle, timeout=15.0):
    """The first log line of the job containing ``needle`` (None after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in engine.job_log(job_id):
            if needle in line.text:
                return line
        await asyncio.sleep(0.05)
    return None
