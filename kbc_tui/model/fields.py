"""A small reader for TOML tables that collects problems instead of raising.

Every model's ``from_toml`` uses it, so all files report errors the same way:
the dotted key path (``phases[1].tasks[0].component``), and what is expected.
Unknown keys are errors, with a "did you mean" when a known key is close.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Callable, Iterable

_MISSING: Any = object()


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def type_name(value: object) -> str:
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a string",
        list: "an array", dict: "a table",
    }.get(type(value), type(value).__name__)


def number_problem(value: Any, minimum: float | None = None) -> str | None:
    """Why ``value`` is not a usable number: not a number, ``inf`` / ``nan`` (TOML allows them), or below
    ``minimum``; None when it is fine."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number, got {type_name(value)}"
    if not math.isfinite(value):
        return f"expected a finite number, got {value}"
    if minimum is not None and value < minimum:
        return f"expected a number >= {minimum}, got {value}"
    return None


class Fields:
    """Reads one TOML table; every read records the key as known."""

    def __init__(self, data: Any, path: Path, prefix: str, problems: list):
        self.path = path
        self.prefix = prefix
        self.problems = problems
        self.known: list[str] = []
        if not isinstance(data, dict):
            self.problem("", f"expected a table, got {type_name(data)}")
            data = {}
        self.data: dict = data

    # -- reporting ------------------------------------------------------------------
    def key_path(self, key: str) -> str:
        if not key:
            return self.prefix
        return f"{self.prefix}.{key}" if self.prefix else key

    def problem(self, key: str, message: str) -> None:
        from kbc_tui.errors import Problem

        self.problems.append(Problem(self.path, message, key=self.key_path(key) or None))

    # -- typed reads ----------------------------------------------------------------
    def _get(self, key: str, default: Any, required: bool) -> Any:
        self.known.append(key)
        if key in self.data:
            return self.data[key]
        if required:
            self.problem(key, "is required")
        return _MISSING if required else default

    def str(self, key: str, default: str | None = "", *, required: bool = False,
            choices: Iterable[str] | None = None, check: Callable[[str], str | None] | None = None) -> Any:
        value = self._get(key, default, required)
        if value is _MISSING:
            return default
        if value is default and key not in self.data:
            return value
        if not isinstance(value, str):
            self.problem(key, f"expected a string, got {type_name(value)}")
            return default
        if choices is not None:
            choices = list(choices)
            if value not in choices:
                self.problem(key, f"expected one of {', '.join(repr(c) for c in choices)}, got {value!r}"
                             + did_you_mean(value, choices))
                return default
        if check is not None:
            error = check(value)
            if error:
                self.problem(key, error)
        return value

    def int(self, key: str, default: int | None = 0, *, minimum: int | None = None,
            maximum: int | None = None) -> Any:
        value = self._get(key, default, False)
        if key not in self.data:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"expected an integer, got {type_name(value)}")
            return default
        if minimum is not None and value < minimum:
            self.problem(key, f"expected an integer >= {minimum}, got {value}")
            return default
        if maximum is not None and value > maximum:
            self.problem(key, f"expected an integer <= {maximum}, got {value}")
            return default
        return value

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None) -> Any:
        value = self._get(key, default, False)
        if key not in self.data:
            return value
        error = number_problem(value, minimum)
        if error:
            self.problem(key, error)
            return default
        return value

    def bool(self, key: str, default: bool) -> bool:
        value = self._get(key, default, False)
        if key not in self.data:
            return value
        if not isinstance(value, bool):
            self.problem(key, f"expected true or false, got {type_name(value)}")
            return default
        return value

    def str_list(self, key: str, check: Callable[[str], str | None] | None = None) -> list[str]:
        value = self._get(key, [], False)
        if key not in self.data:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, "expected an array of strings")
            return []
        if check is not None:
            for i, item in enumerate(value):
                error = check(item)
                if error:
                    self.problem(f"{key}[{i}]", error)
        return list(value)

    def table(self, key: str) -> dict | None:
        value = self._get(key, None, False)
        if key not in self.data:
            return None
        if not isinstance(value, dict):
            self.problem(key, f"expected a table, got {type_name(value)}")
            return None
        return value

    def tables(self, key: str) -> list[dict] | None:
        value = self._get(key, None, False)
        if key not in self.data:
            return None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(key, f"expected an array of tables ([[{self.key_path(key)}]])")
            return None
        return value

    def raw(self, key: str, default: Any = None) -> Any:
        self.known.append(key)
        return self.data.get(key, default)

    def finish(self) -> None:
        """Report every key that no read asked for."""
        for key in self.data:
            if key not in self.known:
                self.problem(key, "unknown key" + did_you_mean(key, self.known))
