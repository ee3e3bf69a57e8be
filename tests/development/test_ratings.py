"""People's skills through HTTP: who rates, validates and sees what; the history; skills a
credential grants appearing and lapsing with it; statement counts; isolation."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from upward import clock

SET = """mutation($s: ID!, $p: Int!, $e: ID, $i: Boolean, $u: Date) {
  setEmployeeSkill(skillId: $s, proficiency: $p, employeeId: $e, interest: $i, lastUsedOn: $u) {
    skill { name } proficiency source interest lastUsedOn validatedBy { email } validatedAt
  }
}"""
SKILLS = """query($id: ID!) { node(id: $id) { ... on Employee {
  skills { skill { name } proficiency source interest validatedBy { email }
           credential { number } validUntil } } } }"""


def org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["skills"] = [
        {"name": "Python", "category": "engineering"},
        {"name": "First aid", "category": "safety"},
        {"name": "Old craft", "category": "x", "status": "retired"},
    ]
    o["credential_types"] = [
        {"name": "First Aid Card", "category": "certification", "validity_months": 24}
    ]
    o["credentials"] = [
        {
            "employee": "dev@t.example",
            "credential_type": "First Aid Card",
            "number": "FA-1",
            "issued_on": date(2026, 1, 10),
            "expires_on": date(2026, 12, 31),
        }
    ]
    return o


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    clock.freeze(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    try:
        yield await make_tenant(org())
    finally:
        clock.freeze(None)


async def _ids(gql: GQL, t: TenantInfo) -> dict[str, str]:
    got = await gql.ok(
        "{ skills(first: 10, filter: {includeRetired: true}) { edges { node { id name } } } }",
        token=t.token("hr@t.example"),
    )
    return {e["node"]["name"]: e["node"]["id"] for e in got["skills"]["edges"]}


async def test_who_rates_validates_and_sees_what(t: TenantInfo, gql: GQL) -> None:
    s = await _ids(gql, t)
    dev = t.token("dev@t.example")
    mine = (await gql.ok(SET, {"s": s["Python"], "p": 3, "i": True, "u": "2026-06-01"}, token=dev))[
        "setEmployeeSkill"
    ]
    assert mine == {
        "skill": {"name": "Python"},
        "proficiency": 3,
        "source": "SELF_ASSESSED",
        "interest": True,
        "lastUsedOn": "2026-06-01",
        "validatedBy": None,
        "validatedAt": None,
    }
    # a colleague sees the rating, not the private parts; they cannot rate dev
    peer = t.token("peer@t.example")
    seen = (await gql.ok(SKILLS, {"id": t.gid("dev@t.example")}, token=peer))["node"]["skills"]
    python = next(x for x in seen if x["skill"]["name"] == "Python")
    assert python["interest"] is None and python["proficiency"] == 3
    err = only_error(
        await gql(SET, {"s": s["Python"], "p": 1, "e": t.gid("dev@t.example")}, token=peer)
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    # the manager (lead) validates it as it stands, or rates it (validated); not the interest
    lead = t.token("lead@t.example")
    v = "mutation($e: ID!, $s: ID!) { validateEmployeeSkill(employeeId: $e, skillId: $s) { source validatedBy { email } } }"
    got = await gql.ok(v, {"e": t.gid("dev@t.example"), "s": s["Python"]}, token=lead)
    assert got["validateEmployeeSkill"] == {
        "source": "SELF_ASSESSED",
        "validatedBy": {"email": "lead@t.example"},
    }
    err = only_error(await gql(v, {"e": t.gid("dev@t.example"), "s": s["Python"]}, token=dev))
    assert err["extensions"]["code"] == "FORBIDDEN"  # nobody validates their own
    err = only_error(
        await gql(
            SET, {"s": s["Python"], "p": 4, "e": t.gid("dev@t.example"), "i": False}, token=lead
        )
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    got = await gql.ok(SET, {"s": s["Python"], "p": 4, "e": t.gid("dev@t.example")}, token=lead)
    rated = got["setEmployeeSkill"]
    assert rated["source"] == "MANAGER_ASSESSED" and rated["validatedBy"] == {
        "email": "lead@t.example"
    }
    assert rated["interest"] is True  # kept from dev's own rating
    got = await gql.ok(
        SET, {"s": s["Python"], "p": 5, "e": t.gid("dev@t.example")}, token=t.token("hr@t.example")
    )
    assert got["setEmployeeSkill"]["source"] == "ASSESSMENT"
    # validation errors name the field and change nothing
    for variables, field in (
        ({"s": s["Python"], "p": 6}, "proficiency"),
        ({"s": s["Python"], "p": 0}, "proficiency"),
        ({"s": s["Old craft"], "p": 2}, "skillId"),
        ({"s": s["Python"], "p": 2, "u": "2027-01-01"}, "lastUsedOn"),
        ({"s": t.gid("dev@t.example"), "p": 2}, "skillId"),
    ):
        err = only_error(await gql(SET, variables, token=dev))
        assert err["extensions"]["field"] == field, (variables, err)
    # the history: every change, for dev, their line and HR; nobody else
    h = """query($e: ID!, $s: ID!) { employeeSkillHistory(employeeId: $e, skillId: $s) {
      action proficiency source changedBy { email } } }"""
    hist = (await gql.ok(h, {"e": t.gid("dev@t.example"), "s": s["Python"]}, token=dev))[
        "employeeSkillHistory"
    ]
    assert [(x["action"], x["proficiency"], x["changedBy"]["email"]) for x in hist] == [
        ("set", 3, "dev@t.example"),
        ("validate", 3, "lead@t.example"),
        ("set", 4, "lead@t.example"),
        ("set", 5, "hr@t.example"),
    ]
    assert (await gql.ok(h, {"e": t.gid("dev@t.example"), "s": s["Python"]}, token=peer))[
        "employeeSkillHistory"
    ] == []
    rm = "mutation($s: ID!) { removeEmployeeSkill(skillId: $s) }"
    assert (await gql.ok(rm, {"s": s["Python"]}, token=dev))["removeEmployeeSkill"] is True
    err = only_error(await gql(rm, {"s": s["Python"]}, token=dev))
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "skillId"}


async def test_a_credential_grants_skills_while_it_is_valid(t: TenantInfo, gql: GQL) -> None:
    s = await _ids(gql, t)
    hr = t.token("hr@t.example")
    types = await gql.ok("{ credentialTypes { id name } }", token=hr)
    card = types["credentialTypes"][0]["id"]
    m = """mutation($t: ID!, $g: [SkillGrantInput!]!) {
      setCredentialTypeSkills(credentialTypeId: $t, skills: $g) { skill { name } proficiency } }"""
    err = only_error(
        await gql(m, {"t": card, "g": [{"skillId": s["First aid"], "proficiency": 9}]}, token=hr)
    )
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "skills.0.proficiency"}
    err = only_error(
        await gql(
            m,
            {"t": card, "g": [{"skillId": s["First aid"], "proficiency": 3}]},
            token=t.token("dev@t.example"),
        )
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    got = await gql.ok(
        m, {"t": card, "g": [{"skillId": s["First aid"], "proficiency": 3}]}, token=hr
    )
    assert got["setCredentialTypeSkills"] == [{"skill": {"name": "First aid"}, "proficiency": 3}]
    grants = await gql.ok(
        "{ credentialTypes { grantsSkills { skill { name } proficiency } } }", token=hr
    )
    assert grants["credentialTypes"][0]["grantsSkills"] == [
        {"skill": {"name": "First aid"}, "proficiency": 3}
    ]

    async def dev_skills() -> list[dict[str, Any]]:
        got = await gql.ok(SKILLS, {"id": t.gid("dev@t.example")}, token=t.token("dev@t.example"))
        return got["node"]["skills"]

    assert await dev_skills() == [
        {
            "skill": {"name": "First aid"},
            "proficiency": 3,
            "source": "CREDENTIAL",
            "interest": None,
            "validatedBy": None,
            "credential": {"number": "FA-1"},
            "validUntil": "2026-12-31",
        }
    ]
    clock.freeze(datetime(2027, 1, 2, 10, 0, tzinfo=UTC))  # expired: the skill lapses
    assert await dev_skills() == []
    clock.freeze(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    cred = await gql.ok(
        "query($e: ID!) { node(id: $e) { ... on Employee { credentials { id } } } }",
        {"e": t.gid("dev@t.example")},
        token=hr,
    )
    cid = cred["node"]["credentials"][0]["id"]
    await gql.ok(
        'mutation($id: ID!) { revokeCredential(id: $id, reason: "fraud") { credential { id } } }',
        {"id": cid},
        token=hr,
    )
    assert await dev_skills() == []  # revoked: gone at once, nothing stored to clean up


async def test_employee_pages_with_skills_do_not_grow_in_statements(
    make_tenant: Any, gql: GQL, count_statements: Any
) -> None:
    from tests.credentials.test_statements import _count

    o = org()
    for i in range(15):
        o["employees"].append(
            {"email": f"e{i}@t.example", "name": f"E {i:02d}", "manager": "lead@t.example"}
        )
    t: TenantInfo = await make_tenant(o)
    s = await _ids(gql, t)
    for i in range(15):
        await gql.ok(SET, {"s": s["Python"], "p": 1 + i % 5}, token=t.token(f"e{i}@t.example"))
    hr = t.token("hr@t.example")
    card = (await gql.ok("{ credentialTypes { id } }", token=hr))["credentialTypes"][0]["id"]
    await gql.ok(
        "mutation($t: ID!, $g: [SkillGrantInput!]!) { setCredentialTypeSkills("
        "credentialTypeId: $t, skills: $g) { proficiency } }",
        {"t": card, "g": [{"skillId": s["First aid"], "proficiency": 2}]},
        token=hr,
    )
    for i in range(0, 15, 3):  # validated by their manager
        await gql.ok(
            "mutation($e: ID!, $s: ID!) { validateEmployeeSkill(employeeId: $e, skillId: $s) "
            "{ proficiency } }",
            {"e": t.gid(f"e{i}@t.example"), "s": s["Python"]},
            token=t.token("lead@t.example"),
        )
    q = """query($n: Int!) { employees(first: $n) { edges { node { name
      skills { skill { name } proficiency validatedBy { name } credential { number } } } } } }"""
    small = await _count(gql, count_statements, q, {"n": 4}, hr)  # Ada, Bo, Dee, E 00
    large = await _count(gql, count_statements, q, {"n": 20}, hr)
    assert small == large
    body = await gql.ok(q, {"n": 20}, token=hr)
    assert sum(len(e["node"]["skills"]) for e in body["employees"]["edges"]) >= 16


async def test_another_tenants_skill_or_person_is_not_found(
    t: TenantInfo, make_tenant: Any, gql: GQL
) -> None:
    other: TenantInfo = await make_tenant(org())
    theirs = await _ids(gql, other)
    err = only_error(
        await gql(SET, {"s": theirs["Python"], "p": 2}, token=t.token("dev@t.example"))
    )
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "skillId"}
    mine = await _ids(gql, t)
    err = only_error(
        await gql(
            SET,
            {"s": mine["Python"], "p": 2, "e": other.gid("dev@t.example")},
            token=t.token("hr@t.example"),
        )
    )
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "employeeId"}
