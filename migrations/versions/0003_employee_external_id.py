"""Employees get an external id (the HRIS or identity provider's), unique per tenant.

Imports match people by email or external id; SCIM will provision by it. The authentication
function returns the employee's columns in table order, so it is re-created with the new one.

Revision ID: 0003_employee_external_id
Revises: 0002_credentials
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_employee_external_id"
down_revision: str | None = "0002_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "upward_authenticate(uuid, text, uuid, text)"


def _function(with_external_id: bool) -> str:
    extra_col = "e.external_id, " if with_external_id else ""
    extra_type = "external_id text, " if with_external_id else ""
    cols = (
        "e.tenant_id, e.id, e.email, e.name, e.title, e.job_level, e.manager_id, "  # noqa: S608
        "e.department_id, e.location_id, e.roles, e.status, e.timezone, e.hire_date, "
        f"e.offboarded_at, e.created_at, e.updated_at, {extra_col}"
        "exists(select 1 from employees r where r.tenant_id = e.tenant_id "
        "and r.manager_id = e.id and r.status = 'active'), t.slug, t.timezone"
    )
    return f"""
CREATE FUNCTION upward_authenticate(
    p_tenant_id uuid, p_tenant_slug text, p_employee_id uuid, p_email text
) RETURNS TABLE (
    tenant_id uuid, id uuid, email text, name text, title text, job_level text,
    manager_id uuid, department_id uuid, location_id uuid, roles text[], status text,
    timezone text, hire_date date, offboarded_at timestamptz, created_at timestamptz,
    updated_at timestamptz, {extra_type}has_reports boolean, tenant_slug text,
    tenant_timezone text
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
        RETURN QUERY SELECT {cols} FROM (SELECT 1) AS one
            LEFT JOIN employees e ON e.id = p_employee_id AND e.status = 'active';
    ELSE
        RETURN QUERY SELECT {cols} FROM (SELECT 1) AS one
            LEFT JOIN employees e ON e.email = p_email AND e.status = 'active';
    END IF;
END
$fn$
"""  # noqa: S608 - constant SQL


def _replace_function(with_external_id: bool) -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.execute(_function(with_external_id))
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO upward_app")


def upgrade() -> None:
    op.execute("ALTER TABLE employees ADD COLUMN external_id text")
    op.execute(
        "ALTER TABLE employees ADD CONSTRAINT employees_external_id_key "
        "UNIQUE (tenant_id, external_id)"
    )
    _replace_function(True)


def downgrade() -> None:
    _replace_function(False)
    op.execute("ALTER TABLE employees DROP CONSTRAINT employees_external_id_key")
    op.execute("ALTER TABLE employees DROP COLUMN external_id")
