"""Test harness: real Postgres and Redis (the URLs from the environment, or embedded ones).

A dedicated database (`upward_test` by default, UPWARD_TEST_DB to change) is dropped, created and
migrated once per session; the demo tenants `acme` and `globex` are applied as shared read-only
baseline data. Tests that write create their own throwaway tenant (`make_tenant`), so no test
sees another's writes and nothing needs truncating.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
TEST_DB = os.environ.get("UPWARD_TEST_DB", "upward_test")
os.environ.setdefault("UPWARD_ENV", "test")
os.environ.setdefault("UPWARD_LOG_LEVEL", "WARNING")
# the suite sends thousands of requests a minute as a few people: rate limits are tested with
# their own apps and settings (tests/graphql/test_limits.py)
for _name in ("KEY", "USER", "TENANT"):
    os.environ.setdefault(f"UPWARD_RATE_COST_PER_{_name}", "100000000")
os.environ.setdefault("UPWARD_RATE_COST_ANONYMOUS", "100000000")
# evidence files the tests store go to a throwaway folder, removed at the end
_DATA_DIR = tempfile.mkdtemp(prefix="upward-test-data-")
os.environ["UPWARD_DATA_DIR"] = _DATA_DIR
os.environ["UPWARD_DRAMATIQ_NAMESPACE"] = f"upward-test-{uuid.uuid4().hex[:8]}"

from upward.settings import get_settings  # noqa: E402

_embedded = None
if not get_settings().database_url or not get_settings().redis_url:  # environment or .env
    from upward.embedded import ensure_services

    _embedded = ensure_services(ROOT / ".data" / "test", database="postgres")


def _with_db(url: str, db: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + db, parts.query, parts.fragment))


def _create_database() -> None:
    from upward.settings import sqlalchemy_url

    admin_url = get_settings().owner_url()

    async def go() -> None:
        engine = create_async_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(
                sa.text(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = :d"
                ),
                {"d": TEST_DB},
            )
            await conn.execute(sa.text(f'drop database if exists "{TEST_DB}"'))
            await conn.execute(sa.text(f'create database "{TEST_DB}"'))
        await engine.dispose()

    asyncio.run(go())
    os.environ["DATABASE_URL"] = _with_db(admin_url, TEST_DB)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = str(get_settings().redis_url)


_create_database()

from upward.settings import reset_settings  # noqa: E402

reset_settings()

_pgbouncer = None
if os.environ.get("UPWARD_TEST_PGBOUNCER") == "1":  # the app role's URL through a PgBouncer
    from tests.scale.pgbouncer import route_app_through_pgbouncer

    _pgbouncer = route_app_through_pgbouncer(TEST_DB)


def pytest_sessionstart(session: pytest.Session) -> None:
    from upward.migrate import upgrade

    upgrade()
    from upward.db import dispose_engines, owner_engine
    from upward.tenancy.manifest import parse_manifest
    from upward.tenancy.service import apply_manifest

    async def seed() -> None:
        from tests.reminders.seed import seed_notifications

        ids = []
        for slug in ("acme", "globex"):
            result = await apply_manifest(
                owner_engine(), parse_manifest(ROOT / "tenants" / f"{slug}.toml")
            )
            ids.append(result.tenant_id)
        await seed_notifications(ids)
        from tests.development.checkins_seed import seed_checkins

        await seed_checkins(ids)
        from tests.mobility.matching_seed import seed_matches

        await seed_matches(ids)
        from tests.mobility.alerts_seed import seed_alerts

        await seed_alerts(ids)
        from tests.recognition.milestones_seed import seed_milestones

        await seed_milestones(ids)
        from tests.integrations.keys_seed import seed_keys

        await seed_keys(ids)
        await dispose_engines()

    asyncio.run(seed())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_DATA_DIR, ignore_errors=True)
    if _pgbouncer is not None:
        _pgbouncer.stop()
    if _embedded is not None:
        _embedded.stop()


# --- engines and HTTP ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def owner_engine() -> AsyncIterator[AsyncEngine]:
    from upward.db import owner_engine as make

    yield make()


@pytest.fixture(scope="session")
async def app_engine() -> AsyncIterator[AsyncEngine]:
    from upward.db import app_engine as make

    yield make()


@pytest.fixture(scope="session")
async def app() -> AsyncIterator[Any]:
    from upward.app import create_app

    yield create_app()


@pytest.fixture(scope="session")
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://upward.test") as c:
        yield c


def token(tenant: str, email: str, **kw: Any) -> str:
    from upward.auth.tokens import mint_token

    return mint_token(tenant=tenant, subject=email, **kw)


@dataclass
class GQL:
    client: httpx.AsyncClient

    async def raw(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post("/graphql", json=body, headers=h)

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        r = await self.raw(query, variables, token=token)
        assert r.status_code == 200, r.text
        return r.json()

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        body = await self(query, variables, token=token)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GQL:
    return GQL(client)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    return errors[0]


# --- throwaway tenants --------------------------------------------------------------------------


@dataclass
class TenantInfo:
    id: uuid.UUID
    slug: str
    ids: dict[str, uuid.UUID]  # email -> employee id
    departments: dict[str, uuid.UUID]
    locations: dict[str, uuid.UUID]

    def token(self, email: str, **kw: Any) -> str:
        return token(self.slug, email, **kw)

    def gid(self, email: str) -> str:
        from upward.graphql.relay import to_global_id

        return to_global_id("Employee", self.ids[email])

    async def api_key(self, scopes: list[str], **kw: Any) -> str:
        """A new API key of this tenant with `scopes` (keyword arguments as
        `integrations.api_keys.create_key`); returns its token."""
        return await make_api_key(self.id, self.slug, scopes, **kw)


async def make_api_key(
    tenant_id: uuid.UUID, slug: str, scopes: list[str], *, name: str = "test key", **kw: Any
) -> str:
    from upward.auth.principal import TENANT_ADMIN, Principal
    from upward.db import owner_engine, tenant_session
    from upward.integrations.api_keys import create_key

    async with owner_engine().connect() as conn:
        admin_id = await conn.scalar(
            sa.text(
                "select id from employees where tenant_id = :t and 'tenant_admin' = any(roles) "
                "and status = 'active' order by created_at limit 1"
            ),
            {"t": tenant_id},
        )
    admin = Principal(
        tenant_id=tenant_id,
        tenant_slug=slug,
        kind="user",
        employee_id=admin_id,
        roles=frozenset({TENANT_ADMIN}),
    )
    async with tenant_session(tenant_id) as s:
        _, secret = await create_key(s, admin, name=name, scopes=scopes, **kw)
    return secret


SMALL_ORG = {
    "departments": [{"name": "Engineering", "code": "ENG"}, {"name": "People"}],
    "locations": [
        {"name": "Berlin", "timezone": "Europe/Berlin", "country": "DE"},
        {"name": "Austin", "timezone": "America/Chicago"},
    ],
    "employees": [
        {
            "email": "admin@t.example",
            "name": "Ada Admin",
            "roles": ["tenant_admin"],
            "department": "Engineering",
            "location": "Berlin",
            "title": "CTO",
            "job_level": "E1",
        },
        {
            "email": "hr@t.example",
            "name": "Hana HR",
            "roles": ["hr_admin"],
            "manager": "admin@t.example",
            "department": "People",
            "location": "Berlin",
        },
        {
            "email": "boss@t.example",
            "name": "Bo Boss",
            "manager": "admin@t.example",
            "department": "Engineering",
            "location": "Austin",
            "job_level": "M2",
        },
        {
            "email": "lead@t.example",
            "name": "Lee Lead",
            "manager": "boss@t.example",
            "department": "Engineering",
            "location": "Austin",
            "job_level": "M1",
        },
        {
            "email": "dev@t.example",
            "name": "Dee Dev",
            "manager": "lead@t.example",
            "department": "Engineering",
            "location": "Austin",
            "job_level": "IC2",
        },
        {
            "email": "peer@t.example",
            "name": "Pat Peer",
            "manager": "boss@t.example",
            "department": "Engineering",
            "location": "Berlin",
            "job_level": "IC3",
        },
    ],
}


@pytest.fixture
async def make_tenant(owner_engine: AsyncEngine) -> Callable[..., Any]:
    from upward.tenancy.manifest import validate_manifest
    from upward.tenancy.service import apply_manifest

    async def make(org: dict[str, Any] | None = None) -> TenantInfo:
        slug = f"t-{uuid.uuid4().hex[:10]}"
        data = {
            "slug": slug,
            "name": f"Tenant {slug}",
            "timezone": "Europe/Berlin",
            **(org or SMALL_ORG),
        }
        result = await apply_manifest(owner_engine, validate_manifest(data, f"{slug}.toml"))
        return await tenant_info(owner_engine, result.tenant_id, slug)

    return make


async def tenant_info(engine: AsyncEngine, tenant_id: uuid.UUID, slug: str) -> TenantInfo:
    async with engine.connect() as conn:
        emps = (
            await conn.execute(
                sa.text("select email, id from employees where tenant_id = :t"), {"t": tenant_id}
            )
        ).all()
        deps = (
            await conn.execute(
                sa.text("select name, id from departments where tenant_id = :t"), {"t": tenant_id}
            )
        ).all()
        locs = (
            await conn.execute(
                sa.text("select name, id from locations where tenant_id = :t"), {"t": tenant_id}
            )
        ).all()
    return TenantInfo(tenant_id, slug, dict(emps), dict(deps), dict(locs))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def acme(owner_engine: AsyncEngine) -> TenantInfo:
    async with owner_engine.connect() as conn:
        tid = await conn.scalar(sa.text("select id from tenants where slug = 'acme'"))
    return await tenant_info(owner_engine, tid, "acme")


@pytest.fixture(scope="session")
async def globex(owner_engine: AsyncEngine) -> TenantInfo:
    async with owner_engine.connect() as conn:
        tid = await conn.scalar(sa.text("select id from tenants where slug = 'globex'"))
    return await tenant_info(owner_engine, tid, "globex")


# --- statement counting -------------------------------------------------------------------------


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def raw(self, statement: str) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
async def count_statements(app_engine: AsyncEngine) -> AsyncIterator[StatementCounter]:
    from upward.db import STATEMENT_HOOKS

    counter = StatementCounter()
    sa.event.listen(app_engine.sync_engine, "before_cursor_execute", counter)
    STATEMENT_HOOKS.append(counter.raw)
    try:
        yield counter
    finally:
        STATEMENT_HOOKS.remove(counter.raw)
        sa.event.remove(app_engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    """A client of the suite's Redis (REDIS_URL), closed after the test."""
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        yield r
    finally:
        await r.aclose()
