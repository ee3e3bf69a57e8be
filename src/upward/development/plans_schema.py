"""GraphQL for individual development plans: thin resolvers over development.plans."""

from __future__ import annotations

import asyncio
import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from upward import clock
from upward.db import fetch
from upward.development import plans
from upward.development.loaders import level_by_id_loader
from upward.graphql.lazy import Lazy
from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    optional_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection

if TYPE_CHECKING:
    from upward.credentials.schema import Credential, CredentialType
    from upward.development.schema import Skill, TrackLevel
    from upward.people.schema import Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
SkillRef = Annotated["Skill", strawberry.lazy("upward.development.schema")]
LevelRef = Annotated["TrackLevel", strawberry.lazy("upward.development.schema")]
TypeRef = Annotated["CredentialType", strawberry.lazy("upward.credentials.schema")]
CredentialRef = Annotated["Credential", strawberry.lazy("upward.credentials.schema")]


@strawberry.enum(
    description="draft → submitted → approved (or changes_requested) → in_progress → "
    "completed; archived from any state."
)
class PlanStatus(enum.Enum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ARCHIVED = "archived"


@strawberry.enum(description="A transition of a plan's workflow.")
class PlanAction(enum.Enum):
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    START = "start"
    COMPLETE = "complete"
    ARCHIVE = "archive"


@strawberry.enum
class GoalStatus(enum.Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@strawberry.enum
class ActivityKind(enum.Enum):
    COURSE = "course"
    CERTIFICATION = "certification"
    STRETCH_ASSIGNMENT = "stretch_assignment"
    MENTORSHIP = "mentorship"
    READING = "reading"
    OTHER = "other"


@strawberry.enum
class ActivityStatus(enum.Enum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# --- loaders (per request) -------------------------------------------------------------------


def _batched(ctx: Any, key: str, fn: Any, *, viewer: bool = False) -> DataLoader[uuid.UUID, Any]:
    """A per-request loader over `fn(session, ids)` (or `fn(session, viewer, ids)`: the viewer
    is loaded before the request's session is taken, which is not reentrant)."""
    from upward.people.loaders import viewer_of

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        v = await viewer_of(ctx) if viewer else None
        async with ctx.session() as s:
            found = await (fn(s, v, ids) if viewer else fn(s, ids))
        return [found.get(i) for i in ids]

    return ctx.memo(key, lambda: DataLoader(load_fn=load))


def current_plan_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def fn(s: Any, viewer: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        on = clock.today(ctx.require_principal().tenant_timezone)
        return await plans.current_plans(s, viewer, ids, on)

    return _batched(ctx, "CurrentPlanByEmployeeLoader", fn, viewer=True)


def plan_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _batched(ctx, "PlanByIdLoader", plans.plans_by_ids, viewer=True)


def goals_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _batched(ctx, "GoalsByPlanLoader", plans.goals_of)


def activities_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _batched(ctx, "ActivitiesByGoalLoader", plans.activities_of)


def targets_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _batched(ctx, "TargetsByPlanLoader", plans.targets_of)


# --- types -----------------------------------------------------------------------------------


async def _employee(ctx: Any, employee_id: uuid.UUID | None) -> Any:
    from upward.people.schema import employee_ref

    return await employee_ref(ctx, employee_id)


async def _skills(ctx: Any, ids: list[uuid.UUID]) -> list[Any]:
    from upward.development.schema import _load_skill

    got = await asyncio.gather(*(_load_skill(ctx, s) for s in ids))
    return [g for g in got if g is not None]


@strawberry.type(
    description="Something done toward a goal: a course, a certification (completed by itself "
    "when a credential of its type is recorded for the plan's owner), a stretch assignment, "
    "mentorship, reading..."
)
class PlanActivity(Node):
    id: strawberry.ID
    kind: ActivityKind
    title: str
    description: str | None
    url: str | None
    status: ActivityStatus
    due_on: date | None
    completed_at: datetime | None
    credential_type: TypeRef | None = strawberry.field(
        description="For a certification: the credential type that completes it."
    )
    credential: CredentialRef | None = strawberry.field(
        description="The credential that completed it (null: completed by hand, or not yet)."
    )
    created_at: datetime
    updated_at: datetime


def activity_obj(ctx: Any, r: Any) -> PlanActivity:
    from upward.credentials.schema import _load_credential, _load_type

    tid, cid = r.credential_type_id, r.credential_id
    return PlanActivity(
        id=to_global_id("PlanActivity", r.id),
        kind=ActivityKind(r.kind),
        title=r.title,
        description=r.description,
        url=r.url,
        status=ActivityStatus(r.status),
        due_on=r.due_on,
        completed_at=r.completed_at,
        credential_type=Lazy(lambda: _load_type(ctx, tid)) if tid else None,  # type: ignore[arg-type]
        credential=Lazy(lambda: _load_credential(ctx, cid)) if cid else None,  # type: ignore[arg-type]
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


@strawberry.type(description="A goal of a development plan, with the skills it builds.")
class PlanGoal(Node):
    id: strawberry.ID
    title: str
    description: str | None
    measure: str | None = strawberry.field(description="How success is measured.")
    due_on: date | None
    status: GoalStatus
    progress: int = strawberry.field(description="0 to 100.")
    overdue: bool = strawberry.field(
        description="Past its due date (tenant's date) and neither completed nor cancelled."
    )
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field(description="The skills it builds, by name.")
    async def skills(self, info: Info) -> list[SkillRef]:
        return await _skills(info.context, list(self._row["skill_ids"]))

    @strawberry.field(description="Its activities, in order.")
    async def activities(self, info: Info) -> list[PlanActivity]:
        rows = await activities_loader(info.context).load(self._row["id"])
        return [activity_obj(info.context, r) for r in rows or []]


def goal_obj(ctx: Any, r: Any, today: date) -> PlanGoal:
    status = r["status"]
    return PlanGoal(
        id=to_global_id("PlanGoal", r["id"]),
        title=r["title"],
        description=r["description"],
        measure=r["measure"],
        due_on=r["due_on"],
        status=GoalStatus(status),
        progress=r["progress"],
        overdue=r["due_on"] is not None
        and r["due_on"] < today
        and status not in ("completed", "cancelled"),
        completed_at=r["completed_at"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        _row=r,
    )


@strawberry.type(description="One change in a plan's history.")
class PlanHistoryEntry:
    action: str = strawberry.field(
        description="created, updated, targets_set, submit, withdraw, approve, request_changes, "
        "start, complete, archive, goal_added, goal_updated, goal_removed, activity_added, "
        "activity_updated, activity_removed, activity_auto_completed."
    )
    from_status: PlanStatus | None
    to_status: PlanStatus | None
    comment: str | None
    changes: JSON
    actor_type: str = strawberry.field(description="employee, api_key or system.")
    actor: EmployeeRef | None
    at: datetime


@strawberry.type(
    description="An individual development plan (IDP): a person's aspirations, target levels "
    "and goals for a period, reviewed by their manager."
)
class DevelopmentPlan(Node):
    id: strawberry.ID
    title: str
    period_start: date
    period_end: date
    aspirations: str | None
    status: PlanStatus
    review_comment: str | None = strawberry.field(
        description="The reviewer's last comment (changes requested, or approval)."
    )
    submitted_at: datetime | None
    reviewed_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    employee: EmployeeRef | None
    reviewed_by: EmployeeRef | None
    _row: strawberry.Private[Any]

    @strawberry.field(description="The levels the plan aims at.")
    async def target_levels(self, info: Info) -> list[LevelRef]:
        from upward.development.schema import _track_names, level_obj

        ids = await targets_loader(info.context).load(self._row.id) or []
        rows = await level_by_id_loader(info.context).load_many(ids)
        names = await _track_names(info.context)
        return [level_obj(r, names.get(r.track_id, "")) for r in rows if r is not None]

    @strawberry.field(description="Its goals, in order.")
    async def goals(self, info: Info) -> list[PlanGoal]:
        rows = await goals_loader(info.context).load(self._row.id) or []
        today = clock.today(info.context.require_principal().tenant_timezone)
        return [goal_obj(info.context, r, today) for r in rows]

    @strawberry.field(
        description="Average progress of the goals that are not cancelled (0 with none)."
    )
    async def progress(self, info: Info) -> int:
        rows = await goals_loader(info.context).load(self._row.id) or []
        live = [r["progress"] for r in rows if r["status"] != "cancelled"]
        return round(sum(live) / len(live)) if live else 0

    @strawberry.field(description="The transitions you may make now (what buttons a client shows).")
    async def allowed_actions(self, info: Info) -> list[PlanAction]:
        from upward.people.loaders import viewer_of

        viewer = await viewer_of(info.context)
        got = plans.allowed_actions(viewer.principal, viewer, self._row)
        return [PlanAction(a) for a in got]

    @strawberry.field(
        description="Whether you may change its content now (you own it and it is a draft "
        "or changes were requested)."
    )
    def viewer_can_edit(self, info: Info) -> bool:
        return plans.may_edit(info.context.require_principal(), self._row)

    @strawberry.field(description="Every change, oldest first.")
    async def history(self, info: Info) -> list[PlanHistoryEntry]:
        ctx = info.context
        rows = await _batched(ctx, "PlanHistoryLoader", plans.history_of).load(self._row.id)
        return [
            PlanHistoryEntry(
                action=r.action,
                from_status=PlanStatus(r.from_status) if r.from_status else None,
                to_status=PlanStatus(r.to_status) if r.to_status else None,
                comment=r.comment,
                changes=r.changes,
                actor_type=r.actor_type,
                actor=Lazy(lambda a=r.actor_id: _employee(ctx, a)) if r.actor_id else None,  # type: ignore[arg-type,misc]
                at=r.at,
            )
            for r in rows
        ]


def plan_obj(ctx: Any, r: Any) -> DevelopmentPlan:
    eid, rid = r.employee_id, r.reviewed_by
    return DevelopmentPlan(
        id=to_global_id("DevelopmentPlan", r.id),
        title=r.title,
        period_start=r.period_start,
        period_end=r.period_end,
        aspirations=r.aspirations,
        status=PlanStatus(r.status),
        review_comment=r.review_comment,
        submitted_at=r.submitted_at,
        reviewed_at=r.reviewed_at,
        started_at=r.started_at,
        completed_at=r.completed_at,
        archived_at=r.archived_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        employee=Lazy(lambda: _employee(ctx, eid)),  # type: ignore[arg-type]
        reviewed_by=Lazy(lambda: _employee(ctx, rid)) if rid else None,  # type: ignore[arg-type]
        _row=r,
    )


async def idp_of(ctx: Any, employee_id: uuid.UUID) -> DevelopmentPlan | None:
    """Employee.idp: one statement for every person on the page."""
    row = await current_plan_loader(ctx).load(employee_id)
    return plan_obj(ctx, row) if row is not None else None


@register_node("DevelopmentPlan")
async def _plan_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await plan_loader(ctx).load_many(ids)
    return {r.id: plan_obj(ctx, r) for r in rows if r is not None}


def goal_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    """Goals by id, only those whose plan the viewer may read: a constant number of statements
    for a page (the goals' plans, then their goals through the plan loaders)."""

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            rows = await fetch(
                s, "select plan_id, id from plan_goals where id = any($1::uuid[])", ids
            )
        plan_of = {r["id"]: r["plan_id"] for r in rows}
        readable = [p for p in await plan_loader(ctx).load_many(list(set(plan_of.values()))) if p]
        goals = await goals_loader(ctx).load_many([p.id for p in readable])
        found = {g["id"]: g for gs in goals for g in gs or []}
        return [found.get(i) for i in ids]

    return ctx.memo("GoalByIdLoader", lambda: DataLoader(load_fn=load))


async def goal_ref(ctx: Any, goal_id: uuid.UUID | None) -> PlanGoal | None:
    """A goal another object links to (an action item, feedback, a mentorship): null when the
    viewer may not read its plan."""
    if goal_id is None:
        return None
    row = await goal_loader(ctx).load(goal_id)
    if row is None:
        return None
    return goal_obj(ctx, row, clock.today(ctx.require_principal().tenant_timezone))


@register_node("PlanGoal")
async def _goal_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    today = clock.today(ctx.require_principal().tenant_timezone)
    rows = await goal_loader(ctx).load_many(ids)
    return {r["id"]: goal_obj(ctx, r, today) for r in rows if r is not None}


@register_node("PlanActivity")
async def _activity_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    async with ctx.session() as s:
        rows = await fetch(
            s, "select id, goal_id from plan_activities where id = any($1::uuid[])", ids
        )
    goals = [g for g in await goal_loader(ctx).load_many(list({r["goal_id"] for r in rows})) if g]
    out: dict[uuid.UUID, Any] = {}
    for g in goals:
        for a in await activities_loader(ctx).load(g["id"]) or []:
            if a.id in ids:
                out[a.id] = activity_obj(ctx, a)
    return out


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input
class PlanActivityInput:
    kind: ActivityKind
    title: str
    description: str | None = None
    url: str | None = None
    credential_type_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for a certification, and only for one."
    )
    due_on: date | None = None


@strawberry.input
class PlanGoalInput:
    title: str
    description: str | None = None
    measure: str | None = None
    due_on: date | None = None
    skill_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    activities: list[PlanActivityInput] = strawberry.field(default_factory=list)


@strawberry.input
class CreateDevelopmentPlanInput:
    title: str
    period_start: date
    period_end: date
    aspirations: str | None = None
    target_level_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    goals: list[PlanGoalInput] = strawberry.field(default_factory=list)
    employee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: you (a person writes their own plan)."
    )


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateDevelopmentPlanInput:
    title: str | None = strawberry.UNSET
    period_start: date | None = strawberry.UNSET
    period_end: date | None = strawberry.UNSET
    aspirations: str | None = strawberry.UNSET
    target_level_ids: list[strawberry.ID] | None = strawberry.UNSET


@strawberry.input(
    description="Fields to change; omitted fields stay as they are. Content (title, "
    "description, measure, dueOn, skillIds) while the plan is a draft or changes are "
    "requested; status and progress also once it is approved or in progress."
)
class UpdatePlanGoalInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    measure: str | None = strawberry.UNSET
    due_on: date | None = strawberry.UNSET
    skill_ids: list[strawberry.ID] | None = strawberry.UNSET
    status: GoalStatus | None = strawberry.UNSET
    progress: int | None = strawberry.UNSET


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdatePlanActivityInput:
    kind: ActivityKind | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    url: str | None = strawberry.UNSET
    credential_type_id: strawberry.ID | None = strawberry.UNSET
    due_on: date | None = strawberry.UNSET
    status: ActivityStatus | None = strawberry.UNSET


@strawberry.input
class DevelopmentPlanFilter:
    employee_id: strawberry.ID | None = None
    status: list[PlanStatus] | None = None
    active_on: date | None = strawberry.field(
        default=None, description="Plans whose period includes this date."
    )
    needs_my_review: bool = strawberry.field(
        default=False, description="Submitted plans of your line (HR: of everyone) but yours."
    )


def _ids(values: list[strawberry.ID], type_name: str, field: str) -> list[uuid.UUID]:
    return [expect_global_id(v, type_name, field=f"{field}.{i}") for i, v in enumerate(values)]


def _activity_spec(a: PlanActivityInput, field: str) -> plans.ActivitySpec:
    return plans.ActivitySpec(
        kind=a.kind.value,
        title=a.title,
        description=a.description,
        url=a.url,
        credential_type_id=expect_global_id(
            a.credential_type_id, "CredentialType", field=f"{field}.credentialTypeId"
        )
        if a.credential_type_id
        else None,
        due_on=a.due_on,
    )


def _goal_spec(g: PlanGoalInput, field: str) -> plans.GoalSpec:
    return plans.GoalSpec(
        title=g.title,
        description=g.description,
        measure=g.measure,
        due_on=g.due_on,
        skill_ids=_ids(g.skill_ids, "Skill", f"{field}.skillIds"),
        activities=[
            _activity_spec(a, f"{field}.activities.{i}") for i, a in enumerate(g.activities)
        ],
    )


def _patch(input: Any, names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(input, name)
        if value is not strawberry.UNSET:
            out[name] = value.value if isinstance(value, enum.Enum) else value
    return out


# --- queries and mutations -------------------------------------------------------------------


@strawberry.type
class PlansQuery:
    @strawberry.field(
        description="Development plans you may read (yours, your line's, everyone's for HR), "
        "newest period first. Relay pagination: `first` (at most 100) with `after`."
    )
    async def development_plans(
        self,
        info: Info,
        filter: DevelopmentPlanFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[DevelopmentPlan]:
        from upward.people.loaders import viewer_of

        ctx = info.context
        f = filter or DevelopmentPlanFilter()
        args = page_args(ctx, plans.PLAN_ORDER, first=first, after=after, last=last, before=before)
        viewer = await viewer_of(ctx)
        sf = plans.PlanFilter(
            employee_id=optional_global_id(f.employee_id, "Employee", field="filter.employeeId"),
            statuses=tuple(s.value for s in f.status or ()),
            active_on=f.active_on,
            needs_my_review=f.needs_my_review,
        )
        with_count = wants_total(Selection(info))
        async with ctx.session() as s:
            page = await plans.list_plans(s, viewer, sf, args, with_count=with_count)
        return build_connection(ctx, page, plans.PLAN_ORDER, lambda r: plan_obj(ctx, r))


async def _viewer(ctx: Any) -> Any:
    from upward.people.loaders import viewer_of

    return await viewer_of(ctx)


async def _reload_plan(ctx: Any, s: Any, viewer: Any, plan_id: uuid.UUID) -> DevelopmentPlan:
    return plan_obj(ctx, await plans.get_plan(s, viewer, plan_id))


async def _goal_out(ctx: Any, s: Any, goal_id: uuid.UUID) -> PlanGoal:
    rows = await fetch(s, "select plan_id from plan_goals where id = $1", goal_id)
    goals = await plans.goals_of(s, [rows[0]["plan_id"]])
    row = next(g for g in goals[rows[0]["plan_id"]] if g["id"] == goal_id)
    return goal_obj(ctx, row, clock.today(ctx.require_principal().tenant_timezone))


@strawberry.type
class PlansMutation:
    @strawberry.mutation(
        description="Start a draft development plan for yourself, with its goals and "
        "activities. One open plan per overlapping period (CONFLICT otherwise)."
    )
    async def create_development_plan(
        self, info: Info, input: CreateDevelopmentPlanInput
    ) -> DevelopmentPlan:
        ctx = info.context
        p = ctx.require_principal()
        eid = (
            expect_global_id(input.employee_id, "Employee", field="input.employeeId")
            if input.employee_id
            else p.employee_id
        )
        if eid is None:
            from upward.errors import BadUserInput

            raise BadUserInput("is required for a service principal", field="input.employeeId")
        targets = _ids(input.target_level_ids, "TrackLevel", "input.targetLevelIds")
        goals = [_goal_spec(g, f"input.goals.{i}") for i, g in enumerate(input.goals)]
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            row = await plans.create_plan(
                s,
                p,
                viewer,
                employee_id=eid,
                title=input.title,
                period_start=input.period_start,
                period_end=input.period_end,
                aspirations=input.aspirations,
                target_level_ids=targets,
                goals=goals,
            )
        return plan_obj(ctx, row)

    @strawberry.mutation(
        description="Change a plan's title, period, aspirations or target levels (its owner, "
        "while it is a draft or changes are requested)."
    )
    async def update_development_plan(
        self, info: Info, id: strawberry.ID, input: UpdateDevelopmentPlanInput
    ) -> DevelopmentPlan:
        ctx = info.context
        raw = expect_global_id(id, "DevelopmentPlan", field="id")
        patch = _patch(input, ("title", "period_start", "period_end", "aspirations"))
        if input.target_level_ids is not strawberry.UNSET:
            patch["target_level_ids"] = _ids(
                input.target_level_ids or [], "TrackLevel", "input.targetLevelIds"
            )
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            row = await plans.update_plan(s, p, viewer, raw, patch)
        return plan_obj(ctx, row)

    @strawberry.mutation(
        description="Move a plan through its workflow. submit / withdraw / start: its owner; "
        "approve / requestChanges (comment required): the owner's manager line or HR, never "
        "the owner; complete: the owner or a reviewer; archive: the owner or HR. A transition "
        "not allowed from the plan's status is a CONFLICT."
    )
    async def transition_development_plan(
        self, info: Info, id: strawberry.ID, action: PlanAction, comment: str | None = None
    ) -> DevelopmentPlan:
        ctx = info.context
        raw = expect_global_id(id, "DevelopmentPlan", field="id")
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            row = await plans.transition(s, p, viewer, raw, action.value, comment=comment)
        return plan_obj(ctx, row)

    @strawberry.mutation(description="Add a goal (with activities) to a plan you can edit.")
    async def add_plan_goal(
        self, info: Info, plan_id: strawberry.ID, input: PlanGoalInput
    ) -> PlanGoal:
        ctx = info.context
        raw = expect_global_id(plan_id, "DevelopmentPlan", field="planId")
        spec = _goal_spec(input, "input")
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            goal = await plans.add_goal(s, p, viewer, raw, spec)
            return await _goal_out(ctx, s, goal.id)

    @strawberry.mutation(
        description="Change a goal. Setting status COMPLETED sets progress to 100 and records "
        "an `idp.goal_completed` event (once per goal)."
    )
    async def update_plan_goal(
        self, info: Info, id: strawberry.ID, input: UpdatePlanGoalInput
    ) -> PlanGoal:
        ctx = info.context
        raw = expect_global_id(id, "PlanGoal", field="id")
        patch = _patch(input, ("title", "description", "measure", "due_on", "status", "progress"))
        if input.skill_ids is not strawberry.UNSET:
            patch["skill_ids"] = _ids(input.skill_ids or [], "Skill", "input.skillIds")
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            goal = await plans.update_goal(s, p, viewer, raw, patch)
            return await _goal_out(ctx, s, goal.id)

    @strawberry.mutation(description="Remove a goal and its activities; returns the plan.")
    async def remove_plan_goal(self, info: Info, id: strawberry.ID) -> DevelopmentPlan:
        ctx = info.context
        raw = expect_global_id(id, "PlanGoal", field="id")
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            plan = await plans.remove_goal(s, p, viewer, raw)
            return await _reload_plan(ctx, s, viewer, plan.id)

    @strawberry.mutation(description="Add an activity to a goal of a plan you can edit.")
    async def add_plan_activity(
        self, info: Info, goal_id: strawberry.ID, input: PlanActivityInput
    ) -> PlanActivity:
        ctx = info.context
        raw = expect_global_id(goal_id, "PlanGoal", field="goalId")
        spec = _activity_spec(input, "input")
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            row = await plans.add_activity(s, p, viewer, raw, spec)
        return activity_obj(ctx, row)

    @strawberry.mutation(description="Change an activity (status also once the plan is under way).")
    async def update_plan_activity(
        self, info: Info, id: strawberry.ID, input: UpdatePlanActivityInput
    ) -> PlanActivity:
        ctx = info.context
        raw = expect_global_id(id, "PlanActivity", field="id")
        patch = _patch(input, ("kind", "title", "description", "url", "due_on", "status"))
        if input.credential_type_id is not strawberry.UNSET:
            patch["credential_type_id"] = (
                expect_global_id(
                    input.credential_type_id, "CredentialType", field="input.credentialTypeId"
                )
                if input.credential_type_id
                else None
            )
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            row = await plans.update_activity(s, p, viewer, raw, patch)
        return activity_obj(ctx, row)

    @strawberry.mutation(description="Remove an activity; returns its goal.")
    async def remove_plan_activity(self, info: Info, id: strawberry.ID) -> PlanGoal:
        ctx = info.context
        raw = expect_global_id(id, "PlanActivity", field="id")
        viewer = await _viewer(ctx)
        async with ctx.mutation() as (s, p):
            goal = await plans.remove_activity(s, p, viewer, raw)
            return await _goal_out(ctx, s, goal.id)
