"""ui_stall: the longest event-loop stall of the real app in a real terminal, on the job screen following the
log of a job that writes 10,000 lines a second. Goal (issue 5): <= 50 ms (the larger of the two cases below).

The app is ``kbc_tui.cli.main`` (what the ``kbc-tui`` command runs) in tmux at 120x40 on a copy of the demo
project. The user opens the job (home -> ``J`` -> ``enter``) and stays on its screen with follow on for
SECONDS. No product component logs 10,000 lines a second, so the lines are made by the benchmark and handed
to the engine exactly where a component's lines go; everything from there on is the product's. Two cases:

- runner: the app runs the job itself (``r`` on a db-extractor task that waits in PostgreSQL on
  ``pg_sleep``, so the job does no work of its own), and a thread in the app's process logs into it with
  ``Engine.add_log``, 1,000 lines every 100 ms (``_probed_app.py --flood``): a component's ``ctx.log`` path,
  its buffer flushed to the history on the loop and its lines handed to the loop for the screens. The job
  is then cancelled from outside (as ``kbc-tui`` in another terminal would).
- watcher: another process runs the job (``_log_writer.py``: an ``Engine`` holding the runner lock, as
  ``kbc-tui scheduler`` does, logging with ``Engine.add_log`` at the same rate), and the app follows it
  through the history, as the TUI does next to the daemon.

Measured, from inside: a 5 ms callback on the app's loop (``_probed_app.py``) records how late it runs; any
delay a key press or a frame would wait for shows there (max and p99 while following). From outside: ``w``
(wrap) sent about every 0.3 s with tmux send-keys, timed until capture-pane shows the status line's new
state: what the user sees.

Baseline: the same app on the same screen once the job has ended (nothing arriving), measured the same way
for as long. It is the fastest honest floor: it contains everything but following the flood (Textual's
frames, the terminal, the probe, the capture-pane polling, this machine under its current load).

``python benchmarks/run.py ui_stall [RATE [SECONDS]]``
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _biglog import HOME_MARKER
from _common import PG_URL, copy_demo, write_config
from _stall import HERE, ProbedTerminal, keys_summary, p99, summary, toggle_wrap, window

from kbc_tui.store.history import JobHistory  # noqa: E402

RATE = 10_000
SECONDS = 10.0
PRESSES = 10


def demo_copy(root: Path) -> Path:
    copy_demo(root)
    return root


def measure(term: ProbedTerminal, seconds: float) -> tuple[float, float, list[float]]:
    """``w`` pressed PRESSES times, then wait until ``seconds`` have passed; (start, end, key latencies)."""
    start = time.monotonic()
    keys = toggle_wrap(term, PRESSES)
    time.sleep(max(0.0, start + seconds - time.monotonic()))
    return start, time.monotonic(), keys


def open_job(term: ProbedTerminal, job_id: int) -> None:
    term.press("J")
    term.wait_for("All jobs")
    time.sleep(0.3)
    term.press("Enter")
    term.wait_for(f"Job {job_id}")
    term.wait_for("following")
    time.sleep(1.0)  # the screen's first reads are opening it, not following


def runner_case(tmp: Path, rate: int, seconds: float) -> tuple[list, tuple, tuple, str]:
    root = demo_copy(tmp / "runner")
    write_config(root, "db-extractor", "wait", {"url": PG_URL, "tables": [
        {"name": "wait", "query": "select pg_sleep(600) as slept", "output": "in.c-bench.wait"}]})
    (root / "orchestrations" / "flood.toml").write_text(
        'name = "Flood"\n[[tasks]]\ncomponent = "db-extractor"\nconfig = "wait"\n')
    with ProbedTerminal(root, tmp / "runner.txt", flood=rate) as term:
        term.wait_for("Flood")  # the first row: the cursor is on it
        time.sleep(1.5)  # past the app's after-first-frame work (validation, scheduler start)
        term.press("r")
        history = JobHistory(root / ".kbc" / "jobs.sqlite")
        while not (jobs := history.list_jobs("flood", limit=1)):
            time.sleep(0.05)
        open_job(term, jobs[0].id)
        following = measure(term, seconds)
        lines = term.screen().split("Log: ", 1)[1].split(" lines", 1)[0]
        history.request_cancel(jobs[0].id)
        history.close()
        term.wait_for("cancelled")
        time.sleep(1.0)
        idle = measure(term, seconds)
        samples = term.quit()
    return samples, following, idle, f"{lines} lines on screen after {seconds:.0f} s"


def watcher_case(tmp: Path, rate: int, seconds: float) -> tuple[list, tuple, tuple, str]:
    root = demo_copy(tmp / "watcher")
    writer = subprocess.Popen([sys.executable, str(HERE / "_log_writer.py"), str(root), str(rate)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        job_id = int(writer.stdout.readline().split()[1])
        with ProbedTerminal(root, tmp / "watcher.txt") as term:
            term.wait_for(HOME_MARKER)
            time.sleep(1.5)  # past the app's after-first-frame work (validation)
            open_job(term, job_id)
            following = measure(term, seconds)
            writer.stdin.close()
            lines, took = writer.stdout.readline().split()[1:]
            writer.wait(30)
            term.wait_for("success")
            time.sleep(1.0)
            idle = measure(term, seconds)
            samples = term.quit()
    finally:
        if writer.poll() is None:
            writer.kill()
    return samples, following, idle, f"writer: {int(lines):,} lines in {float(took):.1f} s"


def main(argv: list[str]) -> tuple[float, str]:
    rate = int(argv[0]) if argv else RATE
    seconds = float(argv[1]) if len(argv) > 1 else SECONDS
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in (("runner", runner_case), ("watcher", watcher_case)):
            samples, (start, end, keys), (idle_start, idle_end, idle_keys), note = case(Path(tmp), rate, seconds)
            following, idle = window(samples, start, end), window(samples, idle_start, idle_end)
            print(f"{name}: {rate:,} lines/s; {note}")
            print(f"  following: stall {summary(following)}; key w: {keys_summary(keys)}")
            print(f"  job ended: stall {summary(idle)}; key w: {keys_summary(idle_keys)}")
            print(f"  p99 stall following {p99(following):.1f} ms (job ended {p99(idle):.1f} ms)")
            worst = max(worst, max(following))
    return round(worst, 1), "ms"
