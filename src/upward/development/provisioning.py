"""Manifest sections for development: `[[skills]]` (the catalog, a tree by `parent` names),
`[[proficiency_levels]]` (the tenant's scale), `[[skill_grants]]` (skills a credential type
grants) and `[[employee_skills]]` (people's ratings, demo data mostly).

Runs as the owner inside `apply_manifest`'s transaction, so statements filter by the tenant
explicitly. Idempotent: skills match by name (case-insensitive) and are updated to what the file
says; the scale is replaced when it differs. Skills the file does not list are left alone.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from upward import clock
from upward.credentials.service import EXTERNAL_ID_SCHEME
from upward.development.models import (
    CredentialTypeSkill,
    EmployeeSkill,
    EmployeeSkillEvent,
    ProficiencyLevel,
    Skill,
)

t_skill = Skill.__table__
t_level = ProficiencyLevel.__table__
t_grant = CredentialTypeSkill.__table__
t_rating = EmployeeSkill.__table__
t_event = EmployeeSkillEvent.__table__
GRANT_KEYS = {"credential_type", "skill", "proficiency"}
RATING_KEYS = {"employee", "skill", "proficiency", "source", "interest", "last_used_on"}

SKILL_KEYS = {"name", "category", "parent", "description", "aliases", "external_ids", "status"}
LEVEL_KEYS = {"level", "name", "descriptor"}


def validate_sections(
    c: Any, data: dict[str, Any], emails: set[str], type_names: set[str]
) -> dict[str, list[dict[str, Any]]]:
    """Check the development sections; `c` is the manifest's checker."""
    skills: list[dict[str, Any]] = []
    names: dict[str, int] = {}
    for i, d in enumerate(c.tables(data, "skills")):
        entry = f"skills[{i}]"
        c.keys(entry, d, SKILL_KEYS)
        name = c.string(entry, d, "name", required=True)
        category = c.string(entry, d, "category", required=True, max_len=100)
        if name is not None:
            if name.lower() in names:
                c.error(entry, f"skill {name!r} is declared twice")
            names[name.lower()] = i
        aliases = d.get("aliases", [])
        if not isinstance(aliases, list) or not all(
            isinstance(a, str) and a.strip() for a in aliases
        ):
            c.error(entry, "'aliases' must be an array of non-empty strings")
            aliases = []
        ext = d.get("external_ids", {})
        if not isinstance(ext, dict) or not all(
            isinstance(k, str) and EXTERNAL_ID_SCHEME.match(k) and isinstance(v, str) and v.strip()
            for k, v in ext.items()
        ):
            c.error(entry, "'external_ids' must map lowercase schemes (esco, onet) to codes")
            ext = {}
        status = d.get("status", "active")
        if status not in ("active", "retired"):
            c.error(entry, "'status' must be 'active' or 'retired'")
        skills.append(
            {
                "name": name,
                "category": category,
                "parent": c.string(entry, d, "parent"),
                "description": c.string(entry, d, "description", max_len=2000),
                "aliases": [a.strip() for a in aliases],
                "external_ids": {k: v.strip() for k, v in ext.items()},
                "status": status,
            }
        )
    for i, s in enumerate(skills):
        parent = s["parent"]
        if parent is None:
            continue
        if parent.lower() not in names:
            c.error(f"skills[{i}]", f"parent {parent!r} is not a skill in this file")
        elif s["name"] and parent.lower() == s["name"].lower():
            c.error(f"skills[{i}]", "a skill cannot be its own parent")
    _check_tree(c, skills)
    levels: list[dict[str, Any]] = []
    for i, d in enumerate(c.tables(data, "proficiency_levels")):
        entry = f"proficiency_levels[{i}]"
        c.keys(entry, d, LEVEL_KEYS)
        level = d.get("level")
        if not isinstance(level, int) or isinstance(level, bool):
            c.error(entry, "'level' must be an integer")
            continue
        levels.append(
            {
                "level": level,
                "name": c.string(entry, d, "name", required=True, max_len=100),
                "descriptor": c.string(entry, d, "descriptor", required=True, max_len=1000),
            }
        )
    if levels:
        got = sorted(lv["level"] for lv in levels)
        if got != list(range(1, len(got) + 1)) or not 2 <= len(got) <= 10:
            c.error("proficiency_levels", "levels must be numbered 1, 2, ... (2 to 10 of them)")
    top = len(levels) or 5
    grants: list[dict[str, Any]] = []
    for i, d in enumerate(c.tables(data, "skill_grants")):
        entry = f"skill_grants[{i}]"
        c.keys(entry, d, GRANT_KEYS)
        grant = _refs(c, entry, d, names, top)
        ctype = c.string(entry, d, "credential_type", required=True)
        if ctype is not None and ctype not in type_names:
            c.error(entry, f"credential_type {ctype!r} is not declared in this manifest")
        grants.append({**grant, "credential_type": ctype})
    ratings: list[dict[str, Any]] = []
    for i, d in enumerate(c.tables(data, "employee_skills")):
        entry = f"employee_skills[{i}]"
        c.keys(entry, d, RATING_KEYS)
        rating = _refs(c, entry, d, names, top)
        who = d.get("employee")
        if who not in emails:
            c.error(entry, "'employee' must be the email of an employee in this file")
        source = d.get("source", "self_assessed")
        if source not in ("self_assessed", "manager_assessed", "assessment"):
            c.error(entry, "'source' must be self_assessed, manager_assessed or assessment")
        interest = d.get("interest", False)
        if not isinstance(interest, bool):
            c.error(entry, "'interest' must be true or false")
        last = d.get("last_used_on")
        if last is not None and not hasattr(last, "isoformat"):
            c.error(entry, "'last_used_on' must be a TOML local date")
        ratings.append(
            {
                **rating,
                "employee": who,
                "source": source,
                "interest": bool(interest),
                "last_used_on": last,
            }
        )
    return {
        "skills": skills,
        "proficiency_levels": sorted(levels, key=lambda lv: lv["level"]),
        "skill_grants": grants,
        "employee_skills": ratings,
    }


def _refs(c: Any, entry: str, d: dict[str, Any], names: dict[str, int], top: int) -> dict[str, Any]:
    skill = c.string(entry, d, "skill", required=True)
    if skill is not None and skill.lower() not in names:
        c.error(entry, f"skill {skill!r} is not declared in this file")
    level = d.get("proficiency")
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= top:
        c.error(entry, f"'proficiency' must be a level of the scale, 1 to {top}")
    return {"skill": skill, "proficiency": level}


def _check_tree(c: Any, skills: list[dict[str, Any]]) -> None:
    parent_of = {
        s["name"].lower(): (s["parent"] or "").lower() or None for s in skills if s["name"]
    }
    for name in parent_of:
        seen = {name}
        node = parent_of.get(name)
        while node is not None:
            if node in seen:
                c.error("skills", f"the parents of {name!r} go round in a cycle")
                break
            seen.add(node)
            node = parent_of.get(node)


async def apply_development(
    session: AsyncSession,
    sections: dict[str, list[dict[str, Any]]],
    *,
    tenant_id: uuid.UUID,
    result: Any,
) -> None:
    def count(kind: str, label: str) -> None:
        bucket = result.created if kind == "created" else result.updated
        bucket[label] = bucket.get(label, 0) + 1

    now = clock.now()
    skills = sections.get("skills", [])
    if skills:
        rows = (
            await session.execute(sa.select(t_skill).where(t_skill.c.tenant_id == tenant_id))
        ).all()
        by_name = {r.name.lower(): r for r in rows}
        ids = {k: r.id for k, r in by_name.items()}
        for s in skills:  # first every skill, then the parents (any order in the file)
            if s["name"].lower() not in ids:
                ids[s["name"].lower()] = uuid.uuid4()
        for s in skills:
            key = s["name"].lower()
            values = {
                "name": s["name"],
                "category": s["category"],
                "description": s["description"],
                "aliases": s["aliases"],
                "external_ids": s["external_ids"],
                "status": s["status"],
            }
            row = by_name.get(key)
            if row is None:
                await session.execute(
                    sa.insert(t_skill).values(tenant_id=tenant_id, id=ids[key], **values)
                )
                count("created", "skills")
            elif any(getattr(row, k) != v for k, v in values.items()):
                await session.execute(
                    sa.update(t_skill)
                    .where(t_skill.c.tenant_id == tenant_id, t_skill.c.id == row.id)
                    .values(**values, updated_at=now)
                )
                count("updated", "skills")
        for s in skills:
            key = s["name"].lower()
            parent = ids[s["parent"].lower()] if s["parent"] else None
            row = by_name.get(key)
            if (row.parent_id if row is not None else None) == parent:
                continue
            await session.execute(
                sa.update(t_skill)
                .where(t_skill.c.tenant_id == tenant_id, t_skill.c.id == ids[key])
                .values(parent_id=parent, updated_at=now)
            )
            if row is not None:
                count("updated", "skills")
    await _apply_grants_and_ratings(session, sections, tenant_id=tenant_id, count=count)
    levels = sections.get("proficiency_levels", [])
    if levels:
        have = [
            (r.level, r.name, r.descriptor)
            for r in (
                await session.execute(
                    sa.select(t_level)
                    .where(t_level.c.tenant_id == tenant_id)
                    .order_by(t_level.c.level)
                )
            ).all()
        ]
        want = [(lv["level"], lv["name"], lv["descriptor"]) for lv in levels]
        if have != want:
            await session.execute(sa.delete(t_level).where(t_level.c.tenant_id == tenant_id))
            await session.execute(
                sa.insert(t_level),
                [
                    {"tenant_id": tenant_id, "level": a, "name": b, "descriptor": c}
                    for a, b, c in want
                ],
            )
            count("created" if not have else "updated", "proficiency_levels")


async def _apply_grants_and_ratings(
    session: AsyncSession,
    sections: dict[str, list[dict[str, Any]]],
    *,
    tenant_id: uuid.UUID,
    count: Any,
) -> None:
    grants = sections.get("skill_grants", [])
    ratings = sections.get("employee_skills", [])
    if not grants and not ratings:
        return

    async def ids(sql: str) -> dict[str, uuid.UUID]:
        rows = (await session.execute(sa.text(sql), {"t": tenant_id})).all()
        return {r[0].lower(): r[1] for r in rows}

    skills = await ids("select name, id from skills where tenant_id = :t")
    for g in grants:
        types = await ids("select name, id from credential_types where tenant_id = :t")
        key = {
            "tenant_id": tenant_id,
            "credential_type_id": types[g["credential_type"].lower()],
            "skill_id": skills[g["skill"].lower()],
        }
        row = (await session.execute(sa.select(t_grant).filter_by(**key))).first()
        if row is not None and row.proficiency == g["proficiency"]:
            continue
        stmt = pg_insert(t_grant).values(**key, proficiency=g["proficiency"])
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "credential_type_id", "skill_id"],
                set_={"proficiency": g["proficiency"]},
            )
        )
        count("created" if row is None else "updated", "skill_grants")
    people = await ids("select email, id from employees where tenant_id = :t")
    now = clock.now()
    for r in ratings:
        key = {
            "tenant_id": tenant_id,
            "employee_id": people[r["employee"].lower()],
            "skill_id": skills[r["skill"].lower()],
        }
        values = {
            "proficiency": r["proficiency"],
            "source": r["source"],
            "interest": r["interest"],
            "last_used_on": r["last_used_on"],
        }
        row = (await session.execute(sa.select(t_rating).filter_by(**key))).first()
        if row is not None and all(getattr(row, k) == v for k, v in values.items()):
            continue
        stmt = pg_insert(t_rating).values(**key, **values, updated_at=now)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "employee_id", "skill_id"],
                set_={**values, "updated_at": now},
            )
        )
        await session.execute(
            sa.insert(t_event).values(
                **key,
                action="set",
                proficiency=r["proficiency"],
                source=r["source"],
                interest=r["interest"],
                changed_at=sa.func.clock_timestamp(),
            )
        )
        count("created" if row is None else "updated", "employee_skills")
