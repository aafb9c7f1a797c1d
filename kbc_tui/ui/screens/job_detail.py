"""One job: its tasks and its log, following new lines while it runs.

The log is a Textual ``Log`` (a line-API widget: it draws only what is visible, so 100,000 lines
stay smooth). ``f`` follow, ``w`` wrap, ``/`` search with ``n`` / ``N``, ``c`` cancel, ``e`` pager.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import textwrap

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Log, Static

from kbc_tui.engine.events import JobChanged, LogBatch, TaskChanged
from kbc_tui.model.job import LogLine
from kbc_tui.model.text import one_line, printable
from kbc_tui.ui.format import duration, plain, plain_lines, status_text, when
from kbc_tui.ui.messages import EngineEvent


def format_line(line: LogLine) -> str:
    stamp = line.time.astimezone().strftime("%H:%M:%S")
    return f"{stamp} {line.level.upper():7} {printable(line.text)}"  # a line break stays one


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
        Binding("slash", "search", "Search", key_display="/"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("c", "cancel_job", "Cancel job"),
        Binding("e", "pager", "Open in pager"),
    ]

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id
        self.lines: list[str] = []
        self.last_log_id = 0
        self.follow = True
        self.wrap = False
        self.matches: list[int] = []
        self.match_index = -1

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="job-title", classes="title")
        yield Static("", id="job-mail", classes="hint hidden")
        yield DataTable(id="job-tasks", cursor_type="row")
        yield Static("", id="log-status", classes="section")
        yield Input(placeholder="search the log (enter: find, n / N: next / previous)", id="search", classes="hidden")
        yield Log(id="log", highlight=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#job-tasks", DataTable)
        for label in ("Phase", "Task", "Status", "Took", "Rows", "Message"):
            table.add_column(label)
        self.refresh_job()
        self.append_lines(self.app.engine.job_log(self.job_id))
        self.query_one(Log).focus()

    # -- data ----------------------------------------------------------------------------------
    def refresh_job(self) -> None:
        job = self.app.engine.get_job(self.job_id)
        if job is None:
            self.query_one("#job-title", Static).update(f"Job {self.job_id} not found")
            return
        title = Text(f"Job {job.id}  ", style="bold")
        title.append_text(status_text(job.status))
        title.append(f"   {one_line(job.orchestration)} · {job.trigger.value} by {one_line(job.triggered_by)} · "
                     f"started {when(job.started_at)} · {duration(job.duration_s)}")
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
        parts = [f"Log: {len(self.lines):,} lines", "following" if self.follow else "paused (f: follow)",
                 "wrap on" if self.wrap else "wrap off"]
        if self.matches:
            parts.append(f"match {self.match_index + 1} of {len(self.matches)}")
        self.query_one("#log-status", Static).update(" · ".join(parts))

    def append_lines(self, lines) -> None:
        fresh = [ln for ln in lines if ln.id is None or ln.id > self.last_log_id]
        if not fresh:
            return
        self.last_log_id = max([self.last_log_id] + [ln.id for ln in fresh if ln.id is not None])
        text = [format_line(ln) for ln in fresh]
        self.lines.extend(text)
        log = self.query_one(Log)
        log.write_lines(self._wrapped(text) if self.wrap else text, scroll_end=self.follow)
        self.update_status()

    def _wrapped(self, lines: list[str]) -> list[str]:
        width = max(20, self.query_one(Log).size.width - 2)
        out: list[str] = []
        for line in lines:
            out.extend(textwrap.wrap(line, width, subsequent_indent="    ") or [""])
        return out

    def rewrite(self) -> None:
        log = self.query_one(Log)
        log.clear()
        log.write_lines(self._wrapped(self.lines) if self.wrap else self.lines, scroll_end=self.follow)

    # -- events -----------------------------------------------------------------------------------
    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, LogBatch) and event.job_id == self.job_id:
            self.append_lines(event.lines)
            if any("e-mail" in line.text for line in event.lines):
                self.refresh_mail()
        elif isinstance(event, (JobChanged, TaskChanged)):
            job_id = event.job.id if isinstance(event, JobChanged) else event.job_id
            if job_id == self.job_id:
                self.refresh_job()
                if isinstance(event, JobChanged) and event.job.status.finished:
                    self.append_lines(self.app.engine.job_log(self.job_id, self.last_log_id))

    # -- actions ------------------------------------------------------------------------------------
    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if not search.has_class("hidden"):
            search.add_class("hidden")
            self.query_one(Log).focus()
            return
        self.app.pop_screen()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        log = self.query_one(Log)
        log.auto_scroll = self.follow
        if self.follow:
            log.scroll_end(animate=False)
        self.update_status()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.rewrite()
        self.update_status()

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.remove_class("hidden")
        search.focus()

    @on(Input.Submitted, "#search")
    def _find(self, event: Input.Submitted) -> None:
        needle = event.value.strip().lower()
        self.matches = [i for i, line in enumerate(self.lines) if needle and needle in line.lower()]
        self.match_index = -1
        self.query_one(Log).focus()
        if not self.matches:
            self.notify(f"No line contains “{event.value}”", severity="warning")
            self.update_status()
            return
        self.action_next_match()

    def _show_match(self) -> None:
        if self.wrap:  # wrapped lines shift positions: search in the unwrapped view
            self.wrap = False
            self.rewrite()
        self.follow = False
        log = self.query_one(Log)
        log.auto_scroll = False
        log.scroll_to(y=max(0, self.matches[self.match_index] - 2), animate=False)
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
        with tempfile.NamedTemporaryFile("w", suffix=f"-job-{self.job_id}.log", delete=False) as fh:
            fh.write("\n".join(self.lines) + "\n")
            path = fh.name
        try:
            with self.app.suspend():
                subprocess.call([*shlex.split(command), path])
        except Exception as exc:  # no terminal to hand over (tests, some SSH setups)
            self.notify(f"Cannot open {command}: {exc}", severity="error")
        finally:
            os.unlink(path)
