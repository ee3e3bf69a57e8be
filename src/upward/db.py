"""Database engines and the tenant session.

Two roles, two engines:
- the *owner* engine (DATABASE_URL) runs migrations and provisioning;
- the *app* engine connects as `upward_app` (NOBYPASSRLS, DML grants only): the API and workers.

The tenant is set per transaction with `set_config('app.tenant_id', $1, true)` (transaction-local),
never per connection, so a pooled connection carries nothing from one transaction to the next.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from upward.settings import get_settings, sqlalchemy_url

SET_TENANT_SQL = text("select set_config('app.tenant_id', :tenant_id, true)")

# Engines are per event loop: an asyncpg connection belongs to the loop that opened it, and a
# worker process runs its async actors on dramatiq's own loop thread.
_engines: dict[tuple[str, int], AsyncEngine] = {}


def _loop_key(name: str) -> tuple[str, int]:
    try:
        loop_id = id(asyncio.get_running_loop())
    except RuntimeError:
        loop_id = 0
    return (name, loop_id)


def _make_engine(url: str, *, pool_size: int, max_overflow: int, app_name: str) -> AsyncEngine:
    settings = get_settings()
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "application_name": app_name,
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "idle_in_transaction_session_timeout": "60000",
            }
        },
    )


def app_engine() -> AsyncEngine:
    """The engine of the running service (role upward_app)."""
    key = _loop_key("app")
    engine = _engines.get(key)
    if engine is None:
        s = get_settings()
        engine = _make_engine(
            s.app_url(),
            pool_size=s.db_pool_size,
            max_overflow=s.db_max_overflow,
            app_name="upward",
        )
        _engines[key] = engine
    return engine


def owner_engine() -> AsyncEngine:
    """The owner's engine: migrations and provisioning only, never the request path."""
    key = _loop_key("owner")
    engine = _engines.get(key)
    if engine is None:
        s = get_settings()
        engine = _make_engine(s.owner_url(), pool_size=2, max_overflow=2, app_name="upward-admin")
        _engines[key] = engine
    return engine


async def dispose_engines() -> None:
    """Dispose the engines of the running loop."""
    current = _loop_key("")[1]
    for key, engine in list(_engines.items()):
        if key[1] == current:
            await engine.dispose()
            del _engines[key]


async def set_tenant(conn: AsyncConnection | AsyncSession, tenant_id: uuid.UUID | str) -> None:
    """Set the tenant for the current transaction only (SET LOCAL semantics)."""
    await conn.execute(SET_TENANT_SQL, {"tenant_id": str(tenant_id)})


@asynccontextmanager
async def tenant_session(
    tenant_id: uuid.UUID | str, *, engine: AsyncEngine | None = None
) -> AsyncIterator[AsyncSession]:
    """One transaction with `app.tenant_id` set LOCAL; commits on success, rolls back on error."""
    session = AsyncSession(engine or app_engine(), expire_on_commit=False)
    async with session, session.begin():
        await set_tenant(session, tenant_id)
        yield session


@asynccontextmanager
async def global_session(*, engine: AsyncEngine | None = None) -> AsyncIterator[AsyncSession]:
    """A transaction with no tenant set: sees only global tables (the registry)."""
    session = AsyncSession(engine or app_engine(), expire_on_commit=False)
    async with session, session.begin():
        yield session


def pool_status() -> dict[str, Any]:
    out = {"size": 0, "checked_out": 0, "overflow": 0}
    for (name, _), engine in list(_engines.items()):
        if name != "app":
            continue
        pool: Any = engine.sync_engine.pool
        out["size"] += pool.size()
        out["checked_out"] += pool.checkedout()
        out["overflow"] += max(pool.overflow(), 0)
    return out
