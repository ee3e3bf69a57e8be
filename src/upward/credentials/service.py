"""Credentials rules: types, requirements, credentials held (submit, renew, verify, reject,
revoke), evidence uploads, domain events, and the compliance answers.

Plain async functions over an Executor and a Principal, shared by resolvers, workers and the
manifest loader. Services never commit. Every mutation writes its audit event, and the domain
events it causes, in the caller's transaction.
"""

from __future__ import annotations

import calendar
import re
import uuid
from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.credentials import compliance
from upward.credentials.models import (
    CATEGORIES,
    Credential,
    CredentialRequirement,
    CredentialType,
    DomainEvent,
    EvidenceFile,
)
from upward.credentials.status import STATUSES, credential_status, status_sql
from upward.credentials.storage import storage_key
from upward.db import Executor, Params, fetch, grouped, is_unique_violation, rows_by_ids
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, page_from_rows
from upward.people.models import Department, Employee, Location
from upward.people.service import Viewer, load_viewer, reporting_line_ids
from upward.people.validation import optional_text, reject_nul, require_text
from upward.reminders.outbox import events_recorded
from upward.settings import get_settings
from upward.tenancy.models import Tenant

t_type = CredentialType.__table__
t_req = CredentialRequirement.__table__
t_cred = Credential.__table__
t_ev = EvidenceFile.__table__
t_event = DomainEvent.__table__
t_emp = Employee.__table__
t_dep = Department.__table__
t_loc = Location.__table__
t_tenant = Tenant.__table__

MAX_NOTES = 2000
EXTERNAL_ID_SCHEME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


# --- time ----------------------------------------------------------------------------------------


def today(principal: Principal) -> date:
    return clock.today(principal.tenant_timezone)


def day_end(on: date, timezone: str) -> datetime:
    """The instant the date `on` ends in `timezone` (a timestamp before it is on or before `on`)."""
    return datetime.combine(on + timedelta(days=1), time.min, tzinfo=clock.zone(timezone))


def local_date(ts: datetime | None, timezone: str) -> date | None:
    if ts is None:
        return None
    return ts.astimezone(clock.zone(timezone)).date()


def add_months(d: date, months: int) -> date:
    """Same day `months` later, clamped to the month's end (Jan 31 + 1 month = Feb 28/29)."""
    m = d.month - 1 + months
    year, month = d.year + m // 12, m % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


async def expiring_window(session: Executor, principal: Principal) -> int:
    """Days before expiry at which a credential becomes `expiring` (the tenant's setting)."""
    value = await session.scalar(
        sa.select(t_tenant.c.credential_expiring_days).where(t_tenant.c.id == principal.tenant_id)
    )
    return int(value or 30)


def _now() -> datetime:
    return clock.now()


# --- visibility ----------------------------------------------------------------------------------


def can_read(viewer: Viewer, employee_id: uuid.UUID) -> bool:
    """Employees read their own credentials, managers their reporting line's, HR everyone's."""
    return viewer.sees_private(employee_id)


# --- domain events (the outbox) ------------------------------------------------------------------


async def record_event(
    session: Executor,
    principal: Principal,
    *,
    kind: str,
    subject_id: uuid.UUID,
    key: str,
    payload: dict[str, Any],
    subject_type: str = "Credential",
) -> None:
    """Record a domain event once: a second call with the same key does nothing. The event
    publisher is kicked once the transaction commits."""
    await events_recorded(session, principal.tenant_id)
    await session.execute(
        pg_insert(t_event)
        .values(
            tenant_id=principal.tenant_id,
            kind=kind,
            subject_type=subject_type,
            subject_id=subject_id,
            idempotency_key=key,
            payload=audit._jsonable(payload),
            # the statement's own time, like the set-based inserts: events keep write order
            occurred_at=sa.func.clock_timestamp(),
        )
        .on_conflict_do_nothing(constraint="domain_events_key")
    )


def _event_payload(row: Any, **extra: Any) -> dict[str, Any]:
    return {
        "credential_id": row.id,
        "employee_id": row.employee_id,
        "credential_type_id": row.credential_type_id,
        "issued_on": row.issued_on,
        "expires_on": row.expires_on,
        **extra,
    }


def credential_events_sql(kind: str, key: str, *, extra: str = "", source: str) -> str:
    """INSERT ... SELECT of one `kind` event per credential `c` that `source` (the FROM clause
    onwards) yields, keyed by the SQL expression `key`, with the payload of `_event_payload`
    plus `extra` (more `'name', value` pairs); a key already recorded is skipped. Constants
    only: values travel as the caller's parameters."""
    more = f", {extra}" if extra else ""
    return f"""
        insert into domain_events
            (tenant_id, kind, subject_type, subject_id, idempotency_key, occurred_at, payload)
        select c.tenant_id, '{kind}', 'Credential', c.id, {key}, clock_timestamp(),
               jsonb_build_object('credential_id', c.id, 'employee_id', c.employee_id,
                   'credential_type_id', c.credential_type_id, 'issued_on', c.issued_on,
                   'expires_on', c.expires_on{more})
        {source}
        on conflict on constraint domain_events_key do nothing
    """


async def complete_certifications(session: Executor, ids: Sequence[uuid.UUID]) -> None:
    """New credentials complete the IDP certification activities they satisfy (same
    transaction: the plan shows it as soon as the credential is recorded)."""
    from upward.development.plans import complete_certifications as complete

    await complete(session, list(ids))


async def record_created_events(
    session: Executor, ids: Sequence[uuid.UUID], *, source: str
) -> None:
    """`credential.created` for each new credential, and `credential.verified` for those
    verified on entry, set-based (a bulk import, a manifest). `source` is a constant."""
    await events_recorded(session)
    where = "from credentials c where c.id = any($1::uuid[])"
    for kind, extra, cond in (
        ("credential.created", "'verification', c.verification", ""),
        ("credential.verified", "'verified_by', c.verified_by", " and c.verification = 'verified'"),
    ):
        sql = credential_events_sql(
            kind, f"'{kind}:' || c.id", extra=f"{extra}, 'source', '{source}'", source=where + cond
        )
        await fetch(session, sql, list(ids))
    await complete_certifications(session, ids)


async def record_status_events(session: Executor, principal: Principal) -> int:
    """Record `credential.expiring` / `credential.expired` for every live credential of an
    active person that is in that state today, once per credential and expiry date (a renewal
    or a corrected date starts over). Idempotent and set-based: safe to run at any interval."""
    on = today(principal)
    window = await expiring_window(session, principal)
    end = day_end(on, principal.tenant_timezone)
    total = 0
    for status, kind in (("expiring", "credential.expiring"), ("expired", "credential.expired")):
        p = Params()
        on_p = p(on, "::date")
        cond = status_sql(
            status,
            alias="c",
            on=on_p,
            window=p.lazy(window, "::int"),
            day_end=p.lazy(end, "::timestamptz"),
        )
        sql = credential_events_sql(
            kind,
            f"'{kind}:' || c.id || ':' || c.expires_on",
            extra=f"'on', {on_p}",
            source=f"""
            from credentials c
            join employees e on e.tenant_id = c.tenant_id and e.id = c.employee_id
            join credential_types t on t.tenant_id = c.tenant_id and t.id = c.credential_type_id
            where e.status = 'active' and t.status = 'active' and {cond}""",
        )
        total += len(await fetch(session, sql + " returning id", *p.values))
    if total:
        await events_recorded(session, principal.tenant_id)
    return total


# --- credential types ----------------------------------------------------------------------------


def check_external_ids(value: dict[str, str] | None, *, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if len(value) > 10:
        raise BadUserInput("at most 10 external ids", field=field)
    out: dict[str, str] = {}
    for scheme, code in value.items():
        reject_nul(scheme, field=field)
        if not EXTERNAL_ID_SCHEME.match(scheme or ""):
            raise BadUserInput(
                f"scheme {scheme!r} must be 1-32 lowercase letters, digits, '_', '.' or '-' "
                "(e.g. esco, issuer)",
                field=field,
            )
        out[scheme] = require_text(code, field=field, max_len=300)
    return out


def _check_int(value: int | None, *, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        raise BadUserInput(f"must be between {low} and {high}", field=field)
    return value


def _type_values(patch: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in patch.items():
        f = "input." + _camel(key)
        if key == "name":
            out[key] = require_text(value, field=f)
        elif key == "category":
            if value not in CATEGORIES:
                raise BadUserInput(f"category must be one of {', '.join(CATEGORIES)}", field=f)
            out[key] = value
        elif key == "description":
            out[key] = optional_text(value, field=f, max_len=MAX_NOTES)
        elif key == "issuing_authority":
            out[key] = optional_text(value, field=f, max_len=200)
        elif key == "validity_months":
            out[key] = _check_int(value, field=f, low=1, high=1200)
        elif key == "renewal_lead_days":
            out[key] = _check_int(value, field=f, low=0, high=3650)
        elif key in ("evidence_required", "verification_required"):
            if value is None:
                raise BadUserInput("cannot be null", field=f)
            out[key] = bool(value)
        elif key == "external_ids":
            out[key] = check_external_ids(value, field=f)
        elif key == "status":
            if value not in ("active", "retired"):
                raise BadUserInput("status must be active or retired", field=f)
            out[key] = value
        else:
            raise BadUserInput(f"cannot set {key}", field="input")
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


async def list_types(
    session: Executor, principal: Principal, *, include_retired: bool = False
) -> list[Any]:
    """Every employee may read the catalog (they pick a type when they submit)."""
    stmt = sa.select(t_type).order_by(t_type.c.name, t_type.c.id)
    if not include_retired:
        stmt = stmt.where(t_type.c.status == "active")
    return list((await session.execute(stmt)).all())


async def types_by_ids(session: Executor, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return await rows_by_ids(session, t_type, ids)


async def _write_type(session: Executor, stmt: Any) -> Any:
    try:
        async with session.begin_nested():
            return (await session.execute(stmt.returning(t_type))).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, "credential_types_name_key"):
            raise Conflict(
                "a credential type with this name already exists", field="input.name"
            ) from exc
        raise


async def create_type(session: Executor, principal: Principal, **fields: Any) -> Any:
    principal.require_hr("managing credential types")
    values = _type_values(fields)
    for required in ("name", "category"):
        if required not in values:
            raise BadUserInput("is required", field=f"input.{required}")
    row = await _write_type(
        session, sa.insert(t_type).values(tenant_id=principal.tenant_id, **values)
    )
    await audit.record(
        session,
        principal,
        action="credential_type.create",
        target_type="CredentialType",
        target_id=row.id,
        changes=audit.diff({}, {k: v for k, v in values.items() if v not in (None, {}, False)}),
    )
    return row


async def update_type(
    session: Executor, principal: Principal, type_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change, retire (`status: retired`) or reactivate a type. Retired types take no new
    credentials and their requirements stop applying; credentials already held keep their
    history."""
    principal.require_hr("managing credential types")
    values = _type_values(patch)
    current = (
        await session.execute(sa.select(t_type).where(t_type.c.id == type_id).with_for_update())
    ).first()
    if current is None:
        raise NotFound("no credential type with this id")
    changes = audit.diff({k: getattr(current, k) for k in values}, values)
    row = current
    if changes:
        row = await _write_type(
            session,
            sa.update(t_type).where(t_type.c.id == type_id).values(**values, updated_at=_now()),
        )
    action = "credential_type.update"
    if "status" in changes:
        action = f"credential_type.{'retire' if values['status'] == 'retired' else 'reactivate'}"
    await audit.record(
        session,
        principal,
        action=action,
        target_type="CredentialType",
        target_id=type_id,
        changes=changes,
    )
    return row


async def _usable_type(session: Executor, type_id: uuid.UUID, *, field: str) -> Any:
    row = (await session.execute(sa.select(t_type).where(t_type.c.id == type_id))).first()
    if row is None:
        raise BadUserInput("no credential type with this id", field=field)
    if row.status != "active":
        raise BadUserInput(f"the credential type {row.name!r} is retired", field=field)
    return row


# --- requirements --------------------------------------------------------------------------------


REQUIREMENT_FIELDS = (
    "credential_type_id",
    "job_title",
    "job_level",
    "department_id",
    "location_id",
    "employee_id",
    "effective_from",
    "effective_until",
    "grace_days",
    "notes",
)


async def _exists(session: Executor, table: sa.Table, row_id: uuid.UUID, *, active: bool) -> bool:
    conds = [table.c.id == row_id]
    if active:
        conds.append(table.c.status == "active")
    return await session.scalar(sa.select(sa.literal(1)).where(*conds)) is not None


async def _requirement_values(
    session: Executor, patch: dict[str, Any], current: Any = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in patch.items():
        f = "input." + _camel(key)
        if key == "credential_type_id":
            if value is None:
                raise BadUserInput("cannot be null", field=f)
            await _usable_type(session, value, field=f)
            out[key] = value
        elif key in ("job_title", "job_level"):
            out[key] = optional_text(value, field=f, max_len=200 if key == "job_title" else 32)
        elif key in ("department_id", "location_id", "employee_id"):
            if value is not None:
                table, what = {
                    "department_id": (t_dep, "department"),
                    "location_id": (t_loc, "location"),
                    "employee_id": (t_emp, "active employee"),
                }[key]
                if not await _exists(session, table, value, active=key == "employee_id"):
                    raise BadUserInput(f"no {what} with this id", field=f)
            out[key] = value
        elif key in ("effective_from", "effective_until"):
            if value is not None and not date(1900, 1, 1) <= value <= date(2200, 1, 1):
                raise BadUserInput("must be between 1900 and 2200", field=f)
            out[key] = value
        elif key == "grace_days":
            out[key] = _check_int(0 if value is None else value, field=f, low=0, high=3650)
        elif key == "notes":
            out[key] = optional_text(value, field=f, max_len=MAX_NOTES)
        else:
            raise BadUserInput(f"cannot set {key}", field="input")
    start = out.get("effective_from", getattr(current, "effective_from", None))
    until = out.get("effective_until", getattr(current, "effective_until", None))
    if start is not None and until is not None and until < start:
        raise BadUserInput("must be on or after effectiveFrom", field="input.effectiveUntil")
    return out


async def list_requirements(
    session: Executor,
    principal: Principal,
    *,
    credential_type_id: uuid.UUID | None = None,
    employee_id: uuid.UUID | None = None,
) -> list[Any]:
    """The rules (HR and managers); employees see what applies to them in `compliance`."""
    if not (principal.is_hr or principal.is_manager):
        raise Forbidden("reading requirement rules needs a manager, hr_admin or tenant_admin")
    stmt = sa.select(t_req).order_by(t_req.c.created_at, t_req.c.id)
    if credential_type_id is not None:
        stmt = stmt.where(t_req.c.credential_type_id == credential_type_id)
    if employee_id is not None:
        stmt = stmt.where(t_req.c.employee_id == employee_id)
    return list((await session.execute(stmt)).all())


async def requirements_by_ids(session: Executor, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return await rows_by_ids(session, t_req, ids)


async def create_requirement(session: Executor, principal: Principal, **fields: Any) -> Any:
    principal.require_hr("managing credential requirements")
    if fields.get("credential_type_id") is None:
        raise BadUserInput("is required", field="input.credentialTypeId")
    values = await _requirement_values(session, fields)
    row = (
        await session.execute(
            sa.insert(t_req).values(tenant_id=principal.tenant_id, **values).returning(t_req)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="credential_requirement.create",
        target_type="CredentialRequirement",
        target_id=row.id,
        changes=audit.diff({}, {k: v for k, v in values.items() if v is not None}),
    )
    return row


async def update_requirement(
    session: Executor, principal: Principal, requirement_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    principal.require_hr("managing credential requirements")
    current = (
        await session.execute(
            sa.select(t_req).where(t_req.c.id == requirement_id).with_for_update()
        )
    ).first()
    if current is None:
        raise NotFound("no credential requirement with this id")
    values = await _requirement_values(session, patch, current)
    changes = audit.diff({k: getattr(current, k) for k in values}, values)
    row = current
    if changes:
        row = (
            await session.execute(
                sa.update(t_req)
                .where(t_req.c.id == requirement_id)
                .values(**values, updated_at=_now())
                .returning(t_req)
            )
        ).one()
    await audit.record(
        session,
        principal,
        action="credential_requirement.update",
        target_type="CredentialRequirement",
        target_id=requirement_id,
        changes=changes,
    )
    return row


async def delete_requirement(
    session: Executor, principal: Principal, requirement_id: uuid.UUID
) -> uuid.UUID:
    """Remove a rule entirely (it no longer counts for any date). To end a rule but keep past
    answers, set its `effectiveUntil` instead."""
    principal.require_hr("managing credential requirements")
    row = (
        await session.execute(sa.delete(t_req).where(t_req.c.id == requirement_id).returning(t_req))
    ).first()
    if row is None:
        raise NotFound("no credential requirement with this id")
    await audit.record(
        session,
        principal,
        action="credential_requirement.delete",
        target_type="CredentialRequirement",
        target_id=requirement_id,
        changes={k: audit._jsonable(getattr(row, k)) for k in REQUIREMENT_FIELDS},
    )
    return requirement_id


# --- evidence ------------------------------------------------------------------------------------

_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def check_file_name(value: str, *, field: str) -> str:
    name = require_text(value, field=field, max_len=255)
    if _BAD_NAME.search(name) or name in (".", ".."):
        raise BadUserInput(
            "must be a plain file name (no path separators or control characters)", field=field
        )
    return name


async def create_evidence_upload(
    session: Executor,
    principal: Principal,
    *,
    employee_id: uuid.UUID | None,
    file_name: str,
    media_type: str,
    size_bytes: int,
) -> Any:
    """Record a pending evidence file; the caller returns its signed upload URL."""
    settings = get_settings()
    holder = employee_id or principal.employee_id
    if holder is None:
        raise BadUserInput("is required for a service principal", field="input.employeeId")
    if holder != principal.employee_id:
        principal.require_hr("uploading evidence for someone else")
        if not await _exists(session, t_emp, holder, active=True):
            raise BadUserInput("no active employee with this id", field="input.employeeId")
    name = check_file_name(file_name, field="input.fileName")
    reject_nul(media_type, field="input.mediaType")
    mt = (media_type or "").strip().lower()
    if mt not in settings.evidence_media_types:
        raise BadUserInput(
            f"media type {media_type!r} is not accepted; use one of "
            + ", ".join(settings.evidence_media_types),
            field="input.mediaType",
        )
    if size_bytes <= 0 or size_bytes > settings.evidence_max_bytes:
        raise BadUserInput(
            f"must be between 1 and {settings.evidence_max_bytes} bytes", field="input.sizeBytes"
        )
    evidence_id = uuid.uuid4()
    row = (
        await session.execute(
            sa.insert(t_ev)
            .values(
                tenant_id=principal.tenant_id,
                id=evidence_id,
                employee_id=holder,
                uploaded_by=principal.employee_id,
                file_name=name,
                media_type=mt,
                size_bytes=size_bytes,
                storage_key=storage_key(principal.tenant_id, evidence_id),
            )
            .returning(t_ev)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="evidence.create_upload",
        target_type="EvidenceFile",
        target_id=evidence_id,
        changes={"employee_id": holder, "file_name": name, "media_type": mt, "size": size_bytes},
    )
    return row


async def prune_pending_evidence(session: Executor, *, older_than_seconds: int) -> int:
    """Forget evidence declared but never uploaded (its signed URL long expired). Nothing was
    stored for it, so only the row goes. Idempotent."""
    result = await session.execute(
        sa.delete(t_ev).where(
            t_ev.c.status == "pending",
            t_ev.c.created_at < _now() - timedelta(seconds=older_than_seconds),
        )
    )
    return result.rowcount or 0


async def evidence_by_ids(session: Executor, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return await rows_by_ids(session, t_ev, ids)


async def pending_evidence(session: Executor, evidence_id: uuid.UUID) -> Any:
    row = (
        await session.execute(
            sa.select(t_ev).where(t_ev.c.id == evidence_id, t_ev.c.status == "pending")
        )
    ).first()
    return row


async def mark_evidence_stored(
    session: Executor, evidence_id: uuid.UUID, *, size: int, sha256: str
) -> Any:
    """pending -> stored, once (None when it was not pending any more)."""
    return (
        await session.execute(
            sa.update(t_ev)
            .where(t_ev.c.id == evidence_id, t_ev.c.status == "pending")
            .values(status="stored", size_bytes=size, sha256=sha256, stored_at=_now())
            .returning(t_ev)
        )
    ).first()


# --- credentials: reads --------------------------------------------------------------------------

CREDENTIAL_ORDERS = {
    "EXPIRES_ON_ASC": Order(
        key="credentials:expires:asc",
        columns=(t_cred.c.expires_on, t_cred.c.id),
        parse=(date.fromisoformat, uuid.UUID),
        sql_types=("date", "uuid"),
    ),
    "ISSUED_ON_DESC": Order(
        key="credentials:issued:desc",
        columns=(t_cred.c.issued_on, t_cred.c.id),
        descending=True,
        parse=(date.fromisoformat, uuid.UUID),
        sql_types=("date", "uuid"),
    ),
}


@dataclass(frozen=True, slots=True)
class CredentialFilter:
    employee_ids: tuple[uuid.UUID, ...] | None = None
    type_ids: tuple[uuid.UUID, ...] | None = None
    statuses: tuple[str, ...] | None = None
    department_ids: tuple[uuid.UUID, ...] | None = None
    location_ids: tuple[uuid.UUID, ...] | None = None
    expires_before: date | None = None  # expires on or before
    expires_after: date | None = None  # expires on or after
    include_history: bool = True  # superseded, revoked and rejected ones too


CREDENTIAL_COLUMNS = tuple(c.name for c in t_cred.c)
# hand-written list SQL returns asyncpg records; rows with attributes, as SQLAlchemy's are
CredentialRow = namedtuple("CredentialRow", CREDENTIAL_COLUMNS)  # type: ignore[misc]
_SELECT = ", ".join(f"c.{c}" for c in CREDENTIAL_COLUMNS)


async def list_credentials(
    session: Executor,
    viewer: Viewer,
    *,
    filter: CredentialFilter,
    page: PageArgs,
    order: str = "EXPIRES_ON_ASC",
    on: date,
    window: int,
) -> Page:
    """A page of the credentials the viewer may read. Statuses are derived on `on`."""
    p = Params()
    conds: list[str] = []
    visible = viewer.private_ids()
    if visible is not None:
        conds.append(f"c.employee_id = any({p(visible, '::uuid[]')})")
    employee_join = ""
    if not viewer.sees_offboarded or filter.department_ids or filter.location_ids:
        employee_join = "join employees e on e.tenant_id = c.tenant_id and e.id = c.employee_id"
        if not viewer.sees_offboarded:
            conds.append("e.status = 'active'")
        if filter.department_ids is not None:
            conds.append(f"e.department_id = any({p(list(filter.department_ids), '::uuid[]')})")
        if filter.location_ids is not None:
            conds.append(f"e.location_id = any({p(list(filter.location_ids), '::uuid[]')})")
    if filter.employee_ids is not None:
        conds.append(f"c.employee_id = any({p(list(filter.employee_ids), '::uuid[]')})")
    if filter.type_ids is not None:
        conds.append(f"c.credential_type_id = any({p(list(filter.type_ids), '::uuid[]')})")
    if filter.expires_before is not None:
        conds.append(f"c.expires_on <= {p(filter.expires_before, '::date')}")
    if filter.expires_after is not None:
        conds.append(f"c.expires_on >= {p(filter.expires_after, '::date')}")
    statuses = filter.statuses
    if statuses is None and not filter.include_history:
        statuses = ("pending_verification", "active", "expiring", "expired")
    if statuses is not None:
        for s in statuses:
            if s not in STATUSES:
                raise BadUserInput(f"unknown status {s!r}", field="filter.statuses")
        on_p, win_p = p.lazy(on, "::date"), p.lazy(window, "::int")
        end_p = p.lazy(day_end(on, viewer.principal.tenant_timezone), "::timestamptz")
        conds.append(
            "("
            + " or ".join(
                status_sql(s, alias="c", on=on_p, window=win_p, day_end=end_p) for s in statuses
            )
            + ")"
        )
    sort = CREDENTIAL_ORDERS[order]
    count_values = list(p.values)
    where_base = " and ".join(conds) or "true"
    backward = page.last is not None and page.first is None
    size = (page.last if backward else page.first) or 20
    where = list(conds)
    # keyset on (expires_on, id) with NULLs (no expiry) last in ascending order
    key_col = sort.columns[0].name
    for values, forward in ((page.after, True), (page.before, False)):
        if values is None:
            continue
        field_name = "after" if forward else "before"
        if len(values) != 2:
            raise BadUserInput("invalid cursor", field=field_name)
        try:
            kv = sort.parse[0](values[0]) if values[0] is not None else None
            iv = uuid.UUID(str(values[1]))
        except (TypeError, ValueError):
            raise BadUserInput("invalid cursor", field=field_name) from None
        greater = forward != sort.descending
        # ascending: NULLS LAST; descending: NULLS FIRST (Postgres defaults), so the
        # sentinel 'infinity' orders them the same way in the comparison
        col = f"coalesce(c.{key_col}, 'infinity'::date)"
        kp = p(kv, "::date") if kv is not None else "'infinity'::date"
        ip = p(iv, "::uuid")
        where.append(f"({col}, c.id) {'>' if greater else '<'} ({kp}, {ip})")
    desc = sort.descending != backward
    direction = "desc" if desc else "asc"
    sql = (
        f"select {_SELECT} from credentials c {employee_join} "  # noqa: S608
        f"where {' and '.join(where) or 'true'} "
        f"order by coalesce(c.{key_col}, 'infinity'::date) {direction}, c.id {direction} "
        f"limit {int(size) + 1:d}"
    )
    rows = [CredentialRow(*r) for r in await fetch(session, sql, *p.values)]
    count_sql = (
        f"select count(*) from credentials c {employee_join} where {where_base}",  # noqa: S608
        count_values,
    )
    return page_from_rows(rows, size, page, count_sql=count_sql)


async def credentials_by_ids(
    session: Executor, viewer: Viewer, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    ids = list(set(ids))
    if not ids:
        return {}
    stmt = sa.select(t_cred).where(t_cred.c.id.in_(ids))
    visible = viewer.private_ids()
    if visible is not None:
        stmt = stmt.where(t_cred.c.employee_id.in_(visible))
    if not viewer.sees_offboarded:
        stmt = stmt.where(
            t_cred.c.employee_id.in_(sa.select(t_emp.c.id).where(t_emp.c.status == "active"))
        )
    return {r.id: r for r in (await session.execute(stmt)).all()}


async def credentials_of_employees(
    session: Executor, ids: Iterable[uuid.UUID], *, include_history: bool
) -> dict[uuid.UUID, list[Any]]:
    """{employee id: their credentials, soonest expiry first} in one statement. The caller
    has checked that the viewer may read each of these people's credentials."""
    ids = list(set(ids))
    if not ids:
        return {}
    stmt = sa.select(t_cred).where(t_cred.c.employee_id.in_(ids))
    if not include_history:
        stmt = stmt.where(
            t_cred.c.revoked_at.is_(None),
            t_cred.c.superseded_by_id.is_(None),
            t_cred.c.verification != "rejected",
        )
    stmt = stmt.order_by(t_cred.c.expires_on.asc().nulls_last(), t_cred.c.id)
    return grouped((await session.execute(stmt)).all(), ids, lambda r: r.employee_id)


def status_of(row: Any, *, on: date, window: int, timezone: str) -> str:
    return credential_status(
        on=on,
        window_days=window,
        expires_on=row.expires_on,
        verification=row.verification,
        revoked_on=local_date(row.revoked_at, timezone),
        superseded_on=local_date(row.superseded_at, timezone),
    )


async def credential_history(session: Executor, viewer: Viewer, row: Any) -> list[Any]:
    """Every credential of the same type held by the same person, newest first (renewals)."""
    if not can_read(viewer, row.employee_id):
        return []
    stmt = (
        sa.select(t_cred)
        .where(
            t_cred.c.employee_id == row.employee_id,
            t_cred.c.credential_type_id == row.credential_type_id,
        )
        .order_by(t_cred.c.issued_on.desc(), t_cred.c.created_at.desc(), t_cred.c.id.desc())
    )
    return list((await session.execute(stmt)).all())


# --- credentials: writes -------------------------------------------------------------------------


@dataclass(slots=True)
class CredentialInput:
    credential_type_id: uuid.UUID
    issued_on: date
    employee_id: uuid.UUID | None = None
    number: str | None = None
    issuer: str | None = None
    expires_on: date | None = None
    expires_on_given: bool = False  # False: default from the type's validity
    notes: str | None = None
    evidence_id: uuid.UUID | None = None


def check_dates(
    *,
    issued_on: date,
    expires_on: date | None,
    today_: date,
    prefix: str = "input.",
) -> None:
    if issued_on.year < 1900:
        raise BadUserInput("must be in 1900 or later", field=f"{prefix}issuedOn")
    if issued_on > today_:
        raise BadUserInput(
            f"cannot be in the future (today is {today_.isoformat()} in the tenant's time zone)",
            field=f"{prefix}issuedOn",
        )
    if expires_on is not None and expires_on < issued_on:
        raise BadUserInput("must be on or after issuedOn", field=f"{prefix}expiresOn")
    if expires_on is not None and expires_on.year >= 2200:
        raise BadUserInput("must be before 2200", field=f"{prefix}expiresOn")


def default_expiry(type_row: Any, issued_on: date) -> date | None:
    months = type_row.validity_months
    return add_months(issued_on, months) if months else None


async def _locked_holder(session: Executor, employee_id: uuid.UUID, *, field: str) -> Any:
    """The holder, locked: concurrent submissions for one person serialize, so duplicate
    checks and supersession see each other."""
    row = (
        await session.execute(
            sa.select(t_emp.c.id, t_emp.c.status).where(t_emp.c.id == employee_id).with_for_update()
        )
    ).first()
    if row is None or row.status != "active":
        raise BadUserInput("no active employee with this id", field=field)
    return row


async def _duplicate_exists(
    session: Executor,
    *,
    employee_id: uuid.UUID,
    type_id: uuid.UUID,
    number: str,
    excluding: uuid.UUID | None = None,
) -> bool:
    conds = [
        t_cred.c.employee_id == employee_id,
        t_cred.c.credential_type_id == type_id,
        t_cred.c.number == number,
        t_cred.c.revoked_at.is_(None),
        t_cred.c.superseded_by_id.is_(None),
        t_cred.c.verification != "rejected",
    ]
    if excluding is not None:
        conds.append(t_cred.c.id != excluding)
    return await session.scalar(sa.select(sa.literal(1)).where(*conds)) is not None


async def reconcile(
    session: Executor,
    principal: Principal,
    pairs: Iterable[tuple[uuid.UUID, uuid.UUID]],
    *,
    audit_each: bool = True,
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Supersede, for each (employee, type), every live, usable credential older than the
    newest one (by issue date, then expiry, then entry). Pending credentials are left alone
    until verified. Returns {newest id: [ids it superseded now]}; set-based, one statement."""
    pairs = list(set(pairs))
    if not pairs:
        return {}
    sql = """
        with usable as (
            select c.id, c.employee_id, c.credential_type_id,
                   first_value(c.id) over (
                       partition by c.employee_id, c.credential_type_id
                       order by c.issued_on desc, coalesce(c.expires_on, 'infinity'::date) desc,
                                c.created_at desc, c.id desc) as newest
            from credentials c
            join unnest($1::uuid[], $2::uuid[]) as p(e, t)
              on c.employee_id = p.e and c.credential_type_id = p.t
            where c.revoked_at is null and c.superseded_by_id is null
              and c.verification in ('not_required', 'verified')
        )
        update credentials c set superseded_by_id = u.newest, superseded_at = $3,
                                 updated_at = $3
        from usable u
        where c.id = u.id and u.id <> u.newest
        returning c.id, u.newest
    """
    rows = await fetch(session, sql, [e for e, _ in pairs], [t for _, t in pairs], _now())
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for old_id, newest in rows:
        out.setdefault(newest, []).append(old_id)
    if not audit_each:  # a bulk import audits itself once
        return out
    for newest, olds in out.items():
        for old_id in olds:
            await audit.record(
                session,
                principal,
                action="credential.supersede",
                target_type="Credential",
                target_id=old_id,
                changes={"superseded_by_id": {"from": None, "to": str(newest)}},
            )
    return out


async def renewal_events_bulk(
    session: Executor, superseded: dict[uuid.UUID, list[uuid.UUID]]
) -> None:
    """`credential.renewed` for each newest credential of `reconcile`, in one statement."""
    if not superseded:
        return
    newest = list(superseded)
    olds = [",".join(str(i) for i in superseded[n]) for n in newest]
    sql = credential_events_sql(
        "credential.renewed",
        "'credential.renewed:' || c.id || ':' || md5(x.olds)",
        extra="'superseded_ids', to_jsonb(string_to_array(x.olds, ','))",
        source="from unnest($1::uuid[], $2::text[]) as x(id, olds) "
        "join credentials c on c.id = x.id",
    )
    await events_recorded(session)
    await fetch(session, sql, newest, olds)


async def create_credential(session: Executor, principal: Principal, data: CredentialInput) -> Any:
    """Submit a credential (yours, or anyone's as HR). A credential of a type that needs
    verification is pending until HR verifies it, unless HR entered it for someone else (then
    it is verified by them). A newer usable credential supersedes the older ones of its type."""
    holder = data.employee_id or principal.employee_id
    if holder is None:
        raise BadUserInput("is required for a service principal", field="input.employeeId")
    if holder != principal.employee_id:
        principal.require_hr("adding credentials for someone else")
    type_row = await _usable_type(session, data.credential_type_id, field="input.credentialTypeId")
    number = optional_text(data.number, field="input.number", max_len=100)
    issuer = optional_text(data.issuer, field="input.issuer", max_len=200)
    notes = optional_text(data.notes, field="input.notes", max_len=MAX_NOTES)
    expires_on = (
        data.expires_on if data.expires_on_given else default_expiry(type_row, data.issued_on)
    )
    check_dates(issued_on=data.issued_on, expires_on=expires_on, today_=today(principal))
    await _locked_holder(session, holder, field="input.employeeId")
    if data.evidence_id is None:
        if type_row.evidence_required:
            raise BadUserInput(
                f"{type_row.name!r} needs evidence: upload a file with createEvidenceUpload "
                "and pass its id",
                field="input.evidenceId",
            )
    else:
        ev = (await session.execute(sa.select(t_ev).where(t_ev.c.id == data.evidence_id))).first()
        if ev is None or ev.employee_id != holder:
            raise BadUserInput("no evidence file with this id", field="input.evidenceId")
        if ev.status != "stored":
            raise BadUserInput(
                "this evidence file has not been uploaded yet (PUT the bytes to its uploadUrl)",
                field="input.evidenceId",
            )
        used = await session.scalar(
            sa.select(sa.literal(1)).where(t_cred.c.evidence_id == data.evidence_id)
        )
        if used is not None:
            raise BadUserInput(
                "this evidence file already proves another credential", field="input.evidenceId"
            )
    if number is not None and await _duplicate_exists(
        session, employee_id=holder, type_id=type_row.id, number=number
    ):
        raise BadUserInput(
            f"this person already holds a live {type_row.name!r} with number {number!r}",
            field="input.number",
        )
    verification, verified_by, verified_at = "not_required", None, None
    if type_row.verification_required:
        if principal.is_hr and principal.employee_id not in (None, holder):
            verification, verified_by, verified_at = "verified", principal.employee_id, _now()
        elif principal.kind == "system":
            verification, verified_at = "verified", _now()
        else:
            verification = "pending"
    values = {
        "employee_id": holder,
        "credential_type_id": type_row.id,
        "number": number,
        "issuer": issuer or type_row.issuing_authority,
        "issued_on": data.issued_on,
        "expires_on": expires_on,
        "notes": notes,
        "evidence_id": data.evidence_id,
        "verification": verification,
        "verified_by": verified_by,
        "verified_at": verified_at,
        "created_by": principal.employee_id,
    }
    try:
        async with session.begin_nested():
            row = (
                await session.execute(
                    sa.insert(t_cred)
                    .values(tenant_id=principal.tenant_id, **values)
                    .returning(t_cred)
                )
            ).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, "credentials_live_number_key"):
            raise BadUserInput(
                f"this person already holds a live {type_row.name!r} with number {number!r}",
                field="input.number",
            ) from exc
        if is_unique_violation(exc, "credentials_evidence_key"):
            raise BadUserInput(
                "this evidence file already proves another credential", field="input.evidenceId"
            ) from exc
        raise
    await audit.record(
        session,
        principal,
        action="credential.create",
        target_type="Credential",
        target_id=row.id,
        changes=audit.diff({}, {k: v for k, v in values.items() if v is not None}),
    )
    await record_event(
        session,
        principal,
        kind="credential.created",
        subject_id=row.id,
        key=f"credential.created:{row.id}",
        payload=_event_payload(row, verification=verification),
    )
    await complete_certifications(session, [row.id])
    if verification == "verified":  # HR vouched for it on entry
        await record_event(
            session,
            principal,
            kind="credential.verified",
            subject_id=row.id,
            key=f"credential.verified:{row.id}",
            payload=_event_payload(row, verified_by=verified_by),
        )
    superseded = await reconcile(session, principal, [(holder, type_row.id)])
    await renewal_events_bulk(session, superseded)
    if superseded:
        row = (await session.execute(sa.select(t_cred).where(t_cred.c.id == row.id))).one()
    return row


async def _locked_credential(session: Executor, credential_id: uuid.UUID) -> Any:
    row = (
        await session.execute(
            sa.select(t_cred).where(t_cred.c.id == credential_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("no credential with this id")
    return row


CREDENTIAL_PATCHABLE = ("number", "issuer", "issued_on", "expires_on", "notes")


async def update_credential(
    session: Executor, principal: Principal, credential_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """HR corrects a credential's facts (a typo in the number, the real expiry date). The
    status follows from the new facts; a changed expiry starts a new reminder cycle."""
    principal.require_hr("correcting credentials")
    unknown = set(patch) - set(CREDENTIAL_PATCHABLE)
    if unknown:
        raise BadUserInput(f"cannot update {', '.join(sorted(unknown))}", field="input")
    current = await _locked_credential(session, credential_id)
    values: dict[str, Any] = {}
    if "number" in patch:
        values["number"] = optional_text(patch["number"], field="input.number", max_len=100)
    if "issuer" in patch:
        values["issuer"] = optional_text(patch["issuer"], field="input.issuer", max_len=200)
    if "notes" in patch:
        values["notes"] = optional_text(patch["notes"], field="input.notes", max_len=MAX_NOTES)
    if "issued_on" in patch:
        if patch["issued_on"] is None:
            raise BadUserInput("cannot be null", field="input.issuedOn")
        values["issued_on"] = patch["issued_on"]
    if "expires_on" in patch:
        values["expires_on"] = patch["expires_on"]
    check_dates(
        issued_on=values.get("issued_on", current.issued_on),
        expires_on=values.get("expires_on", current.expires_on),
        today_=today(principal),
    )
    number = values.get("number", current.number)
    if (
        number is not None
        and number != current.number
        and current.revoked_at is None
        and current.superseded_by_id is None
        and await _duplicate_exists(
            session,
            employee_id=current.employee_id,
            type_id=current.credential_type_id,
            number=number,
            excluding=credential_id,
        )
    ):
        raise BadUserInput(
            f"this person already holds a live credential of this type with number {number!r}",
            field="input.number",
        )
    changes = audit.diff({k: getattr(current, k) for k in values}, values)
    row = current
    if changes:
        try:
            async with session.begin_nested():
                row = (
                    await session.execute(
                        sa.update(t_cred)
                        .where(t_cred.c.id == credential_id)
                        .values(**values, updated_at=_now())
                        .returning(t_cred)
                    )
                ).one()
        except IntegrityError as exc:
            if is_unique_violation(exc, "credentials_live_number_key"):
                raise BadUserInput(
                    "this person already holds a live credential of this type with this number",
                    field="input.number",
                ) from exc
            raise
        await record_event(
            session,
            principal,
            kind="credential.updated",
            subject_id=row.id,
            key=f"credential.updated:{row.id}:{int(row.updated_at.timestamp() * 1_000_000)}",
            payload=_event_payload(row, changes=changes),
        )
        superseded = await reconcile(
            session, principal, [(row.employee_id, row.credential_type_id)]
        )
        await renewal_events_bulk(session, superseded)
        row = (await session.execute(sa.select(t_cred).where(t_cred.c.id == row.id))).one()
    await audit.record(
        session,
        principal,
        action="credential.update",
        target_type="Credential",
        target_id=credential_id,
        changes=changes,
    )
    return row


async def _review(
    session: Executor,
    principal: Principal,
    current: Any,
    values: dict[str, Any],
    *,
    verb: str,
    kind: str,
    changes: dict[str, Any],
    **payload: Any,
) -> Any:
    """Write a review step (verify, reject, revoke) of a locked credential: the new values,
    its audit event and its domain event, once per credential and kind."""
    row = (
        await session.execute(
            sa.update(t_cred)
            .where(t_cred.c.id == current.id)
            .values(**values, updated_at=_now())
            .returning(t_cred)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action=f"credential.{verb}",
        target_type="Credential",
        target_id=row.id,
        changes=changes,
    )
    await record_event(
        session,
        principal,
        kind=kind,
        subject_id=row.id,
        key=f"{kind}:{row.id}",
        payload=_event_payload(row, **payload),
    )
    return row


def _require_pending(current: Any, principal: Principal, *, own: str, done: str) -> None:
    """Only someone else's pending credential can be verified or rejected."""
    if current.employee_id == principal.employee_id:
        raise Forbidden(f"you cannot {own} your own credential; ask another HR admin")
    if current.verification != "pending":
        raise Conflict(
            f"only pending credentials can be {done} (this one is {current.verification})",
            field="id",
        )


async def verify_credential(
    session: Executor, principal: Principal, credential_id: uuid.UUID
) -> Any:
    principal.require_hr("verifying credentials")
    current = await _locked_credential(session, credential_id)
    _require_pending(current, principal, own="verify", done="verified")
    if current.revoked_at is not None:
        raise Conflict("this credential is revoked", field="id")
    row = await _review(
        session,
        principal,
        current,
        {"verification": "verified", "verified_by": principal.employee_id, "verified_at": _now()},
        verb="verify",
        kind="credential.verified",
        changes={"verification": {"from": "pending", "to": "verified"}},
        verified_by=principal.employee_id,
    )
    superseded = await reconcile(session, principal, [(row.employee_id, row.credential_type_id)])
    await renewal_events_bulk(session, superseded)
    return (await session.execute(sa.select(t_cred).where(t_cred.c.id == row.id))).one()


async def reject_credential(
    session: Executor, principal: Principal, credential_id: uuid.UUID, *, reason: str
) -> Any:
    principal.require_hr("rejecting credentials")
    text = require_text(reason, field="reason", max_len=MAX_NOTES)
    current = await _locked_credential(session, credential_id)
    _require_pending(current, principal, own="review", done="rejected")
    return await _review(
        session,
        principal,
        current,
        {
            "verification": "rejected",
            "verified_by": principal.employee_id,
            "verified_at": _now(),
            "rejection_reason": text,
        },
        verb="reject",
        kind="credential.rejected",
        changes={"verification": {"from": "pending", "to": "rejected"}, "reason": text},
        reason=text,
    )


async def revoke_credential(
    session: Executor, principal: Principal, credential_id: uuid.UUID, *, reason: str
) -> Any:
    principal.require_hr("revoking credentials")
    text = require_text(reason, field="reason", max_len=MAX_NOTES)
    current = await _locked_credential(session, credential_id)
    if current.revoked_at is not None:
        raise Conflict("this credential is already revoked", field="id")
    return await _review(
        session,
        principal,
        current,
        {"revoked_at": _now(), "revoked_by": principal.employee_id, "revoke_reason": text},
        verb="revoke",
        kind="credential.revoked",
        changes={"revoked": {"from": False, "to": True}, "reason": text},
        reason=text,
    )


# --- compliance ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose compliance: a tenant (None everywhere), a manager's line, some people; narrowed
    by departments, locations and credential types."""

    line_of: uuid.UUID | None = None
    employee_ids: tuple[uuid.UUID, ...] | None = None
    department_ids: tuple[uuid.UUID, ...] | None = None
    location_ids: tuple[uuid.UUID, ...] | None = None
    type_ids: tuple[uuid.UUID, ...] | None = None


@dataclass(slots=True)
class Pair:
    employee_id: uuid.UUID
    name: str
    department_id: uuid.UUID | None
    location_id: uuid.UUID | None
    type_id: uuid.UUID
    rule_ids: list[uuid.UUID]
    credential_id: uuid.UUID | None
    expires_on: date | None
    answer: compliance.Answer


# One row per (person, type) asked for on $1: the matching rules (their ids, starts and
# graces, only where the answer needs them: `details`, or no valid credential), and the best
# credential on that date. $2 is the instant the date ends in the tenant's zone.
_PAIRS_SQL = """
with emp as (
    select e.id, e.name, e.department_id, e.location_id, e.title, e.job_level, e.hire_date
    from employees e
    where (e.status = 'active' or e.offboarded_at >= $2)
      and (e.hire_date is null or e.hire_date <= $1)
      {emp_conds}
),
req as (
    select r.id, r.credential_type_id, lower(r.job_title) as job_title, r.job_level,
           r.department_id, r.location_id, r.employee_id, r.effective_from, r.grace_days
    from credential_requirements r
    join credential_types t on t.tenant_id = r.tenant_id and t.id = r.credential_type_id
    where t.status = 'active'
      and (r.effective_from is null or r.effective_from <= $1)
      and (r.effective_until is null or r.effective_until >= $1)
      {req_conds}
),
pair_rules as (
    select emp.id as employee_id, emp.name, emp.department_id, emp.location_id,
           req.credential_type_id, req.id as rule_id,
           greatest(req.effective_from, emp.hire_date) as start, req.grace_days
    from emp join req
      on (req.employee_id is null or req.employee_id = emp.id)
     and (req.department_id is null or req.department_id = emp.department_id)
     and (req.location_id is null or req.location_id = emp.location_id)
     and (req.job_level is null or req.job_level = emp.job_level)
     and (req.job_title is null or req.job_title = lower(emp.title))
),
best as (
    select distinct on (c.employee_id, c.credential_type_id)
           c.employee_id, c.credential_type_id, c.id, c.expires_on,
           case when c.expires_on is not null and c.expires_on < $1 then 2
                when c.verification = 'pending' then 1
                else 0 end as rank
    from credentials c
    where c.employee_id in (select id from emp)
      and c.credential_type_id in (select credential_type_id from req)
      and c.issued_on <= $1 and c.verification <> 'rejected'
      and (c.revoked_at is null or c.revoked_at >= $2)
      and (c.superseded_at is null or c.superseded_at >= $2)
    order by c.employee_id, c.credential_type_id, rank,
             coalesce(c.expires_on, 'infinity'::date) desc, c.issued_on desc, c.id
)
select p.employee_id, p.name, p.department_id, p.location_id, p.credential_type_id,
       array_agg(p.rule_id order by p.rule_id) filter (where {details} or b.rank <> 0
                                                        or b.rank is null),
       array_agg(p.start order by p.rule_id) filter (where {details} or b.rank <> 0
                                                      or b.rank is null),
       array_agg(p.grace_days order by p.rule_id) filter (where {details} or b.rank <> 0
                                                           or b.rank is null),
       b.id, b.expires_on, b.rank
from pair_rules p
left join best b on b.employee_id = p.employee_id
               and b.credential_type_id = p.credential_type_id
group by p.employee_id, p.name, p.department_id, p.location_id, p.credential_type_id,
         b.id, b.expires_on, b.rank
"""


async def compliance_pairs(
    session: Executor,
    principal: Principal,
    scope: Scope,
    *,
    on: date,
    window: int,
    details: bool = True,
) -> list[Pair]:
    """Every (person, credential type) the requirements ask for on `on`, with its answer; one
    statement whatever the number of people. People count when employed on that date (hired
    by then, not yet offboarded). Without `details`, pairs a valid credential satisfies carry
    no rule ids (a tenant-wide report shows only the gaps' rules, and skips building arrays
    for the rest)."""
    p = Params()
    p(on, "::date")
    p(day_end(on, principal.tenant_timezone), "::timestamptz")
    emp_conds: list[str] = []
    req_conds: list[str] = []
    if scope.line_of is not None:
        line = await reporting_line_ids(session, scope.line_of)
        emp_conds.append(f"e.id = any({p(line, '::uuid[]')})")
    if scope.employee_ids is not None:
        emp_conds.append(f"e.id = any({p(list(scope.employee_ids), '::uuid[]')})")
    if scope.department_ids is not None:
        emp_conds.append(f"e.department_id = any({p(list(scope.department_ids), '::uuid[]')})")
    if scope.location_ids is not None:
        emp_conds.append(f"e.location_id = any({p(list(scope.location_ids), '::uuid[]')})")
    if scope.type_ids is not None:
        req_conds.append(f"r.credential_type_id = any({p(list(scope.type_ids), '::uuid[]')})")
    sql = _PAIRS_SQL.format(
        emp_conds="".join(f" and {c}" for c in emp_conds),
        req_conds="".join(f" and {c}" for c in req_conds),
        details="true" if details else "false",
    )
    rows = await fetch(session, sql, *p.values)
    answer, Rule = compliance.answer, compliance.Rule
    out = []
    for emp, name, dep, loc, typ, rule_ids, starts, graces, cred_id, expires, rank in rows:
        if rank == compliance.RANK_VALID:  # no rules needed: the answer is the credential's
            a = answer(on=on, window_days=window, rules=(), rank=rank, expires_on=expires)
        else:
            rules = [Rule(s, g) for s, g in zip(starts, graces, strict=True)]
            a = answer(on=on, window_days=window, rules=rules, rank=rank, expires_on=expires)
        out.append(Pair(emp, name, dep, loc, typ, rule_ids or [], cred_id, expires, a))
    return out


async def check_compliance_access(
    session: Executor, principal: Principal, scope: Scope, viewer: Viewer | None = None
) -> Viewer:
    """HR sees every scope; a manager their own line (or people in it); anyone themselves."""
    viewer = viewer or await load_viewer(session, principal)
    if principal.is_hr:
        return viewer
    if scope.line_of is not None:
        if scope.line_of != principal.employee_id:
            raise Forbidden("you can read the compliance of your own reporting line only")
        return viewer
    if scope.employee_ids is not None and all(can_read(viewer, e) for e in scope.employee_ids):
        return viewer
    raise Forbidden("tenant-wide compliance needs hr_admin or tenant_admin")


@dataclass(slots=True)
class Report:
    on: date
    window: int
    pairs: list[Pair]
    summary: compliance.Summary = field(default_factory=compliance.Summary)

    @property
    def gaps(self) -> list[Pair]:
        return [p for p in self.pairs if not p.answer.compliant]


async def compliance_report(
    session: Executor, principal: Principal, scope: Scope, *, on: date | None = None
) -> Report:
    await check_compliance_access(session, principal, scope)
    on = on or today(principal)
    if not date(1900, 1, 1) <= on <= date(2200, 1, 1):
        raise BadUserInput("must be between 1900 and 2200", field="on")
    window = await expiring_window(session, principal)
    pairs = await compliance_pairs(
        session, principal, scope, on=on, window=window, details=scope.employee_ids is not None
    )
    summary = compliance.summarize(
        (p.employee_id, p.department_id, p.location_id, p.type_id, p.answer) for p in pairs
    )
    return Report(on, window, pairs, summary)


async def gap_people(
    session: Executor, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str, str | None, str | None]]:
    """{id: (email, name, department name, location name)} for a CSV export, one statement."""
    ids = list(set(ids))
    if not ids:
        return {}
    rows = await fetch(
        session,
        "select e.id, e.email, e.name, d.name, l.name from employees e "
        "left join departments d on d.tenant_id = e.tenant_id and d.id = e.department_id "
        "left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id "
        "where e.id = any($1::uuid[])",
        ids,
    )
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}
