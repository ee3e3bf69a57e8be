"""Recognition: company values, kudos (receivers, values, reactions, comments), the points
ledger, rewards and redemptions, and milestones recognized automatically.

Points live only in `points_entries`, an append-only double-entry ledger: every transaction's
entries sum to zero and are at least two (deferred constraint triggers check it at commit),
the app role may only SELECT and INSERT them, and every balance is a sum over them. An account
is a kind and, for a person's accounts, the person (`employee_id`); nothing stores a balance.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from upward.models_base import (
    created_at_field,
    id_field,
    optional_ts,
    tenant_fk,
    tenant_id_field,
    updated_at_field,
)

KUDOS_KINDS = ("peer", "award", "milestone")
VISIBILITIES = ("public", "private")
REACTIONS = ("like", "celebrate", "love", "insightful", "laugh")
# accounts: a person's `received` (redeemable), `allowance` (monthly giving) and `award`
# (a manager's monthly budget); the tenant's `company` (funds milestones) and `rewards`
# (where redeemed points go)
PERSON_ACCOUNTS = ("received", "allowance", "award")
TENANT_ACCOUNTS = ("company", "rewards")
ACCOUNTS = PERSON_ACCOUNTS + TENANT_ACCOUNTS
TRANSACTION_KINDS = ("kudos", "milestone", "redemption")
REDEMPTION_STATUSES = ("requested", "approved", "declined", "cancelled")
MILESTONE_KINDS = (
    "credential_earned",
    "credential_renewed",
    "goal_completed",
    "plan_completed",
    "promotion",
    "internal_move",
    "work_anniversary",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class CompanyValue(SQLModel, table=True):
    __tablename__ = "company_values"

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    description: str | None = None
    emoji: str | None = None  # an emoji or an icon key of the client's set
    active: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    position: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class RecognitionSettings(SQLModel, table=True):
    """The tenant's points rules (no row: the defaults of `recognition.ledger.DEFAULTS`)."""

    __tablename__ = "recognition_settings"

    tenant_id: uuid.UUID = tenant_id_field()
    monthly_allowance: int
    manager_award_budget: int
    max_points_per_kudos: int
    nudge_after_days: int
    updated_at: datetime = updated_at_field()


class PointsAllowance(SQLModel, table=True):
    """An override of the monthly allowance and award budget for a job level or a person (the
    person's wins over their level's, which wins over the tenant's)."""

    __tablename__ = "points_allowances"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "points_allowances_employee_fkey", "CASCADE"),
        sa.UniqueConstraint("tenant_id", "job_level", name="points_allowances_level_key"),
        sa.UniqueConstraint("tenant_id", "employee_id", name="points_allowances_employee_key"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    job_level: str | None = None
    employee_id: uuid.UUID | None = None
    monthly_allowance: int | None = None
    award_budget: int | None = None
    updated_at: datetime = updated_at_field()


class Kudos(SQLModel, table=True):
    __tablename__ = "kudos"
    __table_args__ = (
        tenant_fk(["giver_id"], "employees", "kudos_giver_fkey", "CASCADE"),
        tenant_fk(["hidden_by"], "employees", "kudos_hidden_by_fkey"),
        sa.Index("kudos_feed_idx", "tenant_id", "created_at", "id"),
        sa.Index(
            "kudos_hidden_idx",
            "tenant_id",
            "id",
            postgresql_where=sa.text("hidden_at IS NOT NULL"),
        ),
        sa.Index("kudos_giver_idx", "tenant_id", "giver_id", "created_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    kind: str  # peer | award (a manager's budget) | milestone (no giver)
    giver_id: uuid.UUID | None = None
    message: str
    visibility: str = Field(default="public", sa_column_kwargs={"server_default": "public"})
    points: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # per receiver
    milestone_kind: str | None = None
    hidden_at: datetime | None = optional_ts()
    hidden_by: uuid.UUID | None = None
    hidden_reason: str | None = None
    created_at: datetime = created_at_field()


class KudosReceiver(SQLModel, table=True):
    __tablename__ = "kudos_receivers"
    __table_args__ = (
        tenant_fk(["kudos_id"], "kudos", "kudos_receivers_kudos_fkey", "CASCADE"),
        tenant_fk(["employee_id"], "employees", "kudos_receivers_employee_fkey", "CASCADE"),
        sa.Index("kudos_receivers_employee_idx", "tenant_id", "employee_id", "created_at"),
        sa.Index(
            "kudos_receivers_created_idx",
            "tenant_id",
            "created_at",
            postgresql_include=["employee_id", "kudos_id"],
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    kudos_id: uuid.UUID = Field(primary_key=True)
    employee_id: uuid.UUID = Field(primary_key=True)
    created_at: datetime = created_at_field()  # the kudos' (per-person lists by period)


class KudosValue(SQLModel, table=True):
    __tablename__ = "kudos_values"
    __table_args__ = (
        tenant_fk(["kudos_id"], "kudos", "kudos_values_kudos_fkey", "CASCADE"),
        tenant_fk(["value_id"], "company_values", "kudos_values_value_fkey"),
        sa.Index("kudos_values_value_idx", "tenant_id", "value_id", "created_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    kudos_id: uuid.UUID = Field(primary_key=True)
    value_id: uuid.UUID = Field(primary_key=True)
    created_at: datetime = created_at_field()  # the kudos'


class KudosReaction(SQLModel, table=True):
    __tablename__ = "kudos_reactions"
    __table_args__ = (
        tenant_fk(["kudos_id"], "kudos", "kudos_reactions_kudos_fkey", "CASCADE"),
        tenant_fk(["employee_id"], "employees", "kudos_reactions_employee_fkey", "CASCADE"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    kudos_id: uuid.UUID = Field(primary_key=True)
    employee_id: uuid.UUID = Field(primary_key=True)
    reaction: str = Field(primary_key=True)
    created_at: datetime = created_at_field()


class KudosComment(SQLModel, table=True):
    __tablename__ = "kudos_comments"
    __table_args__ = (
        tenant_fk(["kudos_id"], "kudos", "kudos_comments_kudos_fkey", "CASCADE"),
        tenant_fk(["author_id"], "employees", "kudos_comments_author_fkey", "CASCADE"),
        sa.Index("kudos_comments_kudos_idx", "tenant_id", "kudos_id", "created_at", "id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    kudos_id: uuid.UUID
    author_id: uuid.UUID
    body: str
    created_at: datetime = created_at_field()
    deleted_at: datetime | None = optional_ts()


class PointsTransaction(SQLModel, table=True):
    """One movement of points: its entries (at least two) sum to zero."""

    __tablename__ = "points_transactions"
    __table_args__ = (
        tenant_fk(["kudos_id"], "kudos", "points_transactions_kudos_fkey"),
        tenant_fk(["redemption_id"], "redemptions", "points_transactions_redemption_fkey"),
        sa.UniqueConstraint("tenant_id", "kudos_id", name="points_transactions_kudos_key"),
        sa.UniqueConstraint(
            "tenant_id", "redemption_id", name="points_transactions_redemption_key"
        ),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    kind: str
    kudos_id: uuid.UUID | None = None
    redemption_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    created_at: datetime = created_at_field()


class PointsEntry(SQLModel, table=True):
    """One leg of a transaction on one account. `period` is the first day of the month, in the
    tenant's timezone, that the transaction counts against (monthly allowances and budgets)."""

    __tablename__ = "points_entries"
    __table_args__ = (
        tenant_fk(
            ["transaction_id"], "points_transactions", "points_entries_transaction_fkey", "CASCADE"
        ),
        tenant_fk(["employee_id"], "employees", "points_entries_employee_fkey", "CASCADE"),
        sa.Index(
            "points_entries_account_idx",
            "tenant_id",
            "employee_id",
            "account",
            "period",
            postgresql_include=["amount"],
        ),
        sa.Index("points_entries_transaction_idx", "tenant_id", "transaction_id"),
        sa.Index("points_entries_history_idx", "tenant_id", "employee_id", "created_at", "id"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    transaction_id: uuid.UUID
    account: str
    employee_id: uuid.UUID | None = None
    amount: int
    period: date
    created_at: datetime = created_at_field()


class Reward(SQLModel, table=True):
    __tablename__ = "rewards"

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    description: str | None = None
    cost: int
    stock: int | None = None  # None: unlimited
    active: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Redemption(SQLModel, table=True):
    """requested -> approved (the points leave the balance) | declined | cancelled (by the
    requester). The stock is taken at the request and given back on a decline or cancel."""

    __tablename__ = "redemptions"
    __table_args__ = (
        tenant_fk(["reward_id"], "rewards", "redemptions_reward_fkey"),
        tenant_fk(["employee_id"], "employees", "redemptions_employee_fkey", "CASCADE"),
        tenant_fk(["decided_by"], "employees", "redemptions_decided_by_fkey"),
        sa.Index("redemptions_employee_idx", "tenant_id", "employee_id", "created_at"),
        sa.Index("redemptions_status_idx", "tenant_id", "status", "created_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    reward_id: uuid.UUID
    employee_id: uuid.UUID
    cost: int  # the reward's cost when requested
    status: str = Field(default="requested", sa_column_kwargs={"server_default": "requested"})
    note: str | None = None
    decided_by: uuid.UUID | None = None
    decided_at: datetime | None = optional_ts()
    decision_note: str | None = None
    created_at: datetime = created_at_field()


class MilestoneSetting(SQLModel, table=True):
    """A milestone kind's configuration (no row: `recognition.milestones.DEFAULTS`)."""

    __tablename__ = "milestone_settings"

    tenant_id: uuid.UUID = tenant_id_field()
    kind: str = Field(primary_key=True)
    enabled: bool
    message: str
    points: int
    updated_at: datetime = updated_at_field()


class Milestone(SQLModel, table=True):
    """A recognized milestone, once per `key` (the kind, its subject and its occurrence: a
    credential, a goal, a plan, a move, a person's Nth anniversary)."""

    __tablename__ = "milestones"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "milestones_employee_fkey", "CASCADE"),
        tenant_fk(["kudos_id"], "kudos", "milestones_kudos_fkey"),
        sa.UniqueConstraint("tenant_id", "key", name="milestones_key"),
        sa.Index("milestones_employee_idx", "tenant_id", "employee_id", "occurred_on"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    kind: str
    key: str
    employee_id: uuid.UUID
    occurred_on: date
    kudos_id: uuid.UUID | None = None
    created_at: datetime = created_at_field()


class RecognitionMonthly(SQLModel, table=True):
    """What the leaderboards count, per tenant month (`ledger.period_of`) and person: public
    kudos from people (not milestones), not hidden. Kept by `kudos.count_on_boards` in the
    transaction of each give, hide and unhide."""

    __tablename__ = "recognition_monthly"
    __table_args__ = (
        tenant_fk(["employee_id"], "employees", "recognition_monthly_employee_fkey", "CASCADE"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    month: date = Field(primary_key=True)
    employee_id: uuid.UUID = Field(primary_key=True)
    received: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    received_points: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    given: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    given_points: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
