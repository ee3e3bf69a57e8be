"""Webhook endpoints a tenant admin registers (their deliveries are `reminders.models.Delivery`
rows on the webhook channel: one delivery state machine for every channel)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from upward.models_base import created_at_field, id_field, tenant_id_field, updated_at_field
from upward.people.models import TextArray


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "url", name="webhook_endpoints_url_key"),)

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    url: str
    description: str | None = None
    event_types: list[str] = Field(
        default_factory=list, sa_type=TextArray(), sa_column_kwargs={"nullable": False}
    )
    # the signing secret: needed to sign, so kept (never returned after creation or rotation)
    secret: str
    # after a rotation the old secret also signs until then (receivers switch without a gap)
    previous_secret: str | None = None
    previous_secret_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    active: bool = Field(default=True, sa_column_kwargs={"server_default": "true"})
    disabled_reason: str | None = None
    disabled_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ApiKey(SQLModel, table=True):
    """A partner's key: a service principal of its tenant, limited to its scopes. Only a hash of
    the secret is kept; the token (shown once) carries the key id and the tenant."""

    __tablename__ = "api_keys"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "prefix", name="api_keys_prefix_key"),
        sa.Index("api_keys_created_idx", "tenant_id", "created_at"),
    )

    tenant_id: uuid.UUID = tenant_id_field()
    id: uuid.UUID = id_field()
    name: str
    prefix: str  # the token's first characters, shown in lists (`upw_` + 8)
    secret_hash: bytes = Field(sa_type=sa.LargeBinary())
    # after a rotation the previous secret keeps working until `previous_valid_until`
    previous_secret_hash: bytes | None = Field(default=None, sa_type=sa.LargeBinary())
    previous_valid_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    scopes: list[str] = Field(
        default_factory=list, sa_type=TextArray(), sa_column_kwargs={"nullable": False}
    )
    allowed_cidrs: list[str] = Field(
        default_factory=list, sa_type=TextArray(), sa_column_kwargs={"nullable": False}
    )
    # restricted to the operations registered in this collection of trusted documents
    document_collection: str | None = None
    expires_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    last_used_ip: str | None = None
    rotated_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_by: uuid.UUID | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class TrustedDocument(SQLModel, table=True):
    """An operation registered for a tenant (`upward documents register`): in trusted-documents
    mode only these run. Keyed by the SHA-256 of the document text, inside a collection."""

    __tablename__ = "trusted_documents"

    tenant_id: uuid.UUID = tenant_id_field()
    collection: str = Field(primary_key=True)
    sha256: str = Field(primary_key=True)
    operation_name: str | None = None
    document: str
    source: str | None = None  # the file it was registered from
    created_at: datetime = created_at_field()
