"""Webhook endpoints a tenant admin registers (their deliveries are `reminders.models.Delivery`
rows on the webhook channel: one delivery state machine for every channel)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from upward.models_base import created_at_field, id_field, tenant_id_field, updated_at_field
from upward.people.models import TextArray


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "url", name="webhook_endpoints_url_key"),)

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    url: str
    description: str | None = None
    event_types: list[str] = Field(
        default_factory=list, sa_type=TextArray(), sa_column_kwargs={"nullable": False}
    )
    # the signing secret: needed to sign, so kept (never returned after creation or rotation)
    secret: str
    # after a rotation the old secret also signs until then (receivers switch without a gap)
    previous_secret: str | None = None
    previous_secret_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    active: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    disabled_reason: str | None = None
    disabled_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
