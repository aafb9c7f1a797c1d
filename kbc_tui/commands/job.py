"""``kbc-tui job ID``: a job's tasks and log (``--follow`` until it ends, ``--json``)."""

from __future__ import annotations

import asyncio
import json
import sys

from kbc_tui.commands.jobs import iso, job_json, open_history
from kbc_tui.commands.run import exit_code, follow, summarize
from kbc_tui.errors import KbcError


LOG_BATCH = 5_000  # log lines read at a time: a million-line log prints with flat memory


def run(args) -> int:
    history = open_history(args.project)
    try:
        job = history.job(args.job_id)
        if job is None:
            raise KbcError(f"no job {args.job_id}")
        if args.follow and not job.status.finished:
            history.close()
            return asyncio.run(_follow(args))
        notes = history.notifications(job_id=job.id)
        if args.json:
            _print_json(job, _log(history, job.id), notes)
            return 0
        for ln in _log(history, job.id):
            print(f"{ln.time.astimezone().strftime('%H:%M:%S')} {ln.level.upper():7} {ln.text}")
    finally:
        history.close()
    summarize(job)
    for n in notes:
        print(f"E-mail ({n.event}) to {', '.join(n.recipients)}: {n.status}"
              + (f" after {n.attempts} attempt(s): {n.last_error}" if n.status != "sent" and n.last_error else ""))
    return exit_code(job.status)


def _log(history, job_id: int):
    after = 0
    while True:
        batch = history.log(job_id, after, LOG_BATCH)
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def _print_json(job, lines, notes, out=sys.stdout) -> None:
    """The job as one JSON object; its log is written line by line, never held whole in memory."""
    data = job_json(job)
    data["tasks"] = [{"phase": t.phase, "index": t.index, "component": t.component, "config": t.config,
                      "status": t.status.value, "started_at": iso(t.started_at), "finished_at": iso(t.finished_at),
                      "duration_s": t.duration_s, "rows": t.rows, "message": t.message, "attempt": t.attempt}
                     for t in job.tasks]
    data["notifications"] = [{"event": n.event, "recipients": n.recipients, "status": n.status,
                              "attempts": n.attempts, "last_error": n.last_error} for n in notes]
    head = json.dumps(data, indent=2)
    out.write(head[:-2] + ',\n  "log": [')
    for n, ln in enumerate(lines):
        out.write(("," if n else "") + "\n    " + json.dumps({"time": iso(ln.time), "level": ln.level,
                                                              "task": ln.task, "text": ln.text}))
    out.write("\n  ]\n}\n")


async def _follow(args) -> int:
    from kbc_tui.engine import Engine
    from kbc_tui.store import Project, resolve_project_dir

    engine = Engine(Project.load(resolve_project_dir(args.project)))
    await engine.start(run_jobs=False, scheduler=False)
    try:
        return await follow(engine, args.job_id)
    finally:
        await engine.stop(grace=0)
