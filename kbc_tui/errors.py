"""The project's own error types. Every error a user can cause is one of these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class KbcError(Exception):
    """Base of every error kbc-tui reports to a user (no traceback needed)."""


@dataclass(frozen=True)
class Problem:
    """One problem in a project file: where it is and what is expected.

    Rendered as ``path:line: key: message`` (line and key when known).
    """

    path: Path
    message: str
    line: int | None = None
    key: str | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.key:
            return f"{where}: {self.key}: {self.message}"
        return f"{where}: {self.message}"


class ConfigError(KbcError):
    """A project file is unreadable or invalid. Carries one or more problems."""

    def __init__(self, problems: list[Problem] | Problem):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def path(self) -> Path:
        return self.problems[0].path


class ConflictError(KbcError):
    """A file changed on disk since it was loaded; saving would overwrite someone else's change."""


class SecretError(KbcError):
    """A secret cannot be resolved: missing environment variable, key or undecryptable value."""


class ComponentError(KbcError):
    """A component failed in a way the user can act on (one clear line, no traceback)."""


class StorageBusyError(KbcError):
    """The storage file is held by another process (DuckDB allows one writer per file)."""
