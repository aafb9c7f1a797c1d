"""Names pasted with a tab or an escape (copied from a spreadsheet, a terminal) are refused where they are typed,
in words, before anything is written: such a name makes a file the next load calls broken."""

from __future__ import annotations

from textual import events
from textual.widgets import Input, Static

from kbc_tui.store import Project
from kbc_tui.ui.screens.home import HomeScreen
from kbc_tui.ui.screens.orchestration import OrchestrationScreen
from kbc_tui.ui.widgets.dialogs import NameAndIdModal, PromptModal
from tests.ui.conftest import SIZE


async def paste(pilot, text: str) -> None:
    widget = pilot.app.screen.focused
    assert isinstance(widget, Input)
    widget.post_message(events.Paste(text))
    await pilot.pause()


def error_text(app) -> str:
    return str(app.screen.query_one("#prompt-error", Static).render())


async def test_duplicate_with_a_pasted_tab_in_the_name_is_refused_in_the_dialog(make_app, demo_project):
    before = sorted(p.name for p in (demo_project / "orchestrations").iterdir())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("D")
        assert isinstance(app.screen, NameAndIdModal)
        app.screen.query_one("#new-name", Input).value = ""
        await paste(pilot, "Sales\tQ1")
        assert app.screen.query_one("#new-name", Input).value == "Sales\tQ1"  # the text field keeps the tab
        assert "control character \\t" in error_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NameAndIdModal)  # refused: nothing written
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
    assert sorted(p.name for p in (demo_project / "orchestrations").iterdir()) == before
    assert not Project.load(demo_project).problems


async def test_rename_with_a_pasted_escape_is_refused_in_the_dialog(make_app, demo_project):
    path = demo_project / "orchestrations" / "sales-to-gooddata.toml"
    before = path.read_bytes()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, OrchestrationScreen)
        await pilot.press("R")
        assert isinstance(app.screen, PromptModal)
        app.screen.query_one(Input).value = ""
        await paste(pilot, "Sales\x1b[2J")
        assert "control character \\x1b" in error_text(app)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PromptModal)
    assert path.read_bytes() == before
    assert not Project.load(demo_project).problems
