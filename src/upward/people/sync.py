"""Bulk sync of employees from an HRIS, keyed by external id (GraphQL `upsertEmployees`).

Up to 10,000 rows per call, set-based: every row is validated in Python against state read up
front (a handful of statements), then the changes are written with one INSERT, one UPDATE and
one audit INSERT, whatever the number of rows. The rules are those of `people.service`:

- A row's fields are those given: an omitted field keeps its value, null clears it (email and
  name cannot be cleared; a new person needs both). Text is checked as the services check it.
- A row matches the employee with its external id, else an employee with its email and no
  external id (that employee is adopted: the external id is set). An email held by someone
  else (even someone this batch moves to another address) is a row error: swaps take two runs.
- `department` and `location` are names of existing ones (exact, else case-insensitive when
  unambiguous); an unknown name is a row error.
- `managerExternalId` may name an employee or another row of the batch (in any order). The
  manager must be active after the batch; a chain that would loop is an error on the rows that
  close it. It is ignored for rows that end offboarded: a person keeps the manager they had
  when they left.
- `active: false` offboards: the person's active reports move to their nearest active manager,
  as `offboard_employee` does (counted in `reports_reassigned`). The last active tenant admin
  cannot be offboarded, nor the person running the sync. `active: true` reactivates: the last
  manager stays when still active, as `reactivate_employee` does.
- Valid rows apply, invalid rows are reported (with the field and the message) and change
  nothing; a row that depends on an invalid new row (its manager) is invalid too.
- The same input twice: the second run finds every row UNCHANGED and writes nothing (no audit
  event). `dry_run` validates and reports exactly the same and writes nothing.

Audit: the events the services write for the same changes (`employee.create`, `.update`,
`.change_manager`, `.offboard`, `.reactivate`; `.change_manager` with reason "manager
offboarded" for moved reports), plus one `employee.sync` summary. People services record no
outbox events, so neither does the sync.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, fetch, is_unique_violation
from upward.errors import BadUserInput, Conflict
from upward.observability import request_id_var
from upward.people import service
from upward.people.validation import (
    check_hire_date,
    check_timezone,
    normalize_email,
    optional_text,
    require_text,
)

MAX_ROWS = 10_000

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
OFFBOARDED, REACTIVATED, ERROR = "offboarded", "reactivated", "error"
ACTIONS = (CREATED, UPDATED, UNCHANGED, OFFBOARDED, REACTIVATED, ERROR)

# input field (service name) -> GraphQL name, for errors and changed fields
GRAPHQL_NAMES = {
    "external_id": "externalId",
    "email": "email",
    "name": "name",
    "title": "title",
    "job_level": "jobLevel",
    "department": "department",
    "location": "location",
    "manager_external_id": "managerExternalId",
    "hire_date": "hireDate",
    "timezone": "timezone",
    "active": "active",
}
# stored column -> the GraphQL input field that sets it
_COLUMN_FIELDS = {
    "external_id": "externalId",
    "email": "email",
    "name": "name",
    "title": "title",
    "job_level": "jobLevel",
    "department_id": "department",
    "location_id": "location",
    "manager_id": "managerExternalId",
    "hire_date": "hireDate",
    "timezone": "timezone",
    "status": "active",
}
_UPDATE_COLUMNS = (
    "email",
    "name",
    "title",
    "job_level",
    "department_id",
    "location_id",
    "timezone",
    "hire_date",
    "external_id",
)
_COLUMNS = "id, email, name, title, job_level, manager_id, department_id, location_id, roles, "
_COLUMNS += "status, timezone, hire_date, external_id"


@dataclass(slots=True)
class SyncRow:
    """One input row: its external id and the fields it gives (absent: keep)."""

    external_id: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RowResult:
    index: int
    external_id: str
    action: str = UNCHANGED
    employee_id: uuid.UUID | None = None
    changed: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class SyncResult:
    dry_run: bool
    rows: list[RowResult]
    written: bool = False
    reports_reassigned: int = 0

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)


def _not_null(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        if value is None:
            raise BadUserInput("cannot be null")
        return check(value)

    return run


def _tz(value: Any) -> Any:
    return check_timezone(optional_text(value, field="timezone", max_len=64), field="timezone")


CHECKS: dict[str, Callable[[Any], Any]] = {
    "email": _not_null(lambda v: normalize_email(v, field="email")),
    "name": _not_null(lambda v: require_text(v, field="name")),
    "title": lambda v: optional_text(v, field="title", max_len=200),
    "job_level": lambda v: optional_text(v, field="jobLevel", max_len=32),
    "department": lambda v: optional_text(v, field="department", max_len=200),
    "location": lambda v: optional_text(v, field="location", max_len=200),
    "manager_external_id": lambda v: optional_text(v, field="managerExternalId", max_len=200),
    "hire_date": lambda v: check_hire_date(v, field="hireDate"),
    "timezone": _tz,
    "active": _not_null(bool),
}


@dataclass(slots=True)
class _Plan:
    """A valid row's target state. `cur` is the matched employee (None: a new one)."""

    index: int
    external_id: str
    values: dict[str, Any]
    cur: Any
    id: uuid.UUID
    final: dict[str, Any]  # column -> value after the sync (manager_id set later)
    manager_ext: Any = ...  # the manager's external id when given (... : not given)


def _resolver(rows: list[Any]) -> Callable[[str], uuid.UUID | None]:
    """Name -> id: exact, else case-insensitive when one matches. None: unknown/ambiguous."""
    exact = {r["name"]: r["id"] for r in rows}
    folded: dict[str, list[uuid.UUID]] = {}
    for r in rows:
        folded.setdefault(r["name"].lower(), []).append(r["id"])

    def resolve(name: str) -> uuid.UUID | None:
        if name in exact:
            return exact[name]
        found = folded.get(name.lower(), [])
        return found[0] if len(found) == 1 else None

    return resolve


async def upsert_employees(
    session: Executor, principal: Principal, rows: Sequence[SyncRow], *, dry_run: bool = False
) -> SyncResult:
    principal.require_hr("syncing employees")
    if len(rows) > MAX_ROWS:
        raise BadUserInput(f"at most {MAX_ROWS} rows per call", field="input")
    if not dry_run:
        await service.lock_org_chart(session)  # the sync moves people: one org change at a time
    results = [RowResult(i, r.external_id) for i, r in enumerate(rows)]

    def fail(i: int, name: str, message: str) -> None:
        results[i].action = ERROR
        results[i].errors.append((name, message))

    # 1. each row on its own
    checked: dict[int, tuple[str, dict[str, Any]]] = {}
    rejected: dict[int, dict[str, Any]] = {}  # rows already in error: their other values
    first_ext: dict[str, int] = {}
    for i, row in enumerate(rows):
        try:
            ext = require_text(row.external_id, field="externalId", max_len=200)
        except BadUserInput as exc:
            fail(i, "externalId", exc.message)
            ext = None
        values: dict[str, Any] = {}
        for key, value in row.fields.items():
            try:
                values[key] = CHECKS[key](value)
            except BadUserInput as exc:
                fail(i, GRAPHQL_NAMES[key], exc.message)
        if ext is not None:
            if ext in first_ext:
                fail(i, "externalId", f"the same externalId as row {first_ext[ext]}")
            else:
                first_ext[ext] = i
        if results[i].action != ERROR and ext is not None:
            checked[i] = (ext, values)
        else:
            rejected[i] = values

    # 2. the state the rows refer to
    exts = {ext for ext, _ in checked.values()}
    exts |= {v["manager_external_id"] for _, v in checked.values() if v.get("manager_external_id")}
    emails = {v["email"] for _, v in checked.values() if "email" in v}
    lock = "" if dry_run else " for update"
    found = await fetch(
        session,
        f"select {_COLUMNS} from employees "  # noqa: S608 - constant columns
        f"where external_id = any($1::text[]) or email = any($2::text[]){lock}",
        list(exts),
        list(emails),
    )
    by_ext = {r["external_id"]: r for r in found if r["external_id"] is not None}
    by_email = {r["email"]: r for r in found}
    department = _resolver(await fetch(session, "select id, name from departments"))
    location = _resolver(await fetch(session, "select id, name from locations"))
    names = (("department", department), ("location", location))

    def resolve_names(i: int, values: dict[str, Any], final: dict[str, Any]) -> None:
        for key, resolve in names:
            if key in values:
                name = values[key]
                final[f"{key}_id"] = None if name is None else resolve(name)
                if name is not None and final[f"{key}_id"] is None:
                    fail(i, key, f"no {key} named {name!r} (create it first)")

    for i, values in rejected.items():  # report every error of a row at once
        resolve_names(i, values, {})

    # 3. match, resolve names, diff (everything but the manager)
    plans: dict[int, _Plan] = {}
    email_rows: dict[str, int] = {}
    for i, (ext, values) in checked.items():
        cur = by_ext.get(ext)
        email = values.get("email")
        if cur is None and email is not None:
            holder = by_email.get(email)
            if holder is not None and holder["external_id"] is None:
                cur = holder  # adopt: an employee made before the HRIS knew them
        if email is not None:
            holder = by_email.get(email)
            if holder is not None and (cur is None or holder["id"] != cur["id"]):
                fail(i, "email", "another employee has this email")
            elif email in email_rows:
                fail(i, "email", f"the same email as row {email_rows[email]}")
            else:
                email_rows[email] = i
        if cur is None:
            for key in ("email", "name"):
                if key not in values:
                    fail(i, key, f"a new employee needs {'an' if key == 'email' else 'a'} {key}")
        final: dict[str, Any] = (
            {c: cur[c] for c in (*_UPDATE_COLUMNS, "manager_id", "status")}
            if cur is not None
            else {c: None for c in (*_UPDATE_COLUMNS, "manager_id")} | {"status": "active"}
        )
        final["external_id"] = ext
        for key in ("email", "name", "title", "job_level", "timezone", "hire_date"):
            if key in values:
                final[key] = values[key]
        resolve_names(i, values, final)
        if "active" in values:
            final["status"] = "active" if values["active"] else "offboarded"
        leaving = final["status"] == "offboarded" and (cur is None or cur["status"] == "active")
        if leaving and cur is not None and cur["id"] == principal.employee_id:
            fail(i, "active", "you cannot offboard yourself")
        if results[i].action == ERROR:
            continue
        plan = _Plan(i, ext, values, cur, cur["id"] if cur is not None else uuid.uuid4(), final)
        if "manager_external_id" in values:
            plan.manager_ext = values["manager_external_id"]
        plans[i] = plan

    # 4. managers, cycles, the last admin: an error can invalidate rows that depend on it, so
    # repeat until no new error
    needs_graph = any(
        p.manager_ext is not ... or p.final["status"] != (p.cur or {"status": "active"})["status"]
        for p in plans.values()
    )
    graph: dict[uuid.UUID, list[Any]] = {}
    if needs_graph:
        for r in await fetch(
            session,
            "select id, manager_id, status, 'tenant_admin' = any(roles) as admin from employees",
        ):
            graph[r["id"]] = [r["manager_id"], r["status"], r["admin"]]
    while True:
        failed = _check_relations(plans, by_ext, first_ext, graph, fail)
        if not failed:
            break
        for i in failed:
            plans.pop(i, None)

    # 5. reports of people who leave move to their nearest active manager
    status = {k: v[1] for k, v in graph.items()}
    manager = {k: v[0] for k, v in graph.items()}
    for p in plans.values():
        status[p.id], manager[p.id] = p.final["status"], p.final["manager_id"]
    leavers = {
        p.id
        for p in plans.values()
        if p.final["status"] == "offboarded" and p.cur is not None and p.cur["status"] == "active"
    }
    moved: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None]] = {}  # report -> (from, to)
    if leavers:
        for emp, mgr in manager.items():
            if mgr in leavers and status.get(emp) == "active":
                to, seen = manager.get(mgr), {mgr}
                while to is not None and status.get(to) != "active" and to not in seen:
                    seen.add(to)
                    to = manager.get(to)
                moved[emp] = (mgr, to if to is not None and status.get(to) == "active" else None)
    by_id = {p.id: p for p in plans.values()}
    for emp, (_, to) in moved.items():
        if emp in by_id:
            by_id[emp].final["manager_id"] = to

    # 6. outcomes
    for i, p in plans.items():
        r = results[i]
        r.employee_id = p.id if p.cur is not None or not dry_run else None
        if p.cur is None:
            r.action = CREATED
            r.changed = [
                _COLUMN_FIELDS[c] for c, v in p.final.items() if v is not None and c != "status"
            ]
            continue
        diff = [c for c, v in p.final.items() if p.cur[c] != v and c in _COLUMN_FIELDS]
        r.changed = [_COLUMN_FIELDS[c] for c in diff]
        if "status" in diff:
            r.action = OFFBOARDED if p.final["status"] == "offboarded" else REACTIVATED
        elif diff:
            r.action = UPDATED
    result = SyncResult(dry_run=dry_run, rows=results, reports_reassigned=len(moved))
    changed = [p for i, p in plans.items() if results[i].action != UNCHANGED]
    if dry_run or not (changed or moved):
        return result
    await _write(session, principal, changed, moved, result)
    result.written = True
    return result


def _check_relations(
    plans: dict[int, _Plan],
    by_ext: dict[str, Any],
    row_by_ext: dict[str, int],
    graph: dict[uuid.UUID, list[Any]],
    fail: Callable[[int, str, str], None],
) -> list[int]:
    """Resolve managers for the current valid rows; the rows that fail (new errors)."""
    failed: list[int] = []
    ids_by_ext = {ext: r["id"] for ext, r in by_ext.items()}
    ids_by_ext.update({p.external_id: p.id for p in plans.values()})
    status = {k: v[1] for k, v in graph.items()}
    status.update({p.id: p.final["status"] for p in plans.values()})
    row_of = {p.id: p.index for p in plans.values()}
    for i, p in plans.items():
        current = p.cur["manager_id"] if p.cur is not None else None
        if p.final["status"] != "active":
            p.final["manager_id"] = current  # a leaver keeps their manager
            continue
        if p.manager_ext is ...:
            mgr = current
            if p.cur is not None and p.cur["status"] != "active" and status.get(mgr) != "active":
                mgr = None  # reactivated: the last manager only if still active
            p.final["manager_id"] = mgr
            continue
        if p.manager_ext is None:
            p.final["manager_id"] = None
            continue
        mgr = ids_by_ext.get(p.manager_ext)
        if p.manager_ext == p.external_id:
            fail(i, "managerExternalId", "an employee cannot be their own manager")
        elif mgr is None and p.manager_ext in row_by_ext:
            n = row_by_ext[p.manager_ext]
            fail(i, "managerExternalId", f"the manager's row ({n}) has errors")
        elif mgr is None:
            fail(i, "managerExternalId", f"no employee with external id {p.manager_ext!r}")
        elif status.get(mgr) != "active":
            where = f" (row {row_of[mgr]})" if mgr in row_of else ""
            fail(i, "managerExternalId", f"the manager {p.manager_ext!r}{where} is not active")
        else:
            p.final["manager_id"] = mgr
            continue
        failed.append(i)
    if failed:
        return failed
    # cycles: follow each changed row's chain over the graph as the sync leaves it; every
    # employee is walked once (the graph was acyclic, so a cycle goes through a changed row)
    manager = {k: v[0] for k, v in graph.items()}
    manager.update({p.id: p.final["manager_id"] for p in plans.values()})
    by_id = {p.id: p for p in plans.values()}
    in_cycle: set[uuid.UUID] = set()
    walked: dict[uuid.UUID, bool] = {}  # True: on the current walk
    for p in plans.values():
        if p.final["manager_id"] is None or (
            p.cur is not None and p.final["manager_id"] == p.cur["manager_id"]
        ):
            continue
        path: list[uuid.UUID] = []
        node: uuid.UUID | None = p.id
        while node is not None and node not in walked:
            walked[node] = True
            path.append(node)
            node = manager.get(node)
        if node is not None and walked[node]:
            in_cycle.update(path[path.index(node) :])
        for n in path:
            walked[n] = False
    for emp in in_cycle:
        p = by_id.get(emp)
        if p is not None and (p.cur is None or p.final["manager_id"] != p.cur["manager_id"]):
            fail(p.index, "managerExternalId", "this manager would create a reporting cycle")
            failed.append(p.index)
    if failed:
        return failed
    # the last active tenant admin stays (as if offboarded one by one: the last one fails)
    admins = {k for k, v in graph.items() if v[2]}
    if any(graph[a][1] == "active" for a in admins) and not any(
        status.get(a) == "active" for a in admins
    ):
        leaving = [p for p in plans.values() if p.id in admins and p.final["status"] != "active"]
        last = max(leaving, key=lambda x: x.index)
        fail(last.index, "active", "cannot offboard the last tenant admin")
        failed.append(last.index)
    return failed


def _jsonb(changes: dict[str, Any]) -> str:
    return orjson.dumps(audit._jsonable(changes)).decode()


_AUDIT_SQL = """
    insert into audit_events
        (tenant_id, id, occurred_at, actor_type, actor_id, action, target_type, target_id,
         request_id, changes)
    select $1, gen_random_uuid(), clock_timestamp(), $2, $3::uuid, x.action, x.target_type,
           x.target, $4, x.changes::jsonb
    from unnest($5::text[], $6::text[], $7::uuid[], $8::text[]) with ordinality
         as x(action, target_type, target, changes, n)
    order by x.n
"""


async def _write(
    session: Executor,
    principal: Principal,
    changed: list[_Plan],
    moved: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID | None]],
    result: SyncResult,
) -> None:
    now = datetime.now(UTC)
    new = [p for p in changed if p.cur is None]
    old = [p for p in changed if p.cur is not None]
    events: list[tuple[str, str, uuid.UUID, dict[str, Any]]] = []
    try:
        if new:
            cols = (*_UPDATE_COLUMNS, "manager_id", "status")
            await fetch(
                session,
                """
                insert into employees (tenant_id, id, email, name, title, job_level,
                    department_id, location_id, timezone, hire_date, external_id, manager_id,
                    status, offboarded_at)
                select $1, x.id, x.email, x.name, x.title, x.job_level, x.department_id,
                       x.location_id, x.timezone, x.hire_date, x.external_id, x.manager_id,
                       x.status, case when x.status = 'offboarded' then $2::timestamptz end
                from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::uuid[], $9::uuid[], $10::text[], $11::date[], $12::text[],
                            $13::uuid[], $14::text[])
                     as x(id, email, name, title, job_level, department_id, location_id,
                          timezone, hire_date, external_id, manager_id, status)
                """,
                principal.tenant_id,
                now,
                [p.id for p in new],
                *([p.final[c] for p in new] for c in cols),
            )
        if old:
            cols = (*_UPDATE_COLUMNS, "manager_id", "status")
            await fetch(
                session,
                """
                update employees e set email = x.email, name = x.name, title = x.title,
                    job_level = x.job_level, department_id = x.department_id,
                    location_id = x.location_id, timezone = x.timezone,
                    hire_date = x.hire_date, external_id = x.external_id,
                    manager_id = x.manager_id, status = x.status,
                    offboarded_at = case when x.status = e.status then e.offboarded_at
                                         when x.status = 'offboarded' then $1::timestamptz
                                    end,
                    updated_at = $1::timestamptz
                from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::uuid[], $8::uuid[], $9::text[], $10::date[], $11::text[],
                            $12::uuid[], $13::text[])
                     as x(id, email, name, title, job_level, department_id, location_id,
                          timezone, hire_date, external_id, manager_id, status)
                where e.id = x.id
                """,
                now,
                [p.id for p in old],
                *([p.final[c] for p in old] for c in cols),
            )
    except Exception as exc:
        if is_unique_violation(exc):  # a concurrent change took an email or external id
            raise Conflict(
                "employees changed while syncing; run the sync again", field="input"
            ) from exc
        raise
    in_batch = {p.id for p in changed}
    others = [(emp, to) for emp, (_, to) in moved.items() if emp not in in_batch]
    if others:
        await fetch(
            session,
            "update employees e set manager_id = x.m, updated_at = $1 "
            "from unnest($2::uuid[], $3::uuid[]) as x(id, m) where e.id = x.id",
            now,
            [e for e, _ in others],
            [m for _, m in others],
        )

    reports: dict[uuid.UUID, list[uuid.UUID]] = {}
    for emp, (frm, _) in moved.items():
        reports.setdefault(frm, []).append(emp)
    for p in changed:
        final = p.final
        if p.cur is None:
            values = {c: v for c, v in final.items() if c != "status" and v is not None}
            events.append(("employee.create", "Employee", p.id, audit.diff({}, values)))
            if final["status"] == "offboarded":
                events.append(("employee.offboard", "Employee", p.id, _offboarded([], None)))
            continue
        cur = p.cur
        reactivated = cur["status"] != "active" and final["status"] == "active"
        if reactivated:
            events.append(
                (
                    "employee.reactivate",
                    "Employee",
                    p.id,
                    {"status": {"from": "offboarded", "to": "active"}},
                )
            )
        before = {c: cur[c] for c in _UPDATE_COLUMNS}
        after = {c: final[c] for c in _UPDATE_COLUMNS}
        changes = audit.diff(before, after)
        if changes:
            events.append(("employee.update", "Employee", p.id, changes))
        if final["manager_id"] != cur["manager_id"]:
            change = audit.diff(
                {"manager_id": cur["manager_id"]}, {"manager_id": final["manager_id"]}
            )
            if p.id in moved:
                change["reason"] = "manager offboarded"
            events.append(("employee.change_manager", "Employee", p.id, change))
        if cur["status"] == "active" and final["status"] == "offboarded":
            mine = reports.get(p.id, [])
            target = moved[mine[0]][1] if mine else None
            events.append(("employee.offboard", "Employee", p.id, _offboarded(mine, target)))
    for emp, to in others:
        change = audit.diff({"manager_id": moved[emp][0]}, {"manager_id": to})
        events.append(
            ("employee.change_manager", "Employee", emp, {**change, "reason": "manager offboarded"})
        )
    events.append(
        (
            "employee.sync",
            "Tenant",
            principal.tenant_id,
            {
                "rows": len(result.rows),
                **{a: result.count(a) for a in ACTIONS if a != ERROR},
                "errors": result.count(ERROR),
                "reports_reassigned": len(moved),
            },
        )
    )
    await fetch(
        session,
        _AUDIT_SQL,
        principal.tenant_id,
        principal.actor_type,
        principal.actor_id,
        request_id_var.get(),
        [e[0] for e in events],
        [e[1] for e in events],
        [e[2] for e in events],
        [_jsonb(e[3]) for e in events],
    )


def _offboarded(reports: list[uuid.UUID], target: uuid.UUID | None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": {"from": "active", "to": "offboarded"}}
    if reports:
        out["reassigned_reports"] = [str(r) for r in reports]
        out["reports_moved_to"] = str(target) if target else None
    return out
