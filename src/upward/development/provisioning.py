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
from upward.development import checkins, plans_manifest
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
        **validate_tracks(c, data, set(names), type_names, emails),
        **validate_feedback(c, data, set(names), emails),
        **validate_mentorship(c, data, set(names), type_names, emails),
        **checkins.validate_manifest(c, data, emails),
        **plans_manifest.validate_manifest(
            c, data, emails, set(names), {t.lower() for t in type_names}
        ),
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
                result.count("created", "skills")
            elif any(getattr(row, k) != v for k, v in values.items()):
                await session.execute(
                    sa.update(t_skill)
                    .where(t_skill.c.tenant_id == tenant_id, t_skill.c.id == row.id)
                    .values(**values, updated_at=now)
                )
                result.count("updated", "skills")
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
                result.count("updated", "skills")
    await _apply_grants_and_ratings(session, sections, tenant_id=tenant_id, result=result)
    await apply_tracks(session, sections, tenant_id=tenant_id, result=result)
    await apply_feedback(session, sections, tenant_id=tenant_id, result=result)
    await apply_mentorship(session, sections, tenant_id=tenant_id, result=result)
    await checkins.apply_manifest(session, sections, tenant_id=tenant_id, result=result)
    await plans_manifest.apply_manifest(session, sections, tenant_id=tenant_id, result=result)
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
            result.count("created" if not have else "updated", "proficiency_levels")


async def _apply_grants_and_ratings(
    session: AsyncSession,
    sections: dict[str, list[dict[str, Any]]],
    *,
    tenant_id: uuid.UUID,
    result: Any,
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
        result.count("created" if row is None else "updated", "skill_grants")
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
        result.count("created" if row is None else "updated", "employee_skills")


# --- career tracks ----------------------------------------------------------------------------

TRACK_KEYS = {"name", "description", "status", "levels"}
LEVEL_KEYS_T = {"title", "job_level", "typical_months", "description", "skills", "credentials"}
LINK_KEYS = {"from_track", "from_level", "to_track", "to_level", "both_ways"}
PLACE_KEYS = {"employee", "track", "level", "since"}


def validate_tracks(
    c: Any, data: dict[str, Any], skill_names: set[str], type_names: set[str], emails: set[str]
) -> dict[str, list[dict[str, Any]]]:
    tracks: list[dict[str, Any]] = []
    titles: dict[str, set[str]] = {}
    for i, d in enumerate(c.tables(data, "career_tracks")):
        entry = f"career_tracks[{i}]"
        c.keys(entry, d, TRACK_KEYS)
        name = c.string(entry, d, "name", required=True)
        levels = []
        raw_levels = d.get("levels", [])
        if not isinstance(raw_levels, list) or not raw_levels:
            c.error(entry, "'levels' must be one or more [[career_tracks.levels]] tables")
            raw_levels = []
        seen: set[str] = set()
        for j, lv in enumerate(raw_levels):
            le = f"{entry}.levels[{j}]"
            if not isinstance(lv, dict):
                c.error(le, "must be a table")
                continue
            c.keys(le, lv, LEVEL_KEYS_T)
            title = c.string(le, lv, "title", required=True)
            if title is not None:
                if title.lower() in seen:
                    c.error(le, f"title {title!r} appears twice in the track")
                seen.add(title.lower())
            months = lv.get("typical_months")
            if months is not None and (not isinstance(months, int) or not 0 <= months <= 600):
                c.error(le, "'typical_months' must be an integer from 0 to 600")
            skills = []
            for k, sk in enumerate(lv.get("skills", [])):
                if not isinstance(sk, dict) or sk.get("skill", "").lower() not in skill_names:
                    c.error(f"{le}.skills[{k}]", "needs 'skill' (a [[skills]] name) and 'min'")
                    continue
                m = sk.get("min")
                if not isinstance(m, int) or not 1 <= m <= 10:
                    c.error(f"{le}.skills[{k}]", "'min' must be a proficiency level")
                    continue
                skills.append((sk["skill"], m))
            creds = lv.get("credentials", [])
            for k, t in enumerate(creds):
                if t not in type_names:
                    c.error(f"{le}.credentials[{k}]", f"{t!r} is not a [[credential_types]] name")
            levels.append(
                {
                    "title": title,
                    "job_level": c.string(le, lv, "job_level", max_len=50),
                    "typical_months": months,
                    "description": c.string(le, lv, "description", max_len=2000),
                    "skills": skills,
                    "credentials": [t for t in creds if t in type_names],
                }
            )
        if name is not None:
            if name.lower() in titles:
                c.error(entry, f"track {name!r} is declared twice")
            titles[name.lower()] = {lv["title"].lower() for lv in levels if lv["title"]}
        status = d.get("status", "active")
        if status not in ("active", "retired"):
            c.error(entry, "'status' must be 'active' or 'retired'")
        tracks.append(
            {
                "name": name,
                "description": c.string(entry, d, "description", max_len=2000),
                "status": status,
                "levels": levels,
            }
        )

    def level_ref(entry: str, track: Any, level: Any) -> None:
        if not isinstance(track, str) or track.lower() not in titles:
            c.error(entry, f"track {track!r} is not declared in this file")
        elif not isinstance(level, str) or level.lower() not in titles[track.lower()]:
            c.error(entry, f"level {level!r} is not a level of {track!r}")

    links = []
    for i, d in enumerate(c.tables(data, "career_links")):
        entry = f"career_links[{i}]"
        c.keys(entry, d, LINK_KEYS)
        level_ref(entry, d.get("from_track"), d.get("from_level"))
        level_ref(entry, d.get("to_track"), d.get("to_level"))
        links.append(
            {
                "from": (d.get("from_track"), d.get("from_level")),
                "to": (d.get("to_track"), d.get("to_level")),
                "both_ways": bool(d.get("both_ways", True)),
            }
        )
    places = []
    for i, d in enumerate(c.tables(data, "employee_levels")):
        entry = f"employee_levels[{i}]"
        c.keys(entry, d, PLACE_KEYS)
        if d.get("employee") not in emails:
            c.error(entry, "'employee' must be the email of an employee in this file")
        level_ref(entry, d.get("track"), d.get("level"))
        since = d.get("since")
        if not hasattr(since, "isoformat"):
            c.error(entry, "'since' must be a TOML local date")
        places.append(
            {
                "employee": d.get("employee"),
                "level": (d.get("track"), d.get("level")),
                "since": since,
            }
        )
    return {"career_tracks": tracks, "career_links": links, "employee_levels": places}


async def apply_tracks(
    session: AsyncSession,
    sections: dict[str, list[dict[str, Any]]],
    *,
    tenant_id: uuid.UUID,
    result: Any,
) -> None:
    """Tracks match by name; levels by title within a track (positions follow the file's
    order); expected skills and credentials are replaced by the file's."""
    from upward.development.models import (
        CareerTrack,
        EmployeeLevel,
        LevelCredential,
        LevelLink,
        LevelSkill,
        TrackLevel,
    )

    tt, tl = CareerTrack.__table__, TrackLevel.__table__
    tls, tlc, tll, tel = (
        LevelSkill.__table__,
        LevelCredential.__table__,
        LevelLink.__table__,
        EmployeeLevel.__table__,
    )
    if not any(sections.get(k) for k in ("career_tracks", "career_links", "employee_levels")):
        return

    async def names(sql: str) -> dict[str, uuid.UUID]:
        rows = (await session.execute(sa.text(sql), {"t": tenant_id})).all()
        return {r[0].lower(): r[1] for r in rows}

    skills = await names("select name, id from skills where tenant_id = :t")
    types = await names("select name, id from credential_types where tenant_id = :t")
    level_ids: dict[tuple[str, str], uuid.UUID] = {}
    now = clock.now()
    for tr in sections.get("career_tracks", []):
        row = (
            await session.execute(
                sa.select(tt).where(
                    tt.c.tenant_id == tenant_id, sa.func.lower(tt.c.name) == tr["name"].lower()
                )
            )
        ).first()
        values = {"name": tr["name"], "description": tr["description"], "status": tr["status"]}
        if row is None:
            track_id = uuid.uuid4()
            await session.execute(sa.insert(tt).values(tenant_id=tenant_id, id=track_id, **values))
            result.count("created", "career_tracks")
        else:
            track_id = row.id
            if any(getattr(row, k) != v for k, v in values.items()):
                await session.execute(
                    sa.update(tt)
                    .where(tt.c.tenant_id == tenant_id, tt.c.id == track_id)
                    .values(**values, updated_at=now)
                )
                result.count("updated", "career_tracks")
        existing = {
            r.title.lower(): r
            for r in (
                await session.execute(
                    sa.select(tl).where(tl.c.tenant_id == tenant_id, tl.c.track_id == track_id)
                )
            ).all()
        }
        # positions are unique: park the existing levels out of the way, then set them
        await session.execute(
            sa.update(tl)
            .where(tl.c.tenant_id == tenant_id, tl.c.track_id == track_id)
            .values(position=tl.c.position + 10_000)
        )
        for pos, lv in enumerate(tr["levels"], start=1):
            values = {
                "position": pos,
                "title": lv["title"],
                "job_level": lv["job_level"],
                "typical_months": lv["typical_months"],
                "description": lv["description"],
            }
            cur = existing.get(lv["title"].lower())
            if cur is None:
                lid = uuid.uuid4()
                await session.execute(
                    sa.insert(tl).values(tenant_id=tenant_id, id=lid, track_id=track_id, **values)
                )
                result.count("created", "track_levels")
            else:
                lid = cur.id
                await session.execute(
                    sa.update(tl)
                    .where(tl.c.tenant_id == tenant_id, tl.c.id == lid)
                    .values(**values)
                )
                if any(getattr(cur, k) != v for k, v in values.items()):
                    result.count("updated", "track_levels")
            level_ids[(tr["name"].lower(), lv["title"].lower())] = lid
            await session.execute(
                sa.delete(tls).where(tls.c.tenant_id == tenant_id, tls.c.level_id == lid)
            )
            await session.execute(
                sa.delete(tlc).where(tlc.c.tenant_id == tenant_id, tlc.c.level_id == lid)
            )
            if lv["skills"]:
                await session.execute(
                    sa.insert(tls),
                    [
                        {
                            "tenant_id": tenant_id,
                            "level_id": lid,
                            "skill_id": skills[s.lower()],
                            "min_proficiency": m,
                        }
                        for s, m in lv["skills"]
                    ],
                )
            if lv["credentials"]:
                await session.execute(
                    sa.insert(tlc),
                    [
                        {
                            "tenant_id": tenant_id,
                            "level_id": lid,
                            "credential_type_id": types[t.lower()],
                        }
                        for t in lv["credentials"]
                    ],
                )
        # levels the file no longer lists keep their (parked) positions past the file's
    for link in sections.get("career_links", []):
        a = level_ids[(link["from"][0].lower(), link["from"][1].lower())]
        b = level_ids[(link["to"][0].lower(), link["to"][1].lower())]
        pairs = [(a, b), (b, a)] if link["both_ways"] else [(a, b)]
        for x, y in pairs:
            stmt = pg_insert(tll).values(tenant_id=tenant_id, from_level_id=x, to_level_id=y)
            res = await session.execute(stmt.on_conflict_do_nothing())
            if res.rowcount:
                result.count("created", "career_links")
    for pl in sections.get("employee_levels", []):
        emp = (
            await session.execute(
                sa.text(
                    "select id from employees where tenant_id = :t and lower(email) = lower(:e)"
                ),
                {"t": tenant_id, "e": pl["employee"]},
            )
        ).scalar_one()
        lid = level_ids[(pl["level"][0].lower(), pl["level"][1].lower())]
        cur = (
            await session.execute(
                sa.select(tel).where(tel.c.tenant_id == tenant_id, tel.c.employee_id == emp)
            )
        ).first()
        if cur is not None and cur.level_id == lid and cur.since == pl["since"]:
            continue
        stmt = pg_insert(tel).values(
            tenant_id=tenant_id, employee_id=emp, level_id=lid, since=pl["since"]
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "employee_id"],
                set_={"level_id": lid, "since": pl["since"], "updated_at": now},
            )
        )
        result.count("created" if cur is None else "updated", "employee_levels")


# --- feedback ---------------------------------------------------------------------------------
# `hr_reads_feedback` (top level), `[[feedback_requests]]` (with `[[feedback_requests.answers]]`)
# and `[[feedback]]`: demo data mostly. Requests match by requester and message, feedback by
# giver, recipient and body; both are created once and never updated by a later apply.

FEEDBACK_REQUEST_KEYS = {
    "requester",
    "responders",
    "skill",
    "message",
    "due_on",
    "status",
    "declined",
    "answers",
}
FEEDBACK_ANSWER_KEYS = {"responder", "body", "visibility"}
FEEDBACK_KEYS = {"giver", "recipient", "body", "visibility", "skill"}


def validate_feedback(
    c: Any, data: dict[str, Any], skill_names: set[str], emails: set[str]
) -> dict[str, list[dict[str, Any]]]:
    from upward.development.feedback import MAX_BODY, MAX_MESSAGE, MAX_RESPONDERS
    from upward.development.models import FEEDBACK_VISIBILITIES
    from upward.tenancy.manifest import _date

    out: dict[str, list[dict[str, Any]]] = {"feedback_requests": [], "feedback": []}
    if "hr_reads_feedback" in data:
        value = data["hr_reads_feedback"]
        if not isinstance(value, bool):
            c.error("tenant", "'hr_reads_feedback' must be true or false")
        out["feedback_settings"] = [{"hr_reads_feedback": bool(value)}]

    def person(entry: str, d: dict[str, Any], key: str) -> Any:
        who = d.get(key)
        if who not in emails:
            c.error(entry, f"{key!r} must be the email of an employee in this file")
        return who

    def skill(entry: str, d: dict[str, Any]) -> Any:
        name = c.string(entry, d, "skill")
        if name is not None and name.lower() not in skill_names:
            c.error(entry, f"skill {name!r} is not declared in this file")
        return name

    def visibility(entry: str, d: dict[str, Any]) -> str:
        value = d.get("visibility", "recipient")
        if value not in FEEDBACK_VISIBILITIES:
            c.error(entry, "'visibility' must be 'recipient' or 'recipient_and_manager'")
        return value

    for i, d in enumerate(c.tables(data, "feedback_requests")):
        entry = f"feedback_requests[{i}]"
        c.keys(entry, d, FEEDBACK_REQUEST_KEYS)
        requester = person(entry, d, "requester")
        responders = d.get("responders")
        if (
            not isinstance(responders, list)
            or not 1 <= len(responders) <= MAX_RESPONDERS
            or len(set(responders)) != len(responders)
            or not all(r in emails and r != requester for r in responders)
        ):
            c.error(
                entry,
                f"'responders' must be 1 to {MAX_RESPONDERS} distinct emails of other "
                "employees in this file",
            )
            responders = []
        declined = d.get("declined", [])
        if not isinstance(declined, list) or not set(declined) <= set(responders):
            c.error(entry, "'declined' must list some of the 'responders'")
            declined = []
        status = d.get("status", "open")
        if status not in ("open", "closed"):
            c.error(entry, "'status' must be 'open' or 'closed'")
        answers = []
        for j, a in enumerate(d.get("answers", [])):
            ae = f"{entry}.answers[{j}]"
            if not isinstance(a, dict):
                c.error(ae, "must be a table")
                continue
            c.keys(ae, a, FEEDBACK_ANSWER_KEYS)
            who = a.get("responder")
            if who not in responders or who in declined or who in {x["responder"] for x in answers}:
                c.error(ae, "'responder' must be one of the 'responders', once, not declined")
            answers.append(
                {
                    "responder": who,
                    "body": c.string(ae, a, "body", required=True, max_len=MAX_BODY),
                    "visibility": visibility(ae, a),
                }
            )
        out["feedback_requests"].append(
            {
                "requester": requester,
                "responders": responders,
                "skill": skill(entry, d),
                "message": c.string(entry, d, "message", required=True, max_len=MAX_MESSAGE),
                "due_on": _date(c, entry, d, "due_on", relative=True),
                "status": status,
                "declined": declined,
                "answers": answers,
            }
        )
        if out["feedback_requests"][-1]["skill"] is None:
            c.error(entry, "'skill' is required (what the feedback is about)")
    for i, d in enumerate(c.tables(data, "feedback")):
        entry = f"feedback[{i}]"
        c.keys(entry, d, FEEDBACK_KEYS)
        giver, recipient = person(entry, d, "giver"), person(entry, d, "recipient")
        if giver is not None and giver == recipient:
            c.error(entry, "'giver' and 'recipient' must be two people")
        out["feedback"].append(
            {
                "giver": giver,
                "recipient": recipient,
                "body": c.string(entry, d, "body", required=True, max_len=MAX_BODY),
                "visibility": visibility(entry, d),
                "skill": skill(entry, d),
            }
        )
    return out


async def apply_feedback(
    session: AsyncSession,
    sections: dict[str, list[dict[str, Any]]],
    *,
    tenant_id: uuid.UUID,
    result: Any,
) -> None:
    from datetime import timedelta

    from upward.development.models import (
        Feedback,
        FeedbackRequest,
        FeedbackRequestResponder,
        FeedbackSettings,
    )

    t_set, t_req = FeedbackSettings.__table__, FeedbackRequest.__table__
    t_resp, t_fb = FeedbackRequestResponder.__table__, Feedback.__table__
    for s in sections.get("feedback_settings", []):
        row = (
            await session.execute(sa.select(t_set).where(t_set.c.tenant_id == tenant_id))
        ).first()
        if row is not None and row.hr_reads_feedback == s["hr_reads_feedback"]:
            continue
        stmt = pg_insert(t_set).values(
            tenant_id=tenant_id, hr_reads_feedback=s["hr_reads_feedback"]
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id"],
                set_={"hr_reads_feedback": s["hr_reads_feedback"], "updated_at": clock.now()},
            )
        )
        result.count("created" if row is None else "updated", "feedback_settings")
    requests, given = sections.get("feedback_requests", []), sections.get("feedback", [])
    if not requests and not given:
        return

    async def ids(sql: str) -> dict[str, uuid.UUID]:
        rows = (await session.execute(sa.text(sql), {"t": tenant_id})).all()
        return {r[0].lower(): r[1] for r in rows}

    people = await ids("select email, id from employees where tenant_id = :t")
    skills = await ids("select name, id from skills where tenant_id = :t")
    tz = (
        await session.execute(
            sa.text("select timezone from tenants where id = :t"), {"t": tenant_id}
        )
    ).scalar_one()
    today = clock.today(tz)
    for r in requests:
        requester = people[r["requester"].lower()]
        found = (
            await session.execute(
                sa.select(t_req.c.id).where(
                    t_req.c.tenant_id == tenant_id,
                    t_req.c.requester_id == requester,
                    t_req.c.message == r["message"],
                )
            )
        ).first()
        if found is not None:
            continue
        due = r["due_on"]
        if isinstance(due, int):
            due = today + timedelta(days=due)
        request_id = uuid.uuid4()
        await session.execute(
            sa.insert(t_req).values(
                tenant_id=tenant_id,
                id=request_id,
                requester_id=requester,
                skill_id=skills[r["skill"].lower()],
                message=r["message"],
                due_on=due,
                status=r["status"],
            )
        )
        answered = {a["responder"] for a in r["answers"]}
        await session.execute(
            sa.insert(t_resp),
            [
                {
                    "tenant_id": tenant_id,
                    "request_id": request_id,
                    "responder_id": people[who.lower()],
                    "status": "declined"
                    if who in r["declined"]
                    else "given"
                    if who in answered
                    else "pending",
                    "responded_at": clock.now()
                    if who in r["declined"] or who in answered
                    else None,
                }
                for who in r["responders"]
            ],
        )
        for a in r["answers"]:
            await session.execute(
                sa.insert(t_fb).values(
                    tenant_id=tenant_id,
                    giver_id=people[a["responder"].lower()],
                    recipient_id=requester,
                    request_id=request_id,
                    skill_id=skills[r["skill"].lower()],
                    body=a["body"],
                    visibility=a["visibility"],
                )
            )
        result.count("created", "feedback_requests")
    for f in given:
        values = {
            "giver_id": people[f["giver"].lower()],
            "recipient_id": people[f["recipient"].lower()],
            "body": f["body"],
        }
        found = (
            await session.execute(
                sa.select(t_fb.c.id).filter_by(tenant_id=tenant_id, **values).limit(1)
            )
        ).first()
        if found is not None:
            continue
        await session.execute(
            sa.insert(t_fb).values(
                tenant_id=tenant_id,
                **values,
                visibility=f["visibility"],
                skill_id=skills[f["skill"].lower()] if f["skill"] else None,
            )
        )
        result.count("created", "feedback")


# --- mentorship and learning resources ---------------------------------------------------------
# `[[mentors]]` (opt-ins: employee, capacity, skills, bio, active), `[[learning_resources]]` (the
# catalog, matched by title and updated to what the file says) and `[[mentorships]]` (demo data:
# created once per mentor and mentee, then left to the people in it).

MENTOR_KEYS = {"employee", "capacity", "skills", "bio", "active"}
RESOURCE_KEYS = {
    "title",
    "kind",
    "url",
    "provider",
    "description",
    "duration_hours",
    "skills",
    "credential_type",
    "status",
}
MENTORSHIP_KEYS = {"mentor", "mentee", "status", "skills", "message"}


def validate_mentorship(
    c: Any, data: dict[str, Any], skill_names: set[str], type_names: set[str], emails: set[str]
) -> dict[str, list[dict[str, Any]]]:
    from upward.development.mentorship import MAX_BIO, MAX_CAPACITY, MAX_MESSAGE
    from upward.development.models import RESOURCE_KINDS

    def skill_list(entry: str, d: dict[str, Any]) -> list[str]:
        raw = d.get("skills", [])
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            c.error(entry, "'skills' must be an array of [[skills]] names")
            return []
        for s in raw:
            if s.lower() not in skill_names:
                c.error(entry, f"skill {s!r} is not declared in this file")
        return list(dict.fromkeys(s for s in raw if s.lower() in skill_names))

    mentors: list[dict[str, Any]] = []
    by_mentor: dict[str, dict[str, Any]] = {}
    for i, d in enumerate(c.tables(data, "mentors")):
        entry = f"mentors[{i}]"
        c.keys(entry, d, MENTOR_KEYS)
        who = d.get("employee")
        if who not in emails:
            c.error(entry, "'employee' must be the email of an employee in this file")
        elif who.lower() in by_mentor:
            c.error(entry, f"{who} is listed twice")
        cap = d.get("capacity")
        if not isinstance(cap, int) or isinstance(cap, bool) or not 0 <= cap <= MAX_CAPACITY:
            c.error(entry, f"'capacity' must be an integer from 0 to {MAX_CAPACITY}")
            cap = 0
        skills = skill_list(entry, d)
        if not skills:
            c.error(entry, "a mentor names at least one skill")
        active = d.get("active", True)
        if not isinstance(active, bool):
            c.error(entry, "'active' must be true or false")
        m = {
            "employee": who,
            "capacity": cap,
            "skills": skills,
            "bio": c.string(entry, d, "bio", max_len=MAX_BIO),
            "active": bool(active),
        }
        mentors.append(m)
        if isinstance(who, str):
            by_mentor[who.lower()] = m
    resources: list[dict[str, Any]] = []
    titles: set[str] = set()
    for i, d in enumerate(c.tables(data, "learning_resources")):
        entry = f"learning_resources[{i}]"
        c.keys(entry, d, RESOURCE_KEYS)
        title = c.string(entry, d, "title", required=True, max_len=300)
        if title is not None:
            if title.lower() in titles:
                c.error(entry, f"title {title!r} appears twice")
            titles.add(title.lower())
        kind = d.get("kind")
        if kind not in RESOURCE_KINDS:
            c.error(entry, f"'kind' must be one of {', '.join(RESOURCE_KINDS)}")
        url = c.string(entry, d, "url", max_len=2000)
        if url is not None and not url.startswith(("http://", "https://")):
            c.error(entry, "'url' must be an http(s) URL")
        hours = d.get("duration_hours")
        if hours is not None and (
            not isinstance(hours, int) or isinstance(hours, bool) or not 0 < hours <= 10_000
        ):
            c.error(entry, "'duration_hours' must be an integer from 1 to 10000")
        ctype = c.string(entry, d, "credential_type")
        if ctype is not None:
            if ctype not in type_names:
                c.error(entry, f"credential_type {ctype!r} is not declared in this manifest")
            if kind != "certification":
                c.error(entry, "only a certification names a credential_type")
        status = d.get("status", "active")
        if status not in ("active", "retired"):
            c.error(entry, "'status' must be 'active' or 'retired'")
        resources.append(
            {
                "title": title,
                "kind": kind,
                "url": url,
                "provider": c.string(entry, d, "provider", max_len=200),
                "description": c.string(entry, d, "description", max_len=4000),
                "duration_hours": hours,
                "skills": skill_list(entry, d),
                "credential_type": ctype,
                "status": status,
            }
        )
    pairs: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    active_of: dict[str, int] = {}
    for i, d in enumerate(c.tables(data, "mentorships")):
        entry = f"mentorships[{i}]"
        c.keys(entry, d, MENTORSHIP_KEYS)
        mentor, mentee = d.get("mentor"), d.get("mentee")
        for key, who in (("mentor", mentor), ("mentee", mentee)):
            if who not in emails:
                c.error(entry, f"{key!r} must be the email of an employee in this file")
        if not isinstance(mentor, str) or not isinstance(mentee, str):
            continue
        if mentor.lower() == mentee.lower():
            c.error(entry, "a mentor cannot mentor themselves")
        if (mentor.lower(), mentee.lower()) in seen:
            c.error(entry, "the pair is listed twice")
        seen.add((mentor.lower(), mentee.lower()))
        profile = by_mentor.get(mentor.lower())
        if profile is None or not profile["active"]:
            c.error(entry, f"{mentor} needs an active [[mentors]] entry")
        status = d.get("status", "requested")
        if status not in ("requested", "active"):
            c.error(entry, "'status' must be 'requested' or 'active'")
        skills = skill_list(entry, d)
        taught = {s.lower() for s in (profile or {}).get("skills", [])}
        for s in skills:
            if s.lower() not in taught:
                c.error(entry, f"{mentor} does not mentor {s!r} (not in their [[mentors]] skills)")
        if status == "active":
            active_of[mentor.lower()] = active_of.get(mentor.lower(), 0) + 1
            if profile is not None and active_of[mentor.lower()] > profile["capacity"]:
                c.error(entry, f"{mentor} has more active mentees than their capacity")
        pairs.append(
            {
                "mentor": mentor,
                "mentee": mentee,
                "status": status,
                "skills": skills,
                "message": c.string(entry, d, "message", max_len=MAX_MESSAGE),
            }
        )
    return {"mentors": mentors, "learning_resources": resources, "mentorships": pairs}


async def apply_mentorship(
    session: AsyncSession,
    sections: dict[str, list[dict[str, Any]]],
    *,
    tenant_id: uuid.UUID,
    result: Any,
) -> None:
    from upward.development.models import (
        LearningResource,
        LearningResourceSkill,
        MentorProfile,
        Mentorship,
        MentorSkill,
    )

    mentors = sections.get("mentors", [])
    resources = sections.get("learning_resources", [])
    pairs = sections.get("mentorships", [])
    if not mentors and not resources and not pairs:
        return
    tp, tms, tr, trs, tm = (
        MentorProfile.__table__,
        MentorSkill.__table__,
        LearningResource.__table__,
        LearningResourceSkill.__table__,
        Mentorship.__table__,
    )

    async def ids(sql: str) -> dict[str, uuid.UUID]:
        rows = (await session.execute(sa.text(sql), {"t": tenant_id})).all()
        return {r[0].lower(): r[1] for r in rows}

    skills = await ids("select name, id from skills where tenant_id = :t")
    people = await ids("select email, id from employees where tenant_id = :t")
    now = clock.now()
    for m in mentors:
        eid = people[m["employee"].lower()]
        values = {"capacity": m["capacity"], "bio": m["bio"], "active": m["active"]}
        cur = (
            await session.execute(
                sa.select(tp).where(tp.c.tenant_id == tenant_id, tp.c.employee_id == eid)
            )
        ).first()
        want = {skills[s.lower()] for s in m["skills"]}
        have = {
            r[0]
            for r in (
                await session.execute(
                    sa.select(tms.c.skill_id).where(
                        tms.c.tenant_id == tenant_id, tms.c.employee_id == eid
                    )
                )
            ).all()
        }
        if cur is None:
            await session.execute(
                sa.insert(tp).values(tenant_id=tenant_id, employee_id=eid, **values)
            )
            result.count("created", "mentors")
        elif any(getattr(cur, k) != v for k, v in values.items()) or have != want:
            await session.execute(
                sa.update(tp)
                .where(tp.c.tenant_id == tenant_id, tp.c.employee_id == eid)
                .values(**values, updated_at=now)
            )
            result.count("updated", "mentors")
        if have != want:
            await session.execute(
                sa.delete(tms).where(tms.c.tenant_id == tenant_id, tms.c.employee_id == eid)
            )
            await session.execute(
                sa.insert(tms),
                [{"tenant_id": tenant_id, "employee_id": eid, "skill_id": s} for s in sorted(want)],
            )
    if resources:
        types = await ids("select name, id from credential_types where tenant_id = :t")
        existing = {
            r.title.lower(): r
            for r in (await session.execute(sa.select(tr).where(tr.c.tenant_id == tenant_id)))
        }
        for res in resources:
            values = {
                "title": res["title"],
                "kind": res["kind"],
                "url": res["url"],
                "provider": res["provider"],
                "description": res["description"],
                "duration_hours": res["duration_hours"],
                "credential_type_id": types[res["credential_type"].lower()]
                if res["credential_type"]
                else None,
                "status": res["status"],
            }
            cur = existing.get(res["title"].lower())
            want = {skills[s.lower()] for s in res["skills"]}
            if cur is None:
                rid = uuid.uuid4()
                await session.execute(sa.insert(tr).values(tenant_id=tenant_id, id=rid, **values))
                have: set[uuid.UUID] = set()
                result.count("created", "learning_resources")
            else:
                rid = cur.id
                have = {
                    r[0]
                    for r in (
                        await session.execute(
                            sa.select(trs.c.skill_id).where(
                                trs.c.tenant_id == tenant_id, trs.c.resource_id == rid
                            )
                        )
                    ).all()
                }
                if any(getattr(cur, k) != v for k, v in values.items()) or have != want:
                    await session.execute(
                        sa.update(tr)
                        .where(tr.c.tenant_id == tenant_id, tr.c.id == rid)
                        .values(**values, updated_at=now)
                    )
                    result.count("updated", "learning_resources")
            if have != want:
                await session.execute(
                    sa.delete(trs).where(trs.c.tenant_id == tenant_id, trs.c.resource_id == rid)
                )
                if want:
                    await session.execute(
                        sa.insert(trs),
                        [
                            {"tenant_id": tenant_id, "resource_id": rid, "skill_id": s}
                            for s in sorted(want)
                        ],
                    )
    for p in pairs:
        mentor, mentee = people[p["mentor"].lower()], people[p["mentee"].lower()]
        found = (
            await session.execute(
                sa.select(tm.c.id)
                .where(tm.c.tenant_id == tenant_id, tm.c.mentor_id == mentor)
                .where(tm.c.mentee_id == mentee)
                .limit(1)
            )
        ).first()
        if found is not None:
            continue
        await session.execute(
            sa.insert(tm).values(
                tenant_id=tenant_id,
                mentor_id=mentor,
                mentee_id=mentee,
                status=p["status"],
                skill_ids=[skills[s.lower()] for s in p["skills"]],
                message=p["message"],
                responded_at=now if p["status"] == "active" else None,
            )
        )
        result.count("created", "mentorships")
