"""Domain errors. Services raise these; the GraphQL layer turns them into coded errors.

Each maps to `extensions.code` in a GraphQL response. Anything else that escapes a resolver
is masked as INTERNAL with the request id.
"""

from __future__ import annotations

from typing import Any


class UpwardError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {k: v for k, v in extensions.items() if v is not None}


class BadUserInput(UpwardError):
    """The input is invalid. `field` names the offending argument or input field (dotted path)."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None, **extensions: Any) -> None:
        super().__init__(message, field=field, **extensions)
        self.field = field


class Unauthenticated(UpwardError):
    code = "UNAUTHENTICATED"


class Forbidden(UpwardError):
    code = "FORBIDDEN"


class NotFound(UpwardError):
    code = "NOT_FOUND"


class Conflict(UpwardError):
    code = "CONFLICT"


class RateLimited(UpwardError):
    code = "RATE_LIMITED"


class RequestBodyTooLarge(Exception):
    """Raised by the request middleware's `receive` once a body exceeds its limit; the
    middleware answers 413 (handlers let it through)."""
