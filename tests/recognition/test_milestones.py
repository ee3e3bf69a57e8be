"""Milestones: templates, the pure mapping from domain events and the anniversary dates (no
I/O), then recognition on the real database from real domain events (a credential through
`createCredential`, an IDP goal and plan through the plans API, a promotion through a hire),
published by the one event publisher: one milestone, one kudos, the points from the company
account, also when the publisher runs twice, an event is delivered again or the recognizer
runs twice; disabled kinds, custom templates and points; anniversaries across timezones and on
29 February; the settings and the milestones list through HTTP."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, only_error
from tests.reminders.helpers import principal_of
from upward import clock
from upward.db import tenant_session
from upward.errors import BadUserInput
from upward.graphql.relay import from_global_id, to_global_id
from upward.recognition import milestones as ms
from upward.recognition.models import MILESTONE_KINDS
from upward.reminders import outbox

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
DEV = "dev@t.example"
HR = "hr@t.example"


def ev(event_kind: str, **payload: Any) -> dict[str, Any]:
    return {"kind": event_kind, "payload": {k: str(v) for k, v in payload.items()}}


# --- templates (pure) --------------------------------------------------------------------------


class TestTemplates:
    def test_every_kind_has_a_valid_default(self) -> None:
        assert set(ms.DEFAULTS) == set(MILESTONE_KINDS)
        for kind, s in ms.DEFAULTS.items():
            assert ms.check_template(kind, s.message) == s.message
            assert s.enabled and 0 < s.points <= 100

    def test_unknown_placeholder_names_the_allowed_ones(self) -> None:
        with pytest.raises(BadUserInput) as e:
            ms.check_template("goal_completed", "Well done {name} on {credential}")
        assert e.value.field == "input.message"
        assert "{credential}" in e.value.message
        assert "{name}, {first_name}, {goal}, {plan}" in e.value.message

    def test_attribute_access_and_odd_braces_are_refused(self) -> None:
        for bad in ("{name.__class__}", "{name[0]}", "{ name }", "{}", "{0}"):
            with pytest.raises(BadUserInput):
                ms.check_template("promotion", f"Hi {bad}")

    def test_length_nul_and_empty(self) -> None:
        assert ms.check_template("promotion", "  Yay {title}  ") == "Yay {title}"
        ms.check_template("promotion", "x" * 500)
        for bad in ("x" * 501, "a\x00b", "   ", ""):
            with pytest.raises(BadUserInput) as e:
                ms.check_template("promotion", bad)
            assert e.value.field == "input.message"

    def test_render_substitutes_plainly(self) -> None:
        values = {"name": "{years} Dee", "years": "3"}
        assert ms.render("{name}: {years} years }{", values) == "{years} Dee: 3 years }{"
        # text the tenant wrote is never evaluated
        assert ms.render("{name.__class__} {missing}", values) == "{name.__class__} {missing}"
        assert len(ms.render("{name}", {"name": "x" * 5000})) == ms.MAX_RENDERED


# --- events -> milestones (pure) ---------------------------------------------------------------

E, C, G, P, M = (uuid.uuid4() for _ in range(5))


class TestEventMapping:
    def test_credentials_earned_when_usable_and_not_bulk(self) -> None:
        got = ms.milestones_from_events(
            [
                ev("credential.created", credential_id=C, employee_id=E, verification="verified"),
                ev("credential.verified", credential_id=C, employee_id=E, verified_by=G),
            ]
        )
        assert [(p.kind, p.key, p.employee_id) for p in got] == [
            ("credential_earned", f"credential:{C}", E)
        ]
        # no verification needed: the creation is the milestone; pending: not yet
        nr = ev("credential.created", credential_id=C, employee_id=E, verification="not_required")
        assert [p.kind for p in ms.milestones_from_events([nr])] == ["credential_earned"]
        pending = ev("credential.created", credential_id=C, employee_id=E, verification="pending")
        assert ms.milestones_from_events([pending]) == []
        for source in ("import", "manifest"):
            bulk = [
                ev("credential.created", credential_id=C, employee_id=E,
                   verification="not_required", source=source),
                ev("credential.verified", credential_id=C, employee_id=E, source=source),
            ]  # fmt: skip
            assert ms.milestones_from_events(bulk) == []
            assert ms.credential_ids_of(bulk) == []
        assert ms.credential_ids_of([nr, pending]) == [C]

    def test_renewal_from_the_batch_or_the_state(self) -> None:
        created = ev(
            "credential.created", credential_id=C, employee_id=E, verification="not_required"
        )
        renewed = ev("credential.renewed", credential_id=C, employee_id=E)
        for batch in ([created, renewed], [renewed, created]):
            assert [p.kind for p in ms.milestones_from_events(batch)] == ["credential_renewed"]
        assert [p.kind for p in ms.milestones_from_events([created], renewed=[C])] == [
            "credential_renewed"
        ]
        # a renewal event alone (the credential was celebrated, or loaded in bulk) adds nothing
        assert ms.milestones_from_events([renewed]) == []

    def test_goals_plans_and_moves(self) -> None:
        at = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
        got = ms.milestones_from_events(
            [
                {**ev("idp.goal_completed", goal_id=G, plan_id=P, employee_id=E, title="Ship"),
                 "occurred_at": at},
                ev("idp.completed", plan_id=P, employee_id=E, title="Grow"),
                {"kind": "employee.moved", "payload": {
                    "move_id": str(M), "kind": "promotion", "employee_id": str(E),
                    "moved_on": "2026-07-01", "after": {"title": "Senior Engineer"}}},
                ev("employee.moved", move_id=uuid.uuid4(), kind="lateral", employee_id=E),
                ev("employee.moved", move_id=uuid.uuid4(), kind="gig", employee_id=E),
                ev("kudos.given", kudos_id=uuid.uuid4(), employee_id=E),
            ],
            timezone="Europe/Berlin",
        )  # fmt: skip
        assert [(p.kind, p.key.split(":")[0]) for p in got] == [
            ("goal_completed", "goal"),
            ("plan_completed", "plan"),
            ("promotion", "move"),
            ("internal_move", "move"),
        ]
        goal, plan, promo, lateral = got
        assert goal.key == f"goal:{G}" and goal.plan_id == P and goal.values == {"goal": "Ship"}
        assert goal.occurred_on == date(2026, 3, 2)  # the tenant's day of the event
        assert plan.key == f"plan:{P}" and plan.values == {"plan": "Grow"}
        assert plan.occurred_on is None  # no time given: the day it is recognized
        assert promo.key == f"move:{M}" and promo.occurred_on == date(2026, 7, 1)
        assert promo.values == {"title": "Senior Engineer"} and lateral.values == {}

    def test_one_per_key_and_malformed_events_ignored(self) -> None:
        goal = ev("idp.goal_completed", goal_id=G, employee_id=E, title="x")
        assert len(ms.milestones_from_events([goal, goal, goal])) == 1
        assert (
            ms.milestones_from_events(
                [
                    ev("idp.goal_completed", goal_id=G),  # no person
                    ev("idp.goal_completed", goal_id="not-a-uuid", employee_id=E),
                    {"kind": "idp.completed", "payload": None},
                    {"kind": "idp.completed", "payload": '{"plan_id": "x"}'},
                ]
            )
            == []
        )
        text = {"kind": "idp.completed", "payload": f'{{"plan_id": "{P}", "employee_id": "{E}"}}'}
        assert [p.key for p in ms.milestones_from_events([text])] == [f"plan:{P}"]


# --- anniversary dates (pure) ------------------------------------------------------------------


def d(s: str) -> date:
    return date.fromisoformat(s)


class TestAnniversaryDates:
    def test_29_february(self) -> None:
        leap = d("2024-02-29")
        assert ms.anniversary_in(leap, 2025) == d("2025-02-28")
        assert ms.anniversary_in(leap, 2028) == d("2028-02-29")
        assert ms.anniversary_in(leap, 2100) == d("2100-02-28")  # not a leap year
        assert ms.due_anniversaries(leap, d("2025-02-27")) == []
        assert ms.due_anniversaries(leap, d("2025-02-28")) == [(1, d("2025-02-28"))]
        assert ms.due_anniversaries(leap, d("2025-03-01")) == [(1, d("2025-02-28"))]  # catch-up
        assert ms.due_anniversaries(leap, d("2028-02-28")) == []  # 2028 has a 29th
        assert ms.due_anniversaries(leap, d("2028-02-29")) == [(4, d("2028-02-29"))]
        # a 28 February hire keeps the 28th in leap years
        assert ms.due_anniversaries(d("2023-02-28"), d("2024-02-28")) == [(1, d("2024-02-28"))]
        assert "02-29" in ms.window_month_days(d("2025-02-28"))
        assert "02-29" in ms.window_month_days(d("2025-03-06"))
        assert "02-29" not in ms.window_month_days(d("2025-03-07"))

    def test_the_day_the_catch_up_and_not_before(self) -> None:
        hire = d("2019-06-15")
        assert ms.due_anniversaries(hire, d("2026-06-14")) == []
        assert ms.due_anniversaries(hire, d("2026-06-15")) == [(7, d("2026-06-15"))]
        assert ms.due_anniversaries(hire, d("2026-06-21")) == [(7, d("2026-06-15"))]
        assert ms.due_anniversaries(hire, d("2026-06-22")) == []
        # hired this year (or in the future): nothing yet
        assert ms.due_anniversaries(d("2026-06-15"), d("2026-06-15")) == []
        assert ms.due_anniversaries(d("2027-01-01"), d("2026-06-15")) == []

    def test_year_boundaries(self) -> None:
        new_year = d("2020-01-01")
        assert ms.due_anniversaries(new_year, d("2026-01-01")) == [(6, d("2026-01-01"))]
        assert ms.due_anniversaries(new_year, d("2025-12-31")) == []
        eve = d("2020-12-31")
        assert ms.due_anniversaries(eve, d("2026-12-31")) == [(6, d("2026-12-31"))]
        # a scheduler down over new year catches up last year's anniversary
        late = d("2020-12-30")
        assert ms.due_anniversaries(late, d("2027-01-03")) == [(6, d("2026-12-30"))]
        assert ms.due_anniversaries(late, d("2027-01-05")) == [(6, d("2026-12-30"))]
        assert ms.due_anniversaries(late, d("2027-01-06")) == []
        assert {"12-30", "12-31", "01-01", "01-03"} <= set(ms.window_month_days(d("2027-01-03")))

    def test_exhaustively_each_anniversary_is_due_on_seven_days_from_its_day(self) -> None:
        """Every hire date of 2019-2021 (a leap year among them), every day of 2022-2029: each
        (person, years) is due on exactly CATCH_UP_DAYS consecutive days starting on its
        anniversary, the SQL prefilter never misses it, and years are counted right."""
        hires = [d("2019-01-01") + timedelta(days=i) for i in range(365 * 3 + 1)]
        days = [d("2022-01-01") + timedelta(days=i) for i in range(365 * 8 + 2)]
        prefilter = {day: set(ms.window_month_days(day)) for day in days}
        for hire in hires:
            due: dict[int, list[date]] = {}
            for today in days:
                for years, day in ms.due_anniversaries(hire, today):
                    assert day <= today and years == day.year - hire.year >= 1
                    assert hire.strftime("%m-%d") in prefilter[today], (hire, today)
                    due.setdefault(years, []).append(today)
            for years, seen in due.items():
                first = ms.anniversary_in(hire, hire.year + years)
                if first < days[0] or first + timedelta(days=6) > days[-1]:
                    continue  # cut by the range of days
                assert seen == [first + timedelta(days=i) for i in range(ms.CATCH_UP_DAYS)]
            # every year of the range celebrates once
            full = {y - hire.year for y in range(2022, 2029)}
            assert full <= set(due), hire

    def test_the_tenants_day_at_one_instant(self) -> None:
        """10:30 UTC on 15 March: 16 March in Kiritimati (UTC+14), 14 March in Pago Pago
        (UTC-11). A 16 March hire is due in one, not yet in the other."""
        people = [(E, d("2021-03-16"))]
        clock.freeze(datetime(2026, 3, 15, 10, 30, tzinfo=UTC))
        try:
            kiri, pago = clock.today("Pacific/Kiritimati"), clock.today("Pacific/Pago_Pago")
            assert (kiri, pago) == (d("2026-03-16"), d("2026-03-14"))
            assert [p.key for p in ms.anniversary_milestones(people, kiri)] == [
                f"anniversary:{E}:5"
            ]
            assert ms.anniversary_milestones(people, pago) == []
        finally:
            clock.freeze(None)


# --- on the database ---------------------------------------------------------------------------


def org() -> dict[str, Any]:
    from tests.development.test_plans import org as plans_org
    from tests.mobility.helpers import mobility_org

    o = copy.deepcopy(mobility_org())
    o["credential_types"] = [
        *plans_org()["credential_types"],
        {"name": "Forklift", "category": "certification", "validity_months": 24},
        {"name": "License", "category": "license", "verification_required": True},
    ]
    o["credentials"] = [
        {"employee": "lead@t.example", "credential_type": "Forklift", "number": "F-1",
         "issued_on": date(2025, 2, 1)},
    ]  # fmt: skip
    return o


@pytest.fixture
def frozen() -> Iterator[datetime]:
    clock.freeze(NOW)
    try:
        yield NOW
    finally:
        clock.freeze(None)


@pytest.fixture
async def t(make_tenant: Any, frozen: datetime) -> TenantInfo:
    return await make_tenant(org())


async def q(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.text(sql), params)).mappings().all())


async def publish(t: TenantInfo) -> int:
    """One run of the event publisher (what `events.publish` does)."""
    async with tenant_session(t.id) as s:
        return (await outbox.publish_events(s))[0]


async def milestones_of(engine: AsyncEngine, t: TenantInfo) -> list[Any]:
    return await q(
        engine,
        "select m.kind, m.key, m.employee_id, m.occurred_on, m.kudos_id, k.message, k.points, "
        "k.kind as kudos_kind, k.milestone_kind, k.giver_id, k.visibility "
        "from milestones m left join kudos k on k.tenant_id = m.tenant_id and k.id = m.kudos_id "
        "where m.tenant_id = :t order by m.key",
        t=t.id,
    )


async def ledger_of(engine: AsyncEngine, t: TenantInfo) -> list[tuple[str, Any, int, str]]:
    rows = await q(
        engine,
        "select e.account, e.employee_id, e.amount, x.kind from points_entries e "
        "join points_transactions x on x.tenant_id = e.tenant_id and x.id = e.transaction_id "
        "where e.tenant_id = :t order by e.amount, e.account",
        t=t.id,
    )
    return [(r["account"], r["employee_id"], r["amount"], r["kind"]) for r in rows]


async def kudos_count(engine: AsyncEngine, t: TenantInfo) -> int:
    return len(await q(engine, "select id from kudos where tenant_id = :t", t=t.id))


CREATE = """mutation($i: CreateCredentialInput!) { createCredential(input: $i) {
  credential { id verification } } }"""
TYPES = "{ credentialTypes { id name } }"


async def type_id(gql: GQL, t: TenantInfo, name: str) -> str:
    got = await gql.ok(TYPES, token=t.token(HR))
    return next(x["id"] for x in got["credentialTypes"] if x["name"] == name)


async def hr_gives_credential(gql: GQL, t: TenantInfo, who: str = DEV, typ: str = "License") -> str:
    """HR records a credential for someone (verified on entry: `credential.verified`)."""
    got = await gql.ok(
        CREATE,
        {
            "i": {
                "credentialTypeId": await type_id(gql, t, typ),
                "employeeId": t.gid(who),
                "issuedOn": "2026-06-01",
            }
        },
        token=t.token(HR),
    )
    return got["createCredential"]["credential"]["id"]


SET = """mutation($i: SetMilestoneSettingInput!) { setMilestoneSetting(input: $i) {
  kind enabled message points isDefault placeholders } }"""


class TestCredentialMilestones:
    async def test_one_milestone_one_kudos_points_from_the_company(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        # the manifest's credential (an event with source "manifest") is not celebrated
        assert await publish(t) >= 1
        assert await milestones_of(owner_engine, t) == []
        cid = from_global_id(await hr_gives_credential(gql, t), field="id")[1]
        assert await publish(t) == 2  # credential.created + credential.verified
        [m] = await milestones_of(owner_engine, t)
        dev = t.ids[DEV]
        assert (m["kind"], m["key"], m["employee_id"]) == (
            "credential_earned",
            f"credential:{cid}",
            dev,
        )
        # the day of the event (written with the database's clock), in the tenant's zone
        [at] = await q(
            owner_engine,
            "select occurred_at from domain_events where tenant_id = :t "
            "and kind = 'credential.verified' and subject_id = :c",
            t=t.id,
            c=cid,
        )
        assert m["occurred_on"] == at["occurred_at"].astimezone(clock.zone("Europe/Berlin")).date()
        assert m["message"] == "Congratulations Dee Dev on earning License!"
        assert (m["kudos_kind"], m["milestone_kind"], m["giver_id"], m["visibility"]) == (
            "milestone", "credential_earned", None, "public",
        )  # fmt: skip
        assert m["points"] == 10
        assert await ledger_of(owner_engine, t) == [
            ("company", None, -10, "milestone"),
            ("received", dev, 10, "milestone"),
        ]
        receivers = await q(
            owner_engine,
            "select employee_id from kudos_receivers where tenant_id = :t and kudos_id = :k",
            t=t.id,
            k=m["kudos_id"],
        )
        assert [r["employee_id"] for r in receivers] == [dev]
        told = await q(
            owner_engine,
            "select recipient_id, subject from notifications where tenant_id = :t "
            "and data->>'kudos_id' = :k order by subject",
            t=t.id,
            k=str(m["kudos_id"]),
        )
        assert [(r["recipient_id"], r["subject"]) for r in told] == [
            (t.ids["lead@t.example"], "Your company recognized Dee Dev on your team"),
            (dev, "Your company recognized you (+10 points)"),
        ]
        given = await q(
            owner_engine,
            "select payload from domain_events where tenant_id = :t and kind = 'kudos.given'",
            t=t.id,
        )
        assert [g["payload"]["milestone"] for g in given] == ["credential_earned"]

    async def test_pending_then_verified_and_a_renewal(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await publish(t)
        # the holder's own license waits for verification: nothing until HR verifies it
        got = await gql.ok(
            CREATE,
            {"i": {"credentialTypeId": await type_id(gql, t, "License"), "issuedOn": "2026-06-01"}},
            token=t.token(DEV),
        )
        lic = got["createCredential"]["credential"]
        assert lic["verification"] == "PENDING"
        await publish(t)
        assert await milestones_of(owner_engine, t) == []
        await gql.ok(
            "mutation($id: ID!) { verifyCredential(id: $id) { credential { id } } }",
            {"id": lic["id"]},
            token=t.token(HR),
        )
        await publish(t)
        assert [m["kind"] for m in await milestones_of(owner_engine, t)] == ["credential_earned"]
        # the lead renews the forklift licence the manifest loaded (no verification needed)
        got = await gql.ok(
            CREATE,
            {
                "i": {
                    "credentialTypeId": await type_id(gql, t, "Forklift"),
                    "issuedOn": "2026-06-01",
                }
            },
            token=t.token("lead@t.example"),
        )
        await publish(t)
        rows = {m["employee_id"]: m for m in await milestones_of(owner_engine, t)}
        renewal = rows[t.ids["lead@t.example"]]
        assert renewal["kind"] == "credential_renewed"
        assert renewal["message"] == "Lee Lead renewed Forklift: thank you for keeping it current!"
        # a later renewal event of the same credential adds nothing
        raw = from_global_id(got["createCredential"]["credential"]["id"], field="id")[1]
        async with tenant_session(t.id) as s:
            await ms.after_events(
                s,
                [ev("credential.renewed", credential_id=raw, employee_id=t.ids["lead@t.example"]),
                 ev("credential.verified", credential_id=raw, employee_id=t.ids["lead@t.example"])],
            )  # fmt: skip
        assert len(await milestones_of(owner_engine, t)) == 2


class TestExactlyOnce:
    async def test_publisher_twice_redelivery_and_after_events_twice(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await hr_gives_credential(gql, t)
        await publish(t)
        await publish(t)  # nothing left: the events are published
        assert len(await milestones_of(owner_engine, t)) == 1
        # every event delivered again (published_at reset as the owner), twice
        for _ in range(2):
            async with owner_engine.begin() as conn:
                await conn.execute(
                    sa.text("update domain_events set published_at = null where tenant_id = :t"),
                    {"t": t.id},
                )
            assert await publish(t) >= 3
        # the recognizer called twice with the same batch, in one transaction and in another
        async with tenant_session(t.id) as s:
            events = await outbox_events(s)
            assert await ms.after_events(s, events) == []
            assert await ms.after_events(s, events) == []
        assert len(await milestones_of(owner_engine, t)) == 1
        assert await kudos_count(owner_engine, t) == 1
        assert len(await ledger_of(owner_engine, t)) == 2

    async def test_two_transactions_at_once_make_one(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        """Two publishers given the same events (a redelivery while the first still runs):
        the second waits on the first's uncommitted milestone, then inserts nothing."""
        await hr_gives_credential(gql, t)
        await gql.ok(  # and a second person, so the two write several keys
            CREATE,
            {
                "i": {
                    "credentialTypeId": await type_id(gql, t, "Forklift"),
                    "issuedOn": "2026-06-01",
                }
            },
            token=t.token("peer@t.example"),
        )
        async with tenant_session(t.id) as s:
            events = await outbox_events(s)
        barrier = asyncio.Barrier(2)

        async def one() -> int:
            async with tenant_session(t.id) as s:
                await s.execute(sa.text("select 1"))
                await barrier.wait()
                return len(await ms.after_events(s, events))

        assert sorted(await asyncio.gather(one(), one())) == [0, 2]
        assert [m["employee_id"] for m in await milestones_of(owner_engine, t)].count(
            t.ids[DEV]
        ) == 1
        assert len(await milestones_of(owner_engine, t)) == 2
        assert await kudos_count(owner_engine, t) == 2


async def outbox_events(s: Any) -> list[Any]:
    from upward.db import fetch

    return await fetch(
        s, "select id, kind, subject_id, payload from domain_events order by occurred_at, id"
    )


class TestSettingsApplied:
    async def test_a_disabled_kind_writes_nothing(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await gql.ok(SET, {"i": {"kind": "CREDENTIAL_EARNED", "enabled": False}}, token=t.token(HR))
        await hr_gives_credential(gql, t)
        await publish(t)
        assert await milestones_of(owner_engine, t) == []
        assert await kudos_count(owner_engine, t) == 0
        assert await ledger_of(owner_engine, t) == []

    async def test_custom_template_and_points(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        got = await gql.ok(
            SET,
            {"i": {"kind": "CREDENTIAL_EARNED", "message": "Bravo {first_name}: {credential}!",
                   "points": 42}},
            token=t.token(HR),
        )  # fmt: skip
        assert got["setMilestoneSetting"]["isDefault"] is False
        await hr_gives_credential(gql, t)
        await publish(t)
        [m] = await milestones_of(owner_engine, t)
        assert (m["message"], m["points"]) == ("Bravo Dee: License!", 42)
        assert await ledger_of(owner_engine, t) == [
            ("company", None, -42, "milestone"),
            ("received", t.ids[DEV], 42, "milestone"),
        ]

    async def test_zero_points_is_a_kudos_without_points(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await gql.ok(SET, {"i": {"kind": "CREDENTIAL_EARNED", "points": 0}}, token=t.token(HR))
        await hr_gives_credential(gql, t)
        await publish(t)
        [m] = await milestones_of(owner_engine, t)
        assert m["points"] == 0 and m["kudos_id"] is not None
        assert await ledger_of(owner_engine, t) == []

    async def test_only_active_people(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await hr_gives_credential(gql, t)
        async with owner_engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "update employees set status = 'offboarded', offboarded_at = now() "
                    "where tenant_id = :t and id = :e"
                ),
                {"t": t.id, "e": t.ids[DEV]},
            )
        await publish(t)
        assert await milestones_of(owner_engine, t) == []


class TestDevelopmentAndMoves:
    async def test_goal_and_plan_completed(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        from tests.development.test_plans import UPDATE_GOAL, _catalog, _create, _move

        c = await _catalog(gql, t)
        plan = await _create(gql, t, c)
        for action, who in (("SUBMIT", DEV), ("APPROVE", "lead@t.example"), ("START", DEV)):
            got = await _move(gql, t, plan["id"], action, who)
            assert "errors" not in got, got
        gid = plan["goals"][0]["id"]
        dev = t.token(DEV)
        await gql.ok(UPDATE_GOAL, {"id": gid, "i": {"status": "COMPLETED"}}, token=dev)
        await publish(t)
        # reopened and completed again, then the plan: one goal milestone, one plan milestone
        await gql.ok(UPDATE_GOAL, {"id": gid, "i": {"status": "IN_PROGRESS"}}, token=dev)
        await gql.ok(UPDATE_GOAL, {"id": gid, "i": {"status": "COMPLETED"}}, token=dev)
        assert "errors" not in await _move(gql, t, plan["id"], "COMPLETE", DEV)
        await publish(t)
        got = await milestones_of(owner_engine, t)
        assert [(m["kind"], m["employee_id"]) for m in got] == [
            ("goal_completed", t.ids[DEV]),
            ("plan_completed", t.ids[DEV]),
        ]
        assert (
            got[0]["message"]
            == 'Dee Dev completed the development goal "Own a service end to end". Well done!'
        )
        assert (
            got[1]["message"]
            == f'Dee Dev completed the development plan "{plan["title"]}". Congratulations!'
        )
        assert [m["points"] for m in got] == [5, 20]

    async def test_promotion_lateral_and_no_gig(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        from tests.mobility.helpers import agid, levels, make_application, make_posting

        hire = "mutation($id: ID!) { transitionApplication(id: $id, action: HIRE) { stage } }"
        lv = await levels(owner_engine, t)
        promo = await make_posting(owner_engine, t, level_id=lv["Senior Engineer"])
        aid = await make_application(owner_engine, t, promo, stage="offer")
        await gql.ok(hire, {"id": agid(aid)}, token=t.token("boss@t.example"))
        plain = await make_posting(owner_engine, t, title="Payments Engineer", department=None)
        aid = await make_application(
            owner_engine, t, plain, applicant="peer@t.example", stage="offer"
        )
        await gql.ok(hire, {"id": agid(aid)}, token=t.token(HR))
        gig = await make_posting(owner_engine, t, kind="gig", title="Migration gig")
        aid = await make_application(
            owner_engine, t, gig, applicant="lead@t.example", stage="offer"
        )
        await gql.ok(hire, {"id": agid(aid)}, token=t.token(HR))
        await publish(t)
        got = {m["employee_id"]: m for m in await milestones_of(owner_engine, t)}
        assert set(got) == {t.ids[DEV], t.ids["peer@t.example"]}
        assert got[t.ids[DEV]]["kind"] == "promotion"
        assert (
            got[t.ids[DEV]]["message"]
            == "Congratulations Dee Dev on the promotion to Senior Engineer!"
        )
        assert got[t.ids[DEV]]["points"] == 25
        assert got[t.ids["peer@t.example"]]["kind"] == "internal_move"
        assert (
            got[t.ids["peer@t.example"]]["message"]
            == "Welcome to your new role, Pat Peer: Payments Engineer!"
        )


# --- anniversaries on the database -------------------------------------------------------------


async def set_hire(engine: AsyncEngine, t: TenantInfo, email: str, hire: date | None) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("update employees set hire_date = :h where tenant_id = :t and id = :e"),
            {"h": hire, "t": t.id, "e": t.ids[email]},
        )


async def set_zone(engine: AsyncEngine, t: TenantInfo, zone: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("update tenants set timezone = :z where id = :t"), {"z": zone, "t": t.id}
        )


async def anniversaries(t: TenantInfo) -> list[ms.Recognized]:
    p = await principal_of(t.id)
    async with tenant_session(t.id) as s:
        return await ms.recognize_anniversaries(s, p)


class TestAnniversaries:
    async def test_due_once_with_points_per_year(
        self, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await set_hire(owner_engine, t, DEV, date(2023, 6, 15))  # 3 years today
        await set_hire(owner_engine, t, "peer@t.example", date(2020, 6, 10))  # 5 days ago
        await set_hire(owner_engine, t, "lead@t.example", date(2020, 6, 16))  # tomorrow
        await set_hire(owner_engine, t, "boss@t.example", date(2026, 6, 15))  # hired today
        await set_hire(owner_engine, t, "hr@t.example", date(2019, 6, 1))  # two weeks ago
        assert len(await anniversaries(t)) == 2
        assert await anniversaries(t) == []  # the second run of the hour
        got = await milestones_of(owner_engine, t)
        assert [(m["key"], m["occurred_on"], m["points"]) for m in got] == sorted(
            [
                (f"anniversary:{t.ids[DEV]}:3", date(2026, 6, 15), 30),
                (f"anniversary:{t.ids['peer@t.example']}:6", date(2026, 6, 10), 60),
            ]
        )
        by_person = {m["employee_id"]: m for m in got}
        assert by_person[t.ids[DEV]]["message"] == (
            "Happy 3-year work anniversary, Dee Dev! Thank you for everything you do."
        )
        # the next day: the lead's is due, nobody's twice
        clock.freeze(NOW + timedelta(days=1))
        assert [r.employee_id for r in await anniversaries(t)] == [t.ids["lead@t.example"]]
        assert await anniversaries(t) == []
        assert len(await milestones_of(owner_engine, t)) == 3

    async def test_29_february_hire_on_28_february(
        self, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await set_hire(owner_engine, t, DEV, date(2024, 2, 29))
        clock.freeze(datetime(2025, 2, 27, 22, 59, tzinfo=UTC))  # 23:59 in Berlin, the 27th
        assert await anniversaries(t) == []
        clock.freeze(datetime(2025, 2, 27, 23, 0, tzinfo=UTC))  # midnight in Berlin
        [r] = await anniversaries(t)
        assert r.key == f"anniversary:{t.ids[DEV]}:1"
        clock.freeze(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
        assert await anniversaries(t) == []
        clock.freeze(datetime(2028, 2, 28, 12, 0, tzinfo=UTC))  # a leap year: the 29th
        assert await anniversaries(t) == []
        clock.freeze(datetime(2028, 2, 29, 12, 0, tzinfo=UTC))
        assert [r.key for r in await anniversaries(t)] == [f"anniversary:{t.ids[DEV]}:4"]
        got = await milestones_of(owner_engine, t)
        assert [m["occurred_on"] for m in got] == [date(2025, 2, 28), date(2028, 2, 29)]

    async def test_tenants_on_either_side_of_the_date_line(
        self, make_tenant: Any, owner_engine: AsyncEngine, frozen: datetime
    ) -> None:
        kiri, pago = await make_tenant(), await make_tenant()
        await set_zone(owner_engine, kiri, "Pacific/Kiritimati")
        await set_zone(owner_engine, pago, "Pacific/Pago_Pago")
        for tenant in (kiri, pago):
            await set_hire(owner_engine, tenant, DEV, date(2021, 3, 16))
        clock.freeze(datetime(2026, 3, 15, 10, 30, tzinfo=UTC))
        assert [r.key for r in await anniversaries(kiri)] == [f"anniversary:{kiri.ids[DEV]}:5"]
        assert await anniversaries(pago) == []  # still the 14th there
        clock.freeze(datetime(2026, 3, 16, 10, 59, tzinfo=UTC))  # 23:59 on the 15th in Pago Pago
        assert await anniversaries(pago) == []
        assert await anniversaries(kiri) == []  # the 17th there: done already
        clock.freeze(datetime(2026, 3, 16, 11, 0, tzinfo=UTC))  # midnight in Pago Pago
        assert [r.key for r in await anniversaries(pago)] == [f"anniversary:{pago.ids[DEV]}:5"]
        for tenant in (kiri, pago):
            [m] = await milestones_of(owner_engine, tenant)
            assert m["occurred_on"] == date(2026, 3, 16)

    async def test_disabled_and_offboarded(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await set_hire(owner_engine, t, DEV, date(2023, 6, 15))
        await gql.ok(SET, {"i": {"kind": "WORK_ANNIVERSARY", "enabled": False}}, token=t.token(HR))
        assert await anniversaries(t) == []
        await gql.ok(SET, {"i": {"kind": "WORK_ANNIVERSARY", "enabled": True}}, token=t.token(HR))
        async with owner_engine.begin() as conn:
            await conn.execute(
                sa.text("update employees set status = 'offboarded', offboarded_at = now() "
                        "where tenant_id = :t and id = :e"),
                {"t": t.id, "e": t.ids[DEV]},
            )  # fmt: skip
        assert await anniversaries(t) == []


# --- the API -----------------------------------------------------------------------------------

SETTINGS = "{ milestoneSettings { kind enabled message points isDefault placeholders } }"
LIST = """query($e: ID!, $n: Int, $a: String) { milestones(employeeId: $e, first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id kind occurredOn kudosId } } } }"""


class TestSettingsApi:
    async def test_defaults_for_hr_only(self, gql: GQL, t: TenantInfo) -> None:
        got = (await gql.ok(SETTINGS, token=t.token(HR)))["milestoneSettings"]
        assert [s["kind"] for s in got] == [k.upper() for k in MILESTONE_KINDS]
        assert all(s["isDefault"] and s["enabled"] for s in got)
        assert got[0]["placeholders"] == ["name", "first_name", "credential"]
        assert [s["points"] for s in got] == [10, 10, 5, 20, 25, 10, 10]
        for who in (DEV, "lead@t.example"):
            err = only_error(await gql(SETTINGS, token=t.token(who)))
            assert err["extensions"]["code"] == "FORBIDDEN"

    async def test_set_keeps_what_is_left_out_and_audits(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        got = await gql.ok(SET, {"i": {"kind": "PROMOTION", "points": 50}}, token=t.token(HR))
        s = got["setMilestoneSetting"]
        assert (s["enabled"], s["points"], s["isDefault"]) == (True, 50, False)
        assert s["message"] == ms.DEFAULTS["promotion"].message
        got = await gql.ok(
            SET, {"i": {"kind": "PROMOTION", "message": " Go {first_name}! "}}, token=t.token(HR)
        )
        assert got["setMilestoneSetting"]["message"] == "Go {first_name}!"
        assert got["setMilestoneSetting"]["points"] == 50
        listed = {
            x["kind"]: x for x in (await gql.ok(SETTINGS, token=t.token(HR)))["milestoneSettings"]
        }
        assert listed["PROMOTION"]["points"] == 50 and not listed["PROMOTION"]["isDefault"]
        assert listed["INTERNAL_MOVE"]["isDefault"]
        audit = await q(
            owner_engine,
            "select changes from audit_events where tenant_id = :t "
            "and action = 'milestone_setting.set' order by occurred_at",
            t=t.id,
        )
        assert [a["changes"] for a in audit] == [
            {"kind": "promotion", "points": {"from": 25, "to": 50}},
            {"kind": "promotion", "message": {"from": ms.DEFAULTS["promotion"].message,
                                              "to": "Go {first_name}!"}},
        ]  # fmt: skip

    async def test_validation_and_permissions(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        hr = t.token(HR)
        cases = [
            ({"kind": "PROMOTION", "message": "Hi {years}"}, "input.message"),
            ({"kind": "PROMOTION", "message": "x" * 501}, "input.message"),
            ({"kind": "PROMOTION", "message": "x\u0000"}, "input.message"),
            ({"kind": "PROMOTION", "points": 100001}, "input.points"),
            ({"kind": "PROMOTION", "points": -1}, "input.points"),
        ]
        for inp, field in cases:
            err = only_error(await gql(SET, {"i": inp}, token=hr))
            assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, inp
        err = only_error(await gql(SET, {"i": {"kind": "PROMOTION", "message": "{x}"}}, token=hr))
        assert err["message"] == (
            "unknown placeholder {x}; a promotion message may use {name}, {first_name}, {title}"
        )
        err = only_error(
            await gql(SET, {"i": {"kind": "PROMOTION", "points": 1}}, token=t.token(DEV))
        )
        assert err["extensions"]["code"] == "FORBIDDEN"
        assert (
            await q(owner_engine, "select 1 from milestone_settings where tenant_id = :t", t=t.id)
            == []
        )


class TestMilestonesApi:
    async def _setup(self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine) -> None:
        await hr_gives_credential(gql, t)
        await set_hire(owner_engine, t, DEV, date(2023, 6, 15))
        await publish(t)
        await anniversaries(t)

    async def test_the_person_their_managers_and_hr_read_them(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        await self._setup(gql, t, owner_engine)
        rows = await milestones_of(owner_engine, t)
        assert len(rows) == 2
        kudos = {m["kind"]: m["kudos_id"] for m in rows}
        for who in (DEV, "lead@t.example", "boss@t.example", HR):
            got = (await gql.ok(LIST, {"e": t.gid(DEV)}, token=t.token(who)))["milestones"]
            assert got["totalCount"] == 2
            nodes = [e["node"] for e in got["edges"]]
            assert {n["kind"]: n["occurredOn"] for n in nodes} == {
                m["kind"].upper(): m["occurred_on"].isoformat() for m in rows
            }
            days = [n["occurredOn"] for n in nodes]
            assert days == sorted(days, reverse=True)  # newest first
            for n in nodes:
                assert n["kudosId"] == to_global_id("Kudos", kudos[n["kind"].lower()])
        # a colleague (no line), a person who does not exist and another tenant's: empty
        got = await gql.ok(LIST, {"e": t.gid(DEV)}, token=t.token("peer@t.example"))
        assert got["milestones"]["totalCount"] == 0 and got["milestones"]["edges"] == []
        ghost = to_global_id("Employee", uuid.uuid4())
        assert (await gql.ok(LIST, {"e": ghost}, token=t.token(HR)))["milestones"]["edges"] == []
        err = only_error(
            await gql(LIST, {"e": to_global_id("Kudos", uuid.uuid4())}, token=t.token(HR))
        )
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "employeeId"}

    async def test_pages_node_and_isolation(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine, make_tenant: Any
    ) -> None:
        await self._setup(gql, t, owner_engine)
        hr = t.token(HR)
        first = (await gql.ok(LIST, {"e": t.gid(DEV), "n": 1}, token=hr))["milestones"]
        assert first["pageInfo"]["hasNextPage"] is True
        second = (
            await gql.ok(
                LIST, {"e": t.gid(DEV), "n": 1, "a": first["pageInfo"]["endCursor"]}, token=hr
            )
        )["milestones"]
        assert second["pageInfo"]["hasNextPage"] is False
        ids = [first["edges"][0]["node"]["id"], second["edges"][0]["node"]["id"]]
        assert len(set(ids)) == 2
        node = "query($id: ID!) { node(id: $id) { ... on Milestone { kind } } }"
        assert (await gql.ok(node, {"id": ids[0]}, token=t.token(DEV)))["node"]["kind"]
        for token in (t.token("peer@t.example"), (await make_tenant()).token(HR)):
            err = only_error(await gql(node, {"id": ids[0]}, token=token))
            assert err["extensions"]["code"] == "NOT_FOUND"
        other = await make_tenant()
        got = await gql.ok(LIST, {"e": t.gid(DEV)}, token=other.token(HR))
        assert got["milestones"]["edges"] == []

    async def test_statements_do_not_grow_with_the_page(
        self, gql: GQL, t: TenantInfo, owner_engine: AsyncEngine, count_statements: Any
    ) -> None:
        await self._setup(gql, t, owner_engine)
        tok = t.token(HR)
        count_statements.statements.clear()
        await gql.ok(LIST, {"e": t.gid(DEV), "n": 1}, token=tok)
        small = count_statements.count
        count_statements.statements.clear()
        await gql.ok(LIST, {"e": t.gid(DEV), "n": 100}, token=tok)
        assert count_statements.count == small, count_statements.statements
