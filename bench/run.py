"""Upward benchmark: the employees page and `me`, against PostGraphile v4 and a raw asyncpg floor.

    python -m bench.run [--tenants 20] [--employees 5000] [--concurrency 16]
                        [--duration 10] [--warmup 2] [--requests N]
                        [--targets upward,floor,postgraphile] [--queries page,me]

One command: migrates and fills the `upward_bench` database (bench/generate.py; skipped when the
data is there), starts the Upward API (one process) and PostGraphile v4 (one node process), checks
that every target returns the same page, then measures the targets ONE AFTER ANOTHER at a fixed
concurrency and prints one table (req/s, p50, p99, CPU) with the ratios Upward/PostGraphile and
Upward/floor. HTTP load comes from a separate process (a small keep-alive HTTP/1.1 client on
uvloop); the floor runs in this process. Everything started here is stopped on exit, error or
Ctrl-C. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(ROOT))

from bench.generate import DEFAULT_URL, admin_email, generate, slug_of  # noqa: E402

BENCH_DIR = ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
NODE_DIR = BENCH_DIR / ".node"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
HOST = "127.0.0.1"

UPWARD_PAGE = (
    "query EmployeesPage { employees(first: 100) { totalCount edges { node { id name email "
    "manager { name } department { name } location { name } } } } }"
)
UPWARD_ME = "query Me { me { id name email title } }"
# PostGraphile's equivalents: the same connection (ordered by name then id, active only, like
# Upward's default filter), related rows through the composite-FK relation fields.
PG_PAGE = (
    "query EmployeesPage { employees: allEmployees(first: 100, orderBy: [NAME_ASC, ID_ASC], "
    'condition: {status: "active"}) { totalCount edges { node { id: nodeId name email '
    "manager: employeeByTenantIdAndManagerId { name } "
    "department: departmentByTenantIdAndDepartmentId { name } "
    "location: locationByTenantIdAndLocationId { name } } } } }"
)
PG_ME = (
    "query Me($tenantId: UUID!, $email: String!) { me: employeeByTenantIdAndEmail("
    "tenantId: $tenantId, email: $email) { id: nodeId name email title } }"
)

# The floor: what the API has to do at least, as raw SQL over asyncpg (role upward_app, RLS on).
FLOOR_SET_TENANT = "select set_config('app.tenant_id', $1, true)"
FLOOR_COUNT = "select count(*) from employees e where e.status = 'active'"
FLOOR_PAGE = """
select e.id, e.name, e.email, m.name as manager_name, d.name as department_name,
       l.name as location_name
from employees e
left join employees m on m.tenant_id = e.tenant_id and m.id = e.manager_id
left join departments d on d.tenant_id = e.tenant_id and d.id = e.department_id
left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id
where e.status = 'active'
order by e.name, e.id
limit 101
"""
# `me` as the API authenticates (src/upward/auth/service.py): tenant by slug (sets the tenant),
# then the employee by email with has_reports.
FLOOR_TENANT = (
    "select id, slug, timezone, set_config('app.tenant_id', id::text, true) "
    "from tenants where slug = $1 and status = 'active'"
)


def _floor_employee_sql() -> str:
    from upward.people.service import EMPLOYEE_COLUMNS

    return (
        f"select {EMPLOYEE_COLUMNS}, exists(select 1 from employees r where r.tenant_id = "
        "e.tenant_id and r.manager_id = e.id and r.status = 'active') as has_reports "
        "from employees e where e.email = $1 and e.status = 'active'"
    )


TARGETS = {"upward": "Upward", "floor": "floor (asyncpg)", "postgraphile": "PostGraphile v4"}
QUERIES = {"page": "employees page", "me": "me"}


class BenchError(RuntimeError):
    pass


# --- results ---------------------------------------------------------------------------------------


@dataclass
class Result:
    target: str
    query: str
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    errors: int = 0
    error_sample: str = ""
    server_cpu: float | None = None  # fraction of one core, the target's process
    client_cpu: float | None = None  # the load generator (for the floor: this process)
    pg_cpu: float | None = None  # all postgres processes on this machine
    other_cpu: float | None = None  # the rest of the machine's busy CPU (other load: noise)
    steal: float | None = None  # CPU stolen by the hypervisor (noise)
    spread: tuple[float, float] | None = None  # min and max req/s over --rounds

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


def _fill(res: Result, latencies: list[float], seconds: float) -> Result:
    latencies.sort()
    res.requests = len(latencies)
    res.seconds = seconds
    res.p50_ms = _percentile(latencies, 0.50) * 1000
    res.p99_ms = _percentile(latencies, 0.99) * 1000
    return res


# --- CPU accounting from /proc ---------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _postgres_ticks() -> dict[int, int]:
    out: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        comm = data[data.index(b"(") + 1 : data.rindex(b")")]
        if comm.startswith(b"postgres"):
            fields = data[data.rindex(b")") + 2 :].split()
            out[int(name)] = int(fields[11]) + int(fields[12])
    return out


def _machine_ticks() -> tuple[int, int]:
    """(busy, steal) ticks of all CPUs, from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return (0, 0)
    v += [0] * (8 - len(v))
    return (v[0] + v[1] + v[2] + v[5] + v[6], v[7])  # user nice system irq softirq, steal


class CpuProbe:
    """CPU of a process and of PostgreSQL between start() and stop(), as fractions of a core;
    also the whole machine's busy and stolen CPU (to spot other load on a shared machine)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.machine = self.steal = 0.0

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.p0 = _proc_ticks(self.pid) if self.pid else None
        self.pg0 = _postgres_ticks()
        self.m0 = _machine_ticks()

    def stop(self) -> tuple[float | None, float | None]:
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        p1 = _proc_ticks(self.pid) if self.pid else None
        pg1 = _postgres_ticks()
        m1 = _machine_ticks()
        self.machine = (m1[0] - self.m0[0]) / _TICK / elapsed
        self.steal = (m1[1] - self.m0[1]) / _TICK / elapsed
        proc = (p1 - self.p0) / _TICK / elapsed if p1 is not None and self.p0 is not None else None
        pg = sum(v - self.pg0.get(pid, 0) for pid, v in pg1.items()) / _TICK / elapsed
        return proc, pg


def idle_check(seconds: float = 1.0) -> tuple[float, float]:
    """Busy and stolen CPU of the machine (in cores) while the bench itself is idle."""
    probe = CpuProbe(None)
    probe.start()
    time.sleep(seconds)
    probe.stop()
    return probe.machine, probe.steal


# --- the HTTP load generator (runs in its own process) ---------------------------------------------


@dataclass
class LoadSpec:
    port: int
    requests: list[bytes]  # complete HTTP/1.1 requests, used round-robin
    concurrency: int
    warmup: float
    duration: float
    max_requests: int | None = None
    host: str = HOST


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    i = lower.find(b"\r\ncontent-length:")
    if i >= 0:
        j = lower.index(b"\r\n", i + 2)
        body = await reader.readexactly(int(head[i + 17 : j]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                break
            parts.append((await reader.readexactly(size + 2))[:-2])
        body = b"".join(parts)
    else:
        body = b""
    return status, body, b"\r\nconnection: close" in lower


async def _load(spec: LoadSpec, started: Any, finished: Any) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    state = {
        "measuring": False,
        "stop": False,
        "errors": 0,
        "errors_total": 0,
        "sample": "",
        "m_start": 0.0,
        "m_end": 0.0,
        "cpu0": 0.0,
        "cpu1": 0.0,
    }
    done = asyncio.Event()

    def begin() -> None:
        state["measuring"] = True
        state["m_start"] = time.perf_counter()
        state["cpu0"] = time.process_time()
        started.set()
        if spec.max_requests is None:
            loop.call_later(spec.duration, end)
        else:  # bounded anyway
            loop.call_later(max(spec.duration, 300.0), end)

    def end() -> None:
        if state["stop"]:
            return
        state["stop"] = True
        state["measuring"] = False
        state["m_end"] = time.perf_counter()
        state["cpu1"] = time.process_time()
        finished.set()
        done.set()

    def error(msg: str) -> None:
        state["errors_total"] += 1
        if state["measuring"]:
            state["errors"] += 1
        if not state["sample"]:
            state["sample"] = msg[:500]

    n = len(spec.requests)

    async def connection(k: int) -> None:
        writer: asyncio.StreamWriter | None = None
        reader: asyncio.StreamReader | None = None
        i = k * 7919
        try:
            while not state["stop"]:
                if writer is None:
                    reader, writer = await asyncio.open_connection(spec.host, spec.port)
                    sock = writer.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                req = spec.requests[i % n]
                i += 1
                t0 = time.perf_counter()
                writer.write(req)
                try:
                    status, body, close = await _read_response(reader)  # type: ignore[arg-type]
                except (asyncio.IncompleteReadError, ConnectionError) as exc:
                    error(f"connection: {exc!r}")
                    writer.close()
                    writer = None
                    await asyncio.sleep(0.01)
                    continue
                t1 = time.perf_counter()
                if status != 200 or b'"errors"' in body:
                    error(f"HTTP {status}: {body[:300]!r}")
                elif state["measuring"]:
                    latencies.append(t1 - t0)
                    if spec.max_requests is not None and len(latencies) >= spec.max_requests:
                        end()
                if close:
                    writer.close()
                    writer = None
        finally:
            if writer is not None:
                writer.close()

    tasks = [asyncio.create_task(connection(k)) for k in range(spec.concurrency)]
    loop.call_later(spec.warmup, begin)
    waiter = asyncio.create_task(done.wait())
    await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    crashed = [t for t in tasks if t.done() and t.exception() is not None]
    if crashed and not state["stop"]:
        was_measuring = state["measuring"]
        end()
        error(f"client: {crashed[0].exception()!r}")
        state["errors"] += 1 if was_measuring or not state["m_start"] else 0
    # let in-flight requests finish (they are not counted), then stop
    _, pending = await asyncio.wait(tasks, timeout=10)
    for t in pending:
        t.cancel()
    unfinished = len(pending)
    return {
        "latencies": latencies,
        "seconds": state["m_end"] - state["m_start"] if state["m_start"] else 0.0,
        "errors": state["errors"] + unfinished,
        "errors_total": state["errors_total"] + unfinished,
        "error_sample": state["sample"]
        or (f"{unfinished} requests did not finish" if unfinished else ""),
        "client_cpu": (state["cpu1"] - state["cpu0"])
        / max(state["m_end"] - state["m_start"], 1e-9),
    }


def _load_process(spec: LoadSpec, started: Any, finished: Any, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    try:
        import uvloop

        run: Any = uvloop.run
    except ImportError:
        run = asyncio.run
    try:
        conn.send(run(_load(spec, started, finished)))
    except BaseException as exc:
        conn.send({"crash": repr(exc)})
    finally:
        started.set()
        finished.set()


def http_request(port: int, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        "POST /graphql HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(data)}",
    ]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def py_spy_exe() -> str:
    import shutil

    local = Path(PYTHON).with_name("py-spy")
    return str(local) if local.exists() else (shutil.which("py-spy") or "py-spy")


def run_http_load(
    res: Result,
    spec: LoadSpec,
    server_pid: int | None,
    children: list[Any],
    py_spy_out: Path | None = None,
) -> Result:
    ctx = mp.get_context("spawn")
    started, finished = ctx.Event(), ctx.Event()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_load_process, args=(spec, started, finished, child), daemon=True)
    proc.start()
    children.append(proc)
    probe = CpuProbe(server_pid)
    limit = spec.warmup + (spec.duration if spec.max_requests is None else 300) + 60
    spy: subprocess.Popen[bytes] | None = None
    try:
        if not started.wait(timeout=spec.warmup + 60):
            raise BenchError("the load generator did not start")
        probe.start()
        if py_spy_out is not None and server_pid is not None:
            spy = subprocess.Popen(
                [
                    py_spy_exe(),
                    "record",
                    "--pid",
                    str(server_pid),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(py_spy_out),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
            children.append(spy)
        finished.wait(timeout=limit)
        res.server_cpu, res.pg_cpu = probe.stop()
        res.steal = probe.steal
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        if not parent.poll(timeout=30):
            raise BenchError("the load generator did not report")
        out = parent.recv()
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        children.remove(proc)
        if spy is not None:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
            children.remove(spy)
    if "crash" in out:
        raise BenchError(f"load generator failed: {out['crash']}")
    _fill(res, out["latencies"], out["seconds"])
    res.errors = out["errors"]
    res.error_sample = out["error_sample"]
    res.client_cpu = out["client_cpu"]
    res.other_cpu = max(
        0.0, probe.machine - (res.server_cpu or 0) - (res.client_cpu or 0) - (res.pg_cpu or 0)
    )
    return res


# --- the floor: raw asyncpg, in this process --------------------------------------------------------


async def _floor(
    query: str,
    app_url: str,
    tenants: list[dict[str, Any]],
    concurrency: int,
    warmup: float,
    duration: float,
    max_requests: int | None,
    pool_size: int,
) -> Result:
    import asyncpg

    res = Result("floor", query)
    pool = await asyncpg.create_pool(app_url, min_size=pool_size, max_size=pool_size)
    emp_sql = _floor_employee_sql()
    latencies: list[float] = []
    state = {"measuring": False, "stop": False}
    enough = asyncio.Event()
    n = len(tenants)

    async def one(t: dict[str, Any]) -> Any:
        async with pool.acquire() as c, c.transaction():
            if query == "page":
                await c.fetchval(FLOOR_SET_TENANT, str(t["id"]))
                total = await c.fetchval(FLOOR_COUNT)
                rows = await c.fetch(FLOOR_PAGE)
                return total, rows[:100]
            tenant = await c.fetchrow(FLOOR_TENANT, t["slug"])
            return tenant, await c.fetchrow(emp_sql, t["email"])

    async def worker(k: int) -> None:
        i = k
        while not state["stop"]:
            t = tenants[i % n]
            i += 1
            t0 = time.perf_counter()
            try:
                await one(t)
            except Exception as exc:
                if state["measuring"]:
                    res.errors += 1
                res.error_sample = res.error_sample or repr(exc)[:500]
                await asyncio.sleep(0.01)
                continue
            if state["measuring"]:
                latencies.append(time.perf_counter() - t0)
                if max_requests is not None and len(latencies) >= max_requests:
                    state["stop"] = True
                    enough.set()

    try:
        tasks = [asyncio.create_task(worker(k)) for k in range(concurrency)]
        await asyncio.sleep(warmup)
        probe = CpuProbe(os.getpid())
        probe.start()
        m_start = time.perf_counter()
        state["measuring"] = True
        if max_requests is None:
            await asyncio.sleep(duration)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(enough.wait(), timeout=max(duration, 300))
        state["measuring"] = False
        seconds = time.perf_counter() - m_start
        res.client_cpu, res.pg_cpu = probe.stop()
        res.other_cpu = max(0.0, probe.machine - (res.client_cpu or 0) - (res.pg_cpu or 0))
        res.steal = probe.steal
        state["stop"] = True
        await asyncio.wait(tasks, timeout=10)
        _fill(res, latencies, seconds)
    finally:
        await pool.close()
    return res


def run_floor(
    query: str,
    app_url: str,
    tenants: list[dict[str, Any]],
    args: argparse.Namespace,
) -> Result:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(
        _floor(
            query,
            app_url,
            tenants,
            args.concurrency,
            args.warmup,
            args.duration,
            args.requests,
            args.floor_pool,
        )
    )


async def _floor_sample(app_url: str, t: dict[str, Any]) -> dict[str, Any]:
    import asyncpg

    c = await asyncpg.connect(app_url)
    try:
        async with c.transaction():
            await c.fetchval(FLOOR_SET_TENANT, str(t["id"]))
            total = await c.fetchval(FLOOR_COUNT)
            rows = await c.fetch(FLOOR_PAGE)
        async with c.transaction():
            await c.fetchrow(FLOOR_TENANT, t["slug"])
            me = await c.fetchrow(_floor_employee_sql(), t["email"])
    finally:
        await c.close()
    return {
        "total": total,
        "rows": [
            (r["name"], r["email"], r["manager_name"], r["department_name"], r["location_name"])
            for r in rows[:100]
        ],
        "me": (me["name"], me["email"], me["title"]) if me else None,
    }


# --- servers ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: own session (Ctrl-C reaches only us), SIGTERM if we die."""
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: Any = field(repr=False, default=None)
    stop_signal: int = signal.SIGTERM

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_server(
    name: str, cmd: list[str], env: dict[str, str], port: int, servers: list[Server]
) -> Server:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS_DIR / f"{name}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed in Server.stop
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    server = Server(name, port, proc, log_path, log_file)
    servers.append(server)
    return server


def wait_ready(server: Server, probe: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(
                f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}"
            )
        try:
            if probe():
                return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise BenchError(
        f"{server.name} did not become ready in {timeout}s ({last!r}):\n{server.log_tail()}"
    )


def post_json(
    port: int, body: dict[str, Any], headers: dict[str, str], timeout: float = 30
) -> dict[str, Any]:
    req = urllib.request.Request(
        f"http://{HOST}:{port}/graphql",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", **headers},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        return json.loads(resp.read())


def ensure_postgraphile() -> str | None:
    """Install postgraphile@4 under bench/.node if needed. None when ready, else why not."""
    import shutil

    node, npm = shutil.which("node"), shutil.which("npm")
    if not node:
        return "node is not installed: PostGraphile skipped"
    pkg = NODE_DIR / "node_modules" / "postgraphile" / "package.json"
    if pkg.exists() and json.loads(pkg.read_text()).get("version", "").startswith("4."):
        return None
    if not npm:
        return "npm is not installed: PostGraphile skipped"
    print("installing postgraphile@4 into bench/.node ...", file=sys.stderr)
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", "postgraphile@4"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0 or not pkg.exists():
        return f"npm install postgraphile@4 failed: PostGraphile skipped\n{r.stderr[-2000:]}"
    return None


# --- correctness -----------------------------------------------------------------------------------


def _page_rows(data: dict[str, Any]) -> tuple[int, list[tuple[Any, ...]]]:
    conn = data["employees"]
    rows = []
    for edge in conn["edges"]:
        nd = edge["node"]
        rows.append(
            (
                nd["name"],
                nd["email"],
                (nd.get("manager") or {}).get("name"),
                (nd.get("department") or {}).get("name"),
                (nd.get("location") or {}).get("name"),
            )
        )
    return conn["totalCount"], rows


def check_page(
    label: str,
    total: int,
    rows: list[tuple[Any, ...]],
    expected_total: int,
    reference: list[tuple[Any, ...]] | None,
) -> list[str]:
    problems = []
    if total != expected_total:
        problems.append(f"{label}: totalCount {total}, expected {expected_total}")
    if len(rows) != min(100, expected_total):
        problems.append(f"{label}: {len(rows)} rows, expected 100")
    complete = sum(1 for r in rows if all(r[2:]))
    if rows and complete < 0.9 * len(rows):
        problems.append(
            f"{label}: only {complete}/{len(rows)} rows have manager, department and location names"
        )
    if reference is not None and rows != reference:
        diff = next(
            (i for i, (a, b) in enumerate(zip(rows, reference, strict=False)) if a != b),
            min(len(rows), len(reference)),
        )
        problems.append(f"{label}: rows differ from the floor's from row {diff}")
    return problems


# --- orchestration ---------------------------------------------------------------------------------


def markdown_table(head: list[str], rows: list[list[str]], left: set[int]) -> str:
    """A Markdown table: columns in `left` left-aligned, the others right-aligned."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
    ]

    def fmt(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    sep = (
        "|"
        + "|".join(
            ("-" * (w + 2)) if i in left else ("-" * (w + 1) + ":") for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([fmt(head), sep, *(fmt(r) for r in rows)])


def _table(results: list[Result], targets: list[str], queries: list[str]) -> str:
    by = {(r.target, r.query): r for r in results}

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.0f}%"

    head = [
        "query",
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "Upward/PG",
        "Upward/floor",
        "server CPU",
        "client CPU",
        "pg CPU",
        "other CPU",
    ]
    ranged = any(r.spread for r in results)
    if ranged:
        head.insert(3, "req/s range")
    rows = []
    for q in queries:
        for t in targets:
            r = by.get((t, q))
            if r is None:
                continue
            ratio_pg = ratio_floor = ""
            if t == "upward":
                pgr, fl = by.get(("postgraphile", q)), by.get(("floor", q))
                ratio_pg = f"{r.rps / pgr.rps:.2f}x" if pgr and pgr.rps else "-"
                ratio_floor = f"{r.rps / fl.rps * 100:.0f}%" if fl and fl.rps else "-"
            rows.append(
                [
                    QUERIES[q],
                    TARGETS[t],
                    f"{r.rps:.0f}",
                    f"{r.p50_ms:.1f}",
                    f"{r.p99_ms:.1f}",
                    str(r.errors),
                    ratio_pg,
                    ratio_floor,
                    pct(r.server_cpu),
                    pct(r.client_cpu),
                    pct(r.pg_cpu),
                    pct(r.other_cpu),
                ]
            )
            if ranged:
                rows[-1].insert(3, f"{r.spread[0]:.0f}-{r.spread[1]:.0f}" if r.spread else "-")
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    left = {0, 1}

    def fmt(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    sep = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if i not in left else ("-" * (w + 2))
            for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([fmt(head), sep, *(fmt(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tenants", type=int, default=int(os.environ.get("BENCH_TENANTS", 20)))
    p.add_argument("--employees", type=int, default=int(os.environ.get("BENCH_EMPLOYEES", 5000)))
    p.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", 16)))
    p.add_argument(
        "--duration",
        type=float,
        default=float(os.environ.get("BENCH_DURATION", 10)),
        help="seconds measured per target and query (default %(default)s)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=float(os.environ.get("BENCH_WARMUP", 2)),
        help="seconds of load before measuring (default %(default)s)",
    )
    p.add_argument(
        "--requests",
        type=int,
        default=None,
        help="measure this many requests instead of --duration seconds",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=int(os.environ.get("BENCH_ROUNDS", 1)),
        help="measure every cell this many times, interleaved; the table shows the median "
        "(steadier on a noisy machine)",
    )
    p.add_argument("--targets", default="upward,floor,postgraphile")
    p.add_argument("--queries", default="page,me")
    p.add_argument("--floor-pool", type=int, default=10, help="asyncpg pool size of the floor")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="owner URL of the bench database (default %(default)s)",
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="run Upward under cProfile (slower!), write bench/results/upward.prof "
        "and print its hot spots; no comparison",
    )
    p.add_argument(
        "--py-spy",
        action="store_true",
        help="sample the Upward server with py-spy (pip install py-spy) during each "
        "measured window; writes bench/results/py-spy-upward-<query>.txt "
        "(collapsed stacks) and prints the hot spots",
    )
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    queries = [q.strip() for q in args.queries.split(",") if q.strip()]
    for t in targets:
        if t not in TARGETS:
            p.error(f"unknown target {t!r} (choose from {', '.join(TARGETS)})")
    for q in queries:
        if q not in QUERIES:
            p.error(f"unknown query {q!r} (choose from {', '.join(QUERIES)})")
    if args.profile:
        targets = ["upward"]
    os.chdir(ROOT)

    servers: list[Server] = []
    children: list[Any] = []

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    try:
        return _run(args, targets, queries, servers, children)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning up even on a second ^C
        for proc in children:
            if isinstance(proc, subprocess.Popen):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            elif proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for server in reversed(servers):
            server.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _run(
    args: argparse.Namespace,
    targets: list[str],
    queries: list[str],
    servers: list[Server],
    children: list[Any],
) -> int:
    t_start = time.perf_counter()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "UPWARD_LOG_LEVEL": os.environ.get("UPWARD_LOG_LEVEL", "WARNING"),
    }
    os.environ.update({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url})

    # (a) database: create, migrate, generate
    import asyncpg

    from bench.generate import ensure_database

    asyncio.run(ensure_database(args.database_url))
    r = subprocess.run(
        [PYTHON, "-m", "upward", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode != 0:
        raise BenchError(f"migrate failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    asyncio.run(generate(args.database_url, args.tenants, args.employees, quiet=False))

    from upward.auth.tokens import mint_token
    from upward.settings import Settings, asyncpg_url, reset_settings

    reset_settings()
    app_url = asyncpg_url(Settings(database_url=args.database_url).app_url())

    async def load_tenants() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(args.database_url)
        try:
            rows = await conn.fetch(
                "select t.id, t.slug, (select count(*) from employees e where e.tenant_id = t.id "
                "and e.status = 'active') as active from tenants t where t.slug = any($1::text[]) "
                "order by t.slug",
                [slug_of(i) for i in range(1, args.tenants + 1)],
            )
        finally:
            await conn.close()
        return [
            {
                "id": r["id"],
                "slug": r["slug"],
                "email": admin_email(r["slug"]),
                "active": r["active"],
            }
            for r in rows
        ]

    tenants = asyncio.run(load_tenants())
    if len(tenants) != args.tenants:
        raise BenchError(f"expected {args.tenants} bench tenants, found {len(tenants)}")
    for t in tenants:
        t["token"] = mint_token(tenant=t["slug"], subject=t["email"])

    # (b) servers
    notes: list[str] = []
    up_server = pg_server = None
    if "upward" in targets:
        port = free_port()
        cmd = [PYTHON, "-m", "upward", "serve", "--host", HOST, "--port", str(port)]
        if args.profile:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            cmd = [
                PYTHON,
                "-m",
                "cProfile",
                "-o",
                str(RESULTS_DIR / "upward.prof"),
                "-m",
                "upward",
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
            ]
        up_server = start_server("upward", cmd, env, port, servers)
        if args.profile:  # uvicorn re-raises SIGTERM after shutdown; SIGINT lets cProfile dump
            up_server.stop_signal = signal.SIGINT
    if "postgraphile" in targets:
        why = ensure_postgraphile()
        if why:
            notes.append(why)
            print(why, file=sys.stderr)
            targets = [t for t in targets if t != "postgraphile"]
        else:
            port = free_port()
            pg_server = start_server(
                "postgraphile",
                ["node", str(BENCH_DIR / "postgraphile_server.js")],
                {
                    **os.environ,
                    "PG_URL": app_url,
                    "PORT": str(port),
                    "HOST": HOST,
                    "POOL_MAX": str(args.floor_pool),
                },
                port,
                servers,
            )
    if up_server:

        def up_ok() -> bool:
            with urllib.request.urlopen(
                f"http://{HOST}:{up_server.port}/healthz",
                timeout=2,
            ) as resp:
                return resp.status == 200

        wait_ready(up_server, up_ok)
    if pg_server:
        wait_ready(
            pg_server,
            lambda: "data" in post_json(pg_server.port, {"query": "{ __typename }"}, {}, timeout=5),
            timeout=90,
        )

    # (c) correctness: same page everywhere, compared row by row to the floor's
    problems: list[str] = []
    sample_tenants = sorted({0, len(tenants) // 2, len(tenants) - 1})
    for idx in sample_tenants:
        t = tenants[idx]
        floor = asyncio.run(_floor_sample(app_url, t))
        problems += check_page(
            f"floor/{t['slug']}", floor["total"], floor["rows"], t["active"], None
        )
        if floor["me"] is None or floor["me"][1] != t["email"]:
            problems.append(f"floor/{t['slug']}: me not found")
        if up_server:
            auth = {"Authorization": f"Bearer {t['token']}"}
            out = post_json(up_server.port, {"query": UPWARD_PAGE}, auth)
            if out.get("errors"):
                problems.append(f"upward/{t['slug']}: {out['errors']}")
            else:
                total, rows = _page_rows(out["data"])
                problems += check_page(
                    f"upward/{t['slug']}", total, rows, t["active"], floor["rows"]
                )
            out = post_json(up_server.port, {"query": UPWARD_ME}, auth)
            me = (out.get("data") or {}).get("me") or {}
            if (me.get("name"), me.get("email"), me.get("title")) != floor["me"]:
                problems.append(f"upward/{t['slug']}: me is {out}")
        if pg_server:
            hdr = {"X-Tenant-Id": str(t["id"])}
            out = post_json(pg_server.port, {"query": PG_PAGE}, hdr)
            if out.get("errors"):
                problems.append(f"postgraphile/{t['slug']}: {out['errors']}")
            else:
                total, rows = _page_rows(out["data"])
                problems += check_page(
                    f"postgraphile/{t['slug']}", total, rows, t["active"], floor["rows"]
                )
            out = post_json(
                pg_server.port,
                {"query": PG_ME, "variables": {"tenantId": str(t["id"]), "email": t["email"]}},
                hdr,
            )
            me = (out.get("data") or {}).get("me") or {}
            if (me.get("name"), me.get("email"), me.get("title")) != floor["me"]:
                problems.append(f"postgraphile/{t['slug']}: me is {out}")
    if problems:
        raise BenchError("correctness check failed:\n  " + "\n  ".join(problems))
    print(
        f"correctness: every target returns the same 100 rows and totalCount for "
        f"{len(sample_tenants)} tenants, and the same `me`",
        file=sys.stderr,
    )

    # (d) measure, one target after another, on a machine as quiet as we can tell
    busy, steal = idle_check()
    if busy > 0.25:
        msg = (
            f"the machine is busy before measuring: {busy * 100:.0f}% of a core used by other "
            f"processes ({steal * 100:.0f}% stolen); results will be noisy (see `other CPU`)"
        )
        notes.append(msg)
        print(f"warning: {msg}", file=sys.stderr)

    def upward_requests(q: str) -> list[bytes]:
        assert up_server is not None
        body = {"query": UPWARD_PAGE if q == "page" else UPWARD_ME}
        return [
            http_request(up_server.port, body, {"Authorization": f"Bearer {t['token']}"})
            for t in tenants
        ]

    def pg_requests(q: str) -> list[bytes]:
        assert pg_server is not None
        out = []
        for t in tenants:
            body: dict[str, Any] = {"query": PG_PAGE}
            if q == "me":
                body = {
                    "query": PG_ME,
                    "variables": {"tenantId": str(t["id"]), "email": t["email"]},
                }
            out.append(http_request(pg_server.port, body, {"X-Tenant-Id": str(t["id"])}))
        return out

    runs: dict[tuple[str, str], list[Result]] = {}
    order = [t for t in ("upward", "floor", "postgraphile") if t in targets]
    for rnd in range(1, args.rounds + 1):
        for target in order:
            for q in queries:
                label = f"{TARGETS[target]} / {QUERIES[q]}"
                if args.rounds > 1:
                    label += f" (round {rnd}/{args.rounds})"
                print(
                    f"measuring {label}: {args.concurrency} concurrent, {args.warmup:g}s warm-up, "
                    + (f"{args.requests} requests" if args.requests else f"{args.duration:g}s"),
                    file=sys.stderr,
                )
                if target == "floor":
                    res = run_floor(q, app_url, tenants, args)
                else:
                    server = up_server if target == "upward" else pg_server
                    assert server is not None
                    reqs = upward_requests(q) if target == "upward" else pg_requests(q)
                    spec = LoadSpec(
                        port=server.port,
                        requests=reqs,
                        concurrency=args.concurrency,
                        warmup=args.warmup,
                        duration=args.duration,
                        max_requests=args.requests,
                    )
                    spy_out = (
                        RESULTS_DIR / f"py-spy-upward-{q}.txt"
                        if args.py_spy and target == "upward"
                        else None
                    )
                    res = run_http_load(Result(target, q), spec, server.proc.pid, children, spy_out)
                    if spy_out is not None:
                        _print_collapsed(spy_out)
                    if server.proc.poll() is not None:
                        raise BenchError(f"{server.name} died:\n{server.log_tail()}")
                runs.setdefault((target, q), []).append(res)
                extra = f", {res.errors} errors: {res.error_sample}" if res.errors else ""
                print(
                    f"  {res.rps:.0f} req/s, p50 {res.p50_ms:.1f} ms, p99 {res.p99_ms:.1f} ms"
                    + extra,
                    file=sys.stderr,
                )
    # with several rounds, each cell shows its median round (by req/s), the errors of all rounds
    results: list[Result] = []
    for cell in runs.values():
        ranked = sorted(cell, key=lambda r: r.rps)
        best = ranked[(len(ranked) - 1) // 2]
        best.errors = sum(r.errors for r in cell)
        best.spread = (ranked[0].rps, ranked[-1].rps) if len(cell) > 1 else None
        results.append(best)

    server_log_lines = 0
    for server in list(servers):
        server.stop()
        if server.name == "upward":
            server_log_lines = sum(
                1
                for line in server.log_path.read_text(errors="replace").splitlines()
                if line.strip()
            )

    # (e) report
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmdline = "python -m bench.run " + " ".join(args.argv)
    title = (
        f"{stamp}, {os.cpu_count()} CPUs, {args.tenants} tenants x {args.employees} "
        f"employees, concurrency {args.concurrency}, "
        + (f"{args.requests} requests" if args.requests else f"{args.duration:g}s")
        + f" per cell after {args.warmup:g}s warm-up"
        + (f", median of {args.rounds} rounds" if args.rounds > 1 else "")
    )
    print()
    print(f"Upward benchmark: {title}")
    print(f"command: {cmdline.strip()}")
    print()
    print(_table(results, order, queries))
    print()
    print(
        f"CPU columns are % of one core over the measured window ({os.cpu_count()} cores = "
        f"{(os.cpu_count() or 1) * 100}%): server = the target's process, client = the load "
        "generator (floor: the bench process itself), pg = all postgres processes (other "
        "databases' too), other = everything else busy on the machine (noise if high)."
    )
    steals = [r.steal for r in results if r.steal]
    if steals and max(steals) > 0.05:
        print(f"note: up to {max(steals) * 100:.0f}% of a core was stolen by the hypervisor")
    if server_log_lines:
        print(
            f"note: the Upward server logged {server_log_lines} lines at WARNING or above: "
            f"{RESULTS_DIR / 'upward.log'}"
        )
    for n in notes:
        print(f"note: {n.splitlines()[0]}")
    by = {(r.target, r.query): r for r in results}
    up, pgr, fl = (
        by.get(("upward", "page")),
        by.get(("postgraphile", "page")),
        by.get(("floor", "page")),
    )
    if up and pgr and fl and pgr.rps and fl.rps:
        ok = up.rps >= 1.2 * pgr.rps and up.rps >= 0.4 * fl.rps
        print(
            f"target (employees page): >= 1.20x PostGraphile and >= 40% of the floor: "
            f"{up.rps / pgr.rps:.2f}x and {up.rps / fl.rps * 100:.0f}% -> "
            f"{'MET' if ok else 'NOT MET'}"
        )
    print(f"total bench time {time.perf_counter() - t_start:.0f}s")

    if args.profile:
        _print_profile(RESULTS_DIR / "upward.prof")
    elif not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        out.write_text(
            json.dumps(
                {
                    "when": stamp,
                    "command": cmdline.strip(),
                    "cpus": os.cpu_count(),
                    "tenants": args.tenants,
                    "employees": args.employees,
                    "concurrency": args.concurrency,
                    "rounds": args.rounds,
                    "duration": args.duration,
                    "warmup": args.warmup,
                    "requests": args.requests,
                    "results": [{**asdict(r), "rps": r.rps} for r in results],
                },
                indent=2,
                default=str,
            )
        )
        print(f"saved {out.relative_to(ROOT)}", file=sys.stderr)
    bad = [r for r in results if r.errors]
    return 2 if bad else 0


def _print_collapsed(path: Path, top: int = 25) -> None:
    """Hot spots of a py-spy `--format raw` file: self and inclusive share of the samples."""
    if not path.exists():
        print(f"py-spy wrote nothing at {path} (is it installed? ptrace allowed?)", file=sys.stderr)
        return
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (", 1)[0] + " (" + f.split(" (", 1)[1].rsplit(":", 1)[0] + ")"
            if " (" in f
            else f
            for f in stack.split(";")
        ]
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return
    short = str(ROOT) + "/"
    print(f"\npy-spy {path.relative_to(ROOT)}: {total} samples", file=sys.stderr)
    for title, table in (("self", own), ("inclusive", incl)):
        print(f"  top {title}:", file=sys.stderr)
        for name, n in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {n / total * 100:5.1f}%  {name.replace(short, '')}", file=sys.stderr)


def _print_profile(path: Path, top: int = 30) -> None:
    import pstats

    if not path.exists():
        print(f"no profile written at {path}", file=sys.stderr)
        return
    print(f"\ncProfile of the Upward server (whole run incl. warm-up): {path}")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    raise SystemExit(main())
