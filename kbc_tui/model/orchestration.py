"""Orchestrations (``orchestrations/<id>.toml``): phases of tasks, schedule, notifications.

The TOML keys are a public contract (see README "Config reference"). Defaults are not
written, so a file holds only what the user chose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbc_tui.model.component import check_id
from kbc_tui.model.fields import Fields
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
