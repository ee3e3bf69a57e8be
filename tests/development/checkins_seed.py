"""Baseline check-in data the manifests do not declare: a private note by the report on each
demo series' next meeting (a private note has no place in a manifest), so every check-in table
has rows for the isolation tests to hide."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.development import checkins


async def seed_checkins(tenant_ids: list[uuid.UUID]) -> None:
    for tid in tenant_ids:
        async with tenant_session(tid) as s:
            rows = (
                await s.execute(
                    sa.text(
                        "select distinct on (c.series_id) c.id, s.report_id, t.slug "
                        "from checkins c join checkin_series s on s.id = c.series_id "
                        "join tenants t on t.id = c.tenant_id "
                        "where c.status = 'scheduled' and c.occurs_at > now() "
                        "order by c.series_id, c.occurs_at"
                    )
                )
            ).all()
            for r in rows:
                p = Principal(tid, r.slug, "user", r.report_id, frozenset({"employee"}))
                await checkins.set_private_note(
                    s, p, r.id, body="Ask about the conference budget (note to self)."
                )
