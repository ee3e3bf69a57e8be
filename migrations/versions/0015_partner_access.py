"""Partner access: API keys (hashed secrets, scopes, expiry, IP allowlist, rotation overlap),
trusted documents (registered operations per tenant and collection), departments' external id
(SCIM groups) and the tenant switch for trusted-documents mode.

`upward_authenticate_key` does for a key what `upward_authenticate` does for a user: one round
trip that finds the active tenant, sets `app.tenant_id` for the transaction and reads the key
under it (SECURITY INVOKER: row-level security applies).

Revision ID: 0015_partner_access
Revises: 0014_recognition
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security
from upward.settings import APP_ROLE

revision: str = "0015_partner_access"
down_revision: str | None = "0014_recognition"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"
KEY_SIGNATURE = "upward_authenticate_key(uuid, uuid)"
KEY_FUNCTION = """
CREATE FUNCTION upward_authenticate_key(p_tenant_id uuid, p_key_id uuid)
RETURNS TABLE (
    id uuid, name text, secret_hash bytea, previous_secret_hash bytea,
    previous_valid_until timestamptz, scopes text[], allowed_cidrs text[],
    document_collection text, expires_at timestamptz, revoked_at timestamptz,
    last_used_at timestamptz, tenant_id uuid, tenant_slug text, tenant_timezone text,
    trusted_documents_only boolean
) LANGUAGE plpgsql SECURITY INVOKER VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    t tenants%ROWTYPE;
BEGIN
    SELECT * INTO t FROM tenants WHERE tenants.id = p_tenant_id AND tenants.status = 'active';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM set_config('app.tenant_id', t.id::text, true);
    RETURN QUERY SELECT k.id, k.name, k.secret_hash, k.previous_secret_hash,
        k.previous_valid_until, k.scopes, k.allowed_cidrs, k.document_collection, k.expires_at,
        k.revoked_at, k.last_used_at, t.id, t.slug, t.timezone, t.trusted_documents_only
      FROM api_keys k WHERE k.tenant_id = t.id AND k.id = p_key_id;
END
$fn$
"""

AUTH_SIGNATURE = "upward_authenticate(uuid, text, uuid, text)"


def _user_function(with_documents_flag: bool) -> str:
    """`upward_authenticate` as 0003 left it, plus (with the flag) the tenant's
    trusted-documents switch as a last column."""
    flag_col = ", t.trusted_documents_only" if with_documents_flag else ""
    flag_type = ", tenant_trusted_documents_only boolean" if with_documents_flag else ""
    cols = (
        "e.tenant_id, e.id, e.email, e.name, e.title, e.job_level, e.manager_id, "  # noqa: S608
        "e.department_id, e.location_id, e.roles, e.status, e.timezone, e.hire_date, "
        "e.offboarded_at, e.created_at, e.updated_at, e.external_id, "
        "exists(select 1 from employees r where r.tenant_id = e.tenant_id "
        f"and r.manager_id = e.id and r.status = 'active'), t.slug, t.timezone{flag_col}"
    )
    return f"""
CREATE FUNCTION upward_authenticate(
    p_tenant_id uuid, p_tenant_slug text, p_employee_id uuid, p_email text
) RETURNS TABLE (
    tenant_id uuid, id uuid, email text, name text, title text, job_level text,
    manager_id uuid, department_id uuid, location_id uuid, roles text[], status text,
    timezone text, hire_date date, offboarded_at timestamptz, created_at timestamptz,
    updated_at timestamptz, external_id text, has_reports boolean, tenant_slug text,
    tenant_timezone text{flag_type}
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


def _replace_user_function(with_documents_flag: bool) -> None:
    op.execute(f"DROP FUNCTION {AUTH_SIGNATURE}")
    op.execute(_user_function(with_documents_flag))
    op.execute(f"REVOKE ALL ON FUNCTION {AUTH_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {AUTH_SIGNATURE} TO {APP_ROLE}")


def upgrade() -> None:
    op.execute(f"""
        CREATE TABLE api_keys (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            name text NOT NULL,
            prefix text NOT NULL,
            secret_hash bytea NOT NULL,
            previous_secret_hash bytea,
            previous_valid_until timestamptz,
            scopes text[] NOT NULL,
            allowed_cidrs text[] NOT NULL,
            document_collection text,
            expires_at timestamptz,
            revoked_at timestamptz,
            last_used_at timestamptz,
            last_used_ip text,
            rotated_at timestamptz,
            created_by uuid,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT api_keys_prefix_key UNIQUE (tenant_id, prefix)
        )
    """)
    op.execute("CREATE INDEX api_keys_created_idx ON api_keys (tenant_id, created_at)")
    op.execute(f"""
        CREATE TABLE trusted_documents (
            {TENANT},
            collection text NOT NULL,
            sha256 text NOT NULL,
            operation_name text,
            document text NOT NULL,
            source text,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, collection, sha256)
        )
    """)
    for table in ("api_keys", "trusted_documents"):
        for stmt in tenant_table_security(table):
            op.execute(stmt)
    op.execute("ALTER TABLE departments ADD COLUMN external_id text")
    op.execute(
        "ALTER TABLE departments ADD CONSTRAINT departments_external_id_key "
        "UNIQUE (tenant_id, external_id)"
    )
    op.execute(
        "ALTER TABLE tenants ADD COLUMN trusted_documents_only boolean DEFAULT 'false' NOT NULL"
    )
    _replace_user_function(True)
    op.execute(KEY_FUNCTION)
    op.execute(f"REVOKE ALL ON FUNCTION {KEY_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {KEY_SIGNATURE} TO {APP_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {KEY_SIGNATURE}")
    _replace_user_function(False)
    op.execute("ALTER TABLE tenants DROP COLUMN trusted_documents_only")
    op.execute("ALTER TABLE departments DROP CONSTRAINT departments_external_id_key")
    op.execute("ALTER TABLE departments DROP COLUMN external_id")
    for table in ("trusted_documents", "api_keys"):
        for stmt in drop_tenant_table_security(table):
            op.execute(stmt)
        op.execute(f"DROP TABLE {table}")
