"""Tenant transfer: the registry of erasures (`upward tenants erase`).

An erasure removes every row of a tenant; what remains is this record of it: who erased which
tenant when, and how many rows of each table went. It holds no tenant data (no names, no
people, no `tenant_id` column: the erased id is `erased_tenant_id`), so it is not a tenant
table, and it lives in its own schema, `upward_ops`, with no grant to the app role: operator
records, outside the application's schema (`public`), which the catalog guards and the
model comparison cover.

Revision ID: 0017_tenant_transfer
Revises: 0016_citus_ready
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from upward.settings import APP_ROLE

revision: str = "0017_tenant_transfer"
down_revision: str | None = "0016_citus_ready"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS upward_ops")
    op.execute("REVOKE ALL ON SCHEMA upward_ops FROM PUBLIC")
    op.execute(f"REVOKE ALL ON SCHEMA upward_ops FROM {APP_ROLE}")
    op.execute("""
        CREATE TABLE upward_ops.tenant_erasures (
            id uuid DEFAULT gen_random_uuid() NOT NULL PRIMARY KEY,
            erased_tenant_id uuid NOT NULL,
            slug text NOT NULL,
            erased_at timestamptz DEFAULT now() NOT NULL,
            erased_by text NOT NULL,
            reason text,
            revision text NOT NULL,
            row_counts jsonb NOT NULL,
            evidence_files integer NOT NULL,
            cleanup jsonb
        )
    """)
    op.execute(
        "CREATE INDEX tenant_erasures_tenant_idx ON upward_ops.tenant_erasures (erased_tenant_id)"
    )
    op.execute(
        "COMMENT ON TABLE upward_ops.tenant_erasures IS "
        "'one row per `upward tenants erase`: the only trace of an erased tenant'"
    )
    op.execute(
        "COMMENT ON COLUMN upward_ops.tenant_erasures.cleanup IS "
        "'evidence files and Redis keys removed after the commit; NULL: cleanup did not finish'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE upward_ops.tenant_erasures")
    op.execute("DROP SCHEMA upward_ops")
