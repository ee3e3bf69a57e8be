"""Per-request DataLoaders for webhook deliveries (never shared)."""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.dataloader import DataLoader

from upward.integrations import service


def attempts_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    """A delivery's attempt log: one statement for every delivery on the page."""

    async def load(ids: list[uuid.UUID]) -> list[list[Any]]:
        async with ctx.session() as s:
            found = await service.attempts_of(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo("DeliveryAttemptsByDeliveryLoader", lambda: DataLoader(load_fn=load))
