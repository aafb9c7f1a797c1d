"""Build small real projects for engine tests: SQL transformations over DuckDB storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kbc_tui.store.toml_io import dumps_toml

#: a query that keeps DuckDB busy until interrupted (10^12 rows)
ENDLESS = "create table t as select sum(a.range * b.range) as s from range(1000000) a, range(1000000) b;"


def sql_config(root: Path, config_id: str, script: str, outputs: list[str] | dict[str, dict] = (),
               inputs: dict[str, str] | None = None) -> None:
    """components/sql-transformation/<id>.toml; outputs: script table names (-> out.c-test.<name>)."""
    params: dict[str, Any] = {"script": script}
    if inputs:
        params["input"] = [{"source": src, "destination": dst} for dst, src in inputs.items()]
    out = []
    items = outputs.items() if isinstance(outputs, dict) else ((name, {}) for name in outputs)
    for name, extra in items:
        out.append({"source": name, "destination": extra.pop("destination", f"out.c-test.{name}"), **extra})
    params["output"] = out
    path = root / "components" / "sql-transformation" / f"{config_id}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps_toml({"name": config_id, "parameters": params}))


def orchestration(root: Path, orch_id: str, phases: list[list[str | dict]], **extra: Any) -> None:
    """orchestrations/<id>.toml; each task is a config id of a sql-transformation or a dict of task keys."""
    data: dict[str, Any] = {"name": orch_id, "phases": []}
    for phase in phases:
        tasks = []
        for task in phase:
            if isinstance(task, str):
                task = {"config": task}
            tasks.append({"component": "sql-transformation", **task})
        data["phases"].append({"tasks": tasks})
    data.update(extra)
    path = root / "orchestrations" / f"{orch_id}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps_toml(data))


def project(root: Path, **settings: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "kbc.toml").write_bytes(dumps_toml({"name": "engine test", **settings}))
    (root / "orchestrations").mkdir(exist_ok=True)
    (root / "components").mkdir(exist_ok=True)
    return root
