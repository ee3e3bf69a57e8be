"""Statement counts of list fields do not grow with the page size (no N+1)."""

from __future__ import annotations

import pytest

from tests.conftest import GQL, StatementCounter, token

PAGE = """query($n: Int!) { employees(first: $n) { totalCount edges { node {
  name manager { name } department { name } location { name } } } } }"""


async def _count(gql: GQL, counter: StatementCounter, query: str, variables: dict, tok: str) -> int:
    counter.statements.clear()
    await gql.ok(query, variables, token=tok)
    return counter.count


@pytest.mark.parametrize(
    "who, expected",
    [
        # authentication (tenant, which it sets, and employee), the page with its count
        ("sam.rivera@acme.example", 2),
        ("hr@acme.example", 2),
        # a manager's reporting line decides which private fields they see: one more
        ("dana.lee@acme.example", 3),
    ],
)
async def test_employees_page_statements_are_constant(
    gql: GQL, count_statements: StatementCounter, who: str, expected: int
) -> None:
    tok = token("acme", who)
    small = await _count(gql, count_statements, PAGE, {"n": 2}, tok)
    large = await _count(gql, count_statements, PAGE, {"n": 100}, tok)
    assert small == large == expected, count_statements.statements


@pytest.mark.parametrize(
    "query",
    [
        # long-tail fields go through DataLoaders: one batch per level, whatever the page size
        """query($n: Int!) { employees(first: $n) { edges { node { name isManager
         manager { name manager { name department { name } } } } } } }""",
        """query($n: Int!) { employee: me { reportingLine(first: $n) { totalCount edges { node {
         name manager { name } location { name } department { name } } } } } }""",
        """query($n: Int!) { auditEvents(first: $n) { edges { node { action actor { name } } } } }""",
    ],
)
async def test_nested_lists_are_batched(
    gql: GQL, count_statements: StatementCounter, query: str
) -> None:
    tok = token("acme", "admin@acme.example")
    small = await _count(gql, count_statements, query, {"n": 1}, tok)
    large = await _count(gql, count_statements, query, {"n": 40}, tok)
    assert small == large, count_statements.statements


async def test_me_costs_only_authentication(gql: GQL, count_statements: StatementCounter) -> None:
    count_statements.statements.clear()
    data = await gql.ok(
        "{ me { id name hireDate roles } }", token=token("acme", "dana.lee@acme.example")
    )
    assert data["me"]["hireDate"] is not None  # one's own private fields
    assert count_statements.count == 1, count_statements.statements  # authentication
