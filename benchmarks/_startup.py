"""Time from process start to the first full frame, measured from outside in tmux (polling the screen)."""

from __future__ import annotations

import shlex
import statistics
import subprocess
import time
import uuid


def time_to_screen(command: str, marker: str, timeout: float = 60.0, linger: float = 0.0) -> float:
    session = f"kbcbench-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", command], check=True)
    try:
        while True:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
            if marker in screen:
                elapsed = time.perf_counter() - t0
                time.sleep(linger)  # (the warm-up run: a user's earlier session, which wrote its caches)
                return elapsed
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{marker!r} never appeared; screen:\n{screen}")
            time.sleep(0.005)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def compile_package() -> None:
    """Byte-compile kbc_tui first, as Python does on a user's first start. Textual and every other installed
    package arrive compiled by pip; an editable install of kbc_tui does not, and with PYTHONDONTWRITEBYTECODE
    set (as on the development machines) every start would recompile it (~20 ms), which no user sees twice."""
    import compileall
    from pathlib import Path

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "kbc_tui"), quiet=1)


def compare(ours: str, ours_marker: str, reference: str, reference_marker: str, runs: int = 9) -> tuple[float, float]:
    """Median seconds of (ours, reference), alternating runs so both see the same machine."""
    compile_package()
    mine, ref = [], []
    keeper = f"kbcbench-keeper-{uuid.uuid4().hex[:8]}"  # keeps the tmux server up between runs
    subprocess.run(["tmux", "new-session", "-d", "-s", keeper, "sleep 600"], check=True)
    try:
        time_to_screen(reference, reference_marker)  # warm the file cache once
        time_to_screen(ours, ours_marker, linger=3.0)  # and let our app write its caches, as any session does
        for _ in range(runs):
            ref.append(time_to_screen(reference, reference_marker))
            mine.append(time_to_screen(ours, ours_marker))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", keeper], capture_output=True)
    return statistics.median(mine), statistics.median(ref)


def quote(*parts: str) -> str:
    return " ".join(shlex.quote(p) for p in parts)
