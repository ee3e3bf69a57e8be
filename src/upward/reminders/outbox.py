"""The notification outbox: what the scan and the publishers write, in the transaction of their
cause, with unique keys (INSERT ... ON CONFLICT DO NOTHING) so a repeated message, a second
scheduler or a retried batch writes nothing twice.

- `scan_batches`: keyset pages over the tenant's credentials whose expiry lies within the
  longest ladder window, yielding batch bounds (ids only, never the rows: constant memory).
- `plan_batch`: one batch: load what the planner needs in a few statements, call the pure
  planner, write `reminders`, then `notifications` and `deliveries` for what goes out now.
- `plan_checkin_reminders`, `plan_goal_reminders`: the other subjects (check-in meetings, overdue
  IDP goals) through the same planner, reminder log and `create_notifications`
  (`write_subject_reminders`).
- `build_digests`: managers', HR's and watchers' waiting reminders become one daily digest each.
- `publish_events`: unpublished domain events become webhook deliveries, once per endpoint.
- `overdue_deliveries`: what the sweeper re-enqueues.
Actors in `workers/reminders.py` call these; delivering is `reminders.delivery`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from upward import clock
from upward.auth.principal import Principal
from upward.db import Executor, after_commit, fetch, fetchval
from upward.graphql.relay import to_global_id
from upward.reminders import templates
from upward.reminders.planner import (
    Cycle,
    Due,
    Policy,
    Recipient,
    Step,
    Subject,
    SubjectDue,
    anchor_time,
    digest_due,
    effective_channels,
    plan,
    plan_before,
    plan_subject,
    scan_range,
)
from upward.reminders.policies import load_policies
from upward.settings import get_settings

Bound = tuple[date, uuid.UUID] | None  # a keyset position (expires_on, id); None: open

# credentials that can still need a reminder: neither revoked, superseded nor rejected
_LIVE = "c.revoked_at is null and c.superseded_by_id is null and c.verification <> 'rejected'"


@dataclass(frozen=True)
class Batch:
    after: Bound  # exclusive
    until: Bound  # inclusive; None: to the end of the range
    lo: date
    hi: date


async def scan_batches(
    session: Executor, principal: Principal, *, batch_size: int | None = None
) -> AsyncIterator[Batch]:
    """The bounds of every batch of credentials the planner must see today. Reads one key per
    batch (an index-only step of `batch_size` rows), never the rows themselves."""
    settings = get_settings()
    size = batch_size or settings.reminder_batch_size
    policies = await load_policies(session)
    lo, hi = scan_range(
        policies.all, clock.today(principal.tenant_timezone), settings.reminder_catch_up_days
    )
    after: Bound = None
    while True:
        cond, args = _after_sql(after, 3)
        rows = await fetch(
            session,
            f"select c.expires_on, c.id from credentials c where c.expires_on between $1 and $2 "  # noqa: S608 - constants only
            f"and {_LIVE} {cond} order by c.expires_on, c.id offset $3 limit 1",
            lo,
            hi,
            size - 1,
            *args,
        )
        if not rows:
            yield Batch(after, None, lo, hi)
            return
        until = (rows[0]["expires_on"], rows[0]["id"])
        yield Batch(after, until, lo, hi)
        after = until


def _after_sql(after: Bound, n: int) -> tuple[str, list[Any]]:
    if after is None:
        return "", []
    return f"and (c.expires_on, c.id) > (${n + 1}, ${n + 2})", [after[0], after[1]]


@dataclass
class Planned:
    reminders: int = 0
    notifications: int = 0
    deliveries: list[uuid.UUID] | None = None
    max_lag_seconds: float = 0.0


_BATCH_SQL = f"""
select c.id, c.employee_id, c.credential_type_id, c.expires_on,
       e.name as holder_name, e.email as holder_email, e.status as holder_status,
       coalesce(e.timezone, l.timezone) as holder_tz, e.manager_id,
       m.name as manager_name, m.status as manager_status,
       coalesce(m.timezone, ml.timezone) as manager_tz,
       t.name as type_name, t.status as type_status,
       s.expires_on as state_expires_on, s.acknowledged_at, s.renewal_in_progress,
       s.snoozed_until
from credentials c
join employees e on e.tenant_id = c.tenant_id and e.id = c.employee_id
left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id
left join employees m on m.tenant_id = e.tenant_id and m.id = e.manager_id
left join locations ml on ml.tenant_id = m.tenant_id and ml.id = m.location_id
join credential_types t on t.tenant_id = c.tenant_id and t.id = c.credential_type_id
left join credential_reminder_states s
       on s.tenant_id = c.tenant_id and s.credential_id = c.id
where c.expires_on between $1 and $2 and {_LIVE}
"""  # noqa: S608 - constants only

_PEOPLE_SQL = """
select e.id, e.name, e.email, coalesce(e.timezone, l.timezone) as tz, e.roles, e.status,
       coalesce(p.email_enabled, true) as email_enabled
from employees e
left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id
left join notification_preferences p on p.tenant_id = e.tenant_id and p.employee_id = e.id
where e.status = 'active' and (e.id = any($1::uuid[]) or 'hr_admin' = any(e.roles))
"""


async def plan_batch(
    session: Executor,
    principal: Principal,
    batch: Batch,
    *,
    now: datetime | None = None,
    credential_ids: Sequence[uuid.UUID] | None = None,
) -> Planned:
    """Plan one batch and write what is due. `credential_ids` narrows it (tests, a change)."""
    now = now or clock.now()
    settings = get_settings()
    policies = await load_policies(session)
    args: list[Any] = [batch.lo, batch.hi]
    sql = _BATCH_SQL
    if batch.after is not None:
        sql += f" and (c.expires_on, c.id) > (${len(args) + 1}, ${len(args) + 2})"
        args += [batch.after[0], batch.after[1]]
    if batch.until is not None:
        sql += f" and (c.expires_on, c.id) <= (${len(args) + 1}, ${len(args) + 2})"
        args += [batch.until[0], batch.until[1]]
    if credential_ids is not None:
        sql += f" and c.id = any(${len(args) + 1}::uuid[])"
        args.append(list(credential_ids))
    rows = await fetch(session, sql, *args)
    out = Planned(deliveries=[])
    if not rows:
        return out
    sent_rows = await fetch(
        session,
        "select credential_id, expires_on, offset_days, recipient_id from reminders "
        "where credential_id = any($1::uuid[])",
        [r["id"] for r in rows],
    )
    sent: dict[tuple[uuid.UUID, date], set[tuple[int, uuid.UUID]]] = {}
    for s in sent_rows:
        sent.setdefault((s["credential_id"], s["expires_on"]), set()).add(
            (s["offset_days"], s["recipient_id"])
        )
    watcher_ids = {w for ws in policies.watchers.values() for w in ws}
    people = {
        p["id"]: p
        for p in await fetch(
            session,
            _PEOPLE_SQL,
            list(
                watcher_ids
                | {r["employee_id"] for r in rows}
                | {r["manager_id"] for r in rows if r["manager_id"] is not None}
            ),
        )
    }
    hr = [p for p in people.values() if "hr_admin" in (p["roles"] or ())]
    tenant_tz = principal.tenant_timezone
    dues: list[tuple[Due, Any]] = []
    for row in rows:
        policy, watchers = policies.for_type(row["credential_type_id"])
        state_applies = row["state_expires_on"] == row["expires_on"]
        cycle = Cycle(
            credential_id=row["id"],
            expires_on=row["expires_on"],
            active=row["holder_status"] == "active" and row["type_status"] == "active",
            holder_paused=state_applies
            and (row["acknowledged_at"] is not None or row["renewal_in_progress"]),
            snoozed_until=row["snoozed_until"] if state_applies else None,
        )
        recipients = _recipients(row, hr, watchers, people, tenant_tz)
        for due in plan(
            cycle,
            policy,
            now,
            recipients,
            sent.get((row["id"], row["expires_on"]), ()),
            catch_up_days=settings.reminder_catch_up_days,
        ):
            dues.append((due, row))
    if dues:
        tenant_name = await tenant_name_of(session, principal)
        await _write(session, principal, dues, people, now, out, tenant_name)
    return out


def _recipients(
    row: Any, hr: list[Any], watchers: Sequence[uuid.UUID], people: dict[Any, Any], tz: str
) -> list[Recipient]:
    kinds: dict[uuid.UUID, set[str]] = {row["employee_id"]: {"holder"}}
    zones: dict[uuid.UUID, str] = {row["employee_id"]: row["holder_tz"] or tz}
    if row["manager_id"] is not None and row["manager_status"] == "active":
        kinds.setdefault(row["manager_id"], set()).add("manager")
        zones[row["manager_id"]] = row["manager_tz"] or tz
    for p in hr:
        kinds.setdefault(p["id"], set()).add("hr_admins")
        zones.setdefault(p["id"], p["tz"] or tz)
    for w in watchers:
        if w in people:
            kinds.setdefault(w, set()).add("watchers")
            zones.setdefault(w, people[w]["tz"] or tz)
    return [Recipient(e, frozenset(k), zones[e]) for e, k in kinds.items()]


async def _write(
    session: Executor,
    principal: Principal,
    dues: list[tuple[Due, Any]],
    people: dict[Any, Any],
    now: datetime,
    out: Planned,
    tenant_name: str,
) -> None:
    """Reminder rows first (the unique key decides which are new), then a notification and
    its deliveries for each new non-digest reminder, and a `reminder.sent` event where the step
    asks for the webhook channel."""
    inserted = await fetch(
        session,
        """
        insert into reminders (tenant_id, subject_id, anchor_at, credential_id, expires_on,
                               offset_days, recipient_id, recipient_kinds, channels, mandatory,
                               digest, due_at, created_at)
        select current_setting('app.tenant_id')::uuid, x.c, x.e::timestamp at time zone 'UTC',
               x.c, x.e, x.o, x.r,
               string_to_array(x.k, ','), string_to_array(x.ch, ','), x.m, x.d, x.at, $10
        from unnest($1::uuid[], $2::date[], $3::int[], $4::uuid[], $5::text[], $6::text[],
                    $7::bool[], $8::bool[], $9::timestamptz[]) as x(c, e, o, r, k, ch, m, d, at)
        on conflict (tenant_id, credential_id, expires_on, offset_days, recipient_id) do nothing
        returning id, credential_id, offset_days, recipient_id
        """,
        [d.credential_id for d, _ in dues],
        [d.expires_on for d, _ in dues],
        [d.offset_days for d, _ in dues],
        [d.recipient_id for d, _ in dues],
        [",".join(sorted(d.kinds)) for d, _ in dues],
        [",".join(sorted(d.channels)) for d, _ in dues],
        [d.mandatory for d, _ in dues],
        [d.digest for d, _ in dues],
        [d.due_at for d, _ in dues],
        now,
    )
    out.reminders = len(inserted)
    new = {(r["credential_id"], r["offset_days"], r["recipient_id"]): r["id"] for r in inserted}
    messages: list[NewNotification] = []
    events: list[tuple[Due, Any]] = []
    for due, row in dues:
        rid = new.get((due.credential_id, due.offset_days, due.recipient_id))
        if rid is None:
            continue
        out.max_lag_seconds = max(out.max_lag_seconds, (now - due.due_at).total_seconds())
        if "webhook" in due.channels:
            events.append((due, row))
        if due.digest:
            continue
        person = people.get(due.recipient_id)
        if person is None and due.recipient_id != row["employee_id"]:
            continue
        email_enabled = person["email_enabled"] if person is not None else True
        channels = effective_channels(
            due.channels - {"webhook"}, mandatory=due.mandatory, email_enabled=email_enabled
        )
        if not channels:
            continue
        context = reminder_context(
            due,
            row,
            recipient_name=(person["name"] if person is not None else row["holder_name"]),
            tenant_name=tenant_name,
            today=now.astimezone(clock.zone(_tz_of(due, row, people, principal))).date(),
        )
        messages.append(
            NewNotification(
                recipient_id=due.recipient_id,
                kind="reminder",
                key=due.key,
                template_kind="reminder",
                context=context,
                data={
                    "credential_id": str(due.credential_id),
                    "expires_on": due.expires_on.isoformat(),
                    "offset_days": due.offset_days,
                    "recipient_kinds": sorted(due.kinds),
                },
                channels=channels,
                reminder_ids=[rid],
            )
        )
    if messages:
        created = await create_notifications(session, messages)
        out.notifications = len(created.notification_ids)
        assert out.deliveries is not None
        out.deliveries += created.delivery_ids
    if events:
        await _record_reminder_events(session, events)


def _tz_of(due: Due, row: Any, people: dict[Any, Any], principal: Principal) -> str:
    if due.recipient_id == row["employee_id"]:
        return row["holder_tz"] or principal.tenant_timezone
    person = people.get(due.recipient_id)
    if due.recipient_id == row["manager_id"]:
        return row["manager_tz"] or principal.tenant_timezone
    return (person["tz"] if person is not None else None) or principal.tenant_timezone


async def tenant_name_of(session: Executor, principal: Principal) -> str:
    rows = await fetch(session, "select name from tenants where id = $1", principal.tenant_id)
    return rows[0]["name"] if rows else principal.tenant_slug


def reminder_context(
    due: Due, row: Any, *, recipient_name: str, today: date, tenant_name: str
) -> dict[str, Any]:
    settings = get_settings()
    base = settings.web_url.rstrip("/")
    return {
        "recipient_name": recipient_name,
        "holder_name": row["holder_name"],
        "whose": "Your" if "holder" in due.kinds else f"{row['holder_name']}'s",
        "credential_type": row["type_name"],
        "expires_on": due.expires_on.isoformat(),
        "when": templates.when_phrase((due.expires_on - today).days),
        "renew_url": f"{base}/credentials/{to_global_id('Credential', due.credential_id)}",
        "inbox_url": f"{base}/notifications",
        "tenant_name": tenant_name,
    }


async def _record_reminder_events(session: Executor, events: list[tuple[Due, Any]]) -> None:
    await events_recorded(session)
    await fetch(
        session,
        """
        insert into domain_events (tenant_id, kind, subject_type, subject_id, idempotency_key,
                                   occurred_at, payload)
        select current_setting('app.tenant_id')::uuid, 'reminder.sent', 'Credential', x.c,
               'reminder.sent:' || x.k, clock_timestamp(), x.p::jsonb
        from unnest($1::uuid[], $2::text[], $3::text[]) as x(c, k, p)
        on conflict (tenant_id, idempotency_key) do nothing
        """,
        [d.credential_id for d, _ in events],
        [d.key for d, _ in events],
        [
            json.dumps(
                {
                    "credential_id": str(d.credential_id),
                    "employee_id": str(row["employee_id"]),
                    "credential_type_id": str(row["credential_type_id"]),
                    "expires_on": d.expires_on.isoformat(),
                    "offset_days": d.offset_days,
                    "recipient_id": str(d.recipient_id),
                    "recipient_kinds": sorted(d.kinds),
                    "digest": d.digest,
                }
            )
            for d, row in events
        ],
    )


# --- reminders of other subjects (check-ins, IDP goals) -----------------------------------


@dataclass
class SubjectMessage:
    """A reminder the planner found due for a non-credential subject, with what its message
    needs: the template kind and its values, the inbox data, the recipient's email choice."""

    due: SubjectDue
    template_kind: str
    context: dict[str, Any]
    data: dict[str, Any]
    email_enabled: bool = True


async def sent_for_subjects(
    session: Executor, kind: str, ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, datetime], set[tuple[int, uuid.UUID]]]:
    """{(subject id, anchor time): {(offset, recipient)}} already recorded: one statement."""
    if not ids:
        return {}
    rows = await fetch(
        session,
        "select subject_id, anchor_at, offset_days, recipient_id from reminders "
        "where credential_id is null and subject_type = $1 and subject_id = any($2::uuid[])",
        kind,
        list(ids),
    )
    out: dict[tuple[uuid.UUID, datetime], set[tuple[int, uuid.UUID]]] = {}
    for r in rows:
        out.setdefault((r["subject_id"], r["anchor_at"]), set()).add(
            (r["offset_days"], r["recipient_id"])
        )
    return out


async def write_subject_reminders(
    session: Executor, messages: Sequence[SubjectMessage], *, now: datetime | None = None
) -> Planned:
    """Record the reminders (the unique subject key decides which are new: a second scan or a
    redelivered message inserts nothing), then one notification with its deliveries for each
    new one, through `create_notifications` like every other message."""
    now = now or clock.now()
    out = Planned(deliveries=[])
    if not messages:
        return out
    dues = [m.due for m in messages]
    inserted = await fetch(
        session,
        """
        insert into reminders (tenant_id, subject_type, subject_id, anchor_at, offset_days,
                               recipient_id, recipient_kinds, channels, mandatory, digest,
                               due_at, created_at)
        select current_setting('app.tenant_id')::uuid, x.st, x.s, x.a, x.o, x.r,
               string_to_array(x.k, ','), string_to_array(x.ch, ','), x.m, false, x.at, $10
        from unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::int[], $5::uuid[],
                    $6::text[], $7::text[], $8::bool[], $9::timestamptz[])
             as x(st, s, a, o, r, k, ch, m, at)
        on conflict (tenant_id, subject_type, subject_id, anchor_at, offset_days, recipient_id)
           where credential_id is null do nothing
        returning id, subject_type, subject_id, anchor_at, offset_days, recipient_id
        """,
        [d.subject_kind for d in dues],
        [d.subject_id for d in dues],
        [d.anchor_at for d in dues],
        [d.offset_days for d in dues],
        [d.recipient_id for d in dues],
        [",".join(sorted(d.kinds)) for d in dues],
        [",".join(sorted(d.channels)) for d in dues],
        [d.mandatory for d in dues],
        [d.due_at for d in dues],
        now,
    )
    out.reminders = len(inserted)
    cols = ("subject_type", "subject_id", "anchor_at", "offset_days", "recipient_id")
    new = {tuple(r[c] for c in cols): r["id"] for r in inserted}
    items: list[NewNotification] = []
    for m in messages:
        d = m.due
        rid = new.get((d.subject_kind, d.subject_id, d.anchor_at, d.offset_days, d.recipient_id))
        if rid is None:
            continue
        out.max_lag_seconds = max(out.max_lag_seconds, (now - d.due_at).total_seconds())
        channels = effective_channels(
            d.channels - {"webhook"}, mandatory=d.mandatory, email_enabled=m.email_enabled
        )
        if not channels:
            continue
        items.append(
            NewNotification(
                recipient_id=d.recipient_id,
                kind="reminder",
                key=d.key,
                template_kind=m.template_kind,
                context=m.context,
                data=m.data,
                channels=channels,
                reminder_ids=[rid],
            )
        )
    if items:
        created = await create_notifications(session, items)
        out.notifications = len(created.notification_ids)
        assert out.deliveries is not None
        out.deliveries += created.delivery_ids
    return out


# check-ins: a reminder `remind_minutes_before` each scheduled meeting of an active series
_CHECKIN_SQL = """
select c.id, c.occurs_at, s.title, s.manager_id, s.report_id, s.remind_minutes_before
from checkins c
join checkin_series s on s.tenant_id = c.tenant_id and s.id = c.series_id
where c.status = 'scheduled' and s.status = 'active' and s.remind_minutes_before > 0
  and c.occurs_at > $1 and c.occurs_at <= $1 + interval '10080 minutes'
  and c.occurs_at - make_interval(mins => s.remind_minutes_before) <= $1
order by c.occurs_at, c.id
"""


async def plan_checkin_reminders(
    session: Executor, principal: Principal, *, now: datetime | None = None
) -> Planned:
    """Remind both participants of every meeting whose reminder time has come and that has
    not started: one statement for the meetings (the time index bounds it to the coming week),
    one for the people, one for what was sent, then the writes."""
    now = now or clock.now()
    rows = await fetch(session, _CHECKIN_SQL, now)
    if not rows:
        return Planned(deliveries=[])
    people = await _people_of(
        session, {r["manager_id"] for r in rows} | {r["report_id"] for r in rows}
    )
    sent = await sent_for_subjects(session, "checkin", [r["id"] for r in rows])
    tenant_name = await tenant_name_of(session, principal)
    base = get_settings().web_url.rstrip("/")
    tz_default = principal.tenant_timezone
    messages: list[SubjectMessage] = []
    for r in rows:
        pair = {
            r["manager_id"]: ("manager", r["report_id"]),
            r["report_id"]: ("report", r["manager_id"]),
        }
        recipients = [
            Recipient(e, frozenset({kind}), people[e]["tz"] or tz_default)
            for e, (kind, _) in pair.items()
            if e in people
        ]
        done = {who for _, who in sent.get((r["id"], r["occurs_at"]), ())}
        for due in plan_before(
            "checkin",
            r["id"],
            r["occurs_at"],
            r["remind_minutes_before"],
            now,
            recipients,
            done,
        ):
            me = people[due.recipient_id]
            other = pair[due.recipient_id][1]
            local = r["occurs_at"].astimezone(clock.zone(me["tz"] or tz_default))
            minutes = int((r["occurs_at"] - now).total_seconds() // 60)
            messages.append(
                SubjectMessage(
                    due=due,
                    template_kind="checkin_reminder",
                    context={
                        "recipient_name": me["name"],
                        "with_name": people[other]["name"] if other in people else "",
                        "title": r["title"],
                        "starts_at": local.strftime("%a %d %b %Y, %H:%M")
                        + f" ({me['tz'] or tz_default})",
                        "when": templates.soon_phrase(minutes),
                        "checkin_url": f"{base}/check-ins/{to_global_id('CheckIn', r['id'])}",
                        "inbox_url": f"{base}/notifications",
                        "tenant_name": tenant_name,
                    },
                    data={
                        "checkin_id": str(r["id"]),
                        "occurs_at": r["occurs_at"].isoformat(),
                        "recipient_kinds": sorted(due.kinds),
                    },
                    email_enabled=me["email_enabled"],
                )
            )
    return await write_subject_reminders(session, messages, now=now)


async def _people_of(session: Executor, ids: set[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Active people among `ids`, with their zone and email choice."""
    rows = await fetch(
        session,
        "select e.id, e.name, coalesce(e.timezone, l.timezone) as tz, "
        "coalesce(p.email_enabled, true) as email_enabled from employees e "
        "left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id "
        "left join notification_preferences p "
        "on p.tenant_id = e.tenant_id and p.employee_id = e.id "
        "where e.status = 'active' and e.id = any($1::uuid[])",
        list(ids),
    )
    return {r["id"]: r for r in rows}


# overdue IDP goals: a day after the due date to the owner, a week after to them and their
# manager (at once, not in a digest), in each recipient's send window
GOAL_STEPS: tuple[Step, ...] = (
    Step(1, frozenset({"owner"}), frozenset({"in_app", "email"})),
    Step(7, frozenset({"owner", "manager"}), frozenset({"in_app", "email"}), immediate=True),
)
GOAL_BATCH = 1000

_GOALS_SQL = """
select g.id, g.title, g.due_on, g.plan_id, p.employee_id, e.name as owner_name, e.manager_id
from plan_goals g
join development_plans p on p.tenant_id = g.tenant_id and p.id = g.plan_id
join employees e on e.tenant_id = p.tenant_id and e.id = p.employee_id
where g.due_on between $1 and $2 and g.status not in ('completed', 'cancelled')
  and p.status in ('approved', 'in_progress') and e.status = 'active'
  and (g.due_on, g.id) > ($3, $4)
order by g.due_on, g.id
limit $5
"""


async def plan_goal_reminders(
    session: Executor, principal: Principal, *, now: datetime | None = None
) -> Planned:
    """Overdue goals (not completed or cancelled, in an approved or in-progress plan, owner
    employed) through the ladder planner, in keyset pages: a new due date is a new cycle."""
    now = now or clock.now()
    settings = get_settings()
    window = (await load_policies(session)).default.window
    policy = Policy(steps=GOAL_STEPS, window=window)
    lo, hi = scan_range(
        [policy], clock.today(principal.tenant_timezone), settings.reminder_catch_up_days
    )
    total = Planned(deliveries=[])
    after: tuple[date, uuid.UUID] = (date.min, uuid.UUID(int=0))
    tenant_name = ""
    base = settings.web_url.rstrip("/")
    while True:
        rows = await fetch(session, _GOALS_SQL, lo, hi, after[0], after[1], GOAL_BATCH)
        if not rows:
            break
        after = (rows[-1]["due_on"], rows[-1]["id"])
        people = await _people_of(
            session,
            {r["employee_id"] for r in rows}
            | {r["manager_id"] for r in rows if r["manager_id"] is not None},
        )
        sent = await sent_for_subjects(session, "plan_goal", [r["id"] for r in rows])
        messages: list[SubjectMessage] = []
        for r in rows:
            kinds = {r["employee_id"]: "owner"}
            if r["manager_id"] is not None:
                kinds[r["manager_id"]] = "manager"
            recipients = [
                Recipient(e, frozenset({k}), people[e]["tz"] or principal.tenant_timezone)
                for e, k in kinds.items()
                if e in people
            ]
            subject = Subject("plan_goal", r["id"], r["due_on"])
            for due in plan_subject(
                subject,
                policy,
                now,
                recipients,
                sent.get((r["id"], anchor_time(r["due_on"])), ()),
                catch_up_days=settings.reminder_catch_up_days,
            ):
                me = people[due.recipient_id]
                tz = me["tz"] or principal.tenant_timezone
                late = (now.astimezone(clock.zone(tz)).date() - r["due_on"]).days
                owner = "owner" in due.kinds
                tenant_name = tenant_name or await tenant_name_of(session, principal)
                messages.append(
                    SubjectMessage(
                        due=due,
                        template_kind="goal_overdue",
                        context={
                            "recipient_name": me["name"],
                            "owner_name": r["owner_name"],
                            "whose": "Your" if owner else f"{r['owner_name']}'s",
                            "goal_title": r["title"],
                            "due_on": r["due_on"].isoformat(),
                            "when": templates.due_phrase(max(late, 1)),
                            "plan_url": f"{base}/development/plans/"
                            f"{to_global_id('DevelopmentPlan', r['plan_id'])}",
                            "inbox_url": f"{base}/notifications",
                            "tenant_name": tenant_name,
                        },
                        data={
                            "goal_id": str(r["id"]),
                            "plan_id": str(r["plan_id"]),
                            "due_on": r["due_on"].isoformat(),
                            "offset_days": due.offset_days,
                            "recipient_kinds": sorted(due.kinds),
                        },
                        email_enabled=me["email_enabled"],
                    )
                )
        planned = await write_subject_reminders(session, messages, now=now)
        total.reminders += planned.reminders
        total.notifications += planned.notifications
        total.max_lag_seconds = max(total.max_lag_seconds, planned.max_lag_seconds)
        assert total.deliveries is not None
        total.deliveries += planned.deliveries or []
        if len(rows) < GOAL_BATCH:
            break
    return total


# --- notifications and their deliveries ----------------------------------------------------


@dataclass
class NewNotification:
    recipient_id: uuid.UUID
    kind: str  # reminder | digest | event
    key: str
    template_kind: str
    context: dict[str, Any]
    data: dict[str, Any]
    channels: frozenset[str]
    reminder_ids: list[uuid.UUID]
    rendered: tuple[str, str] | None = None  # (subject, body) written by code: no template


@dataclass
class Created:
    notification_ids: list[uuid.UUID]
    delivery_ids: list[uuid.UUID]


async def create_notifications(session: Executor, items: Sequence[NewNotification]) -> Created:
    """Insert notifications (subject and body rendered now, from the tenant's template), link
    their reminders, and insert one delivery per channel; all keyed, all set-based."""
    overrides = await load_templates(
        session, {i.template_kind for i in items if i.rendered is None}
    )
    subjects, bodies, datas = [], [], []
    for item in items:
        if item.rendered is not None:
            subjects.append(item.rendered[0])
            bodies.append(item.rendered[1])
        else:
            rendered = templates.render(
                item.template_kind,
                overrides.get(item.template_kind) or templates.DEFAULTS[item.template_kind],
                item.context,
            )
            subjects.append(rendered.subject)
            bodies.append(rendered.text)
        # the email is rendered from the same template (or sends this text: `rendered`)
        template = None if item.rendered is not None else item.template_kind
        datas.append(json.dumps({**item.data, "context": item.context, "template": template}))
    rows = await fetch(
        session,
        """
        insert into notifications (tenant_id, recipient_id, kind, idempotency_key, subject, body,
                                   data, channels, created_at)
        select current_setting('app.tenant_id')::uuid, x.r, x.kind, x.k, x.s, x.b, x.d::jsonb,
               string_to_array(x.ch, ','), $8
        from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::text[]) as x(r, kind, k, s, b, d, ch)
        on conflict (tenant_id, idempotency_key) do nothing
        returning id, idempotency_key, tenant_id
        """,
        [i.recipient_id for i in items],
        [i.kind for i in items],
        [i.key for i in items],
        subjects,
        bodies,
        datas,
        [",".join(sorted(i.channels)) for i in items],
        clock.now(),
    )
    by_key = {r["idempotency_key"]: r["id"] for r in rows}
    if rows:
        _publish_live(session, rows[0]["tenant_id"], items, by_key)
    links: list[tuple[uuid.UUID, uuid.UUID]] = []
    deliveries: list[tuple[uuid.UUID, str]] = []
    for item in items:
        nid = by_key.get(item.key)
        if nid is None:
            continue
        links += [(rid, nid) for rid in item.reminder_ids]
        deliveries += [(nid, ch) for ch in sorted(item.channels) if ch in ("in_app", "email")]
    if links:
        await fetch(
            session,
            "update reminders r set notification_id = x.n "
            "from unnest($1::uuid[], $2::uuid[]) as x(r, n) "
            "where r.id = x.r and r.notification_id is null",
            [r for r, _ in links],
            [n for _, n in links],
        )
    delivery_ids: list[uuid.UUID] = []
    if deliveries:
        created = await fetch(
            session,
            """
            insert into deliveries (tenant_id, channel, notification_id, idempotency_key,
                                    next_attempt_at, created_at, updated_at)
            select current_setting('app.tenant_id')::uuid, x.ch, x.n, x.ch || ':' || x.n,
                   $3, $3, $3
            from unnest($1::uuid[], $2::text[]) as x(n, ch)
            on conflict (tenant_id, idempotency_key) do nothing
            returning id
            """,
            [n for n, _ in deliveries],
            [c for _, c in deliveries],
            clock.now(),
        )
        delivery_ids = [r["id"] for r in created]
    return Created(list(by_key.values()), delivery_ids)


# the live inbox (notificationAdded): `<namespace>:live:<tenant>:inbox:<recipient>`
LIVE_TOPIC = "inbox"


def _publish_live(
    session: Executor,
    tenant_id: uuid.UUID,
    items: Sequence[NewNotification],
    by_key: dict[str, uuid.UUID],
) -> None:
    """Every new in-app notification is announced to its recipient's live inbox once the
    transaction commits. This is the one place notifications are written, by requests and
    workers alike (reminders, digests, event notes, recognition, mobility alerts)."""
    from upward.graphql import live

    new = {
        item.key: item.recipient_id
        for item in items
        if item.key in by_key and "in_app" in item.channels
    }
    live.publish_after_commit(
        session,
        tenant_id,
        LIVE_TOPIC,
        [(who, {"k": "notification", "id": str(by_key[k])}) for k, who in new.items()],
    )


@dataclass
class EventNote:
    """A message about something a person did (a plan submitted, a mentorship accepted...):
    text written by the code, in-app and by email unless the recipient opted out of email."""

    recipient_id: uuid.UUID
    key: str  # idempotency: the same key is written once
    subject: str
    body: str
    data: dict[str, Any]
    channels: frozenset[str] = frozenset({"in_app", "email"})


async def notify_people(
    session: Executor, tenant_id: uuid.UUID, notes: Sequence[EventNote]
) -> Created:
    """Write event notifications for active recipients (email per their preference) and send
    their deliveries once the transaction commits (the sweeper catches a lost message)."""
    if not notes:
        return Created([], [])
    rows = await fetch(
        session,
        "select e.id, coalesce(p.email_enabled, true) as email_enabled from employees e "
        "left join notification_preferences p on p.tenant_id = e.tenant_id "
        "and p.employee_id = e.id where e.id = any($1::uuid[]) and e.status = 'active'",
        list({n.recipient_id for n in notes}),
    )
    email_ok = {r["id"]: r["email_enabled"] for r in rows}
    items = [
        NewNotification(
            recipient_id=n.recipient_id,
            kind="event",
            key=n.key,
            template_kind="event",
            context={},
            data=n.data,
            channels=effective_channels(
                n.channels, mandatory=False, email_enabled=email_ok[n.recipient_id]
            ),
            reminder_ids=[],
            rendered=(n.subject, n.body),
        )
        for n in notes
        if n.recipient_id in email_ok
    ]
    created = await create_notifications(session, items) if items else Created([], [])
    if created.delivery_ids:
        ids = list(created.delivery_ids)

        def enqueue() -> None:
            from workers.reminders import enqueue_deliveries

            enqueue_deliveries(tenant_id, ids)

        after_commit(session, enqueue)
    return created


async def load_templates(session: Executor, kinds: set[str]) -> dict[str, templates.Template]:
    if not kinds:
        return {}
    rows = await fetch(
        session,
        "select kind, subject, text_body, html_body from notification_templates "
        "where kind = any($1::text[])",
        sorted(kinds),
    )
    return {
        r["kind"]: templates.Template(
            subject=r["subject"], text=r["text_body"], html=r["html_body"]
        )
        for r in rows
    }


# --- digests -------------------------------------------------------------------------------

_DIGEST_WAITING_SQL = f"""
select r.id, r.recipient_id, r.credential_id, r.expires_on, r.offset_days, r.channels,
       r.mandatory, r.recipient_kinds,
       e.name as recipient_name, coalesce(e.timezone, l.timezone) as tz, e.status,
       coalesce(p.email_enabled, true) as email_enabled,
       h.name as holder_name, t.name as type_name,
       ({_LIVE} and c.expires_on = r.expires_on and h.status = 'active'
        and t.status = 'active') as live,
       case when s.expires_on = r.expires_on then s.snoozed_until end as snoozed_until
from reminders r
join employees e on e.tenant_id = r.tenant_id and e.id = r.recipient_id
left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id
left join notification_preferences p on p.tenant_id = e.tenant_id and p.employee_id = e.id
join credentials c on c.tenant_id = r.tenant_id and c.id = r.credential_id
join employees h on h.tenant_id = c.tenant_id and h.id = c.employee_id
join credential_types t on t.tenant_id = c.tenant_id and t.id = c.credential_type_id
left join credential_reminder_states s on s.tenant_id = c.tenant_id and s.credential_id = c.id
where r.digest and r.notification_id is null
order by r.recipient_id, c.expires_on, r.id
"""  # noqa: S608 - constants only


async def build_digests(
    session: Executor, principal: Principal, *, now: datetime | None = None
) -> Created:
    """One digest per recipient and local day, listing every reminder waiting for it, once the
    recipient's send window (the tenant default policy's) has been open `digest_delay_minutes`.
    Reminders that arrive after the day's digest went out wait for the next one. A waiting
    reminder that no longer holds is deleted, not listed: its credential was renewed, revoked,
    re-dated or snoozed meanwhile, or its holder or recipient left (after a snooze the planner
    sends the latest due step again)."""
    now = now or clock.now()
    settings = get_settings()
    window = (await load_policies(session)).default.window
    rows = await fetch(session, _DIGEST_WAITING_SQL)
    by_recipient: dict[uuid.UUID, list[Any]] = {}
    for r in rows:
        by_recipient.setdefault(r["recipient_id"], []).append(r)
    items: list[NewNotification] = []
    base = settings.web_url.rstrip("/")
    tenant_name = await tenant_name_of(session, principal) if by_recipient else ""
    stale: list[uuid.UUID] = []
    for recipient_id, waiting in by_recipient.items():
        first = waiting[0]
        tz = first["tz"] or principal.tenant_timezone
        day = now.astimezone(clock.zone(tz)).date()
        if first["status"] != "active":
            stale += [w["id"] for w in waiting]
            continue
        live = []
        for w in waiting:
            snoozed = w["snoozed_until"] is not None and day < w["snoozed_until"]
            if w["live"] and not snoozed:
                live.append(w)
            else:
                stale.append(w["id"])
        if not live or not digest_due(now, tz, window, settings.digest_delay_minutes):
            continue
        listed = [
            {
                "holder_name": w["holder_name"],
                "credential_type": w["type_name"],
                "expires_on": w["expires_on"].isoformat(),
                "when": templates.when_phrase((w["expires_on"] - day).days),
                "url": f"{base}/credentials/{to_global_id('Credential', w['credential_id'])}",
            }
            for w in live
        ]
        channels: set[str] = set()
        for w in live:
            channels |= effective_channels(
                set(w["channels"]) - {"webhook"},
                mandatory=w["mandatory"],
                email_enabled=w["email_enabled"],
            )
        if not channels:
            channels = {"in_app"}
        items.append(
            NewNotification(
                recipient_id=recipient_id,
                kind="digest",
                key=f"digest:{recipient_id}:{day.isoformat()}",
                template_kind="digest",
                context={
                    "recipient_name": first["recipient_name"],
                    "count": str(len(listed)),
                    "date": day.isoformat(),
                    "items_text": templates.items_text(listed),
                    "items_html": templates.items_html(listed),
                    "inbox_url": f"{base}/notifications",
                    "tenant_name": tenant_name,
                },
                data={
                    "date": day.isoformat(),
                    "items": [
                        {"credential_id": str(w["credential_id"]), "offset_days": w["offset_days"]}
                        for w in live
                    ],
                },
                channels=frozenset(channels),
                reminder_ids=[w["id"] for w in live],
            )
        )
    if stale:
        await fetch(
            session,
            "delete from reminders where id = any($1::uuid[]) and notification_id is null",
            stale,
        )
    if not items:
        return Created([], [])
    return await create_notifications(session, items)


# --- domain events -> webhook deliveries -----------------------------------------------------


async def publish_events(session: Executor, *, limit: int = 500) -> tuple[int, list[uuid.UUID]]:
    """Turn up to `limit` unpublished domain events into webhook deliveries (one per active
    endpoint subscribed to the event's type) and mark them published. Returns (events,
    new delivery ids). Rows are locked (SKIP LOCKED): two publishers split the work."""
    events = await fetch(
        session,
        "select id, kind, subject_id, payload from domain_events where published_at is null "
        "order by occurred_at, id limit $1 for update skip locked",
        limit,
    )
    if not events:
        return 0, []
    endpoints = await fetch(session, "select id, event_types from webhook_endpoints where active")
    pairs: list[tuple[uuid.UUID, uuid.UUID]] = []
    for ev in events:
        for ep in endpoints:
            if subscribed(ep["event_types"], ev["kind"]):
                pairs.append((ev["id"], ep["id"]))
    ids: list[uuid.UUID] = []
    if pairs:
        rows = await fetch(
            session,
            """
            insert into deliveries (tenant_id, channel, event_id, endpoint_id, idempotency_key,
                                    next_attempt_at, created_at, updated_at)
            select current_setting('app.tenant_id')::uuid, 'webhook', x.ev, x.ep,
                   'webhook:' || x.ev || ':' || x.ep, $3, $3, $3
            from unnest($1::uuid[], $2::uuid[]) as x(ev, ep)
            on conflict (tenant_id, idempotency_key) do nothing
            returning id
            """,
            [e for e, _ in pairs],
            [p for _, p in pairs],
            clock.now(),
        )
        ids = [r["id"] for r in rows]
    ids += await _notify_holders(session, events)
    from workers.mobility import after_events  # the matching workers react to the same events

    await after_events(session, events)
    from upward.recognition import milestones  # milestones, written with the events published

    await milestones.after_events(session, events)
    await fetch(
        session,
        "update domain_events set published_at = $2 where id = any($1::uuid[])",
        [e["id"] for e in events],
        clock.now(),
    )
    return len(events), ids


# events a holder hears about in their inbox (what HR decided about their credential)
HOLDER_EVENTS = {
    "credential.verified": ("was verified", None),
    "credential.rejected": ("was rejected", "rejection_reason"),
    "credential.revoked": ("was revoked", "revoke_reason"),
}


async def _notify_holders(session: Executor, events: Sequence[Any]) -> list[uuid.UUID]:
    """An in-app notification to the holder for each HOLDER_EVENTS event (once per event)."""
    # a person's decision, not a bulk load (an import or a manifest vouching for its rows)
    wanted = [
        e
        for e in events
        if e["kind"] in HOLDER_EVENTS
        and (e["payload"] or {}).get("source") not in ("import", "manifest")
    ]
    if not wanted:
        return []
    rows = await fetch(
        session,
        "select c.id, c.employee_id, c.rejection_reason, c.revoke_reason, t.name as type_name "
        "from credentials c join employees e on e.tenant_id = c.tenant_id and e.id = c.employee_id "
        "join credential_types t on t.tenant_id = c.tenant_id and t.id = c.credential_type_id "
        "where c.id = any($1::uuid[]) and e.status = 'active'",
        [e["subject_id"] for e in wanted],
    )
    creds = {r["id"]: r for r in rows}
    items: list[NewNotification] = []
    for e in wanted:
        c = creds.get(e["subject_id"])
        if c is None:
            continue
        phrase, reason_key = HOLDER_EVENTS[e["kind"]]
        subject = f"Your {c['type_name']} {phrase}"
        reason = (e["payload"] or {}).get("reason") or (c[reason_key] if reason_key else None)
        body = f"{subject}{': ' + reason if reason else '.'}"
        items.append(
            NewNotification(
                recipient_id=c["employee_id"],
                kind="event",
                key=f"event:{e['id']}",
                template_kind="event",
                context={},
                data={"credential_id": str(c["id"]), "event": e["kind"]},
                channels=frozenset({"in_app"}),
                reminder_ids=[],
                rendered=(subject, body),
            )
        )
    return (await create_notifications(session, items)).delivery_ids if items else []


def subscribed(event_types: Sequence[str], kind: str) -> bool:
    """`*` is every event; `credential.*` every event of a family; else the exact type."""
    for t in event_types:
        if t == "*" or t == kind or (t.endswith(".*") and kind.startswith(t[:-1])):
            return True
    return False


# --- the sweeper ----------------------------------------------------------------------------


async def overdue_deliveries(
    session: Executor, *, older_than_seconds: int, limit: int = 1000
) -> list[uuid.UUID]:
    """Pending deliveries due for longer than the sweep timeout (their message was lost, or
    their worker died): push their next attempt to now so they are not swept again before the
    timeout, and return them for re-enqueueing."""
    cutoff = clock.now() - timedelta(seconds=older_than_seconds)
    rows = await fetch(
        session,
        """
        update deliveries d set next_attempt_at = $2, updated_at = $2
        where d.id in (select id from deliveries where status = 'pending'
                       and next_attempt_at <= $1 order by next_attempt_at limit $3
                       for update skip locked)
        returning d.id
        """,
        cutoff,
        clock.now(),
        limit,
    )
    return [r["id"] for r in rows]


def kick_event_publisher(tenant_id: uuid.UUID) -> None:
    """Ask a worker to publish the tenant's new domain events now (after a commit); the
    scheduler's minute tick publishes anything a lost kick left behind."""
    from workers.reminders import publish_events

    publish_events.send(str(tenant_id))


_KICK = "upward.kick_event_publisher"


async def events_recorded(session: Executor, tenant_id: uuid.UUID | None = None) -> None:
    """Called where domain events are written: once the transaction commits, the publisher
    is kicked (once per transaction, however many events). Without `tenant_id`, the
    transaction's tenant."""
    current = (
        session.sync_connection if isinstance(session, AsyncConnection) else session.sync_session
    ).get_transaction()
    if session.info.get(_KICK) is current:
        return
    session.info[_KICK] = current
    if tenant_id is None:
        tenant_id = uuid.UUID(await fetchval(session, "select current_setting('app.tenant_id')"))
    tid = tenant_id
    after_commit(session, lambda: kick_event_publisher(tid))
