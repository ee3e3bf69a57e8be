"""Development, fifth part: check-ins (1:1s): recurring series between a manager and a report,
meetings with agenda items, shared notes, private notes and action items linked to IDP goals.
The `reminders` log becomes generic (a subject kind, id and anchor time) so check-in and overdue
goal reminders go through the one notification engine; existing rows become credential subjects.

Revision ID: 0009_checkins
Revises: 0008_development_plans
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0009_checkins"
down_revision: str | None = "0008_development_plans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "checkin_series",
    "checkins",
    "checkin_agenda_items",
    "checkin_private_notes",
    "checkin_action_items",
)
TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE checkin_series (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            manager_id uuid NOT NULL,
            report_id uuid NOT NULL,
            title text NOT NULL,
            cadence text NOT NULL,
            starts_at timestamptz NOT NULL,
            timezone text NOT NULL,
            duration_minutes integer DEFAULT '30' NOT NULL,
            remind_minutes_before integer DEFAULT '1440' NOT NULL,
            status text DEFAULT 'active' NOT NULL,
            created_by uuid,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT checkin_series_manager_fkey FOREIGN KEY(tenant_id, manager_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT checkin_series_report_fkey FOREIGN KEY(tenant_id, report_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT checkin_series_cadence_check CHECK (cadence in ('weekly', 'biweekly', 'monthly')),
            CONSTRAINT checkin_series_status_check CHECK (status in ('active', 'paused', 'ended')),
            CONSTRAINT checkin_series_two_people CHECK (manager_id <> report_id),
            CONSTRAINT checkin_series_duration_check CHECK (duration_minutes between 5 and 480),
            CONSTRAINT checkin_series_remind_check CHECK (remind_minutes_before between 0 and 10080)
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX checkin_series_pair_key ON checkin_series (tenant_id, manager_id, report_id) WHERE status <> 'ended'"
    )
    op.execute("CREATE INDEX checkin_series_report_idx ON checkin_series (tenant_id, report_id)")
    op.execute(
        f"""
        CREATE TABLE checkins (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            series_id uuid NOT NULL,
            slot_at timestamptz NOT NULL,
            occurs_at timestamptz NOT NULL,
            status text DEFAULT 'scheduled' NOT NULL,
            shared_notes text,
            completed_at timestamptz,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT checkins_series_fkey FOREIGN KEY(tenant_id, series_id) REFERENCES checkin_series (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT checkins_occurrence_key UNIQUE (tenant_id, series_id, occurs_at),
            CONSTRAINT checkins_slot_key UNIQUE (tenant_id, series_id, slot_at),
            CONSTRAINT checkins_status_check CHECK (status in ('scheduled', 'completed', 'cancelled'))
        )
        """
    )
    op.execute("CREATE INDEX checkins_time_idx ON checkins (tenant_id, occurs_at)")
    op.execute(
        f"""
        CREATE TABLE checkin_agenda_items (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            checkin_id uuid NOT NULL,
            author_id uuid NOT NULL,
            body text NOT NULL,
            position integer DEFAULT '0' NOT NULL,
            discussed boolean DEFAULT 'false' NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT checkin_agenda_items_checkin_fkey FOREIGN KEY(tenant_id, checkin_id) REFERENCES checkins (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT checkin_agenda_items_author_fkey FOREIGN KEY(tenant_id, author_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        "CREATE INDEX checkin_agenda_items_idx ON checkin_agenda_items (tenant_id, checkin_id, position)"
    )
    op.execute(
        f"""
        CREATE TABLE checkin_private_notes (
            {TENANT},
            checkin_id uuid NOT NULL,
            author_id uuid NOT NULL,
            body text NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, checkin_id, author_id),
            CONSTRAINT checkin_private_notes_checkin_fkey FOREIGN KEY(tenant_id, checkin_id) REFERENCES checkins (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT checkin_private_notes_author_fkey FOREIGN KEY(tenant_id, author_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE checkin_action_items (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            checkin_id uuid NOT NULL,
            owner_id uuid NOT NULL,
            body text NOT NULL,
            due_on date,
            goal_id uuid,
            done_at timestamptz,
            created_by uuid,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT checkin_action_items_checkin_fkey FOREIGN KEY(tenant_id, checkin_id) REFERENCES checkins (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT checkin_action_items_owner_fkey FOREIGN KEY(tenant_id, owner_id) REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT checkin_action_items_goal_fkey FOREIGN KEY(tenant_id, goal_id) REFERENCES plan_goals (tenant_id, id)
        )
        """
    )
    op.execute(
        "CREATE INDEX checkin_action_items_goal_idx ON checkin_action_items (tenant_id, goal_id)"
    )
    op.execute(
        "CREATE INDEX checkin_action_items_idx ON checkin_action_items (tenant_id, checkin_id)"
    )
    for table in TENANT_TABLES:
        for statement in tenant_table_security(table):
            op.execute(statement)
    # the reminder log, generic: credential rows keep their columns and key (the hot path of
    # the credential scan); every row also names its subject and anchor time
    op.execute(
        """
        ALTER TABLE reminders
            ADD COLUMN subject_type text DEFAULT 'credential' NOT NULL,
            ADD COLUMN subject_id uuid,
            ADD COLUMN anchor_at timestamptz,
            ALTER COLUMN credential_id DROP NOT NULL,
            ALTER COLUMN expires_on DROP NOT NULL
        """
    )
    op.execute(
        "UPDATE reminders SET subject_id = credential_id, "
        "anchor_at = expires_on::timestamp AT TIME ZONE 'UTC'"
    )
    op.execute(
        "ALTER TABLE reminders ALTER COLUMN subject_id SET NOT NULL, "
        "ALTER COLUMN anchor_at SET NOT NULL"
    )
    op.execute(
        "ALTER TABLE reminders ADD CONSTRAINT reminders_subject_check CHECK ("
        "subject_type in ('credential', 'checkin', 'plan_goal') AND "
        "(subject_type = 'credential') = (credential_id IS NOT NULL AND expires_on IS NOT NULL))"
    )
    op.execute(
        "CREATE UNIQUE INDEX reminders_subject_key ON reminders "
        "(tenant_id, subject_type, subject_id, anchor_at, offset_days, recipient_id) "
        "WHERE credential_id IS NULL"
    )


def downgrade() -> None:
    op.execute("DELETE FROM reminders WHERE credential_id IS NULL")
    op.execute("DROP INDEX reminders_subject_key")
    op.execute(
        """
        ALTER TABLE reminders
            DROP CONSTRAINT reminders_subject_check,
            DROP COLUMN subject_type,
            DROP COLUMN subject_id,
            DROP COLUMN anchor_at,
            ALTER COLUMN credential_id SET NOT NULL,
            ALTER COLUMN expires_on SET NOT NULL
        """
    )
    for table in reversed(TENANT_TABLES):
        for statement in drop_tenant_table_security(table):
            op.execute(statement)
        op.execute(f"DROP TABLE {table}")
