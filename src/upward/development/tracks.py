"""Career tracks: ladders of levels, the lateral links between them, where people stand, and
readiness / career paths for a person (the I/O around the pure `readiness` core)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.credentials.service import record_event
from upward.db import Executor, fetch, grouped
from upward.development import readiness as core
from upward.development.models import CareerTrack, EmployeeLevel, TrackLevel
from upward.development.ratings import _derived as derived_ratings
from upward.development.ratings import ratings_of, valid_credentials
from upward.errors import BadUserInput, Forbidden, NotFound
from upward.people.service import Viewer

t_track = CareerTrack.__table__
t_level = TrackLevel.__table__
t_place = EmployeeLevel.__table__

MAX_PATHS = 5
SUGGESTION_LIMIT = 5  # resources and mentors suggested per readiness


@dataclass(frozen=True)
class LevelDetail:
    skills: list[tuple[uuid.UUID, int]]  # (skill, minimum proficiency), by skill name
    credential_types: list[uuid.UUID]
    lateral: list[uuid.UUID]  # levels of other tracks one can move to


async def list_tracks(session: Executor, *, include_retired: bool = False) -> list[Any]:
    stmt = sa.select(t_track).order_by(t_track.c.name, t_track.c.id)
    if not include_retired:
        stmt = stmt.where(t_track.c.status == "active")
    return list((await session.execute(stmt)).all())


async def levels_of(
    session: Executor, track_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    rows = (
        await session.execute(
            sa.select(t_level)
            .where(t_level.c.track_id.in_(list(track_ids)))
            .order_by(t_level.c.track_id, t_level.c.position)
        )
    ).all()
    return grouped(rows, track_ids, lambda r: r.track_id)


async def levels_by_ids(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = (await session.execute(sa.select(t_level).where(t_level.c.id.in_(list(ids))))).all()
    return {r.id: r for r in rows}


async def details_of(
    session: Executor, level_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, LevelDetail]:
    """Expected skills, required credential types and lateral moves of levels: three
    statements for any number of levels."""
    ids = list(level_ids)
    skills = await fetch(
        session,
        "select ls.level_id, ls.skill_id, ls.min_proficiency from level_skills ls "
        "join skills s on s.tenant_id = ls.tenant_id and s.id = ls.skill_id "
        "where ls.level_id = any($1::uuid[]) order by s.name, ls.skill_id",
        ids,
    )
    creds = await fetch(
        session,
        "select level_id, credential_type_id from level_credentials "
        "where level_id = any($1::uuid[]) order by credential_type_id",
        ids,
    )
    links = await fetch(
        session,
        "select from_level_id, to_level_id from level_links where from_level_id = any($1::uuid[]) "
        "order by to_level_id",
        ids,
    )
    out = {i: LevelDetail([], [], []) for i in ids}
    for r in skills:
        out[r["level_id"]].skills.append((r["skill_id"], r["min_proficiency"]))
    for r in creds:
        out[r["level_id"]].credential_types.append(r["credential_type_id"])
    for r in links:
        out[r["from_level_id"]].lateral.append(r["to_level_id"])
    return out


async def placements_of(
    session: Executor, employee_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    rows = (
        await session.execute(
            sa.select(t_place).where(t_place.c.employee_id.in_(list(employee_ids)))
        )
    ).all()
    return {r.employee_id: r for r in rows}


async def place_employee(
    session: Executor,
    principal: Principal,
    *,
    employee_id: uuid.UUID,
    level_id: uuid.UUID,
    since: date | None = None,
) -> Any:
    """Put a person at a level (HR), since a date (default today)."""
    principal.require_hr("placing people on career tracks")
    emp = await fetch(session, "select status from employees where id = $1", employee_id)
    if not emp:
        raise NotFound("no employee with this id", field="employeeId")
    lvl = (await levels_by_ids(session, [level_id])).get(level_id)
    if lvl is None:
        raise NotFound("no career level with this id", field="levelId")
    today = clock.today(principal.tenant_timezone)
    since = since or today
    if since > today:
        raise BadUserInput("cannot be in the future", field="since")
    before = (await placements_of(session, [employee_id])).get(employee_id)
    stmt = pg_insert(t_place).values(
        tenant_id=principal.tenant_id, employee_id=employee_id, level_id=level_id, since=since
    )
    row = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "employee_id"],
                set_={"level_id": level_id, "since": since, "updated_at": clock.now()},
            ).returning(t_place)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="employee.place_on_track",
        target_type="Employee",
        target_id=employee_id,
        changes=audit.diff(
            {"level_id": before.level_id, "since": before.since} if before else {},
            {"level_id": level_id, "since": since},
        ),
    )
    # the matching workers re-match the person (workers/mobility.py)
    await record_event(
        session,
        principal,
        kind="employee.placed",
        subject_type="Employee",
        subject_id=employee_id,
        key=f"employee.placed:{uuid.uuid4()}",
        payload={"employee_id": employee_id, "level_id": level_id, "since": since},
    )
    return row


async def move_graph(session: Executor) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Every possible move: to the next level of the same track, and lateral links."""
    rows = await fetch(
        session,
        "select l.id, lead(l.id) over (partition by l.track_id order by l.position) as nxt "
        "from track_levels l "
        "join career_tracks t on t.tenant_id = l.tenant_id and t.id = l.track_id "
        "where t.status = 'active'",
    )
    graph: dict[uuid.UUID, list[uuid.UUID]] = {r["id"]: [] for r in rows}
    for r in rows:
        if r["nxt"] is not None:
            graph[r["id"]].append(r["nxt"])
    for r in await fetch(session, "select from_level_id, to_level_id from level_links"):
        if r["from_level_id"] in graph and r["to_level_id"] in graph:
            graph[r["from_level_id"]].append(r["to_level_id"])
    return graph


async def _person(
    session: Executor, principal: Principal, viewer: Viewer, employee_id: uuid.UUID, on: date
) -> tuple[core.Person, Any]:
    ratings = (await ratings_of(session, principal, viewer, [employee_id]))[employee_id]
    best: dict[uuid.UUID, int] = {}
    for r in ratings:
        best[r.skill_id] = max(best.get(r.skill_id, 0), r.proficiency)
    creds = (await valid_credentials(session, principal, [employee_id]))[employee_id]
    placement = (await placements_of(session, [employee_id])).get(employee_id)
    months = None
    if placement is not None:
        months = (on.year - placement.since.year) * 12 + (on.month - placement.since.month)
        if on.day < placement.since.day:
            months -= 1
        months = max(0, months)
    held = tuple(
        core.HeldCredential(c["credential_type_id"], c["id"], c["expires_on"]) for c in creds
    )
    return core.Person(best, held, months), placement


async def _parents(session: Executor) -> dict[uuid.UUID, uuid.UUID | None]:
    rows = await fetch(session, "select id, parent_id from skills")
    return {r["id"]: r["parent_id"] for r in rows}


def _target(detail: LevelDetail, current: Any) -> core.Target:
    """What a level expects; the time to compare with is the typical time in the person's
    current level (before moving on), not in the target's."""
    return core.Target(
        tuple(core.SkillExpectation(s, m) for s, m in detail.skills),
        tuple(detail.credential_types),
        current.typical_months if current is not None else None,
    )


async def _current_level(session: Executor, placement: Any) -> Any:
    if placement is None:
        return None
    return (await levels_by_ids(session, [placement.level_id])).get(placement.level_id)


def _check_reader(principal: Principal, viewer: Viewer, employee_id: uuid.UUID) -> None:
    if not viewer.sees_private(employee_id):
        raise Forbidden("readiness is the person's, their management line's and HR's to read")


async def readiness_for(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    level_id: uuid.UUID,
    on: date | None = None,
    suggestions: bool = False,
) -> core.Readiness:
    """With `suggestions`, the learning resources and mentors for what is not met (two more
    statements)."""
    _check_reader(principal, viewer, employee_id)
    on = on or clock.today(principal.tenant_timezone)
    level = (await levels_by_ids(session, [level_id])).get(level_id)
    if level is None:
        raise NotFound("no career level with this id", field="levelId")
    person, placement = await _person(session, principal, viewer, employee_id, on)
    detail = (await details_of(session, [level_id]))[level_id]
    current = await _current_level(session, placement)
    r = core.readiness(person, _target(detail, current), on, await _parents(session))
    if suggestions:
        r = (await with_suggestions(session, [r], mentee=employee_id))[0]
    return r


async def with_suggestions(
    session: Executor, readinesses: Sequence[core.Readiness], *, mentee: uuid.UUID
) -> list[core.Readiness]:
    """Each readiness with its suggested next steps (active learning resources and mentors
    tagged with its missing or partial skills, certifications for its missing credentials):
    two statements for any number of readinesses."""
    from upward.development.learning import resources_for_skills
    from upward.development.mentorship import mentor_options

    skills: set[uuid.UUID] = set()
    creds: set[uuid.UUID] = set()
    for r in readinesses:
        skills.update(core.gap_weights(r))
        creds.update(c.credential_type_id for c in r.credentials if c.state != "held")
    resources = [
        core.ResourceOption(
            row["id"], row["title"], frozenset(row["skill_ids"]), row["credential_type_id"]
        )
        for row in await resources_for_skills(session, sorted(skills), sorted(creds))
    ]
    mentors = await mentor_options(session, sorted(skills))
    return [
        core.suggest(r, resources, mentors, mentee=mentee, limit=SUGGESTION_LIMIT)
        for r in readinesses
    ]


async def paths_for(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    target_level_id: uuid.UUID,
    k: int = 3,
    on: date | None = None,
    suggestions: bool = False,
) -> list[list[tuple[Any, core.Readiness | None]]]:
    """The few shortest paths from the person's current level to the target, each step (after
    the first) with the person's readiness for it today (with `suggestions`, its suggested
    next steps, loaded for every step at once)."""
    _check_reader(principal, viewer, employee_id)
    if not 1 <= k <= MAX_PATHS:
        raise BadUserInput(f"must be between 1 and {MAX_PATHS}", field="first")
    on = on or clock.today(principal.tenant_timezone)
    if (await levels_by_ids(session, [target_level_id])).get(target_level_id) is None:
        raise NotFound("no career level with this id", field="targetLevelId")
    person, placement = await _person(session, principal, viewer, employee_id, on)
    if placement is None:
        raise BadUserInput("this person is not placed on a career track yet", field="employeeId")
    graph = await move_graph(session)
    paths = core.career_paths(graph, placement.level_id, target_level_id, k)
    ids = {lvl for p in paths for lvl in p}
    levels = await levels_by_ids(session, list(ids))
    details = await details_of(session, list(ids))
    parents = await _parents(session)
    out = []
    for p in paths:
        start = levels[p[0]]
        steps: list[tuple[Any, core.Readiness | None]] = [(start, None)]
        for lvl in p[1:]:
            ready = core.readiness(person, _target(details[lvl], start), on, parents)
            steps.append((levels[lvl], ready))
        out.append(steps)
    if suggestions:
        flat = [r for steps in out for _, r in steps if r is not None]
        done = iter(await with_suggestions(session, flat, mentee=employee_id))
        out = [[(lv, next(done) if r is not None else None) for lv, r in steps] for steps in out]
    return out


# --- readiness of many people at once ----------------------------------------------------------


def months_in_level(since: date, on: date) -> int:
    """Whole months from `since` to `on` (0 when `on` is earlier), as readiness counts them."""
    months = (on.year - since.year) * 12 + (on.month - since.month)
    if on.day < since.day:
        months -= 1
    return max(0, months)


async def next_levels(
    session: Executor, employee_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    """Each placed person's next rung in their track (None at the top); people who are not
    placed, or whose track is retired, are left out. One statement."""
    rows = await fetch(
        session,
        "with ranked as (select l.id, lead(l.id) over (partition by l.track_id "
        "order by l.position) as nxt from track_levels l "
        "join career_tracks t on t.tenant_id = l.tenant_id and t.id = l.track_id "
        "where t.status = 'active') "
        "select p.employee_id, r.nxt from employee_levels p join ranked r on r.id = p.level_id "
        "where p.employee_id = any($1::uuid[])",
        list(employee_ids),
    )
    return {r["employee_id"]: r["nxt"] for r in rows}


async def _best_ratings(session: Executor, principal: Principal, ids: list[uuid.UUID]) -> list[Any]:
    """(employee_id, skill_id, proficiency) of the ratings `ratings_of` lists (recorded, and
    derived from credentials valid today; active skills), only the columns readiness reads:
    two statements for any number of people."""
    stored = await fetch(
        session,
        "select r.employee_id, r.skill_id, r.proficiency from employee_skills r "
        "join skills s on s.tenant_id = r.tenant_id and s.id = r.skill_id "
        "where r.employee_id = any($1::uuid[]) and s.status = 'active'",
        ids,
    )
    return [*stored, *await derived_ratings(session, principal, ids)]


async def people_inputs(
    session: Executor,
    principal: Principal,
    employee_ids: Sequence[uuid.UUID],
    on: date,
) -> tuple[dict[uuid.UUID, core.Person], dict[uuid.UUID, Any]]:
    """What readiness reads about many people (best ratings, credentials valid today, months in
    the current level) and their placements (employee_id, level_id, since), loaded once for any
    number of targets: four statements whatever the number of people. No permission check:
    callers check who may read the people."""
    ids = list(employee_ids)
    if not ids:
        return {}, {}
    best_of: dict[uuid.UUID, dict[uuid.UUID, int]] = {i: {} for i in ids}
    for r in await _best_ratings(session, principal, ids):
        best = best_of[r["employee_id"]]
        best[r["skill_id"]] = max(best.get(r["skill_id"], 0), r["proficiency"])
    creds = await valid_credentials(session, principal, ids)
    places = {
        r["employee_id"]: r
        for r in await fetch(
            session,
            "select employee_id, level_id, since from employee_levels "
            "where employee_id = any($1::uuid[])",
            ids,
        )
    }
    persons: dict[uuid.UUID, core.Person] = {}
    for employee_id in ids:
        held = tuple(
            core.HeldCredential(c["credential_type_id"], c["id"], c["expires_on"])
            for c in creds[employee_id]
        )
        place = places.get(employee_id)
        months = months_in_level(place["since"], on) if place is not None else None
        persons[employee_id] = core.Person(best_of[employee_id], held, months)
    return persons, places


async def readiness_many(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    targets: dict[uuid.UUID, uuid.UUID],
    on: date | None = None,
) -> dict[uuid.UUID, core.Readiness]:
    """Each person's readiness for their target level ({employee: level}) on a date (default
    today), as `readiness_for` computes it one by one, in a constant number of statements
    whatever the number of people: what matching and bulk reports call."""
    ids = list(targets)
    for employee_id in ids:
        _check_reader(principal, viewer, employee_id)
    on = on or clock.today(principal.tenant_timezone)
    if not ids:
        return {}
    persons, places = await people_inputs(session, principal, ids, on)
    wanted = set(targets.values())
    levels = await levels_by_ids(session, list(wanted | {p["level_id"] for p in places.values()}))
    for level_id in wanted:
        if level_id not in levels:
            raise NotFound("no career level with this id", field="levelId")
    details = await details_of(session, list(wanted))
    parents = await _parents(session)
    out: dict[uuid.UUID, core.Readiness] = {}
    for employee_id, level_id in targets.items():
        place = places.get(employee_id)
        current = levels.get(place["level_id"]) if place is not None else None
        person = persons[employee_id]
        out[employee_id] = core.readiness(person, _target(details[level_id], current), on, parents)
    return out
