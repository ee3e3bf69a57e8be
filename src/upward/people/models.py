"""People: departments, locations, employees (with the manager chain)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from upward.models_base import created_at_field, id_field, tenant_id_field, updated_at_field

EMPLOYEE_STATUSES = ("active", "offboarded")
ASSIGNABLE_ROLES = ("tenant_admin", "hr_admin")


class TextArray(sa.types.TypeDecorator[list[str]]):
    """text[] without SQLAlchemy's per-item result processing: asyncpg already returns lists
    of str, and list pages read this column for every row."""

    impl = pg.ARRAY(sa.Text)
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> None:
        return None


class Department(SQLModel, table=True):
    __tablename__ = "departments"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name", name="departments_name_key"),
        sa.UniqueConstraint("tenant_id", "external_id", name="departments_external_id_key"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    code: str | None = None
    external_id: str | None = None  # the identity provider's group id (SCIM)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Location(SQLModel, table=True):
    __tablename__ = "locations"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name", name="locations_name_key"),)

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    timezone: str | None = None
    country: str | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Employee(SQLModel, table=True):
    __tablename__ = "employees"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "email", name="employees_email_key"),
        sa.UniqueConstraint("tenant_id", "external_id", name="employees_external_id_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "manager_id"],
            ["employees.tenant_id", "employees.id"],
            name="employees_manager_fkey",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "department_id"],
            ["departments.tenant_id", "departments.id"],
            name="employees_department_fkey",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "location_id"],
            ["locations.tenant_id", "locations.id"],
            name="employees_location_fkey",
        ),
        sa.CheckConstraint("status in ('active', 'offboarded')", name="employees_status_check"),
        sa.CheckConstraint("manager_id is distinct from id", name="employees_not_own_manager"),
        sa.Index("employees_manager_idx", "tenant_id", "manager_id"),
        sa.Index("employees_department_idx", "tenant_id", "department_id"),
        sa.Index("employees_location_idx", "tenant_id", "location_id"),
        sa.Index("employees_name_idx", "tenant_id", "name", "id"),
        sa.Index("employees_status_idx", "tenant_id", "status"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    email: str
    name: str
    title: str | None = None
    job_level: str | None = None
    manager_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    roles: list[str] = Field(
        default_factory=list,
        sa_type=TextArray(),
        sa_column_kwargs={"server_default": sa.text("'{}'::text[]"), "nullable": False},
    )
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    timezone: str | None = None
    hire_date: date | None = None
    offboarded_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    # the HRIS or identity provider's id, unique in the tenant (last: added by a migration)
    external_id: str | None = None
