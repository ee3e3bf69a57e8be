"""GraphQL for credentials and compliance: thin resolvers over credentials.service.

Objects are built from rows; relations (holder, type, evidence, verifier) are `Lazy` and load
through per-request DataLoaders only when selected. Statuses are derived on the request's
"today" in the tenant's time zone.
"""

from __future__ import annotations

import csv
import enum
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from upward.credentials import compliance, importer, service
from upward.credentials.loaders import (
    Facts,
    compliance_by_employee_loader,
    credential_by_id_loader,
    credentials_by_employee_loader,
    evidence_by_id_loader,
    facts_of,
    requirement_by_id_loader,
    type_by_id_loader,
)
from upward.credentials.storage import sign_token
from upward.errors import BadUserInput, NotFound
from upward.graphql.lazy import Lazy
from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    Edge,
    PageInfo,
    build_connection,
    decode_cursor,
    encode_cursor,
    expect_global_id,
    page_args,
    to_global_id,
)
from upward.people.loaders import viewer_of
from upward.people.schema import (
    Department,
    Employee,
    Location,
    _load_department,
    _load_employee,
    _load_location,
    _opt_id,
)
from upward.reminders.schema import CredentialReminderState
from upward.settings import get_settings

if TYPE_CHECKING:
    from upward.development.schema import SkillGrant

# --- enums ---------------------------------------------------------------------------------------


@strawberry.enum
class CredentialCategory(enum.Enum):
    CERTIFICATION = "certification"
    LICENSE = "license"
    TRAINING = "training"
    CLEARANCE = "clearance"
    OTHER = "other"


@strawberry.enum
class CredentialTypeStatus(enum.Enum):
    ACTIVE = "active"
    RETIRED = "retired"


@strawberry.enum(description="Derived from the credential's facts on the request's date.")
class CredentialStatus(enum.Enum):
    PENDING_VERIFICATION = "pending_verification"
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"


@strawberry.enum
class Verification(enum.Enum):
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


@strawberry.enum(description="How one person stands against one required credential type.")
class RequirementState(enum.Enum):
    SATISFIED = "satisfied"
    EXPIRING = "expiring"
    PENDING = "pending"
    EXPIRED = "expired"
    MISSING = "missing"


@strawberry.enum
class CredentialOrder(enum.Enum):
    EXPIRES_ON_ASC = "EXPIRES_ON_ASC"
    ISSUED_ON_DESC = "ISSUED_ON_DESC"


@strawberry.enum
class ImportOutcome(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


# --- objects -------------------------------------------------------------------------------------


@strawberry.type(description="An identifier of the type in another system (ESCO, the issuer).")
class ExternalId:
    scheme: str
    code: str


@strawberry.type(description="A kind of credential the tenant tracks.")
class CredentialType(Node):
    id: strawberry.ID
    name: str
    category: CredentialCategory
    description: str | None
    issuing_authority: str | None
    validity_months: int | None = strawberry.field(
        description="Default validity from the issue date; null: does not expire."
    )
    evidence_required: bool
    verification_required: bool
    renewal_lead_days: int | None = strawberry.field(
        description="How many days renewing usually takes (a hint for reminders)."
    )
    external_ids: list[ExternalId]
    status: CredentialTypeStatus
    created_at: datetime
    updated_at: datetime
    _raw_id: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description="Skills a valid credential of this type grants its holder, at a proficiency."
    )
    async def grants_skills(
        self, info: Info
    ) -> list[Annotated[SkillGrant, strawberry.lazy("upward.development.schema")]]:
        from upward.development.schema import grants_of_type

        return await grants_of_type(info.context, self._raw_id)


def type_obj(row: Any) -> CredentialType:
    return CredentialType(
        id=to_global_id("CredentialType", row.id),
        name=row.name,
        category=CredentialCategory(row.category),
        description=row.description,
        issuing_authority=row.issuing_authority,
        validity_months=row.validity_months,
        evidence_required=row.evidence_required,
        verification_required=row.verification_required,
        renewal_lead_days=row.renewal_lead_days,
        external_ids=[ExternalId(scheme=k, code=v) for k, v in sorted(row.external_ids.items())],
        status=CredentialTypeStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        _raw_id=row.id,
    )


async def _load_type(ctx: Any, type_id: uuid.UUID) -> CredentialType | None:
    row = await type_by_id_loader(ctx).load(type_id)
    return type_obj(row) if row is not None else None


@strawberry.type(
    description="A rule: people matching every given selector (none: everyone) must hold the "
    "type from `effectiveFrom` (or their hire date, if later) until `effectiveUntil`; a gap is "
    "tolerated for `graceDays` after the rule starts applying to them and after an expiry."
)
class CredentialRequirement(Node):
    id: strawberry.ID
    credential_type: CredentialType
    job_title: str | None = strawberry.field(description="Matches titles case-insensitively.")
    job_level: str | None
    department: Department | None
    location: Location | None
    employee: Employee | None
    effective_from: date | None
    effective_until: date | None
    grace_days: int
    notes: str | None
    created_at: datetime
    updated_at: datetime


def requirement_obj(ctx: Any, viewer: Any, row: Any) -> CredentialRequirement:
    tid, did, lid, eid = row.credential_type_id, row.department_id, row.location_id, row.employee_id
    return CredentialRequirement(
        id=to_global_id("CredentialRequirement", row.id),
        credential_type=Lazy(lambda: _load_type(ctx, tid)),  # type: ignore[arg-type]
        job_title=row.job_title,
        job_level=row.job_level,
        department=Lazy(lambda: _load_department(ctx, did)) if did else None,  # type: ignore[arg-type]
        location=Lazy(lambda: _load_location(ctx, lid)) if lid else None,  # type: ignore[arg-type]
        employee=Lazy(lambda: _load_employee(ctx, viewer, eid)) if eid else None,  # type: ignore[arg-type]
        effective_from=row.effective_from,
        effective_until=row.effective_until,
        grace_days=row.grace_days,
        notes=row.notes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@strawberry.type(description="A file proving a credential (its bytes are behind signed URLs).")
class Evidence(Node):
    id: strawberry.ID
    file_name: str
    media_type: str
    size_bytes: int = strawberry.field(description="Bytes (declared until uploaded).")
    sha256: str | None = strawberry.field(description="Hex digest, once uploaded.")
    uploaded: bool
    created_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field(description="A short-lived signed URL to GET the file (null until uploaded).")
    def download_url(self, info: Info) -> str | None:
        if self._row.status != "stored":
            return None
        s = get_settings()
        token, _ = sign_token(
            "get", self._row.tenant_id, self._row.id, s.download_url_ttl_seconds, s
        )
        return _absolute(info, f"/evidence/{token}")


def _absolute(info: Info, path: str) -> str:
    request = info.context.request
    if request is None:
        return path
    return str(request.base_url).rstrip("/") + path


def evidence_obj(row: Any) -> Evidence:
    return Evidence(
        id=to_global_id("Evidence", row.id),
        file_name=row.file_name,
        media_type=row.media_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        uploaded=row.status == "stored",
        created_at=row.created_at,
        _row=row,
    )


async def _load_evidence(ctx: Any, evidence_id: uuid.UUID) -> Evidence | None:
    row = await evidence_by_id_loader(ctx).load(evidence_id)
    return evidence_obj(row) if row is not None else None


@strawberry.type(description="A credential a person holds (or held: history stays).")
class Credential(Node):
    id: strawberry.ID
    employee: Employee | None = strawberry.field(description="The holder.")
    credential_type: CredentialType
    number: str | None
    issuer: str | None
    issued_on: date
    expires_on: date | None = strawberry.field(description="Valid through this date; null: never.")
    days_until_expiry: int | None = strawberry.field(
        description="From today in the tenant's zone (negative once expired)."
    )
    status: CredentialStatus
    verification: Verification
    verified_by: Employee | None
    verified_at: datetime | None
    rejection_reason: str | None
    revoked_at: datetime | None
    revoke_reason: str | None
    superseded_at: datetime | None
    notes: str | None
    source: str = strawberry.field(description="api, import or manifest.")
    evidence: Evidence | None
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field(description="The renewal that replaced this credential.")
    async def superseded_by(self, info: Info) -> Credential | None:
        if self._row.superseded_by_id is None:
            return None
        return await _load_credential(info.context, self._row.superseded_by_id)

    @strawberry.field(
        description="What pauses its reminders in the current cycle (acknowledged, renewal in "
        "progress, snoozed); null when nothing does."
    )
    async def reminder_state(self, info: Info) -> CredentialReminderState | None:
        from upward.reminders.loaders import reminder_state_loader
        from upward.reminders.schema import state_obj

        row = await reminder_state_loader(info.context).load(self._row.id)
        if row is None or row.expires_on != self._row.expires_on:
            return None  # a state of an earlier expiry date: the new cycle starts unpaused
        return state_obj(self._row.id, row)

    @strawberry.field(
        description="Every credential of this type this person has held, newest first."
    )
    async def history(self, info: Info) -> list[Credential]:
        ctx = info.context
        facts = await facts_of(ctx)
        async with ctx.session() as s:
            rows = await service.credential_history(s, facts.viewer, self._row)
        return [credential_obj(ctx, facts, r) for r in rows]


def credential_obj(ctx: Any, facts: Facts, row: Any) -> Credential:
    eid, tid, evid, vid = row.employee_id, row.credential_type_id, row.evidence_id, row.verified_by
    viewer = facts.viewer
    return Credential(
        id=to_global_id("Credential", row.id),
        employee=Lazy(lambda: _load_employee(ctx, viewer, eid)),  # type: ignore[arg-type]
        credential_type=Lazy(lambda: _load_type(ctx, tid)),  # type: ignore[arg-type]
        number=row.number,
        issuer=row.issuer,
        issued_on=row.issued_on,
        expires_on=row.expires_on,
        days_until_expiry=(row.expires_on - facts.today).days if row.expires_on else None,
        status=CredentialStatus(
            service.status_of(row, on=facts.today, window=facts.window, timezone=facts.timezone)
        ),
        verification=Verification(row.verification),
        verified_by=Lazy(lambda: _load_employee(ctx, viewer, vid)) if vid else None,  # type: ignore[arg-type]
        verified_at=row.verified_at,
        rejection_reason=row.rejection_reason,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
        superseded_at=row.superseded_at,
        notes=row.notes,
        source=row.source,
        evidence=Lazy(lambda: _load_evidence(ctx, evid)) if evid else None,  # type: ignore[arg-type]
        created_at=row.created_at,
        updated_at=row.updated_at,
        _row=row,
    )


async def _load_credential(ctx: Any, credential_id: uuid.UUID) -> Credential | None:
    row = await credential_by_id_loader(ctx).load(credential_id)
    if row is None:
        return None
    return credential_obj(ctx, await facts_of(ctx), row)


@register_node("CredentialType")
async def _type_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await type_by_id_loader(ctx).load_many(ids)
    return {r.id: type_obj(r) for r in rows if r is not None}


@register_node("CredentialRequirement")
async def _requirement_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    p = ctx.require_principal()
    if not (p.is_hr or p.is_manager):
        return {}
    viewer = await viewer_of(ctx)
    rows = await requirement_by_id_loader(ctx).load_many(ids)
    return {r.id: requirement_obj(ctx, viewer, r) for r in rows if r is not None}


@register_node("Credential")
async def _credential_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    facts = await facts_of(ctx)
    rows = await credential_by_id_loader(ctx).load_many(ids)
    return {r.id: credential_obj(ctx, facts, r) for r in rows if r is not None}


@register_node("Evidence")
async def _evidence_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await evidence_by_id_loader(ctx).load_many(ids)
    return {r.id: evidence_obj(r) for r in rows if r is not None}


# --- compliance objects --------------------------------------------------------------------------


@strawberry.type(description="One required credential type for one person on a date.")
class RequirementAnswer:
    credential_type: CredentialType
    state: RequirementState
    compliant: bool = strawberry.field(
        description="Satisfied, expiring, or a gap still within its grace period."
    )
    credential: Credential | None = strawberry.field(
        description="The credential that satisfies it (or the pending or expired one)."
    )
    valid_until: date | None = strawberry.field(
        description="The satisfying (or last) credential's expiry; null: never expires."
    )
    grace_until: date | None = strawberry.field(description="A gap is tolerated through this date.")
    _rule_ids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="The requirement rules that ask for it.")
    async def requirements(self, info: Info) -> list[CredentialRequirement]:
        ctx = info.context
        viewer = await viewer_of(ctx)
        rows = await requirement_by_id_loader(ctx).load_many(self._rule_ids)
        return [requirement_obj(ctx, viewer, r) for r in rows if r is not None]


def answer_obj(ctx: Any, pair: service.Pair) -> RequirementAnswer:
    tid, cid = pair.type_id, pair.credential_id
    a = pair.answer
    return RequirementAnswer(
        credential_type=Lazy(lambda: _load_type(ctx, tid)),  # type: ignore[arg-type]
        state=RequirementState(a.state),
        compliant=a.compliant,
        credential=Lazy(lambda: _load_credential(ctx, cid)) if cid else None,  # type: ignore[arg-type]
        valid_until=pair.expires_on if cid else None,
        grace_until=a.grace_until,
        _rule_ids=pair.rule_ids,
    )


@strawberry.type(description="Whether one person holds everything required of them on a date.")
class EmployeeCompliance:
    employee: Employee
    on: date
    compliant: bool
    requirements: list[RequirementAnswer]


@strawberry.type(description="A person missing (or about to lose) a required credential.")
class ComplianceGap:
    employee: Employee | None
    answer: RequirementAnswer


@strawberry.type(description="A compliance rate of a group of people (or requirement pairs).")
class ComplianceRate:
    total: int
    compliant: int
    rate: float = strawberry.field(description="compliant / total, 1.0 for an empty group.")


@strawberry.type
class DepartmentRate(ComplianceRate):
    department: Department | None = strawberry.field(description="null: no department.")


@strawberry.type
class LocationRate(ComplianceRate):
    location: Location | None = strawberry.field(description="null: no location.")


@strawberry.type
class CredentialTypeRate(ComplianceRate):
    credential_type: CredentialType


@strawberry.type
class StateCount:
    state: RequirementState
    count: int


@strawberry.type
class GapEdge:
    cursor: str
    node: ComplianceGap


@strawberry.type
class GapConnection:
    edges: list[GapEdge]
    page_info: PageInfo
    total_count: int


GAP_ORDER_KEY = "compliance:gaps"


@strawberry.type(
    description="Compliance of a set of people on a date. People count once: compliant when "
    "every requirement asked of them is. Requirement counts are (person, type) pairs."
)
class ComplianceReport:
    on: date
    expiring_window_days: int
    people: ComplianceRate
    requirements: ComplianceRate
    by_department: list[DepartmentRate]
    by_location: list[LocationRate]
    by_credential_type: list[CredentialTypeRate]
    states: list[StateCount]
    _report: strawberry.Private[Any]

    @strawberry.field(description="The non-compliant pairs, by person name. Relay pagination.")
    async def gaps(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> GapConnection:
        ctx = info.context
        principal = ctx.require_principal()
        if first is not None and not 0 < first <= 100:
            raise BadUserInput("`first` must be between 1 and 100", field="first")
        size = first or 20
        secret = ctx.settings.effective_cursor_secret
        gaps = self._report.sorted_gaps
        start = 0
        if after is not None:
            key = decode_cursor(secret, principal.tenant_id, GAP_ORDER_KEY, after, field="after")
            keys = [_gap_key(g) for g in gaps]
            target = tuple(key)
            start = next((i for i, k in enumerate(keys) if k > target), len(keys))
        chunk = gaps[start : start + size]
        viewer = await viewer_of(ctx)
        edges = []
        for g in chunk:
            eid = g.employee_id
            edges.append(
                GapEdge(
                    cursor=encode_cursor(secret, principal.tenant_id, GAP_ORDER_KEY, _gap_key(g)),
                    node=ComplianceGap(
                        employee=Lazy(lambda eid=eid: _load_employee(ctx, viewer, eid)),  # type: ignore[arg-type]
                        answer=answer_obj(ctx, g),
                    ),
                )
            )
        return GapConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=start + size < len(gaps),
                has_previous_page=start > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=len(gaps),
        )

    @strawberry.field(
        description="Every gap as CSV (header: employee_email, employee_name, department, "
        "location, credential_type, state, valid_until, grace_until)."
    )
    async def gaps_csv(self, info: Info) -> str:
        ctx = info.context
        gaps = self._report.sorted_gaps
        async with ctx.session() as s:
            people = await service.gap_people(s, [g.employee_id for g in gaps])
            types = await service.types_by_ids(s, [g.type_id for g in gaps])
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(
            [
                "employee_email",
                "employee_name",
                "department",
                "location",
                "credential_type",
                "state",
                "valid_until",
                "grace_until",
            ]
        )
        for g in gaps:
            email, name, dep, loc = people.get(g.employee_id, ("", "", "", ""))
            w.writerow(
                [
                    _csv_safe(email),
                    _csv_safe(name),
                    _csv_safe(dep or ""),
                    _csv_safe(loc or ""),
                    _csv_safe(types[g.type_id].name if g.type_id in types else ""),
                    g.answer.state,
                    g.expires_on.isoformat() if g.credential_id and g.expires_on else "",
                    g.answer.grace_until.isoformat() if g.answer.grace_until else "",
                ]
            )
        return out.getvalue()


def _csv_safe(value: str) -> str:
    """Text that a spreadsheet would run as a formula is prefixed with a quote."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _gap_key(p: service.Pair) -> tuple[str, str, str]:
    return (p.name or "", str(p.employee_id), str(p.type_id))


class _ReportData:
    def __init__(self, report: service.Report) -> None:
        self.report = report
        self.sorted_gaps = sorted(report.gaps, key=_gap_key)


def report_obj(ctx: Any, report: service.Report) -> ComplianceReport:
    s = report.summary

    def rate(r: compliance.Rate) -> dict[str, Any]:
        return {"total": r.total, "compliant": r.compliant, "rate": r.rate}

    return ComplianceReport(
        on=report.on,
        expiring_window_days=report.window,
        people=ComplianceRate(**rate(s.people)),
        requirements=ComplianceRate(**rate(s.pairs)),
        by_department=[
            DepartmentRate(
                department=Lazy(lambda k=k: _load_department(ctx, k)) if k else None,  # type: ignore[arg-type]
                **rate(r),
            )
            for k, r in sorted(s.by_department.items(), key=lambda kv: str(kv[0]))
        ],
        by_location=[
            LocationRate(
                location=Lazy(lambda k=k: _load_location(ctx, k)) if k else None,  # type: ignore[arg-type]
                **rate(r),
            )
            for k, r in sorted(s.by_location.items(), key=lambda kv: str(kv[0]))
        ],
        by_credential_type=[
            CredentialTypeRate(
                credential_type=Lazy(lambda k=k: _load_type(ctx, k)),  # type: ignore[arg-type]
                **rate(r),
            )
            for k, r in sorted(s.by_type.items(), key=lambda kv: str(kv[0]))
        ],
        states=[StateCount(state=RequirementState(k), count=v) for k, v in s.states.items()],
        _report=_ReportData(report),
    )


# --- inputs --------------------------------------------------------------------------------------


def _ids(
    values: list[strawberry.ID] | None, type_name: str, field: str
) -> tuple[uuid.UUID, ...] | None:
    if values is None:
        return None
    if len(values) > 100:
        raise BadUserInput("at most 100 ids", field=field)
    return tuple(expect_global_id(v, type_name, field=f"{field}.{i}") for i, v in enumerate(values))


@strawberry.input
class CredentialFilter:
    employee_ids: list[strawberry.ID] | None = None
    credential_type_ids: list[strawberry.ID] | None = None
    statuses: list[CredentialStatus] | None = strawberry.field(
        default=None, description="Derived statuses on today's date."
    )
    department_ids: list[strawberry.ID] | None = None
    location_ids: list[strawberry.ID] | None = None
    expires_before: date | None = strawberry.field(default=None, description="On or before.")
    expires_after: date | None = strawberry.field(default=None, description="On or after.")
    include_history: bool = strawberry.field(
        default=True, description="false: leave out superseded, revoked and rejected ones."
    )


def _filter(f: CredentialFilter | None) -> service.CredentialFilter:
    if f is None:
        return service.CredentialFilter()
    return service.CredentialFilter(
        employee_ids=_ids(f.employee_ids, "Employee", "filter.employeeIds"),
        type_ids=_ids(f.credential_type_ids, "CredentialType", "filter.credentialTypeIds"),
        statuses=tuple(s.value for s in f.statuses) if f.statuses is not None else None,
        department_ids=_ids(f.department_ids, "Department", "filter.departmentIds"),
        location_ids=_ids(f.location_ids, "Location", "filter.locationIds"),
        expires_before=f.expires_before,
        expires_after=f.expires_after,
        include_history=f.include_history,
    )


@strawberry.input(description="Whose compliance. Empty: the whole tenant (HR).")
class ComplianceScope:
    manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="Everyone in this manager's reporting line (all levels)."
    )
    employee_ids: list[strawberry.ID] | None = None
    department_ids: list[strawberry.ID] | None = None
    location_ids: list[strawberry.ID] | None = None
    credential_type_ids: list[strawberry.ID] | None = None


def _scope(s: ComplianceScope | None) -> service.Scope:
    if s is None:
        return service.Scope()
    return service.Scope(
        line_of=_opt_id(s.manager_id, "Employee", "scope.managerId"),
        employee_ids=_ids(s.employee_ids, "Employee", "scope.employeeIds"),
        department_ids=_ids(s.department_ids, "Department", "scope.departmentIds"),
        location_ids=_ids(s.location_ids, "Location", "scope.locationIds"),
        type_ids=_ids(s.credential_type_ids, "CredentialType", "scope.credentialTypeIds"),
    )


@strawberry.input
class ExternalIdInput:
    scheme: str = strawberry.field(description="e.g. esco, onet, issuer")
    code: str


def external_ids_input(values: list[ExternalIdInput] | None, field: str) -> dict[str, str] | None:
    if values is None:
        return None
    out: dict[str, str] = {}
    for v in values:
        if v.scheme in out:
            raise BadUserInput(f"scheme {v.scheme!r} appears twice", field=field)
        out[v.scheme] = v.code
    return out


@strawberry.input
class CreateCredentialTypeInput:
    name: str
    category: CredentialCategory
    description: str | None = None
    issuing_authority: str | None = None
    validity_months: int | None = strawberry.field(default=None, description="null: no expiry.")
    evidence_required: bool = False
    verification_required: bool = False
    renewal_lead_days: int | None = None
    external_ids: list[ExternalIdInput] | None = None


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateCredentialTypeInput:
    name: str | None = strawberry.UNSET
    category: CredentialCategory | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    issuing_authority: str | None = strawberry.UNSET
    validity_months: int | None = strawberry.UNSET
    evidence_required: bool | None = strawberry.UNSET
    verification_required: bool | None = strawberry.UNSET
    renewal_lead_days: int | None = strawberry.UNSET
    external_ids: list[ExternalIdInput] | None = strawberry.UNSET
    status: CredentialTypeStatus | None = strawberry.field(
        default=strawberry.UNSET, description="RETIRED: no new credentials, rules stop applying."
    )


_TYPE_ATTRS = (
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
)


def _type_patch(inp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in _TYPE_ATTRS:
        value = getattr(inp, attr, strawberry.UNSET)
        if value is strawberry.UNSET:
            continue
        if attr in ("name", "category", "status") and value is None:
            raise BadUserInput("cannot be null", field=f"input.{service._camel(attr)}")
        if isinstance(value, enum.Enum):
            value = value.value
        if attr == "external_ids":
            value = external_ids_input(value, "input.externalIds")
        out[attr] = value
    return out


@strawberry.input(
    description="Who must hold a type. Every given selector must match; none: everyone."
)
class CreateCredentialRequirementInput:
    credential_type_id: strawberry.ID
    job_title: str | None = None
    job_level: str | None = None
    department_id: strawberry.ID | None = None
    location_id: strawberry.ID | None = None
    employee_id: strawberry.ID | None = None
    effective_from: date | None = None
    effective_until: date | None = None
    grace_days: int = 0
    notes: str | None = None


@strawberry.input(description="Fields to change; omitted fields stay as they are, null clears.")
class UpdateCredentialRequirementInput:
    credential_type_id: strawberry.ID | None = strawberry.UNSET
    job_title: str | None = strawberry.UNSET
    job_level: str | None = strawberry.UNSET
    department_id: strawberry.ID | None = strawberry.UNSET
    location_id: strawberry.ID | None = strawberry.UNSET
    employee_id: strawberry.ID | None = strawberry.UNSET
    effective_from: date | None = strawberry.UNSET
    effective_until: date | None = strawberry.UNSET
    grace_days: int | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET


_REQ_IDS = {
    "credential_type_id": "CredentialType",
    "department_id": "Department",
    "location_id": "Location",
    "employee_id": "Employee",
}


def _requirement_patch(inp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in service.REQUIREMENT_FIELDS:
        value = getattr(inp, attr, strawberry.UNSET)
        if value is strawberry.UNSET:
            continue
        if attr in _REQ_IDS:
            value = _opt_id(value, _REQ_IDS[attr], f"input.{service._camel(attr)}")
        out[attr] = value
    return out


@strawberry.input
class CreateEvidenceUploadInput:
    file_name: str
    media_type: str = strawberry.field(description="e.g. application/pdf, image/png, image/jpeg")
    size_bytes: int = strawberry.field(description="The exact size of the file to upload.")
    employee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Whose credential it proves (default: yours; others: HR)."
    )


@strawberry.input
class CreateCredentialInput:
    credential_type_id: strawberry.ID
    issued_on: date
    employee_id: strawberry.ID | None = strawberry.field(
        default=None, description="The holder (default: you; someone else: HR)."
    )
    number: str | None = None
    issuer: str | None = strawberry.field(
        default=None, description="Default: the type's issuing authority."
    )
    expires_on: date | None = strawberry.field(
        default=strawberry.UNSET,
        description="Omitted: issuedOn + the type's validity. null: does not expire.",
    )
    notes: str | None = None
    evidence_id: strawberry.ID | None = strawberry.field(
        default=None, description="An uploaded Evidence (createEvidenceUpload, then PUT)."
    )


@strawberry.input(description="Fields to correct; omitted fields stay as they are, null clears.")
class UpdateCredentialInput:
    number: str | None = strawberry.UNSET
    issuer: str | None = strawberry.UNSET
    issued_on: date | None = strawberry.UNSET
    expires_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="null: does not expire."
    )
    notes: str | None = strawberry.UNSET


@strawberry.type
class CredentialTypePayload:
    credential_type: CredentialType


@strawberry.type
class CredentialRequirementPayload:
    requirement: CredentialRequirement


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID


@strawberry.type
class CredentialPayload:
    credential: Credential


@strawberry.type(description="PUT the file's bytes to `uploadUrl` before it expires.")
class EvidenceUpload:
    evidence: Evidence
    upload_url: str
    method: str = strawberry.field(description="Always PUT.")
    content_type: str = strawberry.field(description="Send this Content-Type header.")
    expires_at: datetime


@strawberry.type
class ImportRow:
    row: int = strawberry.field(description="1-based data row (the header is row 0).")
    outcome: ImportOutcome
    credential_id: strawberry.ID | None
    error: str | None
    column: str | None = strawberry.field(description="The CSV column at fault.")


@strawberry.type
class ImportCredentialsResult:
    dry_run: bool
    all_or_nothing: bool
    written: bool = strawberry.field(description="Whether anything was written.")
    total: int
    created: int
    updated: int
    unchanged: int
    errors: int
    rows: list[ImportRow]


# --- fields on Employee (people/schema.py calls these) --------------------------------------------


async def credentials_of(
    ctx: Any, employee_id: uuid.UUID, *, include_history: bool
) -> list[Credential]:
    facts = await facts_of(ctx)
    if not service.can_read(facts.viewer, employee_id):
        return []
    rows = await credentials_by_employee_loader(ctx).load((employee_id, include_history))
    return [credential_obj(ctx, facts, r) for r in rows]


async def compliance_of(
    ctx: Any, employee_id: uuid.UUID, on: date | None
) -> EmployeeCompliance | None:
    facts = await facts_of(ctx)
    if not service.can_read(facts.viewer, employee_id):
        return None
    day = on or facts.today
    if not date(1900, 1, 1) <= day <= date(2200, 1, 1):
        raise BadUserInput("must be between 1900 and 2200", field="on")
    pairs = await compliance_by_employee_loader(ctx).load((employee_id, day))
    pairs = sorted(pairs, key=lambda x: str(x.type_id))
    viewer = facts.viewer
    return EmployeeCompliance(
        employee=Lazy(lambda: _load_employee(ctx, viewer, employee_id)),  # type: ignore[arg-type]
        on=day,
        compliant=all(x.answer.compliant for x in pairs),
        requirements=[answer_obj(ctx, x) for x in pairs],
    )


# --- queries -------------------------------------------------------------------------------------


async def _credential_connection(
    info: Info,
    filt: service.CredentialFilter,
    order_by: CredentialOrder,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[Credential]:
    ctx = info.context
    order = service.CREDENTIAL_ORDERS[order_by.value]
    args = page_args(ctx, order, first=first, after=after, last=last, before=before)
    facts = await facts_of(ctx)
    async with ctx.session() as s:
        page = await service.list_credentials(
            s,
            facts.viewer,
            filter=filt,
            page=args,
            order=order_by.value,
            on=facts.today,
            window=facts.window,
        )
    return build_connection(ctx, page, order, lambda r: credential_obj(ctx, facts, r))


PAGE_DOC = "Relay pagination: `first` (at most 100) with `after`, or `last` with `before`."


@strawberry.type
class CredentialsQuery:
    @strawberry.field(description="The tenant's credential types, by name.")
    async def credential_types(
        self, info: Info, include_retired: bool = False
    ) -> list[CredentialType]:
        ctx = info.context
        p = ctx.require_principal()
        async with ctx.session() as s:
            rows = await service.list_types(s, p, include_retired=include_retired)
        return [type_obj(r) for r in rows]

    @strawberry.field(description="Requirement rules (managers, hr_admin, tenant_admin).")
    async def credential_requirements(
        self,
        info: Info,
        credential_type_id: strawberry.ID | None = None,
        employee_id: strawberry.ID | None = None,
    ) -> list[CredentialRequirement]:
        ctx = info.context
        p = ctx.require_principal()
        tid = _opt_id(credential_type_id, "CredentialType", "credentialTypeId")
        eid = _opt_id(employee_id, "Employee", "employeeId")
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            rows = await service.list_requirements(s, p, credential_type_id=tid, employee_id=eid)
        return [requirement_obj(ctx, viewer, r) for r in rows]

    @strawberry.field(description="One credential; NOT_FOUND if it does not exist for you.")
    async def credential(self, info: Info, id: strawberry.ID) -> Credential:
        ctx = info.context
        ctx.require_principal()
        obj = await _load_credential(ctx, expect_global_id(id, "Credential", field="id"))
        if obj is None:
            raise NotFound("no credential with this id")
        return obj

    @strawberry.field(
        description="Credentials you may read: your own, your reporting line's, or (HR) "
        "everyone's. Soonest expiry first by default. " + PAGE_DOC
    )
    async def credentials(
        self,
        info: Info,
        filter: CredentialFilter | None = None,
        order_by: CredentialOrder = CredentialOrder.EXPIRES_ON_ASC,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Credential]:
        info.context.require_principal()
        return await _credential_connection(
            info, _filter(filter), order_by, first=first, after=after, last=last, before=before
        )

    @strawberry.field(
        description="Live credentials expiring from today through today + `withinDays` "
        "(pending ones included), soonest first; for dashboards. " + PAGE_DOC
    )
    async def expiring_credentials(
        self,
        info: Info,
        within_days: int = 30,
        filter: CredentialFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Credential]:
        ctx = info.context
        ctx.require_principal()
        if not 0 <= within_days <= 3650:
            raise BadUserInput("must be between 0 and 3650", field="withinDays")
        facts = await facts_of(ctx)
        base = _filter(filter)
        until = facts.today + timedelta(days=within_days)
        filt = service.CredentialFilter(
            employee_ids=base.employee_ids,
            type_ids=base.type_ids,
            department_ids=base.department_ids,
            location_ids=base.location_ids,
            statuses=base.statuses or ("active", "expiring", "pending_verification"),
            expires_after=max(facts.today, base.expires_after or facts.today),
            expires_before=min(until, base.expires_before or until),
        )
        return await _credential_connection(
            info,
            filt,
            CredentialOrder.EXPIRES_ON_ASC,
            first=first,
            after=after,
            last=None,
            before=None,
        )

    @strawberry.field(
        description="Each requirement asked of a person on a date (default: you, today): "
        "satisfied by which credential until when, or the gap."
    )
    async def employee_compliance(
        self, info: Info, employee_id: strawberry.ID | None = None, on: date | None = None
    ) -> EmployeeCompliance:
        ctx = info.context
        p = ctx.require_principal()
        eid = _opt_id(employee_id, "Employee", "employeeId") or p.employee_id
        if eid is None:
            raise BadUserInput("is required for a service principal", field="employeeId")
        viewer = await viewer_of(ctx)
        employee = await _load_employee(ctx, viewer, eid)
        if employee is None or not service.can_read(viewer, eid):
            raise NotFound("no employee with this id")
        async with ctx.session() as s:
            report = await service.compliance_report(
                s, p, service.Scope(employee_ids=(eid,)), on=on
            )
        pairs = sorted(report.pairs, key=lambda x: str(x.type_id))
        return EmployeeCompliance(
            employee=employee,
            on=report.on,
            compliant=all(x.answer.compliant for x in pairs),
            requirements=[answer_obj(ctx, x) for x in pairs],
        )

    @strawberry.field(
        description="Compliance on a date (default today; any past or future date) of the "
        "tenant (HR), a manager's line, or some people: rates and the gaps."
    )
    async def compliance_report(
        self, info: Info, on: date | None = None, scope: ComplianceScope | None = None
    ) -> ComplianceReport:
        ctx = info.context
        p = ctx.require_principal()
        sc = _scope(scope)
        async with ctx.session() as s:
            report = await service.compliance_report(s, p, sc, on=on)
        return report_obj(ctx, report)


# --- mutations -----------------------------------------------------------------------------------


@strawberry.type
class CredentialsMutation:
    @strawberry.mutation(description="Add a credential type (hr_admin or tenant_admin).")
    async def create_credential_type(
        self, info: Info, input: CreateCredentialTypeInput
    ) -> CredentialTypePayload | None:
        patch = _type_patch(input)
        async with info.context.mutation() as (s, p):
            row = await service.create_type(s, p, **patch)
        return CredentialTypePayload(credential_type=type_obj(row))

    @strawberry.mutation(
        description="Change, retire or reactivate a credential type (hr_admin or tenant_admin)."
    )
    async def update_credential_type(
        self, info: Info, id: strawberry.ID, input: UpdateCredentialTypeInput
    ) -> CredentialTypePayload | None:
        raw = expect_global_id(id, "CredentialType", field="id")
        patch = _type_patch(input)
        async with info.context.mutation() as (s, p):
            row = await service.update_type(s, p, raw, patch)
        return CredentialTypePayload(credential_type=type_obj(row))

    @strawberry.mutation(description="Add a requirement rule (hr_admin or tenant_admin).")
    async def create_credential_requirement(
        self, info: Info, input: CreateCredentialRequirementInput
    ) -> CredentialRequirementPayload | None:
        patch = _requirement_patch(input)
        ctx = info.context
        async with ctx.mutation() as (s, p):
            row = await service.create_requirement(s, p, **patch)
        return CredentialRequirementPayload(
            requirement=requirement_obj(ctx, await viewer_of(ctx), row)
        )

    @strawberry.mutation(description="Change a requirement rule (hr_admin or tenant_admin).")
    async def update_credential_requirement(
        self, info: Info, id: strawberry.ID, input: UpdateCredentialRequirementInput
    ) -> CredentialRequirementPayload | None:
        raw = expect_global_id(id, "CredentialRequirement", field="id")
        patch = _requirement_patch(input)
        ctx = info.context
        async with ctx.mutation() as (s, p):
            row = await service.update_requirement(s, p, raw, patch)
        return CredentialRequirementPayload(
            requirement=requirement_obj(ctx, await viewer_of(ctx), row)
        )

    @strawberry.mutation(
        description="Remove a requirement rule for every date. To end it but keep past "
        "answers, set effectiveUntil instead."
    )
    async def delete_credential_requirement(
        self, info: Info, id: strawberry.ID
    ) -> DeletePayload | None:
        raw = expect_global_id(id, "CredentialRequirement", field="id")
        async with info.context.mutation() as (s, p):
            await service.delete_requirement(s, p, raw)
        return DeletePayload(deleted_id=id)

    @strawberry.mutation(
        description="Start an evidence upload: returns a signed URL to PUT the file to. "
        "Then pass the evidence id to createCredential."
    )
    async def create_evidence_upload(
        self, info: Info, input: CreateEvidenceUploadInput
    ) -> EvidenceUpload | None:
        eid = _opt_id(input.employee_id, "Employee", "input.employeeId")
        async with info.context.mutation() as (s, p):
            row = await service.create_evidence_upload(
                s,
                p,
                employee_id=eid,
                file_name=input.file_name,
                media_type=input.media_type,
                size_bytes=input.size_bytes,
            )
        settings = get_settings()
        token, expires = sign_token(
            "put", row.tenant_id, row.id, settings.upload_url_ttl_seconds, settings
        )
        return EvidenceUpload(
            evidence=evidence_obj(row),
            upload_url=_absolute(info, f"/uploads/evidence/{token}"),
            method="PUT",
            content_type=row.media_type,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    @strawberry.mutation(
        description="Submit a credential (yours; anyone's as HR). A newer one supersedes the "
        "older ones of its type (a renewal); history stays."
    )
    async def create_credential(
        self, info: Info, input: CreateCredentialInput
    ) -> CredentialPayload | None:
        ctx = info.context
        data = service.CredentialInput(
            credential_type_id=expect_global_id(
                input.credential_type_id, "CredentialType", field="input.credentialTypeId"
            ),
            issued_on=input.issued_on,
            employee_id=_opt_id(input.employee_id, "Employee", "input.employeeId"),
            number=input.number,
            issuer=input.issuer,
            expires_on=None if input.expires_on is strawberry.UNSET else input.expires_on,
            expires_on_given=input.expires_on is not strawberry.UNSET,
            notes=input.notes,
            evidence_id=_opt_id(input.evidence_id, "Evidence", "input.evidenceId"),
        )
        async with ctx.mutation() as (s, p):
            row = await service.create_credential(s, p, data)
        return CredentialPayload(credential=credential_obj(ctx, await facts_of(ctx), row))

    @strawberry.mutation(
        description="Correct a credential's number, issuer, dates or notes (hr_admin)."
    )
    async def update_credential(
        self, info: Info, id: strawberry.ID, input: UpdateCredentialInput
    ) -> CredentialPayload | None:
        ctx = info.context
        raw = expect_global_id(id, "Credential", field="id")
        patch = {
            attr: getattr(input, attr)
            for attr in service.CREDENTIAL_PATCHABLE
            if getattr(input, attr) is not strawberry.UNSET
        }
        async with ctx.mutation() as (s, p):
            row = await service.update_credential(s, p, raw, patch)
        return CredentialPayload(credential=credential_obj(ctx, await facts_of(ctx), row))

    @strawberry.mutation(description="Verify a pending credential (hr_admin; not your own).")
    async def verify_credential(self, info: Info, id: strawberry.ID) -> CredentialPayload | None:
        ctx = info.context
        raw = expect_global_id(id, "Credential", field="id")
        async with ctx.mutation() as (s, p):
            row = await service.verify_credential(s, p, raw)
        return CredentialPayload(credential=credential_obj(ctx, await facts_of(ctx), row))

    @strawberry.mutation(description="Reject a pending credential with a reason (hr_admin).")
    async def reject_credential(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> CredentialPayload | None:
        ctx = info.context
        raw = expect_global_id(id, "Credential", field="id")
        async with ctx.mutation() as (s, p):
            row = await service.reject_credential(s, p, raw, reason=reason)
        return CredentialPayload(credential=credential_obj(ctx, await facts_of(ctx), row))

    @strawberry.mutation(description="Revoke a credential with a reason (hr_admin).")
    async def revoke_credential(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> CredentialPayload | None:
        ctx = info.context
        raw = expect_global_id(id, "Credential", field="id")
        async with ctx.mutation() as (s, p):
            row = await service.revoke_credential(s, p, raw, reason=reason)
        return CredentialPayload(credential=credential_obj(ctx, await facts_of(ctx), row))

    @strawberry.mutation(
        description="Import credentials from CSV (hr_admin; up to 10,000 rows). dryRun (the "
        "default) writes nothing; a real run writes every valid row, or with allOrNothing "
        "nothing if any row fails. Columns: email, credential_type, number, issuer, "
        "issued_on, expires_on, notes."
    )
    async def import_credentials(
        self, info: Info, csv: str, dry_run: bool = True, all_or_nothing: bool = False
    ) -> ImportCredentialsResult | None:
        async with info.context.mutation() as (s, p):
            result = await importer.import_credentials(
                s, p, csv_text=csv, dry_run=dry_run, all_or_nothing=all_or_nothing
            )
        return ImportCredentialsResult(
            dry_run=result.dry_run,
            all_or_nothing=result.all_or_nothing,
            written=result.written,
            total=len(result.rows),
            created=result.count("created"),
            updated=result.count("updated"),
            unchanged=result.count("unchanged"),
            errors=result.count("error"),
            rows=[
                ImportRow(
                    row=r.row,
                    outcome=ImportOutcome(r.outcome),
                    credential_id=to_global_id("Credential", r.credential_id)
                    if r.credential_id is not None
                    else None,
                    error=r.error,
                    column=r.column,
                )
                for r in result.rows
            ],
        )


__all__ = ["CredentialsMutation", "CredentialsQuery", "Edge"]
