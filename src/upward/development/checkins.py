"""Check-ins (1:1s): recurring series between a manager and a report, their meetings (agenda,
shared notes, private notes, action items linked to IDP goals) and the reminders before them.

Who sees what:
- the two participants read and edit a meeting (agenda, shared notes, action items);
- a private note is read by its author only: never the other participant, HR or a manager;
- HR reads every series and meeting of the tenant (metadata and shared parts), and manages
  series (creates one for any pair, changes, pauses, ends it) but edits no meeting;
- a manager above the pair (the manager or the report is in their `Viewer.line`) reads the
  shared parts, like HR, read only;
- anyone else gets NOT_FOUND, exactly as for an id that never existed.

Meetings are materialized ahead (the next `AHEAD` occurrences of the recurrence) when a series
is created or changed and by the scheduler; the recurrence is computed in the series' timezone,
so a 09:30 meeting stays at 09:30 local across daylight saving. A meeting's `slot_at` is the
occurrence it fills: materializing is idempotent on (series, slot), and a rescheduled or
cancelled meeting keeps its slot, so it is not materialized again.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, columns, fetch, grouped, is_unique_violation
from upward.development.models import (
    CHECKIN_CADENCES,
    CheckIn,
    CheckInActionItem,
    CheckInAgendaItem,
    CheckInPrivateNote,
    CheckInSeries,
)
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.service import Viewer, reporting_line_ids
from upward.people.validation import check_timezone, optional_text, require_text

t_series = CheckInSeries.__table__
t_checkin = CheckIn.__table__
t_agenda = CheckInAgendaItem.__table__
t_note = CheckInPrivateNote.__table__
t_action = CheckInActionItem.__table__

AHEAD = 2  # meetings materialized ahead of now, per active series
MAX_BODY = 2000
MAX_NOTES = 20_000
CADENCE_DAYS = {"weekly": 7, "biweekly": 14}

CHECKIN_ORDER = Order(
    key="checkins",
    columns=(t_checkin.c.occurs_at, t_checkin.c.id),
    parse=(datetime.fromisoformat, uuid.UUID),
)


# --- the recurrence (pure) -------------------------------------------------------------------


def local_start(starts_at: datetime, timezone: str) -> datetime:
    """A start given without an offset is a wall time in the series' zone; with one, an
    instant. Returned aware, in the zone."""
    tz = clock.zone(timezone)
    if starts_at.tzinfo is None:
        return starts_at.replace(tzinfo=tz)
    return starts_at.astimezone(tz)


def occurrences(
    starts_at: datetime, timezone: str, cadence: str, *, after: datetime, count: int
) -> list[datetime]:
    """The first `count` occurrences strictly after `after` (UTC). Weekly and biweekly repeat
    the local weekday and wall time; monthly the day of month (clamped to the month's last
    day: a series on the 31st meets on 30 April and 28 or 29 February)."""
    tz = clock.zone(timezone)
    wall = starts_at.astimezone(tz).replace(tzinfo=None)
    out: list[datetime] = []
    if cadence in CADENCE_DAYS:
        step = CADENCE_DAYS[cadence]
        k = max(0, (after - starts_at).days // step - 1)
        while len(out) < count:
            at = (wall + timedelta(days=step * k)).replace(tzinfo=tz)
            if at > after:
                out.append(at.astimezone(clock.zone("UTC")))
            k += 1
        return out
    if cadence != "monthly":
        raise ValueError(f"unknown cadence {cadence!r}")
    k = 0
    if after > starts_at:
        k = max(0, (after.year - wall.year) * 12 + after.month - wall.month - 1)
    while len(out) < count:
        year, month0 = divmod(wall.month - 1 + k, 12)
        year += wall.year
        day = min(wall.day, calendar.monthrange(year, month0 + 1)[1])
        at = wall.replace(year=year, month=month0 + 1, day=day, tzinfo=tz)
        if at > after:
            out.append(at.astimezone(clock.zone("UTC")))
        k += 1
    return out


# --- access ----------------------------------------------------------------------------------


def reads(viewer: Viewer, manager_id: uuid.UUID, report_id: uuid.UUID) -> bool:
    """The shared parts of a pair's check-ins: the two of them, HR, and managers above them."""
    p = viewer.principal
    return (
        p.is_hr
        or p.employee_id in (manager_id, report_id)
        or manager_id in viewer.line
        or report_id in viewer.line
    )


def _participant(viewer: Viewer, row: Any) -> None:
    """Editing a meeting: the two participants only; a reader is FORBIDDEN, anyone else gets
    NOT_FOUND (they may not know it exists)."""
    p = viewer.principal
    if p.employee_id in (row.manager_id, row.report_id):
        return
    if reads(viewer, row.manager_id, row.report_id):
        raise Forbidden("only the two participants edit a check-in")
    raise NotFound("no check-in with this id")


def _visible_sql(viewer: Viewer) -> list[Any]:
    """Conditions on `checkin_series` limiting rows to what the viewer reads."""
    p = viewer.principal
    if p.is_hr:
        return []
    people = list(viewer.line | ({p.employee_id} if p.employee_id else set()))
    if not people:
        return [sa.false()]
    return [sa.or_(t_series.c.manager_id.in_(people), t_series.c.report_id.in_(people))]


async def _line(session: Executor, principal: Principal) -> frozenset[uuid.UUID]:
    """Everyone below the principal (HR reads everything: no need to load it)."""
    if principal.employee_id is None or principal.is_hr:
        return frozenset()
    return frozenset(await reporting_line_ids(session, principal.employee_id))


# --- series ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesInput:
    report_id: uuid.UUID
    manager_id: uuid.UUID | None = None
    title: str | None = None
    cadence: str = "weekly"
    starts_at: datetime | None = None
    timezone: str | None = None
    duration_minutes: int = 30
    remind_minutes_before: int = 1440


def _check_numbers(duration: int | None, remind: int | None) -> None:
    if duration is not None and not 5 <= duration <= 480:
        raise BadUserInput("must be 5 to 480 minutes", field="input.durationMinutes")
    if remind is not None and not 0 <= remind <= 10080:
        raise BadUserInput(
            "must be 0 (no reminder) to 10080 minutes (a week)", field="input.remindMinutesBefore"
        )


async def _people(session: Executor, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await fetch(
        session,
        "select e.id, e.name, e.status, coalesce(e.timezone, l.timezone) as tz from employees e "
        "left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id "
        "where e.id = any($1::uuid[])",
        list(set(ids)),
    )
    return {r["id"]: r for r in rows}


async def create_series(session: Executor, principal: Principal, data: SeriesInput) -> Any:
    """A manager sets one up with someone in their reporting line; HR for any two people.
    The first meetings are materialized at once."""
    manager_id = data.manager_id or principal.employee_id
    if manager_id is None:
        raise BadUserInput("name the manager", field="input.managerId")
    if not principal.is_hr:
        if manager_id != principal.employee_id:
            raise Forbidden("only HR sets up check-ins for other managers")
        if data.report_id not in await _line(session, principal):
            raise Forbidden("you set up check-ins with people in your reporting line")
    if manager_id == data.report_id:
        raise BadUserInput("a check-in takes two people", field="input.reportId")
    people = await _people(session, [manager_id, data.report_id])
    for who, field in ((data.report_id, "input.reportId"), (manager_id, "input.managerId")):
        if who not in people:
            raise NotFound("no employee with this id", field=field)
        if people[who]["status"] != "active":
            raise BadUserInput("must be an active employee", field=field)
    if data.cadence not in CHECKIN_CADENCES:
        raise BadUserInput(f"must be one of {', '.join(CHECKIN_CADENCES)}", field="input.cadence")
    _check_numbers(data.duration_minutes, data.remind_minutes_before)
    tz = check_timezone(data.timezone, field="input.timezone") or (
        people[manager_id]["tz"] or principal.tenant_timezone
    )
    if data.starts_at is None:
        raise BadUserInput("when the first meeting takes place", field="input.startsAt")
    starts = local_start(data.starts_at, tz)
    title = require_text(
        data.title or f"1:1 {people[manager_id]['name']} / {people[data.report_id]['name']}",
        field="input.title",
    )
    values = {
        "manager_id": manager_id,
        "report_id": data.report_id,
        "title": title,
        "cadence": data.cadence,
        "starts_at": starts,
        "timezone": tz,
        "duration_minutes": data.duration_minutes,
        "remind_minutes_before": data.remind_minutes_before,
    }
    try:
        async with session.begin_nested():
            row = (
                await session.execute(
                    sa.insert(t_series)
                    .values(
                        tenant_id=principal.tenant_id,
                        created_by=principal.employee_id,
                        **values,
                    )
                    .returning(t_series)
                )
            ).one()
    except sa.exc.IntegrityError as exc:
        if is_unique_violation(exc, "checkin_series_pair_key"):
            raise Conflict(
                "these two already have a check-in series (end it to start another)",
                field="input.reportId",
            ) from exc
        raise
    await materialize(session, [row])
    await audit.record(
        session,
        principal,
        action="checkin_series.create",
        target_type="CheckInSeries",
        target_id=row.id,
        changes=audit.diff({}, values),
    )
    return row


SERIES_FIELDS = (
    "title",
    "cadence",
    "starts_at",
    "timezone",
    "duration_minutes",
    "remind_minutes_before",
    "status",
)
TIMING = {"cadence", "starts_at", "timezone"}


async def get_series(session: Executor, viewer: Viewer, series_id: uuid.UUID) -> Any:
    stmt = sa.select(t_series).where(t_series.c.id == series_id, *_visible_sql(viewer))
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound("no check-in series with this id")
    return row


async def update_series(
    session: Executor, principal: Principal, series_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change, pause (`status: paused`), resume or end a series: its manager or HR. Future
    meetings nobody has written anything in are replaced by the new recurrence's; those with
    an agenda, notes or action items keep their time (or are cancelled when the series is
    paused or ended). Ended is final."""
    viewer = Viewer(principal, await _line(session, principal))
    row = (
        await session.execute(
            sa.select(t_series)
            .where(t_series.c.id == series_id, *_visible_sql(viewer))
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("no check-in series with this id")
    if not principal.is_hr and principal.employee_id != row.manager_id:
        raise Forbidden("the series' manager or HR changes it")
    if row.status == "ended":
        raise Conflict("this series has ended; set up a new one", field="id")
    unknown = set(patch) - set(SERIES_FIELDS)
    if unknown:
        raise ValueError(f"unknown series fields {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, value in patch.items():
        if value is None:
            raise BadUserInput("cannot be null", field=f"input.{_camel(key)}")
        values[key] = value
    if "title" in values:
        values["title"] = require_text(values["title"], field="input.title")
    if "cadence" in values and values["cadence"] not in CHECKIN_CADENCES:
        raise BadUserInput(f"must be one of {', '.join(CHECKIN_CADENCES)}", field="input.cadence")
    if "status" in values and values["status"] not in ("active", "paused", "ended"):
        raise BadUserInput("must be active, paused or ended", field="input.status")
    if "timezone" in values:
        check_timezone(values["timezone"], field="input.timezone")
    _check_numbers(values.get("duration_minutes"), values.get("remind_minutes_before"))
    tz = values.get("timezone", row.timezone)
    if "starts_at" in values:
        values["starts_at"] = local_start(values["starts_at"], tz)
    elif "timezone" in values:  # the same wall time, in the new zone
        values["starts_at"] = local_start(
            row.starts_at.astimezone(clock.zone(row.timezone)).replace(tzinfo=None), tz
        )
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not changed:
        return row
    now = clock.now()
    new = (
        await session.execute(
            sa.update(t_series)
            .where(t_series.c.id == series_id)
            .values(**changed, updated_at=now)
            .returning(t_series)
        )
    ).one()
    stops = changed.get("status") in ("paused", "ended")
    if stops or TIMING & changed.keys():
        await _clear_future(session, series_id, now, cancel_kept=stops)
    if new.status == "active":
        await materialize(session, [new], now=now)
    await audit.record(
        session,
        principal,
        action="checkin_series.update",
        target_type="CheckInSeries",
        target_id=series_id,
        changes=audit.diff({k: getattr(row, k) for k in changed}, changed),
    )
    return new


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


_HAS_CONTENT = """
    c.shared_notes is not null
    or exists (select 1 from checkin_agenda_items a where a.tenant_id = c.tenant_id
               and a.checkin_id = c.id)
    or exists (select 1 from checkin_action_items x where x.tenant_id = c.tenant_id
               and x.checkin_id = c.id)
    or exists (select 1 from checkin_private_notes n where n.tenant_id = c.tenant_id
               and n.checkin_id = c.id)
"""


async def _clear_future(
    session: Executor, series_id: uuid.UUID, now: datetime, *, cancel_kept: bool
) -> None:
    await fetch(
        session,
        f"delete from checkins c where c.series_id = $1 and c.occurs_at > $2 "  # noqa: S608 - constants only
        f"and c.status in ('scheduled', 'cancelled') and not ({_HAS_CONTENT})",
        series_id,
        now,
    )
    if cancel_kept:
        await fetch(
            session,
            "update checkins set status = 'cancelled', updated_at = $2 "
            "where series_id = $1 and occurs_at > $2 and status = 'scheduled'",
            series_id,
            now,
        )


async def materialize(
    session: Executor, series: Sequence[Any], *, now: datetime | None = None
) -> int:
    """Insert the next `AHEAD` occurrences of each active series (one statement for all);
    occurrences already there, rescheduled or cancelled are left alone. Returns rows added."""
    now = now or clock.now()
    series_ids: list[uuid.UUID] = []
    slots: list[datetime] = []
    for s in series:
        if s.status != "active":
            continue
        for at in occurrences(s.starts_at, s.timezone, s.cadence, after=now, count=AHEAD):
            series_ids.append(s.id)
            slots.append(at)
    if not slots:
        return 0
    rows = await fetch(
        session,
        """
        insert into checkins (tenant_id, series_id, slot_at, occurs_at)
        select current_setting('app.tenant_id')::uuid, x.s, x.at, x.at
        from unnest($1::uuid[], $2::timestamptz[]) as x(s, at)
        on conflict do nothing
        returning id
        """,
        series_ids,
        slots,
    )
    return len(rows)


async def materialize_due(session: Executor, *, now: datetime | None = None) -> int:
    """The scheduler's pass: every active series with fewer than `AHEAD` slots ahead."""
    now = now or clock.now()
    rows = (
        await session.execute(
            sa.text(
                f"""
                select {columns(CheckInSeries, "s")} from checkin_series s
                where s.status = 'active'
                and (select count(*) from checkins c where c.tenant_id = s.tenant_id
                     and c.series_id = s.id and c.slot_at > :now) < {AHEAD}
                """  # noqa: S608 - constants only
            ),
            {"now": now},
        )
    ).all()
    return await materialize(session, rows, now=now)


async def list_series(
    session: Executor,
    viewer: Viewer,
    *,
    with_employee: uuid.UUID | None = None,
    include_ended: bool = False,
) -> list[Any]:
    stmt = sa.select(t_series).where(*_visible_sql(viewer))
    if with_employee is not None:
        stmt = stmt.where(
            sa.or_(t_series.c.manager_id == with_employee, t_series.c.report_id == with_employee)
        )
    if not include_ended:
        stmt = stmt.where(t_series.c.status != "ended")
    stmt = stmt.order_by(t_series.c.created_at, t_series.c.id)
    return list((await session.execute(stmt)).all())


async def series_by_ids(
    session: Executor, viewer: Viewer, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    stmt = sa.select(t_series).where(t_series.c.id.in_(list(ids)), *_visible_sql(viewer))
    return {r.id: r for r in (await session.execute(stmt)).all()}


async def upcoming_of(
    session: Executor, series_ids: Sequence[uuid.UUID], *, now: datetime | None = None
) -> dict[uuid.UUID, list[Any]]:
    """Each series' scheduled meetings from now on, soonest first (one statement)."""
    now = now or clock.now()
    rows = (
        await session.execute(
            _meeting_select()
            .where(
                t_checkin.c.series_id.in_(list(series_ids)),
                t_checkin.c.status == "scheduled",
                t_checkin.c.occurs_at > now,
            )
            .order_by(t_checkin.c.series_id, t_checkin.c.occurs_at)
        )
    ).all()
    return grouped(rows, series_ids, lambda r: r.series_id)


# --- meetings --------------------------------------------------------------------------------


def _meeting_select() -> sa.Select[Any]:
    """A meeting with what every resolver needs of its series (one join, no second load)."""
    return sa.select(
        t_checkin,
        t_series.c.manager_id,
        t_series.c.report_id,
        t_series.c.title,
        t_series.c.duration_minutes,
        t_series.c.timezone,
        t_series.c.remind_minutes_before,
        t_series.c.status.label("series_status"),
    ).join(
        t_series,
        sa.and_(
            t_series.c.tenant_id == t_checkin.c.tenant_id, t_series.c.id == t_checkin.c.series_id
        ),
    )


@dataclass(frozen=True)
class CheckInFilter:
    with_employee: uuid.UUID | None = None
    start: datetime | None = None  # occurs at or after
    end: datetime | None = None  # occurs before
    status: str | None = None
    series_id: uuid.UUID | None = None


async def list_checkins(
    session: Executor, viewer: Viewer, *, filter: CheckInFilter, page: PageArgs, with_count: bool
) -> Page:
    conds = list(_visible_sql(viewer))
    f = filter
    if f.with_employee is not None:
        conds.append(
            sa.or_(
                t_series.c.manager_id == f.with_employee, t_series.c.report_id == f.with_employee
            )
        )
    if f.start is not None:
        conds.append(t_checkin.c.occurs_at >= f.start)
    if f.end is not None:
        conds.append(t_checkin.c.occurs_at < f.end)
    if f.status is not None:
        conds.append(t_checkin.c.status == f.status)
    if f.series_id is not None:
        conds.append(t_checkin.c.series_id == f.series_id)
    count = (
        sa.select(sa.func.count())
        .select_from(
            t_checkin.join(
                t_series,
                sa.and_(
                    t_series.c.tenant_id == t_checkin.c.tenant_id,
                    t_series.c.id == t_checkin.c.series_id,
                ),
            )
        )
        .where(*conds)
    )
    return await paginate(
        session,
        _meeting_select().where(*conds),
        CHECKIN_ORDER,
        page,
        count_stmt=count,
        with_count=with_count,
    )


async def checkins_by_ids(
    session: Executor, viewer: Viewer, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    stmt = _meeting_select().where(t_checkin.c.id.in_(list(ids)), *_visible_sql(viewer))
    return {r.id: r for r in (await session.execute(stmt)).all()}


async def _meeting_for_edit(
    session: Executor, principal: Principal, checkin_id: uuid.UUID, *, field: str = "id"
) -> tuple[Viewer, Any]:
    viewer = Viewer(principal, await _line(session, principal))
    row = (
        await session.execute(
            _meeting_select()
            .where(t_checkin.c.id == checkin_id, *_visible_sql(viewer))
            .with_for_update(of=t_checkin)
        )
    ).first()
    if row is None:
        raise NotFound("no check-in with this id", field=field)
    _participant(viewer, row)
    return viewer, row


def _open(row: Any, what: str) -> None:
    if row.status == "cancelled":
        raise Conflict(f"this check-in was cancelled: {what} is closed", field="id")


async def _touch(session: Executor, checkin_id: uuid.UUID, **values: Any) -> Any:
    return (
        await session.execute(
            sa.update(t_checkin)
            .where(t_checkin.c.id == checkin_id)
            .values(**values, updated_at=clock.now())
            .returning(t_checkin)
        )
    ).one()


async def reschedule(
    session: Executor, principal: Principal, checkin_id: uuid.UUID, *, occurs_at: datetime
) -> Any:
    """Move one meeting (either participant). Its reminder follows: a new time is a new
    reminder cycle."""
    _, row = await _meeting_for_edit(session, principal, checkin_id)
    if row.status != "scheduled":
        raise Conflict(f"a {row.status} check-in cannot be rescheduled", field="id")
    at = local_start(occurs_at, row.timezone)
    if at <= clock.now():
        raise BadUserInput("must be in the future", field="occursAt")
    try:
        async with session.begin_nested():
            await _touch(session, checkin_id, occurs_at=at)
    except sa.exc.IntegrityError as exc:
        if is_unique_violation(exc, "checkins_occurrence_key"):
            raise Conflict(
                "another meeting of this series is at that time", field="occursAt"
            ) from exc
        raise
    await audit.record(
        session,
        principal,
        action="checkin.reschedule",
        target_type="CheckIn",
        target_id=checkin_id,
        changes=audit.diff({"occurs_at": row.occurs_at}, {"occurs_at": at}),
    )
    return at


async def set_status(
    session: Executor, principal: Principal, checkin_id: uuid.UUID, *, status: str
) -> None:
    """Cancel or complete a scheduled meeting (either participant)."""
    _, row = await _meeting_for_edit(session, principal, checkin_id)
    if row.status != "scheduled":
        raise Conflict(f"this check-in is already {row.status}", field="id")
    values: dict[str, Any] = {"status": status}
    if status == "completed":
        values["completed_at"] = clock.now()
    await _touch(session, checkin_id, **values)
    await audit.record(
        session,
        principal,
        action=f"checkin.{'cancel' if status == 'cancelled' else 'complete'}",
        target_type="CheckIn",
        target_id=checkin_id,
        changes=audit.diff({"status": row.status}, {"status": status}),
    )


async def set_shared_notes(
    session: Executor, principal: Principal, checkin_id: uuid.UUID, *, notes: str | None
) -> None:
    _, row = await _meeting_for_edit(session, principal, checkin_id)
    _open(row, "its notes are")
    text = optional_text(notes, field="notes", max_len=MAX_NOTES)
    await _touch(session, checkin_id, shared_notes=text)
    await audit.record(
        session,
        principal,
        action="checkin.set_shared_notes",
        target_type="CheckIn",
        target_id=checkin_id,
        changes={"length": [len(row.shared_notes or ""), len(text or "")]},
    )


async def set_private_note(
    session: Executor, principal: Principal, checkin_id: uuid.UUID, *, body: str | None
) -> Any:
    """The caller's own note on a meeting (a participant), replaced; empty removes it. The
    audit event records that it changed, never what it says."""
    _, row = await _meeting_for_edit(session, principal, checkin_id, field="checkInId")
    _open(row, "its notes are")
    text = optional_text(body, field="body", max_len=MAX_NOTES)
    me = principal.employee_id
    where = (t_note.c.checkin_id == checkin_id, t_note.c.author_id == me)
    if text is None:
        await session.execute(sa.delete(t_note).where(*where))
        note = None
    else:
        stmt = pg_insert(t_note).values(
            tenant_id=principal.tenant_id, checkin_id=checkin_id, author_id=me, body=text
        )
        note = (
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["tenant_id", "checkin_id", "author_id"],
                    set_={"body": text, "updated_at": clock.now()},
                ).returning(t_note)
            )
        ).one()
    await audit.record(
        session,
        principal,
        action="checkin.set_private_note",
        target_type="CheckIn",
        target_id=checkin_id,
        changes={"removed": text is None},
    )
    return note


async def private_notes_of(
    session: Executor, principal: Principal, checkin_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The principal's own notes: the author is the filter, whoever asks."""
    if principal.employee_id is None:
        return {}
    rows = (
        await session.execute(
            sa.select(t_note).where(
                t_note.c.checkin_id.in_(list(checkin_ids)),
                t_note.c.author_id == principal.employee_id,
            )
        )
    ).all()
    return {r.checkin_id: r for r in rows}


# --- agenda ----------------------------------------------------------------------------------


async def add_agenda_item(
    session: Executor, principal: Principal, checkin_id: uuid.UUID, *, body: str
) -> Any:
    _, row = await _meeting_for_edit(session, principal, checkin_id, field="checkInId")
    _open(row, "its agenda is")
    text = require_text(body, field="body", max_len=MAX_BODY)
    item = (
        await session.execute(
            sa.insert(t_agenda)
            .values(
                tenant_id=principal.tenant_id,
                checkin_id=checkin_id,
                author_id=principal.employee_id,
                body=text,
                position=sa.select(sa.func.coalesce(sa.func.max(t_agenda.c.position), 0) + 1)
                .where(t_agenda.c.checkin_id == checkin_id)
                .scalar_subquery(),
            )
            .returning(t_agenda)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="checkin.add_agenda_item",
        target_type="CheckInAgendaItem",
        target_id=item.id,
        changes={"checkin_id": str(checkin_id)},
    )
    return item


async def _item_for_edit(
    session: Executor, principal: Principal, table: sa.Table, item_id: uuid.UUID, what: str
) -> tuple[Any, Any]:
    item = (await session.execute(sa.select(table).where(table.c.id == item_id))).first()
    if item is None:
        raise NotFound(f"no {what} with this id", field="id")
    try:
        _, meeting = await _meeting_for_edit(session, principal, item.checkin_id)
    except NotFound as exc:
        raise NotFound(f"no {what} with this id", field="id") from exc
    return item, meeting


async def update_agenda_item(
    session: Executor,
    principal: Principal,
    item_id: uuid.UUID,
    *,
    body: str | None = None,
    discussed: bool | None = None,
) -> Any:
    """Its author edits the text; either participant marks it discussed."""
    item, meeting = await _item_for_edit(session, principal, t_agenda, item_id, "agenda item")
    _open(meeting, "its agenda is")
    values: dict[str, Any] = {}
    if body is not None:
        if item.author_id != principal.employee_id:
            raise Forbidden("only its author edits an agenda item")
        values["body"] = require_text(body, field="input.body", max_len=MAX_BODY)
    if discussed is not None:
        values["discussed"] = discussed
    if not values:
        return item
    new = (
        await session.execute(
            sa.update(t_agenda)
            .where(t_agenda.c.id == item_id)
            .values(**values, updated_at=clock.now())
            .returning(t_agenda)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="checkin.update_agenda_item",
        target_type="CheckInAgendaItem",
        target_id=item_id,
        changes=audit.diff({k: getattr(item, k) for k in values}, values),
    )
    return new


async def remove_agenda_item(session: Executor, principal: Principal, item_id: uuid.UUID) -> None:
    item, meeting = await _item_for_edit(session, principal, t_agenda, item_id, "agenda item")
    _open(meeting, "its agenda is")
    if item.author_id != principal.employee_id:
        raise Forbidden("only its author removes an agenda item")
    await session.execute(sa.delete(t_agenda).where(t_agenda.c.id == item_id))
    await audit.record(
        session,
        principal,
        action="checkin.remove_agenda_item",
        target_type="CheckInAgendaItem",
        target_id=item_id,
        changes={"checkin_id": str(item.checkin_id)},
    )


async def agenda_of(
    session: Executor, checkin_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    rows = (
        await session.execute(
            sa.select(t_agenda)
            .where(t_agenda.c.checkin_id.in_(list(checkin_ids)))
            .order_by(t_agenda.c.checkin_id, t_agenda.c.position, t_agenda.c.id)
        )
    ).all()
    return grouped(rows, checkin_ids, lambda r: r.checkin_id)


# --- action items ----------------------------------------------------------------------------


async def _check_goal(
    session: Executor, goal_id: uuid.UUID, report_id: uuid.UUID, *, field: str
) -> None:
    """A linked goal must be a goal of a plan of the report (the meeting's subject)."""
    rows = await fetch(
        session,
        "select 1 from plan_goals g join development_plans p "
        "on p.tenant_id = g.tenant_id and p.id = g.plan_id "
        "where g.id = $1 and p.employee_id = $2",
        goal_id,
        report_id,
    )
    if not rows:
        raise BadUserInput("must be a goal of a development plan of the report", field=field)


def _check_owner(owner_id: uuid.UUID, meeting: Any, *, field: str) -> None:
    if owner_id not in (meeting.manager_id, meeting.report_id):
        raise BadUserInput("the owner must be one of the two participants", field=field)


async def add_action_item(
    session: Executor,
    principal: Principal,
    checkin_id: uuid.UUID,
    *,
    body: str,
    owner_id: uuid.UUID | None = None,
    due_on: date | None = None,
    goal_id: uuid.UUID | None = None,
) -> Any:
    _, meeting = await _meeting_for_edit(session, principal, checkin_id, field="input.checkInId")
    _open(meeting, "adding action items")
    text = require_text(body, field="input.body", max_len=MAX_BODY)
    owner = owner_id or principal.employee_id
    assert owner is not None
    _check_owner(owner, meeting, field="input.ownerId")
    if goal_id is not None:
        await _check_goal(session, goal_id, meeting.report_id, field="input.goalId")
    item = (
        await session.execute(
            sa.insert(t_action)
            .values(
                tenant_id=principal.tenant_id,
                checkin_id=checkin_id,
                owner_id=owner,
                body=text,
                due_on=due_on,
                goal_id=goal_id,
                created_by=principal.employee_id,
            )
            .returning(t_action)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="checkin.add_action_item",
        target_type="CheckInActionItem",
        target_id=item.id,
        changes=audit.diff(
            {}, {"checkin_id": checkin_id, "owner_id": owner, "due_on": due_on, "goal_id": goal_id}
        ),
    )
    return item


async def update_action_item(
    session: Executor, principal: Principal, item_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Either participant edits an action item (`done` true/false marks it done/undone; a
    null `goalId` or `dueOn` clears it)."""
    item, meeting = await _item_for_edit(session, principal, t_action, item_id, "action item")
    values: dict[str, Any] = {}
    if "body" in patch:
        values["body"] = require_text(patch["body"], field="input.body", max_len=MAX_BODY)
    if "owner_id" in patch:
        if patch["owner_id"] is None:
            raise BadUserInput("an action item has an owner", field="input.ownerId")
        _check_owner(patch["owner_id"], meeting, field="input.ownerId")
        values["owner_id"] = patch["owner_id"]
    if "due_on" in patch:
        values["due_on"] = patch["due_on"]
    if "goal_id" in patch:
        if patch["goal_id"] is not None:
            await _check_goal(session, patch["goal_id"], meeting.report_id, field="input.goalId")
        values["goal_id"] = patch["goal_id"]
    if "done" in patch:
        if patch["done"] is None:
            raise BadUserInput("true or false", field="input.done")
        if patch["done"] != (item.done_at is not None):
            values["done_at"] = clock.now() if patch["done"] else None
    values = {k: v for k, v in values.items() if getattr(item, k) != v}
    if not values:
        return item
    new = (
        await session.execute(
            sa.update(t_action)
            .where(t_action.c.id == item_id)
            .values(**values, updated_at=clock.now())
            .returning(t_action)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="checkin.update_action_item",
        target_type="CheckInActionItem",
        target_id=item_id,
        changes=audit.diff({k: getattr(item, k) for k in values}, values),
    )
    return new


async def remove_action_item(session: Executor, principal: Principal, item_id: uuid.UUID) -> None:
    item, _ = await _item_for_edit(session, principal, t_action, item_id, "action item")
    await session.execute(sa.delete(t_action).where(t_action.c.id == item_id))
    await audit.record(
        session,
        principal,
        action="checkin.remove_action_item",
        target_type="CheckInActionItem",
        target_id=item_id,
        changes={"checkin_id": str(item.checkin_id)},
    )


async def action_items_of(
    session: Executor, checkin_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    rows = (
        await session.execute(
            sa.select(t_action)
            .where(t_action.c.checkin_id.in_(list(checkin_ids)))
            .order_by(t_action.c.checkin_id, t_action.c.created_at, t_action.c.id)
        )
    ).all()
    return grouped(rows, checkin_ids, lambda r: r.checkin_id)


# --- manifests ([[checkins]]) ----------------------------------------------------------------

CHECKIN_KEYS = {
    "manager",
    "report",
    "title",
    "cadence",
    "starts_at",
    "timezone",
    "duration_minutes",
    "remind_minutes_before",
    "agenda",
    "action_items",
}
AGENDA_KEYS = {"author", "body"}
ACTION_KEYS = {"owner", "body", "due_on"}


def validate_manifest(c: Any, data: dict[str, Any], emails: set[str]) -> dict[str, Any]:
    """`[[checkins]]`: a series between two people of the file, with agenda points and action
    items for its next meeting (demo data). `c` is the manifest's checker."""
    out: list[dict[str, Any]] = []
    pairs: set[tuple[str, str]] = set()
    for i, d in enumerate(c.tables(data, "checkins")):
        entry = f"checkins[{i}]"
        c.keys(entry, d, CHECKIN_KEYS)
        manager, report = d.get("manager"), d.get("report")
        for key, who in (("manager", manager), ("report", report)):
            if who not in emails:
                c.error(entry, f"{key!r} must be the email of an employee in this file")
        if manager == report:
            c.error(entry, "'manager' and 'report' must be two people")
        if (manager, report) in pairs:
            c.error(entry, "this pair is declared twice")
        pairs.add((manager, report))
        cadence = d.get("cadence", "weekly")
        if cadence not in CHECKIN_CADENCES:
            c.error(entry, f"'cadence' must be one of {', '.join(CHECKIN_CADENCES)}")
        starts = d.get("starts_at")
        if not isinstance(starts, datetime):
            c.error(entry, "'starts_at' must be a TOML date-time (local: in 'timezone')")
        numbers = {}
        for key, default, lo, hi in (
            ("duration_minutes", 30, 5, 480),
            ("remind_minutes_before", 1440, 0, 10080),
        ):
            value = d.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                c.error(entry, f"{key!r} must be an integer from {lo} to {hi}")
            numbers[key] = value
        people = {manager, report}
        agenda = []
        for j, a in enumerate(d.get("agenda", [])):
            ae = f"{entry}.agenda[{j}]"
            if not isinstance(a, dict):
                c.error(ae, "must be a table")
                continue
            c.keys(ae, a, AGENDA_KEYS)
            if a.get("author") not in people:
                c.error(ae, "'author' must be the manager or the report")
            agenda.append(
                {"author": a.get("author"), "body": c.string(ae, a, "body", required=True)}
            )
        actions = []
        for j, a in enumerate(d.get("action_items", [])):
            ae = f"{entry}.action_items[{j}]"
            if not isinstance(a, dict):
                c.error(ae, "must be a table")
                continue
            c.keys(ae, a, ACTION_KEYS)
            if a.get("owner") not in people:
                c.error(ae, "'owner' must be the manager or the report")
            due = a.get("due_on")
            if due is not None and not isinstance(due, date):
                c.error(ae, "'due_on' must be a TOML local date")
            actions.append(
                {
                    "owner": a.get("owner"),
                    "body": c.string(ae, a, "body", required=True),
                    "due_on": due,
                }
            )
        out.append(
            {
                "manager": manager,
                "report": report,
                "title": c.string(entry, d, "title"),
                "cadence": cadence,
                "starts_at": starts,
                "timezone": c.tz(entry, d, "timezone"),
                **numbers,
                "agenda": agenda,
                "action_items": actions,
            }
        )
    return {"checkins": out}


async def apply_manifest(
    session: Any, sections: dict[str, Any], *, tenant_id: uuid.UUID, result: Any
) -> None:
    """Series match by (manager, report) among those not ended and take the file's values;
    their next meetings are materialized; agenda points and action items go on the next
    scheduled meeting unless it already has one with the same text (runs as the owner inside
    `apply_manifest`'s transaction: every statement names the tenant)."""
    entries = sections.get("checkins") or []
    if not entries:
        return
    tenant_tz = (
        await session.execute(
            sa.text("select timezone from tenants where id = :t"), {"t": tenant_id}
        )
    ).scalar_one()
    emails = {e for d in entries for e in (d["manager"], d["report"])}
    rows = (
        await session.execute(
            sa.text(
                "select lower(e.email), e.id, coalesce(e.timezone, l.timezone) from employees e "
                "left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id "
                "where e.tenant_id = :t and lower(e.email) = any(:emails)"
            ),
            {"t": tenant_id, "emails": [e.lower() for e in emails]},
        )
    ).all()
    ids = {r[0]: (r[1], r[2]) for r in rows}
    now = clock.now()
    names = {
        r.id: r.name
        for r in (
            await session.execute(
                sa.text("select id, name from employees where tenant_id = :t and id = any(:ids)"),
                {"t": tenant_id, "ids": [v[0] for v in ids.values()]},
            )
        ).all()
    }
    for d in entries:
        manager, mtz = ids[d["manager"].lower()]
        report, _ = ids[d["report"].lower()]
        tz = d["timezone"] or mtz or tenant_tz
        values = {
            "title": d["title"] or f"1:1 {names[manager]} / {names[report]}",
            "cadence": d["cadence"],
            "starts_at": local_start(d["starts_at"], tz),
            "timezone": tz,
            "duration_minutes": d["duration_minutes"],
            "remind_minutes_before": d["remind_minutes_before"],
        }
        cur = (
            await session.execute(
                sa.select(t_series).where(
                    t_series.c.tenant_id == tenant_id,
                    t_series.c.manager_id == manager,
                    t_series.c.report_id == report,
                    t_series.c.status != "ended",
                )
            )
        ).first()
        if cur is None:
            series = (
                await session.execute(
                    sa.insert(t_series)
                    .values(tenant_id=tenant_id, manager_id=manager, report_id=report, **values)
                    .returning(t_series)
                )
            ).one()
            result.count("created", "checkin_series")
        elif any(getattr(cur, k) != v for k, v in values.items()):
            series = (
                await session.execute(
                    sa.update(t_series)
                    .where(t_series.c.tenant_id == tenant_id, t_series.c.id == cur.id)
                    .values(**values, updated_at=now)
                    .returning(t_series)
                )
            ).one()
            result.count("updated", "checkin_series")
        else:
            series = cur
        if series.status == "active":
            for at in occurrences(
                series.starts_at, series.timezone, series.cadence, after=now, count=AHEAD
            ):
                stmt = pg_insert(t_checkin).values(
                    tenant_id=tenant_id, series_id=series.id, slot_at=at, occurs_at=at
                )
                res = await session.execute(stmt.on_conflict_do_nothing())
                if res.rowcount:
                    result.count("created", "checkins")
        nxt = (
            await session.execute(
                sa.select(t_checkin.c.id)
                .where(
                    t_checkin.c.tenant_id == tenant_id,
                    t_checkin.c.series_id == series.id,
                    t_checkin.c.status == "scheduled",
                    t_checkin.c.occurs_at > now,
                )
                .order_by(t_checkin.c.occurs_at)
                .limit(1)
            )
        ).scalar()
        if nxt is None:
            continue
        await _seed_items(session, tenant_id, nxt, d, ids, result)


async def _seed_items(
    session: Any,
    tenant_id: uuid.UUID,
    checkin_id: uuid.UUID,
    d: dict[str, Any],
    ids: dict[str, tuple[uuid.UUID, Any]],
    result: Any,
) -> None:
    have_agenda = {
        r[0]
        for r in (
            await session.execute(
                sa.select(t_agenda.c.body).where(
                    t_agenda.c.tenant_id == tenant_id, t_agenda.c.checkin_id == checkin_id
                )
            )
        ).all()
    }
    for pos, a in enumerate(d["agenda"], start=1):
        if a["body"] in have_agenda:
            continue
        await session.execute(
            sa.insert(t_agenda).values(
                tenant_id=tenant_id,
                checkin_id=checkin_id,
                author_id=ids[a["author"].lower()][0],
                body=a["body"],
                position=pos,
            )
        )
        result.count("created", "checkin_agenda_items")
    have_actions = {
        r[0]
        for r in (
            await session.execute(
                sa.select(t_action.c.body).where(
                    t_action.c.tenant_id == tenant_id, t_action.c.checkin_id == checkin_id
                )
            )
        ).all()
    }
    for a in d["action_items"]:
        if a["body"] in have_actions:
            continue
        await session.execute(
            sa.insert(t_action).values(
                tenant_id=tenant_id,
                checkin_id=checkin_id,
                owner_id=ids[a["owner"].lower()][0],
                body=a["body"],
                due_on=a["due_on"],
            )
        )
        result.count("created", "checkin_action_items")
