"""The ``kbc-tui`` command run as a user runs it: a subprocess on a project folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.projects import orchestration, project, sql_config

#: ``kbc-tui`` as this interpreter runs it (the installed console script does the same)
KBC = [sys.executable, "-m", "kbc_tui"]


def kbc(*args: str, root: Path, timeout: float = 120, env: dict | None = None,
        umask: int | None = None) -> subprocess.CompletedProcess:
    """``kbc-tui ARGS --project ROOT``; ``env`` is added to this process's environment."""
    return subprocess.run([*KBC, *args, "--project", str(root)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env} if env else None,
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def project_with_a_job(folder: Path) -> Path:
    """A project with one orchestration ``good`` (one SQL task) that has run once, successfully."""
    root = project(folder)
    sql_config(root, "ok", "create table t as select 1 as id;", ["t"])
    orchestration(root, "good", [["ok"]])
    assert kbc("run", "good", root=root).returncode == 0
    return root
