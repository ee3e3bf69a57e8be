"""Rules for the skills catalog and the proficiency scale. HR and tenant admins manage them;
everyone in the tenant reads them. Services never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.credentials.service import check_external_ids
from upward.db import Executor, fetch, grouped, is_unique_violation, rows_by_ids
from upward.development.models import ProficiencyLevel, Skill
from upward.errors import BadUserInput, Conflict, NotFound
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.validation import optional_text, reject_nul, require_text

t_skill = Skill.__table__
t_level = ProficiencyLevel.__table__

MAX_ALIASES = 20
MAX_DESCRIPTION = 2000
MAX_LEVELS = 10

SKILL_ORDER = Order(
    key="skills:name",
    columns=(t_skill.c.name, t_skill.c.id),
    parse=(str, uuid.UUID),
)


@dataclass(frozen=True, slots=True)
class Level:
    level: int
    name: str
    descriptor: str


DEFAULT_SCALE = (
    Level(1, "Novice", "Knows the basics from training or reading; needs close guidance."),
    Level(
        2, "Advanced beginner", "Does routine tasks with some guidance; asks for help on the rest."
    ),
    Level(3, "Competent", "Works independently on typical tasks and solves the usual problems."),
    Level(4, "Proficient", "Handles complex cases, sees the whole picture and guides others."),
    Level(5, "Expert", "The reference in the organization: shapes how it is done and teaches it."),
)


# --- the catalog ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkillFilter:
    search: str | None = None  # name or alias, case-insensitive substring
    category: str | None = None
    parent_id: uuid.UUID | None = None
    roots_only: bool = False
    include_retired: bool = False


async def list_skills(
    session: Executor,
    principal: Principal,
    *,
    filter: SkillFilter,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    conds: list[Any] = []
    if not filter.include_retired:
        conds.append(t_skill.c.status == "active")
    if filter.search:
        text = require_text(filter.search, field="filter.search", max_len=200)
        pattern = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        conds.append(
            sa.or_(
                sa.func.lower(t_skill.c.name).like(pattern, escape="\\"),
                sa.func.lower(sa.func.array_to_string(t_skill.c.aliases, "\x1f")).like(
                    pattern, escape="\\"
                ),
            )
        )
    if filter.category:
        reject_nul(filter.category, field="filter.category")
        conds.append(sa.func.lower(t_skill.c.category) == filter.category.strip().lower())
    if filter.parent_id is not None:
        conds.append(t_skill.c.parent_id == filter.parent_id)
    if filter.roots_only:
        conds.append(t_skill.c.parent_id.is_(None))
    stmt = sa.select(t_skill).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_skill).where(*conds)
    return await paginate(session, stmt, SKILL_ORDER, page, count_stmt=count, with_count=with_count)


async def skills_by_ids(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return await rows_by_ids(session, t_skill, ids)


async def children_of(
    session: Executor, parent_ids: Sequence[uuid.UUID], *, include_retired: bool = False
) -> dict[uuid.UUID, list[Any]]:
    """Each parent's children by name, in one statement (a DataLoader batch)."""
    conds = [t_skill.c.parent_id.in_(list(parent_ids))]
    if not include_retired:
        conds.append(t_skill.c.status == "active")
    rows = (
        await session.execute(
            sa.select(t_skill).where(*conds).order_by(t_skill.c.name, t_skill.c.id)
        )
    ).all()
    return grouped(rows, parent_ids, lambda r: r.parent_id)


async def categories(session: Executor) -> list[str]:
    rows = await fetch(
        session, "select distinct category from skills where status = 'active' order by 1"
    )
    return [r[0] for r in rows]


def check_aliases(values: Sequence[str] | None, *, name: str, field: str) -> list[str]:
    if not values:
        return []
    if len(values) > MAX_ALIASES:
        raise BadUserInput(f"at most {MAX_ALIASES} aliases", field=field)
    out: list[str] = []
    seen = {name.lower()}
    for i, value in enumerate(values):
        alias = require_text(value, field=f"{field}.{i}", max_len=200)
        if alias.lower() in seen:
            continue  # the name itself, or a repeat: nothing to add
        seen.add(alias.lower())
        out.append(alias)
    return out


async def _check_parent(
    session: Executor, parent_id: uuid.UUID | None, *, skill_id: uuid.UUID | None, field: str
) -> None:
    if parent_id is None:
        return
    rows = await fetch(session, "select status from skills where id = $1", parent_id)
    if not rows:
        raise NotFound("no skill with this id", field=field)
    if rows[0]["status"] != "active":
        raise BadUserInput("the parent skill is retired", field=field)
    if skill_id is None:
        return
    # the new parent may not be the skill itself or one of its descendants (a cycle)
    cycle = await fetch(
        session,
        """
        with recursive up(id, parent_id) as (
            select id, parent_id from skills where id = $1
            union all
            select s.id, s.parent_id from skills s join up on s.id = up.parent_id
        )
        select 1 from up where id = $2 limit 1
        """,
        parent_id,
        skill_id,
    )
    if cycle:
        raise BadUserInput("a skill cannot be under itself or one of its sub-skills", field=field)


async def _name_free(
    session: Executor, name: str, *, skill_id: uuid.UUID | None, field: str = "input.name"
) -> None:
    rows = await fetch(session, "select id from skills where lower(name) = lower($1)", name)
    if rows and rows[0]["id"] != skill_id:
        raise Conflict(f"a skill named {name!r} exists", field=field)


async def create_skill(
    session: Executor,
    principal: Principal,
    *,
    name: str,
    category: str,
    parent_id: uuid.UUID | None = None,
    description: str | None = None,
    aliases: Sequence[str] | None = None,
    external_ids: dict[str, str] | None = None,
) -> Any:
    principal.require_hr("managing the skills catalog")
    values = {
        "name": require_text(name, field="input.name", max_len=200),
        "category": require_text(category, field="input.category", max_len=100),
        "description": optional_text(
            description, field="input.description", max_len=MAX_DESCRIPTION
        ),
        "parent_id": parent_id,
        "external_ids": check_external_ids(external_ids, field="input.externalIds"),
    }
    values["aliases"] = check_aliases(aliases, name=values["name"], field="input.aliases")
    await _name_free(session, values["name"], skill_id=None)
    await _check_parent(session, parent_id, skill_id=None, field="input.parentId")
    row = await _write(
        session, sa.insert(t_skill).values(tenant_id=principal.tenant_id, **values), values["name"]
    )
    await audit.record(
        session,
        principal,
        action="skill.create",
        target_type="Skill",
        target_id=row.id,
        changes=audit.diff({}, values),
    )
    return row


async def _write(session: Executor, stmt: Any, name: str) -> Any:
    try:
        async with session.begin_nested():  # a concurrent create of the same name: CONFLICT
            return (await session.execute(stmt.returning(t_skill))).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, "skills_name_key"):
            raise Conflict(f"a skill named {name!r} exists", field="input.name") from None
        raise


async def get_skill(session: Executor, skill_id: uuid.UUID, *, field: str = "id") -> Any:
    row = (await session.execute(sa.select(t_skill).where(t_skill.c.id == skill_id))).first()
    if row is None:
        raise NotFound("no skill with this id", field=field)
    return row


async def update_skill(
    session: Executor, principal: Principal, skill_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change the given fields (`status` retires or reactivates; `parent_id` None makes it a
    root). Retiring keeps the skill's ratings and children; it disappears from lists."""
    principal.require_hr("managing the skills catalog")
    before = await get_skill(session, skill_id)
    values: dict[str, Any] = {}
    if "name" in patch:
        values["name"] = require_text(patch["name"], field="input.name", max_len=200)
        await _name_free(session, values["name"], skill_id=skill_id)
    if "category" in patch:
        values["category"] = require_text(patch["category"], field="input.category", max_len=100)
    if "description" in patch:
        values["description"] = optional_text(
            patch["description"], field="input.description", max_len=MAX_DESCRIPTION
        )
    if "aliases" in patch:
        values["aliases"] = check_aliases(
            patch["aliases"], name=values.get("name", before.name), field="input.aliases"
        )
    if "external_ids" in patch:
        values["external_ids"] = check_external_ids(
            patch["external_ids"], field="input.externalIds"
        )
    if "parent_id" in patch:
        await _check_parent(session, patch["parent_id"], skill_id=skill_id, field="input.parentId")
        values["parent_id"] = patch["parent_id"]
    if "status" in patch:
        if patch["status"] not in ("active", "retired"):
            raise BadUserInput("status must be active or retired", field="input.status")
        values["status"] = patch["status"]
    changes = audit.diff({k: getattr(before, k) for k in values}, values)
    if not changes:
        return before
    row = await _write(
        session,
        sa.update(t_skill).where(t_skill.c.id == skill_id).values(**values, updated_at=clock.now()),
        values.get("name", before.name),
    )
    await audit.record(
        session,
        principal,
        action="skill.update",
        target_type="Skill",
        target_id=skill_id,
        changes=changes,
    )
    return row


# --- the proficiency scale --------------------------------------------------------------------


async def get_scale(session: Executor) -> list[Level]:
    rows = (await session.execute(sa.select(t_level).order_by(t_level.c.level))).all()
    if not rows:
        return list(DEFAULT_SCALE)
    return [Level(r.level, r.name, r.descriptor) for r in rows]


async def set_scale(
    session: Executor, principal: Principal, levels: Sequence[Level], *, field: str = "levels"
) -> list[Level]:
    """Replace the scale: levels 1..N (N from 2 to 10), each with a name and a descriptor."""
    principal.require_hr("changing the proficiency scale")
    ordered = sorted(levels, key=lambda lv: lv.level)
    if not 2 <= len(ordered) <= MAX_LEVELS:
        raise BadUserInput(f"a scale has 2 to {MAX_LEVELS} levels", field=field)
    if [lv.level for lv in ordered] != list(range(1, len(ordered) + 1)):
        raise BadUserInput("levels must be numbered 1, 2, ... without gaps", field=field)
    clean = [
        Level(
            lv.level,
            require_text(lv.name, field=f"{field}.{i}.name", max_len=100),
            require_text(lv.descriptor, field=f"{field}.{i}.descriptor", max_len=1000),
        )
        for i, lv in enumerate(ordered)
    ]
    before = await get_scale(session)
    await session.execute(sa.delete(t_level))
    await session.execute(
        sa.insert(t_level),
        [
            {
                "tenant_id": principal.tenant_id,
                "level": lv.level,
                "name": lv.name,
                "descriptor": lv.descriptor,
            }
            for lv in clean
        ],
    )
    await audit.record(
        session,
        principal,
        action="proficiency_scale.set",
        target_type="Tenant",
        target_id=principal.tenant_id,
        changes={
            "levels": {
                "from": [[lv.level, lv.name] for lv in before],
                "to": [[lv.level, lv.name] for lv in clean],
            }
        },
    )
    return clean
