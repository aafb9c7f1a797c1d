"""Pilot fixtures: the real app on a private copy of the demo project, cursor blink off."""

from __future__ import annotations

import asyncio
import time

import pytest

from kbc_tui.ui.app import KbcApp

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _no_blink(monkeypatch):
    from textual.widgets import Input

    monkeypatch.setattr(Input, "cursor_blink", False, raising=False)


@pytest.fixture
def make_app(demo_project):
    def make(root=None, **kwargs) -> KbcApp:
        return KbcApp(root or demo_project, **kwargs)

    return make


async def wait_until(pilot, predicate, timeout: float = 20.0, message: str = "condition") -> None:
    """Let the app run until ``predicate()`` holds (jobs run in the app's own loop)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await pilot.pause(0.05)
        await asyncio.sleep(0.02)
