"""Reminder policies and states, the reminder log, the notification outbox and its deliveries.

A `Reminder` row is what the planner decided was due for one recipient in one cycle (its unique
key is the guarantee that a step goes out once); a `Notification` is a message to one person
(a reminder, a daily digest, an event); a `Delivery` carries a notification over one channel, or
a domain event to one webhook endpoint, through pending -> sent | dead, with its attempt log.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from upward.models_base import (
    created_at_field,
    id_field,
    optional_ts,
    tenant_fk,
    tenant_id_field,
    updated_at_field,
)
from upward.people.models import TextArray

DELIVERY_CHANNELS = ("in_app", "email", "webhook")
DELIVERY_STATUSES = ("pending", "sent", "dead", "cancelled")
NOTIFICATION_KINDS = ("reminder", "digest", "event")


def _jsonb(nullable: bool = False, default: str = "'{}'::jsonb") -> Any:
    return Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text(default), "nullable": nullable},
    )


def _texts() -> Any:
    return Field(default_factory=list, sa_type=TextArray(), sa_column_kwargs={"nullable": False})


class ReminderPolicy(SQLModel, table=True):
    """A ladder of steps relative to expiry, for one credential type or (type null) the tenant's
    default, with the send window its reminders respect."""

    __tablename__ = "reminder_policies"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "credential_type_id", name="reminder_policies_type_key"),
        tenant_fk(
            ["credential_type_id"], "credential_types", "reminder_policies_type_fkey", "CASCADE"
        ),
        sa.Index(
            "reminder_policies_default_key",
            "tenant_id",
            unique=True,
            postgresql_where=sa.text("credential_type_id IS NULL"),
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    credential_type_id: uuid.UUID | None = None
    name: str
    steps: list[dict[str, Any]] = Field(
        default_factory=list, sa_type=pg.JSONB(), sa_column_kwargs={"nullable": False}
    )
    watcher_ids: list[uuid.UUID] = Field(
        default_factory=list,
        sa_type=pg.ARRAY(sa.Uuid()),
        sa_column_kwargs={"server_default": sa.text("'{}'::uuid[]"), "nullable": False},
    )
    window_start_hour: int = Field(default=9, sa_column_kwargs={"server_default": "9"})
    window_end_hour: int = Field(default=18, sa_column_kwargs={"server_default": "18"})
    send_on_weekends: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CredentialReminderState(SQLModel, table=True):
    """What pauses a credential's reminders, for one cycle (expiry date): the holder's
    acknowledgement or "renewal in progress", and HR's snooze."""

    __tablename__ = "credential_reminder_states"
    __table_args__ = (
        tenant_fk(
            ["credential_id"],
            "credentials",
            "credential_reminder_states_credential_fkey",
            "CASCADE",
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    credential_id: uuid.UUID = Field(primary_key=True)
    expires_on: date
    acknowledged_at: datetime | None = optional_ts()
    acknowledged_by: uuid.UUID | None = None
    renewal_in_progress: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    snoozed_until: date | None = None
    snoozed_by: uuid.UUID | None = None
    snooze_reason: str | None = None
    updated_at: datetime = updated_at_field()


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="notifications_key"),
        tenant_fk(["recipient_id"], "employees", "notifications_recipient_fkey", "CASCADE"),
        sa.Index(
            "notifications_inbox_idx",
            "tenant_id",
            "recipient_id",
            sa.text("created_at DESC"),
            sa.text("id DESC"),
        ),
        sa.Index(
            "notifications_unread_idx",
            "tenant_id",
            "recipient_id",
            postgresql_where=sa.text("read_at IS NULL"),
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    recipient_id: uuid.UUID
    kind: str
    idempotency_key: str
    subject: str
    body: str
    data: dict[str, Any] = _jsonb()
    channels: list[str] = _texts()
    created_at: datetime = created_at_field()
    read_at: datetime | None = optional_ts()


REMINDER_SUBJECTS = ("credential", "checkin", "plan_goal")


class Reminder(SQLModel, table=True):
    """One step for one recipient in one cycle of a subject: the unique key makes it happen
    once. A subject is a kind, an id and an anchor time (a credential's expiry, a goal's due
    date, a meeting's start): a new anchor (renewal, new due date, reschedule) is a new cycle.
    Credential rows also fill `credential_id` / `expires_on` (their key and the hot path of
    the credential scan); other subjects are unique by `reminders_subject_key`."""

    __tablename__ = "reminders"
    __table_args__ = (
        sa.UniqueConstraint(
            "tenant_id",
            "credential_id",
            "expires_on",
            "offset_days",
            "recipient_id",
            name="reminders_key",
        ),
        tenant_fk(["credential_id"], "credentials", "reminders_credential_fkey", "CASCADE"),
        tenant_fk(["recipient_id"], "employees", "reminders_recipient_fkey", "CASCADE"),
        # no ON DELETE action: Citus refuses SET NULL on a key holding tenant_id (0016)
        tenant_fk(["notification_id"], "notifications", "reminders_notification_fkey"),
        sa.Index(
            "reminders_digest_idx",
            "tenant_id",
            "recipient_id",
            "due_at",
            postgresql_where=sa.text("digest AND notification_id IS NULL"),
        ),
        sa.Index("reminders_notification_idx", "tenant_id", "notification_id"),
        sa.Index(
            "reminders_subject_key",
            "tenant_id",
            "subject_type",
            "subject_id",
            "anchor_at",
            "offset_days",
            "recipient_id",
            unique=True,
            postgresql_where=sa.text("credential_id IS NULL"),
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    subject_type: str = Field(
        default="credential", sa_column_kwargs={"server_default": "credential"}
    )
    subject_id: uuid.UUID
    anchor_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    credential_id: uuid.UUID | None = None
    expires_on: date | None = None
    offset_days: int  # the ladder step in days from the anchor; 0 for a meeting reminder
    recipient_id: uuid.UUID
    recipient_kinds: list[str] = _texts()
    channels: list[str] = _texts()
    mandatory: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    digest: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    due_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # its own message, or the digest that carried it (null: waiting for the recipient's digest)
    notification_id: uuid.UUID | None = None
    created_at: datetime = created_at_field()


class Delivery(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="deliveries_key"),
        tenant_fk(["notification_id"], "notifications", "deliveries_notification_fkey", "CASCADE"),
        tenant_fk(["event_id"], "domain_events", "deliveries_event_fkey", "CASCADE"),
        tenant_fk(["endpoint_id"], "webhook_endpoints", "deliveries_endpoint_fkey", "CASCADE"),
        sa.Index(
            "deliveries_due_idx",
            "tenant_id",
            "next_attempt_at",
            postgresql_where=sa.text("status = 'pending'"),
        ),
        sa.Index("deliveries_endpoint_idx", "tenant_id", "endpoint_id", "created_at", "id"),
        sa.Index(
            "deliveries_dead_idx",
            "tenant_id",
            "updated_at",
            "id",
            postgresql_where=sa.text("status = 'dead'"),
        ),
        sa.Index("deliveries_notification_idx", "tenant_id", "notification_id"),
        sa.Index("deliveries_event_idx", "tenant_id", "event_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    channel: str
    notification_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    endpoint_id: uuid.UUID | None = None
    idempotency_key: str
    status: str = Field(default="pending", sa_column_kwargs={"server_default": "pending"})
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime = created_at_field()
    last_attempt_at: datetime | None = optional_ts()
    last_status_code: int | None = None
    last_error: str | None = None
    sent_at: datetime | None = optional_ts()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempts"
    __table_args__ = (
        tenant_fk(["delivery_id"], "deliveries", "delivery_attempts_delivery_fkey", "CASCADE"),
        sa.Index("delivery_attempts_delivery_idx", "tenant_id", "delivery_id", "attempted_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    delivery_id: uuid.UUID
    attempted_at: datetime = created_at_field()
    status_code: int | None = None
    error: str | None = None
    duration_ms: int | None = None
    response_snippet: str | None = None


class NotificationPreference(SQLModel, table=True):
    __tablename__ = "notification_preferences"
    __table_args__ = (
        tenant_fk(
            ["employee_id"], "employees", "notification_preferences_employee_fkey", "CASCADE"
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    employee_id: uuid.UUID = Field(primary_key=True)
    email_enabled: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    updated_at: datetime = updated_at_field()


class NotificationTemplate(SQLModel, table=True):
    """A tenant's override of one kind of message (subject, plain text and HTML bodies)."""

    __tablename__ = "notification_templates"

    tenant_id: uuid.UUID = tenant_id_field()
    kind: str = Field(primary_key=True)
    subject: str
    text_body: str
    html_body: str
    updated_by: uuid.UUID | None = None
    updated_at: datetime = updated_at_field()
