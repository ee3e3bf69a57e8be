"""Checks of input values shared by the domains' services (errors name the input field)."""

from __future__ import annotations

from upward.errors import BadUserInput


def text(value: str | None, field: str, *, required: bool = False, limit: int = 5000) -> str | None:
    """A trimmed string, or None when absent or blank (BAD_USER_INPUT when `required`); never
    a NUL character (Postgres text cannot hold one) nor longer than `limit`."""
    if value is None:
        if required:
            raise BadUserInput("is required", field=field)
        return None
    if "\x00" in value:
        raise BadUserInput("must not contain NUL characters", field=field)
    value = value.strip()
    if not value:
        if required:
            raise BadUserInput("must not be blank", field=field)
        return None
    if len(value) > limit:
        raise BadUserInput(f"must be at most {limit} characters", field=field)
    return value
