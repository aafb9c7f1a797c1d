"""Stopping never hangs on a wake-up that arrives at the same moment as the stop.

Python 3.11's ``asyncio.wait_for`` swallows a cancel that arrives in the same loop turn as the awaited event
(it returns the result instead of raising): a loop waiting that way and cancelled just as it is woken goes on
running, and whoever awaits it (``Engine.stop()``: the app quitting, the daemon on SIGTERM) waits forever.
A CI run hung 300 s in the scheduler tests this way. Each test wakes a loop and stops it in one turn.
"""

import asyncio
from datetime import datetime, timezone

from kbc_tui.engine import Engine
from kbc_tui.engine.clock import FakeClock
from tests.helpers.projects import orchestration, project, sql_config

STOP_LIMIT = 10  # seconds; a stop takes well under one


def _project(tmp_path, cron="*/5 * * * *"):
    root = project(tmp_path / "p")
    sql_config(root, "quick", "create table q as select 1 as x;", ["q"])
    orchestration(root, "every5", [["quick"]], schedule={"cron": cron})
    return root


async def _started(root, **kwargs) -> Engine:
    engine = Engine(root, poll_seconds=30, **kwargs)  # long waits: only a wake-up or a cancel ends them
    await engine.start()
    for _ in range(500):
        if engine.scheduler is not None and engine.scheduler.plan is not None:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # every loop is now asleep in its wait
    return engine


async def test_quitting_just_as_a_schedule_is_reloaded_stops(tmp_path):
    """The app saves a schedule (reload wakes the scheduler) and quits in the same moment."""
    engine = await _started(_project(tmp_path))
    engine.reload_project()
    await asyncio.wait_for(engine.stop(grace=0), STOP_LIMIT)
    assert not engine.is_runner


async def test_quitting_just_as_a_job_is_queued_stops(tmp_path):
    """A job is queued (it wakes the runner loop) and the process stops in the same moment."""
    engine = await _started(_project(tmp_path))
    await engine.enqueue("every5")
    await asyncio.wait_for(engine.stop(grace=0), STOP_LIMIT)
    assert not engine.is_runner


async def test_stopping_the_scheduler_with_a_fake_clock_moving_stops(tmp_path):
    """The test clock moves (it wakes the scheduler) as the engine stops."""
    clock = FakeClock(datetime(2026, 6, 1, 10, 1, tzinfo=timezone.utc))
    engine = await _started(_project(tmp_path), clock=clock)
    clock.advance(seconds=1)
    await asyncio.wait_for(engine.stop(grace=0), STOP_LIMIT)
    assert not engine.is_runner
