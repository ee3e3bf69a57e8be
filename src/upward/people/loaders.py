"""Per-request DataLoaders for people (created in the request context, never shared)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from strawberry.dataloader import DataLoader

from upward.people import service


async def viewer_of(ctx: Any) -> service.Viewer:
    """The request's Viewer (what the principal may see), loaded once per request, also when
    many resolvers ask for it at the same time (they share one load)."""
    viewer = ctx._cache.get("people.viewer")
    if viewer is not None:
        return viewer
    task = ctx._cache.get("people.viewer.task")
    if task is None:
        task = ctx._cache["people.viewer.task"] = asyncio.ensure_future(_load_viewer(ctx))
    return await asyncio.shield(task)


async def _load_viewer(ctx: Any) -> service.Viewer:
    principal = ctx.require_principal()
    async with ctx.session() as s:
        viewer = await service.load_viewer(s, principal)
    ctx._cache["people.viewer"] = viewer
    return viewer


def _by_id_loader(ctx: Any, fetch: Any, *, needs_viewer: bool) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        viewer = await viewer_of(ctx) if needs_viewer else None
        async with ctx.session() as s:
            found = await (fetch(s, viewer, ids) if needs_viewer else fetch(s, ids))
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def employee_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return ctx.memo(
        "EmployeeByIdLoader",
        lambda: _by_id_loader(ctx, service.employees_by_ids, needs_viewer=True),
    )


def department_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return ctx.memo(
        "DepartmentByIdLoader",
        lambda: _by_id_loader(ctx, service.departments_by_ids, needs_viewer=False),
    )


def location_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return ctx.memo(
        "LocationByIdLoader",
        lambda: _by_id_loader(ctx, service.locations_by_ids, needs_viewer=False),
    )


def has_reports_loader(ctx: Any) -> DataLoader[uuid.UUID, bool]:
    async def load(ids: list[uuid.UUID]) -> list[bool]:
        async with ctx.session() as s:
            managers = await service.has_reports(s, ids)
        return [i in managers for i in ids]

    return ctx.memo("HasReportsByEmployeeIdLoader", lambda: DataLoader(load_fn=load))
