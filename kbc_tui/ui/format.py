"""How the UI shows statuses, times, durations, schedules, and text from files and servers."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.text import Text

from kbc_tui.model.durations import duration  # noqa: F401 (the UI's formatting, in one place)
from kbc_tui.model.job import JobStatus, TaskStatus
from kbc_tui.model.text import one_line, printable

STATUS_STYLE = {
    "waiting": "dim", "processing": "bold cyan", "success": "bold green", "warning": "bold yellow",
    "error": "bold red", "cancelled": "magenta", "terminated": "bold red", "skipped": "dim",
}
STATUS_ICON = {
    "waiting": "…", "processing": "▶", "success": "✔", "warning": "▲", "error": "✖", "cancelled": "■",
    "terminated": "☠", "skipped": "–",
}


def plain(text: object, style: str = "") -> Text:
    """A name, an id or a message from a file or a server, for one line: never markup (``[red]x`` is
    text), control characters shown as escapes (``\\x1b``), line breaks as spaces."""
    return Text(one_line(text), style=style)


def plain_lines(text: object, style: str = "") -> Text:
    """As ``plain``, keeping line breaks (a description, an error with several lines)."""
    return Text(printable(text), style=style)


def status_text(status: JobStatus | TaskStatus | str) -> Text:
    value = status.value if hasattr(status, "value") else str(status)
    return Text(f"{STATUS_ICON.get(value, ' ')} {value}", style=STATUS_STYLE.get(value, ""))


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """'12:04', 'yesterday 18:30', '3 Nov 06:00' in local time."""
    if moment is None:
        return ""
    now = now or datetime.now(timezone.utc)
    local, today = moment.astimezone(), now.astimezone()
    if local.date() == today.date():
        return local.strftime("%H:%M:%S")
    if (today.date() - local.date()).days == 1:
        return local.strftime("yesterday %H:%M")
    if local.year == today.year:
        return local.strftime("%-d %b %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def next_run(moment: datetime, now: datetime | None = None) -> str:
    """When a schedule fires next, in local time as ``when`` shows the past: 'today 06:00', 'tomorrow 06:00',
    'Mon 06:00' (within a week), '3 Nov 06:00', '2027-01-04 06:00'."""
    now = now or datetime.now(timezone.utc)
    local, today = moment.astimezone(), now.astimezone()
    days = (local.date() - today.date()).days
    if days == 0:
        return local.strftime("today %H:%M")
    if days == 1:
        return local.strftime("tomorrow %H:%M")
    if 1 < days < 7:
        return local.strftime("%a %H:%M")
    if local.year == today.year:
        return local.strftime("%-d %b %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def schedule_summary(schedule, cache=None) -> str:
    """'next Mon 06:00 · At 06:00, Monday through Friday (Europe/Prague)', 'disabled: …' or 'not scheduled'.
    The next run is in local time, as the jobs' times are; the words name the schedule's own zone.
    ``cache``: a ``ScheduleCache`` (words and next fire time remembered between starts)."""
    if schedule is None:
        return "not scheduled"
    known = cache.get(schedule.cron, schedule.timezone) if cache is not None else None
    if known is not None:
        words, nxt = known
    else:
        try:
            from kbc_tui.engine.schedule import describe, next_runs

            words = describe(schedule)
            runs = next_runs(schedule, count=1)
        except Exception:  # an invalid expression is reported by validation; show it raw here
            return one_line(f"{schedule.cron} ({schedule.timezone})")
        nxt = runs[0] if runs else None
        if cache is not None:
            cache.put(schedule.cron, schedule.timezone, words, nxt)
    if not schedule.enabled:
        return f"disabled: {words}"  # the state first: a narrow column cuts the end
    return f"next {next_run(nxt)} · {words}" if nxt else words
