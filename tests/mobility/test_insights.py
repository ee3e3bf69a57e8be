"""Mobility insights through HTTP: fill rate, time to fill, applications per posting, moves by
kind and department, the skills top candidates miss; HR only; the period bounds."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import GQL, TenantInfo, only_error
from tests.mobility.helpers import (
    APPLICANT,
    COLLEAGUE,
    CURRENT_MANAGER,
    HIRING,
    HR,
    agid,
    levels,
    make_application,
    make_posting,
    mobility_org,
    skills,
)
from upward import clock
from upward.graphql.relay import to_global_id

Q = """query($f: Date!, $t: Date!, $k: Int) { mobilityInsights(fromDate: $f, toDate: $t,
  topSkills: $k) {
  fromDate toDate postingsFinished postingsFilledInternally internalFillRate
  timeToFillP50Days timeToFillMeanDays applications postingsWithApplications
  applicationsPerPosting movesByKind { kind count }
  movesByDepartment { department { id name } kind count }
  topMissingSkills { skillId name postings candidates } } }"""
HIRE = """mutation($id: ID!) { transitionApplication(id: $id, action: HIRE) { stage } }"""


def d(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, 0, tzinfo=UTC)


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    clock.freeze(datetime(2026, 3, 20, 10, 0, tzinfo=UTC))
    try:
        yield await make_tenant(mobility_org())
    finally:
        clock.freeze(None)


async def _match(
    engine: Any, t: TenantInfo, pid: uuid.UUID, email: str, score: float, sk: list[Any]
) -> None:
    explanation = {
        "components": [],
        "skills": [
            {"skill_id": str(s), "required": req, "min": 3, "have": 1, "state": state}
            for s, req, state in sk
        ],
        "excluded": None,
    }
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "insert into posting_matches (tenant_id, posting_id, employee_id, score, "
                "eligible, explanation) values (:t, :p, :e, :s, true, cast(:x as jsonb))"
            ),
            {"t": t.id, "p": pid, "e": t.ids[email], "s": score, "x": json.dumps(explanation)},
        )


class TestInsights:
    async def test_the_numbers_of_a_period(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        lv = await levels(owner_engine, t)
        sk = await skills(owner_engine, t)
        py, lead = sk["Python"], sk["Leadership"]
        # filled in 30 and 10 days; one closed unfilled; one still open; one filled last year
        a = await make_posting(
            owner_engine, t, status="filled", filled=1, opened_at=d(1, 5), closed_at=d(2, 4)
        )
        b = await make_posting(
            owner_engine, t, status="filled", filled=1, opened_at=d(1, 10), closed_at=d(1, 20)
        )
        await make_posting(owner_engine, t, status="closed", opened_at=d(1, 2), closed_at=d(3, 1))
        live = await make_posting(owner_engine, t, opened_at=d(2, 1), level_id=lv["Engineer"])
        await make_posting(
            owner_engine,
            t,
            status="filled",
            filled=1,
            opened_at=datetime(2025, 1, 1, tzinfo=UTC),
            closed_at=datetime(2025, 2, 1, tzinfo=UTC),
        )
        for pid, who, at in (
            (a, APPLICANT, d(1, 6)),
            (a, COLLEAGUE, d(1, 7)),
            (b, APPLICANT, d(1, 11)),
            (live, COLLEAGUE, datetime(2025, 12, 31, tzinfo=UTC)),  # before the period
        ):
            await make_application(owner_engine, t, pid, applicant=who, created_at=at)
        # the top candidates of the open posting: Python missing for two, Leadership for one;
        # a preferred skill and a met one do not count; a candidate below the top 10 neither
        await _match(owner_engine, t, live, APPLICANT, 80, [(py, True, "partial")])
        await _match(
            owner_engine, t, live, COLLEAGUE, 70, [(py, True, "missing"), (lead, True, "missing")]
        )
        await _match(
            owner_engine,
            t,
            live,
            CURRENT_MANAGER,
            60,
            [(py, True, "met"), (lead, False, "missing")],
        )
        # a real hire through the API in the period: a promotion into People
        people = await make_posting(
            owner_engine,
            t,
            department="People",
            level_id=lv["Senior Engineer"],
            opened_at=d(3, 1),
        )
        aid = await make_application(owner_engine, t, people, stage="offer", created_at=d(3, 2))
        await gql.ok(HIRE, {"id": agid(aid)}, token=t.token(HIRING))  # on 2026-03-20

        got = (await gql.ok(Q, {"f": "2026-01-01", "t": "2026-03-31"}, token=t.token(HR)))[
            "mobilityInsights"
        ]
        assert got["postingsFinished"] == 4  # a, b, the closed one, and the one just filled
        assert got["postingsFilledInternally"] == 3
        assert got["internalFillRate"] == 0.75
        # 30, 10 and 18.9 (opened 03-01 12:00, filled 03-20 10:00) days
        assert got["timeToFillP50Days"] == 18.9
        assert got["timeToFillMeanDays"] == pytest.approx((30 + 10 + 18 + 22 / 24) / 3, abs=0.05)
        assert got["applications"] == 4
        assert got["postingsWithApplications"] == 3
        assert got["applicationsPerPosting"] == round(4 / 5, 2)  # a, b, closed, live, people
        assert got["movesByKind"] == [{"kind": "PROMOTION", "count": 1}]
        assert got["movesByDepartment"] == [
            {
                "department": {
                    "id": to_global_id("Department", t.departments["People"]),
                    "name": "People",
                },
                "kind": "PROMOTION",
                "count": 1,
            }
        ]
        assert got["topMissingSkills"] == [
            {
                "skillId": to_global_id("Skill", py),
                "name": "Python",
                "postings": 1,
                "candidates": 2,
            },
            {
                "skillId": to_global_id("Skill", lead),
                "name": "Leadership",
                "postings": 1,
                "candidates": 1,
            },
        ]
        one = await gql.ok(Q, {"f": "2026-01-01", "t": "2026-03-31", "k": 1}, token=t.token(HR))
        assert [s["name"] for s in one["mobilityInsights"]["topMissingSkills"]] == ["Python"]

    async def test_an_empty_period(self, gql: GQL, t: TenantInfo, owner_engine: Any) -> None:
        await make_posting(
            owner_engine, t, status="filled", filled=1, opened_at=d(1, 5), closed_at=d(2, 4)
        )
        got = (await gql.ok(Q, {"f": "2024-01-01", "t": "2024-12-31"}, token=t.token(HR)))[
            "mobilityInsights"
        ]
        assert got["postingsFinished"] == 0
        assert got["internalFillRate"] is None
        assert got["timeToFillP50Days"] is None
        assert got["applicationsPerPosting"] is None
        assert got["movesByKind"] == []
        assert got["topMissingSkills"] == []

    async def test_hr_only(self, gql: GQL, t: TenantInfo) -> None:
        for email in (APPLICANT, HIRING, CURRENT_MANAGER):
            err = only_error(
                await gql(Q, {"f": "2026-01-01", "t": "2026-03-31"}, token=t.token(email))
            )
            assert err["extensions"]["code"] == "FORBIDDEN"
        assert "errors" not in await gql(
            Q, {"f": "2026-01-01", "t": "2026-03-31"}, token=t.token("admin@t.example")
        )

    async def test_the_period_is_checked(self, gql: GQL, t: TenantInfo) -> None:
        err = only_error(await gql(Q, {"f": "2026-03-01", "t": "2026-01-01"}, token=t.token(HR)))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "toDate"}
        err = only_error(
            await gql(Q, {"f": "2026-01-01", "t": "2026-03-01", "k": 0}, token=t.token(HR))
        )
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "topSkills"}

    async def test_another_tenants_numbers_never_count(
        self, gql: GQL, t: TenantInfo, make_tenant: Any, owner_engine: Any
    ) -> None:
        other = await make_tenant(mobility_org())
        await make_posting(
            owner_engine, other, status="filled", filled=1, opened_at=d(1, 5), closed_at=d(2, 4)
        )
        got = (await gql.ok(Q, {"f": "2026-01-01", "t": "2026-03-31"}, token=t.token(HR)))[
            "mobilityInsights"
        ]
        assert got["postingsFinished"] == 0
