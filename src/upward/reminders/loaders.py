"""Per-request DataLoaders for reminders (never shared)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from upward.reminders.models import CredentialReminderState

t_state = CredentialReminderState.__table__


def reminder_state_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    """Credential id -> its reminder state row (any cycle: the caller compares expiry dates)."""

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            rows = (
                await s.execute(sa.select(t_state).where(t_state.c.credential_id.in_(ids)))
            ).all()
        found = {r.credential_id: r for r in rows}
        return [found.get(i) for i in ids]

    return ctx.memo("ReminderStateByCredentialLoader", lambda: DataLoader(load_fn=load))
