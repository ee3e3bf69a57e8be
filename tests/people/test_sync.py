"""upsertEmployees through HTTP: create, update, idempotency, offboarding, managers, row errors,
dry runs, permissions and a 10,000-row batch."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, only_error

SYNC = """
mutation($input: [EmployeeSyncInput!]!, $dry: Boolean) {
  upsertEmployees(input: $input, dryRun: $dry) {
    dryRun written total
    totals { created updated unchanged offboarded reactivated errors reportsReassigned }
    rows { index externalId action employeeId changedFields errors { field message } }
  }
}
"""


@pytest.fixture
async def t(make_tenant: Any) -> TenantInfo:
    return await make_tenant()


async def run(
    gql: GQL, token: str, rows: list[dict[str, Any]], dry: bool = False
) -> dict[str, Any]:
    return (await gql.ok(SYNC, {"input": rows, "dry": dry}, token=token))["upsertEmployees"]


def actions(result: dict[str, Any]) -> list[str]:
    return [r["action"] for r in result["rows"]]


async def _scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(sa.text(sql), params)


async def _counts(engine: AsyncEngine, tenant_id: uuid.UUID) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "select (select count(*) from employees where tenant_id = :t), "
                    "(select count(*) from audit_events where tenant_id = :t), "
                    "(select coalesce(max(updated_at)::text, '') from employees "
                    "where tenant_id = :t)"
                ),
                {"t": tenant_id},
            )
        ).one()
    return tuple(row)  # type: ignore[return-value]


async def _emp(engine: AsyncEngine, tenant_id: uuid.UUID, ext: str) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.text(
                    "select e.*, m.external_id as manager_ext, m.email as manager_email, "
                    "d.name as department_name, l.name as location_name from employees e "
                    "left join employees m on m.id = e.manager_id "
                    "left join departments d on d.id = e.department_id "
                    "left join locations l on l.id = e.location_id "
                    "where e.tenant_id = :t and (e.external_id = :x or e.email = :x)"
                ),
                {"t": tenant_id, "x": ext},
            )
        ).one()


async def _audit_actions(engine: AsyncEngine, tenant_id: uuid.UUID) -> list[str]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.text(
                        "select action from audit_events where tenant_id = :t "
                        "order by occurred_at, id"
                    ),
                    {"t": tenant_id},
                )
            ).scalars()
        )


def person(ext: str, **kw: Any) -> dict[str, Any]:
    return {
        "externalId": ext,
        "email": f"{ext.lower()}@t.example",
        "name": f"Person {ext}",
        **kw,
    }


class TestCreateAndUpdate:
    async def test_creates_then_unchanged_on_rerun(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        tok = t.token("hr@t.example")
        rows = [
            person(
                "E3",
                title="Engineer",
                jobLevel="IC2",
                department="engineering",  # case-insensitive when unambiguous
                location="Berlin",
                managerExternalId="E2",  # a later row
                hireDate="2021-03-01",
                timezone="Europe/Berlin",
            ),
            person("E2", managerExternalId="E1"),
            person("E1", active=True),
        ]
        before_audit = len(await _audit_actions(owner_engine, t.id))
        first = await run(gql, tok, rows)
        assert actions(first) == ["CREATED"] * 3
        assert first["written"] is True and first["dryRun"] is False
        assert first["totals"] == {
            "created": 3,
            "updated": 0,
            "unchanged": 0,
            "offboarded": 0,
            "reactivated": 0,
            "errors": 0,
            "reportsReassigned": 0,
        }
        assert all(r["employeeId"] and r["errors"] == [] for r in first["rows"])
        e3 = await _emp(owner_engine, t.id, "E3")
        assert (e3.email, e3.name, e3.title, e3.job_level) == (
            "e3@t.example",
            "Person E3",
            "Engineer",
            "IC2",
        )
        assert (e3.department_name, e3.location_name, e3.manager_ext) == (
            "Engineering",
            "Berlin",
            "E2",
        )
        assert str(e3.hire_date) == "2021-03-01" and e3.timezone == "Europe/Berlin"
        assert (await _emp(owner_engine, t.id, "E2")).manager_ext == "E1"
        audit = (await _audit_actions(owner_engine, t.id))[before_audit:]
        assert sorted(audit) == ["employee.create"] * 3 + ["employee.sync"]
        # gql ids decode to the rows
        data = await gql.ok(
            "query($id: ID!) { employee(id: $id) { externalId manager { externalId } } }",
            {"id": first["rows"][0]["employeeId"]},
            token=tok,
        )
        assert data["employee"] == {"externalId": "E3", "manager": {"externalId": "E2"}}

        counts = await _counts(owner_engine, t.id)
        second = await run(gql, tok, rows)
        assert actions(second) == ["UNCHANGED"] * 3
        assert second["written"] is False
        assert [r["employeeId"] for r in second["rows"]] == [r["employeeId"] for r in first["rows"]]
        assert await _counts(owner_engine, t.id) == counts  # no rows, no audit, no updated_at

    async def test_updates_only_given_fields(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        tok = t.token("admin@t.example")
        await run(gql, tok, [person("U1", title="Old", jobLevel="IC1", location="Austin")])
        result = await run(gql, tok, [{"externalId": "U1", "title": "New", "location": None}])
        row = result["rows"][0]
        assert row["action"] == "UPDATED"
        assert sorted(row["changedFields"]) == ["location", "title"]
        u1 = await _emp(owner_engine, t.id, "U1")
        assert (u1.title, u1.job_level, u1.location_id, u1.email) == (
            "New",
            "IC1",
            None,
            "u1@t.example",
        )
        assert (await _audit_actions(owner_engine, t.id))[-2:] == [
            "employee.update",
            "employee.sync",
        ]

    async def test_adopts_an_employee_by_email(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        result = await run(
            gql,
            t.token("hr@t.example"),
            [{"externalId": "HR-DEV", "email": "DEV@t.example", "name": "Dee Dev"}],
        )
        assert result["rows"][0]["action"] == "UPDATED"
        assert result["rows"][0]["changedFields"] == ["externalId"]
        assert result["rows"][0]["employeeId"] == t.gid("dev@t.example")
        assert (await _emp(owner_engine, t.id, "dev@t.example")).external_id == "HR-DEV"


class TestOffboarding:
    async def test_offboard_moves_reports_and_reactivate(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        tok = t.token("hr@t.example")
        await run(
            gql,
            tok,
            [
                person("M1", managerExternalId=None),
                person("R1", managerExternalId="M1"),
                person("R2", managerExternalId="M1"),
            ],
        )
        # M1 reports to Bo (an employee the HRIS does not send)
        async with owner_engine.begin() as conn:
            await conn.execute(
                sa.text("update employees set manager_id = :b where external_id = 'M1'"),
                {"b": t.ids["boss@t.example"]},
            )
        result = await run(gql, tok, [{"externalId": "M1", "active": False}])
        assert actions(result) == ["OFFBOARDED"]
        assert result["rows"][0]["changedFields"] == ["active"]
        assert result["totals"]["reportsReassigned"] == 2
        m1 = await _emp(owner_engine, t.id, "M1")
        assert m1.status == "offboarded" and m1.offboarded_at is not None
        assert m1.manager_id == t.ids["boss@t.example"]  # a leaver keeps their manager
        for ext in ("R1", "R2"):
            assert (await _emp(owner_engine, t.id, ext)).manager_email == "boss@t.example"
        audit = await _audit_actions(owner_engine, t.id)
        assert sorted(audit[-4:]) == [
            "employee.change_manager",
            "employee.change_manager",
            "employee.offboard",
            "employee.sync",
        ]
        again = await run(gql, tok, [{"externalId": "M1", "active": False}])
        assert actions(again) == ["UNCHANGED"] and again["written"] is False

        back = await run(gql, tok, [{"externalId": "M1", "active": True}])
        assert actions(back) == ["REACTIVATED"]
        m1 = await _emp(owner_engine, t.id, "M1")
        assert m1.status == "active" and m1.offboarded_at is None
        assert m1.manager_id == t.ids["boss@t.example"]
        assert (await _audit_actions(owner_engine, t.id))[-2:] == [
            "employee.reactivate",
            "employee.sync",
        ]

    async def test_new_inactive_and_manager_ignored_for_leavers(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        tok = t.token("hr@t.example")
        result = await run(
            gql, tok, [person("GONE", active=False, managerExternalId="nobody-knows")]
        )
        assert actions(result) == ["CREATED"]
        gone = await _emp(owner_engine, t.id, "GONE")
        assert gone.status == "offboarded" and gone.manager_id is None

    async def test_the_last_tenant_admin_stays(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        tok = t.token("hr@t.example")
        await run(gql, tok, [{"externalId": "ADA", "email": "admin@t.example", "name": "Ada"}])
        result = await run(gql, tok, [{"externalId": "ADA", "active": False}])
        assert result["rows"][0]["errors"] == [
            {"field": "active", "message": "cannot offboard the last tenant admin"}
        ]
        mine = await run(
            gql,
            tok,
            [{"externalId": "ME", "email": "hr@t.example", "name": "Hana", "active": False}],
        )
        assert mine["rows"][0]["errors"][0]["message"] == "you cannot offboard yourself"
        assert (await _emp(owner_engine, t.id, "admin@t.example")).status == "active"


class TestManagers:
    async def test_long_chain_in_any_order(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        rows = [person(f"C{i}", managerExternalId=f"C{i - 1}" if i else None) for i in range(8)]
        result = await run(gql, t.token("hr@t.example"), list(reversed(rows)))
        assert actions(result) == ["CREATED"] * 8
        assert (await _emp(owner_engine, t.id, "C7")).manager_ext == "C6"
        # move the chain's head under an existing employee
        result = await run(
            gql,
            t.token("hr@t.example"),
            [{"externalId": "C0", "managerExternalId": "C7"}],
        )
        assert result["rows"][0]["errors"] == [
            {"field": "managerExternalId", "message": "this manager would create a reporting cycle"}
        ]

    async def test_cycles_in_batch_are_row_errors(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        result = await run(
            gql,
            t.token("hr@t.example"),
            [
                person("A", managerExternalId="B"),
                person("B", managerExternalId="A"),
                person("C", managerExternalId="A"),
                person("D", managerExternalId="D"),
                person("OK"),
            ],
        )
        assert actions(result) == ["ERROR", "ERROR", "ERROR", "ERROR", "CREATED"]
        assert result["rows"][0]["errors"][0]["message"] == (
            "this manager would create a reporting cycle"
        )
        assert result["rows"][2]["errors"][0]["message"] == "the manager's row (0) has errors"
        assert result["rows"][3]["errors"][0]["message"] == (
            "an employee cannot be their own manager"
        )
        assert result["rows"][0]["employeeId"] is None
        count = await _scalar(
            owner_engine,
            "select count(*) from employees where tenant_id = :t and external_id = any(:x)",
            t=t.id,
            x=["A", "B", "C", "D"],
        )
        assert count == 0

    async def test_cycle_through_existing_employees(self, gql: GQL, t: TenantInfo) -> None:
        tok = t.token("hr@t.example")
        await run(
            gql,
            tok,
            [
                {"externalId": "BOSS", "email": "boss@t.example", "name": "Bo Boss"},
                {"externalId": "DEV", "email": "dev@t.example", "name": "Dee Dev"},
            ],
        )
        result = await run(gql, tok, [{"externalId": "BOSS", "managerExternalId": "DEV"}])
        assert result["rows"][0]["action"] == "ERROR"
        assert "cycle" in result["rows"][0]["errors"][0]["message"]


class TestRowErrors:
    async def test_invalid_rows_are_reported_valid_rows_apply(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        tok = t.token("hr@t.example")
        await run(gql, tok, [{"externalId": "HR-DEV", "email": "dev@t.example", "name": "Dee"}])
        result = await run(
            gql,
            tok,
            [
                person("V1"),
                person("BAD1", email="not-an-email"),
                person("BAD2", department="Nope"),
                person("V1", name="again"),
                person("BAD3", email="dev@t.example"),
                {"externalId": "BAD4", "email": "bad4@t.example"},
                person("BAD5", timezone="Mars/Base", location="Moon"),
                person("BAD6", managerExternalId="ghost"),
                person("", name="no id"),
                person("BAD7", email="v1@t.example"),
                person("BAD8", name=None),
                person("V2", managerExternalId="V1"),
            ],
        )
        rows = result["rows"]
        assert actions(result) == ["CREATED"] + ["ERROR"] * 10 + ["CREATED"]
        errors = {r["externalId"]: r["errors"] for r in rows if r["errors"]}
        assert errors["BAD1"][0]["field"] == "email"
        assert errors["BAD2"] == [
            {"field": "department", "message": "no department named 'Nope' (create it first)"}
        ]
        assert errors["V1"] == [{"field": "externalId", "message": "the same externalId as row 0"}]
        assert errors["BAD3"] == [{"field": "email", "message": "another employee has this email"}]
        assert errors["BAD4"] == [{"field": "name", "message": "a new employee needs a name"}]
        assert {e["field"] for e in errors["BAD5"]} == {"timezone", "location"}
        assert errors["BAD6"][0]["message"] == "no employee with external id 'ghost'"
        assert errors[""][0]["field"] == "externalId"
        assert errors["BAD7"] == [{"field": "email", "message": "the same email as row 0"}]
        assert errors["BAD8"] == [{"field": "name", "message": "cannot be null"}]
        assert result["totals"]["errors"] == 10 and result["totals"]["created"] == 2
        assert (await _emp(owner_engine, t.id, "V2")).manager_ext == "V1"

    async def test_more_than_10000_rows(self, gql: GQL, t: TenantInfo) -> None:
        rows = [{"externalId": f"X{i}"} for i in range(10_001)]
        body = await gql(SYNC, {"input": rows}, token=t.token("hr@t.example"))
        err = only_error(body)
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input"}


class TestDryRun:
    async def test_dry_run_writes_nothing_and_reports_the_same(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        tok = t.token("hr@t.example")
        await run(gql, tok, [person("D1"), person("D2", managerExternalId="D1")])
        rows = [
            person("D1", title="Changed"),
            {"externalId": "D2", "active": False},
            person("D3", managerExternalId="D1"),
            person("D4", department="Nope"),
            {"externalId": "HR-LEAD", "email": "lead@t.example", "name": "Lee Lead"},
        ]
        counts = await _counts(owner_engine, t.id)
        dry = await run(gql, tok, rows, dry=True)
        assert dry["dryRun"] is True and dry["written"] is False
        assert actions(dry) == ["UPDATED", "OFFBOARDED", "CREATED", "ERROR", "UPDATED"]
        assert dry["rows"][2]["employeeId"] is None  # not created
        assert await _counts(owner_engine, t.id) == counts
        real = await run(gql, tok, rows)
        assert actions(real) == actions(dry)
        assert [r["changedFields"] for r in real["rows"]] == [
            r["changedFields"] for r in dry["rows"]
        ]
        assert real["totals"] == dry["totals"]


class TestPermissions:
    async def test_an_employee_is_forbidden(self, gql: GQL, t: TenantInfo) -> None:
        for dry in (False, True):
            body = await gql(
                SYNC, {"input": [person("Z1")], "dry": dry}, token=t.token("dev@t.example")
            )
            assert only_error(body)["extensions"]["code"] == "FORBIDDEN"

    async def test_an_api_key_syncs_and_is_the_actor(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        key = await t.api_key(["people:write"])
        result = await run(gql, key, [person("K1")])
        assert actions(result) == ["CREATED"]
        actor = await _scalar(
            owner_engine,
            "select actor_type from audit_events where tenant_id = :t and action = 'employee.sync'",
            t=t.id,
        )
        assert actor == "api_key"


class TestTenThousand:
    async def test_10000_rows(
        self, gql: GQL, make_tenant: Any, owner_engine: AsyncEngine, capsys: Any
    ) -> None:
        t = await make_tenant()
        tok = t.token("hr@t.example")
        deps = ["Engineering", "People"]
        rows = [
            {
                "externalId": f"EMP{i:05d}",
                "email": f"emp{i:05d}@bulk.example",
                "name": f"Employee {i}",
                "title": "Engineer",
                "jobLevel": f"IC{i % 4}",
                "department": deps[i % 2],
                "location": "Berlin",
                "managerExternalId": f"EMP{(i - 1) // 10:05d}" if i else None,
                "hireDate": "2020-01-15",
                "timezone": "Europe/Berlin",
                "active": True,
            }
            for i in range(10_000)
        ]
        started = time.perf_counter()
        first = await run(gql, tok, rows)
        created = time.perf_counter() - started
        assert first["totals"]["created"] == 10_000, first["totals"]
        started = time.perf_counter()
        second = await run(gql, tok, rows)
        unchanged = time.perf_counter() - started
        assert second["totals"]["unchanged"] == 10_000 and second["written"] is False
        for row in rows[::2]:
            row["title"] = "Senior Engineer"
        started = time.perf_counter()
        third = await run(gql, tok, rows)
        updated = time.perf_counter() - started
        assert third["totals"]["updated"] == 5_000
        with capsys.disabled():
            print(
                f"\nupsertEmployees 10,000 rows: create {created:.2f}s, "
                f"unchanged {unchanged:.2f}s, 5,000 updated {updated:.2f}s"
            )
        assert created < 30 and unchanged < 30 and updated < 30
        count = await _scalar(
            owner_engine,
            "select count(*) from audit_events where tenant_id = :t and action = 'employee.create'",
            t=t.id,
        )
        assert count == 10_000


class TestStatements:
    async def test_statements_do_not_grow_with_rows(
        self, gql: GQL, make_tenant: Any, count_statements: Any
    ) -> None:
        async def statements(n: int) -> int:
            t = await make_tenant()
            rows = [
                person(f"S{i}", managerExternalId=f"S{i - 1}" if i else None, location="Berlin")
                for i in range(n)
            ]
            count_statements.statements.clear()
            await run(gql, t.token("hr@t.example"), rows)
            return count_statements.count

        assert await statements(3) == await statements(60)
