"""Job postings and gigs: who manages them, validation, the status workflow, and who sees what.

Workflow (`TRANSITIONS`):

    draft --open--> open --close--> closed --reopen--> open
                     \\--fill--> filled      (also when the applications part hires the last one)

- HR manages every posting; a hiring manager their own. A manager (someone with reports) may
  create postings, and is then their hiring manager; only HR names another hiring manager.
- Content changes while draft or open; a closed or filled posting no longer changes (reopen a
  closed one first). Every change is audited; changes while open are the outbox event
  `posting.updated` (the matching workers recompute), transitions `posting.opened`,
  `posting.closed`, `posting.filled`.
- Reads: HR sees every posting; a hiring manager their own in any status; everyone else only
  postings visible to them (`rules.visible`, evaluated in SQL for lists by `_visible_sql`,
  tested equivalent). Anything else is NOT_FOUND, exactly like an id that never existed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, fetch, grouped
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.mobility import rules
from upward.mobility.models import (
    POSTING_KINDS,
    WORK_MODES,
    JobPosting,
    PostingCredential,
    PostingLocation,
    PostingSkill,
)
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people import validation

t_posting = JobPosting.__table__
t_loc = PostingLocation.__table__
t_skill = PostingSkill.__table__
t_cred = PostingCredential.__table__

MAX_TITLE = 200
MAX_TEXT = 10000
MAX_SKILLS = 50
MAX_LOCATIONS = 20
MAX_CREDENTIALS = 20
MAX_AUDIENCE = 100
EDITABLE = ("draft", "open")


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    event: str


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("open", ("draft",), "open", "posting.opened"),
        Transition("close", ("open",), "closed", "posting.closed"),
        Transition("fill", ("open",), "filled", "posting.filled"),
        Transition("reopen", ("closed",), "open", "posting.opened"),
    )
}


# --- the viewer's facts ----------------------------------------------------------------------


async def person_facts(session: Executor, employee_id: uuid.UUID | None) -> rules.Viewer | None:
    """The plain values the rules need about a person (None: no such active person)."""
    if employee_id is None:
        return None
    rows = await fetch(
        session,
        "select e.id, e.department_id, e.location_id, e.hire_date, el.level_id, el.since "
        "from employees e left join employee_levels el "
        "on el.tenant_id = e.tenant_id and el.employee_id = e.id "
        "where e.id = $1 and e.status = 'active'",
        employee_id,
    )
    if not rows:
        return None
    r = rows[0]
    return rules.Viewer(
        employee_id=r["id"],
        department_id=r["department_id"],
        location_id=r["location_id"],
        level_id=r["level_id"],
        level_since=r["since"],
        hire_date=r["hire_date"],
    )


def today(principal: Principal) -> date:
    return clock.today(principal.tenant_timezone)


def can_manage(principal: Principal, row: Any) -> bool:
    return principal.is_hr or (
        principal.employee_id is not None and row.hiring_manager_id == principal.employee_id
    )


def can_read(principal: Principal, facts: rules.Viewer | None, row: Any, on: date) -> bool:
    if can_manage(principal, row):
        return True
    if facts is None:
        return False
    return rules.visible(rules.PostingRules.from_row(row._mapping), facts, on)


def eligibility(row: Any, facts: rules.Viewer | None, on: date) -> list[str]:
    if facts is None:
        return ["only employees apply to postings"]
    return rules.eligibility(rules.PostingRules.from_row(row._mapping), facts, on)


# --- reads -----------------------------------------------------------------------------------


def _visible_sql(facts: rules.Viewer | None, on: date) -> sa.ColumnElement[bool]:
    """`rules.visible` as a SQL condition (AND across restrictions, OR inside one)."""
    c = t_posting.c
    dep = facts.department_id if facts else None
    loc = facts.location_id if facts else None
    lvl = facts.level_id if facts else None

    def allowed(column: Any, value: uuid.UUID | None) -> sa.ColumnElement[bool]:
        empty = sa.func.cardinality(column) == 0
        if value is None:
            return empty
        return sa.or_(empty, column.any(value))

    return sa.and_(
        c.status == "open",
        sa.or_(c.opens_on.is_(None), c.opens_on <= on),
        sa.or_(c.closes_on.is_(None), c.closes_on >= on),
        allowed(c.visible_department_ids, dep),
        allowed(c.visible_location_ids, loc),
        allowed(c.visible_level_ids, lvl),
    )


def readable_sql(
    principal: Principal, facts: rules.Viewer | None, on: date
) -> sa.ColumnElement[bool] | None:
    """None: everything (HR)."""
    if principal.is_hr:
        return None
    visible = _visible_sql(facts, on)
    if principal.employee_id is None:
        return visible
    return sa.or_(t_posting.c.hiring_manager_id == principal.employee_id, visible)


POSTING_ORDER = Order(
    key="job_postings:created_desc",
    columns=(t_posting.c.created_at, t_posting.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


@dataclass(frozen=True)
class PostingFilter:
    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    department_id: uuid.UUID | None = None
    mine: bool = False  # as hiring manager


async def list_postings(
    session: Executor,
    principal: Principal,
    facts: rules.Viewer | None,
    f: PostingFilter,
    page: PageArgs,
    *,
    with_count: bool = False,
) -> Page:
    on = today(principal)
    conds: list[Any] = []
    readable = readable_sql(principal, facts, on)
    if readable is not None:
        conds.append(readable)
    if f.statuses:
        conds.append(t_posting.c.status.in_(f.statuses))
    if f.kinds:
        conds.append(t_posting.c.kind.in_(f.kinds))
    if f.department_id is not None:
        conds.append(t_posting.c.department_id == f.department_id)
    if f.mine:
        conds.append(t_posting.c.hiring_manager_id == principal.employee_id)
    stmt = sa.select(t_posting).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_posting).where(*conds)
    return await paginate(
        session, stmt, POSTING_ORDER, page, count_stmt=count, with_count=with_count
    )


async def postings_by_ids(
    session: Executor, principal: Principal, facts: rules.Viewer | None, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The postings the viewer may read, by id (one statement)."""
    if not ids:
        return {}
    rows = (
        await session.execute(sa.select(t_posting).where(t_posting.c.id.in_(list(set(ids)))))
    ).all()
    on = today(principal)
    return {r.id: r for r in rows if can_read(principal, facts, r, on)}


async def get_posting(
    session: Executor, principal: Principal, posting_id: uuid.UUID, *, field: str = "id"
) -> Any:
    facts = await person_facts(session, principal.employee_id)
    row = (await postings_by_ids(session, principal, facts, [posting_id])).get(posting_id)
    if row is None:
        raise NotFound("no job posting with this id", field=field)
    return row


async def skills_of(
    session: Executor, posting_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """Each posting's skills, required first, then by skill name: one statement."""
    rows = await fetch(
        session,
        "select ps.posting_id, ps.skill_id, ps.required, ps.min_proficiency from "
        "job_posting_skills ps join skills s on s.tenant_id = ps.tenant_id and s.id = ps.skill_id "
        "where ps.posting_id = any($1::uuid[]) "
        "order by ps.posting_id, ps.required desc, lower(s.name), s.id",
        list(posting_ids),
    )
    return grouped(rows, posting_ids, lambda r: r["posting_id"])


async def credentials_of(
    session: Executor, posting_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await fetch(
        session,
        "select pc.posting_id, pc.credential_type_id from job_posting_credentials pc "
        "join credential_types t on t.tenant_id = pc.tenant_id and t.id = pc.credential_type_id "
        "where pc.posting_id = any($1::uuid[]) order by pc.posting_id, lower(t.name), t.id",
        list(posting_ids),
    )
    return grouped(rows, posting_ids, lambda r: r["posting_id"], lambda r: r["credential_type_id"])


async def locations_of(
    session: Executor, posting_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await fetch(
        session,
        "select pl.posting_id, pl.location_id from job_posting_locations pl "
        "join locations l on l.tenant_id = pl.tenant_id and l.id = pl.location_id "
        "where pl.posting_id = any($1::uuid[]) order by pl.posting_id, l.name, l.id",
        list(posting_ids),
    )
    return grouped(rows, posting_ids, lambda r: r["posting_id"], lambda r: r["location_id"])


# --- validation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillSpec:
    skill_id: uuid.UUID
    min_proficiency: int


@dataclass
class PostingSpec:
    """Everything a posting says (create), or the merged result of a patch (update)."""

    kind: str
    title: str
    description: str | None = None
    department_id: uuid.UUID | None = None
    location_ids: Sequence[uuid.UUID] = ()
    work_mode: str = "on_site"
    level_id: uuid.UUID | None = None
    hiring_manager_id: uuid.UUID | None = None
    required_skills: Sequence[SkillSpec] = ()
    preferred_skills: Sequence[SkillSpec] = ()
    credential_type_ids: Sequence[uuid.UUID] = ()
    openings: int = 1
    visible_department_ids: Sequence[uuid.UUID] = ()
    visible_location_ids: Sequence[uuid.UUID] = ()
    visible_level_ids: Sequence[uuid.UUID] = ()
    min_months_in_role: int | None = None
    opens_on: date | None = None
    closes_on: date | None = None
    start_on: date | None = None
    hours_per_week: int | None = None
    duration_weeks: int | None = None
    # GraphQL field name per spec attribute, for error paths (update uses the same names)
    fields: dict[str, str] = field(default_factory=dict)


FIELD_NAMES = {
    "kind": "input.kind",
    "title": "input.title",
    "description": "input.description",
    "department_id": "input.departmentId",
    "location_ids": "input.locationIds",
    "work_mode": "input.workMode",
    "level_id": "input.targetLevelId",
    "hiring_manager_id": "input.hiringManagerId",
    "required_skills": "input.requiredSkills",
    "preferred_skills": "input.preferredSkills",
    "credential_type_ids": "input.requiredCredentialTypeIds",
    "openings": "input.openings",
    "visible_department_ids": "input.visibility.departmentIds",
    "visible_location_ids": "input.visibility.locationIds",
    "visible_level_ids": "input.visibility.levelIds",
    "min_months_in_role": "input.minMonthsInRole",
    "opens_on": "input.opensOn",
    "closes_on": "input.closesOn",
    "start_on": "input.startOn",
    "hours_per_week": "input.hoursPerWeek",
    "duration_weeks": "input.durationWeeks",
}


def _text(value: str | None, fld: str, *, required: bool = False, limit: int = MAX_TEXT) -> Any:
    if required:
        return validation.require_text(value, field=fld, max_len=limit)
    return validation.optional_text(value, field=fld, max_len=limit)


def _int(value: int | None, fld: str, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise BadUserInput(f"must be from {low} to {high}", field=fld)


async def _existing(
    session: Executor, table: str, ids: Sequence[uuid.UUID], extra: str = ""
) -> set[uuid.UUID]:
    if not ids:
        return set()
    sql = f"select id from {table} where id = any($1::uuid[]){extra}"  # noqa: S608 (constants)
    rows = await fetch(session, sql, list(set(ids)))
    return {r["id"] for r in rows}


async def _check_ids(
    session: Executor,
    table: str,
    ids: Sequence[uuid.UUID],
    fld: str,
    what: str,
    *,
    limit: int,
    extra: str = "",
) -> list[uuid.UUID]:
    wanted = list(ids)
    if len(wanted) > limit:
        raise BadUserInput(f"at most {limit}", field=fld)
    found = await _existing(session, table, wanted, extra)
    seen: set[uuid.UUID] = set()
    for i, v in enumerate(wanted):
        if v not in found:
            raise BadUserInput(f"no {what} with this id", field=f"{fld}.{i}")
        if v in seen:
            raise BadUserInput("is listed twice", field=f"{fld}.{i}")
        seen.add(v)
    return wanted


async def _scale_top(session: Executor) -> int:
    rows = await fetch(session, "select coalesce(max(level), 5) as top from proficiency_levels")
    return int(rows[0]["top"])


async def validate(session: Executor, spec: PostingSpec, filled: int = 0) -> dict[str, Any]:
    """Check a whole posting; the values for `job_postings` plus `_skills`, `_locations` and
    `_credentials` for the child tables. Errors name the input field."""
    f = FIELD_NAMES
    if spec.kind not in POSTING_KINDS:
        raise BadUserInput(f"must be one of {', '.join(POSTING_KINDS)}", field=f["kind"])
    if spec.work_mode not in WORK_MODES:
        raise BadUserInput(f"must be one of {', '.join(WORK_MODES)}", field=f["work_mode"])
    title = _text(spec.title, f["title"], required=True, limit=MAX_TITLE)
    description = _text(spec.description, f["description"])
    if spec.department_id is not None and not await _existing(
        session, "departments", [spec.department_id]
    ):
        raise BadUserInput("no department with this id", field=f["department_id"])
    locations = await _check_ids(
        session, "locations", spec.location_ids, f["location_ids"], "location", limit=MAX_LOCATIONS
    )
    if spec.level_id is not None and not await _existing(session, "track_levels", [spec.level_id]):
        raise BadUserInput("no career level with this id", field=f["level_id"])
    if spec.hiring_manager_id is None:
        raise BadUserInput("is required (no employee to default to)", field=f["hiring_manager_id"])
    if not await _existing(
        session, "employees", [spec.hiring_manager_id], " and status = 'active'"
    ):
        raise BadUserInput("no active employee with this id", field=f["hiring_manager_id"])
    top = await _scale_top(session)
    skills: list[tuple[uuid.UUID, bool, int]] = []
    taken: dict[uuid.UUID, str] = {}
    for name, required in (("required_skills", True), ("preferred_skills", False)):
        specs = list(getattr(spec, name))
        if len(specs) > MAX_SKILLS:
            raise BadUserInput(f"at most {MAX_SKILLS} skills", field=f[name])
        found = await _existing(
            session, "skills", [s.skill_id for s in specs], " and status = 'active'"
        )
        for i, s in enumerate(specs):
            at = f"{f[name]}.{i}"
            if s.skill_id not in found:
                raise BadUserInput("no active skill with this id", field=f"{at}.skillId")
            if s.skill_id in taken:
                raise BadUserInput(
                    f"is already listed in {taken[s.skill_id]}", field=f"{at}.skillId"
                )
            taken[s.skill_id] = f[name]
            if not 1 <= s.min_proficiency <= top:
                raise BadUserInput(
                    f"must be a level of the proficiency scale, 1 to {top}",
                    field=f"{at}.minProficiency",
                )
            skills.append((s.skill_id, required, s.min_proficiency))
    creds = await _check_ids(
        session,
        "credential_types",
        spec.credential_type_ids,
        f["credential_type_ids"],
        "active credential type",
        limit=MAX_CREDENTIALS,
        extra=" and status = 'active'",
    )
    _int(spec.openings, f["openings"], 1, 1000)
    if spec.openings < filled:
        raise BadUserInput(f"{filled} already hired: openings cannot be fewer", field=f["openings"])
    audience = {}
    for name, table, what in (
        ("visible_department_ids", "departments", "department"),
        ("visible_location_ids", "locations", "location"),
        ("visible_level_ids", "track_levels", "career level"),
    ):
        audience[name] = await _check_ids(
            session, table, getattr(spec, name), f[name], what, limit=MAX_AUDIENCE
        )
    _int(spec.min_months_in_role, f["min_months_in_role"], 0, 240)
    if spec.opens_on and spec.closes_on and spec.closes_on < spec.opens_on:
        raise BadUserInput("must not be before opensOn", field=f["closes_on"])
    if spec.opens_on and spec.start_on and spec.start_on < spec.opens_on:
        raise BadUserInput("must not be before opensOn", field=f["start_on"])
    if spec.kind == "gig":
        for name, high in (("hours_per_week", 60), ("duration_weeks", 104)):
            value = getattr(spec, name)
            if value is None:
                raise BadUserInput("is required for a gig", field=f[name])
            _int(value, f[name], 1, high)
    else:
        for name in ("hours_per_week", "duration_weeks"):
            if getattr(spec, name) is not None:
                raise BadUserInput("only a gig has one (a role is full time)", field=f[name])
    return {
        "kind": spec.kind,
        "title": title,
        "description": description,
        "department_id": spec.department_id,
        "work_mode": spec.work_mode,
        "level_id": spec.level_id,
        "hiring_manager_id": spec.hiring_manager_id,
        "openings": spec.openings,
        "min_months_in_role": spec.min_months_in_role,
        "opens_on": spec.opens_on,
        "closes_on": spec.closes_on,
        "start_on": spec.start_on,
        "hours_per_week": spec.hours_per_week,
        "duration_weeks": spec.duration_weeks,
        **audience,
        "_skills": skills,
        "_locations": locations,
        "_credentials": creds,
    }


# --- writes ----------------------------------------------------------------------------------


def _require_creator(principal: Principal, hiring_manager_id: uuid.UUID | None) -> None:
    if principal.is_hr:
        return
    if principal.employee_id is None or not principal.is_manager:
        raise Forbidden("only HR and managers create job postings")
    if hiring_manager_id not in (None, principal.employee_id):
        raise Forbidden("a manager creates postings as their hiring manager; HR names another")


async def _write_children(
    session: Executor, tenant_id: uuid.UUID, posting_id: uuid.UUID, values: dict[str, Any]
) -> None:
    for table in (t_skill, t_loc, t_cred):
        await session.execute(sa.delete(table).where(table.c.posting_id == posting_id))
    if values["_skills"]:
        await session.execute(
            sa.insert(t_skill),
            [
                {
                    "tenant_id": tenant_id,
                    "posting_id": posting_id,
                    "skill_id": s,
                    "required": req,
                    "min_proficiency": m,
                }
                for s, req, m in values["_skills"]
            ],
        )
    if values["_locations"]:
        await session.execute(
            sa.insert(t_loc),
            [
                {"tenant_id": tenant_id, "posting_id": posting_id, "location_id": lid}
                for lid in values["_locations"]
            ],
        )
    if values["_credentials"]:
        await session.execute(
            sa.insert(t_cred),
            [
                {"tenant_id": tenant_id, "posting_id": posting_id, "credential_type_id": c}
                for c in values["_credentials"]
            ],
        )


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not k.startswith("_")}


async def create_posting(session: Executor, principal: Principal, spec: PostingSpec) -> Any:
    """A draft posting (open it with `transition(..., "open")`)."""
    _require_creator(principal, spec.hiring_manager_id)
    if spec.hiring_manager_id is None:
        spec.hiring_manager_id = principal.employee_id
    values = await validate(session, spec)
    row = (
        await session.execute(
            sa.insert(t_posting)
            .values(
                tenant_id=principal.tenant_id,
                created_by=principal.employee_id,
                status="draft",
                **_columns(values),
            )
            .returning(t_posting)
        )
    ).one()
    await _write_children(session, principal.tenant_id, row.id, values)
    await audit.record(
        session,
        principal,
        action="job_posting.create",
        target_type="JobPosting",
        target_id=row.id,
        changes={
            **_columns(values),
            "skills": len(values["_skills"]),
            "locations": values["_locations"],
            "credential_type_ids": values["_credentials"],
        },
    )
    return row


async def _locked(session: Executor, principal: Principal, posting_id: uuid.UUID) -> Any:
    """The posting, locked; NOT_FOUND unless readable, FORBIDDEN unless managed."""
    facts = await person_facts(session, principal.employee_id)
    row = (
        await session.execute(
            sa.select(t_posting).where(t_posting.c.id == posting_id).with_for_update()
        )
    ).one_or_none()
    if row is None or not can_read(principal, facts, row, today(principal)):
        raise NotFound("no job posting with this id", field="id")
    if not can_manage(principal, row):
        raise Forbidden("only HR and the posting's hiring manager manage it")
    return row


async def spec_of(session: Executor, row: Any) -> PostingSpec:
    skills = (await skills_of(session, [row.id]))[row.id]
    return PostingSpec(
        kind=row.kind,
        title=row.title,
        description=row.description,
        department_id=row.department_id,
        location_ids=(await locations_of(session, [row.id]))[row.id],
        work_mode=row.work_mode,
        level_id=row.level_id,
        hiring_manager_id=row.hiring_manager_id,
        required_skills=[
            SkillSpec(s["skill_id"], s["min_proficiency"]) for s in skills if s["required"]
        ],
        preferred_skills=[
            SkillSpec(s["skill_id"], s["min_proficiency"]) for s in skills if not s["required"]
        ],
        credential_type_ids=(await credentials_of(session, [row.id]))[row.id],
        openings=row.openings,
        visible_department_ids=list(row.visible_department_ids),
        visible_location_ids=list(row.visible_location_ids),
        visible_level_ids=list(row.visible_level_ids),
        min_months_in_role=row.min_months_in_role,
        opens_on=row.opens_on,
        closes_on=row.closes_on,
        start_on=row.start_on,
        hours_per_week=row.hours_per_week,
        duration_weeks=row.duration_weeks,
    )


def _comparable(spec: PostingSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in FIELD_NAMES:
        v = getattr(spec, name)
        if name in ("required_skills", "preferred_skills"):
            v = sorted((str(s.skill_id), s.min_proficiency) for s in v)
        elif isinstance(v, (list, tuple)):
            v = sorted(str(x) for x in v)
        out[name] = v
    return out


async def update_posting(
    session: Executor, principal: Principal, posting_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change what a draft or open posting says; `patch` maps PostingSpec names to values
    (omitted: unchanged). Only HR hands a posting to another hiring manager."""
    row = await _locked(session, principal, posting_id)
    if row.status not in EDITABLE:
        raise Conflict(
            f"the posting is {row.status}: it no longer changes"
            + (" (reopen it first)" if row.status == "closed" else "")
        )
    unknown = set(patch) - set(FIELD_NAMES)
    if unknown:
        raise ValueError(f"unknown posting fields {sorted(unknown)}")
    if (
        "hiring_manager_id" in patch
        and patch["hiring_manager_id"] != row.hiring_manager_id
        and not principal.is_hr
    ):
        raise Forbidden("only HR names another hiring manager")
    for name in ("kind", "title", "work_mode", "openings", "hiring_manager_id"):
        if name in patch and patch[name] is None:
            raise BadUserInput("cannot be null", field=FIELD_NAMES[name])
    before = await spec_of(session, row)
    after = PostingSpec(**{**before.__dict__, **patch})
    values = await validate(session, after, filled=row.filled)
    old, new = _comparable(before), _comparable(after)
    changes = {k: {"from": old[k], "to": new[k]} for k in new if old[k] != new[k]}
    if not changes:
        await audit.record(
            session,
            principal,
            action="job_posting.update",
            target_type="JobPosting",
            target_id=row.id,
            changes={},
        )
        return row
    row = (
        await session.execute(
            sa.update(t_posting)
            .where(t_posting.c.id == row.id)
            .values(**_columns(values), updated_at=clock.now())
            .returning(t_posting)
        )
    ).one()
    await _write_children(session, principal.tenant_id, row.id, values)
    await audit.record(
        session,
        principal,
        action="job_posting.update",
        target_type="JobPosting",
        target_id=row.id,
        changes=changes,
    )
    if row.status == "open":
        await _event(session, principal, row, "posting.updated", changed=sorted(changes))
    return row


async def _event(
    session: Executor, principal: Principal, row: Any, kind: str, **extra: Any
) -> None:
    from upward.credentials.service import record_event

    await record_event(
        session,
        principal,
        kind=kind,
        subject_type="JobPosting",
        subject_id=row.id,
        key=f"{kind}:{row.id}:{uuid.uuid4()}",  # once per change (each change is an event)
        payload={
            "posting_id": row.id,
            "hiring_manager_id": row.hiring_manager_id,
            "kind": row.kind,
            "title": row.title,
            "status": row.status,
            "actor_id": principal.employee_id,
            **extra,
        },
    )


async def transition(
    session: Executor, principal: Principal, posting_id: uuid.UUID, action: str
) -> Any:
    t = TRANSITIONS[action]
    row = await _locked(session, principal, posting_id)
    if row.status not in t.sources:
        raise Conflict(
            f"cannot {action} a posting that is {row.status} (allowed from: {', '.join(t.sources)})"
        )
    now = clock.now()
    before = row.status
    values: dict[str, Any] = {"status": t.target, "updated_at": now}
    if t.target == "open":
        on = today(principal)
        if row.closes_on is not None and row.closes_on < on:
            raise Conflict("its closing date has passed: change closesOn first")
        if row.filled >= row.openings:
            raise Conflict("every opening is filled: add openings first")
        values.update(opened_at=now, closed_at=None)
    else:
        values["closed_at"] = now
    row = (
        await session.execute(
            sa.update(t_posting)
            .where(t_posting.c.id == row.id)
            .values(**values)
            .returning(t_posting)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action=f"job_posting.{action}",
        target_type="JobPosting",
        target_id=row.id,
        changes={"status": {"from": before, "to": t.target}},
    )
    await _event(session, principal, row, t.event)
    return row


async def record_hire(session: Executor, principal: Principal, posting_id: uuid.UUID) -> Any:
    """For the applications part, inside its hire transaction: one more opening filled; the last
    one fills the posting (`posting.filled`). The caller checks who may hire and audits."""
    row = (
        await session.execute(
            sa.update(t_posting)
            .where(t_posting.c.id == posting_id, t_posting.c.filled < t_posting.c.openings)
            .values(filled=t_posting.c.filled + 1, updated_at=clock.now())
            .returning(t_posting)
        )
    ).one_or_none()
    if row is None:
        raise Conflict("every opening of this posting is filled")
    if row.filled >= row.openings and row.status == "open":
        now = clock.now()
        row = (
            await session.execute(
                sa.update(t_posting)
                .where(t_posting.c.id == posting_id)
                .values(status="filled", closed_at=now, updated_at=now)
                .returning(t_posting)
            )
        ).one()
        await _event(session, principal, row, "posting.filled")
    return row
