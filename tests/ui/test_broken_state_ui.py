"""The app on a project whose state is damaged or read-only: it opens, says what is wrong, and stays up."""

import shutil
import tomllib

from textual.widgets import Static

import kbc_tui.engine.engine as engine_module
from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from tests.helpers.readonly import read_only
from tests.ui.conftest import SIZE, wait_until


def notifications(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_a_damaged_history_keeps_the_app_up_and_it_recovers_once_moved_aside(make_app, demo_project,
                                                                                   monkeypatch):
    monkeypatch.setattr(engine_module, "FAULT_RETRY_SECONDS", 0.2)
    history = demo_project / ".kbc" / "jobs.sqlite"
    history.parent.mkdir(parents=True, exist_ok=True)
    history.write_bytes(b"garbage, not SQLite " * 100)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = str(app.screen.query_one("#problems", Static).render())
        assert "Jobs:" in panel and "damaged" in panel and "mv " in panel
        assert any("damaged" in n for n in notifications(app))
        await pilot.press("r")  # run the highlighted orchestration: refused in words, the app stays
        await pilot.pause()
        assert app.is_running and any("damaged" in n for n in notifications(app)[1:])
        shutil.move(history, history.with_name("jobs.sqlite.damaged"))
        await wait_until(pilot, lambda: app.engine.problem is None and app.engine.is_runner,
                         message="the engine to open a new history")
        assert "Jobs:" not in str(app.screen.query_one("#problems", Static).render())
        job_id = await app.run_orchestration("sales-to-tableau")
        assert job_id == 1


async def test_rename_on_a_read_only_project_says_why_and_changes_nothing(make_app, demo_project):
    app = make_app()
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    before = path.read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(OrchestrationScreen("sales-to-tableau"))
        await pilot.pause()
        with read_only(demo_project / "orchestrations"):
            await pilot.press("R")
            await pilot.press("ctrl+u", *"New name", "enter")
            await pilot.pause()
            assert app.is_running
            assert any("cannot save" in n and "sales-to-tableau.toml" in n for n in notifications(app))
        assert path.read_bytes() == before
        assert tomllib.loads(path.read_text())["name"] == "Sales to Tableau"


async def test_a_history_from_a_newer_kbc_tui_is_named_and_left_alone(make_app, demo_project):
    import sqlite3

    from kbc_tui.store.history import SCHEMA_VERSION, JobHistory

    history = demo_project / ".kbc" / "jobs.sqlite"
    JobHistory(history).close()
    with sqlite3.connect(history) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = str(app.screen.query_one("#problems", Static).render())
        assert "Jobs:" in panel and "newer kbc-tui" in panel, panel
        await pilot.press("r")
        await pilot.pause()
        assert app.is_running and any("newer kbc-tui" in n for n in notifications(app))
    with sqlite3.connect(history) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0
