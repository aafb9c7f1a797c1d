"""``python -m tests.helpers.flooding_app RATE [--wedge-stop] --project DIR``: the ``kbc-tui`` app (``kbc_tui.cli.main``) whose
jobs, once this app runs them, log RATE lines a second (a thread calls ``Engine.add_log``, a component's path
for ``ctx.log``): the job screen following such a job redraws all the time. For the hang-up tests; nothing in
the product changes.

``--wedge-stop``: the engine's stop blocks the UI thread for an hour (a shutdown that wedges before the runner
lock is given up): only the hang-up guard's deadline can end the process.
"""

from __future__ import annotations

import sys
import threading
import time

import kbc_tui.ui.app as app_module
from kbc_tui.cli import main

STEP = 0.05


def _flood(app, rate: int) -> None:
    from kbc_tui.engine.events import JobChanged
    from kbc_tui.model.job import JobStatus

    def write(job_id: int, stop: threading.Event) -> None:
        written, next_at = 0, time.monotonic()
        while not stop.is_set():
            for _ in range(max(1, int(rate * STEP))):
                app.engine.add_log(job_id, "info", f"line {written}: copied 5,000 rows (chunk {written % 97})",
                                   "flood")
                written += 1
            next_at += STEP
            stop.wait(max(0.0, next_at - time.monotonic()))

    flooding: dict[int, threading.Event] = {}

    def listener(event) -> None:
        if not isinstance(event, JobChanged):
            return
        job = event.job
        if job.status is JobStatus.PROCESSING and job.id not in flooding:
            flooding[job.id] = threading.Event()
            threading.Thread(target=write, args=(job.id, flooding[job.id]), daemon=True).start()
        elif job.status.finished and job.id in flooding:
            flooding[job.id].set()

    app.engine.events.subscribe(listener)


if __name__ == "__main__":
    rate, args = int(sys.argv[1]), sys.argv[2:]
    if args[:1] == ["--wedge-stop"]:
        from kbc_tui.engine import Engine

        async def wedged_stop(self, grace: float = 10.0) -> None:
            time.sleep(3600)

        Engine.stop = wedged_stop
        args = args[1:]
    original = app_module.KbcApp.on_mount

    async def on_mount(self) -> None:
        await original(self)
        _flood(self, rate)

    app_module.KbcApp.on_mount = on_mount  # Textual finds handlers in the class's __dict__
    sys.exit(main(args))
