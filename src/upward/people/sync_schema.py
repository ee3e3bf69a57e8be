"""GraphQL for the HRIS bulk sync: `upsertEmployees` (thin: the rules are in people.sync)."""

from __future__ import annotations

import enum
from datetime import date

import strawberry
from strawberry.types import Info

from upward.errors import BadUserInput
from upward.graphql.relay import to_global_id
from upward.people import sync

_FIELDS = (
    "email",
    "name",
    "title",
    "job_level",
    "department",
    "location",
    "manager_external_id",
    "hire_date",
    "timezone",
    "active",
)


@strawberry.input(
    description="One person from the HRIS, keyed by externalId. An omitted field keeps its "
    "value and null clears it (email and name cannot be null; a new person needs both)."
)
class EmployeeSyncInput:
    external_id: str = strawberry.field(description="The HRIS's id, unique in the tenant.")
    email: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    job_level: str | None = strawberry.UNSET
    department: str | None = strawberry.field(
        default=strawberry.UNSET, description="The name of an existing department."
    )
    location: str | None = strawberry.field(
        default=strawberry.UNSET, description="The name of an existing location."
    )
    manager_external_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The manager's externalId: an employee, or another row of this call. "
        "Ignored for a person who ends offboarded.",
    )
    hire_date: date | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    active: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false offboards (their reports move to their manager); true reactivates.",
    )


@strawberry.enum(description="What a sync row did (or, in a dry run, would do).")
class EmployeeSyncAction(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    OFFBOARDED = "offboarded"
    REACTIVATED = "reactivated"
    ERROR = "error"


@strawberry.type
class EmployeeSyncError:
    field: str = strawberry.field(description="The input field, e.g. `email`.")
    message: str


@strawberry.type
class EmployeeSyncRow:
    index: int = strawberry.field(description="The row's position in `input` (from 0).")
    external_id: str
    action: EmployeeSyncAction
    employee_id: strawberry.ID | None = strawberry.field(
        description="The employee's id; null for an error row and a new row in a dry run."
    )
    changed_fields: list[str] = strawberry.field(
        description="The input fields whose values change (or would change)."
    )
    errors: list[EmployeeSyncError]


@strawberry.type
class EmployeeSyncTotals:
    created: int
    updated: int
    unchanged: int
    offboarded: int
    reactivated: int
    errors: int
    reports_reassigned: int = strawberry.field(
        description="People moved to a new manager because theirs was offboarded."
    )


@strawberry.type
class EmployeeSyncResult:
    dry_run: bool
    written: bool = strawberry.field(description="Whether anything was written.")
    total: int
    totals: EmployeeSyncTotals
    rows: list[EmployeeSyncRow]


@strawberry.type
class SyncMutation:
    @strawberry.mutation(
        description="Create, update, offboard and reactivate people from an HRIS, keyed by "
        f"externalId (at most {sync.MAX_ROWS} rows; hr_admin, tenant_admin or an API key). "
        "Valid rows apply, invalid rows are reported and change nothing. Idempotent: the same "
        "input again changes nothing. `dryRun` reports what would happen and writes nothing."
    )
    async def upsert_employees(
        self, info: Info, input: list[EmployeeSyncInput], dry_run: bool = False
    ) -> EmployeeSyncResult:
        if len(input) > sync.MAX_ROWS:
            raise BadUserInput(f"at most {sync.MAX_ROWS} rows per call", field="input")
        rows = [
            sync.SyncRow(
                row.external_id,
                {k: v for k in _FIELDS if (v := getattr(row, k)) is not strawberry.UNSET},
            )
            for row in input
        ]
        ctx = info.context
        if dry_run:  # read only: the request's transaction is rolled back
            principal = ctx.require_principal()
            async with ctx.session() as s:
                result = await sync.upsert_employees(s, principal, rows, dry_run=True)
        else:
            async with ctx.mutation() as (s, p):
                result = await sync.upsert_employees(s, p, rows)
        counts = {a: 0 for a in sync.ACTIONS}
        out = []
        for r in result.rows:
            counts[r.action] += 1
            out.append(
                EmployeeSyncRow(
                    index=r.index,
                    external_id=r.external_id,
                    action=EmployeeSyncAction(r.action),
                    employee_id=to_global_id("Employee", r.employee_id)
                    if r.employee_id is not None
                    else None,
                    changed_fields=r.changed,
                    errors=[EmployeeSyncError(field=f, message=m) for f, m in r.errors],
                )
            )
        return EmployeeSyncResult(
            dry_run=result.dry_run,
            written=result.written,
            total=len(out),
            totals=EmployeeSyncTotals(
                created=counts[sync.CREATED],
                updated=counts[sync.UPDATED],
                unchanged=counts[sync.UNCHANGED],
                offboarded=counts[sync.OFFBOARDED],
                reactivated=counts[sync.REACTIVATED],
                errors=counts[sync.ERROR],
                reports_reassigned=result.reports_reassigned,
            ),
            rows=out,
        )
