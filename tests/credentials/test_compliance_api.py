"""Compliance answers through HTTP on today, past and future dates, checked against answers
computed by hand from tests/credentials/fixtures.py (clock frozen at 2026-06-15, window 30).

Who must hold what: everyone Safety; Austin engineering (boss, lead, dev) Forklift from
2025-01-01 with 30 days of grace; dev a License. Held (issued -> expires):
  admin Safety 2025-08-01 -> 2026-08-01     hr   Safety 2025-06-20 -> 2026-06-20
  boss  Safety 2025-01-10 -> 2026-01-10     lead Safety 2026-03-01 -> 2027-03-01
  lead  Forklift 2025-02-01 -> 2027-02-01   dev  License 2024-05-01 (pending, no expiry)
  peer  Safety 2025-07-01 -> 2026-07-01
"""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import GQL, TenantInfo, only_error

REPORT = """query($on: Date, $s: ComplianceScope) { complianceReport(on: $on, scope: $s) {
  on people { total compliant rate } requirements { total compliant rate }
  byCredentialType { credentialType { name } total compliant }
  byDepartment { department { name } total compliant }
  byLocation { location { name } total compliant }
  states { state count }
  gaps(first: 100) { totalCount edges { node { employee { email }
    answer { state compliant graceUntil validUntil credentialType { name } credential { number } } } } }
} }"""

PERSON = """query($e: ID, $on: Date) { employeeCompliance(employeeId: $e, on: $on) {
  on compliant employee { email }
  requirements { state compliant validUntil graceUntil credentialType { name }
    credential { number status } requirements { graceDays } } } }"""


def _gaps(report: dict) -> set[tuple[str, str, str]]:
    return {
        (
            e["node"]["employee"]["email"].split("@")[0],
            e["node"]["answer"]["credentialType"]["name"],
            e["node"]["answer"]["state"],
        )
        for e in report["gaps"]["edges"]
    }


def _by_type(report: dict) -> dict[str, tuple[int, int]]:
    return {
        r["credentialType"]["name"]: (r["compliant"], r["total"])
        for r in report["byCredentialType"]
    }


async def _report(gql: GQL, t: TenantInfo, on: str | None, who: str = "hr@t.example", scope=None):
    data = await gql.ok(REPORT, {"on": on, "s": scope}, token=t.token(who))
    return data["complianceReport"]


class TestTenantReport:
    async def test_today(self, gql: GQL, ct: TenantInfo) -> None:
        r = await _report(gql, ct, None)
        assert r["on"] == "2026-06-15"
        assert r["people"] == {"total": 6, "compliant": 4, "rate": 0.6667}
        assert r["requirements"] == {"total": 10, "compliant": 5, "rate": 0.5}
        assert _by_type(r) == {"Safety": (4, 6), "Forklift": (1, 3), "License": (0, 1)}
        assert _gaps(r) == {
            ("boss", "Safety", "EXPIRED"),
            ("boss", "Forklift", "MISSING"),
            ("dev", "Safety", "MISSING"),
            ("dev", "Forklift", "MISSING"),
            ("dev", "License", "PENDING"),
        }
        states = {s["state"]: s["count"] for s in r["states"]}
        assert states == {"SATISFIED": 3, "EXPIRING": 2, "PENDING": 1, "EXPIRED": 1, "MISSING": 3}
        deps = {d["department"]["name"]: (d["compliant"], d["total"]) for d in r["byDepartment"]}
        assert deps == {"Engineering": (3, 5), "People": (1, 1)}
        locs = {d["location"]["name"]: (d["compliant"], d["total"]) for d in r["byLocation"]}
        assert locs == {"Berlin": (3, 3), "Austin": (1, 3)}
        expired = next(
            e["node"]["answer"]
            for e in r["gaps"]["edges"]
            if e["node"]["answer"]["state"] == "EXPIRED"
        )
        assert expired["validUntil"] == "2026-01-10" and expired["credential"]["number"] == "S-3"

    async def test_past_date(self, gql: GQL, ct: TenantInfo) -> None:
        r = await _report(gql, ct, "2025-03-01")
        assert r["on"] == "2025-03-01"
        # credentials issued later did not exist then; boss's Safety was valid; grace is over
        assert r["people"] == {"total": 6, "compliant": 0, "rate": 0.0}
        assert _by_type(r) == {"Safety": (1, 6), "Forklift": (1, 3), "License": (0, 1)}
        assert ("boss", "Forklift", "MISSING") in _gaps(r)
        assert ("lead", "Safety", "MISSING") in _gaps(r)

    async def test_inside_the_grace_period(self, gql: GQL, ct: TenantInfo) -> None:
        r = await _report(gql, ct, "2025-01-20")
        # Forklift applies from 2025-01-01 with 30 days of grace: tolerated through 01-30
        boss_forklift = [
            e["node"]["answer"]
            for e in r["gaps"]["edges"]
            if e["node"]["employee"]["email"].startswith("boss")
        ]
        assert boss_forklift == []  # boss holds Safety (issued 01-10) and is in grace for Forklift
        # boss, dev and lead (whose Forklift was issued only on 02-01) are all in grace
        assert _by_type(r)["Forklift"] == (3, 3)
        data = await gql.ok(
            PERSON,
            {"e": ct.gid("boss@t.example"), "on": "2025-01-20"},
            token=ct.token("hr@t.example"),
        )
        answers = {
            a["credentialType"]["name"]: a for a in data["employeeCompliance"]["requirements"]
        }
        assert answers["Forklift"]["state"] == "MISSING"
        assert answers["Forklift"]["compliant"] is True
        assert answers["Forklift"]["graceUntil"] == "2025-01-30"
        assert data["employeeCompliance"]["compliant"] is True
        r = await _report(gql, ct, "2025-01-31")
        assert _by_type(r)["Forklift"] == (0, 3)

    async def test_future_date(self, gql: GQL, ct: TenantInfo) -> None:
        r = await _report(gql, ct, "2027-01-01")
        assert r["people"] == {"total": 6, "compliant": 1, "rate": 0.1667}
        data = await gql.ok(
            PERSON,
            {"e": ct.gid("lead@t.example"), "on": "2027-01-01"},
            token=ct.token("hr@t.example"),
        )
        answers = {
            a["credentialType"]["name"]: a for a in data["employeeCompliance"]["requirements"]
        }
        # 31 days left is outside the 30-day window; 59 days too
        assert answers["Forklift"]["state"] == "SATISFIED"
        assert answers["Forklift"]["validUntil"] == "2027-02-01"
        assert answers["Safety"]["state"] == "SATISFIED"
        data = await gql.ok(
            PERSON,
            {"e": ct.gid("lead@t.example"), "on": "2027-01-02"},
            token=ct.token("hr@t.example"),
        )
        answers = {
            a["credentialType"]["name"]: a for a in data["employeeCompliance"]["requirements"]
        }
        assert answers["Forklift"]["state"] == "EXPIRING"

    async def test_gaps_page_and_csv(self, gql: GQL, ct: TenantInfo) -> None:
        q = """query($a: String) { complianceReport { gaps(first: 2, after: $a) { totalCount
               edges { node { employee { email } answer { credentialType { name } } } }
               pageInfo { hasNextPage endCursor } } } }"""
        seen, after = [], None
        while True:
            data = await gql.ok(q, {"a": after}, token=ct.token("hr@t.example"))
            g = data["complianceReport"]["gaps"]
            assert g["totalCount"] == 5
            seen += [
                (e["node"]["employee"]["email"], e["node"]["answer"]["credentialType"]["name"])
                for e in g["edges"]
            ]
            if not g["pageInfo"]["hasNextPage"]:
                break
            after = g["pageInfo"]["endCursor"]
        assert len(seen) == 5 and len(set(seen)) == 5
        assert [s[0] for s in seen] == sorted(s[0] for s in seen)  # Bo Boss before Dee Dev
        data = await gql.ok("{ complianceReport { gapsCsv } }", token=ct.token("hr@t.example"))
        rows = list(csv.DictReader(io.StringIO(data["complianceReport"]["gapsCsv"])))
        assert len(rows) == 5
        assert {
            (r["employee_email"], r["credential_type"], r["state"], r["department"], r["location"])
            for r in rows
        } >= {("boss@t.example", "Safety", "expired", "Engineering", "Austin")}
        expired = next(r for r in rows if r["state"] == "expired")
        assert expired["valid_until"] == "2026-01-10"

    async def test_bad_date_and_cursor(self, gql: GQL, ct: TenantInfo) -> None:
        body = await gql(REPORT, {"on": "1800-01-01"}, token=ct.token("hr@t.example"))
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "on"}
        body = await gql(
            '{ complianceReport { gaps(after: "nope") { totalCount } } }',
            token=ct.token("hr@t.example"),
        )
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}


class TestWhoSeesWhich:
    async def test_team_report_for_a_manager(self, gql: GQL, ct: TenantInfo) -> None:
        r = await _report(
            gql, ct, None, who="lead@t.example", scope={"managerId": ct.gid("lead@t.example")}
        )
        assert r["people"] == {"total": 1, "compliant": 0, "rate": 0.0}  # dev only
        r = await _report(
            gql, ct, None, who="boss@t.example", scope={"managerId": ct.gid("boss@t.example")}
        )
        assert r["people"]["total"] == 3  # lead, dev, peer

    @pytest.mark.parametrize(
        "who, scope",
        [
            ("dev@t.example", None),  # the tenant
            ("lead@t.example", None),
            ("lead@t.example", "boss"),  # someone else's line
            ("peer@t.example", "lead"),
        ],
    )
    async def test_forbidden_scopes(
        self, gql: GQL, ct: TenantInfo, who: str, scope: str | None
    ) -> None:
        s = {"managerId": ct.gid(f"{scope}@t.example")} if scope else None
        body = await gql(REPORT, {"s": s}, token=ct.token(who))
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"

    async def test_employee_sees_own_and_manager_their_line(self, gql: GQL, ct: TenantInfo) -> None:
        data = await gql.ok(PERSON, {}, token=ct.token("dev@t.example"))
        c = data["employeeCompliance"]
        assert c["employee"] == {"email": "dev@t.example"} and c["compliant"] is False
        assert sorted(a["credentialType"]["name"] for a in c["requirements"]) == [
            "Forklift",
            "License",
            "Safety",
        ]
        lic = next(a for a in c["requirements"] if a["credentialType"]["name"] == "License")
        assert lic["state"] == "PENDING" and lic["credential"]["status"] == "PENDING_VERIFICATION"
        await gql.ok(PERSON, {"e": ct.gid("dev@t.example")}, token=ct.token("boss@t.example"))
        for who, target in (
            ("peer@t.example", "dev@t.example"),
            ("dev@t.example", "lead@t.example"),
        ):
            body = await gql(PERSON, {"e": ct.gid(target)}, token=ct.token(who))
            assert only_error(body)["extensions"]["code"] == "NOT_FOUND"


class TestRulesAreData:
    async def test_new_rule_changes_the_answer_ended_rule_keeps_the_past(
        self, gql: GQL, ct: TenantInfo
    ) -> None:
        from tests.credentials.helpers import type_ids

        ids = await type_ids(gql, ct)
        hr = ct.token("hr@t.example")
        data = await gql.ok(
            """mutation($i: CreateCredentialRequirementInput!) { createCredentialRequirement(input: $i) {
                requirement { id } } }""",
            {
                "i": {
                    "credentialTypeId": ids["License"],
                    "jobLevel": "IC3",
                    "effectiveUntil": "2026-05-31",
                }
            },
            token=hr,
        )
        assert data
        # peer is IC3: required until the end of May, not today
        today = await _report(gql, ct, None)
        assert _by_type(today)["License"] == (0, 1)
        may = await _report(gql, ct, "2026-05-15")
        assert _by_type(may)["License"] == (0, 2)
        assert ("peer", "License", "MISSING") in _gaps(may)


class TestSupersededCredentials:
    async def test_count_only_before_the_renewal_was_recorded(
        self, gql: GQL, ct: TenantInfo
    ) -> None:
        from tests.credentials.helpers import CREATE, type_ids

        ids = await type_ids(gql, ct)
        dev = ct.token("dev@t.example")
        await gql.ok(
            CREATE,
            {
                "i": {
                    "credentialTypeId": ids["Safety"],
                    "issuedOn": "2025-01-01",
                    "number": "OLD",
                    "expiresOn": "2028-06-30",
                }
            },
            token=dev,
        )
        await gql.ok(
            CREATE,
            {"i": {"credentialTypeId": ids["Safety"], "issuedOn": "2026-06-01", "number": "NEW"}},
            token=dev,
        )  # renews on 2026-06-15 (the frozen today); expires 2027-06-01

        async def safety(on: str) -> dict:
            data = await gql.ok(PERSON, {"on": on}, token=dev)
            return next(
                a
                for a in data["employeeCompliance"]["requirements"]
                if a["credentialType"]["name"] == "Safety"
            )

        before = await safety("2026-05-01")
        assert (before["state"], before["credential"]["number"]) == ("SATISFIED", "OLD")
        after = await safety("2027-09-01")
        assert (after["state"], after["credential"]["number"]) == ("EXPIRED", "NEW")
