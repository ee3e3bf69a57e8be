"""GraphQL for applications, the pipeline, moves and mobility insights: thin resolvers over
mobility.applications and mobility.insights."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from upward.errors import BadUserInput
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
from upward.mobility import applications as apps
from upward.mobility import insights

if TYPE_CHECKING:
    from upward.mobility.postings_schema import JobPosting
    from upward.people.schema import Department, Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
DepartmentRef = Annotated["Department", strawberry.lazy("upward.people.schema")]
PostingRef = Annotated["JobPosting", strawberry.lazy("upward.mobility.postings_schema")]


@strawberry.enum(
    description="applied → screening → interviewing → offer → hired; rejected (with a reason) "
    "from any open stage; withdrawn by the applicant."
)
class ApplicationStage(enum.Enum):
    APPLIED = "applied"
    SCREENING = "screening"
    INTERVIEWING = "interviewing"
    OFFER = "offer"
    HIRED = "hired"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@strawberry.enum(description="A step of an application's pipeline.")
class ApplicationAction(enum.Enum):
    SCREEN = "screen"
    INTERVIEW = "interview"
    OFFER = "offer"
    HIRE = "hire"
    REJECT = "reject"
    WITHDRAW = "withdraw"


@strawberry.enum(description="Why a person's role changed.")
class MoveKind(enum.Enum):
    PROMOTION = "promotion"
    LATERAL = "lateral"
    GIG = "gig"
    OTHER = "other"


# --- loaders (per request) -------------------------------------------------------------------


def _batched(ctx: Any, key: str, fn: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await fn(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo(key, lambda: DataLoader(load_fn=load))


def application_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    p = ctx.require_principal()

    async def fn(s: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
        return await apps.applications_by_ids(s, p, ids)

    return _batched(ctx, "ApplicationByIdLoader", fn)


async def _employee(ctx: Any, employee_id: uuid.UUID | None) -> Any:
    from upward.people.schema import employee_ref

    return await employee_ref(ctx, employee_id)


# --- types -----------------------------------------------------------------------------------


@strawberry.type(description="One stage change of an application.")
class ApplicationHistoryEntry:
    from_stage: ApplicationStage | None
    to_stage: ApplicationStage
    reason: str | None
    actor_type: str = strawberry.field(description="employee, api_key or system.")
    actor: EmployeeRef | None
    at: datetime


@strawberry.type(
    description="A change of a person's level, title, department, manager or location: a hire "
    "from a posting (promotion, lateral move or gig). `before` / `after` hold the values "
    "(raw ids) that changed."
)
class EmployeeMove(Node):
    id: strawberry.ID
    kind: MoveKind
    moved_on: date
    before: JSON
    after: JSON
    posting_id: strawberry.ID | None
    application_id: strawberry.ID | None
    employee: EmployeeRef | None
    actor: EmployeeRef | None
    created_at: datetime


def _gids(d: dict[str, Any]) -> dict[str, Any]:
    types = {
        "level_id": "TrackLevel",
        "department_id": "Department",
        "manager_id": "Employee",
        "location_id": "Location",
    }
    return {
        k: (to_global_id(types[k], uuid.UUID(v)) if k in types and v else v) for k, v in d.items()
    }


def move_obj(ctx: Any, r: Any) -> EmployeeMove:
    eid, aid = r.employee_id, r.actor_id
    return EmployeeMove(
        id=to_global_id("EmployeeMove", r.id),
        kind=MoveKind(r.kind),
        moved_on=r.moved_on,
        before=_gids(r.before or {}),
        after=_gids(r.after or {}),
        posting_id=to_global_id("JobPosting", r.posting_id) if r.posting_id else None,
        application_id=to_global_id("Application", r.application_id) if r.application_id else None,
        employee=Lazy(lambda: _employee(ctx, eid)),  # type: ignore[arg-type]
        actor=Lazy(lambda: _employee(ctx, aid)) if aid else None,  # type: ignore[arg-type]
        created_at=r.created_at,
    )


@strawberry.type(
    description="An employee's application to an internal posting. The applicant sees their "
    "own; the posting's hiring manager and HR see the posting's; the applicant's current "
    "manager only once told (at the tenant's notice stage, or earlier when the applicant "
    "shared it)."
)
class Application(Node):
    id: strawberry.ID
    stage: ApplicationStage
    note: str | None
    share_with_manager: bool
    rejection_reason: str | None
    manager_told_at: datetime | None = strawberry.field(
        description="When the applicant's manager was told (null: not yet)."
    )
    stage_changed_at: datetime
    created_at: datetime
    updated_at: datetime
    posting_id: strawberry.ID
    posting_title: str
    posting_kind: str = strawberry.field(description="role or gig.")
    posting: PostingRef | None = strawberry.field(
        description="The posting, while you may read it (`postingTitle` stays when it closed)."
    )
    applicant: EmployeeRef | None
    hiring_manager: EmployeeRef | None
    _row: strawberry.Private[Any]

    @strawberry.field(description="The steps you may take now (what buttons a client shows).")
    def allowed_actions(self, info: Info) -> list[ApplicationAction]:
        p = info.context.require_principal()
        return [ApplicationAction(a) for a in apps.allowed_actions(p, self._row)]

    @strawberry.field(description="Every stage change, oldest first.")
    async def history(self, info: Info) -> list[ApplicationHistoryEntry]:
        ctx = info.context
        rows = await _batched(ctx, "ApplicationHistoryLoader", apps.history_of).load(self._row.id)
        return [
            ApplicationHistoryEntry(
                from_stage=ApplicationStage(r.from_stage) if r.from_stage else None,
                to_stage=ApplicationStage(r.to_stage),
                reason=r.reason,
                actor_type=r.actor_type,
                actor=Lazy(lambda a=r.actor_id: _employee(ctx, a)) if r.actor_id else None,  # type: ignore[arg-type]
                at=r.at,
            )
            for r in rows or []
        ]

    @strawberry.field(description="The move the hire made (null until hired).")
    async def move(self, info: Info) -> EmployeeMove | None:
        if self._row.stage != "hired":
            return None
        ctx = info.context
        row = await _batched(ctx, "MoveByApplicationLoader", apps.moves_of_applications).load(
            self._row.id
        )
        return move_obj(ctx, row) if row is not None else None


async def _posting(ctx: Any, posting_id: uuid.UUID) -> Any:
    from upward.mobility.postings_schema import load_posting

    return await load_posting(ctx, posting_id)


def application_obj(ctx: Any, r: Any) -> Application:
    eid, hid, pid = r.employee_id, r.hiring_manager_id, r.posting_id
    return Application(
        id=to_global_id("Application", r.id),
        stage=ApplicationStage(r.stage),
        note=r.note,
        share_with_manager=r.share_with_manager,
        rejection_reason=r.rejection_reason,
        manager_told_at=r.manager_told_at,
        stage_changed_at=r.stage_changed_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        posting_id=to_global_id("JobPosting", r.posting_id),
        posting_title=r.posting_title,
        posting_kind=r.posting_kind,
        posting=Lazy(lambda: _posting(ctx, pid)),  # type: ignore[arg-type]
        applicant=Lazy(lambda: _employee(ctx, eid)),  # type: ignore[arg-type]
        hiring_manager=Lazy(lambda: _employee(ctx, hid)),  # type: ignore[arg-type]
        _row=r,
    )


@register_node("Application")
async def _application_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await application_loader(ctx).load_many(ids)
    return {r.id: application_obj(ctx, r) for r in rows if r is not None}


# --- insights --------------------------------------------------------------------------------


@strawberry.type
class MovesByKind:
    kind: MoveKind
    count: int


@strawberry.type
class MovesByDepartment:
    department: DepartmentRef | None = strawberry.field(
        description="The department moved into (null: none)."
    )
    kind: MoveKind
    count: int


@strawberry.type
class MissingSkill:
    skill_id: strawberry.ID
    name: str
    postings: int = strawberry.field(
        description="Postings where at least one top candidate lacks it."
    )
    candidates: int = strawberry.field(description="Top candidates missing it (all postings).")


@strawberry.type(description="Internal mobility over a period (HR).")
class MobilityInsights:
    from_date: date
    to_date: date
    postings_finished: int = strawberry.field(
        description="Postings filled or closed in the period."
    )
    postings_filled_internally: int = strawberry.field(
        description="Of those, postings with at least one internal hire."
    )
    internal_fill_rate: float | None = strawberry.field(
        description="postingsFilledInternally / postingsFinished (null: none finished)."
    )
    time_to_fill_p50_days: float | None = strawberry.field(
        description="Median days from opened to filled, over postings filled in the period."
    )
    time_to_fill_mean_days: float | None
    applications: int = strawberry.field(description="Applications made in the period.")
    postings_with_applications: int
    applications_per_posting: float | None = strawberry.field(
        description="Applications in the period per posting that was open at some point in it."
    )
    moves_by_kind: list[MovesByKind]
    moves_by_department: list[MovesByDepartment]
    top_missing_skills: list[MissingSkill] = strawberry.field(
        description="Skills most often missing among each posting's top candidates (stored "
        "matches), most frequent first: where training pays."
    )


def insights_obj(r: insights.Insights) -> MobilityInsights:
    from upward.people.schema import Department

    return MobilityInsights(
        from_date=r.from_date,
        to_date=r.to_date,
        postings_finished=r.postings_finished,
        postings_filled_internally=r.postings_filled_internally,
        internal_fill_rate=r.internal_fill_rate,
        time_to_fill_p50_days=r.time_to_fill_p50_days,
        time_to_fill_mean_days=r.time_to_fill_mean_days,
        applications=r.applications,
        postings_with_applications=r.postings_with_applications,
        applications_per_posting=r.applications_per_posting,
        moves_by_kind=[MovesByKind(kind=MoveKind(k), count=n) for k, n in r.moves_by_kind],
        moves_by_department=[
            MovesByDepartment(
                department=Department(
                    id=to_global_id("Department", d.department_id),
                    name=d.department_name,
                    code=d.department_code,
                    _raw_id=d.department_id,
                )
                if d.department_id
                else None,
                kind=MoveKind(d.kind),
                count=d.count,
            )
            for d in r.moves_by_department
        ],
        top_missing_skills=[
            MissingSkill(
                skill_id=to_global_id("Skill", s.skill_id),
                name=s.name,
                postings=s.postings,
                candidates=s.candidates,
            )
            for s in r.top_missing_skills
        ],
    )


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input
class ApplyToPostingInput:
    posting_id: strawberry.ID
    note: str | None = None
    share_with_manager: bool = strawberry.field(
        default=False,
        description="Tell your manager now (otherwise they are told at the tenant's notice "
        "stage, by default when you get an offer).",
    )


@strawberry.input
class ApplicationFilter:
    posting_id: strawberry.ID | None = None
    employee_id: strawberry.ID | None = None
    stage: list[ApplicationStage] | None = None
    mine: bool = strawberry.field(default=False, description="Only your own applications.")


@strawberry.input
class EmployeeMoveFilter:
    employee_id: strawberry.ID | None = None
    kind: list[MoveKind] | None = None
    moved_from: date | None = None
    moved_to: date | None = None


# --- queries and mutations -------------------------------------------------------------------


@strawberry.type
class ApplicationsQuery:
    @strawberry.field(
        description="Applications you may read (your own; your postings' as a hiring manager; "
        "your reports' once you were told; everyone's for HR), newest first."
    )
    async def applications(
        self,
        info: Info,
        filter: ApplicationFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Application]:
        ctx = info.context
        p = ctx.require_principal()
        f = filter or ApplicationFilter()
        args = page_args(
            ctx, apps.APPLICATION_ORDER, first=first, after=after, last=last, before=before
        )
        sf = apps.ApplicationFilter(
            posting_id=optional_global_id(f.posting_id, "JobPosting", field="filter.postingId"),
            employee_id=optional_global_id(f.employee_id, "Employee", field="filter.employeeId"),
            stages=tuple(s.value for s in f.stage or ()),
            mine=f.mine,
        )
        with_count = wants_total(Selection(info))
        async with ctx.session() as s:
            page = await apps.list_applications(s, p, sf, args, with_count=with_count)
        return build_connection(
            ctx, page, apps.APPLICATION_ORDER, lambda r: application_obj(ctx, r)
        )

    @strawberry.field(
        description="People's moves (promotions, lateral moves, gigs), newest first: your own, "
        "your reporting line's (a manager), everyone's (HR)."
    )
    async def employee_moves(
        self,
        info: Info,
        filter: EmployeeMoveFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[EmployeeMove]:
        from upward.people.loaders import viewer_of

        ctx = info.context
        f = filter or EmployeeMoveFilter()
        args = page_args(ctx, apps.MOVE_ORDER, first=first, after=after, last=last, before=before)
        viewer = await viewer_of(ctx)
        sf = apps.MoveFilter(
            employee_id=optional_global_id(f.employee_id, "Employee", field="filter.employeeId"),
            kinds=tuple(k.value for k in f.kind or ()),
            moved_from=f.moved_from,
            moved_to=f.moved_to,
        )
        with_count = wants_total(Selection(info))
        async with ctx.session() as s:
            page = await apps.list_moves(s, viewer, sf, args, with_count=with_count)
        return build_connection(ctx, page, apps.MOVE_ORDER, lambda r: move_obj(ctx, r))

    @strawberry.field(
        description="Internal mobility over a period, for HR: fill rate, time to fill, "
        "applications per posting, moves by kind and department, and the skills top "
        "candidates most often miss."
    )
    async def mobility_insights(
        self, info: Info, from_date: date, to_date: date, top_skills: int = 10
    ) -> MobilityInsights:
        ctx = info.context
        p = ctx.require_principal()
        if to_date < from_date:
            raise BadUserInput("must not be before fromDate", field="toDate")
        if not 1 <= top_skills <= 50:
            raise BadUserInput("must be between 1 and 50", field="topSkills")
        async with ctx.session() as s:
            got = await insights.mobility_insights(
                s, p, from_date=from_date, to_date=to_date, top_skills=top_skills
            )
        return insights_obj(got)


@strawberry.type
class ApplicationsMutation:
    @strawberry.mutation(
        description="Apply to a posting that is visible to you and that you are eligible for "
        "(BAD_USER_INPUT with the reasons otherwise). One live application per posting "
        "(CONFLICT)."
    )
    async def apply_to_posting(self, info: Info, input: ApplyToPostingInput) -> Application:
        ctx = info.context
        pid = expect_global_id(input.posting_id, "JobPosting", field="input.postingId")
        async with ctx.mutation() as (s, p):
            row = await apps.apply(
                s,
                p,
                posting_id=pid,
                note=input.note,
                share_with_manager=input.share_with_manager,
            )
        return application_obj(ctx, row)

    @strawberry.mutation(
        description="Move an application through its pipeline. screen / interview / offer / "
        "hire / reject (reason required): the posting's hiring manager or HR, never the "
        "applicant; withdraw: the applicant. A step not allowed from the current stage is a "
        "CONFLICT. Hiring changes the person's level, title, department, manager and location "
        "(a gig: none of them) on `startOn` (default: the posting's start date, else today)."
    )
    async def transition_application(
        self,
        info: Info,
        id: strawberry.ID,
        action: ApplicationAction,
        reason: str | None = None,
        start_on: date | None = None,
    ) -> Application:
        ctx = info.context
        raw = expect_global_id(id, "Application", field="id")
        async with ctx.mutation() as (s, p):
            row = await apps.transition(s, p, raw, action.value, reason=reason, start_on=start_on)
        return application_obj(ctx, row)
