"""GraphQL for the skills catalog and the proficiency scale: thin resolvers over
development.service (and development.importer for CSV taxonomies)."""

from __future__ import annotations

import asyncio
import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from upward import clock
from upward.credentials.schema import ExternalId, ExternalIdInput, external_ids_input
from upward.development import importer, ratings, service, tracks
from upward.development.loaders import (
    children_by_skill_loader,
    grants_by_type_loader,
    level_by_id_loader,
    level_detail_loader,
    levels_by_track_loader,
    placement_by_employee_loader,
    ratings_by_employee_loader,
    skill_by_id_loader,
)
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
    from upward.credentials.schema import Credential, CredentialType
    from upward.development.mentorship_schema import ReadinessSuggestions
    from upward.people.schema import Employee

PAGE_DOC = "Relay pagination: `first` (at most 100) with `after`, or `last` with `before`."


@strawberry.enum
class SkillStatus(enum.Enum):
    ACTIVE = "active"
    RETIRED = "retired"


@strawberry.type(description="A skill of the tenant's catalog, in a tree (parent, children).")
class Skill(Node):
    id: strawberry.ID
    name: str
    category: str
    description: str | None
    aliases: list[str] = strawberry.field(
        description="Other names it is known by (search, import)."
    )
    external_ids: list[ExternalId] = strawberry.field(
        description="Codes in other taxonomies: `esco` (an ESCO skill URI), `onet` (an O*NET "
        "element id), or any scheme of the tenant's."
    )
    status: SkillStatus
    parent: Skill | None = strawberry.field(description="The broader skill it rolls up to.")
    created_at: datetime
    updated_at: datetime
    _row: strawberry.Private[Any]

    @strawberry.field(description="Its active sub-skills, by name.")
    async def children(self, info: Info) -> list[Skill]:
        rows = await children_by_skill_loader(info.context).load(self._row.id)
        return [skill_obj(info.context, r) for r in rows]


def skill_obj(ctx: Any, row: Any) -> Skill:
    pid = row.parent_id
    return Skill(
        id=to_global_id("Skill", row.id),
        name=row.name,
        category=row.category,
        description=row.description,
        aliases=list(row.aliases or []),
        external_ids=[
            ExternalId(scheme=k, code=v) for k, v in sorted((row.external_ids or {}).items())
        ],
        status=SkillStatus(row.status),
        parent=Lazy(lambda: _load_skill(ctx, pid)) if pid else None,  # type: ignore[arg-type]
        created_at=row.created_at,
        updated_at=row.updated_at,
        _row=row,
    )


async def _load_skill(ctx: Any, skill_id: uuid.UUID) -> Skill | None:
    row = await skill_by_id_loader(ctx).load(skill_id)
    return skill_obj(ctx, row) if row is not None else None


@register_node("Skill")
async def _skill_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await skill_by_id_loader(ctx).load_many(ids)
    return {r.id: skill_obj(ctx, r) for r in rows if r is not None}


@strawberry.type(description="A level of the tenant's proficiency scale.")
class ProficiencyLevel:
    level: int
    name: str
    descriptor: str


@strawberry.input
class ProficiencyLevelInput:
    level: int
    name: str
    descriptor: str


@strawberry.input
class SkillFilter:
    search: str | None = strawberry.field(default=None, description="In names and aliases.")
    category: str | None = None
    parent_id: strawberry.ID | None = None
    roots_only: bool = False
    include_retired: bool = False


@strawberry.input
class CreateSkillInput:
    name: str
    category: str
    parent_id: strawberry.ID | None = None
    description: str | None = None
    aliases: list[str] | None = None
    external_ids: list[ExternalIdInput] | None = None


@strawberry.input(description="Fields to change; omitted fields stay as they are, null clears.")
class UpdateSkillInput:
    name: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="null: a root skill."
    )
    description: str | None = strawberry.UNSET
    aliases: list[str] | None = strawberry.UNSET
    external_ids: list[ExternalIdInput] | None = strawberry.UNSET
    status: SkillStatus | None = strawberry.field(
        default=strawberry.UNSET, description="RETIRED hides it from lists; ACTIVE brings it back."
    )


@strawberry.type(description="One CSV row's outcome.")
class SkillImportRow:
    row: int = strawberry.field(description="1-based data row (the header is row 0).")
    outcome: str = strawberry.field(description="created, updated, unchanged or error.")
    skill_id: strawberry.ID | None
    name: str | None
    errors: list[str]


@strawberry.type
class SkillImportResult:
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    errors: int
    rows: list[SkillImportRow]


@strawberry.enum
class SkillSource(enum.Enum):
    SELF_ASSESSED = "self_assessed"
    MANAGER_ASSESSED = "manager_assessed"
    ASSESSMENT = "assessment"
    CREDENTIAL = "credential"


EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
CredentialRef = Annotated["Credential", strawberry.lazy("upward.credentials.schema")]


@strawberry.type(
    description="A person's rating of a skill: recorded (by them, their manager line or HR) "
    "or derived from a valid credential whose type grants it (source CREDENTIAL)."
)
class EmployeeSkill:
    skill: Skill
    proficiency: int = strawberry.field(description="A level of the tenant's scale.")
    source: SkillSource
    interest: bool | None = strawberry.field(
        description="They want to grow it. Private: null unless you are them, in their line, "
        "or HR (and for derived ratings)."
    )
    last_used_on: date | None = strawberry.field(description="Private, like interest.")
    validated_by: EmployeeRef | None = strawberry.field(
        description="Who confirmed the rating (a manager in the line or HR)."
    )
    validated_at: datetime | None
    updated_at: datetime | None
    credential: CredentialRef | None = strawberry.field(
        description="The credential it is derived from (source CREDENTIAL; visible to who "
        "may read that credential)."
    )
    valid_until: date | None = strawberry.field(
        description="A derived rating lapses after this date with its credential."
    )


def rating_obj(ctx: Any, viewer: Any, r: ratings.Rating) -> EmployeeSkill:
    from upward.credentials.schema import _load_credential
    from upward.people.schema import _load_employee

    sid, vid, cid = r.skill_id, r.validated_by, r.credential_id
    return EmployeeSkill(
        skill=Lazy(lambda: _load_skill(ctx, sid)),  # type: ignore[arg-type]
        proficiency=r.proficiency,
        source=SkillSource(r.source),
        interest=r.interest,
        last_used_on=r.last_used_on,
        validated_by=Lazy(lambda: _load_employee(ctx, viewer, vid)) if vid else None,  # type: ignore[arg-type]
        validated_at=r.validated_at,
        updated_at=r.updated_at,
        credential=Lazy(lambda: _load_credential(ctx, cid)) if cid else None,  # type: ignore[arg-type]
        valid_until=r.valid_until,
    )


async def skills_of(ctx: Any, employee_id: uuid.UUID) -> list[EmployeeSkill]:
    """Employee.skills: one batch for every person on the page."""
    from upward.people.loaders import viewer_of

    viewer = await viewer_of(ctx)
    got = await ratings_by_employee_loader(ctx).load(employee_id)
    return [rating_obj(ctx, viewer, r) for r in got]


@strawberry.type(description="A skill a credential type grants while a credential of it is valid.")
class SkillGrant:
    skill: Skill
    proficiency: int


async def grants_of_type(ctx: Any, type_id: uuid.UUID) -> list[SkillGrant]:
    rows = await grants_by_type_loader(ctx).load(type_id)
    return [_grant(ctx, r) for r in rows]


def _grant(ctx: Any, r: Any) -> SkillGrant:
    sid = r["skill_id"]
    return SkillGrant(
        skill=Lazy(lambda: _load_skill(ctx, sid)),  # type: ignore[arg-type]
        proficiency=r["proficiency"],
    )


@strawberry.input
class SkillGrantInput:
    skill_id: strawberry.ID
    proficiency: int


@strawberry.type(description="One change to a person's rating of a skill.")
class EmployeeSkillChange:
    action: str = strawberry.field(description="set, validate or remove.")
    proficiency: int | None
    source: SkillSource | None
    interest: bool | None
    changed_by: EmployeeRef | None
    changed_at: datetime


@strawberry.type
class DevelopmentQuery:
    @strawberry.field(
        description="The skills catalog, by name (active ones unless asked). " + PAGE_DOC
    )
    async def skills(
        self,
        info: Info,
        filter: SkillFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Skill]:
        ctx = info.context
        p = ctx.require_principal()
        f = filter or SkillFilter()
        sf = service.SkillFilter(
            search=f.search,
            category=f.category,
            parent_id=optional_global_id(f.parent_id, "Skill", field="filter.parentId"),
            roots_only=f.roots_only,
            include_retired=f.include_retired,
        )
        args = page_args(
            ctx, service.SKILL_ORDER, first=first, after=after, last=last, before=before
        )
        async with ctx.session() as s:
            page = await service.list_skills(
                s, p, filter=sf, page=args, with_count=wants_total(Selection(info))
            )
        return build_connection(ctx, page, service.SKILL_ORDER, lambda r: skill_obj(ctx, r))

    @strawberry.field(
        description="The changes to a person's rating of a skill, oldest first (empty unless "
        "you are them, in their line, or HR)."
    )
    async def employee_skill_history(
        self, info: Info, employee_id: strawberry.ID, skill_id: strawberry.ID
    ) -> list[EmployeeSkillChange]:
        from upward.people.loaders import viewer_of
        from upward.people.schema import _load_employee

        ctx = info.context
        ctx.require_principal()
        eid = expect_global_id(employee_id, "Employee", field="employeeId")
        sid = expect_global_id(skill_id, "Skill", field="skillId")
        viewer = await viewer_of(ctx)
        async with ctx.session() as s:
            rows = await ratings.history(s, viewer, employee_id=eid, skill_id=sid)
        out = []
        for r in rows:
            by = r.changed_by
            out.append(
                EmployeeSkillChange(
                    action=r.action,
                    proficiency=r.proficiency,
                    source=SkillSource(r.source) if r.source else None,
                    interest=r.interest,
                    changed_by=Lazy(lambda by=by: _load_employee(ctx, viewer, by)) if by else None,  # type: ignore[arg-type,misc]
                    changed_at=r.changed_at,
                )
            )
        return out

    @strawberry.field(description="The categories of active skills, sorted.")
    async def skill_categories(self, info: Info) -> list[str]:
        ctx = info.context
        ctx.require_principal()
        async with ctx.session() as s:
            return await service.categories(s)

    @strawberry.field(description="The tenant's proficiency scale (default: 1 Novice to 5 Expert).")
    async def proficiency_scale(self, info: Info) -> list[ProficiencyLevel]:
        ctx = info.context
        ctx.require_principal()
        async with ctx.session() as s:
            levels = await service.get_scale(s)
        return [
            ProficiencyLevel(level=lv.level, name=lv.name, descriptor=lv.descriptor)
            for lv in levels
        ]


@strawberry.type
class DevelopmentMutation:
    @strawberry.mutation(description="Add a skill to the catalog (hr_admin or tenant_admin).")
    async def create_skill(self, info: Info, input: CreateSkillInput) -> Skill:
        ctx = info.context
        parent = optional_global_id(input.parent_id, "Skill", field="input.parentId")
        ext = external_ids_input(input.external_ids, "input.externalIds")
        async with ctx.mutation() as (s, p):
            row = await service.create_skill(
                s,
                p,
                name=input.name,
                category=input.category,
                parent_id=parent,
                description=input.description,
                aliases=input.aliases,
                external_ids=ext,
            )
        return skill_obj(ctx, row)

    @strawberry.mutation(
        description="Change, move (parentId), retire or reactivate a skill (hr_admin or "
        "tenant_admin)."
    )
    async def update_skill(self, info: Info, id: strawberry.ID, input: UpdateSkillInput) -> Skill:
        ctx = info.context
        raw = expect_global_id(id, "Skill", field="id")
        patch: dict[str, Any] = {}
        for name in ("name", "category", "description", "aliases"):
            value = getattr(input, name)
            if value is not strawberry.UNSET:
                patch[name] = value
        if input.parent_id is not strawberry.UNSET:
            patch["parent_id"] = optional_global_id(
                input.parent_id, "Skill", field="input.parentId"
            )
        if input.external_ids is not strawberry.UNSET:
            patch["external_ids"] = (
                external_ids_input(input.external_ids, "input.externalIds") or {}
            )
        if input.status is not strawberry.UNSET:
            if input.status is None:
                patch["status"] = None
            else:
                patch["status"] = input.status.value
        async with ctx.mutation() as (s, p):
            row = await service.update_skill(s, p, raw, patch)
        return skill_obj(ctx, row)

    @strawberry.mutation(
        description="Rate a person's skill (default: yours). Your own rating is self-assessed; "
        "your line's (manager) or anyone's (HR) is validated by you. Only the person sets "
        "`interest`. Replaces the current rating; the history keeps every change."
    )
    async def set_employee_skill(
        self,
        info: Info,
        skill_id: strawberry.ID,
        proficiency: int,
        employee_id: strawberry.ID | None = None,
        interest: bool | None = None,
        last_used_on: date | None = None,
    ) -> EmployeeSkill:
        from upward.people.loaders import viewer_of

        ctx = info.context
        p = ctx.require_principal()
        eid = optional_global_id(employee_id, "Employee", field="employeeId") or p.employee_id
        if eid is None:
            raise BadUserInput("is required for a service principal", field="employeeId")
        sid = expect_global_id(skill_id, "Skill", field="skillId")
        viewer = await viewer_of(ctx)
        async with ctx.mutation() as (s, p):
            await ratings.set_rating(
                s,
                p,
                viewer,
                employee_id=eid,
                skill_id=sid,
                proficiency=proficiency,
                interest=interest,
                last_used_on=last_used_on,
            )
            got = await ratings.ratings_of(s, p, viewer, [eid])
        return next(
            rating_obj(ctx, viewer, r)
            for r in got[eid]
            if r.skill_id == sid and r.source != "credential"
        )

    @strawberry.mutation(
        description="Confirm a person's rating as it stands (their manager line or HR; not "
        "your own)."
    )
    async def validate_employee_skill(
        self, info: Info, employee_id: strawberry.ID, skill_id: strawberry.ID
    ) -> EmployeeSkill:
        from upward.people.loaders import viewer_of

        ctx = info.context
        eid = expect_global_id(employee_id, "Employee", field="employeeId")
        sid = expect_global_id(skill_id, "Skill", field="skillId")
        viewer = await viewer_of(ctx)
        async with ctx.mutation() as (s, p):
            await ratings.validate_rating(s, p, viewer, employee_id=eid, skill_id=sid)
            got = await ratings.ratings_of(s, p, viewer, [eid])
        return next(
            rating_obj(ctx, viewer, r)
            for r in got[eid]
            if r.skill_id == sid and r.source != "credential"
        )

    @strawberry.mutation(description="Remove a person's recorded rating of a skill.")
    async def remove_employee_skill(
        self, info: Info, skill_id: strawberry.ID, employee_id: strawberry.ID | None = None
    ) -> bool:
        from upward.people.loaders import viewer_of

        ctx = info.context
        p = ctx.require_principal()
        eid = optional_global_id(employee_id, "Employee", field="employeeId") or p.employee_id
        if eid is None:
            raise BadUserInput("is required for a service principal", field="employeeId")
        sid = expect_global_id(skill_id, "Skill", field="skillId")
        viewer = await viewer_of(ctx)
        async with ctx.mutation() as (s, p):
            return await ratings.remove_rating(s, p, viewer, employee_id=eid, skill_id=sid)

    @strawberry.mutation(
        description="Replace the skills a credential type grants, each at a proficiency: "
        "holders of a valid credential of it have them (hr_admin, tenant_admin)."
    )
    async def set_credential_type_skills(
        self, info: Info, credential_type_id: strawberry.ID, skills: list[SkillGrantInput]
    ) -> list[SkillGrant]:
        ctx = info.context
        tid = expect_global_id(credential_type_id, "CredentialType", field="credentialTypeId")
        grants = [
            (expect_global_id(g.skill_id, "Skill", field=f"skills.{i}.skillId"), g.proficiency)
            for i, g in enumerate(skills)
        ]
        async with ctx.mutation() as (s, p):
            rows = await ratings.set_grants(s, p, credential_type_id=tid, grants=grants)
        return [_grant(ctx, r) for r in rows]

    @strawberry.mutation(
        description="Replace the proficiency scale: levels 1..N (2 to 10), each with a name "
        "and a descriptor (hr_admin or tenant_admin)."
    )
    async def set_proficiency_scale(
        self, info: Info, levels: list[ProficiencyLevelInput]
    ) -> list[ProficiencyLevel]:
        async with info.context.mutation() as (s, p):
            got = await service.set_scale(
                s, p, [service.Level(lv.level, lv.name, lv.descriptor) for lv in levels]
            )
        return [
            ProficiencyLevel(level=lv.level, name=lv.name, descriptor=lv.descriptor) for lv in got
        ]

    @strawberry.mutation(
        description="Import a skills taxonomy from CSV (columns: name, category, description, "
        "aliases separated by `;`, external_code as `scheme:code` or an ESCO URI, parent). "
        "Idempotent: rows match skills by name. `dryRun` reports what would happen and writes "
        "nothing (hr_admin or tenant_admin)."
    )
    async def import_skills(self, info: Info, csv: str, dry_run: bool = False) -> SkillImportResult:
        async with info.context.mutation() as (s, p):
            result = await importer.import_skills(s, p, csv, dry_run=dry_run)
        return SkillImportResult(
            dry_run=result.dry_run,
            created=result.count("created"),
            updated=result.count("updated"),
            unchanged=result.count("unchanged"),
            errors=result.count("error"),
            rows=[
                SkillImportRow(
                    row=r.row,
                    outcome=r.outcome,
                    skill_id=to_global_id("Skill", r.skill_id) if r.skill_id else None,
                    name=r.name,
                    errors=r.errors,
                )
                for r in result.rows
            ],
        )


# --- career tracks, readiness, paths ------------------------------------------------------------

CredentialTypeRef = Annotated["CredentialType", strawberry.lazy("upward.credentials.schema")]


@strawberry.type(description="A skill a level expects, at a minimum proficiency.")
class ExpectedSkill:
    skill: Skill
    min_proficiency: int


@strawberry.type(description="A level of a career track (a rung of the ladder).")
class TrackLevel(Node):
    id: strawberry.ID
    track_name: str
    position: int = strawberry.field(description="1 is the first rung.")
    title: str
    job_level: str | None
    typical_months: int | None = strawberry.field(description="Typical time in the level.")
    description: str | None
    _row: strawberry.Private[Any]

    @strawberry.field
    async def expected_skills(self, info: Info) -> list[ExpectedSkill]:
        detail = await level_detail_loader(info.context).load(self._row.id)
        return [
            ExpectedSkill(skill=Lazy(lambda s=s: _load_skill(info.context, s)), min_proficiency=m)  # type: ignore[arg-type,misc]
            for s, m in detail.skills
        ]

    @strawberry.field
    async def required_credential_types(self, info: Info) -> list[CredentialTypeRef]:
        from upward.credentials.schema import _load_type

        detail = await level_detail_loader(info.context).load(self._row.id)
        got = await asyncio.gather(*(_load_type(info.context, t) for t in detail.credential_types))
        return [g for g in got if g is not None]

    @strawberry.field(description="The next rung of the same track (null at the top).")
    async def next(self, info: Info) -> TrackLevel | None:
        levels = await levels_by_track_loader(info.context).load(self._row.track_id)
        later = [lv for lv in levels if lv.position > self._row.position]
        return level_obj(later[0], self.track_name) if later else None

    @strawberry.field(description="Levels of other tracks one can move to from here.")
    async def lateral_moves(self, info: Info) -> list[TrackLevel]:
        detail = await level_detail_loader(info.context).load(self._row.id)
        got = await level_by_id_loader(info.context).load_many(detail.lateral)
        names = await _track_names(info.context)
        return [level_obj(r, names.get(r.track_id, "")) for r in got if r is not None]


def level_obj(row: Any, track_name: str) -> TrackLevel:
    return TrackLevel(
        id=to_global_id("TrackLevel", row.id),
        track_name=track_name,
        position=row.position,
        title=row.title,
        job_level=row.job_level,
        typical_months=row.typical_months,
        description=row.description,
        _row=row,
    )


async def _track_names(ctx: Any) -> dict[uuid.UUID, str]:
    async def load() -> dict[uuid.UUID, str]:
        async with ctx.session() as s:
            return {t.id: t.name for t in await tracks.list_tracks(s, include_retired=True)}

    # one load per request, shared by every level that asks at the same time
    return await ctx.memo("development.track_names", lambda: asyncio.ensure_future(load()))


@register_node("TrackLevel")
async def _level_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    ctx.require_principal()
    rows = await level_by_id_loader(ctx).load_many(ids)
    names = await _track_names(ctx)
    return {r.id: level_obj(r, names.get(r.track_id, "")) for r in rows if r is not None}


@strawberry.enum
class CareerTrackStatus(enum.Enum):
    ACTIVE = "active"
    RETIRED = "retired"


@strawberry.type(description="A career ladder: ordered levels.")
class CareerTrack:
    id: strawberry.ID
    name: str
    description: str | None
    _row: strawberry.Private[Any]

    @strawberry.field(description="RETIRED: out of careerTracks and of careerPaths' moves.")
    def status(self) -> CareerTrackStatus:
        return CareerTrackStatus(self._row.status)

    @strawberry.field(description="Its levels, first rung first.")
    async def levels(self, info: Info) -> list[TrackLevel]:
        rows = await levels_by_track_loader(info.context).load(self._row.id)
        return [level_obj(r, self.name) for r in rows]


@strawberry.type(description="Where a person stands on the ladders.")
class CareerLevel:
    level: TrackLevel
    since: date


async def career_level_of(ctx: Any, employee_id: uuid.UUID) -> CareerLevel | None:
    row = await placement_by_employee_loader(ctx).load(employee_id)
    if row is None:
        return None
    level = await level_by_id_loader(ctx).load(row.level_id)
    names = await _track_names(ctx)
    return CareerLevel(level=level_obj(level, names.get(level.track_id, "")), since=row.since)


@strawberry.type
class SkillReadiness:
    skill: Skill
    required: int
    have: int = strawberry.field(description="Effective proficiency (sub-skills roll up); 0: none.")
    state: str = strawberry.field(description="met, partial or missing.")
    gap: int


@strawberry.type
class CredentialReadiness:
    credential_type: CredentialTypeRef
    state: str = strawberry.field(description="held (valid on the date), expiring or missing.")
    credential: CredentialRef | None
    valid_until: date | None


@strawberry.type
class TimeInLevel:
    months: int | None
    typical: int | None
    met: bool | None


SuggestionsRef = Annotated[
    "ReadinessSuggestions", strawberry.lazy("upward.development.mentorship_schema")
]


@strawberry.type(description="How ready a person is for a level, and why.")
class Readiness:
    score: float = strawberry.field(description="0-100; 100 exactly when nothing is missing.")
    ready: bool
    on: date
    skills: list[SkillReadiness]
    credentials: list[CredentialReadiness]
    time_in_level: TimeInLevel
    suggestions: SuggestionsRef | None = strawberry.field(
        default=None,
        description="Suggested next steps: active learning resources and mentors with an "
        "open slot for the missing and partial skills (largest gap first), certifications "
        "for missing credentials; up to 5 of each, best coverage first.",
    )


def readiness_obj(ctx: Any, r: Any, on: date) -> Readiness:
    from upward.credentials.schema import _load_credential, _load_type
    from upward.development.mentorship_schema import suggestions_obj

    return Readiness(
        suggestions=suggestions_obj(ctx, r.suggestions),  # type: ignore[arg-type]
        score=r.score,
        ready=r.ready,
        on=on,
        skills=[
            SkillReadiness(
                skill=Lazy(lambda s=s.skill_id: _load_skill(ctx, s)),  # type: ignore[arg-type,misc]
                required=s.required,
                have=s.have,
                state=s.state,
                gap=s.gap,
            )
            for s in r.skills
        ],
        credentials=[
            CredentialReadiness(
                credential_type=Lazy(lambda t=c.credential_type_id: _load_type(ctx, t)),  # type: ignore[arg-type,misc]
                state=c.state,
                credential=Lazy(lambda i=c.credential_id: _load_credential(ctx, i))  # type: ignore[arg-type,misc]
                if c.credential_id
                else None,
                valid_until=c.valid_until,
            )
            for c in r.credentials
        ],
        time_in_level=TimeInLevel(
            months=r.time_in_level.months,
            typical=r.time_in_level.typical,
            met=r.time_in_level.met,
        ),
    )


@strawberry.type
class CareerStep:
    level: TrackLevel
    readiness: Readiness | None = strawberry.field(description="Null for the starting level.")


@strawberry.type
class CareerPath:
    steps: list[CareerStep]


@strawberry.type
class CareerQuery:
    @strawberry.field(description="The tenant's career tracks, by name.")
    async def career_tracks(self, info: Info, include_retired: bool = False) -> list[CareerTrack]:
        ctx = info.context
        ctx.require_principal()
        async with ctx.session() as s:
            rows = await tracks.list_tracks(s, include_retired=include_retired)
        return [
            CareerTrack(
                id=to_global_id("CareerTrack", r.id), name=r.name, description=r.description, _row=r
            )
            for r in rows
        ]

    @strawberry.field(
        description="How ready a person is for a level on a date (default today): each "
        "expected skill, each required credential, time in level (the person, their line, HR)."
    )
    async def readiness(
        self,
        info: Info,
        employee_id: strawberry.ID,
        level_id: strawberry.ID,
        on: date | None = None,
    ) -> Readiness:
        from upward.people.loaders import viewer_of

        ctx = info.context
        p = ctx.require_principal()
        eid = expect_global_id(employee_id, "Employee", field="employeeId")
        lid = expect_global_id(level_id, "TrackLevel", field="levelId")
        viewer = await viewer_of(ctx)
        wanted = "suggestions" in Selection(info).names(())
        async with ctx.session() as s:
            r = await tracks.readiness_for(
                s, p, viewer, employee_id=eid, level_id=lid, on=on, suggestions=wanted
            )
        return readiness_obj(ctx, r, on or clock.today(p.tenant_timezone))

    @strawberry.field(
        description="The few shortest paths from a person's level to a target level through "
        "the ladders and their lateral links, each step with the person's readiness."
    )
    async def career_paths(
        self, info: Info, employee_id: strawberry.ID, target_level_id: strawberry.ID, first: int = 3
    ) -> list[CareerPath]:
        from upward.people.loaders import viewer_of

        ctx = info.context
        p = ctx.require_principal()
        eid = expect_global_id(employee_id, "Employee", field="employeeId")
        lid = expect_global_id(target_level_id, "TrackLevel", field="targetLevelId")
        viewer = await viewer_of(ctx)
        wanted = "suggestions" in Selection(info).names(("steps", "readiness"))
        async with ctx.session() as s:
            paths = await tracks.paths_for(
                s, p, viewer, employee_id=eid, target_level_id=lid, k=first, suggestions=wanted
            )
        names = await _track_names(ctx)
        today = clock.today(p.tenant_timezone)
        return [
            CareerPath(
                steps=[
                    CareerStep(
                        level=level_obj(lv, names.get(lv.track_id, "")),
                        readiness=readiness_obj(ctx, r, today) if r is not None else None,
                    )
                    for lv, r in path
                ]
            )
            for path in paths
        ]


@strawberry.type
class CareerMutation:
    @strawberry.mutation(description="Put a person at a level of a career track (HR).")
    async def place_employee(
        self,
        info: Info,
        employee_id: strawberry.ID,
        level_id: strawberry.ID,
        since: date | None = None,
    ) -> CareerLevel:
        ctx = info.context
        eid = expect_global_id(employee_id, "Employee", field="employeeId")
        lid = expect_global_id(level_id, "TrackLevel", field="levelId")
        async with ctx.mutation() as (s, p):
            row = await tracks.place_employee(s, p, employee_id=eid, level_id=lid, since=since)
            level = (await tracks.levels_by_ids(s, [lid]))[lid]
        names = await _track_names(ctx)
        return CareerLevel(level=level_obj(level, names.get(level.track_id, "")), since=row.since)
