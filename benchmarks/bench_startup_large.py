"""startup_large: like startup, on a generated project of 1,000 orchestrations and 100,000 jobs in history:
process start to the first full frame of the home screen, as a ratio to the reference app showing the same
frame (its first screenful of 40 rows), both in tmux at 120x40. Goal (issue 5): <= 1.6.

The reference is bench_startup's (``_minimal_app.py``: Header, one DataTable, Footer, the frame's content
compiled in as literals), the fastest honest baseline for the same reason: it draws the same frame with
Textual and does nothing else. kbc-tui's first frame also shows one screenful and adds the other 960 rows
after it, so both draw the same 40 rows first; what the ratio adds over startup's is kbc-tui's cost of a big
project (1,000 orchestration files and their cache, the last job of each shown orchestration in a 100,000-job
history). Fairness as in startup (``_startup.py``).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from _common import copy_demo
from _startup import compare, report

from kbc_tui.store.history import JobHistory  # noqa: E402
from kbc_tui.store.toml_io import dumps_toml  # noqa: E402

ORCHESTRATIONS = 1000
JOBS = 100_000
RUNS = 15


def generate(root: Path) -> None:
    copy_demo(root, skip=("orchestrations",))
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
        pairs = compare(root, "Pipeline 0000", Path(tmp), RUNS)
    print(f"project: {ORCHESTRATIONS:,} orchestrations, {JOBS:,} jobs in history")
    return report(pairs, "kbc-tui home screen"), "ratio"
