"""Baseline match alerts for the demo tenants, so `match_alerts` has rows for the isolation tests
to hide: after the baseline matches (`matching_seed`), each open posting's alerts are sent as the
workers would. The demo's strongest match (acme's Sam Rivera for the Payments role) has applied
already, which the alerts skip, so where sending alerts nobody the alert that led a person to
apply is recorded as history (a day before their application)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.mobility import alerts

_APPLIED_AFTER_AN_ALERT = """
select m.posting_id, m.employee_id, m.score, a.created_at - interval '1 day' as at
from posting_matches m
join applications a on a.tenant_id = m.tenant_id and a.posting_id = m.posting_id
     and a.employee_id = m.employee_id
join job_postings j on j.tenant_id = m.tenant_id and j.id = m.posting_id
where m.eligible
order by m.score desc, m.posting_id, m.employee_id
"""


async def seed_alerts(tenant_ids: list[uuid.UUID]) -> None:
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
            sent = 0
            for pid in ids.all():
                sent += await alerts.send_alerts(s, principal, pid)
            if sent:
                continue
            for r in (await s.execute(sa.text(_APPLIED_AFTER_AN_ALERT))).all():
                await s.execute(
                    sa.text(
                        "insert into match_alerts (tenant_id, posting_id, employee_id, score, "
                        "alerted_at) values (:t, :p, :e, :s, :at) on conflict do nothing"
                    ),
                    {"t": tid, "p": r.posting_id, "e": r.employee_id, "s": r.score, "at": r.at},
                )
