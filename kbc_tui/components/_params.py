"""Checks for component ``[parameters]``: each returns problems as ``(key path, message)``."""

from __future__ import annotations

from typing import Any, Iterable

from kbc_tui.model.fields import did_you_mean, number_problem, type_name
from kbc_tui.storage.base import check_table_id


class ParamCheck:
    def __init__(self, data: Any, prefix: str = "parameters"):
        self.prefix = prefix
        self.problems: list[tuple[str, str]] = []
        self.known: set[str] = set()
        if not isinstance(data, dict):
            self.problems.append((prefix, f"expected a table, got {type_name(data)}"))
            data = {}
        self.data = data

    def key(self, key: str) -> str:
        return f"{self.prefix}.{key}"

    def add(self, key: str, message: str) -> None:
        self.problems.append((self.key(key) if key else self.prefix, message))

    def str(self, key: str, required: bool = False, choices: Iterable[str] | None = None) -> Any:
        self.known.add(key)
        if key not in self.data:
            if required:
                self.add(key, "is required")
            return None
        value = self.data[key]
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(key, f"expected a non-empty string, got {type_name(value)}" if not isinstance(value, str)
                     else "must not be empty")
            return None
        if choices is not None and value not in (choices := list(choices)):
            self.add(key, f"expected one of {', '.join(map(repr, choices))}, got {value!r}")
        return value

    def http_url(self, key: str, required: bool = True) -> Any:
        """A string that must be an http:// or https:// URL (server / host addresses)."""
        value = self.str(key, required=required)
        if value and not value.startswith(("http://", "https://")):
            self.add(key, "expected an http:// or https:// URL")
        return value

    def int(self, key: str, minimum: int | None = None) -> Any:
        self.known.add(key)
        if key not in self.data:
            return None
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            self.add(key, "expected an integer" + (f" >= {minimum}" if minimum is not None else ""))
            return None
        return value

    def number(self, key: str, minimum: float = 0) -> Any:
        self.known.add(key)
        value = self.data.get(key)
        error = number_problem(value, minimum) if key in self.data else None
        if error:
            self.add(key, error)
        return value

    def bool(self, key: str) -> Any:
        self.known.add(key)
        if key in self.data and not isinstance(self.data[key], bool):
            self.add(key, "expected true or false")
        return self.data.get(key)

    def str_list(self, key: str) -> list[str]:
        self.known.add(key)
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(key, "expected an array of strings")
            return []
        return value

    def table_id(self, key: str, required: bool = True) -> Any:
        self.known.add(key)
        if key not in self.data:
            if required:
                self.add(key, "is required (a table id like 'in.c-shop.orders')")
            return None
        error = check_table_id(self.data[key])
        if error:
            self.add(key, error)
        return self.data[key]

    def tables(self, key: str, required: bool = True) -> list[tuple[str, dict]]:
        """``[[parameters.<key>]]``: (prefix, item) pairs for items that are tables."""
        self.known.add(key)
        items = self.data.get(key)
        if items is None:
            if required:
                self.add(key, f"at least one [[{self.key(key)}]] is required")
            return []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            self.add(key, f"expected an array of tables ([[{self.key(key)}]])")
            return []
        if required and not items:
            self.add(key, f"at least one [[{self.key(key)}]] is required")
        return [(f"{self.key(key)}[{i}]", item) for i, item in enumerate(items)]

    def table(self, key: str) -> dict | None:
        self.known.add(key)
        value = self.data.get(key)
        if key in self.data and not isinstance(value, dict):
            self.add(key, "expected a table")
            return None
        return value

    def finish(self) -> list[tuple[str, str]]:
        for key in self.data:
            if key not in self.known:
                self.add(key, "unknown key" + did_you_mean(key, self.known))
        return self.problems


def sub(check: ParamCheck, prefix: str, item: dict) -> ParamCheck:
    child = ParamCheck(item, prefix)
    child.problems = check.problems
    return child
