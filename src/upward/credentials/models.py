"""Credential types, requirements (who must hold what), credentials held, evidence files, and
the domain-event outbox the reminder and webhook workers read.

A credential's status is never stored: it is derived from the facts kept here (dates,
verification, revocation, supersession) and the date it is asked about (see `status.py`).
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

CATEGORIES = ("certification", "license", "training", "clearance", "other")
TYPE_STATUSES = ("active", "retired")
VERIFICATION_STATES = ("not_required", "pending", "verified", "rejected")
EVIDENCE_STATES = ("pending", "stored")


class CredentialType(SQLModel, table=True):
    __tablename__ = "credential_types"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "name", name="credential_types_name_key"),
        sa.CheckConstraint(
            "category in ('certification', 'license', 'training', 'clearance', 'other')",
            name="credential_types_category_check",
        ),
        sa.CheckConstraint("status in ('active', 'retired')", name="credential_types_status_check"),
        sa.CheckConstraint(
            "validity_months is null or validity_months between 1 and 1200",
            name="credential_types_validity_check",
        ),
        sa.CheckConstraint(
            "renewal_lead_days is null or renewal_lead_days between 0 and 3650",
            name="credential_types_lead_check",
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    category: str
    description: str | None = None
    issuing_authority: str | None = None
    validity_months: int | None = None  # None: does not expire
    evidence_required: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    verification_required: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    renewal_lead_days: int | None = None
    external_ids: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CredentialRequirement(SQLModel, table=True):
    """Who must hold a type: everyone matching all the given selectors (none given: everyone),
    from `effective_from` (if given) until `effective_until` (if given), after `grace_days`."""

    __tablename__ = "credential_requirements"
    __table_args__ = (
        tenant_fk(["credential_type_id"], "credential_types", "credential_requirements_type_fkey"),
        tenant_fk(["department_id"], "departments", "credential_requirements_department_fkey"),
        tenant_fk(["location_id"], "locations", "credential_requirements_location_fkey"),
        tenant_fk(["employee_id"], "employees", "credential_requirements_employee_fkey"),
        sa.CheckConstraint(
            "grace_days between 0 and 3650", name="credential_requirements_grace_check"
        ),
        sa.CheckConstraint(
            "effective_until is null or effective_from is null "
            "or effective_until >= effective_from",
            name="credential_requirements_dates_check",
        ),
        sa.Index("credential_requirements_type_idx", "tenant_id", "credential_type_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    credential_type_id: uuid.UUID
    job_title: str | None = None
    job_level: str | None = None
    department_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    employee_id: uuid.UUID | None = None
    effective_from: date | None = None
    effective_until: date | None = None
    grace_days: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    notes: str | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class EvidenceFile(SQLModel, table=True):
    """A file proving a credential. Created `pending` with its declared name, type and size;
    `stored` once the bytes arrived through the signed upload URL (size and sha256 measured)."""

    __tablename__ = "evidence_files"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "evidence_files_employee_fkey"),
        sa.CheckConstraint("status in ('pending', 'stored')", name="evidence_files_status_check"),
        sa.CheckConstraint("size_bytes >= 0", name="evidence_files_size_check"),
        sa.Index("evidence_files_employee_idx", "tenant_id", "employee_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    employee_id: uuid.UUID  # whose credential it will prove
    uploaded_by: uuid.UUID | None = None
    file_name: str
    media_type: str
    size_bytes: int = Field(sa_type=sa.BigInteger())
    sha256: str | None = None
    storage_key: str
    status: str = Field(default="pending", sa_column_kwargs={"server_default": "pending"})
    created_at: datetime = created_at_field()
    stored_at: datetime | None = optional_ts()


class Credential(SQLModel, table=True):
    __tablename__ = "credentials"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "credentials_employee_fkey"),
        tenant_fk(["credential_type_id"], "credential_types", "credentials_type_fkey"),
        tenant_fk(["evidence_id"], "evidence_files", "credentials_evidence_fkey"),
        tenant_fk(["superseded_by_id"], "credentials", "credentials_superseded_by_fkey"),
        sa.CheckConstraint(
            "verification in ('not_required', 'pending', 'verified', 'rejected')",
            name="credentials_verification_check",
        ),
        sa.CheckConstraint(
            "expires_on is null or expires_on >= issued_on", name="credentials_dates_check"
        ),
        sa.UniqueConstraint("tenant_id", "evidence_id", name="credentials_evidence_key"),
        sa.Index(
            "credentials_holder_idx", "tenant_id", "employee_id", "credential_type_id", "issued_on"
        ),
        sa.Index("credentials_expiry_idx", "tenant_id", "expires_on", "id"),
        sa.Index("credentials_type_idx", "tenant_id", "credential_type_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    employee_id: uuid.UUID
    credential_type_id: uuid.UUID
    number: str | None = None
    issuer: str | None = None
    issued_on: date
    expires_on: date | None = None
    notes: str | None = None
    evidence_id: uuid.UUID | None = None
    source: str = Field(default="api", sa_column_kwargs={"server_default": "api"})
    verification: str = Field(
        default="not_required", sa_column_kwargs={"server_default": "not_required"}
    )
    verified_by: uuid.UUID | None = None
    verified_at: datetime | None = optional_ts()
    rejection_reason: str | None = None
    revoked_at: datetime | None = optional_ts()
    revoked_by: uuid.UUID | None = None
    revoke_reason: str | None = None
    superseded_by_id: uuid.UUID | None = None
    superseded_at: datetime | None = optional_ts()
    created_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class DomainEvent(SQLModel, table=True):
    """The outbox: a fact other parts react to, written in the transaction that caused it. The
    idempotency key makes recording it twice a no-op (INSERT ... ON CONFLICT DO NOTHING)."""

    __tablename__ = "domain_events"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="domain_events_key"),
        sa.Index("domain_events_time_idx", "tenant_id", "occurred_at", "id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    kind: str
    subject_type: str
    subject_id: uuid.UUID
    idempotency_key: str
    payload: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
    occurred_at: datetime = created_at_field()
    published_at: datetime | None = optional_ts()
