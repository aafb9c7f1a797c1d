"""`kbc-tui scheduler` as a real daemon process: runs queued jobs, fires schedules, stops cleanly on SIGTERM."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.helpers.cli import kbc, KBC
from tests.helpers.projects import ENDLESS, orchestration, project, sql_config


def wait_for(predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def jobs(root):
    return json.loads(kbc("jobs", "--json", root=root).stdout)


@pytest.mark.slow
def test_daemon_runs_queue_and_schedules_and_stops_on_sigterm(tmp_path):
    root = project(tmp_path / "p")
    sql_config(root, "quick", "create table q as select 1 as x;", ["q"])
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "minutely", [["quick"]], schedule={"cron": "* * * * *"})
    orchestration(root, "slow", [["slow"]])
    queued = int(kbc("run", "minutely", "--no-wait", root=root).stdout)
    daemon = subprocess.Popen([*KBC, "scheduler", "--project", str(root), "--grace", "1"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: any(j["id"] == queued and j["status"] == "success" for j in jobs(root)))
        slow = int(kbc("run", "slow", "--no-wait", root=root).stdout)
        assert wait_for(lambda: any(j["id"] == slow and j["status"] == "processing" for j in jobs(root)))
        # the next whole minute fires the schedule (at most ~60 s away)
        assert wait_for(lambda: any(j["trigger"] == "schedule" and j["status"] == "success" for j in jobs(root)),
                        timeout=75)
        daemon.send_signal(signal.SIGTERM)
        out, _ = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0
    assert "1 enabled schedule(s): minutely" in out
    assert "scheduled run at" in out and "stopping: no new jobs; 1 running job(s) get 1 s to finish" in out
    assert next(j for j in jobs(root) if j["id"] == slow)["status"] == "cancelled"


def test_second_daemon_waits_for_the_lock(tmp_path):
    root = project(tmp_path / "p")
    first = subprocess.Popen([*KBC, "scheduler", "--project", str(root)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        assert first.stdout.readline()  # started
        second = subprocess.Popen([*KBC, "scheduler", "--project", str(root)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            lines = [second.stdout.readline(), second.stdout.readline()]
            assert "waiting to take over" in lines[1]
            os.kill(first.pid, signal.SIGTERM)
            first.wait(timeout=20)
            assert wait_for(lambda: "took over the runner lock" in second.stdout.readline(), timeout=20)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
    finally:
        if first.poll() is None:
            first.kill()


@pytest.mark.slow
def test_killing_the_daemon_just_before_a_fire_loses_no_run(tmp_path):
    """SIGKILL the daemon holding the lock at hh:mm:59.7; the hh:mm+1 fire runs exactly once, run by a daemon
    that was waiting for the lock ("waiting") or one systemd restarts at hh:mm+1:01.5 ("restarted")."""
    import sqlite3

    roots = {}
    for name in ("waiting", "restarted"):
        roots[name] = root = project(tmp_path / name)
        sql_config(root, "quick", "create table q as select 1 as x;", ["q"])
        orchestration(root, "minutely", [["quick"]], schedule={"cron": "* * * * *"})

    def daemon(root):
        return subprocess.Popen([*KBC, "scheduler", "--project", str(root)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    procs = {name: [daemon(root)] for name, root in roots.items()}
    try:
        for name in roots:
            assert "enabled schedule" in procs[name][0].stdout.readline()
        now = time.time()
        boundary = (int(now) // 60 + 1) * 60
        if boundary - now < 5:  # too close to set up: take the next minute
            boundary += 60
        standby = daemon(roots["waiting"])
        procs["waiting"].append(standby)
        assert standby.stdout.readline() and "waiting to take over" in standby.stdout.readline()
        time.sleep(boundary - 0.3 - time.time())
        for name in roots:
            procs[name][0].kill()
            procs[name][0].wait()
        time.sleep(boundary + 1.5 - time.time())
        procs["restarted"].append(daemon(roots["restarted"]))
        for name, root in roots.items():
            assert wait_for(lambda: any(j["trigger"] == "schedule" and j["created_at"] >= _iso(boundary)
                                        for j in jobs(root)), timeout=20), name
        time.sleep(2)
        for name, root in roots.items():
            with sqlite3.connect(root / ".kbc" / "jobs.sqlite") as db:
                recorded = db.execute("SELECT outcome FROM schedule_fires WHERE orchestration = 'minutely' AND "
                                      "fire_at = ?", (float(boundary),)).fetchall()
            assert (name, recorded) == (name, [("enqueued",)])
            after = [j for j in jobs(root) if j["trigger"] == "schedule" and _iso(boundary) <= j["created_at"]
                     < _iso(boundary + 55)]
            assert (name, len(after)) == (name, 1)
    finally:
        for proc in (p for group in procs.values() for p in group):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _iso(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def test_the_daemon_says_each_job_status_once():
    """The same status announced again (a waiting job seen again by the queue) printed "job N: waiting" again."""
    from datetime import datetime, timezone

    from kbc_tui.commands.scheduler import Reporter
    from kbc_tui.engine.events import JobChanged
    from kbc_tui.model.job import Job, JobStatus, Trigger

    lines: list[str] = []
    report = Reporter(lines.append)
    job = Job(id=7, orchestration="nightly", trigger=Trigger.SCHEDULE, triggered_by="scheduler",
              status=JobStatus.WAITING, created_at=datetime.now(timezone.utc))
    for status in (JobStatus.WAITING, JobStatus.WAITING, JobStatus.PROCESSING, JobStatus.PROCESSING,
                   JobStatus.SUCCESS, JobStatus.SUCCESS):
        job.status = status
        if status.finished:
            job.finished_at = job.started_at = job.created_at
        report(JobChanged(job))
    assert lines[:2] == ["job 7 (nightly, schedule): waiting", "job 7 (nightly, schedule): processing"]
    assert len(lines) == 3 and lines[2].startswith("job 7 (nightly): success")


def test_worker_without_a_shared_state_runs_the_queue_and_no_schedules(tmp_path):
    """`kbc-tui worker` on an embedded project: one more process competing for the runner lock; it runs queued
    jobs, never fires a schedule, and stops cleanly on SIGTERM."""
    root = project(tmp_path / "p")
    sql_config(root, "quick", "create table q as select 1 as x;", ["q"])
    orchestration(root, "minutely", [["quick"]], schedule={"cron": "* * * * *"})
    queued = int(kbc("run", "minutely", "--no-wait", root=root).stdout)
    worker = subprocess.Popen([*KBC, "worker", "--project", str(root)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: any(j["id"] == queued and j["status"] == "success" for j in jobs(root)))
        assert next(j for j in jobs(root) if j["id"] == queued)["worker"] is None  # no shared state: no name
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0 and "runs up to 4 job(s) at once" in out and "stopped" in out, out
    assert "schedule" not in out
    assert [j["trigger"] for j in jobs(root)] == ["manual"]
    bad = kbc("worker", "--max-jobs", "0", root=root)
    assert bad.returncode == 1 and "--max-jobs must be 1 or more" in bad.stderr
