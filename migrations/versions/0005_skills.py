"""Development, first part: the skills catalog (a tree per tenant) and the proficiency scale.

Revision ID: 0005_skills
Revises: 0004_notifications
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0005_skills"
down_revision: str | None = "0004_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("skills", "proficiency_levels")


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE skills (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            name text NOT NULL,
            category text NOT NULL,
            parent_id uuid,
            description text,
            aliases text[] NOT NULL DEFAULT '{}'::text[],
            external_ids jsonb NOT NULL DEFAULT '{}'::jsonb,
            status text NOT NULL DEFAULT 'active'
                CONSTRAINT skills_status_check CHECK (status in ('active', 'retired')),
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT skills_parent_fkey FOREIGN KEY (tenant_id, parent_id)
                REFERENCES skills (tenant_id, id),
            CONSTRAINT skills_not_own_parent CHECK (parent_id is distinct from id)
        )
        """
    )
    # names are unique per tenant whatever their case ("Python" and "python" are one skill)
    op.execute("CREATE UNIQUE INDEX skills_name_key ON skills (tenant_id, lower(name))")
    op.execute("CREATE INDEX skills_parent_idx ON skills (tenant_id, parent_id)")
    op.execute("CREATE INDEX skills_category_idx ON skills (tenant_id, category, name, id)")
    op.execute("CREATE INDEX skills_order_idx ON skills (tenant_id, name, id)")
    op.execute(
        """
        CREATE TABLE proficiency_levels (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            level integer NOT NULL CONSTRAINT proficiency_levels_level_check
                CHECK (level between 1 and 10),
            name text NOT NULL,
            descriptor text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, level)
        )
        """
    )
    for table in TENANT_TABLES:
        for stmt in tenant_table_security(table):
            op.execute(stmt)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for stmt in drop_tenant_table_security(table):
            op.execute(stmt)
        op.execute(f"DROP TABLE {table}")
