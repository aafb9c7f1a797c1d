"""The real app with a lateness probe on its event loop (for the ui_stall benchmarks).

``python benchmarks/_probed_app.py SAMPLES_FILE [--flood RATE] --project DIR`` runs
``kbc_tui.cli.main(["--project", DIR])``, the entry point of the ``kbc-tui`` command, after wrapping
``KbcApp.on_mount`` so that, once the app is up, a callback re-schedules itself every 5 ms on the app's
asyncio loop and records how late it ran. When the app exits, the samples go to SAMPLES_FILE as lines
``<loop time> <lateness in s>`` (the loop's clock is ``time.monotonic()``, which the benchmark shares).

``--flood RATE``: when a job of this app starts (the app is its runner), a thread logs RATE lines a second
into it, a tenth every 100 ms, with ``Engine.add_log`` until the job ends: the path of a component's
``ctx.log`` from its worker thread (the engine's buffer and its flush to the history on the loop, the event
bus's hand-over to the loop, ``JobLogGrew`` to the screens). No product component logs that fast.

Nothing in the product changes: the probe and the flood are this file's, and only the benchmarks start them.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import kbc_tui.ui.app as app_module  # noqa: E402
from kbc_tui.cli import main  # noqa: E402

TICK = 0.005
STEP = 0.1
times = array("d")
lateness = array("d")


def after_mount(hook) -> None:
    """Run ``hook(app)`` at the end of ``KbcApp.on_mount`` (Textual finds handlers in the class's __dict__)."""
    original = app_module.KbcApp.on_mount

    async def on_mount(self) -> None:
        await original(self)
        hook(self)

    app_module.KbcApp.on_mount = on_mount


def probe(app) -> None:
    loop = asyncio.get_running_loop()
    expected = loop.time() + TICK

    def tick() -> None:
        nonlocal expected
        now = loop.time()
        times.append(now)
        lateness.append(max(0.0, now - expected))
        expected = now + TICK
        loop.call_later(TICK, tick)

    loop.call_later(TICK, tick)


def flood(rate: int):
    from _log_writer import LEVELS, TASK, text

    from kbc_tui.engine.events import JobChanged
    from kbc_tui.model.job import JobStatus

    def write(engine, job_id: int, stop: threading.Event) -> None:
        written, next_at = 0, time.monotonic()
        while not stop.is_set():
            for _ in range(rate // 10):
                engine.add_log(job_id, LEVELS[written % 10], text(written), TASK)
                written += 1
            next_at += STEP
            stop.wait(max(0.0, next_at - time.monotonic()))

    def hook(app) -> None:
        flooding: dict[int, threading.Event] = {}

        def listener(event) -> None:
            if not isinstance(event, JobChanged):
                return
            job = event.job
            if job.status is JobStatus.PROCESSING and job.id not in flooding:
                flooding[job.id] = threading.Event()
                threading.Thread(target=write, args=(app.engine, job.id, flooding[job.id]), daemon=True).start()
            elif job.status.finished and job.id in flooding:
                flooding[job.id].set()

        app.engine.events.subscribe(listener)

    return hook


if __name__ == "__main__":
    out, args = Path(sys.argv[1]), sys.argv[2:]
    after_mount(probe)
    if args[:1] == ["--flood"]:
        after_mount(flood(int(args[1])))
        args = args[2:]
    try:
        code = main(args)
    finally:
        tmp = out.with_suffix(".part")
        tmp.write_text("".join(f"{t:.6f} {late:.6f}\n" for t, late in zip(times, lateness)))
        tmp.rename(out)
    raise SystemExit(code)
