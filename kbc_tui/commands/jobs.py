"""``kbc-tui jobs``: job history, latest first (``--json`` for scripts)."""

from __future__ import annotations

import json
import sys

from kbc_tui.model.component import require_id
from kbc_tui.model.job import Job
from kbc_tui.store.history import JobHistory
from kbc_tui.store.history_read_only import open_for_reading
from kbc_tui.store.project import STATE_DIR, resolve_project_dir


def iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def job_json(job: Job) -> dict:
    return {
        "id": job.id, "orchestration": job.orchestration, "status": job.status.value,
        "trigger": job.trigger.value, "triggered_by": job.triggered_by,
        "created_at": iso(job.created_at), "started_at": iso(job.started_at), "finished_at": iso(job.finished_at),
        "duration_s": round(job.duration_s, 3) if job.duration_s is not None else None, "message": job.message,
        "worker": job.worker,
    }


def open_history(project_arg) -> JobHistory:
    """The history, read-only use: no project load, no runner lock (fast, works while jobs run). When it cannot
    be written (a full disk, a read-only folder) it is opened read-only, and one line on stderr says so."""
    root = resolve_project_dir(project_arg)
    if not root.is_dir():
        from kbc_tui.errors import KbcError

        raise KbcError(f"{root}: project folder not found")
    if _state_url(root):  # a shared PostgreSQL state: the project's settings say where and how to log in
        from kbc_tui.store.open_state import open_state
        from kbc_tui.store.project import Project

        return open_state(Project.load(root))
    history = open_for_reading(root / STATE_DIR / "jobs.sqlite")
    note = getattr(history, "note", None)
    if note:
        print(f"kbc-tui: {note}", file=sys.stderr)
    return history


def _state_url(root) -> bool:
    """Whether ``KBC_STATE_URL`` is set or ``kbc.toml`` has ``[state] url`` (read without loading the project:
    listing jobs stays fast)."""
    import os

    from kbc_tui.store.open_state import ENV_URL

    if os.environ.get(ENV_URL, "").strip():
        return True
    from kbc_tui.store.project import SETTINGS_FILE
    from kbc_tui.store.toml_io import read_toml

    try:
        data, _ = read_toml(root / SETTINGS_FILE)
    except Exception:
        return False  # no or a broken kbc.toml: the SQLite history, as before
    state = data.get("state")
    return isinstance(state, dict) and bool(state.get("url"))


def run(args) -> int:
    if args.orchestration is not None:
        require_id(args.orchestration, "orchestration id")
    history = open_history(args.project)
    try:
        jobs = history.list_jobs(args.orchestration, max(1, args.limit))
    finally:
        history.close()
    if args.json:
        json.dump([job_json(j) for j in jobs], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not jobs:
        print("No jobs yet.")
        return 0
    workers = any(j.worker for j in jobs)  # a shared state: which worker ran each job
    print(f"{'ID':>6}  {'ORCHESTRATION':<24} {'STATUS':<11} {'TRIGGER':<9} {'BY':<22} {'STARTED':<19} "
          + ("DURATION   WORKER" if workers else "DURATION"))
    for j in jobs:
        started = j.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if j.started_at else "-"
        took = f"{j.duration_s:.1f} s" if j.duration_s is not None else "-"
        print(f"{j.id:>6}  {j.orchestration[:24]:<24} {j.status.value:<11} {j.trigger.value:<9} "
              f"{j.triggered_by[:22]:<22} {started:<19} " + (f"{took:<10} {j.worker or '-'}" if workers else took))
    return 0
