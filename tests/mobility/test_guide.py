"""The guide "Internal mobility by example" (docs/mobility.md), run: every GraphQL document below
is copied verbatim from the guide (the first test checks that it still is), and the second test
sends them in the guide's order, as the guide's people, against a throwaway copy of the acme demo
(its org, skills, ladders and settings; without its demo postings, preferences and applications,
so the story starts from nothing and the shared demo tenant is left alone)."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, TenantInfo, only_error
from upward import clock
from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.graphql.relay import from_global_id
from upward.mobility import alerts, matching

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "mobility.md"

HR = "hr@acme.example"  # Harper Reyes, hr_admin
KENJI = "kenji.watanabe@acme.example"  # the hiring manager (Platform), outside Sam's line
SAM = "sam.rivera@acme.example"  # Software Engineer II, reports to Jordan
JORDAN = "jordan.kim@acme.example"  # Sam's manager
DANA = "dana.lee@acme.example"  # Jordan's manager: the rest of Sam's chain
AISHA = "aisha.bello@acme.example"  # applies, then withdraws

# --- the guide's documents, verbatim ------------------------------------------------------------

SAM_LOOKUPS = """query {
  me { id careerLevel { since level { title next { id title } } } location { id name } }
  careerTracks { id name }
}"""

SET_PREFERENCES = """mutation($track: ID!, $senior: ID!, $nyc: ID!) {
  setCareerPreferences(input: {
    openToMoves: CONFIDENTIAL
    trackIds: [$track], levelIds: [$senior], locationIds: [$nyc]
    workModes: [HYBRID, REMOTE]
    openToGigs: true, gigHoursPerWeek: 4
  }) { openToMoves updatedAt levels { title } locations { name } }
}"""

MANAGER_READS_PREFERENCES = """query($sam: ID!) {
  employee(id: $sam) { name title careerPreferences { openToMoves } }
}"""

POSTING_LOOKUPS = """query {
  careerTracks { name levels { id title } }
  skills(first: 100) { edges { node { id name } } }
  departments { id name }
  locations { id name }
}"""

CREATE_POSTING = """mutation($eng: ID!, $nyc: ID!, $senior: ID!,
         $python: ID!, $postgres: ID!, $incidents: ID!, $closes: Date!, $starts: Date!) {
  createJobPosting(input: {
    kind: ROLE
    title: "Senior Software Engineer, Platform"
    description: "Own the deploy pipeline and the database fleet."
    departmentId: $eng, locationIds: [$nyc], workMode: HYBRID
    targetLevelId: $senior
    requiredSkills: [{ skillId: $python, minProficiency: 3 },
                     { skillId: $postgres, minProficiency: 2 }]
    preferredSkills: [{ skillId: $incidents, minProficiency: 3 }]
    openings: 1, minMonthsInRole: 12
    closesOn: $closes, startOn: $starts
  }) { id status allowedActions hiringManager { name } }
}"""

OPEN_POSTING = """mutation($id: ID!) {
  transitionJobPosting(id: $id, action: OPEN) { status openedAt allowedActions }
}"""

POSTING_MATCHES = """query($posting: ID!) {
  postingMatches(postingId: $posting, first: 20) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      employee { id name title } score eligible confidential
      explanation {
        levelStep why ineligibleReasons
        components { name weight fraction contribution note }
        matchedSkills { skill { name } proficiency minProficiency }
        partialSkills { skill { name } proficiency minProficiency gap }
        missingSkills { skill { name } required }
        missingCredentials { credentialType { name } state }
      } } }
  }
}"""

INBOX = """query {
  notifications(unreadOnly: true, first: 10) { edges { node { subject data createdAt } } }
}"""

RECOMMENDED = """query {
  recommendedPostings(first: 10) {
    hint openToMoves totalCount
    edges { node {
      score
      posting { id title kind workMode closesOn hiringManager { name }
                eligibility { eligible reasons } }
      explanation { why levelStep
        components { name contribution note }
        missingSkills { skill { name } required }
        partialSkills { skill { name } proficiency minProficiency } }
    } }
  }
}"""

APPLY = """mutation($posting: ID!) {
  applyToPosting(input: { postingId: $posting,
    note: "I run our Postgres upgrades and want to own the platform end to end." }) {
    id stage shareWithManager allowedActions
  }
}"""

MANAGER_APPLICATIONS = """query {
  applications(first: 20) { totalCount edges { node { id stage applicant { name } } } }
}"""

MANAGER_READS_APPLICATION = """query($application: ID!) {
  node(id: $application) { ... on Application { stage managerToldAt } }
}"""

PIPELINE = """query($posting: ID!) {
  applications(filter: { postingId: $posting }, first: 50) {
    totalCount
    edges { node { id stage note createdAt allowedActions
      applicant { name title careerPreferences { openToMoves } } } }
  }
}"""

TRANSITION = """mutation($application: ID!, $action: ApplicationAction!, $reason: String) {
  transitionApplication(id: $application, action: $action, reason: $reason) {
    stage stageChangedAt allowedActions
  }
}"""

MY_APPLICATIONS = """query {
  applications(filter: { mine: true }) {
    edges { node { id postingTitle stage rejectionReason allowedActions
      history { fromStage toStage reason at actor { name } } } }
  }
}"""

HIRE = """mutation($application: ID!, $starts: Date!) {
  transitionApplication(id: $application, action: HIRE, startOn: $starts) {
    stage
    posting { status filled openingsLeft }
    move { kind movedOn before after }
    applicant { title careerLevel { level { title } since } manager { name }
                department { name } location { name } }
  }
}"""

WITHDRAW = """mutation($application: ID!) {
  transitionApplication(id: $application, action: WITHDRAW) { stage allowedActions }
}"""

INSIGHTS = """query($from: Date!, $to: Date!) {
  mobilityInsights(fromDate: $from, toDate: $to) {
    postingsFinished postingsFilledInternally internalFillRate
    timeToFillP50Days applications applicationsPerPosting
    movesByKind { kind count }
    movesByDepartment { department { name } kind count }
    topMissingSkills { name postings candidates }
  }
  employeeMoves(first: 20) {
    edges { node { kind movedOn employee { name } before after } }
  }
}"""

DOCUMENTS = {
    name: value
    for name, value in globals().items()
    if name.isupper() and isinstance(value, str) and value.lstrip().startswith(("query", "mut"))
}


def guide_section() -> str:
    text = GUIDE.read_text()
    start = text.index("## Internal mobility by example")
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
    for key in ("slug", "name", "job_postings", "career_preferences", "applications"):
        data.pop(key, None)
    # credentials with an evidence file (relative to acme.toml; warehouse ones) stay out
    data["credentials"] = [c for c in data.get("credentials", []) if "evidence" not in c]
    return data


@pytest.fixture
async def demo(make_tenant) -> TenantInfo:
    return await make_tenant(demo_org())


async def run_workers(t: TenantInfo, posting_gid: str) -> int:
    """What `mobility.match_posting` does when `posting.opened` reaches it: recompute the
    posting's matches, then send its alerts (the worker tests run the real actor)."""
    pid = from_global_id(posting_gid, field="posting")[1]
    async with tenant_session(t.id) as s:
        slug, tz = (
            await s.execute(
                sa.text("select slug, timezone from tenants where id = :t"), {"t": t.id}
            )
        ).one()
        principal = Principal.system(t.id, slug, tz)
        await matching.recompute_posting(s, principal, pid)
        return await alerts.send_alerts(s, principal, pid)


async def notices(gql: GQL, token: str) -> list[str]:
    """The subjects of the application notices in someone's inbox."""
    inbox = (await gql.ok(INBOX, token=token))["notifications"]["edges"]
    return [
        n["node"]["subject"]
        for n in inbox
        if str(n["node"]["data"].get("event", "")).startswith("application.")
    ]


async def test_internal_mobility_by_example(gql: GQL, demo: TenantInfo, owner_engine) -> None:
    t = demo
    tok = {who: t.token(who) for who in (HR, KENJI, SAM, JORDAN, DANA, AISHA)}
    today = clock.today("America/New_York")
    closes, starts = today + timedelta(days=60), today + timedelta(days=90)

    # Sam: his next rung, then his preferences (confidential)
    me = await gql.ok(SAM_LOOKUPS, token=tok[SAM])
    level = me["me"]["careerLevel"]["level"]
    assert level["title"] == "Software Engineer II"
    senior = level["next"]["id"]
    assert level["next"]["title"] == "Senior Software Engineer"
    track = next(x["id"] for x in me["careerTracks"] if x["name"] == "Engineering IC")
    nyc = me["me"]["location"]["id"]
    prefs = (
        await gql.ok(
            SET_PREFERENCES, {"track": track, "senior": senior, "nyc": nyc}, token=tok[SAM]
        )
    )["setCareerPreferences"]
    assert prefs["openToMoves"] == "CONFIDENTIAL" and prefs["updatedAt"]
    assert prefs["levels"] == [{"title": "Senior Software Engineer"}]
    # Aisha is openly looking
    await gql.ok(
        "mutation { setCareerPreferences(input: {openToMoves: YES}) { openToMoves } }",
        token=tok[AISHA],
    )

    # his manager and the rest of his chain read nothing: like not looking
    for who in (JORDAN, DANA):
        emp = await gql.ok(MANAGER_READS_PREFERENCES, {"sam": me["me"]["id"]}, token=tok[who])
        assert emp["employee"]["careerPreferences"] is None, who
    # (and Aisha's open YES is readable by her line, so the null above is the confidentiality)
    aisha = await gql.ok(MANAGER_READS_PREFERENCES, {"sam": t.gid(AISHA)}, token=tok[JORDAN])
    assert aisha["employee"]["careerPreferences"] == {"openToMoves": "YES"}

    # Kenji posts a role
    look = await gql.ok(POSTING_LOOKUPS, token=tok[KENJI])
    levels = {
        (tr["name"], lv["title"]): lv["id"] for tr in look["careerTracks"] for lv in tr["levels"]
    }
    skill = {e["node"]["name"]: e["node"]["id"] for e in look["skills"]["edges"]}
    dep = {d["name"]: d["id"] for d in look["departments"]}
    loc = {x["name"]: x["id"] for x in look["locations"]}
    assert levels[("Engineering IC", "Senior Software Engineer")] == senior
    created = (
        await gql.ok(
            CREATE_POSTING,
            {
                "eng": dep["Engineering"],
                "nyc": loc["New York HQ"],
                "senior": senior,
                "python": skill["Python"],
                "postgres": skill["PostgreSQL"],
                "incidents": skill["Incident response"],
                "closes": closes.isoformat(),
                "starts": starts.isoformat(),
            },
            token=tok[KENJI],
        )
    )["createJobPosting"]
    assert created["status"] == "DRAFT"
    assert created["allowedActions"] == ["OPEN"]
    assert created["hiringManager"]["name"] == "Kenji Watanabe"
    posting = created["id"]
    opened = (await gql.ok(OPEN_POSTING, {"id": posting}, token=tok[KENJI]))["transitionJobPosting"]
    assert opened["status"] == "OPEN" and opened["openedAt"]
    assert set(opened["allowedActions"]) == {"CLOSE", "FILL"}

    # the workers match and alert (posting.opened -> mobility.match_posting)
    assert await run_workers(t, posting) >= 1

    # Kenji sees who matches, Sam included (confidential), with the explanation
    matches = (await gql.ok(POSTING_MATCHES, {"posting": posting}, token=tok[KENJI]))[
        "postingMatches"
    ]
    by_name = {e["node"]["employee"]["name"]: e["node"] for e in matches["edges"]}
    assert set(by_name) == {"Sam Rivera", "Aisha Bello"}
    assert matches["totalCount"] == 2
    sam_match = matches["edges"][0]["node"]
    assert sam_match["employee"]["name"] == "Sam Rivera"
    assert sam_match["confidential"] is True and sam_match["eligible"] is True
    assert by_name["Aisha Bello"]["confidential"] is False
    ex = sam_match["explanation"]
    assert ex["levelStep"] == "UP"
    assert round(sum(c["contribution"] for c in ex["components"]), 2) == sam_match["score"]
    assert sam_match["score"] == 90  # the numbers the guide shows
    assert [(c["name"], c["weight"], c["fraction"]) for c in ex["components"]] == [
        ("REQUIRED", 50, 1),
        ("PREFERRED", 10, 0),
        ("LEVEL", 15, 1),
        ("TRACK", 10, 1),
        ("LOCATION", 15, 1),
    ]
    assert by_name["Aisha Bello"]["score"] == 18.5
    assert by_name["Aisha Bello"]["explanation"]["levelStep"] == "STRETCH"
    assert {m["skill"]["name"] for m in ex["matchedSkills"]} == {"Python", "PostgreSQL"}
    assert ex["missingSkills"] == [{"skill": {"name": "Incident response"}, "required": False}]
    assert ex["ineligibleReasons"] == [] and ex["why"]
    # nobody else may ask: NOT_FOUND like a made-up posting
    for who in (JORDAN, DANA, SAM):
        err = only_error(await gql(POSTING_MATCHES, {"posting": posting}, token=tok[who]))
        assert err["extensions"]["code"] == "NOT_FOUND", who

    # Sam got the alert, and sees the posting recommended with why and what is missing
    inbox = (await gql.ok(INBOX, token=tok[SAM]))["notifications"]["edges"]
    alert = [n["node"] for n in inbox if n["node"]["data"].get("kind") == "match_alert"]
    assert len(alert) == 1 and "Senior Software Engineer, Platform" in alert[0]["subject"]
    rec = (await gql.ok(RECOMMENDED, token=tok[SAM]))["recommendedPostings"]
    assert rec["openToMoves"] == "CONFIDENTIAL" and rec["totalCount"] == 1
    top = rec["edges"][0]["node"]
    assert top["posting"]["id"] == posting and top["score"] == sam_match["score"]
    assert top["posting"]["eligibility"] == {"eligible": True, "reasons": []}
    assert top["explanation"]["missingSkills"] == [
        {"skill": {"name": "Incident response"}, "required": False}
    ]
    # someone not looking gets a hint, not a list
    none = (await gql.ok(RECOMMENDED, token=tok[JORDAN]))["recommendedPostings"]
    assert none["totalCount"] == 0 and none["openToMoves"] == "NO" and none["hint"]

    # Sam applies; Aisha applies too
    app = (await gql.ok(APPLY, {"posting": posting}, token=tok[SAM]))["applyToPosting"]
    assert app["stage"] == "APPLIED" and app["shareWithManager"] is False
    assert app["allowedActions"] == ["WITHDRAW"]
    aisha_app = (await gql.ok(APPLY, {"posting": posting}, token=tok[AISHA]))["applyToPosting"]

    # Jordan: no row, no count, NOT_FOUND (like a made-up id); Dana the same
    for who in (JORDAN, DANA):
        seen = (await gql.ok(MANAGER_APPLICATIONS, token=tok[who]))["applications"]
        assert seen["totalCount"] == 0 and seen["edges"] == [], who
    err = only_error(
        await gql(MANAGER_READS_APPLICATION, {"application": app["id"]}, token=tok[JORDAN])
    )
    assert err["extensions"]["code"] == "NOT_FOUND"

    # Kenji works the pipeline
    pipe = (await gql.ok(PIPELINE, {"posting": posting}, token=tok[KENJI]))["applications"]
    assert pipe["totalCount"] == 2
    sam_row = next(e["node"] for e in pipe["edges"] if e["node"]["id"] == app["id"])
    assert set(sam_row["allowedActions"]) == {"SCREEN", "REJECT"}
    assert sam_row["applicant"]["careerPreferences"] is None  # through the application: no
    for action, stage in (("SCREEN", "SCREENING"), ("INTERVIEW", "INTERVIEWING")):
        step = (
            await gql.ok(TRANSITION, {"application": app["id"], "action": action}, token=tok[KENJI])
        )["transitionApplication"]
        assert step["stage"] == stage
    # the applicant follows it
    mine = (await gql.ok(MY_APPLICATIONS, token=tok[SAM]))["applications"]["edges"]
    assert [e["node"]["stage"] for e in mine] == ["INTERVIEWING"]
    assert [(h["fromStage"], h["toStage"]) for h in mine[0]["node"]["history"]] == [
        (None, "APPLIED"),
        ("APPLIED", "SCREENING"),
        ("SCREENING", "INTERVIEWING"),
    ]
    assert mine[0]["node"]["history"][1]["actor"] == {"name": "Kenji Watanabe"}
    # the applicant cannot move their own pipeline
    err = only_error(
        await gql(TRANSITION, {"application": app["id"], "action": "OFFER"}, token=tok[SAM])
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    # still nothing for Jordan at interviewing: no row, no notification
    seen = (await gql.ok(MANAGER_APPLICATIONS, token=tok[JORDAN]))["applications"]
    assert seen["totalCount"] == 0
    assert await notices(gql, tok[JORDAN]) == []

    # Aisha changes her mind
    gone = (await gql.ok(WITHDRAW, {"application": aisha_app["id"]}, token=tok[AISHA]))[
        "transitionApplication"
    ]
    assert gone == {"stage": "WITHDRAWN", "allowedActions": []}

    # the offer: now Jordan is told (one notification) and may read it
    offer = (
        await gql.ok(TRANSITION, {"application": app["id"], "action": "OFFER"}, token=tok[KENJI])
    )["transitionApplication"]
    assert offer["stage"] == "OFFER"
    seen = (await gql.ok(MANAGER_APPLICATIONS, token=tok[JORDAN]))["applications"]
    assert seen["totalCount"] == 1
    assert seen["edges"][0]["node"]["applicant"]["name"] == "Sam Rivera"
    told = (await gql.ok(MANAGER_READS_APPLICATION, {"application": app["id"]}, token=tok[JORDAN]))[
        "node"
    ]
    assert told["stage"] == "OFFER" and told["managerToldAt"]
    assert await notices(gql, tok[JORDAN]) == [
        "Sam Rivera is moving forward on an internal opening"
    ]
    # Dana (above Jordan) still reads nothing
    assert (await gql.ok(MANAGER_APPLICATIONS, token=tok[DANA]))["applications"]["totalCount"] == 0
    # Jordan may read, not act
    err = only_error(
        await gql(TRANSITION, {"application": app["id"], "action": "HIRE"}, token=tok[JORDAN])
    )
    assert err["extensions"]["code"] == "FORBIDDEN"

    # the hire: one transaction
    hired = (
        await gql.ok(
            HIRE, {"application": app["id"], "starts": starts.isoformat()}, token=tok[KENJI]
        )
    )["transitionApplication"]
    assert hired["stage"] == "HIRED"
    assert hired["posting"] == {"status": "FILLED", "filled": 1, "openingsLeft": 0}
    assert hired["move"]["kind"] == "PROMOTION" and hired["move"]["movedOn"] == starts.isoformat()
    who = hired["applicant"]
    assert who["careerLevel"]["level"]["title"] == "Senior Software Engineer"
    assert who["manager"] == {"name": "Kenji Watanabe"}
    assert who["department"] == {"name": "Engineering"} and who["location"] == {
        "name": "New York HQ"
    }

    # HR: insights over the period, and the moves
    data = await gql.ok(
        INSIGHTS,
        {"from": (today - timedelta(days=30)).isoformat(), "to": starts.isoformat()},
        token=tok[HR],
    )
    ins = data["mobilityInsights"]
    assert ins["postingsFinished"] == 1 and ins["postingsFilledInternally"] == 1
    assert ins["internalFillRate"] == 1.0 and ins["applications"] == 2
    assert ins["movesByKind"] == [{"kind": "PROMOTION", "count": 1}]
    assert ins["movesByDepartment"] == [
        {"department": {"name": "Engineering"}, "kind": "PROMOTION", "count": 1}
    ]
    assert {m["name"] for m in ins["topMissingSkills"]} == {"Python", "PostgreSQL"}
    assert [m["node"]["employee"]["name"] for m in data["employeeMoves"]["edges"]] == ["Sam Rivera"]
    # insights are HR's only
    err = only_error(
        await gql(INSIGHTS, {"from": today.isoformat(), "to": today.isoformat()}, token=tok[KENJI])
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
