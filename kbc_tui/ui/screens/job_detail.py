"""One job: its tasks and its log, following new lines while it runs.

The log is a ``LogLines`` widget over the engine's ``job_log_view``: it reads from the history only the
lines on screen, so a million-line job opens at once, and its memory goes when the screen closes.
``f`` follow, ``w`` wrap, ``/`` search (in SQL, the whole log) with ``n`` / ``N``, ``c`` cancel,
``e`` pager (the log is streamed to a file, a batch at a time).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import tempfile
from array import array

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from kbc_tui.engine.events import JobChanged, TaskChanged
from kbc_tui.errors import KbcError
from kbc_tui.model.text import one_line
from kbc_tui.ui.format import duration, plain, plain_lines, status_text, when
from kbc_tui.ui.messages import EngineEvent, JobLogGrew
from kbc_tui.ui.widgets.fit_table import Col, FitTable
from kbc_tui.ui.widgets.log_lines import LogLines, format_line
from kbc_tui.ui.widgets.footer import KbcFooter

PAGER_NOTICE_LINES = 100_000  # from this size, say that the file for the pager is being written
TASK_COLUMNS = [Col("Phase", "phase", 5, 5), Col("Task", "task", 22, grow=2), Col("Status", "status", 10, 12),
                Col("Took", "took", 6, 11), Col("Rows", "rows", 6, 12), Col("Message", "message", 10, grow=3)]


def confirm_cancel(app, job_id: int) -> None:
    from kbc_tui.ui.widgets.dialogs import ConfirmModal

    job = app.engine.get_job(job_id)
    if job is None or job.status.finished:
        app.notify(f"Job {job_id} is not running", severity="warning")
        return

    async def done(yes: bool | None) -> None:
        if yes:
            await app.engine.cancel(job_id)
            app.notify(f"Cancelling job {job_id}…")

    app.push_screen(ConfirmModal(f"Cancel job {job_id} ({one_line(job.orchestration)})?", yes="Cancel job",
                                 no="Keep running"),
                    done)


class JobDetailScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("w", "toggle_wrap", "Wrap"),
        # priority: handled as the key arrives, so the keys typed right after it already go to the search field
        Binding("slash", "search", "Search", key_display="/", priority=True),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("e", "pager", "Open in pager"),
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id
        self.matches = array("q")  # ids of the lines found by the last search
        self.match_index = -1
        self.searching = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="job-title", classes="title")
        yield Static("", id="job-mail", classes="hint hidden")
        yield FitTable(TASK_COLUMNS, id="job-tasks", cursor_type="row")
        yield Static("", id="log-status", classes="section")
        yield Input(placeholder="search the log (enter: find, n / N: next / previous)", id="search", classes="hidden")
        yield LogLines(self.app.engine.job_log_view(self.job_id), id="log")
        yield KbcFooter()

    def on_mount(self) -> None:
        self.refresh_job()
        log = self.query_one(LogLines)
        log.reload()
        self.update_status()
        log.focus()

    # -- data ----------------------------------------------------------------------------------
    def refresh_job(self) -> None:
        job = self.app.engine.get_job(self.job_id)
        if job is None:
            self.query_one("#job-title", Static).update(f"Job {self.job_id} not found")
            return
        title = Text(f"Job {job.id}  ", style="bold")
        title.append_text(status_text(job.status))
        title.append(f"   {one_line(job.orchestration)} · {job.trigger.value} by {one_line(job.triggered_by)} · "
                     f"started {when(job.started_at)} · {duration(job.duration_s)}"
                     + (f" · on {one_line(job.worker)}" if job.worker else ""))
        if job.message:
            title.append("\n").append_text(plain_lines(job.message, "red" if job.status.value != "success" else ""))
        self.query_one("#job-title", Static).update(title)
        table = self.query_one("#job-tasks", DataTable)
        table.clear()
        for t in job.tasks:
            table.add_row(str(t.phase + 1), plain(f"{t.component}/{t.config}"), status_text(t.status),
                          duration(t.duration_s), f"{t.rows:,}" if t.rows is not None else "",
                          plain(t.message, style="red" if t.status.value == "error" else ""))
        self.update_status()
        self.refresh_mail()

    def refresh_mail(self) -> None:
        """One line per e-mail about this job: to whom, and whether it went (or why not, so far)."""
        notes = self.app.engine.notifications(self.job_id)
        widget = self.query_one("#job-mail", Static)
        widget.set_class(not notes, "hidden")
        if not notes:
            return
        text = Text()
        for note in notes:
            state = {"sent": ("sent", "green"), "failed": ("NOT sent", "bold red")}.get(
                note.status, (f"not sent yet (attempt {note.attempts} of 3 failed; trying again)" if note.attempts
                              else "sending", "yellow"))
            if text:
                text.append("\n")
            text.append(f"E-mail ({note.event}) to {one_line(', '.join(note.recipients))}: ")
            text.append(state[0], style=state[1])
            if note.status != "sent" and note.last_error:
                text.append(f" — {one_line(note.last_error)}")
        widget.update(text)

    def update_status(self) -> None:
        log = self.query_one(LogLines)
        parts = [f"Log: {log.line_count:,} lines", "following" if log.follow else "paused (f: follow)",
                 "wrap on" if log.wrap else "wrap off"]
        if self.searching:
            parts.append(f"searching for “{self.searching}”…")
        elif self.matches:
            parts.append(f"match {self.match_index + 1} of {len(self.matches):,}")
        self.query_one("#log-status", Static).update(" · ".join(parts))

    def reload_log(self) -> None:
        self.query_one(LogLines).reload()
        self.update_status()

    # -- events -----------------------------------------------------------------------------------
    @on(JobLogGrew)
    def _log_grew(self, message: JobLogGrew) -> None:
        if message.job_id == self.job_id:
            self.reload_log()
            if message.mail:
                self.refresh_mail()

    @on(LogLines.FollowChanged)
    def _follow_changed(self) -> None:
        self.update_status()

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, (JobChanged, TaskChanged)):
            job_id = event.job.id if isinstance(event, JobChanged) else event.job_id
            if job_id == self.job_id:
                self.refresh_job()
                if isinstance(event, JobChanged) and event.job.status.finished:
                    self.reload_log()

    # -- actions ------------------------------------------------------------------------------------
    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if not search.has_class("hidden"):
            search.add_class("hidden")
            search.display = False
            self.query_one(LogLines).focus()
            return
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        log = self.query_one(LogLines)
        log.set_follow(not log.follow)
        self.update_status()

    def action_toggle_wrap(self) -> None:
        log = self.query_one(LogLines)
        log.set_wrap(not log.wrap)
        self.update_status()

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        if self.focused is search:  # a "/" typed in the search itself
            search.insert_text_at_cursor("/")
            return
        search.remove_class("hidden")
        # shown and focused now, not after the keys already queued: after "/", fast typing (or tmux send-keys)
        # went to the screen's keys (w: wrap off, n: next match) instead of the field
        search.display = True
        self.set_focus(search)

    @on(Input.Submitted, "#search")
    def _find(self, event: Input.Submitted) -> None:
        log = self.query_one(LogLines)
        log.focus()
        needle = event.value.strip()
        if not needle:
            return
        log.reload()  # the engine's buffered lines go to the history first
        self.searching = needle
        self.update_status()
        self._search(log.source, needle)

    @work(exclusive=True, group="log-search")
    async def _search(self, source, needle: str) -> None:
        # one SQL scan on a connection of its own, in a thread: the UI keeps drawing. (Not a Textual thread
        # worker: those leave the worker, and with it this screen, in the pool thread's context for good.)
        try:
            ids = await asyncio.to_thread(source.search, needle)
        except KbcError as exc:
            ids = array("q")
            self.notify(str(exc), severity="error")
        self.searching = ""
        self.matches, self.match_index = ids, -1
        if not ids:
            self.notify(f"No line contains “{needle}”", severity="warning")
            self.update_status()
            return
        self.action_next_match()

    def _show_match(self) -> None:
        log = self.query_one(LogLines)
        line_id = self.matches[self.match_index]
        position = log.source.position_of(line_id)
        if position is None:  # logged after the view last counted
            log.reload()
            position = log.source.position_of(line_id) or 0
        log.show_line(position, line_id)
        self.update_status()

    def action_next_match(self) -> None:
        if self.matches:
            self.match_index = (self.match_index + 1) % len(self.matches)
            self._show_match()

    def action_previous_match(self) -> None:
        if self.matches:
            self.match_index = (self.match_index - 1) % len(self.matches)
            self._show_match()

    def action_cancel_job(self) -> None:
        confirm_cancel(self.app, self.job_id)

    def action_pager(self) -> None:
        command = os.environ.get("PAGER") or os.environ.get("EDITOR") or "less"
        log = self.query_one(LogLines)
        log.reload()
        if log.line_count >= PAGER_NOTICE_LINES:
            self.notify(f"Writing {log.line_count:,} lines for {command}…", timeout=3)
        self._write_for_pager(log.source, command)

    @work(exclusive=True, group="log-pager")
    async def _write_for_pager(self, source, command: str) -> None:
        """The whole log to a temporary file, a batch at a time in a thread (memory stays flat), then the pager."""
        fd, path = tempfile.mkstemp(suffix=f"-job-{self.job_id}.log")
        try:
            try:
                await asyncio.to_thread(_write_log, source, fd)
            except (OSError, KbcError) as exc:
                self.notify(f"Cannot write the log to {path}: {exc}" if isinstance(exc, OSError) else str(exc),
                            severity="error")
                return
            try:
                with self.app.suspend():
                    subprocess.call([*shlex.split(command), path])
            except Exception as exc:  # no terminal to hand over (tests, some SSH setups)
                self.notify(f"Cannot open {command}: {exc}", severity="error")
        finally:
            os.unlink(path)  # (a writer thread still running writes on into the unlinked file)


def _write_log(source, fd: int) -> None:
    with os.fdopen(fd, "w") as fh:
        for line in source.all_lines():
            fh.write(format_line(line) + "\n")
