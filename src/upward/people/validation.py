"""Pure validation helpers for people data (shared by the API and the manifest loader)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date

from upward.errors import BadUserInput

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
MAX_NAME = 200
MAX_SHORT = 100


def normalize_email(value: str, *, field: str) -> str:
    email = (value or "").strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise BadUserInput(f"{value!r} is not a valid email address", field=field)
    return email


def reject_nul(value: str | None, *, field: str) -> None:
    if value is not None and "\x00" in value:
        raise BadUserInput("must not contain NUL (\\u0000) characters", field=field)


def require_text(value: str | None, *, field: str, max_len: int = MAX_NAME) -> str:
    reject_nul(value, field=field)
    text = (value or "").strip()
    if not text:
        raise BadUserInput("must not be empty", field=field)
    if len(text) > max_len:
        raise BadUserInput(f"must be at most {max_len} characters", field=field)
    return text


def optional_text(value: str | None, *, field: str, max_len: int = MAX_SHORT) -> str | None:
    if value is None:
        return None
    reject_nul(value, field=field)
    text = value.strip()
    if len(text) > max_len:
        raise BadUserInput(f"must be at most {max_len} characters", field=field)
    return text or None


def is_valid_timezone(value: str) -> bool:
    if not value or value != value.strip() or len(value) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def check_timezone(value: str | None, *, field: str) -> str | None:
    if value is None:
        return None
    if not is_valid_timezone(value):
        raise BadUserInput(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)", field=field)
    return value


def check_hire_date(value: date | None, *, field: str) -> date | None:
    if value is None:
        return None
    today = date.today()
    if value.year < 1900 or value > date(today.year + 1, today.month, min(today.day, 28)):
        raise BadUserInput("must be between 1900 and one year from today", field=field)
    return value


def check_country(value: str | None, *, field: str) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise BadUserInput("must be an ISO 3166-1 alpha-2 code such as US or DE", field=field)
    return code
