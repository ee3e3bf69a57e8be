"""DDL helpers used by migrations, so every tenant table gets the same protection.

`tenant_table_security("employees")` returns the statements that enable and FORCE row-level
security, create the isolation policy, and grant the app role its DML privileges.
"""

from __future__ import annotations

from upward.settings import APP_ROLE

# The isolation predicate of every tenant table (USING and WITH CHECK). The setting is wrapped in
# a scalar subquery so that Postgres reads it once per statement (an InitPlan) rather than once
# per row: a sequential scan no longer pays ~0.3 us a row for current_setting(), and the InitPlan's
# parameter is still an index condition (`tenant_id = $0`), so index use is unchanged.
TENANT_PREDICATE = "tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)"

# The same predicate without the subquery: what migrations before 0016 created, and the only form
# Citus accepts (create_distributed_table refuses a table whose policy has a subquery). Running on
# Citus switches the policies to it first: docs/scaling.md, "Running on Citus".
TENANT_PREDICATE_PLAIN = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"


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


def alter_tenant_policy(table: str, predicate: str = TENANT_PREDICATE) -> str:
    """Point a tenant table's existing isolation policy (USING and WITH CHECK) at `predicate`."""
    return f"ALTER POLICY tenant_isolation ON {table} USING ({predicate}) WITH CHECK ({predicate})"


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
