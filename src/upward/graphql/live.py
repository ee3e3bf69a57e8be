"""Live updates through Redis pub/sub: publishing after commit (from any process) and the
broadcaster each API process runs for its WebSocket subscribers.

A message is tiny and carries no data, only what changed: `{"t": tenant id, "k": kind, "id":
id, ...}` on a channel named after the tenant and the topic
(`<namespace>:live:<tenant>:inbox:<employee>`, `<namespace>:live:<tenant>:posting:<posting>`;
the namespace is the dramatiq one, so test runs sharing a Redis do not hear each other). The
subscriber loads the row itself, in a tenant session of the *subscriber's* tenant, and checks
again that it may see it: a message can name a row, never show it, even on a wrong channel.

- Publishing happens after the transaction commits (`publish_after_commit`, over
  `upward.db.after_commit`, which requests and `tenant_session` in workers both run), and never
  makes the committer wait: messages go to a per-event-loop queue that one task drains, in
  order, over pipelined PUBLISHes. Redis down: the messages are dropped (with a log line).
- Each process keeps one pub/sub connection (`broadcaster()`), subscribed to the channels its
  subscribers need, counted by reference: the first local subscriber of a channel subscribes in
  Redis, the last one to leave unsubscribes, and with no subscriber left the connection is
  closed. Messages fan out in process. On a Redis error the connection is rebuilt (with
  backoff) and every wanted channel subscribed again.

Delivery is at most once: what is published while a subscriber is not subscribed (before its
SUBSCRIBE was confirmed, during a reconnect, while Redis is down) is not seen by it. A client
catches up by querying (the inbox, the applications) after it subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from upward.db import Executor, after_commit
from upward.errors import RateLimited, UpwardError
from upward.settings import get_settings

log = logging.getLogger(__name__)

MAX_PENDING = 10_000  # messages waiting to be published in one process; more are dropped
PUBLISH_BATCH = 500


class LiveUnavailable(UpwardError):
    """Redis did not confirm the subscription in time: live updates are down for now."""

    code = "UNAVAILABLE"


class FellBehind(RateLimited):
    """A subscriber let more than `queue_limit` messages pile up: it is ended rather than
    silently missing some (the client subscribes again and queries to catch up)."""


def channel(tenant_id: uuid.UUID | str, topic: str, topic_id: uuid.UUID | str) -> str:
    return f"{get_settings().dramatiq_namespace}:live:{tenant_id}:{topic}:{topic_id}"


def message(tenant_id: uuid.UUID | str, **fields: Any) -> bytes:
    return orjson.dumps({"t": str(tenant_id), **fields})


def decode(data: bytes) -> dict[str, Any] | None:
    """A message as published, or None for anything else (logged)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("t"), str):
        log.warning("live updates: ignoring a malformed message %r", data[:200])
        return None
    return value


# --- per event loop ------------------------------------------------------------------------

# Like the database engines: a Redis connection belongs to the loop that opened it (workers run
# async actors on dramatiq's loop thread, tests on pytest's loop).
_per_loop: dict[tuple[str, int], tuple[Any, Any]] = {}


def _cached(name: str, make: Callable[[], Any]) -> Any:
    loop = asyncio.get_running_loop()
    key = (name, id(loop))
    entry = _per_loop.get(key)
    if entry is None or entry[0] is not loop:
        entry = (loop, make())
        _per_loop[key] = entry
    return entry[1]


def _redis_url() -> str | None:
    return get_settings().redis_url


# --- publishing ----------------------------------------------------------------------------


def publish_after_commit(
    session: Executor,
    tenant_id: uuid.UUID,
    topic: str,
    events: Iterable[tuple[uuid.UUID, dict[str, Any]]],
) -> None:
    """Once the session's transaction commits, publish each `(topic id, fields)` on the
    tenant's channel of that topic (the message gets the tenant id as `t`). A rollback
    publishes nothing."""
    out = [(channel(tenant_id, topic, tid), message(tenant_id, **fields)) for tid, fields in events]
    if out and _redis_url():
        after_commit(session, lambda: publish_soon(out))


def publish_soon(messages: Iterable[tuple[str, bytes]]) -> None:
    """Queue messages for this loop's publisher; returns at once."""
    _cached("publisher", lambda: Publisher(_redis_url() or "")).send(messages)


async def flush() -> None:
    """Wait until this loop's publisher has sent what it was given (tests, shutdown)."""
    key = ("publisher", id(asyncio.get_running_loop()))
    entry = _per_loop.get(key)
    if entry is not None:
        await entry[1].flush()


class Publisher:
    """One queue and at most one draining task per loop: messages leave in the order given."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dropped = 0
        self._queue: deque[tuple[str, bytes]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._client: aioredis.Redis | None = None

    def send(self, messages: Iterable[tuple[str, bytes]]) -> None:
        for item in messages:
            if len(self._queue) >= MAX_PENDING:
                self._drop(1, "too many messages waiting")
                continue
            self._queue.append(item)
        if self._queue and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def flush(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def _drop(self, n: int, why: str) -> None:
        self.dropped += n
        log.warning("live updates: dropped %d message(s): %s", n, why)

    async def _drain(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(PUBLISH_BATCH, len(self._queue)))]
            try:
                if self._client is None:
                    self._client = aioredis.Redis.from_url(
                        self.url, socket_timeout=2, socket_connect_timeout=2
                    )
                async with self._client.pipeline(transaction=False) as pipe:
                    for ch, data in batch:
                        pipe.publish(ch, data)
                    await pipe.execute()
            except Exception as exc:  # at most once: a message Redis did not take is lost
                self._drop(len(batch), f"{type(exc).__name__}: {exc}")


# --- the broadcaster -------------------------------------------------------------------------


class Subscription:
    """One local subscriber of a channel: iterate it for the messages' raw bytes."""

    def __init__(self, channel: str, limit: int) -> None:
        self.channel = channel
        self._limit = limit
        self._items: deque[bytes] = deque()
        self._failed: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def _push(self, data: bytes) -> None:
        if self._failed is not None:
            return
        if len(self._items) >= self._limit:
            self._fail(
                FellBehind(
                    f"more than {self._limit} live events waited for this subscription: "
                    "subscribe again, and query to catch up"
                )
            )
            return
        self._items.append(data)
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        self._failed = exc
        self._items.clear()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> bytes:
        while not self._items:
            if self._failed is not None:
                raise self._failed
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class _Connection:
    """What one pub/sub connection has asked Redis for."""

    def __init__(self) -> None:
        self.sent: set[str] = set()  # SUBSCRIBEd on this connection (and not UNSUBSCRIBEd)
        self.pending: dict[str, int] = {}  # SUBSCRIBEs sent, not confirmed yet

    def confirmed(self, channel: str) -> bool:
        return channel in self.sent and not self.pending.get(channel)


_ids = itertools.count(1)


class Broadcaster:
    """One Redis pub/sub connection shared by a process's subscribers; see the module doc.

    A single task owns the connection: it subscribes and unsubscribes what the local
    subscribers' channels call for, reads messages and fans them out. It polls (every
    `poll_seconds`) so a change in the wanted channels is sent without interrupting a read;
    messages themselves are read as soon as they arrive. A PING every `ping_seconds` finds a
    dead connection that no error would report."""

    def __init__(
        self,
        url: str,
        *,
        poll_seconds: float = 0.05,
        ping_seconds: float = 15.0,
        max_backoff: float = 5.0,
        queue_limit: int = 1000,
        confirm_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.poll_seconds = poll_seconds
        self.ping_seconds = ping_seconds
        self.max_backoff = max_backoff
        self.queue_limit = queue_limit
        self.confirm_timeout = confirm_timeout
        self.client_name = f"upward-live-{os.getpid()}-{next(_ids)}"
        self.connects = 0  # connections opened (tests, metrics)
        self.failures = 0  # connections lost
        self._subs: dict[str, set[Subscription]] = {}
        self._conn: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    # --- subscribers --------------------------------------------------------------------------

    @property
    def channels(self) -> set[str]:
        return set(self._subs)

    def subscribers(self, channel: str) -> int:
        return len(self._subs.get(channel, ()))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """A local subscription, once Redis confirmed the channel's SUBSCRIBE (immediately when
        another local subscriber already holds it). LiveUnavailable after `confirm_timeout`."""
        sub = Subscription(channel, self.queue_limit)
        self._subs.setdefault(channel, set()).add(sub)
        try:
            self._ensure_running()
            await self._wait_confirmed(channel)
            yield sub
        finally:
            subs = self._subs.get(channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[channel]  # the listener unsubscribes at its next turn

    def confirmed(self, channel: str) -> bool:
        return self._conn is not None and self._conn.confirmed(channel)

    async def _wait_confirmed(self, channel: str) -> None:
        try:
            async with asyncio.timeout(self.confirm_timeout), self._changed:
                await self._changed.wait_for(lambda: self.confirmed(channel))
        except TimeoutError:
            raise LiveUnavailable(
                "live updates are unavailable right now; subscribe again later"
            ) from None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"{self.client_name}"
            )

    async def close(self) -> None:
        """Stop listening (shutdown); local subscribers see no more messages."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- the listener ---------------------------------------------------------------------------

    async def _run(self) -> None:
        me = asyncio.current_task()
        backoff = 0.1
        while True:
            if not self._subs:
                if self._task is me:
                    self._task = None  # a subscriber arriving from now on starts a new listener
                return
            conn = _Connection()
            client = aioredis.Redis.from_url(
                self.url,
                socket_timeout=5,
                socket_connect_timeout=5,
                retry=Retry(NoBackoff(), 0),  # reconnecting is ours: see below
                client_name=self.client_name,
            )
            pubsub = client.pubsub()
            try:
                self._conn = conn
                self.connects += 1
                done = await self._listen(pubsub, conn)
                backoff = 0.1
                if done:
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                log.warning(
                    "live updates: Redis pub/sub connection lost (%s: %s); reconnecting in %.1f s",
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                if self._conn is conn:
                    self._conn = None
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.max_backoff)
            finally:
                if self._conn is conn:
                    self._conn = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def _listen(self, pubsub: Any, conn: _Connection) -> bool:
        """Serve one connection. True: nobody wants anything any more (stop)."""
        loop = asyncio.get_running_loop()
        last_seen = last_ping = loop.time()
        me = asyncio.current_task()
        while True:
            wanted = set(self._subs)
            if not wanted:
                if self._task is me:
                    self._task = None
                return True
            drop, add = conn.sent - wanted, wanted - conn.sent
            if drop:
                await pubsub.unsubscribe(*drop)
                conn.sent -= drop
            if add:
                for ch in add:
                    conn.pending[ch] = conn.pending.get(ch, 0) + 1
                await pubsub.subscribe(*add)
                conn.sent |= add
            msg = await pubsub.get_message(timeout=self.poll_seconds)
            now = loop.time()
            if msg is not None:
                last_seen = now
                await self._handle(msg, conn)
            elif now - last_ping >= self.ping_seconds:
                await pubsub.ping()
                last_ping = now
            if now - last_seen > 3 * self.ping_seconds:
                raise ConnectionError("Redis did not answer a PING")

    async def _handle(self, msg: dict[str, Any], conn: _Connection) -> None:
        kind = msg.get("type")
        ch = msg.get("channel")
        name = ch.decode() if isinstance(ch, bytes) else ch
        if kind == "message":
            for sub in list(self._subs.get(name, ())):
                sub._push(msg["data"])
        elif kind == "subscribe" and name is not None:
            left = conn.pending.get(name, 0) - 1
            if left > 0:
                conn.pending[name] = left
            else:
                conn.pending.pop(name, None)
            await self._notify()


def broadcaster() -> Broadcaster:
    """This process's (this event loop's) broadcaster."""
    url = _redis_url()
    if not url:
        raise LiveUnavailable("live updates need Redis (REDIS_URL is not set)")
    return _cached("broadcaster", lambda: Broadcaster(url))
