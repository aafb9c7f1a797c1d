"""The task editor (t) and its picker, through Pilot (issue 12): where added tasks go, phases named /
renamed / deleted, a task's timeout and retries."""

import tomllib

from textual.widgets import DataTable, Input, Label, SelectionList, Static

from kbc_tui.ui.screens.component_picker import ComponentPicker
from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from kbc_tui.ui.screens.task_editor import TaskEditor, TaskLimitsModal
from kbc_tui.ui.widgets.dialogs import ConfirmModal, PromptModal
from tests.ui.conftest import SIZE


def rows(editor) -> list[str]:
    table = editor.query_one(DataTable)
    return [" | ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def phases_of(editor) -> list[tuple[str, list[str]]]:
    return [(p.name, [t.config for t in p.tasks]) for p in editor.phases]


async def open_tasks(app, pilot, orch: str) -> TaskEditor:
    app.push_screen(OrchestrationScreen(orch))
    await pilot.pause()
    await pilot.press("t")
    await pilot.pause()
    assert isinstance(app.screen, TaskEditor)
    return app.screen


async def test_picked_writer_goes_into_load_and_the_picker_marks_configurations_in_use(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-gooddata.toml"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_tasks(app, pilot, "sales-to-gooddata")
        assert editor.selection() == (0, 0)  # the cursor is in Extract: it used to decide where tasks went
        await pilot.press("a")
        assert isinstance(app.screen, ComponentPicker)
        picker = app.screen.query_one(SelectionList)
        labels = {picker.get_option_at_index(i).value: str(picker.get_option_at_index(i).prompt)
                  for i in range(picker.option_count)}
        assert "(already a task)" in labels["db-extractor/shop"]
        assert "(already a task)" in labels["gooddata-writer/sales-workspace"]
        assert "(already a task)" not in labels["db-writer/warehouse"]
        assert "(already a task)" not in labels["tableau-writer/sales-dashboard"]
        while picker.get_option_at_index(picker.highlighted).value != "db-writer/warehouse":
            await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is editor
        assert phases_of(editor) == [("Extract", ["shop", "sales-targets"]), ("Transform", ["sales-report"]),
                                     ("Load", ["sales-workspace", "warehouse"])]
        assert editor.selection() == (2, 1)  # the added task is highlighted
        assert any("Added 1 task(s): 1 to 3. Load" in str(n.message) for n in app._notifications)
        await pilot.press("ctrl+s")
        await pilot.pause()
    data = tomllib.loads(path.read_text())
    assert [(p["name"], [t["config"] for t in p["tasks"]]) for p in data["phases"]] == [
        ("Extract", ["shop", "sales-targets"]), ("Transform", ["sales-report"]),
        ("Load", ["sales-workspace", "warehouse"])]


async def test_phases_are_renamed_and_a_phase_with_tasks_is_deleted_after_asking(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_tasks(app, pilot, "sales-to-tableau")
        await pilot.press("r")  # the phase of the highlighted row: Extract
        assert isinstance(app.screen, PromptModal)
        await pilot.press("ctrl+a", "ctrl+k", *"Pull", "enter")
        await pilot.pause()
        assert app.screen is editor and editor.phases[0].name == "Pull"
        assert rows(editor)[0].startswith("1. Pull")
        await pilot.press("down", "down", "x")  # on the transformation: delete its phase
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "Delete 2. Transform and its 1 task(s)?" in str(app.screen.query_one(".question", Label).render())
        await pilot.press("n")
        assert app.screen is editor and len(editor.phases) == 3
        await pilot.press("x", "y")
        await pilot.pause()
        assert phases_of(editor) == [("Pull", ["shop", "sales-targets"]), ("Load", ["sales-dashboard"])]
        await pilot.press("p", "r")  # a new phase, named at once
        await pilot.press(*"Later", "enter")
        await pilot.pause()
        assert [p.name for p in editor.phases] == ["Pull", "Later", "Load"]
        await pilot.press("x")  # empty: deleted without a question
        await pilot.pause()
        assert app.screen is editor and [p.name for p in editor.phases] == ["Pull", "Load"]
        await pilot.press("ctrl+s")
        await pilot.pause()
    data = tomllib.loads(path.read_text())
    assert [(p["name"], [t["config"] for t in p["tasks"]]) for p in data["phases"]] == [
        ("Pull", ["shop", "sales-targets"]), ("Load", ["sales-dashboard"])]


async def test_a_task_s_timeout_and_retries_are_edited_with_reasons_next_to_the_fields(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_tasks(app, pilot, "sales-to-tableau")
        await pilot.press("e")  # the highlighted task: db-extractor/shop
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, TaskLimitsModal)
        assert modal.query_one("#timeout_minutes", Input).has_focus
        await pilot.press(*"0", "tab", "ctrl+a", "ctrl+k", *"many", "tab", "ctrl+a", "ctrl+k", *"-5", "enter")
        await pilot.pause()
        assert app.screen is modal  # refused
        problems = {n: str(modal.query_one(f"#{n}-problem", Static).render())
                    for n in ("timeout_minutes", "retries", "retry_delay_seconds")}
        assert problems == {"timeout_minutes": "minutes, a number above 0 (empty: no timeout)",
                            "retries": "a whole number from 0 to 100",
                            "retry_delay_seconds": "seconds, a number >= 0"}
        assert modal.query_one("#timeout_minutes", Input).has_focus  # the first wrong field
        await pilot.press("backspace", *"45", "tab", "ctrl+a", "ctrl+k", "3", "tab", "ctrl+a", "ctrl+k", "1", "0")
        await pilot.pause()
        assert not any(modal.query_one(f"#{n}-problem", Static).display for n in problems)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is editor
        task = editor.phases[0].tasks[0]
        assert (task.timeout_minutes, task.retries, task.retry_delay_seconds) == (45, 3, 10)
        assert "stop, retry 3×/10s, timeout 45m" in rows(editor)[0]
        await pilot.press("e", "escape")  # escape: nothing changes
        await pilot.pause()
        assert app.screen is editor and task.retries == 3
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = tomllib.loads(path.read_text())["phases"][0]["tasks"][0]
    assert saved == {"component": "db-extractor", "config": "shop", "timeout_minutes": 45, "retries": 3,
                     "retry_delay_seconds": 10}
