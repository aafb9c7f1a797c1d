"""Table columns as wide as what they show: short columns take their widest value, names get the rest."""

from __future__ import annotations

import pytest

from kbc_tui.ui.app import KbcApp
from kbc_tui.ui.widgets.fit_table import Col, fit_widths
from tests.ui.test_small_terminal import LARGE, SMALL, screen_lines, screen_text
from tests.ui.test_snapshots import fixed_job


def test_short_columns_take_only_their_widest_value():
    cols = [Col("Name", "name", 10), Col("On failure", "failure", 10, 24), Col("Took", "took", 6, 11)]
    # "stop" is narrower than its label: the label's width; "12.0 s" is 6; the name gets the rest
    assert fit_widths(cols, 100, [40, 4, 6]) == [100 - 10 - 6, 10, 6]
    # not measured: every bounded column as wide as it may be (as before)
    assert fit_widths(cols, 100, None) == [100 - 24 - 11, 24, 11]
    # too little room: every column keeps its narrowest, the text column first gets what is spare
    assert fit_widths(cols, 30, [40, 4, 6]) == [14, 10, 6]


def _copy_orchestration(root) -> None:
    src = (root / "orchestrations" / "sales-to-gooddata.toml").read_text()
    (root / "orchestrations" / "sales-to-gooddata-copy.toml").write_text(
        src.replace('name = "Sales to GoodData"', 'name = "Sales to GoodData (copy)"', 1))


async def test_home_at_80_columns_tells_a_copy_from_its_original(demo_project):
    _copy_orchestration(demo_project)
    fixed_job(demo_project)  # Last job / When / Took filled in
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "Sales to GoodData (copy)" in text, text
        assert "12.0 s" in text and "✖ error" in text  # and the job's columns still show


@pytest.mark.parametrize("keys", [["down", "down", "enter"], ["down", "down", "enter", "t"]],
                         ids=["orchestration", "task editor"])
async def test_configuration_names_get_the_room_on_failure_does_not_need(demo_project, keys):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=LARGE) as pilot:
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "Sales targets sheet  sheet-extractor/sales-targets " in text, text
        header = next(line for line in screen_lines(app) if "On failure" in line)
        assert "On failure  Problem" in header, header  # "stop" needs no 25 cells


async def test_job_screens_at_80_columns_show_messages_and_names(demo_project):
    fixed_job(demo_project)
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("J")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "sales-to-tableau  ✖ error  schedule  scheduler  2025-03-14 06:00  12.0 s" in text, text
        await pilot.press("enter")
        await pilot.pause(0.3)
        lines = screen_lines(app)
        [row] = [line for line in lines if line.startswith(" 3      tableau-writer/sales-dashboard ")]
        assert row.rstrip().endswith("2.0 s        disk full"), "\n".join(lines)  # Took and Rows: their values' width


async def test_empty_phase_message_is_read_whole_at_80_columns(demo_project):
    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        for key in ["down", "enter", "t", "down", "down", "shift+up"]:  # Transform's only task up: it is empty
            await pilot.press(key)
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        text = " ".join(screen_text(app).split())
        assert "2. Transform (empty: move a task here; dropped on save) 3. Load" in text, screen_text(app)
