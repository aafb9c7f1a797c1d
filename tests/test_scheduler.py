"""The scheduler with a controllable clock: fires, exactly once, skip-if-running, live edits, catch-up."""

import asyncio
import concurrent.futures
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from kbc_tui.engine import Engine
from kbc_tui.engine.clock import FakeClock
from kbc_tui.engine.events import JobChanged
from kbc_tui.engine.scheduler import Scheduler, fires
from kbc_tui.model.job import JobStatus, Trigger
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config
from tests.helpers.job_state import execute_on_state, jobs_refusing_inserts, refusing_writes

T0 = datetime(2026, 6, 1, 10, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def root(tmp_path):
    root = project(tmp_path / "p")
    sql_config(root, "quick", "create table q as select 1 as x;", ["q"])
    sql_config(root, "slow", ENDLESS, ["t"])
    return root


def schedule(root, orch_id, config, cron, **extra):
    orchestration(root, orch_id, [[config]], schedule={"cron": cron, **extra})


@pytest.fixture
async def engines():
    made = []

    async def make(root, clock, **kwargs):
        said = []
        engine = Engine(root, poll_seconds=0.05, clock=clock, scheduler_say=said.append, **kwargs)
        engine.said = said
        await engine.start()
        made.append(engine)
        for _ in range(200):  # the scheduler plans in the background: let it finish before time moves
            if engine.scheduler is None or engine.scheduler.plan is not None:
                break
            await asyncio.sleep(0.01)
        return engine

    yield make
    for engine in made:
        await engine.stop(grace=0)


async def settle(seconds=0.2):
    await asyncio.sleep(seconds)


def scheduled_jobs(engine, orch):
    return [j for j in engine.list_jobs(orch, limit=100) if j.trigger is Trigger.SCHEDULE]


async def test_fires_at_the_fire_time_and_not_before(root, engines):
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    assert engine.is_runner and engine.scheduler is not None
    clock.set(T0.replace(minute=4, second=59))
    await settle()
    assert scheduled_jobs(engine, "every5") == []
    clock.set(T0.replace(minute=5))
    await settle()
    [job] = scheduled_jobs(engine, "every5")
    assert job.triggered_by == "scheduler"
    done = await asyncio.wait_for(engine.wait(job.id), 20)
    assert done.status is JobStatus.SUCCESS
    assert fires(engine, "every5") == [(T0.replace(minute=5), "enqueued", job.id)]
    assert f"every5: scheduled run at {T0.replace(minute=5).isoformat()} -> job {job.id}" in engine.said


async def test_two_schedulers_racing_make_one_job_per_fire_time(root, engines):
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    other_engine = Engine(root, clock=clock)  # a second process's view of the same project
    rival = Scheduler(other_engine, clock=clock, say=lambda _: None)
    for minute in (5, 10, 15):
        clock.set(T0.replace(minute=minute))
        await asyncio.gather(asyncio.to_thread(rival.tick), settle(0.01))
        await settle()
        for job in scheduled_jobs(engine, "every5"):  # done before the next fire (a busy machine is slow)
            await asyncio.wait_for(engine.wait(job.id), 20)
    times = [f[0].minute for f in fires(engine, "every5")]
    assert times == [5, 10, 15]
    assert len(scheduled_jobs(engine, "every5")) == 3
    other_engine.history.close()


async def test_a_fire_while_still_running_is_skipped_and_logged(root, engines):
    schedule(root, "slowly", "slow", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    clock.set(T0.replace(minute=5))
    await settle()
    [first] = scheduled_jobs(engine, "slowly")
    for _ in range(100):
        if engine.get_job(first.id).status is JobStatus.PROCESSING:
            break
        await settle(0.05)
    clock.set(T0.replace(minute=10))
    await settle()
    assert len(scheduled_jobs(engine, "slowly")) == 1  # not stacked
    assert [f[1] for f in fires(engine, "slowly")] == ["enqueued", "skipped"]
    assert any("skipped" in line for line in engine.said)
    await engine.cancel(first.id)
    await asyncio.wait_for(engine.wait(first.id), 10)
    assert any("skipped: this job was still running" in ln.text and ln.level == "warning"
               for ln in engine.job_log(first.id))


async def test_edits_and_disabling_take_effect_without_restart(root, engines):
    schedule(root, "edited", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    engine.scheduler.file_check_seconds = 0.05
    await settle(0.05)
    schedule(root, "edited", "quick", "*/2 * * * *")  # someone edits the file
    clock.set(T0.replace(minute=1, second=30))
    await settle(0.4)
    clock.set(T0.replace(minute=2))
    await settle()
    assert [f[0].minute for f in fires(engine, "edited")] == [2]
    schedule(root, "edited", "quick", "*/2 * * * *", enabled=False)
    clock.set(T0.replace(minute=3))
    await settle(0.4)
    clock.set(T0.replace(minute=10))
    await settle()
    assert [f[0].minute for f in fires(engine, "edited")] == [2]


@pytest.mark.parametrize("catchup, expected_jobs", [("none", 0), ("latest", 1)])
async def test_missed_runs_after_downtime(root, engines, catchup, expected_jobs):
    schedule(root, "hourly", "quick", "0 * * * *", catchup=catchup)
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    await engine.stop(grace=0)  # the scheduler goes down for most of a day...
    clock.set(T0 + timedelta(hours=20, minutes=30))
    again = await engines(root, clock)
    await settle()
    jobs = scheduled_jobs(again, "hourly")
    assert len(jobs) == expected_jobs  # never a flood of 20
    if expected_jobs:
        assert fires(again, "hourly")[0][0] == (T0 + timedelta(hours=20)).replace(minute=0)
    assert any("missed" in line for line in again.said)


async def test_invalid_schedule_never_fires(root, engines):
    schedule(root, "bad", "quick", "61 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    clock.set(T0 + timedelta(hours=2))
    await settle()
    assert scheduled_jobs(engine, "bad") == []


async def crash(engine):
    """What SIGKILL leaves behind: no stop(), no last heartbeat, no cancel; the kernel drops the lock."""
    tasks = [*engine._bg, *engine._run_tasks]
    if engine.scheduler is not None and engine.scheduler._task is not None:
        tasks.append(engine.scheduler._task)
    if engine.notifier is not None and engine.notifier._loop_task is not None:
        tasks.append(engine.notifier._loop_task)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    engine.lock.release()
    engine.scheduler = None
    engine._started = False  # nothing left to stop


async def became_runner(engine, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if engine.is_runner and engine.scheduler is not None and engine.scheduler.plan is not None:
            return True
        await asyncio.sleep(0.02)
    return False


def fire_times(engine, orch):
    return [(f[0], f[1]) for f in fires(engine, orch)]


@pytest.mark.parametrize("how", ["killed", "quit"])
async def test_a_fire_during_a_runner_hand_over_runs_exactly_once(root, engines, how, state_backend):
    """The holder dies (or quits) just before hh:mm:00 and the standby takes over just after it. (On a shared
    state the standby's scheduler fires whether or not it holds the folder's runner lock: nothing changes hands,
    and the fire is still made once.)"""
    schedule(root, "minutely", "quick", "* * * * *")
    clock = FakeClock(T0.replace(minute=0, second=10))
    holder = await engines(root, clock)
    standby = await engines(root, clock)
    assert holder.is_runner and not standby.is_runner
    clock.set(T0.replace(minute=0, second=52))  # the holder's last heartbeat
    await settle()
    clock.set(T0.replace(minute=0, second=59, microsecond=300_000))
    await settle()
    if how == "killed":
        await crash(holder)
    else:
        await holder.stop(grace=0)
    clock.set(T0.replace(minute=1, second=1, microsecond=500_000))  # before the standby notices
    assert await became_runner(standby)
    await settle(0.5)
    fire_at = T0.replace(minute=1, second=0)
    jobs = [j for j in scheduled_jobs(standby, "minutely")]
    assert [t for t, outcome in fire_times(standby, "minutely") if t == fire_at] == [fire_at]
    assert len([j for j in jobs if j.created_at >= fire_at]) == 1
    assert not any("missed" in line for line in standby.said), standby.said
    if state_backend == "sqlite":
        assert any("changed hands" in line for line in standby.said)


async def test_after_a_real_gap_only_unrecorded_fires_are_called_missed(root, engines):
    schedule(root, "minutely", "quick", "* * * * *")
    clock = FakeClock(T0.replace(minute=0, second=10))
    holder = await engines(root, clock)
    clock.set(T0.replace(minute=1, second=0, microsecond=100_000))  # fires 10:01:00, then dies
    await settle()
    assert fire_times(holder, "minutely")[-1] == (T0.replace(minute=1), "enqueued")
    await crash(holder)
    clock.set(T0.replace(minute=1, second=30))  # a new runner 30 s later: nothing fell due unrecorded
    second = await engines(root, clock)
    await settle()
    assert not any("missed" in line for line in second.said), second.said
    await crash(second)
    clock.set(T0.replace(minute=5, second=30))  # four minutes with no runner: a real gap
    third = await engines(root, clock)
    await settle()
    missed = [line for line in third.said if "missed" in line]
    assert len(missed) == 1 and "10:05:00" in missed[0] and "not run" in missed[0]
    assert T0.replace(minute=5) not in [t for t, _ in fire_times(third, "minutely")]


async def test_a_job_left_processing_by_a_gone_runner_does_not_block_the_schedule(root, engines):
    """Skip-if-running trusts only jobs a live runner executes: a stale 'processing' job is ended first."""
    schedule(root, "minutely", "quick", "* * * * *")
    clock = FakeClock(T0.replace(minute=0, second=10))
    engine = await engines(root, clock)
    stale = engine.history.create_job("minutely", Trigger.MANUAL, "someone")
    engine.history.update_job(stale.id, status=JobStatus.PROCESSING, pid=999_999_999)
    clock.set(T0.replace(minute=1))
    await settle(0.5)
    assert engine.get_job(stale.id).status is JobStatus.TERMINATED
    assert any(t == T0.replace(minute=1) and outcome == "enqueued" for t, outcome in fire_times(engine, "minutely"))
    assert len(scheduled_jobs(engine, "minutely")) >= 1


async def test_a_schedule_that_never_fires_does_not_stop_the_others(root, engines):
    schedule(root, "never", "quick", "0 6 30 2 *")
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    assert engine.scheduler is not None and engine.scheduler.plan is not None
    assert "never" not in engine.scheduler.plan
    clock.set(T0.replace(minute=5))
    await settle()
    assert len(scheduled_jobs(engine, "every5")) == 1
    assert scheduled_jobs(engine, "never") == []


# -- boundaries users rely on (each test kills mutants of tools/mutation.py's scheduler group) ----------------

H = T0.replace(minute=0, second=5)  # a holder takes over at 10:00:05; "* * * * *" next fires at 10:01:00


async def test_a_changed_file_is_seen_within_the_file_check_interval(root, engines):
    """The file check runs every 5 s of the scheduler's clock: an edit is noticed at 5 s, not later."""
    schedule(root, "edited", "quick", "*/5 * * * *")
    engine = await engines(root, FakeClock(T0))
    await settle(0.05)
    schedule(root, "edited", "quick", "*/2 * * * *")
    engine.scheduler.clock.set(T0 + timedelta(seconds=5))
    await settle()
    assert any("schedules reloaded" in line for line in engine.said), engine.said


async def test_reload_plans_again_at_once(root, engines):
    """A save in the app calls reload_project(): the new schedule is planned now, not at the next file check; a
    fire time equal to now is planned (and fired), not skipped."""
    schedule(root, "edited", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    assert engine.scheduler.plan == {"edited": T0.replace(minute=5)}
    clock.set(T0.replace(minute=2))
    await settle()
    assert fires(engine, "edited") == []
    schedule(root, "edited", "quick", "*/2 * * * *")
    engine.reload_project()
    await settle()
    assert [f[0] for f in fires(engine, "edited")] == [T0.replace(minute=2)]
    assert engine.scheduler.plan == {"edited": T0.replace(minute=4)}


@pytest.mark.parametrize("gap, handed_over", [(60.0, True), (60.5, False)])
async def test_a_runner_gone_up_to_60_s_is_a_hand_over_not_a_gap(root, engines, gap, handed_over):
    """The holder's last heartbeat is 60 s (a hand-over: the 10:01 run goes ahead) or 60.5 s (a gap: missed, not
    run) before the next runner takes over."""
    schedule(root, "minutely", "quick", "* * * * *")
    clock = FakeClock(H)
    holder = await engines(root, clock)
    await crash(holder)
    clock.set(H + timedelta(seconds=gap))
    second = await engines(root, clock)
    await settle()
    assert any("changed hands" in line for line in second.said) is handed_over, second.said
    assert any("missed" in line for line in second.said) is not handed_over, second.said
    assert (T0.replace(minute=1) in [t for t, _ in fire_times(second, "minutely")]) is handed_over


async def test_the_heartbeat_is_written_every_10_s(root, engines):
    """Alive at 10:00:05 and (heartbeat) 10:00:15, killed; the next runner at 10:01:15 is 60 s after the last
    heartbeat: a hand-over, the 10:01 run goes ahead."""
    schedule(root, "minutely", "quick", "* * * * *")
    clock = FakeClock(H)
    holder = await engines(root, clock)
    clock.set(H + timedelta(seconds=10))
    await settle()
    await crash(holder)
    clock.set(H + timedelta(seconds=70))
    second = await engines(root, clock)
    await settle()
    assert any("changed hands" in line for line in second.said), second.said


async def test_a_quitting_runner_records_when_it_stopped(root, engines):
    """Alive at 10:00:05, quits at 10:00:14.9 (no heartbeat due in between: the stop writes one); the next runner
    at 10:01:14.5 is 59.6 s after that: a hand-over."""
    schedule(root, "minutely", "quick", "* * * * *")
    clock = FakeClock(H)
    holder = await engines(root, clock)
    clock.set(H + timedelta(seconds=9.9))
    await settle()
    await holder.stop(grace=0)
    clock.set(H + timedelta(seconds=69.5))
    second = await engines(root, clock)
    await settle()
    assert any("changed hands" in line for line in second.said), second.said


async def test_without_a_say_the_scheduler_reports_to_its_logger(root, caplog):
    """The app passes no ``say``: what the scheduler does goes to the ``kbc_tui.scheduler`` logger."""
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = Engine(root, poll_seconds=0.05, clock=clock)
    caplog.set_level("INFO", logger="kbc_tui.scheduler")
    await engine.start()
    try:
        assert await became_runner(engine)
        clock.set(T0.replace(minute=5))
        await settle()
    finally:
        await engine.stop(grace=0)
    assert any(r.name == "kbc_tui.scheduler" and "scheduled run at" in r.getMessage() for r in caplog.records)


async def test_a_disabled_schedule_is_not_caught_up(root, engines):
    schedule(root, "hourly", "quick", "0 * * * *", catchup="latest", enabled=False)
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    await engine.stop(grace=0)
    clock.set(T0 + timedelta(hours=5))
    again = await engines(root, clock)
    await settle()
    assert scheduled_jobs(again, "hourly") == [] and fires(again, "hourly") == []
    assert not any("missed" in line for line in again.said), again.said


async def test_a_fire_at_the_moment_a_runner_takes_over_is_run_not_missed(root, engines):
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(H)
    holder = await engines(root, clock)
    await crash(holder)
    clock.set(T0.replace(minute=5))  # minutes after the holder died: a real gap, but 10:05 is now, not missed
    second = await engines(root, clock)
    await settle()
    assert [(t, outcome) for t, outcome in fire_times(second, "every5")] == [(T0.replace(minute=5), "enqueued")]
    assert not any("missed" in line for line in second.said), second.said


async def test_a_fire_recorded_after_the_last_heartbeat_is_not_called_missed(root, engines):
    """The holder's last heartbeat is 10:00:55, it fires 10:01:00 and dies before its next heartbeat; the runner
    after a real gap finds 10:01 recorded: nothing was missed."""
    schedule(root, "at01", "quick", "1 * * * *")
    clock = FakeClock(H)
    holder = await engines(root, clock)
    clock.set(T0.replace(minute=0, second=55))
    await settle()
    clock.set(T0.replace(minute=1, second=0, microsecond=500_000))
    await settle()
    assert fire_times(holder, "at01") == [(T0.replace(minute=1), "enqueued")]
    for job in scheduled_jobs(holder, "at01"):  # dies after the job, not in the middle of it
        await asyncio.wait_for(holder.wait(job.id), 20)
    await crash(holder)
    clock.set(T0.replace(minute=3))
    second = await engines(root, clock)
    await settle()
    assert not any("missed" in line for line in second.said), second.said


async def test_the_start_delay_holds_planning_back(root):
    """The app starts planning after its first frame (scheduler_start_delay), once: later fires are not held."""
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = Engine(root, poll_seconds=0.05, clock=clock, scheduler_say=lambda _: None,
                    scheduler_start_delay=1.0)
    await engine.start()
    try:
        await settle(0.3)
        assert engine.scheduler.plan is None
        assert await became_runner(engine)
        clock.set(T0.replace(minute=5))
        await settle(0.5)
        assert [f[0] for f in fires(engine, "every5")] == [T0.replace(minute=5)]
    finally:
        await engine.stop(grace=0)


async def test_after_a_long_sleep_each_schedule_fires_its_latest_due_time_once(root, engines):
    """The machine sleeps from 10:01 to 10:17: "*/2" fires 10:16 and "*/5" 10:15, once each (not the first times
    they missed); a schedule that is not due does not hold up the others."""
    schedule(root, "a-every5", "quick", "*/5 * * * *")
    schedule(root, "b-every2", "quick", "*/2 * * * *")
    schedule(root, "a-daily", "quick", "0 3 * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    clock.set(T0.replace(minute=17))
    await settle()
    assert [(t, o) for t, o in fire_times(engine, "a-every5")] == [(T0.replace(minute=15), "enqueued")]
    assert [(t, o) for t, o in fire_times(engine, "b-every2")] == [(T0.replace(minute=16), "enqueued")]
    assert fire_times(engine, "a-daily") == []


async def test_after_hours_asleep_a_minutely_schedule_fires_only_the_latest_minute(root, engines):
    """More than one batch (100) of fire times fell due: the latest one is found, past the first batch."""
    schedule(root, "minutely", "quick", "* * * * *")
    clock = FakeClock(T0 + timedelta(seconds=30))
    engine = await engines(root, clock)
    clock.set(T0 + timedelta(hours=3, seconds=30))
    await settle()
    assert fire_times(engine, "minutely") == [(T0 + timedelta(hours=3), "enqueued")]


async def test_waking_exactly_on_a_later_fire_time_fires_that_time(root, engines):
    """Asleep from 10:01 to exactly 10:10: "*/5" fires 10:10 (the latest due, due at this very moment), not 10:05."""
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    clock.set(T0.replace(minute=10))
    await settle()
    assert fire_times(engine, "every5") == [(T0.replace(minute=10), "enqueued")]


@pytest.mark.parametrize("saved_after, fired", [(timedelta(seconds=1), True),
                                                (timedelta(seconds=1, microseconds=1), False)])
async def test_a_schedule_saved_up_to_a_second_after_its_new_fire_time_runs_it(root, engines, saved_after, fired):
    """At 10:01:00 "*/5" is in force; the file is saved as "* * * * *" (which fired at 10:01:00) 1 s later: that
    run goes ahead; a moment later than 1 s it does not (it was not due while the old schedule was in force)."""
    schedule(root, "edited", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    clock.set(T0 + saved_after)
    await settle(0.05)
    schedule(root, "edited", "quick", "* * * * *")
    engine.reload_project()
    await settle()
    assert (fire_times(engine, "edited") == [(T0, "enqueued")]) is fired, fire_times(engine, "edited")
    assert fired or fire_times(engine, "edited") == []
    assert engine.scheduler.plan == {"edited": T0.replace(minute=2)}


async def test_a_run_said_missed_is_not_run_by_a_later_hand_over(root, engines):
    """13:00 was missed (no runner from 10:01 to 13:01) and said so, not run; that runner quits and the next one
    takes over 30 s later (a hand-over): 13:00 is still not run, nothing since fell due."""
    schedule(root, "hourly", "quick", "0 * * * *")
    clock = FakeClock(T0)
    first = await engines(root, clock)
    await first.stop(grace=0)
    clock.set(T0 + timedelta(hours=3))
    second = await engines(root, clock)
    await settle()
    assert any("missed" in line and "not run" in line for line in second.said), second.said
    await second.stop(grace=0)
    clock.set(T0 + timedelta(hours=3, seconds=30))
    third = await engines(root, clock)
    await settle()
    assert fire_times(third, "hourly") == []
    assert not any("changed hands" in line for line in third.said), third.said


async def test_a_stop_that_cannot_record_itself_says_so(root, engines):
    schedule(root, "every5", "quick", "*/5 * * * *")
    engine = await engines(root, FakeClock(T0))
    with refusing_writes(root, engine.history):  # the history takes no writes (read-only, full disk)
        await asyncio.wait_for(engine.scheduler.stop(), 10)  # and never raises
    assert [line for line in engine.said if line.startswith("could not record the scheduler's stop: ")], engine.said


async def test_a_fire_that_cannot_be_recorded_stops_the_runner_loudly(root, engines):
    """The history takes no writes when 10:05 falls due: the engine stops running jobs and says why."""
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    with refusing_writes(root, engine.history):
        clock.set(T0.replace(minute=5))
        for _ in range(200):
            if engine.problem is not None:
                break
            await settle(0.05)
        assert engine.problem is not None and "stopped running jobs" in engine.problem, engine.problem
    assert fires(engine, "every5") == []


async def test_a_scheduler_error_is_said_and_logged_once_then_retried_seconds_later(root, engines, caplog):
    """A damaged schedule state (a time past year 9999) makes planning fail: the error is said with its type,
    logged with its traceback, and tried again 5 s later, not in a tight loop."""
    caplog.set_level("ERROR", logger="kbc_tui.scheduler")
    schedule(root, "every5", "quick", "*/5 * * * *")
    engine = await engines(root, FakeClock(T0))
    execute_on_state(root, engine.history, "UPDATE schedule_state SET checked_until = 1e300")
    engine.reload_project()
    await settle(0.5)
    errors = [line for line in engine.said if line.startswith("scheduler error (retrying in 5 s): ")]
    assert len(errors) == 1, engine.said
    assert "Error" in errors[0]  # OverflowError / ValueError: the type is named
    [record] = [r for r in caplog.records if r.name == "kbc_tui.scheduler" and r.getMessage() ==
                "scheduler step failed"]
    assert record.exc_info is not None


async def test_a_project_that_cannot_be_reloaded_is_said_and_the_plan_goes_on(root, engines):
    """The project folder is renamed away for a moment: the file check says it could not reload, and the
    schedules planned before still fire."""
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    away = root.with_name("p-away")
    root.rename(away)
    try:
        clock.set(T0 + timedelta(seconds=5))
        await settle()
    finally:
        away.rename(root)
    assert any(line.startswith("could not reload the project: ") and "not found" in line
               for line in engine.said), engine.said
    clock.set(T0.replace(minute=5))
    await settle()
    assert fire_times(engine, "every5") == [(T0.replace(minute=5), "enqueued")]


async def test_a_scheduled_job_is_announced_and_started_at_once(root):
    """The runner does not wait for its next poll (30 s here): the job is announced as waiting and starts at once."""
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = Engine(root, poll_seconds=30, clock=clock, scheduler_say=lambda _: None)
    seen = []
    engine.events.subscribe(lambda e: seen.append(e.job) if isinstance(e, JobChanged) else None)
    await engine.start()
    try:
        assert await became_runner(engine)
        clock.set(T0.replace(minute=5))
        started = time.monotonic()
        while time.monotonic() - started < 10:
            jobs = scheduled_jobs(engine, "every5")
            if jobs and jobs[0].status is not JobStatus.WAITING:
                break
            await asyncio.sleep(0.02)
        assert jobs and jobs[0].status is not JobStatus.WAITING and time.monotonic() - started < 10
        assert seen and seen[0].id == jobs[0].id and seen[0].status is JobStatus.WAITING, seen
    finally:
        await engine.stop(grace=0)


async def test_an_orchestration_deleted_in_the_app_is_dropped_from_the_plan_at_its_time(root, engines):
    """The app deletes an orchestration through the project it shares with the engine (no reload): at its
    planned time it is not fired and dropped from the plan, without an error, and the others fire."""
    schedule(root, "gone", "quick", "*/5 * * * *")
    schedule(root, "kept", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    engine.project.delete_orchestration("gone")
    clock.set(T0.replace(minute=5))
    await settle()
    assert fires(engine, "gone") == []
    assert fire_times(engine, "kept") == [(T0.replace(minute=5), "enqueued")]
    assert not any("error" in line for line in engine.said), engine.said
    assert engine.scheduler.plan == {"kept": T0.replace(minute=10)}


class _SlowPlanning(concurrent.futures.ThreadPoolExecutor):
    """The event loop's threads (asyncio.to_thread), where a plan made while ``hold`` is set is handed back only
    once it is cleared: planning a thousand schedules takes a while, and files are saved meanwhile."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.go = threading.Event()

    def submit(self, fn, /, *args, **kwargs):
        work = getattr(fn, "args", (None,))[0]  # to_thread hands over partial(context.run, work, ...)
        if getattr(work, "__name__", "") not in ("_make_plan", "_start_state") or not self.hold.is_set():
            return super().submit(fn, *args, **kwargs)

        def slowly():
            result = fn(*args, **kwargs)
            self.holding.set()
            self.go.wait(10)
            return result

        return super().submit(slowly)


@pytest.mark.parametrize("when", ["at start", "after a save"])
async def test_a_schedule_saved_while_the_plan_is_being_made_is_planned_too(root, when):
    """A save comes while the plan is still being made (the first one at start, or the one for a save just
    before): the new schedule is planned (and fires), not lost until some later change."""
    schedule(root, "first", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    threads = _SlowPlanning()
    asyncio.get_running_loop().set_default_executor(threads)
    engine = Engine(root, poll_seconds=0.05, clock=clock, scheduler_say=lambda _: None)
    try:
        if when == "at start":
            threads.hold.set()
            await engine.start()
        else:
            await engine.start()
            assert await became_runner(engine)
            threads.hold.set()
            schedule(root, "first", "quick", "*/10 * * * *")
            engine.reload_project()
        for _ in range(500):
            if threads.holding.is_set():
                break
            await asyncio.sleep(0.01)
        assert threads.holding.is_set()
        threads.hold.clear()
        schedule(root, "second", "quick", "*/2 * * * *")
        engine.reload_project()
        threads.go.set()
        assert await became_runner(engine)
        await settle(0.1)
        clock.set(T0.replace(minute=2))
        await settle()
        assert fire_times(engine, "second") == [(T0.replace(minute=2), "enqueued")]
        first = T0.replace(minute=5 if when == "at start" else 10)
        assert engine.scheduler.plan == {"first": first, "second": T0.replace(minute=4)}
    finally:
        await engine.stop(grace=0)


async def test_a_run_said_missed_a_moment_before_the_take_over_is_not_run_all_the_same(root, engines):
    """After a real gap a runner takes over half a second after 10:05: 10:05 was missed (said, not run with the
    default catchup), and it is not then fired by the plan either; the next run is 10:10."""
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(H)
    holder = await engines(root, clock)
    await crash(holder)
    clock.set(T0.replace(minute=5, microsecond=500_000))
    second = await engines(root, clock)
    await settle()
    assert [line for line in second.said if "missed" in line and "not run" in line], second.said
    assert fire_times(second, "every5") == []
    assert second.scheduler.plan == {"every5": T0.replace(minute=10)}


async def test_a_hand_over_runs_the_due_run_of_every_schedule_not_only_the_first(root, engines):
    """Two schedules; the runner changes hands around 10:01: "a-hourly" has nothing due, "b-minutely" runs 10:01."""
    schedule(root, "a-hourly", "quick", "0 * * * *")
    schedule(root, "b-minutely", "quick", "* * * * *")
    clock = FakeClock(H)
    holder = await engines(root, clock)
    await crash(holder)
    clock.set(T0.replace(minute=1, second=1, microsecond=500_000))
    second = await engines(root, clock)
    await settle()
    assert fire_times(second, "b-minutely") == [(T0.replace(minute=1), "enqueued")]
    assert fire_times(second, "a-hourly") == []


async def test_a_fire_whose_job_cannot_be_written_runs_once_the_history_can_be_written_again(root, engines):
    """The fire record and its job are written together: when the job cannot be written (here the jobs table
    refuses inserts, as a full disk would), the fire is not recorded either, and it runs once the history
    takes writes again — before, it stayed recorded with no job and the run was lost for good."""
    schedule(root, "every5", "quick", "*/5 * * * *")
    clock = FakeClock(T0)
    engine = await engines(root, clock)
    with jobs_refusing_inserts(root, engine.history):
        clock.set(T0.replace(minute=4, second=55))  # the scheduler's heartbeat: it ran until just before the fire
        await settle()
        clock.set(T0.replace(minute=5))
        await settle(0.5)
        assert scheduled_jobs(engine, "every5") == []
        assert fires(engine, "every5") == []  # not recorded without its job
    for _ in range(300):  # the runner takes jobs again within its fault retry (5 s)
        if scheduled_jobs(engine, "every5"):
            break
        await asyncio.sleep(0.05)
    [job] = scheduled_jobs(engine, "every5")
    assert fires(engine, "every5") == [(T0.replace(minute=5), "enqueued", job.id)]
