"""Foundation: app role, tenant registry, people, audit; RLS on every tenant table.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import CREATE_APP_ROLE, drop_tenant_table_security, tenant_table_security

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("departments", "locations", "employees", "audit_events")

AUTHENTICATE_SIGNATURE = "upward_authenticate(uuid, text, uuid, text)"
_EMPLOYEE_COLS = (
    "e.tenant_id, e.id, e.email, e.name, e.title, e.job_level, e.manager_id, e.department_id, "
    "e.location_id, e.roles, e.status, e.timezone, e.hire_date, e.offboarded_at, e.created_at, "
    "e.updated_at, exists(select 1 from employees r where r.tenant_id = e.tenant_id "
    "and r.manager_id = e.id and r.status = 'active'), t.slug, t.timezone"
)
AUTHENTICATE_FUNCTION = f"""
CREATE FUNCTION upward_authenticate(
    p_tenant_id uuid, p_tenant_slug text, p_employee_id uuid, p_email text
) RETURNS TABLE (
    tenant_id uuid, id uuid, email text, name text, title text, job_level text,
    manager_id uuid, department_id uuid, location_id uuid, roles text[], status text,
    timezone text, hire_date date, offboarded_at timestamptz, created_at timestamptz,
    updated_at timestamptz, has_reports boolean, tenant_slug text, tenant_timezone text
) LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    t tenants%ROWTYPE;
BEGIN
    IF p_tenant_id IS NOT NULL THEN
        SELECT * INTO t FROM tenants WHERE tenants.id = p_tenant_id AND tenants.status = 'active';
    ELSE
        SELECT * INTO t FROM tenants
         WHERE tenants.slug = p_tenant_slug AND tenants.status = 'active';
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM set_config('app.tenant_id', t.id::text, true);
    IF p_employee_id IS NOT NULL THEN
        RETURN QUERY SELECT {_EMPLOYEE_COLS} FROM (SELECT 1) AS one
            LEFT JOIN employees e ON e.id = p_employee_id AND e.status = 'active';
    ELSE
        RETURN QUERY SELECT {_EMPLOYEE_COLS} FROM (SELECT 1) AS one
            LEFT JOIN employees e ON e.email = p_email AND e.status = 'active';
    END IF;
END
$fn$
"""  # noqa: S608 - constant SQL


def upgrade() -> None:
    op.execute(CREATE_APP_ROLE)
    # The app role must never bypass RLS, whoever created it first.
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'upward_app'
                       AND (rolsuper OR rolbypassrls)) THEN
                RAISE EXCEPTION 'role upward_app must be NOSUPERUSER NOBYPASSRLS';
            END IF;
        END
        $$;
        """
    )
    op.execute("GRANT USAGE ON SCHEMA public TO upward_app")

    # --- tenants: the global registry (no tenant_id, no RLS; the app may only read it) ----
    op.execute(
        """
        CREATE TABLE tenants (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            slug text NOT NULL UNIQUE
                CONSTRAINT tenants_slug_check CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
            name text NOT NULL,
            timezone text NOT NULL,
            status text NOT NULL DEFAULT 'active'
                CONSTRAINT tenants_status_check CHECK (status in ('active', 'suspended')),
            audit_retention_days integer CHECK (audit_retention_days > 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("GRANT SELECT ON tenants TO upward_app")

    # --- departments ------------------------------------------------------------------------
    op.execute(
        """
        CREATE TABLE departments (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            name text NOT NULL,
            code text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT departments_name_key UNIQUE (tenant_id, name)
        )
        """
    )
    for stmt in tenant_table_security("departments"):
        op.execute(stmt)

    # --- locations --------------------------------------------------------------------------
    op.execute(
        """
        CREATE TABLE locations (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            name text NOT NULL,
            timezone text,
            country text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT locations_name_key UNIQUE (tenant_id, name)
        )
        """
    )
    for stmt in tenant_table_security("locations"):
        op.execute(stmt)

    # --- employees --------------------------------------------------------------------------
    op.execute(
        """
        CREATE TABLE employees (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            email text NOT NULL,
            name text NOT NULL,
            title text,
            job_level text,
            manager_id uuid,
            department_id uuid,
            location_id uuid,
            roles text[] NOT NULL DEFAULT '{}'::text[],
            status text NOT NULL DEFAULT 'active'
                CONSTRAINT employees_status_check CHECK (status in ('active', 'offboarded')),
            timezone text,
            hire_date date,
            offboarded_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT employees_email_key UNIQUE (tenant_id, email),
            CONSTRAINT employees_not_own_manager CHECK (manager_id IS DISTINCT FROM id),
            CONSTRAINT employees_manager_fkey FOREIGN KEY (tenant_id, manager_id)
                REFERENCES employees (tenant_id, id),
            CONSTRAINT employees_department_fkey FOREIGN KEY (tenant_id, department_id)
                REFERENCES departments (tenant_id, id),
            CONSTRAINT employees_location_fkey FOREIGN KEY (tenant_id, location_id)
                REFERENCES locations (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX employees_manager_idx ON employees (tenant_id, manager_id)")
    op.execute("CREATE INDEX employees_department_idx ON employees (tenant_id, department_id)")
    op.execute("CREATE INDEX employees_location_idx ON employees (tenant_id, location_id)")
    op.execute("CREATE INDEX employees_name_idx ON employees (tenant_id, name, id)")
    # the directory counts and lists active people: an index-only count
    op.execute("CREATE INDEX employees_status_idx ON employees (tenant_id, status)")
    for stmt in tenant_table_security("employees"):
        op.execute(stmt)

    # --- audit_events (append-only for the app: no UPDATE grant) -----------------------------
    op.execute(
        """
        CREATE TABLE audit_events (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            occurred_at timestamptz NOT NULL DEFAULT now(),
            actor_type text NOT NULL,
            actor_id uuid,
            action text NOT NULL,
            target_type text NOT NULL,
            target_id uuid,
            request_id text,
            changes jsonb NOT NULL DEFAULT '{}'::jsonb,
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX audit_events_time_idx ON audit_events (tenant_id, occurred_at DESC, id DESC)"
    )
    op.execute("CREATE INDEX audit_events_target_idx ON audit_events (tenant_id, target_id)")
    op.execute("CREATE INDEX audit_events_actor_idx ON audit_events (tenant_id, actor_id)")
    for stmt in tenant_table_security("audit_events", privileges="SELECT, INSERT, DELETE"):
        op.execute(stmt)

    # --- authentication in one round trip ---------------------------------------------------
    # SECURITY INVOKER: it runs as the caller (upward_app), under RLS. It finds the active
    # tenant, sets app.tenant_id for the transaction, then looks the employee up under that
    # tenant (statements of a plpgsql function run in order, so RLS sees the setting).
    # No row: no such active tenant. A row with a NULL id: no such active employee.
    op.execute(AUTHENTICATE_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {AUTHENTICATE_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {AUTHENTICATE_SIGNATURE} TO upward_app")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {AUTHENTICATE_SIGNATURE}")
    for table in reversed(TENANT_TABLES):
        for stmt in drop_tenant_table_security(table):
            op.execute(stmt)
        op.execute(f"DROP TABLE {table}")
    op.execute("REVOKE ALL ON tenants FROM upward_app")
    op.execute("DROP TABLE tenants")
    op.execute("REVOKE USAGE ON SCHEMA public FROM upward_app")
