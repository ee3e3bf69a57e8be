"""People's skills: ratings they, their managers or HR record (with a history), and skills
derived from valid credentials (a credential type grants skills at a proficiency; the derived
rating exists exactly while such a credential is valid, so it is computed on read, never stored).

Who may do what: everyone in the tenant reads people's ratings (a skills directory); whether
someone wants to grow a skill (`interest`) and when they last used it are private (the person,
their management line, HR). A person rates themself (`self_assessed`, unvalidated); their
manager line or HR rate them (`manager_assessed`, or HR's `assessment`), which validates the
rating; a manager or HR can also validate a self-assessment as it stands.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.credentials.service import day_end, expiring_window, record_event
from upward.credentials.status import status_sql
from upward.db import Executor, Params, fetch, grouped
from upward.development.models import CredentialTypeSkill, EmployeeSkill, EmployeeSkillEvent
from upward.development.service import get_scale
from upward.errors import BadUserInput, Forbidden, NotFound
from upward.people.service import Viewer

t_rating = EmployeeSkill.__table__
t_event = EmployeeSkillEvent.__table__
t_grant = CredentialTypeSkill.__table__

MAX_GRANTS = 50


@dataclass(frozen=True, slots=True)
class Rating:
    employee_id: uuid.UUID
    skill_id: uuid.UUID
    proficiency: int
    source: str  # self_assessed | manager_assessed | assessment | credential
    interest: bool | None = None  # None: not for this viewer, or derived
    last_used_on: date | None = None
    validated_by: uuid.UUID | None = None
    validated_at: datetime | None = None
    updated_at: datetime | None = None
    credential_id: uuid.UUID | None = None  # derived: the credential that grants it
    valid_until: date | None = None  # derived: the credential's expiry (None: never)


_STORED_SQL = """
select r.employee_id, r.skill_id, r.proficiency, r.source, r.interest, r.last_used_on,
       r.validated_by, r.validated_at, r.updated_at
from employee_skills r
join skills s on s.tenant_id = r.tenant_id and s.id = r.skill_id
where r.employee_id = any($1::uuid[]) and s.status = 'active'
order by s.name, r.skill_id
"""


async def ratings_of(
    session: Executor, principal: Principal, viewer: Viewer, employee_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Rating]]:
    """Every person's ratings (stored, then derived from credentials valid today, one per
    skill: the highest proficiency), by skill name. Two statements for any number of people."""
    ids = list(dict.fromkeys(employee_ids))
    out: dict[uuid.UUID, list[Rating]] = {i: [] for i in ids}
    if not ids:
        return out
    for r in await fetch(session, _STORED_SQL, ids):
        private = viewer.sees_private(r["employee_id"])
        out[r["employee_id"]].append(
            Rating(
                employee_id=r["employee_id"],
                skill_id=r["skill_id"],
                proficiency=r["proficiency"],
                source=r["source"],
                interest=r["interest"] if private else None,
                last_used_on=r["last_used_on"] if private else None,
                validated_by=r["validated_by"],
                validated_at=r["validated_at"],
                updated_at=r["updated_at"],
            )
        )
    best: dict[tuple[uuid.UUID, uuid.UUID], Any] = {}
    for r in await _derived(session, principal, ids):
        key = (r["employee_id"], r["skill_id"])
        if key not in best or r["proficiency"] > best[key]["proficiency"]:
            best[key] = r
    for r in sorted(best.values(), key=lambda r: (r["skill_name"], r["skill_id"])):
        out[r["employee_id"]].append(
            Rating(
                employee_id=r["employee_id"],
                skill_id=r["skill_id"],
                proficiency=r["proficiency"],
                source="credential",
                credential_id=r["credential_id"],
                valid_until=r["expires_on"],
            )
        )
    return out


async def valid_sql(session: Executor, principal: Principal, p: Params) -> str:
    """SQL condition: credential `c` is valid today (active or expiring, by the credentials
    domain's one status rule); its parameters go into `p`."""
    today = clock.today(principal.tenant_timezone)
    on = p(today, "::date")
    window = p.lazy(await expiring_window(session, principal), "::int")
    end = p.lazy(day_end(today, principal.tenant_timezone), "::timestamptz")
    return " or ".join(
        f"({status_sql(s, alias='c', on=on, window=window, day_end=end)})"
        for s in ("active", "expiring")
    )


async def _derived(session: Executor, principal: Principal, ids: list[uuid.UUID]) -> list[Any]:
    """Grants of the credentials valid today, for these people."""
    p = Params()
    ids_p = p(ids, "::uuid[]")
    valid = await valid_sql(session, principal, p)
    sql = f"""
        select c.employee_id, g.skill_id, g.proficiency, c.id as credential_id, c.expires_on,
               s.name as skill_name
        from credentials c
        join credential_type_skills g
          on g.tenant_id = c.tenant_id and g.credential_type_id = c.credential_type_id
        join skills s on s.tenant_id = g.tenant_id and s.id = g.skill_id
        where c.employee_id = any({ids_p}) and s.status = 'active' and ({valid})
        order by c.expires_on desc nulls first, c.id
    """  # noqa: S608 - constants and placeholders only
    return await fetch(session, sql, *p.values)


async def valid_credentials(
    session: Executor, principal: Principal, employee_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """Each person's credentials valid today (id, type, expiry)."""
    ids = list(dict.fromkeys(employee_ids))
    p = Params()
    ids_p = p(ids, "::uuid[]")
    valid = await valid_sql(session, principal, p)
    sql = f"""
        select c.employee_id, c.id, c.credential_type_id, c.expires_on from credentials c
        where c.employee_id = any({ids_p}) and ({valid})
    """  # noqa: S608 - constants and placeholders only
    return grouped(await fetch(session, sql, *p.values), ids, lambda r: r["employee_id"])


def _may_rate(principal: Principal, viewer: Viewer, employee_id: uuid.UUID) -> str:
    """The source a rating by this principal has: the person's own, or a validating one."""
    if principal.employee_id == employee_id:
        return "self_assessed"
    if principal.is_hr:
        return "assessment"
    if employee_id in viewer.line:
        return "manager_assessed"
    raise Forbidden("only the person, their management line or HR rate their skills")


async def _check(
    session: Executor, employee_id: uuid.UUID, skill_id: uuid.UUID, *, active_skill: bool = True
) -> None:
    rows = await fetch(session, "select status from employees where id = $1", employee_id)
    if not rows:
        raise NotFound("no employee with this id", field="employeeId")
    if rows[0]["status"] != "active":
        raise BadUserInput("this person was offboarded", field="employeeId")
    skill = await fetch(session, "select status from skills where id = $1", skill_id)
    if not skill:
        raise NotFound("no skill with this id", field="skillId")
    if active_skill and skill[0]["status"] != "active":
        raise BadUserInput("this skill is retired", field="skillId")


async def _check_proficiency(session: Executor, value: int, *, field: str) -> None:
    top = len(await get_scale(session))
    if not 1 <= value <= top:
        raise BadUserInput(f"must be a level of the scale, 1 to {top}", field=field)


async def _current(session: Executor, employee_id: uuid.UUID, skill_id: uuid.UUID) -> Any:
    stmt = sa.select(t_rating).where(
        t_rating.c.employee_id == employee_id, t_rating.c.skill_id == skill_id
    )
    return (await session.execute(stmt)).first()


async def _history(
    session: Executor,
    principal: Principal,
    *,
    employee_id: uuid.UUID,
    skill_id: uuid.UUID,
    action: str,
    proficiency: int | None = None,
    source: str | None = None,
    interest: bool | None = None,
) -> None:
    await session.execute(
        sa.insert(t_event).values(
            tenant_id=principal.tenant_id,
            employee_id=employee_id,
            skill_id=skill_id,
            action=action,
            proficiency=proficiency,
            source=source,
            interest=interest,
            changed_by=principal.employee_id,
            # the statement's own time: changes in one transaction keep their order
            changed_at=sa.func.clock_timestamp(),
        )
    )
    # the matching workers re-match the person (workers/mobility.py)
    await record_event(
        session,
        principal,
        kind="employee.skills_changed",
        subject_type="Employee",
        subject_id=employee_id,
        key=f"employee.skills_changed:{uuid.uuid4()}",
        payload={"employee_id": employee_id, "skill_id": skill_id, "action": action},
    )


async def set_rating(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    skill_id: uuid.UUID,
    proficiency: int,
    interest: bool | None = None,
    last_used_on: date | None = None,
) -> Any:
    """Record a rating (replacing the current one). `interest` None keeps the current flag;
    only the person sets their own interest."""
    await _check(session, employee_id, skill_id)
    source = _may_rate(principal, viewer, employee_id)
    await _check_proficiency(session, proficiency, field="proficiency")
    if last_used_on is not None and last_used_on > clock.today(principal.tenant_timezone):
        raise BadUserInput("cannot be in the future", field="lastUsedOn")
    before = await _current(session, employee_id, skill_id)
    if interest is not None and principal.employee_id != employee_id:
        raise Forbidden("only the person says whether they want to grow a skill")
    now = clock.now()
    validated = source != "self_assessed"
    values = {
        "proficiency": proficiency,
        "source": source,
        "interest": interest if interest is not None else (before.interest if before else False),
        "last_used_on": last_used_on
        if last_used_on is not None
        else (before.last_used_on if before else None),
        "validated_by": principal.employee_id if validated else None,
        "validated_at": now if validated else None,
        "updated_by": principal.employee_id,
        "updated_at": now,
    }
    stmt = pg_insert(t_rating).values(
        tenant_id=principal.tenant_id, employee_id=employee_id, skill_id=skill_id, **values
    )
    row = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "employee_id", "skill_id"], set_=values
            ).returning(t_rating)
        )
    ).one()
    await _history(
        session,
        principal,
        employee_id=employee_id,
        skill_id=skill_id,
        action="set",
        proficiency=proficiency,
        source=source,
        interest=values["interest"],
    )
    fields = ("proficiency", "source", "interest", "last_used_on")
    await audit.record(
        session,
        principal,
        action="employee_skill.set",
        target_type="Employee",
        target_id=employee_id,
        changes={
            "skill_id": str(skill_id),
            **audit.diff(
                {k: getattr(before, k) for k in fields} if before else {},
                {k: values[k] for k in fields},
            ),
        },
    )
    return row


async def validate_rating(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    skill_id: uuid.UUID,
) -> Any:
    """A manager in the line, or HR, confirms the rating as it stands."""
    await _check(session, employee_id, skill_id, active_skill=False)
    if principal.employee_id == employee_id:
        raise Forbidden("nobody validates their own skills")
    _may_rate(principal, viewer, employee_id)
    before = await _current(session, employee_id, skill_id)
    if before is None:
        raise NotFound("this person has no rating of this skill", field="skillId")
    now = clock.now()
    row = (
        await session.execute(
            sa.update(t_rating)
            .where(t_rating.c.employee_id == employee_id, t_rating.c.skill_id == skill_id)
            .values(validated_by=principal.employee_id, validated_at=now, updated_at=now)
            .returning(t_rating)
        )
    ).one()
    await _history(
        session,
        principal,
        employee_id=employee_id,
        skill_id=skill_id,
        action="validate",
        proficiency=row.proficiency,
        source=row.source,
    )
    await audit.record(
        session,
        principal,
        action="employee_skill.validate",
        target_type="Employee",
        target_id=employee_id,
        changes={"skill_id": str(skill_id), "proficiency": row.proficiency},
    )
    return row


async def remove_rating(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    skill_id: uuid.UUID,
) -> bool:
    await _check(session, employee_id, skill_id, active_skill=False)
    _may_rate(principal, viewer, employee_id)
    before = await _current(session, employee_id, skill_id)
    if before is None:
        raise NotFound("this person has no rating of this skill", field="skillId")
    await session.execute(
        sa.delete(t_rating).where(
            t_rating.c.employee_id == employee_id, t_rating.c.skill_id == skill_id
        )
    )
    await _history(session, principal, employee_id=employee_id, skill_id=skill_id, action="remove")
    await audit.record(
        session,
        principal,
        action="employee_skill.remove",
        target_type="Employee",
        target_id=employee_id,
        changes={"skill_id": str(skill_id), "proficiency": before.proficiency},
    )
    return True


async def history(
    session: Executor, viewer: Viewer, *, employee_id: uuid.UUID, skill_id: uuid.UUID
) -> list[Any]:
    """A person's changes to one skill's rating, oldest first (the person, their line, HR)."""
    if not viewer.sees_private(employee_id):
        return []
    stmt = (
        sa.select(t_event)
        .where(t_event.c.employee_id == employee_id, t_event.c.skill_id == skill_id)
        .order_by(t_event.c.changed_at, t_event.c.id)
    )
    return list((await session.execute(stmt)).all())


# --- what credential types grant ----------------------------------------------------------------


async def grants_of(session: Executor, type_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    rows = await fetch(
        session,
        "select g.credential_type_id, g.skill_id, g.proficiency from credential_type_skills g "
        "join skills s on s.tenant_id = g.tenant_id and s.id = g.skill_id "
        "where g.credential_type_id = any($1::uuid[]) order by s.name, g.skill_id",
        list(type_ids),
    )
    return grouped(rows, type_ids, lambda r: r["credential_type_id"])


async def set_grants(
    session: Executor,
    principal: Principal,
    *,
    credential_type_id: uuid.UUID,
    grants: Sequence[tuple[uuid.UUID, int]],
) -> list[Any]:
    """Replace the skills a credential type grants (skill, proficiency) (HR)."""
    principal.require_hr("changing what a credential type grants")
    found = await fetch(session, "select 1 from credential_types where id = $1", credential_type_id)
    if not found:
        raise NotFound("no credential type with this id", field="credentialTypeId")
    if len(grants) > MAX_GRANTS:
        raise BadUserInput(f"at most {MAX_GRANTS} skills", field="skills")
    seen: set[uuid.UUID] = set()
    skills = {
        r["id"]: r["status"]
        for r in await fetch(
            session,
            "select id, status from skills where id = any($1::uuid[])",
            [s for s, _ in grants],
        )
    }
    for i, (skill_id, proficiency) in enumerate(grants):
        if skill_id not in skills:
            raise NotFound("no skill with this id", field=f"skills.{i}.skillId")
        if skills[skill_id] != "active":
            raise BadUserInput("this skill is retired", field=f"skills.{i}.skillId")
        if skill_id in seen:
            raise BadUserInput("this skill is listed twice", field=f"skills.{i}.skillId")
        seen.add(skill_id)
        await _check_proficiency(session, proficiency, field=f"skills.{i}.proficiency")
    before = (await grants_of(session, [credential_type_id]))[credential_type_id]
    await session.execute(
        sa.delete(t_grant).where(t_grant.c.credential_type_id == credential_type_id)
    )
    if grants:
        await session.execute(
            sa.insert(t_grant),
            [
                {
                    "tenant_id": principal.tenant_id,
                    "credential_type_id": credential_type_id,
                    "skill_id": s,
                    "proficiency": p,
                }
                for s, p in grants
            ],
        )
    await audit.record(
        session,
        principal,
        action="credential_type.grant_skills",
        target_type="CredentialType",
        target_id=credential_type_id,
        changes={
            "skills": {
                "from": [[str(r["skill_id"]), r["proficiency"]] for r in before],
                "to": [[str(s), p] for s, p in grants],
            }
        },
    )
    return (await grants_of(session, [credential_type_id]))[credential_type_id]
