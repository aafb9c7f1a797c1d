"""Edit an orchestration's tasks: add, remove, toggle, and reorder them with the keyboard.

Works on a copy of the phases; ``ctrl+s`` saves through the project (refused, with the reason,
if the file changed on disk meanwhile). Moving a task past the top or bottom of its phase moves
it into the neighbouring phase; an emptied phase stays visible while editing and disappears on save.
Added tasks go into their stage's phase (Extract, Transform, Load: ``place_task``). Phases are named /
renamed (``r``) and deleted (``x``, asking when it holds tasks); ``e`` edits a task's run limits.
"""

from __future__ import annotations

import copy

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Header, Input, Label, Static

from kbc_tui.model.orchestration import LIMIT_FIELDS, Phase, Task, parse_limits, place_task
from kbc_tui.model.text import check_no_control, one_line
from kbc_tui.ui.format import plain
from kbc_tui.ui.screens._editor import EditorScreen
from kbc_tui.ui.screens.orchestration import TASK_COLUMNS, kind_label
from kbc_tui.ui.widgets.dialogs import ConfirmModal, PromptModal
from kbc_tui.ui.widgets.fit_table import FitTable
from kbc_tui.ui.widgets.footer import KbcFooter

EMPTY_PHASE = "(empty: move a task here; dropped on save)"
LIMIT_LABELS = {"timeout_minutes": "Timeout (min)", "retries": "Retries", "retry_delay_seconds": "Retry delay (s)"}


def limits_text(task: Task) -> str:
    """A task's run limits in a few words ("" for the defaults)."""
    parts = []
    if task.retries:
        parts.append(f"retry {task.retries}×/{task.retry_delay_seconds:g}s")
    if task.timeout_minutes:
        parts.append(f"timeout {task.timeout_minutes:g}m")
    return ", ".join(parts)


class TaskLimitsModal(ModalScreen[dict | None]):
    """A task's timeout, retries and retry delay; each field says next to it why it is not valid.
    enter: OK (when all are valid) · escape: cancel."""

    DEFAULT_CSS = """
    TaskLimitsModal .limit-row { height: auto; }
    TaskLimitsModal .limit-label { width: 17; padding-top: 1; }
    TaskLimitsModal Input { width: 14; }
    TaskLimitsModal .limit-problem { padding-left: 17; }
    """
    HELP_NAME = "Task run limits"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, task: Task, title: str) -> None:
        super().__init__()
        self.edited, self.title_text = task, title

    def compose(self) -> ComposeResult:
        task = self.edited
        shown = {"timeout_minutes": f"{task.timeout_minutes:g}" if task.timeout_minutes else "",
                 "retries": str(task.retries), "retry_delay_seconds": f"{task.retry_delay_seconds:g}"}
        hints = {"timeout_minutes": "none", "retries": "0-100", "retry_delay_seconds": "seconds"}
        with Vertical(classes="dialog"):
            yield Label(plain(self.title_text), classes="question")
            for name in LIMIT_FIELDS:
                with Horizontal(classes="limit-row"):
                    yield Label(LIMIT_LABELS[name], classes="limit-label")
                    yield Input(shown[name], id=name, placeholder=hints[name])
                yield Static("", id=f"{name}-problem", classes="error limit-problem", markup=False)
            yield Label("tab: next field · enter: OK · escape: cancel", classes="hint")

    def on_mount(self) -> None:
        self.show_problems({})

    def check(self) -> tuple[dict, dict[str, str]]:
        return parse_limits(*(self.query_one(f"#{name}", Input).value for name in LIMIT_FIELDS))

    def show_problems(self, problems: dict[str, str]) -> None:
        for name in LIMIT_FIELDS:
            shown = self.query_one(f"#{name}-problem", Static)
            shown.update(problems.get(name, ""))
            shown.display = name in problems

    @on(Input.Changed)
    def _changed(self) -> None:
        self.show_problems(self.check()[1])

    @on(Input.Submitted)
    def _submitted(self) -> None:
        values, problems = self.check()
        self.show_problems(problems)
        if problems:
            self.query_one(f"#{next(iter(problems))}", Input).focus()
            return
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TaskEditor(EditorScreen):
    BINDINGS = [
        Binding("a", "add", "Add tasks"),
        Binding("ctrl+up,shift+up", "move(-1)", "Move up"),
        Binding("ctrl+down,shift+down", "move(1)", "Move down"),
        Binding("p", "add_phase", "New phase"),
        Binding("r", "rename_phase", "Name phase"),
        Binding("x", "delete_phase", "Delete phase"),
        Binding("e", "limits", "Limits"),
        Binding("space", "toggle_active", "Active on/off"),
        Binding("c", "toggle_continue", "Continue on failure"),
        Binding("delete,backspace", "remove", "Remove"),
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "leave", "Back"),
    ]

    leave_after_save = False  # ctrl+s saves and stays; the screen's result says whether anything was saved

    def __init__(self, orchestration_id: str) -> None:
        super().__init__()
        self.orch_id = orchestration_id
        orch = self.app.project.orchestrations.get(orchestration_id)  # the app is active while screens are made
        self.phases: list[Phase] = copy.deepcopy(orch.phases) if orch else []
        self.saved = self._snapshot()
        self.rows: list[tuple[int, int | None]] = []  # table row -> (phase, task or None for an empty phase)

    def _snapshot(self) -> list:
        return [(p.name, [t.to_toml() for t in p.tasks]) for p in self.phases if p.tasks]

    @property
    def dirty(self) -> bool:
        return self._snapshot() != self.saved

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="editor-title", classes="title")
        yield Static("a: add · ctrl/shift+↑↓: move (across phases) · p / r / x: new / name / delete phase · "
                     "space: active · c: continue on failure · e: timeout, retries · delete: remove · ctrl+s: save",
                     classes="hint", id="editor-hint")
        yield FitTable(TASK_COLUMNS, id="editor", cursor_type="row", zebra_stripes=False)
        yield Static("", id="task-problem", classes="error hidden")
        yield KbcFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self.render_rows()
        table.focus()

    # -- drawing -----------------------------------------------------------------------------------
    def render_rows(self, select: tuple[int, int | None] | None = None) -> None:
        table = self.query_one(DataTable)
        project = self.app.project
        current = select if select is not None else self.selection()
        table.clear()
        self.rows = []
        for pi, phase in enumerate(self.phases):
            label = f"{pi + 1}. {phase.name}" if phase.name else f"{pi + 1}."
            if not phase.tasks:
                # wraps (height None) in a narrow column: the whole message is read at 80 columns
                table.add_row(plain(label), "", Text(EMPTY_PHASE, style="dim italic"), "", "", "", height=None)
                self.rows.append((pi, None))
                continue
            for ti, task in enumerate(phase.tasks):
                cfg = project.component(task.component, task.config)
                problem = project.task_problem(task)
                name = plain(cfg.name if cfg else task.config, style="bold red" if problem else "")
                name.append(f"  {one_line(task.ref)}", style="dim")
                table.add_row(plain(label) if ti == 0 else "", kind_label(task.component), name,
                              "yes" if task.active else Text("no", style="dim"),
                              ", ".join(filter(None, ["continue" if task.continue_on_failure else "stop",
                                                      limits_text(task)])),
                              plain(problem or "", style="red"))
                self.rows.append((pi, ti))
        if current in self.rows:
            table.move_cursor(row=self.rows.index(current))
        self.show_task_problem()
        orch = self.app.project.orchestrations.get(self.orch_id)
        title = plain(f"Tasks of {orch.name if orch else self.orch_id}", style="bold")
        if self.dirty:
            title.append("  (unsaved changes)", style="bold yellow")
        self.query_one("#editor-title", Static).update(title)

    def selection(self) -> tuple[int, int | None] | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def selected_task(self) -> tuple[int, int] | None:
        sel = self.selection()
        return sel if sel is not None and sel[1] is not None else None  # type: ignore[return-value]

    # -- actions -------------------------------------------------------------------------------------
    def action_add(self) -> None:
        from kbc_tui.ui.screens.component_picker import ComponentPicker

        in_use = {t.ref for p in self.phases for t in p.tasks}
        self.app.push_screen(ComponentPicker(in_use), self._add_configs)

    def phase_label(self, index: int) -> str:
        name = self.phases[index].name
        return f"{index + 1}. {name}" if name else f"phase {index + 1}"

    def _add_configs(self, configs) -> None:
        """Each picked configuration goes into its stage's phase: Extract, Transform, Load."""
        if not configs:
            return
        added = [Task(cfg.component, cfg.id) for cfg in configs]
        for task in added:
            place_task(self.phases, task)
        where: dict[int, int] = {}
        for task in added:
            pi = next(i for i, p in enumerate(self.phases) if any(t is task for t in p.tasks))
            where[pi] = where.get(pi, 0) + 1
        last = added[-1]
        pi = next(i for i, p in enumerate(self.phases) if any(t is last for t in p.tasks))
        self.render_rows((pi, next(i for i, t in enumerate(self.phases[pi].tasks) if t is last)))
        self.notify(f"Added {len(added)} task(s): " + ", ".join(f"{n} to {self.phase_label(i)}"
                                                               for i, n in sorted(where.items())))

    def action_move(self, step: int) -> None:
        sel = self.selected_task()
        if sel is None:
            self.app.bell()
            return
        pi, ti = sel
        phase = self.phases[pi]
        target = ti + step
        if 0 <= target < len(phase.tasks):  # within the phase
            phase.tasks[ti], phase.tasks[target] = phase.tasks[target], phase.tasks[ti]
            self.render_rows((pi, target))
            return
        task = phase.tasks.pop(ti)
        if step < 0:
            if pi == 0:
                if not phase.tasks:  # alone in the first phase: nowhere to go
                    phase.tasks.insert(ti, task)
                    self.app.bell()
                    return
                self.phases.insert(0, Phase("", [task]))
                self.render_rows((0, 0))
                return
            self.phases[pi - 1].tasks.append(task)
            self.render_rows((pi - 1, len(self.phases[pi - 1].tasks) - 1))
        else:
            if pi == len(self.phases) - 1:
                if not phase.tasks:
                    phase.tasks.insert(ti, task)
                    self.app.bell()
                    return
                self.phases.append(Phase("", [task]))
                self.render_rows((pi + 1, 0))
                return
            self.phases[pi + 1].tasks.insert(0, task)
            self.render_rows((pi + 1, 0))

    def action_add_phase(self) -> None:
        sel = self.selection()
        at = sel[0] + 1 if sel else len(self.phases)
        self.phases.insert(at, Phase("", []))
        self.render_rows((at, None))

    def action_rename_phase(self) -> None:
        sel = self.selection()
        if sel is None:
            self.app.bell()
            return
        pi = sel[0]

        def named(name: str | None) -> None:
            if name is not None:
                self.phases[pi].name = name
                self.render_rows(sel)

        self.app.push_screen(PromptModal(f"Name of phase {pi + 1} (e.g. Extract, Transform, Load)",
                                         self.phases[pi].name, check=check_no_control), named)

    def action_delete_phase(self) -> None:
        sel = self.selection()
        if sel is None:
            self.app.bell()
            return
        pi = sel[0]

        def delete(yes: bool | None = True) -> None:
            if yes:
                del self.phases[pi]
                self.render_rows((max(0, pi - 1), 0) if self.phases else None)

        count = len(self.phases[pi].tasks)
        if not count:
            delete()
            return
        self.app.push_screen(ConfirmModal(f"Delete {self.phase_label(pi)} and its {count} task(s)?",
                                          yes="Delete"), delete)

    def action_limits(self) -> None:
        sel = self.selected_task()
        if sel is None:
            self.app.bell()
            return
        task = self.phases[sel[0]].tasks[sel[1]]

        def chosen(values: dict | None) -> None:
            if values:
                for name, value in values.items():
                    setattr(task, name, value)
                self.render_rows(sel)

        self.app.push_screen(TaskLimitsModal(task, f"Run limits of {task.ref}"), chosen)

    def _toggle(self, attribute: str) -> None:
        sel = self.selected_task()
        if sel is None:
            return
        task = self.phases[sel[0]].tasks[sel[1]]
        setattr(task, attribute, not getattr(task, attribute))
        self.render_rows(sel)

    def action_toggle_active(self) -> None:
        self._toggle("active")

    def action_toggle_continue(self) -> None:
        self._toggle("continue_on_failure")

    def action_remove(self) -> None:
        sel = self.selection()
        if sel is None:
            return
        pi, ti = sel
        if ti is None:
            del self.phases[pi]
            self.render_rows((max(0, pi - 1), 0) if self.phases else None)
            return
        self.phases[pi].tasks.pop(ti)
        remaining = len(self.phases[pi].tasks)
        self.render_rows((pi, min(ti, remaining - 1)) if remaining else (pi, None))

    def save(self) -> bool:
        phases = [p for p in self.phases if p.tasks]
        updated = self.save_orchestration(self.orch_id, lambda orch: setattr(orch, "phases", copy.deepcopy(phases)))
        if updated is None:
            return False
        self.phases = copy.deepcopy(updated.phases)
        self.saved = self._snapshot()
        self.render_rows()
        self.notify(f"Saved orchestrations/{self.orch_id}.toml")
        return True

    @on(DataTable.RowHighlighted)
    def show_task_problem(self) -> None:
        """The highlighted task's problem in full, under the table (its column is narrow at 80 columns)."""
        sel = self.selected_task()
        problem = None
        if sel is not None:
            task = self.phases[sel[0]].tasks[sel[1]]
            problem = self.app.project.task_problem(task)
            problem = problem and plain(f"{one_line(task.ref)}: {problem}")
        shown = self.query_one("#task-problem", Static)
        shown.update(problem or "")
        shown.set_class(not problem, "hidden")

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        pass  # enter does nothing here; keys act on the highlighted task
