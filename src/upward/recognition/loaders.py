"""Per-request DataLoaders of the recognition domain (created through `ctx.memo`)."""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.dataloader import DataLoader

from upward.recognition import kudos, service


def value_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await service.values_by_ids(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("CompanyValueByIdLoader", lambda: DataLoader(load_fn=load))


def kudos_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    """Kudos the request's viewer reads (others: None, like ids that never existed)."""

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        from upward.people.loaders import viewer_of

        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            found = await kudos.kudos_by_ids(s, viewer, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("KudosByIdLoader", lambda: DataLoader(load_fn=load))


def _list_loader(ctx: Any, key: str, fetch_many: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await fetch_many(s, ids)
        return [found[i] for i in ids]

    return ctx.memo(key, lambda: DataLoader(load_fn=load))


def receivers_by_kudos_loader(ctx: Any) -> DataLoader[uuid.UUID, list[uuid.UUID]]:
    return _list_loader(ctx, "KudosReceiversByKudosLoader", kudos.receivers_of)


def values_by_kudos_loader(ctx: Any) -> DataLoader[uuid.UUID, list[uuid.UUID]]:
    return _list_loader(ctx, "KudosValuesByKudosLoader", kudos.values_of)


def comment_count_by_kudos_loader(ctx: Any) -> DataLoader[uuid.UUID, int]:
    return _list_loader(ctx, "KudosCommentCountByKudosLoader", kudos.comment_counts)


def reactions_by_kudos_loader(ctx: Any) -> DataLoader[uuid.UUID, list[kudos.ReactionCount]]:
    principal = ctx.require_principal()

    async def many(s: Any, ids: list[uuid.UUID]) -> Any:
        return await kudos.reactions_of(s, principal, ids)

    return _list_loader(ctx, "KudosReactionsByKudosLoader", many)
