from __future__ import annotations

from typing import Any

from tests.conftest import GQL, TenantInfo

TYPES = "{ credentialTypes(includeRetired: true) { id name status } }"


async def type_ids(gql: GQL, t: TenantInfo) -> dict[str, str]:
    data = await gql.ok(TYPES, token=t.token("hr@t.example"))
    return {x["name"]: x["id"] for x in data["credentialTypes"]}


CREATE = """mutation($i: CreateCredentialInput!) { createCredential(input: $i) { credential {
  id number status issuedOn expiresOn verification issuer supersededAt
  employee { email } credentialType { name } } } }"""

LIST = """query($f: CredentialFilter) { credentials(filter: $f, first: 100) { totalCount
  edges { node { id number status employee { email } } } } }"""


async def numbers(gql: GQL, who: str, t: TenantInfo, f: dict[str, Any] | None = None) -> list[str]:
    data = await gql.ok(LIST, {"f": f}, token=t.token(who))
    return sorted(e["node"]["number"] for e in data["credentials"]["edges"])
