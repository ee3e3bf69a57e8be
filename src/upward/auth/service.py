"""Authenticate a bearer token into a Principal, inside the request's transaction.

The tenant lookup also sets `app.tenant_id` for the transaction (one round trip), so every
statement after it runs under that tenant's row-level security.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from upward.auth.keys import authenticate_key, looks_like_key
from upward.auth.principal import EMPLOYEE, MANAGER, Principal
from upward.auth.tokens import Claims, verifier
from upward.db import Executor, fetch
from upward.errors import Unauthenticated

# One round trip: the function (created by the first migration, SECURITY INVOKER, so under
# RLS) finds the active tenant, sets app.tenant_id for this transaction and looks the employee
# up under it. Columns: the employee's (as in EMPLOYEE_FIELDS), has_reports, tenant slug and
# timezone. No row: no such active tenant; a NULL id: no such active employee.
# The columns are named, not `*`: a release's cached statement then survives a later migration
# that adds a column to the function's result (expand/contract, docs/operations.md).
_AUTHENTICATE = (
    "select tenant_id, id, email, name, title, job_level, manager_id, department_id, "
    "location_id, roles, status, timezone, hire_date, offboarded_at, created_at, updated_at, "
    "external_id, has_reports, tenant_slug, tenant_timezone, tenant_trusted_documents_only "
    "from upward_authenticate($1::uuid, $2::text, $3::uuid, $4::text)"
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


async def principal_from_claims(session: Executor, claims: Claims) -> tuple[Principal, Any]:
    """Resolve tenant and employee; returns the principal and the employee row."""
    tid_uuid, sub_uuid = _as_uuid(claims.tid), _as_uuid(claims.sub)
    rows = await fetch(
        session,
        _AUTHENTICATE,
        tid_uuid,
        None if tid_uuid else claims.tid,
        sub_uuid,
        None if sub_uuid else claims.sub.strip().lower(),
    )
    if not rows:
        raise Unauthenticated("unknown or suspended tenant")
    row = rows[0]
    if row["id"] is None:
        raise Unauthenticated("unknown or offboarded employee")
    roles = {EMPLOYEE, *row["roles"]}
    if row["has_reports"]:
        roles.add(MANAGER)
    principal = Principal(
        tenant_id=row["tenant_id"],
        tenant_slug=row["tenant_slug"],
        kind="user",
        employee_id=row["id"],
        roles=frozenset(roles),
        tenant_timezone=row["tenant_timezone"],
        document_collection="*" if row["tenant_trusted_documents_only"] else None,
    )
    return principal, row


async def authenticate_token(
    session: Executor, token: str, *, client_ip: str | None = None
) -> tuple[Principal, Any]:
    """A bearer token (a user's JWT or a partner's API key) into a Principal, with the tenant
    set for the session's transaction. The employee row is None for a key."""
    if looks_like_key(token):
        return await authenticate_key(session, token, client_ip), None
    claims = await verify_bearer(token)
    return await principal_from_claims(session, claims)


def bearer_of(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value; UNAUTHENTICATED otherwise."""
    if not authorization:
        raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    return token.strip()
