"""Webhook endpoints through HTTP, and events delivered to a real receiver that verifies each
signature: 500 then 200 gets the event exactly once more; 410 disables the endpoint."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, only_error
from tests.integrations.receiver import Receiver
from tests.reminders.helpers import principal_of, rows
from upward import clock
from upward.db import tenant_session
from upward.integrations.webhooks import InvalidSignature, sign, verify
from upward.reminders import delivery, outbox
from upward.settings import reset_settings

CREATE = """mutation($i: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $i) { secret endpoint { id url eventTypes active } }
}"""
LOG = """query($e: ID) {
  webhookDeliveries(endpointId: $e, first: 10) {
    totalCount
    edges { node { id status attempts lastStatusCode eventId
                   attemptLog { statusCode error durationMs } } }
  }
}"""


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("UPWARD_WEBHOOK_ALLOW_PRIVATE", "true")
    reset_settings()
    yield
    monkeypatch.delenv("UPWARD_WEBHOOK_ALLOW_PRIVATE")
    reset_settings()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


async def test_register_validates_and_shows_the_secret_once(
    make_tenant: Any, gql: GQL, receiver: Receiver
) -> None:
    t: TenantInfo = await make_tenant()
    admin = t.token("admin@t.example")
    # the API refuses internal targets (SSRF) unless the deployment allows them
    for url in (
        f"{receiver.base}/hook",
        "http://localhost/x",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/x",
        "ftp://example.com/x",
        "http://[::1]/x",
        "http://2130706433/x",
    ):
        err = only_error(await gql(CREATE, {"i": {"url": url, "eventTypes": ["*"]}}, token=admin))
        assert err["extensions"]["code"] == "BAD_USER_INPUT", url
        assert err["extensions"]["field"] == "input.url", url
    err = only_error(
        await gql(
            CREATE,
            {"i": {"url": "https://hooks.example.com/x", "eventTypes": ["credential.nope"]}},
            token=admin,
        )
    )
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.eventTypes.0"}
    err = only_error(
        await gql(
            CREATE,
            {"i": {"url": "https://hooks.example.com/x", "eventTypes": ["*"]}},
            token=t.token("hr@t.example"),
        )
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    got = await gql.ok(
        CREATE,
        {"i": {"url": "https://hooks.example.com/x", "eventTypes": ["credential.*"]}},
        token=admin,
    )
    created = got["createWebhookEndpoint"]
    assert created["secret"].startswith("whsec_")
    listed = await gql.ok(
        "{ webhookEndpoints(first: 5) { edges { node { id url } } } }", token=admin
    )
    assert listed["webhookEndpoints"]["edges"] == [
        {"node": {"id": created["endpoint"]["id"], "url": "https://hooks.example.com/x"}}
    ]
    rotated = await gql.ok(
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
        {"id": created["endpoint"]["id"]},
        token=admin,
    )
    assert rotated["rotateWebhookSecret"]["secret"] not in (created["secret"], "")
    # one endpoint per URL
    err = only_error(
        await gql(
            CREATE,
            {"i": {"url": "https://hooks.example.com/x", "eventTypes": ["*"]}},
            token=admin,
        )
    )
    assert err["extensions"] == {"code": "CONFLICT", "field": "input.url"}
    other = await gql.ok(
        CREATE, {"i": {"url": "https://hooks.example.com/y", "eventTypes": ["*"]}}, token=admin
    )
    update = "mutation($id: ID!, $u: String) { updateWebhookEndpoint(id: $id, input: {url: $u}) { url } }"
    err = only_error(
        await gql(
            update,
            {
                "id": other["createWebhookEndpoint"]["endpoint"]["id"],
                "u": "https://hooks.example.com/x",
            },
            token=admin,
        )
    )
    assert err["extensions"] == {"code": "CONFLICT", "field": "input.url"}


async def _attempt_all(t: TenantInfo) -> list[delivery.Outcome]:
    """What the publisher and the deliver actor do, inline."""
    p = await principal_of(t.id)
    async with tenant_session(t.id) as s:
        await outbox.publish_events(s)
    async with tenant_session(t.id) as s:
        ids = [
            r.id
            for r in await s.execute(
                sa.text(
                    "select id from deliveries where channel = 'webhook' and status = 'pending'"
                )
            )
        ]
    out = []
    for d in ids:
        async with tenant_session(t.id) as s:
            out.append(await delivery.attempt(s, p, d))
    return out


async def _new_credential(gql: GQL, t: TenantInfo, owner_engine: AsyncEngine) -> str:
    await gql.ok(
        """mutation { createCredentialType(input: {name: "CPR", category: CERTIFICATION,
           validityMonths: 24, verificationRequired: true}) { credentialType { id } } }""",
        token=t.token("hr@t.example"),
    )
    ctype = (
        await rows(owner_engine, "select id from credential_types where tenant_id = :t", t=t.id)
    )[0].id
    from upward.graphql.relay import to_global_id

    got = await gql.ok(
        "mutation($i: CreateCredentialInput!) { createCredential(input: $i) { credential { id } } }",
        {
            "i": {
                "employeeId": t.gid("dev@t.example"),
                "credentialTypeId": to_global_id("CredentialType", ctype),
                "issuedOn": "2026-06-01",
                "number": "CPR-1",
            }
        },
        token=t.token("hr@t.example"),
    )
    return got["createCredential"]["credential"]["id"]


async def test_500_then_200_delivers_the_event_exactly_once_more(
    make_tenant: Any, gql: GQL, owner_engine: AsyncEngine, receiver: Receiver, allow_private: None
) -> None:
    t: TenantInfo = await make_tenant()
    admin = t.token("admin@t.example")
    got = await gql.ok(
        CREATE,
        {"i": {"url": f"{receiver.base}/scripted", "eventTypes": ["credential.created"]}},
        token=admin,
    )
    receiver.secret = got["createWebhookEndpoint"]["secret"]
    endpoint = got["createWebhookEndpoint"]["endpoint"]["id"]
    receiver.received.clear()
    receiver.script[:] = [500]
    try:
        credential = await _new_credential(gql, t, owner_engine)
        first = await _attempt_all(t)
        assert [(o.channel, o.status) for o in first] == [("webhook", "pending")]
        assert first[0].retry_in_seconds and 20 < first[0].retry_in_seconds <= 30
        # not due yet: a duplicate message does nothing
        assert [o.status for o in await _attempt_all(t)] == ["skipped"]
        clock.freeze(datetime.now(UTC) + timedelta(minutes=5))
        second = await _attempt_all(t)
        assert [o.status for o in second] == ["sent"]
        assert [o.status for o in await _attempt_all(t)] == []  # sent: nothing pending
    finally:
        clock.freeze(None)
    assert len(receiver.received) == 2
    a, b = receiver.received
    assert a.signature_error is None and b.signature_error is None
    assert a.headers["webhook-id"] == b.headers["webhook-id"]  # the receiver can dedupe
    envelope = json.loads(b.body)
    assert envelope["type"] == "credential.created" and envelope["tenant"] == t.slug
    assert set(envelope) == {"type", "id", "occurredAt", "tenant", "data"}
    # ids in `data` are the API's global ids: the receiver can query them
    from upward.graphql.relay import from_global_id

    assert from_global_id(envelope["data"]["credential_id"], field="x")[0] == "Credential"
    assert envelope["data"]["credential_id"] == credential
    # HR entered it for dev, so it was verified on entry: dev hears of it in the inbox
    inbox = await gql.ok(
        "{ notifications(first: 5) { edges { node { kind subject data } } } }",
        token=t.token("dev@t.example"),
    )
    # (and of the milestone it earned: a kudos from the company, recognition's own message)
    nodes = [
        e["node"]
        for e in inbox["notifications"]["edges"]
        if e["node"]["data"].get("event") != "kudos.received"
    ]
    assert [(n["kind"], n["subject"]) for n in nodes] == [("EVENT", "Your CPR was verified")]
    assert nodes[0]["data"]["credential_id"] == credential
    # the receiver's own check: a tampered body or a stale timestamp fails
    with pytest.raises(InvalidSignature):
        verify(receiver.secret, b.headers, b.body.replace(b"credential", b"kredential"))
    stale = int(time.time()) - 3600
    old = {**b.headers, "webhook-timestamp": str(stale)}
    old["webhook-signature"] = sign(receiver.secret, b.headers["webhook-id"], stale, b.body)
    with pytest.raises(InvalidSignature):
        verify(receiver.secret, old, b.body)
    # the delivery log shows both tries
    log = await gql.ok(LOG, {"e": endpoint}, token=admin)
    node = log["webhookDeliveries"]["edges"][0]["node"]
    assert node["status"] == "SENT" and node["lastStatusCode"] == 204
    assert [x["statusCode"] for x in node["attemptLog"]] == [500, 204]
    # redeliver on purpose: the same event once more
    await gql.ok(
        "mutation($id: ID!) { redeliverWebhookDelivery(id: $id) { status } }",
        {"id": node["id"]},
        token=admin,
    )
    assert [o.status for o in await _attempt_all(t)] == ["sent"]
    assert len(receiver.received) == 3
    assert receiver.received[2].headers["webhook-id"] == a.headers["webhook-id"]
    assert credential


async def test_410_gone_disables_the_endpoint(
    make_tenant: Any, gql: GQL, owner_engine: AsyncEngine, receiver: Receiver, allow_private: None
) -> None:
    t: TenantInfo = await make_tenant()
    admin = t.token("admin@t.example")
    got = await gql.ok(
        CREATE, {"i": {"url": f"{receiver.base}/status/410", "eventTypes": ["*"]}}, token=admin
    )
    receiver.secret = got["createWebhookEndpoint"]["secret"]
    await _new_credential(gql, t, owner_engine)
    outcomes = await _attempt_all(t)
    assert outcomes[0].status == "dead"
    assert {o.status for o in outcomes[1:]} <= {"skipped"}
    ep = await gql.ok(
        "{ webhookEndpoints(first: 1) { edges { node { active disabledReason } } } }", token=admin
    )
    node = ep["webhookEndpoints"]["edges"][0]["node"]
    assert node == {"active": False, "disabledReason": "the endpoint answered 410 Gone"}
    left = await rows(
        owner_engine,
        "select status, count(*) as n from deliveries where tenant_id = :t and channel = 'webhook' "
        "group by status",
        t=t.id,
    )
    assert {r.status for r in left} <= {"dead", "cancelled"}


async def test_a_message_for_tenant_a_naming_b_ids_touches_nothing_of_b(
    make_tenant: Any, gql: GQL, owner_engine: AsyncEngine, receiver: Receiver, allow_private: None
) -> None:
    from workers.reminders import deliver, plan_batch

    a: TenantInfo = await make_tenant()
    b: TenantInfo = await make_tenant()
    got = await gql.ok(
        CREATE,
        {"i": {"url": f"{receiver.base}/scripted", "eventTypes": ["*"]}},
        token=b.token("admin@t.example"),
    )
    receiver.secret = got["createWebhookEndpoint"]["secret"]
    await _new_credential(gql, b, owner_engine)
    async with tenant_session(b.id) as s:
        await outbox.publish_events(s)
    theirs = await rows(
        owner_engine,
        "select id, status from deliveries where tenant_id = :t",
        t=b.id,
    )
    assert theirs and {r.status for r in theirs} == {"pending"}
    b_cred = (
        await rows(
            owner_engine, "select id, expires_on from credentials where tenant_id = :t", t=b.id
        )
    )[0]
    received = len(receiver.received)
    # the actors' own code path, with tenant A's id and B's ids in the payload
    await deliver.fn.__wrapped__(str(a.id), ids=[str(r.id) for r in theirs])
    await plan_batch.fn.__wrapped__(
        str(a.id),
        after=None,
        until=[b_cred.expires_on.isoformat(), str(b_cred.id)],
        lo="2000-01-01",
        hi="2100-01-01",
    )
    after = await rows(
        owner_engine, "select id, status from deliveries where tenant_id = :t", t=b.id
    )
    assert sorted(after) == sorted(theirs)
    assert len(receiver.received) == received
    for table in ("deliveries", "reminders", "notifications", "delivery_attempts"):
        n = await rows(
            owner_engine, f"select count(*) as n from {table} where tenant_id = :t", t=a.id
        )
        assert n[0].n == 0, table
    assert uuid.UUID(str(theirs[0].id))


async def test_a_rotation_signs_with_both_secrets_during_the_overlap(
    make_tenant: Any, gql: GQL, owner_engine: AsyncEngine, receiver: Receiver, allow_private: None
) -> None:
    t: TenantInfo = await make_tenant()
    admin = t.token("admin@t.example")
    got = await gql.ok(
        CREATE, {"i": {"url": f"{receiver.base}/scripted", "eventTypes": ["*"]}}, token=admin
    )
    old = got["createWebhookEndpoint"]["secret"]
    endpoint = got["createWebhookEndpoint"]["endpoint"]["id"]
    rotate = """mutation($id: ID!, $h: Int!) {
      rotateWebhookSecret(id: $id, overlapHours: $h) { secret endpoint { previousSecretUntil } }
    }"""
    rotated = (await gql.ok(rotate, {"id": endpoint, "h": 24}, token=admin))["rotateWebhookSecret"]
    assert rotated["endpoint"]["previousSecretUntil"]
    new = rotated["secret"]
    receiver.secret = old  # a receiver that has not switched yet
    receiver.received.clear()
    await _new_credential(gql, t, owner_engine)
    assert {o.status for o in await _attempt_all(t)} == {"sent"}
    first = receiver.received[0]
    assert first.signature_error is None and len(first.headers["webhook-signature"].split()) == 2
    verify(new, first.headers, first.body)  # and one that has
    # a leaked secret is retired at once
    err = only_error(await gql(rotate, {"id": endpoint, "h": 1000}, token=admin))
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "overlapHours"}
    rotated = (await gql.ok(rotate, {"id": endpoint, "h": 0}, token=admin))["rotateWebhookSecret"]
    assert rotated["endpoint"]["previousSecretUntil"] is None
    receiver.secret = rotated["secret"]
    delivery_id = (await gql.ok(LOG, {"e": endpoint}, token=admin))["webhookDeliveries"]["edges"][
        0
    ]["node"]["id"]
    await gql.ok(
        "mutation($id: ID!) { redeliverWebhookDelivery(id: $id) { status } }",
        {"id": delivery_id},
        token=admin,
    )
    await _attempt_all(t)
    last = receiver.received[-1]
    assert last.signature_error is None and len(last.headers["webhook-signature"].split()) == 1
    with pytest.raises(InvalidSignature):
        verify(new, last.headers, last.body)
