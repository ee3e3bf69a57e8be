"""GraphQL for check-ins (1:1s): thin resolvers over development.checkins. Lists load their
relations (agenda, action items, the viewer's private notes, people) in one batch per page."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from upward.development import checkins
from upward.development.plans_schema import PlanGoal, goal_ref
from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    optional_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection

if TYPE_CHECKING:
    from upward.people.schema import Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
PAGE_DOC = "Relay pagination: `first` (at most 100) with `after`, or `last` with `before`."


@strawberry.enum
class CheckInCadence(enum.Enum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


@strawberry.enum(description="active (meetings are scheduled), paused, or ended (final).")
class CheckInSeriesStatus(enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


@strawberry.enum
class CheckInStatus(enum.Enum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# --- loaders (per request) -------------------------------------------------------------------


async def _viewer(ctx: Any) -> Any:
    from upward.people.loaders import viewer_of

    return await viewer_of(ctx)


def _grouped(ctx: Any, key: str, fn: Any) -> DataLoader[uuid.UUID, list[Any]]:
    async def load(ids: list[uuid.UUID]) -> list[list[Any]]:
        async with ctx.session() as s:
            found = await fn(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo(key, lambda: DataLoader(load_fn=load))


def _agenda_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    return _grouped(ctx, "CheckInAgendaByCheckInLoader", checkins.agenda_of)


def _actions_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    return _grouped(ctx, "CheckInActionsByCheckInLoader", checkins.action_items_of)


def _upcoming_loader(ctx: Any) -> DataLoader[uuid.UUID, list[Any]]:
    return _grouped(ctx, "CheckInsUpcomingBySeriesLoader", checkins.upcoming_of)


def _my_note_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        p = ctx.require_principal()
        async with ctx.session() as s:
            found = await checkins.private_notes_of(s, p, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("CheckInMyNoteByCheckInLoader", lambda: DataLoader(load_fn=load))


def _series_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        viewer = await _viewer(ctx)
        async with ctx.session() as s:
            found = await checkins.series_by_ids(s, viewer, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("CheckInSeriesByIdLoader", lambda: DataLoader(load_fn=load))


async def _employee(ctx: Any, employee_id: uuid.UUID) -> Employee | None:
    from upward.people.schema import _load_employee

    return await _load_employee(ctx, await _viewer(ctx), employee_id)


# --- types -----------------------------------------------------------------------------------


@strawberry.type(description="A recurring 1:1 between a manager and a report.")
class CheckInSeries(Node):
    id: strawberry.ID
    title: str
    cadence: CheckInCadence
    starts_at: datetime = strawberry.field(description="The first meeting; the recurrence's base.")
    timezone: str = strawberry.field(
        description="Meetings recur at the same local time in this zone (across DST)."
    )
    duration_minutes: int
    remind_minutes_before: int = strawberry.field(
        description="Both participants are reminded this long before each meeting (0: never)."
    )
    status: CheckInSeriesStatus
    created_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field
    async def manager(self, info: Info) -> EmployeeRef | None:
        return await _employee(info.context, self._row.manager_id)

    @strawberry.field
    async def report(self, info: Info) -> EmployeeRef | None:
        return await _employee(info.context, self._row.report_id)

    @strawberry.field(description="Its scheduled meetings from now on, soonest first.")
    async def upcoming(self, info: Info) -> list[CheckIn]:
        rows = await _upcoming_loader(info.context).load(self._row.id)
        return [checkin_obj(info.context, r) for r in rows]


def series_obj(row: Any) -> CheckInSeries:
    return CheckInSeries(
        id=to_global_id("CheckInSeries", row.id),
        title=row.title,
        cadence=CheckInCadence(row.cadence),
        starts_at=row.starts_at,
        timezone=row.timezone,
        duration_minutes=row.duration_minutes,
        remind_minutes_before=row.remind_minutes_before,
        status=CheckInSeriesStatus(row.status),
        created_at=row.created_at,
        _row=row,
    )


@strawberry.type(description="A point to talk about, from either participant.")
class CheckInAgendaItem:
    id: strawberry.ID
    body: str
    position: int
    discussed: bool
    created_at: datetime
    updated_at: datetime
    _author_id: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def author(self, info: Info) -> EmployeeRef | None:
        return await _employee(info.context, self._author_id)


def agenda_obj(r: Any) -> CheckInAgendaItem:
    return CheckInAgendaItem(
        id=to_global_id("CheckInAgendaItem", r.id),
        body=r.body,
        position=r.position,
        discussed=r.discussed,
        created_at=r.created_at,
        updated_at=r.updated_at,
        _author_id=r.author_id,
    )


@strawberry.type(description="Something one of the two agreed to do.")
class CheckInActionItem:
    id: strawberry.ID
    body: str
    due_on: date | None
    done: bool
    done_at: datetime | None
    goal_id: strawberry.ID | None = strawberry.field(
        description="The IDP goal (PlanGoal) of the report it advances, if any."
    )
    created_at: datetime
    _owner_id: strawberry.Private[uuid.UUID]
    _goal_raw: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="That goal, when you may read its plan (else null).")
    async def goal(self, info: Info) -> PlanGoal | None:
        return await goal_ref(info.context, self._goal_raw)

    @strawberry.field
    async def owner(self, info: Info) -> EmployeeRef | None:
        return await _employee(info.context, self._owner_id)


def action_obj(r: Any) -> CheckInActionItem:
    return CheckInActionItem(
        id=to_global_id("CheckInActionItem", r.id),
        body=r.body,
        due_on=r.due_on,
        done=r.done_at is not None,
        done_at=r.done_at,
        goal_id=to_global_id("PlanGoal", r.goal_id) if r.goal_id else None,
        created_at=r.created_at,
        _owner_id=r.owner_id,
        _goal_raw=r.goal_id,
    )


@strawberry.type(description="A participant's own note on a meeting: only its author reads it.")
class CheckInPrivateNote:
    body: str
    updated_at: datetime


@strawberry.type(description="One meeting of a check-in series.")
class CheckIn(Node):
    id: strawberry.ID
    title: str
    occurs_at: datetime
    ends_at: datetime
    timezone: str
    status: CheckInStatus
    shared_notes: str | None = strawberry.field(description="Notes both participants edit.")
    completed_at: datetime | None
    _row: strawberry.Private[Any]

    @strawberry.field
    async def series(self, info: Info) -> CheckInSeries | None:
        row = await _series_loader(info.context).load(self._row.series_id)
        return series_obj(row) if row is not None else None

    @strawberry.field
    async def manager(self, info: Info) -> EmployeeRef | None:
        return await _employee(info.context, self._row.manager_id)

    @strawberry.field
    async def report(self, info: Info) -> EmployeeRef | None:
        return await _employee(info.context, self._row.report_id)

    @strawberry.field(description="Whether you may edit it (you are one of the two).")
    def viewer_is_participant(self, info: Info) -> bool:
        me = info.context.require_principal().employee_id
        return me is not None and me in (self._row.manager_id, self._row.report_id)

    @strawberry.field(description="In order.")
    async def agenda(self, info: Info) -> list[CheckInAgendaItem]:
        return [agenda_obj(r) for r in await _agenda_loader(info.context).load(self._row.id)]

    @strawberry.field
    async def action_items(self, info: Info) -> list[CheckInActionItem]:
        return [action_obj(r) for r in await _actions_loader(info.context).load(self._row.id)]

    @strawberry.field(
        description="Your own private note on it (null if you wrote none). Nobody else's note "
        "is ever returned, whatever your role."
    )
    async def my_private_note(self, info: Info) -> CheckInPrivateNote | None:
        r = await _my_note_loader(info.context).load(self._row.id)
        return CheckInPrivateNote(body=r.body, updated_at=r.updated_at) if r else None


def checkin_obj(ctx: Any, row: Any) -> CheckIn:
    return CheckIn(
        id=to_global_id("CheckIn", row.id),
        title=row.title,
        occurs_at=row.occurs_at,
        ends_at=row.occurs_at + timedelta(minutes=row.duration_minutes),
        timezone=row.timezone,
        status=CheckInStatus(row.status),
        shared_notes=row.shared_notes,
        completed_at=row.completed_at,
        _row=row,
    )


@register_node("CheckIn")
async def _checkin_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    viewer = await _viewer(ctx)
    async with ctx.session() as s:
        rows = await checkins.checkins_by_ids(s, viewer, ids)
    return {i: checkin_obj(ctx, r) for i, r in rows.items()}


@register_node("CheckInSeries")
async def _series_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    viewer = await _viewer(ctx)
    async with ctx.session() as s:
        rows = await checkins.series_by_ids(s, viewer, ids)
    return {i: series_obj(r) for i, r in rows.items()}


async def _reload(ctx: Any, checkin_id: uuid.UUID) -> CheckIn:
    found = await _checkin_nodes(ctx, [checkin_id])
    return found[checkin_id]


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input
class CheckInFilter:
    with_employee: strawberry.ID | None = strawberry.field(
        default=None, description="Meetings this person takes part in."
    )
    series_id: strawberry.ID | None = None
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Occurring at or after."
    )
    to: datetime | None = strawberry.field(default=None, description="Occurring before.")
    status: CheckInStatus | None = None


@strawberry.input
class CreateCheckInSeriesInput:
    report_id: strawberry.ID
    manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: you. Only HR names another manager."
    )
    title: str | None = strawberry.field(default=None, description='Default: "1:1 A / B".')
    cadence: CheckInCadence = CheckInCadence.WEEKLY
    starts_at: datetime = strawberry.field(
        description="The first meeting. Without a UTC offset it is a local time in `timezone`."
    )
    timezone: str | None = strawberry.field(
        default=None,
        description="IANA zone; default: the manager's (their own, else their location's), "
        "else the tenant's.",
    )
    duration_minutes: int = 30
    remind_minutes_before: int = 1440


@strawberry.input
class UpdateCheckInSeriesInput:
    title: str | None = strawberry.UNSET
    cadence: CheckInCadence | None = strawberry.UNSET
    starts_at: datetime | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    duration_minutes: int | None = strawberry.UNSET
    remind_minutes_before: int | None = strawberry.UNSET
    status: CheckInSeriesStatus | None = strawberry.field(
        default=strawberry.UNSET, description="PAUSED pauses, ACTIVE resumes, ENDED ends it."
    )


@strawberry.input
class UpdateAgendaItemInput:
    body: str | None = strawberry.field(default=None, description="Its author only.")
    discussed: bool | None = None


@strawberry.input
class AddActionItemInput:
    check_in_id: strawberry.ID
    body: str
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="One of the two participants; default: you."
    )
    due_on: date | None = None
    goal_id: strawberry.ID | None = strawberry.field(
        default=None, description="A goal (PlanGoal) of a development plan of the report."
    )


@strawberry.input
class UpdateActionItemInput:
    body: str | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    due_on: date | None = strawberry.UNSET
    goal_id: strawberry.ID | None = strawberry.UNSET
    done: bool | None = strawberry.UNSET


def _enum(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


# --- queries and mutations -------------------------------------------------------------------


@strawberry.type
class CheckInQuery:
    @strawberry.field(
        description="Check-in meetings you may read (yours; your line's; everyone's for HR), "
        "soonest first. " + PAGE_DOC
    )
    async def check_ins(
        self,
        info: Info,
        filter: CheckInFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CheckIn]:
        ctx = info.context
        ctx.require_principal()
        f = filter or CheckInFilter()
        cf = checkins.CheckInFilter(
            with_employee=optional_global_id(
                f.with_employee, "Employee", field="filter.withEmployee"
            ),
            series_id=optional_global_id(f.series_id, "CheckInSeries", field="filter.seriesId"),
            start=f.from_,
            end=f.to,
            status=f.status.value if f.status else None,
        )
        args = page_args(
            ctx, checkins.CHECKIN_ORDER, first=first, after=after, last=last, before=before
        )
        viewer = await _viewer(ctx)
        async with ctx.session() as s:
            page = await checkins.list_checkins(
                s, viewer, filter=cf, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, checkins.CHECKIN_ORDER, lambda r: checkin_obj(ctx, r))

    @strawberry.field(
        description="Check-in series you may read, oldest first (ended ones if asked)."
    )
    async def check_in_series(
        self,
        info: Info,
        with_employee: strawberry.ID | None = None,
        include_ended: bool = False,
    ) -> list[CheckInSeries]:
        ctx = info.context
        ctx.require_principal()
        who = optional_global_id(with_employee, "Employee", field="withEmployee")
        viewer = await _viewer(ctx)
        async with ctx.session() as s:
            rows = await checkins.list_series(
                s, viewer, with_employee=who, include_ended=include_ended
            )
        return [series_obj(r) for r in rows]


@strawberry.type
class CheckInMutation:
    @strawberry.mutation(
        description="Set up a recurring check-in: a manager with someone in their reporting "
        "line, or HR for any two people. The next meetings are scheduled at once."
    )
    async def create_check_in_series(
        self, info: Info, input: CreateCheckInSeriesInput
    ) -> CheckInSeries:
        data = checkins.SeriesInput(
            report_id=expect_global_id(input.report_id, "Employee", field="input.reportId"),
            manager_id=optional_global_id(input.manager_id, "Employee", field="input.managerId"),
            title=input.title,
            cadence=input.cadence.value,
            starts_at=input.starts_at,
            timezone=input.timezone,
            duration_minutes=input.duration_minutes,
            remind_minutes_before=input.remind_minutes_before,
        )
        async with info.context.mutation() as (s, p):
            row = await checkins.create_series(s, p, data)
        return series_obj(row)

    @strawberry.mutation(
        description="Change a series, pause (status PAUSED), resume (ACTIVE) or end it (ENDED, "
        "final): its manager or HR."
    )
    async def update_check_in_series(
        self, info: Info, id: strawberry.ID, input: UpdateCheckInSeriesInput
    ) -> CheckInSeries:
        raw = expect_global_id(id, "CheckInSeries", field="id")
        patch = {
            name: _enum(getattr(input, name))
            for name in checkins.SERIES_FIELDS
            if getattr(input, name) is not strawberry.UNSET
        }
        async with info.context.mutation() as (s, p):
            row = await checkins.update_series(s, p, raw, patch)
        return series_obj(row)

    @strawberry.mutation(description="Move one meeting (either participant).")
    async def reschedule_check_in(
        self, info: Info, id: strawberry.ID, occurs_at: datetime
    ) -> CheckIn:
        raw = expect_global_id(id, "CheckIn", field="id")
        async with info.context.mutation() as (s, p):
            await checkins.reschedule(s, p, raw, occurs_at=occurs_at)
        return await _reload(info.context, raw)

    @strawberry.mutation(description="Cancel one scheduled meeting (either participant).")
    async def cancel_check_in(self, info: Info, id: strawberry.ID) -> CheckIn:
        raw = expect_global_id(id, "CheckIn", field="id")
        async with info.context.mutation() as (s, p):
            await checkins.set_status(s, p, raw, status="cancelled")
        return await _reload(info.context, raw)

    @strawberry.mutation(description="Mark a meeting held (either participant).")
    async def complete_check_in(self, info: Info, id: strawberry.ID) -> CheckIn:
        raw = expect_global_id(id, "CheckIn", field="id")
        async with info.context.mutation() as (s, p):
            await checkins.set_status(s, p, raw, status="completed")
        return await _reload(info.context, raw)

    @strawberry.mutation(description="Replace the shared notes (either participant; null clears).")
    async def set_check_in_shared_notes(
        self, info: Info, id: strawberry.ID, notes: str | None
    ) -> CheckIn:
        raw = expect_global_id(id, "CheckIn", field="id")
        async with info.context.mutation() as (s, p):
            await checkins.set_shared_notes(s, p, raw, notes=notes)
        return await _reload(info.context, raw)

    @strawberry.mutation(
        description="Write your private note on a meeting (a participant); null or empty "
        "removes it. Only you will ever read it."
    )
    async def set_check_in_private_note(
        self, info: Info, check_in_id: strawberry.ID, body: str | None
    ) -> CheckIn:
        raw = expect_global_id(check_in_id, "CheckIn", field="checkInId")
        async with info.context.mutation() as (s, p):
            await checkins.set_private_note(s, p, raw, body=body)
        return await _reload(info.context, raw)

    @strawberry.mutation(description="Add a point to a meeting's agenda (either participant).")
    async def add_check_in_agenda_item(
        self, info: Info, check_in_id: strawberry.ID, body: str
    ) -> CheckInAgendaItem:
        raw = expect_global_id(check_in_id, "CheckIn", field="checkInId")
        async with info.context.mutation() as (s, p):
            row = await checkins.add_agenda_item(s, p, raw, body=body)
        return agenda_obj(row)

    @strawberry.mutation(
        description="Edit your agenda item's text, or mark any item discussed (participants)."
    )
    async def update_check_in_agenda_item(
        self, info: Info, id: strawberry.ID, input: UpdateAgendaItemInput
    ) -> CheckInAgendaItem:
        raw = expect_global_id(id, "CheckInAgendaItem", field="id")
        async with info.context.mutation() as (s, p):
            row = await checkins.update_agenda_item(
                s, p, raw, body=input.body, discussed=input.discussed
            )
        return agenda_obj(row)

    @strawberry.mutation(description="Remove your agenda item. Returns its id.")
    async def remove_check_in_agenda_item(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        raw = expect_global_id(id, "CheckInAgendaItem", field="id")
        async with info.context.mutation() as (s, p):
            await checkins.remove_agenda_item(s, p, raw)
        return id

    @strawberry.mutation(description="Add an action item (either participant).")
    async def add_check_in_action_item(
        self, info: Info, input: AddActionItemInput
    ) -> CheckInActionItem:
        raw = expect_global_id(input.check_in_id, "CheckIn", field="input.checkInId")
        owner = optional_global_id(input.owner_id, "Employee", field="input.ownerId")
        goal = optional_global_id(input.goal_id, "PlanGoal", field="input.goalId")
        async with info.context.mutation() as (s, p):
            row = await checkins.add_action_item(
                s, p, raw, body=input.body, owner_id=owner, due_on=input.due_on, goal_id=goal
            )
        return action_obj(row)

    @strawberry.mutation(
        description="Edit an action item, mark it done or undone (`done`), relink or unlink "
        "its goal (either participant)."
    )
    async def update_check_in_action_item(
        self, info: Info, id: strawberry.ID, input: UpdateActionItemInput
    ) -> CheckInActionItem:
        raw = expect_global_id(id, "CheckInActionItem", field="id")
        patch: dict[str, Any] = {}
        if input.body is not strawberry.UNSET:
            patch["body"] = input.body
        if input.owner_id is not strawberry.UNSET:
            patch["owner_id"] = optional_global_id(
                input.owner_id, "Employee", field="input.ownerId"
            )
        if input.due_on is not strawberry.UNSET:
            patch["due_on"] = input.due_on
        if input.goal_id is not strawberry.UNSET:
            patch["goal_id"] = optional_global_id(input.goal_id, "PlanGoal", field="input.goalId")
        if input.done is not strawberry.UNSET:
            patch["done"] = input.done
        async with info.context.mutation() as (s, p):
            row = await checkins.update_action_item(s, p, raw, patch)
        return action_obj(row)

    @strawberry.mutation(description="Remove an action item (either participant). Returns its id.")
    async def remove_check_in_action_item(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        raw = expect_global_id(id, "CheckInActionItem", field="id")
        async with info.context.mutation() as (s, p):
            await checkins.remove_action_item(s, p, raw)
        return id
