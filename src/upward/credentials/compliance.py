"""Compliance answers, pure: from the facts of one (person, credential type) pair on a date to
its requirement state, and from many pairs to rates. No I/O: the service fetches the facts in
one statement (see `service.compliance_pairs`) and calls these.

A pair is what one person must hold of one type on the date, after merging every requirement
rule that selects them (a department rule and a location rule for the same type count once).

- SATISFIED / EXPIRING: a valid credential covers the date (EXPIRING: at most the tenant's
  window of days left).
- PENDING: only a credential awaiting verification covers it.
- EXPIRED: the best they had expired before the date. MISSING: none counts (they never had
  one, or only revoked or rejected ones, or it was issued after the date). A credential that
  a renewal superseded counts only on dates before the renewal was recorded.
- Grace: a rule's `grace_days` tolerate a gap for that many days after the rule starts applying
  to the person (its `effective_from`, or their hire date if later), and after an expiry. A pair
  is in grace only if every rule selecting it tolerates the gap (the strictest rule wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

SATISFIED, EXPIRING, PENDING, EXPIRED, MISSING = (
    "satisfied",
    "expiring",
    "pending",
    "expired",
    "missing",
)
STATES = (SATISFIED, EXPIRING, PENDING, EXPIRED, MISSING)
# how the service ranks a person's credentials of a type on the date (best first)
RANK_VALID, RANK_PENDING, RANK_EXPIRED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Rule:
    """One requirement rule as it applies to one person: from `start` (None: since always)."""

    start: date | None
    grace_days: int


@dataclass(frozen=True, slots=True)
class Answer:
    state: str
    compliant: bool
    grace_until: date | None  # the gap is tolerated through this date


_SATISFIED = Answer(SATISFIED, True, None)
_EXPIRING = Answer(EXPIRING, True, None)


def _grace_end(rule: Rule, state: str, expires_on: date | None) -> date | None:
    if rule.grace_days <= 0:
        return None
    ends = []
    if rule.start is not None:
        ends.append(rule.start + timedelta(days=rule.grace_days - 1))
    if state == EXPIRED and expires_on is not None:
        ends.append(expires_on + timedelta(days=rule.grace_days))
    return max(ends) if ends else None


def answer(
    *,
    on: date,
    window_days: int,
    rules: Sequence[Rule],
    rank: int | None,
    expires_on: date | None,
) -> Answer:
    """The state of one pair on `on`; `rank`/`expires_on` describe the person's best credential
    of the type on that date (None: they have none)."""
    if rank == RANK_VALID:
        near = expires_on is not None and (expires_on - on).days <= window_days
        return _EXPIRING if near else _SATISFIED
    state = PENDING if rank == RANK_PENDING else EXPIRED if rank == RANK_EXPIRED else MISSING
    until: date | None = None
    for rule in rules:
        end = _grace_end(rule, state, expires_on)
        if end is None or end < on:
            return Answer(state, False, None)
        until = end if until is None or end < until else until
    return Answer(state, until is not None, until)


@dataclass(slots=True)
class Rate:
    total: int = 0
    compliant: int = 0

    @property
    def rate(self) -> float:
        return round(self.compliant / self.total, 4) if self.total else 1.0


@dataclass(slots=True)
class Summary:
    """Counts over a set of people on a date. People count once (compliant when all their
    pairs are); credential types count pairs."""

    people: Rate = field(default_factory=Rate)
    pairs: Rate = field(default_factory=Rate)
    by_department: dict[Any, Rate] = field(default_factory=dict)
    by_location: dict[Any, Rate] = field(default_factory=dict)
    by_type: dict[Any, Rate] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))


def summarize(items: Iterable[tuple[Any, Any, Any, Any, Answer]]) -> Summary:
    """`items`: (employee_id, department_id, location_id, type_id, answer) per pair."""
    s = Summary()
    person: dict[Any, tuple[Any, Any, bool]] = {}
    for emp, dep, loc, typ, a in items:
        s.pairs.total += 1
        s.pairs.compliant += a.compliant
        s.states[a.state] += 1
        r = s.by_type.get(typ)
        if r is None:
            r = s.by_type[typ] = Rate()
        r.total += 1
        r.compliant += a.compliant
        prev = person.get(emp)
        person[emp] = (dep, loc, a.compliant and (prev is None or prev[2]))
    for dep, loc, ok in person.values():
        s.people.total += 1
        s.people.compliant += ok
        for key, groups in ((dep, s.by_department), (loc, s.by_location)):
            r = groups.get(key)
            if r is None:
                r = groups[key] = Rate()
            r.total += 1
            r.compliant += ok
    return s
