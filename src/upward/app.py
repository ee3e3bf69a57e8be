"""Starlette app factory: /graphql, /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from upward.credentials.http import ROUTES as evidence_routes
from upward.db import app_engine, dispose_engines
from upward.errors import RequestBodyTooLarge
from upward.graphql.admission import AdmissionGate
from upward.graphql.schema import build_schema
from upward.graphql.view import UpwardGraphQL
from upward.migrate import release_revisions, schema_state
from upward.observability import (
    HTTP_REQUESTS,
    REGISTRY,
    operation_var,
    request_id_var,
    tenant_var,
)
from upward.people.scim import ROUTES as scim_routes
from upward.settings import Settings, get_settings

log = logging.getLogger(__name__)
access_log = logging.getLogger("upward.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SIGNED_PATH = re.compile(r"^(/uploads/evidence/|/evidence/).*$")


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


class RequestMiddleware:
    """Request id (X-Request-Id in and out), body size limit (413), access metrics."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes  # evidence files, PUT to /uploads/...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        started = time.perf_counter()
        rid_token = request_id_var.set(rid)
        tenant_token = tenant_var.set(None)
        op_token = operation_var.set(None)
        status = {"code": 500, "started": False}
        limit = self.max_upload if scope.get("path", "").startswith("/uploads/") else self.max_body

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        def too_large() -> Response:
            return _json(
                {
                    "errors": [
                        {
                            "message": f"request body exceeds {limit} bytes",
                            "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                        }
                    ]
                },
                413,
            )

        length = headers.get(b"content-length")
        try:
            if length is not None and (not length.isdigit() or int(length) > limit):
                await too_large()(scope, receive, send_wrapper)
                return
            received = 0

            async def receive_limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise RequestBodyTooLarge
                return message

            try:
                await self.app(scope, receive_limited, send_wrapper)
            except RequestBodyTooLarge:
                if not status["started"]:
                    await too_large()(scope, receive, send_wrapper)
        finally:
            elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            path = scope.get("path", "")
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": _SIGNED_PATH.sub(r"\1<token>", path),  # signed URLs stay out of logs
                    "status": status["code"],
                    "duration_ms": elapsed_ms,
                },
            )
            label = path if path in ("/graphql", "/healthz", "/readyz", "/metrics") else "other"
            HTTP_REQUESTS.labels(
                method=scope.get("method", ""), path=label, status=str(status["code"])
            ).inc()
            request_id_var.reset(rid_token)
            tenant_var.reset(tenant_token)
            operation_var.reset(op_token)


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


# the schema's revision, or NULL when the table is empty; to_regclass: NULL before any migration
_REVISION = (
    "select case when to_regclass('public.alembic_version') is not null "
    "then (select max(version_num) from alembic_version) end"
)


async def readyz(request: Request) -> Response:
    """Ready to take traffic: the database (at this release's schema revision or a later one)
    and Redis answer within 2 s."""
    checks: dict[str, str] = {}
    ready = False
    try:
        await asyncio.to_thread(release_revisions)  # read once, off the event loop
    except Exception:  # an unreadable migrations folder: reported as the schema check below
        log.exception("cannot read this release's migrations")
    try:
        async with asyncio.timeout(2):
            async with app_engine().connect() as conn:
                await conn.execute(text("select 1"))
                checks["database"] = "ok"
                revision = await conn.scalar(text(_REVISION))
        ready, checks["schema"] = schema_state(revision)
        if not ready:
            log.warning("not ready: schema %s", checks["schema"])
    except Exception as exc:
        if checks.get("database") == "ok":  # no schema table, or no grant on it (before 0018)
            checks["schema"] = f"unknown ({type(exc).__name__}): run `upward migrate`"
        else:
            checks["database"] = f"error: {type(exc).__name__}"
    try:
        from workers.broker import redis_client

        async with asyncio.timeout(2):
            await asyncio.to_thread(redis_client().ping)
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for k, v in checks.items() if k != "schema") and ready
    return _json({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    graphql_app = UpwardGraphQL(
        build_schema(settings),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=True,
        multipart_uploads_enabled=False,
    )
    graphql_app.settings = settings
    graphql_app.gate = AdmissionGate(settings.max_concurrent_requests, settings.tenant_queue_limit)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        # Requests make many short-lived objects: move what startup built out of the
        # collector's way and collect the young generation less often (every 10,000 new
        # objects, not 700). Requests also leave cycles (tasks, frames, exceptions) that
        # survive a young collection when their request was still running, and only a full
        # collection frees them: the older generations follow closely (thresholds 1 and 1: a
        # full collection every sixth young one, 60,000 objects, about a minute under the
        # soak). Lazy old generations (20, 50) left that garbage for hours, and the API's RSS
        # grew ~10 MB a minute (docs/performance.md, "Load and soak").
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 1, 1)
        yield
        await dispose_engines()

    app = Starlette(
        routes=[
            Route("/graphql", graphql_app),  # the view answers other methods with 405
            WebSocketRoute("/graphql", graphql_app),  # subscriptions (graphql/ws.py)
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *evidence_routes,
            *scim_routes,
        ],
        lifespan=lifespan,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "OPTIONS"],  # PUT: evidence uploads
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id"],
            max_age=600,
        )
    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.evidence_max_bytes,
    )
    app.state.started_at = time.time()
    app.state.gate = graphql_app.gate
    app.state.settings = settings  # routes outside the GraphQL view (SCIM) read it
    return app
