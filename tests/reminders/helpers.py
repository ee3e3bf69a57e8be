"""Run what the scheduler and the actors do, inline on the real database, at a frozen time."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from upward import clock
from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.reminders import delivery, outbox


async def principal_of(tenant_id: uuid.UUID) -> Principal:
    async with tenant_session(tenant_id) as s:
        row = (
            await s.execute(
                sa.text("select slug, timezone from tenants where id = :t"), {"t": tenant_id}
            )
        ).one()
    return Principal.system(tenant_id, row.slug, row.timezone)


async def run_pass(tenant_id: uuid.UUID, at: datetime, *, deliver: bool = True) -> list[uuid.UUID]:
    """One scheduler pass at `at`: scan, plan every batch, build digests, publish events;
    then (optionally) attempt every new delivery. Returns the new delivery ids."""
    clock.freeze(at)
    p = await principal_of(tenant_id)
    new: list[uuid.UUID] = []
    async with tenant_session(tenant_id) as s:
        batches = [b async for b in outbox.scan_batches(s, p)]
    for b in batches:
        async with tenant_session(tenant_id) as s:
            planned = await outbox.plan_batch(s, p, b)
            new += planned.deliveries or []
    async with tenant_session(tenant_id) as s:
        new += (await outbox.build_digests(s, p)).delivery_ids
    async with tenant_session(tenant_id) as s:
        new += (await outbox.publish_events(s))[1]
    if deliver:
        for d in new:
            async with tenant_session(tenant_id) as s:
                await delivery.attempt(s, p, d)
    return new


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.text(sql), params)).all())
