"""Database engines and the tenant session.

Two roles, two engines:
- the *owner* engine (DATABASE_URL) runs migrations and provisioning;
- the *app* engine connects as `upward_app` (NOBYPASSRLS, DML grants only): the API and workers.

The tenant is set per transaction with `set_config('app.tenant_id', $1, true)` (transaction-local),
never per connection, so a pooled connection carries nothing from one transaction to the next.
That is also what lets the app engine run behind PgBouncer in transaction pooling mode
(`UPWARD_DB_PGBOUNCER`, see `connect_args` and docs/scaling.md, "Behind PgBouncer").
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from upward.settings import get_settings, sqlalchemy_url

log = logging.getLogger("upward.db")

SET_TENANT_SQL = text("select set_config('app.tenant_id', :tenant_id, true)")

# Engines are per event loop: an asyncpg connection belongs to the loop that opened it, and a
# worker process runs its async actors on dramatiq's own loop thread. The loop is kept with its
# engines, so its id cannot be reused by another loop while they are cached.
_engines: dict[tuple[str, int], tuple[Any, AsyncEngine]] = {}


def _cached(name: str, make: Any) -> AsyncEngine:
    try:
        loop: Any = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    key = (name, id(loop))
    entry = _engines.get(key)
    if entry is None or entry[0] is not loop:
        entry = (loop, make())
        _engines[key] = entry
    return entry[1]


IDLE_IN_TRANSACTION_MS = 60_000  # fixed (docs/configuration.md)


def connect_args(app_name: str, *, pgbouncer: bool = False) -> dict[str, Any]:
    """asyncpg's connect arguments.

    Direct to PostgreSQL: the session limits travel as startup parameters, and prepared
    statements are cached per connection (SQLAlchemy's cache, then asyncpg's).

    Behind PgBouncer in transaction pooling mode (which knows nothing of prepared statements
    before 1.21; Debian 12 ships 1.18), a client's next transaction may run on another server
    connection, and a server connection serves many clients. So:
    - no named prepared statements at all: both caches are off, and SQLAlchemy's statement
      name is `""`, PostgreSQL's unnamed statement, which every Parse replaces. A name could
      be missing on the next transaction's server or already taken there by another process;
      unique names (uuid) would pile up on the servers, since nothing deallocates them. asyncpg
      sends Parse/Describe/Flush and then Bind/Execute/Sync, with no ReadyForQuery between, so
      PgBouncer keeps both halves on one server even outside a transaction. `fetch` uses the
      unnamed statement too (asyncpg does with its cache off).
    - only `application_name` as a startup parameter (PgBouncer tracks it per client): it
      refuses the others, and with `ignore_startup_parameters` it would drop them silently.
      `statement_timeout` and `idle_in_transaction_session_timeout` are set on the server
      connections instead (PgBouncer's `connect_query`, or `ALTER ROLE upward_app SET ...`);
      the first connection of the engine checks them (`_check_server_limits`).
    """
    if not pgbouncer:
        return {
            "server_settings": {
                "application_name": app_name,
                "statement_timeout": str(get_settings().db_statement_timeout_ms),
                "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
            }
        }
    return {
        "server_settings": {"application_name": app_name},
        "statement_cache_size": 0,  # asyncpg: unnamed statements for fetch() and prepare()
        "prepared_statement_cache_size": 0,  # SQLAlchemy's adapter: no cache ...
        "prepared_statement_name_func": _unnamed,  # ... and the unnamed statement, always
    }


def _unnamed() -> str:
    return ""


def _make_engine(
    url: str, *, pool_size: int, max_overflow: int, app_name: str, pgbouncer: bool = False
) -> AsyncEngine:
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        # the most recently used connection first: under a steady load the same few stay warm
        # (their prepared statement caches hit), and the rest of the pool stays idle, instead
        # of every connection filling a cache of its own
        pool_use_lifo=True,
        connect_args=connect_args(app_name, pgbouncer=pgbouncer),
    )
    if pgbouncer:
        event.listen(engine.sync_engine, "connect", _check_server_limits, once=True)
    return engine


_LIMITS_SQL = (
    "select name, setting from pg_settings"
    " where name in ('statement_timeout', 'idle_in_transaction_session_timeout')"
)


def _check_server_limits(dbapi_connection: Any, _record: Any) -> None:
    """Behind PgBouncer the limits come from the server side, not from us: say so, once per
    engine, when a server connection has other values than the settings ask for."""
    try:
        rows = dbapi_connection.run_async(lambda conn: conn.fetch(_LIMITS_SQL))
    except Exception:  # the connection's own first query will fail and report it
        log.warning("could not read the server's statement limits", exc_info=True)
        return
    got = {r["name"]: r["setting"] for r in rows}
    want = {
        "statement_timeout": str(get_settings().db_statement_timeout_ms),
        "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_MS),
    }
    if got != want:
        log.warning(
            "behind PgBouncer, the server connections have %s, not %s: set them with"
            " PgBouncer's connect_query or ALTER ROLE upward_app SET (docs/scaling.md)",
            got,
            want,
        )


def app_engine() -> AsyncEngine:
    """The engine of the running service (role upward_app)."""
    s = get_settings()
    return _cached(
        "app",
        lambda: _make_engine(
            s.app_url(),
            pool_size=s.db_pool_size,
            max_overflow=s.db_max_overflow,
            app_name="upward",
            pgbouncer=s.db_pgbouncer,
        ),
    )


def owner_engine() -> AsyncEngine:
    """The owner's engine: migrations and provisioning only, never the request path."""
    s = get_settings()
    return _cached(
        "owner",
        lambda: _make_engine(s.owner_url(), pool_size=2, max_overflow=2, app_name="upward-admin"),
    )


async def dispose_engines() -> None:
    """Dispose the engines of the running loop."""
    loop = asyncio.get_running_loop()
    for key, (owner, engine) in list(_engines.items()):
        if owner is loop:
            del _engines[key]
            await engine.dispose()


async def set_tenant(conn: AsyncConnection | AsyncSession, tenant_id: uuid.UUID | str) -> None:
    """Set the tenant for the current transaction only (SET LOCAL semantics)."""
    await conn.execute(SET_TENANT_SQL, {"tenant_id": str(tenant_id)})


@asynccontextmanager
async def tenant_session(
    tenant_id: uuid.UUID | str, *, engine: AsyncEngine | None = None
) -> AsyncIterator[AsyncSession]:
    """One transaction with `app.tenant_id` set LOCAL; commits on success, rolls back on error."""
    session = AsyncSession(engine or app_engine(), expire_on_commit=False)
    async with session:
        async with session.begin():
            await set_tenant(session, tenant_id)
            yield session
            hooks = take_after_commit(session)
        await run_after_commit(hooks)


@asynccontextmanager
async def global_session(*, engine: AsyncEngine | None = None) -> AsyncIterator[AsyncSession]:
    """A transaction with no tenant set: sees only global tables (the registry)."""
    session = AsyncSession(engine or app_engine(), expire_on_commit=False)
    async with session, session.begin():
        yield session


_RAW = "upward.raw_connection"
_AFTER = "upward.after_commit"


def _root(session: Executor) -> Any:
    sync = session.sync_connection if isinstance(session, AsyncConnection) else session.sync_session
    return sync.get_transaction()


def after_commit(session: Executor, fn: Callable[[], Any]) -> None:
    """Run `fn` (sync or async) once the session's current transaction has committed: enqueue a
    job for rows it wrote. Dropped if the transaction rolls back (the rows do not exist)."""
    root = _root(session)
    entry = session.info.get(_AFTER)
    if entry is None or entry[0] is not root:
        entry = session.info[_AFTER] = (root, [])
    entry[1].append(fn)


def take_after_commit(session: Executor) -> list[Callable[[], Any]]:
    """The hooks registered in the session's transaction (and forget them: a Core connection's
    `info` outlives the transaction)."""
    entry = session.info.pop(_AFTER, None)
    # only this transaction's: a pooled connection's `info` may hold a dropped one's
    return entry[1] if entry is not None and entry[0] is _root(session) else []


async def run_after_commit(hooks: list[Callable[[], Any]]) -> None:
    for fn in hooks:
        try:
            result = fn()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logging.getLogger("upward.db").exception("after-commit hook failed")


# What services run statements on: an ORM session (workers, provisioning) or a Core connection
# (the request path); both execute, scalar, begin_nested and carry `info`.
Executor = AsyncSession | AsyncConnection

# Observers of statements sent with `fetch` (SQLAlchemy's own events do not see them); the
# statement-count tests listen here and to SQLAlchemy's before_cursor_execute.
STATEMENT_HOOKS: list[Callable[[str], None]] = []


async def fetch(session: Executor, sql: str, *args: Any) -> list[Any]:
    """Run hand-written SQL ($1, $2, ... parameters) on the session's connection, inside its
    transaction (so under its tenant), returning asyncpg Records. For hot queries only: it skips
    SQLAlchemy's statement compilation and row processing."""
    # The driver connection is cached for the session's current (root) transaction only: after
    # a commit SQLAlchemy may hand that connection to someone else.
    if isinstance(session, AsyncConnection):
        conn, sync = session, session.sync_connection
    else:
        conn, sync = await session.connection(), session.sync_session
    root = sync.get_transaction()
    if root is None:  # the tenant is set per transaction: there must be one
        raise RuntimeError("upward.db.fetch needs an open transaction (begin() first)")
    cached = session.info.get(_RAW)
    if cached is not None and cached[0] is root:
        adapted = cached[1]
    else:
        adapted = (await conn.get_raw_connection()).dbapi_connection
        if adapted._transaction is None:  # SQLAlchemy's asyncpg adapter begins lazily
            await adapted._start_transaction()
        session.info[_RAW] = (root, adapted)
    for hook in STATEMENT_HOOKS:
        hook(sql)
    try:
        return await adapted._connection.fetch(sql, *args)
    except Exception as exc:
        adapted._handle_exception(exc)  # as SQLAlchemy would: DBAPIError with .orig
        raise


async def xact_lock(session: Executor, *key: object, shared: bool = False) -> None:
    """A transaction-level advisory lock on `key` in the current tenant (`shared`: with other
    shared holders), released at commit or rollback, and by the server when a connection
    drops. The one place that spells and hashes the keys: the tenant, then the parts."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await fetch(
        session,
        f"select {fn}(hashtextextended(current_setting('app.tenant_id') || ':' || $1, 0))",
        ":".join(str(k) for k in key),
    )


async def fetchval(session: Executor, sql: str, *args: Any) -> Any:
    rows = await fetch(session, sql, *args)
    return rows[0][0] if rows else None


def pool_status() -> dict[str, Any]:
    out = {"size": 0, "checked_out": 0, "overflow": 0}
    for (name, _), (_, engine) in list(_engines.items()):
        if name != "app":
            continue
        pool: Any = engine.sync_engine.pool
        out["size"] += pool.size()
        out["checked_out"] += pool.checkedout()
        out["overflow"] += max(pool.overflow(), 0)
    return out


def columns(model: Any, alias: str | None = None) -> str:
    """The column list of a table (a SQLModel class or a Table), for hand-written SQL that
    would otherwise say `*`: a statement names the columns its release knows, so a later
    migration that adds one does not change its result (expand/contract, docs/operations.md;
    asyncpg refuses a cached statement whose result type changed)."""
    table = getattr(model, "__table__", model)
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + c.name for c in table.columns)


def grouped(
    rows: Iterable[Any],
    ids: Iterable[Any],
    key: Callable[[Any], Any],
    value: Callable[[Any], Any] | None = None,
) -> dict[Any, list[Any]]:
    """{id: [each row (or `value(row)`) whose `key(row)` is id]} for DataLoaders' batch
    functions: every requested id present (an empty list when nothing matched), rows in the
    order they came."""
    out: dict[Any, list[Any]] = {i: [] for i in ids}
    for r in rows:
        out[key(r)].append(r if value is None else value(r))
    return out


async def rows_by_ids(session: Executor, table: Any, ids: Any) -> dict[Any, Any]:
    """{id: row} of `table` for the given ids, in one statement (DataLoaders' batch fetch)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (await session.execute(select(table).where(table.c.id.in_(wanted)))).all()
    return {row.id: row for row in rows}


def is_unique_violation(exc: BaseException, constraint: str | None = None) -> bool:
    """Whether `exc` (SQLAlchemy's IntegrityError, or the driver error `fetch` raises) is a
    unique violation, of `constraint` when given."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code == "23505" and (constraint is None or constraint in str(orig))


class Params:
    """Positional parameters ($1, $2, ...) for hand-written SQL: `p(value, "::uuid")` records
    the value and returns its placeholder."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"

    def lazy(self, value: Any, cast: str = "") -> LazyParam:
        """A placeholder that becomes a parameter only if the SQL text uses it (Postgres cannot
        type a parameter that no expression references)."""
        return LazyParam(self, value, cast)


class LazyParam:
    def __init__(self, params: Params, value: Any, cast: str) -> None:
        self.params, self.value, self.cast = params, value, cast
        self.text: str | None = None

    def __str__(self) -> str:
        if self.text is None:
            self.text = self.params(self.value, self.cast)
        return self.text
