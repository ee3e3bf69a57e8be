"""Webhook core: signatures, the SSRF guard, one real HTTP attempt, the retry schedule.

The HTTP tests run a real receiver (Starlette under uvicorn, in a thread, on 127.0.0.1) that
checks signatures with `verify`, exactly as our docs tell receivers to, so a signing bug fails
here and not at a customer's endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import random
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integrations.receiver import Receiver
from upward.integrations import webhooks
from upward.integrations.webhooks import (
    AttemptResult,
    InvalidSignature,
    TargetResolutionError,
    UnsafeTarget,
    backoff_seconds,
    check_url_syntax,
    max_attempts_for,
    min_backoff_seconds,
    new_secret,
    post,
    resolve_target,
    sign,
    signed_headers,
    verify,
)
from upward.settings import Settings

SECRET = new_secret()
BODY = b'{"type":"credential.expiring","data":{"id":"Q3JlZGVudGlhbDox"}}'
HOOK_HOST = "hooks.upward.test"  # not in any real DNS: reaching it proves the pinned address

# ---------------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------------


def _headers(secret: str = SECRET, body: bytes = BODY, ts: int | None = None) -> dict[str, str]:
    return signed_headers(secret, "msg_2nKq", int(time.time()) if ts is None else ts, body)


def test_new_secret_is_whsec_base64_of_24_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert new_secret() != secret


def test_standard_webhooks_test_vector() -> None:
    # The vector published with the Standard Webhooks / Svix reference libraries: matching it
    # is what proves a receiver's off-the-shelf library accepts what we send.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    ts = 1614265330
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, msg_id, ts, body) == expected
    assert sign(secret.removeprefix("whsec_"), msg_id, ts, body) == expected  # prefix optional
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": expected}
    verify(secret, headers, body, now=ts)


def test_signed_headers_round_trip() -> None:
    headers = _headers()
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "Upward-Webhooks/1"
    assert headers["webhook-id"] == "msg_2nKq"
    assert headers["webhook-signature"].startswith("v1,")
    verify(SECRET, headers, BODY)
    verify(SECRET, {k.upper(): v for k, v in headers.items()}, BODY)  # header names any case
    verify(SECRET, httpx.Headers(headers), BODY)


def test_tampered_body_fails() -> None:
    with pytest.raises(InvalidSignature, match="no signature matches"):
        verify(SECRET, _headers(), BODY.replace(b"expiring", b"expired!"))


def test_tampered_id_or_timestamp_fails() -> None:
    headers = _headers()
    with pytest.raises(InvalidSignature):
        verify(SECRET, {**headers, "webhook-id": "msg_other"}, BODY)
    ts = int(headers["webhook-timestamp"])
    with pytest.raises(InvalidSignature):
        verify(SECRET, {**headers, "webhook-timestamp": str(ts + 1)}, BODY)


def test_wrong_secret_fails() -> None:
    with pytest.raises(InvalidSignature):
        verify(new_secret(), _headers(), BODY)


def test_stale_and_future_timestamps_fail_beyond_tolerance() -> None:
    ts = 1_700_000_000
    headers = _headers(ts=ts)
    verify(SECRET, headers, BODY, now=ts + 300)
    verify(SECRET, headers, BODY, now=ts - 300)
    with pytest.raises(InvalidSignature, match="too old"):
        verify(SECRET, headers, BODY, now=ts + 301)
    with pytest.raises(InvalidSignature, match="future"):
        verify(SECRET, headers, BODY, now=ts - 301)
    verify(SECRET, headers, BODY, now=ts + 3000, tolerance_seconds=3600)


def test_rotation_several_signatures_one_valid_passes() -> None:
    old, current = new_secret(), SECRET
    headers = _headers(secret=old)
    ts = int(headers["webhook-timestamp"])
    both = f"{headers['webhook-signature']} {sign(current, 'msg_2nKq', ts, BODY)}"
    verify(current, {**headers, "webhook-signature": both}, BODY)
    verify(old, {**headers, "webhook-signature": both}, BODY)
    with pytest.raises(InvalidSignature):
        verify(new_secret(), {**headers, "webhook-signature": both}, BODY)


def test_other_versions_are_ignored_not_accepted() -> None:
    headers = _headers()
    digest = headers["webhook-signature"].removeprefix("v1,")
    with pytest.raises(InvalidSignature, match="no v1"):
        verify(SECRET, {**headers, "webhook-signature": f"v2,{digest}"}, BODY)
    with pytest.raises(InvalidSignature, match="no v1"):
        verify(SECRET, {**headers, "webhook-signature": digest}, BODY)
    verify(SECRET, {**headers, "webhook-signature": f"v1a,xyz v2,{digest} v1,{digest}"}, BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_fail(missing: str) -> None:
    headers = {k: v for k, v in _headers().items() if k != missing}
    with pytest.raises(InvalidSignature, match=missing):
        verify(SECRET, headers, BODY)


@pytest.mark.parametrize("bad", ["12.5", "-1", " 1700000000", "+1700000000", "abc", "١٢٣"])
def test_non_integer_timestamps_fail(bad: str) -> None:
    with pytest.raises(InvalidSignature, match="integer"):
        verify(SECRET, {**_headers(), "webhook-timestamp": bad}, BODY)


def test_garbage_signature_values_fail_cleanly() -> None:
    for value in ["v1,", "v1,ééé", "v1,not base64!!", "v1", ",", "  "]:
        with pytest.raises(InvalidSignature):
            verify(SECRET, {**_headers(), "webhook-signature": value}, BODY)


def test_invalid_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="base64"):
        sign("whsec_not*base64", "msg", 1, b"")


# ---------------------------------------------------------------------------------------------
# SSRF guard: syntax
# ---------------------------------------------------------------------------------------------

UNSAFE_BUT_WELL_FORMED = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/x",
    "http://2130706433/",  # decimal 127.0.0.1
    "http://0x7f000001/",  # hex
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",  # octal
    "http://0177.1/",
    "http://127.1/",  # inet_aton short form
    "http://0/",  # 0.0.0.0
    "http://0.0.0.0/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata, link-local
    "http://100.64.0.1/",  # CGNAT
    "http://100.127.255.254/",
    "http://224.0.0.1/",  # multicast
    "http://239.255.255.250/",
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://192.0.2.10/",  # documentation
    "http://198.18.0.1/",  # benchmarking
    "http://[::1]/",
    "http://[::]/",
    "http://[0:0:0:0:0:0:0:1]:8080/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:c0a8:101::1]/",  # 6to4 of 192.168.1.1
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456:789a::1]/",
    "http://[ff02::1]/",
    "http://[2001:db8::1]/",
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # fullwidth digits normalize to 127.0.0.1
    "http://localhost/",
    "http://LOCALHOST:3000/",
    "http://localhost./",
    "http://api.localhost/",
    "http://printer.local/",
    "http://kubernetes.default.svc.cluster.local/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://db.internal./",
    "http://nas.home.arpa/",
    "http://router.lan/",
    "http://localhost.localdomain/",
    "http://redis:6379/",  # single label: only a local search path resolves it
    "http://metadata/",
]


@pytest.mark.parametrize("url", UNSAFE_BUT_WELL_FORMED)
def test_unsafe_targets_are_refused_unless_private_allowed(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_url_syntax(url, allow_private=False)
    assert check_url_syntax(url, allow_private=True).startswith("http://")


MALFORMED = [
    "",
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "javascript:alert(1)",
    "example.com/hook",  # no scheme
    "http:///hook",  # no host
    "http://:8080/",
    "http://user:pass@example.com/",
    "http://user@example.com/",
    "http://example.com@127.0.0.1/",
    "http://example.com\\@127.0.0.1/",
    "http://example.com /",
    "http://exa\tmple.com/",
    "http://example.com/\nHost: evil",
    "http://example.com:99999/",
    "http://example.com:0/",
    "http://example.com:http/",
    "http://[::1/",
    "http://[fe80::1%25eth0]/",  # zone id
    "http://1.2.3.4.5/",
    "http://256.0.0.1/",
    "http://1.2.3.256/",
    "http://08.0.0.1/",
    "http://example.123/",  # ends in a number: parsed as IPv4 by browsers, invalid
    "http://exa_mple-.com/",
    "http://exa%6dple.com/",
    "http://" + "a" * 64 + ".com/",
    "https://example.com/" + "a" * 2000,
]


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_are_refused_even_with_private_allowed(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_url_syntax(url, allow_private=True)


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://hooks.example.com/upward", "https://hooks.example.com/upward"),
        ("HTTPS://Hooks.Example.COM:443/a?b=1#frag", "https://hooks.example.com/a?b=1"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("http://example.com:/x", "http://example.com/x"),
        ("https://bücher.example/hook", "https://xn--bcher-kva.example/hook"),
        ("http://8.8.8.8/", "http://8.8.8.8/"),
        ("http://134744072/", "http://8.8.8.8/"),  # decimal 8.8.8.8, rewritten
        ("http://0x8.0x8.0x8.0x8/", "http://8.8.8.8/"),
        ("http://[2606:4700:4700:0:0:0:0:1111]:8443/", "http://[2606:4700:4700::1111]:8443/"),
        ("http://hooks.example.com./x", "http://hooks.example.com./x"),
    ],
)
def test_public_urls_are_normalized(url: str, normalized: str) -> None:
    assert check_url_syntax(url, allow_private=False) == normalized


def test_a_2000_character_url_is_accepted() -> None:
    url = "https://example.com/" + "a" * (2000 - len("https://example.com/"))
    assert check_url_syntax(url, allow_private=False) == url


# ---------------------------------------------------------------------------------------------
# SSRF guard: resolution
# ---------------------------------------------------------------------------------------------


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    asked: list[str] = []

    async def fake(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    monkeypatch.setattr(webhooks, "_getaddrinfo", fake)
    return asked


async def test_real_dns_localhost_resolves_to_loopback() -> None:
    target = await resolve_target("http://localhost:8080/hook?x=1", allow_private=True)
    assert ipaddress.ip_address(target.ip).is_loopback
    assert (target.scheme, target.host, target.port, target.path) == (
        "http",
        "localhost",
        8080,
        "/hook?x=1",
    )
    with pytest.raises(UnsafeTarget):
        await resolve_target("http://localhost./", allow_private=False)


async def test_public_looking_name_resolving_to_loopback_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A CNAME to localhost, as far as we can tell: the real resolver's answer for localhost.
    loop = asyncio.get_running_loop()
    real = [info[4][0] for info in await loop.getaddrinfo("localhost", 80)]

    async def alias(host: str, port: int) -> list[str]:
        return real

    monkeypatch.setattr(webhooks, "_getaddrinfo", alias)
    assert check_url_syntax("https://innocent.example.com/", allow_private=False)
    with pytest.raises(UnsafeTarget, match="loopback"):
        await resolve_target("https://innocent.example.com/", allow_private=False)
    target = await resolve_target("https://innocent.example.com/", allow_private=True)
    assert ipaddress.ip_address(target.ip).is_loopback


async def test_any_unsafe_address_refuses_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(
        monkeypatch,
        {
            "mixed.example.com": ["93.184.215.14", "10.0.0.5"],
            "mapped.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:10.0.0.5"],
            "public.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14"],
            "zoned.example.com": ["fe80::1%eth0"],
        },
    )
    for name in ("mixed", "mapped", "zoned"):
        with pytest.raises(UnsafeTarget, match="not allowed"):
            await resolve_target(f"https://{name}.example.com/", allow_private=False)
    target = await resolve_target("https://public.example.com/h", allow_private=False)
    assert target.ip == "2606:2800:21f:cb07:6820:80da:af6b:8b2c"  # resolver order kept
    assert target.host_header == "public.example.com"
    assert target.pinned_url == "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443/h"


async def test_ip_literals_skip_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _fake_dns(monkeypatch, {})
    target = await resolve_target("http://[2606:4700::1111]:8080/x", allow_private=False)
    assert (target.ip, target.host_header) == ("2606:4700::1111", "[2606:4700::1111]:8080")
    assert asked == []


async def test_unknown_name_is_a_resolution_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_dns(monkeypatch, {})
    with pytest.raises(TargetResolutionError, match=r"nowhere\.example\.com"):
        await resolve_target("https://nowhere.example.com/", allow_private=False)


# ---------------------------------------------------------------------------------------------
# A real receiver
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver(secret=SECRET)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def inbox(receiver: Receiver) -> Receiver:
    receiver.received.clear()
    return receiver


def _cert_pair(tmp: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a leaf certificate for `hostname` only (no IP address SAN)."""
    now = dt.datetime.now(dt.UTC)

    def build(subject: str, issuer: x509.Name | None, key: Any, signer: Any) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
        )
        if issuer is None:
            builder = builder.add_extension(
                x509.BasicConstraints(ca=True, path_length=None), critical=True
            ).add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False
            ).add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("Upward test CA", None, ca_key, ca_key)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = build(hostname, ca.subject, leaf_key, ca_key)
    ca_path, cert_path, key_path = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


@pytest.fixture(scope="module")
def tls_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, Path]]:
    ca, cert, key = _cert_pair(tmp_path_factory.mktemp("tls"), HOOK_HOST)
    server = Receiver(secret=SECRET, certfile=cert, keyfile=key)
    server.start()
    yield server, ca
    server.stop()


async def _post(
    url: str,
    *,
    timeout: float = 5.0,  # noqa: ASYNC109 - passed through to post()
    allow_private: bool = True,
    **kw: Any,
) -> AttemptResult:
    headers = signed_headers(SECRET, "msg_attempt", int(time.time()), BODY)
    return await post(url, BODY, headers, timeout=timeout, allow_private=allow_private, **kw)


async def test_post_delivers_a_signed_request_the_receiver_verifies(inbox: Receiver) -> None:
    result = await _post(f"{inbox.base}/hook")
    assert (result.status_code, result.ok, result.retryable, result.gone) == (
        204,
        True,
        False,
        False,
    )
    assert result.error is None
    assert result.duration_ms >= 0
    [got] = inbox.received
    assert got.signature_error is None
    assert got.body == BODY
    assert got.headers["host"] == f"127.0.0.1:{inbox.port}"
    assert got.headers["user-agent"] == "Upward-Webhooks/1"
    assert got.headers["webhook-id"] == "msg_attempt"
    assert got.headers["content-type"] == "application/json"


async def test_receiver_rejects_a_bad_signature_and_it_is_not_retried(inbox: Receiver) -> None:
    headers = signed_headers(new_secret(), "msg_attempt", int(time.time()), BODY)
    result = await post(f"{inbox.base}/hook", BODY, headers, timeout=5, allow_private=True)
    assert (result.status_code, result.ok, result.retryable) == (401, False, False)
    assert result.response_snippet == "no signature matches"
    assert inbox.received[0].signature_error == "no signature matches"


@pytest.mark.parametrize(
    ("code", "retryable"),
    [(500, True), (502, True), (503, True), (408, True), (429, True), (400, False), (404, False)],
)
async def test_status_classification(inbox: Receiver, code: int, retryable: bool) -> None:
    result = await _post(f"{inbox.base}/status/{code}")
    assert result.status_code == code
    assert not result.ok and not result.gone
    assert result.retryable is retryable
    assert result.error == f"HTTP {code}"
    assert result.response_snippet == f"status {code}"
    assert result.retry_after_seconds == (120.0 if code in (429, 503) else None)


async def test_410_is_gone_and_not_retried(inbox: Receiver) -> None:
    result = await _post(f"{inbox.base}/status/410")
    assert (result.status_code, result.gone, result.ok, result.retryable) == (
        410,
        True,
        False,
        False,
    )


async def test_slow_receiver_times_out_retryably(inbox: Receiver) -> None:
    started = time.monotonic()
    result = await _post(f"{inbox.base}/slow", timeout=0.5)
    assert time.monotonic() - started < 2
    assert result.status_code is None and not result.ok
    assert result.retryable
    assert "timed out" in result.error
    assert 400 <= result.duration_ms < 2000
    assert [r.path for r in inbox.received] == ["/slow"]


async def test_a_trickling_body_cannot_hold_the_attempt(inbox: Receiver) -> None:
    # The status arrived: it decides; the body read stops at the deadline with what it has.
    started = time.monotonic()
    result = await _post(f"{inbox.base}/trickle", timeout=1.0)
    assert time.monotonic() - started < 2
    assert (result.status_code, result.ok) == (200, True)
    assert result.response_snippet and set(result.response_snippet) == {"x"}
    assert len(result.response_snippet) < 30


async def test_redirects_are_not_followed(inbox: Receiver) -> None:
    result = await _post(f"{inbox.base}/redirect")
    assert (result.status_code, result.ok, result.retryable) == (302, False, True)
    assert "redirect to /hook not followed" in result.error
    assert [r.path for r in inbox.received] == ["/redirect"]


async def test_response_snippet_is_capped(inbox: Receiver) -> None:
    result = await _post(f"{inbox.base}/big")
    assert result.status_code == 500
    assert result.response_snippet == "y" * webhooks.SNIPPET_BYTES


async def test_private_target_is_refused_without_connecting(inbox: Receiver) -> None:
    def must_not_send(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(must_not_send)) as client:
        result = await _post(f"{inbox.base}/hook", allow_private=False, client=client)
    assert result.status_code is None and not result.ok
    assert result.retryable is False
    assert result.error.startswith("unsafe target: 127.0.0.1 is not allowed: loopback")
    result = await _post(f"{inbox.base}/hook", allow_private=False)
    assert result.retryable is False
    assert inbox.received == []


async def test_name_resolving_to_loopback_is_refused_at_post(
    inbox: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_dns(monkeypatch, {"rebind.example.com": ["127.0.0.1"]})
    result = await _post(f"http://rebind.example.com:{inbox.port}/hook", allow_private=False)
    assert not result.retryable
    assert "rebind.example.com resolves to 127.0.0.1" in result.error
    assert inbox.received == []


async def test_connection_goes_to_the_pinned_address_with_the_original_host(
    inbox: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HOOK_HOST exists in no real DNS: if anything after the check looked it up again, the
    # attempt would fail instead of reaching the address the check approved.
    asked = _fake_dns(monkeypatch, {HOOK_HOST: ["127.0.0.1"]})
    result = await _post(f"http://{HOOK_HOST}:{inbox.port}/hook")
    assert result.ok, result.error
    assert asked == [HOOK_HOST]
    assert inbox.received[0].headers["host"] == f"{HOOK_HOST}:{inbox.port}"
    assert inbox.received[0].signature_error is None


async def test_https_uses_sni_and_verifies_the_certificate_for_the_host_name(
    tls_receiver: tuple[Receiver, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, ca = tls_receiver
    server.received.clear()
    monkeypatch.setattr(webhooks, "_ssl_context", ssl.create_default_context(cafile=str(ca)))
    _fake_dns(monkeypatch, {HOOK_HOST: ["127.0.0.1"], "other.upward.test": ["127.0.0.1"]})

    # The certificate names HOOK_HOST only, not 127.0.0.1: the handshake succeeds only if the
    # name went out as SNI and the certificate was checked against it.
    result = await _post(f"https://{HOOK_HOST}:{server.port}/hook")
    assert result.ok, result.error
    assert server.received[0].headers["host"] == f"{HOOK_HOST}:{server.port}"
    assert server.received[0].signature_error is None

    for url in (f"https://other.upward.test:{server.port}/hook", f"{server.base}/hook"):
        result = await _post(url)
        assert result.status_code is None and result.retryable
        assert "CERTIFICATE_VERIFY_FAILED" in result.error or "certificate" in result.error
    assert len(server.received) == 1


async def test_network_errors_are_retryable_results(monkeypatch: pytest.MonkeyPatch) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed_port = sock.getsockname()[1]
    sock.close()
    result = await _post(f"http://127.0.0.1:{closed_port}/hook")
    assert result.status_code is None and result.retryable and result.error

    _fake_dns(monkeypatch, {})
    result = await _post("https://nowhere.example.com/hook", allow_private=False)
    assert result.retryable
    assert "cannot resolve nowhere.example.com" in result.error


# ---------------------------------------------------------------------------------------------
# Retry schedule
# ---------------------------------------------------------------------------------------------


class _Lowest(random.Random):
    """Jitter always at its deepest cut, the worst case for how long retries last."""

    def random(self) -> float:
        return 1.0


def test_schedule_starts_near_30s_grows_and_caps_at_6h() -> None:
    nominal = webhooks.RETRY_SCHEDULE_SECONDS
    assert nominal[0] == 30
    assert list(nominal) == sorted(nominal)
    assert nominal[-1] == 6 * 3600
    assert webhooks.RETRY_SCHEDULE_HOURS[-1] == 6
    rng = random.Random(7)
    for attempt in range(1, 40):
        expected = nominal[min(attempt, len(nominal)) - 1]
        for _ in range(20):
            wait = backoff_seconds(attempt, rng=rng)
            assert expected * 0.8 <= wait <= expected
    assert 24 <= backoff_seconds(1) <= 30
    assert backoff_seconds(1000) <= 6 * 3600
    with pytest.raises(ValueError):
        backoff_seconds(0)


def test_jitter_spreads_retries() -> None:
    rng = random.Random(1)
    waits = {round(backoff_seconds(5, rng=rng)) for _ in range(50)}
    assert len(waits) > 20


def test_default_attempts_span_at_least_24h_at_minimum_jitter() -> None:
    max_attempts = Settings.model_fields["delivery_max_attempts"].default
    assert max_attempts == 14
    waits = [backoff_seconds(n, rng=_Lowest()) for n in range(1, max_attempts)]  # 13 waits
    assert waits == [min_backoff_seconds(n) for n in range(1, max_attempts)]
    assert sum(waits) >= 24 * 3600
    assert max_attempts_for(24) <= max_attempts
    assert max_attempts_for(0) == 1
