"""Webhook channel core: Standard Webhooks signatures, SSRF-safe targets, one HTTP attempt.

Nothing here touches the database. The delivery service stores the attempts and schedules the
retries; this module only answers "what do we send", "may we send it there", "what happened"
and "when do we try again".

Signatures follow https://www.standardwebhooks.com/ (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256>`), so a receiver can verify with any Standard
Webhooks (or Svix) library instead of code we would have to document and support. `verify` is
the reference receiver our docs describe and our tests use.

Targets are tenant-controlled URLs fetched from inside our network, the classic SSRF shape. The
guard is layered: `check_url_syntax` refuses bad input when it is saved (no DNS), then
`resolve_target` refuses if any resolved address is internal, and `post` connects to that
exact address (DNS pinning), so a name that re-resolves to 127.0.0.1 between the check and the
connection (DNS rebinding) still reaches only the address we checked.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import hashlib
import hmac
import ipaddress
import random
import re
import secrets
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
import idna

__all__ = [
    "JITTER_FRACTION",
    "MAX_URL_LENGTH",
    "RETRY_SCHEDULE_HOURS",
    "RETRY_SCHEDULE_SECONDS",
    "SNIPPET_BYTES",
    "USER_AGENT",
    "AttemptResult",
    "InvalidSignature",
    "Target",
    "TargetResolutionError",
    "UnsafeTarget",
    "backoff_seconds",
    "check_url_syntax",
    "max_attempts_for",
    "min_backoff_seconds",
    "new_secret",
    "post",
    "resolve_target",
    "sign",
    "signed_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SIGNATURE_VERSION = "v1"
USER_AGENT = "Upward-Webhooks/1"
DEFAULT_TOLERANCE_SECONDS = 300  # the Standard Webhooks reference libraries use 5 minutes

# ---------------------------------------------------------------------------------------------
# Signing and verification
# ---------------------------------------------------------------------------------------------


class InvalidSignature(Exception):
    """The request is not provably from us, now: a receiver must reject it (HTTP 400/401)."""


def new_secret() -> str:
    """A fresh endpoint secret, 192 bits, in the `whsec_<base64>` form the libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _secret_key(secret: str) -> bytes:
    # The prefix is optional, as in the reference libraries, so a secret pasted without it
    # still verifies; what follows must be real base64, or signing would silently use garbage.
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not valid base64 after the whsec_ prefix") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>`.

    The timestamp is signed with the id and body, so a captured request cannot be replayed
    later with a new timestamp; each retry is signed afresh with the time it is sent.
    """
    return f"{SIGNATURE_VERSION},{_digest(_secret_key(secret), msg_id, timestamp, body)}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header a delivery attempt sends. `msg_id` stays the same across retries, so
    receivers can deduplicate on `webhook-id`."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise `InvalidSignature` unless `body` was signed with `secret` within the tolerance.

    `body` must be the raw bytes received (not re-serialized JSON). Several space-separated
    signatures are accepted, one per active secret, so a secret can be rotated without a window
    where receivers reject us; signatures of versions other than v1 are ignored, not errors, so
    a future scheme can be sent alongside. The comparison is constant-time.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    signature_header = lowered.get("webhook-signature")
    for name, value in (
        ("webhook-id", msg_id),
        ("webhook-timestamp", timestamp_text),
        ("webhook-signature", signature_header),
    ):
        if not value:
            raise InvalidSignature(f"missing {name} header")
    assert msg_id is not None and timestamp_text is not None and signature_header is not None

    # Only plain ASCII digits: int() would also take " 12", "+12", "1_2" or Unicode digits.
    if not re.fullmatch(r"[0-9]{1,15}", timestamp_text):
        raise InvalidSignature("webhook-timestamp is not an integer number of seconds")
    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise InvalidSignature("webhook-timestamp is too old")
    if timestamp > current + tolerance_seconds:
        raise InvalidSignature("webhook-timestamp is in the future")

    expected = _digest(_secret_key(secret), msg_id, timestamp, body).encode("ascii")
    saw_v1 = False
    for candidate in signature_header.split(" "):
        version, _, value = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        saw_v1 = True
        if hmac.compare_digest(value.encode("utf-8", "replace"), expected):
            return
    if not saw_v1:
        raise InvalidSignature("no v1 signature in webhook-signature")
    raise InvalidSignature("no signature matches")


# ---------------------------------------------------------------------------------------------
# SSRF guard: URL syntax, then the resolved addresses
# ---------------------------------------------------------------------------------------------

MAX_URL_LENGTH = 2000
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Names that only mean something inside a network (RFC 6761 localhost, RFC 6762 mDNS, the
# cloud-metadata and k8s `*.internal`/`*.local` names, RFC 8375 home.arpa, common LAN suffixes).
_INTERNAL_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa", "lan")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# inet_aton accepts each of these per dotted part; so does the WHATWG URL parser
_DECIMAL = re.compile(r"[1-9][0-9]*|0")
_OCTAL = re.compile(r"0[0-7]+")
_HEX = re.compile(r"0[xX][0-9a-fA-F]*")
_NUMERIC_LOOKING = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The URL may not be a webhook target. The message says why, for the tenant admin."""


class TargetResolutionError(OSError):
    """DNS gave no address. Transient as far as we can tell, so deliveries retry it."""


def _parse_ipv4_loose(host: str) -> ipaddress.IPv4Address | None:
    """Parse IPv4 the way inet_aton (and so getaddrinfo and browsers) do.

    `ipaddress` only takes dotted quads, but the resolver turns "2130706433", "0x7f.1" and
    "0177.0.0.1" into 127.0.0.1, so checking with `ipaddress` alone would let them through.
    A host that ends in a number but does not parse is refused rather than sent to DNS.
    """
    parts = host.split(".")
    if not parts or not _NUMERIC_LOOKING.fullmatch(parts[-1]):
        return None
    if len(parts) > 4:
        raise UnsafeTarget(f"invalid IPv4 address: {host}")
    numbers = []
    for part in parts:
        if _HEX.fullmatch(part):
            numbers.append(int(part[2:] or "0", 16))
        elif _OCTAL.fullmatch(part):
            numbers.append(int(part, 8))
        elif _DECIMAL.fullmatch(part):
            numbers.append(int(part))
        else:
            raise UnsafeTarget(f"invalid IPv4 address: {host}")
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (4 - len(leading)):
        raise UnsafeTarget(f"invalid IPv4 address: {host}")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _unsafe_reason(ip: IPAddress) -> str | None:
    """Why an address is not a public unicast one, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 form that carries an IPv4 address reaches that IPv4 address.
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if any(ip in net for net in _NAT64):
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for inner in embedded:
            reason = _unsafe_reason(inner)
            if reason is not None:
                return f"{reason} (embedded {inner})"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (CGNAT) address"
    if ip.is_private:
        return "private address"
    if ip.is_reserved:
        return "reserved address"
    if not ip.is_global:
        return "address not globally routable"
    return None


def _check_ip(ip: IPAddress, *, allow_private: bool, what: str) -> None:
    if allow_private:
        return
    reason = _unsafe_reason(ip)
    if reason is not None:
        raise UnsafeTarget(f"{what} is not allowed: {reason}")


def _normalize_host(raw_host: str, *, allow_private: bool) -> tuple[str, IPAddress | None]:
    """(host as it goes in the URL without brackets, its address when it is a literal)."""
    if raw_host.startswith("[") and raw_host.endswith("]"):
        literal = raw_host[1:-1]
        if "%" in literal:
            raise UnsafeTarget("IPv6 zone identifiers are not allowed")
        try:
            ip6 = ipaddress.IPv6Address(literal)
        except ValueError as exc:
            raise UnsafeTarget(f"invalid IPv6 address: {literal}") from exc
        _check_ip(ip6, allow_private=allow_private, what=str(ip6))
        return str(ip6), ip6

    host = raw_host
    if not host.isascii():
        # UTS 46 maps look-alikes first: fullwidth digits become 127.0.0.1 before we test it.
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise UnsafeTarget(f"invalid international host name: {raw_host}") from exc
    host = host.lower()
    bare = host.removesuffix(".")
    if not bare:
        raise UnsafeTarget("the URL has no host")

    ip4 = _parse_ipv4_loose(bare)
    if ip4 is not None:
        _check_ip(ip4, allow_private=allow_private, what=str(ip4))
        return str(ip4), ip4

    labels = bare.split(".")
    if len(bare) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UnsafeTarget(f"invalid host name: {raw_host}")
    if not allow_private:
        if len(labels) == 1:
            # "redis", "metadata", "vm": single labels only resolve through local search paths
            raise UnsafeTarget(f"{bare} is not a public host name")
        for suffix in _INTERNAL_SUFFIXES:
            if bare == suffix or bare.endswith("." + suffix):
                raise UnsafeTarget(f"{bare} is an internal host name")
    return host, None


def _split(url: str, *, allow_private: bool) -> tuple[str, str, IPAddress | None, int, str, str]:
    """(scheme, host, literal address, port, netloc, path+query) of an acceptable URL."""
    if not isinstance(url, str) or not url:
        raise UnsafeTarget("the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"the URL is longer than {MAX_URL_LENGTH} characters")
    # urlsplit silently drops tabs and newlines, and parsers disagree about backslashes, so
    # refuse them rather than check one reading of the URL and send another.
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        raise UnsafeTarget("the URL contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"invalid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeTarget("only http and https URLs are allowed")
    if "@" in parts.netloc:
        raise UnsafeTarget("credentials in the URL (user:password@) are not allowed")
    raw_host = parts.netloc.rpartition(":")[0] if port is not None else parts.netloc
    if parts.netloc.endswith(":"):  # "host:" with an empty port
        raw_host = parts.netloc[:-1]
    if not raw_host:
        raise UnsafeTarget("the URL has no host")
    if port == 0:
        raise UnsafeTarget("port 0 is not allowed")
    host, ip = _normalize_host(raw_host, allow_private=allow_private)

    effective_port = port if port is not None else _DEFAULT_PORTS[scheme]
    netloc = f"[{host}]" if isinstance(ip, ipaddress.IPv6Address) else host
    if effective_port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{effective_port}"
    path = parts.path or "/"
    path_query = f"{path}?{parts.query}" if parts.query else path
    return scheme, host, ip, effective_port, netloc, path_query


def check_url_syntax(url: str, *, allow_private: bool) -> str:
    """Validate a webhook URL without DNS and return its normalized form (store that one).

    Meant for GraphQL input: it gives the admin an immediate, specific error. It cannot see
    where a name resolves, so `resolve_target` checks again at every attempt. Normalizing
    rewrites odd IP forms to their canonical text, lowercases and IDNA-encodes the host, drops
    a default port and the fragment (never sent anyway), so what we store is what we check.
    """
    scheme, _host, _ip, _port, netloc, path_query = _split(url, allow_private=allow_private)
    path, _, query = path_query.partition("?")
    return urlunsplit((scheme, netloc, path, query, ""))


@dataclass(frozen=True)
class Target:
    """Where one attempt goes: the URL's parts plus the checked address to connect to."""

    scheme: str
    host: str  # normalized host name, or IP literal text (IPv6 without brackets)
    port: int
    path: str  # path and query, always starting with "/"
    ip: str  # the address `post` connects to, checked against the SSRF rules

    @property
    def is_ip_literal(self) -> bool:
        return self.host == self.ip

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def pinned_url(self) -> str:
        """The URL with the host replaced by the checked address, so no second lookup happens."""
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{ip}:{self.port}{self.path}"


async def _getaddrinfo(host: str, port: int) -> list[str]:
    """The resolver's addresses for host, in its preference order (tests replace this)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_target(url: str, *, allow_private: bool) -> Target:
    """Check the URL, resolve it, and refuse if ANY address is unsafe.

    All addresses are checked, not just the one we use: a name that mixes a public and an
    internal address is an attack or a misconfiguration either way. Raises `UnsafeTarget`, or
    `TargetResolutionError` when DNS has no answer.
    """
    scheme, host, ip, port, _netloc, path = _split(url, allow_private=allow_private)
    if ip is not None:
        return Target(scheme=scheme, host=host, port=port, path=path, ip=str(ip))
    try:
        found = await _getaddrinfo(host, port)
    except socket.gaierror as exc:
        raise TargetResolutionError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    addresses: list[IPAddress] = []
    for text in found:
        # link-local answers can carry a zone ("fe80::1%eth0"); the zone does not change the verdict
        address = ipaddress.ip_address(text.partition("%")[0])
        _check_ip(address, allow_private=allow_private, what=f"{host} resolves to {address}, which")
        addresses.append(address)
    if not addresses:
        raise TargetResolutionError(f"cannot resolve {host}: no addresses")
    return Target(scheme=scheme, host=host, port=port, path=path, ip=str(addresses[0]))


# ---------------------------------------------------------------------------------------------
# One attempt
# ---------------------------------------------------------------------------------------------

SNIPPET_BYTES = 4096
_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class AttemptResult:
    """The outcome of one POST, as the delivery log records it.

    `retryable` decides whether the delivery is tried again: network errors, timeouts, 408,
    429, 5xx and 3xx are; other 4xx and unsafe targets are not (retrying cannot change them).
    Redirects are never followed, since following one would let a receiver point us at an
    address we never checked; a 3xx counts as a retryable failure because it usually means the
    URL moved, and an admin who fixes the endpoint URL within the retry window still gets the
    delivery. 410 Gone is the receiver asking us to stop: `gone` lets the caller disable the
    endpoint.
    """

    status_code: int | None
    error: str | None
    duration_ms: int
    ok: bool
    gone: bool
    retryable: bool
    response_snippet: str | None = None
    retry_after_seconds: float | None = None  # from Retry-After on 429/503, when given


_ssl_context: ssl.SSLContext | None = None


def _default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds; one context serves every per-attempt client.
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


def _error_text(exc: BaseException) -> str:
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:_MAX_ERROR_CHARS]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _classify(
    status: int, headers: httpx.Headers, snippet: str | None, duration_ms: int
) -> AttemptResult:
    ok = 200 <= status < 300
    gone = status == 410
    if ok:
        error = None
        retryable = False
    elif 300 <= status < 400:
        location = headers.get("location", "")
        error = f"HTTP {status}: redirect to {location or '(no Location)'} not followed"
        retryable = True
    elif gone:
        error = "HTTP 410: the endpoint is gone"
        retryable = False
    elif 400 <= status < 500:
        error = f"HTTP {status}"
        retryable = status in (408, 429)
    else:
        error = f"HTTP {status}"
        retryable = True
    retry_after = _retry_after(headers.get("retry-after")) if status in (429, 503) else None
    return AttemptResult(
        status_code=status,
        error=error[:_MAX_ERROR_CHARS] if error else None,
        duration_ms=duration_ms,
        ok=ok,
        gone=gone,
        retryable=retryable,
        response_snippet=snippet,
        retry_after_seconds=retry_after,
    )


async def _read_snippet(response: httpx.Response, deadline: float) -> str | None:
    """Up to SNIPPET_BYTES of the body; a slow or broken body keeps what arrived.

    Raw bytes with `accept-encoding: identity`: decoding a compressed body chunk by chunk could
    still inflate one small chunk into megabytes.
    """
    kept = bytearray()
    try:
        async with asyncio.timeout_at(deadline):
            async for chunk in response.aiter_raw():
                kept.extend(chunk[: SNIPPET_BYTES - len(kept)])
                if len(kept) >= SNIPPET_BYTES:
                    break
    except (TimeoutError, httpx.HTTPError, OSError):
        pass  # the status already decided the outcome; the snippet is only for the log
    return kept.decode("utf-8", "replace") if kept else None


async def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,  # noqa: ASYNC109 - the whole attempt's budget, part of the contract
    allow_private: bool,
    client: httpx.AsyncClient | None = None,
) -> AttemptResult:
    """POST `body` once to `url` and report what happened; never raises for network trouble.

    `timeout` bounds the whole attempt (DNS, connect, TLS, request, status, snippet), not each
    step: httpx's own timeouts are per operation, so a receiver trickling one byte at a time
    could otherwise hold a worker forever.

    The connection goes to the address `resolve_target` checked, with the original Host header
    and, for https, SNI and certificate verification against the original host name (httpcore's
    `sni_hostname` request extension; Python's ssl checks the certificate against it).

    Without `client`, each attempt gets its own client: httpcore pools connections by the URL's
    origin, which here is the pinned IP, so a shared client could reuse a TLS connection made
    for another host name on the same address (a CDN, say). Pass `client` only for tests or
    instrumentation, and not across unrelated endpoints.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout

    def elapsed_ms() -> int:
        return int((loop.time() - started) * 1000)

    def failure(error: str, *, retryable: bool) -> AttemptResult:
        return AttemptResult(
            status_code=None,
            error=error[:_MAX_ERROR_CHARS],
            duration_ms=elapsed_ms(),
            ok=False,
            gone=False,
            retryable=retryable,
        )

    own_client = client is None
    if client is None:
        client = httpx.AsyncClient(
            verify=_default_ssl_context(),
            trust_env=False,  # an env proxy would resolve the name itself, undoing the pinning
            follow_redirects=False,
            timeout=timeout,
        )
    try:
        try:
            async with asyncio.timeout_at(deadline):
                target = await resolve_target(url, allow_private=allow_private)
        except UnsafeTarget as exc:
            return failure(f"unsafe target: {exc}", retryable=False)
        except TimeoutError:
            return failure(f"timed out after {timeout:g}s resolving the host", retryable=True)
        except OSError as exc:
            return failure(_error_text(exc), retryable=True)

        request_headers = {k: v for k, v in headers.items() if k.lower() != "host"}
        request_headers["Host"] = target.host_header
        if not any(k.lower() == "accept-encoding" for k in request_headers):
            request_headers["accept-encoding"] = "identity"
        extensions = {} if target.is_ip_literal else {"sni_hostname": target.host}
        request = client.build_request(
            "POST",
            target.pinned_url,
            content=body,
            headers=request_headers,
            timeout=max(0.001, deadline - loop.time()),
            extensions=extensions,
        )
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.send(request, stream=True, follow_redirects=False)
        except (TimeoutError, httpx.TimeoutException):
            return failure(f"timed out after {timeout:g}s", retryable=True)
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
            return failure(_error_text(exc), retryable=True)
        try:
            snippet = await _read_snippet(response, deadline)
        finally:
            await response.aclose()
        return _classify(response.status_code, response.headers, snippet, elapsed_ms())
    finally:
        if own_client:
            await client.aclose()


# ---------------------------------------------------------------------------------------------
# Retry schedule
# ---------------------------------------------------------------------------------------------

# Nominal wait after failed attempt n (index n-1); attempts past the end wait the last value.
# 30 s, 2 min, 5 min, 15 min, 30 min, 1 h, 2 h, 3 h, 4 h, 5 h, then 6 h. Quick early retries
# cover blips and deploys; the long tail rides out a receiver that is down for a day. With the
# default 14 attempts the 13 waits total 33.9 h nominal, 27.1 h at the lowest jitter, so an
# outage shorter than a day never loses a delivery.
RETRY_SCHEDULE_SECONDS: tuple[int, ...] = (
    30,
    120,
    300,
    900,
    1800,
    3600,
    7200,
    10800,
    14400,
    18000,
    21600,
)
RETRY_SCHEDULE_HOURS: tuple[float, ...] = tuple(s / 3600 for s in RETRY_SCHEDULE_SECONDS)
# Waits are drawn from [(1 - JITTER_FRACTION) x nominal, nominal]: spread out enough that
# deliveries failed by one outage do not all retry in the same second, never above the cap.
JITTER_FRACTION = 0.2


def _nominal(attempt: int) -> int:
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    return RETRY_SCHEDULE_SECONDS[min(attempt, len(RETRY_SCHEDULE_SECONDS)) - 1]


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based) before the next one."""
    draw = rng.random() if rng is not None else random.random()
    return _nominal(attempt) * (1 - JITTER_FRACTION * draw)


def min_backoff_seconds(attempt: int) -> float:
    """The shortest wait `backoff_seconds` can return for `attempt` (jitter at its lowest)."""
    return _nominal(attempt) * (1 - JITTER_FRACTION)


def max_attempts_for(hours: float) -> int:
    """The fewest attempts whose retries span at least `hours`, however the jitter falls.

    `settings.delivery_max_attempts` must be at least `max_attempts_for(24)` for the promise
    that a receiver can be down for a day without losing deliveries.
    """
    needed = hours * 3600
    attempts = 1
    waited = 0.0
    while waited < needed:
        waited += min_backoff_seconds(attempts)
        attempts += 1
    return attempts
