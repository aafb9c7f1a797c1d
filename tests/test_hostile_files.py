"""Hand-written files in unusual but valid styles, and commands given in unusual but valid ways: saves keep
what the user wrote and mean exactly what the model says; commands act on the project they were told."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

from kbc_tui.store import Project


def changes(before: str, after: str) -> list[str]:
    """The -/+ lines of the unified diff (no headers, no context)."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def kbc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KBC_PROJECT", "KBC_SECRET_KEY")}
    return subprocess.run([sys.executable, "-m", "kbc_tui", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


def test_project_given_before_the_command_is_the_one_used(demo_project, tmp_path):
    """``kbc-tui --project DIR encrypt`` (the option before the command, as ``--help`` shows it) acts on DIR,
    not on ./configs of the current folder."""
    other = tmp_path / "elsewhere"
    (other / "configs").mkdir(parents=True)
    (other / "configs" / "kbc.toml").write_text('name = "decoy"\n')
    secret = demo_project / "components" / "db-extractor" / "shop.toml"
    secret.write_text(secret.read_text().replace('[parameters]\n', '[parameters]\n"#password" = "hunter2"\n'))
    out = kbc("--project", str(demo_project), "encrypt", cwd=other)
    assert out.returncode == 0, out.stderr
    assert "parameters.#password: encrypted" in out.stdout
    assert "hunter2" not in secret.read_text()
    out = kbc("--project", str(demo_project), "validate", cwd=other)
    assert "decoy" not in out.stdout + out.stderr
    assert out.returncode == 0, out.stdout + out.stderr
