"""Shared by log_open and log_reopen_rss: a copy of the demo project whose history holds one finished job with
1,000,000 log lines (every 10th line of the table belongs to another job, as when jobs run side by side), and
the real app in a tmux terminal, driven with keys and read with capture-pane.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from _common import copy_demo, kill_tmux_session

from kbc_tui.model.job import JobStatus, Trigger  # noqa: E402
from kbc_tui.store.history import JobHistory  # noqa: E402

LINES = 1_000_000
LAST_LINE = "LAST-LINE-OF-THE-BIG-JOB"
JOBS_MARKER = "All jobs"
HOME_MARKER = "Sales to Tableau"


def make_project(root: Path, lines: int = LINES) -> int:
    """The demo project plus a finished job of ``lines`` lines (its last one says LAST_LINE); returns its id."""
    copy_demo(root)
    history = JobHistory(root / ".kbc" / "jobs.sqlite")
    other = history.create_job("sales-to-gooddata", Trigger.SCHEDULE, "scheduler")
    big = history.create_job("sales-to-tableau", Trigger.SCHEDULE, "scheduler")
    t0 = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)
    levels = ["info"] * 7 + ["debug", "warning", "error"]

    def rows():
        for i in range(lines + lines // 9):
            job = other.id if i % 10 == 9 else big.id
            text = f"row batch {i}: copied 5,000 rows from shop.orders into in.c-shop.orders (chunk {i % 97})"
            yield job, (t0 + timedelta(milliseconds=i)).timestamp(), levels[i % 10], "db-extractor/shop", text

    with history.transaction() as db:
        db.executemany("INSERT INTO log_lines (job_id, time, level, task, text) VALUES (?, ?, ?, ?, ?)", rows())
        db.execute("INSERT INTO log_lines (job_id, time, level, task, text) VALUES (?, ?, 'info', NULL, ?)",
                   (big.id, (t0 + timedelta(hours=1)).timestamp(), LAST_LINE))
    for job in (other, big):
        history.update_job(job.id, status=JobStatus.SUCCESS, started_at=t0, finished_at=t0 + timedelta(hours=1))
    count = history.execute("SELECT count(*) FROM log_lines WHERE job_id = ?", (big.id,))[0][0]
    history.close()
    print(f"history: job {big.id} has {count:,} log lines (job {other.id}'s lines interleave)")
    return big.id


class Terminal:
    """The app in a tmux session of 120x40: keys in, screen text out."""

    def __init__(self, project: Path, command: list[str] | None = None) -> None:
        """``command``: what runs in the terminal (default ``python -m kbc_tui --project PROJECT``)."""
        self.session = f"kbcbench-{uuid.uuid4().hex[:8]}"
        self.keeper = f"kbcbench-keeper-{uuid.uuid4().hex[:8]}"  # keeps the tmux server up between sessions
        subprocess.run(["tmux", "new-session", "-d", "-s", self.keeper, "sleep 600"], check=True)
        command = shlex.join(command or [sys.executable, "-m", "kbc_tui", "--project", str(project)])
        subprocess.run(["tmux", "new-session", "-d", "-s", self.session, "-x", "120", "-y", "40", command],
                       check=True)
        self.pid = int(subprocess.run(["tmux", "display", "-p", "-t", self.session, "#{pane_pid}"],
                                      capture_output=True, text=True, check=True).stdout)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.session], capture_output=True,
                              text=True).stdout

    def wait_for(self, marker: str, timeout: float = 120.0) -> float:
        """Seconds until ``marker`` is on the screen (polled every 5 ms)."""
        t0 = time.perf_counter()
        while True:
            screen = self.screen()
            if marker in screen:
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{marker!r} never appeared; screen:\n{screen}")
            time.sleep(0.005)

    def press(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, *keys], check=True)

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.pid).memory_info().rss / 2**20

    def open_job(self) -> float:
        """From the jobs list: enter on the big job; seconds until its last log line is drawn."""
        self.press("Enter")
        return self.wait_for(LAST_LINE)

    def close(self) -> None:
        """Kill the session and reap the app it ran (SIGKILL if it outlives its terminal by 10 s)."""
        kill_tmux_session(self.session)
        kill_tmux_session(self.keeper)

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def to_jobs_list(term: Terminal) -> None:
    term.wait_for(HOME_MARKER)
    time.sleep(1.5)  # past the app's after-first-frame work (validation, scheduler start)
    term.press("J")
    term.wait_for(JOBS_MARKER)
    time.sleep(0.3)
