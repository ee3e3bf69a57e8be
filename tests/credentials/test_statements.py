"""Statement counts: list fields and compliance answers do not grow with the data."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import GQL, StatementCounter, TenantInfo
from tests.credentials.fixtures import cred_org

PAGE = """query($n: Int!) { credentials(first: $n) { totalCount edges { node {
  number status employee { name department { name } } credentialType { name }
  verifiedBy { name } evidence { fileName } } } } }"""

REPORT = """{ complianceReport { people { total compliant } byDepartment { department { name } total }
  byLocation { location { name } total } byCredentialType { credentialType { name } total }
  gaps(first: 100) { totalCount edges { node { employee { name } answer { state
    credentialType { name } credential { number } requirements { graceDays } } } } } } }"""


async def _count(gql: GQL, counter: StatementCounter, q: str, v: dict, tok: str) -> int:
    counter.statements.clear()
    await gql.ok(q, v, token=tok)
    return counter.count


def _bigger_org(extra: int) -> dict[str, Any]:
    """cred_org with `extra` more engineers in Austin, half of them holding Safety."""
    org = copy.deepcopy(cred_org())
    for i in range(extra):
        email = f"eng{i}@t.example"
        org["employees"].append(
            {
                "email": email,
                "name": f"Eng {i:03d}",
                "manager": "lead@t.example",
                "department": "Engineering",
                "location": "Austin",
            }
        )
        if i % 2:
            org["credentials"].append(
                {
                    "employee": email,
                    "credential_type": "Safety",
                    "number": f"X-{i}",
                    "issued_on": org["credentials"][0]["issued_on"],
                }
            )
    return org


async def test_credentials_page_is_constant(
    gql: GQL, count_statements: StatementCounter, make_tenant: Any, frozen: Any
) -> None:
    t: TenantInfo = await make_tenant(_bigger_org(30))
    for who in ("hr@t.example", "lead@t.example"):
        tok = t.token(who)
        small = await _count(gql, count_statements, PAGE, {"n": 2}, tok)
        large = await _count(gql, count_statements, PAGE, {"n": 100}, tok)
        assert small == large, count_statements.statements


async def test_compliance_report_is_constant_in_people(
    gql: GQL, count_statements: StatementCounter, make_tenant: Any, frozen: Any
) -> None:
    small_t: TenantInfo = await make_tenant(cred_org())
    big_t: TenantInfo = await make_tenant(_bigger_org(60))
    small = await _count(gql, count_statements, REPORT, {}, small_t.token("hr@t.example"))
    big = await _count(gql, count_statements, REPORT, {}, big_t.token("hr@t.example"))
    assert small == big, count_statements.statements
    # authentication, the window, the pairs, then one batch per loader (departments,
    # locations, types, employees, credentials, rules)
    assert big <= 11, count_statements.statements


EMPLOYEE_FIELDS = """query($n: Int!) { employees(first: $n) { edges { node { name
  credentials { number status credentialType { name } }
  compliance { compliant requirements { state credentialType { name } } } } } } }"""


async def test_employee_credentials_and_compliance_are_batched(
    gql: GQL, count_statements: StatementCounter, make_tenant: Any, frozen: Any
) -> None:
    t: TenantInfo = await make_tenant(_bigger_org(30))
    tok = t.token("hr@t.example")
    small = await _count(gql, count_statements, EMPLOYEE_FIELDS, {"n": 2}, tok)
    large = await _count(gql, count_statements, EMPLOYEE_FIELDS, {"n": 100}, tok)
    # loader batches may split over event-loop ticks differently, but never grow per row
    assert large <= small <= 8, count_statements.statements
