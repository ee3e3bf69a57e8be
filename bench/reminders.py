"""Reminders benchmark: one full scheduler pass over many tenants, and the in-app delivery rate.

    python -m bench.reminders [--tenants 100] [--credentials 1000000] [--employees 300]
                              [--threads N] [--reseed] [--no-repeat] [--profile-top 15]

One command, one table. On its own database (`upward_bench_reminders`, created and migrated
when missing; --database-url / BENCH_REMINDERS_DATABASE_URL) it seeds --tenants tenants
(bench/generate.py's org chart of --employees people: managers 5-10 reports deep, 3 hr_admins
per 300 people, ~2% offboarded, locations in five zones from UTC-6 to UTC+1 so that 15:30 UTC is
inside everyone's 09:00-18:00 window) and --credentials credentials spread evenly over them:
3 types, expiry dates uniform over +-18 months around an anchor date (so ~13% fall in the
ladder's scan range: 48 days back to 92 days ahead), ~1% revoked, ~2% superseded, ~1% rejected,
some pending verification; a few acknowledged / renewal-in-progress / snoozed reminder states
and email opt-outs. Each tenant has a default reminder policy with the built-in ladder on the
in_app channel only (so no delivery tries SMTP) and a per-type policy for one type with a
watcher. Written as the owner with COPY, in --seed-jobs child processes (so the seeding does not
count in this process's peak RSS); reused when the counts and the shape match (--reseed to
force). Regenerating drops and re-creates the database first (migrations may have been edited in
place). The anchor date is stored with the data and the clock is frozen relative to it, so a
re-run on another day measures the same work. Smoke run: `--tenants 3 --credentials 3000`.

Then, with the clock frozen at the anchor (a weekday) 15:30 UTC, on the real Redis broker
(namespace `upward-bench`, flushed first) and the app role:
1. the floor: the planner's batch join (`outbox._BATCH_SQL`) over each tenant's whole range,
   raw asyncpg as the owner, every row fetched;
2. the scan alone (`outbox.scan_batches`, nothing sent) for 1 tenant and for all of them, with
   the process's RSS before and after: it must not grow with the number of credentials;
3. one batch planned inline with every statement timed, then under cProfile, in transactions
   rolled back (where the time of a batch goes: SQL vs Python; --profile-top N prints
   cProfile's top functions on stderr);
4. the pass: `reminders.scan_tenant`'s own code (the actor function, called per tenant in this
   process) enqueues the `reminders.plan_batch` messages; then an in-process
   `dramatiq.Worker(broker, worker_threads=--threads)` consumes them until the queue is empty.
   The deliveries it enqueues after commit go to a separate queue for the time of the bench
   (`notifications.deliver` is re-pointed at `bench-deliver`), so nothing is delivered while
   planning;
5. delivery: 50 in-app deliveries attempted inline as the actor does (25 with every part
   timed: session, statements, COMMIT, Redis push; 25 under cProfile), then a second worker
   consumes `bench-deliver` (the real `notifications.deliver` actor: one transaction per
   delivery, the Redis push per in-app notification) and the rest are measured;
6. a repeat pass one minute later, which must write nothing (what the every-minute scan costs
   once everything due was sent).
The notification tables are truncated before measuring, so every run does the same work.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import random
import resource
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dramatiq

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/reminders.py`
    sys.path.insert(0, str(ROOT))

from bench.credentials import TYPE_COLUMNS, add_months  # noqa: E402
from bench.generate import (  # noqa: E402
    copy_tenant,
    ensure_database,
    slug_of,
    tenant_rows,
    with_database,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/upward_bench_reminders"
GEN_VERSION = 1  # bump when the shape of the data changes, to regenerate
NAMESPACE = "upward-bench"  # the bench's own dramatiq namespace (never the suite's)
PLAN_QUEUE = "default"
DELIVER_QUEUE = "bench-deliver"
FROZEN_UTC = dtime(15, 30)  # inside 09:00-18:00 local in every zone below, summer and winter
ZONES = ("America/Chicago", "America/New_York", "Europe/London", "Europe/Paris", "Europe/Berlin")
SPREAD_DAYS = 548  # expiry dates: anchor +- 18 months
JOIN_TIMEOUT_MS = 3_600_000
# name, category, validity in months, verification required, authority, number prefix, weight
TYPES: list[tuple[str, str, int, bool, str, str, int]] = [
    ("First Aid", "certification", 36, False, "Red Cross", "FA", 45),
    ("Food Safety", "training", 24, False, "Food Standards Agency", "FS", 35),
    ("Forklift License", "license", 36, True, "OSHA", "FL", 20),
]
WATCHED_TYPE = "FL"  # its own policy, with a named watcher

CREDENTIAL_COLUMNS = (
    "tenant_id",
    "id",
    "employee_id",
    "credential_type_id",
    "number",
    "issuer",
    "issued_on",
    "expires_on",
    "source",
    "verification",
    "verified_by",
    "verified_at",
    "revoked_at",
    "superseded_by_id",
    "superseded_at",
    "created_at",
    "updated_at",
)
STATE_COLUMNS = (
    "tenant_id",
    "credential_id",
    "expires_on",
    "acknowledged_at",
    "acknowledged_by",
    "renewal_in_progress",
    "snoozed_until",
    "snoozed_by",
    "snooze_reason",
    "updated_at",
)
PREFERENCE_COLUMNS = ("tenant_id", "employee_id", "email_enabled", "updated_at")
OUTPUT_TABLES = "reminders, notifications, deliveries, delivery_attempts, domain_events"


class BenchError(RuntimeError):
    pass


# --- data ----------------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def per_tenant(total: int, tenants: int, index: int) -> int:
    """Credentials of tenant `index` (1-based): `total` spread evenly, the remainder first."""
    base, extra = divmod(total, tenants)
    return base + (1 if index <= extra else 0)


def marker_of(anchor: date, employees: int) -> str:
    return f"bench.reminders v{GEN_VERSION} anchor={anchor.isoformat()} employees={employees}"


def anchor_of(marker: str, employees: int) -> date | None:
    prefix = f"bench.reminders v{GEN_VERSION} anchor="
    suffix = f" employees={employees}"
    if not (marker.startswith(prefix) and marker.endswith(suffix)):
        return None
    return date.fromisoformat(marker[len(prefix) : -len(suffix)])


def next_weekday(d: date) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def policy_steps() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the default policy: the built-in ladder on in_app only, the watched type's policy)."""
    from upward.reminders.planner import DEFAULT_STEPS, Step
    from upward.reminders.policies import step_to_json

    in_app = frozenset({"in_app"})
    default = [step_to_json(replace(s, channels=in_app)) for s in DEFAULT_STEPS]
    watched = [
        step_to_json(Step(-60, frozenset({"holder"}), in_app)),
        step_to_json(Step(-14, frozenset({"holder", "manager"}), in_app)),
        step_to_json(Step(0, frozenset({"holder", "manager", "watchers"}), in_app)),
        step_to_json(
            Step(14, frozenset({"holder", "manager", "hr_admins", "watchers"}), in_app, True)
        ),
    ]
    return default, watched


def tenant_data(index: int, employees: int, credentials: int, anchor: date) -> dict[str, Any]:
    """Rows of one tenant, deterministic in (index, employees, credentials, anchor)."""
    data: dict[str, Any] = tenant_rows(index, employees)
    rng = random.Random(f"upward-bench-reminders-{GEN_VERSION}-{index}-{credentials}-{anchor}")
    now = datetime.now(UTC)
    at_anchor = datetime.combine(anchor, dtime(12), tzinfo=UTC)
    tid, slug, name, _ = data["tenant"][0]
    data["tenant"] = [(tid, slug, name, ZONES[index % len(ZONES)])]
    # locations: only those in ZONES; people elsewhere move to one of them
    keep = [loc for loc in data["locations"] if loc[3] in ZONES]
    moved = {
        loc[1]: (loc[1] if loc[3] in ZONES else keep[k % len(keep)][1])
        for k, loc in enumerate(data["locations"])
    }
    data["locations"] = keep
    people: list[tuple] = []
    hr: list[uuid.UUID] = []
    for n, row in enumerate(data["employees"]):
        e = list(row)
        e[8] = moved[e[8]]
        if n % 100 == 50:
            e[9] = ["hr_admin"]
            hr.append(e[1])
        elif n > 0 and rng.random() < 0.02:
            e[10] = "offboarded"
        if rng.random() < 0.05:  # a personal timezone, overriding the location's
            e[11] = ZONES[rng.randrange(len(ZONES))]
        people.append(tuple(e))
    data["employees"] = people
    admin = people[0][1]
    marker = marker_of(anchor, employees)

    types = []
    for _name, _category, months, verify, authority, code, weight in TYPES:
        types.append(
            {
                "id": _uuid(rng),
                "months": months,
                "verify": verify,
                "authority": authority,
                "code": code,
                "weight": weight,
            }
        )
    data["types"] = [
        (
            tid,
            t["id"],
            TYPES[k][0],
            TYPES[k][1],
            marker,
            t["authority"],
            t["months"],
            False,
            t["verify"],
            30,
            "active",
            now,
            now,
        )
        for k, t in enumerate(types)
    ]
    default_steps, watched_steps = policy_steps()
    watched = next(t for t in types if t["code"] == WATCHED_TYPE)
    data["policies"] = [
        (tid, _uuid(rng), None, "Bench default (in-app)", json.dumps(default_steps), []),
        (
            tid,
            _uuid(rng),
            watched["id"],
            "Forklift (in-app, watched)",
            json.dumps(watched_steps),
            [hr[0] if hr else admin],
        ),
    ]

    weights = [t["weight"] for t in types]
    creds: list[list[Any]] = []
    states: list[tuple] = []
    window_lo, window_hi = anchor - timedelta(days=48), anchor + timedelta(days=92)
    for k in range(credentials):
        holder = people[rng.randrange(len(people))][1]
        t = rng.choices(types, weights)[0]
        expires = anchor + timedelta(days=rng.randint(-SPREAD_DAYS, SPREAD_DAYS))
        issued = add_months(expires, -t["months"])
        verification, verified_by, verified_at = "not_required", None, None
        if t["verify"]:
            roll = rng.random()
            verification = "pending" if roll < 0.05 else "rejected" if roll < 0.08 else "verified"
            if verification == "verified":
                verified_by = admin
                verified_at = min(
                    datetime.combine(issued + timedelta(days=2), dtime(12), tzinfo=UTC), at_anchor
                )
        cid = _uuid(rng)
        revoked = at_anchor - timedelta(days=rng.randint(1, 300)) if rng.random() < 0.01 else None
        row = [
            tid,
            cid,
            holder,
            t["id"],
            f"{t['code']}-{index:03d}-{k:07d}",
            t["authority"],
            issued,
            expires,
            "api",
            verification,
            verified_by,
            verified_at,
            revoked,
            None,
            None,
            now,
            now,
        ]
        if creds and rng.random() < 0.02:  # renewed: superseded by the row before it
            row[13], row[14] = creds[-1][1], at_anchor
        creds.append(row)
        if window_lo <= expires <= window_hi and rng.random() < 0.06:
            roll = rng.random()
            if roll < 0.5:
                states.append((tid, cid, expires, at_anchor, holder, False, None, None, None, now))
            elif roll < 0.75:
                states.append((tid, cid, expires, None, None, True, None, None, None, now))
            else:
                until = anchor + timedelta(days=rng.randint(3, 20))
                states.append(
                    (tid, cid, expires, None, None, False, until, holder, "on leave", now)
                )
    data["credentials"] = [tuple(r) for r in creds]
    data["states"] = states
    data["preferences"] = [(tid, p[1], False, now) for p in people if rng.random() < 0.05]
    return data


async def seed_tenant(conn: Any, data: dict[str, Any]) -> None:
    async with conn.transaction():
        await copy_tenant(conn, data)
        await conn.copy_records_to_table(
            "credential_types", records=data["types"], columns=TYPE_COLUMNS
        )
        await conn.executemany(
            "insert into reminder_policies (tenant_id, id, credential_type_id, name, steps, "
            "watcher_ids) values ($1, $2, $3, $4, $5::jsonb, $6::uuid[])",
            data["policies"],
        )
        await conn.copy_records_to_table(
            "credentials", records=data["credentials"], columns=CREDENTIAL_COLUMNS
        )
        await conn.copy_records_to_table(
            "credential_reminder_states", records=data["states"], columns=STATE_COLUMNS
        )
        await conn.copy_records_to_table(
            "notification_preferences", records=data["preferences"], columns=PREFERENCE_COLUMNS
        )


async def _seed_tenants(
    url: str, indexes: list[int], tenants: int, employees: int, credentials: int, anchor: date
) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for i in indexes:
            t0 = time.perf_counter()
            data = tenant_data(i, employees, per_tenant(credentials, tenants, i), anchor)
            t1 = time.perf_counter()
            await seed_tenant(conn, data)
            if i % 10 == 0 or i == tenants or len(indexes) < 10:
                print(
                    f"  {slug_of(i)}: {len(data['credentials']):,} credentials, "
                    f"{len(data['employees'])} employees: generated in {t1 - t0:.2f}s, "
                    f"copied in {time.perf_counter() - t1:.2f}s",
                    file=sys.stderr,
                )
    finally:
        await conn.close()


def _seed_process(
    url: str, indexes: list[int], tenants: int, employees: int, credentials: int, anchor: date
) -> None:
    asyncio.run(_seed_tenants(url, indexes, tenants, employees, credentials, anchor))


async def seeded_anchor(url: str, tenants: int, credentials: int, employees: int) -> date | None:
    """The anchor date of the data there when it has the shape asked for, else None."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            """
            select (select count(*) from tenants) as tenants,
                   (select count(*) from tenants where slug like 'bench-%') as bench_tenants,
                   (select count(*) from employees) as employees,
                   (select count(*) from credentials) as credentials,
                   (select array_agg(distinct description) from credential_types) as markers
            """
        )
    finally:
        await conn.close()
    markers = row["markers"] or []
    if (
        row["tenants"] != tenants
        or row["bench_tenants"] != tenants
        or row["employees"] != tenants * employees
        or row["credentials"] != credentials
        or len(markers) != 1
    ):
        return None
    return anchor_of(markers[0], employees)


def seed(url: str, tenants: int, credentials: int, employees: int, jobs: int) -> date:
    """Empty the database and write the bench's data; returns its anchor date."""
    import asyncpg

    async def empty() -> bool:
        """Drop and re-create the bench's database, so it has the schema of today's migrations
        (they may have been edited in place); a database not named *bench* is only emptied."""
        name = urlsplit(url).path.lstrip("/")
        if "bench" not in name:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("truncate tenants cascade")
            finally:
                await conn.close()
            return False
        admin = await asyncpg.connect(with_database(url, "postgres"))
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()
        await ensure_database(url)
        return True

    if asyncio.run(empty()):
        from upward.migrate import upgrade

        upgrade()
    anchor = next_weekday(datetime.now(UTC).date())
    t0 = time.perf_counter()
    print(
        f"seeding {tenants} tenants x {employees} employees, {credentials:,} credentials "
        f"(anchor {anchor}) in {jobs} processes",
        file=sys.stderr,
    )
    ctx = mp.get_context("spawn")
    procs = []
    for j in range(jobs):
        indexes = list(range(1 + j, tenants + 1, jobs))
        if not indexes:
            continue
        p = ctx.Process(
            target=_seed_process, args=(url, indexes, tenants, employees, credentials, anchor)
        )
        p.start()
        procs.append(p)
    for p in procs:
        p.join()
    if any(p.exitcode != 0 for p in procs):
        raise BenchError("seeding failed (see above)")

    async def vacuum() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "vacuum analyze tenants, departments, locations, employees, credential_types, "
                "reminder_policies, credentials, credential_reminder_states, "
                "notification_preferences"
            )
        finally:
            await conn.close()

    asyncio.run(vacuum())
    print(f"seeded in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return anchor


# --- measuring -----------------------------------------------------------------------------------


def rss_mib() -> float:
    """The process's resident set now (VmRSS), MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    """The process's peak resident set so far (ru_maxrss: KiB on Linux), MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Phase:
    label: str
    seconds: float
    items: int
    unit: str
    proc_cpu: float | None = None  # this process (Python: bench, broker client, worker threads)
    pg_cpu: float | None = None  # every postgres process on the machine
    peak_after: float | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("nan")


class Tracker(dramatiq.Middleware):
    """Messages sent per actor (by id: a delayed message moved to its queue keeps its id),
    processed, failed, and the time the worker spent on them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[str, set[str]] = {}
        self.processed: Counter = Counter()
        self.failed: Counter = Counter()
        self.busy: Counter = Counter()
        self.errors: list[str] = []
        self.started: dict[str, float] = {}

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        with self.lock:
            self.sent.setdefault(message.actor_name, set()).add(message.message_id)

    def before_process_message(self, broker: Any, message: Any) -> None:
        with self.lock:
            self.started[message.message_id] = time.perf_counter()

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        with self.lock:
            t0 = self.started.pop(message.message_id, None)
            if t0 is not None:
                self.busy[message.actor_name] += time.perf_counter() - t0
            self.processed[message.actor_name] += 1
            if exception is not None:
                self.failed[message.actor_name] += 1
                if len(self.errors) < 5:
                    self.errors.append(f"{message.actor_name}: {exception!r}")

    def count(self, actor: str) -> int:
        with self.lock:
            return len(self.sent.get(actor, ()))

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()
            self.processed.clear()
            self.failed.clear()
            self.busy.clear()
            self.errors.clear()


def _backends(dbname: str) -> dict[int, int]:
    """CPU ticks of the PostgreSQL backends connected to `dbname` (their process title names
    the database), not the server's shared processes nor other databases' sessions."""
    from bench.run import _proc_ticks

    needle = f" {dbname} ".encode()
    out: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if cmd.startswith(b"postgres: ") and needle in cmd.replace(b"\0", b" "):
            ticks = _proc_ticks(int(name))
            if ticks is not None:
                out[int(name)] = ticks
    return out


class Probe:
    """Wall time and CPU (in cores) of this process (the bench, the broker client, the worker's
    threads) and of the bench database's backends between start() and stop(). Backends must
    stay connected until stop(): the ticks of one that exits in between are lost."""

    dbname = ""

    def start(self) -> Probe:
        from bench.run import _proc_ticks

        self.t0 = time.perf_counter()
        self.p0 = _proc_ticks(os.getpid()) or 0
        self.pg0 = _backends(self.dbname)
        self.proc: float | None = None
        self.pg: float | None = None
        return self

    def stop(self) -> Probe:
        from bench.run import _TICK, _proc_ticks

        self.seconds = time.perf_counter() - self.t0
        elapsed = max(self.seconds, 1e-9)
        self.proc = ((_proc_ticks(os.getpid()) or 0) - self.p0) / _TICK / elapsed
        pg1 = _backends(self.dbname)
        self.pg = sum(v - self.pg0.get(pid, 0) for pid, v in pg1.items()) / _TICK / elapsed
        return self

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            self.stop()


@dataclass
class Tenant:
    id: uuid.UUID
    slug: str
    timezone: str


def _label(sql: str) -> str:
    s = " ".join(sql.split()).lower()
    for prefix, label in (
        ("select c.id, c.employee_id", "batch rows (the join)"),
        ("select credential_id, expires_on, offset_days", "reminders already sent"),
        ("select e.id, e.name, e.email", "people (recipients, HR)"),
        ("select id, credential_type_id, steps", "policies"),
        ("insert into reminders", "insert reminders"),
        ("select name from tenants", "tenant name"),
        ("select kind, subject", "tenant templates"),
        ("insert into notifications", "insert notifications"),
        ("update reminders", "link reminders to notifications"),
        ("insert into deliveries", "insert deliveries"),
        ("insert into domain_events", "insert reminder.sent events"),
    ):
        if s.startswith(prefix):
            return label
    return s[:40]


async def profile_batch(tenant: Tenant, top: int) -> dict[str, Any]:
    """Plan tenant's first batch inline, twice, each in a transaction rolled back: once with
    every statement timed (wall time of the await, asyncpg encoding and decoding included),
    once under cProfile."""
    from sqlalchemy.ext.asyncio import AsyncSession

    import upward.reminders.outbox as ob
    import upward.reminders.policies as pol
    from upward.auth.principal import Principal
    from upward.db import app_engine, set_tenant

    principal = Principal.system(tenant.id, tenant.slug, tenant.timezone)
    real = ob.fetch
    out: dict[str, Any] = {}

    async def once(profile: cProfile.Profile | None) -> tuple[float, Any, Counter, Counter]:
        spent: Counter = Counter()
        calls: Counter = Counter()

        async def timed(session: Any, sql: str, *args: Any) -> list[Any]:
            t = time.perf_counter()
            try:
                rows = await real(session, sql, *args)
            finally:
                spent[_label(sql)] += time.perf_counter() - t
                calls[_label(sql)] += 1
            if _label(sql) == "batch rows (the join)":
                out["rows"] = len(rows)
            return rows

        session = AsyncSession(app_engine(), expire_on_commit=False)
        async with session:
            tr = await session.begin()
            try:
                await set_tenant(session, tenant.id)
                batch = None
                scan = ob.scan_batches(session, principal)
                async for b in scan:
                    batch = b
                    break
                await scan.aclose()
                if batch is None:
                    raise BenchError(f"{tenant.slug}: nothing to plan")
                ob.fetch = pol.fetch = timed  # type: ignore[assignment]
                try:
                    t0 = time.perf_counter()
                    if profile is not None:
                        profile.enable()
                    planned = await ob.plan_batch(session, principal, batch)
                    if profile is not None:
                        profile.disable()
                    total = time.perf_counter() - t0
                finally:
                    ob.fetch = pol.fetch = real  # type: ignore[assignment]
            finally:
                await tr.rollback()
        return total, planned, spent, calls

    await once(None)  # warm-up (statement caches, imports)
    total, planned, spent, calls = await once(None)
    out.update(total=total, planned=planned, spent=spent, calls=calls)
    prof = cProfile.Profile()
    out["profiled_total"] = (await once(prof))[0]
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    out["cprofile"] = buf.getvalue()
    out["groups"] = _profile_groups(stats)
    return out


async def profile_deliveries(tenant: Tenant, top: int, n: int = 25) -> dict[str, Any]:
    """2 x `n` of the tenant's pending in-app deliveries attempted as the deliver actor does
    (a tenant session each, committed; then the Redis push): `n` with every part timed, `n`
    under cProfile."""
    import upward.reminders.delivery as dl
    from upward.auth.principal import Principal
    from upward.db import tenant_session
    from workers.reminders import _push

    principal = Principal.system(tenant.id, tenant.slug, tenant.timezone)
    real = dl.fetch
    spent: Counter = Counter()
    calls: Counter = Counter()
    parts: Counter = Counter()

    async def timed(session: Any, sql: str, *args: Any) -> list[Any]:
        label = " ".join(sql.split())[:44].lower()
        t = time.perf_counter()
        try:
            return await real(session, sql, *args)
        finally:
            spent[label] += time.perf_counter() - t
            calls[label] += 1

    async with tenant_session(tenant.id) as s:
        rows = await real(
            s, "select id from deliveries where status = 'pending' order by id limit $1", 2 * n
        )
    ids = [row["id"] for row in rows]

    async def attempt(d: uuid.UUID, record: bool) -> None:
        t0 = time.perf_counter()
        async with tenant_session(tenant.id) as s:
            t1 = time.perf_counter()
            outcome = await dl.attempt(s, principal, d)
            t2 = time.perf_counter()
        t3 = time.perf_counter()
        if outcome.status != "sent":
            raise BenchError(f"delivery {d}: {outcome}")
        if outcome.notify is not None:
            _push(principal, *outcome.notify)
        t4 = time.perf_counter()
        if not record:
            return
        parts["session: open, BEGIN, set the tenant"] += t1 - t0
        parts["delivery.attempt (its statements below)"] += t2 - t1
        parts["COMMIT (WAL flush), close"] += t3 - t2
        parts["Redis push (in-app)"] += t4 - t3

    dl.fetch = timed  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        for d in ids[:n]:
            await attempt(d, True)
        total = time.perf_counter() - t0
    finally:
        dl.fetch = real  # type: ignore[assignment]
    prof = cProfile.Profile()
    t1 = time.perf_counter()
    prof.enable()
    for d in ids[n:]:
        await attempt(d, False)
    prof.disable()
    profiled = time.perf_counter() - t1
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return {
        "n": len(ids),
        "timed": len(ids[:n]),
        "total": total,
        "parts": {k: v for k, v in parts.items()},
        "spent": spent,
        "calls": calls,
        "profiled": profiled,
        "cprofile": buf.getvalue(),
    }


def _profile_groups(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Cumulative time of the planner's parts, from cProfile (under its overhead)."""
    wanted = {
        ("planner.py", "plan"): "planner.plan (pure, per credential)",
        ("outbox.py", "_recipients"): "outbox._recipients",
        ("policies.py", "load_policies"): "policies.load_policies",
        ("templates.py", "render"): "templates.render (subject/text/html)",
        ("outbox.py", "reminder_context"): "outbox.reminder_context",
        ("outbox.py", "create_notifications"): "outbox.create_notifications",
        ("outbox.py", "_write"): "outbox._write",
        ("__init__.py", "dumps"): "json.dumps",
    }
    got: dict[str, float] = {}
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (path, _, name), (_, _, _, cum, _) in raw.items():
        key = (os.path.basename(path), name)
        if key in wanted:
            got[wanted[key]] = got.get(wanted[key], 0.0) + cum
    total = max((v[3] for v in raw.values()), default=0.0)
    return [("(all, profiled)", total), *sorted(got.items(), key=lambda kv: -kv[1])]


async def floor(conn: Any, tenants: list[Tenant], anchor: date) -> tuple[int, dict]:
    """The batch join over each tenant's whole range, raw asyncpg as the owner (no RLS: the
    tenant is a condition), every row fetched. Returns (rows, rows per tenant)."""
    from upward.reminders.outbox import _BATCH_SQL

    lo, hi = scan_bounds(anchor)
    sql = _BATCH_SQL + " and c.tenant_id = $3"
    per: dict[uuid.UUID, int] = {}
    for t in tenants:
        per[t.id] = len(await conn.fetch(sql, lo, hi, t.id))
    return sum(per.values()), per


def scan_bounds(anchor: date) -> tuple[date, date]:
    """What outbox.scan_batches computes for the bench's policies (every tenant is on `anchor`
    at the frozen time)."""
    from upward.reminders.planner import Policy, scan_range
    from upward.reminders.policies import step_from_json
    from upward.settings import get_settings

    policies = [Policy(steps=tuple(step_from_json(s) for s in steps)) for steps in policy_steps()]
    return scan_range(policies, anchor, get_settings().reminder_catch_up_days)


async def scan_only(tenants: list[Tenant]) -> tuple[float, int, float, float, date, date]:
    """outbox.scan_batches for each tenant, nothing sent: (seconds, batches, RSS before, RSS
    after, lo, hi)."""
    from upward.auth.principal import Principal
    from upward.db import tenant_session
    from upward.reminders import outbox

    before = rss_mib()
    batches = 0
    lo = hi = date.min
    t0 = time.perf_counter()
    for t in tenants:
        p = Principal.system(t.id, t.slug, t.timezone)
        async with tenant_session(t.id) as s:
            async for b in outbox.scan_batches(s, p):
                batches += 1
                lo, hi = b.lo, b.hi
    return time.perf_counter() - t0, batches, before, rss_mib(), lo, hi


async def run_worker(broker: Any, queue: str, threads: int) -> Probe:
    """An in-process dramatiq Worker on `queue` until it is empty; measured up to then (the
    worker's shutdown, which closes its pool, is not)."""
    import dramatiq

    probe = Probe().start()
    worker = dramatiq.Worker(broker, queues={queue}, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        await asyncio.to_thread(broker.join, queue, interval=20, timeout=JOIN_TIMEOUT_MS)
        await asyncio.to_thread(worker.join)
        probe.stop()
    finally:
        await asyncio.to_thread(worker.stop)
        # a stopped worker leaves its middleware on the broker (it would start consumers for
        # queues declared later, and dramatiq warns when the next worker adds its own)
        broker.middleware[:] = [
            m
            for m in broker.middleware
            if not (type(m).__name__ == "_WorkerMiddleware" and m.worker is worker)
        ]
    return probe


async def output_counts(owner_url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(owner_url)
    try:
        row = await conn.fetchrow(
            """
            select (select count(*) from reminders) as reminders,
                   (select count(*) from reminders where digest) as digest,
                   (select count(*) from reminders where 'holder' = any(recipient_kinds))
                       as holder,
                   (select count(*) from reminders where 'manager' = any(recipient_kinds))
                       as manager,
                   (select count(*) from reminders where 'hr_admins' = any(recipient_kinds))
                       as hr,
                   (select count(*) from reminders where 'watchers' = any(recipient_kinds))
                       as watchers,
                   (select count(*) from reminders where not digest and notification_id is null)
                       as unlinked,
                   (select count(*) from notifications) as notifications,
                   (select count(*) from deliveries) as deliveries,
                   (select count(*) from deliveries where channel = 'in_app') as in_app,
                   (select count(*) from deliveries where status = 'sent') as sent,
                   (select count(*) from deliveries where status = 'pending') as pending,
                   (select count(*) from domain_events) as events
            """
        )
    finally:
        await conn.close()
    return dict(row)


async def _bench(args: argparse.Namespace, anchor: date) -> dict[str, Any]:
    import asyncpg

    from upward import clock
    from upward.db import dispose_engines
    from upward.settings import get_settings

    settings = get_settings()
    if settings.dramatiq_namespace != NAMESPACE:
        raise BenchError(f"the dramatiq namespace is {settings.dramatiq_namespace!r}, not ours")
    import workers  # noqa: F401  (every actor, on the broker of workers.broker)
    from workers.broker import broker, redis_client
    from workers.reminders import deliver, scan_tenant

    owner_url = args.database_url
    Probe.dbname = urlsplit(owner_url).path.lstrip("/")
    r: dict[str, Any] = {"anchor": anchor, "phases": [], "notes": [], "idle": []}
    r["rss_start"] = (rss_mib(), peak_mib())

    # a clean slate: our Redis namespace, the notification tables
    client = redis_client()
    keys = list(client.scan_iter(match=f"{NAMESPACE}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
    deliver_queue = deliver.queue_name
    deliver.queue_name = DELIVER_QUEUE  # deliveries wait in their own queue while planning
    broker.declare_queue(DELIVER_QUEUE)
    tracker = Tracker()
    broker.add_middleware(tracker)
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute(f"truncate {OUTPUT_TABLES}")
        await conn.execute(f"vacuum analyze {OUTPUT_TABLES}")
        tenants = [
            Tenant(row["id"], row["slug"], row["timezone"])
            for row in await conn.fetch("select id, slug, timezone from tenants order by slug")
        ]
        r["people"] = await conn.fetchrow(
            """
            select count(*) as employees,
                   count(*) filter (where status <> 'active') as offboarded,
                   count(*) filter (where 'hr_admin' = any(roles)) as hr,
                   count(*) filter (where exists (select 1 from employees x
                       where x.tenant_id = e.tenant_id and x.manager_id = e.id)) as managers,
                   (select count(*) from credential_reminder_states) as states
            from employees e
            """
        )
    finally:
        await conn.close()

    frozen = datetime.combine(anchor, FROZEN_UTC, tzinfo=UTC)
    clock.freeze(frozen)
    r["frozen"] = frozen
    _idle(r["idle"], "before measuring")
    try:
        # 1. the floor (twice: the first warms the caches, the second is shown)
        conn = await asyncpg.connect(owner_url)
        try:
            await floor(conn, tenants, anchor)
            with Probe() as pr:
                in_window, per_tenant_rows = await floor(conn, tenants, anchor)
        finally:
            await conn.close()
        r["in_window"] = in_window
        r["phases"].append(
            Phase(
                "floor: the batch join, asyncpg as owner",
                pr.seconds,
                in_window,
                "rows",
                pr.proc,
                pr.pg,
                note=f"one statement per tenant ({len(tenants)})",
            )
        )

        # 2. the scan alone: memory must not follow the number of credentials
        await scan_only(tenants[:1])  # warm-up: the app engine, its first connection
        one = await scan_only(tenants[:1])
        every = await scan_only(tenants)
        lo, hi = scan_bounds(anchor)
        if (every[4], every[5]) != (lo, hi):
            raise BenchError(f"the scan's range {every[4]}..{every[5]}, expected {lo}..{hi}")
        r["scan_only"] = (one, every)
        r["range"] = (lo, hi)
        r["tenant_credentials"] = per_tenant(args.credentials, args.tenants, 1)
        r["tenant_in_window"] = per_tenant_rows[tenants[0].id]

        # 3. one batch, inline, rolled back
        r["profile"] = await profile_batch(tenants[0], args.profile_top)

        # 4. the pass: scan + enqueue, then plan with the worker
        async def one_pass(label: str) -> dict[str, Any]:
            tracker.reset()
            out: dict[str, Any] = {"before": (rss_mib(), peak_mib())}
            scan = scan_tenant.fn.__wrapped__  # the actor's own coroutine: tenant check, scan, send
            with Probe() as pr:
                for t in tenants:
                    await scan(str(t.id))
            out["after_scan"] = (rss_mib(), peak_mib())
            batches = tracker.count("reminders.plan_batch")
            out["scan"] = Phase(
                f"{label}scan + enqueue ({len(tenants)} tenants)",
                pr.seconds,
                batches,
                "messages",
                pr.proc,
                pr.pg,
                out["after_scan"][1],
                note=f"RSS {out['before'][0]:.0f} -> {out['after_scan'][0]:.0f} MiB",
            )
            pr = await run_worker(broker, PLAN_QUEUE, args.threads)
            out["after_plan"] = (rss_mib(), peak_mib())
            if tracker.failed:
                raise BenchError(f"planning failed: {tracker.errors}")
            busy = tracker.busy["reminders.plan_batch"] / max(1, batches)
            out["plan"] = Phase(
                f"{label}plan (worker, {args.threads} threads)",
                pr.seconds,
                in_window,
                "credentials",
                pr.proc,
                pr.pg,
                out["after_plan"][1],
                note=f"{busy * 1000:.0f} ms per batch message in the worker",
            )
            out["total"] = Phase(
                f"{label}scan + plan",
                out["scan"].seconds + out["plan"].seconds,
                in_window,
                "credentials",
            )
            out["deliver_messages"] = tracker.count("notifications.deliver")
            return out

        first = await one_pass("")
        r["pass"] = first
        r["phases"] += [first["scan"], first["plan"], first["total"]]
        r["counts"] = await output_counts(owner_url)
        c = r["counts"]
        if c["unlinked"] or c["notifications"] != c["reminders"] - c["digest"]:
            raise BenchError(f"notifications do not match the reminders: {c}")
        if c["deliveries"] != c["in_app"] or c["pending"] != c["deliveries"]:
            raise BenchError(f"deliveries: expected only pending in-app ones: {c}")

        # 5. delivery: a few inline, timed (committed, as the actor does), then the worker
        r["deliver_profile"] = await profile_deliveries(tenants[-1], args.profile_top)
        pre_sent = r["deliver_profile"]["n"]
        tracker.reset()
        pr = await run_worker(broker, DELIVER_QUEUE, args.threads)
        if tracker.failed:
            raise BenchError(f"delivery failed: {tracker.errors}")
        after = await output_counts(owner_url)
        r["delivered"] = after
        r["rss_deliver"] = (rss_mib(), peak_mib())
        if after["sent"] != c["deliveries"]:
            raise BenchError(f"{after['sent']} deliveries sent of {c['deliveries']}: {after}")
        busy = tracker.busy["notifications.deliver"] / max(1, first["deliver_messages"])
        r["phases"].append(
            Phase(
                f"deliver in-app (worker, {args.threads} threads)",
                pr.seconds,
                after["sent"] - pre_sent,
                "deliveries",
                pr.proc,
                pr.pg,
                r["rss_deliver"][1],
                note=f"{first['deliver_messages']:,} messages of <=50, "
                f"{busy * 1000:.0f} ms each ({pre_sent} sent inline before)",
            )
        )

        # 6. the same pass a minute later: everything due was sent, nothing is written
        if not args.no_repeat:
            clock.freeze(frozen + timedelta(minutes=1))
            again = await one_pass("repeat: ")
            r["repeat"] = again
            r["phases"] += [again["scan"], again["plan"]]
            c2 = await output_counts(owner_url)
            if c2["reminders"] != c["reminders"] or c2["notifications"] != c["notifications"]:
                raise BenchError(f"the repeat pass wrote: {c} -> {c2}")
    finally:
        clock.freeze(None)
        deliver.queue_name = deliver_queue
        with contextlib.suppress(Exception):
            broker.middleware.remove(tracker)
        await dispose_engines()
    _idle(r["idle"], "after measuring")
    r["tenants"] = len(tenants)
    r["first_slug"] = tenants[0].slug
    r["last_slug"] = tenants[-1].slug
    return r


def _idle(seen: list[float], when: str) -> None:
    from bench.run import idle_check

    busy, _ = idle_check()
    seen.append(busy)
    if busy > 0.25:
        print(
            f"warning: {when}, {busy * 100:.0f}% of a core was used by other processes; "
            "the numbers will be noisy",
            file=sys.stderr,
        )


# --- the table -----------------------------------------------------------------------------------


def _cores(v: float | None, width: int = 6) -> str:
    return f"{v:{width}.2f}" if v is not None else " " * (width - 1) + "-"


def _print(args: argparse.Namespace, r: dict[str, Any]) -> None:
    from bench.credentials import _commit

    c, p, lo_hi = r["counts"], r["people"], r["range"]
    total = args.credentials
    print()
    print(
        f"reminders bench: {r['tenants']} tenants x {args.employees} employees, "
        f"{total:,} credentials; clock frozen at {r['frozen']:%Y-%m-%d %H:%M} UTC (anchor "
        f"{r['anchor']}, a {r['anchor']:%A})"
    )
    print(
        f"  people: {p['employees']:,} ({p['managers']:,} managers, {p['hr']} hr_admins, "
        f"{p['offboarded']} offboarded), 5 zones UTC-6..UTC+1; 3 types; reminder states "
        f"{p['states']:,}; policies: built-in ladder on in_app + one watched type"
    )
    print(
        f"  in the ladder window ({lo_hi[0]} .. {lo_hi[1]}, live): {r['in_window']:,} "
        f"credentials ({r['in_window'] / total * 100:.1f}%)"
    )
    print(
        f"  written: {c['reminders']:,} reminders (holder {c['holder']:,}, manager "
        f"{c['manager']:,}, hr {c['hr']:,}, watchers {c['watchers']:,}; {c['digest']:,} wait "
        f"for digests), {c['notifications']:,} notifications, {c['deliveries']:,} deliveries "
        f"(in_app), {c['events']} events"
    )
    print(
        f"  real Redis broker (namespace {NAMESPACE}), in-process dramatiq.Worker, "
        f"{args.threads} threads, batch size {_batch_size()}; {os.cpu_count()} CPUs; commit "
        f"{_commit()}"
    )
    print(
        "  other load (busy CPU while the bench paused, before / after): "
        + " / ".join(f"{b:.2f}" for b in r["idle"])
        + " cores"
        + (" -- NOISY, compare with care" if max(r["idle"]) > 0.25 else "")
    )
    print()
    print(
        f"{'phase':<44} {'seconds':>8} {'items':>10} {'':<12} {'per second':>11} "
        f"{'bench CPU':>9} {'pg CPU':>6} {'peak MiB':>8}   notes"
    )
    for ph in r["phases"]:
        peak = f"{ph.peak_after:8.0f}" if ph.peak_after is not None else "       -"
        print(
            f"{ph.label:<44} {ph.seconds:8.2f} {ph.items:>10,} {ph.unit:<12} {ph.rate:>11,.0f} "
            f"{_cores(ph.proc_cpu, 9)} {_cores(ph.pg_cpu)} {peak}   {ph.note}"
        )
    floor_s = r["phases"][0].seconds
    plan_s = r["pass"]["plan"].seconds
    print(
        f"plan / floor: {plan_s / floor_s:.0f}x the floor's time "
        f"({r['in_window'] / plan_s:,.0f} vs {r['in_window'] / floor_s:,.0f} rows/s)"
    )
    print()
    ps = r["pass"]
    one, every = r["scan_only"]
    print("memory (MiB)                                   RSS now   peak (ru_maxrss)")
    for label, (now, peak) in (
        ("start of the bench (imports, before any work)", r["rss_start"]),
        ("before the pass", ps["before"]),
        ("after scan + enqueue", ps["after_scan"]),
        ("after planning", ps["after_plan"]),
        ("after delivering", r["rss_deliver"]),
    ):
        print(f"  {label:<46} {now:7.0f}   {peak:7.0f}")
    print(
        f"  scan alone, 1 tenant ({r['tenant_credentials']:,} credentials, "
        f"{r['tenant_in_window']:,} in window, {one[1]} batches): RSS {one[2]:.1f} -> "
        f"{one[3]:.1f} ({one[3] - one[2]:+.1f}), {one[0] * 1000:.0f} ms"
    )
    print(
        f"  scan alone, {r['tenants']} tenants ({total:,} credentials, {r['in_window']:,} in "
        f"window, {every[1]} batches): RSS {every[2]:.1f} -> {every[3]:.1f} "
        f"({every[3] - every[2]:+.1f}), {every[0] * 1000:.0f} ms"
    )
    print()
    prof = r["profile"]
    planned = prof["planned"]
    sql = sum(prof["spent"].values())
    print(
        f"one batch inline, rolled back ({prof['rows']} credentials of {r['first_slug']}: "
        f"{planned.reminders} reminders, {planned.notifications} notifications, "
        f"{len(planned.deliveries or [])} deliveries): {prof['total'] * 1000:.0f} ms"
    )
    print(f"  {'SQL, awaited (asyncpg encode/decode included)':<48} {sql * 1000:7.1f} ms")
    for label, secs in prof["spent"].most_common():
        print(f"    {label:<46} {secs * 1000:7.1f} ms  x{prof['calls'][label]}")
    print(f"  {'Python (the rest)':<48} {(prof['total'] - sql) * 1000:7.1f} ms")
    print(f"  under cProfile ({prof['profiled_total'] * 1000:.0f} ms), cumulative:")
    for label, secs in prof["groups"]:
        print(f"    {label:<46} {secs * 1000:7.1f} ms")
    d = r["deliver_profile"]
    print()
    print(
        f"{d['timed']} in-app deliveries inline, one transaction each as the actor does "
        f"({r['last_slug']}): {d['total'] / max(1, d['timed']) * 1000:.2f} ms each"
    )
    for label, secs in d["parts"].items():
        print(f"  {label:<48} {secs / max(1, d['timed']) * 1000:7.2f} ms")
    for label, secs in d["spent"].most_common():
        per = secs / max(1, d["timed"]) * 1000
        print(f"    {label:<46} {per:7.2f} ms  x{d['calls'][label] / max(1, d['timed']):.0f}")
    if args.profile_top:
        print("cProfile, one planning batch:", file=sys.stderr)
        print(prof["cprofile"], file=sys.stderr)
        print(f"cProfile, {d['n'] - d['timed']} deliveries:", file=sys.stderr)
        print(d["cprofile"], file=sys.stderr)
    for n in r["notes"]:
        print(f"note: {n}")


def _batch_size() -> int:
    from upward.settings import get_settings

    return get_settings().reminder_batch_size


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.reminders",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tenants", type=int, default=100)
    p.add_argument("--credentials", type=int, default=1_000_000, help="in total")
    p.add_argument("--employees", type=int, default=300, help="per tenant")
    p.add_argument(
        "--threads", type=int, default=None, help="worker threads (UPWARD_WORKER_THREADS)"
    )
    p.add_argument("--seed-jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--reseed", action="store_true", help="regenerate even if the data matches")
    p.add_argument("--no-repeat", action="store_true", help="skip the repeat pass")
    p.add_argument(
        "--profile-top", type=int, default=0, help="print cProfile's top N of one batch (stderr)"
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_REMINDERS_DATABASE_URL", DEFAULT_URL),
        help="owner URL (default: $BENCH_REMINDERS_DATABASE_URL or %(default)s)",
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = p.parse_args(argv)
    if args.tenants < 1 or args.employees < 2 or args.credentials < args.tenants:
        p.error("--tenants >= 1, --employees >= 2 and --credentials >= --tenants")
    if "workers.broker" in sys.modules:
        raise SystemExit("workers.broker was imported before the namespace was set")
    os.chdir(ROOT)
    # before any upward import: settings are read once
    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "UPWARD_ENV": "dev",
            "UPWARD_LOG_LEVEL": "WARNING",
            "UPWARD_DRAMATIQ_NAMESPACE": NAMESPACE,
        }
    )
    try:
        t0 = time.perf_counter()
        asyncio.run(ensure_database(args.database_url))
        from upward.migrate import upgrade
        from upward.settings import get_settings, reset_settings

        reset_settings()
        upgrade()
        args.threads = args.threads or get_settings().worker_threads
        anchor = None
        if not args.reseed:
            anchor = asyncio.run(
                seeded_anchor(args.database_url, args.tenants, args.credentials, args.employees)
            )
        if anchor is None:
            anchor = seed(
                args.database_url, args.tenants, args.credentials, args.employees, args.seed_jobs
            )
        else:
            print(f"data already there (anchor {anchor})", file=sys.stderr)
        results = asyncio.run(_bench(args, anchor))
        _print(args, results)
        print(f"total bench time {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
