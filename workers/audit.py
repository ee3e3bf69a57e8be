"""Audit actors."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from upward.audit import service as audit
from upward.auth.principal import Principal
from workers.tenant_actor import tenant_actor

log = logging.getLogger("upward.workers.audit")


@tenant_actor("audit.prune_expired", max_retries=5)
async def prune_expired(session: AsyncSession, principal: Principal, **_: Any) -> int:
    """Delete audit events older than the tenant's retention (no retention: keep everything).
    Idempotent: a second run finds nothing more to delete."""
    from upward.tenancy.service import get_tenant

    tenant = await get_tenant(session, principal.tenant_id)
    if tenant is None or tenant.audit_retention_days is None:
        return 0
    deleted = await audit.prune_expired(session, retention_days=tenant.audit_retention_days)
    if deleted:
        await audit.record(
            session,
            principal,
            action="audit.prune",
            target_type="Tenant",
            target_id=principal.tenant_id,
            changes={"deleted": deleted, "retention_days": tenant.audit_retention_days},
        )
        log.info("pruned audit events", extra={"deleted": deleted})
    return deleted
