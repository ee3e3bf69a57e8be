from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.credentials.fixtures import TODAY, cred_org
from upward import clock


@pytest.fixture
def frozen() -> Iterator[Any]:
    """Freeze the service's clock at TODAY (2026-06-15 10:00 UTC)."""
    clock.freeze(TODAY)
    try:
        yield TODAY
    finally:
        clock.freeze(None)


@pytest.fixture
async def ct(make_tenant: Any, frozen: Any) -> Any:
    """A fresh tenant with the credentials fixture, the clock frozen at TODAY."""
    return await make_tenant(cred_org())
