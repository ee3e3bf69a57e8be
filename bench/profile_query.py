"""Profile one Upward query in-process (no HTTP, no concurrency): where does a request's CPU go?

    python -m bench.profile_query [--query page|me] [--requests 300] [--tenant bench-001]
                            [--sort tottime|cumulative] [--top 40] [--no-cprofile]

Runs the query through the real schema and request context (authentication, one transaction,
commit) like UpwardGraphQL.run does, sequentially, against the bench database (run
`python -m bench.run` or `python -m bench.generate` first). Prints the mean time per request
without the profiler, then a cProfile of the same loop, and a split of the time: SQL round trips
(asyncpg), building result objects, GraphQL execution.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.generate import DEFAULT_URL, admin_email  # noqa: E402
from bench.run import UPWARD_ME, UPWARD_PAGE  # noqa: E402


async def _loop(schema: object, query: str, token: str, n: int) -> float:
    from upward.graphql.context import RequestContext

    t0 = time.perf_counter()
    for i in range(n):
        ctx = RequestContext(None, f"bench-{i}")
        await ctx.authenticate(f"Bearer {token}")
        result = await schema.execute(query, context_value=ctx)  # type: ignore[attr-defined]
        await ctx.finish(commit=True)
        if result.errors:
            raise SystemExit(f"query failed: {result.errors}")
    return (time.perf_counter() - t0) / n


async def main_async(args: argparse.Namespace) -> None:
    from upward.auth.tokens import mint_token
    from upward.db import dispose_engines
    from upward.graphql.schema import build_schema

    schema = build_schema()
    token = mint_token(tenant=args.tenant, subject=admin_email(args.tenant))
    query = UPWARD_PAGE if args.query == "page" else UPWARD_ME
    try:
        await _loop(schema, query, token, 30)  # warm-up: pools, caches, prepared statements
        mean = await _loop(schema, query, token, args.requests)
        print(
            f"{args.query}: {mean * 1000:.2f} ms per request sequentially, in-process "
            f"(= {1 / mean:.0f} req/s on one core without HTTP)"
        )
        if args.no_cprofile:
            return
        prof = cProfile.Profile()
        prof.enable()
        await _loop(schema, query, token, args.requests)
        prof.disable()
    finally:
        await dispose_engines()
    out = ROOT / "bench" / "results" / f"inprocess-{args.query}.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(str(out))
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]

    def share(pred: object) -> float:
        return sum(v[2] for k, v in stats.stats.items() if pred(k)) / total  # type: ignore[attr-defined,operator]

    print(f"\ncProfile ({out.relative_to(ROOT)}), {args.requests} requests; own time by area:")
    areas = {
        "asyncpg (protocol, decoding)": lambda k: "asyncpg" in k[0],
        "sqlalchemy (compile, result rows)": lambda k: "sqlalchemy" in k[0],
        "graphql-core (validate, execute)": lambda k: "graphql/" in k[0],
        "strawberry": lambda k: "strawberry" in k[0],
        "upward": lambda k: "upward" in k[0],
    }
    for name, pred in areas.items():
        print(f"  {share(pred) * 100:5.1f}%  {name}")
    stats.sort_stats(args.sort).print_stats(args.top)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.profile_query",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--query", choices=("page", "me"), default="page")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--tenant", default="bench-001")
    p.add_argument("--sort", default="tottime")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--no-cprofile", action="store_true")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = p.parse_args(argv)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("UPWARD_LOG_LEVEL", "WARNING")
    os.chdir(ROOT)
    try:
        import uvloop

        uvloop.run(main_async(args))
    except ImportError:
        asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
