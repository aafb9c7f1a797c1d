"""Every screen usable at 80x24 (and growing at 120x40): what a person sees, read off the drawn screen."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from kbc_tui.ui.app import KbcApp

SMALL, LARGE = (80, 24), (120, 40)
_TEXT = re.compile(r'<text[^>]*?x="([\d.]+)"[^>]*clip-path="url\(#[^"]*-line-(\d+)\)"[^>]*>(.*?)</text>', re.S)
CHAR_WIDTH = 12.2  # a cell's width in Textual's SVG


def screen_lines(app) -> list[str]:
    """The screen as lines of text, from the SVG Textual exports (each drawn span placed at its column)."""
    from rich.cells import cell_len

    width, height = app.size
    grid = [[" "] * (width + 1) for _ in range(height)]
    for x, number, text in _TEXT.findall(app.export_screenshot()):
        column, row = round(float(x) / CHAR_WIDTH), int(number)
        for char in html.unescape(text).replace("\xa0", " "):
            if row < height and column <= width:
                grid[row][column] = char
            column += cell_len(char) or 1
    return ["".join(line).rstrip() for line in grid]


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))


async def open_screen(pilot, name: str) -> None:
    """Go to a screen as a person would (demo project: first row Sales to GoodData, second Sales to Tableau)."""
    keys = {"home": [], "orchestration": ["down", "enter"], "task editor": ["down", "enter", "t"],
            "jobs": ["J"], "job detail": ["down", "enter", "r", "j", "enter"]}[name]
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.1)
    await pilot.pause(0.3)


COLUMNS = {
    "home": ["Orchestration", "Tasks", "Schedule", "Last job", "When", "Took"],
    "orchestration": ["Phase", "Type", "Configuration", "Active", "On failure", "Problem",
                      "Job", "Status", "Trigger", "By", "Started", "Took"],
    "task editor": ["Phase", "Type", "Configuration", "Active", "On failure", "Problem"],
    "jobs": ["Job", "Orchestration", "Status", "Trigger", "By", "Started", "Took"],
    "job detail": ["Phase", "Task", "Status", "Took", "Rows", "Message"],
}


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
@pytest.mark.parametrize("name", list(COLUMNS))
async def test_every_column_header_is_on_screen(demo_project, name, size):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=size) as pilot:
        await open_screen(pilot, name)
        text = screen_text(app)
        for label in COLUMNS[name]:
            assert re.search(rf"(^|\s){re.escape(label)}(\s|$)", text, re.M), f"{label!r} not on the {name} screen"
        # and no table reaches past the right edge (a horizontal scroll bar hid columns, and drew a stray ▉)
        from textual.widgets import DataTable

        for table in app.screen.query(DataTable):
            assert table.virtual_size.width <= table.scrollable_content_region.width, table.id
            assert not table.show_horizontal_scrollbar, table.id


@pytest.mark.parametrize("name", list(COLUMNS))
async def test_footer_keeps_quit_and_help_at_80_columns(demo_project, name):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await open_screen(pilot, name)
        footer = screen_lines(app)[-1]
        assert "q Quit" in footer and "? Help" in footer, footer
        assert "^p palette" in footer


async def test_home_names_fit_and_show_the_id_when_there_is_room(demo_project):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "Sales to Tableau  sales-to-tableau " in text
        assert "disabled: At 06:00, Monday" in text  # the state, then as much of the words as fits


def test_home_next_run_is_in_local_time(monkeypatch):
    """The schedule column's next run is in local time, as the When column's job times are."""
    import time

    from kbc_tui.model.orchestration import Schedule
    from kbc_tui.ui.format import schedule_summary

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        summary = schedule_summary(Schedule("0 6 * * *", "Asia/Tokyo", enabled=True))  # 06:00 Tokyo = 21:00 UTC
    finally:
        monkeypatch.undo()
        time.tzset()
    when, words = summary.split(" · ")
    assert when.startswith("next ") and when.endswith("21:00"), summary
    assert words == "At 06:00 (Asia/Tokyo)"


def test_next_run_words():
    from kbc_tui.ui.format import next_run

    now = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc).astimezone()  # a Monday, local time
    at = now.replace(hour=18, minute=30)
    assert next_run(at, now) == "today 18:30"
    assert next_run(at + timedelta(days=1), now) == "tomorrow 18:30"
    assert next_run(at + timedelta(days=3), now) == "Thu 18:30"
    assert next_run(at + timedelta(days=30), now) == "1 Apr 18:30"
    assert next_run(at + timedelta(days=400), now) == "2027-04-06 18:30"


async def test_task_problem_shown_in_full_at_80_columns(demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    path.write_text(path.read_text().replace('config = "sales-targets"', 'config = "sales-targets-gone"'))
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await open_screen(pilot, "task editor")  # Sales to GoodData: no problem
        assert "does not exist" not in screen_text(app)
        await pilot.press("escape", "escape", "down", "enter")  # Sales to Tableau
        await pilot.pause(0.2)
        await pilot.press("down")  # its second task: the missing configuration
        await pilot.pause(0.2)
        assert "(components/sheet-extractor/sales-targets-gone.toml)" in screen_text(app)
        await pilot.press("t", "down")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "Tasks of Sales to Tableau" in text
        assert "(components/sheet-extractor/sales-targets-gone.toml)" in text
        await pilot.press("up")
        await pilot.pause(0.2)
        assert "does not exist" not in screen_text(app)  # only the highlighted task's


async def test_notifications_error_is_on_screen_at_80x24(demo_project):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("down", "enter", "m")
        await pilot.pause(0.2)
        await pilot.press(*"ops", "enter")
        await pilot.pause(0.2)
        lines = screen_lines(app)
        # the reason, on screen right under the field it concerns (enter seemed to do nothing)
        [field] = [i for i, line in enumerate(lines) if "ops" in line and "invalid" not in line]
        assert "invalid e-mail address 'ops'" in " ".join(lines[field + 1:field + 4]), "\n".join(lines)
        # the address lists are as wide as the room there is: a whole address shows
        assert "data-team@example.com" in "\n".join(lines)
        await pilot.press("ctrl+t")  # a test e-mail: its result at the top, whatever is scrolled
        await pilot.press("tab", "tab", "tab", "tab", "tab", "tab", "tab")  # down to the last list
        await pilot.pause(0.5)
        assert "Test e-mail to " in screen_text(app)


async def test_schedule_editor_shows_all_next_runs_at_80x24(demo_project):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("down", "enter", "s")
        await pilot.pause(0.3)
        lines = screen_lines(app)
        runs = [line for line in lines if re.match(r"^\s+\w{3} \d\d \w{3} \d{4} 06:00", line)]
        assert len(runs) == 5, "\n".join(lines)
        assert any("Enabled" in line for line in lines) and any("Time zone" in line for line in lines)


async def test_smtp_test_result_is_on_screen_at_80x24(demo_project):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("S")
        await pilot.pause(0.2)
        await pilot.press("ctrl+t")
        await pilot.pause(0.5)
        assert "Test e-mail to you@example.com failed: no SMTP server is configured" in screen_text(app)
        await pilot.press(*"x", "tab", "tab", "backspace", "backspace", *"0")  # port 0
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert "Port: a number from 1 to 65535" in screen_text(app)


async def test_help_names_the_screen_and_lists_only_our_keys(demo_project):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("down", "enter", "t")
        await pilot.pause(0.2)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "Keys: Task editor" in text and "TaskEditor" not in text
        assert "Add tasks" in text and "Quit" in text
        await pilot.press("escape", "escape", "m")  # the notifications editor: an input has focus
        await pilot.pause(0.2)
        app.action_help()
        await pilot.pause(0.2)
        rows = [app.screen.query_one("#help-keys").get_row_at(i)[1]
                for i in range(app.screen.query_one("#help-keys").row_count)]
        assert "Send test e-mail" in rows and "Remove address" in rows
        assert not [r for r in rows if "cursor" in r.lower()], rows  # Input's keys are Textual's
        assert "Keys: Notifications editor" in screen_text(app)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
async def test_toasts_leave_the_key_hints_readable(demo_project, size):
    """A toast sits at the bottom right: the editors' key hints are under their titles, where it never is."""
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=size, notifications=True) as pilot:
        await open_screen(pilot, "task editor")
        await pilot.press("space", "ctrl+s")  # "Saved orchestrations/….toml"
        await pilot.pause(0.5)
        from textual.widgets import Static
        from textual.widgets._toast import Toast

        toasts = list(app.screen.query(Toast))
        assert toasts, "no toast shown"
        [hint] = [w for w in app.screen.query(Static) if "ctrl+s: save" in str(w.render())]
        assert not [t for t in toasts if t.region.overlaps(hint.region)], (hint.region, [t.region for t in toasts])
        assert "delete: remove · ctrl+s: save" in " ".join(screen_text(app).split())
