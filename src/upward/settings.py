"""Process settings, read from the environment (and a `.env` file when present).

Standard names (`DATABASE_URL`, `REDIS_URL`) have no prefix; everything else is `UPWARD_*`.
Every setting is documented in docs/configuration.md.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "upward-dev-secret-change-me-0123456789abcdef"  # noqa: S105 - dev default only
DEV_CURSOR_SECRET = "upward-dev-cursor-secret-0123456789abcdef"  # noqa: S105 - dev default only
APP_ROLE = "upward_app"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="UPWARD_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Path(".data")

    # Databases. DATABASE_URL is the owner's URL (migrations, provisioning).
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "UPWARD_DATABASE_URL")
    )
    app_database_url: str | None = None
    app_db_password: str = "upward_app"  # noqa: S105 - overridden in production
    db_pool_size: int = 20
    db_max_overflow: int = 10
    db_statement_timeout_ms: int = 15_000
    # the app URL goes through PgBouncer in transaction pooling mode: no named prepared
    # statements, session limits set on PgBouncer's side (docs/scaling.md, Behind PgBouncer)
    db_pgbouncer: bool = False

    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "UPWARD_REDIS_URL")
    )

    # Auth
    jwt_secret: str | None = None
    jwt_issuer: str = "upward-dev"
    jwt_audience: str = "upward"
    jwt_jwks_url: str | None = None
    jwt_jwks_file: Path | None = None
    jwt_jwks_cache_seconds: int = 300
    jwt_leeway_seconds: int = 30
    jwt_default_ttl_seconds: int = 12 * 3600

    # GraphQL and HTTP
    cursor_secret: str | None = None
    graphiql: bool | None = None
    introspection: bool | None = None  # default: on except in production
    max_body_bytes: int = 4_194_304  # room for a 10,000-row credential import (CSV in JSON)
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 3_000
    max_query_cost: int = 5_000  # objects a query may ask for, page sizes multiplied
    # fair admission (graphql/admission.py): GraphQL requests one process runs at once (0: no
    # limit; keep it below db_pool_size), and how many of one tenant's may wait for a slot
    max_concurrent_requests: int = Field(default=12, ge=0)
    tenant_queue_limit: int = Field(default=100, ge=1)
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API (CORS)"
    )

    # Partner access: proxies, rate and cost limits, persisted queries
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) of proxies whose X-Forwarded-For names the client",
    )
    rate_limits: bool = True
    rate_window_seconds: int = Field(default=60, ge=1)
    # cost points per window (a request costs 1 + the objects it may return, 10 per mutation)
    rate_cost_per_key: int = Field(default=50_000, ge=1)
    rate_cost_per_user: int = Field(default=25_000, ge=1)
    rate_cost_per_tenant: int = Field(default=200_000, ge=1)
    rate_cost_anonymous: int = Field(default=600, ge=1)  # per client address, unauthenticated
    apq_ttl_seconds: int = 7 * 86_400  # automatic persisted queries live this long in Redis

    # Credentials: evidence files and imports
    evidence_store: str = "local"  # or "package.module:Factory" (called with the settings)
    evidence_max_bytes: int = 10 * 1_048_576
    evidence_media_types: list[str] = Field(
        default_factory=lambda: [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "image/webp",
        ]
    )
    upload_url_ttl_seconds: int = 900
    download_url_ttl_seconds: int = 300
    import_max_rows: int = 10_000

    # Notifications: email (SMTP), webhooks, reminders, delivery retries
    web_url: str = "http://localhost:3000"  # the web client: links in emails (renew, inbox)
    smtp_host: str | None = None  # unset: email deliveries fail, retry, then die (failedDeliveries)
    smtp_port: int = 587
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 20.0
    mail_from: str = "Upward <no-reply@upward.localhost>"
    dev_smtp_port: int = 1025  # `upward dev` runs an SMTP server here that writes .data/mail/
    webhook_allow_private: bool = False  # allow loopback/private/link-local targets (SSRF)
    webhook_timeout_seconds: float = 10.0
    reminder_scan_seconds: int = 60  # how often the scheduler scans each tenant
    reminder_batch_size: int = 500  # credentials per planning message
    reminder_catch_up_days: int = 14  # after downtime, a ladder's last step is still sent
    digest_delay_minutes: int = 30  # digests go out this long after the send window opens
    delivery_sweep_seconds: int = 120  # a delivery pending this long past due is re-enqueued
    delivery_max_attempts: int = Field(default=14, ge=1)  # 14: the backoff spans > 24 hours

    # Observability
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    # Workers
    dramatiq_namespace: str = "upward"
    worker_processes: int = 1
    worker_threads: int = 4
    scheduler_tick_seconds: float = 60.0
    broker_heartbeat_ms: int = 60_000  # a dead worker's messages come back after this

    # Local server
    host: str = "127.0.0.1"
    port: int = 8000

    @model_validator(mode="after")
    def _production_guards(self) -> Settings:
        if self.env == "production":
            if not (self.jwt_secret or self.jwt_jwks_url or self.jwt_jwks_file):
                raise ValueError(
                    "production needs UPWARD_JWT_SECRET or UPWARD_JWT_JWKS_URL/UPWARD_JWT_JWKS_FILE"
                )
            if self.jwt_secret == DEV_JWT_SECRET:
                raise ValueError("UPWARD_JWT_SECRET is the dev default; set a real secret")
            if not self.cursor_secret or self.cursor_secret == DEV_CURSOR_SECRET:
                raise ValueError("production needs UPWARD_CURSOR_SECRET")
            if not self.database_url or not self.redis_url:
                raise ValueError("production needs DATABASE_URL and REDIS_URL")
            if not self.app_database_url and self.app_db_password == "upward_app":  # noqa: S105
                raise ValueError(
                    "UPWARD_APP_DB_PASSWORD is the dev default; set a real password "
                    "(or UPWARD_APP_DATABASE_URL)"
                )
        return self

    # Derived values -----------------------------------------------------------------

    @property
    def effective_jwt_secret(self) -> str | None:
        if self.jwt_secret:
            return self.jwt_secret
        if self.env != "production" and not (self.jwt_jwks_url or self.jwt_jwks_file):
            return DEV_JWT_SECRET
        return None

    @property
    def effective_cursor_secret(self) -> bytes:
        return (self.cursor_secret or DEV_CURSOR_SECRET).encode()

    @property
    def introspection_enabled(self) -> bool:
        return self.env != "production" if self.introspection is None else self.introspection

    @property
    def graphiql_enabled(self) -> bool:
        return self.env != "production" if self.graphiql is None else self.graphiql

    def owner_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (and no embedded database was started)")
        return self.database_url

    def app_url(self) -> str:
        """The URL the API and workers use: role upward_app on the owner's database."""
        if self.app_database_url:
            return self.app_database_url
        parts = urlsplit(self.owner_url())
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{APP_ROLE}:{quote(self.app_db_password, safe='')}@{host}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def sqlalchemy_url(url: str) -> str:
    """postgres://, postgresql:// -> postgresql+asyncpg://"""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"unsupported database URL scheme: {url.split('://')[0]}")


def asyncpg_url(url: str) -> str:
    """postgresql+asyncpg:// -> postgresql:// (for raw asyncpg)"""
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+asyncpg://") :]


@functools.cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    get_settings.cache_clear()
