"""Bulk import of credentials from CSV: per-row results, a dry run that writes nothing, and a
real run in the caller's transaction (every valid row, or with `all_or_nothing` none if any
row fails). Set-based: a constant number of statements whatever the number of rows.

Columns (header row required, any order, names case-insensitive):
  email            the holder (an active employee of the tenant), or
  external_id      the holder's external id (the HRIS's); a row may give either or both
  credential_type  the type's name (case-insensitive) or one of its external ids as
                   `scheme:code` (e.g. `issuer:BLS-PROVIDER`)
  number           optional; with the holder and type, the upsert key
  issuer           optional (default: the type's issuing authority)
  issued_on        YYYY-MM-DD, not in the future
  expires_on       YYYY-MM-DD, optional (default: from the type's validity); `never` for none
  notes            optional

A row matches an existing credential of the same holder, type and number (or, without a
number, the same issue date) that is not revoked or rejected: the live one, else one in the
history that a renewal superseded. Equal fields make it `unchanged`, different ones `updated`;
on a match, an empty optional cell (issuer, expires_on, notes) keeps the current value.
Otherwise the row is `created`, and supersedes older credentials of its type like a renewal.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from upward.audit import service as audit
from upward.auth.principal import Principal
from upward.credentials import service
from upward.db import Executor, fetch, is_unique_violation
from upward.errors import BadUserInput, Conflict
from upward.reminders.outbox import events_recorded
from upward.settings import get_settings

COLUMNS = (
    "email",
    "external_id",
    "credential_type",
    "number",
    "issuer",
    "issued_on",
    "expires_on",
    "notes",
)
REQUIRED = ("credential_type", "issued_on")
MAX_CSV_CHARS = 4_000_000


@dataclass(slots=True)
class RowResult:
    row: int  # 1-based data row (the header is row 0)
    outcome: str  # created | updated | unchanged | error
    credential_id: uuid.UUID | None = None
    error: str | None = None
    column: str | None = None


@dataclass(slots=True)
class ImportResult:
    dry_run: bool
    all_or_nothing: bool
    rows: list[RowResult] = field(default_factory=list)
    written: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)


@dataclass(slots=True)
class _Row:
    n: int
    employee_id: uuid.UUID
    type_row: Any
    number: str | None
    issuer: str | None
    issued_on: date
    expires_on: date | None
    notes: str | None
    given: frozenset[str]  # optional columns with a value in the row

    def merged(self, cur: Any) -> tuple[Any, ...]:
        """(issued_on, expires_on, issuer, notes) as they will be on the matched credential."""
        return (
            self.issued_on,
            self.expires_on if "expires_on" in self.given else cur["expires_on"],
            self.issuer if "issuer" in self.given else cur["issuer"],
            self.notes if "notes" in self.given else cur["notes"],
        )


async def _guarded(session: Executor, sql: str, *args: Any) -> list[Any]:
    """A bulk write; a unique violation means a concurrent change to the same credentials
    (the duplicate checks above saw the state before it): CONFLICT, retry the import."""
    try:
        return await fetch(session, sql, *args)
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(
                "these credentials changed while importing; run the import again", field="csv"
            ) from exc
        raise


def _parse_date(value: str, *, column: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column} must be a date as YYYY-MM-DD, got {value!r}") from None


def _read(text: str) -> tuple[list[str], list[list[str]]]:
    if "\x00" in text:
        raise BadUserInput("the CSV must not contain NUL characters", field="csv")
    if len(text) > MAX_CSV_CHARS:
        raise BadUserInput(f"the CSV is larger than {MAX_CSV_CHARS} characters", field="csv")
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader, None)
        if header is None:
            raise BadUserInput("the CSV is empty: a header row is required", field="csv")
        names = [h.strip().lower() for h in header]
        unknown = [h for h in names if h not in COLUMNS]
        if unknown:
            raise BadUserInput(
                f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join(COLUMNS)}",
                field="csv",
            )
        missing = [c for c in REQUIRED if c not in names]
        if "email" not in names and "external_id" not in names:
            missing.insert(0, "email (or external_id)")
        if missing:
            raise BadUserInput(f"missing column(s) {', '.join(missing)}", field="csv")
        if len(set(names)) != len(names):
            raise BadUserInput("a column appears twice in the header", field="csv")
        limit = get_settings().import_max_rows
        rows = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            rows.append(cells)
            if len(rows) > limit:
                raise BadUserInput(f"at most {limit} rows per import", field="csv")
    except csv.Error as exc:
        raise BadUserInput(f"the CSV cannot be read: {exc}", field="csv") from None
    return names, rows


def _type_index(types: list[Any]) -> dict[str, Any]:
    index: dict[str, Any] = {}
    for t in types:
        index[t.name.lower()] = t
        for scheme, code in (t.external_ids or {}).items():
            index.setdefault(f"{scheme}:{code}".lower(), t)
    return index


async def import_credentials(
    session: Executor,
    principal: Principal,
    *,
    csv_text: str,
    dry_run: bool = True,
    all_or_nothing: bool = False,
) -> ImportResult:
    principal.require_hr("importing credentials")
    names, raw_rows = _read(csv_text)
    result = ImportResult(dry_run=dry_run, all_or_nothing=all_or_nothing)
    today = service.today(principal)

    emails, external = set(), set()
    for cells in raw_rows:
        rec = dict(zip(names, cells, strict=False))
        emails.add(rec.get("email", "").strip().lower())
        external.add(rec.get("external_id", "").strip())
    emp_rows = await fetch(
        session,
        "select email, external_id, id, status from employees "
        "where email = any($1::text[]) or external_id = any($2::text[])",
        list(emails - {""}),
        list(external - {""}),
    )
    employees = {r[0]: (r[2], r[3]) for r in emp_rows}
    by_external = {r[1]: (r[2], r[3]) for r in emp_rows if r[1] is not None}
    types = _type_index(list((await session.execute(sa.select(service.t_type))).all()))

    parsed: list[_Row] = []
    seen: dict[tuple[Any, ...], int] = {}
    for i, cells in enumerate(raw_rows, start=1):
        if len(cells) > len(names):
            result.rows.append(RowResult(i, "error", error="more cells than header columns"))
            continue
        rec = {k: (v.strip() if v is not None else "") for k, v in zip(names, cells, strict=False)}
        column = None
        try:
            column = "email"
            email, ext = rec.get("email", "").lower(), rec.get("external_id", "")
            if not email and not ext:
                raise ValueError("email or external_id is required")
            emp = employees.get(email) if email else None
            if email and (emp is None or emp[1] != "active"):
                raise ValueError(f"no active employee with email {email!r}")
            if ext:
                column = "external_id"
                by_ext = by_external.get(ext)
                if by_ext is None or by_ext[1] != "active":
                    raise ValueError(f"no active employee with external id {ext!r}")
                if emp is not None and emp[0] != by_ext[0]:
                    raise ValueError("email and external_id name different people")
                emp = by_ext
            column = "credential_type"
            tname = rec.get("credential_type", "")
            type_row = types.get(tname.lower()) if tname else None
            if type_row is None:
                raise ValueError(f"no credential type {tname!r} (by name or scheme:code)")
            if type_row.status != "active":
                raise ValueError(f"the credential type {type_row.name!r} is retired")
            column = "issued_on"
            if not rec.get("issued_on"):
                raise ValueError("issued_on is required")
            issued = _parse_date(rec["issued_on"], column="issued_on")
            column = "expires_on"
            exp_text = rec.get("expires_on", "")
            if exp_text.lower() == "never":
                expires: date | None = None
            elif exp_text:
                expires = _parse_date(exp_text, column="expires_on")
            else:
                expires = service.default_expiry(type_row, issued)
            column = None
            try:
                service.check_dates(issued_on=issued, expires_on=expires, today_=today, prefix="")
            except BadUserInput as exc:
                column = {"issuedOn": "issued_on", "expiresOn": "expires_on"}.get(
                    exc.field or "", exc.field
                )
                raise ValueError(f"{column}: {exc.message}") from None
            for col, limit in (("number", 100), ("issuer", 200), ("notes", 2000)):
                if len(rec.get(col, "")) > limit:
                    column = col
                    raise ValueError(f"{col} must be at most {limit} characters")
            if type_row.evidence_required:
                column = "credential_type"
                raise ValueError(
                    f"{type_row.name!r} needs evidence: submit it with createCredential"
                )
        except ValueError as exc:
            result.rows.append(RowResult(i, "error", error=str(exc), column=column))
            continue
        number = rec.get("number") or None
        key = (emp[0], type_row.id, number or issued.isoformat())
        if key in seen:
            result.rows.append(
                RowResult(
                    i,
                    "error",
                    error=f"duplicate of row {seen[key]} (same holder, type and number)",
                    column="number",
                )
            )
            continue
        seen[key] = i
        parsed.append(
            _Row(
                i,
                emp[0],
                type_row,
                number,
                rec.get("issuer") or type_row.issuing_authority,
                issued,
                expires,
                rec.get("notes") or None,
                frozenset(c for c in ("expires_on", "issuer", "notes") if rec.get(c)),
            )
        )

    # existing live credentials of the pairs in the file, in one statement
    pairs = list({(r.employee_id, r.type_row.id) for r in parsed})
    existing: dict[tuple[Any, ...], Any] = {}
    if pairs:
        rows = await fetch(
            session,
            "select c.id, c.employee_id, c.credential_type_id, c.number, c.issued_on, "
            "c.expires_on, c.issuer, c.notes from credentials c "
            "join unnest($1::uuid[], $2::uuid[]) as p(e, t) "
            "on c.employee_id = p.e and c.credential_type_id = p.t "
            "where c.revoked_at is null and c.verification <> 'rejected' "
            "order by (c.superseded_by_id is null) desc, c.issued_on desc",
            [e for e, _ in pairs],
            [t for _, t in pairs],
        )
        for r in rows:
            key = (
                r["employee_id"],
                r["credential_type_id"],
                r["number"] or r["issued_on"].isoformat(),
            )
            existing.setdefault(key, r)

    creates: list[_Row] = []
    updates: list[tuple[_Row, Any]] = []
    for r in parsed:
        cur = existing.get((r.employee_id, r.type_row.id, r.number or r.issued_on.isoformat()))
        if cur is None:
            creates.append(r)
            result.rows.append(RowResult(r.n, "created"))
        elif (cur["issued_on"], cur["expires_on"], cur["issuer"], cur["notes"]) == r.merged(cur):
            result.rows.append(RowResult(r.n, "unchanged", credential_id=cur["id"]))
        else:
            updates.append((r, cur))
            result.rows.append(RowResult(r.n, "updated", credential_id=cur["id"]))
    result.rows.sort(key=lambda x: x.row)

    failed = result.count("error")
    if dry_run or (all_or_nothing and failed) or not (creates or updates):
        return result

    by_row = {x.row: x for x in result.rows}
    if creates:
        verification = []
        for r in creates:
            if not r.type_row.verification_required:
                verification.append("not_required")
            elif r.employee_id == principal.employee_id:
                verification.append("pending")
            else:
                verification.append("verified")
        inserted = await _guarded(
            session,
            """
            insert into credentials (tenant_id, id, employee_id, credential_type_id, number,
                issuer, issued_on, expires_on, notes, source, verification, verified_by,
                verified_at, created_by)
            select $1, gen_random_uuid(), x.e, x.t, x.num, x.iss, x.io, x.eo, x.notes, 'import',
                   x.v, case when x.v = 'verified' then $2::uuid end,
                   case when x.v = 'verified' then now() end, $2::uuid
            from unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::date[], $8::date[],
                        $9::text[], $10::text[], $11::int[])
                 as x(e, t, num, iss, io, eo, notes, v, n)
            order by x.n
            returning id, employee_id, credential_type_id, number, issued_on
            """,
            principal.tenant_id,
            principal.employee_id,
            [r.employee_id for r in creates],
            [r.type_row.id for r in creates],
            [r.number for r in creates],
            [r.issuer for r in creates],
            [r.issued_on for r in creates],
            [r.expires_on for r in creates],
            [r.notes for r in creates],
            verification,
            [r.n for r in creates],
        )
        ids = {
            (
                x["employee_id"],
                x["credential_type_id"],
                x["number"] or x["issued_on"].isoformat(),
            ): x["id"]
            for x in inserted
        }
        for r in creates:
            by_row[r.n].credential_id = ids[
                (r.employee_id, r.type_row.id, r.number or r.issued_on.isoformat())
            ]
    if updates:
        await fetch(
            session,
            """
            update credentials c set issued_on = x.io, expires_on = x.eo, issuer = x.iss,
                   notes = x.notes, updated_at = now()
            from unnest($1::uuid[], $2::date[], $3::date[], $4::text[], $5::text[])
                 as x(id, io, eo, iss, notes)
            where c.id = x.id
            """,
            [cur["id"] for _, cur in updates],
            [r.merged(cur)[0] for r, cur in updates],
            [r.merged(cur)[1] for r, cur in updates],
            [r.merged(cur)[2] for r, cur in updates],
            [r.merged(cur)[3] for r, cur in updates],
        )
    created_ids = [by_row[r.n].credential_id for r in creates]
    updated_ids = [cur["id"] for _, cur in updates]
    # the outbox, set-based: credential.created (and .verified when the importer vouched for
    # it) per created row, credential.updated per updated row
    await service.record_created_events(session, created_ids, source="import")
    if updated_ids:
        await events_recorded(session)
        await fetch(
            session,
            service.credential_events_sql(
                "credential.updated",
                "'credential.updated:' || c.id || ':' "
                "|| (extract(epoch from c.updated_at) * 1000000)::bigint",
                extra="'source', 'import'",
                source="from credentials c where c.id = any($1::uuid[])",
            ),
            updated_ids,
        )
    # created rows may renew, and changed dates may reorder a person's history
    superseded = await service.reconcile(
        session,
        principal,
        [(r.employee_id, r.type_row.id) for r in creates]
        + [(r.employee_id, r.type_row.id) for r, _ in updates],
        audit_each=False,
    )
    await service.renewal_events_bulk(session, superseded)
    await audit.record(
        session,
        principal,
        action="credential.import",
        target_type="Tenant",
        target_id=principal.tenant_id,
        changes={
            "rows": len(result.rows),
            "created": len(created_ids),
            "updated": len(updated_ids),
            "unchanged": result.count("unchanged"),
            "errors": failed,
            "superseded": sum(len(v) for v in superseded.values()),
            "updated_ids": [str(i) for i in updated_ids[:1000]],
        },
    )
    result.written = True
    return result
