"""The Relay `Node` interface and the registry that resolves global ids to objects."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from upward.errors import NotFound

# type name -> batch resolver (context, ids) -> {id: object}; domains register theirs.
NodeResolver = Callable[[Any, list[uuid.UUID]], Awaitable[dict[uuid.UUID, Any]]]
NODE_RESOLVERS: dict[str, NodeResolver] = {}


def register_node(type_name: str) -> Callable[[NodeResolver], NodeResolver]:
    def deco(fn: NodeResolver) -> NodeResolver:
        NODE_RESOLVERS[type_name] = fn
        return fn

    return deco


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID


async def resolve_nodes(ctx: Any, decoded: list[tuple[str, uuid.UUID]]) -> list[Any]:
    """Objects in request order; a NotFound error in place of each missing one."""
    by_type: dict[str, list[uuid.UUID]] = {}
    for type_name, raw in decoded:
        by_type.setdefault(type_name, []).append(raw)
    found: dict[tuple[str, uuid.UUID], Any] = {}
    for type_name, ids in by_type.items():
        resolver = NODE_RESOLVERS.get(type_name)
        if resolver is None:
            continue
        for raw, obj in (await resolver(ctx, ids)).items():
            found[(type_name, raw)] = obj
    return [found.get(key) or NotFound("no object with this id") for key in decoded]
