"""Relay conventions: opaque global ids, signed cursors, connections with `first` at most 100."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import orjson
import strawberry

from upward.db import fetchval
from upward.errors import BadUserInput
from upward.graphql.selection import Selection
from upward.pagination import Order, Page, PageArgs

if TYPE_CHECKING:
    from upward.graphql.context import RequestContext

T = TypeVar("T")
MAX_PAGE = 100
DEFAULT_PAGE = 20


# --- global ids ---------------------------------------------------------------------------------


def to_global_id(type_name: str, raw_id: uuid.UUID) -> str:
    return base64.b64encode(f"{type_name}:{raw_id}".encode()).decode()


def from_global_id(value: str, *, field: str) -> tuple[str, uuid.UUID]:
    """Decode an opaque id; anything malformed is BAD_USER_INPUT for `field`."""
    try:
        if not isinstance(value, str) or len(value) > 200:
            raise ValueError
        decoded = base64.b64decode(value.encode(), validate=True).decode()
        type_name, _, raw = decoded.partition(":")
        if not type_name or not raw:
            raise ValueError
        return type_name, uuid.UUID(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadUserInput("malformed id", field=field) from None


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def expect_global_id(value: str, type_name: str, *, field: str) -> uuid.UUID:
    kind, raw = from_global_id(value, field=field)
    if kind != type_name:
        raise BadUserInput(f"expected {_a(type_name)} id, got {_a(kind)} id", field=field)
    return raw


def optional_global_id(value: str | None, type_name: str, *, field: str) -> uuid.UUID | None:
    """`expect_global_id` for an optional argument: None (or an empty string) is None."""
    return expect_global_id(value, type_name, field=field) if value else None


# --- cursors ------------------------------------------------------------------------------------
# A cursor is the sort-key values of a row, signed with HMAC over the tenant and the order. A
# cursor from another tenant, another order or a tampered one fails the same way: BAD_USER_INPUT.


def _jsonable(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else str(v) if isinstance(v, uuid.UUID) else v


def encode_cursor(
    secret: bytes, tenant_id: uuid.UUID, order_key: str, values: tuple[Any, ...]
) -> str:
    payload = orjson.dumps([_jsonable(v) for v in values])
    sig = hmac.new(
        secret, tenant_id.bytes + order_key.encode() + b"\0" + payload, hashlib.sha256
    ).digest()[:12]
    return base64.urlsafe_b64encode(sig + payload).decode().rstrip("=")


def decode_cursor(
    secret: bytes, tenant_id: uuid.UUID, order_key: str, cursor: str, *, field: str
) -> tuple[Any, ...]:
    try:
        if len(cursor) > 1000:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sig, payload = raw[:12], raw[12:]
        good = hmac.new(
            secret, tenant_id.bytes + order_key.encode() + b"\0" + payload, hashlib.sha256
        ).digest()[:12]
        if not hmac.compare_digest(sig, good):
            raise ValueError
        values = orjson.loads(payload)
        if not isinstance(values, list):
            raise ValueError
        return tuple(values)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise BadUserInput("invalid cursor", field=field) from None


# --- connection types ---------------------------------------------------------------------------


@strawberry.type(description="Where a page sits in the whole list (Relay).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="An item of a connection with its cursor.")
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(
    description="A page of a list: pass `pageInfo.endCursor` as `after` for the next one."
)
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Any] | None] = None

    @strawberry.field(description="How many items match the filters (all pages).")
    async def total_count(self) -> int:
        assert self._count is not None
        return await self._count()


def page_args(
    ctx: RequestContext,
    order: Order,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> PageArgs:
    if first is not None and last is not None:
        raise BadUserInput("pass either `first` or `last`, not both", field="first")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 < value <= MAX_PAGE:
            raise BadUserInput(f"`{name}` must be between 1 and {MAX_PAGE}", field=name)
    principal = ctx.require_principal()
    secret = ctx.settings.effective_cursor_secret
    return PageArgs(
        first=first if first is not None or last is not None else DEFAULT_PAGE,
        last=last,
        after=decode_cursor(secret, principal.tenant_id, order.key, after, field="after")
        if after is not None
        else None,
        before=decode_cursor(secret, principal.tenant_id, order.key, before, field="before")
        if before is not None
        else None,
    )


def wants_total(selection: Selection) -> bool:
    """Whether the connection's `totalCount` is selected (then it is fetched with the page)."""
    return "totalCount" in selection.names(())


class LazyEdge:
    """An edge whose cursor is signed only if the client selects it (Edge has no interfaces,
    so any object with `cursor` and `node` completes as one)."""

    __slots__ = ("_key", "node")

    def __init__(self, node: Any, key: tuple[Any, ...]) -> None:
        self.node = node
        self._key = key

    @property
    def cursor(self) -> str:
        return self._key[0](self._key[1])


def build_connection(
    ctx: RequestContext,
    page: Page,
    order: Order,
    to_node: Callable[[Any], Any],
    sort_key: Callable[[Any], tuple[Any, ...]] | None = None,
) -> Connection[Any]:
    """A connection of `page`; `sort_key(row)` gives the order's column values (by default the
    row's attributes of those names)."""
    secret = ctx.settings.effective_cursor_secret
    tenant_id = ctx.require_principal().tenant_id
    names = [c.name for c in order.columns]
    order_key = order.key
    key_of = sort_key or (lambda row: tuple(getattr(row, n) for n in names))

    def sign(row: Any) -> str:
        return encode_cursor(secret, tenant_id, order_key, key_of(row))

    edges = [LazyEdge(to_node(r), (sign, r)) for r in page.rows]
    rows = page.rows
    count_stmt, count_sql, total = page.count_stmt, page.count_sql, page.total

    async def count() -> int:
        if total is not None:
            return total
        async with ctx.session() as s:
            if count_sql is not None:
                return int(await fetchval(s, count_sql[0], *count_sql[1]))
            return int((await s.execute(count_stmt)).scalar_one())

    return Connection(
        edges=edges,  # type: ignore[arg-type]
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=sign(rows[0]) if rows else None,
            end_cursor=sign(rows[-1]) if rows else None,
        ),
        _count=count if count_stmt is not None or count_sql is not None else None,
    )
