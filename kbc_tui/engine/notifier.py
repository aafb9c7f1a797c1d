"""E-mail notifications (filled in by the notifications work). The engine creates one per process.

Contract used by the engine: ``Notifier(engine)``, ``start()`` before the engine recovers
crashed jobs (so a job found ``terminated`` still alerts), ``await stop()``.
"""

from __future__ import annotations


class Notifier:
    def __init__(self, engine) -> None:
        self.engine = engine

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
