"""Recognition: company values, kudos with receivers, values, reactions and comments; the points
ledger (append-only, double-entry: each transaction's entries sum to zero, checked at commit),
allowance overrides and settings; rewards and redemptions; milestones, once per key.

Revision ID: 0014_recognition
Revises: 0013_matching
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

from upward.ddl import drop_tenant_table_security, tenant_table_security
from upward.settings import APP_ROLE

revision: str = "0014_recognition"
down_revision: str | None = "0013_matching"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT = "tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE"
# the ledger is append-only for the app: it may read and add, never change or remove
APPEND_ONLY = ("points_transactions", "points_entries")
# kudos are hidden, never deleted (a milestone's key and the ledger point at them)
NO_DELETE = ("kudos",)
TENANT_TABLES = (
    "company_values",
    "recognition_settings",
    "points_allowances",
    "kudos",
    "kudos_receivers",
    "kudos_values",
    "kudos_reactions",
    "kudos_comments",
    "rewards",
    "redemptions",
    "points_transactions",
    "points_entries",
    "milestone_settings",
    "milestones",
    "recognition_monthly",
)


def _emp_fk(table: str, column: str, name: str, cascade: bool = True) -> str:
    on = " ON DELETE CASCADE" if cascade else ""
    return (
        f"CONSTRAINT {table}_{name}_fkey FOREIGN KEY(tenant_id, {column}) "
        f"REFERENCES employees (tenant_id, id){on}"
    )


def upgrade() -> None:
    op.execute(f"""
        CREATE TABLE company_values (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            name text NOT NULL,
            description text,
            emoji text,
            active boolean DEFAULT 'true' NOT NULL,
            position integer DEFAULT 0 NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id)
        )
    """)
    op.execute(
        "CREATE UNIQUE INDEX company_values_name_key ON company_values (tenant_id, lower(name))"
    )
    op.execute(f"""
        CREATE TABLE recognition_settings (
            {TENANT},
            monthly_allowance integer NOT NULL,
            manager_award_budget integer NOT NULL,
            max_points_per_kudos integer NOT NULL,
            nudge_after_days integer NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id),
            CONSTRAINT recognition_settings_ranges CHECK (
                monthly_allowance between 0 and 100000 and manager_award_budget between 0 and 100000
                and max_points_per_kudos between 0 and 100000 and nudge_after_days between 1 and 365)
        )
    """)
    op.execute(f"""
        CREATE TABLE points_allowances (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            job_level text,
            employee_id uuid,
            monthly_allowance integer,
            award_budget integer,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            {_emp_fk("points_allowances", "employee_id", "employee")},
            CONSTRAINT points_allowances_level_key UNIQUE (tenant_id, job_level),
            CONSTRAINT points_allowances_employee_key UNIQUE (tenant_id, employee_id),
            CONSTRAINT points_allowances_one_subject CHECK (num_nonnulls(job_level, employee_id) = 1),
            CONSTRAINT points_allowances_ranges CHECK (
                coalesce(monthly_allowance, 0) between 0 and 100000
                and coalesce(award_budget, 0) between 0 and 100000)
        )
    """)
    op.execute(f"""
        CREATE TABLE kudos (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            kind text NOT NULL,
            giver_id uuid,
            message text NOT NULL,
            visibility text DEFAULT 'public' NOT NULL,
            points integer DEFAULT 0 NOT NULL,
            milestone_kind text,
            hidden_at timestamptz,
            hidden_by uuid,
            hidden_reason text,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            {_emp_fk("kudos", "giver_id", "giver")},
            {_emp_fk("kudos", "hidden_by", "hidden_by", cascade=False)},
            CONSTRAINT kudos_kind_check CHECK (kind in ('peer', 'award', 'milestone')),
            CONSTRAINT kudos_visibility_check CHECK (visibility in ('public', 'private')),
            CONSTRAINT kudos_points_check CHECK (points >= 0),
            CONSTRAINT kudos_giver_check CHECK ((kind = 'milestone') = (giver_id is null)),
            CONSTRAINT kudos_hidden_check CHECK ((hidden_at is null) = (hidden_reason is null))
        )
    """)
    op.execute("CREATE INDEX kudos_feed_idx ON kudos (tenant_id, created_at, id)")
    # the few hidden kudos, for "not hidden" anti-joins of the insights
    op.execute("CREATE INDEX kudos_hidden_idx ON kudos (tenant_id, id) WHERE hidden_at IS NOT NULL")
    op.execute("CREATE INDEX kudos_giver_idx ON kudos (tenant_id, giver_id, created_at)")
    op.execute(f"""
        CREATE TABLE kudos_receivers (
            {TENANT},
            kudos_id uuid NOT NULL,
            employee_id uuid NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, kudos_id, employee_id),
            CONSTRAINT kudos_receivers_kudos_fkey FOREIGN KEY(tenant_id, kudos_id)
                REFERENCES kudos (tenant_id, id) ON DELETE CASCADE,
            {_emp_fk("kudos_receivers", "employee_id", "employee")}
        )
    """)
    op.execute(
        "CREATE INDEX kudos_receivers_employee_idx "
        "ON kudos_receivers (tenant_id, employee_id, created_at)"
    )
    # a period's receivers without the heap (leaderboards, participation): index-only scans
    op.execute(
        "CREATE INDEX kudos_receivers_created_idx "
        "ON kudos_receivers (tenant_id, created_at) INCLUDE (employee_id, kudos_id)"
    )
    op.execute(f"""
        CREATE TABLE kudos_values (
            {TENANT},
            kudos_id uuid NOT NULL,
            value_id uuid NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, kudos_id, value_id),
            CONSTRAINT kudos_values_kudos_fkey FOREIGN KEY(tenant_id, kudos_id)
                REFERENCES kudos (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT kudos_values_value_fkey FOREIGN KEY(tenant_id, value_id)
                REFERENCES company_values (tenant_id, id)
        )
    """)
    op.execute(
        "CREATE INDEX kudos_values_value_idx ON kudos_values (tenant_id, value_id, created_at)"
    )
    op.execute(f"""
        CREATE TABLE kudos_reactions (
            {TENANT},
            kudos_id uuid NOT NULL,
            employee_id uuid NOT NULL,
            reaction text NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, kudos_id, employee_id, reaction),
            CONSTRAINT kudos_reactions_kudos_fkey FOREIGN KEY(tenant_id, kudos_id)
                REFERENCES kudos (tenant_id, id) ON DELETE CASCADE,
            {_emp_fk("kudos_reactions", "employee_id", "employee")},
            CONSTRAINT kudos_reactions_reaction_check
                CHECK (reaction in ('like', 'celebrate', 'love', 'insightful', 'laugh'))
        )
    """)
    op.execute(f"""
        CREATE TABLE kudos_comments (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            kudos_id uuid NOT NULL,
            author_id uuid NOT NULL,
            body text NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            deleted_at timestamptz,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT kudos_comments_kudos_fkey FOREIGN KEY(tenant_id, kudos_id)
                REFERENCES kudos (tenant_id, id) ON DELETE CASCADE,
            {_emp_fk("kudos_comments", "author_id", "author")}
        )
    """)
    op.execute(
        "CREATE INDEX kudos_comments_kudos_idx ON kudos_comments (tenant_id, kudos_id, created_at, id)"
    )
    op.execute(f"""
        CREATE TABLE rewards (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            name text NOT NULL,
            description text,
            cost integer NOT NULL,
            stock integer,
            active boolean DEFAULT 'true' NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT rewards_cost_check CHECK (cost between 1 and 10000000),
            CONSTRAINT rewards_stock_check CHECK (stock >= 0)
        )
    """)
    op.execute("CREATE UNIQUE INDEX rewards_name_key ON rewards (tenant_id, lower(name))")
    op.execute(f"""
        CREATE TABLE redemptions (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            reward_id uuid NOT NULL,
            employee_id uuid NOT NULL,
            cost integer NOT NULL,
            status text DEFAULT 'requested' NOT NULL,
            note text,
            decided_by uuid,
            decided_at timestamptz,
            decision_note text,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT redemptions_reward_fkey FOREIGN KEY(tenant_id, reward_id)
                REFERENCES rewards (tenant_id, id),
            {_emp_fk("redemptions", "employee_id", "employee")},
            {_emp_fk("redemptions", "decided_by", "decided_by", cascade=False)},
            CONSTRAINT redemptions_status_check
                CHECK (status in ('requested', 'approved', 'declined', 'cancelled')),
            CONSTRAINT redemptions_cost_check CHECK (cost > 0)
        )
    """)
    op.execute(
        "CREATE INDEX redemptions_employee_idx ON redemptions (tenant_id, employee_id, created_at)"
    )
    op.execute("CREATE INDEX redemptions_status_idx ON redemptions (tenant_id, status, created_at)")
    op.execute(f"""
        CREATE TABLE points_transactions (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            kind text NOT NULL,
            kudos_id uuid,
            redemption_id uuid,
            actor_id uuid,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT points_transactions_kudos_fkey FOREIGN KEY(tenant_id, kudos_id)
                REFERENCES kudos (tenant_id, id),
            CONSTRAINT points_transactions_redemption_fkey FOREIGN KEY(tenant_id, redemption_id)
                REFERENCES redemptions (tenant_id, id),
            CONSTRAINT points_transactions_kudos_key UNIQUE (tenant_id, kudos_id),
            CONSTRAINT points_transactions_redemption_key UNIQUE (tenant_id, redemption_id),
            CONSTRAINT points_transactions_kind_check
                CHECK (kind in ('kudos', 'milestone', 'redemption')),
            CONSTRAINT points_transactions_subject_check
                CHECK (num_nonnulls(kudos_id, redemption_id) = 1)
        )
    """)
    op.execute(f"""
        CREATE TABLE points_entries (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            transaction_id uuid NOT NULL,
            account text NOT NULL,
            employee_id uuid,
            amount integer NOT NULL,
            period date NOT NULL,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            CONSTRAINT points_entries_transaction_fkey FOREIGN KEY(tenant_id, transaction_id)
                REFERENCES points_transactions (tenant_id, id) ON DELETE CASCADE,
            {_emp_fk("points_entries", "employee_id", "employee")},
            CONSTRAINT points_entries_amount_check CHECK (amount <> 0),
            CONSTRAINT points_entries_account_check CHECK (
                (account in ('received', 'allowance', 'award') and employee_id is not null)
                or (account in ('company', 'rewards') and employee_id is null)),
            CONSTRAINT points_entries_period_check CHECK (extract(day from period) = 1)
        )
    """)
    op.execute(
        "CREATE INDEX points_entries_account_idx ON points_entries "
        "(tenant_id, employee_id, account, period) INCLUDE (amount)"
    )
    op.execute(
        "CREATE INDEX points_entries_transaction_idx ON points_entries (tenant_id, transaction_id)"
    )
    op.execute(
        "CREATE INDEX points_entries_history_idx ON points_entries "
        "(tenant_id, employee_id, created_at, id)"
    )
    # every transaction balances and has two legs at least: checked at commit, once its entries
    # are all in, for each new transaction and each new entry; the function runs as the caller
    # (RLS applies) and sees the transaction's own entries
    op.execute("""
        CREATE FUNCTION upward_points_balanced() RETURNS trigger
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = public AS $$
        DECLARE
            txn uuid;
            total bigint;
            legs bigint;
        BEGIN
            IF TG_TABLE_NAME = 'points_transactions' THEN
                txn := NEW.id;
            ELSE
                txn := NEW.transaction_id;
            END IF;
            SELECT coalesce(sum(amount), 0), count(*) INTO total, legs FROM points_entries
            WHERE tenant_id = NEW.tenant_id AND transaction_id = txn;
            IF total <> 0 OR legs < 2 THEN
                RAISE EXCEPTION 'points transaction % does not balance (% over % entries)',
                    txn, total, legs USING ERRCODE = '23514';
            END IF;
            RETURN NULL;
        END
        $$
    """)
    op.execute("REVOKE EXECUTE ON FUNCTION upward_points_balanced() FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION upward_points_balanced() TO {APP_ROLE}")
    for table in APPEND_ONLY:
        op.execute(f"""
            CREATE CONSTRAINT TRIGGER {table}_balanced AFTER INSERT ON {table}
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION upward_points_balanced()
        """)
    op.execute(f"""
        CREATE TABLE milestone_settings (
            {TENANT},
            kind text NOT NULL,
            enabled boolean NOT NULL,
            message text NOT NULL,
            points integer NOT NULL,
            updated_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, kind),
            CONSTRAINT milestone_settings_points_check CHECK (points between 0 and 100000)
        )
    """)
    op.execute(f"""
        CREATE TABLE milestones (
            {TENANT},
            id uuid DEFAULT gen_random_uuid() NOT NULL,
            kind text NOT NULL,
            key text NOT NULL,
            employee_id uuid NOT NULL,
            occurred_on date NOT NULL,
            kudos_id uuid,
            created_at timestamptz DEFAULT now() NOT NULL,
            PRIMARY KEY (tenant_id, id),
            {_emp_fk("milestones", "employee_id", "employee")},
            CONSTRAINT milestones_kudos_fkey FOREIGN KEY(tenant_id, kudos_id)
                REFERENCES kudos (tenant_id, id),
            CONSTRAINT milestones_key UNIQUE (tenant_id, key)
        )
    """)
    op.execute(
        "CREATE INDEX milestones_employee_idx ON milestones (tenant_id, employee_id, occurred_on)"
    )
    # leaderboards' counts per tenant month and person, kept in the transactions that change
    # them (a give, a hide, an unhide): what a month-aligned leaderboard reads
    op.execute(f"""
        CREATE TABLE recognition_monthly (
            {TENANT},
            month date NOT NULL,
            employee_id uuid NOT NULL,
            received integer DEFAULT 0 NOT NULL,
            received_points integer DEFAULT 0 NOT NULL,
            given integer DEFAULT 0 NOT NULL,
            given_points integer DEFAULT 0 NOT NULL,
            PRIMARY KEY (tenant_id, month, employee_id),
            {_emp_fk("recognition_monthly", "employee_id", "employee")},
            CONSTRAINT recognition_monthly_month_check CHECK (extract(day from month) = 1)
        )
    """)
    for table in TENANT_TABLES:
        privileges = (
            "SELECT, INSERT"
            if table in APPEND_ONLY
            else "SELECT, INSERT, UPDATE"
            if table in NO_DELETE
            else "SELECT, INSERT, UPDATE, DELETE"
        )
        for stmt in tenant_table_security(table, privileges=privileges):
            op.execute(stmt)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for stmt in drop_tenant_table_security(table):
            op.execute(stmt)
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_balanced ON {table}")
    op.execute("DROP FUNCTION upward_points_balanced()")
    for table in reversed(TENANT_TABLES):
        op.execute(f"DROP TABLE {table}")
