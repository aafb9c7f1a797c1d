"""Creating (n) with a readable, editable id and duplicating (D) an orchestration, through Pilot (issue 12)."""

from __future__ import annotations

import tomllib

from textual.widgets import DataTable, Input, Static

from kbc_tui.ui.screens.home import HomeScreen
from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from kbc_tui.ui.widgets.dialogs import NameAndIdModal
from tests.ui.conftest import SIZE


def field(app, selector: str) -> Input:
    return app.screen.query_one(selector, Input)


def error_text(app) -> str:
    return str(app.screen.query_one("#prompt-error", Static).render())


async def test_new_orchestration_proposes_a_transliterated_id(make_app, demo_project):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, NameAndIdModal)
        await pilot.press(*"Přehled tržeb")
        await pilot.pause()
        assert field(app, "#new-id").value == "prehled-trzeb"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    path = demo_project / "orchestrations" / "prehled-trzeb.toml"
    assert tomllib.loads(path.read_text()) == {"name": "Přehled tržeb"}


async def test_new_orchestration_id_can_be_edited_and_is_checked(make_app, demo_project):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.press(*"売上")
        await pilot.pause()
        assert field(app, "#new-id").value == "maishang"
        await pilot.press("tab")  # to the id
        assert app.screen.focused is field(app, "#new-id")
        await pilot.press("end", *["backspace"] * 8, *"Sales JP")
        await pilot.pause()
        assert "must be 1-64 characters of lowercase letters" in error_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, NameAndIdModal)  # refused
        field(app, "#new-id").value = ""
        await pilot.press(*"sales-to-tableau")  # taken
        await pilot.pause()
        assert "exists already" in error_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, NameAndIdModal)
        await pilot.press("backspace", *"-jp")  # sales-to-tablea-jp
        await pilot.pause()
        assert error_text(app) == ""
        await pilot.press("shift+tab", "end", *" 2")  # the name changes; the edited id stays
        await pilot.pause()
        assert field(app, "#new-id").value == "sales-to-tablea-jp"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, OrchestrationScreen)
    path = demo_project / "orchestrations" / "sales-to-tablea-jp.toml"
    assert tomllib.loads(path.read_text()) == {"name": "売上 2"}
    assert not (demo_project / "orchestrations" / "maishang.toml").exists()


async def test_duplicate_copies_comments_and_turns_the_schedule_off(make_app, demo_project):
    source = demo_project / "orchestrations" / "sales-to-tableau.toml"
    text = source.read_text().replace('[schedule]\n', '[schedule]\n# weekday mornings\n').replace(
        'enabled = false\n', '')
    text = "# Owner: data team, ask before disabling\n" + text
    source.write_text(text)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#orchestrations", DataTable)
        await pilot.press("down")  # Sales to Tableau (rows sort by name)
        assert app.screen.selected_id() == "sales-to-tableau"
        await pilot.press("D")
        assert isinstance(app.screen, NameAndIdModal)
        assert field(app, "#new-name").value == "Sales to Tableau (copy)"
        assert field(app, "#new-id").value == "sales-to-tableau-copy"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert table.row_count == 3
        assert app.screen.selected_id() == "sales-to-tableau-copy"
    assert source.read_text() == text  # the original is untouched
    copy = (demo_project / "orchestrations" / "sales-to-tableau-copy.toml").read_text()
    assert copy.startswith("# Owner: data team, ask before disabling\n")
    assert "# weekday mornings\n" in copy
    data = tomllib.loads(copy)
    assert data["name"] == "Sales to Tableau (copy)"
    assert data["schedule"]["enabled"] is False
    assert data["phases"] == tomllib.loads(text)["phases"]
