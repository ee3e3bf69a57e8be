"""Per-request DataLoaders for the skills catalog (never shared)."""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.dataloader import DataLoader

from upward.development import service


def skill_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await service.skills_by_ids(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("SkillByIdLoader", lambda: DataLoader(load_fn=load))


def children_by_skill_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    async def load(ids: list[uuid.UUID]) -> list[list[Any]]:
        async with ctx.session() as s:
            found = await service.children_of(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo("SkillChildrenBySkillLoader", lambda: DataLoader(load_fn=load))


def ratings_by_employee_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    """A person's skill ratings (recorded and derived): two statements for the whole page."""
    from upward.development import ratings
    from upward.people.loaders import viewer_of

    async def load(ids: list[uuid.UUID]) -> list[list[Any]]:
        viewer = await viewer_of(ctx)
        p = ctx.require_principal()
        async with ctx.session() as s:
            found = await ratings.ratings_of(s, p, viewer, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo("SkillRatingsByEmployeeLoader", lambda: DataLoader(load_fn=load))


def grants_by_type_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    from upward.development import ratings

    async def load(ids: list[uuid.UUID]) -> list[list[Any]]:
        async with ctx.session() as s:
            found = await ratings.grants_of(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo("SkillGrantsByCredentialTypeLoader", lambda: DataLoader(load_fn=load))


def levels_by_track_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    from upward.development import tracks

    async def load(ids: list[uuid.UUID]) -> list[list[Any]]:
        async with ctx.session() as s:
            found = await tracks.levels_of(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo("TrackLevelsByTrackLoader", lambda: DataLoader(load_fn=load))


def level_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    from upward.development import tracks

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await tracks.levels_by_ids(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("TrackLevelByIdLoader", lambda: DataLoader(load_fn=load))


def level_detail_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    from upward.development import tracks

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await tracks.details_of(s, ids)
        return [found[i] for i in ids]

    return ctx.memo("TrackLevelDetailByLevelLoader", lambda: DataLoader(load_fn=load))


def placement_by_employee_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    from upward.development import tracks

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await tracks.placements_of(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("CareerLevelByEmployeeLoader", lambda: DataLoader(load_fn=load))
