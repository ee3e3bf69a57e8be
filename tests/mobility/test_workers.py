"""The matching workers on the real Redis and Postgres: a posting opened (a `posting.opened`
event through the one event publisher) is matched and its top matches who opted in are alerted
exactly once, even when the message is delivered twice; a person's skill change re-matches them
and alerts them; a worker process killed with SIGKILL in the middle of a batch, then another
one (with the scheduler's sweep), alert each (posting, person) exactly once.

Behind the actors is the real matching (`upward.mobility.matching`, the production scorer and
writes); the worker processes of the kill test load `tests.mobility.slow_matching`, which only
makes each posting's recompute wait a moment first, so that the kill lands mid-batch."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from typing import Any

import dramatiq
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TenantInfo
from tests.mobility.test_alerts import alerted, org, p, posting, prefer, rate, settings, skill, sql
from tests.reminders.helpers import principal_of, rows
from tests.reminders.test_workers import ROOT, Fleet
from upward.db import tenant_session


@pytest.fixture
def broker() -> Any:
    from workers.broker import broker

    broker.flush_all()
    yield broker
    broker.flush_all()


async def drain(broker: Any) -> None:
    """Run a worker in this process until the queues are empty (matching, then deliveries)."""
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        for queue in ("default", "deliveries", "default"):
            await asyncio.to_thread(broker.join, queue, timeout=60_000)
        await asyncio.to_thread(worker.join)
    finally:
        await asyncio.to_thread(worker.stop)


async def opened_event(engine: AsyncEngine, t: TenantInfo, pid: uuid.UUID) -> None:
    """What the postings service records when a posting opens (unpublished)."""
    await sql(
        engine,
        "insert into domain_events (tenant_id, kind, subject_type, subject_id, idempotency_key, "
        "payload) values (:t, 'posting.opened', 'JobPosting', :p, :k, '{}'::jsonb)",
        t=t.id,
        p=pid,
        k=f"posting.opened:{pid}:{uuid.uuid4()}",
    )


async def people_setup(engine: AsyncEngine, t: TenantInfo, sid: uuid.UUID) -> None:
    """p0-p3 strong (100: the skill at 4, asked at 3) and open; p4 at 2 (74: below the
    tenant's minimum of 80); p5 strong but not open; p6 strong and confidential; p7 without the
    skill (23: no fixed location only). Nobody gets email (no SMTP here)."""
    for i in range(4):
        await rate(engine, t, p(i), sid, 4)
        await prefer(engine, t, p(i), "yes")
    await rate(engine, t, p(4), sid, 2)
    await prefer(engine, t, p(4), "yes")
    await rate(engine, t, p(5), sid, 4)
    await prefer(engine, t, p(5), "no")
    await rate(engine, t, p(6), sid, 4)
    await prefer(engine, t, p(6), "confidential")
    await prefer(engine, t, p(7), "yes")
    await sql(
        engine,
        "insert into notification_preferences (tenant_id, employee_id, email_enabled) "
        "select tenant_id, id, false from employees where tenant_id = :t",
        t=t.id,
    )
    await sql(
        engine,
        "insert into mobility_settings (tenant_id, alert_min_score) values (:t, 80) "
        "on conflict (tenant_id) do update set alert_min_score = 80",
        t=t.id,
    )


EXPECTED = {p(0), p(1), p(2), p(3), p(6)}


class TestOnTheRealBroker:
    async def test_opened_posting_matched_and_alerted_once_despite_a_redelivery(
        self, broker: Any, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        from workers.mobility import match_posting
        from workers.reminders import publish_events

        t = await make_tenant(org())
        sid = await skill(owner_engine, t)
        await people_setup(owner_engine, t, sid)
        pid = await posting(owner_engine, t, skill=sid)
        await opened_event(owner_engine, t, pid)
        publish_events.send(str(t.id))  # the publisher routes the event to mobility.*
        match_posting.send(str(t.id), posting_id=str(pid))  # and a duplicate delivery
        await drain(broker)
        matches = await rows(
            owner_engine,
            "select employee_id, score from posting_matches where tenant_id = :t "
            "and posting_id = :p",
            t=t.id,
            p=pid,
        )
        by_id = {v: k for k, v in t.ids.items()}
        scores = {by_id[r.employee_id]: r.score for r in matches}
        assert set(scores) == {p(i) for i in (0, 1, 2, 3, 4, 6, 7)}  # open to moves (not p5)
        assert all(scores[p(i)] == 100.0 for i in (0, 1, 2, 3, 6))
        assert 60 < scores[p(4)] < 80 and scores[p(7)] < 30
        assert await alerted(owner_engine, t, pid) == EXPECTED
        sent = await rows(
            owner_engine,
            "select d.status, count(*) as n from deliveries d join notifications n "
            "on n.tenant_id = d.tenant_id and n.id = d.notification_id "
            "where d.tenant_id = :t and n.idempotency_key like 'match_alert:%' group by d.status",
            t=t.id,
        )
        assert {r.status: r.n for r in sent} == {"sent": len(EXPECTED)}  # in-app, delivered
        # once more, everything again: nobody is alerted twice
        match_posting.send(str(t.id), posting_id=str(pid))
        await drain(broker)
        assert await alerted(owner_engine, t, pid) == EXPECTED

    async def test_a_skill_change_rematches_the_person_and_alerts_them(
        self, broker: Any, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        from upward.development import ratings
        from upward.people.service import load_viewer
        from workers.mobility import match_posting
        from workers.reminders import publish_events

        t = await make_tenant(org())
        sid = await skill(owner_engine, t)
        await people_setup(owner_engine, t, sid)
        pid = await posting(owner_engine, t, skill=sid)
        match_posting.send(str(t.id), posting_id=str(pid))
        await drain(broker)
        assert p(4) not in await alerted(owner_engine, t, pid)
        # HR raises p4's rating: the service records `employee.skills_changed`, the publisher
        # routes it to mobility.match_people, which re-matches p4 and alerts them
        hr = await principal_of(t.id)
        async with tenant_session(t.id) as s:
            viewer = await load_viewer(s, hr)
            await ratings.set_rating(
                s, hr, viewer, employee_id=t.ids[p(4)], skill_id=sid, proficiency=4
            )
        kinds = await rows(
            owner_engine,
            "select kind from domain_events where tenant_id = :t and published_at is null",
            t=t.id,
        )
        assert [r.kind for r in kinds] == ["employee.skills_changed"]
        publish_events.send(str(t.id))
        await drain(broker)
        assert await alerted(owner_engine, t, pid) == EXPECTED | {p(4)}
        score = await rows(
            owner_engine,
            "select score from posting_matches where tenant_id = :t and employee_id = :e",
            t=t.id,
            e=t.ids[p(4)],
        )
        assert [r.score for r in score] == [100.0]

    async def test_a_closed_posting_drops_its_matches(
        self, broker: Any, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        from workers.mobility import drop_posting, match_posting

        t = await make_tenant(org())
        sid = await skill(owner_engine, t)
        await people_setup(owner_engine, t, sid)
        pid = await posting(owner_engine, t, skill=sid)
        match_posting.send(str(t.id), posting_id=str(pid))
        await drain(broker)
        await sql(
            owner_engine,
            "update job_postings set status = 'closed' where tenant_id = :t and id = :p",
            t=t.id,
            p=pid,
        )
        drop_posting.send(str(t.id), posting_id=str(pid))
        match_posting.send(str(t.id), posting_id=str(pid))  # a late one: drops too
        await drain(broker)
        left = await rows(
            owner_engine, "select count(*) as n from posting_matches where tenant_id = :t", t=t.id
        )
        assert left[0].n == 0
        assert await alerted(owner_engine, t, pid) == EXPECTED  # the alerts sent stay recorded


class MatchingFleet(Fleet):
    def start_worker(self, threads: int = 1) -> subprocess.Popen[bytes]:
        cmd = [
            *(sys.executable, "-m", "dramatiq", "workers", "tests.mobility.slow_matching_boot"),
            *("--processes", "1", "--threads", str(threads)),
        ]
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            cmd, env=self.env, cwd=ROOT, start_new_session=True
        )
        self.procs.append(proc)
        return proc


POSTINGS = 12


async def _alerted_postings(engine: AsyncEngine, t: TenantInfo) -> int:
    got = await rows(
        engine,
        "select count(distinct posting_id) as n from match_alerts where tenant_id = :t",
        t=t.id,
    )
    return int(got[0].n)


async def test_sigkill_mid_batch_then_a_new_worker_alerts_each_person_exactly_once(
    make_tenant: Any, owner_engine: AsyncEngine
) -> None:
    from workers.mobility import match_posting, sweep

    t: TenantInfo = await make_tenant(org())
    await settings(owner_engine, t, max_alerts_per_week=50)
    sid = await skill(owner_engine, t)
    await people_setup(owner_engine, t, sid)
    posts = [await posting(owner_engine, t, skill=sid, title=f"Job {i}") for i in range(POSTINGS)]
    fleet = MatchingFleet({"MATCHING_DELAY": "0.3"})  # ~0.3 s a posting: a kill lands mid-way
    try:
        first = fleet.start_worker()
        for pid in posts:
            fleet.send(match_posting, str(t.id), posting_id=str(pid))
            fleet.send(match_posting, str(t.id), posting_id=str(pid))  # delivered twice
        deadline = time.monotonic() + 60
        while await _alerted_postings(owner_engine, t) < 2:
            assert time.monotonic() < deadline, "the first worker alerted nobody"
            await asyncio.sleep(0.02)
        fleet.kill(first)  # SIGKILL: its in-flight and prefetched messages stay unacknowledged
        done = await _alerted_postings(owner_engine, t)
        assert done < POSTINGS, "the worker finished before it was killed"
        fleet.start_worker(threads=2)
        deadline = time.monotonic() + 90
        while await _alerted_postings(owner_engine, t) < POSTINGS:
            assert time.monotonic() < deadline, "the postings left behind were never alerted"
            fleet.send(sweep, str(t.id))  # what the scheduler does every hour
            await asyncio.sleep(1.0)
        await asyncio.sleep(2.0)  # duplicates and sweeps still queued change nothing
        for pid in posts:
            assert await alerted(owner_engine, t, pid) == EXPECTED
        total = await rows(
            owner_engine,
            "select count(*) as n from match_alerts where tenant_id = :t",
            t=t.id,
        )
        assert total[0].n == POSTINGS * len(EXPECTED)
    finally:
        fleet.close()


@pytest.fixture
async def world(make_tenant: Any, owner_engine: AsyncEngine) -> Any:
    """test_matching's world: a posting the applicant (open) matches better than the
    colleague (confidential); the current manager is not open, the hiring manager never."""
    from tests.mobility import test_matching as tm
    from tests.mobility.helpers import (
        APPLICANT,
        COLLEAGUE,
        CURRENT_MANAGER,
        HIRING,
        levels,
        make_posting,
        skills,
    )

    t = await make_tenant(tm.org())
    lv = await levels(owner_engine, t)
    sk = await skills(owner_engine, t)
    for email, openness in (
        (APPLICANT, "yes"),
        (COLLEAGUE, "confidential"),
        (CURRENT_MANAGER, "no"),
        (HIRING, "yes"),
    ):
        await tm.prefs(owner_engine, t, email, openness)
    pid = await make_posting(
        owner_engine,
        t,
        level_id=lv["Senior Engineer"],
        location_names=("Austin",),
        skills=[(sk["Python"], 4, True), (sk["Leadership"], 3, True), (sk["SQL"], 2, False)],
    )
    await tm.add_credential_requirement(owner_engine, t, pid)
    await sql(  # no SMTP here: in-app only
        owner_engine,
        "insert into notification_preferences (tenant_id, employee_id, email_enabled) "
        "select tenant_id, id, false from employees where tenant_id = :t",
        t=t.id,
    )
    return tm.World(t, pid, lv, sk)


class TestWithTheRealMatching:
    async def test_opened_then_updated_posting_alerts_the_top_match_once(
        self, broker: Any, world: Any, owner_engine: AsyncEngine
    ) -> None:
        """The real scorer (`upward.mobility.matching`) behind the actors: the matches stored
        are the open people's, and only those at or above the tenant's minimum are alerted."""
        from tests.mobility.helpers import APPLICANT, COLLEAGUE
        from workers.reminders import publish_events

        t, pid = world.t, world.posting
        await settings(owner_engine, t, alert_min_score=100)
        await opened_event(owner_engine, t, pid)
        publish_events.send(str(t.id))
        await drain(broker)
        got = await rows(
            owner_engine,
            "select employee_id, score from posting_matches where tenant_id = :t "
            "and posting_id = :p",
            t=t.id,
            p=pid,
        )
        scores = {r.employee_id: r.score for r in got}
        assert set(scores) == {t.ids[APPLICANT], t.ids[COLLEAGUE]}
        assert scores[t.ids[APPLICANT]] > scores[t.ids[COLLEAGUE]]
        assert await alerted(owner_engine, t, pid) == set()  # nobody reaches 100
        # the tenant lowers its minimum between the two; the posting's next change alerts the
        # applicant (open to moves), not the colleague below it, and only once
        between = int((scores[t.ids[APPLICANT]] + scores[t.ids[COLLEAGUE]]) // 2)
        await sql(
            owner_engine,
            "update mobility_settings set alert_min_score = :m where tenant_id = :t",
            t=t.id,
            m=between,
        )
        for _ in range(2):
            await sql(
                owner_engine,
                "insert into domain_events (tenant_id, kind, subject_type, subject_id, "
                "idempotency_key, payload) values (:t, 'posting.updated', 'JobPosting', :p, :k, "
                "'{}'::jsonb)",
                t=t.id,
                p=pid,
                k=f"posting.updated:{uuid.uuid4()}",
            )
            publish_events.send(str(t.id))
            await drain(broker)
        assert await alerted(owner_engine, t, pid) == {APPLICANT}
