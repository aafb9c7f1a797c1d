"""Stands in for the job history when its file cannot be opened (damaged, unreadable, a file in the way).

The app keeps working on the project's files and shows why jobs are unavailable; every read finds nothing
and every write raises the ``StateError`` that says what is wrong and what to do. The engine tries to open
the real history again every few seconds (e.g. once the damaged file was moved aside).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kbc_tui.errors import StateError

_EMPTY: dict[str, Any] = {
    "list_jobs": [], "waiting_jobs": [], "active_jobs": [], "jobs_updated_since": [], "task_runs": [],
    "log": [], "log_tail": [], "log_since": [], "notifications": [], "last_jobs": {}, "component_state": {},
    "cancel_requested": set(), "job": None, "average_duration": None, "next_notification_due": None,
    "max_log_id": 0, "workers": [], "stale_jobs": [],
}


class UnavailableHistory:
    available = False
    shared = False

    def __init__(self, path: Path, error: StateError):
        self.path = path
        self.error = error

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in _EMPTY:
            value = _EMPTY[name]
            return lambda *args, **kwargs: value.copy() if hasattr(value, "copy") else value

        def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return unavailable

    def close(self) -> None:
        pass
