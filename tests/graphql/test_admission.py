"""Fair admission (graphql/admission.py): slots per process, a queue per tenant, round robin.

The gate's rules on their own, then through HTTP: a request waits while the process is full, a
tenant with too many waiting is refused with RATE_LIMITED (429, Retry-After), and the lane a
request waits in is the tenant it authenticated for, never one a token merely claims."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import GQL, TenantInfo, only_error
from upward.graphql.admission import AdmissionGate, Overloaded

ME = "query { me { id } }"


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _run(gate: AdmissionGate, lane: str, order: list[str], hold: asyncio.Event) -> None:
    async with gate.admit(lane):
        order.append(lane)
        await hold.wait()


async def test_free_slots_admit_at_once_and_a_full_gate_serves_lanes_in_turn() -> None:
    gate = AdmissionGate(limit=2, queue_limit=10)
    order: list[str] = []
    release = asyncio.Event()
    first = [asyncio.create_task(_run(gate, lane, order, release)) for lane in ("a", "b")]
    await _settle()
    assert order == ["a", "b"] and gate.status() == {"active": 2, "waiting": 0, "lanes": 0}

    # the noisy lane queues five before the quiet ones queue one each
    steps: list[asyncio.Event] = []
    tasks = []
    for lane in ["noisy"] * 5 + ["quiet1", "quiet2"]:
        steps.append(asyncio.Event())
        tasks.append(asyncio.create_task(_run(gate, lane, order, steps[-1])))
        await _settle()
    assert gate.status() == {"active": 2, "waiting": 7, "lanes": 3}
    release.set()  # the first two finish: two slots change hands
    await asyncio.gather(*first)
    await _settle()
    for step in steps:
        step.set()
        await _settle()
    await asyncio.gather(*tasks)
    # one of each waiting lane in turn, then the rest of the noisy lane
    assert order[2:] == ["noisy", "quiet1", "quiet2", "noisy", "noisy", "noisy", "noisy"]
    assert gate.status() == {"active": 0, "waiting": 0, "lanes": 0}


async def test_a_lane_over_its_queue_limit_is_refused_and_others_still_queue() -> None:
    gate = AdmissionGate(limit=1, queue_limit=2)
    hold = asyncio.Event()
    order: list[str] = []
    tasks = [asyncio.create_task(_run(gate, "busy", order, hold))]
    await _settle()
    tasks += [asyncio.create_task(_run(gate, "noisy", order, hold)) for _ in range(2)]
    await _settle()
    with pytest.raises(Overloaded) as refused:
        await gate._acquire("noisy")
    assert refused.value.code == "RATE_LIMITED"
    assert refused.value.extensions == {"retryAfter": 1}
    tasks.append(asyncio.create_task(_run(gate, "other", order, hold)))  # its own lane
    await _settle()
    assert gate.status() == {"active": 1, "waiting": 3, "lanes": 2}
    hold.set()
    await asyncio.gather(*tasks)
    assert order == ["busy", "noisy", "other", "noisy"]
    assert gate.status() == {"active": 0, "waiting": 0, "lanes": 0}


async def test_cancelled_waiters_leave_no_slot_behind() -> None:
    gate = AdmissionGate(limit=1, queue_limit=10)
    hold = asyncio.Event()
    order: list[str] = []
    holder = asyncio.create_task(_run(gate, "a", order, hold))
    await _settle()
    waiter = asyncio.create_task(_run(gate, "b", order, hold))
    await _settle()
    waiter.cancel()  # a client that went away while waiting
    await _settle()
    assert gate.status() == {"active": 1, "waiting": 0, "lanes": 0}

    hold.set()
    await holder
    assert gate.status() == {"active": 0, "waiting": 0, "lanes": 0}

    # cancelled in the same tick as it was handed the slot: the slot goes back
    await gate._acquire("e")
    late = asyncio.create_task(_run(gate, "c", order, hold))
    await _settle()
    gate._release()  # hands the slot to `late`, which has not run yet
    late.cancel()
    await asyncio.gather(late, return_exceptions=True)
    assert late.cancelled()
    assert gate.status() == {"active": 0, "waiting": 0, "lanes": 0}
    async with gate.admit("d"):
        assert gate.status()["active"] == 1
    assert order == ["a"]


def test_lanes_are_tenants_only_once_a_token_authenticated() -> None:
    gate = AdmissionGate(limit=4, queue_limit=10)
    assert gate.lane_of("Bearer forged", "10.0.0.7") == "addr:10.0.0.7"
    gate.learn("Bearer good", "t-1")
    assert gate.lane_of("Bearer good", "10.0.0.7") == "tenant:t-1"
    assert gate.lane_of("Bearer good ", "10.0.0.7") == "addr:10.0.0.7"  # the exact text
    assert gate.lane_of(None, None) == "addr:-"
    off = AdmissionGate(limit=0, queue_limit=10)
    off.learn("Bearer good", "t-1")
    assert off.lane_of("Bearer good", None) == "addr:-"  # nothing remembered when off


@pytest.fixture
async def tight_gate(app: Any) -> AsyncIterator[AdmissionGate]:
    """The app's gate with one slot and one waiting request per lane, for one test."""
    gate: AdmissionGate = app.state.gate
    saved = (gate.limit, gate.queue_limit)
    assert gate.status() == {"active": 0, "waiting": 0, "lanes": 0}
    gate.limit, gate.queue_limit = 1, 1
    try:
        yield gate
    finally:
        gate.limit, gate.queue_limit = saved


async def test_over_http_a_full_process_queues_and_a_flooding_tenant_is_refused(
    gql: GQL, acme: TenantInfo, globex: TenantInfo, tight_gate: AdmissionGate
) -> None:
    acme_token = acme.token("admin@acme.example")
    globex_token = globex.token("hr@globex.example")
    for tok in (acme_token, globex_token):  # authenticated once: the gate knows their tenants
        assert "errors" not in await gql(ME, token=tok)
    assert tight_gate.lane_of(f"Bearer {acme_token}", None) == f"tenant:{acme.id}"

    async with tight_gate.admit("someone else"):  # the process is busy
        waiting = asyncio.create_task(gql.raw(ME, token=acme_token))
        other = asyncio.create_task(gql.raw(ME, token=globex_token))
        await _settle()
        await asyncio.sleep(0.05)
        assert not waiting.done() and not other.done()
        assert tight_gate.status() == {"active": 1, "waiting": 2, "lanes": 2}

        refused = await gql.raw(ME, token=acme_token)  # acme already has one waiting
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        error = only_error(refused.json())
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 1}
        assert "retry after 1 s" in error["message"]

    for task in (waiting, other):
        r = await task
        assert r.status_code == 200 and "errors" not in r.json(), r.text
    assert tight_gate.status() == {"active": 0, "waiting": 0, "lanes": 0}


async def test_a_forged_token_waits_in_its_address_lane_not_the_tenant_it_claims(
    gql: GQL, acme: TenantInfo, tight_gate: AdmissionGate
) -> None:
    good = acme.token("admin@acme.example")
    assert "errors" not in await gql(ME, token=good)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    async with tight_gate.admit("someone else"):
        bad = asyncio.create_task(gql.raw(ME, token=forged))
        await _settle()
        await asyncio.sleep(0.05)
        # the forged request waits in the address lane; acme's own lane is still free
        assert tight_gate.status() == {"active": 1, "waiting": 1, "lanes": 1}
        real = asyncio.create_task(gql.raw(ME, token=good))
        await _settle()
        await asyncio.sleep(0.05)
        assert tight_gate.status() == {"active": 1, "waiting": 2, "lanes": 2}
    assert (await real).status_code == 200
    assert only_error((await bad).json())["extensions"]["code"] == "UNAUTHENTICATED"
