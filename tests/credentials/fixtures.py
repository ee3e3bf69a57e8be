"""A small credentials fixture with hand-computed compliance answers (see test_compliance_api).

SMALL_ORG (tests/conftest.py) plus three types, three rules and credentials with absolute dates.
Austin engineering: boss, lead, dev. Tenant zone Europe/Berlin, expiring window 30 days.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from tests.conftest import SMALL_ORG

TODAY = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # the frozen "now" of these tests


def cred_org() -> dict[str, Any]:
    org = copy.deepcopy(SMALL_ORG)
    org["credential_expiring_days"] = 30
    org["credential_types"] = [
        {"name": "Safety", "category": "training", "validity_months": 12},
        {
            "name": "Forklift",
            "category": "certification",
            "validity_months": 24,
            "external_ids": {"osha": "1910.178"},
        },
        {"name": "License", "category": "license", "verification_required": True},
        {
            "name": "Clearance",
            "category": "clearance",
            "evidence_required": True,
            "verification_required": True,
            "validity_months": 60,
        },
        {"name": "Old Course", "category": "training", "status": "retired"},
    ]
    org["credential_requirements"] = [
        {"credential_type": "Safety"},
        {
            "credential_type": "Forklift",
            "department": "Engineering",
            "location": "Austin",
            "effective_from": datetime(2025, 1, 1).date(),
            "grace_days": 30,
        },
        {"credential_type": "License", "employee": "dev@t.example"},
    ]
    d = lambda y, m, day: datetime(y, m, day).date()  # noqa: E731
    org["credentials"] = [
        {
            "employee": "admin@t.example",
            "credential_type": "Safety",
            "number": "S-1",
            "issued_on": d(2025, 8, 1),
        },
        {
            "employee": "hr@t.example",
            "credential_type": "Safety",
            "number": "S-2",
            "issued_on": d(2025, 6, 20),
        },
        {
            "employee": "boss@t.example",
            "credential_type": "Safety",
            "number": "S-3",
            "issued_on": d(2025, 1, 10),
        },
        {
            "employee": "lead@t.example",
            "credential_type": "Safety",
            "number": "S-4",
            "issued_on": d(2026, 3, 1),
        },
        {
            "employee": "lead@t.example",
            "credential_type": "Forklift",
            "number": "F-1",
            "issued_on": d(2025, 2, 1),
        },
        {
            "employee": "dev@t.example",
            "credential_type": "License",
            "number": "L-1",
            "issued_on": d(2024, 5, 1),
            "verification": "pending",
        },
        {
            "employee": "peer@t.example",
            "credential_type": "Safety",
            "number": "S-5",
            "issued_on": d(2025, 7, 1),
        },
    ]
    return org
