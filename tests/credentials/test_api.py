"""Credentials through HTTP: types, requirements, submitting, validation, verification,
renewal history, revocation, visibility by role, and the outbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, only_error
from tests.credentials.helpers import CREATE, LIST, numbers, type_ids
from upward.graphql.relay import to_global_id


async def _count(engine: AsyncEngine, table: str, t: TenantInfo) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.text(f"select count(*) from {table} where tenant_id = :t"), {"t": t.id}
            )
        )


async def _events(engine: AsyncEngine, t: TenantInfo) -> list[tuple[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "select kind, payload from domain_events where tenant_id = :t order by occurred_at, kind"
            ),
            {"t": t.id},
        )
        return [(r.kind, r.payload) for r in rows]


class TestCredentialTypes:
    CREATE_TYPE = """mutation($i: CreateCredentialTypeInput!) { createCredentialType(input: $i) {
      credentialType { id name category validityMonths evidenceRequired verificationRequired
      renewalLeadDays issuingAuthority externalIds { scheme code } status } } }"""

    async def test_hr_creates_and_everyone_lists(self, gql: GQL, ct: TenantInfo) -> None:
        data = await gql.ok(
            self.CREATE_TYPE,
            {
                "i": {
                    "name": "  Basic Life Support ",
                    "category": "CERTIFICATION",
                    "validityMonths": 24,
                    "verificationRequired": True,
                    "renewalLeadDays": 30,
                    "issuingAuthority": "American Heart Association",
                    "externalIds": [{"scheme": "issuer", "code": "AHA-BLS"}],
                }
            },
            token=ct.token("hr@t.example"),
        )
        t = data["createCredentialType"]["credentialType"]
        assert t["name"] == "Basic Life Support"
        assert t["externalIds"] == [{"scheme": "issuer", "code": "AHA-BLS"}]
        assert t["status"] == "ACTIVE" and t["evidenceRequired"] is False
        listed = await gql.ok("{ credentialTypes { name } }", token=ct.token("dev@t.example"))
        names = [x["name"] for x in listed["credentialTypes"]]
        assert "Basic Life Support" in names
        assert "Old Course" not in names  # retired types are hidden unless asked for

    async def test_employee_cannot_manage_types(self, gql: GQL, ct: TenantInfo) -> None:
        body = await gql(
            self.CREATE_TYPE,
            {"i": {"name": "X", "category": "OTHER"}},
            token=ct.token("dev@t.example"),
        )
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"

    async def test_duplicate_name_is_a_conflict(self, gql: GQL, ct: TenantInfo) -> None:
        body = await gql(
            self.CREATE_TYPE,
            {"i": {"name": "Safety", "category": "TRAINING"}},
            token=ct.token("hr@t.example"),
        )
        assert only_error(body)["extensions"] == {"code": "CONFLICT", "field": "input.name"}

    async def test_bad_values_name_the_field(self, gql: GQL, ct: TenantInfo) -> None:
        for inp, field in (
            ({"name": "", "category": "OTHER"}, "input.name"),
            ({"name": "A", "category": "OTHER", "validityMonths": 0}, "input.validityMonths"),
            ({"name": "A", "category": "OTHER", "renewalLeadDays": -1}, "input.renewalLeadDays"),
            (
                {"name": "A", "category": "OTHER", "externalIds": [{"scheme": "A B", "code": "x"}]},
                "input.externalIds",
            ),
        ):
            body = await gql(self.CREATE_TYPE, {"i": inp}, token=ct.token("hr@t.example"))
            assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": field}

    async def test_retire_and_reactivate(self, gql: GQL, ct: TenantInfo) -> None:
        ids = await type_ids(gql, ct)
        q = """mutation($id: ID!, $i: UpdateCredentialTypeInput!) {
          updateCredentialType(id: $id, input: $i) { credentialType { status validityMonths } } }"""
        data = await gql.ok(
            q, {"id": ids["Safety"], "i": {"status": "RETIRED"}}, token=ct.token("hr@t.example")
        )
        assert data["updateCredentialType"]["credentialType"] == {
            "status": "RETIRED",
            "validityMonths": 12,
        }
        body = await gql(
            CREATE,
            {"i": {"credentialTypeId": ids["Safety"], "issuedOn": "2026-01-01"}},
            token=ct.token("dev@t.example"),
        )
        assert only_error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "input.credentialTypeId",
        }
        await gql.ok(
            q, {"id": ids["Safety"], "i": {"status": "ACTIVE"}}, token=ct.token("hr@t.example")
        )


class TestRequirements:
    CREATE_REQ = """mutation($i: CreateCredentialRequirementInput!) {
      createCredentialRequirement(input: $i) { requirement { id graceDays effectiveFrom
        credentialType { name } department { name } location { name } employee { email } } } }"""

    async def test_create_update_delete(self, gql: GQL, ct: TenantInfo) -> None:
        ids = await type_ids(gql, ct)
        hr = ct.token("hr@t.example")
        data = await gql.ok(
            self.CREATE_REQ,
            {
                "i": {
                    "credentialTypeId": ids["Forklift"],
                    "departmentId": to_global_id("Department", ct.departments["People"]),
                    "locationId": to_global_id("Location", ct.locations["Berlin"]),
                    "graceDays": 14,
                    "effectiveFrom": "2026-07-01",
                }
            },
            token=hr,
        )
        req = data["createCredentialRequirement"]["requirement"]
        assert req["department"] == {"name": "People"} and req["location"] == {"name": "Berlin"}
        upd = await gql.ok(
            """mutation($id: ID!) { updateCredentialRequirement(id: $id,
                 input: {graceDays: 0, effectiveFrom: null}) { requirement { graceDays effectiveFrom } } }""",
            {"id": req["id"]},
            token=hr,
        )
        assert upd["updateCredentialRequirement"]["requirement"] == {
            "graceDays": 0,
            "effectiveFrom": None,
        }
        listed = await gql.ok(
            "query($t: ID) { credentialRequirements(credentialTypeId: $t) { id } }",
            {"t": ids["Forklift"]},
            token=hr,
        )
        assert req["id"] in [r["id"] for r in listed["credentialRequirements"]]
        await gql.ok(
            "mutation($id: ID!) { deleteCredentialRequirement(id: $id) { deletedId } }",
            {"id": req["id"]},
            token=hr,
        )
        body = await gql("query($id: ID!) { node(id: $id) { id } }", {"id": req["id"]}, token=hr)
        assert only_error(body)["extensions"]["code"] == "NOT_FOUND"

    async def test_validation(self, gql: GQL, ct: TenantInfo) -> None:
        ids = await type_ids(gql, ct)
        hr = ct.token("hr@t.example")
        cases = [
            ({"credentialTypeId": ids["Old Course"]}, "input.credentialTypeId"),
            ({"credentialTypeId": to_global_id("CredentialType", ct.id)}, "input.credentialTypeId"),
            (
                {
                    "credentialTypeId": ids["Safety"],
                    "effectiveFrom": "2026-05-01",
                    "effectiveUntil": "2026-04-01",
                },
                "input.effectiveUntil",
            ),
            ({"credentialTypeId": ids["Safety"], "graceDays": -3}, "input.graceDays"),
            (
                {
                    "credentialTypeId": ids["Safety"],
                    "departmentId": to_global_id("Department", ct.id),
                },
                "input.departmentId",
            ),
            ({"credentialTypeId": ids["Safety"], "employeeId": ids["Safety"]}, "input.employeeId"),
        ]
        for inp, field in cases:
            body = await gql(self.CREATE_REQ, {"i": inp}, token=hr)
            assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, inp

    async def test_employees_cannot_read_or_write_rules(self, gql: GQL, ct: TenantInfo) -> None:
        dev = ct.token("dev@t.example")
        body = await gql("{ credentialRequirements { id } }", token=dev)
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        ids = await type_ids(gql, ct)
        body = await gql(self.CREATE_REQ, {"i": {"credentialTypeId": ids["Safety"]}}, token=dev)
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"


class TestSubmit:
    async def test_own_credential_with_default_expiry(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        ids = await type_ids(gql, ct)
        data = await gql.ok(
            CREATE,
            {
                "i": {
                    "credentialTypeId": ids["Forklift"],
                    "issuedOn": "2026-01-31",
                    "number": " F-9 ",
                }
            },
            token=ct.token("dev@t.example"),
        )
        c = data["createCredential"]["credential"]
        assert c["number"] == "F-9"
        assert c["expiresOn"] == "2028-01-31"  # 24 months
        assert c["status"] == "ACTIVE" and c["verification"] == "NOT_REQUIRED"
        assert c["employee"] == {"email": "dev@t.example"}
        kinds = [k for k, _ in await _events(owner_engine, ct)]
        assert kinds.count("credential.created") == 8  # 7 from the manifest, 1 now
        async with owner_engine.connect() as conn:
            action = await conn.scalar(
                sa.text(
                    "select action from audit_events where tenant_id = :t "
                    "and target_type = 'Credential' order by occurred_at desc limit 1"
                ),
                {"t": ct.id},
            )
        assert action == "credential.create"

    async def test_explicit_null_expiry_never_expires(self, gql: GQL, ct: TenantInfo) -> None:
        ids = await type_ids(gql, ct)
        data = await gql.ok(
            CREATE,
            {"i": {"credentialTypeId": ids["Safety"], "issuedOn": "2026-01-31", "expiresOn": None}},
            token=ct.token("dev@t.example"),
        )
        assert data["createCredential"]["credential"]["expiresOn"] is None

    async def test_month_end_clamps(self, gql: GQL, ct: TenantInfo) -> None:
        ids = await type_ids(gql, ct)
        data = await gql.ok(
            CREATE,
            {"i": {"credentialTypeId": ids["Safety"], "issuedOn": "2024-02-29"}},
            token=ct.token("peer@t.example"),
        )
        assert data["createCredential"]["credential"]["expiresOn"] == "2025-02-28"

    async def test_validation_errors_write_nothing(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        ids = await type_ids(gql, ct)
        before = await _count(owner_engine, "credentials", ct)
        events = len(await _events(owner_engine, ct))
        dev = ct.token("dev@t.example")
        cases = [
            ({"credentialTypeId": ids["Safety"], "issuedOn": "2026-06-16"}, "input.issuedOn"),
            (
                {
                    "credentialTypeId": ids["Safety"],
                    "issuedOn": "2026-01-01",
                    "expiresOn": "2025-12-31",
                },
                "input.expiresOn",
            ),
            (
                {"credentialTypeId": ids["Old Course"], "issuedOn": "2026-01-01"},
                "input.credentialTypeId",
            ),
            (
                {
                    "credentialTypeId": to_global_id("CredentialType", ct.id),
                    "issuedOn": "2026-01-01",
                },
                "input.credentialTypeId",
            ),
            (
                {"credentialTypeId": ct.gid("dev@t.example"), "issuedOn": "2026-01-01"},
                "input.credentialTypeId",
            ),
            ({"credentialTypeId": ids["Clearance"], "issuedOn": "2026-01-01"}, "input.evidenceId"),
            (
                {"credentialTypeId": ids["Safety"], "issuedOn": "2026-01-01", "notes": "a" * 2001},
                "input.notes",
            ),
            (
                {"credentialTypeId": ids["Safety"], "issuedOn": "2026-01-01", "number": "x\u0000"},
                "input.number",
            ),
            (
                {
                    "credentialTypeId": ids["Safety"],
                    "issuedOn": "2026-01-01",
                    "evidenceId": to_global_id("Evidence", ct.id),
                },
                "input.evidenceId",
            ),
        ]
        for inp, field in cases:
            body = await gql(CREATE, {"i": inp}, token=dev)
            err = only_error(body)
            assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (inp, err)
            assert err["message"]
        assert await _count(owner_engine, "credentials", ct) == before
        assert len(await _events(owner_engine, ct)) == events

    async def test_duplicate_live_number_is_refused(self, gql: GQL, ct: TenantInfo) -> None:
        ids = await type_ids(gql, ct)
        body = await gql(
            CREATE,
            {"i": {"credentialTypeId": ids["Safety"], "issuedOn": "2026-06-01", "number": "S-4"}},
            token=ct.token("lead@t.example"),
        )
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "input.number"}
        # the same number for another person is fine
        await gql.ok(
            CREATE,
            {"i": {"credentialTypeId": ids["Safety"], "issuedOn": "2026-06-01", "number": "S-4"}},
            token=ct.token("dev@t.example"),
        )

    async def test_only_hr_submits_for_others(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        ids = await type_ids(gql, ct)
        inp = {
            "credentialTypeId": ids["License"],
            "issuedOn": "2026-01-01",
            "employeeId": ct.gid("peer@t.example"),
        }
        body = await gql(CREATE, {"i": inp}, token=ct.token("boss@t.example"))  # peer's manager
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        data = await gql.ok(CREATE, {"i": inp}, token=ct.token("hr@t.example"))
        c = data["createCredential"]["credential"]
        # HR entering someone else's credential vouches for it
        assert c["verification"] == "VERIFIED" and c["status"] == "ACTIVE"
        assert c["employee"] == {"email": "peer@t.example"}
        verified = [p for k, p in await _events(owner_engine, ct) if k == "credential.verified"]
        assert [p["credential_id"] for p in verified] == [_raw(c["id"])]


class TestVerification:
    VERIFY = "mutation($id: ID!) { verifyCredential(id: $id) { credential { status verification verifiedBy { email } } } }"
    REJECT = "mutation($id: ID!, $r: String!) { rejectCredential(id: $id, reason: $r) { credential { status verification rejectionReason } } }"

    async def _pending(self, gql: GQL, t: TenantInfo, who: str = "dev@t.example") -> str:
        ids = await type_ids(gql, t)
        data = await gql.ok(
            CREATE,
            {"i": {"credentialTypeId": ids["License"], "issuedOn": "2026-06-01", "number": "L-2"}},
            token=t.token(who),
        )
        c = data["createCredential"]["credential"]
        assert c["status"] == "PENDING_VERIFICATION" and c["verification"] == "PENDING"
        return c["id"]

    async def test_verify(self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine) -> None:
        cid = await self._pending(gql, ct)
        body = await gql(self.VERIFY, {"id": cid}, token=ct.token("lead@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        data = await gql.ok(self.VERIFY, {"id": cid}, token=ct.token("hr@t.example"))
        assert data["verifyCredential"]["credential"] == {
            "status": "ACTIVE",
            "verification": "VERIFIED",
            "verifiedBy": {"email": "hr@t.example"},
        }
        body = await gql(self.VERIFY, {"id": cid}, token=ct.token("hr@t.example"))
        assert only_error(body)["extensions"] == {"code": "CONFLICT", "field": "id"}
        assert "credential.verified" in [k for k, _ in await _events(owner_engine, ct)]

    async def test_nobody_verifies_their_own(self, gql: GQL, ct: TenantInfo) -> None:
        cid = await self._pending(gql, ct, who="hr@t.example")
        body = await gql(self.VERIFY, {"id": cid}, token=ct.token("hr@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        await gql.ok(self.VERIFY, {"id": cid}, token=ct.token("admin@t.example"))

    async def test_reject_needs_a_reason(self, gql: GQL, ct: TenantInfo) -> None:
        cid = await self._pending(gql, ct)
        body = await gql(self.REJECT, {"id": cid, "r": "  "}, token=ct.token("hr@t.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "reason"}
        data = await gql.ok(
            self.REJECT,
            {"id": cid, "r": "Wrong person on the card"},
            token=ct.token("hr@t.example"),
        )
        assert data["rejectCredential"]["credential"] == {
            "status": "REJECTED",
            "verification": "REJECTED",
            "rejectionReason": "Wrong person on the card",
        }
        # a rejected number can be submitted again
        await self._pending(gql, ct)


class TestRenewal:
    HISTORY = """query($id: ID!) { credential(id: $id) { status supersededBy { number }
      history { number status } } }"""

    async def test_newer_credential_supersedes_and_keeps_history(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        ids = await type_ids(gql, ct)
        old = await gql.ok(
            LIST,
            {"f": {"employeeIds": [ct.gid("boss@t.example")]}},
            token=ct.token("boss@t.example"),
        )
        old_id = old["credentials"]["edges"][0]["node"]["id"]
        new = await gql.ok(
            CREATE,
            {"i": {"credentialTypeId": ids["Safety"], "issuedOn": "2026-06-10", "number": "S-3b"}},
            token=ct.token("boss@t.example"),
        )
        new_id = new["createCredential"]["credential"]["id"]
        data = await gql.ok(self.HISTORY, {"id": old_id}, token=ct.token("boss@t.example"))
        assert data["credential"]["status"] == "SUPERSEDED"
        assert data["credential"]["supersededBy"] == {"number": "S-3b"}
        assert data["credential"]["history"] == [
            {"number": "S-3b", "status": "ACTIVE"},
            {"number": "S-3", "status": "SUPERSEDED"},
        ]
        renewed = [p for k, p in await _events(owner_engine, ct) if k == "credential.renewed"]
        assert len(renewed) == 1
        assert renewed[0]["superseded_ids"] == [old_id and _raw(old_id)]
        assert renewed[0]["credential_id"] == _raw(new_id)
        # without history, only the live one is listed
        live = await numbers(
            gql,
            "boss@t.example",
            ct,
            {"employeeIds": [ct.gid("boss@t.example")], "includeHistory": False},
        )
        assert live == ["S-3b"]

    async def test_pending_renewal_does_not_replace_the_valid_one(
        self, gql: GQL, ct: TenantInfo
    ) -> None:
        ids = await type_ids(gql, ct)
        hr = ct.token("hr@t.example")
        first = await gql.ok(
            CREATE,
            {
                "i": {
                    "credentialTypeId": ids["License"],
                    "issuedOn": "2025-01-01",
                    "number": "P-1",
                    "employeeId": ct.gid("peer@t.example"),
                }
            },
            token=hr,
        )
        renewal = await gql.ok(
            CREATE,
            {"i": {"credentialTypeId": ids["License"], "issuedOn": "2026-06-01", "number": "P-2"}},
            token=ct.token("peer@t.example"),
        )
        rid = renewal["createCredential"]["credential"]["id"]
        fid = first["createCredential"]["credential"]["id"]
        data = await gql.ok(self.HISTORY, {"id": fid}, token=hr)
        assert data["credential"]["status"] == "ACTIVE"
        await gql.ok(TestVerification.VERIFY, {"id": rid}, token=hr)
        data = await gql.ok(self.HISTORY, {"id": fid}, token=hr)
        assert data["credential"]["status"] == "SUPERSEDED"
        assert data["credential"]["supersededBy"] == {"number": "P-2"}


def _raw(gid: str) -> str:
    import base64

    return base64.b64decode(gid).decode().split(":", 1)[1]


class TestRevoke:
    REVOKE = "mutation($id: ID!, $r: String!) { revokeCredential(id: $id, reason: $r) { credential { status revokeReason revokedAt } } }"

    async def test_hr_revokes_once(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        data = await gql.ok(
            LIST, {"f": {"employeeIds": [ct.gid("lead@t.example")]}}, token=ct.token("hr@t.example")
        )
        cid = next(
            e["node"]["id"] for e in data["credentials"]["edges"] if e["node"]["number"] == "F-1"
        )
        body = await gql(self.REVOKE, {"id": cid, "r": "x"}, token=ct.token("lead@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"
        done = await gql.ok(
            self.REVOKE, {"id": cid, "r": "Failed re-check"}, token=ct.token("hr@t.example")
        )
        c = done["revokeCredential"]["credential"]
        assert (
            c["status"] == "REVOKED" and c["revokeReason"] == "Failed re-check" and c["revokedAt"]
        )
        body = await gql(self.REVOKE, {"id": cid, "r": "again"}, token=ct.token("hr@t.example"))
        assert only_error(body)["extensions"]["code"] == "CONFLICT"
        assert "credential.revoked" in [k for k, _ in await _events(owner_engine, ct)]


class TestVisibility:
    async def test_each_role_sees_its_scope(self, gql: GQL, ct: TenantInfo) -> None:
        everyone = ["F-1", "L-1", "S-1", "S-2", "S-3", "S-4", "S-5"]
        assert await numbers(gql, "hr@t.example", ct) == everyone
        assert await numbers(gql, "admin@t.example", ct) == everyone  # tenant admin
        assert await numbers(gql, "dev@t.example", ct) == ["L-1"]
        assert await numbers(gql, "peer@t.example", ct) == ["S-5"]
        assert await numbers(gql, "lead@t.example", ct) == ["F-1", "L-1", "S-4"]  # + dev
        assert await numbers(gql, "boss@t.example", ct) == ["F-1", "L-1", "S-3", "S-4", "S-5"]

    async def test_outside_the_line_is_not_found(self, gql: GQL, ct: TenantInfo) -> None:
        data = await gql.ok(
            LIST, {"f": {"employeeIds": [ct.gid("peer@t.example")]}}, token=ct.token("hr@t.example")
        )
        peer_cred = data["credentials"]["edges"][0]["node"]["id"]
        q = "query($id: ID!) { credential(id: $id) { number } }"
        foreign = await gql(q, {"id": peer_cred}, token=ct.token("dev@t.example"))
        ghost = await gql(
            q, {"id": to_global_id("Credential", ct.id)}, token=ct.token("dev@t.example")
        )
        assert foreign == ghost
        assert only_error(foreign)["extensions"]["code"] == "NOT_FOUND"
        # filtering by someone else's id shows nothing rather than an error
        assert (
            await numbers(gql, "dev@t.example", ct, {"employeeIds": [ct.gid("peer@t.example")]})
            == []
        )

    async def test_status_filter_and_expiring(self, gql: GQL, ct: TenantInfo) -> None:
        hr = "hr@t.example"
        assert await numbers(gql, hr, ct, {"statuses": ["EXPIRING"]}) == ["S-2", "S-5"]
        assert await numbers(gql, hr, ct, {"statuses": ["EXPIRED"]}) == ["S-3"]
        assert await numbers(gql, hr, ct, {"statuses": ["PENDING_VERIFICATION"]}) == ["L-1"]
        assert await numbers(gql, hr, ct, {"statuses": ["ACTIVE"]}) == ["F-1", "S-1", "S-4"]
        data = await gql.ok(
            "{ expiringCredentials(withinDays: 60) { edges { node { number daysUntilExpiry } } } }",
            token=ct.token(hr),
        )
        got = [
            (e["node"]["number"], e["node"]["daysUntilExpiry"])
            for e in data["expiringCredentials"]["edges"]
        ]
        assert got == [("S-2", 5), ("S-5", 16), ("S-1", 47)]

    async def test_paging_is_stable(self, gql: GQL, ct: TenantInfo) -> None:
        q = """query($a: String) { credentials(first: 3, after: $a) { edges { node { number } }
               pageInfo { hasNextPage endCursor } } }"""
        seen: list[str] = []
        after = None
        while True:
            data = await gql.ok(q, {"a": after}, token=ct.token("hr@t.example"))
            page = data["credentials"]
            seen += [e["node"]["number"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        # soonest expiry first, never-expiring (L-1) last
        assert seen == ["S-3", "S-2", "S-5", "S-1", "F-1", "S-4", "L-1"]

    async def test_paging_past_a_credential_without_expiry(self, gql: GQL, ct: TenantInfo) -> None:
        ids = await type_ids(gql, ct)
        for n in ("N-1", "N-2"):
            await gql.ok(
                CREATE,
                {
                    "i": {
                        "credentialTypeId": ids["License"],
                        "issuedOn": "2026-01-01",
                        "number": n,
                        "employeeId": ct.gid("peer@t.example"),
                    }
                },
                token=ct.token("hr@t.example"),
            )
        q = """query($a: String, $b: String, $f: Int, $l: Int) {
          credentials(first: $f, after: $a, last: $l, before: $b) {
            edges { node { number } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
        forward, after = [], None
        while True:
            page = (await gql.ok(q, {"a": after, "f": 1}, token=ct.token("hr@t.example")))[
                "credentials"
            ]
            forward += [e["node"]["number"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert len(forward) == 9 and set(forward[-3:]) == {"L-1", "N-1", "N-2"}
        backward, before = [], None
        while True:
            page = (await gql.ok(q, {"b": before, "l": 2}, token=ct.token("hr@t.example")))[
                "credentials"
            ]
            backward = [e["node"]["number"] for e in page["edges"]] + backward
            if not page["pageInfo"]["hasPreviousPage"]:
                break
            before = page["pageInfo"]["startCursor"]
        assert backward == forward


class TestInternalErrors:
    async def test_a_failing_field_is_masked_and_the_answer_still_200(
        self, gql: GQL, acme: TenantInfo, monkeypatch: Any
    ) -> None:
        """graphql-core cancels the siblings of a failed field; one cancelled inside a statement
        breaks the connection. The query wrote nothing: the response must not become a 500."""
        from upward.credentials import service

        async def boom(*_: Any) -> Any:
            raise RuntimeError("secret detail")

        monkeypatch.setattr(service, "gap_people", boom)
        q = """{ complianceReport { people { total } gapsCsv
                 gaps(first: 100) { edges { node { employee { name } answer { credentialType { name } } } } } }
               credentials(first: 100) { totalCount edges { node { employee { name } credentialType { name }
                 history { number } } } } }"""
        for _ in range(5):
            r = await gql.raw(q, token=acme.token("hr@acme.example"))
            assert r.status_code == 200, r.text
            err = only_error(r.json())
            assert err["extensions"]["code"] == "INTERNAL"
            assert "secret" not in r.text and err["extensions"]["requestId"]


class TestEmployeeFields:
    Q = """query { employees(first: 10) { edges { node { email
      credentials(includeHistory: true) { number } compliance { compliant } } } } }"""

    async def test_visible_only_where_credentials_are(self, gql: GQL, ct: TenantInfo) -> None:
        def by_email(data: dict) -> dict[str, Any]:
            return {e["node"]["email"]: e["node"] for e in data["employees"]["edges"]}

        lead = by_email(await gql.ok(self.Q, token=ct.token("lead@t.example")))
        assert lead["dev@t.example"]["credentials"] == [{"number": "L-1"}]
        assert lead["dev@t.example"]["compliance"] == {"compliant": False}
        assert lead["lead@t.example"]["compliance"] == {"compliant": True}
        assert lead["peer@t.example"]["credentials"] == []  # not in lead's line
        assert lead["peer@t.example"]["compliance"] is None
        me = await gql.ok(
            '{ me { credentials { number status } compliance(on: "2026-07-02") { on compliant } } }',
            token=ct.token("peer@t.example"),
        )
        assert me["me"]["credentials"] == [{"number": "S-5", "status": "EXPIRING"}]
        assert me["me"]["compliance"] == {"on": "2026-07-02", "compliant": False}  # expired 07-01


class TestCorrect:
    Q = """mutation($id: ID!, $i: UpdateCredentialInput!) { updateCredential(id: $id, input: $i) {
      credential { number expiresOn status } } }"""

    async def _id(self, gql: GQL, t: TenantInfo, number: str) -> str:
        data = await gql.ok(LIST, {}, token=t.token("hr@t.example"))
        return next(
            e["node"]["id"] for e in data["credentials"]["edges"] if e["node"]["number"] == number
        )

    async def test_hr_corrects_and_status_follows(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        cid = await self._id(gql, ct, "S-3")
        data = await gql.ok(
            self.Q,
            {"id": cid, "i": {"expiresOn": "2026-07-01", "number": "S-3X"}},
            token=ct.token("hr@t.example"),
        )
        assert data["updateCredential"]["credential"] == {
            "number": "S-3X",
            "expiresOn": "2026-07-01",
            "status": "EXPIRING",
        }
        kinds = [k for k, _ in await _events(owner_engine, ct)]
        assert "credential.updated" in kinds

    async def test_refusals(self, gql: GQL, ct: TenantInfo) -> None:
        cid = await self._id(gql, ct, "S-4")
        hr = ct.token("hr@t.example")
        body = await gql(self.Q, {"id": cid, "i": {"expiresOn": "2020-01-01"}}, token=hr)
        assert only_error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "input.expiresOn",
        }
        body = await gql(self.Q, {"id": cid, "i": {"issuedOn": None}}, token=hr)
        assert only_error(body)["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "input.issuedOn",
        }
        body = await gql(self.Q, {"id": cid, "i": {"notes": "x"}}, token=ct.token("lead@t.example"))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"


class TestConcurrency:
    async def test_racing_duplicates_write_one(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        import asyncio

        ids = await type_ids(gql, ct)
        inp = {"credentialTypeId": ids["Forklift"], "issuedOn": "2026-06-01", "number": "RACE-1"}
        bodies = await asyncio.gather(
            *(gql(CREATE, {"i": inp}, token=ct.token("dev@t.example")) for _ in range(6))
        )
        ok = [b for b in bodies if "errors" not in b]
        refused = [only_error(b)["extensions"] for b in bodies if "errors" in b]
        assert len(ok) == 1
        assert refused == [{"code": "BAD_USER_INPUT", "field": "input.number"}] * 5
        async with owner_engine.connect() as conn:
            n = await conn.scalar(
                sa.text(
                    "select count(*) from credentials where tenant_id = :t and number = 'RACE-1'"
                ),
                {"t": ct.id},
            )
        assert n == 1
