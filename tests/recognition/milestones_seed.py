"""Baseline milestones for the demo tenants: the anniversary pass run on a fixed day, as the
scheduler would on that day (a manifest declares people and hire dates, not the milestones they
reach), so `milestones` has rows for the isolation tests to hide. 4 June: Raj Patel's 14th year
at acme (hired 2012-06-04); 1 June: nobody at globex, so a day each tenant has one is used."""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa

from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.recognition import milestones

DAYS = {"acme": date(2026, 6, 4), "globex": date(2026, 4, 2)}  # Raj Patel; Klaus Becker


async def seed_milestones(tenant_ids: list[uuid.UUID]) -> None:
    for tid in tenant_ids:
        async with tenant_session(tid) as s:
            slug, tz = (
                await s.execute(
                    sa.text("select slug, timezone from tenants where id = :t"), {"t": tid}
                )
            ).one()
            found = await milestones.recognize_anniversaries(
                s, Principal.system(tid, slug, tz), today=DAYS[slug]
            )
            assert found, f"no anniversary in {slug} on {DAYS[slug]}"
