"""Time from process start to the first full frame, measured from outside in tmux (polling the screen)."""

from __future__ import annotations

import shlex
import statistics
import subprocess
import time
import uuid


def time_to_screen(command: str, marker: str, timeout: float = 60.0) -> float:
    session = f"kbcbench-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], check=True)
    try:
        while True:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
            if marker in screen:
                return time.perf_counter() - t0
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{marker!r} never appeared; screen:\n{screen}")
            time.sleep(0.005)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def compare(ours: str, ours_marker: str, reference: str, reference_marker: str, runs: int = 9) -> tuple[float, float]:
    """Median seconds of (ours, reference), alternating runs so both see the same machine."""
    mine, ref = [], []
    keeper = f"kbcbench-keeper-{uuid.uuid4().hex[:8]}"  # keeps the tmux server up between runs
    subprocess.run(["tmux", "new-session", "-d", "-s", keeper, "sleep 600"], check=True)
    try:
        time_to_screen(reference, reference_marker)  # warm the file cache once
        time_to_screen(ours, ours_marker)
        for _ in range(runs):
            ref.append(time_to_screen(reference, reference_marker))
            mine.append(time_to_screen(ours, ours_marker))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", keeper], capture_output=True)
    return statistics.median(mine), statistics.median(ref)


def quote(*parts: str) -> str:
    return " ".join(shlex.quote(p) for p in parts)
