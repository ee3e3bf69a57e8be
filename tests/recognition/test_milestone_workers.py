"""Milestones on the real Redis broker and Postgres: the anniversary actor sent twice (a
duplicate delivery, or two scheduler runs in one day) recognizes each anniversary once; the event
publisher run twice recognizes a credential once; two transactions recognizing the same
anniversaries at the same moment make one milestone per person and year; the scheduler runs
the anniversary pass hourly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo
from tests.recognition.test_milestones import (
    DEV,
    hr_gives_credential,
    kudos_count,
    ledger_of,
    milestones_of,
    org,
    set_hire,
)
from tests.reminders.helpers import principal_of
from upward import clock
from upward.db import tenant_session
from upward.recognition import milestones as ms

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
def broker() -> Iterator[Any]:
    from workers.broker import broker

    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.freeze(NOW)
    try:
        yield NOW
    finally:
        clock.freeze(None)


async def no_email(engine: AsyncEngine, t: TenantInfo) -> None:
    """Nobody gets email (no SMTP server here): the kudos' notifications stay in-app."""
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "insert into notification_preferences (tenant_id, employee_id, email_enabled) "
                "select tenant_id, id, false from employees where tenant_id = :t"
            ),
            {"t": t.id},
        )


async def drain(broker: Any) -> None:
    """A worker in this process until the queues are empty (the actors, the publisher the
    kudos kick, their in-app deliveries)."""
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        for queue in ("default", "deliveries", "default"):
            await asyncio.to_thread(broker.join, queue, timeout=60_000)
        await asyncio.to_thread(worker.join)
    finally:
        await asyncio.to_thread(worker.stop)


async def tenant_with_hires(make_tenant: Any, owner_engine: AsyncEngine) -> TenantInfo:
    t: TenantInfo = await make_tenant(org())
    await no_email(owner_engine, t)
    await set_hire(owner_engine, t, DEV, date(2023, 6, 15))  # 3 years today
    await set_hire(owner_engine, t, "peer@t.example", date(2016, 6, 12))  # 10 years, 3 days ago
    await set_hire(owner_engine, t, "lead@t.example", date(2024, 2, 29))  # not due in June
    return t


class TestOnTheRealBroker:
    async def test_anniversaries_sent_twice_recognize_once(
        self, broker: Any, make_tenant: Any, owner_engine: AsyncEngine, frozen: datetime
    ) -> None:
        from workers.recognition import anniversaries

        t = await tenant_with_hires(make_tenant, owner_engine)
        other = await tenant_with_hires(make_tenant, owner_engine)
        anniversaries.send(str(t.id))
        anniversaries.send(str(t.id))  # a duplicate delivery, or the scheduler's next hour
        anniversaries.send(str(uuid.uuid4()))  # an unknown tenant is dropped
        await drain(broker)
        got = await milestones_of(owner_engine, t)
        assert [(m["key"], m["occurred_on"], m["points"]) for m in got] == sorted(
            [
                (f"anniversary:{t.ids[DEV]}:3", date(2026, 6, 15), 30),
                (f"anniversary:{t.ids['peer@t.example']}:10", date(2026, 6, 12), 100),
            ]
        )
        assert all(m["kudos_id"] is not None for m in got)
        assert await kudos_count(owner_engine, t) == 2
        assert sum(a for acc, _, a, _ in await ledger_of(owner_engine, t) if acc == "company") == (
            -130
        )
        # the kudos' in-app notifications went out once each (receivers and their managers)
        async with owner_engine.connect() as conn:
            sent = (
                await conn.execute(
                    sa.text(
                        "select n.idempotency_key, d.status from notifications n "
                        "join deliveries d on d.tenant_id = n.tenant_id "
                        "and d.notification_id = n.id "
                        "where n.tenant_id = :t and n.idempotency_key like 'kudos:%'"
                    ),
                    {"t": t.id},
                )
            ).all()
        assert len(sent) == 4 and {s.status for s in sent} == {"sent"}
        # the other tenant was not touched; its own run recognizes its own people
        assert await milestones_of(owner_engine, other) == []
        anniversaries.send(str(other.id))
        await drain(broker)
        assert len(await milestones_of(owner_engine, other)) == 2
        assert len(await milestones_of(owner_engine, t)) == 2

    async def test_the_publisher_sent_twice_recognizes_a_credential_once(
        self,
        broker: Any,
        gql: GQL,
        make_tenant: Any,
        owner_engine: AsyncEngine,
        frozen: datetime,
    ) -> None:
        from workers.reminders import publish_events

        t: TenantInfo = await make_tenant(org())
        await no_email(owner_engine, t)
        await hr_gives_credential(gql, t)  # also kicks the publisher after its commit
        publish_events.send(str(t.id))
        publish_events.send(str(t.id))
        await drain(broker)
        # and once more, every event delivered again
        async with owner_engine.begin() as conn:
            await conn.execute(
                sa.text("update domain_events set published_at = null where tenant_id = :t"),
                {"t": t.id},
            )
        publish_events.send(str(t.id))
        await drain(broker)
        [m] = await milestones_of(owner_engine, t)
        assert m["kind"] == "credential_earned" and m["employee_id"] == t.ids[DEV]
        assert await kudos_count(owner_engine, t) == 1
        assert len(await ledger_of(owner_engine, t)) == 2
        async with owner_engine.connect() as conn:
            left = await conn.scalar(
                sa.text(
                    "select count(*) from domain_events where tenant_id = :t "
                    "and published_at is null"
                ),
                {"t": t.id},
            )
        assert left == 0  # the kudos.given event was published by a later run


class TestConcurrentRuns:
    async def test_two_transactions_at_once_make_one_per_person_and_year(
        self, make_tenant: Any, owner_engine: AsyncEngine, frozen: datetime
    ) -> None:
        t = await tenant_with_hires(make_tenant, owner_engine)
        p = await principal_of(t.id)
        barrier = asyncio.Barrier(3)

        async def run() -> int:
            async with tenant_session(t.id) as s:
                await s.execute(sa.text("select 1"))
                await barrier.wait()  # all three inside their transaction, then at once
                return len(await ms.recognize_anniversaries(s, p))

        assert sorted(await asyncio.gather(run(), run(), run())) == [0, 0, 2]
        got = await milestones_of(owner_engine, t)
        assert sorted(m["key"] for m in got) == sorted(
            [f"anniversary:{t.ids[DEV]}:3", f"anniversary:{t.ids['peer@t.example']}:10"]
        )
        assert await kudos_count(owner_engine, t) == 2


async def test_the_scheduler_runs_the_anniversary_pass_hourly(
    broker: Any, acme: TenantInfo
) -> None:
    from workers.broker import redis_client
    from workers.recognition import anniversaries
    from workers.scheduler import periodic_jobs, tick

    [job] = [j for j in periodic_jobs() if j.name == "recognition.anniversaries"]
    assert job.actor is anniversaries and job.every_seconds == 3600
    now = 1_800_000_000.0
    sent = await asyncio.gather(*(tick(redis_client(), [job], now=now) for _ in range(2)))
    assert sorted(sent)[0] == 0 and sorted(sent)[1] >= 1  # two schedulers: the slot once
    assert await tick(redis_client(), [job], now=now + 1800) == 0  # the same hour
    assert await tick(redis_client(), [job], now=now + 3600) >= 1  # the next one
    broker.flush_all()
