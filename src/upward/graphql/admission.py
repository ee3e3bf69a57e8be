"""Fair admission: one tenant's burst cannot take a process away from the others.

Each API process runs at most `max_concurrent_requests` GraphQL requests at once (a request
holds its slot from authentication to commit, its database connection included). Requests
beyond that wait in a queue per *lane* (a tenant), and a freed slot goes to the next lane in
turn (round robin), not to the oldest request: a tenant sending ten times the traffic of the
others waits behind its own requests, and each other tenant's next request waits for at most
one request of every busy lane. Nothing waits while slots are free (work-conserving), so a
tenant alone on a process still gets all of it. A lane holding more than `tenant_queue_limit`
waiting requests is refused at once (RATE_LIMITED, HTTP 429, Retry-After).

The rate limiter (limits.py) bounds what a tenant may spend per minute; this bounds what it may
hold at once when the process is busy. Both are per tenant, but only the budget is shared by
all processes (Redis); admission is per process, like the CPU it shares.

A request's lane is known before anything touches the database: the tenant its bearer token
authenticated for earlier in this process (remembered by a digest of the token, only after a
full authentication), else its client address. A forged token therefore never lands in a
tenant's lane; a token's first request in a process waits in its address's lane.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from upward.errors import RateLimited

LEARNED_MAX = 20_000  # token digests remembered per process (LRU)
GATES: weakref.WeakSet[AdmissionGate] = weakref.WeakSet()  # for the metrics (observability.py)


class Overloaded(RateLimited):
    """The tenant already has `tenant_queue_limit` requests waiting in this process."""

    retry_after = 1


class AdmissionGate:
    def __init__(self, limit: int, queue_limit: int) -> None:
        self.limit = limit  # 0: no limit
        self.queue_limit = queue_limit
        self.active = 0
        self.waiting = 0
        self._lanes: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._learned: OrderedDict[bytes, str] = OrderedDict()
        self.refused = 0
        GATES.add(self)

    # --- lanes -------------------------------------------------------------------------------

    @staticmethod
    def _digest(token: str) -> bytes:
        return hashlib.blake2b(token.encode(), digest_size=16).digest()

    def lane_of(self, authorization: str | None, client_ip: str | None) -> str:
        if authorization and self._learned:
            key = self._digest(authorization)
            tenant = self._learned.get(key)
            if tenant is not None:
                self._learned.move_to_end(key)
                return tenant
        return "addr:" + (client_ip or "-")

    def learn(self, authorization: str | None, tenant_id: Any) -> None:
        """`authorization` authenticated for `tenant_id`: its next requests go to that lane."""
        if not authorization or self.limit <= 0:
            return
        key = self._digest(authorization)
        self._learned[key] = "tenant:" + str(tenant_id)
        self._learned.move_to_end(key)
        while len(self._learned) > LEARNED_MAX:
            self._learned.popitem(last=False)

    # --- slots -------------------------------------------------------------------------------

    @asynccontextmanager
    async def admit(self, lane: str) -> AsyncIterator[None]:
        if not await self._acquire(lane):
            yield  # no limit
            return
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, lane: str) -> bool:
        """Take a slot (True), or none when there is no limit (False)."""
        if self.limit <= 0:
            return False
        if self.active < self.limit and not self._lanes:
            self.active += 1
            return True
        queue = self._lanes.get(lane)
        if queue is None:
            queue = self._lanes[lane] = deque()
        elif len(queue) >= self.queue_limit:
            self.refused += 1
            raise Overloaded(
                f"too many requests of this tenant are waiting on this server "
                f"({self.queue_limit}); retry after {Overloaded.retry_after} s, "
                "or send fewer requests at once",
                retryAfter=Overloaded.retry_after,
            )
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(fut)
        self.waiting += 1
        try:
            await fut
            return True
        except BaseException:
            if fut.done() and not fut.cancelled():
                self._release()  # the slot was handed over as the waiter was cancelled
            else:
                self._forget(lane, fut)
            raise

    def _forget(self, lane: str, fut: asyncio.Future[None]) -> None:
        queue = self._lanes.get(lane)
        if queue is not None and fut in queue:
            queue.remove(fut)
            self.waiting -= 1
            if not queue:
                del self._lanes[lane]

    def _release(self) -> None:
        # hand the slot to the first waiter of the next lane, and send that lane to the back
        while self._lanes:
            lane, queue = next(iter(self._lanes.items()))
            fut = queue.popleft()
            self.waiting -= 1
            if queue:
                self._lanes.move_to_end(lane)
            else:
                del self._lanes[lane]
            if not fut.done():
                fut.set_result(None)  # `active` is unchanged: the slot changes hands
                return
        self.active -= 1

    def status(self) -> dict[str, int]:
        return {"active": self.active, "waiting": self.waiting, "lanes": len(self._lanes)}
