"""Edit an orchestration's ``[schedule]``: cron validated as you type, presets, a time-zone picker with
type-to-search, an enabled switch, the expression in words and the next 5 runs (what the scheduler fires:
the same ``next_runs``)."""

from __future__ import annotations

import copy
import re

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Header, Input, Label, OptionList, Select, Static, Switch

from kbc_tui.model.orchestration import Schedule
from kbc_tui.model.validate import check_cron, check_timezone, timezone_names
from kbc_tui.ui.format import plain
from kbc_tui.ui.screens._editor import SAVE_AND_LEAVE, EditorScreen
from kbc_tui.ui.widgets.footer import KbcFooter

PRESETS = [
    ("Every hour", "0 * * * *"),
    ("Every day at HH:MM", "{m} {h} * * *"),
    ("Weekdays at HH:MM", "{m} {h} * * 1-5"),
    ("Weekly, Monday at HH:MM", "{m} {h} * * 1"),
    ("Monthly, on the 1st at HH:MM", "{m} {h} 1 * *"),
]
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def schedule_problem(schedule: Schedule) -> str | None:
    return check_cron(schedule.cron) or check_timezone(schedule.timezone)


def preview(schedule: Schedule) -> tuple[str | None, str, str]:
    """(the problem, the expression in words, the next 5 runs): what the editor shows for ``schedule``."""
    from kbc_tui.engine.schedule import describe, next_runs

    error = schedule_problem(schedule)
    if error:
        return error, "", ""
    words = describe(schedule) + ("" if schedule.enabled else " — disabled: it will not run")
    lines = ["Next 5 runs:              in the schedule's zone        local time"]
    for moment in next_runs(schedule, 5):
        local = moment.astimezone()
        lines.append(f"  {moment.strftime('%a %d %b %Y %H:%M %Z'):<34} {local.strftime('%a %d %b %H:%M %Z')}")
    return None, words, "\n".join(lines)


class ScheduleEditor(EditorScreen):
    BINDINGS = SAVE_AND_LEAVE

    def __init__(self, orchestration_id: str) -> None:
        super().__init__()
        self.orch_id = orchestration_id
        orch = self.app.project.orchestrations[orchestration_id]
        self.original = copy.deepcopy(orch.schedule)
        base = orch.schedule or Schedule("0 6 * * *", "UTC", enabled=True)
        self.initial = (base.cron, base.timezone, base.enabled)

    def compose(self) -> ComposeResult:
        cron, tz, enabled = self.initial
        yield Header()
        with VerticalScroll(id="schedule-editor"):
            yield Static(plain(f"Schedule of {self.app.project.orchestrations[self.orch_id].name}"), classes="title")
            yield Static("ctrl+s: save · escape: back", classes="hint")
            with Horizontal(classes="row"):
                yield Label("Cron", classes="field-label")
                yield Input(cron, id="cron", placeholder="minute hour day-of-month month day-of-week")
            yield Static("", id="cron-error", classes="error", markup=False)  # quotes what was typed
            with Horizontal(classes="row"):
                yield Label("Preset", classes="field-label")
                yield Select([(label, i) for i, (label, _) in enumerate(PRESETS)], id="preset", prompt="choose…")
                yield Input("06:00", id="at", placeholder="HH:MM", classes="short")
            with Horizontal(classes="row"):
                yield Label("Time zone", classes="field-label")
                yield Input(tz, id="tz", placeholder="type to search, e.g. prague")
                yield Label("Enabled", classes="switch-label")
                yield Switch(enabled, id="enabled")
            yield OptionList(id="tz-matches", classes="hidden")
            yield Static("", id="words", classes="section")
            yield Static("", id="preview")
        yield KbcFooter()

    def on_mount(self) -> None:
        self.query_one("#cron", Input).focus()
        self.update_preview()

    # -- state ---------------------------------------------------------------------------------------
    def current(self) -> Schedule:
        return Schedule(self.query_one("#cron", Input).value.strip(), self.query_one("#tz", Input).value.strip(),
                        self.query_one("#enabled", Switch).value,
                        self.original.catchup if self.original else "none")

    def problem(self) -> str | None:
        return schedule_problem(self.current())

    @property
    def dirty(self) -> bool:
        s = self.current()
        return (s.cron, s.timezone, s.enabled) != self.initial

    def update_preview(self) -> None:
        error, words, runs = preview(self.current())
        self.query_one("#cron-error", Static).update(error or "")
        self.query_one("#words", Static).update(words)
        self.query_one("#preview", Static).update(runs)

    # -- events ------------------------------------------------------------------------------------------
    @on(Input.Changed, "#cron")
    @on(Switch.Changed)
    def _changed(self) -> None:
        self.update_preview()

    @on(Input.Changed, "#tz")
    def _tz_typed(self, event: Input.Changed) -> None:
        needle = event.value.strip().lower().replace(" ", "_")
        options = self.query_one("#tz-matches", OptionList)
        options.clear_options()
        if needle and check_timezone(event.value.strip()):
            found = [n for n in timezone_names() if needle in n.lower()][:8]
            options.add_options(found)
            options.set_class(not found, "hidden")
        else:
            options.add_class("hidden")
        self.update_preview()

    @on(OptionList.OptionSelected, "#tz-matches")
    def _tz_chosen(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#tz", Input).value = str(event.option.prompt)
        self.query_one("#tz-matches", OptionList).add_class("hidden")
        self.query_one("#tz", Input).focus()

    @on(Input.Submitted, "#tz")
    def _tz_submitted(self) -> None:
        options = self.query_one("#tz-matches", OptionList)
        if not options.has_class("hidden") and options.option_count:
            self.query_one("#tz", Input).value = str(options.get_option_at_index(0).prompt)
            options.add_class("hidden")

    @on(Select.Changed, "#preset")
    def _preset(self, event: Select.Changed) -> None:
        if event.value is Select.BLANK:
            return
        self.apply_preset(int(event.value))

    def apply_preset(self, index: int) -> None:
        at = self.query_one("#at", Input).value.strip()
        match = _TIME.match(at)
        if not match:
            self.notify(f"Time {at!r}: expected HH:MM, e.g. 06:30", severity="error")
            return
        cron = PRESETS[index][1].format(h=int(match.group(1)), m=int(match.group(2)))
        self.query_one("#cron", Input).value = cron

    # -- actions --------------------------------------------------------------------------------------------
    def save(self) -> bool:
        error = self.problem()
        if error:
            self.notify(f"Cannot save: {error}", severity="error", timeout=8)
            return False
        schedule = self.current()
        if self.save_orchestration(self.orch_id, lambda orch: setattr(orch, "schedule", schedule)) is None:
            return False
        if self.app.engine.scheduler is not None:
            self.app.engine.scheduler.reload()
        self.notify(f"Saved the schedule of {self.orch_id}")
        return True
