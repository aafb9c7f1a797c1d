"""The event bus hands log lines to subscribers in batches, in order, from any thread, without waking the
event loop once per line (a task logging 10,000 lines a second would otherwise keep the TUI's loop busy)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone

from kbc_tui.engine.events import EventBus, JobChanged, LogBatch
from kbc_tui.model.job import Job, JobStatus, LogLine, Trigger

def line(job_id: int, n: int) -> LogLine:
    return LogLine(job_id, datetime.now(timezone.utc), "info", f"line {n}", None)


async def test_lines_from_a_thread_wake_the_loop_once_per_batch_and_arrive_in_order() -> None:
    loop = asyncio.get_running_loop()
    bus = EventBus()
    bus.bind(loop)
    got: list[LogBatch] = []
    bus.subscribe(lambda event: got.append(event) if isinstance(event, LogBatch) else None)
    wakeups = 0
    original = loop.call_soon_threadsafe

    def counting(*args, **kwargs):
        nonlocal wakeups
        wakeups += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counting
    try:
        writer = threading.Thread(target=lambda: [bus.log(line(1, n)) for n in range(10_000)])
        writer.start()
        await asyncio.to_thread(writer.join)
        await asyncio.sleep(0.3)
    finally:
        del loop.call_soon_threadsafe
    texts = [entry.text for batch in got for entry in batch.lines]
    assert texts == [f"line {n}" for n in range(10_000)]
    assert wakeups <= 10, f"the loop was woken {wakeups} times for 10,000 lines"
    assert len(got) <= 10


async def test_a_job_change_delivers_that_job_s_pending_lines_first() -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    got = []
    bus.subscribe(got.append)
    bus.log(line(7, 1))
    bus.log(line(8, 1))
    now = datetime.now(timezone.utc)
    bus.emit(JobChanged(Job(7, "o", JobStatus.SUCCESS, Trigger.MANUAL, "", now, now, now, "", None)))
    assert [type(e).__name__ for e in got] == ["LogBatch", "JobChanged"]
    assert got[0].job_id == 7
    await asyncio.sleep(0.2)
    assert [type(e).__name__ for e in got] == ["LogBatch", "JobChanged", "LogBatch"]
    assert got[2].job_id == 8
