"""Authenticate a bearer token into a Principal, inside the request's transaction.

The tenant lookup also sets `app.tenant_id` for the transaction (one round trip), so every
statement after it runs under that tenant's row-level security.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from upward.auth.principal import EMPLOYEE, MANAGER, Principal
from upward.auth.tokens import Claims, verifier
from upward.db import fetch
from upward.errors import Unauthenticated
from upward.people.service import EMPLOYEE_COLUMNS

# Every authenticated request runs these two: hand-written SQL through `db.fetch`.
_TENANT_BY_SLUG = (
    "select id, slug, timezone, set_config('app.tenant_id', id::text, true) "
    "from tenants where slug = $1 and status = 'active'"
)
_TENANT_BY_ID = (
    "select id, slug, timezone, set_config('app.tenant_id', id::text, true) "
    "from tenants where id = $1::uuid and status = 'active'"
)
_HAS_REPORTS = (
    "exists(select 1 from employees r where r.tenant_id = e.tenant_id "
    "and r.manager_id = e.id and r.status = 'active') as has_reports"
)
_EMPLOYEE_BY_ID = (
    f"select {EMPLOYEE_COLUMNS}, {_HAS_REPORTS} from employees e "  # noqa: S608 - constants
    "where e.id = $1::uuid and e.status = 'active'"
)
_EMPLOYEE_BY_EMAIL = (
    f"select {EMPLOYEE_COLUMNS}, {_HAS_REPORTS} from employees e "  # noqa: S608 - constants
    "where e.email = $1 and e.status = 'active'"
)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def verify_bearer(token: str) -> Claims:
    v = verifier()
    if v.jwks_client is not None:
        # PyJWKClient may fetch the JWKS over the network: keep it off the event loop.
        return await asyncio.to_thread(v.verify, token)
    return v.verify(token)


async def principal_from_claims(session: AsyncSession, claims: Claims) -> tuple[Principal, Any]:
    """Resolve tenant and employee; returns the principal and the employee row."""
    tid_uuid = _as_uuid(claims.tid)
    tenants = await fetch(
        session, _TENANT_BY_ID if tid_uuid else _TENANT_BY_SLUG, tid_uuid or claims.tid
    )
    if not tenants:
        raise Unauthenticated("unknown or suspended tenant")
    tenant = tenants[0]
    sub_uuid = _as_uuid(claims.sub)
    rows = await fetch(
        session,
        _EMPLOYEE_BY_ID if sub_uuid else _EMPLOYEE_BY_EMAIL,
        sub_uuid or claims.sub.strip().lower(),
    )
    if not rows:
        raise Unauthenticated("unknown or offboarded employee")
    row = rows[0]
    roles = {EMPLOYEE, *row["roles"]}
    if row["has_reports"]:
        roles.add(MANAGER)
    principal = Principal(
        tenant_id=tenant["id"],
        tenant_slug=tenant["slug"],
        kind="user",
        employee_id=row["id"],
        roles=frozenset(roles),
        tenant_timezone=tenant["timezone"],
    )
    return principal, row
