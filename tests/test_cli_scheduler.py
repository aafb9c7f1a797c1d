"""`kbc-tui scheduler` as a real daemon process: runs queued jobs, fires schedules, stops cleanly on SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.projects import ENDLESS, orchestration, project, sql_config

KBC = [sys.executable, "-m", "kbc_tui"]


def kbc(*args, root):
    return subprocess.run([*KBC, *args, "--project", str(root)], capture_output=True, text=True, timeout=60)


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
