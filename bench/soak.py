"""Load and soak: what web clients and partners send, across many tenants, for a long time.

    python -m bench.soak [--tenants 100] [--employees 500] [--concurrency 32]
                         [--duration 600] [--warmup 30] [--scenario both|quiet|noisy]
    python -m bench.soak --compare bench/results/soak-A.json bench/results/soak-B.json

One command (`make soak`). On its own database (`upward_soak`, created, migrated and filled by
bench/soak_data.py when missing) it starts what production runs: the API (`upward serve`), the
worker fleet (`upward worker`) and the scheduler (`upward scheduler`), with a local SMTP sink for
the emails the workers send, on a Redis namespace of its own (`upward-soak`). It
signs in as several people of every tenant (JWTs) and gives every tenant a partner API key, checks
every operation of the mix once per sampled tenant, waits for the workers to drain what the
scheduler's first pass planned, and then:

- **quiet** (the soak): a fixed number of keep-alive connections (--concurrency) send the mix,
  each request to a tenant picked uniformly, for --duration seconds after --warmup;
- **noisy** (the noisy neighbour): the same, plus one tenant (--noisy-tenant) sending on its own
  connections at (--noisy-factor - 1) times a normal tenant's rate of the quiet run, on top of its
  share, so that it sends --noisy-factor times what any other tenant sends. Its RATE_LIMITED
  answers are the rate limiter doing its job and are counted apart; the other tenants' p99 per
  operation is compared with the quiet run's (target: at most --p99-ratio, 1.5x).

Every response that is not HTTP 200 or has `errors` is an error (RATE_LIMITED included, except
the noisy tenant's). Every --rss-interval seconds the RSS (VmRSS) of each process of the API,
the worker fleet (dramatiq's supervisor and its worker processes) and the scheduler is sampled,
with the outbox (due deliveries) and the dramatiq queues; RSS is "flat" when its linear trend over
the second half of the measured window grows less than max(--rss-mb MB, --rss-pct % of its
level). It prints per run one table (operation, requests, errors, p50, p99), the RSS table, the
outbox, and the noisy comparison; writes bench/results/soak-<time>.json; and exits 2 when there
were errors, RSS grew, or the ratio was above target. Everything it starts, it stops, also on
errors and Ctrl-C. See docs/performance.md, "Load and soak".
"""

from __future__ import annotations

import argparse
import array
import asyncio
import bisect
import contextlib
import itertools
import json
import math
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/soak.py`
    sys.path.insert(0, str(ROOT))

from bench import soak_data  # noqa: E402
from bench.run import (  # noqa: E402
    _TICK,
    HOST,
    PYTHON,
    RESULTS_DIR,
    BenchError,
    Server,
    _machine_ticks,
    _postgres_ticks,
    _proc_ticks,
    _read_response,
    free_port,
    http_request,
    markdown_table,
    start_server,
    wait_ready,
)

NAMESPACE = "upward-soak"  # Redis keys (queues, rate-limit buckets, scheduler slots)
KEY_NAME = "soak partner"
PARTNER_SCOPES = ["people:write", "credentials:read", "notifications:read"]
GROUPS = ("others", "noisy tenant", "noisy tenant, extra")  # who sent a request
KEEPALIVE_EXPIRY = 4.0  # seconds a client connection may sit idle and still be reused

# --- the mix ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    name: str
    client: str  # web (a person's JWT) or partner (the tenant's API key)
    weight: float
    doc: str
    about: str


OPS: list[Op] = [
    Op(
        "employees_page",
        "web",
        16,
        "query EmployeesPage { employees(first: 50) { totalCount edges { node { id name email "
        "title manager { id name } department { id name } location { id name } } } "
        "pageInfo { endCursor hasNextPage } } }",
        "the directory's first page (50) with manager, department, location; any person",
    ),
    Op(
        "directory_filter",
        "web",
        8,
        "query Directory($filter: EmployeeFilter) { employees(filter: $filter, first: 20) { "
        "totalCount edges { node { id name title jobLevel department { name } "
        "location { name } } } } }",
        "search by name, a department, a manager's team (20 per page)",
    ),
    Op(
        "employee_detail",
        "web",
        14,
        "query Person($id: ID!) { employee(id: $id) { id name email title jobLevel hireDate "
        "isManager externalId manager { id name title } department { id name } "
        "location { id name timezone } credentials { id status expiresOn daysUntilExpiry "
        "credentialType { id name } } } }",
        "a person with manager, department, location and live credentials (their manager, HR)",
    ),
    Op(
        "me",
        "web",
        14,
        "query Shell { me { id name email title isManager department { name } "
        "location { name } } unreadNotificationCount }",
        "the app shell: `me` and the unread count",
    ),
    Op(
        "inbox",
        "web",
        10,
        "query Inbox { notifications(first: 20) { totalCount edges { node { id kind subject "
        "createdAt read } } pageInfo { hasNextPage endCursor } } unreadNotificationCount }",
        "the notification inbox (20) and the unread count",
    ),
    Op(
        "credentials",
        "web",
        6,
        "query Credentials($filter: CredentialFilter) { credentials(first: 50, filter: $filter) "
        "{ totalCount edges { node { id status expiresOn daysUntilExpiry verification "
        "employee { id name } credentialType { id name } } } } }",
        "credentials list (50): HR all / expiring / expired, a manager their line",
    ),
    Op(
        "my_compliance",
        "web",
        5,
        "query MyCompliance { employeeCompliance { on compliant requirements { state compliant "
        "validUntil graceUntil credentialType { name } credential { id expiresOn status } } } }",
        "what is required of me and what satisfies it",
    ),
    Op(
        "compliance_report",
        "web",
        2,
        "query Compliance { complianceReport { on people { total compliant rate } "
        "requirements { total compliant rate } byDepartment { total compliant rate "
        "department { name } } states { state count } gaps(first: 20) { totalCount edges { "
        "node { employee { name } answer { state credentialType { name } } } } } } }",
        "HR's compliance dashboard for the tenant today",
    ),
    Op(
        "update_employee",
        "web",
        3,
        "mutation Retitle($id: ID!, $input: UpdateEmployeeInput!) { updateEmployee(id: $id, "
        "input: $input) { employee { id title updatedAt } } }",
        "HR toggles a title (10 people per tenant; audited, re-matched)",
    ),
    Op(
        "give_kudos",
        "web",
        3,
        "mutation Thanks($input: GiveKudosInput!) { giveKudos(input: $input) { id createdAt "
        "receivers { id } } }",
        "a public kudos to a colleague: notifications (in-app + email) for them and their manager",
    ),
    Op(
        "mark_all_read",
        "web",
        2,
        "mutation ReadAll { markAllNotificationsRead }",
        "empty the unread count",
    ),
    Op(
        "partner_employees",
        "partner",
        8,
        "query SyncPage($after: String) { employees(first: 100, after: $after) { edges { node "
        "{ id externalId email name title jobLevel status department { name } location { name } "
        "manager { id externalId } } } pageInfo { endCursor hasNextPage } } }",
        "an HRIS reads the directory, 100 a page, pages 1-4 (cursors)",
    ),
    Op(
        "partner_expiring",
        "partner",
        4,
        "query Expiring { expiringCredentials(withinDays: 60, first: 50) { totalCount edges { "
        "node { id expiresOn status employee { id externalId name } credentialType { name } } } "
        "} }",
        "a compliance integration reads what expires within 60 days (50)",
    ),
    Op(
        "partner_inbox",
        "partner",
        3,
        "query PartnerInbox($who: ID!) { notifications(employeeId: $who, unreadOnly: true, "
        "first: 10) { totalCount edges { node { id subject createdAt } } } "
        "unreadNotificationCount(employeeId: $who) }",
        "a chat integration reads a person's unread notifications",
    ),
    Op(
        "partner_upsert",
        "partner",
        2,
        "mutation Upsert($rows: [EmployeeSyncInput!]!) { upsertEmployees(input: $rows) { "
        "dryRun written totals { created updated unchanged errors } } }",
        "an HRIS syncs 25 people exactly as stored (a real call: every row UNCHANGED)",
    ),
]
OP_BY_NAME = {op.name: op for op in OPS}


def gid(type_name: str, raw: uuid.UUID) -> str:
    from upward.graphql.relay import to_global_id

    return to_global_id(type_name, raw)


@dataclass
class Tenant:
    cast: soak_data.Cast
    tokens: dict[str, str] = field(default_factory=dict)  # email -> JWT
    key: str = ""
    cursors: list[str | None] = field(default_factory=lambda: [None])


def variants(op: Op, t: Tenant) -> list[tuple[str, dict[str, Any]]]:
    """(bearer token, variables) for each request of `op` the tenant may send."""
    c = t.cast
    tok = t.tokens

    def web(people: list[soak_data.Person], v: dict[str, Any] | None = None) -> list[Any]:
        return [(tok[p.email], v or {}) for p in people]

    users = c.web_users
    name = op.name
    if name in ("employees_page", "me"):
        return web(users)
    if name == "inbox":
        return web([*c.managers, *c.ics])
    if name == "directory_filter":
        out = [
            (tok[c.ics[i % len(c.ics)].email], {"filter": {"search": s}})
            for i, s in enumerate(c.search_terms)
        ]
        for m in c.managers:
            out.append((tok[m.email], {"filter": {"managerId": gid("Employee", m.id)}}))
        for i, d in enumerate(c.department_ids[:4]):
            who = c.managers[i % len(c.managers)]
            out.append((tok[who.email], {"filter": {"departmentIds": [gid("Department", d)]}}))
        return out
    if name == "employee_detail":
        out = []
        for m in c.managers:
            out += [(tok[m.email], {"id": gid("Employee", r)}) for r in m.reports[:5]]
        out += [(tok[c.hr.email], {"id": gid("Employee", p.id)}) for p in c.ics + c.toggles]
        return out
    if name == "credentials":
        hr = tok[c.hr.email]
        out = [
            (hr, {"filter": {"includeHistory": False}}),
            (hr, {"filter": {"statuses": ["EXPIRING"]}}),
            (hr, {"filter": {"statuses": ["EXPIRED"], "includeHistory": False}}),
            (tok[c.admin.email], {"filter": {"includeHistory": False}}),
        ]
        return out + web(c.managers, {"filter": {"includeHistory": False}})
    if name == "my_compliance":
        return web([*c.managers, *c.ics])
    if name == "compliance_report":
        return web([c.hr, c.admin])
    if name == "update_employee":
        out = []
        for p in c.toggles:
            base = p.title or "Specialist"
            for title in (base, base + soak_data.ACTING):
                out.append(
                    (tok[c.hr.email], {"id": gid("Employee", p.id), "input": {"title": title}})
                )
        return out
    if name == "give_kudos":
        out = []
        for i, giver in enumerate(c.ics):
            mates = [c.ics[(i + 1) % len(c.ics)], c.ics[(i + 2) % len(c.ics)]]
            for j, receiver in enumerate([*mates, c.managers[i % len(c.managers)]]):
                if receiver.id == giver.id:
                    continue
                value = c.value_ids[(i + j) % len(c.value_ids)]
                kudos = {
                    "receiverIds": [gid("Employee", receiver.id)],
                    "message": f"Thanks for the help, {receiver.name.split()[0]}!",
                    "valueIds": [gid("CompanyValue", value)],
                }
                out.append((tok[giver.email], {"input": kudos}))
        return out
    if name == "mark_all_read":
        return web([*c.managers, *c.ics])
    if name == "partner_employees":
        return [(t.key, {"after": cur}) for cur in t.cursors]
    if name == "partner_expiring":
        return [(t.key, {})]
    if name == "partner_inbox":
        return [(t.key, {"who": gid("Employee", p.id)}) for p in [*c.managers, *c.ics]]
    if name == "partner_upsert":
        return [(t.key, {"rows": c.sync_rows}), (t.key, {"rows": c.sync_rows[:10]})]
    raise ValueError(name)


def parse_mix(text: str | None) -> list[float]:
    weights = {op.name: op.weight for op in OPS}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        k, _, v = part.partition("=")
        if k.strip() not in weights:
            raise ValueError(f"unknown operation {k.strip()!r} (one of {', '.join(weights)})")
        weights[k.strip()] = float(v)
    return [weights[op.name] for op in OPS]


# --- the load generator (its own process) ----------------------------------------------------


@dataclass
class SoakSpec:
    port: int
    weights: list[float]
    pools: list[list[list[bytes]]]  # [operation][tenant] -> complete HTTP requests
    concurrency: int
    warmup: float
    duration: float
    noisy_tenant: int | None  # its requests are kept apart (also in the quiet run)
    noisy_on: bool = False
    noisy_extra_rate: float | None = None  # req/s on top of its share; None: from the warm-up
    noisy_factor: float = 10.0
    noisy_connections: int = 8
    bucket_seconds: float = 30.0
    seed: int = 1
    host: str = HOST


def _error_of(status: int, body: bytes) -> tuple[str, str] | None:
    """None when the response is a success, else (code, message)."""
    if status == 200 and b'"errors"' not in body:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return (f"HTTP {status}", body[:200].decode(errors="replace"))
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if status == 200 and not errors:
        return None  # e.g. `totals { errors }` in the data
    if not errors:
        return (f"HTTP {status}", body[:200].decode(errors="replace"))
    first = errors[0]
    code = (first.get("extensions") or {}).get("code") or f"HTTP {status}"
    return (str(code), str(first.get("message", ""))[:300])


async def _soak_load(spec: SoakSpec, started: Any, finished: Any) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    n_ops, n_tenants = len(spec.pools), len(spec.pools[0])
    cum = list(itertools.accumulate(spec.weights))
    lat = {(o, g): array.array("d") for o in range(n_ops) for g in range(len(GROUPS))}
    errors: dict[tuple[int, int, str], int] = {}
    warm_errors: dict[tuple[int, int, str], int] = {}
    samples: dict[str, list[str]] = {}
    buckets: list[array.array] = []
    st: dict[str, Any] = {
        "measuring": False,
        "stop": False,
        "m_start": 0.0,
        "m_end": 0.0,
        "cpu0": 0.0,
        "cpu1": 0.0,
        "warm_done": 0,
        "t0": time.perf_counter(),
    }
    noisy = {"rate": spec.noisy_extra_rate or 0.0, "sent": 0, "missed": 0, "estimated": False}
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    done = asyncio.Event()
    pacer_task: list[asyncio.Task[None]] = []

    def begin() -> None:
        if spec.noisy_on and spec.noisy_extra_rate is None:
            per_tenant = st["warm_done"] / max(time.perf_counter() - st["t0"], 1e-9) / n_tenants
            noisy["rate"] = (spec.noisy_factor - 1) * per_tenant
            noisy["estimated"] = True
            pacer_task.append(asyncio.create_task(pacer()))
        st["measuring"] = True
        st["m_start"] = time.perf_counter()
        st["cpu0"] = time.process_time()
        started.set()
        loop.call_later(spec.duration, end)

    def end() -> None:
        if st["stop"]:
            return
        st["stop"] = True
        st["measuring"] = False
        st["m_end"] = time.perf_counter()
        st["cpu1"] = time.process_time()
        finished.set()
        done.set()
        for _ in range(spec.noisy_connections):
            queue.put_nowait(None)

    def record(op: int, group: int, status: int, body: bytes, t0: float, t1: float) -> None:
        err = _error_of(status, body)
        if err is None:
            if st["measuring"]:
                lat[(op, group)].append(t1 - t0)
                if group == 0:
                    b = int((t1 - st["m_start"]) // spec.bucket_seconds)
                    while len(buckets) <= b:
                        buckets.append(array.array("d"))
                    buckets[b].append(t1 - t0)
            elif not st["stop"] and group < 2:
                st["warm_done"] += 1
            return
        fail(op, group, err[0], f"HTTP {status}: {err[1]}")

    def fail(op: int, group: int, code: str, msg: str) -> None:
        # after the window: a request that was in flight at its end, counted with it
        into = errors if st["measuring"] or st["stop"] else warm_errors
        into[(op, group, code)] = into.get((op, group, code), 0) + 1
        seen = samples.setdefault(code, [])
        if len(seen) < 3:
            seen.append(f"{OPS[op].name if op < len(OPS) else op}: {msg}"[:400])

    class Conn:
        def __init__(self) -> None:
            self.reader: asyncio.StreamReader | None = None
            self.writer: asyncio.StreamWriter | None = None
            self.idle_since = 0.0

        def close(self) -> None:
            if self.writer is not None:
                self.writer.close()
            self.reader = self.writer = None

        async def send(self, op: int, group: int, req: bytes) -> None:
            if self.reader is not None and (
                self.reader.at_eof() or time.perf_counter() - self.idle_since > KEEPALIVE_EXPIRY
            ):
                # idle too long: the server closes a keep-alive connection after 5 s (uvicorn's
                # default), and a request sent as it does is reset; as HTTP clients do (httpx's
                # keepalive_expiry), a connection idle that long is not reused
                self.close()
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(spec.host, spec.port)
                    sock = self.writer.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                t0 = time.perf_counter()
                self.writer.write(req)
                status, body, close = await _read_response(self.reader)  # type: ignore[arg-type]
                t1 = time.perf_counter()
            except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
                self.close()
                fail(op, group, "CONNECTION", repr(exc))
                await asyncio.sleep(0.05)
                return
            record(op, group, status, body, t0, t1)
            self.idle_since = t1
            if close:
                self.close()

    def pick(rng: Any) -> int:
        return bisect.bisect_right(cum, rng.random() * cum[-1])

    async def pool_worker(k: int) -> None:
        import random

        rng = random.Random(spec.seed * 7919 + k)
        conn = Conn()
        try:
            while not st["stop"]:
                t = rng.randrange(n_tenants)
                op = min(pick(rng), n_ops - 1)
                reqs = spec.pools[op][t]
                group = 1 if t == spec.noisy_tenant else 0
                await conn.send(op, group, reqs[rng.randrange(len(reqs))])
        finally:
            conn.close()

    async def noisy_worker(k: int) -> None:
        import random

        rng = random.Random(spec.seed * 104729 + k)
        conn = Conn()
        assert spec.noisy_tenant is not None
        try:
            while await queue.get() is not None and not st["stop"]:
                op = min(pick(rng), n_ops - 1)
                reqs = spec.pools[op][spec.noisy_tenant]
                await conn.send(op, 2, reqs[rng.randrange(len(reqs))])
        finally:
            conn.close()

    async def pacer() -> None:
        """Sends at a fixed rate (open loop) whatever the answers; when every noisy connection
        is busy, the send is missed (counted), not queued."""
        if noisy["rate"] <= 0:
            return
        interval = 1.0 / noisy["rate"]
        nxt = loop.time()
        while not st["stop"]:
            nxt += interval
            delay = nxt - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:  # a second behind (a stall): start again from now, no burst
                nxt = loop.time()
            if st["stop"]:
                break
            if queue.qsize() >= spec.noisy_connections:
                noisy["missed"] += st["measuring"]
                continue
            queue.put_nowait(1)
            noisy["sent"] += st["measuring"]

    tasks = [asyncio.create_task(pool_worker(k)) for k in range(spec.concurrency)]
    if spec.noisy_on and spec.noisy_tenant is not None:
        tasks += [asyncio.create_task(noisy_worker(k)) for k in range(spec.noisy_connections)]
        if spec.noisy_extra_rate is not None:
            pacer_task.append(asyncio.create_task(pacer()))
    loop.call_later(spec.warmup, begin)
    waiter = asyncio.create_task(done.wait())
    await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    crashed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
    if crashed and not st["stop"]:
        raise RuntimeError(f"a client connection crashed: {crashed[0].exception()!r}")
    _, pending = await asyncio.wait(tasks, timeout=15)  # in-flight requests may finish
    for t in [*pending, *pacer_task]:
        t.cancel()
    return {
        "seconds": st["m_end"] - st["m_start"],
        "client_cpu": (st["cpu1"] - st["cpu0"]) / max(st["m_end"] - st["m_start"], 1e-9),
        "lat": {f"{o}|{g}": v for (o, g), v in lat.items()},
        "errors": [[o, g, c, n] for (o, g, c), n in errors.items()],
        "warm_errors": [[o, g, c, n] for (o, g, c), n in warm_errors.items()],
        "samples": samples,
        "buckets": buckets,
        "unfinished": len(pending),
        "noisy": noisy,
    }


def _load_process(spec: SoakSpec, started: Any, finished: Any, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    try:
        import uvloop

        run: Any = uvloop.run
    except ImportError:
        run = asyncio.run
    try:
        conn.send(run(_soak_load(spec, started, finished)))
    except BaseException as exc:
        conn.send({"crash": repr(exc)})
    finally:
        started.set()
        finished.set()


# --- sampling: RSS, CPU, queues, outbox ------------------------------------------------------


def _ppids() -> dict[int, int]:
    out: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        out[int(name)] = int(data[data.rindex(b")") + 2 :].split()[1])
    return out


def tree(root: int, ppids: dict[int, int] | None = None) -> list[int]:
    """`root` and its descendants (uvicorn's workers, dramatiq's worker processes)."""
    ppids = ppids if ppids is not None else _ppids()
    children: dict[int, list[int]] = {}
    for pid, ppid in ppids.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in ppids or pid == root:
            out.append(pid)
            todo += children.get(pid, [])
    return sorted(out)


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cmd(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            parts = fh.read().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(p.decode(errors="replace") for p in parts if p)
    if "resource_tracker" in text:
        return "multiprocessing resource tracker"
    if "spawn_main" in text:
        return "multiprocessing child"
    text = text.replace(PYTHON, "python").replace(str(ROOT) + "/", "")
    return re.sub(r"^\S*python\S* ", "python ", text)[:60]


class Monitor(threading.Thread):
    """Samples every `interval` s: RSS of each process of each role, dramatiq's queues and the
    outbox's due deliveries. Runs from the start of the processes to the end."""

    def __init__(self, roles: dict[str, int], interval: float, owner_url: str, redis_url: str):
        super().__init__(name="soak-monitor", daemon=True)
        self.roles = roles
        self.interval = interval
        self.owner_url = owner_url
        self.redis_url = redis_url
        self.rss: list[tuple[float, str, int, float]] = []  # (t, role, pid, MB)
        self.queues: list[tuple[float, int, int, int]] = []  # (t, ready, delayed, dead)
        self.outbox: list[tuple[float, int]] = []  # (t, due pending deliveries)
        self.names: dict[int, str] = {}
        self.problems: list[str] = []
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)

    def run(self) -> None:
        import asyncpg
        import redis

        loop = asyncio.new_event_loop()
        conn = None
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            conn = loop.run_until_complete(asyncpg.connect(self.owner_url))
            while not self._halt.is_set():
                t = time.monotonic()
                self.sample_rss(t)
                try:
                    self.queues.append((t, *queue_depths(client)))
                except Exception as exc:  # a lost sample is reported, not fatal
                    self.note(f"queue sample failed: {exc!r}")
                try:
                    due = loop.run_until_complete(conn.fetchval(DUE_SQL))
                    self.outbox.append((t, int(due)))
                except Exception as exc:
                    self.note(f"outbox sample failed: {exc!r}")
                self._halt.wait(max(0.0, self.interval - (time.monotonic() - t)))
        except Exception as exc:
            self.note(f"monitor stopped: {exc!r}")
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(conn.close())
            loop.close()
            client.close()

    def note(self, msg: str) -> None:
        if msg not in self.problems:
            self.problems.append(msg)

    def sample_rss(self, t: float) -> None:
        ppids = _ppids()
        for role, root in self.roles.items():
            for pid in tree(root, ppids):
                mb = rss_mb(pid)
                if mb is None:
                    continue
                if pid not in self.names:
                    self.names[pid] = ("main: " if pid == root else "child: ") + _cmd(pid)
                self.rss.append((t, role, pid, mb))


DUE_SQL = "select count(*) from deliveries where status = 'pending' and next_attempt_at <= now()"


def queue_depths(client: Any) -> tuple[int, int, int]:
    """(ready or running, delayed (retries, ETA), dead-lettered) dramatiq messages."""
    ready = delayed = dead = 0
    for key in client.scan_iter(match=f"{NAMESPACE}:*.msgs", count=500):
        n = client.hlen(key)
        name = key.decode()
        if name.endswith(".XQ.msgs"):
            dead += n
        elif name.endswith(".DQ.msgs"):
            delayed += n
        else:
            ready += n
    return ready, delayed, dead


def reset_rate_limits(redis_url: str) -> int:
    """Every bucket full again (the last run's spending would count against this one). Queued
    messages stay: what an earlier run left is work the workers finish while settling."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{NAMESPACE}:rl:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
        return len(keys)
    finally:
        client.close()


def _linreg(points: list[tuple[float, float]]) -> float:
    """Slope (value per second) of the least-squares line."""
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (v - mv) for t, v in points) / var if var else 0.0


def rss_verdict(
    points: list[tuple[float, float]], t0: float, t1: float, mb: float, pct: float
) -> dict[str, Any]:
    """Start, end, max and trend of one series over [t0, t1]; flat when the trend over the
    second half grows less than max(mb, pct % of the level at the half)."""
    pts = [(t, v) for t, v in points if t0 - 1e-6 <= t <= t1 + 1e-6]
    out: dict[str, Any] = {"samples": len(pts)}
    if len(pts) < 2:
        return {**out, "verdict": "no samples"}
    mid = (t0 + t1) / 2
    half = [(t, v) for t, v in pts if t >= mid]
    out.update(
        start_mb=pts[0][1],
        end_mb=pts[-1][1],
        max_mb=max(v for _, v in pts),
        slope_mb_min=_linreg(pts) * 60,
    )
    if len(half) < 3:
        return {**out, "verdict": "too few samples"}
    slope = _linreg(half)
    level = half[0][1]
    growth = slope * (t1 - mid)
    limit = max(mb, pct / 100 * level)
    out.update(
        half_slope_mb_min=slope * 60,
        half_growth_mb=growth,
        limit_mb=limit,
        verdict="flat" if growth < limit else "GROWING",
    )
    return out


class CpuWindow:
    """CPU of each role's processes, of PostgreSQL and of the machine over a window."""

    def __init__(self, roles: dict[str, int]) -> None:
        self.roles = roles

    def _ticks(self) -> dict[str, dict[int, int]]:
        ppids = _ppids()
        out: dict[str, dict[int, int]] = {}
        for role, root in self.roles.items():
            out[role] = {p: v for p in tree(root, ppids) if (v := _proc_ticks(p)) is not None}
        return out

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.r0 = self._ticks()
        self.pg0 = _postgres_ticks()
        self.m0 = _machine_ticks()

    def stop(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        r1, pg1, m1 = self._ticks(), _postgres_ticks(), _machine_ticks()
        out = {}
        for role, ticks in r1.items():
            before = self.r0.get(role, {})
            out[role] = sum(v - before.get(p, 0) for p, v in ticks.items()) / _TICK / elapsed
        out["postgres"] = sum(v - self.pg0.get(p, 0) for p, v in pg1.items()) / _TICK / elapsed
        out["machine"] = (m1[0] - self.m0[0]) / _TICK / elapsed
        out["steal"] = (m1[1] - self.m0[1]) / _TICK / elapsed
        return out


# --- the SMTP sink ---------------------------------------------------------------------------


class MailSink:
    """An SMTP server on a thread that counts what the workers send and keeps nothing."""

    def __init__(self) -> None:
        from upward.devmail import PortController

        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.received += 1
                return "250 accepted"

        self.received = 0
        self.controller = PortController(Handler(), hostname=HOST, port=0)

    def start(self) -> int:
        self.controller.start()
        return int(self.controller.port)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.controller.stop()


# --- logs ------------------------------------------------------------------------------------

_ERROR_RE = re.compile(r'"level":\s*"(error|critical)"|\[(ERROR|CRITICAL)\]|^Traceback', re.M)
_WARN_RE = re.compile(r'"level":\s*"warning"|\[WARNING\]')


def log_offsets(servers: list[Server]) -> dict[str, int]:
    return {s.name: s.log_path.stat().st_size if s.log_path.exists() else 0 for s in servers}


def log_problems(servers: list[Server], since: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Error and warning lines each process logged since `since` (and a few examples)."""
    out: dict[str, dict[str, Any]] = {}
    for s in servers:
        try:
            with open(s.log_path, "rb") as fh:
                fh.seek(since.get(s.name, 0))
                text = fh.read().decode(errors="replace")
        except OSError:
            continue
        lines = text.splitlines()
        errors = [ln for ln in lines if _ERROR_RE.search(ln)]
        warnings = [ln for ln in lines if _WARN_RE.search(ln)]
        out[s.name] = {
            "errors": len(errors),
            "warnings": len(warnings),
            "error_lines": [ln[:600] for ln in errors[:5]],
            "warning_lines": [ln[:400] for ln in warnings[:3]],
        }
    return out


# --- setup -----------------------------------------------------------------------------------


async def make_keys(url: str, tenants: list[Tenant]) -> None:
    """One partner key per tenant with PARTNER_SCOPES, written as the owner (replaces the last
    run's)."""
    import asyncpg

    from upward.auth.keys import display_prefix, new_token

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("delete from api_keys where name = $1", KEY_NAME)
            for t in tenants:
                key_id = uuid.uuid4()
                token, digest = new_token(key_id, t.cast.id)
                await conn.execute(
                    "insert into api_keys (tenant_id, id, name, prefix, secret_hash, scopes, "
                    "allowed_cidrs) values ($1, $2, $3, $4, $5, $6, $7)",
                    t.cast.id,
                    key_id,
                    KEY_NAME,
                    display_prefix(token),
                    digest,
                    PARTNER_SCOPES,
                    [],
                )
                t.key = token
    finally:
        await conn.close()


async def db_counts(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await soak_data.counts(conn)
    finally:
        await conn.close()


async def connection_room(args: argparse.Namespace) -> str | None:
    """A warning when PostgreSQL may not have the connections our pools can open (another
    database's load on a shared server takes them too: `remaining connection slots are
    reserved` then fails requests)."""
    import asyncpg

    from upward.settings import Settings

    d = Settings.model_fields
    size = args.db_pool or d["db_pool_size"].default
    overflow = max(1, args.db_pool // 2) if args.db_pool else d["db_max_overflow"].default
    procs = args.api_workers + args.worker_processes + (0 if args.no_scheduler else 1)
    want = procs * (size + overflow) + 3
    conn = await asyncpg.connect(args.database_url)
    try:
        limit = int(await conn.fetchval("show max_connections"))
        reserved = int(await conn.fetchval("show superuser_reserved_connections"))
        used = int(await conn.fetchval("select count(*) from pg_stat_activity"))
    finally:
        await conn.close()
    room = limit - reserved - used
    if want > room:
        return (
            f"the pools may open {want} connections ({procs} processes x {size} + {overflow}); "
            f"PostgreSQL has room for {room} ({limit} max, {used} in use): see --db-pool"
        )
    return None


def post(port: int, token: str, doc: str, variables: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        f"http://{HOST}:{port}/graphql",
        data=json.dumps({"query": doc, "variables": variables}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {token}",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - our own server
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return json.loads(exc.read() or b"{}") or {"errors": [{"message": f"HTTP {exc.code}"}]}
        except ValueError:
            return {"errors": [{"message": f"HTTP {exc.code} (not JSON)"}]}
    except OSError as exc:  # refused, reset, timed out
        raise BenchError(f"the API did not answer: {exc!r}") from exc


def collect_cursors(port: int, tenants: list[Tenant], pages: int = 4) -> None:
    """The partner's page cursors (pages 2..`pages`) of every tenant."""
    doc = OP_BY_NAME["partner_employees"].doc

    def one(t: Tenant) -> None:
        cursors: list[str | None] = [None]
        for _ in range(pages - 1):
            out = post(port, t.key, doc, {"after": cursors[-1]})
            if out.get("errors"):
                raise BenchError(f"{t.cast.slug}: partner page failed: {out['errors']}")
            info = out["data"]["employees"]["pageInfo"]
            if not info["hasNextPage"]:
                break
            cursors.append(info["endCursor"])
        t.cursors = cursors

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, tenants))


def check_ops(port: int, tenants: list[Tenant], employees: int) -> dict[str, float]:
    """Every operation once (its first variant) for three tenants: no errors, and the answers
    the data promises. Returns each operation's requestedQueryCost."""
    problems: list[str] = []
    costs: dict[str, float] = {}
    sample = sorted({0, len(tenants) // 2, len(tenants) - 1})
    for i in sample:
        t = tenants[i]
        for op in OPS:
            token, variables = variants(op, t)[0]
            out = post(port, token, op.doc, variables)
            label = f"{t.cast.slug} {op.name}"
            if out.get("errors"):
                problems.append(f"{label}: {json.dumps(out['errors'])[:400]}")
                continue
            cost = ((out.get("extensions") or {}).get("cost") or {}).get("requestedQueryCost")
            if cost is not None:
                costs[op.name] = float(cost)
            d = out["data"]
            if op.name == "employees_page":
                if d["employees"]["totalCount"] != employees or len(d["employees"]["edges"]) != 50:
                    problems.append(
                        f"{label}: {d['employees']['totalCount']} people, not {employees}"
                    )
            elif op.name == "inbox" and not d["notifications"]["edges"]:
                problems.append(f"{label}: an empty inbox")
            elif op.name == "credentials" and not d["credentials"]["totalCount"]:
                problems.append(f"{label}: no credentials")
            elif op.name == "compliance_report" and not d["complianceReport"]["people"]["total"]:
                problems.append(f"{label}: nobody in the report")
            elif op.name == "my_compliance" and d["employeeCompliance"] is None:
                problems.append(f"{label}: no compliance")
            elif op.name == "partner_upsert":
                totals = d["upsertEmployees"]["totals"]
                rows = len(variables["rows"])
                if totals["unchanged"] != rows or totals["errors"]:
                    problems.append(f"{label}: {totals}, expected {rows} unchanged")
            elif op.name == "partner_employees" and len(d["employees"]["edges"]) != min(
                100, employees
            ):
                problems.append(f"{label}: {len(d['employees']['edges'])} rows")
    if problems:
        raise BenchError("check of the mix failed:\n  " + "\n  ".join(problems))
    print(
        f"check: every operation of the mix answers without errors for {len(sample)} tenants",
        file=sys.stderr,
    )
    return costs


def build_pools(port: int, tenants: list[Tenant]) -> list[list[list[bytes]]]:
    pools = []
    for op in OPS:
        per_tenant = []
        for t in tenants:
            reqs = [
                http_request(
                    port, {"query": op.doc, "variables": v}, {"Authorization": f"Bearer {tok}"}
                )
                for tok, v in variants(op, t)
            ]
            if not reqs:
                raise BenchError(f"{t.cast.slug}: no request for {op.name}")
            per_tenant.append(reqs)
        pools.append(per_tenant)
    return pools


# --- statistics ------------------------------------------------------------------------------


def pct(sorted_values: list[float] | array.array, q: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k] * 1000


def stats(values: list[float]) -> dict[str, Any]:
    v = sorted(values)
    return {"requests": len(v), "p50_ms": pct(v, 0.50), "p99_ms": pct(v, 0.99)}


def summarize(out: dict[str, Any]) -> dict[str, Any]:
    """Per operation and overall, for others / the noisy tenant / everyone."""
    lat = {tuple(int(x) for x in k.split("|")): v for k, v in out["lat"].items()}
    errs: dict[tuple[int, str], int] = {}
    err_codes: dict[tuple[int, int], dict[str, int]] = {}
    for o, g, code, n in out["errors"]:
        err_codes.setdefault((o, g), {})[code] = err_codes.get((o, g), {}).get(code, 0) + n
        errs[(o, code)] = errs.get((o, code), 0) + n
    groups = {"others": (0,), "noisy": (1, 2), "all": (0, 1, 2)}
    res: dict[str, Any] = {}
    for gname, gs in groups.items():
        rows = {}
        every: list[float] = []
        every_err: dict[str, int] = {}
        for o, op in enumerate(OPS):
            vals = [x for g in gs for x in lat.get((o, g), ())]
            every += vals
            codes: dict[str, int] = {}
            for g in gs:
                for c, n in err_codes.get((o, g), {}).items():
                    codes[c] = codes.get(c, 0) + n
                    every_err[c] = every_err.get(c, 0) + n
            rows[op.name] = {**stats(vals), "errors": codes}
        rows["all operations"] = {**stats(every), "errors": every_err}
        res[gname] = rows
    return res


def n_errors(codes: dict[str, int], *, except_codes: tuple[str, ...] = ()) -> int:
    return sum(n for c, n in codes.items() if c not in except_codes)


# --- running a scenario ----------------------------------------------------------------------


@dataclass
class Env:
    args: argparse.Namespace
    servers: list[Server]
    children: list[Any]
    monitor: Monitor
    roles: dict[str, int]
    mail: MailSink
    tenants: list[Tenant]
    pools: list[list[list[bytes]]]
    weights: list[float]
    api_port: int


def check_alive(env: Env) -> None:
    for s in env.servers:
        if s.proc.poll() is not None:
            raise BenchError(f"{s.name} exited with {s.proc.returncode}:\n{s.log_tail(40)}")


def run_scenario(env: Env, name: str, noisy_extra_rate: float | None) -> dict[str, Any]:
    args = env.args
    noisy_on = name == "noisy"
    spec = SoakSpec(
        port=env.api_port,
        weights=env.weights,
        pools=env.pools,
        concurrency=args.concurrency,
        warmup=args.warmup,
        duration=args.duration,
        noisy_tenant=args.noisy_tenant - 1,
        noisy_on=noisy_on,
        noisy_extra_rate=noisy_extra_rate if noisy_on else None,
        noisy_factor=args.noisy_factor,
        noisy_connections=args.noisy_connections,
        bucket_seconds=max(5.0, args.duration / 10),
        seed=1 if name == "quiet" else 2,
    )
    desc = f"{args.concurrency} connections over {len(env.tenants)} tenants"
    if noisy_on:
        rate = (
            f"{noisy_extra_rate:.1f} req/s more"
            if noisy_extra_rate is not None
            else f"(x{args.noisy_factor:g} - 1) x a normal tenant's rate (from the warm-up)"
        )
        desc += f", plus {slug(args.noisy_tenant)} on {args.noisy_connections} more at {rate}"
    print(f"{name}: {desc}, {args.warmup:g}s warm-up, {args.duration:g}s measured", file=sys.stderr)
    ctx = mp.get_context("spawn")
    started, finished = ctx.Event(), ctx.Event()
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_load_process, args=(spec, started, finished, child), daemon=True)
    before = asyncio.run(db_counts(args.database_url))
    mail0 = env.mail.received
    proc.start()
    env.children.append(proc)
    cpu = CpuWindow(env.roles)
    try:
        deadline = time.monotonic() + args.warmup + 120
        while not started.wait(timeout=1.0):
            check_alive(env)
            if not proc.is_alive() or time.monotonic() > deadline:
                raise BenchError("the load generator did not start")
        t_start = time.monotonic()
        offsets = log_offsets(env.servers)
        cpu.start()
        own0 = time.process_time()
        last = t_start
        while not finished.wait(timeout=1.0):
            check_alive(env)
            if not proc.is_alive():
                break
            if time.monotonic() - last >= 60:
                last = time.monotonic()
                print(f"  {last - t_start:.0f}s of {args.duration:g}s", file=sys.stderr)
        t_end = time.monotonic()
        cpu_use = cpu.stop()
        cpu_use["bench"] = (time.process_time() - own0) / max(time.monotonic() - t_start, 1e-9)
        if not parent.poll(timeout=60):
            raise BenchError("the load generator did not report")
        out = parent.recv()
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
        env.children.remove(proc)
    if "crash" in out:
        raise BenchError(f"load generator failed: {out['crash']}")
    check_alive(env)
    after = asyncio.run(db_counts(args.database_url))
    logs = log_problems(env.servers, offsets)
    summary = summarize(out)
    # RSS per process and per role (sum), over the measured window
    rss: dict[str, Any] = {}
    series: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for t, role, pid, mb in env.monitor.rss:
        series.setdefault((role, pid), []).append((t, mb))
    for role in env.roles:
        pids = sorted(p for r, p in series if r == role)
        in_window = [p for p in pids if any(t_start <= t <= t_end for t, _ in series[(role, p)])]
        by_t: dict[float, float] = {}
        for p in in_window:
            for t, mb in series[(role, p)]:
                by_t[t] = by_t.get(t, 0.0) + mb
        times = sorted(
            {t for p in in_window for t, _ in series[(role, p)] if t_start <= t <= t_end}
        )
        at = {
            when: {p for p in in_window if any(t == when for t, _ in series[(role, p)])}
            for when in times[:1] + times[-1:]
        }
        rss[role] = {
            # a process that came or went during the window: a crash and a restart
            "changed": sorted(at[times[0]] ^ at[times[-1]]) if times else [],
            "total": rss_verdict(sorted(by_t.items()), t_start, t_end, args.rss_mb, args.rss_pct),
            "processes": {
                str(p): {
                    "cmd": env.monitor.names.get(p, "?"),
                    **rss_verdict(series[(role, p)], t_start, t_end, args.rss_mb, args.rss_pct),
                }
                for p in in_window
            },
        }
    queues = [q for q in env.monitor.queues if t_start <= q[0] <= t_end]
    outbox = [o for o in env.monitor.outbox if t_start <= o[0] <= t_end]
    buckets = [
        {"from_s": i * spec.bucket_seconds, **stats(list(b))} for i, b in enumerate(out["buckets"])
    ]
    secs = out["seconds"]
    n_all = summary["all"]["all operations"]["requests"]
    return {
        "scenario": name,
        "seconds": secs,
        "rps": n_all / secs if secs else 0.0,
        "per_tenant_rps": (
            summary["others"]["all operations"]["requests"] / secs / max(1, len(env.tenants) - 1)
            if secs
            else 0.0
        ),
        "summary": summary,
        "warm_errors": out["warm_errors"],
        "error_samples": out["samples"],
        "unfinished": out["unfinished"],
        "noisy": {
            **out["noisy"],
            "achieved_rps": (
                summary["noisy"]["all operations"]["requests"]
                + n_errors(summary["noisy"]["all operations"]["errors"])
            )
            / secs
            if secs
            else 0.0,
        }
        if noisy_on
        else None,
        "client_cpu": out["client_cpu"],
        "cpu": cpu_use,
        "rss": rss,
        "queues": {
            "max_ready": max((q[1] for q in queues), default=0),
            "end_ready": queues[-1][1] if queues else 0,
            "max_delayed": max((q[2] for q in queues), default=0),
            "dead_start": queues[0][3] if queues else 0,
            "dead_end": queues[-1][3] if queues else 0,
        },
        "outbox": {
            "due_max": max((o[1] for o in outbox), default=0),
            "due_end": outbox[-1][1] if outbox else 0,
            "before": before,
            "after": after,
            "emails": env.mail.received - mail0,
        },
        "logs": logs,
        "buckets": buckets,
    }


def slug(n: int) -> str:
    return soak_data.slug_of(n)


def settle(env: Env, timeout: float, due_max: int = 50, queued_max: int = 50) -> str:
    """Wait until the workers have delivered what was due before the load starts (the
    scheduler's first passes: reminders, the weekly recognition nudges...), so that the measured
    run starts from a steady state: at most `due_max` due deliveries and `queued_max` queued
    messages in two samples in a row."""
    t0 = time.monotonic()
    calm = 0
    seen = 0
    last_note = t0
    while True:
        check_alive(env)
        elapsed = time.monotonic() - t0
        q = env.monitor.queues[-1] if env.monitor.queues else None
        o = env.monitor.outbox[-1] if env.monitor.outbox else None
        if len(env.monitor.outbox) > seen and q is not None and o is not None:
            seen = len(env.monitor.outbox)
            calm = calm + 1 if q[1] <= queued_max and o[1] <= due_max else 0
            if calm >= 2 and elapsed >= 15:
                return f"settled in {elapsed:.0f}s ({o[1]} due deliveries, {q[1]} queued messages)"
        if time.monotonic() - last_note >= 30:
            last_note = time.monotonic()
            print(
                f"  settling: {o[1] if o else '?'} due deliveries, {q[1] if q else '?'} queued "
                f"messages after {elapsed:.0f}s",
                file=sys.stderr,
            )
        if elapsed >= timeout:
            return (
                f"NOT settled after {timeout:g}s ({o[1] if o else '?'} due deliveries, "
                f"{q[1] if q else '?'} queued messages): measured with a backlog"
            )
        time.sleep(1.0)


# --- report ----------------------------------------------------------------------------------


def _ms(v: float) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.1f}"


def _codes(codes: dict[str, int]) -> str:
    n = sum(codes.values())
    if not n:
        return "0"
    return f"{n} (" + ", ".join(f"{c} {k}" for c, k in sorted(codes.items())) + ")"


def print_run(r: dict[str, Any], weights: list[float], tenants: int) -> None:
    secs = r["seconds"]
    group = "all" if r["scenario"] == "quiet" else "others"
    who = "every tenant" if group == "all" else "the other tenants"
    print(
        f"\n{r['scenario']}: {r['rps']:.0f} req/s over {secs:.0f}s ({who} below), "
        f"a normal tenant {r['per_tenant_rps']:.2f} req/s"
    )
    print()
    total_w = sum(weights)
    rows = []
    for op, w in zip(OPS, weights, strict=True):
        s = r["summary"][group][op.name]
        if not w and not s["requests"]:
            continue
        rows.append(
            [
                op.name,
                op.client,
                f"{w / total_w * 100:.0f}%",
                str(s["requests"]),
                f"{s['requests'] / secs:.1f}" if secs else "-",
                _codes(s["errors"]),
                _ms(s["p50_ms"]),
                _ms(s["p99_ms"]),
            ]
        )
    s = r["summary"][group]["all operations"]
    rows.append(
        [
            "all operations",
            "",
            "100%",
            str(s["requests"]),
            f"{s['requests'] / secs:.1f}",
            _codes(s["errors"]),
            _ms(s["p50_ms"]),
            _ms(s["p99_ms"]),
        ]
    )
    print(
        markdown_table(
            ["operation", "client", "mix", "requests", "req/s", "errors", "p50 ms", "p99 ms"],
            rows,
            left={0, 1},
        )
    )
    if r["noisy"] is not None:
        ns = r["summary"]["noisy"]["all operations"]
        print(
            f"noisy tenant: {r['noisy']['achieved_rps']:.1f} req/s sent "
            f"({r['noisy']['rate']:.1f} req/s paced on top of its share, "
            f"{r['noisy']['missed']} sends missed: its connections were busy), {ns['requests']} "
            f"answered, errors {_codes(ns['errors'])}, p50 {_ms(ns['p50_ms'])} ms, "
            f"p99 {_ms(ns['p99_ms'])} ms"
        )
    if r["warm_errors"]:
        print(f"errors during the warm-up: {sum(e[3] for e in r['warm_errors'])}")
    if r["unfinished"]:
        print(f"requests still unanswered 15 s after the end: {r['unfinished']}")
    for code, msgs in r["error_samples"].items():
        for m in msgs:
            print(f"  error {code}: {m}")
    cpu = r["cpu"]
    print(
        "\nCPU (% of one core; "
        f"{os.cpu_count()} cores): "
        + ", ".join(f"{k} {cpu[k] * 100:.0f}%" for k in ("api", "worker", "scheduler") if k in cpu)
        + f", postgres {cpu['postgres'] * 100:.0f}%, load generator {r['client_cpu'] * 100:.0f}%, "
        f"this process (SMTP sink, sampling) {cpu.get('bench', 0) * 100:.0f}%, "
        f"machine {cpu['machine'] * 100:.0f}% busy, {cpu['steal'] * 100:.0f}% stolen"
    )
    if len(r["buckets"]) > 1:
        b = r["buckets"]
        print(
            "over time (p99 ms per "
            f"{b[1]['from_s'] - b[0]['from_s']:.0f}s, {group}): "
            + " ".join(_ms(x["p99_ms"]) for x in b)
        )


def print_rss(r: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\nRSS ({r['scenario']}), sampled every {args.rss_interval:g}s over the measured window. "
        f"flat: the least-squares trend over the window's second half grows less than "
        f"max({args.rss_mb:g} MB, {args.rss_pct:g}% of the level at the half)."
    )
    print()
    rows = []
    for role, d in r["rss"].items():
        items = [(role + " (sum)", d["total"])] if len(d["processes"]) > 1 else []
        items += [(f"{role} {pid} {p['cmd']}"[:70], p) for pid, p in sorted(d["processes"].items())]
        for label, v in items:
            rows.append(
                [
                    label,
                    _ms(v.get("start_mb", math.nan)),
                    _ms(v.get("end_mb", math.nan)),
                    _ms(v.get("max_mb", math.nan)),
                    f"{v['slope_mb_min']:+.2f}" if "slope_mb_min" in v else "-",
                    f"{v['half_growth_mb']:+.1f} / {v['limit_mb']:.0f}"
                    if "half_growth_mb" in v
                    else "-",
                    v["verdict"],
                ]
            )
    print(
        markdown_table(
            ["process", "start MB", "end MB", "max MB", "MB/min", "2nd half MB / limit", "verdict"],
            rows,
            left={0, 6},
        )
    )
    for role, d in r["rss"].items():
        if d["changed"]:
            print(f"{role}: processes came or went during the run (pids {d['changed']})")
    ob, q = r["outbox"], r["queues"]
    b, a = ob["before"], ob["after"]
    print(
        f"\nworkers ({r['scenario']}): {a['notifications'] - b['notifications']} notifications "
        f"written, {a['deliveries_sent'] - b['deliveries_sent']} deliveries sent, "
        f"{ob['emails']} emails received by the SMTP sink, "
        f"{a['deliveries_dead'] - b['deliveries_dead']} deliveries dead; due deliveries max "
        f"{ob['due_max']}, at the end {ob['due_end']}; queued messages max {q['max_ready']}, "
        f"at the end {q['end_ready']} ({q['max_delayed']} delayed at most, "
        f"{q['dead_end'] - q['dead_start']} dead-lettered); "
        f"{a['kudos'] - b['kudos']} kudos, {a['audit_events'] - b['audit_events']} audit events"
    )
    for name, lg in r["logs"].items():
        if lg["errors"] or lg["warnings"]:
            print(f"{name} log: {lg['errors']} error lines, {lg['warnings']} warnings")
            for ln in lg["error_lines"]:
                print(f"  {ln}")
            for ln in lg["warning_lines"][:2]:
                print(f"  (warning) {ln}")


def _mean_cost(rows: dict[str, Any], costs: dict[str, float]) -> float:
    """Points charged per request (requestedQueryCost) over a mix."""
    n = sum(rows[op.name]["requests"] for op in OPS) or 1
    return sum(rows[op.name]["requests"] * costs.get(op.name, 1) for op in OPS) / n


def compare(
    quiet: dict[str, Any],
    noisy: dict[str, Any],
    args: argparse.Namespace,
    costs: dict[str, float] | None = None,
) -> tuple[bool, str]:
    """The other tenants' p99 per operation, noisy run / quiet run."""
    lines = []
    rows = []
    ok = True
    judged = 0
    for name in [op.name for op in OPS] + ["all operations"]:
        q = quiet["summary"]["others"].get(name)
        n = noisy["summary"]["others"].get(name)
        if not q or not n or not q["requests"] or not n["requests"]:
            continue
        enough = min(q["requests"], n["requests"]) >= args.min_samples
        ratio = n["p99_ms"] / q["p99_ms"] if q["p99_ms"] else math.nan
        verdict = "-"
        if enough:
            judged += 1
            met = ratio <= args.p99_ratio
            ok = ok and met
            verdict = "MET" if met else "NOT MET"
        else:
            verdict = f"(< {args.min_samples} samples)"
        rows.append(
            [
                name,
                str(q["requests"]),
                _ms(q["p99_ms"]),
                str(n["requests"]),
                _ms(n["p99_ms"]),
                f"{ratio:.2f}x",
                verdict,
            ]
        )
    lines.append(
        markdown_table(
            [
                "operation (other tenants)",
                "quiet n",
                "quiet p99",
                "noisy n",
                "noisy p99",
                "ratio",
                f"<= {args.p99_ratio:g}x",
            ],
            rows,
            left={0, 6},
        )
    )
    nz = noisy.get("noisy") or {}
    ns = noisy["summary"]["noisy"]["all operations"]
    limited = ns["errors"].get("RATE_LIMITED", 0)
    other_err = n_errors(ns["errors"], except_codes=("RATE_LIMITED",))
    lines.append(
        f"\nnoisy tenant {slug(args.noisy_tenant)}: asked for {args.noisy_factor:g}x a normal "
        f"tenant's {quiet['per_tenant_rps']:.2f} req/s; sent {nz.get('achieved_rps', 0):.1f} req/s "
        f"({nz.get('rate', 0):.1f} req/s paced on {args.noisy_connections} connections on top of "
        f"its share; {nz.get('missed', 0)} sends missed, all its connections busy): "
        f"{ns['requests']} answered, {limited} RATE_LIMITED (the limiter at work), "
        f"{other_err} other errors, p50 {_ms(ns['p50_ms'])} ms, p99 {_ms(ns['p99_ms'])} ms"
    )
    asked = args.noisy_factor * quiet["per_tenant_rps"]
    if nz and asked and nz.get("achieved_rps", 0) < 0.9 * asked:
        lines.append(
            f"note: the noisy tenant sent {nz.get('achieved_rps', 0) / asked * 100:.0f}% of the "
            "traffic it asked for (the server could not take more on its connections): the test "
            "is milder than asked"
        )
    if costs:
        per_req = _mean_cost(noisy["summary"]["noisy"], costs)
        budget = args.budgets["UPWARD_RATE_COST_PER_TENANT"]
        spent = nz.get("achieved_rps", 0) * 60 * per_req
        lines.append(
            f"rate limits: the noisy tenant spent ≈ {spent:,.0f} cost points a minute, "
            f"{spent / budget * 100:.0f}% of its tenant budget ({budget:,} a minute)"
        )
    if not judged:
        ok = False
        lines.append("no operation had enough samples to judge: run longer")
    lines.append(
        f"target: the other tenants' p99 within {args.p99_ratio:g}x of the quiet run: "
        + ("MET" if ok else "NOT MET")
    )
    return ok, "\n".join(lines)


def budget_use(
    r: dict[str, Any], costs: dict[str, float], args: argparse.Namespace, tenants: int
) -> str:
    """≈ cost points a normal tenant spent per minute, against its tenant budget."""
    secs = r["seconds"] or 1
    per_min = 0.0
    for op in OPS:
        n = r["summary"]["others"][op.name]["requests"]
        c = costs.get(op.name, 1)  # requestedQueryCost: what the request is charged
        per_min += n / max(1, tenants - 1) / secs * 60 * c
    budget = args.budgets["UPWARD_RATE_COST_PER_TENANT"]
    return (
        f"rate limits: a normal tenant spent ≈ {per_min:,.0f} cost points a minute, "
        f"{per_min / budget * 100:.1f}% of its tenant budget ({budget:,} a minute"
        + (f", {args.rate_budget_scale:g}x the default" if args.rate_budget_scale != 1 else "")
        + ")"
    )


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.soak", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env = os.environ.get
    p.add_argument("--tenants", type=int, default=int(env("SOAK_TENANTS", 100)))
    p.add_argument("--employees", type=int, default=int(env("SOAK_EMPLOYEES", 500)))
    p.add_argument("--concurrency", type=int, default=int(env("SOAK_CONCURRENCY", 32)))
    p.add_argument(
        "--duration",
        type=float,
        default=float(env("SOAK_DURATION", 600)),
        help="seconds measured per scenario (default %(default)s)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=float(env("SOAK_WARMUP", 30)),
        help="seconds of load before measuring (default %(default)s)",
    )
    p.add_argument(
        "--scenario",
        choices=("both", "quiet", "noisy"),
        default="both",
        help="quiet (the soak), noisy (the noisy neighbour), or both, one after the "
        "other on the same processes (default)",
    )
    p.add_argument(
        "--mix",
        help="operation weights, e.g. 'compliance_report=0,give_kudos=6' "
        "(the rest keep their defaults)",
    )
    p.add_argument("--noisy-tenant", type=int, default=1, help="tenant number (default 1)")
    p.add_argument(
        "--noisy-factor",
        type=float,
        default=10.0,
        help="the noisy tenant sends this many times a normal tenant's traffic",
    )
    p.add_argument(
        "--noisy-rate",
        type=float,
        default=None,
        help="req/s the noisy tenant sends on top of its share (default: from the "
        "quiet run, or from the noisy run's warm-up)",
    )
    p.add_argument(
        "--noisy-connections",
        type=int,
        default=None,
        help="connections of the noisy tenant's extra traffic (default: 3 x --concurrency; a "
        "send is missed only when all of them are busy)",
    )
    p.add_argument("--p99-ratio", type=float, default=1.5)
    p.add_argument(
        "--min-samples",
        type=int,
        default=200,
        help="an operation is judged only with this many requests in both runs",
    )
    p.add_argument("--rss-interval", type=float, default=5.0)
    p.add_argument("--rss-mb", type=float, default=10.0)
    p.add_argument("--rss-pct", type=float, default=5.0)
    p.add_argument(
        "--rate-budget-scale",
        type=float,
        default=1.0,
        help="multiply the rate-limit budgets (key, user, tenant) by this; limits stay "
        "on (default 1: the product's defaults)",
    )
    p.add_argument("--api-workers", type=int, default=1, help="uvicorn processes of the API")
    p.add_argument("--worker-processes", type=int, default=1)
    p.add_argument("--worker-threads", type=int, default=4)
    p.add_argument("--no-scheduler", action="store_true", help="do not run the scheduler")
    p.add_argument(
        "--db-pool",
        type=int,
        default=None,
        help="pool size of every process (overflow half of it; default: the product's 20 + 10)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=180.0,
        help="seconds to wait at most for the workers to drain the backlog first",
    )
    p.add_argument("--database-url", default=env("SOAK_DATABASE_URL", soak_data.DEFAULT_URL))
    p.add_argument("--redis-url", default=env("SOAK_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("QUIET_JSON", "NOISY_JSON"),
        help="compare a quiet and a noisy run saved before; runs nothing",
    )
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    dbname = urllib.parse.urlsplit(args.database_url).path.lstrip("/")
    if not args.compare and not dbname.startswith("upward_soak"):
        p.error("the soak only uses databases named upward_soak*")
    try:
        args.weights = parse_mix(args.mix)
    except ValueError as exc:
        p.error(str(exc))
    if not 1 <= args.noisy_tenant <= args.tenants:
        p.error("--noisy-tenant must be one of the tenants")
    if args.noisy_connections is None:
        # three times all the other tenants together: the server makes it wait its turn
        # (admission), so it needs many in flight to send what it asks (with 32 it sent 7x,
        # not 10x); a send is missed only when all of them are busy
        args.noisy_connections = 3 * args.concurrency
    if args.compare:
        return _compare_files(args)
    os.chdir(ROOT)
    servers: list[Server] = []
    children: list[Any] = []
    extra: list[Any] = []

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run(args, servers, children, extra)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"soak failed: {exc}", file=sys.stderr)
        for s in servers:
            if s.name not in str(exc).split(" ", 1)[0]:
                tail = s.log_tail(15)
                if tail:
                    log = s.log_path.relative_to(ROOT)
                    print(f"--- {s.name} ({log}), last lines:\n{tail}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish cleaning up even on a second ^C
        for proc in children:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for server in reversed(servers):
            server.stop()
        for x in extra:
            x.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _compare_files(args: argparse.Namespace) -> int:
    docs = [json.loads(Path(path).read_text()) for path in args.compare]
    runs = []
    for path, doc, want in zip(args.compare, docs, ("quiet", "noisy"), strict=True):
        found = [r for r in doc["runs"] if r["scenario"] == want]
        if not found:
            print(f"{path} has no {want} run", file=sys.stderr)
            return 1
        runs.append(found[0])
    saved = docs[1]["args"]
    for name in ("noisy_tenant", "noisy_factor", "noisy_connections", "budgets"):
        setattr(args, name, saved[name])
    print(f"quiet: {docs[0]['command']} ({docs[0]['when']})")
    print(f"noisy: {docs[1]['command']} ({docs[1]['when']})\n")
    ok, text = compare(runs[0], runs[1], args, docs[1].get("costs"))
    print(text)
    return 0 if ok else 2


def _run(
    args: argparse.Namespace, servers: list[Server], children: list[Any], extra: list[Any]
) -> int:
    t_begin = time.perf_counter()
    from upward.settings import Settings, reset_settings

    fields = Settings.model_fields
    args.budgets = {
        f"UPWARD_RATE_COST_PER_{k.upper()}": int(
            fields[f"rate_cost_per_{k}"].default * args.rate_budget_scale
        )
        for k in ("key", "user", "tenant")
    }
    base_env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "UPWARD_DRAMATIQ_NAMESPACE": NAMESPACE,
        "UPWARD_LOG_LEVEL": os.environ.get("UPWARD_LOG_LEVEL", "WARNING"),
        "UPWARD_RATE_LIMITS": "true",
        **{k: str(v) for k, v in args.budgets.items()},
    }
    if args.db_pool:
        base_env["UPWARD_DB_POOL_SIZE"] = str(args.db_pool)
        base_env["UPWARD_DB_MAX_OVERFLOW"] = str(max(1, args.db_pool // 2))
    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "UPWARD_DRAMATIQ_NAMESPACE": NAMESPACE,
        }
    )
    reset_settings()

    # (a) database and data
    from bench.generate import ensure_database

    asyncio.run(ensure_database(args.database_url))
    r = subprocess.run(
        [PYTHON, "-m", "upward", "migrate"],
        env=base_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode != 0:
        raise BenchError(f"migrate failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    casts = asyncio.run(soak_data.prepare(args.database_url, args.tenants, args.employees))
    note = asyncio.run(connection_room(args))
    if note:
        print(f"warning: {note}", file=sys.stderr)
    tenants = [Tenant(c) for c in casts]
    asyncio.run(make_keys(args.database_url, tenants))
    from upward.auth.tokens import mint_token

    for t in tenants:
        t.tokens = {
            p.email: mint_token(tenant=t.cast.slug, subject=p.email) for p in t.cast.web_users
        }
    reset_rate_limits(args.redis_url)

    # (b) processes: the SMTP sink, API, worker fleet, scheduler
    mail = MailSink()
    smtp_port = mail.start()
    extra.append(mail)
    proc_env = {
        **base_env,
        "UPWARD_SMTP_HOST": HOST,
        "UPWARD_SMTP_PORT": str(smtp_port),
        "UPWARD_SMTP_TLS": "none",
    }
    port = free_port()
    api = start_server(
        "soak-api",
        [
            PYTHON,
            "-m",
            "upward",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(args.api_workers),
        ],
        proc_env,
        port,
        servers,
    )
    worker = start_server(
        "soak-worker",
        [
            PYTHON,
            "-m",
            "upward",
            "worker",
            "--processes",
            str(args.worker_processes),
            "--threads",
            str(args.worker_threads),
        ],
        proc_env,
        0,
        servers,
    )
    roles = {"api": api.proc.pid, "worker": worker.proc.pid}
    if not args.no_scheduler:
        sched = start_server(
            "soak-scheduler", [PYTHON, "-m", "upward", "scheduler"], proc_env, 0, servers
        )
        roles["scheduler"] = sched.proc.pid

    def healthy() -> bool:
        with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as resp:
            return resp.status == 200

    wait_ready(api, healthy, timeout=90)
    print(
        "started: "
        + ", ".join(f"{s.name} pid {s.proc.pid}" for s in servers)
        + f", SMTP sink on port {smtp_port}",
        file=sys.stderr,
    )
    monitor = Monitor(roles, args.rss_interval, args.database_url, args.redis_url)
    monitor.start()
    extra.append(monitor)

    # (c) the mix: cursors, a check of every operation, the requests
    collect_cursors(port, tenants)
    costs = check_ops(port, tenants, args.employees)
    pools = build_pools(port, tenants)
    env = Env(args, servers, children, monitor, roles, mail, tenants, pools, args.weights, port)
    n_req = sum(len(x) for op in pools for x in op)
    print(
        f"mix: {len(OPS)} operations, {n_req} distinct requests over {len(tenants)} tenants",
        file=sys.stderr,
    )
    settled = settle(env, args.settle)
    print(f"workers: {settled}", file=sys.stderr)

    # (d) the runs
    runs: list[dict[str, Any]] = []
    scenarios = ["quiet", "noisy"] if args.scenario == "both" else [args.scenario]
    for name in scenarios:
        rate = args.noisy_rate
        if name == "noisy" and rate is None and runs:
            rate = (args.noisy_factor - 1) * runs[0]["per_tenant_rps"]
        res = run_scenario(env, name, rate)
        runs.append(res)
        s = res["summary"]["all"]["all operations"]
        print(
            f"  {res['rps']:.0f} req/s, p50 {_ms(s['p50_ms'])} ms, p99 {_ms(s['p99_ms'])} ms, "
            f"{n_errors(s['errors'])} errors",
            file=sys.stderr,
        )
    monitor.stop()
    for s in list(servers):
        s.stop()
    mail.stop()

    # (e) report
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmdline = ("python -m bench.soak " + " ".join(args.argv)).strip()
    print(
        f"\nUpward load and soak: {stamp}, {os.cpu_count()} CPUs, {args.tenants} tenants x "
        f"{args.employees} employees, {args.concurrency} connections, {args.duration:g}s per run "
        f"after {args.warmup:g}s warm-up; API {args.api_workers} process(es), worker "
        f"{args.worker_processes} x {args.worker_threads} threads, scheduler "
        f"{'off' if args.no_scheduler else 'on'}"
    )
    print(f"command: {cmdline}")
    print(f"workers before the runs: {settled}")
    failures: list[str] = []
    for res in runs:
        print_run(res, args.weights, args.tenants)
        print_rss(res, args)
        if res["scenario"] == "quiet":
            print(budget_use(res, costs, args, args.tenants))
        others = res["summary"]["others"]["all operations"]["errors"]
        noisy_codes = res["summary"]["noisy"]["all operations"]["errors"]
        n_other = n_errors(others)
        n_noisy = n_errors(
            noisy_codes, except_codes=("RATE_LIMITED",) if res["scenario"] == "noisy" else ()
        )
        warm = sum(
            e[3]
            for e in res["warm_errors"]
            if not (res["scenario"] == "noisy" and e[1] > 0 and e[2] == "RATE_LIMITED")
        )
        if n_other or n_noisy or warm or res["unfinished"]:
            failures.append(
                f"{res['scenario']}: {n_other + n_noisy} errors, {warm} in the warm-up, "
                f"{res['unfinished']} unanswered"
            )
        changed = {role: d["changed"] for role, d in res["rss"].items() if d["changed"]}
        if changed:
            failures.append(f"{res['scenario']}: processes came or went {changed}")
        grown = [
            role
            for role, d in res["rss"].items()
            if d["total"].get("verdict") == "GROWING"
            or any(p.get("verdict") == "GROWING" for p in d["processes"].values())
        ]
        if grown:
            failures.append(f"{res['scenario']}: RSS growing ({', '.join(grown)})")
        logged = {n: lg["errors"] for n, lg in res["logs"].items() if lg["errors"]}
        if logged:
            failures.append(f"{res['scenario']}: error lines in the logs {logged}")
        if res["queues"]["dead_end"] > res["queues"]["dead_start"]:
            failures.append(f"{res['scenario']}: dramatiq dead-lettered messages")
    verdict_noisy = None
    if len(runs) == 2:
        ok, text = compare(runs[0], runs[1], args, costs)
        print("\nnoisy neighbour: the other tenants' p99, noisy run vs quiet run\n")
        print(text)
        verdict_noisy = ok
        if not ok:
            failures.append("noisy neighbour: p99 ratio above target")
    for msg in monitor.problems:
        print(f"note: {msg}")
    if runs and max(r["client_cpu"] for r in runs) > 0.6:
        print("note: the load generator used more than 60% of a core: it may be a bottleneck")
    if runs and max(r["cpu"]["machine"] for r in runs) > (os.cpu_count() or 1) * 0.95:
        print("note: the machine was saturated (all cores busy)")
    print(f"total soak time {time.perf_counter() - t_begin:.0f}s")
    print("result: " + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))

    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"soak-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        doc = {
            "when": stamp,
            "command": cmdline,
            "cpus": os.cpu_count(),
            "args": {k: v for k, v in vars(args).items() if k not in ("argv",)},
            "mix": {op.name: w for op, w in zip(OPS, args.weights, strict=True)},
            "costs": costs,
            "settle": settled,
            "runs": runs,
            "rss_samples": [
                [round(t - monitor.rss[0][0], 2), role, pid, round(mb, 2)]
                for t, role, pid, mb in monitor.rss
            ]
            if monitor.rss
            else [],
            "noisy_met": verdict_noisy,
            "failures": failures,
        }
        path.write_text(json.dumps(doc, indent=1, default=str))
        print(f"saved {path.relative_to(ROOT)}", file=sys.stderr)
    return 2 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
