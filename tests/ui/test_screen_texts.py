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
