"""Textual messages the UI uses for engine events and project reloads."""

from __future__ import annotations

from textual.message import Message

from kbc_tui.engine.events import Event


class EngineEvent(Message):
    """An engine event (JobChanged / TaskChanged) delivered to a screen (log lines come as ``JobLogGrew``)."""

    bubble = False  # the app posts it to each screen; it must not come back up to the app

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class JobLogGrew(Message):
    """A job logged more lines (a ``LogBatch``): the job screen reads what it shows from the history.

    A burst for one job merges into one message, so a job logging 10,000 lines a second costs the
    screen one read per frame it gets to draw, not one per batch."""

    bubble = False

    def __init__(self, job_id: int, mail: bool = False) -> None:
        super().__init__()
        self.job_id = job_id
        self.mail = mail  # a line about an e-mail: the screen's e-mail lines may have changed

    def can_replace(self, message: Message) -> bool:
        # Textual asks the queued message whether the next one may supersede it
        return (isinstance(message, JobLogGrew) and message.job_id == self.job_id
                and (message.mail or not self.mail))


class ProjectReloaded(Message):
    """The project was reloaded from disk (files changed); screens refresh what they show."""

    bubble = False
