"""importCredentials: dry run, real run, all-or-nothing, idempotent re-run, per-row errors."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, only_error

IMPORT = """mutation($csv: String!, $dry: Boolean!, $all: Boolean!) {
  importCredentials(csv: $csv, dryRun: $dry, allOrNothing: $all) {
    dryRun written total created updated unchanged errors
    rows { row outcome credentialId error column } } }"""

GOOD = """email,credential_type,number,issued_on,expires_on,notes
dev@t.example,Safety,S-10,2026-01-15,,
peer@t.example,forklift,F-20,2025-03-01,2027-03-01,night shift
lead@t.example,osha:1910.178,F-1,2025-02-01,2027-02-01,
boss@t.example,Safety,S-3,2025-01-10,2026-02-10,extended
"""
# lead F-1 exists with the same facts (unchanged); boss S-3 exists with another expiry (updated)

BAD_ROWS = """email,credential_type,number,issued_on,expires_on
nobody@t.example,Safety,X-1,2026-01-01,
dev@t.example,Nope,X-2,2026-01-01,
dev@t.example,Old Course,X-3,2026-01-01,
dev@t.example,Safety,X-4,2026-13-01,
dev@t.example,Safety,X-5,2026-06-30,
dev@t.example,Safety,X-6,2026-01-01,2025-01-01
dev@t.example,Clearance,X-7,2026-01-01,
admin@t.example,Safety,S-99,2026-01-01,
admin@t.example,Safety,S-99,2026-02-01,
"""


async def _run(gql: GQL, t: TenantInfo, csv: str, *, dry: bool, all_: bool = False) -> dict:
    data = await gql.ok(
        IMPORT, {"csv": csv, "dry": dry, "all": all_}, token=t.token("hr@t.example")
    )
    return data["importCredentials"]


async def _count(engine: AsyncEngine, t: TenantInfo) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.text("select count(*) from credentials where tenant_id = :t"), {"t": t.id}
            )
        )


class TestImport:
    async def test_dry_run_writes_nothing_then_real_run(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        before = await _count(owner_engine, ct)
        dry = await _run(gql, ct, GOOD, dry=True)
        assert (
            dry["written"],
            dry["created"],
            dry["updated"],
            dry["unchanged"],
            dry["errors"],
        ) == (
            False,
            2,
            1,
            1,
            0,
        )
        assert [r["outcome"] for r in dry["rows"]] == ["CREATED", "CREATED", "UNCHANGED", "UPDATED"]
        assert await _count(owner_engine, ct) == before
        real = await _run(gql, ct, GOOD, dry=False)
        assert (real["written"], real["created"], real["updated"], real["unchanged"]) == (
            True,
            2,
            1,
            1,
        )
        assert all(r["credentialId"] for r in real["rows"])
        assert await _count(owner_engine, ct) == before + 2
        again = await _run(gql, ct, GOOD, dry=False)
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 4)
        assert await _count(owner_engine, ct) == before + 2
        # imported rows are real credentials: the updated expiry shows, the new one counts
        data = await gql.ok(
            "query($f: CredentialFilter) { credentials(filter: $f) { edges { node { number expiresOn source } } } }",
            {"f": {"employeeIds": [ct.gid("boss@t.example")]}},
            token=ct.token("hr@t.example"),
        )
        assert data["credentials"]["edges"][0]["node"] == {
            "number": "S-3",
            "expiresOn": "2026-02-10",
            "source": "manifest",
        }
        async with owner_engine.connect() as conn:
            kinds = (
                await conn.execute(
                    sa.text(
                        "select kind, count(*) from domain_events where tenant_id = :t "
                        "and payload->>'source' = 'import' group by kind"
                    ),
                    {"t": ct.id},
                )
            ).all()
            audit = await conn.scalar(
                sa.text(
                    "select count(*) from audit_events where tenant_id = :t and action = 'credential.import'"
                ),
                {"t": ct.id},
            )
        assert dict(kinds) == {"credential.created": 2, "credential.updated": 1}
        assert audit == 1  # the run that wrote (the dry run and the unchanged re-run did not)

    async def test_errors_per_row(
        self, gql: GQL, ct: TenantInfo, owner_engine: AsyncEngine
    ) -> None:
        res = await _run(gql, ct, BAD_ROWS, dry=True)
        rows = {r["row"]: r for r in res["rows"]}
        assert {k: (v["outcome"], v["column"]) for k, v in rows.items()} == {
            1: ("ERROR", "email"),
            2: ("ERROR", "credential_type"),
            3: ("ERROR", "credential_type"),  # retired
            4: ("ERROR", "issued_on"),
            5: ("ERROR", "issued_on"),  # in the future (today is 2026-06-15)
            6: ("ERROR", "expires_on"),
            7: ("ERROR", "credential_type"),  # needs evidence
            8: ("CREATED", None),
            9: ("ERROR", "number"),  # duplicate of row 8
        }
        assert all(rows[i]["error"] for i in (1, 2, 3, 4, 5, 6, 7, 9))
        before = await _count(owner_engine, ct)
        # all or nothing: nothing is written
        res = await _run(gql, ct, BAD_ROWS, dry=False, all_=True)
        assert res["written"] is False and await _count(owner_engine, ct) == before
        # otherwise the valid row goes in
        res = await _run(gql, ct, BAD_ROWS, dry=False)
        assert res["written"] is True and await _count(owner_engine, ct) == before + 1

    async def test_renewal_by_import_supersedes(self, gql: GQL, ct: TenantInfo) -> None:
        await _run(
            gql,
            ct,
            "email,credential_type,number,issued_on\nboss@t.example,Safety,S-3-2026,2026-06-01\n",
            dry=False,
        )
        data = await gql.ok(
            "query($f: CredentialFilter) { credentials(filter: $f) { edges { node { number status } } } }",
            {"f": {"employeeIds": [ct.gid("boss@t.example")]}},
            token=ct.token("hr@t.example"),
        )
        got = {e["node"]["number"]: e["node"]["status"] for e in data["credentials"]["edges"]}
        assert got == {"S-3": "SUPERSEDED", "S-3-2026": "ACTIVE"}

    async def test_whole_file_problems(self, gql: GQL, ct: TenantInfo) -> None:
        for csv in (
            "",
            "email,credential_type\n",  # issued_on missing
            "email,credential_type,issued_on,colour\n",
            "email,email,credential_type,issued_on\n",
            "email,credential_type,issued_on\n\u0000\n",
        ):
            body = await gql(
                IMPORT, {"csv": csv, "dry": True, "all": False}, token=ct.token("hr@t.example")
            )
            assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "csv"}, csv

    async def test_too_many_rows(self, gql: GQL, ct: TenantInfo, monkeypatch) -> None:
        from upward.settings import get_settings

        monkeypatch.setattr(get_settings(), "import_max_rows", 3)
        csv = "email,credential_type,issued_on\n" + "dev@t.example,Safety,2026-01-01\n" * 4
        body = await gql(
            IMPORT, {"csv": csv, "dry": True, "all": False}, token=ct.token("hr@t.example")
        )
        err = only_error(body)
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "csv"}
        assert "at most 3 rows" in err["message"]

    async def test_only_hr_imports(self, gql: GQL, ct: TenantInfo) -> None:
        body = await gql(
            IMPORT, {"csv": GOOD, "dry": True, "all": False}, token=ct.token("boss@t.example")
        )
        assert only_error(body)["extensions"]["code"] == "FORBIDDEN"


async def test_empty_cells_keep_current_values_on_a_match(gql: GQL, ct: TenantInfo) -> None:
    hr = ct.token("hr@t.example")
    await gql.ok(
        """mutation { importCredentials(dryRun: false, csv: "email,credential_type,number,issued_on,expires_on,notes\\nlead@t.example,Forklift,F-1,2025-02-01,2027-05-05,kept") { updated } }""",
        token=hr,
    )
    res = await _run(
        gql,
        ct,
        "email,credential_type,number,issued_on\nlead@t.example,Forklift,F-1,2025-02-01\n",
        dry=False,
    )
    assert (res["unchanged"], res["updated"]) == (1, 0)
    data = await gql.ok(
        "query($f: CredentialFilter) { credentials(filter: $f) { edges { node { number expiresOn notes } } } }",
        {"f": {"employeeIds": [ct.gid("lead@t.example")]}},
        token=hr,
    )
    f1 = next(e["node"] for e in data["credentials"]["edges"] if e["node"]["number"] == "F-1")
    assert f1 == {"number": "F-1", "expiresOn": "2027-05-05", "notes": "kept"}


async def test_match_people_by_external_id(gql: GQL, make_tenant, frozen) -> None:
    import copy

    from tests.credentials.fixtures import cred_org

    org = copy.deepcopy(cred_org())
    for e in org["employees"]:
        e["external_id"] = "W-" + e["email"].split("@")[0].upper()
    t = await make_tenant(org)
    csv = (
        "external_id,email,credential_type,number,issued_on\n"
        "W-DEV,,Safety,E-1,2026-01-01\n"
        "W-PEER,peer@t.example,Safety,E-2,2026-01-01\n"
        "W-PEER,dev@t.example,Safety,E-3,2026-01-01\n"
        "W-NOBODY,,Safety,E-4,2026-01-01\n"
    )
    res = await _run(gql, t, csv, dry=True)
    assert [(r["outcome"], r["column"]) for r in res["rows"]] == [
        ("CREATED", None),
        ("CREATED", None),
        ("ERROR", "external_id"),  # the two ids name different people
        ("ERROR", "external_id"),
    ]
    body = await gql(
        IMPORT,
        {"csv": "credential_type,issued_on\nSafety,2026-01-01\n", "dry": True, "all": False},
        token=t.token("hr@t.example"),
    )
    assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "csv"}
