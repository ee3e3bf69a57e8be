"""GraphQL for job postings, career preferences and mobility settings: thin resolvers over
mobility.postings and mobility.preferences."""

from __future__ import annotations

import asyncio
import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

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
from upward.mobility import postings, preferences
from upward.mobility.loaders import (
    credentials_by_posting_loader,
    locations_by_posting_loader,
    posting_by_id_loader,
    preferences_by_employee_loader,
    skills_by_posting_loader,
    viewer_facts,
)

if TYPE_CHECKING:
    from upward.credentials.schema import CredentialType
    from upward.development.schema import CareerTrack, Skill, TrackLevel
    from upward.people.schema import Department, Employee, Location

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
DepartmentRef = Annotated["Department", strawberry.lazy("upward.people.schema")]
LocationRef = Annotated["Location", strawberry.lazy("upward.people.schema")]
SkillRef = Annotated["Skill", strawberry.lazy("upward.development.schema")]
LevelRef = Annotated["TrackLevel", strawberry.lazy("upward.development.schema")]
TrackRef = Annotated["CareerTrack", strawberry.lazy("upward.development.schema")]
TypeRef = Annotated["CredentialType", strawberry.lazy("upward.credentials.schema")]


@strawberry.enum(description="ROLE: a position; GIG: a short-term, part-time stretch project.")
class PostingKind(enum.Enum):
    ROLE = "role"
    GIG = "gig"


@strawberry.enum
class WorkMode(enum.Enum):
    ON_SITE = "on_site"
    HYBRID = "hybrid"
    REMOTE = "remote"


@strawberry.enum(description="draft → open → closed (reopen: open again) or filled.")
class PostingStatus(enum.Enum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    FILLED = "filled"


@strawberry.enum(description="A transition of a posting's workflow.")
class PostingAction(enum.Enum):
    OPEN = "open"
    CLOSE = "close"
    FILL = "fill"
    REOPEN = "reopen"


@strawberry.enum(
    description="CONFIDENTIAL: only you, HR and hiring managers of postings you "
    "match or applied to learn it; never your manager or colleagues."
)
class OpenToMoves(enum.Enum):
    NO = "no"
    YES = "yes"
    CONFIDENTIAL = "confidential"


@strawberry.enum(description="The application stage at which the applicant's manager is told.")
class ManagerNoticeStage(enum.Enum):
    APPLIED = "applied"
    SCREENING = "screening"
    INTERVIEWING = "interviewing"
    OFFER = "offer"
    HIRED = "hired"


# --- types -----------------------------------------------------------------------------------


async def _employee(ctx: Any, employee_id: uuid.UUID | None) -> Any:
    from upward.people.schema import employee_ref

    return await employee_ref(ctx, employee_id)


async def _levels(ctx: Any, ids: list[uuid.UUID]) -> list[Any]:
    from upward.development.loaders import level_by_id_loader
    from upward.development.schema import _track_names, level_obj

    rows = await level_by_id_loader(ctx).load_many(ids)
    names = await _track_names(ctx)
    return [level_obj(r, names.get(r.track_id, "")) for r in rows if r is not None]


async def _locations(ctx: Any, ids: list[uuid.UUID]) -> list[Any]:
    from upward.people.loaders import location_by_id_loader
    from upward.people.schema import location_obj

    rows = await location_by_id_loader(ctx).load_many(ids)
    return [location_obj(r) for r in rows if r is not None]


async def _departments(ctx: Any, ids: list[uuid.UUID]) -> list[Any]:
    from upward.people.loaders import department_by_id_loader
    from upward.people.schema import department_obj

    rows = await department_by_id_loader(ctx).load_many(ids)
    return [department_obj(r) for r in rows if r is not None]


@strawberry.type(description="A skill a posting asks for, at a minimum proficiency.")
class PostingSkill:
    skill: SkillRef
    min_proficiency: int
    required: bool = strawberry.field(description="false: preferred (nice to have).")


@strawberry.type(
    description="Who sees the posting: every non-empty list restricts it (a person must be in "
    "one of the departments AND one of the locations AND at one of the levels); all empty: "
    "the whole tenant."
)
class PostingVisibility:
    _row: strawberry.Private[Any]

    @strawberry.field
    async def departments(self, info: Info) -> list[DepartmentRef]:
        return await _departments(info.context, list(self._row.visible_department_ids))

    @strawberry.field
    async def locations(self, info: Info) -> list[LocationRef]:
        return await _locations(info.context, list(self._row.visible_location_ids))

    @strawberry.field
    async def levels(self, info: Info) -> list[LevelRef]:
        return await _levels(info.context, list(self._row.visible_level_ids))


@strawberry.type(description="Whether you may apply, and if not, why.")
class Eligibility:
    eligible: bool
    reasons: list[str]


@strawberry.type(
    description="An opening inside the company: a role, or a gig (a short-term, part-time "
    "stretch project with hoursPerWeek and durationWeeks)."
)
class JobPosting(Node):
    id: strawberry.ID
    kind: PostingKind
    title: str
    description: str | None
    status: PostingStatus
    work_mode: WorkMode
    openings: int
    filled: int = strawberry.field(description="Openings filled by hires so far.")
    openings_left: int
    min_months_in_role: int | None = strawberry.field(
        description="Eligibility: months in one's current level (or since hire) at least."
    )
    opens_on: date | None
    closes_on: date | None
    start_on: date | None = strawberry.field(
        description="Required credentials must be valid on this date."
    )
    hours_per_week: int | None = strawberry.field(description="A gig's time commitment.")
    duration_weeks: int | None = strawberry.field(description="A gig's duration.")
    opened_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field
    async def department(self, info: Info) -> DepartmentRef | None:
        if self._row.department_id is None:
            return None
        got = await _departments(info.context, [self._row.department_id])
        return got[0] if got else None

    @strawberry.field
    async def locations(self, info: Info) -> list[LocationRef]:
        ids = await locations_by_posting_loader(info.context).load(self._row.id)
        return await _locations(info.context, ids)

    @strawberry.field
    async def hiring_manager(self, info: Info) -> EmployeeRef | None:
        return await _employee(info.context, self._row.hiring_manager_id)

    @strawberry.field(description="The track level the posting is for.")
    async def target_level(self, info: Info) -> LevelRef | None:
        if self._row.level_id is None:
            return None
        got = await _levels(info.context, [self._row.level_id])
        return got[0] if got else None

    async def _skills(self, info: Info, required: bool) -> list[PostingSkill]:
        from upward.development.schema import _load_skill

        rows = [
            r
            for r in await skills_by_posting_loader(info.context).load(self._row.id)
            if r["required"] is required
        ]
        skills = await asyncio.gather(*(_load_skill(info.context, r["skill_id"]) for r in rows))
        return [
            PostingSkill(skill=s, min_proficiency=r["min_proficiency"], required=required)
            for r, s in zip(rows, skills, strict=True)
            if s is not None
        ]

    @strawberry.field(description="Skills one must have, at their minimum proficiency.")
    async def required_skills(self, info: Info) -> list[PostingSkill]:
        return await self._skills(info, True)

    @strawberry.field(description="Skills that count in one's favour.")
    async def preferred_skills(self, info: Info) -> list[PostingSkill]:
        return await self._skills(info, False)

    @strawberry.field(description="Credential types one must hold, valid on startOn.")
    async def required_credential_types(self, info: Info) -> list[TypeRef]:
        from upward.credentials.schema import _load_type

        ids = await credentials_by_posting_loader(info.context).load(self._row.id)
        got = await asyncio.gather(*(_load_type(info.context, t) for t in ids))
        return [g for g in got if g is not None]

    @strawberry.field
    def visibility(self) -> PostingVisibility:
        return PostingVisibility(_row=self._row)

    @strawberry.field(
        description="Whether you may apply (open, in its dates, you are in its audience, you "
        "meet its eligibility rules and are not its hiring manager), and why not."
    )
    async def eligibility(self, info: Info) -> Eligibility:
        facts = await viewer_facts(info.context)
        on = postings.today(info.context.require_principal())
        reasons = postings.eligibility(self._row, facts, on)
        return Eligibility(eligible=not reasons, reasons=reasons)

    @strawberry.field(description="Whether you manage it (HR, or its hiring manager).")
    def viewer_can_manage(self, info: Info) -> bool:
        return postings.can_manage(info.context.require_principal(), self._row)

    @strawberry.field(description="The transitions you may make now.")
    def allowed_actions(self, info: Info) -> list[PostingAction]:
        if not postings.can_manage(info.context.require_principal(), self._row):
            return []
        return [
            PostingAction(t.action)
            for t in postings.TRANSITIONS.values()
            if self._row.status in t.sources
        ]


def posting_obj(r: Any) -> JobPosting:
    return JobPosting(
        id=to_global_id("JobPosting", r.id),
        kind=PostingKind(r.kind),
        title=r.title,
        description=r.description,
        status=PostingStatus(r.status),
        work_mode=WorkMode(r.work_mode),
        openings=r.openings,
        filled=r.filled,
        openings_left=r.openings - r.filled,
        min_months_in_role=r.min_months_in_role,
        opens_on=r.opens_on,
        closes_on=r.closes_on,
        start_on=r.start_on,
        hours_per_week=r.hours_per_week,
        duration_weeks=r.duration_weeks,
        opened_at=r.opened_at,
        closed_at=r.closed_at,
        created_at=r.created_at,
        updated_at=r.updated_at,
        _row=r,
    )


async def load_posting(ctx: Any, posting_id: uuid.UUID) -> JobPosting | None:
    """A posting another object links to (a match, an application): null when not readable."""
    row = await posting_by_id_loader(ctx).load(posting_id)
    return posting_obj(row) if row is not None else None


@register_node("JobPosting")
async def _posting_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await posting_by_id_loader(ctx).load_many(ids)
    return {r.id: posting_obj(r) for r in rows if r is not None}


@strawberry.type(description="What a person wants next.")
class CareerPreferences:
    open_to_moves: OpenToMoves
    work_modes: list[WorkMode]
    willing_to_relocate: bool
    open_to_gigs: bool
    gig_hours_per_week: int | None
    open_to_downward: bool = strawberry.field(
        description="Whether a move to a lower level is welcome."
    )
    updated_at: datetime | None = strawberry.field(description="null: never set (the defaults).")
    _prefs: strawberry.Private[Any]

    @strawberry.field(description="Career tracks of interest.")
    async def tracks(self, info: Info) -> list[TrackRef]:
        from upward.development import tracks
        from upward.development.schema import CareerTrack

        ctx = info.context

        async def load() -> dict[uuid.UUID, Any]:
            async with ctx.session() as s:
                return {t.id: t for t in await tracks.list_tracks(s, include_retired=True)}

        rows = await ctx.memo("mobility.track_rows", lambda: asyncio.ensure_future(load()))
        return [
            CareerTrack(
                id=to_global_id("CareerTrack", r.id), name=r.name, description=r.description, _row=r
            )
            for r in (rows.get(i) for i in self._prefs.track_ids)
            if r is not None
        ]

    @strawberry.field(description="Levels of interest.")
    async def levels(self, info: Info) -> list[LevelRef]:
        return await _levels(info.context, list(self._prefs.level_ids))

    @strawberry.field(description="Locations of interest.")
    async def locations(self, info: Info) -> list[LocationRef]:
        return await _locations(info.context, list(self._prefs.location_ids))


def prefs_obj(p: preferences.Preferences) -> CareerPreferences:
    return CareerPreferences(
        open_to_moves=OpenToMoves(p.open_to_moves),
        work_modes=[WorkMode(m) for m in p.work_modes],
        willing_to_relocate=p.willing_to_relocate,
        open_to_gigs=p.open_to_gigs,
        gig_hours_per_week=p.gig_hours_per_week,
        open_to_downward=p.open_to_downward,
        updated_at=p.updated_at,
        _prefs=p,
    )


async def preferences_of(ctx: Any, employee_id: uuid.UUID) -> CareerPreferences | None:
    """Employee.careerPreferences: one statement for every person on the page."""
    got = await preferences_by_employee_loader(ctx).load(employee_id)
    return prefs_obj(got) if got is not None else None


@strawberry.type(description="The tenant's internal mobility rules.")
class MobilitySettings:
    manager_notice_stage: ManagerNoticeStage = strawberry.field(
        description="The application stage at which the applicant's current manager is told "
        "(earlier only if the applicant shares it)."
    )
    max_alerts_per_week: int = strawberry.field(
        description="At most this many match alerts a person gets in 7 days (0: none)."
    )
    alert_top_n: int = strawberry.field(
        description="When a posting opens, its top N matches (who opted in) are alerted."
    )
    alert_min_score: int = strawberry.field(description="Only matches scoring at least this.")
    updated_at: datetime | None = strawberry.field(description="null: the defaults.")


def settings_obj(s: preferences.Settings) -> MobilitySettings:
    return MobilitySettings(
        manager_notice_stage=ManagerNoticeStage(s.manager_notice_stage),
        max_alerts_per_week=s.max_alerts_per_week,
        alert_top_n=s.alert_top_n,
        alert_min_score=s.alert_min_score,
        updated_at=s.updated_at,
    )


# --- inputs ----------------------------------------------------------------------------------


@strawberry.input
class PostingSkillInput:
    skill_id: strawberry.ID
    min_proficiency: int


@strawberry.input(description="Empty lists (the default): no restriction.")
class PostingVisibilityInput:
    department_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    location_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    level_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class CreateJobPostingInput:
    kind: PostingKind
    title: str
    description: str | None = None
    department_id: strawberry.ID | None = None
    location_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    work_mode: WorkMode = WorkMode.ON_SITE
    target_level_id: strawberry.ID | None = None
    hiring_manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: you. Only HR names someone else."
    )
    required_skills: list[PostingSkillInput] = strawberry.field(default_factory=list)
    preferred_skills: list[PostingSkillInput] = strawberry.field(default_factory=list)
    required_credential_type_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    openings: int = 1
    visibility: PostingVisibilityInput | None = None
    min_months_in_role: int | None = None
    opens_on: date | None = None
    closes_on: date | None = None
    start_on: date | None = None
    hours_per_week: int | None = strawberry.field(
        default=None, description="Required for a gig, refused for a role."
    )
    duration_weeks: int | None = strawberry.field(
        default=None, description="Required for a gig, refused for a role."
    )


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateJobPostingInput:
    kind: PostingKind | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    department_id: strawberry.ID | None = strawberry.UNSET
    location_ids: list[strawberry.ID] | None = strawberry.UNSET
    work_mode: WorkMode | None = strawberry.UNSET
    target_level_id: strawberry.ID | None = strawberry.UNSET
    hiring_manager_id: strawberry.ID | None = strawberry.UNSET
    required_skills: list[PostingSkillInput] | None = strawberry.UNSET
    preferred_skills: list[PostingSkillInput] | None = strawberry.UNSET
    required_credential_type_ids: list[strawberry.ID] | None = strawberry.UNSET
    openings: int | None = strawberry.UNSET
    visibility: PostingVisibilityInput | None = strawberry.UNSET
    min_months_in_role: int | None = strawberry.UNSET
    opens_on: date | None = strawberry.UNSET
    closes_on: date | None = strawberry.UNSET
    start_on: date | None = strawberry.UNSET
    hours_per_week: int | None = strawberry.UNSET
    duration_weeks: int | None = strawberry.UNSET


@strawberry.input
class JobPostingFilter:
    status: list[PostingStatus] | None = None
    kind: PostingKind | None = None
    department_id: strawberry.ID | None = None
    mine: bool = strawberry.field(default=False, description="Postings you are hiring manager of.")


@strawberry.input(description="Replaces all your preferences.")
class CareerPreferencesInput:
    open_to_moves: OpenToMoves
    track_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    level_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    location_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    work_modes: list[WorkMode] = strawberry.field(default_factory=list)
    willing_to_relocate: bool = False
    open_to_gigs: bool = False
    gig_hours_per_week: int | None = strawberry.field(
        default=None, description="With openToGigs: how many hours a week (1 to 60)."
    )
    open_to_downward: bool = False


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class MobilitySettingsInput:
    manager_notice_stage: ManagerNoticeStage | None = strawberry.UNSET
    max_alerts_per_week: int | None = strawberry.UNSET
    alert_top_n: int | None = strawberry.UNSET
    alert_min_score: int | None = strawberry.UNSET


def _ids(values: list[strawberry.ID], type_name: str, fld: str) -> list[uuid.UUID]:
    return [expect_global_id(v, type_name, field=f"{fld}.{i}") for i, v in enumerate(values)]


def _skills(values: list[PostingSkillInput], fld: str) -> list[postings.SkillSpec]:
    return [
        postings.SkillSpec(
            expect_global_id(s.skill_id, "Skill", field=f"{fld}.{i}.skillId"), s.min_proficiency
        )
        for i, s in enumerate(values)
    ]


def _visibility(v: PostingVisibilityInput | None) -> dict[str, list[uuid.UUID]]:
    v = v or PostingVisibilityInput()
    return {
        "visible_department_ids": _ids(
            v.department_ids, "Department", "input.visibility.departmentIds"
        ),
        "visible_location_ids": _ids(v.location_ids, "Location", "input.visibility.locationIds"),
        "visible_level_ids": _ids(v.level_ids, "TrackLevel", "input.visibility.levelIds"),
    }


def _update_patch(i: UpdateJobPostingInput) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def given(name: str) -> bool:
        return getattr(i, name) is not strawberry.UNSET

    for name in (
        "title",
        "description",
        "openings",
        "min_months_in_role",
        "opens_on",
        "closes_on",
        "start_on",
        "hours_per_week",
        "duration_weeks",
    ):
        if given(name):
            out[name] = getattr(i, name)
    for name in ("kind", "work_mode"):
        if given(name):
            v = getattr(i, name)
            out[name] = v.value if v is not None else None
    if given("department_id"):
        out["department_id"] = optional_global_id(
            i.department_id, "Department", field="input.departmentId"
        )
    if given("target_level_id"):
        out["level_id"] = optional_global_id(
            i.target_level_id, "TrackLevel", field="input.targetLevelId"
        )
    if given("hiring_manager_id"):
        out["hiring_manager_id"] = optional_global_id(
            i.hiring_manager_id, "Employee", field="input.hiringManagerId"
        )
    if given("location_ids"):
        out["location_ids"] = _ids(i.location_ids or [], "Location", "input.locationIds")
    if given("required_skills"):
        out["required_skills"] = _skills(i.required_skills or [], "input.requiredSkills")
    if given("preferred_skills"):
        out["preferred_skills"] = _skills(i.preferred_skills or [], "input.preferredSkills")
    if given("required_credential_type_ids"):
        out["credential_type_ids"] = _ids(
            i.required_credential_type_ids or [],
            "CredentialType",
            "input.requiredCredentialTypeIds",
        )
    if given("visibility"):
        out.update(_visibility(i.visibility))
    return out


# --- queries and mutations -------------------------------------------------------------------


@strawberry.type
class PostingsQuery:
    @strawberry.field(
        description="Job postings you may see, newest first: HR every posting; a hiring manager "
        "their own in any status; everyone the open postings visible to them. Relay "
        "pagination: `first` (at most 100) with `after`."
    )
    async def job_postings(
        self,
        info: Info,
        filter: JobPostingFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[JobPosting]:
        ctx = info.context
        f = filter or JobPostingFilter()
        args = page_args(
            ctx, postings.POSTING_ORDER, first=first, after=after, last=last, before=before
        )
        sf = postings.PostingFilter(
            statuses=tuple(s.value for s in f.status or ()),
            kinds=(f.kind.value,) if f.kind else (),
            department_id=optional_global_id(
                f.department_id, "Department", field="filter.departmentId"
            ),
            mine=f.mine,
        )
        facts = await viewer_facts(ctx)
        with_count = wants_total(Selection(info))
        async with ctx.session() as s:
            page = await postings.list_postings(
                s, ctx.require_principal(), facts, sf, args, with_count=with_count
            )
        return build_connection(ctx, page, postings.POSTING_ORDER, posting_obj)

    @strawberry.field(description="Your career preferences (the defaults if never set).")
    async def my_career_preferences(self, info: Info) -> CareerPreferences | None:
        p = info.context.require_principal()
        if p.employee_id is None:
            return None
        return await preferences_of(info.context, p.employee_id)

    @strawberry.field(description="The tenant's mobility settings (HR).")
    async def mobility_settings(self, info: Info) -> MobilitySettings:
        ctx = info.context
        async with ctx.session() as s:
            got = await preferences.get_settings(s, ctx.require_principal())
        return settings_obj(got)


@strawberry.type
class PostingsMutation:
    @strawberry.mutation(
        description="Create a draft job posting or gig. HR, or a manager (who becomes its "
        "hiring manager). Open it with transitionJobPosting(action: OPEN)."
    )
    async def create_job_posting(self, info: Info, input: CreateJobPostingInput) -> JobPosting:
        ctx = info.context
        spec = postings.PostingSpec(
            kind=input.kind.value,
            title=input.title,
            description=input.description,
            department_id=optional_global_id(
                input.department_id, "Department", field="input.departmentId"
            ),
            location_ids=_ids(input.location_ids, "Location", "input.locationIds"),
            work_mode=input.work_mode.value,
            level_id=optional_global_id(
                input.target_level_id, "TrackLevel", field="input.targetLevelId"
            ),
            hiring_manager_id=optional_global_id(
                input.hiring_manager_id, "Employee", field="input.hiringManagerId"
            ),
            required_skills=_skills(input.required_skills, "input.requiredSkills"),
            preferred_skills=_skills(input.preferred_skills, "input.preferredSkills"),
            credential_type_ids=_ids(
                input.required_credential_type_ids,
                "CredentialType",
                "input.requiredCredentialTypeIds",
            ),
            openings=input.openings,
            min_months_in_role=input.min_months_in_role,
            opens_on=input.opens_on,
            closes_on=input.closes_on,
            start_on=input.start_on,
            hours_per_week=input.hours_per_week,
            duration_weeks=input.duration_weeks,
            **_visibility(input.visibility),
        )
        async with ctx.mutation() as (s, p):
            row = await postings.create_posting(s, p, spec)
        return posting_obj(row)

    @strawberry.mutation(
        description="Change a draft or open posting (HR, or its hiring manager; only HR hands "
        "it to another hiring manager). Changes to an open posting re-rank its matches."
    )
    async def update_job_posting(
        self, info: Info, id: strawberry.ID, input: UpdateJobPostingInput
    ) -> JobPosting:
        ctx = info.context
        raw = expect_global_id(id, "JobPosting", field="id")
        patch = _update_patch(input)
        async with ctx.mutation() as (s, p):
            row = await postings.update_posting(s, p, raw, patch)
        return posting_obj(row)

    @strawberry.mutation(
        description="Move a posting through its workflow: OPEN (a draft), CLOSE or FILL (an open "
        "one), REOPEN (a closed one). HR, or its hiring manager. A transition not allowed from "
        "the posting's status is a CONFLICT."
    )
    async def transition_job_posting(
        self, info: Info, id: strawberry.ID, action: PostingAction
    ) -> JobPosting:
        ctx = info.context
        raw = expect_global_id(id, "JobPosting", field="id")
        async with ctx.mutation() as (s, p):
            row = await postings.transition(s, p, raw, action.value)
        return posting_obj(row)

    @strawberry.mutation(description="Replace your career preferences.")
    async def set_career_preferences(
        self, info: Info, input: CareerPreferencesInput
    ) -> CareerPreferences:
        ctx = info.context
        async with ctx.mutation() as (s, p):
            got = await preferences.set_preferences(
                s,
                p,
                open_to_moves=input.open_to_moves.value,
                track_ids=_ids(input.track_ids, "CareerTrack", "input.trackIds"),
                level_ids=_ids(input.level_ids, "TrackLevel", "input.levelIds"),
                location_ids=_ids(input.location_ids, "Location", "input.locationIds"),
                work_modes=[m.value for m in input.work_modes],
                willing_to_relocate=input.willing_to_relocate,
                open_to_gigs=input.open_to_gigs,
                gig_hours_per_week=input.gig_hours_per_week,
                open_to_downward=input.open_to_downward,
            )
        return prefs_obj(got)

    @strawberry.mutation(description="Change the tenant's mobility settings (HR, tenant admins).")
    async def set_mobility_settings(
        self, info: Info, input: MobilitySettingsInput
    ) -> MobilitySettings:
        ctx = info.context
        patch: dict[str, Any] = {}
        for name in ("max_alerts_per_week", "alert_top_n", "alert_min_score"):
            value = getattr(input, name)
            if value is not strawberry.UNSET:
                patch[name] = value
        if input.manager_notice_stage is not strawberry.UNSET:
            stage = input.manager_notice_stage
            patch["manager_notice_stage"] = stage.value if stage is not None else None
        async with ctx.mutation() as (s, p):
            got = await preferences.set_settings(s, p, patch)
        return settings_obj(got)
