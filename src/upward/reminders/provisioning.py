"""Manifest sections for notifications: reminder policies, webhook endpoints, templates and
people's notification preferences.

Validation reuses the rules the API applies (steps, window, templates, URLs and event types),
reported as manifest problems. Applying runs as the owner inside `apply_manifest`'s transaction,
so every statement filters by the tenant explicitly. Idempotent: policies match by credential
type (none: the tenant default), endpoints by URL (a new endpoint gets a generated secret; a
later apply never changes it), templates by kind, preferences by employee.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from upward import clock
from upward.errors import BadUserInput
from upward.integrations import webhooks
from upward.integrations.models import WebhookEndpoint
from upward.reminders import templates
from upward.reminders.models import NotificationPreference, NotificationTemplate, ReminderPolicy
from upward.reminders.policies import step_to_json, validate_steps, validate_window

t_policy = ReminderPolicy.__table__
t_endpoint = WebhookEndpoint.__table__
t_template = NotificationTemplate.__table__
t_pref = NotificationPreference.__table__

POLICY_KEYS = {
    "name",
    "credential_type",
    "steps",
    "watchers",
    "window_start_hour",
    "window_end_hour",
    "send_on_weekends",
}
STEP_KEYS = {"offset_days", "recipients", "channels", "mandatory", "immediate"}


def validate_sections(
    c: Any, data: dict[str, Any], emails: set[str], type_names: set[str]
) -> dict[str, list[dict[str, Any]]]:
    """Check the notification sections of a manifest; `c` is the manifest's checker."""
    from upward.integrations.service import check_event_types
    from upward.settings import get_settings

    out: dict[str, list[dict[str, Any]]] = {
        "reminder_policies": [],
        "webhook_endpoints": [],
        "notification_templates": [],
        "notification_preferences": [],
    }
    seen_types: set[str | None] = set()
    for i, d in enumerate(c.tables(data, "reminder_policies")):
        entry = f"reminder_policies[{i}]"
        c.keys(entry, d, POLICY_KEYS)
        name = c.string(entry, d, "name", required=True)
        ctype = c.string(entry, d, "credential_type")
        if ctype is not None and ctype not in type_names:
            c.error(entry, f"credential_type {ctype!r} is not declared in this manifest")
        if ctype in seen_types:
            c.error(entry, f"a second policy for {ctype or 'the tenant default'}")
        seen_types.add(ctype)
        raw_steps = d.get("steps")
        steps: list[Any] = []
        if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
            c.error(entry, "'steps' must be an array of tables ([[reminder_policies.steps]])")
        else:
            for j, s in enumerate(raw_steps):
                c.keys(f"{entry}.steps[{j}]", s, STEP_KEYS)
            try:
                steps = validate_steps(raw_steps, field="steps")
            except BadUserInput as exc:
                c.error(entry, f"{exc.field}: {exc.message}")
        start = d.get("window_start_hour", 9)
        end = d.get("window_end_hour", 18)
        try:
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
                raise BadUserInput("window hours must be integers", field="window_start_hour")
            validate_window(start, end, field="window")
        except BadUserInput as exc:
            c.error(entry, exc.message)
        watchers = d.get("watchers", [])
        if not isinstance(watchers, list) or any(w not in emails for w in watchers):
            c.error(entry, "'watchers' must list emails of employees in this manifest")
            watchers = []
        weekends = d.get("send_on_weekends", False)
        if not isinstance(weekends, bool):
            c.error(entry, "'send_on_weekends' must be true or false")
        out["reminder_policies"].append(
            {
                "name": name,
                "credential_type": ctype,
                "steps": [step_to_json(s) for s in steps],
                "watchers": watchers,
                "window_start_hour": start,
                "window_end_hour": end,
                "send_on_weekends": bool(weekends),
            }
        )
    allow_private = get_settings().webhook_allow_private
    for i, d in enumerate(c.tables(data, "webhook_endpoints")):
        entry = f"webhook_endpoints[{i}]"
        c.keys(entry, d, {"url", "event_types", "description", "active"})
        url = c.string(entry, d, "url", required=True, max_len=2000)
        try:
            url = webhooks.check_url_syntax(url, allow_private=allow_private) if url else None
        except webhooks.UnsafeTarget as exc:
            c.error(entry, f"url: {exc}")
        types = d.get("event_types", ["*"])
        try:
            types = check_event_types(list(types), field="event_types")
        except (BadUserInput, TypeError) as exc:
            c.error(entry, getattr(exc, "message", str(exc)))
        active = d.get("active", True)
        if not isinstance(active, bool):
            c.error(entry, "'active' must be true or false")
        out["webhook_endpoints"].append(
            {
                "url": url,
                "event_types": types,
                "description": c.string(entry, d, "description", max_len=500),
                "active": bool(active),
            }
        )
    for i, d in enumerate(c.tables(data, "notification_templates")):
        entry = f"notification_templates[{i}]"
        c.keys(entry, d, {"kind", "subject", "text", "html"})
        kind = d.get("kind")
        tpl = templates.Template(
            subject=str(d.get("subject", "")),
            text=str(d.get("text", "")),
            html=str(d.get("html", "")),
        )
        try:
            templates.validate(str(kind), tpl, field="template")
        except BadUserInput as exc:
            c.error(entry, f"{exc.field}: {exc.message}")
        out["notification_templates"].append({"kind": kind, "template": tpl})
    for i, d in enumerate(c.tables(data, "notification_preferences")):
        entry = f"notification_preferences[{i}]"
        c.keys(entry, d, {"employee", "email_enabled"})
        who = d.get("employee")
        if who not in emails:
            c.error(entry, "'employee' must be the email of an employee in this manifest")
        enabled = d.get("email_enabled", True)
        if not isinstance(enabled, bool):
            c.error(entry, "'email_enabled' must be true or false")
        out["notification_preferences"].append({"employee": who, "email_enabled": bool(enabled)})
    return out


async def apply_notifications(
    session: AsyncSession,
    sections: dict[str, list[dict[str, Any]]],
    *,
    tenant_id: uuid.UUID,
    emp_ids: dict[str, uuid.UUID],
    result: Any,
) -> None:
    now = clock.now()
    type_ids = {
        r.name: r.id
        for r in (
            await session.execute(
                sa.text("select name, id from credential_types where tenant_id = :t"),
                {"t": tenant_id},
            )
        ).all()
    }
    for p in sections.get("reminder_policies", []):
        type_id = type_ids.get(p["credential_type"]) if p["credential_type"] else None
        values = {
            "name": p["name"],
            "steps": p["steps"],
            "watcher_ids": [emp_ids[w] for w in p["watchers"]],
            "window_start_hour": p["window_start_hour"],
            "window_end_hour": p["window_end_hour"],
            "send_on_weekends": p["send_on_weekends"],
        }
        cond = (
            t_policy.c.credential_type_id.is_(None)
            if type_id is None
            else t_policy.c.credential_type_id == type_id
        )
        row = (
            await session.execute(
                sa.select(t_policy).where(t_policy.c.tenant_id == tenant_id, cond)
            )
        ).first()
        if row is None:
            await session.execute(
                sa.insert(t_policy).values(
                    tenant_id=tenant_id, credential_type_id=type_id, **values
                )
            )
            result.count("created", "reminder_policies")
        elif any(getattr(row, k) != v for k, v in values.items()):
            await session.execute(
                sa.update(t_policy)
                .where(t_policy.c.tenant_id == tenant_id, t_policy.c.id == row.id)
                .values(**values, updated_at=now)
            )
            result.count("updated", "reminder_policies")
    for e in sections.get("webhook_endpoints", []):
        row = (
            await session.execute(
                sa.select(t_endpoint).where(
                    t_endpoint.c.tenant_id == tenant_id, t_endpoint.c.url == e["url"]
                )
            )
        ).first()
        values = {k: e[k] for k in ("event_types", "description", "active")}
        if e["active"]:  # enabled by the file: why it was disabled no longer holds
            values.update(disabled_reason=None, disabled_at=None)
        if row is None:
            await session.execute(
                sa.insert(t_endpoint).values(
                    tenant_id=tenant_id, url=e["url"], secret=webhooks.new_secret(), **values
                )
            )
            result.count("created", "webhook_endpoints")
        elif any(getattr(row, k) != v for k, v in values.items()):
            await session.execute(
                sa.update(t_endpoint)
                .where(t_endpoint.c.tenant_id == tenant_id, t_endpoint.c.id == row.id)
                .values(**values, updated_at=now)
            )
            result.count("updated", "webhook_endpoints")
    for t in sections.get("notification_templates", []):
        tpl = t["template"]
        values = {"subject": tpl.subject, "text_body": tpl.text, "html_body": tpl.html}
        row = (
            await session.execute(
                sa.select(t_template).where(
                    t_template.c.tenant_id == tenant_id, t_template.c.kind == t["kind"]
                )
            )
        ).first()
        if row is not None and all(getattr(row, k) == v for k, v in values.items()):
            continue
        stmt = pg_insert(t_template).values(tenant_id=tenant_id, kind=t["kind"], **values)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "kind"], set_={**values, "updated_at": now}
            )
        )
        result.count("created" if row is None else "updated", "notification_templates")
    for p in sections.get("notification_preferences", []):
        eid = emp_ids[p["employee"]]
        row = (
            await session.execute(
                sa.select(t_pref).where(
                    t_pref.c.tenant_id == tenant_id, t_pref.c.employee_id == eid
                )
            )
        ).first()
        if row is not None and row.email_enabled == p["email_enabled"]:
            continue
        stmt = pg_insert(t_pref).values(
            tenant_id=tenant_id, employee_id=eid, email_enabled=p["email_enabled"]
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "employee_id"],
                set_={"email_enabled": p["email_enabled"], "updated_at": now},
            )
        )
        result.count("created" if row is None else "updated", "notification_preferences")
