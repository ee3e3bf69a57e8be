"""The email channel against real SMTP servers (aiosmtpd on loopback): what arrives, what is
refused and how each refusal is classified, the templates, and the development mail server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from tests.smtp import SmtpInbox, running_inbox, smtp_settings
from upward.devmail import DevMailServer, PortController
from upward.errors import BadUserInput
from upward.reminders import templates
from upward.reminders.email import (
    OutgoingEmail,
    SendResult,
    SmtpNotConfigured,
    envelope_address,
    recipient,
    send_batch,
)
from upward.reminders.templates import DEFAULTS, Template, render, validate, when_phrase
from upward.settings import Settings, get_settings

MAIL_FROM = "Acme HR <hr@acme.example>"


def outgoing(n: int, **kw: object) -> OutgoingEmail:
    values: dict[str, object] = {
        "to": f"Person {n} <p{n}@t.example>",
        "subject": f"Subject {n}",
        "text": f"Text body {n}\n",
        "html": f"<p>HTML body {n}</p>\n",
        "message_id": f"<delivery-{n:04d}@upward>",
    }
    return OutgoingEmail(**(values | kw))  # type: ignore[arg-type]


def reminder_context(**kw: object) -> dict[str, object]:
    return {
        "recipient_name": "Dee Dev",
        "holder_name": "Dee Dev",
        "whose": "Your",
        "credential_type": "First Aid Certificate",
        "when": when_phrase(30),
        "expires_on": date(2030, 6, 1),
        "renew_url": "https://app.example/credentials/abc?renew=1&x=2",
        "inbox_url": "https://app.example/inbox",
        "tenant_name": "Acme",
    } | kw


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bodies(msg: email.message.EmailMessage) -> tuple[str, str]:
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


@pytest.fixture
def inbox() -> Iterator[SmtpInbox]:
    with running_inbox() as running:
        yield running


@pytest.fixture
def configured(inbox: SmtpInbox) -> Iterator[SmtpInbox]:
    with smtp_settings(inbox):
        yield inbox


# --- sending --------------------------------------------------------------------------------


async def test_a_batch_arrives_with_its_headers_and_both_parts(inbox: SmtpInbox) -> None:
    settings = inbox.settings(mail_from=MAIL_FROM)
    batch = [outgoing(i) for i in range(3)]
    batch[2] = outgoing(
        2, headers={"List-Unsubscribe": "<https://app.example/settings/notifications>"}
    )

    results = await send_batch(batch, settings)

    assert results == [SendResult(ok=True)] * 3
    received = inbox.received
    assert len(received) == 3
    for i, r in enumerate(received):
        msg = r.message
        assert r.mail_from == "hr@acme.example"
        assert r.rcpt_tos == (f"p{i}@t.example",)
        assert msg["From"] == MAIL_FROM
        assert msg["To"] == f"Person {i} <p{i}@t.example>"
        assert msg["Subject"] == f"Subject {i}"
        assert msg["Message-ID"] == f"<delivery-{i:04d}@upward>"
        assert msg["Date"] is not None
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg.get_content_type() == "multipart/alternative"
        text, html = bodies(msg)
        assert text.strip() == f"Text body {i}"
        assert html.strip() == f"<p>HTML body {i}</p>"
    assert received[2].message["List-Unsubscribe"] == "<https://app.example/settings/notifications>"
    assert received[0].message["List-Unsubscribe"] is None


async def test_an_empty_html_body_sends_text_only(inbox: SmtpInbox) -> None:
    [result] = await send_batch([outgoing(1, html="")], inbox.settings())
    assert result.ok
    [msg] = inbox.wait_for(1)
    assert msg.get_content_type() == "text/plain"


async def test_names_are_escaped_in_html_and_plain_in_text(inbox: SmtpInbox) -> None:
    name = '<script>alert("x")</script> & Co'
    context = reminder_context(holder_name=name, whose=f"{name}'s")
    rendered = render("reminder", DEFAULTS["reminder"], context)
    message = outgoing(1, subject=rendered.subject, text=rendered.text, html=rendered.html)

    [result] = await send_batch([message], inbox.settings())

    assert result.ok
    [msg] = inbox.wait_for(1)
    text, html = bodies(msg)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert name in text
    assert msg["Subject"].startswith(name)  # no fold right after "Subject:"
    # the link keeps working: & in a URL is escaped to &amp; inside the attribute
    assert 'href="https://app.example/credentials/abc?renew=1&amp;x=2"' in html


async def test_a_line_break_in_the_subject_cannot_add_a_header(inbox: SmtpInbox) -> None:
    message = outgoing(1, subject="Hello\r\nBcc: evil@attacker.example\r\n\r\nbody")

    [result] = await send_batch([message], inbox.settings())

    assert result.ok
    [r] = inbox.received
    assert r.rcpt_tos == ("p1@t.example",)
    assert r.message["Bcc"] is None
    assert r.message["Subject"] == "Hello Bcc: evil@attacker.example body"


@pytest.mark.parametrize(
    "to",
    [
        "p1@t.example\r\nBcc: evil@attacker.example",
        "p1@t.example\nCc: evil@attacker.example",
        "p1@t.example, evil@attacker.example",
        "not-an-address",
        "",
    ],
)
async def test_a_bad_recipient_is_refused_and_the_rest_still_go(inbox: SmtpInbox, to: str) -> None:
    results = await send_batch([outgoing(0), outgoing(1, to=to), outgoing(2)], inbox.settings())

    assert [r.ok for r in results] == [True, False, True]
    assert results[1].permanent
    assert "recipient" in (results[1].error or "")
    rcpts = [rcpt for r in inbox.received for rcpt in r.rcpt_tos]
    assert rcpts == ["p0@t.example", "p2@t.example"]


async def test_a_caller_header_cannot_inject_or_replace_headers(inbox: SmtpInbox) -> None:
    batch = [
        outgoing(0, headers={"List-Unsubscribe": "<x>\r\nBcc: evil@attacker.example"}),
        outgoing(1, headers={"Bcc": "evil@attacker.example"}),
        outgoing(2, headers={"X-Bad Name": "v"}),
        outgoing(3, message_id="<no at sign>"),
        outgoing(4),
    ]
    results = await send_batch(batch, inbox.settings())

    assert [(r.ok, r.permanent) for r in results] == [(False, True)] * 4 + [(True, False)]
    assert [r.rcpt_tos for r in inbox.received] == [("p4@t.example",)]


def test_envelope_address() -> None:
    assert envelope_address("Dee Dev <dee@t.example>") == "dee@t.example"
    assert envelope_address('"Dev, Dee" <dee@t.example>') == "dee@t.example"
    assert envelope_address("dee@t.example") == "dee@t.example"
    for bad in ("a@x, b@y", "a@b@c", "dee", "<>", "dee@t.example\n", "a b@x.example"):
        assert envelope_address(bad) is None, bad


async def test_recipient_quotes_display_names(inbox: SmtpInbox) -> None:
    to = recipient('Dev, Dee "D"\r\nBcc: x@y', "dee@t.example")
    assert envelope_address(to) == "dee@t.example"
    assert recipient(None, "dee@t.example") == "dee@t.example"

    [result] = await send_batch([outgoing(1, to=to)], inbox.settings())

    assert result.ok
    [r] = inbox.received
    assert r.rcpt_tos == ("dee@t.example",)
    assert r.message["To"].addresses[0].display_name == 'Dev, Dee "D" Bcc: x@y'


async def test_a_550_recipient_fails_permanently_and_only_that_one() -> None:
    refusals = {"p1@t.example": "550 5.1.1 <p1@t.example>: no such user"}
    with running_inbox(rcpt_replies=refusals) as inbox:
        results = await send_batch([outgoing(i) for i in range(3)], inbox.settings())

        assert results[0] == SendResult(ok=True)
        assert results[2] == SendResult(ok=True)
        assert results[1].ok is False and results[1].permanent is True
        assert "550" in (results[1].error or "") and "no such user" in (results[1].error or "")
        assert [r.rcpt_tos for r in inbox.received] == [("p0@t.example",), ("p2@t.example",)]


async def test_a_451_recipient_is_transient() -> None:
    with running_inbox(rcpt_replies={"p0@t.example": "451 4.7.1 greylisted, try later"}) as inbox:
        results = await send_batch([outgoing(0), outgoing(1)], inbox.settings())

        assert results[0].ok is False and results[0].permanent is False
        assert "451" in (results[0].error or "")
        assert results[1].ok
        assert [r.rcpt_tos for r in inbox.received] == [("p1@t.example",)]


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("451 4.3.0 temporary failure, try later", False), ("554 5.7.1 rejected as spam", True)],
)
async def test_a_refusal_at_data_is_classified_by_its_code(reply: str, permanent: bool) -> None:
    with running_inbox(data_reply=reply) as inbox:
        results = await send_batch([outgoing(0), outgoing(1)], inbox.settings())

        assert [(r.ok, r.permanent) for r in results] == [(False, permanent)] * 2
        assert reply.split()[0] in (results[0].error or "")
        assert inbox.received == []


class _HangUpOnSecondMessage:
    """Accepts the first message, then drops the connection at the second one's RCPT."""

    def __init__(self) -> None:
        self.rcpts: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if self.rcpts:
            server.transport.close()
            return "421 4.3.2 going away"
        self.rcpts.append(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_a_connection_lost_mid_batch_is_transient_for_the_rest() -> None:
    handler = _HangUpOnSecondMessage()
    controller = PortController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    try:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_tls="none")
        results = await send_batch([outgoing(i) for i in range(3)], settings)
    finally:
        controller.stop()

    assert results[0] == SendResult(ok=True)
    assert [(r.ok, r.permanent) for r in results[1:]] == [(False, False)] * 2
    assert handler.rcpts == ["p0@t.example"]


async def test_nothing_listening_is_transient_for_every_message() -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none")
    results = await send_batch([outgoing(i) for i in range(3)], settings)

    assert len(results) == 3
    for r in results:
        assert r.ok is False and r.permanent is False
        assert "ConnectionRefused" in (r.error or "")


async def test_a_bad_message_does_not_hide_a_connection_failure() -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none")
    results = await send_batch([outgoing(0, to="bad"), outgoing(1)], settings)

    assert [(r.ok, r.permanent) for r in results] == [(False, True), (False, False)]


async def test_starttls_never_falls_back_to_plain_text(inbox: SmtpInbox) -> None:
    # aiosmtpd without a TLS context does not offer STARTTLS
    results = await send_batch([outgoing(0)], inbox.settings(smtp_tls="starttls"))

    assert results[0].ok is False and results[0].permanent is False
    assert "STARTTLS" in (results[0].error or "")
    assert inbox.received == []


async def test_unconfigured_smtp_raises() -> None:
    settings = Settings(smtp_host=None)
    with pytest.raises(SmtpNotConfigured):
        await send_batch([outgoing(0)], settings)
    with pytest.raises(SmtpNotConfigured):  # even for nothing to send: the caller must know
        await send_batch([], settings)


async def test_an_unusable_sender_address_counts_as_unconfigured(inbox: SmtpInbox) -> None:
    with pytest.raises(SmtpNotConfigured, match="UPWARD_MAIL_FROM"):
        await send_batch([outgoing(0)], inbox.settings(mail_from="Upward <no-reply>"))
    assert inbox.received == []


class _RefuseSender:
    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        return "550 5.7.1 sender not allowed"


async def test_a_refused_sender_is_transient() -> None:
    controller = PortController(_RefuseSender(), hostname="127.0.0.1", port=0)
    controller.start()
    try:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_tls="none")
        results = await send_batch([outgoing(0), outgoing(1)], settings)
    finally:
        controller.stop()

    assert [(r.ok, r.permanent) for r in results] == [(False, False)] * 2
    assert "550" in (results[0].error or "")


class _SlowData:
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.3)
        return "250 OK"


async def test_sending_does_not_block_the_event_loop() -> None:
    controller = PortController(_SlowData(), hostname="127.0.0.1", port=0)
    controller.start()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_tls="none")
        [result] = await send_batch([outgoing(0)], settings)
    finally:
        ticker.cancel()
        controller.stop()
    assert result.ok
    assert ticks >= 5


async def test_an_empty_batch_sends_nothing(inbox: SmtpInbox) -> None:
    assert await send_batch([], inbox.settings()) == []


async def test_the_settings_fixture_points_get_settings_at_the_inbox(
    configured: SmtpInbox,
) -> None:
    assert get_settings().smtp_port == configured.port
    [result] = await send_batch([outgoing(7)])
    assert result.ok
    [msg] = await configured.wait_for_async(1)
    assert msg["Message-ID"] == "<delivery-0007@upward>"


def test_smtp_settings_restores_the_environment() -> None:
    before = os.environ.get("UPWARD_SMTP_HOST")
    with running_inbox() as inbox, smtp_settings(inbox):
        assert os.environ["UPWARD_SMTP_PORT"] == str(inbox.port)
        assert get_settings().smtp_tls == "none"
    assert os.environ.get("UPWARD_SMTP_HOST") == before
    assert get_settings().smtp_host == before


# --- templates ------------------------------------------------------------------------------


def test_the_defaults_validate() -> None:
    for kind in templates.TEMPLATE_KINDS:
        validate(kind, DEFAULTS[kind])
    assert set(DEFAULTS) == set(templates.PLACEHOLDERS) == set(templates.TEMPLATE_KINDS)


def test_the_default_reminder_reads_well() -> None:
    r = render(
        "reminder",
        DEFAULTS["reminder"],
        reminder_context(holder_name="Pat Peer", whose="Pat Peer's"),
    )

    assert r.subject == "Pat Peer's First Aid Certificate expires in 30 days"
    assert r.text.startswith("Hello Dee Dev,\n")
    assert (
        "Pat Peer's First Aid Certificate expires in 30 days (expiry date: 2030-06-01)." in r.text
    )
    mine = render("reminder", DEFAULTS["reminder"], reminder_context())
    assert mine.subject == "Your First Aid Certificate expires in 30 days"
    assert "https://app.example/credentials/abc?renew=1&x=2" in r.text
    assert "https://app.example/inbox" in r.text
    assert "Acme" in r.text
    assert "$" not in r.text + r.html + r.subject
    assert 'href="https://app.example/inbox"' in r.html


def test_the_default_digest_reads_well() -> None:
    items = [
        {
            "holder_name": "Dee Dev",
            "credential_type": "Forklift <licence>",
            "when": when_phrase(0),
            "expires_on": date(2030, 6, 1),
            "url": "https://app.example/credentials/1?a=1&b=2",
        },
        {
            "holder_name": "Pat Peer",
            "credential_type": "First Aid",
            "days_until": -7,
            "expires_on": "2030-05-25",
            "url": "https://app.example/credentials/2",
        },
    ]
    r = render(
        "digest",
        DEFAULTS["digest"],
        {
            "recipient_name": "Bo Boss",
            "count": len(items),
            "items_text": templates.items_text(items),
            "items_html": templates.items_html(items),
            "inbox_url": "https://app.example/inbox",
            "tenant_name": "Acme",
            "date": date(2030, 6, 1),
        },
    )

    assert r.subject == "Credential digest for 2030-06-01: 2 to review"
    assert "Hello Bo Boss," in r.text
    assert "- Dee Dev: Forklift <licence> expires today (2030-06-01)\n" in r.text
    assert "  https://app.example/credentials/1?a=1&b=2\n" in r.text
    assert "- Pat Peer: First Aid expired 7 days ago (2030-05-25)" in r.text
    assert "Forklift &lt;licence&gt; expires today" in r.html
    assert "<licence>" not in r.html
    assert '<a href="https://app.example/credentials/1?a=1&amp;b=2">' in r.html
    assert r.html.count("<li") == 2


def test_when_phrase() -> None:
    assert [when_phrase(d) for d in (30, 2, 1, 0, -1, -7)] == [
        "expires in 30 days",
        "expires in 2 days",
        "expires tomorrow",
        "expires today",
        "expired yesterday",
        "expired 7 days ago",
    ]


def test_render_escapes_every_html_value_and_one_lines_the_subject() -> None:
    t = Template(subject="$$5 for $holder_name", text="$holder_name", html="<b>$holder_name</b>")
    r = render("reminder", t, reminder_context(holder_name="A\r\nBcc: x@y <i>"))

    assert r.subject == "$5 for A Bcc: x@y <i>"
    assert r.text == "A\r\nBcc: x@y <i>"
    assert r.html == "<b>A\r\nBcc: x@y &lt;i&gt;</b>"


def test_render_needs_every_placeholder_of_the_kind() -> None:
    context = reminder_context()
    del context["renew_url"]
    with pytest.raises(ValueError, match="renew_url"):
        render("reminder", DEFAULTS["reminder"], context)


def _template(**kw: str) -> Template:
    values = {"subject": "Hi $recipient_name", "text": "Body $tenant_name", "html": "<p>Hi</p>"}
    return Template(**(values | kw))


@pytest.mark.parametrize(
    ("kind", "template", "field", "message"),
    [
        ("sms", _template(), "input.kind", "unknown template kind"),
        ("reminder", _template(subject=""), "input.subject", "empty"),
        ("reminder", _template(subject="   "), "input.subject", "empty"),
        ("reminder", _template(subject="Hi\nBcc: x"), "input.subject", "single line"),
        ("reminder", _template(subject="x" * 201), "input.subject", "at most 200"),
        ("reminder", _template(text="x" * 20_001), "input.text", "at most 20,000"),
        ("reminder", _template(html="x" * 20_001), "input.html", "at most 20,000"),
        ("reminder", _template(html=""), "input.html", "empty"),
        ("reminder", _template(text="a\x00b"), "input.text", "NUL"),
        ("reminder", _template(text="Hi $name"), "input.text", "unknown placeholder $name"),
        ("reminder", _template(html="${__class__}"), "input.html", "unknown placeholder"),
        ("reminder", _template(text="Cost: $5"), "input.text", "write $$"),
        ("reminder", _template(text="Hi ${holder_name"), "input.text", "write $$"),
        ("reminder", _template(text="$holder_names"), "input.text", "${name}"),
        ("reminder", _template(text="$count"), "input.text", "unknown placeholder $count"),
        ("digest", _template(text="$items_html"), "input.text", "not available in the text"),
        ("digest", _template(html="$items_text"), "input.html", "not available in the html"),
        ("digest", _template(subject="$items_text"), "input.subject", "not available"),
        ("digest", _template(text="$holder_name"), "input.text", "unknown placeholder"),
    ],
)
def test_validate_names_the_field(kind: str, template: Template, field: str, message: str) -> None:
    with pytest.raises(BadUserInput) as info:
        validate(kind, template)
    assert info.value.field == field
    assert message in info.value.message


def test_validate_uses_the_given_field_prefix_and_accepts_good_overrides() -> None:
    with pytest.raises(BadUserInput) as info:
        validate("digest", _template(subject=""), field="input.digest")
    assert info.value.field == "input.digest.subject"

    ok = Template(
        subject="[$tenant_name] ${holder_name}'s $credential_type $when",
        text="Costs $$0.\n$renew_url",
        html="<p>$holder_name</p>",
    )
    validate("reminder", ok)
    r = render("reminder", ok, reminder_context())
    assert r.subject == "[Acme] Dee Dev's First Aid Certificate expires in 30 days"
    assert r.text.startswith("Costs $0.")


# --- development mail server ----------------------------------------------------------------


async def test_devmail_writes_each_message_as_an_eml_file(tmp_path: Path) -> None:
    directory = tmp_path / "mail" / "new"  # created when missing
    with DevMailServer(directory, port=0) as server:
        assert server.port != 0
        rendered = render("reminder", DEFAULTS["reminder"], reminder_context())
        batch = [
            outgoing(1, subject=rendered.subject, text=rendered.text, html=rendered.html),
            outgoing(2, to="Zoë <zoe@t.example>", subject="Grüße"),
        ]
        settings = Settings(
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_tls="none",
            smtp_username=None,
            mail_from=MAIL_FROM,
        )
        results = await send_batch(batch, settings)
    assert all(r.ok for r in results), results

    files = sorted(directory.glob("*.eml"))
    assert [f.name.endswith(f"-{n:04d}.eml") for n, f in enumerate(files, 1)] == [True, True]
    assert not list(directory.glob("*.tmp"))
    first, second = (
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files
    )
    assert first["Subject"] == "Your First Aid Certificate expires in 30 days"
    assert first["X-RcptTo"] == "p1@t.example"
    assert first["From"] == MAIL_FROM
    assert "expires in 30 days" in bodies(first)[0]  # type: ignore[arg-type]
    assert second["Subject"] == "Grüße"
    assert second["To"] == "Zoë <zoe@t.example>"


async def test_serve_forever_runs_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    script = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from upward.devmail import serve_forever\n"
        "logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format='%(message)s')\n"
        "logging.getLogger('upward.devmail').setLevel(logging.INFO)\n"
        f"serve_forever(Path({str(tmp_path)!r}), '127.0.0.1', {port})\n"
    )
    proc = subprocess.Popen(  # noqa: ASYNC220, S603 - our own script, waited on below
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert proc.stdout is not None
        first = await asyncio.to_thread(proc.stdout.readline)
        assert b"dev mail server on 127.0.0.1:" in first
        settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none")
        [result] = await send_batch([outgoing(1)], settings)
        assert result.ok
        logged = await asyncio.to_thread(proc.stdout.readline)
        assert b"mail to p1@t.example: Subject 1" in logged
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 10)
    assert code == 0
    [eml] = await asyncio.to_thread(lambda: list(tmp_path.glob("*.eml")))
    raw = await asyncio.to_thread(eml.read_bytes)
    assert email.message_from_bytes(raw)["Message-ID"] == "<delivery-0001@upward>"
