"""GraphQL for audit events (tenant_admin only)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from upward.audit import service
from upward.graphql.lazy import Lazy
from upward.graphql.node import NODE_RESOLVERS, Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection
from upward.people.loaders import viewer_of
from upward.people.schema import Employee, _load_employee


@strawberry.enum
class ActorType(enum.Enum):
    EMPLOYEE = "employee"
    SYSTEM = "system"
    API_KEY = "api_key"


@strawberry.type(description="Who did what to which object, when, in which request.")
class AuditEvent(Node):
    id: strawberry.ID
    occurred_at: datetime
    actor_type: ActorType
    actor: Employee | None = strawberry.field(
        description="The employee who acted (null for the system or API keys)."
    )
    action: str = strawberry.field(description="e.g. employee.create, employee.change_manager")
    target_type: str
    target_id: strawberry.ID | None = strawberry.field(description="Global id of the target.")
    request_id: str | None
    changes: JSON = strawberry.field(description="Changed fields: {field: {from, to}}.")


def audit_obj(ctx: Any, viewer: Any, row: Any) -> AuditEvent:
    actor: Any = None
    if row.actor_id is not None and row.actor_type == "employee":
        aid = row.actor_id
        actor = Lazy(lambda: _load_employee(ctx, viewer, aid))
    return AuditEvent(
        id=to_global_id("AuditEvent", row.id),
        occurred_at=row.occurred_at,
        actor_type=ActorType(row.actor_type),
        actor=actor,
        action=row.action,
        target_type=row.target_type,
        # a global id only for targets `node` can resolve (not the tenant itself)
        target_id=to_global_id(row.target_type, row.target_id)
        if row.target_id and row.target_type in NODE_RESOLVERS
        else None,
        request_id=row.request_id,
        changes=row.changes,
    )


@register_node("AuditEvent")
async def _audit_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    principal = ctx.require_principal()
    principal.require_tenant_admin("reading audit events")
    viewer = await viewer_of(ctx)
    async with ctx.session() as s:
        rows = await service.get_events(s, ids)
    return {r.id: audit_obj(ctx, viewer, r) for r in rows}


@strawberry.input
class AuditEventFilter:
    action: str | None = None
    actor_id: strawberry.ID | None = None
    target_id: strawberry.ID | None = None
    target_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audit events, newest first (tenant_admin only).")
    async def audit_events(
        self,
        info: Info,
        filter: AuditEventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AuditEvent]:
        ctx = info.context
        principal = ctx.require_principal()
        principal.require_tenant_admin("reading audit events")
        f = filter or AuditEventFilter()
        target_id = None
        if f.target_id is not None:
            from upward.graphql.relay import from_global_id

            target_id = from_global_id(f.target_id, field="filter.targetId")[1]
        sf = service.AuditFilter(
            action=f.action,
            actor_id=expect_global_id(f.actor_id, "Employee", field="filter.actorId")
            if f.actor_id
            else None,
            target_id=target_id,
            target_type=f.target_type,
            since=f.since,
            until=f.until,
        )
        args = page_args(
            ctx, service.AUDIT_ORDER, first=first, after=after, last=last, before=before
        )
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            page = await service.list_events(
                s, principal, filter=sf, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, service.AUDIT_ORDER, lambda r: audit_obj(ctx, viewer, r))
