"""A static cost limit: page sizes multiply through nested lists.

`employees(first: 100) { edges { node { directReports(first: 100) { ... } } } }` asks for up to
10,000 people; one more level, a million. The depth limit alone does not stop that. This
validation rule estimates, per operation, how many objects the selection can return: each
object field counts 1 plus what is selected inside it, times its page size (`first`/`last`;
100 when the value comes from a variable; 20 for a connection given neither, its default), so
nested pages multiply. Above the limit the operation is refused before it runs
(QUERY_TOO_COMPLEX). Fragments are followed; the estimate depends only on the document, so it
is cached with the rest of validation.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
)

DEFAULT_PAGE = 20
MAX_PAGE = 100


def _page_size(field: FieldNode) -> int:
    size = 1
    for arg in field.arguments or ():
        if arg.name.value in ("first", "last"):
            value = arg.value
            if isinstance(value, IntValueNode):
                size = max(1, min(int(value.value), MAX_PAGE))
            elif isinstance(value, VariableNode):
                size = MAX_PAGE
            return size
    return DEFAULT_PAGE if _is_connection(field) else 1


def _is_connection(field: FieldNode) -> bool:
    selections = field.selection_set.selections if field.selection_set else ()
    return any(isinstance(s, FieldNode) and s.name.value == "edges" for s in selections)


def make_cost_rule(max_cost: int) -> type[ValidationRule]:
    class QueryCostRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                f.name.value: f
                for f in self.context.document.definitions
                if f.kind == "fragment_definition"
            }
            cost = self._cost(node.selection_set, fragments, set())
            if cost > max_cost:
                name = node.name.value if node.name else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"'{name}' has a query cost of {cost}, above the limit of {max_cost} "
                        "(page sizes multiply through nested lists: ask for smaller pages)",
                        node,
                    )
                )

        def _cost(
            self, selection_set: SelectionSetNode | None, fragments: dict[str, Any], seen: set[str]
        ) -> int:
            if selection_set is None:
                return 0
            total = 0
            for sel in selection_set.selections:
                if isinstance(sel, FieldNode):
                    if sel.selection_set is not None:  # an object (or a list of them)
                        inner = self._cost(sel.selection_set, fragments, seen)
                        total += _page_size(sel) * (1 + inner)
                elif isinstance(sel, InlineFragmentNode):
                    total += self._cost(sel.selection_set, fragments, seen)
                elif isinstance(sel, FragmentSpreadNode):
                    name = sel.name.value
                    if name in fragments and name not in seen:  # cycles are a validation error
                        total += self._cost(fragments[name].selection_set, fragments, seen | {name})
            return total

    return QueryCostRule
