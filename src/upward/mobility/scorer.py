"""The match scorer: pure functions over plain values (no I/O), over the readiness core.

`score(posting, candidate, today)` says how well a person fits an open posting and why. The
score (0-100) is the sum of weighted components, each with its contribution:

- `required`: the readiness core (`development.readiness.readiness`) on a target built from the
  posting's required skills (each weighted by its minimum proficiency, so a skill asked at 4
  counts twice one asked at 2) and its required credential types, valid on the start date;
- `preferred`: the readiness core on the preferred skills alone (credentials do not apply);
- `level`: the step from the person's level to the posting's (roles only; a gig is a stretch
  project, not a move): one level up scores best (upward mobility), lateral next, more than one
  level up less, unknown (not placed) half; a step down counts only for people who opted in
  (`open_to_downward`), everyone else is excluded;
- `track`: alignment with the person's development-plan target levels and preferred
  tracks / levels (the best of them; staying in one's own track counts half);
- `location`: remote work, the person's own location, a preferred location, willingness to
  relocate, and the preferred work modes.

Components that do not apply to a posting (no required items, no preferred skills, no target
level) are left out and the weights of the others scaled up to 100, so the weights depend only
on the posting: people are compared on one scale per posting, and the contributions add up to
the score exactly (all are integers in hundredths underneath). A component earns its full weight
only when fully met, so 100 means nothing is missing and everything is aligned.

Eligibility comes from `mobility.rules.eligibility`: an ineligible person keeps their score and
gets `eligible=False` with the reasons. People the posting must never list (its hiring manager,
a downward step without opt-in, a gig for someone not open to gigs or with fewer hours to give)
are `excluded` (score 0, no components): `rank` drops them.

Ties rank by employee id, so the order is stable and matches the stored order
(`score DESC, employee_id`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from upward.development import readiness as core
from upward.mobility import rules

BASE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("required", 50),
    ("preferred", 10),
    ("level", 15),
    ("track", 10),
    ("location", 15),
)

STEP_FRACTIONS = {"up": 1.0, "lateral": 0.7, "stretch": 0.4, "unknown": 0.5, "down": 0.3}


@dataclass(frozen=True, slots=True)
class LevelInfo:
    """A career level as the scorer compares them: positions are comparable across tracks
    (position 3 of one ladder is as senior as position 3 of another)."""

    level_id: uuid.UUID
    track_id: uuid.UUID
    position: int


@dataclass(frozen=True)
class Posting:
    posting_id: uuid.UUID
    kind: str = "role"  # role | gig
    work_mode: str = "on_site"  # on_site | hybrid | remote
    location_ids: frozenset[uuid.UUID] = frozenset()
    level: LevelInfo | None = None
    required: tuple[core.SkillExpectation, ...] = ()
    preferred: tuple[core.SkillExpectation, ...] = ()
    credential_types: tuple[uuid.UUID, ...] = ()
    start_on: date | None = None  # credentials must be valid then (default: today)
    hours_per_week: int | None = None
    rules: rules.PostingRules | None = None  # None: no eligibility rules
    hiring_manager_id: uuid.UUID | None = None

    @property
    def weights(self) -> dict[str, int]:
        """Each applicable component's weight in hundredths of a point (they sum to 10,000)."""
        return _weights(self)


@dataclass(frozen=True)
class Candidate:
    """A person open to moves, with what they want. `who` carries the facts eligibility reads
    (department, location, level, time in role)."""

    who: rules.Viewer
    person: core.Person  # skills (effective, or with `parents`), credentials valid today
    level: LevelInfo | None = None
    idp_levels: tuple[LevelInfo, ...] = ()  # target levels of their current development plan
    preferred_track_ids: frozenset[uuid.UUID] = frozenset()
    preferred_level_ids: frozenset[uuid.UUID] = frozenset()
    preferred_location_ids: frozenset[uuid.UUID] = frozenset()
    work_modes: frozenset[str] = frozenset()  # empty: any
    willing_to_relocate: bool = False
    open_to_downward: bool = False
    open_to_gigs: bool = False
    gig_hours_per_week: int | None = None

    @property
    def employee_id(self) -> uuid.UUID:
        return self.who.employee_id


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    weight: float  # points out of 100
    fraction: float  # 0-1, how much of it is met
    contribution: float  # points: the score is the sum of contributions
    note: str


@dataclass(frozen=True)
class Match:
    posting_id: uuid.UUID
    employee_id: uuid.UUID
    score: float
    eligible: bool
    components: tuple[Component, ...] = ()
    reasons: tuple[str, ...] = ()  # why not eligible
    excluded: str | None = None  # why the posting must not list them at all
    required: core.Readiness | None = None
    preferred: core.Readiness | None = None
    level_step: str | None = None  # up | lateral | stretch | down | unknown | None
    why: tuple[str, ...] = field(default=())

    def explanation(self) -> dict[str, Any]:
        """The JSON stored with the match (posting_matches.explanation)."""
        skills: list[dict[str, Any]] = []
        creds: list[dict[str, Any]] = []
        for r, required in ((self.required, True), (self.preferred, False)):
            if r is None:
                continue
            for s in r.skills:
                skills.append(
                    {
                        "skill_id": str(s.skill_id),
                        "required": required,
                        "min": s.required,
                        "have": s.have,
                        "state": s.state,
                    }
                )
            if required:
                for c in r.credentials:
                    creds.append(
                        {
                            "credential_type_id": str(c.credential_type_id),
                            "state": c.state,
                            "credential_id": str(c.credential_id) if c.credential_id else None,
                            "valid_until": c.valid_until.isoformat() if c.valid_until else None,
                        }
                    )
        return {
            "components": [
                {
                    "name": c.name,
                    "weight": c.weight,
                    "fraction": c.fraction,
                    "contribution": c.contribution,
                    "note": c.note,
                }
                for c in self.components
            ],
            "skills": skills,
            "credentials": creds,
            "level_step": self.level_step,
            "reasons": list(self.reasons),
            "why": list(self.why),
            "excluded": self.excluded,
        }


# --- weights ---------------------------------------------------------------------------------


def _applicable(p: Posting) -> list[tuple[str, int]]:
    out = []
    for name, w in BASE_WEIGHTS:
        if name == "required" and not (p.required or p.credential_types):
            continue
        if name == "preferred" and not p.preferred:
            continue
        if name == "level" and (p.level is None or p.kind == "gig"):
            continue
        if name == "track" and p.level is None:
            continue
        out.append((name, w))
    return out


def _weights(p: Posting) -> dict[str, int]:
    """Base weights scaled to 10,000 hundredths, rounded by largest remainder so they sum
    exactly (ties to the earlier component)."""
    comps = _applicable(p)
    total = sum(w for _, w in comps)
    raw = [(name, w * 10_000 / total) for name, w in comps]
    out = {name: int(v) for name, v in raw}
    left = 10_000 - sum(out.values())
    by_rest = sorted(range(len(raw)), key=lambda i: (-(raw[i][1] - int(raw[i][1])), i))
    for i in by_rest[:left]:
        out[raw[i][0]] += 1
    return out


def _points(weight_h: int, fraction: float) -> int:
    """A component's contribution in hundredths: all of the weight only when fully met."""
    if fraction >= 1.0:
        return weight_h
    if fraction <= 0.0:
        return 0
    return min(round(weight_h * fraction), weight_h - 1)


# --- the components --------------------------------------------------------------------------


def level_step(posting: LevelInfo, current: LevelInfo | None) -> str:
    return step_between(posting.position, current.position if current is not None else None)


def step_between(posting_position: int, position: int | None) -> str:
    if position is None:
        return "unknown"
    step = posting_position - position
    if step == 1:
        return "up"
    if step == 0:
        return "lateral"
    if step > 1:
        return "stretch"
    return "down"


_STEP_NOTES = {
    "up": "one level up: upward mobility",
    "lateral": "a lateral move at your level",
    "stretch": "more than one level up: a stretch",
    "unknown": "your current level is not known",
    "down": "a level down, which you said you are open to",
}


def track_part(
    idp_level: bool, pref_level: bool, idp_track: bool, pref_track: bool, same_track: bool
) -> tuple[float, str]:
    """The track component from the facts: the best alignment that holds."""
    best, note = 0.0, "not in a track or level you target"
    for got, fraction, text in (
        (idp_level, 1.0, "your development plan targets this level"),
        (pref_level, 1.0, "a level you prefer"),
        (idp_track, 0.8, "your development plan targets this track"),
        (pref_track, 0.8, "a track you prefer"),
        (same_track, 0.5, "in your current track"),
    ):
        if got and fraction > best:
            best, note = fraction, text
    return best, note


def _track(p: LevelInfo, c: Candidate) -> tuple[float, str]:
    return track_part(*_track_facts(p, c))


def _track_facts(p: LevelInfo, c: Candidate) -> tuple[bool, bool, bool, bool, bool]:
    return (
        any(lv.level_id == p.level_id for lv in c.idp_levels),
        p.level_id in c.preferred_level_ids,
        any(lv.track_id == p.track_id for lv in c.idp_levels),
        p.track_id in c.preferred_track_ids,
        c.level is not None and c.level.track_id == p.track_id,
    )


def location_part(
    work_mode: str,
    has_locations: bool,
    here: bool,
    preferred_here: bool,
    willing_to_relocate: bool,
    work_modes: frozenset[str],
) -> tuple[float, str]:
    """The location component from the facts: `here` (the person sits at one of the posting's
    locations), `preferred_here` (one of them is a location they prefer)."""
    if work_mode == "remote":
        fraction, note = 1.0, "remote"
    elif not has_locations:
        fraction, note = 1.0, "no fixed location"
    elif here:
        fraction, note = 1.0, "at your location"
    elif preferred_here:
        fraction, note = 0.8, "at a location you prefer"
    elif willing_to_relocate:
        fraction, note = 0.6, "elsewhere: you are willing to relocate"
    elif work_mode == "hybrid":
        fraction, note = 0.3, "hybrid, at another location"
    else:
        fraction, note = 0.0, "on site at another location"
    if work_modes and work_mode not in work_modes:
        fraction *= 0.5
        note += f"; you prefer {', '.join(sorted(work_modes))} work"
    return fraction, note


def _location(p: Posting, c: Candidate) -> tuple[float, str]:
    return location_part(*_location_facts(p, c))


def _location_facts(p: Posting, c: Candidate) -> tuple[str, bool, bool, bool, bool, frozenset[str]]:
    here = c.who.location_id
    return (
        p.work_mode,
        bool(p.location_ids),
        here is not None and here in p.location_ids,
        not p.location_ids.isdisjoint(c.preferred_location_ids),
        c.willing_to_relocate,
        c.work_modes,
    )


def exclusion_part(
    p: Posting,
    is_hiring_manager: bool,
    position: int | None,
    open_to_gigs: bool,
    gig_hours_per_week: int | None,
    open_to_downward: bool,
) -> str | None:
    """Why the posting must never list the person (None: it may), from the facts."""
    if is_hiring_manager:
        return "the hiring manager of this posting"
    if p.kind == "gig":
        if not open_to_gigs:
            return "not open to gigs"
        if (
            p.hours_per_week is not None
            and gig_hours_per_week is not None
            and p.hours_per_week > gig_hours_per_week
        ):
            return f"the gig needs {p.hours_per_week} h a week, more than {gig_hours_per_week}"
    elif (
        p.level is not None
        and position is not None
        and p.level.position < position
        and not open_to_downward
    ):
        return "a step down, and not open to one"
    return None


def _exclusion(p: Posting, c: Candidate) -> str | None:
    return exclusion_part(
        p,
        p.hiring_manager_id is not None and c.employee_id == p.hiring_manager_id,
        c.level.position if c.level is not None else None,
        c.open_to_gigs,
        c.gig_hours_per_week,
        c.open_to_downward,
    )


def required_target(p: Posting) -> core.Target:
    return core.Target(p.required, p.credential_types)


def score(
    posting: Posting,
    candidate: Candidate,
    today: date,
    parents: Mapping[uuid.UUID, uuid.UUID | None] | None = None,
    *,
    weights: Mapping[str, int] | None = None,
    targets: tuple[core.Target, core.Target] | None = None,
) -> Match:
    """`weights` and `targets` (required, preferred) may be passed in when scoring many people
    for one posting, to compute them once (they depend on the posting only)."""
    excluded = _exclusion(posting, candidate)
    if excluded is not None:
        return Match(posting.posting_id, candidate.employee_id, 0.0, False, excluded=excluded)
    w = weights if weights is not None else _weights(posting)
    req_t, pref_t = targets if targets is not None else _targets(posting)
    on = posting.start_on or today
    person = candidate.person
    if parents is None:
        # skills are effective already: readiness needs only the posting's (a far smaller dict
        # to roll up: this is the inner loop of matching)
        have = person.skills
        wanted = [e.skill_id for e in req_t.skills] + [e.skill_id for e in pref_t.skills]
        person = core.Person(
            {k: have[k] for k in wanted if k in have}, person.credentials, person.months_in_level
        )
    comps: list[Component] = []
    why: list[str] = []
    total = 0
    req = pref = None
    step = None

    def add(name: str, fraction: float, note: str) -> None:
        nonlocal total
        pts = _points(w[name], fraction)
        total += pts
        comps.append(Component(name, w[name] / 100, round(fraction, 4), pts / 100, note))
        if fraction >= 1.0:
            why.append(note)

    if "required" in w:
        req = core.readiness(person, req_t, on, parents)
        met = sum(1 for s in req.skills if s.state == "met")
        held = sum(1 for c in req.credentials if c.state == "held")
        parts = []
        if req.skills:
            parts.append(f"{met} of {len(req.skills)} required skills met")
        if req.credentials:
            parts.append(
                f"{held} of {len(req.credentials)} required credentials valid on {on.isoformat()}"
            )
        add("required", req.score / 100, ", ".join(parts))
    if "preferred" in w:
        pref = core.readiness(person, pref_t, on, parents)
        met = sum(1 for s in pref.skills if s.state == "met")
        add("preferred", pref.score / 100, f"{met} of {len(pref.skills)} preferred skills met")
    if posting.level is not None:
        if "level" in w:
            step = level_step(posting.level, candidate.level)
            add("level", STEP_FRACTIONS[step], _STEP_NOTES[step])
        fraction, note = _track(posting.level, candidate)
        add("track", fraction, note)
    fraction, note = _location(posting, candidate)
    add("location", fraction, note)

    reasons: tuple[str, ...] = ()
    if posting.rules is not None:
        reasons = tuple(rules.eligibility(posting.rules, candidate.who, today))
    return Match(
        posting.posting_id,
        candidate.employee_id,
        total / 100,
        not reasons,
        tuple(comps),
        reasons,
        None,
        req,
        pref,
        step,
        tuple(why),
    )


def _targets(p: Posting) -> tuple[core.Target, core.Target]:
    return required_target(p), core.Target(p.preferred)


def score_many(
    posting: Posting,
    candidates: Iterable[Candidate],
    today: date,
    parents: Mapping[uuid.UUID, uuid.UUID | None] | None = None,
) -> list[Match]:
    """Every candidate not excluded, ranked."""
    w = _weights(posting)
    targets = _targets(posting)
    found = [score(posting, c, today, parents, weights=w, targets=targets) for c in candidates]
    return rank(found)


def rank(matches: Iterable[Match]) -> list[Match]:
    """Best first; ties by employee id (the stored order); excluded people dropped."""
    return sorted(
        (m for m in matches if m.excluded is None), key=lambda m: (-m.score, m.employee_id)
    )


def skill_expectations(rows: Iterable[tuple[uuid.UUID, int]]) -> tuple[core.SkillExpectation, ...]:
    """(skill, minimum proficiency) pairs as readiness expectations weighted by proficiency."""
    return tuple(core.SkillExpectation(s, m, float(max(1, m))) for s, m in rows)


# --- the fast path: facts and a memoizing ranker ---------------------------------------------

NIL = uuid.UUID(int=0)  # stands in for "some other id" in the synthetic inputs below


@dataclass(frozen=True, slots=True)
class Facts:
    """What one candidate brings to one posting, projected to exactly what `score` reads: the
    shape in which matching's fast path reads tens of thousands of people from SQL
    (`matching.rank_posting`). `facts_of` is the same projection in Python, and
    `Ranker.score(facts_of(p, c, today))` equals `score(p, c, today)` (tested)."""

    required: tuple[int, ...] = ()  # effective proficiency per required skill, posting order
    credentials: tuple[str, ...] = ()  # held | expiring | missing per required type (distinct)
    preferred: tuple[int, ...] = ()  # effective proficiency per preferred skill
    position: int | None = None  # the person's level position (None: not placed)
    same_track: bool = False  # placed in the posting level's track
    idp_level: bool = False  # their current plan targets the posting's level
    idp_track: bool = False  # ... a level of the posting's track
    pref_level: bool = False
    pref_track: bool = False
    here: bool = False  # sits at one of the posting's locations
    preferred_here: bool = False
    willing_to_relocate: bool = False
    work_modes: frozenset[str] = frozenset()
    is_hiring_manager: bool = False
    open_to_gigs: bool = False
    gig_hours_per_week: int | None = None
    open_to_downward: bool = False
    department_ok: bool = True  # in the posting's department audience (or it has none)
    location_ok: bool = True
    level_ok: bool = True
    since: date | None = None  # in the current level since (else hired on)


def facts_of(p: Posting, c: Candidate, today: date) -> Facts:
    on = p.start_on or today
    person = c.person
    creds = core.readiness(
        core.Person({}, person.credentials), core.Target((), p.credential_types), on
    )
    track = _track_facts(p.level, c) if p.level is not None else (False,) * 5
    loc = _location_facts(p, c)
    r = p.rules
    who = c.who
    return Facts(
        required=tuple(person.skills.get(e.skill_id, 0) for e in p.required),
        credentials=tuple(x.state for x in creds.credentials),
        preferred=tuple(person.skills.get(e.skill_id, 0) for e in p.preferred),
        position=c.level.position if c.level is not None else None,
        same_track=track[4],
        idp_level=track[0],
        pref_level=track[1],
        idp_track=track[2],
        pref_track=track[3],
        here=loc[2],
        preferred_here=loc[3],
        willing_to_relocate=c.willing_to_relocate,
        work_modes=c.work_modes,
        is_hiring_manager=p.hiring_manager_id is not None and c.employee_id == p.hiring_manager_id,
        open_to_gigs=c.open_to_gigs,
        gig_hours_per_week=c.gig_hours_per_week,
        open_to_downward=c.open_to_downward,
        department_ok=r is None
        or not r.visible_department_ids
        or who.department_id in r.visible_department_ids,
        location_ok=r is None
        or not r.visible_location_ids
        or who.location_id in r.visible_location_ids,
        level_ok=r is None or not r.visible_level_ids or who.level_id in r.visible_level_ids,
        since=who.level_since or who.hire_date,
    )


class Ranker:
    """`score`'s score, eligibility and exclusion for one posting, from `Facts` or from each
    component's facts apart, with every component computed once per distinct value: people
    share few distinct values per component (a posting's 6 required skills take a few thousand
    proficiency combinations among 100,000 people), so ranking a tenant costs a few thousand
    component evaluations, not one full `score` per person. Pure, and built from the same
    component functions as `score`; points are in hundredths (the score is points / 100)."""

    def __init__(self, posting: Posting, today: date) -> None:
        self.posting = posting
        self.today = today
        self.on = posting.start_on or today
        self.weights = _weights(posting)
        self.required_target, self.preferred_target = _targets(posting)
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _cached(self, key: tuple[Any, ...], compute: Any) -> Any:
        memo = self._memo
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    def required(self, have: tuple[int, ...], credentials: tuple[str, ...]) -> int:
        if "required" not in self.weights:
            return 0

        def compute() -> int:
            t = self.required_target
            skills = {e.skill_id: h for e, h in zip(t.skills, have, strict=True) if h > 0}
            creds = []
            for type_id, state in zip(dict.fromkeys(t.credential_types), credentials, strict=True):
                if state == "held":
                    creds.append(core.HeldCredential(type_id, NIL, None))
                elif state == "expiring":
                    creds.append(core.HeldCredential(type_id, NIL, self.on - timedelta(days=1)))
            r = core.readiness(core.Person(skills, tuple(creds)), t, self.on)
            return _points(self.weights["required"], r.score / 100)

        return self._cached(("r", have, credentials), compute)

    def preferred(self, have: tuple[int, ...]) -> int:
        if "preferred" not in self.weights:
            return 0

        def compute() -> int:
            t = self.preferred_target
            skills = {e.skill_id: h for e, h in zip(t.skills, have, strict=True) if h > 0}
            r = core.readiness(core.Person(skills), t, self.on)
            return _points(self.weights["preferred"], r.score / 100)

        return self._cached(("p", have), compute)

    def level(self, position: int | None) -> int:
        lv = self.posting.level
        if lv is None or "level" not in self.weights:
            return 0
        step = step_between(lv.position, position)
        return _points(self.weights["level"], STEP_FRACTIONS[step])

    def track(self, *flags: bool) -> int:
        """flags: idp_level, pref_level, idp_track, pref_track, same_track."""
        if self.posting.level is None:
            return 0
        return self._cached(
            ("t", flags), lambda: _points(self.weights["track"], track_part(*flags)[0])
        )

    def location(
        self, here: bool, preferred_here: bool, relocate: bool, work_modes: frozenset[str]
    ) -> int:
        p = self.posting

        def compute() -> int:
            f, _ = location_part(
                p.work_mode, bool(p.location_ids), here, preferred_here, relocate, work_modes
            )
            return _points(self.weights["location"], f)

        return self._cached(("l", here, preferred_here, relocate, work_modes), compute)

    def excluded(
        self,
        is_hiring_manager: bool,
        position: int | None,
        open_to_gigs: bool,
        gig_hours_per_week: int | None,
        open_to_downward: bool,
    ) -> bool:
        return (
            exclusion_part(
                self.posting,
                is_hiring_manager,
                position,
                open_to_gigs,
                gig_hours_per_week,
                open_to_downward,
            )
            is not None
        )

    def eligible(
        self,
        is_hiring_manager: bool,
        department_ok: bool,
        location_ok: bool,
        level_ok: bool,
        since: date | None,
    ) -> bool:
        r = self.posting.rules
        if r is None:
            return True

        def pick(ok: bool, allowed: frozenset[uuid.UUID]) -> uuid.UUID | None:
            # an id in the audience when in it, else one that is not (NIL is in no audience)
            return next(iter(allowed)) if ok and allowed else NIL

        who = rules.Viewer(
            r.hiring_manager_id if is_hiring_manager else NIL,
            pick(department_ok, r.visible_department_ids),
            pick(location_ok, r.visible_location_ids),
            pick(level_ok, r.visible_level_ids),
            since,
            None,
        )
        return not rules.eligibility(r, who, self.today)

    def score(self, f: Facts) -> tuple[float, bool, bool]:
        """(score, eligible, excluded) as `score` gives them for the person of these facts."""
        if self.excluded(
            f.is_hiring_manager, f.position, f.open_to_gigs, f.gig_hours_per_week,
            f.open_to_downward,
        ):  # fmt: skip
            return 0.0, False, True
        total = (
            self.required(f.required, f.credentials)
            + self.preferred(f.preferred)
            + self.level(f.position)
            + self.track(f.idp_level, f.pref_level, f.idp_track, f.pref_track, f.same_track)
            + self.location(f.here, f.preferred_here, f.willing_to_relocate, f.work_modes)
        )
        ok = self.eligible(f.is_hiring_manager, f.department_ok, f.location_ok, f.level_ok, f.since)
        return total / 100, ok, False
