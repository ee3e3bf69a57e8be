"""Career preferences (what a person wants next) and the tenant's mobility settings.

Who reads a person's preferences:
- the person and HR, always;
- their manager line only when the person is openly looking (`open_to_moves = yes`). When it
  is `no`, `confidential` or nothing was ever set, the manager line gets null: the same answer
  in all three cases, so a null tells a manager nothing (a `no` they could see would make the
  null of a confidential search stand out);
- colleagues never;
- hiring managers of a posting the person matches or applied to see the preferences through
  the match or the application (the matching and applications parts), not through
  `Employee.careerPreferences`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, fetch
from upward.errors import BadUserInput, Forbidden
from upward.mobility.models import OPENNESS, WORK_MODES, CareerPreference, MobilitySettings
from upward.people.service import Viewer

t_pref = CareerPreference.__table__
t_settings = MobilitySettings.__table__

MAX_IDS = 20
NOTICE_STAGES = ("applied", "screening", "interviewing", "offer", "hired")


@dataclass(frozen=True)
class Preferences:
    employee_id: uuid.UUID
    open_to_moves: str = "no"
    track_ids: tuple[uuid.UUID, ...] = ()
    level_ids: tuple[uuid.UUID, ...] = ()
    location_ids: tuple[uuid.UUID, ...] = ()
    work_modes: tuple[str, ...] = ()
    willing_to_relocate: bool = False
    open_to_gigs: bool = False
    gig_hours_per_week: int | None = None
    open_to_downward: bool = False
    updated_at: Any = None  # None: never set (the defaults)

    @classmethod
    def from_row(cls, r: Any) -> Preferences:
        return cls(
            employee_id=r.employee_id,
            open_to_moves=r.open_to_moves,
            track_ids=tuple(r.track_ids),
            level_ids=tuple(r.level_ids),
            location_ids=tuple(r.location_ids),
            work_modes=tuple(r.work_modes),
            willing_to_relocate=r.willing_to_relocate,
            open_to_gigs=r.open_to_gigs,
            gig_hours_per_week=r.gig_hours_per_week,
            open_to_downward=r.open_to_downward,
            updated_at=r.updated_at,
        )


def may_read(viewer: Viewer, employee_id: uuid.UUID, open_to_moves: str | None) -> bool:
    p = viewer.principal
    if p.is_hr or employee_id == p.employee_id:
        return True
    return employee_id in viewer.line and open_to_moves == "yes"


async def preferences_of(
    session: Executor, viewer: Viewer, employee_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Preferences]:
    """The preferences the viewer may read (defaults for people who never set any, for
    themselves and HR): one statement for any number of people, none when nobody is readable."""
    p = viewer.principal
    candidates = [
        i for i in dict.fromkeys(employee_ids) if p.is_hr or i == p.employee_id or i in viewer.line
    ]
    if not candidates:
        return {}
    rows = (
        await session.execute(sa.select(t_pref).where(t_pref.c.employee_id.in_(candidates)))
    ).all()
    found = {r.employee_id: Preferences.from_row(r) for r in rows}
    out: dict[uuid.UUID, Preferences] = {}
    for i in candidates:
        prefs = found.get(i)
        if prefs is not None and may_read(viewer, i, prefs.open_to_moves):
            out[i] = prefs
        elif prefs is None and (p.is_hr or i == p.employee_id):
            out[i] = Preferences(employee_id=i)
    return out


async def _check(
    session: Executor, table: str, ids: Sequence[uuid.UUID], fld: str, what: str
) -> list[uuid.UUID]:
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_IDS:
        raise BadUserInput(f"at most {MAX_IDS}", field=fld)
    if not wanted:
        return []
    sql = f"select id from {table} where id = any($1::uuid[])"  # noqa: S608 (constant names)
    found = {r["id"] for r in await fetch(session, sql, wanted)}
    for i, v in enumerate(ids):
        if v not in found:
            raise BadUserInput(f"no {what} with this id", field=f"{fld}.{i}")
    return wanted


async def set_preferences(
    session: Executor,
    principal: Principal,
    *,
    open_to_moves: str,
    track_ids: Sequence[uuid.UUID] = (),
    level_ids: Sequence[uuid.UUID] = (),
    location_ids: Sequence[uuid.UUID] = (),
    work_modes: Sequence[str] = (),
    willing_to_relocate: bool = False,
    open_to_gigs: bool = False,
    gig_hours_per_week: int | None = None,
    open_to_downward: bool = False,
) -> Preferences:
    """Replace your own preferences (a person sets their own; nobody sets them for them)."""
    if principal.employee_id is None:
        raise Forbidden("career preferences are a person's own")
    if open_to_moves not in OPENNESS:
        raise BadUserInput(f"must be one of {', '.join(OPENNESS)}", field="input.openToMoves")
    tracks = await _check(session, "career_tracks", track_ids, "input.trackIds", "career track")
    levels = await _check(session, "track_levels", level_ids, "input.levelIds", "career level")
    locs = await _check(session, "locations", location_ids, "input.locationIds", "location")
    modes = list(dict.fromkeys(work_modes))
    for i, m in enumerate(work_modes):
        if m not in WORK_MODES:
            raise BadUserInput(
                f"must be one of {', '.join(WORK_MODES)}", field=f"input.workModes.{i}"
            )
    if gig_hours_per_week is not None:
        if not open_to_gigs:
            raise BadUserInput("only with openToGigs", field="input.gigHoursPerWeek")
        if not 1 <= gig_hours_per_week <= 60:
            raise BadUserInput("must be from 1 to 60", field="input.gigHoursPerWeek")
    eid = principal.employee_id
    before = (
        await session.execute(sa.select(t_pref).where(t_pref.c.employee_id == eid))
    ).one_or_none()
    values = {
        "open_to_moves": open_to_moves,
        "track_ids": tracks,
        "level_ids": levels,
        "location_ids": locs,
        "work_modes": modes,
        "willing_to_relocate": willing_to_relocate,
        "open_to_gigs": open_to_gigs,
        "gig_hours_per_week": gig_hours_per_week,
        "open_to_downward": open_to_downward,
    }
    now = clock.now()
    row = (
        await session.execute(
            pg_insert(t_pref)
            .values(tenant_id=principal.tenant_id, employee_id=eid, updated_at=now, **values)
            .on_conflict_do_update(
                index_elements=[t_pref.c.tenant_id, t_pref.c.employee_id],
                set_={**values, "updated_at": now},
            )
            .returning(t_pref)
        )
    ).one()
    changes = audit.diff(before._asdict() if before else {}, values)
    await audit.record(
        session,
        principal,
        action="career_preferences.set",
        target_type="Employee",
        target_id=eid,
        changes=changes,
    )
    if changes:
        from upward.credentials.service import record_event

        # only the id: the openness itself is not broadcast (webhooks may subscribe)
        await record_event(
            session,
            principal,
            kind="career_preferences.changed",
            subject_type="Employee",
            subject_id=eid,
            key=f"career_preferences.changed:{eid}:{uuid.uuid4()}",
            payload={"employee_id": eid},
        )
    return Preferences.from_row(row)


# --- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    manager_notice_stage: str = "offer"
    max_alerts_per_week: int = 3
    alert_top_n: int = 20
    alert_min_score: int = 60
    updated_at: Any = None  # None: the defaults, never changed


async def load_settings(session: Executor) -> Settings:
    """The tenant's settings (the defaults when never set); no permission check, for the
    other mobility services and the workers."""
    row = (await session.execute(sa.select(t_settings))).one_or_none()
    if row is None:
        return Settings()
    return Settings(
        manager_notice_stage=row.manager_notice_stage,
        max_alerts_per_week=row.max_alerts_per_week,
        alert_top_n=row.alert_top_n,
        alert_min_score=row.alert_min_score,
        updated_at=row.updated_at,
    )


async def get_settings(session: Executor, principal: Principal) -> Settings:
    principal.require_hr("reading mobility settings")
    return await load_settings(session)


async def set_settings(session: Executor, principal: Principal, patch: dict[str, Any]) -> Settings:
    """Change some settings (omitted ones stay)."""
    principal.require_hr("changing mobility settings")
    current = await load_settings(session)
    values = {
        "manager_notice_stage": current.manager_notice_stage,
        "max_alerts_per_week": current.max_alerts_per_week,
        "alert_top_n": current.alert_top_n,
        "alert_min_score": current.alert_min_score,
    }
    for name, value in patch.items():
        if value is None:
            raise BadUserInput("cannot be null", field=f"input.{_camel(name)}")
        values[name] = value
    if values["manager_notice_stage"] not in NOTICE_STAGES:
        raise BadUserInput(
            f"must be one of {', '.join(NOTICE_STAGES)}", field="input.managerNoticeStage"
        )
    for name, low, high in (
        ("max_alerts_per_week", 0, 50),
        ("alert_top_n", 1, 500),
        ("alert_min_score", 0, 100),
    ):
        if not low <= values[name] <= high:
            raise BadUserInput(f"must be from {low} to {high}", field=f"input.{_camel(name)}")
    now = clock.now()
    await session.execute(
        pg_insert(t_settings)
        .values(tenant_id=principal.tenant_id, updated_at=now, **values)
        .on_conflict_do_update(
            index_elements=[t_settings.c.tenant_id], set_={**values, "updated_at": now}
        )
    )
    await audit.record(
        session,
        principal,
        action="mobility_settings.set",
        target_type="Tenant",
        target_id=principal.tenant_id,
        changes=audit.diff(current.__dict__, values),
    )
    return await load_settings(session)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)
