"""Mobility benchmark: matching people to open postings through the production code paths
(`upward.mobility.matching`), against floors without the service around them.

    python -m bench.mobility [--employees 100000] [--skills 200] [--postings 1000]
                             [--sample 5] [--people 20] [--incremental 10] [--tracemalloc]

One command, one table. On its own database (`upward_bench_mobility`, created and migrated when
missing; --database-url / BENCH_MOBILITY_DATABASE_URL) it makes `bench-001` with an org chart of
--employees people (bench/generate.py) and the development data of bench/development.py (skills,
ladders, placements, ratings, credentials: its generator, reused), then its mobility data:
career preferences for about 80% of people (open to moves openly or confidentially, some with
preferred tracks, levels, locations or work modes, some open to gigs with a number of hours,
a few open to a step down) plus 5% who said no, and --postings open postings (85% roles
targeting a random level with the level's expected skills as required skills at its minimums,
1-2 preferred skills of the family, often the level's credential types; 15% gigs with 2-4
required skills and hours a week), some with visibility limits or a minimum time in role.
Written as the owner with COPY; deterministic (seeded) for a given date, and skipped when
already there (regenerated when the shape or the development data changed).

Then, in this process, as upward_app in tenant sessions (as the matching workers open them),
with the tenant admin as principal:
(a) one posting against everyone open to moves, for --sample postings: `recompute_posting`
    (total, statements, rows written, RSS and its peak); then the same posting split into its
    steps, timed around the service's own pieces: `rank_posting` (the fast path: facts
    projected in Postgres, each component's distinct values scored once by `scorer.Ranker`,
    points added and sorted in Postgres: everyone ranked, the best EXPLAINED returned), their
    explanations by the full scorer (`_candidates` of those people, `_score_all`), the delete,
    `_store_changes` (everyone else: only new or changed rows) and `_insert` of the explained;
    then the reference: the full path over everyone (`_candidates` of all, the pure
    `scorer.score` of each), whose scores the stored rows must equal; floors: the full path's
    inputs read raw with asyncpg, and the same rows inserted raw (narrow, rolled back); with
    --tracemalloc one more run under tracemalloc for the Python allocation peak;
(b) one employee against every open posting: `recompute_people([one])` for --people people;
(c) incremental: `ratings.set_rating` on one person's rated skill (as HR, in its own
    transaction), then `recompute_people([that person])`, for --incremental people, versus a
    full recompute of one posting (a). The ratings are set back afterwards.
Answers are checked: stored rows equal the pure scorer's (same count, same scores).
See docs/performance.md ("Mobility: matching").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import random
import resource
import sys
import time
import tracemalloc
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/mobility.py`
    sys.path.insert(0, str(ROOT))

from bench import development as dv  # noqa: E402
from bench.credentials import (  # noqa: E402
    BenchError,
    Org,
    StatementCounter,
    _commit,
    _idle,
    _percentile,
    load_org,
)
from bench.generate import ensure_database, generate  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/upward_bench_mobility"
GEN_VERSION = 1  # bump when the shape of the mobility data changes, to regenerate
BIG = dv.BIG
MANAGER_LEVELS = {"E9", "E8", "E7", "M6", "M5", "M4"}
WORK_MODES = ("on_site", "hybrid", "remote")

COLUMNS: dict[str, tuple[str, ...]] = {
    "career_preferences": (
        "tenant_id", "employee_id", "open_to_moves", "track_ids", "level_ids", "location_ids",
        "work_modes", "willing_to_relocate", "open_to_gigs", "gig_hours_per_week",
        "open_to_downward", "updated_at",
    ),
    "job_postings": (
        "tenant_id", "id", "kind", "title", "description", "department_id", "work_mode",
        "level_id", "hiring_manager_id", "openings", "filled", "status", "opens_on", "closes_on",
        "start_on", "hours_per_week", "duration_weeks", "min_months_in_role",
        "visible_department_ids", "visible_location_ids", "visible_level_ids", "created_by",
        "opened_at", "created_at", "updated_at",
    ),
    "job_posting_locations": ("tenant_id", "posting_id", "location_id"),
    "job_posting_skills": ("tenant_id", "posting_id", "skill_id", "required", "min_proficiency"),
    "job_posting_credentials": ("tenant_id", "posting_id", "credential_type_id"),
}  # fmt: skip
# children before parents, for the delete
DELETE_ORDER = (
    "match_alerts",
    "posting_matches",
    "application_events",
    "applications",
    "employee_moves",
    "job_posting_locations",
    "job_posting_skills",
    "job_posting_credentials",
    "job_postings",
    "career_preferences",
)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _dev_marker(args: argparse.Namespace, today: date) -> str:
    """bench.development's marker for this shape and date (its data is regenerated when the
    marker differs, and ours must go first: postings point at its levels and skills)."""
    shape = f"{args.skills}-{args.tracks}-{args.levels}"
    return f"bench.development v{dv.GEN_VERSION} on {today.isoformat()} shape={shape}"


# --- data ----------------------------------------------------------------------------------------


def mobility_data(org: Org, dev: dv.Dev, args: argparse.Namespace, today: date) -> dict[str, Any]:
    """Career preferences and open postings of one tenant, deterministic in (tenant, the
    development data, --postings)."""
    rng = random.Random(f"upward-bench-mobility-{GEN_VERSION}-{dev.marker}-{args.postings}")
    now = datetime.now(UTC)
    marker = f"bench.mobility v{GEN_VERSION} on {today.isoformat()} postings={args.postings}"
    tid = org.id
    rows = dev.rows
    by_family: dict[str, list[uuid.UUID]] = {}
    for s in rows["skills"]:
        by_family.setdefault(s[3], []).append(s[1])
    level_skills: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {}
    for _, level_id, sid, minimum in rows["level_skills"]:
        level_skills.setdefault(level_id, []).append((sid, minimum))
    level_creds: dict[uuid.UUID, list[uuid.UUID]] = {}
    for _, level_id, type_id in rows["level_credentials"]:
        level_creds.setdefault(level_id, []).append(type_id)
    titles = {r[1]: r[4] for r in rows["track_levels"]}
    type_ids = [t[1] for t in rows["credential_types"]]
    all_levels = [lv for t in dev.tracks for lv in t["levels"]]
    track_ids = [t["id"] for t in dev.tracks]
    locations = sorted(org.locations.values())
    departments = org.departments
    managers = [p["id"] for p in org.people if p["job_level"] in MANAGER_LEVELS]
    if not managers:
        raise BenchError("the org has no managers to hire")

    prefs: list[tuple] = []
    for p in org.people:
        r = rng.random()
        if r >= 0.85:
            continue
        openness = "no" if r >= 0.80 else ("yes" if rng.random() < 0.8 else "confidential")
        gigs = rng.random() < 0.35
        prefs.append(
            (
                tid,
                p["id"],
                openness,
                rng.sample(track_ids, rng.randint(1, 2)) if rng.random() < 0.3 else [],
                [rng.choice(all_levels)] if rng.random() < 0.1 else [],
                rng.sample(locations, rng.randint(1, 2)) if rng.random() < 0.2 else [],
                rng.sample(WORK_MODES, rng.randint(1, 2)) if rng.random() < 0.25 else [],
                rng.random() < 0.2,
                gigs,
                rng.choice((None, 4, 8, 10, 20)) if gigs else None,
                rng.random() < 0.08,
                now,
            )
        )

    postings: list[tuple] = []
    locs: list[tuple] = []
    skills: list[tuple] = []
    creds: list[tuple] = []
    for i in range(args.postings):
        pid = _uuid(rng)
        gig = rng.random() < 0.15
        families = sorted(by_family)
        if gig:
            level_id = None
            family = rng.choice([f for f in families if f != "leadership"])
            required = [(s, rng.randint(2, 3)) for s in rng.sample(by_family[family], 3)]
            mode = rng.choices(WORK_MODES, weights=(1, 4, 5))[0]
            title = f"{family.title()} gig {i + 1}"
            dept = None
            hours = rng.choice((4, 8, 10, 16, 20))
            weeks = rng.randint(4, 26)
            types = [rng.choice(type_ids)] if rng.random() < 0.1 else []
        else:
            n = rng.randrange(len(dev.tracks))
            track = dev.tracks[n]
            family = dv.TRACK_FAMILIES[(n // 2) % len(dv.TRACK_FAMILIES)][1]
            level_id = rng.choice(track["levels"])
            required = list(level_skills.get(level_id, []))
            mode = rng.choices(WORK_MODES, weights=(8, 7, 5))[0]
            title = f"{titles[level_id]} ({i + 1})"
            dept = departments.get(track["name"].split()[0])
            hours = weeks = None
            types = []
            if level_creds.get(level_id) and rng.random() < 0.7:
                types = list(level_creds[level_id])
            elif rng.random() < 0.15:
                types = [rng.choice(type_ids)]
        taken = {s for s, _ in required}
        pool = [s for s in by_family[family] if s not in taken]
        preferred = [(s, rng.randint(2, 4)) for s in rng.sample(pool, min(len(pool), 2 if rng.random() < 0.5 else 1))]  # fmt: skip
        for sid, minimum in required:
            skills.append((tid, pid, sid, True, minimum))
        for sid, minimum in preferred:
            skills.append((tid, pid, sid, False, minimum))
        for type_id in dict.fromkeys(types):
            creds.append((tid, pid, type_id))
        if mode != "remote":
            for loc in rng.sample(locations, 1 if rng.random() < 0.7 else 2):
                locs.append((tid, pid, loc))
        opens = today - timedelta(days=rng.randint(0, 30))
        closes = today + timedelta(days=rng.randint(14, 90))
        r = rng.random()
        postings.append(
            (tid, pid, "gig" if gig else "role", title, marker, dept, mode, level_id,
             rng.choice(managers), rng.randint(1, 3), 0, "open", opens, closes,
             closes + timedelta(days=rng.randint(14, 60)), hours, weeks,
             12 if rng.random() < 0.3 else None,
             [rng.choice(list(departments.values()))] if r < 0.08 else [],
             [rng.choice(locations)] if 0.08 <= r < 0.13 else [],
             [], org.admin_id, now, now, now)
        )  # fmt: skip
    return {
        "marker": marker,
        "rows": {
            "career_preferences": prefs,
            "job_postings": postings,
            "job_posting_locations": locs,
            "job_posting_skills": skills,
            "job_posting_credentials": creds,
        },
    }


async def _delete_mobility(conn: Any, tid: uuid.UUID) -> None:
    for table in DELETE_ORDER:
        await conn.execute(f"delete from {table} where tenant_id = $1", tid)


async def ensure_mobility(
    conn: Any, org: Org, dev: dv.Dev, args: argparse.Namespace, today: date
) -> tuple[dict[str, Any], bool]:
    """The tenant's mobility data; written only when what is there differs. (data, written)"""
    data = mobility_data(org, dev, args, today)
    have = [
        await conn.fetchval(f"select count(*) from {t} where tenant_id = $1", org.id)
        for t in COLUMNS
    ]
    marked = await conn.fetchval(
        "select count(*) from job_postings where tenant_id = $1 and description = $2",
        org.id,
        data["marker"],
    )
    want = [len(data["rows"][t]) for t in COLUMNS]
    if have == want and marked == args.postings:
        return data, False
    t0 = time.perf_counter()
    async with conn.transaction():
        await _delete_mobility(conn, org.id)
        for table, columns in COLUMNS.items():
            await conn.copy_records_to_table(table, records=data["rows"][table], columns=columns)
    await conn.execute("vacuum analyze " + ", ".join([*COLUMNS, "posting_matches"]))
    rows = data["rows"]
    print(
        f"  {org.slug}: {len(rows['career_preferences']):,} career preferences, "
        f"{len(rows['job_postings']):,} postings ({len(rows['job_posting_skills']):,} skills, "
        f"{len(rows['job_posting_credentials'])} credential types) in "
        f"{time.perf_counter() - t0:.2f}s",
        file=sys.stderr,
    )
    return data, True


async def _prepare_data(args: argparse.Namespace) -> tuple[Org, dv.Dev, dict[str, Any], date]:
    import asyncpg

    from upward import clock

    conn = await asyncpg.connect(args.database_url)
    try:
        org = await load_org(conn, BIG)
        today = clock.today(org.timezone)
        marked = await conn.fetchval(
            "select count(*) from career_tracks where tenant_id = $1 and description = $2",
            org.id,
            _dev_marker(args, today),
        )
        if marked != args.tracks:  # the development data will be rewritten: ours goes first
            async with conn.transaction():
                await _delete_mobility(conn, org.id)
        t0 = time.perf_counter()
        dev = await dv.ensure_development(conn, org, args, today)
        print(
            f"generate: development data {'written' if dev.generated else 'already there'} "
            f"({time.perf_counter() - t0:.0f}s)",
            file=sys.stderr,
        )
        data, written = await ensure_mobility(conn, org, dev, args, today)
        print(
            f"generate: mobility data {'written' if written else 'already there'}", file=sys.stderr
        )
        # every run starts from no stored matches (a posting's first recompute, as when opened)
        await conn.execute("delete from posting_matches where tenant_id = $1", org.id)
        await conn.execute("delete from match_alerts where tenant_id = $1", org.id)
        await conn.execute("vacuum analyze posting_matches")
    finally:
        await conn.close()
    return org, dev, data, today


# --- measuring -----------------------------------------------------------------------------------


def _rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset) of this process, MB."""
    cur = peak = math.nan
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    if math.isnan(peak):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return cur, peak


def _reset_peak() -> bool:
    """Reset the kernel's peak RSS (VmHWM) to the current RSS (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class Row:
    label: str
    ms: list[float] = field(default_factory=list)
    statements: set[int] = field(default_factory=set)
    rows: set[int] = field(default_factory=set)
    people: int = 0  # people (or pairs) scored per call, for the per-person cost
    rss: list[tuple[float, float, float]] = field(default_factory=list)  # before, after, peak

    @property
    def p50(self) -> float:
        return _percentile(sorted(self.ms), 0.50)

    @property
    def p99(self) -> float:
        return _percentile(sorted(self.ms), 0.99)


class Mem:
    """RSS before, after and its peak around a block."""

    def __init__(self, row: Row) -> None:
        self.row = row

    def __enter__(self) -> Mem:
        gc.collect()
        _reset_peak()
        self.before = _rss_mb()[0]
        return self

    def __exit__(self, *exc: Any) -> None:
        cur, peak = _rss_mb()
        self.row.rss.append((self.before, cur, peak))


FLOOR_SQL = [
    # the tables `_candidates` and `_postings` read, without the service around them
    "select e.id, e.department_id, e.location_id, e.hire_date, l.level_id, l.since, "
    "p.track_ids, p.level_ids, p.location_ids, p.work_modes, p.willing_to_relocate, "
    "p.open_to_downward, p.open_to_gigs, p.gig_hours_per_week from career_preferences p "
    "join employees e on e.tenant_id = p.tenant_id and e.id = p.employee_id "
    "left join employee_levels l on l.tenant_id = e.tenant_id and l.employee_id = e.id "
    "where p.open_to_moves in ('yes', 'confidential') and e.status = 'active' order by e.id",
    "select r.employee_id, r.skill_id, r.proficiency from employee_skills r "
    "join skills s on s.tenant_id = r.tenant_id and s.id = r.skill_id "
    "where r.employee_id = any($1::uuid[]) and s.status = 'active'",
    "select c.employee_id, g.skill_id, g.proficiency from credentials c "
    "join credential_type_skills g on g.tenant_id = c.tenant_id "
    "and g.credential_type_id = c.credential_type_id "
    "where c.employee_id = any($1::uuid[]) and c.superseded_by_id is null "
    "and c.revoked_at is null and (c.expires_on is null or c.expires_on >= current_date)",
    "select c.employee_id, c.id, c.credential_type_id, c.expires_on from credentials c "
    "where c.employee_id = any($1::uuid[]) and c.superseded_by_id is null "
    "and c.revoked_at is null and (c.expires_on is null or c.expires_on >= current_date)",
    "select employee_id, level_id, since from employee_levels where employee_id = any($1::uuid[])",
    "select id, parent_id from skills",
    "select p.employee_id, t.level_id from development_plans p join development_plan_targets t "
    "on t.plan_id = p.id where p.employee_id = any($1::uuid[])",
    "select id, track_id, position from track_levels",
    "select posting_id, skill_id, min_proficiency, required from job_posting_skills "
    "where posting_id = $1::uuid",
    "select posting_id, credential_type_id from job_posting_credentials "
    "where posting_id = $1::uuid",
    "select posting_id, location_id from job_posting_locations where posting_id = $1::uuid",
]


async def floor_read(app_url: str, org: Org, posting_id: uuid.UUID) -> tuple[float, int]:
    """FLOOR_SQL on raw asyncpg as upward_app in one transaction: (ms, rows decoded)."""
    import asyncpg

    conn = await asyncpg.connect(app_url)
    try:
        for sql in FLOOR_SQL:
            await conn.prepare(sql)
        t0 = time.perf_counter()
        n = 0
        async with conn.transaction():
            await conn.fetchval("select set_config('app.tenant_id', $1, true)", str(org.id))
            people = await conn.fetch(FLOOR_SQL[0])
            ids = [r["id"] for r in people]
            n += len(people)
            for sql in FLOOR_SQL[1:]:
                arg = posting_id if "$1::uuid" in sql and "[]" not in sql else ids
                n += len(await (conn.fetch(sql, arg) if "$1" in sql else conn.fetch(sql)))
        return (time.perf_counter() - t0) * 1000, n
    finally:
        await conn.close()


async def floor_write(
    owner_url: str, org: Org, posting_id: uuid.UUID, scores: dict[uuid.UUID, float]
) -> float:
    """The same rows inserted raw (narrow: no explanation), in a transaction rolled back: what
    storing every candidate costs in Postgres alone (the foreign keys and indexes included)."""
    import asyncpg

    conn = await asyncpg.connect(owner_url)
    try:
        tr = conn.transaction()
        await tr.start()
        await conn.execute("delete from posting_matches where posting_id = $1", posting_id)
        ids = list(scores)
        t0 = time.perf_counter()
        await conn.execute(
            "insert into posting_matches (tenant_id, posting_id, employee_id, score, eligible) "
            "select $1, $2, u.e, u.s, true from unnest($3::uuid[], $4::float8[]) as u(e, s)",
            org.id,
            posting_id,
            ids,
            [scores[i] for i in ids],
        )
        ms = (time.perf_counter() - t0) * 1000
        await tr.rollback()
        return ms
    finally:
        await conn.close()


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    from upward.db import dispose_engines, fetch, tenant_session
    from upward.development import ratings
    from upward.development import readiness as core
    from upward.mobility import matching, scorer
    from upward.people.service import Viewer
    from upward.settings import asyncpg_url, get_settings

    org, dev, data, today = await _prepare_data(args)
    app_url = asyncpg_url(get_settings().app_url())
    principal = dv._principal(org)
    viewer = Viewer(principal)
    counter = StatementCounter()
    idle: list[float] = []
    out: dict[str, Any] = {"org": org, "dev": dev, "data": data, "today": today, "idle": idle}
    rng = random.Random(f"upward-bench-mobility-sample-{GEN_VERSION}")
    posting_rows = data["rows"]["job_postings"]
    roles = [r[1] for r in posting_rows if r[2] == "role"]
    gigs = [r[1] for r in posting_rows if r[2] == "gig"]
    n_gigs = max(1, args.sample // 5) if gigs and args.sample > 1 else 0
    sample = rng.sample(roles, args.sample - n_gigs) + rng.sample(gigs, n_gigs)
    kinds = {r[1]: r[2] for r in posting_rows}
    _idle(idle, "before measuring")
    async with tenant_session(org.id) as s:  # the engine, and a first read of the tables
        await matching._candidates(s, principal, await matching._levels(s), today)
    counter.attach()
    try:
        # (a) one posting against everyone open to moves, through the service
        # cold (no stored matches), then again with nothing changed: a re-rank that writes
        # only the explained best
        svc = Row("recompute_posting (service, one transaction)")
        warm = Row("recompute_posting again, nothing changed")
        for row in (svc, warm):
            for pid in sample:
                counter.count = 0
                with Mem(row):
                    t0 = time.perf_counter()
                    async with tenant_session(org.id) as s:
                        n = await matching.recompute_posting(s, principal, pid)
                    row.ms.append((time.perf_counter() - t0) * 1000)
                row.statements.add(counter.count)
                row.rows.add(n)
        # the same, split around the service's own pieces (posting already stored: the delete)
        rank = Row(f"  rank: rank_posting (all; best {matching.EXPLAINED} returned)")
        explain = Row(f"  explain best {matching.EXPLAINED}: _candidates + _score_all")
        delete = Row("  write: delete the posting's stored rows (cold)")
        insert = Row(f"  write: _insert best {matching.EXPLAINED} (jsonb explanations)")
        rest = Row("  write: _store_changes (new or changed rows)")
        ref_load = Row("reference: full path load (_candidates, all)")
        pure = Row("reference: pure scorer.score over all, no JSON")
        floor = Row(f"floor: full path inputs, raw asyncpg ({len(FLOOR_SQL)} stmts)")
        floor_w = Row("floor: the same rows inserted raw (unnest)")
        loaded: dict[uuid.UUID, tuple[Any, Any]] = {}
        candidates_n = 0
        for pid in sample:
            async with tenant_session(org.id) as s:
                rows = await fetch(
                    s, f"select {matching._POSTING_COLUMNS} from job_postings where id = $1", pid
                )
                levels = await matching._levels(s)
                postings = await matching._postings(s, rows, levels)
                counter.count = 0
                with Mem(rank):
                    t0 = time.perf_counter()
                    ranking = await matching.rank_posting(
                        s, principal, postings[0], today, limit=matching.EXPLAINED
                    )
                    rank.ms.append((time.perf_counter() - t0) * 1000)
                rank.statements.add(counter.count)
                rank.rows.add(ranking.total)
                counter.count = 0
                with Mem(explain):
                    t0 = time.perf_counter()
                    top_ids = [r.employee_id for r in ranking.top]
                    top_people = await matching._candidates(
                        s, principal, levels, today, only=top_ids
                    )
                    cols = matching._score_all(postings, top_people, today)
                    explain.ms.append((time.perf_counter() - t0) * 1000)
                explain.statements.add(counter.count)
                counter.count = 0
                t0 = time.perf_counter()
                await fetch(s, "delete from posting_matches where posting_id = $1", pid)
                delete.ms.append((time.perf_counter() - t0) * 1000)
                delete.statements.add(counter.count)
                counter.count = 0
                with Mem(insert):
                    t0 = time.perf_counter()
                    n = await matching._insert(s, cols)
                    insert.ms.append((time.perf_counter() - t0) * 1000)
                insert.statements.add(counter.count)
                insert.rows.add(n)
                counter.count = 0
                with Mem(rest):
                    t0 = time.perf_counter()
                    n2 = await matching._store_changes(s, pid, cols[1])
                    rest.ms.append((time.perf_counter() - t0) * 1000)
                rest.statements.add(counter.count)
                rest.rows.add(n2)
                stored = {
                    r["employee_id"]: r["score"]
                    for r in await fetch(
                        s,
                        "select employee_id, score from posting_matches where posting_id = $1",
                        pid,
                    )
                }
            # the reference: the full path over everyone (the pre-ranking way), to check
            async with tenant_session(org.id) as s:
                with Mem(ref_load):
                    t0 = time.perf_counter()
                    people = await matching._candidates(s, principal, levels, today)
                    ref_load.ms.append((time.perf_counter() - t0) * 1000)
            candidates_n = len(people)
            posting = postings[0]
            weights, targets = (
                posting.weights,
                (
                    scorer.required_target(posting),
                    core.Target(posting.preferred),
                ),
            )
            t0 = time.perf_counter()
            got = {}
            for c in people:
                m = scorer.score(posting, c, today, weights=weights, targets=targets)
                if m.excluded is None:
                    got[m.employee_id] = m.score
            pure.ms.append((time.perf_counter() - t0) * 1000)
            pure.people = len(people)
            pure.statements.add(0)
            if got != stored:
                diff = [e for e in got.keys() | stored.keys() if got.get(e) != stored.get(e)]
                raise BenchError(
                    f"posting {pid}: {len(diff)} stored scores differ from the pure scorer's "
                    f"(e.g. {diff[:3]})"
                )
            loaded[pid] = (posting, len(got))
            ms, read = await floor_read(app_url, org, pid)
            floor.ms.append(ms)
            floor.rows.add(read)
            floor.statements.add(len(FLOOR_SQL) + 1)
            floor_w.ms.append(await floor_write(args.database_url, org, pid, got))
            floor_w.rows.add(len(got))
            floor_w.statements.add(1)
        for pid, (_, n) in loaded.items():
            if n <= 0:
                raise BenchError(f"posting {pid} matched nobody")
        if sorted(svc.rows) != sorted({n for _, n in loaded.values()}):
            raise BenchError(f"rows stored by the service {svc.rows} differ from the split's")
        # tracemalloc: one more recompute of the first posting, for the allocation peak
        traced = math.nan
        if args.tracemalloc:
            gc.collect()
            tracemalloc.start()
            t0 = time.perf_counter()
            async with tenant_session(org.id) as s:
                # traced, the reads decode slower than the 15 s statement timeout allows
                await fetch(s, "set local statement_timeout = 0")
                await matching.recompute_posting(s, principal, sample[0])
            traced_s = time.perf_counter() - t0
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            out["traced_s"] = traced_s
        out["traced_mb"] = traced
        out["candidates"] = candidates_n
        svc.people = rank.people = candidates_n
        out["a"] = [svc, warm, rank, explain, delete, insert, rest, ref_load, pure, floor, floor_w]
        out["sample_kinds"] = [kinds[p] for p in sample]

        # (b) one employee against every open posting; fresh planner statistics first: the
        # table was analyzed empty, and on those the person's delete scans every stored row
        # (0.9 s at 300,000 rows) instead of using posting_matches_person_idx
        await _analyze(args.database_url)
        _idle(idle, "before (b)")
        open_people = sorted(
            (r[1] for r in data["rows"]["career_preferences"] if r[2] != "no"), key=str
        )
        chosen = rng.sample(open_people, min(len(open_people), args.people + args.incremental + 1))
        warm, people_b, people_c = chosen[0], chosen[1 : args.people + 1], chosen[args.people + 1 :]
        async with tenant_session(org.id) as s:
            await matching.recompute_people(s, principal, [warm])
        one = Row(f"recompute_people([one]) x {len(people_b)} people")
        one_pure = Row("floor: pure scorer.score, one person x all postings")
        for e in people_b:
            counter.count = 0
            with Mem(one):
                t0 = time.perf_counter()
                async with tenant_session(org.id) as s:
                    n = await matching.recompute_people(s, principal, [e])
                one.ms.append((time.perf_counter() - t0) * 1000)
            one.statements.add(counter.count)
            one.rows.add(n)
        async with tenant_session(org.id) as s:
            levels = await matching._levels(s)
            prow = await fetch(
                s,
                f"select {matching._POSTING_COLUMNS} from job_postings where status = 'open' "
                "order by id",
            )
            all_postings = await matching._postings(s, prow, levels)
            cands = await matching._candidates(s, principal, levels, today, only=people_b)
            stored_b = {
                (r["posting_id"], r["employee_id"]): r["score"]
                for r in await fetch(
                    s,
                    "select posting_id, employee_id, score from posting_matches "
                    "where employee_id = any($1::uuid[])",
                    people_b,
                )
            }
        prepared = [
            (p, p.weights, (scorer.required_target(p), core.Target(p.preferred)))
            for p in all_postings
        ]
        got_b: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
        for c in cands:
            t0 = time.perf_counter()
            for p, w, t in prepared:
                m = scorer.score(p, c, today, weights=w, targets=t)
                if m.excluded is None:
                    got_b[(m.posting_id, m.employee_id)] = m.score
            one_pure.ms.append((time.perf_counter() - t0) * 1000)
        one_pure.statements.add(0)
        if got_b != stored_b:
            raise BenchError(
                f"recompute_people stored {len(stored_b)} rows, the pure scorer {len(got_b)}, "
                "or the scores differ"
            )
        one.people = one_pure.people = len(all_postings)
        out["b"] = [one, one_pure]

        # (c) incremental: one rating changed, that person recomputed
        _idle(idle, "before (c)")
        rate = Row("ratings.set_rating (HR, own transaction)")
        inc = Row("then recompute_people([that person])")
        both = Row("incremental total (rating + recompute)")
        required_skills = {r[2] for r in data["rows"]["job_posting_skills"] if r[3]}
        restore: list[tuple[uuid.UUID, uuid.UUID, int]] = []
        async with tenant_session(org.id) as s:
            have = await fetch(
                s,
                "select employee_id, skill_id, proficiency from employee_skills "
                "where employee_id = any($1::uuid[]) order by employee_id, skill_id",
                people_c,
            )
        for e in people_c:
            mine = [r for r in have if r["employee_id"] == e and r["skill_id"] in required_skills]
            if not mine:
                continue
            r = mine[0]
            new = r["proficiency"] + 1 if r["proficiency"] < 5 else r["proficiency"] - 1
            restore.append((e, r["skill_id"], r["proficiency"]))
            t0 = time.perf_counter()
            async with tenant_session(org.id) as s:
                await ratings.set_rating(
                    s, principal, viewer, employee_id=e, skill_id=r["skill_id"], proficiency=new
                )
            t1 = time.perf_counter()
            rate.ms.append((t1 - t0) * 1000)
            counter.count = 0
            async with tenant_session(org.id) as s:
                n = await matching.recompute_people(s, principal, [e])
            t2 = time.perf_counter()
            inc.ms.append((t2 - t1) * 1000)
            inc.statements.add(counter.count)
            inc.rows.add(n)
            both.ms.append((t2 - t0) * 1000)
        for e, sid, prof in restore:  # set back (recorded as another change; not measured)
            async with tenant_session(org.id) as s:
                await ratings.set_rating(
                    s, principal, viewer, employee_id=e, skill_id=sid, proficiency=prof
                )
                await matching.recompute_people(s, principal, [e])
        out["c"] = [rate, inc, both]
    finally:
        counter.detach()
        await dispose_engines()
    _idle(idle, "after measuring")
    return out


async def _analyze(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("analyze posting_matches")
    finally:
        await conn.close()


# --- the table -----------------------------------------------------------------------------------


def _ms(v: float) -> str:
    if math.isnan(v):
        return "       -"
    return f"{v:8.2f}" if v < 10 else f"{v:8.0f}"


def _mem(row: Row) -> str:
    if not row.rss:
        return ""
    before = max(r[0] for r in row.rss)
    after = max(r[1] for r in row.rss)
    peak = max(r[2] for r in row.rss)
    return f"{before:6.0f} {after:6.0f} {peak:6.0f}"


def _line(row: Row, per: str = "") -> str:
    stm = "/".join(str(n) for n in sorted(row.statements)) or "-"
    rows = "/".join(f"{n:,}" for n in sorted(row.rows)) if row.rows else "-"
    if len(row.rows) > 3:
        rows = f"{min(row.rows):,}-{max(row.rows):,}"
    us = row.p50 * 1000 / row.people if row.people else math.nan
    return (
        f"{row.label:<52} {_ms(row.p50)} {_ms(row.p99)} {len(row.ms):>3} {stm:>5} {rows:>15} "
        f"{'-' if math.isnan(us) else f'{us:.1f}':>7}  {_mem(row)}"
    )


def _print(args: argparse.Namespace, r: dict[str, Any]) -> None:
    org, dev, data = r["org"], r["dev"], r["data"]
    rows = data["rows"]
    prefs = rows["career_preferences"]
    yes = sum(1 for p in prefs if p[2] == "yes")
    conf = sum(1 for p in prefs if p[2] == "confidential")
    gigs = sum(1 for p in rows["job_postings"] if p[2] == "gig")
    print()
    print(
        f"mobility bench: 1 tenant x {len(org.people):,} employees ({r['today'].isoformat()}), "
        f"{len(dev.rows['skills'])} skills, {len(dev.rows['track_levels'])} levels, "
        f"{len(dev.rows['employee_skills']):,} ratings, {len(dev.rows['credentials']):,} "
        f"credentials"
    )
    print(
        f"  career preferences: {yes:,} open to moves, {conf:,} confidentially, "
        f"{len(prefs) - yes - conf:,} not; {r['candidates']:,} candidates (active, open)"
    )
    print(
        f"  {len(rows['job_postings']):,} open postings ({len(rows['job_postings']) - gigs} roles, "
        f"{gigs} gigs), {len(rows['job_posting_skills']):,} posting skills, "
        f"{len(rows['job_posting_credentials'])} required credential types; measured postings: "
        + ", ".join(r["sample_kinds"])
    )
    print(
        f"  service calls in tenant sessions as upward_app, tenant admin principal; "
        f"{os.cpu_count()} CPUs; commit {_commit()}"
    )
    busy = max(r["idle"])
    print(
        "  other load (busy CPU while the bench paused): "
        + " / ".join(f"{b:.2f}" for b in r["idle"])
        + f" cores{' -- NOISY, compare with care' if busy > 0.25 else ''}"
    )
    print()
    head = (
        f"{'p50 ms':>8} {'p99 ms':>8} {'n':>3} {'stmts':>5} {'rows':>15} {'us/each':>7}  "
        f"{'RSS MB: before after peak':>20}"
    )
    print(f"{'(a) one posting x everyone open to moves':<52} {head}")
    for row in r["a"]:
        print(_line(row))
    traced = r["traced_mb"]
    if not math.isnan(traced):
        print(
            f"  tracemalloc peak of one recompute_posting: {traced:,.0f} MB of Python allocations "
            f"(run {r['traced_s']:.1f}s under tracing)"
        )
    print("  (us/each: p50 per candidate scored or row stored; RSS: max over the runs)")
    print()
    print(f"{'(b) one employee x all open postings':<52} {head}")
    for row in r["b"]:
        print(_line(row))
    print()
    print(f"{'(c) incremental: one rating changed':<52} {head}")
    for row in r["c"]:
        print(_line(row))
    svc = r["a"][0]
    inc = r["c"][1]
    if inc.ms and svc.ms:
        print(
            f"  recompute_people([one]) p50 {inc.p50:.0f} ms vs one full recompute_posting p50 "
            f"{svc.p50:.0f} ms ({svc.p50 / inc.p50:.0f}x); recomputing every open posting "
            f"instead would take about {svc.p50 * len(rows['job_postings']) / 1000 / 60:.0f} min"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.mobility",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--employees", type=int, default=100_000)
    p.add_argument("--skills", type=int, default=200)
    p.add_argument("--tracks", type=int, default=20)
    p.add_argument("--levels", type=int, default=10, help="levels per track")
    p.add_argument("--postings", type=int, default=1000, help="open postings")
    p.add_argument("--sample", type=int, default=5, help="postings measured in (a)")
    p.add_argument("--people", type=int, default=20, help="people measured in (b)")
    p.add_argument("--incremental", type=int, default=10, help="rating changes in (c)")
    p.add_argument(
        "--tracemalloc",
        action="store_true",
        help="one more recompute_posting under tracemalloc (slow: about 3x)",
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_MOBILITY_DATABASE_URL", DEFAULT_URL),
        help="owner URL (default: $BENCH_MOBILITY_DATABASE_URL or %(default)s)",
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = p.parse_args(argv)
    if min(args.employees, args.tracks, args.levels, args.postings, args.sample, args.people) < 1:
        p.error("--employees, --tracks, --levels, --postings, --sample and --people must be >= 1")
    if args.skills < sum(len(names) for _, names in dv.FAMILIES):
        p.error(f"--skills must be at least {sum(len(names) for _, names in dv.FAMILIES)}")
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
    """Before `generate` replaces a tenant of another size: the mobility data goes first (it
    points at employees and levels), then bench.development's."""
    import asyncpg

    from bench.generate import DEPARTMENTS, LOCATIONS, _shape, slug_of

    with contextlib.suppress(asyncpg.InvalidCatalogNameError):
        conn = await asyncpg.connect(url)
        try:
            if await conn.fetchval("select to_regclass('public.job_postings')") is None:
                return
            shape = await _shape(conn, slug_of(BIG))
            if shape is not None and shape != (len(DEPARTMENTS), len(LOCATIONS), employees, 1):
                tid = await conn.fetchval("select id from tenants where slug = $1", slug_of(BIG))
                async with conn.transaction():
                    await _delete_mobility(conn, tid)
        finally:
            await conn.close()
    await dv._drop_if_reshaped(url, employees)


if __name__ == "__main__":
    raise SystemExit(main())
