"""Manifest sections for credentials: types, requirement rules and (demo) credentials held.

Runs as the owner inside `tenancy.service.apply_manifest`'s transaction, so every statement
filters by the tenant explicitly (the owner may bypass RLS). Idempotent like the rest of a
manifest: types match by name and rules by their type and selectors, and both are updated to
what the file says. Credentials are matched by holder, type and number and only ever created:
once they exist they are operational data (verified, rejected, corrected, renewed through the
API), which a later apply must not undo. Relative dates ("today-400d") resolve on the day a
credential is created.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from upward import clock
from upward.auth.principal import Principal
from upward.credentials import service
from upward.credentials.storage import evidence_store, storage_key
from upward.tenancy.manifest import Manifest

TYPE_FIELDS = (
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
RULE_FIELDS = ("effective_from", "effective_until", "grace_days", "notes")


def _resolve(value: Any, today: date) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return today + timedelta(days=int(value))


async def apply_credentials(
    session: AsyncSession,
    manifest: Manifest,
    *,
    tenant_id: uuid.UUID,
    timezone: str,
    emp_ids: dict[str, uuid.UUID],
    dep_ids: dict[str, uuid.UUID],
    loc_ids: dict[str, uuid.UUID],
    result: Any,
) -> None:
    if not (manifest.credential_types or manifest.credential_requirements or manifest.credentials):
        return
    now = datetime.now(UTC)
    principal = Principal.system(tenant_id, manifest.slug, timezone)
    t_type, t_req, t_cred = service.t_type, service.t_req, service.t_cred

    existing = {
        r.name: r
        for r in (
            await session.execute(sa.select(t_type).where(t_type.c.tenant_id == tenant_id))
        ).all()
    }
    type_ids: dict[str, uuid.UUID] = {}
    types: dict[str, Any] = {}
    for spec in manifest.credential_types:
        values = {f: getattr(spec, f) for f in TYPE_FIELDS}
        row = existing.get(spec.name)
        if row is None:
            row = (
                await session.execute(
                    sa.insert(t_type)
                    .values(tenant_id=tenant_id, name=spec.name, **values)
                    .returning(t_type)
                )
            ).one()
            result.count("created", "credential_types")
        elif any(getattr(row, f) != v for f, v in values.items()):
            row = (
                await session.execute(
                    sa.update(t_type)
                    .where(t_type.c.tenant_id == tenant_id, t_type.c.id == row.id)
                    .values(**values, updated_at=now)
                    .returning(t_type)
                )
            ).one()
            result.count("updated", "credential_types")
        type_ids[spec.name] = row.id
        types[spec.name] = row

    rules = (await session.execute(sa.select(t_req).where(t_req.c.tenant_id == tenant_id))).all()
    for spec in manifest.credential_requirements:
        selectors = {
            "credential_type_id": type_ids[spec.credential_type],
            "job_title": spec.job_title,
            "job_level": spec.job_level,
            "department_id": dep_ids.get(spec.department) if spec.department else None,
            "location_id": loc_ids.get(spec.location) if spec.location else None,
            "employee_id": emp_ids.get(spec.employee) if spec.employee else None,
        }
        values = {f: getattr(spec, f) for f in RULE_FIELDS}
        match = next(
            (r for r in rules if all(getattr(r, k) == v for k, v in selectors.items())), None
        )
        if match is None:
            await session.execute(
                sa.insert(t_req).values(tenant_id=tenant_id, **selectors, **values)
            )
            result.count("created", "credential_requirements")
        elif any(getattr(match, f) != v for f, v in values.items()):
            await session.execute(
                sa.update(t_req)
                .where(t_req.c.tenant_id == tenant_id, t_req.c.id == match.id)
                .values(**values, updated_at=now)
            )
            result.count("updated", "credential_requirements")

    if not manifest.credentials:
        return
    today = clock.today(timezone)
    held = {
        (r.employee_id, r.credential_type_id, r.number): r
        for r in (
            await session.execute(sa.select(t_cred).where(t_cred.c.tenant_id == tenant_id))
        ).all()
    }
    base = Path(manifest.path).parent
    pairs = []
    created_ids = []
    for spec in manifest.credentials:
        type_row = types[spec.credential_type]
        emp_id = emp_ids[spec.employee]
        issued = _resolve(spec.issued_on, today)
        assert issued is not None
        expires = (
            service.default_expiry(type_row, issued)
            if spec.expires_on == "default"
            else _resolve(spec.expires_on, today)
        )
        # (the manifest allows `verification` only for types that need it)
        verification = (
            (spec.verification or "verified") if type_row.verification_required else "not_required"
        )
        values: dict[str, Any] = {
            "issuer": spec.issuer or type_row.issuing_authority,
            "issued_on": issued,
            "expires_on": expires,
            "notes": spec.notes,
            "verification": verification,
        }
        row = held.get((emp_id, type_row.id, spec.number))
        if row is None:
            cred_id = uuid.uuid4()
            evidence_id = None
            if spec.evidence:
                evidence_id = await _store_evidence(
                    session, tenant_id, emp_id, base / spec.evidence
                )
            await session.execute(
                sa.insert(t_cred).values(
                    tenant_id=tenant_id,
                    id=cred_id,
                    employee_id=emp_id,
                    credential_type_id=type_row.id,
                    number=spec.number,
                    source="manifest",
                    evidence_id=evidence_id,
                    verified_at=now if verification in ("verified", "rejected") else None,
                    rejection_reason=(spec.rejection_reason or "Rejected in review")
                    if verification == "rejected"
                    else None,
                    **values,
                )
            )
            result.count("created", "credentials")
            created_ids.append(cred_id)
            pairs.append((emp_id, type_row.id))
    await service.record_created_events(session, created_ids, source="manifest")
    superseded = await service.reconcile(session, principal, pairs, audit_each=False)
    await service.renewal_events_bulk(session, superseded)


async def _store_evidence(
    session: AsyncSession, tenant_id: uuid.UUID, employee_id: uuid.UUID, path: Path
) -> uuid.UUID:
    data = await asyncio.to_thread(path.read_bytes)
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    evidence_id = uuid.uuid4()
    key = storage_key(tenant_id, evidence_id)
    store = evidence_store()

    async def chunks() -> Any:
        yield data

    staged = await store.put(key, chunks(), max_bytes=len(data))
    await store.commit(staged)
    await session.execute(
        sa.insert(service.t_ev).values(
            tenant_id=tenant_id,
            id=evidence_id,
            employee_id=employee_id,
            file_name=path.name,
            media_type=media_type,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_key=key,
            status="stored",
            stored_at=datetime.now(UTC),
        )
    )
    return evidence_id
