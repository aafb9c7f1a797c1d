"""``kbc-tui`` with no command: the full-screen app on the project."""

from __future__ import annotations

from kbc_tui.store import resolve_project_dir


def run(args) -> int:
    from kbc_tui.ui.app import KbcApp

    app = KbcApp(resolve_project_dir(args.project), run_jobs=not getattr(args, "no_run", False))
    app.run()
    guard = app.hangup_guard
    if guard is not None and guard.triggered.is_set():  # the terminal went away or SIGTERM: the engine stopped
        guard.exit_now(0)
    return 0
