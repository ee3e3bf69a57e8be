"""The leaderboards' monthly counts (`recognition_monthly`): kept in the transactions of gives,
hides and unhides (and the manifest's history), they always equal a recount from the kudos, and
a month-aligned leaderboard read from them equals the one computed from the kudos."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, TenantInfo
from tests.recognition.test_kudos import HIDE, give, org
from upward import clock
from upward.db import fetch, tenant_session
from upward.recognition import insights

COUNTS = (
    "select month, employee_id, received, received_points, given, given_points "
    "from recognition_monthly where (received, received_points, given, given_points) "
    "<> (0, 0, 0, 0) order by 1, 2"
)


async def maintained_and_recounted(t: TenantInfo, timezone: str) -> tuple[list, list]:
    async with tenant_session(t.id) as s:
        kept = [tuple(r) for r in await fetch(s, COUNTS)]
        await insights.rebuild_monthly(s, timezone)
        recounted = [tuple(r) for r in await fetch(s, COUNTS)]
        await s.rollback()
    return kept, recounted


async def both_boards(t: TenantInfo, timezone: str, **kw: Any) -> tuple[list, list]:
    async with tenant_session(t.id) as s:
        monthly = await fetch(s, *_args(insights.monthly_leaderboard_sql(timezone=timezone, **kw)))
        raw = await fetch(s, *_args(insights.leaderboard_sql(**kw)))
    cols = ("id", "kudos", "points", "rank")
    return [tuple(r[c] for c in cols) for r in monthly], [tuple(r[c] for c in cols) for r in raw]


def _args(built: tuple[str, list[Any]]) -> list[Any]:
    return [built[0], *built[1]]


class TestMonthlyCounts:
    async def test_kept_counts_equal_a_recount(self, gql: GQL, make_tenant) -> None:
        t = await make_tenant(org(recognition_settings={"manager_award_budget": 100}))
        try:
            clock.freeze(datetime(2026, 10, 31, 22, 30, tzinfo=UTC))  # 23:30 in Berlin: October
            a = await give(gql, t, "dev@t.example", ["peer@t.example", "lead@t.example"], points=5)
            clock.freeze(datetime(2026, 10, 31, 23, 30, tzinfo=UTC))  # November in Berlin
            await give(gql, t, "peer@t.example", ["dev@t.example"], points=7)
            await give(gql, t, "lead@t.example", ["dev@t.example"], points=20, award=True)
            await give(gql, t, "boss@t.example", ["dev@t.example"], visibility="PRIVATE", points=3)
            hidden = await give(gql, t, "hr@t.example", ["boss@t.example"], points=4)
        finally:
            clock.freeze(None)
        await gql.ok(
            HIDE, {"i": {"kudosId": hidden["id"], "reason": "x"}}, token=t.token("hr@t.example")
        )
        await gql.ok(
            HIDE, {"i": {"kudosId": a["id"], "reason": "x"}}, token=t.token("hr@t.example")
        )
        await gql.ok(
            "mutation($k: ID!) { unhideKudos(kudosId: $k) { hidden } }",
            {"k": a["id"]},
            token=t.token("hr@t.example"),
        )
        kept, recounted = await maintained_and_recounted(t, "Europe/Berlin")
        assert kept == recounted
        months = {m for m, *_ in kept}
        assert {m.isoformat() for m in months} == {"2026-10-01", "2026-11-01"}
        dev = t.ids["dev@t.example"]
        # November: 2 public kudos received (peer's, lead's award), the private one not counted
        assert [r[2:] for r in kept if r[1] == dev and r[0].month == 11] == [(2, 27, 0, 0)]
        assert [r[2:] for r in kept if r[1] == dev and r[0].month == 10] == [(0, 0, 1, 10)]

    async def test_the_demo_history_is_counted(self, acme, globex) -> None:
        for t, tz in ((acme, "America/New_York"), (globex, "Europe/Berlin")):
            kept, recounted = await maintained_and_recounted(t, tz)
            assert kept and kept == recounted

    @pytest.mark.parametrize("by", ["received", "given", "points"])
    async def test_month_aligned_boards_equal_the_kudos_boards(self, acme, by: str) -> None:
        tz = "America/New_York"
        zone = clock.zone(tz)
        bounds = [
            (None, None),
            (datetime(2026, 11, 1, tzinfo=zone), datetime(2026, 12, 1, tzinfo=zone)),
            (datetime(2026, 10, 1, tzinfo=zone), None),
        ]
        eng = acme.departments["Engineering"]
        for since, until in bounds:
            for dep in (None, eng):
                kw = dict(by=by, since=since, until=until, department_id=dep, first=100)
                monthly, raw = await both_boards(acme, tz, **kw)
                assert monthly == raw, (since, until, dep)
        assert insights.month_aligned(bounds[1][0], bounds[1][1], tz)
        assert not insights.month_aligned(datetime(2026, 11, 1, tzinfo=UTC), None, tz)

    async def test_concurrent_gives_to_the_same_people_do_not_deadlock(
        self, gql: GQL, make_tenant, owner_engine
    ) -> None:
        t = await make_tenant(org())
        pairs = [["peer@t.example", "lead@t.example"], ["lead@t.example", "peer@t.example"]]
        givers = ["dev@t.example", "boss@t.example", "hr@t.example", "admin@t.example"]
        bodies = await asyncio.gather(
            *[give(gql, t, givers[i % 4], pairs[i % 2], ok=False, points=1) for i in range(16)]
        )
        assert all("errors" not in b for b in bodies), bodies
        async with owner_engine.connect() as conn:
            received = dict(
                (
                    await conn.execute(
                        sa.text(
                            "select e.email, sum(m.received)::int from recognition_monthly m join employees e "
                            "on e.tenant_id = m.tenant_id and e.id = m.employee_id where m.tenant_id = :t "
                            "group by 1"
                        ),
                        {"t": t.id},
                    )
                ).all()
            )
        assert received["peer@t.example"] == 16 and received["lead@t.example"] == 16
