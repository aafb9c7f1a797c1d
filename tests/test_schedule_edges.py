"""Schedule edges the other schedule tests leave open (found by ``tools/mutation.py schedule``)."""

from datetime import datetime, timezone

import pytest

from kbc_tui.engine.schedule import describe, next_runs
from kbc_tui.model.orchestration import Schedule


@pytest.mark.parametrize("alias, words", [
    ("@yearly", "At 00:00, on day 1 of the month, only in January"),
    ("@annually", "At 00:00, on day 1 of the month, only in January"),
    ("@monthly", "At 00:00, on day 1 of the month"),
    ("@weekly", "At 00:00, only on Sunday"),
    ("@daily", "At 00:00"),
    ("@midnight", "At 00:00"),
    ("@hourly", "Every hour"),
    (" @Daily ", "At 00:00"),
])
def test_cron_aliases_are_put_in_words(alias, words):
    assert describe(Schedule(alias, "Europe/Prague")) == f"{words} (Europe/Prague)"


def test_an_expression_without_words_is_shown_as_written():
    assert describe(Schedule("R R * * *", "UTC")) == "R R * * * (UTC)"  # croniter's random fields


@pytest.mark.parametrize("minute", [1, 10, 17, 45, 59])
def test_a_time_in_the_spring_gap_fires_on_the_second_the_clocks_jump(minute):
    """Any minute of the missing hour fires at 03:00:00 exactly, not a second later."""
    runs = next_runs(Schedule(f"{minute} 2 * * *", "Europe/Prague"), 2, after=datetime(2026, 3, 28, 12, tzinfo=timezone.utc))
    assert [m.isoformat() for m in runs] == ["2026-03-29T03:00:00+02:00", f"2026-03-30T02:{minute:02d}:00+02:00"]
