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
from datetime import date
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
    if current is None:
        return "unknown"
    step = posting.position - current.position
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


def _track(p: LevelInfo, c: Candidate) -> tuple[float, str]:
    best, note = 0.0, "not in a track or level you target"
    idp_levels = {lv.level_id for lv in c.idp_levels}
    idp_tracks = {lv.track_id for lv in c.idp_levels}
    for got, fraction, text in (
        (p.level_id in idp_levels, 1.0, "your development plan targets this level"),
        (p.level_id in c.preferred_level_ids, 1.0, "a level you prefer"),
        (p.track_id in idp_tracks, 0.8, "your development plan targets this track"),
        (p.track_id in c.preferred_track_ids, 0.8, "a track you prefer"),
        (c.level is not None and c.level.track_id == p.track_id, 0.5, "in your current track"),
    ):
        if got and fraction > best:
            best, note = fraction, text
    return best, note


def _location(p: Posting, c: Candidate) -> tuple[float, str]:
    here = c.who.location_id
    if p.work_mode == "remote":
        fraction, note = 1.0, "remote"
    elif not p.location_ids:
        fraction, note = 1.0, "no fixed location"
    elif here is not None and here in p.location_ids:
        fraction, note = 1.0, "at your location"
    elif not p.location_ids.isdisjoint(c.preferred_location_ids):
        fraction, note = 0.8, "at a location you prefer"
    elif c.willing_to_relocate:
        fraction, note = 0.6, "elsewhere: you are willing to relocate"
    elif p.work_mode == "hybrid":
        fraction, note = 0.3, "hybrid, at another location"
    else:
        fraction, note = 0.0, "on site at another location"
    if c.work_modes and p.work_mode not in c.work_modes:
        fraction *= 0.5
        note += f"; you prefer {', '.join(sorted(c.work_modes))} work"
    return fraction, note


def _exclusion(p: Posting, c: Candidate) -> str | None:
    if p.hiring_manager_id is not None and c.employee_id == p.hiring_manager_id:
        return "the hiring manager of this posting"
    if p.kind == "gig":
        if not c.open_to_gigs:
            return "not open to gigs"
        if (
            p.hours_per_week is not None
            and c.gig_hours_per_week is not None
            and p.hours_per_week > c.gig_hours_per_week
        ):
            return f"the gig needs {p.hours_per_week} h a week, more than {c.gig_hours_per_week}"
    elif (
        p.level is not None
        and c.level is not None
        and p.level.position < c.level.position
        and not c.open_to_downward
    ):
        return "a step down, and not open to one"
    return None


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
        add(
            "required",
            req.score / 100,
            f"{met} of {len(req.skills)} required skills met, "
            f"{held} of {len(req.credentials)} credentials valid on {on.isoformat()}",
        )
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
