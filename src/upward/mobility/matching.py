"""Matching: score the people open to moves against open postings with the pure scorer, store
the results in `posting_matches`, and read them back for the match queries.

Writers (called by the matching workers, with a system principal, or by HR):
- `recompute_posting`: every person open to moves (yes or confidentially), and only them,
  against one posting, by the fast path `rank_posting` (their facts projected in Postgres, each
  component's distinct values scored once by `scorer.Ranker`, points summed and sorted in
  Postgres: no Python object per person); the best `EXPLAINED` are scored again by the full
  scorer and stored with their explanation, everyone else with their score alone, and only the
  rows that changed are written (a posting that is not open loses its rows);
- `recompute_people`: these people against every open posting (incremental: after a change to
  their skills, credentials, level, plan or preferences), by the full scorer over inputs loaded
  once (`_candidates`, `_postings`: a constant number of statements); their rows are replaced,
  so a person who is no longer open to moves loses theirs;
- `drop_posting`: a closed or filled posting's rows go.

People excluded by the scorer (the hiring manager, a step down without opt-in, a gig they are
not open to) get no row.

Readers: `posting_matches` (HR and the posting's hiring manager) and `recommended_postings`
(the viewer's own stored matches for visible, eligible, open postings); a row stored without
its explanation is explained when read (`explain_missing`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import orjson

from upward import clock
from upward.auth.principal import Principal
from upward.db import Executor, Params, fetch
from upward.development import readiness as core
from upward.development import tracks
from upward.development.ratings import valid_sql as ratings_valid_sql
from upward.errors import NotFound
from upward.mobility import rules, scorer
from upward.pagination import Order, Page, PageArgs, page_from_rows

log = logging.getLogger("upward.mobility.matching")

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


# --- the fast path: one posting against everyone ------------------------------------------


INPUTS = "upward_match_inputs"  # temporary tables, dropped at commit: the facts,
SCORED = "upward_match_scored"  # and everyone's points


@dataclass(frozen=True)
class Ranked:
    employee_id: uuid.UUID
    score: float
    eligible: bool


async def _project(
    session: Executor, principal: Principal, posting: scorer.Posting, today: date
) -> None:
    """Every candidate's `scorer.Facts` for this posting, computed in Postgres into the
    temporary table `upward_match_inputs` (one row per active person open to moves, one
    integer-coded key per group of components: rk, pk, xk, ek, decoded by
    `_component_points`), so that the people never travel to Python: the same inputs as
    `_candidates` (ratings of active skills and grants of credentials valid today, rolled up
    to the parent skills; credentials valid today, held or expiring on the start date; the
    placement; the current plan's targets; the preferences), projected onto the posting."""
    lv = posting.level
    r = posting.rules
    p = Params()
    skills = p([e.skill_id for e in (*posting.required, *posting.preferred)], "::uuid[]")
    n_req = p(len(posting.required), "::int")
    types = p(list(dict.fromkeys(posting.credential_types)), "::uuid[]")
    on = p(posting.start_on or today, "::date")
    today_p = p(today, "::date")
    level = p(lv.level_id if lv else None, "::uuid")
    track = p(lv.track_id if lv else None, "::uuid")
    locs = p(list(posting.location_ids), "::uuid[]")
    hm = p(posting.hiring_manager_id, "::uuid")
    vdep = p(list(r.visible_department_ids) if r else [], "::uuid[]")
    vloc = p(list(r.visible_location_ids) if r else [], "::uuid[]")
    vlev = p(list(r.visible_level_ids) if r else [], "::uuid[]")
    months = p(bool(r and r.min_months_in_role), "::bool")
    cred_base = p(3 ** len(dict.fromkeys(posting.credential_types)), "::numeric")
    statuses = p(OPEN_PLAN_STATUSES, "::text[]")
    valid = await ratings_valid_sql(session, principal, p)
    await fetch(session, f"drop table if exists pg_temp.{INPUTS}")
    await fetch(
        session,
        f"""
create temp table {INPUTS} on commit drop as
with recursive want as (
  select w.skill_id, w.i::int as i from unnest({skills}) with ordinality as w(skill_id, i)
),
sub(i, skill_id) as (  -- each wanted skill and its descendants (UNION: cycles end)
  select i, skill_id from want
  union
  select sub.i, s.id from sub join skills s on s.parent_id = sub.skill_id
),
cand as (  -- the people, with the facts of the posting that only their own rows decide
  select e.id, coalesce(l.since, e.hire_date) as since, lv.position,
         coalesce(lv.track_id = {track}, false) as same_track,
         coalesce({level} = any(p.level_ids), false) as pref_level,
         coalesce({track} = any(p.track_ids), false) as pref_track,
         coalesce(e.location_id = any({locs}), false) as here,
         coalesce(p.location_ids && {locs}, false) as preferred_here,
         e.id is not distinct from {hm} as is_hm,
         cardinality({vdep}) = 0 or coalesce(e.department_id = any({vdep}), false) as dep_ok,
         cardinality({vloc}) = 0 or coalesce(e.location_id = any({vloc}), false) as loc_ok,
         cardinality({vlev}) = 0 or coalesce(l.level_id = any({vlev}), false) as lev_ok,
         p.work_modes, p.willing_to_relocate, p.open_to_downward, p.open_to_gigs,
         p.gig_hours_per_week
  from career_preferences p
  join employees e on e.tenant_id = p.tenant_id and e.id = p.employee_id
  left join employee_levels l on l.tenant_id = e.tenant_id and l.employee_id = e.id
  left join track_levels lv on lv.tenant_id = l.tenant_id and lv.id = l.level_id
  where p.open_to_moves in ('yes', 'confidential') and e.status = 'active'
),
rated as (
  select r.employee_id, r.skill_id, r.proficiency from employee_skills r
  join skills s on s.tenant_id = r.tenant_id and s.id = r.skill_id
  where s.status = 'active' and r.skill_id in (select skill_id from sub)
  union all
  select c.employee_id, g.skill_id, g.proficiency from credentials c
  join credential_type_skills g
    on g.tenant_id = c.tenant_id and g.credential_type_id = c.credential_type_id
  join skills s on s.tenant_id = g.tenant_id and s.id = g.skill_id
  where s.status = 'active' and g.skill_id in (select skill_id from sub) and ({valid})
    and c.credential_type_id = any(array(
      select g2.credential_type_id from credential_type_skills g2
      where g2.skill_id in (select skill_id from sub)))
),
best as (
  select r.employee_id, sub.i, max(r.proficiency) as have
  from rated r join sub on sub.skill_id = r.skill_id group by 1, 2
),
skills_of as (  -- proficiencies as base-11 digits (0: none, else 1-10), one per skill
  select employee_id,
         sum(have * power(11::numeric, i - 1)) filter (where i <= {n_req}) as req,
         sum(have * power(11::numeric, i - 1 - {n_req})) filter (where i > {n_req}) as pref
  from best group by employee_id
),
creds_of as (  -- states as base-3 digits (0: missing, 1: expiring, 2: held), one per type
  select h.employee_id, sum(h.state * power(3::numeric, t.i - 1)) as creds
  from (select c.employee_id, c.credential_type_id,
               max(case when c.expires_on is null or c.expires_on >= {on} then 2 else 1 end)
                 as state
        from credentials c where c.credential_type_id = any({types}) and ({valid})
        group by 1, 2) h
  join unnest({types}) with ordinality as t(type_id, i) on t.type_id = h.credential_type_id
  group by h.employee_id
),
plans as (
  select cur.employee_id, bool_or(t.level_id = {level}) as idp_level,
         bool_or(lv.track_id = {track}) as idp_track
  from (select distinct on (employee_id) id, employee_id from development_plans
        where status = any({statuses})
        order by employee_id, (period_start <= {today_p} and period_end >= {today_p}) desc,
                 period_start desc, id) cur
  join development_plan_targets t on t.plan_id = cur.id
  join track_levels lv on lv.tenant_id = t.tenant_id and lv.id = t.level_id
  group by cur.employee_id
),
f as (
  select c.*, coalesce(s.req, 0) as req, coalesce(s.pref, 0) as pref,
         coalesce(k.creds, 0) as creds,
         coalesce(pl.idp_level, false) as idp_level, coalesce(pl.idp_track, false) as idp_track
  from cand c
  left join skills_of s on s.employee_id = c.id
  left join creds_of k on k.employee_id = c.id
  left join plans pl on pl.employee_id = c.id
)
select id as employee_id,
       req * {cred_base} + creds as rk,
       pref as pk,
       -- the rest (level, track, location, exclusion) as bits: few distinct values
       (coalesce(position, -1) + 1) * 2097152::bigint
         + idp_level::int + pref_level::int * 2 + idp_track::int * 4 + pref_track::int * 8
         + same_track::int * 16 + here::int * 32 + preferred_here::int * 64
         + willing_to_relocate::int * 128 + is_hm::int * 256 + open_to_gigs::int * 512
         + open_to_downward::int * 1024
         + (coalesce('on_site' = any(work_modes), false)::int
            + coalesce('hybrid' = any(work_modes), false)::int * 2
            + coalesce('remote' = any(work_modes), false)::int * 4) * 2048
         + coalesce(least(gig_hours_per_week, 126) + 1, 0) * 16384 as xk,
       -- eligibility: the hiring manager, the audience, time in role (when it matters)
       is_hm::int + dep_ok::int * 2 + loc_ok::int * 4 + lev_ok::int * 8
         + case when {months} then (case when since is null then 0
                 else greatest(since - date '1900-01-01' + 1, 1) end)::bigint * 16
           else 0 end as ek
from f
""",  # noqa: S608 - constants and placeholders only
        *p.values,
    )


def _digits(code: int, base: int, size: int) -> tuple[int, ...]:
    """The `size` base-`base` digits of `code`, least significant first."""
    out = []
    for _ in range(size):
        code, d = divmod(code, base)
        out.append(d)
    return tuple(out)


def _bit(code: int, i: int) -> bool:
    return bool(code >> i & 1)


_CRED_STATES = ("missing", "expiring", "held")
_MODES = ("on_site", "hybrid", "remote")
_EPOCH = date(1900, 1, 1)


def _component_points(ranker: scorer.Ranker, component: str, key: int) -> int:
    """A component key of `_project` decoded into its facts, then scored: points in hundredths
    for the required (rk: skills and credentials) and preferred (pk) skills; for the rest (xk)
    the points of the level, track and location components, or -1 when the person is excluded;
    for eligibility (ek) 1 or 0."""
    p = ranker.posting
    key = int(key)
    if component == "rk":
        n_types = len(dict.fromkeys(p.credential_types))
        req, creds = divmod(key, 3**n_types)
        states = tuple(_CRED_STATES[d] for d in _digits(creds, 3, n_types))
        return ranker.required(_digits(req, 11, len(p.required)), states)
    if component == "pk":
        return ranker.preferred(_digits(key, 11, len(p.preferred)))
    if component == "ek":
        since = key >> 4
        day = _EPOCH + timedelta(days=since - 1) if since else None
        return int(ranker.eligible(_bit(key, 0), _bit(key, 1), _bit(key, 2), _bit(key, 3), day))
    position = (key >> 21) - 1
    hours = (key >> 14 & 127) - 1
    pos = position if position >= 0 else None
    if ranker.excluded(
        _bit(key, 8), pos, _bit(key, 9), hours if hours >= 0 else None, _bit(key, 10)
    ):
        return -1
    modes = frozenset(m for i, m in enumerate(_MODES) if _bit(key, 11 + i))
    return (
        ranker.level(pos)
        + ranker.track(*(_bit(key, i) for i in range(5)))
        + ranker.location(_bit(key, 5), _bit(key, 6), _bit(key, 7), modes)
    )


COMPONENT_KEYS = ("rk", "pk", "xk", "ek")
KEY_TYPES = {"rk": "numeric", "pk": "numeric", "xk": "bigint", "ek": "bigint"}


@dataclass
class Ranking:
    """`rank_posting`'s answer: the best people and how many were ranked."""

    top: list[Ranked]
    total: int  # everyone ranked (their points are in the temporary table SCORED)


async def rank_posting(
    session: Executor,
    principal: Principal,
    posting: scorer.Posting,
    today: date,
    *,
    limit: int | None = None,
) -> Ranking:
    """Everyone open to moves ranked for one posting, as `scorer.score` ranks them (best first,
    ties by employee id; excluded people left out), without building one `Candidate` per
    person: `_project` computes each person's facts in Postgres, the distinct values of each
    component are scored once in Python by `scorer.Ranker`, and Postgres adds the points up and
    sorts. Returns the best `limit` (all when None) and how many were ranked in all. Seven
    statements whatever the number of people; the facts (`upward_match_inputs`) and everyone's
    points (`upward_match_scored`) stay for the rest of the transaction."""
    await fetch(session, "set local jit = off")  # short statements over many rows: JIT costs
    await _project(session, principal, posting, today)
    ranker = scorer.Ranker(posting, today)
    distinct = ", ".join(f"array_agg(distinct {k})" for k in COMPONENT_KEYS)
    keys = await fetch(session, f"select {distinct} from {INPUTS}")  # noqa: S608 - constants
    args: list[Any] = []
    for i, component in enumerate(COMPONENT_KEYS):  # each distinct value scored once
        values = list(keys[0][i] or ())
        args += [values, [_component_points(ranker, component, v) for v in values]]
    joins = " ".join(
        f"join unnest(${2 * i + 1}::{KEY_TYPES[k]}[], ${2 * i + 2}::int[]) as c_{k}(k, v) "
        f"on c_{k}.k = m.{k}"
        for i, k in enumerate(COMPONENT_KEYS)
    )
    scored = (
        "select m.employee_id, c_rk.v + c_pk.v + c_xk.v as points, "  # noqa: S608
        f"c_ek.v = 1 as eligible from {INPUTS} m {joins} where c_xk.v >= 0"
    )
    # everyone's points, kept for the rest of the transaction (`_store_changes`)
    await fetch(session, f"drop table if exists pg_temp.{SCORED}")
    await fetch(session, f"create temp table {SCORED} on commit drop as {scored}", *args)
    rows = await fetch(
        session,
        f"select s.*, count(*) over () as ranked from {SCORED} s "  # noqa: S608
        "order by s.points desc, s.employee_id"
        + (f" limit {int(limit)}" if limit is not None else ""),
    )
    total = rows[0]["ranked"] if rows else 0
    top = [Ranked(r["employee_id"], r["points"] / 100, r["eligible"]) for r in rows]
    return Ranking(top, total)


async def _store_changes(
    session: Executor, posting_id: uuid.UUID, explained: Sequence[uuid.UUID]
) -> int:
    """Bring the posting's stored rows to the ranking, writing only what changed: rows of
    people no longer ranked go; a new row, or one whose score or eligibility moved, is written
    with its score alone (its explanation, if any, would be stale), except the `explained`
    (written next by `_insert`). A re-rank after an edit that moves no score writes nothing.
    Four statements in Postgres, over `rank_posting`'s SCORED; returns the rows written."""
    # hash joins against the posting's rows: on a freshly filled posting_matches the planner's
    # statistics say a posting has a row or two, and a nested loop over 80,000 would follow
    await fetch(session, "set local enable_nestloop = off")
    await fetch(
        session,
        "delete from posting_matches m where m.posting_id = $1 "  # noqa: S608 - constants
        f"and not exists (select 1 from {SCORED} s where s.employee_id = m.employee_id)",
        posting_id,
    )
    rows = await fetch(
        session,
        "insert into posting_matches (tenant_id, posting_id, employee_id, score, eligible) "  # noqa: S608
        "select current_setting('app.tenant_id')::uuid, $1, s.employee_id, "
        f"s.points::float8 / 100, s.eligible from {SCORED} s "
        "left join posting_matches m on m.tenant_id = current_setting('app.tenant_id')::uuid "
        "and m.posting_id = $1 and m.employee_id = s.employee_id "
        "where s.employee_id <> all($2::uuid[]) and (m.employee_id is null "
        "or m.score <> s.points::float8 / 100 or m.eligible <> s.eligible) "
        "on conflict (tenant_id, posting_id, employee_id) do update "
        "set score = excluded.score, eligible = excluded.eligible, explanation = '{}', "
        "computed_at = now() returning 1",
        posting_id,
        list(explained),
    )
    await fetch(session, "set local enable_nestloop = on")
    return len(rows)


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


async def _insert(session: Executor, cols: tuple[list[Any], ...], *, upsert: bool = False) -> int:
    """The scored rows, with their explanations, in one insert (`upsert`: over rows stored
    before, as `recompute_posting` writes its best)."""
    if not cols[0]:
        return 0
    conflict = (
        " on conflict (tenant_id, posting_id, employee_id) do update set score = excluded.score, "
        "eligible = excluded.eligible, explanation = excluded.explanation, computed_at = now()"
        if upsert
        else ""
    )
    sql = (
        "insert into posting_matches (tenant_id, posting_id, employee_id, score, eligible, "
        "explanation) select current_setting('app.tenant_id')::uuid, u.p, u.e, u.s, u.el, "
        "u.x::jsonb from unnest($1::uuid[], $2::uuid[], $3::float8[], $4::bool[], $5::text[]) "
        "as u(p, e, s, el, x)"
    )
    await fetch(session, sql + conflict, *cols)
    return len(cols[0])


# Each posting's best matches are stored with their explanation (alerts, insights and the
# first pages read them); everyone else with their score alone, explained when read.
EXPLAINED = 500


async def recompute_posting(session: Executor, principal: Principal, posting_id: uuid.UUID) -> int:
    """Bring the posting's stored matches to the current data: every person open to moves
    ranked for it (none when it is not open) by the fast path (`rank_posting`); the best
    `EXPLAINED` scored again by the full scorer for their explanation (the two must agree: an
    error is logged if they do not, and the full scorer's answer kept) and written; of the
    others only the rows that changed (`_store_changes`). Returns the rows written."""
    principal.require_hr("recomputing matches")
    today = clock.today(principal.tenant_timezone)
    rows = await fetch(
        session,
        f"select {_POSTING_COLUMNS} from job_postings where id = $1",  # noqa: S608 - constants
        posting_id,
    )
    if not rows:
        raise NotFound("no posting with this id", field="postingId")
    if rows[0]["status"] != "open":
        await fetch(session, "delete from posting_matches where posting_id = $1", posting_id)
        return 0
    levels = await _levels(session)
    postings = await _postings(session, rows, levels)
    ranking = await rank_posting(session, principal, postings[0], today, limit=EXPLAINED)
    top = [r.employee_id for r in ranking.top]
    people = await _candidates(session, principal, levels, today, only=top)
    cols = _score_all(postings, people, today)
    fast = {(r.employee_id, r.score, r.eligible) for r in ranking.top}
    if fast != set(zip(cols[1], cols[2], cols[3], strict=True)):
        log.error(
            "fast ranking disagrees with the scorer",
            extra={"posting_id": str(posting_id), "fast": len(fast), "full": len(cols[1])},
        )
    written = await _store_changes(session, posting_id, cols[1])
    written += await _insert(session, cols, upsert=True)
    await fetch(session, "update job_postings set matched_at = now() where id = $1", posting_id)
    return written


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


async def explain_missing(
    session: Executor, principal: Principal, matches: Sequence[StoredMatch]
) -> list[StoredMatch]:
    """The matches as stored, with those stored without an explanation (below a posting's
    best `EXPLAINED`) scored again by the full scorer from the current data: their explanation,
    and the score and eligibility that go with it (equal to the stored ones unless the data
    changed since the ranking, which the workers are then already recomputing). Ten statements
    for a page, none when every match has its explanation."""
    missing = [m for m in matches if not m.explanation]
    if not missing:
        return list(matches)
    today = clock.today(principal.tenant_timezone)
    levels = await _levels(session)
    rows = await fetch(
        session,
        f"select {_POSTING_COLUMNS} from job_postings where id = any($1::uuid[])",  # noqa: S608
        list({m.posting_id for m in missing}),
    )
    postings = {p.posting_id: p for p in await _postings(session, rows, levels)}
    people = {
        c.employee_id: c
        for c in await _candidates(
            session, principal, levels, today, only=list({m.employee_id for m in missing})
        )
    }
    out = []
    for m in matches:
        posting, person = postings.get(m.posting_id), people.get(m.employee_id)
        if not m.explanation and posting is not None and person is not None:
            live = scorer.score(posting, person, today)
            if live.excluded is None:
                m = replace(
                    m, score=live.score, eligible=live.eligible, explanation=live.explanation()
                )
        out.append(m)
    return out


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
    out.rows = await explain_missing(session, principal, [r[0] for r in out.rows])
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
    out.rows = await explain_missing(session, principal, [r[0] for r in out.rows])
    hint = None if out.rows or page.after else "no open posting matches you yet"
    return Recommendations(out, who["open_to_moves"], hint)
