"""The app in a real terminal that goes away (SSH dropped, tmux killed: SIGHUP) or is told to stop (SIGTERM):
it quits as `q` would — its running job ends `cancelled`, and the runner lock says it stopped cleanly."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

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


# -- the terminal goes away while the app draws a job that logs fast (issue 11) ---------------------------------
FLOOD_APP = [sys.executable, "-m", "tests.helpers.flooding_app", "2000"]
REPO = Path(__file__).resolve().parent.parent
ENDS_WITHIN = 10.0  # seconds: the guard's deadline (8 s) plus room for a loaded machine


def _running_job_project(root: Path) -> Path:
    root = project(root)
    sql_config(root, "slow", ENDLESS, ["t"])
    orchestration(root, "slow", [["slow"]])
    return root


def _app_pid(root: Path, deadline: float) -> int:
    lock = root / ".kbc" / "runner.lock"
    while not (lock.exists() and lock.read_text().strip()):
        assert time.time() < deadline, "the app never took the runner lock"
        time.sleep(0.1)
    return int(lock.read_text().split()[0])


def _start_job(root: Path, deadline: float) -> int:
    queued = subprocess.run([*KBC, "run", "slow", "--no-wait", "--project", str(root)], capture_output=True,
                            text=True, timeout=60)
    job_id = int(queued.stdout)
    while _job(root, job_id)["status"] != "processing":
        assert time.time() < deadline, "the app never started the job"
        time.sleep(0.2)
    return job_id


def _job(root: Path, job_id: int) -> dict:
    return json.loads(subprocess.run([*KBC, "job", str(job_id), "--json", "--project", str(root)],
                                     capture_output=True, text=True).stdout)


def _ended_within(pid: int, seconds: float) -> float | None:
    t0 = time.time()
    while time.time() - t0 < seconds:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return time.time() - t0
        time.sleep(0.05)
    return None


def _lock_is_free(root: Path) -> bool:
    fd = os.open(root / ".kbc" / "runner.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _reap(pid: int) -> None:
    """A test never leaves an app behind (they ignored SIGTERM before the fix)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_the_app_ends_and_frees_the_runner_lock_when_tmux_kills_its_terminal(tmp_path):
    """tmux kill-session while the app follows a job that logs fast: the kernel sends SIGHUP and SIGCONT; before
    the fix Textual's SIGCONT handler restarted a writer thread on the dead terminal, which died, and the UI
    thread blocked for ever in Queue.put with the runner lock held (2 runs in 3 on this machine)."""
    keeper = f"kbctest-keeper-{uuid.uuid4().hex[:8]}"  # the tmux server outlives each session
    subprocess.run(["tmux", "new-session", "-d", "-s", keeper, "sleep 300"], check=True)
    try:
        for attempt in range(3):
            root = _running_job_project(tmp_path / f"p{attempt}")
            session = f"kbctest-{uuid.uuid4().hex[:8]}"
            subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", str(REPO),
                            shlex.join([*FLOOD_APP, "--project", str(root)])], check=True)
            deadline = time.time() + 60
            pid = _app_pid(root, deadline)
            try:
                job_id = _start_job(root, deadline)
                subprocess.run(["tmux", "send-keys", "-t", session, "J"], check=True)
                time.sleep(1.0)
                subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)  # the job, logging
                time.sleep(1.5)
                subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
                took = _ended_within(pid, ENDS_WITHIN)
                assert took is not None, f"attempt {attempt}: the app outlived its terminal by {ENDS_WITHIN} s"
                assert _lock_is_free(root), f"attempt {attempt}: the runner lock is still held"
                assert _job(root, job_id)["status"] in ("cancelled", "processing")  # processing: the next runner
            finally:
                _reap(pid)
                subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", keeper], capture_output=True)


def _app_on_pty(root: Path, extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, int]:
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    app = subprocess.Popen([*FLOOD_APP, *extra, "--project", str(root)], stdin=follower, stdout=follower,
                           stderr=follower, env=env, start_new_session=True, cwd=REPO)
    os.close(follower)
    return app, leader


def _read_for(leader: int, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        try:
            if not os.read(leader, 65536):
                return
        except OSError:
            return


def test_the_app_ends_when_its_pty_closes_while_it_draws(tmp_path):
    """The terminal (a pty whose other end closes; no SIGHUP: it is not the controlling terminal) goes away while
    the app follows a job that logs fast: writes fail with EIO, the writer thread dies; the app must notice it,
    stop its engine (the job ends cancelled, the lock says stopped) and end."""
    root = _running_job_project(tmp_path / "p")
    app, leader = _app_on_pty(root)
    try:
        deadline = time.time() + 60
        _app_pid(root, deadline)
        reader = threading.Thread(target=_read_for, args=(leader, 10_000), daemon=True)
        reader.start()
        job_id = _start_job(root, deadline)
        os.write(leader, b"J")
        time.sleep(1.0)
        os.write(leader, b"\r")
        time.sleep(1.5)
        os.close(leader)
        leader = None
        try:
            code = app.wait(timeout=ENDS_WITHIN)
        except subprocess.TimeoutExpired:
            code = None
        assert code is not None, "the app outlived its terminal"
        assert _lock_is_free(root)
        assert (root / ".kbc" / "runner.lock").read_text().split()[1:] == ["stopped"]
        assert _job(root, job_id)["status"] == "cancelled"
    finally:
        _reap(app.pid)
        if leader is not None:
            os.close(leader)


def test_sigterm_ends_an_app_whose_shutdown_wedges_and_frees_the_lock(tmp_path):
    """The engine's stop never returns (``--wedge-stop``: the UI thread sleeps): SIGTERM still ends the process
    within the guard's deadline, with status 128 + SIGTERM, the runner lock given up (not marked stopped), and
    the next runner marks the job terminated."""
    root = _running_job_project(tmp_path / "p")
    app, leader = _app_on_pty(root, ("--wedge-stop",))
    threading.Thread(target=_read_for, args=(leader, 10_000), daemon=True).start()
    try:
        deadline = time.time() + 60
        _app_pid(root, deadline)
        job_id = _start_job(root, deadline)
        time.sleep(1.0)
        app.send_signal(signal.SIGTERM)
        try:
            code = app.wait(timeout=ENDS_WITHIN + 5)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 128 + signal.SIGTERM
        assert _lock_is_free(root)
        assert (root / ".kbc" / "runner.lock").read_text().split()[1:] == []  # it did not stop cleanly
        daemon = subprocess.Popen([*KBC, "scheduler", "--project", str(root)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            while _job(root, job_id)["status"] != "terminated":
                assert time.time() < deadline + 30, "the next runner did not mark the job terminated"
                time.sleep(0.2)
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    finally:
        _reap(app.pid)
        os.close(leader)
