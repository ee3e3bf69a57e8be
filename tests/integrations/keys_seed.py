"""Session seed: an API key and a trusted document in each demo tenant (the plain-SQL isolation
test needs a row in every tenant table)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from tests.conftest import make_api_key


async def seed_keys(tenant_ids: list[uuid.UUID]) -> None:
    from upward.db import owner_engine

    async with owner_engine().begin() as conn:
        rows = (
            await conn.execute(
                sa.text("select id, slug from tenants where id = any(:ids)"), {"ids": tenant_ids}
            )
        ).all()
        for tid, _ in rows:
            await conn.execute(
                sa.text(
                    "insert into trusted_documents (tenant_id, collection, sha256, document) "
                    "values (:t, 'seed', :h, '{ me { id } }')"
                ),
                {"t": tid, "h": "0" * 64},
            )
    for tid, slug in rows:
        await make_api_key(tid, slug, ["people:read"], name="seed key")
