"""Rate and cost limits against the real Redis: budgets per key, user and tenant, headers on
every response, RATE_LIMITED with retryAfter, and one tenant's burst never spends another's."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import GQL, only_error
from upward.settings import get_settings

CHEAP = "{ departments { name } }"  # costs 2: the request, one list of objects


@pytest.fixture
async def limited() -> AsyncIterator[GQL]:
    from upward.app import create_app

    settings = get_settings().model_copy(
        update={
            "rate_cost_per_key": 20,
            "rate_cost_per_user": 30,
            "rate_cost_per_tenant": 50,
            "rate_cost_anonymous": 6,
            "rate_window_seconds": 60,
        }
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://upward.test") as c:
        yield GQL(c)


SCIM_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "new.hire@t.example",
    "name": {"givenName": "New", "familyName": "Hire"},
}


async def _spend(gql: GQL, token: str, n: int) -> list[httpx.Response]:
    return [await gql.raw(CHEAP, token=token) for _ in range(n)]


async def test_headers_and_cost_on_every_response(limited: GQL, make_tenant: Any) -> None:
    t = await make_tenant()
    token = await t.api_key(["people:read"])
    r = await limited.raw(CHEAP, token=token)
    assert r.status_code == 200
    assert r.headers["ratelimit-limit"] == "20"
    assert r.headers["ratelimit-remaining"] == "18"
    assert int(r.headers["ratelimit-reset"]) in (6, 7)  # 2 of 20 per 60 s come back in 6 s
    assert r.headers["ratelimit-policy"] == '20;w=60;comment="cost per key"'
    cost = r.json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2
    assert cost["throttleStatus"] == {
        "limitedBy": "key",
        "maximumAvailable": 20,
        "currentlyAvailable": 18,
        "restoreRate": 0.33,
    }


async def test_a_key_over_its_budget_is_refused_and_nothing_runs(
    limited: GQL, make_tenant: Any, gql: GQL
) -> None:
    t = await make_tenant()
    token = await t.api_key(["people:write"])
    responses = await _spend(limited, token, 10)  # 10 x 2 = the key's 20
    assert all(r.status_code == 200 for r in responses)
    r = await limited.raw(
        'mutation { createDepartment(input: {name: "Late"}) { department { id } } }', token=token
    )
    assert r.status_code == 429
    err = only_error(r.json())
    assert err["extensions"]["code"] == "RATE_LIMITED"
    assert err["extensions"]["limitedBy"] == "key" and err["extensions"]["cost"] == 13
    assert 1 <= err["extensions"]["retryAfter"] <= 60
    assert r.headers["retry-after"] == str(err["extensions"]["retryAfter"])
    assert r.headers["ratelimit-remaining"] == "0"
    data = await gql.ok(CHEAP, token=t.token("admin@t.example"))  # the unlimited app
    assert "Late" not in {d["name"] for d in data["departments"]}
    # a user of the same tenant has a budget of their own
    r = await limited.raw(CHEAP, token=t.token("dev@t.example"))
    assert r.status_code == 200 and r.headers["ratelimit-policy"].endswith('"cost per user"')


async def test_the_tenant_budget_is_shared_by_its_keys_and_users(
    limited: GQL, make_tenant: Any
) -> None:
    t = await make_tenant()
    a, b = await t.api_key(["people:read"]), await t.api_key(["people:read"])
    await _spend(limited, a, 10)  # 20 of the tenant's 50
    await _spend(limited, b, 10)  # 40
    r = await limited.raw(CHEAP, token=t.token("dev@t.example"))
    assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "8"
    assert r.headers["ratelimit-policy"].endswith('"cost per tenant"')
    await _spend(limited, t.token("dev@t.example"), 4)  # 50
    r = await limited.raw(CHEAP, token=t.token("hr@t.example"))
    assert r.status_code == 429 and only_error(r.json())["extensions"]["limitedBy"] == "tenant"


async def test_one_tenants_burst_does_not_spend_anothers_budget(
    limited: GQL, make_tenant: Any
) -> None:
    noisy, quiet = await make_tenant(), await make_tenant()
    noisy_keys = [await noisy.api_key(["people:read"]) for _ in range(4)]
    quiet_key = await quiet.api_key(["people:read"])

    async def burst() -> list[int]:
        rs = await asyncio.gather(*(limited.raw(CHEAP, token=k) for k in noisy_keys * 10))
        return [r.status_code for r in rs]

    async def steady() -> list[httpx.Response]:
        out = []
        for _ in range(8):
            out.append(await limited.raw(CHEAP, token=quiet_key))
        return out

    noisy_codes, quiet_rs = await asyncio.gather(burst(), steady())
    assert noisy_codes.count(429) >= 15  # 40 requests x 2 against the tenant's 50
    assert noisy_codes.count(200) == 25
    assert all(r.status_code == 200 for r in quiet_rs)
    # the quiet tenant's budget holds exactly what it spent itself
    remaining = [int(r.headers["ratelimit-remaining"]) for r in quiet_rs]
    assert remaining == [18 - 2 * i for i in range(8)]


async def test_unauthenticated_requests_are_limited_per_address(limited: GQL) -> None:
    rs = [await limited.raw(CHEAP, token="upw_nonsense") for _ in range(7)]
    assert [r.status_code for r in rs[:6]] == [200] * 6
    assert only_error(rs[0].json())["extensions"]["code"] == "UNAUTHENTICATED"
    assert rs[6].status_code == 429


async def test_scim_is_charged_to_the_keys_budget(limited: GQL, make_tenant: Any) -> None:
    """An identity provider's burst is limited like any other client of its key: each SCIM
    request is charged (a read 2, a list 1 + count, a write 11), answers carry the headers,
    and an empty bucket is a SCIM 429 with Retry-After that changes nothing."""
    t, other = await make_tenant(), await make_tenant()
    key, other_key = await t.api_key(["scim"]), await other.api_key(["scim"])

    async def scim(method: str, path: str, token: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        return await limited.client.request(method, f"/scim/v2{path}", headers=headers, **kw)

    r = await scim("GET", "/Users", key, params={"count": "5"})
    assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "14"  # 20 - (1 + 5)
    before = r.json()["totalResults"]
    assert r.headers["ratelimit-policy"] == '20;w=60;comment="cost per key"'
    r = await scim("GET", "/ServiceProviderConfig", key)
    assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "12"
    r = await scim("POST", "/Users", key, json=SCIM_USER)
    assert r.status_code == 201 and r.headers["ratelimit-remaining"] == "1"
    r = await scim("POST", "/Users", key, json={**SCIM_USER, "userName": "late@t.example"})
    assert r.status_code == 429
    body = r.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "429" and "rate limit exceeded" in body["detail"]
    assert 1 <= int(r.headers["retry-after"]) <= 60 and r.headers["ratelimit-remaining"] == "1"
    r = await scim("GET", "/Users", key, params={"filter": 'userName eq "late@t.example"'})
    assert r.status_code == 429  # a list of up to 100 costs more than what is left
    # nothing was written, and the other tenant's identity provider is not slowed down
    r = await scim("GET", "/Users", other_key, params={"count": "1"})
    assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "18"
    r = await scim("GET", "/Users", key, params={"count": "0"})  # costs 1: what is left
    assert r.status_code == 200 and r.json()["totalResults"] == before + 1
    # a bad token costs its address 1, as over GraphQL (6 per window here)
    # (from an address of its own: other tests spend the default client address's budget)
    app = limited.client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=(f"198.51.100.{os.getpid() % 250}", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://upward.test") as c:
        rs = [
            await c.get("/scim/v2/Users", headers={"Authorization": "Bearer upw_x"})
            for _ in range(7)
        ]
    assert [r.status_code for r in rs] == [401] * 6 + [429]
    assert rs[-1].headers["retry-after"] and rs[-1].json()["status"] == "429"


async def test_query_cost_limit_is_reported(gql: GQL, make_tenant: Any) -> None:
    t = await make_tenant()
    body = await gql(
        """{ employees(first: 100) { edges { node { directReports(first: 100) {
             edges { node { name } } } } } } }""",
        token=t.token("admin@t.example"),
    )
    err = only_error(body)
    assert err["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert err["extensions"]["maximumCost"] == 5000 and err["extensions"]["cost"] > 5000
    assert "query cost" in err["message"]
