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


def preset_cron(index: int, at: str) -> str | None:
    """The cron of preset ``index`` at ``at`` (HH:MM); None when the preset needs a time and ``at`` is not one."""
    template = PRESETS[index][1]
    if "{h}" not in template:
        return template
    match = _TIME.match(at.strip())
    if not match:
        return None
    return template.format(h=int(match.group(1)), m=int(match.group(2)))


def preset_of(cron: str) -> tuple[int, str] | None:
    """The preset ``cron`` is (its index, and its time as HH:MM, or "" for one without a time), or None."""
    for index, (_, template) in enumerate(PRESETS):
        if "{h}" not in template:
            if cron.split() == template.split():
                return index, ""
            continue
        pattern = re.escape(" ".join(template.split())).replace(r"\{m\}", r"(\d{1,2})").replace(r"\{h\}", r"(\d{1,2})")
        match = re.fullmatch(pattern, " ".join(cron.split()))
        if match:
            minute, hour = int(match.group(1)), int(match.group(2))
            if minute < 60 and hour < 24:
                return index, f"{hour:02d}:{minute:02d}"
    return None


def schedule_problem(schedule: Schedule) -> str | None:
    return check_cron(schedule.cron) or check_timezone(schedule.timezone)


def preview(schedule: Schedule) -> tuple[str | None, str, str]:
    """(the problem, the expression in words, the next 5 runs): what the editor shows for ``schedule``."""
    from kbc_tui.engine.schedule import describe, next_runs

    error = schedule_problem(schedule)
    if error:
        return error, "", ""
    words = describe(schedule) + ("" if schedule.enabled else " — disabled: it will not run")
    runs = [(moment.strftime("%a %d %b %Y %H:%M %Z"), moment.astimezone().strftime("%a %d %b %H:%M %Z"))
            for moment in next_runs(schedule, 5)]
    zone_head = "Next 5 runs, in the schedule's zone"
    width = max([len(zone_head), *(len(zone) for zone, _ in runs)]) + 3  # each header over its column
    lines = [f"  {zone_head:<{width}}local time"]
    lines += [f"  {zone:<{width}}{local}" for zone, local in runs]
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
        self.initial_preset = preset_of(base.cron)  # an existing "0 6 * * 1-5" opens as Weekdays at 06:00

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
                preset, at = self.initial_preset or (Select.NULL, "")
                yield Select([(label, i) for i, (label, _) in enumerate(PRESETS)], id="preset", prompt="choose…",
                             value=preset)
                yield Input(at or "06:00", id="at", placeholder="HH:MM", classes="short")
            yield Static("", id="at-error", classes="error", markup=False)  # quotes what was typed
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

    def preset(self) -> int | None:
        value = self.query_one("#preset", Select).value
        return None if value is Select.NULL else int(value)  # type: ignore[arg-type]

    def time_problem(self) -> str | None:
        """Why the time field cannot drive the chosen preset (None: it can, or no preset needs it)."""
        index = self.preset()
        if index is None or preset_cron(index, self.query_one("#at", Input).value) is not None:
            return None
        at = self.query_one("#at", Input).value.strip()
        return f"Time {at!r}: expected HH:MM, e.g. 06:30"

    def problem(self) -> str | None:
        return self.time_problem() or schedule_problem(self.current())

    @property
    def dirty(self) -> bool:
        s = self.current()
        return (s.cron, s.timezone, s.enabled) != self.initial

    def update_preview(self) -> None:
        time_problem = self.time_problem()
        self.query_one("#at-error", Static).update(time_problem or "")
        self.query_one("#at-error", Static).display = bool(time_problem)  # no room taken when all is well
        error, words, runs = preview(self.current())
        self.query_one("#cron-error", Static).update(error or "")
        self.query_one("#words", Static).update(words)
        self.query_one("#preview", Static).update(runs)

    # -- events ------------------------------------------------------------------------------------------
    @on(Input.Changed, "#cron")
    def _cron_typed(self) -> None:
        # a cron typed by hand that is no longer the chosen preset: the preset (and its time) let go of it
        cron = self.query_one("#cron", Input).value
        index = self.preset()
        if index is not None and preset_cron(index, self.query_one("#at", Input).value) != " ".join(cron.split()):
            found = preset_of(cron)
            if found is None:
                self.query_one("#preset", Select).clear()
            else:
                self.query_one("#preset", Select).value = found[0]
                if found[1]:
                    self.query_one("#at", Input).value = found[1]
        self.update_preview()

    @on(Switch.Changed)
    def _changed(self) -> None:
        self.update_preview()

    @on(Input.Changed, "#at")
    def _time_typed(self) -> None:
        index = self.preset()
        if index is not None:
            self.apply_preset(index)  # the time always drives the chosen preset
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
        if event.value is Select.NULL:
            return
        self.apply_preset(int(event.value))

    def apply_preset(self, index: int) -> None:
        cron = preset_cron(index, self.query_one("#at", Input).value)
        if cron is None:  # the time is not HH:MM: said next to it; ctrl+s refuses until it is
            self.update_preview()
            return
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
