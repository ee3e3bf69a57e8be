"""The scopes an API key can be given: one list, per domain and verb.

A `:write` scope includes the `:read` scope of its domain. Users (bearer JWTs) are not limited by
scopes, only by their roles; a key is a service principal of its tenant limited to its scopes.
`docs/partners.md` lists the same scopes (a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Iterable

SCOPES: dict[str, str] = {
    "people:read": "employees, departments, locations, the org chart",
    "people:write": "create, update, move and offboard employees; departments and locations; "
    "bulk sync (upsertEmployees)",
    "credentials:read": "credential types, requirements, credentials, evidence, compliance",
    "credentials:write": "record, verify and revoke credentials; types, requirements, imports",
    "reminders:read": "reminder policies, notification templates, deliveries",
    "reminders:write": "reminder policies and templates; retry deliveries",
    "notifications:read": "notification inboxes (yours or, for a key, anyone's) and their live "
    "updates",
    "notifications:write": "mark notifications read; acknowledge and snooze credential reminders",
    "development:read": "skills, career tracks, ladders, development plans, check-ins, "
    "feedback, mentorship, readiness",
    "development:write": "change skills, tracks, plans, check-ins, feedback and mentorship",
    "mobility:read": "postings, applications, matches, mobility preferences",
    "mobility:write": "create and change postings and applications",
    "recognition:read": "kudos feed, values, points, rewards, milestones, insights",
    "recognition:write": "give kudos, manage values, rewards, redemptions and milestones",
    "webhooks:manage": "webhook endpoints: create, rotate, test, delete; their deliveries",
    "audit:read": "the audit log",
    "scim": "the SCIM 2.0 provisioning endpoints (/scim/v2)",
}

# Fields a key can never use (managing keys, what only a signed-in person has)
USER_ONLY = "user"


def expand(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes a key has, with the `:read` each `:write` implies."""
    out = set(scopes)
    for scope in list(out):
        domain, _, verb = scope.partition(":")
        if verb == "write":
            out.add(f"{domain}:read")
    return frozenset(out)


def unknown(scopes: Iterable[str]) -> list[str]:
    return sorted(s for s in set(scopes) if s not in SCOPES)
