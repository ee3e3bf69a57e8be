"""Bearer JWT verification and minting.

- HS256 with UPWARD_JWT_SECRET (dev default when nothing else is configured, never in production);
- RS256 / ES256 against a JWKS (UPWARD_JWT_JWKS_URL, cached and refreshed on unknown `kid`, or
  UPWARD_JWT_JWKS_FILE), for an OIDC identity provider.

Always required: exp, aud, iss, sub, tid. `alg: none` and algorithm confusion are refused.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKSet

from upward.errors import Unauthenticated
from upward.settings import Settings, get_settings

log = logging.getLogger(__name__)
VERIFIED_TTL = 60.0
VERIFIED_MAX = 10_000
ASYMMETRIC_ALGS = ("RS256", "ES256")


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    tid: str
    raw: dict[str, Any]


class _JwksFile:
    """A JWKS read from a file; re-read when it changes on disk (key rotation)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = -1.0
        self._set: PyJWKSet | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> Any:
        with self._lock:
            try:
                mtime = os.stat(self.path).st_mtime
                if self._set is None or mtime != self._mtime:
                    with open(self.path, encoding="utf-8") as fh:
                        self._set = PyJWKSet.from_dict(json.load(fh))
                    self._mtime = mtime
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                if self._set is None:
                    log.error("cannot read the JWKS file %s: %s", self.path, exc)
                    raise Unauthenticated("token keys are unavailable") from exc
                log.warning("keeping the last good JWKS; cannot re-read %s: %s", self.path, exc)
            keys = self._set.keys
        for key in keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise Unauthenticated("token signed with an unknown key")


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.secret = settings.effective_jwt_secret
        self.jwks_client = (
            PyJWKClient(
                settings.jwt_jwks_url,
                cache_keys=True,
                lifespan=settings.jwt_jwks_cache_seconds,
                timeout=5,
            )
            if settings.jwt_jwks_url
            else None
        )
        self.jwks_file = _JwksFile(str(settings.jwt_jwks_file)) if settings.jwt_jwks_file else None
        self._verified: dict[str, tuple[Claims, float]] = {}

    def _key(self, token: str) -> tuple[Any, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed bearer token") from exc
        alg = header.get("alg")
        if alg == "HS256" and self.secret:
            return self.secret, alg
        if alg in ASYMMETRIC_ALGS:
            kid = header.get("kid")
            try:
                if self.jwks_client is not None:
                    return self.jwks_client.get_signing_key(kid).key, alg
                if self.jwks_file is not None:
                    return self.jwks_file.key_for(kid), alg
            except Unauthenticated:
                raise
            except jwt.PyJWTError as exc:
                raise Unauthenticated("token signed with an unknown key") from exc
        raise Unauthenticated(f"token algorithm {alg!r} is not accepted")

    def verify(self, token: str) -> Claims:
        """Verified claims of `token`. A token that verified is remembered (by its exact text)
        until it expires, at most VERIFIED_TTL seconds: clients send the same token many times,
        and the checks are pure. Tenant and employee are still looked up on every request."""
        now = time.time()
        hit = self._verified.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_MAX:
            self._verified.clear()
        exp = claims.raw.get("exp")
        until = min(now + VERIFIED_TTL, float(exp)) if isinstance(exp, (int, float)) else now
        self._verified[token] = (claims, until)
        return claims

    def _verify(self, token: str) -> Claims:
        key, alg = self._key(token)
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                leeway=self.settings.jwt_leeway_seconds,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("token audience is not accepted") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("token issuer is not accepted") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid bearer token") from exc
        sub, tid = payload.get("sub"), payload.get("tid")
        if not isinstance(sub, str) or not sub or not isinstance(tid, str) or not tid:
            raise Unauthenticated("token must carry string `sub` and `tid` claims")
        return Claims(sub=sub, tid=tid, raw=payload)


_verifier: TokenVerifier | None = None


def verifier() -> TokenVerifier:
    global _verifier
    settings = get_settings()
    if _verifier is None or _verifier.settings is not settings:
        _verifier = TokenVerifier(settings)
    return _verifier


def mint_token(
    *,
    tenant: str,
    subject: str,
    ttl_seconds: int | None = None,
    settings: Settings | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """An HS256 token signed with the configured secret (dev, tests and `upward token`)."""
    settings = settings or get_settings()
    secret = settings.effective_jwt_secret
    if not secret:
        raise RuntimeError(
            "no UPWARD_JWT_SECRET configured: tokens come from your identity provider"
        )
    now = int(time.time())
    ttl = settings.jwt_default_ttl_seconds if ttl_seconds is None else ttl_seconds
    payload: dict[str, Any] = {
        "sub": subject,
        "tid": tenant,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    payload.update(extra or {})
    return jwt.encode(payload, secret, algorithm="HS256")
