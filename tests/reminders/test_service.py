"""Manifests' notification sections, deliveries that die and come back, and the metrics."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from tests.reminders.helpers import principal_of, rows, run_pass
from tests.reminders.test_outbox import org
from upward import clock
from upward.db import tenant_session
from upward.reminders import delivery, metrics
from upward.tenancy.manifest import ManifestError, validate_manifest


def _manifest(**extra: Any) -> dict[str, Any]:
    data = copy.deepcopy(SMALL_ORG)
    data.update(slug="m-notify", name="M", timezone="UTC")
    data["credential_types"] = [{"name": "Safety", "category": "training"}]
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"reminder_policies": [{"name": "x", "steps": []}]}, "at least one step"),
        (
            {
                "reminder_policies": [
                    {
                        "name": "x",
                        "steps": [
                            {"offset_days": -1, "recipients": ["boss"], "channels": ["email"]}
                        ],
                    }
                ]
            },
            "recipients",
        ),
        (
            {
                "reminder_policies": [
                    {
                        "name": "x",
                        "credential_type": "Nope",
                        "steps": [
                            {"offset_days": 0, "recipients": ["holder"], "channels": ["email"]}
                        ],
                    }
                ]
            },
            "not declared",
        ),
        ({"webhook_endpoints": [{"url": "http://127.0.0.1/x"}]}, "url"),
        (
            {"webhook_endpoints": [{"url": "https://a.example/x", "event_types": ["x.y"]}]},
            "unknown event type",
        ),
        (
            {
                "notification_templates": [
                    {"kind": "reminder", "subject": "$nope", "text": "t", "html": "h"}
                ]
            },
            "subject",
        ),
        ({"notification_preferences": [{"employee": "who@t.example"}]}, "employee"),
    ],
)
def test_manifest_sections_are_validated(section: dict[str, Any], problem: str) -> None:
    with pytest.raises(ManifestError) as exc:
        validate_manifest(_manifest(**section), "m.toml")
    assert problem in str(exc.value)


async def test_manifest_sections_apply_idempotently(owner_engine: AsyncEngine) -> None:
    from upward.tenancy.service import apply_manifest

    data = _manifest(
        slug=f"m-{datetime.now(UTC).strftime('%H%M%S%f')}",
        reminder_policies=[
            {
                "name": "Default",
                "steps": [{"offset_days": -7, "recipients": ["holder"], "channels": ["in_app"]}],
                "watchers": ["peer@t.example"],
            }
        ],
        webhook_endpoints=[{"url": "https://hooks.example.com/a", "event_types": ["*"]}],
        notification_preferences=[{"employee": "dev@t.example", "email_enabled": False}],
    )
    first = await apply_manifest(owner_engine, validate_manifest(data, "m.toml"))
    assert first.created["reminder_policies"] == 1 and first.created["webhook_endpoints"] == 1
    secret = (
        await rows(
            owner_engine,
            "select secret from webhook_endpoints where tenant_id = :t",
            t=first.tenant_id,
        )
    )[0].secret
    again = await apply_manifest(owner_engine, validate_manifest(data, "m.toml"))
    assert not again.changed
    same = (
        await rows(
            owner_engine,
            "select secret from webhook_endpoints where tenant_id = :t",
            t=first.tenant_id,
        )
    )[0].secret
    assert same == secret and secret.startswith("whsec_")


async def test_a_delivery_that_keeps_failing_dies_and_hr_can_retry_it(
    make_tenant: Any, gql: GQL, owner_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No SMTP server is configured here: every email attempt fails (transient) and retries
    with backoff until `delivery_max_attempts`, then the delivery is dead."""
    from upward.settings import reset_settings

    monkeypatch.setenv("UPWARD_DELIVERY_MAX_ATTEMPTS", "3")
    reset_settings()
    t: TenantInfo = await make_tenant(org())
    at = datetime(2026, 7, 2, 14, 30, tzinfo=UTC)
    try:
        await run_pass(t.id, at, deliver=False)
        p = await principal_of(t.id)
        email = (
            await rows(
                owner_engine,
                "select id from deliveries where tenant_id = :t and channel = 'email'",
                t=t.id,
            )
        )[0].id
        outcomes = []
        for _ in range(3):
            async with tenant_session(t.id) as s:
                outcomes.append(await delivery.attempt(s, p, email))
            at += timedelta(hours=2)
            clock.freeze(at)
        assert [o.status for o in outcomes] == ["pending", "pending", "dead"]
        attempts = await rows(
            owner_engine, "select error from delivery_attempts where delivery_id = :d", d=email
        )
        assert len(attempts) == 3 and all("SMTP" in a.error for a in attempts)
    finally:
        clock.freeze(None)
        monkeypatch.delenv("UPWARD_DELIVERY_MAX_ATTEMPTS")
        reset_settings()
    q = "{ failedDeliveries(first: 5, channel: EMAIL) { totalCount edges { node { id status lastError attempts } } } }"
    err = only_error(await gql(q, token=t.token("dev@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"
    got = await gql.ok(q, token=t.token("hr@t.example"))
    node = got["failedDeliveries"]["edges"][0]["node"]
    assert got["failedDeliveries"]["totalCount"] == 1 and node["status"] == "DEAD"
    assert "SMTP" in node["lastError"]
    retried = await gql.ok(
        "mutation($id: ID!) { retryDelivery(id: $id) { status attempts } }",
        {"id": node["id"]},
        token=t.token("hr@t.example"),
    )
    assert retried["retryDelivery"] == {"status": "PENDING", "attempts": 0}


async def test_metrics_report_deliveries_planner_and_queues(client: httpx.AsyncClient) -> None:
    metrics.count_deliveries([("email", "sent"), ("webhook", "dead"), ("in_app", "pending")])
    metrics.planned(3, 12.5)
    text = (await client.get("/metrics")).text
    assert 'upward_deliveries_total{channel="email",outcome="sent"}' in text
    assert 'upward_deliveries_total{channel="webhook",outcome="dead"}' in text
    assert 'upward_deliveries_total{channel="in_app",outcome="failed"}' in text
    assert "upward_planner_lag_seconds 12.5" in text
    assert "upward_reminders_planned_total" in text
    assert 'upward_queue_messages{queue="default",state="ready"}' in text


async def test_a_committed_mutation_asks_for_its_events_to_be_published(
    make_tenant: Any, gql: GQL
) -> None:
    """A transaction that recorded domain events enqueues `events.publish` for its tenant once
    it commits (once, however many events); one that recorded none, or was refused, does not."""
    import json

    from workers.broker import broker

    t: TenantInfo = await make_tenant()
    broker.flush_all()

    def queued() -> list[Any]:
        raw = broker.client.hvals(f"{broker.namespace}:default.msgs")
        return [m["args"] for m in map(json.loads, raw) if m["actor_name"] == "events.publish"]

    hr = t.token("hr@t.example")
    ctype = await gql.ok(
        'mutation { createCredentialType(input: {name: "First aid", category: OTHER, '
        "verificationRequired: true}) { credentialType { id } } }",
        token=hr,
    )
    assert queued() == []  # no event
    create = (
        "mutation($i: CreateCredentialInput!) { createCredential(input: $i) { credential { id } } }"
    )
    i = {
        "employeeId": t.gid("dev@t.example"),
        "credentialTypeId": ctype["createCredentialType"]["credentialType"]["id"],
        "issuedOn": "2026-01-10",
    }
    err = only_error(
        await gql(
            create,
            {"i": {**i, "employeeId": t.gid("hr@t.example")}},
            token=t.token("dev@t.example"),
        )
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert queued() == []
    await gql.ok(create, {"i": i}, token=hr)  # created + verified: two events, one kick
    assert queued() == [[str(t.id)]]
    broker.flush_all()
