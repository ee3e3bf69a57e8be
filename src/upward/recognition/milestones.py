"""Milestones: recognition the company gives by itself, exactly once per milestone.

What counts (`MILESTONE_KINDS`), and what causes it:

- `credential_earned` / `credential_renewed`: a credential became usable (`credential.verified`,
  or `credential.created` of a type that needs no verification), unless an import or a manifest
  loaded it (bulk loads are not celebrated). It is a renewal when it superseded an older
  credential (the state at publish time, or a `credential.renewed` of the same batch). One per
  credential (`credential:{id}`): a later `credential.renewed` of it adds nothing.
- `goal_completed` (`idp.goal_completed`, `goal:{id}`), `plan_completed` (`idp.completed`,
  `plan:{id}`).
- `promotion` / `internal_move`: `employee.moved` of kind promotion / lateral (a gig is not a
  move), `move:{id}`.
- `work_anniversary`: found by the hourly `recognition.anniversaries` actor, in the tenant's
  timezone, `anniversary:{employee}:{years}`.

Event milestones are recognized by the event publisher (`reminders.outbox.publish_events` calls
`after_events` in its transaction), so a milestone is written atomically with its events marked
published. Exactly once comes from the key, not from delivery: `insert ... on conflict (tenant_id,
key) do nothing returning id`, and only a row actually inserted gets its kudos (a public kudos
from the company, points from the `company` account). A redelivered event, a second publisher or
a second scheduler run inserts nothing; a concurrent one waits on the first's uncommitted row,
then inserts nothing. Keys are inserted in sorted order, so two writers never deadlock.

Each kind is configurable per tenant (`milestone_settings`; no row: `DEFAULTS`): on or off, the
message template, the points. A disabled kind writes nothing. Only active people are recognized.
Services never commit.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, fetch
from upward.errors import BadUserInput
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.service import Viewer
from upward.people.validation import require_text
from upward.recognition import ledger
from upward.recognition.models import MILESTONE_KINDS, Milestone

t_ms = Milestone.__table__

MAX_MESSAGE = 500  # a template, as saved
MAX_RENDERED = 2000  # a kudos message (`kudos.MAX_MESSAGE`)
CATCH_UP_DAYS = 7  # an anniversary is recognized on its day or up to 6 days late
BULK_SOURCES = ("import", "manifest")


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    kind: str
    enabled: bool
    message: str
    points: int  # work_anniversary: per year of service
    is_default: bool = True


def _default(kind: str, message: str, points: int) -> Setting:
    return Setting(kind=kind, enabled=True, message=message, points=points)


DEFAULTS: dict[str, Setting] = {
    s.kind: s
    for s in (
        _default("credential_earned", "Congratulations {name} on earning {credential}!", 10),
        _default(
            "credential_renewed",
            "{name} renewed {credential}: thank you for keeping it current!",
            10,
        ),
        _default("goal_completed", '{name} completed the development goal "{goal}". Well done!', 5),
        _default(
            "plan_completed", '{name} completed the development plan "{plan}". Congratulations!', 20
        ),
        _default("promotion", "Congratulations {name} on the promotion to {title}!", 25),
        _default("internal_move", "Welcome to your new role, {name}: {title}!", 10),
        _default(
            "work_anniversary",
            "Happy {years}-year work anniversary, {name}! Thank you for everything you do.",
            10,
        ),
    )
}
assert set(DEFAULTS) == set(MILESTONE_KINDS)

COMMON_PLACEHOLDERS = ("name", "first_name")
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "credential_earned": ("credential",),
    "credential_renewed": ("credential",),
    "goal_completed": ("goal", "plan"),
    "plan_completed": ("plan",),
    "promotion": ("title",),
    "internal_move": ("title",),
    "work_anniversary": ("years",),
}


def placeholders_of(kind: str) -> tuple[str, ...]:
    """The placeholders a kind's template may use, in the order the API lists them."""
    return COMMON_PLACEHOLDERS + PLACEHOLDERS[kind]


# a placeholder is anything in braces; only `{word}` of the kind's list is filled
_BRACED = re.compile(r"\{([^{}]*)\}")


def check_template(kind: str, message: str | None, *, field: str = "input.message") -> str:
    """The template, trimmed, or BAD_USER_INPUT on `field`: empty, too long, a NUL, or a
    placeholder the kind does not fill (the message names the ones it does)."""
    text = require_text(message, field=field, max_len=MAX_MESSAGE)
    allowed = placeholders_of(kind)
    for m in _BRACED.finditer(text):
        if m.group(1) not in allowed:
            raise BadUserInput(
                f"unknown placeholder {m.group(0)}; a {kind} message may use "
                + ", ".join("{" + p + "}" for p in allowed),
                field=field,
            )
    return text


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill `{word}` placeholders from `values` by plain substitution (never str.format on
    tenant text: no attribute or index access); anything else stays as written."""

    def fill(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        return m.group(0) if value is None else value

    return _BRACED.sub(fill, template)[:MAX_RENDERED]


async def settings_of(session: Executor) -> dict[str, Setting]:
    """Every kind's setting: the tenant's row, else the default."""
    rows = await fetch(session, "select kind, enabled, message, points from milestone_settings")
    out = dict(DEFAULTS)
    for r in rows:
        if r["kind"] in out:
            out[r["kind"]] = Setting(r["kind"], r["enabled"], r["message"], r["points"], False)
    return out


async def list_settings(session: Executor, principal: Principal) -> list[Setting]:
    principal.require_hr("reading milestone settings")
    by_kind = await settings_of(session)
    return [by_kind[k] for k in MILESTONE_KINDS]


async def set_setting(
    session: Executor,
    principal: Principal,
    *,
    kind: str,
    enabled: bool | None = None,
    message: str | None = None,
    points: int | None = None,
) -> Setting:
    """Change a kind's setting (what is not given stays as it is, the default at first)."""
    principal.require_hr("changing milestone settings")
    if kind not in MILESTONE_KINDS:
        raise BadUserInput(f"kind must be one of {', '.join(MILESTONE_KINDS)}", field="input.kind")
    before = (await settings_of(session))[kind]
    after = Setting(
        kind=kind,
        enabled=before.enabled if enabled is None else enabled,
        message=before.message if message is None else check_template(kind, message),
        points=before.points
        if points is None
        else ledger.check_points(points, field="input.points", most=ledger.MAX_POINTS),
        is_default=False,
    )
    await fetch(
        session,
        "insert into milestone_settings (tenant_id, kind, enabled, message, points, updated_at) "
        "values (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5) "
        "on conflict (tenant_id, kind) do update set enabled = excluded.enabled, "
        "message = excluded.message, points = excluded.points, updated_at = excluded.updated_at",
        kind,
        after.enabled,
        after.message,
        after.points,
        clock.now(),
    )
    fields = ("enabled", "message", "points")
    await audit.record(
        session,
        principal,
        action="milestone_setting.set",
        target_type="MilestoneSetting",
        target_id=None,
        changes={
            "kind": kind,
            **audit.diff(
                {f: getattr(before, f) for f in fields}, {f: getattr(after, f) for f in fields}
            ),
        },
    )
    return after


# --- what events mean (pure) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    """A milestone to recognize: its kind, its once-only key, whose, when, and the template's
    values the cause knows (the rest come from the database)."""

    kind: str
    key: str
    employee_id: uuid.UUID
    occurred_on: date | None  # None: today in the tenant's zone
    values: Mapping[str, str] = field(default_factory=dict)
    credential_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None
    years: int | None = None


CREDENTIAL_EVENTS = ("credential.created", "credential.verified", "credential.renewed")
MILESTONE_EVENTS = (*CREDENTIAL_EVENTS, "idp.goal_completed", "idp.completed", "employee.moved")
MOVE_KINDS = {"promotion": "promotion", "lateral": "internal_move"}


def _payload(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event["payload"]
    if raw is None:
        return {}
    return raw if isinstance(raw, dict) else orjson.loads(raw)


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def _day(value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except (ValueError, TypeError):
        return None


def _field(row: Any, name: str) -> Any:
    """`row[name]` of a dict or an asyncpg Record, None where it has no such column."""
    try:
        return row[name]
    except (KeyError, IndexError):
        return None


def _occurred_on(event: Mapping[str, Any], timezone: str) -> date | None:
    at = _field(event, "occurred_at")
    return at.astimezone(clock.zone(timezone)).date() if isinstance(at, datetime) else None


def _is_celebrated_credential(kind: str, payload: Mapping[str, Any]) -> bool:
    if payload.get("source") in BULK_SOURCES:
        return False
    if kind == "credential.verified":
        return True
    return kind == "credential.created" and payload.get("verification") == "not_required"


def credential_ids_of(events: Iterable[Mapping[str, Any]]) -> list[uuid.UUID]:
    """The credentials the batch may celebrate (whose state the caller looks up)."""
    out: dict[uuid.UUID, None] = {}
    for ev in events:
        payload = _payload(ev)
        if _is_celebrated_credential(ev["kind"], payload):
            cid = _uuid(payload.get("credential_id"))
            if cid is not None:
                out[cid] = None
    return list(out)


def milestones_from_events(
    events: Sequence[Mapping[str, Any]],
    *,
    renewed: Iterable[uuid.UUID] = (),
    timezone: str = "UTC",
) -> list[Planned]:
    """The milestones a batch of domain events (rows with `kind`, `payload` and optionally
    `occurred_at`) causes, once per key, in event order. `renewed`: credentials known to have
    superseded an older one (the state); a `credential.renewed` in the batch counts too."""
    renewed_ids = set(renewed)
    for ev in events:
        if ev["kind"] == "credential.renewed":
            cid = _uuid(_payload(ev).get("credential_id"))
            if cid is not None:
                renewed_ids.add(cid)
    out: dict[str, Planned] = {}
    for ev in events:
        kind = ev["kind"]
        if kind not in MILESTONE_EVENTS:
            continue
        payload = _payload(ev)
        employee_id = _uuid(payload.get("employee_id"))
        if employee_id is None:
            continue
        on = _occurred_on(ev, timezone)
        planned: Planned | None = None
        if kind in CREDENTIAL_EVENTS:
            cid = _uuid(payload.get("credential_id"))
            if cid is not None and _is_celebrated_credential(kind, payload):
                planned = Planned(
                    kind="credential_renewed" if cid in renewed_ids else "credential_earned",
                    key=f"credential:{cid}",
                    employee_id=employee_id,
                    occurred_on=on,
                    credential_id=cid,
                )
        elif kind == "idp.goal_completed":
            gid = _uuid(payload.get("goal_id"))
            if gid is not None:
                planned = Planned(
                    kind="goal_completed",
                    key=f"goal:{gid}",
                    employee_id=employee_id,
                    occurred_on=on,
                    values={"goal": str(payload.get("title") or "")},
                    plan_id=_uuid(payload.get("plan_id")),
                )
        elif kind == "idp.completed":
            pid = _uuid(payload.get("plan_id"))
            if pid is not None:
                planned = Planned(
                    kind="plan_completed",
                    key=f"plan:{pid}",
                    employee_id=employee_id,
                    occurred_on=on,
                    values={"plan": str(payload.get("title") or "")},
                )
        elif kind == "employee.moved":
            mid = _uuid(payload.get("move_id"))
            milestone = MOVE_KINDS.get(str(payload.get("kind")))
            if mid is not None and milestone is not None:
                after = payload.get("after") if isinstance(payload.get("after"), dict) else {}
                title = after.get("title")
                planned = Planned(
                    kind=milestone,
                    key=f"move:{mid}",
                    employee_id=employee_id,
                    occurred_on=_day(payload.get("moved_on")) or on,
                    values={"title": str(title)} if title else {},
                )
        if planned is not None and planned.key not in out:
            out[planned.key] = planned
    return list(out.values())


# --- anniversaries (pure) ----------------------------------------------------------------------


def anniversary_in(hire_date: date, year: int) -> date:
    """The day `year` celebrates a `hire_date`: the same month and day, and 28 February for
    a 29 February hire in a year without one."""
    if hire_date.month == 2 and hire_date.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return hire_date.replace(year=year)


def due_anniversaries(
    hire_date: date, today: date, *, catch_up_days: int = CATCH_UP_DAYS
) -> list[tuple[int, date]]:
    """(years, day) of each anniversary of at least one year whose day is today or up to
    `catch_up_days - 1` days before (last year's too, for a catch-up across new year)."""
    out = []
    for year in (today.year - 1, today.year):
        years = year - hire_date.year
        if years < 1:
            continue
        day = anniversary_in(hire_date, year)
        if 0 <= (today - day).days < catch_up_days:
            out.append((years, day))
    return out


def window_month_days(today: date, *, catch_up_days: int = CATCH_UP_DAYS) -> list[str]:
    """'MM-DD' of every hire date that can have an anniversary in the window (a prefilter for
    SQL: a 29 February hire is due on a 28 February of a common year)."""
    out: set[str] = set()
    for back in range(catch_up_days):
        d = today - timedelta(days=back)
        out.add(d.strftime("%m-%d"))
        if d.month == 2 and d.day == 28 and not calendar.isleap(d.year):
            out.add("02-29")
    return sorted(out)


def anniversary_milestones(
    people: Iterable[tuple[uuid.UUID, date]], today: date, *, catch_up_days: int = CATCH_UP_DAYS
) -> list[Planned]:
    """The anniversaries due `today` (the tenant's date) of (employee, hire date) pairs."""
    out = []
    for employee_id, hire in people:
        for years, day in due_anniversaries(hire, today, catch_up_days=catch_up_days):
            out.append(
                Planned(
                    kind="work_anniversary",
                    key=f"anniversary:{employee_id}:{years}",
                    employee_id=employee_id,
                    occurred_on=day,
                    values={"years": str(years)},
                    years=years,
                )
            )
    return out


# --- recognizing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recognized:
    milestone_id: uuid.UUID
    kind: str
    key: str
    employee_id: uuid.UUID
    kudos_id: uuid.UUID


def points_for(setting: Setting, planned: Planned) -> int:
    """The setting's points; a work anniversary's per year of service (at most MAX_POINTS)."""
    if planned.kind == "work_anniversary" and planned.years:
        return min(setting.points * planned.years, ledger.MAX_POINTS)
    return setting.points


async def recognize(
    session: Executor, principal: Principal, planned: Sequence[Planned]
) -> list[Recognized]:
    """Write the milestones of `planned` that are new (their key), and a kudos for each; skip
    disabled kinds and people who are not active. Returns what was recognized now."""
    if not planned:
        return []
    settings = await settings_of(session)
    wanted = {p.key: p for p in planned if settings[p.kind].enabled}
    if not wanted:
        return []
    people = {
        r["id"]: r
        for r in await fetch(
            session,
            "select id, name, title from employees where id = any($1::uuid[]) "
            "and status = 'active'",
            list({p.employee_id for p in wanted.values()}),
        )
    }
    todo = sorted((p for p in wanted.values() if p.employee_id in people), key=lambda p: p.key)
    if not todo:
        return []
    today = clock.today(principal.tenant_timezone)
    inserted = await fetch(
        session,
        """
        insert into milestones (tenant_id, kind, key, employee_id, occurred_on, created_at)
        select current_setting('app.tenant_id')::uuid, x.kind, x.key, x.employee_id, x.on_, $5
        from unnest($1::text[], $2::text[], $3::uuid[], $4::date[])
             as x(kind, key, employee_id, on_)
        on conflict (tenant_id, key) do nothing
        returning id, key
        """,
        [p.kind for p in todo],
        [p.key for p in todo],
        [p.employee_id for p in todo],
        [p.occurred_on or today for p in todo],
        clock.now(),
    )
    if not inserted:
        return []
    new = {r["key"]: r["id"] for r in inserted}
    fresh = [p for p in todo if p.key in new]
    extra = await _lookups(session, fresh)
    from upward.recognition.kudos import create_milestone_kudos

    out: list[Recognized] = []
    for p in fresh:
        person = people[p.employee_id]
        setting = settings[p.kind]
        values = {
            **dict.fromkeys(placeholders_of(p.kind), ""),
            "name": person["name"],
            "first_name": (person["name"].split() or [""])[0],
            "title": person["title"] or "a new role",
            **extra.get(p.key, {}),
            **{k: v for k, v in p.values.items() if v},
        }
        kudos = await create_milestone_kudos(
            session,
            principal,
            employee_id=p.employee_id,
            milestone_kind=p.kind,
            message=render(setting.message, values),
            points=points_for(setting, p),
        )
        out.append(Recognized(new[p.key], p.kind, p.key, p.employee_id, kudos["id"]))
    await fetch(
        session,
        "update milestones m set kudos_id = x.kudos_id "
        "from unnest($1::uuid[], $2::uuid[]) as x(id, kudos_id) where m.id = x.id",
        [r.milestone_id for r in out],
        [r.kudos_id for r in out],
    )
    return out


async def _lookups(session: Executor, planned: Sequence[Planned]) -> dict[str, dict[str, str]]:
    """Template values from the database the cause did not carry: a goal's plan title."""
    out: dict[str, dict[str, str]] = {}
    plans: dict[uuid.UUID, list[str]] = {}
    for p in planned:
        if p.kind == "goal_completed" and p.plan_id is not None:
            plans.setdefault(p.plan_id, []).append(p.key)
    if plans:
        rows = await fetch(
            session,
            "select id, title from development_plans where id = any($1::uuid[])",
            list(plans),
        )
        for r in rows:
            for key in plans[r["id"]]:
                out[key] = {"plan": r["title"]}
    return out


async def _credential_state(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """{credential: row} of the usable ones among `ids` (neither revoked nor waiting or
    rejected), with its type's `name` and `renews`: it superseded an older credential."""
    if not ids:
        return {}
    rows = await fetch(
        session,
        # what a credential supersedes is the same person's of the same type (their index)
        "select c.id, t.name, exists (select 1 from credentials o "
        "where o.tenant_id = c.tenant_id and o.employee_id = c.employee_id "
        "and o.credential_type_id = c.credential_type_id and o.superseded_by_id = c.id) as renews "
        "from credentials c join credential_types t "
        "on t.tenant_id = c.tenant_id and t.id = c.credential_type_id "
        "where c.id = any($1::uuid[]) and c.revoked_at is null "
        "and c.verification in ('verified', 'not_required')",
        list(ids),
    )
    return {r["id"]: r for r in rows}


async def _principal_here(session: Executor) -> Principal:
    """The system principal of the session's tenant (the publisher has none of its own)."""
    row = (
        await fetch(
            session,
            "select id, slug, timezone from tenants "
            "where id = current_setting('app.tenant_id')::uuid",
        )
    )[0]
    return Principal.system(row["id"], row["slug"], row["timezone"])


async def after_events(
    session: Executor, events: Sequence[Any], principal: Principal | None = None
) -> list[Recognized]:
    """Called by the event publisher inside its transaction with the batch it publishes: the
    milestones the events cause, recognized with the events marked published (atomically)."""
    relevant = [e for e in events if e["kind"] in MILESTONE_EVENTS]
    if not relevant:
        return []
    principal = principal or await _principal_here(session)
    ids = [i for i in (_field(e, "id") for e in relevant) if i is not None]
    times = {
        r["id"]: r["occurred_at"]
        for r in await fetch(
            session, "select id, occurred_at from domain_events where id = any($1::uuid[])", ids
        )
    }
    rows = [
        {
            "kind": e["kind"],
            "payload": _payload(e),
            "occurred_at": _field(e, "occurred_at") or times.get(_field(e, "id")),
        }
        for e in relevant
    ]
    state = await _credential_state(session, credential_ids_of(rows))
    planned = []
    for p in milestones_from_events(
        rows,
        renewed=[cid for cid, r in state.items() if r["renews"]],
        timezone=principal.tenant_timezone,
    ):
        if p.credential_id is None:
            planned.append(p)
        elif p.credential_id in state:
            name = state[p.credential_id]["name"]
            planned.append(dataclasses.replace(p, values={**p.values, "credential": name}))
    return await recognize(session, principal, planned)


async def recognize_anniversaries(
    session: Executor, principal: Principal, *, today: date | None = None
) -> list[Recognized]:
    """Work anniversaries due today in the tenant's timezone (or up to CATCH_UP_DAYS - 1
    days ago), each once. Safe to run any number of times, also concurrently."""
    principal.require_hr("recognizing work anniversaries")
    today = today or clock.today(principal.tenant_timezone)
    rows = await fetch(
        session,
        "select id, hire_date from employees where status = 'active' and hire_date is not null "
        "and hire_date < $1 and to_char(hire_date, 'MM-DD') = any($2::text[])",
        today,
        window_month_days(today),
    )
    planned = anniversary_milestones([(r["id"], r["hire_date"]) for r in rows], today)
    return await recognize(session, principal, planned)


# --- reading -----------------------------------------------------------------------------------

MILESTONE_ORDER = Order(
    key="milestones:newest",
    columns=(t_ms.c.occurred_on, t_ms.c.id),
    descending=True,
    parse=(date.fromisoformat, uuid.UUID),
)


async def list_milestones(
    session: Executor,
    viewer: Viewer,
    *,
    employee_id: uuid.UUID,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    """A person's milestones, newest first: for HR, the person and their managers; anyone
    else gets an empty page (as for a person who does not exist)."""
    if not viewer.sees_private(employee_id):
        return Page(
            rows=[], has_next=False, has_previous=False, count_sql=("select 0", []), total=0
        )
    cond = t_ms.c.employee_id == employee_id
    return await paginate(
        session,
        sa.select(t_ms).where(cond),
        MILESTONE_ORDER,
        page,
        count_stmt=sa.select(sa.func.count()).select_from(t_ms).where(cond),
        with_count=with_count,
    )


async def milestones_by_ids(
    session: Executor, viewer: Viewer, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The milestones among `ids` the viewer may read (`node(id:)`)."""
    if not ids:
        return {}
    rows = (await session.execute(sa.select(t_ms).where(t_ms.c.id.in_(list(ids))))).all()
    return {r.id: r for r in rows if viewer.sees_private(r.employee_id)}
