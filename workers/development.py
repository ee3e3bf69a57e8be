"""Development actors: check-in meetings materialized ahead, reminders before check-ins and for
overdue IDP goals. Each is idempotent: meetings are unique per (series, slot) and reminders per
(subject, anchor, step, recipient), so a second scheduler or a redelivered message writes
nothing twice. Reminders go through the one notification engine (`reminders.outbox`)."""

from __future__ import annotations

import logging
from typing import Any

from upward.auth.principal import Principal
from upward.db import Executor, after_commit
from upward.development import checkins
from upward.reminders import metrics, outbox
from workers.reminders import enqueue_deliveries
from workers.tenant_actor import tenant_actor

log = logging.getLogger("upward.workers.development")


def _deliver_after_commit(session: Executor, principal: Principal, planned: outbox.Planned) -> None:
    if planned.reminders:
        ids = list(planned.deliveries or [])
        after_commit(session, lambda: enqueue_deliveries(principal.tenant_id, ids))
        after_commit(session, lambda: metrics.planned(planned.reminders, planned.max_lag_seconds))


@tenant_actor("development.checkin_tick", max_retries=5)
async def checkin_tick(session: Executor, principal: Principal, **_: Any) -> None:
    """Every minute: materialize the next meetings of active series, then remind participants
    of meetings whose reminder time has come (never once a meeting has started)."""
    added = await checkins.materialize_due(session)
    planned = await outbox.plan_checkin_reminders(session, principal)
    _deliver_after_commit(session, principal, planned)
    if added or planned.reminders:
        log.info("check-in tick", extra={"meetings": added, "reminders": planned.reminders})


@tenant_actor("development.goal_reminders", max_retries=5)
async def goal_reminders(session: Executor, principal: Principal, **_: Any) -> None:
    """Hourly: reminders for overdue IDP goals (each recipient in their send window)."""
    planned = await outbox.plan_goal_reminders(session, principal)
    _deliver_after_commit(session, principal, planned)
    if planned.reminders:
        log.info("goal reminders", extra={"reminders": planned.reminders})
