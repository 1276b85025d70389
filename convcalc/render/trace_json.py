"""``convcalc backprop --json``: the trace's numbers, schema ``convcalc/backprop/v1``.

Sequential form: ``activations`` (one per layer), ``loss``, ``grad_input``, ``grads`` (per
layer ``{"weight": …, "bias": …}`` or null), ``grad_activations`` (δ of each layer's
output), ``updated`` with ``--lr``. Graph form: the same keys keyed by name (``grads`` by
parameter, ``grad_input`` by input) plus ``contributions`` (each use's share of a
gradient). Exact numbers are ints or ``"p/q"`` strings, floats are floats, symbolic results
are expression strings. ``steps`` holds the whole board as text, ``checks`` the self-checks.
"""

from __future__ import annotations

from typing import Any

from convcalc.render.trace import entry_line
from convcalc.render.trace_numbers import json_value
from convcalc.trace.model import Trace

SCHEMA = "convcalc/backprop/v1"


def trace_dict(trace: Trace) -> dict[str, Any]:
    results = dict(trace.results)
    out: dict[str, Any] = {"schema": SCHEMA, "title": trace.title, "form": trace.form, "mode": trace.mode}
    if trace.symbols:
        out["symbols"] = list(trace.symbols)
    order = [
        "loss",
        "activations",
        "grad_input",
        "grads",
        "grad_activations",
        "updated",
        "contributions",
        "input",
        "input_name",
        "inputs",
        "params",
        "layers",
        "nodes",
    ]
    for key in order:
        if key in results:
            out[key] = json_value(results[key])
    out["checks"] = [_check(c) for c in trace.checks]
    out["notes"] = list(trace.notes)
    out["steps"] = [
        {
            "phase": s.phase,
            "heading": s.heading,
            "rules": list(s.rules),
            "matrices": [{"name": m.name, "value": json_value(m.values)} for m in s.matrices],
            "entries": [entry_line(e) for e in s.entries],
            "notes": list(s.notes),
        }
        for s in trace.steps
    ]
    return out


def _check(check) -> dict:
    """One self-check; ``sampled`` (only when the check did not cover every entry) lists, per
    tensor, how many entries a seeded sample checked out of how many."""
    out = {"name": check.name, "ok": bool(check.ok), "summary": check.summary, "details": list(check.details)}
    if check.sampled:
        out["sampled"] = [{"tensor": name, "checked": checked, "entries": entries, "seed": check.seed}
                          for name, checked, entries in check.sampled]
    return out
