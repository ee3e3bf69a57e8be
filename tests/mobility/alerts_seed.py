"""Match alerts for the demo tenants, sent by the real alerts path: after the baseline matches
(`matching_seed`), each open posting's alerts go out as `mobility.match_posting` sends them
(`upward.mobility.alerts.send_alerts`: the settings' top N, minimum score and weekly cap, one
`match_alerts` row and one notification per person). acme's demo has people to alert, open to
moves, above `alert_min_score` and not applied: Sam Rivera for the Payments role, Priya
Natarajan for the incident review gig. The isolation tests need `match_alerts` rows, so a demo that no longer alerts
anyone fails here, at session start, rather than as an empty table later."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.mobility import alerts


async def seed_alerts(tenant_ids: list[uuid.UUID]) -> None:
    sent: dict[str, int] = {}
    for tid in tenant_ids:
        async with tenant_session(tid) as s:
            slug, tz = (
                await s.execute(
                    sa.text("select slug, timezone from tenants where id = :t"), {"t": tid}
                )
            ).one()
            principal = Principal.system(tid, slug, tz)
            ids = (
                await s.execute(
                    sa.text("select id from job_postings where status = 'open' order by id")
                )
            ).scalars()
            sent[slug] = 0
            for pid in ids.all():
                sent[slug] += await alerts.send_alerts(s, principal, pid)
    if not sent.get("acme"):
        raise RuntimeError(
            "the acme demo alerts nobody: tenants/acme.toml needs a person open to moves who "
            f"scores at least alert_min_score on an open posting and has not applied ({sent})"
        )
