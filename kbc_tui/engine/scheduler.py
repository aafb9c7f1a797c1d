"""The cron scheduler (filled in by the schedules work). Runs only in the process holding the runner lock.

Contract used by the engine: ``Scheduler(engine)``, ``await start()``, ``await stop()``,
``reload()`` (a schedule changed).
"""

from __future__ import annotations


class Scheduler:
    def __init__(self, engine) -> None:
        self.engine = engine

    async def start(self) -> None:
        pass

    def reload(self) -> None:
        pass

    async def stop(self) -> None:
        pass
