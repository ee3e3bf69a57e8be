"""Signed-URL endpoints for evidence bytes (outside GraphQL, so files stream).

PUT /uploads/evidence/<token>  the bytes of a pending Evidence (from createEvidenceUpload): the
                               Content-Type must be the declared media type and the body exactly
                               the declared size; the first bytes must look like that type.
GET /evidence/<token>          the bytes of an uploaded Evidence (from Evidence.downloadUrl).

The token is the credential: HMAC-signed, short-lived, naming one tenant and one file. Both
run as the app role with the tenant set for the transaction, like any request.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.credentials import service
from upward.credentials.storage import (
    BadToken,
    TooLarge,
    content_matches,
    evidence_store,
    verify_token,
)
from upward.db import tenant_session
from upward.graphql.relay import to_global_id
from upward.tenancy.models import Tenant

log = logging.getLogger(__name__)
t_tenant = Tenant.__table__


def _error(status: int, code: str, message: str) -> Response:
    return Response(
        orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}),
        status_code=status,
        media_type="application/json",
    )


def _token_error(exc: BadToken) -> Response:
    return _error(exc.status, "FORBIDDEN" if exc.status == 403 else "GONE", str(exc))


async def _tenant(session: Any, tenant_id: Any) -> Any:
    return (
        await session.execute(
            sa.select(t_tenant.c.slug, t_tenant.c.timezone).where(
                t_tenant.c.id == tenant_id, t_tenant.c.status == "active"
            )
        )
    ).first()


async def put_evidence(request: Request) -> Response:
    try:
        tenant_id, evidence_id = verify_token(request.path_params["token"], "put")
    except BadToken as exc:
        return _token_error(exc)
    async with tenant_session(tenant_id) as s:
        tenant = await _tenant(s, tenant_id)
        row = await service.pending_evidence(s, evidence_id) if tenant else None
    if tenant is None:
        return _error(403, "FORBIDDEN", "invalid or tampered link")
    if row is None:
        return _error(409, "CONFLICT", "this evidence was already uploaded")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != row.media_type:
        return _error(415, "BAD_USER_INPUT", f"Content-Type must be {row.media_type} (as declared)")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) != row.size_bytes):
        return _error(
            400, "BAD_USER_INPUT", f"the body must be exactly {row.size_bytes} bytes (as declared)"
        )
    store = evidence_store()
    try:
        staged = await store.put(row.storage_key, request.stream(), max_bytes=row.size_bytes)
    except TooLarge:
        return _error(
            413, "PAYLOAD_TOO_LARGE", f"the body is larger than the declared {row.size_bytes} bytes"
        )
    if staged.size != row.size_bytes:
        await store.discard(staged)
        return _error(
            400, "BAD_USER_INPUT", f"declared {row.size_bytes} bytes, received {staged.size}"
        )
    if not content_matches(row.media_type, staged.head):
        await store.discard(staged)
        return _error(415, "BAD_USER_INPUT", f"the content is not {row.media_type}")
    try:
        async with tenant_session(tenant_id) as s:
            stored = await service.mark_evidence_stored(
                s, evidence_id, size=staged.size, sha256=staged.sha256
            )
            if stored is None:
                await store.discard(staged)
                return _error(409, "CONFLICT", "this evidence was already uploaded")
            principal = Principal(
                tenant_id=tenant_id,
                tenant_slug=tenant.slug,
                kind="user" if row.uploaded_by else "system",
                employee_id=row.uploaded_by,
                tenant_timezone=tenant.timezone,
            )
            await audit.record(
                s,
                principal,
                action="evidence.upload",
                target_type="EvidenceFile",
                target_id=evidence_id,
                changes={"size": staged.size, "sha256": staged.sha256},
            )
            await store.commit(staged)  # inside the transaction: a failed rename rolls back
    except Exception:
        await store.discard(staged)
        raise
    return Response(
        orjson.dumps(
            {
                "id": to_global_id("Evidence", evidence_id),
                "sizeBytes": staged.size,
                "sha256": staged.sha256,
            }
        ),
        media_type="application/json",
    )


async def get_evidence(request: Request) -> Response:
    try:
        tenant_id, evidence_id = verify_token(request.path_params["token"], "get")
    except BadToken as exc:
        return _token_error(exc)
    async with tenant_session(tenant_id) as s:
        tenant = await _tenant(s, tenant_id)
        rows = await service.evidence_by_ids(s, [evidence_id]) if tenant else {}
    row = rows.get(evidence_id)
    if row is None or row.status != "stored":
        return _error(404, "NOT_FOUND", "no such file")
    quoted = urllib.parse.quote(row.file_name, safe="")
    # read the first chunk before answering: a file missing from the store is an error the
    # client can see, not a 200 with an empty body
    chunks = evidence_store().open(row.storage_key)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except FileNotFoundError:
        log.error("evidence file missing from the store", extra={"evidence_id": str(evidence_id)})
        return _error(
            404,
            "NOT_FOUND",
            "the file is missing from storage (an operator can restore it from backup)",
        )

    async def body() -> Any:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(
        body(),
        media_type=row.media_type,
        headers={
            "Content-Length": str(row.size_bytes),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


ROUTES = [
    Route("/uploads/evidence/{token}", put_evidence, methods=["PUT"]),
    Route("/evidence/{token}", get_evidence, methods=["GET"]),
]
