"""Clocks for the scheduler: the real one, and a controllable one for tests (no real sleeping)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from kbc_tui.engine.waiting import wait_event


class RealClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep_until(self, deadline: datetime, wake: asyncio.Event) -> None:
        """Sleep until ``deadline`` or until ``wake`` is set, whichever comes first."""
        seconds = (deadline - self.now()).total_seconds()
        if seconds <= 0:
            return
        await wait_event(wake, seconds)


class FakeClock:
    """Time moves only when a test calls ``advance`` / ``set``; sleepers wake when their deadline passes."""

    def __init__(self, start: datetime):
        self._now = start
        self._changed = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment
        self._changed.set()

    def advance(self, **delta: float) -> None:
        self.set(self._now + timedelta(**delta))

    async def sleep_until(self, deadline: datetime, wake: asyncio.Event) -> None:
        while self._now < deadline and not wake.is_set():
            self._changed.clear()
            waiter = asyncio.ensure_future(self._changed.wait())
            woken = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({waiter, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                woken.cancel()
