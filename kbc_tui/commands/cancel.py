"""``kbc-tui cancel ID``: cancel a waiting job now, or ask the runner to stop a running one (within 2 s)."""

from __future__ import annotations

import asyncio

from kbc_tui.errors import KbcError


async def _main(args) -> int:
    from kbc_tui.engine import Engine
    from kbc_tui.store import Project, resolve_project_dir

    engine = Engine(Project.load(resolve_project_dir(args.project)))
    await engine.start(run_jobs=False, scheduler=False)
    try:
        job = await engine.cancel(args.job_id)
        if job.status.finished and job.status.value != "cancelled":
            raise KbcError(f"job {job.id} already finished: {job.status.value}")
        if job.status.value == "processing":
            print(f"Job {job.id}: cancel requested; waiting for it to stop...", flush=True)
            job = await asyncio.wait_for(engine.wait(job.id), 30)
        print(f"Job {job.id}: {job.status.value}")
        return 0
    finally:
        await engine.stop(grace=0)


def run(args) -> int:
    return asyncio.run(_main(args))
