"""The global tenant registry: the only business table without tenant_id."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from upward.models_base import created_at_field, id_field, updated_at_field

TENANT_STATUSES = ("active", "suspended")


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"
    __table_args__ = (
        sa.CheckConstraint("status in ('active', 'suspended')", name="tenants_status_check"),
        sa.CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'", name="tenants_slug_check"),
        sa.CheckConstraint(
            "credential_expiring_days between 1 and 3650", name="tenants_expiring_days_check"
        ),
    )

    id: uuid.UUID = id_field()
    slug: str = Field(sa_column_kwargs={"unique": True, "nullable": False})
    name: str
    timezone: str
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    audit_retention_days: int | None = None
    # a credential is "expiring" this many days before it expires
    credential_expiring_days: int = Field(default=30, sa_column_kwargs={"server_default": "30"})
    # only registered operations (trusted documents) run for this tenant
    trusted_documents_only: bool = Field(
        default=False, sa_column_kwargs={"server_default": "false"}
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
