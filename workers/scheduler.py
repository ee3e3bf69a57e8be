"""The scheduler: ticks (every minute by default) and enqueues per-tenant periodic jobs.

Each periodic job runs once per time slot of its period: the first scheduler to claim the slot
in Redis (SET NX) enqueues it for every active tenant, so two schedulers never double a job;
actors are idempotent underneath, so a retried slot does no harm either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from upward.db import dispose_engines, global_session
from upward.settings import get_settings
from upward.tenancy.service import active_tenants

log = logging.getLogger("upward.scheduler")


@dataclass(frozen=True)
class Periodic:
    name: str
    actor: Any
    every_seconds: int


def periodic_jobs() -> list[Periodic]:
    from workers.audit import prune_expired
    from workers.credentials import prune_pending_evidence, record_status_events
    from workers.development import checkin_tick, goal_reminders
    from workers.mobility import sweep as mobility_sweep
    from workers.recognition import anniversaries, nudge_managers
    from workers.reminders import publish_events, scan_tenant, send_digests, sweep

    scan = get_settings().reminder_scan_seconds
    return [
        Periodic("reminders.scan_tenant", scan_tenant, every_seconds=scan),
        Periodic("reminders.send_digests", send_digests, every_seconds=60),
        Periodic("events.publish", publish_events, every_seconds=60),
        Periodic("notifications.sweep", sweep, every_seconds=60),
        Periodic("audit.prune_expired", prune_expired, every_seconds=24 * 3600),
        # hourly: a credential turns expiring/expired at midnight in its tenant's zone
        Periodic("credentials.record_status_events", record_status_events, every_seconds=3600),
        Periodic(
            "credentials.prune_pending_evidence", prune_pending_evidence, every_seconds=24 * 3600
        ),
        # meetings ahead and the reminders before them (a meeting's reminder is minute-exact)
        Periodic("development.checkin_tick", checkin_tick, every_seconds=60),
        # a goal turns overdue at midnight in its owner's zone; send windows open on the hour
        Periodic("development.goal_reminders", goal_reminders, every_seconds=3600),
        # matches older than their posting's or person's last change (a lost trigger)
        Periodic("mobility.sweep", mobility_sweep, every_seconds=3600),
        # hourly: an anniversary is due from midnight in its tenant's zone (caught up for days)
        Periodic("recognition.anniversaries", anniversaries, every_seconds=3600),
        # hourly: the week's nudges go out from Monday 09:00 in the tenant's zone (once a week)
        Periodic("recognition.nudge_managers", nudge_managers, every_seconds=3600),
    ]


def claim_slot(client: redis.Redis, namespace: str, job: Periodic, now: float) -> bool:
    slot = int(now // job.every_seconds)
    key = f"{namespace}:scheduler:{job.name}:{slot}"
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return bool(client.set(key, owner, nx=True, ex=job.every_seconds * 2))


async def tick(
    client: redis.Redis,
    jobs: list[Periodic],
    now: float | None = None,
    *,
    only: set[uuid.UUID] | None = None,
) -> int:
    """One tick: claim due slots and enqueue their jobs per active tenant (or only those of
    `only`: `upward scheduler --tenant`). Returns messages sent."""
    settings = get_settings()
    now = time.time() if now is None else now
    namespace = settings.dramatiq_namespace
    if only is not None:  # its own slots: a full scheduler beside it still does everyone
        namespace += ":only:" + ",".join(sorted(str(t) for t in only))
    due = [j for j in jobs if claim_slot(client, namespace, j, now)]
    if not due:
        return 0
    async with global_session() as session:
        tenants = [t for t in await active_tenants(session) if only is None or t.id in only]
    sent = 0
    for job in due:
        for tenant in tenants:
            job.actor.send(str(tenant.id))
            sent += 1
        log.info("enqueued periodic job", extra={"job": job.name, "tenants": len(tenants)})
    return sent


async def run_forever(tick_seconds: float | None = None, tenants: list[str] | None = None) -> None:
    """Tick until SIGINT/SIGTERM; `tenants` (slugs) limits the work to those tenants."""
    from workers.broker import redis_client

    settings = get_settings()
    period = tick_seconds or settings.scheduler_tick_seconds
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    jobs = periodic_jobs()
    only = await _tenant_ids(tenants) if tenants else None
    log.info(
        "scheduler started",
        extra={"tick_seconds": period, "jobs": [j.name for j in jobs], "tenants": tenants},
    )
    try:
        while not stop.is_set():
            try:
                await tick(redis_client(), jobs, only=only)
            except Exception:
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period)
    finally:
        await dispose_engines()
        log.info("scheduler stopped")


async def _tenant_ids(slugs: list[str]) -> set[uuid.UUID]:
    async with global_session() as session:
        found = {t.slug: t.id for t in await active_tenants(session)}
    missing = sorted(set(slugs) - set(found))
    if missing:
        raise SystemExit(f"no active tenant {', '.join(missing)}")
    return {found[s] for s in slugs}
