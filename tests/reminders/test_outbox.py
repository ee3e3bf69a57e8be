"""The outbox on the real database with a frozen clock walked across whole ladders: downtime,
renewal, acknowledgement, snooze, offboarding, timezones and the send window, each on its own
credential, all through the same scheduler pass the fleet runs (tests/reminders/helpers.py).

The built-in ladder applies (the tenant declares no policy): -90, -60 holder; -30, -7, 0 holder
and manager; +7, +30 holder, manager and HR. Tenant zone Europe/Berlin; SMALL_ORG puts dev,
lead and boss in Austin (America/Chicago), admin, hr and peer in Berlin.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, SMALL_ORG, TenantInfo
from tests.reminders.helpers import rows, run_pass
from upward import clock
from upward.graphql.relay import to_global_id

BERLIN, CHICAGO = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Chicago")
START, END = date(2026, 6, 20), date(2026, 11, 20)
DOWN = (date(2026, 8, 20), date(2026, 9, 26))  # the scheduler is down (API up)
# ticks each day (UTC): 06:30 is 08:30 in Berlin (window closed), 07:30 09:30 Berlin,
# 13:30 08:30 Chicago (closed), 14:30 09:30 Chicago, 21:00 late evening in Berlin
TICKS = (time(6, 30), time(7, 30), time(13, 30), time(14, 30), time(21, 0))


def org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["employees"].append(
        {
            "email": "temp@t.example",
            "name": "Tem Temp",
            "manager": "boss@t.example",
            "location": "Berlin",
        }
    )
    o["credential_types"] = [{"name": "Safety", "category": "training", "validity_months": 12}]

    def cred(email: str, n: str, expires: date) -> dict[str, Any]:
        return {
            "employee": email,
            "credential_type": "Safety",
            "number": n,
            "issued_on": expires - timedelta(days=365),
            "expires_on": expires,
        }

    o["credentials"] = [
        cred("dev@t.example", "plain", date(2026, 9, 30)),  # Chicago; -30, -7 fall in DOWN
        cred("peer@t.example", "berlin", date(2026, 11, 5)),  # Berlin; -60 falls in DOWN
        cred("boss@t.example", "renewed", date(2026, 8, 31)),  # renewed on Aug 18
        cred("lead@t.example", "acknowledged", date(2026, 10, 15)),  # acked Sep 1
        cred("admin@t.example", "snoozed", date(2026, 7, 31)),  # snoozed Jul 20 -> Aug 5
        cred("temp@t.example", "offboarded", date(2026, 8, 15)),  # offboarded Jul 20
    ]
    return o


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    try:
        yield await make_tenant(org())
    finally:
        clock.freeze(None)


async def _call(gql: GQL, t: TenantInfo, email: str, query: str, variables: Any) -> Any:
    return await gql.ok(query, variables, token=t.token(email))


async def _walk(t: TenantInfo, gql: GQL, owner_engine: AsyncEngine) -> None:
    creds = {
        r.number: r.id
        for r in await rows(
            owner_engine, "select number, id from credentials where tenant_id = :t", t=t.id
        )
    }
    day = START
    while day <= END:
        down = DOWN[0] <= day < DOWN[1]
        for tick in TICKS:
            at = datetime.combine(day, tick, tzinfo=UTC)
            clock.freeze(at)
            if day == date(2026, 7, 20) and tick == TICKS[0]:
                await _call(
                    gql,
                    t,
                    "hr@t.example",
                    "mutation($c: ID!, $u: Date) { snoozeCredentialReminders(credentialId: $c, "
                    'until: $u, reason: "on leave") { snoozedUntil } }',
                    {"c": to_global_id("Credential", creds["snoozed"]), "u": "2026-08-05"},
                )
                await _call(
                    gql,
                    t,
                    "hr@t.example",
                    "mutation($e: ID!) { offboardEmployee(employeeId: $e) { employee { id } } }",
                    {"e": t.gid("temp@t.example")},
                )
            if day == date(2026, 8, 18) and tick == TICKS[0]:
                ctype = (
                    await rows(
                        owner_engine,
                        "select id from credential_types where tenant_id = :t",
                        t=t.id,
                    )
                )[0].id
                await _call(
                    gql,
                    t,
                    "hr@t.example",
                    "mutation($i: CreateCredentialInput!) { createCredential(input: $i) "
                    "{ credential { id } } }",
                    {
                        "i": {
                            "employeeId": t.gid("boss@t.example"),
                            "credentialTypeId": to_global_id("CredentialType", ctype),
                            "issuedOn": "2026-08-18",
                            "expiresOn": "2027-08-31",
                            "number": "renewal",
                        }
                    },
                )
            if day == date(2026, 9, 1) and tick == TICKS[0]:
                await _call(
                    gql,
                    t,
                    "lead@t.example",
                    "mutation($c: ID!) { acknowledgeCredentialReminders(credentialId: $c, "
                    "renewalInProgress: true) { renewalInProgress } }",
                    {"c": to_global_id("Credential", creds["acknowledged"])},
                )
            if not down:
                await run_pass(t.id, at)
        day += timedelta(days=1)


async def _sent(engine: AsyncEngine, t: TenantInfo) -> list[Any]:
    return await rows(
        engine,
        "select c.number, r.offset_days, e.email, r.digest, r.created_at, r.notification_id, "
        "n.created_at as notified_at "
        "from reminders r join employees e on e.tenant_id = r.tenant_id and e.id = r.recipient_id "
        "join credentials c on c.tenant_id = r.tenant_id and c.id = r.credential_id "
        "left join notifications n on n.tenant_id = r.tenant_id and n.id = r.notification_id "
        "where r.tenant_id = :t order by r.created_at, r.offset_days, e.email",
        t=t.id,
    )


def _steps(sent: list[Any], number: str, email: str) -> list[int]:
    return [r.offset_days for r in sent if r.number == number and r.email == email]


HOLDERS = {
    "plain": "dev@t.example",
    "berlin": "peer@t.example",
    "renewed": "boss@t.example",
    "acknowledged": "lead@t.example",
    "snoozed": "admin@t.example",
    "offboarded": "temp@t.example",
}
IN_CHICAGO = {"dev@t.example", "lead@t.example", "boss@t.example"}


async def test_a_clock_walked_across_the_ladders(
    t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
) -> None:
    await _walk(t, gql, owner_engine)
    sent = await _sent(owner_engine, t)
    steps = lambda number, email: _steps(sent, number, email)  # noqa: E731

    # downtime Aug 20 - Sep 25 swallowed -30 (Aug 31) and -7 (Sep 23): when the scheduler is
    # back (Monday Sep 28) only the latest missed step (-7) goes out, not a burst
    assert steps("plain", "dev@t.example") == [-90, -60, -7, 0, 7, 30]
    assert steps("plain", "lead@t.example") == [-7, 0, 7, 30]
    assert steps("plain", "hr@t.example") == [7, 30]
    # -60 (Sep 6) was 22 days old when the scheduler came back: past the 14 catch-up days
    assert steps("berlin", "peer@t.example") == [-90, -30, -7, 0, 7]
    assert steps("berlin", "boss@t.example") == [-30, -7, 0, 7]
    assert steps("berlin", "hr@t.example") == [7]
    # the renewal (Aug 18) ends the old cycle; the new one (expiry 2027-08-31) starts later
    assert steps("renewed", "boss@t.example") == [-60, -30]
    assert steps("renewed", "admin@t.example") == [-30]
    assert [r for r in sent if r.number == "renewal"] == []
    # acknowledged Sep 1 after -60 (Aug 17): the holder gets nothing more; escalations go on
    assert steps("acknowledged", "lead@t.example") == [-90, -60]
    assert steps("acknowledged", "boss@t.example") == [-30, -7, 0, 7, 30]
    assert steps("acknowledged", "hr@t.example") == [7, 30]
    # snoozed Jul 20 until Aug 5: -7 (Jul 24) and 0 (Jul 31) fall in it; on Aug 5 the latest
    # due step (0) goes out once; +30 (Aug 30) fell in the downtime, past the catch-up
    assert steps("snoozed", "admin@t.example") == [-30, 0, 7]
    assert steps("snoozed", "hr@t.example") == [7]
    zero = next(r for r in sent if r.number == "snoozed" and r.offset_days == 0)
    assert zero.created_at.astimezone(BERLIN).date() == date(2026, 8, 5)
    # offboarded Jul 20: nothing after -30 (Jul 16), for anyone
    assert steps("offboarded", "temp@t.example") == [-60, -30]
    assert steps("offboarded", "boss@t.example") == [-30]
    assert steps("offboarded", "hr@t.example") == []
    # -60 of "plain" falls on Saturday Aug 1: sent Monday Aug 3, 09:30 in Chicago
    minus60 = next(r for r in sent if r.number == "plain" and r.offset_days == -60)
    assert minus60.created_at.astimezone(CHICAGO) == datetime(2026, 8, 3, 9, 30, tzinfo=CHICAGO)

    for r in sent:
        zone = CHICAGO if r.email in IN_CHICAGO else BERLIN
        local = r.created_at.astimezone(zone)
        # never at night, never on a weekend, always in the recipient's own zone
        assert 9 <= local.hour < 18, (r.number, r.email, local)
        assert local.weekday() < 5, (r.number, r.email, local)
        assert r.notification_id is not None
        # holders get a message of their own at once; managers and HR a daily digest
        assert r.digest == (r.email != HOLDERS[r.number]), (r.number, r.email)
        notified = r.notified_at.astimezone(zone)
        assert 9 <= notified.hour < 18 and notified >= local

    # one digest per recipient and local day, whatever it lists
    digests = await rows(
        owner_engine,
        "select recipient_id, data->>'date' as d, count(*) as n from notifications "
        "where tenant_id = :t and kind = 'digest' group by 1, 2",
        t=t.id,
    )
    assert digests and all(d.n == 1 for d in digests)
