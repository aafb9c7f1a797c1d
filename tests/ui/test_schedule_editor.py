"""The schedule editor through Pilot: validation as you type, presets, the 5-run preview, save."""

import tomllib

from textual.widgets import Input, Select, Static
from textual.widgets._select import SelectOverlay

from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from kbc_tui.ui.screens.schedule_editor import ScheduleEditor
from tests.ui.conftest import SIZE


async def open_editor(app, pilot, orch="sales-to-tableau"):
    app.push_screen(OrchestrationScreen(orch))
    await pilot.pause()
    await pilot.press("s")
    await pilot.pause()
    assert isinstance(app.screen, ScheduleEditor)
    return app.screen


async def test_invalid_expression_shows_the_error_and_cannot_be_saved(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    before = path.read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        cron = editor.query_one("#cron", Input)
        cron.value = ""
        await pilot.press(*"61 * * * *")
        await pilot.pause()
        assert "out of range" in str(editor.query_one("#cron-error", Static).render())
        assert str(editor.query_one("#preview", Static).render()) == ""
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ScheduleEditor)
        assert any("Cannot save" in str(n.message) for n in app._notifications)
    assert path.read_bytes() == before


async def test_preset_fills_the_field_and_the_preview_lists_five_runs(make_app, demo_project):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot, "sales-to-gooddata")  # not scheduled yet
        at = editor.query_one("#at", Input)
        at.value = "07:45"
        editor.query_one("#preset", Select).value = 2  # weekdays at HH:MM
        await pilot.pause()
        assert editor.query_one("#cron", Input).value == "45 7 * * 1-5"
        preview = str(editor.query_one("#preview", Static).render()).splitlines()
        assert len(preview) == 6 and all("07:45" in line for line in preview[1:])
        assert "Monday through Friday" in str(editor.query_one("#words", Static).render())
        tz = editor.query_one("#tz", Input)
        tz.value = ""
        tz.focus()
        await pilot.press(*"prag")
        await pilot.pause()
        await pilot.press("enter")
        assert tz.value == "Europe/Prague"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    data = tomllib.loads((demo_project / "orchestrations" / "sales-to-gooddata.toml").read_text())
    assert data["schedule"] == {"cron": "45 7 * * 1-5", "timezone": "Europe/Prague"}


async def test_escape_with_changes_asks(make_app):
    from kbc_tui.ui.widgets.dialogs import UnsavedModal

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        editor.query_one("#cron", Input).value = "0 7 * * *"
        await pilot.press("escape")
        assert isinstance(app.screen, UnsavedModal)
        await pilot.press("d")
        assert isinstance(app.screen, OrchestrationScreen)


async def test_a_cron_that_never_fires_opens_shows_why_and_is_not_saved(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    path.write_text(path.read_text().replace('cron = "0 6 * * 1-5"', 'cron = "0 6 30 2 *"'))
    before = path.read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)  # opening used to crash the app (CroniterBadDateError)
        error = editor.query_one("#cron-error", Static)
        assert str(error.render()) == "never fires: 30 February does not exist"
        assert str(editor.query_one("#preview", Static).render()) == ""
        cron = editor.query_one("#cron", Input)
        cron.value = ""
        await pilot.press(*"0 6 31 4 *")  # as you type
        await pilot.pause()
        assert str(error.render()) == "never fires: 31 April does not exist"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ScheduleEditor)
        assert any("Cannot save: never fires" in str(n.message) for n in app._notifications)
        await pilot.press("backspace", "backspace", "backspace", "5", " ", "*")  # 31 May exists
        await pilot.pause()
        assert str(error.render()) == ""
        assert len(str(editor.query_one("#preview", Static).render()).splitlines()) == 6
    assert path.read_bytes() == before


async def retype(pilot, widget: Input, text: str) -> None:
    """Focus ``widget``, delete what it holds with keys, type ``text``."""
    widget.focus()
    await pilot.pause()
    await pilot.press("end", *["backspace"] * len(widget.value), *text)
    await pilot.pause()


async def test_the_time_drives_the_chosen_preset_and_is_what_gets_saved(make_app, demo_project):
    """Issue 12: Weekdays at HH:MM, then the time changed to 18:45: the cron, its words, the next runs and
    the saved file all say 18:45 (it used to stay at 0 6 * * 1-5 and save 06:00 without a word)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot, "sales-to-gooddata")  # not scheduled yet
        cron, at = editor.query_one("#cron", Input), editor.query_one("#at", Input)
        assert cron.has_focus
        await pilot.press("tab", "enter")  # the preset list opens
        await pilot.pause()
        overlay = editor.query_one(SelectOverlay)
        while "Weekdays" not in str(overlay.get_option_at_index(overlay.highlighted).prompt):
            await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert editor.query_one("#preset", Select).value == 2
        assert cron.value == "0 6 * * 1-5"
        await retype(pilot, at, "18:45")
        assert cron.value == "45 18 * * 1-5"
        assert "18:45" in str(editor.query_one("#words", Static).render())
        runs = str(editor.query_one("#preview", Static).render()).splitlines()[1:]
        assert len(runs) == 5 and all("18:45" in line for line in runs)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    data = tomllib.loads((demo_project / "orchestrations" / "sales-to-gooddata.toml").read_text())
    assert data["schedule"]["cron"] == "45 18 * * 1-5"


async def test_an_existing_preset_schedule_opens_with_its_time_and_a_bad_time_cannot_be_saved(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    assert 'cron = "0 6 * * 1-5"' in path.read_text()
    before = path.read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot)
        cron, at = editor.query_one("#cron", Input), editor.query_one("#at", Input)
        assert editor.query_one("#preset", Select).value == 2 and at.value == "06:00"  # Weekdays at 06:00
        await retype(pilot, at, "25:00")
        assert "Time '25:00': expected HH:MM" in str(editor.query_one("#at-error", Static).render())
        assert cron.value == "0 6 * * 1-5"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ScheduleEditor)  # refused: it would have saved 06:00
        assert any("Cannot save: Time '25:00'" in str(n.message) for n in app._notifications)
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace", *"7:05")
        await pilot.pause()
        assert cron.value == "5 7 * * 1-5" and str(editor.query_one("#at-error", Static).render()) == ""
        # a cron typed by hand lets go of the preset: the time no longer rewrites it
        await retype(pilot, cron, "*/15 * * * *")
        assert editor.query_one("#preset", Select).value is Select.NULL
        await retype(pilot, at, "08:00")
        assert cron.value == "*/15 * * * *"
        await pilot.press("escape", "d")
    assert path.read_bytes() == before
