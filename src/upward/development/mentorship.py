"""Mentorship: people opt in as mentors (skills they teach, how many mentees at once), mentees
request one, the mentor accepts or declines, either side ends it. Capacity is enforced under
concurrent accepts by locking the mentor's profile row. A mentorship is read by its two parties
and HR (not by managers). Services never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, fetch, grouped, is_unique_violation
from upward.development import readiness as core
from upward.development.learning import check_skills
from upward.development.models import (
    MENTORSHIP_STATUSES,
    MentorProfile,
    Mentorship,
    MentorSkill,
)
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.models import Employee
from upward.people.service import Viewer
from upward.people.validation import optional_text, require_text

t_prof = MentorProfile.__table__
t_mskill = MentorSkill.__table__
t_ms = Mentorship.__table__
t_emp = Employee.__table__

MAX_CAPACITY = 50
MAX_BIO = 2000
MAX_MESSAGE = 2000
MAX_SUGGESTIONS = 20
_NOW = object()  # a transition value: the transaction's clock


def _active_count(profile: sa.Table = t_prof) -> Any:
    return (
        sa.select(sa.func.count())
        .select_from(t_ms)
        .where(
            t_ms.c.tenant_id == profile.c.tenant_id,
            t_ms.c.mentor_id == profile.c.employee_id,
            t_ms.c.status == "active",
        )
        .scalar_subquery()
    )


MENTOR_ORDER = Order(
    key="mentors:name",
    columns=(t_emp.c.name, t_prof.c.employee_id),
    parse=(str, uuid.UUID),
)
MENTORSHIP_ORDER = Order(
    key="mentorships:requested_desc",
    columns=(t_ms.c.requested_at, t_ms.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


def _me(principal: Principal, *, field: str) -> uuid.UUID:
    if principal.employee_id is None:
        raise BadUserInput("mentorship is between employees: use a person's token", field=field)
    return principal.employee_id


# --- mentor profiles ---------------------------------------------------------------------------


def _profile_select() -> Any:
    return sa.select(t_prof, _active_count().label("active_mentees"))


async def profiles_of(session: Executor, employee_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Profiles (any status) with their active mentee count, in one statement."""
    rows = (
        await session.execute(_profile_select().where(t_prof.c.employee_id.in_(list(employee_ids))))
    ).all()
    return {r.employee_id: r for r in rows}


def sees_profile(viewer: Viewer, row: Any) -> bool:
    """Active profiles are a directory everyone reads; an inactive one only its owner and HR."""
    p = viewer.principal
    return bool(row.active) or p.is_hr or row.employee_id == p.employee_id


async def skills_of_mentors(
    session: Executor, employee_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The skills each mentor teaches, by skill name, in one statement."""
    rows = await fetch(
        session,
        "select ms.employee_id, ms.skill_id from mentor_skills ms "
        "join skills s on s.tenant_id = ms.tenant_id and s.id = ms.skill_id "
        "where ms.employee_id = any($1::uuid[]) order by s.name, s.id",
        list(employee_ids),
    )
    return grouped(rows, employee_ids, lambda r: r["employee_id"], lambda r: r["skill_id"])


async def _employee(session: Executor, employee_id: uuid.UUID, *, field: str) -> Any:
    rows = await fetch(session, "select id, name, status from employees where id = $1", employee_id)
    if not rows or rows[0]["status"] != "active":
        raise NotFound("no employee with this id", field=field)
    return rows[0]


async def set_profile(
    session: Executor,
    principal: Principal,
    *,
    employee_id: uuid.UUID | None,
    capacity: int,
    skill_ids: Sequence[uuid.UUID],
    bio: str | None = None,
    active: bool = True,
) -> Any:
    """Opt in (or change): yours, or anyone's for HR. The skills replace the ones taught.
    A capacity below the current mentees is allowed: it only stops new accepts."""
    target = employee_id or _me(principal, field="input.employeeId")
    if target != principal.employee_id:
        principal.require_hr("setting another person's mentor profile")
    await _employee(session, target, field="input.employeeId")
    if not 0 <= capacity <= MAX_CAPACITY:
        raise BadUserInput(
            f"must be between 0 and {MAX_CAPACITY} (0: not taking mentees)", field="input.capacity"
        )
    text = optional_text(bio, field="input.bio", max_len=MAX_BIO)
    skills = await check_skills(session, skill_ids, field="input.skillIds")
    if not skills:
        raise BadUserInput("name at least one skill you can mentor", field="input.skillIds")
    before = (await profiles_of(session, [target])).get(target)
    had = (await skills_of_mentors(session, [target]))[target] if before is not None else []
    values = {"capacity": capacity, "bio": text, "active": active}
    now = clock.now()
    if before is None:
        await session.execute(
            sa.insert(t_prof).values(tenant_id=principal.tenant_id, employee_id=target, **values)
        )
    else:
        await session.execute(
            sa.update(t_prof).where(t_prof.c.employee_id == target).values(**values, updated_at=now)
        )
    if set(had) != set(skills):
        await session.execute(sa.delete(t_mskill).where(t_mskill.c.employee_id == target))
        await session.execute(
            sa.insert(t_mskill),
            [
                {"tenant_id": principal.tenant_id, "employee_id": target, "skill_id": s}
                for s in skills
            ],
        )
    old = {k: getattr(before, k) for k in values} if before is not None else {}
    changes = audit.diff(old, values)
    if set(had) != set(skills):
        changes["skill_ids"] = {
            "from": sorted(str(s) for s in had),
            "to": sorted(str(s) for s in skills),
        }
    await audit.record(
        session,
        principal,
        action="mentor_profile.create" if before is None else "mentor_profile.update",
        target_type="Employee",
        target_id=target,
        changes=changes,
    )
    return (await profiles_of(session, [target]))[target]


async def remove_profile(
    session: Executor, principal: Principal, *, employee_id: uuid.UUID | None
) -> bool:
    """Opt out for good (the profile and its skills go; mentorships stay until ended, and
    pending requests can no longer be accepted). False when there was none."""
    target = employee_id or _me(principal, field="employeeId")
    if target != principal.employee_id:
        principal.require_hr("removing another person's mentor profile")
    before = (await profiles_of(session, [target])).get(target)
    if before is None:
        return False
    await session.execute(sa.delete(t_prof).where(t_prof.c.employee_id == target))
    await audit.record(
        session,
        principal,
        action="mentor_profile.remove",
        target_type="Employee",
        target_id=target,
        changes=audit.diff(
            {"capacity": before.capacity, "active": before.active},
            {"capacity": None, "active": None},
        ),
    )
    return True


@dataclass(frozen=True, slots=True)
class MentorFilter:
    skill_id: uuid.UUID | None = None
    has_capacity: bool = False  # only mentors with an open slot
    search: str | None = None  # in the mentor's name


async def list_mentors(
    session: Executor, *, filter: MentorFilter, page: PageArgs, with_count: bool = False
) -> Page:
    """Active profiles of active people, by name."""
    conds: list[Any] = [t_prof.c.active.is_(True), t_emp.c.status == "active"]
    if filter.skill_id is not None:
        conds.append(
            sa.exists().where(
                t_mskill.c.tenant_id == t_prof.c.tenant_id,
                t_mskill.c.employee_id == t_prof.c.employee_id,
                t_mskill.c.skill_id == filter.skill_id,
            )
        )
    if filter.has_capacity:
        conds.append(t_prof.c.capacity > _active_count())
    if filter.search:
        text = require_text(filter.search, field="filter.search", max_len=200).lower()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(sa.func.lower(t_emp.c.name).like(pattern, escape="\\"))
    joined = t_prof.join(
        t_emp, sa.and_(t_emp.c.tenant_id == t_prof.c.tenant_id, t_emp.c.id == t_prof.c.employee_id)
    )
    stmt = (
        sa.select(t_prof, t_emp.c.name, _active_count().label("active_mentees"))
        .select_from(joined)
        .where(*conds)
    )
    count = sa.select(sa.func.count()).select_from(joined).where(*conds)
    return await paginate(
        session, stmt, MENTOR_ORDER, page, count_stmt=count, with_count=with_count
    )


async def mentor_options(
    session: Executor, skill_ids: Sequence[uuid.UUID]
) -> list[core.MentorOption]:
    """Active mentors (active people) teaching any of the skills, with every skill they teach
    and their load: one statement, whatever the number of skills."""
    if not skill_ids:
        return []
    rows = await fetch(
        session,
        """
        select p.employee_id, p.capacity, p.active, array_agg(ms.skill_id) as skill_ids,
               (select count(*) from mentorships m where m.tenant_id = p.tenant_id
                  and m.mentor_id = p.employee_id and m.status = 'active') as active_mentees
        from mentor_profiles p
        join employees e on e.tenant_id = p.tenant_id and e.id = p.employee_id
        join mentor_skills ms on ms.tenant_id = p.tenant_id and ms.employee_id = p.employee_id
        where p.active and e.status = 'active'
          and exists (select 1 from mentor_skills x where x.tenant_id = p.tenant_id
                        and x.employee_id = p.employee_id and x.skill_id = any($1::uuid[]))
        group by p.tenant_id, p.employee_id, p.capacity, p.active
        """,
        list(skill_ids),
    )
    return [
        core.MentorOption(
            r["employee_id"],
            frozenset(r["skill_ids"]),
            r["capacity"],
            r["active_mentees"],
            r["active"],
        )
        for r in rows
    ]


async def mentor_suggestions(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    level_id: uuid.UUID | None = None,
    skill_ids: Sequence[uuid.UUID] | None = None,
    limit: int = 5,
) -> tuple[list[core.MentorMatch], dict[uuid.UUID, float]]:
    """Mentors ranked by how much of the person's gap they cover: for a level, its missing
    and partial skills weighted by the gap (the readiness gaps); for skills, each counts 1.
    Returns the matches and the gap weights they were ranked by."""
    from upward.development import tracks

    if (level_id is None) == (skill_ids is None):
        raise BadUserInput("give either levelId or skillIds", field="levelId")
    if not 1 <= limit <= MAX_SUGGESTIONS:
        raise BadUserInput(f"must be between 1 and {MAX_SUGGESTIONS}", field="first")
    if level_id is not None:
        r = await tracks.readiness_for(
            session, principal, viewer, employee_id=employee_id, level_id=level_id
        )
        gaps = core.gap_weights(r)
    else:
        if not viewer.sees_private(employee_id):
            raise Forbidden("suggestions are the person's, their management line's and HR's")
        await _employee(session, employee_id, field="employeeId")
        skills = await check_skills(session, skill_ids, field="skillIds")
        if not skills:
            raise BadUserInput("name at least one skill", field="skillIds")
        gaps = dict.fromkeys(skills, 1.0)
    options = await mentor_options(session, list(gaps))
    return core.rank_mentors(gaps, options, exclude=employee_id, limit=limit), gaps


# --- mentorships -------------------------------------------------------------------------------


def _can_read(principal: Principal, row: Any) -> bool:
    return principal.is_hr or principal.employee_id in (row.mentor_id, row.mentee_id)


async def mentorships_by_ids(
    session: Executor, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The mentorships among `ids` the principal may read (a party, or HR)."""
    if not ids:
        return {}
    rows = (await session.execute(sa.select(t_ms).where(t_ms.c.id.in_(list(ids))))).all()
    return {r.id: r for r in rows if _can_read(principal, r)}


@dataclass(frozen=True, slots=True)
class MentorshipFilter:
    employee_id: uuid.UUID | None = None  # default: the principal
    role: str | None = None  # mentor | mentee | None: either
    statuses: tuple[str, ...] | None = None


async def list_mentorships(
    session: Executor,
    principal: Principal,
    *,
    filter: MentorshipFilter,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    """A person's mentorships (yours; HR: anyone's), newest request first."""
    who = filter.employee_id or _me(principal, field="filter.employeeId")
    if who != principal.employee_id and not principal.is_hr:
        raise Forbidden("only HR lists other people's mentorships")
    if filter.role == "mentor":
        conds: list[Any] = [t_ms.c.mentor_id == who]
    elif filter.role == "mentee":
        conds = [t_ms.c.mentee_id == who]
    else:
        conds = [sa.or_(t_ms.c.mentor_id == who, t_ms.c.mentee_id == who)]
    if filter.statuses:
        bad = [s for s in filter.statuses if s not in MENTORSHIP_STATUSES]
        if bad:
            raise BadUserInput(f"unknown status {bad[0]!r}", field="filter.statuses")
        conds.append(t_ms.c.status.in_(list(filter.statuses)))
    stmt = sa.select(t_ms).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_ms).where(*conds)
    return await paginate(
        session, stmt, MENTORSHIP_ORDER, page, count_stmt=count, with_count=with_count
    )


async def _names(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await fetch(session, "select id, name from employees where id = any($1::uuid[])", ids)
    return {r["id"]: r["name"] for r in rows}


async def _notify(
    session: Executor,
    principal: Principal,
    row: Any,
    *,
    recipient_id: uuid.UUID,
    event: str,
    subject: str,
    body: str,
) -> None:
    """A notification to the other side (in-app, and email unless they opted out), once per
    mentorship and event (keyed)."""
    from upward.reminders.outbox import EventNote, notify_people

    note = EventNote(
        recipient_id,
        f"mentorship:{row.id}:{event}",
        subject,
        body,
        {"mentorship_id": str(row.id), "event": f"mentorship.{event}"},
    )
    await notify_people(session, principal.tenant_id, [note])


async def request_mentorship(
    session: Executor,
    principal: Principal,
    *,
    mentor_id: uuid.UUID,
    skill_ids: Sequence[uuid.UUID] | None = None,
    goal_id: uuid.UUID | None = None,
    message: str | None = None,
) -> Any:
    """Ask a mentor (an active profile with an open slot) for mentorship in skills they teach,
    optionally toward a goal of your development plan. One open request or active mentorship
    per pair at a time."""
    mentee = _me(principal, field="input.mentorId")
    if mentor_id == mentee:
        raise BadUserInput("you cannot be your own mentor", field="input.mentorId")
    mentor = await _employee(session, mentor_id, field="input.mentorId")
    profile = (await profiles_of(session, [mentor_id])).get(mentor_id)
    if profile is None or not profile.active:
        raise BadUserInput(f"{mentor['name']} is not taking mentees", field="input.mentorId")
    if profile.active_mentees >= profile.capacity:
        raise BadUserInput(
            f"{mentor['name']} has no open mentee slot "
            f"({profile.active_mentees} of {profile.capacity} taken)",
            field="input.mentorId",
        )
    skills = await check_skills(session, skill_ids, field="input.skillIds")
    taught = set((await skills_of_mentors(session, [mentor_id]))[mentor_id])
    for i, sid in enumerate(skill_ids or ()):
        if sid not in taught:
            raise BadUserInput(
                f"{mentor['name']} does not mentor this skill", field=f"input.skillIds.{i}"
            )
    if goal_id is not None:
        mine = await fetch(
            session,
            "select 1 from plan_goals g join development_plans p "
            "on p.tenant_id = g.tenant_id and p.id = g.plan_id "
            "where g.id = $1 and p.employee_id = $2",
            goal_id,
            mentee,
        )
        if not mine:
            raise NotFound("no goal of your development plans with this id", field="input.goalId")
    text = optional_text(message, field="input.message", max_len=MAX_MESSAGE)
    conflict = Conflict(
        f"you already have an open request or an active mentorship with {mentor['name']}",
        field="input.mentorId",
    )
    open_pair = await fetch(
        session,
        "select 1 from mentorships where mentor_id = $1 and mentee_id = $2 "
        "and status in ('requested', 'active')",
        mentor_id,
        mentee,
    )
    if open_pair:
        raise conflict
    values = {
        "mentor_id": mentor_id,
        "mentee_id": mentee,
        "goal_id": goal_id,
        "skill_ids": skills,
        "message": text,
    }
    try:
        async with session.begin_nested():  # a concurrent request of the same pair: CONFLICT
            row = (
                await session.execute(
                    sa.insert(t_ms).values(tenant_id=principal.tenant_id, **values).returning(t_ms)
                )
            ).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, "mentorships_pair_key"):
            raise conflict from None
        raise
    await audit.record(
        session,
        principal,
        action="mentorship.request",
        target_type="Mentorship",
        target_id=row.id,
        changes=audit.diff({}, {**values, "status": "requested"}),
    )
    name = (await _names(session, [mentee])).get(mentee, "Someone")
    await _notify(
        session,
        principal,
        row,
        recipient_id=mentor_id,
        event="requested",
        subject=f"{name} asks you to be their mentor",
        body=f"{name} asks you to be their mentor" + (f": {text}" if text else "."),
    )
    return row


async def _locked(session: Executor, principal: Principal, mentorship_id: uuid.UUID) -> Any:
    """The mentorship, locked for this transaction; NOT_FOUND unless the principal reads it."""
    row = (
        await session.execute(sa.select(t_ms).where(t_ms.c.id == mentorship_id).with_for_update())
    ).first()
    if row is None or not _can_read(principal, row):
        raise NotFound("no mentorship with this id", field="id")
    return row


async def _transition(
    session: Executor,
    principal: Principal,
    row: Any,
    *,
    to: str,
    action: str,
    recipient_id: uuid.UUID,
    subject: str,
    body: str,
    **values: Any,
) -> Any:
    now = clock.now()
    updated = (
        await session.execute(
            sa.update(t_ms)
            .where(t_ms.c.id == row.id)
            .values(
                status=to,
                updated_at=now,
                **{k: (now if v is _NOW else v) for k, v in values.items()},
            )
            .returning(t_ms)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action=f"mentorship.{action}",
        target_type="Mentorship",
        target_id=row.id,
        changes=audit.diff(
            {"status": row.status, **{k: getattr(row, k) for k in values}},
            {"status": to, **{k: getattr(updated, k) for k in values}},
        ),
    )
    await _notify(
        session,
        principal,
        updated,
        recipient_id=recipient_id,
        event=action,
        subject=subject,
        body=body,
    )
    return updated


def _must_be(row: Any, status: str, what: str) -> None:
    if row.status != status:
        raise Conflict(f"this mentorship is {row.status}: only {what}", field="id")


async def respond(
    session: Executor,
    principal: Principal,
    *,
    mentorship_id: uuid.UUID,
    accept: bool,
    response: str | None = None,
) -> Any:
    """The mentor accepts (capacity permitting) or declines a pending request. Accepting locks
    the mentor's profile row, so concurrent accepts are counted one after the other."""
    row = await _locked(session, principal, mentorship_id)
    if row.mentor_id != principal.employee_id:
        raise Forbidden("only the mentor accepts or declines a request")
    _must_be(row, "requested", "a pending request can be " + ("accepted" if accept else "declined"))
    text = optional_text(response, field="response", max_len=MAX_MESSAGE)
    names = await _names(session, [row.mentor_id])
    mentor = names.get(row.mentor_id, "Your mentor")
    if accept:
        profile = (
            await session.execute(
                sa.select(t_prof.c.capacity, t_prof.c.active)
                .where(t_prof.c.employee_id == row.mentor_id)
                .with_for_update()
            )
        ).first()
        if profile is None or not profile.active:
            raise Conflict(
                "your mentor profile is not active: activate it to accept mentees", field="id"
            )
        active = (
            await session.execute(
                sa.select(sa.func.count())
                .select_from(t_ms)
                .where(t_ms.c.mentor_id == row.mentor_id, t_ms.c.status == "active")
            )
        ).scalar_one()
        if active >= profile.capacity:
            raise Conflict(
                f"you already mentor {active} of {profile.capacity} people (your capacity): "
                "end a mentorship or raise your capacity before accepting another",
                field="id",
            )
    return await _transition(
        session,
        principal,
        row,
        to="active" if accept else "declined",
        action="accept" if accept else "decline",
        recipient_id=row.mentee_id,
        subject=f"{mentor} {'accepted' if accept else 'declined'} your mentorship request",
        body=f"{mentor} {'accepted' if accept else 'declined'} your mentorship request"
        + (f": {text}" if text else "."),
        response=text,
        responded_at=_NOW,
    )


async def cancel(session: Executor, principal: Principal, *, mentorship_id: uuid.UUID) -> Any:
    """The mentee withdraws a pending request."""
    row = await _locked(session, principal, mentorship_id)
    if row.mentee_id != principal.employee_id:
        raise Forbidden("only the mentee cancels a request")
    _must_be(row, "requested", "a pending request can be cancelled")
    mentee = (await _names(session, [row.mentee_id])).get(row.mentee_id, "Your mentee")
    return await _transition(
        session,
        principal,
        row,
        to="cancelled",
        action="cancel",
        recipient_id=row.mentor_id,
        subject=f"{mentee} withdrew their mentorship request",
        body=f"{mentee} withdrew their mentorship request.",
    )


async def end(session: Executor, principal: Principal, *, mentorship_id: uuid.UUID) -> Any:
    """Either party ends an active mentorship (it frees a slot of the mentor's)."""
    row = await _locked(session, principal, mentorship_id)
    me = principal.employee_id
    if me not in (row.mentor_id, row.mentee_id):
        raise Forbidden("only the mentor or the mentee ends a mentorship")
    _must_be(row, "active", "an active mentorship can be ended")
    other = row.mentee_id if me == row.mentor_id else row.mentor_id
    name = (await _names(session, [me])).get(me, "Someone")
    return await _transition(
        session,
        principal,
        row,
        to="ended",
        action="end",
        recipient_id=other,
        subject=f"{name} ended your mentorship",
        body=f"{name} ended your mentorship.",
        ended_at=_NOW,
    )
