"""Textual messages the UI uses for engine events and project reloads."""

from __future__ import annotations

from textual.message import Message

from kbc_tui.engine.events import Event


class EngineEvent(Message):
    """An engine event (JobChanged / TaskChanged / LogBatch) delivered to a screen."""

    bubble = False  # the app posts it to each screen; it must not come back up to the app

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class ProjectReloaded(Message):
    """The project was reloaded from disk (files changed); screens refresh what they show."""

    bubble = False
