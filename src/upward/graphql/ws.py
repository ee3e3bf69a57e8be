"""GraphQL subscriptions over WebSocket (`graphql-transport-ws`) at /graphql.

- `connection_init` carries the token: `{"Authorization": "Bearer <token>"}` (or
  `authorization`), or `{"authToken": "<token>"}`; a user's JWT or an API key. A missing or bad
  one closes the socket with 4403 (strawberry's answer to a rejected `connection_init`).
- A connection holds no database connection while idle. The subscribe itself, and then every
  event delivered, runs in its own short transaction (`LiveConnection.event`): the token is
  authenticated again (a revoked key, an offboarded person, a suspended tenant end the
  subscription with UNAUTHENTICATED at the next event), the row is loaded under the
  subscriber's own tenant, and the transaction is rolled back once the event is sent.
- Resolvers reach the current event's `RequestContext` through `info.context` (a
  `LiveConnection` forwards to it), so types resolve as over HTTP, with fresh DataLoaders per
  event. Errors are formatted as over HTTP (`extensions.code`, INTERNAL masked).
- Only subscriptions run over the socket: queries and mutations go over HTTP, where the view
  owns their transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types.unset import UNSET

from upward.auth.keys import client_address
from upward.auth.scopes import USER_ONLY
from upward.errors import BadUserInput, Unauthenticated, UpwardError
from upward.graphql import limits, live
from upward.graphql.context import RequestContext
from upward.graphql.cost import selection_cost
from upward.graphql.errors import format_error
from upward.graphql.persisted import resolve_query
from upward.graphql.scopes import cached_requirements, missing
from upward.observability import request_id_var
from upward.settings import Settings, get_settings

log = logging.getLogger(__name__)

# the RequestContext of the event being delivered (each operation runs in its own task)
_event: ContextVar[RequestContext | None] = ContextVar("upward_live_event", default=None)


def token_of(params: Mapping[str, Any] | None) -> str:
    """The token of a `connection_init` payload; UNAUTHENTICATED when there is none."""
    params = params or {}
    header = params.get("Authorization", params.get("authorization"))
    if isinstance(header, str) and header.strip():
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("`Authorization` must be `Bearer <token>`")
        return token.strip()
    token = params.get("authToken")
    if isinstance(token, str) and token.strip():
        return token.strip()
    raise Unauthenticated(
        'connection_init needs a token: {"Authorization": "Bearer <token>"} or '
        '{"authToken": "<token>"}'
    )


class LiveConnection:
    """The context of one WebSocket connection, shared by all its operations. Attributes it
    does not have come from the event being delivered (`event`), as resolvers expect of
    `info.context`."""

    transport = "websocket"

    def __init__(self, websocket: WebSocket, settings: Settings | None = None) -> None:
        self.websocket = websocket
        self.settings = settings or get_settings()
        self.request_id = uuid.uuid4().hex
        peer = websocket.client.host if websocket.client else None
        self.client_ip = client_address(
            peer, websocket.headers.get("x-forwarded-for"), self.settings.trusted_proxies
        )
        self.connection_params: dict[str, Any] | None = None  # strawberry: connection_init
        self.tenant_id: uuid.UUID | None = None
        self._token: str | None = None

    def __getattr__(self, name: str) -> Any:
        ctx = _event.get()
        if ctx is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(ctx, name)

    async def accept(self) -> None:
        """`connection_init`: authenticate its token, or refuse the connection (4403)."""
        request_id_var.set(self.request_id)
        try:
            self._token = token_of(self.connection_params)
            async with self.event() as ctx:
                self.tenant_id = ctx.require_principal().tenant_id
        except UpwardError as exc:
            log.info("websocket refused: %s: %s", exc.code, exc.message)
            raise ConnectionRejectionError({"code": exc.code}) from exc

    @asynccontextmanager
    async def event(self, info: Any = None, *, start: bool = True) -> AsyncIterator[RequestContext]:
        """One transaction of the subscriber's tenant, authenticated again, current for the
        resolvers until the block ends (rolled back: nothing is written). With `info`, the
        operation is checked as a request's would be (`_check_operation`); at its `start` (the
        subscribe, not the events after it) it is charged to the rate limits as a request
        with the same selection would be (RATE_LIMITED when a budget is empty)."""
        if self._token is None:
            raise Unauthenticated("the connection was not initialised")
        ctx = RequestContext(None, self.request_id, self.settings)
        try:
            await ctx.authenticate(f"Bearer {self._token}", self.client_ip)
            principal = ctx.require_principal()
        except BaseException:
            await ctx.finish(commit=False)
            raise
        reset = _event.set(ctx)
        try:
            if self.tenant_id is not None and principal.tenant_id != self.tenant_id:
                raise Unauthenticated("the token now names another tenant")
            if info is not None:
                await _check_operation(ctx, principal, info)
                if start:
                    await limits.enforce(self.settings, principal, self.client_ip, _cost(info))
            yield ctx
        finally:
            try:
                _event.reset(reset)
            except ValueError:  # closed from another context (a finalizer)
                _event.set(None)
            await ctx.finish(commit=False)

    async def follow(
        self, info: Any, channel: str
    ) -> AsyncIterator[tuple[RequestContext, dict[str, Any]]]:
        """Each message published on `channel` from now on, with its event's context (current
        until the consumer asks for the next one). Use it inside `contextlib.aclosing`."""
        async with live.broadcaster().subscribe(channel) as sub:
            async for raw in sub:
                msg = live.decode(raw)
                if msg is None:
                    continue
                async with self.event(info, start=False) as ctx:
                    if msg["t"] != str(ctx.require_principal().tenant_id):
                        log.warning("live updates: a message of another tenant on %s", channel)
                        continue
                    yield ctx, msg


async def _check_operation(ctx: RequestContext, principal: Any, info: Any) -> None:
    """What a request's pipeline checks before it runs, for the subscription's operation:
    an API key's scopes cover the field and its selection (FORBIDDEN), and a client restricted
    to trusted documents runs a registered one (PERSISTED_QUERY_NOT_IN_LIST)."""
    raw = info._raw_info
    if principal.scopes is not None:
        reqs = cached_requirements(raw.schema, raw.operation, raw.fragments)
        denied = missing(principal, reqs.get(raw.path.key, frozenset({USER_ONLY})))
        if denied is not None:
            raise denied
    if principal.document_collection is not None:
        loc = raw.operation.loc
        await resolve_query(ctx, loc.source.body if loc is not None else "", None)


def _cost(info: Any) -> int:
    """What subscribing costs: 1 + the objects one event's selection may return."""
    raw = info._raw_info
    return 1 + selection_cost(raw.operation.selection_set, raw.fragments, frozenset())


def live_connection(info: Any) -> LiveConnection:
    ctx = info.context
    if not isinstance(ctx, LiveConnection):
        raise BadUserInput(
            "subscriptions run over the WebSocket at /graphql (subprotocol graphql-transport-ws)"
        )
    return ctx


def message_id(msg: dict[str, Any]) -> uuid.UUID | None:
    """The `id` of a live message, or None when it is not a UUID (logged, skipped)."""
    try:
        return uuid.UUID(str(msg.get("id")))
    except ValueError:
        log.warning("live updates: a message without a valid id: %r", msg)
        return None


# --- strawberry plumbing -----------------------------------------------------------------------


class _Formatted(GraphQLError):
    """An error already in its wire format (`format_error`, as over HTTP)."""

    def __init__(self, formatted: dict[str, Any]) -> None:
        super().__init__(formatted["message"])
        self._wire = formatted

    @property
    def formatted(self) -> Any:  # type: ignore[override]
        return self._wire


def _coded(error: GraphQLError, request_id: str) -> GraphQLError:
    original = error.original_error
    # strawberry closes the socket (4400) for these: leave them as they are
    if isinstance(error, GraphQLSyntaxError) or isinstance(original, CannotGetOperationTypeError):
        return error
    if isinstance(original, InvalidOperationTypeError):
        return _Formatted(
            {
                "message": "only subscriptions run over the WebSocket: send queries and "
                "mutations to POST /graphql",
                "extensions": {"code": "BAD_REQUEST"},
            }
        )
    return _Formatted(format_error(error, request_id))


async def _with_codes(source: Any, request_id: str) -> AsyncIterator[Any]:
    async with aclosing(source):
        async for result in source:
            errors = getattr(result, "errors", None)
            if errors:
                result.errors = [_coded(e, request_id) for e in errors]
            yield result


class _SubscriptionsOnly:
    """What the transport handler sees of the schema: `stream` runs subscriptions only."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any = None,
        root_value: Any = None,
        operation_name: str | None = None,
        **_: Any,
    ) -> Any:
        source = await self._schema.subscribe(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
        )
        return _with_codes(source, getattr(context_value, "request_id", "-"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._schema, name)


class LiveTransportWSHandler(BaseGraphQLTransportWSHandler):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = _SubscriptionsOnly(self.schema)  # type: ignore[assignment]


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws messages are text frames (the view's JSON encoder makes bytes,
    which would go out as binary frames that browsers' clients cannot parse)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class LiveView:
    """The WebSocket side of the GraphQL view (mixed into `UpwardGraphQL`)."""

    websocket_adapter_class = TextWebSocketAdapter
    graphql_transport_ws_handler_class = LiveTransportWSHandler

    @property
    def websocket_subprotocols(self) -> list[str]:
        return [GRAPHQL_TRANSPORT_WS_PROTOCOL]  # not the legacy graphql-ws

    async def on_ws_connect(self, context: Any) -> Any:
        if not isinstance(context, LiveConnection):
            raise ConnectionRejectionError()
        await context.accept()
        return UNSET


def websocket_context(websocket: WebSocket, settings: Settings | None) -> LiveConnection:
    return LiveConnection(websocket, settings)
