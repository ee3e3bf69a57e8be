"""Sending email over SMTP: one connection per batch, one result per message.

The delivery actor renders messages, calls `send_batch`, and records each `SendResult`: ok, a
permanent failure (the server refused this recipient or message with a 5xx: retrying cannot help,
the delivery is dead) or a transient one (4xx, timeout, connection refused, TLS or login
trouble: the delivery is retried with backoff). smtplib is blocking, so the whole conversation
runs in a thread and the worker's event loop keeps serving its other messages.

Headers are built with `email.policy.default`, and every caller-supplied value that goes into a
header is checked for line breaks first, so no value can add a header or a recipient.
"""

from __future__ import annotations

import asyncio
import email.policy
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.errors import MessageError, NonASCIILocalPartDefect
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime

from upward import clock
from upward.settings import Settings, get_settings

log = logging.getLogger(__name__)

# headers send_batch sets itself; a caller's `headers` must not replace them
_OWN_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "message-id", "date", "sender"}
    | {"content-type", "content-transfer-encoding", "mime-version"}
)
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII without ':' (RFC 5322 field-name)
_MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")
_HEADERS = HeaderRegistry()


@dataclass(frozen=True)
class OutgoingEmail:
    to: str  # "dee@example.com" or "Dee Dev <dee@example.com>"
    subject: str
    text: str
    html: str  # "" sends a text-only message
    message_id: str  # "<delivery-uuid@upward>": the same on every attempt of one delivery
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)  # e.g. List-Unsubscribe


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False  # only meaningful when not ok: True means do not retry
    error: str | None = None


class SmtpNotConfigured(Exception):
    """UPWARD_SMTP_HOST is unset (or UPWARD_MAIL_FROM unusable): the delivery service counts
    the try as a failed attempt, so the emails retry and, if nobody fixes it, die."""


SENT = SendResult(ok=True)


def _permanent(error: str) -> SendResult:
    return SendResult(ok=False, permanent=True, error=error)


def _transient(error: str) -> SendResult:
    return SendResult(ok=False, permanent=False, error=error)


def _by_code(code: int, message: bytes | str, what: str) -> SendResult:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    error = f"{what}: {code} {text}".strip()
    return _permanent(error) if 500 <= code < 600 else _transient(error)


def _has_break(value: str) -> bool:
    return any(c in value for c in "\r\n\x00")


def envelope_address(to: str) -> str | None:
    """The bare address of `to` (for RCPT TO), or None when `to` is not exactly one address.

    Parsed with the same header parser that writes the To header, so the envelope and the
    header cannot disagree (parseaddr accepts "a@x, b@y" and more)."""
    if _has_break(to):
        return None
    header = _HEADERS("to", to)
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if defects or len(header.addresses) != 1:
        return None
    address = header.addresses[0]
    if not address.username or not address.domain:
        return None
    return address.addr_spec


def recipient(name: str | None, address: str) -> str:
    """`to` with a display name, quoted where needed ("Dev, Dee" has a comma): never format
    `f"{name} <{address}>"` by hand, which would read as two addresses."""
    display = " ".join((name or "").split())
    return str(Address(display_name=display, addr_spec=address)) if display else address


# RFC 5322 allows 998 characters a line (78 is a SHOULD): at 78, Python folds a subject that
# starts with a bracket ("[Acme] ...") right after "Subject:", which some clients show with a
# leading space
_POLICY = email.policy.default.clone(max_line_length=998)


def build_message(message: OutgoingEmail, mail_from: str) -> EmailMessage:
    """The MIME message: text, plus HTML as an alternative. Raises ValueError for a value that
    would break the headers (the caller's bug or hostile data: the message is not sent)."""
    if envelope_address(message.to) is None:
        raise ValueError(f"invalid recipient address {message.to!r}")
    if not _MESSAGE_ID.match(message.message_id):
        raise ValueError(f"invalid Message-ID {message.message_id!r}")
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = mail_from
    msg["To"] = message.to
    msg["Subject"] = " ".join(message.subject.replace("\x00", "").split())
    msg["Message-ID"] = message.message_id
    msg["Date"] = format_datetime(clock.now())
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies stay quiet
    for name, value in message.headers.items():
        if not _HEADER_NAME.match(name) or name.lower() in _OWN_HEADERS:
            raise ValueError(f"header {name!r} may not be set by the caller")
        if _has_break(value):
            raise ValueError(f"header {name} contains a line break")
        if name.lower() == "auto-submitted":
            del msg["Auto-Submitted"]
        msg[name] = value
    msg.set_content(message.text)
    if message.html:
        msg.add_alternative(message.html, subtype="html")
    return msg


def _connect(settings: Settings) -> smtplib.SMTP:
    host = settings.smtp_host
    assert host is not None
    timeout = settings.smtp_timeout_seconds
    if settings.smtp_tls == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, settings.smtp_port, timeout=timeout)
    try:
        smtp.ehlo()
        if settings.smtp_tls == "starttls":
            # never falls back to plain text: a server without STARTTLS raises, and we retry
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _send_one(smtp: smtplib.SMTP, msg: EmailMessage, sender: str, rcpt: str) -> SendResult:
    """Raises only when the connection is gone (then this and the rest are retried later)."""
    try:
        refused = smtp.send_message(msg, from_addr=sender, to_addrs=[rcpt])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = exc.recipients.get(rcpt, next(iter(exc.recipients.values()), (451, b"")))
        return _by_code(code, text, f"recipient {rcpt} refused")
    except smtplib.SMTPSenderRefused as exc:
        # MAIL FROM is our configuration, not this message: retry, so that deliveries survive
        # until the operator fixes UPWARD_MAIL_FROM or the relay's policy
        text = exc.smtp_error.decode("utf-8", "replace")
        return _transient(f"sender {sender} refused: {exc.smtp_code} {text}")
    except smtplib.SMTPDataError as exc:
        return _by_code(exc.smtp_code, exc.smtp_error, "message refused")
    except smtplib.SMTPNotSupportedError as exc:  # e.g. a non-ASCII address, no SMTPUTF8
        return _permanent(f"not supported by the server: {exc}")
    if refused:  # cannot happen with one recipient, but never report a refusal as sent
        code, text = next(iter(refused.values()))
        return _by_code(code, text, f"recipient {rcpt} refused")
    return SENT


def _send_batch_sync(messages: Sequence[OutgoingEmail], settings: Settings) -> list[SendResult]:
    results: list[SendResult | None] = [None] * len(messages)
    prepared: list[tuple[int, EmailMessage, str]] = []
    for i, message in enumerate(messages):
        try:
            msg = build_message(message, settings.mail_from)
        except (ValueError, TypeError, MessageError) as exc:
            results[i] = _permanent(str(exc))
            continue
        rcpt = envelope_address(message.to)
        assert rcpt is not None
        prepared.append((i, msg, rcpt))
    if prepared:
        sender = envelope_address(settings.mail_from)
        assert sender is not None  # checked by send_batch
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        smtp: smtplib.SMTP | None = None
        try:
            smtp = _connect(settings)
            for i, msg, rcpt in prepared:
                results[i] = _send_one(smtp, msg, sender, rcpt)
        except (OSError, smtplib.SMTPException) as exc:
            # connection refused, timeout, TLS, login, or the server hung up mid-batch
            error = f"SMTP {where}: {type(exc).__name__}: {exc}"
            log.warning("email batch interrupted: %s", error)
            for i, _msg, _rcpt in prepared:
                if results[i] is None:
                    results[i] = _transient(error)
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except (OSError, smtplib.SMTPException):
                    smtp.close()
    return [r if r is not None else _transient("not sent") for r in results]


async def send_batch(
    messages: Sequence[OutgoingEmail], settings: Settings | None = None
) -> list[SendResult]:
    """Send over one SMTP connection; results are in the order of `messages`. Never raises for
    a message or the server: only for missing or unusable configuration (SmtpNotConfigured),
    which the delivery service counts as a failed attempt (retried, then dead: an operator
    sees a misconfigured deployment in failedDeliveries and on /metrics)."""
    settings = settings or get_settings()
    if not settings.smtp_host:
        raise SmtpNotConfigured("UPWARD_SMTP_HOST is not set")
    if envelope_address(settings.mail_from) is None:
        # every message would fail the same way: a configuration error, not the message's
        raise SmtpNotConfigured(f"UPWARD_MAIL_FROM {settings.mail_from!r} is not one address")
    if not messages:
        return []
    return await asyncio.to_thread(_send_batch_sync, list(messages), settings)
