"""Feedback between colleagues: requests to named colleagues about a skill or a goal, feedback
given (solicited or not), and who reads it.

Who reads what (the `Reader`):

- feedback: its giver and its recipient; the recipient's management line (anyone above them,
  at read time) when the giver chose `recipient_and_manager`; HR (hr_admin, tenant_admin) only
  when the tenant turned `hr_reads_feedback` on, and then all of it. Nobody else, whatever
  their role: an unreadable feedback is NOT_FOUND by id and absent from every list.
- a request: its requester and the colleagues asked (who see their own answer, not the other
  colleagues'); HR when `hr_reads_feedback` is on.

Texts (feedback bodies, request messages) never go into audit events or notifications: HR and
tenant admins read those, and they must not read feedback through them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert as pg_insert

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, fetch
from upward.development.models import (
    FEEDBACK_VISIBILITIES,
    Feedback,
    FeedbackRequest,
    FeedbackRequestResponder,
    FeedbackSettings,
)
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.service import Viewer, reporting_line_ids, t_emp
from upward.people.validation import optional_text, require_text

t_fb = Feedback.__table__
t_req = FeedbackRequest.__table__
t_resp = FeedbackRequestResponder.__table__
t_settings = FeedbackSettings.__table__

MAX_RESPONDERS = 20
MAX_BODY = 5000
MAX_MESSAGE = 2000
MAX_DUE_DAYS = 366
UUIDS = pg.ARRAY(pg.UUID(as_uuid=True))

FEEDBACK_ORDER = Order(
    key="feedback:created_desc",
    columns=(t_fb.c.created_at, t_fb.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)
REQUEST_ORDER = Order(
    key="feedback_requests:created_desc",
    columns=(t_req.c.created_at, t_req.c.id),
    descending=True,
    parse=(datetime.fromisoformat, uuid.UUID),
)


# --- who reads what ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reader:
    """What a principal may read of feedback: their own (given or received), their line's
    where the giver allowed it, and everything when they are HR and the tenant allows it."""

    employee_id: uuid.UUID | None
    line: frozenset[uuid.UUID]
    hr_reads_all: bool

    def reads(self, row: Any) -> bool:
        if self.hr_reads_all:
            return True
        me = self.employee_id
        if me is not None and me in (row.giver_id, row.recipient_id):
            return True
        return row.visibility == "recipient_and_manager" and row.recipient_id in self.line


async def hr_reads_enabled(session: Executor) -> bool:
    """The tenant's switch (no settings row: off)."""
    value = await session.scalar(sa.select(t_settings.c.hr_reads_feedback))
    return bool(value)


async def load_reader(session: Executor, principal: Principal, viewer: Viewer) -> Reader:
    line = viewer.line
    if principal.is_hr and principal.is_manager and principal.employee_id is not None:
        # an HR viewer's `line` is empty (HR sees all people); feedback needs the real one
        line = frozenset(await reporting_line_ids(session, principal.employee_id))
    hr_all = principal.is_hr and await hr_reads_enabled(session)
    return Reader(principal.employee_id, line, hr_all)


def _any(ids: Sequence[uuid.UUID]) -> Any:
    return sa.any_(sa.bindparam(None, list(ids), type_=UUIDS))


def _readable(reader: Reader) -> Any:
    """SQL condition: the reader may read feedback row `t_fb`."""
    if reader.hr_reads_all:
        return sa.true()
    conds: list[Any] = []
    if reader.employee_id is not None:
        conds += [t_fb.c.giver_id == reader.employee_id, t_fb.c.recipient_id == reader.employee_id]
    if reader.line:
        conds.append(
            sa.and_(
                t_fb.c.visibility == "recipient_and_manager",
                t_fb.c.recipient_id == _any(sorted(reader.line)),
            )
        )
    return sa.or_(*conds) if conds else sa.false()


def _asked(me: uuid.UUID, status: str | None = None) -> Any:
    """SQL condition: `me` was asked by request row `t_req` (with that answer, if given)."""
    stmt = sa.select(sa.literal(1)).where(
        t_resp.c.request_id == t_req.c.id, t_resp.c.responder_id == me
    )
    if status is not None:
        stmt = stmt.where(t_resp.c.status == status)
    return stmt.exists()


def _request_readable(reader: Reader) -> Any:
    if reader.hr_reads_all:
        return sa.true()
    me = reader.employee_id
    if me is None:
        return sa.false()
    return sa.or_(t_req.c.requester_id == me, _asked(me))


# --- reads -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedbackFilter:
    recipient_id: uuid.UUID | None = None
    giver_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None
    skill_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None


async def list_feedback(
    session: Executor,
    reader: Reader,
    *,
    filter: FeedbackFilter,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    """The feedback the reader may read, newest first, narrowed by `filter`."""
    conds = [_readable(reader)]
    for column, value in (
        (t_fb.c.recipient_id, filter.recipient_id),
        (t_fb.c.giver_id, filter.giver_id),
        (t_fb.c.request_id, filter.request_id),
        (t_fb.c.skill_id, filter.skill_id),
        (t_fb.c.goal_id, filter.goal_id),
    ):
        if value is not None:
            conds.append(column == value)
    stmt = sa.select(t_fb).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_fb).where(*conds)
    return await paginate(
        session, stmt, FEEDBACK_ORDER, page, count_stmt=count, with_count=with_count
    )


async def feedback_by_ids(
    session: Executor, reader: Reader, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The readable ones among `ids` (the others are simply absent)."""
    if not ids:
        return {}
    stmt = sa.select(t_fb).where(t_fb.c.id.in_(list(set(ids))), _readable(reader))
    return {r.id: r for r in (await session.execute(stmt)).all()}


async def feedback_of_requests(
    session: Executor, reader: Reader, request_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """Each request's answers the reader may read, newest first: one statement."""
    ids = list(dict.fromkeys(request_ids))
    out: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = (
        sa.select(t_fb)
        .where(t_fb.c.request_id.in_(ids), _readable(reader))
        .order_by(t_fb.c.created_at.desc(), t_fb.c.id.desc())
    )
    for r in (await session.execute(stmt)).all():
        out[r.request_id].append(r)
    return out


@dataclass(frozen=True, slots=True)
class RequestFilter:
    role: str | None = None  # requester | responder | None: both
    status: str | None = None  # open | closed | None: any
    waiting_for_me: bool = False  # open, asked of me, not answered yet


async def list_requests(
    session: Executor,
    principal: Principal,
    *,
    filter: RequestFilter,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    """The viewer's requests and those asked of them, newest first."""
    me = _me(principal)
    mine, asked = t_req.c.requester_id == me, _asked(me)
    conds: list[Any] = [
        mine
        if filter.role == "requester"
        else asked
        if filter.role == "responder"
        else sa.or_(mine, asked)
    ]
    if filter.status is not None:
        conds.append(t_req.c.status == filter.status)
    if filter.waiting_for_me:
        active = (
            sa.select(sa.literal(1))
            .where(t_emp.c.id == t_req.c.requester_id, t_emp.c.status == "active")
            .exists()
        )
        conds += [t_req.c.status == "open", _asked(me, "pending"), active]
    stmt = sa.select(t_req).where(*conds)
    count = sa.select(sa.func.count()).select_from(t_req).where(*conds)
    return await paginate(
        session, stmt, REQUEST_ORDER, page, count_stmt=count, with_count=with_count
    )


async def requests_by_ids(
    session: Executor, reader: Reader, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    stmt = sa.select(t_req).where(t_req.c.id.in_(list(set(ids))), _request_readable(reader))
    return {r.id: r for r in (await session.execute(stmt)).all()}


async def responders_of(
    session: Executor, request_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    """Each request's responders, by name: one statement. Callers filter what a reader sees."""
    ids = list(dict.fromkeys(request_ids))
    out: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await fetch(
        session,
        "select r.request_id, r.responder_id, r.status, r.responded_at from "
        "feedback_request_responders r join employees e "
        "on e.tenant_id = r.tenant_id and e.id = r.responder_id "
        "where r.request_id = any($1::uuid[]) order by e.name, r.responder_id",
        ids,
    )
    for r in rows:
        out[r["request_id"]].append(r)
    return out


# --- checks ------------------------------------------------------------------------------------


def _me(principal: Principal) -> uuid.UUID:
    if principal.employee_id is None:
        raise Forbidden("feedback is between people: sign in as an employee")
    return principal.employee_id


async def _people(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await fetch(
        session,
        "select e.id, e.name, e.status, coalesce(p.email_enabled, true) as email_enabled "
        "from employees e left join notification_preferences p "
        "on p.tenant_id = e.tenant_id and p.employee_id = e.id where e.id = any($1::uuid[])",
        list(set(ids)),
    )
    return {r["id"]: r for r in rows}


def _colleague(people: dict[uuid.UUID, Any], who: uuid.UUID, me: uuid.UUID, field: str) -> Any:
    person = people.get(who)
    if person is None:
        raise NotFound("no employee with this id", field=field)
    if who == me:
        raise BadUserInput("not yourself: feedback comes from colleagues", field=field)
    if person["status"] != "active":
        raise BadUserInput("this person was offboarded", field=field)
    return person


async def _skill(session: Executor, skill_id: uuid.UUID, *, field: str) -> Any:
    rows = await fetch(session, "select id, name, status from skills where id = $1", skill_id)
    if not rows:
        raise NotFound("no skill with this id", field=field)
    if rows[0]["status"] != "active":
        raise BadUserInput("this skill is retired", field=field)
    return rows[0]


async def _goal(session: Executor, goal_id: uuid.UUID, owner: uuid.UUID, *, field: str) -> Any:
    """A goal of `owner`'s development plans (anyone else's is NOT_FOUND, as if it did not
    exist: plans are private)."""
    rows = await fetch(
        session,
        "select g.id, g.title, g.status from plan_goals g join development_plans p "
        "on p.tenant_id = g.tenant_id and p.id = g.plan_id "
        "where g.id = $1 and p.employee_id = $2",
        goal_id,
        owner,
    )
    if not rows:
        raise NotFound("no goal of this person's development plans with this id", field=field)
    if rows[0]["status"] == "cancelled":
        raise BadUserInput("this goal was cancelled", field=field)
    return rows[0]


async def _about(
    session: Executor,
    owner: uuid.UUID,
    *,
    skill_id: uuid.UUID | None,
    goal_id: uuid.UUID | None,
    required: bool,
) -> tuple[Any, Any]:
    if skill_id is not None and goal_id is not None:
        raise BadUserInput("about a skill or a goal, not both", field="input.goalId")
    if required and skill_id is None and goal_id is None:
        raise BadUserInput(
            "say what the feedback is about: a skill (skillId) or a goal (goalId)",
            field="input.skillId",
        )
    skill = await _skill(session, skill_id, field="input.skillId") if skill_id else None
    goal = await _goal(session, goal_id, owner, field="input.goalId") if goal_id else None
    return skill, goal


def _about_text(skill: Any, goal: Any) -> str:
    if skill is not None:
        return f" on {skill['name']}"
    if goal is not None:
        return f" on the goal “{goal['title']}”"
    return ""


# --- notifications -----------------------------------------------------------------------------


async def _notify(
    session: Executor, principal: Principal, items: list[tuple[Any, str, str, str, dict[str, Any]]]
) -> None:
    """Notifications (in-app, and email unless the person opted out), keyed so each is
    written once: items are (person row, key, subject, body, data). Delivered after the
    commit."""
    from upward.reminders.outbox import EventNote, notify_people

    await notify_people(
        session,
        principal.tenant_id,
        [
            EventNote(person["id"], key, subject, body, data)
            for person, key, subject, body, data in items
        ],
    )


# --- requests ----------------------------------------------------------------------------------


async def request_feedback(
    session: Executor,
    principal: Principal,
    *,
    responder_ids: Sequence[uuid.UUID],
    skill_id: uuid.UUID | None = None,
    goal_id: uuid.UUID | None = None,
    message: str | None = None,
    due_on: date | None = None,
) -> Any:
    """Ask 1-20 active colleagues for feedback on a skill of the catalog or a goal of one's
    own development plans; each gets a notification."""
    from upward.graphql.relay import to_global_id

    me = _me(principal)
    if not 1 <= len(responder_ids) <= MAX_RESPONDERS:
        raise BadUserInput(f"ask 1 to {MAX_RESPONDERS} colleagues", field="input.responderIds")
    people = await _people(session, [me, *responder_ids])
    seen: set[uuid.UUID] = set()
    for i, rid in enumerate(responder_ids):
        field = f"input.responderIds.{i}"
        if rid in seen:
            raise BadUserInput("this colleague is listed twice", field=field)
        seen.add(rid)
        _colleague(people, rid, me, field)
    skill, goal = await _about(session, me, skill_id=skill_id, goal_id=goal_id, required=True)
    text = optional_text(message, field="input.message", max_len=MAX_MESSAGE)
    today = clock.today(principal.tenant_timezone)
    if due_on is not None and due_on < today:
        raise BadUserInput("cannot be in the past", field="input.dueOn")
    if due_on is not None and due_on > today + timedelta(days=MAX_DUE_DAYS):
        raise BadUserInput("at most a year ahead", field="input.dueOn")
    now = clock.now()
    row = (
        await session.execute(
            sa.insert(t_req)
            .values(
                tenant_id=principal.tenant_id,
                requester_id=me,
                skill_id=skill_id,
                goal_id=goal_id,
                message=text,
                due_on=due_on,
                created_at=now,
                updated_at=now,
            )
            .returning(t_req)
        )
    ).one()
    await session.execute(
        sa.insert(t_resp),
        [
            {"tenant_id": principal.tenant_id, "request_id": row.id, "responder_id": r}
            for r in responder_ids
        ],
    )
    await audit.record(
        session,
        principal,
        action="feedback_request.create",
        target_type="FeedbackRequest",
        target_id=row.id,
        changes=audit.diff(
            {},
            {
                "responder_ids": [str(r) for r in responder_ids],
                "skill_id": skill_id,
                "goal_id": goal_id,
                "due_on": due_on,
            },
        ),
    )
    name = people[me]["name"]
    about = _about_text(skill, goal)
    due = f", by {due_on.isoformat()}" if due_on else ""
    gid = to_global_id("FeedbackRequest", row.id)
    await _notify(
        session,
        principal,
        [
            (
                people[r],
                f"feedback_request:{row.id}:{r}",
                f"{name} asks for your feedback{about}",
                f"{name} asked you for feedback{about}{due}. Give it or decline in Upward.",
                {"event": "feedback.requested", "feedback_request_id": gid},
            )
            for r in responder_ids
        ],
    )
    return row


async def _readable_request(
    session: Executor, principal: Principal, request_id: uuid.UUID, *, field: str, lock: bool
) -> Any:
    me = _me(principal)
    stmt = sa.select(t_req).where(
        t_req.c.id == request_id, sa.or_(t_req.c.requester_id == me, _asked(me))
    )
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound("no feedback request with this id", field=field)
    return row


async def decline_request(session: Executor, principal: Principal, *, request_id: uuid.UUID) -> Any:
    """A colleague asked says no (while the request is open and they have not answered)."""
    me = _me(principal)
    req = await _readable_request(session, principal, request_id, field="id", lock=True)
    if req.requester_id == me:
        raise Forbidden("only a colleague you asked declines; close your own request instead")
    if req.status != "open":
        raise Conflict("this request is closed", field="id")
    await _answer(session, request_id, me, "declined", field="id")
    await audit.record(
        session,
        principal,
        action="feedback_request.decline",
        target_type="FeedbackRequest",
        target_id=request_id,
        changes={"status": {"from": "pending", "to": "declined"}},
    )
    return req


async def _answer(
    session: Executor, request_id: uuid.UUID, me: uuid.UUID, status: str, *, field: str
) -> None:
    """Mark my pending answer (one conditional update: two concurrent answers, one wins)."""
    done = (
        await session.execute(
            sa.update(t_resp)
            .where(
                t_resp.c.request_id == request_id,
                t_resp.c.responder_id == me,
                t_resp.c.status == "pending",
            )
            .values(status=status, responded_at=clock.now())
            .returning(t_resp.c.responder_id)
        )
    ).first()
    if done is None:
        raise Conflict("you already answered this request", field=field)


async def close_request(session: Executor, principal: Principal, *, request_id: uuid.UUID) -> Any:
    """The requester closes (or cancels) their request: nobody answers it any more."""
    me = _me(principal)
    req = await _readable_request(session, principal, request_id, field="id", lock=True)
    if req.requester_id != me:
        raise Forbidden("only the person who asked closes a request")
    if req.status != "open":
        raise Conflict("this request is already closed", field="id")
    row = (
        await session.execute(
            sa.update(t_req)
            .where(t_req.c.id == request_id)
            .values(status="closed", updated_at=clock.now())
            .returning(t_req)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="feedback_request.close",
        target_type="FeedbackRequest",
        target_id=request_id,
        changes={"status": {"from": "open", "to": "closed"}},
    )
    return row


# --- giving ------------------------------------------------------------------------------------


async def give_feedback(
    session: Executor,
    principal: Principal,
    *,
    body: str,
    visibility: str = "recipient",
    recipient_id: uuid.UUID | None = None,
    request_id: uuid.UUID | None = None,
    skill_id: uuid.UUID | None = None,
    goal_id: uuid.UUID | None = None,
) -> Any:
    """Give feedback to an active colleague, unsolicited or answering a request (then to its
    requester, about what it asked). The recipient is notified."""
    from upward.graphql.relay import to_global_id

    me = _me(principal)
    if visibility not in FEEDBACK_VISIBILITIES:
        raise BadUserInput("recipient or recipient_and_manager", field="input.visibility")
    text = require_text(body, field="input.body", max_len=MAX_BODY)
    req = None
    if request_id is not None:
        req = await _readable_request(
            session, principal, request_id, field="input.requestId", lock=True
        )
        if recipient_id is not None and recipient_id != req.requester_id:
            raise BadUserInput(
                "feedback on a request goes to the person who asked", field="input.recipientId"
            )
        if skill_id is not None and skill_id != req.skill_id:
            raise BadUserInput("the request says what it is about", field="input.skillId")
        if goal_id is not None and goal_id != req.goal_id:
            raise BadUserInput("the request says what it is about", field="input.goalId")
        recipient_id, skill_id, goal_id = req.requester_id, req.skill_id, req.goal_id
    if recipient_id is None:
        raise BadUserInput("whom the feedback is for", field="input.recipientId")
    people = await _people(session, [me, recipient_id])
    field = "input.requestId" if req is not None else "input.recipientId"
    if req is not None and req.requester_id == me:
        raise BadUserInput("this is your own request", field="input.requestId")
    recipient = _colleague(people, recipient_id, me, field)
    if req is not None:
        if req.status != "open":
            raise Conflict("this request is closed", field="input.requestId")
        await _answer(session, req.id, me, "given", field="input.requestId")
        skill = goal = None
        if skill_id is not None:
            skill = (await fetch(session, "select name from skills where id = $1", skill_id))[0]
        if goal_id is not None:
            goal = (await fetch(session, "select title from plan_goals where id = $1", goal_id))[0]
    else:
        skill, goal = await _about(
            session, recipient_id, skill_id=skill_id, goal_id=goal_id, required=False
        )
    row = (
        await session.execute(
            sa.insert(t_fb)
            .values(
                tenant_id=principal.tenant_id,
                giver_id=me,
                recipient_id=recipient_id,
                request_id=request_id,
                skill_id=skill_id,
                goal_id=goal_id,
                body=text,
                visibility=visibility,
                created_at=clock.now(),
            )
            .returning(t_fb)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="feedback.give",
        target_type="Feedback",
        target_id=row.id,
        changes=audit.diff(
            {},
            {
                "recipient_id": recipient_id,
                "visibility": visibility,
                "request_id": request_id,
                "skill_id": skill_id,
                "goal_id": goal_id,
            },
        ),
    )
    name = people[me]["name"]
    about = _about_text(skill, goal)
    await _notify(
        session,
        principal,
        [
            (
                recipient,
                f"feedback:{row.id}",
                f"{name} gave you feedback{about}",
                f"{name} gave you feedback{about}. Read it in Upward.",
                {"event": "feedback.given", "feedback_id": to_global_id("Feedback", row.id)},
            )
        ],
    )
    return row


# --- the tenant's switch -----------------------------------------------------------------------


async def set_settings(session: Executor, principal: Principal, *, hr_reads_feedback: bool) -> bool:
    """Let HR read all feedback of the tenant, or not; audited. A tenant_admin decides: HR
    cannot grant itself access to what people said to each other."""
    principal.require_tenant_admin("changing who reads feedback")
    before = await hr_reads_enabled(session)
    stmt = pg_insert(t_settings).values(
        tenant_id=principal.tenant_id, hr_reads_feedback=hr_reads_feedback, updated_at=clock.now()
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"hr_reads_feedback": hr_reads_feedback, "updated_at": clock.now()},
        )
    )
    await audit.record(
        session,
        principal,
        action="feedback_settings.update",
        target_type="Tenant",
        target_id=principal.tenant_id,
        changes=audit.diff({"hr_reads_feedback": before}, {"hr_reads_feedback": hr_reads_feedback}),
    )
    return hr_reads_feedback
