"""Per-request DataLoaders for mobility (never shared between requests or tenants)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from strawberry.dataloader import DataLoader

from upward.mobility import postings, preferences


async def viewer_facts(ctx: Any) -> Any:
    """The viewer's `rules.Viewer` (department, location, level...), once per request."""
    p = ctx.require_principal()

    async def load() -> Any:
        async with ctx.session() as s:
            return await postings.person_facts(s, p.employee_id)

    return await ctx.memo("mobility.viewer_facts", lambda: asyncio.ensure_future(load()))


def _children(ctx: Any, key: str, fn: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await fn(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo(key, lambda: DataLoader(load_fn=load))


def posting_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    """Postings the viewer may read (others load as None)."""

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        facts = await viewer_facts(ctx)
        async with ctx.session() as s:
            found = await postings.postings_by_ids(s, ctx.require_principal(), facts, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("JobPostingByIdLoader", lambda: DataLoader(load_fn=load))


def skills_by_posting_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _children(ctx, "PostingSkillsByPostingLoader", postings.skills_of)


def credentials_by_posting_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _children(ctx, "PostingCredentialTypesByPostingLoader", postings.credentials_of)


def locations_by_posting_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    return _children(ctx, "PostingLocationsByPostingLoader", postings.locations_of)


def preferences_by_employee_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    """Career preferences the viewer may read (None otherwise): one statement per page."""
    from upward.people.loaders import viewer_of

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            found = await preferences.preferences_of(s, viewer, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("CareerPreferencesByEmployeeLoader", lambda: DataLoader(load_fn=load))
