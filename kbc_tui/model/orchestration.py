"""Orchestrations (``orchestrations/<id>.toml``): phases of tasks, schedule, notifications.

The TOML keys are a public contract (see README "Config reference"). Defaults are not
written, so a file holds only what the user chose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbc_tui.model.component import COMPONENT_TYPES, Kind, check_id
from kbc_tui.model.fields import Fields, number_problem
from kbc_tui.model.text import check_no_control
from kbc_tui.model.validate import check_cron, check_email, check_timezone

CATCHUP_POLICIES = ("none", "latest")
EVENTS = ("error", "warning", "success", "processing")


def _id_of(what: str):
    """A task's reference: not empty, and an id (it names a folder / file under components/)."""
    return lambda value: check_id(value, what) if value.strip() else "must not be empty"


@dataclass
class Task:
    component: str
    config: str
    active: bool = True
    continue_on_failure: bool = False
    timeout_minutes: float | None = None
    retries: int = 0
    retry_delay_seconds: float = 30

    @property
    def ref(self) -> str:
        return f"{self.component}/{self.config}"

    @classmethod
    def from_toml(cls, data: Any, path: Path, prefix: str, problems: list) -> "Task":
        f = Fields(data, path, prefix, problems)
        task = cls(
            component=f.str("component", "", required=True, check=_id_of("component type")),
            config=f.str("config", "", required=True, check=_id_of("configuration id")),
            active=f.bool("active", True),
            continue_on_failure=f.bool("continue_on_failure", False),
            timeout_minutes=f.number("timeout_minutes", None, minimum=0),
            retries=f.int("retries", 0, minimum=0, maximum=100),
            retry_delay_seconds=f.number("retry_delay_seconds", 30, minimum=0),
        )
        f.finish()
        return task

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"component": self.component, "config": self.config}
        if not self.active:
            out["active"] = False
        if self.continue_on_failure:
            out["continue_on_failure"] = True
        if self.timeout_minutes is not None:
            out["timeout_minutes"] = self.timeout_minutes
        if self.retries:
            out["retries"] = self.retries
        if self.retry_delay_seconds != 30:
            out["retry_delay_seconds"] = self.retry_delay_seconds
        return out


@dataclass
class Phase:
    name: str = ""
    tasks: list[Task] = field(default_factory=list)

    @classmethod
    def from_toml(cls, data: Any, path: Path, prefix: str, problems: list) -> "Phase":
        f = Fields(data, path, prefix, problems)
        name = f.str("name", "", check=check_no_control)
        tasks = [Task.from_toml(t, path, f"{prefix}.tasks[{i}]", problems)
                 for i, t in enumerate(f.tables("tasks") or [])]
        f.finish()
        return cls(name, tasks)

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        out["tasks"] = [t.to_toml() for t in self.tasks]
        return out


#: the phase a new task of each kind goes into, in the order the phases run (the tutorial's Extract ->
#: Transform -> Load: a transformation must not run in parallel with the extractors it reads)
STAGES: dict[Kind, str] = {Kind.EXTRACTOR: "Extract", Kind.TRANSFORMATION: "Transform", Kind.WRITER: "Load"}
_RANKS = {kind: rank for rank, kind in enumerate(STAGES)}
_STAGE_NAMES = {name.lower(): kind for kind, name in STAGES.items()}


def kind_of(component: str) -> Kind | None:
    """The kind of a component type (None: unknown)."""
    ctype = COMPONENT_TYPES.get(component)
    return ctype.kind if ctype else None


def _phase_rank(phase: Phase) -> int | None:
    """Where a phase stands in Extract -> Transform -> Load: by its name if it is a stage's, else by the
    earliest kind it holds; None when that says nothing (an empty unnamed phase, unknown components)."""
    named = _STAGE_NAMES.get(phase.name.strip().lower())
    if named is not None:
        return _RANKS[named]
    ranks = [_RANKS[k] for t in phase.tasks if (k := kind_of(t.component)) in _RANKS]
    return min(ranks) if ranks else None


def stage_phase(phases: list[Phase], kind: Kind) -> int | None:
    """The existing phase a new task of ``kind`` belongs in: the one named after its stage ("Extract",
    "Transform", "Load", any case), else one that holds only tasks of that kind; None if there is none."""
    if kind not in STAGES:
        raise ValueError(f"a {kind.value} component cannot be a task")
    for index, phase in enumerate(phases):
        if phase.name.strip().lower() == STAGES[kind].lower():
            return index
    for index, phase in enumerate(phases):
        other_stage = _STAGE_NAMES.get(phase.name.strip().lower())
        if phase.tasks and other_stage in (None, kind) and all(kind_of(t.component) is kind for t in phase.tasks):
            return index
    return None


def place_task(phases: list[Phase], task: Task) -> int:
    """Append ``task`` to the phase its kind belongs in (see ``stage_phase``), creating that stage's phase
    when missing, placed so that Extract runs before Transform before Load. Returns the phase's index."""
    kind = kind_of(task.component)
    if kind not in STAGES:
        raise ValueError(f"{task.component!r} cannot be an orchestration task")
    index = stage_phase(phases, kind)
    if index is None:
        rank = _RANKS[kind]
        later = [i for i, p in enumerate(phases) if (r := _phase_rank(p)) is not None and r > rank]
        index = later[0] if later else len(phases)
        phases.insert(index, Phase(STAGES[kind], []))
    phases[index].tasks.append(task)
    return index


#: a task's run limits, as the editor's fields name them
LIMIT_FIELDS = ("timeout_minutes", "retries", "retry_delay_seconds")


def parse_limits(timeout_minutes: str, retries: str, retry_delay_seconds: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A task's limits typed as text: (the values, {field: why it is not valid}). An empty timeout: none;
    the same bounds as the TOML file (retries 0-100, the others numbers >= 0)."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    text = timeout_minutes.strip()
    if not text:
        values["timeout_minutes"] = None
    else:
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or number_problem(value, minimum=0) or value == 0:
            problems["timeout_minutes"] = "minutes, a number above 0 (empty: no timeout)"
        else:
            values["timeout_minutes"] = int(value) if value.is_integer() else value
    try:
        count = int(retries.strip() or "0")
        if not 0 <= count <= 100:
            raise ValueError
        values["retries"] = count
    except ValueError:
        problems["retries"] = "a whole number from 0 to 100"
    try:
        delay = float(retry_delay_seconds.strip() or "30")
        if number_problem(delay, minimum=0):
            raise ValueError
        values["retry_delay_seconds"] = int(delay) if delay.is_integer() else delay
    except ValueError:
        problems["retry_delay_seconds"] = "seconds, a number >= 0"
    return values, problems


@dataclass
class Schedule:
    cron: str
    timezone: str = "UTC"
    enabled: bool = True
    catchup: str = "none"

    @classmethod
    def from_toml(cls, data: Any, path: Path, problems: list) -> "Schedule":
        f = Fields(data, path, "schedule", problems)
        schedule = cls(
            cron=f.str("cron", "", required=True, check=check_cron),
            timezone=f.str("timezone", "UTC", check=check_timezone),
            enabled=f.bool("enabled", True),
            catchup=f.str("catchup", "none", choices=CATCHUP_POLICIES),
        )
        f.finish()
        return schedule

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cron": self.cron}
        if self.timezone != "UTC":
            out["timezone"] = self.timezone
        if not self.enabled:
            out["enabled"] = False
        if self.catchup != "none":
            out["catchup"] = self.catchup
        return out


@dataclass
class Notifications:
    error: list[str] = field(default_factory=list)
    warning: list[str] = field(default_factory=list)
    success: list[str] = field(default_factory=list)
    processing: list[str] = field(default_factory=list)
    processing_tolerance: int = 20  # percent over the average of the last 20 successful runs

    def for_event(self, event: str) -> list[str]:
        return list(getattr(self, event))

    @property
    def empty(self) -> bool:
        return not any(getattr(self, e) for e in EVENTS)

    @classmethod
    def from_toml(cls, data: Any, path: Path, problems: list) -> "Notifications":
        f = Fields(data, path, "notifications", problems)
        n = cls(
            error=f.str_list("error", check_email),
            warning=f.str_list("warning", check_email),
            success=f.str_list("success", check_email),
            processing=f.str_list("processing", check_email),
            processing_tolerance=f.int("processing_tolerance", 20, minimum=0, maximum=10000),
        )
        f.finish()
        return n

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {e: getattr(self, e) for e in EVENTS if getattr(self, e)}
        if self.processing_tolerance != 20:
            out["processing_tolerance"] = self.processing_tolerance
        return out


@dataclass
class Orchestration:
    id: str
    name: str
    description: str = ""
    phases: list[Phase] = field(default_factory=list)
    schedule: Schedule | None = None
    notifications: Notifications = field(default_factory=Notifications)
    path: Path | None = field(default=None, compare=False)
    #: the file used the short form: top-level [[tasks]], one task per phase
    flat: bool = field(default=False, compare=False)

    @property
    def tasks(self) -> list[Task]:
        return [t for p in self.phases for t in p.tasks]

    @classmethod
    def from_toml(cls, data: dict, *, orch_id: str, path: Path, problems: list) -> "Orchestration":
        f = Fields(data, path, "", problems)
        name = f.str("name", "", required=True, check=check_no_control)
        description = f.str("description", "")
        phases_data = f.tables("phases")
        tasks_data = f.tables("tasks")
        flat = False
        if phases_data is not None and tasks_data is not None:
            f.problem("tasks", "use either [[phases]] or [[tasks]], not both")
        if phases_data is not None:
            phases = [Phase.from_toml(p, path, f"phases[{i}]", problems) for i, p in enumerate(phases_data)]
        elif tasks_data is not None:
            flat = True
            phases = [Phase("", [Task.from_toml(t, path, f"tasks[{i}]", problems)])
                      for i, t in enumerate(tasks_data)]
        else:
            phases = []
        schedule_data = f.table("schedule")
        schedule = Schedule.from_toml(schedule_data, path, problems) if schedule_data is not None else None
        notif_data = f.table("notifications")
        notifications = (Notifications.from_toml(notif_data, path, problems)
                         if notif_data is not None else Notifications())
        f.finish()
        return cls(orch_id, name, description, phases, schedule, notifications, path, flat)

    @classmethod
    def from_canonical(cls, data: dict[str, Any], *, orch_id: str, path: Path) -> "Orchestration":
        """Rebuild from ``to_toml()`` output that was validated before (the app's load cache): no checks."""
        flat = "tasks" in data
        phases = ([Phase("", [Task(**t)]) for t in data["tasks"]] if flat else
                  [Phase(p.get("name", ""), [Task(**t) for t in p["tasks"]]) for p in data.get("phases", [])])
        schedule = Schedule(**data["schedule"]) if "schedule" in data else None
        notifications = Notifications(**data.get("notifications", {}))
        return cls(orch_id, data["name"], data.get("description", ""), phases, schedule, notifications, path, flat)

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        phases = [p for p in self.phases if p.tasks]  # an empty phase disappears on save
        if self.flat and all(len(p.tasks) == 1 and not p.name for p in phases):
            out["tasks"] = [p.tasks[0].to_toml() for p in phases]
        elif phases:
            out["phases"] = [p.to_toml() for p in phases]
        if self.schedule is not None:
            out["schedule"] = self.schedule.to_toml()
        notifications = self.notifications.to_toml()
        if notifications:
            out["notifications"] = notifications
        return out
