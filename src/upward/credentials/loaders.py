"""Per-request DataLoaders and request-level facts for credentials (never shared)."""

from __future__ import annotations

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
    facts = ctx._cache.get("credentials.facts")
    if facts is None:
        principal = ctx.require_principal()
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            window = await service.expiring_window(s, principal)
        facts = Facts(service.today(principal), window, principal.tenant_timezone, viewer)
        ctx._cache["credentials.facts"] = facts
    return facts


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
