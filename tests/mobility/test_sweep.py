"""The hourly safety net's queries find exactly what is stale: postings changed after they were
last matched (or never matched), closed postings still holding matches, and people whose skills, placement or
preferences changed after their newest match."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.mobility.test_alerts import match, org, posting, prefer, rate, skill, sql
from upward import clock
from upward.db import fetch, tenant_session
from workers.mobility import _DROPPED_SQL, _STALE_PEOPLE_SQL, _STALE_POSTINGS_SQL


async def _stale(t: Any) -> tuple[set[Any], set[Any], set[Any]]:
    since = clock.now() - timedelta(hours=2)
    async with tenant_session(t.id) as s:
        postings = {r["id"] for r in await fetch(s, _STALE_POSTINGS_SQL, 100)}
        dropped = {r["id"] for r in await fetch(s, _DROPPED_SQL, 100)}
        people = {r["employee_id"] for r in await fetch(s, _STALE_PEOPLE_SQL, since, 1000)}
    return postings, dropped, people


async def test_the_sweep_finds_what_is_stale(make_tenant: Any, owner_engine: Any) -> None:
    t = await make_tenant(org(3))
    go = await skill(owner_engine, t)
    fresh = await posting(owner_engine, t, skill=go)
    never = await posting(owner_engine, t, skill=go, title="Never matched")
    closed = await posting(owner_engine, t, status="closed", title="Closed")
    await match(owner_engine, t, closed, "p1@t.example", 50)
    # p0's skill, p1's preferences and p2's placement change; only then are p0 and p2 matched
    # again (fresh rows for them), p1 not
    await rate(owner_engine, t, "p0@t.example", go, 4)
    await prefer(owner_engine, t, "p1@t.example")
    await sql(
        owner_engine,
        "insert into career_tracks (tenant_id, id, name) values (:t, gen_random_uuid(), 'T')",
        t=t.id,
    )
    await sql(
        owner_engine,
        "insert into track_levels (tenant_id, track_id, position, title) "
        "select :t, id, 1, 'L1' from career_tracks where tenant_id = :t",
        t=t.id,
    )
    await sql(
        owner_engine,
        "insert into employee_levels (tenant_id, employee_id, level_id, since) "
        "select :t, :e, id, current_date from track_levels where tenant_id = :t",
        t=t.id,
        e=t.ids["p2@t.example"],
    )
    await sql(
        owner_engine,
        "update posting_matches set computed_at = now() - interval '3 hours' where tenant_id = :t",
        t=t.id,
    )
    await match(owner_engine, t, fresh, "p0@t.example", 80)
    await match(owner_engine, t, fresh, "p2@t.example", 80)
    edited = await posting(owner_engine, t, skill=go, title="Edited since matched")
    await sql(  # a recompute records when it ran on the posting
        owner_engine,
        "update job_postings set matched_at = case when id = :f then now() "
        "else now() - interval '1 hour' end where id in (:f, :e)",
        f=fresh,
        e=edited,
    )
    postings, dropped, people = await _stale(t)
    assert postings == {never, edited}  # `fresh` was matched after its last change
    assert dropped == {closed}
    assert people == {t.ids["p1@t.example"]}
