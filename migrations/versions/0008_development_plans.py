"""Development, fourth part: individual development plans (IDPs) with target levels, goals,
activities (a certification completes itself when its credential is recorded) and history.

Revision ID: 0008_development_plans
Revises: 0007_career_tracks
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0008_development_plans"
down_revision: str | None = "0007_career_tracks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "development_plans",
    "development_plan_targets",
    "plan_goals",
    "plan_goal_skills",
    "plan_activities",
    "development_plan_events",
)
TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE development_plans (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            employee_id uuid NOT NULL,
            title text NOT NULL,
            period_start date NOT NULL,
            period_end date NOT NULL,
            aspirations text,
            status text DEFAULT 'draft' NOT NULL,
            review_comment text,
            submitted_at timestamptz,
            reviewed_at timestamptz,
            reviewed_by uuid,
            started_at timestamptz,
            completed_at timestamptz,
            archived_at timestamptz,
            created_by uuid,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT development_plans_employee_fkey FOREIGN KEY(tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT development_plans_status_check CHECK (status in ('draft', 'submitted', 'changes_requested', 'approved', 'in_progress', 'completed', 'archived')),
            CONSTRAINT development_plans_period_check CHECK (period_end >= period_start)
        )
        """
    )
    op.execute(
        "CREATE INDEX development_plans_employee_idx ON development_plans (tenant_id, employee_id, period_start)"
    )
    op.execute("CREATE INDEX development_plans_status_idx ON development_plans (tenant_id, status)")
    op.execute(
        f"""
        CREATE TABLE development_plan_targets (
            {TENANT},
            plan_id uuid NOT NULL,
            level_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, plan_id, level_id),
            CONSTRAINT plan_targets_plan_fkey FOREIGN KEY(tenant_id, plan_id) REFERENCES development_plans (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT plan_targets_level_fkey FOREIGN KEY(tenant_id, level_id) REFERENCES track_levels (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX plan_targets_level_idx ON development_plan_targets (tenant_id, level_id)"
    )
    op.execute(
        f"""
        CREATE TABLE plan_goals (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            plan_id uuid NOT NULL,
            position integer DEFAULT '0' NOT NULL,
            title text NOT NULL,
            description text,
            measure text,
            due_on date,
            status text DEFAULT 'not_started' NOT NULL,
            progress integer DEFAULT '0' NOT NULL,
            completed_at timestamptz,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT plan_goals_plan_fkey FOREIGN KEY(tenant_id, plan_id) REFERENCES development_plans (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT plan_goals_status_check CHECK (status in ('not_started', 'in_progress', 'completed', 'cancelled')),
            CONSTRAINT plan_goals_progress_check CHECK (progress between 0 and 100)
        )
        """
    )
    op.execute("CREATE INDEX plan_goals_due_idx ON plan_goals (tenant_id, due_on)")
    op.execute("CREATE INDEX plan_goals_plan_idx ON plan_goals (tenant_id, plan_id, position)")
    op.execute(
        f"""
        CREATE TABLE plan_goal_skills (
            {TENANT},
            goal_id uuid NOT NULL,
            skill_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, goal_id, skill_id),
            CONSTRAINT plan_goal_skills_goal_fkey FOREIGN KEY(tenant_id, goal_id) REFERENCES plan_goals (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT plan_goal_skills_skill_fkey FOREIGN KEY(tenant_id, skill_id) REFERENCES skills (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX plan_goal_skills_skill_idx ON plan_goal_skills (tenant_id, skill_id)")
    op.execute(
        f"""
        CREATE TABLE plan_activities (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            goal_id uuid NOT NULL,
            position integer DEFAULT '0' NOT NULL,
            kind text NOT NULL,
            title text NOT NULL,
            description text,
            url text,
            credential_type_id uuid,
            status text DEFAULT 'planned' NOT NULL,
            due_on date,
            completed_at timestamptz,
            credential_id uuid,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT plan_activities_goal_fkey FOREIGN KEY(tenant_id, goal_id) REFERENCES plan_goals (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT plan_activities_type_fkey FOREIGN KEY(tenant_id, credential_type_id) REFERENCES credential_types (tenant_id, id),
            CONSTRAINT plan_activities_credential_fkey FOREIGN KEY(tenant_id, credential_id) REFERENCES credentials (tenant_id, id),
            CONSTRAINT plan_activities_kind_check CHECK (kind in ('course', 'certification', 'stretch_assignment', 'mentorship', 'reading', 'other')),
            CONSTRAINT plan_activities_status_check CHECK (status in ('planned', 'in_progress', 'completed', 'cancelled')),
            CONSTRAINT plan_activities_certification_check CHECK ((kind = 'certification') = (credential_type_id is not null))
        )
        """
    )
    op.execute(
        "CREATE INDEX plan_activities_goal_idx ON plan_activities (tenant_id, goal_id, position)"
    )
    op.execute(
        "CREATE INDEX plan_activities_type_idx ON plan_activities (tenant_id, credential_type_id)"
    )
    op.execute(
        f"""
        CREATE TABLE development_plan_events (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            plan_id uuid NOT NULL,
            action text NOT NULL,
            from_status text,
            to_status text,
            comment text,
            changes jsonb DEFAULT '{{}}'::jsonb NOT NULL,
            actor_type text NOT NULL,
            actor_id uuid,
            at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT plan_events_plan_fkey FOREIGN KEY(tenant_id, plan_id) REFERENCES development_plans (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        "CREATE INDEX plan_events_plan_idx ON development_plan_events (tenant_id, plan_id, at, id)"
    )
    for table in TENANT_TABLES:
        for statement in tenant_table_security(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for statement in drop_tenant_table_security(table):
            op.execute(statement)
        op.execute(f"DROP TABLE {table}")
