"""Match alerts on the real database: who is alerted for a posting's stored matches (top N, the
minimum score, open to moves, eligible, active, not the hiring manager, not applied), at most
once per (posting, person), at most the weekly cap per person over a rolling 7 days, in-app and
by email per the person's preference; and which domain events route to which matching work."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SMALL_ORG, TenantInfo
from tests.reminders.helpers import principal_of, rows
from upward import clock
from upward.db import tenant_session
from upward.mobility import alerts
from workers.mobility import work_of

PEOPLE = 8


def org(people: int = PEOPLE) -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["employees"] += [
        {"email": f"p{i}@t.example", "name": f"Person {i}", "manager": "boss@t.example"}
        for i in range(people)
    ]
    return o


async def sql(engine: AsyncEngine, stmt: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text(stmt), params)


async def posting(
    engine: AsyncEngine,
    t: TenantInfo,
    *,
    status: str = "open",
    skill: uuid.UUID | None = None,
    title: str = "Platform engineer",
) -> uuid.UUID:
    """An open posting managed by boss@ (as the owner); with `skill`, it requires it at 3."""
    pid = uuid.uuid4()
    await sql(
        engine,
        "insert into job_postings (tenant_id, id, kind, title, hiring_manager_id, status) "
        "values (:t, :id, 'role', :title, :m, :s)",
        t=t.id,
        id=pid,
        title=title,
        m=t.ids["boss@t.example"],
        s=status,
    )
    if skill is not None:
        await sql(
            engine,
            "insert into job_posting_skills (tenant_id, posting_id, skill_id, required, "
            "min_proficiency) values (:t, :p, :s, true, 3)",
            t=t.id,
            p=pid,
            s=skill,
        )
    return pid


async def skill(engine: AsyncEngine, t: TenantInfo, name: str = "Go") -> uuid.UUID:
    sid = uuid.uuid4()
    await sql(
        engine,
        "insert into skills (tenant_id, id, name, category) values (:t, :id, :n, 'tech')",
        t=t.id,
        id=sid,
        n=name,
    )
    return sid


async def rate(engine: AsyncEngine, t: TenantInfo, email: str, sid: uuid.UUID, p: int) -> None:
    await sql(
        engine,
        "insert into employee_skills (tenant_id, employee_id, skill_id, proficiency, source) "
        "values (:t, :e, :s, :p, 'assessment') on conflict (tenant_id, employee_id, skill_id) "
        "do update set proficiency = excluded.proficiency, updated_at = now()",
        t=t.id,
        e=t.ids[email],
        s=sid,
        p=p,
    )


async def prefer(engine: AsyncEngine, t: TenantInfo, email: str, open_to: str = "yes") -> None:
    await sql(
        engine,
        "insert into career_preferences (tenant_id, employee_id, open_to_moves) "
        "values (:t, :e, :o) on conflict (tenant_id, employee_id) "
        "do update set open_to_moves = excluded.open_to_moves",
        t=t.id,
        e=t.ids[email],
        o=open_to,
    )


async def match(
    engine: AsyncEngine,
    t: TenantInfo,
    pid: uuid.UUID,
    email: str,
    score: float,
    *,
    eligible: bool = True,
) -> None:
    await sql(
        engine,
        "insert into posting_matches (tenant_id, posting_id, employee_id, score, eligible) "
        "values (:t, :p, :e, :s, :el)",
        t=t.id,
        p=pid,
        e=t.ids[email],
        s=score,
        el=eligible,
    )


async def settings(engine: AsyncEngine, t: TenantInfo, **values: int) -> None:
    cols = ", ".join(values)
    await sql(
        engine,
        f"insert into mobility_settings (tenant_id, {cols}) "
        f"values (:t, {', '.join(':' + k for k in values)})",
        t=t.id,
        **values,
    )


async def send(t: TenantInfo, pid: uuid.UUID) -> int:
    p = await principal_of(t.id)
    async with tenant_session(t.id) as s:
        return await alerts.send_alerts(s, p, pid)


async def alerted(engine: AsyncEngine, t: TenantInfo, pid: uuid.UUID | None = None) -> set[str]:
    """Emails of the people with an alert (for `pid`, or any), checked against their
    notification: exactly one per (posting, person), keyed `match_alert:<posting>:<person>`."""
    by_id = {v: k for k, v in t.ids.items()}
    got = await rows(
        engine,
        "select a.posting_id, a.employee_id, count(n.id) as n from match_alerts a "
        "left join notifications n on n.tenant_id = a.tenant_id and n.idempotency_key = "
        "'match_alert:' || a.posting_id || ':' || a.employee_id "
        "and n.recipient_id = a.employee_id "
        "where a.tenant_id = :t group by a.posting_id, a.employee_id",
        t=t.id,
    )
    assert all(r.n == 1 for r in got), got
    notes = await rows(
        engine,
        "select count(*) as n from notifications where tenant_id = :t "
        "and idempotency_key like 'match_alert:%'",
        t=t.id,
    )
    assert notes[0].n == len(got)
    return {by_id[r.employee_id] for r in got if pid is None or r.posting_id == pid}


def p(i: int) -> str:
    return f"p{i}@t.example"


class TestWhoIsAlerted:
    async def test_the_top_n_above_the_minimum_score(
        self, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        t = await make_tenant(org())
        await settings(owner_engine, t, alert_top_n=3, alert_min_score=60)
        pid = await posting(owner_engine, t)
        for i, score in enumerate([95, 90, 59, 80, 70, 60]):
            await prefer(owner_engine, t, p(i))
            await match(owner_engine, t, pid, p(i), score)
        assert await send(t, pid) == 3
        assert await alerted(owner_engine, t, pid) == {p(0), p(1), p(3)}
        # the same top 3 next time: nobody new, nobody twice
        assert await send(t, pid) == 0
        await sql(
            owner_engine,
            "update mobility_settings set alert_top_n = 20 where tenant_id = :t",
            t=t.id,
        )
        # a larger N reaches 70 and exactly 60; 59 is below the minimum
        assert await send(t, pid) == 2
        assert await alerted(owner_engine, t, pid) == {p(0), p(1), p(3), p(4), p(5)}

    async def test_only_open_eligible_active_people_never_the_hiring_manager(
        self, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        t = await make_tenant(org())
        pid = await posting(owner_engine, t)
        await prefer(owner_engine, t, p(0), "yes")
        await prefer(owner_engine, t, p(1), "confidential")  # their own inbox: alerted
        await prefer(owner_engine, t, p(2), "no")
        # p3 has no preferences at all: not open
        await prefer(owner_engine, t, p(4), "yes")  # not eligible
        await prefer(owner_engine, t, p(5), "yes")  # left the company
        await prefer(owner_engine, t, p(6), "yes")  # applied already
        await prefer(owner_engine, t, "boss@t.example", "yes")  # the hiring manager
        for i in range(7):
            await match(owner_engine, t, pid, p(i), 99, eligible=i != 4)
        await match(owner_engine, t, pid, "boss@t.example", 100)
        await sql(
            owner_engine,
            "update employees set status = 'offboarded' where tenant_id = :t and id = :e",
            t=t.id,
            e=t.ids[p(5)],
        )
        await sql(
            owner_engine,
            "insert into applications (tenant_id, posting_id, employee_id) values (:t, :p, :e)",
            t=t.id,
            p=pid,
            e=t.ids[p(6)],
        )
        assert await send(t, pid) == 2
        assert await alerted(owner_engine, t, pid) == {p(0), p(1)}
        # nobody but the person hears of it: no notification for anyone else (the manager)
        others = await rows(
            owner_engine,
            "select recipient_id from notifications where tenant_id = :t",
            t=t.id,
        )
        assert {r.recipient_id for r in others} == {t.ids[p(0)], t.ids[p(1)]}

    async def test_a_posting_not_open_alerts_nobody(
        self, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        t = await make_tenant(org())
        today = clock.today("Europe/Berlin")
        draft = await posting(owner_engine, t, status="draft")
        closed = await posting(owner_engine, t, status="closed")
        later = await posting(owner_engine, t)
        await sql(
            owner_engine,
            "update job_postings set opens_on = :d where tenant_id = :t and id = :p",
            t=t.id,
            p=later,
            d=today + timedelta(days=3),
        )
        await prefer(owner_engine, t, p(0))
        for pid in (draft, closed, later):
            await match(owner_engine, t, pid, p(0), 90)
            assert await send(t, pid) == 0
        assert await alerted(owner_engine, t) == set()
        assert await send(t, uuid.uuid4()) == 0  # no such posting


class TestOnceAndTheWeeklyCap:
    async def test_at_most_the_cap_per_rolling_week(
        self, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        t = await make_tenant(org())
        await settings(owner_engine, t, max_alerts_per_week=2)
        await prefer(owner_engine, t, p(0))
        await prefer(owner_engine, t, p(1))
        posts = [await posting(owner_engine, t, title=f"Job {i}") for i in range(4)]
        for pid in posts:
            await match(owner_engine, t, pid, p(0), 90)
        await match(owner_engine, t, posts[2], p(1), 90)
        assert [await send(t, pid) for pid in posts] == [1, 1, 1, 0]
        assert await alerted(owner_engine, t, posts[2]) == {p(1)}  # p0's week is full
        assert {k for pid in posts for k in await alerted(owner_engine, t, pid)} == {p(0), p(1)}
        n = await rows(
            owner_engine,
            "select count(*) as n from match_alerts where tenant_id = :t and employee_id = :e",
            t=t.id,
            e=t.ids[p(0)],
        )
        assert n[0].n == 2
        # 8 days later the week rolled on: the waiting posting reaches p0 (the older one too)
        await sql(
            owner_engine,
            "update match_alerts set alerted_at = alerted_at - interval '8 days' "
            "where tenant_id = :t",
            t=t.id,
        )
        assert await send(t, posts[2]) == 1
        assert await send(t, posts[3]) == 1
        assert await send(t, posts[0]) == 0  # once ever, however long ago

    async def test_email_per_preference_and_the_key(
        self, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        t = await make_tenant(org())
        pid = await posting(owner_engine, t)
        for i in (0, 1):
            await prefer(owner_engine, t, p(i))
            await match(owner_engine, t, pid, p(i), 88)
        await sql(
            owner_engine,
            "insert into notification_preferences (tenant_id, employee_id, email_enabled) "
            "values (:t, :e, false)",
            t=t.id,
            e=t.ids[p(1)],
        )
        assert await send(t, pid) == 2
        assert await send(t, pid) == 0
        got = await rows(
            owner_engine,
            "select n.recipient_id, n.idempotency_key, n.subject, n.data, "
            "array_agg(d.channel order by d.channel) as channels from notifications n "
            "join deliveries d on d.tenant_id = n.tenant_id and d.notification_id = n.id "
            "where n.tenant_id = :t group by n.tenant_id, n.id",
            t=t.id,
        )
        by = {r.recipient_id: r for r in got}
        assert by[t.ids[p(0)]].channels == ["email", "in_app"]
        assert by[t.ids[p(1)]].channels == ["in_app"]
        r0 = by[t.ids[p(0)]]
        assert r0.idempotency_key == f"match_alert:{pid}:{t.ids[p(0)]}"
        assert r0.subject == "An internal opening matches your profile: Platform engineer"
        assert r0.data["posting_id"] == str(pid) and r0.data["score"] == 88.0


class TestEventRouting:
    def test_postings_people_and_drops(self) -> None:
        a, b, c, e1, e2, e3 = (uuid.uuid4() for _ in range(6))

        def ev(kind: str, subject: uuid.UUID, **payload: Any) -> dict[str, Any]:
            return {"kind": kind, "subject_id": subject, "payload": payload}

        events = [
            ev("posting.opened", a),
            ev("posting.updated", a),
            ev("posting.opened", b),
            ev("posting.closed", b),
            ev("posting.filled", c),
            ev("credential.verified", uuid.uuid4(), employee_id=str(e1)),
            ev("employee.skills_changed", e2, employee_id=str(e2)),
            ev("career_preferences.changed", e1, employee_id=str(e1)),
            ev("idp.submitted", uuid.uuid4(), employee_id=str(uuid.uuid4())),  # no change yet
            ev("idp.targets_changed", uuid.uuid4(), employee_id=str(e3)),
            ev("reminder.sent", uuid.uuid4()),
        ]
        assert work_of(events) == ([a], [b, c], [e1, e2, e3])
        assert work_of([]) == ([], [], [])
