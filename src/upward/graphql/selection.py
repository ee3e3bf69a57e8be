"""Read what the client selected, through fragments, to fetch it up front."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField


def _fields(selections: Iterable[Any]) -> Iterable[SelectedField]:
    for sel in selections:
        if isinstance(sel, SelectedField):
            yield sel
        elif isinstance(sel, (FragmentSpread, InlineFragment)):
            yield from _fields(sel.selections)


class Selection:
    """What the client selected below the current field, converted once: strawberry rebuilds
    the whole tree on every `info.selected_fields`, and a list field asks several questions."""

    __slots__ = ("_top",)

    def __init__(self, info: Any) -> None:
        self._top = [sel for field in info.selected_fields for sel in field.selections]

    def names(self, path: tuple[str, ...]) -> frozenset[str]:
        """Every field name selected at `path` (any alias, through fragments; fields under
        @include/@skip count as selected)."""
        level: list[Any] = self._top
        for name in path:
            nxt: list[Any] = []
            for f in _fields(level):
                if f.name == name:
                    nxt.extend(f.selections)
            level = nxt
        return frozenset(f.name for f in _fields(level))
