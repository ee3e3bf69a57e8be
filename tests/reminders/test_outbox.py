"""The outbox on the real database: a frozen clock walked across a whole ladder."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SMALL_ORG, TenantInfo
from tests.reminders.helpers import rows, run_pass
from upward import clock

EXPIRES = date(2026, 9, 30)  # a Wednesday


def org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["credential_types"] = [{"name": "Safety", "category": "training", "validity_months": 12}]
    o["credentials"] = [
        {
            "employee": "dev@t.example",
            "credential_type": "Safety",
            "number": "S-1",
            "issued_on": EXPIRES - timedelta(days=365),
            "expires_on": EXPIRES,
        }
    ]
    return o


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    try:
        yield await make_tenant(org())
    finally:
        clock.freeze(None)


async def _sent(engine: AsyncEngine, t: TenantInfo) -> list[Any]:
    return await rows(
        engine,
        "select r.offset_days, e.email, r.digest, r.notification_id is not null as has_n "
        "from reminders r join employees e on e.tenant_id = r.tenant_id and e.id = r.recipient_id "
        "where r.tenant_id = :t order by r.created_at, r.offset_days, e.email",
        t=t.id,
    )


async def test_hourly_ticks_across_the_ladder_send_each_step_once(
    t: TenantInfo, owner_engine: AsyncEngine
) -> None:
    start = datetime(2026, 6, 20, 0, 0, tzinfo=UTC)
    at = start
    while at < datetime(2026, 11, 15, tzinfo=UTC):
        await run_pass(t.id, at)
        at += timedelta(hours=1)
    sent = await _sent(owner_engine, t)
    holder = [r.offset_days for r in sent if r.email == "dev@t.example"]
    manager = [r.offset_days for r in sent if r.email == "lead@t.example"]
    hr = [r.offset_days for r in sent if r.email == "hr@t.example"]
    assert holder == [-90, -60, -30, -7, 0, 7, 30]
    assert manager == [-30, -7, 0, 7, 30]
    assert hr == [7, 30]
    # the holder's come one by one; the manager's and HR's went into digests
    assert all(not r.digest and r.has_n for r in sent if r.email == "dev@t.example")
    assert all(r.digest and r.has_n for r in sent if r.email != "dev@t.example")
