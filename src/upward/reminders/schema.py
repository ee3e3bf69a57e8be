"""GraphQL for the notification inbox, preferences, credential reminder states, reminder
policies, templates and failed deliveries: thin resolvers over reminders.service."""

from __future__ import annotations

import asyncio
import enum
import uuid
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from upward.graphql.lazy import Lazy
from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    optional_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection
from upward.people.loaders import viewer_of
from upward.people.schema import Employee, _load_employee
from upward.reminders import service, templates
from upward.reminders.planner import DEFAULT_STEPS
from upward.reminders.policies import step_to_json


@strawberry.enum
class NotificationKind(enum.Enum):
    REMINDER = "reminder"
    DIGEST = "digest"
    EVENT = "event"


@strawberry.enum
class NotificationChannel(enum.Enum):
    IN_APP = "in_app"
    EMAIL = "email"
    WEBHOOK = "webhook"


@strawberry.enum
class ReminderRecipient(enum.Enum):
    HOLDER = "holder"
    MANAGER = "manager"
    HR_ADMINS = "hr_admins"
    WATCHERS = "watchers"


@strawberry.enum
class DeliveryStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"


@strawberry.enum
class NotificationTemplateKind(enum.Enum):
    REMINDER = "reminder"
    DIGEST = "digest"
    CHECKIN_REMINDER = "checkin_reminder"
    GOAL_OVERDUE = "goal_overdue"


# --- the inbox ------------------------------------------------------------------------------


@strawberry.type(description="A message in a person's in-app inbox.")
class Notification(Node):
    id: strawberry.ID
    kind: NotificationKind
    subject: str
    body: str = strawberry.field(description="Plain text.")
    data: JSON = strawberry.field(
        description="What it is about: credential id, expiry, ladder step; a digest's items."
    )
    channels: list[NotificationChannel]
    created_at: datetime
    read_at: datetime | None

    @strawberry.field
    def read(self) -> bool:
        return self.read_at is not None


# ids in a notification's data, shown as global ids
_DATA_IDS = (
    ("credential_id", "Credential"),
    ("checkin_id", "CheckIn"),
    ("goal_id", "PlanGoal"),
    ("plan_id", "DevelopmentPlan"),
)


def notification_obj(row: Any) -> Notification:
    data = dict(row.data or {})
    data.pop("context", None)  # the template's inputs, not the client's business
    for key, type_name in _DATA_IDS:
        if data.get(key):
            data[key] = to_global_id(type_name, uuid.UUID(data[key]))
    for item in data.get("items") or []:
        if item.get("credential_id"):
            item["credential_id"] = to_global_id("Credential", uuid.UUID(item["credential_id"]))
    return Notification(
        id=to_global_id("Notification", row.id),
        kind=NotificationKind(row.kind),
        subject=row.subject,
        body=row.body,
        data=data,
        channels=[NotificationChannel(c) for c in row.channels if c in ("in_app", "email")],
        created_at=row.created_at,
        read_at=row.read_at,
    )


@register_node("Notification")
async def _notification_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    p = ctx.require_principal()
    async with ctx.session() as s:
        rows = await service.get_notifications(s, p, ids)
    return {r.id: notification_obj(r) for r in rows}


@strawberry.type
class MarkNotificationsReadPayload:
    notifications: list[Notification]
    unread_count: int


@strawberry.type
class NotificationPreferences:
    email_enabled: bool = strawberry.field(
        description="Email copies of notifications (steps a policy marks mandatory still email)."
    )


@strawberry.input
class NotificationPreferencesInput:
    email_enabled: bool


# --- reminder state of a credential ---------------------------------------------------------


@strawberry.type(description="What pauses a credential's reminders in its current cycle.")
class CredentialReminderState:
    credential_id: strawberry.ID
    expires_on: date
    acknowledged_at: datetime | None = strawberry.field(
        description="The holder acknowledged: their own reminders stop; escalations continue."
    )
    renewal_in_progress: bool
    snoozed_until: date | None = strawberry.field(
        description="HR snoozed every reminder until this date."
    )
    snooze_reason: str | None


def state_obj(credential_id: uuid.UUID, row: Any) -> CredentialReminderState:
    return CredentialReminderState(
        credential_id=to_global_id("Credential", credential_id),
        expires_on=row.expires_on,
        acknowledged_at=row.acknowledged_at,
        renewal_in_progress=row.renewal_in_progress,
        snoozed_until=row.snoozed_until,
        snooze_reason=row.snooze_reason,
    )


# --- policies -------------------------------------------------------------------------------


@strawberry.type(description="One rung of a reminder ladder.")
class ReminderStep:
    offset_days: int = strawberry.field(
        description="Days relative to expiry: negative before, 0 on the day, positive after."
    )
    recipients: list[ReminderRecipient]
    channels: list[NotificationChannel]
    mandatory: bool = strawberry.field(description="Ignores recipients' email opt-outs.")
    immediate: bool = strawberry.field(
        description="Managers, HR and watchers get it at once instead of in their daily digest."
    )


@strawberry.input
class ReminderStepInput:
    offset_days: int
    recipients: list[ReminderRecipient]
    channels: list[NotificationChannel]
    mandatory: bool = False
    immediate: bool = False


@strawberry.type(
    description="A ladder of reminder steps for a credential type, or the tenant default."
)
class ReminderPolicy:
    id: strawberry.ID | None = strawberry.field(description="Null for the built-in default.")
    name: str
    credential_type_id: strawberry.ID | None = strawberry.field(
        description="Null: the tenant default, followed by types without a policy."
    )
    steps: list[ReminderStep]
    watchers: list[Employee]
    window_start_hour: int = strawberry.field(description="Send window start, recipient's time.")
    window_end_hour: int
    send_on_weekends: bool
    built_in: bool = strawberry.field(description="The built-in ladder (no policy stored).")


def _steps(raw: list[dict[str, Any]]) -> list[ReminderStep]:
    return [
        ReminderStep(
            offset_days=s["offset_days"],
            recipients=[ReminderRecipient(r) for r in s["recipients"]],
            channels=[NotificationChannel(c) for c in s["channels"]],
            mandatory=s.get("mandatory", False),
            immediate=s.get("immediate", False),
        )
        for s in sorted(raw, key=lambda s: s["offset_days"])
    ]


def policy_obj(ctx: Any, viewer: Any, row: Any) -> ReminderPolicy:
    watcher_ids = list(row.watcher_ids or [])

    async def watchers() -> list[Any]:
        got = await asyncio.gather(*(_load_employee(ctx, viewer, w) for w in watcher_ids))
        return [w for w in got if w is not None]

    return ReminderPolicy(
        id=to_global_id("ReminderPolicy", row.id),
        name=row.name,
        credential_type_id=to_global_id("CredentialType", row.credential_type_id)
        if row.credential_type_id
        else None,
        steps=_steps(row.steps),
        watchers=Lazy(watchers),  # type: ignore[arg-type]
        window_start_hour=row.window_start_hour,
        window_end_hour=row.window_end_hour,
        send_on_weekends=row.send_on_weekends,
        built_in=False,
    )


BUILT_IN = ReminderPolicy(
    id=None,
    name="Built-in default",
    credential_type_id=None,
    steps=_steps([step_to_json(s) for s in DEFAULT_STEPS]),
    watchers=[],
    window_start_hour=9,
    window_end_hour=18,
    send_on_weekends=False,
    built_in=True,
)


@strawberry.input
class ReminderPolicyInput:
    credential_type_id: strawberry.ID | None = strawberry.field(
        default=None, description="Null: the tenant default."
    )
    name: str
    steps: list[ReminderStepInput]
    watcher_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    window_start_hour: int = 9
    window_end_hour: int = 18
    send_on_weekends: bool = False


# --- templates ------------------------------------------------------------------------------


@strawberry.type(description="The subject and bodies of one kind of message.")
class NotificationTemplate:
    kind: NotificationTemplateKind
    subject: str
    text: str
    html: str
    is_default: bool
    placeholders: list[str] = strawberry.field(description="`$name` values it may use.")


def template_obj(kind: str, tpl: templates.Template, is_default: bool) -> NotificationTemplate:
    return NotificationTemplate(
        kind=NotificationTemplateKind(kind),
        subject=tpl.subject,
        text=tpl.text,
        html=tpl.html,
        is_default=is_default,
        placeholders=sorted(templates.PLACEHOLDERS[kind]),
    )


@strawberry.input
class NotificationTemplateInput:
    subject: str
    text: str
    html: str


# --- deliveries -----------------------------------------------------------------------------


@strawberry.type(description="One try at a delivery.")
class DeliveryAttempt:
    attempted_at: datetime
    status_code: int | None = strawberry.field(description="The HTTP status (webhooks).")
    error: str | None
    duration_ms: int | None
    response_snippet: str | None = strawberry.field(description="The receiver's first 4 KB.")


@strawberry.type(description="A notification over one channel, or an event to one webhook.")
class Delivery(Node):
    id: strawberry.ID
    channel: NotificationChannel
    status: DeliveryStatus
    attempts: int = strawberry.field(description="Tries since it was created or last retried.")
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime
    notification_id: strawberry.ID | None
    endpoint_id: strawberry.ID | None
    event_id: strawberry.ID | None
    attempt_log: list[DeliveryAttempt] = strawberry.field(description="Oldest first.")


def delivery_obj(ctx: Any, row: Any) -> Delivery:
    did = row.id

    async def log() -> list[DeliveryAttempt]:
        from upward.integrations.loaders import attempts_loader

        rows = await attempts_loader(ctx).load(did)
        return [
            DeliveryAttempt(
                attempted_at=r.attempted_at,
                status_code=r.status_code,
                error=r.error,
                duration_ms=r.duration_ms,
                response_snippet=r.response_snippet,
            )
            for r in rows
        ]

    return Delivery(
        id=to_global_id("Delivery", row.id),
        channel=NotificationChannel(row.channel),
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        sent_at=row.sent_at,
        created_at=row.created_at,
        notification_id=to_global_id("Notification", row.notification_id)
        if row.notification_id
        else None,
        endpoint_id=to_global_id("WebhookEndpoint", row.endpoint_id) if row.endpoint_id else None,
        event_id=str(row.event_id) if row.event_id else None,
        attempt_log=Lazy(log),  # type: ignore[arg-type]
    )


@register_node("Delivery")
async def _delivery_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    p = ctx.require_principal()
    async with ctx.session() as s:
        rows = await service.deliveries_by_ids(s, p, ids)
    return {r.id: delivery_obj(ctx, r) for r in rows}


PAGE_DOC = "Relay pagination: `first` (at most 100) with `after`, or `last` with `before`."
INBOX_DOC = (
    " An API key (`notifications:read`; `:write` to mark) names the employee whose inbox it "
    "means with `employeeId` (required for keys; a person may pass only their own: FORBIDDEN "
    "otherwise; NOT_FOUND for an id that is no employee)."
)


@strawberry.type
class RemindersQuery:
    @strawberry.field(
        description="Your in-app notifications, newest first. " + PAGE_DOC + INBOX_DOC
    )
    async def notifications(
        self,
        info: Info,
        unread_only: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        employee_id: strawberry.ID | None = None,
    ) -> Connection[Notification]:
        ctx = info.context
        p = ctx.require_principal()
        owner = optional_global_id(employee_id, "Employee", field="employeeId")
        args = page_args(
            ctx, service.INBOX_ORDER, first=first, after=after, last=last, before=before
        )
        async with ctx.session() as s:
            page = await service.list_notifications(
                s,
                p,
                unread_only=unread_only,
                page=args,
                with_count=wants_total(Selection(info)),
                employee_id=owner,
            )
        return build_connection(ctx, page, service.INBOX_ORDER, notification_obj)

    @strawberry.field(description="How many of your in-app notifications are unread." + INBOX_DOC)
    async def unread_notification_count(
        self, info: Info, employee_id: strawberry.ID | None = None
    ) -> int:
        ctx = info.context
        p = ctx.require_principal()
        owner = optional_global_id(employee_id, "Employee", field="employeeId")
        async with ctx.session() as s:
            return await service.unread_count(s, p, owner)

    @strawberry.field(description="Your notification preferences.")
    async def notification_preferences(self, info: Info) -> NotificationPreferences:
        ctx = info.context
        p = ctx.require_principal()
        async with ctx.session() as s:
            prefs = await service.get_preferences(s, p)
        return NotificationPreferences(email_enabled=prefs["email_enabled"])

    @strawberry.field(
        description="The tenant default reminder ladder first (the built-in one if none is "
        "stored), then each credential type's own (hr_admin, tenant_admin)."
    )
    async def reminder_policies(self, info: Info) -> list[ReminderPolicy]:
        ctx = info.context
        p = ctx.require_principal()
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            rows = await service.list_policies(s, p)
        out = [policy_obj(ctx, viewer, r) for r in rows]
        if not any(r.credential_type_id is None for r in rows):
            out.insert(0, BUILT_IN)
        return out

    @strawberry.field(description="Message templates, the tenant's or the default (tenant_admin).")
    async def notification_templates(self, info: Info) -> list[NotificationTemplate]:
        ctx = info.context
        p = ctx.require_principal()
        async with ctx.session() as s:
            rows = await service.list_templates(s, p)
        return [template_obj(k, t, d) for k, t, d in rows]

    @strawberry.field(
        description="Deliveries that failed for good (dead), newest first (hr_admin, "
        "tenant_admin). " + PAGE_DOC
    )
    async def failed_deliveries(
        self,
        info: Info,
        channel: NotificationChannel | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Delivery]:
        ctx = info.context
        p = ctx.require_principal()
        args = page_args(
            ctx, service.DEAD_ORDER, first=first, after=after, last=last, before=before
        )
        async with ctx.session() as s:
            page = await service.list_failed_deliveries(
                s,
                p,
                channel=channel.value if channel else None,
                page=args,
                with_count=wants_total(Selection(info)),
            )
        return build_connection(ctx, page, service.DEAD_ORDER, lambda r: delivery_obj(ctx, r))


def _ids(values: list[strawberry.ID], type_name: str, field: str) -> list[uuid.UUID]:
    return [expect_global_id(v, type_name, field=f"{field}.{i}") for i, v in enumerate(values)]


@strawberry.type
class RemindersMutation:
    @strawberry.mutation(
        description="Mark some of your notifications read (at most 100)." + INBOX_DOC
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID], employee_id: strawberry.ID | None = None
    ) -> MarkNotificationsReadPayload:
        raw = _ids(ids, "Notification", "ids")
        owner = optional_global_id(employee_id, "Employee", field="employeeId")
        async with info.context.mutation() as (s, p):
            rows = await service.mark_read(s, p, raw, employee_id=owner)
            unread = await service.unread_count(s, p, owner)
        return MarkNotificationsReadPayload(
            notifications=[notification_obj(r) for r in rows], unread_count=unread
        )

    @strawberry.mutation(
        description="Mark all your notifications read; returns how many." + INBOX_DOC
    )
    async def mark_all_notifications_read(
        self, info: Info, employee_id: strawberry.ID | None = None
    ) -> int:
        owner = optional_global_id(employee_id, "Employee", field="employeeId")
        async with info.context.mutation() as (s, p):
            return await service.mark_all_read(s, p, owner)

    @strawberry.mutation(description="Change your notification preferences.")
    async def set_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput
    ) -> NotificationPreferences:
        async with info.context.mutation() as (s, p):
            prefs = await service.set_preferences(s, p, email_enabled=input.email_enabled)
        return NotificationPreferences(email_enabled=prefs["email_enabled"])

    @strawberry.mutation(
        description="The holder acknowledges a credential's reminders (optionally: renewal in "
        "progress): their own reminders stop for this expiry date, escalations to the manager "
        "and HR continue. `acknowledged: false` resumes them. A renewal starts a new cycle."
    )
    async def acknowledge_credential_reminders(
        self,
        info: Info,
        credential_id: strawberry.ID,
        renewal_in_progress: bool = False,
        acknowledged: bool = True,
    ) -> CredentialReminderState:
        raw = expect_global_id(credential_id, "Credential", field="credentialId")
        async with info.context.mutation() as (s, p):
            row = await service.acknowledge(
                s, p, raw, acknowledged=acknowledged, renewal_in_progress=renewal_in_progress
            )
        return state_obj(raw, row)

    @strawberry.mutation(
        description="HR pauses every reminder of a credential until a date (null resumes)."
    )
    async def snooze_credential_reminders(
        self,
        info: Info,
        credential_id: strawberry.ID,
        until: date | None,
        reason: str | None = None,
    ) -> CredentialReminderState:
        raw = expect_global_id(credential_id, "Credential", field="credentialId")
        async with info.context.mutation() as (s, p):
            row = await service.snooze(s, p, raw, until=until, reason=reason)
        return state_obj(raw, row)

    @strawberry.mutation(
        description="Create or replace the reminder policy of a credential type, or the tenant "
        "default (hr_admin, tenant_admin)."
    )
    async def set_reminder_policy(self, info: Info, input: ReminderPolicyInput) -> ReminderPolicy:
        ctx = info.context
        type_id = (
            expect_global_id(
                input.credential_type_id, "CredentialType", field="input.credentialTypeId"
            )
            if input.credential_type_id
            else None
        )
        watchers = _ids(input.watcher_ids, "Employee", "input.watcherIds")
        steps = [
            {
                "offset_days": st.offset_days,
                "recipients": [r.value for r in st.recipients],
                "channels": [c.value for c in st.channels],
                "mandatory": st.mandatory,
                "immediate": st.immediate,
            }
            for st in input.steps
        ]
        async with ctx.mutation() as (s, p):
            row = await service.set_policy(
                s,
                p,
                credential_type_id=type_id,
                name=input.name,
                steps=steps,
                watcher_ids=watchers,
                window_start_hour=input.window_start_hour,
                window_end_hour=input.window_end_hour,
                send_on_weekends=input.send_on_weekends,
            )
        viewer = await viewer_of(ctx)
        return policy_obj(ctx, viewer, row)

    @strawberry.mutation(
        description="Remove a type's policy (it follows the default again) or, with null, the "
        "tenant default (the built-in ladder applies)."
    )
    async def delete_reminder_policy(
        self, info: Info, credential_type_id: strawberry.ID | None = None
    ) -> bool:
        type_id = (
            expect_global_id(credential_type_id, "CredentialType", field="credentialTypeId")
            if credential_type_id
            else None
        )
        async with info.context.mutation() as (s, p):
            return await service.delete_policy(s, p, credential_type_id=type_id)

    @strawberry.mutation(description="Override a message template (tenant_admin).")
    async def set_notification_template(
        self, info: Info, kind: NotificationTemplateKind, input: NotificationTemplateInput
    ) -> NotificationTemplate:
        tpl = templates.Template(subject=input.subject, text=input.text, html=input.html)
        async with info.context.mutation() as (s, p):
            await service.set_template(s, p, kind=kind.value, template=tpl)
        return template_obj(kind.value, tpl, False)

    @strawberry.mutation(description="Go back to the default template of a kind (tenant_admin).")
    async def reset_notification_template(
        self, info: Info, kind: NotificationTemplateKind
    ) -> NotificationTemplate:
        async with info.context.mutation() as (s, p):
            await service.set_template(s, p, kind=kind.value, template=None)
        return template_obj(kind.value, templates.DEFAULTS[kind.value], True)

    @strawberry.mutation(
        description="Send a dead or cancelled in-app or email delivery again, with a fresh "
        "retry budget (hr_admin). A webhook delivery is redelivered (tenant_admin), as "
        "`redeliverWebhookDelivery` does."
    )
    async def retry_delivery(self, info: Info, id: strawberry.ID) -> Delivery:
        ctx = info.context
        raw = expect_global_id(id, "Delivery", field="id")
        async with ctx.mutation() as (s, p):
            row = await service.retry_delivery(s, p, raw)
        return delivery_obj(ctx, row)
