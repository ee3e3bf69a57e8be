"""The live-update broadcaster on the real Redis: one pub/sub connection per process, channels
counted by reference, fan-out to local subscribers, reconnecting after a lost connection; and
publishing after commit (nothing on rollback)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from upward.db import tenant_session
from upward.graphql import live

TIMEOUT = 10.0


@pytest.fixture
async def bc() -> AsyncIterator[live.Broadcaster]:
    b = live.Broadcaster(os.environ["REDIS_URL"], max_backoff=0.2)
    try:
        yield b
    finally:
        await b.close()


def ch() -> str:
    return live.channel(uuid.uuid4(), "test", uuid.uuid4())


async def until(check: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def numsub(r: aioredis.Redis, channel: str) -> int:
    return int(dict(await r.pubsub_numsub(channel))[channel.encode()])


async def listener_clients(r: aioredis.Redis, b: live.Broadcaster) -> list[dict[str, Any]]:
    return [c for c in await r.client_list() if c.get("name") == b.client_name]


async def receive(sub: live.Subscription) -> bytes:
    return await asyncio.wait_for(anext(sub), TIMEOUT)


class TestReferenceCounting:
    async def test_two_local_subscribers_share_one_redis_subscription(
        self, bc: live.Broadcaster, redis: aioredis.Redis
    ) -> None:
        c = ch()
        async with bc.subscribe(c) as one, bc.subscribe(c) as two:
            assert bc.subscribers(c) == 2
            assert await numsub(redis, c) == 1  # confirmed before subscribe() returned
            assert len(await listener_clients(redis, bc)) == 1
            await redis.publish(c, b"hello")
            assert await receive(one) == b"hello"
            assert await receive(two) == b"hello"
        await until(lambda: bc._task is None, "the listener to stop")
        assert await numsub(redis, c) == 0
        await until(lambda: _none(redis, bc), "the connection to close")

    async def test_the_last_one_out_unsubscribes(
        self, bc: live.Broadcaster, redis: aioredis.Redis
    ) -> None:
        c, other = ch(), ch()
        async with bc.subscribe(other) as keep:
            async with contextlib.AsyncExitStack() as stack:
                first = await stack.enter_async_context(bc.subscribe(c))
                async with bc.subscribe(c) as second:
                    await redis.publish(c, b"1")
                    assert await receive(first) == b"1"
                    assert await receive(second) == b"1"
                # one left: still subscribed in Redis, still delivered
                assert await numsub(redis, c) == 1
                await redis.publish(c, b"2")
                assert await receive(first) == b"2"
            await until(lambda: _numsub_is(redis, c, 0), "UNSUBSCRIBE")
            # the other channel, on the same connection, is untouched
            await redis.publish(other, b"3")
            assert await receive(keep) == b"3"
            assert bc.connects == 1

    async def test_messages_go_only_to_their_channel(
        self, bc: live.Broadcaster, redis: aioredis.Redis
    ) -> None:
        c1, c2 = ch(), ch()
        async with bc.subscribe(c1) as s1, bc.subscribe(c2) as s2:
            await redis.publish(c1, b"for one")
            await redis.publish(c2, b"for two")
            assert await receive(s1) == b"for one"
            assert await receive(s2) == b"for two"
            assert s1._items == s2._items == type(s1._items)()

    async def test_a_subscriber_that_falls_behind_is_ended(self, redis: aioredis.Redis) -> None:
        b = live.Broadcaster(os.environ["REDIS_URL"], queue_limit=2)
        try:
            c = ch()
            async with b.subscribe(c) as sub:
                for i in range(3):
                    await redis.publish(c, str(i).encode())
                await until(lambda: sub._failed is not None, "the overflow")
                with pytest.raises(live.FellBehind):
                    await receive(sub)
        finally:
            await b.close()


async def _none(r: aioredis.Redis, b: live.Broadcaster) -> bool:
    return not await listener_clients(r, b)


async def _numsub_is(r: aioredis.Redis, channel: str, n: int) -> bool:
    return await numsub(r, channel) == n


class TestReconnect:
    async def test_a_killed_connection_is_rebuilt_and_resubscribed(
        self, bc: live.Broadcaster, redis: aioredis.Redis
    ) -> None:
        c1, c2 = ch(), ch()
        async with bc.subscribe(c1) as s1, bc.subscribe(c2) as s2:
            (client,) = await listener_clients(redis, bc)
            await redis.execute_command("CLIENT", "KILL", "ID", client["id"])
            await until(lambda: bc.connects == 2, "a new connection")
            await until(lambda: _numsub_is(redis, c1, 1), "c1 again")
            await until(lambda: _numsub_is(redis, c2, 1), "c2 again")
            await until(lambda: bc.confirmed(c1) and bc.confirmed(c2), "confirmations")
            assert bc.failures == 1
            await redis.publish(c1, b"after")
            await redis.publish(c2, b"after too")
            assert await receive(s1) == b"after"
            assert await receive(s2) == b"after too"

    async def test_no_redis_no_subscription(self) -> None:
        b = live.Broadcaster("redis://127.0.0.1:1/0", confirm_timeout=0.5, max_backoff=0.1)
        try:
            with pytest.raises(live.LiveUnavailable):
                async with b.subscribe(ch()):
                    pass
            assert b.failures >= 1
            assert b.channels == set()
        finally:
            await b.close()


class TestPublishing:
    async def test_published_after_commit_only(
        self, bc: live.Broadcaster, make_tenant: Any
    ) -> None:
        t = await make_tenant()
        topic_id = uuid.uuid4()
        c = live.channel(t.id, "test", topic_id)
        async with bc.subscribe(c) as sub:
            with contextlib.suppress(RuntimeError):
                async with tenant_session(t.id) as s:
                    live.publish_after_commit(s, t.id, "test", [(topic_id, {"k": "x", "n": 1})])
                    raise RuntimeError("roll back")
            async with tenant_session(t.id) as s:
                live.publish_after_commit(s, t.id, "test", [(topic_id, {"k": "x", "n": 2})])
                await live.flush()
                assert sub._items == type(sub._items)()  # not before the commit
            await live.flush()
            got = live.decode(await receive(sub))
            assert got == {"t": str(t.id), "k": "x", "n": 2}
            assert not sub._items

    async def test_messages_leave_in_order(self, bc: live.Broadcaster) -> None:
        c = ch()
        async with bc.subscribe(c) as sub:
            live.publish_soon([(c, str(i).encode()) for i in range(50)])
            live.publish_soon([(c, b"last")])
            got = [await receive(sub) for _ in range(51)]
        assert got == [str(i).encode() for i in range(50)] + [b"last"]

    def test_channel_names_carry_the_namespace_and_the_tenant(self) -> None:
        tid, eid = uuid.uuid4(), uuid.uuid4()
        ns = os.environ["UPWARD_DRAMATIQ_NAMESPACE"]
        assert live.channel(tid, "inbox", eid) == f"{ns}:live:{tid}:inbox:{eid}"
        assert live.decode(b"garbage") is None
        assert live.decode(b'{"k": "no tenant"}') is None
