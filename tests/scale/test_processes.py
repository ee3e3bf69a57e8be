"""Many processes behave as one: two API processes (one of them `upward serve --workers 2`, two
uvicorn processes on one port) and two worker processes (`upward worker`) on one database and
one Redis, with two schedulers ticking together.

- Each due reminder is written and delivered exactly once, and the in-app ones reach their
  subscribers on either API process (the notification is made in a worker process).
- A mutation sent to one API process reaches a subscriber on the other.
- Automatic persisted queries and rate-limit budgets live in Redis: registered or spent through
  one process, they count on the other.
- DataLoaders are per request: concurrent requests of two tenants on one process each get
  their own rows.

And SIGTERM drains (docs/operations.md, "Graceful shutdown and deploys"): an API process lets
its request in flight finish (200, committed), refuses new connections, closes WebSockets with
1012 and exits 0, with one uvicorn process or two; a worker process lets its running actor finish
and acknowledges it once (not redelivered), leaves the message it had not started for the next
worker, and exits 0. A SIGKILL mid-actor, by contrast, leaves the message unacknowledged for
redelivery and the sweepers: tests/reminders/test_workers.py and tests/mobility/test_workers.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TenantInfo
from tests.graphql.test_subscriptions import INBOX, KEY_SCOPES, Api, Client, gql, inbox_ids
from tests.mobility.test_alerts import org as people_org
from tests.mobility.test_alerts import posting, skill
from tests.reminders.helpers import rows
from tests.reminders.test_workers import _deliveries, _org
from tests.scale.actor_runs import ENV as ACTOR_LOG
from tests.scale.procs import Stack
from upward.graphql.relay import to_global_id

HOLDERS = 20
KEY_BUDGET = 50  # cost points per minute for an API key on this stack's API processes
TIMEOUT = 30.0
KUDOS = """mutation($to: ID!) {
  giveKudos(input: {receiverIds: [$to], message: "Thanks!", valueIds: []}) { id }
}"""
DEPARTMENTS = "query Departments { departments { name } }"


@dataclass
class Fleet:
    stack: Stack
    one: Api  # `upward serve`: one process
    two: Api  # `upward serve --workers 2`: two processes on one port


@pytest.fixture(scope="class")  # stopped before TestSigtermDrains starts its own processes
async def fleet() -> AsyncIterator[Fleet]:
    stack = Stack()
    try:
        one = stack.api("api-1", UPWARD_RATE_COST_PER_KEY=str(KEY_BUDGET))
        two = stack.api("api-2", workers=2, UPWARD_RATE_COST_PER_KEY=str(KEY_BUDGET))
        stack.worker("worker-1")
        stack.worker("worker-2")
        await stack.healthy(one, two)
        await stack.consuming(2)
        yield Fleet(stack, one, two)
    finally:
        stack.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    try:
        yield opened
    finally:
        for c in opened:
            await c.close()


async def subscribed(r: aioredis.Redis, channel: str, n: int = 1) -> None:
    """Until `n` API processes listen on `channel` (a channel of the stack's namespace)."""
    deadline = time.monotonic() + TIMEOUT
    while dict(await r.pubsub_numsub(channel))[channel.encode()] < n:
        assert time.monotonic() < deadline, f"nobody subscribed to {channel}"
        await asyncio.sleep(0.02)


async def post(api: Api, token: str, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api.http, timeout=TIMEOUT) as c:
        return await c.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})


# --- many processes behave as one ----------------------------------------------------------


class TestOneBehaviour:
    async def test_serve_with_two_workers_answers_from_both_processes(self, fleet: Fleet) -> None:
        """Connections to the one port of `upward serve --workers 2` are accepted by both of
        its processes (whoever owns the server end of the connection answered it)."""
        api = fleet.two
        children = {c.pid for c in psutil.Process(api.proc.pid).children()}
        served: set[int] = set()
        deadline = time.monotonic() + TIMEOUT
        while len(served) < 2:
            assert time.monotonic() < deadline, f"only {served} of {children} answered"
            with socket.create_connection(("127.0.0.1", api.port), timeout=TIMEOUT) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: upward\r\n\r\n")
                assert sock.recv(4096).startswith(b"HTTP/1.1 200"), "not healthy"
                mine = sock.getsockname()[1]
                owners = [
                    pid
                    for pid in children
                    for conn in psutil.Process(pid).net_connections(kind="tcp")
                    if conn.raddr and conn.raddr.port == mine and conn.laddr.port == api.port
                ]
                assert len(owners) == 1, (owners, children)
                served |= set(owners)
        assert served <= children and api.proc.pid not in served

    async def test_each_reminder_once_with_two_workers_and_two_schedulers(
        self,
        fleet: Fleet,
        make_tenant: Any,
        owner_engine: AsyncEngine,
        redis: aioredis.Redis,
        clients: list[Client],
    ) -> None:
        """Two schedulers tick every half second (one of them claims each slot), two worker
        processes plan and deliver: each holder's reminder is written, notified and delivered
        once, as with one of each, and its in-app notification reaches the holder's subscriber
        on either API process."""
        s = fleet.stack
        t: TenantInfo = await make_tenant(_org(HOLDERS, ["in_app"]))
        subs = []
        for api, email in ((fleet.one, "p0@t.example"), (fleet.two, "p1@t.example")):
            c = await Client.bearer(api, t.token(email))
            clients.append(c)
            subs.append((c, await c.subscribe(INBOX), email))
            await subscribed(redis, s.channel(t.id, "inbox", t.ids[email]))
        schedulers = [s.scheduler(f"scheduler-{i}", tenants=[t.slug]) for i in (1, 2)]
        deadline = time.monotonic() + 90
        while (state := await _deliveries(owner_engine, t)) != {("in_app", "sent"): HOLDERS}:
            assert time.monotonic() < deadline, f"{state}\n{s.tails()}"
            assert all(p.proc.poll() is None for p in schedulers), s.tails()
            await asyncio.sleep(0.25)
        await asyncio.sleep(1.5)  # more ticks, scans and sweeps: nothing more
        for p in schedulers:
            assert await s.stop(p) == 0, s.tails()  # SIGTERM: the scheduler stops cleanly
        assert await _deliveries(owner_engine, t) == {("in_app", "sent"): HOLDERS}
        reminders = await rows(
            owner_engine,
            "select recipient_id, count(*) as n from reminders where tenant_id = :t "
            "group by recipient_id",
            t=t.id,
        )
        holders = {t.ids[f"p{i}@t.example"] for i in range(HOLDERS)}
        assert {r.recipient_id for r in reminders} == holders
        assert all(r.n == 1 for r in reminders)
        notes = await rows(
            owner_engine,
            "select idempotency_key, count(*) as n from notifications where tenant_id = :t "
            "group by idempotency_key",
            t=t.id,
        )
        assert len(notes) == HOLDERS and all(r.n == 1 for r in notes)
        for c, op, email in subs:
            got = (await c.next(op))["notificationAdded"]
            assert [got["id"]] == await inbox_ids(owner_engine, t, email)
            assert c.pending(op) == 0  # once

    async def test_a_mutation_on_one_process_reaches_a_subscriber_on_the_other(
        self,
        fleet: Fleet,
        make_tenant: Any,
        owner_engine: AsyncEngine,
        redis: aioredis.Redis,
        clients: list[Client],
    ) -> None:
        s = fleet.stack
        t = await make_tenant()
        for sub_api, mut_api, email in (
            (fleet.one, fleet.two, "dev@t.example"),
            (fleet.two, fleet.one, "peer@t.example"),
        ):
            c = await Client.bearer(sub_api, t.token(email))
            clients.append(c)
            op = await c.subscribe(INBOX)
            await subscribed(redis, s.channel(t.id, "inbox", t.ids[email]))
            await gql(mut_api, KUDOS, {"to": t.gid(email)}, t.token("lead@t.example"))
            got = (await c.next(op))["notificationAdded"]
            assert got["kind"] == "EVENT" and got["read"] is False
            assert [got["id"]] == await inbox_ids(owner_engine, t, email)

    async def test_persisted_queries_are_shared(self, fleet: Fleet, make_tenant: Any) -> None:
        t = await make_tenant()
        key = await t.api_key(KEY_SCOPES)
        pq = {"persistedQuery": {"version": 1, "sha256Hash": sha256(DEPARTMENTS)}}
        miss = (await post(fleet.two, key, extensions=pq)).json()
        assert miss["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        registered = (await post(fleet.one, key, query=DEPARTMENTS, extensions=pq)).json()
        assert "errors" not in registered
        assert {d["name"] for d in registered["data"]["departments"]} == {"Engineering", "People"}
        # a hit on each process (the hash alone): on api-2 whichever of its two processes
        for api in (fleet.two, fleet.two, fleet.two, fleet.one):
            hit = (await post(api, key, extensions=pq)).json()
            assert hit["data"] == registered["data"] and "errors" not in hit, hit

    async def test_a_keys_budget_is_shared(self, fleet: Fleet, make_tenant: Any) -> None:
        """A key's budget (KEY_BUDGET points a minute) spent on one process is spent on the
        other: RateLimit-Remaining continues where the other process left it, and once empty
        both refuse."""
        t = await make_tenant()
        key = await t.api_key(KEY_SCOPES)
        first = await post(fleet.one, key, query=DEPARTMENTS)
        assert first.status_code == 200, first.text
        assert first.headers["ratelimit-limit"] == str(KEY_BUDGET)
        cost = KEY_BUDGET - int(first.headers["ratelimit-remaining"])
        assert cost >= 2
        remaining = int(first.headers["ratelimit-remaining"])
        for api in (fleet.two, fleet.one, fleet.two, fleet.two):
            r = await post(api, key, query=DEPARTMENTS)
            assert r.status_code == 200, r.text
            now = int(r.headers["ratelimit-remaining"])
            # the bucket refills by KEY_BUDGET / 60 a second: at most a point or two here
            assert remaining - cost <= now <= remaining - cost + 2, (remaining, now, cost)
            remaining = now
        while (r := await post(fleet.one, key, query=DEPARTMENTS)).status_code == 200:
            pass
        assert r.status_code == 429
        for api in (fleet.two, fleet.two):
            r = await post(api, key, query=DEPARTMENTS)
            assert r.status_code == 429, r.text
            err = r.json()["errors"][0]
            assert err["extensions"]["code"] == "RATE_LIMITED"
            assert err["extensions"]["limitedBy"] == "key"

    async def test_dataloaders_are_per_request(
        self, fleet: Fleet, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        """Twenty concurrent pages of two tenants on one process: every manager, department
        and location (each loaded through the request's own loaders) is its own tenant's."""
        q = """{ employees(first: 100) { edges { node {
            id manager { id } department { id } location { id } } } } }"""
        a, b = await make_tenant(), await make_tenant()

        async def expected(t: TenantInfo) -> set[tuple[Any, ...]]:
            got = await rows(
                owner_engine,
                "select id, manager_id, department_id, location_id from employees "
                "where tenant_id = :t",
                t=t.id,
            )

            def gid(kind: str, v: Any) -> str | None:
                return to_global_id(kind, v) if v else None

            return {
                (
                    gid("Employee", r.id),
                    gid("Employee", r.manager_id),
                    gid("Department", r.department_id),
                    gid("Location", r.location_id),
                )
                for r in got
            }

        want = {a.id: await expected(a), b.id: await expected(b)}
        tenants = [a, b] * 10
        pages = await asyncio.gather(
            *(gql(fleet.one, q, {}, t.token("admin@t.example")) for t in tenants)
        )
        for t, page in zip(tenants, pages, strict=True):
            got = set()
            for e in page["employees"]["edges"]:
                n = e["node"]
                got.add(
                    (
                        n["id"],
                        (n["manager"] or {}).get("id"),
                        (n["department"] or {}).get("id"),
                        (n["location"] or {}).get("id"),
                    )
                )
            assert got == want[t.id]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- SIGTERM drains ------------------------------------------------------------------------


async def waiting_for_lock(engine: AsyncEngine) -> int:
    """Backends of the app role waiting for a lock in the test database, now."""
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.text(
                    "select count(*) from pg_stat_activity where datname = current_database() "
                    "and application_name = 'upward' and wait_event_type = 'Lock'"
                )
            )
        )


def refuses(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


class TestSigtermDrains:
    @pytest.mark.parametrize("workers", [1, 2])
    async def test_the_api_finishes_its_request_in_flight(
        self, workers: int, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        """The request in flight waits for a row lock the test holds; SIGTERM arrives; the
        subscription's WebSocket is closed with 1012 at once, new connections are refused,
        the request is still waiting; the test lets go of the lock; the request ends 200 with
        its change committed, and the process exits 0."""
        stack = Stack()
        try:
            api = stack.api("api", workers=workers, serving=True)
            await stack.healthy(api)
            t = await make_tenant()
            ws = await websockets.connect(api.ws, subprotocols=["graphql-transport-ws"])
            auth = {"Authorization": f"Bearer {t.token('dev@t.example')}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
            assert (
                json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "connection_ack"
            )
            sub = {"query": INBOX, "variables": {}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": sub}))
            dev = t.ids["dev@t.example"]
            update = """mutation($id: ID!) {
              updateEmployee(id: $id, input: {title: "Staff engineer"}) { employee { title } }
            }"""
            async with owner_engine.connect() as lock:
                await lock.begin()
                await lock.execute(
                    sa.text("select 1 from employees where tenant_id = :t and id = :e for update"),
                    {"t": t.id, "e": dev},
                )
                request = asyncio.create_task(
                    post(
                        api,
                        t.token("hr@t.example"),
                        query=update,
                        variables={"id": t.gid("dev@t.example")},
                    )
                )
                deadline = time.monotonic() + TIMEOUT
                while not await waiting_for_lock(owner_engine):
                    assert not request.done(), request.result().text
                    assert time.monotonic() < deadline, "the request never reached the lock"
                    await asyncio.sleep(0.05)
                stack.send_signal(api)  # SIGTERM to the main process, as an orchestrator sends it
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:  # (a ping may come first)
                        await asyncio.wait_for(ws.recv(), TIMEOUT)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
                deadline = time.monotonic() + TIMEOUT
                while not refuses(api.port):
                    assert time.monotonic() < deadline, "still accepting connections"
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)
                assert not request.done() and api.proc.poll() is None
                await lock.rollback()  # the request may go on
            r = await asyncio.wait_for(request, TIMEOUT)
            assert r.status_code == 200, r.text
            body = r.json()
            assert "errors" not in body, body
            assert body["data"] == {"updateEmployee": {"employee": {"title": "Staff engineer"}}}
            assert await stack.wait(api) == 0, stack.tails()
            title = await rows(owner_engine, "select title from employees where id = :e", e=dev)
            assert title[0].title == "Staff engineer"  # committed
            assert "Traceback" not in stack.log(api), stack.log(api)
        finally:
            stack.close()

    async def test_a_worker_finishes_its_running_actor_and_acks_it_once(
        self, make_tenant: Any, owner_engine: AsyncEngine
    ) -> None:
        """The matching actor (slowed by 3 s, tests/mobility/slow_matching.py) is running when
        the worker gets SIGTERM; a second message is sent after it. The worker finishes the
        first (committed, acknowledged), does not start the second, and exits 0; the next
        worker runs the second and not the first again."""
        from workers.mobility import match_posting

        stack = Stack()
        runs = stack.dir / "runs.log"
        runs.touch()
        hook = {"MATCHING_DELAY": "3", ACTOR_LOG: str(runs)}
        modules = ("tests.mobility.slow_matching_boot", "tests.scale.actor_runs")
        try:
            t = await make_tenant(people_org())
            sid = await skill(owner_engine, t)
            first, second = [await posting(owner_engine, t, skill=sid) for _ in range(2)]
            worker = stack.worker(
                "worker-1", threads=1, modules=modules, shutdown_timeout=60, **hook
            )
            sent = stack.send(match_posting, str(t.id), posting_id=str(first))
            m1 = sent.message_id
            await until(lambda: f"start {m1}" in runs.read_text(), stack, 90)
            stack.send_signal(worker)
            later = stack.send(match_posting, str(t.id), posting_id=str(second))
            m2 = later.message_id
            assert await stack.wait(worker) == 0, stack.tails()
            assert runs.read_text().split("\n")[:-1] == [f"start {m1}", f"end {m1}"]
            ns = stack.namespace
            pending = {k.decode() for k in stack.redis.hkeys(f"{ns}:default.msgs")}
            # the first acknowledged (gone), the second waiting in the queue for the next worker
            assert pending == {later.options["redis_message_id"]}
            queued = {k.decode() for k in stack.redis.lrange(f"{ns}:default", 0, -1)}
            assert queued == pending
            assert not stack.redis.keys(f"{ns}:__acks__.*"), "a message is held by nobody"
            assert await matched(owner_engine, first) and not await matched(owner_engine, second)

            nxt = stack.worker("worker-2", threads=1, modules=modules, **hook)
            await until(lambda: f"end {m2}" in runs.read_text(), stack, 90)
            await asyncio.sleep(1.0)
            assert await stack.stop(nxt) == 0, stack.tails()
            assert runs.read_text().split("\n")[:-1] == [
                f"start {m1}",
                f"end {m1}",
                f"start {m2}",
                f"end {m2}",
            ]
            assert await matched(owner_engine, second)
            for p in (worker, nxt):
                assert "Traceback" not in stack.log(p), stack.log(p)
        finally:
            stack.close()


async def until(check: Any, stack: Stack, within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, stack.tails()
        await asyncio.sleep(0.05)


async def matched(engine: AsyncEngine, posting_id: uuid.UUID) -> bool:
    got = await rows(engine, "select matched_at from job_postings where id = :p", p=posting_id)
    return got[0].matched_at is not None
