"""``kbc-tui worker``: run queued jobs and nothing else (no schedules), in the foreground, logging to stdout.

With ``[state] url`` (a PostgreSQL job state shared by several servers) any number of workers run the one queue,
each from its own checkout of the project: each registers under ``--name`` (default ``host:pid``), beats its
heart, runs up to ``--max-jobs`` jobs at once and ends the jobs of workers that stopped answering. Without it, a
worker is one more process competing for this project's runner lock, as the scheduler daemon does.
SIGTERM / SIGINT: stop taking jobs, give running ones ``--grace`` seconds, then cancel them.
"""

from __future__ import annotations

from kbc_tui.commands._loop import run_until_done
from kbc_tui.commands.scheduler import Reporter, say, serve
from kbc_tui.engine import Engine
from kbc_tui.errors import KbcError
from kbc_tui.store import Project, resolve_project_dir


async def _main(args) -> int:
    root = resolve_project_dir(args.project)
    if args.max_jobs < 1:
        raise KbcError("--max-jobs must be 1 or more")
    if args.name is not None and (not args.name.strip() or len(args.name) > 200):
        raise KbcError("--name must be a non-empty name of at most 200 characters")
    engine = Engine(Project.load(root), scheduler_say=say, worker_name=args.name, max_jobs=args.max_jobs)
    engine.events.subscribe(Reporter(say))
    try:
        await engine.start(run_jobs=True, scheduler=False)
    except KbcError:
        await engine.stop(grace=0)
        raise
    if engine.shared:
        timeout = engine.project.settings.state.heartbeat_timeout
        say(f"kbc-tui worker {engine.worker_name} on {root}: runs up to {engine.max_jobs} job(s) at once from "
            f"the shared job state {engine.history.path} (heartbeat timeout {timeout:g} s)")
    else:
        say(f"kbc-tui worker on {root}: runs up to {engine.max_jobs} job(s) at once from {engine.history.path}")
    if not engine.is_runner:
        say(f"another kbc-tui process (pid {engine.lock.holder_pid()}) runs jobs from this folder; waiting to "
            "take over when it stops")
    return await serve(engine, args.grace, "took over: running queued jobs")


def run(args) -> int:
    return run_until_done(_main(args))
