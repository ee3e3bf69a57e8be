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
    MentorOption,
    Person,
    ResourceOption,
    SkillExpectation,
    Target,
    career_paths,
    effective_skills,
    gap_weights,
    rank_mentors,
    rank_resources,
    readiness,
    suggest,
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


# --- suggestions: mentors and learning resources ranked by the gaps they cover ----------------


PEOPLE = [uuid.UUID(int=1000 + i) for i in range(6)]
gaps_st = st.dictionaries(
    st.sampled_from(SKILLS), st.sampled_from([0.5, 1.0, 2.0, 3.0, 4.0]), max_size=6
)
skill_sets = st.frozensets(st.sampled_from(SKILLS), max_size=5)
mentor_st = st.builds(
    MentorOption,
    st.sampled_from(PEOPLE),
    skill_sets,
    st.integers(0, 3),
    st.integers(0, 4),
    st.booleans(),
)
mentors_st = st.lists(mentor_st, max_size=8, unique_by=lambda m: m.employee_id)
resource_st = st.builds(
    ResourceOption,
    st.uuids(),
    st.text(alphabet="abc", min_size=1, max_size=4),
    skill_sets,
    st.none() | st.sampled_from(TYPES),
)


@FAST
@given(gaps_st, mentors_st, st.none() | st.sampled_from(PEOPLE), st.integers(1, 8))
def test_mentor_ranking_covers_gaps_and_skips_who_cannot_mentor(
    gaps: dict, mentors: list, mentee: uuid.UUID | None, limit: int
) -> None:
    got = rank_mentors(gaps, mentors, exclude=mentee, limit=limit)
    by_id = {m.employee_id: m for m in mentors}
    total = sum(gaps.values())
    assert len(got) <= limit
    assert [m.score for m in got] == sorted((m.score for m in got), reverse=True)
    for match in got:
        m = by_id[match.employee_id]
        assert match.employee_id != mentee and m.active and m.open_slots > 0
        assert match.covered and set(match.covered) == set(gaps) & m.skill_ids
        assert [gaps[s] for s in match.covered] == sorted(
            (gaps[s] for s in match.covered), reverse=True
        )
        assert 0 < match.score <= 100
        assert (match.score == 100) == (set(gaps) <= m.skill_ids)
        assert abs(match.score - 100 * sum(gaps[s] for s in match.covered) / total) < 0.01
    # whoever could mentor and is left out ranks no better than the last one listed
    eligible = [
        m
        for m in mentors
        if m.employee_id != mentee and m.active and m.open_slots > 0 and m.skill_ids & set(gaps)
    ]
    assert len(got) == min(limit, len(eligible))
    # a prefix of the full ranking, whatever the limit
    assert got == rank_mentors(gaps, mentors, exclude=mentee, limit=100)[:limit]


@FAST
@given(gaps_st, mentors_st, st.integers(0, 5), st.sampled_from(SKILLS))
def test_teaching_another_skill_never_lowers_a_mentors_score(
    gaps: dict, mentors: list, pick: int, skill: uuid.UUID
) -> None:
    if not mentors:
        return
    m = mentors[pick % len(mentors)]
    better = MentorOption(
        m.employee_id, m.skill_ids | {skill}, m.capacity, m.active_mentees, m.active
    )

    def score(options: list) -> float:
        got = rank_mentors(gaps, options, limit=100)
        return next((x.score for x in got if x.employee_id == m.employee_id), 0.0)

    assert score([better]) >= score([m])


@FAST
@given(
    gaps_st,
    st.lists(resource_st, max_size=8),
    st.lists(st.sampled_from(TYPES), max_size=3, unique=True),
    st.integers(1, 8),
)
def test_resource_ranking_covers_gaps_and_missing_credentials(
    gaps: dict, resources: list, missing: list, limit: int
) -> None:
    got = rank_resources(gaps, resources, missing_credentials=missing, limit=limit)
    by_id = {r.resource_id: r for r in resources}
    assert len(got) <= limit
    assert [m.score for m in got] == sorted((m.score for m in got), reverse=True)
    for match in got:
        res = by_id[match.resource_id]
        assert set(match.covered) == set(gaps) & res.skill_ids
        assert match.credential_type_id == (
            res.credential_type_id if res.credential_type_id in missing else None
        )
        assert match.covered or match.credential_type_id is not None
        assert 0 < match.score <= 100
    assert got == rank_resources(gaps, resources, missing_credentials=missing, limit=100)[:limit]


@FAST
@given(persons, targets, parents_st, mentors_st, st.lists(resource_st, max_size=6))
def test_suggestions_are_for_what_is_not_met(
    p: Person, t: Target, parents: dict, mentors: list, resources: list
) -> None:
    r = suggest(readiness(p, t, ON, parents), resources, mentors, mentee=PEOPLE[0])
    assert r.suggestions is not None
    gaps = gap_weights(r)
    assert set(gaps) == {s.skill_id for s in r.skills if s.state != "met"}
    if r.ready:
        assert r.suggestions.resources == () and r.suggestions.mentors == ()
    for m in r.suggestions.mentors:
        assert m.employee_id != PEOPLE[0] and set(m.covered) <= set(gaps)
    missing = {c.credential_type_id for c in r.credentials if c.state != "held"}
    for res in r.suggestions.resources:
        assert set(res.covered) <= set(gaps)
        assert res.credential_type_id is None or res.credential_type_id in missing


def test_by_hand_the_largest_gap_weighs_most() -> None:
    a, b, c = SKILLS[:3]
    target = Target((SkillExpectation(a, 4), SkillExpectation(b, 2), SkillExpectation(c, 3)))
    r = readiness(Person({a: 3}), target, ON)  # gaps: a 1, b 2, c 3
    assert gap_weights(r) == {a: 1, b: 2, c: 3}
    teaches_c, teaches_ab, full, paused = PEOPLE[1:5]
    mentors = [
        MentorOption(teaches_ab, frozenset({a, b}), 2, 0),
        MentorOption(teaches_c, frozenset({c}), 1, 0),
        MentorOption(full, frozenset({a, b, c}), 1, 1),
        MentorOption(paused, frozenset({a, b, c}), 3, 0, active=False),
        MentorOption(PEOPLE[0], frozenset({a, b, c}), 3, 0),  # the mentee
    ]
    got = rank_mentors(gap_weights(r), mentors, exclude=PEOPLE[0])
    # a tie at 50: more open slots first
    assert [(m.employee_id, m.covered, m.score) for m in got] == [
        (teaches_ab, (b, a), 50.0),
        (teaches_c, (c,), 50.0),
    ]
    cert = ResourceOption(uuid.UUID(int=9), "Card course", frozenset(), TYPES[0])
    course = ResourceOption(uuid.UUID(int=8), "C course", frozenset({c}), None)
    r2 = readiness(Person({a: 3}), Target(target.skills, (TYPES[0],)), ON)
    got_r = rank_resources(gap_weights(r2), [cert, course], missing_credentials=[TYPES[0]])
    assert [(x.resource_id, x.score) for x in got_r] == [
        (course.resource_id, 42.86),
        (cert.resource_id, 14.29),
    ]
