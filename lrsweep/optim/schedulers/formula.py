"""A small safe arithmetic evaluator for formulas like ``"0.95 ** epoch"`` (never ``eval``).

The text is parsed with :mod:`ast` and walked node by node; only these are allowed:
numbers, the caller's variable names, the constants ``pi`` and ``e``, ``+ - * / // % **``,
unary ``-``/``+``, comparisons, ``and``/``or``/``not``, ``x if cond else y``, and calls of
the functions in :data:`FUNCTIONS`. All arithmetic is done in floats, so a huge power such as
``10 ** 10 ** 10`` overflows at once (and is refused) instead of building a giant integer.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable
from typing import Any

from lrsweep.errors import ConfigError, shown

MAX_LENGTH = 500  # characters; a formula is one short expression

FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {  # name -> (function, min args, max args)
    "exp": (math.exp, 1, 1),
    "log": (math.log, 1, 2),
    "sqrt": (math.sqrt, 1, 1),
    "cos": (math.cos, 1, 1),
    "sin": (math.sin, 1, 1),
    "abs": (abs, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "min": (min, 2, None),
    "max": (max, 2, None),
}
CONSTANTS = {"pi": math.pi, "e": math.e}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_KINDS = {  # how a refused node is named in the message
    ast.Attribute: "attribute access",
    ast.Subscript: "subscript",
    ast.Lambda: "lambda",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.JoinedStr: "f-string",
    ast.ListComp: "comprehension",
    ast.GeneratorExp: "generator",
    ast.Starred: "star-argument",
    ast.NamedExpr: "assignment",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.BitAnd: "operator '&'",
    ast.BitOr: "operator '|'",
    ast.BitXor: "operator '^'",
    ast.LShift: "operator '<<'",
    ast.RShift: "operator '>>'",
    ast.MatMult: "operator '@'",
    ast.Invert: "operator '~'",
    ast.Is: "'is'",
    ast.IsNot: "'is not'",
    ast.In: "'in'",
    ast.NotIn: "'not in'",
}


def allowed_text(names: Iterable[str]) -> str:
    """One line saying what a formula may contain (for error messages and ``--list``)."""
    return (
        f"numbers, {', '.join(names)}, pi, e, + - * / // % **, comparisons, and/or/not, "
        f"'x if cond else y', and the functions {', '.join(sorted(FUNCTIONS))}"
    )


class Formula:
    """A parsed formula of one variable; ``formula(x)`` evaluates it with every name bound to ``x``.

    Picklable and comparable by text. Evaluation errors (overflow, division by zero, a math
    domain error, a non-finite or complex result) raise :class:`ConfigError` naming the value.
    """

    def __init__(self, text: str, names: tuple[str, ...], tree: ast.Expression, key: str | None = None):
        self.text, self.names, self.tree, self.key = text, names, tree, key

    def __call__(self, x: float) -> float:
        env = {name: float(x) for name in self.names}
        try:
            value = _evaluate(self.tree.body, env)
            if isinstance(value, complex):
                raise ValueError("the result is a complex number")
            value = float(value)
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise self._error(f"fails at {self.names[0]}={x:g}: {_reason(exc)}") from None
        if not math.isfinite(value):
            raise self._error(f"is not finite at {self.names[0]}={x:g} (got {value})")
        return value

    def _error(self, message: str) -> ConfigError:
        return ConfigError(f"formula {_short(self.text)} {message}", key=self.key)

    def __repr__(self) -> str:
        return f"Formula({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Formula) and (self.text, self.names) == (other.text, other.names)

    def __hash__(self) -> int:
        return hash((self.text, self.names))


def compile_formula(text: Any, names: Iterable[str] = ("epoch",), key: str | None = None) -> Formula:
    """Parse and check ``text``; every disallowed element is refused here, before any training.

    Args:
        text: the formula (a number is accepted and used as a constant).
        names: the variable names allowed, all bound to the one argument at evaluation.
        key: the config key the formula came from, for messages.
    Returns:
        A callable :class:`Formula`. It is evaluated once at ``0`` as a check.
    """
    names = tuple(names)
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ConfigError(f"a formula must be a string like '0.95 ** {names[0]}', got {shown(text)}", key=key)
    text = str(text).strip()
    if not text:
        raise ConfigError("the formula is empty", key=key)
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"formula is {len(text)} characters long (limit {MAX_LENGTH})", key=key)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"formula {_short(text)} is not valid syntax: {exc.msg}", key=key) from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError(f"formula {_short(text)} cannot be parsed (too deeply nested?)", key=key) from None
    callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree.body):
        problem = _refusal(node, names, callees)
        if problem:
            raise ConfigError(
                f"formula {_short(text)}: {problem} is not allowed (allowed: {allowed_text(names)})", key=key
            )
    formula = Formula(text, names, tree, key)
    formula(0)  # constant parts that overflow (10 ** 10 ** 10) fail here, at config time
    return formula


def _refusal(node: ast.AST, names: tuple[str, ...], callees: set[int]) -> str | None:
    """Why ``node`` is refused, or None when it is allowed (``callees``: ids of called names)."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"the constant {value!r}"
        if isinstance(value, int) and abs(value) > 1e300:
            return f"the number {str(value)[:20]}…"
        return None
    if isinstance(node, ast.Name):
        if node.id in names or node.id in CONSTANTS or (node.id in FUNCTIONS and id(node) in callees):
            return None
        if node.id in FUNCTIONS:
            return f"the function '{node.id}' without a call"
        return f"the name '{node.id}'"
    if isinstance(node, ast.Call):
        return _call_refusal(node)
    if isinstance(node, ast.Attribute):
        return f"attribute access '.{node.attr}'"
    allowed = (
        ast.BinOp,
        ast.UnaryOp,
        ast.Compare,
        ast.BoolOp,
        ast.IfExp,
        ast.Load,
        ast.And,
        ast.Or,
        *_BINARY,
        *_UNARY,
        *_COMPARE,
    )
    if isinstance(node, allowed):
        return None
    return _KINDS.get(type(node), f"'{type(node).__name__}'")


def _call_refusal(node: ast.Call) -> str | None:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        return f"calling '{what}'"
    if node.keywords:
        return f"keyword arguments to '{node.func.id}'"
    _, low, high = FUNCTIONS[node.func.id]
    count = len(node.args)
    if count < low or (high is not None and count > high):
        wanted = str(low) if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        return f"'{node.func.id}' with {count} argument(s) (it takes {wanted})"
    return None


def _evaluate(node: ast.AST, env: dict[str, float]) -> Any:
    """Walk a checked tree; every number is a float so powers overflow instead of growing."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):  # _refusal let only numbers in
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id] if node.id in env else CONSTANTS[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, env), _evaluate(node.right, env))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, env))
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, env)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, env)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        return _bool_op(node, env)
    if isinstance(node, ast.IfExp):
        return _evaluate(node.body if _evaluate(node.test, env) else node.orelse, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):  # _refusal let only named calls in
        function = FUNCTIONS[node.func.id][0]
        return float(function(*(_evaluate(arg, env) for arg in node.args)))
    raise TypeError(f"unexpected element {type(node).__name__}")  # unreachable after _refusal


def _bool_op(node: ast.BoolOp, env: dict[str, float]) -> Any:
    value: Any = None
    for operand in node.values:
        value = _evaluate(operand, env)
        if isinstance(node.op, ast.And) and not value:
            return value
        if isinstance(node.op, ast.Or) and value:
            return value
    return value


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _reason(exc: Exception) -> str:
    if isinstance(exc, OverflowError):
        return "the result is too large (overflow)"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return str(exc) or type(exc).__name__
