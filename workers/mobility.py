"""Matching actors: stored matches recomputed on change, and the alerts they cause.

Triggers come from the one outbox: the event publisher (`events.publish`) hands each batch of
domain events to `after_events`, which, once the publisher's transaction commits, enqueues only
the affected work: a posting opened or changed is re-matched (then alerts go out), a posting
closed or filled drops its matches, a person whose skills, credentials, level, IDP or career
preferences changed is re-matched against the open postings. A send lost between that commit
and Redis is caught by `mobility.sweep` (hourly): open postings whose matches are older than
their last change, people whose inputs changed after their stored matches, and closed postings
that still hold matches.

Every actor is idempotent: a recompute derives the stored matches from the current state, and
an alert is a `match_alerts` row (primary key) written with its notification (unique key) in
one transaction, so a redelivered message or a killed worker's retry alerts nobody twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from upward.auth.principal import Principal
from upward.db import Executor, after_commit, fetch, fetchval, xact_lock
from upward.mobility import alerts
from upward.mobility.preferences import load_settings
from workers.tenant_actor import tenant_actor

log = logging.getLogger("upward.workers.mobility")

PEOPLE_CHUNK = 500
SWEEP_LIMIT = 1000

POSTING_MATCH_EVENTS = frozenset({"posting.opened", "posting.updated"})  # reopen: opened
POSTING_DROP_EVENTS = frozenset({"posting.closed", "posting.filled"})
# events about a person (payload `employee_id`) that can change how they match
PEOPLE_EVENT_PREFIXES = ("credential.",)
PEOPLE_EVENTS = frozenset(
    {
        "employee.skills_changed",
        "employee.placed",
        "employee.moved",
        "career_preferences.changed",
        "application.hired",
        "idp.approved",
        "idp.completed",
        "idp.targets_changed",
    }
)


def work_of(events: Sequence[Any]) -> tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID]]:
    """(postings to match, postings to drop, people to match) for a batch of domain events
    (rows with `kind`, `subject_id`, `payload`), each once, in event order. A posting both
    opened and closed in the batch is dropped: its latest state decides at run time anyway."""
    match: dict[uuid.UUID, None] = {}
    drop: dict[uuid.UUID, None] = {}
    people: dict[uuid.UUID, None] = {}
    for ev in events:
        kind = ev["kind"]
        payload = ev["payload"] or {}
        if kind in POSTING_MATCH_EVENTS:
            match[ev["subject_id"]] = None
        elif kind in POSTING_DROP_EVENTS:
            drop[ev["subject_id"]] = None
        if kind in PEOPLE_EVENTS or kind.startswith(PEOPLE_EVENT_PREFIXES):
            raw = payload.get("employee_id")
            if raw:
                people[uuid.UUID(str(raw))] = None
    for pid in drop:
        match.pop(pid, None)
    return list(match), list(drop), list(people)


async def after_events(session: Executor, events: Sequence[Any]) -> None:
    """Called by the event publisher inside its transaction: enqueue the matching work the
    events cause once it commits (a rollback leaves the events unpublished, to come again)."""
    match, drop, people = work_of(events)
    if match or drop or people:
        tid = uuid.UUID(await fetchval(session, "select current_setting('app.tenant_id')"))
        after_commit(session, lambda: enqueue(tid, match, drop, people))


def enqueue(
    tenant_id: uuid.UUID,
    match: Sequence[uuid.UUID],
    drop: Sequence[uuid.UUID],
    people: Sequence[uuid.UUID],
) -> None:
    tid = str(tenant_id)
    for pid in match:
        match_posting.send(tid, posting_id=str(pid))
    for pid in drop:
        drop_posting.send(tid, posting_id=str(pid))
    for i in range(0, len(people), PEOPLE_CHUNK):
        match_people.send(tid, employee_ids=[str(e) for e in people[i : i + PEOPLE_CHUNK]])


async def _lock_people(session: Executor) -> None:
    """People recomputes run one at a time per tenant, and alone: a person's recompute replaces
    their rows for every open posting, which a posting's recompute, computed from a snapshot
    of that person taken before, could otherwise overwrite with a stale score. Released at
    commit or rollback, and by the server when a killed worker's connection drops."""
    await xact_lock(session, "mobility.match")


async def _lock_posting(session: Executor, posting_id: uuid.UUID) -> None:
    """A posting's recompute shares the tenant with other postings' (their rows are disjoint:
    they run in parallel on as many workers as there are) and excludes people recomputes and
    another recompute of the same posting."""
    await xact_lock(session, "mobility.match", shared=True)
    await xact_lock(session, "mobility.match", posting_id)


async def _status(session: Executor, posting_id: uuid.UUID) -> str | None:
    await _lock_posting(session, posting_id)
    rows = await fetch(session, "select status from job_postings where id = $1", posting_id)
    return rows[0]["status"] if rows else None


@tenant_actor("mobility.match_posting", max_retries=10)
async def match_posting(
    session: Executor, principal: Principal, *, posting_id: str, **_: Any
) -> None:
    """Recompute an open posting's matches, then alert its top matches (one transaction). A
    posting closed or filled meanwhile has its matches dropped instead; a draft is left alone;
    another tenant's id finds nothing (RLS)."""
    from upward.mobility import matching

    pid = uuid.UUID(posting_id)
    status = await _status(session, pid)
    if status is None or status == "draft":
        return
    if status != "open":
        await matching.drop_posting(session, principal, pid)
        return
    matched = await matching.recompute_posting(session, principal, pid)
    sent = await alerts.send_alerts(session, principal, pid)
    log.info(
        "posting matched", extra={"posting_id": posting_id, "matches": matched, "alerts": sent}
    )


@tenant_actor("mobility.drop_posting", max_retries=10)
async def drop_posting(
    session: Executor, principal: Principal, *, posting_id: str, **_: Any
) -> None:
    """A posting closed or filled: its stored matches go (alerts already sent stay recorded).
    If it was reopened meanwhile it is matched again instead."""
    from upward.mobility import matching

    pid = uuid.UUID(posting_id)
    status = await _status(session, pid)
    if status == "open":
        await matching.recompute_posting(session, principal, pid)
        await alerts.send_alerts(session, principal, pid)
    elif status is not None:
        await matching.drop_posting(session, principal, pid)


@tenant_actor("mobility.match_people", max_retries=10)
async def match_people(
    session: Executor, principal: Principal, *, employee_ids: list[str], **_: Any
) -> None:
    """Recompute these people's matches against the open postings, then run the alerts of the
    open postings where any of them now ranks well enough to be alerted (each posting's own
    top N and the weekly cap decide; nobody is alerted twice for a posting)."""
    from upward.mobility import matching

    ids = [uuid.UUID(e) for e in employee_ids]
    if not ids:
        return
    await _lock_people(session)
    matched = await matching.recompute_people(session, principal, ids)
    cfg = await load_settings(session)
    rows = await fetch(
        session,
        "select distinct m.posting_id from posting_matches m "
        "join job_postings j on j.tenant_id = m.tenant_id and j.id = m.posting_id "
        "where m.employee_id = any($1::uuid[]) and m.eligible and m.score >= $2 "
        "and j.status = 'open' "
        "and not exists (select 1 from match_alerts a where a.tenant_id = m.tenant_id "
        "and a.posting_id = m.posting_id and a.employee_id = m.employee_id) "
        "order by m.posting_id",
        ids,
        float(cfg.alert_min_score),
    )
    sent = 0
    for r in rows:
        sent += await alerts.send_alerts(session, principal, r["posting_id"])
    log.info("people matched", extra={"people": len(ids), "matches": matched, "alerts": sent})


# what the sweep re-matches: postings changed after their newest match (or never matched
# since they opened), people whose skills, level or preferences changed after their newest
# match (within the last two sweeps: older changes were swept already), and postings no longer
# open that still hold matches
_STALE_POSTINGS_SQL = """
select j.id from job_postings j
where j.status = 'open' and (j.matched_at is null or j.matched_at < j.updated_at)
order by j.updated_at, j.id
limit $1
"""
_DROPPED_SQL = """
select j.id from job_postings j
where j.status in ('closed', 'filled')
  and exists (select 1 from posting_matches m where m.tenant_id = j.tenant_id
              and m.posting_id = j.id)
order by j.id
limit $1
"""
_STALE_PEOPLE_SQL = """
with changed as (
    select employee_id, max(updated_at) as at from (
        select employee_id, updated_at from employee_skills where updated_at > $1
        union all
        select employee_id, updated_at from career_preferences where updated_at > $1
        union all
        select employee_id, updated_at from employee_levels where updated_at > $1
    ) c group by employee_id
)
select c.employee_id from changed c
left join lateral (select max(m.computed_at) as at from posting_matches m
                   where m.tenant_id = current_setting('app.tenant_id')::uuid
                   and m.employee_id = c.employee_id) m on true
where m.at is null or m.at < c.at
order by c.employee_id
limit $2
"""


@tenant_actor("mobility.sweep", max_retries=3)
async def sweep(session: Executor, principal: Principal, **_: Any) -> None:
    """Hourly safety net for triggers lost between a commit and Redis (only what is stale)."""
    from datetime import timedelta

    from upward import clock

    stale = [r["id"] for r in await fetch(session, _STALE_POSTINGS_SQL, SWEEP_LIMIT)]
    dropped = [r["id"] for r in await fetch(session, _DROPPED_SQL, SWEEP_LIMIT)]
    since = clock.now() - timedelta(hours=2)
    people = [
        r["employee_id"] for r in await fetch(session, _STALE_PEOPLE_SQL, since, SWEEP_LIMIT * 10)
    ]
    if stale or dropped or people:
        tid = principal.tenant_id
        after_commit(session, lambda: enqueue(tid, stale, dropped, people))
        log.info(
            "mobility sweep",
            extra={"postings": len(stale), "dropped": len(dropped), "people": len(people)},
        )
