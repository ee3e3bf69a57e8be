"""Fleet-wide notification metrics, kept in Redis so every worker process adds to the same
numbers and the API's `/metrics` reports them (no per-process registry, no extra port):
deliveries by channel and outcome, reminders planned, the planner's lag, and queue depth."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from upward.settings import get_settings

log = logging.getLogger("upward.metrics")
QUEUES = ("default", "deliveries")


def _key(name: str) -> str:
    return f"{get_settings().dramatiq_namespace}:metrics:{name}"


def _client() -> Any:
    from workers.broker import redis_client

    return redis_client()


def count_deliveries(outcomes: Iterable[tuple[str, str]]) -> None:
    """Add (channel, status) outcomes: sent, dead, cancelled, pending (a failed attempt that
    will be retried, counted as failed)."""
    counts: dict[str, int] = {}
    for channel, status in outcomes:
        if status == "skipped" or not channel:
            continue
        field = f"{channel}:{'failed' if status == 'pending' else status}"
        counts[field] = counts.get(field, 0) + 1
    if not counts:
        return
    try:
        pipe = _client().pipeline()
        for field, n in counts.items():
            pipe.hincrby(_key("deliveries"), field, n)
        pipe.execute()
    except Exception:  # metrics never fail a delivery
        log.warning("could not record delivery metrics", exc_info=True)


def planned(reminders: int, lag_seconds: float) -> None:
    """A planning batch wrote `reminders`; the most overdue was `lag_seconds` past due."""
    try:
        pipe = _client().pipeline()
        pipe.hincrby(_key("planner"), "reminders", reminders)
        pipe.hset(_key("planner"), mapping={"lag_seconds": lag_seconds, "at": time.time()})
        pipe.execute()
    except Exception:
        log.warning("could not record planner metrics", exc_info=True)


class NotificationCollector:
    """Reads the Redis numbers on each scrape (a handful of commands)."""

    def describe(self) -> Any:
        """The metric names, without data: the registry asks at registration (the module's
        import), when neither Redis nor the workers package may be touched yet."""
        yield CounterMetricFamily("upward_deliveries", "", labels=["channel", "outcome"])
        yield CounterMetricFamily("upward_reminders_planned", "")
        yield GaugeMetricFamily("upward_planner_lag_seconds", "")
        yield GaugeMetricFamily("upward_queue_messages", "", labels=["queue", "state"])

    def collect(self) -> Any:
        settings = get_settings()
        if not settings.redis_url:
            return
        try:
            client = _client()
            deliveries = client.hgetall(_key("deliveries"))
            planner = client.hgetall(_key("planner"))
            ns = settings.dramatiq_namespace
            depth = {
                q: (
                    client.llen(f"{ns}:{q}"),
                    client.llen(f"{ns}:{q}.DQ"),
                    client.hlen(f"{ns}:{q}.XQ.msgs"),
                )
                for q in QUEUES
            }
        except Exception:
            log.warning("could not read notification metrics from Redis", exc_info=True)
            return
        c = CounterMetricFamily(
            "upward_deliveries", "Delivery outcomes by channel", labels=["channel", "outcome"]
        )
        for field, n in sorted(deliveries.items()):
            channel, _, outcome = field.decode().partition(":")
            c.add_metric([channel, outcome], float(n))
        yield c
        r = CounterMetricFamily("upward_reminders_planned", "Reminders the planner wrote")
        r.add_metric([], float(planner.get(b"reminders", 0)))
        yield r
        lag = GaugeMetricFamily(
            "upward_planner_lag_seconds",
            "How late the last planning batch wrote its most overdue reminder",
        )
        lag.add_metric([], float(planner.get(b"lag_seconds", 0)))
        yield lag
        q = GaugeMetricFamily(
            "upward_queue_messages", "Broker queue depth", labels=["queue", "state"]
        )
        for name, (ready, delayed, dead) in depth.items():
            q.add_metric([name, "ready"], float(ready))
            q.add_metric([name, "delayed"], float(delayed))
            q.add_metric([name, "dead_letter"], float(dead))
        yield q
