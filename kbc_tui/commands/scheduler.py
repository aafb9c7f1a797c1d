"""``kbc-tui scheduler``: the daemon. Runs schedules and queued jobs in the foreground, logging to stdout.

If another kbc-tui process holds the project's runner lock (the app), it waits and takes over when that
process quits. SIGTERM / SIGINT: stop taking jobs, give running ones ``--grace`` seconds, then cancel them
(their state is recorded as ``cancelled``).
"""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime

from kbc_tui.commands._loop import run_until_done
from kbc_tui.engine import Engine
from kbc_tui.engine.events import EngineProblem, JobChanged, MailWaiting
from kbc_tui.engine.waiting import wait_event
from kbc_tui.errors import KbcError
from kbc_tui.store import Project, resolve_project_dir


def say(text: str) -> None:
    print(f"{datetime.now().astimezone().strftime('%Y-%m-%d %H:%M:%S%z')} {text}", flush=True)


class Reporter:
    """The daemon's lines about jobs: one per job and status (the same status announced again, e.g. a waiting
    job seen again by the queue, is not a new line: "job N: waiting" was printed over and over)."""

    def __init__(self, say=say) -> None:
        self.say = say
        self._said: dict[int, str] = {}

    def __call__(self, event) -> None:
        if isinstance(event, EngineProblem):
            self.say(f"PROBLEM: {event.message}" if event.message else "problem solved: running jobs again")
        elif isinstance(event, MailWaiting):
            self.say(event.text)
        elif isinstance(event, JobChanged):
            job = event.job
            status = job.status.value
            if self._said.get(job.id) == status:
                return
            self._said[job.id] = status
            if status in ("processing", "waiting") and job.finished_at is None:
                self.say(f"job {job.id} ({job.orchestration}, {job.trigger.value}): {status}")
            elif job.status.finished:
                took = f" in {job.duration_s:.1f} s" if job.duration_s is not None else ""
                self.say(f"job {job.id} ({job.orchestration}): {status}{took}"
                         + (f": {job.message}" if job.message and status != "success" else ""))


async def _main(args) -> int:
    root = resolve_project_dir(args.project)
    if args.max_jobs < 1:
        raise KbcError("--max-jobs must be 1 or more")
    engine = Engine(Project.load(root), scheduler_say=say, worker_name=args.name, max_jobs=args.max_jobs)

    engine.events.subscribe(Reporter(say))
    try:
        await engine.start()
    except KbcError:  # with [state] url: a live worker elsewhere has this --name
        await engine.stop(grace=0)
        raise
    scheduled = sorted(o.id for o in engine.project.orchestrations.values() if o.schedule and o.schedule.enabled)
    say(f"kbc-tui scheduler on {root}: {len(scheduled)} enabled schedule(s)"
        + (f": {', '.join(scheduled[:10])}" + ("…" if len(scheduled) > 10 else "") if scheduled else ""))
    if engine.shared:
        say(f"shared job state {engine.history.path}: this scheduler is worker {engine.worker_name} and runs up "
            f"to {engine.max_jobs} job(s) at once; every scheduler fires each schedule time once between them")
    if not engine.is_runner and engine.shared:
        say(f"another kbc-tui process (pid {engine.lock.holder_pid()}) runs jobs from this folder: this scheduler "
            "fires schedules, and runs jobs once that process stops")
    elif not engine.is_runner:
        say(f"another kbc-tui process (pid {engine.lock.holder_pid()}) runs this project's jobs and schedules; "
            "waiting to take over when it stops")
    return await serve(engine, args.grace, "took over the runner lock: running schedules and queued jobs")


async def serve(engine, grace: float, took_over: str) -> int:
    """Run until SIGTERM / SIGINT, saying ``took_over`` when this process takes the runner lock over; then stop
    taking jobs and give running ones ``grace`` seconds (the daemon's and the worker's foreground loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    was_runner = engine.is_runner
    while not stop.is_set():
        await wait_event(stop, 1.0)
        if engine.is_runner and not was_runner:
            say(took_over)
            was_runner = True
    running = engine.running_jobs()
    say(f"stopping: no new jobs; {len(running)} running job(s) get {grace:g} s to finish")
    await engine.stop(grace=grace)
    say("stopped")
    return 0


def run(args) -> int:
    return run_until_done(_main(args))
