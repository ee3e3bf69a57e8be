"""Manifest sections for internal mobility (demo tenants mostly):

- `[[job_postings]]`: roles and gigs, matched by title (case-insensitive) and created once in the
  status the file says, with skills, credentials, locations and visibility; a later apply never
  changes one (postings belong to their hiring managers and HR from then on).
- `[[career_preferences]]`: a person's preferences, created once (a later apply leaves what the
  person set alone).
- `[mobility_settings]`: the tenant's settings, set to what the file says on every apply.

Runs as the owner inside `apply_manifest`'s transaction: every statement names the tenant.
Validation reports problems through the manifest's checker, naming the entry.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from upward import clock
from upward.mobility.applications_manifest import apply_applications, validate_applications
from upward.mobility.models import (
    OPENNESS,
    POSTING_KINDS,
    POSTING_STATUSES,
    WORK_MODES,
    CareerPreference,
    JobPosting,
    MobilitySettings,
    PostingCredential,
    PostingLocation,
    PostingSkill,
)

POSTING_KEYS = {
    "title",
    "kind",
    "description",
    "department",
    "locations",
    "work_mode",
    "target_level",
    "hiring_manager",
    "required_skills",
    "preferred_skills",
    "credentials",
    "openings",
    "visible_departments",
    "visible_locations",
    "visible_levels",
    "min_months_in_role",
    "status",
    "opens_on",
    "closes_on",
    "start_on",
    "hours_per_week",
    "duration_weeks",
}
SKILL_KEYS = {"skill", "min_proficiency"}
LEVEL_KEYS = {"track", "level"}
PREFERENCE_KEYS = {
    "employee",
    "open_to_moves",
    "tracks",
    "levels",
    "locations",
    "work_modes",
    "willing_to_relocate",
    "open_to_gigs",
    "gig_hours_per_week",
    "open_to_downward",
}
SETTINGS_KEYS = {"manager_notice_stage", "max_alerts_per_week", "alert_top_n", "alert_min_score"}
NOTICE_STAGES = ("applied", "screening", "interviewing", "offer", "hired")


def _names(data: dict[str, Any], key: str, name_key: str = "name") -> set[str]:
    return {
        str(d.get(name_key, "")).lower()
        for d in (data.get(key) or [])
        if isinstance(d, dict) and d.get(name_key)
    }


def _int(c: Any, entry: str, d: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        c.error(entry, f"{key!r} must be an integer from {low} to {high}")
        return None
    return value


def _bool(c: Any, entry: str, d: dict[str, Any], key: str) -> bool:
    value = d.get(key, False)
    if not isinstance(value, bool):
        c.error(entry, f"{key!r} must be true or false")
        return False
    return value


def _date(c: Any, entry: str, d: dict[str, Any], key: str) -> date | None:
    value = d.get(key)
    if value is not None and (not isinstance(value, date) or hasattr(value, "hour")):
        c.error(entry, f"{key!r} must be a TOML local date")
        return None
    return value


def _list(c: Any, entry: str, d: dict[str, Any], key: str, known: set[str], what: str) -> list:
    value = d.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        c.error(entry, f"{key!r} must be an array of {what} names")
        return []
    for v in value:
        if v.lower() not in known:
            c.error(entry, f"{what} {v!r} is not declared in this file")
    return value


def _levels(c: Any, entry: str, value: Any, known: set[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for j, lv in enumerate(value or []):
        if (
            not isinstance(lv, dict)
            or set(lv) - LEVEL_KEYS
            or (str(lv.get("track", "")).lower(), str(lv.get("level", "")).lower()) not in known
        ):
            c.error(
                f"{entry}[{j}]", "must be { track, level } naming a level of a track in this file"
            )
            continue
        out.append((lv["track"], lv["level"]))
    return out


def validate_manifest(c: Any, data: dict[str, Any], emails: set[str]) -> dict[str, Any]:
    """Check the mobility sections; `c` is the manifest's checker."""
    deps = _names(data, "departments")
    locs = _names(data, "locations")
    skills = _names(data, "skills")
    types = _names(data, "credential_types")
    levels = {
        (str(t.get("name", "")).lower(), str(lv.get("title", "")).lower())
        for t in c.tables(data, "career_tracks")
        for lv in (t.get("levels") or [])
        if isinstance(lv, dict)
    }
    tracks = _names(data, "career_tracks")
    top = len(data.get("proficiency_levels") or []) or 5
    lower_emails = {e.lower() for e in emails}

    postings: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, d in enumerate(c.tables(data, "job_postings")):
        entry = f"job_postings[{i}]"
        c.keys(entry, d, POSTING_KEYS)
        title = c.string(entry, d, "title", required=True)
        if title is not None:
            if title.lower() in seen:
                c.error(entry, f"posting {title!r} is declared twice")
            seen.add(title.lower())
        kind = d.get("kind", "role")
        if kind not in POSTING_KINDS:
            c.error(entry, f"'kind' must be one of {', '.join(POSTING_KINDS)}")
        mode = d.get("work_mode", "on_site")
        if mode not in WORK_MODES:
            c.error(entry, f"'work_mode' must be one of {', '.join(WORK_MODES)}")
        status = d.get("status", "draft")
        if status not in POSTING_STATUSES:
            c.error(entry, f"'status' must be one of {', '.join(POSTING_STATUSES)}")
        dep = d.get("department")
        if dep is not None and str(dep).lower() not in deps:
            c.error(entry, f"department {dep!r} is not declared in this file")
        hm = d.get("hiring_manager")
        if not isinstance(hm, str) or hm.lower() not in lower_emails:
            c.error(entry, "'hiring_manager' must be the email of an employee in this file")
        target = d.get("target_level")
        target_level = _levels(c, f"{entry}.target_level", [target], levels) if target else []
        posting_skills: list[tuple[str, bool, int]] = []
        taken: set[str] = set()
        for key, required in (("required_skills", True), ("preferred_skills", False)):
            for j, s in enumerate(d.get(key) or []):
                se = f"{entry}.{key}[{j}]"
                if not isinstance(s, dict):
                    c.error(se, "must be { skill, min_proficiency }")
                    continue
                c.keys(se, s, SKILL_KEYS)
                name = s.get("skill")
                if not isinstance(name, str) or name.lower() not in skills:
                    c.error(se, f"skill {name!r} is not declared in this file")
                    continue
                if name.lower() in taken:
                    c.error(se, f"skill {name!r} is listed twice")
                taken.add(name.lower())
                m = _int(c, se, s, "min_proficiency", 1, top)
                if m is None:
                    c.error(se, f"'min_proficiency' is required (1 to {top})")
                    continue
                posting_skills.append((name, required, m))
        hours = _int(c, entry, d, "hours_per_week", 1, 60)
        weeks = _int(c, entry, d, "duration_weeks", 1, 104)
        if kind == "gig" and (hours is None or weeks is None):
            c.error(entry, "a gig needs 'hours_per_week' and 'duration_weeks'")
        if kind == "role" and (hours is not None or weeks is not None):
            c.error(entry, "only a gig has 'hours_per_week' and 'duration_weeks'")
        opens, closes = _date(c, entry, d, "opens_on"), _date(c, entry, d, "closes_on")
        if opens and closes and closes < opens:
            c.error(entry, "'closes_on' is before 'opens_on'")
        postings.append(
            {
                "title": title,
                "kind": kind,
                "description": c.string(entry, d, "description", max_len=10000),
                "department": dep,
                "locations": _list(c, entry, d, "locations", locs, "location"),
                "work_mode": mode,
                "target_level": target_level[0] if target_level else None,
                "hiring_manager": hm,
                "skills": posting_skills,
                "credentials": _list(c, entry, d, "credentials", types, "credential type"),
                "openings": _int(c, entry, d, "openings", 1, 1000) or 1,
                "visible_departments": _list(
                    c, entry, d, "visible_departments", deps, "department"
                ),
                "visible_locations": _list(c, entry, d, "visible_locations", locs, "location"),
                "visible_levels": _levels(
                    c, f"{entry}.visible_levels", d.get("visible_levels"), levels
                ),
                "min_months_in_role": _int(c, entry, d, "min_months_in_role", 0, 240),
                "status": status,
                "opens_on": opens,
                "closes_on": closes,
                "start_on": _date(c, entry, d, "start_on"),
                "hours_per_week": hours,
                "duration_weeks": weeks,
            }
        )

    prefs: list[dict[str, Any]] = []
    people: set[str] = set()
    for i, d in enumerate(c.tables(data, "career_preferences")):
        entry = f"career_preferences[{i}]"
        c.keys(entry, d, PREFERENCE_KEYS)
        who = d.get("employee")
        if not isinstance(who, str) or who.lower() not in lower_emails:
            c.error(entry, "'employee' must be the email of an employee in this file")
            continue
        if who.lower() in people:
            c.error(entry, f"{who}'s preferences are declared twice")
        people.add(who.lower())
        openness = d.get("open_to_moves", "no")
        if openness not in OPENNESS:
            c.error(entry, f"'open_to_moves' must be one of {', '.join(OPENNESS)}")
        modes = d.get("work_modes") or []
        if not isinstance(modes, list) or any(m not in WORK_MODES for m in modes):
            c.error(entry, f"'work_modes' must be an array of {', '.join(WORK_MODES)}")
            modes = []
        gigs = _bool(c, entry, d, "open_to_gigs")
        hours = _int(c, entry, d, "gig_hours_per_week", 1, 60)
        if hours is not None and not gigs:
            c.error(entry, "'gig_hours_per_week' needs 'open_to_gigs = true'")
        prefs.append(
            {
                "employee": who,
                "open_to_moves": openness,
                "tracks": _list(c, entry, d, "tracks", tracks, "career track"),
                "levels": _levels(c, f"{entry}.levels", d.get("levels"), levels),
                "locations": _list(c, entry, d, "locations", locs, "location"),
                "work_modes": list(dict.fromkeys(modes)),
                "willing_to_relocate": _bool(c, entry, d, "willing_to_relocate"),
                "open_to_gigs": gigs,
                "gig_hours_per_week": hours,
                "open_to_downward": _bool(c, entry, d, "open_to_downward"),
            }
        )

    settings: dict[str, Any] | None = None
    raw = data.get("mobility_settings")
    if raw is not None:
        if not isinstance(raw, dict):
            c.error("mobility_settings", "must be a table ([mobility_settings])")
        else:
            c.keys("mobility_settings", raw, SETTINGS_KEYS)
            stage = raw.get("manager_notice_stage", "offer")
            if stage not in NOTICE_STAGES:
                c.error(
                    "mobility_settings",
                    f"'manager_notice_stage' must be one of {', '.join(NOTICE_STAGES)}",
                )
            e = "mobility_settings"
            settings = {
                "manager_notice_stage": stage,
                "max_alerts_per_week": _int(c, e, raw, "max_alerts_per_week", 0, 50),
                "alert_top_n": _int(c, e, raw, "alert_top_n", 1, 500),
                "alert_min_score": _int(c, e, raw, "alert_min_score", 0, 100),
            }
            defaults = {"max_alerts_per_week": 3, "alert_top_n": 20, "alert_min_score": 60}
            for k, v in defaults.items():
                if settings[k] is None:
                    settings[k] = v
    return {
        "job_postings": postings,
        "career_preferences": prefs,
        "mobility_settings": [settings] if settings else [],
        "applications": validate_applications(c, data, emails),
    }


async def _lookup(session: Any, sql: str, t: dict[str, Any]) -> dict[Any, uuid.UUID]:
    return {
        tuple(r[:-1]) if len(r) > 2 else r[0]: r[-1]
        for r in (await session.execute(sa.text(sql), t)).all()
    }


async def apply_manifest(
    session: Any, sections: dict[str, Any], *, tenant_id: uuid.UUID, result: Any
) -> None:
    postings = sections.get("job_postings") or []
    prefs = sections.get("career_preferences") or []
    settings = sections.get("mobility_settings") or []
    applications = sections.get("applications") or []
    if not (postings or prefs or settings or applications):
        return
    t = {"t": tenant_id}
    now = clock.now()
    people = await _lookup(
        session, "select lower(email), id from employees where tenant_id = :t", t
    )
    deps = await _lookup(session, "select lower(name), id from departments where tenant_id = :t", t)
    locs = await _lookup(session, "select lower(name), id from locations where tenant_id = :t", t)
    skills = await _lookup(session, "select lower(name), id from skills where tenant_id = :t", t)
    types = await _lookup(
        session, "select lower(name), id from credential_types where tenant_id = :t", t
    )
    tracks = await _lookup(
        session, "select lower(name), id from career_tracks where tenant_id = :t", t
    )
    levels = await _lookup(
        session,
        "select lower(k.name), lower(l.title), l.id from track_levels l "
        "join career_tracks k on k.tenant_id = l.tenant_id and k.id = l.track_id "
        "where l.tenant_id = :t",
        t,
    )

    def level(ref: tuple[str, str]) -> uuid.UUID:
        return levels[(ref[0].lower(), ref[1].lower())]

    existing = set(
        (
            await session.execute(
                sa.text("select lower(title) from job_postings where tenant_id = :t"), t
            )
        ).scalars()
    )
    for d in postings:
        if d["title"].lower() in existing:
            continue
        status = d["status"]
        filled = d["openings"] if status == "filled" else 0
        pid = uuid.uuid4()
        await session.execute(
            sa.insert(JobPosting.__table__).values(
                tenant_id=tenant_id,
                id=pid,
                kind=d["kind"],
                title=d["title"],
                description=d["description"],
                department_id=deps[d["department"].lower()] if d["department"] else None,
                work_mode=d["work_mode"],
                level_id=level(d["target_level"]) if d["target_level"] else None,
                hiring_manager_id=people[d["hiring_manager"].lower()],
                openings=d["openings"],
                filled=filled,
                status=status,
                opens_on=d["opens_on"],
                closes_on=d["closes_on"],
                start_on=d["start_on"],
                hours_per_week=d["hours_per_week"],
                duration_weeks=d["duration_weeks"],
                min_months_in_role=d["min_months_in_role"],
                visible_department_ids=[deps[x.lower()] for x in d["visible_departments"]],
                visible_location_ids=[locs[x.lower()] for x in d["visible_locations"]],
                visible_level_ids=[level(x) for x in d["visible_levels"]],
                opened_at=now if status != "draft" else None,
                closed_at=now if status in ("closed", "filled") else None,
            )
        )
        for name, required, m in d["skills"]:
            await session.execute(
                sa.insert(PostingSkill.__table__).values(
                    tenant_id=tenant_id,
                    posting_id=pid,
                    skill_id=skills[name.lower()],
                    required=required,
                    min_proficiency=m,
                )
            )
        for name in dict.fromkeys(x.lower() for x in d["locations"]):
            await session.execute(
                sa.insert(PostingLocation.__table__).values(
                    tenant_id=tenant_id, posting_id=pid, location_id=locs[name]
                )
            )
        for name in dict.fromkeys(x.lower() for x in d["credentials"]):
            await session.execute(
                sa.insert(PostingCredential.__table__).values(
                    tenant_id=tenant_id, posting_id=pid, credential_type_id=types[name]
                )
            )
        result.count("created", "job_postings")

    if prefs:
        have = set(
            (
                await session.execute(
                    sa.text("select employee_id from career_preferences where tenant_id = :t"), t
                )
            ).scalars()
        )
        for d in prefs:
            eid = people[d["employee"].lower()]
            if eid in have:
                continue
            await session.execute(
                sa.insert(CareerPreference.__table__).values(
                    tenant_id=tenant_id,
                    employee_id=eid,
                    open_to_moves=d["open_to_moves"],
                    track_ids=list(dict.fromkeys(tracks[x.lower()] for x in d["tracks"])),
                    level_ids=list(dict.fromkeys(level(x) for x in d["levels"])),
                    location_ids=list(dict.fromkeys(locs[x.lower()] for x in d["locations"])),
                    work_modes=d["work_modes"],
                    willing_to_relocate=d["willing_to_relocate"],
                    open_to_gigs=d["open_to_gigs"],
                    gig_hours_per_week=d["gig_hours_per_week"],
                    open_to_downward=d["open_to_downward"],
                )
            )
            result.count("created", "career_preferences")

    for s in settings:
        t_set = MobilitySettings.__table__
        current = (
            await session.execute(sa.select(t_set).where(t_set.c.tenant_id == tenant_id))
        ).one_or_none()
        if current is not None and all(getattr(current, k) == v for k, v in s.items()):
            continue
        await session.execute(
            pg_insert(t_set)
            .values(tenant_id=tenant_id, updated_at=now, **s)
            .on_conflict_do_update(
                index_elements=[t_set.c.tenant_id], set_={**s, "updated_at": now}
            )
        )
        result.count("updated" if current is not None else "created", "mobility_settings")

    await apply_applications(session, applications, tenant_id=tenant_id, result=result)
