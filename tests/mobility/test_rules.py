"""The pure visibility and eligibility rules (no I/O)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from upward.mobility.rules import (
    PostingRules,
    Viewer,
    eligibility,
    months_between,
    visible,
)

D1, D2, L1, L2, P1, P2, V1, V2 = (uuid.UUID(int=i) for i in range(1, 9))
HM = uuid.UUID(int=100)
ME = uuid.UUID(int=200)
TODAY = date(2026, 6, 15)


def posting(**kw) -> PostingRules:
    base = dict(
        status="open",
        opens_on=None,
        closes_on=None,
        visible_department_ids=frozenset(),
        visible_location_ids=frozenset(),
        visible_level_ids=frozenset(),
        min_months_in_role=None,
        hiring_manager_id=HM,
    )
    base.update(kw)
    return PostingRules(**base)


def person(**kw) -> Viewer:
    base = dict(
        employee_id=ME,
        department_id=D1,
        location_id=L1,
        level_id=V1,
        level_since=date(2025, 1, 1),
        hire_date=date(2020, 1, 1),
    )
    base.update(kw)
    return Viewer(**base)


def test_months_between_examples():
    assert months_between(date(2026, 1, 15), date(2026, 1, 15)) == 0
    assert months_between(date(2026, 1, 15), date(2026, 2, 14)) == 0
    assert months_between(date(2026, 1, 15), date(2026, 2, 15)) == 1
    assert months_between(date(2026, 1, 31), date(2026, 2, 28)) == 1  # short month's end
    assert months_between(date(2024, 1, 31), date(2024, 2, 28)) == 0  # leap year: 29th exists
    assert months_between(date(2025, 11, 20), date(2026, 11, 20)) == 12
    assert months_between(date(2026, 5, 1), date(2026, 1, 1)) == 0  # end before start


dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


@given(dates, dates, st.integers(min_value=0, max_value=400))
def test_months_between_is_monotonic_in_end(start, end, days):
    assert months_between(start, end) <= months_between(start, end + timedelta(days=days))


@given(dates, st.integers(min_value=0, max_value=300))
def test_months_between_adding_months(start, n):
    y, m = divmod(start.month - 1 + n, 12)
    day = min(start.day, 28)
    s = start.replace(day=day)
    assert months_between(s, date(s.year + y, m + 1, day)) == n


def test_visible_requires_open_and_dates():
    assert visible(posting(), person(), TODAY)
    for status in ("draft", "closed", "filled"):
        assert not visible(posting(status=status), person(), TODAY)
    assert visible(posting(opens_on=TODAY, closes_on=TODAY), person(), TODAY)
    assert not visible(posting(opens_on=TODAY + timedelta(days=1)), person(), TODAY)
    assert not visible(posting(closes_on=TODAY - timedelta(days=1)), person(), TODAY)


def test_visibility_restrictions_combine_with_and():
    p = posting(visible_department_ids=frozenset({D1, D2}), visible_level_ids=frozenset({V2}))
    assert not visible(p, person(), TODAY)  # department fits, level does not
    assert visible(p, person(level_id=V2), TODAY)
    assert visible(p, person(department_id=D2, level_id=V2), TODAY)  # OR inside one set
    assert not visible(p, person(department_id=None, level_id=V2), TODAY)
    assert not visible(posting(visible_location_ids=frozenset({L2})), person(), TODAY)


def test_eligibility_reasons():
    assert eligibility(posting(), person(), TODAY) == []
    assert eligibility(posting(), person(employee_id=HM), TODAY) == [
        "you are the hiring manager of this posting"
    ]
    p = posting(min_months_in_role=12)
    assert eligibility(p, person(level_since=date(2025, 11, 15)), TODAY) == [
        "needs 12 months in current role (has 7)"
    ]
    assert eligibility(p, person(level_since=date(2025, 6, 15)), TODAY) == []
    # no level date: time since hire counts
    assert eligibility(p, person(level_since=None, hire_date=date(2026, 1, 1)), TODAY) == [
        "needs 12 months in current role (has 5)"
    ]
    assert eligibility(p, person(level_since=None, hire_date=None), TODAY) == [
        "needs 12 months in current role (time in role unknown)"
    ]
    assert eligibility(posting(status="draft"), person(), TODAY) == [
        "the posting is draft, not open"
    ]
    assert eligibility(posting(visible_level_ids=frozenset({V2})), person(), TODAY) == [
        "open only to other levels"
    ]


ids = st.sampled_from([D1, D2, L1, L2, V1, V2, None])
id_sets = st.frozensets(st.sampled_from([D1, D2, L1, L2, V1, V2]), max_size=3)
postings = st.builds(
    PostingRules,
    status=st.sampled_from(["draft", "open", "open", "closed", "filled"]),
    opens_on=st.none() | dates,
    closes_on=st.none() | dates,
    visible_department_ids=id_sets,
    visible_location_ids=id_sets,
    visible_level_ids=id_sets,
    min_months_in_role=st.none() | st.integers(min_value=0, max_value=240),
    hiring_manager_id=st.sampled_from([HM, ME]),
)
people = st.builds(
    Viewer,
    employee_id=st.just(ME),
    department_id=ids,
    location_id=ids,
    level_id=ids,
    level_since=st.none() | dates,
    hire_date=st.none() | dates,
)


@given(postings, people, dates)
def test_eligible_implies_visible(p, who, on):
    if not eligibility(p, who, on):
        assert visible(p, who, on)
        assert who.employee_id != p.hiring_manager_id


@given(postings, people, dates)
def test_visible_and_unrestricted_means_only_manager_or_tenure_reasons(p, who, on):
    reasons = eligibility(p, who, on)
    if visible(p, who, on):
        assert all("hiring manager" in r or "months in current role" in r for r in reasons)


@given(postings, people, dates)
def test_removing_a_restriction_never_hides(p, who, on):
    if visible(p, who, on):
        for field in ("visible_department_ids", "visible_location_ids", "visible_level_ids"):
            assert visible(dataclasses.replace(p, **{field: frozenset()}), who, on)
