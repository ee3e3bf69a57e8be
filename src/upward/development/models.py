"""The skills catalog (a tree per tenant) and the tenant's proficiency scale."""

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

SKILL_STATUSES = ("active", "retired")


class Skill(SQLModel, table=True):
    """A skill; `parent_id` makes a tree (a rating of a child can roll up to its parent)."""

    __tablename__ = "skills"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_id"], ["skills.tenant_id", "skills.id"], name="skills_parent_fkey"
        ),
        sa.CheckConstraint("status in ('active', 'retired')", name="skills_status_check"),
        sa.CheckConstraint("parent_id is distinct from id", name="skills_not_own_parent"),
        sa.Index("skills_name_key", "tenant_id", sa.text("lower(name)"), unique=True),
        sa.Index("skills_parent_idx", "tenant_id", "parent_id"),
        sa.Index("skills_category_idx", "tenant_id", "category", "name", "id"),
        sa.Index("skills_order_idx", "tenant_id", "name", "id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    category: str
    parent_id: uuid.UUID | None = None
    description: str | None = None
    aliases: list[str] = Field(
        default_factory=list,
        sa_type=TextArray(),
        sa_column_kwargs={"server_default": sa.text("'{}'::text[]"), "nullable": False},
    )
    external_ids: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ProficiencyLevel(SQLModel, table=True):
    """One level of the tenant's scale (none stored: the default 1-5 scale applies)."""

    __tablename__ = "proficiency_levels"
    __table_args__ = (
        sa.CheckConstraint("level between 1 and 10", name="proficiency_levels_level_check"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    level: int = Field(primary_key=True)
    name: str
    descriptor: str
    updated_at: datetime = updated_at_field()


SKILL_SOURCES = ("self_assessed", "manager_assessed", "assessment")


class EmployeeSkill(SQLModel, table=True):
    """A person's rating of a skill. Skills a valid credential grants are not stored: they are
    derived on read (`credential_type_skills`), so they lapse with the credential."""

    __tablename__ = "employee_skills"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "employee_skills_employee_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "employee_skills_skill_fkey"),
        sa.CheckConstraint(
            "proficiency between 1 and 10", name="employee_skills_proficiency_check"
        ),
        sa.CheckConstraint(
            "source in ('self_assessed', 'manager_assessed', 'assessment')",
            name="employee_skills_source_check",
        ),
        # by skill, with who and how well (an index-only scan for matching)
        sa.Index(
            "employee_skills_skill_cover_idx",
            "tenant_id",
            "skill_id",
            postgresql_include=["employee_id", "proficiency"],
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    employee_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)
    proficiency: int
    source: str
    interest: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    last_used_on: date | None = None
    validated_by: uuid.UUID | None = None
    validated_at: datetime | None = optional_ts()
    updated_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class EmployeeSkillEvent(SQLModel, table=True):
    """The history of a person's ratings: every set, validation and removal."""

    __tablename__ = "employee_skill_events"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "employee_skill_events_employee_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "employee_skill_events_skill_fkey"),
        sa.CheckConstraint(
            "action in ('set', 'validate', 'remove')", name="employee_skill_events_action_check"
        ),
        sa.Index("employee_skill_events_idx", "tenant_id", "employee_id", "skill_id", "changed_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    employee_id: uuid.UUID
    skill_id: uuid.UUID
    action: str
    proficiency: int | None = None
    source: str | None = None
    interest: bool | None = None
    changed_by: uuid.UUID | None = None
    changed_at: datetime = created_at_field()


class CredentialTypeSkill(SQLModel, table=True):
    """A skill a credential type grants, at a proficiency, while a credential of it is valid."""

    __tablename__ = "credential_type_skills"
    __table_args__ = (
        tenant_fk(
            ["credential_type_id"],
            "credential_types",
            "credential_type_skills_type_fkey",
            "CASCADE",
        ),
        tenant_fk(["skill_id"], "skills", "credential_type_skills_skill_fkey"),
        sa.CheckConstraint(
            "proficiency between 1 and 10", name="credential_type_skills_proficiency_check"
        ),
        sa.Index("credential_type_skills_skill_idx", "tenant_id", "skill_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    credential_type_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)
    proficiency: int


class CareerTrack(SQLModel, table=True):
    """A ladder (e.g. Engineering IC) of ordered levels."""

    __tablename__ = "career_tracks"
    __table_args__ = (
        sa.CheckConstraint("status in ('active', 'retired')", name="career_tracks_status_check"),
        sa.Index("career_tracks_name_key", "tenant_id", sa.text("lower(name)"), unique=True),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    description: str | None = None
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class TrackLevel(SQLModel, table=True):
    __tablename__ = "track_levels"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "track_id", "position", name="track_levels_position_key"),
        tenant_fk(["track_id"], "career_tracks", "track_levels_track_fkey", "CASCADE"),
        sa.CheckConstraint("position >= 1", name="track_levels_position_check"),
        sa.CheckConstraint(
            "typical_months is null or typical_months between 0 and 600",
            name="track_levels_typical_check",
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    track_id: uuid.UUID
    position: int
    title: str
    job_level: str | None = None
    typical_months: int | None = None
    description: str | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class LevelSkill(SQLModel, table=True):
    __tablename__ = "level_skills"
    __table_args__ = (
        tenant_fk(["level_id"], "track_levels", "level_skills_level_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "level_skills_skill_fkey"),
        sa.CheckConstraint("min_proficiency between 1 and 10", name="level_skills_min_check"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    level_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)
    min_proficiency: int


class LevelCredential(SQLModel, table=True):
    __tablename__ = "level_credentials"
    __table_args__ = (
        tenant_fk(["level_id"], "track_levels", "level_credentials_level_fkey", "CASCADE"),
        tenant_fk(["credential_type_id"], "credential_types", "level_credentials_type_fkey"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    level_id: uuid.UUID = Field(primary_key=True)
    credential_type_id: uuid.UUID = Field(primary_key=True)


class LevelLink(SQLModel, table=True):
    """A lateral move from one level to a level of another track (directed)."""

    __tablename__ = "level_links"
    __table_args__ = (
        tenant_fk(["from_level_id"], "track_levels", "level_links_from_fkey", "CASCADE"),
        tenant_fk(["to_level_id"], "track_levels", "level_links_to_fkey", "CASCADE"),
        sa.CheckConstraint("from_level_id <> to_level_id", name="level_links_not_self"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    from_level_id: uuid.UUID = Field(primary_key=True)
    to_level_id: uuid.UUID = Field(primary_key=True)


class EmployeeLevel(SQLModel, table=True):
    """Where a person stands on the ladders, since when."""

    __tablename__ = "employee_levels"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "employee_levels_employee_fkey", "CASCADE"),
        tenant_fk(["level_id"], "track_levels", "employee_levels_level_fkey"),
        sa.Index("employee_levels_level_idx", "tenant_id", "level_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    employee_id: uuid.UUID = Field(primary_key=True)
    level_id: uuid.UUID
    since: date
    updated_at: datetime = updated_at_field()


# --- individual development plans ----------------------------------------------------------

PLAN_STATUSES = (
    "draft",
    "submitted",
    "changes_requested",
    "approved",
    "in_progress",
    "completed",
    "archived",
)
GOAL_STATUSES = ("not_started", "in_progress", "completed", "cancelled")
ACTIVITY_KINDS = ("course", "certification", "stretch_assignment", "mentorship", "reading", "other")
ACTIVITY_STATUSES = ("planned", "in_progress", "completed", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class DevelopmentPlan(SQLModel, table=True):
    """A person's IDP for a period: aspirations, target levels, goals. At most one plan that
    is neither completed nor archived per person and overlapping period (checked under a lock
    by the service)."""

    __tablename__ = "development_plans"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "development_plans_employee_fkey", "CASCADE"),
        sa.CheckConstraint(_in("status", PLAN_STATUSES), name="development_plans_status_check"),
        sa.CheckConstraint("period_end >= period_start", name="development_plans_period_check"),
        sa.Index("development_plans_employee_idx", "tenant_id", "employee_id", "period_start"),
        sa.Index("development_plans_status_idx", "tenant_id", "status"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    employee_id: uuid.UUID
    title: str
    period_start: date
    period_end: date
    aspirations: str | None = None
    status: str = Field(default="draft", sa_column_kwargs={"server_default": "draft"})
    review_comment: str | None = None  # the manager's last comment (changes requested / approved)
    submitted_at: datetime | None = optional_ts()
    reviewed_at: datetime | None = optional_ts()
    reviewed_by: uuid.UUID | None = None
    started_at: datetime | None = optional_ts()
    completed_at: datetime | None = optional_ts()
    archived_at: datetime | None = optional_ts()
    created_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PlanTarget(SQLModel, table=True):
    """A level the plan aims at."""

    __tablename__ = "development_plan_targets"
    __table_args__ = (
        tenant_fk(["plan_id"], "development_plans", "plan_targets_plan_fkey", "CASCADE"),
        tenant_fk(["level_id"], "track_levels", "plan_targets_level_fkey"),
        sa.Index("plan_targets_level_idx", "tenant_id", "level_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    plan_id: uuid.UUID = Field(primary_key=True)
    level_id: uuid.UUID = Field(primary_key=True)


class PlanGoal(SQLModel, table=True):
    __tablename__ = "plan_goals"
    __table_args__ = (
        tenant_fk(["plan_id"], "development_plans", "plan_goals_plan_fkey", "CASCADE"),
        sa.CheckConstraint(_in("status", GOAL_STATUSES), name="plan_goals_status_check"),
        sa.CheckConstraint("progress between 0 and 100", name="plan_goals_progress_check"),
        sa.Index("plan_goals_plan_idx", "tenant_id", "plan_id", "position"),
        sa.Index("plan_goals_due_idx", "tenant_id", "due_on"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    plan_id: uuid.UUID
    position: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    title: str
    description: str | None = None
    measure: str | None = None  # how success is measured
    due_on: date | None = None
    status: str = Field(default="not_started", sa_column_kwargs={"server_default": "not_started"})
    progress: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    completed_at: datetime | None = optional_ts()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class GoalSkill(SQLModel, table=True):
    __tablename__ = "plan_goal_skills"
    __table_args__ = (
        tenant_fk(["goal_id"], "plan_goals", "plan_goal_skills_goal_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "plan_goal_skills_skill_fkey"),
        sa.Index("plan_goal_skills_skill_idx", "tenant_id", "skill_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    goal_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)


class PlanActivity(SQLModel, table=True):
    """Something done toward a goal. A certification names a credential type: recording such a
    credential for the plan's owner completes it (`credential_id` says which)."""

    __tablename__ = "plan_activities"
    __table_args__ = (
        tenant_fk(["goal_id"], "plan_goals", "plan_activities_goal_fkey", "CASCADE"),
        tenant_fk(["credential_type_id"], "credential_types", "plan_activities_type_fkey"),
        tenant_fk(["credential_id"], "credentials", "plan_activities_credential_fkey"),
        sa.CheckConstraint(_in("kind", ACTIVITY_KINDS), name="plan_activities_kind_check"),
        sa.CheckConstraint(_in("status", ACTIVITY_STATUSES), name="plan_activities_status_check"),
        sa.CheckConstraint(
            "(kind = 'certification') = (credential_type_id is not null)",
            name="plan_activities_certification_check",
        ),
        sa.Index("plan_activities_goal_idx", "tenant_id", "goal_id", "position"),
        sa.Index("plan_activities_type_idx", "tenant_id", "credential_type_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    goal_id: uuid.UUID
    position: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    kind: str
    title: str
    description: str | None = None
    url: str | None = None
    credential_type_id: uuid.UUID | None = None
    status: str = Field(default="planned", sa_column_kwargs={"server_default": "planned"})
    due_on: date | None = None
    completed_at: datetime | None = optional_ts()
    credential_id: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class PlanEvent(SQLModel, table=True):
    """The history of a plan: every transition and every change to it, its goals and
    activities, with who made it (a person, a service principal, or the system)."""

    __tablename__ = "development_plan_events"
    __table_args__ = (
        tenant_fk(["plan_id"], "development_plans", "plan_events_plan_fkey", "CASCADE"),
        sa.Index("plan_events_plan_idx", "tenant_id", "plan_id", "at", "id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    plan_id: uuid.UUID
    action: str
    from_status: str | None = None
    to_status: str | None = None
    comment: str | None = None
    changes: dict[str, Any] = Field(
        default_factory=dict,
        sa_type=pg.JSONB(),
        sa_column_kwargs={"server_default": sa.text("'{}'::jsonb"), "nullable": False},
    )
    actor_type: str
    actor_id: uuid.UUID | None = None
    at: datetime = created_at_field()


# --- check-ins (1:1s) ----------------------------------------------------------------------

CHECKIN_CADENCES = ("weekly", "biweekly", "monthly")
SERIES_STATUSES = ("active", "paused", "ended")
CHECKIN_STATUSES = ("scheduled", "completed", "cancelled")


class CheckInSeries(SQLModel, table=True):
    """A recurring 1:1 between a manager and a report. Meetings recur from `starts_at` in
    `timezone` (so a 09:30 meeting stays at 09:30 across daylight saving)."""

    __tablename__ = "checkin_series"
    __table_args__ = (
        tenant_fk(["manager_id"], "employees", "checkin_series_manager_fkey", "CASCADE"),
        tenant_fk(["report_id"], "employees", "checkin_series_report_fkey", "CASCADE"),
        sa.CheckConstraint(_in("cadence", CHECKIN_CADENCES), name="checkin_series_cadence_check"),
        sa.CheckConstraint(_in("status", SERIES_STATUSES), name="checkin_series_status_check"),
        sa.CheckConstraint("manager_id <> report_id", name="checkin_series_two_people"),
        sa.CheckConstraint(
            "duration_minutes between 5 and 480", name="checkin_series_duration_check"
        ),
        sa.CheckConstraint(
            "remind_minutes_before between 0 and 10080", name="checkin_series_remind_check"
        ),
        sa.Index(
            "checkin_series_pair_key",
            "tenant_id",
            "manager_id",
            "report_id",
            unique=True,
            postgresql_where=sa.text("status <> 'ended'"),
        ),
        sa.Index("checkin_series_report_idx", "tenant_id", "report_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    manager_id: uuid.UUID
    report_id: uuid.UUID
    title: str
    cadence: str
    starts_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    timezone: str
    duration_minutes: int = Field(default=30, sa_column_kwargs={"server_default": "30"})
    remind_minutes_before: int = Field(default=1440, sa_column_kwargs={"server_default": "1440"})
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    created_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CheckIn(SQLModel, table=True):
    """One meeting of a series (materialized ahead by the service and the scheduler).
    `slot_at` is the occurrence of the recurrence it fills (its identity: materializing is
    idempotent on it); `occurs_at` is when it takes place (moved by a reschedule)."""

    __tablename__ = "checkins"
    __table_args__ = (
        tenant_fk(["series_id"], "checkin_series", "checkins_series_fkey", "CASCADE"),
        sa.UniqueConstraint("tenant_id", "series_id", "occurs_at", name="checkins_occurrence_key"),
        sa.UniqueConstraint("tenant_id", "series_id", "slot_at", name="checkins_slot_key"),
        sa.CheckConstraint(_in("status", CHECKIN_STATUSES), name="checkins_status_check"),
        sa.Index("checkins_time_idx", "tenant_id", "occurs_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    series_id: uuid.UUID
    slot_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    occurs_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    status: str = Field(default="scheduled", sa_column_kwargs={"server_default": "scheduled"})
    shared_notes: str | None = None
    completed_at: datetime | None = optional_ts()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CheckInAgendaItem(SQLModel, table=True):
    __tablename__ = "checkin_agenda_items"
    __table_args__ = (
        tenant_fk(["checkin_id"], "checkins", "checkin_agenda_items_checkin_fkey", "CASCADE"),
        tenant_fk(["author_id"], "employees", "checkin_agenda_items_author_fkey", "CASCADE"),
        sa.Index("checkin_agenda_items_idx", "tenant_id", "checkin_id", "position"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    checkin_id: uuid.UUID
    author_id: uuid.UUID
    body: str
    position: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    discussed: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CheckInPrivateNote(SQLModel, table=True):
    """A note only its author ever reads (not the other participant, not HR)."""

    __tablename__ = "checkin_private_notes"
    __table_args__ = (
        tenant_fk(["checkin_id"], "checkins", "checkin_private_notes_checkin_fkey", "CASCADE"),
        tenant_fk(["author_id"], "employees", "checkin_private_notes_author_fkey", "CASCADE"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    checkin_id: uuid.UUID = Field(primary_key=True)
    author_id: uuid.UUID = Field(primary_key=True)
    body: str
    updated_at: datetime = updated_at_field()


class CheckInActionItem(SQLModel, table=True):
    __tablename__ = "checkin_action_items"
    __table_args__ = (
        tenant_fk(["checkin_id"], "checkins", "checkin_action_items_checkin_fkey", "CASCADE"),
        tenant_fk(["owner_id"], "employees", "checkin_action_items_owner_fkey", "CASCADE"),
        tenant_fk(["goal_id"], "plan_goals", "checkin_action_items_goal_fkey"),
        sa.Index("checkin_action_items_idx", "tenant_id", "checkin_id"),
        sa.Index("checkin_action_items_goal_idx", "tenant_id", "goal_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    checkin_id: uuid.UUID
    owner_id: uuid.UUID
    body: str
    due_on: date | None = None
    goal_id: uuid.UUID | None = None
    done_at: datetime | None = optional_ts()
    created_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


# --- feedback ------------------------------------------------------------------------------

FEEDBACK_VISIBILITIES = ("recipient", "recipient_and_manager")


class FeedbackSettings(SQLModel, table=True):
    """The tenant's feedback switches (no row: the defaults). `hr_reads_feedback` lets HR read
    all feedback of the tenant; off, only the giver, the recipient and (when the giver chose
    so) the recipient's management line read it."""

    __tablename__ = "feedback_settings"

    tenant_id: uuid.UUID = tenant_id_field()
    hr_reads_feedback: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    updated_at: datetime = updated_at_field()


class FeedbackRequest(SQLModel, table=True):
    """Someone asks named colleagues for feedback on a skill or a goal of theirs."""

    __tablename__ = "feedback_requests"
    __table_args__ = (
        tenant_fk(["requester_id"], "employees", "feedback_requests_requester_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "feedback_requests_skill_fkey"),
        tenant_fk(["goal_id"], "plan_goals", "feedback_requests_goal_fkey", "CASCADE"),
        sa.CheckConstraint(
            _in("status", ("open", "closed")), name="feedback_requests_status_check"
        ),
        sa.Index("feedback_requests_requester_idx", "tenant_id", "requester_id", "created_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    requester_id: uuid.UUID
    skill_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None
    message: str | None = None
    due_on: date | None = None
    status: str = Field(default="open", sa_column_kwargs={"server_default": "open"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class FeedbackRequestResponder(SQLModel, table=True):
    __tablename__ = "feedback_request_responders"
    __table_args__ = (
        tenant_fk(
            ["request_id"],
            "feedback_requests",
            "feedback_request_responders_request_fkey",
            "CASCADE",
        ),
        tenant_fk(
            ["responder_id"], "employees", "feedback_request_responders_responder_fkey", "CASCADE"
        ),
        sa.CheckConstraint(
            _in("status", ("pending", "given", "declined")),
            name="feedback_request_responders_status_check",
        ),
        sa.Index("feedback_request_responders_idx", "tenant_id", "responder_id", "status"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    request_id: uuid.UUID = Field(primary_key=True)
    responder_id: uuid.UUID = Field(primary_key=True)
    status: str = Field(default="pending", sa_column_kwargs={"server_default": "pending"})
    responded_at: datetime | None = optional_ts()


class Feedback(SQLModel, table=True):
    """Feedback from a giver to a recipient, read only by the two of them (and the recipient's
    manager when the giver chose so; HR only when the tenant enables it)."""

    __tablename__ = "feedback"
    __table_args__ = (
        tenant_fk(["giver_id"], "employees", "feedback_giver_fkey", "CASCADE"),
        tenant_fk(["recipient_id"], "employees", "feedback_recipient_fkey", "CASCADE"),
        tenant_fk(["request_id"], "feedback_requests", "feedback_request_fkey", "CASCADE"),
        tenant_fk(["skill_id"], "skills", "feedback_skill_fkey"),
        tenant_fk(["goal_id"], "plan_goals", "feedback_goal_fkey", "CASCADE"),
        sa.CheckConstraint(
            _in("visibility", FEEDBACK_VISIBILITIES), name="feedback_visibility_check"
        ),
        sa.CheckConstraint("giver_id <> recipient_id", name="feedback_two_people"),
        sa.Index("feedback_recipient_idx", "tenant_id", "recipient_id", "created_at", "id"),
        sa.Index("feedback_giver_idx", "tenant_id", "giver_id", "created_at", "id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    giver_id: uuid.UUID
    recipient_id: uuid.UUID
    request_id: uuid.UUID | None = None
    skill_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None
    body: str
    visibility: str = Field(default="recipient", sa_column_kwargs={"server_default": "recipient"})
    created_at: datetime = created_at_field()


# --- mentorship and learning resources -----------------------------------------------------

MENTORSHIP_STATUSES = ("requested", "active", "declined", "cancelled", "ended")
RESOURCE_KINDS = ("course", "certification", "stretch_assignment", "reading", "other")


class MentorProfile(SQLModel, table=True):
    """A person who opted in to mentor: the skills they teach and how many mentees at once."""

    __tablename__ = "mentor_profiles"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "mentor_profiles_employee_fkey", "CASCADE"),
        sa.CheckConstraint("capacity between 0 and 50", name="mentor_profiles_capacity_check"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    employee_id: uuid.UUID = Field(primary_key=True)
    capacity: int
    bio: str | None = None
    active: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class MentorSkill(SQLModel, table=True):
    __tablename__ = "mentor_skills"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["tenant_id", "employee_id"],
            ["mentor_profiles.tenant_id", "mentor_profiles.employee_id"],
            name="mentor_skills_mentor_fkey",
            ondelete="CASCADE",
        ),
        tenant_fk(["skill_id"], "skills", "mentor_skills_skill_fkey"),
        sa.Index("mentor_skills_skill_idx", "tenant_id", "skill_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    employee_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)


class Mentorship(SQLModel, table=True):
    """request -> accepted (active) or declined; cancelled by the mentee before an answer;
    ended by either side."""

    __tablename__ = "mentorships"
    __table_args__ = (
        tenant_fk(["mentor_id"], "employees", "mentorships_mentor_fkey", "CASCADE"),
        tenant_fk(["mentee_id"], "employees", "mentorships_mentee_fkey", "CASCADE"),
        tenant_fk(["goal_id"], "plan_goals", "mentorships_goal_fkey"),
        sa.CheckConstraint(_in("status", MENTORSHIP_STATUSES), name="mentorships_status_check"),
        sa.CheckConstraint("mentor_id <> mentee_id", name="mentorships_two_people"),
        sa.Index(
            "mentorships_pair_key",
            "tenant_id",
            "mentor_id",
            "mentee_id",
            unique=True,
            postgresql_where=sa.text("status in ('requested', 'active')"),
        ),
        sa.Index("mentorships_mentor_idx", "tenant_id", "mentor_id", "status"),
        sa.Index("mentorships_mentee_idx", "tenant_id", "mentee_id", "status"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    mentor_id: uuid.UUID
    mentee_id: uuid.UUID
    goal_id: uuid.UUID | None = None
    skill_ids: list[uuid.UUID] = Field(
        default_factory=list,
        sa_type=pg.ARRAY(pg.UUID(as_uuid=True)),
        sa_column_kwargs={"server_default": sa.text("'{}'::uuid[]"), "nullable": False},
    )
    message: str | None = None
    response: str | None = None
    status: str = Field(default="requested", sa_column_kwargs={"server_default": "requested"})
    requested_at: datetime = created_at_field()
    responded_at: datetime | None = optional_ts()
    ended_at: datetime | None = optional_ts()
    updated_at: datetime = updated_at_field()


class LearningResource(SQLModel, table=True):
    """A course, certification, reading... tagged with the skills it builds: what readiness
    suggests for a missing skill."""

    __tablename__ = "learning_resources"
    __table_args__ = (
        tenant_fk(["credential_type_id"], "credential_types", "learning_resources_type_fkey"),
        sa.CheckConstraint(_in("kind", RESOURCE_KINDS), name="learning_resources_kind_check"),
        sa.CheckConstraint(_in("status", SKILL_STATUSES), name="learning_resources_status_check"),
        sa.Index("learning_resources_title_key", "tenant_id", sa.text("lower(title)"), unique=True),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    title: str
    kind: str
    url: str | None = None
    provider: str | None = None
    description: str | None = None
    duration_hours: int | None = None
    credential_type_id: uuid.UUID | None = None
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class LearningResourceSkill(SQLModel, table=True):
    __tablename__ = "learning_resource_skills"
    __table_args__ = (
        tenant_fk(
            ["resource_id"],
            "learning_resources",
            "learning_resource_skills_resource_fkey",
            "CASCADE",
        ),
        tenant_fk(["skill_id"], "skills", "learning_resource_skills_skill_fkey"),
        sa.Index("learning_resource_skills_skill_idx", "tenant_id", "skill_id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    resource_id: uuid.UUID = Field(primary_key=True)
    skill_id: uuid.UUID = Field(primary_key=True)
