"""``kbc-tui state copy --to URL``: copy the project's SQLite job history into an empty PostgreSQL job state.

The copy keeps job ids (links, e-mails and logs that name job 42 still mean it) and takes one consistent read of
the history while holding the project's runner lock, so no job of this project runs or is recorded meanwhile."""

from __future__ import annotations

import os

from kbc_tui.errors import KbcError


def run(args) -> int:
    if args.state_command == "copy":
        return copy(args)
    raise KbcError(f"unknown state action {args.state_command!r}")  # argparse refuses it first


def copy(args) -> int:
    from kbc_tui.engine.lock import RunnerLock
    from kbc_tui.model.project import check_postgresql_url
    from kbc_tui.store.pg_state import PgJobState
    from kbc_tui.store.project import STATE_DIR, resolve_project_dir
    from kbc_tui.store.state_copy import WORDS, copy_history

    root = resolve_project_dir(args.project)
    if not (root / "kbc.toml").is_file():
        raise KbcError(f"{root}: not a kbc-tui project (no kbc.toml)")
    problem = check_postgresql_url(args.to)
    if problem:
        raise KbcError(f"--to: {problem}")
    password = _password(args, root)
    source = root / STATE_DIR / "jobs.sqlite"
    if not source.is_file():
        raise KbcError(f"no job history at {source}: nothing to copy (has this project run jobs?)")
    lock = RunnerLock(root / STATE_DIR / "runner.lock")
    if not lock.try_acquire():
        pid = lock.holder_pid()
        raise KbcError(f"a kbc-tui process{f' (pid {pid})' if pid else ''} is running jobs in this project: stop "
                       "it (the scheduler, the TUI) before copying, or jobs it records meanwhile would be missing")
    try:
        target = PgJobState(args.to, password=password)
        try:
            counts = copy_history(source, target)
        finally:
            target.close()
    finally:
        lock.release()
    print(f"Copied {source} to {target.path}: " + ", ".join(f"{counts.get(t, 0)} {w}" for t, w in WORDS.items()))
    print(f'To use it, set in kbc.toml:\n  [state]\n  url = "{args.to}"' +
          ("" if args.password_env is None else f'\n  "#password" = "env:{args.password_env}"'))
    return 0


def _password(args, root) -> str:
    if args.password_env is not None:
        if args.password_env not in os.environ:
            raise KbcError(f"--password-env: the environment variable {args.password_env} is not set")
        return os.environ[args.password_env]
    from kbc_tui.store import Project
    from kbc_tui.store.open_state import state_password

    return state_password(Project.load(root))
