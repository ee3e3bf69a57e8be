"""Recognition benchmark: the feed, leaderboards and a profile of a tenant with 10,000 people and
1,000,000 kudos, through the real app, next to floors; and the ledger under concurrent gives.

    python -m bench.recognition [--employees 10000] [--kudos 1000000] [--days 730]
                                [--repeat 30] [--clients 8] [--gives 200] [--regenerate]

One command, one table. On its own database (`upward_bench_recognition`, created and migrated
when missing; --database-url / BENCH_RECOGNITION_DATABASE_URL) it makes `bench-001` with an org
chart of --employees people (bench/generate.py: ~20 departments, managers with 5-10 reports),
then, as the owner in one transaction of set-based SQL (generate_series and random() after
setseed, no row through Python): six company values, --kudos kudos over the last --days days
(1% milestones from the company, 4% manager awards, the rest peer kudos; 10% private; 0.2%
hidden by HR; 45% with points), 1-5 receivers each (75% one; half of them from the giver's
department), 1-2 values each (skewed), about 1.2 reactions and 0.08 comments per kudos, and the
points ledger: one balanced transaction per kudos with points (the giver's allowance or award
leg, or the company's for a milestone, and one `received` leg per receiver). The load runs with
`session_replication_role = replica`, which skips the foreign keys' triggers and the ledger's
deferred balance trigger (the rows are consistent by construction; the bench checks afterwards
that every transaction sums to zero and every kudos has a receiver). Skipped when the data is
there for today (the history is relative to the day it was made), regenerated otherwise or with
--regenerate.

Then, through the real HTTP path (`create_app()` with its lifespan, httpx's ASGI transport, real
bearer tokens), round robin --repeat rounds after a warm-up, p50 / p99 and statements of: the
feed's first page (first: 20) for an employee and for HR, a page a year deep (a cursor), the feed
filtered by a value and by a department, the leaderboard (THIS_MONTH, LAST_30_DAYS, ALL_TIME),
a recognition profile, HR's participation, top values and unrecognized people; each next to its
floor: the same SQL (the service's own text and parameters) on raw asyncpg as upward_app with
the tenant set, in one transaction. And the ledger: --clients concurrent clients giving --gives
kudos with points each (giveKudos over HTTP), with distinct givers, then all with one giver (the
giver's advisory lock serializes them), gives/s. The kudos given are deleted at the next run.
See docs/performance.md ("Recognition").
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/recognition.py`
    sys.path.insert(0, str(ROOT))

from bench.credentials import (  # noqa: E402
    WARMUP,
    Api,
    BenchError,
    Org,
    StatementCounter,
    _commit,
    _idle,
    _percentile,
    load_org,
)
from bench.generate import ensure_database, generate  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/upward_bench_recognition"
GEN_VERSION = 1  # bump when the shape of the data changes, to regenerate
BIG = 1
GIVE_MESSAGE = "bench.recognition: ledger throughput"
VALUES = [  # name, emoji, weight
    ("Own it", "🛠️", 30),
    ("Better together", "🤝", 25),
    ("Customer obsessed", "💙", 17),
    ("Raise the bar", "📈", 13),
    ("Keep it simple", "✨", 10),
    ("Safety first", "🦺", 5),
]
MESSAGES = [
    "Thanks for jumping on the incident at 2am and writing the timeline before breakfast.",
    "Your onboarding doc saved the new hires a week. Thank you!",
    "The quarterly review deck was crisp, honest and on time.",
    "You took the customer call nobody wanted and turned it around.",
    "Great pairing session: I finally understand the billing pipeline.",
    "Thank you for covering my shifts while I was out.",
    "The migration went out without a single page. Impressive planning.",
    "You made the offsite happen with two weeks' notice.",
    "Thanks for reviewing forty pull requests during the release crunch.",
    "Your patience with the vendor got us the contract terms we needed.",
    "The dashboard you built is now the first thing leadership opens.",
    "Thanks for mentoring the interns all summer.",
    "You spotted the data bug before it reached a single customer.",
    "The training you ran for support cut our ticket times in half.",
    "Thank you for the calm in the room during the reorg.",
    "You rewrote the runbook and the on-call rotation thanks you.",
    "Thanks for taking the hard feedback and shipping the better version.",
    "Your demo won the deal. The customer quoted you in their email.",
    "Thank you for the careful audit prep; the auditors noticed.",
    "You unblocked three teams in one afternoon. Thank you.",
]
REACTIONS = ("like", "celebrate", "love", "insightful", "laugh")
# children before parents: what the generator owns (truncated on regeneration)
OWNED = (
    "recognition_monthly",
    "kudos_comments",
    "kudos_reactions",
    "kudos_values",
    "kudos_receivers",
    "points_entries",
    "points_transactions",
    "milestones",
    "kudos",
    "company_values",
    "recognition_settings",
)


def _marker(args: argparse.Namespace, today: date) -> str:
    return (
        f"bench.recognition v{GEN_VERSION} on {today.isoformat()} kudos={args.kudos} "
        f"days={args.days} employees={args.employees}"
    )


# --- data ----------------------------------------------------------------------------------------

_PEOPLE = """
create temp table bp on commit drop as
select (row_number() over (order by e.id) - 1)::int as n, e.id, e.department_id,
       (row_number() over (partition by e.department_id order by e.id) - 1)::int as dn,
       exists (select 1 from employees r where r.tenant_id = e.tenant_id and r.manager_id = e.id
               and r.status = 'active') as manager
from employees e where e.tenant_id = $1 and e.status = 'active'
"""
_KUDOS = """
create temp table bk on commit drop as
with g as (
  select i, random() as r_giver, random() as r_kind, random() as r_vis, random() as r_pts,
         random() as r_hide, random() as r_recv, random() as r_val, random() as r_at
  from generate_series(1, $2::int) i
)
select g.i, md5($1::text || ':kudos:' || g.i)::uuid as id,
       $3::timestamptz - make_interval(secs => floor(g.r_at * $4::int * 86400)::int) as created_at,
       p.n as gn, p.department_id as gdep, p.dn as gdn,
       case when g.r_kind < 0.01 then 'milestone'
            when g.r_kind < 0.05 and p.manager then 'award' else 'peer' end as kind,
       case when g.r_kind < 0.01 then null else p.id end as giver_id,
       case when g.r_kind >= 0.01 and g.r_vis < 0.10 then 'private' else 'public' end as visibility,
       case when g.r_kind < 0.01 then 25
            when g.r_kind < 0.05 and p.manager then (array[20, 30, 50])[1 + floor(g.r_pts * 3)::int]
            when g.r_pts < 0.55 then 0 when g.r_pts < 0.80 then 5 when g.r_pts < 0.93 then 10
            else 20 end as points,
       g.r_hide < 0.002 as hidden,
       case when g.r_recv < 0.75 then 1 when g.r_recv < 0.90 then 2 when g.r_recv < 0.96 then 3
            when g.r_recv < 0.985 then 4 else 5 end as nrecv,
       case when g.r_kind < 0.01 then 0 when g.r_val < 0.7 then 1 else 2 end as nval
from g join bp p on p.n = floor(power(g.r_giver, 1.7) * $5::int)::int
"""
_INSERT_KUDOS = """
insert into kudos (tenant_id, id, kind, giver_id, message, visibility, points, milestone_kind,
                   hidden_at, hidden_by, hidden_reason, created_at)
select $1, k.id, k.kind, k.giver_id,
       case when k.kind = 'milestone' then 'Happy work anniversary!'
            else ($2::text[])[1 + k.i % array_length($2::text[], 1)] end,
       k.visibility, k.points, case when k.kind = 'milestone' then 'work_anniversary' end,
       case when k.hidden then k.created_at + interval '2 hours' end,
       case when k.hidden then $3::uuid end,
       case when k.hidden then 'bench: off-topic' end,
       k.created_at
from bk k
order by k.created_at
"""
_RECEIVERS = """
insert into kudos_receivers (tenant_id, kudos_id, employee_id, created_at)
select $1, y.kudos_id, y.emp, y.created_at from (
select distinct on (x.kudos_id, x.emp) x.kudos_id, x.emp, x.created_at
from (
  select c.kudos_id, c.created_at,
         case when c.same and d.size > 1 then pd.id else pa.id end as emp
  from (
    select k.id as kudos_id, k.created_at, k.gn, k.gdep, k.gdn,
           random() < 0.5 as same, random() as x
    from bk k cross join lateral generate_series(1, k.nrecv) j
  ) c
  join bd d on d.department_id is not distinct from c.gdep
  left join bp pd on c.same and d.size > 1 and pd.department_id = c.gdep
    and pd.dn = (c.gdn + 1 + floor(c.x * (d.size - 1))::int) % d.size
  join bp pa on pa.n = (c.gn + 1 + floor(c.x * ($2::int - 1))::int) % $2::int
) x
) y order by y.created_at
"""
_VALUES = """
insert into kudos_values (tenant_id, kudos_id, value_id, created_at)
select $1, y.kudos_id, y.value_id, y.created_at from (
  select distinct on (c.kudos_id, v.id) c.kudos_id, v.id as value_id, c.created_at
  from (
    select k.id as kudos_id, k.created_at, random() as u
    from bk k cross join lateral generate_series(1, k.nval) j
  ) c
  join bv v on c.u >= v.lo and c.u < v.hi
) y order by y.created_at
"""
_REACTIONS = """
insert into kudos_reactions (tenant_id, kudos_id, employee_id, reaction, created_at)
select $1, y.kudos_id, y.employee_id, y.reaction, y.created_at from (
  select distinct on (c.kudos_id, p.id, c.reaction) c.kudos_id, p.id as employee_id,
         c.reaction, c.created_at + make_interval(mins => c.after) as created_at
  from (
    select k.id as kudos_id, k.created_at, floor(random() * $2::int)::int as rn,
           ($3::text[])[1 + floor(power(random(), 1.5) * 5)::int] as reaction,
           floor(random() * 2880)::int as after
    from bk k cross join lateral generate_series(1, floor(power(random(), 1.4) * 5)::int) j
    where not k.hidden
  ) c
  join bp p on p.n = c.rn
) y order by y.created_at
"""
_COMMENTS = """
insert into kudos_comments (tenant_id, id, kudos_id, author_id, body, created_at)
select $1, md5($4::text || ':comment:' || c.i)::uuid, c.kudos_id, p.id, $3,
       c.created_at + interval '3 hours'
from (
  select k.i, k.id as kudos_id, k.created_at, floor(random() * $2::int)::int as rn
  from bk k where random() < 0.08 and not k.hidden
) c
join bp p on p.n = c.rn
order by c.created_at
"""
_TRANSACTIONS = """
insert into points_transactions (tenant_id, id, kind, kudos_id, created_at)
select $1, md5($2::text || ':tx:' || k.i)::uuid,
       case when k.kind = 'milestone' then 'milestone' else 'kudos' end, k.id, k.created_at
from bk k where k.points > 0
order by k.created_at
"""
_ENTRIES = """
insert into points_entries (tenant_id, transaction_id, account, employee_id, amount, period,
                            created_at)
select $1, md5($2::text || ':tx:' || k.i)::uuid,
       case k.kind when 'milestone' then 'company' when 'award' then 'award'
            else 'allowance' end,
       k.giver_id, -k.points * n.receivers,
       date_trunc('month', k.created_at at time zone $3)::date, k.created_at
from bk k
join (select kudos_id, count(*)::int as receivers from kudos_receivers where tenant_id = $1
      group by kudos_id) n on n.kudos_id = k.id
where k.points > 0
union all
select $1, md5($2::text || ':tx:' || k.i)::uuid, 'received', r.employee_id, k.points,
       date_trunc('month', k.created_at at time zone $3)::date, k.created_at
from bk k join kudos_receivers r on r.tenant_id = $1 and r.kudos_id = k.id
where k.points > 0
order by 7
"""


async def _counts(conn: Any, tid: uuid.UUID) -> dict[str, int]:
    return {
        t: await conn.fetchval(f"select count(*) from {t} where tenant_id = $1", tid)
        for t in (
            "kudos",
            "kudos_receivers",
            "kudos_values",
            "kudos_reactions",
            "kudos_comments",
            "points_transactions",
            "points_entries",
        )
    }


async def _clean_gives(conn: Any, tid: uuid.UUID) -> int:
    """Take out what the previous run's throughput gives wrote (as the owner: the ledger is
    append-only for the app only)."""
    ids = [
        r["id"]
        for r in await conn.fetch(
            "select id from kudos where tenant_id = $1 and message = $2", tid, GIVE_MESSAGE
        )
    ]
    if not ids:
        return 0
    async with conn.transaction():
        await conn.execute(
            "delete from notifications where tenant_id = $1 and data->>'kudos_id' = "
            "any($2::text[])",
            tid,
            [str(i) for i in ids],
        )
        await conn.execute(
            "delete from domain_events where tenant_id = $1 and subject_id = any($2::uuid[])",
            tid,
            ids,
        )
        await conn.execute(
            "delete from audit_events where tenant_id = $1 and target_id = any($2::uuid[])",
            tid,
            ids,
        )
        # the ledger points at kudos without a cascade: its rows go first
        await conn.execute(
            "delete from points_entries e using points_transactions t where e.tenant_id = $1 "
            "and t.tenant_id = e.tenant_id and t.id = e.transaction_id "
            "and t.kudos_id = any($2::uuid[])",
            tid,
            ids,
        )
        await conn.execute(
            "delete from points_transactions where tenant_id = $1 and kudos_id = any($2::uuid[])",
            tid,
            ids,
        )
        await conn.execute(
            "delete from kudos where tenant_id = $1 and id = any($2::uuid[])", tid, ids
        )
        await _rebuild_monthly(conn, tid, None, [])
    return len(ids)


async def _rebuild_monthly(
    conn: Any, tid: uuid.UUID, timezone: str | None, steps: list[tuple[str, float]]
) -> None:
    """The leaderboards' monthly counts, recounted from the kudos as the service would
    (`insights.rebuild_monthly`'s statement, in this transaction, the tenant set)."""
    from upward.recognition.insights import REBUILD_MONTHLY_SQL

    s0 = time.perf_counter()
    if timezone is None:
        timezone = await conn.fetchval("select timezone from tenants where id = $1", tid)
    await conn.execute("select set_config('app.tenant_id', $1, true)", str(tid))
    await conn.execute("delete from recognition_monthly where tenant_id = $1", tid)
    await conn.execute(REBUILD_MONTHLY_SQL, timezone)
    steps.append(("monthly counts", time.perf_counter() - s0))


async def ensure_recognition(
    conn: Any, org: Org, args: argparse.Namespace, today: date
) -> tuple[dict[str, int], bool]:
    """The tenant's recognition data; written when missing, stale or asked for. (counts,
    written)"""
    marker = _marker(args, today)
    cleaned = await _clean_gives(conn, org.id)
    if cleaned:
        print(f"  removed {cleaned:,} kudos of the last throughput run", file=sys.stderr)
    have = await conn.fetchval(
        "select count(*) from company_values where tenant_id = $1 and description = $2",
        org.id,
        marker,
    )
    counts = await _counts(conn, org.id)
    if have == 1 and counts["kudos"] == args.kudos and not args.regenerate:
        return counts, False
    t0 = time.perf_counter()
    tid = org.id
    seed = f"{GEN_VERSION}-{today.isoformat()}-{args.kudos}-{args.days}"
    rng = random.Random(f"upward-bench-recognition-{seed}")
    now = datetime.now(UTC)
    steps: list[tuple[str, float]] = []

    async def step(name: str, sql: str, *params: Any) -> None:
        s0 = time.perf_counter()
        await conn.execute(sql, *params)
        steps.append((name, time.perf_counter() - s0))

    async with conn.transaction():
        await conn.execute("truncate " + ", ".join(OWNED))
        # the rows are consistent by construction: skip the FK triggers and the deferred
        # balance trigger for the load (checked below instead)
        await conn.execute("set local session_replication_role = replica")
        await conn.execute("set local work_mem = '256MB'")
        await conn.execute(f"select setseed({rng.random() * 2 - 1})")
        await conn.execute(
            "insert into recognition_settings (tenant_id, monthly_allowance, "
            "manager_award_budget, max_points_per_kudos, nudge_after_days) "
            "values ($1, 100000, 1000, 50, 30)",
            tid,
        )
        total = sum(w for *_, w in VALUES)
        acc = 0.0
        bounds = []
        for pos, (name, emoji, w) in enumerate(VALUES, start=1):
            vid = uuid.UUID(int=rng.getrandbits(128), version=4)
            lo, acc = acc, acc + w / total
            bounds.append((vid, lo, 1.0 if pos == len(VALUES) else acc))
            await conn.execute(
                "insert into company_values (tenant_id, id, name, description, emoji, position, "
                "created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $7)",
                tid,
                vid,
                name,
                marker if pos == 1 else f"{name}: what we value",
                emoji,
                pos,
                now,
            )
        await step("people", _PEOPLE, tid)
        await conn.execute("create index on bp (n)")
        await conn.execute("create index on bp (department_id, dn)")
        await conn.execute(
            "create temp table bd on commit drop as "
            "select department_id, count(*)::int as size from bp group by 1"
        )
        await conn.execute("create temp table bv (id uuid, lo float8, hi float8) on commit drop")
        await conn.executemany("insert into bv values ($1, $2, $3)", bounds)
        await conn.execute("analyze bp; analyze bd; analyze bv")
        n_people = await conn.fetchval("select count(*) from bp")
        await step("kudos (skeleton)", _KUDOS, seed, args.kudos, now, args.days, n_people)
        await conn.execute("analyze bk")
        await step("kudos", _INSERT_KUDOS, tid, MESSAGES, org.admin_id)
        await step("receivers", _RECEIVERS, tid, n_people)
        await step("values", _VALUES, tid)
        await step("reactions", _REACTIONS, tid, n_people, list(REACTIONS))
        await step("comments", _COMMENTS, tid, n_people, "Well deserved!", seed)
        await step("transactions", _TRANSACTIONS, tid, seed)
        await step("entries", _ENTRIES, tid, seed, org.timezone)
        await _rebuild_monthly(conn, tid, org.timezone, steps)
        unbalanced = await conn.fetchval(
            "select count(*) from (select transaction_id from points_entries where tenant_id = $1 "
            "group by transaction_id having sum(amount) <> 0) x",
            tid,
        )
        lonely = await conn.fetchval(
            "select count(*) from kudos k where k.tenant_id = $1 and not exists (select 1 from "
            "kudos_receivers r where r.tenant_id = k.tenant_id and r.kudos_id = k.id)",
            tid,
        )
        if unbalanced or lonely:
            raise BenchError(
                f"generated data is inconsistent: {unbalanced} unbalanced transactions, "
                f"{lonely} kudos without receivers"
            )
    s0 = time.perf_counter()
    await conn.execute("vacuum analyze " + ", ".join(OWNED))
    steps.append(("vacuum analyze", time.perf_counter() - s0))
    counts = await _counts(conn, tid)
    print(
        f"  {org.slug}: "
        + ", ".join(f"{n:,} {t}" for t, n in counts.items())
        + f" in {time.perf_counter() - t0:.0f}s ("
        + ", ".join(f"{name} {s:.1f}s" for name, s in steps)
        + ")",
        file=sys.stderr,
    )
    return counts, True


# --- measuring -----------------------------------------------------------------------------------

# indexes this bench proposed (docs/performance.md, "Recognition"), now in 0014_recognition.py;
# created if missing, dropped with --without-proposed-indexes to measure without them
PROPOSED_INDEXES = {
    "kudos_receivers_created_idx": "create index if not exists kudos_receivers_created_idx on "
    "kudos_receivers (tenant_id, created_at) include (employee_id, kudos_id)",
    "kudos_hidden_idx": "create index if not exists kudos_hidden_idx on kudos (tenant_id, id) "
    "where hidden_at is not null",
}
FEED_QUERY = (
    "query Feed($f: RecognitionFeedFilter, $n: Int, $a: String) { "
    "recognitionFeed(filter: $f, first: $n, after: $a) { pageInfo { hasNextPage endCursor } "
    "edges { node { id kind message visibility points createdAt giver { id name } "
    "receivers { id name } values { name emoji } reactions { reaction count reactedByMe } "
    "commentCount } } } }"
)
BOARD_QUERY = (
    "query Board($p: RecognitionPeriodInput, $by: RecognitionLeaderboardBy, $n: Int) { "
    "recognitionLeaderboard(period: $p, by: $by, first: $n) { rank kudosCount points "
    "employee { id name title department { name } } } }"
)
PROFILE_QUERY = (
    "query Profile($e: ID, $p: RecognitionPeriodInput) { recognitionProfile(employeeId: $e, "
    "period: $p) { employee { id name } receivedCount givenCount pointsReceived "
    "firstRecognizedAt lastRecognizedAt receivedByValue { value { name } count } "
    "topGivers { employee { id name } count } } }"
)
PARTICIPATION_QUERY = (
    "query Participation($p: RecognitionPeriodInput) { recognitionParticipation(period: $p) { "
    "departments { department { name } headcount givers receivers giverRate receiverRate } "
    "total { headcount givers receivers giverRate receiverRate } } }"
)
TOP_VALUES_QUERY = (
    "query TopValues($p: RecognitionPeriodInput) { recognitionTopValues(period: $p) { "
    "value { name } count } }"
)
UNRECOGNIZED_QUERY = (
    "query Unrecognized($d: Int!) { unrecognizedPeople(days: $d, first: 20) { totalCount "
    "edges { node { lastRecognizedAt employee { id name department { name } } } } } }"
)
GIVE_QUERY = (
    "mutation Give($i: GiveKudosInput!) { giveKudos(input: $i) { id points receivers { id } } }"
)


@dataclass
class Row:
    label: str
    ms: list[float] = field(default_factory=list)
    statements: set[int] = field(default_factory=set)
    rows: int | None = None
    note: str = ""

    @property
    def p50(self) -> float:
        return _percentile(sorted(self.ms), 0.50)

    @property
    def p99(self) -> float:
        return _percentile(sorted(self.ms), 0.99)


class Capture:
    """The statements one request sends, with their parameters, to replay them raw: SQLAlchemy's
    (before_cursor_execute, numeric $n parameters on asyncpg) and `upward.db.fetch`'s (asyncpg's
    Connection.fetch, wrapped while the bench runs)."""

    def __init__(self) -> None:
        self.on = False
        self.items: list[tuple[str, tuple[Any, ...]]] = []

    def sa_hook(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.items.append((statement, tuple(parameters or ())))

    def attach(self) -> None:
        import asyncpg
        import sqlalchemy as sa

        from upward.db import app_engine

        self.engine = app_engine().sync_engine
        sa.event.listen(self.engine, "before_cursor_execute", self.sa_hook)
        original = self.original = asyncpg.connection.Connection.fetch
        capture = self

        async def fetch(conn: Any, query: str, *args: Any, **kw: Any) -> Any:
            if capture.on:
                capture.items.append((query, args))
            return await original(conn, query, *args, **kw)

        asyncpg.connection.Connection.fetch = fetch  # type: ignore[method-assign]

    def detach(self) -> None:
        import asyncpg
        import sqlalchemy as sa

        asyncpg.connection.Connection.fetch = self.original  # type: ignore[method-assign]
        sa.event.remove(self.engine, "before_cursor_execute", self.sa_hook)

    async def take(self, call: Any) -> list[tuple[str, tuple[Any, ...]]]:
        self.items, self.on = [], True
        try:
            await call()
        finally:
            self.on = False
        return self.items


async def replay(conn: Any, statements: list[tuple[str, tuple[Any, ...]]]) -> tuple[float, int]:
    """The captured statements of one request on one raw asyncpg connection (upward_app), in one
    transaction, as they came (the tenant is set by the first of them): (ms, rows)."""
    t0 = time.perf_counter()
    n = 0
    async with conn.transaction():
        for sql, args in statements:
            n += len(await conn.fetch(sql, *args))
    return (time.perf_counter() - t0) * 1000, n


@dataclass
class Case:
    label: str
    query: str
    variables: dict[str, Any]
    token: str
    row: Row
    floor: Row
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    answer: Any = None


async def _pick(conn: Any, org: Org, today: date) -> dict[str, Any]:
    """Who and what the bench asks about: an employee (no reports, no HR role), the person most
    recognized, a department, a value, a cursor's kudos a year back, givers for the ledger."""
    emp = await conn.fetchrow(
        "select e.id, e.email from employees e where e.tenant_id = $1 and e.status = 'active' "
        "and roles = '{}' and not exists (select 1 from employees r where r.tenant_id = "
        "e.tenant_id and r.manager_id = e.id) order by e.email offset 137 limit 1",
        org.id,
    )
    star = await conn.fetchrow(
        "select r.employee_id as id, count(*) n from kudos_receivers r where r.tenant_id = $1 "
        "group by 1 order by 2 desc limit 1",
        org.id,
    )
    typical = await conn.fetchrow(
        "select employee_id as id from (select r.employee_id, count(*) n from kudos_receivers r "
        "where r.tenant_id = $1 group by 1) x order by n, employee_id offset 5000 limit 1",
        org.id,
    )
    dep = await conn.fetchrow(
        "select d.id, d.name, count(*) n from departments d join employees e on e.tenant_id = "
        "d.tenant_id and e.department_id = d.id where d.tenant_id = $1 group by 1, 2 "
        "order by 3 desc offset 3 limit 1",
        org.id,
    )
    values = await conn.fetch(
        "select id, name from company_values where tenant_id = $1 order by position", org.id
    )
    deep = await conn.fetchrow(
        "select created_at, id from kudos where tenant_id = $1 and created_at < $2 "
        "order by created_at desc, id desc limit 1",
        org.id,
        datetime.combine(today - timedelta(days=365), datetime.min.time(), tzinfo=UTC),
    )
    givers = await conn.fetch(
        "select e.id, e.email from employees e where e.tenant_id = $1 and e.status = 'active' "
        "and roles = '{}' order by e.email offset 500 limit $2",
        org.id,
        64,
    )
    return {
        "employee": emp,
        "star": star,
        "typical": typical,
        "department": dep,
        "values": values,
        "deep": deep,
        "givers": givers,
    }


async def _indexes(url: str, want: bool) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for name, ddl in PROPOSED_INDEXES.items():
            if want:
                await conn.execute(ddl)
            else:
                await conn.execute(f"drop index if exists {name}")
        if want:
            await conn.execute("vacuum analyze kudos_receivers, kudos")
        return [
            r["indexname"]
            for r in await conn.fetch(
                "select indexname from pg_indexes where indexname = any($1::text[])",
                list(PROPOSED_INDEXES),
            )
        ]
    finally:
        await conn.close()


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    import httpx

    from upward.app import create_app
    from upward.auth.tokens import mint_token
    from upward.db import dispose_engines
    from upward.graphql.relay import encode_cursor, to_global_id
    from upward.recognition.kudos import FEED_ORDER
    from upward.settings import asyncpg_url, get_settings

    settings = get_settings()
    org, counts, today = await _prepare(args)
    indexes = await _indexes(args.database_url, not args.without_proposed_indexes)
    conn = await asyncpg.connect(args.database_url)
    try:
        picked = await _pick(conn, org, today)
        await conn.execute("vacuum analyze")
    finally:
        await conn.close()
    out: dict[str, Any] = {"org": org, "counts": counts, "today": today, "indexes": indexes}
    idle: list[float] = []
    out["idle"] = idle
    hr = mint_token(tenant=org.slug, subject=f"admin@{org.slug}.example")
    emp = mint_token(tenant=org.slug, subject=picked["employee"]["email"])
    gid = to_global_id
    deep = picked["deep"]
    cursor = encode_cursor(
        settings.effective_cursor_secret,
        org.id,
        FEED_ORDER.key,
        (deep["created_at"], deep["id"]),
    )
    value = picked["values"][3]
    dep = picked["department"]

    def case(label: str, query: str, variables: dict[str, Any], token: str) -> Case:
        return Case(label, query, variables, token, Row(label), Row(f"  floor: {label}"))

    cases = [
        case("feed first: 20, employee", FEED_QUERY, {"n": 20}, emp),
        case("feed first: 20, HR", FEED_QUERY, {"n": 20}, hr),
        case("feed first: 20 after a cursor 1 year deep", FEED_QUERY, {"n": 20, "a": cursor}, emp),
        case(
            f"feed by value ({value['name']})",
            FEED_QUERY,
            {"n": 20, "f": {"valueId": gid("CompanyValue", value["id"])}},
            emp,
        ),
        case(
            f"feed by department ({dep['name']})",
            FEED_QUERY,
            {"n": 20, "f": {"departmentId": gid("Department", dep["id"])}},
            emp,
        ),
        case("leaderboard THIS_MONTH", BOARD_QUERY, {"p": {"preset": "THIS_MONTH"}}, emp),
        case("leaderboard LAST_30_DAYS", BOARD_QUERY, {"p": {"preset": "LAST_30_DAYS"}}, emp),
        case("leaderboard ALL_TIME", BOARD_QUERY, {"p": {"preset": "ALL_TIME"}}, emp),
        case(
            "leaderboard ALL_TIME by POINTS",
            BOARD_QUERY,
            {"p": {"preset": "ALL_TIME"}, "by": "POINTS"},
            emp,
        ),
        case(
            "leaderboard LAST_30_DAYS by GIVEN",
            BOARD_QUERY,
            {"p": {"preset": "LAST_30_DAYS"}, "by": "GIVEN"},
            emp,
        ),
        case(
            "profile ALL_TIME (a typical person)",
            PROFILE_QUERY,
            {"e": gid("Employee", picked["typical"]["id"])},
            emp,
        ),
        case(
            f"profile ALL_TIME (the most recognized: {picked['star']['n']:,})",
            PROFILE_QUERY,
            {"e": gid("Employee", picked["star"]["id"])},
            emp,
        ),
        case(
            "HR: participation LAST_30_DAYS",
            PARTICIPATION_QUERY,
            {"p": {"preset": "LAST_30_DAYS"}},
            hr,
        ),
        case(
            "HR: top values LAST_30_DAYS", TOP_VALUES_QUERY, {"p": {"preset": "LAST_30_DAYS"}}, hr
        ),
        case("HR: unrecognized people (30 days), first: 20", UNRECOGNIZED_QUERY, {"d": 30}, hr),
    ]
    if args.only:
        cases = [c for c in cases if any(w in c.label for w in args.only.split(","))]
    app = create_app()
    counter = StatementCounter()
    capture = Capture()
    api = Api(None, counter, settings.max_body_bytes)
    app_url = asyncpg_url(settings.app_url())
    counter.attach()
    capture.attach()
    raw = await asyncpg.connect(app_url)
    try:
        lifespan = app.router.lifespan_context(app)
        async with (
            lifespan,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://upward.test", timeout=600
            ) as client,
        ):
            api.client = client
            _idle(idle, "before measuring")
            for c in cases:  # warm up, and take each request's statements for its floor
                for _ in range(WARMUP):
                    c.answer = (await api.call(c.label, c.query, c.variables, c.token))[2]
                c.statements = await capture.take(
                    lambda c=c: api.call(c.label, c.query, c.variables, c.token)
                )
                for _ in range(WARMUP):
                    await replay(raw, c.statements)
            _check(cases, picked)
            for _ in range(args.repeat):  # round robin: drifts of a shared machine hit all alike
                for c in cases:
                    ms, n, _ = await api.call(c.label, c.query, c.variables, c.token)
                    c.row.ms.append(ms)
                    c.row.statements.add(n)
                    ms, rows = await replay(raw, c.statements)
                    c.floor.ms.append(ms)
                    c.floor.statements.add(len(c.statements))
                    c.floor.rows = rows
            out["cases"] = cases
            out["slow"] = api.slow
            if not args.only:
                _idle(idle, "before the ledger runs")
                out["ledger"] = await _ledger(api, args, org, picked, mint_token)
    finally:
        await raw.close()
        capture.detach()
        counter.detach()
        await dispose_engines()
    _idle(idle, "after measuring")
    if not args.only:
        out["ledger_check"] = await _ledger_check(args.database_url, org)
    return out


def _check(cases: list[Case], picked: dict[str, Any]) -> None:
    """The answers look like the data: full pages, boards ranked, counts that add up."""
    for c in cases:
        data = c.answer
        if "recognitionFeed" in data:
            edges = data["recognitionFeed"]["edges"]
            if len(edges) != 20:
                raise BenchError(f"{c.label}: {len(edges)} kudos, expected 20")
        elif "recognitionLeaderboard" in data:
            entries = data["recognitionLeaderboard"]
            ranks = [e["rank"] for e in entries]
            if len(entries) != 10 or ranks != sorted(ranks) or ranks[0] != 1:
                raise BenchError(f"{c.label}: {len(entries)} entries, ranks {ranks}")
        elif "recognitionProfile" in data:
            p = data["recognitionProfile"]
            if (
                p["receivedCount"] <= 0
                or sum(v["count"] for v in p["receivedByValue"]) < p["receivedCount"]
            ):
                raise BenchError(f"{c.label}: {p}")
        elif "recognitionParticipation" in data:
            total = data["recognitionParticipation"]["total"]
            if not 0 < total["givers"] <= total["headcount"]:
                raise BenchError(f"{c.label}: {total}")


async def _ledger(
    api: Api, args: argparse.Namespace, org: Org, picked: dict[str, Any], mint_token: Any
) -> list[Row]:
    """--clients concurrent clients giving --gives kudos each (5 points to one colleague), with
    distinct givers, then all with one giver: gives/s over the wall time, per-give p50/p99."""
    from upward.graphql.relay import to_global_id

    givers = picked["givers"]
    if len(givers) < args.clients + 1:
        raise BenchError("not enough people to give")
    receivers = [g["id"] for g in givers[args.clients :]]
    values = [to_global_id("CompanyValue", v["id"]) for v in picked["values"]]
    rows = []
    rng = random.Random("upward-bench-recognition-gives")
    for label, shared in (
        (f"{args.clients} clients x {args.gives} gives, distinct givers", False),
        (f"{args.clients} clients x {args.gives} gives, one giver (its lock)", True),
    ):
        row = Row(label)

        async def client(k: int, row: Row = row, shared: bool = shared) -> None:
            giver = givers[0 if shared else k]
            tok = mint_token(tenant=org.slug, subject=giver["email"])
            for _ in range(args.gives):
                v = {
                    "i": {
                        "receiverIds": [to_global_id("Employee", rng.choice(receivers))],
                        "message": GIVE_MESSAGE,
                        "valueIds": [rng.choice(values)],
                        "points": 5,
                    }
                }
                ms, _, _ = await api.call("giveKudos", GIVE_QUERY, v, tok)
                row.ms.append(ms)

        for k in range(args.clients):  # warm-up: one give each, alone (its statements)
            tok = mint_token(tenant=org.slug, subject=givers[k]["email"])
            _, n, _ = await api.call(
                "giveKudos",
                GIVE_QUERY,
                {
                    "i": {
                        "receiverIds": [to_global_id("Employee", receivers[k])],
                        "message": GIVE_MESSAGE,
                        "valueIds": [values[0]],
                        "points": 5,
                    }
                },
                tok,
            )
            row.statements.add(n)
        t0 = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(args.clients)))
        wall = time.perf_counter() - t0
        row.rows = len(row.ms)
        row.note = f"{len(row.ms) / wall:,.0f} gives/s ({wall:.1f} s)"
        rows.append(row)
    return rows


async def _ledger_check(url: str, org: Org) -> str:
    """Every transaction the gives wrote balances, and each give moved its 5 points."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "select count(distinct t.id) as tx, count(*) filter (where e.account = 'received') "
            "as legs, coalesce(sum(e.amount), 0) as net, "
            "-coalesce(sum(e.amount) filter (where e.account = 'allowance'), 0) as spent "
            "from kudos k join points_transactions t on t.tenant_id = k.tenant_id "
            "and t.kudos_id = k.id join points_entries e on e.tenant_id = t.tenant_id "
            "and e.transaction_id = t.id where k.tenant_id = $1 and k.message = $2",
            org.id,
            GIVE_MESSAGE,
        )
        gives = await conn.fetchval(
            "select count(*) from kudos where tenant_id = $1 and message = $2", org.id, GIVE_MESSAGE
        )
    finally:
        await conn.close()
    if row["net"] != 0 or row["tx"] != gives or row["spent"] != 5 * gives:
        raise BenchError(f"the ledger after the gives is off: {dict(row)} for {gives} gives")
    return f"{gives:,} gives, {row['tx']:,} balanced transactions, {row['spent']:,} points moved"


# --- the table -----------------------------------------------------------------------------------


def _ms(v: float) -> str:
    if math.isnan(v):
        return "       -"
    return f"{v:8.2f}" if v < 10 else f"{v:8.1f}"


def _line(row: Row) -> str:
    stm = "/".join(str(n) for n in sorted(row.statements)) or "-"
    return f"{row.label:<58} {_ms(row.p50)} {_ms(row.p99)} {len(row.ms):>5} {stm:>6}  {row.note}"


def _print(args: argparse.Namespace, r: dict[str, Any]) -> None:
    org, counts = r["org"], r["counts"]
    print()
    print(
        f"recognition bench: 1 tenant x {len(org.people):,} employees ({r['today'].isoformat()}, "
        f"{org.timezone}), {counts['kudos']:,} kudos over {args.days} days"
    )
    print(
        f"  {counts['kudos_receivers']:,} receivers, {counts['kudos_values']:,} values, "
        f"{counts['kudos_reactions']:,} reactions, {counts['kudos_comments']:,} comments, "
        f"{counts['points_transactions']:,} ledger transactions ({counts['points_entries']:,} "
        "entries)"
    )
    print(
        "  proposed indexes present: " + (", ".join(r["indexes"]) or "none (the migration's only)")
    )
    print(
        f"  in-process ASGI (httpx.ASGITransport) with the app's lifespan, real tokens; "
        f"{args.repeat} rounds after {WARMUP} warm-up rounds, one request at a time; floors: the "
        f"request's own statements replayed on raw asyncpg (upward_app, one transaction); "
        f"{os.cpu_count()} CPUs; commit {_commit()}"
    )
    busy = max(r["idle"])
    print(
        "  other load (busy CPU while the bench paused): "
        + " / ".join(f"{b:.2f}" for b in r["idle"])
        + f" cores{' -- NOISY, compare with care' if busy > 0.25 else ''}"
    )
    print()
    print(f"{'request':<58} {'p50 ms':>8} {'p99 ms':>8} {'n':>5} {'stmts':>6}")
    for c in r["cases"]:
        print(_line(c.row))
        print(_line(c.floor))
    if "ledger" in r:
        print()
        print(f"{'ledger: giveKudos with 5 points, concurrent':<58} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'gives':>5} {'stmts':>6}")  # fmt: skip
        for row in r["ledger"]:
            print(_line(row))
        print(f"  check: {r['ledger_check']}")
    for s in r["slow"]:
        print(f"SLOW (above 1000 ms): {s}")


async def _prepare(args: argparse.Namespace) -> tuple[Org, dict[str, int], date]:
    import asyncpg

    from upward import clock

    conn = await asyncpg.connect(args.database_url)
    try:
        org = await load_org(conn, BIG)
        today = clock.today(org.timezone)
        t0 = time.perf_counter()
        counts, written = await ensure_recognition(conn, org, args, today)
        print(
            f"generate: recognition data {'written' if written else 'already there'} "
            f"({time.perf_counter() - t0:.0f}s)",
            file=sys.stderr,
        )
    finally:
        await conn.close()
    return org, counts, today


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.recognition",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--employees", type=int, default=10_000)
    p.add_argument("--kudos", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=730, help="the history's span, up to today")
    p.add_argument("--repeat", type=int, default=30, help="measured rounds of every query")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients giving kudos")
    p.add_argument("--gives", type=int, default=200, help="kudos each client gives")
    p.add_argument("--regenerate", action="store_true", help="rewrite the data even if there")
    p.add_argument("--generate-only", action="store_true", help="make the data, measure nothing")
    p.add_argument(
        "--without-proposed-indexes",
        action="store_true",
        help="drop the indexes this bench proposes (PROPOSED_INDEXES) and measure without them",
    )
    p.add_argument("--only", help="measure only the requests whose label has one of these words")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_RECOGNITION_DATABASE_URL", DEFAULT_URL),
        help="owner URL (default: $BENCH_RECOGNITION_DATABASE_URL or %(default)s)",
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = p.parse_args(argv)
    if min(args.employees, args.kudos, args.days, args.repeat, args.clients, args.gives) < 1:
        p.error("--employees, --kudos, --days, --repeat, --clients and --gives must be >= 1")
    if args.employees < 50:
        p.error("--employees must be at least 50")
    os.chdir(ROOT)
    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "UPWARD_ENV": "dev",
            "UPWARD_LOG_LEVEL": "WARNING",
        }
    )
    try:
        t0 = time.perf_counter()
        asyncio.run(ensure_database(args.database_url))
        from upward.migrate import upgrade
        from upward.settings import reset_settings

        reset_settings()
        upgrade()
        asyncio.run(_drop_if_reshaped(args.database_url, args.employees))
        asyncio.run(generate(args.database_url, 1, args.employees))
        if args.generate_only:
            asyncio.run(_prepare(args))
            return 0
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:
            runner = asyncio.run
        results = runner(_bench(args))
        _print(args, results)
        print(f"total bench time {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0


async def _drop_if_reshaped(url: str, employees: int) -> None:
    """Before `generate` replaces a tenant of another size: the recognition data goes first
    (it points at employees)."""
    import contextlib

    import asyncpg

    from bench.generate import DEPARTMENTS, LOCATIONS, _shape, slug_of

    with contextlib.suppress(asyncpg.InvalidCatalogNameError):
        conn = await asyncpg.connect(url)
        try:
            if await conn.fetchval("select to_regclass('public.kudos')") is None:
                return
            shape = await _shape(conn, slug_of(BIG))
            if shape is not None and shape != (len(DEPARTMENTS), len(LOCATIONS), employees, 1):
                await conn.execute("truncate " + ", ".join(OWNED))
                for t in ("notifications", "domain_events", "audit_events"):
                    await conn.execute(f"truncate {t} cascade")
        finally:
            await conn.close()


if __name__ == "__main__":
    raise SystemExit(main())
