"""The API's asynchronous Redis client: rate limits, persisted queries, live updates.

One client (with its connection pool) per event loop, like the database engines: a connection
belongs to the loop that opened it. Keys are prefixed with the dramatiq namespace, so two
deployments (or test runs) on one Redis do not see each other's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from upward.settings import get_settings

_clients: dict[int, tuple[Any, aioredis.Redis]] = {}


def redis() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    entry = _clients.get(id(loop))
    if entry is None or entry[0] is not loop:
        url = get_settings().redis_url
        if not url:
            raise RuntimeError("REDIS_URL is not set (and no embedded Redis was started)")
        client = aioredis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        entry = _clients[id(loop)] = (loop, client)
    return entry[1]


def key(*parts: object) -> str:
    return ":".join((get_settings().dramatiq_namespace, *(str(p) for p in parts)))


async def close() -> None:
    entry = _clients.pop(id(asyncio.get_running_loop()), None)
    if entry is not None:
        await entry[1].aclose()
