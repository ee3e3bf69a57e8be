"""Loaded by the worker processes of tests/scale/test_processes.py (after
`tests.mobility.slow_matching_boot`): every run of the matching actor's recompute appends
`start <message id>` before and `end <message id>` after it to the file named by
`UPWARD_TEST_ACTOR_LOG`, so that a test sees which message ran, when, and how many times,
across processes and restarts."""

from __future__ import annotations

import functools
import os
from typing import Any

ENV = "UPWARD_TEST_ACTOR_LOG"


def _append(line: str) -> None:
    with open(os.environ[ENV], "a", encoding="utf-8") as f:  # O_APPEND: one write per line
        f.write(line + "\n")


def install() -> None:
    from dramatiq.middleware import CurrentMessage

    from upward.mobility import matching

    real = matching.recompute_posting

    @functools.wraps(real)
    async def recompute_posting(*args: Any, **kwargs: Any) -> int:
        message = CurrentMessage.get_current_message()
        mid = message.message_id if message else "-"
        _append(f"start {mid}")
        result = await real(*args, **kwargs)
        _append(f"end {mid}")
        return result

    matching.recompute_posting = recompute_posting


if os.environ.get(ENV):
    install()
