"""Recognition insights through HTTP: a person's profile (only what the viewer reads, never
hidden kudos), leaderboards (public kudos, active people, competition ranking), participation,
top values and unrecognized people (HR everyone, a manager their line, an employee FORBIDDEN),
validation, statement counts, isolation; and the weekly nudge to managers (the service, and the
actor run twice)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import dramatiq
import pytest
import sqlalchemy as sa

from tests.conftest import GQL, SMALL_ORG, TenantInfo, only_error
from tests.recognition.test_kudos import HIDE, give
from upward import clock
from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.graphql.relay import to_global_id
from upward.recognition import insights

PROFILE = """query($e: ID, $p: RecognitionPeriodInput, $g: Int) {
  recognitionProfile(employeeId: $e, period: $p) {
    employee { email } since until receivedCount givenCount pointsReceived
    firstRecognizedAt lastRecognizedAt
    receivedByValue { value { name } count } topGivers(first: $g) { employee { email } count } } }"""
BOARD = """query($p: RecognitionPeriodInput, $by: RecognitionLeaderboardBy, $d: ID, $n: Int) {
  recognitionLeaderboard(period: $p, by: $by, departmentId: $d, first: $n) {
    rank employee { email } kudosCount points } }"""
PARTICIPATION = """query($p: RecognitionPeriodInput, $d: ID) {
  recognitionParticipation(period: $p, departmentId: $d) { since until
    departments { department { name } headcount givers receivers giverRate receiverRate }
    total { department { name } headcount givers receivers giverRate receiverRate } } }"""
TOP_VALUES = """query($p: RecognitionPeriodInput, $n: Int) {
  recognitionTopValues(period: $p, first: $n) { value { name } count } }"""
UNRECOGNIZED = """query($days: Int!, $n: Int, $a: String) {
  unrecognizedPeople(days: $days, first: $n, after: $a) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { employee { email } lastRecognizedAt daysSinceRecognized } } } }"""
ALL_TIME = {"preset": "ALL_TIME"}
OLD = date(2020, 1, 1)


def org() -> dict[str, Any]:
    """SMALL_ORG (admin > hr, boss; boss > lead, peer; lead > dev) with a newcomer and a leaver
    under lead, someone without a department under hr, values, and a history of kudos:

    1. dev -> peer, Own it, 10 points, 40 days ago
    2. dev -> peer, Better together, private, 3 days ago
    3. lead -> dev, Own it, 5 points, 2 days ago
    4. peer -> dev + lead, Better together, 5 points each, yesterday
    5. boss -> lead, Own it, 100 days ago
    6. hr -> boss, Own it, 200 days ago
    7. dev -> gone (now offboarded), Own it, 5 days ago
    """
    o = copy.deepcopy(SMALL_ORG)
    for e in o["employees"]:
        e["hire_date"] = OLD
    o["employees"] += [
        {"email": "gone@t.example", "name": "Gil Gone", "manager": "lead@t.example",
         "department": "Engineering", "status": "offboarded", "hire_date": OLD},
        {"email": "new@t.example", "name": "Nia New", "manager": "lead@t.example",
         "department": "Engineering", "hire_date": clock.today("Europe/Berlin")},
        {"email": "solo@t.example", "name": "Sol Solo", "manager": "hr@t.example",
         "hire_date": OLD},
    ]  # fmt: skip
    o["company_values"] = [
        {"name": "Own it", "position": 1},
        {"name": "Better together", "position": 2},
        {"name": "Old value", "active": False},
    ]
    k = "@t.example"
    o["kudos"] = [
        {"giver": f"dev{k}", "receivers": [f"peer{k}"], "message": "one", "values": ["Own it"],
         "points": 10, "on": "today-40d"},
        {"giver": f"dev{k}", "receivers": [f"peer{k}"], "message": "two",
         "values": ["Better together"], "visibility": "private", "on": "today-3d"},
        {"giver": f"lead{k}", "receivers": [f"dev{k}"], "message": "three", "values": ["Own it"],
         "points": 5, "on": "today-2d"},
        {"giver": f"peer{k}", "receivers": [f"dev{k}", f"lead{k}"], "message": "four",
         "values": ["Better together"], "points": 5, "on": "today-1d"},
        {"giver": f"boss{k}", "receivers": [f"lead{k}"], "message": "five", "values": ["Own it"],
         "on": "today-100d"},
        {"giver": f"hr{k}", "receivers": [f"boss{k}"], "message": "six", "values": ["Own it"],
         "on": "today-200d"},
        {"giver": f"dev{k}", "receivers": [f"gone{k}"], "message": "seven", "values": ["Own it"],
         "on": "today-5d"},
    ]  # fmt: skip
    return o


async def tenant(gql: GQL, make_tenant: Any) -> TenantInfo:
    """`org()` plus a kudos admin gave boss just now, hidden by HR (it counts nowhere)."""
    t = await make_tenant(org())
    k = await give(gql, t, "admin@t.example", ["boss@t.example"], message="oops", points=5)
    await gql.ok(HIDE, {"i": {"kudosId": k["id"], "reason": "off-topic"}},
                 token=t.token("hr@t.example"))  # fmt: skip
    return t


def emails(entries: list[dict[str, Any]]) -> list[str]:
    return [e["employee"]["email"].split("@")[0] for e in entries]


def board(entries: list[dict[str, Any]]) -> list[tuple[int, str, int, int]]:
    return [
        (e["rank"], e["employee"]["email"].split("@")[0], e["kudosCount"], e["points"])
        for e in entries
    ]


async def _profile(gql: GQL, t: TenantInfo, who: str, of: str | None = None, **kw: Any) -> Any:
    v = {"e": t.gid(of) if of else None, **kw}
    return (await gql.ok(PROFILE, v, token=t.token(who)))["recognitionProfile"]


@pytest.fixture
async def t(gql: GQL, make_tenant: Any) -> TenantInfo:
    return await tenant(gql, make_tenant)


class TestProfile:
    async def test_my_profile_by_default_all_time(self, gql: GQL, t: TenantInfo) -> None:
        p = await _profile(gql, t, "dev@t.example")
        assert p["employee"] == {"email": "dev@t.example"}
        assert p["since"] is None and p["until"] is None
        # received three and four; gave one, two (private: dev gave it) and seven
        assert (p["receivedCount"], p["givenCount"], p["pointsReceived"]) == (2, 3, 10)
        assert p["receivedByValue"] == [
            {"value": {"name": "Own it"}, "count": 1},
            {"value": {"name": "Better together"}, "count": 1},
        ]
        assert emails(p["topGivers"]) == ["lead", "peer"]  # one each: by name
        assert p["firstRecognizedAt"] < p["lastRecognizedAt"]

    async def test_counts_only_what_the_viewer_reads(self, gql: GQL, t: TenantInfo) -> None:
        # two (private, dev -> peer) is read by dev, peer, peer's managers (boss, admin) and HR
        for who in ("peer", "boss", "admin", "hr", "dev"):
            p = await _profile(gql, t, f"{who}@t.example", "peer@t.example")
            assert (p["receivedCount"], p["pointsReceived"]) == (2, 10), who
        p = await _profile(gql, t, "lead@t.example", "peer@t.example")
        assert (p["receivedCount"], p["pointsReceived"]) == (1, 10)
        assert p["receivedByValue"] == [{"value": {"name": "Own it"}, "count": 1}]
        assert p["firstRecognizedAt"] == p["lastRecognizedAt"]  # only one, 40 days ago
        # dev gave two privately: lead does not read it
        p = await _profile(gql, t, "lead@t.example", "dev@t.example")
        assert p["givenCount"] == 2

    async def test_hidden_kudos_count_for_nobody(self, gql: GQL, t: TenantInfo) -> None:
        for who in ("boss", "hr", "admin"):
            p = await _profile(gql, t, f"{who}@t.example", "boss@t.example")
            assert (p["receivedCount"], p["pointsReceived"]) == (1, 0), who
            assert emails(p["topGivers"]) == ["hr"]
        p = await _profile(gql, t, "hr@t.example", "admin@t.example")
        assert p["givenCount"] == 0

    async def test_period(self, gql: GQL, t: TenantInfo) -> None:
        p = await _profile(gql, t, "boss@t.example", "peer@t.example",
                           p={"preset": "LAST_30_DAYS"})  # fmt: skip
        assert (p["receivedCount"], p["pointsReceived"]) == (1, 0)  # two, not one
        assert p["since"] is not None and p["until"] is not None
        p = await _profile(
            gql,
            t,
            "boss@t.example",
            "peer@t.example",
            p={"since": "2020-01-01T00:00:00Z", "until": "2020-02-01T00:00:00Z"},
        )
        assert (p["receivedCount"], p["givenCount"], p["receivedByValue"]) == (0, 0, [])
        assert p["firstRecognizedAt"] is None and p["topGivers"] == []

    async def test_points_equal_the_ledger(self, gql: GQL, t: TenantInfo, owner_engine) -> None:
        async with owner_engine.connect() as conn:
            ledger = dict((await conn.execute(sa.text(
                "select e.email, sum(p.amount)::int from points_entries p join employees e "
                "on e.tenant_id = p.tenant_id and e.id = p.employee_id "
                "where p.tenant_id = :t and p.account = 'received' group by e.email"),
                {"t": t.id})).all())  # fmt: skip
        for who in ("dev", "peer", "lead"):
            p = await _profile(gql, t, "hr@t.example", f"{who}@t.example")
            assert p["pointsReceived"] == ledger[f"{who}@t.example"], who
        # boss's balance holds the hidden kudos' 5 points; its profile does not
        assert ledger["boss@t.example"] == 5
        assert (await _profile(gql, t, "hr@t.example", "boss@t.example"))["pointsReceived"] == 0

    async def test_not_found_like_ids_that_never_existed(
        self, gql: GQL, t: TenantInfo, globex: TenantInfo
    ) -> None:
        tok = t.token("dev@t.example")
        ghost = await gql(PROFILE, {"e": to_global_id("Employee", uuid.uuid4())}, token=tok)
        foreign = await gql(PROFILE, {"e": globex.gid("hr@globex.example")}, token=tok)
        gone = await gql(PROFILE, {"e": t.gid("gone@t.example")}, token=tok)
        assert only_error(ghost)["extensions"] == {"code": "NOT_FOUND", "field": "employeeId"}
        assert foreign == ghost and gone == ghost
        p = await _profile(gql, t, "hr@t.example", "gone@t.example")  # HR sees leavers
        assert p["receivedCount"] == 1

    @pytest.mark.parametrize(
        ("variables", "field"),
        [
            ({"e": "nonsense"}, "employeeId"),
            ({"e": to_global_id("Department", uuid.uuid4())}, "employeeId"),
            ({"p": {"preset": "TODAY", "since": "2026-01-01T00:00:00Z"}}, "period.preset"),
            ({"p": {"since": "2026-01-01T00:00:00"}}, "period.since"),
            (
                {"p": {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}},
                "period.until",
            ),
            ({"g": 0}, "first"),
            ({"g": 21}, "first"),
        ],
    )
    async def test_validation(self, gql: GQL, acme: TenantInfo, variables, field) -> None:
        body = await gql(PROFILE, variables, token=acme.token("sam.rivera@acme.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


class TestLeaderboard:
    async def test_received_public_shown_active_ranked(self, gql: GQL, t: TenantInfo) -> None:
        data = await gql.ok(BOARD, {"p": ALL_TIME}, token=t.token("dev@t.example"))
        # two is private, the hidden one and gone (offboarded) are out; ties share a rank
        assert board(data["recognitionLeaderboard"]) == [
            (1, "dev", 2, 10), (1, "lead", 2, 5), (3, "boss", 1, 0), (3, "peer", 1, 10),
        ]  # fmt: skip
        data = await gql.ok(BOARD, {"p": ALL_TIME, "n": 3}, token=t.token("dev@t.example"))
        assert len(data["recognitionLeaderboard"]) == 3

    async def test_points_and_given(self, gql: GQL, t: TenantInfo) -> None:
        tok = t.token("peer@t.example")
        data = await gql.ok(BOARD, {"p": ALL_TIME, "by": "POINTS"}, token=tok)
        assert board(data["recognitionLeaderboard"]) == [
            (1, "dev", 2, 10), (1, "peer", 1, 10), (3, "lead", 2, 5),
        ]  # fmt: skip
        data = await gql.ok(BOARD, {"p": ALL_TIME, "by": "GIVEN"}, token=tok)
        # peer's four went to two people at 5 each: 10 points given
        assert board(data["recognitionLeaderboard"]) == [
            (1, "dev", 2, 10), (2, "boss", 1, 0), (2, "hr", 1, 0), (2, "lead", 1, 5),
            (2, "peer", 1, 10),
        ]  # fmt: skip
        people = to_global_id("Department", t.departments["People"])
        data = await gql.ok(BOARD, {"p": ALL_TIME, "by": "GIVEN", "d": people}, token=tok)
        assert board(data["recognitionLeaderboard"]) == [(1, "hr", 1, 0)]
        eng = to_global_id("Department", t.departments["Engineering"])
        data = await gql.ok(BOARD, {"p": ALL_TIME, "d": eng}, token=tok)
        assert emails(data["recognitionLeaderboard"]) == ["dev", "lead", "boss", "peer"]

    async def test_this_month_by_default(self, gql: GQL, make_tenant: Any) -> None:
        t = await make_tenant(org())
        await give(gql, t, "boss@t.example", ["solo@t.example"], points=3)
        data = await gql.ok(BOARD, {}, token=t.token("dev@t.example"))
        explicit = await gql.ok(BOARD, {"p": {"preset": "THIS_MONTH"}},
                                token=t.token("dev@t.example"))  # fmt: skip
        assert data == explicit
        # (the history's kudos of this month depend on the day)
        assert ("solo", 1, 3) in [e[1:] for e in board(data["recognitionLeaderboard"])]
        old = await gql.ok(BOARD, {"p": {"since": "2020-01-01T00:00:00Z",
                                         "until": "2020-02-01T00:00:00Z"}},
                           token=t.token("dev@t.example"))  # fmt: skip
        assert old["recognitionLeaderboard"] == []

    @pytest.mark.parametrize(
        ("variables", "field"),
        [
            ({"n": 0}, "first"),
            ({"n": 101}, "first"),
            ({"d": "nonsense"}, "departmentId"),
            ({"d": to_global_id("Employee", uuid.uuid4())}, "departmentId"),
            ({"p": {"since": "2026-01-01T00:00:00"}}, "period.since"),
        ],
    )
    async def test_validation(self, gql: GQL, acme: TenantInfo, variables, field) -> None:
        body = await gql(BOARD, variables, token=acme.token("sam.rivera@acme.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": field}

    async def test_statements_do_not_grow_with_the_page(
        self, gql: GQL, acme: TenantInfo, count_statements
    ) -> None:
        q = """query($n: Int) { recognitionLeaderboard(period: {preset: ALL_TIME}, first: $n) {
          rank kudosCount points employee { name email department { name } manager { name } } } }"""
        tok = acme.token("sam.rivera@acme.example")
        await gql.ok(q, {"n": 2}, token=tok)  # warm caches
        count_statements.statements.clear()
        await gql.ok(q, {"n": 2}, token=tok)
        small = count_statements.count
        count_statements.statements.clear()
        data = await gql.ok(q, {"n": 100}, token=tok)
        assert len(data["recognitionLeaderboard"]) > 10
        assert count_statements.count == small, count_statements.statements

    async def test_only_the_tenants_people(
        self, gql: GQL, acme: TenantInfo, globex: TenantInfo
    ) -> None:
        tok = acme.token("sam.rivera@acme.example")
        data = await gql.ok(BOARD, {"p": ALL_TIME, "n": 100}, token=tok)
        got = [e["employee"]["email"] for e in data["recognitionLeaderboard"]]
        assert got and all(x.endswith("@acme.example") for x in got)
        g = await gql.ok(BOARD, {"p": ALL_TIME, "n": 100}, token=globex.token("hr@globex.example"))
        assert all(e["employee"]["email"].endswith("@globex.example")
                   for e in g["recognitionLeaderboard"])  # fmt: skip
        globex_dep = next(iter(globex.departments.values()))
        foreign = await gql(BOARD, {"p": ALL_TIME, "d": to_global_id("Department", globex_dep)},
                            token=tok)  # fmt: skip
        ghost = await gql(BOARD, {"p": ALL_TIME, "d": to_global_id("Department", uuid.uuid4())},
                          token=tok)  # fmt: skip
        assert "errors" not in foreign and "errors" not in ghost
        assert foreign["data"] == ghost["data"] == {"recognitionLeaderboard": []}


class TestParticipation:
    async def test_hr_sees_every_department(self, gql: GQL, t: TenantInfo) -> None:
        data = await gql.ok(PARTICIPATION, {"p": ALL_TIME}, token=t.token("hr@t.example"))
        got = data["recognitionParticipation"]
        rows = [
            ((r["department"] or {}).get("name"), r["headcount"], r["givers"], r["receivers"])
            for r in got["departments"]
        ]
        # Engineering: admin, boss, lead, dev, peer, new (gone has left); admin's only kudos
        # is hidden; People: hr; no department: solo
        assert rows == [("Engineering", 6, 4, 4), ("People", 1, 1, 0), (None, 1, 0, 0)]
        total = got["total"]
        assert (total["department"], total["headcount"], total["givers"], total["receivers"]) == (
            None, 8, 5, 4)  # fmt: skip
        assert total["giverRate"] == 0.625 and total["receiverRate"] == 0.5
        assert got["departments"][0]["giverRate"] == pytest.approx(4 / 6, abs=1e-4)

    async def test_a_manager_sees_their_line(self, gql: GQL, t: TenantInfo) -> None:
        data = await gql.ok(PARTICIPATION, {"p": ALL_TIME}, token=t.token("boss@t.example"))
        got = data["recognitionParticipation"]
        # boss's line: lead, peer, dev, new (all Engineering)
        assert [(r["department"]["name"], r["headcount"], r["givers"], r["receivers"])
                for r in got["departments"]] == [("Engineering", 4, 3, 3)]  # fmt: skip
        data = await gql.ok(PARTICIPATION, {"p": ALL_TIME}, token=t.token("lead@t.example"))
        # lead's line: dev and new; dev gave one, two (lead does not read it) and seven
        rows = data["recognitionParticipation"]["departments"]
        assert [(r["headcount"], r["givers"], r["receivers"]) for r in rows] == [(2, 1, 1)]

    async def test_a_short_period(self, gql: GQL, t: TenantInfo) -> None:
        # (up to 62 days the query aggregates the period's kudos instead of probing people)
        p = {"preset": "LAST_30_DAYS"}
        data = await gql.ok(PARTICIPATION, {"p": p}, token=t.token("hr@t.example"))
        rows = [
            ((r["department"] or {}).get("name"), r["headcount"], r["givers"], r["receivers"])
            for r in data["recognitionParticipation"]["departments"]
        ]
        # two, three, four and seven are within 30 days: dev, lead, peer gave; peer, dev, lead
        # received (gone has left); five and six are older
        assert rows == [("Engineering", 6, 3, 3), ("People", 1, 0, 0), (None, 1, 0, 0)]
        data = await gql.ok(PARTICIPATION, {"p": p}, token=t.token("boss@t.example"))
        rows = data["recognitionParticipation"]["departments"]
        assert [(r["headcount"], r["givers"], r["receivers"]) for r in rows] == [(4, 3, 3)]

    async def test_department_and_default_period(self, gql: GQL, t: TenantInfo) -> None:
        people = to_global_id("Department", t.departments["People"])
        data = await gql.ok(PARTICIPATION, {"p": ALL_TIME, "d": people},
                            token=t.token("admin@t.example"))  # fmt: skip
        got = data["recognitionParticipation"]
        assert [r["department"]["name"] for r in got["departments"]] == ["People"]
        assert got["total"]["headcount"] == 1
        data = await gql.ok(PARTICIPATION, {}, token=t.token("hr@t.example"))
        got = data["recognitionParticipation"]
        month = await gql.ok(PARTICIPATION, {"p": {"preset": "THIS_MONTH"}},
                             token=t.token("hr@t.example"))  # fmt: skip
        assert got == month["recognitionParticipation"] and got["since"] is not None

    async def test_employees_are_forbidden(self, gql: GQL, t: TenantInfo) -> None:
        for q, v in ((PARTICIPATION, {}), (TOP_VALUES, {}), (UNRECOGNIZED, {"days": 30})):
            body = await gql(q, v, token=t.token("dev@t.example"))
            assert only_error(body)["extensions"]["code"] == "FORBIDDEN", q


class TestTopValues:
    async def test_hr_and_a_manager(self, gql: GQL, t: TenantInfo) -> None:
        data = await gql.ok(TOP_VALUES, {"p": ALL_TIME}, token=t.token("hr@t.example"))
        # Own it: one, three, five, six, seven (the hidden one is out); Better together: two
        # (private: HR reads it) and four
        assert data["recognitionTopValues"] == [
            {"value": {"name": "Own it"}, "count": 5},
            {"value": {"name": "Better together"}, "count": 2},
        ]
        data = await gql.ok(TOP_VALUES, {"p": ALL_TIME, "n": 1}, token=t.token("hr@t.example"))
        assert len(data["recognitionTopValues"]) == 1
        # boss: what their line (lead, peer, dev, new) received: one, two, three, four, five
        data = await gql.ok(TOP_VALUES, {"p": ALL_TIME}, token=t.token("boss@t.example"))
        assert data["recognitionTopValues"] == [
            {"value": {"name": "Own it"}, "count": 3},
            {"value": {"name": "Better together"}, "count": 2},
        ]

    @pytest.mark.parametrize("n", [0, 101])
    async def test_first_is_checked(self, gql: GQL, acme: TenantInfo, n: int) -> None:
        body = await gql(TOP_VALUES, {"n": n}, token=acme.token("hr@acme.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


def _people(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["employee"]["email"].split("@")[0] for e in conn["edges"]]


class TestUnrecognized:
    async def test_never_first_then_longest_without(self, gql: GQL, t: TenantInfo) -> None:
        tok = t.token("hr@t.example")
        got = (await gql.ok(UNRECOGNIZED, {"days": 30}, token=tok))["unrecognizedPeople"]
        # boss's latest is six (200 days): the hidden one does not count; gone has left; peer's
        # latest is two (private, 3 days ago): any visibility counts
        assert _people(got) == ["admin", "hr", "new", "solo", "boss"]
        assert got["totalCount"] == 5
        nodes = [e["node"] for e in got["edges"]]
        assert nodes[0]["lastRecognizedAt"] is None and nodes[0]["daysSinceRecognized"] is None
        assert 199 <= nodes[-1]["daysSinceRecognized"] <= 201
        got = (await gql.ok(UNRECOGNIZED, {"days": 365}, token=tok))["unrecognizedPeople"]
        assert _people(got) == ["admin", "hr", "new", "solo"]
        # (peer's latest is two, private, 3 days ago: any visibility counts) within 2 days
        # peer is not recognized, dev is (four, yesterday)
        got = (await gql.ok(UNRECOGNIZED, {"days": 2}, token=tok))["unrecognizedPeople"]
        assert "peer" in _people(got) and "dev" not in _people(got)

    async def test_pages(self, gql: GQL, t: TenantInfo) -> None:
        tok = t.token("hr@t.example")
        seen, after = [], None
        for _ in range(3):
            got = (await gql.ok(UNRECOGNIZED, {"days": 30, "n": 2, "a": after},
                                token=tok))["unrecognizedPeople"]  # fmt: skip
            assert got["totalCount"] == 5
            seen += _people(got)
            after = got["pageInfo"]["endCursor"]
            if not got["pageInfo"]["hasNextPage"]:
                break
        assert seen == ["admin", "hr", "new", "solo", "boss"]

    async def test_a_manager_sees_their_line(self, gql: GQL, t: TenantInfo) -> None:
        got = await gql.ok(UNRECOGNIZED, {"days": 30}, token=t.token("boss@t.example"))
        assert _people(got["unrecognizedPeople"]) == ["new"]
        got = await gql.ok(UNRECOGNIZED, {"days": 365}, token=t.token("hr@t.example"))
        assert "boss" not in _people(got["unrecognizedPeople"])

    @pytest.mark.parametrize(
        ("variables", "field"),
        [({"days": 0}, "days"), ({"days": 366}, "days"), ({"days": 30, "n": 101}, "first"),
         ({"days": 30, "a": "forged"}, "after")],
    )  # fmt: skip
    async def test_validation(self, gql: GQL, acme: TenantInfo, variables, field) -> None:
        body = await gql(UNRECOGNIZED, variables, token=acme.token("hr@acme.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": field}

    async def test_statements_do_not_grow_with_the_page(
        self, gql: GQL, acme: TenantInfo, count_statements
    ) -> None:
        q = """query($n: Int) { unrecognizedPeople(days: 365, first: $n) { totalCount
          edges { cursor node { lastRecognizedAt employee { name department { name } } } } } }"""
        tok = acme.token("hr@acme.example")
        await gql.ok(q, {"n": 2}, token=tok)
        count_statements.statements.clear()
        await gql.ok(q, {"n": 2}, token=tok)
        small = count_statements.count
        count_statements.statements.clear()
        data = await gql.ok(q, {"n": 100}, token=tok)
        assert len(data["unrecognizedPeople"]["edges"]) > 10
        assert count_statements.count == small, count_statements.statements

    async def test_only_the_tenants_people(
        self, gql: GQL, acme: TenantInfo, globex: TenantInfo
    ) -> None:
        got = await gql.ok(
            UNRECOGNIZED, {"days": 365, "n": 100}, token=acme.token("hr@acme.example")
        )
        people = [e["node"]["employee"]["email"] for e in got["unrecognizedPeople"]["edges"]]
        assert people and all(x.endswith("@acme.example") for x in people)
        other = await gql.ok(UNRECOGNIZED, {"days": 30, "n": 1},
                             token=globex.token("hr@globex.example"))  # fmt: skip
        cursor = other["unrecognizedPeople"]["pageInfo"]["endCursor"]
        body = await gql(
            UNRECOGNIZED, {"days": 30, "a": cursor}, token=acme.token("hr@acme.example")
        )
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


# --- the nudge ---------------------------------------------------------------------------------


def _wednesday() -> datetime:
    """Noon UTC on the coming Wednesday (or today's): a day of the week when nudges go out,
    close enough to today that the history's relative dates keep their meaning."""
    now = clock.now()
    day = now.date() + timedelta(days=(2 - now.weekday()) % 7)
    return datetime.combine(day, time(12), tzinfo=UTC)


async def _nudges(owner_engine: Any, t: TenantInfo) -> list[tuple[str, str, str, dict]]:
    async with owner_engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "select e.email, n.subject, n.body, n.data, n.channels from notifications n "
            "join employees e on e.tenant_id = n.tenant_id and e.id = n.recipient_id "
            "where n.tenant_id = :t and n.data->>'event' = 'recognition.nudge' order by 1, n.created_at"),
            {"t": t.id})).all()  # fmt: skip
    return [(r[0].split("@")[0], r[1], r[2], {**r[3], "channels": sorted(r[4])}) for r in rows]


async def _nudge(t: TenantInfo, now: datetime) -> int:
    async with tenant_session(t.id) as s:
        return await insights.nudge_managers(
            s, Principal.system(t.id, t.slug, "Europe/Berlin"), now=now
        )


class TestNudge:
    async def test_once_a_week_per_manager(self, t: TenantInfo, owner_engine) -> None:
        wed = _wednesday()
        assert await _nudge(t, wed) == 2
        got = await _nudges(owner_engine, t)
        # admin: hr (never recognized), boss (200 days); hr: solo; boss's and lead's reports
        # were all recognized lately (new joined today: not counted yet; gone has left)
        assert [(who, subject) for who, subject, _, _ in got] == [
            ("admin", "2 people on your team have not been recognized in 30 days"),
            ("hr", "1 person on your team has not been recognized in 30 days"),
        ]
        _, _, body, data = got[0]
        assert body.startswith("Hana HR and Bo Boss have not received kudos in the last 30 days")
        week = insights.week_key(wed, "Europe/Berlin")
        assert data["week"] == week and data["count"] == 2 and data["days"] == 30
        assert data["channels"] == ["email", "in_app"]
        assert data["employee_ids"] == [str(t.ids["hr@t.example"]), str(t.ids["boss@t.example"])]
        # again the same week (any day): nothing new
        assert await _nudge(t, wed) == 0
        assert await _nudge(t, wed + timedelta(days=3)) == 0
        assert len(await _nudges(owner_engine, t)) == 2
        # the next week: again
        assert await _nudge(t, wed + timedelta(days=7)) == 2
        assert len(await _nudges(owner_engine, t)) == 4

    async def test_from_monday_nine_tenant_time(self, t: TenantInfo, owner_engine) -> None:
        monday = (_wednesday() - timedelta(days=2)).date()
        berlin = clock.zone("Europe/Berlin")
        assert await _nudge(t, datetime.combine(monday, time(8, 59), tzinfo=berlin)) == 0
        assert await _nudge(t, datetime.combine(monday, time(9), tzinfo=berlin)) == 2

    async def test_settings_and_many_names(self, gql: GQL, make_tenant, owner_engine) -> None:
        o = org()
        for i in range(7):
            o["employees"].append({"email": f"r{i}@t.example", "name": f"Rae {i}",
                                   "manager": "solo@t.example", "hire_date": OLD})  # fmt: skip
        o["recognition_settings"] = {"nudge_after_days": 365}
        t = await make_tenant(o)
        # admin: hr (boss at 200 days is recognized within 365); hr: solo; solo: seven
        assert await _nudge(t, _wednesday()) == 3
        got = {who: (subject, body) for who, subject, body, _ in await _nudges(owner_engine, t)}
        assert got["solo"][0] == "7 people on your team have not been recognized in 365 days"
        assert got["solo"][1].startswith("Rae 0, Rae 1, Rae 2, Rae 3, Rae 4 and 2 more have")
        assert got["admin"][0].startswith("1 person") and got["hr"][1].startswith("Sol Solo has")

    async def test_the_actor_twice_is_once(self, t: TenantInfo, owner_engine) -> None:
        from workers.broker import broker
        from workers.recognition import nudge_managers

        broker.flush_all()
        clock.freeze(_wednesday())
        try:
            nudge_managers.send(str(t.id))
            nudge_managers.send(str(t.id))  # a duplicate delivery
            worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
            worker.start()
            try:
                await asyncio.to_thread(broker.join, nudge_managers.queue_name, timeout=30_000)
                await asyncio.to_thread(worker.join)
            finally:
                await asyncio.to_thread(worker.stop)
        finally:
            clock.freeze(None)
            broker.flush_all()
        assert [who for who, *_ in await _nudges(owner_engine, t)] == ["admin", "hr"]

    async def test_is_scheduled(self) -> None:
        from workers.scheduler import periodic_jobs

        job = next(j for j in periodic_jobs() if j.name == "recognition.nudge_managers")
        assert job.every_seconds == 3600
