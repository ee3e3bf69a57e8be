"""DDL helpers used by migrations, so every tenant table gets the same protection.

`tenant_table_security("employees")` returns the statements that enable and FORCE row-level
security, create the isolation policy, and grant the app role its DML privileges.
"""

from __future__ import annotations

from upward.settings import APP_ROLE

TENANT_PREDICATE = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"


def tenant_table_security(
    table: str, *, privileges: str = "SELECT, INSERT, UPDATE, DELETE"
) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})",
        f"GRANT {privileges} ON {table} TO {APP_ROLE}",
    ]


def drop_tenant_table_security(table: str) -> list[str]:
    return [
        f"REVOKE ALL ON {table} FROM {APP_ROLE}",
        f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
    ]


CREATE_APP_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
            NOINHERIT NOREPLICATION;
    END IF;
END
$$;
"""  # noqa: S608 - constant role name
