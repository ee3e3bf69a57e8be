"""Check-ins (1:1s) through HTTP: series and their meetings, agenda, shared and private notes,
action items linked to IDP goals, who reads and edits what, pagination, statement counts,
isolation; the recurrence (pure) across daylight saving and month ends."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tests.conftest import GQL, TenantInfo, only_error
from upward.development.checkins import occurrences
from upward.graphql.relay import from_global_id, to_global_id

SERIES = """id title cadence timezone startsAt durationMinutes remindMinutesBefore status
  manager { name } report { name } upcoming { id occursAt status }"""
CREATE = f"""mutation($i: CreateCheckInSeriesInput!) {{ createCheckInSeries(input: $i) {{ {SERIES} }} }}"""
UPDATE = f"""mutation($id: ID!, $i: UpdateCheckInSeriesInput!) {{
  updateCheckInSeries(id: $id, input: $i) {{ {SERIES} }} }}"""
MEETING = """id title occursAt endsAt status sharedNotes viewerIsParticipant
  manager { name } report { name } series { title }
  agenda { id body discussed position author { name } }
  actionItems { id body done dueOn goalId owner { name } }
  myPrivateNote { body }"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on CheckIn {{ {MEETING} }} }} }}"
LIST = f"""query($f: CheckInFilter, $n: Int) {{ checkIns(filter: $f, first: $n) {{
  totalCount edges {{ node {{ {MEETING} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
NOTE = """mutation($c: ID!, $b: String) { setCheckInPrivateNote(checkInId: $c, body: $b) {
  id myPrivateNote { body } } }"""
AGENDA = """mutation($c: ID!, $b: String!) { addCheckInAgendaItem(checkInId: $c, body: $b) {
  id body position author { name } } }"""
EDIT_AGENDA = """mutation($id: ID!, $i: UpdateAgendaItemInput!) {
  updateCheckInAgendaItem(id: $id, input: $i) { body discussed } }"""
ACTION = """mutation($i: AddActionItemInput!) { addCheckInActionItem(input: $i) {
  id body done goalId owner { name } } }"""
EDIT_ACTION = """mutation($id: ID!, $i: UpdateActionItemInput!) {
  updateCheckInActionItem(id: $id, input: $i) { done goalId dueOn } }"""


def _monday_ahead(days: int = 3) -> str:
    """A wall time (no offset) a few days ahead: a local time in the series' zone."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return f"{day.isoformat()}T09:30:00"


async def _series(gql: GQL, t: TenantInfo, **extra: Any) -> dict[str, Any]:
    data = await gql.ok(
        CREATE,
        {"i": {"reportId": t.gid("dev@t.example"), "startsAt": _monday_ahead(), **extra}},
        token=t.token("lead@t.example"),
    )
    return data["createCheckInSeries"]


async def _meeting(gql: GQL, t: TenantInfo) -> str:
    return (await _series(gql, t))["upcoming"][0]["id"]


class TestCreateSeries:
    async def test_a_manager_with_their_report(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t = await make_tenant()
        s = await _series(gql, t)
        assert s["manager"] == {"name": "Lee Lead"} and s["report"] == {"name": "Dee Dev"}
        assert s["title"] == "1:1 Lee Lead / Dee Dev" and s["cadence"] == "WEEKLY"
        # default zone: the manager's location (Austin)
        assert s["timezone"] == "America/Chicago" and s["status"] == "ACTIVE"
        assert s["durationMinutes"] == 30 and s["remindMinutesBefore"] == 1440
        up = [datetime.fromisoformat(m["occursAt"]) for m in s["upcoming"]]
        assert len(up) == 2 and up[1] - up[0] in (timedelta(days=7), timedelta(days=7, hours=1))
        assert all(u.astimezone(_zone("America/Chicago")).hour == 9 for u in up)
        async with owner_engine.connect() as c:
            n = await c.scalar(
                sa.text(
                    "select count(*) from audit_events where tenant_id = :t "
                    "and action = 'checkin_series.create'"
                ),
                {"t": t.id},
            )
        assert n == 1

    async def test_hr_for_any_pair_and_one_live_series_per_pair(
        self, gql: GQL, make_tenant: Any
    ) -> None:
        t = await make_tenant()
        i = {
            "reportId": t.gid("peer@t.example"),
            "managerId": t.gid("dev@t.example"),
            "startsAt": "2030-01-31T15:00:00+00:00",
            "cadence": "MONTHLY",
            "timezone": "Europe/Berlin",
        }
        s = (await gql.ok(CREATE, {"i": i}, token=t.token("hr@t.example")))["createCheckInSeries"]
        assert s["manager"]["name"] == "Dee Dev" and s["timezone"] == "Europe/Berlin"
        assert [m["occursAt"][:10] for m in s["upcoming"]] == ["2030-01-31", "2030-02-28"]
        err = only_error(await gql(CREATE, {"i": i}, token=t.token("hr@t.example")))
        assert err["extensions"] == {"code": "CONFLICT", "field": "input.reportId"}

    async def test_refusals(self, gql: GQL, make_tenant: Any) -> None:
        t = await make_tenant()
        start = _monday_ahead()
        cases = [
            # not in the reporting line (peer reports to boss, not lead)
            ("lead@t.example", {"reportId": t.gid("peer@t.example")}, "FORBIDDEN", None),
            # only HR names another manager
            (
                "boss@t.example",
                {"reportId": t.gid("dev@t.example"), "managerId": t.gid("lead@t.example")},
                "FORBIDDEN",
                None,
            ),
            (
                "lead@t.example",
                {"reportId": t.gid("dev@t.example"), "timezone": "Mars/Olympus"},
                "BAD_USER_INPUT",
                "input.timezone",
            ),
            (
                "lead@t.example",
                {"reportId": t.gid("dev@t.example"), "durationMinutes": 600},
                "BAD_USER_INPUT",
                "input.durationMinutes",
            ),
            (
                "hr@t.example",
                {"reportId": t.gid("hr@t.example")},
                "BAD_USER_INPUT",
                "input.reportId",
            ),
            (
                "lead@t.example",
                {"reportId": to_global_id("Employee", uuid.uuid4())},
                "FORBIDDEN",
                None,
            ),
        ]
        for who, i, code, field in cases:
            err = only_error(await gql(CREATE, {"i": {**i, "startsAt": start}}, token=t.token(who)))
            assert err["extensions"]["code"] == code, (who, i, err)
            if field:
                assert err["extensions"]["field"] == field
        got = await gql.ok("{ checkInSeries { id } }", token=t.token("hr@t.example"))
        assert got["checkInSeries"] == []


class TestUpdateSeries:
    async def test_pause_resume_retime_and_end(self, gql: GQL, make_tenant: Any) -> None:
        t = await make_tenant()
        s = await _series(gql, t)
        lead = t.token("lead@t.example")
        first = s["upcoming"][0]["id"]
        await gql.ok(AGENDA, {"c": first, "b": "Promotion"}, token=t.token("dev@t.example"))
        paused = (await gql.ok(UPDATE, {"id": s["id"], "i": {"status": "PAUSED"}}, token=lead))[
            "updateCheckInSeries"
        ]
        assert paused["status"] == "PAUSED" and paused["upcoming"] == []
        # the meeting with an agenda was kept, cancelled; the empty one is gone
        kept = (await gql.ok(NODE, {"id": first}, token=lead))["node"]
        assert kept["status"] == "CANCELLED" and kept["agenda"][0]["body"] == "Promotion"
        resumed = (
            await gql.ok(
                UPDATE,
                {"id": s["id"], "i": {"status": "ACTIVE", "cadence": "BIWEEKLY"}},
                token=lead,
            )
        )["updateCheckInSeries"]
        # the next two slots: the first is the cancelled meeting's (it keeps its slot), then
        # two weeks later
        up = [datetime.fromisoformat(m["occursAt"]) for m in resumed["upcoming"]]
        start = datetime.fromisoformat(kept["occursAt"])
        assert resumed["cadence"] == "BIWEEKLY" and len(up) == 1
        assert timedelta(days=13) < up[0] - start < timedelta(days=15)
        # the report does not manage the series; HR does
        err = only_error(
            await gql(UPDATE, {"id": s["id"], "i": {"title": "x"}}, token=t.token("dev@t.example"))
        )
        assert err["extensions"]["code"] == "FORBIDDEN"
        ended = await gql.ok(
            UPDATE, {"id": s["id"], "i": {"status": "ENDED"}}, token=t.token("hr@t.example")
        )
        assert ended["updateCheckInSeries"]["status"] == "ENDED"
        err = only_error(await gql(UPDATE, {"id": s["id"], "i": {"title": "again"}}, token=lead))
        assert err["extensions"] == {"code": "CONFLICT", "field": "id"}
        # ended: a new series for the pair may start
        await _series(gql, t)


class TestMeetings:
    async def test_reschedule_cancel_complete(self, gql: GQL, make_tenant: Any) -> None:
        t = await make_tenant()
        s = await _series(gql, t)
        a, b = (m["id"] for m in s["upcoming"])
        dev = t.token("dev@t.example")
        q = "mutation($id: ID!, $at: DateTime!) { rescheduleCheckIn(id: $id, occursAt: $at) { occursAt status } }"
        later = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
        got = (await gql.ok(q, {"id": a, "at": later.isoformat()}, token=dev))["rescheduleCheckIn"]
        assert datetime.fromisoformat(got["occursAt"]) == later
        past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        err = only_error(await gql(q, {"id": a, "at": past}, token=dev))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "occursAt"}
        cancel = "mutation($id: ID!) { cancelCheckIn(id: $id) { status } }"
        complete = "mutation($id: ID!) { completeCheckIn(id: $id) { status } }"
        assert (await gql.ok(cancel, {"id": b}, token=dev))["cancelCheckIn"][
            "status"
        ] == "CANCELLED"
        err = only_error(await gql(complete, {"id": b}, token=dev))
        assert err["extensions"]["code"] == "CONFLICT"
        done = await gql.ok(complete, {"id": a}, token=t.token("lead@t.example"))
        assert done["completeCheckIn"]["status"] == "COMPLETED"
        # a cancelled slot is not materialized again; the series' next meetings skip it
        again = await gql.ok(
            "query($id: ID!) { node(id: $id) { ... on CheckInSeries { upcoming { id } } } }",
            {"id": s["id"]},
            token=dev,
        )
        assert b not in [m["id"] for m in again["node"]["upcoming"]]

    async def test_agenda_from_both_sides(self, gql: GQL, make_tenant: Any) -> None:
        t = await make_tenant()
        m = await _meeting(gql, t)
        dev, lead = t.token("dev@t.example"), t.token("lead@t.example")
        mine = (await gql.ok(AGENDA, {"c": m, "b": "Career goals"}, token=dev))[
            "addCheckInAgendaItem"
        ]
        theirs = (await gql.ok(AGENDA, {"c": m, "b": "Roadmap"}, token=lead))[
            "addCheckInAgendaItem"
        ]
        assert (mine["position"], theirs["position"]) == (1, 2)
        err = only_error(await gql(EDIT_AGENDA, {"id": mine["id"], "i": {"body": "x"}}, token=lead))
        assert err["extensions"]["code"] == "FORBIDDEN"
        got = await gql.ok(EDIT_AGENDA, {"id": mine["id"], "i": {"discussed": True}}, token=lead)
        assert got["updateCheckInAgendaItem"] == {"body": "Career goals", "discussed": True}
        await gql.ok(EDIT_AGENDA, {"id": mine["id"], "i": {"body": "Career goals 2027"}}, token=dev)
        remove = "mutation($id: ID!) { removeCheckInAgendaItem(id: $id) }"
        assert (
            only_error(await gql(remove, {"id": theirs["id"]}, token=dev))["extensions"]["code"]
            == "FORBIDDEN"
        )
        await gql.ok(remove, {"id": theirs["id"]}, token=lead)
        notes = "mutation($id: ID!, $n: String) { setCheckInSharedNotes(id: $id, notes: $n) { sharedNotes } }"
        await gql.ok(notes, {"id": m, "n": "We agreed on a plan."}, token=dev)
        node = (await gql.ok(NODE, {"id": m}, token=lead))["node"]
        assert [(a["body"], a["discussed"], a["author"]["name"]) for a in node["agenda"]] == [
            ("Career goals 2027", True, "Dee Dev")
        ]
        assert node["sharedNotes"] == "We agreed on a plan." and node["viewerIsParticipant"]

    async def test_action_items_and_goal_links(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t = await make_tenant()
        m = await _meeting(gql, t)
        dev_goal = await _goal(owner_engine, t, "dev@t.example")
        peer_goal = await _goal(owner_engine, t, "peer@t.example")
        lead = t.token("lead@t.example")
        i = {"checkInId": m, "body": "Finish the course", "ownerId": t.gid("dev@t.example")}
        item = (
            await gql.ok(
                ACTION, {"i": {**i, "goalId": to_global_id("PlanGoal", dev_goal)}}, token=lead
            )
        )["addCheckInActionItem"]
        assert item["owner"] == {"name": "Dee Dev"} and not item["done"]
        assert from_global_id(item["goalId"], field="x") == ("PlanGoal", dev_goal)
        for bad, field in (
            ({"goalId": to_global_id("PlanGoal", peer_goal)}, "input.goalId"),
            ({"goalId": to_global_id("PlanGoal", uuid.uuid4())}, "input.goalId"),
            ({"ownerId": t.gid("peer@t.example")}, "input.ownerId"),
        ):
            err = only_error(await gql(ACTION, {"i": {**i, **bad}}, token=lead))
            assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
        dev = t.token("dev@t.example")
        done = await gql.ok(EDIT_ACTION, {"id": item["id"], "i": {"done": True}}, token=dev)
        assert done["updateCheckInActionItem"]["done"] is True
        undone = await gql.ok(
            EDIT_ACTION, {"id": item["id"], "i": {"done": False, "goalId": None}}, token=lead
        )
        assert undone["updateCheckInActionItem"] == {"done": False, "goalId": None, "dueOn": None}


async def _goal(engine: Any, t: TenantInfo, email: str, **goal: Any) -> uuid.UUID:
    """An IDP goal written as the owner (the plans service is another part of the domain)."""
    plan_id, goal_id = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as c:
        await c.execute(
            sa.text(
                "insert into development_plans (tenant_id, id, employee_id, title, period_start, "
                "period_end, status) values (:t, :p, :e, 'Growth', :a, :b, :s)"
            ),
            {
                "t": t.id,
                "p": plan_id,
                "e": t.ids[email],
                "a": date(2026, 1, 1),
                "b": date(2027, 12, 31),
                "s": goal.get("plan_status", "in_progress"),
            },
        )
        await c.execute(
            sa.text(
                "insert into plan_goals (tenant_id, id, plan_id, title, due_on, status) "
                "values (:t, :g, :p, :title, :due, :s)"
            ),
            {
                "t": t.id,
                "g": goal_id,
                "p": plan_id,
                "title": goal.get("title", "Lead a design review"),
                "due": goal.get("due_on"),
                "s": goal.get("status", "in_progress"),
            },
        )
    return goal_id


class TestPrivateNotes:
    """A private note is read by its author only: not the other participant, not HR, not a
    manager above, not through the list, and the audit trail does not carry its text."""

    async def test_only_the_author_reads_a_private_note(
        self, gql: GQL, make_tenant: Any, owner_engine: Any
    ) -> None:
        t = await make_tenant()
        m = await _meeting(gql, t)
        secret = "I am thinking about leaving"
        got = await gql.ok(NOTE, {"c": m, "b": secret}, token=t.token("dev@t.example"))
        assert got["setCheckInPrivateNote"]["myPrivateNote"] == {"body": secret}
        # the other participant writes their own; each reads only theirs
        await gql.ok(NOTE, {"c": m, "b": "Dee seems tired"}, token=t.token("lead@t.example"))
        seen = {}
        for who in ("dev", "lead", "boss", "hr", "admin"):
            node = (await gql.ok(NODE, {"id": m}, token=t.token(f"{who}@t.example")))["node"]
            seen[who] = node["myPrivateNote"]
            listed = await gql.ok(
                LIST,
                {"f": {"withEmployee": t.gid("dev@t.example")}},
                token=t.token(f"{who}@t.example"),
            )
            notes = [e["node"]["myPrivateNote"] for e in listed["checkIns"]["edges"]]
            assert notes[0] == seen[who]
        assert seen == {
            "dev": {"body": secret},
            "lead": {"body": "Dee seems tired"},
            "boss": None,
            "hr": None,
            "admin": None,
        }
        # a colleague outside the pair does not even see the meeting
        err = only_error(await gql(NODE, {"id": m}, token=t.token("peer@t.example")))
        assert err["extensions"]["code"] == "NOT_FOUND"
        # HR and a higher manager cannot write one either (not a participant)
        for who in ("hr", "boss"):
            err = only_error(await gql(NOTE, {"c": m, "b": "x"}, token=t.token(f"{who}@t.example")))
            assert err["extensions"]["code"] == "FORBIDDEN"
        # the audit trail says a note changed, never what it says
        async with owner_engine.connect() as c:
            changes = (
                (
                    await c.execute(
                        sa.text(
                            "select changes::text from audit_events where tenant_id = :t "
                            "and action = 'checkin.set_private_note'"
                        ),
                        {"t": t.id},
                    )
                )
                .scalars()
                .all()
            )
        assert len(changes) == 2 and not any(secret in c or "tired" in c for c in changes)
        # empty removes it
        got = await gql.ok(NOTE, {"c": m, "b": ""}, token=t.token("dev@t.example"))
        assert got["setCheckInPrivateNote"]["myPrivateNote"] is None
        node = (await gql.ok(NODE, {"id": m}, token=t.token("lead@t.example")))["node"]
        assert node["myPrivateNote"] == {"body": "Dee seems tired"}


class TestWhoReadsWhat:
    async def test_readers_and_editors(self, gql: GQL, make_tenant: Any) -> None:
        t = await make_tenant()
        m = await _meeting(gql, t)
        await gql.ok(AGENDA, {"c": m, "b": "Feedback"}, token=t.token("dev@t.example"))
        # HR and the manager above read the shared parts, read only
        for who in ("hr", "boss"):
            node = (await gql.ok(NODE, {"id": m}, token=t.token(f"{who}@t.example")))["node"]
            assert node["agenda"][0]["body"] == "Feedback" and not node["viewerIsParticipant"]
            err = only_error(
                await gql(AGENDA, {"c": m, "b": "x"}, token=t.token(f"{who}@t.example"))
            )
            assert err["extensions"]["code"] == "FORBIDDEN"
        # an outsider: the same answer as an id that never existed
        peer = t.token("peer@t.example")
        foreign = await gql(AGENDA, {"c": m, "b": "x"}, token=peer)
        ghost = await gql(
            AGENDA, {"c": to_global_id("CheckIn", uuid.uuid4()), "b": "x"}, token=peer
        )
        assert foreign == ghost and only_error(foreign)["extensions"]["code"] == "NOT_FOUND"
        listed = await gql.ok(LIST, {}, token=peer)
        assert listed["checkIns"]["totalCount"] == 0
        assert (await gql.ok("{ checkInSeries { id } }", token=peer))["checkInSeries"] == []


class TestList:
    async def test_filters_and_pages(self, gql: GQL, make_tenant: Any) -> None:
        t = await make_tenant()
        await _series(gql, t)
        await gql.ok(
            CREATE,
            {"i": {"reportId": t.gid("peer@t.example"), "startsAt": _monday_ahead(1)}},
            token=t.token("boss@t.example"),
        )
        boss = t.token("boss@t.example")
        all_ = (await gql.ok(LIST, {"n": 3}, token=boss))["checkIns"]
        assert all_["totalCount"] == 4 and all_["pageInfo"]["hasNextPage"]
        times = [e["node"]["occursAt"] for e in all_["edges"]]
        assert times == sorted(times)
        q = """query($a: String) { checkIns(first: 3, after: $a) { edges { node { id } } } }"""
        rest = await gql.ok(q, {"a": all_["pageInfo"]["endCursor"]}, token=boss)
        assert len(rest["checkIns"]["edges"]) == 1
        lead = (await gql.ok(LIST, {}, token=t.token("lead@t.example")))["checkIns"]
        assert lead["totalCount"] == 2  # lead's own series only: peer is not in their line
        f = {"withEmployee": t.gid("peer@t.example"), "status": "SCHEDULED"}
        assert (await gql.ok(LIST, {"f": f}, token=boss))["checkIns"]["totalCount"] == 2
        soon = {"to": (datetime.now(UTC) + timedelta(days=4, hours=12)).isoformat()}
        assert (await gql.ok(LIST, {"f": soon}, token=boss))["checkIns"]["totalCount"] == 2
        err = only_error(await gql(LIST, {"n": 101}, token=boss))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}

    async def test_page_statements_are_constant(
        self, gql: GQL, make_tenant: Any, count_statements: Any
    ) -> None:
        t = await make_tenant()
        for email in ("dev@t.example",):
            s = await _series(gql, t)
            for m in s["upcoming"]:
                await gql.ok(AGENDA, {"c": m["id"], "b": "x"}, token=t.token(email))
                await gql.ok(NOTE, {"c": m["id"], "b": "n"}, token=t.token(email))
                await gql.ok(
                    ACTION, {"i": {"checkInId": m["id"], "body": "a"}}, token=t.token(email)
                )
        q = f"query($n: Int!) {{ checkIns(first: $n) {{ edges {{ node {{ {MEETING} }} }} }} }}"
        tok = t.token("dev@t.example")
        count_statements.statements.clear()
        await gql.ok(q, {"n": 1}, token=tok)
        small = count_statements.count
        count_statements.statements.clear()
        got = await gql.ok(q, {"n": 100}, token=tok)
        assert len(got["checkIns"]["edges"]) == 2
        assert count_statements.count == small, count_statements.statements
        sq = "{ checkInSeries { id manager { name } report { name } upcoming { id agenda { body } } } }"
        boss = t.token("boss@t.example")
        await gql.ok(
            CREATE,
            {"i": {"reportId": t.gid("lead@t.example"), "startsAt": _monday_ahead()}},
            token=boss,
        )
        count_statements.statements.clear()
        got = await gql.ok(sq, token=boss)
        assert len(got["checkInSeries"]) == 2  # theirs, and lead's with dev (their line)
        two = count_statements.count
        await gql.ok(
            CREATE,
            {"i": {"reportId": t.gid("peer@t.example"), "startsAt": _monday_ahead()}},
            token=boss,
        )
        count_statements.statements.clear()
        got = await gql.ok(sq, token=boss)
        assert len(got["checkInSeries"]) == 3
        assert count_statements.count == two, count_statements.statements


class TestIsolation:
    async def test_another_tenants_check_ins_are_unreachable(
        self, gql: GQL, acme: TenantInfo, globex: TenantInfo, owner_engine: Any
    ) -> None:
        async with owner_engine.connect() as c:
            rows = (
                await c.execute(
                    sa.text(
                        "select c.id, c.series_id, a.id as item from checkins c "
                        "join checkin_agenda_items a on a.tenant_id = c.tenant_id "
                        "and a.checkin_id = c.id where c.tenant_id = :t limit 1"
                    ),
                    {"t": globex.id},
                )
            ).one()
        tok = acme.token("hr@acme.example")  # HR reads every check-in of their own tenant
        for type_name, raw in (("CheckIn", rows.id), ("CheckInSeries", rows.series_id)):
            q = "query($id: ID!) { node(id: $id) { id } }"
            foreign = await gql(q, {"id": to_global_id(type_name, raw)}, token=tok)
            ghost = await gql(q, {"id": to_global_id(type_name, uuid.uuid4())}, token=tok)
            assert foreign == ghost
        f = {"withEmployee": globex.gid("tom.fischer@globex.example")}
        assert (await gql.ok(LIST, {"f": f}, token=tok))["checkIns"]["totalCount"] == 0
        edit = await gql(
            EDIT_AGENDA,
            {"id": to_global_id("CheckInAgendaItem", rows.item), "i": {"discussed": True}},
            token=tok,
        )
        ghost = await gql(
            EDIT_AGENDA,
            {"id": to_global_id("CheckInAgendaItem", uuid.uuid4()), "i": {"discussed": True}},
            token=tok,
        )
        assert edit == ghost and only_error(edit)["extensions"]["code"] == "NOT_FOUND"

    async def test_demo_series(self, gql: GQL, acme: TenantInfo) -> None:
        sam = acme.token("sam.rivera@acme.example")
        got = await gql.ok(
            "{ checkInSeries { title cadence manager { name } upcoming { agenda { body } "
            "actionItems { body } myPrivateNote { body } } } }",
            token=sam,
        )
        s = got["checkInSeries"][0]
        assert s["title"] == "Jordan / Sam weekly" and s["manager"] == {"name": "Jordan Kim"}
        first = s["upcoming"][0]
        assert len(first["agenda"]) == 2 and first["actionItems"][0]["body"]
        assert first["myPrivateNote"] is not None  # seeded for the report


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


class TestRecurrence:
    def test_weekly_keeps_the_local_time_across_dst(self) -> None:
        start = datetime(2026, 3, 16, 9, 30, tzinfo=_zone("Europe/Berlin"))
        got = occurrences(
            start, "Europe/Berlin", "weekly", after=datetime(2026, 3, 20, tzinfo=UTC), count=3
        )
        local = [g.astimezone(_zone("Europe/Berlin")) for g in got]
        assert [(d.month, d.day, d.hour, d.minute) for d in local] == [
            (3, 23, 9, 30),
            (3, 30, 9, 30),  # after the clocks went forward on 29 March
            (4, 6, 9, 30),
        ]
        assert got[0].hour == 8 and got[1].hour == 7  # 08:30 UTC, then 07:30 UTC

    def test_biweekly_and_monthly_clamped_to_month_end(self) -> None:
        start = datetime(2027, 1, 31, 15, 0, tzinfo=_zone("America/New_York"))
        got = occurrences(
            start, "America/New_York", "monthly", after=datetime(2027, 1, 1, tzinfo=UTC), count=4
        )
        assert [g.astimezone(_zone("America/New_York")).date().isoformat() for g in got] == [
            "2027-01-31",
            "2027-02-28",
            "2027-03-31",
            "2027-04-30",
        ]
        assert all(g.astimezone(_zone("America/New_York")).hour == 15 for g in got)
        two = occurrences(
            start, "America/New_York", "biweekly", after=datetime(2027, 3, 1, tzinfo=UTC), count=2
        )
        assert [g.astimezone(_zone("America/New_York")).day for g in two] == [14, 28]

    def test_occurrences_are_strictly_after(self) -> None:
        start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        got = occurrences(start, "UTC", "weekly", after=start, count=1)
        assert got == [start + timedelta(days=7)]
