"""Every root field declares the scope a key needs; a key without it is refused field by field."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)

from upward.auth.scopes import SCOPES, USER_ONLY
from upward.graphql import scopes
from upward.graphql.schema import build_schema
from upward.settings import Settings

SCHEMA = build_schema(Settings(introspection=True, env="dev"))._schema
ROOTS = [t for t in (SCHEMA.query_type, SCHEMA.mutation_type, SCHEMA.subscription_type) if t]
_SCALARS = {
    "ID": '"x"',
    "String": '"x"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "true",
    "Date": '"2026-01-01"',
    "DateTime": '"2026-01-01T00:00:00Z"',
    "JSON": "{}",
}


def _literal(t: Any) -> str:
    if isinstance(t, GraphQLNonNull):
        return _literal(t.of_type)
    if isinstance(t, GraphQLList):
        return f"[{_literal(t.of_type)}]"
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values))
    if isinstance(t, GraphQLInputObjectType):
        parts = [
            f"{name}: {_literal(f.type)}"
            for name, f in t.fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is not None.__class__
        ]
        return "{" + ", ".join(parts) + "}"
    assert isinstance(t, GraphQLScalarType)
    return _SCALARS[t.name]


def _required_args(field: Any) -> str:
    args = [
        f"{name}: {_literal(a.type)}"
        for name, a in field.args.items()
        if isinstance(a.type, GraphQLNonNull) and a.default_value is _undefined()
    ]
    return f"({', '.join(args)})" if args else ""


def _undefined() -> Any:
    from graphql.pyutils import Undefined

    return Undefined


def _selection(field: Any) -> str:
    named = get_named_type(field.type)
    return "" if isinstance(named, (GraphQLScalarType, GraphQLEnumType)) else " { __typename }"


def _document(root: GraphQLObjectType, name: str) -> str:
    field = root.fields[name]
    op = {"Query": "query", "Mutation": "mutation", "Subscription": "subscription"}[root.name]
    return f"{op} {{ {name}{_required_args(field)}{_selection(field)} }}"


def test_every_root_field_declares_a_scope() -> None:
    valid = {*SCOPES, USER_ONLY, scopes.ANY_SCOPE}
    for root in ROOTS:
        for name in root.fields:
            assert name in scopes.ROOT_SCOPES, f"{root.name}.{name} declares no scope"
            assert scopes.ROOT_SCOPES[name] in valid, f"{root.name}.{name}: unknown scope"
    declared = set(scopes.ROOT_SCOPES)
    existing = {name for root in ROOTS for name in root.fields}
    assert declared <= existing | {
        "notificationAdded",
        "postingApplicationsChanged",
        "upsertEmployees",
    }, declared - existing


def test_every_object_type_belongs_to_a_domain() -> None:
    for name, t in SCHEMA.type_map.items():
        if name.startswith("__") or not isinstance(t, GraphQLObjectType) or t in ROOTS:
            continue
        if name in scopes.TYPE_SCOPES:
            continue
        definition = (t.extensions or {}).get("strawberry-definition")
        module = definition.origin.__module__
        if module.startswith("strawberry."):  # Connection[X], Edge[X]: pages, no domain
            continue
        assert any(module == p or module.startswith(p + ".") for p in scopes.MODULE_SCOPES), (
            f"type {name} (from {module}) belongs to no domain in graphql/scopes.py"
        )


def test_requirements_follow_nested_domains_and_fragments() -> None:
    from graphql import parse

    doc = parse(
        """
        query Q {
          people: employees(first: 5) { edges { node { name ...C } } }
          types: credentialTypes(first: 1) { edges { node { id } } }
        }
        fragment C on Employee { credentials(first: 2) { edges { node { id } } } }
        """
    )
    op = doc.definitions[0]
    frags = {d.name.value: d for d in doc.definitions[1:]}
    reqs = scopes.requirements(SCHEMA, op, frags)
    assert reqs["people"] == {"people:read", "credentials:read"}
    assert reqs["types"] == {"credentials:read"}


@pytest.fixture(scope="module")
async def keyed(owner_engine: Any) -> Any:
    import uuid

    from tests.conftest import SMALL_ORG, tenant_info
    from upward.tenancy.manifest import validate_manifest
    from upward.tenancy.service import apply_manifest

    slug = f"t-{uuid.uuid4().hex[:10]}"
    data = {"slug": slug, "name": "Scopes", "timezone": "UTC", **SMALL_ORG}
    result = await apply_manifest(owner_engine, validate_manifest(data, f"{slug}.toml"))
    return await tenant_info(owner_engine, result.tenant_id, slug)


async def test_a_key_without_scopes_is_refused_by_every_field(keyed: Any, gql: Any) -> None:
    token = await keyed.api_key([])
    checked = 0
    for root in (SCHEMA.query_type, SCHEMA.mutation_type):
        for name in root.fields:
            body = await gql(_document(root, name), token=token)
            codes = [e["extensions"]["code"] for e in body.get("errors", [])]
            assert codes == ["FORBIDDEN"], (name, body)
            assert body["errors"][0].get("path") == [name], (name, body)
            checked += 1
    assert checked == len(SCHEMA.query_type.fields) + len(SCHEMA.mutation_type.fields)


async def test_a_key_is_refused_field_by_field(keyed: Any, gql: Any) -> None:
    token = await keyed.api_key(["people:read"])
    body = await gql("{ departments { name } myCareerPreferences { __typename } }", token=token)
    assert {d["name"] for d in body["data"]["departments"]} == {"Engineering", "People"}
    assert body["data"]["myCareerPreferences"] is None
    err = body["errors"][0]
    assert err["path"] == ["myCareerPreferences"]
    assert err["extensions"] == {"code": "FORBIDDEN", "requiredScopes": ["mobility:read"]}
    # a nested field of another domain needs that domain's scope too
    body = await gql(
        "{ employees(first: 1) { edges { node { credentials { id } } } } }",
        token=token,
    )
    assert body["errors"][0]["extensions"]["requiredScopes"] == ["credentials:read"]
    assert body["data"] is None or body["data"]["employees"] is None


async def test_write_includes_read_and_user_only_fields_refuse_keys(keyed: Any, gql: Any) -> None:
    token = await keyed.api_key(["people:write"])
    data = await gql.ok("{ departments { name } }", token=token)
    assert {d["name"] for d in data["departments"]} == {"Engineering", "People"}
    body = await gql("{ me { name } }", token=token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "signed-in person" in body["errors"][0]["message"]


async def test_node_checks_the_type_of_the_id(keyed: Any, gql: Any) -> None:
    token = await keyed.api_key(["credentials:read"])
    emp = keyed.gid("dev@t.example")
    body = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": emp}, token=token)
    assert body["errors"][0]["extensions"]["requiredScopes"] == ["people:read"]
    body = await gql("query($id: [ID!]!) { nodes(ids: $id) { id } }", {"id": [emp]}, token=token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["nodes", 0]
    token = await keyed.api_key(["people:read"])
    data = await gql.ok("query($id: ID!) { node(id: $id) { id } }", {"id": emp}, token=token)
    assert data["node"]["id"] == emp
