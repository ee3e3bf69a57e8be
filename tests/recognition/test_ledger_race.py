"""The points ledger under concurrency, against the real Postgres, through the API: concurrent
redemption requests, approvals and gives never overspend, never lose or duplicate an entry, and
afterwards every transaction balances and every balance equals the sum of its ledger lines.

Each race first holds the contended lock from a connection of its own until every request is
waiting on it, so the requests really run at the same time (each on its own connection), then
lets them go at once."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import Awaitable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, SMALL_ORG, TenantInfo, error_codes
from tests.recognition.test_rewards import (
    APPROVE,
    CANCEL,
    DECLINE,
    SUMMARY,
    create_reward,
    fund,
    request,
)
from tests.recognition.test_rewards import raw_id as raw

N = 20  # concurrent requests of a race (each holds a pooled connection while it waits)
GIVE = """mutation($i: GiveKudosInput!) { giveKudos(input: $i) { id } }"""


def _org(people: int) -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    for i in range(people):
        o["employees"].append(
            {"email": f"p{i}@t.example", "name": f"Person {i:02d}", "manager": "lead@t.example"}
        )
    return o


@pytest.fixture(autouse=True)
def every_request_at_once(app: Any) -> Any:
    """The races need all N requests inside the database at once: lift the process's
    admission limit (graphql/admission.py, 12 by default) for them."""
    gate = app.state.gate
    saved, gate.limit = gate.limit, 0
    try:
        yield
    finally:
        gate.limit = saved


@asynccontextmanager
async def held(owner_engine: Any, t: TenantInfo, sql: str, params: dict[str, Any]) -> Any:
    """Hold a lock (`sql`, in a transaction of its own, with the tenant set) until the block
    ends; yields a function that waits until `n` sessions of the test database are blocked (on
    it, or on each other behind it) and returns how many are."""
    async with owner_engine.connect() as blocker:
        await blocker.begin()
        await blocker.execute(
            sa.text("select set_config('app.tenant_id', :t, true)"), {"t": str(t.id)}
        )
        await blocker.execute(sa.text(sql), params)
        pid = await blocker.scalar(sa.text("select pg_backend_pid()"))

        async def waiting(n: int) -> int:
            count = 0
            async with owner_engine.connect() as probe:
                for _ in range(1200):  # up to 30 s on a loaded 2-core machine
                    await asyncio.sleep(0.025)
                    count = await probe.scalar(
                        sa.text(
                            "select count(*) from pg_stat_activity where pid <> :pid "
                            "and datname = current_database() "
                            "and cardinality(pg_blocking_pids(pid)) > 0"
                        ),
                        {"pid": pid},
                    )
                    if count >= n:
                        break
            return count

        try:
            yield waiting
        finally:
            await blocker.rollback()


def spender_lock(t: TenantInfo, email: str) -> tuple[str, dict[str, Any]]:
    """The SQL of `ledger.lock_spender` for the person (upward.db.xact_lock's key)."""
    return (
        "select pg_advisory_xact_lock(hashtextextended(current_setting('app.tenant_id') "
        "|| ':' || :k, 0))",
        {"k": f"points:{t.ids[email]}"},
    )


def reward_row(reward_id: Any) -> tuple[str, dict[str, Any]]:
    return "select 1 from rewards where id = :r for update", {"r": reward_id}


async def race(
    owner_engine: Any,
    t: TenantInfo,
    lock: tuple[str, dict[str, Any]],
    calls: list[Awaitable[Any]],
) -> list[Any]:
    """Start every call while `lock` is held, check they all wait on it, then release it."""
    async with held(owner_engine, t, *lock) as waiting:
        tasks = [asyncio.ensure_future(c) for c in calls]
        blocked = await waiting(len(tasks))
    results = await asyncio.gather(*tasks)
    assert blocked == len(tasks), f"only {blocked} of {len(tasks)} requests ran concurrently"
    return results


async def check_ledger(
    owner_engine: Any, t: TenantInfo, expected: dict[tuple[str, Any], int] | None
) -> None:
    """The ledger's invariants, read as the owner: every transaction has at least two entries
    and sums to zero; every account's balance is `expected`; no person's received balance is
    negative; no stock is; every approved redemption has exactly one transaction that moved
    exactly its cost; every kudos with points exactly one."""
    async with owner_engine.connect() as conn:

        async def rows(sql: str) -> list[Any]:
            return list((await conn.execute(sa.text(sql), {"t": t.id})).all())

        bad = await rows(
            "select x.id, count(e.id), coalesce(sum(e.amount), 0) from points_transactions x "
            "left join points_entries e on e.tenant_id = x.tenant_id and e.transaction_id = x.id "
            "where x.tenant_id = :t group by x.id "
            "having count(e.id) < 2 or coalesce(sum(e.amount), 0) <> 0"
        )
        assert bad == [], bad
        balances = {
            (r[0], r[1]): r[2]
            for r in await rows(
                "select account, employee_id, sum(amount)::int from points_entries "
                "where tenant_id = :t group by account, employee_id"
            )
        }
        if expected is not None:
            assert balances == expected
        negative = {k: v for k, v in balances.items() if k[0] == "received" and v < 0}
        assert negative == {}, "a received balance below zero"
        assert await rows("select id from rewards where tenant_id = :t and stock < 0") == []
        paid = await rows(
            "select r.id, r.cost, count(distinct x.id), "
            "array_agg(e.account || ':' || e.amount order by e.amount) "
            "from redemptions r left join points_transactions x "
            "on x.tenant_id = r.tenant_id and x.redemption_id = r.id "
            "left join points_entries e on e.tenant_id = x.tenant_id and e.transaction_id = x.id "
            "where r.tenant_id = :t and r.status = 'approved' group by r.id, r.cost"
        )
        for rid, cost, n, legs in paid:
            assert n == 1 and legs == [f"received:-{cost}", f"rewards:{cost}"], (rid, legs)
        unpaid = await rows(
            "select x.id from points_transactions x join redemptions r "
            "on r.tenant_id = x.tenant_id and r.id = x.redemption_id "
            "where x.tenant_id = :t and r.status <> 'approved'"
        )
        assert unpaid == []
        kudos = await rows(
            "select k.id, count(x.id) from kudos k left join points_transactions x "
            "on x.tenant_id = k.tenant_id and x.kudos_id = k.id "
            "where k.tenant_id = :t and k.points > 0 group by k.id having count(x.id) <> 1"
        )
        assert kudos == []
        overheld = await rows(
            "select r.employee_id, sum(r.cost) from redemptions r where r.tenant_id = :t "
            "and r.status = 'requested' group by r.employee_id having sum(r.cost) > "
            "(select coalesce(sum(e.amount), 0) from points_entries e where e.tenant_id = :t "
            "and e.employee_id = r.employee_id and e.account = 'received')"
        )
        assert overheld == [], "pending requests hold more than the balance"


async def test_the_demo_ledgers_add_up(
    gql: GQL, owner_engine: Any, acme: TenantInfo, globex: TenantInfo
) -> None:
    """The demo tenants' points obey the same rules as the API's: balanced transactions, no
    negative balance, holds within balances, and the API's balances are the ledger's sums."""
    for t in (acme, globex):
        await check_ledger(owner_engine, t, None)
        async with owner_engine.connect() as conn:
            sums = dict(
                (
                    await conn.execute(
                        sa.text(
                            "select employee_id, sum(amount)::int from points_entries "
                            "where tenant_id = :t and account = 'received' group by employee_id"
                        ),
                        {"t": t.id},
                    )
                ).all()
            )
        emails = {v: k for k, v in t.ids.items()}
        hr = t.token(f"hr@{t.slug}.example")
        for eid, total in list(sums.items())[:10]:
            got = await gql.ok(SUMMARY, {"e": t.gid(emails[eid])}, token=hr)
            assert got["pointsSummary"]["balance"] == total


async def api_balances(gql: GQL, t: TenantInfo, emails: list[str]) -> dict[str, int]:
    hr = t.token("hr@t.example")
    out = {}
    for email in emails:
        got = await gql.ok(SUMMARY, {"e": t.gid(email)}, token=hr)
        out[email] = got["pointsSummary"]["balance"]
    return out


async def test_concurrent_requests_and_approvals_never_overspend(
    gql: GQL, make_tenant: Any, owner_engine: Any
) -> None:
    """A balance of 75 and N concurrent requests of 10: exactly 7 succeed; approving them all
    at once, each twice, approves each exactly once and leaves 5."""
    t: TenantInfo = await make_tenant()
    dev = t.ids["dev@t.example"]
    await fund(owner_engine, t, "dev@t.example", 75)
    reward = await create_reward(gql, t, name="Sticker", cost=10)
    # held: the reward's row, where a request takes its unit of stock, after it has read the
    # balance and the holds (one request waits there, the others on the spender lock; without
    # that lock, all of them would have read the same balance)
    bodies = await race(
        owner_engine,
        t,
        reward_row(raw(reward["id"])),
        [request(gql, t, "dev@t.example", reward["id"]) for _ in range(N)],
    )
    ok = [b["data"]["requestRedemption"]["id"] for b in bodies if "errors" not in b]
    refused = [b["errors"][0]["extensions"] for b in bodies if "errors" in b]
    assert len(ok) == 7 and len(set(ok)) == 7
    assert refused == [{"code": "BAD_USER_INPUT", "field": "input.rewardId"}] * (N - 7)
    s = (await gql.ok(SUMMARY, {}, token=t.token("dev@t.example")))["pointsSummary"]
    assert (s["balance"], s["held"], s["available"]) == (75, 70, 5)

    # approve all of them at once, each twice: every one exactly once
    hr = t.token("hr@t.example")
    approvals = await race(
        owner_engine,
        t,
        spender_lock(t, "dev@t.example"),
        [gql(APPROVE, {"id": i}, token=hr) for i in ok + ok],
    )
    codes = Counter(
        "OK" if "errors" not in b else b["errors"][0]["extensions"]["code"] for b in approvals
    )
    assert codes == {"OK": 7, "CONFLICT": 7}
    await check_ledger(
        owner_engine,
        t,
        {("company", None): -75, ("received", dev): 5, ("rewards", None): 70},
    )
    s = (await gql.ok(SUMMARY, {}, token=t.token("dev@t.example")))["pointsSummary"]
    assert (s["balance"], s["held"], s["available"]) == (5, 0, 5)


async def test_concurrent_requests_never_take_more_than_the_stock(
    gql: GQL, make_tenant: Any, owner_engine: Any
) -> None:
    """N people with points ask at once for a reward with 3 left: exactly 3 get one, the stock
    ends at 0, never below; declining and cancelling them at once puts the 3 back."""
    t: TenantInfo = await make_tenant(_org(N))
    people = [f"p{i}@t.example" for i in range(N)]
    for email in people:
        await fund(owner_engine, t, email, 50)
    reward = await create_reward(gql, t, name="Concert ticket", cost=20, stock=3)
    reward_id = raw(reward["id"])
    lock = reward_row(reward_id)
    bodies = await race(
        owner_engine, t, lock, [request(gql, t, email, reward["id"]) for email in people]
    )
    won = [
        (p, b["data"]["requestRedemption"]["id"])
        for p, b in zip(people, bodies, strict=True)
        if "errors" not in b
    ]
    assert len(won) == 3
    lost = [b for b in bodies if "errors" in b]
    assert {b["errors"][0]["message"] for b in lost} == {"'Concert ticket' is out of stock"}
    async with owner_engine.connect() as conn:
        stock = await conn.scalar(
            sa.text("select stock from rewards where id = :r"), {"r": reward_id}
        )
    assert stock == 0
    # one declined, two cancelled, all at once
    hr = t.token("hr@t.example")
    calls = [gql(DECLINE, {"id": won[0][1]}, token=hr)] + [
        gql(CANCEL, {"id": rid}, token=t.token(p)) for p, rid in won[1:]
    ]
    assert all("errors" not in b for b in await race(owner_engine, t, lock, calls))
    async with owner_engine.connect() as conn:
        stock = await conn.scalar(
            sa.text("select stock from rewards where id = :r"), {"r": reward_id}
        )
    assert stock == 3
    expected = {("company", None): -50 * N}
    expected.update({("received", t.ids[p]): 50 for p in people})
    await check_ledger(owner_engine, t, expected)


async def _company_values(owner_engine: Any, t: TenantInfo) -> list[str]:
    from upward.graphql.relay import to_global_id

    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "select id from company_values where tenant_id = :t and active "
                    "order by position limit 1"
                ),
                {"t": t.id},
            )
        ).all()
    return [to_global_id("CompanyValue", r[0]) for r in rows]


async def test_concurrent_gives_never_overspend_the_allowance(
    gql: GQL, make_tenant: Any, owner_engine: Any
) -> None:
    """A monthly allowance of 100 and N concurrent gives of 10 points from one giver: exactly 10
    succeed (giving locks the giver like a redemption does)."""
    t: TenantInfo = await make_tenant()
    values = await _company_values(owner_engine, t)
    give = {
        "receiverIds": [t.gid("peer@t.example")],
        "message": "Thanks!",
        "valueIds": values,
        "points": 10,
    }
    bodies = await race(
        owner_engine,
        t,
        spender_lock(t, "dev@t.example"),
        [gql(GIVE, {"i": give}, token=t.token("dev@t.example")) for _ in range(N)],
    )
    ok = [b for b in bodies if "errors" not in b]
    assert len(ok) == 10
    refused = [b["errors"][0]["extensions"] for b in bodies if "errors" in b]
    assert refused == [{"code": "BAD_USER_INPUT", "field": "input.points"}] * (N - 10)
    dev, peer = t.ids["dev@t.example"], t.ids["peer@t.example"]
    await check_ledger(owner_engine, t, {("allowance", dev): -100, ("received", peer): 100})
    s = (await gql.ok(SUMMARY, {}, token=t.token("dev@t.example")))["pointsSummary"]
    assert s["allowance"] == {**s["allowance"], "monthly": 100, "spent": 100, "left": 0}
    assert (await api_balances(gql, t, ["peer@t.example"])) == {"peer@t.example": 100}


async def test_gives_and_redemptions_at_once(gql: GQL, make_tenant: Any, owner_engine: Any) -> None:
    """A person with 30 points is given 10 points by each of N/2 colleagues while they ask N/2
    times for a reward of 20, all at once; then every pending request is approved at once. How
    many requests go through depends on how they interleave with the gives, but never more
    than the points the person had, and the ledger adds up."""
    half = N // 2
    t: TenantInfo = await make_tenant(_org(half))
    givers = [f"p{i}@t.example" for i in range(half)]
    values = await _company_values(owner_engine, t)
    await fund(owner_engine, t, "dev@t.example", 30)
    reward = await create_reward(gql, t, name="Coffee", cost=20)
    give = {
        "receiverIds": [t.gid("dev@t.example")],
        "message": "Thank you",
        "valueIds": values,
        "points": 10,
    }
    calls: list[Awaitable[Any]] = []
    for g in givers:  # interleaved: a give, a request, a give...
        calls.append(gql(GIVE, {"i": give}, token=t.token(g)))
        calls.append(request(gql, t, "dev@t.example", reward["id"]))
    bodies = await asyncio.gather(*calls)
    gives, requests = bodies[0::2], bodies[1::2]
    assert all("errors" not in b for b in gives), [b.get("errors") for b in gives]
    ok = [b["data"]["requestRedemption"]["id"] for b in requests if "errors" not in b]
    assert all(error_codes(b) == ["BAD_USER_INPUT"] for b in requests if "errors" in b)
    total = 30 + 10 * half
    assert 1 <= len(ok) <= total // 20
    hr = t.token("hr@t.example")
    approvals = await asyncio.gather(*(gql(APPROVE, {"id": i}, token=hr) for i in ok))
    assert all("errors" not in b for b in approvals), approvals
    dev = t.ids["dev@t.example"]
    left = total - 20 * len(ok)
    expected = {
        ("company", None): -30,
        ("received", dev): left,
        ("rewards", None): 20 * len(ok),
    }
    expected.update({("allowance", t.ids[g]): -10 for g in givers})
    await check_ledger(owner_engine, t, expected)
    assert await api_balances(gql, t, ["dev@t.example", *givers]) == {
        "dev@t.example": left,
        **dict.fromkeys(givers, 0),
    }
    async with owner_engine.connect() as conn:
        n_kudos = await conn.scalar(
            sa.text("select count(*) from kudos where tenant_id = :t and kind = 'peer'"),
            {"t": t.id},
        )
        statuses = Counter(
            r[0]
            for r in (
                await conn.execute(
                    sa.text("select status from redemptions where tenant_id = :t"), {"t": t.id}
                )
            ).all()
        )
    assert n_kudos == half
    assert statuses == {"approved": len(ok)}
