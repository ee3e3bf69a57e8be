"""Baseline matches for the demo tenants: the matching service scores every open posting, as the
workers would after the manifests are applied (a manifest declares postings and preferences, not
their derived matches), so `posting_matches` has rows for the isolation tests to hide."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.mobility import matching


async def seed_matches(tenant_ids: list[uuid.UUID]) -> None:
    for tid in tenant_ids:
        async with tenant_session(tid) as s:
            slug, tz = (
                await s.execute(
                    sa.text("select slug, timezone from tenants where id = :t"), {"t": tid}
                )
            ).one()
            principal = Principal.system(tid, slug, tz)
            ids = (
                await s.execute(sa.text("select id from job_postings where status = 'open'"))
            ).scalars()
            for pid in ids.all():
                await matching.recompute_posting(s, principal, pid)
