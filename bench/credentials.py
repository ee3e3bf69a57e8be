"""Credentials benchmark: the compliance report and the CSV import, against raw-SQL floors.

    python -m bench.credentials [--employees 5000] [--rules 20] [--repeat 20] [--import-rows 10000]

One command, one table. On its own database (`upward_bench_credentials`, created and migrated
when missing) it makes `bench-001` with an org chart of --employees people and `bench-002` with
1,000 (bench/generate.py), then per tenant a catalog of credential types, --rules requirement
rules (tenant-wide, per department, location, job level, job title and named people, some with
grace days) and the credentials people hold: about 70% of what is asked of them, a mix of
active, expiring, expired and pending verification, with superseded older renewals. Written as
the owner with COPY; deterministic (seeded) for a given date, and skipped when already there
(regenerated when the shape or the date changed: states are relative to today).

Then, in this process, through the real HTTP path (`create_app()` with its lifespan, driven by
httpx's ASGI transport as tests/conftest.py does, with a bearer token of the tenant admin):
- `complianceReport` today, on a past and on a future date, on the small tenant, and
  `employeeCompliance` of one person, with the floor below, measured round-robin (--repeat
  rounds after a warm-up, one request at a time): p50 / p95 / mean, and the SQL statements per
  request, counted with the hooks of tests/conftest.py (`count_statements`): the count must not
  grow with the number of people;
- the floor: the report's pairs statement (`_PAIRS_SQL`) on raw asyncpg as upward_app, and
  PostgreSQL's own planning + execution time of it (EXPLAIN ANALYZE, no rows sent);
- `importCredentials` of --import-rows CSV rows: a dry run, the real run and a re-run of the
  same file (every row `unchanged`), checked row by row; the floor: COPY of the same rows,
  rolled back.
Answers are checked against what the generator made (pairs per date, gaps, states); any error
from the API stops the bench, and requests above one second are listed under the table.
The imported rows (and the events and audit entries they caused) are deleted afterwards, and
before starting after an interrupted run, so every run measures the same data.
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import contextlib
import csv
import io
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # `python bench/credentials.py`
    sys.path.insert(0, str(ROOT))

from bench.generate import (  # noqa: E402
    DEPARTMENTS,
    LOCATIONS,
    _shape,
    admin_email,
    copy_tenant,
    ensure_database,
    generate,
    slug_of,
    tenant_rows,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/upward_bench_credentials"
GEN_VERSION = 1  # bump when the shape of the credential data changes, to regenerate
BIG, SMALL = 1, 2  # tenant indexes: bench-001 (--employees people) and bench-002
SMALL_EMPLOYEES = 1000
WARMUP = 3  # requests before measuring
IMPORT_REPEAT = 3  # dry runs, re-runs and floor COPYs measured (the median is shown)
SLOW_MS = 1000.0  # a request above this is reported as a problem

# name, category, validity in months (None: never expires), verification required, evidence
# required, issuing authority, number prefix
TYPES: list[tuple[str, str, int | None, bool, bool, str, str]] = [
    ("Code of Conduct", "training", 12, False, False, "Upward Academy", "COC"),
    ("Information Security Awareness", "training", 12, False, False, "Upward Academy", "ISA"),
    ("Data Privacy Training", "training", 24, False, False, "Upward Academy", "DPT"),
    ("Background Check", "clearance", 60, True, False, "Sterling", "BGC"),
    ("Anti-Harassment Training", "training", 24, False, False, "Upward Academy", "AHT"),
    ("First Aid", "certification", 36, True, False, "Red Cross", "FA"),
    ("Fire Warden", "training", 24, False, False, "National Fire Safety", "FW"),
    ("Workplace Safety Induction", "training", 12, False, False, "Upward Academy", "WSI"),
    ("AWS Certified Security", "certification", 36, True, False, "Amazon Web Services", "AWS"),
    ("CISSP", "certification", 36, True, False, "ISC2", "CISSP"),
    ("Export Control Training", "training", 12, False, False, "BIS", "EXP"),
    ("PCI DSS Awareness", "training", 12, False, False, "PCI SSC", "PCI"),
    ("Manager Essentials", "training", None, False, False, "Upward Academy", "MGR"),
    ("Leadership Ethics", "training", 24, False, False, "Upward Academy", "ETH"),
    ("ISO 9001 Internal Auditor", "certification", 36, True, False, "ISO", "ISO"),
    ("Certified Public Accountant", "license", None, True, False, "AICPA", "CPA"),
    ("Security Clearance", "clearance", 60, True, True, "Ministry of Defence", "SC"),
    # held by some, required of no one
    ("Project Management Professional", "certification", 36, False, False, "PMI", "PMP"),
    ("Certified Scrum Master", "certification", 24, False, False, "Scrum Alliance", "CSM"),
]
OPTIONAL_TYPES = ("PMP", "CSM")
# type code, selector (department / location name, job_level, job_title, or `employee`: the
# n-th person by email), grace days, effective from. The first 20 cover every kind of rule.
RULES: list[tuple[str, dict[str, Any], int, date | None]] = [
    ("COC", {}, 30, None),
    ("ISA", {}, 14, None),
    ("DPT", {}, 30, date(2025, 6, 1)),
    ("BGC", {}, 0, None),
    ("AWS", {"department": "Security"}, 90, None),
    ("AHT", {"location": "New York"}, 60, None),
    ("AHT", {"location": "San Francisco"}, 60, None),
    ("FW", {"department": "Facilities"}, 30, None),
    ("FA", {"location": "Bangalore"}, 60, None),
    ("EXP", {"department": "Sales"}, 0, None),
    ("MGR", {"job_title": "Manager"}, 90, None),
    ("MGR", {"job_title": "Team Lead"}, 90, None),
    ("ETH", {"job_level": "E8"}, 0, None),
    ("ETH", {"job_level": "E7"}, 0, None),
    ("PCI", {"department": "Support"}, 0, None),
    ("WSI", {"location": "Berlin"}, 14, None),
    ("CISSP", {"department": "Security", "job_level": "L4"}, 60, None),
    ("SC", {"employee": 11}, 0, None),
    ("SC", {"employee": 222}, 0, None),
    ("CISSP", {"employee": 333}, 30, None),
    ("PCI", {"department": "Customer Success"}, 0, None),
    ("WSI", {"location": "London"}, 14, None),
    ("FA", {"department": "Facilities"}, 0, None),
    ("ISO", {"department": "Quality"}, 30, None),
    ("CPA", {"department": "Finance", "job_title": "Senior Specialist"}, 0, None),
]
EXTRA_RULE_TYPES = ("ISA", "EXP", "PCI", "WSI", "FA", "AHT", "DPT")  # beyond RULES, per department

TYPE_COLUMNS = (
    "tenant_id",
    "id",
    "name",
    "category",
    "description",
    "issuing_authority",
    "validity_months",
    "evidence_required",
    "verification_required",
    "renewal_lead_days",
    "status",
    "created_at",
    "updated_at",
)
REQUIREMENT_COLUMNS = (
    "tenant_id",
    "id",
    "credential_type_id",
    "job_title",
    "job_level",
    "department_id",
    "location_id",
    "employee_id",
    "effective_from",
    "grace_days",
    "notes",
    "created_at",
    "updated_at",
)
EVIDENCE_COLUMNS = (
    "tenant_id",
    "id",
    "employee_id",
    "uploaded_by",
    "file_name",
    "media_type",
    "size_bytes",
    "sha256",
    "storage_key",
    "status",
    "created_at",
    "stored_at",
)
CREDENTIAL_COLUMNS = (
    "tenant_id",
    "id",
    "employee_id",
    "credential_type_id",
    "number",
    "issuer",
    "issued_on",
    "expires_on",
    "notes",
    "evidence_id",
    "source",
    "verification",
    "verified_by",
    "verified_at",
    "superseded_by_id",
    "superseded_at",
    "created_by",
    "created_at",
    "updated_at",
)
IMPORT_COLUMNS = (
    "email",
    "credential_type",
    "number",
    "issuer",
    "issued_on",
    "expires_on",
    "notes",
)
FLOOR_IMPORT_COLUMNS = (
    "tenant_id",
    "employee_id",
    "credential_type_id",
    "number",
    "issuer",
    "issued_on",
    "expires_on",
    "notes",
    "source",
    "verification",
    "verified_at",
    "created_by",
)

REPORT_QUERY = (
    "query Report($on: Date) { complianceReport(on: $on) { people { total compliant rate } "
    "requirements { total compliant rate } "
    "byDepartment { total compliant rate department { name } } "
    "byLocation { total compliant location { name } } "
    "byCredentialType { total compliant credentialType { name } } states { state count } "
    "gaps(first: 100) { totalCount edges { node { employee { name email } "
    "answer { state graceUntil credentialType { name } } } } } } }"
)
EMPLOYEE_QUERY = (
    "query Person($id: ID!) { employeeCompliance(employeeId: $id) { on compliant "
    "requirements { state compliant validUntil graceUntil credentialType { name } "
    "credential { number expiresOn status } } } }"
)
IMPORT_QUERY = (
    "mutation Import($csv: String!, $dryRun: Boolean!) { importCredentials(csv: $csv, "
    "dryRun: $dryRun) { dryRun written total created updated unchanged errors "
    "rows { row outcome error column } } }"
)
FLOOR_SET_TENANT = "select set_config('app.tenant_id', $1, true)"


class BenchError(RuntimeError):
    pass


# --- data ----------------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def add_months(d: date, months: int) -> date:
    """As upward.credentials.service.add_months: same day, clamped to the month's end."""
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _at(d: date, hour: int, now: datetime) -> datetime:
    return min(datetime(d.year, d.month, d.day, hour, tzinfo=UTC), now)


@dataclass
class Org:
    """A tenant as the bench needs it: ids, people (ordered by email), departments, locations."""

    index: int
    id: uuid.UUID
    slug: str
    timezone: str
    admin_id: uuid.UUID
    people: list[Any]  # records: id, email, title, job_level, department_id, location_id, hire_date
    departments: dict[str, uuid.UUID]
    locations: dict[str, uuid.UUID]


@dataclass
class Rule:
    id: uuid.UUID
    type_code: str
    department_id: uuid.UUID | None
    location_id: uuid.UUID | None
    job_level: str | None
    job_title: str | None
    employee_id: uuid.UUID | None
    grace_days: int
    effective_from: date | None

    def applies(self, p: Any, on: date) -> bool:
        if self.effective_from is not None and self.effective_from > on:
            return False
        return (
            (self.employee_id is None or self.employee_id == p["id"])
            and (self.department_id is None or self.department_id == p["department_id"])
            and (self.location_id is None or self.location_id == p["location_id"])
            and (self.job_level is None or self.job_level == p["job_level"])
            and (self.job_title is None or self.job_title.lower() == (p["title"] or "").lower())
        )


def rule_specs(n: int) -> list[tuple[str, dict[str, Any], int, date | None]]:
    """The first `n` rules: RULES, then one per department and type, round robin."""
    specs = list(RULES[:n])
    for k in range(n - len(specs)):
        dep = DEPARTMENTS[k % len(DEPARTMENTS)][0]
        code = EXTRA_RULE_TYPES[(k // len(DEPARTMENTS) + k) % len(EXTRA_RULE_TYPES)]
        specs.append((code, {"department": dep}, (k % 3) * 15, None))
    return specs


def required_pairs(org: Org, rules: list[Rule], on: date) -> dict[tuple[uuid.UUID, str], int]:
    """{(person, type code): rules selecting them} on `on`, as the report's SQL computes them."""
    out: dict[tuple[uuid.UUID, str], int] = {}
    for p in org.people:
        if p["hire_date"] is not None and p["hire_date"] > on:
            continue
        for r in rules:
            if r.applies(p, on):
                key = (p["id"], r.type_code)
                out[key] = out.get(key, 0) + 1
    return out


def credential_data(org: Org, n_rules: int, today: date) -> dict[str, Any]:
    """Types, rules, evidence and credentials of one tenant, deterministic in (tenant, rules,
    today). Per required (person, type): ~20% hold nothing, ~8% only an expired one, ~7% (of
    types needing verification) a pending one (half with an older expired one still live),
    ~8% one expiring within 30 days, the rest an active one; of those held, ~45% have one or
    two older renewals, superseded. Some people also hold types no rule asks for."""
    rng = random.Random(f"upward-bench-credentials-{GEN_VERSION}-{org.index}-{n_rules}-{today}")
    now = datetime.now(UTC)
    marker = f"bench.credentials v{GEN_VERSION} on {today.isoformat()} rules={n_rules}"
    types: dict[str, dict[str, Any]] = {}
    type_rows = []
    for name, category, months, verify, evidence, authority, code in TYPES:
        tid = _uuid(rng)
        types[code] = {
            "id": tid,
            "months": months,
            "verify": verify,
            "evidence": evidence,
            "authority": authority,
            "code": code,
        }
        type_rows.append(
            (
                org.id,
                tid,
                name,
                category,
                f"{name} ({marker})",
                authority,
                months,
                evidence,
                verify,
                30 if months else None,
                "active",
                now,
                now,
            )
        )
    rules: list[Rule] = []
    for code, sel, grace, start in rule_specs(n_rules):
        person = org.people[sel["employee"] % len(org.people)]["id"] if "employee" in sel else None
        rules.append(
            Rule(
                id=_uuid(rng),
                type_code=code,
                department_id=org.departments[sel["department"]] if "department" in sel else None,
                location_id=org.locations[sel["location"]] if "location" in sel else None,
                job_level=sel.get("job_level"),
                job_title=sel.get("job_title"),
                employee_id=person,
                grace_days=grace,
                effective_from=start,
            )
        )
    rule_rows = [
        (
            org.id,
            r.id,
            types[r.type_code]["id"],
            r.job_title,
            r.job_level,
            r.department_id,
            r.location_id,
            r.employee_id,
            r.effective_from,
            r.grace_days,
            marker,
            now,
            now,
        )
        for r in rules
    ]

    creds: list[tuple] = []
    evidence: list[tuple] = []
    seq = 0

    def add(
        holder: uuid.UUID,
        t: dict[str, Any],
        issued: date,
        expires: date | None,
        *,
        verification: str | None = None,
        superseded_by: uuid.UUID | None = None,
        superseded_at: datetime | None = None,
    ) -> uuid.UUID:
        nonlocal seq
        seq += 1
        cid = _uuid(rng)
        if verification is None:
            verification = "verified" if t["verify"] else "not_required"
        ev_id = None
        if t["evidence"]:
            ev_id = _uuid(rng)
            evidence.append(
                (
                    org.id,
                    ev_id,
                    holder,
                    holder,
                    f"{t['code'].lower()}-{seq}.pdf",
                    "application/pdf",
                    rng.randint(40_000, 900_000),
                    None,
                    f"{org.id}/{ev_id}",
                    "stored",
                    _at(issued, 8, now),
                    _at(issued, 8, now),
                )
            )
        verified = verification == "verified"
        creds.append(
            (
                org.id,
                cid,
                holder,
                t["id"],
                f"{t['code']}-{org.index:03d}-{seq:07d}",
                t["authority"],
                issued,
                expires,
                None,
                ev_id,
                "api",
                verification,
                org.admin_id if verified else None,
                _at(issued + timedelta(days=2), 12, now) if verified else None,
                superseded_by,
                superseded_at,
                holder,
                _at(issued, 9, now),
                _at(issued, 9, now),
            )
        )
        return cid

    def history(holder: uuid.UUID, t: dict[str, Any], newer: uuid.UUID, newer_issued: date) -> None:
        """One or two older renewals, superseded by the next newer one."""
        count = 1 if rng.random() < 0.75 else 2
        for _ in range(count):
            if t["months"]:
                expires = newer_issued + timedelta(days=rng.randint(0, 20))
                issued = add_months(expires, -t["months"])
            else:
                expires, issued = None, newer_issued - timedelta(days=rng.randint(400, 2500))
            newer = add(
                holder,
                t,
                issued,
                expires,
                superseded_by=newer,
                superseded_at=_at(newer_issued, 12, now),
            )
            newer_issued = issued

    pairs = required_pairs(org, rules, today)
    for holder, code in sorted(pairs, key=lambda k: (str(k[0]), k[1])):
        t = types[code]
        months = t["months"]
        r = rng.random()
        if r < 0.20:
            continue  # missing
        if r < 0.28 and months:  # the best they had expired
            expires = today - timedelta(days=rng.randint(1, 240))
            issued = add_months(expires, -months)
            cid = add(holder, t, issued, expires)
        elif r < 0.35 and t["verify"]:  # submitted, awaiting verification
            issued = today - timedelta(days=rng.randint(0, 45))
            add(
                holder,
                t,
                issued,
                add_months(issued, months) if months else None,
                verification="pending",
            )
            if months and rng.random() < 0.5:  # the one it renews, expired, still live
                old_exp = today - timedelta(days=rng.randint(1, 120))
                add(holder, t, add_months(old_exp, -months), old_exp)
            continue
        elif r < 0.43 and months:  # expiring within the 30-day window
            expires = today + timedelta(days=rng.randint(0, 30))
            issued = add_months(expires, -months)
            cid = add(holder, t, issued, expires)
        elif months:  # active
            expires = today + timedelta(days=rng.randint(31, months * 30 - 5))
            issued = add_months(expires, -months)
            cid = add(holder, t, issued, expires)
        else:  # active, never expires
            issued = today - timedelta(days=rng.randint(30, 3000))
            cid = add(holder, t, issued, None)
        if rng.random() < 0.45:
            history(holder, t, cid, issued)
    for p in org.people:  # types nobody requires, held by some
        for code in OPTIONAL_TYPES:
            if rng.random() < 0.08:
                t = types[code]
                expires = today + timedelta(days=rng.randint(-200, t["months"] * 30 - 5))
                add(p["id"], t, add_months(expires, -t["months"]), expires)
    return {
        "marker": marker,
        "types": type_rows,
        "rules": rule_rows,
        "rule_objs": rules,
        "type_ids": {code: t["id"] for code, t in types.items()},
        "evidence": evidence,
        "credentials": creds,
        "pairs": pairs,
    }


async def ensure_org(url: str, index: int, employees: int) -> None:
    """bench-NNN with `employees` people, as bench/generate.py makes them (for a tenant whose
    size differs from the others, which `generate` cannot do)."""
    import asyncpg

    slug = slug_of(index)
    conn = await asyncpg.connect(url)
    try:
        shape = await _shape(conn, slug)
        if shape == (len(DEPARTMENTS), len(LOCATIONS), employees, 1):
            return
        t0 = time.perf_counter()
        data = tenant_rows(index, employees)
        async with conn.transaction():
            if shape is not None:
                tid = await conn.fetchval("select id from tenants where slug = $1", slug)
                await _delete_credentials(conn, tid)
                await conn.execute("delete from employees where tenant_id = $1", tid)
                await conn.execute("delete from tenants where id = $1", tid)
            await copy_tenant(conn, data)
        await conn.execute("vacuum analyze tenants, departments, locations, employees")
        print(
            f"  {slug}: {employees} employees in {time.perf_counter() - t0:.2f}s", file=sys.stderr
        )
    finally:
        await conn.close()


async def drop_if_reshaped(url: str, index: int, employees: int) -> None:
    """Before `generate` replaces a tenant of another size: its credential data goes first
    (credentials and rules point at employees)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        shape = await _shape(conn, slug_of(index))
        if shape is not None and shape != (len(DEPARTMENTS), len(LOCATIONS), employees, 1):
            tid = await conn.fetchval("select id from tenants where slug = $1", slug_of(index))
            async with conn.transaction():
                await _delete_credentials(conn, tid)
    finally:
        await conn.close()


async def load_org(conn: Any, index: int) -> Org:
    slug = slug_of(index)
    t = await conn.fetchrow("select id, timezone from tenants where slug = $1", slug)
    if t is None:
        raise BenchError(f"tenant {slug} is missing")
    people = await conn.fetch(
        "select id, email, title, job_level, department_id, location_id, hire_date, roles "
        "from employees where tenant_id = $1 and status = 'active' order by email",
        t["id"],
    )
    deps = await conn.fetch("select name, id from departments where tenant_id = $1", t["id"])
    locs = await conn.fetch("select name, id from locations where tenant_id = $1", t["id"])
    admin = next((p for p in people if p["email"] == admin_email(slug)), None)
    if admin is None or not {"tenant_admin", "hr_admin"} & set(admin["roles"]):
        raise BenchError(f"{admin_email(slug)} is missing or not a tenant_admin/hr_admin")
    return Org(
        index,
        t["id"],
        slug,
        t["timezone"],
        admin["id"],
        list(people),
        {r["name"]: r["id"] for r in deps},
        {r["name"]: r["id"] for r in locs},
    )


async def _delete_credentials(conn: Any, tid: uuid.UUID) -> None:
    await conn.execute("delete from domain_events where tenant_id = $1", tid)
    await conn.execute(
        "delete from audit_events where tenant_id = $1 and (action like 'credential%' "
        "or action like 'evidence.%')",
        tid,
    )
    await conn.execute("delete from credentials where tenant_id = $1", tid)
    await conn.execute("delete from evidence_files where tenant_id = $1", tid)
    await conn.execute("delete from credential_requirements where tenant_id = $1", tid)
    await conn.execute("delete from credential_types where tenant_id = $1", tid)


async def ensure_credentials(conn: Any, org: Org, n_rules: int, today: date) -> dict[str, Any]:
    """The tenant's credential data for today; written only when what is there differs."""
    data = credential_data(org, n_rules, today)
    have = await conn.fetchrow(
        """
        select (select count(*) from credential_types where tenant_id = $1) as types,
               (select count(*) from credential_requirements where tenant_id = $1) as rules,
               (select count(*) from credential_requirements where tenant_id = $1
                  and notes is distinct from $2) as foreign_rules,
               (select count(*) from evidence_files where tenant_id = $1) as evidence,
               (select count(*) from credentials where tenant_id = $1 and source <> 'import')
                 as credentials
        """,
        org.id,
        data["marker"],
    )
    want = (len(data["types"]), len(data["rules"]), 0, len(data["evidence"]))
    want += (len(data["credentials"]),)
    if tuple(have) == want:
        data["generated"] = False
        return data
    t0 = time.perf_counter()
    async with conn.transaction():
        await _delete_credentials(conn, org.id)
        await conn.copy_records_to_table(
            "credential_types", records=data["types"], columns=TYPE_COLUMNS
        )
        await conn.copy_records_to_table(
            "credential_requirements", records=data["rules"], columns=REQUIREMENT_COLUMNS
        )
        await conn.copy_records_to_table(
            "evidence_files", records=data["evidence"], columns=EVIDENCE_COLUMNS
        )
        await conn.copy_records_to_table(
            "credentials", records=data["credentials"], columns=CREDENTIAL_COLUMNS
        )
    await conn.execute(
        "vacuum analyze credential_types, credential_requirements, evidence_files, credentials"
    )
    print(
        f"  {org.slug}: {len(data['credentials'])} credentials for {len(data['pairs'])} "
        f"required pairs in {time.perf_counter() - t0:.2f}s",
        file=sys.stderr,
    )
    data["generated"] = True
    return data


async def clear_import(conn: Any, tid: uuid.UUID) -> int:
    """Undo an import: its credentials, what they superseded, the events and audit entries."""
    async with conn.transaction():
        await conn.execute(
            """
            update credentials c set superseded_by_id = null, superseded_at = null
            where c.tenant_id = $1 and c.source <> 'import' and c.superseded_by_id in (
                select i.id from credentials i where i.tenant_id = $1 and i.source = 'import')
            """,
            tid,
        )
        status = await conn.execute(
            "delete from credentials where tenant_id = $1 and source = 'import'", tid
        )
        await conn.execute("delete from domain_events where tenant_id = $1", tid)
        await conn.execute(
            "delete from audit_events where tenant_id = $1 and action = 'credential.import'", tid
        )
    deleted = int(status.split()[-1])
    if deleted:
        await conn.execute("vacuum analyze credentials, domain_events")
    return deleted


def import_file(
    org: Org, type_rows: list[tuple], rows: int, today: date
) -> tuple[str, list[tuple]]:
    """A CSV of `rows` new credentials of the tenant's people (types by name, unique numbers,
    past issue dates; expiry given or left to the type's validity, issuer sometimes left to the
    type's authority), and the same rows as records for the COPY floor."""
    rng = random.Random(f"upward-bench-import-{GEN_VERSION}-{org.index}-{rows}-{today}")
    # name, id, validity, verification required; not the evidence-required ones (they need a file)
    usable = [(t[2], t[1], t[6], t[8], t[5]) for t in type_rows if not t[7]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(IMPORT_COLUMNS)
    records = []
    for i in range(rows):
        p = org.people[(i * 7919) % len(org.people)]
        name, tid, months, verify, authority = usable[rng.randrange(len(usable))]
        issued = today - timedelta(days=rng.randint(1, 900))
        given = rng.random() < 0.5
        expires = add_months(issued, months) if months else None
        if given and expires is not None:
            expires += timedelta(days=rng.randint(0, 30))
        issuer = "" if rng.random() < 0.5 else f"{authority} ({['EU', 'US', 'APAC'][i % 3]})"
        notes = "migrated from the LMS" if rng.random() < 0.1 else ""
        w.writerow(
            [
                p["email"].upper() if i % 50 == 0 else p["email"],
                name.lower() if i % 40 == 0 else name,
                f"IMP-{org.index:03d}-{i:06d}",
                issuer,
                issued.isoformat(),
                (expires.isoformat() if expires else "never") if given else "",
                notes,
            ]
        )
        self_row = p["id"] == org.admin_id
        verification = "not_required" if not verify else ("pending" if self_row else "verified")
        records.append(
            (
                org.id,
                p["id"],
                tid,
                f"IMP-{org.index:03d}-{i:06d}",
                issuer or authority,
                issued,
                expires,
                notes or None,
                "import",
                verification,
                datetime.now(UTC) if verification == "verified" else None,
                org.admin_id,
            )
        )
    return buf.getvalue(), records


# --- measuring -----------------------------------------------------------------------------------


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    k = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


@dataclass
class Timing:
    label: str
    ms: list[float] = field(default_factory=list)
    statements: set[int] = field(default_factory=set)

    @property
    def p50(self) -> float:
        return _percentile(sorted(self.ms), 0.50)

    @property
    def p95(self) -> float:
        return _percentile(sorted(self.ms), 0.95)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.ms) if self.ms else math.nan

    @property
    def statements_text(self) -> str:
        return "/".join(str(n) for n in sorted(self.statements)) or "-"


class StatementCounter:
    """tests/conftest.py's `count_statements`: SQLAlchemy's before_cursor_execute on the app
    engine plus upward.db.STATEMENT_HOOKS (statements sent with `upward.db.fetch`)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.count += 1

    def raw(self, statement: str) -> None:
        self.count += 1

    def attach(self) -> None:
        import sqlalchemy as sa

        from upward.db import STATEMENT_HOOKS, app_engine

        self.engine = app_engine().sync_engine  # the running loop's, as the app will use
        sa.event.listen(self.engine, "before_cursor_execute", self)
        STATEMENT_HOOKS.append(self.raw)

    def detach(self) -> None:
        import sqlalchemy as sa

        from upward.db import STATEMENT_HOOKS

        STATEMENT_HOOKS.remove(self.raw)
        sa.event.remove(self.engine, "before_cursor_execute", self)


@dataclass
class Api:
    client: Any
    counter: StatementCounter
    max_body: int
    slow: list[str] = field(default_factory=list)

    async def call(
        self, what: str, query: str, variables: dict[str, Any], token: str
    ) -> tuple[float, int, dict[str, Any]]:
        """One POST /graphql: (ms, SQL statements, data); errors stop the bench."""
        import orjson

        body = orjson.dumps({"query": query, "variables": variables})
        if len(body) > self.max_body:
            raise BenchError(
                f"{what}: the request body is {len(body):,} bytes, above UPWARD_MAX_BODY_BYTES "
                f"({self.max_body:,})"
            )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.counter.count = 0
        t0 = time.perf_counter()
        resp = await self.client.post("/graphql", content=body, headers=headers)
        ms = (time.perf_counter() - t0) * 1000
        statements = self.counter.count
        if resp.status_code != 200:
            raise BenchError(f"{what}: HTTP {resp.status_code}: {resp.text[:3000]}")
        out = orjson.loads(resp.content)
        if out.get("errors"):
            raise BenchError(f"{what}: {orjson.dumps(out['errors']).decode()[:3000]}")
        if ms > SLOW_MS:
            self.slow.append(f"{what}: {ms:.0f} ms")
        return ms, statements, out["data"]


Call = Callable[[], Awaitable[tuple[float, int, Any]]]


async def round_robin(cases: list[tuple[Timing, Call]], repeat: int) -> list[Any]:
    """WARMUP calls of each case, then `repeat` rounds calling each once in turn (so slow
    drifts of a shared machine hit every case alike). Returns each case's last answer."""
    last: list[Any] = [None] * len(cases)
    for _ in range(WARMUP):
        for i, (_, call) in enumerate(cases):
            last[i] = (await call())[2]
    for _ in range(repeat):
        for i, (t, call) in enumerate(cases):
            ms, n, last[i] = await call()
            t.ms.append(ms)
            t.statements.add(n)
    return last


def _check_report(what: str, rep: dict[str, Any], pairs: int | None) -> list[str]:
    problems = []
    req = rep["requirements"]
    if pairs is not None and req["total"] != pairs:
        problems.append(f"{what}: {req['total']} required pairs, the generator made {pairs}")
    gaps = rep["gaps"]["totalCount"]
    if gaps != req["total"] - req["compliant"]:
        problems.append(f"{what}: {gaps} gaps for {req['total'] - req['compliant']} non-compliant")
    if sum(s["count"] for s in rep["states"]) != req["total"]:
        problems.append(f"{what}: the states do not add up to {req['total']}")
    if len(rep["gaps"]["edges"]) != min(100, gaps):
        problems.append(f"{what}: {len(rep['gaps']['edges'])} gap edges for {gaps} gaps")
    return problems


class PairsFloor:
    """The report's statement alone, raw asyncpg as upward_app on one connection: BEGIN,
    set_config, the pairs statement (every row fetched and decoded), COMMIT. And what
    PostgreSQL spends planning and executing it, without sending the rows: the times
    EXPLAIN (ANALYZE, TIMING OFF) reports."""

    def __init__(self, app_url: str, org: Org, on: date) -> None:
        from upward.credentials.service import _PAIRS_SQL, day_end

        self.app_url, self.org, self.on = app_url, org, on
        # as the tenant report runs it: rule arrays only where there is no valid credential
        self.sql = _PAIRS_SQL.format(emp_conds="", req_conds="", details="false")
        self.end = day_end(on, org.timezone)
        self.conn: Any = None

    async def __aenter__(self) -> PairsFloor:
        import asyncpg

        self.conn = await asyncpg.connect(self.app_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()

    async def call(self) -> tuple[float, int, list[Any]]:
        t0 = time.perf_counter()
        async with self.conn.transaction():
            await self.conn.fetchval(FLOOR_SET_TENANT, str(self.org.id))
            rows = await self.conn.fetch(self.sql, self.on, self.end)
        return (time.perf_counter() - t0) * 1000, 2, rows

    async def server_ms(self, rows: int) -> float:
        import json

        async with self.conn.transaction():
            await self.conn.fetchval(FLOOR_SET_TENANT, str(self.org.id))
            plan = json.loads(
                await self.conn.fetchval(
                    "explain (analyze, timing off, format json) " + self.sql, self.on, self.end
                )
            )[0]
        if plan["Plan"]["Actual Rows"] != rows:
            raise BenchError(
                f"floor: EXPLAIN ANALYZE saw {plan['Plan']['Actual Rows']} rows, the fetch {rows}"
            )
        return float(plan["Planning Time"] + plan["Execution Time"])


async def floor_copy(owner_url: str, records: list[tuple]) -> float:
    """COPY of the import's rows into credentials as the owner, in a transaction rolled back."""
    import asyncpg

    conn = await asyncpg.connect(owner_url)
    try:
        tr = conn.transaction()
        await tr.start()
        try:
            t0 = time.perf_counter()
            await conn.copy_records_to_table(
                "credentials", records=records, columns=FLOOR_IMPORT_COLUMNS
            )
            return time.perf_counter() - t0
        finally:
            await tr.rollback()
    finally:
        await conn.close()


def _check_import(what: str, out: dict[str, Any], rows: int, outcome: str, dry: bool) -> None:
    r = out["importCredentials"]
    counts = {k: r[k] for k in ("created", "updated", "unchanged", "errors")}
    want = {k: 0 for k in counts}
    want["errors" if outcome == "error" else outcome] = rows
    bad = [x for x in r["rows"] if x["outcome"] != outcome.upper()]
    rows_seen = sorted(x["row"] for x in r["rows"])
    problems = []
    if counts != want or r["total"] != rows:
        problems.append(f"counts {counts}, total {r['total']}; expected {want}, total {rows}")
    if rows_seen != list(range(1, rows + 1)):
        problems.append(f"{len(rows_seen)} row results, not one per row 1..{rows}")
    if bad:
        sample = "; ".join(
            f"row {x['row']}: {x['outcome']} {x['error'] or ''} ({x['column'] or '-'})"
            for x in bad[:10]
        )
        problems.append(f"{len(bad)} rows not {outcome}: {sample}")
    if r["dryRun"] != dry or r["written"] != (not dry and outcome != "unchanged"):
        problems.append(f"dryRun {r['dryRun']}, written {r['written']}")
    if problems:
        raise BenchError(f"{what}: " + " | ".join(problems))


# --- the run -------------------------------------------------------------------------------------


def _fmt_ms(v: float) -> str:
    return f"{v:8.1f}" if not math.isnan(v) else "       -"


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg
    import httpx

    from upward import clock
    from upward.app import create_app
    from upward.auth.tokens import mint_token
    from upward.db import dispose_engines
    from upward.graphql.relay import to_global_id
    from upward.settings import asyncpg_url, get_settings

    settings = get_settings()
    owner_url = args.database_url
    app_url = asyncpg_url(settings.app_url())
    notes: list[str] = []

    # (a) the data: credentials of both tenants, and no rows left from an interrupted import
    conn = await asyncpg.connect(owner_url)
    try:
        big = await load_org(conn, BIG)
        small = await load_org(conn, SMALL)
        today = clock.today(big.timezone)
        if clock.today(small.timezone) != today:
            notes.append("the two tenants' time zones are on different dates right now")
        leftover = await clear_import(conn, big.id)
        if leftover:
            print(f"  removed {leftover} credentials of an earlier import", file=sys.stderr)
        big_data = await ensure_credentials(conn, big, args.rules, today)
        small_data = await ensure_credentials(conn, small, args.rules, clock.today(small.timezone))
        counts = await conn.fetchrow(
            """
            select count(*) as total,
                   count(*) filter (where superseded_by_id is not null) as superseded,
                   count(*) filter (where verification = 'pending') as pending,
                   count(*) filter (where superseded_by_id is null and verification <> 'pending'
                                      and expires_on < $2) as expired,
                   count(*) filter (where superseded_by_id is null and verification <> 'pending'
                                      and expires_on between $2 and $2 + 30) as expiring
            from credentials where tenant_id = $1
            """,
            big.id,
            today,
        )
    finally:
        await conn.close()
    if big_data["generated"] or small_data["generated"]:
        print("generate: credential data written", file=sys.stderr)
    else:
        print("generate: credential data already there", file=sys.stderr)

    csv_text, copy_records = import_file(big, big_data["types"], args.import_rows, today)
    csv_bytes = len(csv_text.encode())

    # (b) the app, in this process, as the tests drive it
    app = create_app()
    counter = StatementCounter()
    counter.attach()
    tokens = {o.slug: mint_token(tenant=o.slug, subject=admin_email(o.slug)) for o in (big, small)}
    past = add_months(today.replace(day=1), -21)
    future = add_months(today.replace(day=1), 6)
    results: dict[str, Any] = {"timings": [], "import": []}
    idle: list[float] = []
    results["idle"] = idle
    _idle(idle, "before measuring")
    try:
        transport = httpx.ASGITransport(app=app)
        # the app's startup and shutdown as a server runs them (gc.freeze() and the collector's
        # thresholds, then disposing the engines); the tests' client skips them
        lifespan = (
            contextlib.nullcontext() if args.no_lifespan else app.router.lifespan_context(app)
        )
        async with (
            lifespan,
            httpx.AsyncClient(
                transport=transport, base_url="http://upward.test", timeout=600
            ) as client,
        ):
            api = Api(client, counter, settings.max_body_bytes)
            tok = tokens[big.slug]
            problems: list[str] = []

            per_person = Counter(e for e, _ in big_data["pairs"])
            person = max(big.people, key=lambda p: (per_person.get(p["id"], 0), p["email"]))

            def gql(what: str, query: str, variables: dict[str, Any], token: str) -> Call:
                return lambda: api.call(what, query, variables, token)

            t_today = Timing("complianceReport (today)")
            t_past = Timing(f"complianceReport ({past.isoformat()})")
            t_future = Timing(f"complianceReport ({future.isoformat()})")
            t_person = Timing("employeeCompliance")
            t_small = Timing(f"complianceReport (today, {len(small.people):,} people)")
            floor = Timing("floor: pairs SQL (asyncpg)")
            floor_server = Timing("  of which PostgreSQL executing it", statements={2})
            async with PairsFloor(app_url, big, today) as pairs_floor:
                answers = await round_robin(
                    [
                        (t_today, gql(t_today.label, REPORT_QUERY, {}, tok)),
                        (t_past, gql(t_past.label, REPORT_QUERY, {"on": past.isoformat()}, tok)),
                        (
                            t_future,
                            gql(t_future.label, REPORT_QUERY, {"on": future.isoformat()}, tok),
                        ),
                        (
                            t_person,
                            gql(
                                t_person.label,
                                EMPLOYEE_QUERY,
                                {"id": to_global_id("Employee", person["id"])},
                                tok,
                            ),
                        ),
                        (t_small, gql(t_small.label, REPORT_QUERY, {}, tokens[small.slug])),
                        (floor, pairs_floor.call),
                    ],
                    args.repeat,
                )
                floor_rows = len(answers[-1])
                for i in range(WARMUP + args.repeat):
                    ms = await pairs_floor.server_ms(floor_rows)
                    if i >= WARMUP:
                        floor_server.ms.append(ms)
            rep_today, rep_past, rep_future, out, rep_small = (
                a[k]
                for a, k in zip(
                    answers[:5],
                    ["complianceReport"] * 3 + ["employeeCompliance", "complianceReport"],
                    strict=True,
                )
            )
            problems += _check_report(t_today.label, rep_today, len(big_data["pairs"]))
            for t, rep, on in ((t_past, rep_past, past), (t_future, rep_future, future)):
                pairs = required_pairs(big, big_data["rule_objs"], on)
                problems += _check_report(t.label, rep, len(pairs))
            problems += _check_report(t_small.label, rep_small, len(small_data["pairs"]))
            for t, rep in ((t_today, rep_today), (t_past, rep_past), (t_future, rep_future)):
                t.label = t.label[:-1] + f", {rep['requirements']['total']:,} pairs)"
            asked = len(out["requirements"])
            if asked != per_person[person["id"]]:
                problems.append(
                    f"employeeCompliance: {asked} requirements, the generator made "
                    f"{per_person[person['id']]}"
                )
            t_person.label += f" ({asked} requirements)"
            if floor_rows != rep_today["requirements"]["total"]:
                problems.append(
                    f"floor: {floor_rows} pairs, the API {rep_today['requirements']['total']}"
                )
            timings = [t_today, t_past, t_future, t_person, t_small, floor, floor_server]
            if problems:
                raise BenchError("correctness check failed:\n  " + "\n  ".join(problems))

            # (c) the import, then undone
            _idle(idle, "before the import")
            imp: list[tuple[str, float]] = []
            copy_s = sorted(
                [await floor_copy(owner_url, copy_records) for _ in range(IMPORT_REPEAT)]
            )
            variables = {"csv": csv_text, "dryRun": True}
            await api.call("importCredentials (warm-up dry run)", IMPORT_QUERY, variables, tok)
            dry = []
            for _ in range(IMPORT_REPEAT):
                ms, n_dry, out = await api.call(
                    "importCredentials dryRun", IMPORT_QUERY, variables, tok
                )
                _check_import("dry run", out, args.import_rows, "created", True)
                dry.append(ms / 1000)
            imp.append((f"dry run (median of {IMPORT_REPEAT})", statistics.median(dry)))
            try:
                ms, n_real, out = await api.call(
                    "importCredentials", IMPORT_QUERY, {"csv": csv_text, "dryRun": False}, tok
                )
                _check_import("real run", out, args.import_rows, "created", False)
                imp.append(("real run", ms / 1000))
                again = []
                for _ in range(IMPORT_REPEAT):
                    ms, n_again, out = await api.call(
                        "importCredentials re-run",
                        IMPORT_QUERY,
                        {"csv": csv_text, "dryRun": False},
                        tok,
                    )
                    _check_import("re-run", out, args.import_rows, "unchanged", False)
                    again.append(ms / 1000)
                imp.append(
                    (f"re-run, unchanged (median of {IMPORT_REPEAT})", statistics.median(again))
                )
            finally:
                conn = await asyncpg.connect(owner_url)
                try:
                    await clear_import(conn, big.id)
                finally:
                    await conn.close()
            imp.append(
                (f"floor: COPY (asyncpg, median of {IMPORT_REPEAT})", copy_s[len(copy_s) // 2])
            )
            results["import_statements"] = {"dry": n_dry, "real": n_real, "again": n_again}
    finally:
        counter.detach()
        await dispose_engines()
    _idle(idle, "after measuring")

    results.update(
        {
            "today": today,
            "big": big,
            "small": small,
            "timings": timings,
            "import": imp,
            "csv_bytes": csv_bytes,
            "report": rep_today,
            "small_report": rep_small,
            "counts": dict(counts),
            "types": len(big_data["types"]),
            "notes": notes,
            "slow": api.slow,
            "statements": (t_small.statements_text, t_today.statements_text),
        }
    )
    return results


def _idle(seen: list[float], when: str) -> None:
    """The machine's busy CPU (in cores) during a second in which the bench does nothing."""
    from bench.run import idle_check

    busy, _ = idle_check()
    seen.append(busy)
    if busy > 0.25:
        print(
            f"warning: {when}, {busy * 100:.0f}% of a core was used by other processes; "
            "the numbers will be noisy",
            file=sys.stderr,
        )


def _commit() -> str:
    """The measured code: HEAD, `+dirty` when src/ has changes not committed."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def _print(args: argparse.Namespace, r: dict[str, Any]) -> None:
    big, small, rep, c = r["big"], r["small"], r["report"], r["counts"]
    states = ", ".join(f"{s['state'].lower()} {s['count']:,}" for s in rep["states"])
    print()
    print(
        f"credentials bench: 1 tenant x {len(big.people)} employees, {args.rules} rules, "
        f"{c['total']:,} credentials ({r['today'].isoformat()})"
    )
    print(
        f"  {r['types']} credential types; today {rep['requirements']['total']:,} required "
        f"(person, type) pairs, {rep['requirements']['rate'] * 100:.1f}% compliant: {states}; "
        f"people compliant {rep['people']['compliant']:,}/{rep['people']['total']:,}"
    )
    print(
        f"  credentials: {c['superseded']:,} superseded, {c['pending']:,} pending verification, "
        f"{c['expired']:,} expired and {c['expiring']:,} expiring (live); "
        f"second tenant {small.slug}: {len(small.people):,} employees"
    )
    print(
        f"  in-process ASGI (httpx.ASGITransport) {'without' if args.no_lifespan else 'with'} "
        f"the app's lifespan; {args.repeat} rounds after {WARMUP} warm-up rounds, each "
        f"operation once per round, one request at a time; {os.cpu_count()} CPUs; "
        f"commit {_commit()}"
    )
    busy = max(r["idle"])
    print(
        "  other load (busy CPU while the bench paused, before / between / after): "
        + " / ".join(f"{b:.2f}" for b in r["idle"])
        + f" cores{' -- NOISY, compare with care' if busy > 0.25 else ''}"
    )
    print()
    print(f"{'operation':<48} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}   statements")
    for t in r["timings"]:
        print(
            f"{t.label:<48} {_fmt_ms(t.p50)} {_fmt_ms(t.p95)} {_fmt_ms(t.mean)}   "
            f"{t.statements_text}"
        )
    n_small, n_big = r["statements"]
    print(
        f"statements at {len(small.people):,} / {len(big.people):,} employees: {n_small} / {n_big}"
    )
    print()
    rows = args.import_rows
    st = r["import_statements"]
    title = f"import {rows:,} rows ({r['csv_bytes'] / 1_048_576:.2f} MiB CSV)"
    print(f"{title:<48} {'seconds':>8} {'rows/s':>8}")
    for label, secs in r["import"]:
        print(f"{label:<48} {secs:8.2f} {rows / secs:8,.0f}")
    print(
        f"statements per import request: dry run {st['dry']}, real run {st['real']}, "
        f"re-run {st['again']}"
    )
    for n in r["notes"]:
        print(f"note: {n}")
    for s in r["slow"]:
        print(f"SLOW (above {SLOW_MS:.0f} ms): {s}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="bench.credentials",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--employees", type=int, default=5000)
    p.add_argument("--rules", type=int, default=20)
    p.add_argument("--repeat", type=int, default=20, help="measured requests per operation")
    p.add_argument("--import-rows", type=int, default=10_000)
    p.add_argument(
        "--no-lifespan",
        action="store_true",
        help="drive the app as tests/conftest.py does, without its startup (gc.freeze() and "
        "the collector thresholds a server sets)",
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_CREDENTIALS_DATABASE_URL", DEFAULT_URL),
        help="owner URL (default: $BENCH_CREDENTIALS_DATABASE_URL or %(default)s)",
    )
    p.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = p.parse_args(argv)
    if args.employees < 1 or args.rules < 1 or args.repeat < 1 or args.import_rows < 1:
        p.error("--employees, --rules, --repeat and --import-rows must be at least 1")
    os.chdir(ROOT)
    # before any upward import: settings are read once
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
        from upward.settings import get_settings, reset_settings

        reset_settings()
        if args.import_rows > get_settings().import_max_rows:
            p.error(
                f"--import-rows above UPWARD_IMPORT_MAX_ROWS ({get_settings().import_max_rows})"
            )
        upgrade()
        asyncio.run(drop_if_reshaped(args.database_url, BIG, args.employees))
        asyncio.run(generate(args.database_url, 1, args.employees))
        asyncio.run(ensure_org(args.database_url, SMALL, min(SMALL_EMPLOYEES, args.employees)))
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


if __name__ == "__main__":
    raise SystemExit(main())
