"""Internal mobility: job postings and gigs (locations, required and preferred skills, required
credentials, visibility, eligibility), career preferences, applications and their history,
people's moves, stored matches, match alerts, and the tenant's mobility settings.

Revision ID: 0012_mobility
Revises: 0011_mentorship
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0012_mobility"
down_revision: str | None = "0011_mentorship"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "job_postings",
    "job_posting_locations",
    "job_posting_skills",
    "job_posting_credentials",
    "career_preferences",
    "applications",
    "application_events",
    "employee_moves",
    "posting_matches",
    "match_alerts",
    "mobility_settings",
)
TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE job_postings (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            kind text NOT NULL,
            title text NOT NULL,
            description text,
            department_id uuid,
            work_mode text DEFAULT 'on_site' NOT NULL,
            level_id uuid,
            hiring_manager_id uuid NOT NULL,
            openings integer DEFAULT '1' NOT NULL,
            filled integer DEFAULT '0' NOT NULL,
            status text DEFAULT 'draft' NOT NULL,
            opens_on date,
            closes_on date,
            start_on date,
            hours_per_week integer,
            duration_weeks integer,
            min_months_in_role integer,
            visible_department_ids uuid[] DEFAULT '{{}}'::uuid[] NOT NULL,
            visible_location_ids uuid[] DEFAULT '{{}}'::uuid[] NOT NULL,
            visible_level_ids uuid[] DEFAULT '{{}}'::uuid[] NOT NULL,
            created_by uuid,
            opened_at timestamptz,
            closed_at timestamptz,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT job_postings_department_fkey FOREIGN KEY(tenant_id, department_id) REFERENCES departments (tenant_id, id),
            CONSTRAINT job_postings_level_fkey FOREIGN KEY(tenant_id, level_id) REFERENCES track_levels (tenant_id, id),
            CONSTRAINT job_postings_manager_fkey FOREIGN KEY(tenant_id, hiring_manager_id) REFERENCES employees (tenant_id, id),
            CONSTRAINT job_postings_kind_check CHECK (kind in ('role', 'gig')),
            CONSTRAINT job_postings_work_mode_check CHECK (work_mode in ('on_site', 'hybrid', 'remote')),
            CONSTRAINT job_postings_status_check CHECK (status in ('draft', 'open', 'closed', 'filled')),
            CONSTRAINT job_postings_openings_check CHECK (openings between 1 and 1000),
            CONSTRAINT job_postings_filled_check CHECK (filled between 0 and openings),
            CONSTRAINT job_postings_dates_check CHECK (closes_on is null or opens_on is null or closes_on >= opens_on),
            CONSTRAINT job_postings_hours_check CHECK (hours_per_week is null or hours_per_week between 1 and 60),
            CONSTRAINT job_postings_duration_check CHECK (duration_weeks is null or duration_weeks between 1 and 104),
            CONSTRAINT job_postings_min_months_check CHECK (min_months_in_role is null or min_months_in_role between 0 and 240)
        )
        """
    )
    op.execute(
        "CREATE INDEX job_postings_manager_idx ON job_postings (tenant_id, hiring_manager_id)"
    )
    op.execute("CREATE INDEX job_postings_status_idx ON job_postings (tenant_id, status, opens_on)")
    op.execute(
        f"""
        CREATE TABLE job_posting_locations (
            {TENANT},
            posting_id uuid NOT NULL,
            location_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, posting_id, location_id),
            CONSTRAINT job_posting_locations_posting_fkey FOREIGN KEY(tenant_id, posting_id) REFERENCES job_postings (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT job_posting_locations_location_fkey FOREIGN KEY(tenant_id, location_id) REFERENCES locations (tenant_id, id)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE job_posting_skills (
            {TENANT},
            posting_id uuid NOT NULL,
            skill_id uuid NOT NULL,
            required boolean DEFAULT 'true' NOT NULL,
            min_proficiency integer NOT NULL,
            PRIMARY KEY (tenant_id, posting_id, skill_id),
            CONSTRAINT job_posting_skills_posting_fkey FOREIGN KEY(tenant_id, posting_id) REFERENCES job_postings (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT job_posting_skills_skill_fkey FOREIGN KEY(tenant_id, skill_id) REFERENCES skills (tenant_id, id),
            CONSTRAINT job_posting_skills_min_check CHECK (min_proficiency between 1 and 10)
        )
        """
    )
    op.execute(
        "CREATE INDEX job_posting_skills_skill_idx ON job_posting_skills (tenant_id, skill_id)"
    )
    op.execute(
        f"""
        CREATE TABLE job_posting_credentials (
            {TENANT},
            posting_id uuid NOT NULL,
            credential_type_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, posting_id, credential_type_id),
            CONSTRAINT job_posting_credentials_posting_fkey FOREIGN KEY(tenant_id, posting_id) REFERENCES job_postings (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT job_posting_credentials_type_fkey FOREIGN KEY(tenant_id, credential_type_id) REFERENCES credential_types (tenant_id, id)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE career_preferences (
            {TENANT},
            employee_id uuid NOT NULL,
            open_to_moves text DEFAULT 'no' NOT NULL,
            track_ids uuid[] DEFAULT '{{}}'::uuid[] NOT NULL,
            level_ids uuid[] DEFAULT '{{}}'::uuid[] NOT NULL,
            location_ids uuid[] DEFAULT '{{}}'::uuid[] NOT NULL,
            work_modes TEXT[] DEFAULT '{{}}'::text[] NOT NULL,
            willing_to_relocate boolean DEFAULT 'false' NOT NULL,
            open_to_gigs boolean DEFAULT 'false' NOT NULL,
            gig_hours_per_week integer,
            open_to_downward boolean DEFAULT 'false' NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, employee_id),
            CONSTRAINT career_preferences_employee_fkey FOREIGN KEY(tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT career_preferences_open_check CHECK (open_to_moves in ('no', 'yes', 'confidential')),
            CONSTRAINT career_preferences_gig_hours_check CHECK (gig_hours_per_week is null or gig_hours_per_week between 1 and 60)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE applications (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            posting_id uuid NOT NULL,
            employee_id uuid NOT NULL,
            note text,
            stage text DEFAULT 'applied' NOT NULL,
            rejection_reason text,
            share_with_manager boolean DEFAULT 'false' NOT NULL,
            manager_told_at timestamptz,
            stage_changed_at timestamptz DEFAULT now() NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT applications_posting_fkey FOREIGN KEY(tenant_id, posting_id) REFERENCES job_postings (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT applications_employee_fkey FOREIGN KEY(tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT applications_stage_check CHECK (stage in ('applied', 'screening', 'interviewing', 'offer', 'hired', 'rejected', 'withdrawn'))
        )
        """
    )
    op.execute(
        "CREATE INDEX applications_employee_idx ON applications (tenant_id, employee_id, created_at)"
    )
    op.execute(
        "CREATE UNIQUE INDEX applications_live_key ON applications (tenant_id, posting_id, employee_id) WHERE stage <> 'withdrawn'"
    )
    op.execute(
        "CREATE INDEX applications_posting_idx ON applications (tenant_id, posting_id, stage)"
    )
    op.execute(
        f"""
        CREATE TABLE application_events (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            application_id uuid NOT NULL,
            from_stage text,
            to_stage text NOT NULL,
            reason text,
            actor_type text NOT NULL,
            actor_id uuid,
            at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT application_events_application_fkey FOREIGN KEY(tenant_id, application_id) REFERENCES applications (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        "CREATE INDEX application_events_idx ON application_events (tenant_id, application_id, at, id)"
    )
    op.execute(
        f"""
        CREATE TABLE employee_moves (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            employee_id uuid NOT NULL,
            kind text NOT NULL,
            posting_id uuid,
            application_id uuid,
            moved_on date NOT NULL,
            before jsonb DEFAULT '{{}}'::jsonb NOT NULL,
            after jsonb DEFAULT '{{}}'::jsonb NOT NULL,
            actor_id uuid,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT employee_moves_employee_fkey FOREIGN KEY(tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT employee_moves_posting_fkey FOREIGN KEY(tenant_id, posting_id) REFERENCES job_postings (tenant_id, id),
            CONSTRAINT employee_moves_application_fkey FOREIGN KEY(tenant_id, application_id) REFERENCES applications (tenant_id, id),
            CONSTRAINT employee_moves_kind_check CHECK (kind in ('promotion', 'lateral', 'gig', 'other'))
        )
        """
    )
    op.execute(
        "CREATE INDEX employee_moves_employee_idx ON employee_moves (tenant_id, employee_id, moved_on)"
    )
    op.execute("CREATE INDEX employee_moves_time_idx ON employee_moves (tenant_id, moved_on)")
    op.execute(
        f"""
        CREATE TABLE posting_matches (
            {TENANT},
            posting_id uuid NOT NULL,
            employee_id uuid NOT NULL,
            score FLOAT NOT NULL,
            eligible boolean NOT NULL,
            explanation jsonb DEFAULT '{{}}'::jsonb NOT NULL,
            computed_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, posting_id, employee_id),
            CONSTRAINT posting_matches_posting_fkey FOREIGN KEY(tenant_id, posting_id) REFERENCES job_postings (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT posting_matches_employee_fkey FOREIGN KEY(tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT posting_matches_score_check CHECK (score between 0 and 100)
        )
        """
    )
    op.execute(
        "CREATE INDEX posting_matches_person_idx ON posting_matches (tenant_id, employee_id, score DESC, posting_id)"
    )
    op.execute(
        "CREATE INDEX posting_matches_rank_idx ON posting_matches (tenant_id, posting_id, score DESC, employee_id)"
    )
    op.execute(
        f"""
        CREATE TABLE match_alerts (
            {TENANT},
            posting_id uuid NOT NULL,
            employee_id uuid NOT NULL,
            score FLOAT NOT NULL,
            alerted_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, posting_id, employee_id),
            CONSTRAINT match_alerts_posting_fkey FOREIGN KEY(tenant_id, posting_id) REFERENCES job_postings (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT match_alerts_employee_fkey FOREIGN KEY(tenant_id, employee_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        "CREATE INDEX match_alerts_week_idx ON match_alerts (tenant_id, employee_id, alerted_at)"
    )
    op.execute(
        f"""
        CREATE TABLE mobility_settings (
            {TENANT},
            manager_notice_stage text DEFAULT 'offer' NOT NULL,
            max_alerts_per_week integer DEFAULT '3' NOT NULL,
            alert_top_n integer DEFAULT '20' NOT NULL,
            alert_min_score integer DEFAULT '60' NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id),
            CONSTRAINT mobility_settings_stage_check CHECK (manager_notice_stage in ('applied', 'screening', 'interviewing', 'offer', 'hired')),
            CONSTRAINT mobility_settings_alerts_check CHECK (max_alerts_per_week between 0 and 50),
            CONSTRAINT mobility_settings_top_check CHECK (alert_top_n between 1 and 500),
            CONSTRAINT mobility_settings_min_score_check CHECK (alert_min_score between 0 and 100)
        )
        """
    )
    for table in TENANT_TABLES:
        for statement in tenant_table_security(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for statement in drop_tenant_table_security(table):
            op.execute(statement)
        op.execute(f"DROP TABLE {table}")
