"""Development, sixth part: feedback requests, feedback with its visibility, and the tenant's
switch that lets HR read feedback (`feedback_settings`, a tenant table: the app role may only
read the `tenants` registry, and a tenant admin must be able to flip the switch).

Revision ID: 0010_feedback
Revises: 0009_checkins
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0010_feedback"
down_revision: str | None = "0009_checkins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "feedback_settings",
    "feedback_requests",
    "feedback_request_responders",
    "feedback",
)
TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE feedback_settings (
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            hr_reads_feedback boolean DEFAULT false NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE feedback_requests (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            requester_id uuid NOT NULL,
            skill_id uuid,
            goal_id uuid,
            message text,
            due_on date,
            status text DEFAULT 'open' NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT feedback_requests_requester_fkey FOREIGN KEY(tenant_id, requester_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT feedback_requests_skill_fkey FOREIGN KEY(tenant_id, skill_id) REFERENCES skills (tenant_id, id),
            CONSTRAINT feedback_requests_goal_fkey FOREIGN KEY(tenant_id, goal_id) REFERENCES plan_goals (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT feedback_requests_status_check CHECK (status in ('open', 'closed'))
        )
        """
    )
    op.execute(
        "CREATE INDEX feedback_requests_requester_idx ON feedback_requests (tenant_id, requester_id, created_at)"
    )
    op.execute(
        f"""
        CREATE TABLE feedback_request_responders (
            {TENANT},
            request_id uuid NOT NULL,
            responder_id uuid NOT NULL,
            status text DEFAULT 'pending' NOT NULL,
            responded_at timestamptz,
            PRIMARY KEY (tenant_id, request_id, responder_id),
            CONSTRAINT feedback_request_responders_request_fkey FOREIGN KEY(tenant_id, request_id) REFERENCES feedback_requests (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT feedback_request_responders_responder_fkey FOREIGN KEY(tenant_id, responder_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT feedback_request_responders_status_check CHECK (status in ('pending', 'given', 'declined'))
        )
        """
    )
    op.execute(
        "CREATE INDEX feedback_request_responders_idx ON feedback_request_responders (tenant_id, responder_id, status)"
    )
    op.execute(
        f"""
        CREATE TABLE feedback (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            giver_id uuid NOT NULL,
            recipient_id uuid NOT NULL,
            request_id uuid,
            skill_id uuid,
            goal_id uuid,
            body text NOT NULL,
            visibility text DEFAULT 'recipient' NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT feedback_giver_fkey FOREIGN KEY(tenant_id, giver_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT feedback_recipient_fkey FOREIGN KEY(tenant_id, recipient_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT feedback_request_fkey FOREIGN KEY(tenant_id, request_id) REFERENCES feedback_requests (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT feedback_skill_fkey FOREIGN KEY(tenant_id, skill_id) REFERENCES skills (tenant_id, id),
            CONSTRAINT feedback_goal_fkey FOREIGN KEY(tenant_id, goal_id) REFERENCES plan_goals (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT feedback_visibility_check CHECK (visibility in ('recipient', 'recipient_and_manager')),
            CONSTRAINT feedback_two_people CHECK (giver_id <> recipient_id)
        )
        """
    )
    op.execute("CREATE INDEX feedback_giver_idx ON feedback (tenant_id, giver_id, created_at, id)")
    op.execute(
        "CREATE INDEX feedback_recipient_idx ON feedback (tenant_id, recipient_id, created_at, id)"
    )
    for table in TENANT_TABLES:
        for statement in tenant_table_security(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for statement in drop_tenant_table_security(table):
            op.execute(statement)
        op.execute(f"DROP TABLE {table}")
