"""Isolation through HTTP: a token of tenant A never reads, counts, pages to or mutates B's rows,
and every answer looks exactly like an id that never existed."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import GQL, TenantInfo, only_error, token
from upward.graphql.relay import to_global_id

ADMIN_A = ("acme", "admin@acme.example")


@pytest.fixture
def tok() -> str:
    return token(*ADMIN_A)


def _ghost(type_name: str = "Employee") -> str:
    return to_global_id(type_name, uuid.uuid4())


async def _same_as_ghost(gql: GQL, query: str, foreign: dict, ghost: dict, tok: str) -> dict:
    a = await gql(query, foreign, token=tok)
    b = await gql(query, ghost, token=tok)
    assert a == b, (a, b)
    return a


async def test_employee_by_foreign_id_is_not_found(gql: GQL, globex: TenantInfo, tok: str) -> None:
    q = "query($id: ID!) { employee(id: $id) { name } }"
    body = await _same_as_ghost(
        gql, q, {"id": globex.gid("admin@globex.example")}, {"id": _ghost()}, tok
    )
    assert only_error(body)["extensions"]["code"] == "NOT_FOUND"


async def test_node_and_nodes_hide_foreign_objects(gql: GQL, globex: TenantInfo, tok: str) -> None:
    q = "query($id: ID!) { node(id: $id) { id ... on Employee { name } } }"
    body = await _same_as_ghost(
        gql, q, {"id": globex.gid("hr@globex.example")}, {"id": _ghost()}, tok
    )
    assert body["data"]["node"] is None
    assert only_error(body)["extensions"]["code"] == "NOT_FOUND"
    dep = to_global_id("Department", next(iter(globex.departments.values())))
    body = await _same_as_ghost(gql, q, {"id": dep}, {"id": _ghost("Department")}, tok)
    assert only_error(body)["extensions"]["code"] == "NOT_FOUND"

    qs = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    own = to_global_id("Employee", (await _acme_ids(gql, tok))[0])
    body = await gql(qs, {"ids": [own, globex.gid("admin@globex.example")]}, token=tok)
    assert body["data"]["nodes"][0]["id"] == own
    assert body["data"]["nodes"][1] is None
    assert [e["path"] for e in body["errors"]] == [["nodes", 1]]
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def _acme_ids(gql: GQL, tok: str) -> list[uuid.UUID]:
    from upward.graphql.relay import from_global_id

    data = await gql.ok("{ employees(first: 5) { edges { node { id } } } }", token=tok)
    return [from_global_id(e["node"]["id"], field="id")[1] for e in data["employees"]["edges"]]


async def test_filters_with_foreign_ids_match_nothing(
    gql: GQL, globex: TenantInfo, tok: str
) -> None:
    q = """query($f: EmployeeFilter) { employees(filter: $f, first: 100) {
             totalCount edges { node { id } } } }"""
    dep = to_global_id("Department", next(iter(globex.departments.values())))
    loc = to_global_id("Location", next(iter(globex.locations.values())))
    for f_foreign, f_ghost in [
        ({"departmentIds": [dep]}, {"departmentIds": [_ghost("Department")]}),
        ({"locationIds": [loc]}, {"locationIds": [_ghost("Location")]}),
        ({"managerId": globex.gid("lena.vogel@globex.example")}, {"managerId": _ghost()}),
        ({"search": "globex.example"}, {"search": "no-such-person.example"}),
    ]:
        body = await _same_as_ghost(gql, q, {"f": f_foreign}, {"f": f_ghost}, tok)
        assert body["data"]["employees"] == {"totalCount": 0, "edges": []}


async def test_counts_are_per_tenant(gql: GQL, acme: TenantInfo) -> None:
    data = await gql.ok(
        "{ employees(filter: {status: null}) { totalCount } }", token=token(*ADMIN_A)
    )
    assert data["employees"]["totalCount"] == len(acme.ids)


async def test_cursor_from_another_tenant_is_invalid(gql: GQL) -> None:
    q = "query($after: String) { employees(first: 2, after: $after) { edges { node { name } } pageInfo { endCursor } } }"
    b_tok = token("globex", "admin@globex.example")
    b_cursor = (await gql.ok(q, {"after": None}, token=b_tok))["employees"]["pageInfo"]["endCursor"]
    a_tok = token(*ADMIN_A)
    a_cursor = (await gql.ok(q, {"after": None}, token=a_tok))["employees"]["pageInfo"]["endCursor"]
    forged = a_cursor[:-2] + ("AA" if not a_cursor.endswith("AA") else "BB")
    answers = []
    for cursor in (b_cursor, forged):
        body = await gql(q, {"after": cursor}, token=a_tok)
        err = only_error(body)
        answers.append((err["message"], err["extensions"]))
    assert (
        answers[0] == answers[1] == ("invalid cursor", {"code": "BAD_USER_INPUT", "field": "after"})
    )


async def test_mutations_cannot_reach_foreign_rows(gql: GQL, globex: TenantInfo, tok: str) -> None:
    foreign, ghost = globex.gid("tom.fischer@globex.example"), _ghost()
    cases = [
        (
            'mutation($id: ID!) { updateEmployee(id: $id, input: {title: "pwned"}) { employee { id } } }',
            "id",
        ),
        ("mutation($id: ID!) { offboardEmployee(employeeId: $id) { employee { id } } }", "id"),
        (
            "mutation($id: ID!) { changeManager(employeeId: $id, managerId: null) { employee { id } } }",
            "id",
        ),
    ]
    for q, _ in cases:
        body = await _same_as_ghost(gql, q, {"id": foreign}, {"id": ghost}, tok)
        assert only_error(body)["extensions"]["code"] == "NOT_FOUND"
    # a foreign manager, department or location in an input is "no such object"
    own = (await gql.ok("{ me { id } }", token=tok))["me"]["id"]
    q = "mutation($id: ID!, $m: ID) { changeManager(employeeId: $id, managerId: $m) { employee { id } } }"
    body = await _same_as_ghost(gql, q, {"id": own, "m": foreign}, {"id": own, "m": ghost}, tok)
    assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "managerId"}
    # and nothing in B changed
    b = await gql.ok(
        "query($id: ID!) { employee(id: $id) { title status manager { name } } }",
        {"id": foreign},
        token=token("globex", "admin@globex.example"),
    )
    assert b["employee"]["status"] == "ACTIVE" and b["employee"]["title"] != "pwned"


async def test_token_with_changed_tid_is_refused(gql: GQL) -> None:
    from tests.auth.test_auth import _tamper

    tampered = _tamper(token(*ADMIN_A), tid="globex", sub="admin@globex.example")
    assert (
        only_error(await gql("{ me { name } }", token=tampered))["extensions"]["code"]
        == "UNAUTHENTICATED"
    )
    # a valid token for a person of A naming tenant B: that person does not exist in B
    cross = token("globex", "admin@acme.example")
    assert (
        only_error(await gql("{ me { name } }", token=cross))["extensions"]["code"]
        == "UNAUTHENTICATED"
    )
