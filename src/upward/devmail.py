"""The development mail server: `upward dev` points UPWARD_SMTP_HOST at it, so reminders and
digests really go over SMTP, and each message lands as an `.eml` file (open it in any mail
client) in `.data/mail/`, instead of reaching anyone's inbox.

It accepts every message from anyone, without TLS or authentication, so it only ever listens on
loopback unless told otherwise.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import logging
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)


class PortController(Controller):
    """aiosmtpd's Controller, also for `port=0` (a free port the OS picks, read back into
    `self.port`), so tests and parallel dev servers never race for a port."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _FileHandler:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        # the envelope, as a relay would record it: the message's own To may differ (Bcc)
        trace = f"X-MailFrom: {envelope.mail_from}\r\nX-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n"
        path = self.write(trace.encode("utf-8", "replace") + content)
        subject = email.message_from_bytes(content, policy=email.policy.default).get("Subject", "")
        log.info("mail to %s: %s (%s)", ", ".join(envelope.rcpt_tos), subject, path.name)
        return "250 Message accepted for delivery"

    def write(self, data: bytes) -> Path:
        """Written under a temporary name and renamed, so a watcher never reads half a file."""
        with self._lock:
            seq = next(self._seq)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{stamp}-{seq:04d}.eml"
        tmp = path.with_suffix(".eml.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path


class DevMailServer:
    """An SMTP server on its own thread that writes every message it receives to `directory`."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.directory = Path(directory)
        self.host = host
        self.handler = _FileHandler(self.directory)
        self._controller = PortController(
            self.handler, hostname=host, port=port, enable_SMTPUTF8=True
        )
        self._running = False

    @property
    def port(self) -> int:
        """The port it listens on (the OS's choice when started with port 0)."""
        return self._controller.port

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._controller.start()
        self._running = True
        log.info("dev mail server on %s:%d, writing to %s", self.host, self.port, self.directory)

    def stop(self) -> None:
        if self._running:
            self._controller.stop()
            self._running = False

    def __enter__(self) -> DevMailServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(directory: Path, host: str = "127.0.0.1", port: int = 1025) -> None:
    """Run the server until SIGINT or SIGTERM (call from the main thread, as signals need)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    server = DevMailServer(directory, host, port)
    try:
        server.start()
        while not stop.wait(1.0):  # a timeout keeps the main thread responsive to signals
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
