"""What a job runs, read fresh from disk when the job starts (so a job uses what is saved now)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kbc_tui.errors import ConfigError, KbcError, Problem
from kbc_tui.model.component import COMPONENT_TYPES, ComponentConfig, check_id
from kbc_tui.model.orchestration import Orchestration, Task
from kbc_tui.model.paths import config_file, orchestration_file
from kbc_tui.store.toml_io import read_toml, with_lines


@dataclass
class JobSpec:
    orchestration: Orchestration
    configs: dict[str, ComponentConfig] = field(default_factory=dict)  # task ref -> config
    task_problems: dict[str, str] = field(default_factory=dict)  # task ref -> why it cannot run


def _load(path: Path, build) -> object:
    data, raw = read_toml(path)
    problems: list[Problem] = []
    obj = build(data, problems)
    if problems:
        raise ConfigError(with_lines(problems, raw.decode("utf-8")))
    return obj


def load_orchestration(root: Path, orch_id: str) -> Orchestration:
    path = orchestration_file(root, orch_id)  # KbcError for anything but an id
    if not path.exists():
        raise KbcError(f"unknown orchestration {orch_id!r} (no file orchestrations/{orch_id}.toml)")
    return _load(path, lambda d, p: Orchestration.from_toml(d, orch_id=orch_id, path=path, problems=p))


def load_spec(root: Path, orch_id: str) -> JobSpec:
    """The orchestration and every configuration its active tasks use; problems per task, not raised."""
    spec = JobSpec(load_orchestration(root, orch_id))
    for task in spec.orchestration.tasks:
        if task.ref in spec.configs or task.ref in spec.task_problems:
            continue
        reason = _task_problem(task)
        if reason:
            spec.task_problems[task.ref] = reason
            continue
        path = config_file(root, task.component, task.config)
        if not path.exists():
            spec.task_problems[task.ref] = (f"configuration {task.ref!r} does not exist "
                                            f"(components/{task.ref}.toml)")
            continue
        try:
            spec.configs[task.ref] = _load(path, lambda d, p, t=task, pa=path: ComponentConfig.from_toml(
                d, component=t.component, config_id=t.config, path=pa, problems=p))
        except ConfigError as exc:
            spec.task_problems[task.ref] = "; ".join(str(p) for p in exc.problems)
    return spec


def _task_problem(task: Task) -> str | None:
    error = check_id(task.component, "component type") or check_id(task.config, "configuration id")
    if error:
        return error
    ctype = COMPONENT_TYPES.get(task.component)
    if ctype is None:
        return f"unknown component {task.component!r}"
    if not ctype.automatable:
        return f"{task.component!r} is a manual component and cannot be orchestrated"
    return None
