"""GraphQL for recognition: company values, kudos (give, react, comment, hide), the feed, and
the tenant's points settings. Thin resolvers over recognition.service and recognition.kudos;
rewards, milestones and insights have schema modules of their own."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from upward.graphql.lazy import Lazy
from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    optional_global_id,
    page_args,
    to_global_id,
)
from upward.graphql.selection import Selection
from upward.people.loaders import employee_by_id_loader, viewer_of
from upward.recognition import kudos as core
from upward.recognition import ledger, periods, service
from upward.recognition.loaders import (
    comment_count_by_kudos_loader,
    kudos_by_id_loader,
    reactions_by_kudos_loader,
    receivers_by_kudos_loader,
    value_by_id_loader,
    values_by_kudos_loader,
)

if TYPE_CHECKING:
    from upward.people.schema import Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]

MAX_COMMENTS_PAGE = 100


async def _employee(ctx: Any, employee_id: uuid.UUID | None) -> Any:
    from upward.people.schema import employee_ref

    return await employee_ref(ctx, employee_id)


async def _employees(ctx: Any, ids: list[uuid.UUID]) -> list[Any]:
    from upward.people.schema import employee_obj

    viewer = await viewer_of(ctx)
    rows = await employee_by_id_loader(ctx).load_many(ids)
    return [employee_obj(ctx, viewer, r) for r in rows if r is not None]


def _ids(values: list[strawberry.ID] | None, type_name: str, field: str) -> list[uuid.UUID]:
    return [
        expect_global_id(v, type_name, field=f"{field}.{i}") for i, v in enumerate(values or [])
    ]


# --- company values ----------------------------------------------------------------------------


@strawberry.type(description="One of the company's values, which kudos recognize.")
class CompanyValue(Node):
    id: strawberry.ID
    name: str
    description: str | None
    emoji: str | None = strawberry.field(description="An emoji, or an icon key of your client.")
    active: bool = strawberry.field(description="false: retired (kept on past kudos).")
    position: int = strawberry.field(description="Lists sort by it, then by name.")


def value_obj(row: Any) -> CompanyValue:
    return CompanyValue(
        id=to_global_id("CompanyValue", row["id"]),
        name=row["name"],
        description=row["description"],
        emoji=row["emoji"],
        active=row["active"],
        position=row["position"],
    )


@register_node("CompanyValue")
async def _value_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    p = ctx.require_principal()
    rows = await value_by_id_loader(ctx).load_many(ids)
    return {r["id"]: value_obj(r) for r in rows if r is not None and (r["active"] or p.is_hr)}


@strawberry.input
class CreateCompanyValueInput:
    name: str
    description: str | None = None
    emoji: str | None = None
    position: int | None = None


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateCompanyValueInput:
    name: str | None = None
    description: str | None = None
    emoji: str | None = None
    position: int | None = None
    active: bool | None = strawberry.field(
        default=None, description="false retires the value; true brings it back."
    )


# --- kudos -------------------------------------------------------------------------------------


@strawberry.enum(
    description="Who gave it: a colleague, a manager from their award budget, or "
    "the company for a milestone."
)
class KudosKind(enum.Enum):
    PEER = "peer"
    AWARD = "award"
    MILESTONE = "milestone"


@strawberry.enum(
    description="PUBLIC: everyone in the company. PRIVATE: the giver, the receivers, the "
    "receivers' managers (their whole reporting line) and HR."
)
class KudosVisibility(enum.Enum):
    PUBLIC = "public"
    PRIVATE = "private"


@strawberry.enum
class KudosReaction(enum.Enum):
    LIKE = "like"
    CELEBRATE = "celebrate"
    LOVE = "love"
    INSIGHTFUL = "insightful"
    LAUGH = "laugh"


@strawberry.type(description="How many people reacted so, and whether you did.")
class KudosReactionCount:
    reaction: KudosReaction
    count: int
    reacted_by_me: bool


@strawberry.type(description="A comment on a kudos.")
class KudosComment(Node):
    id: strawberry.ID
    author: EmployeeRef | None
    body: str
    created_at: datetime


def comment_obj(ctx: Any, row: Any) -> KudosComment:
    author = row["author_id"]
    return KudosComment(
        id=to_global_id("KudosComment", row["id"]),
        author=Lazy(lambda: _employee(ctx, author)),  # type: ignore[arg-type]
        body=row["body"],
        created_at=row["created_at"],
    )


@strawberry.type(description="Recognition from one person (or the company) to colleagues.")
class Kudos(Node):
    id: strawberry.ID
    kind: KudosKind
    giver: EmployeeRef | None = strawberry.field(
        description="null for a milestone (from the company), or a giver you may not see."
    )
    message: str
    visibility: KudosVisibility
    points: int = strawberry.field(description="Points to each receiver.")
    milestone_kind: str | None = strawberry.field(
        description="For a milestone: its kind (a MilestoneKind value, lower case)."
    )
    created_at: datetime
    hidden: bool = strawberry.field(description="Hidden by HR (only HR reads hidden kudos).")
    hidden_at: datetime | None
    hidden_reason: str | None = strawberry.field(description="Why HR hid it (HR only).")
    _row: strawberry.Private[Any]

    @strawberry.field(description="Who it thanks, by name.")
    async def receivers(self, info: Info) -> list[EmployeeRef]:
        ids = await receivers_by_kudos_loader(info.context).load(self._row["id"])
        return await _employees(info.context, ids)

    @strawberry.field(description="The company values it recognizes, in the company's order.")
    async def values(self, info: Info) -> list[CompanyValue]:
        ids = await values_by_kudos_loader(info.context).load(self._row["id"])
        rows = await value_by_id_loader(info.context).load_many(ids)
        return [value_obj(r) for r in rows if r is not None]

    @strawberry.field(description="The reactions used on it, in a fixed order.")
    async def reactions(self, info: Info) -> list[KudosReactionCount]:
        counts = await reactions_by_kudos_loader(info.context).load(self._row["id"])
        return [
            KudosReactionCount(
                reaction=KudosReaction(c.reaction), count=c.count, reacted_by_me=c.mine
            )
            for c in counts
        ]

    @strawberry.field(description="How many comments it has.")
    async def comment_count(self, info: Info) -> int:
        return await comment_count_by_kudos_loader(info.context).load(self._row["id"])

    @strawberry.field(description="Its first comments, oldest first (at most 100).")
    async def comments(self, info: Info, first: int = 20) -> list[KudosComment]:
        from upward.errors import BadUserInput

        if not 0 < first <= MAX_COMMENTS_PAGE:
            raise BadUserInput(f"`first` must be between 1 and {MAX_COMMENTS_PAGE}", field="first")
        ctx = info.context
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            rows = await core.comments_of(s, viewer, self._row["id"], first=first)
        return [comment_obj(ctx, r) for r in rows]


def kudos_obj(ctx: Any, row: Any) -> Kudos:
    giver = row["giver_id"]
    hr = ctx.require_principal().is_hr
    return Kudos(
        id=to_global_id("Kudos", row["id"]),
        kind=KudosKind(row["kind"]),
        giver=Lazy(lambda: _employee(ctx, giver)),  # type: ignore[arg-type]
        message=row["message"],
        visibility=KudosVisibility(row["visibility"]),
        points=row["points"],
        milestone_kind=row["milestone_kind"],
        created_at=row["created_at"],
        hidden=row["hidden_at"] is not None,
        hidden_at=row["hidden_at"],
        hidden_reason=row["hidden_reason"] if hr else None,
        _row=row,
    )


@register_node("Kudos")
async def _kudos_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await kudos_by_id_loader(ctx).load_many(ids)
    return {r["id"]: kudos_obj(ctx, r) for r in rows if r is not None}


@strawberry.input
class GiveKudosInput:
    receiver_ids: list[strawberry.ID] = strawberry.field(
        description="The colleagues thanked (1-20, active, not you)."
    )
    message: str
    value_ids: list[strawberry.ID] = strawberry.field(
        description="The company values it recognizes (1-5; required when the company has any)."
    )
    points: int = strawberry.field(
        default=0,
        description="Points to each receiver, from your monthly allowance (or your award "
        "budget with `award`); at most the tenant's maxPointsPerKudos.",
    )
    visibility: KudosVisibility = KudosVisibility.PUBLIC
    award: bool = strawberry.field(
        default=False, description="Spend from your award budget (managers) instead."
    )


@strawberry.input
class HideKudosInput:
    kudos_id: strawberry.ID
    reason: str = strawberry.field(description="Kept on the kudos and in the audit.")


@strawberry.input
class KudosReactionInput:
    kudos_id: strawberry.ID
    reaction: KudosReaction


@strawberry.input
class CommentOnKudosInput:
    kudos_id: strawberry.ID
    body: str


@strawberry.enum(description="A period in the tenant's timezone.")
class RecognitionPeriodPreset(enum.Enum):
    TODAY = "today"
    LAST_7_DAYS = "last_7_days"
    LAST_30_DAYS = "last_30_days"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_QUARTER = "this_quarter"
    THIS_YEAR = "this_year"
    ALL_TIME = "all_time"


@strawberry.input(description="A preset, or since/until (ISO 8601 with an offset), not both.")
class RecognitionPeriodInput:
    preset: RecognitionPeriodPreset | None = None
    since: datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")


def period_bounds(
    ctx: Any, period: RecognitionPeriodInput | None, *, field: str, default: str | None = None
) -> tuple[datetime | None, datetime | None]:
    p = ctx.require_principal()
    return periods.resolve(
        preset=period.preset.value if period and period.preset else None,
        since=period.since if period else None,
        until=period.until if period else None,
        timezone=p.tenant_timezone,
        field=field,
        default=default,
    )


@strawberry.input
class RecognitionFeedFilter:
    person_id: strawberry.ID | None = strawberry.field(
        default=None, description="Given or received by this person."
    )
    received_by: strawberry.ID | None = None
    given_by: strawberry.ID | None = None
    department_id: strawberry.ID | None = strawberry.field(
        default=None, description="A receiver is in this department."
    )
    team_of: strawberry.ID | None = strawberry.field(
        default=None, description="A receiver reports directly to this manager."
    )
    value_id: strawberry.ID | None = strawberry.field(
        default=None, description="Recognizes this company value."
    )
    period: RecognitionPeriodInput | None = None
    kinds: list[KudosKind] | None = None
    include_hidden: bool = strawberry.field(default=False, description="HR only.")


def _feed_filter(ctx: Any, f: RecognitionFeedFilter | None) -> core.FeedFilter:
    if f is None:
        return core.FeedFilter()
    since, until = period_bounds(ctx, f.period, field="filter.period")
    return core.FeedFilter(
        person_id=optional_global_id(f.person_id, "Employee", field="filter.personId"),
        received_by=optional_global_id(f.received_by, "Employee", field="filter.receivedBy"),
        given_by=optional_global_id(f.given_by, "Employee", field="filter.givenBy"),
        department_id=optional_global_id(
            f.department_id, "Department", field="filter.departmentId"
        ),
        team_of=optional_global_id(f.team_of, "Employee", field="filter.teamOf"),
        value_id=optional_global_id(f.value_id, "CompanyValue", field="filter.valueId"),
        since=since,
        until=until,
        kinds=tuple(k.value for k in f.kinds) if f.kinds else None,
        include_hidden=f.include_hidden,
    )


# --- settings ----------------------------------------------------------------------------------


@strawberry.type(description="An override of the monthly allowance and award budget.")
class PointsAllowanceOverride:
    job_level: str | None = strawberry.field(description="Everyone with this job level...")
    employee: EmployeeRef | None = strawberry.field(description="...or this person (wins).")
    monthly_allowance: int | None = strawberry.field(description="null: not overridden.")
    award_budget: int | None = strawberry.field(description="null: not overridden.")


def allowance_obj(ctx: Any, row: Any) -> PointsAllowanceOverride:
    eid = row["employee_id"]
    return PointsAllowanceOverride(
        job_level=row["job_level"],
        employee=Lazy(lambda: _employee(ctx, eid)),  # type: ignore[arg-type]
        monthly_allowance=row["monthly_allowance"],
        award_budget=row["award_budget"],
    )


@strawberry.type(description="The tenant's points rules.")
class RecognitionSettings:
    monthly_allowance: int = strawberry.field(
        description="Points each person may give a month (renewed on the 1st, tenant time)."
    )
    manager_award_budget: int = strawberry.field(
        description="Extra points a month for managers' awards (people with direct reports)."
    )
    max_points_per_kudos: int = strawberry.field(description="Per receiver.")
    nudge_after_days: int = strawberry.field(
        description="Managers are nudged about reports not recognized for this many days."
    )

    @strawberry.field(description="Overrides by job level and by person (HR only).")
    async def allowances(self, info: Info) -> list[PointsAllowanceOverride]:
        ctx = info.context
        ctx.require_principal().require_hr("reading points allowances")
        async with ctx.session() as s:
            rows = await service.list_allowances(s)
        return [allowance_obj(ctx, r) for r in rows]


def settings_obj(rules: ledger.Rules) -> RecognitionSettings:
    return RecognitionSettings(
        monthly_allowance=rules.monthly_allowance,
        manager_award_budget=rules.manager_award_budget,
        max_points_per_kudos=rules.max_points_per_kudos,
        nudge_after_days=rules.nudge_after_days,
    )


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateRecognitionSettingsInput:
    monthly_allowance: int | None = None
    manager_award_budget: int | None = None
    max_points_per_kudos: int | None = None
    nudge_after_days: int | None = None


@strawberry.input(
    description="Give exactly one of jobLevel and employeeId; both amounts null removes it."
)
class SetPointsAllowanceInput:
    job_level: str | None = None
    employee_id: strawberry.ID | None = None
    monthly_allowance: int | None = None
    award_budget: int | None = None


# --- root fields -------------------------------------------------------------------------------


@strawberry.type
class RecognitionQuery:
    @strawberry.field(description="The company's values (retired ones too, for HR who ask).")
    async def company_values(self, info: Info, include_retired: bool = False) -> list[CompanyValue]:
        ctx = info.context
        p = ctx.require_principal()
        async with ctx.session() as s:
            rows = await service.list_values(s, p, include_retired=include_retired)
        return [value_obj(r) for r in rows]

    @strawberry.field(description="A kudos you may read; NOT_FOUND otherwise.")
    async def kudos(self, info: Info, id: strawberry.ID) -> Kudos:
        from upward.errors import NotFound

        kid = expect_global_id(id, "Kudos", field="id")
        row = await kudos_by_id_loader(info.context).load(kid)
        if row is None:
            raise NotFound("no kudos with this id", field="id")
        return kudos_obj(info.context, row)

    @strawberry.field(
        description="Recognition in the company that you may read, newest first: public "
        "kudos, and private ones you gave, received, or that your reports received. Hidden "
        "kudos only for HR with includeHidden."
    )
    async def recognition_feed(
        self,
        info: Info,
        filter: RecognitionFeedFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Kudos]:
        ctx = info.context
        f = _feed_filter(ctx, filter)
        args = page_args(ctx, core.FEED_ORDER, first=first, after=after, last=last, before=before)
        viewer = await viewer_of(ctx)
        receivers = "receivers" in Selection(info).names(("edges", "node"))
        async with ctx.session() as s:
            page = await core.feed(s, viewer, filter=f, page=args)
            ids = [r["id"] for r in page.rows]
            if receivers and ids:
                # with the page, so the givers and the receivers load as one batch of people
                found = await core.receivers_of(s, ids)
                loader = receivers_by_kudos_loader(ctx)
                for kid in ids:
                    loader.prime(kid, found[kid])
        return build_connection(
            ctx,
            page,
            core.FEED_ORDER,
            lambda r: kudos_obj(ctx, r),
            sort_key=lambda r: (r["created_at"], r["id"]),
        )

    @strawberry.field(description="The tenant's points rules.")
    async def recognition_settings(self, info: Info) -> RecognitionSettings:
        ctx = info.context
        ctx.require_principal()
        async with ctx.session() as s:
            return settings_obj(await ledger.rules_of(s))


@strawberry.type
class RecognitionMutation:
    @strawberry.mutation(description="Add a company value (hr_admin or tenant_admin).")
    async def create_company_value(
        self, info: Info, input: CreateCompanyValueInput
    ) -> CompanyValue:
        async with info.context.mutation() as (s, p):
            row = await service.create_value(
                s,
                p,
                name=input.name,
                description=input.description,
                emoji=input.emoji,
                position=input.position,
            )
        return value_obj(row._mapping)

    @strawberry.mutation(
        description="Rename, describe, reorder, retire or restore a company value (HR)."
    )
    async def update_company_value(
        self, info: Info, id: strawberry.ID, input: UpdateCompanyValueInput
    ) -> CompanyValue:
        vid = expect_global_id(id, "CompanyValue", field="id")
        async with info.context.mutation() as (s, p):
            row = await service.update_value(
                s,
                p,
                value_id=vid,
                name=input.name,
                description=input.description,
                emoji=input.emoji,
                position=input.position,
                active=input.active,
            )
        return value_obj(row._mapping)

    @strawberry.mutation(
        description="Thank one or more colleagues for living the company's values, "
        "optionally with points. Receivers and their managers are told. BAD_USER_INPUT on "
        "input.points when the points are more than what is left of your allowance this month."
    )
    async def give_kudos(self, info: Info, input: GiveKudosInput) -> Kudos:
        ctx = info.context
        receivers = _ids(input.receiver_ids, "Employee", "input.receiverIds")
        values = _ids(input.value_ids, "CompanyValue", "input.valueIds")
        async with ctx.mutation() as (s, p):
            row = await core.give_kudos(
                s,
                p,
                receiver_ids=receivers,
                message=input.message,
                value_ids=values,
                points=input.points,
                visibility=input.visibility.value,
                award=input.award,
            )
        return kudos_obj(ctx, row)

    @strawberry.mutation(
        description="Hide a kudos from every feed, profile and count, with a reason (HR). "
        "Its points stay where they went."
    )
    async def hide_kudos(self, info: Info, input: HideKudosInput) -> Kudos:
        ctx = info.context
        kid = expect_global_id(input.kudos_id, "Kudos", field="input.kudosId")
        viewer = await viewer_of(ctx)
        async with ctx.mutation() as (s, p):
            row = await core.hide_kudos(s, p, viewer, kudos_id=kid, reason=input.reason)
        return kudos_obj(ctx, row)

    @strawberry.mutation(description="Show a hidden kudos again (HR).")
    async def unhide_kudos(self, info: Info, kudos_id: strawberry.ID) -> Kudos:
        ctx = info.context
        kid = expect_global_id(kudos_id, "Kudos", field="kudosId")
        viewer = await viewer_of(ctx)
        async with ctx.mutation() as (s, p):
            row = await core.unhide_kudos(s, p, viewer, kudos_id=kid)
        return kudos_obj(ctx, row)

    @strawberry.mutation(description="React to a kudos you can read (again: no change).")
    async def react_to_kudos(self, info: Info, input: KudosReactionInput) -> Kudos:
        return await _react(info, input, on=True)

    @strawberry.mutation(description="Take back your reaction (none: no change).")
    async def remove_kudos_reaction(self, info: Info, input: KudosReactionInput) -> Kudos:
        return await _react(info, input, on=False)

    @strawberry.mutation(description="Comment on a kudos you can read; its people are told.")
    async def comment_on_kudos(self, info: Info, input: CommentOnKudosInput) -> KudosComment:
        ctx = info.context
        kid = expect_global_id(input.kudos_id, "Kudos", field="input.kudosId")
        viewer = await viewer_of(ctx)
        async with ctx.mutation() as (s, p):
            row = await core.comment(s, p, viewer, kudos_id=kid, body=input.body)
        return comment_obj(ctx, row)

    @strawberry.mutation(description="Remove a comment (its author, or HR).")
    async def delete_kudos_comment(self, info: Info, comment_id: strawberry.ID) -> bool:
        ctx = info.context
        cid = expect_global_id(comment_id, "KudosComment", field="commentId")
        viewer = await viewer_of(ctx)
        async with ctx.mutation() as (s, p):
            await core.delete_comment(s, p, viewer, comment_id=cid)
        return True

    @strawberry.mutation(description="Change the tenant's points rules (HR).")
    async def update_recognition_settings(
        self, info: Info, input: UpdateRecognitionSettingsInput
    ) -> RecognitionSettings:
        async with info.context.mutation() as (s, p):
            rules = await service.set_rules(
                s,
                p,
                monthly_allowance=input.monthly_allowance,
                manager_award_budget=input.manager_award_budget,
                max_points_per_kudos=input.max_points_per_kudos,
                nudge_after_days=input.nudge_after_days,
            )
        return settings_obj(rules)

    @strawberry.mutation(
        description="Override the monthly allowance and award budget of a job level or a "
        "person (HR); null when the override was removed."
    )
    async def set_points_allowance(
        self, info: Info, input: SetPointsAllowanceInput
    ) -> PointsAllowanceOverride | None:
        ctx = info.context
        eid = optional_global_id(input.employee_id, "Employee", field="input.employeeId")
        async with ctx.mutation() as (s, p):
            row = await service.set_allowance(
                s,
                p,
                job_level=input.job_level,
                employee_id=eid,
                monthly_allowance=input.monthly_allowance,
                award_budget=input.award_budget,
            )
        return allowance_obj(ctx, row._mapping) if row is not None else None


async def _react(info: Info, input: KudosReactionInput, *, on: bool) -> Kudos:
    ctx = info.context
    kid = expect_global_id(input.kudos_id, "Kudos", field="input.kudosId")
    viewer = await viewer_of(ctx)
    async with ctx.mutation() as (s, p):
        row = await core.react(s, p, viewer, kudos_id=kid, reaction=input.reaction.value, on=on)
    return kudos_obj(ctx, row)
