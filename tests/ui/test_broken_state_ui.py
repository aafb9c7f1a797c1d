"""The app on a project whose state is damaged or read-only: it opens, says what is wrong, and stays up."""

import shutil
import tomllib

import pytest
from textual.widgets import Static

import kbc_tui.engine.engine as engine_module
from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from tests.helpers.readonly import read_only
from tests.ui.conftest import SIZE, wait_until


def notifications(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("broken", ["damaged history", "a file where .kbc belongs"])
async def test_a_broken_state_keeps_the_app_up_and_it_recovers_once_moved_aside(make_app, demo_project,
                                                                                monkeypatch, broken):
    monkeypatch.setattr(engine_module, "FAULT_RETRY_SECONDS", 0.2)
    history = demo_project / ".kbc" / "jobs.sqlite"
    if broken == "damaged history":
        history.parent.mkdir(parents=True, exist_ok=True)
        history.write_bytes(b"garbage, not SQLite " * 100)
        culprit, words = history, ("damaged", "mv ")
    else:
        if history.parent.exists():
            shutil.rmtree(history.parent)
        history.parent.write_text("oops")
        culprit, words = history.parent, ("a file is in the way", ".kbc")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = str(app.screen.query_one("#problems", Static).render())
        assert "Jobs:" in panel and all(w in panel for w in words), panel
        assert any(words[0] in n for n in notifications(app))
        await pilot.press("r")  # run the highlighted orchestration: refused in words, the app stays
        await pilot.pause()
        assert app.is_running and any(words[0] in n for n in notifications(app)[1:]), notifications(app)
        shutil.move(culprit, culprit.with_name(culprit.name + ".damaged"))
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


async def test_the_app_on_a_read_only_project_opens_says_why_and_stays_up(make_app, demo_project):
    """The whole project read-only from the start (history and state folder too): the app opens, the problems
    panel says why jobs cannot run, a run (r) and a save are refused in words, and the app stays up."""
    app0 = make_app()  # a history and state folder exist, as in a project used before
    async with app0.run_test(size=SIZE) as pilot:
        await pilot.pause()
    files = {p: p.read_bytes() for p in demo_project.rglob("*") if p.is_file() and ".kbc" not in p.parts}
    with read_only(demo_project):
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            panel = str(app.screen.query_one("#problems", Static).render())
            assert "Jobs:" in panel and "jobs.sqlite" in panel and "writable" in panel, panel
            await pilot.press("r")  # run: refused in words
            await pilot.pause()
            assert any(n.startswith("cannot open the job history") for n in notifications(app)[1:]), notifications(app)
            app.push_screen(OrchestrationScreen("sales-to-tableau"))
            await pilot.pause()
            await pilot.press("R")
            await pilot.press("ctrl+u", *"New name", "enter")
            await pilot.pause()
            assert any("cannot save" in n and "sales-to-tableau.toml" in n and "unchanged" in n
                       for n in notifications(app)), notifications(app)
            assert app.is_running
    assert {p: p.read_bytes() for p in files} == files
