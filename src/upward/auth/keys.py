"""API key tokens: format, parsing and authentication into a service Principal.

A token is `upw_` + key id (22) + tenant id (22) + secret (33) + checksum (6), base62 and fixed
width (87 characters). The prefix makes leaked keys findable by secret scanners (regex
`upw_[0-9A-Za-z]{83}`), and the CRC-32 checksum lets a scanner or this code reject a mistyped
token without a database lookup. The secret is 192 random bits; only its SHA-256 is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
import string
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from upward.auth.principal import Principal
from upward.auth.scopes import expand
from upward.db import Executor, fetch
from upward.errors import Forbidden, Unauthenticated

log = logging.getLogger(__name__)

TOKEN_PREFIX = "upw_"  # noqa: S105 - a public marker, not a secret
_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_ID_WIDTH, _SECRET_BYTES, _SECRET_WIDTH, _CHECK_WIDTH = 22, 24, 33, 6
TOKEN_LENGTH = len(TOKEN_PREFIX) + 2 * _ID_WIDTH + _SECRET_WIDTH + _CHECK_WIDTH
DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
LAST_USED_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often per key

# named columns, not `*` (see auth/service.py)
_AUTHENTICATE_KEY = (
    "select id, name, secret_hash, previous_secret_hash, previous_valid_until, scopes, "
    "allowed_cidrs, document_collection, expires_at, revoked_at, last_used_at, tenant_id, "
    "tenant_slug, tenant_timezone, trusted_documents_only "
    "from upward_authenticate_key($1::uuid, $2::uuid)"
)


def _encode(data: bytes, width: int) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out)).rjust(width, "0")


def _decode(text: str) -> int:
    n = 0
    for c in text:
        n = n * 62 + _INDEX[c]
    return n


def _checksum(body: str) -> str:
    return _encode(zlib.crc32(body.encode()).to_bytes(4, "big"), _CHECK_WIDTH)


def hash_secret(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


@dataclass(frozen=True, slots=True)
class ParsedToken:
    key_id: uuid.UUID
    tenant_id: uuid.UUID
    secret: bytes


def new_token(key_id: uuid.UUID, tenant_id: uuid.UUID) -> tuple[str, bytes]:
    """A fresh token for the key and the hash to store."""
    secret = secrets.token_bytes(_SECRET_BYTES)
    body = (
        TOKEN_PREFIX
        + _encode(key_id.bytes, _ID_WIDTH)
        + _encode(tenant_id.bytes, _ID_WIDTH)
        + _encode(secret, _SECRET_WIDTH)
    )
    return body + _checksum(body), hash_secret(secret)


def display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_LENGTH]


def looks_like_key(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


def parse_token(token: str) -> ParsedToken:
    if len(token) != TOKEN_LENGTH or not all(c in _INDEX for c in token[len(TOKEN_PREFIX) :]):
        raise Unauthenticated("malformed API key")
    body, check = token[:-_CHECK_WIDTH], token[-_CHECK_WIDTH:]
    if not hmac.compare_digest(_checksum(body), check):
        raise Unauthenticated("malformed API key (checksum mismatch: is it complete?)")
    at = len(TOKEN_PREFIX)
    try:
        key_id = uuid.UUID(bytes=_decode(body[at : at + _ID_WIDTH]).to_bytes(16, "big"))
        at += _ID_WIDTH
        tenant_id = uuid.UUID(bytes=_decode(body[at : at + _ID_WIDTH]).to_bytes(16, "big"))
        at += _ID_WIDTH
        secret = _decode(body[at:]).to_bytes(_SECRET_BYTES, "big")
    except OverflowError:
        raise Unauthenticated("malformed API key") from None
    return ParsedToken(key_id, tenant_id, secret)


def normalize_cidrs(values: list[str], *, field: str) -> list[str]:
    """Networks in canonical form (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a /32 or
    /128). Raises BadUserInput naming the entry."""
    from upward.errors import BadUserInput

    out: list[str] = []
    for i, value in enumerate(values):
        try:
            net = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise BadUserInput(
                f"{value!r} is not an IP address or network (CIDR)", field=f"{field}.{i}"
            ) from None
        if str(net) not in out:
            out.append(str(net))
    return out


def ip_allowed(client_ip: str | None, cidrs: list[str]) -> bool:
    if not cidrs:
        return True
    if not client_ip:
        return False
    try:
        addr = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in ipaddress.ip_network(c) for c in cidrs)


async def authenticate_key(
    session: Executor, token: str, client_ip: str | None, *, now: datetime | None = None
) -> Principal:
    """The key's service principal; sets the tenant for the transaction (one round trip).
    Unknown, wrong, revoked and expired keys are UNAUTHENTICATED; a key used from outside its
    IP allowlist is FORBIDDEN."""
    parsed = parse_token(token)
    rows = await fetch(session, _AUTHENTICATE_KEY, parsed.tenant_id, parsed.key_id)
    row = rows[0] if rows else None
    if row is None:
        raise Unauthenticated("unknown API key (or its tenant is suspended)")
    now = now or datetime.now(UTC)
    digest = hash_secret(parsed.secret)
    current = hmac.compare_digest(digest, bytes(row["secret_hash"]))
    previous = (
        row["previous_secret_hash"] is not None
        and row["previous_valid_until"] is not None
        and hmac.compare_digest(digest, bytes(row["previous_secret_hash"]))
    )
    if not current and not previous:
        raise Unauthenticated("unknown API key (or its tenant is suspended)")
    if row["revoked_at"] is not None:
        raise Unauthenticated("this API key has been revoked")
    if row["expires_at"] is not None and row["expires_at"] <= now:
        raise Unauthenticated("this API key has expired")
    if not current and row["previous_valid_until"] <= now:
        raise Unauthenticated("this API key was rotated: use the new secret")
    if not ip_allowed(client_ip, list(row["allowed_cidrs"])):
        raise Forbidden(f"this API key may not be used from {client_ip or 'an unknown address'}")
    collection = row["document_collection"] or ("*" if row["trusted_documents_only"] else None)
    principal = Principal.service(
        tenant_id=row["tenant_id"],
        tenant_slug=row["tenant_slug"],
        api_key_id=row["id"],
        scopes=expand(row["scopes"]),
        timezone=row["tenant_timezone"],
        document_collection=collection,
    )
    last = row["last_used_at"]
    if last is None or now - last >= LAST_USED_EVERY:
        _touch(principal.tenant_id, principal.api_key_id, client_ip, now)
    return principal


_touching: set[asyncio.Task[Any]] = set()


def _touch(tenant_id: uuid.UUID, key_id: Any, client_ip: str | None, now: datetime) -> None:
    """Record last use in its own short transaction, off the request path (a query's
    transaction is rolled back; the request must not wait for this write)."""

    async def write() -> None:
        from upward.db import tenant_session

        try:
            async with tenant_session(tenant_id) as s:
                await fetch(
                    s,
                    "update api_keys set last_used_at = $2, last_used_ip = $3 where id = $1 "
                    "and (last_used_at is null or last_used_at < $2)",
                    key_id,
                    now,
                    client_ip,
                )
        except Exception:
            log.warning("could not record the last use of API key %s", key_id, exc_info=True)

    task = asyncio.get_running_loop().create_task(write())
    _touching.add(task)
    task.add_done_callback(_touching.discard)


async def settle() -> None:
    """Wait for pending last-used writes (tests, shutdown)."""
    while _touching:
        await asyncio.gather(*list(_touching), return_exceptions=True)


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str | None:
    """The client's address: the peer, or, when the peer is a trusted proxy, the last address in
    X-Forwarded-For that is not one (a client can prepend anything; proxies append)."""
    if not trusted or not forwarded_for or not ip_allowed(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not ip_allowed(hop, trusted):
            return hop
    return hops[0] if hops else peer
