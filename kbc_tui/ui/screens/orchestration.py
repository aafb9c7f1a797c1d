"""One orchestration: its phases and tasks, schedule, notifications and latest jobs."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from kbc_tui.engine.events import JobChanged
from kbc_tui.errors import KbcError
from kbc_tui.model.text import check_no_control, one_line
from kbc_tui.ui.format import duration, plain, plain_lines, schedule_summary, status_text, when
from kbc_tui.ui.messages import EngineEvent, ProjectReloaded
from kbc_tui.ui.widgets.fit_table import Col, FitTable
from kbc_tui.ui.widgets.footer import KbcFooter

RECENT_JOBS = 8
# the task tables (here and in the task editor): every column on screen at 80 columns
TASK_COLUMNS = [Col("Phase", "phase", 10, 12), Col("Type", "type", 9, 14),
                Col("Configuration", "config", 16, grow=3), Col("Active", "active", 6, 6),
                Col("On failure", "failure", 10, 24), Col("Problem", "problem", 8, grow=1)]
JOB_COLUMNS = [Col("Job", "job", 4, 7), Col("Status", "status", 10, 12), Col("Trigger", "trigger", 8, 8),
               Col("By", "by", 8, grow=1), Col("Started", "started", 14, 16), Col("Took", "took", 6, 11)]
#: a shared job state (``[state] url``): which worker ran each job
JOB_WORKER = Col("Worker", "worker", 8, grow=1)


def kind_label(component: str) -> str:
    from kbc_tui.model.component import COMPONENT_TYPES

    ctype = COMPONENT_TYPES.get(component)
    return ctype.kind.value if ctype else "unknown"


class OrchestrationScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "run", "Run"),
        Binding("t", "tasks", "Edit tasks"),
        Binding("s", "schedule", "Schedule"),
        Binding("m", "notifications", "Notifications"),
        Binding("j", "jobs", "Jobs"),
        Binding("R", "rename", "Rename"),
    ]

    def __init__(self, orchestration_id: str) -> None:
        super().__init__()
        self.orch_id = orchestration_id
        self.problems: list = []  # per task row: its problem in full, shown under the table

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="orchestration"):
            yield Static("", id="title", classes="title")
            yield FitTable(TASK_COLUMNS, id="tasks", cursor_type="row", zebra_stripes=True)
            yield Static("", id="task-problem", classes="error hidden")
            with Horizontal(classes="summaries"):
                yield Static("", id="schedule", classes="summary")
                yield Static("", id="notifications", classes="summary")
            yield Static("Latest jobs  (j: all of them · enter: open)", classes="section")
            yield FitTable(JOB_COLUMNS + [JOB_WORKER] if self.app.engine.shared else JOB_COLUMNS, id="jobs",
                           cursor_type="row")
        yield KbcFooter()

    def on_mount(self) -> None:
        self.refresh_all()
        self.query_one("#tasks", DataTable).focus()  # up / down go through the tasks (and show their problems)

    @property
    def orch(self):
        return self.app.project.orchestrations.get(self.orch_id)

    def refresh_all(self) -> None:
        orch = self.orch
        if orch is None:
            self.query_one("#title", Static).update(plain(f"Orchestration {self.orch_id!r} no longer exists",
                                                          style="bold red"))
            return
        project = self.app.project
        title = plain(orch.name, style="bold")
        title.append(f"   orchestrations/{one_line(orch.id)}.toml", style="dim")
        if orch.description:
            title.append("\n").append_text(plain_lines(orch.description))
        self.query_one("#title", Static).update(title)
        tasks = self.query_one("#tasks", DataTable)
        tasks.clear()
        self.problems = []
        for pi, phase in enumerate(orch.phases):
            for ti, task in enumerate(phase.tasks):
                cfg = project.component(task.component, task.config)
                problem = project.task_problem(task)
                label = plain(cfg.name if cfg else task.config, style="red" if problem else "")
                label.append(f"  {one_line(task.ref)}", style="dim")
                phase_label = plain(f"{pi + 1}. {phase.name}" if phase.name else f"{pi + 1}.") if ti == 0 else ""
                tasks.add_row(phase_label, kind_label(task.component), label,
                              "yes" if task.active else Text("no", style="dim"),
                              "continue" if task.continue_on_failure else "stop",
                              plain(problem or "", style="red"))
                self.problems.append(problem and plain(f"{one_line(task.ref)}: {problem}") or "")
        self.show_task_problem()
        if not orch.tasks:
            tasks.add_row("", "", Text("No tasks yet: press t to add some", style="italic"), "", "", "")
        schedule = Text("Schedule  ", style="bold")
        schedule.append(schedule_summary(orch.schedule))
        schedule.append("\n(s: edit)", style="dim")
        self.query_one("#schedule", Static).update(schedule)
        n = orch.notifications
        notes = Text("Notifications  ", style="bold")
        parts = [f"{event}: {', '.join(getattr(n, event))}" for event in ("error", "warning", "success", "processing")
                 if getattr(n, event)]
        notes.append(one_line("; ".join(parts)) if parts else "none (set at least the error list)")
        notes.append("\n(m: edit)", style="dim")
        self.query_one("#notifications", Static).update(notes)
        self.refresh_jobs()

    def refresh_jobs(self) -> None:
        jobs = self.query_one("#jobs", DataTable)
        jobs.clear()
        for job in self.app.engine.list_jobs(self.orch_id, limit=RECENT_JOBS):
            cells = [str(job.id), status_text(job.status), job.trigger.value, plain(job.triggered_by),
                     when(job.started_at or job.created_at), duration(job.duration_s)]
            if self.app.engine.shared:
                cells.append(plain(job.worker or ""))
            jobs.add_row(*cells, key=str(job.id))

    @on(DataTable.RowHighlighted, "#tasks")
    def show_task_problem(self) -> None:
        """The highlighted task's problem in full, next to the table (its column is narrow at 80 columns)."""
        row = self.query_one("#tasks", DataTable).cursor_row
        problem = self.problems[row] if 0 <= row < len(self.problems) else ""
        shown = self.query_one("#task-problem", Static)
        shown.update(problem)
        shown.set_class(not problem, "hidden")

    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        if isinstance(message.event, JobChanged) and message.event.job.orchestration == self.orch_id:
            self.refresh_jobs()

    @on(ProjectReloaded)
    def _reloaded(self) -> None:
        self.refresh_all()

    def on_screen_resume(self) -> None:
        self.refresh_all()

    @on(DataTable.RowSelected, "#jobs")
    def _open_job(self, event: DataTable.RowSelected) -> None:
        from kbc_tui.ui.screens.job_detail import JobDetailScreen

        self.app.push_screen(JobDetailScreen(int(event.row_key.value)))

    async def action_run(self) -> None:
        job_id = await self.app.run_orchestration(self.orch_id)
        if job_id is not None:
            self.refresh_jobs()

    def action_tasks(self) -> None:
        from kbc_tui.ui.screens.task_editor import TaskEditor

        self.app.push_screen(TaskEditor(self.orch_id), lambda saved: self.refresh_all())

    def action_schedule(self) -> None:
        from kbc_tui.ui.screens.schedule_editor import ScheduleEditor

        self.app.push_screen(ScheduleEditor(self.orch_id), lambda saved: self.refresh_all())

    def action_notifications(self) -> None:
        from kbc_tui.ui.screens.notifications_editor import NotificationsEditor

        self.app.push_screen(NotificationsEditor(self.orch_id), lambda saved: self.refresh_all())

    def action_jobs(self) -> None:
        from kbc_tui.ui.screens.jobs import JobsScreen

        self.app.push_screen(JobsScreen(self.orch_id))

    def action_rename(self) -> None:
        from kbc_tui.ui.widgets.dialogs import PromptModal

        orch = self.orch
        if orch is None:
            return

        def done(name: str | None) -> None:
            if not name:
                return
            try:
                self.app.project.rename_orchestration(self.orch_id, name=name)
            except KbcError as exc:
                self.notify(str(exc), severity="error")
                return
            self.refresh_all()

        self.app.push_screen(PromptModal("New name", value=orch.name, check=check_no_control), done)
