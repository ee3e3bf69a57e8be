"""Mentorship through HTTP: mentor profiles, the request -> accept/decline -> active -> ended
lifecycle with notifications and audit, capacity under two concurrent accepts, suggestions
ranked by the gaps covered, statement counts, isolation."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from upward.graphql.relay import to_global_id

PROFILE = """mutation($i: SetMentorProfileInput!) { setMentorProfile(input: $i) {
  employee { email } capacity bio active activeMentees openSlots skills { name } } }"""
MENTORS = """query($f: MentorFilter, $n: Int) { mentors(filter: $f, first: $n) { totalCount
  edges { node { employee { email } capacity activeMentees openSlots skills { name } } } } }"""
REQUEST = """mutation($i: RequestMentorshipInput!) { requestMentorship(input: $i) {
  id status mentor { email } mentee { email } skills { name } message } }"""
ACCEPT = """mutation($id: ID!, $r: String) { acceptMentorship(id: $id, response: $r) {
  id status response respondedAt } }"""
DECLINE = 'mutation($id: ID!) { declineMentorship(id: $id, response: "Not now") { status } }'
CANCEL = "mutation($id: ID!) { cancelMentorship(id: $id) { status } }"
END = "mutation($id: ID!) { endMentorship(id: $id) { status endedAt } }"
NODE = """query($id: ID!) { node(id: $id) { ... on Mentorship { id status
  mentor { email } mentee { email } } } }"""
MINE = """query($f: MentorshipFilter) { mentorships(filter: $f, first: 50) { totalCount
  edges { node { status mentor { email } mentee { email } } } } }"""
SUGGEST = """query($e: ID!, $l: ID, $s: [ID!], $n: Int! = 5) {
  mentorSuggestions(employeeId: $e, levelId: $l, skillIds: $s, first: $n) {
    score coveredSkills { name } mentor { employee { email } openSlots } } }"""


def org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["employees"] += [
        {"email": "m1@t.example", "name": "Mo One", "manager": "boss@t.example"},
        {"email": "m2@t.example", "name": "Mia Two", "manager": "boss@t.example"},
        {"email": "m3@t.example", "name": "Max Three", "manager": "boss@t.example"},
        {"email": "m4@t.example", "name": "Meg Four", "manager": "boss@t.example"},
        {"email": "x1@t.example", "name": "Xi One", "manager": "lead@t.example"},
    ]
    o["skills"] = [
        {"name": "Go", "category": "engineering"},
        {"name": "Kubernetes", "category": "engineering"},
        {"name": "Leadership", "category": "leadership"},
        {"name": "Old craft", "category": "x", "status": "retired"},
    ]
    o["career_tracks"] = [
        {
            "name": "Platform",
            "levels": [
                {"title": "Engineer"},
                {
                    "title": "Senior Engineer",
                    "skills": [
                        {"skill": "Go", "min": 4},
                        {"skill": "Kubernetes", "min": 2},
                        {"skill": "Leadership", "min": 3},
                    ],
                },
            ],
        }
    ]
    o["employee_levels"] = [
        {
            "employee": "dev@t.example",
            "track": "Platform",
            "level": "Engineer",
            "since": date(2024, 1, 1),
        }
    ]
    o["employee_skills"] = [{"employee": "dev@t.example", "skill": "Go", "proficiency": 3}]
    o["mentors"] = [
        # gaps of dev for Senior Engineer: Go 1, Kubernetes 2, Leadership 3
        {"employee": "m1@t.example", "capacity": 1, "skills": ["Leadership"]},
        {"employee": "m2@t.example", "capacity": 2, "skills": ["Go", "Kubernetes"]},
        {"employee": "m3@t.example", "capacity": 1, "skills": ["Go", "Kubernetes", "Leadership"]},
        {
            "employee": "m4@t.example",
            "capacity": 3,
            "skills": ["Go", "Kubernetes", "Leadership"],
            "active": False,
        },
        {"employee": "dev@t.example", "capacity": 1, "skills": ["Leadership"]},
    ]
    o["mentorships"] = [  # m3 is full
        {"mentor": "m3@t.example", "mentee": "x1@t.example", "status": "active", "skills": ["Go"]}
    ]
    return o


async def _skills(gql: GQL, t: TenantInfo) -> dict[str, str]:
    got = await gql.ok(
        "{ skills(first: 50, filter: {includeRetired: true}) { edges { node { id name } } } }",
        token=t.token("hr@t.example"),
    )
    return {e["node"]["name"]: e["node"]["id"] for e in got["skills"]["edges"]}


async def _audit(owner_engine: Any, t: TenantInfo, action: str) -> list[Any]:
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


async def _inbox(gql: GQL, t: TenantInfo, email: str) -> list[str]:
    got = await gql.ok(
        "{ notifications(first: 50) { edges { node { subject } } } }", token=t.token(email)
    )
    return [e["node"]["subject"] for e in got["notifications"]["edges"]]


async def test_the_demo_mentors(gql: GQL, acme: TenantInfo) -> None:
    tok = acme.token("sam.rivera@acme.example")
    skills = await gql.ok("{ skills(first: 50) { edges { node { id name } } } }", token=tok)
    ids = {e["node"]["name"]: e["node"]["id"] for e in skills["skills"]["edges"]}
    got = (await gql.ok(MENTORS, {"f": {"skillId": ids["Incident response"]}}, token=tok))[
        "mentors"
    ]
    # Kenji's profile is paused: not listed
    assert [e["node"]["employee"]["email"] for e in got["edges"]] == [
        "jordan.kim@acme.example",
        "priya.natarajan@acme.example",
    ]
    jordan = got["edges"][0]["node"]
    assert (jordan["capacity"], jordan["activeMentees"], jordan["openSlots"]) == (2, 1, 1)
    assert [s["name"] for s in jordan["skills"]] == ["Coaching", "Incident response", "Python"]
    q = "query($id: ID!) { node(id: $id) { ... on Employee { mentorProfile { active } } } }"
    kenji = acme.gid("kenji.watanabe@acme.example")
    assert (await gql.ok(q, {"id": kenji}, token=tok))["node"]["mentorProfile"] is None
    hr = acme.token("hr@acme.example")
    assert (await gql.ok(q, {"id": kenji}, token=hr))["node"]["mentorProfile"] == {"active": False}


async def test_profile_rules(gql: GQL, make_tenant: Any, owner_engine: Any) -> None:
    t: TenantInfo = await make_tenant(org())
    s = await _skills(gql, t)
    peer = t.token("peer@t.example")
    got = (
        await gql.ok(
            PROFILE,
            {"i": {"capacity": 2, "skillIds": [s["Go"], s["Go"]], "bio": "  Gopher  "}},
            token=peer,
        )
    )["setMentorProfile"]
    assert got == {
        "employee": {"email": "peer@t.example"},
        "capacity": 2,
        "bio": "Gopher",
        "active": True,
        "activeMentees": 0,
        "openSlots": 2,
        "skills": [{"name": "Go"}],
    }
    [event] = await _audit(owner_engine, t, "mentor_profile.create")
    assert event.target_id == t.ids["peer@t.example"]
    # errors name the field and change nothing
    for variables, code, field in (
        ({"capacity": 51, "skillIds": [s["Go"]]}, "BAD_USER_INPUT", "input.capacity"),
        ({"capacity": -1, "skillIds": [s["Go"]]}, "BAD_USER_INPUT", "input.capacity"),
        ({"capacity": 1, "skillIds": []}, "BAD_USER_INPUT", "input.skillIds"),
        ({"capacity": 1, "skillIds": [s["Old craft"]]}, "BAD_USER_INPUT", "input.skillIds.0"),
        (
            {"capacity": 1, "skillIds": [s["Go"], to_global_id("Skill", uuid.uuid4())]},
            "NOT_FOUND",
            "input.skillIds.1",
        ),
        (
            {"capacity": 1, "skillIds": [t.gid("dev@t.example")]},
            "BAD_USER_INPUT",
            "input.skillIds.0",
        ),
    ):
        err = only_error(await gql(PROFILE, {"i": variables}, token=peer))
        assert err["extensions"] == {"code": code, "field": field}, variables
    # someone else's: HR only
    other = {"capacity": 1, "skillIds": [s["Go"]], "employeeId": t.gid("lead@t.example")}
    err = only_error(await gql(PROFILE, {"i": other}, token=peer))
    assert err["extensions"]["code"] == "FORBIDDEN"
    got = (await gql.ok(PROFILE, {"i": other}, token=t.token("hr@t.example")))["setMentorProfile"]
    assert got["employee"] == {"email": "lead@t.example"}
    # pausing hides it from the directory; removing deletes it
    await gql.ok(
        PROFILE, {"i": {"capacity": 2, "skillIds": [s["Go"]], "active": False}}, token=peer
    )
    listed = await gql.ok(MENTORS, {"f": {"skillId": s["Go"]}}, token=peer)
    emails = [e["node"]["employee"]["email"] for e in listed["mentors"]["edges"]]
    assert "peer@t.example" not in emails and "lead@t.example" in emails
    rm = "mutation { removeMentorProfile }"
    assert (await gql.ok(rm, token=peer))["removeMentorProfile"] is True
    assert (await gql.ok(rm, token=peer))["removeMentorProfile"] is False
    assert len(await _audit(owner_engine, t, "mentor_profile.remove")) == 1


async def test_the_lifecycle(gql: GQL, make_tenant: Any, owner_engine: Any) -> None:
    t: TenantInfo = await make_tenant(org())
    s = await _skills(gql, t)
    dev, m1 = t.token("dev@t.example"), t.token("m1@t.example")
    ask = {"mentorId": t.gid("m1@t.example"), "skillIds": [s["Leadership"]], "message": "Help?"}
    # refusals first: they change nothing
    for variables, code, field in (
        ({"mentorId": t.gid("dev@t.example")}, "BAD_USER_INPUT", "input.mentorId"),
        ({"mentorId": t.gid("lead@t.example")}, "BAD_USER_INPUT", "input.mentorId"),  # no profile
        ({"mentorId": t.gid("m4@t.example")}, "BAD_USER_INPUT", "input.mentorId"),  # paused
        ({"mentorId": t.gid("m3@t.example")}, "BAD_USER_INPUT", "input.mentorId"),  # full
        ({**ask, "skillIds": [s["Go"]]}, "BAD_USER_INPUT", "input.skillIds.0"),  # not taught
        (
            {**ask, "goalId": to_global_id("PlanGoal", uuid.uuid4())},
            "NOT_FOUND",
            "input.goalId",
        ),
        ({"mentorId": to_global_id("Employee", uuid.uuid4())}, "NOT_FOUND", "input.mentorId"),
    ):
        err = only_error(await gql(REQUEST, {"i": variables}, token=dev))
        assert err["extensions"] == {"code": code, "field": field}, variables
    assert (
        "taken"
        in only_error(await gql(REQUEST, {"i": {"mentorId": t.gid("m3@t.example")}}, token=dev))[
            "message"
        ]
    )
    assert await _audit(owner_engine, t, "mentorship.request") == []

    got = (await gql.ok(REQUEST, {"i": ask}, token=dev))["requestMentorship"]
    assert got["status"] == "REQUESTED" and got["skills"] == [{"name": "Leadership"}]
    assert got["mentor"] == {"email": "m1@t.example"} and got["mentee"] == {
        "email": "dev@t.example"
    }
    mid = got["id"]
    assert "Dee Dev asks you to be their mentor" in await _inbox(gql, t, "m1@t.example")
    err = only_error(await gql(REQUEST, {"i": ask}, token=dev))
    assert err["extensions"] == {"code": "CONFLICT", "field": "input.mentorId"}

    # who reads it: the two parties and HR; a manager or a colleague gets NOT_FOUND
    for email in ("dev@t.example", "m1@t.example", "hr@t.example"):
        node = (await gql.ok(NODE, {"id": mid}, token=t.token(email)))["node"]
        assert node["status"] == "REQUESTED"
    ghost = await gql(NODE, {"id": to_global_id("Mentorship", uuid.uuid4())}, token=m1)
    for email in ("lead@t.example", "peer@t.example"):
        body = await gql(NODE, {"id": mid}, token=t.token(email))
        assert body == ghost and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        err = only_error(await gql(ACCEPT, {"id": mid}, token=t.token(email)))
        assert err["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    # only the mentor answers; HR reads it but may not answer
    for tok in (dev, t.token("hr@t.example")):
        assert only_error(await gql(ACCEPT, {"id": mid}, token=tok))["extensions"]["code"] == (
            "FORBIDDEN"
        )
    got = (await gql.ok(ACCEPT, {"id": mid, "r": "Gladly"}, token=m1))["acceptMentorship"]
    assert got["status"] == "ACTIVE" and got["response"] == "Gladly" and got["respondedAt"]
    assert "Mo One accepted your mentorship request" in await _inbox(gql, t, "dev@t.example")
    err = only_error(await gql(ACCEPT, {"id": mid}, token=m1))
    assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
    assert only_error(await gql(CANCEL, {"id": mid}, token=dev))["extensions"]["code"] == (
        "CONFLICT"
    )
    # m1 is now full: the directory says so, and nobody else can ask
    full = await gql.ok(
        MENTORS, {"f": {"skillId": s["Leadership"], "hasCapacity": True}}, token=dev
    )
    assert [e["node"]["employee"]["email"] for e in full["mentors"]["edges"]] == ["dev@t.example"]
    err = only_error(
        await gql(
            REQUEST, {"i": {"mentorId": t.gid("m1@t.example")}}, token=t.token("peer@t.example")
        )
    )
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.mentorId"}
    mine = (await gql.ok(MINE, {"f": {"role": "MENTEE"}}, token=dev))["mentorships"]
    assert mine["totalCount"] == 1 and mine["edges"][0]["node"]["status"] == "ACTIVE"
    assert (await gql.ok(MINE, {"f": {"role": "MENTOR"}}, token=dev))["mentorships"][
        "totalCount"
    ] == 0
    err = only_error(await gql(MINE, {"f": {"employeeId": t.gid("m1@t.example")}}, token=dev))
    assert err["extensions"]["code"] == "FORBIDDEN"
    hr_view = await gql.ok(
        MINE, {"f": {"employeeId": t.gid("m1@t.example")}}, token=t.token("hr@t.example")
    )
    assert hr_view["mentorships"]["totalCount"] == 1

    # either side ends it; the slot is free again
    got = (await gql.ok(END, {"id": mid}, token=dev))["endMentorship"]
    assert got["status"] == "ENDED" and got["endedAt"]
    assert "Dee Dev ended your mentorship" in await _inbox(gql, t, "m1@t.example")
    assert only_error(await gql(END, {"id": mid}, token=m1))["extensions"]["code"] == "CONFLICT"
    # a new request after the end; the mentee cancels it; another one, the mentor declines it
    again = (await gql.ok(REQUEST, {"i": ask}, token=dev))["requestMentorship"]["id"]
    assert again != mid
    assert only_error(await gql(CANCEL, {"id": again}, token=m1))["extensions"]["code"] == (
        "FORBIDDEN"
    )
    assert (await gql.ok(CANCEL, {"id": again}, token=dev))["cancelMentorship"] == {
        "status": "CANCELLED"
    }
    third = (await gql.ok(REQUEST, {"i": ask}, token=dev))["requestMentorship"]["id"]
    assert (await gql.ok(DECLINE, {"id": third}, token=m1))["declineMentorship"] == {
        "status": "DECLINED"
    }
    actions = {
        a: len(await _audit(owner_engine, t, f"mentorship.{a}"))
        for a in ("request", "accept", "decline", "cancel", "end")
    }
    assert actions == {"request": 3, "accept": 1, "decline": 1, "cancel": 1, "end": 1}
    [accepted] = await _audit(owner_engine, t, "mentorship.accept")
    assert accepted.actor_id == t.ids["m1@t.example"]
    assert accepted.changes["status"] == {"from": "requested", "to": "active"}


async def test_capacity_under_two_concurrent_accepts(
    gql: GQL, make_tenant: Any, owner_engine: Any
) -> None:
    """Capacity 1, two pending requests, both accepted at once: one becomes active, the other
    is refused and changes nothing. A third connection holds the mentor's profile row until both
    accepts are waiting on it, so they really run at the same time."""
    t: TenantInfo = await make_tenant(org())
    s = await _skills(gql, t)
    m1 = t.token("m1@t.example")
    ids = []
    for email in ("dev@t.example", "peer@t.example"):
        got = await gql.ok(
            REQUEST,
            {"i": {"mentorId": t.gid("m1@t.example"), "skillIds": [s["Leadership"]]}},
            token=t.token(email),
        )
        ids.append(got["requestMentorship"]["id"])
    async with owner_engine.connect() as blocker:
        await blocker.begin()
        await blocker.execute(
            sa.text(
                "select 1 from mentor_profiles where tenant_id = :t and employee_id = :e for update"
            ),
            {"t": t.id, "e": t.ids["m1@t.example"]},
        )
        both = asyncio.gather(*(gql(ACCEPT, {"id": i}, token=m1) for i in ids))
        waiting = 0
        async with owner_engine.connect() as probe:
            for _ in range(200):
                await asyncio.sleep(0.025)
                waiting = await probe.scalar(
                    sa.text(
                        "select count(*) from pg_stat_activity where datname = current_database() "
                        "and cardinality(pg_blocking_pids(pid)) > 0"
                    )
                )
                if waiting == 2:
                    break
        await blocker.rollback()
        bodies = await both
    assert waiting == 2, "both accepts should have waited on the profile lock"
    ok = [b for b in bodies if not b.get("errors")]
    refused = [b for b in bodies if b.get("errors")]
    assert len(ok) == 1 and len(refused) == 1, bodies
    assert ok[0]["data"]["acceptMentorship"]["status"] == "ACTIVE"
    err = only_error(refused[0])
    assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
    assert "1 of 1" in err["message"] and "capacity" in err["message"]
    async with owner_engine.connect() as conn:
        statuses = sorted(
            (
                await conn.execute(
                    sa.text(
                        "select status from mentorships where tenant_id = :t and mentor_id = :m"
                    ),
                    {"t": t.id, "m": t.ids["m1@t.example"]},
                )
            ).scalars()
        )
    assert statuses == ["active", "requested"]
    assert len(await _audit(owner_engine, t, "mentorship.accept")) == 1


async def test_suggestions_rank_by_the_gap_covered(gql: GQL, make_tenant: Any) -> None:
    t: TenantInfo = await make_tenant(org())
    s = await _skills(gql, t)
    dev = t.token("dev@t.example")
    levels = (await gql.ok("{ careerTracks { levels { id title } } }", token=dev))["careerTracks"]
    senior = levels[0]["levels"][1]["id"]
    got = (await gql.ok(SUGGEST, {"e": t.gid("dev@t.example"), "l": senior}, token=dev))[
        "mentorSuggestions"
    ]
    # gaps: Leadership 3, Kubernetes 2, Go 1 (of 6). m3 (full), m4 (paused) and dev: never.
    assert [
        (g["mentor"]["employee"]["email"], g["score"], [c["name"] for c in g["coveredSkills"]])
        for g in got
    ] == [
        ("m2@t.example", 50.0, ["Kubernetes", "Go"]),  # ties with m1: more open slots
        ("m1@t.example", 50.0, ["Leadership"]),
    ]
    got = (
        await gql.ok(
            SUGGEST, {"e": t.gid("dev@t.example"), "s": [s["Go"], s["Leadership"]]}, token=dev
        )
    )["mentorSuggestions"]
    assert [(g["mentor"]["employee"]["email"], g["score"]) for g in got] == [
        ("m2@t.example", 50.0),
        ("m1@t.example", 50.0),
    ]
    # the line (lead) and HR may ask for dev; a colleague may not
    await gql.ok(
        SUGGEST, {"e": t.gid("dev@t.example"), "l": senior}, token=t.token("lead@t.example")
    )
    for variables in ({"l": senior}, {"s": [s["Go"]]}):
        err = only_error(
            await gql(
                SUGGEST, {"e": t.gid("dev@t.example"), **variables}, token=t.token("peer@t.example")
            )
        )
        assert err["extensions"]["code"] == "FORBIDDEN"
    for variables, field in (
        ({}, "levelId"),
        ({"l": senior, "s": [s["Go"]]}, "levelId"),
        ({"l": senior, "n": 0}, "first"),
    ):
        err = only_error(await gql(SUGGEST, {"e": t.gid("dev@t.example"), **variables}, token=dev))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


async def test_lists_cost_the_same_whatever_their_size(
    gql: GQL, make_tenant: Any, count_statements: Any
) -> None:
    from tests.credentials.test_statements import _count

    o = copy.deepcopy(SMALL_ORG)  # every mentor teaches the same skills: no data-dependent loads
    o["skills"] = [{"name": "Go", "category": "e"}, {"name": "Leadership", "category": "l"}]
    o["mentors"], o["mentorships"] = [], []
    for i in range(15):
        o["employees"].append(
            {"email": f"w{i}@t.example", "name": f"W {i:02d}", "manager": "lead@t.example"}
        )
        o["mentors"].append(
            {"employee": f"w{i}@t.example", "capacity": 2, "skills": ["Go", "Leadership"]}
        )
        o["mentorships"].append(
            {"mentor": f"w{i}@t.example", "mentee": "dev@t.example", "skills": ["Go"]}
        )
    t: TenantInfo = await make_tenant(o)
    dev = t.token("dev@t.example")
    q = """query($n: Int!) { mentors(first: $n) { edges { node { capacity activeMentees
      openSlots skills { name } employee { name mentorProfile { capacity } } } } } }"""
    small = await _count(gql, count_statements, q, {"n": 2}, dev)
    large = await _count(gql, count_statements, q, {"n": 15}, dev)
    assert small == large
    assert len((await gql.ok(q, {"n": 15}, token=dev))["mentors"]["edges"]) == 15
    q = """query($n: Int!) { mentorships(first: $n) { edges { node { status skills { name }
      mentor { name mentorProfile { openSlots } } mentee { name } } } } }"""
    small = await _count(gql, count_statements, q, {"n": 2}, dev)
    large = await _count(gql, count_statements, q, {"n": 15}, dev)
    assert small == large
    assert len((await gql.ok(q, {"n": 15}, token=dev))["mentorships"]["edges"]) == 15
    q = """query($e: ID!, $s: [ID!]!, $n: Int!) { mentorSuggestions(employeeId: $e, skillIds: $s,
      first: $n) { score coveredSkills { name } mentor { skills { name } employee { name } } } }"""
    s = await _skills(gql, t)
    v = {"e": t.gid("dev@t.example"), "s": [s["Go"], s["Leadership"]]}
    small = await _count(gql, count_statements, q, {**v, "n": 2}, dev)
    large = await _count(gql, count_statements, q, {**v, "n": 15}, dev)
    assert small == large
    assert len((await gql.ok(q, {**v, "n": 15}, token=dev))["mentorSuggestions"]) == 15


async def test_another_tenants_mentorships_are_not_found(
    gql: GQL, make_tenant: Any, acme: TenantInfo, owner_engine: Any
) -> None:
    t: TenantInfo = await make_tenant(org())
    async with owner_engine.connect() as conn:
        theirs = await conn.scalar(
            sa.text("select id from mentorships where tenant_id = :t limit 1"), {"t": acme.id}
        )
    assert theirs is not None
    hr = t.token("hr@t.example")
    foreign = await gql(NODE, {"id": to_global_id("Mentorship", theirs)}, token=hr)
    ghost = await gql(NODE, {"id": to_global_id("Mentorship", uuid.uuid4())}, token=hr)
    assert foreign == ghost
    for mutation in (ACCEPT, CANCEL, END):
        a = await gql(mutation, {"id": to_global_id("Mentorship", theirs)}, token=hr)
        b = await gql(mutation, {"id": to_global_id("Mentorship", uuid.uuid4())}, token=hr)
        assert a == b and only_error(a)["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    jordan = acme.gid("jordan.kim@acme.example")
    err = only_error(
        await gql(REQUEST, {"i": {"mentorId": jordan}}, token=t.token("dev@t.example"))
    )
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "input.mentorId"}
    listed = await gql.ok(MENTORS, {"n": 100}, token=hr)
    assert all(
        e["node"]["employee"]["email"].endswith("@t.example") for e in listed["mentors"]["edges"]
    )
    assert (await gql.ok(MINE, {"f": {"employeeId": jordan}}, token=hr))["mentorships"][
        "totalCount"
    ] == 0
