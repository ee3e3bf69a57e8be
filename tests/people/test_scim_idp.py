"""The request sequences Okta and Microsoft Entra ID (Azure AD) send, as they send them.

Okta: look up by `userName eq`, POST, GET, PUT for profile changes, PATCH `{"active": false}`
without a path to deactivate, group push (POST, PATCH members add/remove, PATCH rename with
the id in the value, DELETE). Entra: POST with the enterprise extension, PATCH with capitalized
ops (`Replace`, `Add`, `Remove`), dotted and filtered paths, string booleans (`"False"`), the
manager as a bare id, group membership checks by filter and members added/removed by value.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TenantInfo
from tests.people.test_scim import CORE, ENT, GROUP, Scim

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@pytest.fixture
async def t(make_tenant: Any) -> TenantInfo:
    return await make_tenant()


@pytest.fixture
async def scim(client: httpx.AsyncClient, t: TenantInfo) -> Scim:
    return Scim(client, await t.api_key(["scim"]))


async def _employee(engine: AsyncEngine, tenant_id: uuid.UUID, employee_id: str) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.text(
                    "select e.*, d.name as department_name from employees e "
                    "left join departments d on d.id = e.department_id "
                    "where e.tenant_id = :t and e.id = :i"
                ),
                {"t": tenant_id, "i": uuid.UUID(employee_id)},
            )
        ).one()


async def _actions(engine: AsyncEngine, tenant_id: uuid.UUID, target: str) -> list[str]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.text(
                        "select action from audit_events where tenant_id = :t and target_id = :i "
                        "order by occurred_at, id"
                    ),
                    {"t": tenant_id, "i": uuid.UUID(target)},
                )
            ).scalars()
        )


class TestOkta:
    async def test_user_lifecycle(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        # 1. does the user exist?
        r = await scim.get(
            "/Users", filter='userName eq "jane.doe@t.example"', startIndex="1", count="100"
        )
        assert r.status_code == 200
        assert r.json() == {
            "schemas": [LIST],
            "totalResults": 0,
            "startIndex": 1,
            "itemsPerPage": 0,
            "Resources": [],
        }
        # 2. create
        create = {
            "schemas": [CORE],
            "userName": "jane.doe@t.example",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "emails": [{"primary": True, "value": "jane.doe@t.example", "type": "work"}],
            "displayName": "Jane Doe",
            "locale": "en-US",
            "externalId": "00u1okta",
            "groups": [],
            "password": "ignored-1!",
            "active": True,
        }
        r = await scim.post("/Users", create)
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        # a retry of the same create (Okta times out and tries again): 409, still one user
        r = await scim.post("/Users", create)
        assert r.status_code == 409 and r.json()["scimType"] == "uniqueness"
        found = (await scim.get("/Users", filter='userName eq "jane.doe@t.example"')).json()
        assert found["totalResults"] == 1 and found["Resources"][0]["id"] == uid
        # 3. read back
        u = (await scim.get(f"/Users/{uid}")).json()
        assert u["name"]["givenName"] == "Jane" and u["name"]["familyName"] == "Doe"
        # 4. profile push: PUT of the whole user
        u.update(
            {
                "name": {"givenName": "Jane", "familyName": "Roe"},
                "displayName": "Jane Roe",
                "title": "Designer",
            }
        )
        r = await scim.put(f"/Users/{uid}", u)
        assert r.status_code == 200, r.text
        assert (r.json()["displayName"], r.json()["title"]) == ("Jane Roe", "Designer")
        # 5. deactivate
        r = await scim.patch(f"/Users/{uid}", {"op": "replace", "value": {"active": False}})
        assert r.status_code == 200 and r.json()["active"] is False
        assert (await _employee(owner_engine, t.id, uid)).status == "offboarded"
        # 6. reactivate
        r = await scim.patch(f"/Users/{uid}", {"op": "replace", "value": {"active": True}})
        assert r.status_code == 200 and r.json()["active"] is True
        assert (await _employee(owner_engine, t.id, uid)).status == "active"
        assert await _actions(owner_engine, t.id, uid) == [
            "employee.create",
            "employee.update",
            "employee.offboard",
            "employee.reactivate",
        ]

    async def test_group_push(self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine) -> None:
        dev, lead = str(t.ids["dev@t.example"]), str(t.ids["lead@t.example"])
        r = await scim.get("/Groups", filter='displayName eq "Okta Pushed"')
        assert r.json()["totalResults"] == 0
        r = await scim.post(
            "/Groups", {"schemas": [GROUP], "displayName": "Okta Pushed", "members": []}
        )
        assert r.status_code == 201, r.text
        gid = r.json()["id"]
        r = await scim.patch(
            f"/Groups/{gid}",
            {
                "op": "add",
                "path": "members",
                "value": [{"value": dev, "display": "dev@t.example"}, {"value": lead}],
            },
        )
        assert {m["value"] for m in r.json()["members"]} == {dev, lead}
        r = await scim.patch(
            f"/Groups/{gid}", {"op": "replace", "value": {"id": gid, "displayName": "Okta Team"}}
        )
        assert r.status_code == 200 and r.json()["displayName"] == "Okta Team"
        r = await scim.patch(
            f"/Groups/{gid}", {"op": "remove", "path": f'members[value eq "{lead}"]'}
        )
        assert [m["value"] for m in r.json()["members"]] == [dev]
        assert (await _employee(owner_engine, t.id, lead)).department_id is None
        assert (await _employee(owner_engine, t.id, dev)).department_name == "Okta Team"
        assert (await scim.delete(f"/Groups/{gid}")).status_code == 204
        assert (await _employee(owner_engine, t.id, dev)).department_id is None


class TestEntra:
    async def test_user_lifecycle(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        # Entra probes with a random userName first
        probe = await scim.get("/Users", filter=f'userName eq "{uuid.uuid4()}"')
        assert probe.status_code == 200 and probe.json()["totalResults"] == 0
        r = await scim.get("/Users", filter='userName eq "alex.w@t.example"')
        assert r.json()["totalResults"] == 0
        create = {
            "schemas": [CORE, ENT],
            "externalId": "alexw",
            "userName": "alex.w@t.example",
            "active": True,
            "displayName": "Alex Wilber",
            "emails": [{"primary": True, "type": "work", "value": "alex.w@t.example"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "Alex Wilber", "familyName": "Wilber", "givenName": "Alex"},
            "roles": [],
            "title": "Analyst",
            ENT: {"employeeNumber": "701", "department": "Finance"},
        }
        r = await scim.post("/Users", create)
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        assert r.json()[ENT]["department"] == "Finance"  # created on first use
        boss = str(t.ids["boss@t.example"])
        r = await scim.patch(
            f"/Users/{uid}",
            {"op": "Replace", "path": "displayName", "value": "Alex W. Wilber"},
            {"op": "Replace", "path": "name.givenName", "value": "Alexander"},
            {"op": "Replace", "path": "name.familyName", "value": "Wilber"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "aw@t.example"},
            {"op": "Add", "path": "title", "value": "Senior Analyst"},
            {"op": "Add", "path": f"{ENT}:department", "value": "Engineering"},
            {"op": "Add", "path": f"{ENT}:manager", "value": boss},
            {"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
            {"op": "Replace", "path": "preferredLanguage", "value": "en-US"},
        )
        assert r.status_code == 200, r.text
        u = r.json()
        assert u["displayName"] == "Alex W. Wilber"  # displayName wins over the name parts
        assert u["userName"] == "alex.w@t.example"  # emails mirror userName
        assert u["title"] == "Senior Analyst"
        assert u[ENT]["department"] == "Engineering"
        assert u[ENT]["manager"]["value"] == boss
        # attributes without a path, as Entra sends some updates
        r = await scim.patch(
            f"/Users/{uid}",
            {"op": "Replace", "value": {"name.familyName": "Wilberforce", "externalId": "alexw2"}},
        )
        assert (r.json()["displayName"], r.json()["externalId"]) == (
            "Alex W. Wilberforce",
            "alexw2",
        )
        # deactivate with a string boolean
        r = await scim.patch(f"/Users/{uid}", {"op": "Replace", "path": "active", "value": "False"})
        assert r.status_code == 200 and r.json()["active"] is False
        row = await _employee(owner_engine, t.id, uid)
        assert row.status == "offboarded" and row.manager_id == t.ids["boss@t.example"]
        # while disabled Entra may still push attributes; they apply
        r = await scim.patch(f"/Users/{uid}", {"op": "Replace", "path": "title", "value": "Gone"})
        assert r.status_code == 200 and r.json()["title"] == "Gone"
        # reactivate
        r = await scim.patch(f"/Users/{uid}", {"op": "Replace", "path": "active", "value": "True"})
        assert r.json()["active"] is True
        # manager removed
        r = await scim.patch(f"/Users/{uid}", {"op": "Remove", "path": f"{ENT}:manager"})
        assert "manager" not in r.json()[ENT]
        # hard delete after the soft-delete period: offboarded, history kept
        assert (await scim.delete(f"/Users/{uid}")).status_code == 204
        assert (await scim.get(f"/Users/{uid}")).json()["active"] is False
        assert await _actions(owner_engine, t.id, uid) == [
            "employee.create",
            "employee.update",
            "employee.change_manager",
            "employee.update",
            "employee.offboard",
            "employee.update",
            "employee.reactivate",
            "employee.change_manager",
            "employee.offboard",
        ]

    async def test_group_push(self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine) -> None:
        dev, peer = str(t.ids["dev@t.example"]), str(t.ids["peer@t.example"])
        r = await scim.get(
            "/Groups", excludedAttributes="members", filter='displayName eq "Entra Group"'
        )
        assert r.json()["totalResults"] == 0
        r = await scim.post(
            "/Groups",
            {
                "schemas": [GROUP],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "Entra Group",
                "members": [],
            },
        )
        assert r.status_code == 201, r.text
        gid = r.json()["id"]
        r = await scim.patch(
            f"/Groups/{gid}",
            {"op": "Add", "path": "members", "value": [{"value": dev}, {"value": peer}]},
        )
        assert r.status_code == 200, r.text
        check = await scim.get(
            "/Groups",
            excludedAttributes="members",
            filter=f'id eq "{gid}" and members eq "{dev}"',
        )
        assert check.json()["totalResults"] == 1
        assert "members" not in check.json()["Resources"][0]
        r = await scim.patch(
            f"/Groups/{gid}", {"op": "Remove", "path": "members", "value": [{"value": dev}]}
        )
        assert [m["value"] for m in r.json()["members"]] == [peer]
        check = await scim.get("/Groups", filter=f'id eq "{gid}" and members eq "{dev}"')
        assert check.json()["totalResults"] == 0
        r = await scim.patch(
            f"/Groups/{gid}", {"op": "Replace", "path": "displayName", "value": "Entra Renamed"}
        )
        assert r.json()["displayName"] == "Entra Renamed"
        assert (await _employee(owner_engine, t.id, peer)).department_name == "Entra Renamed"
        assert (await scim.delete(f"/Groups/{gid}")).status_code == 204
        assert (await _employee(owner_engine, t.id, peer)).department_id is None
        # the department stays, unlinked, and Entra finds it again by name when re-added
        again = (await scim.get("/Groups", filter='displayName eq "Entra Renamed"')).json()
        assert again["totalResults"] == 1 and "externalId" not in again["Resources"][0]
