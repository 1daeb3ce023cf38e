"""The template sandbox: Jinja2's immutable sandbox with bounds on size, time and files.

User templates may not read files outside their folders (no symlinks either), make a string
or list longer than ``MAX_STRING`` by any route (repetition, ``~``, ``+``, ``format``, ``%``,
``replace``, ``join``, ``indent``, ``zfill``, ``expandtabs``, ``center``, ``wordwrap``...), use
numbers above ``MAX_TEMPLATE_NUMBER`` as sizes, make integers of more than
``MAX_INTEGER_BITS`` bits, or run longer than the render's time limit. Sizes are estimated
*before* an operation that could grow without bound; every other filter, call and operator
result is measured after it. A list, tuple, set or mapping is measured with what it holds
(its strings' characters, nested containers too), so a namespace that gathers a large string
per loop turn is stopped as soon as the whole passes ``MAX_STRING``; a filter that consumes a
generator (``map``, ``select``, then ``join`` or ``list``) meters it item by item.

A render may also name *markers* (strings that stand for values filled in later): every
operation other than printing, joining or testing for truth on a value holding one is noted
in ``Guard.uses``, so that the caller knows the output depends on that value. The bounds, the
guard and the measures are ``digest.render.limits``; the file loaders ``digest.render.loaders``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from string import Formatter
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

from digest.render.limits import (
    MAX_INTEGER_BITS,
    MAX_OUTPUT,
    MAX_STRING,
    MAX_TEMPLATE_NUMBER,
    PERCENT_FIELD,
    Guard,
    check_integer_growth,
    check_numbers,
    check_result,
    check_size,
    consumable,
    current_guard,
    estimate,
    guarded,
    listed,
    metered,
    percent_size,
    size_of,
)
from digest.render.loaders import ConfinedLoader, include_loader

__all__ = [
    "MAX_INTEGER_BITS",
    "MAX_OUTPUT",
    "MAX_STRING",
    "MAX_TEMPLATE_NUMBER",
    "BoundedSandbox",
    "ConfinedLoader",
    "Guard",
    "guarded",
    "include_loader",
]


_SPEC_NUMBERS = re.compile(r"\d+")


#: Filters whose numbers are sizes (widths, counts, lengths).
_SIZING_FILTERS = frozenset(
    {"center", "indent", "wordwrap", "wrap", "truncate", "format", "batch", "slice", "replace"}
)


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
    """Jinja2's ``lipsum`` within ``MAX_STRING`` (it makes ``n`` paragraphs of ``max`` words)."""
    check_size(n * max * 12, "lipsum()")
    return jinja2.utils.generate_lorem_ipsum(n=n, html=html, min=min, max=max)


class _BoundedFormatterMixin(Formatter):
    """``str.format`` in templates: each field's width checked, the total size counted."""

    _made = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        check_numbers((int(n) for n in _SPEC_NUMBERS.findall(format_spec)), "a format width")
        result = super().format_field(value, format_spec)
        self._made += len(result)
        check_size(self._made, "str.format")
        return result


class _BoundedFormatter(_BoundedFormatterMixin, SandboxedFormatter):
    pass


class _BoundedEscapeFormatter(_BoundedFormatterMixin, SandboxedFormatter, EscapeFormatter):
    pass


def _wrap_for(is_filter: bool, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """Bound a filter (or test): numbers, estimated size before, size after, markers noted."""
    # Filters marked with Jinja2's pass_context (or eval context, environment) take it first.
    skip = 0 if getattr(original, "jinja_pass_arg", None) is None else 1
    sizing = name in _SIZING_FILTERS

    @functools.wraps(original)  # keeps Jinja2's pass_* markers
    def bounded(*args: Any, **kwargs: Any) -> Any:
        guard = current_guard()
        values = args[skip:]
        if sizing:
            check_numbers((*values, *kwargs.values()), f"the {name} filter")
        if guard is not None:
            guard.note(f"|{name}", (*values, *kwargs.values()))
        if values and is_filter:
            target = values[0]
            if name == "join":
                target = listed(target)
                args = (*args[:skip], target, *values[1:])
            elif consumable(target):  # map, select, list, sort... of a generator
                target = metered(target, f"the {name} filter")
                args = (*args[:skip], target, *values[1:])
            check_size(estimate(name, target, values[1:], kwargs), f"the {name} filter")
        return check_result(original(*args, **kwargs), f"the {name} filter")

    return bounded


class _GuardedCodeGenerator(CodeGenerator):
    """Compiles templates with guards: loops and macros tick, ``~`` and comparisons checked."""

    def _guard_call(self, name: str, *args: nodes.Node) -> nodes.Call:
        return nodes.Call(nodes.EnvironmentAttribute(name), list(args), [], None, None)

    def _ticked(self, body: list[nodes.Node]) -> list[nodes.Node]:
        return [nodes.ExprStmt(self._guard_call("guard_tick")), *body]

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        """Every iteration ticks; iterating a marked string is noted."""
        node.iter = self._guard_call("guard_iter", node.iter)
        node.body = self._ticked(node.body)
        super().visit_For(node, frame)

    def visit_Macro(self, node: nodes.Macro, frame: Frame) -> None:
        """Every macro call ticks (recursion cannot run unbounded)."""
        node.body = self._ticked(node.body)
        super().visit_Macro(node, frame)

    def visit_CallBlock(self, node: nodes.CallBlock, frame: Frame) -> None:
        """Every ``caller()`` ticks."""
        node.body = self._ticked(node.body)
        super().visit_CallBlock(node, frame)

    def visit_Assign(self, node: nodes.Assign, frame: Frame) -> None:
        """``{% set %}``: what is kept (in a namespace too) is measured with all it holds."""
        node.node = self._guard_call("guard_kept", node.node)
        super().visit_Assign(node, frame)

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:
        """Comparing a marked value is noted."""
        node.expr = self._guard_call("guard_value", node.expr)
        for operand in node.ops:
            operand.expr = self._guard_call("guard_value", operand.expr)
        super().visit_Compare(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """``a ~ b``: the size is checked before the strings are joined."""
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.guard_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, bounded in size, numbers and time (see the module)."""

    code_generator_class = _GuardedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(
        self, filters: Mapping[str, Callable[..., Any]] | None = None, **options: Any
    ) -> None:
        """Make the environment (with extra ``filters``) and bound every filter and test."""
        super().__init__(**options)
        self.globals["lipsum"] = _bounded_lipsum
        self.filters.update(filters or {})
        self.filters = {k: _wrap_for(True, k, f) for k, f in self.filters.items()}
        self.tests = {k: _wrap_for(False, k, f) for k, f in self.tests.items()}  # type: ignore[arg-type]

    def guard_tick(self) -> str:
        """Check the time limit (called on every loop iteration and macro call)."""
        current_guard()
        return ""

    def guard_iter(self, iterable: Any) -> Any:
        """Note iterating over a marked string."""
        guard = current_guard()
        if guard is not None and isinstance(iterable, str):
            guard.note("for", (iterable,))
        return iterable

    def guard_kept(self, value: Any) -> Any:
        """Measure a value a template keeps with ``{% set %}``."""
        current_guard()
        return check_result(value, "set")

    def guard_value(self, value: Any) -> Any:
        """Note a comparison of a marked value."""
        guard = current_guard()
        if guard is not None:
            guard.note("compare", (value,))
        return value

    def guard_concat(self, join: Callable[[Any], str], parts: tuple[Any, ...]) -> str:
        """Join ``parts`` (``~``) once their total size is known to be within bounds."""
        current_guard()
        check_size(sum(size_of(p) for p in parts), "~")
        return join(parts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse ``'x' * 10**9``, ``9 ** 99999``, ``'%999999999s' % x`` and huge ``+``."""
        guard = current_guard()
        if guard is not None:
            guard.note(operator, (left, right))
        if operator == "*":
            for size, count in ((left, right), (right, left)):
                if isinstance(size, str | bytes | list | tuple) and isinstance(count, int):
                    check_size(len(size) * count, "a repetition")
        if operator == "**" and isinstance(right, int) and abs(right) > 100:
            raise SecurityError("an exponent that large is not allowed in templates")
        check_integer_growth(operator, left, right)
        if operator == "%" and isinstance(left, str):
            check_numbers(
                (
                    int(n)
                    for m in PERCENT_FIELD.finditer(left)
                    for n in m.groups()
                    if n and n != "*"
                ),
                "a format width",
            )
            check_size(percent_size(left, right), "%")
        if operator == "+" and isinstance(left, str | bytes | list | tuple | Mapping):
            check_size(size_of(left) + size_of(right), "+")
        return check_result(super().call_binop(context, operator, left, right), operator)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Note a method or attribute taken from a marked value."""
        guard = current_guard()
        if guard is not None and isinstance(obj, str):
            guard.note(f".{attribute}", (obj,))
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Note indexing a marked value (or by one)."""
        guard = current_guard()
        if guard is not None:
            guard.note("[]", (obj, argument))
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` and ``format_map`` with each field's width and the total bounded."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        owner: str = value.__self__
        formatter: SandboxedFormatter = (
            _BoundedEscapeFormatter(self, escape=owner.escape)
            if isinstance(owner, Markup)
            else _BoundedFormatter(self)
        )
        is_map = value.__name__ == "format_map"

        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            check_size(len(owner), "str.format")
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return functools.update_wrapper(bounded, value)

    def call(self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Check numbers, estimate sizes of growing methods, and measure the result."""
        if getattr(__obj, "__self__", None) is self:  # the compiled guards note for themselves
            return __context.call(__obj, *args, **kwargs)
        guard = current_guard()
        check_numbers((*args, *kwargs.values()), "a template call")
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if guard is not None:
            guard.note(f"{name}()", (*args, *kwargs.values()))
        if isinstance(owner, str | bytes | list | tuple) and name:
            if name == "join" and args:
                args = (listed(args[0]), *args[1:])
            check_size(estimate(name, owner, args, kwargs), f"str.{name}")
        return check_result(super().call(__context, __obj, *args, **kwargs), f"{name}()")
