"""``convcalc shape`` with symbolic hyper-parameters (``--k K``) or ``--solve``: parse, call
:mod:`convcalc.inverse.hyper_symbols`, hand the result to :mod:`convcalc.render.symbolic`."""

from __future__ import annotations

from typing import Any

from convcalc.errors import ExpectationFailed, InputError

# The same keys as convcalc.inverse.hyper_symbols.HYPER_KEYS (tests/test_startup.py checks it):
# that module is imported only when a value could name a symbol, not for plain numbers.
HYPER_KEYS = ("k", "stride", "pad", "dilation", "output-padding")
_NOT_SYMBOL_LETTERS = frozenset("xX")


def wants_symbolic(raw: dict[str, Any]) -> bool:
    """Whether a hyper-parameter (``--k``, ``--stride``, ``--pad``, ``--dilation``,
    ``--output-padding``) is written with a symbol."""
    values = [raw.get(key) for key in HYPER_KEYS]
    # A symbol starts with a letter, and x/X only separate axes: without another letter (5, 2x1,
    # 0:1x0:1) nothing can be a symbol, and the symbolic module need not be imported.
    if not any(isinstance(v, str) and any(c.isalpha() and c not in _NOT_SYMBOL_LETTERS for c in v) for v in values):
        return False
    from convcalc.inverse.hyper_symbols import has_symbol

    return any(has_symbol(value) for value in values)


def run(raw: dict[str, Any], form: str, solve: bool) -> None:

    from convcalc.cli.output import View, emit
    from convcalc.engine.evaluate import dims_equal
    from convcalc.inverse.hyper_symbols import HYPER_KEYS, solve_free_symbol, symbolic_layer
    from convcalc.notation import format_shape
    from convcalc.render import symbolic as render
    from convcalc.requests import parse_request

    hyper = {key: raw[key] for key in HYPER_KEYS if key in raw}
    request = parse_request({key: value for key, value in raw.items() if key not in HYPER_KEYS})
    if request.dims is None:
        raise InputError(f"{request.op} takes no kernel, stride or padding")
    layer = symbolic_layer(request.op, request.dims, request.shape, hyper, request.layer_options)
    if solve:
        if request.expect is None:
            raise InputError("--solve needs --expect: the output shape to solve for (e.g. --expect 6x28x28)")
        solution = solve_free_symbol(layer, request.expect, hyper, request.layer_options, request.shape)
        def text() -> str:
            return render.solution_text(layer, solution, request.notation)

        emit(View(json=lambda: render.solution_dict(layer, solution, request.notation),
                  plain=lambda: " ".join(map(str, solution.values)),
                  markdown=lambda: render.solution_markdown(layer, solution, request.notation),
                  text=text, csv=text), form)
        if not solution.values:
            raise ExpectationFailed(f"no whole {solution.symbol} in {solution.tried[0]}…{solution.tried[1]} gives "
                                    f"{request.expect_text}")
        return
    if form == "csv":
        raise InputError("--format csv needs numbers: symbolic layers print as text, markdown or json")
    emit(View(json=lambda: render.layer_dict(layer, request.notation, request.explain),
              plain=lambda: format_shape(layer.output, request.notation),
              markdown=lambda: render.layer_markdown(layer, request.notation, request.explain),
              rich=lambda _: render.layer_rich(layer, request.notation, request.explain),
              text=lambda: render.layer_text(layer, request.notation, request.explain)), form)
    if request.expect is not None:
        candidates = [layer.output] + ([layer.output[1:]] if len(layer.output) > len(request.expect) else [])
        if not any(len(c) == len(request.expect) and all(dims_equal(a, b) for a, b in zip(c, request.expect))
                   for c in candidates):
            raise ExpectationFailed(f"expected output {request.expect_text}, got "
                                    f"{format_shape(layer.output, request.notation)}")
