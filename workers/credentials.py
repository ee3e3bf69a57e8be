"""Credentials actors."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from upward.auth.principal import Principal
from upward.credentials import service
from workers.tenant_actor import tenant_actor

log = logging.getLogger("upward.workers.credentials")


@tenant_actor("credentials.record_status_events", max_retries=5)
async def record_status_events(session: AsyncSession, principal: Principal, **_: Any) -> None:
    """Record `credential.expiring` / `credential.expired` domain events for credentials that
    reached those states (derived on today's date in the tenant's zone). Idempotent: each event
    has a key per credential and expiry date, inserted with ON CONFLICT DO NOTHING."""
    recorded = await service.record_status_events(session, principal)
    if recorded:
        log.info("recorded credential status events", extra={"recorded": recorded})


@tenant_actor("credentials.prune_pending_evidence", max_retries=5)
async def prune_pending_evidence(session: AsyncSession, principal: Principal, **_: Any) -> None:
    """Delete evidence rows declared but never uploaded, a day after their upload URL expired.
    Idempotent: a second run finds nothing more."""
    from upward.settings import get_settings

    ttl = get_settings().upload_url_ttl_seconds
    deleted = await service.prune_pending_evidence(session, older_than_seconds=ttl + 24 * 3600)
    if deleted:
        log.info("pruned pending evidence", extra={"deleted": deleted})
