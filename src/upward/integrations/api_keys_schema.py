"""GraphQL for API keys (a tenant_admin signed in as a person; keys cannot manage keys)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from upward.auth.scopes import SCOPES
from upward.graphql.node import Node, register_node
from upward.graphql.relay import (
    Connection,
    build_connection,
    expect_global_id,
    page_args,
    to_global_id,
    wants_total,
)
from upward.graphql.selection import Selection
from upward.integrations import api_keys as service
from upward.reminders.schema import PAGE_DOC


@strawberry.type(
    description="A partner's key: a service principal of the tenant, limited to its scopes."
)
class ApiKey(Node):
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(
        description="The token's first characters (`upw_` + 8), to recognize it; never the secret."
    )
    scopes: list[str]
    allowed_cidrs: list[str] = strawberry.field(
        description="Networks it may be used from; empty: anywhere."
    )
    document_collection: str | None = strawberry.field(
        description="When set, the key runs only the trusted documents of this collection."
    )
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = strawberry.field(
        description="Last request with this key (recorded at most once a minute)."
    )
    last_used_ip: str | None
    rotated_at: datetime | None
    previous_secret_valid_until: datetime | None = strawberry.field(
        description="After a rotation, the previous secret still works until then."
    )
    created_at: datetime


def key_obj(row: Any) -> ApiKey:
    return ApiKey(
        id=to_global_id("ApiKey", row.id),
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes),
        allowed_cidrs=list(row.allowed_cidrs),
        document_collection=row.document_collection,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        last_used_ip=row.last_used_ip,
        rotated_at=row.rotated_at,
        previous_secret_valid_until=row.previous_valid_until
        if row.previous_secret_hash is not None
        else None,
        created_at=row.created_at,
    )


@register_node("ApiKey")
async def _key_nodes(ctx: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    p = ctx.require_principal()
    if p.kind != "user" or not p.is_tenant_admin:
        return {}
    async with ctx.session() as s:
        rows = await service.keys_by_ids(s, p, ids)
    return {r.id: key_obj(r) for r in rows}


@strawberry.type(description="A key with its token, shown only this once.")
class ApiKeyWithToken:
    api_key: ApiKey
    token: str = strawberry.field(
        description="`upw_...`: send it as `Authorization: Bearer <token>`. Store it in a "
        "secret manager; Upward keeps only a hash."
    )


@strawberry.type(description="A scope an API key can be given.")
class ApiScope:
    name: str
    description: str


@strawberry.input
class CreateApiKeyInput:
    name: str
    scopes: list[str] = strawberry.field(description="See `apiScopes` and docs/partners.md.")
    expires_at: datetime | None = None
    allowed_cidrs: list[str] = strawberry.field(
        default_factory=list,
        description="IP addresses or networks (CIDR) the key may be used from; empty: anywhere.",
    )
    document_collection: str | None = strawberry.field(
        default=None,
        description="Restrict the key to the trusted documents registered in this collection.",
    )


@strawberry.input(description="Fields to change; omitted fields stay as they are.")
class UpdateApiKeyInput:
    name: str | None = strawberry.UNSET
    scopes: list[str] | None = strawberry.UNSET
    expires_at: datetime | None = strawberry.UNSET
    allowed_cidrs: list[str] | None = strawberry.UNSET
    document_collection: str | None = strawberry.UNSET


@strawberry.type
class ApiKeysQuery:
    @strawberry.field(description="Every scope an API key can be given.")
    def api_scopes(self) -> list[ApiScope]:
        return [ApiScope(name=k, description=v) for k, v in SCOPES.items()]

    @strawberry.field(description="API keys, oldest first (tenant_admin, signed in). " + PAGE_DOC)
    async def api_keys(
        self,
        info: Info,
        include_revoked: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ApiKey]:
        ctx = info.context
        p = ctx.require_principal()
        args = page_args(ctx, service.KEY_ORDER, first=first, after=after, last=last, before=before)
        async with ctx.session() as s:
            page = await service.list_keys(
                s,
                p,
                page=args,
                include_revoked=include_revoked,
                with_count=wants_total(Selection(info)),
            )
        return build_connection(ctx, page, service.KEY_ORDER, key_obj)


@strawberry.type
class ApiKeysMutation:
    @strawberry.mutation(
        description="Create an API key (tenant_admin, signed in); its token is shown only now."
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> ApiKeyWithToken:
        async with info.context.mutation() as (s, p):
            row, token = await service.create_key(
                s,
                p,
                name=input.name,
                scopes=input.scopes,
                expires_at=input.expires_at,
                allowed_cidrs=input.allowed_cidrs,
                document_collection=input.document_collection,
            )
        return ApiKeyWithToken(api_key=key_obj(row), token=token)

    @strawberry.mutation(description="Change a key; effective on its next request.")
    async def update_api_key(
        self, info: Info, id: strawberry.ID, input: UpdateApiKeyInput
    ) -> ApiKey:
        raw = expect_global_id(id, "ApiKey", field="id")
        patch = {
            k: v
            for k, v in {
                "name": input.name,
                "scopes": input.scopes,
                "expires_at": input.expires_at,
                "allowed_cidrs": input.allowed_cidrs,
                "document_collection": input.document_collection,
            }.items()
            if v is not strawberry.UNSET
        }
        async with info.context.mutation() as (s, p):
            row = await service.update_key(s, p, raw, patch)
        return key_obj(row)

    @strawberry.mutation(
        description="A new token for the key (same id, scopes and prefix), shown only now. For "
        "`overlapHours` (default 24, at most 168) the previous token keeps working; 0 stops it "
        "at once (it leaked)."
    )
    async def rotate_api_key(
        self, info: Info, id: strawberry.ID, overlap_hours: int = 24
    ) -> ApiKeyWithToken:
        raw = expect_global_id(id, "ApiKey", field="id")
        async with info.context.mutation() as (s, p):
            row, token = await service.rotate_key(s, p, raw, overlap_hours=overlap_hours)
        return ApiKeyWithToken(api_key=key_obj(row), token=token)

    @strawberry.mutation(description="Revoke a key: its next request is refused (UNAUTHENTICATED).")
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        raw = expect_global_id(id, "ApiKey", field="id")
        async with info.context.mutation() as (s, p):
            row = await service.revoke_key(s, p, raw)
        return key_obj(row)
