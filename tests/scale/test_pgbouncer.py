"""Behind PgBouncer in transaction pooling mode: 50 tenants interleaved over 2 server
connections, and nothing carries over from one transaction to the next.

Each test module starts its own PgBouncer (tests/scale/pgbouncer.py) in front of the suite's
PostgreSQL, whatever `UPWARD_TEST_PGBOUNCER` says; the app engine goes through it with the
settings a deployment uses (`UPWARD_APP_DATABASE_URL`, `UPWARD_DB_PGBOUNCER=true`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TenantInfo
from tests.scale.pgbouncer import PgBouncer, need_pgbouncer, pgbouncer_required

TENANTS = 50
SETTING = sa.text("select coalesce(current_setting('app.tenant_id', true), '')")


def _start(**kw: Any) -> PgBouncer:
    from upward.settings import APP_ROLE, get_settings

    need_pgbouncer()
    settings = get_settings()
    bouncer = PgBouncer(settings.owner_url(), users={APP_ROLE: settings.app_db_password}, **kw)
    try:
        return bouncer.start()
    except RuntimeError as exc:  # e.g. a server PgBouncer cannot reach
        if pgbouncer_required():
            raise
        pytest.skip(f"PgBouncer cannot front this PostgreSQL: {exc}")


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PgBouncer]:
    """Two server connections for the app role, in transaction mode."""
    b = _start(pool_size=2, max_db_connections=2)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def one_server() -> Iterator[PgBouncer]:
    """One server connection, and no `connect_query`: the session limits are not set."""
    b = _start(pool_size=1, connect_query=None)
    yield b
    b.stop()


@pytest.fixture
async def app_through(
    bouncer: PgBouncer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncEngine]:
    """The process's app engine (what the API and workers use) through `bouncer`, configured
    as a deployment would be: the URL and `UPWARD_DB_PGBOUNCER` from the environment."""
    from upward import db
    from upward.settings import APP_ROLE, get_settings, reset_settings

    monkeypatch.setenv(
        "UPWARD_APP_DATABASE_URL", bouncer.url(APP_ROLE, get_settings().app_db_password)
    )
    monkeypatch.setenv("UPWARD_DB_PGBOUNCER", "true")
    reset_settings()
    key = ("app", id(asyncio.get_running_loop()))
    saved = db._engines.pop(key, None)
    try:
        yield db.app_engine()
    finally:
        entry = db._engines.pop(key, None)
        if entry is not None:
            await entry[1].dispose()
        if saved is not None:
            db._engines[key] = saved
        monkeypatch.undo()
        reset_settings()


def _org(i: int) -> dict[str, Any]:
    """Tenant i: an admin and 1 to 4 more people, each named after the tenant."""
    people = [
        {"email": f"p{k}@t.example", "name": f"Person {i}.{k}", "manager": "admin@t.example"}
        for k in range(i % 4 + 1)
    ]
    return {
        "employees": [
            {"email": "admin@t.example", "name": f"Admin {i}", "roles": ["tenant_admin"]},
            *people,
        ]
    }


class _Abort(Exception):
    pass


PAGE = "{ employees(first: 100) { totalCount edges { node { id name } } } }"


async def test_fifty_tenants_interleaved_over_two_server_connections(
    make_tenant: Any, app_through: AsyncEngine, bouncer: PgBouncer, owner_engine: AsyncEngine
) -> None:
    from upward.app import create_app
    from upward.db import fetch, global_session, set_tenant, tenant_session
    from upward.graphql.relay import to_global_id

    tenants: list[TenantInfo] = [await make_tenant(_org(i)) for i in range(TENANTS)]
    people = {t.id: set(t.ids.values()) for t in tenants}
    assert len({frozenset(p) for p in people.values()}) == TENANTS  # distinct rows each
    engine = app_through
    assert engine.pool.size() > 2  # many client connections for the 2 server connections
    pids: set[int] = set()

    async def raw_then_tenant(t: TenantInfo) -> None:
        """A pooled connection: no tenant at the start of a transaction, then only its own."""
        async with engine.connect() as conn, conn.begin():
            pids.add(await conn.scalar(sa.text("select pg_backend_pid()")))
            assert await conn.scalar(SETTING) == ""
            assert await conn.scalar(sa.text("select count(*) from employees")) == 0
            await set_tenant(conn, t.id)
            seen = set((await conn.execute(sa.text("select id from employees"))).scalars())
            assert seen == people[t.id]
            rows = await fetch(conn, "select distinct tenant_id from employees")
            assert [r[0] for r in rows] == [t.id]

    async def in_tenant_session(t: TenantInfo) -> None:
        async with tenant_session(t.id) as s:
            assert await s.scalar(SETTING) == str(t.id)
            seen = set((await s.execute(sa.text("select id from employees"))).scalars())
            assert seen == people[t.id]
            rows = await fetch(s, "select id, tenant_id from employees where name like $1", "%")
            assert {r["id"] for r in rows} == people[t.id]
            pids.add(await s.scalar(sa.text("select pg_backend_pid()")))

    async def no_tenant() -> None:
        async with global_session() as s:
            assert await s.scalar(SETTING) == ""
            assert await s.scalar(sa.text("select count(*) from employees")) == 0
            assert await fetch(s, "select id from departments") == []

    async def rolled_back(t: TenantInfo) -> None:
        with pytest.raises(_Abort):
            async with tenant_session(t.id) as s:
                await s.execute(sa.text("update employees set title = 'rolled back'"))
                raise _Abort

    async def graphql_page(client: httpx.AsyncClient, t: TenantInfo) -> None:
        r = await client.post(
            "/graphql",
            json={"query": PAGE},
            headers={"Authorization": f"Bearer {t.token('admin@t.example')}"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body["errors"]
        page = body["data"]["employees"]
        ids = {e["node"]["id"] for e in page["edges"]}
        assert ids == {to_global_id("Employee", i) for i in people[t.id]}
        assert page["totalCount"] == len(people[t.id])
        index = tenants.index(t)
        assert all(e["node"]["name"].split()[-1].split(".")[0] == str(index) for e in page["edges"])

    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://upward.test"
    ) as client:
        jobs = [
            *(raw_then_tenant(t) for t in tenants),
            *(in_tenant_session(t) for t in tenants),
            *(graphql_page(client, t) for t in tenants),
            *(rolled_back(t) for t in tenants[::5]),
            *(no_tenant() for _ in range(TENANTS)),
        ]
        random.Random(50).shuffle(jobs)
        assert len(jobs) >= 200
        results = await asyncio.gather(*jobs, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, [repr(f)[:300] for f in failures[:5]]

    # the 2 server connections were shared by all of it
    assert 1 <= len(pids) <= 2, pids
    servers = [s for s in bouncer.admin("SHOW SERVERS") if s["database"] == bouncer.database]
    assert 1 <= len(servers) <= 2, servers
    assert {int(s["remote_pid"] or 0) for s in servers} >= pids
    clients = [c for c in bouncer.admin("SHOW CLIENTS") if c["database"] == bouncer.database]
    assert len(clients) > len(servers)
    stats = {s["database"]: s for s in bouncer.admin("SHOW STATS")}
    assert int(stats[bouncer.database]["total_xact_count"]) >= len(jobs)

    # no named prepared statement was left on either server, and the rollbacks wrote nothing
    assert await _named_statements(bouncer) == [0] * len(servers)
    async with owner_engine.connect() as conn:
        assert (
            await conn.scalar(sa.text("select count(*) from employees where title = 'rolled back'"))
            == 0
        )


async def _named_statements(bouncer: PgBouncer) -> list[int]:
    """pg_prepared_statements of every server connection: hold them all at once."""
    from upward.settings import APP_ROLE, get_settings

    url = bouncer.url(APP_ROLE, get_settings().app_db_password)
    conns = [await asyncpg.connect(url, statement_cache_size=0) for _ in range(bouncer.pool_size)]
    try:
        txs = [c.transaction() for c in conns]
        for tx in txs:
            await tx.start()
        counts = [await c.fetchval("select count(*) from pg_prepared_statements") for c in conns]
        for tx in txs:
            await tx.rollback()
        return counts
    finally:
        for c in conns:
            await c.close()


async def test_session_level_set_is_what_leaks(one_server: PgBouncer, acme: TenantInfo) -> None:
    """Why nothing may use session state behind PgBouncer: a session-level `set_config` stays
    on the server connection and the next client (another process, another tenant) inherits
    it, RLS included. The transaction-local setting, which is all Upward uses, does not."""
    from upward.settings import APP_ROLE, get_settings

    url = one_server.url(APP_ROLE, get_settings().app_db_password)
    a = await asyncpg.connect(url, statement_cache_size=0)
    b = await asyncpg.connect(url, statement_cache_size=0)
    count = "select count(*) from employees"
    try:
        async with a.transaction():
            await a.fetchval("select set_config('app.tenant_id', $1, true)", str(acme.id))
            assert await a.fetchval(count) == len(acme.ids)
        assert await b.fetchval("select coalesce(current_setting('app.tenant_id', true), '')") == ""
        assert await b.fetchval(count) == 0

        await a.fetchval("select set_config('app.tenant_id', $1, false)", str(acme.id))  # session
        assert await b.fetchval("select current_setting('app.tenant_id', true)") == str(acme.id)
        assert await b.fetchval(count) == len(acme.ids)  # b never set a tenant
    finally:
        await b.execute("reset app.tenant_id")
        await a.close()
        await b.close()


async def test_the_engine_warns_when_the_server_limits_are_not_set(
    one_server: PgBouncer, caplog: pytest.LogCaptureFixture
) -> None:
    """PgBouncer refuses the startup parameters that set `statement_timeout` and
    `idle_in_transaction_session_timeout`: without a `connect_query` (or role settings) the
    first connection says so."""
    from upward.db import _make_engine, tenant_session
    from upward.settings import APP_ROLE, get_settings

    url = one_server.url(APP_ROLE, get_settings().app_db_password)
    engine = _make_engine(url, pool_size=1, max_overflow=0, app_name="upward", pgbouncer=True)
    try:
        with caplog.at_level(logging.WARNING, logger="upward.db"):
            async with tenant_session(uuid.uuid4(), engine=engine) as s:
                assert await s.scalar(sa.text("show statement_timeout")) == "0"
        assert any("connect_query" in r.getMessage() for r in caplog.records), caplog.records
    finally:
        await engine.dispose()


async def test_connect_query_sets_the_limits_the_settings_ask_for(
    app_through: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    from upward.db import IDLE_IN_TRANSACTION_MS
    from upward.settings import get_settings

    with caplog.at_level(logging.WARNING, logger="upward.db"):
        async with app_through.connect() as conn, conn.begin():
            rows = dict(
                (
                    await conn.execute(
                        sa.text(
                            "select name, setting from pg_settings where name in"
                            " ('statement_timeout', 'idle_in_transaction_session_timeout',"
                            " 'application_name')"
                        )
                    )
                ).all()
            )
    assert rows == {
        "statement_timeout": str(get_settings().db_statement_timeout_ms),
        "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
        "application_name": "upward",
    }
    assert not [r for r in caplog.records if r.name == "upward.db"]


def test_the_direct_path_keeps_its_caches_and_startup_limits() -> None:
    from upward.db import connect_args

    direct = connect_args("upward")
    assert set(direct) == {"server_settings"}  # asyncpg's and SQLAlchemy's caches: defaults
    assert set(direct["server_settings"]) == {
        "application_name",
        "statement_timeout",
        "idle_in_transaction_session_timeout",
    }
    behind = connect_args("upward", pgbouncer=True)
    assert behind["server_settings"] == {"application_name": "upward"}
    assert behind["statement_cache_size"] == 0 and behind["prepared_statement_cache_size"] == 0
    assert behind["prepared_statement_name_func"]() == ""


@pytest.mark.skipif(
    os.environ.get("UPWARD_TEST_PGBOUNCER") != "1", reason="only with UPWARD_TEST_PGBOUNCER=1"
)
async def test_the_suites_app_engine_goes_through_the_sessions_pgbouncer(
    app_engine: AsyncEngine,
) -> None:
    """`make test-pgbouncer`: the app role's engine, and the processes the tests start (they
    inherit the environment), go through the session's PgBouncer; the owner's stays direct."""
    from tests import conftest
    from upward.settings import get_settings

    bouncer = conftest._pgbouncer
    assert bouncer is not None
    assert os.environ["UPWARD_DB_PGBOUNCER"] == "true"
    app_url = urlsplit(os.environ["UPWARD_APP_DATABASE_URL"])
    assert (app_url.username, app_url.port) == ("upward_app", bouncer.port)
    assert urlsplit(get_settings().owner_url()).port != bouncer.port
    async with app_engine.connect() as conn, conn.begin():
        pid = await conn.scalar(sa.text("select pg_backend_pid()"))
        servers = bouncer.admin("SHOW SERVERS")  # while this transaction holds one
    assert pid in {int(s["remote_pid"] or 0) for s in servers}
