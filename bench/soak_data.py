"""Soak data: bench/generate.py's org charts plus what the soak's mix reads and writes.

    python -m bench.soak_data [--tenants 100] [--employees 500] [--database-url URL]

On the database `upward_soak` (created and migrated by `python -m bench.soak`; this module only
fills it), as the owner, deterministic and idempotent (what is there is kept):

1. `bench-001` ... with M employees each and their org charts (bench/generate.py, COPY);
2. one HR admin per tenant (the first individual contributor by email, `hr_admin`), and an
   `externalId` for everyone (`E000001` ... by email: what an HRIS sync keys on);
3. four company values per tenant (a kudos must name one when the company has any), and a
   tenant default reminder policy: the built-in ladder on the in-app channel only. Generated
   credentials all start their reminder ladders at once, and the first scheduler pass plans
   reminders for ~20,000 of them across 100 tenants; by email (one SMTP session each) the
   workers would take many minutes to deliver that backlog before the load can start. Email
   stays on the path through what the load itself causes (kudos notify by in-app and email);
4. credential types, 20 requirement rules and the credentials people hold, with the mix of
   states of bench/credentials.py (active, expiring, expired, pending, superseded renewals),
   as of the day they were generated (kept afterwards: the states age, which a soak does not
   mind);
5. 30 in-app notifications in the inbox of each person the soak signs in as (a third unread).

`cast()` then picks, per tenant, the people the soak signs in as (admin, HR, managers, individual
contributors) and the rows its requests name; all set-based reads, ordered, so two runs pick the
same people. See docs/performance.md, "Load and soak".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/soak_data.py`
    sys.path.insert(0, str(ROOT))

from bench.generate import admin_email, generate, slug_of  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/upward_soak"
RULES = 20  # credential requirement rules per tenant (bench/credentials.py's first 20)
VALUES = [
    ("Customers first", "Start from what the customer needs"),
    ("Own it", "Finish what you start"),
    ("Better together", "Help each other win"),
    ("Keep learning", "Grow every day"),
]
SEED_NOTIFICATIONS = 30  # per signed-in person
MANAGERS, ICS, TOGGLES, SYNC_ROWS = 3, 8, 10, 25  # per tenant
ACTING = " (acting)"  # the suffix updateEmployee toggles on a title


@dataclass
class Person:
    id: uuid.UUID
    email: str
    name: str
    title: str | None = None
    reports: list[uuid.UUID] = field(default_factory=list)


@dataclass
class Cast:
    """One tenant as the soak uses it."""

    index: int
    id: uuid.UUID
    slug: str
    admin: Person
    hr: Person
    managers: list[Person]  # with their direct reports
    ics: list[Person]  # individual contributors who sign in (kudos, inbox)
    toggles: list[Person]  # whose title updateEmployee toggles (nobody else's changes)
    sync_rows: list[dict[str, Any]]  # upsertEmployees rows equal to what is stored
    department_ids: list[uuid.UUID]
    value_ids: list[uuid.UUID]
    search_terms: list[str]

    @property
    def web_users(self) -> list[Person]:
        return [self.admin, self.hr, *self.managers, *self.ics]


def _log(quiet: bool, msg: str) -> None:
    if not quiet:
        print(msg, file=sys.stderr)


async def prepare(url: str, tenants: int, employees: int, *, quiet: bool = False) -> list[Cast]:
    """Make sure every part of the soak data is there (each part skips what exists); returns
    the tenants' casts."""
    import asyncpg

    from bench.credentials import load_org

    t_start = time.perf_counter()
    await generate(url, tenants, employees, quiet=quiet)
    slugs = [slug_of(i) for i in range(1, tenants + 1)]
    conn = await asyncpg.connect(url)
    try:
        ids = [r["id"] for r in await conn.fetch(_TENANTS_SQL, slugs)]
        # a run toggles some titles (updateEmployee): put them back, so that the credential
        # generator (whose rules select by title) sees the same people every time
        await conn.execute(
            f"update employees set title = left(title, -length('{ACTING}')) "
            f"where tenant_id = any($1::uuid[]) and title like '%{ACTING}'",
            ids,
        )
        # 2. an HR admin per tenant, external ids
        t0 = time.perf_counter()
        hr = await conn.execute(_HR_SQL, ids)
        ext = await conn.execute(_EXTERNAL_ID_SQL, ids)
        # 3. company values
        vals = await conn.execute(
            """
            insert into company_values (tenant_id, name, description, position)
            select t.id, v.name, v.description, v.position
            from unnest($1::uuid[]) t(id),
                 unnest($2::text[], $3::text[], $4::int[]) v(name, description, position)
            on conflict do nothing
            """,
            ids,
            [v[0] for v in VALUES],
            [v[1] for v in VALUES],
            list(range(len(VALUES))),
        )
        # the tenant default reminder policy: the built-in ladder, in-app only (see the docstring)
        pol = await conn.execute(
            """
            insert into reminder_policies (tenant_id, name, steps)
            select t.id, 'Soak: the built-in ladder, in-app', $2::jsonb from unnest($1::uuid[]) t(id)
            on conflict do nothing
            """,
            ids,
            json.dumps(in_app_ladder()),
        )
        changed = any(int(s.split()[-1]) for s in (hr, ext, vals, pol))
        _log(
            quiet,
            f"soak data: HR admins {hr.split()[-1]}, external ids {ext.split()[-1]}, "
            f"company values {vals.split()[-1]}, reminder policies {pol.split()[-1]} added in "
            f"{time.perf_counter() - t0:.1f}s",
        )
        # 4. credentials (bench/credentials.py's generator, per tenant; skipped when current)
        t0 = time.perf_counter()
        today = date.today()
        made = 0
        from bench.credentials import GEN_VERSION as CRED_VERSION

        # generated once, as of the day it ran (the states age with the days, which a soak
        # does not mind); regenerating 100 tenants' takes minutes
        pattern = f"bench.credentials v{CRED_VERSION} on % rules={RULES}"
        current = await conn.fetchval(
            "select count(*) = $3::int * $4::int "
            "and count(*) filter (where notes not like $2) = 0 "
            "from credential_requirements where tenant_id = any($1::uuid[])",
            ids,
            pattern,
            len(ids),
            RULES,
        )
        for i in range(1, tenants + 1) if not current else ():
            made += await _credentials(conn, await load_org(conn, i), today)
        changed = changed or bool(made)
        _log(
            quiet,
            f"soak data: credentials of {made} tenants generated ({tenants - made} current) "
            f"in {time.perf_counter() - t0:.1f}s",
        )
        # 5. inbox notifications of the people who sign in
        t0 = time.perf_counter()
        casts = await cast(conn, tenants)
        seeded = 0
        now = datetime.now(UTC)
        have = await conn.fetchval(
            "select count(*) from notifications where tenant_id = any($1::uuid[]) "
            "and idempotency_key like 'soak-seed:%'",
            ids,
        )
        want = sum(len(c.web_users) for c in casts) * SEED_NOTIFICATIONS
        for c in casts if have != want else ():
            people = [p.id for p in c.web_users]
            status = await conn.execute(
                """
                insert into notifications (tenant_id, recipient_id, kind, idempotency_key,
                    subject, body, data, channels, created_at, read_at)
                select $1, p.id, 'event', 'soak-seed:' || n || ':' || p.id,
                       'Welcome note ' || n, 'A note the soak seeded, number ' || n,
                       '{"event": "soak.seed"}'::jsonb, array['in_app'],
                       $3::timestamptz - make_interval(hours => n),
                       case when n % 3 = 0 then null
                            else $3::timestamptz - make_interval(hours => n) end
                from unnest($2::uuid[]) p(id), generate_series(1, $4) n
                on conflict (tenant_id, idempotency_key) do nothing
                """,
                c.id,
                people,
                now,
                SEED_NOTIFICATIONS,
            )
            seeded += int(status.split()[-1])
        _log(
            quiet,
            f"soak data: {seeded} inbox notifications seeded in {time.perf_counter() - t0:.1f}s",
        )
        if changed or seeded:
            await conn.execute(
                "vacuum analyze employees, company_values, notifications, credential_types, "
                "credential_requirements, evidence_files, credentials"
            )
    finally:
        await conn.close()
    _log(quiet, f"soak data ready in {time.perf_counter() - t_start:.1f}s")
    return casts


def in_app_ladder() -> list[dict[str, Any]]:
    from dataclasses import replace

    from upward.reminders.planner import DEFAULT_STEPS
    from upward.reminders.policies import step_to_json

    return [step_to_json(replace(s, channels=frozenset({"in_app"}))) for s in DEFAULT_STEPS]


async def _credentials(conn: Any, org: Any, today: date) -> bool:
    """bench/credentials.py's `ensure_credentials` without its VACUUM per tenant (one at the
    end instead: per tenant it made 100 tenants take minutes). True when written."""
    from bench import credentials as bc

    data = bc.credential_data(org, RULES, today)
    have = await conn.fetchrow(
        """
        select (select count(*) from credential_types where tenant_id = $1) as types,
               (select count(*) from credential_requirements where tenant_id = $1) as rules,
               (select count(*) from credential_requirements where tenant_id = $1
                  and notes is distinct from $2) as foreign_rules,
               (select count(*) from evidence_files where tenant_id = $1) as evidence,
               (select count(*) from credentials where tenant_id = $1) as credentials
        """,
        org.id,
        data["marker"],
    )
    want = (len(data["types"]), len(data["rules"]), 0, len(data["evidence"]))
    if tuple(have) == (*want, len(data["credentials"])):
        return False
    async with conn.transaction():
        await bc._delete_credentials(conn, org.id)
        for table, rows, columns in (
            ("credential_types", data["types"], bc.TYPE_COLUMNS),
            ("credential_requirements", data["rules"], bc.REQUIREMENT_COLUMNS),
            ("evidence_files", data["evidence"], bc.EVIDENCE_COLUMNS),
            ("credentials", data["credentials"], bc.CREDENTIAL_COLUMNS),
        ):
            await conn.copy_records_to_table(table, records=rows, columns=columns)
    return True


_TENANTS_SQL = "select id from tenants where slug = any($1::text[]) order by slug"

# the first individual contributor (no reports, no roles) by email, where the tenant has no HR
_HR_SQL = """
update employees e set roles = array['hr_admin'], updated_at = now()
from (
  select distinct on (c.tenant_id) c.tenant_id, c.id
  from employees c
  where c.tenant_id = any($1::uuid[]) and c.status = 'active' and c.roles = '{}'
    and not exists (select 1 from employees r where r.tenant_id = c.tenant_id
                    and r.manager_id = c.id)
    and not exists (select 1 from employees h where h.tenant_id = c.tenant_id
                    and 'hr_admin' = any(h.roles))
  order by c.tenant_id, c.email
) pick
where e.tenant_id = pick.tenant_id and e.id = pick.id
"""

_EXTERNAL_ID_SQL = """
update employees e set external_id = x.ext
from (
  select tenant_id, id,
         'E' || lpad((row_number() over (partition by tenant_id order by email))::text, 6, '0')
           as ext
  from employees where tenant_id = any($1::uuid[])
) x
where e.tenant_id = x.tenant_id and e.id = x.id and e.external_id is null
"""

_PEOPLE_SQL = """
select e.id, e.email, e.name, e.title, e.roles, e.external_id, e.manager_id, d.name as department,
       m.external_id as manager_external_id
from employees e
left join departments d on d.tenant_id = e.tenant_id and d.id = e.department_id
left join employees m on m.tenant_id = e.tenant_id and m.id = e.manager_id
where e.tenant_id = $1 and e.status = 'active'
order by e.email
"""


async def cast(conn: Any, tenants: int) -> list[Cast]:
    """Who signs in, and the rows the requests name, per tenant (deterministic)."""
    out: list[Cast] = []
    for i in range(1, tenants + 1):
        slug = slug_of(i)
        tid = await conn.fetchval("select id from tenants where slug = $1", slug)
        if tid is None:
            raise RuntimeError(f"tenant {slug} is missing: generate the data first")
        rows = await conn.fetch(_PEOPLE_SQL, tid)
        by_manager: dict[uuid.UUID, list[uuid.UUID]] = {}
        for r in rows:
            if r["manager_id"] is not None:
                by_manager.setdefault(r["manager_id"], []).append(r["id"])

        def person(r: Any, by_manager: dict[uuid.UUID, list[uuid.UUID]] = by_manager) -> Person:
            return Person(r["id"], r["email"], r["name"], r["title"], by_manager.get(r["id"], []))

        admin = next((r for r in rows if r["email"] == admin_email(slug)), None)
        hr = next((r for r in rows if "hr_admin" in r["roles"] and r is not admin), None)
        if admin is None or hr is None:
            raise RuntimeError(f"{slug}: no tenant admin or HR admin (run bench.soak_data)")
        managers = [r for r in rows if r["id"] in by_manager and r is not admin][:MANAGERS]
        plain = [r for r in rows if r["id"] not in by_manager and not r["roles"]]
        ics = plain[:ICS]
        toggles = plain[ICS : ICS + TOGGLES]
        taken = {r["id"] for r in (admin, hr, *managers, *ics, *toggles)}
        sync = [r for r in reversed(rows) if r["id"] not in taken][:SYNC_ROWS]
        if len(managers) < MANAGERS or len(ics) < ICS or len(toggles) < TOGGLES:
            raise RuntimeError(f"{slug}: too few people for the soak (use --employees >= 100)")
        deps = await conn.fetch("select id from departments where tenant_id = $1 order by id", tid)
        vals = await conn.fetch(
            "select id from company_values where tenant_id = $1 and active order by position", tid
        )
        surnames = sorted({r["name"].split()[-1] for r in rows})
        out.append(
            Cast(
                index=i,
                id=tid,
                slug=slug,
                admin=person(admin),
                hr=person(hr),
                managers=[person(r) for r in managers],
                ics=[person(r) for r in ics],
                toggles=[person(r) for r in toggles],
                sync_rows=[
                    {
                        "externalId": r["external_id"],
                        "email": r["email"],
                        "name": r["name"],
                        "department": r["department"],
                        "managerExternalId": r["manager_external_id"],
                    }
                    for r in sync
                ],
                department_ids=[d["id"] for d in deps],
                value_ids=[v["id"] for v in vals],
                search_terms=[s[:4] for s in surnames[:: max(1, len(surnames) // 12)]][:12],
            )
        )
    return out


async def counts(conn: Any) -> dict[str, int]:
    """Rows the soak's writes and the workers add to (printed before and after a run)."""
    row = await conn.fetchrow(
        """
        select (select count(*) from kudos) as kudos,
               (select count(*) from notifications) as notifications,
               (select count(*) from deliveries where status = 'sent') as deliveries_sent,
               (select count(*) from deliveries where status = 'pending') as deliveries_pending,
               (select count(*) from deliveries where status = 'pending'
                  and next_attempt_at <= now()) as deliveries_due,
               (select count(*) from deliveries where status = 'dead') as deliveries_dead,
               (select count(*) from audit_events) as audit_events,
               (select count(*) from reminders) as reminders
        """
    )
    return dict(row)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.soak_data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tenants", type=int, default=int(os.environ.get("SOAK_TENANTS", 100)))
    p.add_argument("--employees", type=int, default=int(os.environ.get("SOAK_EMPLOYEES", 500)))
    p.add_argument(
        "--database-url",
        default=os.environ.get("SOAK_DATABASE_URL", DEFAULT_URL),
        help="owner URL of a migrated database (default %(default)s)",
    )
    args = p.parse_args(argv)
    asyncio.run(prepare(args.database_url, args.tenants, args.employees))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
