"""Shared column helpers for SQLModel tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def tenant_id_field() -> uuid.UUID:
    return Field(
        sa_column_kwargs={"nullable": False},
        primary_key=True,
        foreign_key="tenants.id",
        ondelete="CASCADE",
    )


def id_field() -> uuid.UUID:
    return Field(
        default_factory=uuid.uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": sa.text("gen_random_uuid()")},
    )


def created_at_field() -> datetime:
    return Field(
        default_factory=utcnow,
        sa_type=sa.DateTime(timezone=True),
        sa_column_kwargs={"server_default": sa.func.now(), "nullable": False},
    )


def updated_at_field() -> datetime:
    return Field(
        default_factory=utcnow,
        sa_type=sa.DateTime(timezone=True),
        sa_column_kwargs={"server_default": sa.func.now(), "nullable": False},
    )


def tenant_fk(
    cols: list[str], table: str, name: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    """A foreign key to `table`'s (tenant_id, id), from (tenant_id, *cols): every reference
    between tenant tables carries the tenant (RLS, and distribution by tenant_id)."""
    return sa.ForeignKeyConstraint(
        ["tenant_id", *cols], [f"{table}.tenant_id", f"{table}.id"], name=name, ondelete=ondelete
    )


def optional_ts() -> Any:
    """A nullable timestamptz column (set when something happens)."""
    return Field(default=None, sa_type=sa.DateTime(timezone=True), nullable=True)
