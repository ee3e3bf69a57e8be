"""Company values and the tenant's recognition settings (points rules, allowance overrides).

Values are a short list a tenant curates (HR and tenant admins); everyone reads the active
ones, HR also the retired ones. A value stays on the kudos that used it after it is retired.
Services never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.db import Executor, columns, fetch, is_unique_violation
from upward.errors import BadUserInput, Conflict, NotFound
from upward.people.validation import optional_text, require_text
from upward.recognition import ledger
from upward.recognition.models import CompanyValue, PointsAllowance, RecognitionSettings

t_value = CompanyValue.__table__
t_settings = RecognitionSettings.__table__
t_allow = PointsAllowance.__table__

MAX_VALUES = 30
MAX_VALUE_NAME = 80
MAX_DESCRIPTION = 500
MAX_EMOJI = 40
VALUE_TAKEN = "a company value with this name exists"

_VALUE = columns(CompanyValue)  # named, not `*`: expand/contract (db.columns)


# --- company values ----------------------------------------------------------------------------


async def list_values(session: Executor, principal: Principal, *, include_retired: bool) -> list:
    """The tenant's values in their order; retired ones only for HR who ask."""
    rows = await fetch(
        session,
        f"select {_VALUE} from company_values where active or $1 "  # noqa: S608 - column names of the model
        "order by position, lower(name), id",
        include_retired and principal.is_hr,
    )
    return list(rows)


async def values_by_ids(session: Executor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await fetch(
        session,
        f"select {_VALUE} from company_values where id = any($1::uuid[])",  # noqa: S608 - column names of the model
        ids,
    )
    return {r["id"]: r for r in rows}


def _value_fields(
    *,
    name: str | None,
    description: str | None,
    emoji: str | None,
    position: int | None,
    prefix: str = "input",
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name is not None:
        out["name"] = require_text(name, field=f"{prefix}.name", max_len=MAX_VALUE_NAME)
    if description is not None:
        out["description"] = optional_text(
            description, field=f"{prefix}.description", max_len=MAX_DESCRIPTION
        )
    if emoji is not None:
        out["emoji"] = optional_text(emoji, field=f"{prefix}.emoji", max_len=MAX_EMOJI)
    if position is not None:
        if not 0 <= position <= 1000:
            raise BadUserInput("position must be from 0 to 1000", field=f"{prefix}.position")
        out["position"] = position
    return out


async def _write_value(session: Executor, stmt: Any) -> Any:
    try:
        async with session.begin_nested():
            return (await session.execute(stmt)).first()
    except IntegrityError as exc:
        if is_unique_violation(exc, "company_values_name_key"):
            raise Conflict(VALUE_TAKEN, field="input.name") from None
        raise


async def create_value(
    session: Executor,
    principal: Principal,
    *,
    name: str,
    description: str | None = None,
    emoji: str | None = None,
    position: int | None = None,
) -> Any:
    principal.require_hr("creating a company value")
    fields = _value_fields(name=name, description=description, emoji=emoji, position=position)
    count = (await fetch(session, "select count(*) from company_values where active"))[0][0]
    if count >= MAX_VALUES:
        raise BadUserInput(
            f"a tenant has at most {MAX_VALUES} active values: retire one first", field="input"
        )
    row = await _write_value(
        session,
        sa.insert(t_value).values(tenant_id=principal.tenant_id, **fields).returning(t_value),
    )
    await audit.record(
        session,
        principal,
        action="company_value.create",
        target_type="CompanyValue",
        target_id=row.id,
        changes=audit.diff({}, fields),
    )
    return row


async def update_value(
    session: Executor,
    principal: Principal,
    *,
    value_id: uuid.UUID,
    name: str | None = None,
    description: str | None = None,
    emoji: str | None = None,
    position: int | None = None,
    active: bool | None = None,
) -> Any:
    """Rename, describe, reorder, retire (`active: false`) or bring back a value."""
    principal.require_hr("changing a company value")
    before = (
        await session.execute(sa.select(t_value).where(t_value.c.id == value_id).with_for_update())
    ).first()
    if before is None:
        raise NotFound("no company value with this id", field="id")
    fields = _value_fields(name=name, description=description, emoji=emoji, position=position)
    if active is not None:
        if active and not before.active:
            count = (await fetch(session, "select count(*) from company_values where active"))[0][0]
            if count >= MAX_VALUES:
                raise BadUserInput(
                    f"a tenant has at most {MAX_VALUES} active values", field="input.active"
                )
        fields["active"] = active
    changes = audit.diff(before._asdict(), fields)
    if not changes:
        return before
    row = await _write_value(
        session,
        sa.update(t_value)
        .where(t_value.c.id == value_id)
        .values(**fields, updated_at=clock.now())
        .returning(t_value),
    )
    await audit.record(
        session,
        principal,
        action="company_value.update",
        target_type="CompanyValue",
        target_id=value_id,
        changes=changes,
    )
    return row


# --- settings ----------------------------------------------------------------------------------


def _check_range(value: int | None, *, field: str, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        raise BadUserInput(f"must be from {low} to {high}", field=field)


async def set_rules(
    session: Executor,
    principal: Principal,
    *,
    monthly_allowance: int | None = None,
    manager_award_budget: int | None = None,
    max_points_per_kudos: int | None = None,
    nudge_after_days: int | None = None,
) -> ledger.Rules:
    """Change the tenant's points rules (each given field; the others stay)."""
    principal.require_hr("changing recognition settings")
    top = ledger.MAX_POINTS
    _check_range(monthly_allowance, field="input.monthlyAllowance", low=0, high=top)
    _check_range(manager_award_budget, field="input.managerAwardBudget", low=0, high=top)
    _check_range(max_points_per_kudos, field="input.maxPointsPerKudos", low=0, high=top)
    _check_range(nudge_after_days, field="input.nudgeAfterDays", low=1, high=365)
    before = await ledger.rules_of(session)
    given = {
        "monthly_allowance": monthly_allowance,
        "manager_award_budget": manager_award_budget,
        "max_points_per_kudos": max_points_per_kudos,
        "nudge_after_days": nudge_after_days,
    }
    after = ledger.Rules(
        **{k: (v if v is not None else getattr(before, k)) for k, v in given.items()}
    )
    values = {k: getattr(after, k) for k in given}
    changes = audit.diff({k: getattr(before, k) for k in given}, values)
    if changes:
        await session.execute(
            pg_insert(t_settings)
            .values(tenant_id=principal.tenant_id, **values, updated_at=clock.now())
            .on_conflict_do_update(
                index_elements=["tenant_id"], set_={**values, "updated_at": clock.now()}
            )
        )
        await audit.record(
            session,
            principal,
            action="recognition_settings.update",
            target_type="Tenant",
            target_id=principal.tenant_id,
            changes=changes,
        )
    return after


async def list_allowances(session: Executor) -> list[Any]:
    return list(
        await fetch(
            session,
            f"select {columns(PointsAllowance, 'a')}, e.name as employee_name "  # noqa: S608 - column names of the model
            "from points_allowances a "
            "left join employees e on e.tenant_id = a.tenant_id and e.id = a.employee_id "
            "order by a.job_level nulls last, e.name, a.id",
        )
    )


async def set_allowance(
    session: Executor,
    principal: Principal,
    *,
    job_level: str | None,
    employee_id: uuid.UUID | None,
    monthly_allowance: int | None,
    award_budget: int | None,
) -> Any | None:
    """Override the monthly allowance and award budget of a job level or a person (exactly one);
    both amounts null removes the override. Returns the override, or None when removed."""
    principal.require_hr("changing points allowances")
    if (job_level is None) == (employee_id is None):
        raise BadUserInput("give exactly one of jobLevel and employeeId", field="input")
    top = ledger.MAX_POINTS
    _check_range(monthly_allowance, field="input.monthlyAllowance", low=0, high=top)
    _check_range(award_budget, field="input.awardBudget", low=0, high=top)
    if job_level is not None:
        job_level = require_text(job_level, field="input.jobLevel", max_len=80)
        where = t_allow.c.job_level == job_level
        subject: dict[str, Any] = {"job_level": job_level}
    else:
        found = await fetch(session, "select 1 from employees where id = $1", employee_id)
        if not found:
            raise NotFound("no employee with this id", field="input.employeeId")
        where = t_allow.c.employee_id == employee_id
        subject = {"employee_id": employee_id}
    before = (await session.execute(sa.select(t_allow).where(where).with_for_update())).first()
    amounts = {"monthly_allowance": monthly_allowance, "award_budget": award_budget}
    old = (
        {"monthly_allowance": before.monthly_allowance, "award_budget": before.award_budget}
        if before
        else {}
    )
    if monthly_allowance is None and award_budget is None:
        if before is not None:
            await session.execute(sa.delete(t_allow).where(t_allow.c.id == before.id))
            await audit.record(
                session,
                principal,
                action="points_allowance.remove",
                target_type="PointsAllowance",
                target_id=before.id,
                changes={**audit.diff({}, subject), **audit.diff(old, {k: None for k in old})},
            )
        return None
    if before is None:
        row = (
            await session.execute(
                sa.insert(t_allow)
                .values(tenant_id=principal.tenant_id, **subject, **amounts)
                .returning(t_allow)
            )
        ).one()
    else:
        row = (
            await session.execute(
                sa.update(t_allow)
                .where(t_allow.c.id == before.id)
                .values(**amounts, updated_at=clock.now())
                .returning(t_allow)
            )
        ).one()
    changes = audit.diff(old, amounts)
    if changes or before is None:
        await audit.record(
            session,
            principal,
            action="points_allowance.set",
            target_type="PointsAllowance",
            target_id=row.id,
            changes={**audit.diff({}, subject), **changes},
        )
    return row
