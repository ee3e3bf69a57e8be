"""Applications to internal postings, their pipeline, the hire, and people's moves.

Pipeline (who may do what is in `TRANSITIONS`):

    applied --screen--> screening --interview--> interviewing --offer--> offer --hire--> hired
    any open stage --reject (reason required)--> rejected
    any open stage --withdraw (the applicant)--> withdrawn

- An employee applies to a posting visible to them and that they are eligible for
  (`mobility.rules`); one live application per person and posting (a withdrawn one does not
  count: they may apply again).
- The posting's hiring manager and HR move an application and read it; never the applicant
  (who reads their own and withdraws it).
- The applicant's current manager reads NOTHING of it until they are told: when the stage
  reaches the tenant's `mobility_settings.manager_notice_stage` (default offer), or at once when
  the applicant chose to share. Until then the application does not exist for them (NOT_FOUND,
  no rows, no counts). Nobody else in the manager chain ever reads it.
- Hiring changes the person's level, title, department, manager and location in the same
  transaction as the stage, records an `employee_moves` row and counts the posting's `filled`
  up (under a row lock on the posting, so two hires cannot overfill it).
- Those who read all of a posting's applications (its hiring manager, HR) may follow them live
  (`postingApplicationsChanged`): every application created, moved or withdrawn is announced
  once its transaction commits (`_announce`), and the follower loads it again under its own
  tenant and rights (`watched_application`).
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
from upward.db import Executor, fetch, grouped
from upward.development.models import EmployeeLevel, TrackLevel
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.mobility import rules
from upward.mobility.models import (
    MOVE_KINDS,
    Application,
    ApplicationEvent,
    EmployeeMove,
    JobPosting,
    PostingLocation,
)
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people import validation
from upward.people.models import Employee
from upward.people.service import Viewer, lock_org_chart, reporting_line_ids

t_app = Application.__table__
t_event = ApplicationEvent.__table__
t_post = JobPosting.__table__
t_ploc = PostingLocation.__table__
t_move = EmployeeMove.__table__
t_emp = Employee.__table__
t_elevel = EmployeeLevel.__table__
t_tlevel = TrackLevel.__table__

PIPELINE = ("applied", "screening", "interviewing", "offer", "hired")
OPEN_STAGES = ("applied", "screening", "interviewing", "offer")
MAX_NOTE = 5000


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    by: str  # hiring (the posting's hiring manager or HR, never the applicant) | applicant
    needs_reason: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("screen", ("applied",), "screening", "hiring"),
        Transition("interview", ("screening",), "interviewing", "hiring"),
        Transition("offer", ("interviewing",), "offer", "hiring"),
        Transition("hire", ("offer",), "hired", "hiring"),
        Transition("reject", OPEN_STAGES, "rejected", "hiring", needs_reason=True),
        Transition("withdraw", OPEN_STAGES, "withdrawn", "applicant"),
    )
}


# --- who may ---------------------------------------------------------------------------------


def is_applicant(principal: Principal, app: Any) -> bool:
    return principal.employee_id is not None and principal.employee_id == app.employee_id


def is_hiring(principal: Principal, app: Any) -> bool:
    """The posting's hiring manager or HR; never the applicant themself."""
    if is_applicant(principal, app):
        return False
    return principal.is_hr or (
        principal.employee_id is not None and principal.employee_id == app.hiring_manager_id
    )


def can_read(principal: Principal, app: Any) -> bool:
    """`app` carries `hiring_manager_id` and `applicant_manager_id` (see `_select`)."""
    if principal.is_hr or is_applicant(principal, app) or is_hiring(principal, app):
        return True
    me = principal.employee_id
    return me is not None and me == app.applicant_manager_id and app.manager_told_at is not None


def reads_all_applications(principal: Principal, hiring_manager_id: uuid.UUID | None) -> bool:
    """HR and the posting's hiring manager read every application to it."""
    return principal.is_hr or (
        principal.employee_id is not None and principal.employee_id == hiring_manager_id
    )


def may(principal: Principal, t: Transition, app: Any) -> bool:
    if t.by == "applicant":
        return is_applicant(principal, app)
    return is_hiring(principal, app)


def allowed_actions(principal: Principal, app: Any) -> list[str]:
    return [
        t.action for t in TRANSITIONS.values() if app.stage in t.sources and may(principal, t, app)
    ]


def _readable_sql(principal: Principal) -> list[Any]:
    """`can_read` as a condition over `_select()` (for lists and counts)."""
    if principal.is_hr:
        return []
    me = principal.employee_id
    if me is None:
        return [sa.false()]
    return [
        sa.or_(
            t_app.c.employee_id == me,
            t_post.c.hiring_manager_id == me,
            sa.and_(t_emp.c.manager_id == me, t_app.c.manager_told_at.is_not(None)),
        )
    ]


# --- reads -----------------------------------------------------------------------------------


def _from() -> Any:
    return t_app.join(
        t_post, sa.and_(t_post.c.tenant_id == t_app.c.tenant_id, t_post.c.id == t_app.c.posting_id)
    ).join(
        t_emp, sa.and_(t_emp.c.tenant_id == t_app.c.tenant_id, t_emp.c.id == t_app.c.employee_id)
    )


def _select() -> Any:
    return sa.select(
        t_app,
        t_post.c.hiring_manager_id,
        t_post.c.title.label("posting_title"),
        t_post.c.kind.label("posting_kind"),
        t_emp.c.manager_id.label("applicant_manager_id"),
    ).select_from(_from())


async def applications_by_ids(
    session: Executor, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    rows = (await session.execute(_select().where(t_app.c.id.in_(list(ids))))).all()
    return {r.id: r for r in rows if can_read(principal, r)}


async def get_application(session: Executor, principal: Principal, app_id: uuid.UUID) -> Any:
    return await _application(session, principal, app_id)


async def _application(
    session: Executor, principal: Principal, app_id: uuid.UUID, *, lock: bool = False
) -> Any:
    stmt = _select().where(t_app.c.id == app_id)
    if lock:
        stmt = stmt.with_for_update(of=t_app)
    row = (await session.execute(stmt)).one_or_none()
    if row is None or not can_read(principal, row):
        raise NotFound("no application with this id")
    return row


APPLICATION_ORDER = Order(
    key="applications:created_desc",
    columns=(t_app.c.created_at, t_app.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


@dataclass(frozen=True)
class ApplicationFilter:
    posting_id: uuid.UUID | None = None
    employee_id: uuid.UUID | None = None
    stages: tuple[str, ...] = ()
    mine: bool = False


async def list_applications(
    session: Executor,
    principal: Principal,
    f: ApplicationFilter,
    page: PageArgs,
    *,
    with_count: bool = False,
) -> Page:
    """Applications the viewer may read, newest first."""
    conds = _readable_sql(principal)
    if f.mine:
        conds.append(t_app.c.employee_id == principal.employee_id)
    if f.posting_id is not None:
        conds.append(t_app.c.posting_id == f.posting_id)
    if f.employee_id is not None:
        conds.append(t_app.c.employee_id == f.employee_id)
    if f.stages:
        conds.append(t_app.c.stage.in_(f.stages))
    stmt = _select().where(*conds)
    count = sa.select(sa.func.count()).select_from(_from()).where(*conds)
    return await paginate(
        session, stmt, APPLICATION_ORDER, page, count_stmt=count, with_count=with_count
    )


async def history_of(session: Executor, app_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """Each application's stage changes, oldest first: one statement."""
    rows = (
        await session.execute(
            sa.select(t_event)
            .where(t_event.c.application_id.in_(list(app_ids)))
            .order_by(t_event.c.application_id, t_event.c.at, t_event.c.id)
        )
    ).all()
    return grouped(rows, app_ids, lambda r: r.application_id)


async def moves_of_applications(
    session: Executor, app_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    rows = (
        await session.execute(sa.select(t_move).where(t_move.c.application_id.in_(list(app_ids))))
    ).all()
    return {r.application_id: r for r in rows}


# --- live (postingApplicationsChanged) -------------------------------------------------------

# `<namespace>:live:<tenant>:posting:<posting id>`
LIVE_TOPIC = "posting"
CHANGES = ("created", "stage_changed", "withdrawn")


async def watch_posting(session: Executor, principal: Principal, posting_id: uuid.UUID) -> Any:
    """Whether the principal may follow a posting's applications as they change: those who
    read all of them. NOT_FOUND for a posting they cannot see (or that does not exist, or is
    another tenant's); FORBIDDEN for one they see without reading its applications."""
    from upward.mobility.postings import get_posting

    row = await get_posting(session, principal, posting_id, field="postingId")
    if not reads_all_applications(principal, row.hiring_manager_id):
        raise Forbidden(
            "only the posting's hiring manager and HR follow its applications", field="postingId"
        )
    return row


async def watched_application(
    session: Executor, principal: Principal, posting_id: uuid.UUID, app_id: uuid.UUID
) -> Any | None:
    """An application of the followed posting, as `applications` returns it; None when there
    is no such application of this posting. FORBIDDEN once the principal no longer reads the
    posting's applications (another hiring manager took it over): the subscription ends."""
    row = (
        await session.execute(
            _select().where(t_app.c.id == app_id, t_app.c.posting_id == posting_id)
        )
    ).one_or_none()
    if row is None:
        return None
    if not reads_all_applications(principal, row.hiring_manager_id):
        raise Forbidden("you no longer follow this posting's applications", field="postingId")
    return row if can_read(principal, row) else None


def _announce(
    session: Executor, principal: Principal, posting_id: uuid.UUID, app_id: uuid.UUID, change: str
) -> None:
    """Tell the posting's live followers once the transaction commits: the one place an
    application change is published (apply, every transition)."""
    from upward.graphql import live

    assert change in CHANGES
    live.publish_after_commit(
        session,
        principal.tenant_id,
        LIVE_TOPIC,
        [(posting_id, {"k": "application", "id": str(app_id), "c": change})],
    )


# --- moves -----------------------------------------------------------------------------------

MOVE_ORDER = Order(
    key="employee_moves:moved_desc",
    columns=(t_move.c.moved_on, t_move.c.created_at, t_move.c.id),
    descending=True,
    parse=(
        date.fromisoformat,
        datetime.fromisoformat,
        uuid.UUID,
    ),
)


@dataclass(frozen=True)
class MoveFilter:
    employee_id: uuid.UUID | None = None
    kinds: tuple[str, ...] = ()
    moved_from: date | None = None
    moved_to: date | None = None


async def list_moves(
    session: Executor, viewer: Viewer, f: MoveFilter, page: PageArgs, *, with_count: bool = False
) -> Page:
    """Moves the viewer may read: their own, their line's (a manager), everyone's (HR)."""
    conds: list[Any] = []
    readable = viewer.private_ids()
    if readable is not None:
        conds.append(t_move.c.employee_id.in_(readable))
    if f.employee_id is not None:
        conds.append(t_move.c.employee_id == f.employee_id)
    if f.kinds:
        conds.append(t_move.c.kind.in_(f.kinds))
    if f.moved_from is not None:
        conds.append(t_move.c.moved_on >= f.moved_from)
    if f.moved_to is not None:
        conds.append(t_move.c.moved_on <= f.moved_to)
    stmt = sa.select(t_move).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_move).where(*conds)
    return await paginate(session, stmt, MOVE_ORDER, page, count_stmt=count, with_count=with_count)


def check_move_kinds(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v for v in values if v in MOVE_KINDS)


# --- apply -----------------------------------------------------------------------------------


def _text(value: str | None, field: str, *, required: bool = False, limit: int = MAX_NOTE) -> Any:
    if required:
        return validation.require_text(value, field=field, max_len=limit)
    return validation.optional_text(value, field=field, max_len=limit)


async def person_for_rules(session: Executor, employee_id: uuid.UUID) -> rules.Viewer | None:
    rows = await fetch(
        session,
        "select e.id, e.department_id, e.location_id, e.hire_date, e.status, "
        "l.level_id, l.since from employees e left join employee_levels l "
        "on l.tenant_id = e.tenant_id and l.employee_id = e.id where e.id = $1",
        employee_id,
    )
    if not rows or rows[0]["status"] != "active":
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


async def apply(
    session: Executor,
    principal: Principal,
    *,
    posting_id: uuid.UUID,
    note: str | None = None,
    share_with_manager: bool = False,
) -> Any:
    me = principal.employee_id
    if me is None:
        raise Forbidden("only an employee applies to a posting")
    note = _text(note, "input.note")
    today = clock.today(principal.tenant_timezone)
    posting = (
        (await session.execute(sa.select(t_post).where(t_post.c.id == posting_id)))
        .mappings()
        .one_or_none()
    )
    person = await person_for_rules(session, me)
    if posting is None or person is None:
        raise NotFound("no posting with this id", field="input.postingId")
    pr = rules.PostingRules.from_row(posting)
    sees = principal.is_hr or me == posting["hiring_manager_id"]
    if not sees and not rules.visible(pr, person, today):
        raise NotFound("no posting with this id", field="input.postingId")
    reasons = rules.eligibility(pr, person, today)
    if reasons:
        raise BadUserInput(
            "you may not apply to this posting: " + "; ".join(reasons), field="input.postingId"
        )
    now = clock.now()
    app_id = await session.scalar(
        pg_insert(t_app)
        .values(
            tenant_id=principal.tenant_id,
            posting_id=posting_id,
            employee_id=me,
            note=note,
            stage="applied",
            share_with_manager=share_with_manager,
            stage_changed_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(t_app.c.id)
    )
    if app_id is None:
        raise Conflict("you already have an application for this posting", field="input.postingId")
    event_id = await _event(session, principal, app_id, None, "applied")
    _announce(session, principal, posting_id, app_id, "created")
    await audit.record(
        session,
        principal,
        action="application.apply",
        target_type="Application",
        target_id=app_id,
        changes={
            "posting_id": {"from": None, "to": str(posting_id)},
            "stage": {"from": None, "to": "applied"},
            "share_with_manager": {"from": None, "to": share_with_manager},
        },
    )
    app = await _application(session, principal, app_id)
    await _notify_hiring_manager(session, principal, app, event_id)
    if await _maybe_tell_manager(session, principal, app):
        app = await _application(session, principal, app_id)
    return app


# --- transitions -----------------------------------------------------------------------------


async def _event(
    session: Executor,
    principal: Principal,
    app_id: uuid.UUID,
    from_stage: str | None,
    to_stage: str,
    reason: str | None = None,
) -> uuid.UUID:
    return await session.scalar(
        sa.insert(t_event)
        .values(
            tenant_id=principal.tenant_id,
            application_id=app_id,
            from_stage=from_stage,
            to_stage=to_stage,
            reason=reason,
            actor_type=principal.actor_type,
            actor_id=principal.employee_id,
            at=sa.func.clock_timestamp(),
        )
        .returning(t_event.c.id)
    )


def _who(t: Transition) -> str:
    if t.by == "applicant":
        return f"only the applicant may {t.action} an application"
    return f"only the posting's hiring manager or HR may {t.action} an application"


async def transition(
    session: Executor,
    principal: Principal,
    app_id: uuid.UUID,
    action: str,
    *,
    reason: str | None = None,
    start_on: date | None = None,
) -> Any:
    t = TRANSITIONS[action]
    app = await _application(session, principal, app_id, lock=True)
    if not may(principal, t, app):
        raise Forbidden(_who(t))
    if app.stage not in t.sources:
        raise Conflict(
            f"cannot {action} an application that is {app.stage} "
            f"(allowed from: {', '.join(t.sources)})"
        )
    reason = _text(reason, "reason", required=t.needs_reason)
    if start_on is not None and action != "hire":
        raise BadUserInput("only a hire has a start date", field="startOn")
    move_id: uuid.UUID | None = None
    if action == "hire":
        # the manager is told (if due) before the hire makes someone else their manager
        await _maybe_tell_manager(session, principal, app, stage="hired")
        move_id = await _hire(session, principal, app, start_on)
    now = clock.now()
    values: dict[str, Any] = {"stage": t.target, "stage_changed_at": now, "updated_at": now}
    if action == "reject":
        values["rejection_reason"] = reason
    await session.execute(sa.update(t_app).where(t_app.c.id == app.id).values(**values))
    event_id = await _event(session, principal, app.id, app.stage, t.target, reason)
    change = "withdrawn" if t.target == "withdrawn" else "stage_changed"
    _announce(session, principal, app.posting_id, app.id, change)
    await audit.record(
        session,
        principal,
        action=f"application.{action}",
        target_type="Application",
        target_id=app.id,
        changes={"stage": {"from": app.stage, "to": t.target}, "reason": reason},
    )
    row = await _application(session, principal, app.id)
    if action != "hire":
        await _maybe_tell_manager(session, principal, row)
    await _notify_applicant(session, principal, row, action, reason, event_id)
    if move_id is not None:
        await _hired_events(session, principal, row, move_id)
    return await _application(session, principal, app.id)


# --- the manager notice ----------------------------------------------------------------------


async def notice_stage(session: Executor) -> str:
    from upward.mobility.preferences import load_settings

    return (await load_settings(session)).manager_notice_stage


async def _maybe_tell_manager(
    session: Executor, principal: Principal, app: Any, *, stage: str | None = None
) -> bool:
    """Tell the applicant's current manager once, when they chose to share or the stage has
    reached the tenant's notice stage. A closed application (rejected, withdrawn) is never
    told."""
    stage = stage or app.stage
    manager = app.applicant_manager_id
    if app.manager_told_at is not None or manager is None or stage not in PIPELINE:
        return False
    if not app.share_with_manager:
        notice = await notice_stage(session)
        if PIPELINE.index(stage) < PIPELINE.index(notice):
            return False
    await session.execute(
        sa.update(t_app).where(t_app.c.id == app.id).values(manager_told_at=clock.now())
    )
    from upward.reminders.outbox import EventNote, notify_people

    rows = await fetch(session, "select name from employees where id = $1", app.employee_id)
    name = rows[0]["name"] if rows else "Someone on your team"
    subject = f"{name} is moving forward on an internal opening"
    body = f"{name} applied to {app.posting_title!r}; the application is at the {stage} stage."
    data = {"application_id": str(app.id), "event": "application.manager_notice"}
    if manager != principal.employee_id:
        await notify_people(
            session,
            principal.tenant_id,
            [EventNote(manager, f"application.manager_notice:{app.id}", subject, body, data)],
        )
    return True


async def _notify_hiring_manager(
    session: Executor, principal: Principal, app: Any, event_id: uuid.UUID
) -> None:
    from upward.reminders.outbox import EventNote, notify_people

    rows = await fetch(session, "select name from employees where id = $1", app.employee_id)
    name = rows[0]["name"] if rows else "Someone"
    subject = f"{name} applied to {app.posting_title!r}"
    data = {"application_id": str(app.id), "event": "application.applied"}
    await notify_people(
        session,
        principal.tenant_id,
        [EventNote(app.hiring_manager_id, f"application:{event_id}", subject, subject, data)],
    )


async def _notify_applicant(
    session: Executor,
    principal: Principal,
    app: Any,
    action: str,
    reason: str | None,
    event_id: uuid.UUID,
) -> None:
    if is_applicant(principal, app):
        return
    from upward.reminders.outbox import EventNote, notify_people

    subject = f"Your application to {app.posting_title!r} is now {app.stage}"
    body = f"{subject}{': ' + reason if reason else '.'}"
    data = {"application_id": str(app.id), "event": f"application.{action}"}
    await notify_people(
        session,
        principal.tenant_id,
        [EventNote(app.employee_id, f"application:{event_id}", subject, body, data)],
    )


# --- the hire --------------------------------------------------------------------------------


def move_kind(posting_kind: str, current: Any | None, target: Any | None) -> str:
    """gig for a gig; promotion one rung up on the same track; lateral otherwise."""
    if posting_kind == "gig":
        return "gig"
    if (
        current is not None
        and target is not None
        and current.track_id == target.track_id
        and target.position == current.position + 1
    ):
        return "promotion"
    return "lateral"


def _ids(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID | date) else v) for k, v in d.items()}


async def _hire(
    session: Executor, principal: Principal, app: Any, start_on: date | None
) -> uuid.UUID:
    """The person's new level, title, department, manager and location; their move; the
    posting's openings. Locks the posting first, so concurrent hires into it queue."""
    posting = (
        await session.execute(
            sa.select(t_post).where(t_post.c.id == app.posting_id).with_for_update()
        )
    ).one()
    if posting.filled >= posting.openings:
        raise Conflict("every opening of this posting is filled", field="id")
    if posting.status not in ("open", "closed"):
        raise Conflict(f"the posting is {posting.status}: nobody is hired into it", field="id")
    emp = (
        await session.execute(
            sa.select(t_emp).where(t_emp.c.id == app.employee_id).with_for_update()
        )
    ).one()
    if emp.status != "active":
        raise Conflict("the applicant is no longer an active employee", field="id")
    on = start_on or posting.start_on or clock.today(principal.tenant_timezone)
    cur_level = (
        await session.execute(
            sa.select(
                t_elevel.c.level_id, t_elevel.c.since, t_tlevel.c.track_id, t_tlevel.c.position
            )
            .select_from(
                t_elevel.join(
                    t_tlevel,
                    sa.and_(
                        t_tlevel.c.tenant_id == t_elevel.c.tenant_id,
                        t_tlevel.c.id == t_elevel.c.level_id,
                    ),
                )
            )
            .where(t_elevel.c.employee_id == emp.id)
        )
    ).one_or_none()
    target = None
    if posting.level_id is not None:
        target = (
            await session.execute(sa.select(t_tlevel).where(t_tlevel.c.id == posting.level_id))
        ).one()
    kind = move_kind(posting.kind, cur_level, target)
    before = {
        "level_id": cur_level.level_id if cur_level else None,
        "title": emp.title,
        "department_id": emp.department_id,
        "manager_id": emp.manager_id,
        "location_id": emp.location_id,
        "job_level": emp.job_level,
    }
    after = dict(before)
    if kind != "gig":
        loc = (
            await session.execute(
                sa.text(
                    # where they sit, if the posting offers it; else its first by name
                    "select pl.location_id from job_posting_locations pl join locations l "
                    "on l.tenant_id = pl.tenant_id and l.id = pl.location_id "
                    "where pl.posting_id = :p "
                    "order by (pl.location_id is not distinct from :here) desc, l.name, l.id "
                    "limit 1"
                ),
                {"p": posting.id, "here": emp.location_id},
            )
        ).scalar()
        after["title"] = target.title if target is not None else posting.title
        if target is not None:
            after["level_id"] = target.id
            if target.job_level:
                after["job_level"] = target.job_level
        if posting.department_id is not None:
            after["department_id"] = posting.department_id
        if loc is not None:
            after["location_id"] = loc
        if posting.hiring_manager_id != emp.manager_id:
            await lock_org_chart(session)
            if posting.hiring_manager_id in set(await reporting_line_ids(session, emp.id)):
                raise Conflict(
                    "the hiring manager reports to the applicant: hiring would create a cycle",
                    field="id",
                )
            after["manager_id"] = posting.hiring_manager_id
        emp_values = {
            k: after[k]
            for k in ("title", "department_id", "manager_id", "location_id", "job_level")
            if after[k] != before[k]
        }
        if emp_values:
            await session.execute(
                sa.update(t_emp)
                .where(t_emp.c.id == emp.id)
                .values(**emp_values, updated_at=clock.now())
            )
        if target is not None and after["level_id"] != before["level_id"]:
            await session.execute(
                pg_insert(t_elevel)
                .values(
                    tenant_id=principal.tenant_id,
                    employee_id=emp.id,
                    level_id=target.id,
                    since=on,
                    updated_at=clock.now(),
                )
                .on_conflict_do_update(
                    index_elements=["tenant_id", "employee_id"],
                    set_={"level_id": target.id, "since": on, "updated_at": clock.now()},
                )
            )
    move_id = await session.scalar(
        sa.insert(t_move)
        .values(
            tenant_id=principal.tenant_id,
            employee_id=emp.id,
            kind=kind,
            posting_id=posting.id,
            application_id=app.id,
            moved_on=on,
            before=_ids(before),
            after=_ids(after),
            actor_id=principal.employee_id,
        )
        .returning(t_move.c.id)
    )
    from upward.mobility.postings import record_hire

    filled_row = await record_hire(session, principal, posting.id)  # posting.filled when full
    await audit.record(
        session,
        principal,
        action="employee.move",
        target_type="Employee",
        target_id=emp.id,
        changes={**audit.diff(before, after), "kind": kind},
    )
    await audit.record(
        session,
        principal,
        action="job_posting.fill",
        target_type="JobPosting",
        target_id=posting.id,
        changes=audit.diff(
            {"filled": posting.filled, "status": posting.status},
            {"filled": filled_row.filled, "status": filled_row.status},
        ),
    )
    return move_id


async def _hired_events(
    session: Executor, principal: Principal, app: Any, move_id: uuid.UUID
) -> None:
    from upward.credentials.service import record_event

    move = (await session.execute(sa.select(t_move).where(t_move.c.id == move_id))).one()
    payload = {
        "application_id": app.id,
        "posting_id": app.posting_id,
        "employee_id": app.employee_id,
        "kind": move.kind,
        "moved_on": move.moved_on,
        "actor_id": principal.employee_id,
    }
    await record_event(
        session,
        principal,
        kind="application.hired",
        subject_type="Application",
        subject_id=app.id,
        key=f"application.hired:{app.id}",
        payload=payload,
    )
    await record_event(
        session,
        principal,
        kind="employee.moved",
        subject_type="Employee",
        subject_id=app.employee_id,
        key=f"employee.moved:{move_id}",
        payload={**payload, "move_id": move_id, "before": move.before, "after": move.after},
    )
