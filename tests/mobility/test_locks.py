"""The matching workers' locks: recomputes of different postings of one tenant run at the same
time; a people recompute waits for them and excludes them; two recomputes of one posting, one
after the other; other tenants are never held up."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from upward.db import tenant_session
from workers.mobility import _lock_people, _lock_posting

P1, P2 = uuid.uuid4(), uuid.uuid4()


async def _held(tenant_id: uuid.UUID, take: Any, started: asyncio.Event, done: asyncio.Event):
    async with tenant_session(tenant_id) as s:
        await take(s)
        started.set()
        await done.wait()


async def _started(holder: asyncio.Task, started: asyncio.Event) -> None:
    """The holder holds its lock (or its error is raised here)."""
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({holder, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if holder.done():
        holder.result()
    assert started.is_set()


async def _blocks(tenant_id: uuid.UUID, take: Any) -> bool:
    """Whether taking the lock waits (more than half a second) while the holder holds."""

    async def attempt() -> None:
        async with tenant_session(tenant_id) as s:
            await take(s)

    task = asyncio.create_task(attempt())
    try:
        await asyncio.wait_for(asyncio.shield(task), 0.5)
        return False
    except TimeoutError:
        return True
    finally:
        await asyncio.wait_for(task, 10) if task.done() else None


async def test_postings_in_parallel_people_alone(make_tenant: Any) -> None:
    t, other = await make_tenant(), await make_tenant()
    started, done = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_held(t.id, lambda s: _lock_posting(s, P1), started, done))
    await _started(holder, started)
    try:
        assert not await _blocks(t.id, lambda s: _lock_posting(s, P2))  # another posting
        assert not await _blocks(other.id, _lock_people)  # another tenant
        waiting = [
            asyncio.create_task(_blocks(t.id, _lock_people)),
            asyncio.create_task(_blocks(t.id, lambda s: _lock_posting(s, P1))),
        ]
        assert await asyncio.gather(*waiting) == [True, True]  # people; the same posting
    finally:
        done.set()
        await holder


async def test_a_people_recompute_holds_off_every_posting(make_tenant: Any) -> None:
    t = await make_tenant()
    started, done = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_held(t.id, _lock_people, started, done))
    await _started(holder, started)
    try:
        assert await _blocks(t.id, lambda s: _lock_posting(s, P2))
    finally:
        done.set()
        await holder
