"""Recognition actors. Each is idempotent: running one twice has the effect of running it once."""

from __future__ import annotations

import logging
from typing import Any

from upward.auth.principal import Principal
from upward.db import Executor
from upward.recognition import insights, milestones
from workers.tenant_actor import tenant_actor

log = logging.getLogger("upward.workers.recognition")


# --- milestones --------------------------------------------------------------------------------
# Event milestones (credentials, IDP goals and plans, moves) are recognized by the event
# publisher (`events.publish`), in its transaction; anniversaries by this hourly actor.


@tenant_actor("recognition.anniversaries", max_retries=5)
async def anniversaries(session: Executor, principal: Principal, **_: Any) -> None:
    """Hourly: the work anniversaries due today in the tenant's timezone (the first run after
    local midnight finds them; a catch-up covers a scheduler that was down for days). Each
    (person, years) once: the milestone's unique key, whatever the number of runs."""
    done = await milestones.recognize_anniversaries(session, principal)
    if done:
        log.info("work anniversaries recognized", extra={"milestones": len(done)})


# --- insights: the weekly nudge to managers ----------------------------------------------------


@tenant_actor("recognition.nudge_managers", max_retries=5)
async def nudge_managers(session: Executor, principal: Principal, **_: Any) -> None:
    """Hourly: managers whose direct reports include people not recognized for the tenant's
    `nudge_after_days` get one in-app and email nudge a week (from Monday 09:00 tenant time).
    Idempotent: the notification's key is per manager and ISO week, so any number of runs in a
    week sends each nudge once."""
    sent = await insights.nudge_managers(session, principal)
    if sent:
        log.info("recognition nudges written", extra={"notifications": sent})
