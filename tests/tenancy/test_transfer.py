"""`upward tenants export | erase | import`, through the CLI, on the real database.

The round trip takes a full copy of the acme demo (every manifest section, its evidence files,
and the rows the session seeds add: notifications, check-ins, matches, alerts, milestones, API
keys), exports it, erases it, imports it, and compares every tenant table, row by row, all
columns as text. What counts as a tenant table comes from the catalog (any table, in any
schema, with a `tenant_id` column), read here independently of the code under test. The shared
demo tenants acme and globex are never exported or erased: their row counts are checked to be
unchanged instead.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import json
import tarfile
import tomllib
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, SMALL_ORG, TenantInfo, error_codes, tenant_info, token
from upward.cli import main
from upward.credentials.storage import LocalFileStore, evidence_store
from upward.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]

# every table with a tenant_id column, in every schema but the system ones
TENANT_TABLES_SQL = sa.text("""
    select quote_ident(n.nspname) || '.' || quote_ident(c.relname)
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
       and n.nspname not like 'pg\\_toast%'
       and exists (select 1 from pg_attribute a where a.attrelid = c.oid
                   and a.attname = 'tenant_id' and not a.attisdropped)
     order by 1
""")
EMPLOYEES_PAGE = """
    { employees(first: 100) { totalCount edges { node {
        id email name title roles manager { id name } department { name } location { name }
    } } } }
"""


async def cli(*argv: str) -> int:
    """The CLI as an operator runs it (its own event loop, so in a thread here)."""
    return await asyncio.to_thread(main, list(argv))


async def tenant_tables(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(TENANT_TABLES_SQL)).scalars())


async def snapshot(engine: AsyncEngine, tenant_id: uuid.UUID) -> dict[str, list[str]]:
    """The tenant's rows of every tenant table (and its registry row): each row as text, all
    columns, in a stable order."""
    out: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        out["public.tenants"] = list(
            (
                await conn.execute(
                    sa.text("select t::text from tenants t where id = :t"), {"t": tenant_id}
                )
            ).scalars()
        )
        for table in (await conn.execute(TENANT_TABLES_SQL)).scalars():
            rows = await conn.execute(
                sa.text(f"select t::text from {table} t where tenant_id = :t order by 1"),
                {"t": tenant_id},
            )
            out[table] = list(rows.scalars())
    return out


async def counts(engine: AsyncEngine, tenant_id: uuid.UUID) -> dict[str, int]:
    return {k: len(v) for k, v in (await snapshot(engine, tenant_id)).items()}


async def leftovers(engine: AsyncEngine, tenant_id: uuid.UUID) -> dict[str, int]:
    """Tables that still hold a row with this tenant_id (and the registry row)."""
    return {k: n for k, n in (await counts(engine, tenant_id)).items() if n}


async def read_evidence(key: str) -> bytes:
    return b"".join([chunk async for chunk in evidence_store().open(key)])


def files_of(tenant_id: uuid.UUID) -> list[Path]:
    folder = evidence_store().root / str(tenant_id)
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def redis_keys(tenant_id: uuid.UUID) -> list[bytes]:
    from workers.broker import redis_client

    ns = get_settings().dramatiq_namespace
    return list(redis_client().scan_iter(match=f"{ns}:*{tenant_id}*", count=1000))


async def provision(engine: AsyncEngine, org: dict[str, Any]) -> TenantInfo:
    """A fresh tenant from `org`, applied as if its manifest sat in tenants/ (so the demo's
    evidence files resolve)."""
    from upward.tenancy.manifest import validate_manifest
    from upward.tenancy.service import apply_manifest

    slug = f"t-{uuid.uuid4().hex[:10]}"
    data = {"timezone": "Europe/Berlin", **copy.deepcopy(org), "slug": slug, "name": f"Copy {slug}"}
    result = await apply_manifest(
        engine, validate_manifest(data, str(ROOT / "tenants" / f"{slug}.toml"))
    )
    return await tenant_info(engine, result.tenant_id, slug)


def demo_copy() -> dict[str, Any]:
    """The acme demo manifest, every section (evidence included), under another slug."""
    data = tomllib.loads((ROOT / "tenants" / "acme.toml").read_text())
    data.pop("slug")
    data.pop("name")
    return data


async def seed(t: TenantInfo) -> None:
    """The rows a manifest does not declare, as the session seeds add them for acme."""
    from tests.development.checkins_seed import seed_checkins
    from tests.integrations.keys_seed import seed_keys
    from tests.mobility.matching_seed import seed_matches
    from tests.reminders.seed import seed_notifications
    from upward.auth.principal import Principal
    from upward.db import tenant_session
    from upward.mobility import alerts
    from upward.recognition import milestones

    await seed_notifications([t.id])
    await seed_checkins([t.id])
    await seed_matches([t.id])
    async with tenant_session(t.id) as s:
        p = Principal.system(t.id, t.slug, "America/New_York")
        ids = await s.execute(sa.text("select id from job_postings where status = 'open'"))
        for pid in ids.scalars().all():
            await alerts.send_alerts(s, p, pid)
        await milestones.recognize_anniversaries(s, p, today=date(2026, 6, 4))
    await seed_keys([t.id])


async def tricky_values(engine: AsyncEngine, t: TenantInfo) -> None:
    """Values a text format gets wrong easily: NULL next to '', quotes, commas, newlines,
    backslashes, a literal \\N, unicode, floats that need 17 digits, nested jsonb."""
    tricky = 'line one\nline two, "quoted" \\N back\\slash ; é ✅'
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("update employees set title = :v where tenant_id = :t and email = :e"),
            {"v": tricky, "t": t.id, "e": "sam.rivera@acme.example"},
        )
        await conn.execute(
            sa.text("update employees set title = '' where tenant_id = :t and email = :e"),
            {"t": t.id, "e": "aisha.bello@acme.example"},
        )
        await conn.execute(
            sa.text("update employees set title = null where tenant_id = :t and email = :e"),
            {"t": t.id, "e": "diego.alvarez@acme.example"},
        )
        await conn.execute(
            sa.text(
                "update posting_matches set score = 0.1::float8 + 0.2::float8 "
                "where tenant_id = :t and (posting_id, employee_id) = (select posting_id, "
                "employee_id from posting_matches where tenant_id = :t order by 1, 2 limit 1)"
            ),
            {"t": t.id},
        )
        await conn.execute(
            sa.text(
                "insert into audit_events (tenant_id, actor_type, action, target_type, changes) "
                "values (:t, 'system', 'test.tricky', 'Tenant', cast(:c as jsonb))"
            ),
            {"t": t.id, "c": json.dumps({"a": [1, 2.5, None, tricky], "b": {}, "c": ""})},
        )


def rewrite(
    archive: Path,
    out: Path,
    *,
    change: dict[str, Any] | None = None,
    manifest: Any = None,
    fix_checksums: bool = False,
) -> None:
    """A copy of the archive with members changed (`name: bytes -> bytes`), the manifest
    changed (`dict -> None`), and, with `fix_checksums`, the manifest's sums recomputed (a
    damaged but self-consistent archive)."""
    import hashlib

    with tarfile.open(archive, "r:gz") as tar:
        members = {ti.name: tar.extractfile(ti).read() for ti in tar if ti.isfile()}  # type: ignore[union-attr]
    for name, fn in (change or {}).items():
        members[name] = fn(members[name])
    meta = json.loads(members.pop("manifest.json"))
    if fix_checksums:
        for m in meta["members"]:
            m["sha256"] = hashlib.sha256(members[m["name"]]).hexdigest()
            m["size"] = len(members[m["name"]])
    if manifest is not None:
        manifest(meta)
    with tarfile.open(out, "w:gz") as tar:
        for name, body in [("manifest.json", json.dumps(meta).encode()), *members.items()]:
            ti = tarfile.TarInfo(name)
            ti.size = len(body)
            tar.addfile(ti, io.BytesIO(body))


async def employees_page(gql: GQL, t: TenantInfo, email: str) -> dict[str, Any]:
    return await gql.ok(EMPLOYEES_PAGE, token=t.token(email))


# --- the round trip ------------------------------------------------------------------------------


async def test_export_erase_import_round_trips_exactly(
    gql: GQL,
    owner_engine: AsyncEngine,
    make_tenant: Any,
    acme: TenantInfo,
    globex: TenantInfo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = await provision(owner_engine, demo_copy())
    assert t.slug not in ("acme", "globex")
    await seed(t)
    await tricky_values(owner_engine, t)
    other = await make_tenant()
    baseline = {x.slug: await counts(owner_engine, x.id) for x in (acme, globex)}
    other_before = await snapshot(owner_engine, other.id)

    tables = await tenant_tables(owner_engine)
    empty = [k for k, n in (await counts(owner_engine, t.id)).items() if not n]
    # the copy exercises (nearly) every table: only tables its data never reaches are empty
    assert len(empty) <= 3, empty
    page = await employees_page(gql, t, "admin@acme.example")
    assert page["employees"]["totalCount"] > 30
    async with owner_engine.connect() as conn:
        ev_keys = list(
            (
                await conn.execute(
                    sa.text("select storage_key from evidence_files where tenant_id = :t"),
                    {"t": t.id},
                )
            ).scalars()
        )
    assert len(ev_keys) == 2
    evidence = {k: await read_evidence(k) for k in ev_keys}
    assert all(evidence.values())
    # the tenant's Redis keys, named as the API names them: its rate-limit buckets (a user's
    # and the tenant's) and a persisted query; and another tenant's, which must stay
    from upward import cache
    from upward.auth.principal import Principal
    from upward.graphql.limits import buckets
    from workers.broker import redis_client

    for x in (t, other):
        admin = next(iter(x.ids.values()))
        user = Principal(x.id, x.slug, "user", admin, frozenset({"employee"}))
        for b in buckets(get_settings(), user, "10.0.0.1"):
            redis_client().set(b.key, "1")
        redis_client().set(cache.key("apq", x.id, "a" * 64), "{ me { id } }")
    assert len(redis_keys(t.id)) >= 3

    # the safe flow: suspend, export, erase
    assert await cli("tenants", "suspend", t.slug) == 0
    before = await snapshot(owner_engine, t.id)
    archive = tmp_path / "copy.tar.gz"
    capsys.readouterr()
    assert await cli("tenants", "export", t.slug, "-o", str(archive)) == 0
    out = capsys.readouterr().err
    assert f"exported {t.slug} ({t.id})" in out and "evidence files: 2" in out
    assert f"archive {archive.resolve()}" in out
    assert "  employees " in out and " 40\n" in out
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json"
    assert {f"tables/{x.split('.', 1)[1]}.csv" for x in tables} <= set(names)
    assert {f"evidence/{k}" for k in ev_keys} <= set(names)

    # erase asks for confirmation, and refuses without it (no terminal here)
    assert await cli("tenants", "erase", t.slug) == 1
    assert "pass --yes" in capsys.readouterr().err
    assert await snapshot(owner_engine, t.id) == before
    assert (
        await cli("tenants", "erase", t.slug, "--yes", "--by", "sre@test", "--reason", "T-1") == 0
    )
    erase_out = capsys.readouterr().err

    # nothing left: no row with that tenant_id in any table of any schema, no file, no key
    assert await leftovers(owner_engine, t.id) == {}
    assert files_of(t.id) == []
    assert redis_keys(t.id) == []
    assert len(redis_keys(other.id)) >= 3  # another tenant's keys stay
    # ... but the record of the erasure
    async with owner_engine.connect() as conn:
        record = (
            await conn.execute(
                sa.text("select * from upward_ops.tenant_erasures where erased_tenant_id = :t"),
                {"t": t.id},
            )
        ).one()
    assert record.slug == t.slug and record.erased_by == "sre@test" and record.reason == "T-1"
    assert record.row_counts == {
        k.split(".", 1)[1]: len(v) for k, v in before.items() if v and k != "public.tenants"
    }
    assert record.evidence_files == 2
    assert record.cleanup["evidence_deleted"] == 2 and record.cleanup["problems"] == []
    assert record.cleanup["redis_keys_deleted"] >= 3
    # its tokens are refused, and its jobs still queued are dropped harmlessly
    body = await gql(EMPLOYEES_PAGE, token=token(t.slug, "admin@acme.example"))
    assert error_codes(body) == ["UNAUTHENTICATED"]
    from workers.audit import prune_expired
    from workers.credentials import record_status_events
    from workers.reminders import scan_tenant

    for actor in (prune_expired, record_status_events, scan_tenant):
        await actor.fn.__wrapped__(str(t.id))
    assert await leftovers(owner_engine, t.id) == {}
    assert await snapshot(owner_engine, other.id) == other_before

    # import: everything back, with the same ids
    assert await cli("tenants", "import", str(archive)) == 0
    import_out = capsys.readouterr().err
    assert f"imported {t.slug} ({t.id})" in import_out
    assert await snapshot(owner_engine, t.id) == before
    assert {k: await read_evidence(k) for k in ev_keys} == evidence
    assert await snapshot(owner_engine, other.id) == other_before
    for x in (acme, globex):
        assert await counts(owner_engine, x.id) == baseline[x.slug]

    # and it works: reopened, its people see the page they saw before
    assert await cli("tenants", "activate", t.slug) == 0
    assert await employees_page(gql, t, "admin@acme.example") == page

    def seconds(text: str) -> str:
        return next(line for line in text.splitlines() if " s" in line and "in " in line)

    print(f"\nexport: {seconds(out)}\nerase: {seconds(erase_out)}\nimport: {seconds(import_out)}")


# --- erasure -------------------------------------------------------------------------------------


class TestErase:
    async def test_leaves_no_row_with_that_tenant_id_anywhere(
        self, gql: GQL, owner_engine: AsyncEngine, make_tenant: Any, capsys: Any
    ) -> None:
        t = await make_tenant()
        other = await make_tenant()
        other_before = await snapshot(owner_engine, other.id)
        await t.api_key(["people:read"])
        await employees_page(gql, t, "admin@t.example")
        assert await leftovers(owner_engine, t.id)
        assert await cli("tenants", "erase", t.slug, "--yes") == 1  # active: refused
        assert "suspend it first" in capsys.readouterr().err
        assert await leftovers(owner_engine, t.id)

        assert await cli("tenants", "erase", t.slug, "--yes", "--force") == 0
        assert await leftovers(owner_engine, t.id) == {}
        assert redis_keys(t.id) == []
        assert await snapshot(owner_engine, other.id) == other_before
        async with owner_engine.connect() as conn:
            n = await conn.scalar(
                sa.text(
                    "select count(*) from upward_ops.tenant_erasures where erased_tenant_id = :t"
                ),
                {"t": t.id},
            )
        assert n == 1

    async def test_unknown_tenant(self, capsys: Any) -> None:
        assert await cli("tenants", "erase", "no-such-tenant", "--yes") == 1
        assert await cli("tenants", "export", "no-such-tenant") == 1
        err = capsys.readouterr().err
        assert err.count("error: no tenant 'no-such-tenant'") == 2


# --- import refusals -----------------------------------------------------------------------------


def evidence_org() -> dict[str, Any]:
    org = copy.deepcopy(SMALL_ORG)
    org["credential_types"] = [{"name": "Forklift", "category": "certification"}]
    org["credentials"] = [
        {
            "employee": email,
            "credential_type": "Forklift",
            "number": f"FL-{i}",
            "issued_on": "today-30d",
            "evidence": f"evidence/{name}",
        }
        for i, (email, name) in enumerate(
            [
                ("dev@t.example", "forklift-operator-card.pdf"),
                ("lead@t.example", "cpr-aed-certificate.pdf"),
            ]
        )
    ]
    return org


@pytest.fixture
async def exported(owner_engine: AsyncEngine, tmp_path: Path) -> tuple[TenantInfo, Path]:
    """A small tenant with two evidence files, exported, then erased."""
    t = await provision(owner_engine, evidence_org())
    archive = tmp_path / "t.tar.gz"
    assert await cli("tenants", "export", t.slug, "-o", str(archive)) == 0
    return t, archive


async def assert_nothing_imported(engine: AsyncEngine, t: TenantInfo) -> None:
    assert await leftovers(engine, t.id) == {}
    assert files_of(t.id) == []


class TestImportRefuses:
    async def test_a_tenant_that_exists(
        self, exported: tuple[TenantInfo, Path], owner_engine: AsyncEngine, capsys: Any
    ) -> None:
        t, archive = exported
        before = await snapshot(owner_engine, t.id)
        assert await cli("tenants", "import", str(archive)) == 1
        assert f"tenant {t.id} already exists here" in capsys.readouterr().err
        assert await snapshot(owner_engine, t.id) == before

    async def test_a_slug_another_tenant_has(
        self, exported: tuple[TenantInfo, Path], owner_engine: AsyncEngine, capsys: Any
    ) -> None:
        t, archive = exported
        assert await cli("tenants", "erase", t.slug, "--yes", "--force") == 0
        from upward.tenancy.manifest import validate_manifest
        from upward.tenancy.service import apply_manifest

        data = {**copy.deepcopy(SMALL_ORG), "slug": t.slug, "name": "Usurper", "timezone": "UTC"}
        taken = await apply_manifest(owner_engine, validate_manifest(data, "x.toml"))
        capsys.readouterr()
        assert await cli("tenants", "import", str(archive)) == 1
        err = capsys.readouterr().err
        assert f"the slug {t.slug!r} belongs to another tenant here ({taken.tenant_id})" in err
        await assert_nothing_imported(owner_engine, t)

    async def test_another_revision(
        self, exported: tuple[TenantInfo, Path], owner_engine: AsyncEngine, capsys: Any
    ) -> None:
        t, archive = exported
        assert await cli("tenants", "erase", t.slug, "--yes", "--force") == 0
        old = archive.with_name("old.tar.gz")
        rewrite(archive, old, manifest=lambda m: m.update(revision="0015_partner_access"))
        capsys.readouterr()
        assert await cli("tenants", "import", str(old)) == 1
        err = capsys.readouterr().err
        assert "exported at revision '0015_partner_access'; this database is at" in err
        await assert_nothing_imported(owner_engine, t)

    async def test_a_changed_member(
        self, exported: tuple[TenantInfo, Path], owner_engine: AsyncEngine, capsys: Any
    ) -> None:
        t, archive = exported
        assert await cli("tenants", "erase", t.slug, "--yes", "--force") == 0
        bad = archive.with_name("bad.tar.gz")
        rewrite(archive, bad, change={"tables/employees.csv": lambda b: b.replace(b"Dee", b"Dan")})
        capsys.readouterr()
        assert await cli("tenants", "import", str(bad)) == 1
        err = capsys.readouterr().err
        assert "tables/employees.csv does not match its checksum" in err
        await assert_nothing_imported(owner_engine, t)

    async def test_a_member_not_in_the_manifest(
        self, exported: tuple[TenantInfo, Path], owner_engine: AsyncEngine, capsys: Any
    ) -> None:
        t, archive = exported
        assert await cli("tenants", "erase", t.slug, "--yes", "--force") == 0
        bad = archive.with_name("extra.tar.gz")
        other = str(uuid.uuid4())  # a file for another tenant's folder
        rewrite(
            archive,
            bad,
            manifest=lambda m: m["evidence"].append(
                {"key": f"{other}/{uuid.uuid4()}", "file": "x", "size": 1, "sha256": "0"}
            ),
        )
        capsys.readouterr()
        assert await cli("tenants", "import", str(bad)) == 1
        assert "is not one of tenant" in capsys.readouterr().err
        await assert_nothing_imported(owner_engine, t)

    async def test_rows_of_another_tenant(
        self,
        exported: tuple[TenantInfo, Path],
        owner_engine: AsyncEngine,
        make_tenant: Any,
        capsys: Any,
    ) -> None:
        """A crafted archive (checksums made to match) that slips a row into another tenant."""
        t, archive = exported
        victim = await make_tenant()
        victim_before = await snapshot(owner_engine, victim.id)
        assert await cli("tenants", "erase", t.slug, "--yes", "--force") == 0

        def smuggle(body: bytes) -> bytes:
            header, first, *rest = body.split(b"\n")
            return b"\n".join(
                [header, first.replace(str(t.id).encode(), str(victim.id).encode()), *rest]
            )

        bad = archive.with_name("smuggle.tar.gz")
        rewrite(archive, bad, change={"tables/departments.csv": smuggle}, fix_checksums=True)
        capsys.readouterr()
        assert await cli("tenants", "import", str(bad)) == 1
        err = capsys.readouterr().err
        assert "departments loaded 1 rows of tenant" in err and "manifest says 2" in err
        await assert_nothing_imported(owner_engine, t)
        assert await snapshot(owner_engine, victim.id) == victim_before

    async def test_a_failure_midway_leaves_nothing(
        self, exported: tuple[TenantInfo, Path], owner_engine: AsyncEngine, capsys: Any
    ) -> None:
        """The last table of the load breaks (its checksum made to match): the tables loaded
        before it are rolled back with it, and no evidence file was written."""
        t, archive = exported
        with tarfile.open(archive, "r:gz") as tar:
            meta = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        last = [x for x in meta["tables"] if x["rows"]][-1]
        assert last["name"] not in ("tenants", "departments")  # others load before it
        assert await cli("tenants", "erase", t.slug, "--yes", "--force") == 0

        def corrupt(body: bytes) -> bytes:
            header, first, *rest = body.split(b"\n")
            cells = first.split(b",")
            cells[-1] = b"not a value of this column"
            return b"\n".join([header, b",".join(cells), *rest])

        bad = archive.with_name("midway.tar.gz")
        rewrite(archive, bad, change={last["file"]: corrupt}, fix_checksums=True)
        capsys.readouterr()
        assert await cli("tenants", "import", str(bad)) == 1
        err = capsys.readouterr().err
        assert f"loading {last['name']} failed" in err and "nothing was imported" in err
        await assert_nothing_imported(owner_engine, t)

    async def test_a_store_failure_removes_the_files_written(
        self,
        exported: tuple[TenantInfo, Path],
        owner_engine: AsyncEngine,
        monkeypatch: pytest.MonkeyPatch,
        capsys: Any,
    ) -> None:
        t, archive = exported
        assert await cli("tenants", "erase", t.slug, "--yes", "--force") == 0
        commits: list[str] = []
        real = LocalFileStore.commit

        async def flaky(self: LocalFileStore, staged: Any) -> None:
            commits.append(staged.key)
            if len(commits) == 2:
                raise OSError("no space left on device (test)")
            await real(self, staged)

        monkeypatch.setattr(LocalFileStore, "commit", flaky)
        capsys.readouterr()
        assert await cli("tenants", "import", str(archive)) == 1
        assert "no space left on device (test)" in capsys.readouterr().err
        assert len(commits) == 2  # the first file was written, then removed again
        await assert_nothing_imported(owner_engine, t)
        monkeypatch.undo()
        assert await cli("tenants", "import", str(archive)) == 0  # the archive is fine
        assert len(files_of(t.id)) == 2


async def test_the_archive_matches_its_manifest(owner_engine: AsyncEngine, tmp_path: Path) -> None:
    """Each table file has the manifest's columns as its header and its row count; the
    manifest names the tenant and the revision of the database it came from."""
    t = await provision(owner_engine, SMALL_ORG)
    archive = tmp_path / "s.tar.gz"
    assert await cli("tenants", "export", t.slug, "-o", str(archive)) == 0
    with tarfile.open(archive, "r:gz") as tar:
        meta = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        for spec in meta["tables"]:
            body = tar.extractfile(spec["file"]).read().decode()  # type: ignore[union-attr]
            rows = list(csv.reader(io.StringIO(body)))
            assert rows[0] == spec["columns"]
            assert len(rows) - 1 == spec["rows"], spec["name"]
    async with owner_engine.connect() as conn:
        revision = await conn.scalar(sa.text("select version_num from alembic_version"))
    assert meta["tenant"] == {"id": str(t.id), "slug": t.slug}
    assert meta["revision"] == revision
    assert datetime.fromisoformat(meta["exported_at"]) > datetime.now(UTC) - timedelta(minutes=5)
    assert sum(x["rows"] for x in meta["tables"]) == sum(
        (await counts(owner_engine, t.id)).values()
    )
