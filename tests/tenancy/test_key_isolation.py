"""A partner's API key of one tenant reaches nothing of another, whatever it is given.

The key holds every scope. For every object type `node(id:)` can fetch, an id of a row of the
demo tenants (acme, globex) is NOT_FOUND for it, exactly as an id that never existed; `nodes`
gives null; SCIM cannot read, filter for, change or delete the other tenant's users and
groups. The same ids are found by the demo tenant's own administrators (the control: the ids
are real and fetchable). Subscriptions: tests/graphql/test_subscriptions.py
(`test_foreign_ids_are_not_found_like_missing_ones`, and every subscriber gets only its own
tenant's events across two processes)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, error_codes
from upward.auth.scopes import SCOPES
from upward.graphql.node import NODE_RESOLVERS
from upward.graphql.relay import to_global_id

TABLES = {
    "ApiKey": "api_keys",
    "Application": "applications",
    "AuditEvent": "audit_events",
    "CheckIn": "checkins",
    "CheckInSeries": "checkin_series",
    "CompanyValue": "company_values",
    "Credential": "credentials",
    "CredentialRequirement": "credential_requirements",
    "CredentialType": "credential_types",
    "Delivery": "deliveries",
    "Department": "departments",
    "DevelopmentPlan": "development_plans",
    "Employee": "employees",
    "Evidence": "evidence_files",
    "Feedback": "feedback",
    "FeedbackRequest": "feedback_requests",
    "JobPosting": "job_postings",
    "Kudos": "kudos",
    "LearningResource": "learning_resources",
    "Location": "locations",
    "Mentorship": "mentorships",
    "Milestone": "milestones",
    "Notification": "notifications",
    "PlanActivity": "plan_activities",
    "PlanGoal": "plan_goals",
    "Redemption": "redemptions",
    "Reward": "rewards",
    "Skill": "skills",
    "TrackLevel": "track_levels",
    "WebhookEndpoint": "webhook_endpoints",
}
NODE = "query($id: ID!) { node(id: $id) { id __typename } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
CONTROLS = ("admin@acme.example", "hr@acme.example", "admin@globex.example", "hr@globex.example")


def _importing_the_schema_registers_every_node() -> None:
    import upward.graphql.schema  # noqa: F401


async def _demo_ids(engine: AsyncEngine) -> dict[str, list[tuple[str, str]]]:
    """Per node type: (tenant slug, global id) of up to 3 rows of each demo tenant."""
    out: dict[str, list[tuple[str, str]]] = {}
    async with engine.connect() as conn:
        for type_name, table in TABLES.items():
            rows = (
                await conn.execute(
                    sa.text(
                        f"select t.slug, x.id from tenants t cross join lateral "
                        f"(select id from {table} where tenant_id = t.id order by id limit 3) x "
                        "where t.slug in ('acme', 'globex') order by t.slug, x.id"
                    )
                )
            ).all()
            out[type_name] = [(r.slug, to_global_id(type_name, r.id)) for r in rows]
    return out


async def test_every_node_type_of_another_tenant_is_not_found_by_a_key(
    gql: GQL, make_tenant: Any, owner_engine: AsyncEngine
) -> None:
    _importing_the_schema_registers_every_node()
    assert set(TABLES) == set(NODE_RESOLVERS), "map each new node type to its table here"
    attacker: TenantInfo = await make_tenant()
    key = await attacker.api_key(sorted(SCOPES))
    ids = await _demo_ids(owner_engine)
    assert not [t for t, found in ids.items() if not found], "a node type has no demo row"

    seen_by_owner: set[str] = set()
    for type_name, rows in ids.items():
        for slug, gid in rows:
            # the control: some administrator of the row's own tenant fetches it
            for email in CONTROLS:
                if email.endswith(f"@{slug}.example"):
                    body = await gql(NODE, {"id": gid}, token=_token(slug, email))
                    if (body.get("data") or {}).get("node") == {"id": gid, "__typename": type_name}:
                        seen_by_owner.add(type_name)
            # the attack: the other tenant's key, with every scope
            body = await gql(NODE, {"id": gid}, token=key)
            missing = await gql(NODE, {"id": to_global_id(type_name, uuid.uuid4())}, token=key)
            assert body == missing, (type_name, body)
            # keys are managed by signed-in admins only: FORBIDDEN for any id, real or not
            expected = ["FORBIDDEN"] if type_name == "ApiKey" else ["NOT_FOUND"]
            assert error_codes(body) == expected, (type_name, body)
        body = await gql(NODES, {"ids": [gid for _, gid in rows]}, token=key)
        assert body["data"] == {"nodes": [None] * len(rows)}, (type_name, body)
    # personal rows (someone's inbox, a private note's series) are not every admin's to read;
    # everything else is, so the ids above are real
    assert set(TABLES) - seen_by_owner <= {"Notification", "CheckIn", "CheckInSeries"}, (
        set(TABLES) - seen_by_owner
    )


def _token(slug: str, email: str) -> str:
    from tests.conftest import token

    return token(slug, email)


async def test_scim_of_another_tenant_is_not_found_by_a_key(
    client: httpx.AsyncClient, make_tenant: Any, owner_engine: AsyncEngine
) -> None:
    attacker: TenantInfo = await make_tenant()
    key = await attacker.api_key(["scim"])
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}
    async with owner_engine.connect() as conn:
        user = (
            await conn.execute(
                sa.text(
                    "select e.id, e.email from employees e join tenants t on t.id = e.tenant_id "
                    "where t.slug = 'acme' order by e.email limit 1"
                )
            )
        ).one()
        group = await conn.scalar(
            sa.text(
                "select d.id from departments d join tenants t on t.id = d.tenant_id "
                "where t.slug = 'acme' order by d.name limit 1"
            )
        )
        before = await conn.scalar(
            sa.text("select md5(string_agg(e::text, '' order by e.id)) from employees e")
        )
    ghost = uuid.uuid4()
    for path in (f"/Users/{user.id}", f"/Groups/{group}"):
        r = await client.get(f"/scim/v2{path}", headers=headers)
        missing = await client.get(f"/scim/v2{path.rsplit('/', 1)[0]}/{ghost}", headers=headers)
        assert r.status_code == missing.status_code == 404, r.text
        detail = r.json()["detail"].replace(str(user.id), "?").replace(str(group), "?")
        assert detail == missing.json()["detail"].replace(str(ghost), "?")
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}]
            if path.startswith("/Users")
            else [{"op": "replace", "path": "displayName", "value": "Taken"}],
        }
        assert (
            await client.patch(f"/scim/v2{path}", json=patch, headers=headers)
        ).status_code == 404
        assert (await client.delete(f"/scim/v2{path}", headers=headers)).status_code == 404
    r = await client.get(
        "/scim/v2/Users", params={"filter": f'userName eq "{user.email}"'}, headers=headers
    )
    assert r.status_code == 200 and r.json()["totalResults"] == 0
    r = await client.get("/scim/v2/Users", params={"count": "100"}, headers=headers)
    assert {u["userName"] for u in r.json()["Resources"]} <= set(attacker.ids)
    async with owner_engine.connect() as conn:
        after = await conn.scalar(
            sa.text("select md5(string_agg(e::text, '' order by e.id)) from employees e")
        )
    assert after == before
