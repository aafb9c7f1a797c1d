"""The domain model: pure dataclasses and validation. No I/O beyond what callers pass in; no Textual."""

from kbc_tui.model.component import COMPONENT_TYPES, ComponentConfig, ComponentType, Kind
from kbc_tui.model.job import Job, JobStatus, LogLine, TaskRun, TaskStatus, Trigger
from kbc_tui.model.orchestration import Notifications, Orchestration, Phase, Schedule, Task
from kbc_tui.model.project import ProjectSettings, SmtpSettings, UserSettings

__all__ = [
    "COMPONENT_TYPES", "ComponentConfig", "ComponentType", "Kind", "Job", "JobStatus", "LogLine",
    "TaskRun", "TaskStatus", "Trigger", "Notifications", "Orchestration", "Phase", "Schedule", "Task",
    "ProjectSettings", "SmtpSettings", "UserSettings",
]
