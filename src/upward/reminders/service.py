"""Rules for what people do with reminders and notifications: the inbox, preferences,
acknowledging and snoozing a credential's reminders, reminder policies, templates, and the
deliveries that died. Resolvers and actors share them; they never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, after_commit, fetch
from upward.errors import BadUserInput, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.validation import optional_text, require_text
from upward.reminders import templates
from upward.reminders.models import (
    CredentialReminderState,
    Delivery,
    Notification,
    NotificationPreference,
    NotificationTemplate,
    ReminderPolicy,
)
from upward.reminders.policies import step_to_json, validate_steps, validate_window

t_notification = Notification.__table__
t_pref = NotificationPreference.__table__
t_state = CredentialReminderState.__table__
t_policy = ReminderPolicy.__table__
t_template = NotificationTemplate.__table__
t_delivery = Delivery.__table__

MAX_SNOOZE_DAYS = 366

INBOX_ORDER = Order(
    key="notifications:time_desc",
    columns=(t_notification.c.created_at, t_notification.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)
DEAD_ORDER = Order(
    key="deliveries:dead_desc",
    columns=(t_delivery.c.updated_at, t_delivery.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


def _me(principal: Principal) -> uuid.UUID:
    if principal.employee_id is None:
        raise Forbidden("the inbox belongs to a person: sign in as an employee")
    return principal.employee_id


# --- the inbox ------------------------------------------------------------------------------


async def list_notifications(
    session: Executor,
    principal: Principal,
    *,
    unread_only: bool,
    page: PageArgs,
    with_count: bool = False,
    employee_id: uuid.UUID | None = None,
) -> Page:
    """An in-app inbox, newest first: the viewer's, or the employee an API key names."""
    owner = await inbox_owner(session, principal, employee_id)
    conds = [
        t_notification.c.recipient_id == owner,
        sa.literal("in_app") == sa.func.any(t_notification.c.channels),
    ]
    if unread_only:
        conds.append(t_notification.c.read_at.is_(None))
    stmt = sa.select(t_notification).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_notification).where(*conds)
    return await paginate(session, stmt, INBOX_ORDER, page, count_stmt=count, with_count=with_count)


async def unread_count(
    session: Executor, principal: Principal, employee_id: uuid.UUID | None = None
) -> int:
    owner = await inbox_owner(session, principal, employee_id)
    rows = await fetch(
        session,
        "select count(*) from notifications where recipient_id = $1 and read_at is null "
        "and 'in_app' = any(channels)",
        owner,
    )
    return int(rows[0][0])


async def mark_read(
    session: Executor,
    principal: Principal,
    ids: Sequence[uuid.UUID],
    *,
    field: str = "ids",
    employee_id: uuid.UUID | None = None,
) -> list[Any]:
    """Mark notifications of an inbox read (the viewer's, or the one a key names; already read
    ones keep their time). An id that is not in that inbox refuses the whole call (NOT_FOUND,
    nothing changes)."""
    owner = await inbox_owner(session, principal, employee_id)
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > 100:
        raise BadUserInput("at most 100 ids at a time", field=field)
    rows = (
        await session.execute(
            sa.select(t_notification.c.id).where(
                t_notification.c.id.in_(wanted), t_notification.c.recipient_id == owner
            )
        )
    ).all()
    found = {r.id for r in rows}
    for i, nid in enumerate(wanted):
        if nid not in found:
            raise NotFound("no notification with this id", field=f"{field}.{i}")
    if wanted:
        await session.execute(
            sa.update(t_notification)
            .where(t_notification.c.id.in_(wanted), t_notification.c.read_at.is_(None))
            .values(read_at=clock.now())
        )
    return list(
        (
            await session.execute(
                sa.select(t_notification)
                .where(t_notification.c.id.in_(wanted))
                .order_by(t_notification.c.created_at.desc(), t_notification.c.id.desc())
            )
        ).all()
    )


async def mark_all_read(
    session: Executor, principal: Principal, employee_id: uuid.UUID | None = None
) -> int:
    owner = await inbox_owner(session, principal, employee_id)
    result = await session.execute(
        sa.update(t_notification)
        .where(
            t_notification.c.recipient_id == owner,
            t_notification.c.read_at.is_(None),
            sa.literal("in_app") == sa.func.any(t_notification.c.channels),
        )
        .values(read_at=clock.now())
    )
    return result.rowcount or 0


async def get_notifications(
    session: Executor, principal: Principal, ids: list[uuid.UUID]
) -> list[Any]:
    """Notifications by id: a person's own; for an API key, any of its tenant's."""
    stmt = sa.select(t_notification).where(t_notification.c.id.in_(ids))
    if principal.kind != "service":
        stmt = stmt.where(t_notification.c.recipient_id == _me(principal))
    return list((await session.execute(stmt)).all())


# --- the inbox, live (notificationAdded) ----------------------------------------------------


async def inbox_owner(
    session: Executor, principal: Principal, employee_id: uuid.UUID | None
) -> uuid.UUID:
    """Whose inbox a request reads or a live subscription follows. A person reads their own
    (the id of another employee is FORBIDDEN); an API key names the employee (required). An id
    that is no employee of the tenant is NOT_FOUND, as one that never existed."""
    if principal.kind == "user":
        me = _me(principal)
        if employee_id is None or employee_id == me:
            return me
        if await _employee_exists(session, employee_id):
            raise Forbidden("you can follow only your own inbox", field="employeeId")
        raise NotFound("no employee with this id", field="employeeId")
    if employee_id is None:
        raise BadUserInput(
            "an API key names the employee whose inbox it follows", field="employeeId"
        )
    if not await _employee_exists(session, employee_id):
        raise NotFound("no employee with this id", field="employeeId")
    return employee_id


async def _employee_exists(session: Executor, employee_id: uuid.UUID) -> bool:
    return bool(await fetch(session, "select 1 from employees where id = $1", employee_id))


async def inbox_notification(
    session: Executor, principal: Principal, owner_id: uuid.UUID, notification_id: uuid.UUID
) -> Any | None:
    """A notification of `owner_id`'s in-app inbox, as the inbox lists it; None when it is not
    in that inbox (a message about another row, or one whose transaction rolled back)."""
    if principal.kind == "user" and principal.employee_id != owner_id:
        raise Forbidden("you can follow only your own inbox", field="employeeId")
    row = (
        await session.execute(
            sa.select(t_notification).where(
                t_notification.c.id == notification_id,
                t_notification.c.recipient_id == owner_id,
                sa.literal("in_app") == sa.func.any(t_notification.c.channels),
            )
        )
    ).first()
    return row


# --- preferences ----------------------------------------------------------------------------


async def get_preferences(session: Executor, principal: Principal) -> dict[str, Any]:
    me = _me(principal)
    row = (await session.execute(sa.select(t_pref).where(t_pref.c.employee_id == me))).first()
    return {"email_enabled": row.email_enabled if row is not None else True}


async def set_preferences(
    session: Executor, principal: Principal, *, email_enabled: bool
) -> dict[str, Any]:
    me = _me(principal)
    before = await get_preferences(session, principal)
    stmt = pg_insert(t_pref).values(
        tenant_id=principal.tenant_id, employee_id=me, email_enabled=email_enabled
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "employee_id"],
            set_={"email_enabled": email_enabled, "updated_at": clock.now()},
        )
    )
    after = {"email_enabled": email_enabled}
    await audit.record(
        session,
        principal,
        action="notification_preferences.update",
        target_type="Employee",
        target_id=me,
        changes=audit.diff(before, after),
    )
    return after


# --- acknowledging and snoozing a credential's reminders ------------------------------------

_CREDENTIAL_SQL = """
select c.id, c.employee_id, c.expires_on, c.revoked_at, c.superseded_by_id, e.manager_id
from credentials c join employees e on e.tenant_id = c.tenant_id and e.id = c.employee_id
where c.id = $1
"""


async def _credential_for(
    session: Executor, principal: Principal, credential_id: uuid.UUID, *, field: str
) -> Any:
    rows = await fetch(session, _CREDENTIAL_SQL, credential_id)
    if not rows:
        raise NotFound("no credential with this id", field=field)
    row = rows[0]
    mine = row["employee_id"] == principal.employee_id
    line = principal.employee_id is not None and row["manager_id"] == principal.employee_id
    if not (mine or line or principal.is_hr):
        raise NotFound("no credential with this id", field=field)
    if row["expires_on"] is None:
        raise BadUserInput("this credential does not expire: it has no reminders", field=field)
    if row["revoked_at"] is not None or row["superseded_by_id"] is not None:
        raise BadUserInput(
            "this credential was revoked or renewed: it has no reminders", field=field
        )
    return row


async def get_state(session: Executor, credential_id: uuid.UUID, expires_on: date | None) -> Any:
    """The reminder state of the credential's current cycle (None: not paused)."""
    row = (
        await session.execute(sa.select(t_state).where(t_state.c.credential_id == credential_id))
    ).first()
    if row is None or row.expires_on != expires_on:
        return None
    return row


async def _upsert_state(
    session: Executor, principal: Principal, row: Any, values: dict[str, Any]
) -> Any:
    """Write the state for the credential's current cycle; a state left from an earlier expiry
    date is replaced, not merged (a new cycle starts unpaused)."""
    fresh = {
        "acknowledged_at": None,
        "acknowledged_by": None,
        "renewal_in_progress": False,
        "snoozed_until": None,
        "snoozed_by": None,
        "snooze_reason": None,
    }
    current = await get_state(session, row["id"], row["expires_on"])
    base = fresh if current is None else {k: getattr(current, k) for k in fresh}
    merged = {**base, **values}
    stmt = pg_insert(t_state).values(
        tenant_id=principal.tenant_id,
        credential_id=row["id"],
        expires_on=row["expires_on"],
        **merged,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "credential_id"],
            set_={"expires_on": row["expires_on"], "updated_at": clock.now(), **merged},
        )
    )
    await audit.record(
        session,
        principal,
        action="credential.reminders",
        target_type="Credential",
        target_id=row["id"],
        changes=audit.diff(base, merged),
    )
    return await get_state(session, row["id"], row["expires_on"])


async def acknowledge(
    session: Executor,
    principal: Principal,
    credential_id: uuid.UUID,
    *,
    acknowledged: bool = True,
    renewal_in_progress: bool = False,
) -> Any:
    """The holder says "I know" (or "renewal in progress"): their own reminders stop for this
    expiry date; their manager's and HR's escalations continue. `acknowledged=False` resumes."""
    row = await _credential_for(session, principal, credential_id, field="credentialId")
    if row["employee_id"] != principal.employee_id and not principal.is_hr:
        raise Forbidden("only the holder (or HR) acknowledges a credential's reminders")
    values: dict[str, Any] = {
        "acknowledged_at": clock.now() if acknowledged else None,
        "acknowledged_by": principal.employee_id if acknowledged else None,
        "renewal_in_progress": acknowledged and renewal_in_progress,
    }
    return await _upsert_state(session, principal, row, values)


async def snooze(
    session: Executor,
    principal: Principal,
    credential_id: uuid.UUID,
    *,
    until: date | None,
    reason: str | None = None,
) -> Any:
    """HR pauses every reminder of the credential until a date (null: resume now)."""
    principal.require_hr("snoozing a credential's reminders")
    row = await _credential_for(session, principal, credential_id, field="credentialId")
    today = clock.today(principal.tenant_timezone)
    if until is not None:
        if until <= today:
            raise BadUserInput("must be a date after today", field="until")
        if until > today + timedelta(days=MAX_SNOOZE_DAYS):
            raise BadUserInput(f"at most {MAX_SNOOZE_DAYS} days from today", field="until")
    values = {
        "snoozed_until": until,
        "snoozed_by": principal.employee_id if until else None,
        "snooze_reason": optional_text(reason, field="reason", max_len=500) if until else None,
    }
    return await _upsert_state(session, principal, row, values)


# --- policies -------------------------------------------------------------------------------


async def list_policies(session: Executor, principal: Principal) -> list[Any]:
    principal.require_hr("reading reminder policies")
    stmt = sa.select(t_policy).order_by(
        t_policy.c.credential_type_id.is_not(None), t_policy.c.name, t_policy.c.id
    )
    return list((await session.execute(stmt)).all())


async def set_policy(
    session: Executor,
    principal: Principal,
    *,
    credential_type_id: uuid.UUID | None,
    name: str,
    steps: Sequence[dict[str, Any]],
    watcher_ids: Sequence[uuid.UUID] = (),
    window_start_hour: int = 9,
    window_end_hour: int = 18,
    send_on_weekends: bool = False,
    audit_action: str = "reminder_policy.set",
) -> Any:
    """Create or replace the policy of a credential type (None: the tenant default)."""
    principal.require_hr("changing reminder policies")
    name = require_text(name, field="input.name", max_len=200)
    parsed = validate_steps(steps)
    validate_window(window_start_hour, window_end_hour)
    if credential_type_id is not None:
        found = await fetch(
            session, "select 1 from credential_types where id = $1", credential_type_id
        )
        if not found:
            raise NotFound("no credential type with this id", field="input.credentialTypeId")
    watchers = list(dict.fromkeys(watcher_ids))
    if len(watchers) > 50:
        raise BadUserInput("at most 50 watchers", field="input.watcherIds")
    if watchers:
        found_ids = {
            r["id"]
            for r in await fetch(
                session, "select id from employees where id = any($1::uuid[])", watchers
            )
        }
        for i, w in enumerate(watchers):
            if w not in found_ids:
                raise NotFound("no employee with this id", field=f"input.watcherIds.{i}")
    values = {
        "name": name,
        "steps": [step_to_json(s) for s in parsed],
        "watcher_ids": watchers,
        "window_start_hour": window_start_hour,
        "window_end_hour": window_end_hour,
        "send_on_weekends": send_on_weekends,
    }
    existing = await _policy_row(session, credential_type_id)
    if existing is None:
        result = await session.execute(
            sa.insert(t_policy)
            .values(tenant_id=principal.tenant_id, credential_type_id=credential_type_id, **values)
            .returning(t_policy)
        )
    else:
        result = await session.execute(
            sa.update(t_policy)
            .where(t_policy.c.id == existing.id)
            .values(**values, updated_at=clock.now())
            .returning(t_policy)
        )
    row = result.one()
    before = {k: getattr(existing, k) for k in values} if existing is not None else {}
    await audit.record(
        session,
        principal,
        action=audit_action,
        target_type="ReminderPolicy",
        target_id=row.id,
        changes=audit.diff(before, values),
    )
    return row


async def _policy_row(session: Executor, credential_type_id: uuid.UUID | None) -> Any:
    cond = (
        t_policy.c.credential_type_id.is_(None)
        if credential_type_id is None
        else t_policy.c.credential_type_id == credential_type_id
    )
    return (await session.execute(sa.select(t_policy).where(cond))).first()


async def delete_policy(
    session: Executor, principal: Principal, *, credential_type_id: uuid.UUID | None
) -> bool:
    """Remove a type's override (it follows the default again) or the tenant default (the
    built-in ladder applies)."""
    principal.require_hr("changing reminder policies")
    existing = await _policy_row(session, credential_type_id)
    if existing is None:
        raise NotFound("no reminder policy for this credential type", field="credentialTypeId")
    await session.execute(sa.delete(t_policy).where(t_policy.c.id == existing.id))
    await audit.record(
        session,
        principal,
        action="reminder_policy.delete",
        target_type="ReminderPolicy",
        target_id=existing.id,
    )
    return True


# --- templates ------------------------------------------------------------------------------


async def list_templates(session: Executor, principal: Principal) -> list[tuple[str, Any, bool]]:
    """(kind, template, is_default) for every kind: the tenant's override or the default."""
    principal.require_tenant_admin("reading notification templates")
    rows = {r.kind: r for r in (await session.execute(sa.select(t_template))).all()}
    out = []
    for kind in templates.TEMPLATE_KINDS:
        r = rows.get(kind)
        if r is None:
            out.append((kind, templates.DEFAULTS[kind], True))
        else:
            out.append((kind, templates.Template(r.subject, r.text_body, r.html_body), False))
    return out


async def set_template(
    session: Executor,
    principal: Principal,
    *,
    kind: str,
    template: templates.Template | None,
) -> None:
    """Override a kind's template (validated: unknown placeholders are refused), or with
    None go back to the default."""
    principal.require_tenant_admin("changing notification templates")
    if kind not in templates.TEMPLATE_KINDS:
        raise BadUserInput(
            f"kind must be one of {', '.join(templates.TEMPLATE_KINDS)}", field="kind"
        )
    if template is None:
        await session.execute(sa.delete(t_template).where(t_template.c.kind == kind))
    else:
        templates.validate(kind, template, field="input")
        values = {
            "subject": template.subject,
            "text_body": template.text,
            "html_body": template.html,
            "updated_by": principal.employee_id,
        }
        stmt = pg_insert(t_template).values(tenant_id=principal.tenant_id, kind=kind, **values)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "kind"], set_={**values, "updated_at": clock.now()}
            )
        )
    await audit.record(
        session,
        principal,
        action="notification_template.reset" if template is None else "notification_template.set",
        target_type="NotificationTemplate",
        target_id=None,
        changes={"kind": kind},
    )


# --- deliveries that died -------------------------------------------------------------------


async def list_failed_deliveries(
    session: Executor,
    principal: Principal,
    *,
    channel: str | None,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    principal.require_hr("reading failed deliveries")
    conds = [t_delivery.c.status == "dead"]
    if channel is not None:
        conds.append(t_delivery.c.channel == channel)
    if not principal.is_tenant_admin:  # webhooks are the tenant admin's (and only they retry)
        conds.append(t_delivery.c.channel != "webhook")
    stmt = sa.select(t_delivery).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_delivery).where(*conds)
    return await paginate(session, stmt, DEAD_ORDER, page, count_stmt=count, with_count=with_count)


async def retry_delivery(
    session: Executor, principal: Principal, delivery_id: uuid.UUID, *, field: str = "id"
) -> Any:
    """A dead or cancelled in-app or email delivery goes back to pending with a fresh retry
    budget (a sent one is refused: it arrived). Webhook deliveries are the tenant admin's, and
    go through `integrations.service.redeliver` (which also sends a sent one again)."""
    principal.require_hr("retrying deliveries")
    row = await get_delivery(session, principal, delivery_id, field=field)
    if row.channel == "webhook":
        from upward.integrations.service import redeliver

        return await redeliver(session, principal, delivery_id)
    if row.status == "pending":
        return row
    if row.status == "sent":
        raise BadUserInput("this delivery was sent; it is not retried", field=field)
    return await requeue(session, principal, row, action="delivery.retry")


async def requeue(session: Executor, principal: Principal, row: Any, *, action: str) -> Any:
    """Put a delivery back to pending now with a fresh retry budget (its attempt log stays),
    audit it as `action`, and enqueue it once the transaction commits."""
    now = clock.now()
    updated = (
        await session.execute(
            sa.update(t_delivery)
            .where(t_delivery.c.id == row.id)
            .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
            .returning(t_delivery)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action=action,
        target_type="Delivery",
        target_id=row.id,
        changes={"status": {"from": row.status, "to": "pending"}},
    )
    tenant_id, delivery_id = principal.tenant_id, row.id
    after_commit(session, lambda: enqueue_delivery(tenant_id, [delivery_id]))
    return updated


async def get_delivery(
    session: Executor, principal: Principal, delivery_id: uuid.UUID, *, field: str = "id"
) -> Any:
    """A delivery HR may see (webhook ones: tenant admins only), or NOT_FOUND."""
    rows = await deliveries_by_ids(session, principal, [delivery_id])
    if not rows:
        raise NotFound("no delivery with this id", field=field)
    return rows[0]


async def deliveries_by_ids(
    session: Executor, principal: Principal, ids: list[uuid.UUID]
) -> list[Any]:
    if not principal.is_hr:
        return []
    stmt = sa.select(t_delivery).where(t_delivery.c.id.in_(ids))
    if not principal.is_tenant_admin:
        stmt = stmt.where(t_delivery.c.channel != "webhook")
    return list((await session.execute(stmt)).all())


def enqueue_delivery(tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> None:
    from workers.reminders import enqueue_deliveries

    enqueue_deliveries(tenant_id, ids)
