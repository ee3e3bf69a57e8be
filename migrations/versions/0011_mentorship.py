"""Development, seventh part: mentors (skills they teach, capacity), mentorships, and the
learning resources readiness suggests for missing skills.

Revision ID: 0011_mentorship
Revises: 0010_feedback
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0011_mentorship"
down_revision: str | None = "0010_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "mentor_profiles",
    "mentor_skills",
    "mentorships",
    "learning_resources",
    "learning_resource_skills",
)
TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE mentor_profiles (
            {TENANT},
            employee_id uuid NOT NULL,
            capacity integer NOT NULL,
            bio text,
            active boolean DEFAULT 'true' NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, employee_id),
            CONSTRAINT mentor_profiles_employee_fkey FOREIGN KEY(tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT mentor_profiles_capacity_check CHECK (capacity between 0 and 50)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE mentor_skills (
            {TENANT},
            employee_id uuid NOT NULL,
            skill_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, employee_id, skill_id),
            CONSTRAINT mentor_skills_mentor_fkey FOREIGN KEY(tenant_id, employee_id) REFERENCES mentor_profiles (tenant_id, employee_id) ON DELETE CASCADE,
            CONSTRAINT mentor_skills_skill_fkey FOREIGN KEY(tenant_id, skill_id) REFERENCES skills (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX mentor_skills_skill_idx ON mentor_skills (tenant_id, skill_id)")
    op.execute(
        f"""
        CREATE TABLE mentorships (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            mentor_id uuid NOT NULL,
            mentee_id uuid NOT NULL,
            goal_id uuid,
            skill_ids uuid[] DEFAULT '{{}}'::uuid[] NOT NULL,
            message text,
            response text,
            status text DEFAULT 'requested' NOT NULL,
            requested_at timestamptz DEFAULT now() NOT NULL,
            responded_at timestamptz,
            ended_at timestamptz,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT mentorships_mentor_fkey FOREIGN KEY(tenant_id, mentor_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT mentorships_mentee_fkey FOREIGN KEY(tenant_id, mentee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT mentorships_goal_fkey FOREIGN KEY(tenant_id, goal_id) REFERENCES plan_goals (tenant_id, id),
            CONSTRAINT mentorships_status_check CHECK (status in ('requested', 'active', 'declined', 'cancelled', 'ended')),
            CONSTRAINT mentorships_two_people CHECK (mentor_id <> mentee_id)
        )
        """
    )
    op.execute("CREATE INDEX mentorships_mentee_idx ON mentorships (tenant_id, mentee_id, status)")
    op.execute("CREATE INDEX mentorships_mentor_idx ON mentorships (tenant_id, mentor_id, status)")
    op.execute(
        "CREATE UNIQUE INDEX mentorships_pair_key ON mentorships (tenant_id, mentor_id, mentee_id) WHERE status in ('requested', 'active')"
    )
    op.execute(
        f"""
        CREATE TABLE learning_resources (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            title text NOT NULL,
            kind text NOT NULL,
            url text,
            provider text,
            description text,
            duration_hours integer,
            credential_type_id uuid,
            status text DEFAULT 'active' NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT learning_resources_type_fkey FOREIGN KEY(tenant_id, credential_type_id) REFERENCES credential_types (tenant_id, id),
            CONSTRAINT learning_resources_kind_check CHECK (kind in ('course', 'certification', 'stretch_assignment', 'reading', 'other')),
            CONSTRAINT learning_resources_status_check CHECK (status in ('active', 'retired'))
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX learning_resources_title_key ON learning_resources (tenant_id, lower(title))"
    )
    op.execute(
        f"""
        CREATE TABLE learning_resource_skills (
            {TENANT},
            resource_id uuid NOT NULL,
            skill_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, resource_id, skill_id),
            CONSTRAINT learning_resource_skills_resource_fkey FOREIGN KEY(tenant_id, resource_id) REFERENCES learning_resources (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT learning_resource_skills_skill_fkey FOREIGN KEY(tenant_id, skill_id) REFERENCES skills (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX learning_resource_skills_skill_idx ON learning_resource_skills (tenant_id, skill_id)"
    )
    for table in TENANT_TABLES:
        for statement in tenant_table_security(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for statement in drop_tenant_table_security(table):
            op.execute(statement)
        op.execute(f"DROP TABLE {table}")
