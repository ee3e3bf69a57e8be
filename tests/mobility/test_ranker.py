"""The scorer's fast path: `Ranker` over `Facts` gives exactly `score`'s score, eligibility and
exclusion (hypothesis), computing each component once per distinct value."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.mobility.test_scorer import (
    DEPT,
    FAST,
    HM,
    LEVELS,
    LOCS,
    SKILLS,
    TODAY,
    TYPES,
    candidates,
    perfect_for,
    person,
    postings,
    role,
)
from upward.development.readiness import HeldCredential, Person
from upward.mobility import rules
from upward.mobility.scorer import Ranker, facts_of, score, skill_expectations

OTHER_DEPT = uuid.UUID(int=501)

NONE: st.SearchStrategy[frozenset] = st.just(frozenset())


def _some(values) -> st.SearchStrategy[frozenset]:
    # no restriction two times in three, so that people are often eligible
    return NONE | NONE | st.frozensets(st.sampled_from(values), min_size=1, max_size=2)


rules_st = st.builds(
    rules.PostingRules,
    st.sampled_from(["open", "open", "open", "closed"]),
    st.none() | st.integers(-5, 5).map(lambda d: TODAY + timedelta(days=d)),
    st.none() | st.integers(-5, 30).map(lambda d: TODAY + timedelta(days=d)),
    _some([DEPT, OTHER_DEPT]),
    _some(LOCS),
    _some([lv.level_id for lv in LEVELS]),
    st.none() | st.integers(1, 24),
    st.just(HM),
)
since_st = st.none() | st.integers(0, 900).map(lambda d: TODAY - timedelta(days=d))


@st.composite
def pairs(draw):
    p = draw(postings)
    p = dataclasses.replace(p, rules=draw(st.none() | rules_st))
    c = draw(candidates())
    if draw(st.booleans()):
        c = perfect_for(p, c)
    who = dataclasses.replace(
        c.who,
        employee_id=HM if draw(st.integers(0, 20)) == 0 else c.who.employee_id,
        department_id=draw(st.sampled_from([DEPT, OTHER_DEPT, None])),
        level_id=c.level.level_id if c.level else None,
        level_since=draw(since_st),
        hire_date=draw(since_st),
    )
    return p, dataclasses.replace(c, who=who)


@FAST
@given(pairs())
def test_ranker_equals_score(pair):
    p, c = pair
    m = score(p, c, TODAY)
    got = Ranker(p, TODAY).score(facts_of(p, c, TODAY))
    if m.excluded is not None:
        assert got[2]
    else:
        assert got == (m.score, m.eligible, False)


@FAST
@given(postings, st.lists(candidates(), min_size=2, max_size=10))
def test_one_ranker_many_people(p, people):
    """A ranker reused across people (its memo shared) still gives each their own score."""
    ranker = Ranker(p, TODAY)
    for c in people:
        m = score(p, c, TODAY)
        s, ok, excluded = ranker.score(facts_of(p, c, TODAY))
        assert excluded == (m.excluded is not None)
        if not excluded:
            assert (s, ok) == (m.score, m.eligible)


def test_memo_is_per_distinct_value():
    """200 people with 3 distinct required-skill profiles: 3 readiness evaluations."""
    p = role(required=skill_expectations([(SKILLS[0], 4), (SKILLS[1], 2)]))
    ranker = Ranker(p, TODAY)
    profiles = [{SKILLS[0]: 4}, {SKILLS[0]: 2, SKILLS[1]: 2}, {}]
    for i in range(200):
        c = person(i + 1, person=Person(profiles[i % 3]))
        s, ok, excluded = ranker.score(facts_of(p, c, TODAY))
        assert (s, ok, excluded) == (score(p, c, TODAY).score, True, False)
    assert sum(1 for k in ranker._memo if k[0] == "r") == 3


def test_expiring_credential_is_not_held():
    """A credential valid today but not on the start date scores as missing, as in `score`."""
    t = TYPES[0]
    start = TODAY + timedelta(days=30)
    p = role(credential_types=(t,), start_on=start)
    c = person(person=Person({}, (HeldCredential(t, uuid.uuid4(), TODAY + timedelta(days=5)),)))
    f = facts_of(p, c, TODAY)
    assert f.credentials == ("expiring",)
    assert Ranker(p, TODAY).score(f)[0] == score(p, c, TODAY).score < 100
