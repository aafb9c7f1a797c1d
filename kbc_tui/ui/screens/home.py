"""Home: every orchestration with its tasks, schedule and last job; filter, create, open, run, delete."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from kbc_tui.engine.events import EngineProblem, JobChanged
from kbc_tui.errors import KbcError
from kbc_tui.model.component import check_id
from kbc_tui.model.ids import slug, unique_id
from kbc_tui.model.text import one_line
from kbc_tui.ui.format import duration, plain, plain_lines, schedule_summary, status_text, when
from kbc_tui.ui.messages import EngineEvent, ProjectReloaded
from kbc_tui.ui.widgets.fit_table import Col, FitTable
from kbc_tui.ui.widgets.footer import KbcFooter


CHUNK_ROWS = 250
# the narrowest widths fit 80 columns with room for a name of 24 characters ("Sales to GoodData (copy)") and its "…";
# short columns are as wide as their values, name and schedule share the rest
COLUMNS = [Col("Orchestration", "name", 25, grow=2), Col("Tasks", "tasks", 5, 5), Col("Schedule", "schedule", 10),
           Col("Last job", "last", 9, 12), Col("When", "when", 12, 16), Col("Took", "took", 6, 11)]
SAVE_CACHE_SECONDS = 1.0


class HomeScreen(Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", show=True),
        Binding("n", "new", "New"),
        Binding("r", "run", "Run"),
        Binding("d", "delete", "Delete"),
        Binding("D", "duplicate", "Duplicate", show=False),  # in ? help and README; the footer is full at 80 columns
        Binding("J", "jobs", "All jobs"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("S", "smtp", "SMTP settings", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._refresh_pending = False
        self._shown = False  # the first resume is the first show: on_mount has filled the table
        self._fill_generation = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home"):
            yield Input(placeholder="filter orchestrations (name or id)…", id="filter", classes="hidden")
            yield FitTable(COLUMNS, id="orchestrations", cursor_type="row", zebra_stripes=True)
            yield Static("", id="empty", classes="empty-state hidden")
            yield Static("", id="problems", classes="problems hidden")
        yield KbcFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self.refresh_table()
        table.focus()

    # -- data --------------------------------------------------------------------------------
    @property
    def project(self):
        return self.app.project

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        needle = self.query_one("#filter", Input).value.strip().lower()
        selected = self.selected_id()
        table.clear()
        broken = {p.path for p in self.project.problems}
        orchs = [o for o in sorted(self.project.orchestrations.values(), key=lambda o: o.name.lower())
                 if not needle or needle in o.name.lower() or needle in o.id]
        self._fill_generation += 1
        # the first screenful now (the first frame), the rest in chunks right after: a thousand rows
        # cost DataTable ~0.3 s to lay out, which must not delay what the user sees first
        first = max(20, self.app.size.height)  # a screenful
        self._add_rows(orchs[:first], broken, selected)
        if len(orchs) > first:
            self.call_after_refresh(self._add_rest, orchs[first:], broken, selected, self._fill_generation)
        self.set_timer(SAVE_CACHE_SECONDS, self.app.schedule_cache.save)
        empty = self.query_one("#empty", Static)
        if not self.project.orchestrations:
            empty.update("No orchestrations yet.\n\nPress [b]n[/b] to create your first orchestration, "
                         "then add tasks to it.")
        elif table.row_count == 0:
            empty.update(f"No orchestration matches “{needle}”. Press escape to clear the filter.")
        empty.set_class(table.row_count > 0, "hidden")
        self.refresh_problems()

    def _add_rows(self, orchs, broken, selected) -> None:
        table = self.query_one(DataTable)
        last = self.app.engine.last_jobs([o.id for o in orchs])
        for orch in orchs:
            job = last.get(orch.id)
            name = plain(orch.name, style="bold red" if orch.path in broken else "bold")
            name.append(f"  {one_line(orch.id)}", style="dim")
            table.add_row(
                name, Text(str(len(orch.tasks))), Text(schedule_summary(orch.schedule, self.app.schedule_cache)),
                status_text(job.status) if job else Text("never run", style="dim"),
                Text(when(job.started_at or job.created_at) if job else ""),
                Text(duration(job.duration_s) if job else ""), key=orch.id)
        if selected and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))

    def _add_rest(self, orchs, broken, selected, generation: int) -> None:
        if generation != self._fill_generation:
            return  # a newer refresh (a filter keystroke) replaced this one
        self._add_rows(orchs[:CHUNK_ROWS], broken, selected)
        if len(orchs) > CHUNK_ROWS:
            self.call_after_refresh(self._add_rest, orchs[CHUNK_ROWS:], broken, selected, generation)
        else:
            self.set_timer(SAVE_CACHE_SECONDS, self.app.schedule_cache.save)

    def refresh_problems(self) -> None:
        """The engine's problem first (jobs cannot run: e.g. the job history is damaged), then the files'."""
        panel = self.query_one("#problems", Static)
        problems = self.project.problems
        engine_problem = self.app.engine.problem
        panel.set_class(not problems and not engine_problem, "hidden")
        text = Text()
        if engine_problem:
            text.append("Jobs: ", style="bold red")
            text.append_text(plain_lines(engine_problem + ("\n\n" if problems else "")))
        if problems:
            lines = [self.project.format_problem(p) for p in problems[:12]]
            more = f"\n… and {len(problems) - 12} more (kbc-tui validate lists them all)" if len(problems) > 12 else ""
            text.append(f"{len(problems)} problem(s) in the project files:\n", style="bold red")
            text.append_text(plain_lines("\n".join(lines) + more))
        panel.update(text)

    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            return None

    # -- events ----------------------------------------------------------------------------------
    @on(EngineEvent)
    def _engine_event(self, message: EngineEvent) -> None:
        if isinstance(message.event, EngineProblem):
            self.refresh_problems()
        if isinstance(message.event, JobChanged) and not self._refresh_pending:
            self._refresh_pending = True
            self.set_timer(0.3, self._deferred_refresh)

    def _deferred_refresh(self) -> None:
        self._refresh_pending = False
        self.refresh_table()

    @on(ProjectReloaded)
    def _reloaded(self) -> None:
        self.refresh_table()

    def on_screen_resume(self) -> None:
        if self._shown:
            self.refresh_table()
        self._shown = True

    @on(Input.Changed, "#filter")
    def _filter(self) -> None:
        self.refresh_table()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    # -- actions ----------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.add_class("hidden")
        self.query_one(DataTable).focus()

    def action_open(self) -> None:
        orch_id = self.selected_id()
        if orch_id:
            from kbc_tui.ui.screens.orchestration import OrchestrationScreen

            self.app.push_screen(OrchestrationScreen(orch_id))

    def _taken(self, orch_id: str) -> bool:
        return orch_id in self.project.orchestrations or self.project.orchestration_path(orch_id).exists()

    def _check_new_id(self, orch_id: str) -> str | None:
        error = check_id(orch_id, "id")
        if not error and self._taken(orch_id):
            error = f"an orchestration with id {orch_id!r} exists already"
        return error

    def _propose_id(self, name: str) -> str:
        return unique_id(slug(name), self._taken)

    def action_new(self) -> None:
        from kbc_tui.ui.widgets.dialogs import NameAndIdModal

        self.app.push_screen(NameAndIdModal("New orchestration", placeholder="e.g. Nightly sales",
                                            propose=self._propose_id, check_id=self._check_new_id), self._create)

    def _create(self, answer: tuple[str, str] | None) -> None:
        if not answer:
            return
        name, orch_id = answer
        try:
            orch = self.project.create_orchestration(orch_id, name)
        except KbcError as exc:
            self.notify(str(exc), severity="error")
            return
        self.refresh_table()
        from kbc_tui.ui.screens.orchestration import OrchestrationScreen

        self.notify(f"Created orchestrations/{orch.id}.toml — press t to add tasks")
        self.app.push_screen(OrchestrationScreen(orch.id))

    def action_duplicate(self) -> None:
        orch_id = self.selected_id()
        if not orch_id or orch_id not in self.project.orchestrations:
            return
        from kbc_tui.ui.widgets.dialogs import NameAndIdModal

        source = self.project.orchestrations[orch_id]

        def done(answer: tuple[str, str] | None) -> None:
            if not answer:
                return
            name, new_id = answer
            try:
                orch = self.project.duplicate_orchestration(orch_id, new_id, name)
            except KbcError as exc:
                self.notify(str(exc), severity="error")
                return
            self.refresh_table()
            table = self.query_one(DataTable)
            if new_id in table.rows:
                table.move_cursor(row=table.get_row_index(new_id))
            off = " (its schedule is off: turn it on with s)" if orch.schedule is not None else ""
            self.notify(f"Copied to orchestrations/{new_id}.toml{off}")

        self.app.push_screen(NameAndIdModal(f"Duplicate “{one_line(source.name)}”", name=f"{source.name} (copy)",
                                            propose=self._propose_id, check_id=self._check_new_id), done)

    async def action_run(self) -> None:
        orch_id = self.selected_id()
        if orch_id:
            await self.app.run_orchestration(orch_id)

    def action_delete(self) -> None:
        orch_id = self.selected_id()
        if not orch_id:
            return
        from kbc_tui.ui.widgets.dialogs import ConfirmModal

        orch = self.project.orchestrations[orch_id]

        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.project.delete_orchestration(orch_id)
            except KbcError as exc:
                self.notify(str(exc), severity="error")
                return
            self.notify(f"Deleted {orch.name}")
            self.refresh_table()

        self.app.push_screen(ConfirmModal(f"Delete “{orch.name}” (orchestrations/{orch_id}.toml)? "
                                          "Its job history stays.", yes="Delete", no="Keep"), done)

    def action_jobs(self) -> None:
        from kbc_tui.ui.screens.jobs import JobsScreen

        self.app.push_screen(JobsScreen())

    def action_smtp(self) -> None:
        try:
            from kbc_tui.ui.screens.smtp_settings import SmtpSettingsScreen
        except ImportError:
            self.notify("SMTP settings are not available yet", severity="warning")
            return
        self.app.push_screen(SmtpSettingsScreen())
