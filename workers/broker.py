"""The dramatiq broker from REDIS_URL, with the middleware every actor relies on.

Retries (exponential backoff), TimeLimit, AgeLimit, AsyncIO (async actors run on one event loop
per worker process), CurrentMessage (the message id becomes the log's request id).
"""

from __future__ import annotations

import functools

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from upward.settings import get_settings


class DisposeEngines(dramatiq.Middleware):
    """Close the worker loop's database pool once the actors have finished (after the worker's
    shutdown, which waits for them) and before AsyncIO stops the loop: it comes after AsyncIO in
    the middleware list, and dramatiq runs `after_*` hooks in reverse list order."""

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        from dramatiq.asyncio import get_event_loop_thread

        from upward.db import dispose_engines

        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(dispose_engines())


DEFAULT_QUEUE = "default"


def make_broker(url: str | None = None, namespace: str | None = None) -> RedisBroker:
    settings = get_settings()
    url = url or settings.redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set (and no embedded Redis was started)")
    return RedisBroker(
        url=url,
        namespace=namespace or settings.dramatiq_namespace,
        heartbeat_timeout=settings.broker_heartbeat_ms,
        middleware=[
            AgeLimit(max_age=24 * 3600 * 1000),
            TimeLimit(time_limit=5 * 60 * 1000),
            ShutdownNotifications(),
            Callbacks(),
            Pipelines(),
            Retries(max_retries=10, min_backoff=1_000, max_backoff=15 * 60 * 1000),
            CurrentMessage(),
            AsyncIO(),
            DisposeEngines(),
        ],
    )


@functools.cache
def redis_client() -> redis.Redis:
    url = get_settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set")
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


broker = make_broker() if get_settings().redis_url else dramatiq.get_broker()
dramatiq.set_broker(broker)
