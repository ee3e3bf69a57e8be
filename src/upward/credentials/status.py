"""A credential's status on a date: derived from its facts, never stored.

The same rule exists twice, once here (for one credential in Python) and once as SQL conditions
(`status_sql`, to filter lists in the database); `tests/credentials/test_status.py` checks that
they agree on every combination of facts.

A credential is valid through its `expires_on` date (inclusive) and `expiring` when it has at
most `window_days` days left. Timestamps (revoked, superseded) count from their date in the
tenant's time zone.
"""

from __future__ import annotations

from datetime import date
from typing import Any

STATUSES = (
    "pending_verification",
    "active",
    "expiring",
    "expired",
    "revoked",
    "superseded",
    "rejected",
)


def credential_status(
    *,
    on: date,
    window_days: int,
    expires_on: date | None,
    verification: str,
    revoked_on: date | None,
    superseded_on: date | None,
) -> str:
    if revoked_on is not None and revoked_on <= on:
        return "revoked"
    if superseded_on is not None and superseded_on <= on:
        return "superseded"
    if verification == "rejected":
        return "rejected"
    if expires_on is not None and expires_on < on:
        return "expired"
    if verification == "pending":
        return "pending_verification"
    if expires_on is not None and (expires_on - on).days <= window_days:
        return "expiring"
    return "active"


def status_sql(status: str, *, alias: str, on: Any, window: Any, day_end: Any) -> str:
    """SQL condition: credential `alias` has `status` on date `on`. `on` and `window` are SQL
    expressions (parameters) for the date and the window in days; `day_end` is the timestamptz
    at which `on` ends in the tenant's zone (a timestamp before it falls on `on` or earlier).
    Only the expressions the condition needs are formatted (str() is called on them), so lazy
    parameters register only when used."""
    c = alias

    def revoked() -> str:
        return f"({c}.revoked_at is not null and {c}.revoked_at < {day_end})"

    def superseded() -> str:
        return f"({c}.superseded_at is not null and {c}.superseded_at < {day_end})"

    def live() -> str:
        return f"not {revoked()} and not {superseded()}"

    def expired() -> str:
        return f"({c}.expires_on is not null and {c}.expires_on < {on})"

    def usable() -> str:
        return f"{live()} and {c}.verification <> 'rejected' and not {expired()}"

    conds = {
        "revoked": revoked,
        "superseded": lambda: f"not {revoked()} and {superseded()}",
        "rejected": lambda: f"{live()} and {c}.verification = 'rejected'",
        "expired": lambda: f"{live()} and {c}.verification <> 'rejected' and {expired()}",
        "pending_verification": lambda: f"{usable()} and {c}.verification = 'pending'",
        "expiring": lambda: (
            f"{usable()} and {c}.verification <> 'pending' "
            f"and {c}.expires_on is not null and {c}.expires_on - {on} <= {window}"
        ),
        "active": lambda: (
            f"{usable()} and {c}.verification <> 'pending' "
            f"and ({c}.expires_on is null or {c}.expires_on - {on} > {window})"
        ),
    }
    return f"({conds[status]()})"
