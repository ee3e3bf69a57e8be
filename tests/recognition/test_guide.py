"""The guide "Recognition by example" (docs/recognition.md), run: every GraphQL document below
is copied verbatim from the guide (the first test checks that it still is), and the second test
sends them in the guide's order, as the guide's people, against a throwaway copy of the acme demo
(its org, values, settings, rewards and credential types; without its kudos history, so the
story starts from nothing and the shared demo tenant is left alone)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GQL, TenantInfo, only_error
from upward import clock
from upward.db import tenant_session
from upward.reminders.outbox import publish_events

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "recognition.md"

SAM = "sam.rivera@acme.example"  # Software Engineer II, reports to Jordan
AISHA = "aisha.bello@acme.example"  # reports to Jordan
DIEGO = "diego.alvarez@acme.example"  # reports to Jordan
JORDAN = "jordan.kim@acme.example"  # their manager (a manager: an award budget)
DANA = "dana.lee@acme.example"  # Jordan's manager
HR = "hr@acme.example"  # Harper Reyes, hr_admin

# --- the guide's documents, verbatim ------------------------------------------------------------

START = """query {
  companyValues { id name emoji }
  pointsSummary { balance available allowance { monthly spent left renewsOn } }
}"""

GIVE = """mutation($to: [ID!]!, $values: [ID!]!, $points: Int!) {
  giveKudos(input: {
    receiverIds: $to, valueIds: $values, points: $points
    message: "Thanks for covering my on-call shifts while I was out. I owe you both."
  }) { id kind points receivers { name } values { name } }
}"""

THANK_PRIVATELY = """mutation($jordan: ID!, $together: ID!) {
  giveKudos(input: {
    receiverIds: [$jordan], valueIds: [$together], visibility: PRIVATE
    message: "Thank you for the patient code reviews. I learn something every time."
  }) { id visibility }
}"""

FEED = """query {
  recognitionFeed(first: 10) {
    edges { node { id message visibility points giver { name } receivers { name }
                   values { name } reactions { reaction count reactedByMe } commentCount } }
    pageInfo { hasNextPage endCursor }
  }
}"""

REACT = """mutation($kudos: ID!) {
  reactToKudos(input: { kudosId: $kudos, reaction: CELEBRATE }) {
    reactions { reaction count reactedByMe }
  }
}"""

COMMENT = """mutation($kudos: ID!) {
  commentOnKudos(input: { kudosId: $kudos, body: "Proud of how this team covers for each other." }) {
    id author { name } createdAt
  }
}"""

AWARD = """mutation($aisha: ID!, $own: ID!) {
  giveKudos(input: {
    receiverIds: [$aisha], valueIds: [$own], points: 50, award: true
    message: "You kept the incident channel calm and the timeline precise during Tuesday's outage."
  }) { kind points }
}"""

HIDE = """mutation($kudos: ID!) {
  hideKudos(input: { kudosId: $kudos, reason: "Shares a customer's name; asked Diego to rephrase." }) {
    hidden hiddenReason
  }
}"""

REWARDS = """query {
  rewards(orderBy: COST_ASC, first: 3) { edges { node { id name cost stock } } }
  pointsSummary { balance held available }
}"""

REDEEM = """mutation($reward: ID!) {
  requestRedemption(input: { rewardId: $reward, note: "Size M, please." }) {
    id status cost reward { name stock }
  }
}"""

PENDING = """query {
  redemptions(filter: { status: REQUESTED }, first: 20) {
    edges { node { id cost note employee { name } reward { name } } }
  }
}"""

APPROVE = """mutation($redemption: ID!) {
  approveRedemption(id: $redemption, note: "At the People desk from Monday.") {
    status decidedBy { name } decidedAt
  }
}"""

HISTORY = """query {
  pointsSummary { balance held available }
  pointsHistory(first: 5) { edges { node { amount account kind createdAt } } }
}"""

MILESTONE_SETTINGS = """query {
  milestoneSettings { kind enabled points message placeholders isDefault }
}"""

SET_MILESTONE = """mutation {
  setMilestoneSetting(input: {
    kind: CREDENTIAL_RENEWED, points: 15
    message: "Thank you {first_name} for renewing {credential}: compliance is a team sport! ✅"
  }) { kind enabled points message isDefault }
}"""

CREDENTIAL_TYPES = """query { credentialTypes { id name } }"""

CREATE_CREDENTIAL = """mutation($sam: ID!, $type: ID!, $issued: Date!) {
  createCredential(input: { employeeId: $sam, credentialTypeId: $type, issuedOn: $issued }) {
    credential { id verification }
  }
}"""

MILESTONES = """query($sam: ID!) {
  milestones(employeeId: $sam, first: 5) { edges { node { kind occurredOn kudosId } } }
  recognitionFeed(first: 1, filter: { kinds: [MILESTONE] }) {
    edges { node { message points giver { name } receivers { name } } }
  }
}"""

LEADERBOARD = """query {
  recognitionLeaderboard(period: { preset: THIS_MONTH }, by: RECEIVED, first: 3) {
    rank kudosCount points employee { name }
  }
}"""

PROFILE = """query($aisha: ID!) {
  recognitionProfile(employeeId: $aisha, period: { preset: THIS_YEAR }) {
    receivedCount givenCount pointsReceived lastRecognizedAt
    receivedByValue { value { name } count }
    topGivers { employee { name } count }
  }
}"""

HR_INSIGHTS = """query {
  recognitionParticipation(period: { preset: THIS_MONTH }) {
    total { headcount givers receivers giverRate receiverRate }
    departments { department { name } headcount givers receivers }
  }
  recognitionTopValues(period: { preset: THIS_MONTH }) { value { name } count }
}"""

NOT_RECOGNIZED = """query {
  unrecognizedPeople(days: 30, first: 10) {
    totalCount
    edges { node { employee { name } lastRecognizedAt daysSinceRecognized } }
  }
}"""

DOCUMENTS = {
    name: value
    for name, value in globals().items()
    if name.isupper() and isinstance(value, str) and value.lstrip().startswith(("query", "mut"))
}


def guide_section() -> str:
    text = GUIDE.read_text()
    start = text.index("## Recognition by example")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_guide_shows_these_documents_verbatim() -> None:
    """Each document the next test runs is in the guide as written (and the guide has no
    GraphQL block this test does not run), so a change to either shows here."""
    section = guide_section()
    for name, doc in DOCUMENTS.items():
        assert doc in section, f"{name} is no longer in the guide as the test runs it"
    for block in re.findall(r"```graphql\n(.*?)```", section, flags=re.S):
        rest = block
        for doc in DOCUMENTS.values():
            rest = rest.replace(doc, "")
        assert not rest.strip(), f"a guide block the test does not run:\n{block}"


# --- the story ----------------------------------------------------------------------------------


def demo_org() -> dict[str, Any]:
    data = tomllib.loads((ROOT / "tenants" / "acme.toml").read_text())
    for key in (
        "slug",
        "name",
        "kudos",
        "redemptions",
        "job_postings",
        "career_preferences",
        "applications",
    ):
        data.pop(key, None)
    data["credentials"] = [c for c in data.get("credentials", []) if "evidence" not in c]
    return data


@pytest.fixture
async def demo(make_tenant) -> TenantInfo:
    return await make_tenant(demo_org())


async def publish(t: TenantInfo) -> None:
    """What the `events.publish` job does a moment after a commit."""
    async with tenant_session(t.id) as s:
        await publish_events(s)


def nodes(conn: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in conn["edges"]]


async def test_recognition_by_example(gql: GQL, demo: TenantInfo) -> None:
    t = demo
    start = await gql.ok(START, token=t.token(SAM))
    values = {v["name"]: v["id"] for v in start["companyValues"]}
    assert list(values) == [
        "Customer obsessed",
        "Own it",
        "Better together",
        "Raise the bar",
        "Safety first",
    ]
    summary = start["pointsSummary"]
    assert summary["balance"] == 0 and summary["allowance"]["monthly"] == 100
    assert summary["allowance"]["left"] == 100

    # Sam thanks two teammates, 10 points each
    given = (
        await gql.ok(
            GIVE,
            {
                "to": [t.gid(AISHA), t.gid(DIEGO)],
                "values": [values["Better together"]],
                "points": 10,
            },
            token=t.token(SAM),
        )
    )["giveKudos"]
    assert given["kind"] == "PEER" and given["points"] == 10
    assert [r["name"] for r in given["receivers"]] == ["Aisha Bello", "Diego Álvarez"]
    # 50 more each is 100: more than the 80 left
    body = await gql(
        GIVE,
        {"to": [t.gid(AISHA), t.gid(DIEGO)], "values": [values["Better together"]], "points": 50},
        token=t.token(SAM),
    )
    err = only_error(body)
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.points"}
    assert err["message"] == (
        "100 points is more than the 80 left of your allowance this month "
        "(100 a month, renewed on the 1st)"
    )

    # Aisha thanks her manager, privately
    private = (
        await gql.ok(
            THANK_PRIVATELY,
            {"jordan": t.gid(JORDAN), "together": values["Better together"]},
            token=t.token(AISHA),
        )
    )["giveKudos"]
    assert private["visibility"] == "PRIVATE"
    sam_feed = nodes((await gql.ok(FEED, token=t.token(SAM)))["recognitionFeed"])
    assert [k["id"] for k in sam_feed] == [given["id"]]
    for who in (JORDAN, DANA, HR, AISHA):
        feed = nodes((await gql.ok(FEED, token=t.token(who)))["recognitionFeed"])
        assert [k["id"] for k in feed] == [private["id"], given["id"]], who

    # Jordan celebrates and comments; the reactions say who reacted
    data = await gql.ok(REACT, {"kudos": given["id"]}, token=t.token(JORDAN))
    assert data["reactToKudos"]["reactions"] == [
        {"reaction": "CELEBRATE", "count": 1, "reactedByMe": True}
    ]
    data = await gql.ok(COMMENT, {"kudos": given["id"]}, token=t.token(JORDAN))
    assert data["commentOnKudos"]["author"] == {"name": "Jordan Kim"}
    feed = nodes((await gql.ok(FEED, token=t.token(SAM)))["recognitionFeed"])
    assert feed[0]["reactions"] == [{"reaction": "CELEBRATE", "count": 1, "reactedByMe": False}]
    assert feed[0]["commentCount"] == 1

    # Jordan awards Aisha from his manager's budget
    data = await gql.ok(
        AWARD, {"aisha": t.gid(AISHA), "own": values["Own it"]}, token=t.token(JORDAN)
    )
    assert data["giveKudos"] == {"kind": "AWARD", "points": 50}

    # HR hides a kudos that names a customer
    oops = (
        await gql.ok(
            GIVE,
            {"to": [t.gid(SAM)], "values": [values["Customer obsessed"]], "points": 0},
            token=t.token(DIEGO),
        )
    )["giveKudos"]
    data = await gql.ok(HIDE, {"kudos": oops["id"]}, token=t.token(HR))
    assert data["hideKudos"]["hidden"] is True
    assert oops["id"] not in {
        k["id"] for k in nodes((await gql.ok(FEED, token=t.token(SAM)))["recognitionFeed"])
    }

    # Aisha redeems: 10 + 50 received
    data = await gql.ok(REWARDS, token=t.token(AISHA))
    rewards = nodes(data["rewards"])
    assert [(r["name"], r["cost"]) for r in rewards] == [
        ("Coffee shop gift card ($10)", 50),
        ("Lunch with the leadership team", 80),
        ("Donate $25 to charity", 100),
    ]
    assert data["pointsSummary"] == {"balance": 60, "held": 0, "available": 60}
    data = await gql.ok(REDEEM, {"reward": rewards[0]["id"]}, token=t.token(AISHA))
    redemption = data["requestRedemption"]
    assert redemption["status"] == "REQUESTED" and redemption["cost"] == 50
    body = await gql(REDEEM, {"reward": rewards[0]["id"]}, token=t.token(AISHA))
    assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.rewardId"}
    pending = nodes((await gql.ok(PENDING, token=t.token(HR)))["redemptions"])
    assert [(p["employee"]["name"], p["reward"]["name"]) for p in pending] == [
        ("Aisha Bello", "Coffee shop gift card ($10)")
    ]
    data = await gql.ok(APPROVE, {"redemption": redemption["id"]}, token=t.token(HR))
    assert data["approveRedemption"]["status"] == "APPROVED"
    data = await gql.ok(HISTORY, token=t.token(AISHA))
    assert data["pointsSummary"] == {"balance": 10, "held": 0, "available": 10}
    assert [(e["amount"], e["account"], e["kind"]) for e in nodes(data["pointsHistory"])] == [
        (-50, "RECEIVED", "REDEMPTION"),
        (50, "RECEIVED", "KUDOS"),
        (10, "RECEIVED", "KUDOS"),
    ]

    # milestones: HR tunes one, then records Sam's renewed training (his expired last month);
    # the publisher recognizes it
    settings = (await gql.ok(MILESTONE_SETTINGS, token=t.token(HR)))["milestoneSettings"]
    assert [s["kind"] for s in settings] == [
        "CREDENTIAL_EARNED",
        "CREDENTIAL_RENEWED",
        "GOAL_COMPLETED",
        "PLAN_COMPLETED",
        "PROMOTION",
        "INTERNAL_MOVE",
        "WORK_ANNIVERSARY",
    ]
    data = await gql.ok(SET_MILESTONE, token=t.token(HR))
    assert data["setMilestoneSetting"]["points"] == 15
    types = (await gql.ok(CREDENTIAL_TYPES, token=t.token(HR)))["credentialTypes"]
    training = next(n["id"] for n in types if n["name"] == "Security Awareness Training")
    data = await gql.ok(
        CREATE_CREDENTIAL,
        {
            "sam": t.gid(SAM),
            "type": training,
            "issued": clock.today(demo_org()["timezone"]).isoformat(),
        },
        token=t.token(HR),
    )
    assert data["createCredential"]["credential"]["verification"] == "NOT_REQUIRED"
    await publish(t)
    await publish(t)  # a second run (or a redelivery) recognizes nothing twice
    data = await gql.ok(MILESTONES, {"sam": t.gid(SAM)}, token=t.token(JORDAN))
    assert [m["kind"] for m in nodes(data["milestones"])] == ["CREDENTIAL_RENEWED"]
    [kudos] = nodes(data["recognitionFeed"])
    assert kudos == {
        "message": "Thank you Sam for renewing Security Awareness Training: "
        "compliance is a team sport! ✅",
        "points": 15,
        "giver": None,
        "receivers": [{"name": "Sam Rivera"}],
    }

    # insights
    board = (await gql.ok(LEADERBOARD, token=t.token(SAM)))["recognitionLeaderboard"]
    assert [(b["rank"], b["employee"]["name"], b["kudosCount"]) for b in board] == [
        (1, "Aisha Bello", 2),
        (2, "Diego Álvarez", 1),
    ]  # public peer kudos and awards only
    profile = (await gql.ok(PROFILE, {"aisha": t.gid(AISHA)}, token=t.token(JORDAN)))[
        "recognitionProfile"
    ]
    assert profile["receivedCount"] == 2 and profile["givenCount"] == 1
    assert profile["pointsReceived"] == 60
    assert {v["value"]["name"]: v["count"] for v in profile["receivedByValue"]} == {
        "Better together": 1,
        "Own it": 1,
    }
    data = await gql.ok(HR_INSIGHTS, token=t.token(HR))
    total = data["recognitionParticipation"]["total"]
    assert total["givers"] == 3 and total["receivers"] == 4  # the hidden kudos does not count
    assert [(v["value"]["name"], v["count"]) for v in data["recognitionTopValues"]] == [
        ("Better together", 2),
        ("Own it", 1),
    ]
    body = await gql(HR_INSIGHTS, token=t.token(SAM))
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    data = await gql.ok(NOT_RECOGNIZED, token=t.token(JORDAN))
    names = [n["employee"]["name"] for n in nodes(data["unrecognizedPeople"])]
    assert "Aisha Bello" not in names and "Sam Rivera" not in names
