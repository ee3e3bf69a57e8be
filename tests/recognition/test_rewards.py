"""Rewards, redemptions and points through HTTP: the catalog (HR writes, everyone reads), the
request -> approve | decline | cancel workflow with its holds, stock, ledger, notifications,
audit and domain events; who reads what; points summary and history; statement counts;
isolation between tenants."""

from __future__ import annotations

import copy
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from tests.conftest import GQL, SMALL_ORG, TenantInfo, error_codes, only_error
from upward import clock
from upward.graphql.relay import to_global_id

CREATE = """mutation($i: CreateRewardInput!) { createReward(input: $i) {
  id name description cost stock active } }"""
UPDATE = """mutation($id: ID!, $i: UpdateRewardInput!) { updateReward(id: $id, input: $i) {
  id name description cost stock active } }"""
REWARDS = """query($f: RewardFilter, $o: RewardOrder, $n: Int, $a: String) {
  rewards(filter: $f, orderBy: $o, first: $n, after: $a) { totalCount
    pageInfo { hasNextPage endCursor } edges { node { name cost stock active } } } }"""
REQUEST = """mutation($i: RequestRedemptionInput!) { requestRedemption(input: $i) {
  id status cost note reward { name stock } employee { email } decidedBy { email } } }"""
APPROVE = """mutation($id: ID!, $n: String) { approveRedemption(id: $id, note: $n) {
  id status cost decidedBy { email } decidedAt decisionNote } }"""
DECLINE = """mutation($id: ID!, $n: String) { declineRedemption(id: $id, note: $n) {
  id status decidedBy { email } decisionNote reward { stock } } }"""
CANCEL = "mutation($id: ID!) { cancelRedemption(id: $id) { id status reward { stock } } }"
NODE = """query($id: ID!) { node(id: $id) { id ... on Redemption { status cost
  employee { email } } ... on Reward { name } } }"""
LIST = """query($f: RedemptionFilter, $n: Int) { redemptions(filter: $f, first: $n) {
  totalCount edges { node { status cost employee { email } reward { name } } } } }"""
SUMMARY = """query($e: ID) { pointsSummary(employeeId: $e) { employee { email } balance held
  available allowance { monthly spent left period renewsOn }
  awardBudget { monthly spent left period renewsOn } } }"""
HISTORY = """query($e: ID, $acc: PointsAccount, $n: Int) {
  pointsHistory(employeeId: $e, account: $acc, first: $n) { totalCount edges { node {
    amount account kind period kudosId redemptionId redemption { status } } } } }"""


# --- helpers (shared with test_ledger_race) ----------------------------------------------------


def period_now() -> date:
    return clock.now().astimezone(clock.zone("Europe/Berlin")).date().replace(day=1)


async def fund(owner_engine: Any, t: TenantInfo, email: str, points: int) -> uuid.UUID:
    """Give `email` points as a milestone of the company (a kudos from no one and one balanced
    ledger transaction: company -points, the person's received +points), written as the owner.
    Returns the kudos id."""
    async with owner_engine.begin() as conn:
        return await conn.scalar(
            sa.text(
                """
                with k as (
                    insert into kudos (tenant_id, kind, giver_id, message, points, milestone_kind)
                    values (:t, 'milestone', null, 'A milestone', :p, 'work_anniversary')
                    returning id
                ), r as (
                    insert into kudos_receivers (tenant_id, kudos_id, employee_id)
                    select :t, k.id, :e from k
                ), x as (
                    insert into points_transactions (tenant_id, kind, kudos_id)
                    select :t, 'milestone', k.id from k returning id
                ), e as (
                    insert into points_entries
                        (tenant_id, transaction_id, account, employee_id, amount, period)
                    select :t, x.id, a.account, a.employee_id, a.amount, :period
                    from x, (values ('company', null::uuid, -cast(:p as int)),
                                    ('received', cast(:e as uuid), cast(:p as int)))
                         as a(account, employee_id, amount)
                )
                select id from k
                """
            ),
            {"t": t.id, "e": t.ids[email], "p": points, "period": period_now()},
        )


async def create_reward(gql: GQL, t: TenantInfo, **values: Any) -> dict[str, Any]:
    data = {"name": f"Reward {uuid.uuid4().hex[:6]}", "cost": 10, **values}
    return (await gql.ok(CREATE, {"i": data}, token=t.token("hr@t.example")))["createReward"]


async def request(gql: GQL, t: TenantInfo, email: str, reward_id: str, **kw: Any) -> Any:
    return await gql(REQUEST, {"i": {"rewardId": reward_id, **kw}}, token=t.token(email))


async def summary(gql: GQL, t: TenantInfo, email: str, of: str | None = None) -> dict[str, Any]:
    got = await gql.ok(SUMMARY, {"e": t.gid(of) if of else None}, token=t.token(email))
    return got["pointsSummary"]


async def audit_rows(owner_engine: Any, t: TenantInfo, action: str) -> list[Any]:
    async with owner_engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.text(
                        "select target_id, actor_id, changes from audit_events "
                        "where tenant_id = :t and action = :a order by occurred_at"
                    ),
                    {"t": t.id, "a": action},
                )
            ).all()
        )


async def inbox(gql: GQL, t: TenantInfo, email: str) -> list[str]:
    got = await gql.ok(
        "{ notifications(first: 50) { edges { node { subject } } } }", token=t.token(email)
    )
    return [e["node"]["subject"] for e in got["notifications"]["edges"]]


def raw_id(global_id: str) -> uuid.UUID:
    import base64

    return uuid.UUID(base64.b64decode(global_id).decode().partition(":")[2])


def code_field(body: dict[str, Any]) -> tuple[str, str | None]:
    ext = only_error(body)["extensions"]
    return ext["code"], ext.get("field")


# --- the catalog -------------------------------------------------------------------------------


class TestCatalog:
    async def test_hr_creates_everyone_lists(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t: TenantInfo = await make_tenant()
        mug = await create_reward(
            gql, t, name="  Coffee mug ", cost=50, stock=3, description="Ceramic"
        )
        assert mug == {
            "id": mug["id"],
            "name": "Coffee mug",
            "description": "Ceramic",
            "cost": 50,
            "stock": 3,
            "active": True,
        }
        await create_reward(gql, t, name="amazon voucher", cost=500)
        await create_reward(gql, t, name="Day off", cost=2000, active=False)
        dev = t.token("dev@t.example")
        listed = (await gql.ok(REWARDS, {}, token=dev))["rewards"]
        assert listed["totalCount"] == 2
        assert [e["node"] for e in listed["edges"]] == [
            {"name": "amazon voucher", "cost": 500, "stock": None, "active": True},
            {"name": "Coffee mug", "cost": 50, "stock": 3, "active": True},
        ]
        by_cost = (await gql.ok(REWARDS, {"o": "COST_ASC"}, token=dev))["rewards"]
        assert [e["node"]["name"] for e in by_cost["edges"]] == ["Coffee mug", "amazon voucher"]
        # retired ones: HR only (ignored for others)
        inactive = {"f": {"includeInactive": True}}
        assert (await gql.ok(REWARDS, inactive, token=dev))["rewards"]["totalCount"] == 2
        hr_view = (await gql.ok(REWARDS, inactive, token=t.token("hr@t.example")))["rewards"]
        assert [e["node"]["name"] for e in hr_view["edges"]] == [
            "amazon voucher",
            "Coffee mug",
            "Day off",
        ]
        search = (await gql.ok(REWARDS, {"f": {"search": "MUG"}}, token=dev))["rewards"]
        assert [e["node"]["name"] for e in search["edges"]] == ["Coffee mug"]
        # paging: cursors in both orders
        first = (await gql.ok(REWARDS, {"n": 1}, token=dev))["rewards"]
        assert first["pageInfo"]["hasNextPage"] is True
        second = (await gql.ok(REWARDS, {"n": 1, "a": first["pageInfo"]["endCursor"]}, token=dev))[
            "rewards"
        ]
        assert [e["node"]["name"] for e in second["edges"]] == ["Coffee mug"]
        assert second["pageInfo"]["hasNextPage"] is False
        first = (await gql.ok(REWARDS, {"n": 1, "o": "COST_ASC"}, token=dev))["rewards"]
        second = (
            await gql.ok(
                REWARDS, {"n": 1, "o": "COST_ASC", "a": first["pageInfo"]["endCursor"]}, token=dev
            )
        )["rewards"]
        assert [e["node"]["name"] for e in second["edges"]] == ["amazon voucher"]
        # a cursor of one order is not one of the other
        body = await gql(REWARDS, {"n": 1, "a": first["pageInfo"]["endCursor"]}, token=dev)
        assert code_field(body) == ("BAD_USER_INPUT", "after")
        # node(id) reads any reward, retired too
        node = (await gql.ok(NODE, {"id": mug["id"]}, token=dev))["node"]
        assert node == {"id": mug["id"], "name": "Coffee mug"}
        rows = await audit_rows(owner_engine, t, "reward.create")
        assert len(rows) == 3
        assert rows[0].target_id == raw_id(mug["id"])
        assert rows[0].actor_id == t.ids["hr@t.example"]
        assert rows[0].changes["cost"] == {"from": None, "to": 50}

    async def test_validation(self, gql: GQL, make_tenant: Any, owner_engine: Any) -> None:
        t: TenantInfo = await make_tenant()
        hr = t.token("hr@t.example")
        await create_reward(gql, t, name="Hoodie", cost=100)
        for values, code, field in (
            ({"name": "  ", "cost": 10}, "BAD_USER_INPUT", "input.name"),
            ({"name": "x" * 121, "cost": 10}, "BAD_USER_INPUT", "input.name"),
            ({"name": "Nul\x00", "cost": 10}, "BAD_USER_INPUT", "input.name"),
            ({"name": "Free", "cost": 0}, "BAD_USER_INPUT", "input.cost"),
            ({"name": "Pricey", "cost": 10_000_001}, "BAD_USER_INPUT", "input.cost"),
            ({"name": "Minus", "cost": 10, "stock": -1}, "BAD_USER_INPUT", "input.stock"),
            (
                {"name": "Long", "cost": 10, "description": "d" * 2001},
                "BAD_USER_INPUT",
                "input.description",
            ),
            ({"name": "hOODIE", "cost": 10}, "CONFLICT", "input.name"),
        ):
            assert code_field(await gql(CREATE, {"i": values}, token=hr)) == (code, field), values
        # the limits themselves are fine
        await create_reward(gql, t, name="Cheapest", cost=1, stock=0)
        await create_reward(gql, t, name="Dearest", cost=10_000_000)
        # HR (or tenant admins) only
        for email in ("dev@t.example", "boss@t.example"):
            body = await gql(CREATE, {"i": {"name": "Mine", "cost": 5}}, token=t.token(email))
            assert error_codes(body) == ["FORBIDDEN"]
        got = await gql.ok(
            CREATE, {"i": {"name": "Admin's", "cost": 5}}, token=t.token("admin@t.example")
        )
        assert got["createReward"]["name"] == "Admin's"
        assert len(await audit_rows(owner_engine, t, "reward.create")) == 4

    async def test_update(self, gql: GQL, make_tenant: Any, owner_engine: Any) -> None:
        t: TenantInfo = await make_tenant()
        hr = t.token("hr@t.example")
        r = await create_reward(gql, t, name="Mug", cost=50, stock=3, description="Blue")
        await create_reward(gql, t, name="Hoodie", cost=100)
        rid = r["id"]
        got = (
            await gql.ok(
                UPDATE,
                {
                    "id": rid,
                    "i": {"name": "Big mug", "cost": 60, "stock": None, "description": None},
                },
                token=hr,
            )
        )["updateReward"]
        assert got == {
            "id": rid,
            "name": "Big mug",
            "description": None,
            "cost": 60,
            "stock": None,
            "active": True,
        }
        got = (await gql.ok(UPDATE, {"id": rid, "i": {"stock": 7}}, token=hr))["updateReward"]
        assert (got["stock"], got["cost"], got["name"]) == (7, 60, "Big mug")
        [first, _] = await audit_rows(owner_engine, t, "reward.update")
        assert first.changes == {
            "name": {"from": "Mug", "to": "Big mug"},
            "cost": {"from": 50, "to": 60},
            "stock": {"from": 3, "to": None},
            "description": {"from": "Blue", "to": None},
        }
        # nothing changed: nothing audited
        await gql.ok(UPDATE, {"id": rid, "i": {"stock": 7}}, token=hr)
        assert len(await audit_rows(owner_engine, t, "reward.update")) == 2
        # retire: out of everyone's catalog, still HR's
        got = await gql.ok(UPDATE, {"id": rid, "i": {"active": False}}, token=hr)
        assert got["updateReward"]["active"] is False
        names = await gql.ok(REWARDS, {}, token=t.token("dev@t.example"))
        assert [e["node"]["name"] for e in names["rewards"]["edges"]] == ["Hoodie"]
        for values, code, field in (
            ({"name": "HOODIE"}, "CONFLICT", "input.name"),
            ({"name": None}, "BAD_USER_INPUT", "input.name"),
            ({"name": ""}, "BAD_USER_INPUT", "input.name"),
            ({"cost": None}, "BAD_USER_INPUT", "input.cost"),
            ({"cost": -5}, "BAD_USER_INPUT", "input.cost"),
            ({"stock": -1}, "BAD_USER_INPUT", "input.stock"),
            ({"active": None}, "BAD_USER_INPUT", "input.active"),
        ):
            body = await gql(UPDATE, {"id": rid, "i": values}, token=hr)
            assert code_field(body) == (code, field), values
        ghost = to_global_id("Reward", uuid.uuid4())
        assert code_field(await gql(UPDATE, {"id": ghost, "i": {"cost": 5}}, token=hr)) == (
            "NOT_FOUND",
            "id",
        )
        body = await gql(UPDATE, {"id": t.gid("dev@t.example"), "i": {"cost": 5}}, token=hr)
        assert code_field(body) == ("BAD_USER_INPUT", "id")
        body = await gql(UPDATE, {"id": rid, "i": {"cost": 5}}, token=t.token("dev@t.example"))
        assert error_codes(body) == ["FORBIDDEN"]


# --- redemptions -------------------------------------------------------------------------------


async def _ledger(owner_engine: Any, t: TenantInfo) -> dict[tuple[str, Any], int]:
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "select account, employee_id, sum(amount)::int from points_entries "
                    "where tenant_id = :t group by account, employee_id"
                ),
                {"t": t.id},
            )
        ).all()
    return {(r[0], r[1]): r[2] for r in rows}


async def _events(owner_engine: Any, t: TenantInfo) -> list[Any]:
    async with owner_engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.text(
                        "select kind, subject_type, subject_id, idempotency_key, payload "
                        "from domain_events where tenant_id = :t and kind like 'redemption.%' "
                        "order by occurred_at"
                    ),
                    {"t": t.id},
                )
            ).all()
        )


class TestRedemptionLifecycle:
    async def test_request_then_approve(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t: TenantInfo = await make_tenant()
        dev = t.ids["dev@t.example"]
        await fund(owner_engine, t, "dev@t.example", 100)
        reward = await create_reward(gql, t, name="Hoodie", cost=30, stock=2)
        got = await request(gql, t, "dev@t.example", reward["id"], note=" Size M ")
        red = got["data"]["requestRedemption"]
        assert red == {
            "id": red["id"],
            "status": "REQUESTED",
            "cost": 30,
            "note": "Size M",
            "reward": {"name": "Hoodie", "stock": 1},
            "employee": {"email": "dev@t.example"},
            "decidedBy": None,
        }
        s = await summary(gql, t, "dev@t.example")
        assert (s["balance"], s["held"], s["available"]) == (100, 30, 70)
        # HR admins are told in-app (not the tenant admin, who has no hr_admin role)
        assert "Dee Dev asks to redeem Hoodie (30 points)" in await inbox(gql, t, "hr@t.example")
        assert await inbox(gql, t, "admin@t.example") == []
        # a price change does not touch the pending request
        hr = t.token("hr@t.example")
        await gql.ok(UPDATE, {"id": reward["id"], "i": {"cost": 45}}, token=hr)
        got = (await gql.ok(APPROVE, {"id": red["id"], "n": "Enjoy"}, token=hr))[
            "approveRedemption"
        ]
        assert got["status"] == "APPROVED" and got["cost"] == 30
        assert got["decidedBy"] == {"email": "hr@t.example"} and got["decidedAt"]
        assert got["decisionNote"] == "Enjoy"
        s = await summary(gql, t, "dev@t.example")
        assert (s["balance"], s["held"], s["available"]) == (70, 0, 70)
        assert await _ledger(owner_engine, t) == {
            ("company", None): -100,
            ("received", dev): 70,
            ("rewards", None): 30,
        }
        assert "Your Hoodie is on its way (30 points redeemed)" in await inbox(
            gql, t, "dev@t.example"
        )
        # approving twice: CONFLICT, nothing moves
        assert code_field(await gql(APPROVE, {"id": red["id"]}, token=hr)) == ("CONFLICT", "id")
        assert code_field(await gql(DECLINE, {"id": red["id"]}, token=hr)) == ("CONFLICT", "id")
        body = await gql(CANCEL, {"id": red["id"]}, token=t.token("dev@t.example"))
        assert code_field(body) == ("CONFLICT", "id")
        assert (await summary(gql, t, "dev@t.example"))["balance"] == 70
        [req] = await audit_rows(owner_engine, t, "redemption.request")
        assert req.target_id == raw_id(red["id"]) and req.actor_id == dev
        assert req.changes["cost"] == {"from": None, "to": 30}
        [appr] = await audit_rows(owner_engine, t, "redemption.approve")
        assert appr.actor_id == t.ids["hr@t.example"]
        assert appr.changes["status"] == {"from": "requested", "to": "approved"}
        assert "transaction_id" in appr.changes
        events = await _events(owner_engine, t)
        assert [(e.kind, e.subject_type, e.idempotency_key) for e in events] == [
            ("redemption.requested", "Redemption", f"redemption.requested:{raw_id(red['id'])}"),
            ("redemption.approved", "Redemption", f"redemption.approved:{raw_id(red['id'])}"),
        ]
        assert events[1].payload == {
            "redemption_id": str(raw_id(red["id"])),
            "reward_id": str(raw_id(reward["id"])),
            "employee_id": str(dev),
            "cost": 30,
            "status": "approved",
        }
        # the ledger: one transaction for the redemption, two legs
        async with owner_engine.connect() as conn:
            legs = (
                await conn.execute(
                    sa.text(
                        "select e.account, e.amount, t.actor_id from points_transactions t "
                        "join points_entries e on e.tenant_id = t.tenant_id "
                        "and e.transaction_id = t.id where t.tenant_id = :t "
                        "and t.redemption_id = :r order by e.amount"
                    ),
                    {"t": t.id, "r": raw_id(red["id"])},
                )
            ).all()
        assert [tuple(x) for x in legs] == [
            ("received", -30, t.ids["hr@t.example"]),
            ("rewards", 30, t.ids["hr@t.example"]),
        ]

    async def test_decline_and_cancel_give_the_stock_back(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t: TenantInfo = await make_tenant()
        await fund(owner_engine, t, "dev@t.example", 100)
        reward = await create_reward(gql, t, name="Mug", cost=20, stock=2)
        hr, dev = t.token("hr@t.example"), t.token("dev@t.example")
        a = (await request(gql, t, "dev@t.example", reward["id"]))["data"]["requestRedemption"]
        b = (await request(gql, t, "dev@t.example", reward["id"]))["data"]["requestRedemption"]
        assert b["reward"]["stock"] == 0
        got = (await gql.ok(DECLINE, {"id": a["id"], "n": "Out of blue ones"}, token=hr))[
            "declineRedemption"
        ]
        assert got == {
            "id": a["id"],
            "status": "DECLINED",
            "decidedBy": {"email": "hr@t.example"},
            "decisionNote": "Out of blue ones",
            "reward": {"stock": 1},
        }
        assert any("was declined" in s for s in await inbox(gql, t, "dev@t.example"))
        # only the requester cancels; others: NOT_FOUND (colleague) or FORBIDDEN (HR)
        body = await gql(CANCEL, {"id": b["id"]}, token=t.token("peer@t.example"))
        assert code_field(body) == ("NOT_FOUND", "id")
        assert error_codes(await gql(CANCEL, {"id": b["id"]}, token=hr)) == ["FORBIDDEN"]
        got = (await gql.ok(CANCEL, {"id": b["id"]}, token=dev))["cancelRedemption"]
        assert got == {"id": b["id"], "status": "CANCELLED", "reward": {"stock": 2}}
        for q in (APPROVE, DECLINE):
            assert code_field(await gql(q, {"id": b["id"]}, token=hr)) == ("CONFLICT", "id")
        assert code_field(await gql(CANCEL, {"id": a["id"]}, token=dev)) == ("CONFLICT", "id")
        s = await summary(gql, t, "dev@t.example")
        assert (s["balance"], s["held"], s["available"]) == (100, 0, 100)
        assert await _ledger(owner_engine, t) == {
            ("company", None): -100,
            ("received", t.ids["dev@t.example"]): 100,
        }
        assert len(await audit_rows(owner_engine, t, "redemption.decline")) == 1
        assert len(await audit_rows(owner_engine, t, "redemption.cancel")) == 1
        kinds = [e.kind for e in await _events(owner_engine, t)]
        assert kinds == ["redemption.requested", "redemption.requested", "redemption.declined"]

    async def test_holds_keep_what_is_spent_within_the_balance(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t: TenantInfo = await make_tenant()
        await fund(owner_engine, t, "dev@t.example", 50)
        reward = await create_reward(gql, t, name="Book", cost=30)
        first = (await request(gql, t, "dev@t.example", reward["id"]))["data"]
        body = await request(gql, t, "dev@t.example", reward["id"])
        assert code_field(body) == ("BAD_USER_INPUT", "input.rewardId")
        assert (
            "you have 20 to spend (30 held by your pending requests)"
            in (only_error(body)["message"])
        )
        assert len(await audit_rows(owner_engine, t, "redemption.request")) == 1
        # withdrawn: the points are free again
        await gql.ok(
            CANCEL, {"id": first["requestRedemption"]["id"]}, token=t.token("dev@t.example")
        )
        assert "errors" not in await request(gql, t, "dev@t.example", reward["id"])
        # nobody without points
        body = await request(gql, t, "peer@t.example", reward["id"])
        assert code_field(body) == ("BAD_USER_INPUT", "input.rewardId")

    async def test_refusals(self, gql: GQL, make_tenant: Any, owner_engine: Any) -> None:
        t: TenantInfo = await make_tenant()
        await fund(owner_engine, t, "dev@t.example", 1000)
        retired = await create_reward(gql, t, name="Old", cost=10, active=False)
        empty = await create_reward(gql, t, name="Gone", cost=10, stock=0)
        ok = await create_reward(gql, t, name="Fine", cost=10)
        for reward_id, code, field, words in (
            (retired["id"], "BAD_USER_INPUT", "input.rewardId", "no longer offered"),
            (empty["id"], "BAD_USER_INPUT", "input.rewardId", "out of stock"),
            (to_global_id("Reward", uuid.uuid4()), "NOT_FOUND", "input.rewardId", "no reward"),
            (t.gid("dev@t.example"), "BAD_USER_INPUT", "input.rewardId", "expected a Reward"),
            ("not-an-id", "BAD_USER_INPUT", "input.rewardId", "malformed"),
        ):
            body = await request(gql, t, "dev@t.example", reward_id)
            assert code_field(body) == (code, field), words
            assert words in only_error(body)["message"]
        body = await request(gql, t, "dev@t.example", ok["id"], note="x" * 1001)
        assert code_field(body) == ("BAD_USER_INPUT", "input.note")
        assert await audit_rows(owner_engine, t, "redemption.request") == []
        # the stock is untouched by the refusals
        hr_view = await gql.ok(
            REWARDS, {"f": {"includeInactive": True}}, token=t.token("hr@t.example")
        )
        assert {e["node"]["name"]: e["node"]["stock"] for e in hr_view["rewards"]["edges"]} == {
            "Fine": None,
            "Gone": 0,
            "Old": None,
        }

    async def test_stock_never_below_zero_and_unlimited_stock(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t: TenantInfo = await make_tenant()
        for email in ("dev@t.example", "peer@t.example", "lead@t.example"):
            await fund(owner_engine, t, email, 100)
        one = await create_reward(gql, t, name="Last one", cost=10, stock=1)
        got = (await request(gql, t, "dev@t.example", one["id"]))["data"]["requestRedemption"]
        assert got["reward"]["stock"] == 0
        body = await request(gql, t, "peer@t.example", one["id"])
        assert code_field(body) == ("BAD_USER_INPUT", "input.rewardId")
        assert "out of stock" in only_error(body)["message"]
        # restocking makes it requestable again; unlimited never runs out
        hr = t.token("hr@t.example")
        await gql.ok(UPDATE, {"id": one["id"], "i": {"stock": None}}, token=hr)
        for email in ("peer@t.example", "lead@t.example", "lead@t.example"):
            got = (await request(gql, t, email, one["id"]))["data"]["requestRedemption"]
            assert got["reward"]["stock"] is None
        async with owner_engine.connect() as conn:
            stock = await conn.scalar(
                sa.text("select stock from rewards where tenant_id = :t"), {"t": t.id}
            )
        assert stock is None

    async def test_hr_does_not_decide_their_own(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t: TenantInfo = await make_tenant()
        await fund(owner_engine, t, "hr@t.example", 100)
        reward = await create_reward(gql, t, name="Plant", cost=40)
        red = (await request(gql, t, "hr@t.example", reward["id"]))["data"]["requestRedemption"]
        # the requester is not told about their own request
        assert not any("asks to redeem" in s for s in await inbox(gql, t, "hr@t.example"))
        hr = t.token("hr@t.example")
        for q in (APPROVE, DECLINE):
            assert error_codes(await gql(q, {"id": red["id"]}, token=hr)) == ["FORBIDDEN"]
        # nor a colleague without an HR role; another HR (or tenant) admin does
        body = await gql(APPROVE, {"id": red["id"]}, token=t.token("dev@t.example"))
        assert error_codes(body) == ["FORBIDDEN"]
        got = await gql.ok(APPROVE, {"id": red["id"]}, token=t.token("admin@t.example"))
        assert got["approveRedemption"]["decidedBy"] == {"email": "admin@t.example"}

    async def test_a_person_without_an_employee_cannot_redeem(self, make_tenant: Any) -> None:
        """A service or system principal has no points: BAD_USER_INPUT on input.rewardId."""
        import pytest

        from upward.auth.principal import Principal
        from upward.db import tenant_session
        from upward.errors import BadUserInput
        from upward.recognition import rewards

        t: TenantInfo = await make_tenant()
        service = Principal(tenant_id=t.id, tenant_slug=t.slug, kind="service")
        with pytest.raises(BadUserInput) as exc:
            async with tenant_session(t.id) as s:
                await rewards.request_redemption(s, service, reward_id=uuid.uuid4())
        assert exc.value.field == "input.rewardId"
        system = Principal.system(t.id, t.slug)
        with pytest.raises(BadUserInput) as exc:
            async with tenant_session(t.id) as s:
                await rewards.request_redemption(s, system, reward_id=uuid.uuid4())
        assert exc.value.field == "input.rewardId"


class TestWhoReadsRedemptions:
    async def test_the_requester_and_hr(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t: TenantInfo = await make_tenant()
        for email in ("dev@t.example", "peer@t.example"):
            await fund(owner_engine, t, email, 100)
        mug = await create_reward(gql, t, name="Mug", cost=10)
        book = await create_reward(gql, t, name="Book", cost=20)
        mine = (await request(gql, t, "dev@t.example", mug["id"]))["data"]["requestRedemption"]
        await request(gql, t, "dev@t.example", book["id"])
        theirs = (await request(gql, t, "peer@t.example", book["id"]))["data"]
        hr = t.token("hr@t.example")
        await gql.ok(APPROVE, {"id": mine["id"]}, token=hr)
        for email in ("dev@t.example", "hr@t.example", "admin@t.example"):
            node = (await gql.ok(NODE, {"id": mine["id"]}, token=t.token(email)))["node"]
            assert node["status"] == "APPROVED" and node["employee"] == {"email": "dev@t.example"}
        ghost = await gql(
            NODE, {"id": to_global_id("Redemption", uuid.uuid4())}, token=t.token("lead@t.example")
        )
        assert error_codes(ghost) == ["NOT_FOUND"]
        # a colleague, or even the requester's manager: as if it did not exist
        for email in ("peer@t.example", "lead@t.example", "boss@t.example"):
            body = await gql(NODE, {"id": mine["id"]}, token=t.token(email))
            assert body == ghost
        # lists: yours; HR: everyone's, newest first, by status, person or reward
        got = (await gql.ok(LIST, {}, token=t.token("dev@t.example")))["redemptions"]
        assert got["totalCount"] == 2
        assert [(e["node"]["reward"]["name"], e["node"]["status"]) for e in got["edges"]] == [
            ("Book", "REQUESTED"),
            ("Mug", "APPROVED"),
        ]
        assert (await gql.ok(LIST, {}, token=t.token("lead@t.example")))["redemptions"][
            "totalCount"
        ] == 0
        everyone = (await gql.ok(LIST, {}, token=hr))["redemptions"]
        assert [e["node"]["employee"]["email"] for e in everyone["edges"]] == [
            "peer@t.example",
            "dev@t.example",
            "dev@t.example",
        ]
        pending = (await gql.ok(LIST, {"f": {"status": "REQUESTED"}}, token=hr))["redemptions"]
        assert pending["totalCount"] == 2
        devs = {"f": {"employeeId": t.gid("dev@t.example")}}
        assert (await gql.ok(LIST, devs, token=hr))["redemptions"]["totalCount"] == 2
        books = {"f": {"rewardId": book["id"]}}
        assert (await gql.ok(LIST, books, token=hr))["redemptions"]["totalCount"] == 2
        body = await gql(LIST, devs, token=t.token("peer@t.example"))
        assert error_codes(body) == ["FORBIDDEN"]
        own = {"f": {"employeeId": t.gid("peer@t.example")}}
        assert (await gql.ok(LIST, own, token=t.token("peer@t.example")))["redemptions"][
            "totalCount"
        ] == 1
        assert theirs["requestRedemption"]["employee"] == {"email": "peer@t.example"}


# --- points ------------------------------------------------------------------------------------


def _team_org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["employees"].append(
        {"email": "gone@t.example", "name": "Gil Gone", "manager": "lead@t.example"}
    )
    return o


class TestPoints:
    async def test_summary_and_history(self, gql: GQL, make_tenant: Any, owner_engine: Any) -> None:
        t: TenantInfo = await make_tenant()
        kudos_id = await fund(owner_engine, t, "dev@t.example", 100)
        reward = await create_reward(gql, t, name="Mug", cost=30)
        red = (await request(gql, t, "dev@t.example", reward["id"]))["data"]["requestRedemption"]
        await gql.ok(APPROVE, {"id": red["id"]}, token=t.token("hr@t.example"))
        await request(gql, t, "dev@t.example", reward["id"])
        period = period_now()
        renews = date(period.year + period.month // 12, period.month % 12 + 1, 1)
        s = await summary(gql, t, "dev@t.example")
        budget = {
            "monthly": 100,
            "spent": 0,
            "left": 100,
            "period": period.isoformat(),
            "renewsOn": renews.isoformat(),
        }
        assert s == {
            "employee": {"email": "dev@t.example"},
            "balance": 70,
            "held": 30,
            "available": 40,
            "allowance": budget,
            "awardBudget": {**budget, "monthly": 0, "left": 0},
        }
        got = (await gql.ok(HISTORY, {}, token=t.token("dev@t.example")))["pointsHistory"]
        assert got["totalCount"] == 2
        assert [e["node"] for e in got["edges"]] == [
            {
                "amount": -30,
                "account": "RECEIVED",
                "kind": "REDEMPTION",
                "period": period.isoformat(),
                "kudosId": None,
                "redemptionId": red["id"],
                "redemption": {"status": "APPROVED"},
            },
            {
                "amount": 100,
                "account": "RECEIVED",
                "kind": "MILESTONE",
                "period": period.isoformat(),
                "kudosId": to_global_id("Kudos", kudos_id),
                "redemptionId": None,
                "redemption": None,
            },
        ]
        only = {"acc": "ALLOWANCE"}
        assert (await gql.ok(HISTORY, only, token=t.token("dev@t.example")))["pointsHistory"][
            "totalCount"
        ] == 0
        # the person's line reads it (the redemption itself stays the person's and HR's)
        lead = await gql.ok(HISTORY, {"e": t.gid("dev@t.example")}, token=t.token("lead@t.example"))
        assert [e["node"]["redemption"] for e in lead["pointsHistory"]["edges"]] == [None, None]

    async def test_who_reads_a_persons_points(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t: TenantInfo = await make_tenant(_team_org())
        await fund(owner_engine, t, "dev@t.example", 25)
        # the person, their management line (all the way up) and HR
        for email in ("dev@t.example", "lead@t.example", "boss@t.example", "hr@t.example"):
            s = await summary(gql, t, email, of="dev@t.example")
            assert s["balance"] == 25, email
        # anyone else: NOT_FOUND, as for an id that does not exist
        ghost_id = to_global_id("Employee", uuid.uuid4())
        ghost = await gql(SUMMARY, {"e": ghost_id}, token=t.token("peer@t.example"))
        assert code_field(ghost) == ("NOT_FOUND", "employeeId")
        body = await gql(SUMMARY, {"e": t.gid("dev@t.example")}, token=t.token("peer@t.example"))
        assert body == ghost
        hist = await gql(HISTORY, {"e": t.gid("dev@t.example")}, token=t.token("peer@t.example"))
        assert code_field(hist) == ("NOT_FOUND", "employeeId")
        assert code_field(await gql(SUMMARY, {"e": ghost_id}, token=t.token("hr@t.example"))) == (
            "NOT_FOUND",
            "employeeId",
        )
        body = await gql(SUMMARY, {"e": "nope"}, token=t.token("hr@t.example"))
        assert code_field(body) == ("BAD_USER_INPUT", "employeeId")
        # a manager has an award budget when the tenant gives one
        s = await summary(gql, t, "lead@t.example")
        assert s["awardBudget"]["monthly"] == 0 and s["allowance"]["monthly"] == 100


# --- statement counts --------------------------------------------------------------------------


async def _count(gql: GQL, counter: Any, q: str, v: dict[str, Any], tok: str) -> int:
    counter.statements.clear()
    await gql.ok(q, v, token=tok)
    return counter.count


async def test_lists_cost_the_same_whatever_their_size(
    gql: GQL, make_tenant: Any, owner_engine: Any, count_statements: Any
) -> None:
    o = copy.deepcopy(SMALL_ORG)
    for i in range(6):
        o["employees"].append(
            {"email": f"w{i}@t.example", "name": f"W {i}", "manager": "lead@t.example"}
        )
    t: TenantInfo = await make_tenant(o)
    hr = t.token("hr@t.example")
    ids = [(await create_reward(gql, t, name=f"R{i:02d}", cost=5 + i))["id"] for i in range(12)]
    emails = [f"w{i}@t.example" for i in range(6)]
    reds = []
    for i, rid in enumerate(ids):
        email = emails[i % 6]
        if i < 6:
            await fund(owner_engine, t, email, 100)
        reds.append((await request(gql, t, email, rid))["data"]["requestRedemption"]["id"])
    for rid in reds[:4]:
        await gql.ok(APPROVE, {"id": rid}, token=hr)
    for rid in reds[4:6]:
        await gql.ok(DECLINE, {"id": rid}, token=hr)

    q = """query($n: Int!) { rewards(first: $n, filter: {includeInactive: true}) { totalCount
      edges { cursor node { id name cost stock active createdAt } } } }"""
    small = await _count(gql, count_statements, q, {"n": 2}, hr)
    large = await _count(gql, count_statements, q, {"n": 100}, hr)
    assert small == large
    assert len((await gql.ok(q, {"n": 100}, token=hr))["rewards"]["edges"]) == 12

    q = """query($n: Int!) { redemptions(first: $n) { totalCount edges { cursor node { id status
      cost note createdAt decidedAt reward { name stock } employee { name manager { name } }
      decidedBy { name } } } } }"""
    small = await _count(gql, count_statements, q, {"n": 2}, hr)
    large = await _count(gql, count_statements, q, {"n": 100}, hr)
    assert small == large
    assert len((await gql.ok(q, {"n": 100}, token=hr))["redemptions"]["edges"]) == 12

    q = """query($e: ID!, $n: Int!) { pointsHistory(employeeId: $e, first: $n) { totalCount
      edges { node { amount account kind kudosId redemption { status reward { name } } } } } }"""
    w0 = {"e": t.gid("w0@t.example")}
    small = await _count(gql, count_statements, q, {**w0, "n": 1}, hr)
    large = await _count(gql, count_statements, q, {**w0, "n": 100}, hr)
    assert small == large
    assert len((await gql.ok(q, {**w0, "n": 100}, token=hr))["pointsHistory"]["edges"]) == 2


# --- isolation ---------------------------------------------------------------------------------


async def test_another_tenants_ids_are_not_found(
    gql: GQL, make_tenant: Any, owner_engine: Any
) -> None:
    a: TenantInfo = await make_tenant()
    b: TenantInfo = await make_tenant()
    await fund(owner_engine, a, "dev@t.example", 100)
    await fund(owner_engine, b, "dev@t.example", 100)
    reward = await create_reward(gql, a, name="Mug", cost=10)
    red = (await request(gql, a, "dev@t.example", reward["id"]))["data"]["requestRedemption"]
    hr, dev = b.token("hr@t.example"), b.token("dev@t.example")
    ghost_reward = to_global_id("Reward", uuid.uuid4())
    ghost_red = to_global_id("Redemption", uuid.uuid4())
    assert await gql(NODE, {"id": reward["id"]}, token=hr) == await gql(
        NODE, {"id": ghost_reward}, token=hr
    )
    assert await gql(NODE, {"id": red["id"]}, token=hr) == await gql(
        NODE, {"id": ghost_red}, token=hr
    )
    assert await request(gql, b, "dev@t.example", reward["id"]) == await request(
        gql, b, "dev@t.example", ghost_reward
    )
    same = (
        (UPDATE, {"i": {"cost": 1}}, hr, reward["id"], ghost_reward),
        (APPROVE, {}, hr, red["id"], ghost_red),
        (DECLINE, {}, hr, red["id"], ghost_red),
        (CANCEL, {}, dev, red["id"], ghost_red),
    )
    for q, extra, tok, foreign, ghost in same:
        one = await gql(q, {"id": foreign, **extra}, token=tok)
        other = await gql(q, {"id": ghost, **extra}, token=tok)
        assert one == other and error_codes(one) == ["NOT_FOUND"], q
    assert (await gql.ok(LIST, {}, token=hr))["redemptions"]["totalCount"] == 0
    assert (await gql.ok(REWARDS, {}, token=dev))["rewards"]["totalCount"] == 0
    body = await gql(SUMMARY, {"e": a.gid("dev@t.example")}, token=hr)
    assert body == await gql(SUMMARY, {"e": to_global_id("Employee", uuid.uuid4())}, token=hr)
    # a is untouched
    node = (await gql.ok(NODE, {"id": red["id"]}, token=a.token("hr@t.example")))["node"]
    assert node["status"] == "REQUESTED"
