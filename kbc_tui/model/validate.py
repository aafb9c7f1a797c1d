"""Value checks shared by the model and the UI's as-you-type validation.

Each returns ``None`` when the value is fine, or a message saying what is expected.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones


def check_cron(expression: str) -> str | None:
    from croniter import croniter

    expression = expression.strip()
    if not expression:
        return "a cron expression is required, e.g. '0 6 * * *' (every day at 06:00)"
    fields = expression.split()
    if not expression.startswith("@") and len(fields) != 5:
        return (f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}: "
                f"{expression!r}")
    try:
        croniter(expression)
    except Exception as exc:  # croniter raises several types; its message is the useful part
        return f"invalid cron expression {expression!r}: {exc}"
    return None


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def check_timezone(name: str) -> str | None:
    if name in ("UTC",):
        return None
    try:
        ZoneInfo(name)
    except Exception:
        from kbc_tui.model.fields import did_you_mean

        return f"unknown time zone {name!r}; expected an IANA name like 'Europe/Prague'" + did_you_mean(
            name, timezone_names())
    return None


def check_email(address: str) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"invalid e-mail address {address!r}: {exc}"
    return None
