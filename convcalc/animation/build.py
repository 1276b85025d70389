"""From a ``convcalc shape``-style request to an :class:`Animation`: the same option parser
(:func:`convcalc.requests.parse_request`), the same layer (:func:`build_layer`), the same
validation (the layer's shape rule on the full input shape), then the frames probed from
the layer's forward pass."""

from __future__ import annotations

from typing import Any

from convcalc.animation.model import Animation, Frame
from convcalc.errors import InputError
from convcalc.layers.base import analyze_written

#: Ops with a sliding window, and the probe that draws them.
DRAWABLE = ("conv", "conv-transpose", "maxpool", "avgpool", "adaptive-avgpool", "adaptive-maxpool",
            "global-avgpool", "global-maxpool")
VIEWS = ("window", "scatter", "direct")
DEFAULT_MAX_FRAMES = 256
MAX_CELLS = 16384  # cells of the drawn input grid: beyond this the cells are too small to see


def family(op: str) -> str:
    """'conv-transpose2d' → 'conv-transpose'."""
    return op[:-2] if op[-2:] in ("1d", "2d", "3d") else op


def _settings_text(layer, spatial, pads) -> str:
    from convcalc.calculator.settings import axis_text, pads_text

    parts = [f"input {'x'.join(map(str, spatial))}"]
    for name, label in (("kernel_size", "k"), ("stride", "stride"), ("dilation", "dilation"),
                        ("output_padding", "output padding")):
        value = getattr(layer, name, None)
        if value is None or (name != "kernel_size" and all(v == (0 if name == "output_padding" else 1) for v in value)):
            continue
        parts.append(f"{label} {axis_text(value)}")
    if pads is not None and any(a or b for a, b in pads):
        parts.append(f"pad {pads_text(tuple(pads))}")
    if getattr(layer, "ceil_mode", False):
        parts.append("ceil mode")
    return " · ".join(parts)


def _resolve_full_padding(raw: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """``--pad full`` (d·(k − 1) on each side, the numeric calculator's rule) as numbers."""
    pad = raw.get("pad")
    if not (isinstance(pad, str) and pad.strip().lower() == "full"):
        return raw, None
    return {key: value for key, value in raw.items() if key != "pad"}, "full"


def request_layer(raw: dict[str, Any]):
    """(request, layer, spatial input shape) for the options of ``convcalc shape``."""
    from convcalc.dims import is_symbolic
    from convcalc.layers.registry import build_layer
    from convcalc.requests import parse_request

    raw, word = _resolve_full_padding(raw)
    request = parse_request(raw)
    if family(request.op) not in DRAWABLE:
        raise InputError(f"animate draws {', '.join(DRAWABLE)}; {request.op} has no sliding window to draw")
    options = dict(request.layer_options)
    if word == "full":
        from convcalc.calculator.settings import resolve_padding
        from convcalc.notation import expand

        rank = request.dims or 2
        kernel = expand(tuple(options.get("k", (1,))), rank, "--k")
        dilation = expand(tuple(options.get("dilation", (1,))), rank, "--dilation")
        options["pad"], _ = resolve_padding("full", (0,) * rank, kernel, (1,) * rank, dilation, "conv")
    layer = build_layer(request.op, options)
    shape = request.shape
    if any(is_symbolic(v) for v in shape):
        raise InputError(f"animate needs numbers: --in {request.shape} has symbols (write e.g. 3x32x32)")
    report = analyze_written(layer, shape, batch=request.batch)  # the shape command's validation, on the full shape
    spatial = tuple(int(v) for v in shape[len(shape) - layer.rank:])
    return request, layer, spatial, report


def animation(raw: dict[str, Any], *, view: str | None = None, plane: int | None = None,
              max_frames: int = DEFAULT_MAX_FRAMES) -> Animation:
    """The frames of the layer ``raw`` describes (``convcalc shape`` options), checked and limited."""
    from convcalc.animation import conv, pool, transpose

    request, layer, spatial, report = request_layer(raw)
    kind = family(request.op)
    view = _view(view, kind)
    _guard(layer, spatial, report, view, max_frames, plane)
    if kind == "conv":
        source, target, frames, pads = conv.conv_frames(layer, spatial)
    elif kind == "conv-transpose":
        build = transpose.direct_frames if view == "direct" else transpose.scatter_frames
        source, target, frames, pads = build(layer, spatial)
    else:
        source, target, frames, pads = pool.pool_frames(layer, spatial)
    notes = list(_notes(kind, view, report, layer, pads))
    chosen = None
    if layer.rank == 3:
        frames, chosen, note = _one_plane(frames, plane)
        notes.append(note)
    shown_pads = pads if kind != "conv-transpose" or view == "window" else tuple(layer.padding)
    return Animation(op=layer.name, view=view, settings=_settings_text(layer, spatial, shown_pads), source=source,
                     target=target, frames=frames, notes=tuple(notes), plane=chosen)


def _view(view: str | None, kind: str) -> str:
    if view is None:
        return "scatter" if kind == "conv-transpose" else "window"
    view = view.strip().lower()
    if view not in VIEWS:
        raise InputError(f"--view '{view}' is not one of {', '.join(VIEWS)}")
    if kind != "conv-transpose" and view != "window":
        raise InputError(f"--view {view} is for transposed convolutions (--op conv-transpose)")
    if kind == "conv-transpose" and view == "window":
        return "direct"  # a transposed conv's sliding window is its direct view
    return view


def _frame_count(layer, spatial, report, view) -> int:
    out = [int(v) for v in report.output[len(report.output) - layer.rank:]]
    counted = list(spatial) if view == "scatter" else out
    if layer.rank == 3:
        counted = counted[1:]
    total = 1
    for v in counted:
        total *= v
    return total


def _guard(layer, spatial, report, view, max_frames: int, plane) -> None:
    frames = _frame_count(layer, spatial, report, view)
    if frames > max_frames:
        raise InputError(f"this configuration has {frames} frames, more than --max-frames {max_frames}: draw a smaller "
                         f"input (e.g. --in 7x7) or raise --max-frames")
    cells = 1
    for i, (a, b) in zip(spatial, _pads_of(report, layer.rank)):
        cells *= i + a + b
    if cells > MAX_CELLS:
        raise InputError(f"the padded input has {cells} cells, more than {MAX_CELLS} can be drawn legibly: "
                         "use a smaller --in (animate is for seeing the window move)")
    if plane is not None and layer.rank != 3:
        raise InputError("--slice picks the depth slice of a 3-d layer (--dims 3)")


def _pads_of(report, rank: int):
    pads = report.hyper.get("padding")
    if pads is None:
        return [(0, 0)] * rank
    return [(int(a), int(b)) for a, b in pads]


def _one_plane(frames: tuple[Frame, ...], plane: int | None) -> tuple[tuple[Frame, ...], int, str]:
    depth = 1 + max(f.index[0] for f in frames)
    chosen = 0 if plane is None else plane
    if not 0 <= chosen < depth:
        raise InputError(f"--slice {chosen} is not a depth slice: valid are 0 to {depth - 1}")
    kept = tuple(f for f in frames if f.index[0] == chosen)
    return kept, chosen, f"3-d: one depth slice at a time — slice {chosen} of {depth} (--slice picks another)"


def _notes(kind: str, view: str, report, layer, pads) -> list[str]:
    notes = []
    if kind == "conv-transpose" and view == "scatter":
        notes.append("each input entry times the kernel is added onto the output; the dashed border is cropped "
                     "by the padding")
    if kind == "conv-transpose" and view == "direct":
        notes.append("the equivalent stride-1 convolution over the zero-inserted, padded input (kernel flipped)")
    if getattr(layer, "ceil_mode", False):
        notes.append("ceil mode: the last window may hang past the padded end (those cells are not read)")
    notes.extend(n for n in report.warnings)
    return notes


