"""Per-request context: the principal, one tenant transaction, DataLoaders, after-commit hooks.

The request owns one connection and one transaction (tenant set LOCAL by authentication).
Strawberry resolves sibling fields concurrently and a session allows one operation at a time,
so every use of the session goes through `session()` (a lock). Mutation fields run in
`mutation()`: a savepoint, so each mutation field commits or changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request

from upward.auth.principal import Principal
from upward.auth.service import authenticate_token, bearer_of
from upward.db import Executor, app_engine, run_after_commit, take_after_commit
from upward.errors import Unauthenticated, UpwardError
from upward.observability import tenant_var
from upward.settings import Settings, get_settings

log = logging.getLogger(__name__)


class RequestContext:
    def __init__(self, request: Request | None, request_id: str, settings: Settings | None = None):
        self.request = request
        self.request_id = request_id
        self.settings = settings or get_settings()
        self.principal: Principal | None = None
        self.me_row: Any = None
        self.auth_error: UpwardError | None = None
        self.client_ip: str | None = None
        self.cost: int | None = None  # what the operation was charged (rate limits)
        self.rate: Any = None  # the rate limiter's decision (limits.Decision), for headers
        # a Core connection, not an ORM session: services only execute statements, and a
        # session object per request costs ~0.2 ms of CPU
        self._session: Executor | None = None
        self._lock = asyncio.Lock()
        self._after_commit: list[Callable[[], Any]] = []
        self._cache: dict[str, Any] = {}
        self.wrote = False  # a mutation field ran: the transaction is committed, not rolled back

    # --- auth -------------------------------------------------------------------------------

    async def authenticate(self, authorization: str | None, client_ip: str | None = None) -> None:
        self.client_ip = client_ip
        try:
            token = bearer_of(authorization)
            async with self.session() as s:
                self.principal, self.me_row = await authenticate_token(
                    s, token, client_ip=client_ip
                )
            tenant_var.set(self.principal.tenant_slug)
        except UpwardError as exc:
            self.auth_error = exc
            await self._discard_session()

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise self.auth_error or Unauthenticated("authentication required")
        return self.principal

    # --- database ---------------------------------------------------------------------------

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Executor]:
        async with self._lock:
            if self._session is None:
                conn = await app_engine().connect()
                await conn.begin()
                self._session = conn
            yield self._session

    @asynccontextmanager
    async def mutation(self) -> AsyncIterator[tuple[Executor, Principal]]:
        """A savepoint around one mutation field: its writes and its audit event, or nothing."""
        principal = self.require_principal()
        async with self.session() as s, s.begin_nested():
            self.wrote = True
            yield s, principal

    def after_commit(self, fn: Callable[[], Any]) -> None:
        """Run `fn` once the request's transaction has committed (e.g. enqueue a job)."""
        self._after_commit.append(fn)

    async def finish(self, *, commit: bool) -> None:
        session, self._session = self._session, None
        hooks, self._after_commit = self._after_commit, []
        if session is None:
            return
        hooks += take_after_commit(session)  # registered by services (upward.db.after_commit)
        try:
            if commit:
                await session.commit()
            else:
                await self._rollback(session)
        finally:
            await session.close()
        if commit:
            await run_after_commit(hooks)

    async def _rollback(self, session: Executor) -> None:
        """Roll back a request that wrote nothing. When a field fails, graphql-core cancels its
        siblings still running; one cancelled inside a statement leaves the connection unusable
        and the rollback fails. Nothing was written, so the answer stands: drop the
        connection instead of turning the response into a 500."""
        try:
            await session.rollback()
        except Exception:
            log.warning("rollback failed; dropping the connection", exc_info=True)
            with contextlib.suppress(Exception):
                await session.invalidate()

    async def _discard_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.rollback()
            await session.close()

    # --- per-request memo (loaders, viewer) --------------------------------------------------

    def memo(self, key: str, factory: Callable[[], Any]) -> Any:
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = factory()
        return value
