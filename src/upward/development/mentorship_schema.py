"""GraphQL for mentorship (mentor profiles, requests, suggestions) and the learning resources
catalog: thin resolvers over development.mentorship and development.learning. Per-request
DataLoaders for them live here too."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from upward.development import learning, mentorship
from upward.development import readiness as core
from upward.development.loaders import skill_by_id_loader
from upward.development.plans_schema import PlanGoal, goal_ref
from upward.development.schema import PAGE_DOC, Skill, skill_obj
from upward.errors import BadUserInput
from upward.graphql.lazy import Lazy
from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    optional_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection

if TYPE_CHECKING:
    from upward.credentials.schema import CredentialType
    from upward.people.schema import Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
CredentialTypeRef = Annotated["CredentialType", strawberry.lazy("upward.credentials.schema")]


# --- loaders (per request) ---------------------------------------------------------------------


def resource_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await learning.resources_by_ids(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("LearningResourceByIdLoader", lambda: DataLoader(load_fn=load))


def resource_skills_loader(ctx: Any) -> DataLoader[uuid.UUID, list[uuid.UUID]]:
    async def load(ids: list[uuid.UUID]) -> list[list[uuid.UUID]]:
        async with ctx.session() as s:
            found = await learning.skills_of_resources(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo("LearningResourceSkillsByResourceLoader", lambda: DataLoader(load_fn=load))


def profile_by_employee_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        async with ctx.session() as s:
            found = await mentorship.profiles_of(s, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("MentorProfileByEmployeeLoader", lambda: DataLoader(load_fn=load))


def mentor_skills_loader(ctx: Any) -> DataLoader[uuid.UUID, list[uuid.UUID]]:
    async def load(ids: list[uuid.UUID]) -> list[list[uuid.UUID]]:
        async with ctx.session() as s:
            found = await mentorship.skills_of_mentors(s, ids)
        return [found.get(i, []) for i in ids]

    return ctx.memo("MentorSkillsByEmployeeLoader", lambda: DataLoader(load_fn=load))


def mentorship_by_id_loader(ctx: Any) -> DataLoader[uuid.UUID, Any]:
    async def load(ids: list[uuid.UUID]) -> list[Any]:
        p = ctx.require_principal()
        async with ctx.session() as s:
            found = await mentorship.mentorships_by_ids(s, p, ids)
        return [found.get(i) for i in ids]

    return ctx.memo("MentorshipByIdLoader", lambda: DataLoader(load_fn=load))


async def _skills(ctx: Any, ids: list[uuid.UUID]) -> list[Skill]:
    rows = await skill_by_id_loader(ctx).load_many(ids)
    return [skill_obj(ctx, r) for r in rows if r is not None]


async def _employee(ctx: Any, employee_id: uuid.UUID | None) -> Any:
    from upward.people.schema import employee_ref

    return await employee_ref(ctx, employee_id)


def _ids(values: list[strawberry.ID] | None, type_name: str, field: str) -> list[uuid.UUID]:
    return [
        expect_global_id(v, type_name, field=f"{field}.{i}") for i, v in enumerate(values or [])
    ]


# --- learning resources ------------------------------------------------------------------------


@strawberry.enum
class LearningResourceKind(enum.Enum):
    COURSE = "course"
    CERTIFICATION = "certification"
    STRETCH_ASSIGNMENT = "stretch_assignment"
    READING = "reading"
    OTHER = "other"


@strawberry.enum
class LearningResourceStatus(enum.Enum):
    ACTIVE = "active"
    RETIRED = "retired"


@strawberry.type(
    description="A course, certification, reading... of the tenant's catalog, tagged with the "
    "skills it builds (what readiness suggests for a missing skill)."
)
class LearningResource(Node):
    id: strawberry.ID
    title: str
    kind: LearningResourceKind
    url: str | None
    provider: str | None
    description: str | None
    duration_hours: int | None
    status: LearningResourceStatus
    credential_type: CredentialTypeRef | None = strawberry.field(
        description="For a certification: the credential type it leads to."
    )
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field(description="The skills it builds, by name.")
    async def skills(self, info: Info) -> list[Skill]:
        ids = await resource_skills_loader(info.context).load(self._row.id)
        return await _skills(info.context, ids)


def resource_obj(ctx: Any, row: Any) -> LearningResource:
    from upward.credentials.schema import _load_type

    tid = row.credential_type_id
    return LearningResource(
        id=to_global_id("LearningResource", row.id),
        title=row.title,
        kind=LearningResourceKind(row.kind),
        url=row.url,
        provider=row.provider,
        description=row.description,
        duration_hours=row.duration_hours,
        status=LearningResourceStatus(row.status),
        credential_type=Lazy(lambda: _load_type(ctx, tid)) if tid else None,  # type: ignore[arg-type]
        created_at=row.created_at,
        updated_at=row.updated_at,
        _row=row,
    )


async def _load_resource(ctx: Any, resource_id: uuid.UUID) -> LearningResource | None:
    row = await resource_by_id_loader(ctx).load(resource_id)
    return resource_obj(ctx, row) if row is not None else None


@register_node("LearningResource")
async def _resource_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await resource_by_id_loader(ctx).load_many(ids)
    return {r.id: resource_obj(ctx, r) for r in rows if r is not None}


@strawberry.input
class LearningResourceFilter:
    skill_id: strawberry.ID | None = strawberry.field(default=None, description="Tagged with it.")
    kind: LearningResourceKind | None = None
    search: str | None = strawberry.field(default=None, description="In titles and providers.")
    include_retired: bool = False


@strawberry.input
class CreateLearningResourceInput:
    title: str
    kind: LearningResourceKind
    skill_ids: list[strawberry.ID] | None = None
    url: str | None = None
    provider: str | None = None
    description: str | None = None
    duration_hours: int | None = None
    credential_type_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only for a CERTIFICATION: the credential type it leads to."
    )


@strawberry.input(description="Fields to change; omitted fields stay as they are, null clears.")
class UpdateLearningResourceInput:
    title: str | None = strawberry.UNSET
    kind: LearningResourceKind | None = strawberry.UNSET
    skill_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the tags."
    )
    url: str | None = strawberry.UNSET
    provider: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    duration_hours: int | None = strawberry.UNSET
    credential_type_id: strawberry.ID | None = strawberry.UNSET
    status: LearningResourceStatus | None = strawberry.field(
        default=strawberry.UNSET, description="RETIRED hides it from lists and suggestions."
    )


# --- mentor profiles ---------------------------------------------------------------------------


@strawberry.type(description="A person who opted in to mentor: the skills they teach, capacity.")
class MentorProfile:
    employee: EmployeeRef | None
    capacity: int = strawberry.field(description="How many active mentees at once (0: none).")
    bio: str | None
    active: bool
    active_mentees: int
    open_slots: int = strawberry.field(description="capacity - activeMentees, at least 0.")
    updated_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field(description="The skills they mentor, by name.")
    async def skills(self, info: Info) -> list[Skill]:
        ids = await mentor_skills_loader(info.context).load(self._row.employee_id)
        return await _skills(info.context, ids)


def profile_obj(ctx: Any, row: Any) -> MentorProfile:
    eid = row.employee_id
    return MentorProfile(
        employee=Lazy(lambda: _employee(ctx, eid)),  # type: ignore[arg-type]
        capacity=row.capacity,
        bio=row.bio,
        active=row.active,
        active_mentees=row.active_mentees,
        open_slots=max(0, row.capacity - row.active_mentees),
        updated_at=row.updated_at,
        _row=row,
    )


async def mentor_profile_of(ctx: Any, employee_id: uuid.UUID) -> MentorProfile | None:
    """Employee.mentorProfile: one batch for the page; inactive ones only for the person and
    HR."""
    from upward.people.loaders import viewer_of

    row = await profile_by_employee_loader(ctx).load(employee_id)
    if row is None or not mentorship.sees_profile(await viewer_of(ctx), row):
        return None
    return profile_obj(ctx, row)


async def _load_profile(ctx: Any, employee_id: uuid.UUID) -> MentorProfile | None:
    row = await profile_by_employee_loader(ctx).load(employee_id)
    return profile_obj(ctx, row) if row is not None else None


@strawberry.input
class MentorFilter:
    skill_id: strawberry.ID | None = strawberry.field(default=None, description="Who mentor it.")
    has_capacity: bool = strawberry.field(default=False, description="Only with an open slot.")
    search: str | None = strawberry.field(default=None, description="In mentors' names.")


@strawberry.input
class SetMentorProfileInput:
    capacity: int
    skill_ids: list[strawberry.ID]
    bio: str | None = None
    active: bool = strawberry.field(default=True, description="false: paused, keeps the profile.")
    employee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: you. Someone else's: HR only."
    )


# --- mentorships -------------------------------------------------------------------------------


@strawberry.enum
class MentorshipStatus(enum.Enum):
    REQUESTED = "requested"
    ACTIVE = "active"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    ENDED = "ended"


@strawberry.enum
class MentorshipRole(enum.Enum):
    MENTOR = "mentor"
    MENTEE = "mentee"


@strawberry.type(
    description="A mentorship: requested, then active (accepted) or declined; cancelled by "
    "the mentee before an answer; ended by either. Read by its two parties and HR."
)
class Mentorship(Node):
    id: strawberry.ID
    mentor: EmployeeRef | None
    mentee: EmployeeRef | None
    status: MentorshipStatus
    goal_id: strawberry.ID | None = strawberry.field(
        description="The mentee's development plan goal it works toward (a PlanGoal id)."
    )
    message: str | None = strawberry.field(description="The mentee's request.")
    response: str | None = strawberry.field(description="The mentor's answer.")
    requested_at: datetime
    responded_at: datetime | None
    ended_at: datetime | None
    _row: strawberry.Private[Any]

    @strawberry.field(description="The skills asked for.")
    async def skills(self, info: Info) -> list[Skill]:
        return await _skills(info.context, list(self._row.skill_ids or []))

    @strawberry.field(
        description="That goal, when you may read its plan (the mentor usually may not)."
    )
    async def goal(self, info: Info) -> PlanGoal | None:
        return await goal_ref(info.context, self._row.goal_id)


def mentorship_obj(ctx: Any, row: Any) -> Mentorship:
    mentor, mentee = row.mentor_id, row.mentee_id
    return Mentorship(
        id=to_global_id("Mentorship", row.id),
        mentor=Lazy(lambda: _employee(ctx, mentor)),  # type: ignore[arg-type]
        mentee=Lazy(lambda: _employee(ctx, mentee)),  # type: ignore[arg-type]
        status=MentorshipStatus(row.status),
        goal_id=to_global_id("PlanGoal", row.goal_id) if row.goal_id else None,
        message=row.message,
        response=row.response,
        requested_at=row.requested_at,
        responded_at=row.responded_at,
        ended_at=row.ended_at,
        _row=row,
    )


@register_node("Mentorship")
async def _mentorship_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await mentorship_by_id_loader(ctx).load_many(ids)
    return {r.id: mentorship_obj(ctx, r) for r in rows if r is not None}


@strawberry.input
class MentorshipFilter:
    employee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Whose (default: yours; someone else's: HR only)."
    )
    role: MentorshipRole | None = strawberry.field(
        default=None, description="As mentor or as mentee (default: both)."
    )
    statuses: list[MentorshipStatus] | None = None


@strawberry.input
class RequestMentorshipInput:
    mentor_id: strawberry.ID
    skill_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Skills the mentor teaches."
    )
    goal_id: strawberry.ID | None = strawberry.field(
        default=None, description="A goal of your development plan (a PlanGoal id)."
    )
    message: str | None = None


# --- suggestions -------------------------------------------------------------------------------


@strawberry.type(description="A mentor who covers some of a person's skill gaps.")
class MentorSuggestion:
    mentor: MentorProfile
    covered_skills: list[Skill] = strawberry.field(
        description="The gap skills they mentor, largest gap first."
    )
    score: float = strawberry.field(description="0-100: the share of the gap they cover.")


@strawberry.type(description="A learning resource for some of a person's gaps.")
class ResourceSuggestion:
    resource: LearningResource
    covered_skills: list[Skill] = strawberry.field(
        description="The gap skills it is tagged with, largest gap first."
    )
    credential_type: CredentialTypeRef | None = strawberry.field(
        description="The missing credential this certification leads to."
    )
    score: float = strawberry.field(
        description="0-100: the share of the gap (skills by gap, credentials 1 each) it covers."
    )


@strawberry.type(description="Suggested next steps for what is not met yet.")
class ReadinessSuggestions:
    resources: list[ResourceSuggestion]
    mentors: list[MentorSuggestion]


def mentor_suggestion_obj(ctx: Any, m: core.MentorMatch) -> MentorSuggestion:
    eid, covered = m.employee_id, list(m.covered)
    return MentorSuggestion(
        mentor=Lazy(lambda: _load_profile(ctx, eid)),  # type: ignore[arg-type]
        covered_skills=Lazy(lambda: _skills(ctx, covered)),  # type: ignore[arg-type]
        score=m.score,
    )


def suggestions_obj(ctx: Any, s: core.Suggestions | None) -> ReadinessSuggestions | None:
    """Readiness.suggestions (null when not computed)."""
    from upward.credentials.schema import _load_type

    if s is None:
        return None
    resources = []
    for r in s.resources:
        rid, covered, tid = r.resource_id, list(r.covered), r.credential_type_id
        resources.append(
            ResourceSuggestion(
                resource=Lazy(lambda rid=rid: _load_resource(ctx, rid)),  # type: ignore[arg-type,misc]
                covered_skills=Lazy(lambda c=covered: _skills(ctx, c)),  # type: ignore[arg-type,misc]
                credential_type=Lazy(lambda t=tid: _load_type(ctx, t)) if tid else None,  # type: ignore[arg-type,misc]
                score=r.score,
            )
        )
    return ReadinessSuggestions(
        resources=resources, mentors=[mentor_suggestion_obj(ctx, m) for m in s.mentors]
    )


# --- queries and mutations ---------------------------------------------------------------------


@strawberry.type
class MentorshipQuery:
    @strawberry.field(description="Active mentors (active people), by name. " + PAGE_DOC)
    async def mentors(
        self,
        info: Info,
        filter: MentorFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[MentorProfile]:
        ctx = info.context
        ctx.require_principal()
        f = filter or MentorFilter()
        mf = mentorship.MentorFilter(
            skill_id=optional_global_id(f.skill_id, "Skill", field="filter.skillId"),
            has_capacity=f.has_capacity,
            search=f.search,
        )
        order = mentorship.MENTOR_ORDER
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        async with ctx.session() as s:
            page = await mentorship.list_mentors(
                s, filter=mf, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, order, lambda r: profile_obj(ctx, r))

    @strawberry.field(
        description="Your mentorships (HR: anyone's, with `filter.employeeId`), newest request "
        "first. " + PAGE_DOC
    )
    async def mentorships(
        self,
        info: Info,
        filter: MentorshipFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Mentorship]:
        ctx = info.context
        p = ctx.require_principal()
        f = filter or MentorshipFilter()
        mf = mentorship.MentorshipFilter(
            employee_id=optional_global_id(f.employee_id, "Employee", field="filter.employeeId"),
            role=f.role.value if f.role else None,
            statuses=tuple(s.value for s in f.statuses) if f.statuses else None,
        )
        order = mentorship.MENTORSHIP_ORDER
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        async with ctx.session() as s:
            page = await mentorship.list_mentorships(
                s, p, filter=mf, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, order, lambda r: mentorship_obj(ctx, r))

    @strawberry.field(
        description="Mentors for a person, ranked by how much of their skill gap they cover: "
        "for a career level (its missing and partial skills, weighted by the gap) or for "
        "skills (each counts 1). Never the person, inactive or full mentors. The person, their "
        "line and HR may ask."
    )
    async def mentor_suggestions(
        self,
        info: Info,
        employee_id: strawberry.ID,
        level_id: strawberry.ID | None = None,
        skill_ids: list[strawberry.ID] | None = None,
        first: int = 5,
    ) -> list[MentorSuggestion]:
        from upward.people.loaders import viewer_of

        ctx = info.context
        p = ctx.require_principal()
        eid = expect_global_id(employee_id, "Employee", field="employeeId")
        lid = optional_global_id(level_id, "TrackLevel", field="levelId")
        sids = _ids(skill_ids, "Skill", "skillIds") if skill_ids is not None else None
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            matches, _ = await mentorship.mentor_suggestions(
                s, p, viewer, employee_id=eid, level_id=lid, skill_ids=sids, limit=first
            )
        return [mentor_suggestion_obj(ctx, m) for m in matches]

    @strawberry.field(
        description="The learning resources catalog, by title (active ones unless asked). "
        + PAGE_DOC
    )
    async def learning_resources(
        self,
        info: Info,
        filter: LearningResourceFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[LearningResource]:
        ctx = info.context
        ctx.require_principal()
        f = filter or LearningResourceFilter()
        rf = learning.ResourceFilter(
            skill_id=optional_global_id(f.skill_id, "Skill", field="filter.skillId"),
            kind=f.kind.value if f.kind else None,
            search=f.search,
            include_retired=f.include_retired,
        )
        order = learning.RESOURCE_ORDER
        args = page_args(ctx, order, first=first, after=after, last=last, before=before)
        async with ctx.session() as s:
            page = await learning.list_resources(
                s, filter=rf, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, order, lambda r: resource_obj(ctx, r))


@strawberry.type
class MentorshipMutation:
    @strawberry.mutation(
        description="Opt in as a mentor, or change your profile: capacity (0-50 active "
        "mentees), the skills you mentor (replaced), a bio, active (false pauses). HR may set "
        "anyone's."
    )
    async def set_mentor_profile(self, info: Info, input: SetMentorProfileInput) -> MentorProfile:
        ctx = info.context
        eid = optional_global_id(input.employee_id, "Employee", field="input.employeeId")
        skills = _ids(input.skill_ids, "Skill", "input.skillIds")
        async with ctx.mutation() as (s, p):
            row = await mentorship.set_profile(
                s,
                p,
                employee_id=eid,
                capacity=input.capacity,
                skill_ids=skills,
                bio=input.bio,
                active=input.active,
            )
        return profile_obj(ctx, row)

    @strawberry.mutation(
        description="Opt out as a mentor (yours; HR: anyone's). Active mentorships stay until "
        "ended. False when there was no profile."
    )
    async def remove_mentor_profile(
        self, info: Info, employee_id: strawberry.ID | None = None
    ) -> bool:
        eid = optional_global_id(employee_id, "Employee", field="employeeId")
        async with info.context.mutation() as (s, p):
            return await mentorship.remove_profile(s, p, employee_id=eid)

    @strawberry.mutation(
        description="Ask someone with an active mentor profile and an open slot to mentor you, "
        "in skills they mentor, optionally toward a goal of your plan. One open request or "
        "active mentorship per pair (CONFLICT)."
    )
    async def request_mentorship(self, info: Info, input: RequestMentorshipInput) -> Mentorship:
        ctx = info.context
        mentor = expect_global_id(input.mentor_id, "Employee", field="input.mentorId")
        skills = _ids(input.skill_ids, "Skill", "input.skillIds")
        goal = optional_global_id(input.goal_id, "PlanGoal", field="input.goalId")
        async with ctx.mutation() as (s, p):
            row = await mentorship.request_mentorship(
                s, p, mentor_id=mentor, skill_ids=skills, goal_id=goal, message=input.message
            )
        return mentorship_obj(ctx, row)

    @strawberry.mutation(
        description="Accept a pending request (the mentor): CONFLICT when your active mentees "
        "already fill your capacity, also when two accepts race."
    )
    async def accept_mentorship(
        self, info: Info, id: strawberry.ID, response: str | None = None
    ) -> Mentorship:
        return await _respond(info, id, accept=True, response=response)

    @strawberry.mutation(description="Decline a pending request (the mentor).")
    async def decline_mentorship(
        self, info: Info, id: strawberry.ID, response: str | None = None
    ) -> Mentorship:
        return await _respond(info, id, accept=False, response=response)

    @strawberry.mutation(description="Withdraw your pending request (the mentee).")
    async def cancel_mentorship(self, info: Info, id: strawberry.ID) -> Mentorship:
        ctx = info.context
        mid = expect_global_id(id, "Mentorship", field="id")
        async with ctx.mutation() as (s, p):
            row = await mentorship.cancel(s, p, mentorship_id=mid)
        return mentorship_obj(ctx, row)

    @strawberry.mutation(description="End an active mentorship (the mentor or the mentee).")
    async def end_mentorship(self, info: Info, id: strawberry.ID) -> Mentorship:
        ctx = info.context
        mid = expect_global_id(id, "Mentorship", field="id")
        async with ctx.mutation() as (s, p):
            row = await mentorship.end(s, p, mentorship_id=mid)
        return mentorship_obj(ctx, row)

    @strawberry.mutation(
        description="Add a learning resource to the catalog (hr_admin or tenant_admin)."
    )
    async def create_learning_resource(
        self, info: Info, input: CreateLearningResourceInput
    ) -> LearningResource:
        ctx = info.context
        skills = _ids(input.skill_ids, "Skill", "input.skillIds")
        ctype = optional_global_id(
            input.credential_type_id, "CredentialType", field="input.credentialTypeId"
        )
        async with ctx.mutation() as (s, p):
            row = await learning.create_resource(
                s,
                p,
                title=input.title,
                kind=input.kind.value,
                skill_ids=skills,
                url=input.url,
                provider=input.provider,
                description=input.description,
                duration_hours=input.duration_hours,
                credential_type_id=ctype,
            )
        return resource_obj(ctx, row)

    @strawberry.mutation(
        description="Change, retire (status RETIRED) or reactivate a learning resource "
        "(hr_admin or tenant_admin)."
    )
    async def update_learning_resource(
        self, info: Info, id: strawberry.ID, input: UpdateLearningResourceInput
    ) -> LearningResource:
        ctx = info.context
        rid = expect_global_id(id, "LearningResource", field="id")
        patch: dict[str, Any] = {}
        for name in ("title", "url", "provider", "description", "duration_hours"):
            value = getattr(input, name)
            if value is not strawberry.UNSET:
                patch[name] = value
        if input.kind is not strawberry.UNSET:
            patch["kind"] = input.kind.value if input.kind else None
        if input.status is not strawberry.UNSET:
            if input.status is None:
                raise BadUserInput("must not be null", field="input.status")
            patch["status"] = input.status.value
        if input.skill_ids is not strawberry.UNSET:
            patch["skill_ids"] = _ids(input.skill_ids, "Skill", "input.skillIds")
        if input.credential_type_id is not strawberry.UNSET:
            patch["credential_type_id"] = optional_global_id(
                input.credential_type_id, "CredentialType", field="input.credentialTypeId"
            )
        async with ctx.mutation() as (s, p):
            row = await learning.update_resource(s, p, rid, patch)
        return resource_obj(ctx, row)

    @strawberry.mutation(
        description="Retire a learning resource: hidden from lists and suggestions, still "
        "readable by id (hr_admin or tenant_admin)."
    )
    async def retire_learning_resource(self, info: Info, id: strawberry.ID) -> LearningResource:
        ctx = info.context
        rid = expect_global_id(id, "LearningResource", field="id")
        async with ctx.mutation() as (s, p):
            row = await learning.update_resource(s, p, rid, {"status": "retired"})
        return resource_obj(ctx, row)


async def _respond(info: Info, id: strawberry.ID, *, accept: bool, response: str | None) -> Any:
    ctx = info.context
    mid = expect_global_id(id, "Mentorship", field="id")
    async with ctx.mutation() as (s, p):
        row = await mentorship.respond(s, p, mentorship_id=mid, accept=accept, response=response)
    return mentorship_obj(ctx, row)
