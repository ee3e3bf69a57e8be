"""Catalog guards: every tenant table is protected by a forced RLS policy, and the app role
can neither own nor bypass anything. A new table that forgets its policy fails here."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from upward.metadata import metadata


async def _tenant_tables(engine: AsyncEngine) -> list[dict]:
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    sa.text("""
            select c.relname as table, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
                   pg_get_userbyid(c.relowner) as owner,
                   (select count(*) from pg_policy p where p.polrelid = c.oid) as policies,
                   (select string_agg(pg_get_expr(p.polqual, p.polrelid), ' ')
                      from pg_policy p where p.polrelid = c.oid) as using_expr,
                   (select string_agg(pg_get_expr(p.polwithcheck, p.polrelid), ' ')
                      from pg_policy p where p.polrelid = c.oid) as check_expr
            from pg_class c
            join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind in ('r', 'p')
              and exists (select 1 from pg_attribute a where a.attrelid = c.oid
                          and a.attname = 'tenant_id' and not a.attisdropped)
            order by 1
        """)
                )
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


async def test_every_tenant_table_has_a_forced_policy(owner_engine: AsyncEngine) -> None:
    tables = await _tenant_tables(owner_engine)
    assert {t["table"] for t in tables} >= {"employees", "departments", "locations", "audit_events"}
    for t in tables:
        assert t["rls"], f"{t['table']}: row-level security is not enabled"
        assert t["forced"], f"{t['table']}: row-level security is not FORCED"
        assert t["policies"] >= 1, f"{t['table']}: no policy"
        for expr in (t["using_expr"], t["check_expr"]):
            assert expr and "app.tenant_id" in expr and "tenant_id" in expr, (t["table"], expr)
        assert t["owner"] != "upward_app", f"{t['table']} is owned by the app role"


async def test_every_tenant_table_keys_lead_with_tenant_id(owner_engine: AsyncEngine) -> None:
    async with owner_engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    sa.text("""
            select c.conrelid::regclass::text as table, c.conname, c.contype,
                   (select array_agg(a.attname order by k.ord)
                      from unnest(c.conkey) with ordinality k(attnum, ord)
                      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum) as cols
            from pg_constraint c
            join pg_class t on t.oid = c.conrelid
            join pg_namespace n on n.oid = t.relnamespace
            where n.nspname = 'public' and c.contype in ('p', 'u', 'f')
              and exists (select 1 from pg_attribute a where a.attrelid = c.conrelid
                          and a.attname = 'tenant_id')
        """)
                )
            )
            .mappings()
            .all()
        )
    for r in rows:
        if r["contype"] == "f" and r["cols"] == ["tenant_id"]:
            continue  # the reference to the tenant registry itself
        assert "tenant_id" in r["cols"], f"{r['table']}.{r['conname']} does not include tenant_id"


async def test_app_role_owns_nothing_and_cannot_bypass(owner_engine: AsyncEngine) -> None:
    async with owner_engine.connect() as conn:
        role = (
            await conn.execute(
                sa.text(
                    "select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles "
                    "where rolname = 'upward_app'"
                )
            )
        ).one()
        assert not any(role), role
        owned = await conn.scalar(
            sa.text("""
            select count(*) from pg_class c join pg_roles r on r.oid = c.relowner
            where r.rolname = 'upward_app'""")
        )
        assert owned == 0
        owned_fns = await conn.scalar(
            sa.text("""
            select count(*) from pg_proc p join pg_roles r on r.oid = p.proowner
            where r.rolname = 'upward_app'""")
        )
        assert owned_fns == 0
        # DML only: no TRUNCATE, REFERENCES or TRIGGER on any table
        extra = (
            await conn.execute(
                sa.text("""
            select table_name, privilege_type from information_schema.role_table_grants
            where grantee = 'upward_app'
              and privilege_type not in ('SELECT', 'INSERT', 'UPDATE', 'DELETE')""")
            )
        ).all()
        assert extra == []
        # the registry is read-only for the app; audit is append-only
        tenants = set(
            (
                await conn.execute(
                    sa.text(
                        "select privilege_type from information_schema.role_table_grants "
                        "where grantee = 'upward_app' and table_name = 'tenants'"
                    )
                )
            ).scalars()
        )
        assert tenants == {"SELECT"}
        audit = set(
            (
                await conn.execute(
                    sa.text(
                        "select privilege_type from information_schema.role_table_grants "
                        "where grantee = 'upward_app' and table_name = 'audit_events'"
                    )
                )
            ).scalars()
        )
        assert "UPDATE" not in audit


async def test_app_connects_as_app_role(app_engine: AsyncEngine) -> None:
    async with app_engine.connect() as conn:
        assert await conn.scalar(sa.text("select current_user")) == "upward_app"


async def test_models_match_migrations(owner_engine: AsyncEngine) -> None:
    """The SQLModel tables and the migrated schema agree (alembic autogenerate finds nothing)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def compare_type(ctx, insp_col, meta_col, insp_type, meta_type):  # type: ignore[no-untyped-def]
        # SQLModel's `str` is AutoString (VARCHAR); the migrations use TEXT: same thing in Postgres
        meta_type = getattr(meta_type, "impl", meta_type)
        if isinstance(insp_type, sa.String) and isinstance(meta_type, sa.String):
            return False
        return None

    def diff(sync_conn: sa.Connection) -> list:
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": compare_type})
        return compare_metadata(ctx, metadata)

    async with owner_engine.connect() as conn:
        changes = await conn.run_sync(diff)
    relevant = [
        c for c in changes if not (isinstance(c, tuple) and c[0] in ("add_index", "remove_index"))
    ]
    assert relevant == [], relevant


async def test_every_tenant_index_leads_with_tenant_id(owner_engine: AsyncEngine) -> None:
    async with owner_engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    sa.text("""
            select t.relname as table, i.relname as index,
                   (select a.attname from pg_attribute a
                     where a.attrelid = t.oid and a.attnum = x.indkey[0]) as first_col
            from pg_index x
            join pg_class i on i.oid = x.indexrelid
            join pg_class t on t.oid = x.indrelid
            join pg_namespace n on n.oid = t.relnamespace
            where n.nspname = 'public'
              and exists (select 1 from pg_attribute a where a.attrelid = t.oid
                          and a.attname = 'tenant_id' and not a.attisdropped)
        """)
                )
            )
            .mappings()
            .all()
        )
    assert rows
    for r in rows:
        assert r["first_col"] == "tenant_id", (
            f"{r['table']}.{r['index']} leads with {r['first_col']}"
        )


async def test_no_security_definer_functions(owner_engine: AsyncEngine) -> None:
    """Functions run as their caller, so RLS applies inside them too."""
    async with owner_engine.connect() as conn:
        definers = (
            (
                await conn.execute(
                    sa.text(
                        "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                        "where n.nspname = 'public' and p.prosecdef"
                    )
                )
            )
            .scalars()
            .all()
        )
        executable = (
            (
                await conn.execute(
                    sa.text(
                        "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                        "where n.nspname = 'public' and has_function_privilege('upward_app', p.oid, "
                        "'EXECUTE')"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert definers == []
    assert "upward_authenticate" in executable
