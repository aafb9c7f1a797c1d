"""``kbc-tui init`` as a subprocess: a project to start from (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

KBC = [sys.executable, "-m", "kbc_tui"]


def kbc(*args, cwd, git_config=None):
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(git_config or os.devnull)}
    return subprocess.run([*KBC, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_init_takes_the_email_from_git_and_the_example_validates_and_runs(tmp_path):
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\temail = ana@example.com\n")
    root = tmp_path / "sales"
    out = kbc("init", str(root), cwd=tmp_path, git_config=gitconfig)
    assert out.returncode == 0, out.stderr
    settings = (root / "kbc.toml").read_text()
    assert tomllib.loads(settings)["user"] == {"email": "ana@example.com"}
    assert tomllib.loads(settings)["name"] == "sales"
    assert "# [smtp]" in settings and settings.count("\n#") >= 10  # commented, with the options to uncomment
    assert (root / "orchestrations" / "hello.toml").read_text().startswith("# An example orchestration")
    check = kbc("validate", "--project", str(root), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK: 1 orchestration(s), 1 component configuration(s)" in check.stdout
    run = kbc("run", "hello", "--project", str(root), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "by ana@example.com" in run.stdout and "success" in run.stdout


def test_init_without_a_git_email_leaves_a_commented_placeholder(tmp_path):
    root = tmp_path / "p"
    out = kbc("init", str(root), "--name", 'Ana\'s "best" project', cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "set [user] email in kbc.toml" in out.stdout
    settings = (root / "kbc.toml").read_text()
    assert '# email = "you@example.com"' in settings
    assert tomllib.loads(settings) == {"name": 'Ana\'s "best" project', "user": {}}
    assert kbc("validate", "--project", str(root), cwd=tmp_path).returncode == 0


def test_saving_settings_in_an_initialised_project_keeps_its_comments(tmp_path):
    from kbc_tui.store import Project

    root = tmp_path / "p"
    assert kbc("init", str(root), cwd=tmp_path).returncode == 0
    before = (root / "kbc.toml").read_text()
    project = Project.load(root)
    project.settings.user.email = "me@example.com"
    project.save_settings(project.settings)
    after = (root / "kbc.toml").read_text()
    comments = [line for line in before.splitlines() if line.startswith("#")]
    assert [line for line in after.splitlines() if line.startswith("#")] == comments
    assert tomllib.loads(after)["user"] == {"email": "me@example.com"}
