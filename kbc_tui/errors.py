"""The project's own error types. Every error a user can cause is one of these."""

from __future__ import annotations

import errno
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


class StateError(KbcError):
    """The project's state (``.kbc/``: job history, storage, lock, keys) cannot be read or written.

    ``kind`` is ``"full"`` (disk full), ``"damaged"``, ``"readonly"``, ``"busy"``, ``"newer"`` (written by a newer
    kbc-tui) or ``"other"``; the PostgreSQL state adds ``"unreachable"`` (no server, or the connection dropped),
    ``"auth"`` (login refused), ``"missing"`` (no such database), ``"permission"``, ``"worker"`` (a live worker has
    the name), ``"notempty"`` (a copy's target), ``"config"`` and ``"closed"``."""

    def __init__(self, message: str, kind: str = "other"):
        super().__init__(message)
        self.kind = kind


class FileWriteError(KbcError, OSError):
    """A project file could not be written (read-only folder, disk full...); the file is unchanged.

    Also an ``OSError``, so callers that tolerate an unwritable cache keep doing so."""


_OS_WORDS = {
    errno.ENOSPC: ("full", "disk full"),
    errno.EDQUOT: ("full", "disk quota exceeded"),
    errno.EACCES: ("readonly", "permission denied"),
    errno.EPERM: ("readonly", "operation not permitted"),
    errno.EROFS: ("readonly", "read-only file system"),
    errno.EIO: ("other", "input/output error (a failing disk?)"),
}


def os_error_kind(exc: BaseException) -> str:
    return _OS_WORDS.get(getattr(exc, "errno", None), ("other", ""))[0]


def describe_os_error(exc: OSError, path: str | Path | None = None) -> str:
    """``<path>: <what is wrong>`` in words, with what to do for the usual causes."""
    where = str(path or exc.filename or "")
    words = os_error_words(exc)
    return f"{where}: {words}" if where else words


def os_error_words(exc: OSError) -> str:
    """What is wrong, without the path: "disk full (free space on that disk, then try again)"."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return "a file is in the way where a folder is expected (move it aside)"
    kind, words = _OS_WORDS.get(exc.errno, ("other", exc.strerror or str(exc)))
    advice = {"full": " (free space on that disk, then try again)",
              "readonly": " (check the folder's owner and permissions, or the mount)"}.get(kind, "")
    return f"{words}{advice}"


def is_disk_full(exc: BaseException) -> bool:
    """A full disk, however the library reports it (OSError, SQLite, DuckDB)."""
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left on device" in text or "database or disk is full" in text or "disk quota" in text
