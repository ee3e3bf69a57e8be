"""Schema assembly: each domain contributes a Query and a Mutation class; limits and caches."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import strawberry
from graphql import DocumentNode, GraphQLError, parse, validate
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation import NoSchemaIntrospectionCustomRule
from starlette.requests import Request
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult, Info
from strawberry.types.graphql import OperationType

from upward.audit.schema import AuditQuery
from upward.credentials.schema import CredentialsMutation, CredentialsQuery
from upward.development.checkins_schema import CheckInMutation, CheckInQuery
from upward.development.feedback_schema import FeedbackMutation, FeedbackQuery
from upward.development.ladders_schema import LadderMutation
from upward.development.mentorship_schema import MentorshipMutation, MentorshipQuery
from upward.development.plans_schema import PlansMutation, PlansQuery
from upward.development.schema import (
    CareerMutation,
    CareerQuery,
    DevelopmentMutation,
    DevelopmentQuery,
)
from upward.errors import BadUserInput
from upward.graphql import limits
from upward.graphql.context import RequestContext
from upward.graphql.cost import make_cost_rule, request_cost
from upward.graphql.fastpath import FastExecutionContext
from upward.graphql.lazy import default_resolver
from upward.graphql.node import Node, resolve_nodes
from upward.graphql.relay import from_global_id
from upward.graphql.scopes import ScopedExecutionContext, check_type
from upward.integrations.api_keys_schema import ApiKeysMutation, ApiKeysQuery
from upward.integrations.schema import IntegrationsMutation, IntegrationsQuery
from upward.mobility.applications_schema import ApplicationsMutation, ApplicationsQuery
from upward.mobility.live_schema import ApplicationsSubscription
from upward.mobility.matching_schema import MatchingQuery
from upward.mobility.postings_schema import PostingsMutation, PostingsQuery
from upward.observability import operation_var
from upward.people.schema import PeopleMutation, PeopleQuery
from upward.people.sync_schema import SyncMutation
from upward.recognition.insights_schema import InsightsQuery
from upward.recognition.milestones_schema import MilestonesMutation, MilestonesQuery
from upward.recognition.rewards_schema import RewardsMutation, RewardsQuery
from upward.recognition.schema import RecognitionMutation, RecognitionQuery
from upward.reminders.live_schema import RemindersSubscription
from upward.reminders.schema import RemindersMutation, RemindersQuery
from upward.settings import Settings, get_settings


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global id; NOT_FOUND if it does not exist for you."
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        principal = info.context.require_principal()
        decoded = from_global_id(id, field="id")
        denied = check_type(principal, info._raw_info.schema.get_type(decoded[0]))
        if denied is not None:
            raise denied
        result = (await resolve_nodes(info.context, [decoded]))[0]
        if isinstance(result, Exception):
            raise result
        return result

    @strawberry.field(
        description="Objects by global id, in order (at most 100); a NOT_FOUND "
        "error at each missing one."
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        principal = info.context.require_principal()
        if len(ids) > 100:
            raise BadUserInput("at most 100 ids", field="ids")
        decoded = [from_global_id(v, field=f"ids.{i}") for i, v in enumerate(ids)]
        schema = info._raw_info.schema
        denied = [check_type(principal, schema.get_type(t)) for t, _ in decoded]
        allowed = [d for d, err in zip(decoded, denied, strict=True) if err is None]
        found = iter(await resolve_nodes(info.context, allowed)) if allowed else iter(())
        return [next(found) if err is None else err for err in denied]


@strawberry.type
class Query(
    NodeQuery,
    PeopleQuery,
    CredentialsQuery,
    DevelopmentQuery,
    CareerQuery,
    PlansQuery,
    CheckInQuery,
    FeedbackQuery,
    MentorshipQuery,
    RemindersQuery,
    PostingsQuery,
    ApplicationsQuery,
    MatchingQuery,
    RecognitionQuery,
    RewardsQuery,
    MilestonesQuery,
    InsightsQuery,
    IntegrationsQuery,
    ApiKeysQuery,
    AuditQuery,
):
    pass


@strawberry.type
class Mutation(
    PeopleMutation,
    SyncMutation,
    CredentialsMutation,
    DevelopmentMutation,
    CareerMutation,
    PlansMutation,
    CheckInMutation,
    LadderMutation,
    FeedbackMutation,
    MentorshipMutation,
    RemindersMutation,
    PostingsMutation,
    ApplicationsMutation,
    RecognitionMutation,
    RewardsMutation,
    MilestonesMutation,
    IntegrationsMutation,
    ApiKeysMutation,
):
    pass


@strawberry.type
class Subscription(RemindersSubscription, ApplicationsSubscription):  # over WebSocket: ws.py
    pass


@functools.lru_cache(maxsize=1000)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


@functools.lru_cache(maxsize=1000)
def _validate(schema: Any, document: DocumentNode, rules: tuple[Any, ...]) -> list[GraphQLError]:
    return validate(schema, document, rules)


class RequestPipeline(SchemaExtension):
    """One extension for the whole request pipeline (each extension costs a little on every
    request): documents parsed with a token limit and cached by their text, validated with
    the limit rules and cached, and the operation name put in the log context and metrics."""

    max_tokens = 3000
    rules: tuple[Any, ...] = ()

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        ec.graphql_document = _parse(ec.query, self.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        ec.validation_rules = (*ec.validation_rules, *self.rules)
        ec.pre_execution_errors = _validate(
            ec.schema._schema, ec.graphql_document, ec.validation_rules
        )
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        operation_var.set(ec.operation_name)
        ctx = ec.context
        if isinstance(ctx, RequestContext) and isinstance(ctx.request, Request):
            await self._charge(ec, ctx)
        yield

    async def _charge(self, ec: Any, ctx: RequestContext) -> None:
        """Charge the operation's cost to its rate-limit buckets; refuse it when one is empty.
        A request that did not authenticate costs 1 (its address's budget)."""
        principal = ctx.principal
        cost = request_cost(ec.graphql_document, ec.operation_name) if principal else 1
        decision = await limits.charge(ctx.settings, principal, ctx.client_ip, cost)
        ctx.cost, ctx.rate = cost, decision
        if decision is not None and not decision.allowed:
            error = decision.error()
            ec.result = GraphQLExecutionResult(
                data=None, errors=[GraphQLError(error.message, original_error=error)]
            )


class UpwardSchema(strawberry.Schema):
    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        """Errors are logged once, by the view's formatter (internal ones with traceback)."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Queries and mutations only, whatever the transport allows: a subscription streams
        (`subscribe`, over the WebSocket: graphql/ws.py), so over HTTP it is a 400."""
        allowed = _ALLOWED if allowed_operation_types is None else allowed_operation_types
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            set(allowed) - _STREAMED,
            operation_extensions,
        )


_ALLOWED = frozenset(OperationType)
_STREAMED = frozenset({OperationType.SUBSCRIPTION})


def build_schema(settings: Settings | None = None, *, fast_path: bool = True) -> strawberry.Schema:
    settings = settings or get_settings()
    # The limit rules are built once: the validation cache is keyed by the rule classes, and
    # each QueryDepthLimiter/MaxAliasesLimiter instance would otherwise make fresh ones.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        make_cost_rule(settings.max_query_cost),
    ]
    if not settings.introspection_enabled:
        rules.append(NoSchemaIntrospectionCustomRule)
    # strawberry builds extensions per request from this class (the caches are module-level)
    pipeline = type(
        "RequestPipeline",
        (RequestPipeline,),
        {"max_tokens": settings.max_tokens, "rules": tuple(rules)},
    )
    extensions: list[Any] = [pipeline]
    return UpwardSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(default_resolver=default_resolver),
        execution_context_class=FastExecutionContext if fast_path else ScopedExecutionContext,
    )


def export_sdl() -> str:
    return build_schema(Settings(introspection=True, env="dev")).as_str() + "\n"
