"""Isolation in plain SQL, as the app role: RLS is the last line, whatever the code does."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.conftest import TenantInfo
from upward.db import connect_args, set_tenant
from upward.settings import get_settings, sqlalchemy_url

TENANT_TABLES_SQL = sa.text(
    "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
    "where n.nspname = 'public' and c.relkind in ('r', 'p') and exists (select 1 from "
    "pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)"
)


async def test_no_tenant_set_sees_zero_rows(
    app_engine: AsyncEngine, owner_engine: AsyncEngine, acme: TenantInfo
) -> None:
    """Every table with a tenant_id (read from the catalog, so new tables are covered)."""
    async with owner_engine.connect() as conn:
        tables = list((await conn.execute(TENANT_TABLES_SQL)).scalars())
        assert {"employees", "departments", "locations", "audit_events"} <= set(tables)
        for table in tables:  # there is data to hide, or "zero rows" proves nothing
            n = await conn.scalar(sa.text(f"select count(*) from {table}"))
            assert n > 0, f"{table} is empty: seed it (demo manifests or a session fixture)"
    async with app_engine.connect() as conn:
        async with conn.begin():
            for table in tables:
                assert await conn.scalar(sa.text(f"select count(*) from {table}")) == 0, table
        # after a transaction that did set a tenant, the next one sees nothing again
        async with conn.begin():
            await set_tenant(conn, acme.id)
            assert await conn.scalar(sa.text("select count(*) from employees")) > 0
        async with conn.begin():
            for table in tables:
                assert await conn.scalar(sa.text(f"select count(*) from {table}")) == 0, table


async def test_tenant_sees_only_its_rows(
    app_engine: AsyncEngine, acme: TenantInfo, globex: TenantInfo
) -> None:
    async with app_engine.connect() as conn, conn.begin():
        await set_tenant(conn, acme.id)
        tenants = set(
            (await conn.execute(sa.text("select distinct tenant_id from employees"))).scalars()
        )
        assert tenants == {acme.id}
        by_id = await conn.scalar(
            sa.text("select count(*) from employees where id = :i"),
            {"i": globex.ids["admin@globex.example"]},
        )
        assert by_id == 0


@pytest.mark.parametrize("how", ["insert", "update", "move"])
async def test_writes_into_another_tenant_fail(
    app_engine: AsyncEngine, acme: TenantInfo, globex: TenantInfo, how: str
) -> None:
    async with app_engine.connect() as conn:
        tx = await conn.begin()
        await set_tenant(conn, acme.id)
        try:
            if how == "insert":
                with pytest.raises(DBAPIError, match="row-level security"):
                    await conn.execute(
                        sa.text(
                            "insert into employees (tenant_id, email, name) values (:t, 'x@y.example', 'X')"
                        ),
                        {"t": globex.id},
                    )
            elif how == "update":
                # B's rows are invisible: the update touches nothing
                result = await conn.execute(
                    sa.text("update employees set name = 'pwned' where tenant_id = :t"),
                    {"t": globex.id},
                )
                assert result.rowcount == 0
            else:
                # moving one of A's rows into B violates WITH CHECK
                with pytest.raises(DBAPIError, match="row-level security"):
                    await conn.execute(
                        sa.text("update departments set tenant_id = :t where tenant_id = :a"),
                        {"t": globex.id, "a": acme.id},
                    )
        finally:
            await tx.rollback()


async def test_app_role_cannot_write_registry_or_disable_rls(app_engine: AsyncEngine) -> None:
    statements = [
        "insert into tenants (slug, name, timezone) values ('evil', 'Evil', 'UTC')",
        "update tenants set status = 'active'",
        "alter table employees disable row level security",
        "set session_replication_role = replica",
        "create table sneaky (tenant_id uuid)",
    ]
    for stmt in statements:
        async with app_engine.connect() as conn:
            with pytest.raises(DBAPIError):
                async with conn.begin():
                    await conn.execute(sa.text(stmt))


async def test_interleaved_tenants_on_one_pooled_connection(
    acme: TenantInfo, globex: TenantInfo
) -> None:
    """One physical connection, transactions alternating between tenants: each transaction
    sees only its tenant, and nothing carries over (not the setting, not the rows)."""
    settings = get_settings()
    engine = create_async_engine(  # as the app's engine connects (through PgBouncer, too)
        sqlalchemy_url(settings.app_url()),
        pool_size=1,
        max_overflow=0,
        connect_args=connect_args("upward-test", pgbouncer=settings.db_pgbouncer),
    )
    try:
        pids = set()
        for i in range(20):
            tenant = acme if i % 2 == 0 else globex
            async with engine.connect() as conn:
                async with conn.begin():
                    pids.add(await conn.scalar(sa.text("select pg_backend_pid()")))
                    # at the start of every transaction: no tenant
                    assert (
                        await conn.scalar(
                            sa.text("select coalesce(current_setting('app.tenant_id', true), '')")
                        )
                        == ""
                    )
                    assert await conn.scalar(sa.text("select count(*) from employees")) == 0
                async with conn.begin():
                    await set_tenant(conn, tenant.id)
                    seen = set(
                        (
                            await conn.execute(sa.text("select distinct tenant_id from employees"))
                        ).scalars()
                    )
                    assert seen == {tenant.id}
                if i % 4 == 1:  # an aborted transaction must not leak either
                    tx = await conn.begin()
                    await set_tenant(conn, tenant.id)
                    await tx.rollback()
        assert len(pids) == 1, "the test must reuse one connection"
    finally:
        await engine.dispose()


async def test_policy_is_an_index_condition(owner_engine: AsyncEngine, acme: TenantInfo) -> None:
    """The RLS predicate is sargable: the hot lookup uses the composite primary key."""
    async with owner_engine.connect() as conn, conn.begin():
        await conn.execute(sa.text("set local role upward_app"))
        await set_tenant(conn, acme.id)
        await conn.execute(sa.text("set local enable_seqscan = off"))
        plan = "\n".join(
            (
                await conn.execute(
                    sa.text("explain select * from employees where id = :i"), {"i": uuid.uuid4()}
                )
            ).scalars()
        )
    assert "Index" in plan and "tenant_id" in plan, plan


async def test_raw_fetch_follows_the_session_transaction(
    app_engine: AsyncEngine, acme: TenantInfo, globex: TenantInfo
) -> None:
    """`db.fetch` runs in the session's transaction, under its tenant, and never reuses a
    connection from an earlier transaction of the same session."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from upward.db import fetch

    async with AsyncSession(app_engine) as session:
        for tenant in (acme, globex, acme):
            await session.begin()
            await set_tenant(session, tenant.id)
            seen = {r[0] for r in await fetch(session, "select distinct tenant_id from employees")}
            assert seen == {tenant.id}
            pid_raw = (await fetch(session, "select pg_backend_pid()"))[0][0]
            pid_sa = await session.scalar(sa.text("select pg_backend_pid()"))
            assert pid_raw == pid_sa
            await session.commit()
