"""Component types: one module each, one shared interface (``base.Component``).

``get_component(type_id)`` imports a component's module only when it is needed, so
listing or validating a project does not load database drivers or the Hyper API.
"""

from __future__ import annotations

import importlib

from kbc_tui.components.base import Cancelled, CancelToken, Component, RunContext, TaskResult
from kbc_tui.errors import KbcError
from kbc_tui.model.component import COMPONENT_TYPES, ComponentConfig
from kbc_tui.model.paths import check_inside, is_absolute

MODULES: dict[str, str] = {
    "db-extractor": "kbc_tui.components.db_extractor",
    "sheet-extractor": "kbc_tui.components.sheet_extractor",
    "sql-transformation": "kbc_tui.components.sql_transformation",
    "tableau-writer": "kbc_tui.components.tableau_writer",
    "gooddata-writer": "kbc_tui.components.gooddata_writer",
    "db-writer": "kbc_tui.components.db_writer",
    "csv-upload": "kbc_tui.components.csv_upload",
}

_cache: dict[str, Component] = {}


def get_component(type_id: str) -> Component:
    if type_id not in COMPONENT_TYPES:
        raise KbcError(f"unknown component {type_id!r}")
    if type_id not in _cache:
        try:
            module = importlib.import_module(MODULES[type_id])
        except ModuleNotFoundError as exc:
            raise KbcError(f"component {type_id!r} is not available: {exc}") from None
        _cache[type_id] = module.COMPONENT
    return _cache[type_id]


def validate_config(cfg: ComponentConfig) -> list[tuple[str, str]]:
    """Problems in a configuration's parameters; used by ``Project.load`` and ``kbc-tui validate``.
    A relative path that leaves the project folder is one."""
    try:
        component = get_component(cfg.component)
    except KbcError as exc:
        return [("", str(exc))]
    problems = component.validate(cfg.parameters)
    if cfg.path is not None:
        root = cfg.path.parents[2]  # <project>/components/<component>/<config>.toml
        problems += [(key, error) for key, value in component.paths(cfg.parameters)
                     if (error := check_inside(root, value))]
    return problems


def absolute_paths(cfg: ComponentConfig) -> list[tuple[str, str]]:
    """``(key path, path)`` of every absolute path in a configuration's parameters (``kbc-tui validate`` lists them)."""
    try:
        component = get_component(cfg.component)
    except KbcError:
        return []
    return [(key, value) for key, value in component.paths(cfg.parameters) if is_absolute(value)]


__all__ = ["Cancelled", "CancelToken", "Component", "RunContext", "TaskResult", "get_component",
           "validate_config", "absolute_paths", "MODULES"]
