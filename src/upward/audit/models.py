"""Audit events: append-only (the app role may insert, read and prune, never update)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from upward.models_base import created_at_field, id_field, tenant_id_field


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index(
            "audit_events_time_idx", "tenant_id", sa.text("occurred_at DESC"), sa.text("id DESC")
        ),
        sa.Index("audit_events_target_idx", "tenant_id", "target_id"),
        sa.Index("audit_events_actor_idx", "tenant_id", "actor_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    occurred_at: datetime = created_at_field()
    actor_type: str  # employee | system | api_key
    actor_id: uuid.UUID | None = None
    action: str  # e.g. employee.create
    target_type: str
    target_id: uuid.UUID | None = None
    request_id: str | None = None
    changes: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB,
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
