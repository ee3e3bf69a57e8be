"""Recognition insights: a person's recognition profile, leaderboards, and for HR and managers
participation by department, the values most recognized and the people nobody recognized
lately (with a weekly nudge to their managers through the notification engine).

What counts, everywhere here:

- A kudos counts from the moment it is given until HR hides it: a hidden kudos counts nowhere.
- A period is [since, until) on the kudos' `created_at` (presets in the tenant's timezone, see
  `recognition.periods`); no bound: all time.
- Points are the kudos' own: `kudos.points` is what each receiver got, so a person's points
  received are the sum of `points` over the kudos counted for them, and a giver's points given
  are `points` x receivers. This equals what the ledger wrote for those kudos (`ledger.give`
  and `ledger.fund_from_company` write exactly `points` to each receiver's `received` account);
  it is computed from the kudos, not from `points_entries`, so that the same visibility applies
  to points as to counts (the ledger knows no visibility) and a hidden kudos' points, which stay
  in the person's balance, are not shown here either.
- A profile counts the kudos its viewer reads (`kudos.visible_sql`: public ones, and private ones
  they gave, received or that reached their reporting line; HR all).
- A leaderboard is shown to everyone: it counts public kudos only, from people (peer kudos and
  manager awards; milestones from the company are not a contest), and lists active people only.
  Ranking is standard competition ranking ("1224"): people with the same count share a rank and
  the next rank skips; within a rank, by name.
- Participation, top values and unrecognized people are for HR (everyone) and managers (their
  reporting line, every level below them); an employee gets FORBIDDEN. Participation and top
  values count the kudos the viewer reads (for a manager: everything their line received, and
  what their line gave that the manager may read); "unrecognized" looks at every kudos
  received, any visibility.

Each read is one statement of hand-written SQL (aggregates over the biggest tables; a period's
are planned for their bounds, see `_fetch_for_period`, and docs/performance.md, "Recognition").
Services never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from upward import clock
from upward.auth.principal import Principal
from upward.db import Executor, Params, fetch
from upward.errors import BadUserInput, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, page_from_rows
from upward.people.service import EMPLOYEE_COLUMNS, Viewer
from upward.recognition import ledger
from upward.recognition.kudos import visible_sql

LEADERBOARD_BY = ("received", "given", "points")
MAX_LEADERBOARD = 100
MAX_TOP_VALUES = 100
MAX_TOP_GIVERS = 20
MAX_DAYS = 365
NUDGE_NAMES = 5
NUDGE_FROM = time(9)  # the week's nudges go out from Monday 09:00, tenant time
# the sort value of "never recognized" in `unrecognized_people` (before any real kudos)
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
# a kudos from people, public and shown: what a leaderboard counts
_BOARD_KUDOS = "k.visibility = 'public' and k.hidden_at is null and k.kind <> 'milestone'"


def _period(p: Params, since: datetime | None, until: datetime | None, *aliases: str) -> list[str]:
    """Conditions of [since, until) on `created_at` of each alias (receivers and values carry
    their kudos' `created_at`: bounding both lets the planner range-scan either side)."""
    conds = []
    lo = p.lazy(since, "::timestamptz")
    hi = p.lazy(until, "::timestamptz")
    for a in aliases:
        if since is not None:
            conds.append(f"{a}.created_at >= {lo}")
        if until is not None:
            conds.append(f"{a}.created_at < {hi}")
    return conds


def _and(conds: list[str]) -> str:
    return " and ".join(conds) or "true"


async def _fetch_for_period(
    session: Executor, sql: str, params: list[Any], since: datetime | None, until: datetime | None
) -> list[Any]:
    """`fetch` of an aggregate over [since, until), planned for its bounds. After five runs of a
    prepared statement PostgreSQL may switch to a generic plan, which does not know how many
    rows the bounds hold; on 1,000,000 kudos those plans cost 1.5-2x (docs/performance.md,
    "Recognition"). Transaction-local, set back after the statement."""
    if since is None and until is None:
        return await fetch(session, sql, *params)
    await fetch(session, "set local plan_cache_mode = force_custom_plan")
    rows = await fetch(session, sql, *params)
    await fetch(session, "set local plan_cache_mode = auto")
    return rows


def scope_of(viewer: Viewer, what: str) -> list[uuid.UUID] | None:
    """Whose insights the viewer reads: None for everyone (HR), else their reporting line
    (a manager); FORBIDDEN for anyone else."""
    p = viewer.principal
    if p.is_hr:
        return None
    if p.is_manager and p.employee_id is not None:
        return sorted(viewer.line)
    raise Forbidden(f"{what} is for managers (their reporting line) and HR")


def check_first(first: int, most: int, *, field: str = "first") -> int:
    if not 0 < first <= most:
        raise BadUserInput(f"`{field}` must be between 1 and {most}", field=field)
    return first


# --- profile -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    employee: Any  # the employees row (EMPLOYEE_COLUMNS)
    received: int
    given: int
    points: int
    first_at: datetime | None
    last_at: datetime | None
    by_value: list[tuple[uuid.UUID, int]]  # (value, kudos), most first
    top_givers: list[tuple[uuid.UUID, int]]  # (giver, kudos), most first (MAX_TOP_GIVERS)


def profile_sql(
    viewer: Viewer, employee_id: uuid.UUID, since: datetime | None, until: datetime | None
) -> tuple[str, list[Any]]:
    p = Params()
    me = p(employee_id, "::uuid")
    vis = visible_sql(viewer, "k", p)  # never hidden ones, for HR too
    active = "" if viewer.sees_offboarded else " and e.status = 'active'"
    givers_shown = "" if viewer.sees_offboarded else "where g.status = 'active'"
    sql = f"""
        with rec as materialized (
          select k.tenant_id, k.id, k.giver_id, k.points, k.created_at
          from kudos_receivers r join kudos k on k.tenant_id = r.tenant_id and k.id = r.kudos_id
          where r.employee_id = {me} and {vis} and {_and(_period(p, since, until, "r"))}
        ), vals as (
          select v.id, count(*)::int as n, v.position, lower(v.name) as name
          from rec join kudos_values kv on kv.tenant_id = rec.tenant_id and kv.kudos_id = rec.id
          join company_values v on v.tenant_id = kv.tenant_id and v.id = kv.value_id
          group by v.id, v.position, lower(v.name)
        ), givers as (
          select g.id, count(*)::int as n, g.name
          from rec join employees g on g.tenant_id = rec.tenant_id and g.id = rec.giver_id
          {givers_shown}
          group by g.id, g.name order by n desc, g.name, g.id limit {MAX_TOP_GIVERS}
        )
        select {EMPLOYEE_COLUMNS},
          (select count(*) from rec)::int as received,
          (select coalesce(sum(points), 0) from rec)::int as points,
          (select min(created_at) from rec) as first_at,
          (select max(created_at) from rec) as last_at,
          (select count(*) from kudos k where k.giver_id = {me} and {vis}
             and {_and(_period(p, since, until, "k"))})::int as given,
          (select array_agg(id order by n desc, position, name, id) from vals) as value_ids,
          (select array_agg(n order by n desc, position, name, id) from vals) as value_counts,
          (select array_agg(id order by n desc, name, id) from givers) as giver_ids,
          (select array_agg(n order by n desc, name, id) from givers) as giver_counts
        from employees e where e.id = {me}{active}
    """  # noqa: S608 - fragments are constants; values travel as parameters
    return sql, p.values


async def profile(
    session: Executor,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Profile:
    """A person's recognition in a period, as far as the viewer reads it: NOT_FOUND for a person
    the viewer does not see (offboarded, for anyone but HR), like one that never existed."""
    sql, params = profile_sql(viewer, employee_id, since, until)
    rows = await fetch(session, sql, *params)
    if not rows:
        raise NotFound("no employee with this id", field="employeeId")
    r = rows[0]
    return Profile(
        employee=r,
        received=r["received"],
        given=r["given"],
        points=r["points"],
        first_at=r["first_at"],
        last_at=r["last_at"],
        by_value=list(zip(r["value_ids"] or [], r["value_counts"] or [], strict=True)),
        top_givers=list(zip(r["giver_ids"] or [], r["giver_counts"] or [], strict=True)),
    )


# --- leaderboards ------------------------------------------------------------------------------


def leaderboard_sql(
    *,
    by: str,
    since: datetime | None,
    until: datetime | None,
    department_id: uuid.UUID | None,
    first: int,
) -> tuple[str, list[Any]]:
    """Rows: EMPLOYEE_COLUMNS, then kudos, points, rank.

    One pass over the period's (receiver, kudos) pairs, bounded on both sides so that either
    can be range-scanned: per receiver, count and points; per giver, distinct kudos and the
    points of every pair (points per receiver x receivers). Then the ranks over active people
    with narrow rows, and the employees' columns for the page only."""
    if by not in LEADERBOARD_BY:
        raise ValueError(by)
    p = Params()
    if by == "given":
        who, kudos = "k.giver_id", "count(distinct k.id)"
    else:
        who, kudos = "r.employee_id", "count(*)"  # (a person receives a kudos once)
    metric = "points" if by == "points" else "kudos"
    conds = ["e.status = 'active'"]
    if department_id is not None:
        conds.append(f"e.department_id = {p(department_id, '::uuid')}")
    if by == "points":
        conds.append("b.points > 0")
    board = f"""
          select {who} as employee_id, {kudos}::int as kudos,
                 coalesce(sum(k.points), 0)::int as points
          from kudos_receivers r join kudos k on k.tenant_id = r.tenant_id and k.id = r.kudos_id
          where {_BOARD_KUDOS} and {_and(_period(p, since, until, "r", "k"))}
          group by {who}
    """  # noqa: S608
    return _ranked(board, conds, metric, first), p.values


def _ranked(board: str, conds: list[str], metric: str, first: int) -> str:
    """A leaderboard from `board` (rows: employee_id, kudos, points): ranks over active people
    with narrow rows, then the employees' columns for the page only."""
    # the limit is a literal (an int we checked): plans are cached per statement text
    return f"""
        with board as ({board}), ranked as (
          select b.employee_id, b.kudos, b.points, e.name,
                 rank() over (order by b.{metric} desc)::int as rank
          from board b join employees e on e.id = b.employee_id
          where {_and(conds)}
          order by rank, e.name, e.id
          limit {int(first):d}
        )
        select {EMPLOYEE_COLUMNS}, x.kudos, x.points, x.rank
        from ranked x join employees e on e.id = x.employee_id
        order by x.rank, x.name, e.id
    """  # noqa: S608


def month_aligned(since: datetime | None, until: datetime | None, timezone: str) -> bool:
    """Whether [since, until) is whole tenant months (or unbounded): what the monthly counts
    answer."""
    zone = clock.zone(timezone)
    for bound in (since, until):
        if bound is not None:
            local = bound.astimezone(zone)
            if local.day != 1 or local.time() != time(0):
                return False
    return True


def monthly_leaderboard_sql(
    *,
    by: str,
    since: datetime | None,
    until: datetime | None,
    timezone: str,
    department_id: uuid.UUID | None,
    first: int,
) -> tuple[str, list[Any]]:
    """`leaderboard_sql` over whole tenant months, from `recognition_monthly` (kept with every
    give, hide and unhide): rows per person and month instead of per kudos."""
    if by not in LEADERBOARD_BY:
        raise ValueError(by)
    p = Params()
    kudos, points = ("given", "given_points") if by == "given" else ("received", "received_points")
    conds = []
    zone = clock.zone(timezone)
    if since is not None:
        conds.append(f"m.month >= {p(since.astimezone(zone).date(), '::date')}")
    if until is not None:
        conds.append(f"m.month < {p(until.astimezone(zone).date(), '::date')}")
    metric = "points" if by == "points" else "kudos"
    people = ["e.status = 'active'"]
    if department_id is not None:
        people.append(f"e.department_id = {p(department_id, '::uuid')}")
    having = "sum(m.received_points) > 0" if by == "points" else f"sum(m.{kudos}) > 0"
    board = f"""
          select m.employee_id, sum(m.{kudos})::int as kudos, sum(m.{points})::int as points
          from recognition_monthly m where {_and(conds)}
          group by m.employee_id having {having}
    """  # noqa: S608
    return _ranked(board, people, metric, first), p.values


async def leaderboard(
    session: Executor,
    principal: Principal,
    *,
    by: str = "received",
    since: datetime | None = None,
    until: datetime | None = None,
    department_id: uuid.UUID | None = None,
    first: int = 10,
) -> list[Any]:
    """The best `first` of a period by kudos received, kudos given or points received (rows:
    the employee's columns, then `kudos`, `points`, `rank`). Public kudos only: the same board
    for everyone in the tenant."""
    check_first(first, MAX_LEADERBOARD)
    if by not in LEADERBOARD_BY:
        raise BadUserInput("by must be RECEIVED, GIVEN or POINTS", field="by")
    tz = principal.tenant_timezone
    if month_aligned(since, until, tz):
        sql, params = monthly_leaderboard_sql(
            by=by, since=since, until=until, timezone=tz, department_id=department_id, first=first
        )
        return list(await fetch(session, sql, *params))
    sql, params = leaderboard_sql(
        by=by, since=since, until=until, department_id=department_id, first=first
    )
    return list(await _fetch_for_period(session, sql, params, since, until))


REBUILD_MONTHLY_SQL = f"""
with counted as (
  select r.employee_id, k.created_at, 1 as received, k.points as received_points,
         0 as given, 0 as given_points
  from kudos_receivers r join kudos k on k.tenant_id = r.tenant_id and k.id = r.kudos_id
  where {_BOARD_KUDOS} and k.tenant_id = current_setting('app.tenant_id')::uuid
  union all
  select k.giver_id, k.created_at, 0, 0, 1,
         k.points * (select count(*) from kudos_receivers n
                     where n.tenant_id = k.tenant_id and n.kudos_id = k.id)::int
  from kudos k where {_BOARD_KUDOS} and k.tenant_id = current_setting('app.tenant_id')::uuid
)
insert into recognition_monthly
    (tenant_id, month, employee_id, received, received_points, given, given_points)
select current_setting('app.tenant_id')::uuid,
       date_trunc('month', c.created_at at time zone $1)::date, c.employee_id,
       sum(c.received), sum(c.received_points), sum(c.given), sum(c.given_points)
from counted c group by 2, 3
"""  # noqa: S608


async def rebuild_monthly(session: Executor, timezone: str) -> int:
    """Recount the session tenant's `recognition_monthly` from its kudos (after a bulk load, or
    a change of the tenant's timezone: months are the tenant's). Returns the rows written."""
    await fetch(
        session,
        "delete from recognition_monthly where tenant_id = current_setting('app.tenant_id')::uuid",
    )
    rows = await fetch(session, REBUILD_MONTHLY_SQL + " returning 1", timezone)
    return len(rows)


# --- participation, top values (HR and managers) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Participation:
    department_id: uuid.UUID | None
    headcount: int
    givers: int
    receivers: int

    @property
    def giver_rate(self) -> float | None:
        return round(self.givers / self.headcount, 4) if self.headcount else None

    @property
    def receiver_rate(self) -> float | None:
        return round(self.receivers / self.headcount, 4) if self.headcount else None


def _people_conds(
    p: Params, scope: list[uuid.UUID] | None, department_id: uuid.UUID | None
) -> list[str]:
    conds = ["e.status = 'active'"]
    if scope is not None:
        conds.append(f"e.id = any({p(scope, '::uuid[]')})")
    if department_id is not None:
        conds.append(f"e.department_id = {p(department_id, '::uuid')}")
    return conds


# up to this span the participation query aggregates the period's kudos; beyond it, it probes
# each person (the first hit stops), whose cost does not grow with the period
PARTICIPATION_SCAN_DAYS = 62


def participation_sql(
    viewer: Viewer,
    scope: list[uuid.UUID] | None,
    *,
    department_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[str, list[Any]]:
    p = Params()
    vis = visible_sql(viewer, "k", p)
    people = _and(_people_conds(p, scope, department_id))
    short = (
        since is not None
        and until is not None
        and until - since <= timedelta(days=PARTICIPATION_SCAN_DAYS)
    )
    if short:
        gave = _and(_period(p, since, until, "k"))
        got = _and(_period(p, since, until, "r", "k"))
        sql = f"""
            with gave as (
              select distinct k.giver_id as id from kudos k
              where k.giver_id is not null and {vis} and {gave}
            ), got as (
              select distinct r.employee_id as id from kudos_receivers r
              join kudos k on k.tenant_id = r.tenant_id and k.id = r.kudos_id
              where {vis} and {got}
            )
            select e.department_id, count(*)::int as headcount, count(g.id)::int as givers,
                   count(x.id)::int as receivers
            from employees e
            left join departments d on d.tenant_id = e.tenant_id and d.id = e.department_id
            left join gave g on g.id = e.id
            left join got x on x.id = e.id
            where {people}
            group by e.department_id, d.name
            order by d.name nulls last, e.department_id
        """  # noqa: S608
        return sql, p.values
    gave = _and(_period(p, since, until, "k"))
    got = _and(_period(p, since, until, "r"))  # (a bound on the probed kudos too costs 2x)
    sql = f"""
        select e.department_id, count(*)::int as headcount,
          count(*) filter (where exists (
            select 1 from kudos k where k.tenant_id = e.tenant_id and k.giver_id = e.id
            and {vis} and {gave}))::int as givers,
          count(*) filter (where exists (
            select 1 from kudos_receivers r
            join kudos k on k.tenant_id = r.tenant_id and k.id = r.kudos_id
            where r.tenant_id = e.tenant_id and r.employee_id = e.id
            and {vis} and {got}))::int as receivers
        from employees e
        left join departments d on d.tenant_id = e.tenant_id and d.id = e.department_id
        where {people}
        group by e.department_id, d.name
        order by d.name nulls last, e.department_id
    """  # noqa: S608
    return sql, p.values


async def participation(
    session: Executor,
    viewer: Viewer,
    *,
    department_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[Participation], Participation]:
    """Per department (by name; people without one last): active people, how many of them gave
    and received at least one kudos in the period; and the total."""
    scope = scope_of(viewer, "recognition participation")
    sql, params = participation_sql(
        viewer, scope, department_id=department_id, since=since, until=until
    )
    rows = [
        Participation(r["department_id"], r["headcount"], r["givers"], r["receivers"])
        for r in await _fetch_for_period(session, sql, params, since, until)
    ]
    total = Participation(
        None,
        sum(r.headcount for r in rows),
        sum(r.givers for r in rows),
        sum(r.receivers for r in rows),
    )
    return rows, total


def top_values_sql(
    viewer: Viewer,
    scope: list[uuid.UUID] | None,
    *,
    since: datetime | None,
    until: datetime | None,
    first: int,
) -> tuple[str, list[Any]]:
    p = Params()
    conds = [visible_sql(viewer, "k", p), *_period(p, since, until, "kv", "k")]
    if scope is not None:
        conds.append(
            "exists (select 1 from kudos_receivers r where r.tenant_id = k.tenant_id "  # noqa: S608
            f"and r.kudos_id = k.id and r.employee_id = any({p(scope, '::uuid[]')}))"
        )
    sql = f"""
        with counts as (
          select kv.value_id, count(*)::int as n
          from kudos_values kv join kudos k on k.tenant_id = kv.tenant_id and k.id = kv.kudos_id
          where {_and(conds)}
          group by kv.value_id
        )
        select v.id, c.n from counts c
        join company_values v on v.id = c.value_id
        order by c.n desc, v.position, lower(v.name), v.id
        limit {int(first):d}
    """  # noqa: S608
    return sql, p.values


async def top_values(
    session: Executor,
    viewer: Viewer,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    first: int = 10,
) -> list[tuple[uuid.UUID, int]]:
    """The values most recognized in the period: [(value, kudos)], most first (retired values
    too: they were recognized). For a manager, kudos their reporting line received."""
    check_first(first, MAX_TOP_VALUES)
    scope = scope_of(viewer, "recognition top values")
    sql, params = top_values_sql(viewer, scope, since=since, until=until, first=first)
    rows = await _fetch_for_period(session, sql, params, since, until)
    return [(r["id"], r["n"]) for r in rows]


# --- unrecognized people -----------------------------------------------------------------------

UNRECOGNIZED_ORDER = Order(
    key="recognition:unrecognized",
    columns=(sa.column("sort_at"), sa.column("name"), sa.column("id")),
    descending=False,
    parse=(datetime.fromisoformat, str, uuid.UUID),
    sql_types=("timestamptz", "text", "uuid"),
)

# a person's latest kudos received that is not hidden (any visibility): the receivers' index
# backwards, the first one not hidden (an anti-join: with a partial index of the few hidden
# kudos it probes that small index instead of every kudos row). A lateral join, so that it runs
# once per person (a column subquery runs again for each use of the column).
_LAST_RECEIVED = """left join lateral (
  select r.created_at as last_at from kudos_receivers r
  where r.tenant_id = e.tenant_id and r.employee_id = e.id
    and not exists (select 1 from kudos h where h.tenant_id = r.tenant_id and h.id = r.kudos_id
                    and h.hidden_at is not null)
  order by r.created_at desc limit 1) l on true"""


def check_days(days: int, *, field: str = "days") -> int:
    if not 0 < days <= MAX_DAYS:
        raise BadUserInput(f"`{field}` must be between 1 and {MAX_DAYS}", field=field)
    return days


def unrecognized_sql(
    scope: list[uuid.UUID] | None, *, since: datetime, page: PageArgs, with_count: bool
) -> tuple[str, list[Any], int, tuple[str, list[Any]]]:
    """(page SQL, its parameters, page size, (count SQL, its parameters)). Rows:
    EMPLOYEE_COLUMNS, then last_at, sort_at[, __total]."""
    p = Params()
    people = _and(_people_conds(p, scope, None))
    cut = p(since, "::timestamptz")
    never = p(NEVER, "::timestamptz")
    due = f"""
        due as (select {EMPLOYEE_COLUMNS}, l.last_at, coalesce(l.last_at, {never}) as sort_at
                from employees e {_LAST_RECEIVED}
                where {people} and (l.last_at is null or l.last_at < {cut}))"""  # noqa: S608
    count_sql = (f"with {due} select count(*) from due", list(p.values))  # noqa: S608
    backward = page.last is not None and page.first is None
    size = (page.last if backward else page.first) or 20
    keyset = []
    for values, forward in ((page.after, True), (page.before, False)):
        if values is None:
            continue
        field = "after" if forward else "before"
        if len(values) != 3:
            raise BadUserInput("invalid cursor", field=field)
        try:
            ph = [
                p(UNRECOGNIZED_ORDER.parse[i](v), f"::{UNRECOGNIZED_ORDER.sql_types[i]}")
                for i, v in enumerate(values)
            ]
        except (TypeError, ValueError):
            raise BadUserInput("invalid cursor", field=field) from None
        keyset.append(f"(d.sort_at, d.name, d.id) {'>' if forward else '<'} ({', '.join(ph)})")
    direction = "desc" if backward else "asc"
    total = ", (select count(*) from due) as __total" if with_count else ""
    sql = f"""
        with {due}
        select d.*{total} from due d where {_and(keyset)}
        order by d.sort_at {direction}, d.name {direction}, d.id {direction}
        limit {int(size) + 1:d}
    """  # noqa: S608
    return sql, p.values, size, count_sql


async def unrecognized_people(
    session: Executor,
    viewer: Viewer,
    *,
    days: int,
    page: PageArgs,
    with_count: bool = False,
    now: datetime | None = None,
) -> Page:
    """Active people (everyone for HR, the reporting line for a manager) who received no kudos
    (not hidden, any visibility) in the last `days` days: never recognized first, then the
    longest without, then by name. Rows: the employee's columns, `last_at` (None: never)."""
    scope = scope_of(viewer, "unrecognized people")
    check_days(days)
    since = (now or clock.now()) - timedelta(days=days)
    sql, params, size, count_sql = unrecognized_sql(
        scope, since=since, page=page, with_count=with_count
    )
    rows = list(await fetch(session, sql, *params))
    return page_from_rows(rows, size, page, count_sql=count_sql, with_count=with_count)


# --- the weekly nudge to managers --------------------------------------------------------------

_NUDGE_SQL = f"""
with reports as (
  select e.id, e.name, e.manager_id, l.last_at
  from employees e
  join employees m on m.tenant_id = e.tenant_id and m.id = e.manager_id and m.status = 'active'
  {_LAST_RECEIVED}
  where e.status = 'active'
    and coalesce(e.hire_date, (e.created_at at time zone $3)::date) <= $2
)
select manager_id, count(*)::int as n,
       (array_agg(id order by last_at nulls first, name, id))[1:{NUDGE_NAMES}] as ids,
       (array_agg(name order by last_at nulls first, name, id))[1:{NUDGE_NAMES}] as names
from reports where last_at is null or last_at < $1
group by manager_id
order by manager_id
"""  # noqa: S608 - constant SQL


def week_key(moment: datetime, timezone: str) -> str:
    """The ISO week of `moment` in `timezone`: 2026-W49."""
    iso = moment.astimezone(clock.zone(timezone)).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _names(names: list[str], total: int) -> str:
    if total > len(names):
        return f"{', '.join(names)} and {total - len(names)} more"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


async def nudge_managers(
    session: Executor, principal: Principal, *, now: datetime | None = None
) -> int:
    """Tell each active manager whose active direct reports include people not recognized for
    the tenant's `nudge_after_days` (in-app and email, per their preference), listing up to
    NUDGE_NAMES of them (never recognized first, then the longest without) and how many. Once
    per manager per ISO week of the tenant (the notification's idempotency key), from Monday
    NUDGE_FROM tenant time; a person who joined less than `nudge_after_days` ago is not
    counted yet. Returns the notifications written (0 when run again in the same week)."""
    from upward.reminders.outbox import EventNote, notify_people

    now = now or clock.now()
    tz = principal.tenant_timezone
    local = now.astimezone(clock.zone(tz))
    if local.weekday() == 0 and local.time() < NUDGE_FROM:
        return 0
    rules = await ledger.rules_of(session)
    days = rules.nudge_after_days
    joined_by: date = local.date() - timedelta(days=days)
    rows = await fetch(session, _NUDGE_SQL, now - timedelta(days=days), joined_by, tz)
    week = week_key(now, tz)
    notes = []
    for r in rows:
        n = r["n"]
        who = "person" if n == 1 else "people"
        notes.append(
            EventNote(
                r["manager_id"],
                f"recognition_nudge:{r['manager_id']}:{week}",
                f"{n} {who} on your team {'has' if n == 1 else 'have'} not been recognized "
                f"in {days} days",
                f"{_names(list(r['names']), n)} {'has' if n == 1 else 'have'} not received "
                f"kudos in the last {days} days. A thank-you for something specific goes a "
                "long way.",
                {
                    "event": "recognition.nudge",
                    "week": week,
                    "days": days,
                    "count": n,
                    "employee_ids": [str(i) for i in r["ids"]],
                },
            )
        )
    created = await notify_people(session, principal.tenant_id, notes)
    return len(created.notification_ids)
