"""When a schedule fires: one function for the editor's preview, ``kbc-tui schedule`` and the scheduler.

Cron expressions are wall-clock times in the schedule's zone. croniter enumerates wall-clock candidates
on naive datetimes; each is then placed on the real timeline:

- a wall-clock time that happens twice (clocks go back) fires once, at its first occurrence;
- a wall-clock time that does not exist (clocks go forward) fires at the next valid moment, the end of the
  gap (02:30 on a spring-forward night fires at 03:00); times that land on the same instant fire once.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from kbc_tui.errors import KbcError
from kbc_tui.model.orchestration import Schedule
from kbc_tui.model.validate import check_cron, check_timezone

ALIASES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


def expression(cron: str) -> str:
    cron = cron.strip()
    return ALIASES.get(cron.lower(), cron)


def _check(schedule: Schedule) -> ZoneInfo:
    error = check_cron(schedule.cron) or check_timezone(schedule.timezone)
    if error:
        raise KbcError(error)
    return ZoneInfo(schedule.timezone)


def place(wall: datetime, tz: ZoneInfo) -> datetime:
    """The real instant a naive wall-clock time fires at, in ``tz`` (see the module's DST rules)."""
    first = wall.replace(tzinfo=tz, fold=0)
    if first.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) == wall:
        return first  # exists (once, or twice: fold=0 is the first occurrence)
    # inside a gap: the first instant whose local wall time is at or after ``wall``
    low = wall.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)  # before the gap
    high = first.astimezone(timezone.utc)  # after the gap
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0).astimezone(tz)


def next_runs(schedule: Schedule, count: int = 5, after: datetime | None = None) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after`` (default: now), aware, in the schedule's zone."""
    from croniter import croniter

    tz = _check(schedule)
    after = (after or datetime.now(timezone.utc))
    if after.tzinfo is None:
        after = after.replace(tzinfo=tz)
    # start a little before, on the wall clock, so a time moved forward out of a gap is not missed
    start = after.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    it = croniter(expression(schedule.cron), start)
    out: list[datetime] = []
    guard = 0
    while len(out) < count:
        guard += 1
        if guard > count * 50 + 1000:
            break  # a safety net: check_cron refuses expressions that never fire
        moment = place(it.get_next(datetime), tz)
        if moment > after and (not out or moment > out[-1]):
            out.append(moment)
    return out


def describe(schedule: Schedule) -> str:
    """The expression in words (cron-descriptor, which does not validate: croniter does), with the zone."""
    from cron_descriptor import Options, get_description

    _check(schedule)
    options = Options()
    options.use_24hour_time_format = True
    try:
        words = get_description(expression(schedule.cron), options)
    except Exception:  # cron-descriptor cannot word every valid expression; the expression itself can
        words = schedule.cron
    return f"{words} ({schedule.timezone})"
