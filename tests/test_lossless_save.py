"""Saving edits the file in place: comments, blank lines, key order, quoting and inline tables stay; only the
lines of the changed keys change (issue 12). Each save path is checked on the unified diff of the file."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest

from kbc_tui.model import Phase, Task
from kbc_tui.store import Project
from kbc_tui.store.toml_io import update_toml

ORCHESTRATION = '''\
# Owner: data team, ask before disabling
name = "Sales"  # shown on the home screen
description = 'single quoted, on purpose'

# extract first, then load
[[phases]]
name = "Extract"  # the first phase

[[phases.tasks]]
# the shop's own database
component = "db-extractor"
config = "shop"  # after a value

[[phases.tasks]]
component = "sheet-extractor"
config = "sales-targets"
active = true  # an explicit default

[[phases]]
name = "Load"

[[phases.tasks]]
component = "db-writer"
config = "warehouse"
continue_on_failure = true  # the warehouse is flaky

[schedule]
# every morning, Prague time
cron = "0 6 * * *"  # six o'clock
timezone = "Europe/Prague"

[notifications]
# the on-call list
error = [
    "ops@example.com",  # pager
]
warning = ["data@example.com"]
'''

SETTINGS = '''\
# Project settings: reviewed by ops
name = "Demo"

[user]
# who I am in the job history
email = "me@example.com"  # work address

[smtp]
# the company relay
host = "smtp.example.com"  # ask IT before changing
port = 587
security = "starttls"
'''


def changes(before: str, after: str) -> list[str]:
    """The -/+ lines of the unified diff (no headers, no context)."""
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.fixture
def project_dir(demo_project: Path) -> Path:
    (demo_project / "orchestrations" / "sales.toml").write_text(ORCHESTRATION)
    (demo_project / "kbc.toml").write_text(SETTINGS)
    return demo_project


def edit_orchestration(root: Path, change) -> list[str]:
    path = root / "orchestrations" / "sales.toml"
    before = path.read_text()
    project = Project.load(root)
    assert not project.problems, project.problems
    orch = project.orchestrations["sales"]
    change(orch)
    assert project.save_orchestration(orch)
    assert Project.load(root).orchestrations["sales"].to_toml() == orch.to_toml()  # the file says what the model says
    return changes(before, path.read_text())


def test_toggle_continue_on_failure_changes_one_line(project_dir):
    def toggle(orch):
        orch.phases[0].tasks[0].continue_on_failure = True

    assert edit_orchestration(project_dir, toggle) == ["+continue_on_failure = true"]


def test_toggle_off_removes_only_its_line(project_dir):
    def toggle(orch):
        orch.phases[1].tasks[0].continue_on_failure = False

    assert edit_orchestration(project_dir, toggle) == ["-continue_on_failure = true  # the warehouse is flaky"]


def test_disable_a_task_replaces_the_explicit_default_in_place(project_dir):
    def disable(orch):
        orch.phases[0].tasks[1].active = False

    assert edit_orchestration(project_dir, disable) == ["-active = true  # an explicit default",
                                                        "+active = false  # an explicit default"]


def test_reorder_tasks_moves_them_with_their_comments(project_dir):
    def swap(orch):
        orch.phases[0].tasks.reverse()

    diff = edit_orchestration(project_dir, swap)
    assert sorted(diff) == sorted(["+[[phases.tasks]]", "+component = \"sheet-extractor\"",
                                   "+config = \"sales-targets\"", "+active = true  # an explicit default", "+",
                                   "-", "-[[phases.tasks]]", "-component = \"sheet-extractor\"",
                                   "-config = \"sales-targets\"", "-active = true  # an explicit default"])
    text = (project_dir / "orchestrations" / "sales.toml").read_text()
    assert "# the shop's own database\ncomponent = \"db-extractor\"\nconfig = \"shop\"  # after a value" in text


def test_add_a_task(project_dir):
    def add(orch):
        orch.phases[1].tasks.append(Task("tableau-writer", "sales-dashboard"))

    assert edit_orchestration(project_dir, add) == [
        "+[[phases.tasks]]", '+component = "tableau-writer"', '+config = "sales-dashboard"', "+"]


def test_remove_a_task(project_dir):
    def remove(orch):
        del orch.phases[0].tasks[1]

    assert edit_orchestration(project_dir, remove) == [
        "-", "-[[phases.tasks]]", '-component = "sheet-extractor"', '-config = "sales-targets"',
        "-active = true  # an explicit default"]


def test_add_a_phase(project_dir):
    def add(orch):
        orch.phases.append(Phase("Publish", [Task("tableau-writer", "sales-dashboard")]))

    assert edit_orchestration(project_dir, add) == [
        "+[[phases]]", '+name = "Publish"', "+", "+[[phases.tasks]]", '+component = "tableau-writer"',
        '+config = "sales-dashboard"', "+"]


def test_schedule_edit(project_dir):
    def edit(orch):
        orch.schedule.cron = "30 7 * * 1-5"
        orch.schedule.enabled = False

    assert edit_orchestration(project_dir, edit) == [
        "-cron = \"0 6 * * *\"  # six o'clock", "+cron = \"30 7 * * 1-5\"  # six o'clock",
        "+enabled = false"]


def test_notifications_edit(project_dir):
    def edit(orch):
        orch.notifications.error.append("boss@example.com")
        orch.notifications.warning = []
        orch.notifications.success = ["team@example.com"]

    assert edit_orchestration(project_dir, edit) == [
        '+    "boss@example.com",', '-warning = ["data@example.com"]', '+success = ["team@example.com"]']


def test_rename_keeps_the_comments(project_dir):
    before = (project_dir / "orchestrations" / "sales.toml").read_text()
    project = Project.load(project_dir)
    project.rename_orchestration("sales", name="Sales report", new_id="sales-report")
    after = (project_dir / "orchestrations" / "sales-report.toml").read_text()
    assert not (project_dir / "orchestrations" / "sales.toml").exists()
    assert changes(before, after) == ['-name = "Sales"  # shown on the home screen',
                                      '+name = "Sales report"  # shown on the home screen']


def test_smtp_and_user_settings_keep_their_comments(project_dir):
    path = project_dir / "kbc.toml"
    before = path.read_text()
    project = Project.load(project_dir)
    settings = project.settings
    settings.smtp.port = 2525
    settings.smtp.username = "robot"
    settings.smtp.password = "hunter2"
    settings.user.email = "me@work.example.com"
    assert project.save_settings(settings)
    after = path.read_text()
    diff = changes(before, after)
    token = Project.load(project_dir).settings.smtp.password
    assert token.startswith("KBC::") or token != "hunter2", token
    assert diff == ['-email = "me@example.com"  # work address', '+email = "me@work.example.com"  # work address',
                    "-port = 587", "+port = 2525", '+username = "robot"', f'+"#password" = "{token}"']
    # saving again without a change writes nothing (the encrypted password is not encrypted again)
    again = Project.load(project_dir)
    again.save_settings(again.settings)
    assert path.read_text() == after


def test_component_save_keeps_comments(project_dir):
    path = project_dir / "components" / "db-writer" / "warehouse.toml"
    path.write_text("# load target\n" + path.read_text().replace('incremental = true',
                                                                  'incremental = true  # keep history'))
    before = path.read_text()
    project = Project.load(project_dir)
    cfg = project.components["db-writer/warehouse"]
    cfg.parameters["tables"][0]["table"] = "revenue"
    assert project.save_component(cfg)
    assert changes(before, path.read_text()) == ['-table = "revenue_vs_target"', '+table = "revenue"']


def test_encrypt_command_changes_only_the_secret_lines(project_dir):
    settings = project_dir / "kbc.toml"
    settings.write_text(SETTINGS + 'username = "robot"\n"#password" = "hunter2"  # encrypt me\n')
    component = project_dir / "components" / "db-writer" / "warehouse.toml"
    component.write_text("# load target\n" + component.read_text().replace(
        '[parameters]\n', '[parameters]\n# the password is plain until encrypted\n"#password" = "s3cret"\n'))
    before = {p: p.read_text() for p in (settings, component)}
    out = subprocess.run([sys.executable, "-m", "kbc_tui", "encrypt", "--project", str(project_dir)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    project = Project.load(project_dir)
    smtp_token = project.settings.smtp.password
    db_token = project.components["db-writer/warehouse"].parameters["#password"]
    assert project.secrets.resolve(smtp_token) == "hunter2" and project.secrets.resolve(db_token) == "s3cret"
    assert changes(before[settings], settings.read_text()) == [
        '-"#password" = "hunter2"  # encrypt me', f'+"#password" = "{smtp_token}"  # encrypt me']
    assert changes(before[component], component.read_text()) == [
        '-"#password" = "s3cret"', f'+"#password" = "{db_token}"']


def test_inline_tables_and_flat_tasks_stay_as_written(demo_project):
    path = demo_project / "orchestrations" / "flat.toml"
    path.write_text('name = "Flat"\nschedule = { cron = "0 6 * * *" }  # inline\n\n'
                    '[[tasks]]  # one per phase\ncomponent = "db-extractor"\nconfig = "shop"\n')
    before = path.read_text()
    project = Project.load(demo_project)
    orch = project.orchestrations["flat"]
    orch.schedule.enabled = False
    orch.phases[0].tasks[0].retries = 2
    project.save_orchestration(orch)
    assert changes(before, path.read_text()) == [
        '-schedule = { cron = "0 6 * * *" }  # inline', '+schedule = { cron = "0 6 * * *", enabled = false }  # inline',
        "+retries = 2"]


def test_new_files_are_canonical(empty_project):
    project = Project.load(empty_project)
    project.create_orchestration("fresh", "Fresh")
    assert (empty_project / "orchestrations" / "fresh.toml").read_text() == 'name = "Fresh"\n'


def test_an_unchanged_model_reproduces_the_file_byte_for_byte():
    import tomllib

    assert update_toml(ORCHESTRATION, tomllib.loads(ORCHESTRATION), tomllib.loads(ORCHESTRATION)).decode() \
        == ORCHESTRATION


def test_duplicate_copies_the_file_with_its_comments_and_disables_the_schedule(project_dir):
    source = project_dir / "orchestrations" / "sales.toml"
    project = Project.load(project_dir)
    copy = project.duplicate_orchestration("sales", "sales-copy", "Sales (copy)")
    path = project_dir / "orchestrations" / "sales-copy.toml"
    assert source.read_text() == ORCHESTRATION  # the original is untouched
    assert changes(ORCHESTRATION, path.read_text()) == [
        '-name = "Sales"  # shown on the home screen', '+name = "Sales (copy)"  # shown on the home screen',
        "+enabled = false"]
    again = Project.load(project_dir)
    assert not again.problems
    assert again.orchestrations["sales-copy"] == copy
    assert copy.schedule.enabled is False and again.orchestrations["sales"].schedule.enabled is True
    with pytest.raises(Exception, match="already exists"):
        again.duplicate_orchestration("sales", "sales-copy", "Again")


# -- random edits: the in-place edit itself says exactly what the model says ---------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

REFS = [("db-extractor", "shop"), ("sheet-extractor", "sales-targets"), ("db-writer", "warehouse"),
        ("tableau-writer", "sales-dashboard"), ("sql-transformation", "sales-report")]
OPS = st.lists(st.tuples(st.sampled_from(["toggle_cof", "toggle_active", "move", "remove", "add", "add_phase",
                                          "rename_phase", "retries", "cron", "enabled", "tz", "emails", "name"]),
                         st.integers(0, 20), st.integers(0, 20)), max_size=8)


def _apply(orch, op, a, b):
    from kbc_tui.model.orchestration import Schedule

    tasks = [(p, t) for p in orch.phases for t in p.tasks]
    if op in ("toggle_cof", "toggle_active", "retries") and tasks:
        _, task = tasks[a % len(tasks)]
        if op == "retries":
            task.retries = b % 4
        else:
            attr = "continue_on_failure" if op == "toggle_cof" else "active"
            setattr(task, attr, not getattr(task, attr))
    elif op == "move" and tasks:
        phase, task = tasks[a % len(tasks)]
        phase.tasks.remove(task)
        target = orch.phases[b % len(orch.phases)]
        target.tasks.insert(b % (len(target.tasks) + 1), task)
    elif op == "remove" and tasks:
        phase, task = tasks[a % len(tasks)]
        phase.tasks.remove(task)
    elif op == "add" and orch.phases:
        phase = orch.phases[a % len(orch.phases)]
        phase.tasks.insert(b % (len(phase.tasks) + 1), Task(*REFS[a % len(REFS)]))
    elif op == "add_phase":
        orch.phases.insert(a % (len(orch.phases) + 1), Phase(f"P{b}", [Task(*REFS[b % len(REFS)])]))
    elif op == "rename_phase" and orch.phases:
        orch.phases[a % len(orch.phases)].name = f"Phase {b}"
    elif op == "cron":
        if orch.schedule is None:
            orch.schedule = Schedule(f"{b % 60} 6 * * *")
        else:
            orch.schedule.cron = f"{b % 60} {a % 24} * * *"
    elif op == "enabled" and orch.schedule is not None:
        orch.schedule.enabled = not orch.schedule.enabled
    elif op == "tz" and orch.schedule is not None:
        orch.schedule.timezone = ["UTC", "Europe/Prague", "Asia/Tokyo"][a % 3]
    elif op == "emails":
        event = ["error", "warning", "success", "processing"][a % 4]
        addresses = getattr(orch.notifications, event)
        if addresses and b % 2:
            addresses.pop(b % len(addresses))
        else:
            addresses.insert(b % (len(addresses) + 1), f"u{b}@example.com")
    elif op == "name":
        orch.name = f"Sales {a}"


INLINE_STYLE = '''\
# Owner: data team, ask before disabling
name = "Sales"
schedule = { cron = "0 6 * * *", timezone = "Europe/Prague" }  # every morning, Prague time
notifications = {error = ["ops@example.com"]}

[[phases]]
name = "Extract"
tasks = [
    { component = "db-extractor", config = "shop" },  # the shop
    { component = "sheet-extractor", config = 'sales-targets' },
]

[[phases]]
name = "Load"
tasks = [{ component = "db-writer", config = "warehouse", continue_on_failure = true }]
'''


@settings(max_examples=150, deadline=None)
@given(ops=OPS, source=st.sampled_from([ORCHESTRATION, INLINE_STYLE]))
def test_random_edits_are_applied_in_place(ops, source):
    import tomllib

    def meaning(text: str) -> dict:
        from kbc_tui.model import Orchestration

        return Orchestration.from_toml(tomllib.loads(text), orch_id="sales", path=Path("sales.toml"),
                                       problems=[]).to_toml()

    from kbc_tui.model import Orchestration

    orch = Orchestration.from_toml(tomllib.loads(source), orch_id="sales", path=Path("sales.toml"),
                                   problems=[])
    for op, a, b in ops:
        _apply(orch, op, a, b)
    out = update_toml(source, meaning(source), orch.to_toml()).decode()
    assert meaning(out) == orch.to_toml()  # no canonical fallback needed
    assert out.startswith("# Owner: data team, ask before disabling\n")
    assert "# every morning, Prague time\n" in out
    if orch.to_toml() == meaning(source):
        assert out == source


def test_emptied_tables_keep_their_comments_where_empty_means_none(project_dir):
    def clear(orch):
        orch.notifications.error = []
        orch.notifications.warning = []

    assert edit_orchestration(project_dir, clear) == [
        "-error = [", '-    "ops@example.com",  # pager', "-]", '-warning = ["data@example.com"]']
    text = (project_dir / "orchestrations" / "sales.toml").read_text()
    assert text.endswith("[notifications]\n# the on-call list\n")


def test_a_removed_schedule_removes_its_table(project_dir):
    def unschedule(orch):
        orch.schedule = None

    diff = edit_orchestration(project_dir, unschedule)  # an empty [schedule] would be invalid: it goes
    assert diff == ["-[schedule]", "-# every morning, Prague time", "-cron = \"0 6 * * *\"  # six o'clock",
                    '-timezone = "Europe/Prague"', "-"]


def test_clearing_the_user_email_keeps_the_user_table_comment(project_dir):
    path = project_dir / "kbc.toml"
    before = path.read_text()
    project = Project.load(project_dir)
    project.settings.user.email = ""
    project.save_settings(project.settings)
    assert changes(before, path.read_text()) == ['-email = "me@example.com"  # work address']


def test_an_empty_phase_goes_and_the_rest_keeps_its_comments(project_dir):
    path = project_dir / "orchestrations" / "sales.toml"
    path.write_text(ORCHESTRATION.replace('[[phases]]\nname = "Load"\n',
                                          '[[phases]]\nname = "Later"  # nothing yet\n\n[[phases]]\nname = "Load"\n'))

    def toggle(orch):
        orch.phases[2].tasks[0].continue_on_failure = False

    assert sorted(edit_orchestration(project_dir, toggle)) == sorted([  # difflib may pick either [[phases]]
        "-[[phases]]", '-name = "Later"  # nothing yet', "-", "-continue_on_failure = true  # the warehouse is flaky"])
    assert "# the shop's own database\n" in path.read_text()
