"""Per-request DataLoaders and request-level facts for credentials (never shared)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from strawberry.dataloader import DataLoader

from upward.credentials import service
from upward.people.loaders import viewer_of
from upward.people.service import Viewer


@dataclass(frozen=True, slots=True)
class Facts:
    """What every credential object of a request needs: today, the window, the viewer."""

    today: date
    window: int
    timezone: str
    viewer: Viewer


async def facts_of(ctx: Any) -> Facts:
    """Loaded once per request, also when many resolvers ask at the same time."""
    task = ctx._cache.get("credentials.facts")
    if task is None:
        task = ctx._cache["credentials.facts"] = asyncio.ensure_future(_load_facts(ctx))
    return await asyncio.shield(task)


async def _load_facts(ctx: Any) -> Facts:
    principal = ctx.require_principal()
    viewer = await viewer_of(ctx)
    async with ctx.session() as s:
        window = await service.expiring_window(s, principal)
    return Facts(service.today(principal), window, principal.tenant_timezone, viewer)


def type_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await service.types_by_ids(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("CredentialTypeByIdLoader", lambda: DataLoader(load_fn=load))


def credential_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            found = await service.credentials_by_ids(s, viewer, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("CredentialByIdLoader", lambda: DataLoader(load_fn=load))


def evidence_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            found = await service.evidence_by_ids(s, ids)
        # evidence is as private as the credential it proves
        return [
            r if r is not None and service.can_read(viewer, r.employee_id) else None
            for r in (found.get(i) for i in ids)
        ]

    return ctx.memo("EvidenceByIdLoader", lambda: DataLoader(load_fn=load))


def requirement_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await service.requirements_by_ids(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("CredentialRequirementByIdLoader", lambda: DataLoader(load_fn=load))


def credentials_by_employee_loader(ctx: Any) -> DataLoader[tuple[uuid.UUID, bool], list[Any]]:
    """Keys: (employee id, include_history); one statement per flavour in a batch."""

    async def load(keys: list[tuple[uuid.UUID, bool]]) -> list[list[Any]]:
        found: dict[bool, dict[uuid.UUID, list[Any]]] = {}
        async with ctx.session() as s:
            for flag in {k[1] for k in keys}:
                ids = [k[0] for k in keys if k[1] == flag]
                found[flag] = await service.credentials_of_employees(s, ids, include_history=flag)
        return [found[flag].get(eid, []) for eid, flag in keys]

    return ctx.memo("CredentialsByEmployeeIdLoader", lambda: DataLoader(load_fn=load))


def compliance_by_employee_loader(ctx: Any) -> DataLoader[tuple[uuid.UUID, date], list[Any]]:
    """Keys: (employee id, date); one compliance statement per distinct date in a batch."""

    async def load(keys: list[tuple[uuid.UUID, date]]) -> list[list[Any]]:
        facts = await facts_of(ctx)
        principal = ctx.require_principal()
        by_date: dict[date, dict[uuid.UUID, list[Any]]] = {}
        async with ctx.session() as s:
            for on in {k[1] for k in keys}:
                ids = tuple({k[0] for k in keys if k[1] == on})
                pairs = await service.compliance_pairs(
                    s, principal, service.Scope(employee_ids=ids), on=on, window=facts.window
                )
                grouped: dict[uuid.UUID, list[Any]] = {}
                for p in pairs:
                    grouped.setdefault(p.employee_id, []).append(p)
                by_date[on] = grouped
        return [by_date[on].get(eid, []) for eid, on in keys]

    return ctx.memo("ComplianceByEmployeeIdLoader", lambda: DataLoader(load_fn=load))
