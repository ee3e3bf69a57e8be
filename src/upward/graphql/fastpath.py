"""A faster completion of plain data for graphql-core.

graphql-core completes every field of every object through the general machinery (resolve info,
resolver call, awaitable checks, path bookkeeping), which dominates the cost of a list page. Most
fields of a page are plain attributes already fetched by the root resolver. For an object whose
selected fields are all such "basic" fields (no resolver, no arguments, no @defer), this
execution context compiles the selection once per document into a small Python function that
reads the attributes and serializes the leaves directly.

Semantics are those of the general path: if anything is not plain data (a `Lazy` field, an
awaitable, a null in a non-null position, a serialization error), the object is completed again
through the general path, which reports the error with its path as usual. Resolver fields,
abstract types and deferred fragments are never compiled.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)

from upward.graphql.lazy import Lazy
from upward.graphql.scopes import ScopedExecutionContext


class _Fallback(Exception):
    pass


_NOT_COMPILABLE = object()
_AS_IS = {"String": "str", "ID": "str", "Boolean": "bool"}  # not Int: it checks the range
_counter = itertools.count()


# Compiled plans, shared by requests: the parser cache hands every request of the same query
# the same AST nodes, so (type, field nodes) identifies a selection. The nodes are kept alive
# with the plan so their ids cannot be reused. Fragments are part of the document, so they
# are fine; documents with directives are not compiled (their selections depend on variables).
_PLANS: dict[tuple[Any, tuple[int, ...]], tuple[tuple[Any, ...], Any]] = {}
_MAX_PLANS = 4096
_DIRECTIVE_FREE: dict[int, tuple[Any, bool]] = {}


def _has_directives(document: Any) -> bool:
    from graphql import visit
    from graphql.language import Visitor

    found = False

    class V(Visitor):
        def enter_directive(self, *_: Any) -> Any:
            nonlocal found
            found = True
            return Visitor.BREAK

    visit(document, V())
    return found


class FastExecutionContext(ScopedExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        doc = self.operation
        cached = _DIRECTIVE_FREE.get(id(doc))
        if cached is None or cached[0] is not doc:
            if len(_DIRECTIVE_FREE) > _MAX_PLANS:
                _DIRECTIVE_FREE.clear()
            cached = (doc, not _has_directives(doc))
            _DIRECTIVE_FREE[id(doc)] = cached
        self._enabled = cached[1]

    # --- hooks -----------------------------------------------------------------------------

    def complete_object_value(  # type: ignore[override]
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        fn = self._plan(return_type, field_details_list)
        if fn is not None:
            try:
                return fn(result)
            except Exception:  # noqa: S110 - redone by the general path, which reports it
                pass
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_list_value(  # type: ignore[override]
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        item_type = return_type.of_type
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if isinstance(inner, GraphQLObjectType) and isinstance(result, (list, tuple)):
            fn = self._plan(inner, field_details_list)
            if fn is not None:
                try:
                    return [fn(item) for item in result]
                except Exception:  # noqa: S110 - redone by the general path
                    pass
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    # --- compilation -----------------------------------------------------------------------

    def _plan(self, return_type: GraphQLObjectType, field_details_list: Any) -> Callable | None:
        if not self._enabled:
            return None
        nodes = tuple(fd.node for fd in field_details_list)
        key = (return_type, tuple(map(id, nodes)))
        cached = _PLANS.get(key)
        if cached is None or any(a is not b for a, b in zip(cached[0], nodes, strict=True)):
            fn = self._compile(return_type, field_details_list)
            if len(_PLANS) > _MAX_PLANS:
                _PLANS.clear()
            cached = (nodes, fn if fn is not None else _NOT_COMPILABLE)
            _PLANS[key] = cached
        fn = cached[1]
        return None if fn is _NOT_COMPILABLE else fn

    def _compile(self, object_type: GraphQLObjectType, field_details_list: Any) -> Callable | None:
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        env: dict[str, Any] = {"Lazy": Lazy, "FB": _Fallback}
        lines = ["def complete(src):"]
        is_type_of = object_type.is_type_of
        if is_type_of is not None:
            # is_type_of is an isinstance check: remember the classes that passed it
            env["is_type_of"] = is_type_of
            env["ok_classes"] = set()
            lines.append("    if src.__class__ not in ok_classes:")
            lines.append("        if not is_type_of(src, None): raise FB")
            lines.append("        if not hasattr(src, '__as_strawberry_type__'):")
            lines.append("            ok_classes.add(src.__class__)")
        lines.append("    out = {}")
        for response_key, fdl in grouped.items():
            node = fdl[0].node
            name = node.name.value
            if name == "__typename":
                lines.append(f"    out[{response_key!r}] = {object_type.name!r}")
                continue
            field_def = object_type.fields.get(name)
            if field_def is None or field_def.args:
                return None
            resolver = field_def.resolve
            if resolver is None or not getattr(resolver, "_is_default", False):
                return None
            definition = (field_def.extensions or {}).get("strawberry-definition")
            if definition is None or getattr(definition, "base_resolver", None) is not None:
                return None
            attr = definition.python_name
            value_code = self._value_code(field_def.type, fdl, env)
            if value_code is None:
                return None
            lines.append(f"    v = src.{attr}")
            lines.extend("    " + line for line in value_code("v", f"out[{response_key!r}]"))
        lines.append("    return out")
        code = "\n".join(lines)
        exec(compile(code, f"<fastpath {object_type.name}>", "exec"), env)  # noqa: S102
        return env["complete"]

    def _value_code(
        self, gql_type: Any, fdl: Any, env: dict[str, Any]
    ) -> Callable[[str, str], list[str]] | None:
        non_null = isinstance(gql_type, GraphQLNonNull)
        inner = gql_type.of_type if non_null else gql_type
        null_line = "raise FB" if non_null else "{target} = None"

        def through(
            complete_value: Callable[[Any], Any],
            unusual: str = "{var}.__class__ is Lazy",
            as_is: str | None = None,
        ) -> Callable[[str, str], list[str]]:
            """Lines that complete `var` into `target` with `complete_value`: null as the type
            allows, values of class `as_is` unchanged (what the serializer would return),
            anything `unusual` back to the general path."""
            fn = f"f{next(_counter)}"
            env[fn] = complete_value

            def lines(var: str, target: str) -> list[str]:
                out = [f"if {var} is None: " + null_line.format(target=target)]
                if as_is is not None:
                    out.append(f"elif {var}.__class__ is {as_is}: {target} = {var}")
                return [
                    *out,
                    f"elif {unusual.format(var=var)}: raise FB",
                    f"else: {target} = {fn}({var})",
                ]

            return lines

        if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
            # graphql-core's String and ID serializers return a str unchanged and Boolean a
            # bool: skip the call for those
            return through(inner.serialize, as_is=_AS_IS.get(inner.name))

        if isinstance(inner, GraphQLObjectType):
            sub = self._plan(inner, fdl)
            return through(sub) if sub is not None else None

        if isinstance(inner, GraphQLList):
            item = self._value_code(inner.of_type, fdl, env)
            if item is None:
                return None
            helper = f"items{next(_counter)}"
            item_lines = item("x", "r")
            env_code = "\n".join(
                [f"def {helper}(xs):", "    acc = []", "    for x in xs:"]
                + ["        " + line for line in item_lines]
                + ["        acc.append(r)", "    return acc"]
            )
            exec(compile(env_code, f"<fastpath list {helper}>", "exec"), env)  # noqa: S102
            return through(env[helper], unusual="not isinstance({var}, (list, tuple))")
        return None  # interfaces and unions go through the general path
