"""Who sees a posting and who may apply to it: pure functions over plain values (no I/O).

Visibility restrictions combine with AND: a posting limited to departments {A} and levels {L3}
is shown only to people in department A *and* at level L3. Inside one restriction the values
combine with OR (departments {A, B}: either). An empty restriction means "no restriction". This
is the usual reading of "visible to some departments, locations or levels" when several are set,
and the SQL filter in `postings.py` is written to be equivalent (tested in test_postings.py).

`eligibility` is a superset of `visible`: it returns a reason for every rule the person fails,
including the visibility ones, so `eligibility(...) == []` implies `visible(...)` (except that a
hiring manager is never eligible for their own posting, whether or not they can see it).
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Viewer:
    """The person a posting is shown to (plain values)."""

    employee_id: uuid.UUID
    department_id: uuid.UUID | None
    location_id: uuid.UUID | None
    level_id: uuid.UUID | None
    level_since: date | None  # in the current level (or role) since
    hire_date: date | None


@dataclass(frozen=True)
class PostingRules:
    status: str
    opens_on: date | None
    closes_on: date | None
    visible_department_ids: frozenset[uuid.UUID]
    visible_location_ids: frozenset[uuid.UUID]
    visible_level_ids: frozenset[uuid.UUID]
    min_months_in_role: int | None
    hiring_manager_id: uuid.UUID

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PostingRules:
        """From a `job_postings` row (a mapping with the table's column names)."""
        return cls(
            status=row["status"],
            opens_on=row["opens_on"],
            closes_on=row["closes_on"],
            visible_department_ids=frozenset(row["visible_department_ids"] or ()),
            visible_location_ids=frozenset(row["visible_location_ids"] or ()),
            visible_level_ids=frozenset(row["visible_level_ids"] or ()),
            min_months_in_role=row["min_months_in_role"],
            hiring_manager_id=row["hiring_manager_id"],
        )


def months_between(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end` (0 when `end` is before `start`).

    A month is complete on the same day of the next month, or on its last day when that month is
    shorter (Jan 31 -> Feb 28 is one month)."""
    if end <= start:
        return 0
    months = (end.year - start.year) * 12 + (end.month - start.month)
    last_day = calendar.monthrange(end.year, end.month)[1]
    if end.day < start.day and end.day != last_day:
        months -= 1
    return max(months, 0)


def is_open_on(posting: PostingRules, on: date) -> bool:
    return (
        posting.status == "open"
        and (posting.opens_on is None or posting.opens_on <= on)
        and (posting.closes_on is None or on <= posting.closes_on)
    )


def in_audience(posting: PostingRules, person: Viewer) -> bool:
    """Every non-empty restriction contains the person's value (AND across restrictions)."""
    for allowed, value in (
        (posting.visible_department_ids, person.department_id),
        (posting.visible_location_ids, person.location_id),
        (posting.visible_level_ids, person.level_id),
    ):
        if allowed and value not in allowed:
            return False
    return True


def visible(posting: PostingRules, person: Viewer, on: date) -> bool:
    """Open, within its dates, and the person is in its audience."""
    return is_open_on(posting, on) and in_audience(posting, person)


def months_in_role(person: Viewer, on: date) -> int | None:
    """Months in the current level, or since hire when no level date is known."""
    since = person.level_since or person.hire_date
    return None if since is None else months_between(since, on)


def eligibility(posting: PostingRules, person: Viewer, on: date) -> list[str]:
    """The reasons the person may not apply (empty: eligible), in a stable order."""
    reasons: list[str] = []
    if person.employee_id == posting.hiring_manager_id:
        reasons.append("you are the hiring manager of this posting")
    if posting.status != "open":
        reasons.append(f"the posting is {posting.status}, not open")
    elif posting.opens_on is not None and on < posting.opens_on:
        reasons.append(f"the posting opens on {posting.opens_on.isoformat()}")
    elif posting.closes_on is not None and on > posting.closes_on:
        reasons.append(f"the posting closed on {posting.closes_on.isoformat()}")
    if posting.visible_department_ids and person.department_id not in (
        posting.visible_department_ids
    ):
        reasons.append("open only to other departments")
    if posting.visible_location_ids and person.location_id not in posting.visible_location_ids:
        reasons.append("open only to other locations")
    if posting.visible_level_ids and person.level_id not in posting.visible_level_ids:
        reasons.append("open only to other levels")
    need = posting.min_months_in_role
    if need:
        has = months_in_role(person, on)
        if has is None:
            reasons.append(f"needs {need} months in current role (time in role unknown)")
        elif has < need:
            reasons.append(f"needs {need} months in current role (has {has})")
    return reasons
