"""Persisted queries: Automatic Persisted Queries (APQ) and trusted documents.

APQ (the protocol Apollo, urql and Relay clients speak): a request carries
`extensions.persistedQuery = {version: 1, sha256Hash}`. Without `query`, the text is looked up
(in Redis, per tenant, for `apq_ttl_seconds`); a miss answers PERSISTED_QUERY_NOT_FOUND and
the client sends the text once with its hash, which is checked and stored.

Trusted documents: operations registered for a tenant (`upward documents register`), in
collections. A tenant (`upward documents enforce`) or a key (`documentCollection`) can be
restricted to them: then only registered operations run, by hash (`persistedQuery` or
`documentId: "sha256:<hex>"`) or by their exact text; anything else is refused with
PERSISTED_QUERY_NOT_IN_LIST before it is parsed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from graphql import GraphQLError, parse, validate

from upward import cache
from upward.db import fetch
from upward.errors import BadUserInput, UpwardError

log = logging.getLogger(__name__)

_HASH = re.compile(r"^[0-9a-f]{64}$")
_TRUSTED_TTL = 60.0  # seconds a trusted document found in the database is remembered
_trusted: dict[tuple[uuid.UUID, str, str], tuple[str, float]] = {}


class PersistedQueryNotFound(UpwardError):
    code = "PERSISTED_QUERY_NOT_FOUND"


class PersistedQueryNotSupported(UpwardError):
    code = "PERSISTED_QUERY_NOT_SUPPORTED"


class PersistedQueryNotInList(UpwardError):
    code = "PERSISTED_QUERY_NOT_IN_LIST"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _requested_hash(extensions: dict[str, Any] | None, document_id: Any) -> str | None:
    if document_id is not None:
        if not isinstance(document_id, str):
            raise BadUserInput("`documentId` must be a string", field="documentId")
        value = document_id.removeprefix("sha256:").lower()
        if not _HASH.match(value):
            raise BadUserInput(
                "`documentId` must be `sha256:` and 64 hex digits", field="documentId"
            )
        return value
    pq = (extensions or {}).get("persistedQuery")
    if pq is None:
        return None
    if not isinstance(pq, dict) or pq.get("version") != 1:
        raise PersistedQueryNotSupported("only persisted query version 1 is supported")
    value = pq.get("sha256Hash")
    if not isinstance(value, str) or not _HASH.match(value.lower()):
        raise BadUserInput(
            "`persistedQuery.sha256Hash` must be 64 hex digits",
            field="extensions.persistedQuery.sha256Hash",
        )
    return value.lower()


async def _trusted_text(ctx: Any, collection: str, digest: str) -> str | None:
    p = ctx.principal
    key = (p.tenant_id, collection, digest)
    hit = _trusted.get(key)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    async with ctx.session() as s:
        rows = await fetch(
            s,
            "select document from trusted_documents where sha256 = $1 "
            "and ($2::text = '*' or collection = $2) limit 1",
            digest,
            collection,
        )
    if not rows:
        return None
    if len(_trusted) > 10_000:
        _trusted.clear()
    _trusted[key] = (rows[0]["document"], now + _TRUSTED_TTL)
    return rows[0]["document"]


def _apq_key(ctx: Any, digest: str) -> str:
    return cache.key("apq", ctx.principal.tenant_id, digest)


async def resolve_query(
    ctx: Any, query: str | None, extensions: dict[str, Any] | None, document_id: Any = None
) -> str | None:
    """The text of the operation to run (None: no query, the caller answers as usual).
    Raises the persisted-query errors above. Runs after authentication: documents are per
    tenant, and an unauthenticated request gets no further than its query text."""
    digest = _requested_hash(extensions, document_id)
    principal = ctx.principal
    collection = principal.document_collection if principal is not None else None
    if digest is None:
        if (
            collection is not None
            and query is not None
            and await _trusted_text(ctx, collection, sha256_hex(query)) is None
        ):
            raise PersistedQueryNotInList(
                "only registered operations (trusted documents) may run here: send the "
                "`documentId` of a registered one, or register this one "
                "(`upward documents register`)"
            )
        return query
    if query is not None:
        if sha256_hex(query) != digest:
            raise BadUserInput(
                "provided sha does not match query", field="extensions.persistedQuery.sha256Hash"
            )
        if collection is not None:
            if await _trusted_text(ctx, collection, digest) is None:
                raise PersistedQueryNotInList(
                    "only registered operations (trusted documents) may run here; this one is "
                    "not registered"
                )
        elif principal is not None:
            try:
                await cache.redis().set(
                    _apq_key(ctx, digest), query, ex=ctx.settings.apq_ttl_seconds
                )
            except Exception:  # Redis unreachable: run the text, store it next time
                log.warning("persisted queries: cannot store the query", exc_info=True)
        return query
    if principal is None:
        return None  # authentication failed: answer that, not a cache miss
    if collection is not None:
        text = await _trusted_text(ctx, collection, digest)
        if text is None:
            raise PersistedQueryNotInList("no registered operation has this hash")
        return text
    try:
        raw = await cache.redis().get(_apq_key(ctx, digest))
    except Exception:  # Redis unreachable: a miss (the client sends the text with the hash)
        log.warning("persisted queries: cannot read the store", exc_info=True)
        raw = None
    if raw is None:
        text = await _trusted_text(ctx, "*", digest)
        if text is None:
            raise PersistedQueryNotFound("PersistedQueryNotFound")
        return text
    return raw.decode() if isinstance(raw, bytes) else str(raw)


# --- registration (the CLI, as the owner) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registered:
    added: int
    unchanged: int
    removed: int
    errors: list[str]


def read_documents(folder: Path) -> list[tuple[str, str]]:
    """(relative path, text) of every .graphql file under `folder`, sorted."""
    files = sorted(p for p in folder.rglob("*.graphql") if p.is_file())
    return [(str(p.relative_to(folder)), p.read_text(encoding="utf-8")) for p in files]


def check_documents(schema: Any, docs: Iterable[tuple[str, str]]) -> list[str]:
    """Every problem, as `path: message`: each file must parse and validate against the schema
    and hold at least one operation."""
    errors: list[str] = []
    for path, text in docs:
        try:
            document = parse(text)
        except GraphQLError as exc:
            errors.append(f"{path}: {exc.message}")
            continue
        if not any(d.kind == "operation_definition" for d in document.definitions):
            errors.append(f"{path}: no operation in the file")
        errors += [f"{path}: {e.message}" for e in validate(schema, document)]
    return errors


def _operation_name(text: str) -> str | None:
    document = parse(text)
    names = [
        d.name.value for d in document.definitions if d.kind == "operation_definition" and d.name
    ]
    return ", ".join(names) or None


async def register_documents(
    engine: Any,
    schema: Any,
    *,
    tenant_slug: str,
    collection: str,
    docs: list[tuple[str, str]],
    replace: bool = False,
) -> Registered:
    """Register `docs` in the tenant's collection (idempotent: a document already there is left
    as is). `replace`: documents of the collection not in `docs` are removed. Nothing is
    written when any document is invalid."""
    errors = check_documents(schema, docs)
    if errors:
        return Registered(0, 0, 0, errors)
    async with engine.begin() as conn:
        tenant_id = await conn.scalar(
            sa.text("select id from tenants where slug = :s"), {"s": tenant_slug}
        )
        if tenant_id is None:
            return Registered(0, 0, 0, [f"no tenant {tenant_slug!r}"])
        # the owner bypasses row-level security: every statement names the tenant
        existing = set(
            (
                await conn.execute(
                    sa.text(
                        "select sha256 from trusted_documents "
                        "where tenant_id = :t and collection = :c"
                    ),
                    {"t": tenant_id, "c": collection},
                )
            ).scalars()
        )
        wanted: dict[str, tuple[str, str]] = {}
        for path, text in docs:
            wanted.setdefault(sha256_hex(text), (path, text))
        new = [(h, p, t) for h, (p, t) in wanted.items() if h not in existing]
        for digest, path, text in new:
            await conn.execute(
                sa.text(
                    "insert into trusted_documents "
                    "(tenant_id, collection, sha256, operation_name, document, source) "
                    "values (:t, :c, :h, :n, :d, :s)"
                ),
                {
                    "t": tenant_id,
                    "c": collection,
                    "h": digest,
                    "n": _operation_name(text),
                    "d": text,
                    "s": path,
                },
            )
        removed = 0
        if replace:
            stale = existing - set(wanted)
            if stale:
                await conn.execute(
                    sa.text(
                        "delete from trusted_documents where tenant_id = :t and collection = :c "
                        "and sha256 = any(:h)"
                    ),
                    {"t": tenant_id, "c": collection, "h": list(stale)},
                )
                removed = len(stale)
    _trusted.clear()
    return Registered(len(new), len(wanted) - len(new), removed, [])


async def enforce(engine: Any, *, tenant_slug: str, on: bool) -> bool:
    """Switch the tenant's trusted-documents mode; False when there is no such tenant."""
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.text("update tenants set trusted_documents_only = :on where slug = :s"),
            {"on": on, "s": tenant_slug},
        )
    return bool(result.rowcount)
