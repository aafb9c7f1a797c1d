"""Help and quit are reachable from every screen, an input focused or not, and the footer says how."""

from __future__ import annotations

import pytest

from kbc_tui.ui.app import KbcApp
from tests.ui.test_small_terminal import SMALL, screen_lines

EDITORS = {"schedule editor": ["down", "enter", "s"], "notifications editor": ["down", "enter", "m"],
           "SMTP settings": ["S"]}


@pytest.mark.parametrize("name", list(EDITORS))
async def test_f1_opens_help_with_an_input_focused_and_the_footer_says_so(demo_project, name):
    from textual.widgets import Input

    from kbc_tui.ui.screens.help import HelpScreen

    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        for key in EDITORS[name]:
            await pilot.press(key)
            await pilot.pause(0.1)
        await pilot.pause(0.2)
        assert isinstance(app.focused, Input), app.focused
        footer = screen_lines(app)[-1]
        assert "^q Quit" in footer and "F1 Help" in footer, footer
        await pilot.press("question_mark")  # types into the field
        await pilot.pause(0.1)
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
        assert "F1" in [app.screen.query_one("#help-keys").get_row_at(i)[0]
                        for i in range(app.screen.query_one("#help-keys").row_count)]


async def test_footer_shows_q_and_question_mark_where_they_work(demo_project):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause(0.2)
        footer = screen_lines(app)[-1]
        assert "q Quit" in footer and "? Help" in footer and "^q" not in footer and "F1" not in footer, footer


async def test_ctrl_q_asks_about_unsaved_changes_as_q_does(demo_project):
    from kbc_tui.ui.widgets.dialogs import ConfirmModal

    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("down", "enter", "s", "end", "backspace")  # the schedule editor: the cron edited
        await pilot.pause(0.2)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmModal) and app.is_running


@pytest.mark.parametrize("keys,title", [(["down", "enter", "R"], "Keys: Prompt "),
                                        (["down", "enter", "t", "e"], "Keys: Task run limits ")])
async def test_f1_over_a_dialog_names_it_in_words(demo_project, keys, title):
    from tests.ui.test_small_terminal import screen_text

    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        for key in [*keys, "f1"]:
            await pilot.press(key)
            await pilot.pause(0.1)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert title in text and "modal" not in text.lower(), text
