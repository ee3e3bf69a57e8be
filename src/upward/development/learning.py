"""The learning resources catalog: courses, certifications, readings... tagged with the skills
they build, what readiness suggests for a missing skill. HR manages it; everyone reads it.
Services never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, fetch, grouped, is_unique_violation, rows_by_ids
from upward.development.models import RESOURCE_KINDS, LearningResource, LearningResourceSkill
from upward.errors import BadUserInput, Conflict, NotFound
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.validation import optional_text, require_text

t_res = LearningResource.__table__
t_res_skill = LearningResourceSkill.__table__

MAX_SKILLS = 30
MAX_DURATION_HOURS = 10_000

RESOURCE_ORDER = Order(
    key="learning_resources:title",
    columns=(t_res.c.title, t_res.c.id),
    parse=(str, uuid.UUID),
)


async def check_skills(
    session: Executor, skill_ids: Sequence[uuid.UUID] | None, *, field: str
) -> list[uuid.UUID]:
    """Distinct skill ids, each an active skill of the tenant (NOT_FOUND / BAD_USER_INPUT on
    `field.i`), in one statement."""
    ids = list(dict.fromkeys(skill_ids or ()))
    if len(ids) > MAX_SKILLS:
        raise BadUserInput(f"at most {MAX_SKILLS} skills", field=field)
    if not ids:
        return []
    rows = await fetch(session, "select id, status from skills where id = any($1::uuid[])", ids)
    status = {r["id"]: r["status"] for r in rows}
    for i, sid in enumerate(skill_ids or ()):
        if sid not in status:
            raise NotFound("no skill with this id", field=f"{field}.{i}")
        if status[sid] != "active":
            raise BadUserInput("this skill is retired", field=f"{field}.{i}")
    return ids


def _check_url(value: str | None, *, field: str) -> str | None:
    url = optional_text(value, field=field, max_len=2000)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadUserInput("must be an http(s) URL", field=field)
    return url


def _check_kind(value: str, *, field: str) -> str:
    if value not in RESOURCE_KINDS:
        raise BadUserInput(f"must be one of {', '.join(RESOURCE_KINDS)}", field=field)
    return value


def _check_duration(value: int | None, *, field: str) -> int | None:
    if value is not None and not 0 < value <= MAX_DURATION_HOURS:
        raise BadUserInput(f"must be between 1 and {MAX_DURATION_HOURS} hours", field=field)
    return value


async def _check_credential_type(
    session: Executor, type_id: uuid.UUID | None, kind: str, *, field: str
) -> uuid.UUID | None:
    if type_id is None:
        return None
    if kind != "certification":
        raise BadUserInput("only a certification names a credential type", field=field)
    rows = await fetch(session, "select status from credential_types where id = $1", type_id)
    if not rows:
        raise NotFound("no credential type with this id", field=field)
    if rows[0]["status"] != "active":
        raise BadUserInput("this credential type is retired", field=field)
    return type_id


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    skill_id: uuid.UUID | None = None
    kind: str | None = None
    search: str | None = None  # title or provider, case-insensitive substring
    include_retired: bool = False


async def list_resources(
    session: Executor, *, filter: ResourceFilter, page: PageArgs, with_count: bool = False
) -> Page:
    conds: list[Any] = []
    if not filter.include_retired:
        conds.append(t_res.c.status == "active")
    if filter.kind is not None:
        conds.append(t_res.c.kind == _check_kind(filter.kind, field="filter.kind"))
    if filter.skill_id is not None:
        conds.append(
            sa.exists().where(
                t_res_skill.c.tenant_id == t_res.c.tenant_id,
                t_res_skill.c.resource_id == t_res.c.id,
                t_res_skill.c.skill_id == filter.skill_id,
            )
        )
    if filter.search:
        text = require_text(filter.search, field="filter.search", max_len=200).lower()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(
            sa.or_(
                sa.func.lower(t_res.c.title).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(t_res.c.provider, "")).like(pattern, escape="\\"),
            )
        )
    stmt = sa.select(t_res).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_res).where(*conds)
    return await paginate(
        session, stmt, RESOURCE_ORDER, page, count_stmt=count, with_count=with_count
    )


async def resources_by_ids(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return await rows_by_ids(session, t_res, ids)


async def skills_of_resources(
    session: Executor, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each resource's skills by name, in one statement (a DataLoader batch)."""
    rows = await fetch(
        session,
        "select rs.resource_id, rs.skill_id from learning_resource_skills rs "
        "join skills s on s.tenant_id = rs.tenant_id and s.id = rs.skill_id "
        "where rs.resource_id = any($1::uuid[]) order by s.name, s.id",
        list(ids),
    )
    return grouped(rows, ids, lambda r: r["resource_id"], lambda r: r["skill_id"])


async def resources_for_skills(
    session: Executor, skill_ids: Sequence[uuid.UUID], credential_type_ids: Sequence[uuid.UUID]
) -> list[Any]:
    """Active resources tagged with any of the skills or leading to any of the credential types,
    each with all its skill ids: one statement (readiness suggestions)."""
    if not skill_ids and not credential_type_ids:
        return []
    return await fetch(
        session,
        """
        select r.id, r.title, r.credential_type_id,
               coalesce(array_agg(rs.skill_id) filter (where rs.skill_id is not null),
                        '{}'::uuid[]) as skill_ids
        from learning_resources r
        left join learning_resource_skills rs
               on rs.tenant_id = r.tenant_id and rs.resource_id = r.id
        where r.status = 'active'
          and (r.credential_type_id = any($2::uuid[])
               or exists (select 1 from learning_resource_skills x
                          where x.tenant_id = r.tenant_id and x.resource_id = r.id
                            and x.skill_id = any($1::uuid[])))
        group by r.id, r.title, r.credential_type_id
        """,
        list(skill_ids),
        list(credential_type_ids),
    )


async def _write(session: Executor, stmt: Any, title: str) -> Any:
    try:
        async with session.begin_nested():  # a concurrent create of the same title: CONFLICT
            return (await session.execute(stmt.returning(t_res))).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, "learning_resources_title_key"):
            raise Conflict(
                f"a learning resource titled {title!r} exists", field="input.title"
            ) from None
        raise


async def _title_free(session: Executor, title: str, *, resource_id: uuid.UUID | None) -> None:
    rows = await fetch(
        session, "select id from learning_resources where lower(title) = lower($1)", title
    )
    if rows and rows[0]["id"] != resource_id:
        raise Conflict(f"a learning resource titled {title!r} exists", field="input.title")


async def _set_skills(
    session: Executor, principal: Principal, resource_id: uuid.UUID, skill_ids: list[uuid.UUID]
) -> None:
    await session.execute(sa.delete(t_res_skill).where(t_res_skill.c.resource_id == resource_id))
    if skill_ids:
        await session.execute(
            sa.insert(t_res_skill),
            [
                {"tenant_id": principal.tenant_id, "resource_id": resource_id, "skill_id": s}
                for s in skill_ids
            ],
        )


async def create_resource(
    session: Executor,
    principal: Principal,
    *,
    title: str,
    kind: str,
    skill_ids: Sequence[uuid.UUID] | None = None,
    url: str | None = None,
    provider: str | None = None,
    description: str | None = None,
    duration_hours: int | None = None,
    credential_type_id: uuid.UUID | None = None,
) -> Any:
    principal.require_hr("managing learning resources")
    values = {
        "title": require_text(title, field="input.title", max_len=300),
        "kind": _check_kind(kind, field="input.kind"),
        "url": _check_url(url, field="input.url"),
        "provider": optional_text(provider, field="input.provider", max_len=200),
        "description": optional_text(description, field="input.description", max_len=4000),
        "duration_hours": _check_duration(duration_hours, field="input.durationHours"),
    }
    values["credential_type_id"] = await _check_credential_type(
        session, credential_type_id, values["kind"], field="input.credentialTypeId"
    )
    skills = await check_skills(session, skill_ids, field="input.skillIds")
    await _title_free(session, values["title"], resource_id=None)
    row = await _write(
        session, sa.insert(t_res).values(tenant_id=principal.tenant_id, **values), values["title"]
    )
    await _set_skills(session, principal, row.id, skills)
    await audit.record(
        session,
        principal,
        action="learning_resource.create",
        target_type="LearningResource",
        target_id=row.id,
        changes=audit.diff({}, {**values, "skill_ids": skills}),
    )
    return row


async def get_resource(session: Executor, resource_id: uuid.UUID, *, field: str = "id") -> Any:
    row = (await resources_by_ids(session, [resource_id])).get(resource_id)
    if row is None:
        raise NotFound("no learning resource with this id", field=field)
    return row


async def update_resource(
    session: Executor, principal: Principal, resource_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change the given fields; `skill_ids` replaces the tags; `status` retires (hidden from
    lists and suggestions, still readable by id) or reactivates."""
    principal.require_hr("managing learning resources")
    before = await get_resource(session, resource_id)
    values: dict[str, Any] = {}
    if "title" in patch:
        values["title"] = require_text(patch["title"], field="input.title", max_len=300)
        await _title_free(session, values["title"], resource_id=resource_id)
    if "kind" in patch:
        if patch["kind"] is None:
            raise BadUserInput("must not be null", field="input.kind")
        values["kind"] = _check_kind(patch["kind"], field="input.kind")
    if "url" in patch:
        values["url"] = _check_url(patch["url"], field="input.url")
    if "provider" in patch:
        values["provider"] = optional_text(patch["provider"], field="input.provider", max_len=200)
    if "description" in patch:
        values["description"] = optional_text(
            patch["description"], field="input.description", max_len=4000
        )
    if "duration_hours" in patch:
        values["duration_hours"] = _check_duration(
            patch["duration_hours"], field="input.durationHours"
        )
    kind = values.get("kind", before.kind)
    if "credential_type_id" in patch:
        values["credential_type_id"] = await _check_credential_type(
            session, patch["credential_type_id"], kind, field="input.credentialTypeId"
        )
    elif kind != "certification" and before.credential_type_id is not None:
        values["credential_type_id"] = None  # no longer a certification: it names no type
    if "status" in patch:
        if patch["status"] not in ("active", "retired"):
            raise BadUserInput("must be ACTIVE or RETIRED", field="input.status")
        values["status"] = patch["status"]
    changes = audit.diff({k: getattr(before, k) for k in values}, values)
    if "skill_ids" in patch:
        skills = await check_skills(session, patch["skill_ids"], field="input.skillIds")
        had = (await skills_of_resources(session, [resource_id]))[resource_id]
        if set(had) != set(skills):
            await _set_skills(session, principal, resource_id, skills)
            changes["skill_ids"] = {
                "from": sorted(str(s) for s in had),
                "to": sorted(str(s) for s in skills),
            }
    if not changes:
        return before
    row = await _write(
        session,
        sa.update(t_res).where(t_res.c.id == resource_id).values(**values, updated_at=clock.now()),
        values.get("title", before.title),
    )
    retired = values.get("status") == "retired"
    await audit.record(
        session,
        principal,
        action="learning_resource.retire" if retired else "learning_resource.update",
        target_type="LearningResource",
        target_id=resource_id,
        changes=changes,
    )
    return row
