"""Internal mobility: job postings and gigs, career preferences, applications and their
pipeline, people's moves, stored matches and the alerts sent for them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from upward.models_base import (
    created_at_field,
    id_field,
    optional_ts,
    tenant_fk,
    tenant_id_field,
    updated_at_field,
)
from upward.people.models import TextArray

POSTING_KINDS = ("role", "gig")
WORK_MODES = ("on_site", "hybrid", "remote")
POSTING_STATUSES = ("draft", "open", "closed", "filled")
OPENNESS = ("no", "yes", "confidential")
STAGES = ("applied", "screening", "interviewing", "offer", "hired", "rejected", "withdrawn")
MOVE_KINDS = ("promotion", "lateral", "gig", "other")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _uuids() -> Any:
    return Field(
        default_factory=list,
        sa_type=pg.ARRAY(pg.UUID(as_uuid=True)),
        sa_column_kwargs={"server_default": sa.text("'{}'::uuid[]"), "nullable": False},
    )


class JobPosting(SQLModel, table=True):
    """An opening inside the company: a role, or a gig (a short-term, part-time stretch
    project). Visible to the whole tenant unless `visible_*` name departments, locations or
    levels: each non-empty list must contain the person's value (AND across the lists, OR
    inside one; see `mobility.rules`)."""

    __tablename__ = "job_postings"
    __table_args__ = (
        tenant_fk(["department_id"], "departments", "job_postings_department_fkey"),
        tenant_fk(["level_id"], "track_levels", "job_postings_level_fkey"),
        tenant_fk(["hiring_manager_id"], "employees", "job_postings_manager_fkey"),
        sa.CheckConstraint(_in("kind", POSTING_KINDS), name="job_postings_kind_check"),
        sa.CheckConstraint(_in("work_mode", WORK_MODES), name="job_postings_work_mode_check"),
        sa.CheckConstraint(_in("status", POSTING_STATUSES), name="job_postings_status_check"),
        sa.CheckConstraint("openings between 1 and 1000", name="job_postings_openings_check"),
        sa.CheckConstraint("filled between 0 and openings", name="job_postings_filled_check"),
        sa.CheckConstraint(
            "closes_on is null or opens_on is null or closes_on >= opens_on",
            name="job_postings_dates_check",
        ),
        sa.CheckConstraint(
            "hours_per_week is null or hours_per_week between 1 and 60",
            name="job_postings_hours_check",
        ),
        sa.CheckConstraint(
            "duration_weeks is null or duration_weeks between 1 and 104",
            name="job_postings_duration_check",
        ),
        sa.CheckConstraint(
            "min_months_in_role is null or min_months_in_role between 0 and 240",
            name="job_postings_min_months_check",
        ),
        sa.Index("job_postings_status_idx", "tenant_id", "status", "opens_on"),
        sa.Index("job_postings_manager_idx", "tenant_id", "hiring_manager_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    kind: str
    title: str
    description: str | None = None
    department_id: uuid.UUID | None = None
    work_mode: str = Field(default="on_site", sa_column_kwargs={"server_default": "on_site"})
    level_id: uuid.UUID | None = None  # the target track level
    hiring_manager_id: uuid.UUID
    openings: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    filled: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    status: str = Field(default="draft", sa_column_kwargs={"server_default": "draft"})
    opens_on: date | None = None
    closes_on: date | None = None
    start_on: date | None = None  # required credentials must be valid on this date
    hours_per_week: int | None = None  # a gig's time commitment
    duration_weeks: int | None = None
    min_months_in_role: int | None = None  # eligibility
    visible_department_ids: list[uuid.UUID] = _uuids()
    visible_location_ids: list[uuid.UUID] = _uuids()
    visible_level_ids: list[uuid.UUID] = _uuids()
    created_by: uuid.UUID | None = None
    opened_at: datetime | None = optional_ts()
    closed_at: datetime | None = optional_ts()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    matched_at: datetime | None = optional_ts()  # its matches last computed (the workers)


class PostingLocation(SQLModel, table=True):
    __tablename__ = "job_posting_locations"
    __table_args__ = (
        tenant_fk(["posting_id"], "job_postings", "job_posting_locations_posting_fkey", "CASCADE"),
        tenant_fk(["location_id"], "locations", "job_posting_locations_location_fkey"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    posting_id: uuid.UUID = Field(primary_key=True)
    location_id: uuid.UUID = Field(primary_key=True)


class PostingSkill(SQLModel, table=True):
    """A required or preferred skill, at a minimum proficiency."""

    __tablename__ = "job_posting_skills"
    __table_args__ = (
        tenant_fk(["posting_id"], "job_postings", "job_posting_skills_posting_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "job_posting_skills_skill_fkey"),
        sa.CheckConstraint("min_proficiency between 1 and 10", name="job_posting_skills_min_check"),
        sa.Index("job_posting_skills_skill_idx", "tenant_id", "skill_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    posting_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)
    required: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    min_proficiency: int


class PostingCredential(SQLModel, table=True):
    """A credential type the person must hold, valid on the posting's start date."""

    __tablename__ = "job_posting_credentials"
    __table_args__ = (
        tenant_fk(
            ["posting_id"], "job_postings", "job_posting_credentials_posting_fkey", "CASCADE"
        ),
        tenant_fk(["credential_type_id"], "credential_types", "job_posting_credentials_type_fkey"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    posting_id: uuid.UUID = Field(primary_key=True)
    credential_type_id: uuid.UUID = Field(primary_key=True)


class CareerPreference(SQLModel, table=True):
    """What a person wants next. `confidential`: no manager or colleague learns it; only HR and
    the hiring managers of postings they match or applied to."""

    __tablename__ = "career_preferences"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "career_preferences_employee_fkey", "CASCADE"),
        sa.CheckConstraint(_in("open_to_moves", OPENNESS), name="career_preferences_open_check"),
        sa.CheckConstraint(
            "gig_hours_per_week is null or gig_hours_per_week between 1 and 60",
            name="career_preferences_gig_hours_check",
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    employee_id: uuid.UUID = Field(primary_key=True)
    open_to_moves: str = Field(default="no", sa_column_kwargs={"server_default": "no"})
    track_ids: list[uuid.UUID] = _uuids()
    level_ids: list[uuid.UUID] = _uuids()
    location_ids: list[uuid.UUID] = _uuids()
    work_modes: list[str] = Field(
        default_factory=list,
        sa_type=TextArray(),
        sa_column_kwargs={"server_default": sa.text("'{}'::text[]"), "nullable": False},
    )
    willing_to_relocate: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    open_to_gigs: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    gig_hours_per_week: int | None = None
    open_to_downward: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    updated_at: datetime = updated_at_field()


class Application(SQLModel, table=True):
    """applied -> screening -> interviewing -> offer -> hired, or rejected (with a reason) at any
    open stage; withdrawn by the applicant. One live application per person and posting."""

    __tablename__ = "applications"
    __table_args__ = (
        tenant_fk(["posting_id"], "job_postings", "applications_posting_fkey", "CASCADE"),
        tenant_fk(["employee_id"], "employees", "applications_employee_fkey", "CASCADE"),
        sa.CheckConstraint(_in("stage", STAGES), name="applications_stage_check"),
        sa.Index(
            "applications_live_key",
            "tenant_id",
            "posting_id",
            "employee_id",
            unique=True,
            postgresql_where=sa.text("stage <> 'withdrawn'"),
        ),
        sa.Index("applications_posting_idx", "tenant_id", "posting_id", "stage"),
        sa.Index("applications_employee_idx", "tenant_id", "employee_id", "created_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    posting_id: uuid.UUID
    employee_id: uuid.UUID
    note: str | None = None
    stage: str = Field(default="applied", sa_column_kwargs={"server_default": "applied"})
    rejection_reason: str | None = None
    share_with_manager: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    manager_told_at: datetime | None = optional_ts()
    stage_changed_at: datetime = created_at_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ApplicationEvent(SQLModel, table=True):
    __tablename__ = "application_events"
    __table_args__ = (
        tenant_fk(
            ["application_id"], "applications", "application_events_application_fkey", "CASCADE"
        ),
        sa.Index("application_events_idx", "tenant_id", "application_id", "at", "id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    application_id: uuid.UUID
    from_stage: str | None = None
    to_stage: str
    reason: str | None = None
    actor_type: str
    actor_id: uuid.UUID | None = None
    at: datetime = created_at_field()


class EmployeeMove(SQLModel, table=True):
    """A change of level, title, department, manager or location, and why (a hire from a
    posting: promotion, lateral move or gig)."""

    __tablename__ = "employee_moves"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "employee_moves_employee_fkey", "CASCADE"),
        tenant_fk(["posting_id"], "job_postings", "employee_moves_posting_fkey"),
        tenant_fk(["application_id"], "applications", "employee_moves_application_fkey"),
        sa.CheckConstraint(_in("kind", MOVE_KINDS), name="employee_moves_kind_check"),
        sa.Index("employee_moves_employee_idx", "tenant_id", "employee_id", "moved_on"),
        sa.Index("employee_moves_time_idx", "tenant_id", "moved_on"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    employee_id: uuid.UUID
    kind: str
    posting_id: uuid.UUID | None = None
    application_id: uuid.UUID | None = None
    moved_on: date
    before: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
    after: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
    actor_id: uuid.UUID | None = None
    created_at: datetime = created_at_field()


class PostingMatch(SQLModel, table=True):
    """A person's stored match for an open posting, computed by the matching workers, with the
    scorer's explanation (each component's contribution; matched, partial, missing items)."""

    __tablename__ = "posting_matches"
    __table_args__ = (
        tenant_fk(["posting_id"], "job_postings", "posting_matches_posting_fkey", "CASCADE"),
        tenant_fk(["employee_id"], "employees", "posting_matches_employee_fkey", "CASCADE"),
        sa.CheckConstraint("score between 0 and 100", name="posting_matches_score_check"),
        sa.Index(
            "posting_matches_rank_idx",
            "tenant_id",
            "posting_id",
            sa.text("score DESC"),
            "employee_id",
        ),
        sa.Index(
            "posting_matches_person_idx",
            "tenant_id",
            "employee_id",
            sa.text("score DESC"),
            "posting_id",
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    posting_id: uuid.UUID = Field(primary_key=True)
    employee_id: uuid.UUID = Field(primary_key=True)
    score: float
    eligible: bool
    explanation: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
    computed_at: datetime = created_at_field()


class MatchAlert(SQLModel, table=True):
    """The alert a person got for a posting they match: at most one per (posting, person)."""

    __tablename__ = "match_alerts"
    __table_args__ = (
        tenant_fk(["posting_id"], "job_postings", "match_alerts_posting_fkey", "CASCADE"),
        tenant_fk(["employee_id"], "employees", "match_alerts_employee_fkey", "CASCADE"),
        sa.Index("match_alerts_week_idx", "tenant_id", "employee_id", "alerted_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    posting_id: uuid.UUID = Field(primary_key=True)
    employee_id: uuid.UUID = Field(primary_key=True)
    score: float
    alerted_at: datetime = created_at_field()


class MobilitySettings(SQLModel, table=True):
    """A tenant's rules: when the applicant's manager is told, how many alerts a week."""

    __tablename__ = "mobility_settings"
    __table_args__ = (
        sa.CheckConstraint(
            _in("manager_notice_stage", ("applied", "screening", "interviewing", "offer", "hired")),
            name="mobility_settings_stage_check",
        ),
        sa.CheckConstraint(
            "max_alerts_per_week between 0 and 50", name="mobility_settings_alerts_check"
        ),
        sa.CheckConstraint("alert_top_n between 1 and 500", name="mobility_settings_top_check"),
        sa.CheckConstraint(
            "alert_min_score between 0 and 100", name="mobility_settings_min_score_check"
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    manager_notice_stage: str = Field(default="offer", sa_column_kwargs={"server_default": "offer"})
    max_alerts_per_week: int = Field(default=3, sa_column_kwargs={"server_default": "3"})
    alert_top_n: int = Field(default=20, sa_column_kwargs={"server_default": "20"})
    alert_min_score: int = Field(default=60, sa_column_kwargs={"server_default": "60"})
    updated_at: datetime = updated_at_field()
