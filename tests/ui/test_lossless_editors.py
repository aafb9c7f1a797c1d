"""Every editor screen saves without losing the user's comments (issue 12): real keys, real save, and the
unified diff of the file holds only the changed lines."""

from __future__ import annotations

import difflib

from textual.widgets import Input

from kbc_tui.ui.screens.notifications_editor import NotificationsEditor
from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from kbc_tui.ui.screens.schedule_editor import ScheduleEditor
from kbc_tui.ui.screens.smtp_settings import SmtpSettingsScreen
from kbc_tui.ui.screens.task_editor import TaskEditor
from tests.ui.conftest import SIZE, wait_until

ORCH = "sales-to-tableau"
OWNER = "# Owner: data team, ask before disabling"


def changes(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def commented(root):
    """sales-to-tableau.toml with comments at the top, in a task, after a value, in [schedule] / [notifications]."""
    path = root / "orchestrations" / f"{ORCH}.toml"
    text = path.read_text()
    for old, new in (('name = "Sales to Tableau"', f'{OWNER}\nname = "Sales to Tableau"  # the name'),
                     ('config = "shop"', 'config = "shop"  # the shop database'),
                     ('[schedule]', '[schedule]\n# weekday mornings'),
                     ('[notifications]', '[notifications]\n# the team list')):
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text)
    return path, text


async def open_orchestration(app, pilot) -> None:
    app.push_screen(OrchestrationScreen(ORCH))
    await pilot.pause()


async def test_task_editor_toggle_continue_on_failure_keeps_comments(make_app, demo_project):
    path, before = commented(demo_project)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_orchestration(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TaskEditor)
        await pilot.press("c", "ctrl+s")  # the first task: db-extractor/shop
        await pilot.pause()
        await wait_until(pilot, lambda: path.read_text() != before, message="the save")
    assert changes(before, path.read_text()) == ["+continue_on_failure = true"]


async def test_schedule_editor_keeps_comments(make_app, demo_project):
    path, before = commented(demo_project)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_orchestration(app, pilot)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ScheduleEditor)
        cron = app.screen.query_one("#cron", Input)
        cron.focus()
        cron.value = ""
        await pilot.press(*"0 7 * * 1-5")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    assert changes(before, path.read_text()) == ['-cron = "0 6 * * 1-5"', '+cron = "0 7 * * 1-5"']


async def test_notifications_editor_keeps_comments(make_app, demo_project):
    path, before = commented(demo_project)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_orchestration(app, pilot)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, NotificationsEditor)
        app.screen.query_one("#add-error", Input).focus()
        await pilot.press(*"ops@example.com", "enter")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    assert changes(before, path.read_text()) == ['-error = ["data-team@example.com"]',
                                                 '+error = ["data-team@example.com", "ops@example.com"]']


async def test_rename_keeps_comments(make_app, demo_project):
    path, before = commented(demo_project)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_orchestration(app, pilot)
        await pilot.press("R")
        await pilot.pause()
        app.screen.query_one(Input).value = ""
        await pilot.press(*"Sales to Tableau daily", "enter")
        await pilot.pause()
    assert changes(before, path.read_text()) == ['-name = "Sales to Tableau"  # the name',
                                                 '+name = "Sales to Tableau daily"  # the name']


async def test_smtp_settings_keep_comments(make_app, demo_project):
    path = demo_project / "kbc.toml"
    path.write_text("# Project settings: reviewed by ops\n" + path.read_text().replace(
        '[user]', '[user]\n# who runs jobs by hand') + '\n[smtp]\n# the company relay\nhost = "smtp.example.com"  # ask IT\n')
    before = path.read_text()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, SmtpSettingsScreen)
        port = app.screen.query_one("#port", Input)
        port.focus()
        port.value = ""
        await pilot.press(*"2525", "ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, SmtpSettingsScreen)
    assert changes(before, path.read_text()) == ["+port = 2525"]


async def test_task_editor_disable_remove_and_move_keep_comments(make_app, demo_project):
    path, before = commented(demo_project)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_orchestration(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, TaskEditor)
        await pilot.press("space")  # db-extractor/shop: inactive
        await pilot.press("down", "delete")  # sheet-extractor/sales-targets: removed
        await pilot.press("ctrl+s")
        await pilot.pause()
        await wait_until(pilot, lambda: path.read_text() != before, message="the save")
    assert sorted(changes(before, path.read_text())) == sorted([
        "+active = false", "-", "-[[phases.tasks]]", '-component = "sheet-extractor"', '-config = "sales-targets"'])
    assert f"{OWNER}\n" in path.read_text() and 'config = "shop"  # the shop database' in path.read_text()


async def test_task_editor_add_task_keeps_comments(make_app, demo_project):
    from textual.widgets import SelectionList

    from kbc_tui.ui.screens.component_picker import ComponentPicker

    path, before = commented(demo_project)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_orchestration(app, pilot)
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("end", "a")  # after the last task (Load)
        assert isinstance(app.screen, ComponentPicker)
        picker = app.screen.query_one(SelectionList)
        while picker.get_option_at_index(picker.highlighted).value != "db-writer/warehouse":
            await pilot.press("down")
        await pilot.press("space", "enter")
        assert isinstance(app.screen, TaskEditor)
        await pilot.press("ctrl+s")
        await pilot.pause()
        await wait_until(pilot, lambda: path.read_text() != before, message="the save")
    diff = changes(before, path.read_text())
    assert sorted(diff) == sorted(["+", "+[[phases.tasks]]", '+component = "db-writer"', '+config = "warehouse"'])
    assert path.read_text().startswith(OWNER)
