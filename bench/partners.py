"""Partner access overhead: API-key auth, rate limiting and persisted queries, per request.

    python -m bench.partners [--tenants 20] [--employees 5000] [--concurrency 16]
                             [--duration 8] [--warmup 2] [--rounds 3] [--queries small,page]

One command. It reuses bench/run.py's data (`upward_bench`, filled by bench/generate.py when
missing) and its keep-alive HTTP load generator, gives each bench tenant an API key with
`people:read`, and starts two Upward processes on the same database and Redis:

- `limits off`: UPWARD_RATE_LIMITS=false, no rate limiter on the request path;
- `limits on`: the production default, every request charged to its key (or user) and tenant
  buckets in Redis (budgets raised so that the bench is never refused).

Then it measures, one after another and interleaved over --rounds, the same queries sent as

  1. a signed-in user's JWT, limits off (the baseline),
  2. an API key, limits off (key auth: token parse, checksum, lookup, hash compare),
  3. a JWT, limits on (rate limiting: one Lua call to Redis per request),
  4. an API key, limits on (what a partner's request pays),
  5. an API key, limits on, as an Automatic Persisted Query (hash only: one more Redis read),

and prints req/s, p50, p99 and their ratio to the baseline. Cost analysis runs during validation
and is cached with it per document, so in the HTTP rows it costs a lookup; its price for a
document the process has not seen is measured in-process and printed below the table, next to
parsing and validating the same document. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/partners.py`
    sys.path.insert(0, str(ROOT))

from bench.generate import DEFAULT_URL, admin_email, ensure_database, generate, slug_of  # noqa: E402
from bench.run import (  # noqa: E402
    HOST,
    PYTHON,
    UPWARD_PAGE,
    BenchError,
    LoadSpec,
    Result,
    Server,
    free_port,
    http_request,
    idle_check,
    markdown_table,
    post_json,
    run_http_load,
    start_server,
    wait_ready,
)

KEY_NAME = "bench partners"
QUERIES = {
    "small": "query People { employees(first: 10) { edges { node { id name } } } }",
    "page": UPWARD_PAGE,
}
QUERY_LABELS = {"small": "employees(first: 10), 2 fields", "page": "employees page (100 rows)"}
VARIANTS = {
    "jwt": ("user JWT, limits off", "off", "jwt", False),
    "key": ("API key, limits off", "off", "key", False),
    "jwt+rl": ("user JWT, limits on", "on", "jwt", False),
    "key+rl": ("API key, limits on", "on", "key", False),
    "key+rl+apq": ("API key, limits on, APQ hash", "on", "key", True),
}
BASELINE = "jwt"
HUGE_BUDGET = str(10**9)  # per window: charged on every request, never refused here


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def body_of(query: str, apq: bool) -> dict[str, Any]:
    ext = {"persistedQuery": {"version": 1, "sha256Hash": _sha256(query)}}
    return {"extensions": ext} if apq else {"query": query}


async def make_keys(database_url: str, tenants: list[dict[str, Any]]) -> None:
    """One `people:read` key per bench tenant, written as the owner (replaces earlier runs')."""
    import asyncpg

    from upward.auth.keys import display_prefix, new_token

    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute("delete from api_keys where name = $1", KEY_NAME)
            for t in tenants:
                key_id = uuid.uuid4()
                token, digest = new_token(key_id, t["id"])
                await conn.execute(
                    "insert into api_keys (tenant_id, id, name, prefix, secret_hash, scopes, "
                    "allowed_cidrs) values ($1, $2, $3, $4, $5, $6, $7)",
                    t["id"],
                    key_id,
                    KEY_NAME,
                    display_prefix(token),
                    digest,
                    ["people:read"],
                    [],
                )
                t["key"] = token
    finally:
        await conn.close()


async def load_tenants(database_url: str, count: int) -> list[dict[str, Any]]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "select id, slug from tenants where slug = any($1::text[]) order by slug",
            [slug_of(i) for i in range(1, count + 1)],
        )
    finally:
        await conn.close()
    return [{"id": r["id"], "slug": r["slug"], "email": admin_email(r["slug"])} for r in rows]


def response(port: int, body: dict[str, Any], headers: dict[str, str]) -> tuple[Any, Any]:
    req = urllib.request.Request(
        f"http://{HOST}:{port}/graphql",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - our own server
        return json.loads(resp.read()), resp.headers


# --- cost analysis, in-process -------------------------------------------------------------------


def cost_micro(repeat: int = 2000) -> list[tuple[str, float]]:
    """Microseconds per call, for a document seen for the first time (nothing cached)."""
    from graphql import parse, specified_rules, validate

    from upward.graphql.cost import make_cost_rule, selection_cost
    from upward.graphql.schema import build_schema
    from upward.settings import get_settings

    schema = build_schema()._schema  # type: ignore[attr-defined]
    settings = get_settings()
    cost_rule = make_cost_rule(settings.max_query_cost)
    out: list[tuple[str, float]] = []
    for name, text in QUERIES.items():
        doc = parse(text)
        op = doc.definitions[0]

        def timed(fn: Any) -> float:
            fn()
            t0 = time.perf_counter()
            for _ in range(repeat):
                fn()
            return (time.perf_counter() - t0) / repeat * 1e6

        t_parse = timed(lambda text=text: parse(text))
        t_val = timed(lambda doc=doc: validate(schema, doc, specified_rules))
        t_val_cost = timed(lambda doc=doc: validate(schema, doc, [*specified_rules, cost_rule]))
        t_cost = timed(lambda op=op: selection_cost(op.selection_set, {}, frozenset()))  # type: ignore[attr-defined]
        out += [
            (f"{name}: parse", t_parse),
            (f"{name}: validate (graphql-core rules)", t_val),
            (f"{name}: validate + cost rule", t_val_cost),
            (f"{name}: cost estimate alone", t_cost),
        ]
    return out


async def _charge_micro(redis_url: str, repeat: int) -> tuple[float, float]:
    from upward.auth.principal import Principal
    from upward.graphql import limits
    from upward.settings import get_settings

    settings = get_settings().model_copy(
        update={"redis_url": redis_url, "rate_cost_per_key": 10**9, "rate_cost_per_tenant": 10**9}
    )
    principal = Principal.service(
        tenant_id=uuid.uuid4(),
        tenant_slug="bench-micro",
        api_key_id=uuid.uuid4(),
        scopes=frozenset(),
        timezone="UTC",
        document_collection=None,
    )
    for _ in range(200):
        await limits.charge(settings, principal, HOST, 12)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        await limits.charge(settings, principal, HOST, 12)
    return (time.perf_counter() - t0) / repeat * 1e6, (time.process_time() - c0) / repeat * 1e6


def charge_micro(redis_url: str, repeat: int = 5000) -> list[tuple[str, float]]:
    """One rate-limit charge (the Lua call to Redis), µs per call, one after another."""
    wall, cpu = asyncio.run(_charge_micro(redis_url, repeat))
    return [("rate-limit charge: wall", wall), ("rate-limit charge: CPU of this process", cpu)]


# --- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.partners",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tenants", type=int, default=int(os.environ.get("BENCH_TENANTS", 20)))
    p.add_argument("--employees", type=int, default=int(os.environ.get("BENCH_EMPLOYEES", 5000)))
    p.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", 16)))
    p.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 8)))
    p.add_argument("--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", 2)))
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    p.add_argument("--queries", default="small,page")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="owner URL of the bench database (default %(default)s)",
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    queries = [q for q in args.queries.split(",") if q]
    variants = [v for v in args.variants.split(",") if v]
    for q in queries:
        if q not in QUERIES:
            p.error(f"unknown query {q!r} (choose from {', '.join(QUERIES)})")
    for v in variants:
        if v not in VARIANTS:
            p.error(f"unknown variant {v!r} (choose from {', '.join(VARIANTS)})")
    if BASELINE not in variants:
        variants.insert(0, BASELINE)
    os.chdir(ROOT)
    servers: list[Server] = []
    children: list[Any] = []

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        return _run(args, queries, variants, servers, children)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for proc in children:
            if isinstance(proc, subprocess.Popen):
                if proc.poll() is None:
                    proc.kill()
            elif proc.is_alive():
                proc.terminate()
        for server in reversed(servers):
            server.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _run(
    args: argparse.Namespace,
    queries: list[str],
    variants: list[str],
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
    from upward.settings import reset_settings

    reset_settings()
    tenants = asyncio.run(load_tenants(args.database_url, args.tenants))
    if len(tenants) != args.tenants:
        raise BenchError(f"expected {args.tenants} bench tenants, found {len(tenants)}")
    asyncio.run(make_keys(args.database_url, tenants))
    for t in tenants:
        t["jwt"] = mint_token(tenant=t["slug"], subject=t["email"])

    # two servers: the same code, rate limits off and on
    ports: dict[str, int] = {}
    for mode, extra in (
        ("off", {"UPWARD_RATE_LIMITS": "false"}),
        (
            "on",
            {
                "UPWARD_RATE_LIMITS": "true",
                "UPWARD_RATE_COST_PER_KEY": HUGE_BUDGET,
                "UPWARD_RATE_COST_PER_USER": HUGE_BUDGET,
                "UPWARD_RATE_COST_PER_TENANT": HUGE_BUDGET,
            },
        ),
    ):
        port = free_port()
        cmd = [PYTHON, "-m", "upward", "serve", "--host", HOST, "--port", str(port)]
        server = start_server(f"upward-limits-{mode}", cmd, {**env, **extra}, port, servers)

        def ready(port: int = port) -> bool:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as resp:
                return resp.status == 200

        wait_ready(server, ready)
        ports[mode] = port

    def auth(t: dict[str, Any], kind: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {t[kind]}"}

    # correctness: every variant returns the baseline's data; the limited server sends the
    # RateLimit headers (the other does not); the APQ hashes are registered on the way
    problems: list[str] = []
    for q in queries:
        for t in tenants:
            for mode in ("off", "on"):  # APQ: register the hash (per tenant) with the query
                body = {**body_of(QUERIES[q], True), "query": QUERIES[q]}
                if post_json(ports[mode], body, auth(t, "key")).get("errors"):
                    problems.append(f"{q}: registering the APQ hash failed for {t['slug']}")
        t = tenants[len(tenants) // 2]
        expected, _ = response(ports["off"], body_of(QUERIES[q], False), auth(t, "jwt"))
        if expected.get("errors"):
            problems.append(f"{q}: baseline failed: {expected['errors']}")
        for v in variants:
            _, mode, kind, apq = VARIANTS[v]
            got, headers = response(ports[mode], body_of(QUERIES[q], apq), auth(t, kind))
            if got.get("data") != expected.get("data"):
                problems.append(f"{q} / {v}: {str(got)[:300]}")
            limited = headers.get("RateLimit-Limit") is not None
            if limited != (mode == "on"):
                problems.append(f"{q} / {v}: RateLimit headers {'sent' if limited else 'missing'}")
    if problems:
        raise BenchError("correctness check failed:\n  " + "\n  ".join(problems))
    print(
        f"correctness: {len(variants)} variants return the same data; the limited server "
        "answers with RateLimit-* headers",
        file=sys.stderr,
    )

    busy, _ = idle_check()
    notes: list[str] = []
    if busy > 0.25:
        notes.append(f"the machine was busy before measuring ({busy * 100:.0f}% of a core)")
        print(f"warning: {notes[-1]}", file=sys.stderr)

    runs: dict[tuple[str, str], list[Result]] = {}
    for rnd in range(1, args.rounds + 1):
        for q in queries:
            for v in variants:
                label, mode, kind, apq = VARIANTS[v]
                print(f"round {rnd}/{args.rounds}: {QUERY_LABELS[q]} / {label}", file=sys.stderr)
                reqs = [
                    http_request(ports[mode], body_of(QUERIES[q], apq), auth(t, kind))
                    for t in tenants
                ]
                spec = LoadSpec(
                    port=ports[mode],
                    requests=reqs,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    duration=args.duration,
                )
                server = next(s for s in servers if s.port == ports[mode])
                res = run_http_load(Result(v, q), spec, server.proc.pid, children)
                if server.proc.poll() is not None:
                    raise BenchError(f"{server.name} died:\n{server.log_tail()}")
                runs.setdefault((v, q), []).append(res)
                print(
                    f"  {res.rps:.0f} req/s, p50 {res.p50_ms:.2f} ms, p99 {res.p99_ms:.2f} ms"
                    + (f", {res.errors} errors: {res.error_sample}" if res.errors else ""),
                    file=sys.stderr,
                )
    results: dict[tuple[str, str], Result] = {}
    for cell, rs in runs.items():
        ranked = sorted(rs, key=lambda r: r.rps)
        best = ranked[(len(ranked) - 1) // 2]
        best.errors = sum(r.errors for r in rs)
        best.spread = (ranked[0].rps, ranked[-1].rps) if len(rs) > 1 else None
        results[cell] = best
    for s in list(servers):
        s.stop()

    micro = cost_micro()
    charge = charge_micro(args.redis_url)

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print()
    print(
        f"Partner access overhead: {stamp}, {os.cpu_count()} CPUs, {args.tenants} tenants x "
        f"{args.employees} employees, concurrency {args.concurrency}, {args.duration:g}s per cell "
        f"after {args.warmup:g}s warm-up, median of {args.rounds} rounds (by req/s)"
    )
    print(f"command: python -m bench.partners {' '.join(args.argv)}".strip())
    print()
    head = [
        "query",
        "request",
        "req/s",
        "req/s range",
        "p50 ms",
        "p99 ms",
        "errors",
        "req/s vs baseline",
        "p50 vs baseline",
        "server CPU",
    ]
    rows: list[list[str]] = []
    for q in queries:
        base = results[(BASELINE, q)]
        for v in variants:
            r = results[(v, q)]
            rows.append(
                [
                    QUERY_LABELS[q],
                    VARIANTS[v][0],
                    f"{r.rps:.0f}",
                    f"{r.spread[0]:.0f}-{r.spread[1]:.0f}" if r.spread else "-",
                    f"{r.p50_ms:.2f}",
                    f"{r.p99_ms:.2f}",
                    str(r.errors),
                    f"{r.rps / base.rps:.3f}" if base.rps else "-",
                    f"{r.p50_ms - base.p50_ms:+.2f} ms",
                    "-" if r.server_cpu is None else f"{r.server_cpu * 100:.0f}%",
                ]
            )
    print(markdown_table(head, rows, left={0, 1}))
    print()
    print("Cost analysis, in-process, for a document not seen before (µs per call):")
    print()
    print(markdown_table(["step", "µs"], [[n, f"{us:.1f}"] for n, us in micro], left={0}))
    print()
    print(
        "Validation (the cost rule with it) runs once per distinct document and process, then "
        "comes from a cache; the rate limiter's charge reuses the cached estimate."
    )
    print()
    print("Rate limiting, in-process: 5,000 charges one after another (µs per call):")
    print()
    print(markdown_table(["step", "µs"], [[n, f"{us:.1f}"] for n, us in charge], left={0}))
    for n in notes:
        print(f"note: {n}")
    print(f"total bench time {time.perf_counter() - t_start:.0f}s")
    failed = [r for r in results.values() if r.errors]
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
