"""Webhook endpoints (tenant_admin): register, change, rotate the secret, remove; the delivery
log and redelivery. Deliveries themselves are `reminders.delivery` (one state machine for
every channel)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, grouped, is_unique_violation
from upward.errors import BadUserInput, Conflict, NotFound
from upward.integrations import webhooks
from upward.integrations.models import WebhookEndpoint
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.validation import optional_text
from upward.reminders.models import Delivery, DeliveryAttempt
from upward.reminders.service import requeue
from upward.settings import get_settings

t_endpoint = WebhookEndpoint.__table__
t_delivery = Delivery.__table__
t_attempt = DeliveryAttempt.__table__

# every event type Upward emits (docs/events.md); a subscription may also say `*` or `family.*`
EVENT_TYPES = (
    "credential.created",
    "credential.renewed",
    "credential.verified",
    "credential.rejected",
    "credential.revoked",
    "credential.updated",
    "credential.expiring",
    "credential.expired",
    "reminder.sent",
    "idp.submitted",
    "idp.approved",
    "idp.changes_requested",
    "idp.goal_completed",
    "idp.completed",
    "idp.targets_changed",
    "application.hired",
    "employee.moved",
    "posting.opened",
    "posting.updated",
    "posting.closed",
    "posting.filled",
    "career_preferences.changed",
    "employee.skills_changed",
    "employee.placed",
    "kudos.given",
    "redemption.requested",
    "redemption.approved",
    "redemption.declined",
)
MAX_ENDPOINTS = 50
URL_TAKEN = "an endpoint with this URL exists: change that one"

ENDPOINT_ORDER = Order(
    key="webhook_endpoints:created",
    columns=(t_endpoint.c.created_at, t_endpoint.c.id),
    parse=(datetime.fromisoformat, uuid.UUID),
)
DELIVERY_ORDER = Order(
    key="webhook_deliveries:created_desc",
    columns=(t_delivery.c.created_at, t_delivery.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


def check_event_types(values: Sequence[str], *, field: str) -> list[str]:
    out = list(dict.fromkeys(v.strip() for v in values))
    if not out:
        raise BadUserInput("subscribe to at least one event type (or `*`)", field=field)
    families = {t.split(".")[0] for t in EVENT_TYPES}
    for i, v in enumerate(out):
        ok = v == "*" or v in EVENT_TYPES or (v.endswith(".*") and v[:-2] in families)
        if not ok:
            raise BadUserInput(
                f"unknown event type {v!r}: use one of {', '.join(EVENT_TYPES)}, "
                "a family such as `credential.*`, or `*`",
                field=f"{field}.{i}",
            )
    return out


def check_url(url: str, *, field: str) -> str:
    try:
        return webhooks.check_url_syntax(
            url.strip(), allow_private=get_settings().webhook_allow_private
        )
    except webhooks.UnsafeTarget as exc:
        raise BadUserInput(str(exc), field=field) from None


async def _write(session: Executor, stmt: Any) -> Any:
    """Insert or update an endpoint; a URL another request took meanwhile is a CONFLICT (the
    unique key decides, after `_url_free`'s friendlier check)."""
    try:
        async with session.begin_nested():
            return (await session.execute(stmt.returning(t_endpoint))).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, "webhook_endpoints_url_key"):
            raise Conflict(URL_TAKEN, field="input.url") from None
        raise


async def _url_free(session: Executor, url: str) -> None:
    taken = await session.scalar(sa.select(t_endpoint.c.id).where(t_endpoint.c.url == url))
    if taken is not None:
        raise Conflict(URL_TAKEN, field="input.url")


async def list_endpoints(
    session: Executor, principal: Principal, *, page: PageArgs, with_count: bool = False
) -> Page:
    principal.require_tenant_admin("managing webhooks")
    stmt = sa.select(t_endpoint)
    count = sa.select(sa.func.count()).select_from(t_endpoint)
    return await paginate(
        session, stmt, ENDPOINT_ORDER, page, count_stmt=count, with_count=with_count
    )


async def get_endpoint(
    session: Executor, principal: Principal, endpoint_id: uuid.UUID, *, field: str = "id"
) -> Any:
    principal.require_tenant_admin("managing webhooks")
    row = (
        await session.execute(sa.select(t_endpoint).where(t_endpoint.c.id == endpoint_id))
    ).first()
    if row is None:
        raise NotFound("no webhook endpoint with this id", field=field)
    return row


async def endpoints_by_ids(
    session: Executor, principal: Principal, ids: list[uuid.UUID]
) -> list[Any]:
    principal.require_tenant_admin("managing webhooks")
    stmt = sa.select(t_endpoint).where(t_endpoint.c.id.in_(ids))
    return list((await session.execute(stmt)).all())


async def create_endpoint(
    session: Executor,
    principal: Principal,
    *,
    url: str,
    event_types: Sequence[str],
    description: str | None = None,
    active: bool = True,
) -> tuple[Any, str]:
    """Register an endpoint; returns it with its signing secret (shown this once)."""
    principal.require_tenant_admin("managing webhooks")
    url = check_url(url, field="input.url")
    types = check_event_types(event_types, field="input.eventTypes")
    description = optional_text(description, field="input.description", max_len=500)
    n = await session.scalar(sa.select(sa.func.count()).select_from(t_endpoint))
    if (n or 0) >= MAX_ENDPOINTS:
        raise BadUserInput(f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints", field="input")
    await _url_free(session, url)
    secret = webhooks.new_secret()
    row = await _write(
        session,
        sa.insert(t_endpoint).values(
            tenant_id=principal.tenant_id,
            url=url,
            event_types=types,
            description=description,
            active=active,
            secret=secret,
            created_by=principal.employee_id,
        ),
    )
    await audit.record(
        session,
        principal,
        action="webhook_endpoint.create",
        target_type="WebhookEndpoint",
        target_id=row.id,
        changes={"url": url, "event_types": types, "active": active},
    )
    return row, secret


async def update_endpoint(
    session: Executor, principal: Principal, endpoint_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    before = await get_endpoint(session, principal, endpoint_id)
    values: dict[str, Any] = {}
    if "url" in patch:
        values["url"] = check_url(patch["url"] or "", field="input.url")
        if values["url"] != before.url:
            await _url_free(session, values["url"])
    if "event_types" in patch:
        values["event_types"] = check_event_types(
            patch["event_types"] or [], field="input.eventTypes"
        )
    if "description" in patch:
        values["description"] = optional_text(
            patch["description"], field="input.description", max_len=500
        )
    if "active" in patch and patch["active"] is not None:
        values["active"] = bool(patch["active"])
        if values["active"]:  # re-enabling clears why it was disabled
            values["disabled_reason"], values["disabled_at"] = None, None
    if not values:
        return before
    row = await _write(
        session,
        sa.update(t_endpoint)
        .where(t_endpoint.c.id == endpoint_id)
        .values(**values, updated_at=clock.now()),
    )
    await audit.record(
        session,
        principal,
        action="webhook_endpoint.update",
        target_type="WebhookEndpoint",
        target_id=endpoint_id,
        changes=audit.diff({k: getattr(before, k) for k in values}, values),
    )
    return row


MAX_OVERLAP_HOURS = 7 * 24


async def rotate_secret(
    session: Executor, principal: Principal, endpoint_id: uuid.UUID, *, overlap_hours: int = 24
) -> tuple[Any, str]:
    """A new signing secret. For `overlap_hours` the old one signs too (each delivery carries
    both signatures), so the receiver can switch whenever it likes within that time; 0 stops
    the old secret at once (a leaked secret)."""
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise BadUserInput(f"must be between 0 and {MAX_OVERLAP_HOURS}", field="overlapHours")
    before = await get_endpoint(session, principal, endpoint_id)
    secret = webhooks.new_secret()
    now = clock.now()
    row = (
        await session.execute(
            sa.update(t_endpoint)
            .where(t_endpoint.c.id == endpoint_id)
            .values(
                secret=secret,
                previous_secret=before.secret if overlap_hours else None,
                previous_secret_until=now + timedelta(hours=overlap_hours)
                if overlap_hours
                else None,
                updated_at=now,
            )
            .returning(t_endpoint)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="webhook_endpoint.rotate_secret",
        target_type="WebhookEndpoint",
        target_id=endpoint_id,
        changes={"overlap_hours": overlap_hours},
    )
    return row, secret


async def delete_endpoint(session: Executor, principal: Principal, endpoint_id: uuid.UUID) -> None:
    row = await get_endpoint(session, principal, endpoint_id)
    await session.execute(sa.delete(t_endpoint).where(t_endpoint.c.id == endpoint_id))
    await audit.record(
        session,
        principal,
        action="webhook_endpoint.delete",
        target_type="WebhookEndpoint",
        target_id=endpoint_id,
        changes={"url": row.url},
    )


async def list_deliveries(
    session: Executor,
    principal: Principal,
    *,
    endpoint_id: uuid.UUID | None,
    status: str | None,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    principal.require_tenant_admin("reading webhook deliveries")
    conds = [t_delivery.c.channel == "webhook"]
    if endpoint_id is not None:
        conds.append(t_delivery.c.endpoint_id == endpoint_id)
    if status is not None:
        conds.append(t_delivery.c.status == status)
    stmt = sa.select(t_delivery).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_delivery).where(*conds)
    return await paginate(
        session, stmt, DELIVERY_ORDER, page, count_stmt=count, with_count=with_count
    )


async def attempts_of(
    session: Executor, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """Every delivery's attempt log, oldest first, in one statement (DataLoader batch)."""
    rows = (
        await session.execute(
            sa.select(t_attempt)
            .where(t_attempt.c.delivery_id.in_(delivery_ids))
            .order_by(t_attempt.c.delivery_id, t_attempt.c.attempted_at, t_attempt.c.id)
        )
    ).all()
    return grouped(rows, delivery_ids, lambda r: r.delivery_id)


async def redeliver(session: Executor, principal: Principal, delivery_id: uuid.UUID) -> Any:
    """Send a webhook delivery again (sent, dead or cancelled): same event id and body, new
    signature timestamp; the attempt log keeps what happened before."""
    principal.require_tenant_admin("redelivering webhooks")
    row = (
        await session.execute(
            sa.select(t_delivery).where(
                t_delivery.c.id == delivery_id, t_delivery.c.channel == "webhook"
            )
        )
    ).first()
    if row is None:
        raise NotFound("no webhook delivery with this id", field="id")
    endpoint = await get_endpoint(session, principal, row.endpoint_id, field="id")
    if not endpoint.active:
        raise BadUserInput("the endpoint is disabled: enable it first", field="id")
    return await requeue(session, principal, row, action="webhook_delivery.redeliver")
