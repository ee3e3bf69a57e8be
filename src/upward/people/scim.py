"""SCIM 2.0 provisioning (RFC 7643, RFC 7644) at /scim/v2, for identity providers.

Users are employees, Groups are departments. This module maps SCIM to Upward: it parses
filters, PATCH paths and resources, and turns each request into calls of the people services
(`create_employee`, `update_employee`, `change_manager`, `offboard_employee`,
`reactivate_employee`, `create_department`, `update_department`), so a SCIM write is audited
exactly like the GraphQL mutation that does the same (the actor is the API key).

- Auth: `Authorization: Bearer <API key>` of a key with the `scim` scope. A user's token is
  refused (403): provisioning is done by a system, not a person.
- One request, one transaction on the app engine (`app.tenant_id` set by authentication, so
  row-level security scopes everything to the key's tenant): a write commits or changes
  nothing. An id of another tenant is a 404 like an id that never existed.
- Users: `userName` is the email (Upward keeps one address; `emails` mirrors it and values
  written there are ignored). Names: `displayName`, else `name.formatted`, else
  `name.givenName` + `name.familyName`. The enterprise extension's `department` is a
  department name (created when unknown), `manager.value` an employee id.
- `active: false` offboards (reports move to the person's manager), `active: true` reactivates.
  DELETE offboards too and keeps the record: the user stays readable with `active: false`
  (RFC 7644 §3.6 asks for a 404; we keep history and let the IdP find the person again by
  `userName` when they come back, instead of failing with a uniqueness conflict).
- PUT: the attributes given replace the current ones; attributes left out are "not asserted"
  (RFC 7644 §3.5.1) and keep their value, so HR data the IdP does not manage survives.
- Groups: members are the department's active employees; a person is in at most one group,
  so adding them to one moves them out of another. DELETE detaches the members and unlinks
  the department from the IdP (external id cleared); the department stays, since credential
  requirements, postings and former employees' history may refer to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from upward.auth.keys import client_address
from upward.auth.principal import Principal
from upward.auth.service import authenticate_token, bearer_of
from upward.db import Executor, app_engine, run_after_commit, take_after_commit
from upward.errors import BadUserInput, Conflict, Forbidden, NotFound, Unauthenticated, UpwardError
from upward.graphql import limits
from upward.graphql.cost import MUTATION_FIELD_COST
from upward.observability import request_id_var, tenant_var
from upward.people import service
from upward.people.validation import (
    check_timezone,
    normalize_email,
    optional_text,
    require_text,
)
from upward.settings import Settings, get_settings

log = logging.getLogger(__name__)

PREFIX = "/scim/v2"
SCIM_JSON = "application/scim+json"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_RESULTS = 100
MAX_FILTER = 2000
MAX_OPERATIONS = 1000

t_emp = service.t_emp
t_dep = service.t_dep


# --- errors ----------------------------------------------------------------------------------


class ScimError(Exception):
    """An answer other than success: status, detail and (RFC 7644 §3.12) scimType."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=SCIM_JSON, headers=headers)


def error_response(status: int, detail: str, scim_type: str | None = None) -> Response:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return _json(body, status, headers)


# service input names -> SCIM attributes, for error details
USER_FIELDS = {
    "input.email": "userName",
    "input.name": "name",
    "input.title": "title",
    "input.timezone": "timezone",
    "input.externalId": "externalId",
    "input.departmentId": "department",
    "input.department": "department",
    "input.managerId": "manager",
    "managerId": "manager",
    "employeeId": "id",
}
GROUP_FIELDS = {
    "input.name": "displayName",
    "input.externalId": "externalId",
}
_UNIQUE = ("input.email", "input.externalId", "input.name")


def _from_upward(exc: UpwardError, fields: dict[str, str]) -> Response:
    field_name = exc.extensions.get("field")
    attr = fields.get(field_name or "")
    detail = f"{attr}: {exc.message}" if attr else exc.message
    if isinstance(exc, Unauthenticated):
        return error_response(401, exc.message)
    if isinstance(exc, Forbidden):
        return error_response(403, exc.message)
    if isinstance(exc, NotFound):
        return error_response(404, exc.message)
    if isinstance(exc, Conflict):
        return error_response(409, detail, "uniqueness" if field_name in _UNIQUE else None)
    if isinstance(exc, BadUserInput):
        return error_response(400, detail, "invalidValue")
    if exc.code == "RATE_LIMITED":
        return error_response(429, exc.message)
    return error_response(400, detail)


_BAD_TEXT = {"22021", "22P05"}  # NUL bytes, invalid encodings: refused by Postgres itself


def _is_bad_text(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) in _BAD_TEXT


# --- the request boundary --------------------------------------------------------------------

Handler = Callable[[Request, Executor, Principal], Awaitable[Response]]


def _settings(request: Request) -> Settings:
    """The app's settings (`create_app(settings)`), else the process's."""
    return getattr(request.app.state, "settings", None) or get_settings()


def _client_ip(request: Request, settings: Settings) -> str | None:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)


async def _authenticate(conn: Executor, request: Request, client_ip: str | None) -> Principal:
    token = bearer_of(request.headers.get("authorization"))
    principal, _ = await authenticate_token(conn, token, client_ip=client_ip)
    tenant_var.set(principal.tenant_slug)
    if principal.kind != "service":
        raise Forbidden(
            "SCIM provisioning needs an API key with the `scim` scope, not a user token"
        )
    principal.require_scope("scim")
    return principal


def request_cost(request: Request) -> int:
    """What a SCIM request costs against the key's rate-limit budget, in the GraphQL API's
    units: 1 + the resources it may return; a write as a mutation (1 + 10)."""
    if request.method not in ("GET", "HEAD"):
        return 1 + MUTATION_FIELD_COST
    if request.path_params.get("id") is None and request.url.path.rstrip("/").endswith(
        ("/Users", "/Groups")
    ):
        return 1 + _page_params(request)[1]
    return 2


async def _run(request: Request, handler: Handler, *, fields: dict[str, str]) -> Response:
    """Authenticate, charge the key's rate limit, run `handler` in one transaction, commit a
    write that succeeded; any failure rolls everything back and becomes a SCIM error body.
    Every answer to an authenticated request carries the RateLimit-* headers."""
    write = request.method not in ("GET", "HEAD")
    settings = _settings(request)
    client_ip = _client_ip(request, settings)
    decision: limits.Decision | None = None
    try:
        conn = await app_engine().connect()
    except Exception as exc:  # no database connection: masked, logged with the request id
        return _error_of(request, exc, fields)
    hooks: list[Any] = []
    try:
        await conn.begin()
        principal = await _authenticate(conn, request, client_ip)
        decision = await limits.charge(settings, principal, client_ip, request_cost(request))
        if decision is not None and not decision.allowed:
            raise decision.error()
        response = await handler(request, conn, principal)
        hooks = take_after_commit(conn)
        if write:
            await conn.commit()
        else:
            await conn.rollback()
    except Exception as exc:
        await _discard(conn)
        if isinstance(exc, Unauthenticated) and decision is None:
            # as over GraphQL: a request that fails to authenticate costs its address 1
            decision = await limits.charge(settings, None, client_ip, 1)
            if decision is not None and not decision.allowed:
                exc = decision.error()
        response = _error_of(request, exc, fields)
        if decision is not None:
            response.raw_headers.extend(decision.headers())
        return response
    finally:
        await conn.close()
    if write:
        await run_after_commit(hooks)
    if decision is not None:
        response.raw_headers.extend(decision.headers())
    return response


def _error_of(request: Request, exc: Exception, fields: dict[str, str]) -> Response:
    if isinstance(exc, ScimError):
        return error_response(exc.status, exc.detail, exc.scim_type)
    if isinstance(exc, UpwardError):
        return _from_upward(exc, fields)
    if isinstance(exc, DBAPIError) and _is_bad_text(exc):
        return error_response(
            400, "text must not contain NUL characters or invalid UTF-8", "invalidValue"
        )
    rid = request_id_var.get() or "-"
    log.exception("SCIM request failed", extra={"path": request.url.path})
    return error_response(500, f"Internal server error (request id {rid})")


async def _discard(conn: Any) -> None:
    try:
        await conn.rollback()
    except Exception:
        log.warning("rollback failed; dropping the connection", exc_info=True)
        with contextlib.suppress(Exception):
            await conn.invalidate()


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ScimError(400, "the body is not valid JSON", "invalidSyntax") from None
    if not isinstance(data, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    return data


def _resource_id(request: Request) -> uuid.UUID:
    """The path's id; anything that is not one of our ids is simply not found."""
    try:
        return uuid.UUID(request.path_params["id"])
    except ValueError:
        raise ScimError(404, "no such resource") from None


def _check_if_match(request: Request, version: str) -> None:
    wanted = request.headers.get("if-match")
    if wanted is None:
        return
    tags = [t.strip() for t in wanted.split(",")]
    if "*" not in tags and version not in tags and version.removeprefix("W/") not in tags:
        raise ScimError(412, "the resource changed (If-Match does not match its version)")


def _not_modified(request: Request, version: str) -> bool:
    tags = [t.strip() for t in (request.headers.get("if-none-match") or "").split(",")]
    return version in tags or "*" in tags


def _version(*parts: Any) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:20]
    return f'W/"{digest}"'


def _ts(value: datetime) -> str:
    return value.isoformat()


# --- filters ---------------------------------------------------------------------------------
# An AST of tuples: ("and"|"or", a, b), ("not", a), ("cmp", path, op, value), ("pr", path),
# ("vp", path, expr) for `emails[type eq "work"]`. Paths are normalised (see `_norm_path`).

_TOKEN = re.compile(r'\s*(?:(\()|(\))|(\[)|(\])|("(?:[^"\\]|\\.)*")|([^\s()\[\]"]+))')
COMPARE_OPS = {"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"}
_SCHEMA_PREFIXES = (
    (ENTERPRISE.lower(), "enterprise:"),
    (CORE_USER.lower(), ""),
    (CORE_GROUP.lower(), ""),
)


def _norm_path(text: str, *, error: str = "invalidFilter") -> str:
    """`urn:...:User:userName` -> `username`; the enterprise extension's attributes get the
    prefix `enterprise:`; any other `urn:` stays as it is (an unknown extension)."""
    low = text.lower()
    for urn, prefix in _SCHEMA_PREFIXES:
        if low.startswith(urn + ":"):
            return prefix + low[len(urn) + 1 :]
    if low.startswith("urn:"):
        return low
    if not re.fullmatch(r"[a-z][\w$-]*(\.[a-z][\w$-]*)?", low):
        raise ScimError(400, f"invalid attribute path {text!r}", error)
    return low


class _Parser:
    def __init__(self, text: str, error: str) -> None:
        self.error = error
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ScimError(400, f"cannot read the filter at {text[pos : pos + 20]!r}", error)
            kinds = ("(", ")", "[", "]", "str", "word")
            kind = next(k for k, g in zip(kinds, m.groups(), strict=True) if g is not None)
            self.tokens.append((kind, m.group(m.lastindex or 0)))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def fail(self, why: str) -> ScimError:
        return ScimError(400, f"invalid filter: {why}", self.error)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end")
        self.i += 1
        return tok

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() in words:
            self.i += 1
            return tok[1].lower()
        return None

    def parse(self) -> Any:
        expr = self.expr()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def expr(self) -> Any:
        left = self.term()
        while self.keyword("or"):
            left = ("or", left, self.term())
        return left

    def term(self) -> Any:
        left = self.factor()
        while self.keyword("and"):
            left = ("and", left, self.factor())
        return left

    def factor(self) -> Any:
        if self.keyword("not"):
            if self.take()[0] != "(":
                raise self.fail("`not` must be followed by `(`")
            inner = self.expr()
            if self.take()[0] != ")":
                raise self.fail("missing `)`")
            return ("not", inner)
        kind, text = self.take()
        if kind == "(":
            inner = self.expr()
            if self.take()[0] != ")":
                raise self.fail("missing `)`")
            return inner
        if kind != "word":
            raise self.fail(f"expected an attribute, got {text!r}")
        path = _norm_path(text, error=self.error)
        nxt = self.peek()
        if nxt is not None and nxt[0] == "[":
            self.take()
            inner = self.expr()
            if self.take()[0] != "]":
                raise self.fail("missing `]`")
            return ("vp", path, inner)
        op = self.keyword("pr", *COMPARE_OPS)
        if op is None:
            raise self.fail(f"expected an operator after {text!r}")
        if op == "pr":
            return ("pr", path)
        return ("cmp", path, op, self.value())

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                raise self.fail(f"bad string {text}") from None
        if kind == "word":
            low = text.lower()
            if low in ("true", "false"):
                return low == "true"
            if low == "null":
                return None
            try:
                return float(text) if any(c in text for c in ".eE") else int(text)
            except ValueError:
                pass
        raise self.fail(f"expected a value, got {text!r}")


def parse_filter(text: str, *, error: str = "invalidFilter") -> Any:
    if len(text) > MAX_FILTER:
        raise ScimError(400, f"the filter is longer than {MAX_FILTER} characters", error)
    if not text.strip():
        raise ScimError(400, "the filter is empty", error)
    return _Parser(text, error).parse()


@dataclass(frozen=True)
class _Attr:
    """A filterable attribute: a column and how it compares. `wrap` turns a condition on the
    column into one on the listed table (a subquery)."""

    column: Any
    kind: str  # lower (stored lowercase) | ci | exact | uuid | ts | active | const
    wrap: Callable[[Any], Any] | None = None
    const: Any = None


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _bool(value: Any, what: str, error: str = "invalidValue") -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ScimError(400, f"{what} must be true or false", error)


def _compare(attr: _Attr, op: str, value: Any) -> Any:
    bad = ScimError(400, f"`{op}` is not supported for this attribute and value", "invalidFilter")
    col = attr.column
    if attr.kind == "const":
        if op == "pr":
            return sa.true()
        if op in ("eq", "ne"):
            same = str(value).lower() == str(attr.const).lower()
            return sa.true() if same == (op == "eq") else sa.false()
        raise bad
    if attr.kind == "active":
        if op == "pr":
            return sa.true()
        if op not in ("eq", "ne"):
            raise bad
        wanted = _bool(value, "active", "invalidFilter") == (op == "eq")
        return col == "active" if wanted else col != "active"
    if op == "pr":
        return col.is_not(None)
    if value is None:
        if op == "eq":
            return col.is_(None)
        if op == "ne":
            return col.is_not(None)
        raise bad
    if attr.kind == "uuid":
        if op not in ("eq", "ne"):
            raise bad
        try:
            wanted_id = uuid.UUID(str(value))
        except ValueError:
            return sa.false() if op == "eq" else sa.true()
        return col == wanted_id if op == "eq" else col != wanted_id
    if attr.kind == "ts":
        if op in ("co", "sw", "ew") or not isinstance(value, str):
            raise bad
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ScimError(400, f"{value!r} is not a date-time", "invalidFilter") from None
        return {
            "eq": col == when,
            "ne": col != when,
            "gt": col > when,
            "ge": col >= when,
            "lt": col < when,
            "le": col <= when,
        }[op]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise bad
    text = str(value)
    target = col
    if attr.kind in ("lower", "ci"):
        text = text.strip().lower() if attr.kind == "lower" else text.lower()
        target = col if attr.kind == "lower" else sa.func.lower(col)
    if op == "eq":
        return target == text
    if op == "ne":
        return sa.or_(col.is_(None), target != text)
    if op in ("co", "sw", "ew"):
        pattern = {"co": "%{}%", "sw": "{}%", "ew": "%{}"}[op].format(_like(text))
        return target.like(pattern, escape="\\")
    return {"gt": target > text, "ge": target >= text, "lt": target < text, "le": target <= text}[
        op
    ]


def filter_condition(ast: Any, attrs: dict[str, _Attr], prefix: str = "") -> Any:
    kind = ast[0]
    if kind in ("and", "or"):
        left = filter_condition(ast[1], attrs, prefix)
        right = filter_condition(ast[2], attrs, prefix)
        return sa.and_(left, right) if kind == "and" else sa.or_(left, right)
    if kind == "not":
        return sa.not_(sa.func.coalesce(filter_condition(ast[1], attrs, prefix), sa.false()))
    if kind == "vp":
        return filter_condition(ast[2], attrs, f"{prefix}{ast[1]}.")
    path = prefix + ast[1]
    attr = attrs.get(path)
    if attr is None:
        raise ScimError(400, f"filtering on {path!r} is not supported", "invalidFilter")
    cond = _compare(attr, ast[2] if kind == "cmp" else "pr", ast[3] if kind == "cmp" else None)
    return attr.wrap(cond) if attr.wrap is not None else cond


_fd = t_dep.alias("fd")
_fe = t_emp.alias("fe")


def _in_department(cond: Any) -> Any:
    return t_emp.c.department_id.in_(sa.select(_fd.c.id).where(cond))


def _has_member(cond: Any) -> Any:
    return sa.exists(
        sa.select(sa.literal(1)).where(
            _fe.c.tenant_id == t_dep.c.tenant_id,
            _fe.c.department_id == t_dep.c.id,
            _fe.c.status == "active",
            cond,
        )
    )


USER_ATTRS = {
    "id": _Attr(t_emp.c.id, "uuid"),
    "username": _Attr(t_emp.c.email, "lower"),
    "emails": _Attr(t_emp.c.email, "lower"),
    "emails.value": _Attr(t_emp.c.email, "lower"),
    "emails.type": _Attr(None, "const", const="work"),
    "emails.primary": _Attr(None, "const", const=True),
    "externalid": _Attr(t_emp.c.external_id, "exact"),
    "displayname": _Attr(t_emp.c.name, "ci"),
    "name.formatted": _Attr(t_emp.c.name, "ci"),
    "title": _Attr(t_emp.c.title, "ci"),
    "timezone": _Attr(t_emp.c.timezone, "exact"),
    "active": _Attr(t_emp.c.status, "active"),
    "meta.created": _Attr(t_emp.c.created_at, "ts"),
    "meta.lastmodified": _Attr(t_emp.c.updated_at, "ts"),
    "enterprise:department": _Attr(_fd.c.name, "ci", wrap=_in_department),
    "enterprise:manager": _Attr(t_emp.c.manager_id, "uuid"),
    "enterprise:manager.value": _Attr(t_emp.c.manager_id, "uuid"),
}
GROUP_ATTRS = {
    "id": _Attr(t_dep.c.id, "uuid"),
    "displayname": _Attr(t_dep.c.name, "ci"),
    "externalid": _Attr(t_dep.c.external_id, "exact"),
    "meta.created": _Attr(t_dep.c.created_at, "ts"),
    "meta.lastmodified": _Attr(t_dep.c.updated_at, "ts"),
    "members": _Attr(_fe.c.id, "uuid", wrap=_has_member),
    "members.value": _Attr(_fe.c.id, "uuid", wrap=_has_member),
}


def _page_params(request: Request) -> tuple[int, int]:
    q = request.query_params
    try:
        start = int(q.get("startIndex", "1"))
        count = int(q.get("count", str(MAX_RESULTS)))
    except ValueError:
        raise ScimError(400, "startIndex and count must be integers", "invalidValue") from None
    return max(start, 1), min(max(count, 0), MAX_RESULTS)


def _list_response(resources: list[dict[str, Any]], total: int, start: int) -> Response:
    return _json(
        {
            "schemas": [LIST],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


# --- attribute projection (`attributes`, `excludedAttributes`) ------------------------------


def _attr_list(value: str | None) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        low = item.lower()
        if low == ENTERPRISE.lower():
            out.append((ENTERPRISE.lower(), None))
            continue
        path = _norm_path(item, error="invalidValue")
        if path.startswith("enterprise:"):
            out.append((ENTERPRISE.lower(), path.removeprefix("enterprise:").split(".")[0]))
        else:
            out.append((path.split(".")[0], None))
    return out


def _project(resource: dict[str, Any], request: Request) -> dict[str, Any]:
    wanted = _attr_list(request.query_params.get("attributes"))
    excluded = _attr_list(request.query_params.get("excludedAttributes"))
    if not wanted and not excluded:
        return resource
    always = {"schemas", "id"}
    out: dict[str, Any] = {}
    for key, value in resource.items():
        low = key.lower()
        if low in always:
            out[key] = value
            continue
        if wanted:
            subs = [s for top, s in wanted if top == low]
            if not subs:
                continue
            if isinstance(value, dict) and None not in subs:
                value = {k: v for k, v in value.items() if k.lower() in subs}
        if excluded:
            subs = [s for top, s in excluded if top == low]
            if None in subs:
                continue
            if subs and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k.lower() not in subs}
        out[key] = value
    return out


# --- users: reading --------------------------------------------------------------------------

_mgr = t_emp.alias("m")
_USER_FROM = t_emp.outerjoin(
    t_dep, sa.and_(t_dep.c.tenant_id == t_emp.c.tenant_id, t_dep.c.id == t_emp.c.department_id)
).outerjoin(_mgr, sa.and_(_mgr.c.tenant_id == t_emp.c.tenant_id, _mgr.c.id == t_emp.c.manager_id))
_USER_SELECT = sa.select(
    *t_emp.c, t_dep.c.name.label("department_name"), _mgr.c.name.label("manager_name")
).select_from(_USER_FROM)


def split_name(name: str) -> tuple[str, str | None]:
    """(givenName, familyName) of a stored name: the family name is the last word. Upward
    keeps one name; this is what an IdP reading name parts sees."""
    given, _, family = name.strip().rpartition(" ")
    return (given, family) if given else (family, None)


def user_version(row: Any) -> str:
    """Weak: of the last change, and of the department's and manager's names it shows."""
    return _version(
        "user", row.id, row.updated_at.isoformat(), row.department_name, row.manager_name
    )


def user_resource(row: Any, base: str) -> dict[str, Any]:
    given, family = split_name(row.name)
    name = {"formatted": row.name, "givenName": given}
    if family:
        name["familyName"] = family
    out: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": str(row.id),
        "userName": row.email,
        "name": name,
        "displayName": row.name,
        "emails": [{"value": row.email, "type": "work", "primary": True}],
        "active": row.status == "active",
    }
    if row.external_id is not None:
        out["externalId"] = row.external_id
    if row.title is not None:
        out["title"] = row.title
    if row.timezone is not None:
        out["timezone"] = row.timezone
    ext: dict[str, Any] = {}
    if row.department_name is not None:
        ext["department"] = row.department_name
    if row.manager_id is not None:
        ext["manager"] = {
            "value": str(row.manager_id),
            "$ref": f"{base}/Users/{row.manager_id}",
            "displayName": row.manager_name,
        }
    out[ENTERPRISE] = ext
    out["meta"] = {
        "resourceType": "User",
        "created": _ts(row.created_at),
        "lastModified": _ts(row.updated_at),
        "location": f"{base}/Users/{row.id}",
        "version": user_version(row),
    }
    return out


async def _user_row(session: Executor, employee_id: uuid.UUID) -> Any:
    """A user with department and manager names. Not locked: the services lock what they
    change (and the org chart first), so SCIM takes no lock in another order."""
    row = (await session.execute(_USER_SELECT.where(t_emp.c.id == employee_id))).first()
    if row is None:
        raise ScimError(404, f"no user {employee_id}")
    return row


def _user_response(request: Request, row: Any, status: int = 200) -> Response:
    base = _base(request)
    version = user_version(row)
    headers = {"ETag": version}
    if status == 201:
        headers["Location"] = f"{base}/Users/{row.id}"
    return _json(_project(user_resource(row, base), request), status, headers)


async def list_users(request: Request, s: Executor, p: Principal) -> Response:
    start, count = _page_params(request)
    raw = request.query_params.get("filter")
    cond = filter_condition(parse_filter(raw), USER_ATTRS) if raw is not None else sa.true()
    total = int(await s.scalar(sa.select(sa.func.count()).select_from(t_emp).where(cond)) or 0)
    rows: list[Any] = []
    if count:
        stmt = (
            _USER_SELECT.where(cond)
            .order_by(t_emp.c.created_at, t_emp.c.id)
            .offset(start - 1)
            .limit(count)
        )
        rows = list((await s.execute(stmt)).all())
    base = _base(request)
    return _list_response([_project(user_resource(r, base), request) for r in rows], total, start)


async def get_user(request: Request, s: Executor, p: Principal) -> Response:
    row = await _user_row(s, _resource_id(request))
    if _not_modified(request, user_version(row)):
        return Response(status_code=304, headers={"ETag": user_version(row)})
    return _user_response(request, row)


# --- users: writing --------------------------------------------------------------------------

_NAME_PARTS = ("formatted", "givenname", "familyname")
_READ_ONLY = ("id", "meta", "groups")
_IGNORED_TOP = ("schemas",)


@dataclass
class UserWrite:
    """What a request asserts about a user: Upward fields (email, title, external_id,
    timezone, active, department (a name), manager (an id)) and name sources."""

    fields: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str | None] = field(default_factory=dict)

    def name(self, current: str | None) -> str | None:
        """displayName, else name.formatted, else the given and family names (a part not
        given keeps its current value)."""
        for key in ("displayname", "formatted"):
            value = self.names.get(key)
            if value and value.strip():
                return value
        if "givenname" in self.names or "familyname" in self.names:
            cur_given, cur_family = split_name(current) if current else ("", None)
            given = self.names.get("givenname", cur_given)
            family = self.names.get("familyname", cur_family)
            joined = " ".join(x.strip() for x in (given, family) if x and x.strip())
            return joined or None
        return None


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ScimError(400, f"{what} must be a string", "invalidValue")


def _manager_id(value: Any) -> uuid.UUID | None:
    if isinstance(value, dict):
        value = next((v for k, v in value.items() if k.lower() == "value"), None)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise ScimError(400, f"manager: {value!r} is not a user id", "invalidValue") from None


@dataclass(frozen=True)
class Path:
    ext: str  # "" (core), "enterprise", or an unknown extension's URN
    attr: str | None  # None: the whole extension
    sub: str | None
    filter: Any


_PATH = re.compile(
    r"^(?P<attr>[A-Za-z][\w$-]*)(?:\[(?P<filter>.*)\])?(?:\.(?P<sub>[A-Za-z][\w$-]*))?$", re.S
)


def parse_path(text: Any) -> Path:
    """A PATCH path (RFC 7644 §3.5.2): `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`,
    optionally behind a schema URN."""
    if not isinstance(text, str) or not text.strip():
        raise ScimError(400, "path must be a non-empty string", "invalidPath")
    t = text.strip()
    low = t.lower()
    ext = ""
    for urn, prefix in _SCHEMA_PREFIXES:
        if low == urn:
            return Path(prefix.rstrip(":"), None, None, None)
        if low.startswith(urn + ":"):
            t, ext = t[len(urn) + 1 :], prefix.rstrip(":")
            break
    else:
        if low.startswith("urn:"):
            return Path(low, None, None, None)  # another extension: not ours
    m = _PATH.match(t)
    if m is None:
        raise ScimError(400, f"invalid path {text!r}", "invalidPath")
    flt = parse_filter(m["filter"], error="invalidPath") if m["filter"] is not None else None
    return Path(ext, m["attr"].lower(), (m["sub"] or "").lower() or None, flt)


def assign_user(w: UserWrite, path: Path, value: Any, op: str, *, patch: bool) -> None:
    """Apply one add/replace/remove of `path` to `w`. Attributes Upward does not keep
    (phone numbers, addresses, other extensions...) are accepted and ignored."""
    remove = op == "remove"
    if path.ext == "enterprise":
        if path.attr is None:  # the whole extension object
            if remove or value is None:
                w.fields["department"] = None
                w.fields["manager"] = None
                return
            if not isinstance(value, dict):
                raise ScimError(400, "the enterprise extension must be an object", "invalidValue")
            for key, v in value.items():
                assign_user(w, Path("enterprise", key.lower(), None, None), v, op, patch=patch)
            return
        if path.attr == "department":
            w.fields["department"] = None if remove else _text(value, "department")
        elif path.attr == "manager" and path.sub in (None, "value"):
            w.fields["manager"] = None if remove else _manager_id(value)
        return
    if path.ext:  # an extension we do not know
        return
    attr, sub = path.attr, path.sub
    if attr in _READ_ONLY:
        if patch:
            raise ScimError(400, f"{attr} is read-only", "mutability")
        return
    if attr in _IGNORED_TOP:
        return
    if attr == "username":
        if remove or value is None:
            raise ScimError(400, "userName is required", "invalidValue")
        w.fields["email"] = _text(value, "userName")
    elif attr == "displayname":
        if not remove:
            w.names["displayname"] = _text(value, "displayName")
    elif attr == "name":
        if sub is None:
            if remove or value is None:
                return  # a person keeps a name
            if not isinstance(value, dict):
                raise ScimError(400, "name must be an object", "invalidValue")
            for key, v in value.items():
                if key.lower() in _NAME_PARTS:
                    w.names[key.lower()] = _text(v, f"name.{key}")
        elif sub in _NAME_PARTS:
            w.names[sub] = None if remove else _text(value, f"name.{sub}")
    elif attr in ("externalid", "title", "timezone"):
        key = {"externalid": "external_id"}.get(attr, attr)
        w.fields[key] = None if remove else _text(value, attr)
    elif attr == "active":
        if remove:
            raise ScimError(400, "active cannot be removed", "invalidValue")
        w.fields["active"] = _bool(value, "active")
    # emails mirror userName; everything else is not kept by Upward


def _assign_object(w: UserWrite, body: dict[str, Any], op: str, *, patch: bool) -> None:
    """A resource (POST, PUT) or a PATCH value without a path: each key is a path."""
    for key, value in body.items():
        low = key.lower()
        if not patch and low in _READ_ONLY:
            continue  # readOnly values in a resource are ignored (RFC 7644 §3.5.1)
        if patch and low in ("id", "meta", "schemas"):
            continue  # Okta sends the id along in value objects
        if low == ENTERPRISE.lower():
            assign_user(w, Path("enterprise", None, None, None), value, op, patch=patch)
            continue
        assign_user(w, parse_path(key), value, op, patch=patch)


async def department_for(session: Executor, principal: Principal, name: str | None) -> Any:
    """The id of the department called `name` (case-insensitive when unambiguous), created when
    there is none: the enterprise `department` attribute is free text in every IdP."""
    text = optional_text(name, field="input.department", max_len=200)
    if text is None:
        return None
    rows = (
        await session.execute(
            sa.select(t_dep.c.id, t_dep.c.name).where(sa.func.lower(t_dep.c.name) == text.lower())
        )
    ).all()
    exact = [r.id for r in rows if r.name == text]
    if exact:
        return exact[0]
    if len(rows) == 1:
        return rows[0].id
    if rows:
        raise ScimError(400, f"department: {text!r} matches several departments", "invalidValue")
    return (await service.create_department(session, principal, name=text)).id


def _checked_texts(f: dict[str, Any]) -> dict[str, Any]:
    """title, external_id and timezone as the service will store them (so equal values are
    no change)."""
    out: dict[str, Any] = {}
    if "title" in f:
        out["title"] = optional_text(f["title"], field="input.title", max_len=200)
    if "external_id" in f:
        out["external_id"] = optional_text(f["external_id"], field="input.externalId", max_len=200)
    if "timezone" in f:
        tz = optional_text(f["timezone"], field="input.timezone")
        out["timezone"] = check_timezone(tz, field="input.timezone")
    return out


async def apply_user(session: Executor, principal: Principal, current: Any, w: UserWrite) -> Any:
    """Create (current None) or change a user through the people services; returns the id."""
    f = w.fields
    if current is None:
        email = f.get("email")
        if not email:
            raise ScimError(400, "userName is required", "invalidValue")
        email = normalize_email(email, field="input.email")
        dep = await department_for(session, principal, f.get("department"))
        row = await service.create_employee(
            session,
            principal,
            email=email,
            name=w.name(None) or email,
            title=f.get("title"),
            timezone=f.get("timezone"),
            external_id=f.get("external_id"),
            department_id=dep,
            manager_id=f.get("manager"),
        )
        if f.get("active") is False:
            await service.offboard_employee(session, principal, row.id)
        return row.id

    emp_id = current.id
    patch: dict[str, Any] = {}
    if "email" in f:
        email = normalize_email(f["email"] or "", field="input.email")
        if email != current.email:
            patch["email"] = email
    name = w.name(current.name)
    if name is not None and require_text(name, field="input.name") != current.name:
        patch["name"] = name
    for key, value in _checked_texts(f).items():
        if value != getattr(current, key):
            patch[key] = value
    if "department" in f:
        dep = await department_for(session, principal, f["department"])
        if dep != current.department_id:
            patch["department_id"] = dep
    active = f.get("active")
    manager_now = current.manager_id
    is_active = current.status == "active"
    if active is True and not is_active:
        manager_now = (await service.reactivate_employee(session, principal, emp_id)).manager_id
        is_active = True
    if patch:
        await service.update_employee(session, principal, emp_id, patch)
    if "manager" in f and f["manager"] != manager_now and is_active:
        # an offboarded person keeps the manager they had when they left
        await service.change_manager(session, principal, emp_id, f["manager"])
    if active is False and is_active:
        await service.offboard_employee(session, principal, emp_id)
    return emp_id


async def create_user(request: Request, s: Executor, p: Principal) -> Response:
    body = await _body(request)
    w = UserWrite()
    _assign_object(w, body, "add", patch=False)
    emp_id = await apply_user(s, p, None, w)
    return _user_response(request, await _user_row(s, emp_id), 201)


async def replace_user(request: Request, s: Executor, p: Principal) -> Response:
    current = await _user_row(s, _resource_id(request))
    _check_if_match(request, user_version(current))
    body = await _body(request)
    w = UserWrite()
    _assign_object(w, body, "replace", patch=False)
    if not w.fields.get("email"):
        raise ScimError(400, "userName is required", "invalidValue")
    await apply_user(s, p, current, w)
    return _user_response(request, await _user_row(s, current.id))


def _operations(body: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    ops = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(ops, list) or not ops:
        raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
    if len(ops) > MAX_OPERATIONS:
        raise ScimError(400, f"at most {MAX_OPERATIONS} operations", "invalidSyntax")
    out = []
    for op in ops:
        if not isinstance(op, dict):
            raise ScimError(400, "each operation must be an object", "invalidSyntax")
        low = {k.lower(): v for k, v in op.items()}
        kind = str(low.get("op", "")).lower()
        if kind not in ("add", "replace", "remove"):
            raise ScimError(400, f"unknown op {low.get('op')!r}", "invalidSyntax")
        path = low.get("path")
        if kind == "remove" and path is None:
            raise ScimError(400, "remove needs a path", "noTarget")
        if path is None and not isinstance(low.get("value"), dict):
            raise ScimError(400, f"{kind} without a path needs an object value", "invalidSyntax")
        out.append((kind, path, low.get("value")))
    return out


async def patch_user(request: Request, s: Executor, p: Principal) -> Response:
    current = await _user_row(s, _resource_id(request))
    _check_if_match(request, user_version(current))
    w = UserWrite()
    for kind, path, value in _operations(await _body(request)):
        if path is None:
            _assign_object(w, value, kind, patch=True)
        else:
            assign_user(w, parse_path(path), value, kind, patch=True)
    await apply_user(s, p, current, w)
    return _user_response(request, await _user_row(s, current.id))


async def delete_user(request: Request, s: Executor, p: Principal) -> Response:
    """Offboard (idempotent). The record stays, readable with `active: false`."""
    current = await _user_row(s, _resource_id(request))
    _check_if_match(request, user_version(current))
    if current.status == "active":
        await service.offboard_employee(s, p, current.id)
    return Response(status_code=204)


# --- groups ----------------------------------------------------------------------------------


async def _members(
    session: Executor, department_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Any]]:
    out: dict[uuid.UUID, list[Any]] = {d: [] for d in department_ids}
    if not department_ids:
        return out
    rows = await session.execute(
        sa.select(t_emp.c.id, t_emp.c.name, t_emp.c.department_id)
        .where(t_emp.c.department_id.in_(department_ids), t_emp.c.status == "active")
        .order_by(t_emp.c.name, t_emp.c.id)
    )
    for r in rows.all():
        out[r.department_id].append(r)
    return out


def group_version(row: Any, members: list[Any]) -> str:
    return _version(
        "group", row.id, row.updated_at.isoformat(), *sorted(str(m.id) for m in members)
    )


def group_resource(row: Any, members: list[Any], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"schemas": [CORE_GROUP], "id": str(row.id), "displayName": row.name}
    if row.external_id is not None:
        out["externalId"] = row.external_id
    out["members"] = [
        {"value": str(m.id), "display": m.name, "type": "User", "$ref": f"{base}/Users/{m.id}"}
        for m in members
    ]
    out["meta"] = {
        "resourceType": "Group",
        "created": _ts(row.created_at),
        "lastModified": _ts(row.updated_at),
        "location": f"{base}/Groups/{row.id}",
        "version": group_version(row, members),
    }
    return out


async def _group_row(session: Executor, department_id: uuid.UUID, *, lock: bool = False) -> Any:
    stmt = sa.select(t_dep).where(t_dep.c.id == department_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    if row is None:
        raise ScimError(404, f"no group {department_id}")
    return row


async def _group_response(
    request: Request, s: Executor, gid: uuid.UUID, status: int = 200
) -> Response:
    row = await _group_row(s, gid)
    members = (await _members(s, [gid]))[gid]
    base = _base(request)
    version = group_version(row, members)
    if status == 200 and request.method == "GET" and _not_modified(request, version):
        return Response(status_code=304, headers={"ETag": version})
    headers = {"ETag": version}
    if status == 201:
        headers["Location"] = f"{base}/Groups/{gid}"
    return _json(_project(group_resource(row, members, base), request), status, headers)


async def list_groups(request: Request, s: Executor, p: Principal) -> Response:
    start, count = _page_params(request)
    raw = request.query_params.get("filter")
    cond = filter_condition(parse_filter(raw), GROUP_ATTRS) if raw is not None else sa.true()
    total = int(await s.scalar(sa.select(sa.func.count()).select_from(t_dep).where(cond)) or 0)
    rows: list[Any] = []
    if count:
        stmt = (
            sa.select(t_dep)
            .where(cond)
            .order_by(t_dep.c.created_at, t_dep.c.id)
            .offset(start - 1)
            .limit(count)
        )
        rows = list((await s.execute(stmt)).all())
    members = await _members(s, [r.id for r in rows])
    base = _base(request)
    resources = [_project(group_resource(r, members[r.id], base), request) for r in rows]
    return _list_response(resources, total, start)


async def get_group(request: Request, s: Executor, p: Principal) -> Response:
    return await _group_response(request, s, _resource_id(request))


@dataclass
class GroupWrite:
    fields: dict[str, Any] = field(default_factory=dict)  # name, external_id
    members: set[uuid.UUID] | None = None  # the members wanted (None: not asserted)


def _member_ids(value: Any) -> list[uuid.UUID]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        raw = item
        if isinstance(item, dict):
            raw = next((v for k, v in item.items() if k.lower() == "value"), None)
        try:
            out.append(uuid.UUID(str(raw).strip()))
        except ValueError:
            raise ScimError(400, f"members: {raw!r} is not a user id", "invalidValue") from None
    return out


def _matching_members(flt: Any, current: set[uuid.UUID]) -> set[uuid.UUID]:
    """The members a `members[...]` filter selects (value eq/ne, combined with and/or/not)."""

    def test(ast: Any, member: uuid.UUID) -> bool:
        kind = ast[0]
        if kind == "and":
            return test(ast[1], member) and test(ast[2], member)
        if kind == "or":
            return test(ast[1], member) or test(ast[2], member)
        if kind == "not":
            return not test(ast[1], member)
        if kind == "cmp" and ast[1] == "value" and ast[2] in ("eq", "ne"):
            return (str(ast[3]).strip().lower() == str(member)) == (ast[2] == "eq")
        raise ScimError(
            400, "a members filter can only compare `value` with eq or ne", "invalidPath"
        )

    return {m for m in current if test(flt, m)}


def assign_group(
    w: GroupWrite, path: Path, value: Any, op: str, current: set[uuid.UUID], *, patch: bool
) -> None:
    remove = op == "remove"
    if path.ext or path.attr is None:
        return
    attr = path.attr
    if attr in _READ_ONLY:
        if patch:
            raise ScimError(400, f"{attr} is read-only", "mutability")
        return
    if attr == "displayname":
        if remove or value is None:
            raise ScimError(400, "displayName is required", "invalidValue")
        w.fields["name"] = _text(value, "displayName")
    elif attr == "externalid":
        w.fields["external_id"] = None if remove else _text(value, "externalId")
    elif attr == "members":
        wanted = set(current) if w.members is None else set(w.members)
        if path.filter is not None:
            if not remove:
                raise ScimError(400, "only remove takes a members filter", "invalidPath")
            wanted -= _matching_members(path.filter, wanted)
        elif remove:
            wanted = wanted - set(_member_ids(value)) if value is not None else set()
        elif op == "add":
            wanted |= set(_member_ids(value)) if value is not None else set()
        else:
            wanted = set(_member_ids(value)) if value is not None else set()
        w.members = wanted


async def apply_group(
    session: Executor, principal: Principal, current: Any, w: GroupWrite, members: set[uuid.UUID]
) -> uuid.UUID:
    """Create or change a department, then move people in and out through update_employee."""
    if current is None:
        name = w.fields.get("name")
        if not name:
            raise ScimError(400, "displayName is required", "invalidValue")
        row = await service.create_department(
            session, principal, name=name, external_id=w.fields.get("external_id")
        )
        gid = row.id
    else:
        gid = current.id
        patch: dict[str, Any] = {}
        if "name" in w.fields:
            name = require_text(w.fields["name"], field="input.name")
            if name != current.name:
                patch["name"] = name
        if "external_id" in w.fields:
            ext = optional_text(w.fields["external_id"], field="input.externalId", max_len=200)
            if ext != current.external_id:
                patch["external_id"] = ext
        if patch:
            await service.update_department(session, principal, gid, patch)
    if w.members is not None:
        added = w.members - members
        if added:
            found = set(
                (
                    await session.execute(sa.select(t_emp.c.id).where(t_emp.c.id.in_(list(added))))
                ).scalars()
            )
            missing = sorted(str(m) for m in added - found)
            if missing:
                raise ScimError(400, f"members: no user {missing[0]}", "invalidValue")
        for emp_id in sorted(added):
            await service.update_employee(session, principal, emp_id, {"department_id": gid})
        for emp_id in sorted(members - w.members):
            await service.update_employee(session, principal, emp_id, {"department_id": None})
    return gid


def _assign_group_object(
    w: GroupWrite, body: dict[str, Any], op: str, current: set[uuid.UUID], *, patch: bool
) -> None:
    for key, value in body.items():
        low = key.lower()
        if low in ("id", "meta", "schemas"):
            continue
        assign_group(w, parse_path(key), value, op, current, patch=patch)


async def create_group(request: Request, s: Executor, p: Principal) -> Response:
    body = await _body(request)
    w = GroupWrite()
    _assign_group_object(w, body, "replace", set(), patch=False)
    gid = await apply_group(s, p, None, w, set())
    return await _group_response(request, s, gid, 201)


async def _locked_group(request: Request, s: Executor) -> tuple[Any, set[uuid.UUID]]:
    row = await _group_row(s, _resource_id(request), lock=True)
    members = (await _members(s, [row.id]))[row.id]
    _check_if_match(request, group_version(row, members))
    return row, {m.id for m in members}


async def replace_group(request: Request, s: Executor, p: Principal) -> Response:
    row, members = await _locked_group(request, s)
    body = await _body(request)
    w = GroupWrite()
    _assign_group_object(w, body, "replace", members, patch=False)
    if not w.fields.get("name"):
        raise ScimError(400, "displayName is required", "invalidValue")
    await apply_group(s, p, row, w, members)
    return await _group_response(request, s, row.id)


async def patch_group(request: Request, s: Executor, p: Principal) -> Response:
    row, members = await _locked_group(request, s)
    w = GroupWrite()
    for kind, path, value in _operations(await _body(request)):
        if path is None:
            _assign_group_object(w, value, kind, members, patch=True)
        else:
            assign_group(w, parse_path(path), value, kind, members, patch=True)
    await apply_group(s, p, row, w, members)
    return await _group_response(request, s, row.id)


async def delete_group(request: Request, s: Executor, p: Principal) -> Response:
    """Detach the members and unlink the department from the IdP; the department stays (rules,
    postings and history may name it)."""
    row, members = await _locked_group(request, s)
    w = GroupWrite(fields={"external_id": None}, members=set())
    await apply_group(s, p, row, w, members)
    return Response(status_code=204)


# --- discovery -------------------------------------------------------------------------------


def _a(name: str, type_: str = "string", **kw: Any) -> dict[str, Any]:
    out = {
        "name": name,
        "type": type_,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    out.update(kw)
    if type_ != "string":
        out.pop("caseExact")
    return out


USER_SCHEMA = {
    "id": CORE_USER,
    "name": "User",
    "description": "An employee. userName is the work email.",
    "attributes": [
        _a("userName", required=True, uniqueness="server", description="The work email."),
        _a(
            "name",
            "complex",
            subAttributes=[
                _a("formatted"),
                _a("givenName", description="Derived: all but the last word of the name."),
                _a("familyName", description="Derived: the last word of the name."),
            ],
            description="Upward keeps one name: displayName, else formatted, else given + family.",
        ),
        _a("displayName"),
        _a("title"),
        _a("timezone", description="An IANA time zone."),
        _a("active", "boolean", description="false offboards, true reactivates."),
        _a(
            "emails",
            "complex",
            multiValued=True,
            subAttributes=[_a("value"), _a("type"), _a("primary", "boolean")],
            description="The userName; values written here are ignored.",
        ),
        _a("externalId", caseExact=True, uniqueness="server"),
    ],
}
ENTERPRISE_SCHEMA = {
    "id": ENTERPRISE,
    "name": "EnterpriseUser",
    "description": "Department and manager.",
    "attributes": [
        _a("department", description="A department name; created when unknown."),
        _a(
            "manager",
            "complex",
            subAttributes=[
                _a("value", description="The manager's user id."),
                _a("$ref", "reference", mutability="readOnly", referenceTypes=["User"]),
                _a("displayName", mutability="readOnly"),
            ],
        ),
    ],
}
GROUP_SCHEMA = {
    "id": CORE_GROUP,
    "name": "Group",
    "description": "A department. A user is in at most one group.",
    "attributes": [
        _a("displayName", required=True, uniqueness="server"),
        _a("externalId", caseExact=True, uniqueness="server"),
        _a(
            "members",
            "complex",
            multiValued=True,
            subAttributes=[
                _a("value", mutability="immutable"),
                _a("display", mutability="readOnly"),
                _a("type", mutability="readOnly"),
                _a("$ref", "reference", mutability="readOnly", referenceTypes=["User"]),
            ],
        ),
    ],
}
SCHEMAS = (USER_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA)


def _meta(base: str, kind: str, path: str) -> dict[str, Any]:
    return {"resourceType": kind, "location": f"{base}/{path}"}


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [SPC],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "API key",
                "description": "Authorization: Bearer <an Upward API key with the scim scope>",
                "primary": True,
            }
        ],
        "meta": _meta(base, "ServiceProviderConfig", "ServiceProviderConfig"),
    }


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "Employees",
            "schema": CORE_USER,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
            "meta": _meta(base, "ResourceType", "ResourceTypes/User"),
        },
        {
            "schemas": [RESOURCE_TYPE],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Departments",
            "schema": CORE_GROUP,
            "schemaExtensions": [],
            "meta": _meta(base, "ResourceType", "ResourceTypes/Group"),
        },
    ]


def schemas(base: str) -> list[dict[str, Any]]:
    return [
        {"schemas": [SCHEMA], **s, "meta": _meta(base, "Schema", f"Schemas/{s['id']}")}
        for s in SCHEMAS
    ]


async def get_config(request: Request, s: Executor, p: Principal) -> Response:
    return _json(service_provider_config(_base(request)))


def _one_of(items: list[dict[str, Any]], request: Request) -> Response:
    wanted = request.path_params.get("id")
    if wanted is None:
        return _list_response(items, len(items), 1)
    for item in items:
        if item["id"].lower() == wanted.lower():
            return _json(item)
    raise ScimError(404, f"no such resource {wanted!r}")


async def get_resource_types(request: Request, s: Executor, p: Principal) -> Response:
    return _one_of(resource_types(_base(request)), request)


async def get_schemas(request: Request, s: Executor, p: Principal) -> Response:
    return _one_of(schemas(_base(request)), request)


# --- routes ----------------------------------------------------------------------------------

_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _endpoint(handlers: dict[str, Handler], fields: dict[str, str]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        handler = handlers.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            return error_response(405, f"{request.method} is not supported here")
        return await _run(request, handler, fields=fields)

    return endpoint


async def _not_found(request: Request) -> Response:
    return error_response(404, f"no SCIM endpoint {request.url.path}")


async def _not_implemented(request: Request) -> Response:
    return error_response(501, "not supported (see /scim/v2/ServiceProviderConfig)")


ROUTES = [
    Route(
        f"{PREFIX}/Users",
        _endpoint({"GET": list_users, "POST": create_user}, USER_FIELDS),
        methods=_ALL,
    ),
    Route(
        f"{PREFIX}/Users/{{id}}",
        _endpoint(
            {"GET": get_user, "PUT": replace_user, "PATCH": patch_user, "DELETE": delete_user},
            USER_FIELDS,
        ),
        methods=_ALL,
    ),
    Route(
        f"{PREFIX}/Groups",
        _endpoint({"GET": list_groups, "POST": create_group}, GROUP_FIELDS),
        methods=_ALL,
    ),
    Route(
        f"{PREFIX}/Groups/{{id}}",
        _endpoint(
            {"GET": get_group, "PUT": replace_group, "PATCH": patch_group, "DELETE": delete_group},
            GROUP_FIELDS,
        ),
        methods=_ALL,
    ),
    Route(f"{PREFIX}/ServiceProviderConfig", _endpoint({"GET": get_config}, {}), methods=_ALL),
    Route(f"{PREFIX}/ResourceTypes", _endpoint({"GET": get_resource_types}, {}), methods=_ALL),
    Route(
        f"{PREFIX}/ResourceTypes/{{id}}", _endpoint({"GET": get_resource_types}, {}), methods=_ALL
    ),
    Route(f"{PREFIX}/Schemas", _endpoint({"GET": get_schemas}, {}), methods=_ALL),
    Route(f"{PREFIX}/Schemas/{{id}}", _endpoint({"GET": get_schemas}, {}), methods=_ALL),
    Route(f"{PREFIX}/Bulk", _not_implemented, methods=_ALL),
    Route(f"{PREFIX}/Me", _not_implemented, methods=_ALL),
    Route(f"{PREFIX}/{{rest:path}}", _not_found, methods=_ALL),
]
