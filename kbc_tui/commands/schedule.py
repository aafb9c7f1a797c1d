"""``kbc-tui schedule ORCH``: the next fire times, one ISO-8601 time (with offset, in the schedule's zone) per line."""

from __future__ import annotations

import sys
from datetime import datetime

from kbc_tui.engine.jobspec import load_orchestration
from kbc_tui.engine.schedule import next_runs
from kbc_tui.errors import KbcError
from kbc_tui.store.project import resolve_project_dir


def run(args) -> int:
    orch = load_orchestration(resolve_project_dir(args.project), args.orchestration)
    if orch.schedule is None:
        raise KbcError(f"orchestration {orch.id!r} has no [schedule]")
    after = None
    if args.after:
        try:
            after = datetime.fromisoformat(args.after)
        except ValueError:
            raise KbcError(f"--after: expected an ISO-8601 time like 2026-03-28T12:00:00+01:00, got {args.after!r}") \
                from None
    if args.count < 1:
        raise KbcError("--count must be at least 1")
    for moment in next_runs(orch.schedule, count=args.count, after=after):
        print(moment.isoformat())
    if not orch.schedule.enabled:
        print(f"(the schedule of {orch.id!r} is disabled: these times will not fire)", file=sys.stderr)
    return 0
