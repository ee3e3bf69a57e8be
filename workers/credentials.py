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
