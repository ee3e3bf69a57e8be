"""List pages fetch only the columns their selection reads: every Employee field must still
resolve when selected alone, at the top of a page and under a joined manager."""

from __future__ import annotations

import pytest
from graphql import GraphQLNonNull, GraphQLObjectType, Undefined, get_named_type

from tests.conftest import GQL, token
from upward.graphql.schema import build_schema

SCHEMA = build_schema()
EMPLOYEE = SCHEMA._schema.type_map["Employee"]


def _selection(field_name: str) -> str:
    field = EMPLOYEE.fields[field_name]
    required = [
        n
        for n, a in field.args.items()
        if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
    ]
    assert not required, f"give {field_name} its required arguments here"
    named = get_named_type(field.type)
    if not isinstance(named, GraphQLObjectType):
        return field_name
    if "totalCount" in named.fields:
        return f"{field_name} {{ totalCount }}"
    return f"{field_name} {{ id }}" if "id" in named.fields else f"{field_name} {{ __typename }}"


@pytest.mark.parametrize("field_name", sorted(EMPLOYEE.fields))
async def test_each_field_alone(gql: GQL, field_name: str) -> None:
    sel = _selection(field_name)
    q = f"""{{ employees(first: 5) {{ edges {{ node {{ {sel}
               manager {{ {sel} }} }} }} }}
             reports: me {{ reportingLine(first: 3) {{ edges {{ node {{ {sel} }} }} }} }} }}"""
    for who in ("hr@acme.example", "sam.rivera@acme.example", "dana.lee@acme.example"):
        data = await gql.ok(q, token=token("acme", who))
        assert len(data["employees"]["edges"]) == 5
