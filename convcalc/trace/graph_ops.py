"""The graph form's primitive operations, micrograd style: each op's forward and its local
backward side by side, plus its shape rule and the rule as the course writes it.

Arrays are float64 or ``dtype=object`` (exact ints/Fractions, symbolic numbers); only
arithmetic, comparisons, ``np.where``, sums and matmul are used, so exact stays exact.
``backward(dy, inputs, out)`` returns one gradient per input, shaped like that input
(broadcast axes of add/sub/mul summed back, as autograd does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from convcalc.compute import activations
from convcalc.compute.broadcast import unbroadcast
from convcalc.compute.scalars import constant
from convcalc.errors import InputError


@dataclass(frozen=True)
class Op:
    name: str
    arity: tuple[int, int]  # (fewest, most) inputs
    formula: str  # the forward rule with A, B for the inputs and Y for the output
    rules: tuple[str, ...]  # the local backward rule for each input, in order
    shape: Callable[[Sequence[tuple[int, ...]]], tuple[int, ...]]
    forward: Callable[..., np.ndarray]
    backward: Callable[..., tuple[np.ndarray, ...]]


def _text(shape) -> str:
    return "x".join(map(str, shape)) if shape else "a single number"


# --- matmul ------------------------------------------------------------------------------------


def _matmul_shape(shapes):
    a, b = shapes
    if not 1 <= len(a) <= 2 or not 1 <= len(b) <= 2:
        raise InputError(f"matmul takes vectors or matrices; got {_text(a)} and {_text(b)}")
    if a[-1] != b[0]:
        raise InputError(f"matmul: the inner sizes differ: {_text(a)} · {_text(b)} needs {a[-1]} = {b[0]}")
    return a[:-1] + b[1:]


def _as_matrices(a, b):
    return (a.reshape(1, -1) if a.ndim == 1 else a), (b.reshape(-1, 1) if b.ndim == 1 else b)


def _matmul(a, b):
    """Y = A·B."""
    a2, b2 = _as_matrices(a, b)
    return (a2 @ b2).reshape(_matmul_shape([a.shape, b.shape]))


def _matmul_backward(dy, inputs, out):
    """δA = δY·Bᵀ, δB = Aᵀ·δY."""
    a, b = inputs
    a2, b2 = _as_matrices(a, b)
    dy2 = dy.reshape(a2.shape[0], b2.shape[1])
    return (dy2 @ b2.T).reshape(a.shape), (a2.T @ dy2).reshape(b.shape)


# --- element-wise with broadcasting ------------------------------------------------------------


def _broadcast_shape(shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise InputError(
            f"the shapes {' and '.join(_text(s) for s in shapes)} do not broadcast together "
            "(NumPy/PyTorch rules: equal sizes, or 1, counted from the last axis)"
        ) from None


def _add(a, b):
    """Y = A + B."""
    return np.asarray(a + b)


def _add_backward(dy, inputs, out):
    """δA = δY, δB = δY."""
    a, b = inputs
    return unbroadcast(dy, a.shape), unbroadcast(dy, b.shape)


def _sub(a, b):
    """Y = A − B."""
    return np.asarray(a - b)


def _sub_backward(dy, inputs, out):
    """δA = δY, δB = −δY."""
    a, b = inputs
    return unbroadcast(dy, a.shape), unbroadcast(-dy, b.shape)


def _mul(a, b):
    """Y = A ⊙ B (element-wise)."""
    return np.asarray(a * b)


def _mul_backward(dy, inputs, out):
    """δA = δY ⊙ B, δB = δY ⊙ A."""
    a, b = inputs
    return unbroadcast(dy * b, a.shape), unbroadcast(dy * a, b.shape)


# --- relu --------------------------------------------------------------------------------------


def _relu(a):
    """Y = max(A, 0): the ReLU of the layer types (convcalc.compute.activations)."""
    return activations.forward("relu", a)[0]


def _relu_backward(dy, inputs, out):
    """δA = δY ⊙ [A > 0] (ReLU′(0) = 0)."""
    (a,) = inputs
    return (activations.backward("relu", dy, a > 0),)


# --- reductions --------------------------------------------------------------------------------


def _scalar(value, like: np.ndarray) -> np.ndarray:
    out = np.empty((), dtype=like.dtype)
    out[()] = value
    return out


def _sum(a):
    """Y = Σ A."""
    total = 0
    for v in a.flat:
        total = total + v
    return _scalar(total, a)


def _sum_backward(dy, inputs, out):
    """δA = δY (every entry)."""
    (a,) = inputs
    g = np.empty(a.shape, dtype=a.dtype if a.dtype == object else np.float64)
    g[...] = dy[()]
    return (g,)


def _hss_shape(shapes):
    if len(shapes) == 2 and tuple(shapes[0]) != tuple(shapes[1]):
        raise InputError(
            f"half_sum_squares(A, B) needs A and B of the same shape; got {_text(shapes[0])} and {_text(shapes[1])}"
        )
    return ()


def _half_sum_squares(a, b=None):
    """Y = ½·Σ (A − B)²  (½·‖A‖² with one input)."""
    d = a if b is None else a - b
    total = 0
    for v in d.flat:
        total = total + v * v
    return _scalar(total * constant(Fraction(1, 2), d), d)


def _hss_backward(dy, inputs, out):
    """δA = (A − B)·δY, δB = −(A − B)·δY."""
    d = inputs[0] if len(inputs) == 1 else inputs[0] - inputs[1]
    g = d * dy[()]
    return (g,) if len(inputs) == 1 else (g, -g)


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op(
            "matmul",
            (2, 2),
            "{y} = {a}·{b}",
            ("δ{a} = δ{y}·{b}ᵀ", "δ{b} = {a}ᵀ·δ{y}"),
            _matmul_shape,
            _matmul,
            _matmul_backward,
        ),
        Op("add", (2, 2), "{y} = {a} + {b}", ("δ{a} = δ{y}", "δ{b} = δ{y}"), _broadcast_shape, _add, _add_backward),
        Op("sub", (2, 2), "{y} = {a} − {b}", ("δ{a} = δ{y}", "δ{b} = −δ{y}"), _broadcast_shape, _sub, _sub_backward),
        Op(
            "mul",
            (2, 2),
            "{y} = {a} ⊙ {b}",
            ("δ{a} = δ{y} ⊙ {b}", "δ{b} = δ{y} ⊙ {a}"),
            _broadcast_shape,
            _mul,
            _mul_backward,
        ),
        Op(
            "relu",
            (1, 1),
            "{y} = max({a}, 0)",
            ("δ{a} = δ{y} ⊙ [{a} > 0]",),
            lambda s: tuple(s[0]),
            _relu,
            _relu_backward,
        ),
        Op("sum", (1, 1), "{y} = Σ {a}", ("δ{a} = δ{y} (every entry)",), lambda s: (), _sum, _sum_backward),
        Op(
            "half_sum_squares",
            (1, 2),
            "{y} = ½·‖{a} − {b}‖²",
            ("δ{a} = ({a} − {b})·δ{y}", "δ{b} = −({a} − {b})·δ{y}"),
            _hss_shape,
            _half_sum_squares,
            _hss_backward,
        ),
    )
}


def formula(op: Op, y: str, args: tuple[str, ...]) -> str:
    """The op's forward rule with the node's names."""
    text = op.formula
    if op.name == "half_sum_squares" and len(args) == 1:
        text = "{y} = ½·‖{a}‖²"
    return text.format(y=y, a=args[0], b=args[1] if len(args) > 1 else "")


def rule(op: Op, position: int, y: str, args: tuple[str, ...]) -> str:
    """The local backward rule for input ``position`` with the node's names."""
    text = op.rules[position]
    if op.name == "half_sum_squares" and len(args) == 1:
        text = "δ{a} = {a}·δ{y}"
    return text.format(y=y, a=args[0], b=args[1] if len(args) > 1 else "")
