"""Delivering one delivery row: lock it, send it over its channel, record the outcome.

Exactly-once rests on the row, not on the broker: `attempt` takes the row with
`FOR UPDATE SKIP LOCKED` only while it is pending and due, keeps the lock while it sends, and
marks it sent in the same transaction. A duplicate message finds the row locked (skipped) or no
longer pending (nothing to do); a worker killed while sending loses its transaction, so the row
is still pending and the sweeper or the broker brings it back. The one window left is a crash
after the receiver accepted and before the commit (microseconds); emails carry a Message-ID and
webhooks a `webhook-id` that are the same on every attempt, so a receiver can drop that rare
duplicate.

Failures retry with exponential backoff and jitter (`integrations.webhooks.backoff_seconds`) up to
`delivery_max_attempts` (more than 24 hours), then the row is `dead`: listed in
`failedDeliveries` (in-app and email ones for HR, webhook ones for tenant admins), counted on
`/metrics`. A webhook endpoint answering 410 Gone is disabled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from upward import clock
from upward.auth.principal import Principal
from upward.db import Executor, fetch
from upward.graphql.relay import to_global_id
from upward.integrations import webhooks
from upward.reminders import email, templates
from upward.reminders.outbox import load_templates
from upward.settings import get_settings

MAX_RETRY_AFTER_SECONDS = 6 * 3600


@dataclass(frozen=True)
class Outcome:
    delivery_id: uuid.UUID
    channel: str
    status: str  # sent | pending (will retry) | dead | cancelled | skipped (not ours to do now)
    retry_in_seconds: float | None = None
    notify: tuple[uuid.UUID, uuid.UUID] | None = None  # (recipient, notification): in-app push


_CLAIM_SQL = """
select id, channel, notification_id, event_id, endpoint_id, attempts
from deliveries
where id = $1 and status = 'pending' and next_attempt_at <= $2
for update skip locked
"""


async def send_in_app(session: Executor, ids: list[uuid.UUID]) -> list[Outcome]:
    """Mark the pending, due in-app deliveries among `ids` sent, in one statement: the inbox
    row already exists, so "delivering" is recording it (and the caller's live push after the
    commit). Rows another worker holds are skipped, as `attempt` skips them."""
    now = clock.now()
    rows = await fetch(
        session,
        """
        update deliveries d set status = 'sent', attempts = d.attempts + 1, sent_at = $2,
               last_attempt_at = $2, updated_at = $2
        from notifications n
        where d.id in (select id from deliveries where id = any($1::uuid[])
                       and channel = 'in_app' and status = 'pending' and next_attempt_at <= $3
                       for update skip locked)
          and n.tenant_id = d.tenant_id and n.id = d.notification_id
        returning d.id, n.recipient_id, n.id as notification_id
        """,
        ids,
        now,
        now + timedelta(seconds=5),
    )
    return [
        Outcome(r["id"], "in_app", "sent", notify=(r["recipient_id"], r["notification_id"]))
        for r in rows
    ]


async def attempt(session: Executor, principal: Principal, delivery_id: uuid.UUID) -> Outcome:
    """One attempt at one delivery, inside the caller's transaction (one per delivery)."""
    now = clock.now()
    rows = await fetch(session, _CLAIM_SQL, delivery_id, now + timedelta(seconds=5))
    if not rows:
        return Outcome(delivery_id, "", "skipped")
    d = rows[0]
    if d["channel"] == "in_app":
        return await _in_app(session, d)
    if d["channel"] == "email":
        return await _email(session, principal, d)
    return await _webhook(session, principal, d)


async def _in_app(session: Executor, d: Any) -> Outcome:
    rows = await fetch(
        session,
        "select recipient_id from notifications where id = $1",
        d["notification_id"],
    )
    await _mark(session, d, "sent", status_code=None, error=None)
    notify = (rows[0]["recipient_id"], d["notification_id"]) if rows else None
    return Outcome(d["id"], "in_app", "sent", notify=notify)


_EMAIL_SQL = """
select n.id, n.kind, n.subject, n.body, n.data, e.email, e.name, e.status
from notifications n
join employees e on e.tenant_id = n.tenant_id and e.id = n.recipient_id
where n.id = $1
"""


async def _email(session: Executor, principal: Principal, d: Any) -> Outcome:
    rows = await fetch(session, _EMAIL_SQL, d["notification_id"])
    if not rows or rows[0]["status"] != "active":
        await _mark(session, d, "cancelled", status_code=None, error="recipient offboarded")
        return Outcome(d["id"], "email", "cancelled")
    n = rows[0]
    data = n["data"] or {}
    # the notification's template (older rows: by kind); none: the text written by the code
    kind = data.get("template", "digest" if n["kind"] == "digest" else "reminder")
    if kind is None:
        rendered = templates.Rendered(subject=n["subject"], text=n["body"], html="")
    else:
        template = (await load_templates(session, {kind})).get(kind) or templates.DEFAULTS.get(kind)
        try:
            if template is None:
                raise ValueError(f"unknown template kind {kind!r}")
            rendered = templates.render(kind, template, dict(data.get("context") or {}))
        except ValueError as exc:  # a context written by an older release: nothing will fix it
            await _mark(session, d, "dead", status_code=None, error=f"cannot render: {exc}")
            return Outcome(d["id"], "email", "dead")
    message = email.OutgoingEmail(
        to=email.recipient(n["name"], n["email"]),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=f"<{d['id']}@upward>",
        headers={"X-Upward-Tenant": principal.tenant_slug, "X-Upward-Delivery": str(d["id"])},
    )
    started = clock.now()
    try:
        result = (await email.send_batch([message]))[0]
    except email.SmtpNotConfigured as exc:
        result = email.SendResult(ok=False, permanent=False, error=str(exc))
    duration = int((clock.now() - started).total_seconds() * 1000)
    await _log_attempt(session, d, status_code=None, error=result.error, duration_ms=duration)
    if result.ok:
        await _mark(session, d, "sent", status_code=None, error=None)
        return Outcome(d["id"], "email", "sent")
    return await _failed(session, d, "email", error=result.error, permanent=result.permanent)


_WEBHOOK_SQL = """
select ev.id, ev.kind, ev.occurred_at, ev.payload, ep.url, ep.secret, ep.active,
       ep.previous_secret, ep.previous_secret_until
from domain_events ev
join webhook_endpoints ep on ep.tenant_id = ev.tenant_id and ep.id = $2
where ev.id = $1
"""


# payload keys that hold ids, and the GraphQL type whose global id a receiver can query
GLOBAL_IDS = {
    "credential_id": "Credential",
    "employee_id": "Employee",
    "credential_type_id": "CredentialType",
    "recipient_id": "Employee",
    "verified_by": "Employee",
    "superseded_ids": "Credential",
    "plan_id": "DevelopmentPlan",
    "goal_id": "PlanGoal",
    "actor_id": "Employee",
    "application_id": "Application",
    "posting_id": "JobPosting",
    "hiring_manager_id": "Employee",
    "kudos_id": "Kudos",
    "giver_id": "Employee",
    "receiver_ids": "Employee",
    "reward_id": "Reward",
    "redemption_id": "Redemption",
}


def _global(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key, type_name in GLOBAL_IDS.items():
        value = out.get(key)
        if isinstance(value, str):
            out[key] = to_global_id(type_name, uuid.UUID(value))
        elif isinstance(value, list):
            out[key] = [to_global_id(type_name, uuid.UUID(v)) for v in value]
    return out


def envelope(principal: Principal, event: Any) -> bytes:
    """The one event format every webhook receives (docs/events.md); ids in `data` are the
    API's global ids, so a receiver can query what the event is about."""
    return orjson.dumps(
        {
            "type": event["kind"],
            "id": str(event["id"]),
            "occurredAt": event["occurred_at"].isoformat().replace("+00:00", "Z"),
            "tenant": principal.tenant_slug,
            "data": _global(event["payload"] or {}),
        },
        option=orjson.OPT_SORT_KEYS,
    )


async def _webhook(session: Executor, principal: Principal, d: Any) -> Outcome:
    rows = await fetch(session, _WEBHOOK_SQL, d["event_id"], d["endpoint_id"])
    if not rows or not rows[0]["active"]:
        await _mark(session, d, "cancelled", status_code=None, error="endpoint disabled")
        return Outcome(d["id"], "webhook", "cancelled")
    ev = rows[0]
    settings = get_settings()
    body = envelope(principal, ev)
    now = clock.now()
    timestamp = int(now.timestamp())
    msg_id = f"msg_{ev['id'].hex}"
    headers = webhooks.signed_headers(ev["secret"], msg_id, timestamp, body)
    if ev["previous_secret"] and ev["previous_secret_until"] and ev["previous_secret_until"] > now:
        # a rotation's overlap: both signatures, so receivers on either secret accept it
        old_signature = webhooks.sign(ev["previous_secret"], msg_id, timestamp, body)
        headers["webhook-signature"] += " " + old_signature
    result = await webhooks.post(
        ev["url"],
        body,
        headers,
        timeout=settings.webhook_timeout_seconds,
        allow_private=settings.webhook_allow_private,
    )
    await _log_attempt(
        session,
        d,
        status_code=result.status_code,
        error=result.error,
        duration_ms=result.duration_ms,
        snippet=result.response_snippet,
    )
    if result.ok:
        await _mark(session, d, "sent", status_code=result.status_code, error=None)
        return Outcome(d["id"], "webhook", "sent")
    if result.gone:
        await fetch(
            session,
            "update webhook_endpoints set active = false, disabled_at = now(), updated_at = now(),"
            " disabled_reason = 'the endpoint answered 410 Gone' where id = $1",
            d["endpoint_id"],
        )
        await fetch(
            session,
            "update deliveries set status = 'cancelled', updated_at = now(), "
            "last_error = 'endpoint disabled (410 Gone)' "
            "where endpoint_id = $1 and status = 'pending' and id <> $2",
            d["endpoint_id"],
            d["id"],
        )
        await _mark(session, d, "dead", status_code=410, error="410 Gone: endpoint disabled")
        return Outcome(d["id"], "webhook", "dead")
    error = result.error or f"HTTP {result.status_code}"
    # not retryable: an unsafe target, or a 4xx that another try cannot change (an admin can
    # redeliver once the receiver is fixed)
    return await _failed(
        session,
        d,
        "webhook",
        error=error,
        permanent=not result.retryable,
        status_code=result.status_code,
        retry_after=result.retry_after_seconds,
    )


async def _failed(
    session: Executor,
    d: Any,
    channel: str,
    *,
    error: str | None,
    permanent: bool,
    status_code: int | None = None,
    retry_after: float | None = None,
) -> Outcome:
    settings = get_settings()
    attempts = d["attempts"] + 1
    if permanent or attempts >= settings.delivery_max_attempts:
        await _mark(session, d, "dead", status_code=status_code, error=error)
        return Outcome(d["id"], channel, "dead")
    delay = webhooks.backoff_seconds(attempts)
    if retry_after:  # the receiver asked for a pause (429/503 Retry-After), within reason
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    await fetch(
        session,
        "update deliveries set attempts = $2, next_attempt_at = $3, last_attempt_at = $4, "
        "last_status_code = $5, last_error = $6, updated_at = $4 where id = $1",
        d["id"],
        attempts,
        clock.now() + timedelta(seconds=delay),
        clock.now(),
        status_code,
        (error or "")[:2000],
    )
    return Outcome(d["id"], channel, "pending", retry_in_seconds=delay)


async def _mark(
    session: Executor, d: Any, status: str, *, status_code: int | None, error: str | None
) -> None:
    now = clock.now()
    await fetch(
        session,
        "update deliveries set status = $2, attempts = attempts + $3, last_attempt_at = $4, "
        "last_status_code = $5, last_error = $6, updated_at = $4, "
        "sent_at = case when $2 = 'sent' then $4 else sent_at end where id = $1",
        d["id"],
        status,
        0 if status == "cancelled" else 1,
        now,
        status_code,
        error[:2000] if error else None,
    )


async def _log_attempt(
    session: Executor,
    d: Any,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    snippet: str | None = None,
) -> None:
    await fetch(
        session,
        "insert into delivery_attempts (tenant_id, delivery_id, attempted_at, status_code, error,"
        " duration_ms, response_snippet) values (current_setting('app.tenant_id')::uuid, $1, $2,"
        " $3, $4, $5, $6)",
        d["id"],
        clock.now(),
        status_code,
        (error or None) and error[:2000],
        duration_ms,
        snippet[:4000] if snippet else None,
    )
