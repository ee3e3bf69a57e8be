"""Notification templates: the wording of reminder and digest emails, which a tenant may override.

Templates use `string.Template` (`$name`, `${name}`, `$$` for a literal dollar sign) rather than a
template language, so a tenant's text can only name values, never run code or reach attributes.
Every placeholder a template uses must be one the code fills for its kind: `validate` refuses
anything else when the tenant saves the template, so a stored template always renders.

Values substituted into the HTML body are escaped; only placeholders ending in `_html` (lists the
code builds from escaped parts) are inserted as they are, and they may only appear in the HTML
body. Placeholders ending in `_text` may only appear in the text body. The rendered subject is
collapsed to one line, so no value can add a header.
"""

from __future__ import annotations

import html
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from upward.errors import BadUserInput

TEMPLATE_KINDS = ("reminder", "digest", "checkin_reminder", "goal_overdue")

MAX_SUBJECT = 200
MAX_BODY = 20_000


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


PLACEHOLDERS: dict[str, frozenset[str]] = {
    # one person's credential: sent to the holder, and to managers, HR or watchers on escalation
    "reminder": frozenset(
        {
            "recipient_name",
            "holder_name",
            "whose",  # "Your" to the holder, "Dee Dev's" to anyone else
            "credential_type",
            "when",  # when_phrase(): "expires in 30 days", "expires today", "expired 7 days ago"
            "expires_on",
            "renew_url",
            "inbox_url",
            "tenant_name",
        }
    ),
    # several items for a manager or HR, once a day
    "digest": frozenset(
        {
            "recipient_name",
            "count",
            "items_text",  # items_text(): one line per item, plain text
            "items_html",  # items_html(): a <ul>, escaped by the code
            "inbox_url",
            "tenant_name",
            "date",
        }
    ),
    # a check-in (1:1) coming up: to both participants, `remind_minutes_before` the meeting
    "checkin_reminder": frozenset(
        {
            "recipient_name",
            "with_name",  # the other participant
            "title",  # the series' title
            "starts_at",  # the meeting's local date and time in the recipient's zone
            "when",  # "in 30 minutes", "in 24 hours", "in 2 days"
            "checkin_url",
            "inbox_url",
            "tenant_name",
        }
    ),
    # an IDP goal past its due date: to its owner, and later to their manager too
    "goal_overdue": frozenset(
        {
            "recipient_name",
            "owner_name",
            "whose",  # "Your" to the owner, "Dee Dev's" to the manager
            "goal_title",
            "due_on",
            "when",  # "was due yesterday", "was due 7 days ago"
            "plan_url",
            "inbox_url",
            "tenant_name",
        }
    ),
}

_REMINDER_HTML = """\
<!DOCTYPE html>
<html lang="en">
<body style="margin:0;padding:24px;background:#f5f6f8;font-family:Arial,Helvetica,sans-serif;\
color:#1f2933;">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:6px;padding:24px;">
<p>Hello $recipient_name,</p>
<p>$whose <strong>$credential_type</strong> $when
(expiry date: $expires_on).</p>
<p>To keep it valid, renew it and upload the new evidence.</p>
<p><a href="$renew_url" style="display:inline-block;padding:10px 18px;background:#2563eb;\
color:#ffffff;text-decoration:none;border-radius:4px;">Renew or upload evidence</a></p>
<p>All your reminders are in your <a href="$inbox_url">Upward inbox</a>.</p>
<p style="font-size:12px;color:#6b7280;">This is an automated message from Upward for \
$tenant_name.</p>
</div>
</body>
</html>
"""

_DIGEST_HTML = """\
<!DOCTYPE html>
<html lang="en">
<body style="margin:0;padding:24px;background:#f5f6f8;font-family:Arial,Helvetica,sans-serif;\
color:#1f2933;">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:6px;padding:24px;">
<p>Hello $recipient_name,</p>
<p>Here is your credential digest for $date. Credentials to review: <strong>$count</strong>.</p>
$items_html
<p><a href="$inbox_url" style="display:inline-block;padding:10px 18px;background:#2563eb;\
color:#ffffff;text-decoration:none;border-radius:4px;">Open your Upward inbox</a></p>
<p style="font-size:12px;color:#6b7280;">You receive this digest because you manage people or \
administer HR at $tenant_name. This is an automated message from Upward.</p>
</div>
</body>
</html>
"""

_CHECKIN_HTML = """\
<!DOCTYPE html>
<html lang="en">
<body style="margin:0;padding:24px;background:#f5f6f8;font-family:Arial,Helvetica,sans-serif;\
color:#1f2933;">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:6px;padding:24px;">
<p>Hello $recipient_name,</p>
<p>Your check-in <strong>$title</strong> with $with_name is $when ($starts_at).</p>
<p>Add what you want to talk about to the agenda beforehand.</p>
<p><a href="$checkin_url" style="display:inline-block;padding:10px 18px;background:#2563eb;\
color:#ffffff;text-decoration:none;border-radius:4px;">Open the agenda</a></p>
<p>All your reminders are in your <a href="$inbox_url">Upward inbox</a>.</p>
<p style="font-size:12px;color:#6b7280;">This is an automated message from Upward for \
$tenant_name.</p>
</div>
</body>
</html>
"""

_GOAL_HTML = """\
<!DOCTYPE html>
<html lang="en">
<body style="margin:0;padding:24px;background:#f5f6f8;font-family:Arial,Helvetica,sans-serif;\
color:#1f2933;">
<div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:6px;padding:24px;">
<p>Hello $recipient_name,</p>
<p>$whose development goal <strong>$goal_title</strong> $when (due date: $due_on).</p>
<p>Update its progress, complete it, or agree a new date.</p>
<p><a href="$plan_url" style="display:inline-block;padding:10px 18px;background:#2563eb;\
color:#ffffff;text-decoration:none;border-radius:4px;">Open the plan</a></p>
<p>All your reminders are in your <a href="$inbox_url">Upward inbox</a>.</p>
<p style="font-size:12px;color:#6b7280;">This is an automated message from Upward for \
$tenant_name.</p>
</div>
</body>
</html>
"""

DEFAULTS: dict[str, Template] = {
    "reminder": Template(
        subject="$whose $credential_type $when",
        text="""\
Hello $recipient_name,

$whose $credential_type $when (expiry date: $expires_on).

To keep it valid, renew it and upload the new evidence:
$renew_url

All your reminders are in your Upward inbox:
$inbox_url

This is an automated message from Upward for $tenant_name.
""",
        html=_REMINDER_HTML,
    ),
    "digest": Template(
        subject="Credential digest for $date: $count to review",
        text="""\
Hello $recipient_name,

Here is your credential digest for $date. Credentials to review: $count.

$items_text

Review them in your Upward inbox:
$inbox_url

You receive this digest because you manage people or administer HR at $tenant_name.
This is an automated message from Upward.
""",
        html=_DIGEST_HTML,
    ),
    "checkin_reminder": Template(
        subject="Check-in with $with_name $when",
        text="""\
Hello $recipient_name,

Your check-in "$title" with $with_name is $when ($starts_at).

Add what you want to talk about to the agenda beforehand:
$checkin_url

All your reminders are in your Upward inbox:
$inbox_url

This is an automated message from Upward for $tenant_name.
""",
        html=_CHECKIN_HTML,
    ),
    "goal_overdue": Template(
        subject='$whose goal "$goal_title" $when',
        text="""\
Hello $recipient_name,

$whose development goal "$goal_title" $when (due date: $due_on).

Update its progress, complete it, or agree a new date:
$plan_url

All your reminders are in your Upward inbox:
$inbox_url

This is an automated message from Upward for $tenant_name.
""",
        html=_GOAL_HTML,
    ),
}


# --- validation -------------------------------------------------------------------------------


def _allowed(kind: str, part: str) -> frozenset[str]:
    """The placeholders a part may use: pre-rendered lists only in the body they were built for
    (an HTML list in the text body would show tags; a text list in HTML would lose its lines)."""
    names = PLACEHOLDERS[kind]
    if part == "subject":
        return frozenset(n for n in names if not n.endswith(("_text", "_html")))
    if part == "text":
        return frozenset(n for n in names if not n.endswith("_html"))
    return frozenset(n for n in names if not n.endswith("_text"))


def _check_placeholders(kind: str, part: str, value: str, *, field: str) -> None:
    allowed = _allowed(kind, part)
    for match in string.Template.pattern.finditer(value):
        if match.group("escaped") is not None:
            continue
        name = match.group("named") or match.group("braced")
        if name is None:  # the `invalid` group: a `$` that starts nothing
            line = value.count("\n", 0, match.start()) + 1
            raise BadUserInput(
                f"a $ must start a placeholder such as $tenant_name (line {line}); "
                "write $$ for a literal dollar sign",
                field=field,
            )
        if name not in allowed:
            hint = ""
            if name in PLACEHOLDERS[kind]:
                hint = f"; ${name} is not available in the {part}"
            elif any(name.startswith(a) for a in allowed):
                hint = "; write ${name} when letters or digits follow a placeholder directly"
            raise BadUserInput(
                f"unknown placeholder ${name}{hint}; available: "
                + ", ".join(f"${n}" for n in sorted(allowed)),
                field=field,
            )


def validate(kind: str, template: Template, *, field: str = "input") -> None:
    """Refuse a template that could not render or would render something broken, naming the
    part (`input.subject`, `input.text`, `input.html`) so the client can point at it."""
    if kind not in PLACEHOLDERS:
        raise BadUserInput(
            f"unknown template kind {kind!r}; expected one of: {', '.join(TEMPLATE_KINDS)}",
            field=f"{field}.kind",
        )
    parts = (("subject", template.subject, MAX_SUBJECT), ("text", template.text, MAX_BODY))
    parts += (("html", template.html, MAX_BODY),)
    for part, value, limit in parts:
        sub = f"{field}.{part}"
        if not isinstance(value, str):
            raise BadUserInput("must be a string", field=sub)
        if "\x00" in value:
            raise BadUserInput("must not contain NUL (\\u0000) characters", field=sub)
        if not value.strip():
            raise BadUserInput("must not be empty", field=sub)
        if len(value) > limit:
            raise BadUserInput(f"must be at most {limit:,} characters", field=sub)
        if part == "subject" and any(c in value for c in "\r\n"):
            raise BadUserInput("must be a single line", field=sub)
        _check_placeholders(kind, part, value, field=sub)


# --- rendering --------------------------------------------------------------------------------


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _one_line(value: Any) -> str:
    """Whitespace runs (newlines, tabs, Unicode line separators) become one space."""
    return " ".join(_str(value).split())


def render(kind: str, template: Template, context: Mapping[str, Any]) -> Rendered:
    """Fill a (validated) template. The context must supply every placeholder of the kind, so a
    forgotten value fails loudly in the code's tests instead of mailing a blank."""
    if kind not in PLACEHOLDERS:
        raise ValueError(f"unknown template kind {kind!r}")
    missing = PLACEHOLDERS[kind] - context.keys()
    if missing:
        raise ValueError(f"{kind} context lacks {', '.join(sorted(missing))}")
    plain = {k: _str(v) for k, v in context.items()}
    escaped = {
        k: (_str(v) if k.endswith("_html") else html.escape(_str(v), quote=True))
        for k, v in context.items()
    }
    subject_values = {k: _one_line(v) for k, v in context.items()}
    subject = _one_line(string.Template(template.subject).substitute(subject_values))
    return Rendered(
        subject=subject,
        text=string.Template(template.text).substitute(plain),
        html=string.Template(template.html).substitute(escaped),
    )


def render_default(kind: str, context: Mapping[str, Any]) -> Rendered:
    return render(kind, DEFAULTS[kind], context)


# --- values the code computes -----------------------------------------------------------------


def when_phrase(days_until: int) -> str:
    """The `$when` value: how the expiry date relates to the day the message goes out."""
    if days_until > 1:
        return f"expires in {days_until} days"
    if days_until == 1:
        return "expires tomorrow"
    if days_until == 0:
        return "expires today"
    if days_until == -1:
        return "expired yesterday"
    return f"expired {-days_until} days ago"


def due_phrase(days_late: int) -> str:
    """A goal's `$when`: how long ago it was due (1 or more days)."""
    return "was due yesterday" if days_late == 1 else f"was due {days_late} days ago"


def soon_phrase(minutes: int) -> str:
    """A meeting's `$when`: how soon it starts, rounded to what a person would say."""
    if minutes < 90:
        return f"in {max(minutes, 1)} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    if hours < 36:
        return f"in {hours} hours"
    return f"in {round(minutes / 1440)} days"


def _item_when(item: Mapping[str, Any]) -> str:
    if item.get("when"):
        return _one_line(item["when"])
    if item.get("days_until") is not None:
        return when_phrase(int(item["days_until"]))
    return ""


def items_text(items: Iterable[Mapping[str, Any]]) -> str:
    """The digest's `$items_text`: one line per item (holder_name, credential_type, when or
    days_until, expires_on, url), the link indented below it."""
    lines: list[str] = []
    for item in items:
        line = f"- {_one_line(item.get('holder_name'))}: {_one_line(item.get('credential_type'))}"
        when = _item_when(item)
        if when:
            line += f" {when}"
        if item.get("expires_on"):
            line += f" ({_one_line(item['expires_on'])})"
        lines.append(line)
        if item.get("url"):
            lines.append(f"  {_one_line(item['url'])}")
    return "\n".join(lines)


def items_html(items: Iterable[Mapping[str, Any]]) -> str:
    """The digest's `$items_html`: a list built only from escaped values, safe to insert as is."""

    def esc(value: Any) -> str:
        return html.escape(_one_line(value), quote=True)

    rows: list[str] = []
    for item in items:
        row = f"<strong>{esc(item.get('holder_name'))}</strong>: {esc(item.get('credential_type'))}"
        when = _item_when(item)
        if when:
            row += f" {esc(when)}"
        if item.get("expires_on"):
            row += f" ({esc(item['expires_on'])})"
        if item.get("url"):
            row += f' &middot; <a href="{esc(item["url"])}">Open</a>'
        rows.append(f'<li style="margin:0 0 8px;">{row}</li>')
    if not rows:
        return ""
    return '<ul style="padding-left:20px;">\n' + "\n".join(rows) + "\n</ul>"
