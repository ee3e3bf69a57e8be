"""Fields that are either already fetched or loaded on demand.

A hot list query joins related rows and stores plain objects in the fields; elsewhere the field
holds a `Lazy` that calls a DataLoader only if the client selects it. The schema's default
resolver (see schema.py) calls a `Lazy` it finds, so neither case needs a per-field resolver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Lazy:
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn


def default_resolver(obj: Any, name: str) -> Any:
    value = getattr(obj, name)
    if value.__class__ is Lazy:
        return value.fn()
    return value
