"""Workers on the real Redis: a tenant actor end to end, idempotency, and the scheduler's lock."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TenantInfo


@pytest.fixture
def broker() -> Any:
    from workers.broker import broker

    broker.flush_all()
    yield broker
    broker.flush_all()


async def _run_worker(broker: Any, queue: str) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        await asyncio.to_thread(broker.join, queue, timeout=30_000)
        await asyncio.to_thread(worker.join)
    finally:
        await asyncio.to_thread(worker.stop)


async def _audit(engine: AsyncEngine, t: TenantInfo) -> list[Any]:
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.text(
                        "select action, changes, occurred_at from audit_events where tenant_id = :t "
                        "order by occurred_at"
                    ),
                    {"t": t.id},
                )
            ).all()
        )


async def test_prune_actor_end_to_end_and_idempotent(
    broker: Any, make_tenant: Any, owner_engine: AsyncEngine
) -> None:
    from workers.audit import prune_expired

    t: TenantInfo = await make_tenant()
    other: TenantInfo = await make_tenant()
    async with owner_engine.begin() as conn:
        for tenant in (t, other):
            await conn.execute(
                sa.text("update tenants set audit_retention_days = 30 where id = :t"),
                {"t": tenant.id},
            )
            for days in (45, 31, 5):
                await conn.execute(
                    sa.text(
                        "insert into audit_events (tenant_id, actor_type, action, target_type, occurred_at) "
                        "values (:t, 'system', 'test.old', 'Tenant', now() - make_interval(days => :d))"
                    ),
                    {"t": tenant.id, "d": days},
                )

    prune_expired.send(str(t.id))
    prune_expired.send(str(t.id))  # a duplicate delivery
    prune_expired.send(str(uuid.uuid4()))  # an unknown tenant is dropped, not retried forever
    await _run_worker(broker, prune_expired.queue_name)

    events = await _audit(owner_engine, t)
    actions = [e.action for e in events]
    assert actions.count("test.old") == 1  # the 5-day-old one stays
    prunes = [e for e in events if e.action == "audit.prune"]
    assert len(prunes) == 1 and prunes[0].changes["deleted"] == 2
    # the other tenant was not touched
    assert [e.action for e in await _audit(owner_engine, other)].count("test.old") == 3


async def test_two_schedulers_enqueue_each_slot_once(broker: Any, acme: TenantInfo) -> None:
    from workers.broker import redis_client
    from workers.scheduler import Periodic, tick

    sent: list[tuple[str, tuple]] = []

    class Recorder:
        def send(self, *args: Any) -> None:
            sent.append(("job", args))

    job = Periodic(f"test.job-{uuid.uuid4().hex[:6]}", Recorder(), every_seconds=60)
    now = 1_800_000_000.0
    results = await asyncio.gather(*(tick(redis_client(), [job], now=now) for _ in range(4)))
    assert sorted(results)[:-1] == [0, 0, 0] and results.count(max(results)) == 1
    assert max(results) >= 2 and len(sent) == max(results)
    assert (str(acme.id),) in [args for _, args in sent]
    # the next slot runs again
    assert await tick(redis_client(), [job], now=now + 60) == max(results)
    # suspended tenants get nothing: only active ones are listed
    assert all(len(a) == 1 for _, a in sent)


def test_every_actor_uses_the_configured_broker() -> None:
    import workers  # noqa: F401  (declares every actor)
    from workers.broker import broker

    actors = broker.get_declared_actors()
    assert "audit.prune_expired" in actors
    for name in actors:
        assert broker.get_actor(name).broker is broker, name
