"""GraphQL for the skills catalog and the proficiency scale: thin resolvers over
development.service (and development.importer for CSV taxonomies)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from upward.credentials.schema import ExternalId, ExternalIdInput, external_ids_input
from upward.development import importer, service
from upward.development.loaders import children_by_skill_loader, skill_by_id_loader
from upward.graphql.lazy import Lazy
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


def _opt(value: Any, type_name: str, field: str) -> uuid.UUID | None:
    return expect_global_id(value, type_name, field=field) if value else None


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
            parent_id=_opt(f.parent_id, "Skill", "filter.parentId"),
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
        parent = _opt(input.parent_id, "Skill", "input.parentId")
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
            patch["parent_id"] = _opt(input.parent_id, "Skill", "input.parentId")
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
