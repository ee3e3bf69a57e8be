"""The service's clock. Derived states (a credential's status, compliance "today") read the time
here, so tests can freeze it (`freeze(datetime)`) and get the same answers on any day."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else datetime.now(UTC)


def zone(timezone: str) -> zoneinfo.ZoneInfo:
    """The IANA zone, or UTC for a name that is not one (zones are validated on input)."""
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def today(timezone: str = "UTC") -> date:
    """Today's date in `timezone` (an IANA zone; the tenant's, usually)."""
    return now().astimezone(zone(timezone)).date()


def freeze(at: datetime | None) -> None:
    """Tests only: pin `now()` to `at` (aware), or unpin with None."""
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    global _frozen
    _frozen = at
