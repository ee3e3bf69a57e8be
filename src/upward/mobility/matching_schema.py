"""GraphQL for matching: thin resolvers over mobility.matching (stored matches, explained)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from upward.graphql.lazy import Lazy
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    page_args,
    wants_total,
)
from upward.graphql.selection import Selection
from upward.mobility import matching

if TYPE_CHECKING:
    from upward.credentials.schema import CredentialType
    from upward.development.schema import Skill
    from upward.mobility.postings_schema import JobPosting, OpenToMoves
    from upward.people.schema import Employee

EmployeeRef = Annotated["Employee", strawberry.lazy("upward.people.schema")]
SkillRef = Annotated["Skill", strawberry.lazy("upward.development.schema")]
TypeRef = Annotated["CredentialType", strawberry.lazy("upward.credentials.schema")]
PostingRef = Annotated["JobPosting", strawberry.lazy("upward.mobility.postings_schema")]
OpenToMovesRef = Annotated["OpenToMoves", strawberry.lazy("upward.mobility.postings_schema")]


@strawberry.enum(description="A part of a match score.")
class MatchComponentName(enum.Enum):
    REQUIRED = "required"
    PREFERRED = "preferred"
    LEVEL = "level"
    TRACK = "track"
    LOCATION = "location"


@strawberry.enum
class SkillMatchState(enum.Enum):
    MET = "met"
    PARTIAL = "partial"
    MISSING = "missing"


@strawberry.enum
class CredentialMatchState(enum.Enum):
    HELD = "held"
    EXPIRING = "expiring"
    MISSING = "missing"


@strawberry.enum(description="The step from the person's current level to the posting's.")
class LevelStep(enum.Enum):
    UP = "up"
    LATERAL = "lateral"
    STRETCH = "stretch"
    DOWN = "down"
    UNKNOWN = "unknown"


@strawberry.type(description="One component of a score: contributions add up to the score.")
class MatchComponent:
    name: MatchComponentName
    weight: float = strawberry.field(description="Points out of 100 this component can give.")
    fraction: float = strawberry.field(description="0-1: how much of it is met.")
    contribution: float = strawberry.field(description="Points it gives: weight times fraction.")
    note: str


@strawberry.type
class SkillMatch:
    skill: SkillRef | None
    required: bool = strawberry.field(description="A required skill (else preferred).")
    min_proficiency: int
    proficiency: int = strawberry.field(description="Effective proficiency; 0: none.")
    gap: int
    state: SkillMatchState


@strawberry.type
class CredentialMatch:
    credential_type: TypeRef | None
    state: CredentialMatchState = strawberry.field(
        description="held (valid on the posting's start date), expiring (valid now, not then) "
        "or missing."
    )
    valid_until: date | None


@strawberry.type(description="Why a person matches a posting: components, and what is missing.")
class MatchExplanation:
    components: list[MatchComponent]
    matched_skills: list[SkillMatch]
    partial_skills: list[SkillMatch]
    missing_skills: list[SkillMatch]
    credentials: list[CredentialMatch]
    missing_credentials: list[CredentialMatch] = strawberry.field(
        description="Required credential types not held valid on the start date."
    )
    level_step: LevelStep | None
    why: list[str] = strawberry.field(description="What is fully met, in component order.")
    ineligible_reasons: list[str] = strawberry.field(
        description="Why the person may not apply (empty: eligible)."
    )


@strawberry.type(description="A person matched to a posting, with the explanation.")
class PostingMatch:
    employee: EmployeeRef | None
    score: float = strawberry.field(description="0-100; 100 exactly when nothing is missing.")
    eligible: bool
    confidential: bool = strawberry.field(
        description="The person is open to moves confidentially: do not tell their manager."
    )
    explanation: MatchExplanation
    computed_at: datetime


@strawberry.type(description="An open posting matched to you, with why and what is missing.")
class RecommendedPosting:
    posting: PostingRef | None
    score: float
    explanation: MatchExplanation
    computed_at: datetime


@strawberry.type(description="Postings matched to you: only while you are open to moves.")
class RecommendedPostingConnection(Connection[RecommendedPosting]):
    open_to_moves: OpenToMovesRef
    hint: str | None = strawberry.field(
        description="Why the list is empty, and what to do about it (null when it is not)."
    )


def _skill(ctx: Any, s: dict[str, Any]) -> SkillMatch:
    from upward.development.schema import _load_skill

    sid = uuid.UUID(s["skill_id"])
    return SkillMatch(
        skill=Lazy(lambda: _load_skill(ctx, sid)),  # type: ignore[arg-type]
        required=s["required"],
        min_proficiency=s["min"],
        proficiency=s["have"],
        gap=max(0, s["min"] - s["have"]),
        state=SkillMatchState(s["state"]),
    )


def _credential(ctx: Any, c: dict[str, Any]) -> CredentialMatch:
    from upward.credentials.schema import _load_type

    tid = uuid.UUID(c["credential_type_id"])
    return CredentialMatch(
        credential_type=Lazy(lambda: _load_type(ctx, tid)),  # type: ignore[arg-type]
        state=CredentialMatchState(c["state"]),
        valid_until=date.fromisoformat(c["valid_until"]) if c["valid_until"] else None,
    )


def explanation_obj(ctx: Any, e: dict[str, Any]) -> MatchExplanation:
    skills = [_skill(ctx, s) for s in e.get("skills", ())]
    creds = [_credential(ctx, c) for c in e.get("credentials", ())]
    step = e.get("level_step")
    return MatchExplanation(
        components=[
            MatchComponent(
                name=MatchComponentName(c["name"]),
                weight=c["weight"],
                fraction=c["fraction"],
                contribution=c["contribution"],
                note=c["note"],
            )
            for c in e.get("components", ())
        ],
        matched_skills=[s for s in skills if s.state is SkillMatchState.MET],
        partial_skills=[s for s in skills if s.state is SkillMatchState.PARTIAL],
        missing_skills=[s for s in skills if s.state is SkillMatchState.MISSING],
        credentials=creds,
        missing_credentials=[c for c in creds if c.state is not CredentialMatchState.HELD],
        level_step=LevelStep(step) if step else None,
        why=list(e.get("why", ())),
        ineligible_reasons=list(e.get("reasons", ())),
    )


def _employee(ctx: Any, employee_id: uuid.UUID) -> Lazy:
    async def load() -> Any:
        from upward.people.loaders import viewer_of
        from upward.people.schema import _load_employee

        return await _load_employee(ctx, await viewer_of(ctx), employee_id)

    return Lazy(load)


def _posting(ctx: Any, posting_id: uuid.UUID) -> Lazy:
    async def load() -> Any:
        from upward.mobility.postings_schema import load_posting

        return await load_posting(ctx, posting_id)

    return Lazy(load)


@strawberry.type
class MatchingQuery:
    @strawberry.field(
        description="People matched to a posting, best first (ties by person): HR and the "
        "posting's hiring manager only (for anyone else the posting is not found). Only people "
        "open to moves, confidential ones included; from the matches the workers store. "
        "Relay pagination: `first` (at most 100) with `after`."
    )
    async def posting_matches(
        self,
        info: Info,
        posting_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PostingMatch]:
        ctx = info.context
        pid = expect_global_id(posting_id, "JobPosting", field="postingId")
        args = page_args(
            ctx, matching.MATCH_ORDER, first=first, after=after, last=None, before=None
        )
        with_count = wants_total(Selection(info))
        async with ctx.session() as s:
            page = await matching.posting_matches(
                s, ctx.require_principal(), posting_id=pid, page=args, with_count=with_count
            )
        return build_connection(
            ctx,
            page,
            matching.MATCH_ORDER,
            lambda m: PostingMatch(
                employee=_employee(ctx, m.employee_id),  # type: ignore[arg-type]
                score=m.score,
                eligible=m.eligible,
                confidential=m.confidential,
                explanation=explanation_obj(ctx, m.explanation),
                computed_at=m.computed_at,
            ),
            sort_key=lambda m: (m.score, str(m.employee_id)),
        )

    @strawberry.field(
        description="Open postings visible to you and that you are eligible for, ranked for "
        "you with why and what is missing: only while you are open to moves (see `hint`). "
        "Relay pagination: `first` (at most 100) with `after`."
    )
    async def recommended_postings(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> RecommendedPostingConnection:
        from upward.mobility.postings_schema import OpenToMoves

        ctx = info.context
        args = page_args(
            ctx, matching.RECOMMENDED_ORDER, first=first, after=after, last=None, before=None
        )
        with_count = wants_total(Selection(info))
        async with ctx.session() as s:
            rec = await matching.recommended_postings(
                s, ctx.require_principal(), page=args, with_count=with_count
            )
        conn = build_connection(
            ctx,
            rec.page,
            matching.RECOMMENDED_ORDER,
            lambda m: RecommendedPosting(
                posting=_posting(ctx, m.posting_id),  # type: ignore[arg-type]
                score=m.score,
                explanation=explanation_obj(ctx, m.explanation),
                computed_at=m.computed_at,
            ),
            sort_key=lambda m: (m.score, str(m.posting_id)),
        )
        return RecommendedPostingConnection(
            edges=conn.edges,
            page_info=conn.page_info,
            _count=conn._count,
            open_to_moves=OpenToMoves(rec.open_to_moves),  # type: ignore[arg-type]
            hint=rec.hint,
        )
