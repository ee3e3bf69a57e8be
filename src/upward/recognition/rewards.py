"""Rewards, redemptions and a person's points: the catalog HR curates, the request -> approve |
decline | cancel workflow, and what a person has, holds and may still give.

Money-like rules, each enforced where concurrency cannot break it:

- Points leave a person's `received` balance only when HR approves a redemption (one balanced
  ledger transaction per redemption, unique in the ledger). A pending request *holds* its cost:
  what a person may still spend is their balance minus the costs of their pending requests.
- Every request and approval takes the person's spender lock (`ledger.lock_spender`) before it
  reads the balance and the holds, so concurrent requests (and gives) of one person are counted
  one after the other and can never commit more than the balance.
- Stock is taken at the request by one conditional UPDATE (never below zero, whatever the
  concurrency) and given back on a decline or a cancel; null stock is unlimited.
- The cost is the reward's when requested: a later price change does not touch pending ones.

A redemption is read by its requester and HR; for anyone else it does not exist (NOT_FOUND).
HR does not decide their own requests (another HR admin does). Services never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, columns, fetch, is_unique_violation, rows_by_ids
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.service import Viewer, employees_by_ids
from upward.people.validation import optional_text, require_text
from upward.recognition import ledger
from upward.recognition.models import (
    PERSON_ACCOUNTS,
    REDEMPTION_STATUSES,
    PointsEntry,
    PointsTransaction,
    Redemption,
    Reward,
)

t_reward = Reward.__table__
t_redemption = Redemption.__table__
t_entry = PointsEntry.__table__
t_txn = PointsTransaction.__table__

MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_NOTE = 1000
MIN_COST = 1
MAX_COST = 10_000_000
MAX_STOCK = 1_000_000
NAME_TAKEN = "a reward with this name exists"

REWARD_ORDERS = {
    "name": Order(
        key="rewards:name",
        columns=(sa.func.lower(t_reward.c.name, type_=sa.Text), t_reward.c.id),
        parse=(str, uuid.UUID),
    ),
    "cost": Order(
        key="rewards:cost",
        columns=(t_reward.c.cost, t_reward.c.id),
        parse=(int, uuid.UUID),
    ),
}
REDEMPTION_ORDER = Order(
    key="redemptions:newest",
    columns=(t_redemption.c.created_at, t_redemption.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)
HISTORY_ORDER = Order(
    key="points_history:newest",
    columns=(t_entry.c.created_at, t_entry.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


def _me(principal: Principal, *, field: str) -> uuid.UUID:
    if principal.employee_id is None:
        raise BadUserInput("rewards are redeemed by people: use a person's token", field=field)
    return principal.employee_id


# --- the catalog -------------------------------------------------------------------------------


async def rewards_by_ids(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Rewards by id, retired ones included (a redemption shows its reward whatever became of
    it), in one statement."""
    return await rows_by_ids(session, t_reward, ids)


@dataclass(frozen=True, slots=True)
class RewardFilter:
    include_inactive: bool = False  # HR only; ignored for others
    search: str | None = None  # in names


def reward_sort_key(row: Any) -> tuple[Any, ...]:
    """The cursor values of a reward row in either order (`sort_name` is selected)."""
    return row.sort_name, row.id


async def list_rewards(
    session: Executor,
    principal: Principal,
    *,
    filter: RewardFilter,
    order: str,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    """Active rewards by name (or cost); HR may include retired ones."""
    conds: list[Any] = []
    if not (filter.include_inactive and principal.is_hr):
        conds.append(t_reward.c.active.is_(True))
    if filter.search:
        text = require_text(filter.search, field="filter.search", max_len=200).lower()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(sa.func.lower(t_reward.c.name).like(pattern, escape="\\"))
    stmt = sa.select(t_reward, sa.func.lower(t_reward.c.name).label("sort_name")).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_reward).where(*conds)
    return await paginate(
        session, stmt, REWARD_ORDERS[order], page, count_stmt=count, with_count=with_count
    )


def _reward_fields(patch: dict[str, Any]) -> dict[str, Any]:
    """Checked values of the given reward fields (names of the `rewards` columns)."""
    out: dict[str, Any] = {}
    if "name" in patch:
        out["name"] = require_text(patch["name"], field="input.name", max_len=MAX_NAME)
    if "description" in patch:
        out["description"] = optional_text(
            patch["description"], field="input.description", max_len=MAX_DESCRIPTION
        )
    if "cost" in patch:
        cost = patch["cost"]
        if cost is None or not MIN_COST <= cost <= MAX_COST:
            raise BadUserInput(
                f"the cost must be from {MIN_COST} to {MAX_COST:,} points", field="input.cost"
            )
        out["cost"] = cost
    if "stock" in patch:
        stock = patch["stock"]
        if stock is not None and not 0 <= stock <= MAX_STOCK:
            raise BadUserInput(
                f"the stock must be from 0 to {MAX_STOCK:,} (null: unlimited)",
                field="input.stock",
            )
        out["stock"] = stock
    if "active" in patch:
        if patch["active"] is None:
            raise BadUserInput("must not be null", field="input.active")
        out["active"] = bool(patch["active"])
    return out


async def _write_reward(session: Executor, stmt: Any) -> Any:
    try:
        async with session.begin_nested():
            return (await session.execute(stmt)).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, "rewards_name_key"):
            raise Conflict(NAME_TAKEN, field="input.name") from None
        raise


async def create_reward(
    session: Executor,
    principal: Principal,
    *,
    name: str,
    cost: int,
    description: str | None = None,
    stock: int | None = None,
    active: bool = True,
) -> Any:
    """Add a reward (HR). Names are unique in the tenant, whatever their case (CONFLICT)."""
    principal.require_hr("creating a reward")
    fields = _reward_fields(
        {"name": name, "description": description, "cost": cost, "stock": stock, "active": active}
    )
    row = await _write_reward(
        session,
        sa.insert(t_reward).values(tenant_id=principal.tenant_id, **fields).returning(t_reward),
    )
    await audit.record(
        session,
        principal,
        action="reward.create",
        target_type="Reward",
        target_id=row.id,
        changes=audit.diff({}, fields),
    )
    return row


async def update_reward(
    session: Executor, principal: Principal, *, reward_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change the given fields (HR): rename, describe, reprice (pending requests keep the cost
    they were asked at), set the stock (the units still to hand out; null: unlimited), retire
    (`active: false`: out of the catalog, no new requests; pending ones are still decided)."""
    principal.require_hr("changing a reward")
    before = (
        await session.execute(
            sa.select(t_reward).where(t_reward.c.id == reward_id).with_for_update()
        )
    ).first()
    if before is None:
        raise NotFound("no reward with this id", field="id")
    fields = _reward_fields(patch)
    changes = audit.diff(before._asdict(), fields)
    if not changes:
        return before
    row = await _write_reward(
        session,
        sa.update(t_reward)
        .where(t_reward.c.id == reward_id)
        .values(**fields, updated_at=clock.now())
        .returning(t_reward),
    )
    await audit.record(
        session,
        principal,
        action="reward.update",
        target_type="Reward",
        target_id=reward_id,
        changes=changes,
    )
    return row


# --- points: balance, holds, budgets, history --------------------------------------------------


async def holds(session: Executor, employee_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """{employee: the costs of their pending (requested) redemptions} (every id present)."""
    rows = await fetch(
        session,
        "select employee_id, sum(cost)::int as held from redemptions "
        "where employee_id = any($1::uuid[]) and status = 'requested' group by employee_id",
        list(employee_ids),
    )
    out = dict.fromkeys(employee_ids, 0)
    out.update({r["employee_id"]: r["held"] for r in rows})
    return out


def next_period(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Points:
    """A person's points now: received and not redeemed (`balance`), held by pending requests,
    and this month's giving budgets."""

    employee_id: uuid.UUID
    balance: int
    held: int
    allowance: ledger.Budget
    award: ledger.Budget

    @property
    def available(self) -> int:
        return max(self.balance - self.held, 0)


async def _visible_person(
    session: Executor, viewer: Viewer, employee_id: uuid.UUID, *, field: str
) -> None:
    """A person's points are theirs, their management line's and HR's; for anyone else the
    person does not exist (NOT_FOUND, as for an id that never existed)."""
    if not viewer.sees_private(employee_id):
        raise NotFound("no employee with this id", field=field)
    if not await employees_by_ids(session, viewer, [employee_id]):
        raise NotFound("no employee with this id", field=field)


async def points_of(session: Executor, viewer: Viewer, *, employee_id: uuid.UUID | None) -> Points:
    """The points summary of `employee_id` (default: the viewer)."""
    who = employee_id or _me(viewer.principal, field="employeeId")
    await _visible_person(session, viewer, who, field="employeeId")
    period = ledger.current_period(viewer.principal.tenant_timezone)
    balance = (await ledger.balances(session, [who]))[who]
    held = (await holds(session, [who]))[who]
    budgets = (await ledger.budgets(session, [who], period))[who]
    return Points(who, balance, held, budgets["allowance"], budgets["award"])


async def history(
    session: Executor,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID | None,
    account: str | None = None,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    """A person's ledger entries (every account of theirs, or one), newest first, with the kind
    and subject of their transaction."""
    who = employee_id or _me(viewer.principal, field="employeeId")
    if account is not None and account not in PERSON_ACCOUNTS:
        raise BadUserInput(f"must be one of {', '.join(PERSON_ACCOUNTS)}", field="account")
    await _visible_person(session, viewer, who, field="employeeId")
    conds: list[Any] = [t_entry.c.employee_id == who]
    if account is not None:
        conds.append(t_entry.c.account == account)
    joined = t_entry.join(
        t_txn,
        sa.and_(t_txn.c.tenant_id == t_entry.c.tenant_id, t_txn.c.id == t_entry.c.transaction_id),
    )
    stmt = (
        sa.select(
            t_entry.c.id,
            t_entry.c.transaction_id,
            t_entry.c.account,
            t_entry.c.amount,
            t_entry.c.period,
            t_entry.c.created_at,
            t_txn.c.kind,
            t_txn.c.kudos_id,
            t_txn.c.redemption_id,
        )
        .select_from(joined)
        .where(*conds)
    )
    count = sa.select(sa.func.count()).select_from(t_entry).where(*conds)
    return await paginate(
        session, stmt, HISTORY_ORDER, page, count_stmt=count, with_count=with_count
    )


# --- redemptions: reads ------------------------------------------------------------------------


def can_read(principal: Principal, row: Any) -> bool:
    return principal.is_hr or row.employee_id == principal.employee_id


async def redemptions_by_ids(
    session: Executor, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The redemptions among `ids` the principal reads (theirs, or HR: any)."""
    if not ids:
        return {}
    rows = (
        await session.execute(sa.select(t_redemption).where(t_redemption.c.id.in_(list(set(ids)))))
    ).all()
    return {r.id: r for r in rows if can_read(principal, r)}


@dataclass(frozen=True, slots=True)
class RedemptionFilter:
    status: str | None = None
    employee_id: uuid.UUID | None = None  # HR: anyone's; others: only their own
    reward_id: uuid.UUID | None = None


async def list_redemptions(
    session: Executor,
    principal: Principal,
    *,
    filter: RedemptionFilter,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    """Newest first: yours; HR's: everyone's (or one person's with `employee_id`)."""
    conds: list[Any] = []
    if principal.is_hr:
        if filter.employee_id is not None:
            conds.append(t_redemption.c.employee_id == filter.employee_id)
    else:
        me = _me(principal, field="filter.employeeId")
        if filter.employee_id is not None and filter.employee_id != me:
            raise Forbidden("only HR lists other people's redemptions")
        conds.append(t_redemption.c.employee_id == me)
    if filter.status is not None:
        if filter.status not in REDEMPTION_STATUSES:
            raise BadUserInput(f"unknown status {filter.status!r}", field="filter.status")
        conds.append(t_redemption.c.status == filter.status)
    if filter.reward_id is not None:
        conds.append(t_redemption.c.reward_id == filter.reward_id)
    stmt = sa.select(t_redemption).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_redemption).where(*conds)
    return await paginate(
        session, stmt, REDEMPTION_ORDER, page, count_stmt=count, with_count=with_count
    )


# --- redemptions: the workflow -----------------------------------------------------------------


async def _names(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await fetch(
        session, "select id, name from employees where id = any($1::uuid[])", list(ids)
    )
    return {r["id"]: r["name"] for r in rows}


def _event_payload(row: Any) -> dict[str, Any]:
    return {
        "redemption_id": row.id,
        "reward_id": row.reward_id,
        "employee_id": row.employee_id,
        "cost": row.cost,
        "status": row.status,
    }


async def _event(session: Executor, principal: Principal, row: Any, verb: str) -> None:
    from upward.credentials.service import record_event

    await record_event(
        session,
        principal,
        kind=f"redemption.{verb}",
        subject_id=row.id,
        subject_type="Redemption",
        key=f"redemption.{verb}:{row.id}",
        payload=_event_payload(row),
    )


async def request_redemption(
    session: Executor,
    principal: Principal,
    *,
    reward_id: uuid.UUID,
    note: str | None = None,
) -> Any:
    """Ask for a reward: active, in stock, and costing no more than what you may spend (your
    balance minus what your pending requests hold). Takes one unit of stock; the points move
    when HR approves. HR admins are told in-app."""
    me = _me(principal, field="input.rewardId")
    text = optional_text(note, field="input.note", max_len=MAX_NOTE)
    person = await fetch(session, "select name, status from employees where id = $1", me)
    if not person or person[0]["status"] != "active":
        raise Forbidden("an offboarded person cannot redeem rewards")
    reward = (await rewards_by_ids(session, [reward_id])).get(reward_id)
    if reward is None:
        raise NotFound("no reward with this id", field="input.rewardId")

    def refuse(current: Any) -> BadUserInput:
        if not current.active:
            return BadUserInput(f"{current.name!r} is no longer offered", field="input.rewardId")
        return BadUserInput(f"{current.name!r} is out of stock", field="input.rewardId")

    if not reward.active or reward.stock == 0:
        raise refuse(reward)
    # everything that spends this person's points waits here, so the balance and the holds
    # read below stay true until this transaction ends
    await ledger.lock_spender(session, me)
    balance = (await ledger.balances(session, [me]))[me]
    held = (await holds(session, [me]))[me]
    taken = await fetch(
        session,
        "update rewards set stock = stock - 1 "  # noqa: S608 - column names of the model
        "where id = $1 and active and (stock is null or stock > 0) "
        f"returning {columns(Reward)}",
        reward_id,
    )
    if not taken:  # retired or taken by someone else meanwhile
        current = (await rewards_by_ids(session, [reward_id]))[reward_id]
        raise refuse(current)
    cost = taken[0]["cost"]
    available = max(balance - held, 0)
    if cost > available:
        # the caller's savepoint (or transaction) rolls back the unit of stock taken above
        hold = f" ({held} held by your pending requests)" if held else ""
        raise BadUserInput(
            f"{reward.name!r} costs {cost} points and you have {available} to spend{hold}",
            field="input.rewardId",
        )
    row = (
        await session.execute(
            sa.insert(t_redemption)
            .values(
                tenant_id=principal.tenant_id,
                reward_id=reward_id,
                employee_id=me,
                cost=cost,
                status="requested",
                note=text,
                created_at=clock.now(),
            )
            .returning(t_redemption)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="redemption.request",
        target_type="Redemption",
        target_id=row.id,
        changes=audit.diff(
            {}, {"reward_id": reward_id, "cost": cost, "note": text, "status": "requested"}
        ),
    )
    await _tell_hr(session, principal, row, requester=person[0]["name"], reward=taken[0]["name"])
    await _event(session, principal, row, "requested")
    return row


async def _tell_hr(
    session: Executor, principal: Principal, row: Any, *, requester: str, reward: str
) -> None:
    from upward.reminders.outbox import EventNote, notify_people

    admins = await fetch(
        session,
        "select id from employees where status = 'active' and 'hr_admin' = any(roles) and id <> $1",
        row.employee_id,
    )
    subject = f"{requester} asks to redeem {reward} ({row.cost} points)"
    body = subject + (f": {row.note}" if row.note else ".")
    data = {"redemption_id": str(row.id), "event": "redemption.requested"}
    await notify_people(
        session,
        principal.tenant_id,
        [
            EventNote(
                a["id"],
                f"redemption:{row.id}:requested:{a['id']}",
                subject,
                body,
                data,
                channels=frozenset({"in_app"}),
            )
            for a in admins
        ],
    )


async def _locked(session: Executor, principal: Principal, redemption_id: uuid.UUID) -> Any:
    """The redemption, locked for this transaction; NOT_FOUND unless the principal reads it."""
    row = (
        await session.execute(
            sa.select(t_redemption).where(t_redemption.c.id == redemption_id).with_for_update()
        )
    ).first()
    if row is None or not can_read(principal, row):
        raise NotFound("no redemption with this id", field="id")
    return row


def _must_be_pending(row: Any, verb: str) -> None:
    if row.status != "requested":
        raise Conflict(
            f"this redemption is {row.status}: only a pending one can be {verb}", field="id"
        )


def _decider(principal: Principal, row: Any, verb: str) -> None:
    principal.require_hr(f"{verb} a redemption")
    if row.employee_id == principal.employee_id:
        raise Forbidden(f"another HR admin decides your own redemption: you cannot {verb} it")


async def _close(
    session: Executor,
    principal: Principal,
    row: Any,
    *,
    to: str,
    action: str,
    note: str | None,
    extra: dict[str, Any] | None = None,
) -> Any:
    updated = (
        await session.execute(
            sa.update(t_redemption)
            .where(t_redemption.c.id == row.id)
            .values(
                status=to,
                decided_by=principal.employee_id,
                decided_at=clock.now(),
                decision_note=note,
            )
            .returning(t_redemption)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action=f"redemption.{action}",
        target_type="Redemption",
        target_id=row.id,
        changes={
            **audit.diff(
                {"status": row.status, "decision_note": row.decision_note},
                {"status": to, "decision_note": note},
            ),
            **audit.diff({}, extra or {}),
        },
    )
    return updated


async def _give_back_stock(session: Executor, reward_id: uuid.UUID) -> None:
    await fetch(
        session,
        "update rewards set stock = stock + 1 where id = $1 and stock is not null",
        reward_id,
    )


async def _tell_requester(
    session: Executor, principal: Principal, row: Any, *, verb: str, note: str | None
) -> None:
    from upward.reminders.outbox import EventNote, notify_people

    reward = (await rewards_by_ids(session, [row.reward_id]))[row.reward_id]
    if verb == "approved":
        subject = f"Your {reward.name} is on its way ({row.cost} points redeemed)"
    else:
        subject = f"Your request for {reward.name} was declined (no points were used)"
    body = subject + (f": {note}" if note else ".")
    await notify_people(
        session,
        principal.tenant_id,
        [
            EventNote(
                row.employee_id,
                f"redemption:{row.id}:{verb}",
                subject,
                body,
                {"redemption_id": str(row.id), "event": f"redemption.{verb}"},
            )
        ],
    )


async def approve(
    session: Executor,
    principal: Principal,
    *,
    redemption_id: uuid.UUID,
    note: str | None = None,
) -> Any:
    """HR approves a pending request: its cost leaves the requester's balance (to the tenant's
    `rewards` account) in one ledger transaction. CONFLICT when it is no longer pending (also
    when two approvals race: the second waits for the first and finds it approved) or when the
    balance no longer covers the cost."""
    principal.require_hr("approving a redemption")
    text = optional_text(note, field="note", max_len=MAX_NOTE)
    row = await _locked(session, principal, redemption_id)
    _decider(principal, row, "approve")
    _must_be_pending(row, "approved")
    await ledger.lock_spender(session, row.employee_id)
    balance = (await ledger.balances(session, [row.employee_id]))[row.employee_id]
    if balance < row.cost:
        raise Conflict(
            f"the requester has {balance} points, less than the {row.cost} this costs: decline it",
            field="id",
        )
    now = clock.now()
    transaction_id = await ledger.post(
        session,
        kind="redemption",
        legs=[
            ledger.Leg("received", row.employee_id, -row.cost),
            ledger.Leg("rewards", None, row.cost),
        ],
        period=ledger.period_of(now, principal.tenant_timezone),
        redemption_id=row.id,
        actor_id=principal.employee_id,
    )
    updated = await _close(
        session,
        principal,
        row,
        to="approved",
        action="approve",
        note=text,
        extra={"transaction_id": transaction_id},
    )
    await _tell_requester(session, principal, updated, verb="approved", note=text)
    await _event(session, principal, updated, "approved")
    return updated


async def decline(
    session: Executor,
    principal: Principal,
    *,
    redemption_id: uuid.UUID,
    note: str | None = None,
) -> Any:
    """HR declines a pending request: no points move, the unit of stock goes back."""
    principal.require_hr("declining a redemption")
    text = optional_text(note, field="note", max_len=MAX_NOTE)
    row = await _locked(session, principal, redemption_id)
    _decider(principal, row, "decline")
    _must_be_pending(row, "declined")
    updated = await _close(session, principal, row, to="declined", action="decline", note=text)
    await _give_back_stock(session, row.reward_id)
    await _tell_requester(session, principal, updated, verb="declined", note=text)
    await _event(session, principal, updated, "declined")
    return updated


async def cancel(session: Executor, principal: Principal, *, redemption_id: uuid.UUID) -> Any:
    """The requester withdraws their pending request: no points move, the stock goes back."""
    row = await _locked(session, principal, redemption_id)
    if row.employee_id != principal.employee_id:
        raise Forbidden("only the requester cancels a redemption (HR declines it)")
    _must_be_pending(row, "cancelled")
    updated = await _close(session, principal, row, to="cancelled", action="cancel", note=None)
    await _give_back_stock(session, row.reward_id)
    return updated
