"""Audit: every mutation records who did what to which target, in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from upward.audit.models import AuditEvent
from upward.auth.principal import Principal
from upward.db import Executor
from upward.observability import request_id_var
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.validation import reject_nul

t_audit = AuditEvent.__table__


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{field: {"from": old, "to": new}} for every field whose value changed."""
    return {
        k: {"from": _jsonable(before.get(k)), "to": _jsonable(v)}
        for k, v in after.items()
        if before.get(k) != v
    }


async def record(
    session: Executor,
    principal: Principal,
    *,
    action: str,
    target_type: str,
    target_id: uuid.UUID | None,
    changes: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        sa.insert(t_audit).values(
            tenant_id=principal.tenant_id,
            actor_type=principal.actor_type,
            actor_id=principal.actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            request_id=request_id_var.get(),
            changes=_jsonable(changes or {}),
        )
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor_id: uuid.UUID | None = None
    target_id: uuid.UUID | None = None
    target_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


AUDIT_ORDER = Order(
    key="audit:time_desc",
    columns=(t_audit.c.occurred_at, t_audit.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


async def list_events(
    session: Executor,
    principal: Principal,
    *,
    filter: AuditFilter,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    principal.require_tenant_admin("reading audit events")
    for name in ("action", "target_type"):
        reject_nul(getattr(filter, name), field=f"filter.{name}")
    conds: list[Any] = []
    if filter.action:
        conds.append(t_audit.c.action == filter.action)
    if filter.actor_id:
        conds.append(t_audit.c.actor_id == filter.actor_id)
    if filter.target_id:
        conds.append(t_audit.c.target_id == filter.target_id)
    if filter.target_type:
        conds.append(t_audit.c.target_type == filter.target_type)
    if filter.since:
        conds.append(t_audit.c.occurred_at >= filter.since)
    if filter.until:
        conds.append(t_audit.c.occurred_at < filter.until)
    stmt = sa.select(t_audit).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_audit).where(*conds)
    return await paginate(session, stmt, AUDIT_ORDER, page, count_stmt=count, with_count=with_count)


async def get_events(session: Executor, ids: list[uuid.UUID]) -> list[Any]:
    return list((await session.execute(sa.select(t_audit).where(t_audit.c.id.in_(ids)))).all())


async def prune_expired(session: Executor, *, retention_days: int) -> int:
    """Delete events older than the retention; returns how many were deleted."""
    result = await session.execute(
        sa.delete(t_audit).where(
            t_audit.c.occurred_at < sa.func.now() - sa.func.make_interval(0, 0, 0, retention_days)
        )
    )
    return result.rowcount or 0
