"""The GraphQL spine over HTTP: limits, coded errors, masking, GET, health and metrics."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import GQL, error_codes, only_error, token


@pytest.fixture
def tok() -> str:
    return token("acme", "sam.rivera@acme.example")


async def test_first_over_100_and_bad_page_args(gql: GQL, tok: str) -> None:
    for args, field in (
        ("first: 101", "first"),
        ("first: 0", "first"),
        ("last: 500", "last"),
        ("first: 5, last: 5", "first"),
        ('after: "garbage"', "after"),
        ('before: "!!"', "before"),
    ):
        body = await gql(f"{{ employees({args}) {{ totalCount }} }}", token=tok)
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, args


@pytest.mark.parametrize(
    "bad_id", ["", "not base64!", "Zm9v", "RW1wbG95ZWU6bm90LWEtdXVpZA==", "x" * 500]
)
async def test_malformed_ids(gql: GQL, tok: str, bad_id: str) -> None:
    for q in (
        "query($id: ID!) { employee(id: $id) { name } }",
        "query($id: ID!) { node(id: $id) { id } }",
    ):
        body = await gql(q, {"id": bad_id}, token=tok)
        assert only_error(body)["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}


async def test_wrong_type_of_id(gql: GQL, tok: str) -> None:
    import uuid

    from upward.graphql.relay import to_global_id

    body = await gql(
        "query($id: ID!) { employee(id: $id) { name } }",
        {"id": to_global_id("Department", uuid.uuid4())},
        token=tok,
    )
    err = only_error(body)
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    assert "Employee" in err["message"]


async def test_too_deep(gql: GQL, tok: str) -> None:
    deep = "{ me { " + "manager { " * 14 + "name" + " }" * 14 + " } }"
    body = await gql(deep, token=tok)
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "depth" in body["errors"][0]["message"]


async def test_too_many_aliases(gql: GQL, tok: str) -> None:
    wide = "{ " + " ".join(f"a{i}: me {{ name }}" for i in range(40)) + " }"
    assert error_codes(await gql(wide, token=tok)) == ["QUERY_TOO_COMPLEX"]
    # aliases hidden in a fragment count too
    frag = (
        "query { me { ...F } } fragment F on Employee { "
        + " ".join(f"a{i}: name" for i in range(40))
        + " }"
    )
    assert error_codes(await gql(frag, token=tok)) == ["QUERY_TOO_COMPLEX"]


async def test_too_many_tokens(gql: GQL, tok: str) -> None:
    huge = "{ me { " + " ".join(["name"] * 4000) + " } }"
    assert error_codes(await gql(huge, token=tok)) == ["QUERY_TOO_COMPLEX"]


async def test_parse_and_validation_errors(gql: GQL, tok: str) -> None:
    assert error_codes(await gql("{ me { name ", token=tok)) == ["GRAPHQL_PARSE_FAILED"]
    assert error_codes(await gql("{ me { salary } }", token=tok)) == ["GRAPHQL_VALIDATION_FAILED"]
    body = await gql(
        "query($n: Int!) { employees(first: $n) { totalCount } }", {"n": "many"}, token=tok
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_oversize_body_is_413(gql: GQL, tok: str) -> None:
    from upward.settings import get_settings

    limit = get_settings().max_body_bytes
    big = "{ me { name } }" + " " * limit
    r = await gql.raw(big, token=tok)
    assert r.status_code == 413
    assert r.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> Any:
        for _ in range(limit // 100_000 + 2):
            yield b" " * 100_000

    r = await gql.client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_non_json_body_is_400(gql: GQL, tok: str) -> None:
    for content, ctype in ((b"{not json", "application/json"), (b"query=x", "text/plain")):
        r = await gql.client.post(
            "/graphql",
            content=content,
            headers={"content-type": ctype, "authorization": f"Bearer {tok}"},
        )
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_get_queries_but_not_mutations(gql: GQL, tok: str) -> None:
    h = {"authorization": f"Bearer {tok}"}
    r = await gql.client.get("/graphql", params={"query": "{ me { name } }"}, headers=h)
    assert r.status_code == 200 and r.json()["data"]["me"]["name"] == "Sam Rivera"
    r = await gql.client.get(
        "/graphql",
        params={"query": 'mutation { createDepartment(input: {name: "x"}) { department { id } } }'},
        headers=h,
    )
    assert r.status_code in (400, 405)


async def test_internal_errors_are_masked_with_request_id(
    gql: GQL, tok: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from upward.people import service

    async def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("secret database detail")

    monkeypatch.setattr(service, "list_departments", boom)
    with caplog.at_level(logging.ERROR, logger="upward.graphql"):
        r = await gql.client.post(
            "/graphql",
            json={"query": "{ departments { name } }"},
            headers={"authorization": f"Bearer {tok}", "x-request-id": "req-123"},
        )
    err = only_error(r.json())
    assert err["extensions"] == {"code": "INTERNAL", "requestId": "req-123"}
    assert "secret" not in r.text and "req-123" in err["message"]
    assert r.headers["x-request-id"] == "req-123"
    assert any(
        "secret database detail" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records
    )


async def test_a_database_outage_while_authenticating_is_a_masked_internal_error(
    gql: GQL, tok: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure before the operation runs (here: no database connection to authenticate in,
    as when PostgreSQL has no free slots) answers JSON with INTERNAL and the request id, not
    the server's plain-text 500."""
    from upward.graphql import context

    class Down:
        async def connect(self) -> Any:
            raise OSError("remaining connection slots are reserved (secret detail)")

    monkeypatch.setattr(context, "app_engine", lambda: Down())
    with caplog.at_level(logging.ERROR, logger="upward.graphql"):
        r = await gql.client.post(
            "/graphql",
            json={"query": "{ departments { name } }"},
            headers={"authorization": f"Bearer {tok}", "x-request-id": "req-down"},
        )
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    err = only_error(r.json())
    assert err["extensions"] == {"code": "INTERNAL", "requestId": "req-down"}
    assert "secret" not in r.text and "req-down" in err["message"]
    assert any("secret detail" in (rec.exc_text or str(rec.exc_info)) for rec in caplog.records)


async def test_health_ready_metrics(gql: GQL, tok: str) -> None:
    c = gql.client
    assert (await c.get("/healthz")).json() == {"status": "ok"}
    ready = await c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "redis": "ok"}
    await gql.ok("query MetricsProbe { me { name } }", token=tok)
    await gql("{ employees(first: 1000) { totalCount } }", token=tok)
    text = (await c.get("/metrics")).text
    assert 'upward_graphql_request_duration_seconds_count{operation="MetricsProbe"}' in text
    assert 'upward_graphql_errors_total{code="BAD_USER_INPUT"}' in text
    assert "upward_http_requests_total" in text and "upward_db_pool_connections" in text


async def test_ready_only_when_the_database_is_at_this_release_or_later(
    gql: GQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app role reads the schema's revision; a database older than the release's
    migrations is not ready, a newer one (the next release migrated it) still is."""
    from upward import migrate

    head, revisions = migrate.release_revisions()
    assert head == "0018_readiness" and "0001_foundation" in revisions
    assert migrate.schema_state(head) == (True, "ok")
    assert migrate.schema_state("0017_tenant_transfer") == (
        False,
        "behind: at 0017_tenant_transfer, this release needs 0018_readiness (run `upward migrate`)",
    )
    assert migrate.schema_state(None)[0] is False
    ready, said = migrate.schema_state("0042_from_the_future")
    assert ready and "ahead of this release: at 0042_from_the_future" in said

    # this database against a release one migration ahead of it: not ready
    monkeypatch.setattr(
        migrate, "release_revisions", lambda: ("0019_next", frozenset({*revisions, "0019_next"}))
    )
    r = await gql.client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {
        "status": "unavailable",
        "checks": {
            "database": "ok",
            "schema": f"behind: at {head}, this release needs 0019_next (run `upward migrate`)",
            "redis": "ok",
        },
    }
    # ... and against the release before it (the database is ahead): ready
    monkeypatch.setattr(
        migrate, "release_revisions", lambda: ("0017_tenant_transfer", revisions - {head})
    )
    r = await gql.client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["schema"].startswith(f"ok (ahead of this release: at {head}")


async def test_graphiql_served_in_dev(gql: GQL) -> None:
    r = await gql.client.get("/graphql", headers={"accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()


async def test_cors_preflight_when_configured() -> None:
    import httpx

    from upward.app import create_app
    from upward.settings import Settings

    app = create_app(Settings(cors_origins=["https://app.example"], env="test"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://upward.test"
    ) as c:
        r = await c.options(
            "/graphql",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization,content-type",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        r = await c.options(
            "/graphql",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert "access-control-allow-origin" not in r.headers


def test_json_logs_carry_request_tenant_and_operation() -> None:
    import json
    import logging

    from upward.observability import JsonFormatter, operation_var, request_id_var, tenant_var

    tokens = (request_id_var.set("rid-1"), tenant_var.set("acme"), operation_var.set("Op"))
    try:
        record = logging.makeLogRecord(
            {"name": "upward.access", "msg": "request", "levelname": "INFO", "status": 200}
        )
        line = json.loads(JsonFormatter().format(record))
    finally:
        operation_var.reset(tokens[2])
        tenant_var.reset(tokens[1])
        request_id_var.reset(tokens[0])
    assert line["request_id"] == "rid-1" and line["tenant"] == "acme"
    assert line["operation"] == "Op" and line["status"] == 200 and line["msg"] == "request"


async def test_database_error_in_a_query_field_is_not_a_failed_request(
    gql: GQL, tok: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query's transaction is rolled back, not committed: a field whose SQL fails is that
    field's error (here it nulls `data`: both root fields are non-null), not a failed commit."""
    import sqlalchemy as sa

    from upward.people import service

    async def division_by_zero(session: Any) -> Any:
        await session.execute(sa.text("select 1 / 0"))

    monkeypatch.setattr(service, "list_locations", division_by_zero)
    r = await gql.raw("{ me { name } locations { name } }", token=tok)
    assert r.status_code == 200
    body = r.json()
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["locations"], "INTERNAL")
    ]


async def test_introspection_can_be_disabled() -> None:
    from upward.graphql.schema import build_schema
    from upward.settings import Settings

    closed = build_schema(Settings(introspection=False, env="test"))
    result = await closed.execute("{ __schema { queryType { name } } }")
    assert result.errors and "introspection" in result.errors[0].message.lower()
    opened = build_schema(Settings(env="test"))
    assert (await opened.execute("{ __schema { queryType { name } } }")).errors is None
    prod = Settings(
        env="production",
        jwt_secret="s" * 40,
        cursor_secret="c" * 40,
        database_url="postgresql://x/y",
        redis_url="redis://x",
        app_db_password="p" * 20,
    )
    assert not prod.introspection_enabled and not prod.graphiql_enabled


@pytest.mark.parametrize(
    "payload, message",
    [
        ([{"query": "{ me { name } }"}], "Batching is not enabled"),
        ({"variables": {}}, "No GraphQL query found in the request"),
        ({"query": 5}, "`query` must be a string"),
        ({"query": "{ me { name } }", "variables": [1]}, "`variables` must be an object"),
        ({"query": "{ me { name } }", "extensions": "x"}, "`extensions` must be an object"),
        ({"query": "{ me { name } }", "operationName": 3}, "`operationName` must be a string"),
    ],
)
async def test_malformed_requests_are_400(gql: GQL, tok: str, payload: Any, message: str) -> None:
    r = await gql.client.post("/graphql", json=payload, headers={"authorization": f"Bearer {tok}"})
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "BAD_REQUEST" and message in err["message"]


async def test_nested_pages_are_refused_by_cost(gql: GQL, tok: str) -> None:
    nested = """query Nested { employees(first: 100) { edges { node {
        directReports(first: 100) { edges { node { name } } } } } } }"""
    body = await gql(nested, token=tok)
    err = only_error(body)
    assert err["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "query cost" in err["message"] and "5000" in err["message"]
    # through fragments and variables too
    hidden = """query($n: Int) { employees(first: $n) { ...E } }
        fragment E on EmployeeConnection { edges { node { reportingLine { edges { node {
          directReports { totalCount } } } } } } }"""
    assert error_codes(await gql(hidden, {"n": 10}, token=tok)) == ["QUERY_TOO_COMPLEX"]
    # the directory page itself is far below the limit
    page = """{ employees(first: 100) { totalCount edges { node { id name email
        manager { name } department { name } location { name } } } } }"""
    assert (await gql.ok(page, token=tok))["employees"]["totalCount"] > 0
