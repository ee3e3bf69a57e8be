"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a free port, collecting what arrives.

Tests send through the production code path (smtplib over TCP) and look at what a mail server
actually received, rather than at what a mock was called with. The server can also answer like a
picky one: refuse chosen recipients at RCPT (`rcpt_replies`) or every message at DATA
(`data_reply`), with any status line ("550 5.1.1 no such user", "451 4.3.0 try later").

In-process use (the server runs on its own thread, so it works from async tests too):

    def test_x(smtp_configured: SmtpInbox) -> None:   # env set, settings reset
        ...
        [msg] = smtp_configured.wait_for(1)

Subprocess workers: pass `smtp_env(inbox)` in their environment.

To share the fixtures, import them in a conftest: `from tests.smtp import smtp_inbox,
smtp_configured  # noqa: F401`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, cast

import pytest

from upward.devmail import PortController

if TYPE_CHECKING:
    from upward.settings import Settings


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


class _Handler:
    def __init__(self, inbox: SmtpInbox) -> None:
        self.inbox = inbox

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.inbox.rcpt_started += 1
        if self.inbox.rcpt_delay:  # a slow server: a killed client dies mid-conversation
            await asyncio.sleep(self.inbox.rcpt_delay)
        reply = self.inbox.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.inbox.data_reply:
            return self.inbox.data_reply
        raw = envelope.original_content or envelope.content
        message = cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
        self.inbox._add(Received(envelope.mail_from, tuple(envelope.rcpt_tos), message, raw))
        return "250 OK"


class SmtpInbox:
    """A running SMTP server and the messages it accepted, in arrival order."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        rcpt_replies: Mapping[str, str] | None = None,
        data_reply: str | None = None,
        rcpt_delay: float = 0.0,
    ) -> None:
        self.host = host
        self.rcpt_delay = rcpt_delay
        self.rcpt_started = 0  # RCPT commands seen (a conversation in progress, if > received)
        # mutable while running: address (lowercase) -> status line for RCPT TO
        self.rcpt_replies: dict[str, str] = {k.lower(): v for k, v in (rcpt_replies or {}).items()}
        self.data_reply = data_reply  # a status line for DATA instead of accepting
        self._received: list[Received] = []
        self._cond = threading.Condition()
        self._controller = PortController(
            _Handler(self), hostname=host, port=0, enable_SMTPUTF8=True
        )
        self._running = False

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> SmtpInbox:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._controller.stop()
            self._running = False

    def __enter__(self) -> SmtpInbox:
        return self.start()

    def settings(self, **overrides: Any) -> Settings:
        """Settings that send here, to pass to send_batch(..., settings) explicitly."""
        from upward.settings import Settings

        values: dict[str, Any] = {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_tls": "none",
            "smtp_username": None,
            "smtp_password": None,
            "smtp_timeout_seconds": 5.0,
        }
        return Settings(**(values | overrides))

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _add(self, received: Received) -> None:
        with self._cond:
            self._received.append(received)
            self._cond.notify_all()

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    def clear(self) -> None:
        with self._cond:
            self._received.clear()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Block until at least `n` messages arrived; fails the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._received) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {n} messages within {timeout}s, got {len(self._received)}"
                    )
                self._cond.wait(left)
            return [r.message for r in self._received]

    async def wait_for_async(self, n: int, within: float = 5.0) -> list[EmailMessage]:
        """`wait_for` without blocking the event loop (for messages sent by in-loop tasks)."""
        return await asyncio.to_thread(self.wait_for, n, within)


def smtp_env(inbox: SmtpInbox) -> dict[str, str]:
    """Environment for a subprocess (a worker) that should send to `inbox`."""
    return {
        "UPWARD_SMTP_HOST": inbox.host,
        "UPWARD_SMTP_PORT": str(inbox.port),
        "UPWARD_SMTP_TLS": "none",
    }


@contextmanager
def running_inbox(**kwargs: Any) -> Iterator[SmtpInbox]:
    with SmtpInbox(**kwargs) as inbox:
        yield inbox


@contextmanager
def smtp_settings(inbox: SmtpInbox) -> Iterator[SmtpInbox]:
    """Point this process's settings at `inbox`, and restore them afterwards (settings are cached
    by get_settings(), so both changes reset the cache)."""
    from upward.settings import reset_settings

    with pytest.MonkeyPatch.context() as mp:
        for name, value in smtp_env(inbox).items():
            mp.setenv(name, value)
        for name in ("UPWARD_SMTP_USERNAME", "UPWARD_SMTP_PASSWORD"):
            mp.delenv(name, raising=False)
        reset_settings()
        try:
            yield inbox
        finally:
            mp.undo()
            reset_settings()


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    """A running inbox (settings untouched: pass settings explicitly, or use smtp_configured)."""
    with running_inbox() as inbox:
        yield inbox


@pytest.fixture
def smtp_configured(smtp_inbox: SmtpInbox) -> Iterator[SmtpInbox]:
    """A running inbox that get_settings() points at, for code that reads the settings itself."""
    with smtp_settings(smtp_inbox):
        yield smtp_inbox
