"""Development, third part: career tracks (ladders of levels with expected skills and required
credentials), lateral links between levels, and where each person stands.

Revision ID: 0007_career_tracks
Revises: 0006_employee_skills
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0007_career_tracks"
down_revision: str | None = "0006_employee_skills"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "career_tracks",
    "track_levels",
    "level_skills",
    "level_credentials",
    "level_links",
    "employee_levels",
)
TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE career_tracks (
            {TENANT},
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            name text NOT NULL,
            description text,
            status text NOT NULL DEFAULT 'active'
                CONSTRAINT career_tracks_status_check CHECK (status in ('active', 'retired')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX career_tracks_name_key ON career_tracks (tenant_id, lower(name))"
    )
    op.execute(
        f"""
        CREATE TABLE track_levels (
            {TENANT},
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            track_id uuid NOT NULL,
            position integer NOT NULL CONSTRAINT track_levels_position_check CHECK (position >= 1),
            title text NOT NULL,
            job_level text,
            typical_months integer CONSTRAINT track_levels_typical_check
                CHECK (typical_months is null or typical_months between 0 and 600),
            description text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT track_levels_position_key UNIQUE (tenant_id, track_id, position),
            CONSTRAINT track_levels_track_fkey FOREIGN KEY (tenant_id, track_id)
                REFERENCES career_tracks (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE level_skills (
            {TENANT},
            level_id uuid NOT NULL,
            skill_id uuid NOT NULL,
            min_proficiency integer NOT NULL CONSTRAINT level_skills_min_check
                CHECK (min_proficiency between 1 and 10),
            PRIMARY KEY (tenant_id, level_id, skill_id),
            CONSTRAINT level_skills_level_fkey FOREIGN KEY (tenant_id, level_id)
                REFERENCES track_levels (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT level_skills_skill_fkey FOREIGN KEY (tenant_id, skill_id)
                REFERENCES skills (tenant_id, id)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE level_credentials (
            {TENANT},
            level_id uuid NOT NULL,
            credential_type_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, level_id, credential_type_id),
            CONSTRAINT level_credentials_level_fkey FOREIGN KEY (tenant_id, level_id)
                REFERENCES track_levels (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT level_credentials_type_fkey FOREIGN KEY (tenant_id, credential_type_id)
                REFERENCES credential_types (tenant_id, id)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE level_links (
            {TENANT},
            from_level_id uuid NOT NULL,
            to_level_id uuid NOT NULL,
            PRIMARY KEY (tenant_id, from_level_id, to_level_id),
            CONSTRAINT level_links_from_fkey FOREIGN KEY (tenant_id, from_level_id)
                REFERENCES track_levels (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT level_links_to_fkey FOREIGN KEY (tenant_id, to_level_id)
                REFERENCES track_levels (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT level_links_not_self CHECK (from_level_id <> to_level_id)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE employee_levels (
            {TENANT},
            employee_id uuid NOT NULL,
            level_id uuid NOT NULL,
            since date NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, employee_id),
            CONSTRAINT employee_levels_employee_fkey FOREIGN KEY (tenant_id, employee_id)
                REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT employee_levels_level_fkey FOREIGN KEY (tenant_id, level_id)
                REFERENCES track_levels (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX employee_levels_level_idx ON employee_levels (tenant_id, level_id)")
    for table in TENANT_TABLES:
        for stmt in tenant_table_security(table):
            op.execute(stmt)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for stmt in drop_tenant_table_security(table):
            op.execute(stmt)
        op.execute(f"DROP TABLE {table}")
