"""GraphQL for milestones: the per-kind settings (HR) and a person's recognized milestones."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection
from upward.people.loaders import viewer_of
from upward.recognition import milestones as service


@strawberry.enum(description="What the company recognizes by itself.")
class MilestoneKind(enum.Enum):
    CREDENTIAL_EARNED = "credential_earned"
    CREDENTIAL_RENEWED = "credential_renewed"
    GOAL_COMPLETED = "goal_completed"
    PLAN_COMPLETED = "plan_completed"
    PROMOTION = "promotion"
    INTERNAL_MOVE = "internal_move"
    WORK_ANNIVERSARY = "work_anniversary"


@strawberry.type(description="How a kind of milestone is recognized in the tenant.")
class MilestoneSetting:
    kind: MilestoneKind
    enabled: bool = strawberry.field(description="Off: the kind is not recognized at all.")
    message: str = strawberry.field(
        description="The kudos' message template, with `{placeholder}`s (see `placeholders`)."
    )
    points: int = strawberry.field(
        description="Points from the company account to the person (a work anniversary: per "
        "year of service)."
    )
    is_default: bool = strawberry.field(description="No override: the built-in setting.")
    placeholders: list[str] = strawberry.field(description="What `message` may use, e.g. `name`.")


def setting_obj(s: service.Setting) -> MilestoneSetting:
    return MilestoneSetting(
        kind=MilestoneKind(s.kind),
        enabled=s.enabled,
        message=s.message,
        points=s.points,
        is_default=s.is_default,
        placeholders=list(service.placeholders_of(s.kind)),
    )


@strawberry.type(description="A milestone the company recognized, once, with a kudos.")
class Milestone(Node):
    id: strawberry.ID
    kind: MilestoneKind
    occurred_on: date = strawberry.field(description="The day of the milestone, tenant's date.")
    kudos_id: strawberry.ID | None = strawberry.field(description="Global id of its `Kudos`.")
    created_at: datetime


def milestone_obj(row: Any) -> Milestone:
    return Milestone(
        id=to_global_id("Milestone", row.id),
        kind=MilestoneKind(row.kind),
        occurred_on=row.occurred_on,
        kudos_id=to_global_id("Kudos", row.kudos_id) if row.kudos_id else None,
        created_at=row.created_at,
    )


@register_node("Milestone")
async def _milestone_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    viewer = await viewer_of(ctx)
    async with ctx.session() as s:
        rows = await service.milestones_by_ids(s, viewer, ids)
    return {i: milestone_obj(r) for i, r in rows.items()}


@strawberry.input
class SetMilestoneSettingInput:
    kind: MilestoneKind
    enabled: bool | None = None
    message: str | None = strawberry.field(
        default=None, description="At most 500 characters; only the kind's placeholders."
    )
    points: int | None = strawberry.field(default=None, description="0 to 100000.")


@strawberry.type
class MilestonesQuery:
    @strawberry.field(description="How each kind of milestone is recognized (hr_admin).")
    async def milestone_settings(self, info: Info) -> list[MilestoneSetting]:
        ctx = info.context
        p = ctx.require_principal()
        async with ctx.session() as s:
            settings = await service.list_settings(s, p)
        return [setting_obj(x) for x in settings]

    @strawberry.field(
        description="A person's recognized milestones, newest first: for the person, their "
        "managers and HR (anyone else gets an empty list)."
    )
    async def milestones(
        self,
        info: Info,
        employee_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Milestone]:
        ctx = info.context
        eid = expect_global_id(employee_id, "Employee", field="employeeId")
        order = service.MILESTONE_ORDER
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        viewer = await viewer_of(ctx)  # before the session: its lock is not reentrant
        async with ctx.session() as s:
            page = await service.list_milestones(
                s, viewer, employee_id=eid, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, order, milestone_obj)


@strawberry.type
class MilestonesMutation:
    @strawberry.mutation(
        description="Change how a kind of milestone is recognized (hr_admin); fields left out "
        "stay as they are."
    )
    async def set_milestone_setting(
        self, info: Info, input: SetMilestoneSettingInput
    ) -> MilestoneSetting:
        async with info.context.mutation() as (s, p):
            setting = await service.set_setting(
                s,
                p,
                kind=input.kind.value,
                enabled=input.enabled,
                message=input.message,
                points=input.points,
            )
        return setting_obj(setting)
