"""Tenant registry and provisioning from manifests.

Provisioning runs as the owner (it creates registry rows, which the app role may only read), in
one transaction per manifest, with the tenant set for that transaction like everywhere else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import set_tenant
from upward.people.models import Department, Employee, Location
from upward.tenancy.manifest import Manifest
from upward.tenancy.models import Tenant

t_tenant = Tenant.__table__
t_emp = Employee.__table__
t_dep = Department.__table__
t_loc = Location.__table__


CORE_SECTIONS = (
    "tenant",
    "departments",
    "locations",
    "employees",
    "credential_types",
    "credential_requirements",
    "credentials",
)


@dataclass
class ApplyResult:
    slug: str
    tenant_id: uuid.UUID
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def count(self, kind: str, label: str) -> None:
        """One more `label` row `created` (or else updated) by the apply."""
        bucket = self.created if kind == "created" else self.updated
        bucket[label] = bucket.get(label, 0) + 1

    def summary(self) -> str:
        """Counts per section: the core ones always, the optional ones when they changed."""
        parts = [
            f"{k}: +{self.created.get(k, 0)} ~{self.updated.get(k, 0)}"
            for k in (
                "tenant",
                "departments",
                "locations",
                "employees",
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
                "track_levels",
                "career_links",
                "employee_levels",
            )
            if k in self.created or k in self.updated or k in CORE_SECTIONS
        ]
        return f"{self.slug} ({self.tenant_id}): " + (
            ", ".join(parts) if self.changed else "unchanged"
        )


async def active_tenants(session: AsyncSession) -> list[Any]:
    """Every active tenant (the scheduler walks these, one tenant session each)."""
    stmt = sa.select(t_tenant).where(t_tenant.c.status == "active").order_by(t_tenant.c.slug)
    return list((await session.execute(stmt)).all())


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Any:
    return (await session.execute(sa.select(t_tenant).where(t_tenant.c.id == tenant_id))).first()


async def set_tenant_status(engine: AsyncEngine, slug: str, status: str) -> bool:
    """Suspend or reactivate a tenant (effective on its next request or job), audited."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        row = (
            await session.execute(
                sa.update(t_tenant)
                .where(t_tenant.c.slug == slug)
                .values(status=status, updated_at=datetime.now(UTC))
                .returning(t_tenant.c.id)
            )
        ).first()
        if row is None:
            return False
        await set_tenant(session, row.id)
        await audit.record(
            session,
            Principal.system(row.id, slug),
            action=f"tenant.{'activate' if status == 'active' else 'suspend'}",
            target_type="Tenant",
            target_id=row.id,
            changes={"status": status},
        )
    return True


async def _upsert_named(
    session: AsyncSession,
    table: sa.Table,
    tenant_id: uuid.UUID,
    specs: list[Any],
    fields: tuple[str, ...],
    result: ApplyResult,
    label: str,
) -> dict[str, uuid.UUID]:
    # The owner may bypass RLS (a superuser always does): filter by tenant explicitly.
    stmt = sa.select(table).where(table.c.tenant_id == tenant_id)
    existing = {r.name: r for r in (await session.execute(stmt)).all()}
    ids: dict[str, uuid.UUID] = {}
    for spec in specs:
        values = {f: getattr(spec, f) for f in fields}
        row = existing.get(spec.name)
        if row is None:
            new_id = await session.scalar(
                sa.insert(table)
                .values(tenant_id=tenant_id, name=spec.name, **values)
                .returning(table.c.id)
            )
            result.created[label] = result.created.get(label, 0) + 1
            ids[spec.name] = new_id
        else:
            if any(getattr(row, f) != v for f, v in values.items()):
                await session.execute(
                    sa.update(table)
                    .where(table.c.tenant_id == tenant_id, table.c.id == row.id)
                    .values(**values, updated_at=datetime.now(UTC))
                )
                result.updated[label] = result.updated.get(label, 0) + 1
            ids[spec.name] = row.id
    # names not in the manifest still resolve (employees may only reference declared ones)
    return ids


async def apply_manifest(engine: AsyncEngine, manifest: Manifest) -> ApplyResult:
    """Create or update the tenant idempotently; a second apply of the same file changes nothing."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        tenant = (
            await session.execute(sa.select(t_tenant).where(t_tenant.c.slug == manifest.slug))
        ).first()
        result = ApplyResult(slug=manifest.slug, tenant_id=uuid.uuid4())
        wanted: dict[str, Any] = {
            "name": manifest.name,
            "timezone": manifest.timezone,
            "audit_retention_days": manifest.audit_retention_days,
            "credential_expiring_days": manifest.credential_expiring_days,
        }
        if manifest.status is not None:
            wanted["status"] = manifest.status
        if tenant is None:
            tenant_id = await session.scalar(
                sa.insert(t_tenant).values(slug=manifest.slug, **wanted).returning(t_tenant.c.id)
            )
            result.created["tenant"] = 1
        else:
            tenant_id = tenant.id
            if any(getattr(tenant, k) != v for k, v in wanted.items()):
                await session.execute(
                    sa.update(t_tenant)
                    .where(t_tenant.c.id == tenant_id)
                    .values(**wanted, updated_at=datetime.now(UTC))
                )
                result.updated["tenant"] = 1
        result.tenant_id = tenant_id
        await set_tenant(session, tenant_id)

        dep_ids = await _upsert_named(
            session, t_dep, tenant_id, manifest.departments, ("code",), result, "departments"
        )
        loc_ids = await _upsert_named(
            session,
            t_loc,
            tenant_id,
            manifest.locations,
            ("timezone", "country"),
            result,
            "locations",
        )

        existing = {
            r.email: r
            for r in (
                await session.execute(sa.select(t_emp).where(t_emp.c.tenant_id == tenant_id))
            ).all()
        }
        now = datetime.now(UTC)
        emp_ids: dict[str, uuid.UUID] = {}
        # pass 1: everything but the manager
        for spec in manifest.employees:
            values: dict[str, Any] = {
                "name": spec.name,
                "title": spec.title,
                "job_level": spec.job_level,
                "department_id": dep_ids.get(spec.department) if spec.department else None,
                "location_id": loc_ids.get(spec.location) if spec.location else None,
                "roles": spec.roles,
                "hire_date": spec.hire_date,
                "external_id": spec.external_id,
                "timezone": spec.timezone,
                "status": spec.status,
            }
            row = existing.get(spec.email)
            if row is None:
                if spec.status == "offboarded":
                    values["offboarded_at"] = now
                emp_ids[spec.email] = await session.scalar(
                    sa.insert(t_emp)
                    .values(tenant_id=tenant_id, email=spec.email, **values)
                    .returning(t_emp.c.id)
                )
                result.created["employees"] = result.created.get("employees", 0) + 1
            else:
                emp_ids[spec.email] = row.id
                changed = {k: v for k, v in values.items() if getattr(row, k) != v}
                if changed:
                    if changed.get("status") == "offboarded":
                        changed["offboarded_at"] = now
                    elif changed.get("status") == "active":
                        changed["offboarded_at"] = None
                    await session.execute(
                        sa.update(t_emp)
                        .where(t_emp.c.tenant_id == tenant_id, t_emp.c.id == row.id)
                        .values(**changed, updated_at=now)
                    )
                    result.updated["employees"] = result.updated.get("employees", 0) + 1
        # pass 2: managers (all employees of the file now exist)
        for spec in manifest.employees:
            manager_id = emp_ids[spec.manager] if spec.manager else None
            row = existing.get(spec.email)
            if row is not None and row.manager_id == manager_id:
                continue
            if row is None and manager_id is None:
                continue
            await session.execute(
                sa.update(t_emp)
                .where(t_emp.c.tenant_id == tenant_id, t_emp.c.id == emp_ids[spec.email])
                .values(manager_id=manager_id)
            )
            if row is not None:
                result.updated["employees"] = result.updated.get("employees", 0) + 1

        from upward.credentials.provisioning import apply_credentials

        await apply_credentials(
            session,
            manifest,
            tenant_id=tenant_id,
            timezone=manifest.timezone,
            emp_ids=emp_ids,
            dep_ids=dep_ids,
            loc_ids=loc_ids,
            result=result,
        )
        from upward.development.provisioning import apply_development
        from upward.reminders.provisioning import apply_notifications

        await apply_development(session, manifest.development, tenant_id=tenant_id, result=result)
        from upward.mobility.provisioning import apply_manifest as apply_mobility

        await apply_mobility(session, manifest.mobility, tenant_id=tenant_id, result=result)
        from upward.recognition.provisioning import apply_manifest as apply_recognition

        await apply_recognition(
            session, manifest.recognition, tenant_id=tenant_id, result=result, path=manifest.path
        )

        await apply_notifications(
            session,
            manifest.notifications,
            tenant_id=tenant_id,
            emp_ids=emp_ids,
            result=result,
        )

        if result.changed:
            await audit.record(
                session,
                Principal.system(tenant_id, manifest.slug),
                action="tenant.apply_manifest",
                target_type="Tenant",
                target_id=tenant_id,
                changes={
                    "file": manifest.path,
                    "created": result.created,
                    "updated": result.updated,
                },
            )
    return result
