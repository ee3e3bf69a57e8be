"""Citus readiness and a cheaper isolation predicate.

1. Every `tenant_isolation` policy reads the tenant setting once per statement: the predicate is
   `upward.ddl.TENANT_PREDICATE` (the setting wrapped in a scalar subquery, an InitPlan), instead
   of once per row. The tables are found in the catalog (every policy named tenant_isolation), so
   a database migrated from zero and an upgraded one end with the same policies; downgrade puts
   back the per-row form (`TENANT_PREDICATE_PLAIN`), which is also the form Citus needs
   (docs/scaling.md).
2. `reminders_notification_fkey` loses `ON DELETE SET NULL (notification_id)`: Citus refuses
   SET NULL / SET DEFAULT on a foreign key that includes the distribution column, even with a
   column list (citusdata/citus#7132). Nothing deletes a notification on its own (they go with
   their tenant or recipient, and the reminders that point at them with it), so the plain
   reference (NO ACTION) keeps the same rows; a future purge must clear `reminders.notification_id`
   first, explicitly.

Revision ID: 0016_citus_ready
Revises: 0015_partner_access
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from upward.ddl import alter_tenant_policy

# literals, not upward.ddl's constants: this migration must mean the same thing forever
TENANT_PREDICATE = "tenant_id = (select nullif(current_setting('app.tenant_id', true), '')::uuid)"
TENANT_PREDICATE_PLAIN = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"

revision: str = "0016_citus_ready"
down_revision: str | None = "0015_partner_access"
branch_labels = None
depends_on = None

POLICY_TABLES = sa.text("""
    select c.relname from pg_policy p
    join pg_class c on c.oid = p.polrelid
    join pg_namespace n on n.oid = c.relnamespace
    where p.polname = 'tenant_isolation' and n.nspname = current_schema()
    order by 1
""")

REMINDERS_FKEY = (
    "CONSTRAINT reminders_notification_fkey FOREIGN KEY (tenant_id, notification_id) "
    "REFERENCES notifications (tenant_id, id)"
)


def _set_policies(predicate: str) -> None:
    for table in op.get_bind().execute(POLICY_TABLES).scalars().all():
        op.execute(alter_tenant_policy(table, predicate))


def upgrade() -> None:
    _set_policies(TENANT_PREDICATE)
    op.execute(
        f"ALTER TABLE reminders DROP CONSTRAINT reminders_notification_fkey, ADD {REMINDERS_FKEY}"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE reminders DROP CONSTRAINT reminders_notification_fkey, "
        f"ADD {REMINDERS_FKEY} ON DELETE SET NULL (notification_id)"
    )
    _set_policies(TENANT_PREDICATE_PLAIN)
