"""The points ledger: append-only, double-entry, every balance derived from its entries.

An account is a kind and, for a person's accounts, the person:

- `received`: what a person was given (kudos, milestones); redeemable for rewards;
- `allowance`: a person's monthly giving allowance; giving debits it in the month given;
- `award`: a manager's extra monthly award budget, the same way;
- `company`: the tenant's budget that funds milestones (it only goes down);
- `rewards`: where redeemed points go.

A monthly budget is computed, never reset: what is left of it in a month is the month's
allowance (tenant setting, overridden per job level or person) plus the sum of the account's
entries whose `period` is that month (giving writes negative amounts). The month is the
tenant's: `period_of(now, tenant timezone)`, so it renews at midnight on the first, local time,
whether or not any job runs.

Everything that spends a person's points (their gives from any budget, their redemptions) is
serialized per person by a transaction-level advisory lock (`lock_spender`), taken before the
budget or balance is read and held to the commit, so concurrent gives or redemptions of one
person see each other's entries and cannot overspend. Deferred triggers refuse, at
commit, any transaction whose entries do not sum to zero or that has fewer than two.
Services never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from upward import clock
from upward.db import Executor, fetch, xact_lock
from upward.errors import BadUserInput

MAX_POINTS = 100_000


@dataclass(frozen=True, slots=True)
class Rules:
    """The tenant's points settings (`recognition_settings`, or these defaults)."""

    monthly_allowance: int = 100
    manager_award_budget: int = 0
    max_points_per_kudos: int = 50
    nudge_after_days: int = 30


DEFAULTS = Rules()


@dataclass(frozen=True, slots=True)
class Leg:
    account: str
    employee_id: uuid.UUID | None
    amount: int


@dataclass(frozen=True, slots=True)
class Budget:
    """A monthly budget in `period`: how much it is, how much was spent from it."""

    period: date
    monthly: int
    spent: int

    @property
    def left(self) -> int:
        return max(self.monthly - self.spent, 0)


def period_of(moment: datetime, timezone: str) -> date:
    """The first day of `moment`'s month in `timezone`."""
    return moment.astimezone(clock.zone(timezone)).date().replace(day=1)


def current_period(timezone: str) -> date:
    return period_of(clock.now(), timezone)


async def rules_of(session: Executor) -> Rules:
    rows = await fetch(
        session,
        "select monthly_allowance, manager_award_budget, max_points_per_kudos, nudge_after_days "
        "from recognition_settings",
    )
    return Rules(**dict(rows[0])) if rows else DEFAULTS


async def monthly_budgets(
    session: Executor, employee_ids: Sequence[uuid.UUID], rules: Rules | None = None
) -> dict[uuid.UUID, tuple[int, int]]:
    """{employee: (monthly allowance, monthly award budget)}: the person's override, else their
    job level's, else the tenant's. The tenant's award budget applies to managers (people with
    an active direct report); an override gives one to anyone."""
    rules = rules or await rules_of(session)
    rows = await fetch(
        session,
        """
        select e.id,
               coalesce(pe.monthly_allowance, pl.monthly_allowance, $2) as allowance,
               coalesce(pe.award_budget, pl.award_budget,
                        case when exists (select 1 from employees r where r.tenant_id = e.tenant_id
                                          and r.manager_id = e.id and r.status = 'active')
                             then $3 else 0 end) as award
        from employees e
        left join points_allowances pe on pe.tenant_id = e.tenant_id and pe.employee_id = e.id
        left join points_allowances pl on pl.tenant_id = e.tenant_id and pl.job_level = e.job_level
        where e.id = any($1::uuid[])
        """,
        list(employee_ids),
        rules.monthly_allowance,
        rules.manager_award_budget,
    )
    return {r["id"]: (r["allowance"], r["award"]) for r in rows}


async def spent_in(
    session: Executor, employee_ids: Sequence[uuid.UUID], period: date
) -> dict[tuple[uuid.UUID, str], int]:
    """{(employee, account): points given from it in `period`} for the monthly accounts
    (`allowance`, `award`), every pair present, in one statement."""
    rows = await fetch(
        session,
        "select employee_id, account, -sum(amount)::int as spent from points_entries "
        "where employee_id = any($1::uuid[]) and account in ('allowance', 'award') "
        "and period = $2 group by employee_id, account",
        list(employee_ids),
        period,
    )
    out = {(e, a): 0 for e in employee_ids for a in ("allowance", "award")}
    out.update({(r["employee_id"], r["account"]): r["spent"] for r in rows})
    return out


async def budgets(
    session: Executor,
    employee_ids: Sequence[uuid.UUID],
    period: date,
    rules: Rules | None = None,
) -> dict[uuid.UUID, dict[str, Budget]]:
    """{employee: {"allowance": Budget, "award": Budget}} for `period`."""
    monthly = await monthly_budgets(session, employee_ids, rules)
    spent = await spent_in(session, employee_ids, period)
    out: dict[uuid.UUID, dict[str, Budget]] = {}
    for eid in employee_ids:
        allowance, award = monthly.get(eid, (0, 0))
        out[eid] = {
            "allowance": Budget(period, allowance, spent[(eid, "allowance")]),
            "award": Budget(period, award, spent[(eid, "award")]),
        }
    return out


async def balances(session: Executor, employee_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """{employee: points received and not redeemed} (every id present)."""
    rows = await fetch(
        session,
        "select employee_id, sum(amount)::int as balance from points_entries "
        "where employee_id = any($1::uuid[]) and account = 'received' group by employee_id",
        list(employee_ids),
    )
    out = dict.fromkeys(employee_ids, 0)
    out.update({r["employee_id"]: r["balance"] for r in rows})
    return out


async def lock_spender(session: Executor, employee_id: uuid.UUID) -> None:
    """Serialize everything that spends a person's points (their gives from any budget, their
    redemptions) until the transaction ends. Credits to them need no lock."""
    await xact_lock(session, "points", employee_id)


async def post(
    session: Executor,
    *,
    kind: str,
    legs: Sequence[Leg],
    period: date,
    kudos_id: uuid.UUID | None = None,
    redemption_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> uuid.UUID:
    """Write one balanced transaction (its entries sum to zero) in one statement, at `at`
    (default: now). The caller holds the spender's lock and checked the budget."""
    legs = [leg for leg in legs if leg.amount != 0]
    if len(legs) < 2 or sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"a points transaction must balance: {legs}")
    rows = await fetch(
        session,
        """
        with t as (
            insert into points_transactions
                (tenant_id, kind, kudos_id, redemption_id, actor_id, created_at)
            values (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5)
            returning id
        )
        insert into points_entries
            (tenant_id, transaction_id, account, employee_id, amount, period, created_at)
        select current_setting('app.tenant_id')::uuid, t.id, x.account, x.employee_id,
               x.amount, $6, $5
        from t, unnest($7::text[], $8::uuid[], $9::int[]) as x(account, employee_id, amount)
        returning transaction_id
        """,
        kind,
        kudos_id,
        redemption_id,
        actor_id,
        at or clock.now(),
        period,
        [leg.account for leg in legs],
        [leg.employee_id for leg in legs],
        [leg.amount for leg in legs],
    )
    return rows[0]["transaction_id"]


async def reserve(
    session: Executor,
    *,
    giver_id: uuid.UUID,
    account: str,
    total: int,
    period: date,
    field: str,
    rules: Rules | None = None,
) -> None:
    """Take the giver's lock and check that `total` points fit in what is left of their
    monthly `account` (allowance or award) in `period`, or refuse with BAD_USER_INPUT on
    `field`. Call it before writing anything, then `give` once the kudos exists: a refused or
    waiting give holds no rows."""
    await lock_spender(session, giver_id)
    budget = (await budgets(session, [giver_id], period, rules))[giver_id][account]
    if budget.monthly == 0 and account == "award":
        raise BadUserInput("you have no award budget", field=field)
    if total > budget.left:
        what = "allowance" if account == "allowance" else "award budget"
        raise BadUserInput(
            f"{total} points is more than the {budget.left} left of your {what} this month "
            f"({budget.monthly} a month, renewed on the 1st)",
            field=field,
        )


async def give(
    session: Executor,
    *,
    giver_id: uuid.UUID,
    account: str,
    receiver_ids: Sequence[uuid.UUID],
    points_each: int,
    period: date,
    kudos_id: uuid.UUID,
    at: datetime | None = None,
) -> uuid.UUID | None:
    """Move `points_each` to every receiver's `received` account from the giver's `account`
    (after `reserve`, in the same transaction)."""
    if points_each <= 0:
        return None
    legs = [Leg(account, giver_id, -points_each * len(receiver_ids))] + [
        Leg("received", r, points_each) for r in receiver_ids
    ]
    return await post(session, kind="kudos", legs=legs, period=period, kudos_id=kudos_id, at=at)


async def fund_from_company(
    session: Executor,
    *,
    employee_id: uuid.UUID,
    points: int,
    period: date,
    kudos_id: uuid.UUID,
) -> uuid.UUID | None:
    """A milestone's points: from the tenant's company budget to the person."""
    if points <= 0:
        return None
    return await post(
        session,
        kind="milestone",
        legs=[Leg("company", None, -points), Leg("received", employee_id, points)],
        period=period,
        kudos_id=kudos_id,
    )


def check_points(value: int, *, field: str, most: int) -> int:
    if not 0 <= value <= most:
        raise BadUserInput(f"points must be from 0 to {most}", field=field)
    return value
