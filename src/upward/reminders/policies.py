"""Reminder policies: the stored form (JSON steps, window columns) <-> the planner's `Policy`,
validation of what a client or a manifest sends, and the lookup the scan uses."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from upward.db import Executor, fetch
from upward.errors import BadUserInput
from upward.reminders.planner import (
    CHANNELS,
    DEFAULT_STEPS,
    RECIPIENT_KINDS,
    Policy,
    SendWindow,
    Step,
)

MAX_STEPS = 20
MAX_OFFSET_DAYS = 730


def step_to_json(step: Step) -> dict[str, Any]:
    return {
        "offset_days": step.offset_days,
        "recipients": sorted(step.recipients),
        "channels": sorted(step.channels),
        "mandatory": step.mandatory,
        "immediate": step.immediate,
    }


def step_from_json(data: Mapping[str, Any]) -> Step:
    return Step(
        offset_days=int(data["offset_days"]),
        recipients=frozenset(data.get("recipients") or ()),
        channels=frozenset(data.get("channels") or ()),
        mandatory=bool(data.get("mandatory", False)),
        immediate=bool(data.get("immediate", False)),
    )


DEFAULT_STEPS_JSON = [step_to_json(s) for s in DEFAULT_STEPS]


def validate_steps(steps: Sequence[Mapping[str, Any]], *, field: str = "input.steps") -> list[Step]:
    """Steps as sent (snake_case keys) -> planner steps, or BadUserInput naming the step."""
    if not steps:
        raise BadUserInput("a policy needs at least one step", field=field)
    if len(steps) > MAX_STEPS:
        raise BadUserInput(f"a policy has at most {MAX_STEPS} steps", field=field)
    out: list[Step] = []
    seen: set[int] = set()
    for i, raw in enumerate(steps):
        where = f"{field}.{i}"
        offset = raw.get("offset_days")
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise BadUserInput("offsetDays must be an integer", field=f"{where}.offsetDays")
        if abs(offset) > MAX_OFFSET_DAYS:
            raise BadUserInput(
                f"offsetDays must be between -{MAX_OFFSET_DAYS} and {MAX_OFFSET_DAYS}",
                field=f"{where}.offsetDays",
            )
        if offset in seen:
            raise BadUserInput(
                f"two steps at offsetDays {offset}: merge them", field=f"{where}.offsetDays"
            )
        seen.add(offset)
        recipients = list(raw.get("recipients") or [])
        bad = sorted(set(recipients) - set(RECIPIENT_KINDS))
        if bad or not recipients:
            raise BadUserInput(
                f"recipients must be a non-empty subset of {', '.join(RECIPIENT_KINDS)}",
                field=f"{where}.recipients",
            )
        channels = list(raw.get("channels") or [])
        bad = sorted(set(channels) - set(CHANNELS))
        if bad or not channels:
            raise BadUserInput(
                f"channels must be a non-empty subset of {', '.join(CHANNELS)}",
                field=f"{where}.channels",
            )
        out.append(step_from_json({**raw, "recipients": recipients, "channels": channels}))
    return sorted(out, key=lambda s: s.offset_days)


def validate_window(start: int, end: int, *, field: str = "input") -> None:
    if not 0 <= start <= 23:
        raise BadUserInput(
            "windowStartHour must be between 0 and 23", field=f"{field}.windowStartHour"
        )
    if not start < end <= 24:
        raise BadUserInput(
            "windowEndHour must be after windowStartHour and at most 24",
            field=f"{field}.windowEndHour",
        )


@dataclass(frozen=True)
class TenantPolicies:
    """A tenant's policies as the scan needs them: by credential type, and the default (the
    built-in ladder when the tenant declared none)."""

    default: Policy
    default_id: uuid.UUID | None
    by_type: dict[uuid.UUID, Policy]
    # named watchers, by credential type (None: the default policy's)
    watchers: dict[uuid.UUID | None, tuple[uuid.UUID, ...]]

    def for_type(self, type_id: uuid.UUID) -> tuple[Policy, tuple[uuid.UUID, ...]]:
        if type_id in self.by_type:
            return self.by_type[type_id], self.watchers.get(type_id, ())
        return self.default, self.watchers.get(None, ())

    @property
    def all(self) -> list[Policy]:
        return [self.default, *self.by_type.values()]


def policy_from_row(row: Any) -> Policy:
    return Policy(
        steps=tuple(sorted((step_from_json(s) for s in row["steps"]), key=lambda s: s.offset_days)),
        window=SendWindow(
            start_hour=row["window_start_hour"],
            end_hour=row["window_end_hour"],
            weekends=row["send_on_weekends"],
        ),
    )


async def load_policies(session: Executor) -> TenantPolicies:
    rows = await fetch(
        session,
        "select id, credential_type_id, steps, watcher_ids, window_start_hour, window_end_hour, "
        "send_on_weekends from reminder_policies",
    )
    default, default_id = Policy(), None
    by_type: dict[uuid.UUID, Policy] = {}
    watchers: dict[uuid.UUID | None, tuple[uuid.UUID, ...]] = {}
    for row in rows:
        policy = policy_from_row(row)
        watchers[row["credential_type_id"]] = tuple(row["watcher_ids"] or ())
        if row["credential_type_id"] is None:
            default, default_id = policy, row["id"]
        else:
            by_type[row["credential_type_id"]] = policy
    return TenantPolicies(default, default_id, by_type, watchers)
