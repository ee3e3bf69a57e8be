"""Manifest sections for credentials: validated with the rest of the file, applied
idempotently, relative dates resolved on the day of applying."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.credentials.fixtures import cred_org
from upward.tenancy.manifest import ManifestError, validate_manifest
from upward.tenancy.service import apply_manifest


def _data(**changes: Any) -> dict[str, Any]:
    data = {"slug": f"c-{uuid.uuid4().hex[:8]}", "name": "C", "timezone": "UTC", **cred_org()}
    data.update(changes)
    return data


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ManifestError) as exc:
        validate_manifest(data, "x.toml")
    return [p.message for p in exc.value.problems]


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["credential_types"][0].update(category="badge"), "'category' must be one of"),
        (lambda d: d["credential_types"][0].update(validity_months=0), "'validity_months' must be"),
        (lambda d: d["credential_types"][0].update(colour="red"), "unknown key 'colour'"),
        (
            lambda d: d["credential_types"].append({"name": "safety", "category": "other"}),
            "duplicate credential type",
        ),
        (
            lambda d: d["credential_requirements"][0].update(credential_type="Ghost"),
            "is not declared in [[credential_types]]",
        ),
        (
            lambda d: d["credential_requirements"][1].update(department="Nowhere"),
            "department 'Nowhere' is not declared",
        ),
        (
            lambda d: d["credential_requirements"][2].update(employee="ghost@t.example"),
            "is not an employee in this file",
        ),
        (
            lambda d: d["credentials"][0].update(issued_on="yesterday"),
            "'issued_on' must be a TOML local date",
        ),
        (lambda d: d["credentials"][0].update(verification="maybe"), "'verification' must be"),
        (lambda d: d["credentials"].append(dict(d["credentials"][0])), "duplicate credential"),
        (
            lambda d: d["credentials"].append(
                {
                    "employee": "dev@t.example",
                    "credential_type": "Clearance",
                    "number": "C-1",
                    "issued_on": "today",
                }
            ),
            "requires evidence",
        ),
        (lambda d: d["credentials"][0].update(evidence="../../etc/passwd"), "inside its folder"),
        (lambda d: d.update(credential_expiring_days=0), "'credential_expiring_days' must be"),
    ],
)
def test_problems_are_reported(mutate: Any, expected: str) -> None:
    data = _data()
    mutate(data)
    assert any(expected in p for p in _problems(data)), _problems(data)


async def test_apply_twice_changes_nothing(owner_engine: AsyncEngine) -> None:
    data = _data()
    data["credentials"].append(
        {
            "employee": "peer@t.example",
            "credential_type": "Forklift",
            "number": "F-R",
            "issued_on": "today-10d",
            "expires_on": "today+700d",
        }
    )
    first = await apply_manifest(owner_engine, validate_manifest(data, "c.toml"))
    assert first.created["credential_types"] == 5
    assert first.created["credential_requirements"] == 3
    assert first.created["credentials"] == 8
    second = await apply_manifest(owner_engine, validate_manifest(data, "c.toml"))
    assert not second.changed, second.summary()
    async with owner_engine.connect() as conn:
        row = (
            await conn.execute(
                sa.text(
                    "select issued_on, expires_on, source from credentials where tenant_id = :t and number = 'F-R'"
                ),
                {"t": first.tenant_id},
            )
        ).one()
        window = await conn.scalar(
            sa.text("select credential_expiring_days from tenants where id = :t"),
            {"t": first.tenant_id},
        )
    today = date.today()
    assert (row.expires_on - row.issued_on).days == 710 and row.source == "manifest"
    assert abs((today - row.issued_on).days - 10) <= 1  # the tenant's today (UTC here)
    assert window == 30
    # a changed type updates in place; credentials, once created, are left to the API
    data["credential_types"][0]["validity_months"] = 6
    data["credentials"][0]["notes"] = "changed in the file"
    third = await apply_manifest(owner_engine, validate_manifest(data, "c.toml"))
    assert third.updated == {"credential_types": 1}


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"credential_type": "Safety", "verification": "pending"}, "applies only to types"),
        ({"credential_type": "License", "rejection_reason": "x"}, "needs verification"),
    ],
)
def test_verification_keys_fit_the_type(entry: dict, expected: str) -> None:
    data = _data()
    data["credentials"].append(
        {"employee": "dev@t.example", "number": "V-1", "issued_on": "today", **entry}
    )
    assert any(expected in p for p in _problems(data)), _problems(data)
