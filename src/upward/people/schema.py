"""GraphQL for people: thin resolvers over people.service.

Hot list fields (`employees`, `directReports`, `reportingLine`) read the selection set and join
manager, department and location in the same statement; elsewhere those fields load through
DataLoaders. Private fields (hireDate, roles, offboardedAt) are null unless the viewer is the
person, in their management line, or HR.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from upward.graphql.lazy import Lazy
from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection
from upward.people import service

if TYPE_CHECKING:
    from upward.credentials.schema import Credential, EmployeeCompliance
    from upward.development.mentorship_schema import MentorProfile
    from upward.development.plans_schema import DevelopmentPlan
    from upward.development.schema import CareerLevel, EmployeeSkill
    from upward.mobility.postings_schema import CareerPreferences

from upward.people.loaders import (
    department_by_id_loader,
    employee_by_id_loader,
    has_reports_loader,
    location_by_id_loader,
    viewer_of,
)


@strawberry.enum(description="Whether a person currently works at the tenant.")
class EmployeeStatus(enum.Enum):
    ACTIVE = "active"
    OFFBOARDED = "offboarded"


@strawberry.enum(
    description="Roles assigned to a person. `manager` is not assigned: anyone with "
    "active direct reports is a manager."
)
class Role(enum.Enum):
    TENANT_ADMIN = "tenant_admin"
    HR_ADMIN = "hr_admin"


@strawberry.enum(description="Effective roles of the viewer.")
class ViewerRole(enum.Enum):
    EMPLOYEE = "employee"
    MANAGER = "manager"
    HR_ADMIN = "hr_admin"
    TENANT_ADMIN = "tenant_admin"


@strawberry.enum
class EmployeeOrder(enum.Enum):
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    EMAIL_ASC = "EMAIL_ASC"
    EMAIL_DESC = "EMAIL_DESC"


@strawberry.type(description="A department of the tenant.")
class Department(Node):
    id: strawberry.ID
    name: str
    code: str | None
    _raw_id: strawberry.Private[uuid.UUID]


@strawberry.type(description="A place people work from.")
class Location(Node):
    id: strawberry.ID
    name: str
    timezone: str | None = strawberry.field(description="IANA zone; null means the tenant's.")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    _raw_id: strawberry.Private[uuid.UUID]


PageArgsDoc = "Relay pagination: `first` (at most 100) with `after`, or `last` with `before`."


@strawberry.type(
    description="A person at the tenant. Public fields are visible to every "
    "employee; private fields are null unless you are this person, "
    "in their management line, or HR."
)
class Employee(Node):
    id: strawberry.ID
    email: str
    name: str
    title: str | None
    job_level: str | None
    status: EmployeeStatus
    timezone: str | None = strawberry.field(
        description="The person's own IANA zone; null means their location's, else the tenant's."
    )
    manager: Annotated[Employee, strawberry.lazy("upward.people.schema")] | None
    department: Department | None
    location: Location | None
    hire_date: date | None = strawberry.field(description="Private.")
    external_id: str | None = strawberry.field(
        description="The HRIS or identity provider's id, unique in the tenant. Private."
    )
    roles: list[Role] | None = strawberry.field(description="Assigned roles. Private.")
    offboarded_at: datetime | None = strawberry.field(description="Private.")
    created_at: datetime
    updated_at: datetime
    _raw_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Whether this person has active direct reports.")
    async def is_manager(self, info: Info) -> bool:
        return await has_reports_loader(info.context).load(self._raw_id)

    @strawberry.field(
        description="Credentials this person holds (empty unless you are them, in their "
        "management line, or HR). Live ones only unless `includeHistory`; soonest expiry first."
    )
    async def credentials(
        self, info: Info, include_history: bool = False
    ) -> list[Annotated[Credential, strawberry.lazy("upward.credentials.schema")]]:
        from upward.credentials.schema import credentials_of

        return await credentials_of(info.context, self._raw_id, include_history=include_history)

    @strawberry.field(
        description="Whether this person holds what is required of them on a date (default "
        "today); null unless you are them, in their management line, or HR."
    )
    async def compliance(
        self, info: Info, on: date | None = None
    ) -> Annotated[EmployeeCompliance, strawberry.lazy("upward.credentials.schema")] | None:
        from upward.credentials.schema import compliance_of

        return await compliance_of(info.context, self._raw_id, on)

    @strawberry.field(
        description="This person's skills: recorded ratings, then those derived from their "
        "valid credentials, by skill name."
    )
    async def skills(
        self, info: Info
    ) -> list[Annotated[EmployeeSkill, strawberry.lazy("upward.development.schema")]]:
        from upward.development.schema import skills_of

        return await skills_of(info.context, self._raw_id)

    @strawberry.field(description="Where this person stands on the career tracks (null: nowhere).")
    async def career_level(
        self, info: Info
    ) -> Annotated[CareerLevel, strawberry.lazy("upward.development.schema")] | None:
        from upward.development.schema import career_level_of

        return await career_level_of(info.context, self._raw_id)

    @strawberry.field(
        description="This person's mentor profile (null: not a mentor; a paused one only for "
        "them and HR)."
    )
    async def mentor_profile(
        self, info: Info
    ) -> Annotated[MentorProfile, strawberry.lazy("upward.development.mentorship_schema")] | None:
        from upward.development.mentorship_schema import mentor_profile_of

        return await mentor_profile_of(info.context, self._raw_id)

    @strawberry.field(
        description="This person's current development plan: the open one (neither completed "
        "nor archived) whose period includes today, else their latest open one; null when "
        "none or when you may not read it (yours, your line's, everyone's for HR)."
    )
    async def idp(
        self, info: Info
    ) -> Annotated[DevelopmentPlan, strawberry.lazy("upward.development.plans_schema")] | None:
        from upward.development.plans_schema import idp_of

        return await idp_of(info.context, self._raw_id)

    @strawberry.field(
        description="What this person wants next. You read it for yourself; HR for anyone; "
        "their manager line only while they are openly looking (openToMoves YES): otherwise "
        "null, the same whether they are not looking, looking confidentially, or never said."
    )
    async def career_preferences(
        self, info: Info
    ) -> Annotated[CareerPreferences, strawberry.lazy("upward.mobility.postings_schema")] | None:
        from upward.mobility.postings_schema import preferences_of

        return await preferences_of(info.context, self._raw_id)

    @strawberry.field(description="People who report to this person directly. " + PageArgsDoc)
    async def direct_reports(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        order_by: EmployeeOrder = EmployeeOrder.NAME_ASC,
    ) -> Connection[Employee]:
        return await _employee_connection(
            info,
            service.EmployeeFilter(manager_id=self._raw_id),
            order_by,
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @strawberry.field(description="Everyone below this person, all levels. " + PageArgsDoc)
    async def reporting_line(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        order_by: EmployeeOrder = EmployeeOrder.NAME_ASC,
    ) -> Connection[Employee]:
        ctx = info.context
        viewer = await viewer_of(ctx)
        order = service.EMPLOYEE_ORDERS[order_by.value]
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        selection = Selection(info)
        shape = employee_shape(selection, ("edges", "node"), order)
        layout = service.row_layout(shape)
        async with ctx.session() as s:
            page = await service.list_reporting_line(
                s,
                viewer,
                manager_id=self._raw_id,
                order=order_by.value,
                page=args,
                shape=shape,
                with_count=wants_total(selection),
            )
        return build_connection(
            ctx,
            page,
            order,
            employee_from_page(ctx, viewer, layout),
            employee_sort_key(layout, order),
        )

    @strawberry.field(description="This person's managers, nearest first, up to the top.")
    async def manager_chain(self, info: Info) -> list[Employee]:
        ctx = info.context
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            rows = await service.manager_chain(s, viewer, self._raw_id)
        return [employee_obj(ctx, viewer, r) for r in rows]


_FULL_DEP = {name: i for i, name in enumerate(service.DEPARTMENT_FIELDS)}
_FULL_LOC = {name: i for i, name in enumerate(service.LOCATION_FIELDS)}
_NO_JOINS: service.Layout = {}
PRESENT = service.PRESENT

# GraphQL field -> the employee columns it reads. Fields with resolvers only need `id`; a field
# missing from both sets (a new one) makes the query fetch every column. A relation that the
# list query joins needs no foreign key: the joined part's own columns say whether it exists.
EMPLOYEE_FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "email": ("email",),
    "name": ("name",),
    "title": ("title",),
    "jobLevel": ("job_level",),
    "status": ("status",),
    "timezone": ("timezone",),
    "manager": ("manager_id",),
    "department": ("department_id",),
    "location": ("location_id",),
    "hireDate": ("id", "hire_date"),  # private: visibility depends on whose they are
    "externalId": ("id", "external_id"),
    "roles": ("id", "roles"),
    "offboardedAt": ("id", "offboarded_at"),
    "createdAt": ("created_at",),
    "updatedAt": ("updated_at",),
}
EMPLOYEE_RESOLVER_FIELDS = frozenset(
    {
        "__typename",
        "isManager",
        "directReports",
        "reportingLine",
        "managerChain",
        "credentials",
        "compliance",
        "skills",
        "careerLevel",
        "idp",
        "mentorProfile",
        "careerPreferences",
    }
)
DEPARTMENT_FIELD_COLUMNS = {"id": ("id",), "name": ("name",), "code": ("code",), "__typename": ()}
LOCATION_FIELD_COLUMNS = {
    "id": ("id",),
    "name": ("name",),
    "timezone": ("timezone",),
    "country": ("country",),
    "__typename": (),
}


def _employee_columns(
    names: frozenset[str], *, always: tuple[str, ...], joined: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    if any(n not in EMPLOYEE_FIELD_COLUMNS and n not in EMPLOYEE_RESOLVER_FIELDS for n in names):
        return service.EMPLOYEE_FIELDS
    cols = set(always)
    for n in names:
        if n in EMPLOYEE_RESOLVER_FIELDS and n != "__typename":
            cols.add("id")
        elif n not in joined:
            cols.update(EMPLOYEE_FIELD_COLUMNS.get(n, ()))
    return tuple(c for c in service.EMPLOYEE_FIELDS if c in cols)


def _simple_columns(
    names: frozenset[str], mapping: dict[str, tuple[str, ...]], all_cols: tuple[str, ...]
) -> tuple[str, ...]:
    if any(n not in mapping for n in names):
        return all_cols
    cols = {"name"}  # NOT NULL: tells whether the joined row exists
    for n in names:
        cols.update(mapping[n])
    return tuple(c for c in all_cols if c in cols)


def employee_shape(
    selection: Selection, path: tuple[str, ...], order: Any
) -> service.EmployeeShape:
    """The columns a list field's selection reads at `path` (e.g. edges.node), joining the
    manager, department and location when they are selected."""
    names = selection.names(path)
    order_cols = tuple(c.name for c in order.columns)
    manager = department = location = None
    if "manager" in names:
        manager = _employee_columns(selection.names((*path, "manager")), always=("name",))
    if "department" in names:
        department = _simple_columns(
            selection.names((*path, "department")),
            DEPARTMENT_FIELD_COLUMNS,
            service.DEPARTMENT_FIELDS,
        )
    if "location" in names:
        location = _simple_columns(
            selection.names((*path, "location")),
            LOCATION_FIELD_COLUMNS,
            service.LOCATION_FIELDS,
        )
    return service.EmployeeShape(
        base=_employee_columns(
            names, always=("id", *order_cols), joined=names & frozenset(service.JOINABLE)
        ),
        manager=manager,
        department=department,
        location=location,
    )


def _col(name: str) -> property:
    """A field read from the row through the object's column map."""
    return property(lambda self: self._r[self._m[name]])


def _gid(type_name: str) -> property:
    return property(lambda self: to_global_id(type_name, self._r[self._m["id"]]))


class _RowView:
    """A row and the map of its columns (name -> position) for the fields of one object."""

    __slots__ = ("_m", "_r")

    def __init__(self, row: Any, m: dict[str, int]) -> None:
        self._r, self._m = row, m


class DepartmentRow(_RowView, Department):
    """A Department read from a row through its column map, field by field, on demand."""

    __slots__ = ()
    _raw_id = _col("id")
    id = _gid("Department")
    name = _col("name")
    code = _col("code")


class LocationRow(_RowView, Location):
    """A Location read from a row through its column map, field by field, on demand."""

    __slots__ = ()
    _raw_id = _col("id")
    id = _gid("Location")
    name = _col("name")
    timezone = _col("timezone")
    country = _col("country")


def _private(name: str) -> property:
    def get(self: EmployeeRow) -> Any:
        if not self._viewer.sees_private(self._r[self._m["id"]]):
            return None
        value = self._r[self._m[name]]
        return [Role(r) for r in value] if name == "roles" else value

    return property(get)


class EmployeeRow(Employee):
    """An Employee read from a row through its column map (`m`), field by field, only for the
    fields a client selects. Related objects come from joined parts of the row (`joins`, a
    list query's layout) and load through DataLoaders otherwise."""

    __slots__ = ("_ctx", "_joins", "_m", "_r", "_viewer")

    def __init__(
        self,
        ctx: Any,
        viewer: service.Viewer,
        row: Any,
        m: dict[str, int],
        joins: service.Layout = _NO_JOINS,
    ) -> None:
        self._ctx, self._viewer, self._r, self._m, self._joins = ctx, viewer, row, m, joins

    _raw_id = _col("id")
    email = _col("email")
    name = _col("name")
    title = _col("title")
    job_level = _col("job_level")
    timezone = _col("timezone")
    created_at = _col("created_at")
    updated_at = _col("updated_at")
    hire_date = _private("hire_date")
    external_id = _private("external_id")
    roles = _private("roles")
    offboarded_at = _private("offboarded_at")

    id = _gid("Employee")

    @property
    def status(self) -> EmployeeStatus:  # type: ignore[override]
        return EmployeeStatus(self._r[self._m["status"]])

    @property
    def manager(self) -> Any:  # type: ignore[override]
        jm = self._joins.get("manager")
        if jm is not None:  # joined: absent, or hidden (offboarded, for a viewer not in HR)
            if self._r[jm[PRESENT]] is None:
                return None
            return EmployeeRow(self._ctx, self._viewer, self._r, jm)
        mid = self._r[self._m["manager_id"]]
        if mid is None:
            return None
        ctx, viewer = self._ctx, self._viewer
        return Lazy(lambda: _load_employee(ctx, viewer, mid))

    @property
    def department(self) -> Any:  # type: ignore[override]
        jd = self._joins.get("department")
        if jd is not None:
            return DepartmentRow(self._r, jd) if self._r[jd[PRESENT]] is not None else None
        did = self._r[self._m["department_id"]]
        if did is None:
            return None
        ctx = self._ctx
        return Lazy(lambda: _load_department(ctx, did))

    @property
    def location(self) -> Any:  # type: ignore[override]
        jl = self._joins.get("location")
        if jl is not None:
            return LocationRow(self._r, jl) if self._r[jl[PRESENT]] is not None else None
        lid = self._r[self._m["location_id"]]
        if lid is None:
            return None
        ctx = self._ctx
        return Lazy(lambda: _load_location(ctx, lid))


def employee_obj(ctx: Any, viewer: service.Viewer, row: Any) -> Employee:
    """An Employee from a full employees row (every column, in table order)."""
    return EmployeeRow(ctx, viewer, row, service.FULL_LAYOUT)


def employee_from_page(ctx: Any, viewer: service.Viewer, layout: service.Layout) -> Any:
    base = layout["base"]
    return lambda row: EmployeeRow(ctx, viewer, row, base, layout)


def employee_sort_key(layout: service.Layout, order: Any) -> Any:
    positions = [layout["base"][c.name] for c in order.columns]
    return lambda row: tuple(row[i] for i in positions)


def department_obj(row: Any) -> Department:
    return DepartmentRow(row, _FULL_DEP)


def location_obj(row: Any) -> Location:
    return LocationRow(row, _FULL_LOC)


async def _load_employee(
    ctx: Any, viewer: service.Viewer, employee_id: uuid.UUID
) -> Employee | None:
    row = await employee_by_id_loader(ctx).load(employee_id)
    return employee_obj(ctx, viewer, row) if row is not None else None


async def employee_ref(ctx: Any, employee_id: uuid.UUID | None) -> Employee | None:
    """An employee field of another domain's type: the person as the request's viewer may see
    them (None for no id, or one the viewer does not see), through the per-request loader."""
    if employee_id is None:
        return None
    from upward.people.loaders import viewer_of

    return await _load_employee(ctx, await viewer_of(ctx), employee_id)


async def _load_department(ctx: Any, department_id: uuid.UUID) -> Department | None:
    row = await department_by_id_loader(ctx).load(department_id)
    return department_obj(row) if row is not None else None


async def _load_location(ctx: Any, location_id: uuid.UUID) -> Location | None:
    row = await location_by_id_loader(ctx).load(location_id)
    return location_obj(row) if row is not None else None


@register_node("Employee")
async def _employee_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    viewer = await viewer_of(ctx)
    rows = await employee_by_id_loader(ctx).load_many(ids)
    return {r.id: employee_obj(ctx, viewer, r) for r in rows if r is not None}


@register_node("Department")
async def _department_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await department_by_id_loader(ctx).load_many(ids)
    return {r.id: department_obj(r) for r in rows if r is not None}


@register_node("Location")
async def _location_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await location_by_id_loader(ctx).load_many(ids)
    return {r.id: location_obj(r) for r in rows if r is not None}


# --- queries --------------------------------------------------------------------------------------


@strawberry.input(description="Filters for `employees`; all given filters must match.")
class EmployeeFilter:
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive match on name or email."
    )
    department_ids: list[strawberry.ID] | None = None
    location_ids: list[strawberry.ID] | None = None
    manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="Direct reports of this manager."
    )
    job_levels: list[str] | None = None
    status: EmployeeStatus | None = strawberry.field(
        default=EmployeeStatus.ACTIVE,
        description="ACTIVE by default; OFFBOARDED or null (any) need hr_admin or tenant_admin.",
    )


def _ids(
    values: list[strawberry.ID] | None, type_name: str, field: str
) -> tuple[uuid.UUID, ...] | None:
    if values is None:
        return None
    if len(values) > 100:
        from upward.errors import BadUserInput

        raise BadUserInput("at most 100 ids", field=field)
    return tuple(expect_global_id(v, type_name, field=field) for v in values)


def _to_service_filter(f: EmployeeFilter | None) -> service.EmployeeFilter:
    if f is None:
        return service.EmployeeFilter()
    return service.EmployeeFilter(
        search=f.search,
        department_ids=_ids(f.department_ids, "Department", "filter.departmentIds"),
        location_ids=_ids(f.location_ids, "Location", "filter.locationIds"),
        manager_id=expect_global_id(f.manager_id, "Employee", field="filter.managerId")
        if f.manager_id is not None
        else None,
        job_levels=tuple(f.job_levels) if f.job_levels is not None else None,
        status=f.status.value if f.status is not None else None,
    )


async def _employee_connection(
    info: Info,
    filt: service.EmployeeFilter,
    order_by: EmployeeOrder,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[Employee]:
    ctx = info.context
    order = service.EMPLOYEE_ORDERS[order_by.value]
    args = page_args(ctx, order, first=first, after=after, last=last, before=before)
    viewer = await viewer_of(ctx)
    selection = Selection(info)
    shape = employee_shape(selection, ("edges", "node"), order)
    layout = service.row_layout(shape)
    async with ctx.session() as s:
        page = await service.list_employees(
            s,
            viewer,
            filter=filt,
            order=order_by.value,
            page=args,
            shape=shape,
            with_count=wants_total(selection),
        )
    return build_connection(
        ctx, page, order, employee_from_page(ctx, viewer, layout), employee_sort_key(layout, order)
    )


@strawberry.type(
    description="Who is asking: the signed-in person, their effective roles and tenant."
)
class Viewer:
    employee: Employee
    roles: list[ViewerRole]
    tenant_slug: str
    tenant_timezone: str


def _self_viewer(ctx: Any) -> service.Viewer:
    """Enough to build the signed-in person and the managers above them: their own private
    fields are visible, and nobody above is in their reporting line. Fields that list people
    below (directReports, reportingLine) load the full viewer themselves."""
    return ctx._cache.get("people.viewer") or service.Viewer(ctx.require_principal())


@strawberry.type
class PeopleQuery:
    @strawberry.field(description="The signed-in employee.")
    async def me(self, info: Info) -> Employee:
        ctx = info.context
        ctx.require_principal()
        return employee_obj(ctx, _self_viewer(ctx), ctx.me_row)

    @strawberry.field(description="The signed-in employee with effective roles and tenant.")
    async def viewer(self, info: Info) -> Viewer:
        ctx = info.context
        p = ctx.require_principal()
        return Viewer(
            employee=employee_obj(ctx, _self_viewer(ctx), ctx.me_row),
            roles=sorted((ViewerRole(r) for r in p.roles), key=lambda r: r.value),
            tenant_slug=p.tenant_slug,
            tenant_timezone=p.tenant_timezone,
        )

    @strawberry.field(description="One employee by id; NOT_FOUND if it does not exist for you.")
    async def employee(self, info: Info, id: strawberry.ID) -> Employee:
        ctx = info.context
        ctx.require_principal()
        raw = expect_global_id(id, "Employee", field="id")
        viewer = await viewer_of(ctx)
        row = await employee_by_id_loader(ctx).load(raw)
        if row is None:
            from upward.errors import NotFound

            raise NotFound("no employee with this id")
        return employee_obj(ctx, viewer, row)

    @strawberry.field(description="The directory. " + PageArgsDoc)
    async def employees(
        self,
        info: Info,
        filter: EmployeeFilter | None = None,
        order_by: EmployeeOrder = EmployeeOrder.NAME_ASC,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Employee]:
        info.context.require_principal()
        return await _employee_connection(
            info,
            _to_service_filter(filter),
            order_by,
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @strawberry.field(description="Every department, by name.")
    async def departments(self, info: Info) -> list[Department]:
        ctx = info.context
        ctx.require_principal()
        async with ctx.session() as s:
            return [department_obj(r) for r in await service.list_departments(s)]

    @strawberry.field(description="Every location, by name.")
    async def locations(self, info: Info) -> list[Location]:
        ctx = info.context
        ctx.require_principal()
        async with ctx.session() as s:
            return [location_obj(r) for r in await service.list_locations(s)]


# --- mutations ------------------------------------------------------------------------------------


@strawberry.input
class CreateEmployeeInput:
    email: str
    name: str
    title: str | None = None
    job_level: str | None = None
    manager_id: strawberry.ID | None = None
    department_id: strawberry.ID | None = None
    location_id: strawberry.ID | None = None
    roles: list[Role] | None = strawberry.field(default=None, description="Needs tenant_admin.")
    timezone: str | None = None
    hire_date: date | None = None
    external_id: str | None = strawberry.field(
        default=None, description="The HRIS or identity provider's id, unique in the tenant."
    )


@strawberry.input(description="Fields to change; omitted fields stay as they are, null clears.")
class UpdateEmployeeInput:
    email: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    job_level: str | None = strawberry.UNSET
    department_id: strawberry.ID | None = strawberry.UNSET
    location_id: strawberry.ID | None = strawberry.UNSET
    roles: list[Role] | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    hire_date: date | None = strawberry.UNSET
    external_id: str | None = strawberry.UNSET


@strawberry.input
class CreateDepartmentInput:
    name: str
    code: str | None = None


@strawberry.input
class UpdateDepartmentInput:
    name: str | None = strawberry.UNSET
    code: str | None = strawberry.UNSET


@strawberry.input
class CreateLocationInput:
    name: str
    timezone: str | None = None
    country: str | None = None


@strawberry.input
class UpdateLocationInput:
    name: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET


@strawberry.type
class EmployeePayload:
    employee: Employee


@strawberry.type
class DepartmentPayload:
    department: Department


@strawberry.type
class LocationPayload:
    location: Location


def _opt_id(value: Any, type_name: str, field: str) -> uuid.UUID | None:
    return None if value is None else expect_global_id(value, type_name, field=field)


def _patch(inp: Any, mapping: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
    """Only the fields the client sent; ids decoded. mapping: attr -> (service key, node type)."""
    out: dict[str, Any] = {}
    for attr, (key, type_name) in mapping.items():
        value = getattr(inp, attr)
        if value is strawberry.UNSET:
            continue
        if type_name is not None:
            value = _opt_id(value, type_name, f"input.{strawberry_name(attr)}")
        elif attr == "roles" and value is not None:
            value = [r.value for r in value]
        if attr in ("name", "email") and value is None:
            from upward.errors import BadUserInput

            raise BadUserInput("cannot be null", field=f"input.{attr}")
        out[key] = value
    return out


def strawberry_name(attr: str) -> str:
    head, *rest = attr.split("_")
    return head + "".join(p.capitalize() for p in rest)


async def _employee_payload(info: Info, row: Any) -> EmployeePayload | None:
    ctx = info.context
    return EmployeePayload(employee=employee_obj(ctx, await viewer_of(ctx), row))


@strawberry.type
class PeopleMutation:
    @strawberry.mutation(description="Add a person (hr_admin or tenant_admin).")
    async def create_employee(
        self, info: Info, input: CreateEmployeeInput
    ) -> EmployeePayload | None:
        async with info.context.mutation() as (s, p):
            row = await service.create_employee(
                s,
                p,
                email=input.email,
                name=input.name,
                title=input.title,
                job_level=input.job_level,
                manager_id=_opt_id(input.manager_id, "Employee", "input.managerId"),
                department_id=_opt_id(input.department_id, "Department", "input.departmentId"),
                location_id=_opt_id(input.location_id, "Location", "input.locationId"),
                roles=[r.value for r in input.roles] if input.roles else None,
                timezone=input.timezone,
                hire_date=input.hire_date,
                external_id=input.external_id,
            )
        return await _employee_payload(info, row)

    @strawberry.mutation(
        description="Change a person's details (hr_admin or tenant_admin; roles need tenant_admin)."
    )
    async def update_employee(
        self, info: Info, id: strawberry.ID, input: UpdateEmployeeInput
    ) -> EmployeePayload | None:
        raw = expect_global_id(id, "Employee", field="id")
        patch = _patch(
            input,
            {
                "email": ("email", None),
                "name": ("name", None),
                "title": ("title", None),
                "job_level": ("job_level", None),
                "department_id": ("department_id", "Department"),
                "location_id": ("location_id", "Location"),
                "roles": ("roles", None),
                "timezone": ("timezone", None),
                "hire_date": ("hire_date", None),
                "external_id": ("external_id", None),
            },
        )
        async with info.context.mutation() as (s, p):
            row = await service.update_employee(s, p, raw, patch)
        return await _employee_payload(info, row)

    @strawberry.mutation(
        description="Move a person under another manager (null: no manager). "
        "Refuses cycles and inactive managers."
    )
    async def change_manager(
        self, info: Info, employee_id: strawberry.ID, manager_id: strawberry.ID | None
    ) -> EmployeePayload | None:
        raw = expect_global_id(employee_id, "Employee", field="employeeId")
        mgr = _opt_id(manager_id, "Employee", "managerId")
        async with info.context.mutation() as (s, p):
            row = await service.change_manager(s, p, raw, mgr)
        return await _employee_payload(info, row)

    @strawberry.mutation(
        description="Offboard a person. Their direct reports move to "
        "`reassignReportsTo`, or else to the person's own manager."
    )
    async def offboard_employee(
        self,
        info: Info,
        employee_id: strawberry.ID,
        reassign_reports_to: strawberry.ID | None = None,
    ) -> EmployeePayload | None:
        raw = expect_global_id(employee_id, "Employee", field="employeeId")
        target = _opt_id(reassign_reports_to, "Employee", "reassignReportsTo")
        async with info.context.mutation() as (s, p):
            row = await service.offboard_employee(s, p, raw, reassign_reports_to=target)
        return await _employee_payload(info, row)

    @strawberry.mutation(description="Add a department (hr_admin or tenant_admin).")
    async def create_department(
        self, info: Info, input: CreateDepartmentInput
    ) -> DepartmentPayload | None:
        async with info.context.mutation() as (s, p):
            row = await service.create_department(s, p, name=input.name, code=input.code)
        return DepartmentPayload(department=department_obj(row))

    @strawberry.mutation(description="Rename or recode a department (hr_admin or tenant_admin).")
    async def update_department(
        self, info: Info, id: strawberry.ID, input: UpdateDepartmentInput
    ) -> DepartmentPayload | None:
        raw = expect_global_id(id, "Department", field="id")
        patch = _patch(input, {"name": ("name", None), "code": ("code", None)})
        async with info.context.mutation() as (s, p):
            row = await service.update_department(s, p, raw, patch)
        return DepartmentPayload(department=department_obj(row))

    @strawberry.mutation(description="Add a location (hr_admin or tenant_admin).")
    async def create_location(
        self, info: Info, input: CreateLocationInput
    ) -> LocationPayload | None:
        async with info.context.mutation() as (s, p):
            row = await service.create_location(
                s, p, name=input.name, timezone=input.timezone, country=input.country
            )
        return LocationPayload(location=location_obj(row))

    @strawberry.mutation(description="Change a location (hr_admin or tenant_admin).")
    async def update_location(
        self, info: Info, id: strawberry.ID, input: UpdateLocationInput
    ) -> LocationPayload | None:
        raw = expect_global_id(id, "Location", field="id")
        patch = _patch(
            input,
            {"name": ("name", None), "timezone": ("timezone", None), "country": ("country", None)},
        )
        async with info.context.mutation() as (s, p):
            row = await service.update_location(s, p, raw, patch)
        return LocationPayload(location=location_obj(row))
