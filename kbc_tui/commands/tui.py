"""``kbc-tui`` with no command: the full-screen app on the project."""

from __future__ import annotations

from kbc_tui.store import resolve_project_dir


def run(args) -> int:
    from kbc_tui.ui.app import KbcApp

    app = KbcApp(resolve_project_dir(args.project))
    app.run()
    return 0
