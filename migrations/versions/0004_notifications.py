"""Reminders and notifications: policies, reminder states and log, the notification outbox,
deliveries (in-app, email, webhook) with their attempt log, webhook endpoints, preferences and
tenant templates.

Revision ID: 0004_notifications
Revises: 0003_employee_external_id
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security

revision: str = "0004_notifications"
down_revision: str | None = "0003_employee_external_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = (
    "reminder_policies",
    "credential_reminder_states",
    "notifications",
    "reminders",
    "webhook_endpoints",
    "deliveries",
    "delivery_attempts",
    "notification_preferences",
    "notification_templates",
)

TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"
ID = "id uuid NOT NULL DEFAULT gen_random_uuid()"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE reminder_policies (
            {TENANT},
            {ID},
            credential_type_id uuid,
            name text NOT NULL,
            steps jsonb NOT NULL,
            watcher_ids uuid[] NOT NULL DEFAULT '{{}}'::uuid[],
            window_start_hour integer NOT NULL DEFAULT 9,
            window_end_hour integer NOT NULL DEFAULT 18,
            send_on_weekends boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT reminder_policies_type_key UNIQUE (tenant_id, credential_type_id),
            CONSTRAINT reminder_policies_type_fkey FOREIGN KEY (tenant_id, credential_type_id)
                REFERENCES credential_types (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT reminder_policies_window_check CHECK (
                window_start_hour between 0 and 23
                and window_end_hour between window_start_hour + 1 and 24),
            CONSTRAINT reminder_policies_steps_check CHECK (jsonb_typeof(steps) = 'array')
        )
        """
    )
    # one tenant default (credential_type_id null): NULLs are distinct in the unique key
    op.execute(
        "CREATE UNIQUE INDEX reminder_policies_default_key ON reminder_policies (tenant_id) "
        "WHERE credential_type_id IS NULL"
    )
    op.execute(
        f"""
        CREATE TABLE credential_reminder_states (
            {TENANT},
            credential_id uuid NOT NULL,
            expires_on date NOT NULL,
            acknowledged_at timestamptz,
            acknowledged_by uuid,
            renewal_in_progress boolean NOT NULL DEFAULT false,
            snoozed_until date,
            snoozed_by uuid,
            snooze_reason text,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, credential_id),
            CONSTRAINT credential_reminder_states_credential_fkey
                FOREIGN KEY (tenant_id, credential_id)
                REFERENCES credentials (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE notifications (
            {TENANT},
            {ID},
            recipient_id uuid NOT NULL,
            kind text NOT NULL,
            idempotency_key text NOT NULL,
            subject text NOT NULL,
            body text NOT NULL,
            data jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            channels text[] NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            read_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT notifications_key UNIQUE (tenant_id, idempotency_key),
            CONSTRAINT notifications_recipient_fkey FOREIGN KEY (tenant_id, recipient_id)
                REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT notifications_kind_check CHECK (kind in ('reminder', 'digest', 'event'))
        )
        """
    )
    op.execute(
        "CREATE INDEX notifications_inbox_idx ON notifications "
        "(tenant_id, recipient_id, created_at DESC, id DESC)"
    )
    op.execute(
        "CREATE INDEX notifications_unread_idx ON notifications (tenant_id, recipient_id) "
        "WHERE read_at IS NULL"
    )
    op.execute(
        f"""
        CREATE TABLE reminders (
            {TENANT},
            {ID},
            credential_id uuid NOT NULL,
            expires_on date NOT NULL,
            offset_days integer NOT NULL,
            recipient_id uuid NOT NULL,
            recipient_kinds text[] NOT NULL,
            channels text[] NOT NULL,
            mandatory boolean NOT NULL DEFAULT false,
            digest boolean NOT NULL DEFAULT false,
            due_at timestamptz NOT NULL,
            notification_id uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT reminders_key
                UNIQUE (tenant_id, credential_id, expires_on, offset_days, recipient_id),
            CONSTRAINT reminders_credential_fkey FOREIGN KEY (tenant_id, credential_id)
                REFERENCES credentials (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT reminders_recipient_fkey FOREIGN KEY (tenant_id, recipient_id)
                REFERENCES employees (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT reminders_notification_fkey FOREIGN KEY (tenant_id, notification_id)
                REFERENCES notifications (tenant_id, id) ON DELETE SET NULL (notification_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX reminders_digest_idx ON reminders (tenant_id, recipient_id, due_at) "
        "WHERE digest AND notification_id IS NULL"
    )
    op.execute("CREATE INDEX reminders_notification_idx ON reminders (tenant_id, notification_id)")
    op.execute(
        f"""
        CREATE TABLE webhook_endpoints (
            {TENANT},
            {ID},
            url text NOT NULL,
            description text,
            event_types text[] NOT NULL,
            secret text NOT NULL,
            previous_secret text,
            previous_secret_until timestamptz,
            active boolean NOT NULL DEFAULT true,
            disabled_reason text,
            disabled_at timestamptz,
            created_by uuid,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT webhook_endpoints_url_key UNIQUE (tenant_id, url)
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE deliveries (
            {TENANT},
            {ID},
            channel text NOT NULL,
            notification_id uuid,
            event_id uuid,
            endpoint_id uuid,
            idempotency_key text NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_attempt_at timestamptz,
            last_status_code integer,
            last_error text,
            sent_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT deliveries_key UNIQUE (tenant_id, idempotency_key),
            CONSTRAINT deliveries_notification_fkey FOREIGN KEY (tenant_id, notification_id)
                REFERENCES notifications (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT deliveries_event_fkey FOREIGN KEY (tenant_id, event_id)
                REFERENCES domain_events (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT deliveries_endpoint_fkey FOREIGN KEY (tenant_id, endpoint_id)
                REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT deliveries_channel_check CHECK (channel in ('in_app', 'email', 'webhook')),
            CONSTRAINT deliveries_status_check
                CHECK (status in ('pending', 'sent', 'dead', 'cancelled')),
            CONSTRAINT deliveries_target_check CHECK (
                (channel = 'webhook' and endpoint_id is not null and event_id is not null)
                or (channel <> 'webhook' and notification_id is not null))
        )
        """
    )
    op.execute(
        "CREATE INDEX deliveries_due_idx ON deliveries (tenant_id, next_attempt_at) "
        "WHERE status = 'pending'"
    )
    op.execute(
        "CREATE INDEX deliveries_endpoint_idx ON deliveries (tenant_id, endpoint_id, created_at, id)"
    )
    op.execute(
        "CREATE INDEX deliveries_dead_idx ON deliveries (tenant_id, updated_at, id) "
        "WHERE status = 'dead'"
    )
    op.execute(
        "CREATE INDEX deliveries_notification_idx ON deliveries (tenant_id, notification_id)"
    )
    op.execute("CREATE INDEX deliveries_event_idx ON deliveries (tenant_id, event_id)")
    op.execute(
        f"""
        CREATE TABLE delivery_attempts (
            {TENANT},
            {ID},
            delivery_id uuid NOT NULL,
            attempted_at timestamptz NOT NULL DEFAULT now(),
            status_code integer,
            error text,
            duration_ms integer,
            response_snippet text,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT delivery_attempts_delivery_fkey FOREIGN KEY (tenant_id, delivery_id)
                REFERENCES deliveries (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        "CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts "
        "(tenant_id, delivery_id, attempted_at)"
    )
    op.execute(
        f"""
        CREATE TABLE notification_preferences (
            {TENANT},
            employee_id uuid NOT NULL,
            email_enabled boolean NOT NULL DEFAULT true,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, employee_id),
            CONSTRAINT notification_preferences_employee_fkey FOREIGN KEY (tenant_id, employee_id)
                REFERENCES employees (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        f"""
        CREATE TABLE notification_templates (
            {TENANT},
            kind text NOT NULL,
            subject text NOT NULL,
            text_body text NOT NULL,
            html_body text NOT NULL,
            updated_by uuid,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, kind)
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
