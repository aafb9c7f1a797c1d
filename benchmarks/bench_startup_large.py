"""startup_large: like startup, on a generated project of 1,000 orchestrations and 100,000 jobs in history,
as a ratio to the minimal Textual app with one DataTable. Goal (issue 5): <= 1.6.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT
from _startup import compare, quote

from kbc_tui.store.history import JobHistory  # noqa: E402
from kbc_tui.store.toml_io import dumps_toml  # noqa: E402

ORCHESTRATIONS = 1000
JOBS = 100_000


def generate(root: Path) -> None:
    shutil.copytree(ROOT / "configs", root, ignore=shutil.ignore_patterns(".kbc", "out", "orchestrations"))
    folder = root / "orchestrations"
    folder.mkdir()
    rng = random.Random(5)
    for i in range(ORCHESTRATIONS):
        data = {"name": f"Pipeline {i:04d}", "phases": [
            {"name": "Extract", "tasks": [{"component": "db-extractor", "config": "shop"},
                                          {"component": "sheet-extractor", "config": "sales-targets"}]},
            {"tasks": [{"component": "sql-transformation", "config": "sales-report"}]},
            {"tasks": [{"component": "db-writer", "config": "warehouse"}]}]}
        if i % 3 == 0:
            data["schedule"] = {"cron": f"{i % 60} {i % 24} * * *", "timezone": "Europe/Prague"}
        if i % 2 == 0:
            data["notifications"] = {"error": [f"team{i % 10}@example.com"]}
        (folder / f"pipeline-{i:04d}.toml").write_bytes(dumps_toml(data))
    history = JobHistory(root / ".kbc" / "jobs.sqlite")
    now = time.time()
    statuses = ["success"] * 8 + ["warning", "error"]
    with history.transaction() as db:
        db.executemany(
            "INSERT INTO jobs (orchestration, status, trigger, triggered_by, created_at, started_at, finished_at, "
            "message, updated_at) VALUES (?, ?, 'schedule', 'scheduler', ?, ?, ?, '', ?)",
            [(f"pipeline-{rng.randrange(ORCHESTRATIONS):04d}", rng.choice(statuses), now - JOBS * 60 + i * 60,
              now - JOBS * 60 + i * 60, now - JOBS * 60 + i * 60 + rng.randint(5, 300), now) for i in range(JOBS)])
    history.close()


def main(argv: list[str]) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "large"
        generate(root)
        ours, ref = compare(quote(sys.executable, "-m", "kbc_tui", "--project", str(root)), "Pipeline 0000",
                            quote(sys.executable, str(ROOT / "benchmarks" / "_minimal_app.py")), "READY-MARKER")
    print(f"project: {ORCHESTRATIONS:,} orchestrations, {JOBS:,} jobs in history")
    print(f"kbc-tui home screen: {ours * 1000:.0f} ms (median of 9)")
    print(f"minimal Textual app with one DataTable: {ref * 1000:.0f} ms (median of 9)")
    print(f"ratio: {ours / ref:.2f}")
    return ours / ref, "ratio"
