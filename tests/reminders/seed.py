"""Baseline notification data for the demo tenants at test session start: one scheduler pass
(reminders, notifications, digests, deliveries, attempts) and one acknowledged credential each,
so every notification table has rows for the isolation tests to hide."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from tests.reminders.helpers import principal_of, run_pass
from upward import clock
from upward.db import tenant_session
from upward.reminders import service


async def seed_notifications(tenant_ids: list) -> None:
    today = datetime.now(UTC).date()
    while today.weekday() >= 5:  # a weekday: the demo policies do not send on weekends
        today += timedelta(days=1)
    try:
        for tid in tenant_ids:
            # 09:30 New York, 15:30 Berlin: inside both demo tenants' send windows
            at = datetime.combine(today, time(14, 30), tzinfo=UTC)
            await run_pass(tid, at)
            await run_pass(tid, at + timedelta(minutes=45))  # digests, after their delay
            p = await principal_of(tid)
            async with tenant_session(tid) as s:
                cred = await s.scalar(
                    sa.text(
                        "select id from credentials where expires_on is not null and "
                        "revoked_at is null and superseded_by_id is null order by expires_on limit 1"
                    )
                )
                await service.acknowledge(s, p, cred, renewal_in_progress=True)
    finally:
        clock.freeze(None)
