"""GraphQL for recognition insights: a person's recognition profile, leaderboards, and for HR
and managers participation, top values and unrecognized people. Thin resolvers over
recognition.insights (what counts, and why, is written there)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from upward import clock
from upward.errors import BadUserInput
from upward.graphql.lazy import Lazy
from upward.graphql.relay import (
    Connection,
    build_connection,
    optional_global_id,
    page_args,
    wants_total,
)
from upward.graphql.selection import Selection
from upward.recognition import insights
from upward.recognition.loaders import value_by_id_loader
from upward.recognition.schema import (
    CompanyValue,
    RecognitionPeriodInput,
    period_bounds,
    value_obj,
)

if TYPE_CHECKING:
    from upward.people.schema import Department, Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
DepartmentRef = Annotated["Department", strawberry.lazy("upward.people.schema")]


async def _viewer(ctx: Any) -> Any:
    from upward.people.loaders import viewer_of

    return await viewer_of(ctx)


def _employee_obj(ctx: Any, viewer: Any, row: Any) -> Any:
    from upward.people.schema import employee_obj

    return employee_obj(ctx, viewer, row)


async def _department(ctx: Any, department_id: uuid.UUID | None) -> Any:
    if department_id is None:
        return None
    from upward.people.loaders import department_by_id_loader
    from upward.people.schema import department_obj

    row = await department_by_id_loader(ctx).load(department_id)
    return department_obj(row) if row is not None else None


# --- shared ------------------------------------------------------------------------------------


@strawberry.type(description="How many kudos recognized a company value.")
class RecognitionValueCount:
    value: CompanyValue
    count: int


async def _value_counts(
    ctx: Any, pairs: list[tuple[uuid.UUID, int]]
) -> list[RecognitionValueCount]:
    rows = await value_by_id_loader(ctx).load_many([v for v, _ in pairs])
    return [
        RecognitionValueCount(value=value_obj(r), count=n)
        for r, (_, n) in zip(rows, pairs, strict=True)
        if r is not None
    ]


@strawberry.type(description="How many kudos a person gave.")
class RecognitionPersonCount:
    employee: EmployeeRef
    count: int


# --- profile -----------------------------------------------------------------------------------


@strawberry.type(
    description="A person's recognition in a period, counting only the kudos you may read "
    "(public ones, and private ones you gave, received, or that reached your reporting line; "
    "HR all), never hidden ones."
)
class RecognitionProfile:
    employee: EmployeeRef
    since: datetime | None = strawberry.field(description="The period's start (null: all time).")
    until: datetime | None = strawberry.field(description="The period's end, exclusive.")
    received_count: int = strawberry.field(description="Kudos received (milestones included).")
    given_count: int = strawberry.field(description="Kudos given.")
    points_received: int = strawberry.field(
        description="Points of the kudos received counted here (each kudos' points per "
        "receiver). The balance, which also holds hidden and unreadable kudos' points and "
        "redemptions, is the points summary's."
    )
    first_recognized_at: datetime | None = strawberry.field(
        description="The first kudos received in the period (null: none)."
    )
    last_recognized_at: datetime | None = strawberry.field(
        description="The latest kudos received in the period (null: none)."
    )
    _by_value: strawberry.Private[list[tuple[uuid.UUID, int]]]
    _givers: strawberry.Private[list[tuple[uuid.UUID, int]]]

    @strawberry.field(description="Kudos received per company value, most first.")
    async def received_by_value(self, info: Info) -> list[RecognitionValueCount]:
        return await _value_counts(info.context, self._by_value)

    @strawberry.field(
        description=f"Who recognized this person most, most first (at most "
        f"{insights.MAX_TOP_GIVERS})."
    )
    async def top_givers(self, info: Info, first: int = 5) -> list[RecognitionPersonCount]:
        from upward.people.loaders import employee_by_id_loader

        insights.check_first(first, insights.MAX_TOP_GIVERS)
        ctx = info.context
        viewer = await _viewer(ctx)
        pairs = self._givers[:first]
        rows = await employee_by_id_loader(ctx).load_many([g for g, _ in pairs])
        return [
            RecognitionPersonCount(employee=_employee_obj(ctx, viewer, r), count=n)
            for r, (_, n) in zip(rows, pairs, strict=True)
            if r is not None
        ]


# --- leaderboard -------------------------------------------------------------------------------


@strawberry.enum(description="What a leaderboard ranks by.")
class RecognitionLeaderboardBy(enum.Enum):
    RECEIVED = "received"
    GIVEN = "given"
    POINTS = "points"


@strawberry.type(description="A place on a leaderboard.")
class RecognitionLeaderboardEntry:
    rank: int = strawberry.field(
        description="Standard competition ranking: people with the same count share a rank "
        "and the next rank skips (1, 2, 2, 4); within a rank, by name."
    )
    employee: EmployeeRef
    kudos_count: int = strawberry.field(
        description="Kudos received (RECEIVED, POINTS) or given (GIVEN) in the period."
    )
    points: int = strawberry.field(
        description="Points received (RECEIVED, POINTS) or given (GIVEN: points x receivers) "
        "with those kudos."
    )


# --- participation -----------------------------------------------------------------------------


@strawberry.type(description="Who took part in recognition, among active people.")
class RecognitionParticipationRow:
    department: DepartmentRef | None = strawberry.field(
        description="null: people without a department, or the total row."
    )
    headcount: int = strawberry.field(description="Active people (in your scope).")
    givers: int = strawberry.field(description="Of them, how many gave a kudos in the period.")
    receivers: int = strawberry.field(description="Of them, how many received one.")
    giver_rate: float | None = strawberry.field(description="givers / headcount (0 to 1).")
    receiver_rate: float | None = strawberry.field(description="receivers / headcount.")


def _participation_row(ctx: Any, r: insights.Participation, *, total: bool) -> Any:
    did = None if total else r.department_id
    return RecognitionParticipationRow(
        department=Lazy(lambda: _department(ctx, did)),  # type: ignore[arg-type]
        headcount=r.headcount,
        givers=r.givers,
        receivers=r.receivers,
        giver_rate=r.giver_rate,
        receiver_rate=r.receiver_rate,
    )


@strawberry.type(
    description="Participation per department (by name; people without one last) and in "
    "total, counting the kudos you may read."
)
class RecognitionParticipation:
    since: datetime | None
    until: datetime | None
    departments: list[RecognitionParticipationRow]
    total: RecognitionParticipationRow


# --- unrecognized people -----------------------------------------------------------------------


@strawberry.type(description="A person nobody recognized lately.")
class UnrecognizedPerson:
    employee: EmployeeRef
    last_recognized_at: datetime | None = strawberry.field(
        description="Their latest kudos received (not hidden); null: never recognized."
    )
    days_since_recognized: int | None = strawberry.field(
        description="Whole days since then; null: never."
    )


def _unrecognized_obj(ctx: Any, viewer: Any, now: datetime) -> Any:
    def make(row: Any) -> UnrecognizedPerson:
        last = row["last_at"]
        return UnrecognizedPerson(
            employee=_employee_obj(ctx, viewer, row),
            last_recognized_at=last,
            days_since_recognized=(now - last).days if last is not None else None,
        )

    return make


# --- root fields -------------------------------------------------------------------------------


@strawberry.type
class InsightsQuery:
    @strawberry.field(
        description="A person's recognition (default: you) in a period (default: ALL_TIME), "
        "counting only the kudos you may read, never hidden ones. NOT_FOUND for a person you "
        "do not see."
    )
    async def recognition_profile(
        self,
        info: Info,
        employee_id: strawberry.ID | None = None,
        period: RecognitionPeriodInput | None = None,
    ) -> RecognitionProfile:
        ctx = info.context
        p = ctx.require_principal()
        eid = optional_global_id(employee_id, "Employee", field="employeeId") or p.employee_id
        if eid is None:
            raise BadUserInput(
                "give an employeeId (this token is not a person's)", field="employeeId"
            )
        since, until = period_bounds(ctx, period, field="period", default="all_time")
        viewer = await _viewer(ctx)
        async with ctx.session() as s:
            got = await insights.profile(s, viewer, employee_id=eid, since=since, until=until)
        return RecognitionProfile(
            employee=_employee_obj(ctx, viewer, got.employee),
            since=since,
            until=until,
            received_count=got.received,
            given_count=got.given,
            points_received=got.points,
            first_recognized_at=got.first_at,
            last_recognized_at=got.last_at,
            _by_value=got.by_value,
            _givers=got.top_givers,
        )

    @strawberry.field(
        description="The best of a period (default: THIS_MONTH) by kudos received, given or "
        "points received; public kudos from people only (milestones are not a contest), active "
        f"people only, optionally of one department. At most {insights.MAX_LEADERBOARD}."
    )
    async def recognition_leaderboard(
        self,
        info: Info,
        period: RecognitionPeriodInput | None = None,
        by: RecognitionLeaderboardBy = RecognitionLeaderboardBy.RECEIVED,
        department_id: strawberry.ID | None = None,
        first: int = 10,
    ) -> list[RecognitionLeaderboardEntry]:
        ctx = info.context
        p = ctx.require_principal()
        did = optional_global_id(department_id, "Department", field="departmentId")
        insights.check_first(first, insights.MAX_LEADERBOARD)
        since, until = period_bounds(ctx, period, field="period", default="this_month")
        viewer = await _viewer(ctx)
        async with ctx.session() as s:
            rows = await insights.leaderboard(
                s, p, by=by.value, since=since, until=until, department_id=did, first=first
            )
        return [
            RecognitionLeaderboardEntry(
                rank=r["rank"],
                employee=_employee_obj(ctx, viewer, r),
                kudos_count=r["kudos"],
                points=r["points"],
            )
            for r in rows
        ]

    @strawberry.field(
        description="Who gave and received kudos in a period (default: THIS_MONTH), per "
        "department and in total (HR: everyone; a manager: their reporting line; others: "
        "FORBIDDEN)."
    )
    async def recognition_participation(
        self,
        info: Info,
        period: RecognitionPeriodInput | None = None,
        department_id: strawberry.ID | None = None,
    ) -> RecognitionParticipation:
        ctx = info.context
        ctx.require_principal()
        did = optional_global_id(department_id, "Department", field="departmentId")
        since, until = period_bounds(ctx, period, field="period", default="this_month")
        viewer = await _viewer(ctx)
        async with ctx.session() as s:
            rows, total = await insights.participation(
                s, viewer, department_id=did, since=since, until=until
            )
        return RecognitionParticipation(
            since=since,
            until=until,
            departments=[_participation_row(ctx, r, total=False) for r in rows],
            total=_participation_row(ctx, total, total=True),
        )

    @strawberry.field(
        description="The company values most recognized in a period (default: THIS_MONTH), "
        f"most first, at most {insights.MAX_TOP_VALUES} (HR: every kudos; a manager: kudos "
        "their reporting line received; others: FORBIDDEN)."
    )
    async def recognition_top_values(
        self, info: Info, period: RecognitionPeriodInput | None = None, first: int = 10
    ) -> list[RecognitionValueCount]:
        ctx = info.context
        ctx.require_principal()
        insights.check_first(first, insights.MAX_TOP_VALUES)
        since, until = period_bounds(ctx, period, field="period", default="this_month")
        viewer = await _viewer(ctx)
        async with ctx.session() as s:
            pairs = await insights.top_values(s, viewer, since=since, until=until, first=first)
        return await _value_counts(ctx, pairs)

    @strawberry.field(
        description=f"Active people who received no kudos in the last `days` days (1-"
        f"{insights.MAX_DAYS}; not hidden, any visibility): never recognized first, then the "
        "longest without, then by name (HR: everyone; a manager: their reporting line; others: "
        "FORBIDDEN). Relay pagination: `first` (at most 100) with `after`, or `last` with "
        "`before`."
    )
    async def unrecognized_people(
        self,
        info: Info,
        days: int,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[UnrecognizedPerson]:
        ctx = info.context
        ctx.require_principal()
        order = insights.UNRECOGNIZED_ORDER
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        with_count = wants_total(Selection(info))
        viewer = await _viewer(ctx)
        now = clock.now()
        async with ctx.session() as s:
            page = await insights.unrecognized_people(
                s, viewer, days=days, page=args, with_count=with_count, now=now
            )
        return build_connection(
            ctx,
            page,
            order,
            _unrecognized_obj(ctx, viewer, now),
            sort_key=lambda r: (r["sort_at"], r["name"], r["id"]),
        )
