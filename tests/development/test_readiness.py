"""The readiness scorer and the path finder: pure, tested with hypothesis and by hand."""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from upward.development.readiness import (
    HeldCredential,
    Person,
    SkillExpectation,
    Target,
    career_paths,
    effective_skills,
    readiness,
)

ON = date(2027, 3, 1)
SKILLS = [uuid.UUID(int=i) for i in range(1, 9)]
TYPES = [uuid.UUID(int=100 + i) for i in range(1, 5)]
FAST = settings(max_examples=300, deadline=None, database=None, derandomize=True)

levels = st.integers(min_value=1, max_value=5)
expectations = st.lists(
    st.builds(
        SkillExpectation,
        st.sampled_from(SKILLS),
        levels,
        st.sampled_from([0.5, 1.0, 2.0]),
    ),
    max_size=6,
    unique_by=lambda e: e.skill_id,
)
targets = st.builds(
    Target,
    expectations.map(tuple),
    st.lists(st.sampled_from(TYPES), max_size=3, unique=True).map(tuple),
    st.none() | st.integers(0, 60),
)
ratings = st.dictionaries(st.sampled_from(SKILLS), levels, max_size=8)
validity = st.none() | st.integers(-200, 400).map(lambda d: ON + timedelta(days=d))
credentials = st.lists(
    st.builds(HeldCredential, st.sampled_from(TYPES), st.uuids(), validity),
    max_size=4,
).map(tuple)
persons = st.builds(Person, ratings, credentials, st.none() | st.integers(0, 120))
# a forest over SKILLS: each skill's parent has a smaller index (no cycles)
parents_st = st.lists(st.none() | st.integers(0, 7), min_size=8, max_size=8).map(
    lambda ps: {
        SKILLS[i]: (SKILLS[p % i] if p is not None and i > 0 else None) for i, p in enumerate(ps)
    }
)


@FAST
@given(persons, targets, parents_st)
def test_100_exactly_when_nothing_is_missing(p: Person, t: Target, parents: dict) -> None:
    r = readiness(p, t, ON, parents)
    assert 0 <= r.score <= 100
    assert (r.score == 100) == r.ready
    assert r.ready == (not r.next_steps)


@FAST
@given(persons, targets, parents_st, st.sampled_from(SKILLS), levels)
def test_more_skill_never_lowers_readiness(
    p: Person, t: Target, parents: dict, skill: uuid.UUID, level: int
) -> None:
    before = readiness(p, t, ON, parents).score
    better = dict(p.skills)
    better[skill] = max(better.get(skill, 0), level)
    after = readiness(Person(better, p.credentials, p.months_in_level), t, ON, parents).score
    assert after >= before


@FAST
@given(persons, targets, st.sampled_from(TYPES), validity)
def test_another_credential_never_lowers_readiness(
    p: Person, t: Target, type_id: uuid.UUID, until: date | None
) -> None:
    before = readiness(p, t, ON).score
    more = (*p.credentials, HeldCredential(type_id, uuid.uuid4(), until))
    after = readiness(Person(p.skills, more, p.months_in_level), t, ON).score
    assert after >= before


@FAST
@given(persons, targets, parents_st)
def test_each_check_says_why(p: Person, t: Target, parents: dict) -> None:
    r = readiness(p, t, ON, parents)
    have = effective_skills(p.skills, parents)
    assert [s.skill_id for s in r.skills] == [e.skill_id for e in t.skills]
    for s in r.skills:
        level = have.get(s.skill_id, 0)
        assert s.have == level
        assert s.state == ("met" if level >= s.required else "partial" if level else "missing")
        assert s.gap == max(0, s.required - level)
    for c in r.credentials:
        held = [x for x in p.credentials if x.credential_type_id == c.credential_type_id]
        valid = [x for x in held if x.valid_until is None or x.valid_until >= ON]
        assert c.state == ("held" if valid else "expiring" if held else "missing")
    # time in level explains, it does not score
    other = readiness(Person(p.skills, p.credentials, None), t, ON, parents)
    assert other.score == r.score


def test_a_sub_skill_rolls_up_to_its_parents() -> None:
    root, mid, leaf = SKILLS[:3]
    parents = {mid: root, leaf: mid}
    target = Target((SkillExpectation(root, 3), SkillExpectation(mid, 4)))
    r = readiness(Person({leaf: 4}), target, ON, parents)
    assert [(s.state, s.have) for s in r.skills] == [("met", 4), ("met", 4)]
    assert r.score == 100 and r.ready


def test_by_hand_a_partial_skill_a_missing_one_and_an_expiring_credential() -> None:
    a, b = SKILLS[:2]
    card, badge = TYPES[:2]
    target = Target(
        (SkillExpectation(a, 4), SkillExpectation(b, 2)), (card, badge), typical_months=24
    )
    person = Person(
        {a: 2},
        (HeldCredential(card, uuid.UUID(int=7), ON - timedelta(days=1)),),
        months_in_level=30,
    )
    r = readiness(person, target, ON)
    assert [(s.state, s.gap) for s in r.skills] == [("partial", 2), ("missing", 2)]
    assert [c.state for c in r.credentials] == ["expiring", "missing"]
    assert r.score == 12.5  # (2/4 + 0 + 0 + 0) / 4
    assert r.time_in_level.met is True
    assert [getattr(x, "state", None) for x in r.next_steps] == [
        "expiring",
        "missing",
        "partial",
        "missing",
    ]
    assert readiness(Person(), Target(), ON).score == 100  # nothing asked: ready


# --- paths ------------------------------------------------------------------------------------

graphs = st.dictionaries(
    st.integers(0, 11),
    st.lists(st.integers(0, 11), max_size=4, unique=True),
    max_size=12,
)


def _bfs_len(graph: dict, a: int, b: int) -> int | None:
    dist = {a: 1}
    queue = deque([a])
    while queue:
        n = queue.popleft()
        if n == b:
            return dist[n]
        for m in graph.get(n, ()):
            if m not in dist:
                dist[m] = dist[n] + 1
                queue.append(m)
    return None


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(graphs, st.integers(0, 11), st.integers(0, 11), st.integers(1, 5))
def test_paths_are_simple_valid_distinct_and_shortest_first(
    graph: dict, a: int, b: int, k: int
) -> None:
    paths = career_paths(graph, a, b, k)
    shortest = _bfs_len(graph, a, b)
    if shortest is None:
        assert paths == []
        return
    assert 1 <= len(paths) <= k
    assert len(paths[0]) == shortest
    assert [len(p) for p in paths] == sorted(len(p) for p in paths)
    assert len({tuple(p) for p in paths}) == len(paths)
    for p in paths:
        assert p[0] == a and p[-1] == b
        assert len(set(p)) == len(p)  # a path never repeats a level
        assert all(q in graph.get(n, ()) for n, q in itertools.pairwise(p))


def test_paths_by_hand_ladders_with_a_lateral_link() -> None:
    # IC1 -> IC2 -> IC3 -> IC4; M1 -> M2; IC3 <-> M1 (lateral)
    g = {"IC1": ["IC2"], "IC2": ["IC3"], "IC3": ["IC4", "M1"], "M1": ["M2", "IC3"], "M2": []}
    assert career_paths(g, "IC1", "M2", 3) == [["IC1", "IC2", "IC3", "M1", "M2"]]
    assert career_paths(g, "M1", "IC4", 2) == [["M1", "IC3", "IC4"]]
    assert career_paths(g, "IC4", "IC1") == []
    assert career_paths(g, "IC2", "IC2") == [["IC2"]]
    diamond = {1: [2, 3], 2: [4], 3: [4], 4: [5], 5: []}
    assert career_paths(diamond, 1, 5, 5) == [[1, 2, 4, 5], [1, 3, 4, 5]]
