"""All jobs, or one orchestration's: a live list; enter opens a job, c cancels it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from kbc_tui.engine.events import JobChanged
from kbc_tui.ui.format import duration, plain, status_text, when
from kbc_tui.ui.messages import EngineEvent
from kbc_tui.ui.widgets.fit_table import Col, FitTable
from kbc_tui.ui.widgets.footer import KbcFooter

LIMIT = 500
COLUMNS = [Col("Job", "job", 4, 7), Col("Orchestration", "orchestration", 13, grow=2), Col("Status", "status", 10, 12),
           Col("Trigger", "trigger", 8, 8), Col("By", "by", 6, grow=1), Col("Started", "started", 16, 16),
           Col("Took", "took", 6, 11)]
#: a shared job state (``[state] url``): which worker ran each job, in the place of Trigger and By (80 columns hold
#: no more; the job screen says both)
SHARED_COLUMNS = [c for c in COLUMNS if c.key not in ("trigger", "by")] + [Col("Worker", "worker", 8, grow=1)]


class JobsScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "open", "Open"),
        Binding("c", "cancel_job", "Cancel job"),
    ]

    def __init__(self, orchestration: str | None = None) -> None:
        super().__init__()
        self.orchestration = orchestration
        self._pending = False

    def compose(self) -> ComposeResult:
        yield Header()
        title = f"Jobs of {self.orchestration}" if self.orchestration else "All jobs"
        yield Static(plain(title + "  (latest first, live)"), classes="title")
        self._show_worker = self.app.engine.shared
        yield FitTable(SHARED_COLUMNS if self._show_worker else COLUMNS, id="job-list", cursor_type="row",
                       zebra_stripes=True)
        yield KbcFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self.refresh_jobs()
        table.focus()

    def refresh_jobs(self) -> None:
        self._pending = False
        table = self.query_one(DataTable)
        selected = self.selected_job()
        table.clear()
        for job in self.app.engine.list_jobs(self.orchestration, limit=LIMIT):
            cells = [str(job.id), plain(job.orchestration), status_text(job.status), job.trigger.value,
                     plain(job.triggered_by), when(job.started_at or job.created_at), duration(job.duration_s)]
            if self._show_worker:
                del cells[3:5]
                cells.append(plain(job.worker or ""))
            table.add_row(*cells, key=str(job.id))
        if selected is not None and str(selected) in table.rows:
            table.move_cursor(row=table.get_row_index(str(selected)))

    def selected_job(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, JobChanged) and not self._pending and (
                self.orchestration is None or event.job.orchestration == self.orchestration):
            self._pending = True
            self.set_timer(0.2, self.refresh_jobs)

    def on_screen_resume(self) -> None:
        self.refresh_jobs()

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        job_id = self.selected_job()
        if job_id is not None:
            from kbc_tui.ui.screens.job_detail import JobDetailScreen

            self.app.push_screen(JobDetailScreen(job_id))

    def action_cancel_job(self) -> None:
        job_id = self.selected_job()
        if job_id is not None:
            from kbc_tui.ui.screens.job_detail import confirm_cancel

            confirm_cancel(self.app, job_id)
