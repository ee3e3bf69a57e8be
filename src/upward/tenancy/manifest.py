"""Tenant manifests (`tenants/<slug>.toml`): parse and validate, with no I/O beyond reading.

Every problem is collected (file, entry, message) so one run reports them all; a manifest with
any error is never applied. `tenants/_template.toml` documents every key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from upward.people.models import ASSIGNABLE_ROLES, EMPLOYEE_STATUSES
from upward.people.validation import EMAIL_RE, is_valid_timezone

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
TOP_KEYS = {
    "slug",
    "name",
    "timezone",
    "status",
    "audit_retention_days",
    "departments",
    "locations",
    "employees",
}
DEPARTMENT_KEYS = {"name", "code"}
LOCATION_KEYS = {"name", "timezone", "country"}
EMPLOYEE_KEYS = {
    "email",
    "name",
    "title",
    "job_level",
    "manager",
    "department",
    "location",
    "roles",
    "hire_date",
    "timezone",
    "status",
}


@dataclass(frozen=True)
class ManifestProblem:
    file: str
    entry: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.entry}: {self.message}"


class ManifestError(Exception):
    def __init__(self, problems: list[ManifestProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class DepartmentSpec:
    name: str
    code: str | None = None


@dataclass
class LocationSpec:
    name: str
    timezone: str | None = None
    country: str | None = None


@dataclass
class EmployeeSpec:
    email: str
    name: str
    title: str | None = None
    job_level: str | None = None
    manager: str | None = None
    department: str | None = None
    location: str | None = None
    roles: list[str] = field(default_factory=list)
    hire_date: date | None = None
    timezone: str | None = None
    status: str = "active"


@dataclass
class Manifest:
    path: str
    slug: str
    name: str
    timezone: str
    departments: list[DepartmentSpec]
    locations: list[LocationSpec]
    employees: list[EmployeeSpec]
    status: str | None = None  # None: leave as it is
    audit_retention_days: int | None = None  # None: keep audit events forever


class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[ManifestProblem] = []

    def error(self, entry: str, message: str) -> None:
        self.problems.append(ManifestProblem(self.path, entry, message))

    def keys(self, entry: str, data: dict[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(data) - allowed):
            self.error(entry, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")

    def string(
        self,
        entry: str,
        data: dict[str, Any],
        key: str,
        *,
        required: bool = False,
        max_len: int = 200,
    ) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(entry, f"{key!r} is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(entry, f"{key!r} must be a non-empty string")
            return None
        if len(value) > max_len:
            self.error(entry, f"{key!r} must be at most {max_len} characters")
            return None
        return value.strip()

    def tz(
        self, entry: str, data: dict[str, Any], key: str, *, required: bool = False
    ) -> str | None:
        value = self.string(entry, data, key, required=required, max_len=64)
        if value is not None and not is_valid_timezone(value):
            self.error(entry, f"{key!r}: {value!r} is not an IANA time zone")
            return None
        return value

    def tables(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(key, f"{key!r} must be an array of tables ([[{key}]])")
            return []
        return value


def parse_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    name = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError([ManifestProblem(name, "file", "not found")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError([ManifestProblem(name, "file", f"invalid TOML: {exc}")]) from exc
    return validate_manifest(data, name)


def validate_manifest(data: dict[str, Any], path: str = "<manifest>") -> Manifest:
    c = _Checker(path)
    c.keys("tenant", data, TOP_KEYS)
    slug = c.string("tenant", data, "slug", required=True, max_len=63)
    if slug is not None and not SLUG_RE.match(slug):
        c.error("tenant", f"slug {slug!r} must be 2-63 lowercase letters, digits or hyphens")
    tname = c.string("tenant", data, "name", required=True)
    tz = c.tz("tenant", data, "timezone", required=True)
    tstatus = data.get("status")
    if tstatus is not None and tstatus not in ("active", "suspended"):
        c.error("tenant", f"status {tstatus!r} must be 'active' or 'suspended'")
    retention = data.get("audit_retention_days")
    if retention is not None and (
        not isinstance(retention, int) or isinstance(retention, bool) or retention < 1
    ):
        c.error("tenant", "'audit_retention_days' must be a positive integer (days)")

    departments: list[DepartmentSpec] = []
    for i, d in enumerate(c.tables(data, "departments")):
        entry = f"departments[{i}]" + (
            f" ({d.get('name')})" if isinstance(d.get("name"), str) else ""
        )
        c.keys(entry, d, DEPARTMENT_KEYS)
        dname = c.string(entry, d, "name", required=True)
        code = c.string(entry, d, "code", max_len=32)
        if dname is not None:
            if any(x.name == dname for x in departments):
                c.error(entry, f"duplicate department name {dname!r}")
            else:
                departments.append(DepartmentSpec(dname, code))

    locations: list[LocationSpec] = []
    for i, loc in enumerate(c.tables(data, "locations")):
        entry = f"locations[{i}]" + (
            f" ({loc.get('name')})" if isinstance(loc.get("name"), str) else ""
        )
        c.keys(entry, loc, LOCATION_KEYS)
        lname = c.string(entry, loc, "name", required=True)
        ltz = c.tz(entry, loc, "timezone")
        country = c.string(entry, loc, "country", max_len=2)
        if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
            c.error(entry, f"country {country!r} must be an uppercase ISO 3166-1 alpha-2 code")
        if lname is not None:
            if any(x.name == lname for x in locations):
                c.error(entry, f"duplicate location name {lname!r}")
            else:
                locations.append(LocationSpec(lname, ltz, country))

    dep_names = {d.name for d in departments}
    loc_names = {loc.name for loc in locations}
    employees: list[EmployeeSpec] = []
    emails: set[str] = set()
    for i, e in enumerate(c.tables(data, "employees")):
        entry = f"employees[{i}]" + (
            f" ({e.get('email')})" if isinstance(e.get("email"), str) else ""
        )
        c.keys(entry, e, EMPLOYEE_KEYS)
        email = c.string(entry, e, "email", required=True, max_len=254)
        if email is not None:
            if email != email.lower() or not EMAIL_RE.match(email):
                c.error(entry, f"email {email!r} must be a valid lowercase address")
            elif email in emails:
                c.error(entry, f"duplicate email {email!r}")
            emails.add(email)
        ename = c.string(entry, e, "name", required=True)
        spec = EmployeeSpec(
            email=email or "",
            name=ename or "",
            title=c.string(entry, e, "title"),
            job_level=c.string(entry, e, "job_level", max_len=32),
            manager=c.string(entry, e, "manager", max_len=254),
            department=c.string(entry, e, "department"),
            location=c.string(entry, e, "location"),
            timezone=c.tz(entry, e, "timezone"),
        )
        if spec.department is not None and spec.department not in dep_names:
            c.error(entry, f"department {spec.department!r} is not declared in [[departments]]")
        if spec.location is not None and spec.location not in loc_names:
            c.error(entry, f"location {spec.location!r} is not declared in [[locations]]")
        roles = e.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            c.error(entry, "'roles' must be a list of strings")
        else:
            for r in roles:
                if r not in ASSIGNABLE_ROLES:
                    c.error(entry, f"unknown role {r!r} (allowed: {', '.join(ASSIGNABLE_ROLES)})")
            spec.roles = sorted(set(roles))
        hire = e.get("hire_date")
        if hire is not None:
            if not isinstance(hire, date) or hasattr(hire, "hour"):
                c.error(entry, "'hire_date' must be a TOML local date such as 2021-03-04")
            else:
                spec.hire_date = hire
        status = e.get("status", "active")
        if status not in EMPLOYEE_STATUSES:
            c.error(entry, f"status {status!r} must be one of {', '.join(EMPLOYEE_STATUSES)}")
        else:
            spec.status = status
        employees.append(spec)

    by_email = {e.email: e for e in employees if e.email}
    for i, e in enumerate(employees):
        if e.manager is None:
            continue
        entry = f"employees[{i}] ({e.email})"
        if e.manager == e.email:
            c.error(entry, "an employee cannot be their own manager")
        elif e.manager not in by_email:
            c.error(entry, f"manager {e.manager!r} is not an employee in this file")
        elif by_email[e.manager].status != "active" and e.status == "active":
            c.error(entry, f"manager {e.manager!r} is offboarded")
    # cycles in the manager chain
    reported: set[str] = set()
    for i, e in enumerate(employees):
        seen: list[str] = []
        cur: EmployeeSpec | None = e
        while cur is not None and cur.manager in by_email and cur.email not in seen:
            seen.append(cur.email)
            cur = by_email[cur.manager]
        if cur is not None and cur.email in seen:
            cycle = [*seen[seen.index(cur.email) :], cur.email]
            key = min(cycle)
            if key not in reported:
                reported.add(key)
                c.error(
                    f"employees[{i}] ({e.email})",
                    "cycle in the manager chain: " + " -> ".join(cycle),
                )

    if c.problems:
        raise ManifestError(c.problems)
    assert slug and tname and tz
    return Manifest(
        path,
        slug,
        tname,
        tz,
        departments,
        locations,
        employees,
        status=tstatus,
        audit_retention_days=retention,
    )
