"""Component types and component configurations (``components/<component>/<config>.toml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from kbc_tui.model.fields import Fields
from kbc_tui.model.text import check_no_control

#: the one pattern of every id: orchestration ids, component types and configuration ids (file names too)
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_id(value: str, what: str = "id") -> str | None:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        return (f"{what} {value!r} must be 1-64 characters of lowercase letters, digits, '-' or '_', "
                "starting with a letter or digit")
    return None


def require_id(value: str, what: str = "id") -> str:
    """``value`` if it is a valid id, else ``KbcError`` saying what an id looks like."""
    error = check_id(value, what)
    if error:
        from kbc_tui.errors import KbcError

        raise KbcError(error)
    return value


class Kind(str, Enum):
    EXTRACTOR = "extractor"
    TRANSFORMATION = "transformation"
    WRITER = "writer"
    MANUAL = "manual"  # cannot be automated; never offered as an orchestration task

    @property
    def plural(self) -> str:
        return {"extractor": "Extractors", "transformation": "Transformations",
                "writer": "Writers", "manual": "Manual"}[self.value]


@dataclass(frozen=True)
class ComponentType:
    id: str
    kind: Kind
    title: str

    @property
    def automatable(self) -> bool:
        return self.kind is not Kind.MANUAL


COMPONENT_TYPES: dict[str, ComponentType] = {
    t.id: t
    for t in [
        ComponentType("db-extractor", Kind.EXTRACTOR, "Database extractor"),
        ComponentType("sheet-extractor", Kind.EXTRACTOR, "Google Sheet / CSV extractor"),
        ComponentType("sql-transformation", Kind.TRANSFORMATION, "SQL transformation (DuckDB)"),
        ComponentType("tableau-writer", Kind.WRITER, "Tableau writer (.hyper)"),
        ComponentType("gooddata-writer", Kind.WRITER, "GoodData writer"),
        ComponentType("db-writer", Kind.WRITER, "Database writer"),
        ComponentType("csv-upload", Kind.MANUAL, "Manual CSV upload"),
    ]
}


@dataclass
class ComponentConfig:
    """One configured extractor, transformation or writer."""

    component: str  # the component type id (folder name)
    id: str  # the configuration id (file stem)
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.component}/{self.id}"

    @property
    def type(self) -> ComponentType | None:
        return COMPONENT_TYPES.get(self.component)

    @property
    def kind(self) -> Kind | None:
        t = self.type
        return t.kind if t else None

    @classmethod
    def from_toml(cls, data: dict, *, component: str, config_id: str, path: Path,
                  problems: list) -> "ComponentConfig":
        f = Fields(data, path, "", problems)
        name = f.str("name", config_id, check=check_no_control)
        description = f.str("description", "")
        parameters = f.table("parameters") or {}
        f.finish()
        if component not in COMPONENT_TYPES:
            from kbc_tui.errors import Problem
            from kbc_tui.model.fields import did_you_mean

            problems.append(Problem(path, f"unknown component type {component!r} (the folder name); known: "
                                    + ", ".join(COMPONENT_TYPES) + did_you_mean(component, COMPONENT_TYPES)))
        return cls(component, config_id, name, description, dict(parameters), path)

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        if self.parameters:
            out["parameters"] = self.parameters
        return out
