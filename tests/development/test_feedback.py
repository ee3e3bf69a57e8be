"""Feedback through HTTP: who reads which feedback (giver, recipient, the recipient's line with
each visibility, a colleague, HR with the tenant's switch off and on, another tenant), the
request flow with its notifications, every validation error with its field, statement counts,
pagination and the manifest sections."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from upward import clock
from upward.graphql.relay import to_global_id

GIVE = """mutation($i: GiveFeedbackInput!) { giveFeedback(input: $i) {
  id body visibility giver { email } recipient { email } skill { name } goalId request { id } } }"""
REQUEST = """mutation($i: RequestFeedbackInput!) { requestFeedback(input: $i) {
  id status message dueOn skill { name } goalId requester { email }
  responders { employee { email } status } myAnswer } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Feedback { body } } }"
RECEIVED = """query($n: Int, $a: String) { feedbackReceived(first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id body } } } }"""
GIVEN = "{ feedbackGiven { totalCount edges { node { id body } } } }"
ALL = """query($f: FeedbackFilter) { feedback(filter: $f) {
  totalCount edges { node { id body } } } }"""
REQUESTS = """query($f: FeedbackRequestFilter) { feedbackRequests(filter: $f) {
  totalCount edges { node { id status myAnswer responders { employee { email } status }
  feedback { body giver { email } } } } } }"""
SETTINGS = """mutation($on: Boolean!) { setFeedbackSettings(hrReadsFeedback: $on) {
  hrReadsFeedback } }"""
DECLINE = "mutation($id: ID!) { declineFeedbackRequest(id: $id) { id myAnswer status } }"
CLOSE = "mutation($id: ID!) { closeFeedbackRequest(id: $id) { id status } }"
INBOX = "{ notifications(first: 20) { edges { node { subject body data channels } } } }"


def org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["employees"] += [
        {"email": "ops@t.example", "name": "Oz Ops", "manager": "admin@t.example"},
        {
            "email": "gone@t.example",
            "name": "Gil Gone",
            "manager": "boss@t.example",
            "status": "offboarded",
        },
    ]
    o["skills"] = [
        {"name": "Python", "category": "engineering"},
        {"name": "Old craft", "category": "x", "status": "retired"},
    ]
    return o


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    clock.freeze(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    try:
        yield await make_tenant(org())
    finally:
        clock.freeze(None)


async def _skills(gql: GQL, t: TenantInfo) -> dict[str, str]:
    got = await gql.ok(
        "{ skills(first: 10, filter: {includeRetired: true}) { edges { node { id name } } } }",
        token=t.token("hr@t.example"),
    )
    return {e["node"]["name"]: e["node"]["id"] for e in got["skills"]["edges"]}


async def _goal(owner_engine: AsyncEngine, t: TenantInfo, email: str, **kw: Any) -> str:
    """A goal of a plan of `email` (plans are another part's API: written as the owner)."""
    async with owner_engine.begin() as conn:
        plan = await conn.scalar(
            sa.text(
                "insert into development_plans (tenant_id, employee_id, title, period_start, "
                "period_end) values (:t, :e, 'Grow', '2026-01-01', '2026-12-31') returning id"
            ),
            {"t": t.id, "e": t.ids[email]},
        )
        goal = await conn.scalar(
            sa.text(
                "insert into plan_goals (tenant_id, plan_id, title, status) "
                "values (:t, :p, :title, :s) returning id"
            ),
            {
                "t": t.id,
                "p": plan,
                "title": kw.get("title", "Ship X"),
                "s": kw.get("status", "in_progress"),
            },
        )
    return to_global_id("PlanGoal", goal)


async def _give(gql: GQL, t: TenantInfo, giver: str, **inp: Any) -> dict[str, Any]:
    return (await gql.ok(GIVE, {"i": inp}, token=t.token(giver)))["giveFeedback"]


def _ids(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["id"] for e in conn["edges"]]


class TestWhoReadsWhat:
    async def test_every_party(self, t: TenantInfo, gql: GQL) -> None:
        dev = t.gid("dev@t.example")
        private = await _give(gql, t, "peer@t.example", recipientId=dev, body="Only for you")
        shared = await _give(
            gql,
            t,
            "peer@t.example",
            recipientId=dev,
            body="Your line may read this",
            visibility="RECIPIENT_AND_MANAGER",
        )
        assert private["visibility"] == "RECIPIENT" and shared["giver"] == {
            "email": "peer@t.example"
        }
        both = {private["id"], shared["id"]}
        ghost = await gql(
            NODE, {"id": to_global_id("Feedback", uuid.uuid4())}, token=t.token("ops@t.example")
        )

        async def reads(email: str) -> set[str]:
            tok = t.token(email)
            seen = set()
            for fid in both:
                body = await gql(NODE, {"id": fid}, token=tok)
                if "errors" in body:
                    assert body == ghost  # unreadable looks exactly like nonexistent
                else:
                    seen.add(body["data"]["node"]["id"])
            listed = set(
                _ids((await gql.ok(ALL, {"f": {"recipientId": dev}}, token=tok))["feedback"])
            )
            assert listed == seen, email  # lists agree with node reads
            return seen

        assert await reads("peer@t.example") == both  # giver
        assert await reads("dev@t.example") == both  # recipient
        assert await reads("lead@t.example") == {shared["id"]}  # direct manager
        assert await reads("boss@t.example") == {shared["id"]}  # higher in the line
        assert await reads("ops@t.example") == set()  # a colleague outside the line
        assert await reads("hr@t.example") == set()  # HR, switch off
        # a tenant admin who is above dev reads as their manager line, not as HR
        assert await reads("admin@t.example") == {shared["id"]}
        mine = await gql.ok(RECEIVED, {}, token=t.token("dev@t.example"))
        assert set(_ids(mine["feedbackReceived"])) == both
        gave = await gql.ok(GIVEN, token=t.token("peer@t.example"))
        assert gave["feedbackGiven"]["totalCount"] == 2
        none = await gql.ok(GIVEN, token=t.token("dev@t.example"))
        assert none["feedbackGiven"]["totalCount"] == 0
        # the tenant turns the switch on: HR reads it all, in every list
        got = await gql.ok(SETTINGS, {"on": True}, token=t.token("admin@t.example"))
        assert got["setFeedbackSettings"] == {"hrReadsFeedback": True}
        assert await reads("hr@t.example") == both
        assert await reads("admin@t.example") == both
        everything = await gql.ok(ALL, {}, token=t.token("hr@t.example"))
        assert everything["feedback"]["totalCount"] == 2
        assert await reads("ops@t.example") == set()  # still nobody else
        err = only_error(await gql(SETTINGS, {"on": False}, token=t.token("hr@t.example")))
        assert err["extensions"]["code"] == "FORBIDDEN"  # HR does not decide its own access
        got = await gql.ok(SETTINGS, {"on": False}, token=t.token("admin@t.example"))
        assert await reads("hr@t.example") == set()
        audit = await gql.ok(
            '{ auditEvents(filter: {action: "feedback_settings.update"}) { edges { node { '
            "actor { email } changes } } } }",
            token=t.token("admin@t.example"),
        )
        assert [e["node"]["changes"] for e in audit["auditEvents"]["edges"]] == [
            {"hr_reads_feedback": {"from": True, "to": False}},
            {"hr_reads_feedback": {"from": False, "to": True}},
        ]

    async def test_settings_are_readable_and_only_hr_changes_them(
        self, t: TenantInfo, gql: GQL
    ) -> None:
        q = "{ feedbackSettings { hrReadsFeedback } }"
        assert (await gql.ok(q, token=t.token("dev@t.example")))["feedbackSettings"] == {
            "hrReadsFeedback": False
        }
        err = only_error(await gql(SETTINGS, {"on": True}, token=t.token("lead@t.example")))
        assert err["extensions"]["code"] == "FORBIDDEN"
        assert (await gql.ok(q, token=t.token("hr@t.example")))["feedbackSettings"] == {
            "hrReadsFeedback": False
        }

    async def test_audit_and_notification_never_carry_the_text(
        self, t: TenantInfo, gql: GQL
    ) -> None:
        secret = "a very private remark"
        await _give(gql, t, "peer@t.example", recipientId=t.gid("dev@t.example"), body=secret)
        audit = await gql.ok(
            '{ auditEvents(filter: {action: "feedback.give"}) { edges { node { actor { email } '
            "targetId changes } } } }",
            token=t.token("admin@t.example"),
        )
        (event,) = [e["node"] for e in audit["auditEvents"]["edges"]]
        assert event["actor"] == {"email": "peer@t.example"} and secret not in str(event)
        inbox = (await gql.ok(INBOX, token=t.token("dev@t.example")))["notifications"]["edges"]
        (note,) = [e["node"] for e in inbox]
        assert note["subject"] == "Pat Peer gave you feedback"
        assert secret not in note["body"] and note["data"]["feedback_id"] == event["targetId"]


class TestOtherTenant:
    async def test_unreachable_by_any_id_or_filter(
        self, t: TenantInfo, globex: TenantInfo, gql: GQL, owner_engine: AsyncEngine
    ) -> None:
        async with owner_engine.connect() as conn:
            fb = (
                await conn.execute(
                    sa.text("select id, recipient_id from feedback where tenant_id = :t limit 1"),
                    {"t": globex.id},
                )
            ).one()
            req = await conn.scalar(
                sa.text("select id from feedback_requests where tenant_id = :t limit 1"),
                {"t": globex.id},
            )
            before = (
                await conn.execute(
                    sa.text(
                        "select status, responded_at from feedback_request_responders "
                        "where request_id = :r order by responder_id"
                    ),
                    {"r": req},
                )
            ).all()
        await gql.ok(SETTINGS, {"on": True}, token=t.token("admin@t.example"))
        hr = t.token("hr@t.example")  # reads everything of their own tenant
        for kind, raw in (("Feedback", fb.id), ("FeedbackRequest", req)):
            foreign = await gql(NODE, {"id": to_global_id(kind, raw)}, token=hr)
            ghost = await gql(NODE, {"id": to_global_id(kind, uuid.uuid4())}, token=hr)
            assert "errors" in foreign and foreign == ghost
        for f in (
            {"recipientId": to_global_id("Employee", fb.recipient_id)},
            {"requestId": to_global_id("FeedbackRequest", req)},
        ):
            got = await gql.ok(ALL, {"f": f}, token=hr)
            assert got["feedback"] == {"totalCount": 0, "edges": []}
        # nor can anyone write to them: foreign ids are NOT_FOUND like ghost ids
        dev = t.token("dev@t.example")
        for inp, field in (
            ({"recipientId": to_global_id("Employee", fb.recipient_id)}, "input.recipientId"),
            ({"requestId": to_global_id("FeedbackRequest", req)}, "input.requestId"),
        ):
            err = only_error(await gql(GIVE, {"i": {"body": "hi", **inp}}, token=dev))
            assert err["extensions"] == {"code": "NOT_FOUND", "field": field}
        err = only_error(
            await gql(
                REQUEST,
                {
                    "i": {
                        "responderIds": [to_global_id("Employee", fb.recipient_id)],
                        "skillId": (await _skills(gql, t))["Python"],
                    }
                },
                token=dev,
            )
        )
        assert err["extensions"] == {"code": "NOT_FOUND", "field": "input.responderIds.0"}
        for m in (DECLINE, CLOSE):
            err = only_error(await gql(m, {"id": to_global_id("FeedbackRequest", req)}, token=dev))
            assert err["extensions"] == {"code": "NOT_FOUND", "field": "id"}
        async with owner_engine.connect() as conn:
            after = (
                await conn.execute(
                    sa.text(
                        "select status, responded_at from feedback_request_responders "
                        "where request_id = :r order by responder_id"
                    ),
                    {"r": req},
                )
            ).all()
        assert after == before


class TestRequestFlow:
    async def test_ask_answer_decline_close(
        self, t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
    ) -> None:
        skills = await _skills(gql, t)
        dev, peer, lead = (
            t.token(e) for e in ("dev@t.example", "peer@t.example", "lead@t.example")
        )
        asked = (
            await gql.ok(
                REQUEST,
                {
                    "i": {
                        "responderIds": [t.gid("peer@t.example"), t.gid("lead@t.example")],
                        "skillId": skills["Python"],
                        "message": "How was my code review style? (private context)",
                        "dueOn": "2026-06-30",
                    }
                },
                token=dev,
            )
        )["requestFeedback"]
        assert asked["status"] == "OPEN" and asked["skill"] == {"name": "Python"}
        assert asked["myAnswer"] is None and asked["requester"] == {"email": "dev@t.example"}
        assert sorted((r["employee"]["email"], r["status"]) for r in asked["responders"]) == [
            ("lead@t.example", "PENDING"),
            ("peer@t.example", "PENDING"),
        ]
        rid = asked["id"]
        # each colleague asked has a notification (text without the request's message)
        for tok in (peer, lead):
            (note,) = [
                e["node"] for e in (await gql.ok(INBOX, token=tok))["notifications"]["edges"]
            ]
            assert note["subject"] == "Dee Dev asks for your feedback on Python"
            assert "2026-06-30" in note["body"] and "private context" not in note["body"]
            assert note["data"]["feedback_request_id"] == rid
            assert note["channels"] == ["EMAIL", "IN_APP"]
        # a colleague asked sees the request waiting, with only their own entry
        waiting = (await gql.ok(REQUESTS, {"f": {"waitingForMe": True}}, token=peer))[
            "feedbackRequests"
        ]
        (node,) = [e["node"] for e in waiting["edges"]]
        assert node["id"] == rid and node["myAnswer"] == "PENDING"
        assert node["responders"] == [
            {"employee": {"email": "peer@t.example"}, "status": "PENDING"}
        ]
        # someone not asked cannot see it
        err = only_error(await gql(NODE, {"id": rid}, token=t.token("ops@t.example")))
        assert err["extensions"]["code"] == "NOT_FOUND"
        # peer answers: to dev, about Python, marked given
        answer = await _give(gql, t, "peer@t.example", requestId=rid, body="Kind and precise.")
        assert answer["recipient"] == {"email": "dev@t.example"}
        assert answer["skill"] == {"name": "Python"} and answer["request"] == {"id": rid}
        err = only_error(await gql(GIVE, {"i": {"requestId": rid, "body": "again"}}, token=peer))
        assert err["extensions"] == {"code": "CONFLICT", "field": "input.requestId"}
        waiting = await gql.ok(REQUESTS, {"f": {"waitingForMe": True}}, token=peer)
        assert waiting["feedbackRequests"]["totalCount"] == 0
        # lead declines (once); dev cannot decline their own, peer cannot close it
        got = await gql.ok(DECLINE, {"id": rid}, token=lead)
        assert got["declineFeedbackRequest"]["myAnswer"] == "DECLINED"
        err = only_error(await gql(DECLINE, {"id": rid}, token=lead))
        assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
        assert (
            only_error(await gql(DECLINE, {"id": rid}, token=dev))["extensions"]["code"]
            == "FORBIDDEN"
        )
        assert (
            only_error(await gql(CLOSE, {"id": rid}, token=peer))["extensions"]["code"]
            == "FORBIDDEN"
        )
        # the requester sees every answer and every responder
        mine = (await gql.ok(REQUESTS, {"f": {"role": "REQUESTER"}}, token=dev))["feedbackRequests"]
        (node,) = [e["node"] for e in mine["edges"]]
        assert node["feedback"] == [
            {"body": "Kind and precise.", "giver": {"email": "peer@t.example"}}
        ]
        assert sorted((r["employee"]["email"], r["status"]) for r in node["responders"]) == [
            ("lead@t.example", "DECLINED"),
            ("peer@t.example", "GIVEN"),
        ]
        # the lead, though dev's manager, reads no answer of visibility RECIPIENT
        asked_lead = (await gql.ok(REQUESTS, {"f": {"role": "RESPONDER"}}, token=lead))[
            "feedbackRequests"
        ]
        assert [e["node"]["feedback"] for e in asked_lead["edges"]] == [[]]
        # closing: once, by the requester; then nobody answers any more
        got = await gql.ok(CLOSE, {"id": rid}, token=dev)
        assert got["closeFeedbackRequest"]["status"] == "CLOSED"
        err = only_error(await gql(CLOSE, {"id": rid}, token=dev))
        assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
        closed = await gql.ok(REQUESTS, {"f": {"status": "CLOSED"}}, token=dev)
        assert closed["feedbackRequests"]["totalCount"] == 1
        audit = await gql.ok(
            "{ auditEvents(first: 50) { edges { node { action changes } } } }",
            token=t.token("admin@t.example"),
        )
        actions = [e["node"]["action"] for e in audit["auditEvents"]["edges"]]
        for a in (
            "feedback_request.create",
            "feedback.give",
            "feedback_request.decline",
            "feedback_request.close",
        ):
            assert a in actions
        assert "private context" not in str(audit)

    async def test_closed_request_takes_no_answer(self, t: TenantInfo, gql: GQL) -> None:
        skills = await _skills(gql, t)
        rid = (
            await gql.ok(
                REQUEST,
                {"i": {"responderIds": [t.gid("peer@t.example")], "skillId": skills["Python"]}},
                token=t.token("dev@t.example"),
            )
        )["requestFeedback"]["id"]
        await gql.ok(CLOSE, {"id": rid}, token=t.token("dev@t.example"))
        peer = t.token("peer@t.example")
        err = only_error(await gql(GIVE, {"i": {"requestId": rid, "body": "late"}}, token=peer))
        assert err["extensions"] == {"code": "CONFLICT", "field": "input.requestId"}
        err = only_error(await gql(DECLINE, {"id": rid}, token=peer))
        assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
        assert (await gql.ok(GIVEN, token=peer))["feedbackGiven"]["totalCount"] == 0

    async def test_about_my_own_goal(
        self, t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
    ) -> None:
        goal = await _goal(owner_engine, t, "dev@t.example", title="Lead a launch")
        got = (
            await gql.ok(
                REQUEST,
                {"i": {"responderIds": [t.gid("peer@t.example")], "goalId": goal}},
                token=t.token("dev@t.example"),
            )
        )["requestFeedback"]
        assert got["goalId"] == goal and got["skill"] is None
        answer = await _give(gql, t, "peer@t.example", requestId=got["id"], body="Well led.")
        assert answer["goalId"] == goal
        inbox = (await gql.ok(INBOX, token=t.token("peer@t.example")))["notifications"]["edges"]
        assert (
            inbox[0]["node"]["subject"]
            == "Dee Dev asks for your feedback on the goal “Lead a launch”"
        )
        # unsolicited feedback on the recipient's goal
        unsolicited = await _give(
            gql, t, "lead@t.example", recipientId=t.gid("dev@t.example"), goalId=goal, body="Go!"
        )
        assert unsolicited["goalId"] == goal
        listed = await gql.ok(ALL, {"f": {"goalId": goal}}, token=t.token("dev@t.example"))
        assert listed["feedback"]["totalCount"] == 2


class TestValidation:
    async def test_request_errors_name_the_field_and_change_nothing(
        self, t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
    ) -> None:
        s = await _skills(gql, t)
        mine = await _goal(owner_engine, t, "dev@t.example")
        cancelled = await _goal(owner_engine, t, "dev@t.example", status="cancelled")
        theirs = await _goal(owner_engine, t, "peer@t.example")
        peer, ghost = t.gid("peer@t.example"), to_global_id("Employee", uuid.uuid4())
        ok = {"responderIds": [peer], "skillId": s["Python"]}
        cases = [
            ({"responderIds": []}, "BAD_USER_INPUT", "input.responderIds"),
            ({"responderIds": [ghost] * 21}, "BAD_USER_INPUT", "input.responderIds"),
            ({"responderIds": [t.gid("dev@t.example")]}, "BAD_USER_INPUT", "input.responderIds.0"),
            ({"responderIds": [peer, peer]}, "BAD_USER_INPUT", "input.responderIds.1"),
            ({"responderIds": [ghost]}, "NOT_FOUND", "input.responderIds.0"),
            ({"responderIds": [t.gid("gone@t.example")]}, "BAD_USER_INPUT", "input.responderIds.0"),
            ({"responderIds": ["nope"]}, "BAD_USER_INPUT", "input.responderIds.0"),
            ({"responderIds": [s["Python"]]}, "BAD_USER_INPUT", "input.responderIds.0"),
            ({"skillId": None}, "BAD_USER_INPUT", "input.skillId"),
            ({"goalId": mine}, "BAD_USER_INPUT", "input.goalId"),
            ({"skillId": s["Old craft"]}, "BAD_USER_INPUT", "input.skillId"),
            ({"skillId": to_global_id("Skill", uuid.uuid4())}, "NOT_FOUND", "input.skillId"),
            ({"skillId": None, "goalId": theirs}, "NOT_FOUND", "input.goalId"),
            ({"skillId": None, "goalId": cancelled}, "BAD_USER_INPUT", "input.goalId"),
            ({"skillId": None, "goalId": peer}, "BAD_USER_INPUT", "input.goalId"),
            ({"message": "x" * 2001}, "BAD_USER_INPUT", "input.message"),
            ({"message": "a\x00b"}, "BAD_USER_INPUT", "input.message"),
            ({"dueOn": "2026-06-14"}, "BAD_USER_INPUT", "input.dueOn"),
            ({"dueOn": "2027-07-01"}, "BAD_USER_INPUT", "input.dueOn"),
        ]
        dev = t.token("dev@t.example")
        for change, code, field in cases:
            err = only_error(await gql(REQUEST, {"i": {**ok, **change}}, token=dev))
            assert err["extensions"] == {"code": code, "field": field}, (change, err)
            assert err["message"]
        got = await gql.ok(REQUESTS, {}, token=dev)
        assert got["feedbackRequests"]["totalCount"] == 0
        assert (await gql.ok(INBOX, token=t.token("peer@t.example")))["notifications"][
            "edges"
        ] == []
        await gql.ok(
            REQUEST, {"i": {**ok, "message": "  fine  ", "dueOn": "2026-06-15"}}, token=dev
        )

    async def test_give_errors_name_the_field_and_change_nothing(
        self, t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
    ) -> None:
        s = await _skills(gql, t)
        dev = t.gid("dev@t.example")
        peers_goal = await _goal(owner_engine, t, "peer@t.example")
        own = (
            await gql.ok(
                REQUEST,
                {"i": {"responderIds": [t.gid("peer@t.example")], "skillId": s["Python"]}},
                token=t.token("lead@t.example"),
            )
        )["requestFeedback"]["id"]
        asked = (
            await gql.ok(
                REQUEST,
                {"i": {"responderIds": [t.gid("lead@t.example")], "skillId": s["Python"]}},
                token=t.token("dev@t.example"),
            )
        )["requestFeedback"]["id"]
        others = (
            await gql.ok(
                REQUEST,
                {"i": {"responderIds": [t.gid("peer@t.example")], "skillId": s["Python"]}},
                token=t.token("dev@t.example"),
            )
        )["requestFeedback"]["id"]
        ok = {"recipientId": dev, "body": "Good"}
        cases = [
            ({"body": ""}, "BAD_USER_INPUT", "input.body"),
            ({"body": "   "}, "BAD_USER_INPUT", "input.body"),
            ({"body": "x" * 5001}, "BAD_USER_INPUT", "input.body"),
            ({"body": "a\x00"}, "BAD_USER_INPUT", "input.body"),
            ({"recipientId": t.gid("lead@t.example")}, "BAD_USER_INPUT", "input.recipientId"),
            ({"recipientId": None}, "BAD_USER_INPUT", "input.recipientId"),
            (
                {"recipientId": to_global_id("Employee", uuid.uuid4())},
                "NOT_FOUND",
                "input.recipientId",
            ),
            ({"recipientId": t.gid("gone@t.example")}, "BAD_USER_INPUT", "input.recipientId"),
            ({"recipientId": s["Python"]}, "BAD_USER_INPUT", "input.recipientId"),
            ({"skillId": s["Old craft"]}, "BAD_USER_INPUT", "input.skillId"),
            ({"skillId": s["Python"], "goalId": peers_goal}, "BAD_USER_INPUT", "input.goalId"),
            ({"goalId": peers_goal}, "NOT_FOUND", "input.goalId"),
            (
                {"requestId": to_global_id("FeedbackRequest", uuid.uuid4())},
                "NOT_FOUND",
                "input.requestId",
            ),
            ({"requestId": others, "recipientId": None}, "NOT_FOUND", "input.requestId"),
            (
                {"requestId": asked, "recipientId": t.gid("peer@t.example")},
                "BAD_USER_INPUT",
                "input.recipientId",
            ),
            ({"requestId": asked, "skillId": s["Old craft"]}, "BAD_USER_INPUT", "input.skillId"),
        ]
        lead = t.token("lead@t.example")
        for change, code, field in cases:
            err = only_error(await gql(GIVE, {"i": {**ok, **change}}, token=lead))
            assert err["extensions"] == {"code": code, "field": field}, (change, err)
        # own request: the requester cannot answer it
        err = only_error(
            await gql(
                GIVE, {"i": {"requestId": own, "body": "me"}}, token=t.token("lead@t.example")
            )
        )
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.requestId"}
        assert (await gql.ok(GIVEN, token=lead))["feedbackGiven"]["totalCount"] == 0
        mine = await gql.ok(REQUESTS, {"f": {"waitingForMe": True}}, token=lead)
        assert mine["feedbackRequests"]["totalCount"] == 1  # still waiting
        await gql.ok(GIVE, {"i": {**ok, "body": "x" * 5000}}, token=lead)


class TestLists:
    async def test_pages_with_cursors(self, t: TenantInfo, gql: GQL) -> None:
        for i in range(3):
            clock.freeze(datetime(2026, 6, 15, 10, i, tzinfo=UTC))  # newest first: by time
            await _give(gql, t, "peer@t.example", recipientId=t.gid("dev@t.example"), body=f"n{i}")
        dev = t.token("dev@t.example")
        first = (await gql.ok(RECEIVED, {"n": 2}, token=dev))["feedbackReceived"]
        assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"]
        assert [e["node"]["body"] for e in first["edges"]] == ["n2", "n1"]
        rest = (await gql.ok(RECEIVED, {"n": 2, "a": first["pageInfo"]["endCursor"]}, token=dev))[
            "feedbackReceived"
        ]
        assert [e["node"]["body"] for e in rest["edges"]] == ["n0"]
        assert not rest["pageInfo"]["hasNextPage"]

    async def test_statements_do_not_grow_with_the_page(
        self, t: TenantInfo, gql: GQL, count_statements: Any
    ) -> None:
        s = await _skills(gql, t)
        givers = ["peer@t.example", "lead@t.example", "boss@t.example", "ops@t.example"]
        # distinct times, answers newest: every page, small or large, shows both kinds
        for i in range(8):
            clock.freeze(datetime(2026, 6, 15, 10, i, tzinfo=UTC))
            await _give(
                gql,
                t,
                givers[i % 4],
                recipientId=t.gid("dev@t.example"),
                body=f"n{i}",
                skillId=s["Python"],
            )
        for i in range(8):
            clock.freeze(datetime(2026, 6, 15, 11, i, tzinfo=UTC))
            rid = (
                await gql.ok(
                    REQUEST,
                    {
                        "i": {
                            "responderIds": [t.gid(givers[i % 4]), t.gid(givers[(i + 1) % 4])],
                            "skillId": s["Python"],
                        }
                    },
                    token=t.token("dev@t.example"),
                )
            )["requestFeedback"]["id"]
            await _give(gql, t, givers[i % 4], requestId=rid, body=f"a{i}")
        received = """query($n: Int!) { feedbackReceived(first: $n) { totalCount edges { node {
          body visibility giver { name } recipient { name } skill { name }
          request { id responders { status } } } } } }"""
        requests = """query($n: Int!) { feedbackRequests(first: $n) { totalCount edges { node {
          requester { name } skill { name } myAnswer
          responders { employee { name } status } feedback { body giver { name } } } } } }"""
        dev = t.token("dev@t.example")
        for q in (received, requests):
            await gql.ok(q, {"n": 1}, token=dev)  # warm caches
            count_statements.statements.clear()
            await gql.ok(q, {"n": 2}, token=dev)
            small = count_statements.count
            small_statements = list(count_statements.statements)
            count_statements.statements.clear()
            got = await gql.ok(q, {"n": 16}, token=dev)
            assert len(next(iter(got.values()))["edges"]) >= 8
            assert count_statements.count == small, (small_statements, count_statements.statements)


class TestManifest:
    async def test_sections_apply_once(self, owner_engine: AsyncEngine) -> None:
        from upward.tenancy.manifest import validate_manifest
        from upward.tenancy.service import apply_manifest

        slug = f"t-{uuid.uuid4().hex[:10]}"
        data = {
            "slug": slug,
            "name": "Feedback demo",
            "timezone": "Europe/Berlin",
            "hr_reads_feedback": True,
            **copy.deepcopy(org()),
            "feedback_requests": [
                {
                    "requester": "dev@t.example",
                    "responders": ["peer@t.example", "lead@t.example", "boss@t.example"],
                    "skill": "Python",
                    "message": "How was my demo?",
                    "due_on": "today+7d",
                    "declined": ["boss@t.example"],
                    "answers": [{"responder": "peer@t.example", "body": "Crisp."}],
                }
            ],
            "feedback": [
                {"giver": "lead@t.example", "recipient": "dev@t.example", "body": "Thanks!"}
            ],
        }
        first = await apply_manifest(owner_engine, validate_manifest(data, f"{slug}.toml"))
        assert first.created.get("feedback_requests") == 1 and first.created.get("feedback") == 1
        again = await apply_manifest(owner_engine, validate_manifest(data, f"{slug}.toml"))
        assert not again.created.get("feedback_requests") and not again.created.get("feedback")
        assert not again.created.get("feedback_settings") and not again.updated.get(
            "feedback_settings"
        )
        async with owner_engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text(
                        "select r.status, e.email from feedback_request_responders r "
                        "join employees e on e.id = r.responder_id where r.tenant_id = :t "
                        "order by e.email"
                    ),
                    {"t": first.tenant_id},
                )
            ).all()
            due = await conn.scalar(
                sa.text("select due_on from feedback_requests where tenant_id = :t"),
                {"t": first.tenant_id},
            )
            on = await conn.scalar(
                sa.text("select hr_reads_feedback from feedback_settings where tenant_id = :t"),
                {"t": first.tenant_id},
            )
            answers = await conn.scalar(
                sa.text("select count(*) from feedback where tenant_id = :t"),
                {"t": first.tenant_id},
            )
        assert [tuple(r) for r in rows] == [
            ("declined", "boss@t.example"),
            ("pending", "lead@t.example"),
            ("given", "peer@t.example"),
        ]
        assert isinstance(due, date) and on is True and answers == 2

    def test_errors_are_reported(self) -> None:
        from upward.tenancy.manifest import ManifestError, validate_manifest

        data = {
            "slug": "bad-feedback",
            "name": "Bad",
            "timezone": "UTC",
            "hr_reads_feedback": "yes",
            **copy.deepcopy(org()),
            "feedback_requests": [
                {"requester": "dev@t.example", "responders": ["dev@t.example"], "message": "m"}
            ],
            "feedback": [
                {"giver": "dev@t.example", "recipient": "dev@t.example", "body": "x", "typo": 1}
            ],
        }
        with pytest.raises(ManifestError) as e:
            validate_manifest(data, "bad.toml")
        text = str(e.value)
        for part in (
            "hr_reads_feedback",
            "'responders'",
            "'skill' is required",
            "two people",
            "typo",
        ):
            assert part in text, part
