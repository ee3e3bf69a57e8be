"""A stand-in for `upward.mobility.matching` in the worker tests, where delivery is the point
(not the scorer): a person's score for a posting is twenty times their best proficiency among the
posting's skills (eligible), and people without any of them have no match. `install()` makes it
`upward.mobility.matching` (`dramatiq workers tests.mobility.fake_matching_boot` does so in a
worker process). `FAKE_MATCHING_DELAY` (seconds) slows each posting's recompute, so a
test can kill a worker in the middle of a batch."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from upward.db import Executor, fetch

_SCORES = """
select ps.posting_id, es.employee_id, least(100, max(es.proficiency) * 20)::float8 as score
from job_posting_skills ps
join job_postings j on j.tenant_id = ps.tenant_id and j.id = ps.posting_id and j.status = 'open'
join employee_skills es on es.tenant_id = ps.tenant_id and es.skill_id = ps.skill_id
where {where}
group by ps.posting_id, es.employee_id
"""


async def _write(session: Executor, where: str, *args: Any) -> int:
    rows = await fetch(
        session,
        "insert into posting_matches (tenant_id, posting_id, employee_id, score, eligible, "
        "explanation, computed_at) "
        "select current_setting('app.tenant_id')::uuid, s.posting_id, s.employee_id, s.score, "
        f"true, '{{}}'::jsonb, clock_timestamp() from ({_SCORES.format(where=where)}) s "
        "on conflict (tenant_id, posting_id, employee_id) do update "
        "set score = excluded.score, computed_at = excluded.computed_at returning employee_id",
        *args,
    )
    return len(rows)


async def recompute_posting(session: Executor, principal: Any, posting_id: uuid.UUID) -> int:
    delay = float(os.environ.get("FAKE_MATCHING_DELAY", "0"))
    if delay:
        await asyncio.sleep(delay)
    await fetch(session, "delete from posting_matches where posting_id = $1", posting_id)
    return await _write(session, "ps.posting_id = $1", posting_id)


async def recompute_people(
    session: Executor, principal: Any, employee_ids: Sequence[uuid.UUID]
) -> int:
    ids = list(employee_ids)
    await fetch(session, "delete from posting_matches where employee_id = any($1::uuid[])", ids)
    return await _write(session, "es.employee_id = any($1::uuid[])", ids)


async def drop_posting(session: Executor, principal: Any, posting_id: uuid.UUID) -> None:
    await fetch(session, "delete from posting_matches where posting_id = $1", posting_id)


def install() -> None:
    """Make `from upward.mobility import matching` give this module (in this process)."""
    import upward.mobility

    sys.modules["upward.mobility.matching"] = sys.modules[__name__]
    upward.mobility.matching = sys.modules[__name__]  # type: ignore[attr-defined]
