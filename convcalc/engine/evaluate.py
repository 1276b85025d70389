"""Check the user's expectations against a single-layer report.

(The report itself: :func:`convcalc.layers.registry.analyze_layer`.)"""

from __future__ import annotations

from convcalc.dims import as_int, format_dim, is_symbolic
from convcalc.engine.report import LayerReport


def dims_equal(a, b) -> bool:
    if not is_symbolic(a) and not is_symbolic(b):
        return a == b
    import sympy

    return sympy.simplify(sympy.sympify(a) - sympy.sympify(b)) == 0


def shape_matches(expected: tuple, report: LayerReport) -> bool:
    """The expected shape equals the output, or the output without its batch dimension."""
    candidates = [report.output]
    if report.output_has_batch and len(report.output) > 1:
        candidates.append(report.output[1:])
    return any(len(c) == len(expected) and all(dims_equal(x, y) for x, y in zip(c, expected)) for c in candidates)


def failed_expectations(report: LayerReport, expect: tuple | None, expect_params: int | None,
                        shown_output: str, expect_text: str | None = None) -> list[str]:
    """Messages for every expectation that does not hold (empty when all hold)."""
    failures = []
    if expect is not None and not shape_matches(expect, report):
        failures.append(f"expected output {expect_text or 'x'.join(map(format_dim, expect))}, got {shown_output}")
    if expect_params is not None:
        total = report.params.total if report.params is not None else None
        if total is None or as_int(total) != expect_params:
            got = "unknown (no input channels)" if total is None else f"{format_dim(total)}"
            failures.append(f"expected {expect_params:,} parameters, got {got}")
    return failures
