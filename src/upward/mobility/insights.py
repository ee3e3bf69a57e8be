"""Mobility insights for HR over a period (dates in the tenant's timezone, both inclusive).

- internal fill rate: postings that became `filled` in the period (every opening taken by an
  internal hire) / postings that became filled or closed in the period;
- time to fill: days from `opened_at` to `closed_at` of the postings filled in the period
  (median and mean);
- applications per posting: applications made in the period / postings open at some time in it;
- moves by kind, and by the department moved into (`employee_moves.after.department_id`);
- the skills most often missing among top candidates: for each posting open at some time in the
  period, its `TOP_CANDIDATES` best stored matches (`posting_matches`, score order, excluded
  people left out); every required skill their explanation does not mark `met` (the scorer's
  `skills[].state`: partial or missing) counts once per candidate.

A constant number of statements, whatever the number of postings or people.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from upward.auth.principal import Principal
from upward.db import Executor, fetch

TOP_CANDIDATES = 10


@dataclass(frozen=True)
class DepartmentMoves:
    department_id: uuid.UUID | None
    department_name: str | None
    department_code: str | None
    kind: str
    count: int


@dataclass(frozen=True)
class SkillGap:
    skill_id: uuid.UUID
    name: str
    postings: int
    candidates: int


@dataclass(frozen=True)
class Insights:
    from_date: date
    to_date: date
    postings_finished: int = 0
    postings_filled_internally: int = 0
    internal_fill_rate: float | None = None
    time_to_fill_p50_days: float | None = None
    time_to_fill_mean_days: float | None = None
    applications: int = 0
    postings_with_applications: int = 0
    applications_per_posting: float | None = None
    moves_by_kind: list[tuple[str, int]] = field(default_factory=list)
    moves_by_department: list[DepartmentMoves] = field(default_factory=list)
    top_missing_skills: list[SkillGap] = field(default_factory=list)


# "open in the period": opened on or before $2, not closed before $1 (local dates in zone $3)
_POSTINGS = """
select
  count(*) filter (where p.status in ('filled', 'closed') and p.closed_at is not null
                   and (p.closed_at at time zone $3)::date between $1 and $2) as finished,
  count(*) filter (where p.status = 'filled' and p.closed_at is not null
                   and (p.closed_at at time zone $3)::date between $1 and $2) as filled,
  percentile_cont(0.5) within group (order by extract(epoch from p.closed_at - p.opened_at))
    filter (where p.status = 'filled' and p.opened_at is not null and p.closed_at is not null
            and (p.closed_at at time zone $3)::date between $1 and $2) / 86400.0 as p50,
  avg(extract(epoch from p.closed_at - p.opened_at))
    filter (where p.status = 'filled' and p.opened_at is not null and p.closed_at is not null
            and (p.closed_at at time zone $3)::date between $1 and $2) / 86400.0 as mean,
  count(*) filter (where p.opened_at is not null and (p.opened_at at time zone $3)::date <= $2
    and (p.closed_at is null or (p.closed_at at time zone $3)::date >= $1)) as open_in_period,
  (select count(*) from applications a
    where (a.created_at at time zone $3)::date between $1 and $2) as applications,
  (select count(distinct a.posting_id) from applications a
    where (a.created_at at time zone $3)::date between $1 and $2) as postings_applied
from job_postings p
"""

_MOVES = """
select m.kind, (m.after->>'department_id')::uuid as department_id, d.name, d.code,
       count(*) as n
from employee_moves m
left join departments d on d.tenant_id = m.tenant_id
  and d.id = (m.after->>'department_id')::uuid
where m.moved_on between $1 and $2
group by m.kind, (m.after->>'department_id')::uuid, d.name, d.code
order by n desc, m.kind, d.name nulls last
"""

_MISSING = """
with top as (
  select m.posting_id, m.explanation,
         row_number() over (partition by m.posting_id order by m.score desc, m.employee_id) as rn
  from posting_matches m
  join job_postings p on p.tenant_id = m.tenant_id and p.id = m.posting_id
  where p.opened_at is not null and (p.opened_at at time zone $3)::date <= $2
    and (p.closed_at is null or (p.closed_at at time zone $3)::date >= $1)
    and m.explanation->>'excluded' is null
)
select (s->>'skill_id')::uuid as skill_id, k.name,
       count(distinct t.posting_id) as postings, count(*) as candidates
from top t
cross join lateral jsonb_array_elements(coalesce(t.explanation->'skills', '[]'::jsonb)) s
join skills k on k.id = (s->>'skill_id')::uuid
where t.rn <= $4 and coalesce((s->>'required')::boolean, true)
  and coalesce(s->>'state', 'missing') <> 'met'
group by 1, 2
order by candidates desc, postings desc, k.name, 1
limit $5
"""


def _round(v: float | None) -> float | None:
    return None if v is None else round(float(v), 1)


async def mobility_insights(
    session: Executor,
    principal: Principal,
    *,
    from_date: date,
    to_date: date,
    top_skills: int = 10,
) -> Insights:
    principal.require_hr("mobility insights")
    tz = principal.tenant_timezone
    p = (await fetch(session, _POSTINGS, from_date, to_date, tz))[0]
    moves = await fetch(session, _MOVES, from_date, to_date)
    missing = await fetch(session, _MISSING, from_date, to_date, tz, TOP_CANDIDATES, top_skills)
    by_kind: dict[str, int] = {}
    for r in moves:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + r["n"]
    return Insights(
        from_date=from_date,
        to_date=to_date,
        postings_finished=p["finished"],
        postings_filled_internally=p["filled"],
        internal_fill_rate=round(p["filled"] / p["finished"], 4) if p["finished"] else None,
        time_to_fill_p50_days=_round(p["p50"]),
        time_to_fill_mean_days=_round(p["mean"]),
        applications=p["applications"],
        postings_with_applications=p["postings_applied"],
        applications_per_posting=round(p["applications"] / p["open_in_period"], 2)
        if p["open_in_period"]
        else None,
        moves_by_kind=sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0])),
        moves_by_department=[
            DepartmentMoves(r["department_id"], r["name"], r["code"], r["kind"], r["n"])
            for r in moves
        ],
        top_missing_skills=[
            SkillGap(r["skill_id"], r["name"], r["postings"], r["candidates"]) for r in missing
        ],
    )
