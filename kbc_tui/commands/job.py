"""``kbc-tui job ID``: a job's tasks and log (``--follow`` until it ends, ``--json``)."""

from __future__ import annotations

import asyncio
import json
import sys

from kbc_tui.commands.jobs import iso, job_json, open_history
from kbc_tui.commands.run import exit_code, follow, summarize
from kbc_tui.errors import KbcError


def run(args) -> int:
    history = open_history(args.project)
    try:
        job = history.job(args.job_id)
        if job is None:
            raise KbcError(f"no job {args.job_id}")
        if args.follow and not job.status.finished:
            history.close()
            return asyncio.run(_follow(args))
        lines = history.log(job.id)
        notes = history.notifications(job_id=job.id)
    finally:
        history.close()
    if args.json:
        data = job_json(job)
        data["tasks"] = [{"phase": t.phase, "index": t.index, "component": t.component, "config": t.config,
                          "status": t.status.value, "started_at": iso(t.started_at), "finished_at": iso(t.finished_at),
                          "duration_s": t.duration_s, "rows": t.rows, "message": t.message, "attempt": t.attempt}
                         for t in job.tasks]
        data["log"] = [{"time": iso(ln.time), "level": ln.level, "task": ln.task, "text": ln.text} for ln in lines]
        data["notifications"] = [{"event": n.event, "recipients": n.recipients, "status": n.status,
                                  "attempts": n.attempts, "last_error": n.last_error} for n in notes]
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for ln in lines:
        print(f"{ln.time.astimezone().strftime('%H:%M:%S')} {ln.level.upper():7} {ln.text}")
    summarize(job)
    for n in notes:
        print(f"E-mail ({n.event}) to {', '.join(n.recipients)}: {n.status}"
              + (f" after {n.attempts} attempt(s): {n.last_error}" if n.status != "sent" and n.last_error else ""))
    return exit_code(job.status)


async def _follow(args) -> int:
    from kbc_tui.engine import Engine
    from kbc_tui.store import Project, resolve_project_dir

    engine = Engine(Project.load(resolve_project_dir(args.project)))
    await engine.start(run_jobs=False, scheduler=False)
    try:
        return await follow(engine, args.job_id)
    finally:
        await engine.stop(grace=0)
