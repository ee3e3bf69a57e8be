"""People through HTTP: directory, reporting lines, visibility, mutations and their validation."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, error_codes, only_error, token

EMP = "query($id: ID!) { employee(id: $id) { name hireDate roles offboardedAt status } }"


@pytest.fixture
async def t(make_tenant: Any) -> TenantInfo:
    return await make_tenant()


class TestQueries:
    async def test_me_and_viewer(self, gql: GQL, t: TenantInfo) -> None:
        data = await gql.ok(
            """{ me { name email jobLevel manager { name } department { name }
                                      location { name timezone } isManager }
                                 viewer { roles tenantSlug } }""",
            token=t.token("boss@t.example"),
        )
        assert data["me"] == {
            "name": "Bo Boss",
            "email": "boss@t.example",
            "jobLevel": "M2",
            "manager": {"name": "Ada Admin"},
            "department": {"name": "Engineering"},
            "location": {"name": "Austin", "timezone": "America/Chicago"},
            "isManager": True,
        }
        assert data["viewer"] == {"roles": ["EMPLOYEE", "MANAGER"], "tenantSlug": t.slug}

    async def test_reporting_line_chain_and_direct_reports(self, gql: GQL, t: TenantInfo) -> None:
        data = await gql.ok(
            """query($id: ID!) { employee(id: $id) {
                directReports { totalCount edges { node { name } } }
                reportingLine { totalCount edges { node { name manager { name } } } }
                managerChain { name } } }""",
            {"id": t.gid("boss@t.example")},
            token=t.token("dev@t.example"),
        )
        e = data["employee"]
        assert [x["node"]["name"] for x in e["directReports"]["edges"]] == ["Lee Lead", "Pat Peer"]
        assert [x["node"]["name"] for x in e["reportingLine"]["edges"]] == [
            "Dee Dev",
            "Lee Lead",
            "Pat Peer",
        ]
        assert e["reportingLine"]["edges"][0]["node"]["manager"] == {"name": "Lee Lead"}
        assert e["managerChain"] == [{"name": "Ada Admin"}]
        chain = await gql.ok("{ me { managerChain { name } } }", token=t.token("dev@t.example"))
        assert [m["name"] for m in chain["me"]["managerChain"]] == [
            "Lee Lead",
            "Bo Boss",
            "Ada Admin",
        ]

    async def test_filters_search_and_order(self, gql: GQL, t: TenantInfo) -> None:
        tok = t.token("dev@t.example")
        q = """query($f: EmployeeFilter, $o: EmployeeOrder!) {
                 employees(filter: $f, orderBy: $o) { totalCount edges { node { name } } } }"""

        async def names(f: dict | None, o: str = "NAME_ASC") -> list[str]:
            data = await gql.ok(q, {"f": f, "o": o}, token=tok)
            return [e["node"]["name"] for e in data["employees"]["edges"]]

        assert await names({"search": "LEE"}) == ["Lee Lead"]
        assert await names({"search": "%"}) == []  # wildcards are literal
        assert await names({"search": "hr@t"}) == ["Hana HR"]
        assert await names({"locationIds": [_gid("Location", t.locations["Berlin"])]}) == [
            "Ada Admin",
            "Hana HR",
            "Pat Peer",
        ]
        assert await names({"departmentIds": [_gid("Department", t.departments["People"])]}) == [
            "Hana HR"
        ]
        assert await names({"managerId": t.gid("boss@t.example")}) == ["Lee Lead", "Pat Peer"]
        assert await names({"jobLevels": ["M1", "M2"]}) == ["Bo Boss", "Lee Lead"]
        assert await names(None, "NAME_DESC") == [
            "Pat Peer",
            "Lee Lead",
            "Hana HR",
            "Dee Dev",
            "Bo Boss",
            "Ada Admin",
        ]
        assert (await names(None, "EMAIL_ASC"))[0] == "Ada Admin"

    async def test_pagination_forward_and_backward(self, gql: GQL, t: TenantInfo) -> None:
        tok = t.token("dev@t.example")
        q = """query($first: Int, $after: String, $last: Int, $before: String) {
                 employees(first: $first, after: $after, last: $last, before: $before) {
                   totalCount edges { cursor node { name } }
                   pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
        seen: list[str] = []
        after = None
        while True:
            data = (await gql.ok(q, {"first": 2, "after": after}, token=tok))["employees"]
            assert data["totalCount"] == 6
            seen += [e["node"]["name"] for e in data["edges"]]
            if not data["pageInfo"]["hasNextPage"]:
                break
            after = data["pageInfo"]["endCursor"]
        assert seen == sorted(seen) and len(seen) == 6
        last = (await gql.ok(q, {"last": 2, "before": after}, token=tok))["employees"]
        # `after` is the end cursor of the second page (the 4th row): the two rows before it
        assert [e["node"]["name"] for e in last["edges"]] == seen[1:3]
        assert last["pageInfo"]["hasPreviousPage"] and last["pageInfo"]["hasNextPage"]
        tail = (await gql.ok(q, {"last": 4}, token=tok))["employees"]
        assert [e["node"]["name"] for e in tail["edges"]] == seen[2:]

    async def test_private_fields_by_viewer(self, gql: GQL, t: TenantInfo) -> None:
        target = {"id": t.gid("dev@t.example")}
        # a peer outside the management line sees public fields only
        peer = (await gql.ok(EMP, target, token=t.token("peer@t.example")))["employee"]
        assert peer == {
            "name": "Dee Dev",
            "hireDate": None,
            "roles": None,
            "offboardedAt": None,
            "status": "ACTIVE",
        }
        # everyone up the line, the person, and HR see them
        for who in ("lead@t.example", "boss@t.example", "dev@t.example", "hr@t.example"):
            seen = (await gql.ok(EMP, target, token=t.token(who)))["employee"]
            assert seen["roles"] == [], who
        admin = (
            await gql.ok(EMP, {"id": t.gid("admin@t.example")}, token=t.token("hr@t.example"))
        )["employee"]
        assert admin["roles"] == ["TENANT_ADMIN"]

    async def test_offboarded_are_hidden_from_non_hr(self, gql: GQL, acme: TenantInfo) -> None:
        gone = {"id": _gid("Employee", acme.ids["grace.osei@acme.example"])}
        body = await gql(EMP, gone, token=token("acme", "sam.rivera@acme.example"))
        assert only_error(body)["extensions"]["code"] == "NOT_FOUND"
        seen = await gql.ok(EMP, gone, token=token("acme", "hr@acme.example"))
        assert seen["employee"]["status"] == "OFFBOARDED" and seen["employee"]["offboardedAt"]
        q = "{ employees(filter: {status: OFFBOARDED}) { totalCount } }"
        body = await gql(q, token=token("acme", "sam.rivera@acme.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        assert (await gql.ok(q, token=token("acme", "hr@acme.example")))["employees"][
            "totalCount"
        ] == 2

    async def test_departments_and_locations(self, gql: GQL, t: TenantInfo) -> None:
        data = await gql.ok(
            "{ departments { name code } locations { name country timezone } }",
            token=t.token("dev@t.example"),
        )
        assert data["departments"] == [
            {"name": "Engineering", "code": "ENG"},
            {"name": "People", "code": None},
        ]
        assert data["locations"][0] == {
            "name": "Austin",
            "country": None,
            "timezone": "America/Chicago",
        }


def _gid(type_name: str, raw: Any) -> str:
    from upward.graphql.relay import to_global_id

    return to_global_id(type_name, raw)


CREATE = """mutation($input: CreateEmployeeInput!) {
  createEmployee(input: $input) { employee { id email name manager { name } department { name } roles } } }"""


class TestMutations:
    async def test_create_update_and_audit(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        tok = t.token("hr@t.example")
        data = await gql.ok(
            CREATE,
            {
                "input": {
                    "email": "  New.Person@T.Example ",
                    "name": "New Person",
                    "managerId": t.gid("lead@t.example"),
                    "departmentId": _gid("Department", t.departments["Engineering"]),
                    "hireDate": "2024-02-01",
                    "timezone": "Europe/Lisbon",
                }
            },
            token=tok,
        )
        emp = data["createEmployee"]["employee"]
        assert emp["email"] == "new.person@t.example"
        assert emp["manager"] == {"name": "Lee Lead"} and emp["department"] == {
            "name": "Engineering"
        }
        upd = await gql.ok(
            """mutation($id: ID!) { updateEmployee(id: $id, input: {title: "Engineer",
                              departmentId: null}) { employee { title department { name } } } }""",
            {"id": emp["id"]},
            token=tok,
        )
        assert upd["updateEmployee"]["employee"] == {"title": "Engineer", "department": None}
        events = (
            await gql.ok(
                """query($id: ID!) { auditEvents(filter: {targetId: $id}) {
                    totalCount edges { node { action actor { email } changes requestId } } } }""",
                {"id": emp["id"]},
                token=t.token("admin@t.example"),
            )
        )["auditEvents"]
        assert events["totalCount"] == 2
        update, create = (e["node"] for e in events["edges"])
        assert create["action"] == "employee.create" and update["action"] == "employee.update"
        assert create["actor"] == {"email": "hr@t.example"} and create["requestId"]
        assert update["changes"]["title"] == {"from": None, "to": "Engineer"}
        assert set(update["changes"]) == {"title", "department_id"}

    @pytest.mark.parametrize(
        "patch, field",
        [
            ({"email": "not-an-email"}, "input.email"),
            ({"email": "a@b"}, "input.email"),
            ({"name": "   "}, "input.name"),
            ({"timezone": "Europe/Atlantis"}, "input.timezone"),
            ({"hireDate": "1850-01-01"}, "input.hireDate"),
            ({"managerId": "bm90LWFuLWlk"}, "input.managerId"),
            ({"managerId": "%%%"}, "input.managerId"),
        ],
    )
    async def test_create_validation_writes_nothing(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine, patch: dict, field: str
    ) -> None:
        before = await _counts(owner_engine, t)
        body = await gql(
            CREATE,
            {"input": {"email": "x@t.example", "name": "X", **patch}},
            token=t.token("hr@t.example"),
        )
        err = only_error(body)
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, body
        assert body["data"] == {"createEmployee": None}
        assert await _counts(owner_engine, t) == before

    async def test_duplicate_email_is_conflict(self, gql: GQL, t: TenantInfo) -> None:
        body = await gql(
            CREATE,
            {"input": {"email": "DEV@t.example", "name": "Dup"}},
            token=t.token("hr@t.example"),
        )
        assert only_error(body)["extensions"] == {"code": "CONFLICT", "field": "input.email"}

    async def test_permissions(self, gql: GQL, t: TenantInfo) -> None:
        for who in ("dev@t.example", "boss@t.example"):
            body = await gql(
                CREATE, {"input": {"email": "y@t.example", "name": "Y"}}, token=t.token(who)
            )
            assert error_codes(body) == ["FORBIDDEN"]
        # roles need tenant_admin
        body = await gql(
            CREATE,
            {"input": {"email": "y@t.example", "name": "Y", "roles": ["HR_ADMIN"]}},
            token=t.token("hr@t.example"),
        )
        assert error_codes(body) == ["FORBIDDEN"]
        ok = await gql.ok(
            CREATE,
            {"input": {"email": "y@t.example", "name": "Y", "roles": ["HR_ADMIN"]}},
            token=t.token("admin@t.example"),
        )
        assert ok["createEmployee"]["employee"]["roles"] == ["HR_ADMIN"]
        # audit events are for tenant admins only
        body = await gql("{ auditEvents { totalCount } }", token=t.token("hr@t.example"))
        assert error_codes(body) == ["FORBIDDEN"]

    async def test_change_manager_refuses_cycles(self, gql: GQL, t: TenantInfo) -> None:
        q = """mutation($e: ID!, $m: ID) { changeManager(employeeId: $e, managerId: $m) {
                 employee { manager { name } } } }"""
        tok = t.token("hr@t.example")
        for employee, manager in (
            ("boss@t.example", "dev@t.example"),
            ("boss@t.example", "boss@t.example"),
            ("lead@t.example", "dev@t.example"),
        ):
            body = await gql(q, {"e": t.gid(employee), "m": t.gid(manager)}, token=tok)
            assert only_error(body)["extensions"] == {
                "code": "BAD_USER_INPUT",
                "field": "managerId",
            }
        ok = await gql.ok(q, {"e": t.gid("dev@t.example"), "m": t.gid("peer@t.example")}, token=tok)
        assert ok["changeManager"]["employee"]["manager"] == {"name": "Pat Peer"}
        # Pat now manages Dee; moving Pat under Dee would close the loop
        body = await gql(q, {"e": t.gid("peer@t.example"), "m": t.gid("dev@t.example")}, token=tok)
        assert "cycle" in only_error(body)["message"]

    async def test_offboard_moves_reports_and_blocks_last_admin(
        self, gql: GQL, t: TenantInfo
    ) -> None:
        q = """mutation($e: ID!, $to: ID) { offboardEmployee(employeeId: $e, reassignReportsTo: $to) {
                 employee { status } } }"""
        tok = t.token("admin@t.example")
        ok = await gql.ok(q, {"e": t.gid("lead@t.example"), "to": None}, token=tok)
        assert ok["offboardEmployee"]["employee"]["status"] == "OFFBOARDED"
        dev = await gql.ok("{ me { manager { name } } }", token=t.token("dev@t.example"))
        assert dev["me"]["manager"] == {"name": "Bo Boss"}
        # the offboarded person can no longer sign in
        body = await gql("{ me { name } }", token=t.token("lead@t.example"))
        assert error_codes(body) == ["UNAUTHENTICATED"]
        again = await gql(q, {"e": t.gid("lead@t.example"), "to": None}, token=tok)
        assert error_codes(again) == ["CONFLICT"]
        # the last tenant admin stays
        body = await gql(
            q, {"e": t.gid("admin@t.example"), "to": None}, token=t.token("hr@t.example")
        )
        assert only_error(body)["extensions"]["code"] == "CONFLICT"
        # reassigning into the leaver's own line is refused
        body = await gql(q, {"e": t.gid("boss@t.example"), "to": t.gid("dev@t.example")}, token=tok)
        assert only_error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "reassignReportsTo",
        }

    async def test_departments_and_locations(self, gql: GQL, t: TenantInfo) -> None:
        tok = t.token("hr@t.example")
        d = await gql.ok(
            'mutation { createDepartment(input: {name: "Sales", code: "S"}) '
            "{ department { id name code } } }",
            token=tok,
        )
        dup = await gql(
            'mutation { createDepartment(input: {name: "Sales"}) { department { id } } }', token=tok
        )
        assert only_error(dup)["extensions"] == {"code": "CONFLICT", "field": "input.name"}
        ren = await gql.ok(
            'mutation($id: ID!) { updateDepartment(id: $id, input: {name: "Revenue"}) '
            "{ department { name code } } }",
            {"id": d["createDepartment"]["department"]["id"]},
            token=tok,
        )
        assert ren["updateDepartment"]["department"] == {"name": "Revenue", "code": "S"}
        bad = await gql(
            'mutation { createLocation(input: {name: "Mars", country: "Mars"}) '
            "{ location { id } } }",
            token=tok,
        )
        assert only_error(bad)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.country"}
        ok = await gql.ok(
            'mutation { createLocation(input: {name: "Lisbon", country: "pt", '
            'timezone: "Europe/Lisbon"}) { location { name country } } }',
            token=tok,
        )
        assert ok["createLocation"]["location"] == {"name": "Lisbon", "country": "PT"}

    async def test_one_failing_mutation_does_not_undo_another(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        body = await gql(
            """mutation {
            a: createDepartment(input: {name: "Legal"}) { department { name } }
            b: createDepartment(input: {name: "Legal"}) { department { name } } }""",
            token=t.token("hr@t.example"),
        )
        assert body["data"]["a"] == {"department": {"name": "Legal"}}
        assert body["data"]["b"] is None and error_codes(body) == ["CONFLICT"]
        async with owner_engine.connect() as conn:
            n = await conn.scalar(
                sa.text("select count(*) from departments where tenant_id = :t and name = 'Legal'"),
                {"t": t.id},
            )
            audits = await conn.scalar(
                sa.text(
                    "select count(*) from audit_events where tenant_id = :t "
                    "and action = 'department.create'"
                ),
                {"t": t.id},
            )
        assert (n, audits) == (1, 1)


async def _counts(engine: AsyncEngine, t: TenantInfo) -> tuple[int, int]:
    async with engine.connect() as conn:
        e = await conn.scalar(
            sa.text("select count(*) from employees where tenant_id = :t"), {"t": t.id}
        )
        a = await conn.scalar(
            sa.text("select count(*) from audit_events where tenant_id = :t"), {"t": t.id}
        )
    return int(e), int(a)


class TestEdgeInputs:
    async def test_nul_bytes_are_bad_input(self, gql: GQL, t: TenantInfo) -> None:
        tok = t.token("hr@t.example")
        body = await gql(CREATE, {"input": {"email": "z@t.example", "name": "Z\u0000"}}, token=tok)
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.name"}
        body = await gql(
            "query($s: String) { employees(filter: {search: $s}) { totalCount } }",
            {"s": "a\u0000b"},
            token=tok,
        )
        assert only_error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "filter.search",
        }
        body = await gql(
            'mutation($n: String!) { createDepartment(input: {name: "ok", code: $n}) '
            "{ department { id } } }",
            {"n": "\u0000"},
            token=tok,
        )
        assert only_error(body)["extensions"]["code"] == "BAD_USER_INPUT"

    async def test_any_status_needs_hr(self, gql: GQL, t: TenantInfo) -> None:
        q = "{ employees(filter: {status: null}) { totalCount } }"
        body = await gql(q, token=t.token("dev@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        assert (await gql.ok(q, token=t.token("hr@t.example")))["employees"]["totalCount"] == 6

    async def test_unused_variable_is_a_validation_error(self, gql: GQL, t: TenantInfo) -> None:
        body = await gql("query($x: Int) { me { name } }", {"x": 1}, token=t.token("dev@t.example"))
        assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
        body = await gql(
            "query($x: Int!) { employees(first: $x) { totalCount } }",
            {},
            token=t.token("dev@t.example"),
        )
        assert error_codes(body) == ["BAD_USER_INPUT"]

    async def test_other_methods_are_405_json(self, gql: GQL) -> None:
        r = await gql.client.put("/graphql", json={"query": "{ me { name } }"})
        assert r.status_code == 405
        assert r.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"

    async def test_unexpected_error_in_one_mutation_keeps_the_others(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from upward.people import service

        real = service.create_location

        async def half_then_boom(session: Any, principal: Any, **kw: Any) -> Any:
            await real(session, principal, **kw)  # writes, then fails unexpectedly
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(service, "create_location", half_then_boom)
        body = await gql(
            """mutation {
            a: createDepartment(input: {name: "Kept"}) { department { name } }
            b: createLocation(input: {name: "Lost"}) { location { name } } }""",
            token=t.token("hr@t.example"),
        )
        assert body["data"]["a"] == {"department": {"name": "Kept"}} and body["data"]["b"] is None
        assert error_codes(body) == ["INTERNAL"]
        async with owner_engine.connect() as conn:
            kept = await conn.scalar(
                sa.text("select count(*) from departments where tenant_id = :t and name = 'Kept'"),
                {"t": t.id},
            )
            lost = await conn.scalar(
                sa.text("select count(*) from locations where tenant_id = :t and name = 'Lost'"),
                {"t": t.id},
            )
        assert (kept, lost) == (1, 0)


class TestConcurrency:
    async def test_concurrent_moves_cannot_close_a_cycle(self, gql: GQL, t: TenantInfo) -> None:
        """Pat under Lee and Lee under Pat, at the same time: the org-chart lock serializes
        them, so exactly one wins and the other sees the cycle."""
        import asyncio

        q = """mutation($e: ID!, $m: ID) { changeManager(employeeId: $e, managerId: $m) {
                 employee { manager { name } } } }"""
        tok = t.token("hr@t.example")
        for _ in range(5):
            a, b = await asyncio.gather(
                gql(q, {"e": t.gid("peer@t.example"), "m": t.gid("lead@t.example")}, token=tok),
                gql(q, {"e": t.gid("lead@t.example"), "m": t.gid("peer@t.example")}, token=tok),
            )
            outcomes = sorted(
                [
                    "ok" if "errors" not in r else r["errors"][0]["extensions"]["code"]
                    for r in (a, b)
                ]
            )
            assert outcomes == ["BAD_USER_INPUT", "ok"], (a, b)
            # put both back under Bo for the next round
            for who in ("peer@t.example", "lead@t.example"):
                await gql.ok(q, {"e": t.gid(who), "m": t.gid("boss@t.example")}, token=tok)


class TestExternalId:
    Q = """mutation($i: CreateEmployeeInput!) { createEmployee(input: $i) { employee { externalId } } }"""

    async def test_set_unique_and_private(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant()
        hr = t.token("hr@t.example")
        data = await gql.ok(
            self.Q,
            {"i": {"email": "new@t.example", "name": "New", "externalId": " HR-77 "}},
            token=hr,
        )
        assert data["createEmployee"]["employee"] == {"externalId": "HR-77"}
        body = await gql(
            self.Q,
            {"i": {"email": "other@t.example", "name": "Other", "externalId": "HR-77"}},
            token=hr,
        )
        assert only_error(body)["extensions"] == {"code": "CONFLICT", "field": "input.externalId"}
        q = "query($f: EmployeeFilter) { employees(filter: $f) { edges { node { email externalId } } } }"
        seen = await gql.ok(q, {"f": {"search": "new@"}}, token=t.token("dev@t.example"))
        assert seen["employees"]["edges"] == [
            {"node": {"email": "new@t.example", "externalId": None}}
        ]
        upd = await gql.ok(
            """mutation($id: ID!) { updateEmployee(id: $id, input: {externalId: "HR-78"}) {
                 employee { externalId } } }""",
            {"id": t.gid("dev@t.example")},
            token=hr,
        )
        assert upd["updateEmployee"]["employee"] == {"externalId": "HR-78"}
        me = await gql.ok("{ me { externalId } }", token=t.token("dev@t.example"))
        assert me["me"] == {"externalId": "HR-78"}
