"""The skills catalog (a tree per tenant) and the tenant's proficiency scale."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from upward.models_base import created_at_field, id_field, tenant_id_field, updated_at_field
from upward.people.models import TextArray

SKILL_STATUSES = ("active", "retired")


class Skill(SQLModel, table=True):
    """A skill; `parent_id` makes a tree (a rating of a child can roll up to its parent)."""

    __tablename__ = "skills"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_id"], ["skills.tenant_id", "skills.id"], name="skills_parent_fkey"
        ),
        sa.CheckConstraint("status in ('active', 'retired')", name="skills_status_check"),
        sa.CheckConstraint("parent_id is distinct from id", name="skills_not_own_parent"),
        sa.Index("skills_name_key", "tenant_id", sa.text("lower(name)"), unique=True),
        sa.Index("skills_parent_idx", "tenant_id", "parent_id"),
        sa.Index("skills_category_idx", "tenant_id", "category", "name", "id"),
        sa.Index("skills_order_idx", "tenant_id", "name", "id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    category: str
    parent_id: uuid.UUID | None = None
    description: str | None = None
    aliases: list[str] = Field(
        default_factory=list,
        sa_type=TextArray(),
        sa_column_kwargs={"server_default": sa.text("'{}'::text[]"), "nullable": False},
    )
    external_ids: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ProficiencyLevel(SQLModel, table=True):
    """One level of the tenant's scale (none stored: the default 1-5 scale applies)."""

    __tablename__ = "proficiency_levels"
    __table_args__ = (
        sa.CheckConstraint("level between 1 and 10", name="proficiency_levels_level_check"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    level: int = Field(primary_key=True)
    name: str
    descriptor: str
    updated_at: datetime = updated_at_field()
