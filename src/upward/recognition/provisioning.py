"""Manifest sections for recognition:

- `[[company_values]]`: matched by name (case-insensitive), set to what the file says on every
  apply (description, emoji, position, active).
- `[recognition_settings]`: the tenant's points rules, set on every apply.
- `[[points_allowances]]`: overrides per `job_level` or `employee`, set on every apply.
- `[[rewards]]`: the catalog, matched by name and created once (HR owns it afterwards: a later
  apply never resets a stock that redemptions moved).
- `[[milestone_settings]]`: a milestone kind's on/off, message and points, set on every apply.
- `[[kudos]]`: a history of recognition (demo data), each created once with its reactions,
  comments and points. A kudos is identified by its giver, receivers and message, so applying
  the file again adds nothing; its date is relative (`on = "today-12d"`). Points move through
  the ledger like any kudos (the history is trusted: allowances are not checked).
- `[[redemptions]]`: past and pending redemptions of the catalog (demo data), created once.

Runs as the owner inside `apply_manifest`'s transaction, with the tenant set.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from upward import clock
from upward.db import columns, fetch
from upward.recognition import ledger
from upward.recognition.kudos import count_on_boards, on_boards
from upward.recognition.models import (
    MILESTONE_KINDS,
    REACTIONS,
    REDEMPTION_STATUSES,
    CompanyValue,
)

VALUE_KEYS = {"name", "description", "emoji", "position", "active"}
SETTINGS_KEYS = {
    "monthly_allowance",
    "manager_award_budget",
    "max_points_per_kudos",
    "nudge_after_days",
}
ALLOWANCE_KEYS = {"job_level", "employee", "monthly_allowance", "award_budget"}
REWARD_KEYS = {"name", "description", "cost", "stock", "active"}
MILESTONE_KEYS = {"kind", "enabled", "message", "points"}
KUDOS_KEYS = {
    "giver",
    "receivers",
    "message",
    "values",
    "points",
    "visibility",
    "award",
    "on",
    "reactions",
    "comments",
}
COMMENT_KEYS = {"author", "body", "on"}
REDEMPTION_KEYS = {"employee", "reward", "status", "note", "on", "decided_by"}
# the owner bypasses RLS: every statement names the tenant (the one `apply_manifest` set)
_MINE = "tenant_id = current_setting('app.tenant_id')::uuid"
_IDS = uuid.UUID("5a1d0c3e-6c57-4a52-9f0a-6b2f4d1e8c70")  # namespace of manifest rows' ids


def validate_manifest(c: Any, data: dict[str, Any], emails: set[str]) -> dict[str, Any]:
    from upward.tenancy.manifest import _bool, _date, _int

    out: dict[str, Any] = {
        k: []
        for k in (
            "company_values",
            "recognition_settings",
            "points_allowances",
            "rewards",
            "milestone_settings",
            "kudos",
            "redemptions",
        )
    }

    def person(entry: str, d: dict[str, Any], key: str, *, required: bool = True) -> Any:
        who = d.get(key)
        if who is None and not required:
            return None
        if who not in emails:
            c.error(entry, f"{key!r} must be the email of an employee in this file")
            return None
        return who

    names: set[str] = set()
    for i, d in enumerate(c.tables(data, "company_values")):
        entry = f"company_values[{i}]"
        c.keys(entry, d, VALUE_KEYS)
        name = c.string(entry, d, "name", required=True, max_len=80)
        if name is not None:
            if name.lower() in names:
                c.error(entry, f"duplicate value name {name!r}")
            names.add(name.lower())
        active = d.get("active", True)
        if not isinstance(active, bool):
            c.error(entry, "'active' must be true or false")
        out["company_values"].append(
            {
                "name": name,
                "description": c.string(entry, d, "description", max_len=500),
                "emoji": c.string(entry, d, "emoji", max_len=40),
                "position": _int(c, entry, d, "position", 0, 1000) or 0,
                "active": active is not False,
            }
        )
    settings = data.get("recognition_settings")
    if settings is not None:
        if not isinstance(settings, dict):
            c.error("recognition_settings", "must be a table ([recognition_settings])")
        else:
            c.keys("recognition_settings", settings, SETTINGS_KEYS)
            values = {
                k: _int(c, "recognition_settings", settings, k, 0, ledger.MAX_POINTS)
                for k in SETTINGS_KEYS - {"nudge_after_days"}
            }
            values["nudge_after_days"] = _int(
                c, "recognition_settings", settings, "nudge_after_days", 1, 365
            )
            out["recognition_settings"].append(
                {k: v if v is not None else getattr(ledger.DEFAULTS, k) for k, v in values.items()}
            )
    levels: set[str] = set()
    people: set[str] = set()
    for i, d in enumerate(c.tables(data, "points_allowances")):
        entry = f"points_allowances[{i}]"
        c.keys(entry, d, ALLOWANCE_KEYS)
        level = c.string(entry, d, "job_level", max_len=80)
        who = person(entry, d, "employee", required=False)
        if (level is None) == (d.get("employee") is None):
            c.error(entry, "give exactly one of 'job_level' and 'employee'")
        if (level is not None and level in levels) or (who is not None and who in people):
            c.error(entry, "a job level or person has one override")
        levels.add(level or "")
        people.add(who or "")
        out["points_allowances"].append(
            {
                "job_level": level,
                "employee": who,
                "monthly_allowance": _int(c, entry, d, "monthly_allowance", 0, ledger.MAX_POINTS),
                "award_budget": _int(c, entry, d, "award_budget", 0, ledger.MAX_POINTS),
            }
        )
    rewards: set[str] = set()
    for i, d in enumerate(c.tables(data, "rewards")):
        entry = f"rewards[{i}]"
        c.keys(entry, d, REWARD_KEYS)
        name = c.string(entry, d, "name", required=True, max_len=120)
        if name is not None:
            if name.lower() in rewards:
                c.error(entry, f"duplicate reward name {name!r}")
            rewards.add(name.lower())
        cost = _int(c, entry, d, "cost", 1, 10_000_000)
        if cost is None:
            c.error(entry, "'cost' is required (points)")
        out["rewards"].append(
            {
                "name": name,
                "description": c.string(entry, d, "description", max_len=1000),
                "cost": cost,
                "stock": _int(c, entry, d, "stock", 0, 1_000_000),
                "active": d.get("active", True) is not False,
            }
        )
    kinds: set[str] = set()
    for i, d in enumerate(c.tables(data, "milestone_settings")):
        entry = f"milestone_settings[{i}]"
        c.keys(entry, d, MILESTONE_KEYS)
        kind = d.get("kind")
        if kind not in MILESTONE_KINDS or kind in kinds:
            c.error(entry, f"'kind' must be one of {', '.join(MILESTONE_KINDS)}, once")
        kinds.add(kind)
        message = None
        if d.get("message") is not None and kind in MILESTONE_KINDS:
            from upward.errors import BadUserInput
            from upward.recognition.milestones import check_template

            if not isinstance(d["message"], str):
                c.error(entry, "'message' must be a string")
            else:
                try:
                    message = check_template(kind, d["message"], field="message")
                except BadUserInput as exc:
                    c.error(entry, f"'message': {exc}")
        out["milestone_settings"].append(
            {
                "kind": kind,
                "enabled": d.get("enabled", True) is not False,
                "message": message,
                "points": _int(c, entry, d, "points", 0, ledger.MAX_POINTS),
            }
        )
    for i, d in enumerate(c.tables(data, "kudos")):
        entry = f"kudos[{i}]"
        c.keys(entry, d, KUDOS_KEYS)
        giver = person(entry, d, "giver")
        receivers = d.get("receivers")
        if (
            not isinstance(receivers, list)
            or not 1 <= len(receivers) <= 20
            or len(set(receivers)) != len(receivers)
            or not all(r in emails and r != giver for r in receivers)
        ):
            c.error(entry, "'receivers' must be 1 to 20 distinct emails of others in this file")
            receivers = []
        values = d.get("values", [])
        if not isinstance(values, list) or not all(
            isinstance(v, str) and v.lower() in names for v in values
        ):
            c.error(entry, "'values' must name company values declared in this file")
            values = []
        visibility = d.get("visibility", "public")
        if visibility not in ("public", "private"):
            c.error(entry, "'visibility' must be 'public' or 'private'")
        reactions: list[tuple[str, str]] = []
        raw = d.get("reactions", {})
        if not isinstance(raw, dict):
            c.error(entry, "'reactions' must be a table of reaction = [emails]")
            raw = {}
        for reaction, who in raw.items():
            if (
                reaction not in REACTIONS
                or not isinstance(who, list)
                or not all(w in emails for w in who)
            ):
                c.error(
                    entry,
                    f"reactions: {reaction!r} must be one of {', '.join(REACTIONS)} "
                    "with a list of emails in this file",
                )
                continue
            reactions += [(reaction, w) for w in who]
        comments = []
        for j, cm in enumerate(d.get("comments", [])):
            ce = f"{entry}.comments[{j}]"
            if not isinstance(cm, dict):
                c.error(ce, "must be a table")
                continue
            c.keys(ce, cm, COMMENT_KEYS)
            comments.append(
                {
                    "author": person(ce, cm, "author"),
                    "body": c.string(ce, cm, "body", required=True, max_len=1000),
                }
            )
        on = _date(c, entry, d, "on", relative=True)
        out["kudos"].append(
            {
                "giver": giver,
                "receivers": receivers,
                "message": c.string(entry, d, "message", required=True, max_len=2000),
                "values": values,
                "points": _int(c, entry, d, "points", 0, ledger.MAX_POINTS) or 0,
                "visibility": visibility,
                "award": _bool(c, entry, d, "award"),
                "on": on if on is not None else 0,
                "reactions": reactions,
                "comments": comments,
            }
        )
    for i, d in enumerate(c.tables(data, "redemptions")):
        entry = f"redemptions[{i}]"
        c.keys(entry, d, REDEMPTION_KEYS)
        reward = c.string(entry, d, "reward", required=True, max_len=120)
        if reward is not None and reward.lower() not in rewards:
            c.error(entry, f"reward {reward!r} is not declared in this file")
        status = d.get("status", "requested")
        if status not in REDEMPTION_STATUSES:
            c.error(entry, f"'status' must be one of {', '.join(REDEMPTION_STATUSES)}")
        on = _date(c, entry, d, "on", relative=True)
        out["redemptions"].append(
            {
                "employee": person(entry, d, "employee"),
                "reward": reward,
                "status": status,
                "note": c.string(entry, d, "note", max_len=1000),
                "decided_by": person(entry, d, "decided_by", required=False),
                "on": on if on is not None else 0,
            }
        )
    return out


def _at(on: Any, tz: str, minute: int) -> datetime:
    """10:00 local (plus `minute`) on a manifest date (a date, or days from today), and never
    later than now (a kudos "on today" applied at 8:00 is not from the future)."""
    day = on if not isinstance(on, int) else clock.today(tz) + timedelta(days=on)
    at = datetime.combine(day, time(10), tzinfo=clock.zone(tz)) + timedelta(minutes=minute)
    return min(at, clock.now() - timedelta(seconds=minute))


def _problem(path: str, entry: str, message: str) -> Exception:
    from upward.tenancy.manifest import ManifestError, ManifestProblem

    return ManifestError([ManifestProblem(path, entry, message)])


async def apply_manifest(
    session: Any,
    sections: dict[str, Any],
    *,
    tenant_id: uuid.UUID,
    result: Any,
    path: str = "<manifest>",
) -> None:
    """Apply the sections; a redemption the data cannot carry (out of stock, more than the
    person's balance) fails the whole apply with a ManifestError naming it."""
    if not any(sections.values()):
        return
    tz = (await fetch(session, "select timezone from tenants where id = $1", tenant_id))[0][0]
    rows = await fetch(session, f"select email, id from employees where {_MINE}")  # noqa: S608
    people = {r["email"]: r["id"] for r in rows}
    await _values(session, sections["company_values"], result)
    for s in sections["recognition_settings"]:
        rows = await fetch(
            session,
            "insert into recognition_settings (tenant_id, monthly_allowance, manager_award_budget,"
            " max_points_per_kudos, nudge_after_days) values ($1, $2, $3, $4, $5) "
            "on conflict (tenant_id) do update set monthly_allowance = excluded.monthly_allowance,"
            " manager_award_budget = excluded.manager_award_budget, max_points_per_kudos = "
            "excluded.max_points_per_kudos, nudge_after_days = excluded.nudge_after_days, "
            "updated_at = now() where (recognition_settings.monthly_allowance, "
            "recognition_settings.manager_award_budget, recognition_settings.max_points_per_kudos,"
            " recognition_settings.nudge_after_days) is distinct from (excluded.monthly_allowance,"
            " excluded.manager_award_budget, excluded.max_points_per_kudos, "
            "excluded.nudge_after_days) returning xmax = 0 as created",
            tenant_id,
            s["monthly_allowance"],
            s["manager_award_budget"],
            s["max_points_per_kudos"],
            s["nudge_after_days"],
        )
        if rows:
            result.count("created" if rows[0]["created"] else "updated", "recognition_settings")
    for a in sections["points_allowances"]:
        subject = "job_level" if a["job_level"] is not None else "employee_id"
        key = a["job_level"] if a["job_level"] is not None else people[a["employee"]]
        found = await fetch(
            session,
            f"select id, monthly_allowance, award_budget from points_allowances "  # noqa: S608
            f"where {subject} = $1 and {_MINE}",
            key,
        )
        wanted = (a["monthly_allowance"], a["award_budget"])
        if not found:
            await fetch(
                session,
                f"insert into points_allowances (tenant_id, {subject}, monthly_allowance, "  # noqa: S608
                "award_budget) values ($1, $2, $3, $4)",
                tenant_id,
                key,
                *wanted,
            )
            result.count("created", "points_allowances")
        elif (found[0]["monthly_allowance"], found[0]["award_budget"]) != wanted:
            await fetch(
                session,
                "update points_allowances set monthly_allowance = $2, award_budget = $3, "
                "updated_at = now() where id = $1",
                found[0]["id"],
                *wanted,
            )
            result.count("updated", "points_allowances")
    for r in sections["rewards"]:
        rows = await fetch(
            session,
            "insert into rewards (tenant_id, name, description, cost, stock, active) "
            "select $1, $2, $3, $4, $5, $6 where not exists "
            "(select 1 from rewards where lower(name) = lower($2) and tenant_id = $1) returning id",
            tenant_id,
            r["name"],
            r["description"],
            r["cost"],
            r["stock"],
            r["active"],
        )
        if rows:
            result.count("created", "rewards")
    for m in sections["milestone_settings"]:
        from upward.recognition.milestones import DEFAULTS

        default = DEFAULTS[m["kind"]]
        message = m["message"] or default.message
        points = m["points"] if m["points"] is not None else default.points
        rows = await fetch(
            session,
            "insert into milestone_settings (tenant_id, kind, enabled, message, points) "
            "values ($1, $2, $3, $4, $5) on conflict (tenant_id, kind) do update set "
            "enabled = excluded.enabled, message = excluded.message, points = excluded.points, "
            "updated_at = now() where (milestone_settings.enabled, milestone_settings.message, "
            "milestone_settings.points) is distinct from (excluded.enabled, excluded.message, "
            "excluded.points) returning xmax = 0 as created",
            tenant_id,
            m["kind"],
            m["enabled"],
            message,
            points,
        )
        if rows:
            result.count("created" if rows[0]["created"] else "updated", "milestone_settings")
    await _kudos(
        session, sections["kudos"], tenant_id=tenant_id, tz=tz, people=people, result=result
    )
    await _redemptions(
        session,
        sections["redemptions"],
        path=path,
        tenant_id=tenant_id,
        tz=tz,
        people=people,
        result=result,
    )


async def _values(session: Any, values: list[dict[str, Any]], result: Any) -> None:
    rows = await fetch(session, f"select {columns(CompanyValue)} from company_values where {_MINE}")  # noqa: S608
    existing = {r["name"].lower(): r for r in rows}
    for v in values:
        row = existing.get(v["name"].lower())
        fields = (v["name"], v["description"], v["emoji"], v["position"], v["active"])
        if row is None:
            await fetch(
                session,
                "insert into company_values (tenant_id, name, description, emoji, position, "
                "active) values (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5)",
                *fields,
            )
            result.count("created", "company_values")
        elif (
            row["name"],
            row["description"],
            row["emoji"],
            row["position"],
            row["active"],
        ) != fields:
            await fetch(
                session,
                "update company_values set name = $2, description = $3, emoji = $4, "
                "position = $5, active = $6, updated_at = now() where id = $1",
                row["id"],
                *fields,
            )
            result.count("updated", "company_values")


async def _kudos(
    session: Any,
    history: list[dict[str, Any]],
    *,
    tenant_id: uuid.UUID,
    tz: str,
    people: dict[str, uuid.UUID],
    result: Any,
) -> None:
    if not history:
        return
    values = {
        r["name"].lower(): r["id"]
        for r in await fetch(session, f"select id, name from company_values where {_MINE}")  # noqa: S608
    }
    for i, k in enumerate(history):
        key = f"{tenant_id}:kudos:{k['giver']}:{','.join(sorted(k['receivers']))}:{k['message']}"
        kid = uuid.uuid5(_IDS, key)
        at = _at(k["on"], tz, i % 480)
        receivers = [people[r] for r in k["receivers"]]
        created = await fetch(
            session,
            "insert into kudos (tenant_id, id, kind, giver_id, message, visibility, points, "
            "created_at) values ($1, $2, $3, $4, $5, $6, $7, $8) "
            "on conflict (tenant_id, id) do nothing returning id",
            tenant_id,
            kid,
            "award" if k["award"] else "peer",
            people[k["giver"]],
            k["message"],
            k["visibility"],
            k["points"],
            at,
        )
        if not created:
            continue
        result.count("created", "kudos")
        await fetch(
            session,
            "insert into kudos_receivers (tenant_id, kudos_id, employee_id, created_at) "
            "select $1, $2, x, $4 from unnest($3::uuid[]) x",
            tenant_id,
            kid,
            receivers,
            at,
        )
        await fetch(
            session,
            "insert into kudos_values (tenant_id, kudos_id, value_id, created_at) "
            "select $1, $2, x, $4 from unnest($3::uuid[]) x",
            tenant_id,
            kid,
            [values[v.lower()] for v in k["values"]],
            at,
        )
        for j, (reaction, who) in enumerate(k["reactions"]):
            await fetch(
                session,
                "insert into kudos_reactions (tenant_id, kudos_id, employee_id, reaction, "
                "created_at) values ($1, $2, $3, $4, $5) on conflict do nothing",
                tenant_id,
                kid,
                people[who],
                reaction,
                at + timedelta(minutes=5 + j),
            )
        for j, cm in enumerate(k["comments"]):
            await fetch(
                session,
                "insert into kudos_comments (tenant_id, kudos_id, author_id, body, created_at) "
                "values ($1, $2, $3, $4, $5)",
                tenant_id,
                kid,
                people[cm["author"]],
                cm["body"],
                at + timedelta(minutes=30 + j),
            )
        row = {
            "kind": "award" if k["award"] else "peer",
            "visibility": k["visibility"],
            "hidden_at": None,
            "points": k["points"],
            "giver_id": people[k["giver"]],
            "created_at": at,
        }
        if on_boards(row):
            await count_on_boards(session, row, receivers, timezone=tz)
        if k["points"]:
            account = "award" if k["award"] else "allowance"
            await ledger.give(
                session,
                giver_id=people[k["giver"]],
                account=account,
                receiver_ids=receivers,
                points_each=k["points"],
                period=ledger.period_of(at, tz),
                kudos_id=kid,
                at=at,
            )


async def _redemptions(
    session: Any,
    items: list[dict[str, Any]],
    *,
    path: str,
    tenant_id: uuid.UUID,
    tz: str,
    people: dict[str, uuid.UUID],
    result: Any,
) -> None:
    if not items:
        return
    rows = await fetch(session, f"select id, name, cost from rewards where {_MINE}")  # noqa: S608
    rewards = {r["name"].lower(): r for r in rows}
    for i, r in enumerate(items):
        reward = rewards[r["reward"].lower()]
        rid = uuid.uuid5(_IDS, f"{tenant_id}:redemption:{r['employee']}:{r['reward']}:{i}")
        at = _at(r["on"], tz, i)
        decided = r["status"] != "requested"
        created = await fetch(
            session,
            "insert into redemptions (tenant_id, id, reward_id, employee_id, cost, status, note, "
            "decided_by, decided_at, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
            "$10) on conflict (tenant_id, id) do nothing returning id",
            tenant_id,
            rid,
            reward["id"],
            people[r["employee"]],
            reward["cost"],
            r["status"],
            r["note"],
            people.get(r["decided_by"]) if decided and r["decided_by"] else None,
            at + timedelta(hours=2) if decided else None,
            at,
        )
        if not created:
            continue
        result.count("created", "redemptions")
        entry = f"redemptions[{i}] ({r['employee']}, {r['reward']})"
        if r["status"] in ("requested", "approved"):
            taken = await fetch(
                session,
                "update rewards set stock = stock - 1 where id = $1 "
                "and (stock is null or stock > 0) returning id",
                reward["id"],
            )
            if not taken:
                raise _problem(path, entry, "the reward is out of stock")
        if r["status"] == "approved":
            employee = people[r["employee"]]
            balance = (await ledger.balances(session, [employee]))[employee]
            if balance < reward["cost"]:
                raise _problem(
                    path,
                    entry,
                    f"the balance ({balance} points from the kudos so far) is less than the "
                    f"cost ({reward['cost']})",
                )
            await ledger.post(
                session,
                kind="redemption",
                legs=[
                    ledger.Leg("received", people[r["employee"]], -reward["cost"]),
                    ledger.Leg("rewards", None, reward["cost"]),
                ],
                period=ledger.period_of(at + timedelta(hours=2), tz),
                redemption_id=rid,
                actor_id=people.get(r["decided_by"]) if r["decided_by"] else None,
                at=at + timedelta(hours=2),
            )
