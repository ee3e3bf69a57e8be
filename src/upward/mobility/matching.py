"""Matching: score the people open to moves against open postings with the pure scorer, store
the results in `posting_matches`, and read them back for the match queries.

Writers (called by the matching workers, with a system principal, or by HR):
- `recompute_posting`: every person open to moves (yes or confidentially), and only them,
  against one posting; the posting's rows are replaced in two statements (a posting that is not
  open loses its rows);
- `recompute_people`: these people against every open posting (incremental: after a change to
  their skills, credentials, level, plan or preferences); their rows are replaced, so a person
  who is no longer open to moves loses theirs;
- `drop_posting`: a closed or filled posting's rows go.

Each loads everything once (postings with their skills, credentials and locations; the people
with preferences, placements, ratings, credentials and plan targets; the levels; the skill tree)
in a constant number of statements, then scores in pure Python over those dicts: no statement
per person or posting. People excluded by the scorer (the hiring manager, a step down without
opt-in, a gig they are not open to) get no row.

Readers: `posting_matches` (HR and the posting's hiring manager) and `recommended_postings`
(the viewer's own stored matches for visible, eligible, open postings).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from upward import clock
from upward.auth.principal import Principal
from upward.db import Executor, fetch
from upward.development import readiness as core
from upward.development import tracks
from upward.errors import NotFound
from upward.mobility import rules, scorer
from upward.pagination import Order, Page, PageArgs, page_from_rows

OPEN_PLAN_STATUSES = ["draft", "submitted", "changes_requested", "approved", "in_progress"]

# Orders of the stored rows (cursors carry score and the id): best first, ties by id ascending,
# as the indexes (score DESC, id) read them.
MATCH_ORDER = Order(key="matches:score", columns=(), parse=(float, uuid.UUID))
RECOMMENDED_ORDER = Order(key="recommended:score", columns=(), parse=(float, uuid.UUID))

_POSTING_COLUMNS = (
    "id, kind, work_mode, level_id, hiring_manager_id, status, opens_on, closes_on, start_on, "
    "hours_per_week, min_months_in_role, visible_department_ids, visible_location_ids, "
    "visible_level_ids"
)


# --- loading ---------------------------------------------------------------------------------


async def _levels(session: Executor) -> dict[uuid.UUID, scorer.LevelInfo]:
    rows = await fetch(session, "select id, track_id, position from track_levels")
    return {r["id"]: scorer.LevelInfo(r["id"], r["track_id"], r["position"]) for r in rows}


async def _postings(
    session: Executor, rows: Sequence[Any], levels: dict[uuid.UUID, scorer.LevelInfo]
) -> list[scorer.Posting]:
    """Scorer postings from job_postings rows: three statements for any number of them."""
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    skills = await fetch(
        session,
        "select ps.posting_id, ps.skill_id, ps.min_proficiency, ps.required "
        "from job_posting_skills ps join skills s on s.tenant_id = ps.tenant_id "
        "and s.id = ps.skill_id where ps.posting_id = any($1::uuid[]) "
        "order by s.name, ps.skill_id",
        ids,
    )
    creds = await fetch(
        session,
        "select posting_id, credential_type_id from job_posting_credentials "
        "where posting_id = any($1::uuid[]) order by credential_type_id",
        ids,
    )
    locs = await fetch(
        session,
        "select posting_id, location_id from job_posting_locations "
        "where posting_id = any($1::uuid[])",
        ids,
    )
    req: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {i: [] for i in ids}
    pref: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {i: [] for i in ids}
    for s in skills:
        (req if s["required"] else pref)[s["posting_id"]].append(
            (s["skill_id"], s["min_proficiency"])
        )
    types: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    for c in creds:
        types[c["posting_id"]].append(c["credential_type_id"])
    places: dict[uuid.UUID, set[uuid.UUID]] = {i: set() for i in ids}
    for loc in locs:
        places[loc["posting_id"]].add(loc["location_id"])
    return [
        scorer.Posting(
            posting_id=r["id"],
            kind=r["kind"],
            work_mode=r["work_mode"],
            location_ids=frozenset(places[r["id"]]),
            level=levels.get(r["level_id"]) if r["level_id"] else None,
            required=scorer.skill_expectations(req[r["id"]]),
            preferred=scorer.skill_expectations(pref[r["id"]]),
            credential_types=tuple(types[r["id"]]),
            start_on=r["start_on"],
            hours_per_week=r["hours_per_week"],
            rules=rules.PostingRules.from_row(r),
            hiring_manager_id=r["hiring_manager_id"],
        )
        for r in rows
    ]


async def _candidates(
    session: Executor,
    principal: Principal,
    levels: dict[uuid.UUID, scorer.LevelInfo],
    on: date,
    only: Sequence[uuid.UUID] | None = None,
) -> list[scorer.Candidate]:
    """Active people open to moves (yes or confidentially), or only those of `only`, with
    everything the scorer reads: seven statements for any number of people."""
    sql = (
        "select e.id, e.department_id, e.location_id, e.hire_date, l.level_id, l.since, "
        "p.track_ids, p.level_ids, p.location_ids, p.work_modes, p.willing_to_relocate, "
        "p.open_to_downward, p.open_to_gigs, p.gig_hours_per_week "
        "from career_preferences p "
        "join employees e on e.tenant_id = p.tenant_id and e.id = p.employee_id "
        "left join employee_levels l on l.tenant_id = e.tenant_id and l.employee_id = e.id "
        "where p.open_to_moves in ('yes', 'confidential') and e.status = 'active'"
    )
    args: list[Any] = []
    if only is not None:
        sql += " and e.id = any($1::uuid[])"
        args.append(list(only))
    people = await fetch(session, sql + " order by e.id", *args)
    if not people:
        return []
    ids = [r["id"] for r in people]
    persons, _ = await tracks.people_inputs(session, principal, ids, on)
    parents = {
        r["id"]: r["parent_id"] for r in await fetch(session, "select id, parent_id from skills")
    }
    targets: dict[uuid.UUID, list[scorer.LevelInfo]] = {}
    for r in await fetch(
        session,
        "with cur as (select distinct on (employee_id) id, employee_id from development_plans "
        "where employee_id = any($1::uuid[]) and status = any($2::text[]) "
        "order by employee_id, (period_start <= $3 and period_end >= $3) desc, "
        "period_start desc, id) "
        "select cur.employee_id, t.level_id from cur join development_plan_targets t "
        "on t.plan_id = cur.id order by t.level_id",
        ids,
        OPEN_PLAN_STATUSES,
        on,
    ):
        if r["level_id"] in levels:
            targets.setdefault(r["employee_id"], []).append(levels[r["level_id"]])
    out = []
    for r in people:
        eid = r["id"]
        base = persons[eid]
        # roll sub-skills up once per person, not once per posting
        person = core.Person(
            core.effective_skills(base.skills, parents), base.credentials, base.months_in_level
        )
        out.append(
            scorer.Candidate(
                who=rules.Viewer(
                    eid,
                    r["department_id"],
                    r["location_id"],
                    r["level_id"],
                    r["since"],
                    r["hire_date"],
                ),
                person=person,
                level=levels.get(r["level_id"]) if r["level_id"] else None,
                idp_levels=tuple(targets.get(eid, ())),
                preferred_track_ids=frozenset(r["track_ids"] or ()),
                preferred_level_ids=frozenset(r["level_ids"] or ()),
                preferred_location_ids=frozenset(r["location_ids"] or ()),
                work_modes=frozenset(r["work_modes"] or ()),
                willing_to_relocate=r["willing_to_relocate"],
                open_to_downward=r["open_to_downward"],
                open_to_gigs=r["open_to_gigs"],
                gig_hours_per_week=r["gig_hours_per_week"],
            )
        )
    return out


# --- writing ---------------------------------------------------------------------------------


def _score_all(
    postings: Iterable[scorer.Posting], people: Sequence[scorer.Candidate], today: date
) -> tuple[list[uuid.UUID], list[uuid.UUID], list[float], list[bool], list[str]]:
    """The rows to store, as columns (for one unnest insert). The inner loop: pure Python."""
    pids: list[uuid.UUID] = []
    eids: list[uuid.UUID] = []
    scores: list[float] = []
    eligible: list[bool] = []
    expl: list[str] = []
    dumps = orjson.dumps
    for posting in postings:
        weights = posting.weights
        targets = (scorer.required_target(posting), core.Target(posting.preferred))
        for c in people:
            m = scorer.score(posting, c, today, weights=weights, targets=targets)
            if m.excluded is not None:
                continue
            pids.append(m.posting_id)
            eids.append(m.employee_id)
            scores.append(m.score)
            eligible.append(m.eligible)
            expl.append(dumps(m.explanation()).decode())
    return pids, eids, scores, eligible, expl


async def _insert(session: Executor, cols: tuple[list[Any], ...]) -> int:
    if not cols[0]:
        return 0
    await fetch(
        session,
        "insert into posting_matches (tenant_id, posting_id, employee_id, score, eligible, "
        "explanation) select current_setting('app.tenant_id')::uuid, u.p, u.e, u.s, u.el, "
        "u.x::jsonb from unnest($1::uuid[], $2::uuid[], $3::float8[], $4::bool[], $5::text[]) "
        "as u(p, e, s, el, x)",
        *cols,
    )
    return len(cols[0])


async def recompute_posting(session: Executor, principal: Principal, posting_id: uuid.UUID) -> int:
    """Replace the posting's stored matches: every person open to moves scored against it
    (none when it is not open). Returns the number of rows stored."""
    principal.require_hr("recomputing matches")
    today = clock.today(principal.tenant_timezone)
    rows = await fetch(
        session,
        f"select {_POSTING_COLUMNS} from job_postings where id = $1",  # noqa: S608 - constants
        posting_id,
    )
    if not rows:
        raise NotFound("no posting with this id", field="postingId")
    await fetch(session, "delete from posting_matches where posting_id = $1", posting_id)
    if rows[0]["status"] != "open":
        return 0
    levels = await _levels(session)
    postings = await _postings(session, rows, levels)
    people = await _candidates(session, principal, levels, today)
    return await _insert(session, _score_all(postings, people, today))


async def recompute_people(
    session: Executor, principal: Principal, employee_ids: Sequence[uuid.UUID]
) -> int:
    """Replace these people's stored matches: each of them still open to moves against every
    open posting. Returns the number of rows stored."""
    principal.require_hr("recomputing matches")
    ids = list(dict.fromkeys(employee_ids))
    if not ids:
        return 0
    today = clock.today(principal.tenant_timezone)
    await fetch(session, "delete from posting_matches where employee_id = any($1::uuid[])", ids)
    people_levels = await _levels(session)
    people = await _candidates(session, principal, people_levels, today, only=ids)
    if not people:
        return 0
    rows = await fetch(
        session,
        f"select {_POSTING_COLUMNS} from job_postings where status = 'open' order by id",  # noqa: S608
    )
    postings = await _postings(session, rows, people_levels)
    return await _insert(session, _score_all(postings, people, today))


async def drop_posting(session: Executor, principal: Principal, posting_id: uuid.UUID) -> int:
    """Forget a closed or filled posting's matches. Returns the number of rows removed."""
    principal.require_hr("recomputing matches")
    rows = await fetch(
        session, "delete from posting_matches where posting_id = $1 returning 1", posting_id
    )
    return len(rows)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredMatch:
    posting_id: uuid.UUID
    employee_id: uuid.UUID
    score: float
    eligible: bool
    explanation: dict[str, Any]
    computed_at: Any
    confidential: bool = False
    posting: Any = None  # the posting's row, for recommendations


def _json(value: Any) -> dict[str, Any]:
    """jsonb arrives decoded where the connection has a codec for it, else as text."""
    return value if isinstance(value, dict) else orjson.loads(value)


def _keyset(args: PageArgs, col: str, start: int) -> tuple[str, list[Any]]:
    if args.after is None:
        return "", []
    s, i = args.after
    return (
        f" and (m.score < ${start} or (m.score = ${start} and m.{col} > ${start + 1}))",
        [float(s), uuid.UUID(str(i))],
    )


async def posting_matches(
    session: Executor,
    principal: Principal,
    *,
    posting_id: uuid.UUID,
    page: PageArgs,
    with_count: bool = False,
) -> Page:
    """The posting's stored matches, best first (ties by employee id): HR and the posting's
    hiring manager only. For anyone else the posting is NOT_FOUND, exactly like an id that
    never existed (they cannot learn whether it exists, nor who matches it). Only people still
    active and open to moves are listed, confidential ones included (the reason the reader may
    see them)."""
    rows = await fetch(
        session, "select hiring_manager_id from job_postings where id = $1", posting_id
    )
    if not rows or not (
        principal.is_hr
        or (principal.employee_id is not None and rows[0][0] == principal.employee_id)
    ):
        raise NotFound("no posting with this id", field="postingId")
    size = page.first or 20
    cond, extra = _keyset(page, "employee_id", 3)
    base = (
        "from posting_matches m "
        "join career_preferences p on p.tenant_id = m.tenant_id and p.employee_id = m.employee_id "
        "join employees e on e.tenant_id = m.tenant_id and e.id = m.employee_id "
        "where m.posting_id = $1 and p.open_to_moves in ('yes', 'confidential') "
        "and e.status = 'active'"
    )
    total = f", (select count(*) {base}) as total" if with_count else ""
    found = await fetch(
        session,
        "select m.posting_id, m.employee_id, m.score, m.eligible, m.explanation, m.computed_at, "
        f"p.open_to_moves = 'confidential' as confidential{total} {base}{cond} "
        "order by m.score desc, m.employee_id limit $2",
        posting_id,
        size + 1,
        *extra,
    )
    out = page_from_rows(
        [
            (
                StoredMatch(
                    r["posting_id"],
                    r["employee_id"],
                    r["score"],
                    r["eligible"],
                    _json(r["explanation"]),
                    r["computed_at"],
                    r["confidential"],
                ),
                r["total"] if with_count else None,
            )
            for r in found
        ],
        size,
        page,
        count_sql=(f"select count(*) {base}", [posting_id]),
        with_count=with_count,
    )
    out.rows = [r[0] for r in out.rows]  # (match, total): the total is read at [-1]
    return out


@dataclass(frozen=True)
class Recommendations:
    page: Page
    open_to_moves: str  # no | yes | confidential
    hint: str | None


async def recommended_postings(
    session: Executor, principal: Principal, *, page: PageArgs, with_count: bool = False
) -> Recommendations:
    """The viewer's stored matches for postings open and visible to them today, for which they
    are eligible, best first (ties by posting id). Matches are stored only for people open to
    moves: anyone else gets an empty list and a hint saying how to get recommendations (we do
    not score on the fly, so the list always agrees with what HR and hiring managers see)."""
    size = page.first or 20
    empty = page_from_rows([], size, page, count_sql=("select 0", []), with_count=False)
    if principal.employee_id is None:
        return Recommendations(empty, "no", "recommendations are for employees")
    me = await fetch(
        session,
        "select e.department_id, e.location_id, l.level_id, "
        "coalesce(p.open_to_moves, 'no') as open_to_moves from employees e "
        "left join employee_levels l on l.tenant_id = e.tenant_id and l.employee_id = e.id "
        "left join career_preferences p on p.tenant_id = e.tenant_id and p.employee_id = e.id "
        "where e.id = $1",
        principal.employee_id,
    )
    if not me or me[0]["open_to_moves"] == "no":
        return Recommendations(
            empty,
            "no",
            "set your career preferences to open to moves (openly or confidentially) to get "
            "postings matched to you",
        )
    who = me[0]
    today = clock.today(principal.tenant_timezone)
    cond, extra = _keyset(page, "posting_id", 7)
    head = [principal.employee_id, today, who["department_id"], who["location_id"], who["level_id"]]
    base = (
        "from posting_matches m join job_postings j on j.tenant_id = m.tenant_id "
        "and j.id = m.posting_id "
        "where m.employee_id = $1 and m.eligible and j.status = 'open' "
        "and (j.opens_on is null or j.opens_on <= $2) "
        "and (j.closes_on is null or j.closes_on >= $2) "
        "and (cardinality(j.visible_department_ids) = 0 or $3 = any(j.visible_department_ids)) "
        "and (cardinality(j.visible_location_ids) = 0 or $4 = any(j.visible_location_ids)) "
        "and (cardinality(j.visible_level_ids) = 0 or $5 = any(j.visible_level_ids)) "
        "and j.hiring_manager_id <> $1"
    )
    total = f", (select count(*) {base}) as total" if with_count else ""
    found = await fetch(
        session,
        "select m.posting_id, m.employee_id, m.score, m.eligible, m.explanation, m.computed_at, "
        "j.title, j.kind, j.work_mode, j.department_id, j.level_id, j.closes_on, j.start_on"
        f"{total} {base}{cond} order by m.score desc, m.posting_id limit $6",
        *head,
        size + 1,
        *extra,
    )
    out = page_from_rows(
        [
            (
                StoredMatch(
                    r["posting_id"],
                    r["employee_id"],
                    r["score"],
                    r["eligible"],
                    _json(r["explanation"]),
                    r["computed_at"],
                    who["open_to_moves"] == "confidential",
                    r,
                ),
                r["total"] if with_count else None,
            )
            for r in found
        ],
        size,
        page,
        count_sql=(f"select count(*) {base}", head),
        with_count=with_count,
    )
    out.rows = [r[0] for r in out.rows]  # (match, total): the total is read at [-1]
    hint = None if out.rows or page.after else "no open posting matches you yet"
    return Recommendations(out, who["open_to_moves"], hint)
