"""Benchmark data: N tenants x M employees with a realistic org chart.

    python -m bench.generate [--tenants 20] [--employees 5000] [--database-url URL] [--force]

Tenants are `bench-001`, `bench-002`, ...; each gets ~20 departments, ~8 locations and M active
employees: a CEO (`admin@bench-NNN.example`, tenant_admin, the account the bench signs in as),
then managers with 5-10 direct reports each, level by level, down to individual contributors.

Rows are written as the owner (DATABASE_URL, a superuser here, so RLS does not apply) with COPY,
one transaction per tenant, managers before their reports. Deterministic (seeded per tenant), and
idempotent: a tenant that already has the same shape is skipped, so a re-run takes a second. A
tenant with another shape (e.g. a different --employees) is deleted and regenerated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections import deque
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/upward_bench"
GEN_VERSION = 1  # bump when the shape of the data changes, to regenerate

DEPARTMENTS = [
    ("Engineering", "ENG"),
    ("Product", "PRD"),
    ("Design", "DSN"),
    ("Sales", "SLS"),
    ("Marketing", "MKT"),
    ("Customer Success", "CS"),
    ("Support", "SUP"),
    ("Finance", "FIN"),
    ("Legal", "LGL"),
    ("People", "PPL"),
    ("Recruiting", "REC"),
    ("IT", "IT"),
    ("Security", "SEC"),
    ("Data", "DAT"),
    ("Operations", "OPS"),
    ("Facilities", "FAC"),
    ("Research", "RES"),
    ("Partnerships", "PRT"),
    ("Procurement", "PRC"),
    ("Quality", "QA"),
]
LOCATIONS = [
    ("New York", "America/New_York", "US"),
    ("San Francisco", "America/Los_Angeles", "US"),
    ("Austin", "America/Chicago", "US"),
    ("London", "Europe/London", "GB"),
    ("Berlin", "Europe/Berlin", "DE"),
    ("Paris", "Europe/Paris", "FR"),
    ("Bangalore", "Asia/Kolkata", "IN"),
    ("Singapore", "Asia/Singapore", "SG"),
]
FIRST = (  # noqa: SIM905 - compact name lists
    "Aaliyah Aaron Abigail Adam Adrian Aisha Alex Alice Amara Amelia Ana Andre Andrew Angela "
    "Anika Anna Arjun Ava Ben Bianca Brian Camila Carlos Caroline Chen Chloe Chris Clara Daniel "
    "Dana David Diego Elena Eli Elif Emma Erik Ethan Fatima Felix Fiona Gabriel Grace Hana Hannah "
    "Hiro Ibrahim Isabel Ivan Jack Jada James Jin Joao Jonas Jose Julia Kai Kate Kenji Kofi Lara "
    "Leo Liam Lina Lucas Luis Maya Mei Mia Miguel Mohammed Nadia Naomi Nina Noah Olivia Omar Oscar "
    "Priya Rafael Rahul Rosa Ryan Sam Sara Sofia Tariq Theo Uma Victor Wei Yara Yusuf Zara Zoe"
).split()
LAST = (  # noqa: SIM905
    "Abbott Adams Ahmed Alvarez Anderson Bauer Becker Brown Campbell Chen Clarke Cohen Costa "
    "Das Davis Diaz Dubois Evans Fischer Fernandez Garcia Gomez Gupta Hall Hansen Harris Hoffmann "
    "Huang Ito Jackson Jensen Johnson Kim King Kowalski Kumar Lee Lewis Li Lopez Martin Martinez "
    "Meyer Miller Moore Morales Muller Murphy Nakamura Nguyen Novak Okafor Olsen Park Patel Perez "
    "Petrov Quinn Reddy Richter Rivera Roberts Rossi Sanchez Santos Sato Schmidt Schneider Silva "
    "Singh Smith Suzuki Tanaka Taylor Thomas Thompson Torres Walker Wang Weber White Williams "
    "Wilson Wong Wright Yamamoto Yilmaz Young Zhang"
).split()
# title by depth in the org chart (0 = CEO); individual contributors use IC_TITLES
MANAGER_TITLES = [
    "Chief Executive Officer",
    "Vice President",
    "Director",
    "Senior Manager",
    "Manager",
    "Team Lead",
    "Team Lead",
    "Team Lead",
]
MANAGER_LEVELS = ["E9", "E8", "E7", "M6", "M5", "M4", "M4", "M4"]
IC_TITLES = [
    ("Associate", "L1"),
    ("Specialist", "L2"),
    ("Senior Specialist", "L3"),
    ("Staff Specialist", "L4"),
    ("Principal", "L5"),
]

EMPLOYEE_COLUMNS = (
    "tenant_id",
    "id",
    "email",
    "name",
    "title",
    "job_level",
    "manager_id",
    "department_id",
    "location_id",
    "roles",
    "status",
    "timezone",
    "hire_date",
    "created_at",
    "updated_at",
)


def slug_of(i: int) -> str:
    return f"bench-{i:03d}"


def admin_email(slug: str) -> str:
    return f"admin@{slug}.example"


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def tenant_rows(index: int, employees: int) -> dict[str, list[tuple]]:
    """Rows for one tenant, deterministic in (index, employees). Employees top-down."""
    slug = slug_of(index)
    rng = random.Random(f"upward-bench-{GEN_VERSION}-{index}")
    tid = _uuid(rng)
    now = datetime.now(UTC)
    tz = LOCATIONS[index % len(LOCATIONS)][1]
    tenant = (tid, slug, f"Bench Tenant {index:03d}", tz)

    deps = [(tid, _uuid(rng), name, code, now, now) for name, code in DEPARTMENTS]
    locs = [(tid, _uuid(rng), name, ltz, country, now, now) for name, ltz, country in LOCATIONS]
    dep_ids = [d[1] for d in deps]
    loc_ids = [loc[1] for loc in locs]

    rows: list[list] = []
    depth_of: list[int] = []
    used_emails: set[str] = set()
    today = date.today()

    def make(manager: int | None) -> int:
        n = len(rows)
        if n == 0:
            name, email = "Avery Admin", admin_email(slug)
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first} {last}"
            base = f"{first}.{last}".lower()
            email = f"{base}@{slug}.example"
            k = 2
            while email in used_emails:
                email = f"{base}{k}@{slug}.example"
                k += 1
        used_emails.add(email)
        depth = 0 if manager is None else depth_of[manager] + 1
        mrow = rows[manager] if manager is not None else None
        # a department stays with its line most of the time; VPs own one each
        if mrow is None:
            dep = dep_ids[0]
        elif depth == 1 or rng.random() < 0.1:
            dep = rng.choice(dep_ids)
        else:
            dep = mrow[7]
        loc = mrow[8] if mrow is not None and rng.random() < 0.7 else rng.choice(loc_ids)
        hire = today - timedelta(days=rng.randint(30, 15 * 365))
        roles = ["tenant_admin"] if n == 0 else (["hr_admin"] if n % 997 == 0 else [])
        rows.append(
            [
                tid,
                _uuid(rng),
                email,
                name,
                None,
                None,
                mrow[1] if mrow is not None else None,
                dep,
                loc,
                roles,
                "active",
                None,
                hire,
                now,
                now,
            ]
        )
        depth_of.append(depth)
        return n

    # Breadth-first: the CEO, then each manager in turn gets 5-10 reports until everyone is
    # placed, so the chart fills level by level (about log7(M) levels) and rows come top-down.
    queue: deque[int] = deque([make(None)])
    has_reports: set[int] = set()
    while len(rows) < employees:
        manager = queue.popleft()
        for _ in range(rng.randint(5, 10)):
            if len(rows) >= employees:
                break
            has_reports.add(manager)
            queue.append(make(manager))
    for n, row in enumerate(rows):
        if n in has_reports:
            d = min(depth_of[n], len(MANAGER_TITLES) - 1)
            row[4], row[5] = MANAGER_TITLES[d], MANAGER_LEVELS[d]
        else:
            row[4], row[5] = rng.choices(IC_TITLES, weights=(15, 35, 30, 15, 5))[0]
    rows = [tuple(r) for r in rows]  # type: ignore[misc]
    return {"tenant": [tenant], "departments": deps, "locations": locs, "employees": rows}


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def ensure_database(url: str) -> None:
    """Create the database of `url` if missing (connects to the `postgres` database)."""
    name = urlsplit(url).path.lstrip("/")
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(with_database(url, "postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        print(f"created database {name}", file=sys.stderr)
    else:
        await conn.close()


async def copy_tenant(conn: asyncpg.Connection, data: dict[str, list[tuple]]) -> None:
    """COPY one tenant's `tenant_rows` (the registry row, departments, locations, employees)."""
    await conn.copy_records_to_table(
        "tenants", records=data["tenant"], columns=("id", "slug", "name", "timezone")
    )
    await conn.copy_records_to_table(
        "departments",
        records=data["departments"],
        columns=("tenant_id", "id", "name", "code", "created_at", "updated_at"),
    )
    await conn.copy_records_to_table(
        "locations",
        records=data["locations"],
        columns=("tenant_id", "id", "name", "timezone", "country", "created_at", "updated_at"),
    )
    await conn.copy_records_to_table(
        "employees", records=data["employees"], columns=EMPLOYEE_COLUMNS
    )


async def _shape(conn: asyncpg.Connection, slug: str) -> tuple[int, int, int, int] | None:
    row = await conn.fetchrow(
        """
        select t.id,
          (select count(*) from departments d where d.tenant_id = t.id) as deps,
          (select count(*) from locations l where l.tenant_id = t.id) as locs,
          (select count(*) from employees e where e.tenant_id = t.id) as emps,
          (select count(*) from employees e where e.tenant_id = t.id and e.email = $2) as admin
        from tenants t where t.slug = $1
        """,
        slug,
        admin_email(slug),
    )
    if row is None:
        return None
    return (row["deps"], row["locs"], row["emps"], row["admin"])


async def generate(
    url: str, tenants: int, employees: int, *, force: bool = False, quiet: bool = False
) -> dict[str, int]:
    """Make sure bench-001..N exist with M employees each. Returns counts created/skipped."""
    started = time.perf_counter()
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    created = skipped = 0
    try:
        if await conn.fetchval("select to_regclass('public.employees')") is None:
            raise SystemExit("the database is not migrated: run `python -m upward migrate` first")
        want = (len(DEPARTMENTS), len(LOCATIONS), employees, 1)
        for i in range(1, tenants + 1):
            slug = slug_of(i)
            shape = await _shape(conn, slug)
            if shape == want and not force:
                skipped += 1
                continue
            t0 = time.perf_counter()
            data = tenant_rows(i, employees)
            async with conn.transaction():
                if shape is not None:
                    # employees first: their manager FK is not ON DELETE CASCADE-friendly in bulk
                    tid = await conn.fetchval("select id from tenants where slug = $1", slug)
                    await conn.execute("delete from employees where tenant_id = $1", tid)
                    await conn.execute("delete from tenants where id = $1", tid)
                await copy_tenant(conn, data)
            created += 1
            if not quiet:
                print(
                    f"  {slug}: {employees} employees in {time.perf_counter() - t0:.2f}s",
                    file=sys.stderr,
                )
        extra = await conn.fetchval(
            "select count(*) from tenants where slug like 'bench-%' and slug > $1", slug_of(tenants)
        )
        if created:
            # vacuum too: fresh COPYs leave the visibility map empty, so index-only scans
            # (the page's count) would visit the heap until autovacuum comes by
            await conn.execute("vacuum analyze tenants, departments, locations, employees")
    finally:
        await conn.close()
    elapsed = time.perf_counter() - started
    note = f" ({extra} more bench tenants beyond {slug_of(tenants)} left alone)" if extra else ""
    print(
        f"generate: {tenants} tenants x {employees} employees: {created} generated, "
        f"{skipped} already there, {elapsed:.1f}s{note}",
        file=sys.stderr,
    )
    return {"created": created, "skipped": skipped}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tenants", type=int, default=int(os.environ.get("BENCH_TENANTS", 20)))
    p.add_argument("--employees", type=int, default=int(os.environ.get("BENCH_EMPLOYEES", 5000)))
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="owner URL (default: $BENCH_DATABASE_URL or %(default)s)",
    )
    p.add_argument("--force", action="store_true", help="regenerate even if the shape matches")
    args = p.parse_args(argv)
    if args.tenants < 1 or args.employees < 1:
        p.error("--tenants and --employees must be at least 1")
    asyncio.run(generate(args.database_url, args.tenants, args.employees, force=args.force))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
