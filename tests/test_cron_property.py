"""Property: any cron string, valid or not, through validation, ``kbc-tui schedule`` and the schedule editor's
preview gives words or times, never a traceback (the only exception allowed is ``KbcError``, said in one line)."""

import contextlib
import io
import subprocess
import sys
from argparse import Namespace
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbc_tui.commands import schedule as schedule_command
from kbc_tui.engine.schedule import describe, next_runs
from kbc_tui.errors import KbcError
from kbc_tui.model import Schedule
from kbc_tui.model.validate import check_cron
from kbc_tui.ui.screens.schedule_editor import preview
from tests.helpers.projects import orchestration, project

NUMBER = st.one_of(st.sampled_from([0, 1, 2, 4, 6, 7, 12, 13, 23, 24, 29, 30, 31, 32, 59, 60]),
                   st.integers(min_value=0, max_value=99)).map(str)
NAME = st.sampled_from(["jan", "feb", "apr", "dec", "mon", "fri", "sun", "xyz", "FEB", "L", "W", "?", "H", "R"])
ATOM = st.one_of(NUMBER, NAME, st.just("*"))
WILD = st.one_of(  # pieces of any field, valid or not
    ATOM,
    st.builds("{}-{}".format, ATOM, ATOM),
    st.builds("{}/{}".format, st.one_of(st.just("*"), ATOM), NUMBER),
    st.builds("{}#{}".format, NUMBER, NUMBER),
    st.builds("{}L".format, NUMBER),
    st.builds("{}W".format, NUMBER),
    st.text(alphabet="0123456789*/-,#LW?", max_size=6),
)


def field(low: int, high: int, *names: str):
    """One field of the usual shape: mostly values from its own range, sometimes anything."""
    value = st.one_of(st.integers(min_value=low, max_value=high).map(str), st.sampled_from([str(low), str(high)]),
                      *([st.sampled_from(names)] if names else []))
    piece = st.one_of(value, st.just("*"), st.builds("{}-{}".format, value, value),
                      st.builds("*/{}".format, st.integers(min_value=1, max_value=high).map(str)))
    usual = st.lists(piece, min_size=1, max_size=2).map(",".join)
    return st.one_of(usual, usual, usual, usual, usual, WILD)


DOM = st.one_of(field(1, 31, "L", "?"), st.sampled_from(["29", "30", "31", "30,31", "28-31"]))
USUAL = st.tuples(field(0, 59), field(0, 23), DOM, field(1, 12, "feb", "apr", "jun", "sep", "nov"),
                  st.one_of(st.sampled_from(["*", "?"]), field(0, 7, "mon", "sun", "1#5", "5#5"))).map(" ".join)
DAY_OF_YEAR = st.tuples(  # the late days of each month, where dates that do not exist are
    st.sampled_from(["0", "30"]), st.sampled_from(["6", "23"]),
    st.lists(st.integers(min_value=27, max_value=31).map(str), min_size=1, max_size=3).map(",".join),
    st.lists(st.sampled_from(["2", "4", "6", "9", "11", "feb", "apr", "1", "*"]), min_size=1, max_size=3).map(",".join),
    st.sampled_from(["*", "?", "1", "mon-fri"])).map(" ".join)
EXPRESSION = st.one_of(
    USUAL,
    DAY_OF_YEAR,
    st.lists(st.lists(WILD, min_size=1, max_size=3).map(",".join), max_size=7).map(" ".join),
    st.sampled_from(["@yearly", "@monthly", "@weekly", "@daily", "@hourly", "@reboot", "@never", "@daily 5"]),
    st.text(max_size=20),
)
ZONE = st.sampled_from(["UTC", "Europe/Prague", "America/New_York", "Australia/Lord_Howe", "Mars/Olympus"])
AFTER = datetime(2026, 3, 28, 12, tzinfo=timezone.utc)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def shown_or_refused(call):
    """The call's result, or the message of the ``KbcError`` it raised (any other exception fails the test)."""
    try:
        return call()
    except KbcError as exc:
        message = str(exc)
        assert message and "\n" not in message  # one line, in words
        return message


@FAST
@given(cron=EXPRESSION, tz=ZONE)
def test_validation_the_engine_and_the_editor_preview_never_raise(cron, tz):
    error = check_cron(cron)
    assert error is None or isinstance(error, str) and error
    schedule = Schedule(cron, tz)
    problem, words, runs = preview(schedule)
    if error is None and tz != "Mars/Olympus":
        assert problem is None and words.endswith(f"({tz})")
        times = next_runs(schedule, 3, after=AFTER)
        assert len(times) == 3 and times == sorted(set(times))  # every accepted expression fires
        assert len(runs.splitlines()) == 6
    else:
        assert problem and words == "" and runs == ""
        for call in (lambda: next_runs(schedule, 3, after=AFTER), lambda: describe(schedule)):
            with pytest.raises(KbcError):
                call()


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory):
    return project(tmp_path_factory.mktemp("cron") / "p")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cron=EXPRESSION)
def test_the_schedule_command_prints_times_or_one_problem(cli_project, cron):
    orchestration(cli_project, "o", [], schedule={"cron": cron})
    out = io.StringIO()
    args = Namespace(project=str(cli_project), orchestration="o", count=3, after=AFTER.isoformat())
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        result = shown_or_refused(lambda: schedule_command.run(args))
    if result == 0:
        assert check_cron(cron) is None and len(out.getvalue().splitlines()) == 3
    else:
        assert check_cron(cron) is not None and out.getvalue() == ""


@pytest.mark.parametrize("cron", ["0 6 30 2 *", "0 0 31 2,4,6 ?", "@reboot", "L L L L L", "0 0 * 2 1#5", "5-1/0 * * * *"])
def test_the_schedule_command_as_a_subprocess(tmp_path, cron):
    root = project(tmp_path / "p")
    orchestration(root, "o", [], schedule={"cron": cron})
    out = subprocess.run([sys.executable, "-m", "kbc_tui", "schedule", "o", "-n", "2", "--project", str(root)],
                         capture_output=True, text=True, timeout=60)
    assert "Traceback" not in out.stderr
    if check_cron(cron) is None:
        assert out.returncode == 0 and len(out.stdout.splitlines()) == 2
    else:
        assert out.returncode == 1 and out.stdout == ""
        [line] = out.stderr.splitlines()
        assert line.startswith("kbc-tui: ") and "schedule.cron: " in line
