"""API keys through HTTP: created once, listed without secrets, refused when revoked, expired,
rotated out, outside their allowlist, forged or of another tenant; their use is audited."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, only_error
from upward.auth import keys

CREATE = """
mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { token apiKey { id name prefix scopes allowedCidrs expiresAt } }
}"""
DEPARTMENTS = "{ departments { name } }"


@pytest.fixture
async def tenant(make_tenant: Any) -> Any:
    return await make_tenant()


async def _create(gql: GQL, tenant: Any, **input: Any) -> dict[str, Any]:
    data = await gql.ok(
        CREATE,
        {"input": {"name": "HRIS sync", "scopes": ["people:read"], **input}},
        token=tenant.token("admin@t.example"),
    )
    return data["createApiKey"]


def _code(body: dict[str, Any]) -> str:
    return only_error(body)["extensions"]["code"]


async def test_create_list_and_use(gql: GQL, tenant: Any) -> None:
    created = await _create(gql, tenant, scopes=["people:write", "people:write"])
    token = created["token"]
    assert token.startswith("upw_") and len(token) == keys.TOKEN_LENGTH
    assert created["apiKey"]["prefix"] == token[:12]
    assert created["apiKey"]["scopes"] == ["people:write"]
    data = await gql.ok(DEPARTMENTS, token=token)
    assert {d["name"] for d in data["departments"]} == {"Engineering", "People"}
    listed = await gql.ok(
        "{ apiKeys { totalCount edges { node { name prefix lastUsedAt } } } }",
        token=tenant.token("admin@t.example"),
    )
    assert listed["apiKeys"]["totalCount"] == 1
    assert token not in str(listed) and token[12:30] not in str(listed)
    await keys.settle()
    listed = await gql.ok(
        "{ apiKeys { edges { node { lastUsedAt lastUsedIp } } } }",
        token=tenant.token("admin@t.example"),
    )
    node = listed["apiKeys"]["edges"][0]["node"]
    assert node["lastUsedAt"] is not None and node["lastUsedIp"] == "127.0.0.1"


async def test_only_signed_in_tenant_admins_manage_keys(gql: GQL, tenant: Any) -> None:
    body = await gql(
        CREATE,
        {"input": {"name": "x", "scopes": []}},
        token=tenant.token("hr@t.example"),
    )
    assert _code(body) == "FORBIDDEN"
    token = await tenant.api_key(["people:write", "webhooks:manage"])
    body = await gql(CREATE, {"input": {"name": "x", "scopes": []}}, token=token)
    assert _code(body) == "FORBIDDEN"


@pytest.mark.parametrize(
    ("input", "field"),
    [
        ({"scopes": ["people:read", "everything"]}, "input.scopes"),
        ({"allowedCidrs": ["10.0.0.0/8", "not-an-ip"]}, "input.allowedCidrs.1"),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "input.expiresAt"),
        ({"name": "  "}, "input.name"),
        ({"documentCollection": "bad name!"}, "input.documentCollection"),
    ],
)
async def test_bad_input_changes_nothing(
    gql: GQL, tenant: Any, input: dict[str, Any], field: str
) -> None:
    body = await gql(
        CREATE,
        {"input": {"name": "k", "scopes": ["people:read"], **input}},
        token=tenant.token("admin@t.example"),
    )
    err = only_error(body)
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["field"] == field
    listed = await gql.ok("{ apiKeys { totalCount } }", token=tenant.token("admin@t.example"))
    assert listed["apiKeys"]["totalCount"] == 0


async def test_revoked_key_is_refused_on_its_next_request(gql: GQL, tenant: Any) -> None:
    created = await _create(gql, tenant)
    await gql.ok(DEPARTMENTS, token=created["token"])
    await gql.ok(
        "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
        {"id": created["apiKey"]["id"]},
        token=tenant.token("admin@t.example"),
    )
    body = await gql(DEPARTMENTS, token=created["token"])
    assert _code(body) == "UNAUTHENTICATED"
    assert "revoked" in only_error(body)["message"]


async def test_expired_key_is_refused(gql: GQL, tenant: Any, owner_engine: Any) -> None:
    created = await _create(gql, tenant, expiresAt="2099-01-01T00:00:00Z")
    await gql.ok(DEPARTMENTS, token=created["token"])
    async with owner_engine.begin() as conn:
        await conn.execute(
            sa.text(
                "update api_keys set expires_at = now() - interval '1 second' where tenant_id = :t"
            ),
            {"t": tenant.id},
        )
    body = await gql(DEPARTMENTS, token=created["token"])
    assert _code(body) == "UNAUTHENTICATED" and "expired" in only_error(body)["message"]


async def test_rotation_overlaps_then_retires_the_old_secret(
    gql: GQL, tenant: Any, owner_engine: Any
) -> None:
    created = await _create(gql, tenant)
    old = created["token"]
    rotate = "mutation($id: ID!, $h: Int!) { rotateApiKey(id: $id, overlapHours: $h) { token apiKey { prefix } } }"
    admin = tenant.token("admin@t.example")
    data = await gql.ok(rotate, {"id": created["apiKey"]["id"], "h": 24}, token=admin)
    new = data["rotateApiKey"]["token"]
    assert new != old and data["rotateApiKey"]["apiKey"]["prefix"] == created["apiKey"]["prefix"]
    await gql.ok(DEPARTMENTS, token=old)  # in the overlap
    await gql.ok(DEPARTMENTS, token=new)
    async with owner_engine.begin() as conn:  # the overlap ends
        await conn.execute(
            sa.text(
                "update api_keys set previous_valid_until = now() - interval '1 second' "
                "where tenant_id = :t"
            ),
            {"t": tenant.id},
        )
    assert _code(await gql(DEPARTMENTS, token=old)) == "UNAUTHENTICATED"
    await gql.ok(DEPARTMENTS, token=new)
    data = await gql.ok(rotate, {"id": created["apiKey"]["id"], "h": 0}, token=admin)
    assert _code(await gql(DEPARTMENTS, token=new)) == "UNAUTHENTICATED"  # leaked: at once
    await gql.ok(DEPARTMENTS, token=data["rotateApiKey"]["token"])


async def test_ip_allowlist(gql: GQL, tenant: Any) -> None:
    outside = await _create(gql, tenant, allowedCidrs=["10.0.0.0/8"])
    body = await gql.raw(
        DEPARTMENTS, token=outside["token"], headers={"x-forwarded-for": "10.1.2.3"}
    )
    assert _code(body.json()) == "FORBIDDEN"  # the header is not believed from an untrusted peer
    assert "127.0.0.1" in only_error(body.json())["message"]
    inside = await _create(gql, tenant, allowedCidrs=["127.0.0.1", "::1"])
    assert inside["apiKey"]["allowedCidrs"] == ["127.0.0.1/32", "::1/128"]
    await gql.ok(DEPARTMENTS, token=inside["token"])


def test_client_address_behind_trusted_proxies() -> None:
    trusted = ["10.0.0.0/8"]
    assert keys.client_address("10.0.0.5", "203.0.113.9, 10.0.0.7", trusted) == "203.0.113.9"
    # a client cannot smuggle an address in front of the real one
    assert keys.client_address("10.0.0.5", "1.2.3.4, 203.0.113.9", trusted) == "203.0.113.9"
    assert keys.client_address("198.51.100.1", "1.2.3.4", trusted) == "198.51.100.1"
    assert keys.client_address("10.0.0.5", None, trusted) == "10.0.0.5"


async def test_forged_and_foreign_keys_are_refused(gql: GQL, tenant: Any, make_tenant: Any) -> None:
    other = await make_tenant()
    token = await tenant.api_key(["people:read"])
    parsed = keys.parse_token(token)
    # the same key id and secret, presented as another tenant's (a valid checksum)
    body = (
        keys.TOKEN_PREFIX
        + keys._encode(parsed.key_id.bytes, 22)
        + keys._encode(other.id.bytes, 22)
        + keys._encode(parsed.secret, 33)
    )
    forged = body + keys._checksum(body)
    assert _code(await gql(DEPARTMENTS, token=forged)) == "UNAUTHENTICATED"
    assert _code(await gql(DEPARTMENTS, token=token[:-1] + ("A" if token[-1] != "A" else "B"))) == (
        "UNAUTHENTICATED"
    )
    wrong_secret = (
        keys.TOKEN_PREFIX
        + keys._encode(parsed.key_id.bytes, 22)
        + keys._encode(tenant.id.bytes, 22)
        + keys._encode(b"\x01" * 24, 33)
    )
    assert _code(await gql(DEPARTMENTS, token=wrong_secret + keys._checksum(wrong_secret))) == (
        "UNAUTHENTICATED"
    )
    # the other tenant's people are not there for this key
    body = await gql(
        "query($id: ID!) { employee(id: $id) { name } }",
        {"id": other.gid("dev@t.example")},
        token=token,
    )
    assert _code(body) == "NOT_FOUND"


async def test_use_is_audited_as_the_key(gql: GQL, tenant: Any, owner_engine: Any) -> None:
    created = await _create(gql, tenant, scopes=["people:write"])
    await gql.ok(
        'mutation { createDepartment(input: {name: "Partners"}) { department { id } } }',
        token=created["token"],
    )
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "select actor_type, actor_id from audit_events where tenant_id = :t "
                    "and action = 'department.create'"
                ),
                {"t": tenant.id},
            )
        ).one()
        key_id = await conn.scalar(
            sa.text("select id from api_keys where tenant_id = :t"), {"t": tenant.id}
        )
    assert row.actor_type == "api_key" and row.actor_id == key_id
