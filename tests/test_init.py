"""``kbc-tui init`` as a subprocess: a project to start from (issue 12)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
import tomllib

KBC = [sys.executable, "-m", "kbc_tui"]


def kbc(*args, cwd, git_config=None):
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(git_config or os.devnull)}
    return subprocess.run([*KBC, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)  # not a terminal: init asks nothing


def kbc_in_terminal(*args, cwd, answers: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run kbc-tui with a pseudo-terminal as stdin/stdout/stderr (no git e-mail); type each answer after a prompt
    ending in ': '. Returns the exit code and all it printed."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "TERM": "dumb"}
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([*KBC, *args], stdin=secondary, stdout=secondary, stderr=secondary, cwd=cwd, env=env,
                            close_fds=True)
    os.close(secondary)
    seen, pending, deadline = b"", list(answers), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
                if pending and seen.rstrip(b" ").endswith(b":"):
                    os.write(primary, pending.pop(0).encode() + b"\n")
            elif proc.poll() is not None:
                break
        else:
            raise AssertionError(f"kbc-tui still running after {timeout} s; it printed: {seen.decode()!r}")
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
        code = proc.wait(10)
    return code, seen.decode().replace("\r\n", "\n")


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


def test_init_in_a_terminal_without_a_git_email_asks_for_it_and_checks_it(tmp_path):
    """Issue 12: the [user] email from git config when there is one, asked otherwise (it only printed a hint)."""
    root = tmp_path / "asked"
    code, said = kbc_in_terminal("init", str(root), cwd=tmp_path, answers=["ana@", "ana@example.com"])
    assert code == 0, said
    assert said.count("e-mail") >= 2 and "invalid e-mail address 'ana@'" in said, said
    assert "set [user] email in kbc.toml" not in said, said
    assert tomllib.loads((root / "kbc.toml").read_text())["user"] == {"email": "ana@example.com"}


def test_init_in_a_terminal_with_an_empty_answer_skips_the_email_with_the_hint(tmp_path):
    root = tmp_path / "skipped"
    code, said = kbc_in_terminal("init", str(root), cwd=tmp_path, answers=[""])
    assert code == 0, said
    assert "Your e-mail" in said and "Enter to skip" in said, said
    assert "set [user] email in kbc.toml" in said, said
    assert tomllib.loads((root / "kbc.toml").read_text())["user"] == {}


def test_init_help_says_what_it_writes_and_what_dir_is(tmp_path):
    out = kbc("--help", cwd=tmp_path)
    words = " ".join(out.stdout.split())
    line = words[words.index(" init "):words.index(" encrypt ")]  # the init line, however argparse wraps it
    assert "empty" not in line and "example" in line, line
    sub = kbc("init", "--help", cwd=tmp_path).stdout
    assert "DIR" in sub and "created if missing" in sub, sub
