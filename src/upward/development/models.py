"""The skills catalog (a tree per tenant) and the tenant's proficiency scale."""

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


SKILL_SOURCES = ("self_assessed", "manager_assessed", "assessment")


class EmployeeSkill(SQLModel, table=True):
    """A person's rating of a skill. Skills a valid credential grants are not stored: they are
    derived on read (`credential_type_skills`), so they lapse with the credential."""

    __tablename__ = "employee_skills"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "employee_skills_employee_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "employee_skills_skill_fkey"),
        sa.CheckConstraint(
            "proficiency between 1 and 10", name="employee_skills_proficiency_check"
        ),
        sa.CheckConstraint(
            "source in ('self_assessed', 'manager_assessed', 'assessment')",
            name="employee_skills_source_check",
        ),
        sa.Index("employee_skills_skill_idx", "tenant_id", "skill_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    employee_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)
    proficiency: int
    source: str
    interest: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    last_used_on: date | None = None
    validated_by: uuid.UUID | None = None
    validated_at: datetime | None = optional_ts()
    updated_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class EmployeeSkillEvent(SQLModel, table=True):
    """The history of a person's ratings: every set, validation and removal."""

    __tablename__ = "employee_skill_events"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "employee_skill_events_employee_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "employee_skill_events_skill_fkey"),
        sa.CheckConstraint(
            "action in ('set', 'validate', 'remove')", name="employee_skill_events_action_check"
        ),
        sa.Index("employee_skill_events_idx", "tenant_id", "employee_id", "skill_id", "changed_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    employee_id: uuid.UUID
    skill_id: uuid.UUID
    action: str
    proficiency: int | None = None
    source: str | None = None
    interest: bool | None = None
    changed_by: uuid.UUID | None = None
    changed_at: datetime = created_at_field()


class CredentialTypeSkill(SQLModel, table=True):
    """A skill a credential type grants, at a proficiency, while a credential of it is valid."""

    __tablename__ = "credential_type_skills"
    __table_args__ = (
        tenant_fk(
            ["credential_type_id"],
            "credential_types",
            "credential_type_skills_type_fkey",
            "CASCADE",
        ),
        tenant_fk(["skill_id"], "skills", "credential_type_skills_skill_fkey"),
        sa.CheckConstraint(
            "proficiency between 1 and 10", name="credential_type_skills_proficiency_check"
        ),
        sa.Index("credential_type_skills_skill_idx", "tenant_id", "skill_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    credential_type_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)
    proficiency: int


class CareerTrack(SQLModel, table=True):
    """A ladder (e.g. Engineering IC) of ordered levels."""

    __tablename__ = "career_tracks"
    __table_args__ = (
        sa.CheckConstraint("status in ('active', 'retired')", name="career_tracks_status_check"),
        sa.Index("career_tracks_name_key", "tenant_id", sa.text("lower(name)"), unique=True),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    description: str | None = None
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class TrackLevel(SQLModel, table=True):
    __tablename__ = "track_levels"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "track_id", "position", name="track_levels_position_key"),
        tenant_fk(["track_id"], "career_tracks", "track_levels_track_fkey", "CASCADE"),
        sa.CheckConstraint("position >= 1", name="track_levels_position_check"),
        sa.CheckConstraint(
            "typical_months is null or typical_months between 0 and 600",
            name="track_levels_typical_check",
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    track_id: uuid.UUID
    position: int
    title: str
    job_level: str | None = None
    typical_months: int | None = None
    description: str | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class LevelSkill(SQLModel, table=True):
    __tablename__ = "level_skills"
    __table_args__ = (
        tenant_fk(["level_id"], "track_levels", "level_skills_level_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "level_skills_skill_fkey"),
        sa.CheckConstraint("min_proficiency between 1 and 10", name="level_skills_min_check"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    level_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)
    min_proficiency: int


class LevelCredential(SQLModel, table=True):
    __tablename__ = "level_credentials"
    __table_args__ = (
        tenant_fk(["level_id"], "track_levels", "level_credentials_level_fkey", "CASCADE"),
        tenant_fk(["credential_type_id"], "credential_types", "level_credentials_type_fkey"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    level_id: uuid.UUID = Field(primary_key=True)
    credential_type_id: uuid.UUID = Field(primary_key=True)


class LevelLink(SQLModel, table=True):
    """A lateral move from one level to a level of another track (directed)."""

    __tablename__ = "level_links"
    __table_args__ = (
        tenant_fk(["from_level_id"], "track_levels", "level_links_from_fkey", "CASCADE"),
        tenant_fk(["to_level_id"], "track_levels", "level_links_to_fkey", "CASCADE"),
        sa.CheckConstraint("from_level_id <> to_level_id", name="level_links_not_self"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    from_level_id: uuid.UUID = Field(primary_key=True)
    to_level_id: uuid.UUID = Field(primary_key=True)


class EmployeeLevel(SQLModel, table=True):
    """Where a person stands on the ladders, since when."""

    __tablename__ = "employee_levels"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "employee_levels_employee_fkey", "CASCADE"),
        tenant_fk(["level_id"], "track_levels", "employee_levels_level_fkey"),
        sa.Index("employee_levels_level_idx", "tenant_id", "level_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    employee_id: uuid.UUID = Field(primary_key=True)
    level_id: uuid.UUID
    since: date
    updated_at: datetime = updated_at_field()
