"""Fire times: DST in Europe/Prague and America/New_York, 29 February, aliases, invalid input, the CLI."""

from datetime import datetime

import pytest

from kbc_tui.engine.schedule import describe, next_runs
from kbc_tui.errors import KbcError
from kbc_tui.model import Schedule
from tests.helpers.cli import kbc


def runs(cron, tz, after, count):
    return [d.isoformat() for d in next_runs(Schedule(cron, tz), count, datetime.fromisoformat(after))]


# spring forward: Prague 2026-03-29 02:00 -> 03:00, New York 2026-03-08 02:00 -> 03:00
# fall back:      Prague 2026-10-25 03:00 -> 02:00, New York 2026-11-01 02:00 -> 01:00
CASES = [
    ("30 2 * * *", "Europe/Prague", "2026-03-28T12:00:00+01:00", 3,
     ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]),
    ("30 2 * * *", "Europe/Prague", "2026-10-24T12:00:00+02:00", 2,
     ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    ("0 * * * *", "Europe/Prague", "2026-03-29T00:30:00+01:00", 3,
     ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"]),
    ("0 * * * *", "Europe/Prague", "2026-10-25T00:30:00+02:00", 4,
     ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00",
      "2026-10-25T04:00:00+01:00"]),
    ("0 6 * * 1-5", "Europe/Prague", "2026-03-27T07:00:00+01:00", 2,
     ["2026-03-30T06:00:00+02:00", "2026-03-31T06:00:00+02:00"]),
    ("0 6 * * 1-5", "Europe/Prague", "2026-10-23T07:00:00+02:00", 1, ["2026-10-26T06:00:00+01:00"]),
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00", 2,
     ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
    ("30 2 * * *", "America/New_York", "2026-10-31T12:00:00-04:00", 2,
     ["2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]),
    ("0 * * * *", "America/New_York", "2026-03-08T00:30:00-05:00", 3,
     ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]),
    ("0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00", 3,
     ["2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"]),
    ("0 6 * * 1-5", "America/New_York", "2026-03-06T07:00:00-05:00", 1, ["2026-03-09T06:00:00-04:00"]),
    ("0 6 * * 1-5", "America/New_York", "2026-10-30T07:00:00-04:00", 1, ["2026-11-02T06:00:00-05:00"]),
]


@pytest.mark.parametrize("cron, tz, after, count, expected", CASES)
def test_dst_days(cron, tz, after, count, expected):
    got = runs(cron, tz, after, count)
    assert got == expected
    assert len(set(got)) == len(got)  # never doubled


def test_repeated_hour_fires_once_even_with_many_minutes():
    got = runs("*/20 1 * * *", "America/New_York", "2026-11-01T00:00:00-04:00", 4)
    # 01:00-01:59 happens twice that night: each minute fires once, in the first pass
    assert got == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:20:00-04:00", "2026-11-01T01:40:00-04:00",
                   "2026-11-02T01:00:00-05:00"]


def test_29_february_and_aliases():
    assert runs("0 9 29 2 *", "UTC", "2026-01-01T00:00:00+00:00", 2) == [
        "2028-02-29T09:00:00+00:00", "2032-02-29T09:00:00+00:00"]
    assert runs("@daily", "Europe/Prague", "2026-06-01T12:00:00+02:00", 1) == ["2026-06-02T00:00:00+02:00"]
    assert runs("@hourly", "UTC", "2026-06-01T12:00:00+00:00", 1) == ["2026-06-01T13:00:00+00:00"]
    assert "every hour" in describe(Schedule("@hourly")).lower()


def test_words_and_invalid_expressions():
    assert describe(Schedule("0 6 * * 1-5", "Europe/Prague")) == "At 06:00, Monday through Friday (Europe/Prague)"
    for bad in ("61 * * * *", "* *", "0 6 * * mon-xyz", ""):
        with pytest.raises(KbcError):
            next_runs(Schedule(bad))
    with pytest.raises(KbcError, match="unknown time zone"):
        next_runs(Schedule("0 6 * * *", "Mars/Olympus"))


def test_after_is_exclusive_and_naive_means_the_schedule_zone():
    assert runs("0 6 * * *", "Europe/Prague", "2026-06-01T06:00:00+02:00", 1) == ["2026-06-02T06:00:00+02:00"]
    assert [d.isoformat() for d in next_runs(Schedule("0 6 * * *", "Europe/Prague"), 1,
                                             datetime(2026, 6, 1, 5, 0))] == ["2026-06-01T06:00:00+02:00"]


def test_cli_prints_times_only(demo_project):
    out = kbc("schedule", "sales-to-tableau", "--count", "3", "--after", "2026-03-26T12:00:00+01:00",
              root=demo_project)
    assert out.returncode == 0
    assert out.stdout.splitlines() == ["2026-03-27T06:00:00+01:00", "2026-03-30T06:00:00+02:00",
                                       "2026-03-31T06:00:00+02:00"]
    assert "disabled" in out.stderr


def test_cli_errors(demo_project):
    out = kbc("schedule", "sales-to-gooddata", root=demo_project)
    assert out.returncode == 1 and "has no [schedule]" in out.stderr and out.stdout == ""
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    path.write_text(path.read_text().replace('cron = "0 6 * * 1-5"', 'cron = "0 25 * * *"'))
    out = kbc("schedule", "sales-to-tableau", root=demo_project)
    assert out.returncode == 1 and "schedule.cron" in out.stderr and out.stdout == ""
    assert kbc("schedule", "nope", root=demo_project).returncode == 1


def test_schedule_summary_cache_is_reused_until_the_next_fire_passes(tmp_path):
    import json
    from datetime import timedelta, timezone
    from zoneinfo import ZoneInfo

    from kbc_tui.store.schedule_cache import ScheduleCache
    from kbc_tui.ui.format import schedule_summary

    schedule = Schedule("30 6 * * 1-5", "Europe/Prague", True)
    cache = ScheduleCache(tmp_path)
    fresh = schedule_summary(schedule)
    assert schedule_summary(schedule, cache) == fresh  # computed, remembered
    cache.save()
    again = ScheduleCache(tmp_path)  # the next start
    assert again.get("30 6 * * 1-5", "Europe/Prague") is not None
    assert schedule_summary(schedule, again) == fresh
    # a remembered next fire that has passed is computed again, not shown
    data = json.loads((tmp_path / "schedule-cache.json").read_text())
    key = next(iter(data["entries"]))
    past = (datetime.now(timezone.utc) - timedelta(days=3)).astimezone(ZoneInfo("Europe/Prague"))
    data["entries"][key] = ["stale words", past.isoformat()]
    (tmp_path / "schedule-cache.json").write_text(json.dumps(data))
    stale = ScheduleCache(tmp_path)
    assert stale.get("30 6 * * 1-5", "Europe/Prague") is None
    assert schedule_summary(schedule, stale) == fresh
    # a broken cache file is ignored
    (tmp_path / "schedule-cache.json").write_text("{not json")
    assert schedule_summary(schedule, ScheduleCache(tmp_path)) == fresh


# -- cron expressions that never fire ----------------------------------------------------------------------------
NEVER = [
    ("0 6 30 2 *", "never fires: 30 February does not exist"),
    ("0 6 31 4 *", "never fires: 31 April does not exist"),
    ("0 0 30,31 2 ?", "never fires: 30 and 31 February do not exist"),
    ("0 0 31 2,4,6 *", "never fires: 31 February, 31 April and 31 June do not exist"),
    ("0 0 31 feb *", "never fires: 31 February does not exist"),
]


@pytest.mark.parametrize("cron, words", NEVER)
def test_a_date_that_does_not_exist_is_refused_with_words(cron, words):
    from kbc_tui.model.validate import check_cron

    assert check_cron(cron) == words
    with pytest.raises(KbcError, match=words):
        next_runs(Schedule(cron))


@pytest.mark.parametrize("cron", ["0 9 29 2 *", "0 6 30 2 1", "0 0 30,31 2,4 *", "0 0 * 2 1#5", "0 0 L 2 *"])
def test_rare_dates_that_exist_are_accepted(cron):
    from kbc_tui.model.validate import check_cron

    assert check_cron(cron) is None  # 29 Feb (leap years); 30 Feb OR a Monday; 30 April; a fifth Monday...
    assert len(next_runs(Schedule(cron), 2)) == 2


def test_cli_refuses_a_schedule_that_never_fires_in_one_line(demo_project):
    path = demo_project / "orchestrations" / "sales-to-tableau.toml"
    path.write_text(path.read_text().replace('cron = "0 6 * * 1-5"', 'cron = "0 6 30 2 *"'))
    out = kbc("schedule", "sales-to-tableau", root=demo_project)
    assert out.returncode == 1 and out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.endswith("schedule.cron: never fires: 30 February does not exist")
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("entry", [42, None, "words", [], ["words"], [1, None], ["w", 5], ["w", "not a time"],
                                   ["w", "2999-01-01T06:00:00"], ["w", None, "extra"], {"words": "w"}])
def test_a_schedule_cache_entry_of_the_wrong_type_is_ignored(tmp_path, entry):
    import json

    from kbc_tui.store.schedule_cache import ScheduleCache
    from kbc_tui.ui.format import schedule_summary

    schedule = Schedule("30 6 * * 1-5", "Europe/Prague", True)
    fresh = schedule_summary(schedule)
    (tmp_path / "schedule-cache.json").write_text(json.dumps(
        {"version": 1, "entries": {"30 6 * * 1-5\x1fEurope/Prague": entry}}))
    cache = ScheduleCache(tmp_path)
    assert cache.get("30 6 * * 1-5", "Europe/Prague") is None
    assert schedule_summary(schedule, cache) == fresh  # computed again, not the entry shown


@pytest.mark.parametrize("content", ['[1, 2]', '{"version": 1, "entries": [1]}', '{"version": 1}', '"x"'])
def test_a_schedule_cache_file_of_the_wrong_shape_is_ignored(tmp_path, content):
    from kbc_tui.store.schedule_cache import ScheduleCache
    from kbc_tui.ui.format import schedule_summary

    schedule = Schedule("30 6 * * 1-5", "Europe/Prague", True)
    (tmp_path / "schedule-cache.json").write_text(content)
    cache = ScheduleCache(tmp_path)
    assert cache.get("30 6 * * 1-5", "Europe/Prague") is None
    assert schedule_summary(schedule, cache) == schedule_summary(schedule)
    cache.save()
    assert ScheduleCache(tmp_path).get("30 6 * * 1-5", "Europe/Prague") is not None  # rebuilt
