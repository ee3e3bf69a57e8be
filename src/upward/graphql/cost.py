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
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
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


MUTATION_FIELD_COST = 10  # a write costs more than reading one object


def selection_cost(
    selection_set: SelectionSetNode | None, fragments: dict[str, Any], seen: frozenset[str]
) -> int:
    """Objects `selection_set` can return, page sizes multiplied through nested lists."""
    if selection_set is None:
        return 0
    total = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.selection_set is not None:  # an object (or a list of them)
                inner = selection_cost(sel.selection_set, fragments, seen)
                total += _page_size(sel) * (1 + inner)
        elif isinstance(sel, InlineFragmentNode):
            total += selection_cost(sel.selection_set, fragments, seen)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            if name in fragments and name not in seen:  # cycles are a validation error
                total += selection_cost(fragments[name].selection_set, fragments, seen | {name})
    return total


def _fragments(document: DocumentNode) -> dict[str, Any]:
    return {f.name.value: f for f in document.definitions if f.kind == "fragment_definition"}


_COSTS: dict[tuple[int, str | None], tuple[DocumentNode, int]] = {}


def request_cost(document: DocumentNode, operation_name: str | None) -> int:
    """What a request is charged against its rate-limit budget: 1, plus the objects the
    operation may return, plus MUTATION_FIELD_COST per mutation field. Cached per document
    (parsed documents are cached by text, so a repeated query costs a dict lookup)."""
    hit = _COSTS.get((id(document), operation_name))
    if hit is not None and hit[0] is document:
        return hit[1]
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in ops if o.name and o.name.value == operation_name), None)
    if op is None:
        op = ops[0] if ops else None
    cost = 1
    if op is not None:
        fragments = _fragments(document)
        cost += selection_cost(op.selection_set, fragments, frozenset())
        if op.operation == OperationType.MUTATION:
            cost += MUTATION_FIELD_COST * len(op.selection_set.selections)
    if len(_COSTS) > 4096:
        _COSTS.clear()
    _COSTS[(id(document), operation_name)] = (document, cost)
    return cost


def make_cost_rule(max_cost: int) -> type[ValidationRule]:
    class QueryCostRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = _fragments(self.context.document)
            cost = selection_cost(node.selection_set, fragments, frozenset())
            if cost > max_cost:
                name = node.name.value if node.name else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"'{name}' has a query cost of {cost}, above the limit of {max_cost} "
                        "(page sizes multiply through nested lists: ask for smaller pages)",
                        node,
                        extensions={"cost": cost, "maximumCost": max_cost},
                    )
                )

    return QueryCostRule
