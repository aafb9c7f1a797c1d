"""scheduler_idle_cpu: CPU used by an idle `kbc-tui scheduler` daemon with 1,000 schedules over 60 s, as a
percentage of one core (none of the schedules fires in that minute).

What it measures: a child process runs ``kbc-tui scheduler`` on a project of 1,000 scheduled
orchestrations, all firing hours away; after 5 s (past start-up) its user + system CPU time over the next
60 s is read with psutil and divided by the wall time.

Why no baseline: the goal is absolute, what a daemon that sits on a machine all day may cost while it
waits; the natural reference, a process asleep until the next fire time, uses 0 %, so the figure is its
own difference from it (what polling the job history and the files for changes costs).

Goal (issue 6): <= 1 %. Run: ``python benchmarks/run.py scheduler_idle_cpu [SECONDS]``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from _common import project

from kbc_tui.store.toml_io import dumps_toml  # noqa: E402


def main(argv: list[str]) -> tuple[float, str]:
    import psutil

    seconds = float(argv[0]) if argv else 60.0
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp) / "p")
        hour = (datetime.now() + timedelta(hours=3)).hour  # far from now: nothing fires during the run
        for i in range(1000):
            (root / "orchestrations" / f"o{i:04d}.toml").write_bytes(dumps_toml({
                "name": f"O {i}", "tasks": [{"component": "sql-transformation", "config": "x"}],
                "schedule": {"cron": f"{i % 60} {hour} * * *", "timezone": "Europe/Prague"}}))
        daemon = subprocess.Popen([sys.executable, "-m", "kbc_tui", "scheduler", "--project", str(root)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert "1000 enabled schedule(s)" in daemon.stdout.readline()
            process = psutil.Process(daemon.pid)
            time.sleep(5)  # past start-up
            before = sum(process.cpu_times()[:2])
            t0 = time.monotonic()
            time.sleep(seconds)
            used = sum(process.cpu_times()[:2]) - before
            wall = time.monotonic() - t0
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
    percent = used / wall * 100
    print(f"1,000 schedules, idle for {wall:.0f} s: {used:.3f} CPU seconds = {percent:.2f} % of one core")
    return round(percent, 3), "%"
