"""Development benchmark: readiness of every employee against their next level, and career
paths on a ladder graph of 200 levels, against floors without the service around them.

    python -m bench.development [--employees 5000] [--skills 300] [--tracks 20] [--levels 10]
                                [--batch 500] [--repeat 20] [--paths 50] [--graphql-sample 200]

One command, one table. On its own database (`upward_bench_development`, created and migrated
when missing; --database-url / BENCH_DEVELOPMENT_DATABASE_URL) it makes `bench-001` with an org
chart of --employees people (bench/generate.py), then its development data: a catalog of
--skills skills in 12 categories (a quarter of them roots, the rest sub-skills), 20 credential
types each granting 1-3 skills, --tracks ladders (an IC and a management track per department
family) of --levels levels each (200 by default), every level expecting 3-8 skills of its
family at a minimum that grows with the rung and, higher up, 1-2 credential types; lateral
links both ways from an IC rung to the management rungs near it, and one way to the same rung
of the next family's IC track. Everyone is placed at a level (managers on the management track
by depth, individual contributors on the IC track by job level), with about 10 skill ratings
each (mostly their family's skills, near what their level expects) and 0-3 credentials of the
types (10% expired, some expiring), which also derive skills. Written as the owner with COPY;
deterministic (seeded) for a given date, and skipped when already there (regenerated when the
shape or the date changed: credential states are relative to today).

Then, in this process, as upward_app (tenant sessions, as requests and actors open them):
(a) readiness of every placed employee against their next rung:
    - one by one: `tracks.readiness_for` per person, each in its own tenant session (the path
      of the `readiness` query), total time, per-person p50 / p99, people/s;
    - the same through GraphQL (`readiness(employeeId, levelId)` over HTTP to the app with its
      lifespan, httpx's ASGI transport, the tenant admin's token) for --graphql-sample people;
    - batched: `tracks.readiness_many` for --batch people per tenant session, and for everyone
      in one call (the path matching workers take), statements per call;
    - floors: the same tables read raw with asyncpg (7 statements, every row decoded), and the
      pure scorer `readiness.readiness` alone over values already in memory.
    Answers are checked: the batched scores equal the one-by-one scores for every person.
(b) `careerPaths` (first: 3) through GraphQL for --paths (person, target) pairs whose target is
    in another track, round robin --repeat rounds after a warm-up, p50 / p99; and the pure path
    finder `readiness.career_paths` alone on the same graph and pairs.
See docs/performance.md ("Development").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/development.py`
    sys.path.insert(0, str(ROOT))

from bench.credentials import (  # noqa: E402
    CREDENTIAL_COLUMNS,
    TYPE_COLUMNS,
    WARMUP,
    Api,
    BenchError,
    Org,
    StatementCounter,
    _commit,
    _idle,
    _percentile,
    add_months,
    load_org,
)
from bench.generate import ensure_database, generate  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/upward_bench_development"
GEN_VERSION = 1  # bump when the shape of the development data changes, to regenerate
BIG = 1
SLOW_MS = 1000.0

# skill families: (category, root skills); sub-skills are "<root>: <aspect>"
FAMILIES: list[tuple[str, list[str]]] = [
    ("engineering", ["Python", "Go", "TypeScript", "PostgreSQL", "Distributed systems", "Testing"]),
    ("data", ["SQL", "Statistics", "Machine learning", "Data modeling", "Data visualization"]),
    ("design", ["Interaction design", "Visual design", "User research", "Prototyping"]),
    ("product", ["Product discovery", "Roadmapping", "Analytics", "Pricing"]),
    ("sales", ["Prospecting", "Negotiation", "Account planning", "Forecasting"]),
    ("marketing", ["Content marketing", "SEO", "Campaign management", "Brand strategy"]),
    ("support", ["Customer communication", "Troubleshooting", "Knowledge base", "Escalations"]),
    ("finance", ["Financial modeling", "Accounting", "Budgeting", "Audit"]),
    ("people", ["Recruiting", "Compensation", "Employee relations", "Learning design"]),
    ("operations", ["Process improvement", "Logistics", "Vendor management", "Quality"]),
    ("security", ["Threat modeling", "Incident response", "Cloud security", "Compliance"]),
    ("leadership", ["Coaching", "Delegation", "Strategy", "Stakeholder management"]),
]
ASPECTS = [
    "fundamentals",
    "advanced practice",
    "tooling",
    "performance",
    "architecture",
    "review",
    "mentoring others",
    "automation",
    "troubleshooting",
    "standards",
    "planning",
    "measurement",
]
TRACK_FAMILIES = [
    ("Engineering", "engineering"),
    ("Data", "data"),
    ("Design", "design"),
    ("Product", "product"),
    ("Sales", "sales"),
    ("Marketing", "marketing"),
    ("Support", "support"),
    ("Finance", "finance"),
    ("People", "people"),
    ("Operations", "operations"),
]
IC_RUNGS = [
    "Associate",
    "Junior",
    "Intermediate",
    "Senior",
    "Staff",
    "Senior Staff",
    "Principal",
    "Senior Principal",
    "Distinguished",
    "Fellow",
]
MGMT_RUNGS = [
    "Team Lead",
    "Manager",
    "Senior Manager",
    "Associate Director",
    "Director",
    "Senior Director",
    "Vice President",
    "Senior Vice President",
    "Executive Vice President",
    "Chief",
]
N_TYPES = 20
RATINGS_PER_PERSON = 10
SOURCES = ("self_assessed", "manager_assessed", "assessment")

READINESS_QUERY = (
    "query Ready($e: ID!, $l: ID!) { readiness(employeeId: $e, levelId: $l) { score ready "
    "skills { skill { name } required have state gap } credentials { state validUntil } "
    "timeInLevel { months typical met } } }"
)
PATHS_QUERY = (
    "query Paths($e: ID!, $l: ID!) { careerPaths(employeeId: $e, targetLevelId: $l, first: 3) "
    "{ steps { level { title trackName jobLevel } readiness { score ready } } } }"
)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


# --- data ----------------------------------------------------------------------------------------


@dataclass
class Dev:
    """What the generator made, as the checks need it."""

    marker: str
    rows: dict[str, list[tuple]]
    tracks: list[dict[str, Any]]  # id, name, levels [ids by position]
    level_track: dict[uuid.UUID, int]  # level -> index in tracks
    placements: dict[uuid.UUID, uuid.UUID]  # employee -> level
    generated: bool = False


def development_data(org: Org, args: argparse.Namespace, today: date) -> Dev:
    """Skills, grants, credentials, ladders, links, placements and ratings of one tenant,
    deterministic in (tenant, shape, today)."""
    shape = f"{args.skills}-{args.tracks}-{args.levels}"
    rng = random.Random(f"upward-bench-development-{GEN_VERSION}-{org.index}-{shape}-{today}")
    now = datetime.now(UTC)
    marker = f"bench.development v{GEN_VERSION} on {today.isoformat()} shape={shape}"
    tid = org.id

    # skills: roots first (the parent FK), then sub-skills round robin over the roots
    skills: list[tuple] = []
    by_family: dict[str, list[uuid.UUID]] = {c: [] for c, _ in FAMILIES}
    roots: list[tuple[str, str, uuid.UUID]] = []
    for category, names in FAMILIES:
        for name in names:
            sid = _uuid(rng)
            roots.append((category, name, sid))
            by_family[category].append(sid)
            skills.append((tid, sid, name, category, None, f"{name} ({marker})", now, now))
    k = 0
    while len(skills) < args.skills:
        category, root, parent = roots[k % len(roots)]
        aspect = ASPECTS[(k // len(roots)) % len(ASPECTS)]
        if k // len(roots) >= len(ASPECTS):
            aspect += f" {k // (len(roots) * len(ASPECTS)) + 1}"
        sid = _uuid(rng)
        by_family[category].append(sid)
        skills.append((tid, sid, f"{root}: {aspect}", category, parent, None, now, now))
        k += 1
    skills = skills[: args.skills]
    all_skills = [s[1] for s in skills]

    # credential types, each granting 1-3 skills
    types: list[tuple] = []
    grants: list[tuple] = []
    type_ids: list[uuid.UUID] = []
    for i in range(N_TYPES):
        family, _ = FAMILIES[i % len(FAMILIES)]
        type_id = _uuid(rng)
        type_ids.append(type_id)
        months = rng.choice((12, 24, 36, None))
        types.append(
            (
                tid,
                type_id,
                f"{family.title()} certificate {i // len(FAMILIES) + 1}",
                "certification",
                marker,
                "Upward Academy",
                months,
                False,
                False,
                30 if months else None,
                "active",
                now,
                now,
            )
        )
        pool = [s for s in by_family[family] if s in set(all_skills)]
        for sid in rng.sample(pool, min(len(pool), rng.randint(1, 3))):
            grants.append((tid, type_id, sid, rng.randint(2, 4)))

    # ladders: an IC and a management track per family, --levels rungs each
    tracks: list[dict[str, Any]] = []
    track_rows: list[tuple] = []
    level_rows: list[tuple] = []
    level_skills: list[tuple] = []
    level_creds: list[tuple] = []
    level_track: dict[uuid.UUID, int] = {}
    fam_types = {c: [t for j, t in enumerate(type_ids) if j % len(FAMILIES) == n]
                 for n, (c, _) in enumerate(FAMILIES)}  # fmt: skip
    for n in range(args.tracks):
        dept, family = TRACK_FAMILIES[(n // 2) % len(TRACK_FAMILIES)]
        kind = "IC" if n % 2 == 0 else "Management"
        rung_names = IC_RUNGS if kind == "IC" else MGMT_RUNGS
        suffix = f" {n // (2 * len(TRACK_FAMILIES)) + 1}" if n >= 2 * len(TRACK_FAMILIES) else ""
        name = f"{dept} {kind}{suffix}"
        track_id = _uuid(rng)
        track_rows.append((tid, track_id, name, marker, "active", now, now))
        levels = []
        pool = [s for s in by_family[family] if s in set(all_skills)]
        lead = by_family["leadership"]
        for pos in range(1, args.levels + 1):
            level_id = _uuid(rng)
            rung = rung_names[(pos - 1) % len(rung_names)]
            if pos > len(rung_names):
                rung += f" {(pos - 1) // len(rung_names) + 1}"
            code = f"{'IC' if kind == 'IC' else 'M'}{pos}"
            level_rows.append(
                (tid, level_id, track_id, pos, f"{dept} {rung}", code, rng.choice((12, 18, 24, 36)),
                 None, now, now)
            )  # fmt: skip
            level_track[level_id] = n
            levels.append(level_id)
            count = min(8, 3 + pos // 2)
            chosen = rng.sample(pool, min(len(pool), count))
            if kind == "Management":
                chosen = chosen[:-2] + rng.sample(lead, 2)
            minimum = min(5, 1 + (pos * 4) // max(args.levels, 1))
            for sid in dict.fromkeys(chosen):
                level_skills.append((tid, level_id, sid, max(1, minimum - rng.randint(0, 1))))
            if pos > args.levels // 2 and fam_types[family]:
                for type_id in rng.sample(fam_types[family], min(2, len(fam_types[family]))):
                    level_creds.append((tid, level_id, type_id))
        tracks.append({"id": track_id, "name": name, "kind": kind, "levels": levels})

    # lateral links: IC rung k <-> management rungs k-2..k of its family (both ways), and
    # IC rung k -> rung k of the next family's IC track (one way)
    links: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for n in range(0, args.tracks - 1, 2):
        ic, mgmt = tracks[n]["levels"], tracks[n + 1]["levels"]
        for k in range(2, args.levels):
            for j in range(max(0, k - 2), min(k, len(mgmt))):
                if rng.random() < 0.6:
                    links.add((ic[k], mgmt[j]))
                    links.add((mgmt[j], ic[k]))
        nxt = tracks[(n + 2) % (args.tracks - args.tracks % 2 or 1)]["levels"]
        if nxt is not ic:
            for k in range(args.levels):
                if rng.random() < 0.5:
                    links.add((ic[k], nxt[k]))
    link_rows = [(tid, a, b) for a, b in sorted(links)]

    # placements: managers by depth on a management track, the others by job level on an IC one
    depth_rank = {"E9": 9, "E8": 8, "E7": 7, "M6": 5, "M5": 4, "M4": 3}
    ic_rank = {"L1": 1, "L2": 2, "L3": 3, "L4": 4, "L5": 5}
    placements: dict[uuid.UUID, uuid.UUID] = {}
    place_rows: list[tuple] = []
    ratings: list[tuple] = []
    creds: list[tuple] = []
    pair_tracks = max(1, args.tracks // 2)
    for i, p in enumerate(org.people):
        fam = i % pair_tracks
        manager = p["job_level"] in depth_rank
        n = min(args.tracks - 1, 2 * fam + (1 if manager and args.tracks > 1 else 0))
        rank = depth_rank.get(p["job_level"]) or ic_rank.get(p["job_level"], 2)
        pos = max(1, min(args.levels, rank + rng.choice((-1, 0, 0, 1))))
        level_id = tracks[n]["levels"][pos - 1]
        placements[p["id"]] = level_id
        since = today - timedelta(days=rng.randint(30, 5 * 365))
        place_rows.append((tid, p["id"], level_id, since, now))
        # ratings: their family's skills near their level's minimum, a few others
        family = TRACK_FAMILIES[(n // 2) % len(TRACK_FAMILIES)][1]
        pool = [s for s in by_family[family] if s in set(all_skills)]
        picked = rng.sample(pool, min(len(pool), 7))
        while len(picked) < RATINGS_PER_PERSON:
            sid = rng.choice(all_skills)
            if sid not in picked:
                picked.append(sid)
        base = 1 + (pos * 4) // max(args.levels, 1)
        for sid in picked:
            source = rng.choices(SOURCES, weights=(5, 4, 1))[0]
            validated = source != "self_assessed"
            ratings.append(
                (tid, p["id"], sid, max(1, min(5, base + rng.randint(-2, 1))), source,
                 rng.random() < 0.3, today - timedelta(days=rng.randint(0, 700)),
                 org.admin_id if validated else None, now if validated else None, p["id"],
                 now, now)
            )  # fmt: skip
        for type_id in rng.sample(type_ids, rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]):
            months = next(t[6] for t in types if t[1] == type_id)
            r = rng.random()
            if months is None:
                issued, expires = today - timedelta(days=rng.randint(30, 2000)), None
            elif r < 0.10:  # expired
                expires = today - timedelta(days=rng.randint(1, 300))
                issued = add_months(expires, -months)
            elif r < 0.18:  # expiring
                expires = today + timedelta(days=rng.randint(0, 30))
                issued = add_months(expires, -months)
            else:
                expires = today + timedelta(days=rng.randint(31, months * 30 - 5))
                issued = add_months(expires, -months)
            at = datetime(issued.year, issued.month, issued.day, 9, tzinfo=UTC)
            creds.append(
                (tid, _uuid(rng), p["id"], type_id, f"DEV-{i:06d}-{len(creds):07d}",
                 "Upward Academy", issued, expires, None, None, "api", "not_required", None,
                 None, None, None, p["id"], min(at, now), min(at, now))
            )  # fmt: skip
    return Dev(
        marker=marker,
        rows={
            "skills": skills,
            "credential_types": types,
            "credential_type_skills": grants,
            "credentials": creds,
            "career_tracks": track_rows,
            "track_levels": level_rows,
            "level_skills": level_skills,
            "level_credentials": level_creds,
            "level_links": link_rows,
            "employee_levels": place_rows,
            "employee_skills": ratings,
        },
        tracks=tracks,
        level_track=level_track,
        placements=placements,
    )


COLUMNS: dict[str, tuple[str, ...]] = {
    "skills": (
        "tenant_id", "id", "name", "category", "parent_id", "description", "created_at",
        "updated_at",
    ),
    "credential_types": TYPE_COLUMNS,
    "credential_type_skills": ("tenant_id", "credential_type_id", "skill_id", "proficiency"),
    "credentials": CREDENTIAL_COLUMNS,
    "career_tracks": (
        "tenant_id", "id", "name", "description", "status", "created_at", "updated_at",
    ),
    "track_levels": (
        "tenant_id", "id", "track_id", "position", "title", "job_level", "typical_months",
        "description", "created_at", "updated_at",
    ),
    "level_skills": ("tenant_id", "level_id", "skill_id", "min_proficiency"),
    "level_credentials": ("tenant_id", "level_id", "credential_type_id"),
    "level_links": ("tenant_id", "from_level_id", "to_level_id"),
    "employee_levels": ("tenant_id", "employee_id", "level_id", "since", "updated_at"),
    "employee_skills": (
        "tenant_id", "employee_id", "skill_id", "proficiency", "source", "interest",
        "last_used_on", "validated_by", "validated_at", "updated_by", "created_at", "updated_at",
    ),
}  # fmt: skip
# children before parents, for the delete
DELETE_ORDER = (
    "employee_levels",
    "level_links",
    "level_skills",
    "level_credentials",
    "development_plan_targets",
    "track_levels",
    "career_tracks",
    "employee_skill_events",
    "employee_skills",
    "credential_type_skills",
    "credentials",
    "credential_types",
    "skills",
)


async def _delete_development(conn: Any, tid: uuid.UUID) -> None:
    for table in DELETE_ORDER:
        if await conn.fetchval("select to_regclass($1)", f"public.{table}") is not None:
            await conn.execute(f"delete from {table} where tenant_id = $1", tid)
    await conn.execute("delete from domain_events where tenant_id = $1", tid)


async def ensure_development(conn: Any, org: Org, args: argparse.Namespace, today: date) -> Dev:
    """The tenant's development data for today; written only when what is there differs."""
    dev = development_data(org, args, today)
    have = []
    for table in COLUMNS:
        have.append(await conn.fetchval(
            f"select count(*) from {table} where tenant_id = $1", org.id
        ))  # fmt: skip
    marked = await conn.fetchval(
        "select count(*) from career_tracks where tenant_id = $1 and description = $2",
        org.id,
        dev.marker,
    )
    want = [len(dev.rows[t]) for t in COLUMNS]
    if have == want and marked == len(dev.rows["career_tracks"]):
        return dev
    t0 = time.perf_counter()
    async with conn.transaction():
        await _delete_development(conn, org.id)
        for table, columns in COLUMNS.items():
            await conn.copy_records_to_table(table, records=dev.rows[table], columns=columns)
    await conn.execute("vacuum analyze " + ", ".join(COLUMNS))
    print(
        f"  {org.slug}: {len(dev.rows['skills'])} skills, {len(dev.rows['track_levels'])} levels, "
        f"{len(dev.rows['level_links'])} links, {len(dev.rows['employee_skills']):,} ratings, "
        f"{len(dev.rows['credentials']):,} credentials in {time.perf_counter() - t0:.2f}s",
        file=sys.stderr,
    )
    dev.generated = True
    return dev


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    ms: list[float] = field(default_factory=list)
    people: int = 0  # people covered by the measured calls (for people/s)
    statements: set[int] = field(default_factory=set)
    total_s: float | None = None

    @property
    def p50(self) -> float:
        return _percentile(sorted(self.ms), 0.50)

    @property
    def p99(self) -> float:
        return _percentile(sorted(self.ms), 0.99)

    @property
    def total(self) -> float:
        return self.total_s if self.total_s is not None else sum(self.ms) / 1000

    @property
    def rate(self) -> float:
        return self.people / self.total if self.people and self.total > 0 else math.nan


def _principal(org: Org) -> Any:
    from upward.auth.principal import TENANT_ADMIN, Principal

    return Principal(
        tenant_id=org.id,
        tenant_slug=org.slug,
        kind="user",
        employee_id=org.admin_id,
        roles=frozenset({TENANT_ADMIN}),
        tenant_timezone=org.timezone,
    )


FLOOR_SQL = [
    # the same tables readiness reads for a set of people, without the service around them
    "select employee_id, skill_id, proficiency from employee_skills "
    "where employee_id = any($1::uuid[])",
    "select c.employee_id, g.skill_id, g.proficiency, c.credential_type_id, c.id, c.expires_on "
    "from credentials c join credential_type_skills g on g.tenant_id = c.tenant_id "
    "and g.credential_type_id = c.credential_type_id where c.employee_id = any($1::uuid[]) "
    "and c.superseded_by_id is null and c.revoked_at is null "
    "and (c.expires_on is null or c.expires_on >= current_date)",
    "select employee_id, level_id, since from employee_levels where employee_id = any($1::uuid[])",
    "select id, track_id, position, typical_months from track_levels",
    "select level_id, skill_id, min_proficiency from level_skills",
    "select level_id, credential_type_id from level_credentials",
    "select id, parent_id from skills",
]


async def floor_read(app_url: str, org: Org, ids: list[uuid.UUID]) -> tuple[float, int]:
    """FLOOR_SQL on raw asyncpg as upward_app in one transaction: (ms, rows)."""
    import asyncpg

    conn = await asyncpg.connect(app_url)
    try:
        for sql in FLOOR_SQL:  # prepare once, as asyncpg's statement cache would
            await conn.prepare(sql)
        t0 = time.perf_counter()
        rows = 0
        async with conn.transaction():
            await conn.fetchval("select set_config('app.tenant_id', $1, true)", str(org.id))
            for sql in FLOOR_SQL:
                got = await (conn.fetch(sql, ids) if "$1" in sql else conn.fetch(sql))
                rows += len(got)
        return (time.perf_counter() - t0) * 1000, rows
    finally:
        await conn.close()


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    import httpx

    from upward import clock
    from upward.app import create_app
    from upward.auth.tokens import mint_token
    from upward.db import dispose_engines, tenant_session
    from upward.development import readiness as core
    from upward.development import tracks
    from upward.graphql.relay import to_global_id
    from upward.people.service import Viewer
    from upward.settings import asyncpg_url, get_settings

    settings = get_settings()
    app_url = asyncpg_url(settings.app_url())
    conn = await asyncpg.connect(args.database_url)
    try:
        org = await load_org(conn, BIG)
        today = clock.today(org.timezone)
        dev = await ensure_development(conn, org, args, today)
    finally:
        await conn.close()
    print(
        "generate: development data " + ("written" if dev.generated else "already there"),
        file=sys.stderr,
    )
    principal = _principal(org)
    viewer = Viewer(principal)
    counter = StatementCounter()
    idle: list[float] = []
    out: dict[str, Any] = {"org": org, "dev": dev, "today": today, "idle": idle}
    _idle(idle, "before measuring")
    app = create_app()
    counter.attach()
    try:
        # (a) who has a next rung
        async with tenant_session(org.id) as s:
            nxt = await tracks.next_levels(s, [p["id"] for p in org.people])
            graph = await tracks.move_graph(s)
        targets = {e: lv for e, lv in nxt.items() if lv is not None}
        people = sorted(targets, key=str)
        out["placed"], out["at_top"] = len(nxt), len(nxt) - len(targets)

        # one by one, each in its own tenant session (as a request would)
        one = Row("readiness_for, one person per session")
        one_scores: dict[uuid.UUID, float] = {}
        for e in people[: min(20, len(people))]:  # warm-up
            async with tenant_session(org.id) as s:
                await tracks.readiness_for(s, principal, viewer, employee_id=e, level_id=targets[e])
        t_start = time.perf_counter()
        for e in people:
            counter.count = 0
            t0 = time.perf_counter()
            async with tenant_session(org.id) as s:
                r = await tracks.readiness_for(
                    s, principal, viewer, employee_id=e, level_id=targets[e], on=today
                )
            one.ms.append((time.perf_counter() - t0) * 1000)
            one.statements.add(counter.count)
            one_scores[e] = r.score
        one.total_s = time.perf_counter() - t_start
        one.people = len(people)

        # batched
        _idle(idle, "between runs")
        batch = Row(f"readiness_many, {args.batch} people per session")
        batch_scores: dict[uuid.UUID, float] = {}
        chunks = [people[i : i + args.batch] for i in range(0, len(people), args.batch)]
        async with tenant_session(org.id) as s:  # warm-up
            await tracks.readiness_many(
                s, principal, viewer, targets={e: targets[e] for e in chunks[0]}, on=today
            )
        for _ in range(max(1, args.rounds)):
            for chunk in chunks:
                counter.count = 0
                t0 = time.perf_counter()
                async with tenant_session(org.id) as s:
                    got = await tracks.readiness_many(
                        s, principal, viewer, targets={e: targets[e] for e in chunk}, on=today
                    )
                batch.ms.append((time.perf_counter() - t0) * 1000)
                batch.statements.add(counter.count)
                batch_scores.update({e: r.score for e, r in got.items()})
        batch.people = len(people) * max(1, args.rounds)
        everyone = Row(f"readiness_many, all {len(people):,} in one session")
        for _ in range(max(1, args.rounds)):
            counter.count = 0
            t0 = time.perf_counter()
            async with tenant_session(org.id) as s:
                got = await tracks.readiness_many(s, principal, viewer, targets=targets, on=today)
            everyone.ms.append((time.perf_counter() - t0) * 1000)
            everyone.statements.add(counter.count)
        everyone.people = len(people) * max(1, args.rounds)
        all_scores = {e: r.score for e, r in got.items()}
        problems = []
        for e in people:
            if not (one_scores[e] == batch_scores.get(e) == all_scores.get(e)):
                problems.append(
                    f"{e}: one by one {one_scores[e]}, batched {batch_scores.get(e)}, "
                    f"all {all_scores.get(e)}"
                )
        if problems:
            raise BenchError(
                f"{len(problems)} people differ between the paths:\n  " + "\n  ".join(problems[:10])
            )

        # floors: raw reads, and the pure scorer over values in memory
        floor = Row("floor: the same tables, raw asyncpg (7 statements)")
        rows_read = 0
        for _ in range(max(1, args.rounds) + 1):
            ms, rows_read = await floor_read(app_url, org, people)
            floor.ms.append(ms)
        floor.ms = floor.ms[1:]  # the first one warms the server's caches
        floor.people = len(people) * len(floor.ms)
        floor.statements = {len(FLOOR_SQL) + 1}
        async with tenant_session(org.id) as s:
            rated = await tracks.ratings_of(s, principal, viewer, people)
            held = await tracks.valid_credentials(s, principal, people)
            levels = await tracks.levels_by_ids(s, list(graph))
            details = await tracks.details_of(s, list(graph))
            parents = await tracks._parents(s)
            places = await tracks.placements_of(s, people)
        inputs = []
        for e in people:
            best: dict[uuid.UUID, int] = {}
            for r in rated[e]:
                best[r.skill_id] = max(best.get(r.skill_id, 0), r.proficiency)
            creds = tuple(
                core.HeldCredential(c["credential_type_id"], c["id"], c["expires_on"])
                for c in held[e]
            )
            place = places[e]
            person = core.Person(best, creds, tracks.months_in_level(place.since, today))
            inputs.append((e, person, tracks._target(details[targets[e]], levels[place.level_id])))
        pure = Row("floor: pure readiness() alone, no I/O")
        for _ in range(max(1, args.rounds)):
            t_all = time.perf_counter()
            for e, person, target in inputs:
                r = core.readiness(person, target, today, parents)
                if r.score != one_scores[e]:
                    raise BenchError(f"{e}: the pure scorer says {r.score}, the service "
                                     f"{one_scores[e]}")  # fmt: skip
            pure.ms.append((time.perf_counter() - t_all) * 1000)
        pure.people = len(people) * len(pure.ms)
        pure.statements = {0}

        # (a) through GraphQL, and (b) careerPaths, over HTTP with the app's lifespan
        _idle(idle, "before the GraphQL runs")
        tok = mint_token(tenant=org.slug, subject=f"admin@{org.slug}.example")
        rng = random.Random(f"upward-bench-development-paths-{GEN_VERSION}")
        sample = rng.sample(people, min(args.graphql_sample, len(people)))
        pairs = []
        for e in rng.sample(people, len(people)):
            if len(pairs) >= args.paths:
                break
            start = dev.placements[e]
            others = [t for i, t in enumerate(dev.tracks) if i != dev.level_track[start]]
            goal = rng.choice(rng.choice(others)["levels"])
            if core.career_paths(graph, start, goal, 1):
                pairs.append((e, start, goal))
        gql_ready = Row("readiness (GraphQL, one person a request)")
        gql_paths = Row(f"careerPaths first: 3 (GraphQL, {len(pairs)} pairs)")
        pure_paths = Row("floor: pure career_paths() alone, k = 3")
        path_lengths: list[int] = []
        api = Api(None, counter, settings.max_body_bytes)
        lifespan = app.router.lifespan_context(app)
        async with (
            lifespan,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://upward.test", timeout=600
            ) as client,
        ):
            api.client = client
            for i, e in enumerate(sample[:WARMUP] + sample):
                v = {"e": to_global_id("Employee", e), "l": to_global_id("TrackLevel", targets[e])}
                ms, n, data = await api.call("readiness", READINESS_QUERY, v, tok)
                if i < WARMUP:
                    continue
                gql_ready.ms.append(ms)
                gql_ready.statements.add(n)
                if data["readiness"]["score"] != one_scores[e]:
                    raise BenchError(f"readiness over GraphQL differs for {e}")
            gql_ready.people = len(gql_ready.ms)
            variables = [
                {"e": to_global_id("Employee", e), "l": to_global_id("TrackLevel", goal)}
                for e, _, goal in pairs
            ]
            for _ in range(WARMUP):
                await api.call("careerPaths", PATHS_QUERY, variables[0], tok)
            for _ in range(args.repeat):
                for (_e, start, goal), v in zip(pairs, variables, strict=True):
                    ms, n, data = await api.call("careerPaths", PATHS_QUERY, v, tok)
                    gql_paths.ms.append(ms)
                    gql_paths.statements.add(n)
                    t0 = time.perf_counter()
                    found = core.career_paths(graph, start, goal, 3)
                    pure_paths.ms.append((time.perf_counter() - t0) * 1000)
                    if len(data["careerPaths"]) != len(found):
                        raise BenchError(
                            f"careerPaths: {len(data['careerPaths'])} paths, the pure finder "
                            f"{len(found)}"
                        )
            path_lengths = [len(p) for _, s, g in pairs for p in core.career_paths(graph, s, g, 3)]
        pure_paths.statements = {0}
        out.update(
            {
                "readiness": [one, gql_ready, batch, everyone, floor, pure],
                "paths": [gql_paths, pure_paths],
                "rows_read": rows_read,
                "graph": graph,
                "path_lengths": path_lengths,
                "slow": api.slow,
            }
        )
    finally:
        counter.detach()
        await dispose_engines()
    _idle(idle, "after measuring")
    return out


def _ms(v: float) -> str:
    if math.isnan(v):
        return "       -"
    return f"{v:8.3f}" if v < 1 else f"{v:8.1f}"


def _print(args: argparse.Namespace, r: dict[str, Any]) -> None:
    org, dev = r["org"], r["dev"]
    rows = dev.rows
    graph = r["graph"]
    edges = sum(len(v) for v in graph.values())
    print()
    print(
        f"development bench: 1 tenant x {len(org.people):,} employees ({r['today'].isoformat()}), "
        f"{len(rows['skills'])} skills, {len(rows['credential_types'])} credential types"
    )
    print(
        f"  {len(rows['career_tracks'])} tracks, {len(rows['track_levels'])} levels "
        f"({len(rows['level_skills']):,} expected skills, {len(rows['level_credentials'])} "
        f"required credential types), {len(rows['level_links'])} lateral links; move graph "
        f"{len(graph)} levels, {edges} moves"
    )
    print(
        f"  {len(rows['employee_skills']):,} ratings, {len(rows['credentials']):,} credentials; "
        f"{r['placed']:,} placed, {r['at_top']:,} at the top rung (no next level); "
        f"floor read {r['rows_read']:,} rows"
    )
    print(
        f"  service calls in tenant sessions as upward_app; GraphQL in-process over "
        f"httpx.ASGITransport with the app's lifespan, one request at a time; {os.cpu_count()} "
        f"CPUs; commit {_commit()}"
    )
    busy = max(r["idle"])
    print(
        "  other load (busy CPU while the bench paused): "
        + " / ".join(f"{b:.2f}" for b in r["idle"])
        + f" cores{' -- NOISY, compare with care' if busy > 0.25 else ''}"
    )
    print()
    head = f"{'(a) readiness against the next level':<52}"
    print(f"{head} {'total s':>8} {'people/s':>9} {'p50 ms':>8} {'p99 ms':>8}   statements")
    for row in r["readiness"]:
        print(
            f"{row.label:<52} {row.total:8.2f} {row.rate:9,.0f} {_ms(row.p50)} {_ms(row.p99)}   "
            f"{'/'.join(str(n) for n in sorted(row.statements)) or '-'}"
        )
    print("  (p50/p99: per call: one person, or one batch; total and people/s over all calls)")
    print()
    lengths = Counter(r["path_lengths"])
    print(f"{'(b) careerPaths on the ladder graph':<52} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}"
          f"   statements")  # fmt: skip
    for row in r["paths"]:
        mean = statistics.fmean(row.ms) if row.ms else math.nan
        print(
            f"{row.label:<52} {_ms(row.p50)} {_ms(row.p99)} {_ms(mean)}   "
            f"{'/'.join(str(n) for n in sorted(row.statements)) or '-'}"
        )
    print(
        f"  {args.repeat} rounds over the pairs; paths found by length (levels): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(lengths.items()))
    )
    for s in r["slow"]:
        print(f"SLOW (above {SLOW_MS:.0f} ms): {s}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.development",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--employees", type=int, default=5000)
    p.add_argument("--skills", type=int, default=300)
    p.add_argument("--tracks", type=int, default=20)
    p.add_argument("--levels", type=int, default=10, help="levels per track")
    p.add_argument("--batch", type=int, default=500, help="people per readiness_many call")
    p.add_argument("--rounds", type=int, default=3, help="runs of the batched paths and floors")
    p.add_argument("--repeat", type=int, default=20, help="rounds of careerPaths over the pairs")
    p.add_argument("--paths", type=int, default=50, help="(person, target) pairs for paths")
    p.add_argument("--graphql-sample", type=int, default=200, help="readiness queries over HTTP")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DEVELOPMENT_DATABASE_URL", DEFAULT_URL),
        help="owner URL (default: $BENCH_DEVELOPMENT_DATABASE_URL or %(default)s)",
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = p.parse_args(argv)
    if min(args.employees, args.tracks, args.levels, args.batch, args.repeat, args.paths) < 1:
        p.error("--employees, --tracks, --levels, --batch, --repeat and --paths must be >= 1")
    if args.skills < sum(len(names) for _, names in FAMILIES):
        p.error(f"--skills must be at least {sum(len(names) for _, names in FAMILIES)}")
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
    """Before `generate` replaces a tenant of another size: its development data goes first
    (it points at employees)."""
    import asyncpg

    from bench.generate import DEPARTMENTS, LOCATIONS, _shape, slug_of

    with contextlib.suppress(asyncpg.InvalidCatalogNameError):
        conn = await asyncpg.connect(url)
        try:
            if await conn.fetchval("select to_regclass('public.employees')") is None:
                return
            shape = await _shape(conn, slug_of(BIG))
            if shape is not None and shape != (len(DEPARTMENTS), len(LOCATIONS), employees, 1):
                tid = await conn.fetchval("select id from tenants where slug = $1", slug_of(BIG))
                async with conn.transaction():
                    await _delete_development(conn, tid)
        finally:
            await conn.close()


if __name__ == "__main__":
    raise SystemExit(main())
