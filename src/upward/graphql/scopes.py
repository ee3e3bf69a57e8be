"""What an API key needs, in one place: every root field's scope, and each domain's read scope
for the objects a selection reaches.

A key (a service principal) runs a root field only when it holds the field's scope and the
read scope of every domain the field's selection reaches: `employees { edges { node {
credentials { ... } } } }` needs `people:read` and `credentials:read`. The requirements depend
only on the document, so they are computed once per (document, operation) and cached; users
(bearer JWTs) are limited by their roles and skip this entirely. `node`/`nodes` also check the
scope of each object's type as it resolves. `tests/graphql/test_scopes.py` walks the schema and
fails when a root field is missing here or a type's domain is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from upward.auth.principal import Principal
from upward.auth.scopes import USER_ONLY
from upward.errors import Forbidden

# a root field any key with at least one scope may call; what it returns is checked by type
ANY_SCOPE = "any"

_DOMAIN_FIELDS: dict[str, tuple[str, ...]] = {
    "people:read": ("employee", "employees", "departments", "locations"),
    "people:write": (
        "createEmployee",
        "updateEmployee",
        "changeManager",
        "offboardEmployee",
        "createDepartment",
        "updateDepartment",
        "createLocation",
        "updateLocation",
        "upsertEmployees",
    ),
    "credentials:read": (
        "credentialTypes",
        "credentialRequirements",
        "credential",
        "credentials",
        "expiringCredentials",
        "employeeCompliance",
        "complianceReport",
    ),
    "credentials:write": (
        "createCredentialType",
        "updateCredentialType",
        "createCredentialRequirement",
        "updateCredentialRequirement",
        "deleteCredentialRequirement",
        "createEvidenceUpload",
        "createCredential",
        "updateCredential",
        "verifyCredential",
        "rejectCredential",
        "revokeCredential",
        "importCredentials",
    ),
    "development:read": (
        "skills",
        "employeeSkillHistory",
        "skillCategories",
        "proficiencyScale",
        "careerTracks",
        "readiness",
        "careerPaths",
        "developmentPlans",
        "checkIns",
        "checkInSeries",
        "feedbackReceived",
        "feedbackGiven",
        "feedback",
        "feedbackRequests",
        "feedbackSettings",
        "mentors",
        "mentorships",
        "mentorSuggestions",
        "learningResources",
    ),
    "development:write": (
        "createSkill",
        "updateSkill",
        "setEmployeeSkill",
        "validateEmployeeSkill",
        "removeEmployeeSkill",
        "setCredentialTypeSkills",
        "setProficiencyScale",
        "importSkills",
        "createDevelopmentPlan",
        "updateDevelopmentPlan",
        "transitionDevelopmentPlan",
        "addPlanGoal",
        "updatePlanGoal",
        "removePlanGoal",
        "addPlanActivity",
        "updatePlanActivity",
        "removePlanActivity",
        "createCheckInSeries",
        "updateCheckInSeries",
        "rescheduleCheckIn",
        "cancelCheckIn",
        "completeCheckIn",
        "setCheckInSharedNotes",
        "setCheckInPrivateNote",
        "addCheckInAgendaItem",
        "updateCheckInAgendaItem",
        "removeCheckInAgendaItem",
        "addCheckInActionItem",
        "updateCheckInActionItem",
        "removeCheckInActionItem",
        "createCareerTrack",
        "updateCareerTrack",
        "addTrackLevel",
        "updateTrackLevel",
        "removeTrackLevel",
        "setLevelExpectations",
        "linkLevels",
        "unlinkLevels",
        "requestFeedback",
        "declineFeedbackRequest",
        "closeFeedbackRequest",
        "giveFeedback",
        "setFeedbackSettings",
        "setMentorProfile",
        "removeMentorProfile",
        "requestMentorship",
        "acceptMentorship",
        "declineMentorship",
        "cancelMentorship",
        "endMentorship",
        "createLearningResource",
        "updateLearningResource",
        "retireLearningResource",
    ),
    "notifications:read": ("notifications", "unreadNotificationCount", "notificationPreferences"),
    "notifications:write": (
        "markNotificationsRead",
        "markAllNotificationsRead",
        "setNotificationPreferences",
        "acknowledgeCredentialReminders",
        "snoozeCredentialReminders",
    ),
    "reminders:read": ("reminderPolicies", "notificationTemplates", "failedDeliveries"),
    "reminders:write": (
        "setReminderPolicy",
        "deleteReminderPolicy",
        "setNotificationTemplate",
        "resetNotificationTemplate",
        "retryDelivery",
    ),
    "mobility:read": (
        "jobPostings",
        "myCareerPreferences",
        "mobilitySettings",
        "applications",
        "employeeMoves",
        "mobilityInsights",
        "postingMatches",
        "recommendedPostings",
    ),
    "mobility:write": (
        "placeEmployee",
        "createJobPosting",
        "updateJobPosting",
        "transitionJobPosting",
        "setCareerPreferences",
        "setMobilitySettings",
        "applyToPosting",
        "transitionApplication",
    ),
    "recognition:read": (
        "companyValues",
        "kudos",
        "recognitionFeed",
        "recognitionSettings",
        "rewards",
        "redemptions",
        "pointsSummary",
        "pointsHistory",
        "milestoneSettings",
        "milestones",
        "recognitionProfile",
        "recognitionLeaderboard",
        "recognitionParticipation",
        "recognitionTopValues",
        "unrecognizedPeople",
    ),
    "recognition:write": (
        "createCompanyValue",
        "updateCompanyValue",
        "giveKudos",
        "hideKudos",
        "unhideKudos",
        "reactToKudos",
        "removeKudosReaction",
        "commentOnKudos",
        "deleteKudosComment",
        "updateRecognitionSettings",
        "setPointsAllowance",
        "createReward",
        "updateReward",
        "requestRedemption",
        "approveRedemption",
        "declineRedemption",
        "cancelRedemption",
        "setMilestoneSetting",
    ),
    "webhooks:manage": (
        "webhookEventTypes",
        "webhookEndpoints",
        "webhookDeliveries",
        "createWebhookEndpoint",
        "updateWebhookEndpoint",
        "rotateWebhookSecret",
        "deleteWebhookEndpoint",
        "redeliverWebhookDelivery",
    ),
    "audit:read": ("auditEvents",),
    USER_ONLY: (
        "me",
        "viewer",
        "apiScopes",
        "apiKeys",
        "createApiKey",
        "updateApiKey",
        "rotateApiKey",
        "revokeApiKey",
    ),
    ANY_SCOPE: ("node", "nodes"),
}
_SUBSCRIPTIONS: dict[str, str] = {
    "notificationAdded": "notifications:read",
    "postingApplicationsChanged": "mobility:read",
}

# root field name -> the scope it needs (USER_ONLY: no key may call it)
ROOT_SCOPES: dict[str, str] = {
    **{field: scope for scope, fields in _DOMAIN_FIELDS.items() for field in fields},
    **_SUBSCRIPTIONS,
}

# the read scope of the objects each domain's module defines (by the Python module of the
# strawberry type); types of upward.graphql (pages, PageInfo) belong to no domain
MODULE_SCOPES: dict[str, str | None] = {
    "upward.people": "people:read",
    "upward.credentials": "credentials:read",
    "upward.development": "development:read",
    "upward.mobility": "mobility:read",
    "upward.recognition": "recognition:read",
    "upward.reminders": "reminders:read",
    "upward.integrations": "webhooks:manage",
    "upward.audit": "audit:read",
    "upward.graphql": None,
}
# types whose domain is not their module's
TYPE_SCOPES: dict[str, str | None] = {
    "Notification": "notifications:read",
    "NotificationConnection": None,
    "NotificationEdge": None,
    "NotificationPreference": "notifications:read",
    "NotificationPreferences": "notifications:read",
    "NotificationsMarked": "notifications:read",
    # deliveries are read through reminders (failedDeliveries) and webhooks (webhookDeliveries):
    # the root field's scope decides
    "Delivery": None,
    "DeliveryAttempt": None,
    "ApiKey": USER_ONLY,
    "ApiKeyWithToken": USER_ONLY,
    "ApiScope": USER_ONLY,
}


def type_scope(gql_type: Any) -> str | None:
    """The read scope of a GraphQL named type (None: none needed: scalars, enums, pages)."""
    name = getattr(gql_type, "name", None)
    if name in TYPE_SCOPES:
        return TYPE_SCOPES[name]
    if not isinstance(gql_type, (GraphQLObjectType, GraphQLInterfaceType)):
        return None
    definition = (gql_type.extensions or {}).get("strawberry-definition")
    origin = getattr(definition, "origin", None)
    module = getattr(origin, "__module__", "") or ""
    for prefix, scope in MODULE_SCOPES.items():
        if module == prefix or module.startswith(prefix + "."):
            return scope
    return None


def _walk(
    schema: GraphQLSchema,
    parent: Any,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
    out: set[str],
) -> None:
    if selection_set is None:
        return
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            fields = getattr(parent, "fields", None)
            field = fields.get(sel.name.value) if fields else None
            if field is None:  # __typename, or an unknown field (validation reports it)
                continue
            named = get_named_type(field.type)
            scope = type_scope(named)
            if scope:
                out.add(scope)
            _walk(schema, named, sel.selection_set, fragments, seen, out)
        elif isinstance(sel, InlineFragmentNode):
            target = (
                schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            )
            scope = type_scope(target)
            if scope:
                out.add(scope)
            _walk(schema, target, sel.selection_set, fragments, seen, out)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is None or name in seen:
                continue
            target = schema.get_type(frag.type_condition.name.value)
            scope = type_scope(target)
            if scope:
                out.add(scope)
            _walk(schema, target, frag.selection_set, fragments, seen | {name}, out)


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> Iterable[FieldNode]:
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            yield sel
        elif isinstance(sel, InlineFragmentNode):
            yield from _root_fields(sel.selection_set, fragments, seen)
        elif isinstance(sel, FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None and sel.name.value not in seen:
                yield from _root_fields(frag.selection_set, fragments, seen | {sel.name.value})


def requirements(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, frozenset[str]]:
    """Response key of each root field -> every scope it needs (its own and its selection's)."""
    root = schema.get_root_type(operation.operation)
    out: dict[str, set[str]] = {}
    for node in _root_fields(operation.selection_set, fragments):
        name = node.name.value
        if name.startswith("__"):  # introspection: the schema is public to any caller
            continue
        key = node.alias.value if node.alias else name
        needed = out.setdefault(key, set())
        needed.add(ROOT_SCOPES.get(name, USER_ONLY))  # undeclared: no key (the test fails)
        field = root.fields.get(name) if root else None
        if field is not None:
            _walk(
                schema,
                get_named_type(field.type),
                node.selection_set,
                fragments,
                frozenset(),
                needed,
            )
    return {k: frozenset(v) for k, v in out.items()}


_CACHE: dict[tuple[int, int], tuple[Any, dict[str, frozenset[str]]]] = {}
_CACHE_MAX = 4096


def cached_requirements(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, frozenset[str]]:
    """`requirements`, cached by the operation node (parsed documents are cached by text, so
    the same query gets the same nodes; the node is kept alive with the entry)."""
    key = (id(schema), id(operation))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is operation:
        return hit[1]
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    reqs = requirements(schema, operation, fragments)
    _CACHE[key] = (operation, reqs)
    return reqs


def missing(principal: Principal, needed: frozenset[str]) -> Forbidden | None:
    """The error for a key that lacks something `needed` (None: it may go ahead)."""
    if principal.scopes is None:
        return None
    if USER_ONLY in needed:
        return Forbidden("this field needs a signed-in person, not an API key")
    have = principal.scopes
    lacking = sorted(s for s in needed if s != ANY_SCOPE and s not in have)
    if ANY_SCOPE in needed and not have:
        lacking = lacking or ["any scope"]
    if not lacking:
        return None
    return Forbidden(
        f"this API key lacks the scope{'s' if len(lacking) > 1 else ''} "
        f"{', '.join(f'`{s}`' for s in lacking)} this field needs",
        requiredScopes=lacking,
    )


def check_type(principal: Principal, gql_type: Any) -> Forbidden | None:
    """For objects resolved by id (`node`, `nodes`): the key must hold their type's scope."""
    if principal.scopes is None:
        return None
    scope = type_scope(gql_type)
    return missing(principal, frozenset({scope})) if scope else None


class ScopedExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Refuses, field by field, the root fields a key's scopes do not cover: FORBIDDEN at that
    field (with `requiredScopes`), the other root fields still run."""

    def execute_field(  # type: ignore[override]
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        if path.prev is None:
            principal = getattr(self.context_value, "principal", None)
            if principal is not None and principal.scopes is not None:
                reqs = cached_requirements(self.schema, self.operation, self.fragment_definitions)
                needed = reqs.get(path.key, frozenset({USER_ONLY}))
                error = missing(principal, needed)
                if error is not None:
                    name = field_details_list[0].node.name.value
                    field = parent_type.fields[name]
                    self.handle_field_error(error, field.type, field_details_list, path)
                    return None
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
