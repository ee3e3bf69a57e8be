"""Evidence storage: a pluggable byte store, a local-filesystem default, and signed URLs.

Clients never send evidence through GraphQL. `createEvidenceUpload` records the file's declared
name, media type and size and returns a short-lived signed URL; the client PUTs the bytes there
(`/uploads/evidence/<token>`, streamed to the store while the size is counted and the sha256
computed). `Evidence.downloadUrl` is a signed GET URL, minted only for viewers who may see it.

A store is anything with the methods of `EvidenceStore` (put, commit, discard, open, delete);
`UPWARD_EVIDENCE_STORE` names a factory (`package.module:make_store`, called with the
settings) for another backend (S3, GCS). Keys are `<tenant_id>/<evidence_id>`, never built
from client input.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import importlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from upward.settings import Settings, get_settings

CHUNK = 64 * 1024


class TooLarge(Exception):
    pass


class EvidenceStore(Protocol):
    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Staged:
        """Write the chunks to a staging place; raise TooLarge past `max_bytes`."""
        ...

    async def commit(self, staged: Staged) -> None:
        """Make a staged file visible under its key (atomically)."""
        ...

    async def discard(self, staged: Staged) -> None: ...

    def open(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Staged:
    key: str
    size: int
    sha256: str
    head: bytes  # the first bytes, to check the media type
    handle: Any = None


class LocalFileStore:
    """Files under `<data_dir>/evidence/<tenant_id>/<evidence_id>`; staged as a temporary file
    in the same directory and renamed into place, so a reader never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if len(parts) != 2 or not all(_is_uuid(p) for p in parts):
            raise ValueError("evidence keys are <tenant uuid>/<evidence uuid>")
        return self.root / parts[0] / parts[1]

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> Staged:
        final = self._path(key)
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        size = 0
        head = b""
        f = await asyncio.to_thread(open, tmp, "wb")
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(f.write, chunk)
            await asyncio.to_thread(f.flush)
            await asyncio.to_thread(os.fsync, f.fileno())
        except BaseException:
            f.close()
            tmp.unlink(missing_ok=True)
            raise
        f.close()
        return Staged(key, size, digest.hexdigest(), head, handle=tmp)

    async def commit(self, staged: Staged) -> None:
        await asyncio.to_thread(os.replace, staged.handle, self._path(staged.key))

    async def discard(self, staged: Staged) -> None:
        await asyncio.to_thread(Path(staged.handle).unlink, missing_ok=True)

    async def open(self, key: str) -> AsyncIterator[bytes]:  # type: ignore[override]
        path = self._path(key)
        f = await asyncio.to_thread(open, path, "rb")
        try:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                yield chunk
        finally:
            f.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


_stores: dict[tuple[str, str], Any] = {}


def evidence_store(settings: Settings | None = None) -> Any:
    s = settings or get_settings()
    key = (s.evidence_store, str(s.data_dir))
    store = _stores.get(key)
    if store is None:
        if s.evidence_store == "local":
            store = LocalFileStore(Path(s.data_dir).resolve() / "evidence")
        else:
            module, _, attr = s.evidence_store.partition(":")
            store = getattr(importlib.import_module(module), attr)(s)
        _stores[key] = store
    return store


def storage_key(tenant_id: uuid.UUID, evidence_id: uuid.UUID) -> str:
    return f"{tenant_id}/{evidence_id}"


# --- media types ---------------------------------------------------------------------------------

_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def content_matches(media_type: str, head: bytes) -> bool:
    """Whether the first bytes look like `media_type` (known signatures only; other allowed
    types are taken as declared)."""
    if media_type == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    signatures = _MAGIC.get(media_type)
    return signatures is None or any(head.startswith(sig) for sig in signatures)


# --- signed URLs ---------------------------------------------------------------------------------


def _secret(settings: Settings) -> bytes:
    return hmac.new(settings.effective_cursor_secret, b"upward-evidence-url", "sha256").digest()


def sign_token(
    kind: str,
    tenant_id: uuid.UUID,
    evidence_id: uuid.UUID,
    ttl: int,
    settings: Settings | None = None,
) -> tuple[str, int]:
    s = settings or get_settings()
    expires = int(time.time()) + ttl
    payload = orjson.dumps({"k": kind, "t": str(tenant_id), "e": str(evidence_id), "x": expires})
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    sig = hmac.new(_secret(s), body.encode(), hashlib.sha256).digest()[:18]
    return f"{body}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}", expires


class BadToken(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


def verify_token(
    token: str, kind: str, settings: Settings | None = None
) -> tuple[uuid.UUID, uuid.UUID]:
    s = settings or get_settings()
    try:
        if len(token) > 512:
            raise ValueError
        body, _, sig = token.partition(".")
        good = hmac.new(_secret(s), body.encode(), hashlib.sha256).digest()[:18]
        given = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        if not hmac.compare_digest(good, given):
            raise ValueError
        data = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if data.get("k") != kind:
            raise ValueError
        tenant_id, evidence_id = uuid.UUID(data["t"]), uuid.UUID(data["e"])
        expires = int(data["x"])
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadToken("invalid or tampered link") from None
    if expires < time.time():
        raise BadToken("this link has expired; ask for a new one", status=410)
    return tenant_id, evidence_id
