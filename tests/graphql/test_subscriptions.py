"""GraphQL subscriptions over WebSocket (graphql-transport-ws) on two real API processes sharing
Postgres and Redis: every subscriber gets exactly its own tenant's events, whichever process
the change went through; foreign ids are NOT_FOUND like missing ones; tokens are checked in
connection_init and again at every event (a revoked key, an offboarded person stop there)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TenantInfo
from tests.mobility.helpers import (
    APPLICANT,
    COLLEAGUE,
    CURRENT_MANAGER,
    HIRING,
    HR,
    make_posting,
    mobility_org,
)
from upward.auth.keys import parse_token
from upward.graphql import live
from upward.graphql.relay import to_global_id

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0
KEY_SCOPES = ["notifications:read", "mobility:read", "people:read"]

INBOX = """subscription($e: ID) {
  notificationAdded(employeeId: $e) { id kind subject read data }
}"""
POSTING = """subscription($p: ID!) {
  postingApplicationsChanged(postingId: $p) {
    kind application { id stage postingId applicant { name } allowedActions }
  }
}"""
APPLY = """mutation($p: ID!) { applyToPosting(input: {postingId: $p}) { id stage } }"""
TRANSITION = """mutation($id: ID!, $a: ApplicationAction!) {
  transitionApplication(id: $id, action: $a) { id stage }
}"""
KUDOS = """mutation($to: ID!) {
  giveKudos(input: {receiverIds: [$to], message: "Thanks!", valueIds: []}) { id }
}"""


# --- two API processes ----------------------------------------------------------------------


@dataclass
class Api:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(name: str, **env_overrides: str) -> Api:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "UPWARD_LOG_LEVEL": "WARNING",
        **env_overrides,
    }
    cmd = [
        *(sys.executable, "-m", "uvicorn", "--factory", "upward.app:create_app"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)  # noqa: S603
    return Api(name, port, proc)


async def _wait_healthy(api: Api) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=api.http) as c:
        while True:
            assert api.proc.poll() is None, f"{api.name} exited with {api.proc.returncode}"
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get("/healthz")).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"{api.name} did not start"
            await asyncio.sleep(0.1)


def _stop(api: Api) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(api.proc.pid, signal.SIGTERM)
    try:
        api.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(api.proc.pid, signal.SIGKILL)
        api.proc.wait(timeout=15)


@pytest.fixture(scope="module")
async def apis() -> AsyncIterator[tuple[Api, Api]]:
    one, two = _start("api-1"), _start("api-2")
    try:
        await asyncio.gather(_wait_healthy(one), _wait_healthy(two))
        yield one, two
    finally:
        _stop(one)
        _stop(two)


async def wait_subscribed(r: aioredis.Redis, channel: str, n: int) -> None:
    """Until `n` connections (one per API process) listen on `channel`."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        got = dict(await r.pubsub_numsub(channel))[channel.encode()]
        if got >= n:
            return
        assert time.monotonic() < deadline, f"{channel}: {got} of {n} subscribers"
        await asyncio.sleep(0.02)


async def gql(api: Api, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api.http, timeout=TIMEOUT) as c:
        r = await c.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = r.json()
    assert r.status_code == 200 and "errors" not in body, body
    return body["data"]


# --- a graphql-transport-ws client ----------------------------------------------------------


class Client:
    """graphql-transport-ws over `websockets`: connection_init -> connection_ack, subscribe,
    next, complete, error; each operation's messages in its own queue."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._reader = asyncio.create_task(self._read())
        self._ids = 0

    @classmethod
    async def connect(cls, api: Api, payload: dict[str, Any]) -> Client:
        ws = await websockets.connect(api.ws, subprotocols=["graphql-transport-ws"])
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert ack == {"type": "connection_ack"}, ack
        return cls(ws)

    @classmethod
    async def bearer(cls, api: Api, token: str) -> Client:
        return await cls.connect(api, {"Authorization": f"Bearer {token}"})

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                self.queues[msg.get("id", "")].put_nowait(msg)

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        op = str(self._ids)
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
        return op

    async def message(self, op: str) -> dict[str, Any]:
        return await asyncio.wait_for(self.queues[op].get(), TIMEOUT)

    async def next(self, op: str) -> dict[str, Any]:
        """The data of the operation's next event (asserting it is one, without errors)."""
        msg = await self.message(op)
        assert msg["type"] == "next" and "errors" not in msg["payload"], msg
        return msg["payload"]["data"]

    async def failure(self, op: str) -> dict[str, Any]:
        """The error that ended the operation (`next` with errors, then `complete`)."""
        msg = await self.message(op)
        assert msg["type"] == "next", msg
        (error,) = msg["payload"]["errors"]
        done = await self.message(op)
        assert done == {"id": op, "type": "complete"}, done
        return error

    def pending(self, op: str) -> int:
        return self.queues[op].qsize()

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    try:
        yield opened
    finally:
        for c in opened:
            await c.close()


# --- two tenants with a posting each -------------------------------------------------------


@dataclass
class World:
    t: TenantInfo
    posting: uuid.UUID
    key: str

    @property
    def pgid(self) -> str:
        return to_global_id("JobPosting", self.posting)

    def tok(self, email: str) -> str:
        return self.t.token(email)

    def inbox(self, email: str) -> str:
        return live.channel(self.t.id, "inbox", self.t.ids[email])

    @property
    def posting_channel(self) -> str:
        return live.channel(self.t.id, "posting", self.posting)


async def world(make_tenant: Any, owner_engine: AsyncEngine, **posting: Any) -> World:
    t = await make_tenant(mobility_org())
    pid = await make_posting(owner_engine, t, **posting)
    return World(t, pid, await t.api_key(KEY_SCOPES))


async def inbox_ids(engine: AsyncEngine, t: TenantInfo, email: str) -> list[str]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "select id from notifications where tenant_id = :t and recipient_id = :e "
                    "and 'in_app' = any(channels) order by created_at, id"
                ),
                {"t": t.id, "e": t.ids[email]},
            )
        ).all()
    return [to_global_id("Notification", r.id) for r in rows]


async def open_transactions(engine: AsyncEngine) -> int:
    """Backends of the app role (application `upward`) inside a transaction, now."""
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.text(
                    "select count(*) from pg_stat_activity where datname = current_database() "
                    "and application_name = 'upward' and xact_start is not null "
                    "and pid <> pg_backend_pid()"
                )
            )
        )


# --- the tests ------------------------------------------------------------------------------


class TestDelivery:
    async def test_each_subscriber_gets_exactly_its_tenants_events(
        self,
        apis: tuple[Api, Api],
        make_tenant: Any,
        owner_engine: AsyncEngine,
        redis: aioredis.Redis,
        clients: list[Client],
    ) -> None:
        one, two = apis
        a = await world(make_tenant, owner_engine)
        b = await world(make_tenant, owner_engine)
        # the hiring manager (a person) on one process, the tenant's API key on the other, and
        # the other tenant the other way round: each process serves both tenants
        subs: dict[str, tuple[Client, str, str]] = {}
        for w, name, user_api, key_api in ((a, "a", one, two), (b, "b", two, one)):
            user = await Client.bearer(user_api, w.tok(HIRING))
            key = await Client.bearer(key_api, w.key)
            clients += [user, key]
            hm = w.t.gid(HIRING)
            subs[f"{name}-user"] = (
                user,
                await user.subscribe(INBOX),
                await user.subscribe(POSTING, {"p": w.pgid}),
            )
            subs[f"{name}-key"] = (
                key,
                await key.subscribe(INBOX, {"e": hm}),
                await key.subscribe(POSTING, {"p": w.pgid}),
            )
        for w in (a, b):
            await wait_subscribed(redis, w.inbox(HIRING), 2)
            await wait_subscribed(redis, w.posting_channel, 2)
        # eight idle subscriptions hold no transaction (each event opens its own); a key's
        # last-use write may still be finishing
        deadline = time.monotonic() + 5
        while (n := await open_transactions(owner_engine)) != 0:
            assert time.monotonic() < deadline, f"{n} transactions held by idle subscriptions"
            await asyncio.sleep(0.05)

        got: dict[str, dict[str, list[Any]]] = {n: {"inbox": [], "posting": []} for n in subs}

        async def step(changes: dict[str, tuple[int, int]]) -> None:
            """Wait for each subscriber's expected number of (inbox, posting) events."""
            for name, (inbox_n, posting_n) in changes.items():
                client, inbox_op, posting_op = subs[name]
                for _ in range(inbox_n):
                    got[name]["inbox"].append((await client.next(inbox_op))["notificationAdded"])
                for _ in range(posting_n):
                    data = await client.next(posting_op)
                    got[name]["posting"].append(data["postingApplicationsChanged"])

        both = lambda i, p: {n: (i, p) for n in subs}  # noqa: E731
        apps: dict[str, dict[str, str]] = {"a": {}, "b": {}}
        # every change goes through one process or the other, alternating, and each step
        # waits for both tenants' events: a leak of step k would arrive before step k+1
        plan = [
            ("apply", APPLICANT, None, (1, 1)),
            ("apply", COLLEAGUE, None, (1, 1)),
            ("screen", HIRING, APPLICANT, (0, 1)),
            ("withdraw", APPLICANT, APPLICANT, (0, 1)),
            ("apply", CURRENT_MANAGER, None, (1, 1)),
            ("kudos", APPLICANT, None, (1, 0)),
        ]
        for i, (action, actor, whose, expect) in enumerate(plan):
            for w, name in ((a, "a"), (b, "b")):
                api = (one, two)[(i + (name == "b")) % 2]
                tok = w.tok(actor)
                if action == "apply":
                    data = await gql(api, APPLY, {"p": w.pgid}, tok)
                    apps[name][actor] = data["applyToPosting"]["id"]
                elif action == "kudos":
                    await gql(api, KUDOS, {"to": w.t.gid(HIRING)}, tok)
                else:
                    await gql(api, TRANSITION, {"id": apps[name][whose], "a": action.upper()}, tok)
            await step(both(*expect))

        for w, name in ((a, "a"), (b, "b")):
            expected_inbox = await inbox_ids(owner_engine, w.t, HIRING)
            assert len(expected_inbox) == 4
            mine = apps[name]
            expected_posting = [
                ("CREATED", mine[APPLICANT], "APPLIED"),
                ("CREATED", mine[COLLEAGUE], "APPLIED"),
                ("STAGE_CHANGED", mine[APPLICANT], "SCREENING"),
                ("WITHDRAWN", mine[APPLICANT], "WITHDRAWN"),
                ("CREATED", mine[CURRENT_MANAGER], "APPLIED"),
            ]
            for who in ("user", "key"):
                seen = got[f"{name}-{who}"]
                assert [n["id"] for n in seen["inbox"]] == expected_inbox, (name, who)
                assert [n["kind"] for n in seen["inbox"]] == ["EVENT"] * 4
                assert "Dee Dev applied" in seen["inbox"][0]["subject"]
                assert seen["inbox"][0]["read"] is False
                changes = [
                    (c["kind"], c["application"]["id"], c["application"]["stage"])
                    for c in seen["posting"]
                ]
                assert changes == expected_posting, (name, who)
                assert {c["application"]["postingId"] for c in seen["posting"]} == {w.pgid}
                assert seen["posting"][0]["application"]["applicant"] == {"name": "Dee Dev"}
            # the key reads like HR: it may move the application; the hiring manager too
            assert got[f"{name}-key"]["posting"][1]["application"]["allowedActions"] == [
                "SCREEN",
                "REJECT",
            ]
        for client, inbox_op, posting_op in subs.values():
            assert client.pending(inbox_op) == 0 and client.pending(posting_op) == 0

    async def test_notifications_written_by_workers_are_announced_in_app_ones_only(
        self,
        apis: tuple[Api, Api],
        make_tenant: Any,
        owner_engine: AsyncEngine,
        redis: aioredis.Redis,
        clients: list[Client],
    ) -> None:
        """Actors write notifications in a `tenant_session` (as `tenant_actor` does), through
        `create_notifications` like every writer: published after their commit too."""
        from upward.db import tenant_session
        from upward.reminders.outbox import NewNotification, create_notifications

        one, _ = apis
        w = await world(make_tenant, owner_engine)
        c = await Client.bearer(one, w.tok(HIRING))
        clients.append(c)
        op = await c.subscribe(INBOX)
        await wait_subscribed(redis, w.inbox(HIRING), 1)

        def note(subject: str, channels: set[str]) -> NewNotification:
            return NewNotification(
                recipient_id=w.t.ids[HIRING],
                kind="event",
                key=f"test:{uuid.uuid4()}",
                template_kind="event",
                context={},
                data={"event": "test"},
                channels=frozenset(channels),
                reminder_ids=[],
                rendered=(subject, subject),
            )

        async with tenant_session(w.t.id) as s:
            await create_notifications(s, [note("by email only", {"email"})])
        async with tenant_session(w.t.id) as s:
            await create_notifications(s, [note("in the inbox", {"in_app", "email"})])
        await live.flush()
        got = (await c.next(op))["notificationAdded"]
        assert got["subject"] == "in the inbox"
        assert got["id"] == (await inbox_ids(owner_engine, w.t, HIRING))[-1]

    async def test_a_subscription_ends_when_its_client_completes_it(
        self,
        apis: tuple[Api, Api],
        make_tenant: Any,
        owner_engine: AsyncEngine,
        redis: aioredis.Redis,
        clients: list[Client],
    ) -> None:
        one, _ = apis
        w = await world(make_tenant, owner_engine)
        c = await Client.bearer(one, w.tok(HIRING))
        clients.append(c)
        op = await c.subscribe(POSTING, {"p": w.pgid})
        await wait_subscribed(redis, w.posting_channel, 1)
        await c.ws.send(json.dumps({"id": op, "type": "complete"}))
        deadline = time.monotonic() + TIMEOUT
        while dict(await redis.pubsub_numsub(w.posting_channel))[w.posting_channel.encode()]:
            assert time.monotonic() < deadline, "the process still listens"
            await asyncio.sleep(0.02)


class TestWhoMayFollow:
    async def test_foreign_ids_are_not_found_like_missing_ones(
        self, apis: tuple[Api, Api], make_tenant: Any, owner_engine: AsyncEngine, clients: Any
    ) -> None:
        one, two = apis
        a = await world(make_tenant, owner_engine)
        b = await world(make_tenant, owner_engine)
        key = await Client.bearer(one, a.key)
        user = await Client.bearer(two, a.tok(HR))
        clients += [key, user]
        ghost_employee = to_global_id("Employee", uuid.uuid4())
        ghost_posting = to_global_id("JobPosting", uuid.uuid4())
        for c in (key, user):
            foreign = await c.failure(await c.subscribe(POSTING, {"p": b.pgid}))
            missing = await c.failure(await c.subscribe(POSTING, {"p": ghost_posting}))
            assert foreign == missing
            assert foreign["extensions"] == {"code": "NOT_FOUND", "field": "postingId"}
        foreign = await key.failure(await key.subscribe(INBOX, {"e": b.t.gid(HIRING)}))
        missing = await key.failure(await key.subscribe(INBOX, {"e": ghost_employee}))
        assert foreign == missing
        assert foreign["extensions"] == {"code": "NOT_FOUND", "field": "employeeId"}
        # a person: another tenant's employee is NOT_FOUND too, a colleague's inbox FORBIDDEN
        foreign = await user.failure(await user.subscribe(INBOX, {"e": b.t.gid(HIRING)}))
        assert foreign["extensions"] == {"code": "NOT_FOUND", "field": "employeeId"}
        colleague = await user.failure(await user.subscribe(INBOX, {"e": a.t.gid(HIRING)}))
        assert colleague["extensions"] == {"code": "FORBIDDEN", "field": "employeeId"}

    async def test_rights_and_scopes(
        self, apis: tuple[Api, Api], make_tenant: Any, owner_engine: AsyncEngine, clients: Any
    ) -> None:
        one, _ = apis
        w = await world(make_tenant, owner_engine)
        # an employee who sees the posting but not its applications
        dev = await Client.bearer(one, w.tok(APPLICANT))
        clients.append(dev)
        err = await dev.failure(await dev.subscribe(POSTING, {"p": w.pgid}))
        assert err["extensions"] == {"code": "FORBIDDEN", "field": "postingId"}
        # a key must name the inbox, and hold the scopes of the field and what it selects
        key = await Client.bearer(one, w.key)
        clients.append(key)
        err = await key.failure(await key.subscribe(INBOX))
        assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "employeeId"}
        narrow = await Client.bearer(one, await w.t.api_key(["mobility:read"]))
        clients.append(narrow)
        err = await narrow.failure(await narrow.subscribe(INBOX, {"e": w.t.gid(HIRING)}))
        assert err["extensions"] == {
            "code": "FORBIDDEN",
            "requiredScopes": ["notifications:read"],
        }
        err = await narrow.failure(await narrow.subscribe(POSTING, {"p": w.pgid}))
        assert err["extensions"] == {"code": "FORBIDDEN", "requiredScopes": ["people:read"]}

    async def test_only_subscriptions_run_over_the_socket(
        self, apis: tuple[Api, Api], make_tenant: Any, owner_engine: AsyncEngine, clients: Any
    ) -> None:
        one, _ = apis
        w = await world(make_tenant, owner_engine)
        c = await Client.bearer(one, w.tok(HIRING))
        clients.append(c)
        op = await c.subscribe("{ me { name } }")
        msg = await c.message(op)
        assert msg["type"] == "error", msg
        assert msg["payload"][0]["extensions"] == {"code": "BAD_REQUEST"}
        # and subscriptions do not run over HTTP, however they are asked for
        async with httpx.AsyncClient(base_url=one.http) as h:
            for accept in ("application/json", "multipart/mixed;subscriptionSpec=1.0"):
                r = await h.post(
                    "/graphql",
                    json={"query": POSTING, "variables": {"p": w.pgid}},
                    headers={"Authorization": f"Bearer {w.tok(HIRING)}", "Accept": accept},
                )
                assert r.status_code == 400, (accept, r.text)
                assert "subscriptions are not allowed" in r.text


class TestTokens:
    async def test_connection_init_accepts_three_spellings(
        self, apis: tuple[Api, Api], make_tenant: Any, owner_engine: AsyncEngine, clients: Any
    ) -> None:
        one, two = apis
        w = await world(make_tenant, owner_engine)
        for api, payload in (
            (one, {"Authorization": f"Bearer {w.tok(HIRING)}"}),
            (two, {"authorization": f"bearer {w.key}"}),
            (one, {"authToken": w.key}),
        ):
            clients.append(await Client.connect(api, payload))

    @pytest.mark.parametrize(
        "payload",
        [
            None,
            {},
            {"authToken": "not-a-token"},
            {"Authorization": "Basic dXNlcjpwdw=="},
            {"authToken": "upw_" + "0" * 83},
        ],
    )
    async def test_a_bad_token_is_refused_in_connection_init(
        self, apis: tuple[Api, Api], payload: dict[str, Any] | None
    ) -> None:
        one, _ = apis
        async with websockets.connect(one.ws, subprotocols=["graphql-transport-ws"]) as ws:
            init: dict[str, Any] = {"type": "connection_init"}
            if payload is not None:
                init["payload"] = payload
            await ws.send(json.dumps(init))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Forbidden")

    async def test_a_token_of_another_tenant_cannot_reach_in(
        self, apis: tuple[Api, Api], make_tenant: Any, owner_engine: AsyncEngine, clients: Any
    ) -> None:
        """A token minted for tenant A naming B's employee is refused (tokens name their
        tenant; the employee is looked up under it)."""
        one, _ = apis
        a = await world(make_tenant, owner_engine)
        b = await world(make_tenant, owner_engine)
        wrong = a.t.token(f"{b.t.ids[HIRING]}")
        async with websockets.connect(one.ws, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authToken": wrong}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    async def test_revoking_a_key_ends_its_subscription_at_the_next_event(
        self,
        apis: tuple[Api, Api],
        make_tenant: Any,
        owner_engine: AsyncEngine,
        redis: aioredis.Redis,
        clients: list[Client],
    ) -> None:
        one, two = apis
        w = await world(make_tenant, owner_engine)
        key = await Client.bearer(one, w.key)
        user = await Client.bearer(two, w.tok(HIRING))
        clients += [key, user]
        key_op = await key.subscribe(POSTING, {"p": w.pgid})
        user_op = await user.subscribe(POSTING, {"p": w.pgid})
        await wait_subscribed(redis, w.posting_channel, 2)
        await gql(two, APPLY, {"p": w.pgid}, w.tok(APPLICANT))
        assert (await key.next(key_op))["postingApplicationsChanged"]["kind"] == "CREATED"
        assert (await user.next(user_op))["postingApplicationsChanged"]["kind"] == "CREATED"

        key_gid = to_global_id("ApiKey", parse_token(w.key).key_id)
        revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { id } }"
        await gql(two, revoke, {"id": key_gid}, w.tok("admin@t.example"))
        await gql(two, APPLY, {"p": w.pgid}, w.tok(COLLEAGUE))
        err = await key.failure(key_op)
        assert err["extensions"] == {"code": "UNAUTHENTICATED"}
        assert "revoked" in err["message"]
        assert (await user.next(user_op))["postingApplicationsChanged"]["kind"] == "CREATED"
        # and the revoked key cannot subscribe again on its open connection
        err = await key.failure(await key.subscribe(POSTING, {"p": w.pgid}))
        assert err["extensions"] == {"code": "UNAUTHENTICATED"}

    async def test_an_offboarded_person_stops_receiving(
        self,
        apis: tuple[Api, Api],
        make_tenant: Any,
        owner_engine: AsyncEngine,
        redis: aioredis.Redis,
        clients: list[Client],
    ) -> None:
        one, two = apis
        w = await world(make_tenant, owner_engine, hiring_manager=COLLEAGUE)
        peer = await Client.bearer(one, w.tok(COLLEAGUE))
        clients.append(peer)
        op = await peer.subscribe(POSTING, {"p": w.pgid})
        await wait_subscribed(redis, w.posting_channel, 1)
        offboard = "mutation($e: ID!) { offboardEmployee(employeeId: $e) { __typename } }"
        await gql(two, offboard, {"e": w.t.gid(COLLEAGUE)}, w.tok(HR))
        await gql(two, APPLY, {"p": w.pgid}, w.tok(APPLICANT))
        err = await peer.failure(op)
        assert err["extensions"] == {"code": "UNAUTHENTICATED"}


class TestTrustedDocuments:
    async def test_a_restricted_key_subscribes_with_registered_documents_only(
        self,
        apis: tuple[Api, Api],
        make_tenant: Any,
        owner_engine: AsyncEngine,
        redis: aioredis.Redis,
        clients: list[Client],
    ) -> None:
        from upward.graphql.persisted import register_documents
        from upward.graphql.schema import build_schema

        one, two = apis
        w = await world(make_tenant, owner_engine)
        registered = await register_documents(
            owner_engine,
            build_schema()._schema,
            tenant_slug=w.t.slug,
            collection="live",
            docs=[("posting.graphql", POSTING)],
        )
        assert registered.errors == [] and registered.added == 1
        key = await w.t.api_key(KEY_SCOPES, document_collection="live")
        c = await Client.bearer(one, key)
        clients.append(c)
        err = await c.failure(await c.subscribe(INBOX, {"e": w.t.gid(HIRING)}))
        assert err["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
        op = await c.subscribe(POSTING, {"p": w.pgid})
        await wait_subscribed(redis, w.posting_channel, 1)
        await gql(two, APPLY, {"p": w.pgid}, w.tok(APPLICANT))
        assert (await c.next(op))["postingApplicationsChanged"]["kind"] == "CREATED"


class TestLimits:
    async def test_subscribing_is_charged_to_the_rate_limits(
        self, make_tenant: Any, owner_engine: AsyncEngine, clients: list[Client]
    ) -> None:
        """Each subscribe costs what a query with its selection would (the events after it do
        not); an empty budget refuses the subscription with RATE_LIMITED and `retryAfter`,
        and one tenant's subscribers do not spend another's."""
        api = _start("api-limited", UPWARD_RATE_COST_PER_KEY="20", UPWARD_RATE_COST_PER_USER="20")
        try:
            await _wait_healthy(api)
            a = await world(make_tenant, owner_engine)
            b = await world(make_tenant, owner_engine)
            key = await Client.bearer(api, a.key)
            other = await Client.bearer(api, b.key)
            clients += [key, other]
            # notificationAdded { id kind subject read data }: 1 + 1 object = 2 per subscribe,
            # so the key's 20 hold ten; the eleventh (whichever the server takes last) is refused
            ops = [await key.subscribe(INBOX, {"e": a.t.gid(HIRING)}) for _ in range(11)]
            deadline = time.monotonic() + TIMEOUT
            while not any(key.pending(op) for op in ops):
                assert time.monotonic() < deadline, "no subscription was refused"
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # time for a second refusal, were there one
            [refused] = [op for op in ops if key.pending(op)]
            err = await key.failure(refused)
            assert err["extensions"]["code"] == "RATE_LIMITED"
            assert err["extensions"]["limitedBy"] == "key" and err["extensions"]["cost"] == 2
            assert 1 <= err["extensions"]["retryAfter"] <= 60
            op = await other.subscribe(INBOX, {"e": b.t.gid(HIRING)})
            await asyncio.sleep(0.3)
            assert other.pending(op) == 0  # not refused: a budget of its own
            # the open subscriptions still deliver: events are not charged
            await gql(api, KUDOS, {"to": a.t.gid(HIRING)}, a.tok(APPLICANT))
            for op in ops:
                if op != refused:
                    data = await key.next(op)
                    assert data["notificationAdded"]["kind"] == "EVENT"
        finally:
            _stop(api)
