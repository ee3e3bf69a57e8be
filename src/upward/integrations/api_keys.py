"""API keys (tenant_admin, signed in as a person): create, list, change, rotate, revoke.

The token is shown once (`auth.keys` makes and checks it); only a hash of its secret is kept.
Revocation is effective on the next request: every request reads the key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from upward import clock
from upward.audit import service as audit
from upward.auth import keys
from upward.auth.principal import Principal
from upward.auth.scopes import SCOPES, unknown
from upward.db import Executor
from upward.errors import BadUserInput, NotFound
from upward.integrations.models import ApiKey
from upward.pagination import Order, Page, PageArgs, paginate
from upward.people.validation import require_text

t_key = ApiKey.__table__
MAX_ACTIVE_KEYS = 100
MAX_OVERLAP_HOURS = 7 * 24
MAX_CIDRS = 50
_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

KEY_ORDER = Order(
    key="api_keys:created",
    columns=(t_key.c.created_at, t_key.c.id),
    parse=(datetime.fromisoformat, uuid.UUID),
)


def _require_admin(principal: Principal) -> None:
    principal.require_user("managing API keys")
    principal.require_tenant_admin("managing API keys")


def check_scopes(values: Sequence[str], *, field: str) -> list[str]:
    out = list(dict.fromkeys(v.strip() for v in values))
    bad = unknown(out)
    if bad:
        raise BadUserInput(
            f"unknown scope {bad[0]!r}; scopes are: {', '.join(SCOPES)}",
            field=field,
        )
    return out


def check_collection(value: str | None, *, field: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not _COLLECTION.match(value):
        raise BadUserInput(
            "a document collection name is 1-64 letters, digits, `.`, `_` or `-`", field=field
        )
    return value


def _check_cidrs(values: Sequence[str], *, field: str) -> list[str]:
    if len(values) > MAX_CIDRS:
        raise BadUserInput(f"at most {MAX_CIDRS} networks", field=field)
    return keys.normalize_cidrs(list(values), field=field)


def _check_expiry(value: datetime | None, *, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise BadUserInput("give the expiry with a time zone offset", field=field)
    if value <= clock.now():
        raise BadUserInput("the expiry must be in the future", field=field)
    return value


async def list_keys(
    session: Executor,
    principal: Principal,
    *,
    page: PageArgs,
    include_revoked: bool = False,
    with_count: bool = False,
) -> Page:
    _require_admin(principal)
    cond = [] if include_revoked else [t_key.c.revoked_at.is_(None)]
    stmt = sa.select(t_key).where(*cond)
    count = sa.select(sa.func.count()).select_from(t_key).where(*cond)
    return await paginate(session, stmt, KEY_ORDER, page, count_stmt=count, with_count=with_count)


async def keys_by_ids(session: Executor, principal: Principal, ids: list[uuid.UUID]) -> list[Any]:
    _require_admin(principal)
    return list((await session.execute(sa.select(t_key).where(t_key.c.id.in_(ids)))).all())


async def get_key(
    session: Executor, principal: Principal, key_id: uuid.UUID, *, field: str = "id"
) -> Any:
    _require_admin(principal)
    row = (await session.execute(sa.select(t_key).where(t_key.c.id == key_id))).first()
    if row is None:
        raise NotFound("no API key with this id", field=field)
    return row


async def create_key(
    session: Executor,
    principal: Principal,
    *,
    name: str,
    scopes: Sequence[str],
    expires_at: datetime | None = None,
    allowed_cidrs: Sequence[str] = (),
    document_collection: str | None = None,
) -> tuple[Any, str]:
    """A new key; returns its row and its token (shown this once)."""
    _require_admin(principal)
    name = require_text(name, field="input.name", max_len=100)
    scope_list = check_scopes(scopes, field="input.scopes")
    expires_at = _check_expiry(expires_at, field="input.expiresAt")
    cidrs = _check_cidrs(allowed_cidrs, field="input.allowedCidrs")
    collection = check_collection(document_collection, field="input.documentCollection")
    active = await session.scalar(
        sa.select(sa.func.count()).select_from(t_key).where(t_key.c.revoked_at.is_(None))
    )
    if (active or 0) >= MAX_ACTIVE_KEYS:
        raise BadUserInput(
            f"a tenant has at most {MAX_ACTIVE_KEYS} active API keys: revoke unused ones",
            field="input",
        )
    key_id = uuid.uuid4()
    token, digest = keys.new_token(key_id, principal.tenant_id)
    row = (
        await session.execute(
            sa.insert(t_key)
            .values(
                tenant_id=principal.tenant_id,
                id=key_id,
                name=name,
                prefix=keys.display_prefix(token),
                secret_hash=digest,
                scopes=scope_list,
                allowed_cidrs=cidrs,
                document_collection=collection,
                expires_at=expires_at,
                created_by=principal.employee_id,
            )
            .returning(t_key)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="api_key.create",
        target_type="ApiKey",
        target_id=key_id,
        changes={
            "name": name,
            "scopes": scope_list,
            "expires_at": expires_at,
            "allowed_cidrs": cidrs,
            "document_collection": collection,
        },
    )
    return row, token


async def update_key(
    session: Executor, principal: Principal, key_id: uuid.UUID, patch: dict[str, Any]
) -> Any:
    """Change name, scopes, expiry, allowlist or document collection; effective on the key's
    next request."""
    before = await get_key(session, principal, key_id)
    if before.revoked_at is not None:
        raise BadUserInput("this API key is revoked: create a new one", field="id")
    values: dict[str, Any] = {}
    if "name" in patch:
        values["name"] = require_text(patch["name"] or "", field="input.name", max_len=100)
    if "scopes" in patch:
        values["scopes"] = check_scopes(patch["scopes"] or [], field="input.scopes")
    if "expires_at" in patch:
        values["expires_at"] = _check_expiry(patch["expires_at"], field="input.expiresAt")
    if "allowed_cidrs" in patch:
        values["allowed_cidrs"] = _check_cidrs(
            patch["allowed_cidrs"] or [], field="input.allowedCidrs"
        )
    if "document_collection" in patch:
        values["document_collection"] = check_collection(
            patch["document_collection"], field="input.documentCollection"
        )
    if not values:
        return before
    row = (
        await session.execute(
            sa.update(t_key)
            .where(t_key.c.id == key_id)
            .values(**values, updated_at=clock.now())
            .returning(t_key)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="api_key.update",
        target_type="ApiKey",
        target_id=key_id,
        changes=audit.diff({k: getattr(before, k) for k in values}, values),
    )
    return row


async def rotate_key(
    session: Executor, principal: Principal, key_id: uuid.UUID, *, overlap_hours: int = 24
) -> tuple[Any, str]:
    """A new secret for the key (same id, scopes and prefix). For `overlap_hours` the old
    secret keeps working, so deployments can switch without an outage; 0 stops it at once."""
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise BadUserInput(f"must be between 0 and {MAX_OVERLAP_HOURS}", field="overlapHours")
    before = await get_key(session, principal, key_id)
    if before.revoked_at is not None:
        raise BadUserInput("this API key is revoked: create a new one", field="id")
    token, digest = keys.new_token(key_id, principal.tenant_id)
    now = clock.now()
    row = (
        await session.execute(
            sa.update(t_key)
            .where(t_key.c.id == key_id)
            .values(
                secret_hash=digest,
                previous_secret_hash=before.secret_hash if overlap_hours else None,
                previous_valid_until=now + timedelta(hours=overlap_hours)
                if overlap_hours
                else None,
                rotated_at=now,
                updated_at=now,
            )
            .returning(t_key)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="api_key.rotate",
        target_type="ApiKey",
        target_id=key_id,
        changes={"overlap_hours": overlap_hours},
    )
    return row, token


async def revoke_key(session: Executor, principal: Principal, key_id: uuid.UUID) -> Any:
    """Revoke a key (and any secret of it still in its rotation overlap). Revoking a revoked
    key changes nothing."""
    before = await get_key(session, principal, key_id)
    if before.revoked_at is not None:
        return before
    now = clock.now()
    row = (
        await session.execute(
            sa.update(t_key)
            .where(t_key.c.id == key_id)
            .values(revoked_at=now, updated_at=now)
            .returning(t_key)
        )
    ).one()
    await audit.record(
        session,
        principal,
        action="api_key.revoke",
        target_type="ApiKey",
        target_id=key_id,
        changes={"name": before.name, "prefix": before.prefix},
    )
    return row
