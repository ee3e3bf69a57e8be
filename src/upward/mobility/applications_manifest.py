"""`[[applications]]` in tenant manifests (demo data): applications to the file's postings in
any stage, with their history. An application matches by (employee, posting title) and is
created once; a later apply never changes it (it moves through the API from then on).

A `hired` application also records the move (`employee_moves`: gig for a gig, else
promotion / lateral from the levels) with the person's values as the file declares them (the
file describes people after the move, so `before` is left empty), and counts the posting's
`filled` up (to at most its openings; filled then). The manager notice follows the tenant's
`manager_notice_stage` (or `share_with_manager`): `manager_told_at` is set when due, without a
notification (demo data).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from upward import clock
from upward.db import columns
from upward.mobility.applications import PIPELINE, move_kind
from upward.mobility.models import (
    STAGES,
    Application,
    ApplicationEvent,
    EmployeeMove,
    JobPosting,
)

APPLICATION_KEYS = {
    "employee",
    "posting",
    "stage",
    "note",
    "share_with_manager",
    "rejection_reason",
    "applied_on",
}


def validate_applications(c: Any, data: dict[str, Any], emails: set[str]) -> list[dict[str, Any]]:
    """Check `[[applications]]`; `c` is the manifest's checker."""
    lower_emails = {e.lower() for e in emails}
    postings = {
        str(p.get("title", "")).lower(): p
        for p in (data.get("job_postings") or [])
        if isinstance(p, dict)
    }
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, d in enumerate(c.tables(data, "applications")):
        entry = f"applications[{i}]"
        c.keys(entry, d, APPLICATION_KEYS)
        who = d.get("employee")
        if not isinstance(who, str) or who.lower() not in lower_emails:
            c.error(entry, "'employee' must be the email of an employee in this file")
            continue
        title = d.get("posting")
        posting = postings.get(str(title).lower()) if isinstance(title, str) else None
        if posting is None:
            c.error(entry, "'posting' must be the title of a [[job_postings]] entry in this file")
            continue
        if posting.get("status", "draft") == "draft":
            c.error(entry, f"posting {title!r} is a draft: nobody applies to it")
        if str(posting.get("hiring_manager", "")).lower() == who.lower():
            c.error(entry, "the hiring manager does not apply to their own posting")
        key = (who.lower(), str(title).lower())
        if key in seen:
            c.error(entry, f"{who} applies to {title!r} twice")
        seen.add(key)
        stage = d.get("stage", "applied")
        if stage not in STAGES:
            c.error(entry, f"'stage' must be one of {', '.join(STAGES)}")
        reason = c.string(entry, d, "rejection_reason", max_len=5000)
        if stage == "rejected" and not reason:
            c.error(entry, "a rejected application needs 'rejection_reason'")
        if reason and stage != "rejected":
            c.error(entry, "only a rejected application has 'rejection_reason'")
        share = d.get("share_with_manager", False)
        if not isinstance(share, bool):
            c.error(entry, "'share_with_manager' must be true or false")
            share = False
        applied_on = d.get("applied_on")
        if applied_on is not None and (
            not isinstance(applied_on, date) or isinstance(applied_on, datetime)
        ):
            c.error(entry, "'applied_on' must be a TOML local date")
            applied_on = None
        out.append(
            {
                "employee": who,
                "posting": title,
                "stage": stage,
                "note": c.string(entry, d, "note", max_len=5000),
                "share_with_manager": share,
                "rejection_reason": reason,
                "applied_on": applied_on,
            }
        )
    return out


def _path(stage: str) -> list[str]:
    """The stages an application went through to reach `stage`."""
    if stage in PIPELINE:
        return list(PIPELINE[: PIPELINE.index(stage) + 1])
    return ["applied", stage]  # rejected or withdrawn straight from applied


async def apply_applications(
    session: Any, entries: list[dict[str, Any]], *, tenant_id: uuid.UUID, result: Any
) -> None:
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
    postings_sql = f"select {columns(JobPosting)} from job_postings where tenant_id = :t"  # noqa: S608
    postings = {r.title.lower(): r for r in (await session.execute(sa.text(postings_sql), t)).all()}
    have = set(
        (
            await session.execute(
                sa.text("select employee_id, posting_id from applications where tenant_id = :t"), t
            )
        ).all()
    )
    notice = (
        await session.execute(
            sa.text("select manager_notice_stage from mobility_settings where tenant_id = :t"), t
        )
    ).scalar() or "offer"
    now = clock.now()
    for d in entries:
        eid = people[d["employee"].lower()]
        posting = postings[d["posting"].lower()]
        if (eid, posting.id) in have:
            continue
        at = datetime.combine(d["applied_on"], time(9), tzinfo=UTC) if d["applied_on"] else now
        stage = d["stage"]
        reached = stage in PIPELINE and PIPELINE.index(stage) >= PIPELINE.index(notice)
        told = d["share_with_manager"] or reached
        aid = uuid.uuid4()
        path = _path(stage)
        await session.execute(
            sa.insert(Application.__table__).values(
                tenant_id=tenant_id,
                id=aid,
                posting_id=posting.id,
                employee_id=eid,
                note=d["note"],
                stage=stage,
                rejection_reason=d["rejection_reason"],
                share_with_manager=d["share_with_manager"],
                manager_told_at=at if told else None,
                stage_changed_at=at + timedelta(minutes=len(path) - 1),
                created_at=at,
                updated_at=at,
            )
        )
        for i, (prev, nxt) in enumerate(zip([None, *path[:-1]], path, strict=True)):
            await session.execute(
                sa.insert(ApplicationEvent.__table__).values(
                    tenant_id=tenant_id,
                    application_id=aid,
                    from_stage=prev,
                    to_stage=nxt,
                    reason=d["rejection_reason"] if nxt == "rejected" else None,
                    actor_type="system",
                    at=at + timedelta(minutes=i),  # one step a minute: the history's order
                )
            )
        if stage == "hired":
            await _record_hire(session, tenant_id, posting, eid, aid, at)
        result.count("created", "applications")


async def _record_hire(
    session: Any, tenant_id: uuid.UUID, posting: Any, eid: uuid.UUID, aid: uuid.UUID, at: datetime
) -> None:
    p = {"t": tenant_id, "e": eid}
    emp = (
        await session.execute(
            sa.text(
                "select e.title, e.department_id, e.manager_id, e.location_id, e.job_level, "
                "l.level_id, tl.track_id, tl.position from employees e "
                "left join employee_levels l on l.tenant_id = e.tenant_id and l.employee_id = e.id "
                "left join track_levels tl on tl.tenant_id = l.tenant_id and tl.id = l.level_id "
                "where e.tenant_id = :t and e.id = :e"
            ),
            p,
        )
    ).one()
    target = None
    if posting.level_id is not None:
        target = (
            await session.execute(
                sa.text(
                    "select id, track_id, position from track_levels "
                    "where tenant_id = :t and id = :l"
                ),
                {"t": tenant_id, "l": posting.level_id},
            )
        ).one()
    current = emp if emp.level_id is not None else None
    kind = move_kind(posting.kind, current, target)
    after = {
        k: (str(v) if isinstance(v, uuid.UUID) else v)
        for k, v in {
            "level_id": emp.level_id,
            "title": emp.title,
            "department_id": emp.department_id,
            "manager_id": emp.manager_id,
            "location_id": emp.location_id,
            "job_level": emp.job_level,
        }.items()
    }
    await session.execute(
        sa.insert(EmployeeMove.__table__).values(
            tenant_id=tenant_id,
            employee_id=eid,
            kind=kind,
            posting_id=posting.id,
            application_id=aid,
            moved_on=posting.start_on or at.date(),
            before={},
            after=after if kind != "gig" else {},
        )
    )
    await session.execute(
        sa.text(
            "update job_postings set filled = least(filled + 1, openings), "
            "status = case when filled + 1 >= openings then 'filled' else status end, "
            "closed_at = case when filled + 1 >= openings then coalesce(closed_at, :now) "
            "else closed_at end where tenant_id = :t and id = :p"
        ),
        {"t": tenant_id, "p": posting.id, "now": at},
    )
