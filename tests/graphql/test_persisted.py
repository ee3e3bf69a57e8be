"""Automatic persisted queries (miss, register, hit; POST and GET) and trusted documents
(registered by the CLI; unregistered operations refused for a restricted tenant or key)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from tests.conftest import GQL, only_error
from upward.cli import main

QUERY = "query Departments { departments { name } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()


def _pq(digest: str = HASH) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def _post(gql: GQL, token: str, **body: Any) -> dict[str, Any]:
    r = await gql.client.post("/graphql", json=body, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


async def test_apq_round_trip(gql: GQL, make_tenant: Any) -> None:
    t = await make_tenant()
    token = t.token("dev@t.example")
    miss = await _post(gql, token, extensions=_pq())
    assert only_error(miss) == {
        "message": "PersistedQueryNotFound",
        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
    }
    registered = await _post(gql, token, query=QUERY, extensions=_pq())
    assert {d["name"] for d in registered["data"]["departments"]} == {"Engineering", "People"}
    hit = await _post(gql, token, extensions=_pq())
    assert hit["data"] == registered["data"]
    # GET, as a CDN-friendly client sends it
    r = await gql.client.get(
        "/graphql",
        params={"extensions": orjson.dumps(_pq()).decode()},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200 and r.json()["data"] == registered["data"]
    # persisted queries are per tenant: another tenant's client misses
    other = await make_tenant()
    miss = await _post(gql, other.token("dev@t.example"), extensions=_pq())
    assert only_error(miss)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_errors(gql: GQL, make_tenant: Any) -> None:
    t = await make_tenant()
    token = t.token("dev@t.example")
    body = await _post(gql, token, query=QUERY, extensions=_pq("0" * 64))
    err = only_error(body)
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["message"] == "provided sha does not match query"
    body = await _post(
        gql, token, extensions={"persistedQuery": {"version": 2, "sha256Hash": HASH}}
    )
    assert only_error(body)["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
    body = await _post(gql, token, extensions=_pq("xyz"))
    assert only_error(body)["extensions"]["field"] == "extensions.persistedQuery.sha256Hash"
    # unauthenticated: the answer is that, not a cache miss
    r = await gql.client.post("/graphql", json={"extensions": _pq()})
    assert only_error(r.json())["extensions"]["code"] == "UNAUTHENTICATED"


async def cli(*argv: str) -> int:
    """The CLI as an operator runs it (its own event loop, so in a thread here)."""
    return await asyncio.to_thread(main, list(argv))


def _write_docs(folder: Path) -> None:
    (folder / "web").mkdir(parents=True)
    (folder / "departments.graphql").write_text(QUERY)
    (folder / "web" / "me.graphql").write_text("query Me { me { name } }")


async def test_trusted_documents_for_a_key(
    gql: GQL, make_tenant: Any, tmp_path: Path, owner_engine: Any
) -> None:
    t = await make_tenant()
    _write_docs(tmp_path)
    assert (
        await cli(
            "documents", "register", str(tmp_path), "--tenant", t.slug, "--collection", "hris"
        )
        == 0
    )
    # idempotent
    assert (
        await cli(
            "documents", "register", str(tmp_path), "--tenant", t.slug, "--collection", "hris"
        )
        == 0
    )
    async with owner_engine.connect() as conn:
        n = await conn.scalar(
            sa.text("select count(*) from trusted_documents where tenant_id = :t"), {"t": t.id}
        )
    assert n == 2
    restricted = await t.api_key(["people:read"], document_collection="hris")
    # a registered operation runs by its text, its hash or its document id
    assert "errors" not in await _post(gql, restricted, query=QUERY)
    assert "errors" not in await _post(gql, restricted, extensions=_pq())
    assert "errors" not in await _post(gql, restricted, documentId=f"sha256:{HASH}")
    # anything else is refused before it runs, including APQ registration
    for body in (
        {"query": "{ departments { name code } }"},
        {
            "query": "{ departments { name code } }",
            "extensions": _pq(hashlib.sha256(b"{ departments { name code } }").hexdigest()),
        },
        {"documentId": "sha256:" + "1" * 64},
    ):
        err = only_error(await _post(gql, restricted, **body))
        assert err["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST", body
    # an unrestricted key of the same tenant runs anything
    free = await t.api_key(["people:read"])
    assert "errors" not in await _post(gql, free, query="{ departments { name code } }")


async def test_trusted_documents_for_a_tenant(gql: GQL, make_tenant: Any, tmp_path: Path) -> None:
    t = await make_tenant()
    _write_docs(tmp_path)
    assert await cli("documents", "register", str(tmp_path), "--tenant", t.slug) == 0
    assert await cli("documents", "enforce", t.slug) == 0
    token = t.token("dev@t.example")
    body = await _post(gql, token, query="query Me { me { name } }")
    assert body["data"]["me"]["name"] == "Dee Dev"
    err = only_error(await _post(gql, token, query="{ me { email } }"))
    assert err["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    key = await t.api_key(["people:read"])  # the tenant's switch covers its keys too
    err = only_error(await _post(gql, key, query="{ departments { code } }"))
    assert err["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert await cli("documents", "relax", t.slug) == 0
    assert "errors" not in await _post(gql, token, query="{ me { email } }")


async def test_register_refuses_invalid_documents(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "bad.graphql").write_text("query { nope }")
    (tmp_path / "good.graphql").write_text(QUERY)
    assert await cli("documents", "register", str(tmp_path), "--tenant", "acme") == 1
    err = capsys.readouterr().err
    assert "bad.graphql" in err and "nothing registered" in err


async def test_redis_unreachable_persisted_queries_and_limits_fail_open(
    gql: GQL, make_tenant: Any, monkeypatch: Any
) -> None:
    """With Redis gone (a failover, say), requests are still served: the rate limiter lets them
    through unlimited (no RateLimit headers), a hash alone is a miss, and the text with its hash
    runs without being stored."""
    import redis.asyncio as aioredis

    from upward import cache
    from upward.graphql import limits

    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    monkeypatch.setattr(cache, "redis", lambda: down)
    monkeypatch.setattr(limits, "_script", {})
    t = await make_tenant()
    token = t.token("dev@t.example")
    r = await gql.client.post(
        "/graphql", json={"query": QUERY}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200 and "errors" not in r.json()
    assert "ratelimit-limit" not in r.headers
    miss = await _post(gql, token, extensions=_pq())
    assert only_error(miss)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    ran = await _post(gql, token, query=QUERY, extensions=_pq())
    assert {d["name"] for d in ran["data"]["departments"]} == {"Engineering", "People"}
    await down.aclose()
