"""GraphQL for feedback: thin resolvers over development.feedback, which decides who reads what
(see its docstring). Lists batch their relations per page (per-request loaders below)."""

from __future__ import annotations

import asyncio
import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from upward.development import feedback as service
from upward.development.plans_schema import PlanGoal, goal_ref
from upward.development.schema import PAGE_DOC, Skill, _load_skill
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
    from upward.people.schema import Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
GOAL = "PlanGoal"  # the global id type of an IDP goal


# --- per-request state and loaders -------------------------------------------------------------


async def reader_of(ctx: Any) -> service.Reader:
    """What the request's principal may read of feedback, loaded once per request."""
    from upward.people.loaders import viewer_of

    async def load() -> service.Reader:
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            return await service.load_reader(s, ctx.require_principal(), viewer)

    return await ctx.memo("feedback.reader", lambda: asyncio.ensure_future(load()))


def _loader(ctx: Any, key: str, fetch_many: Any, default: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        reader = await reader_of(ctx)
        async with ctx.session() as s:
            found = await fetch_many(s, reader, ids)
        return [found.get(i, default() if callable(default) else default) for i in ids]

    return ctx.memo(key, lambda: DataLoader(load_fn=load))


def request_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _loader(ctx, "FeedbackRequestByIdLoader", service.requests_by_ids, None)


def feedback_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _loader(ctx, "FeedbackByIdLoader", service.feedback_by_ids, None)


def feedback_by_request_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    return _loader(ctx, "FeedbackByRequestLoader", service.feedback_of_requests, list)


def responders_by_request_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    async def load(ids: list[uuid.UUID]) -> list[list[Any]]:
        async with ctx.session() as s:
            found = await service.responders_of(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo("FeedbackRespondersByRequestLoader", lambda: DataLoader(load_fn=load))


async def _employee(ctx: Any, employee_id: uuid.UUID | None) -> Any:
    from upward.people.schema import employee_ref

    return await employee_ref(ctx, employee_id)


# --- types -------------------------------------------------------------------------------------


@strawberry.enum(description="Who reads a feedback besides its giver.")
class FeedbackVisibility(enum.Enum):
    RECIPIENT = "recipient"
    RECIPIENT_AND_MANAGER = "recipient_and_manager"


@strawberry.enum
class FeedbackRequestStatus(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


@strawberry.enum
class FeedbackAnswer(enum.Enum):
    PENDING = "pending"
    GIVEN = "given"
    DECLINED = "declined"


@strawberry.enum(description="Which side of a request you are on.")
class FeedbackRequestRole(enum.Enum):
    REQUESTER = "requester"
    RESPONDER = "responder"


@strawberry.type(
    description="Feedback from a giver to a recipient. Read by the two of them, by the "
    "recipient's management line when the visibility says so, and by HR only when the tenant "
    "turned `hrReadsFeedback` on."
)
class Feedback(Node):
    id: strawberry.ID
    body: str
    visibility: FeedbackVisibility
    created_at: datetime
    giver: EmployeeRef | None = strawberry.field(
        description="Null when you may not see the person (offboarded)."
    )
    recipient: EmployeeRef | None
    skill: Skill | None = strawberry.field(description="The skill it is about, if any.")
    goal_id: strawberry.ID | None = strawberry.field(
        description="The IDP goal (of the recipient's plans) it is about, if any."
    )
    goal: PlanGoal | None = strawberry.field(
        description="That goal, when you may read its plan (else null; `goalId` stays)."
    )
    request: FeedbackRequest | None = strawberry.field(
        description="The request it answers (null if unsolicited or not yours to read)."
    )


def feedback_obj(ctx: Any, row: Any) -> Feedback:
    gid, rid, sid, qid = row.giver_id, row.recipient_id, row.skill_id, row.request_id
    return Feedback(
        id=to_global_id("Feedback", row.id),
        body=row.body,
        visibility=FeedbackVisibility(row.visibility),
        created_at=row.created_at,
        giver=Lazy(lambda: _employee(ctx, gid)),  # type: ignore[arg-type]
        recipient=Lazy(lambda: _employee(ctx, rid)),  # type: ignore[arg-type]
        skill=Lazy(lambda: _load_skill(ctx, sid)) if sid else None,  # type: ignore[arg-type]
        goal_id=to_global_id(GOAL, row.goal_id) if row.goal_id else None,
        goal=Lazy(lambda: goal_ref(ctx, row.goal_id)) if row.goal_id else None,  # type: ignore[arg-type]
        request=Lazy(lambda: _load_request(ctx, qid)) if qid else None,  # type: ignore[arg-type]
    )


@strawberry.type(description="A colleague asked for feedback, and their answer.")
class FeedbackResponder:
    employee: EmployeeRef | None
    status: FeedbackAnswer
    responded_at: datetime | None


@strawberry.type(
    description="A request for feedback from named colleagues on a skill or a goal. Read by "
    "the requester and the colleagues asked (HR when the tenant lets HR read feedback)."
)
class FeedbackRequest(Node):
    id: strawberry.ID
    requester: EmployeeRef | None
    skill: Skill | None
    goal_id: strawberry.ID | None = strawberry.field(
        description="The goal of the requester's IDP it is about, if any."
    )
    goal: PlanGoal | None = strawberry.field(
        description="That goal, when you may read its plan (else null; `goalId` stays)."
    )
    message: str | None
    due_on: date | None
    status: FeedbackRequestStatus
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field(
        description="Who was asked and how they answered: all of them for the requester (and "
        "HR), only your own entry for a colleague asked."
    )
    async def responders(self, info: Info) -> list[FeedbackResponder]:
        ctx = info.context
        reader = await reader_of(ctx)
        rows = await responders_by_request_loader(ctx).load(self._row.id)
        if not (reader.hr_reads_all or reader.employee_id == self._row.requester_id):
            rows = [r for r in rows if r["responder_id"] == reader.employee_id]
        return [_responder(ctx, r) for r in rows]

    @strawberry.field(description="Your answer, if you were asked (null otherwise).")
    async def my_answer(self, info: Info) -> FeedbackAnswer | None:
        ctx = info.context
        me = ctx.require_principal().employee_id
        rows = await responders_by_request_loader(ctx).load(self._row.id)
        mine = next((r for r in rows if r["responder_id"] == me), None)
        return FeedbackAnswer(mine["status"]) if mine is not None else None

    @strawberry.field(description="The feedback given in answer that you may read, newest first.")
    async def feedback(self, info: Info) -> list[Feedback]:
        rows = await feedback_by_request_loader(info.context).load(self._row.id)
        return [feedback_obj(info.context, r) for r in rows]


def _responder(ctx: Any, r: Any) -> FeedbackResponder:
    eid = r["responder_id"]
    return FeedbackResponder(
        employee=Lazy(lambda: _employee(ctx, eid)),  # type: ignore[arg-type]
        status=FeedbackAnswer(r["status"]),
        responded_at=r["responded_at"],
    )


def request_obj(ctx: Any, row: Any) -> FeedbackRequest:
    qid, sid = row.requester_id, row.skill_id
    return FeedbackRequest(
        id=to_global_id("FeedbackRequest", row.id),
        requester=Lazy(lambda: _employee(ctx, qid)),  # type: ignore[arg-type]
        skill=Lazy(lambda: _load_skill(ctx, sid)) if sid else None,  # type: ignore[arg-type]
        goal_id=to_global_id(GOAL, row.goal_id) if row.goal_id else None,
        goal=Lazy(lambda: goal_ref(ctx, row.goal_id)) if row.goal_id else None,  # type: ignore[arg-type]
        message=row.message,
        due_on=row.due_on,
        status=FeedbackRequestStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        _row=row,
    )


async def _load_request(ctx: Any, request_id: uuid.UUID) -> FeedbackRequest | None:
    row = await request_by_id_loader(ctx).load(request_id)
    return request_obj(ctx, row) if row is not None else None


@register_node("Feedback")
async def _feedback_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await feedback_by_id_loader(ctx).load_many(ids)
    return {r.id: feedback_obj(ctx, r) for r in rows if r is not None}


@register_node("FeedbackRequest")
async def _request_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await request_by_id_loader(ctx).load_many(ids)
    return {r.id: request_obj(ctx, r) for r in rows if r is not None}


@strawberry.type(description="The tenant's feedback settings.")
class FeedbackSettings:
    hr_reads_feedback: bool = strawberry.field(
        description="HR (hr_admin, tenant_admin) reads all feedback of the tenant. Off (the "
        "default): only the giver, the recipient and, when the giver chose so, the "
        "recipient's management line."
    )


@strawberry.input
class FeedbackFilter:
    recipient_id: strawberry.ID | None = strawberry.field(
        default=None, description="Feedback a person received (a manager: their report's)."
    )
    giver_id: strawberry.ID | None = None
    request_id: strawberry.ID | None = None
    skill_id: strawberry.ID | None = None
    goal_id: strawberry.ID | None = None


@strawberry.input
class FeedbackRequestFilter:
    role: FeedbackRequestRole | None = strawberry.field(
        default=None, description="Yours (REQUESTER) or asked of you (RESPONDER); null: both."
    )
    status: FeedbackRequestStatus | None = None
    waiting_for_me: bool = strawberry.field(
        default=False, description="Only open requests you have not answered yet."
    )


@strawberry.input
class RequestFeedbackInput:
    responder_ids: list[strawberry.ID] = strawberry.field(
        description="1 to 20 active colleagues (not yourself)."
    )
    skill_id: strawberry.ID | None = strawberry.field(
        default=None, description="A skill of the catalog (or give goalId)."
    )
    goal_id: strawberry.ID | None = strawberry.field(
        default=None, description="A goal of your own development plans (or give skillId)."
    )
    message: str | None = strawberry.field(default=None, description="At most 2000 characters.")
    due_on: date | None = None


@strawberry.input
class GiveFeedbackInput:
    body: str = strawberry.field(description="1 to 5000 characters.")
    recipient_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required unless you answer a request (then: its requester)."
    )
    visibility: FeedbackVisibility = FeedbackVisibility.RECIPIENT
    request_id: strawberry.ID | None = strawberry.field(
        default=None, description="A request asked of you and not answered yet."
    )
    skill_id: strawberry.ID | None = None
    goal_id: strawberry.ID | None = strawberry.field(
        default=None, description="A goal of the recipient's development plans."
    )


# --- queries and mutations ---------------------------------------------------------------------


async def _feedback_page(
    info: Info,
    f: service.FeedbackFilter,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[Feedback]:
    ctx = info.context
    args = page_args(
        ctx, service.FEEDBACK_ORDER, first=first, after=after, last=last, before=before
    )
    reader = await reader_of(ctx)
    async with ctx.session() as s:
        page = await service.list_feedback(
            s, reader, filter=f, page=args, with_count=wants_total(Selection(info))
        )
    return build_connection(ctx, page, service.FEEDBACK_ORDER, lambda r: feedback_obj(ctx, r))


def _me(info: Info) -> uuid.UUID:
    return service._me(info.context.require_principal())


@strawberry.type
class FeedbackQuery:
    @strawberry.field(description="Feedback you received, newest first. " + PAGE_DOC)
    async def feedback_received(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Feedback]:
        f = service.FeedbackFilter(recipient_id=_me(info))
        return await _feedback_page(info, f, first, after, last, before)

    @strawberry.field(description="Feedback you gave, newest first. " + PAGE_DOC)
    async def feedback_given(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Feedback]:
        f = service.FeedbackFilter(giver_id=_me(info))
        return await _feedback_page(info, f, first, after, last, before)

    @strawberry.field(
        description="Every feedback you may read, newest first: yours, your reporting line's "
        "given with visibility RECIPIENT_AND_MANAGER (filter by recipientId for one report), "
        "all of the tenant's for HR when `hrReadsFeedback` is on. " + PAGE_DOC
    )
    async def feedback(
        self,
        info: Info,
        filter: FeedbackFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Feedback]:
        info.context.require_principal()
        x = filter or FeedbackFilter()
        f = service.FeedbackFilter(
            recipient_id=optional_global_id(x.recipient_id, "Employee", field="filter.recipientId"),
            giver_id=optional_global_id(x.giver_id, "Employee", field="filter.giverId"),
            request_id=optional_global_id(
                x.request_id, "FeedbackRequest", field="filter.requestId"
            ),
            skill_id=optional_global_id(x.skill_id, "Skill", field="filter.skillId"),
            goal_id=optional_global_id(x.goal_id, GOAL, field="filter.goalId"),
        )
        return await _feedback_page(info, f, first, after, last, before)

    @strawberry.field(
        description="Your feedback requests and those asked of you, newest first. " + PAGE_DOC
    )
    async def feedback_requests(
        self,
        info: Info,
        filter: FeedbackRequestFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[FeedbackRequest]:
        ctx = info.context
        p = ctx.require_principal()
        x = filter or FeedbackRequestFilter()
        f = service.RequestFilter(
            role=x.role.value if x.role else None,
            status=x.status.value if x.status else None,
            waiting_for_me=x.waiting_for_me,
        )
        args = page_args(
            ctx, service.REQUEST_ORDER, first=first, after=after, last=last, before=before
        )
        async with ctx.session() as s:
            page = await service.list_requests(
                s, p, filter=f, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, service.REQUEST_ORDER, lambda r: request_obj(ctx, r))

    @strawberry.field(description="The tenant's feedback settings (everyone may read them).")
    async def feedback_settings(self, info: Info) -> FeedbackSettings:
        ctx = info.context
        ctx.require_principal()
        async with ctx.session() as s:
            on = await service.hr_reads_enabled(s)
        return FeedbackSettings(hr_reads_feedback=on)


@strawberry.type
class FeedbackMutation:
    @strawberry.mutation(
        description="Ask 1-20 colleagues for feedback on a skill or a goal of your IDP; each is "
        "notified."
    )
    async def request_feedback(self, info: Info, input: RequestFeedbackInput) -> FeedbackRequest:
        ctx = info.context
        ids = [
            expect_global_id(v, "Employee", field=f"input.responderIds.{i}")
            for i, v in enumerate(input.responder_ids)
        ]
        skill = optional_global_id(input.skill_id, "Skill", field="input.skillId")
        goal = optional_global_id(input.goal_id, GOAL, field="input.goalId")
        async with ctx.mutation() as (s, p):
            row = await service.request_feedback(
                s,
                p,
                responder_ids=ids,
                skill_id=skill,
                goal_id=goal,
                message=input.message,
                due_on=input.due_on,
            )
        return request_obj(ctx, row)

    @strawberry.mutation(description="Decline a request asked of you (while it is open).")
    async def decline_feedback_request(self, info: Info, id: strawberry.ID) -> FeedbackRequest:
        ctx = info.context
        raw = expect_global_id(id, "FeedbackRequest", field="id")
        async with ctx.mutation() as (s, p):
            row = await service.decline_request(s, p, request_id=raw)
        return request_obj(ctx, row)

    @strawberry.mutation(
        description="Close (or cancel) your own request: nobody answers it any more."
    )
    async def close_feedback_request(self, info: Info, id: strawberry.ID) -> FeedbackRequest:
        ctx = info.context
        raw = expect_global_id(id, "FeedbackRequest", field="id")
        async with ctx.mutation() as (s, p):
            row = await service.close_request(s, p, request_id=raw)
        return request_obj(ctx, row)

    @strawberry.mutation(
        description="Give feedback to a colleague, unsolicited or answering a request asked of "
        "you; the recipient is notified."
    )
    async def give_feedback(self, info: Info, input: GiveFeedbackInput) -> Feedback:
        ctx = info.context
        recipient = optional_global_id(input.recipient_id, "Employee", field="input.recipientId")
        request = optional_global_id(input.request_id, "FeedbackRequest", field="input.requestId")
        skill = optional_global_id(input.skill_id, "Skill", field="input.skillId")
        goal = optional_global_id(input.goal_id, GOAL, field="input.goalId")
        async with ctx.mutation() as (s, p):
            row = await service.give_feedback(
                s,
                p,
                body=input.body,
                visibility=input.visibility.value,
                recipient_id=recipient,
                request_id=request,
                skill_id=skill,
                goal_id=goal,
            )
        return feedback_obj(ctx, row)

    @strawberry.mutation(
        description="Let HR read all feedback of the tenant, or not (tenant_admin only: HR "
        "cannot grant itself access)."
    )
    async def set_feedback_settings(self, info: Info, hr_reads_feedback: bool) -> FeedbackSettings:
        ctx = info.context
        async with ctx.mutation() as (s, p):
            on = await service.set_settings(s, p, hr_reads_feedback=hr_reads_feedback)
        # the request's reader (if loaded) predates the change
        ctx._cache.pop("feedback.reader", None)
        return FeedbackSettings(hr_reads_feedback=on)
