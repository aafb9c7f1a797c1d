"""Waiting for an event with a timeout, without losing a cancel.

Python 3.11's ``asyncio.wait_for`` returns normally when a cancel arrives in the same loop turn as the event it
waits for: the cancel is swallowed, the loop around it goes on, and whoever awaits that task after cancelling it
(``Engine.stop()``) waits forever. ``asyncio.timeout`` (used by ``wait_for`` itself from Python 3.12) tells its
own timeout from a cancel and re-raises the cancel. Every engine wait goes through here.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass: True if it was set. A cancel always propagates."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
