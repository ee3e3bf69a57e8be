"""The status rule: the Python function and the SQL conditions agree on every combination of
facts, and the compliance core answers as documented (including property-based checks)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from upward.credentials import compliance
from upward.credentials.compliance import Rule, answer
from upward.credentials.service import day_end, local_date
from upward.credentials.status import STATUSES, credential_status, status_sql

ON = date(2026, 6, 15)
TZ = "Europe/Berlin"
WINDOW = 30


def _cases() -> list[tuple]:
    expiries = [None, ON - timedelta(days=1), ON, ON + timedelta(days=30), ON + timedelta(days=31)]
    verifications = ["not_required", "pending", "verified", "rejected"]
    end = day_end(ON, TZ)
    stamps = [None, end - timedelta(seconds=1), end]  # on the day (counts), just after (not yet)
    return list(itertools.product(expiries, verifications, stamps, stamps))


async def test_python_and_sql_agree(app_engine: AsyncEngine) -> None:
    cases = _cases()
    values = ", ".join(
        f"({i}, cast(:e{i} as date), cast(:v{i} as text), cast(:r{i} as timestamptz), "
        f"cast(:s{i} as timestamptz))"
        for i in range(len(cases))
    )
    params: dict = {}
    for i, (e, v, r, s) in enumerate(cases):
        params.update({f"e{i}": e, f"v{i}": v, f"r{i}": r, f"s{i}": s})
    params.update({"on": ON, "win": WINDOW, "end": day_end(ON, TZ)})
    by_sql: dict[int, list[str]] = {i: [] for i in range(len(cases))}
    async with app_engine.connect() as conn:
        for status in STATUSES:
            cond = status_sql(
                status,
                alias="c",
                on="cast(:on as date)",
                window="cast(:win as int)",
                day_end="cast(:end as timestamptz)",
            )
            sql = (
                f"select c.i from (values {values}) as c(i, expires_on, verification, revoked_at, "
                f"superseded_at) where {cond}"
            )
            for (i,) in (await conn.execute(sa.text(sql), params)).all():
                by_sql[i].append(status)
    for i, (e, v, r, s) in enumerate(cases):
        expected = credential_status(
            on=ON,
            window_days=WINDOW,
            expires_on=e,
            verification=v,
            revoked_on=local_date(r, TZ),
            superseded_on=local_date(s, TZ),
        )
        assert by_sql[i] == [expected], (cases[i], by_sql[i], expected)


def test_status_boundaries() -> None:
    def st_(**kw):
        base = dict(
            on=ON,
            window_days=30,
            expires_on=None,
            verification="not_required",
            revoked_on=None,
            superseded_on=None,
        )
        return credential_status(**{**base, **kw})

    assert st_() == "active"
    assert st_(expires_on=ON) == "expiring"  # valid through its expiry date
    assert st_(expires_on=ON - timedelta(days=1)) == "expired"
    assert st_(expires_on=ON + timedelta(days=30)) == "expiring"
    assert st_(expires_on=ON + timedelta(days=31)) == "active"
    assert st_(verification="pending") == "pending_verification"
    assert st_(verification="pending", expires_on=ON - timedelta(days=1)) == "expired"
    assert st_(verification="rejected") == "rejected"
    assert st_(revoked_on=ON, superseded_on=ON) == "revoked"
    assert st_(revoked_on=ON + timedelta(days=1)) == "active"  # revoked later than the date
    assert st_(superseded_on=ON) == "superseded"


def test_day_end_follows_the_zone() -> None:
    end = day_end(date(2026, 3, 29), "Europe/Berlin")  # DST starts that night
    assert end.astimezone(UTC) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert local_date(end - timedelta(microseconds=1), "Europe/Berlin") == date(2026, 3, 29)


class TestAnswer:
    def test_states(self) -> None:
        a = answer(on=ON, window_days=30, rules=[Rule(None, 0)], rank=0, expires_on=None)
        assert (a.state, a.compliant) == ("satisfied", True)
        a = answer(on=ON, window_days=30, rules=[Rule(None, 0)], rank=0, expires_on=ON)
        assert (a.state, a.compliant) == ("expiring", True)
        for rank, state in ((1, "pending"), (2, "expired"), (None, "missing")):
            a = answer(on=ON, window_days=30, rules=[Rule(None, 0)], rank=rank, expires_on=ON)
            assert (a.state, a.compliant, a.grace_until) == (state, False, None)

    def test_grace_after_start_and_after_expiry(self) -> None:
        start = ON - timedelta(days=9)
        a = answer(on=ON, window_days=30, rules=[Rule(start, 10)], rank=None, expires_on=None)
        assert (a.compliant, a.grace_until) == (True, ON)  # day 10 of 10
        a = answer(on=ON, window_days=30, rules=[Rule(start, 9)], rank=None, expires_on=None)
        assert a.compliant is False
        expired = ON - timedelta(days=5)
        a = answer(on=ON, window_days=30, rules=[Rule(None, 5)], rank=2, expires_on=expired)
        assert (a.state, a.compliant, a.grace_until) == ("expired", True, ON)
        a = answer(on=ON, window_days=30, rules=[Rule(None, 4)], rank=2, expires_on=expired)
        assert a.compliant is False

    def test_strictest_rule_wins(self) -> None:
        start = ON - timedelta(days=5)
        rules = [Rule(start, 30), Rule(start, 3)]
        assert (
            answer(on=ON, window_days=30, rules=rules, rank=None, expires_on=None).compliant
            is False
        )
        rules = [Rule(start, 30), Rule(start, 10)]
        a = answer(on=ON, window_days=30, rules=rules, rank=None, expires_on=None)
        assert (a.compliant, a.grace_until) == (True, start + timedelta(days=9))


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(-400, 400),
    rank=st.sampled_from([None, 0, 1, 2]),
    expiry=st.one_of(st.none(), st.integers(-400, 400)),
    rules=st.lists(
        st.tuples(st.one_of(st.none(), st.integers(-400, 0)), st.integers(0, 120)),
        min_size=1,
        max_size=3,
    ),
)
def test_answer_properties(offset, rank, expiry, rules) -> None:
    on = ON + timedelta(days=offset)
    expires = ON + timedelta(days=expiry) if expiry is not None else None
    rs = [Rule(ON + timedelta(days=s) if s is not None else None, g) for s, g in rules]
    a = answer(on=on, window_days=30, rules=rs, rank=rank, expires_on=expires)
    assert a.state in compliance.STATES
    if rank == 0:
        assert a.compliant and a.grace_until is None
    if a.grace_until is not None:
        assert a.compliant and a.grace_until >= on and rank != 0
    # more grace never makes a pair less compliant
    more = [Rule(r.start, r.grace_days + 30) for r in rs]
    if a.compliant:
        assert answer(on=on, window_days=30, rules=more, rank=rank, expires_on=expires).compliant
    # no grace at all: compliant exactly when a valid credential covers the date
    none = [Rule(r.start, 0) for r in rs]
    assert answer(on=on, window_days=30, rules=none, rank=rank, expires_on=expires).compliant == (
        rank == 0
    )


def test_summary_counts_people_once() -> None:
    yes = compliance.Answer("satisfied", True, None)
    no = compliance.Answer("missing", False, None)
    s = compliance.summarize(
        [("a", "d1", "l1", "t1", yes), ("a", "d1", "l1", "t2", no), ("b", "d1", None, "t1", yes)]
    )
    assert (s.people.total, s.people.compliant) == (2, 1)
    assert (s.pairs.total, s.pairs.compliant) == (3, 2)
    assert (s.by_department["d1"].total, s.by_department["d1"].compliant) == (2, 1)
    assert s.by_location[None].compliant == 1 and s.by_type["t2"].rate == 0.0
    assert compliance.Rate().rate == 1.0
