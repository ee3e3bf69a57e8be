"""Manifests: validated whole before anything is written; applied idempotently."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ROOT, SMALL_ORG
from upward.cli import main as cli_main
from upward.tenancy.manifest import ManifestError, parse_manifest, validate_manifest
from upward.tenancy.service import apply_manifest


def _org(**top: Any) -> dict[str, Any]:
    data = {
        "slug": f"m-{uuid.uuid4().hex[:8]}",
        "name": "M",
        "timezone": "UTC",
        **copy.deepcopy(SMALL_ORG),
    }
    data.update(top)
    return data


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ManifestError) as exc:
        validate_manifest(data, "x.toml")
    return [str(p) for p in exc.value.problems]


def test_shipped_manifests_are_valid() -> None:
    for name in ("acme", "globex", "_template"):
        m = parse_manifest(ROOT / "tenants" / f"{name}.toml")
        assert m.employees
    acme = parse_manifest(ROOT / "tenants" / "acme.toml")
    assert 35 <= len(acme.employees) <= 45
    emails = {e.email for e in acme.employees}
    assert {
        "admin@acme.example",
        "hr@acme.example",
        "dana.lee@acme.example",
        "sam.rivera@acme.example",
    } <= emails
    assert 20 <= len(parse_manifest(ROOT / "tenants" / "globex.toml").employees) <= 30


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda d: d["employees"][4].update(manager="ghost@t.example"),
            "employees[4] (dev@t.example): manager 'ghost@t.example' is not an employee in this file",
        ),
        (
            lambda d: d["employees"].append(dict(d["employees"][5])),
            "employees[6] (peer@t.example): duplicate email 'peer@t.example'",
        ),
        (
            lambda d: d.update(timezone="Mars/Olympus"),
            "tenant: 'timezone': 'Mars/Olympus' is not an IANA time zone",
        ),
        (lambda d: d["employees"][0].update(manager="dev@t.example"), "cycle in the manager chain"),
        (
            lambda d: d["employees"][1].update(deparment="People"),
            "employees[1] (hr@t.example): unknown key 'deparment'",
        ),
        (lambda d: d.update(colour="red"), "tenant: unknown key 'colour'"),
        (
            lambda d: d["employees"][2].update(email="Not An Email"),
            "must be a valid lowercase address",
        ),
        (
            lambda d: d["employees"][2].update(department="Nowhere"),
            "is not declared in [[departments]]",
        ),
        (lambda d: d["employees"][2].update(roles=["god"]), "unknown role 'god'"),
        (lambda d: d["employees"][2].update(timezone="EST5"), "'EST5' is not an IANA time zone"),
    ],
)
def test_errors_name_file_and_entry(mutate: Any, expected: str) -> None:
    data = _org()
    mutate(data)
    problems = _problems(data)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("x.toml: ") for p in problems)


def test_all_problems_are_reported_at_once() -> None:
    data = _org(colour="red", timezone="Nope/Nope")
    data["employees"][4]["manager"] = "ghost@t.example"
    assert len(_problems(data)) == 3


async def test_apply_twice_changes_nothing(owner_engine: AsyncEngine) -> None:
    data = _org()
    first = await apply_manifest(owner_engine, validate_manifest(data))
    assert first.created["employees"] == 6
    async with owner_engine.connect() as conn:
        before = (
            await conn.execute(
                sa.text(
                    "select id, email, manager_id, updated_at from employees where tenant_id = :t order by id"
                ),
                {"t": first.tenant_id},
            )
        ).all()
        audits = await conn.scalar(
            sa.text("select count(*) from audit_events where tenant_id = :t"),
            {"t": first.tenant_id},
        )
    second = await apply_manifest(owner_engine, validate_manifest(data))
    assert not second.changed and second.tenant_id == first.tenant_id
    async with owner_engine.connect() as conn:
        after = (
            await conn.execute(
                sa.text(
                    "select id, email, manager_id, updated_at from employees where tenant_id = :t order by id"
                ),
                {"t": first.tenant_id},
            )
        ).all()
        audits_after = await conn.scalar(
            sa.text("select count(*) from audit_events where tenant_id = :t"),
            {"t": first.tenant_id},
        )
    assert before == after
    assert audits_after == audits == 1

    # an edit is applied as an update, in place
    data["employees"][4]["manager"] = "boss@t.example"
    data["employees"][4]["title"] = "Senior Developer"
    third = await apply_manifest(owner_engine, validate_manifest(data))
    assert third.updated["employees"] == 2  # the title change, then the manager change
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "select e.title, m.email as manager from employees e join employees m "
                    "on m.tenant_id = e.tenant_id and m.id = e.manager_id "
                    "where e.tenant_id = :t and e.email = 'dev@t.example'"
                ),
                {"t": first.tenant_id},
            )
        ).one()
    assert (row.title, row.manager) == ("Senior Developer", "boss@t.example")


def test_cli_reports_errors_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], owner_engine: AsyncEngine
) -> None:
    slug = f"bad-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{slug}.toml"
    path.write_text(f"""
slug = "{slug}"
name = "Bad"
timezone = "UTC"
[[employees]]
email = "a@bad.example"
name = "A"
manager = "b@bad.example"
[[employees]]
email = "b@bad.example"
name = "B"
manager = "a@bad.example"
""")
    assert cli_main(["tenants", "apply", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: employees[" in err and "cycle in the manager chain" in err
    assert "nothing was applied" in err

    import asyncio

    async def count() -> int:
        from upward.db import owner_engine as make

        async with make().connect() as conn:
            return int(
                await conn.scalar(
                    sa.text("select count(*) from tenants where slug = :s"), {"s": slug}
                )
            )

    # runs in a fresh loop: the CLI call above used its own
    assert asyncio.run(count()) == 0


async def test_tenant_status_and_retention_keys(owner_engine: AsyncEngine) -> None:
    data = _org(audit_retention_days=400)
    result = await apply_manifest(owner_engine, validate_manifest(data))
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text("select status, audit_retention_days from tenants where id = :t"),
                {"t": result.tenant_id},
            )
        ).one()
    assert tuple(row) == ("active", 400)
    assert any("positive integer" in p for p in _problems(_org(audit_retention_days=0)))
    assert any("'active' or 'suspended'" in p for p in _problems(_org(status="paused")))


def test_cli_suspend_and_activate(make_tenant_sync: Any) -> None:
    import asyncio

    slug = make_tenant_sync
    assert cli_main(["tenants", "suspend", slug]) == 0
    assert cli_main(["tenants", "activate", "no-such-tenant"]) == 1

    async def state() -> tuple[str, list[str]]:
        from upward.db import dispose_engines, owner_engine

        async with owner_engine().connect() as conn:
            status = await conn.scalar(
                sa.text("select status from tenants where slug = :s"), {"s": slug}
            )
            actions = list(
                (
                    await conn.execute(
                        sa.text(
                            "select a.action from audit_events a join tenants t on t.id = a.tenant_id "
                            "where t.slug = :s order by a.occurred_at"
                        ),
                        {"s": slug},
                    )
                ).scalars()
            )
        await dispose_engines()
        return status, actions

    status, actions = asyncio.run(state())
    assert status == "suspended" and actions[-1] == "tenant.suspend"


@pytest.fixture
def make_tenant_sync() -> str:
    import asyncio

    async def go() -> str:
        from upward.db import dispose_engines, owner_engine

        data = _org()
        await apply_manifest(owner_engine(), validate_manifest(data))
        await dispose_engines()
        return data["slug"]

    return asyncio.run(go())
