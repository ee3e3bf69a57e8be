"""Authentication: every bad token is UNAUTHENTICATED, through HTTP; JWKS keys rotate by kid."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GQL, TenantInfo, only_error, token
from upward.auth.tokens import TokenVerifier
from upward.errors import Unauthenticated
from upward.settings import DEV_JWT_SECRET, Settings

ME = "{ me { name } }"


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "sam.rivera@acme.example",
        "tid": "acme",
        "iss": "upward-dev",
        "aud": "upward",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _hs(claims: dict[str, Any], secret: str = DEV_JWT_SECRET, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)


async def test_valid_token_by_email_slug_and_by_ids(gql: GQL, acme: TenantInfo) -> None:
    data = await gql.ok(ME, token=token("acme", "sam.rivera@acme.example"))
    assert data["me"]["name"] == "Sam Rivera"
    by_ids = token(str(acme.id), str(acme.ids["sam.rivera@acme.example"]))
    assert (await gql.ok(ME, token=by_ids))["me"]["name"] == "Sam Rivera"


def _none_alg(claims: dict[str, Any]) -> str:
    import base64

    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


BAD_TOKENS = {
    "expired": lambda: _hs(_claims(exp=int(time.time()) - 3600)),
    "wrong signature": lambda: _hs(_claims(), secret="not-the-secret-0123456789abcdef0123"),
    "alg none": lambda: _none_alg(_claims()),
    "wrong audience": lambda: _hs(_claims(aud="someone-else")),
    "wrong issuer": lambda: _hs(_claims(iss="https://evil.example")),
    "no exp": lambda: _hs(_claims(exp=None)),
    "no tid": lambda: _hs(_claims(tid=None)),
    "unknown tenant": lambda: _hs(_claims(tid="no-such-tenant")),
    "unknown employee": lambda: _hs(_claims(sub="nobody@acme.example")),
    "employee of another tenant": lambda: _hs(_claims(sub="admin@globex.example")),
    "offboarded employee": lambda: _hs(_claims(sub="grace.osei@acme.example")),
    "garbage": lambda: "not.a.jwt",
    "tampered tid": lambda: _tamper(_hs(_claims()), tid="globex"),
}


def _tamper(tok: str, **changes: Any) -> str:
    import base64

    header, payload, sig = tok.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    new = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{header}.{new}.{sig}"


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_tokens_are_unauthenticated(gql: GQL, case: str) -> None:
    body = await gql(ME, token=BAD_TOKENS[case]())
    err = only_error(body)
    assert err["extensions"]["code"] == "UNAUTHENTICATED", (case, body)
    assert body["data"] is None


async def test_missing_or_malformed_header(gql: GQL) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}):
        r = await gql.client.post("/graphql", json={"query": ME}, headers=headers)
        assert only_error(r.json())["extensions"]["code"] == "UNAUTHENTICATED"


async def test_suspended_tenant_is_unauthenticated(
    gql: GQL, make_tenant: Any, owner_engine: AsyncEngine
) -> None:
    t: TenantInfo = await make_tenant()
    tok = t.token("dev@t.example")
    assert (await gql.ok(ME, token=tok))["me"]["name"] == "Dee Dev"
    async with owner_engine.begin() as conn:
        await conn.execute(
            sa.text("update tenants set status = 'suspended' where id = :t"), {"t": t.id}
        )
    assert only_error(await gql(ME, token=tok))["extensions"]["code"] == "UNAUTHENTICATED"


async def test_introspection_needs_no_token(gql: GQL) -> None:
    data = await gql.ok("{ __schema { queryType { name } } }")
    assert data["__schema"]["queryType"]["name"] == "Query"


# --- JWKS (RS256 / ES256) -----------------------------------------------------------------------


def _jwk(private_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algo = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
    jwk = json.loads(algo.to_jwk(private_key.public_key()))
    jwk.update(kid=kid, alg=alg, use="sig")
    return jwk


def test_jwks_file_rs256_es256_and_rotation(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [_jwk(rsa_key, "k1", "RS256")]}))
    settings = Settings(
        jwt_jwks_file=jwks, jwt_issuer="https://idp.example", jwt_audience="upward-api", env="test"
    )
    v = TokenVerifier(settings)
    assert v.secret is None  # no HS256 fallback once a JWKS is configured
    claims = _claims(iss="https://idp.example", aud="upward-api")
    good = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "k1"})
    assert v.verify(good).tid == "acme"

    # HS256 with the dev secret is refused once only JWKS is configured
    with pytest.raises(Unauthenticated):
        v.verify(jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256"))
    # an unknown kid is refused
    with pytest.raises(Unauthenticated):
        v.verify(jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "k9"}))

    # rotation: a new key is published; the file is re-read
    time.sleep(0.01)
    jwks.write_text(
        json.dumps({"keys": [_jwk(rsa_key, "k1", "RS256"), _jwk(ec_key, "k2", "ES256")]})
    )
    import os

    os.utime(jwks, (time.time() + 5, time.time() + 5))
    es = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "k2"})
    assert v.verify(es).sub == "sam.rivera@acme.example"


def test_algorithm_confusion_is_refused(tmp_path: Path) -> None:
    """An HS256 token whose 'secret' is the public key must not verify."""
    from cryptography.hazmat.primitives import serialization

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [_jwk(rsa_key, "k1", "RS256")]}))
    v = TokenVerifier(Settings(jwt_jwks_file=jwks, env="test"))
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64
    import hashlib
    import hmac

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).decode().rstrip("=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(_claims()).encode())
    sig = b64(hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(Unauthenticated):
        v.verify(f"{head}.{body}.{sig}")


def test_production_refuses_dev_secrets() -> None:
    with pytest.raises(ValueError):
        Settings(
            env="production",
            jwt_secret=DEV_JWT_SECRET,
            cursor_secret="x" * 40,
            database_url="postgresql://x/y",
            redis_url="redis://x",
        )
    with pytest.raises(ValueError):
        Settings(env="production", database_url="postgresql://x/y", redis_url="redis://x")
