"""Development, second part: people's skills (rated, with their history) and the skills a
credential type grants while a credential of it is valid.

Revision ID: 0006_employee_skills
Revises: 0005_skills
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0006_employee_skills"
down_revision: str | None = "0005_skills"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("employee_skills", "employee_skill_events", "credential_type_skills")


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE employee_skills (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            employee_id uuid NOT NULL,
            skill_id uuid NOT NULL,
            proficiency integer NOT NULL CONSTRAINT employee_skills_proficiency_check
                CHECK (proficiency between 1 and 10),
            source text NOT NULL CONSTRAINT employee_skills_source_check
                CHECK (source in ('self_assessed', 'manager_assessed', 'assessment')),
            interest boolean NOT NULL DEFAULT false,
            last_used_on date,
            validated_by uuid,
            validated_at timestamptz,
            updated_by uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, employee_id, skill_id),
            CONSTRAINT employee_skills_employee_fkey FOREIGN KEY (tenant_id, employee_id)
                REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT employee_skills_skill_fkey FOREIGN KEY (tenant_id, skill_id)
                REFERENCES skills (tenant_id, id)
        )
        """
    )
    op.execute("CREATE INDEX employee_skills_skill_idx ON employee_skills (tenant_id, skill_id)")
    op.execute(
        """
        CREATE TABLE employee_skill_events (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            employee_id uuid NOT NULL,
            skill_id uuid NOT NULL,
            action text NOT NULL CONSTRAINT employee_skill_events_action_check
                CHECK (action in ('set', 'validate', 'remove')),
            proficiency integer,
            source text,
            interest boolean,
            changed_by uuid,
            changed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT employee_skill_events_employee_fkey FOREIGN KEY (tenant_id, employee_id)
                REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT employee_skill_events_skill_fkey FOREIGN KEY (tenant_id, skill_id)
                REFERENCES skills (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX employee_skill_events_idx ON employee_skill_events "
        "(tenant_id, employee_id, skill_id, changed_at)"
    )
    op.execute(
        """
        CREATE TABLE credential_type_skills (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            credential_type_id uuid NOT NULL,
            skill_id uuid NOT NULL,
            proficiency integer NOT NULL CONSTRAINT credential_type_skills_proficiency_check
                CHECK (proficiency between 1 and 10),
            PRIMARY KEY (tenant_id, credential_type_id, skill_id),
            CONSTRAINT credential_type_skills_type_fkey FOREIGN KEY (tenant_id, credential_type_id)
                REFERENCES credential_types (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT credential_type_skills_skill_fkey FOREIGN KEY (tenant_id, skill_id)
                REFERENCES skills (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX credential_type_skills_skill_idx ON credential_type_skills "
        "(tenant_id, skill_id)"
    )
    for table in TENANT_TABLES:
        for stmt in tenant_table_security(table):
            op.execute(stmt)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for stmt in drop_tenant_table_security(table):
            op.execute(stmt)
        op.execute(f"DROP TABLE {table}")
