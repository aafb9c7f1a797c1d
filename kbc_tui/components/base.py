"""The one interface every component type implements.

A component validates its ``[parameters]`` table and runs as an async task:

    class Component:
        type_id = "sql-transformation"
        def validate(self, parameters) -> list[tuple[str, str]]   # (key path under parameters, message)
        async def run(self, ctx: RunContext) -> TaskResult

``run`` does blocking work (database drivers, DuckDB, Hyper) through ``await ctx.to_thread(fn, ...)``
so the event loop (and the TUI on it) stays free. Long loops in threads call
``ctx.cancel.check()`` between chunks; cancellation then raises ``Cancelled`` and storage writes
roll back. A user-facing failure raises ``ComponentError("one clear line")``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from kbc_tui.model.cancel import Cancelled, CancelToken  # noqa: F401  (re-exported: components use them from here)

if TYPE_CHECKING:
    from kbc_tui.model.component import ComponentConfig
    from kbc_tui.storage.base import Storage

T = TypeVar("T")


class TaskLogger(Protocol):
    """Thread-safe: may be called from worker threads. Text is masked for secrets by the engine."""

    def debug(self, text: str) -> None: ...
    def info(self, text: str) -> None: ...
    def warning(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...


@dataclass
class TaskResult:
    rows: int | None = None  # rows written/extracted, shown in the job's task table
    message: str = ""  # one line summary


@dataclass
class RunContext:
    """What a running task may use. Built by the engine for each task run."""

    config: "ComponentConfig"  # as in the file (secrets still encrypted)
    parameters: dict[str, Any]  # ``config.parameters`` with every ``#`` value resolved
    storage: "Storage"
    log: TaskLogger
    cancel: CancelToken
    project_root: Path
    state_dir: Path  # <project>/.kbc: Hyper logs, scratch files
    job_id: int = 0
    #: component state kept between successful runs (e.g. incremental fetching's last value);
    #: the engine loads it before ``run`` and saves it only if the task succeeds
    state: dict[str, Any] = field(default_factory=dict)

    async def to_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking ``fn`` in a thread; raises ``Cancelled`` if the job is cancelled meanwhile.

        The thread itself is told through ``ctx.cancel`` and must stop at its next ``check()``.
        """
        self.cancel.check()
        return await asyncio.to_thread(fn, *args, **kwargs)

    @property
    def scratch_dir(self) -> Path:
        """This process's scratch folder (``.kbc/tmp/<pid>``): the next runner removes it if we are killed."""
        from kbc_tui.store.scratch import process_scratch

        return process_scratch(self.state_dir)

    def partial_path(self, target: Path) -> Path:
        """Where to write ``target`` before an atomic rename into place (removed by the next runner if the
        process dies first)."""
        from kbc_tui.store.scratch import partial_path

        return partial_path(self.state_dir, target)

    def resolve_path(self, value: str, key: str = "") -> Path:
        """A path from the configuration (``key``: where, for the message): an absolute path as given, a
        relative one under the project folder; ``ComponentError`` when a relative path leaves the project."""
        from kbc_tui.errors import ComponentError
        from kbc_tui.model.paths import OutsideProjectError, inside_project

        try:
            return inside_project(self.project_root, value)
        except OutsideProjectError as exc:
            raise ComponentError(f"{key}: {exc}" if key else str(exc)) from None


class Component(ABC):
    type_id: str = ""
    #: ``[parameters]`` keys that hold a file or folder path (relative: to the project folder)
    path_keys: tuple[str, ...] = ()

    @abstractmethod
    def validate(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        """Problems in ``parameters`` as ``(key path, message)``; key paths start with ``parameters.``."""

    def paths(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        """Every file or folder path in ``parameters`` as ``(key path, path)`` (``path_keys``; a component
        with paths inside other values overrides this): ``kbc-tui validate`` refuses relative ones that leave
        the project and lists absolute ones."""
        return [(f"parameters.{key}", parameters[key]) for key in self.path_keys
                if isinstance(parameters.get(key), str) and parameters[key]]

    @abstractmethod
    async def run(self, ctx: RunContext) -> TaskResult:
        """Do the work. Raise ``ComponentError`` for a failure the user can act on."""
