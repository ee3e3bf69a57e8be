"""Credentials and compliance: types, requirements, evidence files, credentials, domain events.

Revision ID: 0002_credentials
Revises: 0001_foundation
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0002_credentials"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "credential_types",
    "credential_requirements",
    "evidence_files",
    "credentials",
    "domain_events",
)


def upgrade() -> None:
    op.execute(
        "ALTER TABLE tenants ADD COLUMN credential_expiring_days integer NOT NULL DEFAULT 30 "
        "CONSTRAINT tenants_expiring_days_check CHECK (credential_expiring_days between 1 and 3650)"
    )
    op.execute(
        """
        CREATE TABLE credential_types (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            name text NOT NULL,
            category text NOT NULL CONSTRAINT credential_types_category_check
                CHECK (category in ('certification', 'license', 'training', 'clearance', 'other')),
            description text,
            issuing_authority text,
            validity_months integer CONSTRAINT credential_types_validity_check
                CHECK (validity_months is null or validity_months between 1 and 1200),
            evidence_required boolean NOT NULL DEFAULT false,
            verification_required boolean NOT NULL DEFAULT false,
            renewal_lead_days integer CONSTRAINT credential_types_lead_check
                CHECK (renewal_lead_days is null or renewal_lead_days between 0 and 3650),
            external_ids jsonb NOT NULL DEFAULT '{}'::jsonb,
            status text NOT NULL DEFAULT 'active'
                CONSTRAINT credential_types_status_check CHECK (status in ('active', 'retired')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT credential_types_name_key UNIQUE (tenant_id, name)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE credential_requirements (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            credential_type_id uuid NOT NULL,
            job_title text,
            job_level text,
            department_id uuid,
            location_id uuid,
            employee_id uuid,
            effective_from date,
            effective_until date,
            grace_days integer NOT NULL DEFAULT 0
                CONSTRAINT credential_requirements_grace_check CHECK (grace_days between 0 and 3650),
            notes text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT credential_requirements_dates_check CHECK (
                effective_until is null or effective_from is null
                or effective_until >= effective_from),
            CONSTRAINT credential_requirements_type_fkey FOREIGN KEY (tenant_id, credential_type_id)
                REFERENCES credential_types (tenant_id, id),
            CONSTRAINT credential_requirements_department_fkey FOREIGN KEY (tenant_id, department_id)
                REFERENCES departments (tenant_id, id),
            CONSTRAINT credential_requirements_location_fkey FOREIGN KEY (tenant_id, location_id)
                REFERENCES locations (tenant_id, id),
            CONSTRAINT credential_requirements_employee_fkey FOREIGN KEY (tenant_id, employee_id)
                REFERENCES employees (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX credential_requirements_type_idx "
        "ON credential_requirements (tenant_id, credential_type_id)"
    )
    op.execute(
        """
        CREATE TABLE evidence_files (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            employee_id uuid NOT NULL,
            uploaded_by uuid,
            file_name text NOT NULL,
            media_type text NOT NULL,
            size_bytes bigint NOT NULL CONSTRAINT evidence_files_size_check CHECK (size_bytes >= 0),
            sha256 text,
            storage_key text NOT NULL,
            status text NOT NULL DEFAULT 'pending'
                CONSTRAINT evidence_files_status_check CHECK (status in ('pending', 'stored')),
            created_at timestamptz NOT NULL DEFAULT now(),
            stored_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT evidence_files_employee_fkey FOREIGN KEY (tenant_id, employee_id)
                REFERENCES employees (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX evidence_files_employee_idx ON evidence_files (tenant_id, employee_id)"
    )
    op.execute(
        """
        CREATE TABLE credentials (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            employee_id uuid NOT NULL,
            credential_type_id uuid NOT NULL,
            number text,
            issuer text,
            issued_on date NOT NULL,
            expires_on date,
            notes text,
            evidence_id uuid,
            source text NOT NULL DEFAULT 'api',
            verification text NOT NULL DEFAULT 'not_required'
                CONSTRAINT credentials_verification_check
                CHECK (verification in ('not_required', 'pending', 'verified', 'rejected')),
            verified_by uuid,
            verified_at timestamptz,
            rejection_reason text,
            revoked_at timestamptz,
            revoked_by uuid,
            revoke_reason text,
            superseded_by_id uuid,
            superseded_at timestamptz,
            created_by uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT credentials_dates_check CHECK (expires_on is null or expires_on >= issued_on),
            CONSTRAINT credentials_evidence_key UNIQUE (tenant_id, evidence_id),
            CONSTRAINT credentials_employee_fkey FOREIGN KEY (tenant_id, employee_id)
                REFERENCES employees (tenant_id, id),
            CONSTRAINT credentials_type_fkey FOREIGN KEY (tenant_id, credential_type_id)
                REFERENCES credential_types (tenant_id, id),
            CONSTRAINT credentials_evidence_fkey FOREIGN KEY (tenant_id, evidence_id)
                REFERENCES evidence_files (tenant_id, id),
            CONSTRAINT credentials_superseded_by_fkey FOREIGN KEY (tenant_id, superseded_by_id)
                REFERENCES credentials (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX credentials_holder_idx "
        "ON credentials (tenant_id, employee_id, credential_type_id, issued_on)"
    )
    op.execute("CREATE INDEX credentials_expiry_idx ON credentials (tenant_id, expires_on, id)")
    op.execute("CREATE INDEX credentials_type_idx ON credentials (tenant_id, credential_type_id)")
    # No two live credentials of one type and number for one person (a renewal has a new
    # number, or supersedes the old one first).
    op.execute(
        "CREATE UNIQUE INDEX credentials_live_number_key ON credentials "
        "(tenant_id, employee_id, credential_type_id, number) "
        "WHERE number IS NOT NULL AND revoked_at IS NULL AND superseded_by_id IS NULL "
        "AND verification <> 'rejected'"
    )
    op.execute(
        """
        CREATE TABLE domain_events (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            kind text NOT NULL,
            subject_type text NOT NULL,
            subject_id uuid NOT NULL,
            idempotency_key text NOT NULL,
            payload jsonb NOT NULL DEFAULT '{}'::jsonb,
            occurred_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT domain_events_key UNIQUE (tenant_id, idempotency_key)
        )
        """
    )
    op.execute("CREATE INDEX domain_events_time_idx ON domain_events (tenant_id, occurred_at, id)")
    op.execute(
        "CREATE INDEX domain_events_unpublished_idx ON domain_events (tenant_id, occurred_at) "
        "WHERE published_at IS NULL"
    )
    for table in TENANT_TABLES:
        for stmt in tenant_table_security(table):
            op.execute(stmt)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for stmt in drop_tenant_table_security(table):
            op.execute(stmt)
        op.execute(f"DROP TABLE {table}")
    op.execute("ALTER TABLE tenants DROP COLUMN credential_expiring_days")
