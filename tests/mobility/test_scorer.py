"""The match scorer: pure, tested with hypothesis and by hand."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from upward.development.readiness import HeldCredential, Person, SkillExpectation
from upward.mobility import rules
from upward.mobility.scorer import (
    Candidate,
    LevelInfo,
    Posting,
    rank,
    score,
    score_many,
    skill_expectations,
)

TODAY = date(2027, 3, 1)
SKILLS = [uuid.UUID(int=i) for i in range(1, 9)]
TYPES = [uuid.UUID(int=100 + i) for i in range(1, 4)]
TRACKS = [uuid.UUID(int=200 + i) for i in range(1, 3)]
LEVELS = [
    LevelInfo(uuid.UUID(int=300 + 10 * t + p), TRACKS[t], p) for t in range(2) for p in (1, 2, 3)
]
LOCS = [uuid.UUID(int=400 + i) for i in range(1, 4)]
DEPT = uuid.UUID(int=500)
HM = uuid.UUID(int=900)
FAST = settings(max_examples=300, deadline=None, database=None, derandomize=True)

levels_st = st.integers(1, 5)
expect_st = st.lists(
    st.tuples(st.sampled_from(SKILLS), levels_st), max_size=4, unique_by=lambda e: e[0]
).map(skill_expectations)
postings = st.builds(
    Posting,
    st.just(uuid.UUID(int=1000)),
    st.sampled_from(["role", "gig"]),
    st.sampled_from(["on_site", "hybrid", "remote"]),
    st.frozensets(st.sampled_from(LOCS), max_size=2),
    st.none() | st.sampled_from(LEVELS),
    expect_st,
    expect_st,
    st.lists(st.sampled_from(TYPES), max_size=2, unique=True).map(tuple),
    st.none() | st.integers(0, 60).map(lambda d: TODAY + timedelta(days=d)),
    st.none() | st.integers(1, 40),
    st.none(),
    st.just(HM),
)
creds_st = st.lists(
    st.builds(
        HeldCredential,
        st.sampled_from(TYPES),
        st.uuids(),
        st.none() | st.integers(0, 90).map(lambda d: TODAY + timedelta(days=d)),
    ),
    max_size=3,
).map(tuple)


@st.composite
def candidates(draw, employee_id=None) -> Candidate:
    eid = employee_id or draw(st.integers(1, 50).map(lambda i: uuid.UUID(int=10_000 + i)))
    level = draw(st.none() | st.sampled_from(LEVELS))
    who = rules.Viewer(
        eid, DEPT, draw(st.none() | st.sampled_from(LOCS)), level and level.level_id, None, None
    )
    return Candidate(
        who=who,
        person=Person(
            draw(st.dictionaries(st.sampled_from(SKILLS), levels_st, max_size=8)), draw(creds_st)
        ),
        level=level,
        idp_levels=tuple(draw(st.lists(st.sampled_from(LEVELS), max_size=2, unique=True))),
        preferred_track_ids=draw(st.frozensets(st.sampled_from(TRACKS), max_size=1)),
        preferred_level_ids=frozenset(),
        preferred_location_ids=draw(st.frozensets(st.sampled_from(LOCS), max_size=2)),
        work_modes=draw(st.frozensets(st.sampled_from(["on_site", "hybrid", "remote"]))),
        willing_to_relocate=draw(st.booleans()),
        open_to_downward=draw(st.booleans()),
        open_to_gigs=draw(st.booleans()),
        gig_hours_per_week=draw(st.none() | st.integers(1, 40)),
    )


def perfect_for(p: Posting, c: Candidate) -> Candidate:
    """The candidate with every skill, credential and alignment the posting asks for."""
    skills = dict(c.person.skills)
    for e in (*p.required, *p.preferred):
        skills[e.skill_id] = max(skills.get(e.skill_id, 0), e.min_proficiency)
    creds = tuple(HeldCredential(t, uuid.uuid4(), None) for t in p.credential_types)
    below = None
    if p.level is not None:
        below = LevelInfo(uuid.UUID(int=777), p.level.track_id, p.level.position - 1)
    return dataclasses.replace(
        c,
        person=Person(skills, creds),
        level=below,
        idp_levels=(p.level,) if p.level else (),
        work_modes=frozenset(),
        who=dataclasses.replace(c.who, location_id=next(iter(p.location_ids), c.who.location_id)),
        open_to_gigs=True,
        gig_hours_per_week=None,
    )


class TestProperties:
    @FAST
    @given(postings, candidates(), st.sampled_from(SKILLS), levels_st)
    def test_a_better_skill_never_lowers_the_score(self, p, c, skill, level) -> None:
        before = score(p, c, TODAY)
        skills = dict(c.person.skills)
        skills[skill] = max(skills.get(skill, 0), level)
        after = score(
            p, dataclasses.replace(c, person=dataclasses.replace(c.person, skills=skills)), TODAY
        )
        assert after.score >= before.score

    @FAST
    @given(postings, candidates(), st.sampled_from(TYPES))
    def test_a_credential_never_lowers_the_score(self, p, c, type_id) -> None:
        before = score(p, c, TODAY)
        creds = (*c.person.credentials, HeldCredential(type_id, uuid.uuid4(), None))
        c2 = dataclasses.replace(c, person=dataclasses.replace(c.person, credentials=creds))
        assert score(p, c2, TODAY).score >= before.score

    @FAST
    @given(postings, candidates())
    def test_contributions_add_up_to_the_score(self, p, c) -> None:
        m = score(p, c, TODAY)
        assert 0 <= m.score <= 100
        if m.excluded is not None:
            assert m.score == 0 and m.components == ()
            return
        assert round(sum(x.weight for x in m.components), 2) == 100
        assert round(sum(x.contribution for x in m.components), 2) == m.score
        for x in m.components:
            assert 0 <= x.contribution <= x.weight
            assert (x.contribution == x.weight) == (x.fraction >= 1)
        expl = m.explanation()
        assert round(sum(x["contribution"] for x in expl["components"]), 2) == m.score

    @FAST
    @given(postings, candidates())
    def test_lacking_nothing_and_aligned_scores_100(self, p, c) -> None:
        m = score(p, perfect_for(p, c), TODAY)
        assert m.excluded is None
        assert m.score == 100, m.components
        assert all(s["state"] == "met" for s in m.explanation()["skills"])

    @FAST
    @given(postings, candidates())
    def test_100_only_when_nothing_is_missing(self, p, c) -> None:
        m = score(p, c, TODAY)
        if m.score == 100:
            expl = m.explanation()
            assert all(s["state"] == "met" for s in expl["skills"])
            assert all(x["state"] == "held" for x in expl["credentials"])
            assert all(x.fraction >= 1 for x in m.components)

    @FAST
    @given(postings, st.lists(candidates(), max_size=12, unique_by=lambda c: c.employee_id))
    def test_ranking_is_stable_on_ties(self, p, cs) -> None:
        ranked = score_many(p, cs, TODAY)
        keys = [(-m.score, m.employee_id) for m in ranked]
        assert keys == sorted(keys)
        assert ranked == score_many(p, list(reversed(cs)), TODAY)  # input order does not matter
        assert all(m.excluded is None for m in ranked)
        assert len(ranked) == sum(1 for c in cs if score(p, c, TODAY).excluded is None)

    @FAST
    @given(postings, candidates())
    def test_weights_depend_on_the_posting_only(self, p, c) -> None:
        m = score(p, c, TODAY)
        if m.excluded is None:
            assert {x.name: round(x.weight * 100) for x in m.components} == p.weights


def person(eid: int = 1, **kw) -> Candidate:
    base: dict = dict(
        who=rules.Viewer(uuid.UUID(int=eid), DEPT, LOCS[0], LEVELS[0].level_id, None, None),
        person=Person({}),
        level=LEVELS[0],
    )
    base.update(kw)
    return Candidate(**base)


def role(**kw) -> Posting:
    base: dict = dict(posting_id=uuid.UUID(int=1000), location_ids=frozenset({LOCS[0]}))
    base.update(kw)
    return Posting(**base)


class TestByHand:
    def test_required_skills_weighted_by_proficiency(self) -> None:
        p = role(required=skill_expectations([(SKILLS[0], 4), (SKILLS[1], 2)]))
        # met the 4 and not the 2: 4/6 of the required weight
        m = score(p, person(person=Person({SKILLS[0]: 4})), TODAY)
        req = next(x for x in m.components if x.name == "required")
        assert req.weight == round(50 / 65 * 100, 2)
        assert req.fraction == round(4 / 6, 4)
        states = {s["skill_id"]: s["state"] for s in m.explanation()["skills"]}
        assert states == {str(SKILLS[0]): "met", str(SKILLS[1]): "missing"}

    def test_partial_skill_and_gap(self) -> None:
        p = role(required=skill_expectations([(SKILLS[0], 4)]))
        m = score(p, person(person=Person({SKILLS[0]: 2})), TODAY)
        assert m.explanation()["skills"] == [
            {"skill_id": str(SKILLS[0]), "required": True, "min": 4, "have": 2, "state": "partial"}
        ]

    def test_credentials_valid_on_the_start_date(self) -> None:
        start = TODAY + timedelta(days=30)
        p = role(credential_types=(TYPES[0],), start_on=start)
        soon = HeldCredential(TYPES[0], uuid.UUID(int=5), TODAY + timedelta(days=10))
        m = score(p, person(person=Person({}, (soon,))), TODAY)
        assert m.explanation()["credentials"][0]["state"] == "expiring"
        later = HeldCredential(TYPES[0], uuid.UUID(int=5), start)
        m2 = score(p, person(person=Person({}, (later,))), TODAY)
        assert m2.explanation()["credentials"][0]["state"] == "held"
        assert m2.score > m.score

    def test_level_steps(self) -> None:
        up, same, two = LEVELS[1], LEVELS[0], LEVELS[2]
        steps = {
            lv.position: score(role(level=lv), person(), TODAY).level_step for lv in (up, same, two)
        }
        assert steps == {1: "lateral", 2: "up", 3: "stretch"}
        s = {lv.position: score(role(level=lv), person(), TODAY).score for lv in (up, same, two)}
        assert s[2] > s[1] > s[3]

    def test_downward_only_when_opted_in(self) -> None:
        p = role(level=LEVELS[0])
        senior = person(level=LEVELS[2])
        assert score(p, senior, TODAY).excluded == "a step down, and not open to one"
        assert rank([score(p, senior, TODAY)]) == []
        m = score(p, dataclasses.replace(senior, open_to_downward=True), TODAY)
        assert m.excluded is None and m.level_step == "down"

    def test_gigs_need_openness_and_hours(self) -> None:
        gig = role(kind="gig", hours_per_week=10, level=LEVELS[0])
        assert score(gig, person(), TODAY).excluded == "not open to gigs"
        few = person(open_to_gigs=True, gig_hours_per_week=5)
        assert "10 h a week" in (score(gig, few, TODAY).excluded or "")
        m = score(gig, person(open_to_gigs=True, level=LEVELS[2]), TODAY)
        assert m.excluded is None and m.level_step is None  # no level step for gigs
        assert [x.name for x in m.components] == ["track", "location"]

    def test_hiring_manager_is_excluded(self) -> None:
        m = score(role(hiring_manager_id=uuid.UUID(int=1)), person(1), TODAY)
        assert m.excluded == "the hiring manager of this posting"

    def test_track_alignment(self) -> None:
        target = LEVELS[4]  # the other track, position 2
        p = role(level=target)
        none = score(p, person(), TODAY)
        idp = score(p, person(idp_levels=(target,)), TODAY)
        idp_track = score(p, person(idp_levels=(LEVELS[5],)), TODAY)
        pref = score(p, person(preferred_track_ids=frozenset({target.track_id})), TODAY)
        track = {m: next(x for x in m.components if x.name == "track") for m in (none, idp)}
        assert track[none].fraction == 0 and track[idp].fraction == 1
        assert idp.score > idp_track.score == pref.score > none.score
        assert "your development plan targets this level" in idp.why

    def test_location_fit(self) -> None:
        away = person(who=rules.Viewer(uuid.UUID(int=1), DEPT, LOCS[1], None, None, None))
        onsite = role()

        def loc(p: Posting, c: Candidate) -> float:
            return next(x for x in score(p, c, TODAY).components if x.name == "location").fraction

        assert loc(onsite, person()) == 1
        assert loc(onsite, away) == 0
        assert loc(onsite, dataclasses.replace(away, willing_to_relocate=True)) == 0.6
        assert loc(onsite, dataclasses.replace(away, preferred_location_ids=frozenset(LOCS))) == 0.8
        assert loc(role(work_mode="remote"), away) == 1
        assert (
            loc(
                role(work_mode="remote"),
                dataclasses.replace(away, work_modes=frozenset({"on_site"})),
            )
            == 0.5
        )

    def test_ineligible_keeps_the_score_with_reasons(self) -> None:
        pr = rules.PostingRules("open", None, None, frozenset(), frozenset(), frozenset(), 12, HM)
        c = person(
            who=rules.Viewer(
                uuid.UUID(int=1), DEPT, LOCS[0], None, TODAY - timedelta(days=40), None
            )
        )
        m = score(role(rules=pr), c, TODAY)
        assert not m.eligible and m.reasons == ("needs 12 months in current role (has 1)",)
        assert m.score == score(role(), c, TODAY).score

    def test_nothing_asked_location_only(self) -> None:
        m = score(role(), person(), TODAY)
        assert [(x.name, x.weight) for x in m.components] == [("location", 100.0)]
        assert m.score == 100

    def test_weights_sum_exactly(self) -> None:
        p = role(
            required=skill_expectations([(SKILLS[0], 1)]),
            preferred=(SkillExpectation(SKILLS[1], 1),),
        )
        assert sum(p.weights.values()) == 10_000


def test_required_note_names_only_what_the_posting_requires() -> None:
    skills_only = role(required=skill_expectations([(SKILLS[0], 2)]))
    note = next(c.note for c in score(skills_only, person(), TODAY).components)
    assert note == "0 of 1 required skills met"
    creds_only = role(credential_types=(TYPES[0],))
    c = person(person=Person({}, (HeldCredential(TYPES[0], uuid.uuid4(), None),)))
    note = next(c.note for c in score(creds_only, c, TODAY).components)
    assert note == f"1 of 1 required credentials valid on {TODAY.isoformat()}"
