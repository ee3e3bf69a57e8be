"""Keyset pagination for services: no GraphQL here, just ordering, limits and page boundaries.

A `PageArgs` carries decoded cursors (tuples of sort-key values). `paginate` applies the keyset
condition, fetches one extra row to know whether another page exists, and returns the rows in
the requested order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, Select

from upward.db import Executor


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None = None
    last: int | None = None
    after: tuple[Any, ...] | None = None
    before: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """A sort order: key (named in cursors), columns ending with a unique one, direction."""

    key: str
    columns: tuple[ColumnElement[Any], ...]
    descending: bool = False
    # converts cursor values (JSON) back to column values, one per column
    parse: tuple[Callable[[Any], Any], ...] = ()
    # Postgres types of the columns, for hand-written keyset conditions
    sql_types: tuple[str, ...] = ()


@dataclass(slots=True)
class Page:
    rows: list[Any]
    has_next: bool
    has_previous: bool
    # counts every row matching the filters (not the page); run it only if asked for
    count_stmt: Select[Any] | None = None
    # or the same as hand-written SQL with its parameters
    count_sql: tuple[str, list[Any]] | None = None
    # the count, when it came with the page (`with_count`)
    total: int | None = None


def _keyset(order: Order, values: tuple[Any, ...], forward: bool) -> ColumnElement[bool]:
    if len(values) != len(order.columns):
        raise ValueError("cursor does not match the order")
    params = [
        sa.bindparam(None, (order.parse[i](v) if order.parse else v), type_=col.type)
        for i, (col, v) in enumerate(zip(order.columns, values, strict=True))
    ]
    left, right = sa.tuple_(*order.columns), sa.tuple_(*params)
    greater = forward != order.descending
    return left > right if greater else left < right


def _order_by(order: Order, reverse: bool) -> list[ColumnElement[Any]]:
    desc = order.descending != reverse
    return [c.desc() if desc else c.asc() for c in order.columns]


async def paginate(
    session: Executor,
    stmt: Select[Any],
    order: Order,
    args: PageArgs,
    *,
    count_stmt: Select[Any] | None = None,
    with_count: bool = False,
    default_size: int = 20,
) -> Page:
    """One page in `order`. With `with_count`, the total comes in the same statement (a scalar
    subquery appended as the last column of every row), saving a round trip."""
    backward = args.last is not None and args.first is None
    size = (args.last if backward else args.first) or default_size
    if args.after is not None:
        stmt = stmt.where(_keyset(order, args.after, forward=True))
    if args.before is not None:
        stmt = stmt.where(_keyset(order, args.before, forward=False))
    stmt = stmt.order_by(*_order_by(order, reverse=backward)).limit(size + 1)
    counted = with_count and count_stmt is not None
    if counted:
        stmt = stmt.add_columns(count_stmt.scalar_subquery().label("__total"))
    rows = list((await session.execute(stmt)).all())
    return page_from_rows(rows, size, args, count_stmt=count_stmt, with_count=counted)


def page_from_rows(
    rows: list[Any],
    size: int,
    args: PageArgs,
    *,
    count_stmt: Any = None,
    count_sql: tuple[str, list[Any]] | None = None,
    with_count: bool = False,
) -> Page:
    """A Page from up to size + 1 rows fetched in query order (reversed when paging backward);
    with `with_count`, each row's last column is the total."""
    backward = args.last is not None and args.first is None
    total: int | None = None
    if with_count:
        if rows:
            total = int(rows[0][-1])
        elif args.after is None and args.before is None:
            total = 0
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
        has_next, has_previous = args.before is not None, more
    else:
        has_next, has_previous = more, args.after is not None
    return Page(
        rows=rows,
        has_next=has_next,
        has_previous=has_previous,
        count_stmt=count_stmt,
        count_sql=count_sql,
        total=total,
    )
