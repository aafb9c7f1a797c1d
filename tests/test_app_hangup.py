"""The app in a real terminal that goes away (SSH dropped, tmux killed: SIGHUP) or is told to stop (SIGTERM):
it quits as `q` would — its running job ends `cancelled`, and the runner lock says it stopped cleanly."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.projects import ENDLESS, orchestration, project, sql_config

KBC = [sys.executable, "-m", "kbc_tui"]


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_the_app_stops_cleanly_when_its_terminal_goes_away(tmp_path, sig):
    root = project(tmp_path / "p")
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "slow", [["slow"]])
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    app = subprocess.Popen([*KBC, "--project", str(root)], stdin=follower, stdout=follower, stderr=follower,
                           env=env, start_new_session=True)
    os.close(follower)
    screen = bytearray()

    def drain() -> None:  # a terminal reads what the app draws (else the app blocks writing)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.extend(chunk)

    import threading

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.time() + 30
        while not (root / ".kbc" / "runner.lock").exists() or not (root / ".kbc" / "runner.lock").read_text():
            assert time.time() < deadline, "the app never took the runner lock"
            time.sleep(0.1)
        queued = subprocess.run([*KBC, "run", "slow", "--no-wait", "--project", str(root)], capture_output=True,
                                text=True, timeout=60)
        job_id = int(queued.stdout)
        while json.loads(subprocess.run([*KBC, "job", str(job_id), "--json", "--project", str(root)],
                                        capture_output=True, text=True).stdout)["status"] != "processing":
            assert time.time() < deadline, "the app never started the job"
            time.sleep(0.2)
        os.kill(app.pid, sig)
        assert app.wait(timeout=20) is not None
    finally:
        if app.poll() is None:
            app.kill()
        os.close(leader)
    assert (root / ".kbc" / "runner.lock").read_text().split()[1:] == ["stopped"]
    job = json.loads(subprocess.run([*KBC, "job", str(job_id), "--json", "--project", str(root)],
                                    capture_output=True, text=True).stdout)
    assert job["status"] == "cancelled", job["status"]
