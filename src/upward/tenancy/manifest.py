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
    "credential_expiring_days",
    "credential_types",
    "credential_requirements",
    "credentials",
    "reminder_policies",
    "webhook_endpoints",
    "notification_templates",
    "notification_preferences",
    "skills",
    "proficiency_levels",
    "skill_grants",
    "employee_skills",
    "career_tracks",
    "career_links",
    "employee_levels",
    "hr_reads_feedback",
    "feedback_requests",
    "feedback",
    "mentors",
    "learning_resources",
    "mentorships",
    "checkins",
    "development_plans",
    "job_postings",
    "career_preferences",
    "mobility_settings",
    "applications",
    "company_values",
    "recognition_settings",
    "points_allowances",
    "rewards",
    "milestone_settings",
    "kudos",
    "redemptions",
}
CREDENTIAL_TYPE_KEYS = {
    "name",
    "category",
    "description",
    "issuing_authority",
    "validity_months",
    "evidence_required",
    "verification_required",
    "renewal_lead_days",
    "external_ids",
    "status",
}
REQUIREMENT_KEYS = {
    "credential_type",
    "job_title",
    "job_level",
    "department",
    "location",
    "employee",
    "effective_from",
    "effective_until",
    "grace_days",
    "notes",
}
CREDENTIAL_KEYS = {
    "employee",
    "credential_type",
    "number",
    "issuer",
    "issued_on",
    "expires_on",
    "verification",
    "notes",
    "evidence",
    "rejection_reason",
}
RELATIVE_DATE = re.compile(r"^today(?:([+-])(\d{1,5})d)?$")
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
    "external_id",
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
    external_id: str | None = None
    status: str = "active"


@dataclass
class CredentialTypeSpec:
    name: str
    category: str
    description: str | None = None
    issuing_authority: str | None = None
    validity_months: int | None = None
    evidence_required: bool = False
    verification_required: bool = False
    renewal_lead_days: int | None = None
    external_ids: dict[str, str] = field(default_factory=dict)
    status: str = "active"


@dataclass
class RequirementSpec:
    credential_type: str
    job_title: str | None = None
    job_level: str | None = None
    department: str | None = None
    location: str | None = None
    employee: str | None = None
    effective_from: date | None = None
    effective_until: date | None = None
    grace_days: int = 0
    notes: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (
            self.credential_type,
            self.job_title,
            self.job_level,
            self.department,
            self.location,
            self.employee,
        )


# A date in a manifest: a TOML date, or days relative to the day it is applied ("today-400d"),
# so demo data stays realistic (expiring, expired) whenever it is applied.
ManifestDate = date | int


@dataclass
class CredentialSpec:
    employee: str
    credential_type: str
    number: str
    issued_on: ManifestDate
    expires_on: ManifestDate | str | None = "default"  # "default": from the type's validity
    issuer: str | None = None
    verification: str | None = None  # None: verified if the type needs it
    notes: str | None = None
    evidence: str | None = None  # a file path, relative to the manifest
    rejection_reason: str | None = None  # with verification = "rejected"


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
    credential_expiring_days: int = 30
    credential_types: list[CredentialTypeSpec] = field(default_factory=list)
    credential_requirements: list[RequirementSpec] = field(default_factory=list)
    credentials: list[CredentialSpec] = field(default_factory=list)
    # reminder_policies, webhook_endpoints, notification_templates, notification_preferences
    notifications: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # skills, proficiency_levels
    development: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # job_postings, career_preferences, mobility_settings
    mobility: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # company_values, recognition_settings, points_allowances, rewards, milestone_settings,
    # kudos, redemptions
    recognition: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


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
    external_ids: set[str] = set()
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
            external_id=c.string(entry, e, "external_id"),
        )
        if spec.external_id is not None:
            if spec.external_id in external_ids:
                c.error(entry, f"duplicate external_id {spec.external_id!r}")
            external_ids.add(spec.external_id)
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

    window = data.get("credential_expiring_days", 30)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 3650:
        c.error("tenant", "'credential_expiring_days' must be an integer from 1 to 3650")
        window = 30
    types, reqs, creds = _credentials_sections(c, data, dep_names, loc_names, by_email)
    from upward.reminders.provisioning import validate_sections

    notifications = validate_sections(c, data, set(by_email), {t.name for t in types})
    from upward.development.provisioning import validate_sections as development_sections

    development = development_sections(c, data, set(by_email), {t.name for t in types})
    from upward.mobility.provisioning import validate_manifest as mobility_sections

    mobility = mobility_sections(c, data, set(by_email))
    from upward.recognition.provisioning import validate_manifest as recognition_sections

    recognition = recognition_sections(c, data, set(by_email))

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
        credential_expiring_days=window,
        credential_types=types,
        credential_requirements=reqs,
        credentials=creds,
        notifications=notifications,
        development=development,
        mobility=mobility,
        recognition=recognition,
    )


def _int(c: _Checker, entry: str, d: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        c.error(entry, f"{key!r} must be an integer from {low} to {high}")
        return None
    return value


def _bool(c: _Checker, entry: str, d: dict[str, Any], key: str) -> bool:
    value = d.get(key, False)
    if not isinstance(value, bool):
        c.error(entry, f"{key!r} must be true or false")
        return False
    return value


def _date(
    c: _Checker, entry: str, d: dict[str, Any], key: str, *, relative: bool = False
) -> ManifestDate | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if relative and isinstance(value, str):
        m = RELATIVE_DATE.match(value)
        if m:
            days = int(m.group(2) or 0)
            return -days if m.group(1) == "-" else days
    hint = ' or "today-30d" / "today+90d"' if relative else ""
    c.error(entry, f"{key!r} must be a TOML local date such as 2025-03-01{hint}")
    return None


def _credentials_sections(
    c: _Checker,
    data: dict[str, Any],
    dep_names: set[str],
    loc_names: set[str],
    by_email: dict[str, EmployeeSpec],
) -> tuple[list[CredentialTypeSpec], list[RequirementSpec], list[CredentialSpec]]:
    from upward.credentials.models import CATEGORIES
    from upward.credentials.service import EXTERNAL_ID_SCHEME

    types: list[CredentialTypeSpec] = []
    for i, t in enumerate(c.tables(data, "credential_types")):
        entry = f"credential_types[{i}]" + (
            f" ({t.get('name')})" if isinstance(t.get("name"), str) else ""
        )
        c.keys(entry, t, CREDENTIAL_TYPE_KEYS)
        name = c.string(entry, t, "name", required=True)
        category = t.get("category")
        if category not in CATEGORIES:
            c.error(entry, f"'category' must be one of {', '.join(CATEGORIES)}")
        ext = t.get("external_ids", {})
        if not isinstance(ext, dict) or not all(
            isinstance(k, str) and EXTERNAL_ID_SCHEME.match(k) and isinstance(v, str) and v.strip()
            for k, v in ext.items()
        ):
            c.error(entry, "'external_ids' must be a table of scheme = \"code\" strings")
            ext = {}
        status = t.get("status", "active")
        if status not in ("active", "retired"):
            c.error(entry, "'status' must be 'active' or 'retired'")
        spec = CredentialTypeSpec(
            name=name or "",
            category=category if category in CATEGORIES else "other",
            description=c.string(entry, t, "description", max_len=2000),
            issuing_authority=c.string(entry, t, "issuing_authority"),
            validity_months=_int(c, entry, t, "validity_months", 1, 1200),
            evidence_required=_bool(c, entry, t, "evidence_required"),
            verification_required=_bool(c, entry, t, "verification_required"),
            renewal_lead_days=_int(c, entry, t, "renewal_lead_days", 0, 3650),
            external_ids={k: v.strip() for k, v in ext.items()},
            status=status,
        )
        if name is not None:
            if any(x.name.lower() == name.lower() for x in types):
                c.error(entry, f"duplicate credential type name {name!r}")
            else:
                types.append(spec)
    type_names = {t.name for t in types}

    def refs(entry: str, d: dict[str, Any], *, employee_required: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ctype = c.string(entry, d, "credential_type", required=True)
        if ctype is not None and ctype not in type_names:
            c.error(entry, f"credential_type {ctype!r} is not declared in [[credential_types]]")
        out["credential_type"] = ctype or ""
        emp = c.string(entry, d, "employee", required=employee_required, max_len=254)
        if emp is not None and emp not in by_email:
            c.error(entry, f"employee {emp!r} is not an employee in this file")
        out["employee"] = emp
        return out

    reqs: list[RequirementSpec] = []
    for i, r in enumerate(c.tables(data, "credential_requirements")):
        entry = f"credential_requirements[{i}]"
        c.keys(entry, r, REQUIREMENT_KEYS)
        base = refs(entry, r, employee_required=False)
        dep, loc = c.string(entry, r, "department"), c.string(entry, r, "location")
        if dep is not None and dep not in dep_names:
            c.error(entry, f"department {dep!r} is not declared in [[departments]]")
        if loc is not None and loc not in loc_names:
            c.error(entry, f"location {loc!r} is not declared in [[locations]]")
        start = _date(c, entry, r, "effective_from")
        until = _date(c, entry, r, "effective_until")
        if isinstance(start, date) and isinstance(until, date) and until < start:
            c.error(entry, "'effective_until' must be on or after 'effective_from'")
        spec = RequirementSpec(
            credential_type=base["credential_type"],
            employee=base["employee"],
            job_title=c.string(entry, r, "job_title"),
            job_level=c.string(entry, r, "job_level", max_len=32),
            department=dep,
            location=loc,
            effective_from=start,  # type: ignore[arg-type]
            effective_until=until,  # type: ignore[arg-type]
            grace_days=_int(c, entry, r, "grace_days", 0, 3650) or 0,
            notes=c.string(entry, r, "notes", max_len=2000),
        )
        if any(x.key() == spec.key() for x in reqs):
            c.error(entry, "duplicate requirement (same type and selectors)")
        else:
            reqs.append(spec)

    creds: list[CredentialSpec] = []
    keys: set[tuple[str, str, str]] = set()
    for i, d in enumerate(c.tables(data, "credentials")):
        entry = f"credentials[{i}]"
        c.keys(entry, d, CREDENTIAL_KEYS)
        base = refs(entry, d, employee_required=True)
        number = c.string(entry, d, "number", required=True, max_len=100)
        issued = _date(c, entry, d, "issued_on", relative=True)
        if issued is None:
            c.error(entry, "'issued_on' is required")
        raw_exp = d.get("expires_on", "default")
        expires: Any = "default"
        if raw_exp == "never":
            expires = None
        elif raw_exp != "default":
            expires = _date(c, entry, d, "expires_on", relative=True)
        verification = d.get("verification")
        if verification not in (None, "pending", "verified", "rejected"):
            c.error(entry, "'verification' must be 'pending', 'verified' or 'rejected'")
        evidence = c.string(entry, d, "evidence", max_len=500)
        if evidence is not None and (evidence.startswith("/") or ".." in evidence.split("/")):
            c.error(entry, "'evidence' must be a path relative to the manifest, inside its folder")
        spec_type = next((t for t in types if t.name == base["credential_type"]), None)
        if (
            verification is not None
            and spec_type is not None
            and not spec_type.verification_required
        ):
            c.error(
                entry,
                f"'verification' applies only to types with verification_required "
                f"({spec_type.name!r} has none)",
            )
        reason = c.string(entry, d, "rejection_reason", max_len=2000)
        if reason is not None and verification != "rejected":
            c.error(entry, "'rejection_reason' needs verification = \"rejected\"")
        if spec_type is not None and spec_type.evidence_required and evidence is None:
            c.error(entry, f'{spec_type.name!r} requires evidence: add evidence = "<file>"')
        key = (base["employee"] or "", base["credential_type"], number or "")
        if key in keys:
            c.error(entry, "duplicate credential (same employee, type and number)")
        keys.add(key)
        creds.append(
            CredentialSpec(
                employee=base["employee"] or "",
                credential_type=base["credential_type"],
                number=number or "",
                issued_on=issued if issued is not None else 0,
                expires_on=expires,
                issuer=c.string(entry, d, "issuer"),
                verification=verification,
                notes=c.string(entry, d, "notes", max_len=2000),
                evidence=evidence,
                rejection_reason=reason,
            )
        )
    return types, reqs, creds
