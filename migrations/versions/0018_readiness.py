"""Readiness: the app role may read the schema's revision (`alembic_version`).

`/readyz` compares the database's revision with the release's migrations: a process whose
database is older than its code is not ready (run `upward migrate`); one whose database is
newer (the next release migrated it, expand/contract) still is. The table holds one revision
id and nothing of any tenant.

Revision ID: 0018_readiness
Revises: 0017_tenant_transfer
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from upward.settings import APP_ROLE

revision: str = "0018_readiness"
down_revision: str | None = "0017_tenant_transfer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON alembic_version FROM {APP_ROLE}")  # noqa: S608
