"""People rules: who may see and change whom, the manager chain, validation, audit.

Plain async functions over a session and a Principal; the GraphQL layer and workers share them.
Services never commit: the request or actor boundary owns the transaction.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, Params, fetch, is_unique_violation, rows_by_ids, xact_lock
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, page_from_rows
from upward.people.models import (
    ASSIGNABLE_ROLES,
    EMPLOYEE_STATUSES,
    Department,
    Employee,
    Location,
)
from upward.people.validation import (
    check_country,
    check_hire_date,
    check_timezone,
    normalize_email,
    optional_text,
    reject_nul,
    require_text,
)

t_emp = Employee.__table__
t_dep = Department.__table__
t_loc = Location.__table__

EMPLOYEE_FIELDS = (
    "tenant_id",
    "id",
    "email",
    "name",
    "title",
    "job_level",
    "manager_id",
    "department_id",
    "location_id",
    "roles",
    "status",
    "timezone",
    "hire_date",
    "offboarded_at",
    "created_at",
    "updated_at",
    "external_id",
)
EMPLOYEE_COLUMNS = ", ".join(f"e.{c}" for c in EMPLOYEE_FIELDS)
MAX_CHAIN_DEPTH = 64

# Related rows the list query can join in one statement, by GraphQL field name.
JOINABLE = ("manager", "department", "location")


# --- visibility ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Viewer:
    """What a principal may see about people. Managers see private fields of their line."""

    principal: Principal
    line: frozenset[uuid.UUID] = field(default_factory=frozenset)

    def sees_private(self, employee_id: uuid.UUID) -> bool:
        p = self.principal
        return p.is_hr or employee_id == p.employee_id or employee_id in self.line

    def private_ids(self) -> list[uuid.UUID] | None:
        """Whose private data the viewer reads: None for everyone (HR), else their own id and
        their line's (the list form of `sees_private`, for SQL filters)."""
        p = self.principal
        if p.is_hr:
            return None
        ids = set(self.line)
        if p.employee_id is not None:
            ids.add(p.employee_id)
        return sorted(ids)

    @property
    def sees_offboarded(self) -> bool:
        return self.principal.is_hr


async def load_viewer(session: Executor, principal: Principal) -> Viewer:
    line: frozenset[uuid.UUID] = frozenset()
    if principal.is_manager and not principal.is_hr and principal.employee_id:
        line = frozenset(await reporting_line_ids(session, principal.employee_id))
    return Viewer(principal, line)


def _visible(viewer: Viewer, table: sa.Table = t_emp) -> list[Any]:
    return [] if viewer.sees_offboarded else [table.c.status == "active"]


# --- reads ---------------------------------------------------------------------------------------


async def employees_by_ids(
    session: Executor, viewer: Viewer, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    ids = list(set(ids))
    if not ids:
        return {}
    stmt = sa.select(t_emp).where(t_emp.c.id.in_(ids), *_visible(viewer))
    return {row.id: row for row in (await session.execute(stmt)).all()}


async def departments_by_ids(session: Executor, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return await rows_by_ids(session, t_dep, ids)


async def locations_by_ids(session: Executor, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return await rows_by_ids(session, t_loc, ids)


async def get_employee(session: Executor, viewer: Viewer, employee_id: uuid.UUID) -> Any:
    row = (await employees_by_ids(session, viewer, [employee_id])).get(employee_id)
    if row is None:
        raise NotFound("no employee with this id")
    return row


@dataclass(frozen=True, slots=True)
class EmployeeFilter:
    search: str | None = None
    department_ids: tuple[uuid.UUID, ...] | None = None
    location_ids: tuple[uuid.UUID, ...] | None = None
    manager_id: uuid.UUID | None = None
    status: str | None = "active"  # None: any status (HR only)
    job_levels: tuple[str, ...] | None = None


def _order(column: str, descending: bool) -> Order:
    col = t_emp.c[column]
    return Order(
        key=f"employees:{column}:{'desc' if descending else 'asc'}",
        columns=(col, t_emp.c.id),
        descending=descending,
        parse=(str, uuid.UUID),
        sql_types=("text", "uuid"),
    )


EMPLOYEE_ORDERS = {
    "NAME_ASC": _order("name", False),
    "NAME_DESC": _order("name", True),
    "EMAIL_ASC": _order("email", False),
    "EMAIL_DESC": _order("email", True),
}


# Row shapes. A list query selects only the columns its caller will read: the employee's own
# (always with `id`), then, when joined, those of the manager, department and location. The
# layout maps each part to {column: position} in the row (positional access is the hot path).
DEPARTMENT_FIELDS = tuple(c.name for c in t_dep.c)
LOCATION_FIELDS = tuple(c.name for c in t_loc.c)
assert tuple(c.name for c in t_emp.c) == EMPLOYEE_FIELDS


@dataclass(frozen=True, slots=True)
class EmployeeShape:
    """Which columns a list query fetches; None for a relation that is not joined."""

    base: tuple[str, ...] = EMPLOYEE_FIELDS
    manager: tuple[str, ...] | None = None
    department: tuple[str, ...] | None = None
    location: tuple[str, ...] | None = None

    def parts(self) -> list[tuple[str, tuple[str, ...]]]:
        out = [("base", self.base)]
        for name in JOINABLE:
            cols = getattr(self, name)
            if cols is not None:
                out.append((name, cols))
        return out


FULL_SHAPE = EmployeeShape()
Layout = dict[str, dict[str, int]]
PRESENT = "__present__"


@functools.cache
def row_layout(shape: EmployeeShape) -> Layout:
    """{part: {column: position}} for rows of `list_employees(..., shape=shape)`. A joined
    part also maps PRESENT to one of its NOT NULL columns: NULL there means no related row
    (none, or hidden from the viewer)."""
    layout: Layout = {}
    pos = 0
    for name, cols in shape.parts():
        layout[name] = {c: pos + i for i, c in enumerate(cols)}
        if name != "base":
            present = next((c for c in ("id", "name", "email") if c in cols), None)
            if present is None:
                raise ValueError(f"joined part {name} needs id or another NOT NULL column")
            layout[name][PRESENT] = layout[name][present]
        pos += len(cols)
    return layout


FULL_LAYOUT = row_layout(FULL_SHAPE)["base"]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(
    viewer: Viewer, f: EmployeeFilter, p: Params, *, line_of: uuid.UUID | None
) -> list[str]:
    """The WHERE conditions of an employee list (alias `e`), validated."""
    conds: list[str] = []
    if f.status is not None:
        if f.status not in EMPLOYEE_STATUSES:
            raise BadUserInput(f"unknown status {f.status!r}", field="filter.status")
        if f.status != "active" and not viewer.sees_offboarded:
            raise Forbidden("only hr_admin and tenant_admin can list offboarded employees")
        conds.append(f"e.status = '{f.status}'")  # a validated constant: plans can use it
    elif not viewer.sees_offboarded:
        raise Forbidden("listing every status (status: null) needs hr_admin or tenant_admin")
    if f.search:
        reject_nul(f.search, field="filter.search")
        term = f.search.strip()
        if len(term) > 100:
            raise BadUserInput("search must be at most 100 characters", field="filter.search")
        if term:
            pattern = p(_like(term), "::text")
            conds.append(
                f"(e.name ilike {pattern} escape '\\' or e.email ilike {pattern} escape '\\')"
            )
    if f.department_ids is not None:
        conds.append(f"e.department_id = any({p(list(f.department_ids), '::uuid[]')})")
    if f.location_ids is not None:
        conds.append(f"e.location_id = any({p(list(f.location_ids), '::uuid[]')})")
    if f.manager_id is not None:
        conds.append(f"e.manager_id = {p(f.manager_id, '::uuid')}")
    if f.job_levels is not None:
        for level in f.job_levels:
            reject_nul(level, field="filter.jobLevels")
        conds.append(f"e.job_level = any({p(list(f.job_levels), '::text[]')})")
    if line_of is not None:
        conds.append(f"e.id in ({_LINE_SQL.format(root=p(line_of, '::uuid'))})")
    return conds


# everyone below a manager, all levels (the manager chain is kept acyclic)
_LINE_SQL = (
    "with recursive line(id, depth) as ("  # noqa: S608 - constant SQL
    "select id, 1 from employees where manager_id = {root} and status = 'active' "
    "union all select c.id, line.depth + 1 from employees c join line on c.manager_id = line.id "
    f"where c.status = 'active' and line.depth < {MAX_CHAIN_DEPTH}) select id from line"
)
_JOINS = {
    "manager": "left join employees m on m.tenant_id = e.tenant_id and m.id = e.manager_id{extra}",
    "department": "left join departments d on d.tenant_id = e.tenant_id and d.id = e.department_id",
    "location": "left join locations l on l.tenant_id = e.tenant_id and l.id = e.location_id",
}
_ALIAS = {"base": "e", "manager": "m", "department": "d", "location": "l"}


def _page_sql(
    viewer: Viewer,
    shape: EmployeeShape,
    conds: list[str],
    p: Params,
    order: Order,
    args: PageArgs,
    with_count: bool,
) -> tuple[str, int]:
    """SELECT of one page (+1 row) of `shape`'s columns, and the page size."""
    if "id" not in shape.base:
        raise ValueError("the employee part of a shape must include id")
    select = [f"{_ALIAS[name]}.{c}" for name, cols in shape.parts() for c in cols]
    joins = [
        _JOINS[name].format(extra="" if viewer.sees_offboarded else " and m.status = 'active'")
        for name, _ in shape.parts()
        if name != "base"
    ]
    where = list(conds)
    if with_count:
        inner = " and ".join(conds) or "true"
        # fragments are constants with $n placeholders: values travel as parameters
        select.append(f"(select count(*) from employees e where {inner}) as __total")  # noqa: S608
    backward = args.last is not None and args.first is None
    size = (args.last if backward else args.first) or 20
    cols = [f"e.{c.name}" for c in order.columns]
    for values, forward in ((args.after, True), (args.before, False)):
        if values is None:
            continue
        field = "after" if forward else "before"
        if len(values) != len(cols):
            raise BadUserInput("invalid cursor", field=field)
        try:
            placeholders = ", ".join(
                p(order.parse[i](v), f"::{order.sql_types[i]}") for i, v in enumerate(values)
            )
        except (TypeError, ValueError):
            raise BadUserInput("invalid cursor", field=field) from None
        op = ">" if forward != order.descending else "<"
        where.append(f"({', '.join(cols)}) {op} ({placeholders})")
    desc = order.descending != backward
    order_by = ", ".join(f"{c} {'desc' if desc else 'asc'}" for c in cols)
    # The limit is a literal (an int we computed): with no parameter the first page's statement
    # is planned once per connection instead of at every execution (~0.7 ms of planning).
    sql = (
        f"select {', '.join(select)} from employees e {' '.join(joins)} "  # noqa: S608
        f"where {' and '.join(where) or 'true'} order by {order_by} limit {int(size) + 1:d}"
    )
    return sql, size


async def list_employees(
    session: Executor,
    viewer: Viewer,
    *,
    filter: EmployeeFilter,
    order: str = "NAME_ASC",
    page: PageArgs,
    shape: EmployeeShape = FULL_SHAPE,
    line_of: uuid.UUID | None = None,
    with_count: bool = False,
) -> Page:
    """A page of employees (of `line_of`'s reporting line, when given). `shape` says which
    columns and joined relations to fetch; it must include the order's columns. Rows are
    positional (see `row_layout`). Hand-written SQL: this is the hottest query of the API."""
    p = Params()
    conds = _conditions(viewer, filter, p, line_of=line_of)
    cond_params = list(p.values)
    sort = EMPLOYEE_ORDERS[order]
    sql, size = _page_sql(viewer, shape, conds, p, sort, page, with_count)
    rows = list(await fetch(session, sql, *p.values))
    count_sql = (
        f"select count(*) from employees e where {' and '.join(conds) or 'true'}",  # noqa: S608
        cond_params,
    )
    return page_from_rows(rows, size, page, count_sql=count_sql, with_count=with_count)


async def reporting_line_ids(session: Executor, root: uuid.UUID) -> list[uuid.UUID]:
    """Everyone below `root`, all levels (active people only)."""
    return [r[0] for r in await fetch(session, _LINE_SQL.format(root="$1::uuid"), root)]


async def list_reporting_line(
    session: Executor,
    viewer: Viewer,
    *,
    manager_id: uuid.UUID,
    order: str,
    page: PageArgs,
    shape: EmployeeShape = FULL_SHAPE,
    with_count: bool = False,
) -> Page:
    return await list_employees(
        session,
        viewer,
        filter=EmployeeFilter(status="active"),
        order=order,
        page=page,
        shape=shape,
        line_of=manager_id,
        with_count=with_count,
    )


async def manager_chain(session: Executor, viewer: Viewer, employee_id: uuid.UUID) -> list[Any]:
    """The managers above an employee, nearest first."""
    up = (
        sa.select(t_emp.c.manager_id.label("id"), sa.literal(1).label("depth"))
        .where(t_emp.c.id == employee_id)
        .cte("chain", recursive=True)
    )
    parent = t_emp.alias("p")
    up = up.union_all(
        sa.select(parent.c.manager_id, (up.c.depth + 1)).where(
            parent.c.id == up.c.id, up.c.depth < MAX_CHAIN_DEPTH
        )
    )
    stmt = (
        sa.select(t_emp)
        .join(up, up.c.id == t_emp.c.id)
        .where(*_visible(viewer))
        .order_by(up.c.depth)
    )
    return list((await session.execute(stmt)).all())


async def has_reports(session: Executor, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    ids = list(set(ids))
    if not ids:
        return set()
    stmt = (
        sa.select(t_emp.c.manager_id)
        .where(t_emp.c.manager_id.in_(ids), t_emp.c.status == "active")
        .distinct()
    )
    return set((await session.execute(stmt)).scalars().all())


async def list_departments(session: Executor) -> list[Any]:
    return list((await session.execute(sa.select(t_dep).order_by(t_dep.c.name))).all())


async def list_locations(session: Executor) -> list[Any]:
    return list((await session.execute(sa.select(t_loc).order_by(t_loc.c.name))).all())


# --- writes --------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


async def _write_employee(session: Executor, stmt: Any) -> Any:
    """Insert or update one employee in a savepoint; a taken email or external id is a
    CONFLICT."""
    try:
        async with session.begin_nested():
            return (await session.execute(stmt.returning(t_emp))).one()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            if "employees_external_id_key" in str(exc.orig):
                raise Conflict(
                    "an employee with this external id already exists", field="input.externalId"
                ) from exc
            raise Conflict(
                "an employee with this email already exists", field="input.email"
            ) from exc
        raise


async def lock_org_chart(session: Executor) -> None:
    """Serialize manager-graph changes within a tenant, so two concurrent moves cannot
    together create a cycle (or strand the last tenant admin)."""
    await xact_lock(session, "org")


async def _require_active_employee(session: Executor, employee_id: uuid.UUID, *, field: str) -> Any:
    row = (await session.execute(sa.select(t_emp).where(t_emp.c.id == employee_id))).first()
    if row is None or row.status != "active":
        raise BadUserInput("no active employee with this id", field=field)
    return row


async def _require_exists(
    session: Executor, table: sa.Table, row_id: uuid.UUID | None, *, field: str, what: str
) -> None:
    if row_id is None:
        return
    found = await session.scalar(sa.select(sa.literal(1)).where(table.c.id == row_id))
    if found is None:
        raise BadUserInput(f"no {what} with this id", field=field)


def _check_roles(principal: Principal, roles: Iterable[str] | None, *, field: str) -> list[str]:
    if roles is None:
        return []
    out = sorted(set(roles))
    for r in out:
        if r not in ASSIGNABLE_ROLES:
            raise BadUserInput(
                f"unknown role {r!r}; assignable roles: {', '.join(ASSIGNABLE_ROLES)}", field=field
            )
    return out


async def _count_tenant_admins(session: Executor, *, excluding: uuid.UUID) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(t_emp)
        .where(
            t_emp.c.status == "active",
            sa.literal("tenant_admin") == sa.any_(t_emp.c.roles),
            t_emp.c.id != excluding,
        )
    )
    return int(await session.scalar(stmt) or 0)


async def create_employee(
    session: Executor,
    principal: Principal,
    *,
    email: str,
    name: str,
    title: str | None = None,
    job_level: str | None = None,
    manager_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    roles: list[str] | None = None,
    timezone: str | None = None,
    hire_date: date | None = None,
    external_id: str | None = None,
) -> Any:
    principal.require_hr("creating employees")
    values: dict[str, Any] = {
        "email": normalize_email(email, field="input.email"),
        "name": require_text(name, field="input.name"),
        "title": optional_text(title, field="input.title", max_len=200),
        "job_level": optional_text(job_level, field="input.jobLevel", max_len=32),
        "timezone": check_timezone(timezone, field="input.timezone"),
        "hire_date": check_hire_date(hire_date, field="input.hireDate"),
        "external_id": optional_text(external_id, field="input.externalId", max_len=200),
        "roles": _check_roles(principal, roles, field="input.roles"),
        "department_id": department_id,
        "location_id": location_id,
        "manager_id": manager_id,
    }
    if values["roles"]:
        principal.require_tenant_admin("assigning roles")
    await _require_exists(
        session, t_dep, department_id, field="input.departmentId", what="department"
    )
    await _require_exists(session, t_loc, location_id, field="input.locationId", what="location")
    if manager_id is not None:
        await _require_active_employee(session, manager_id, field="input.managerId")
    row = await _write_employee(
        session, sa.insert(t_emp).values(tenant_id=principal.tenant_id, **values)
    )
    await audit.record(
        session,
        principal,
        action="employee.create",
        target_type="Employee",
        target_id=row.id,
        changes=audit.diff({}, {k: v for k, v in values.items() if v not in (None, [])}),
    )
    return row


EMPLOYEE_PATCHABLE = {
    "email",
    "name",
    "title",
    "job_level",
    "department_id",
    "location_id",
    "roles",
    "timezone",
    "hire_date",
    "external_id",
}


async def update_employee(
    session: Executor, principal: Principal, employee_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change the given fields (only those present in `patch`)."""
    principal.require_hr("updating employees")
    unknown = set(patch) - EMPLOYEE_PATCHABLE
    if unknown:
        raise BadUserInput(f"cannot update {', '.join(sorted(unknown))}", field="input")
    current = (
        await session.execute(sa.select(t_emp).where(t_emp.c.id == employee_id).with_for_update())
    ).first()
    if current is None:
        raise NotFound("no employee with this id")
    values: dict[str, Any] = {}
    for key, value in patch.items():
        if key == "email":
            values[key] = normalize_email(value, field="input.email")
        elif key == "name":
            values[key] = require_text(value, field="input.name")
        elif key == "title":
            values[key] = optional_text(value, field="input.title", max_len=200)
        elif key == "job_level":
            values[key] = optional_text(value, field="input.jobLevel", max_len=32)
        elif key == "timezone":
            values[key] = check_timezone(value, field="input.timezone")
        elif key == "hire_date":
            values[key] = check_hire_date(value, field="input.hireDate")
        elif key == "external_id":
            values[key] = optional_text(value, field="input.externalId", max_len=200)
        elif key == "roles":
            values[key] = _check_roles(principal, value, field="input.roles")
        elif key == "department_id":
            await _require_exists(
                session, t_dep, value, field="input.departmentId", what="department"
            )
            values[key] = value
        elif key == "location_id":
            await _require_exists(session, t_loc, value, field="input.locationId", what="location")
            values[key] = value
    if "roles" in values and sorted(current.roles) != values["roles"]:
        principal.require_tenant_admin("changing roles")
        if "tenant_admin" in current.roles and "tenant_admin" not in values["roles"]:
            await lock_org_chart(session)
            if await _count_tenant_admins(session, excluding=employee_id) == 0:
                raise Conflict(
                    "cannot remove the role from the last tenant admin", field="input.roles"
                )
    before = {k: getattr(current, k) for k in values}
    changes = audit.diff(before, values)
    row = current
    if changes:
        row = await _write_employee(
            session,
            sa.update(t_emp).where(t_emp.c.id == employee_id).values(**values, updated_at=_now()),
        )
    await audit.record(
        session,
        principal,
        action="employee.update",
        target_type="Employee",
        target_id=employee_id,
        changes=changes,
    )
    return row


async def change_manager(
    session: Executor,
    principal: Principal,
    employee_id: uuid.UUID,
    manager_id: uuid.UUID | None,
) -> Any:
    principal.require_hr("changing managers")
    await lock_org_chart(session)
    current = (
        await session.execute(sa.select(t_emp).where(t_emp.c.id == employee_id).with_for_update())
    ).first()
    if current is None:
        raise NotFound("no employee with this id")
    if current.status != "active":
        raise BadUserInput(
            "cannot change the manager of an offboarded employee", field="employeeId"
        )
    if manager_id is not None:
        if manager_id == employee_id:
            raise BadUserInput("an employee cannot be their own manager", field="managerId")
        await _require_active_employee(session, manager_id, field="managerId")
        if manager_id in set(await reporting_line_ids(session, employee_id)):
            raise BadUserInput(
                "this change would create a cycle: the new manager reports to this employee",
                field="managerId",
            )
    row = current
    if current.manager_id != manager_id:
        row = (
            await session.execute(
                sa.update(t_emp)
                .where(t_emp.c.id == employee_id)
                .values(manager_id=manager_id, updated_at=_now())
                .returning(t_emp)
            )
        ).one()
    await audit.record(
        session,
        principal,
        action="employee.change_manager",
        target_type="Employee",
        target_id=employee_id,
        changes=audit.diff({"manager_id": current.manager_id}, {"manager_id": manager_id}),
    )
    return row


async def offboard_employee(
    session: Executor,
    principal: Principal,
    employee_id: uuid.UUID,
    *,
    reassign_reports_to: uuid.UUID | None = None,
) -> Any:
    """Mark an employee offboarded; their direct reports move to `reassign_reports_to`, or to
    the offboarded employee's own manager when not given."""
    principal.require_hr("offboarding employees")
    if employee_id == principal.employee_id:
        raise BadUserInput("you cannot offboard yourself", field="employeeId")
    await lock_org_chart(session)
    current = (
        await session.execute(sa.select(t_emp).where(t_emp.c.id == employee_id).with_for_update())
    ).first()
    if current is None:
        raise NotFound("no employee with this id")
    if current.status != "active":
        raise Conflict("this employee is already offboarded", field="employeeId")
    if (
        "tenant_admin" in current.roles
        and await _count_tenant_admins(session, excluding=employee_id) == 0
    ):
        raise Conflict("cannot offboard the last tenant admin", field="employeeId")
    target = reassign_reports_to if reassign_reports_to is not None else current.manager_id
    if reassign_reports_to is not None:
        if reassign_reports_to == employee_id:
            raise BadUserInput(
                "reports cannot be reassigned to the person leaving", field="reassignReportsTo"
            )
        await _require_active_employee(session, reassign_reports_to, field="reassignReportsTo")
        if reassign_reports_to in set(await reporting_line_ids(session, employee_id)):
            raise BadUserInput(
                "reports cannot move to someone in the leaving employee's own reporting line",
                field="reassignReportsTo",
            )
    moved = (
        (
            await session.execute(
                sa.update(t_emp)
                .where(t_emp.c.manager_id == employee_id)
                .values(manager_id=target, updated_at=_now())
                .returning(t_emp.c.id)
            )
        )
        .scalars()
        .all()
    )
    row = (
        await session.execute(
            sa.update(t_emp)
            .where(t_emp.c.id == employee_id)
            .values(status="offboarded", offboarded_at=_now(), updated_at=_now())
            .returning(t_emp)
        )
    ).one()
    for report_id in moved:
        await audit.record(
            session,
            principal,
            action="employee.change_manager",
            target_type="Employee",
            target_id=report_id,
            changes={
                "manager_id": {"from": str(employee_id), "to": str(target) if target else None},
                "reason": "manager offboarded",
            },
        )
    await audit.record(
        session,
        principal,
        action="employee.offboard",
        target_type="Employee",
        target_id=employee_id,
        changes={
            "status": {"from": "active", "to": "offboarded"},
            **(
                {
                    "reassigned_reports": [str(r) for r in moved],
                    "reports_moved_to": str(target) if target else None,
                }
                if moved
                else {}
            ),
        },
    )
    return row


async def reactivate_employee(
    session: Executor, principal: Principal, employee_id: uuid.UUID
) -> Any:
    """Bring an offboarded employee back (a rehire, or an identity provider re-enabling the
    account). Their roles and history stay. Their last manager stays when still active and
    not in their own line, else they get none; the reports moved away when they left stay
    where they are (reassign them with change_manager)."""
    principal.require_hr("reactivating employees")
    await lock_org_chart(session)
    current = (
        await session.execute(sa.select(t_emp).where(t_emp.c.id == employee_id).with_for_update())
    ).first()
    if current is None:
        raise NotFound("no employee with this id")
    if current.status == "active":
        raise Conflict("this employee is already active", field="employeeId")
    manager_id = current.manager_id
    if manager_id is not None:
        status = await session.scalar(sa.select(t_emp.c.status).where(t_emp.c.id == manager_id))
        if status != "active" or manager_id in set(await reporting_line_ids(session, employee_id)):
            manager_id = None
    row = (
        await session.execute(
            sa.update(t_emp)
            .where(t_emp.c.id == employee_id)
            .values(status="active", offboarded_at=None, manager_id=manager_id, updated_at=_now())
            .returning(t_emp)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="employee.reactivate",
        target_type="Employee",
        target_id=employee_id,
        changes={
            "status": {"from": "offboarded", "to": "active"},
            **audit.diff({"manager_id": current.manager_id}, {"manager_id": manager_id}),
        },
    )
    return row


# --- departments and locations -------------------------------------------------------------------


async def _write_named(
    session: Executor,
    principal: Principal,
    table: sa.Table,
    kind: str,
    row_id: uuid.UUID | None,
    values: dict[str, Any],
) -> Any:
    principal.require_hr(f"managing {kind}s")
    if "name" in values:
        values["name"] = require_text(values["name"], field="input.name")
        clash = await session.scalar(
            sa.select(table.c.id).where(
                table.c.name == values["name"], *([table.c.id != row_id] if row_id else [])
            )
        )
        if clash is not None:
            raise Conflict(f"a {kind} with this name already exists", field="input.name")
    try:
        async with session.begin_nested():
            if row_id is None:
                row = (
                    await session.execute(
                        sa.insert(table)
                        .values(tenant_id=principal.tenant_id, **values)
                        .returning(table)
                    )
                ).one()
                before: dict[str, Any] = {}
            else:
                current = (
                    await session.execute(
                        sa.select(table).where(table.c.id == row_id).with_for_update()
                    )
                ).first()
                if current is None:
                    raise NotFound(f"no {kind} with this id")
                before = {k: getattr(current, k) for k in values}
                row = (
                    await session.execute(
                        sa.update(table)
                        .where(table.c.id == row_id)
                        .values(**values, updated_at=_now())
                        .returning(table)
                    )
                ).one()
    except IntegrityError as exc:
        if is_unique_violation(exc, f"{table.name}_external_id_key"):
            raise Conflict(
                f"a {kind} with this external id already exists", field="input.externalId"
            ) from exc
        if is_unique_violation(exc):
            raise Conflict(f"a {kind} with this name already exists", field="input.name") from exc
        raise
    await audit.record(
        session,
        principal,
        action=f"{kind}.{'create' if row_id is None else 'update'}",
        target_type=kind.capitalize(),
        target_id=row.id,
        changes=audit.diff(before, values),
    )
    return row


async def create_department(
    session: Executor,
    principal: Principal,
    *,
    name: str,
    code: str | None = None,
    external_id: str | None = None,
) -> Any:
    values: dict[str, Any] = {
        "name": name,
        "code": optional_text(code, field="input.code", max_len=32),
    }
    if external_id is not None:  # the identity provider's group id (SCIM)
        values["external_id"] = optional_text(external_id, field="input.externalId", max_len=200)
    return await _write_named(session, principal, t_dep, "department", None, values)


async def update_department(
    session: Executor, principal: Principal, department_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    values: dict[str, Any] = {}
    if "name" in patch:
        values["name"] = patch["name"]
    if "code" in patch:
        values["code"] = optional_text(patch["code"], field="input.code", max_len=32)
    if "external_id" in patch:
        values["external_id"] = optional_text(
            patch["external_id"], field="input.externalId", max_len=200
        )
    return await _write_named(session, principal, t_dep, "department", department_id, values)


async def create_location(
    session: Executor,
    principal: Principal,
    *,
    name: str,
    timezone: str | None = None,
    country: str | None = None,
) -> Any:
    return await _write_named(
        session,
        principal,
        t_loc,
        "location",
        None,
        {
            "name": name,
            "timezone": check_timezone(timezone, field="input.timezone"),
            "country": check_country(country, field="input.country"),
        },
    )


async def update_location(
    session: Executor, principal: Principal, location_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    values: dict[str, Any] = {}
    if "name" in patch:
        values["name"] = patch["name"]
    if "timezone" in patch:
        values["timezone"] = check_timezone(patch["timezone"], field="input.timezone")
    if "country" in patch:
        values["country"] = check_country(patch["country"], field="input.country")
    return await _write_named(session, principal, t_loc, "location", location_id, values)
