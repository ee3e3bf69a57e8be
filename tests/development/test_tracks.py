"""Career tracks through HTTP on the demo tenant and a small one: ladders, readiness, career
paths, placement, who may read what, statement counts."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error

TRACKS = """{ careerTracks { name levels { title jobLevel position
  expectedSkills { skill { name } minProficiency } requiredCredentialTypes { name }
  next { title } lateralMoves { title trackName } } } }"""
LEVEL = """query($e: ID!) { node(id: $e) { ... on Employee { careerLevel { since level { id title next { id title } } } } } }"""
READINESS = """query($e: ID!, $l: ID!) { readiness(employeeId: $e, levelId: $l) {
  score ready skills { skill { name } required have state gap }
  credentials { credentialType { name } state } timeInLevel { months typical met } } }"""
PATHS = """query($e: ID!, $l: ID!, $n: Int! = 3) { careerPaths(employeeId: $e, targetLevelId: $l, first: $n) {
  steps { level { title trackName } readiness { score } } } }"""


async def test_the_demo_ladders(gql: GQL, acme: TenantInfo) -> None:
    tok = acme.token("dana.lee@acme.example")
    tracks = (await gql.ok(TRACKS, token=tok))["careerTracks"]
    assert [t["name"] for t in tracks] == ["Engineering IC", "Engineering Management", "Warehouse"]
    ic = tracks[0]["levels"]
    assert [lv["jobLevel"] for lv in ic] == ["IC1", "IC2", "IC3", "IC4"]
    assert ic[2]["next"] == {"title": "Staff Software Engineer"} and ic[3]["next"] is None
    assert ic[2]["lateralMoves"] == [
        {"title": "Engineering Manager", "trackName": "Engineering Management"}
    ]
    lead = tracks[2]["levels"][2]
    assert lead["requiredCredentialTypes"] == [{"name": "CPR/AED"}]


async def test_readiness_and_paths_for_a_person(gql: GQL, acme: TenantInfo) -> None:
    sam = acme.gid("sam.rivera@acme.example")
    me = acme.token("sam.rivera@acme.example")
    level = (await gql.ok(LEVEL, {"e": sam}, token=me))["node"]["careerLevel"]
    assert level["level"]["title"] == "Software Engineer II" and level["since"] == "2024-09-01"
    senior = level["level"]["next"]["id"]
    r = (await gql.ok(READINESS, {"e": sam, "l": senior}, token=me))["readiness"]
    assert not r["ready"] and 0 < r["score"] < 100
    states = {s["skill"]["name"]: (s["state"], s["gap"]) for s in r["skills"]}
    assert states == {
        "Incident response": ("missing", 3),
        "PostgreSQL": ("partial", 1),
        "Python": ("partial", 1),
    }
    assert r["timeInLevel"]["typical"] == 24 and r["timeInLevel"]["months"] >= 24
    tracks = (await gql.ok("{ careerTracks { levels { id title } } }", token=me))["careerTracks"]
    manager = tracks[1]["levels"][0]["id"]
    paths = (await gql.ok(PATHS, {"e": sam, "l": manager}, token=me))["careerPaths"]
    assert [s["level"]["title"] for s in paths[0]["steps"]] == [
        "Software Engineer II",
        "Senior Software Engineer",
        "Engineering Manager",
    ]
    assert (
        paths[0]["steps"][0]["readiness"] is None
        and paths[0]["steps"][1]["readiness"]["score"] == r["score"]
    )
    # private: the person, their line, HR; not a colleague
    err = only_error(
        await gql(READINESS, {"e": sam, "l": senior}, token=acme.token("aisha.bello@acme.example"))
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = only_error(await gql(PATHS, {"e": sam, "l": manager, "n": 9}, token=me))
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


def _org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["skills"] = [{"name": "Welding", "category": "trades"}]
    o["career_tracks"] = [
        {
            "name": "Trades",
            "levels": [
                {"title": "Apprentice"},
                {"title": "Journeyman", "skills": [{"skill": "Welding", "min": 2}]},
            ],
        }
    ]
    for i in range(12):
        o["employees"].append(
            {"email": f"w{i}@t.example", "name": f"W {i:02d}", "manager": "lead@t.example"}
        )
    return o


async def test_placement_is_hr_only_and_pages_stay_flat(
    make_tenant: Any, gql: GQL, count_statements: Any
) -> None:
    from tests.credentials.test_statements import _count

    t: TenantInfo = await make_tenant(_org())
    hr = t.token("hr@t.example")
    levels = (await gql.ok("{ careerTracks { levels { id title } } }", token=hr))["careerTracks"][
        0
    ]["levels"]
    place = """mutation($e: ID!, $l: ID!, $s: Date) { placeEmployee(employeeId: $e, levelId: $l, since: $s) {
      since level { title } } }"""
    err = only_error(
        await gql(
            place,
            {"e": t.gid("dev@t.example"), "l": levels[0]["id"]},
            token=t.token("lead@t.example"),
        )
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = only_error(
        await gql(
            place, {"e": t.gid("dev@t.example"), "l": levels[0]["id"], "s": "2999-01-01"}, token=hr
        )
    )
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "since"}
    for i in range(12):
        got = await gql.ok(
            place,
            {"e": t.gid(f"w{i}@t.example"), "l": levels[i % 2]["id"], "s": "2025-01-01"},
            token=hr,
        )
        assert got["placeEmployee"]["since"] == "2025-01-01"
    q = """query($n: Int!) { employees(first: $n) { edges { node { name careerLevel { since level { title next { title } } } } } } }"""
    small = await _count(gql, count_statements, q, {"n": 8}, hr)
    large = await _count(gql, count_statements, q, {"n": 30}, hr)
    assert small == large
    body = await gql.ok(q, {"n": 30}, token=hr)
    placed = [
        e["node"]["careerLevel"] for e in body["employees"]["edges"] if e["node"]["careerLevel"]
    ]
    assert len(placed) == 12
    # readiness for the next rung: nothing rated yet
    r = (
        await gql.ok(
            READINESS,
            {"e": t.gid("w0@t.example"), "l": levels[1]["id"]},
            token=t.token("w0@t.example"),
        )
    )["readiness"]
    assert r["score"] == 0 and r["skills"][0]["state"] == "missing"


async def test_another_tenants_levels_are_not_found(
    make_tenant: Any, gql: GQL, acme: TenantInfo
) -> None:
    t: TenantInfo = await make_tenant(_org())
    theirs = (
        await gql.ok("{ careerTracks { levels { id } } }", token=acme.token("hr@acme.example"))
    )["careerTracks"][0]["levels"][0]["id"]
    hr = t.token("hr@t.example")
    err = only_error(await gql(READINESS, {"e": t.gid("dev@t.example"), "l": theirs}, token=hr))
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "levelId"}
    place = "mutation($e: ID!, $l: ID!) { placeEmployee(employeeId: $e, levelId: $l) { since } }"
    err = only_error(await gql(place, {"e": t.gid("dev@t.example"), "l": theirs}, token=hr))
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "levelId"}
    node = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": theirs}, token=hr)
    assert node["errors"][0]["extensions"]["code"] == "NOT_FOUND"
