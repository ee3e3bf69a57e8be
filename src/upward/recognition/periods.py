"""Periods of recognition lists and insights, in the tenant's timezone (pure: no I/O).

A period is a half-open range of instants [since, until). A preset is computed from the local
date of `now` in the tenant's zone: `THIS_MONTH` starts at local midnight on the 1st, so a
leaderboard of the month renews with the points allowance.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from upward import clock
from upward.errors import BadUserInput

PRESETS = (
    "today",
    "last_7_days",
    "last_30_days",
    "this_month",
    "last_month",
    "this_quarter",
    "this_year",
    "all_time",
)


def _midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.zone(timezone))


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def preset_range(
    preset: str, now: datetime, timezone: str
) -> tuple[datetime | None, datetime | None]:
    """[since, until) of `preset` at `now` (None: unbounded)."""
    today = now.astimezone(clock.zone(timezone)).date()
    tomorrow = _midnight(today + timedelta(days=1), timezone)
    if preset == "today":
        return _midnight(today, timezone), tomorrow
    if preset == "last_7_days":
        return _midnight(today - timedelta(days=6), timezone), tomorrow
    if preset == "last_30_days":
        return _midnight(today - timedelta(days=29), timezone), tomorrow
    month = today.replace(day=1)
    if preset == "this_month":
        return _midnight(month, timezone), _midnight(_add_months(month, 1), timezone)
    if preset == "last_month":
        return _midnight(_add_months(month, -1), timezone), _midnight(month, timezone)
    if preset == "this_quarter":
        start = month.replace(month=(month.month - 1) // 3 * 3 + 1)
        return _midnight(start, timezone), _midnight(_add_months(start, 3), timezone)
    if preset == "this_year":
        return _midnight(date(today.year, 1, 1), timezone), _midnight(
            date(today.year + 1, 1, 1), timezone
        )
    if preset == "all_time":
        return None, None
    raise ValueError(preset)


def resolve(
    *,
    preset: str | None,
    since: datetime | None,
    until: datetime | None,
    timezone: str,
    field: str,
    default: str | None = None,
) -> tuple[datetime | None, datetime | None]:
    """A period from a preset or explicit bounds (not both); `default` when neither."""
    if preset is not None and (since is not None or until is not None):
        raise BadUserInput("give a preset or since/until, not both", field=f"{field}.preset")
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise BadUserInput("needs a timezone offset", field=f"{field}.{name}")
    if since is not None and until is not None and until <= since:
        raise BadUserInput("until must be after since", field=f"{field}.until")
    chosen = preset or (default if since is None and until is None else None)
    if chosen is not None:
        return preset_range(chosen, clock.now(), timezone)
    return since, until
