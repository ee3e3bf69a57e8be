"""credentials.record_status_events on the real Redis broker: once per credential and expiry,
however often it runs."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import dramatiq
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SMALL_ORG, TenantInfo


async def _run_worker(broker: Any, queue: str) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        await asyncio.to_thread(broker.join, queue, timeout=30_000)
        await asyncio.to_thread(worker.join)
    finally:
        await asyncio.to_thread(worker.stop)


async def _status_events(engine: AsyncEngine, t: TenantInfo) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "select kind, payload->>'credential_id' from domain_events where tenant_id = :t "
                "and kind in ('credential.expiring', 'credential.expired') order by kind"
            ),
            {"t": t.id},
        )
        return [(r[0], r[1]) for r in rows]


async def test_status_events_are_recorded_once(make_tenant: Any, owner_engine: AsyncEngine) -> None:
    from workers.broker import broker
    from workers.credentials import record_status_events

    org = copy.deepcopy(SMALL_ORG)
    org["credential_types"] = [{"name": "Safety", "category": "training", "validity_months": 12}]
    org["credentials"] = [
        # relative to the real today: the worker runs on its own thread, unfrozen
        {
            "employee": "dev@t.example",
            "credential_type": "Safety",
            "number": "A",
            "issued_on": "today-355d",
        },  # expiring in about 10 days
        {
            "employee": "lead@t.example",
            "credential_type": "Safety",
            "number": "B",
            "issued_on": "today-400d",
        },  # expired
        {
            "employee": "peer@t.example",
            "credential_type": "Safety",
            "number": "C",
            "issued_on": "today-10d",
        },  # active: nothing
    ]
    t: TenantInfo = await make_tenant(org)
    broker.flush_all()
    record_status_events.send(str(t.id))
    record_status_events.send(str(t.id))  # a duplicate delivery
    await _run_worker(broker, record_status_events.queue_name)
    first = await _status_events(owner_engine, t)
    assert [k for k, _ in first] == ["credential.expired", "credential.expiring"]
    record_status_events.send(str(t.id))  # the next hour's run
    await _run_worker(broker, record_status_events.queue_name)
    assert await _status_events(owner_engine, t) == first
    broker.flush_all()


async def test_pending_evidence_is_pruned(make_tenant: Any, owner_engine: AsyncEngine) -> None:
    from workers.broker import broker
    from workers.credentials import prune_pending_evidence

    t: TenantInfo = await make_tenant()
    async with owner_engine.begin() as conn:
        for age_hours, status in ((48, "pending"), (1, "pending"), (48, "stored")):
            await conn.execute(
                sa.text(
                    "insert into evidence_files (tenant_id, employee_id, file_name, media_type, "
                    "size_bytes, storage_key, status, created_at) values (:t, :e, 'f.pdf', "
                    "'application/pdf', 10, 'k', :s, now() - make_interval(hours => :h))"
                ),
                {"t": t.id, "e": t.ids["dev@t.example"], "s": status, "h": age_hours},
            )
    broker.flush_all()
    prune_pending_evidence.send(str(t.id))
    prune_pending_evidence.send(str(t.id))
    await _run_worker(broker, prune_pending_evidence.queue_name)
    async with owner_engine.connect() as conn:
        left = (
            await conn.execute(
                sa.text(
                    "select status, created_at > now() - interval '2 hours' from evidence_files "
                    "where tenant_id = :t order by status"
                ),
                {"t": t.id},
            )
        ).all()
    assert [tuple(r) for r in left] == [("pending", True), ("stored", False)]
