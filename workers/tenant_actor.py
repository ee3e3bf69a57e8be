"""`tenant_actor`: a dramatiq actor whose first argument is the tenant it works for.

The actor opens a tenant session exactly like a request does (app role, `app.tenant_id` set
LOCAL, one transaction) and receives a system Principal of that tenant. A suspended or unknown
tenant's message is dropped with a log line. Actors must be idempotent: dramatiq on Redis
delivers at least once.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import dramatiq
import sqlalchemy as sa
from dramatiq.middleware import CurrentMessage
from sqlalchemy.ext.asyncio import AsyncSession

from upward.auth.principal import Principal
from upward.db import tenant_session
from upward.observability import request_id_var, tenant_var
from upward.tenancy.models import Tenant

log = logging.getLogger("upward.workers")
t_tenant = Tenant.__table__

ActorFn = Callable[..., Awaitable[Any]]


def tenant_actor(
    name: str, *, queue_name: str = "default", transaction: bool = True, **options: Any
) -> Callable[[ActorFn], Any]:
    """Declare `fn(session, principal, **kwargs)` as actor `name`; send with
    `actor.send(str(tenant_id), **kwargs)`. With `transaction=False` the actor is
    `fn(principal, **kwargs)` and opens its own tenant sessions (one transaction per item)."""

    def deco(fn: ActorFn) -> Any:
        @functools.wraps(fn)
        async def run(tenant_id: str, **kwargs: Any) -> None:
            message = CurrentMessage.get_current_message()
            request_id_var.set(message.message_id if message else f"local-{uuid.uuid4().hex}")
            tid = uuid.UUID(tenant_id)
            async with tenant_session(tid) as session:
                tenant = await _active_tenant(session, tid)
                if tenant is None:
                    log.warning(
                        "dropping job for unknown or suspended tenant",
                        extra={"actor": name, "tenant_id": tenant_id},
                    )
                    return
                tenant_var.set(tenant.slug)
                principal = Principal.system(tid, tenant.slug, tenant.timezone)
                if transaction:
                    await fn(session, principal, **kwargs)
            if not transaction:
                await fn(principal, **kwargs)
            return None  # results are effects in the database, not return values

        return dramatiq.actor(run, actor_name=name, queue_name=queue_name, **options)

    return deco


async def _active_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Any:
    stmt = sa.select(t_tenant).where(t_tenant.c.id == tenant_id, t_tenant.c.status == "active")
    return (await session.execute(stmt)).first()
