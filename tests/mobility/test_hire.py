"""The hire through HTTP: the person's level, title, department, manager and location change
with the stage in one transaction (all or nothing), the move is recorded (promotion, lateral,
gig), the posting fills up (never past its openings, also when two hires race), the outbox gets
`application.hired` and `employee.moved`, and moves are read by the person, their line and HR."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

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
    one,
    rows,
)
from upward import clock
from upward.graphql.relay import to_global_id

HIRE = """mutation($id: ID!, $s: Date) { transitionApplication(id: $id, action: HIRE, startOn: $s) {
  stage move { kind movedOn before after employee { email } } } }"""
MOVES = """query($f: EmployeeMoveFilter, $n: Int) { employeeMoves(filter: $f, first: $n) {
  totalCount edges { node { id kind movedOn before after postingId applicationId
  employee { email } actor { email } } } } }"""

PERSON = """select e.title, e.department_id, e.manager_id, e.location_id, e.job_level,
  l.level_id, l.since from employees e left join employee_levels l
  on l.tenant_id = e.tenant_id and l.employee_id = e.id where e.id = :e"""


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    clock.freeze(datetime(2026, 6, 15, 10, 0, tzinfo=UTC))
    try:
        yield await make_tenant(mobility_org())
    finally:
        clock.freeze(None)


async def _person(engine: Any, t: TenantInfo, email: str = APPLICANT) -> dict[str, Any]:
    return dict(await one(engine, PERSON, e=t.ids[email]))


class TestHire:
    async def test_a_promotion_changes_everything_at_once(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        lv = await levels(owner_engine, t)
        pid = await make_posting(
            owner_engine,
            t,
            department="People",
            level_id=lv["Senior Engineer"],
            location_names=("Berlin",),
            hiring_manager=HIRING,
        )
        aid = await make_application(owner_engine, t, pid, stage="offer")
        before = await _person(owner_engine, t)
        got = await gql.ok(HIRE, {"id": agid(aid), "s": "2026-07-01"}, token=t.token(HIRING))
        move = got["transitionApplication"]["move"]
        assert got["transitionApplication"]["stage"] == "HIRED"
        assert move["kind"] == "PROMOTION"
        assert move["movedOn"] == "2026-07-01"
        assert move["employee"] == {"email": APPLICANT}
        after = await _person(owner_engine, t)
        assert after == {
            "title": "Senior Engineer",
            "department_id": t.departments["People"],
            "manager_id": t.ids[HIRING],
            "location_id": t.locations["Berlin"],
            "job_level": "IC3",
            "level_id": lv["Senior Engineer"],
            "since": date(2026, 7, 1),
        }
        assert move["before"] == {
            "title": None,
            "department_id": to_global_id("Department", before["department_id"]),
            "manager_id": to_global_id("Employee", t.ids[CURRENT_MANAGER]),
            "location_id": to_global_id("Location", t.locations["Austin"]),
            "job_level": "IC2",
            "level_id": to_global_id("TrackLevel", lv["Engineer"]),
        }
        assert move["after"]["level_id"] == to_global_id("TrackLevel", lv["Senior Engineer"])
        posting = await one(
            owner_engine, "select filled, status, closed_at from job_postings where id = :p", p=pid
        )
        assert (posting["filled"], posting["status"]) == (1, "filled")
        assert posting["closed_at"] is not None
        events = await rows(
            owner_engine,
            "select kind, subject_type, payload from domain_events where tenant_id = :t "
            "order by kind",
            t=t.id,
        )
        assert [(e["kind"], e["subject_type"]) for e in events] == [
            ("application.hired", "Application"),
            ("employee.moved", "Employee"),
            ("posting.filled", "JobPosting"),  # the postings part's, on the last opening
        ]
        assert events[0]["payload"]["application_id"] == str(aid)
        assert events[1]["payload"]["kind"] == "promotion"
        audit = await rows(
            owner_engine,
            "select action from audit_events where tenant_id = :t "
            "and action <> 'tenant.apply_manifest' order by action",
            t=t.id,
        )
        assert [a["action"] for a in audit] == [
            "application.hire",
            "employee.move",
            "job_posting.fill",
        ]

    async def test_the_person_stays_where_they_sit_when_the_posting_offers_it(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(
            owner_engine, t, location_names=("Berlin", "Austin"), hiring_manager=HIRING
        )
        aid = await make_application(owner_engine, t, pid, stage="offer")
        await gql.ok(HIRE, {"id": agid(aid), "s": "2026-07-01"}, token=t.token(HIRING))
        after = await _person(owner_engine, t)
        assert after["location_id"] == t.locations["Austin"]  # not Berlin, first by name

    async def test_two_rungs_up_is_lateral_and_no_level_keeps_the_posting_title(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        lv = await levels(owner_engine, t)
        staff = await make_posting(owner_engine, t, level_id=lv["Staff Engineer"])
        aid = await make_application(owner_engine, t, staff, stage="offer")
        got = await gql.ok(HIRE, {"id": agid(aid)}, token=t.token(HR))
        assert got["transitionApplication"]["move"]["kind"] == "LATERAL"
        assert got["transitionApplication"]["move"]["movedOn"] == "2026-06-15"  # today
        plain = await make_posting(owner_engine, t, title="Payments Engineer", department=None)
        aid = await make_application(owner_engine, t, plain, applicant=COLLEAGUE, stage="offer")
        before = await _person(owner_engine, t, COLLEAGUE)
        got = await gql.ok(HIRE, {"id": agid(aid)}, token=t.token(HR))
        assert got["transitionApplication"]["move"]["kind"] == "LATERAL"
        after = await _person(owner_engine, t, COLLEAGUE)
        assert after == {**before, "title": "Payments Engineer", "manager_id": t.ids[HIRING]}

    async def test_a_gig_changes_nothing_but_is_recorded(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        lv = await levels(owner_engine, t)
        pid = await make_posting(
            owner_engine,
            t,
            kind="gig",
            title="Data migration gig",
            department="People",
            level_id=lv["Senior Engineer"],
            location_names=("Berlin",),
            start_on=date(2026, 8, 1),
        )
        aid = await make_application(owner_engine, t, pid, stage="offer")
        before = await _person(owner_engine, t)
        got = await gql.ok(HIRE, {"id": agid(aid)}, token=t.token(HIRING))
        move = got["transitionApplication"]["move"]
        assert move["kind"] == "GIG"
        assert move["movedOn"] == "2026-08-01"  # the posting's start date
        assert move["before"] == move["after"]
        assert await _person(owner_engine, t) == before

    async def test_openings_count_down_and_a_filled_posting_hires_nobody(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t, openings=2)
        a1 = await make_application(owner_engine, t, pid, stage="offer")
        a2 = await make_application(owner_engine, t, pid, applicant=COLLEAGUE, stage="offer")
        a3 = await make_application(owner_engine, t, pid, applicant=CURRENT_MANAGER, stage="offer")
        await gql.ok(HIRE, {"id": agid(a1)}, token=t.token(HR))
        p = await one(owner_engine, "select filled, status from job_postings where id = :p", p=pid)
        assert (p["filled"], p["status"]) == (1, "open")
        await gql.ok(HIRE, {"id": agid(a2)}, token=t.token(HR))
        p = await one(owner_engine, "select filled, status from job_postings where id = :p", p=pid)
        assert (p["filled"], p["status"]) == (2, "filled")
        err = only_error(await gql(HIRE, {"id": agid(a3)}, token=t.token(HR)))
        assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
        left = await one(owner_engine, "select stage from applications where id = :a", a=a3)
        assert left["stage"] == "offer"  # it stays, it cannot be hired

    async def test_two_hires_racing_for_the_last_opening_make_one(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        for _ in range(3):
            pid = await make_posting(owner_engine, t, openings=1)
            a1 = await make_application(owner_engine, t, pid, stage="offer")
            a2 = await make_application(owner_engine, t, pid, applicant=COLLEAGUE, stage="offer")
            got = await asyncio.gather(
                gql(HIRE, {"id": agid(a1)}, token=t.token(HR)),
                gql(HIRE, {"id": agid(a2)}, token=t.token(HIRING)),
            )
            assert sorted("errors" in b for b in got) == [False, True]
            loser = next(b for b in got if "errors" in b)
            assert only_error(loser)["extensions"]["code"] == "CONFLICT"
            p = await one(owner_engine, "select filled from job_postings where id = :p", p=pid)
            assert p["filled"] == 1
            moves = await rows(
                owner_engine, "select id from employee_moves where posting_id = :p", p=pid
            )
            assert len(moves) == 1
            hired = await rows(
                owner_engine,
                "select id from applications where posting_id = :p and stage = 'hired'",
                p=pid,
            )
            assert len(hired) == 1

    async def test_a_hire_that_would_make_a_cycle_changes_nothing(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        # the applicant (lead) would report to their own report (dev)
        pid = await make_posting(owner_engine, t, hiring_manager=APPLICANT, department="People")
        aid = await make_application(owner_engine, t, pid, applicant=CURRENT_MANAGER, stage="offer")
        before = await _person(owner_engine, t, CURRENT_MANAGER)
        err = only_error(await gql(HIRE, {"id": agid(aid)}, token=t.token(HR)))
        assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
        assert await _person(owner_engine, t, CURRENT_MANAGER) == before
        assert await _nothing_recorded(owner_engine, t, pid, aid)

    async def test_a_failing_last_step_rolls_everything_back(
        self, gql: GQL, t: TenantInfo, owner_engine: Any, monkeypatch: Any
    ) -> None:
        from upward.credentials import service as credentials

        lv = await levels(owner_engine, t)
        pid = await make_posting(
            owner_engine,
            t,
            department="People",
            level_id=lv["Senior Engineer"],
            location_names=("Berlin",),
        )
        aid = await make_application(owner_engine, t, pid, stage="offer")
        before = await _person(owner_engine, t)
        calls: list[str] = []
        real = credentials.record_event

        async def failing(*args: Any, **kw: Any) -> None:
            calls.append(kw["kind"])
            if kw["kind"] == "employee.moved":
                raise RuntimeError("the outbox is down")
            await real(*args, **kw)

        monkeypatch.setattr(credentials, "record_event", failing)
        err = only_error(await gql(HIRE, {"id": agid(aid)}, token=t.token(HIRING)))
        assert err["extensions"]["code"] == "INTERNAL"
        # it got to the very end
        assert calls == ["posting.filled", "application.hired", "employee.moved"]
        assert await _person(owner_engine, t) == before
        assert await _nothing_recorded(owner_engine, t, pid, aid)
        monkeypatch.setattr(credentials, "record_event", real)
        got = await gql.ok(HIRE, {"id": agid(aid)}, token=t.token(HIRING))
        assert got["transitionApplication"]["stage"] == "HIRED"

    async def test_only_a_hire_takes_a_start_date(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        pid = await make_posting(owner_engine, t)
        aid = await make_application(owner_engine, t, pid, stage="interviewing")
        q = """mutation($id: ID!) { transitionApplication(id: $id, action: OFFER,
          startOn: "2026-07-01") { stage } }"""
        err = only_error(await gql(q, {"id": agid(aid)}, token=t.token(HR)))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "startOn"}


async def _nothing_recorded(engine: Any, t: TenantInfo, pid: uuid.UUID, aid: uuid.UUID) -> bool:
    app = await one(engine, "select stage, manager_told_at from applications where id = :a", a=aid)
    posting = await one(engine, "select filled, status from job_postings where id = :p", p=pid)
    counts = await one(
        engine,
        "select (select count(*) from employee_moves where tenant_id = :t) as moves, "
        "(select count(*) from domain_events where tenant_id = :t) as events, "
        "(select count(*) from application_events where tenant_id = :t) as history, "
        "(select count(*) from notifications where tenant_id = :t) as notes, "
        "(select count(*) from audit_events where tenant_id = :t "
        "and action <> 'tenant.apply_manifest') as audit",
        t=t.id,
    )
    assert app["stage"] == "offer"
    assert app["manager_told_at"] is None
    assert (posting["filled"], posting["status"]) == (0, "open")
    assert dict(counts) == {"moves": 0, "events": 0, "history": 0, "notes": 0, "audit": 0}
    return True


class TestMoves:
    async def test_the_person_their_line_and_hr_read_moves(
        self, gql: GQL, t: TenantInfo, owner_engine: Any
    ) -> None:
        lv = await levels(owner_engine, t)
        pid = await make_posting(owner_engine, t, level_id=lv["Senior Engineer"])
        aid = await make_application(owner_engine, t, pid, stage="offer")
        await gql.ok(HIRE, {"id": agid(aid)}, token=t.token(HIRING))
        for email, n in (
            (APPLICANT, 1),
            (HIRING, 1),  # now their manager
            ("admin@t.example", 1),
            (HR, 1),
            (CURRENT_MANAGER, 0),  # no longer in their line
            (COLLEAGUE, 0),
        ):
            got = await gql.ok(MOVES, {"n": 10}, token=t.token(email))
            assert got["employeeMoves"]["totalCount"] == n, email
        node = (await gql.ok(MOVES, {"n": 10}, token=t.token(HR)))["employeeMoves"]["edges"][0]
        assert node["node"]["kind"] == "PROMOTION"
        assert node["node"]["actor"] == {"email": HIRING}
        assert node["node"]["applicationId"] == agid(aid)
        f = {"employeeId": t.gid(COLLEAGUE)}
        assert (await gql.ok(MOVES, {"f": f, "n": 10}, token=t.token(HR)))["employeeMoves"][
            "totalCount"
        ] == 0
        f = {"kind": ["GIG"]}
        assert (await gql.ok(MOVES, {"f": f, "n": 10}, token=t.token(HR)))["employeeMoves"][
            "totalCount"
        ] == 0

    async def test_the_moves_list_statements_are_constant(
        self, gql: GQL, t: TenantInfo, owner_engine: Any, count_statements: Any
    ) -> None:
        for i in range(25):
            for who in (APPLICANT, COLLEAGUE):
                pid = await make_posting(owner_engine, t, title=f"Gig {i}", kind="gig")
                aid = await make_application(owner_engine, t, pid, applicant=who, stage="offer")
                await gql.ok(HIRE, {"id": agid(aid)}, token=t.token(HR))
        q = """query($n: Int!) { employeeMoves(first: $n) { totalCount edges { node {
          kind before after employee { email manager { email } } actor { email } } } } }"""
        tok = t.token(HR)
        await gql.ok(q, {"n": 2}, token=tok)
        count_statements.statements.clear()
        await gql.ok(q, {"n": 2}, token=tok)
        small = count_statements.count
        count_statements.statements.clear()
        big = await gql.ok(q, {"n": 50}, token=tok)
        assert len(big["employeeMoves"]["edges"]) == 50
        assert count_statements.count == small, count_statements.statements
