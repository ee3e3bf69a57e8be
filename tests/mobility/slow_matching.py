"""The real matching, slowed down: `install()` wraps `upward.mobility.matching.recompute_posting`
so that each posting's recompute first waits `MATCHING_DELAY` seconds (the scoring and storing
are the production code's), so that a test can kill a worker process in the middle of a batch.
`dramatiq workers tests.mobility.slow_matching_boot` installs it in a worker process."""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any


def install() -> None:
    from upward.mobility import matching

    if getattr(matching.recompute_posting, "slowed", False):
        return
    real = matching.recompute_posting

    @functools.wraps(real)
    async def recompute_posting(*args: Any, **kwargs: Any) -> int:
        await asyncio.sleep(float(os.environ.get("MATCHING_DELAY", "0")))
        return await real(*args, **kwargs)

    recompute_posting.slowed = True  # type: ignore[attr-defined]
    matching.recompute_posting = recompute_posting
