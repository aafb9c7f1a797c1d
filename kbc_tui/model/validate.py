"""Value checks shared by the model and the UI's as-you-type validation.

Each returns ``None`` when the value is fine, or a message saying what is expected.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from datetime import datetime
from functools import lru_cache
from typing import Iterator
from zoneinfo import ZoneInfo, available_timezones

#: set while loading for a quick first screen: e-mail addresses get a syntax check only
_QUICK_EMAIL = contextvars.ContextVar("quick_email", default=False)
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@contextlib.contextmanager
def quick_email_checks() -> Iterator[None]:
    """Within this block ``check_email`` only checks the shape (email-validator costs ~90 ms to import);
    the app runs the full check in the background right after its first frame."""
    token = _QUICK_EMAIL.set(True)
    try:
        yield
    finally:
        _QUICK_EMAIL.reset(token)


@lru_cache(maxsize=4096)
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
        parsed = croniter(expression, _SINCE)
    except Exception as exc:  # croniter raises several types; its message is the useful part
        return f"invalid cron expression {expression!r}: {exc}"
    return _never_fires(parsed)


#: a fixed start for the "does it ever fire" check (croniter looks 50 years ahead: every real date recurs sooner)
_SINCE = datetime(2000, 1, 1)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_LONGEST = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # days in each month in its longest year


def _never_fires(parsed) -> str | None:
    """'never fires: 30 February does not exist' for a parsed expression (a croniter from ``_SINCE``) that
    matches no date, else None. croniter finds out; its day-of-month and month sets say why."""
    from croniter import CroniterBadDateError

    try:
        parsed.get_next(datetime)
    except CroniterBadDateError:
        pass
    else:
        return None
    days, months = parsed.expanded[2], (range(1, 13) if "*" in parsed.expanded[3] else parsed.expanded[3])
    missing = [(", ".join(map(str, late[:-1])) + " and " if len(late) > 1 else "") + f"{late[-1]} {_MONTHS[m - 1]}"
               for m in months if (late := [d for d in days if isinstance(d, int) and d > _LONGEST[m - 1]])]
    if not missing:
        return "never fires: no date matches it"
    dates = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    verb = "does" if len(missing) == 1 and " and " not in dates else "do"
    return f"never fires: {dates} {verb} not exist"


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


@lru_cache(maxsize=1024)
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
    if _QUICK_EMAIL.get():
        return None if _EMAIL_SHAPE.match(address) else f"invalid e-mail address {address!r}"
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"invalid e-mail address {address!r}: {exc}"
    return None


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_host(host: str) -> str | None:
    """A server's name or address as a connection takes it: a DNS name (IDN allowed), IPv4 or IPv6."""
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    expected = "expected a server name like 'smtp.example.com' or an IP address"
    try:
        ascii_name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return f"invalid host {host!r}: {expected}"
    labels = ascii_name.rstrip(".").split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        return f"invalid host {host!r}: {expected}"
    return None
