"""Turn GraphQL errors into coded, client-actionable errors; mask everything unexpected."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from upward.errors import UpwardError
from upward.observability import GRAPHQL_ERRORS

log = logging.getLogger("upward.graphql")

LIMIT_MARKERS = ("exceeds maximum operation depth", "aliases found. Allowed", "has a query cost of")
# variable values that do not fit their declared type (not validation of the document)
COERCION = ("has invalid value", "got invalid value", "was not provided", "must not be null")
# Postgres rejects some text no matter where it comes from (NUL bytes, invalid encodings)
BAD_TEXT_SQLSTATES = {"22021", "22P05"}


def _is_bad_text(exc: BaseException | None) -> bool:
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code in BAD_TEXT_SQLSTATES


def classify(error: GraphQLError) -> tuple[str, dict[str, Any]]:
    original = error.original_error
    if error.message.startswith("Variable '$") and any(m in error.message for m in COERCION):
        return "BAD_USER_INPUT", {}
    if _is_bad_text(original):
        return "BAD_USER_INPUT", {}
    if isinstance(original, UpwardError):
        return original.code, dict(original.extensions)
    if isinstance(original, GraphQLError) and original is not error:
        return classify(original)
    if original is None:
        message = error.message
        if isinstance(error, GraphQLSyntaxError):
            if "tokens" in message and "more than" in message:
                return "QUERY_TOO_COMPLEX", {}
            return "GRAPHQL_PARSE_FAILED", {}
        if any(m in message for m in LIMIT_MARKERS):
            return "QUERY_TOO_COMPLEX", dict(error.extensions or {})
        return "GRAPHQL_VALIDATION_FAILED", {}
    return "INTERNAL", {}


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    code, extensions = classify(error)
    GRAPHQL_ERRORS.labels(code=code).inc()
    if code == "INTERNAL":
        log.error(
            "unexpected error in resolver",
            exc_info=error.original_error or error,
            extra={"path": error.path},
        )
        message = f"Internal server error (request id {request_id})"
        extensions = {"requestId": request_id}
    elif _is_bad_text(error.original_error):
        message = "text input must not contain NUL (\\u0000) characters or invalid UTF-8"
    else:
        message = (
            error.original_error.message
            if isinstance(error.original_error, UpwardError)
            else error.message
        )
    out: dict[str, Any] = {"message": message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = error.path
    out["extensions"] = {"code": code, **extensions}
    return out
