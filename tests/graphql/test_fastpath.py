"""The fast completion path gives exactly the general path's answers, errors included."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TenantInfo, token
from upward.graphql.context import RequestContext
from upward.graphql.schema import build_schema

FAST = build_schema()
SLOW = build_schema(fast_path=False)

QUERIES = [
    # the hot page: joined relations, plain attributes
    """{ employees(first: 50) { totalCount pageInfo { hasNextPage endCursor }
         edges { cursor node { id name email title jobLevel status timezone hireDate roles
           manager { id name hireDate manager { name } } department { id name code }
           location { name country timezone } } } } }""",
    # lazy fields (loaded through DataLoaders) mixed with plain ones
    """{ me { name isManager manager { name manager { name department { name } } }
         directReports { edges { node { __typename name location { name } } } }
         managerChain { name email } } }""",
    # fragments, aliases, __typename and directives (general path)
    """query($yes: Boolean = true) { who: me { ...F alias: name
         manager @include(if: $yes) { ...F } } }
       fragment F on Employee { __typename id n: name department { name } }""",
    # fragments and inline fragments on the fast path
    """query { employees(first: 20) { ...Page } }
       fragment Page on EmployeeConnection { totalCount edges { node { ...Person
         manager { ...Person } ... on Employee { department { name } } } } }
       fragment Person on Employee { id name email jobLevel location { name } }""",
    """{ nodes(ids: ["RW1wbG95ZWU6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"]) { id } }""",
    """{ departments { id name code } locations { id name timezone country } }""",
    """{ auditEvents(first: 5) { edges { node { action actorType actor { name } targetType } } } }""",
]


async def _run(schema: Any, query: str, tok: str) -> dict[str, Any]:
    ctx = RequestContext(None, "fastpath-test")
    await ctx.authenticate(f"Bearer {tok}")
    try:
        result = await schema.execute(query, context_value=ctx)
    finally:
        await ctx.finish(commit=False)
    errors = [(e.message, e.path) for e in result.errors or []]
    return {"data": result.data, "errors": errors}


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(
    "who", ["admin@acme.example", "dana.lee@acme.example", "sam.rivera@acme.example"]
)
async def test_same_answers(query: str, who: str, acme: TenantInfo) -> None:
    tok = token("acme", who)
    fast = await _run(FAST, query, tok)
    slow = await _run(SLOW, query, tok)
    assert fast == slow
    assert fast["data"] is not None or fast["errors"]


@pytest.mark.parametrize("index", [0, 3])
async def test_the_hot_page_is_compiled(acme: TenantInfo, index: int) -> None:
    from upward.graphql import fastpath

    fastpath._PLANS.clear()
    await _run(FAST, QUERIES[index], token("acme", "sam.rivera@acme.example"))
    compiled = {key[0].name for key, (_, fn) in fastpath._PLANS.items() if callable(fn)}
    assert {"Employee", "EmployeeEdge", "Location"} <= compiled
