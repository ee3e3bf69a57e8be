"""GraphQL for rewards, redemptions and a person's points (summary and history): thin resolvers
over recognition.rewards, with the per-request DataLoaders they use."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader
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
from upward.recognition import ledger, rewards

if TYPE_CHECKING:
    from upward.people.schema import Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
PAGE_DOC = "Relay pagination: `first` (at most 100) with `after`, or `last` with `before`."


# --- loaders (per request) ---------------------------------------------------------------------


def reward_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await rewards.rewards_by_ids(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("RewardByIdLoader", lambda: DataLoader(load_fn=load))


def redemption_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        p = ctx.require_principal()
        async with ctx.session() as s:
            found = await rewards.redemptions_by_ids(s, p, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("RedemptionByIdLoader", lambda: DataLoader(load_fn=load))


async def _employee(ctx: Any, employee_id: uuid.UUID | None) -> Any:
    from upward.people.schema import employee_ref

    return await employee_ref(ctx, employee_id)


# --- rewards -----------------------------------------------------------------------------------


@strawberry.type(
    description="Something of the tenant's catalog a person can redeem their points for."
)
class Reward(Node):
    id: strawberry.ID
    name: str
    description: str | None
    cost: int = strawberry.field(description="In points (1 to 10,000,000).")
    stock: int | None = strawberry.field(
        description="Units still to hand out (pending requests already took theirs); null: "
        "unlimited."
    )
    active: bool = strawberry.field(description="false: retired, out of the catalog.")
    created_at: datetime
    updated_at: datetime


def reward_obj(row: Any) -> Reward:
    return Reward(
        id=to_global_id("Reward", row.id),
        name=row.name,
        description=row.description,
        cost=row.cost,
        stock=row.stock,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _load_reward(ctx: Any, reward_id: uuid.UUID) -> Reward | None:
    row = await reward_by_id_loader(ctx).load(reward_id)
    return reward_obj(row) if row is not None else None


@register_node("Reward")
async def _reward_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await reward_by_id_loader(ctx).load_many(ids)
    return {r.id: reward_obj(r) for r in rows if r is not None}


@strawberry.enum
class RewardOrder(enum.Enum):
    NAME_ASC = "name"
    COST_ASC = "cost"


@strawberry.input
class RewardFilter:
    include_inactive: bool = strawberry.field(
        default=False, description="Also retired rewards (HR only; ignored for others)."
    )
    search: str | None = strawberry.field(default=None, description="In names.")


@strawberry.input
class CreateRewardInput:
    name: str = strawberry.field(description="Unique in the tenant, whatever the case.")
    cost: int = strawberry.field(description="In points, 1 to 10,000,000.")
    description: str | None = None
    stock: int | None = strawberry.field(default=None, description="null: unlimited.")
    active: bool = True


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateRewardInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="null clears it."
    )
    cost: int | None = strawberry.field(
        default=strawberry.UNSET, description="Pending requests keep the cost they asked at."
    )
    stock: int | None = strawberry.field(
        default=strawberry.UNSET, description="Units still to hand out; null: unlimited."
    )
    active: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false retires it (no new requests; pending ones are still decided).",
    )


# --- redemptions -------------------------------------------------------------------------------


@strawberry.enum
class RedemptionStatus(enum.Enum):
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    CANCELLED = "cancelled"


@strawberry.type(
    description="A request for a reward: REQUESTED (its cost is held), then APPROVED by HR (the "
    "points leave the balance), DECLINED by HR or CANCELLED by the requester (nothing moves, "
    "the stock goes back). Read by the requester and HR."
)
class Redemption(Node):
    id: strawberry.ID
    reward: Reward | None
    employee: EmployeeRef | None = strawberry.field(description="Who asked.")
    cost: int = strawberry.field(description="The reward's cost when it was requested.")
    status: RedemptionStatus
    note: str | None = strawberry.field(description="The requester's note.")
    decided_by: EmployeeRef | None = strawberry.field(
        description="The HR admin who approved or declined it (the requester, for a cancel)."
    )
    decided_at: datetime | None
    decision_note: str | None
    created_at: datetime


def redemption_obj(ctx: Any, row: Any) -> Redemption:
    rid, eid, did = row.reward_id, row.employee_id, row.decided_by
    return Redemption(
        id=to_global_id("Redemption", row.id),
        reward=Lazy(lambda: _load_reward(ctx, rid)),  # type: ignore[arg-type]
        employee=Lazy(lambda: _employee(ctx, eid)),  # type: ignore[arg-type]
        cost=row.cost,
        status=RedemptionStatus(row.status),
        note=row.note,
        decided_by=Lazy(lambda: _employee(ctx, did)) if did else None,  # type: ignore[arg-type]
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        created_at=row.created_at,
    )


async def _load_redemption(ctx: Any, redemption_id: uuid.UUID | None) -> Redemption | None:
    if redemption_id is None:
        return None
    row = await redemption_by_id_loader(ctx).load(redemption_id)
    return redemption_obj(ctx, row) if row is not None else None


@register_node("Redemption")
async def _redemption_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await redemption_by_id_loader(ctx).load_many(ids)
    return {r.id: redemption_obj(ctx, r) for r in rows if r is not None}


@strawberry.input
class RedemptionFilter:
    status: RedemptionStatus | None = None
    employee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Whose (HR: anyone's; others: only their own)."
    )
    reward_id: strawberry.ID | None = None


@strawberry.input
class RequestRedemptionInput:
    reward_id: strawberry.ID
    note: str | None = strawberry.field(
        default=None, description="For HR: a size, a delivery address..."
    )


# --- points ------------------------------------------------------------------------------------


@strawberry.type(description="A monthly budget in the tenant's month: renews on the 1st.")
class PointsBudget:
    monthly: int = strawberry.field(description="How much it is each month.")
    spent: int = strawberry.field(description="Given from it this month.")
    left: int
    period: date = strawberry.field(description="This month (its first day).")
    renews_on: date = strawberry.field(description="The first day of next month.")


def budget_obj(b: ledger.Budget) -> PointsBudget:
    return PointsBudget(
        monthly=b.monthly,
        spent=b.spent,
        left=b.left,
        period=b.period,
        renews_on=rewards.next_period(b.period),
    )


@strawberry.type(description="A person's points now.")
class PointsSummary:
    employee: EmployeeRef | None
    balance: int = strawberry.field(description="Points received and not redeemed.")
    held: int = strawberry.field(description="The costs of their pending redemption requests.")
    available: int = strawberry.field(description="What they may still redeem: balance - held.")
    allowance: PointsBudget = strawberry.field(description="Their monthly allowance to give.")
    award_budget: PointsBudget = strawberry.field(
        description="Their monthly award budget (managers; monthly 0 for others)."
    )


@strawberry.enum(description="A person's points accounts.")
class PointsAccount(enum.Enum):
    RECEIVED = "received"
    ALLOWANCE = "allowance"
    AWARD = "award"


@strawberry.enum
class PointsTransactionKind(enum.Enum):
    KUDOS = "kudos"
    MILESTONE = "milestone"
    REDEMPTION = "redemption"


@strawberry.type(description="One movement on one of a person's points accounts.")
class PointsEntry:
    id: strawberry.ID = strawberry.field(description="A stable key of the entry.")
    amount: int = strawberry.field(description="Positive: points in; negative: points out.")
    account: PointsAccount
    kind: PointsTransactionKind = strawberry.field(description="What moved the points.")
    period: date = strawberry.field(description="The month it counts against (its first day).")
    created_at: datetime
    kudos_id: strawberry.ID | None = strawberry.field(
        description="The kudos (or milestone kudos) it came with."
    )
    redemption_id: strawberry.ID | None = strawberry.field(
        description="The redemption it paid for."
    )
    redemption: Redemption | None = strawberry.field(
        description="That redemption, when you may read it."
    )


def entry_obj(ctx: Any, row: Any) -> PointsEntry:
    rid = row.redemption_id
    return PointsEntry(
        id=to_global_id("PointsEntry", row.id),
        amount=row.amount,
        account=PointsAccount(row.account),
        kind=PointsTransactionKind(row.kind),
        period=row.period,
        created_at=row.created_at,
        kudos_id=to_global_id("Kudos", row.kudos_id) if row.kudos_id else None,
        redemption_id=to_global_id("Redemption", rid) if rid else None,
        redemption=Lazy(lambda: _load_redemption(ctx, rid)) if rid else None,  # type: ignore[arg-type]
    )


# --- queries and mutations ---------------------------------------------------------------------


@strawberry.type
class RewardsQuery:
    @strawberry.field(
        description="The rewards catalog: active rewards by name (or cost); HR may include "
        "retired ones. " + PAGE_DOC
    )
    async def rewards(
        self,
        info: Info,
        filter: RewardFilter | None = None,
        order_by: RewardOrder = RewardOrder.NAME_ASC,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Reward]:
        ctx = info.context
        p = ctx.require_principal()
        f = filter or RewardFilter()
        order = rewards.REWARD_ORDERS[order_by.value]
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        async with ctx.session() as s:
            page = await rewards.list_rewards(
                s,
                p,
                filter=rewards.RewardFilter(include_inactive=f.include_inactive, search=f.search),
                order=order_by.value,
                page=args,
                with_count=wants_total(Selection(info)),
            )
        key = rewards.reward_sort_key if order_by is RewardOrder.NAME_ASC else None
        return build_connection(ctx, page, order, reward_obj, sort_key=key)

    @strawberry.field(
        description="Redemption requests, newest first: yours; HR: everyone's (or one "
        "person's with `filter.employeeId`). " + PAGE_DOC
    )
    async def redemptions(
        self,
        info: Info,
        filter: RedemptionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Redemption]:
        ctx = info.context
        p = ctx.require_principal()
        f = filter or RedemptionFilter()
        rf = rewards.RedemptionFilter(
            status=f.status.value if f.status else None,
            employee_id=optional_global_id(f.employee_id, "Employee", field="filter.employeeId"),
            reward_id=optional_global_id(f.reward_id, "Reward", field="filter.rewardId"),
        )
        order = rewards.REDEMPTION_ORDER
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        async with ctx.session() as s:
            page = await rewards.list_redemptions(
                s, p, filter=rf, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, order, lambda r: redemption_obj(ctx, r))

    @strawberry.field(
        description="A person's points: balance, held by pending requests, available, and "
        "this month's giving budgets. Default: yours; someone else's: HR and the person's "
        "management line (NOT_FOUND for anyone else, as for an id that does not exist)."
    )
    async def points_summary(
        self, info: Info, employee_id: strawberry.ID | None = None
    ) -> PointsSummary:
        from upward.people.loaders import viewer_of

        ctx = info.context
        ctx.require_principal()
        eid = optional_global_id(employee_id, "Employee", field="employeeId")
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            pts = await rewards.points_of(s, viewer, employee_id=eid)
        who = pts.employee_id
        return PointsSummary(
            employee=Lazy(lambda: _employee(ctx, who)),  # type: ignore[arg-type]
            balance=pts.balance,
            held=pts.held,
            available=pts.available,
            allowance=budget_obj(pts.allowance),
            award_budget=budget_obj(pts.award),
        )

    @strawberry.field(
        description="A person's points movements (every account of theirs, or `account`), "
        "newest first. Who may read it as for pointsSummary. " + PAGE_DOC
    )
    async def points_history(
        self,
        info: Info,
        employee_id: strawberry.ID | None = None,
        account: PointsAccount | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[PointsEntry]:
        from upward.people.loaders import viewer_of

        ctx = info.context
        ctx.require_principal()
        eid = optional_global_id(employee_id, "Employee", field="employeeId")
        order = rewards.HISTORY_ORDER
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            page = await rewards.history(
                s,
                viewer,
                employee_id=eid,
                account=account.value if account else None,
                page=args,
                with_count=wants_total(Selection(info)),
            )
        return build_connection(ctx, page, order, lambda r: entry_obj(ctx, r))


@strawberry.type
class RewardsMutation:
    @strawberry.mutation(
        description="Add a reward to the catalog (hr_admin or tenant_admin). CONFLICT on "
        "input.name when the name is taken (whatever the case)."
    )
    async def create_reward(self, info: Info, input: CreateRewardInput) -> Reward:
        async with info.context.mutation() as (s, p):
            row = await rewards.create_reward(
                s,
                p,
                name=input.name,
                cost=input.cost,
                description=input.description,
                stock=input.stock,
                active=input.active,
            )
        return reward_obj(row)

    @strawberry.mutation(
        description="Rename, describe, reprice, restock (null: unlimited) or retire "
        "(active: false) a reward (hr_admin or tenant_admin)."
    )
    async def update_reward(
        self, info: Info, id: strawberry.ID, input: UpdateRewardInput
    ) -> Reward:
        rid = expect_global_id(id, "Reward", field="id")
        patch: dict[str, Any] = {}
        for name in ("name", "description", "cost", "stock", "active"):
            value = getattr(input, name)
            if value is not strawberry.UNSET:
                patch[name] = value
        if "name" in patch and patch["name"] is None:
            raise BadUserInput("must not be null", field="input.name")
        async with info.context.mutation() as (s, p):
            row = await rewards.update_reward(s, p, reward_id=rid, patch=patch)
        return reward_obj(row)

    @strawberry.mutation(
        description="Ask for a reward: it must be active and in stock, and cost no more than "
        "your available points (BAD_USER_INPUT on input.rewardId otherwise). Takes one unit of "
        "stock and holds the cost; the points leave your balance when HR approves."
    )
    async def request_redemption(self, info: Info, input: RequestRedemptionInput) -> Redemption:
        ctx = info.context
        rid = expect_global_id(input.reward_id, "Reward", field="input.rewardId")
        async with ctx.mutation() as (s, p):
            row = await rewards.request_redemption(s, p, reward_id=rid, note=input.note)
        return redemption_obj(ctx, row)

    @strawberry.mutation(
        description="Approve a pending request (HR, not your own): its cost leaves the "
        "requester's balance. CONFLICT when it is not pending any more, or when their balance "
        "no longer covers it."
    )
    async def approve_redemption(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> Redemption:
        ctx = info.context
        rid = expect_global_id(id, "Redemption", field="id")
        async with ctx.mutation() as (s, p):
            row = await rewards.approve(s, p, redemption_id=rid, note=note)
        return redemption_obj(ctx, row)

    @strawberry.mutation(
        description="Decline a pending request (HR, not your own): no points move, the stock "
        "goes back. CONFLICT when it is not pending any more."
    )
    async def decline_redemption(
        self, info: Info, id: strawberry.ID, note: str | None = None
    ) -> Redemption:
        ctx = info.context
        rid = expect_global_id(id, "Redemption", field="id")
        async with ctx.mutation() as (s, p):
            row = await rewards.decline(s, p, redemption_id=rid, note=note)
        return redemption_obj(ctx, row)

    @strawberry.mutation(
        description="Withdraw your pending request: no points move, the stock goes back. "
        "CONFLICT when it is not pending any more."
    )
    async def cancel_redemption(self, info: Info, id: strawberry.ID) -> Redemption:
        ctx = info.context
        rid = expect_global_id(id, "Redemption", field="id")
        async with ctx.mutation() as (s, p):
            row = await rewards.cancel(s, p, redemption_id=rid)
        return redemption_obj(ctx, row)
