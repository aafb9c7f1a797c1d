"""``kbc-tui validate``, ``init`` and ``--version`` as subprocesses."""

import subprocess
import sys

import pytest

from kbc_tui import __version__

KBC = [sys.executable, "-m", "kbc_tui"]


def kbc(*args, cwd=None):
    return subprocess.run([*KBC, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_demo_project_is_valid(demo_project):
    out = kbc("validate", "--project", str(demo_project))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: 2 orchestration(s), 7 component configuration(s)" in out.stdout


def test_corrupted_orchestration_names_file_and_line(demo_project):
    path = demo_project / "orchestrations" / "sales-to-gooddata.toml"
    lines = path.read_text().splitlines()
    lines[5] = "[[phases.tasks]"  # line 6: a broken table header
    path.write_text("\n".join(lines) + "\n")
    out = kbc("validate", "--project", str(demo_project))
    assert out.returncode == 1
    [line] = out.stdout.strip().splitlines()
    assert line.startswith("orchestrations/sales-to-gooddata.toml:6:")
    assert "invalid TOML" in line


def test_every_problem_on_its_own_line(empty_project):
    (empty_project / "orchestrations" / "a.toml").write_text('name = 3\nfoo = 1\n')
    (empty_project / "orchestrations" / "b.toml").write_text('[schedule]\ncron = "* *"\n')
    out = kbc("validate", "--project", str(empty_project))
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        "orchestrations/a.toml:1: name: expected a string, got an integer",
        "orchestrations/a.toml:2: foo: unknown key",
        "orchestrations/b.toml:1: name: is required",
        "orchestrations/b.toml:2: schedule.cron: expected 5 fields (minute hour day-of-month month day-of-week), "
        "got 2: '* *'",
    ]


def test_an_empty_task_config_is_reported_once(demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    text = path.read_text()
    path.write_text(text.replace('config = "sales-targets"', 'config = ""', 1))
    line = text[: text.index('config = "sales-targets"')].count("\n") + 1
    out = kbc("validate", "--project", str(demo_project))
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        f"orchestrations/sales-to-tableau.toml:{line}: phases[0].tasks[1].config: must not be empty",
    ]


def test_a_component_file_with_a_toml_error_is_reported_once(demo_project):
    """Not a second time as "configuration ... does not exist" for every task that uses it."""
    path = demo_project / "components" / "db-extractor" / "shop.toml"
    path.write_text(path.read_text() + 'name = "broken\n')
    out = kbc("validate", "--project", str(demo_project))
    assert out.returncode == 1
    [line] = out.stdout.splitlines()
    assert line.startswith("components/db-extractor/shop.toml:") and "invalid TOML" in line, out.stdout
    assert "1 problem(s)" in out.stderr


def test_a_task_on_an_unreadable_component_file_says_so(demo_project):
    from kbc_tui.store import Project

    path = demo_project / "components" / "db-extractor" / "shop.toml"
    path.write_text(path.read_text() + 'name = "broken\n')
    project = Project.load(demo_project)
    task = project.orchestrations["sales-to-tableau"].tasks[0]
    assert project.task_problem(task) == (
        "configuration 'db-extractor/shop' cannot be read: components/db-extractor/shop.toml has errors")


def test_project_from_environment_and_default(demo_project, tmp_path, monkeypatch):
    monkeypatch.setenv("KBC_PROJECT", str(demo_project))
    assert kbc("validate").returncode == 0
    monkeypatch.delenv("KBC_PROJECT")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = kbc("validate", cwd=elsewhere)
    assert out.returncode == 1 and "configs: project folder not found" in out.stderr


def test_init_scaffolds_a_valid_empty_project(tmp_path):
    out = kbc("init", str(tmp_path / "new"))
    assert out.returncode == 0
    assert (tmp_path / "new" / ".gitignore").read_text().startswith("# kbc-tui state")
    assert kbc("validate", "--project", str(tmp_path / "new")).returncode == 0
    again = kbc("init", str(tmp_path / "new"))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_version():
    out = kbc("--version")
    assert out.stdout.strip() == f"kbc-tui {__version__}"


def test_a_cron_that_never_fires_is_a_problem(demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    text = path.read_text()
    path.write_text(text.replace('cron = "0 6 * * 1-5"', 'cron = "0 6 30 2 *"'))
    line = text[: text.index("cron = ")].count("\n") + 1
    out = kbc("validate", "--project", str(demo_project))
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        f"orchestrations/sales-to-tableau.toml:{line}: schedule.cron: never fires: 30 February does not exist"]


def test_infinite_and_nan_numbers_are_refused_everywhere(demo_project):
    settings = demo_project / "kbc.toml"
    settings.write_text(settings.read_text() + "\n[smtp]\nhost = \"localhost\"\ntimeout_seconds = inf\n")
    sheet = demo_project / "components" / "sheet-extractor" / "sales-targets.toml"
    sheet.write_text(sheet.read_text() + "timeout_seconds = nan\n")
    out = kbc("validate", "--project", str(demo_project))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert any(line.startswith("kbc.toml:") and line.endswith(
        "smtp.timeout_seconds: expected a finite number, got inf") for line in lines), lines
    assert any(line.startswith("components/sheet-extractor/sales-targets.toml:") and line.endswith(
        "parameters.timeout_seconds: expected a finite number, got nan") for line in lines), lines


def test_a_password_sent_without_encryption_is_a_warning(demo_project):
    settings = demo_project / "kbc.toml"
    text = settings.read_text() + '\n[smtp]\nhost = "smtp.example.com"\nusername = "bot"\n"#password" = "env:SMTP_PW"\n'
    settings.write_text(text)
    out = kbc("validate", "--project", str(demo_project))
    assert out.returncode == 0, out.stdout + out.stderr  # a warning, not an error
    line = text[: text.index("[smtp]")].count("\n") + 1
    assert out.stdout.splitlines() == [
        f"kbc.toml:{line}: smtp.security: warning: the password is sent unencrypted (security = \"none\"); "
        "use \"starttls\" or \"tls\"",
        f"{demo_project}: OK: 2 orchestration(s), 7 component configuration(s); 1 warning",
    ]
    settings.write_text(text.replace('username = "bot"', 'username = "bot"\nsecurity = "starttls"'))
    out = kbc("validate", "--project", str(demo_project))
    assert out.returncode == 0 and "warning" not in out.stdout


@pytest.mark.parametrize("command, words", [
    (["run", "--help"], ["ORCH", "file name in orchestrations/"]),
    (["jobs", "--help"], ["--orchestration ID", "only this orchestration's jobs", "at most N jobs"]),
    (["job", "--help"], ["ID", "the job's number"]),
    (["cancel", "--help"], ["the job's number"]),
    (["schedule", "--help"], ["file name in orchestrations/", "how many fire times"]),
])
def test_cli_help_explains_every_argument(command, words):
    """Every positional argument and option says what it is (ORCH, ID, -o, -n were bare names)."""
    out = subprocess.run([sys.executable, "-m", "kbc_tui", *command], capture_output=True, text=True,
                         check=True).stdout
    for word in words:
        assert word in " ".join(out.split()), (word, out)


def test_project_before_the_command_counts(demo_project, tmp_path):
    """``kbc-tui --project DIR validate`` used ./configs: the command's own --project default replaced DIR."""
    elsewhere = tmp_path / "elsewhere"  # (tmp_path/configs is the demo: ./configs would be right by chance)
    elsewhere.mkdir()
    out = kbc("--project", str(demo_project), "validate", cwd=elsewhere)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK: 2 orchestration(s)" in out.stdout


def test_an_smtp_host_that_is_no_server_name_is_a_problem(tmp_path):
    """'smtp.example.com x' would only fail at the first e-mail, hours later: validate says it now."""
    import subprocess
    import sys

    root = tmp_path / "p"
    (root / "orchestrations").mkdir(parents=True)
    (root / "components").mkdir()
    for host, bad in [("smtp.example.com x", True), ("smtp.example.com", False), ("127.0.0.1", False),
                      ("::1", False), ("poštа.example.cz", False), ("-bad-.example.com", True)]:
        (root / "kbc.toml").write_text(f'name = "p"\n\n[smtp]\nhost = "{host}"\n', encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "kbc_tui.cli", "validate", "--project", str(root)],
                             capture_output=True, text=True)
        assert ("smtp.host" in out.stdout + out.stderr) is bad, (host, out.stdout, out.stderr)
        if bad:
            assert "invalid host" in out.stdout + out.stderr and out.returncode == 1
