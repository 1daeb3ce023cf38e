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
in ``Guard.uses``, so that the caller knows the output depends on that value.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from string import Formatter
from typing import Any, Protocol

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

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


class IncludeLoader(Protocol):
    """What MJML calls to read an ``mj-include`` file: its path in, its text out."""

    def __call__(self, path: str) -> str:
        """The text of the file at ``path``."""
        ...


#: The most characters one template may produce.
MAX_OUTPUT = 2_000_000


#: The longest string (or list) any single template operation may make.
MAX_STRING = 1_000_000


#: The largest number a template may pass as a size, count or width.
MAX_TEMPLATE_NUMBER = 100_000


#: The largest integer a template may make, in bits (about 3,000 decimal digits).
MAX_INTEGER_BITS = 10_000


# How deep into nested containers a size is measured; deeper counts as too large.
_DEPTH = 12


_GUARD: ContextVar[Guard | None] = ContextVar("digest_template_guard", default=None)


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")


_SPEC_NUMBERS = re.compile(r"\d+")


#: Filters whose numbers are sizes (widths, counts, lengths).
_SIZING_FILTERS = frozenset(
    {"center", "indent", "wordwrap", "wrap", "truncate", "format", "batch", "slice", "replace"}
)


@dataclass
class Guard:
    """What one render may spend, and what it noted about its markers."""

    deadline: float | None = None
    markers: tuple[str, ...] = ()
    uses: list[str] = field(default_factory=list)

    def tick(self) -> None:
        """Raise once the render has run past its deadline."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SecurityError("the template ran past its time limit")

    def note(self, what: str, values: Iterable[Any]) -> None:
        """Note ``what`` was done to a value holding a marker, if any of ``values`` does."""
        if self.markers and any(_holds_marker(value, self.markers) for value in values):
            self.uses.append(what)


def _holds_marker(value: Any, markers: Sequence[str], depth: int = 2) -> bool:
    if isinstance(value, str):
        return any(marker in value for marker in markers)
    if depth and isinstance(value, Mapping):
        return any(_holds_marker(k, markers, depth - 1) for k in value) or any(
            _holds_marker(v, markers, depth - 1) for v in value.values()
        )
    if depth and isinstance(value, list | tuple | set | frozenset):
        return any(_holds_marker(v, markers, depth - 1) for v in value)
    return False


@contextmanager
def guarded(time_limit: float | None, markers: Sequence[str] = ()) -> Iterator[Guard]:
    """Bound the renders made inside the ``with`` block (in this thread or task)."""
    guard = Guard(
        deadline=None if time_limit is None else time.monotonic() + time_limit,
        markers=tuple(markers),
    )
    token = _GUARD.set(guard)
    try:
        yield guard
    finally:
        _GUARD.reset(token)


def _guard() -> Guard | None:
    guard = _GUARD.get()
    if guard is not None:
        guard.tick()
    return guard


def _size(value: Any) -> int:
    """Characters in ``value``: a string's, or a container's with everything it holds."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple | set | frozenset | Mapping):
        return _held(value, MAX_STRING + 1, _DEPTH)
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 3 + 1  # about its decimal digits
    return len(str(value))


def _held(value: Any, budget: int, depth: int) -> int:
    """``value``'s size, counting stops once it passes ``budget`` (then anything above it)."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, list | tuple | set | frozenset | Mapping):
        return 1
    if depth == 0:
        return budget + 1
    total = len(value)
    items = value.items() if isinstance(value, Mapping) else value
    for item in items:
        total += _held(item, budget - total, depth - 1)
        if total > budget:
            break
    return total


def _check_size(size: int, what: str) -> None:
    if size > MAX_STRING:
        raise SecurityError(f"{what} would make {size:,} characters (at most {MAX_STRING:,})")


def _check_result(result: Any, what: str) -> Any:
    if isinstance(result, str | bytes | list | tuple | set | frozenset | Mapping):
        _check_size(_size(result), what)
    elif isinstance(result, int) and result.bit_length() > MAX_INTEGER_BITS:
        raise SecurityError(f"{what} would make an integer of {result.bit_length():,} bits")
    return result


def _metered(items: Iterable[Any], what: str) -> Iterator[Any]:
    """``items`` as they come, stopped once what they hold passes ``MAX_STRING``."""
    total = 0
    for item in items:
        total += _held(item, MAX_STRING + 1, _DEPTH) + 1
        _check_size(total, what)
        yield item


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
    """Jinja2's ``lipsum`` within ``MAX_STRING`` (it makes ``n`` paragraphs of ``max`` words)."""
    _check_size(n * max * 12, "lipsum()")
    return jinja2.utils.generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _check_numbers(values: Iterable[Any], what: str) -> None:
    for value in values:
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and abs(value) > MAX_TEMPLATE_NUMBER
        ):
            raise SecurityError(f"the number {value} is too large for {what}")


def _percent_size(template: str, args: Any) -> int:
    """An upper bound of the length of ``template % args``."""
    values = list(args.values()) if isinstance(args, Mapping) else args
    values = values if isinstance(values, list | tuple) else [values]
    longest = max((_size(v) for v in values), default=0)
    size = len(template)
    for match in _PERCENT.finditer(template):
        size += longest + sum(int(n) for n in match.groups() if n and n != "*")
        size += MAX_TEMPLATE_NUMBER * sum(1 for n in match.groups() if n == "*")
    return size


def _listed(value: Any) -> Any:
    """An iterable to be joined, as a list (so its size can be known before joining)."""
    if value is None or isinstance(value, list | tuple | str):
        return value
    return list(_metered(value, "join"))


def _consumable(value: Any) -> bool:
    """Whether ``value`` is an iterator a filter would drain (not a container or a string)."""
    return isinstance(value, Iterator) and not isinstance(value, str | bytes)


def _estimate(name: str, target: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> int:
    """An upper bound of the size of ``name`` applied to ``target`` (0 when not estimated)."""
    if name == "format":  # the format filter: ``target % args``
        return _percent_size(str(target), list(args) or dict(kwargs))
    if not isinstance(target, str):
        if name == "join" and isinstance(target, list | tuple):
            return sum(_size(v) for v in target) + len(target) * _size(args[0] if args else "")
        return 0
    length = len(target)

    def arg(index: int, key: str, default: Any) -> Any:
        return args[index] if len(args) > index else kwargs.get(key, default)

    if name == "replace":
        old, new = arg(0, "old", ""), arg(1, "new", "")
        count = target.count(old) if old else length + 1
        limit = arg(2, "count", -1)
        if isinstance(limit, int) and limit >= 0:
            count = min(count, limit)
        return length + count * max(0, _size(new) - (_size(old) if old else 0))
    if name == "expandtabs":
        return length + target.count("\t") * int(arg(0, "tabsize", 8))
    if name in ("zfill", "center", "ljust", "rjust"):
        width = arg(0, "width", 80)
        return max(length, width if isinstance(width, int) else 0)
    if name == "indent":
        width = arg(0, "width", 4)
        unit = len(width) if isinstance(width, str) else int(width)
        return length + (target.count("\n") + 1) * unit
    if name == "wordwrap":
        width = max(1, int(arg(0, "width", 79)))
        wrap = arg(2, "wrapstring", None) or "\n"
        return length + (length // width + target.count("\n") + 1) * len(wrap)
    if name == "wrap":  # digest.text.wrap: a newline and an indent at most every character
        indent = arg(1, "indent", "")
        return length + (length + 1) * (1 + _size(indent))
    if name == "join":
        items = arg(0, "iterable", ())
        if isinstance(items, list | tuple):
            return sum(_size(v) for v in items) + len(items) * length
    if name == "translate":
        table = arg(0, "table", {})
        if isinstance(table, Mapping):
            return length * max((_size(v) for v in table.values() if v is not None), default=1)
    return 0


class _BoundedFormatterMixin(Formatter):
    """``str.format`` in templates: each field's width checked, the total size counted."""

    _made = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_numbers((int(n) for n in _SPEC_NUMBERS.findall(format_spec)), "a format width")
        result = super().format_field(value, format_spec)
        self._made += len(result)
        _check_size(self._made, "str.format")
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
        guard = _guard()
        values = args[skip:]
        if sizing:
            _check_numbers((*values, *kwargs.values()), f"the {name} filter")
        if guard is not None:
            guard.note(f"|{name}", (*values, *kwargs.values()))
        if values and is_filter:
            target = values[0]
            if name == "join":
                target = _listed(target)
                args = (*args[:skip], target, *values[1:])
            elif _consumable(target):  # map, select, list, sort... of a generator
                target = _metered(target, f"the {name} filter")
                args = (*args[:skip], target, *values[1:])
            _check_size(_estimate(name, target, values[1:], kwargs), f"the {name} filter")
        return _check_result(original(*args, **kwargs), f"the {name} filter")

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
        _guard()
        return ""

    def guard_iter(self, iterable: Any) -> Any:
        """Note iterating over a marked string."""
        guard = _guard()
        if guard is not None and isinstance(iterable, str):
            guard.note("for", (iterable,))
        return iterable

    def guard_kept(self, value: Any) -> Any:
        """Measure a value a template keeps with ``{% set %}``."""
        _guard()
        return _check_result(value, "set")

    def guard_value(self, value: Any) -> Any:
        """Note a comparison of a marked value."""
        guard = _guard()
        if guard is not None:
            guard.note("compare", (value,))
        return value

    def guard_concat(self, join: Callable[[Any], str], parts: tuple[Any, ...]) -> str:
        """Join ``parts`` (``~``) once their total size is known to be within bounds."""
        _guard()
        _check_size(sum(_size(p) for p in parts), "~")
        return join(parts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse ``'x' * 10**9``, ``9 ** 99999``, ``'%999999999s' % x`` and huge ``+``."""
        guard = _guard()
        if guard is not None:
            guard.note(operator, (left, right))
        if operator == "*":
            for size, count in ((left, right), (right, left)):
                if isinstance(size, str | bytes | list | tuple) and isinstance(count, int):
                    _check_size(len(size) * count, "a repetition")
        if operator == "**" and isinstance(right, int) and abs(right) > 100:
            raise SecurityError("an exponent that large is not allowed in templates")
        _check_integer_growth(operator, left, right)
        if operator == "%" and isinstance(left, str):
            _check_numbers(
                (int(n) for m in _PERCENT.finditer(left) for n in m.groups() if n and n != "*"),
                "a format width",
            )
            _check_size(_percent_size(left, right), "%")
        if operator == "+" and isinstance(left, str | bytes | list | tuple | Mapping):
            _check_size(_size(left) + _size(right), "+")
        return _check_result(super().call_binop(context, operator, left, right), operator)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Note a method or attribute taken from a marked value."""
        guard = _guard()
        if guard is not None and isinstance(obj, str):
            guard.note(f".{attribute}", (obj,))
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Note indexing a marked value (or by one)."""
        guard = _guard()
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
            _check_size(len(owner), "str.format")
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return functools.update_wrapper(bounded, value)

    def call(self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Check numbers, estimate sizes of growing methods, and measure the result."""
        if getattr(__obj, "__self__", None) is self:  # the compiled guards note for themselves
            return __context.call(__obj, *args, **kwargs)
        guard = _guard()
        _check_numbers((*args, *kwargs.values()), "a template call")
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if guard is not None:
            guard.note(f"{name}()", (*args, *kwargs.values()))
        if isinstance(owner, str | bytes | list | tuple) and name:
            if name == "join" and args:
                args = (_listed(args[0]), *args[1:])
            _check_size(_estimate(name, owner, args, kwargs), f"str.{name}")
        return _check_result(super().call(__context, __obj, *args, **kwargs), f"{name}()")


def _check_integer_growth(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*`` and ``**`` of integers whose result would pass ``MAX_INTEGER_BITS``.

    Estimated before: multiplying two integers of a million bits each takes long enough to
    stall a render inside one operation, where the time limit cannot look.
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right)):
        return
    if operator == "*":
        bits = left.bit_length() + right.bit_length()
    elif operator == "**" and right > 0:
        bits = left.bit_length() * right
    else:
        return
    if bits > MAX_INTEGER_BITS:
        raise SecurityError(f"{operator} would make an integer of about {bits:,} bits")


def _confined(root: Path, relative: str) -> Path | None:
    """``root / relative`` if it is a plain file inside ``root`` reached through no symlink."""
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if not parts or any(p in ("..", "") or ":" in p for p in parts) or relative.startswith("/"):
        return None
    candidate = root
    for part in parts:
        candidate = candidate / part
        if candidate.is_symlink():
            raise SecurityError(f"templates may not be symbolic links: {relative!r}")
    return candidate if candidate.is_file() else None


class ConfinedLoader(jinja2.BaseLoader):
    """Load templates from folders, refusing symlinks and anything outside the folders."""

    def __init__(self, folders: Sequence[Path]) -> None:
        """Search ``folders`` in order."""
        self.roots = [Path(folder).resolve() for folder in folders]

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        """Read ``template`` from the first folder that has it."""
        for root in self.roots:
            path = _confined(root, template)
            if path is None:
                continue
            mtime = path.stat().st_mtime
            source = path.read_text(encoding="utf-8")
            return source, str(path), lambda p=path, m=mtime: p.stat().st_mtime == m
        raise jinja2.TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        """Every template file in the folders (symlinks left out)."""
        found = {
            path.relative_to(root).as_posix()
            for root in self.roots
            for path in root.rglob("*")
            if path.is_file() and not path.is_symlink()
        }
        return sorted(found)


def include_loader(folders: Sequence[Path]) -> IncludeLoader:
    """Load ``mj-include`` files from the template folders only (no ``..``, no symlinks)."""
    roots = [folder.resolve() for folder in folders]

    def load(path: str) -> str:
        try:
            for root in roots:
                candidate = _confined(root, path)
                if candidate is not None:
                    return candidate.read_text(encoding="utf-8")
        except SecurityError as error:
            raise ValueError(f"mj-include: {error}") from None
        if ":" in path or path.startswith("/") or ".." in path.replace("\\", "/").split("/"):
            raise ValueError(f"mj-include may only name a file in the template folder: {path!r}")
        raise ValueError(f"mj-include: no such file in the template folder: {path!r}")

    return load
