"""Individual development plans (IDPs): a person's plan for a period, its target levels, goals
and activities, the review workflow, and the plan's history.

Workflow (who may do what is in `TRANSITIONS`):

    draft --submit--> submitted --approve--> approved --start--> in_progress --complete--> completed
      ^                 |   \\--request_changes--> changes_requested --submit--> submitted
      \\---withdraw-----/
    any state but archived --archive--> archived

- The owner (the employee) writes the plan while it is a draft or changes were requested;
  once approved, they update progress: goal status and progress, activity status.
- A reviewer is anyone above the owner in their reporting line, or HR; never the owner.
- HR reads every plan of the tenant; a manager their line's; a person their own.
- One plan that is neither completed nor archived per person and overlapping period (checked
  under a per-person transaction lock, so two concurrent creations cannot both pass).
- Every change is a row of `development_plan_events`; completions are domain events
  (`idp.goal_completed`, `idp.completed`) in the outbox, once per goal / plan.
- A certification activity completes itself when a credential of its type is recorded for the
  owner (`complete_certifications`, called by the credentials domain in the same transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, columns, fetch, fetchval, grouped, xact_lock
from upward.development.models import (
    ACTIVITY_KINDS,
    ACTIVITY_STATUSES,
    GOAL_STATUSES,
    DevelopmentPlan,
    GoalSkill,
    PlanActivity,
    PlanEvent,
    PlanGoal,
    PlanTarget,
)
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people import validation
from upward.people.service import Viewer

t_plan = DevelopmentPlan.__table__
t_target = PlanTarget.__table__
t_goal = PlanGoal.__table__
t_goal_skill = GoalSkill.__table__
t_activity = PlanActivity.__table__
t_event = PlanEvent.__table__

OPEN = ("draft", "submitted", "changes_requested", "approved", "in_progress")
EDITABLE = ("draft", "changes_requested")  # the plan's content
UNDER_WAY = ("approved", "in_progress")  # progress only
MAX_GOALS = 50
MAX_ACTIVITIES = 50
MAX_TARGETS = 5
MAX_TEXT = 5000
MAX_TITLE = 200


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    by: str  # owner | reviewer | owner_or_reviewer | owner_or_hr
    needs_comment: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("submit", ("draft", "changes_requested"), "submitted", "owner"),
        Transition("withdraw", ("submitted",), "draft", "owner"),
        Transition("approve", ("submitted",), "approved", "reviewer"),
        Transition(
            "request_changes", ("submitted",), "changes_requested", "reviewer", needs_comment=True
        ),
        Transition("start", ("approved",), "in_progress", "owner"),
        Transition("complete", ("in_progress",), "completed", "owner_or_reviewer"),
        Transition("archive", (*OPEN, "completed"), "archived", "owner_or_hr"),
    )
}


# --- who may ---------------------------------------------------------------------------------


def can_read(viewer: Viewer, employee_id: uuid.UUID) -> bool:
    return viewer.sees_private(employee_id)


def is_owner(principal: Principal, employee_id: uuid.UUID) -> bool:
    return principal.employee_id == employee_id


def is_reviewer(principal: Principal, viewer: Viewer, employee_id: uuid.UUID) -> bool:
    """Above the owner in their line, or HR; never the owner themself."""
    if principal.employee_id == employee_id:
        return False
    return principal.is_hr or employee_id in viewer.line


def may(principal: Principal, viewer: Viewer, t: Transition, employee_id: uuid.UUID) -> bool:
    owner = is_owner(principal, employee_id)
    if t.by == "owner":
        return owner
    if t.by == "reviewer":
        return is_reviewer(principal, viewer, employee_id)
    if t.by == "owner_or_reviewer":
        return owner or is_reviewer(principal, viewer, employee_id)
    return owner or (principal.is_hr and principal.employee_id != employee_id)  # owner_or_hr


def allowed_actions(principal: Principal, viewer: Viewer, plan: Any) -> list[str]:
    """The transitions the viewer may make on the plan now (for a web client's buttons)."""
    return [
        t.action
        for t in TRANSITIONS.values()
        if plan.status in t.sources and may(principal, viewer, t, plan.employee_id)
    ]


def may_edit(principal: Principal, plan: Any) -> bool:
    return is_owner(principal, plan.employee_id) and plan.status in EDITABLE


def may_update_progress(principal: Principal, plan: Any) -> bool:
    return is_owner(principal, plan.employee_id) and plan.status in (*EDITABLE, *UNDER_WAY)


# --- reads -----------------------------------------------------------------------------------


async def plans_by_ids(
    session: Executor, viewer: Viewer, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    rows = (await session.execute(sa.select(t_plan).where(t_plan.c.id.in_(list(ids))))).all()
    return {r.id: r for r in rows if can_read(viewer, r.employee_id)}


async def current_plans(
    session: Executor, viewer: Viewer, employee_ids: Sequence[uuid.UUID], on: date
) -> dict[uuid.UUID, Any]:
    """Each person's current plan: the open one whose period includes `on`, else their most
    recent open one. One statement for a page of people; people the viewer may not read get
    none."""
    ids = [i for i in employee_ids if can_read(viewer, i)]
    if not ids:
        return {}
    covers = sa.and_(t_plan.c.period_start <= on, t_plan.c.period_end >= on)
    stmt = (
        sa.select(t_plan)
        .distinct(t_plan.c.employee_id)
        .where(t_plan.c.employee_id.in_(ids), t_plan.c.status.in_(OPEN))
        .order_by(t_plan.c.employee_id, covers.desc(), t_plan.c.period_start.desc())
    )
    return {r.employee_id: r for r in (await session.execute(stmt)).all()}


async def goals_of(session: Executor, plan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """Goals of plans, in order, each with `skill_ids` (by skill name): one statement."""
    rows = await fetch(
        session,
        f"""
        select {columns(PlanGoal, "g")}, coalesce(array(
                   select gs.skill_id from plan_goal_skills gs
                   join skills s on s.tenant_id = gs.tenant_id and s.id = gs.skill_id
                   where gs.tenant_id = g.tenant_id and gs.goal_id = g.id
                   order by s.name, s.id), '{{}}') as skill_ids
        from plan_goals g where g.plan_id = any($1::uuid[])
        order by g.plan_id, g.position, g.created_at, g.id
        """,  # noqa: S608 - the model's column names
        list(plan_ids),
    )
    return grouped(rows, plan_ids, lambda r: r["plan_id"])


async def activities_of(
    session: Executor, goal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    rows = (
        await session.execute(
            sa.select(t_activity)
            .where(t_activity.c.goal_id.in_(list(goal_ids)))
            .order_by(
                t_activity.c.goal_id,
                t_activity.c.position,
                t_activity.c.created_at,
                t_activity.c.id,
            )
        )
    ).all()
    return grouped(rows, goal_ids, lambda r: r.goal_id)


async def targets_of(
    session: Executor, plan_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await fetch(
        session,
        "select t.plan_id, t.level_id from development_plan_targets t "
        "join track_levels l on l.tenant_id = t.tenant_id and l.id = t.level_id "
        "where t.plan_id = any($1::uuid[]) order by t.plan_id, l.track_id, l.position",
        list(plan_ids),
    )
    return grouped(rows, plan_ids, lambda r: r["plan_id"], lambda r: r["level_id"])


async def history_of(
    session: Executor, plan_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """Each plan's changes, oldest first: one statement for any number of plans."""
    rows = (
        await session.execute(
            sa.select(t_event)
            .where(t_event.c.plan_id.in_(list(plan_ids)))
            .order_by(t_event.c.plan_id, t_event.c.at, t_event.c.id)
        )
    ).all()
    return grouped(rows, plan_ids, lambda r: r.plan_id)


PLAN_ORDER = Order(
    key="plans:period_desc",
    columns=(t_plan.c.period_start, t_plan.c.id),
    descending=True,
    parse=(date.fromisoformat, uuid.UUID),
)


@dataclass(frozen=True)
class PlanFilter:
    employee_id: uuid.UUID | None = None
    statuses: tuple[str, ...] = ()
    active_on: date | None = None
    needs_my_review: bool = False


async def list_plans(
    session: Executor, viewer: Viewer, f: PlanFilter, page: PageArgs, *, with_count: bool = False
) -> Page:
    """Plans the viewer may read (own, their line's, everyone's for HR), newest period first."""
    p = viewer.principal
    conds: list[Any] = []
    readable = viewer.private_ids()
    if readable is not None:
        conds.append(t_plan.c.employee_id.in_(readable))
    if f.employee_id is not None:
        conds.append(t_plan.c.employee_id == f.employee_id)
    if f.statuses:
        conds.append(t_plan.c.status.in_(f.statuses))
    if f.active_on is not None:
        conds += [t_plan.c.period_start <= f.active_on, t_plan.c.period_end >= f.active_on]
    if f.needs_my_review:
        conds.append(t_plan.c.status == "submitted")
        if p.employee_id is not None:
            conds.append(t_plan.c.employee_id != p.employee_id)
    stmt = sa.select(t_plan).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_plan).where(*conds)
    return await paginate(session, stmt, PLAN_ORDER, page, count_stmt=count, with_count=with_count)


async def _plan(
    session: Executor, viewer: Viewer, plan_id: uuid.UUID, *, lock: bool = False
) -> Any:
    stmt = sa.select(t_plan).where(t_plan.c.id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).one_or_none()
    if row is None or not can_read(viewer, row.employee_id):
        raise NotFound("no development plan with this id")
    return row


async def get_plan(session: Executor, viewer: Viewer, plan_id: uuid.UUID) -> Any:
    return await _plan(session, viewer, plan_id)


async def _goal(session: Executor, viewer: Viewer, goal_id: uuid.UUID, *, field: str) -> Any:
    """(goal, plan, locked) — the plan row locked, so concurrent edits of one plan queue."""
    row = (
        await session.execute(sa.select(t_goal.c.plan_id).where(t_goal.c.id == goal_id))
    ).one_or_none()
    if row is None:
        raise NotFound("no goal with this id", field=field)
    plan = await _plan(session, viewer, row.plan_id, lock=True)
    goal = (await session.execute(sa.select(t_goal).where(t_goal.c.id == goal_id))).one()
    return goal, plan


# --- history ---------------------------------------------------------------------------------


async def _event(
    session: Executor,
    principal: Principal,
    plan_id: uuid.UUID,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    comment: str | None = None,
    changes: dict[str, Any] | None = None,
) -> uuid.UUID:
    return await session.scalar(
        sa.insert(t_event)
        .values(
            tenant_id=principal.tenant_id,
            plan_id=plan_id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            comment=comment,
            changes=audit._jsonable(changes or {}),
            actor_type=principal.actor_type,
            actor_id=principal.employee_id,
            at=sa.func.clock_timestamp(),
        )
        .returning(t_event.c.id)
    )


async def _touch(session: Executor, plan_id: uuid.UUID) -> None:
    await session.execute(
        sa.update(t_plan).where(t_plan.c.id == plan_id).values(updated_at=clock.now())
    )


async def _changed(
    session: Executor,
    principal: Principal,
    plan_id: uuid.UUID,
    action: str,
    changes: dict[str, Any],
    *,
    history: str | None,
) -> None:
    """A change to a plan's goals or activities: its history entry (`history`: the action
    there; None when written already or nothing changed), the plan's `updated_at`, and the
    audit event `development_plan.<action>`."""
    if history is not None:
        await _event(session, principal, plan_id, history, changes=changes)
        await _touch(session, plan_id)
    await audit.record(
        session,
        principal,
        action=f"development_plan.{action}",
        target_type="DevelopmentPlan",
        target_id=plan_id,
        changes=changes,
    )


# --- validation ------------------------------------------------------------------------------


def _text(value: str | None, field: str, *, required: bool = False, limit: int = MAX_TEXT) -> Any:
    if required:
        return validation.require_text(value, field=field, max_len=limit)
    return validation.optional_text(value, field=field, max_len=limit)


def _period(start: date, end: date, field: str) -> None:
    if end < start:
        raise BadUserInput("must not end before it starts", field=f"{field}.periodEnd")
    if (end - start).days > 3 * 366:
        raise BadUserInput("a plan spans at most three years", field=f"{field}.periodEnd")


async def _check_levels(session: Executor, ids: Sequence[uuid.UUID], field: str) -> list[uuid.UUID]:
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_TARGETS:
        raise BadUserInput(f"at most {MAX_TARGETS} target levels", field=field)
    if not wanted:
        return []
    found = set(
        (
            await session.execute(
                sa.text("select id from track_levels where id = any(:ids)"), {"ids": wanted}
            )
        ).scalars()
    )
    for i, lid in enumerate(wanted):
        if lid not in found:
            raise BadUserInput("no career level with this id", field=f"{field}.{i}")
    return wanted


async def _check_skills(session: Executor, ids: Sequence[uuid.UUID], field: str) -> list[uuid.UUID]:
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > 20:
        raise BadUserInput("at most 20 skills", field=field)
    if not wanted:
        return []
    found = set(
        (
            await session.execute(
                sa.text("select id from skills where id = any(:ids)"), {"ids": wanted}
            )
        ).scalars()
    )
    for i, sid in enumerate(wanted):
        if sid not in found:
            raise BadUserInput("no skill with this id", field=f"{field}.{i}")
    return wanted


async def _check_credential_type(
    session: Executor, type_id: uuid.UUID | None, kind: str, field: str
) -> None:
    if kind == "certification":
        if type_id is None:
            raise BadUserInput(
                "a certification names the credential type that completes it", field=field
            )
        found = await fetchval(
            session, "select 1 from credential_types where id = $1 and status = 'active'", type_id
        )
        if found is None:
            raise BadUserInput("no active credential type with this id", field=field)
    elif type_id is not None:
        raise BadUserInput("only a certification names a credential type", field=field)


async def _lock_person(session: Executor, employee_id: uuid.UUID) -> None:
    """Serialize plan creation and period changes of one person (transaction-scoped)."""
    await xact_lock(session, "development_plans", employee_id)


async def _check_one_open(
    session: Executor,
    employee_id: uuid.UUID,
    start: date,
    end: date,
    *,
    field: str,
    exclude: uuid.UUID | None = None,
) -> None:
    await _lock_person(session, employee_id)
    clash = await fetchval(
        session,
        "select title from development_plans where employee_id = $1 "
        "and status <> all($2::text[]) and period_start <= $4 and period_end >= $3 "
        "and ($5::uuid is null or id <> $5) limit 1",
        employee_id,
        ["completed", "archived"],
        start,
        end,
        exclude,
    )
    if clash is not None:
        raise Conflict(
            f"an open plan ({clash!r}) already covers this period: complete or archive it, or "
            "choose another period",
            field=field,
        )


# --- plans -----------------------------------------------------------------------------------


@dataclass
class GoalSpec:
    title: str
    description: str | None = None
    measure: str | None = None
    due_on: date | None = None
    skill_ids: Sequence[uuid.UUID] = ()
    activities: Sequence[ActivitySpec] = ()


@dataclass
class ActivitySpec:
    kind: str
    title: str
    description: str | None = None
    url: str | None = None
    credential_type_id: uuid.UUID | None = None
    due_on: date | None = None


async def create_plan(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    title: str,
    period_start: date,
    period_end: date,
    aspirations: str | None = None,
    target_level_ids: Sequence[uuid.UUID] = (),
    goals: Sequence[GoalSpec] = (),
) -> Any:
    """A draft plan for oneself (its owner writes it)."""
    if not is_owner(principal, employee_id):
        if can_read(viewer, employee_id):
            raise Forbidden("a person writes their own development plan")
        raise NotFound("no employee with this id", field="input.employeeId")
    title = _text(title, "input.title", required=True, limit=MAX_TITLE)
    aspirations = _text(aspirations, "input.aspirations")
    _period(period_start, period_end, "input")
    targets = await _check_levels(session, target_level_ids, "input.targetLevelIds")
    if len(goals) > MAX_GOALS:
        raise BadUserInput(f"at most {MAX_GOALS} goals", field="input.goals")
    await _check_one_open(session, employee_id, period_start, period_end, field="input.periodStart")
    row = (
        await session.execute(
            sa.insert(t_plan)
            .values(
                tenant_id=principal.tenant_id,
                employee_id=employee_id,
                title=title,
                period_start=period_start,
                period_end=period_end,
                aspirations=aspirations,
                created_by=principal.employee_id,
            )
            .returning(t_plan)
        )
    ).one()
    await _event(
        session,
        principal,
        row.id,
        "created",
        to_status="draft",
        changes={"title": title, "period_start": period_start, "period_end": period_end},
    )
    await _set_targets(session, principal, row, targets, record=False)
    for i, g in enumerate(goals):
        await _insert_goal(session, principal, row, g, position=i, field=f"input.goals.{i}")
    await audit.record(
        session,
        principal,
        action="development_plan.create",
        target_type="DevelopmentPlan",
        target_id=row.id,
        changes={"employee_id": employee_id, "title": title, "goals": len(goals)},
    )
    return row


async def _set_targets(
    session: Executor,
    principal: Principal,
    plan: Any,
    level_ids: list[uuid.UUID],
    *,
    record: bool = True,
) -> None:
    plan_id = plan.id
    before = (await targets_of(session, [plan_id]))[plan_id]
    if set(before) == set(level_ids) and record:
        return
    await session.execute(sa.delete(t_target).where(t_target.c.plan_id == plan_id))
    if level_ids:
        await session.execute(
            sa.insert(t_target),
            [
                {"tenant_id": principal.tenant_id, "plan_id": plan_id, "level_id": lid}
                for lid in level_ids
            ],
        )
    if record or level_ids:
        event_id = await _event(
            session,
            principal,
            plan_id,
            "targets_set",
            changes={"from": before, "to": level_ids},
        )
        await _targets_event(session, principal, plan, event_id)


async def _targets_event(
    session: Executor, principal: Principal, plan: Any, event_id: uuid.UUID
) -> None:
    """`idp.targets_changed`: the levels the plan aims at changed, or stopped counting (the
    plan was archived), so matching re-ranks the person (a posting at a target level or in a
    target track fits better)."""
    from upward.credentials.service import record_event

    await record_event(
        session,
        principal,
        kind="idp.targets_changed",
        subject_type="DevelopmentPlan",
        subject_id=plan.id,
        key=f"idp.targets_changed:{event_id}",
        payload=_payload(principal, plan),
    )


def _payload(principal: Principal, plan: Any) -> dict[str, Any]:
    """What every `idp.*` event carries (docs/events.md)."""
    return {
        "plan_id": plan.id,
        "employee_id": plan.employee_id,
        "title": plan.title,
        "period_start": plan.period_start,
        "period_end": plan.period_end,
        "actor_id": principal.employee_id,
    }


async def update_plan(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    plan_id: uuid.UUID,
    patch: dict[str, Any],
) -> Any:
    """Change the title, period, aspirations or target levels of a draft (or a plan whose
    changes were requested)."""
    plan = await _plan(session, viewer, plan_id, lock=True)
    _require_edit(principal, plan)
    values: dict[str, Any] = {}
    if "title" in patch:
        values["title"] = _text(patch["title"], "input.title", required=True, limit=MAX_TITLE)
    if "aspirations" in patch:
        values["aspirations"] = _text(patch["aspirations"], "input.aspirations")
    for name in ("period_start", "period_end"):
        if name in patch:
            if patch[name] is None:
                raise BadUserInput("cannot be null", field=f"input.{_camel(name)}")
            values[name] = patch[name]
    start = values.get("period_start", plan.period_start)
    end = values.get("period_end", plan.period_end)
    _period(start, end, "input")
    if (start, end) != (plan.period_start, plan.period_end):
        await _check_one_open(
            session, plan.employee_id, start, end, field="input.periodStart", exclude=plan.id
        )
    if "target_level_ids" in patch:
        targets = await _check_levels(
            session, patch["target_level_ids"] or [], "input.targetLevelIds"
        )
        await _set_targets(session, principal, plan, targets)
    changes = audit.diff(plan._asdict(), values)
    if values:
        values["updated_at"] = clock.now()
        plan = (
            await session.execute(
                sa.update(t_plan).where(t_plan.c.id == plan.id).values(**values).returning(t_plan)
            )
        ).one()
    else:
        await _touch(session, plan.id)
    if changes:
        await _event(session, principal, plan.id, "updated", changes=changes)
    await audit.record(
        session,
        principal,
        action="development_plan.update",
        target_type="DevelopmentPlan",
        target_id=plan.id,
        changes=changes,
    )
    return await _plan(session, viewer, plan.id)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _require_edit(principal: Principal, plan: Any) -> None:
    if not is_owner(principal, plan.employee_id):
        raise Forbidden("only the plan's owner edits it")
    if plan.status not in EDITABLE:
        raise Conflict(
            f"the plan is {plan.status.replace('_', ' ')}: its content can change only while it "
            "is a draft or changes are requested (withdraw it, or ask for changes)"
        )


def _require_progress(principal: Principal, plan: Any) -> None:
    if not is_owner(principal, plan.employee_id):
        raise Forbidden("only the plan's owner updates its progress")
    if plan.status not in (*EDITABLE, *UNDER_WAY):
        raise Conflict(f"the plan is {plan.status}: it no longer changes")


async def transition(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    plan_id: uuid.UUID,
    action: str,
    *,
    comment: str | None = None,
) -> Any:
    t = TRANSITIONS[action]
    plan = await _plan(session, viewer, plan_id, lock=True)
    if not may(principal, viewer, t, plan.employee_id):
        raise Forbidden(_who(t))
    if plan.status not in t.sources:
        raise Conflict(
            f"cannot {action.replace('_', ' ')} a plan that is {plan.status.replace('_', ' ')} "
            f"(allowed from: {', '.join(t.sources)})"
        )
    comment = _text(comment, "comment", required=t.needs_comment)
    now = clock.now()
    values: dict[str, Any] = {"status": t.target, "updated_at": now}
    if action == "submit":
        goals = await fetchval(
            session, "select count(*) from plan_goals where plan_id = $1", plan.id
        )
        if not goals:
            raise BadUserInput("add at least one goal before submitting the plan", field="id")
        values["submitted_at"] = now
    elif action in ("approve", "request_changes"):
        values.update(reviewed_at=now, reviewed_by=principal.employee_id, review_comment=comment)
    elif action == "start":
        values["started_at"] = now
    elif action == "complete":
        values["completed_at"] = now
    elif action == "archive":
        values["archived_at"] = now
    row = (
        await session.execute(
            sa.update(t_plan).where(t_plan.c.id == plan.id).values(**values).returning(t_plan)
        )
    ).one()
    event_id = await _event(
        session,
        principal,
        plan.id,
        action,
        from_status=plan.status,
        to_status=t.target,
        comment=comment,
    )
    await audit.record(
        session,
        principal,
        action=f"development_plan.{action}",
        target_type="DevelopmentPlan",
        target_id=plan.id,
        changes={"status": {"from": plan.status, "to": t.target}, "comment": comment},
    )
    await _after_transition(session, principal, row, action, comment, event_id)
    if action == "archive" and (await targets_of(session, [plan.id]))[plan.id]:
        await _targets_event(session, principal, row, event_id)  # its targets stop counting
    return row


def _who(t: Transition) -> str:
    return {
        "owner": f"only the plan's owner may {t.action.replace('_', ' ')} it",
        "reviewer": f"only the owner's manager line or HR may {t.action.replace('_', ' ')} it",
        "owner_or_reviewer": f"only the owner, their manager line or HR may {t.action} it",
        "owner_or_hr": f"only the owner or HR may {t.action} it",
    }[t.by]


EVENT_KINDS = {
    "submit": "idp.submitted",
    "approve": "idp.approved",
    "request_changes": "idp.changes_requested",
}


async def _after_transition(
    session: Executor,
    principal: Principal,
    plan: Any,
    action: str,
    comment: str | None,
    event_id: uuid.UUID,
) -> None:
    """The outbox and the people to tell: the reviewer hears of a submission, the owner of a
    review; a completion is a domain event (once per plan)."""
    from upward.credentials.service import record_event

    payload = _payload(principal, plan)
    if action == "complete":
        await record_event(
            session,
            principal,
            kind="idp.completed",
            subject_type="DevelopmentPlan",
            subject_id=plan.id,
            key=f"idp.completed:{plan.id}",
            payload=payload,
        )
    elif action in ("submit", "approve", "request_changes"):
        await record_event(
            session,
            principal,
            kind=EVENT_KINDS[action],
            subject_type="DevelopmentPlan",
            subject_id=plan.id,
            key=f"idp.{action}:{event_id}",  # once per transition
            payload={**payload, "comment": comment},
        )
    await _notify(session, principal, plan, action, comment, event_id)


async def _notify(
    session: Executor,
    principal: Principal,
    plan: Any,
    action: str,
    comment: str | None,
    event_id: uuid.UUID,
) -> None:
    """The reviewer hears of a submission (the owner's manager), the owner of a review."""
    from upward.reminders.outbox import EventNote, notify_people

    rows = await fetch(
        session, "select name, manager_id from employees where id = $1", plan.employee_id
    )
    if not rows:
        return
    owner = rows[0]
    data = {"plan_id": str(plan.id), "event": f"idp.{action}"}
    notes: list[EventNote] = []
    if action == "submit" and owner["manager_id"]:
        subject = f"{owner['name']} submitted a development plan for your review"
        body = f"{subject}: {plan.title!r}."
        notes.append(EventNote(owner["manager_id"], f"idp:{event_id}", subject, body, data))
    elif action in ("approve", "request_changes") and plan.employee_id != principal.employee_id:
        verb = "approved" if action == "approve" else "returned with requested changes"
        subject = f"Your development plan {plan.title!r} was {verb}"
        body = f"{subject}{': ' + comment if comment else '.'}"
        notes.append(EventNote(plan.employee_id, f"idp:{event_id}", subject, body, data))
    await notify_people(session, principal.tenant_id, notes)


# --- goals -----------------------------------------------------------------------------------


def _check_goal_fields(spec: GoalSpec, field: str) -> dict[str, Any]:
    return {
        "title": _text(spec.title, f"{field}.title", required=True, limit=MAX_TITLE),
        "description": _text(spec.description, f"{field}.description"),
        "measure": _text(spec.measure, f"{field}.measure", limit=1000),
        "due_on": spec.due_on,
    }


async def _insert_goal(
    session: Executor,
    principal: Principal,
    plan: Any,
    spec: GoalSpec,
    *,
    position: int,
    field: str,
) -> Any:
    values = _check_goal_fields(spec, field)
    if spec.due_on is not None and spec.due_on < plan.period_start:
        raise BadUserInput("is before the plan's period starts", field=f"{field}.dueOn")
    skills = await _check_skills(session, spec.skill_ids, f"{field}.skillIds")
    if len(spec.activities) > MAX_ACTIVITIES:
        raise BadUserInput(f"at most {MAX_ACTIVITIES} activities", field=f"{field}.activities")
    goal = (
        await session.execute(
            sa.insert(t_goal)
            .values(tenant_id=principal.tenant_id, plan_id=plan.id, position=position, **values)
            .returning(t_goal)
        )
    ).one()
    if skills:
        await session.execute(
            sa.insert(t_goal_skill),
            [{"tenant_id": principal.tenant_id, "goal_id": goal.id, "skill_id": s} for s in skills],
        )
    await _event(
        session,
        principal,
        plan.id,
        "goal_added",
        changes={"goal_id": goal.id, "title": values["title"], "skill_ids": skills},
    )
    for i, a in enumerate(spec.activities):
        await _insert_activity(
            session, principal, plan, goal, a, position=i, field=f"{field}.activities.{i}"
        )
    return goal


async def add_goal(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    plan_id: uuid.UUID,
    spec: GoalSpec,
) -> Any:
    plan = await _plan(session, viewer, plan_id, lock=True)
    _require_edit(principal, plan)
    n = await fetchval(session, "select count(*) from plan_goals where plan_id = $1", plan.id)
    if n >= MAX_GOALS:
        raise BadUserInput(f"a plan has at most {MAX_GOALS} goals", field="planId")
    goal = await _insert_goal(session, principal, plan, spec, position=n, field="input")
    await _touch(session, plan.id)  # the history has `goal_added` already
    await _changed(
        session,
        principal,
        plan.id,
        "goal_add",
        {"goal_id": goal.id, "title": goal.title},
        history=None,
    )
    return goal


async def update_goal(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    goal_id: uuid.UUID,
    patch: dict[str, Any],
) -> Any:
    """Content (title, description, measure, due date, skills) while the plan is editable;
    status and progress also once it is approved or in progress."""
    goal, plan = await _goal(session, viewer, goal_id, field="id")
    content = {"title", "description", "measure", "due_on", "skill_ids"} & patch.keys()
    if content:
        _require_edit(principal, plan)
    else:
        _require_progress(principal, plan)
    values: dict[str, Any] = {}
    if "title" in patch:
        values["title"] = _text(patch["title"], "input.title", required=True, limit=MAX_TITLE)
    if "description" in patch:
        values["description"] = _text(patch["description"], "input.description")
    if "measure" in patch:
        values["measure"] = _text(patch["measure"], "input.measure", limit=1000)
    if "due_on" in patch:
        due = patch["due_on"]
        if due is not None and due < plan.period_start:
            raise BadUserInput("is before the plan's period starts", field="input.dueOn")
        values["due_on"] = due
    if "progress" in patch:
        progress = patch["progress"]
        if progress is None or not 0 <= progress <= 100:
            raise BadUserInput("must be between 0 and 100", field="input.progress")
        values["progress"] = progress
    if "status" in patch:
        status = patch["status"]
        if status not in GOAL_STATUSES:
            raise BadUserInput(f"must be one of {', '.join(GOAL_STATUSES)}", field="input.status")
        values["status"] = status
    status = values.get("status", goal.status)
    if status == "completed":
        values["progress"] = 100
        if goal.status != "completed":
            values["completed_at"] = clock.now()
    elif goal.status == "completed" and "status" in values:
        values["completed_at"] = None
        if "progress" not in patch:
            values["progress"] = min(goal.progress, 99)
    elif (
        "progress" in values
        and "status" not in patch
        and values["progress"] > 0
        and goal.status == "not_started"
    ):
        values["status"] = "in_progress"
    changes = audit.diff(goal._asdict(), values)
    if "skill_ids" in patch:
        skills = await _check_skills(session, patch["skill_ids"] or [], "input.skillIds")
        before = [
            r.skill_id
            for r in (
                await session.execute(
                    sa.select(t_goal_skill.c.skill_id).where(t_goal_skill.c.goal_id == goal.id)
                )
            ).all()
        ]
        if set(before) != set(skills):
            await session.execute(sa.delete(t_goal_skill).where(t_goal_skill.c.goal_id == goal.id))
            if skills:
                await session.execute(
                    sa.insert(t_goal_skill),
                    [
                        {"tenant_id": principal.tenant_id, "goal_id": goal.id, "skill_id": s}
                        for s in skills
                    ],
                )
            changes["skill_ids"] = {"from": before, "to": skills}
    if values:
        values["updated_at"] = clock.now()
        goal = (
            await session.execute(
                sa.update(t_goal).where(t_goal.c.id == goal.id).values(**values).returning(t_goal)
            )
        ).one()
    await _changed(
        session,
        principal,
        plan.id,
        "goal_update",
        {"goal_id": goal.id, **changes},
        history="goal_updated" if changes else None,
    )
    if values.get("status") == "completed" and "completed_at" in values:
        await _goal_completed(session, principal, plan, goal)
    return goal


async def _goal_completed(session: Executor, principal: Principal, plan: Any, goal: Any) -> None:
    from upward.credentials.service import record_event

    await record_event(
        session,
        principal,
        kind="idp.goal_completed",
        subject_type="PlanGoal",
        subject_id=goal.id,
        key=f"idp.goal_completed:{goal.id}",  # once per goal, however often it is reopened
        payload={
            "goal_id": goal.id,
            "plan_id": plan.id,
            "employee_id": plan.employee_id,
            "title": goal.title,
            "actor_id": principal.employee_id,
        },
    )


async def remove_goal(
    session: Executor, principal: Principal, viewer: Viewer, goal_id: uuid.UUID
) -> Any:
    goal, plan = await _goal(session, viewer, goal_id, field="id")
    _require_edit(principal, plan)
    # links from outside the plan (check-in action items, feedback requests, mentorships) let go
    await fetch(
        session, "update checkin_action_items set goal_id = null where goal_id = $1", goal.id
    )
    for table in ("mentorships", "feedback_requests", "feedback"):
        await fetch(session, f"update {table} set goal_id = null where goal_id = $1", goal.id)  # noqa: S608 - constant names
    await session.execute(sa.delete(t_goal).where(t_goal.c.id == goal.id))
    await _changed(
        session,
        principal,
        plan.id,
        "goal_remove",
        {"goal_id": goal.id, "title": goal.title},
        history="goal_removed",
    )
    return plan


# --- activities ------------------------------------------------------------------------------


async def _insert_activity(
    session: Executor,
    principal: Principal,
    plan: Any,
    goal: Any,
    spec: ActivitySpec,
    *,
    position: int,
    field: str,
) -> Any:
    if spec.kind not in ACTIVITY_KINDS:
        raise BadUserInput(f"must be one of {', '.join(ACTIVITY_KINDS)}", field=f"{field}.kind")
    await _check_credential_type(
        session, spec.credential_type_id, spec.kind, f"{field}.credentialTypeId"
    )
    values = {
        "kind": spec.kind,
        "title": _text(spec.title, f"{field}.title", required=True, limit=MAX_TITLE),
        "description": _text(spec.description, f"{field}.description"),
        "url": _url(spec.url, f"{field}.url"),
        "credential_type_id": spec.credential_type_id,
        "due_on": spec.due_on,
    }
    row = (
        await session.execute(
            sa.insert(t_activity)
            .values(tenant_id=principal.tenant_id, goal_id=goal.id, position=position, **values)
            .returning(t_activity)
        )
    ).one()
    await _event(
        session,
        principal,
        plan.id,
        "activity_added",
        changes={"goal_id": goal.id, "activity_id": row.id, "kind": spec.kind, "title": row.title},
    )
    return row


def _url(value: str | None, field: str) -> str | None:
    value = _text(value, field, limit=2000)
    if value is not None and not value.lower().startswith(("https://", "http://")):
        raise BadUserInput("must be an http(s) URL", field=field)
    return value


async def add_activity(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    goal_id: uuid.UUID,
    spec: ActivitySpec,
) -> Any:
    goal, plan = await _goal(session, viewer, goal_id, field="goalId")
    _require_edit(principal, plan)
    n = await fetchval(session, "select count(*) from plan_activities where goal_id = $1", goal.id)
    if n >= MAX_ACTIVITIES:
        raise BadUserInput(f"a goal has at most {MAX_ACTIVITIES} activities", field="goalId")
    row = await _insert_activity(session, principal, plan, goal, spec, position=n, field="input")
    await _touch(session, plan.id)  # the history has `activity_added` already
    await _changed(
        session,
        principal,
        plan.id,
        "activity_add",
        {"activity_id": row.id, "kind": row.kind},
        history=None,
    )
    return row


async def _activity(session: Executor, viewer: Viewer, activity_id: uuid.UUID) -> Any:
    row = (
        await session.execute(sa.select(t_activity).where(t_activity.c.id == activity_id))
    ).one_or_none()
    if row is None:
        raise NotFound("no activity with this id", field="id")
    goal, plan = await _goal(session, viewer, row.goal_id, field="id")
    return row, goal, plan


async def update_activity(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    activity_id: uuid.UUID,
    patch: dict[str, Any],
) -> Any:
    """Content while the plan is editable; status also once it is approved or in progress."""
    act, _goal_row, plan = await _activity(session, viewer, activity_id)
    content = {"title", "description", "url", "due_on", "kind", "credential_type_id"}
    if content & patch.keys():
        _require_edit(principal, plan)
    else:
        _require_progress(principal, plan)
    values: dict[str, Any] = {}
    if "title" in patch:
        values["title"] = _text(patch["title"], "input.title", required=True, limit=MAX_TITLE)
    if "description" in patch:
        values["description"] = _text(patch["description"], "input.description")
    if "url" in patch:
        values["url"] = _url(patch["url"], "input.url")
    if "due_on" in patch:
        values["due_on"] = patch["due_on"]
    kind = patch.get("kind", act.kind)
    if "kind" in patch or "credential_type_id" in patch:
        if kind not in ACTIVITY_KINDS:
            raise BadUserInput(f"must be one of {', '.join(ACTIVITY_KINDS)}", field="input.kind")
        type_id = patch.get("credential_type_id", act.credential_type_id)
        if "credential_type_id" not in patch and kind != "certification":
            type_id = None
        await _check_credential_type(session, type_id, kind, "input.credentialTypeId")
        values.update(kind=kind, credential_type_id=type_id)
    if "status" in patch:
        status = patch["status"]
        if status not in ACTIVITY_STATUSES:
            raise BadUserInput(
                f"must be one of {', '.join(ACTIVITY_STATUSES)}", field="input.status"
            )
        values["status"] = status
        if status == "completed" and act.status != "completed":
            values["completed_at"] = clock.now()
        elif status != "completed":
            values["completed_at"] = None
            values["credential_id"] = None
    changes = audit.diff(act._asdict(), values)
    if values:
        values["updated_at"] = clock.now()
        act = (
            await session.execute(
                sa.update(t_activity)
                .where(t_activity.c.id == act.id)
                .values(**values)
                .returning(t_activity)
            )
        ).one()
    await _changed(
        session,
        principal,
        plan.id,
        "activity_update",
        {"activity_id": act.id, **changes},
        history="activity_updated" if changes else None,
    )
    return act


async def remove_activity(
    session: Executor, principal: Principal, viewer: Viewer, activity_id: uuid.UUID
) -> Any:
    act, goal, plan = await _activity(session, viewer, activity_id)
    _require_edit(principal, plan)
    await session.execute(sa.delete(t_activity).where(t_activity.c.id == act.id))
    await _changed(
        session,
        principal,
        plan.id,
        "activity_remove",
        {"activity_id": act.id, "goal_id": goal.id, "title": act.title},
        history="activity_removed",
    )
    return goal


# --- credentials complete certification activities -----------------------------------------


async def complete_certifications(session: Executor, credential_ids: Sequence[uuid.UUID]) -> int:
    """Complete every open certification activity that a newly recorded credential satisfies:
    same credential type, the plan's owner is the holder, the plan is not completed or
    archived, the credential is neither rejected nor revoked. Set-based (an import of many
    credentials is one statement), each completion in the plan's history as the system's."""
    if not credential_ids:
        return 0
    rows = await fetch(
        session,
        """
        with done as (
            update plan_activities a
               set status = 'completed', completed_at = clock_timestamp(),
                   credential_id = c.id, updated_at = clock_timestamp()
              from plan_goals g, development_plans p, credentials c
             where g.tenant_id = a.tenant_id and g.id = a.goal_id
               and p.tenant_id = g.tenant_id and p.id = g.plan_id
               and c.id = any($1::uuid[]) and c.tenant_id = a.tenant_id
               and c.employee_id = p.employee_id
               and c.credential_type_id = a.credential_type_id
               and c.verification <> 'rejected' and c.revoked_at is null
               and a.kind = 'certification' and a.status in ('planned', 'in_progress')
               and p.status <> all('{completed,archived}'::text[])
            returning a.id, a.goal_id, a.title, g.plan_id, c.id as credential_id
        ), events as (
            insert into development_plan_events
                (tenant_id, plan_id, action, changes, actor_type, at)
            select current_setting('app.tenant_id')::uuid, d.plan_id, 'activity_auto_completed',
                   jsonb_build_object('activity_id', d.id, 'goal_id', d.goal_id,
                                      'title', d.title, 'credential_id', d.credential_id),
                   'system', clock_timestamp()
            from done d
        )
        select id from done
        """,
        list(credential_ids),
    )
    return len(rows)
