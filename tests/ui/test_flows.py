"""Every TUI flow of the issue, driven through Pilot with real key presses."""

import tomllib

from textual.widgets import DataTable, SelectionList, Static

from kbc_tui.model.job import JobStatus
from kbc_tui.ui.screens.component_picker import ComponentPicker
from kbc_tui.ui.screens.home import HomeScreen
from kbc_tui.ui.screens.job_detail import JobDetailScreen
from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from kbc_tui.ui.screens.task_editor import TaskEditor
from kbc_tui.ui.widgets.dialogs import ConfirmModal, UnsavedModal
from kbc_tui.ui.widgets.log_lines import LogLines
from tests.helpers.projects import ENDLESS, orchestration, sql_config
from tests.ui.conftest import SIZE, wait_until


def table_text(table: DataTable) -> list[str]:
    return [" | ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


async def test_home_lists_orchestrations_and_filters(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#orchestrations", DataTable)
        rows = table_text(table)
        assert len(rows) == 2 and "Sales to GoodData" in rows[0] and "never run" in rows[0]
        await pilot.press("slash", "t", "a", "b")
        assert table.row_count == 1 and "Tableau" in table_text(table)[0]
        await pilot.press("escape")
        assert table.row_count == 2


async def test_create_orchestration_then_add_reorder_save(make_app, demo_project):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.press(*"Nightly Load", "enter")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
        path = demo_project / "orchestrations" / "nightly-load.toml"
        assert tomllib.loads(path.read_text()) == {"name": "Nightly Load"}

        await pilot.press("t")
        assert isinstance(app.screen, TaskEditor)
        await pilot.press("a")
        assert isinstance(app.screen, ComponentPicker)
        picker = app.screen.query_one(SelectionList)
        for ref in ("db-extractor/shop", "sql-transformation/sales-report", "db-writer/warehouse"):
            while picker.get_option_at_index(picker.highlighted).value != ref:
                await pilot.press("down")
            await pilot.press("space")
        assert sorted(picker.selected) == ["db-extractor/shop", "db-writer/warehouse",
                                           "sql-transformation/sales-report"]
        await pilot.press("enter")
        editor = app.screen
        assert isinstance(editor, TaskEditor)
        # each kind in its own phase, in the order they must run (issue 12: they all used to land in one)
        assert [(p.name, [t.ref for t in p.tasks]) for p in editor.phases] == [
            ("Extract", ["db-extractor/shop"]), ("Transform", ["sql-transformation/sales-report"]),
            ("Load", ["db-writer/warehouse"])]
        assert editor.dirty

        # across phases: the writer (selected, last added) moves past the top of Load into Transform
        await pilot.press("ctrl+up")
        assert [[t.config for t in p.tasks] for p in editor.phases] == [["shop"], ["sales-report", "warehouse"], []]
        # within a phase: up one
        await pilot.press("shift+up")
        assert [[t.config for t in p.tasks] for p in editor.phases] == [["shop"], ["warehouse", "sales-report"], []]
        await pilot.press("space")  # deactivate the selected (warehouse)
        await pilot.press("c")
        await pilot.press("ctrl+s")
        assert not editor.dirty

        data = tomllib.loads(path.read_text())
        assert [p["name"] for p in data["phases"]] == ["Extract", "Transform"]  # the emptied Load is gone
        assert [[(t["config"], t.get("active", True)) for t in p["tasks"]] for p in data["phases"]] == [
            [("shop", True)], [("warehouse", False), ("sales-report", True)]]
        assert data["phases"][1]["tasks"][0]["continue_on_failure"] is True
        await pilot.press("escape")
        assert isinstance(app.screen, OrchestrationScreen)


async def test_empty_phase_disappears_on_save_and_missing_config_is_red(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    path.write_text(path.read_text().replace('config = "sales-dashboard"', 'config = "gone"'))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TaskEditor("sales-to-tableau"))
        await pilot.pause()
        editor = app.screen
        rows = table_text(editor.query_one(DataTable))
        assert any("tableau-writer/gone" in r and "does not exist" in r for r in rows)
        await pilot.press("down", "down", "p")  # a new empty phase after phase 2
        assert len(editor.phases) == 4 and editor.phases[2].tasks == []
        await pilot.press("ctrl+s")
        data = tomllib.loads(path.read_text())
        assert len(data["phases"]) == 3
        assert data["phases"][2]["tasks"][0]["config"] == "gone"  # never silently dropped


async def test_unsaved_changes_prompt(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-gooddata.toml"
    before = path.read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TaskEditor("sales-to-gooddata"))
        await pilot.pause()
        await pilot.press("delete")
        await pilot.press("escape")
        assert isinstance(app.screen, UnsavedModal)
        await pilot.press("k")  # keep editing
        assert isinstance(app.screen, TaskEditor) and app.screen.dirty
        await pilot.press("escape", "d")  # discard
        assert isinstance(app.screen, HomeScreen)
        assert path.read_bytes() == before
        app.push_screen(TaskEditor("sales-to-gooddata"))
        await pilot.pause()
        await pilot.press("delete", "escape", "s")  # save from the prompt
        assert isinstance(app.screen, HomeScreen)
        assert len(tomllib.loads(path.read_text())["phases"][0]["tasks"]) == 1


async def test_save_refused_when_the_file_changed_on_disk(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-gooddata.toml"
    app = make_app(watch_files=False)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(TaskEditor("sales-to-gooddata"))
        await pilot.pause()
        await pilot.press("delete")
        theirs = path.read_text() + "# someone else's edit\n"
        path.write_text(theirs)
        await pilot.press("ctrl+s")
        assert app.screen.dirty
        assert path.read_text() == theirs
        assert any("changed on disk" in str(n.message) for n in app._notifications)


async def test_run_job_and_watch_it_succeed(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")  # runs the highlighted one: Sales to GoodData
        await wait_until(pilot, lambda: app.engine.list_jobs() and app.engine.list_jobs()[0].status.finished,
                         message="the job to finish")
        job = app.engine.list_jobs()[0]
        assert job.status is JobStatus.SUCCESS, job.message
        await pilot.pause(0.5)
        assert "success" in table_text(app.screen.query_one("#orchestrations", DataTable))[0]
        app.push_screen(JobDetailScreen(job.id))
        await pilot.pause()
        title = str(app.screen.query_one("#job-title", Static).render())
        assert "success" in title and "sales-to-gooddata" in title
        assert app.screen.query_one(LogLines).line_count >= 10
        assert len(table_text(app.screen.query_one("#job-tasks", DataTable))) == 4


async def test_cancel_a_running_job_from_its_screen(make_app, demo_project):
    sql_config(demo_project, "forever", ENDLESS, ["t"])
    orchestration(demo_project, "forever", [["forever"]])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        job_id = await app.run_orchestration("forever")
        app.push_screen(JobDetailScreen(job_id))
        await wait_until(pilot, lambda: app.engine.get_job(job_id).tasks
                         and app.engine.get_job(job_id).tasks[0].status.value == "processing", message="task start")
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.engine.get_job(job_id).status.finished, timeout=10, message="cancel")
        assert app.engine.get_job(job_id).status is JobStatus.CANCELLED
        await pilot.pause(0.3)
        assert "cancelled" in str(app.screen.query_one("#job-title", Static).render())


async def test_broken_file_is_listed_and_the_rest_opens(make_app, demo_project):
    (demo_project / "orchestrations" / "broken.toml").write_text('name = "Broken\n')
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#problems", Static)
        assert "orchestrations/broken.toml:1" in str(panel.render())
        assert app.screen.query_one("#orchestrations", DataTable).row_count == 2


async def test_delete_with_confirmation(make_app, demo_project):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        assert (demo_project / "orchestrations" / "sales-to-gooddata.toml").exists()
        await pilot.press("d", "y")
        assert not (demo_project / "orchestrations" / "sales-to-gooddata.toml").exists()
        assert app.screen.query_one("#orchestrations", DataTable).row_count == 1


async def test_empty_project_invites_to_create(make_app, empty_project):
    app = make_app(empty_project)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "create your first orchestration" in str(app.screen.query_one("#empty", Static).render())


async def test_help_lists_the_screen_bindings(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        rows = table_text(app.screen.query_one(DataTable))
        assert any("Run" in r for r in rows) and any("Delete" in r for r in rows)
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)


async def test_files_changed_on_disk_are_reloaded(make_app, demo_project):
    import kbc_tui.ui.app as app_module

    app_module.WATCH_SECONDS = 0.2
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        path = demo_project / "orchestrations" / "sales-to-tableau.toml"
        path.write_text(path.read_text().replace('name = "Sales to Tableau"', 'name = "Renamed outside"', 1))
        await wait_until(pilot, lambda: "Renamed outside" in " ".join(
            table_text(app.screen.query_one("#orchestrations", DataTable))), message="reload")
    app_module.WATCH_SECONDS = 2.0


async def test_works_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, OrchestrationScreen)
        await pilot.press("escape", "q")


async def test_the_collector_is_back_on_after_the_first_frame(make_app):
    """`kbc-tui` turns the garbage collector off for its start-up; the app must turn it back on."""
    import gc

    gc.disable()
    try:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, gc.isenabled, timeout=5, message="gc enabled")
            assert gc.get_freeze_count() > 0
    finally:
        gc.enable()
        gc.unfreeze()


async def test_palette_runs_an_orchestration(make_app):
    """And leaves no coroutine unawaited: the palette's commands were once made with ``run_orchestration(id)``
    called up front, one coroutine per orchestration at every keystroke; the ones not chosen were never awaited
    ("RuntimeWarning: coroutine 'KbcApp.run_orchestration' was never awaited" after ctrl+p, run, escape, q)."""
    import gc
    import warnings

    app = make_app()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("ctrl+p", *"run sales to tableau")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.engine.list_jobs("sales-to-tableau"), message="the job to be queued")
            assert app.engine.list_jobs("sales-to-tableau")[0].trigger.value == "manual"
            await pilot.press("ctrl+p", *"run")  # the palette again, left with escape, then quit
            await pilot.pause(0.3)
            await pilot.press("escape")
            await pilot.pause(0.1)
            await pilot.press("escape", "q")
            await pilot.pause(0.2)
            if isinstance(app.screen, ConfirmModal):  # the job still runs: quit anyway
                await pilot.press("y")
            await wait_until(pilot, lambda: not app.is_running, message="the app to quit")
        del app, pilot
        gc.unfreeze()  # the app froze what it had made by its first frame
        gc.collect()  # a coroutine never awaited says so when it is collected
    unawaited = [str(w.message) for w in caught if "was never awaited" in str(w.message)]
    assert not unawaited, unawaited
