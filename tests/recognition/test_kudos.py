"""Kudos through HTTP: giving (values, points from the monthly allowance, award budgets),
every validation error changing nothing, visibility of private kudos, hiding, reactions,
comments, the feed's filters and cursors, settings, statement counts and isolation."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from upward import clock
from upward.graphql.relay import to_global_id

GIVE = """mutation($i: GiveKudosInput!) { giveKudos(input: $i) {
  id kind message visibility points giver { email } receivers { email } values { name } } }"""
FEED = """query($f: RecognitionFeedFilter, $n: Int, $a: String, $l: Int, $b: String) {
  recognitionFeed(filter: $f, first: $n, after: $a, last: $l, before: $b) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
    edges { node { id message visibility hidden hiddenReason giver { email }
      receivers { email } values { name } commentCount
      reactions { reaction count reactedByMe } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { ... on Kudos { id message hidden } } }"
HIDE = """mutation($i: HideKudosInput!) { hideKudos(input: $i) { id hidden hiddenReason } }"""
REACT = """mutation($i: KudosReactionInput!) { reactToKudos(input: $i) {
  reactions { reaction count reactedByMe } } }"""
UNREACT = """mutation($i: KudosReactionInput!) { removeKudosReaction(input: $i) {
  reactions { reaction count reactedByMe } } }"""
COMMENT = """mutation($i: CommentOnKudosInput!) { commentOnKudos(input: $i) {
  id body author { email } } }"""
COMMENTS = """query($id: ID!) { kudos(id: $id) { commentCount
  comments { body author { email } } } }"""
VALUES = "query($r: Boolean) { companyValues(includeRetired: $r) { id name active emoji } }"


def org(**extra: Any) -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["employees"] += [
        {
            "email": "gone@t.example",
            "name": "Gil Gone",
            "manager": "lead@t.example",
            "status": "offboarded",
        },
    ]
    o["company_values"] = [
        {"name": "Own it", "emoji": "🛠️", "position": 1},
        {"name": "Better together", "position": 2},
        {"name": "Old value", "active": False},
    ]
    o.update(extra)
    return o


async def _value(gql: GQL, t: TenantInfo, name: str) -> str:
    data = await gql.ok(VALUES, {"r": True}, token=t.token("hr@t.example"))
    return next(v["id"] for v in data["companyValues"] if v["name"] == name)


async def give(
    gql: GQL, t: TenantInfo, giver: str, receivers: list[str], *, ok: bool = True, **kw: Any
) -> Any:
    i = {
        "receiverIds": [t.gid(r) for r in receivers],
        "message": kw.pop("message", "Thank you!"),
        "valueIds": kw.pop("value_ids", None) or [await _value(gql, t, "Own it")],
        **kw,
    }
    if ok:
        return (await gql.ok(GIVE, {"i": i}, token=t.token(giver)))["giveKudos"]
    return await gql(GIVE, {"i": i}, token=t.token(giver))


async def _count(owner_engine: Any, t: TenantInfo, sql: str) -> int:
    async with owner_engine.connect() as conn:
        return await conn.scalar(sa.text(sql.replace(":t", f"'{t.id}'")))


async def feed(gql: GQL, t: TenantInfo, who: str, f: dict[str, Any] | None = None, **kw: Any):
    data = await gql.ok(FEED, {"f": f, **kw}, token=t.token(who))
    return data["recognitionFeed"]


def messages(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["message"] for e in conn["edges"]]


class TestGive:
    async def test_gives_with_values_and_points(self, gql: GQL, make_tenant, owner_engine) -> None:
        t = await make_tenant(org())
        own, together = await _value(gql, t, "Own it"), await _value(gql, t, "Better together")
        k = await give(
            gql,
            t,
            "dev@t.example",
            ["peer@t.example", "lead@t.example"],
            message="  Great release  ",
            value_ids=[together, own],
            points=10,
        )
        assert k["kind"] == "PEER" and k["message"] == "Great release" and k["points"] == 10
        assert k["giver"] == {"email": "dev@t.example"}
        assert k["receivers"] == [{"email": "lead@t.example"}, {"email": "peer@t.example"}]
        assert [v["name"] for v in k["values"]] == ["Own it", "Better together"]
        # the ledger: 20 from dev's allowance, 10 to each receiver, balanced
        rows = await _ledger(owner_engine, t)
        assert sorted(rows) == sorted(
            [
                ("allowance", "dev@t.example", -20),
                ("received", "peer@t.example", 10),
                ("received", "lead@t.example", 10),
            ]
        )
        # receivers and their managers are told (lead's manager boss; peer's manager boss too:
        # once), and the audit and the webhook event are written
        async with owner_engine.connect() as conn:
            told = (
                await conn.execute(
                    sa.text(
                        "select e.email, n.data->>'event' from notifications n join employees e "
                        "on e.tenant_id = n.tenant_id and e.id = n.recipient_id where n.tenant_id = :t "
                        "order by 1"
                    ),
                    {"t": t.id},
                )
            ).all()
            audit = await conn.scalar(
                sa.text(
                    "select count(*) from audit_events where tenant_id = :t and action = 'kudos.give'"
                ),
                {"t": t.id},
            )
            event = await conn.scalar(
                sa.text(
                    "select payload->>'points' from domain_events where tenant_id = :t "
                    "and kind = 'kudos.given'"
                ),
                {"t": t.id},
            )
        assert told == [
            ("boss@t.example", "kudos.team_received"),
            ("lead@t.example", "kudos.received"),
            ("peer@t.example", "kudos.received"),
        ]
        assert audit == 1 and event == "10"

    async def test_private_kudos_send_no_webhook_event(
        self, gql: GQL, make_tenant, owner_engine
    ) -> None:
        t = await make_tenant(org())
        await give(gql, t, "dev@t.example", ["peer@t.example"], visibility="PRIVATE")
        assert (
            await _count(
                owner_engine,
                t,
                "select count(*) from domain_events where tenant_id = :t and kind = 'kudos.given'",
            )
            == 0
        )

    @pytest.mark.parametrize(
        ("receivers", "kw", "code", "field"),
        [
            (["dev@t.example"], {}, "BAD_USER_INPUT", "input.receiverIds.0"),
            ([], {}, "BAD_USER_INPUT", "input.receiverIds"),
            (["peer@t.example", "peer@t.example"], {}, "BAD_USER_INPUT", "input.receiverIds"),
            (["gone@t.example"], {}, "BAD_USER_INPUT", "input.receiverIds.0"),
            (["peer@t.example"], {"message": "   "}, "BAD_USER_INPUT", "input.message"),
            (["peer@t.example"], {"message": "a\x00b"}, "BAD_USER_INPUT", "input.message"),
            (["peer@t.example"], {"message": "x" * 2001}, "BAD_USER_INPUT", "input.message"),
            (["peer@t.example"], {"points": 51}, "BAD_USER_INPUT", "input.points"),
            (["peer@t.example"], {"points": -1}, "BAD_USER_INPUT", "input.points"),
            (["peer@t.example"], {"award": True}, "BAD_USER_INPUT", "input.points"),
            (["peer@t.example"], {"award": True, "points": 5}, "BAD_USER_INPUT", "input.points"),
        ],
    )
    async def test_refuses_and_changes_nothing(
        self, gql: GQL, make_tenant, owner_engine, receivers, kw, code, field
    ) -> None:
        t = await make_tenant(org())
        body = await give(gql, t, "dev@t.example", receivers, ok=False, **kw)
        err = only_error(body)
        assert err["extensions"] == {"code": code, "field": field}, err
        assert await _count(owner_engine, t, "select count(*) from kudos where tenant_id = :t") == 0
        assert (
            await _count(
                owner_engine, t, "select count(*) from points_entries where tenant_id = :t"
            )
            == 0
        )

    async def test_value_errors(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant(org())
        old = await _value(gql, t, "Old value")
        own = await _value(gql, t, "Own it")
        cases = [
            ([old], "BAD_USER_INPUT", "input.valueIds.0"),
            ([own, own], "BAD_USER_INPUT", "input.valueIds"),
            ([own, to_global_id("CompanyValue", uuid.uuid4())], "NOT_FOUND", "input.valueIds.1"),
            (["nonsense"], "BAD_USER_INPUT", "input.valueIds.0"),
        ]
        for ids, code, field in cases:
            body = await give(gql, t, "dev@t.example", ["peer@t.example"], ok=False, value_ids=ids)
            assert only_error(body)["extensions"] == {"code": code, "field": field}, ids
        # no value at all, while the company has some
        body = await gql(
            GIVE,
            {"i": {"receiverIds": [t.gid("peer@t.example")], "message": "x", "valueIds": []}},
            token=t.token("dev@t.example"),
        )
        assert only_error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "input.valueIds",
        }

    async def test_without_company_values_none_is_needed(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant()
        data = await gql.ok(
            GIVE,
            {"i": {"receiverIds": [t.gid("peer@t.example")], "message": "Thanks", "valueIds": []}},
            token=t.token("dev@t.example"),
        )
        assert data["giveKudos"]["values"] == []

    async def test_unknown_receiver_is_not_found(self, gql: GQL, make_tenant, globex) -> None:
        t = await make_tenant(org())
        i = {
            "receiverIds": [to_global_id("Employee", uuid.uuid4())],
            "message": "x",
            "valueIds": [await _value(gql, t, "Own it")],
        }
        ghost = await gql(GIVE, {"i": i}, token=t.token("dev@t.example"))
        i["receiverIds"] = [globex.gid("hr@globex.example")]
        foreign = await gql(GIVE, {"i": i}, token=t.token("dev@t.example"))
        assert only_error(ghost)["extensions"] == {
            "code": "NOT_FOUND",
            "field": "input.receiverIds.0",
        }
        assert foreign["errors"][0]["extensions"] == ghost["errors"][0]["extensions"]
        assert foreign["errors"][0]["message"] == ghost["errors"][0]["message"]


async def _ledger(owner_engine: Any, t: TenantInfo) -> list[tuple[str, str | None, int]]:
    async with owner_engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "select p.account, e.email, p.amount from points_entries p left join employees e "
                    "on e.tenant_id = p.tenant_id and e.id = p.employee_id where p.tenant_id = :t"
                ),
                {"t": t.id},
            )
        ).all()
    return [tuple(r) for r in rows]


class TestAllowance:
    async def test_allowance_is_monthly_in_the_tenant_zone(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant(org())  # Europe/Berlin, 100 a month by default
        try:
            clock.freeze(datetime(2026, 11, 30, 22, 30, tzinfo=UTC))  # 23:30 in Berlin
            await give(gql, t, "dev@t.example", ["peer@t.example"], points=50)
            await give(gql, t, "dev@t.example", ["lead@t.example"], points=40)
            body = await give(gql, t, "dev@t.example", ["peer@t.example"], ok=False, points=20)
            err = only_error(body)
            assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.points"}
            assert "10 left" in err["message"]
            # two people at 10 each is 20: also more than what is left
            body = await give(
                gql, t, "dev@t.example", ["peer@t.example", "lead@t.example"], ok=False, points=10
            )
            assert only_error(body)["extensions"]["field"] == "input.points"
            clock.freeze(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))  # 1 December in Berlin
            await give(gql, t, "dev@t.example", ["peer@t.example"], points=50)
        finally:
            clock.freeze(None)

    async def test_overrides_by_level_and_person(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant(
            org(
                recognition_settings={"monthly_allowance": 20, "max_points_per_kudos": 50},
                points_allowances=[
                    {"job_level": "IC2", "monthly_allowance": 30},
                    {"employee": "peer@t.example", "monthly_allowance": 0},
                ],
            )
        )
        await give(gql, t, "dev@t.example", ["peer@t.example"], points=30)  # IC2: 30
        body = await give(gql, t, "peer@t.example", ["dev@t.example"], ok=False, points=1)
        assert only_error(body)["extensions"]["field"] == "input.points"
        await give(gql, t, "lead@t.example", ["dev@t.example"], points=20)  # tenant's 20
        body = await give(gql, t, "lead@t.example", ["dev@t.example"], ok=False, points=1)
        assert only_error(body)["extensions"]["field"] == "input.points"

    async def test_award_budget_for_managers(self, gql: GQL, make_tenant, owner_engine) -> None:
        t = await make_tenant(org(recognition_settings={"manager_award_budget": 40}))
        k = await give(gql, t, "lead@t.example", ["dev@t.example"], points=40, award=True)
        assert k["kind"] == "AWARD"
        assert ("award", "lead@t.example", -40) in await _ledger(owner_engine, t)
        body = await give(
            gql, t, "lead@t.example", ["dev@t.example"], ok=False, points=1, award=True
        )
        assert only_error(body)["extensions"]["field"] == "input.points"
        # someone without reports has no award budget
        body = await give(
            gql, t, "dev@t.example", ["peer@t.example"], ok=False, points=1, award=True
        )
        assert "no award budget" in only_error(body)["message"]


class TestVisibility:
    async def test_private_kudos_reach_the_giver_receivers_and_their_managers(
        self, gql: GQL, make_tenant
    ) -> None:
        t = await make_tenant(org())
        k = await give(
            gql,
            t,
            "dev@t.example",
            ["peer@t.example"],
            visibility="PRIVATE",
            message="Just between us",
        )
        pub = await give(gql, t, "lead@t.example", ["peer@t.example"], message="Public one")
        # peer's manager is boss, whose manager is admin; lead is dev's manager only
        readers = [
            "dev@t.example",
            "peer@t.example",
            "boss@t.example",
            "admin@t.example",
            "hr@t.example",
        ]
        for who in readers:
            assert "Just between us" in messages(await feed(gql, t, who)), who
            data = await gql.ok(NODE, {"id": k["id"]}, token=t.token(who))
            assert data["node"]["message"] == "Just between us"
        ghost = await gql(
            NODE, {"id": to_global_id("Kudos", uuid.uuid4())}, token=t.token("lead@t.example")
        )
        hidden = await gql(NODE, {"id": k["id"]}, token=t.token("lead@t.example"))
        assert hidden == ghost
        assert messages(await feed(gql, t, "lead@t.example")) == ["Public one"]
        # a private kudos cannot be reacted to or commented on by someone who cannot read it
        body = await gql(
            REACT, {"i": {"kudosId": k["id"], "reaction": "LIKE"}}, token=t.token("lead@t.example")
        )
        assert only_error(body)["extensions"] == {"code": "NOT_FOUND", "field": "input.kudosId"}
        await gql.ok(
            REACT,
            {"i": {"kudosId": pub["id"], "reaction": "LIKE"}},
            token=t.token("lead@t.example"),
        )


class TestHide:
    async def test_hr_hides_with_a_reason(self, gql: GQL, make_tenant, owner_engine) -> None:
        t = await make_tenant(org())
        k = await give(gql, t, "dev@t.example", ["peer@t.example"], message="Oops", points=5)
        body = await gql(
            HIDE, {"i": {"kudosId": k["id"], "reason": "x"}}, token=t.token("lead@t.example")
        )
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        body = await gql(
            HIDE, {"i": {"kudosId": k["id"], "reason": "  "}}, token=t.token("hr@t.example")
        )
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.reason"}
        data = await gql.ok(
            HIDE,
            {"i": {"kudosId": k["id"], "reason": "Inside joke"}},
            token=t.token("hr@t.example"),
        )
        assert data["hideKudos"] == {"id": k["id"], "hidden": True, "hiddenReason": "Inside joke"}
        for who in ("dev@t.example", "peer@t.example", "boss@t.example"):
            assert messages(await feed(gql, t, who)) == [], who
            body = await gql(NODE, {"id": k["id"]}, token=t.token(who))
            assert body["data"]["node"] is None
        assert messages(await feed(gql, t, "hr@t.example")) == []
        hr = await feed(gql, t, "hr@t.example", {"includeHidden": True})
        assert [(e["node"]["message"], e["node"]["hiddenReason"]) for e in hr["edges"]] == [
            ("Oops", "Inside joke")
        ]
        body = await gql(FEED, {"f": {"includeHidden": True}}, token=t.token("dev@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        async with owner_engine.connect() as conn:
            changes = await conn.scalar(
                sa.text(
                    "select changes from audit_events where tenant_id = :t and action = 'kudos.hide'"
                ),
                {"t": t.id},
            )
        assert changes["reason"]["to"] == "Inside joke"
        # the points stay where they went
        assert ("received", "peer@t.example", 5) in await _ledger(owner_engine, t)
        data = await gql.ok(
            "mutation($k: ID!) { unhideKudos(kudosId: $k) { hidden } }",
            {"k": k["id"]},
            token=t.token("hr@t.example"),
        )
        assert data["unhideKudos"] == {"hidden": False}
        assert messages(await feed(gql, t, "dev@t.example")) == ["Oops"]


class TestReactionsAndComments:
    async def test_reactions_are_idempotent(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant(org())
        k = await give(gql, t, "dev@t.example", ["peer@t.example"])
        i = {"kudosId": k["id"], "reaction": "CELEBRATE"}
        await gql.ok(REACT, {"i": i}, token=t.token("lead@t.example"))
        data = await gql.ok(REACT, {"i": i}, token=t.token("lead@t.example"))
        assert data["reactToKudos"]["reactions"] == [
            {"reaction": "CELEBRATE", "count": 1, "reactedByMe": True}
        ]
        await gql.ok(REACT, {"i": {**i, "reaction": "LIKE"}}, token=t.token("boss@t.example"))
        data = await gql.ok(REACT, {"i": i}, token=t.token("boss@t.example"))
        assert data["reactToKudos"]["reactions"] == [
            {"reaction": "LIKE", "count": 1, "reactedByMe": True},
            {"reaction": "CELEBRATE", "count": 2, "reactedByMe": True},
        ]
        data = await gql.ok(UNREACT, {"i": i}, token=t.token("lead@t.example"))
        data = await gql.ok(UNREACT, {"i": i}, token=t.token("lead@t.example"))
        assert data["removeKudosReaction"]["reactions"] == [
            {"reaction": "LIKE", "count": 1, "reactedByMe": False},
            {"reaction": "CELEBRATE", "count": 1, "reactedByMe": False},
        ]
        body = await gql(REACT, {"i": {**i, "reaction": "ANGRY"}}, token=t.token("lead@t.example"))
        assert body["errors"]  # not in the enum: GraphQL validation

    async def test_comments(self, gql: GQL, make_tenant, owner_engine) -> None:
        t = await make_tenant(org())
        k = await give(gql, t, "dev@t.example", ["peer@t.example"])
        c = (
            await gql.ok(
                COMMENT,
                {"i": {"kudosId": k["id"], "body": "Well deserved"}},
                token=t.token("boss@t.example"),
            )
        )["commentOnKudos"]
        assert c["author"] == {"email": "boss@t.example"} and c["body"] == "Well deserved"
        await gql.ok(
            COMMENT, {"i": {"kudosId": k["id"], "body": "Thanks!"}}, token=t.token("peer@t.example")
        )
        data = await gql.ok(COMMENTS, {"id": k["id"]}, token=t.token("lead@t.example"))
        assert data["kudos"] == {
            "commentCount": 2,
            "comments": [
                {"body": "Well deserved", "author": {"email": "boss@t.example"}},
                {"body": "Thanks!", "author": {"email": "peer@t.example"}},
            ],
        }
        body = await gql(
            COMMENT, {"i": {"kudosId": k["id"], "body": ""}}, token=t.token("boss@t.example")
        )
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.body"}
        delete = "mutation($c: ID!) { deleteKudosComment(commentId: $c) }"
        body = await gql(delete, {"c": c["id"]}, token=t.token("peer@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        await gql.ok(delete, {"c": c["id"]}, token=t.token("boss@t.example"))
        body = await gql(delete, {"c": c["id"]}, token=t.token("boss@t.example"))
        assert only_error(body)["extensions"] == {"code": "NOT_FOUND", "field": "input.commentId"}
        data = await gql.ok(COMMENTS, {"id": k["id"]}, token=t.token("lead@t.example"))
        assert data["kudos"]["commentCount"] == 1
        # the giver and receivers heard about the comments (not the commenter)
        async with owner_engine.connect() as conn:
            told = (
                (
                    await conn.execute(
                        sa.text(
                            "select e.email from notifications n join employees e on e.tenant_id = "
                            "n.tenant_id and e.id = n.recipient_id where n.tenant_id = :t and "
                            "n.data->>'event' = 'kudos.commented' order by 1"
                        ),
                        {"t": t.id},
                    )
                )
                .scalars()
                .all()
            )
        assert told == ["dev@t.example", "dev@t.example", "peer@t.example"]


class TestFeed:
    async def test_filters_and_cursors(self, gql: GQL, make_tenant, globex) -> None:
        t = await make_tenant(org())
        together = await _value(gql, t, "Better together")
        await give(gql, t, "dev@t.example", ["peer@t.example"], message="one")
        await give(gql, t, "peer@t.example", ["dev@t.example"], message="two", value_ids=[together])
        await give(gql, t, "boss@t.example", ["hr@t.example"], message="three")
        await give(gql, t, "hr@t.example", ["lead@t.example"], message="four")
        me = "admin@t.example"
        assert messages(await feed(gql, t, me)) == ["four", "three", "two", "one"]
        got = await feed(gql, t, me, {"valueId": together})
        assert messages(got) == ["two"] and got["totalCount"] == 1
        assert messages(await feed(gql, t, me, {"personId": t.gid("dev@t.example")})) == [
            "two",
            "one",
        ]
        assert messages(await feed(gql, t, me, {"receivedBy": t.gid("dev@t.example")})) == ["two"]
        assert messages(await feed(gql, t, me, {"givenBy": t.gid("dev@t.example")})) == ["one"]
        people = t.departments["People"]
        assert messages(
            await feed(gql, t, me, {"departmentId": to_global_id("Department", people)})
        ) == ["three"]
        # boss's direct reports: lead and peer
        assert messages(await feed(gql, t, me, {"teamOf": t.gid("boss@t.example")})) == [
            "four",
            "one",
        ]
        assert messages(await feed(gql, t, me, {"period": {"preset": "TODAY"}})) == [
            "four",
            "three",
            "two",
            "one",
        ]
        assert (
            messages(
                await feed(
                    gql,
                    t,
                    me,
                    {"period": {"since": "2020-01-01T00:00:00Z", "until": "2020-02-01T00:00:00Z"}},
                )
            )
            == []
        )
        # forward and backward pages
        p1 = await feed(gql, t, me, n=3)
        assert messages(p1) == ["four", "three", "two"] and p1["pageInfo"]["hasNextPage"]
        p2 = await feed(gql, t, me, n=3, a=p1["pageInfo"]["endCursor"])
        assert messages(p2) == ["one"] and not p2["pageInfo"]["hasNextPage"]
        assert p2["pageInfo"]["hasPreviousPage"]
        back = await feed(gql, t, me, n=None, l=2, b=p2["pageInfo"]["startCursor"])
        assert messages(back) == ["three", "two"]
        # a cursor of another tenant, or a forged one, is refused like any invalid cursor
        other = await gql.ok(FEED, {"n": 1}, token=globex.token("hr@globex.example"))
        foreign = other["recognitionFeed"]["pageInfo"]["endCursor"]
        body = await gql(FEED, {"n": 2, "a": foreign}, token=t.token(me))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}

    @pytest.mark.parametrize(
        ("period", "field"),
        [
            ({"preset": "TODAY", "since": "2026-01-01T00:00:00Z"}, "filter.period.preset"),
            ({"since": "2026-01-01T00:00:00"}, "filter.period.since"),
            (
                {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                "filter.period.until",
            ),
        ],
    )
    async def test_period_errors(self, gql: GQL, acme, period, field) -> None:
        body = await gql(FEED, {"f": {"period": period}}, token=acme.token("hr@acme.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": field}

    async def test_statements_do_not_grow_with_the_page(
        self, gql: GQL, make_tenant, count_statements
    ) -> None:
        t = await make_tenant(org())
        people = ["dev@t.example", "peer@t.example", "lead@t.example", "boss@t.example"]
        for i in range(24):
            giver, receiver = people[i % 4], people[(i + 1) % 4]
            k = await give(gql, t, giver, [receiver], message=f"k{i}", points=1)
            await gql.ok(
                REACT,
                {"i": {"kudosId": k["id"], "reaction": "LIKE"}},
                token=t.token("hr@t.example"),
            )
            await gql.ok(
                COMMENT, {"i": {"kudosId": k["id"], "body": "+1"}}, token=t.token("hr@t.example")
            )
        tok = t.token("dev@t.example")
        await gql.ok(FEED, {"n": 2}, token=tok)  # warm caches
        count_statements.statements.clear()
        await gql.ok(FEED, {"n": 2}, token=tok)
        small = count_statements.count
        count_statements.statements.clear()
        data = await gql.ok(FEED, {"n": 24}, token=tok)
        assert len(data["recognitionFeed"]["edges"]) == 24
        assert count_statements.count == small, count_statements.statements


class TestIsolation:
    async def test_foreign_kudos_and_values_are_not_found(
        self, gql: GQL, acme, globex, owner_engine
    ) -> None:
        async with owner_engine.connect() as conn:
            kid, vid = (
                await conn.execute(
                    sa.text(
                        "select k.id, v.value_id from kudos k join kudos_values v on v.tenant_id = "
                        "k.tenant_id and v.kudos_id = k.id where k.tenant_id = :t limit 1"
                    ),
                    {"t": globex.id},
                )
            ).one()
        tok = acme.token("hr@acme.example")
        for type_name, raw in (("Kudos", kid), ("CompanyValue", vid)):
            foreign = await gql(NODE, {"id": to_global_id(type_name, raw)}, token=tok)
            ghost = await gql(NODE, {"id": to_global_id(type_name, uuid.uuid4())}, token=tok)
            assert foreign == ghost
        q = "query($id: ID!) { kudos(id: $id) { id } }"
        foreign = await gql(q, {"id": to_global_id("Kudos", kid)}, token=tok)
        ghost = await gql(q, {"id": to_global_id("Kudos", uuid.uuid4())}, token=tok)
        assert foreign == ghost and only_error(foreign)["extensions"]["code"] == "NOT_FOUND"
        i = {
            "receiverIds": [acme.gid("sam.rivera@acme.example")],
            "message": "x",
            "valueIds": [to_global_id("CompanyValue", vid)],
        }
        foreign = await gql(GIVE, {"i": i}, token=acme.token("jordan.kim@acme.example"))
        i["valueIds"] = [to_global_id("CompanyValue", uuid.uuid4())]
        ghost = await gql(GIVE, {"i": i}, token=acme.token("jordan.kim@acme.example"))
        assert foreign == ghost
        body = await gql(
            REACT, {"i": {"kudosId": to_global_id("Kudos", kid), "reaction": "LIKE"}}, token=tok
        )
        assert only_error(body)["extensions"]["code"] == "NOT_FOUND"

    async def test_feeds_hold_only_their_tenant(self, gql: GQL, acme, globex) -> None:
        a = await feed(gql, acme, "hr@acme.example", n=100)
        g = await feed(gql, globex, "hr@globex.example", n=100)
        assert a["edges"] and g["edges"]
        emails = {r["email"] for e in a["edges"] for r in e["node"]["receivers"]}
        assert emails and all(x.endswith("@acme.example") for x in emails)
        assert {e["node"]["id"] for e in a["edges"]}.isdisjoint(
            {e["node"]["id"] for e in g["edges"]}
        )


class TestValuesAndSettings:
    async def test_values_crud(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant(org())
        create = """mutation($i: CreateCompanyValueInput!) { createCompanyValue(input: $i) {
          id name emoji position active } }"""
        body = await gql(create, {"i": {"name": "New"}}, token=t.token("dev@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        body = await gql(create, {"i": {"name": "own IT"}}, token=t.token("hr@t.example"))
        assert only_error(body)["extensions"] == {"code": "CONFLICT", "field": "input.name"}
        body = await gql(create, {"i": {"name": " "}}, token=t.token("hr@t.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.name"}
        v = (
            await gql.ok(
                create,
                {"i": {"name": "Curious", "emoji": "🔍", "position": 0}},
                token=t.token("hr@t.example"),
            )
        )["createCompanyValue"]
        assert v["name"] == "Curious" and v["active"]
        names = [
            x["name"]
            for x in (await gql.ok(VALUES, {}, token=t.token("dev@t.example")))["companyValues"]
        ]
        assert names == ["Curious", "Own it", "Better together"]
        update = """mutation($id: ID!, $i: UpdateCompanyValueInput!) {
          updateCompanyValue(id: $id, input: $i) { name active } }"""
        data = await gql.ok(
            update, {"id": v["id"], "i": {"active": False}}, token=t.token("hr@t.example")
        )
        assert data["updateCompanyValue"] == {"name": "Curious", "active": False}
        # a retired value is only listed for HR who ask, and cannot be given
        names = [
            x["name"]
            for x in (await gql.ok(VALUES, {"r": True}, token=t.token("dev@t.example")))[
                "companyValues"
            ]
        ]
        assert "Curious" not in names
        body = await give(
            gql, t, "dev@t.example", ["peer@t.example"], ok=False, value_ids=[v["id"]]
        )
        assert only_error(body)["extensions"]["field"] == "input.valueIds.0"

    async def test_settings(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant(org())
        q = (
            "{ recognitionSettings { monthlyAllowance managerAwardBudget maxPointsPerKudos "
            "nudgeAfterDays } }"
        )
        assert (await gql.ok(q, token=t.token("dev@t.example")))["recognitionSettings"] == {
            "monthlyAllowance": 100,
            "managerAwardBudget": 0,
            "maxPointsPerKudos": 50,
            "nudgeAfterDays": 30,
        }
        m = """mutation($i: UpdateRecognitionSettingsInput!) {
          updateRecognitionSettings(input: $i) { monthlyAllowance maxPointsPerKudos } }"""
        body = await gql(m, {"i": {"monthlyAllowance": 5}}, token=t.token("dev@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        body = await gql(m, {"i": {"monthlyAllowance": -5}}, token=t.token("hr@t.example"))
        assert only_error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "input.monthlyAllowance",
        }
        data = await gql.ok(m, {"i": {"monthlyAllowance": 5}}, token=t.token("hr@t.example"))
        assert data["updateRecognitionSettings"] == {"monthlyAllowance": 5, "maxPointsPerKudos": 50}
        body = await give(gql, t, "dev@t.example", ["peer@t.example"], ok=False, points=6)
        assert only_error(body)["extensions"]["field"] == "input.points"
        s = """mutation($i: SetPointsAllowanceInput!) { setPointsAllowance(input: $i) {
          jobLevel employee { email } monthlyAllowance awardBudget } }"""
        body = await gql(s, {"i": {"monthlyAllowance": 5}}, token=t.token("hr@t.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input"}
        data = await gql.ok(
            s,
            {"i": {"employeeId": t.gid("dev@t.example"), "monthlyAllowance": 10}},
            token=t.token("hr@t.example"),
        )
        assert data["setPointsAllowance"] == {
            "jobLevel": None,
            "employee": {"email": "dev@t.example"},
            "monthlyAllowance": 10,
            "awardBudget": None,
        }
        await give(gql, t, "dev@t.example", ["peer@t.example"], points=10)
        data = await gql.ok(
            s, {"i": {"employeeId": t.gid("dev@t.example")}}, token=t.token("hr@t.example")
        )
        assert data["setPointsAllowance"] is None
