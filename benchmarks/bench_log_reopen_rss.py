"""log_reopen_rss: growth of the app's RSS (MB) after opening and closing the screen of a 1,000,000-line job
5 times.

What it measures: the real app runs in a tmux terminal (120x40): from the jobs list, `enter` opens the job
(waiting until its last line is drawn), `escape` closes it (waiting until the list is back, then 1 s).
RSS is read with psutil before the first open and after the fifth close; the garbage collector is left to
run as it does for a user (no forced collection).

Why no baseline: the quantity is already a difference, the app against itself before the first open,
which is the natural baseline (the same process, the same screens, the log never opened); the goal says
how much memory a closed log screen may keep, a leak check, not a comparison with another program.

Goal (issue 11): <= 50 MB. Run: ``python benchmarks/run.py log_reopen_rss [LINES [TIMES]]``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _biglog import JOBS_MARKER, LINES, Terminal, make_project, to_jobs_list

TIMES = 5


def main(argv: list[str]) -> tuple[float, str]:
    lines = int(argv[0]) if argv else LINES
    times = int(argv[1]) if len(argv) > 1 else TIMES
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "biglog"
        make_project(root, lines)
        with Terminal(root) as term:
            to_jobs_list(term)
            time.sleep(1.0)
            before = term.rss_mb()
            readings = []
            for _ in range(times):
                term.open_job()
                time.sleep(0.3)
                opened = term.rss_mb()
                term.press("Escape")
                term.wait_for(JOBS_MARKER)
                time.sleep(1.0)
                readings.append((opened, term.rss_mb()))
            after = readings[-1][1]
    print(f"RSS before the first open: {before:.0f} MB")
    for i, (opened, closed) in enumerate(readings, 1):
        print(f"  open {i}: {opened:.0f} MB while open, {closed:.0f} MB after closing")
    print(f"growth after {times} opens and closes: {after - before:.0f} MB")
    return round(after - before, 1), "MB"
