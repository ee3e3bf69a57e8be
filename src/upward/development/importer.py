"""Import a skills taxonomy from CSV: per-row results, a dry run that writes nothing, and a
real run in the caller's transaction (every valid row is written; rows with errors are not).

Columns (header row required, any order, names case-insensitive):
  name           required; the match key (case-insensitive): an existing skill is updated
  category       required for a new skill; empty on an existing one keeps its category
  description    optional; empty keeps the current one
  aliases        optional, separated by `;` (or `|`); added to the skill's aliases
  external_code  optional: `scheme:code` (`onet:2.A.1.a`) or an ESCO skill URI
                 (`http://data.europa.eu/esco/skill/...`, stored as scheme `esco`)
  parent         optional: the name of an existing skill or of one on an earlier row

Running the same file twice changes nothing the second time (every row `unchanged`).
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from upward import clock
from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.credentials.service import EXTERNAL_ID_SCHEME
from upward.db import Executor
from upward.development.models import Skill
from upward.errors import BadUserInput
from upward.settings import get_settings

t_skill = Skill.__table__

COLUMNS = ("name", "category", "description", "aliases", "external_code", "parent")
MAX_CSV_CHARS = 4_000_000
ESCO_PREFIXES = ("http://data.europa.eu/esco/", "https://data.europa.eu/esco/")


@dataclass(slots=True)
class RowResult:
    row: int
    outcome: str  # created | updated | unchanged | error
    skill_id: uuid.UUID | None = None
    name: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ImportResult:
    dry_run: bool
    rows: list[RowResult]

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)


def _read(text: str) -> list[dict[str, str]]:
    if "\x00" in text:
        raise BadUserInput("the CSV contains a NUL character", field="csv")
    if len(text) > MAX_CSV_CHARS:
        raise BadUserInput(f"the CSV is over {MAX_CSV_CHARS:,} characters", field="csv")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise BadUserInput("the CSV is empty: it needs a header row", field="csv") from None
    names = [h.strip().lower() for h in header]
    unknown = sorted(set(names) - set(COLUMNS) - {""})
    if unknown:
        raise BadUserInput(
            f"unknown column(s) {', '.join(unknown)} (allowed: {', '.join(COLUMNS)})", field="csv"
        )
    if "name" not in names:
        raise BadUserInput("the header needs a `name` column", field="csv")
    if len(set(names)) != len(names):
        raise BadUserInput("a column appears twice in the header", field="csv")
    rows = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            rows.append(
                {n: (cells[i].strip() if i < len(cells) else "") for i, n in enumerate(names)}
            )
    except csv.Error as exc:
        raise BadUserInput(f"the CSV cannot be read: {exc}", field="csv") from None
    limit = get_settings().import_max_rows
    if len(rows) > limit:
        raise BadUserInput(f"at most {limit:,} rows per import", field="csv")
    return rows


def _code(value: str) -> tuple[str, str] | str:
    """(scheme, code), or an error message."""
    if value.startswith(ESCO_PREFIXES):
        return ("esco", value)
    scheme, sep, code = value.partition(":")
    if not sep or not code.strip():
        return "external_code must be `scheme:code` (e.g. onet:2.A.1.a) or an ESCO skill URI"
    scheme = scheme.strip().lower()
    if not EXTERNAL_ID_SCHEME.match(scheme):
        return (
            f"external_code scheme {scheme!r} must be 1-32 lowercase letters, digits, "
            "'_', '.' or '-'"
        )
    if len(code) > 300:
        return "external_code is over 300 characters"
    return (scheme, code.strip())


async def import_skills(
    session: Executor, principal: Principal, text: str, *, dry_run: bool = False
) -> ImportResult:
    principal.require_hr("importing skills")
    data = _read(text)
    current = {
        r.name.lower(): {
            "id": r.id,
            "name": r.name,
            "category": r.category,
            "description": r.description,
            "aliases": list(r.aliases or []),
            "external_ids": dict(r.external_ids or {}),
            "parent_id": r.parent_id,
            "status": r.status,
        }
        for r in (await session.execute(sa.select(t_skill))).all()
    }
    parents = {v["id"]: v["parent_id"] for v in current.values()}
    results: list[RowResult] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for i, raw in enumerate(data, start=1):
        result = RowResult(row=i, outcome="error", name=raw.get("name") or None)
        results.append(result)
        errors = result.errors
        name = raw.get("name", "")
        if not name or len(name) > 200:
            errors.append("name is required (at most 200 characters)")
            continue
        existing = current.get(name.lower())
        category = raw.get("category", "")
        if len(category) > 100:
            errors.append("category is over 100 characters")
        if not category and existing is None:
            errors.append("category is required for a new skill")
        description = raw.get("description", "")
        if len(description) > 2000:
            errors.append("description is over 2,000 characters")
        aliases = [
            a.strip() for a in raw.get("aliases", "").replace("|", ";").split(";") if a.strip()
        ]
        if any(len(a) > 200 for a in aliases):
            errors.append("an alias is over 200 characters")
        code: tuple[str, str] | None = None
        if raw.get("external_code"):
            parsed = _code(raw["external_code"])
            if isinstance(parsed, str):
                errors.append(parsed)
            else:
                code = parsed
        parent_id = existing["parent_id"] if existing else None
        parent_name = raw.get("parent", "")
        if parent_name:
            parent = current.get(parent_name.lower())
            if parent is None:
                errors.append(f"parent {parent_name!r} is not a skill (nor on an earlier row)")
            elif parent["name"].lower() == name.lower():
                errors.append("a skill cannot be its own parent")
            else:
                parent_id = parent["id"]
                if existing is not None and _under(parents, parent_id, existing["id"]):
                    errors.append(f"{parent_name!r} is under {name!r}: that would be a cycle")
        if errors:
            continue
        if existing is None:
            new = {
                "id": uuid.uuid4(),
                "name": name,
                "category": category,
                "description": description or None,
                "aliases": _merge([], aliases, name),
                "external_ids": dict([code]) if code else {},
                "parent_id": parent_id,
                "status": "active",
            }
            current[name.lower()] = new
            parents[new["id"]] = parent_id
            inserts.append(new)
            result.outcome, result.skill_id = "created", new["id"]
            continue
        after = {
            **existing,
            "category": category or existing["category"],
            "description": description or existing["description"],
            "aliases": _merge(existing["aliases"], aliases, existing["name"]),
            "external_ids": {**existing["external_ids"], **(dict([code]) if code else {})},
            "parent_id": parent_id,
        }
        result.skill_id = existing["id"]
        if after == existing:
            result.outcome = "unchanged"
            continue
        result.outcome = "updated"
        current[name.lower()] = after
        parents[existing["id"]] = parent_id
        updates.append(after)
    if not dry_run and (inserts or updates):
        await _write(session, principal, inserts, updates)
        await audit.record(
            session,
            principal,
            action="skill.import",
            target_type="Tenant",
            target_id=principal.tenant_id,
            changes={"created": len(inserts), "updated": len(updates), "rows": len(results)},
        )
    return ImportResult(dry_run=dry_run, rows=results)


def _merge(have: list[str], more: list[str], name: str) -> list[str]:
    seen = {a.lower() for a in have} | {name.lower()}
    out = list(have)
    for a in more:
        if a.lower() not in seen:
            seen.add(a.lower())
            out.append(a)
    return out


def _under(parents: dict[Any, Any], start: Any, target: Any) -> bool:
    """Whether `target` is `start` or one of its ancestors."""
    seen: set[Any] = set()
    node = start
    while node is not None and node not in seen:
        if node == target:
            return True
        seen.add(node)
        node = parents.get(node)
    return False


async def _write(
    session: Executor,
    principal: Principal,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
) -> None:
    now = clock.now()
    if inserts:  # in file order: a parent is inserted before the rows that name it
        await session.execute(
            sa.insert(t_skill),
            [
                {
                    "tenant_id": principal.tenant_id,
                    **{k: v for k, v in row.items() if k != "status"},
                    "created_at": now,
                    "updated_at": now,
                }
                for row in inserts
            ],
        )
    for row in updates:
        await session.execute(
            sa.update(t_skill)
            .where(t_skill.c.id == row["id"])
            .values(
                category=row["category"],
                description=row["description"],
                aliases=row["aliases"],
                external_ids=row["external_ids"],
                parent_id=row["parent_id"],
                updated_at=now,
            )
        )
