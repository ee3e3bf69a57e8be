"""`upward`: dev, serve, worker, scheduler, migrate, tenants, documents, token, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from upward.observability import configure_logging
from upward.settings import get_settings

log = logging.getLogger("upward.cli")
ROOT = Path(__file__).resolve().parents[2]
DEMO_USERS = (
    ("tenant admin", "admin@acme.example"),
    ("HR admin", "hr@acme.example"),
    ("manager", "dana.lee@acme.example"),
    ("employee", "sam.rivera@acme.example"),
)


def _ensure_services() -> None:
    """Start embedded Postgres/Redis for whatever DATABASE_URL / REDIS_URL leave unset (in the
    environment or `.env`)."""
    settings = get_settings()
    if settings.database_url and settings.redis_url:
        return
    from upward.embedded import ensure_services

    emb = ensure_services()
    _EMBEDDED.append(emb)


_EMBEDDED: list[object] = []


def cmd_migrate(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.migrate import upgrade

    upgrade(revision=args.revision)
    print(f"migrated to {args.revision}", file=sys.stderr)
    return 0


async def _apply(files: list[str]) -> int:
    from upward.db import dispose_engines, owner_engine
    from upward.tenancy.manifest import ManifestError, parse_manifest
    from upward.tenancy.service import apply_manifest

    manifests = []
    failed = False
    for f in files:
        try:
            manifests.append(parse_manifest(f))
        except ManifestError as exc:
            failed = True
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
    if failed:
        print("nothing was applied", file=sys.stderr)
        return 2
    try:
        for m in manifests:
            result = await apply_manifest(owner_engine(), m)
            print(result.summary(), file=sys.stderr)
    finally:
        await dispose_engines()
    return 0


def cmd_tenants_apply(args: argparse.Namespace) -> int:
    _ensure_services()
    return asyncio.run(_apply(args.files))


def cmd_tenants_status(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.db import dispose_engines, owner_engine
    from upward.tenancy.service import set_tenant_status

    async def go() -> bool:
        try:
            return await set_tenant_status(owner_engine(), args.slug, args.status)
        finally:
            await dispose_engines()

    if not asyncio.run(go()):
        print(f"no tenant {args.slug!r}", file=sys.stderr)
        return 1
    print(f"{args.slug}: {args.status}", file=sys.stderr)
    return 0


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _print_counts(tables: list[Any]) -> None:
    """Each table with rows (in load order), then the totals."""
    full = [t for t in tables if t.rows]
    empty = [t.name for t in tables if not t.rows]
    width = max((len(t.name) for t in full), default=0)
    for t in full:
        print(f"  {t.name:<{width}}  {t.rows:>9}", file=sys.stderr)
    total = sum(t.rows for t in full)
    print(f"  {len(tables)} tables ({len(empty)} empty), {total} rows", file=sys.stderr)


def _transfer(go: Callable[[], Awaitable[int]]) -> int:
    """Run a transfer coroutine factory; a refusal or failure is one line and exit code 1."""
    import asyncpg

    from upward.db import dispose_engines
    from upward.tenancy.transfer import TransferError

    async def run() -> int:
        try:
            return await go()
        finally:
            await dispose_engines()

    try:
        return asyncio.run(run())
    except TransferError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:  # the disk, the store, the database
        log.exception("tenant transfer failed")
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def cmd_tenants_export(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.tenancy.transfer import default_archive_name, export_tenant

    output = Path(args.output or default_archive_name(args.slug))
    if output.is_dir():
        output = output / default_archive_name(args.slug)

    async def go() -> int:
        r = await export_tenant(args.slug, output)
        print(f"exported {r.slug} ({r.tenant_id}) at revision {r.revision}", file=sys.stderr)
        _print_counts(r.tables)
        print(f"  evidence files: {r.evidence} ({_size(r.evidence_bytes)})", file=sys.stderr)
        for key in r.missing_evidence:
            print(
                f"  warning: evidence {key} has a row but no file: not in the archive",
                file=sys.stderr,
            )
        print(
            f"archive {r.archive.resolve()} ({_size(r.size)}) in {r.seconds:.2f} s", file=sys.stderr
        )
        return 0

    return _transfer(go)


def cmd_tenants_import(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.tenancy.transfer import import_tenant

    async def go() -> int:
        r = await import_tenant(Path(args.archive))
        print(f"imported {r.slug} ({r.tenant_id}) at revision {r.revision}", file=sys.stderr)
        _print_counts(r.tables)
        print(f"  evidence files: {r.evidence}", file=sys.stderr)
        print(
            f"in {r.seconds:.2f} s; its status is as exported "
            f"(`upward tenants activate {r.slug}` to open it)",
            file=sys.stderr,
        )
        return 0

    return _transfer(go)


def _operator() -> str:
    import getpass
    import socket

    who = os.environ.get("SUDO_USER") or getpass.getuser()
    return f"{who}@{socket.gethostname()}"


def cmd_tenants_erase(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.tenancy.transfer import erase_tenant

    if not args.yes:
        if not sys.stdin.isatty():
            print(
                f"error: erasing {args.slug} deletes all of its data for good: pass --yes "
                "(or run it in a terminal and type the slug)",
                file=sys.stderr,
            )
            return 1
        typed = input(
            f"This deletes every row and file of {args.slug!r} for good. Type the slug to confirm: "
        )
        if typed.strip() != args.slug:
            print("not confirmed: nothing was erased", file=sys.stderr)
            return 1

    async def go() -> int:
        r = await erase_tenant(
            args.slug, erased_by=args.by or _operator(), reason=args.reason, force=args.force
        )
        print(
            f"erased {r.slug} ({r.tenant_id}); record {r.erasure_id} in upward_ops.tenant_erasures",
            file=sys.stderr,
        )
        _print_counts(r.tables)
        print(f"  evidence files: {r.evidence}; redis keys: {r.redis_keys}", file=sys.stderr)
        for problem in r.problems:
            print(f"  error: cleanup after the commit: {problem}", file=sys.stderr)
        print(f"in {r.seconds:.2f} s", file=sys.stderr)
        return 1 if r.problems else 0

    return _transfer(go)


def cmd_documents_register(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.db import dispose_engines, owner_engine
    from upward.graphql.persisted import read_documents, register_documents
    from upward.graphql.schema import build_schema

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"{folder} is not a folder", file=sys.stderr)
        return 2
    docs = read_documents(folder)
    if not docs:
        print(f"no .graphql files under {folder}", file=sys.stderr)
        return 2

    async def go() -> object:
        try:
            return await register_documents(
                owner_engine(),
                build_schema()._schema,
                tenant_slug=args.tenant,
                collection=args.collection,
                docs=docs,
                replace=args.replace,
            )
        finally:
            await dispose_engines()

    result = asyncio.run(go())
    for error in result.errors:  # type: ignore[attr-defined]
        print(error, file=sys.stderr)
    if result.errors:  # type: ignore[attr-defined]
        print("nothing registered", file=sys.stderr)
        return 1
    print(
        f"{args.tenant}/{args.collection}: {result.added} added, "  # type: ignore[attr-defined]
        f"{result.unchanged} unchanged, {result.removed} removed",  # type: ignore[attr-defined]
        file=sys.stderr,
    )
    return 0


def cmd_documents_enforce(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.db import dispose_engines, owner_engine
    from upward.graphql.persisted import enforce

    async def go() -> bool:
        try:
            return await enforce(owner_engine(), tenant_slug=args.slug, on=args.on)
        finally:
            await dispose_engines()

    if not asyncio.run(go()):
        print(f"no tenant {args.slug!r}", file=sys.stderr)
        return 1
    state = "only registered operations run" if args.on else "any operation runs"
    print(f"{args.slug}: {state}", file=sys.stderr)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from upward.auth.tokens import mint_token

    sys.stdout.write(
        mint_token(tenant=args.tenant, subject=args.email.strip().lower(), ttl_seconds=args.ttl)
        + "\n"
    )
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from upward.graphql.schema import export_sdl

    sdl = export_sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.serving import serve

    settings = get_settings()
    return serve(
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        graceful_timeout=args.graceful_timeout,
    )


def cmd_worker(args: argparse.Namespace) -> int:
    _ensure_services()
    from upward.serving import run_worker

    settings = get_settings()
    return run_worker(
        processes=args.processes or settings.worker_processes,
        threads=args.threads or settings.worker_threads,
        shutdown_timeout=args.shutdown_timeout,
    )


def cmd_scheduler(args: argparse.Namespace) -> int:
    _ensure_services()
    from workers.scheduler import run_forever

    asyncio.run(run_forever(args.tick, args.tenant))
    return 0


def _wait_healthy(url: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - local URL
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def cmd_dev(args: argparse.Namespace) -> int:
    """Embedded services, migrations, demo tenants, then API + worker + scheduler."""
    _ensure_services()
    from upward.auth.tokens import mint_token
    from upward.migrate import upgrade

    upgrade()
    demo = sorted(str(p) for p in (ROOT / "tenants").glob("*.toml") if not p.name.startswith("_"))
    if asyncio.run(_apply(demo)) != 0:
        return 2
    settings = get_settings()
    host, port = args.host or settings.host, args.port or settings.port
    env = {
        **os.environ,
        "UPWARD_ENV": os.environ.get("UPWARD_ENV", "dev"),
        "UPWARD_LOG_FORMAT": os.environ.get("UPWARD_LOG_FORMAT", "text"),
    }
    mail = None
    if not settings.smtp_host:  # a local SMTP server whose mail a newcomer can read
        from upward.devmail import DevMailServer

        mail_dir = settings.data_dir / "mail"
        try:
            mail = DevMailServer(mail_dir, "127.0.0.1", settings.dev_smtp_port)
            mail.start()
        except OSError:  # the port is taken: any free one will do
            mail = DevMailServer(mail_dir, "127.0.0.1", 0)
            mail.start()
        env.update(
            UPWARD_SMTP_HOST="127.0.0.1", UPWARD_SMTP_PORT=str(mail.port), UPWARD_SMTP_TLS="none"
        )
    exe = [sys.executable, "-m", "upward"]
    specs = {
        "api": [*exe, "serve", "--host", host, "--port", str(port)],
        "worker": [*exe, "worker", "--processes", "1", "--threads", "2"],
        "scheduler": [*exe, "scheduler"],
    }
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        for name, cmd in specs.items():
            # own session: Ctrl-C reaches only this supervisor, which stops children in order
            children[name] = subprocess.Popen(cmd, env=env, start_new_session=True)  # noqa: S603
        if not _wait_healthy(f"http://{host}:{port}/healthz"):
            print("the API did not become healthy; see the log above", file=sys.stderr)
            return 1
        lines = [
            "",
            "Upward is running:",
            f"  GraphiQL   http://{host}:{port}/graphql",
            f"  health     http://{host}:{port}/readyz",
            (
                f"  mail       {settings.data_dir / 'mail'}/ (every email the workers send)"
                if mail is not None
                else f"  mail       via {settings.smtp_host}"
            ),
            "",
            f"Bearer tokens for the demo tenant 'acme' "
            f"(valid {settings.jwt_default_ttl_seconds / 3600:g} h):",
        ]
        first = None
        for role, email in DEMO_USERS:
            token = mint_token(tenant="acme", subject=email)
            first = first or token
            lines += [f"  {role:<13} {email}", f"    {token}"]
        lines += [
            "",
            "Try:",
            f"  curl -s http://{host}:{port}/graphql -H 'Content-Type: application/json' \\",
            f"    -H 'Authorization: Bearer {first}' \\",
            '    -d \'{"query":"{ me { name email title manager { name } } }"}\'',
            "",
            "Ctrl-C stops everything.",
            "",
        ]
        print("\n".join(lines), flush=True)
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; stopping", file=sys.stderr)
                    stopping, code = True, 1
                    break
            time.sleep(0.3)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if mail is not None:
            mail.stop()
        for emb in _EMBEDDED:
            emb.stop()  # type: ignore[attr-defined]
        print("stopped", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="upward", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("dev", help="run everything locally with demo data")
    d.add_argument("--host")
    d.add_argument("--port", type=int)
    d.set_defaults(fn=cmd_dev)

    s = sub.add_parser("serve", help="run the API")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, default=1, help="API processes")
    s.add_argument(
        "--graceful-timeout",
        type=int,
        metavar="SECONDS",
        help="on SIGTERM, wait at most this long for requests in flight (default: no limit)",
    )
    s.set_defaults(fn=cmd_serve)

    w = sub.add_parser("worker", help="run the dramatiq worker fleet")
    w.add_argument("--processes", type=int)
    w.add_argument("--threads", type=int)
    w.add_argument(
        "--shutdown-timeout",
        type=int,
        metavar="SECONDS",
        help="on SIGTERM, wait at most this long for running actors (default: 600)",
    )
    w.set_defaults(fn=cmd_worker)

    sc = sub.add_parser("scheduler", help="run the periodic-job scheduler")
    sc.add_argument("--tick", type=float, help="seconds between ticks")
    sc.add_argument(
        "--tenant", action="append", help="only this tenant (slug; repeatable), e.g. to debug"
    )
    sc.set_defaults(fn=cmd_scheduler)

    m = sub.add_parser("migrate", help="apply database migrations (as the owner)")
    m.add_argument("revision", nargs="?", default="head")
    m.set_defaults(fn=cmd_migrate)

    t = sub.add_parser("tenants", help="tenant provisioning")
    tsub = t.add_subparsers(dest="tenants_command", required=True)
    ta = tsub.add_parser("apply", help="create or update tenants from TOML manifests")
    ta.add_argument("files", nargs="+")
    ta.set_defaults(fn=cmd_tenants_apply)
    for verb, status in (("suspend", "suspended"), ("activate", "active")):
        tv = tsub.add_parser(
            verb, help=f"mark a tenant {status} (takes effect on the next request)"
        )
        tv.add_argument("slug")
        tv.set_defaults(fn=cmd_tenants_status, status=status)
    te = tsub.add_parser(
        "export", help="write a tenant's rows and evidence files to one archive (.tar.gz)"
    )
    te.add_argument("slug")
    te.add_argument(
        "-o", "--output", help="archive file or folder (default: ./SLUG-<UTC time>.tar.gz)"
    )
    te.set_defaults(fn=cmd_tenants_export)
    ti = tsub.add_parser(
        "import", help="restore an exported tenant (same ids) into this deployment"
    )
    ti.add_argument("archive")
    ti.set_defaults(fn=cmd_tenants_import)
    tx = tsub.add_parser(
        "erase", help="delete every row and file of a tenant, keeping a record of the erasure"
    )
    tx.add_argument("slug")
    tx.add_argument("--yes", action="store_true", help="do not ask to type the slug")
    tx.add_argument("--force", action="store_true", help="erase even if the tenant is active")
    tx.add_argument("--by", help="who erases, for the record (default: user@host)")
    tx.add_argument("--reason", help="why, for the record (a ticket, a request)")
    tx.set_defaults(fn=cmd_tenants_erase)

    d = sub.add_parser("documents", help="trusted documents (registered operations)")
    dsub = d.add_subparsers(dest="documents_command", required=True)
    dr = dsub.add_parser(
        "register", help="register every .graphql file under a folder for a tenant"
    )
    dr.add_argument("folder")
    dr.add_argument("--tenant", required=True, help="tenant slug")
    dr.add_argument("--collection", default="default", help="collection name (default: default)")
    dr.add_argument(
        "--replace", action="store_true", help="remove the collection's documents not in folder"
    )
    dr.set_defaults(fn=cmd_documents_register)
    for verb, on in (("enforce", True), ("relax", False)):
        de = dsub.add_parser(
            verb,
            help="only registered operations run for the tenant"
            if on
            else "any operation runs for the tenant again",
        )
        de.add_argument("slug")
        de.set_defaults(fn=cmd_documents_enforce, on=on)

    tok = sub.add_parser("token", help="print a dev bearer token (HS256)")
    tok.add_argument("--tenant", required=True, help="tenant slug or id")
    tok.add_argument("--email", required=True, help="employee email (or id)")
    tok.add_argument("--ttl", type=int, default=None, help="seconds (default 12 h)")
    tok.set_defaults(fn=cmd_token)

    e = sub.add_parser("export-schema", help="print or write the GraphQL SDL")
    e.add_argument("-o", "--output", default="-")
    e.set_defaults(fn=cmd_export_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format if args.command != "dev" else "text")
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
