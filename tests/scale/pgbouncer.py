"""A PgBouncer of the tests' own, in transaction pooling mode, in front of the suite's PostgreSQL.

`PgBouncer(server_url, pool_size=2).start()` writes an ini and a userlist to a temporary folder,
runs `pgbouncer -q <ini>` in the foreground as a child process on a free port of 127.0.0.1, and
`stop()` ends it and removes the folder. PgBouncer refuses to run as root, so as root it is
started with `-u <user>` (the owner of PostgreSQL's socket folder when the server is reached
over a unix socket, as the embedded pgserver is; else `postgres`, else `nobody`), and the folder
belongs to that user.

Without a `pgbouncer` binary (`UPWARD_PGBOUNCER_BIN` names one elsewhere) the tests that need
one are skipped, except in CI (`CI` or `UPWARD_REQUIRE_PGBOUNCER=1` set), where that is a
failure.

`python -m tests.scale.pgbouncer bench` measures a tight loop of tenant sessions direct and
through PgBouncer (docs/scaling.md, "Behind PgBouncer").
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

REQUIRE_ENV = "UPWARD_REQUIRE_PGBOUNCER"
ROOT = Path(__file__).resolve().parents[2]


def pgbouncer_binary() -> str | None:
    """`UPWARD_PGBOUNCER_BIN` when set (an empty or wrong path: none), else `pgbouncer` on PATH
    or in /usr/sbin (Debian's place, not on every PATH)."""
    explicit = os.environ.get("UPWARD_PGBOUNCER_BIN")
    if explicit is not None:
        return shutil.which(explicit) if explicit else None
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


def pgbouncer_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get(REQUIRE_ENV) == "1"


def need_pgbouncer() -> str:
    """The binary; or skip the test (locally) / fail it (CI) when there is none."""
    binary = pgbouncer_binary()
    if binary is None:
        reason = "no pgbouncer binary (apt-get install pgbouncer)"
        if pgbouncer_required():
            pytest.fail(f"{reason}, and CI / {REQUIRE_ENV}=1 requires it", pytrace=False)
        pytest.skip(reason)
    return binary


def server_address(url: str) -> tuple[str, int]:
    """(host or socket folder, port) of a PostgreSQL URL, including pgserver's
    `postgresql://postgres:@/db?host=/socket/dir`."""
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", [""])[0] or "127.0.0.1"
    port = parts.port or int(parse_qs(parts.query).get("port", ["5432"])[0])
    return host, port


def session_limits_query() -> str:
    """PgBouncer's `connect_query`: the limits the app engine sends as startup parameters when
    it connects directly (PgBouncer refuses those parameters)."""
    from upward.db import IDLE_IN_TRANSACTION_MS
    from upward.settings import get_settings

    return (
        f"SET statement_timeout = {get_settings().db_statement_timeout_ms};"
        f" SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as(host: str) -> str | None:
    if os.geteuid() != 0:
        return None
    if host.startswith("/"):  # a unix socket folder: its owner can reach it
        return pwd.getpwuid(os.stat(host).st_uid).pw_name
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and found no user to run pgbouncer as")


class PgBouncer:
    """One PgBouncer process: `[databases]` has `database` (default: the server URL's) on the
    server of `server_url`, pooled per user in transaction mode with `pool_size` server
    connections (and at most `max_db_connections` for the database, default the same)."""

    def __init__(
        self,
        server_url: str,
        *,
        database: str | None = None,
        pool_size: int = 2,
        max_db_connections: int | None = None,
        max_client_conn: int = 1000,
        connect_query: str | None = "default",
        users: dict[str, str] | None = None,
    ) -> None:
        self.server_url = server_url
        self.database = database or urlsplit(server_url).path.lstrip("/") or "postgres"
        self.pool_size = pool_size
        self.max_db_connections = max_db_connections or pool_size
        self.max_client_conn = max_client_conn
        self.connect_query = session_limits_query() if connect_query == "default" else connect_query
        owner = urlsplit(server_url)
        self.admin_user = unquote(owner.username or "postgres")
        # PgBouncer logs in to the server with the passwords of its auth_file (none needed
        # where the server trusts local connections, as the suite's do)
        self.users = {self.admin_user: unquote(owner.password or ""), **(users or {})}
        self.port = 0
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> PgBouncer:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("no pgbouncer binary (apt-get install pgbouncer)")
        host, server_port = server_address(self.server_url)
        run_as = _run_as(host)
        for _attempt in range(3):  # a free port can be taken before pgbouncer binds it
            self.dir = Path(tempfile.mkdtemp(prefix="upward-pgbouncer-"))
            self.port = _free_port()
            ini = self._write_files(host, server_port, run_as)
            cmd = [binary, "-q", *(["-u", run_as] if run_as else []), str(ini)]
            self.proc = subprocess.Popen(  # noqa: S603 - the system's pgbouncer, our ini
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if self._wait_ready(timeout):
                return self
            log = self.log()
            self.stop()
            if "Address already in use" not in log:
                raise RuntimeError(f"pgbouncer did not start:\n{log}")
        raise RuntimeError("pgbouncer found no free port")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: immediate shutdown
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write_files(self, host: str, server_port: int, run_as: str | None) -> Path:
        assert self.dir is not None
        db = f"host={host} port={server_port} dbname={self.database}"
        if self.connect_query:
            db += f" connect_query='{self.connect_query}'"
        quoted = {u.replace('"', '""'): p.replace('"', '""') for u, p in self.users.items()}
        userlist = "".join(f'"{u}" "{p}"\n' for u, p in quoted.items())
        (self.dir / "userlist.txt").write_text(userlist)
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(
            f"""[databases]
{self.database} = {db}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/userlist.txt
admin_users = {self.admin_user}
pool_mode = transaction
default_pool_size = {self.pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_db_connections = {self.max_db_connections}
max_client_conn = {self.max_client_conn}
; only used in session mode (and with server_reset_query_always = 1): transaction mode needs
; none, since nothing of a transaction outlives it
server_reset_query = DISCARD ALL
server_reset_query_always = 0
query_wait_timeout = 60
log_connections = 0
log_disconnections = 0
logfile = {self.dir}/pgbouncer.log
pidfile = {self.dir}/pgbouncer.pid
"""
        )
        if run_as:
            uid, gid = pwd.getpwnam(run_as).pw_uid, pwd.getpwnam(run_as).pw_gid
            os.chown(self.dir, uid, gid)
        return ini

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def log(self) -> str:
        out = ""
        if self.proc is not None and self.proc.poll() is not None and self.proc.stderr:
            out += self.proc.stderr.read().decode(errors="replace")
        if self.dir is not None and (self.dir / "pgbouncer.log").exists():
            out += (self.dir / "pgbouncer.log").read_text(errors="replace")
        return out

    # --- use -------------------------------------------------------------------------------

    def url(self, user: str, password: str = "", database: str | None = None) -> str:
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database or self.database}"

    def admin(self, command: str) -> list[dict[str, str | None]]:
        """Run `command` (`SHOW POOLS`, `SHOW SERVERS`, ...) on the admin console, which speaks
        the simple query protocol only: a minimal client, so no psql is needed."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            params = f"user\0{self.admin_user}\0database\0pgbouncer\0\0".encode()
            body = struct.pack("!i", 196608) + params
            sock.sendall(struct.pack("!i", len(body) + 4) + body)
            _read_until_ready(sock)
            query = command.encode() + b"\0"
            sock.sendall(b"Q" + struct.pack("!i", len(query) + 4) + query)
            rows = _read_until_ready(sock)
            sock.sendall(b"X" + struct.pack("!i", 4))
        return rows


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("pgbouncer closed the admin connection")
        data += chunk
    return data


def _read_until_ready(sock: socket.socket) -> list[dict[str, str | None]]:
    names: list[str] = []
    rows: list[dict[str, str | None]] = []
    while True:
        kind = _recv(sock, 1)
        (length,) = struct.unpack("!i", _recv(sock, 4))
        payload = _recv(sock, length - 4)
        if kind == b"R" and struct.unpack("!i", payload[:4])[0] != 0:
            raise RuntimeError("the admin console asked for a password (auth_type is trust)")
        if kind == b"E":
            fields = dict((f[:1], f[1:]) for f in payload.split(b"\0") if f)
            raise RuntimeError(f"admin console: {fields.get(b'M', payload).decode()}")
        if kind == b"T":
            (count,) = struct.unpack("!h", payload[:2])
            pos, names = 2, []
            for _ in range(count):
                end = payload.index(b"\0", pos)
                names.append(payload[pos:end].decode())
                pos = end + 1 + 18  # table oid, column, type oid, size, modifier, format
        elif kind == b"D":
            (count,) = struct.unpack("!h", payload[:2])
            pos, values = 2, []
            for _ in range(count):
                (size,) = struct.unpack("!i", payload[pos : pos + 4])
                pos += 4
                if size < 0:
                    values.append(None)
                else:
                    values.append(payload[pos : pos + size].decode())
                    pos += size
            rows.append(dict(zip(names, values, strict=True)))
        elif kind == b"Z":
            return rows


def route_app_through_pgbouncer(database: str, pool_size: int = 10) -> PgBouncer:
    """The conftest hook of `UPWARD_TEST_PGBOUNCER=1`: one PgBouncer for the session, and the
    app role's URL (the API's and workers' path, and every process the tests start, which
    inherit the environment) through it in PgBouncer mode. The owner's URL stays direct."""
    from upward.settings import APP_ROLE, get_settings, reset_settings

    if pgbouncer_binary() is None:
        raise RuntimeError("UPWARD_TEST_PGBOUNCER=1, but there is no pgbouncer binary")
    settings = get_settings()
    bouncer = PgBouncer(
        settings.owner_url(),
        database=database,
        pool_size=pool_size,
        max_client_conn=5000,
        users={APP_ROLE: settings.app_db_password},
    ).start()
    os.environ["UPWARD_APP_DATABASE_URL"] = bouncer.url(APP_ROLE, settings.app_db_password)
    os.environ["UPWARD_DB_PGBOUNCER"] = "true"
    reset_settings()
    return bouncer


# --- measurement --------------------------------------------------------------------------------


PAGE = (
    "{ employees(first: 100) { edges { node { id name manager { name } department { name } } } } }"
)


async def _timed(one: Any, iterations: int, concurrency: int) -> tuple[float, float]:
    """(ms per call, one after another; calls per second, `concurrency` at once)"""
    import asyncio

    for _ in range(min(50, iterations)):  # warm the pool and the caches
        await one()
    t0 = time.perf_counter()
    for _ in range(iterations):
        await one()
    serial = (time.perf_counter() - t0) / iterations * 1000

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(iterations // concurrency) for _ in range(concurrency)))
    return serial, (iterations // concurrency * concurrency) / (time.perf_counter() - t0)


async def _bench(
    iterations: int, concurrency: int, rounds: int
) -> list[tuple[str, float, float, float, float]]:
    import asyncio

    import httpx
    import sqlalchemy as sa

    from upward.app import create_app
    from upward.auth.tokens import mint_token
    from upward.db import _make_engine, dispose_engines, fetch, tenant_session
    from upward.migrate import upgrade
    from upward.settings import APP_ROLE, get_settings, reset_settings
    from upward.tenancy.manifest import parse_manifest
    from upward.tenancy.service import apply_manifest

    manifest = parse_manifest(ROOT / "tenants" / "acme.toml")
    admin_url = get_settings().owner_url()
    db = os.environ.get("UPWARD_TEST_DB", "upward_t_bouncer") + "_bench"
    admin = _make_engine(admin_url, pool_size=1, max_overflow=0, app_name="bench")
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'drop database if exists "{db}" with (force)'))
        await conn.execute(sa.text(f'create database "{db}"'))
    os.environ["DATABASE_URL"] = urlsplit(admin_url)._replace(path="/" + db).geturl()
    os.environ["UPWARD_DB_POOL_SIZE"] = str(concurrency)
    os.environ["UPWARD_DB_MAX_OVERFLOW"] = "0"
    os.environ["UPWARD_RATE_LIMITS"] = "false"
    reset_settings()
    await asyncio.to_thread(upgrade)
    owner = _make_engine(get_settings().owner_url(), pool_size=1, max_overflow=0, app_name="b")
    tenant = (await apply_manifest(owner, manifest)).tenant_id
    async with owner.connect() as conn:
        admin_email = await conn.scalar(
            sa.text("select email from employees where 'tenant_admin' = any(roles) limit 1")
        )
    await owner.dispose()
    s = get_settings()
    headers = {"Authorization": f"Bearer {mint_token(tenant='acme', subject=admin_email)}"}
    direct_url, users = s.app_url(), {APP_ROLE: s.app_db_password}

    async def transaction() -> None:
        async with tenant_session(tenant) as session:
            await session.scalar(sa.text("select count(*) from departments"))
            await fetch(session, "select id, name from employees order by name limit 20")

    async def measure(url: str, pgbouncer: bool) -> tuple[float, float, float, float]:
        os.environ["UPWARD_APP_DATABASE_URL"] = url  # the process's app engine, as deployed
        os.environ["UPWARD_DB_PGBOUNCER"] = str(pgbouncer).lower()
        reset_settings()
        # a direct connection in PgBouncer mode has no session limits: it is only a yardstick
        logging.getLogger("upward.db").setLevel(logging.ERROR)
        try:
            tx = await _timed(transaction, iterations, concurrency)
            transport = httpx.ASGITransport(app=create_app())
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

                async def page() -> None:
                    r = await client.post("/graphql", json={"query": PAGE}, headers=headers)
                    assert r.status_code == 200 and "errors" not in r.json(), r.text

                http = await _timed(page, max(iterations // 10, concurrency), concurrency)
        finally:
            await dispose_engines()
        return (*tx, *http)

    modes = [
        ("direct (statement caches on: the default)", False, 0),
        ("direct, PgBouncer mode (caches off)", True, 0),
        (f"PgBouncer, {concurrency} server connections", True, concurrency),
        ("PgBouncer, 2 server connections", True, 2),
    ]
    runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, *_ in modes}
    try:
        for _round in range(rounds):  # interleaved, so a busy spell hits every mode alike
            for name, pgbouncer, servers in modes:
                if not servers:
                    runs[name].append(await measure(direct_url, pgbouncer))
                    continue
                with PgBouncer(s.owner_url(), pool_size=servers, users=users) as bouncer:
                    url = bouncer.url(APP_ROLE, s.app_db_password)
                    runs[name].append(await measure(url, True))
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'drop database if exists "{db}" with (force)'))
        await admin.dispose()
    # the best of the rounds: the least disturbed by whatever else the machine runs
    return [
        (
            name,
            min(r[0] for r in rs),
            max(r[1] for r in rs),
            min(r[2] for r in rs),
            max(r[3] for r in rs),
        )
        for name, rs in runs.items()
    ]


def main() -> None:
    """`python -m tests.scale.pgbouncer bench [iterations] [concurrency] [rounds]` with
    DATABASE_URL (an owner's URL of a PostgreSQL that trusts local connections) and REDIS_URL
    set. It creates, migrates and drops the database `$UPWARD_TEST_DB_bench`
    (`upward_t_bouncer_bench` by default)."""
    import asyncio
    import sys

    args = sys.argv[1:]
    if not args or args[0] != "bench":
        raise SystemExit(main.__doc__)
    iterations = int(args[1]) if len(args) > 1 else 2000
    concurrency = int(args[2]) if len(args) > 2 else 8
    rounds = int(args[3]) if len(args) > 3 else 3
    rows = asyncio.run(_bench(iterations, concurrency, rounds))
    print(
        f"A: tenant_session + count(*) + fetch of 20 rows, {iterations} transactions;"
        f" B: GraphQL page of acme's people (first: 100) with manager and department over HTTP (ASGI),"
        f" {max(iterations // 10, concurrency)} requests; one process, {concurrency} pooled"
        f" connections; best of {rounds} rounds"
    )
    head = (
        "engine",
        "A ms serial",
        f"A tx/s x{concurrency}",
        "B ms serial",
        f"B req/s x{concurrency}",
    )
    print(f"{head[0]:<44}" + "".join(f"{h:>14}" for h in head[1:]))
    for name, a_ms, a_rate, b_ms, b_rate in rows:
        print(f"{name:<44}{a_ms:>14.2f}{a_rate:>14.0f}{b_ms:>14.2f}{b_rate:>14.0f}")


if __name__ == "__main__":
    main()
