"""Texts on the editor screens read whole at 80x24: headers over their columns, messages next to their fields."""

from __future__ import annotations

import re

from kbc_tui.model.orchestration import Schedule


def test_next_runs_headers_sit_over_their_columns():
    from kbc_tui.ui.screens.schedule_editor import preview

    _, _, text = preview(Schedule("0 6 * * 1-5", "Europe/Prague", enabled=True))
    lines = text.splitlines()
    [head] = [line for line in lines if "in the schedule's zone" in line]
    rows = lines[lines.index(head) + 1:]
    assert len(rows) == 5
    for row in rows:
        zone_column = re.search(r"\S", row).start()
        local_column = re.search(r"\S {2,}(\S)", row).start(1)  # the second column: after a gap of 2+
        assert head.index("Next 5 runs, in the schedule's zone") == zone_column, (head, row)
        assert head.index("local time") == local_column, (head, row)


async def test_smtp_errors_sit_under_their_fields_and_the_section_line_reads_whole(demo_project):
    from kbc_tui.ui.app import KbcApp
    from tests.ui.test_small_terminal import SMALL, screen_lines, screen_text

    app = KbcApp(demo_project, watch_files=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("S")
        await pilot.pause(0.2)
        screen = app.screen
        screen.query_one("#host").value = "smtp.example.com x"
        screen.query_one("#port").value = "0"
        screen.query_one("#timeout").value = "0"
        screen.query_one("#user-email").value = "not an address"
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        for field, words in [("host", "invalid host 'smtp.example.com x'"),
                             ("port", "Port: a number from 1 to 65535"),
                             ("timeout", "Timeout: a number of seconds, at least 1"),
                             ("user-email", "invalid e-mail address 'not an address'")]:
            input_, problem = screen.query_one(f"#{field}"), screen.query_one(f"#{field}-problem")
            assert words in str(problem.render()), field
            assert problem.region.y == input_.region.bottom, field  # the line right under its field
            assert problem.content_region.x == input_.region.x, field  # under the field, not its label
        assert not screen.query("#problem"), "one shared problem line at the top"
        screen.query_one("#user-email-problem").scroll_visible(animate=False)  # the first (Host's) was scrolled to
        await pilot.pause(0.2)
        assert "Your e-mail: invalid e-mail address 'not an address'" in " ".join(screen_text(app).split())
        # the section line above "Your e-mail" wraps: read whole at 80 columns
        text = " ".join(" ".join(screen_lines(app)).split())
        assert "You — manual runs e-mail only the person who ran them ([user] email; KBC_USER_EMAIL wins)" in text
        screen.query_one("#user-email").focus()
        await pilot.press("end", "backspace")  # editing a field takes its problem away
        await pilot.pause(0.1)
        assert not screen.query_one("#user-email-problem").display
        assert screen.query_one("#port-problem").display
