"""The inbox, preferences, reminder states, policies and templates through HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, error_codes, only_error
from tests.reminders.helpers import rows, run_pass
from tests.reminders.test_outbox import org
from upward import clock
from upward.graphql.relay import to_global_id

AT = datetime(2026, 7, 2, 14, 30, tzinfo=UTC)
NO_SUCH_EMPLOYEE = to_global_id(
    "Employee", uuid.UUID(int=1)
)  # -90 of "plain" (dev, Chicago) is due

INBOX = """query($first: Int, $after: String, $unread: Boolean! = false) {
  notifications(first: $first, after: $after, unreadOnly: $unread) {
    totalCount
    edges { cursor node { id kind subject body data channels read readAt createdAt } }
    pageInfo { hasNextPage endCursor }
  }
  unreadNotificationCount
}"""


@pytest.fixture
async def t(make_tenant: Any) -> Any:
    tenant = await make_tenant(org())
    try:
        await run_pass(tenant.id, AT)
        await run_pass(tenant.id, datetime(2026, 7, 2, 7, 30, tzinfo=UTC))  # Berlin
        yield tenant
    finally:
        clock.freeze(None)


async def test_inbox_lists_reads_and_marks_read(t: TenantInfo, gql: GQL) -> None:
    dev = t.token("dev@t.example")
    body = await gql.ok(INBOX, {"first": 10}, token=dev)
    conn = body["notifications"]
    assert conn["totalCount"] == 1 and body["unreadNotificationCount"] == 1
    node = conn["edges"][0]["node"]
    assert node["kind"] == "REMINDER" and not node["read"]
    assert "Safety" in node["subject"] and "expires in 90 days" in node["body"]
    assert node["data"]["offset_days"] == -90 and "context" not in node["data"]
    assert node["data"]["credential_id"].startswith("Q3JlZGVudGlhbD")  # a global id
    assert set(node["channels"]) == {"IN_APP", "EMAIL"}

    # someone else cannot mark it read: NOT_FOUND like an id that never existed
    peer = t.token("peer@t.example")
    mark = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount notifications { id read } } }"
    err = only_error(await gql(mark, {"ids": [node["id"]]}, token=peer))
    assert err["extensions"]["code"] == "NOT_FOUND" and err["extensions"]["field"] == "ids.0"
    got = await gql.ok(mark, {"ids": [node["id"]]}, token=dev)
    assert got["markNotificationsRead"] == {
        "unreadCount": 0,
        "notifications": [{"id": node["id"], "read": True}],
    }
    body = await gql.ok(INBOX, {"first": 10, "unread": True}, token=dev)
    assert body["notifications"]["totalCount"] == 0
    # a wrong type of id names the field
    err = only_error(await gql(mark, {"ids": [t.gid("dev@t.example")]}, token=dev))
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "ids.0"}


async def test_another_tenants_notification_is_not_found(
    t: TenantInfo, make_tenant: Any, gql: GQL
) -> None:
    other = await make_tenant(org())
    await run_pass(other.id, AT)
    theirs = await gql.ok(INBOX, {"first": 1}, token=other.token("dev@t.example"))
    nid = theirs["notifications"]["edges"][0]["node"]["id"]
    mark = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { unreadCount } }"
    err = only_error(await gql(mark, {"ids": [nid]}, token=t.token("dev@t.example")))
    assert err["extensions"]["code"] == "NOT_FOUND"
    node = await gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": nid}, token=t.token("dev@t.example")
    )
    assert error_codes(node) == ["NOT_FOUND"]


async def test_preferences_round_trip_and_audit(
    t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
) -> None:
    dev = t.token("dev@t.example")
    q = "{ notificationPreferences { emailEnabled } }"
    assert (await gql.ok(q, token=dev))["notificationPreferences"] == {"emailEnabled": True}
    m = "mutation { setNotificationPreferences(input: {emailEnabled: false}) { emailEnabled } }"
    assert (await gql.ok(m, token=dev))["setNotificationPreferences"] == {"emailEnabled": False}
    assert (await gql.ok(q, token=dev))["notificationPreferences"] == {"emailEnabled": False}
    audit = await rows(
        owner_engine,
        "select action from audit_events where tenant_id = :t and action like 'notification%'",
        t=t.id,
    )
    assert [a.action for a in audit] == ["notification_preferences.update"]


async def _cred(owner_engine: AsyncEngine, t: TenantInfo, number: str) -> str:
    got = await rows(
        owner_engine,
        "select id from credentials where tenant_id = :t and number = :n",
        t=t.id,
        n=number,
    )
    return to_global_id("Credential", got[0].id)


ACK = """mutation($c: ID!, $r: Boolean! = false, $a: Boolean! = true) {
  acknowledgeCredentialReminders(credentialId: $c, renewalInProgress: $r, acknowledged: $a) {
    credentialId expiresOn acknowledgedAt renewalInProgress snoozedUntil
  }
}"""
SNOOZE = """mutation($c: ID!, $u: Date, $why: String) {
  snoozeCredentialReminders(credentialId: $c, until: $u, reason: $why) {
    snoozedUntil snoozeReason renewalInProgress
  }
}"""


async def test_acknowledge_and_snooze_rules(
    t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
) -> None:
    clock.freeze(AT)
    plain = await _cred(owner_engine, t, "plain")
    # the holder acknowledges (renewal in progress); a colleague cannot see it at all
    got = await gql.ok(ACK, {"c": plain, "r": True}, token=t.token("dev@t.example"))
    state = got["acknowledgeCredentialReminders"]
    assert (
        state["renewalInProgress"]
        and state["acknowledgedAt"]
        and state["expiresOn"] == "2026-09-30"
    )
    err = only_error(await gql(ACK, {"c": plain}, token=t.token("peer@t.example")))
    assert err["extensions"]["code"] == "NOT_FOUND"
    # the manager sees it but only the holder (or HR) acknowledges
    err = only_error(await gql(ACK, {"c": plain}, token=t.token("lead@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"
    # snoozing is HR's; the date must be in the future; it keeps the acknowledgement
    err = only_error(
        await gql(SNOOZE, {"c": plain, "u": "2026-08-01"}, token=t.token("dev@t.example"))
    )
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = only_error(
        await gql(SNOOZE, {"c": plain, "u": "2026-07-01"}, token=t.token("hr@t.example"))
    )
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "until"}
    got = await gql.ok(
        SNOOZE, {"c": plain, "u": "2026-08-01", "why": "leave"}, token=t.token("hr@t.example")
    )
    assert got["snoozeCredentialReminders"] == {
        "snoozedUntil": "2026-08-01",
        "snoozeReason": "leave",
        "renewalInProgress": True,
    }
    # the credential shows it (a web client's "snoozed until" badge), batched for a page
    q = "query($c: ID!) { credential(id: $c) { reminderState { snoozedUntil renewalInProgress } } }"
    got = await gql.ok(q, {"c": plain}, token=t.token("dev@t.example"))
    assert got["credential"]["reminderState"] == {
        "snoozedUntil": "2026-08-01",
        "renewalInProgress": True,
    }
    # resuming clears the acknowledgement only
    got = await gql.ok(ACK, {"c": plain, "a": False}, token=t.token("dev@t.example"))
    state = got["acknowledgeCredentialReminders"]
    assert state["acknowledgedAt"] is None and not state["renewalInProgress"]
    assert state["snoozedUntil"] == "2026-08-01"


POLICY = """mutation($i: ReminderPolicyInput!) {
  setReminderPolicy(input: $i) {
    id name credentialTypeId builtIn windowStartHour windowEndHour sendOnWeekends
    steps { offsetDays recipients channels mandatory immediate }
    watchers { email }
  }
}"""


async def test_policies_validate_and_round_trip(
    t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
) -> None:
    hr = t.token("hr@t.example")
    listed = await gql.ok("{ reminderPolicies { name builtIn steps { offsetDays } } }", token=hr)
    assert listed["reminderPolicies"][0]["builtIn"] is True
    err = only_error(await gql("{ reminderPolicies { name } }", token=t.token("dev@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"

    base = {
        "name": "Ours",
        "steps": [
            {"offsetDays": -14, "recipients": ["HOLDER"], "channels": ["IN_APP"]},
            {
                "offsetDays": 0,
                "recipients": ["MANAGER", "WATCHERS"],
                "channels": ["EMAIL", "WEBHOOK"],
                "mandatory": True,
                "immediate": True,
            },
        ],
        "watcherIds": [t.gid("peer@t.example")],
        "windowStartHour": 8,
        "windowEndHour": 12,
    }
    got = (await gql.ok(POLICY, {"i": base}, token=hr))["setReminderPolicy"]
    assert got["credentialTypeId"] is None and not got["builtIn"]
    assert [s["offsetDays"] for s in got["steps"]] == [-14, 0]
    assert got["steps"][1]["immediate"] and got["watchers"] == [{"email": "peer@t.example"}]
    cases = [
        ({"steps": []}, "input.steps"),
        ({"steps": [base["steps"][0], base["steps"][0]]}, "input.steps.1.offsetDays"),
        ({"steps": [{**base["steps"][0], "offsetDays": 9999}]}, "input.steps.0.offsetDays"),
        ({"steps": [{**base["steps"][0], "recipients": []}]}, "input.steps.0.recipients"),
        ({"windowStartHour": 12, "windowEndHour": 12}, "input.windowEndHour"),
        ({"watcherIds": [NO_SUCH_EMPLOYEE]}, "input.watcherIds.0"),
        ({"name": "  "}, "input.name"),
    ]
    for patch, field in cases:
        err = only_error(await gql(POLICY, {"i": {**base, **patch}}, token=hr))
        assert err["extensions"].get("field") == field, (patch, err)
    # nothing changed by the refused ones
    listed = await gql.ok("{ reminderPolicies { name steps { offsetDays } } }", token=hr)
    assert listed["reminderPolicies"] == [
        {"name": "Ours", "steps": [{"offsetDays": -14}, {"offsetDays": 0}]}
    ]
    deleted = await gql.ok("mutation { deleteReminderPolicy }", token=hr)
    assert deleted["deleteReminderPolicy"] is True
    listed = await gql.ok("{ reminderPolicies { builtIn } }", token=hr)
    assert listed["reminderPolicies"] == [{"builtIn": True}]


async def test_templates_validate_and_apply_to_new_notifications(
    t: TenantInfo, gql: GQL, owner_engine: AsyncEngine
) -> None:
    admin = t.token("admin@t.example")
    m = """mutation($i: NotificationTemplateInput!) {
      setNotificationTemplate(kind: REMINDER, input: $i) { kind isDefault subject }
    }"""
    bad = {"subject": "Hi $nobody", "text": "x", "html": "<p>x</p>"}
    err = only_error(await gql(m, {"i": bad}, token=admin))
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.subject"}
    err = only_error(await gql(m, {"i": bad}, token=t.token("hr@t.example")))
    assert err["extensions"]["code"] == "FORBIDDEN"
    good = {
        "subject": "Heads-up: $credential_type $when",
        "text": "Dear $recipient_name, renew at $renew_url ($tenant_name)",
        "html": "<p>Dear $recipient_name</p>",
    }
    got = await gql.ok(m, {"i": good}, token=admin)
    assert got["setNotificationTemplate"]["isDefault"] is False
    await run_pass(t.id, datetime(2026, 8, 3, 14, 30, tzinfo=UTC))  # -60 of "plain"
    body = await gql.ok(INBOX, {"first": 1}, token=t.token("dev@t.example"))
    node = body["notifications"]["edges"][0]["node"]
    assert node["subject"] == "Heads-up: Safety expires in 58 days"
    assert node["body"].startswith("Dear Dee Dev, renew at http://localhost:3000/credentials/")
    reset = await gql.ok(
        "mutation { resetNotificationTemplate(kind: REMINDER) { isDefault } }", token=admin
    )
    assert reset["resetNotificationTemplate"] == {"isDefault": True}


async def test_list_fields_do_not_grow_with_the_page(
    make_tenant: Any, gql: GQL, count_statements: Any, owner_engine: AsyncEngine
) -> None:
    """The inbox, the delivery log with attempts, and credentials with their reminder state:
    a fixed number of statements however many items the page holds."""
    from tests.credentials.test_statements import _count

    o = org()
    for i in range(12):
        o["employees"].append({"email": f"x{i}@t.example", "name": f"X {i}", "location": "Berlin"})
        o["credentials"].append(
            {
                "employee": f"x{i}@t.example",
                "credential_type": "Safety",
                "number": f"X-{i}",
                "issued_on": date(2025, 7, 20),
                "expires_on": date(2026, 7, 20),
            }
        )
    t: TenantInfo = await make_tenant(o)
    try:
        for day in (2, 3, 6, 7):  # several notifications each
            await run_pass(t.id, datetime(2026, 7, day, 7, 30, tzinfo=UTC))
    finally:
        clock.freeze(None)
    hr_id = t.ids["hr@t.example"]
    async with owner_engine.begin() as conn:  # more to list: an inbox, dead deliveries
        for i in range(8):
            await conn.execute(
                sa.text(
                    "insert into notifications (tenant_id, recipient_id, kind, idempotency_key,"
                    " subject, body, channels) values (:t, :r, 'event', :k, 's', 'b', '{in_app}')"
                ),
                {"t": t.id, "r": hr_id, "k": f"test:{i}"},
            )
        await conn.execute(
            sa.text("update deliveries set status = 'dead' where tenant_id = :t"), {"t": t.id}
        )
        await conn.execute(
            sa.text(
                "insert into delivery_attempts (tenant_id, delivery_id, error) "
                "select tenant_id, id, 'boom' from deliveries where tenant_id = :t"
            ),
            {"t": t.id},
        )
    hr = t.token("hr@t.example")
    inbox = "query($n: Int!) { notifications(first: $n) { totalCount edges { node { id subject data } } } }"
    creds = "query($n: Int!) { credentials(first: $n) { edges { node { number reminderState { snoozedUntil } } } } }"
    dead = "query($n: Int!) { failedDeliveries(first: $n) { edges { node { id attemptLog { error } } } } }"
    for q in (inbox, creds, dead):
        small = await _count(gql, count_statements, q, {"n": 1}, hr)
        large = await _count(gql, count_statements, q, {"n": 50}, hr)
        assert small == large, q
        body = await gql.ok(q, {"n": 50}, token=hr)
        assert len(next(iter(body.values()))["edges"]) > 5, q


KEY_INBOX = """query($who: ID, $unread: Boolean! = false) {
  notifications(first: 10, employeeId: $who, unreadOnly: $unread) {
    totalCount edges { node { id subject read } }
  }
  unreadNotificationCount(employeeId: $who)
}"""
KEY_MARK = """mutation($ids: [ID!]!, $who: ID) {
  markNotificationsRead(ids: $ids, employeeId: $who) { unreadCount notifications { id read } }
}"""
KEY_MARK_ALL = "mutation($who: ID) { markAllNotificationsRead(employeeId: $who) }"


async def test_an_api_key_reads_and_marks_the_inbox_it_names(
    t: TenantInfo, make_tenant: Any, gql: GQL
) -> None:
    """A chat integration catches up on a person's inbox (what `notificationAdded` missed)
    and marks it read: `employeeId` names the inbox; the person's own view is unchanged."""
    dev = t.gid("dev@t.example")
    reader = await t.api_key(["notifications:read"])
    writer = await t.api_key(["notifications:write"])
    body = await gql.ok(KEY_INBOX, {"who": dev}, token=reader)
    mine = await gql.ok(INBOX, {"first": 10}, token=t.token("dev@t.example"))
    assert body["notifications"]["totalCount"] == mine["notifications"]["totalCount"] == 1
    assert body["unreadNotificationCount"] == 1
    [edge] = body["notifications"]["edges"]
    nid = edge["node"]["id"]
    assert nid == mine["notifications"]["edges"][0]["node"]["id"]
    got = await gql.ok("query($id: ID!) { node(id: $id) { id } }", {"id": nid}, token=reader)
    assert got["node"] == {"id": nid}

    # a key must name the inbox; an id that is no employee is NOT_FOUND; a read key cannot mark
    err = only_error(await gql(KEY_INBOX, {}, token=reader))
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "employeeId"}
    err = only_error(await gql(KEY_INBOX, {"who": NO_SUCH_EMPLOYEE}, token=reader))
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "employeeId"}
    err = only_error(await gql(KEY_MARK, {"ids": [nid], "who": dev}, token=reader))
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert err["extensions"]["requiredScopes"] == ["notifications:write"]

    # marking: only notifications of the named inbox (another's id: NOT_FOUND, nothing changes)
    peer = t.gid("peer@t.example")
    err = only_error(await gql(KEY_MARK, {"ids": [nid], "who": peer}, token=writer))
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "ids.0"}
    got = await gql.ok(KEY_MARK, {"ids": [nid], "who": dev}, token=writer)
    assert got["markNotificationsRead"] == {
        "unreadCount": 0,
        "notifications": [{"id": nid, "read": True}],
    }
    mine = await gql.ok(INBOX, {"first": 10, "unread": True}, token=t.token("dev@t.example"))
    assert mine["unreadNotificationCount"] == 0
    assert (await gql.ok(KEY_MARK_ALL, {"who": dev}, token=writer)) == {
        "markAllNotificationsRead": 0
    }

    # a person passes only their own id
    body = await gql.ok(KEY_INBOX, {"who": dev}, token=t.token("dev@t.example"))
    assert body["notifications"]["totalCount"] == 1
    err = only_error(await gql(KEY_INBOX, {"who": dev}, token=t.token("peer@t.example")))
    assert err["extensions"] == {"code": "FORBIDDEN", "field": "employeeId"}

    # another tenant's key: the employee and the notification do not exist for it
    other = await make_tenant(org())
    foreign = await other.api_key(["notifications:write"])
    err = only_error(await gql(KEY_INBOX, {"who": dev}, token=foreign))
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "employeeId"}
    own_dev = other.gid("dev@t.example")
    err = only_error(await gql(KEY_MARK, {"ids": [nid], "who": own_dev}, token=foreign))
    assert err["extensions"] == {"code": "NOT_FOUND", "field": "ids.0"}
    got = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": nid}, token=foreign)
    assert error_codes(got) == ["NOT_FOUND"]
