"""GraphQL for editing career tracks (hr_admin, tenant_admin): thin resolvers over
development.ladders."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from upward.development import ladders
from upward.development.schema import CareerTrack, CareerTrackStatus, TrackLevel, level_obj
from upward.graphql.relay import expect_global_id, to_global_id


@strawberry.input
class CreateCareerTrackInput:
    name: str
    description: str | None = None


@strawberry.input
class UpdateCareerTrackInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: CareerTrackStatus | None = strawberry.field(
        default=strawberry.UNSET,
        description="RETIRED takes the track out of careerTracks and careerPaths; ACTIVE brings "
        "it back. Placements stay.",
    )


@strawberry.input
class AddTrackLevelInput:
    title: str = strawberry.field(description="Unique within the track (any case).")
    position: int | None = strawberry.field(
        default=None,
        description="1 is the first rung; default after the last. The levels from there on move "
        "one rung up.",
    )
    job_level: str | None = None
    typical_months: int | None = strawberry.field(
        default=None, description="Typical time in the level, 0 to 600 months."
    )
    description: str | None = None


@strawberry.input
class UpdateTrackLevelInput:
    title: str | None = strawberry.UNSET
    position: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Move within the track (1 to the number of levels); the levels in between "
        "shift by one.",
    )
    job_level: str | None = strawberry.UNSET
    typical_months: int | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.input
class ExpectedSkillInput:
    skill_id: strawberry.ID
    min_proficiency: int = strawberry.field(description="A level of the tenant's scale.")


def track_obj(row: Any) -> CareerTrack:
    return CareerTrack(
        id=to_global_id("CareerTrack", row.id), name=row.name, description=row.description, _row=row
    )


def _patch(input: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(input, n) for n in names if getattr(input, n) is not strawberry.UNSET}


async def _level_result(s: Any, row: Any) -> TrackLevel:
    track = await ladders.get_track(s, row.track_id, field="id")
    return level_obj(row, track.name)


@strawberry.type
class LadderMutation:
    @strawberry.mutation(description="A new, empty career track (hr_admin or tenant_admin).")
    async def create_career_track(self, info: Info, input: CreateCareerTrackInput) -> CareerTrack:
        async with info.context.mutation() as (s, p):
            row = await ladders.create_track(s, p, name=input.name, description=input.description)
        return track_obj(row)

    @strawberry.mutation(
        description="Rename, describe, retire or reactivate a career track (hr_admin or "
        "tenant_admin)."
    )
    async def update_career_track(
        self, info: Info, id: strawberry.ID, input: UpdateCareerTrackInput
    ) -> CareerTrack:
        track_id = expect_global_id(id, "CareerTrack", field="id")
        patch = _patch(input, ("name", "description"))
        if input.status is not strawberry.UNSET:
            patch["status"] = input.status.value if input.status is not None else None
        async with info.context.mutation() as (s, p):
            row = await ladders.update_track(s, p, track_id, patch)
        return track_obj(row)

    @strawberry.mutation(
        description="Insert a level into a track at a position (default: on top); the levels "
        "from there on move one rung up (hr_admin or tenant_admin)."
    )
    async def add_track_level(
        self, info: Info, track_id: strawberry.ID, input: AddTrackLevelInput
    ) -> TrackLevel:
        tid = expect_global_id(track_id, "CareerTrack", field="trackId")
        async with info.context.mutation() as (s, p):
            row = await ladders.add_level(
                s,
                p,
                track_id=tid,
                title=input.title,
                position=input.position,
                job_level=input.job_level,
                typical_months=input.typical_months,
                description=input.description,
            )
            return await _level_result(s, row)

    @strawberry.mutation(
        description="Change a level: title, job level, typical months, description, or its "
        "position in the track (hr_admin or tenant_admin)."
    )
    async def update_track_level(
        self, info: Info, id: strawberry.ID, input: UpdateTrackLevelInput
    ) -> TrackLevel:
        lid = expect_global_id(id, "TrackLevel", field="id")
        patch = _patch(input, ("title", "position", "job_level", "typical_months", "description"))
        async with info.context.mutation() as (s, p):
            row = await ladders.update_level(s, p, lid, patch)
            return await _level_result(s, row)

    @strawberry.mutation(
        description="Delete a level with its expectations and lateral links; the levels above "
        "move one rung down. CONFLICT while anyone is placed at it or a development plan "
        "targets it. Returns the track (hr_admin or tenant_admin)."
    )
    async def remove_track_level(self, info: Info, id: strawberry.ID) -> CareerTrack:
        lid = expect_global_id(id, "TrackLevel", field="id")
        async with info.context.mutation() as (s, p):
            row = await ladders.remove_level(s, p, lid)
        return track_obj(row)

    @strawberry.mutation(
        description="Replace what a level expects: skills at a minimum proficiency and the "
        "credential types one must hold (hr_admin or tenant_admin)."
    )
    async def set_level_expectations(
        self,
        info: Info,
        level_id: strawberry.ID,
        skills: list[ExpectedSkillInput],
        credential_type_ids: list[strawberry.ID],
    ) -> TrackLevel:
        lid = expect_global_id(level_id, "TrackLevel", field="levelId")
        wanted = [
            (expect_global_id(e.skill_id, "Skill", field=f"skills.{i}.skillId"), e.min_proficiency)
            for i, e in enumerate(skills)
        ]
        types = [
            expect_global_id(t, "CredentialType", field=f"credentialTypeIds.{i}")
            for i, t in enumerate(credential_type_ids)
        ]
        async with info.context.mutation() as (s, p):
            row = await ladders.set_expectations(
                s, p, level_id=lid, skills=wanted, credential_types=types
            )
            return await _level_result(s, row)

    @strawberry.mutation(
        description="A lateral move from a level to a level of another track (and back with "
        "`bothWays`); linking what is linked changes nothing. Returns the `from` level "
        "(hr_admin or tenant_admin)."
    )
    async def link_levels(
        self,
        info: Info,
        from_level_id: strawberry.ID,
        to_level_id: strawberry.ID,
        both_ways: bool = False,
    ) -> TrackLevel:
        a, b = _ends(from_level_id, to_level_id)
        async with info.context.mutation() as (s, p):
            row = await ladders.link_levels(
                s, p, from_level_id=a, to_level_id=b, both_ways=both_ways
            )
            return await _level_result(s, row)

    @strawberry.mutation(
        description="Remove a lateral move (and the way back with `bothWays`); NOT_FOUND when "
        "there is none. Returns the `from` level (hr_admin or tenant_admin)."
    )
    async def unlink_levels(
        self,
        info: Info,
        from_level_id: strawberry.ID,
        to_level_id: strawberry.ID,
        both_ways: bool = False,
    ) -> TrackLevel:
        a, b = _ends(from_level_id, to_level_id)
        async with info.context.mutation() as (s, p):
            row = await ladders.unlink_levels(
                s, p, from_level_id=a, to_level_id=b, both_ways=both_ways
            )
            return await _level_result(s, row)


def _ends(from_level_id: str, to_level_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    return (
        expect_global_id(from_level_id, "TrackLevel", field="fromLevelId"),
        expect_global_id(to_level_id, "TrackLevel", field="toLevelId"),
    )
