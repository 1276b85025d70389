"""One-layer topics: output size (``shape``), parameters (``params``), MACs (``macs``).

A question's data is ``{"layer": {...}, "ask": ...}`` where the layer is written exactly as a
``convcalc shape --jsonl`` line (``{"in": "3x32x32", "op": "conv", "k": 5, "stride": 2, "out": 2}``);
it is read by the same parser and answered by :func:`convcalc.layers.analyze_layer`
with ``explain=True``, whose steps are the worked solution.
"""

from __future__ import annotations

import random
from typing import Any

from convcalc.engine.report import LayerReport
from convcalc.errors import InputError
from convcalc.homework import mistakes
from convcalc.homework.model import Part, Solution, Worked
from convcalc.homework.topics import Topic
from convcalc.layers.registry import analyze_layer
from convcalc.notation import format_shape
from convcalc.requests import parse_request

MACS_CONVENTION = "MACs are the multiply-accumulates of the layer's weights (bias not counted; FLOPs = 2 × MACs)"


# --- reading and describing a layer --------------------------------------------------------------------


def analyze(layer: dict[str, Any]) -> LayerReport:
    """The engine's report for a layer written as a ``convcalc shape --jsonl`` line, explained."""
    request = parse_request(dict(layer))
    return analyze_layer(request.op, request.layer_options, request.shape, explain=True)


def command(layer: dict[str, Any]) -> str:
    """The ``convcalc shape`` command line that shows the same working."""
    words = ["convcalc shape"]
    order = ["op", "in"] + [k for k in layer if k not in ("op", "in")]
    for key in order:
        if key not in layer or (key == "op" and layer[key] == "conv"):
            continue
        value = layer[key]
        if value is True:
            words.append(f"--{key}")
        elif value is not False and value is not None:
            words.append(f"--{key} {value}")
    return " ".join(words) + " --explain"


def _axis(values) -> str:
    values = list(values)
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def torch_text(report: LayerReport) -> str:
    """The layer in PyTorch's words (``nn.Conv2d(3, 16, kernel_size=5, stride=2, padding=1)``)."""
    h = report.hyper
    op = report.op
    c_in = report.input[0]
    if op.startswith("depthwise-separable"):
        return (
            f"a depthwise-separable conv (nn.Conv2d({c_in}, {c_in}, kernel_size={_axis(h['kernel_size'])}, "
            f"groups={c_in}) followed by nn.Conv2d({c_in}, {h['out_channels']}, kernel_size=1))"
        )
    if op == "linear":
        return f"nn.Linear({h['in_features']}, {h['out_features']}" + (")" if h["bias"] else ", bias=False)")
    if op == "flatten":
        return "nn.Flatten()"
    is_conv = op.startswith("conv")
    name = {
        "conv2d": "Conv2d",
        "conv-transpose2d": "ConvTranspose2d",
        "maxpool2d": "MaxPool2d",
        "avgpool2d": "AvgPool2d",
    }.get(op)
    if name is None:
        raise InputError(
            f"quiz questions take conv, conv-transpose, maxpool, avgpool, linear and flatten layers; got {op}"
        )
    args: list[str] = [str(c_in), str(h["out_channels"])] if is_conv else []
    args.append(f"kernel_size={_axis(h['kernel_size'])}")
    stride = _axis(h["stride"])
    if stride != (_axis(h["kernel_size"]) if not is_conv else "1"):
        args.append(f"stride={stride}")
    pads = [p for pair in h["padding"] for p in pair]
    if any(pads):
        args.append(f"padding={_axis(pads)}")
    if any(h.get("output_padding", [0])):
        args.append(f"output_padding={_axis(h['output_padding'])}")
    if any(d != 1 for d in h.get("dilation", [1])):
        args.append(f"dilation={_axis(h['dilation'])}")
    if h.get("groups", 1) != 1:
        args.append(f"groups={h['groups']}")
    if h.get("bias") is False:
        args.append("bias=False")
    if h.get("ceil_mode"):
        args.append("ceil_mode=True")
    if h.get("count_include_pad") is False:
        args.append("count_include_pad=False")
    return f"nn.{name}({', '.join(args)})"


def _step(report: LayerReport, prefix: str):
    return next((s for s in report.steps if s.title.startswith(prefix)), None)


def _working(report: LayerReport, prefix: str) -> str:
    step = _step(report, prefix)
    if step is None:
        return ""
    if prefix == "last window":  # a check, not an equation: "… < 35; it hangs 1 past …, so o = 18"
        return f"last window: {step.substituted}, so {step.result}"
    return f"{step.substituted} = {step.result}" if step.substituted else step.result


# --- the mistaken variants of a layer's answers --------------------------------------------------------

_SIZE_VARIANTS = {
    "forgot-plus-one": mistakes.size_without_plus_one,
    "no-padding": mistakes.size_without_padding,
    "ceil-not-floor": mistakes.size_with_ceil,
    "floor-not-ceil": mistakes.size_floor_in_ceil_mode,
    "ignored-dilation": mistakes.size_without_dilation,
    "transposed-as-conv": mistakes.transposed_size_as_conv,
}


def _size_mistakes(op: str, report: LayerReport) -> tuple[str, ...]:
    h = report.hyper
    if op == "conv-transpose":
        return ("transposed-as-conv",)
    if op in ("maxpool", "avgpool") and h.get("ceil_mode"):
        return ("floor-not-ceil", "forgot-plus-one")
    names = ["forgot-plus-one", "no-padding", "ceil-not-floor"]
    if any(d != 1 for d in h.get("dilation", [1])):
        names.append("ignored-dilation")
    return tuple(names)


def shape_variants(layer: dict[str, Any], report: LayerReport) -> tuple[tuple[str, Any], ...]:
    """The output shape under each wrong size rule that applies to this layer."""
    op = str(layer.get("op", "conv"))
    h = report.hyper
    found = []
    for name in _size_mistakes(op, report):
        rule = _SIZE_VARIANTS[name]
        sizes = []
        for axis, i in enumerate(report.input[1:]):
            pl, pr = h["padding"][axis]
            sizes.append(rule(i, h["kernel_size"][axis], h["stride"][axis], pl, pr, h.get("dilation", [1] * 3)[axis]))
        if all(size >= 1 for size in sizes):
            found.append((name, (report.output[0], *sizes)))
    return tuple(found)


def params_of(report: LayerReport) -> int:
    """The layer's parameter count (every quiz layer has one: shapes are whole numbers)."""
    if report.params is None or not isinstance(report.params.total, int):
        raise InputError(f"{report.op}: a quiz layer needs whole-number sizes and channels to count its parameters")
    return report.params.total


def _changed(layer: dict[str, Any], **changes) -> dict[str, Any]:
    out = {k: v for k, v in layer.items() if k not in changes}
    out.update({k: v for k, v in changes.items() if v is not None})
    return out


def param_variants(layer: dict[str, Any], report: LayerReport) -> tuple[tuple[str, Any], ...]:
    found = []
    if layer.get("no-bias"):
        found.append(("added-bias", params_of(analyze(_changed(layer, **{"no-bias": None})))))
    else:
        found.append(("forgot-bias", params_of(analyze(_changed(layer, **{"no-bias": True})))))
    if int(layer.get("groups", 1)) != 1:
        found.append(("ignored-groups", params_of(analyze(_changed(layer, groups=None)))))
    return tuple(found)


# --- drawing layers --------------------------------------------------------------------------------------


def _square(c: int, h: int) -> str:
    return f"{c}x{h}x{h}"


def _draw_conv(rng: random.Random, difficulty: int) -> dict[str, Any]:
    k = rng.choice((3, 5) if difficulty == 1 else (1, 3, 5, 7))
    size = rng.randint(*((8, 32), (14, 64), (20, 128))[difficulty - 1])
    layer: dict[str, Any] = {
        "in": _square(rng.choice((1, 3, 8, 16)), size),
        "op": "conv",
        "k": k,
        "stride": rng.choice((1, 2) if difficulty == 1 else (1, 2, 3)),
    }
    pad = rng.randint(0, k // 2)
    if pad:
        layer["pad"] = pad
    layer["out"] = rng.choice((4, 6, 8, 16, 32, 64))
    return layer


def _draw_pool(rng: random.Random, difficulty: int, ceil: bool) -> dict[str, Any]:
    k, stride = rng.choice(((2, 2), (3, 2), (3, 3)) if not ceil else ((3, 2), (2, 2), (3, 3)))
    pad = rng.randint(0, k // 2) if difficulty == 3 else 0
    for _ in range(50):  # ceil mode is only a question when the windows do not fit exactly
        size = rng.randint(*((6, 32), (13, 64), (13, 112))[difficulty - 1])
        if not ceil or (size + 2 * pad - k) % stride:
            break
    layer: dict[str, Any] = {
        "in": _square(rng.choice((3, 16, 32, 64)), size),
        "op": "maxpool",
        "k": k,
        "stride": stride,
    }
    if pad:
        layer["pad"] = pad
    if ceil:
        layer["ceil-mode"] = True
    return layer


def _draw_dilated(rng: random.Random, difficulty: int) -> dict[str, Any]:
    d = rng.choice((2, 3))
    layer: dict[str, Any] = {
        "in": _square(rng.choice((3, 8, 16)), rng.randint(10, 64)),
        "op": "conv",
        "k": 3,
        "dilation": d,
    }
    if difficulty == 3:
        layer["stride"] = rng.choice((1, 2))
    pad = rng.randint(0, d)
    if pad:
        layer["pad"] = pad
    layer["out"] = rng.choice((8, 16, 32))
    return layer


def _draw_transposed(rng: random.Random, difficulty: int) -> dict[str, Any]:
    k = rng.choice((2, 3, 4))
    stride = 2
    layer: dict[str, Any] = {
        "in": _square(rng.choice((8, 16, 32, 64)), rng.randint(3, 32)),
        "op": "conv-transpose",
        "k": k,
        "stride": stride,
    }
    pad = rng.randint(0, 1)
    if pad:
        layer["pad"] = pad
    output_padding = rng.randint(0, 1)
    if output_padding:
        layer["output-padding"] = output_padding
    layer["out"] = rng.choice((3, 8, 16, 32))
    return layer


def draw_shape(rng: random.Random, difficulty: int) -> dict[str, Any]:
    kinds = (("conv", "pool"), ("conv", "pool-ceil", "dilated"), ("conv", "pool-ceil", "dilated", "transposed"))
    kind = rng.choice(kinds[difficulty - 1])
    if kind == "conv":
        layer = _draw_conv(rng, difficulty)
    elif kind in ("pool", "pool-ceil"):
        layer = _draw_pool(rng, difficulty, kind == "pool-ceil")
    elif kind == "dilated":
        layer = _draw_dilated(rng, difficulty)
    else:
        layer = _draw_transposed(rng, difficulty)
    return {"layer": layer, "ask": "output"}


def draw_params(rng: random.Random, difficulty: int) -> dict[str, Any]:
    kinds = (("conv", "conv-nobias", "linear"), ("conv", "grouped", "conv-nobias"), ("grouped", "separable"))
    kind = rng.choice(kinds[difficulty - 1])
    c = rng.choice((3, 8, 16, 32, 64))
    size = rng.randint(8, 64)
    if kind == "linear":
        layer: dict[str, Any] = {
            "in": str(rng.choice((84, 120, 256, 400, 512))),
            "op": "linear",
            "out": rng.choice((10, 84, 120)),
        }
    elif kind == "separable":
        layer = {
            "in": _square(c, size),
            "op": "depthwise-separable",
            "k": rng.choice((3, 5)),
            "out": rng.choice((32, 64, 128)),
        }
    else:
        layer = {"in": _square(c, size), "op": "conv", "k": rng.choice((1, 3, 5)), "out": rng.choice((8, 16, 32, 64))}
        if kind == "grouped":
            layer["in"] = _square(rng.choice((8, 16, 32, 64)), size)
            layer["groups"] = rng.choice((2, 4, 8))
        if kind == "conv-nobias":
            layer["no-bias"] = True
    return {"layer": layer, "ask": "params"}


def draw_macs(rng: random.Random, difficulty: int) -> dict[str, Any]:
    layer = _draw_conv(rng, min(difficulty, 2))
    if difficulty == 1:
        layer["in"] = _square(rng.choice((1, 3)), rng.randint(6, 16))
        layer["out"] = rng.choice((2, 4, 6, 8))
    if difficulty == 3 and rng.random() < 0.5:
        channels = rng.choice((8, 16, 32))
        layer["in"] = _square(channels, rng.randint(8, 32))
        layer["out"] = channels * rng.choice((1, 2))
        layer["groups"] = rng.choice((2, 4))
    return {"layer": layer, "ask": "macs"}


# --- solving -------------------------------------------------------------------------------------------

# which of the layer's --explain steps belong to the worked solution of each question
_STEPS = {
    # the size steps; "hint" steps (the padding that would keep the size) answer another question
    "output": lambda title: title not in ("parameters", "MACs") and not title.startswith("hint"),
    "params": lambda title: title in ("parameters", "depthwise", "pointwise"),
    "macs": lambda title: title.startswith("output") or title == "MACs",
}
_ASKS = {"output": "the output shape (C x H x W)", "params": "the number of learnable parameters", "macs": "the MACs"}


def solve(data: dict[str, Any]) -> Worked:
    layer, ask = data["layer"], data["ask"]
    if ask not in _ASKS:
        raise InputError(f"'ask' must be one of {', '.join(_ASKS)}; got {ask!r}")
    report = analyze(layer)
    numbers = [*report.output, report.macs, report.params.total if report.params is not None else None]
    if not all(isinstance(v, int) for v in numbers):
        raise InputError('a quiz layer needs whole-number sizes (write {H} with "vars", not a symbol) and its channels')
    what = torch_text(report)
    what = "A" + what[1:] if what.startswith("a ") else what
    prompt = f"{what} is applied to an input of shape {format_shape(report.input)}. Give {_ASKS[ask]}."
    lines: list[str] = []
    if ask == "output":
        working = "; ".join(w for w in (_working(report, "output"), _working(report, "last window")) if w)
        part = Part("", "output shape", "shape", tuple(report.output), working)
        variants = shape_variants(layer, report)
    elif ask == "params":
        working = _working(report, "parameters")
        if layer.get("op") == "depthwise-separable":
            parts = [params_of(p) for p in report.parts]
            working = f"depthwise {parts[0]} + pointwise {parts[1]} = {params_of(report)}"
        part = Part("", "parameters", "number", params_of(report), working)
        variants = param_variants(layer, report)
    else:
        prompt += f" {MACS_CONVENTION}."
        lines.append(MACS_CONVENTION)
        part = Part("", "MACs", "number", report.macs, _working(report, "MACs"))
        variants = (("flops-for-macs", report.flops),)
    solution = Solution(
        lines=tuple(lines), layer_steps=tuple(s for s in report.steps if _STEPS[ask](s.title)), command=command(layer)
    )
    return Worked(prompt, (), (part,), solution, {"": variants})


TOPICS = (
    Topic(
        "shape", "output size: conv, pooling (ceil mode), dilated, transposed with output padding", draw_shape, solve
    ),
    Topic("params", "parameters: with/without bias, grouped, depthwise-separable, linear", draw_params, solve),
    Topic("macs", "MACs of a conv layer (bias excluded; FLOPs = 2 × MACs)", draw_macs, solve),
)
