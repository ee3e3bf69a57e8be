"""Reminder and notification actors: scan, plan, digest, publish events, deliver, sweep.

Every actor is idempotent: what it writes has a unique key (a second run inserts nothing), and a
delivery is attempted only while its row is pending and locked by the attempt. Messages carry
the tenant and plain values; nothing a message names is trusted beyond what the tenant session
(RLS) lets it see, so a message for tenant A naming tenant B's ids finds nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from typing import Any

from upward.auth.principal import Principal
from upward.db import Executor, after_commit, tenant_session
from upward.reminders import delivery, metrics, outbox
from upward.settings import get_settings
from workers.tenant_actor import tenant_actor

log = logging.getLogger("upward.workers.reminders")
DELIVER_CHUNK = 50
# deliveries have their own queue: a burst of planning messages does not hold them back
DELIVERY_QUEUE = "deliveries"


def _bound(value: list[str] | None) -> outbox.Bound:
    return None if value is None else (date.fromisoformat(value[0]), uuid.UUID(value[1]))


def _wire(bound: outbox.Bound) -> list[str] | None:
    return None if bound is None else [bound[0].isoformat(), str(bound[1])]


def enqueue_deliveries(tenant_id: uuid.UUID, ids: list[uuid.UUID], delay_ms: int = 0) -> None:
    for i in range(0, len(ids), DELIVER_CHUNK):
        chunk = [str(x) for x in ids[i : i + DELIVER_CHUNK]]
        deliver.send_with_options(args=(str(tenant_id),), kwargs={"ids": chunk}, delay=delay_ms)


@tenant_actor("reminders.scan_tenant", max_retries=5)
async def scan_tenant(session: Executor, principal: Principal, **_: Any) -> None:
    """Enqueue one planning message per batch of credentials in the ladder window (keyset
    bounds only: the scan holds one key at a time, whatever the tenant's size)."""
    batches = 0
    async for batch in outbox.scan_batches(session, principal):
        plan_batch.send(
            str(principal.tenant_id),
            after=_wire(batch.after),
            until=_wire(batch.until),
            lo=batch.lo.isoformat(),
            hi=batch.hi.isoformat(),
        )
        batches += 1
    log.info("reminder scan enqueued", extra={"batches": batches})


@tenant_actor("reminders.plan_batch", max_retries=10)
async def plan_batch(
    session: Executor,
    principal: Principal,
    *,
    after: list[str] | None,
    until: list[str] | None,
    lo: str,
    hi: str,
    **_: Any,
) -> None:
    batch = outbox.Batch(
        _bound(after), _bound(until), date.fromisoformat(lo), date.fromisoformat(hi)
    )
    planned = await outbox.plan_batch(session, principal, batch)
    if planned.reminders:
        ids = list(planned.deliveries or [])
        after_commit(session, lambda: enqueue_deliveries(principal.tenant_id, ids))
        after_commit(session, lambda: metrics.planned(planned.reminders, planned.max_lag_seconds))
        log.info(
            "planned reminders",
            extra={"reminders": planned.reminders, "notifications": planned.notifications},
        )


@tenant_actor("reminders.send_digests", max_retries=10)
async def send_digests(session: Executor, principal: Principal, **_: Any) -> None:
    created = await outbox.build_digests(session, principal)
    if created.notification_ids:
        ids = created.delivery_ids
        after_commit(session, lambda: enqueue_deliveries(principal.tenant_id, ids))
        log.info("digests created", extra={"digests": len(created.notification_ids)})


@tenant_actor("events.publish", max_retries=10)
async def publish_events(session: Executor, principal: Principal, **_: Any) -> None:
    """Unpublished domain events -> webhook deliveries; a full batch re-enqueues itself."""
    events, ids = await outbox.publish_events(session)
    if ids:
        after_commit(session, lambda: enqueue_deliveries(principal.tenant_id, ids))
    if events >= 500:
        after_commit(session, lambda: publish_events.send(str(principal.tenant_id)))


@tenant_actor(
    "notifications.deliver",
    queue_name=DELIVERY_QUEUE,
    max_retries=3,
    transaction=False,
    # 50 emails or webhook calls at up to UPWARD_WEBHOOK_TIMEOUT_SECONDS each can outlast the
    # broker's default 5 minutes; what a cut-off chunk left pending the sweeper brings back
    time_limit=30 * 60 * 1000,
)
async def deliver(principal: Principal, *, ids: list[str], **_: Any) -> None:
    """In-app deliveries of the chunk in one statement; every other delivery in its own
    transaction (an email or a webhook call is an outside effect): a crash loses at most the
    one in flight (its row stays pending), and what was sent before it stays sent."""
    wanted = [uuid.UUID(raw) for raw in ids]
    async with tenant_session(principal.tenant_id) as session:
        in_app = await delivery.send_in_app(session, wanted)
    done = {o.delivery_id for o in in_app}
    outcomes: list[tuple[str, str]] = [(o.channel, o.status) for o in in_app]
    for o in in_app:
        assert o.notify is not None
        _push(principal, *o.notify)
    for did in wanted:
        if did in done:
            continue
        async with tenant_session(principal.tenant_id) as session:
            outcome = await delivery.attempt(session, principal, did)
        outcomes.append((outcome.channel, outcome.status))
        if outcome.retry_in_seconds is not None:
            enqueue_deliveries(
                principal.tenant_id, [outcome.delivery_id], int(outcome.retry_in_seconds * 1000)
            )
        if outcome.notify is not None:
            _push(principal, *outcome.notify)
    metrics.count_deliveries(outcomes)


def _push(principal: Principal, recipient: uuid.UUID, notification: uuid.UUID) -> None:
    """In-app: publish on a Redis channel per recipient for live clients. Nothing reads it yet:
    GraphQL subscriptions are partner-access work (issue 9); the inbox does not depend on it."""
    from workers.broker import redis_client

    ns = get_settings().dramatiq_namespace
    try:
        redis_client().publish(
            f"{ns}:notifications:{principal.tenant_id}:{recipient}", str(notification)
        )
    except Exception:
        log.warning("in-app push failed (the inbox still has it)", exc_info=True)


@tenant_actor("notifications.sweep", max_retries=3)
async def sweep(session: Executor, principal: Principal, **_: Any) -> None:
    """Re-enqueue deliveries left pending past the sweep timeout (lost message, dead worker)."""
    ids = await outbox.overdue_deliveries(
        session, older_than_seconds=get_settings().delivery_sweep_seconds
    )
    if ids:
        after_commit(session, lambda: enqueue_deliveries(principal.tenant_id, ids))
        log.info("re-enqueued overdue deliveries", extra={"deliveries": len(ids)})
