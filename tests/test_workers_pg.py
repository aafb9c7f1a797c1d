"""Several workers on several "servers" sharing one PostgreSQL job state (issue 13).

Each server is a separate copy of the project folder (its own checkout, its own `.kbc` and DuckDB storage); the
only thing they share is the PostgreSQL database of the test. Workers are real `kbc-tui worker` processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kbc_tui.engine.spec_hash import spec_hash
from kbc_tui.model.job import JobStatus, Trigger
from tests.helpers.cli import KBC, kbc
from tests.helpers.components import write_config
from tests.helpers.pg import pg_database  # noqa: F401 - the fixture
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.services

ORCHS = [f"o{i}" for i in range(5)]


def state_of(url: str):
    from kbc_tui.store.pg_state import PgJobState

    return PgJobState(url)


def servers(tmp_path: Path, url: str, pg_url: str, n: int, *, timeout: float = 3, smtp_port: int | None = None,
            ) -> list[Path]:
    """``n`` copies of one project whose job state is the test's PostgreSQL database."""
    settings: dict = {"state": {"url": url, "heartbeat_timeout": timeout}}
    if smtp_port is not None:
        settings["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "from": "kbc@example.com", "timeout_seconds": 3}
    root = project(tmp_path / "server1", **settings)
    # a task that waits 0.2 s in the database, and one that runs until it is stopped
    write_config(root, "db-extractor", "nap", {"url": pg_url, "tables": [
        {"name": "nap", "query": "SELECT 1 AS x FROM pg_sleep(0.2)", "output": "in.c-db.nap"}]})
    for orch in ORCHS:
        orchestration(root, orch, [[{"component": "db-extractor", "config": "nap"}]])
    sql_config(root, "endless", ENDLESS, ["t"])
    orchestration(root, "slow", [["endless"]], notifications={"error": ["ops@example.com"]})
    sql_config(root, "quick", "create table q as select 1 as x;", ["q"])
    orchestration(root, "quick", [["quick"]])
    copies = [root]
    for i in range(2, n + 1):
        copies.append(Path(shutil.copytree(root, tmp_path / f"server{i}")))
    return copies


class Worker:
    """``kbc-tui worker`` on one server; its output goes to a file (a pipe nobody reads would fill)."""

    def __init__(self, root: Path, name: str, *extra: str):
        self.name = name
        self.out = root.parent / f"{name}.out"
        self._file = open(self.out, "w")
        self.proc = subprocess.Popen([*KBC, "worker", "--project", str(root), "--name", name, "--grace", "0",
                                      *extra], stdout=self._file, stderr=subprocess.STDOUT, text=True)

    def text(self) -> str:
        return self.out.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._file.close()


def wait_for(predicate, timeout: float = 30, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def queue(state, root: Path, orch: str) -> int:
    """A job queued as a server queues it: with the hash of the orchestration as that checkout has it."""
    return state.create_job(orch, Trigger.SCHEDULE, "scheduler", spec_hash=spec_hash(root, orch)).id


def test_three_workers_drain_fifty_jobs_once_each_never_two_of_one_orchestration_at_once(tmp_path, pg_url,
                                                                                         pg_database):
    roots = servers(tmp_path, pg_database, pg_url, 3)
    state = state_of(pg_database)
    workers: list[Worker] = []
    try:
        ids = [queue(state, roots[0], ORCHS[i % len(ORCHS)]) for i in range(50)]
        workers = [Worker(root, f"w{i + 1}", "--max-jobs", "2") for i, root in enumerate(roots)]
        assert wait_for(lambda: all(state.job(i, with_tasks=False).status.finished for i in ids), 180), \
            "\n".join(w.text() for w in workers)
        jobs = [state.job(i) for i in ids]
        assert [j.status for j in jobs] == [JobStatus.SUCCESS] * 50, [(j.id, j.message) for j in jobs]
        for job in jobs:  # each ran once: one start line, one task run
            starts = [ln for ln in state.log(job.id) if ln.text.startswith(f"Job {job.id} started")]
            assert len(starts) == 1 and len(job.tasks) == 1, job.id
        assert {j.worker for j in jobs} <= {"w1", "w2", "w3"} and len({j.worker for j in jobs}) >= 2
        for orch in ORCHS:
            spans = sorted((j.started_at, j.finished_at) for j in jobs if j.orchestration == orch)
            for (_, end), (start, _) in zip(spans, spans[1:]):
                assert end <= start, f"two jobs of {orch} overlapped"
        listed = json.loads(kbc("jobs", "--json", "-n", "5", root=roots[2]).stdout)  # any server lists them
        assert [j["id"] for j in listed] == sorted(ids, reverse=True)[:5] and all(j["worker"] for j in listed)
        assert json.loads(kbc("job", str(ids[0]), "--json", root=roots[1]).stdout)["worker"] == jobs[0].worker
    finally:
        for w in workers:
            w.stop()
        state.close()
    for w in workers:
        assert w.proc.returncode == 0, w.text()
    assert state_of(pg_database).workers() == []  # each stopped cleanly: unregistered


def test_a_killed_worker_s_job_is_terminated_with_its_name_and_an_e_mail_then_the_next_job_runs(
        tmp_path, pg_url, pg_database):
    timeout = 3
    with SmtpServer() as smtp:
        first, second = servers(tmp_path, pg_database, pg_url, 2, timeout=timeout, smtp_port=smtp.port)
        state = state_of(pg_database)
        doomed, nxt = queue(state, first, "slow"), queue(state, first, "slow")
        a = Worker(first, "alpha")
        b = None
        try:
            assert wait_for(lambda: state.job(doomed, with_tasks=False).status is JobStatus.PROCESSING
                            and any(t.status.value == "processing" for t in state.job(doomed).tasks)), a.text()
            b = Worker(second, "beta")
            assert wait_for(lambda: "beta" in [w.name for w in state.workers()])
            time.sleep(1)
            assert state.job(nxt, with_tasks=False).status is JobStatus.WAITING  # one job of "slow" at a time
            a.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            ended = wait_for(lambda: (j := state.job(doomed)).status.finished and j, timeout + 10, 0.05)
            took = time.monotonic() - killed
            assert ended and ended.status is JobStatus.TERMINATED, b.text()
            assert took <= timeout + 2.5, f"terminated {took:.1f} s after the kill (heartbeat timeout {timeout} s)"
            assert ended.message == f"terminated: worker alpha stopped answering (no heartbeat for {timeout} s)"
            assert [t.status.value for t in ended.tasks] == ["terminated"]
            [mail] = smtp.wait_for(1, 15)
            assert f"job {doomed}" in mail.subject and "alpha stopped answering" in mail.body()
            started = wait_for(lambda: (j := state.job(nxt, with_tasks=False)).status is JobStatus.PROCESSING
                               and j, 10)
            assert started and started.worker == "beta"
            time.sleep(1.5)
            assert len(smtp.messages) == 1  # one reaper, one e-mail
        finally:
            a.stop()
            if b is not None:
                b.stop()
            state.close()


def test_cancel_from_another_server_stops_the_job_within_two_seconds(tmp_path, pg_url, pg_database):
    first, second = servers(tmp_path, pg_database, pg_url, 2)
    state = state_of(pg_database)
    job_id = queue(state, first, "slow")
    w = Worker(first, "runner")
    try:
        assert wait_for(lambda: any(t.status.value == "processing" for t in state.job(job_id).tasks)), w.text()
        cancel = subprocess.Popen([*KBC, "cancel", str(job_id), "--project", str(second)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        line = cancel.stdout.readline()
        asked = time.monotonic()
        assert "cancel requested" in line, line + cancel.stdout.read()
        out, _ = cancel.communicate(timeout=30)
        took = time.monotonic() - asked
        assert cancel.returncode == 0 and f"Job {job_id}: cancelled" in out, out
        assert took <= 2.0, f"the job stopped {took:.1f} s after the cancel was asked"
        assert state.job(job_id, with_tasks=False).worker == "runner"
    finally:
        w.stop()
        state.close()


def test_a_worker_whose_copy_differs_refuses_the_job_in_words_comments_do_not_count(tmp_path, pg_url, pg_database):
    first, second = servers(tmp_path, pg_database, pg_url, 2)
    state = state_of(pg_database)
    # the second server's copy: a comment and another layout only (the same configuration), then a real change
    path = second / "components" / "sql-transformation" / "quick.toml"
    path.write_text("# reformatted on server 2\n" + path.read_text().replace(" = ", "   =   "))
    same = queue(state, first, "quick")
    w = Worker(second, "behind")
    try:
        assert wait_for(lambda: state.job(same, with_tasks=False).status.finished), w.text()
        assert state.job(same, with_tasks=False).status is JobStatus.SUCCESS
        sql_config(first, "quick", "create table q as select 2 as x;", ["q"])  # server 1 moved on; 2 did not pull
        changed = queue(state, first, "quick")
        assert wait_for(lambda: state.job(changed, with_tasks=False).status.finished), w.text()
        job = state.job(changed)
        queued, here = spec_hash(first, "quick"), spec_hash(second, "quick")
        assert queued != here
        assert job.status is JobStatus.ERROR and job.tasks == []  # nothing of the old version ran
        assert (f"this worker's copy of orchestration quick differs from the one the job was queued with (queued "
                f"{queued}, here {here}): update the configs on worker behind (git pull) and run the job again"
                in job.message), job.message
    finally:
        w.stop()
        state.close()


def test_a_second_live_worker_of_the_same_name_is_refused_in_words(tmp_path, pg_url, pg_database):
    first, second = servers(tmp_path, pg_database, pg_url, 2)
    w = Worker(first, "twin")
    try:
        state = state_of(pg_database)
        assert wait_for(lambda: [x.name for x in state.workers()] == ["twin"]), w.text()
        state.close()
        out = kbc("worker", "--name", "twin", root=second, timeout=60)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert "twin" in out.stderr and "another name" in out.stderr, out.stderr
    finally:
        w.stop()


async def test_two_schedulers_on_two_servers_make_one_job_per_fire(tmp_path, pg_url, pg_database):
    from kbc_tui.engine import Engine
    from kbc_tui.engine.clock import FakeClock
    from kbc_tui.engine.scheduler import fires

    first, second = servers(tmp_path, pg_database, pg_url, 2)
    for root in (first, second):
        orchestration(root, "minutely", [["quick"]], schedule={"cron": "* * * * *"})
    t0 = datetime(2026, 6, 1, 10, 0, 30, tzinfo=timezone.utc)
    clock = FakeClock(t0)
    engines = [Engine(root, clock=clock, poll_seconds=0.1, worker_name=f"s{i}", scheduler_say=lambda _: None)
               for i, root in enumerate((first, second), 1)]
    try:
        for engine in engines:
            await engine.start()
            assert engine.is_runner and engine.scheduler is not None and engine.shared
        for minute in (1, 2, 3):
            clock.set(t0.replace(minute=minute, second=0))
            await asyncio.sleep(0.5)
            scheduled = [j for j in engines[0].list_jobs("minutely") if j.trigger is Trigger.SCHEDULE]
            for job in scheduled:
                await asyncio.wait_for(engines[0].wait(job.id), 30)
        jobs = [j for j in engines[1].list_jobs("minutely") if j.trigger is Trigger.SCHEDULE]
        assert len(jobs) == 3 and all(j.status is JobStatus.SUCCESS for j in jobs), [(j.id, j.message) for j in jobs]
        assert [(f[0].minute, f[1]) for f in fires(engines[0], "minutely")] == [(1, "enqueued"), (2, "enqueued"),
                                                                                (3, "enqueued")]
        assert {j.spec_hash for j in jobs} == {spec_hash(first, "minutely")}
    finally:
        for engine in engines:
            await engine.stop(grace=0)


async def test_a_job_another_worker_ended_is_stopped_here_and_stays_terminated(tmp_path, pg_url, pg_database):
    """This worker's heartbeat was late and another worker terminated its job: the job stops here within a poll
    and its recorded end is not overwritten (no 'cancelled' or 'success' after 'terminated')."""
    from kbc_tui.engine import Engine

    [root] = servers(tmp_path, pg_database, pg_url, 1)
    engine = Engine(root, poll_seconds=0.1, worker_name="late")
    await engine.start(scheduler=False)
    state = state_of(pg_database)
    try:
        job = await engine.enqueue("slow")
        for _ in range(300):
            if any(t.status.value == "processing" for t in state.job(job.id).tasks):
                break
            await asyncio.sleep(0.05)
        message = "terminated: worker late stopped answering (no heartbeat for 3 s)"
        assert state.terminate_job(job.id, message, datetime.now(timezone.utc)) is not None
        for _ in range(100):
            if not engine.running_jobs():
                break
            await asyncio.sleep(0.05)
        assert engine.running_jobs() == []
        await asyncio.sleep(0.3)
        done = state.job(job.id)
        assert (done.status, done.message) == (JobStatus.TERMINATED, message)
    finally:
        await engine.stop(grace=0)
        state.close()


def test_kbc_tui_run_on_a_shared_state_runs_its_own_job_and_not_the_queue(tmp_path, pg_url, pg_database):
    """A one-off `kbc-tui run` (a laptop's checkout) must not pick up the team's queued jobs."""
    [root] = servers(tmp_path, pg_database, pg_url, 1)
    state = state_of(pg_database)
    try:
        theirs = queue(state, root, "o0")
        out = kbc("run", "quick", root=root)
        assert out.returncode == 0, out.stdout + out.stderr
        [mine] = [j for j in state.list_jobs("quick")]
        assert mine.status is JobStatus.SUCCESS and mine.worker and mine.worker.endswith(f":{mine.pid}")
        assert state.job(theirs, with_tasks=False).status is JobStatus.WAITING
    finally:
        state.close()


async def test_a_worker_whose_event_loop_is_busy_still_beats_and_keeps_its_job(tmp_path, pg_url, pg_database):
    """The heartbeat has a thread and a connection of its own: a worker whose event loop is blocked for twice
    the timeout is not taken for dead by the other worker (a dead process is: see the SIGKILL test)."""
    from kbc_tui.engine import Engine

    first, second = servers(tmp_path, pg_database, pg_url, 2, timeout=2)
    engine = Engine(first, poll_seconds=0.1, worker_name="busy")
    await engine.start(scheduler=False)
    state = state_of(pg_database)
    other = None
    try:
        job = await engine.enqueue("slow")
        for _ in range(300):
            if any(t.status.value == "processing" for t in state.job(job.id).tasks):
                break
            await asyncio.sleep(0.05)
        other = Worker(second, "watcher")
        assert await asyncio.to_thread(wait_for, lambda: "watcher" in [w.name for w in state.workers()])
        time.sleep(4.5)  # the event loop does nothing for 4.5 s: no poll, no reaper, no task progress
        assert state.job(job.id, with_tasks=False).status is JobStatus.PROCESSING, other.text()
        await engine.cancel(job.id)
        done = await asyncio.wait_for(engine.wait(job.id), 15)
        assert done.status is JobStatus.CANCELLED
    finally:
        await engine.stop(grace=0)
        if other is not None:
            other.stop()
        state.close()


def test_a_killed_worker_restarted_under_its_name_ends_its_old_job_at_once(tmp_path, pg_url, pg_database):
    """systemd restarts a SIGKILLed `kbc-tui worker --name alpha` within seconds: the new process takes the name
    (the old pid is gone on this host) and ends the job the old one left, without waiting out the timeout."""
    [root] = servers(tmp_path, pg_database, pg_url, 1, timeout=30)
    state = state_of(pg_database)
    old = Worker(root, "alpha")
    new = None
    try:
        job_id = queue(state, root, "slow")
        assert wait_for(lambda: any(t.status.value == "processing" for t in state.job(job_id).tasks)), old.text()
        old.proc.send_signal(signal.SIGKILL)
        old.proc.wait(10)
        restarted = time.monotonic()
        new = Worker(root, "alpha")
        ended = wait_for(lambda: (j := state.job(job_id, with_tasks=False)).status.finished and j, 20)
        assert ended and ended.status is JobStatus.TERMINATED, new.text()
        assert time.monotonic() - restarted < 15  # not the 30 s heartbeat timeout
        assert ended.message == "terminated: worker alpha stopped while it ran the job (it was started again)"
        [w] = state.workers()
        assert (w.name, w.pid) == ("alpha", new.proc.pid)
    finally:
        old.stop()
        if new is not None:
            new.stop()
        state.close()


async def test_a_scheduler_fires_schedules_while_a_worker_holds_its_checkout(tmp_path, pg_url, pg_database):
    """One server, one checkout, two units: `kbc-tui worker` holds the checkout's runner lock (it guards the
    checkout's own storage file), and `kbc-tui scheduler` beside it still fires the schedules."""
    from kbc_tui.engine import Engine
    from kbc_tui.engine.clock import FakeClock

    [root] = servers(tmp_path, pg_database, pg_url, 1)
    orchestration(root, "minutely", [["quick"]], schedule={"cron": "* * * * *"})
    t0 = datetime(2026, 6, 1, 10, 0, 30, tzinfo=timezone.utc)
    clock = FakeClock(t0)
    worker = Engine(root, poll_seconds=0.1, worker_name="w")
    scheduler = Engine(root, clock=clock, poll_seconds=0.1, worker_name="s", scheduler_say=lambda _: None)
    try:
        await worker.start(scheduler=False)
        await scheduler.start()
        assert worker.is_runner and not scheduler.is_runner and scheduler.scheduler is not None
        clock.set(t0.replace(minute=1, second=0))
        for _ in range(100):
            jobs = [j for j in worker.list_jobs("minutely") if j.trigger is Trigger.SCHEDULE]
            if jobs and jobs[0].status.finished:
                break
            await asyncio.sleep(0.1)
        [job] = jobs
        assert (job.status, job.worker) == (JobStatus.SUCCESS, "w")
    finally:
        await scheduler.stop(grace=0)
        await worker.stop(grace=0)


async def test_a_shared_scheduler_stopped_by_a_lost_connection_starts_again_and_fires(tmp_path, pg_url,
                                                                                     pg_database):
    """The scheduler beside a worker loses its connection at a fire time: it says so, starts again a few seconds
    later, and the fire time it could not record runs once then."""
    from kbc_tui.engine import Engine
    from kbc_tui.engine.clock import FakeClock
    from kbc_tui.errors import StateError

    [root] = servers(tmp_path, pg_database, pg_url, 1)
    orchestration(root, "minutely", [["quick"]], schedule={"cron": "* * * * *"})
    t0 = datetime(2026, 6, 1, 10, 0, 30, tzinfo=timezone.utc)
    clock = FakeClock(t0)
    worker = Engine(root, poll_seconds=0.1, worker_name="w")
    said: list[str] = []
    scheduler = Engine(root, clock=clock, poll_seconds=0.1, worker_name="s", scheduler_say=said.append)
    problems: list = []
    scheduler.events.subscribe(lambda e: problems.append(getattr(e, "message", None)))
    state = state_of(pg_database)
    try:
        await worker.start(scheduler=False)
        await scheduler.start()
        await asyncio.sleep(0.5)  # caught up
        record_fire, calls = scheduler.history.record_fire, []

        def lost(*args, **kwargs):
            calls.append(args)
            if len(calls) == 1:
                raise StateError("lost the connection to the job state (test)", "lost")
            return record_fire(*args, **kwargs)

        scheduler.history.record_fire = lost
        clock.set(t0.replace(minute=1, second=0))
        jobs: list = []
        for _ in range(300):
            jobs = [j for j in state.list_jobs("minutely") if j.trigger is Trigger.SCHEDULE]
            if jobs and jobs[0].status.finished:
                break
            await asyncio.sleep(0.1)
        assert len(calls) == 2 and any(p and "lost the connection" in p for p in problems), (calls, problems)
        assert len(jobs) == 1 and jobs[0].status is JobStatus.SUCCESS, said
        assert [(f[0].minute, f[1]) for f in state.fires("minutely")] == [(1, "enqueued")]
        assert scheduler.problem is None and scheduler.scheduler.running
    finally:
        await scheduler.stop(grace=0)
        await worker.stop(grace=0)
        state.close()


async def test_an_e_mail_a_stopped_worker_left_unsent_goes_when_that_worker_runs_again_and_not_from_another(
        tmp_path, pg_url, pg_database, monkeypatch):
    """Worker alpha stops while its job's e-mail waits for a retry (the SMTP server is down): worker beta, on
    another server, does not send alpha's e-mail (each worker sends what it queued: never one e-mail twice);
    alpha started again under its name sends it, once. Before, no later worker ever sent it."""
    from kbc_tui.engine import Engine
    from kbc_tui.engine.notifier import Notifier
    from tests.servers.smtp import free_port

    monkeypatch.setattr(Notifier, "retry_delays", (1.0, 1.0))
    monkeypatch.setattr(Notifier, "stop_grace", 0.5)
    port = free_port()
    roots = servers(tmp_path, pg_database, pg_url, 2, smtp_port=port)
    for root in roots:
        orchestration(root, "told", [["quick"]], notifications={"success": ["boss@example.com"]})

    async def worker(root: Path, name: str) -> Engine:
        engine = Engine(root, poll_seconds=0.1, worker_name=name)
        await engine.start(scheduler=False)
        return engine

    alpha = await worker(roots[0], "alpha")
    job = await alpha.enqueue("told", trigger=Trigger.SCHEDULE)
    await asyncio.wait_for(alpha.wait(job.id), 60)
    for _ in range(200):
        if "attempt 1 of 3 failed" in "\n".join(line.text for line in alpha.job_log(job.id)):
            break
        await asyncio.sleep(0.05)
    await alpha.stop(grace=0)
    with SmtpServer(port=port) as smtp:
        beta = await worker(roots[1], "beta")
        try:
            await asyncio.sleep(2.5)  # alpha's retry is due meanwhile
            assert smtp.messages == [], "another worker sent the e-mail alpha queued"
        finally:
            await beta.stop(grace=0)
        again = await worker(roots[0], "alpha")
        try:
            [mail] = await asyncio.to_thread(smtp.wait_for, 1, 15)
            await asyncio.sleep(0.5)
            assert len(smtp.messages) == 1
        finally:
            await again.stop(grace=0)
    assert mail.recipients == ["boss@example.com"] and f"job {job.id}" in mail.subject
    state = state_of(pg_database)
    try:
        said = [line.text for line in state.log(job.id) if "not sent yet" in line.text]
        [note] = state.notifications(job_id=job.id)
    finally:
        state.close()
    assert (note.status, note.attempts) == ("sent", 2)
    assert said and "it is sent when kbc-tui next runs jobs as worker alpha" in said[0], said
