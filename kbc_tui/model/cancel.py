"""Cancelling a running task: a flag its coroutine and its worker threads share.

It lives in the model (the bottom layer) so that components and storage both use it without importing
each other.
"""

from __future__ import annotations

import threading
from typing import Callable


class Cancelled(Exception):
    """Raised inside a task (in its thread too) once its job was cancelled or timed out."""


class CancelToken:
    """Thread-safe cancellation flag shared by a task's coroutine and its worker threads."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self.reason = "cancelled"

    def cancel(self, reason: str = "cancelled") -> None:
        if self._event.is_set():
            return
        self.reason = reason
        self._event.set()
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:  # e.g. interrupting a connection that just closed
                pass

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from any thread) when cancelled, e.g. ``duckdb_connection.interrupt``.
        Returns a function that removes it."""
        if self._event.is_set():
            callback()
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)
