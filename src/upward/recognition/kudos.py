"""Kudos: one person thanks one or more colleagues for living the company's values, optionally
with points; colleagues react and comment; HR hides what should not be there.

Who reads a kudos (`visible_sql`, `can_read`):
- a public one: everyone in the tenant;
- a private one: its giver, its receivers and their managers (the whole reporting line above
  a receiver), and HR;
- a hidden one: HR only (the reason is in the audit and on the kudos).

Giving is one transaction: the kudos, its receivers and values, the points (the ledger refuses
to overspend), the audit event, the notifications (receivers and their managers) and, for a
public kudos, the `kudos.given` domain event for the tenant's webhooks. Offboarded people
neither give nor receive. Services never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, Params, columns, fetch, grouped
from upward.errors import BadUserInput, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, page_from_rows
from upward.people.service import Viewer
from upward.people.validation import require_text
from upward.recognition import ledger
from upward.recognition.models import (
    REACTIONS,
    VISIBILITIES,
    Kudos,
    KudosComment,
    KudosReaction,
)

t_kudos = Kudos.__table__
t_comment = KudosComment.__table__
t_reaction = KudosReaction.__table__
_KUDOS = columns(Kudos)  # `returning` names the columns: expand/contract (db.columns)
_COMMENT = columns(KudosComment)
_KUDOS_K = columns(Kudos, "k")

MAX_RECEIVERS = 20
MAX_VALUES_PER_KUDOS = 5
MAX_MESSAGE = 2000
MAX_COMMENT = 1000
MAX_REASON = 500


def _me(principal: Principal, *, field: str) -> uuid.UUID:
    if principal.employee_id is None:
        raise BadUserInput("kudos are between people: use a person's token", field=field)
    return principal.employee_id


# --- who reads what ----------------------------------------------------------------------------


def visible_sql(viewer: Viewer, alias: str, params: Any, *, include_hidden: bool = False) -> str:
    """A SQL condition on kudos `alias`: the viewer reads it. `params` is an `upward.db.Params`
    (the viewer's ids travel as parameters)."""
    p = viewer.principal
    hidden = "" if include_hidden and p.is_hr else f"{alias}.hidden_at is null and "
    if p.is_hr:
        return f"({hidden}true)"
    ids = viewer.private_ids() or []
    me = p.employee_id
    mine = f"{alias}.giver_id = {params(me, '::uuid')} or " if me is not None else ""
    return (
        f"({hidden}({alias}.visibility = 'public' or {mine}exists (select 1 from kudos_receivers "  # noqa: S608
        f"vr where vr.tenant_id = {alias}.tenant_id and vr.kudos_id = {alias}.id "
        f"and vr.employee_id = any({params(ids, '::uuid[]')}))))"
    )


def can_read(viewer: Viewer, row: Any, receiver_ids: Sequence[uuid.UUID]) -> bool:
    p = viewer.principal
    if p.is_hr:
        return True
    if row["hidden_at"] is not None:
        return False
    if row["visibility"] == "public":
        return True
    return row["giver_id"] == p.employee_id or any(viewer.sees_private(r) for r in receiver_ids)


async def kudos_by_ids(
    session: Executor, viewer: Viewer, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The kudos among `ids` the viewer reads, in one statement."""
    if not ids:
        return {}
    params = Params()
    id_param = params(list(ids), "::uuid[]")
    rows = await fetch(
        session,
        f"select {_KUDOS_K} from kudos k where k.id = any({id_param}) "  # noqa: S608
        f"and {visible_sql(viewer, 'k', params, include_hidden=True)}",
        *params.values,
    )
    return {r["id"]: r for r in rows}


async def _readable(session: Executor, viewer: Viewer, kudos_id: uuid.UUID, field: str) -> Any:
    row = (await kudos_by_ids(session, viewer, [kudos_id])).get(kudos_id)
    if row is None:
        raise NotFound("no kudos with this id", field=field)
    return row


async def receivers_of(
    session: Executor, kudos_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await fetch(
        session,
        "select r.kudos_id, r.employee_id from kudos_receivers r join employees e "
        "on e.tenant_id = r.tenant_id and e.id = r.employee_id "
        "where r.kudos_id = any($1::uuid[]) order by e.name, e.id",
        list(kudos_ids),
    )
    return grouped(rows, kudos_ids, lambda r: r["kudos_id"], lambda r: r["employee_id"])


async def values_of(
    session: Executor, kudos_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await fetch(
        session,
        "select kv.kudos_id, kv.value_id from kudos_values kv join company_values v "
        "on v.tenant_id = kv.tenant_id and v.id = kv.value_id "
        "where kv.kudos_id = any($1::uuid[]) order by v.position, lower(v.name), v.id",
        list(kudos_ids),
    )
    return grouped(rows, kudos_ids, lambda r: r["kudos_id"], lambda r: r["value_id"])


@dataclass(frozen=True, slots=True)
class ReactionCount:
    reaction: str
    count: int
    mine: bool


async def reactions_of(
    session: Executor, principal: Principal, kudos_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ReactionCount]]:
    """Per kudos: each reaction used, how many people, whether the principal is one of them,
    in the fixed order of REACTIONS."""
    rows = await fetch(
        session,
        "select kudos_id, reaction, count(*)::int as n, bool_or(employee_id = $2) as mine "
        "from kudos_reactions where kudos_id = any($1::uuid[]) group by kudos_id, reaction",
        list(kudos_ids),
        principal.employee_id,
    )
    order = {r: i for i, r in enumerate(REACTIONS)}
    rows = sorted(rows, key=lambda r: order[r["reaction"]])
    return grouped(
        rows,
        kudos_ids,
        lambda r: r["kudos_id"],
        lambda r: ReactionCount(r["reaction"], r["n"], bool(r["mine"])),
    )


async def comment_counts(session: Executor, kudos_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    rows = await fetch(
        session,
        "select kudos_id, count(*)::int as n from kudos_comments "
        "where kudos_id = any($1::uuid[]) and deleted_at is null group by kudos_id",
        list(kudos_ids),
    )
    out = dict.fromkeys(kudos_ids, 0)
    out.update({r["kudos_id"]: r["n"] for r in rows})
    return out


async def comments_of(
    session: Executor, viewer: Viewer, kudos_id: uuid.UUID, *, first: int
) -> list[Any]:
    """The first `first` comments of a kudos the viewer reads, oldest first."""
    await _readable(session, viewer, kudos_id, "kudosId")
    return list(
        await fetch(
            session,
            f"select {_COMMENT} from kudos_comments where kudos_id = $1 and deleted_at is null "  # noqa: S608 - column names of the model
            "order by created_at, id limit $2",
            kudos_id,
            first,
        )
    )


# --- giving ------------------------------------------------------------------------------------


async def _active_people(
    session: Executor, ids: Sequence[uuid.UUID], *, field: str
) -> dict[uuid.UUID, Any]:
    rows = await fetch(
        session,
        "select id, name, status, manager_id from employees where id = any($1::uuid[])",
        list(ids),
    )
    found = {r["id"]: r for r in rows}
    for i, eid in enumerate(ids):
        row = found.get(eid)
        if row is None:
            raise NotFound("no employee with this id", field=f"{field}.{i}")
        if row["status"] != "active":
            raise BadUserInput(
                f"{row['name']} has left the company and cannot receive kudos",
                field=f"{field}.{i}",
            )
    return found


async def _check_values(session: Executor, ids: Sequence[uuid.UUID], *, field: str) -> list:
    if len(set(ids)) != len(ids):
        raise BadUserInput("a value is listed twice", field=field)
    if len(ids) > MAX_VALUES_PER_KUDOS:
        raise BadUserInput(f"at most {MAX_VALUES_PER_KUDOS} values per kudos", field=field)
    rows = await fetch(
        session, "select id, name, active from company_values where id = any($1::uuid[])", ids
    )
    found = {r["id"]: r for r in rows}
    for i, vid in enumerate(ids):
        row = found.get(vid)
        if row is None:
            raise NotFound("no company value with this id", field=f"{field}.{i}")
        if not row["active"]:
            raise BadUserInput(f"the value {row['name']!r} is retired", field=f"{field}.{i}")
    if not ids:
        any_active = await fetch(session, "select 1 from company_values where active limit 1")
        if any_active:
            raise BadUserInput("name at least one of the company's values", field=field)
    return [found[v] for v in ids]


async def give_kudos(
    session: Executor,
    principal: Principal,
    *,
    receiver_ids: Sequence[uuid.UUID],
    message: str,
    value_ids: Sequence[uuid.UUID],
    points: int = 0,
    visibility: str = "public",
    award: bool = False,
) -> Any:
    """Thank `receiver_ids` for `value_ids`; `points` go to each receiver, from the giver's
    monthly allowance (or their award budget, `award`)."""
    giver = _me(principal, field="input.receiverIds")
    if not receiver_ids:
        raise BadUserInput("name at least one colleague", field="input.receiverIds")
    if len(receiver_ids) > MAX_RECEIVERS:
        raise BadUserInput(f"at most {MAX_RECEIVERS} people per kudos", field="input.receiverIds")
    if len(set(receiver_ids)) != len(receiver_ids):
        raise BadUserInput("a colleague is listed twice", field="input.receiverIds")
    for i, rid in enumerate(receiver_ids):
        if rid == giver:
            raise BadUserInput("you cannot give kudos to yourself", field=f"input.receiverIds.{i}")
    if visibility not in VISIBILITIES:
        raise BadUserInput("visibility must be PUBLIC or PRIVATE", field="input.visibility")
    text = require_text(message, field="input.message", max_len=MAX_MESSAGE)
    rules = await ledger.rules_of(session)
    ledger.check_points(points, field="input.points", most=rules.max_points_per_kudos)
    await _active_participant(session, principal, field="input.receiverIds")
    await _active_people(session, receiver_ids, field="input.receiverIds")
    values = await _check_values(session, list(value_ids), field="input.valueIds")
    if award and points == 0:
        raise BadUserInput("an award gives points: set points", field="input.points")
    now = clock.now()
    kind = "award" if award else "peer"
    account = "award" if award else "allowance"
    period = ledger.period_of(now, principal.tenant_timezone)
    if points:
        await ledger.reserve(
            session,
            giver_id=giver,
            account=account,
            total=points * len(receiver_ids),
            period=period,
            field="input.points",
            rules=rules,
        )
    row = (
        await fetch(
            session,
            "insert into kudos (tenant_id, kind, giver_id, message, visibility, points, "  # noqa: S608 - column names of the model
            "created_at) values (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, $6) "
            f"returning {_KUDOS}",
            kind,
            giver,
            text,
            visibility,
            points,
            now,
        )
    )[0]
    await _attach(session, row, receiver_ids, [v["id"] for v in values])
    if on_boards(row):
        await count_on_boards(session, row, receiver_ids, timezone=principal.tenant_timezone)
    await ledger.give(
        session,
        giver_id=giver,
        account=account,
        receiver_ids=receiver_ids,
        points_each=points,
        period=period,
        kudos_id=row["id"],
        at=now,
    )
    await audit.record(
        session,
        principal,
        action="kudos.give",
        target_type="Kudos",
        target_id=row["id"],
        changes=audit.diff(
            {},
            {
                "kind": kind,
                "receiver_ids": list(receiver_ids),
                "value_ids": [v["id"] for v in values],
                "points": points,
                "visibility": visibility,
            },
        ),
    )
    await announce(session, principal, row, receiver_ids, [v["name"] for v in values])
    return row


async def _attach(
    session: Executor, row: Any, receiver_ids: Sequence[uuid.UUID], value_ids: Sequence[uuid.UUID]
) -> None:
    await fetch(
        session,
        "insert into kudos_receivers (tenant_id, kudos_id, employee_id, created_at) "
        "select current_setting('app.tenant_id')::uuid, $1, x, $3 from unnest($2::uuid[]) x",
        row["id"],
        list(receiver_ids),
        row["created_at"],
    )
    if value_ids:
        await fetch(
            session,
            "insert into kudos_values (tenant_id, kudos_id, value_id, created_at) "
            "select current_setting('app.tenant_id')::uuid, $1, x, $3 from unnest($2::uuid[]) x",
            row["id"],
            list(value_ids),
            row["created_at"],
        )


def on_boards(row: Any) -> bool:
    """Whether a kudos counts on the leaderboards: public, from people, not hidden."""
    return row["kind"] != "milestone" and row["visibility"] == "public" and not row["hidden_at"]


async def count_on_boards(
    session: Executor,
    row: Any,
    receiver_ids: Sequence[uuid.UUID],
    *,
    timezone: str,
    sign: int = 1,
) -> None:
    """Add (`sign` 1) or take back (-1) a leaderboard kudos in `recognition_monthly`: one
    received (and its points) per receiver, one given (points x receivers) for the giver, in
    the tenant month of its `created_at`. Rows are written in id order, so concurrent gives to
    overlapping people lock them in the same order."""
    n = len(receiver_ids)
    if not n:
        return
    points = row["points"]
    counts: dict[uuid.UUID, tuple[int, int, int, int]] = {
        r: (sign, sign * points, 0, 0) for r in receiver_ids
    }
    counts[row["giver_id"]] = (0, 0, sign, sign * points * n)
    ids = sorted(counts)
    await fetch(
        session,
        """
        insert into recognition_monthly as m
            (tenant_id, month, employee_id, received, received_points, given, given_points)
        select current_setting('app.tenant_id')::uuid, $1, x.e, x.r, x.rp, x.g, x.gp
        from unnest($2::uuid[], $3::int[], $4::int[], $5::int[], $6::int[])
             with ordinality as x(e, r, rp, g, gp, o)
        order by x.o
        on conflict (tenant_id, month, employee_id) do update set
            received = m.received + excluded.received,
            received_points = m.received_points + excluded.received_points,
            given = m.given + excluded.given,
            given_points = m.given_points + excluded.given_points
        """,
        ledger.period_of(row["created_at"], timezone),
        ids,
        [counts[i][0] for i in ids],
        [counts[i][1] for i in ids],
        [counts[i][2] for i in ids],
        [counts[i][3] for i in ids],
    )


async def create_milestone_kudos(
    session: Executor,
    principal: Principal,
    *,
    employee_id: uuid.UUID,
    milestone_kind: str,
    message: str,
    points: int,
) -> Any:
    """A kudos from the company (no giver) for a milestone, public, with `points` from the
    company budget; receiver and managers are told like for any kudos. Dated now, also for a
    milestone found late (the milestone keeps the day it happened). The caller makes it once
    (the milestone's key)."""
    now = clock.now()
    row = (
        await fetch(
            session,
            "insert into kudos (tenant_id, kind, giver_id, message, visibility, points, "  # noqa: S608 - column names of the model
            "milestone_kind, created_at) values (current_setting('app.tenant_id')::uuid, "
            f"'milestone', null, $1, 'public', $2, $3, $4) returning {_KUDOS}",
            message,
            points,
            milestone_kind,
            now,
        )
    )[0]
    await _attach(session, row, [employee_id], [])
    await ledger.fund_from_company(
        session,
        employee_id=employee_id,
        points=points,
        period=ledger.period_of(now, principal.tenant_timezone),
        kudos_id=row["id"],
    )
    await announce(session, principal, row, [employee_id], [])
    return row


async def announce(
    session: Executor,
    principal: Principal,
    row: Any,
    receiver_ids: Sequence[uuid.UUID],
    value_names: Sequence[str],
) -> None:
    """Tell the receivers and their direct managers (in-app, email per their preference), and,
    for a public kudos, the tenant's webhooks (`kudos.given`)."""
    from upward.credentials.service import record_event
    from upward.reminders.outbox import EventNote, notify_people

    people = await fetch(
        session,
        "select e.id, e.name, e.manager_id from employees e where e.id = any($1::uuid[])",
        [*receiver_ids, *([row["giver_id"]] if row["giver_id"] else [])],
    )
    by_id = {p["id"]: p for p in people}
    giver = by_id[row["giver_id"]]["name"] if row["giver_id"] else "Your company"
    values = f" for {', '.join(value_names)}" if value_names else ""
    points = f" (+{row['points']} points)" if row["points"] else ""
    data = {"kudos_id": str(row["id"]), "event": "kudos.received"}
    notes: list[EventNote] = []
    told: set[uuid.UUID] = set()
    for rid in receiver_ids:
        notes.append(
            EventNote(
                rid,
                f"kudos:{row['id']}:{rid}",
                f"{giver} recognized you{values}{points}",
                row["message"],
                data,
            )
        )
        told.add(rid)
    for rid in receiver_ids:
        manager = by_id[rid]["manager_id"]
        if manager and manager not in told and manager != row["giver_id"]:
            told.add(manager)
            notes.append(
                EventNote(
                    manager,
                    f"kudos:{row['id']}:{manager}",
                    f"{giver} recognized {by_id[rid]['name']} on your team{values}",
                    row["message"],
                    {**data, "event": "kudos.team_received"},
                )
            )
    await notify_people(session, principal.tenant_id, notes)
    if row["visibility"] == "public":
        await record_event(
            session,
            principal,
            kind="kudos.given",
            subject_id=row["id"],
            subject_type="Kudos",
            key=f"kudos.given:{row['id']}",
            payload={
                "kudos_id": row["id"],
                "kind": row["kind"],
                "giver_id": row["giver_id"],
                "receiver_ids": list(receiver_ids),
                "values": list(value_names),
                "message": row["message"],
                "points": row["points"],
                "milestone": row["milestone_kind"],
            },
        )


# --- moderation, reactions, comments -----------------------------------------------------------


async def hide_kudos(
    session: Executor, principal: Principal, viewer: Viewer, *, kudos_id: uuid.UUID, reason: str
) -> Any:
    """HR takes a kudos out of every feed, profile and count; the reason is kept on it and in
    the audit. Points stay where they went (the ledger is append-only)."""
    principal.require_hr("hiding a kudos")
    text = require_text(reason, field="input.reason", max_len=MAX_REASON)
    row = await _readable(session, viewer, kudos_id, "input.kudosId")
    if row["hidden_at"] is not None:
        return row
    updated = await fetch(
        session,
        "update kudos set hidden_at = $2, hidden_by = $3, hidden_reason = $4 "  # noqa: S608 - column names of the model
        f"where id = $1 and hidden_at is null returning {_KUDOS}",
        kudos_id,
        clock.now(),
        principal.employee_id,
        text,
    )
    if not updated:  # hidden meanwhile
        return (await kudos_by_ids(session, viewer, [kudos_id]))[kudos_id]
    if on_boards(row):
        receivers = (await receivers_of(session, [kudos_id]))[kudos_id]
        await count_on_boards(session, row, receivers, timezone=principal.tenant_timezone, sign=-1)
    await audit.record(
        session,
        principal,
        action="kudos.hide",
        target_type="Kudos",
        target_id=kudos_id,
        changes={"hidden": {"from": False, "to": True}, "reason": {"from": None, "to": text}},
    )
    return updated[0]


async def unhide_kudos(
    session: Executor, principal: Principal, viewer: Viewer, *, kudos_id: uuid.UUID
) -> Any:
    principal.require_hr("showing a hidden kudos")
    row = await _readable(session, viewer, kudos_id, "input.kudosId")
    if row["hidden_at"] is None:
        return row
    updated = await fetch(
        session,
        "update kudos set hidden_at = null, hidden_by = null, hidden_reason = null "  # noqa: S608 - column names of the model
        f"where id = $1 and hidden_at is not null returning {_KUDOS}",
        kudos_id,
    )
    if not updated:  # shown meanwhile
        return (await kudos_by_ids(session, viewer, [kudos_id]))[kudos_id]
    if on_boards(updated[0]):
        receivers = (await receivers_of(session, [kudos_id]))[kudos_id]
        await count_on_boards(session, updated[0], receivers, timezone=principal.tenant_timezone)
    await audit.record(
        session,
        principal,
        action="kudos.unhide",
        target_type="Kudos",
        target_id=kudos_id,
        changes={
            "hidden": {"from": True, "to": False},
            "reason": {"from": row["hidden_reason"], "to": None},
        },
    )
    return updated[0]


async def _active_participant(session: Executor, principal: Principal, *, field: str) -> uuid.UUID:
    me = _me(principal, field=field)
    rows = await fetch(session, "select status from employees where id = $1", me)
    if not rows or rows[0]["status"] != "active":
        raise Forbidden("an offboarded person cannot give, react or comment")
    return me


async def react(
    session: Executor,
    principal: Principal,
    viewer: Viewer,
    *,
    kudos_id: uuid.UUID,
    reaction: str,
    on: bool,
) -> Any:
    """Add (`on`) or take back one of the fixed reactions; doing it twice is doing it once."""
    me = await _active_participant(session, principal, field="input.kudosId")
    if reaction not in REACTIONS:
        raise BadUserInput(
            f"reaction must be one of {', '.join(REACTIONS)}", field="input.reaction"
        )
    row = await _readable(session, viewer, kudos_id, "input.kudosId")
    if row["hidden_at"] is not None:
        raise BadUserInput("this kudos is hidden", field="input.kudosId")
    if on:
        await session.execute(
            pg_insert(t_reaction)
            .values(
                tenant_id=principal.tenant_id,
                kudos_id=kudos_id,
                employee_id=me,
                reaction=reaction,
                created_at=clock.now(),
            )
            .on_conflict_do_nothing()
        )
    else:
        await session.execute(
            sa.delete(t_reaction).where(
                t_reaction.c.kudos_id == kudos_id,
                t_reaction.c.employee_id == me,
                t_reaction.c.reaction == reaction,
            )
        )
    return row


async def comment(
    session: Executor, principal: Principal, viewer: Viewer, *, kudos_id: uuid.UUID, body: str
) -> Any:
    me = await _active_participant(session, principal, field="input.kudosId")
    text = require_text(body, field="input.body", max_len=MAX_COMMENT)
    row = await _readable(session, viewer, kudos_id, "input.kudosId")
    if row["hidden_at"] is not None:
        raise BadUserInput("this kudos is hidden", field="input.kudosId")
    created = (
        await fetch(
            session,
            "insert into kudos_comments (tenant_id, kudos_id, author_id, body, created_at) "  # noqa: S608 - column names of the model
            f"values (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4) returning {_COMMENT}",
            kudos_id,
            me,
            text,
            clock.now(),
        )
    )[0]
    await audit.record(
        session,
        principal,
        action="kudos.comment",
        target_type="KudosComment",
        target_id=created["id"],
        changes=audit.diff({}, {"kudos_id": kudos_id, "body": text}),
    )
    from upward.reminders.outbox import EventNote, notify_people

    receivers = (await receivers_of(session, [kudos_id]))[kudos_id]
    author = (await fetch(session, "select name from employees where id = $1", me))[0]["name"]
    told = [p for p in [row["giver_id"], *receivers] if p is not None and p != me]
    await notify_people(
        session,
        principal.tenant_id,
        [
            EventNote(
                p,
                f"kudos_comment:{created['id']}:{p}",
                f"{author} commented on a kudos",
                text,
                {"kudos_id": str(kudos_id), "event": "kudos.commented"},
                channels=frozenset({"in_app"}),
            )
            for p in told
        ],
    )
    return created


async def delete_comment(
    session: Executor, principal: Principal, viewer: Viewer, *, comment_id: uuid.UUID
) -> Any:
    """The author, or HR, removes a comment (kept, marked deleted, out of every list)."""
    rows = await fetch(
        session,
        f"select {_COMMENT} from kudos_comments where id = $1 and deleted_at is null",  # noqa: S608 - column names of the model
        comment_id,
    )
    if not rows:
        raise NotFound("no comment with this id", field="input.commentId")
    c = rows[0]
    await _readable(session, viewer, c["kudos_id"], "input.commentId")
    if c["author_id"] != principal.employee_id and not principal.is_hr:
        raise Forbidden("only the author or HR removes a comment")
    await fetch(
        session, "update kudos_comments set deleted_at = $2 where id = $1", comment_id, clock.now()
    )
    await audit.record(
        session,
        principal,
        action="kudos.delete_comment",
        target_type="KudosComment",
        target_id=comment_id,
        changes={"deleted": {"from": False, "to": True}},
    )
    return c


# --- the feed ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedFilter:
    person_id: uuid.UUID | None = None  # given or received by
    received_by: uuid.UUID | None = None
    given_by: uuid.UUID | None = None
    department_id: uuid.UUID | None = None  # a receiver in the department
    team_of: uuid.UUID | None = None  # a receiver reporting directly to this manager
    value_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    kinds: tuple[str, ...] | None = None
    include_hidden: bool = False  # HR only


def feed_conditions(viewer: Viewer, f: FeedFilter, params: Any, alias: str = "k") -> list[str]:
    """SQL conditions (on kudos `alias`) of the feed's filter and the viewer's visibility."""
    conds = [visible_sql(viewer, alias, params, include_hidden=f.include_hidden)]

    def receiver(cond: str) -> str:
        return (
            f"exists (select 1 from kudos_receivers fr where fr.tenant_id = {alias}.tenant_id "  # noqa: S608
            f"and fr.kudos_id = {alias}.id and {cond})"
        )

    if f.person_id is not None:
        p = params(f.person_id, "::uuid")
        conds.append(f"({alias}.giver_id = {p} or {receiver(f'fr.employee_id = {p}')})")
    if f.received_by is not None:
        conds.append(receiver(f"fr.employee_id = {params(f.received_by, '::uuid')}"))
    if f.given_by is not None:
        conds.append(f"{alias}.giver_id = {params(f.given_by, '::uuid')}")
    for column, value in (("department_id", f.department_id), ("manager_id", f.team_of)):
        if value is not None:
            conds.append(
                receiver(
                    "exists (select 1 from employees fe where fe.tenant_id = fr.tenant_id and "  # noqa: S608
                    f"fe.id = fr.employee_id and fe.{column} = {params(value, '::uuid')})"
                )
            )
    if f.value_id is not None:
        conds.append(
            f"exists (select 1 from kudos_values fv where fv.tenant_id = {alias}.tenant_id "  # noqa: S608
            f"and fv.kudos_id = {alias}.id and fv.value_id = {params(f.value_id, '::uuid')})"
        )
    if f.since is not None:
        conds.append(f"{alias}.created_at >= {params(f.since, '::timestamptz')}")
    if f.until is not None:
        conds.append(f"{alias}.created_at < {params(f.until, '::timestamptz')}")
    if f.kinds:
        conds.append(f"{alias}.kind = any({params(list(f.kinds), '::text[]')})")
    return conds


FEED_ORDER = Order(
    key="kudos:newest",
    columns=(t_kudos.c.created_at, t_kudos.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


async def feed(
    session: Executor,
    viewer: Viewer,
    *,
    filter: FeedFilter,
    page: PageArgs,
) -> Page:
    """Kudos the viewer reads, newest first, keyset-paged on (created_at, id). The count
    (`totalCount`) is a statement of its own, run only when selected."""
    if filter.include_hidden:
        viewer.principal.require_hr("listing hidden kudos")
    params = Params()
    conds = feed_conditions(viewer, filter, params)
    where = " and ".join(conds)
    count_sql = (f"select count(*) from kudos k where {where}", list(params.values))  # noqa: S608
    backward = page.last is not None and page.first is None
    size = page.last if backward else page.first
    assert size is not None
    keyset = []
    for cursor, newer in ((page.after, False), (page.before, True)):
        if cursor is not None:
            at = params(datetime.fromisoformat(cursor[0]), "::timestamptz")
            kid = params(uuid.UUID(cursor[1]), "::uuid")
            keyset.append(f"(k.created_at, k.id) {'>' if newer else '<'} ({at}, {kid})")
    direction = "asc" if backward else "desc"
    rows = await fetch(
        session,
        f"select {_KUDOS_K} from kudos k where {' and '.join(conds + keyset)} "  # noqa: S608
        f"order by k.created_at {direction}, k.id {direction} limit {params(size + 1)}",
        *params.values,
    )
    return page_from_rows(list(rows), size, page, count_sql=count_sql)
