"""Structured JSON logs with request id, tenant and operation; Prometheus metrics."""

from __future__ import annotations

import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant_var: ContextVar[str | None] = ContextVar("tenant", default=None)
operation_var: ContextVar[str | None] = ContextVar("operation", default=None)

_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (
            ("request_id", request_id_var),
            ("tenant", tenant_var),
            ("operation", operation_var),
        ):
            value = var.get()
            if value:
                out[key] = value
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- metrics -----------------------------------------------------------------------------------

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "upward_http_requests_total", "HTTP requests", ["method", "path", "status"], registry=REGISTRY
)
GRAPHQL_LATENCY = Histogram(
    "upward_graphql_request_duration_seconds",
    "GraphQL request latency by operation name",
    ["operation"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GRAPHQL_ERRORS = Counter(
    "upward_graphql_errors_total", "GraphQL errors by code", ["code"], registry=REGISTRY
)

_OP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_OPERATIONS = 500
_seen_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    """Bound the label's cardinality: clients choose operation names."""
    if not name:
        return "anonymous"
    if not _OP_NAME.match(name):
        return "invalid"
    if name in _seen_operations:
        return name
    if len(_seen_operations) >= _MAX_OPERATIONS:
        return "other"
    _seen_operations.add(name)
    return name


class PoolCollector:
    def collect(self) -> Any:
        from upward.db import pool_status

        status = pool_status()
        g = GaugeMetricFamily("upward_db_pool_connections", "DB pool connections", labels=["state"])
        for key in ("size", "checked_out", "overflow"):
            g.add_metric([key], float(status.get(key, 0)))
        yield g


class AdmissionCollector:
    def collect(self) -> Any:
        from upward.graphql.admission import GATES

        gates = list(GATES)
        g = GaugeMetricFamily(
            "upward_admission_requests",
            "GraphQL requests running (holding a slot) and waiting for one (graphql/admission.py)",
            labels=["state"],
        )
        g.add_metric(["active"], float(sum(x.active for x in gates)))
        g.add_metric(["waiting"], float(sum(x.waiting for x in gates)))
        yield g
        c = CounterMetricFamily(
            "upward_admission_refused",
            "Requests refused because their tenant had too many waiting (RATE_LIMITED, 429)",
        )
        c.add_metric([], float(sum(x.refused for x in gates)))
        yield c


REGISTRY.register(PoolCollector())
REGISTRY.register(AdmissionCollector())


def _register_notification_metrics() -> None:
    from upward.reminders.metrics import NotificationCollector

    REGISTRY.register(NotificationCollector())


_register_notification_metrics()
