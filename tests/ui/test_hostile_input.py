"""Hostile but realistic input through the app: names pasted with a tab or an escape (copied from a
spreadsheet, a terminal) are refused where they are typed, in words, before anything is written (such a name
makes a file the next load calls broken); a file saved by a Windows editor is edited in its own style."""

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


async def test_task_editor_save_of_a_windows_file_keeps_its_bom_line_endings_and_comments(make_app, demo_project):
    """A file saved by a Windows editor (BOM, CRLF): toggling a task in the app changes one line, and the
    file stays BOM + CRLF (was: rewritten canonically, comments, BOM and CRLF gone)."""
    from tests.ui.test_lossless_editors import ORCH, changes, commented
    from kbc_tui.ui.screens.task_editor import TaskEditor
    from tests.ui.conftest import wait_until

    path, text = commented(demo_project)
    before = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    path.write_bytes(before)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(OrchestrationScreen(ORCH))
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TaskEditor)
        await pilot.press("c", "ctrl+s")  # the first task: db-extractor/shop
        await wait_until(pilot, lambda: path.read_bytes() != before, message="the save")
    saved = path.read_bytes()
    assert saved.startswith(b"\xef\xbb\xbf") and saved.count(b"\n") == saved.count(b"\r\n")
    assert changes(text, saved[3:].decode().replace("\r\n", "\n")) == ["+continue_on_failure = true"]


async def test_duplicate_of_an_orchestration_deleted_on_disk_meanwhile_says_so(make_app, demo_project):
    """The D dialog is open when a git checkout removes the file (the app reloads the project under a dialog):
    Enter says the orchestration no longer exists (was: a KeyError that ended the app)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.selected_id() == "sales-to-gooddata"
        await pilot.press("D")
        assert isinstance(app.screen, NameAndIdModal)
        (demo_project / "orchestrations" / "sales-to-gooddata.toml").unlink()
        app.reload_project()  # what the file poll does
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen) and app.is_running
        assert any("no longer exists" in str(n.message) for n in app._notifications)
    assert not (demo_project / "orchestrations" / "sales-to-gooddata-copy.toml").exists()
