"""Match alerts: the people a posting's stored matches rank at the top hear about it.

When a posting opens, and after every recompute while it is open, its top `alert_top_n`
eligible matches scoring at least `alert_min_score`, who are open to moves (`yes` or
`confidential`), get one alert: in-app, and by email unless they opted out of email
(`reminders.outbox.notify_people`). A person gets at most `max_alerts_per_week` alerts in any
rolling 7 days, and each (posting, person) pair at most once ever: the `match_alerts` row
(primary key, `ON CONFLICT DO NOTHING`) and the notification (key
`match_alert:<posting>:<person>`) are written in one transaction, so a redelivered message, a
killed worker's retry or two workers at once alert nobody twice.

The alert goes to the person alone (it is their own inbox): nothing is written for, or
visible to, their manager, so a confidential search stays confidential. The hiring manager and
people who already applied are not alerted. The weekly cap is counted with the candidates'
`career_preferences` rows locked (in person order, so that two postings alerting overlapping
people wait for each other rather than deadlock), so two postings alerting the same person at
the same time cannot both take the last slot of their week.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from upward import clock
from upward.auth.principal import Principal
from upward.db import Executor, fetch
from upward.graphql.relay import to_global_id
from upward.mobility.preferences import load_settings
from upward.reminders.outbox import EventNote, notify_people
from upward.settings import get_settings

WEEK = timedelta(days=7)


# The top N among the people who may be alerted at all (eligible, open to moves, active, not
# the hiring manager, not applied), best first, ties by id: a stable ranking. Their preference
# rows are locked for the cap count that follows.
_CANDIDATES_SQL = """
select m.employee_id, m.score
from posting_matches m
join career_preferences p on p.tenant_id = m.tenant_id and p.employee_id = m.employee_id
join employees e on e.tenant_id = m.tenant_id and e.id = m.employee_id
where m.posting_id = $1 and m.eligible and m.score >= $2
  and p.open_to_moves in ('yes', 'confidential') and e.status = 'active'
  and m.employee_id <> $3
  and not exists (select 1 from applications a where a.tenant_id = m.tenant_id
                  and a.posting_id = m.posting_id and a.employee_id = m.employee_id)
order by m.score desc, m.employee_id
limit $4
"""
# Their preference rows, locked in one order (by person) whatever the posting: two postings
# alerting overlapping people at once wait for each other instead of deadlocking.
_LOCK_SQL = """
select employee_id from career_preferences where employee_id = any($1::uuid[])
order by employee_id
for update
"""


async def send_alerts(session: Executor, principal: Principal, posting_id: uuid.UUID) -> int:
    """Alert the posting's top matches who have not heard of it and have room in their week.
    Returns how many were alerted now. A posting that is not open (or not yet, or no longer,
    by its dates) alerts nobody."""
    posts = await fetch(
        session,
        "select id, title, kind, status, opens_on, closes_on, hiring_manager_id "
        "from job_postings where id = $1",
        posting_id,
    )
    if not posts:
        return 0
    post = posts[0]
    today = clock.today(principal.tenant_timezone)
    if post["status"] != "open":
        return 0
    if (post["opens_on"] and post["opens_on"] > today) or (
        post["closes_on"] and post["closes_on"] < today
    ):
        return 0
    cfg = await load_settings(session)
    if cfg.max_alerts_per_week <= 0:
        return 0
    args = (posting_id, float(cfg.alert_min_score), post["hiring_manager_id"], cfg.alert_top_n)
    first = await fetch(session, _CANDIDATES_SQL, *args)
    if not first:
        return 0
    locked = {r["employee_id"] for r in await fetch(session, _LOCK_SQL, [r[0] for r in first])}
    # read again now that they are locked (a preference or an alert committed meanwhile counts);
    # someone who only now qualifies was not locked and waits for the next recompute
    candidates = [r for r in await fetch(session, _CANDIDATES_SQL, *args) if r[0] in locked]
    if not candidates:
        return 0
    now = clock.now()
    ids = [c["employee_id"] for c in candidates]
    counts = await fetch(
        session,
        "select employee_id, count(*) filter (where alerted_at > $3) as week, "
        "bool_or(posting_id = $2) as this "
        "from match_alerts where employee_id = any($1::uuid[]) group by employee_id",
        ids,
        posting_id,
        now - WEEK,
    )
    seen = {r["employee_id"]: r for r in counts}
    chosen = [
        c
        for c in candidates
        if c["employee_id"] not in seen
        or (
            not seen[c["employee_id"]]["this"]
            and seen[c["employee_id"]]["week"] < cfg.max_alerts_per_week
        )
    ]
    if not chosen:
        return 0
    inserted = await fetch(
        session,
        """
        insert into match_alerts (tenant_id, posting_id, employee_id, score, alerted_at)
        select current_setting('app.tenant_id')::uuid, $1, x.e, x.s, $4
        from unnest($2::uuid[], $3::float8[]) as x(e, s)
        on conflict do nothing
        returning employee_id, score
        """,
        posting_id,
        [c["employee_id"] for c in chosen],
        [float(c["score"]) for c in chosen],
        now,
    )
    if not inserted:
        return 0
    await notify_people(
        session, principal.tenant_id, [_note(post, r["employee_id"], r["score"]) for r in inserted]
    )
    return len(inserted)


def _note(post: Any, employee_id: uuid.UUID, score: float) -> EventNote:
    gid = to_global_id("JobPosting", post["id"])
    url = f"{get_settings().web_url.rstrip('/')}/mobility/postings/{gid}"
    what = "gig" if post["kind"] == "gig" else "opening"
    subject = f"An internal {what} matches your profile: {post['title']}"
    body = (
        f"{post['title']} is open inside the company and matches your skills and preferences "
        f"({round(score)}/100). See why and what is missing, or apply: {url}\n\n"
        "Only you get this message. You can change whether you are open to moves in your "
        "career preferences."
    )
    return EventNote(
        recipient_id=employee_id,
        key=f"match_alert:{post['id']}:{employee_id}",
        subject=subject,
        body=body,
        data={
            "kind": "match_alert",
            "posting_id": str(post["id"]),
            "score": round(float(score), 1),
            "url": url,
        },
    )
