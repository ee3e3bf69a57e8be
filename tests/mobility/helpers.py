"""Test helpers for mobility: an org with career tracks and levels, and postings / applications
written directly as the owner (so application tests do not depend on the postings service)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SMALL_ORG, TenantInfo
from upward.graphql.relay import to_global_id

# Roles in the SMALL_ORG tree: admin (tenant_admin) > hr, boss; boss > lead, peer; lead > dev.
HR = "hr@t.example"
HIRING = "boss@t.example"  # the hiring manager of the test postings (in Engineering)
APPLICANT = "dev@t.example"  # reports to lead
CURRENT_MANAGER = "lead@t.example"  # the applicant's manager
COLLEAGUE = "peer@t.example"


def mobility_org() -> dict[str, Any]:
    o = copy.deepcopy(SMALL_ORG)
    o["skills"] = [
        {"name": "Python", "category": "engineering"},
        {"name": "Leadership", "category": "management"},
    ]
    o["career_tracks"] = [
        {
            "name": "Engineering",
            "levels": [
                {"title": "Engineer", "job_level": "IC2"},
                {"title": "Senior Engineer", "job_level": "IC3"},
                {"title": "Staff Engineer", "job_level": "IC4"},
            ],
        },
        {"name": "Management", "levels": [{"title": "Team Lead", "job_level": "M1"}]},
    ]
    o["employee_levels"] = [
        {"employee": APPLICANT, "track": "Engineering", "level": "Engineer", "since": date(2024, 1, 1)},
        {"employee": COLLEAGUE, "track": "Engineering", "level": "Senior Engineer",
         "since": date(2023, 1, 1)},
    ]  # fmt: skip
    return o


async def levels(engine: AsyncEngine, t: TenantInfo) -> dict[str, uuid.UUID]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("select title, id from track_levels where tenant_id = :t"), {"t": t.id}
            )
        ).all()
    return dict(rows)  # type: ignore[arg-type]


async def skills(engine: AsyncEngine, t: TenantInfo) -> dict[str, uuid.UUID]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("select name, id from skills where tenant_id = :t"), {"t": t.id}
            )
        ).all()
    return dict(rows)  # type: ignore[arg-type]


async def make_posting(
    engine: AsyncEngine,
    t: TenantInfo,
    *,
    title: str = "Senior Engineer, Payments",
    kind: str = "role",
    hiring_manager: str = HIRING,
    department: str | None = "Engineering",
    level_id: uuid.UUID | None = None,
    location_names: tuple[str, ...] = (),
    openings: int = 1,
    status: str = "open",
    opened_at: datetime | None = None,
    closed_at: datetime | None = None,
    filled: int = 0,
    min_months_in_role: int | None = None,
    visible_department_ids: list[uuid.UUID] | None = None,
    start_on: date | None = None,
    skills: list[tuple[uuid.UUID, int, bool]] = (),  # type: ignore[assignment]
) -> uuid.UUID:
    """A posting as the owner; returns its id."""
    pid = uuid.uuid4()
    opened = opened_at or (datetime(2026, 1, 5, tzinfo=UTC) if status != "draft" else None)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "insert into job_postings (tenant_id, id, kind, title, department_id, level_id, "
                "hiring_manager_id, openings, filled, status, opened_at, closed_at, "
                "min_months_in_role, visible_department_ids, start_on, hours_per_week, "
                "duration_weeks) values (:t, :id, :kind, :title, :dep, :lvl, :hm, :openings, "
                ":filled, :status, :opened, :closed, :mm, :vis, :start, :hours, :weeks)"
            ),
            {
                "t": t.id,
                "id": pid,
                "kind": kind,
                "title": title,
                "dep": t.departments[department] if department else None,
                "lvl": level_id,
                "hm": t.ids[hiring_manager],
                "openings": openings,
                "filled": filled,
                "status": status,
                "opened": opened,
                "closed": closed_at,
                "mm": min_months_in_role,
                "vis": visible_department_ids or [],
                "start": start_on,
                "hours": 8 if kind == "gig" else None,
                "weeks": 6 if kind == "gig" else None,
            },
        )
        for name in location_names:
            await conn.execute(
                sa.text(
                    "insert into job_posting_locations (tenant_id, posting_id, location_id) "
                    "values (:t, :p, :l)"
                ),
                {"t": t.id, "p": pid, "l": t.locations[name]},
            )
        for skill_id, minimum, required in skills:
            await conn.execute(
                sa.text(
                    "insert into job_posting_skills (tenant_id, posting_id, skill_id, required, "
                    "min_proficiency) values (:t, :p, :s, :r, :m)"
                ),
                {"t": t.id, "p": pid, "s": skill_id, "r": required, "m": minimum},
            )
    return pid


async def make_application(
    engine: AsyncEngine,
    t: TenantInfo,
    posting_id: uuid.UUID,
    *,
    applicant: str = APPLICANT,
    stage: str = "applied",
    share_with_manager: bool = False,
    manager_told: bool = False,
    created_at: datetime | None = None,
) -> uuid.UUID:
    """An application at `stage`, as the owner (for tests of the step from that stage)."""
    aid = uuid.uuid4()
    at = created_at or datetime(2026, 2, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "insert into applications (tenant_id, id, posting_id, employee_id, stage, "
                "share_with_manager, manager_told_at, stage_changed_at, created_at, updated_at) "
                "values (:t, :id, :p, :e, :stage, :share, :told, :at, :at, :at)"
            ),
            {
                "t": t.id,
                "id": aid,
                "p": posting_id,
                "e": t.ids[applicant],
                "stage": stage,
                "share": share_with_manager,
                "told": at if manager_told else None,
                "at": at,
            },
        )
    return aid


async def set_notice_stage(engine: AsyncEngine, t: TenantInfo, stage: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "insert into mobility_settings (tenant_id, manager_notice_stage) values (:t, :s) "
                "on conflict (tenant_id) do update set manager_notice_stage = excluded.manager_notice_stage"
            ),
            {"t": t.id, "s": stage},
        )


async def one(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(sa.text(sql), params)).mappings().one()


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.text(sql), params)).mappings().all())


def pgid(raw: uuid.UUID) -> str:
    return to_global_id("JobPosting", raw)


def agid(raw: uuid.UUID) -> str:
    return to_global_id("Application", raw)
