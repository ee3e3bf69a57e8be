"""Editing career tracks (HR and tenant admins): tracks, their levels and positions, what a
level expects, and lateral links between levels of different tracks. Services never commit.

Every level edit first locks the track's row (`FOR UPDATE`), so concurrent edits of one track
run one after the other. Positions are kept 1..N: an insert, a move or a removal renumbers the
track in two statements (park every level past the highest position, then set each to its
rank), because the unique (track, position) constraint is checked row by row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, fetch, is_unique_violation
from upward.development.models import (
    CareerTrack,
    LevelCredential,
    LevelLink,
    LevelSkill,
    TrackLevel,
)
from upward.development.service import get_scale
from upward.development.tracks import details_of
from upward.errors import BadUserInput, Conflict, NotFound
from upward.people.validation import optional_text, require_text

t_track = CareerTrack.__table__
t_level = TrackLevel.__table__
t_lskill = LevelSkill.__table__
t_lcred = LevelCredential.__table__
t_link = LevelLink.__table__

MAX_NAME = 200
MAX_JOB_LEVEL = 50
MAX_DESCRIPTION = 2000
MAX_TYPICAL_MONTHS = 600
MAX_LEVELS = 100  # per track
MAX_EXPECTED_SKILLS = 50
MAX_CREDENTIAL_TYPES = 20
TRACK_STATUSES = ("active", "retired")


def _require_hr(principal: Principal) -> None:
    principal.require_hr("editing career tracks")


# --- tracks -----------------------------------------------------------------------------------


async def get_track(
    session: Executor, track_id: uuid.UUID, *, field: str, lock: bool = False
) -> Any:
    stmt = sa.select(t_track).where(t_track.c.id == track_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound("no career track with this id", field=field)
    return row


async def _write_track(session: Executor, stmt: Any, name: str) -> Any:
    try:
        async with session.begin_nested():  # a concurrent create of the same name: CONFLICT
            return (await session.execute(stmt.returning(t_track))).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, "career_tracks_name_key"):
            raise Conflict(f"a career track named {name!r} exists", field="input.name") from None
        raise


async def _track_name_free(session: Executor, name: str, *, track_id: uuid.UUID | None) -> None:
    rows = await fetch(session, "select id from career_tracks where lower(name) = lower($1)", name)
    if rows and rows[0]["id"] != track_id:
        raise Conflict(f"a career track named {name!r} exists", field="input.name")


async def create_track(
    session: Executor, principal: Principal, *, name: str, description: str | None = None
) -> Any:
    """A new, empty, active track."""
    _require_hr(principal)
    values = {
        "name": require_text(name, field="input.name", max_len=MAX_NAME),
        "description": optional_text(
            description, field="input.description", max_len=MAX_DESCRIPTION
        ),
    }
    await _track_name_free(session, values["name"], track_id=None)
    row = await _write_track(
        session, sa.insert(t_track).values(tenant_id=principal.tenant_id, **values), values["name"]
    )
    await audit.record(
        session,
        principal,
        action="career_track.create",
        target_type="CareerTrack",
        target_id=row.id,
        changes=audit.diff({}, values),
    )
    return row


async def update_track(
    session: Executor, principal: Principal, track_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change the given fields: `name`, `description`, `status` (active / retired). A retired
    track leaves `careerTracks` and the graph of moves; its levels and placements stay."""
    _require_hr(principal)
    before = await get_track(session, track_id, field="id", lock=True)
    values: dict[str, Any] = {}
    if "name" in patch:
        values["name"] = require_text(patch["name"], field="input.name", max_len=MAX_NAME)
        await _track_name_free(session, values["name"], track_id=track_id)
    if "description" in patch:
        values["description"] = optional_text(
            patch["description"], field="input.description", max_len=MAX_DESCRIPTION
        )
    if "status" in patch:
        if patch["status"] not in TRACK_STATUSES:
            raise BadUserInput("status must be active or retired", field="input.status")
        values["status"] = patch["status"]
    changes = audit.diff({k: getattr(before, k) for k in values}, values)
    if not changes:
        return before
    row = await _write_track(
        session,
        sa.update(t_track).where(t_track.c.id == track_id).values(**values, updated_at=clock.now()),
        values.get("name", before.name),
    )
    await audit.record(
        session,
        principal,
        action="career_track.update",
        target_type="CareerTrack",
        target_id=track_id,
        changes=changes,
    )
    return row


# --- levels -----------------------------------------------------------------------------------


async def _levels(session: Executor, track_id: uuid.UUID) -> list[Any]:
    stmt = sa.select(t_level).where(t_level.c.track_id == track_id).order_by(t_level.c.position)
    return list((await session.execute(stmt)).all())


async def _level(session: Executor, level_id: uuid.UUID, *, field: str) -> Any:
    row = (await session.execute(sa.select(t_level).where(t_level.c.id == level_id))).first()
    if row is None:
        raise NotFound("no career level with this id", field=field)
    return row


async def _renumber(
    session: Executor, track_id: uuid.UUID, current: Sequence[Any], order: Sequence[uuid.UUID]
) -> None:
    """Put the track's levels at their rank in `order` (1-based; an id of `order` not yet in
    the table keeps its rank free for an insert). `current` are the levels as they stand.
    Two statements, none when every level is already at its rank."""
    now = {r.id: r.position for r in current}
    final = {lid: pos for pos, lid in enumerate(order, start=1)}
    if all(final[lid] == pos for lid, pos in now.items()):
        return
    # past every position now and every final one: no row meets another mid-statement
    offset = max(now.values(), default=0) + len(order) + 1
    await session.execute(
        sa.update(t_level)
        .where(t_level.c.track_id == track_id)
        .values(position=t_level.c.position + offset)
    )
    ids = [lid for lid in order if lid in now]
    await fetch(
        session,
        "update track_levels l set position = v.pos "
        "from unnest($1::uuid[], $2::int[]) as v(id, pos) "
        "where l.track_id = $3 and l.id = v.id",
        ids,
        [final[i] for i in ids],
        track_id,
    )


def _level_values(patch: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "title" in patch:
        values["title"] = require_text(patch["title"], field="input.title", max_len=MAX_NAME)
    if "job_level" in patch:
        values["job_level"] = optional_text(
            patch["job_level"], field="input.jobLevel", max_len=MAX_JOB_LEVEL
        )
    if "typical_months" in patch:
        months = patch["typical_months"]
        if months is not None and not 0 <= months <= MAX_TYPICAL_MONTHS:
            raise BadUserInput(
                f"must be between 0 and {MAX_TYPICAL_MONTHS} months", field="input.typicalMonths"
            )
        values["typical_months"] = months
    if "description" in patch:
        values["description"] = optional_text(
            patch["description"], field="input.description", max_len=MAX_DESCRIPTION
        )
    return values


def _title_free(levels: Sequence[Any], title: str, *, level_id: uuid.UUID | None) -> None:
    """Titles are unique within a track (manifests match levels by title)."""
    for r in levels:
        if r.title.lower() == title.lower() and r.id != level_id:
            raise Conflict(f"the track has a level titled {r.title!r}", field="input.title")


def _check_position(position: int, top: int) -> None:
    if not 1 <= position <= top:
        raise BadUserInput(f"must be between 1 and {top}", field="input.position")


def _level_audit(row: Any) -> dict[str, Any]:
    return {
        "track_id": row.track_id,
        "position": row.position,
        "title": row.title,
        "job_level": row.job_level,
        "typical_months": row.typical_months,
        "description": row.description,
    }


async def add_level(
    session: Executor,
    principal: Principal,
    *,
    track_id: uuid.UUID,
    title: str,
    position: int | None = None,
    job_level: str | None = None,
    typical_months: int | None = None,
    description: str | None = None,
) -> Any:
    """Insert a level at `position` (1 is the first rung; default: after the last). The
    levels from there on move one rung up, in the same transaction."""
    _require_hr(principal)
    values = _level_values(
        {
            "title": title,
            "job_level": job_level,
            "typical_months": typical_months,
            "description": description,
        }
    )
    await get_track(session, track_id, field="trackId", lock=True)
    levels = await _levels(session, track_id)
    if len(levels) >= MAX_LEVELS:
        raise BadUserInput(f"a track has at most {MAX_LEVELS} levels", field="trackId")
    pos = len(levels) + 1 if position is None else position
    _check_position(pos, len(levels) + 1)
    _title_free(levels, values["title"], level_id=None)
    new_id = uuid.uuid4()
    order = [r.id for r in levels]
    order.insert(pos - 1, new_id)
    await _renumber(session, track_id, levels, order)
    row = (
        await session.execute(
            sa.insert(t_level)
            .values(
                tenant_id=principal.tenant_id, id=new_id, track_id=track_id, position=pos, **values
            )
            .returning(t_level)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="track_level.add",
        target_type="TrackLevel",
        target_id=new_id,
        changes=audit.diff({}, _level_audit(row)),
    )
    return row


async def update_level(
    session: Executor, principal: Principal, level_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change the given fields of a level: `title`, `job_level`, `typical_months`,
    `description`, and `position` (a move within its track: the levels between shift by one)."""
    _require_hr(principal)
    values = _level_values(patch)
    found = await _level(session, level_id, field="id")
    await get_track(session, found.track_id, field="id", lock=True)
    levels = await _levels(session, found.track_id)
    before = next(r for r in levels if r.id == level_id)  # as it stands under the lock
    if "title" in values:
        _title_free(levels, values["title"], level_id=level_id)
    position = patch.get("position")
    if "position" in patch and position is None:
        raise BadUserInput("must be a position (1 is the first rung)", field="input.position")
    if position is not None:
        _check_position(position, len(levels))
        order = [r.id for r in levels if r.id != level_id]
        order.insert(position - 1, level_id)
        await _renumber(session, found.track_id, levels, order)
    changes = audit.diff({k: getattr(before, k) for k in values}, values)
    if position is not None and position != levels.index(before) + 1:
        changes["position"] = {"from": levels.index(before) + 1, "to": position}
    if not changes:
        return before
    if values:
        await session.execute(
            sa.update(t_level)
            .where(t_level.c.id == level_id)
            .values(**values, updated_at=clock.now())
        )
    await audit.record(
        session,
        principal,
        action="track_level.update",
        target_type="TrackLevel",
        target_id=level_id,
        changes=changes,
    )
    return await _level(session, level_id, field="id")


async def remove_level(session: Executor, principal: Principal, level_id: uuid.UUID) -> Any:
    """Delete a level (its expectations and lateral links go with it); the levels above move
    one rung down. Refused while anyone is placed at it or a development plan targets it.
    Returns the track."""
    _require_hr(principal)
    found = await _level(session, level_id, field="id")
    track = await get_track(session, found.track_id, field="id", lock=True)
    uses = (
        await fetch(
            session,
            "select (select count(*) from employee_levels where level_id = $1) as placed, "
            "(select count(*) from development_plan_targets where level_id = $1) as plans",
            level_id,
        )
    )[0]
    if uses["placed"]:
        raise Conflict(
            f"{uses['placed']} people are placed at this level: place them at another level first",
            field="id",
        )
    if uses["plans"]:
        raise Conflict(
            f"{uses['plans']} development plans target this level: change their targets first",
            field="id",
        )
    levels = await _levels(session, found.track_id)
    before = next(r for r in levels if r.id == level_id)
    detail = (await details_of(session, [level_id]))[level_id]
    gone = {
        **_level_audit(before),
        "position": levels.index(before) + 1,
        "skills": [[s, m] for s, m in detail.skills],
        "credential_types": detail.credential_types,
        "lateral": detail.lateral,
    }
    await session.execute(sa.delete(t_level).where(t_level.c.id == level_id))
    rest = [r for r in levels if r.id != level_id]
    await _renumber(session, found.track_id, rest, [r.id for r in rest])
    await audit.record(
        session,
        principal,
        action="track_level.remove",
        target_type="TrackLevel",
        target_id=level_id,
        changes=audit.diff(gone, dict.fromkeys(gone)),
    )
    return track


async def set_expectations(
    session: Executor,
    principal: Principal,
    *,
    level_id: uuid.UUID,
    skills: Sequence[tuple[uuid.UUID, int]],
    credential_types: Sequence[uuid.UUID],
) -> Any:
    """Replace what a level expects: skills at a minimum proficiency (a level of the scale),
    and the credential types one must hold. Returns the level."""
    _require_hr(principal)
    level = await _level(session, level_id, field="levelId")
    await get_track(session, level.track_id, field="levelId", lock=True)
    if len(skills) > MAX_EXPECTED_SKILLS:
        raise BadUserInput(f"at most {MAX_EXPECTED_SKILLS} skills", field="skills")
    if len(credential_types) > MAX_CREDENTIAL_TYPES:
        raise BadUserInput(
            f"at most {MAX_CREDENTIAL_TYPES} credential types", field="credentialTypeIds"
        )
    found = {
        r["id"]: r["status"]
        for r in await fetch(
            session,
            "select id, status from skills where id = any($1::uuid[])",
            [s for s, _ in skills],
        )
    }
    top = len(await get_scale(session))
    seen: set[uuid.UUID] = set()
    for i, (skill_id, minimum) in enumerate(skills):
        if skill_id not in found:
            raise NotFound("no skill with this id", field=f"skills.{i}.skillId")
        if found[skill_id] != "active":
            raise BadUserInput("this skill is retired", field=f"skills.{i}.skillId")
        if skill_id in seen:
            raise BadUserInput("this skill is listed twice", field=f"skills.{i}.skillId")
        seen.add(skill_id)
        if not 1 <= minimum <= top:
            raise BadUserInput(
                f"must be a level of the scale, 1 to {top}", field=f"skills.{i}.minProficiency"
            )
    types = {
        r["id"]: r["status"]
        for r in await fetch(
            session,
            "select id, status from credential_types where id = any($1::uuid[])",
            list(credential_types),
        )
    }
    seen = set()
    for i, type_id in enumerate(credential_types):
        if type_id not in types:
            raise NotFound("no credential type with this id", field=f"credentialTypeIds.{i}")
        if types[type_id] != "active":
            raise BadUserInput("this credential type is retired", field=f"credentialTypeIds.{i}")
        if type_id in seen:
            raise BadUserInput(
                "this credential type is listed twice", field=f"credentialTypeIds.{i}"
            )
        seen.add(type_id)
    before = (await details_of(session, [level_id]))[level_id]
    want_skills = sorted(skills, key=lambda s: str(s[0]))
    had_skills = sorted(before.skills, key=lambda s: str(s[0]))
    want_types = sorted(credential_types, key=str)
    had_types = sorted(before.credential_types, key=str)
    if want_skills == had_skills and want_types == had_types:
        return level
    await session.execute(sa.delete(t_lskill).where(t_lskill.c.level_id == level_id))
    await session.execute(sa.delete(t_lcred).where(t_lcred.c.level_id == level_id))
    tenant = principal.tenant_id
    if skills:
        await session.execute(
            sa.insert(t_lskill),
            [
                {"tenant_id": tenant, "level_id": level_id, "skill_id": s, "min_proficiency": m}
                for s, m in skills
            ],
        )
    if credential_types:
        await session.execute(
            sa.insert(t_lcred),
            [
                {"tenant_id": tenant, "level_id": level_id, "credential_type_id": t}
                for t in credential_types
            ],
        )
    await audit.record(
        session,
        principal,
        action="track_level.set_expectations",
        target_type="TrackLevel",
        target_id=level_id,
        changes=audit.diff(
            {"skills": [[s, m] for s, m in had_skills], "credential_types": had_types},
            {"skills": [[s, m] for s, m in want_skills], "credential_types": want_types},
        ),
    )
    return level


# --- lateral links ----------------------------------------------------------------------------


async def _pair(
    session: Executor, from_level_id: uuid.UUID, to_level_id: uuid.UUID
) -> tuple[Any, Any]:
    a = await _level(session, from_level_id, field="fromLevelId")
    b = await _level(session, to_level_id, field="toLevelId")
    if a.id == b.id:
        raise BadUserInput("a level cannot link to itself", field="toLevelId")
    if a.track_id == b.track_id:
        raise BadUserInput(
            "lateral moves join levels of different tracks (the next rung of a track is "
            "already a move)",
            field="toLevelId",
        )
    return a, b


async def link_levels(
    session: Executor,
    principal: Principal,
    *,
    from_level_id: uuid.UUID,
    to_level_id: uuid.UUID,
    both_ways: bool = False,
) -> Any:
    """A lateral move from one level to a level of another track (and back, `both_ways`).
    Linking what is already linked changes nothing. Returns the `from` level."""
    _require_hr(principal)
    a, b = await _pair(session, from_level_id, to_level_id)
    pairs = [(a.id, b.id), (b.id, a.id)] if both_ways else [(a.id, b.id)]
    added = []
    for x, y in pairs:
        res = await session.execute(
            pg_insert(t_link)
            .values(tenant_id=principal.tenant_id, from_level_id=x, to_level_id=y)
            .on_conflict_do_nothing()
        )
        if res.rowcount:
            added.append([x, y])
    if added:
        await audit.record(
            session,
            principal,
            action="track_level.link",
            target_type="TrackLevel",
            target_id=a.id,
            changes=audit.diff({"links": None}, {"links": added}),
        )
    return a


async def unlink_levels(
    session: Executor,
    principal: Principal,
    *,
    from_level_id: uuid.UUID,
    to_level_id: uuid.UUID,
    both_ways: bool = False,
) -> Any:
    """Remove a lateral move (and the way back, `both_ways`). NOT_FOUND when there was none.
    Returns the `from` level."""
    _require_hr(principal)
    a, b = await _pair(session, from_level_id, to_level_id)
    pairs = [(a.id, b.id), (b.id, a.id)] if both_ways else [(a.id, b.id)]
    removed = []
    for x, y in pairs:
        res = await session.execute(
            sa.delete(t_link).where(t_link.c.from_level_id == x, t_link.c.to_level_id == y)
        )
        if res.rowcount:
            removed.append([x, y])
    if not removed:
        raise NotFound("there is no lateral move between these levels", field="toLevelId")
    await audit.record(
        session,
        principal,
        action="track_level.unlink",
        target_type="TrackLevel",
        target_id=a.id,
        changes=audit.diff({"links": removed}, {"links": None}),
    )
    return a
