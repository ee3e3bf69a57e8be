"""Reminders before check-ins and for overdue IDP goals, through the one notification engine:
the pure rules, then passes on the real database (exactly once, a reschedule is a new cycle,
never after a meeting started, email opt-out), and two schedulers on the real broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dramatiq
import sqlalchemy as sa

from tests.conftest import GQL, TenantInfo
from tests.development.test_checkins import _goal
from tests.reminders.helpers import principal_of, rows
from upward import clock
from upward.db import tenant_session
from upward.development import checkins
from upward.reminders import outbox
from upward.reminders.planner import Policy, Recipient, Subject, plan_before, plan_subject

A, B = uuid.uuid4(), uuid.uuid4()
PAIR = [Recipient(A, frozenset({"manager"}), "UTC"), Recipient(B, frozenset({"report"}), "UTC")]
T0 = datetime(2027, 3, 2, 9, 30, tzinfo=UTC)


class TestPlanBefore:
    def test_due_from_the_reminder_time_until_the_start(self) -> None:
        mid = uuid.uuid4()
        assert plan_before("checkin", mid, T0, 60, T0 - timedelta(minutes=61), PAIR) == []
        due = plan_before("checkin", mid, T0, 60, T0 - timedelta(minutes=60), PAIR)
        assert {d.recipient_id for d in due} == {A, B}
        assert all(d.due_at == T0 - timedelta(hours=1) and d.anchor == T0 for d in due)
        assert (
            plan_before("checkin", mid, T0, 60, T0 - timedelta(minutes=1), PAIR, {A})[
                0
            ].recipient_id
            == B
        )
        # never once it started, never with 0 minutes
        assert plan_before("checkin", mid, T0, 60, T0, PAIR) == []
        assert plan_before("checkin", mid, T0, 0, T0 - timedelta(minutes=1), PAIR) == []

    def test_a_new_time_is_a_new_key(self) -> None:
        mid = uuid.uuid4()
        a = plan_before("checkin", mid, T0, 60, T0 - timedelta(minutes=5), PAIR)[0]
        later = T0 + timedelta(days=1)
        b = plan_before("checkin", mid, later, 60, later - timedelta(minutes=5), PAIR)[0]
        assert a.key != b.key and a.key.startswith(f"reminder:checkin:{mid}:")


GOAL_POLICY = Policy(steps=outbox.GOAL_STEPS)
OWNER = Recipient(A, frozenset({"owner"}), "Europe/Berlin")
BOSS = Recipient(B, frozenset({"manager"}), "America/New_York")


class TestGoalLadder:
    def test_owner_after_a_day_manager_after_a_week(self) -> None:
        g = Subject("plan_goal", uuid.uuid4(), date(2027, 3, 1))  # a Monday
        at = datetime(2027, 3, 2, 9, 5, tzinfo=UTC)  # 10:05 Berlin, 04:05 New York
        due = plan_subject(g, GOAL_POLICY, at, [OWNER, BOSS])
        assert [(d.recipient_id, d.offset_days) for d in due] == [(A, 1)]
        week = datetime(2027, 3, 8, 15, 0, tzinfo=UTC)  # open in both zones
        due = plan_subject(g, GOAL_POLICY, week, [OWNER, BOSS], {(1, A)})
        assert sorted((d.offset_days, sorted(d.kinds)) for d in due) == [
            (7, ["manager"]),
            (7, ["owner"]),
        ]
        assert plan_subject(g, GOAL_POLICY, week, [OWNER, BOSS], {(7, A), (7, B)}) == []
        # outside the send window (night in Berlin) nothing for the owner
        night = datetime(2027, 3, 2, 23, 0, tzinfo=UTC)
        assert plan_subject(g, GOAL_POLICY, night, [OWNER]) == []


async def _meeting_at(
    gql: GQL, t: TenantInfo, owner_engine: Any, at: datetime, remind: int = 60
) -> uuid.UUID:
    """A series lead/dev whose next meeting is moved to `at` (as the owner: no API call can
    put a meeting where the test needs it relative to a frozen clock)."""
    q = "mutation($i: CreateCheckInSeriesInput!) { createCheckInSeries(input: $i) { upcoming { id } } }"
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    got = await gql.ok(
        q,
        {
            "i": {
                "reportId": t.gid("dev@t.example"),
                "startsAt": start.isoformat(),
                "remindMinutesBefore": remind,
            }
        },
        token=t.token("lead@t.example"),
    )
    from upward.graphql.relay import from_global_id

    mid = from_global_id(got["createCheckInSeries"]["upcoming"][0]["id"], field="id")[1]
    async with owner_engine.begin() as c:
        await c.execute(
            sa.text("update checkins set occurs_at = :at where id = :id"), {"at": at, "id": mid}
        )
    return mid


async def _checkin_pass(tenant_id: uuid.UUID, at: datetime) -> outbox.Planned:
    clock.freeze(at)
    try:
        p = await principal_of(tenant_id)
        async with tenant_session(tenant_id) as s:
            return await outbox.plan_checkin_reminders(s, p, now=at)
    finally:
        clock.freeze(None)


async def _notes(owner_engine: Any, t: TenantInfo) -> list[Any]:
    return await rows(
        owner_engine,
        "select n.recipient_id, n.subject, n.channels, n.data, n.idempotency_key "
        "from notifications n where n.tenant_id = :t and n.kind = 'reminder' order by n.subject",
        t=t.id,
    )


class TestCheckinReminders:
    async def test_both_participants_once_and_a_reschedule_is_a_new_one(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t = await make_tenant()
        at = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
        mid = await _meeting_at(gql, t, owner_engine, at)
        early = await _checkin_pass(t.id, at - timedelta(minutes=61))
        assert early.reminders == 0
        first = await _checkin_pass(t.id, at - timedelta(minutes=59))
        assert (first.reminders, first.notifications) == (2, 2) and len(first.deliveries or []) == 4
        again = await _checkin_pass(t.id, at - timedelta(minutes=30))
        assert again.reminders == 0 and again.notifications == 0
        got = await _notes(owner_engine, t)
        assert {r.recipient_id for r in got} == {t.ids["lead@t.example"], t.ids["dev@t.example"]}
        subjects = sorted(r.subject for r in got)
        assert subjects == [
            "Check-in with Dee Dev in 59 minutes",
            "Check-in with Lee Lead in 59 minutes",
        ]
        assert all(r.data["checkin_id"] == str(mid) for r in got)
        # the inbox shows it with a global id
        inbox = await gql.ok(
            "{ notifications(first: 5) { edges { node { subject data } } } }",
            token=t.token("dev@t.example"),
        )
        data = inbox["notifications"]["edges"][0]["node"]["data"]
        assert data["checkin_id"] == _gid("CheckIn", mid)
        # rescheduled: a new reminder for the new time; none once it started
        later = at + timedelta(hours=3)
        async with owner_engine.begin() as c:
            await c.execute(
                sa.text("update checkins set occurs_at = :at where id = :id"),
                {"at": later, "id": mid},
            )
        assert (await _checkin_pass(t.id, later + timedelta(minutes=1))).reminders == 0
        assert (await _checkin_pass(t.id, later - timedelta(minutes=10))).reminders == 2
        assert len(await _notes(owner_engine, t)) == 4

    async def test_cancelled_started_and_opted_out(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t = await make_tenant()
        at = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
        mid = await _meeting_at(gql, t, owner_engine, at, remind=1440)
        await gql.ok(
            "mutation { setNotificationPreferences(input: {emailEnabled: false}) { emailEnabled } }",
            token=t.token("dev@t.example"),
        )
        # a late scan (the meeting under way) sends nothing
        assert (await _checkin_pass(t.id, at + timedelta(minutes=5))).reminders == 0
        planned = await _checkin_pass(t.id, at - timedelta(hours=20))
        assert planned.reminders == 2
        chans = {r.recipient_id: sorted(r.channels) for r in await _notes(owner_engine, t)}
        assert chans == {
            t.ids["dev@t.example"]: ["in_app"],
            t.ids["lead@t.example"]: ["email", "in_app"],
        }
        # cancelled: nothing (here: a new time would otherwise be a new cycle)
        later = at + timedelta(days=1)
        async with owner_engine.begin() as c:
            await c.execute(
                sa.text("update checkins set occurs_at = :at, status = 'cancelled' where id = :id"),
                {"at": later, "id": mid},
            )
        assert (await _checkin_pass(t.id, later - timedelta(hours=1))).reminders == 0


async def _goal_pass(tenant_id: uuid.UUID, at: datetime) -> outbox.Planned:
    clock.freeze(at)
    try:
        p = await principal_of(tenant_id)
        async with tenant_session(tenant_id) as s:
            return await outbox.plan_goal_reminders(s, p, now=at)
    finally:
        clock.freeze(None)


def _gid(type_name: str, raw: uuid.UUID) -> str:
    from upward.graphql.relay import to_global_id

    return to_global_id(type_name, raw)


class TestGoalReminders:
    async def test_owner_then_manager_once_each(self, make_tenant: Any, owner_engine: Any) -> None:
        t = await make_tenant()
        # a weekday a few days back, so +1 and +7 both fall within the catch-up window
        today = datetime.now(UTC).date()
        due = today - timedelta(days=8)
        while due.weekday() != 0:  # a Monday: +1 Tuesday, +7 Monday (weekdays)
            due -= timedelta(days=1)
        goal = await _goal(owner_engine, t, "dev@t.example", due_on=due, title="Ship the design")
        await _goal(owner_engine, t, "dev@t.example", due_on=due, status="completed")
        await _goal(owner_engine, t, "dev@t.example", due_on=due, plan_status="draft")
        # Dee and Lee are in Austin: 15:00 UTC is within their window
        day1 = datetime.combine(due + timedelta(days=1), datetime.min.time(), UTC) + timedelta(
            hours=15
        )
        p1 = await _goal_pass(t.id, day1)
        assert p1.reminders == 1
        assert (await _goal_pass(t.id, day1 + timedelta(minutes=5))).reminders == 0
        day7 = day1 + timedelta(days=6)
        p7 = await _goal_pass(t.id, day7)
        assert p7.reminders == 2
        assert (await _goal_pass(t.id, day7 + timedelta(hours=1))).reminders == 0
        got = await _notes(owner_engine, t)
        assert sorted(
            (r.recipient_id == t.ids["dev@t.example"], r.data["offset_days"]) for r in got
        ) == [
            (False, 7),
            (True, 1),
            (True, 7),
        ]
        assert all(r.data["goal_id"] == str(goal) for r in got)
        manager = next(r for r in got if r.recipient_id == t.ids["lead@t.example"])
        assert manager.subject == 'Dee Dev\'s goal "Ship the design" was due 7 days ago'
        # completing the goal stops it; a new due date starts a new cycle
        async with owner_engine.begin() as c:
            await c.execute(
                sa.text("update plan_goals set due_on = :d where id = :g"),
                {"d": due + timedelta(days=5), "g": goal},
            )
        assert (await _goal_pass(t.id, day7 + timedelta(hours=2))).reminders == 1


class TestTwoSchedulers:
    async def test_two_schedulers_and_a_redelivery_write_each_reminder_once(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        from tests.smtp import running_inbox, smtp_settings
        from workers.broker import broker, redis_client
        from workers.development import checkin_tick
        from workers.scheduler import periodic_jobs, tick

        t = await make_tenant()
        at = (datetime.now(UTC) + timedelta(minutes=30)).replace(second=0, microsecond=0)
        await _meeting_at(gql, t, owner_engine, at, remind=60)
        jobs = [j for j in periodic_jobs() if j.name.startswith("development.")]
        assert {j.name for j in jobs} == {"development.checkin_tick", "development.goal_reminders"}
        client = redis_client()
        broker.flush_all()
        try:
            now = clock.now()
            await tick(client, jobs, now=now.timestamp(), only={t.id})
            for key in client.scan_iter(match="*:scheduler:*"):  # the lease lost
                client.delete(key)
            await tick(client, jobs, now=now.timestamp(), only={t.id})
            checkin_tick.send(str(t.id))  # and a redelivered message
            with running_inbox() as inbox, smtp_settings(inbox):
                worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
                worker.start()
                try:
                    for queue in ("default", "deliveries"):
                        await asyncio.to_thread(broker.join, queue, timeout=60_000)
                    await asyncio.to_thread(worker.join)
                finally:
                    await asyncio.to_thread(worker.stop)
                mails = inbox.messages
        finally:
            broker.flush_all()
        got = await rows(
            owner_engine,
            "select idempotency_key, count(*) as n from notifications where tenant_id = :t "
            "group by idempotency_key",
            t=t.id,
        )
        assert len(got) == 2 and all(r.n == 1 for r in got)
        sent = await rows(
            owner_engine,
            "select channel, status, count(*) as n from deliveries where tenant_id = :t "
            "group by channel, status",
            t=t.id,
        )
        counts = {(r.channel, r.status): r.n for r in sent}
        assert counts.get(("in_app", "sent")) == 2 and counts.get(("email", "sent")) == 2
        # rendered from the check-in template, one per participant
        assert sorted(m["Subject"].split(" in ")[0] for m in mails) == [
            "Check-in with Dee Dev",
            "Check-in with Lee Lead",
        ], [m["Subject"] for m in mails]


async def test_materializing_twice_adds_nothing(
    gql: GQL, make_tenant: Any, owner_engine: Any
) -> None:
    t = await make_tenant()
    q = "mutation($i: CreateCheckInSeriesInput!) { createCheckInSeries(input: $i) { id } }"
    start = (datetime.now(UTC) - timedelta(days=30)).replace(microsecond=0)
    await gql.ok(
        q,
        {"i": {"reportId": t.gid("dev@t.example"), "startsAt": start.isoformat()}},
        token=t.token("lead@t.example"),
    )
    for _ in range(2):
        async with tenant_session(t.id) as s:
            assert await checkins.materialize_due(s) == 0
    later = clock.now() + timedelta(days=8)
    async with tenant_session(t.id) as s:
        assert await checkins.materialize_due(s, now=later) >= 1
    async with tenant_session(t.id) as s:
        assert await checkins.materialize_due(s, now=later) == 0
    got = await rows(
        owner_engine, "select count(*) as n from checkins where tenant_id = :t", t=t.id
    )
    assert got[0].n >= 3
