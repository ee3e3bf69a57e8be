"""Isolation: a token of globex can neither read, verify, import into, nor infer the existence
of acme's credentials, types, rules or evidence; every answer equals the one for an id that
never existed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, only_error
from upward.graphql.relay import to_global_id


async def _acme_ids(engine: AsyncEngine, acme: TenantInfo) -> dict[str, uuid.UUID]:
    async with engine.connect() as conn:
        cred = await conn.scalar(
            sa.text(
                "select id from credentials where tenant_id = :t and verification = 'pending' limit 1"
            ),
            {"t": acme.id},
        )
        typ = await conn.scalar(
            sa.text("select id from credential_types where tenant_id = :t limit 1"), {"t": acme.id}
        )
        req = await conn.scalar(
            sa.text("select id from credential_requirements where tenant_id = :t limit 1"),
            {"t": acme.id},
        )
        ev = await conn.scalar(
            sa.text("select id from evidence_files where tenant_id = :t limit 1"), {"t": acme.id}
        )
    return {"Credential": cred, "CredentialType": typ, "CredentialRequirement": req, "Evidence": ev}


@pytest.fixture
async def foreign(owner_engine: AsyncEngine, acme: TenantInfo) -> dict[str, uuid.UUID]:
    ids = await _acme_ids(owner_engine, acme)
    assert all(ids.values()), ids
    return ids


@pytest.fixture
def hr_b(globex: TenantInfo) -> str:
    return globex.token("hr@globex.example")


async def _same(gql: GQL, q: str, foreign_vars: dict, ghost_vars: dict, tok: str) -> dict:
    a = await gql(q, foreign_vars, token=tok)
    b = await gql(q, ghost_vars, token=tok)
    assert a == b, (a, b)
    return a


@pytest.mark.parametrize(
    "type_name", ["Credential", "CredentialType", "CredentialRequirement", "Evidence"]
)
async def test_node_reads_look_like_ghosts(
    gql: GQL, foreign: dict[str, Any], hr_b: str, type_name: str
) -> None:
    q = "query($id: ID!) { node(id: $id) { id } }"
    body = await _same(
        gql,
        q,
        {"id": to_global_id(type_name, foreign[type_name])},
        {"id": to_global_id(type_name, uuid.uuid4())},
        hr_b,
    )
    assert only_error(body)["extensions"]["code"] == "NOT_FOUND"


async def test_credential_query_and_lists(
    gql: GQL, foreign: dict, hr_b: str, acme: TenantInfo
) -> None:
    q = "query($id: ID!) { credential(id: $id) { number } }"
    await _same(
        gql,
        q,
        {"id": to_global_id("Credential", foreign["Credential"])},
        {"id": to_global_id("Credential", uuid.uuid4())},
        hr_b,
    )
    lq = "query($f: CredentialFilter) { credentials(filter: $f) { totalCount edges { node { id } } } }"
    body = await _same(
        gql,
        lq,
        {"f": {"employeeIds": [acme.gid("tyler.jackson@acme.example")]}},
        {"f": {"employeeIds": [to_global_id("Employee", uuid.uuid4())]}},
        hr_b,
    )
    assert body["data"]["credentials"] == {"totalCount": 0, "edges": []}
    body = await _same(
        gql,
        lq,
        {"f": {"credentialTypeIds": [to_global_id("CredentialType", foreign["CredentialType"])]}},
        {"f": {"credentialTypeIds": [to_global_id("CredentialType", uuid.uuid4())]}},
        hr_b,
    )
    assert body["data"]["credentials"]["totalCount"] == 0


@pytest.mark.parametrize(
    "mutation",
    [
        "mutation($id: ID!) { verifyCredential(id: $id) { credential { id } } }",
        'mutation($id: ID!) { rejectCredential(id: $id, reason: "x") { credential { id } } }',
        'mutation($id: ID!) { revokeCredential(id: $id, reason: "x") { credential { id } } }',
    ],
)
async def test_cannot_review_foreign_credentials(
    gql: GQL, foreign: dict, hr_b: str, mutation: str, owner_engine: AsyncEngine
) -> None:
    body = await _same(
        gql,
        mutation,
        {"id": to_global_id("Credential", foreign["Credential"])},
        {"id": to_global_id("Credential", uuid.uuid4())},
        hr_b,
    )
    assert only_error(body)["extensions"]["code"] == "NOT_FOUND"
    async with owner_engine.connect() as conn:
        verification = await conn.scalar(
            sa.text("select verification from credentials where id = :i"),
            {"i": foreign["Credential"]},
        )
    assert verification == "pending"


async def test_foreign_type_and_evidence_are_unknown_inputs(
    gql: GQL, foreign: dict, hr_b: str, globex: TenantInfo
) -> None:
    create = """mutation($i: CreateCredentialInput!) { createCredential(input: $i) { credential { id } } }"""
    await _same(
        gql,
        create,
        {
            "i": {
                "credentialTypeId": to_global_id("CredentialType", foreign["CredentialType"]),
                "issuedOn": "2026-01-01",
            }
        },
        {
            "i": {
                "credentialTypeId": to_global_id("CredentialType", uuid.uuid4()),
                "issuedOn": "2026-01-01",
            }
        },
        hr_b,
    )
    types = await gql.ok("{ credentialTypes { id name } }", token=hr_b)
    gdpr = next(t["id"] for t in types["credentialTypes"] if t["name"].startswith("GDPR"))
    body = await _same(
        gql,
        create,
        {
            "i": {
                "credentialTypeId": gdpr,
                "issuedOn": "2026-01-01",
                "evidenceId": to_global_id("Evidence", foreign["Evidence"]),
            }
        },
        {
            "i": {
                "credentialTypeId": gdpr,
                "issuedOn": "2026-01-01",
                "evidenceId": to_global_id("Evidence", uuid.uuid4()),
            }
        },
        hr_b,
    )
    assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.evidenceId"}
    req = """mutation($i: CreateCredentialRequirementInput!) { createCredentialRequirement(input: $i) { requirement { id } } }"""
    await _same(
        gql,
        req,
        {"i": {"credentialTypeId": to_global_id("CredentialType", foreign["CredentialType"])}},
        {"i": {"credentialTypeId": to_global_id("CredentialType", uuid.uuid4())}},
        hr_b,
    )


async def test_import_cannot_reach_another_tenants_people(
    gql: GQL, hr_b: str, owner_engine: AsyncEngine, acme: TenantInfo
) -> None:
    q = """mutation($csv: String!) { importCredentials(csv: $csv, dryRun: true) {
      errors rows { outcome error column } } }"""
    real = "email,credential_type,issued_on\ntyler.jackson@acme.example,GDPR Data Protection Training,2026-01-01\n"
    ghost = "email,credential_type,issued_on\nnobody.here@acme.example,GDPR Data Protection Training,2026-01-01\n"
    a = await gql.ok(q, {"csv": real}, token=hr_b)
    b = await gql.ok(q, {"csv": ghost}, token=hr_b)
    assert a["importCredentials"]["errors"] == 1
    assert (
        a["importCredentials"]["rows"][0]["column"]
        == b["importCredentials"]["rows"][0]["column"]
        == "email"
    )
    # an acme type name is unknown to globex
    c = await gql.ok(
        q,
        {"csv": "email,credential_type,issued_on\nhr@globex.example,CPR/AED,2026-01-01\n"},
        token=hr_b,
    )
    assert c["importCredentials"]["rows"][0]["column"] == "credential_type"


async def test_compliance_of_a_foreign_line_is_empty_like_a_ghost(
    gql: GQL, hr_b: str, acme: TenantInfo
) -> None:
    q = """query($s: ComplianceScope) { complianceReport(scope: $s) { people { total } gaps { totalCount } } }"""
    body = await _same(
        gql,
        q,
        {"s": {"managerId": acme.gid("carlos.mendoza@acme.example")}},
        {"s": {"managerId": to_global_id("Employee", uuid.uuid4())}},
        hr_b,
    )
    assert body["data"]["complianceReport"]["people"]["total"] == 0
    pq = "query($e: ID) { employeeCompliance(employeeId: $e) { compliant } }"
    body = await _same(
        gql,
        pq,
        {"e": acme.gid("tyler.jackson@acme.example")},
        {"e": to_global_id("Employee", uuid.uuid4())},
        hr_b,
    )
    assert only_error(body)["extensions"]["code"] == "NOT_FOUND"


async def test_a_foreign_tenants_download_link_needs_its_token(
    gql: GQL, acme: TenantInfo, hr_b: str, foreign: dict
) -> None:
    """A signed link names its tenant: rewriting the tenant in it breaks the signature."""
    import base64
    import json

    q = """{ credentials(first: 100) { edges { node { evidence { downloadUrl } } } } }"""
    data = await gql.ok(q, token=acme.token("hr@acme.example"))
    url = next(
        e["node"]["evidence"]["downloadUrl"]
        for e in data["credentials"]["edges"]
        if e["node"]["evidence"]
    )
    token = url.rsplit("/", 1)[1]
    body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["t"] = str(uuid.uuid4())
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    r = await gql.client.get(f"/evidence/{forged}.{sig}")
    assert r.status_code == 403
    ok = await gql.client.get(f"/evidence/{token}")
    assert ok.status_code == 200 and ok.content.startswith(b"%PDF")
