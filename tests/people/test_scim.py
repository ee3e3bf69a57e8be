"""SCIM 2.0 through HTTP: auth, discovery, Users and Groups, errors, atomicity, isolation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TenantInfo

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Scim:
    """A SCIM client of one key, as an IdP would call us."""

    client: httpx.AsyncClient
    token: str | None

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Content-Type": "application/scim+json", "Accept": "application/scim+json"}
        if self.token is not None:
            h["Authorization"] = f"Bearer {self.token}"
        return {**h, **(extra or {})}

    async def get(self, path: str, headers: dict[str, str] | None = None, **params: Any):
        return await self.client.get(
            f"/scim/v2{path}", params=params or None, headers=self._headers(headers)
        )

    async def send(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        import orjson

        content = orjson.dumps(body) if body is not None else None
        return await self.client.request(
            method, f"/scim/v2{path}", content=content, headers=self._headers(headers)
        )

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.send("POST", path, body)

    async def put(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.send("PUT", path, body, **kw)

    async def patch(self, path: str, *ops: dict[str, Any], **kw: Any) -> httpx.Response:
        return await self.send("PATCH", path, {"schemas": [PATCH], "Operations": list(ops)}, **kw)

    async def delete(self, path: str) -> httpx.Response:
        return await self.send("DELETE", path)


def scim_error(r: httpx.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    assert body.get("scimType") == scim_type, body
    return body


def user_body(email: str, ext: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [CORE, ENT],
        "userName": email,
        "name": {"givenName": "Sam", "familyName": "Smith"},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": True,
    }
    if ext is not None:
        body["externalId"] = ext
    body.update(extra)
    return body


@pytest.fixture
async def t(make_tenant: Any) -> TenantInfo:
    return await make_tenant()


@pytest.fixture
async def scim(client: httpx.AsyncClient, t: TenantInfo) -> Scim:
    return Scim(client, await t.api_key(["scim"]))


async def _count(engine: AsyncEngine, table: str, tenant_id: uuid.UUID, where: str = "") -> int:
    async with engine.connect() as conn:
        sql = f"select count(*) from {table} where tenant_id = :t {where}"
        return int(await conn.scalar(sa.text(sql), {"t": tenant_id}))


async def _row(engine: AsyncEngine, tenant_id: uuid.UUID, employee_id: str) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.text("select * from employees where tenant_id = :t and id = :i"),
                {"t": tenant_id, "i": uuid.UUID(employee_id)},
            )
        ).one()


async def _audit(engine: AsyncEngine, tenant_id: uuid.UUID, target: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.text(
                        "select action, actor_type, actor_id, changes from audit_events "
                        "where tenant_id = :t and target_id = :i order by occurred_at, id"
                    ),
                    {"t": tenant_id, "i": uuid.UUID(target)},
                )
            ).all()
        )


# --- auth ------------------------------------------------------------------------------------


class TestAuth:
    async def test_no_token_is_401(self, client: httpx.AsyncClient) -> None:
        r = await Scim(client, None).get("/Users")
        scim_error(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")

    async def test_garbage_and_malformed_keys_are_401(self, client: httpx.AsyncClient) -> None:
        scim_error(await Scim(client, "nonsense").get("/Users"), 401)
        scim_error(await Scim(client, "upw_" + "0" * 83).get("/Users"), 401)

    async def test_a_user_token_is_refused(self, client: httpx.AsyncClient, t: TenantInfo) -> None:
        r = await Scim(client, t.token("admin@t.example")).get("/Users")
        assert "API key" in scim_error(r, 403)["detail"]

    async def test_a_key_without_the_scim_scope_is_refused(
        self, client: httpx.AsyncClient, t: TenantInfo
    ) -> None:
        key = await t.api_key(["people:write"])
        r = await Scim(client, key).get("/Users")
        assert "scim" in scim_error(r, 403)["detail"]
        r = await Scim(client, key).post("/Users", user_body("x@t.example"))
        scim_error(r, 403)

    async def test_a_revoked_key_is_refused(
        self, client: httpx.AsyncClient, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        key = await t.api_key(["scim"])
        scim = Scim(client, key)
        assert (await scim.get("/Users")).status_code == 200
        async with owner_engine.begin() as conn:
            await conn.execute(
                sa.text("update api_keys set revoked_at = now() where tenant_id = :t"),
                {"t": t.id},
            )
        assert "revoked" in scim_error(await scim.get("/Users"), 401)["detail"]

    async def test_audit_names_the_key(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        r = await scim.post("/Users", user_body("aud@t.example", "A-1"))
        assert r.status_code == 201, r.text
        events = await _audit(owner_engine, t.id, r.json()["id"])
        assert [e.action for e in events] == ["employee.create"]
        assert events[0].actor_type == "api_key"
        async with owner_engine.connect() as conn:
            key_ids = set(
                (
                    await conn.execute(
                        sa.text("select id from api_keys where tenant_id = :t"), {"t": t.id}
                    )
                ).scalars()
            )
        assert events[0].actor_id in key_ids


# --- discovery -------------------------------------------------------------------------------


class TestDiscovery:
    async def test_service_provider_config(self, scim: Scim) -> None:
        r = await scim.get("/ServiceProviderConfig")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/scim+json")
        body = r.json()
        assert body["patch"] == {"supported": True}
        assert body["bulk"]["supported"] is False
        assert body["filter"] == {"supported": True, "maxResults": 100}
        assert body["changePassword"] == {"supported": False}
        assert body["sort"] == {"supported": False}
        assert body["etag"] == {"supported": True}
        assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"

    async def test_resource_types_and_schemas(self, scim: Scim) -> None:
        types = (await scim.get("/ResourceTypes")).json()
        assert types["totalResults"] == 2
        assert {r["endpoint"] for r in types["Resources"]} == {"/Users", "/Groups"}
        user = (await scim.get("/ResourceTypes/User")).json()
        assert user["schemaExtensions"] == [{"schema": ENT, "required": False}]
        schemas = (await scim.get("/Schemas")).json()
        assert {s["id"] for s in schemas["Resources"]} == {CORE, ENT, GROUP}
        one = (await scim.get(f"/Schemas/{CORE}")).json()
        assert "userName" in {a["name"] for a in one["attributes"]}
        scim_error(await scim.get("/Schemas/urn:nope"), 404)

    async def test_unknown_endpoints_and_bulk(self, scim: Scim) -> None:
        scim_error(await scim.get("/Nope"), 404)
        scim_error(await scim.post("/Bulk", {}), 501)
        scim_error(await scim.send("DELETE", "/Users"), 405)


# --- users -----------------------------------------------------------------------------------


class TestListUsers:
    async def test_lists_everyone_with_paging(self, scim: Scim, t: TenantInfo) -> None:
        body = (await scim.get("/Users")).json()
        assert body["totalResults"] == len(t.ids) == 6
        assert body["startIndex"] == 1
        assert len(body["Resources"]) == 6
        page = (await scim.get("/Users", startIndex=2, count=2)).json()
        assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (6, 2, 2)
        assert [u["id"] for u in page["Resources"]] == [u["id"] for u in body["Resources"][1:3]]
        none = (await scim.get("/Users", count=0)).json()
        assert none["totalResults"] == 6 and none["Resources"] == []
        capped = (await scim.get("/Users", count=100000)).json()
        assert capped["itemsPerPage"] == 6
        scim_error(await scim.get("/Users", count="x"), 400, "invalidValue")

    async def test_filters(self, scim: Scim, t: TenantInfo) -> None:
        async def ids(flt: str) -> list[str]:
            r = await scim.get("/Users", filter=flt)
            assert r.status_code == 200, r.text
            return sorted(u["userName"] for u in r.json()["Resources"])

        assert await ids('userName eq "DEV@t.example"') == ["dev@t.example"]
        assert await ids('USERNAME Eq "dev@t.example"') == ["dev@t.example"]
        assert await ids(f'{CORE}:userName eq "dev@t.example"') == ["dev@t.example"]
        assert await ids('emails.value eq "lead@t.example"') == ["lead@t.example"]
        assert await ids('emails[type eq "work" and value eq "lead@t.example"]') == [
            "lead@t.example"
        ]
        assert await ids('userName sw "b" or userName sw "p"') == [
            "boss@t.example",
            "peer@t.example",
        ]
        assert len(await ids("active eq true")) == 6
        assert await ids("active eq false") == []
        assert await ids('externalId eq "nobody"') == []
        assert await ids(f'{ENT}:department eq "people"') == ["hr@t.example"]
        assert len(await ids('not (userName sw "h")')) == 5
        await scim.post("/Users", user_body("ext@t.example", "E-77"))
        assert await ids('externalId eq "E-77"') == ["ext@t.example"]
        assert await ids('externalId eq "e-77"') == []  # caseExact

    async def test_meta_and_enterprise_filters_and_projection(
        self, scim: Scim, t: TenantInfo
    ) -> None:
        r = await scim.get("/Users", filter='meta.lastModified gt "2000-01-01T00:00:00Z"')
        assert r.json()["totalResults"] == 6
        r = await scim.get("/Users", filter='meta.created lt "2000-01-01T00:00:00Z"')
        assert r.json()["totalResults"] == 0
        scim_error(await scim.get("/Users", filter='meta.created gt "soon"'), 400, "invalidFilter")
        lead = t.ids["lead@t.example"]
        r = await scim.get("/Users", filter=f'{ENT}:manager.value eq "{lead}"')
        assert [u["userName"] for u in r.json()["Resources"]] == ["dev@t.example"]
        r = await scim.get(
            f"/Users/{t.ids['dev@t.example']}", attributes=f"userName,{ENT}:department"
        )
        assert r.json()[ENT] == {"department": "Engineering"} and "title" not in r.json()

    @pytest.mark.parametrize(
        "flt",
        ["userName eq", 'userName xx "a"', '(userName eq "a"', 'userName eq "a" and', "   ", "x"],
    )
    async def test_invalid_filters(self, scim: Scim, flt: str) -> None:
        scim_error(await scim.get("/Users", filter=flt), 400, "invalidFilter")

    async def test_unsupported_attribute_is_invalid_filter(self, scim: Scim) -> None:
        body = scim_error(await scim.get("/Users", filter='nickName eq "x"'), 400, "invalidFilter")
        assert "nickname" in body["detail"]

    async def test_attributes_projection(self, scim: Scim) -> None:
        body = (
            await scim.get("/Users", attributes="userName", filter='userName eq "dev@t.example"')
        ).json()
        assert set(body["Resources"][0]) == {"schemas", "id", "userName"}
        body = (await scim.get("/Users", excludedAttributes="meta,emails")).json()
        assert "meta" not in body["Resources"][0] and "userName" in body["Resources"][0]


class TestCreateUser:
    async def test_creates_with_mapping(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        body = user_body(
            "New.Person@T.example",
            "okta-1",
            displayName="Nia New",
            title="Engineer",
            timezone="Europe/Berlin",
            **{ENT: {"department": "Design", "manager": {"value": str(t.ids["lead@t.example"])}}},
        )
        r = await scim.post("/Users", body)
        assert r.status_code == 201, r.text
        u = r.json()
        assert r.headers["location"] == u["meta"]["location"]
        assert r.headers["etag"] == u["meta"]["version"]
        assert u["meta"]["location"].endswith(f"/scim/v2/Users/{u['id']}")
        assert u["meta"]["resourceType"] == "User"
        assert u["userName"] == "new.person@t.example"
        assert u["externalId"] == "okta-1"
        assert u["displayName"] == "Nia New"
        assert u["name"] == {"formatted": "Nia New", "givenName": "Nia", "familyName": "New"}
        assert u["emails"] == [{"value": "new.person@t.example", "type": "work", "primary": True}]
        assert u["active"] is True
        assert u["title"] == "Engineer"
        assert u["timezone"] == "Europe/Berlin"
        assert u[ENT]["department"] == "Design"
        assert u[ENT]["manager"]["value"] == str(t.ids["lead@t.example"])
        assert u[ENT]["manager"]["displayName"] == "Lee Lead"
        row = await _row(owner_engine, t.id, u["id"])
        assert (row.email, row.name, row.external_id) == (
            "new.person@t.example",
            "Nia New",
            "okta-1",
        )
        assert (await scim.get(f"/Users/{u['id']}")).json() == u

    async def test_name_from_given_and_family(self, scim: Scim) -> None:
        r = await scim.post("/Users", user_body("gf@t.example"))
        assert r.json()["displayName"] == "Sam Smith"

    async def test_re_posting_is_409_and_changes_nothing(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        body = user_body("idem@t.example", "ext-idem", **{ENT: {"department": "Brand New"}})
        assert (await scim.post("/Users", body)).status_code == 201
        before = (
            await _count(owner_engine, "employees", t.id),
            await _count(owner_engine, "audit_events", t.id),
            await _count(owner_engine, "departments", t.id),
        )
        scim_error(await scim.post("/Users", body), 409, "uniqueness")
        other = {**body, "userName": "other@t.example"}  # same externalId
        assert (
            "external id"
            in scim_error(await scim.post("/Users", other), 409, "uniqueness")["detail"]
        )
        taken = user_body("dev@t.example", "ext-fresh", **{ENT: {"department": "Never"}})
        assert (
            "userName" in scim_error(await scim.post("/Users", taken), 409, "uniqueness")["detail"]
        )
        after = (
            await _count(owner_engine, "employees", t.id),
            await _count(owner_engine, "audit_events", t.id),
            await _count(owner_engine, "departments", t.id),
        )
        assert after == before  # the department "Never" was rolled back with the request

    async def test_invalid_values(self, scim: Scim) -> None:
        scim_error(await scim.post("/Users", user_body("not-an-email")), 400, "invalidValue")
        scim_error(await scim.post("/Users", {"schemas": [CORE]}), 400, "invalidValue")
        bad_tz = user_body("tz@t.example", timezone="Mars/Olympus")
        assert (
            "timezone"
            in scim_error(await scim.post("/Users", bad_tz), 400, "invalidValue")["detail"]
        )
        bad_mgr = user_body("m@t.example", **{ENT: {"manager": {"value": str(uuid.uuid4())}}})
        assert (
            "manager"
            in scim_error(await scim.post("/Users", bad_mgr), 400, "invalidValue")["detail"]
        )
        nul = user_body("nul@t.example", title="a\x00b")
        scim_error(await scim.post("/Users", nul), 400, "invalidValue")

    async def test_invalid_json(self, scim: Scim) -> None:
        r = await scim.client.post("/scim/v2/Users", content=b"{nope", headers=scim._headers())
        scim_error(r, 400, "invalidSyntax")
        scim_error(await scim.post("/Users", [1, 2]), 400, "invalidSyntax")

    async def test_create_inactive(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        r = await scim.post("/Users", user_body("gone@t.example", active="False"))
        assert r.status_code == 201 and r.json()["active"] is False
        assert (await _row(owner_engine, t.id, r.json()["id"])).status == "offboarded"


class TestGetUser:
    async def test_not_found(self, scim: Scim) -> None:
        scim_error(await scim.get(f"/Users/{uuid.uuid4()}"), 404)
        scim_error(await scim.get("/Users/not-a-uuid"), 404)

    async def test_etag(self, scim: Scim, t: TenantInfo) -> None:
        uid = t.ids["dev@t.example"]
        r = await scim.get(f"/Users/{uid}")
        etag = r.headers["etag"]
        assert etag.startswith('W/"')
        r2 = await scim.get(f"/Users/{uid}", headers={"If-None-Match": etag})
        assert r2.status_code == 304
        await scim.patch(f"/Users/{uid}", {"op": "replace", "path": "title", "value": "New"})
        r3 = await scim.get(f"/Users/{uid}", headers={"If-None-Match": etag})
        assert r3.status_code == 200 and r3.headers["etag"] != etag
        stale = await scim.patch(
            f"/Users/{uid}",
            {"op": "replace", "path": "title", "value": "Other"},
            headers={"If-Match": etag},
        )
        scim_error(stale, 412)
        ok = await scim.patch(
            f"/Users/{uid}",
            {"op": "replace", "path": "title", "value": "Other"},
            headers={"If-Match": r3.headers["etag"]},
        )
        assert ok.status_code == 200 and ok.json()["title"] == "Other"


class TestReplaceUser:
    async def test_put_replaces_given_and_keeps_the_rest(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        uid = str(t.ids["dev@t.example"])
        current = (await scim.get(f"/Users/{uid}")).json()
        body = {
            **current,
            "userName": "dee@t.example",
            "displayName": "Dee Developer",
            "title": "Senior",
            "externalId": "okta-dee",
            "id": "ignored",
            "meta": {"resourceType": "ignored"},
        }
        body.pop(ENT)  # not asserted: department and manager stay
        r = await scim.put(f"/Users/{uid}", body)
        assert r.status_code == 200, r.text
        u = r.json()
        assert u["id"] == uid
        assert (u["userName"], u["displayName"], u["title"], u["externalId"]) == (
            "dee@t.example",
            "Dee Developer",
            "Senior",
            "okta-dee",
        )
        assert u[ENT]["department"] == "Engineering"
        assert u[ENT]["manager"]["value"] == str(t.ids["lead@t.example"])
        cleared = await scim.put(f"/Users/{uid}", {**body, "title": None})
        assert "title" not in cleared.json()
        actions = [e.action for e in await _audit(owner_engine, t.id, uid)]
        assert actions == ["employee.update", "employee.update"]

    async def test_put_needs_user_name_and_an_existing_user(
        self, scim: Scim, t: TenantInfo
    ) -> None:
        uid = t.ids["dev@t.example"]
        scim_error(await scim.put(f"/Users/{uid}", {"displayName": "x"}), 400, "invalidValue")
        scim_error(await scim.put(f"/Users/{uuid.uuid4()}", user_body("z@t.example")), 404)
        taken = await scim.put(f"/Users/{uid}", user_body("lead@t.example"))
        scim_error(taken, 409, "uniqueness")


class TestPatchUser:
    async def test_active_false_offboards_and_true_reactivates(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        lead = str(t.ids["lead@t.example"])
        r = await scim.patch(f"/Users/{lead}", {"op": "replace", "value": {"active": False}})
        assert r.status_code == 200, r.text
        assert r.json()["active"] is False
        row = await _row(owner_engine, t.id, lead)
        assert row.status == "offboarded" and row.offboarded_at is not None
        # the offboarding rules ran: Dee now reports to Lee's manager
        dev = await _row(owner_engine, t.id, str(t.ids["dev@t.example"]))
        assert dev.manager_id == t.ids["boss@t.example"]
        # idempotent
        again = await scim.patch(
            f"/Users/{lead}", {"op": "replace", "path": "active", "value": False}
        )
        assert again.status_code == 200
        r = await scim.patch(f"/Users/{lead}", {"op": "replace", "path": "active", "value": True})
        assert r.json()["active"] is True
        row = await _row(owner_engine, t.id, lead)
        assert row.status == "active" and row.offboarded_at is None
        assert row.manager_id == t.ids["boss@t.example"]  # kept: still active
        actions = [e.action for e in await _audit(owner_engine, t.id, lead)]
        assert actions == ["employee.offboard", "employee.reactivate"]

    async def test_add_replace_remove_with_and_without_path(
        self, scim: Scim, t: TenantInfo
    ) -> None:
        uid = t.ids["peer@t.example"]
        r = await scim.patch(
            f"/Users/{uid}",
            {"op": "add", "path": "title", "value": "Staff"},
            {"op": "replace", "value": {"displayName": "Pat P", "externalId": "x-1"}},
            {"op": "replace", "path": "name.familyName", "value": "Ignored-Displayname-Wins"},
            {"op": "add", "path": f"{ENT}:department", "value": "People"},
            {
                "op": "replace",
                "path": f"{ENT}:manager",
                "value": {"value": str(t.ids["hr@t.example"])},
            },
            {"op": "add", "path": "phoneNumbers", "value": [{"value": "123", "type": "work"}]},
        )
        assert r.status_code == 200, r.text
        u = r.json()
        assert (u["title"], u["displayName"], u["externalId"]) == ("Staff", "Pat P", "x-1")
        assert u[ENT]["department"] == "People"
        assert u[ENT]["manager"]["value"] == str(t.ids["hr@t.example"])
        r = await scim.patch(
            f"/Users/{uid}",
            {"op": "remove", "path": "title"},
            {"op": "remove", "path": "externalId"},
            {"op": "remove", "path": f"{ENT}:manager"},
            {"op": "remove", "path": f"{ENT}:department"},
        )
        u = r.json()
        assert "title" not in u and "externalId" not in u
        assert u[ENT] == {}
        r = await scim.patch(
            f"/Users/{uid}", {"op": "replace", "path": "name.givenName", "value": "Patricia"}
        )
        assert r.json()["displayName"] == "Patricia P"

    async def test_patch_errors(self, scim: Scim, t: TenantInfo) -> None:
        uid = t.ids["peer@t.example"]
        scim_error(await scim.patch(f"/Users/{uid}", {"op": "remove"}), 400, "noTarget")
        scim_error(
            await scim.patch(
                f"/Users/{uid}", {"op": "replace", "path": "emails[type eq", "value": 1}
            ),
            400,
            "invalidPath",
        )
        scim_error(
            await scim.patch(f"/Users/{uid}", {"op": "replace", "path": "id", "value": "x"}),
            400,
            "mutability",
        )
        scim_error(
            await scim.patch(f"/Users/{uid}", {"op": "move", "path": "title"}), 400, "invalidSyntax"
        )
        scim_error(
            await scim.send("PATCH", f"/Users/{uid}", {"schemas": [PATCH]}), 400, "invalidSyntax"
        )
        scim_error(
            await scim.patch(
                f"/Users/{uid}", {"op": "replace", "path": "active", "value": "maybe"}
            ),
            400,
            "invalidValue",
        )
        # a cycle: Bo cannot report to Dee, who reports (through Lee) to Bo
        boss = t.ids["boss@t.example"]
        cyc = await scim.patch(
            f"/Users/{boss}",
            {"op": "replace", "path": f"{ENT}:manager", "value": str(t.ids["dev@t.example"])},
        )
        assert "cycle" in scim_error(cyc, 400, "invalidValue")["detail"]
        scim_error(
            await scim.patch(f"/Users/{uuid.uuid4()}", {"op": "remove", "path": "title"}), 404
        )

    async def test_a_failing_patch_changes_nothing(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        uid = str(t.ids["peer@t.example"])
        before = await _row(owner_engine, t.id, uid)
        audits = await _count(owner_engine, "audit_events", t.id)
        r = await scim.patch(
            f"/Users/{uid}",
            {"op": "replace", "path": "title", "value": "Changed"},
            {"op": "replace", "path": f"{ENT}:department", "value": "Brand New Dept"},
            {"op": "replace", "path": "active", "value": False},
            {"op": "replace", "path": f"{ENT}:manager", "value": str(uuid.uuid4())},
        )
        scim_error(r, 400, "invalidValue")
        assert await _row(owner_engine, t.id, uid) == before
        assert await _count(owner_engine, "audit_events", t.id) == audits
        assert await _count(owner_engine, "departments", t.id, "and name = 'Brand New Dept'") == 0

    async def test_last_tenant_admin_cannot_be_deactivated(self, scim: Scim, t: TenantInfo) -> None:
        r = await scim.patch(
            f"/Users/{t.ids['admin@t.example']}", {"op": "replace", "value": {"active": False}}
        )
        assert "last tenant admin" in scim_error(r, 409)["detail"]


class TestDeleteUser:
    async def test_delete_offboards_and_keeps_history(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        r = await scim.post("/Users", user_body("bye@t.example", "bye-1"))
        uid = r.json()["id"]
        r = await scim.delete(f"/Users/{uid}")
        assert r.status_code == 204 and r.content == b""
        u = (await scim.get(f"/Users/{uid}")).json()
        assert u["active"] is False and u["userName"] == "bye@t.example"
        assert (await scim.delete(f"/Users/{uid}")).status_code == 204  # idempotent
        actions = [e.action for e in await _audit(owner_engine, t.id, uid)]
        assert actions == ["employee.create", "employee.offboard"]
        found = (await scim.get("/Users", filter='userName eq "bye@t.example"')).json()
        assert found["totalResults"] == 1 and found["Resources"][0]["active"] is False
        scim_error(await scim.delete(f"/Users/{uuid.uuid4()}"), 404)


class TestInternalErrors:
    async def test_500_with_request_id_and_nothing_written(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine, monkeypatch: Any
    ) -> None:
        from upward.people import service

        async def boom(*a: Any, **kw: Any) -> Any:
            raise RuntimeError("secret internals")

        monkeypatch.setattr(service, "offboard_employee", boom)
        audits = await _count(owner_engine, "audit_events", t.id)
        r = await scim.send(
            "POST",
            "/Users",
            user_body("boom@t.example", active=False),
            headers={"X-Request-Id": "req-scim-500"},
        )
        body = scim_error(r, 500)
        assert "req-scim-500" in body["detail"] and "secret" not in r.text
        assert await _count(owner_engine, "employees", t.id, "and email = 'boom@t.example'") == 0
        assert await _count(owner_engine, "audit_events", t.id) == audits


# --- groups ----------------------------------------------------------------------------------


class TestGroups:
    async def test_list_filter_and_get(self, scim: Scim, t: TenantInfo) -> None:
        body = (await scim.get("/Groups")).json()
        assert {g["displayName"] for g in body["Resources"]} == {"Engineering", "People"}
        assert body["totalResults"] == 2
        people = (await scim.get("/Groups", filter='displayName eq "people"')).json()
        assert people["totalResults"] == 1
        g = people["Resources"][0]
        assert g["members"] == [
            {
                "value": str(t.ids["hr@t.example"]),
                "display": "Hana HR",
                "type": "User",
                "$ref": g["members"][0]["$ref"],
            }
        ]
        assert g["meta"]["resourceType"] == "Group"
        one = await scim.get(f"/Groups/{g['id']}")
        assert one.json() == g and one.headers["etag"] == g["meta"]["version"]
        slim = (await scim.get("/Groups", excludedAttributes="members")).json()
        assert all("members" not in x for x in slim["Resources"])
        mine = await scim.get(
            "/Groups", filter=f'id eq "{g["id"]}" and members eq "{t.ids["hr@t.example"]}"'
        )
        assert mine.json()["totalResults"] == 1
        scim_error(await scim.get("/Groups", filter='members.display eq "x"'), 400, "invalidFilter")
        scim_error(await scim.get(f"/Groups/{uuid.uuid4()}"), 404)

    async def test_create_replace_patch_delete(
        self, scim: Scim, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        dev, peer = str(t.ids["dev@t.example"]), str(t.ids["peer@t.example"])
        r = await scim.post(
            "/Groups",
            {
                "schemas": [GROUP],
                "displayName": "Platform",
                "externalId": "g-1",
                "members": [{"value": dev}],
            },
        )
        assert r.status_code == 201, r.text
        g = r.json()
        assert g["externalId"] == "g-1" and [m["value"] for m in g["members"]] == [dev]
        assert (await _row(owner_engine, t.id, dev)).department_id == uuid.UUID(g["id"])
        scim_error(await scim.post("/Groups", {"displayName": "Platform"}), 409, "uniqueness")
        scim_error(
            await scim.post("/Groups", {"displayName": "Other", "externalId": "g-1"}),
            409,
            "uniqueness",
        )
        scim_error(await scim.post("/Groups", {"members": []}), 400, "invalidValue")

        r = await scim.patch(
            f"/Groups/{g['id']}",
            {"op": "add", "path": "members", "value": [{"value": peer}]},
            {"op": "replace", "path": "displayName", "value": "Platform Team"},
        )
        assert r.status_code == 200, r.text
        assert {m["value"] for m in r.json()["members"]} == {dev, peer}
        assert r.json()["displayName"] == "Platform Team"
        r = await scim.patch(
            f"/Groups/{g['id']}", {"op": "remove", "path": f'members[value eq "{dev}"]'}
        )
        assert [m["value"] for m in r.json()["members"]] == [peer]
        assert (await _row(owner_engine, t.id, dev)).department_id is None
        bad = await scim.patch(
            f"/Groups/{g['id']}",
            {"op": "add", "path": "members", "value": [{"value": str(uuid.uuid4())}]},
        )
        scim_error(bad, 400, "invalidValue")

        r = await scim.put(
            f"/Groups/{g['id']}",
            {"schemas": [GROUP], "displayName": "Platform", "members": [{"value": dev}]},
        )
        assert [m["value"] for m in r.json()["members"]] == [dev]
        assert r.json()["externalId"] == "g-1"  # not asserted: kept
        assert (await _row(owner_engine, t.id, peer)).department_id is None

        r = await scim.delete(f"/Groups/{g['id']}")
        assert r.status_code == 204
        assert (await _row(owner_engine, t.id, dev)).department_id is None
        after = (await scim.get(f"/Groups/{g['id']}")).json()
        assert after["members"] == [] and "externalId" not in after

    async def test_patch_replace_members_sets_them(self, scim: Scim, t: TenantInfo) -> None:
        gid = str(t.departments["Engineering"])
        dev, hr = str(t.ids["dev@t.example"]), str(t.ids["hr@t.example"])
        r = await scim.patch(
            f"/Groups/{gid}",
            {"op": "replace", "path": "members", "value": [{"value": dev}, {"value": hr}]},
        )
        assert r.status_code == 200, r.text
        assert {m["value"] for m in r.json()["members"]} == {dev, hr}
        r = await scim.patch(f"/Groups/{gid}", {"op": "remove", "path": "members"})
        assert r.json()["members"] == []
        scim_error(
            await scim.patch(f"/Groups/{gid}", {"op": "remove", "path": "displayName"}),
            400,
            "invalidValue",
        )

    async def test_group_membership_moves_between_departments(
        self, scim: Scim, t: TenantInfo
    ) -> None:
        groups = {
            g["displayName"]: g["id"] for g in (await scim.get("/Groups")).json()["Resources"]
        }
        dev = str(t.ids["dev@t.example"])
        await scim.patch(
            f"/Groups/{groups['People']}",
            {"op": "add", "path": "members", "value": [{"value": dev}]},
        )
        eng = (await scim.get(f"/Groups/{groups['Engineering']}")).json()
        assert dev not in {m["value"] for m in eng["members"]}
        u = (await scim.get(f"/Users/{dev}")).json()
        assert u[ENT]["department"] == "People"


class TestStatements:
    async def test_list_pages_use_a_constant_number_of_statements(
        self, scim: Scim, count_statements: Any
    ) -> None:
        from upward.auth.keys import settle

        await scim.get("/Users")  # the key's last use is written once, in the background
        await settle()
        for path in ("/Users", "/Groups"):
            count_statements.statements.clear()
            assert (await scim.get(path, count=1)).status_code == 200
            small = count_statements.count
            count_statements.statements.clear()
            assert (await scim.get(path, count=100)).status_code == 200
            assert count_statements.count == small, count_statements.statements


# --- isolation -------------------------------------------------------------------------------


class TestIsolation:
    async def test_a_key_of_a_reaches_nothing_of_b(
        self, client: httpx.AsyncClient, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        a, b = await make_tenant(), await make_tenant()
        sa_, sb = Scim(client, await a.api_key(["scim"])), Scim(client, await b.api_key(["scim"]))
        b_user = str(b.ids["dev@t.example"])
        b_group = str(b.departments["Engineering"])
        ghost = str(uuid.uuid4())
        for path in ("/Users/{}", "/Groups/{}"):
            foreign = await sa_.get(path.format(b_user if "Users" in path else b_group))
            never = await sa_.get(path.format(ghost))
            assert foreign.status_code == never.status_code == 404
            assert foreign.json()["status"] == never.json()["status"]
        for method, body in (
            (
                "PATCH",
                {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
            ),
            ("PUT", user_body("dev@t.example")),
            ("DELETE", None),
        ):
            scim_error(await sa_.send(method, f"/Users/{b_user}", body), 404)
        scim_error(await sa_.send("DELETE", f"/Groups/{b_group}"), 404)
        listed = (await sa_.get("/Users", filter='userName eq "dev@t.example"')).json()
        assert [u["id"] for u in listed["Resources"]] == [str(a.ids["dev@t.example"])]
        everyone = (await sa_.get("/Users")).json()
        assert not {u["id"] for u in everyone["Resources"]} & {str(i) for i in b.ids.values()}
        by_id = (await sa_.get("/Users", filter=f'id eq "{b_user}"')).json()
        assert by_id["totalResults"] == 0
        groups = (await sa_.get("/Groups")).json()
        assert not {g["id"] for g in groups["Resources"]} & {str(i) for i in b.departments.values()}
        # a member of B cannot be added to A's group
        r = await sa_.patch(
            f"/Groups/{a.departments['People']}",
            {"op": "add", "path": "members", "value": [{"value": b_user}]},
        )
        scim_error(r, 400, "invalidValue")
        # B is untouched
        row = await _row(owner_engine, b.id, b_user)
        assert row.status == "active" and row.department_id == b.departments["Engineering"]
        assert (await sb.get(f"/Users/{b_user}")).json()["active"] is True
