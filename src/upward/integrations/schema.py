"""GraphQL for webhook endpoints and their delivery log (tenant_admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection
from upward.integrations import service
from upward.reminders.schema import PAGE_DOC, Delivery, DeliveryStatus, delivery_obj


@strawberry.type(description="A URL that receives signed event deliveries (Standard Webhooks).")
class WebhookEndpoint(Node):
    id: strawberry.ID
    url: str
    description: str | None
    event_types: list[str] = strawberry.field(
        description="Event types it receives: exact (`credential.expired`), a family "
        "(`credential.*`) or `*`."
    )
    active: bool
    disabled_reason: str | None = strawberry.field(
        description="Why Upward disabled it (e.g. it answered 410 Gone)."
    )
    disabled_at: datetime | None
    previous_secret_until: datetime | None = strawberry.field(
        description="After a rotation, the old secret also signs until then."
    )
    created_at: datetime
    updated_at: datetime


def endpoint_obj(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=to_global_id("WebhookEndpoint", row.id),
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        active=row.active,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        previous_secret_until=row.previous_secret_until if row.previous_secret else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@register_node("WebhookEndpoint")
async def _endpoint_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    p = ctx.require_principal()
    if not p.is_tenant_admin:
        return {}
    async with ctx.session() as s:
        rows = await service.endpoints_by_ids(s, p, ids)
    return {r.id: endpoint_obj(r) for r in rows}


@strawberry.type(description="An endpoint with its signing secret, shown only this once.")
class WebhookEndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="`whsec_...`: verify `webhook-signature` with it (docs/events.md)."
    )


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    event_types: list[str]
    description: str | None = None
    active: bool = True


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateWebhookEndpointInput:
    url: str | None = strawberry.UNSET
    event_types: list[str] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type
class IntegrationsQuery:
    @strawberry.field(description="Every event type a webhook can subscribe to.")
    def webhook_event_types(self) -> list[str]:
        return list(service.EVENT_TYPES)

    @strawberry.field(description="Webhook endpoints, oldest first (tenant_admin). " + PAGE_DOC)
    async def webhook_endpoints(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[WebhookEndpoint]:
        ctx = info.context
        p = ctx.require_principal()
        args = page_args(
            ctx, service.ENDPOINT_ORDER, first=first, after=after, last=last, before=before
        )
        async with ctx.session() as s:
            page = await service.list_endpoints(
                s, p, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, service.ENDPOINT_ORDER, endpoint_obj)

    @strawberry.field(
        description="The webhook delivery log, newest first, with each try's status code "
        "(tenant_admin). " + PAGE_DOC
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID | None = None,
        status: DeliveryStatus | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Delivery]:
        ctx = info.context
        p = ctx.require_principal()
        eid = (
            expect_global_id(endpoint_id, "WebhookEndpoint", field="endpointId")
            if endpoint_id
            else None
        )
        args = page_args(
            ctx, service.DELIVERY_ORDER, first=first, after=after, last=last, before=before
        )
        async with ctx.session() as s:
            page = await service.list_deliveries(
                s,
                p,
                endpoint_id=eid,
                status=status.value if status else None,
                page=args,
                with_count=wants_total(Selection(info)),
            )
        return build_connection(ctx, page, service.DELIVERY_ORDER, lambda r: delivery_obj(ctx, r))


@strawberry.type
class IntegrationsMutation:
    @strawberry.mutation(
        description="Register a webhook endpoint (tenant_admin); its secret is shown only now. "
        "Only public http(s) URLs."
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointWithSecret:
        async with info.context.mutation() as (s, p):
            row, secret = await service.create_endpoint(
                s,
                p,
                url=input.url,
                event_types=input.event_types,
                description=input.description,
                active=input.active,
            )
        return WebhookEndpointWithSecret(endpoint=endpoint_obj(row), secret=secret)

    @strawberry.mutation(description="Change a webhook endpoint; `active: true` re-enables it.")
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpoint:
        raw = expect_global_id(id, "WebhookEndpoint", field="id")
        patch = {
            k: v
            for k, v in {
                "url": input.url,
                "event_types": input.event_types,
                "description": input.description,
                "active": input.active,
            }.items()
            if v is not strawberry.UNSET
        }
        async with info.context.mutation() as (s, p):
            row = await service.update_endpoint(s, p, raw, patch)
        return endpoint_obj(row)

    @strawberry.mutation(
        description="A new signing secret, shown only now. For `overlapHours` (default 24, at "
        "most 168) deliveries carry signatures by both secrets, so the receiver can switch "
        "without rejecting any; 0 retires the old secret at once (it leaked)."
    )
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID, overlap_hours: int = 24
    ) -> WebhookEndpointWithSecret:
        raw = expect_global_id(id, "WebhookEndpoint", field="id")
        async with info.context.mutation() as (s, p):
            row, secret = await service.rotate_secret(s, p, raw, overlap_hours=overlap_hours)
        return WebhookEndpointWithSecret(endpoint=endpoint_obj(row), secret=secret)

    @strawberry.mutation(description="Remove a webhook endpoint and its delivery log.")
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> bool:
        raw = expect_global_id(id, "WebhookEndpoint", field="id")
        async with info.context.mutation() as (s, p):
            await service.delete_endpoint(s, p, raw)
        return True

    @strawberry.mutation(
        description="Send a webhook delivery again now, whatever its state (sent, dead, "
        "cancelled, waiting for a retry): same event id and body, a new signature."
    )
    async def redeliver_webhook_delivery(self, info: Info, id: strawberry.ID) -> Delivery:
        ctx = info.context
        raw = expect_global_id(id, "Delivery", field="id")
        async with ctx.mutation() as (s, p):
            row = await service.redeliver(s, p, raw)
        return delivery_obj(ctx, row)
