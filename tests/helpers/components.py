"""Run one component configuration through the real engine (a one-task orchestration) and return the job."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kbc_tui.engine import Engine
from kbc_tui.store.toml_io import dumps_toml


def write_config(root: Path, component: str, config: str, parameters: dict[str, Any]) -> None:
    path = root / "components" / component / f"{config}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps_toml({"name": config, "parameters": parameters}))
    orch = root / "orchestrations" / f"run-{component}-{config}.toml"
    orch.parent.mkdir(parents=True, exist_ok=True)
    orch.write_bytes(dumps_toml({"name": f"run {config}", "tasks": [{"component": component, "config": config}]}))


def run_config(root: Path, component: str, config: str, parameters: dict[str, Any] | None = None):
    """(job, engine storage, log texts). Writes the config first when ``parameters`` is given."""
    if parameters is not None:
        write_config(root, component, config, parameters)

    async def go():
        engine = Engine(root)
        await engine.start(scheduler=False)
        try:
            job = await engine.enqueue(f"run-{component}-{config}")
            done = await asyncio.wait_for(engine.wait(job.id), 300)
            return done, engine.storage, [ln.text for ln in engine.job_log(job.id)]
        finally:
            await engine.stop(grace=0)

    return asyncio.run(go())


async def cancel_mid_task(root: Path, orchestration: str, after: float):
    """Run ``orchestration`` on a real engine and cancel it ``after`` seconds into its first task.
    Returns (the finished job, seconds from the cancel to the job's end, the engine's storage)."""
    import time

    from kbc_tui.model.job import TaskStatus

    engine = Engine(root, poll_seconds=0.1)
    await engine.start(scheduler=False)
    try:
        job = await engine.enqueue(orchestration)
        for _ in range(500):
            current = engine.get_job(job.id)
            if current.tasks and current.tasks[0].status is TaskStatus.PROCESSING:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(after)
        asked = time.monotonic()
        await engine.cancel(job.id)
        done = await asyncio.wait_for(engine.wait(job.id), 10)
        return done, time.monotonic() - asked, engine.storage
    finally:
        await engine.stop(grace=0)
