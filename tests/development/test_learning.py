"""Learning resources and readiness suggestions through HTTP: the catalog (HR manages it,
everyone reads it), the next steps readiness and career paths suggest for missing skills and
credentials, statement counts, isolation."""

from __future__ import annotations

import copy
import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from upward.graphql.relay import to_global_id

CREATE = """mutation($i: CreateLearningResourceInput!) { createLearningResource(input: $i) {
  id title kind url provider durationHours status skills { name } credentialType { name } } }"""
UPDATE = """mutation($id: ID!, $i: UpdateLearningResourceInput!) {
  updateLearningResource(id: $id, input: $i) { title kind status skills { name }
  credentialType { name } } }"""
LIST = """query($f: LearningResourceFilter, $n: Int) { learningResources(filter: $f, first: $n) {
  totalCount edges { node { title kind skills { name } credentialType { name } } } } }"""
SUGGESTED = """query($e: ID!, $l: ID!) { readiness(employeeId: $e, levelId: $l) { score
  suggestions {
    resources { score resource { title kind } coveredSkills { name } credentialType { name } }
    mentors { score coveredSkills { name } mentor { employee { email } openSlots } } } } }"""


def org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["skills"] = [
        {"name": "Welding", "category": "trades"},
        {"name": "Rigging", "category": "trades"},
        {"name": "Old craft", "category": "x", "status": "retired"},
    ]
    o["credential_types"] = [
        {"name": "Welder Certificate", "category": "certification", "validity_months": 36}
    ]
    return o


async def _ids(gql: GQL, t: TenantInfo) -> dict[str, str]:
    hr = t.token("hr@t.example")
    got = await gql.ok(
        "{ skills(first: 50, filter: {includeRetired: true}) { edges { node { id name } } } "
        "credentialTypes { id name } }",
        token=hr,
    )
    out = {e["node"]["name"]: e["node"]["id"] for e in got["skills"]["edges"]}
    out.update({c["name"]: c["id"] for c in got["credentialTypes"]})
    return out


async def test_the_catalog(gql: GQL, make_tenant: Any, owner_engine: Any) -> None:
    t: TenantInfo = await make_tenant(org())
    ids = await _ids(gql, t)
    hr = t.token("hr@t.example")
    cert = {
        "title": "Welder qualification",
        "kind": "CERTIFICATION",
        "skillIds": [ids["Welding"]],
        "url": "https://training.example/weld",
        "provider": "Trade school",
        "durationHours": 40,
        "credentialTypeId": ids["Welder Certificate"],
    }
    got = (await gql.ok(CREATE, {"i": cert}, token=hr))["createLearningResource"]
    assert {k: got[k] for k in ("title", "kind", "status", "skills", "credentialType")} == {
        "title": "Welder qualification",
        "kind": "CERTIFICATION",
        "status": "ACTIVE",
        "skills": [{"name": "Welding"}],
        "credentialType": {"name": "Welder Certificate"},
    }
    rid = got["id"]
    course = {"title": "Rigging basics", "kind": "COURSE", "skillIds": [ids["Rigging"]]}
    await gql.ok(CREATE, {"i": course}, token=hr)
    # refusals name the field and change nothing
    for variables, code, field in (
        ({**course, "title": "RIGGING BASICS"}, "CONFLICT", "input.title"),
        ({**course, "title": " "}, "BAD_USER_INPUT", "input.title"),
        ({**course, "title": "x", "url": "ftp://x"}, "BAD_USER_INPUT", "input.url"),
        ({**course, "title": "x", "durationHours": 0}, "BAD_USER_INPUT", "input.durationHours"),
        (
            {**course, "title": "x", "credentialTypeId": ids["Welder Certificate"]},
            "BAD_USER_INPUT",
            "input.credentialTypeId",
        ),
        (
            {
                **cert,
                "title": "x",
                "credentialTypeId": to_global_id("CredentialType", uuid.uuid4()),
            },
            "NOT_FOUND",
            "input.credentialTypeId",
        ),
        (
            {**course, "title": "x", "skillIds": [ids["Old craft"]]},
            "BAD_USER_INPUT",
            "input.skillIds.0",
        ),
    ):
        err = only_error(await gql(CREATE, {"i": variables}, token=hr))
        assert err["extensions"] == {"code": code, "field": field}, variables
    err = only_error(
        await gql(CREATE, {"i": {**course, "title": "y"}}, token=t.token("dev@t.example"))
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    # everyone reads it; filters by skill and kind
    dev = t.token("dev@t.example")
    got = (await gql.ok(LIST, {}, token=dev))["learningResources"]
    assert got["totalCount"] == 2
    assert [e["node"]["title"] for e in got["edges"]] == ["Rigging basics", "Welder qualification"]
    by_skill = await gql.ok(LIST, {"f": {"skillId": ids["Welding"]}}, token=dev)
    assert [e["node"]["title"] for e in by_skill["learningResources"]["edges"]] == [
        "Welder qualification"
    ]
    by_kind = await gql.ok(LIST, {"f": {"kind": "COURSE", "search": "rig"}}, token=dev)
    assert [e["node"]["title"] for e in by_kind["learningResources"]["edges"]] == ["Rigging basics"]
    # update: retag, no longer a certification (it names no credential type), then retire
    got = (
        await gql.ok(
            UPDATE,
            {"id": rid, "i": {"kind": "COURSE", "skillIds": [ids["Welding"], ids["Rigging"]]}},
            token=hr,
        )
    )["updateLearningResource"]
    assert got["credentialType"] is None and [s["name"] for s in got["skills"]] == [
        "Rigging",
        "Welding",
    ]
    retire = "mutation($id: ID!) { retireLearningResource(id: $id) { status } }"
    assert (await gql.ok(retire, {"id": rid}, token=hr))["retireLearningResource"] == {
        "status": "RETIRED"
    }
    got = (await gql.ok(LIST, {}, token=dev))["learningResources"]
    assert [e["node"]["title"] for e in got["edges"]] == ["Rigging basics"]
    got = (await gql.ok(LIST, {"f": {"includeRetired": True}}, token=dev))["learningResources"]
    assert got["totalCount"] == 2
    node = "query($id: ID!) { node(id: $id) { ... on LearningResource { title status } } }"
    assert (await gql.ok(node, {"id": rid}, token=dev))["node"]["status"] == "RETIRED"
    async with owner_engine.connect() as conn:
        actions = list(
            (
                await conn.execute(
                    sa.text(
                        "select action from audit_events where tenant_id = :t "
                        "and target_type = 'LearningResource' order by occurred_at"
                    ),
                    {"t": t.id},
                )
            ).scalars()
        )
    assert actions == [
        "learning_resource.create",
        "learning_resource.create",
        "learning_resource.update",
        "learning_resource.retire",
    ]


async def test_demo_readiness_suggests_next_steps(gql: GQL, acme: TenantInfo) -> None:
    sam = acme.gid("sam.rivera@acme.example")
    me = acme.token("sam.rivera@acme.example")
    level = (
        await gql.ok(
            "query($e: ID!) { node(id: $e) { ... on Employee { careerLevel { level { next { id } } } } } }",
            {"e": sam},
            token=me,
        )
    )["node"]["careerLevel"]["level"]["next"]["id"]
    r = (await gql.ok(SUGGESTED, {"e": sam, "l": level}, token=me))["readiness"]
    # gaps for Senior: Incident response 3, PostgreSQL 1, Python 1 (of 5)
    resources = [(x["resource"]["title"], x["score"]) for x in r["suggestions"]["resources"]]
    assert resources == [
        ("Shadow the on-call rota for a quarter", 80.0),
        ("Incident Commander Training", 60.0),
        ("Site Reliability Engineering (book)", 60.0),
        ("PostgreSQL Query Performance", 20.0),
        ("Python for Production Services", 20.0),
    ]
    assert [s["name"] for s in r["suggestions"]["resources"][0]["coveredSkills"]] == [
        "Incident response",
        "PostgreSQL",
    ]
    mentors = {(m["mentor"]["employee"]["email"], m["score"]) for m in r["suggestions"]["mentors"]}
    # Kenji is paused; Jordan has one open slot of two; Mei's pending request takes no slot
    assert mentors == {
        ("jordan.kim@acme.example", 80.0),
        ("priya.natarajan@acme.example", 80.0),
        ("mei.tanaka@acme.example", 40.0),
    }
    assert (
        r["suggestions"]["mentors"][2]["mentor"]["employee"]["email"] == "mei.tanaka@acme.example"
    )


def _ladder_org(rungs: int) -> dict[str, Any]:
    """A ladder of `rungs` levels, each expecting its own skill (with a course and a mentor
    for it), the first rung up also a credential (with a certification leading to it)."""
    o = org()
    o["skills"] = [{"name": f"Skill {i}", "category": "trades"} for i in range(rungs)]
    levels = [{"title": "Rung 0"}]
    for i in range(1, rungs):
        levels.append({"title": f"Rung {i}", "skills": [{"skill": f"Skill {i}", "min": 3}]})
    levels[1]["credentials"] = ["Welder Certificate"]  # on every path
    o["career_tracks"] = [{"name": "Ladder", "levels": levels}]
    o["employee_levels"] = [
        {
            "employee": "dev@t.example",
            "track": "Ladder",
            "level": "Rung 0",
            "since": date(2024, 1, 1),
        }
    ]
    o["learning_resources"] = [
        {"title": f"Course {i}", "kind": "course", "skills": [f"Skill {i}"]} for i in range(rungs)
    ] + [
        {
            "title": "Certified welder exam",
            "kind": "certification",
            "credential_type": "Welder Certificate",
        }
    ]
    o["mentors"] = [
        {
            "employee": "peer@t.example",
            "capacity": 3,
            "skills": [f"Skill {i}" for i in range(rungs)],
        }
    ]
    return o


async def test_career_path_suggestions_cost_the_same_whatever_the_length(
    gql: GQL, make_tenant: Any, count_statements: Any
) -> None:
    from tests.credentials.test_statements import _count

    t: TenantInfo = await make_tenant(_ladder_org(7))
    dev = t.token("dev@t.example")
    levels = (await gql.ok("{ careerTracks { levels { id title } } }", token=dev))["careerTracks"][
        0
    ]["levels"]
    q = """query($e: ID!, $l: ID!) { careerPaths(employeeId: $e, targetLevelId: $l, first: 1) {
      steps { level { title } readiness { score suggestions {
        resources { score resource { title skills { name } credentialType { name } }
                    coveredSkills { name } credentialType { name } }
        mentors { score coveredSkills { name } mentor { openSlots skills { name }
                  employee { name } } } } } } } }"""
    v = {"e": t.gid("dev@t.example")}
    short = await _count(gql, count_statements, q, {**v, "l": levels[2]["id"]}, dev)
    long = await _count(gql, count_statements, q, {**v, "l": levels[6]["id"]}, dev)
    assert short == long
    got = (await gql.ok(q, {**v, "l": levels[6]["id"]}, token=dev))["careerPaths"][0]["steps"]
    assert len(got) == 7 and got[0]["readiness"] is None
    for i, step in enumerate(got[1:], start=1):
        s = step["readiness"]["suggestions"]
        titles = [x["resource"]["title"] for x in s["resources"]]
        assert titles[0] == f"Course {i}"
        assert [m["mentor"]["employee"]["name"] for m in s["mentors"]] == ["Pat Peer"]
    first = got[1]["readiness"]["suggestions"]["resources"]
    # a certification for the missing credential: the skill's gap is 3, the credential's 1
    assert [(x["resource"]["title"], x["score"]) for x in first] == [
        ("Course 1", 75.0),
        ("Certified welder exam", 25.0),
    ]
    assert first[1]["credentialType"] == {"name": "Welder Certificate"}
    assert [x["resource"]["title"] for x in got[2]["readiness"]["suggestions"]["resources"]] == [
        "Course 2"
    ]
    # without `suggestions`, readiness costs no more statements than before
    plain = """query($e: ID!, $l: ID!) { careerPaths(employeeId: $e, targetLevelId: $l, first: 1) {
      steps { readiness { score } } } }"""
    without = await _count(gql, count_statements, plain, {**v, "l": levels[6]["id"]}, dev)
    with_s = await _count(
        gql,
        count_statements,
        plain.replace("score }", "score suggestions { mentors { score } } }"),
        {**v, "l": levels[6]["id"]},
        dev,
    )
    assert with_s == without + 2  # one for resources, one for mentors


async def test_a_learning_resource_list_costs_the_same_whatever_its_size(
    gql: GQL, make_tenant: Any, count_statements: Any
) -> None:
    from tests.credentials.test_statements import _count

    o = _ladder_org(3)
    o["learning_resources"] += [
        {"title": f"Extra {i:02d}", "kind": "reading", "skills": ["Skill 1", "Skill 2"]}
        for i in range(20)
    ]
    t: TenantInfo = await make_tenant(o)
    dev = t.token("dev@t.example")
    q = """query($n: Int!) { learningResources(first: $n) { edges { node { title
      skills { name } credentialType { name } } } } }"""
    assert await _count(gql, count_statements, q, {"n": 2}, dev) == await _count(
        gql, count_statements, q, {"n": 24}, dev
    )


async def test_another_tenants_resources_are_not_found(
    gql: GQL, make_tenant: Any, acme: TenantInfo, owner_engine: Any
) -> None:
    t: TenantInfo = await make_tenant(org())
    async with owner_engine.connect() as conn:
        theirs = await conn.scalar(
            sa.text("select id from learning_resources where tenant_id = :t limit 1"),
            {"t": acme.id},
        )
    hr = t.token("hr@t.example")
    q = "query($id: ID!) { node(id: $id) { ... on LearningResource { title } } }"
    foreign = await gql(q, {"id": to_global_id("LearningResource", theirs)}, token=hr)
    ghost = await gql(q, {"id": to_global_id("LearningResource", uuid.uuid4())}, token=hr)
    assert foreign == ghost and foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    for rid in (theirs, uuid.uuid4()):
        err = only_error(
            await gql(
                UPDATE, {"id": to_global_id("LearningResource", rid), "i": {"title": "x"}}, token=hr
            )
        )
        assert err["extensions"] == {"code": "NOT_FOUND", "field": "id"}
    assert (await gql.ok(LIST, {"f": {"includeRetired": True}}, token=hr))["learningResources"][
        "totalCount"
    ] == 0
