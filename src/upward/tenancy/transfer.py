"""Move and erase a tenant: `upward tenants export | import | erase`.

- **Export** writes one tenant's whole data to one `.tar.gz`: `manifest.json` first (format
  version, the source's alembic revision, the tenant, each table's columns and row count, the
  sha256 of every member), then `tables/<table>.csv` for the `tenants` row and every tenant
  table, then `evidence/<key>` for each evidence file. The rows come from one REPEATABLE READ,
  read-only transaction (one snapshot), streamed with `COPY ... TO STDOUT` to files, never held
  in memory.
- **Import** restores an archive into a deployment at the same revision where neither the
  tenant's id nor its slug exists. Ids are kept (global ids, webhooks and tokens stay valid).
  Every checksum is verified before a row is written; all tables load in one transaction, in
  foreign-key order; evidence files are written before the commit and removed if it fails.
- **Erase** deletes every row of the tenant in one transaction (children first), then the
  `tenants` row, records the erasure in `upward_ops.tenant_erasures` (no tenant data: who,
  when, row counts), and after the commit deletes the evidence files and the tenant's Redis
  keys.

The tenant tables are read from the catalog (every table in `public` with a `tenant_id`
column), as the isolation guards do, so a new table is moved and erased without a change here.
Everything runs as the owner (DATABASE_URL) with `app.tenant_id` set for the transaction, so an
owner that is not a superuser passes the forced row-level security too.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import re
import shutil
import tarfile
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from upward.settings import asyncpg_url, get_settings

log = logging.getLogger("upward.tenancy.transfer")

FORMAT = "upward-tenant-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SCHEMA = "public"
OPS_TABLE = "upward_ops.tenant_erasures"
EVIDENCE_KEYS_SQL = "select storage_key from evidence_files where tenant_id = $1 order by 1"
# What a CSV value means must not depend on the session: dates and times in ISO (with their
# offset), intervals in Postgres style, floats in their shortest exact form.
SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}
CSV_OPTS: dict[str, Any] = {"format": "csv", "header": True, "null": ""}
CHUNK = 1 << 20


class TransferError(Exception):
    """A refusal or failure with a message for the operator (the CLI prints it, exits 1)."""


# --- the catalog ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # primary key (export order); all columns when there is none
    parents: frozenset[str]  # tenant tables it references (itself excluded)

    @property
    def ident(self) -> str:
        return f"{_q(SCHEMA)}.{_q(self.name)}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_TABLES_SQL = """
select c.relname as name,
       array(select a.attname from pg_attribute a
              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                and a.attgenerated = ''
              order by a.attnum) as columns,
       coalesce((select array(select a.attname
                                from unnest(k.conkey) with ordinality u(attnum, ord)
                                join pg_attribute a on a.attrelid = c.oid and a.attnum = u.attnum
                               order by u.ord)
                   from pg_constraint k where k.conrelid = c.oid and k.contype = 'p'),
                '{}') as key,
       array(select distinct f.confrelid::regclass::text from pg_constraint f
              where f.conrelid = c.oid and f.contype = 'f' and f.confrelid <> c.oid) as refs
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition
   and exists (select 1 from pg_attribute a where a.attrelid = c.oid
               and a.attname = 'tenant_id' and not a.attisdropped)
"""

_DEFERRABLE_SQL = """
select c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent,
       c.condeferrable as deferrable
  from pg_constraint c join pg_class t on t.oid = c.conrelid
  join pg_namespace n on n.oid = t.relnamespace
 where n.nspname = $1 and c.contype = 'f' and c.conrelid <> c.confrelid
"""


async def tenant_tables(conn: asyncpg.Connection) -> list[Table]:
    """Every tenant table, parents before children (`tenants` itself is not one of them).

    A table's references to itself (employees' managers, superseded credentials) need no
    order: a `COPY` checks its foreign keys at the end of the statement. A cycle between
    tables loads only if each of its constraints is deferrable (the import defers them)."""
    rows = await conn.fetch(_TABLES_SQL, SCHEMA)
    names = {r["name"] for r in rows}
    tables = {
        r["name"]: Table(
            name=r["name"],
            columns=tuple(r["columns"]),
            key=tuple(r["key"]) or tuple(r["columns"]),
            parents=frozenset(p for p in r["refs"] if p in names),
        )
        for r in rows
    }
    ordered: list[Table] = []
    done: set[str] = set()
    pending = dict(tables)
    while pending:
        ready = sorted(n for n, t in pending.items() if t.parents <= done)
        if not ready:
            cycle = sorted(pending)
            fks = await conn.fetch(_DEFERRABLE_SQL, SCHEMA)
            stuck = [
                f"{r['child']} -> {r['parent']}"
                for r in fks
                if r["child"] in pending and r["parent"] in pending and not r["deferrable"]
            ]
            if stuck:
                raise TransferError(
                    "foreign keys form a cycle between tenant tables that cannot be deferred: "
                    + ", ".join(stuck)
                )
            ready = cycle  # all deferrable: the import defers them to the commit
        for n in ready:
            ordered.append(pending.pop(n))
            done.add(n)
    return ordered


async def _registry_columns(conn: asyncpg.Connection) -> tuple[str, ...]:
    rows = await conn.fetch(
        "select a.attname from pg_attribute a where a.attrelid = $1::regclass "
        "and a.attnum > 0 and not a.attisdropped and a.attgenerated = '' order by a.attnum",
        f"{SCHEMA}.tenants",
    )
    return tuple(r[0] for r in rows)


# --- connections ---------------------------------------------------------------------------------


async def connect(dsn: str | None = None) -> asyncpg.Connection:
    """A connection of the owner, without the service's statement timeout (an export of a big
    tenant runs longer than any request should), set up so CSV text means the same everywhere."""
    url = dsn or get_settings().owner_url()
    return await asyncpg.connect(
        asyncpg_url(url),
        server_settings={
            "application_name": "upward-transfer",
            "statement_timeout": "0",
            "lock_timeout": "30s",
            **SESSION_SETTINGS,
        },
    )


async def _set_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    await conn.execute("select set_config('app.tenant_id', $1, true)", str(tenant_id))


async def _revision(conn: asyncpg.Connection) -> str:
    try:
        return str(await conn.fetchval("select version_num from alembic_version"))
    except asyncpg.UndefinedTableError:
        raise TransferError("the database is not migrated (no alembic_version)") from None


def _count(status: str) -> int:
    """Rows of a command tag: 'COPY 12', 'DELETE 3'."""
    return int(status.rsplit(" ", 1)[-1])


# --- export --------------------------------------------------------------------------------------


@dataclass
class TableResult:
    name: str
    rows: int


@dataclass
class ExportResult:
    tenant_id: uuid.UUID
    slug: str
    revision: str
    archive: Path
    size: int
    tables: list[TableResult]
    evidence: int
    evidence_bytes: int
    missing_evidence: list[str]
    seconds: float


class _Sink:
    """Where COPY output goes: a file, hashed and counted as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    async def __call__(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        self.file.close()


def default_archive_name(slug: str, at: datetime | None = None) -> str:
    stamp = (at or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{slug}-{stamp}.tar.gz"


async def export_tenant(
    slug: str,
    output: Path,
    *,
    dsn: str | None = None,
    store: Any = None,
) -> ExportResult:
    """Write the tenant `slug` to the archive `output` (replaced atomically when complete)."""
    started = time.monotonic()
    output = Path(output)
    if output.exists() and output.is_dir():
        raise TransferError(f"{output} is a directory: name the archive file")
    output.parent.mkdir(parents=True, exist_ok=True)
    exported_at = datetime.now(UTC)
    # next to the archive: the staged files need as much room as the tables, and the rename at
    # the end must stay on one filesystem
    with tempfile.TemporaryDirectory(prefix=".upward-export-", dir=output.parent) as tmp:
        work = Path(tmp)
        (work / "tables").mkdir()
        members: list[dict[str, Any]] = []
        tables_out: list[dict[str, Any]] = []
        conn = await connect(dsn)
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                tenant = await conn.fetchrow(
                    f"select id, slug from {SCHEMA}.tenants where slug = $1",  # noqa: S608
                    slug,
                )
                if tenant is None:
                    raise TransferError(f"no tenant {slug!r}")
                tenant_id: uuid.UUID = tenant["id"]
                await _set_tenant(conn, tenant_id)
                revision = await _revision(conn)
                tables = await tenant_tables(conn)
                registry = await _registry_columns(conn)

                async def dump(name: str, columns: tuple[str, ...], query: str) -> int:
                    sink = _Sink(work / "tables" / f"{name}.csv")
                    try:
                        status = await conn.copy_from_query(
                            query, tenant_id, output=sink, **CSV_OPTS
                        )
                    finally:
                        sink.close()
                    rows = _count(status)
                    member = f"tables/{name}.csv"
                    members.append(
                        {"name": member, "sha256": sink.digest.hexdigest(), "size": sink.size}
                    )
                    tables_out.append(
                        {"name": name, "file": member, "columns": list(columns), "rows": rows}
                    )
                    return rows

                cols = ", ".join(_q(c) for c in registry)
                await dump(
                    "tenants",
                    registry,
                    f"select {cols} from {SCHEMA}.tenants where id = $1",  # noqa: S608
                )
                for t in tables:
                    cols = ", ".join(_q(c) for c in t.columns)
                    order = ", ".join(_q(c) for c in t.key)
                    await dump(
                        t.name,
                        t.columns,
                        f"select {cols} from {t.ident} where tenant_id = $1 order by {order}",  # noqa: S608
                    )
                keys = [r[0] for r in await conn.fetch(EVIDENCE_KEYS_SQL, tenant_id)]
        finally:
            await conn.close()

        # the files are not in the snapshot: read them once the transaction is over, so a slow
        # store does not hold it open (the rows say which files belong to the tenant)
        store = store or _store()
        evidence: list[dict[str, Any]] = []
        missing: list[str] = []
        for key in keys:
            _check_key(key, tenant_id)
            path = work / "evidence" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            sink = _Sink(path)
            try:
                async for chunk in store.open(key):
                    await sink(chunk)
            except FileNotFoundError:
                sink.close()
                path.unlink()
                missing.append(key)  # declared but never uploaded, or lost from the store
                continue
            finally:
                sink.close()
            member = f"evidence/{key}"
            members.append({"name": member, "sha256": sink.digest.hexdigest(), "size": sink.size})
            evidence.append(
                {"key": key, "file": member, "size": sink.size, "sha256": sink.digest.hexdigest()}
            )

        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "revision": revision,
            "exported_at": exported_at.isoformat(),
            "upward_version": _version(),
            "tenant": {"id": str(tenant_id), "slug": slug},
            "csv": {"header": True, "null": "", "session": SESSION_SETTINGS},
            "tables": tables_out,
            "evidence": evidence,
            "missing_evidence": missing,
            "members": members,
        }
        partial = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            await asyncio.to_thread(_write_tar, partial, work, manifest, exported_at)
            partial.replace(output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    result = ExportResult(
        tenant_id=tenant_id,
        slug=slug,
        revision=revision,
        archive=output,
        size=output.stat().st_size,
        tables=[TableResult(t["name"], t["rows"]) for t in tables_out],
        evidence=len(evidence),
        evidence_bytes=sum(e["size"] for e in evidence),
        missing_evidence=missing,
        seconds=time.monotonic() - started,
    )
    log.info(
        "tenant exported",
        extra={
            "tenant_id": str(tenant_id),
            "slug": slug,
            "archive": str(output),
            "rows": sum(t.rows for t in result.tables),
            "evidence": result.evidence,
        },
    )
    return result


def _write_tar(path: Path, work: Path, manifest: dict[str, Any], at: datetime) -> None:
    def info(name: str, size: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = size, 0o600, int(at.timestamp())
        return ti

    body = json.dumps(manifest, indent=2, sort_keys=False).encode() + b"\n"
    with tarfile.open(path, "w:gz", compresslevel=6) as tar:
        tar.addfile(info(MANIFEST, len(body)), io.BytesIO(body))  # first: read before the rest
        for m in manifest["members"]:
            with (work / m["name"]).open("rb") as f:
                tar.addfile(info(m["name"], m["size"]), f)


# --- import --------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    tenant_id: uuid.UUID
    slug: str
    revision: str
    tables: list[TableResult]
    evidence: int
    seconds: float


def _check_key(key: str, tenant_id: uuid.UUID) -> None:
    """Evidence keys are `<tenant_id>/<evidence_id>`: one that points elsewhere is refused (an
    archive must not write another tenant's files)."""
    parts = key.split("/")
    if len(parts) != 2 or parts[0] != str(tenant_id):
        raise TransferError(f"evidence key {key!r} is not one of tenant {tenant_id}")
    try:
        uuid.UUID(parts[1])
    except ValueError:
        raise TransferError(f"evidence key {key!r} is not one of tenant {tenant_id}") from None


_MEMBER = re.compile(r"^(tables/[a-z_][a-z0-9_]*\.csv|evidence/[0-9a-f-]{36}/[0-9a-f-]{36})$")


def read_manifest(archive: Path) -> dict[str, Any]:
    """The archive's manifest (its first member), checked for shape, without reading the rest."""
    try:
        with tarfile.open(archive, "r|gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise TransferError(f"{archive}: not an Upward tenant archive ({MANIFEST} first)")
            f = tar.extractfile(first)
            assert f is not None
            manifest = json.loads(f.read())
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError) as exc:
        raise TransferError(f"{archive}: cannot read the archive ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TransferError(f"{archive}: not an Upward tenant archive")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise TransferError(
            f"{archive}: archive format {manifest.get('format_version')!r}, this version of "
            f"Upward reads format {FORMAT_VERSION}"
        )
    return manifest


def _unpack(archive: Path, work: Path, manifest: dict[str, Any]) -> None:
    """Extract every member listed in the manifest into `work`, verifying each sha256 and size
    as it streams; anything unlisted, missing, or different is refused."""
    expected = {m["name"]: m for m in manifest["members"]}
    seen: set[str] = set()
    with tarfile.open(archive, "r|gz") as tar:
        for ti in tar:
            if ti.name == MANIFEST:
                continue
            m = expected.get(ti.name)
            if m is None or not ti.isfile() or not _MEMBER.match(ti.name) or ti.name in seen:
                raise TransferError(f"{archive}: unexpected member {ti.name!r}")
            seen.add(ti.name)
            src = tar.extractfile(ti)
            assert src is not None
            dest = work / ti.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            with dest.open("wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            if digest.hexdigest() != m["sha256"] or size != m["size"]:
                raise TransferError(
                    f"{archive}: {ti.name} does not match its checksum in the manifest "
                    "(the archive is damaged or was changed): nothing was imported"
                )
    missing = sorted(set(expected) - seen)
    if missing:
        raise TransferError(f"{archive}: members missing: {', '.join(missing)}")


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return next(csv.reader(f), [])


async def import_tenant(
    archive: Path,
    *,
    dsn: str | None = None,
    store: Any = None,
) -> ImportResult:
    """Restore the archive's tenant, with its ids, into this deployment: all or nothing."""
    started = time.monotonic()
    archive = Path(archive)
    if not archive.is_file():
        raise TransferError(f"{archive}: no such file")
    manifest = read_manifest(archive)
    try:
        tenant_id = uuid.UUID(manifest["tenant"]["id"])
        slug = str(manifest["tenant"]["slug"])
        tables_in: list[dict[str, Any]] = list(manifest["tables"])
        evidence: list[dict[str, Any]] = list(manifest["evidence"])
    except (KeyError, TypeError, ValueError):
        raise TransferError(f"{archive}: the manifest is incomplete") from None
    members = {m.get("name") for m in manifest.get("members", []) if isinstance(m, dict)}
    for e in evidence:
        _check_key(e["key"], tenant_id)
    for name in [t.get("file") for t in tables_in] + [e.get("file") for e in evidence]:
        if name not in members or not _MEMBER.match(str(name)):
            raise TransferError(f"{archive}: the manifest names {name!r}, which is not a member")

    conn = await connect(dsn)
    try:
        # refuse early, before unpacking a big archive
        revision = await _revision(conn)
        if manifest.get("revision") != revision:
            raise TransferError(
                f"{archive} was exported at revision {manifest.get('revision')!r}; this "
                f"database is at {revision!r}. Import into a deployment at the same revision "
                "(`upward migrate` the older one first)"
            )
        await _refuse_taken(conn, tenant_id, slug)
        with tempfile.TemporaryDirectory(prefix=".upward-import-") as tmp:
            work = Path(tmp)
            await asyncio.to_thread(_unpack, archive, work, manifest)
            try:
                result = await _load(
                    conn,
                    archive,
                    work,
                    manifest,
                    tenant_id,
                    tables_in,
                    evidence,
                    store or _store(),
                )
            except asyncpg.PostgresError as exc:  # at commit: a tenant created meanwhile
                raise TransferError(f"{archive}: {exc}; nothing was imported") from exc
    finally:
        await conn.close()
    result.seconds = time.monotonic() - started
    log.info(
        "tenant imported",
        extra={
            "tenant_id": str(tenant_id),
            "slug": slug,
            "archive": str(archive),
            "rows": sum(t.rows for t in result.tables),
            "evidence": result.evidence,
        },
    )
    return result


async def _refuse_taken(conn: asyncpg.Connection, tenant_id: uuid.UUID, slug: str) -> None:
    rows = await conn.fetch(
        f"select id, slug from {SCHEMA}.tenants where id = $1 or slug = $2",  # noqa: S608
        tenant_id,
        slug,
    )
    for r in rows:
        if r["id"] == tenant_id:
            raise TransferError(
                f"tenant {tenant_id} already exists here (as {r['slug']!r}): import restores "
                "into a deployment without it; erase it first if it is to be replaced"
            )
        raise TransferError(
            f"the slug {slug!r} belongs to another tenant here ({r['id']}): nothing was imported"
        )


async def _load(
    conn: asyncpg.Connection,
    archive: Path,
    work: Path,
    manifest: dict[str, Any],
    tenant_id: uuid.UUID,
    tables_in: list[dict[str, Any]],
    evidence: list[dict[str, Any]],
    store: Any,
) -> ImportResult:
    by_name = {t["name"]: t for t in tables_in}
    written: list[str] = []
    loaded: list[TableResult] = []
    try:
        async with conn.transaction():
            await _set_tenant(conn, tenant_id)
            tables = await tenant_tables(conn)
            here = {t.name for t in tables} | {"tenants"}
            if set(by_name) != here:
                extra, lacking = sorted(set(by_name) - here), sorted(here - set(by_name))
                raise TransferError(
                    f"{archive}: its tables differ from this database's "
                    f"(only in the archive: {extra or '-'}; only here: {lacking or '-'})"
                )
            # a cycle of deferrable keys (and the ledger's balance triggers) check at the end
            await conn.execute("SET CONSTRAINTS ALL DEFERRED")
            registry = Table("tenants", await _registry_columns(conn), ("id",), frozenset())
            for t in (registry, *tables):
                spec = by_name[t.name]
                if set(spec["columns"]) != set(t.columns):
                    raise TransferError(
                        f"{archive}: {t.name} has columns {spec['columns']} in the archive, "
                        f"{list(t.columns)} here"
                    )
                path = work / spec["file"]
                if _csv_header(path) != list(spec["columns"]):
                    raise TransferError(f"{archive}: {spec['file']} has an unexpected header")
                rows = int(spec["rows"])
                if rows == 0 and t.name != "tenants":
                    loaded.append(TableResult(t.name, 0))
                    continue
                # only this tenant's rows load: an archive cannot write into another tenant
                # (a row of another tenant_id is left out, and the count below refuses it)
                mine = f"{'id' if t.name == 'tenants' else 'tenant_id'} = '{tenant_id}'::uuid"
                try:
                    status = await conn.copy_to_table(
                        t.name,
                        schema_name=SCHEMA,
                        source=path,
                        columns=list(spec["columns"]),
                        where=mine,
                        **CSV_OPTS,
                    )
                except asyncpg.PostgresError as exc:
                    raise TransferError(
                        f"{archive}: loading {t.name} failed: {exc}; nothing was imported"
                    ) from exc
                copied = _count(status)
                if copied != rows:
                    raise TransferError(
                        f"{archive}: {t.name} loaded {copied} rows of tenant {tenant_id}, the "
                        f"manifest says {rows}: nothing was imported"
                    )
                if t.name != "tenants":
                    loaded.append(TableResult(t.name, rows))
            # deferred checks now, so a failure comes before any file is written
            try:
                await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
            except asyncpg.PostgresError as exc:
                raise TransferError(
                    f"{archive}: the loaded rows fail a deferred check: {exc}; nothing was imported"
                ) from exc
            for e in evidence:
                await _put_file(store, e["key"], work / e["file"], int(e["size"]))
                written.append(e["key"])
    except BaseException:
        for key in written:
            try:
                await store.delete(key)
            except Exception:
                log.exception("could not remove an imported evidence file", extra={"key": key})
        raise
    return ImportResult(
        tenant_id=tenant_id,
        slug=str(manifest["tenant"]["slug"]),
        revision=str(manifest["revision"]),
        tables=loaded,
        evidence=len(written),
        seconds=0.0,
    )


async def _put_file(store: Any, key: str, path: Path, size: int) -> None:
    async def chunks() -> Any:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    staged = await store.put(key, chunks(), max_bytes=size)
    try:
        await store.commit(staged)
    except BaseException:
        await store.discard(staged)
        raise


# --- erase ---------------------------------------------------------------------------------------


@dataclass
class EraseResult:
    tenant_id: uuid.UUID
    slug: str
    erasure_id: uuid.UUID
    tables: list[TableResult]
    evidence: int
    redis_keys: int
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def erase_tenant(
    slug: str,
    *,
    erased_by: str,
    reason: str | None = None,
    force: bool = False,
    dsn: str | None = None,
    store: Any = None,
    redis_url: str | None = None,
) -> EraseResult:
    """Delete every row and file of the tenant `slug`; keep only the record of the erasure.

    One transaction deletes the rows, table by table (children first, so each count is that
    table's own), then the `tenants` row, and writes the record. The tenant row is locked
    first: a job or request that writes for the tenant meanwhile waits, then fails on the
    foreign key to the registry. Files and Redis keys go after the commit (a rollback must not
    have removed them); what that cleanup did is added to the record."""
    started = time.monotonic()
    store = store or _store()  # before anything is deleted: a broken store stops it here
    conn = await connect(dsn)
    try:
        async with conn.transaction():
            tenant = await conn.fetchrow(
                f"select id, slug, status from {SCHEMA}.tenants where slug = $1 for update",  # noqa: S608
                slug,
            )
            if tenant is None:
                raise TransferError(f"no tenant {slug!r}")
            if tenant["status"] == "active" and not force:
                raise TransferError(
                    f"{slug} is active: suspend it first (`upward tenants suspend {slug}`), so "
                    "no request or job writes while it is erased, or pass --force"
                )
            tenant_id: uuid.UUID = tenant["id"]
            await _set_tenant(conn, tenant_id)
            revision = await _revision(conn)
            keys = [r[0] for r in await conn.fetch(EVIDENCE_KEYS_SQL, tenant_id)]
            tables = await tenant_tables(conn)
            counts: list[TableResult] = []
            for t in reversed(tables):
                status = await conn.execute(
                    f"delete from {t.ident} where tenant_id = $1",  # noqa: S608
                    tenant_id,
                )
                counts.append(TableResult(t.name, _count(status)))
            counts.reverse()
            await conn.execute(f"delete from {SCHEMA}.tenants where id = $1", tenant_id)  # noqa: S608
            erasure_id = await conn.fetchval(
                f"insert into {OPS_TABLE} (erased_tenant_id, slug, erased_by, reason, "  # noqa: S608
                "revision, row_counts, evidence_files) values ($1, $2, $3, $4, $5, $6, $7) "
                "returning id",
                tenant_id,
                slug,
                erased_by,
                reason,
                revision,
                json.dumps({c.name: c.rows for c in counts if c.rows}),
                len(keys),
            )
        result = EraseResult(tenant_id, slug, erasure_id, counts, len(keys), 0)
        await _cleanup(conn, result, keys, store, redis_url)
    finally:
        await conn.close()
    result.seconds = time.monotonic() - started
    log.info(
        "tenant erased",
        extra={
            "tenant_id": str(tenant_id),
            "slug": slug,
            "erased_by": erased_by,
            "rows": sum(c.rows for c in counts),
            "evidence": len(keys),
        },
    )
    return result


async def _cleanup(
    conn: asyncpg.Connection,
    result: EraseResult,
    keys: list[str],
    store: Any,
    redis_url: str | None,
) -> None:
    deleted = 0
    for key in keys:
        try:
            await store.delete(key)
            deleted += 1
        except Exception as exc:
            result.problems.append(f"evidence {key}: {exc}")
    # whatever else the store holds under the tenant (half-written uploads)
    purge: Callable[[uuid.UUID], Awaitable[None]] | None = getattr(store, "delete_tenant", None)
    root = getattr(store, "root", None)
    try:
        if purge is not None:
            await purge(result.tenant_id)
        elif isinstance(root, Path):
            await asyncio.to_thread(shutil.rmtree, root / str(result.tenant_id), True)
    except Exception as exc:
        result.problems.append(f"evidence folder: {exc}")
    try:
        result.redis_keys = await delete_redis_keys(result.tenant_id, redis_url)
    except Exception as exc:
        result.problems.append(f"redis: {exc}")
    cleanup = {
        "evidence_deleted": deleted,
        "redis_keys_deleted": result.redis_keys,
        "problems": result.problems,
    }
    await conn.execute(
        f"update {OPS_TABLE} set cleanup = $2 where id = $1",  # noqa: S608
        result.erasure_id,
        json.dumps(cleanup),
    )


async def delete_redis_keys(tenant_id: uuid.UUID, url: str | None = None) -> int:
    """Every key of this deployment's namespace that names the tenant: rate-limit buckets
    (`rl:t:<id>...`), persisted queries (`apq:<id>:...`), scheduler slots of `--tenant` runs.
    SCAN, not KEYS: it does not block Redis on a big keyspace."""
    import redis.asyncio as aioredis

    settings = get_settings()
    url = url or settings.redis_url
    if not url:
        raise TransferError("REDIS_URL is not set")
    client = aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    pattern = f"{settings.dramatiq_namespace}:*{tenant_id}*"
    n = 0
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                n += await client.unlink(*batch)
                batch = []
        if batch:
            n += await client.unlink(*batch)
    finally:
        await client.aclose()
    return n


def _store() -> Any:
    from upward.credentials.storage import evidence_store

    return evidence_store()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("upward")
    except PackageNotFoundError:
        return "unknown"
