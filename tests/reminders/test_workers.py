"""The fleet on the real Redis and Postgres: a worker process killed with SIGKILL in the middle of
a batch, then another one, deliver every due reminder exactly once (by the SMTP server's inbox
and the delivery table); two schedulers ticking together write each reminder once."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SMALL_ORG, TenantInfo
from tests.reminders.helpers import rows
from tests.smtp import SmtpInbox, smtp_env
from upward import clock

ROOT = Path(__file__).resolve().parents[2]
HOLDERS = 30


def _always_open_policy(channels: list[str]) -> dict[str, Any]:
    """A ladder whose window never closes, so a worker on the real clock finds work now."""
    return {
        "name": "Test default",
        "window_start_hour": 0,
        "window_end_hour": 24,
        "send_on_weekends": True,
        "steps": [{"offset_days": -30, "recipients": ["holder"], "channels": channels}],
    }


def _org(holders: int, channels: list[str], expires_in_days: int = 20) -> dict[str, Any]:
    org = copy.deepcopy(SMALL_ORG)
    today = datetime.now(UTC).date()
    people = [
        {"email": f"p{i}@t.example", "name": f"Person {i}", "manager": "boss@t.example"}
        for i in range(holders)
    ]
    org["employees"] = [*org["employees"], *people]
    org["credential_types"] = [{"name": "Safety", "category": "training", "validity_months": 12}]
    org["credentials"] = [
        {
            "employee": p["email"],
            "credential_type": "Safety",
            "number": f"S-{i}",
            "issued_on": today - timedelta(days=300),
            "expires_on": today + timedelta(days=expires_in_days),
        }
        for i, p in enumerate(people)
    ]
    org["reminder_policies"] = [_always_open_policy(channels)]
    return org


class Fleet:
    """Worker processes on their own broker namespace (nothing else consumes it)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.namespace = f"upward-test-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            **env,
            "UPWARD_DRAMATIQ_NAMESPACE": self.namespace,
            "UPWARD_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        from workers.broker import make_broker

        self.broker = make_broker(namespace=self.namespace)
        self.broker.declare_queue("default")

    def start_worker(self, threads: int = 2) -> subprocess.Popen[bytes]:
        cmd = [
            *(sys.executable, "-m", "dramatiq", "workers"),
            *("--processes", "1", "--threads", str(threads)),
        ]
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            cmd, env=self.env, cwd=ROOT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def send(self, actor: Any, *args: Any, **kwargs: Any) -> None:
        self.broker.enqueue(actor.message(*args, **kwargs))

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                self.kill(p)
        self.broker.flush_all()
        self.broker.close()


async def _deliveries(engine: AsyncEngine, t: TenantInfo) -> dict[tuple[str, str], int]:
    got = await rows(
        engine,
        "select channel, status, count(*) as n from deliveries where tenant_id = :t "
        "group by channel, status",
        t=t.id,
    )
    return {(r.channel, r.status): r.n for r in got}


async def test_sigkill_mid_batch_then_a_new_worker_delivers_each_email_exactly_once(
    make_tenant: Any, owner_engine: AsyncEngine
) -> None:
    from workers.reminders import scan_tenant, sweep

    t: TenantInfo = await make_tenant(_org(HOLDERS, ["in_app", "email"]))
    inbox = SmtpInbox(rcpt_delay=0.08).start()  # ~0.1 s per email: the kill lands mid-batch
    fleet = Fleet({**smtp_env(inbox), "UPWARD_DELIVERY_SWEEP_SECONDS": "2"})
    try:
        # one thread, so that "the next email's RCPT has started" means the previous one is
        # committed: the kill then lands mid-conversation, not in the unavoidable instant
        # between the server's acceptance and the commit (a receiver dedupes that one by
        # Message-ID, which is the same on every attempt)
        first = fleet.start_worker(threads=1)
        fleet.send(scan_tenant, str(t.id))
        await inbox.wait_for_async(5, within=60)
        # kill while the next email is mid-conversation (its RCPT being answered): the worker
        # dies holding that delivery's row lock, in the middle of a batch of 30
        deadline = time.monotonic() + 30
        while inbox.rcpt_started <= len(inbox.received):
            assert time.monotonic() < deadline, "no email in progress to kill the worker in"
            await asyncio.sleep(0.005)
        fleet.kill(first)  # SIGKILL: no shutdown, its messages stay unacknowledged
        before = len(inbox.received)
        assert before < HOLDERS, "the worker finished before it was killed: slow the server"
        await asyncio.sleep(2.5)  # past the sweep timeout
        fleet.start_worker()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            fleet.send(sweep, str(t.id))  # what the scheduler does every minute
            state = await _deliveries(owner_engine, t)
            if state.get(("email", "sent")) == HOLDERS and state.get(("in_app", "sent")) == HOLDERS:
                break
            await asyncio.sleep(1.0)
        state = await _deliveries(owner_engine, t)
        assert state == {("email", "sent"): HOLDERS, ("in_app", "sent"): HOLDERS}, state
        await asyncio.sleep(1.5)  # a duplicate sweep or message sends nothing more
        received = inbox.received
        recipients = [r.rcpt_tos[0] for r in received]
        assert sorted(recipients) == sorted(f"p{i}@t.example" for i in range(HOLDERS))
        ids = [r.message["Message-ID"] for r in received]
        assert len(set(ids)) == len(ids) == HOLDERS
        reminders = await rows(
            owner_engine, "select count(*) as n from reminders where tenant_id = :t", t=t.id
        )
        assert reminders[0].n == HOLDERS
    finally:
        fleet.close()
        inbox.stop()


@pytest.fixture
def broker() -> Any:
    from workers.broker import broker

    broker.flush_all()
    yield broker
    broker.flush_all()


async def _drain(broker: Any) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        for queue in ("default", "deliveries"):  # planning, then what it enqueued
            await asyncio.to_thread(broker.join, queue, timeout=60_000)
        await asyncio.to_thread(worker.join)
    finally:
        await asyncio.to_thread(worker.stop)


async def test_two_schedulers_over_simulated_minutes_write_each_reminder_once(
    broker: Any, make_tenant: Any, owner_engine: AsyncEngine
) -> None:
    """Both tick every simulated minute from 08:50 to 09:50 (Berlin); the Redis lease lets one
    enqueue each slot, and when the lease is lost (its key deleted between the two ticks) the
    unique keys underneath still keep every reminder and notification single."""
    from workers.broker import redis_client
    from workers.scheduler import periodic_jobs, tick

    org = _org(12, ["in_app"], expires_in_days=20)
    org["reminder_policies"][0].update(window_start_hour=9, window_end_hour=18)
    org["reminder_policies"][0]["steps"].append(
        {"offset_days": -7, "recipients": ["holder", "manager"], "channels": ["in_app"]}
    )
    t: TenantInfo = await make_tenant(org)
    client = redis_client()
    jobs = [j for j in periodic_jobs() if j.name.startswith(("reminders.", "notifications."))]
    today = datetime.now(UTC).date()
    # 20 days before expiry: the -30 step (holders) is due at 09:00 Berlin today; -7 is not
    start = datetime(
        today.year, today.month, today.day, 6, 50, tzinfo=UTC
    )  # 08:50 CEST / 07:50 CET
    try:
        for minute in range(0, 130, 5):
            at = start + timedelta(minutes=minute)
            clock.freeze(at)
            await tick(client, jobs, now=at.timestamp(), only={t.id})
            if minute % 15 == 0:  # now and then the lease is lost before the second scheduler
                for key in client.scan_iter(match="*:scheduler:*"):
                    client.delete(key)
            await tick(client, jobs, now=at.timestamp(), only={t.id})
            await _drain(broker)
    finally:
        clock.freeze(None)
    got = await rows(
        owner_engine,
        "select recipient_id, offset_days, count(*) as n from reminders where tenant_id = :t "
        "group by recipient_id, offset_days",
        t=t.id,
    )
    assert len(got) == 12 and all(r.n == 1 and r.offset_days == -30 for r in got)
    notes = await rows(
        owner_engine,
        "select idempotency_key, count(*) as n from notifications where tenant_id = :t "
        "group by idempotency_key",
        t=t.id,
    )
    assert len(notes) == 12 and all(r.n == 1 for r in notes)
    state = await _deliveries(owner_engine, t)
    assert state == {("in_app", "sent"): 12}
