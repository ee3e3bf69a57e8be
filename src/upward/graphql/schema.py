"""Schema assembly: each domain contributes a Query and a Mutation class; limits and caches."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from upward.audit.schema import AuditQuery
from upward.errors import BadUserInput
from upward.graphql.fastpath import FastExecutionContext
from upward.graphql.lazy import default_resolver
from upward.graphql.node import Node, resolve_nodes
from upward.graphql.relay import from_global_id
from upward.observability import operation_var
from upward.people.schema import PeopleMutation, PeopleQuery
from upward.settings import Settings, get_settings


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global id; NOT_FOUND if it does not exist for you."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.require_principal()
        decoded = from_global_id(id, field="id")
        result = (await resolve_nodes(info.context, [decoded]))[0]
        if isinstance(result, Exception):
            raise result
        return result

    @strawberry.field(
        description="Objects by global id, in order (at most 100); a NOT_FOUND "
        "error at each missing one."
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        info.context.require_principal()
        if len(ids) > 100:
            raise BadUserInput("at most 100 ids", field="ids")
        decoded = [from_global_id(v, field=f"ids.{i}") for i, v in enumerate(ids)]
        return await resolve_nodes(info.context, decoded)


@strawberry.type
class Query(NodeQuery, PeopleQuery, AuditQuery):
    pass


@strawberry.type
class Mutation(PeopleMutation):
    pass


class OperationName(SchemaExtension):
    """Puts the operation name in the log context and metrics."""

    def on_execute(self) -> Iterator[None]:
        operation_var.set(self.execution_context.operation_name)
        yield


class UpwardSchema(strawberry.Schema):
    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Errors are logged once, by the view's formatter (internal ones with traceback)."""


def build_schema(settings: Settings | None = None, *, fast_path: bool = True) -> strawberry.Schema:
    settings = settings or get_settings()
    # factories: strawberry builds the extensions per request (the caches are module-level)
    # The limit rules are built once: the validation cache is keyed by the rule classes, and
    # each QueryDepthLimiter/MaxAliasesLimiter instance would otherwise make fresh ones.
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    extensions: list[Any] = [
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(ParserCache, maxsize=1000),
        partial(AddValidationRules, limit_rules),
        partial(ValidationCache, maxsize=1000),
        OperationName,
    ]
    if not settings.introspection_enabled:
        extensions.append(DisableIntrospection)
    return UpwardSchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(default_resolver=default_resolver),
        execution_context_class=FastExecutionContext if fast_path else None,
    )


def export_sdl() -> str:
    return build_schema(Settings(introspection=True, env="dev")).as_str() + "\n"
