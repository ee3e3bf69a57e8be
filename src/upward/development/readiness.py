"""Readiness and career paths: pure functions over plain values (no I/O), the core that career
pages and internal-mobility matching share.

`readiness(person, target, on)` scores how ready a person is for a target (a career level, or a
job posting: anything with expected skills, required credentials and a typical time in the
current level) on a date, and explains it item by item:
- each expected skill: `met` (proficiency at least the minimum), `partial` (some, with the gap)
  or `missing`; a rating of a sub-skill rolls up to its parents (a parent's effective
  proficiency is the best of its own and its descendants');
- each required credential type: `held` (a credential valid on the date), `expiring` (valid
  now but not on the date: it expires before) or `missing`;
- time in the current level against the typical (an explanation only: it does not move the
  score).
The score is 0-100: each skill counts its fraction met (have / minimum, at most 1) times its
weight, each credential 1 when held on the date; 100 exactly when nothing is missing, and
giving the person more (a skill, a higher rating, a credential) never lowers it.

`career_paths(graph, start, target, k)` returns up to `k` shortest simple paths (no level twice)
through the graph of possible moves (next levels in a track, lateral links), shortest first
(Yen's algorithm over breadth-first searches; ties in a stable order).

Suggestions: `gap_weights(readiness)` weighs each skill that is not met by its gap (times the
skill's weight); `rank_mentors` and `rank_resources` rank mentors and learning resources by the
share of that weight they cover (a certification resource also covers its credential type when
the target requires it and it is not held); `suggest` puts both on a readiness.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


@dataclass(frozen=True)
class SkillExpectation:
    skill_id: uuid.UUID
    min_proficiency: int
    weight: float = 1.0


@dataclass(frozen=True)
class HeldCredential:
    credential_type_id: uuid.UUID
    credential_id: uuid.UUID
    valid_until: date | None  # None: does not expire


@dataclass(frozen=True)
class Target:
    skills: tuple[SkillExpectation, ...] = ()
    credential_types: tuple[uuid.UUID, ...] = ()
    typical_months: int | None = None


@dataclass(frozen=True)
class Person:
    skills: Mapping[uuid.UUID, int] = field(default_factory=dict)  # skill -> best proficiency
    credentials: tuple[HeldCredential, ...] = ()  # valid today
    months_in_level: int | None = None


@dataclass(frozen=True)
class SkillCheck:
    skill_id: uuid.UUID
    required: int
    have: int  # effective proficiency (roll-up included); 0: none
    state: str  # met | partial | missing
    weight: float

    @property
    def gap(self) -> int:
        return max(0, self.required - self.have)


@dataclass(frozen=True)
class CredentialCheck:
    credential_type_id: uuid.UUID
    state: str  # held | expiring | missing
    credential_id: uuid.UUID | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class TimeCheck:
    months: int | None
    typical: int | None

    @property
    def met(self) -> bool | None:
        if self.months is None or self.typical is None:
            return None
        return self.months >= self.typical


@dataclass(frozen=True)
class Readiness:
    score: float  # 0-100
    skills: tuple[SkillCheck, ...]
    credentials: tuple[CredentialCheck, ...]
    time_in_level: TimeCheck
    suggestions: Suggestions | None = None  # filled by `suggest`, from plain options

    @property
    def ready(self) -> bool:
        return all(s.state == "met" for s in self.skills) and all(
            c.state == "held" for c in self.credentials
        )

    @property
    def next_steps(self) -> list[SkillCheck | CredentialCheck]:
        """What to work on first: missing credentials, then skills by the largest gap."""
        creds: list[SkillCheck | CredentialCheck] = [
            c for c in self.credentials if c.state != "held"
        ]
        skills = sorted(
            (s for s in self.skills if s.state != "met"),
            key=lambda s: (-s.gap * s.weight, str(s.skill_id)),
        )
        return [*creds, *skills]


def effective_skills(
    skills: Mapping[uuid.UUID, int], parents: Mapping[uuid.UUID, uuid.UUID | None]
) -> dict[uuid.UUID, int]:
    """Each rating also counts for every ancestor (the best rating below a skill is its
    effective proficiency when higher than its own)."""
    out = dict(skills)
    for skill_id, level in skills.items():
        seen = {skill_id}
        node = parents.get(skill_id)
        while node is not None and node not in seen:
            seen.add(node)
            if out.get(node, 0) < level:
                out[node] = level
            node = parents.get(node)
    return out


def readiness(
    person: Person,
    target: Target,
    on: date,
    parents: Mapping[uuid.UUID, uuid.UUID | None] | None = None,
) -> Readiness:
    have = effective_skills(person.skills, parents or {})
    skill_checks = []
    for e in target.skills:
        if not e.weight > 0:
            raise ValueError(f"a skill's weight must be positive, not {e.weight}")
        level = have.get(e.skill_id, 0)
        required = max(1, e.min_proficiency)
        state = "met" if level >= required else ("partial" if level > 0 else "missing")
        skill_checks.append(SkillCheck(e.skill_id, required, level, state, e.weight))
    cred_checks = []
    for type_id in dict.fromkeys(target.credential_types):
        held = [c for c in person.credentials if c.credential_type_id == type_id]
        valid_on = [c for c in held if c.valid_until is None or c.valid_until >= on]
        if valid_on:
            best = max(valid_on, key=lambda c: (c.valid_until is None, c.valid_until or on))
            cred_checks.append(
                CredentialCheck(type_id, "held", best.credential_id, best.valid_until)
            )
        elif held:
            best = max(held, key=lambda c: c.valid_until or on)
            cred_checks.append(
                CredentialCheck(type_id, "expiring", best.credential_id, best.valid_until)
            )
        else:
            cred_checks.append(CredentialCheck(type_id, "missing"))
    total = sum(s.weight for s in skill_checks) + len(cred_checks)
    if total == 0:
        score = 100.0
    else:
        got = sum(s.weight * min(1.0, s.have / s.required) for s in skill_checks) + sum(
            1 for c in cred_checks if c.state == "held"
        )
        score = 100.0 * got / total
        if score > 99.99 and not _complete(skill_checks, cred_checks):
            score = 99.99  # 100 means nothing is missing, whatever the rounding
    return Readiness(
        score=round(score, 2),
        skills=tuple(skill_checks),
        credentials=tuple(cred_checks),
        time_in_level=TimeCheck(person.months_in_level, target.typical_months),
    )


def _complete(skills: Iterable[SkillCheck], creds: Iterable[CredentialCheck]) -> bool:
    return all(s.state == "met" for s in skills) and all(c.state == "held" for c in creds)


# --- career paths ----------------------------------------------------------------------------


def _shortest(
    graph: Mapping[Node, Sequence[Node]],
    start: Node,
    target: Node,
    banned_nodes: set[Node],
    banned_edges: set[tuple[Node, Node]],
) -> list[Node] | None:
    if start in banned_nodes:
        return None
    prev: dict[Node, Node | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == target:
            path = [node]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for nxt in graph.get(node, ()):
            if nxt in prev or nxt in banned_nodes or (node, nxt) in banned_edges:
                continue
            prev[nxt] = node
            queue.append(nxt)
    return None


def career_paths(
    graph: Mapping[Node, Sequence[Node]], start: Node, target: Node, k: int = 3
) -> list[list[Node]]:
    """Up to `k` shortest simple paths from `start` to `target` (each a list of levels, both
    ends included), shortest first. No path when unreachable; `[[start]]` when start is the
    target."""
    first = _shortest(graph, start, target, set(), set())
    if first is None or k <= 0:
        return []
    found: list[list[Node]] = [first]
    candidates: list[list[Node]] = []
    while len(found) < k:
        last = found[-1]
        for i in range(len(last) - 1):
            spur, root = last[i], last[: i + 1]
            banned_edges = {
                (p[i], p[i + 1]) for p in found if len(p) > i + 1 and p[: i + 1] == root
            }
            banned_nodes = set(root[:-1])
            spur_path = _shortest(graph, spur, target, banned_nodes, banned_edges)
            if spur_path is None:
                continue
            path = root[:-1] + spur_path
            if path not in found and path not in candidates:
                candidates.append(path)
        if not candidates:
            break
        candidates.sort(key=lambda p: (len(p), [str(n) for n in p]))
        found.append(candidates.pop(0))
    return found


# --- suggestions: mentors and learning resources for the gaps ----------------------------------


@dataclass(frozen=True)
class MentorOption:
    """An opted-in mentor as the ranking sees them."""

    employee_id: uuid.UUID
    skill_ids: frozenset[uuid.UUID]
    capacity: int
    active_mentees: int
    active: bool = True

    @property
    def open_slots(self) -> int:
        return max(0, self.capacity - self.active_mentees)


@dataclass(frozen=True)
class ResourceOption:
    """A learning resource as the ranking sees it (active ones only are passed in)."""

    resource_id: uuid.UUID
    title: str
    skill_ids: frozenset[uuid.UUID]
    credential_type_id: uuid.UUID | None = None


@dataclass(frozen=True)
class MentorMatch:
    employee_id: uuid.UUID
    covered: tuple[uuid.UUID, ...]  # the gap skills the mentor teaches, largest gap first
    score: float  # 0-100: the share of the gap weight covered
    open_slots: int


@dataclass(frozen=True)
class ResourceMatch:
    resource_id: uuid.UUID
    covered: tuple[uuid.UUID, ...]  # gap skills it is tagged with, largest gap first
    credential_type_id: uuid.UUID | None  # the missing credential it leads to, if any
    score: float  # 0-100: the share of the gap weight (skills and credentials) covered


@dataclass(frozen=True)
class Suggestions:
    resources: tuple[ResourceMatch, ...] = ()
    mentors: tuple[MentorMatch, ...] = ()


def gap_weights(r: Readiness) -> dict[uuid.UUID, float]:
    """Each skill that is not met, weighted by its gap times the skill's weight."""
    return {s.skill_id: s.gap * s.weight for s in r.skills if s.state != "met" and s.gap > 0}


def _covered(gaps: Mapping[uuid.UUID, float], skills: frozenset[uuid.UUID]) -> list[uuid.UUID]:
    return sorted((s for s in gaps if s in skills), key=lambda s: (-gaps[s], str(s)))


def rank_mentors(
    gaps: Mapping[uuid.UUID, float],
    mentors: Iterable[MentorOption],
    *,
    exclude: uuid.UUID | None = None,
    limit: int = 5,
) -> list[MentorMatch]:
    """Mentors who teach at least one gap skill, best coverage first: the share of the gap
    weight they cover, then more open slots, then a stable order. Never `exclude` (the mentee),
    an inactive mentor or one without an open slot."""
    total = sum(w for w in gaps.values() if w > 0)
    if total <= 0 or limit <= 0:
        return []
    found = []
    seen: set[uuid.UUID] = set()
    for m in mentors:
        if m.employee_id == exclude or not m.active or m.open_slots <= 0 or m.employee_id in seen:
            continue
        covered = [s for s in _covered(gaps, m.skill_ids) if gaps[s] > 0]
        if not covered:
            continue
        seen.add(m.employee_id)
        score = 100.0 * sum(gaps[s] for s in covered) / total
        found.append(MentorMatch(m.employee_id, tuple(covered), round(score, 2), m.open_slots))
    found.sort(key=lambda x: (-x.score, -x.open_slots, str(x.employee_id)))
    return found[:limit]


def rank_resources(
    gaps: Mapping[uuid.UUID, float],
    resources: Iterable[ResourceOption],
    *,
    missing_credentials: Iterable[uuid.UUID] = (),
    limit: int = 5,
) -> list[ResourceMatch]:
    """Resources tagged with a gap skill, or leading to a missing credential type (weight 1
    each), best coverage first, then by title."""
    creds = set(missing_credentials)
    total = sum(w for w in gaps.values() if w > 0) + len(creds)
    if total <= 0 or limit <= 0:
        return []
    found: list[tuple[ResourceMatch, str]] = []
    seen: set[uuid.UUID] = set()
    for res in resources:
        if res.resource_id in seen:
            continue
        covered = [s for s in _covered(gaps, res.skill_ids) if gaps[s] > 0]
        cred = res.credential_type_id if res.credential_type_id in creds else None
        if not covered and cred is None:
            continue
        seen.add(res.resource_id)
        got = sum(gaps[s] for s in covered) + (1 if cred is not None else 0)
        match = ResourceMatch(res.resource_id, tuple(covered), cred, round(100.0 * got / total, 2))
        found.append((match, res.title.lower()))
    found.sort(key=lambda x: (-x[0].score, x[1], str(x[0].resource_id)))
    return [m for m, _ in found[:limit]]


def suggest(
    r: Readiness,
    resources: Iterable[ResourceOption],
    mentors: Iterable[MentorOption],
    *,
    mentee: uuid.UUID | None,
    limit: int = 5,
) -> Readiness:
    """The readiness with its suggested next steps: resources and mentors for what is not met
    (nothing when it is all met)."""
    gaps = gap_weights(r)
    missing = [c.credential_type_id for c in r.credentials if c.state != "held"]
    return replace(
        r,
        suggestions=Suggestions(
            tuple(rank_resources(gaps, resources, missing_credentials=missing, limit=limit)),
            tuple(rank_mentors(gaps, mentors, exclude=mentee, limit=limit)),
        ),
    )
