"""`[[development_plans]]` in tenant manifests: demo and migrated IDPs. A plan matches by
(employee, title) and is created once, in the state the file says, with its targets, goals and
activities; a later apply never changes it (the plan belongs to its owner from then on)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from upward import clock
from upward.development.models import (
    ACTIVITY_KINDS,
    ACTIVITY_STATUSES,
    GOAL_STATUSES,
    PLAN_STATUSES,
    DevelopmentPlan,
    GoalSkill,
    PlanActivity,
    PlanEvent,
    PlanGoal,
    PlanTarget,
)

PLAN_KEYS = {
    "employee",
    "title",
    "period_start",
    "period_end",
    "aspirations",
    "status",
    "reviewed_by",
    "review_comment",
    "targets",
    "goals",
}
GOAL_KEYS = {
    "title",
    "description",
    "measure",
    "due_on",
    "skills",
    "status",
    "progress",
    "activities",
}
ACTIVITY_KEYS = {"kind", "title", "description", "url", "credential_type", "status", "due_on"}
REVIEWED = ("changes_requested", "approved", "in_progress", "completed")


def validate_manifest(
    c: Any, data: dict[str, Any], emails: set[str], skills: set[str], types: set[str]
) -> dict[str, Any]:
    """`skills` and `types`: lower-cased names declared in the file; target levels must be
    levels of tracks declared in the file."""
    levels = {
        (str(t.get("name", "")).lower(), str(lv.get("title", "")).lower())
        for t in c.tables(data, "career_tracks")
        for lv in (t.get("levels") or [])
        if isinstance(lv, dict)
    }
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, d in enumerate(c.tables(data, "development_plans")):
        entry = f"development_plans[{i}]"
        c.keys(entry, d, PLAN_KEYS)
        who = d.get("employee")
        if who not in emails:
            c.error(entry, "'employee' must be the email of an employee in this file")
        title = c.string(entry, d, "title", required=True, max_len=200)
        if (str(who).lower(), str(title).lower()) in seen:
            c.error(entry, "this person's plan with this title is declared twice")
        seen.add((str(who).lower(), str(title).lower()))
        start, end = d.get("period_start"), d.get("period_end")
        if not isinstance(start, date) or not isinstance(end, date):
            c.error(entry, "'period_start' and 'period_end' must be TOML local dates")
        elif end < start:
            c.error(entry, "'period_end' is before 'period_start'")
        status = d.get("status", "draft")
        if status not in PLAN_STATUSES:
            c.error(entry, f"'status' must be one of {', '.join(PLAN_STATUSES)}")
        reviewer = d.get("reviewed_by")
        if status in REVIEWED and reviewer not in emails:
            c.error(entry, f"a plan that is {status} needs 'reviewed_by' (an employee's email)")
        if reviewer is not None and reviewer == who:
            c.error(entry, "nobody reviews their own plan")
        targets = []
        for j, tg in enumerate(d.get("targets") or []):
            te = f"{entry}.targets[{j}]"
            if (
                not isinstance(tg, dict)
                or (
                    str(tg.get("track", "")).lower(),
                    str(tg.get("level", "")).lower(),
                )
                not in levels
            ):
                c.error(te, "must be { track, level } naming a level of a track in this file")
                continue
            targets.append((tg["track"], tg["level"]))
        goals = []
        for j, g in enumerate(d.get("goals") or []):
            ge = f"{entry}.goals[{j}]"
            if not isinstance(g, dict):
                c.error(ge, "must be a table")
                continue
            c.keys(ge, g, GOAL_KEYS)
            gstatus = g.get("status", "not_started")
            if gstatus not in GOAL_STATUSES:
                c.error(ge, f"'status' must be one of {', '.join(GOAL_STATUSES)}")
            progress = g.get("progress", 100 if gstatus == "completed" else 0)
            if (
                not isinstance(progress, int)
                or isinstance(progress, bool)
                or not 0 <= progress <= 100
            ):
                c.error(ge, "'progress' must be an integer from 0 to 100")
            for s in g.get("skills") or []:
                if not isinstance(s, str) or s.lower() not in skills:
                    c.error(ge, f"skill {s!r} is not declared in this file")
            due = g.get("due_on")
            if due is not None and not isinstance(due, date):
                c.error(ge, "'due_on' must be a TOML local date")
            acts = []
            for k, a in enumerate(g.get("activities") or []):
                ae = f"{ge}.activities[{k}]"
                if not isinstance(a, dict):
                    c.error(ae, "must be a table")
                    continue
                c.keys(ae, a, ACTIVITY_KEYS)
                kind = a.get("kind")
                if kind not in ACTIVITY_KINDS:
                    c.error(ae, f"'kind' must be one of {', '.join(ACTIVITY_KINDS)}")
                ctype = a.get("credential_type")
                if (kind == "certification") != (ctype is not None):
                    c.error(ae, "a certification (and only one) names its 'credential_type'")
                elif ctype is not None and str(ctype).lower() not in types:
                    c.error(ae, f"credential type {ctype!r} is not declared in this file")
                astatus = a.get("status", "planned")
                if astatus not in ACTIVITY_STATUSES:
                    c.error(ae, f"'status' must be one of {', '.join(ACTIVITY_STATUSES)}")
                acts.append(
                    {
                        "kind": kind,
                        "title": c.string(ae, a, "title", required=True, max_len=200),
                        "description": c.string(ae, a, "description", max_len=5000),
                        "url": c.string(ae, a, "url", max_len=2000),
                        "credential_type": ctype,
                        "status": astatus,
                        "due_on": a.get("due_on"),
                    }
                )
            goals.append(
                {
                    "title": c.string(ge, g, "title", required=True, max_len=200),
                    "description": c.string(ge, g, "description", max_len=5000),
                    "measure": c.string(ge, g, "measure", max_len=1000),
                    "due_on": due,
                    "skills": list(g.get("skills") or []),
                    "status": gstatus,
                    "progress": 100 if gstatus == "completed" else progress,
                    "activities": acts,
                }
            )
        out.append(
            {
                "employee": who,
                "title": title,
                "period_start": start,
                "period_end": end,
                "aspirations": c.string(entry, d, "aspirations", max_len=5000),
                "status": status,
                "reviewed_by": reviewer,
                "review_comment": c.string(entry, d, "review_comment", max_len=5000),
                "targets": targets,
                "goals": goals,
            }
        )
    return {"development_plans": out}


async def apply_manifest(
    session: Any, sections: dict[str, Any], *, tenant_id: uuid.UUID, result: Any
) -> None:
    """Runs as the owner inside `apply_manifest`'s transaction: every statement names the
    tenant."""
    entries = sections.get("development_plans") or []
    if not entries:
        return
    t = {"t": tenant_id}
    people = dict(
        (
            await session.execute(
                sa.text("select lower(email), id from employees where tenant_id = :t"), t
            )
        ).all()
    )
    skills = dict(
        (
            await session.execute(
                sa.text("select lower(name), id from skills where tenant_id = :t"), t
            )
        ).all()
    )
    types = dict(
        (
            await session.execute(
                sa.text("select lower(name), id from credential_types where tenant_id = :t"), t
            )
        ).all()
    )
    levels = {
        (r[0], r[1]): r[2]
        for r in (
            await session.execute(
                sa.text(
                    "select lower(k.name), lower(l.title), l.id from track_levels l "
                    "join career_tracks k on k.tenant_id = l.tenant_id and k.id = l.track_id "
                    "where l.tenant_id = :t"
                ),
                t,
            )
        ).all()
    }
    existing = {
        (r[0], r[1].lower())
        for r in (
            await session.execute(
                sa.text("select employee_id, title from development_plans where tenant_id = :t"),
                t,
            )
        ).all()
    }
    now = clock.now()
    for d in entries:
        owner = people[d["employee"].lower()]
        if (owner, d["title"].lower()) in existing:
            continue
        status = d["status"]
        reviewer = people[d["reviewed_by"].lower()] if d["reviewed_by"] else None
        plan_id = uuid.uuid4()
        await session.execute(
            sa.insert(DevelopmentPlan.__table__).values(
                tenant_id=tenant_id,
                id=plan_id,
                employee_id=owner,
                title=d["title"],
                period_start=d["period_start"],
                period_end=d["period_end"],
                aspirations=d["aspirations"],
                status=status,
                review_comment=d["review_comment"],
                submitted_at=now if status != "draft" else None,
                reviewed_at=now if status in REVIEWED else None,
                reviewed_by=reviewer if status in REVIEWED else None,
                started_at=now if status in ("in_progress", "completed") else None,
                completed_at=now if status == "completed" else None,
                archived_at=now if status == "archived" else None,
                created_by=owner,
            )
        )
        for track, level in d["targets"]:
            await session.execute(
                sa.insert(PlanTarget.__table__).values(
                    tenant_id=tenant_id,
                    plan_id=plan_id,
                    level_id=levels[(track.lower(), level.lower())],
                )
            )
        for gi, g in enumerate(d["goals"]):
            goal_id = uuid.uuid4()
            await session.execute(
                sa.insert(PlanGoal.__table__).values(
                    tenant_id=tenant_id,
                    id=goal_id,
                    plan_id=plan_id,
                    position=gi,
                    title=g["title"],
                    description=g["description"],
                    measure=g["measure"],
                    due_on=g["due_on"],
                    status=g["status"],
                    progress=g["progress"],
                    completed_at=now if g["status"] == "completed" else None,
                )
            )
            for s in dict.fromkeys(x.lower() for x in g["skills"]):
                await session.execute(
                    sa.insert(GoalSkill.__table__).values(
                        tenant_id=tenant_id, goal_id=goal_id, skill_id=skills[s]
                    )
                )
            for ai, a in enumerate(g["activities"]):
                ctype = a["credential_type"]
                await session.execute(
                    sa.insert(PlanActivity.__table__).values(
                        tenant_id=tenant_id,
                        goal_id=goal_id,
                        position=ai,
                        kind=a["kind"],
                        title=a["title"],
                        description=a["description"],
                        url=a["url"],
                        credential_type_id=types[ctype.lower()] if ctype else None,
                        status=a["status"],
                        due_on=a["due_on"],
                        completed_at=now if a["status"] == "completed" else None,
                    )
                )
        await session.execute(
            sa.insert(PlanEvent.__table__).values(
                tenant_id=tenant_id,
                plan_id=plan_id,
                action="created",
                to_status=status,
                changes={"source": "manifest", "goals": len(d["goals"])},
                actor_type="system",
            )
        )
        result.count("created", "development_plans")
