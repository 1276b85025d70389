"""The shape debugger: where a model's declared sizes (``nn.Linear(400, 120)``'s in_features, a
conv's in_channels) disagree with what flows in — which layer, what it declares, what it
receives, the layer upstream where the sizes took that turn, and the fixes.

The walk has already gone on with the declared size (:mod:`convcalc.network.declared`), so
every mismatch of the model is listed, not only the first. A Linear applied to a feature map
(C x H x W: a forgotten flatten) is named as such. The input size that would give the declared
size is searched for by walking the network on square inputs of other sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.dims import product
from convcalc.notation import format_shape

# rows that keep the size or only reshape it: the "turn" is upstream of them
_PASS_THROUGH = ("flatten", "reshape", "identity", "dropout", "dropout2d", "dropout1d", "dropout3d")


@dataclass(frozen=True)
class Mismatch:
    layer: str
    type: str
    what: str
    declared: int
    received: int
    shape: tuple
    upstream: tuple[str, str, tuple] | None
    fixes: tuple[str, ...]
    forgot_flatten: bool = False

    def text(self) -> str:
        received = f"{self.received}"
        if self.what == "in_features" and len(self.shape) > 1 and not self.forgot_flatten:
            received = f"{format_shape(self.shape)}"
        elif self.what == "in_features" and len(self.shape) == 1:
            received = f"{self.received} features"
        lines = [
            f"{self.layer} ({self.type}) declares {self.what}={self.declared} but receives {received}"
            + (f" (the input {format_shape(self.shape)})" if self.what != "in_features" else "")
        ]
        if self.forgot_flatten:
            lines.append(
                f"  a Linear on the feature map {format_shape(self.shape)} acts on its last dimension "
                f"({self.received}): a forgotten flatten? flattened it is {product(self.shape)} features"
            )
        if self.upstream is not None:
            name, kind, out = self.upstream
            lines.append(
                f"  the sizes took that turn at {name} ({kind}), which gives {format_shape(out)}"
                + (f" = {product(out)} features" if len(out) > 1 and self.what == "in_features" else "")
            )
        if self.fixes:
            lines.append("  fix: " + "; or ".join(self.fixes))
        lines.append(f"  (the walk goes on with the declared {self.declared})")
        return "\n".join(lines)


def mismatches(report) -> list[dict]:
    """The rows whose layer declared a size other than the one it received."""
    found = []
    for index, row in enumerate(report.leaves()):
        info = row.report.comparison.get("declared") if row.report is not None else None
        if info:
            found.append((index, row, info))
    return found


def diagnose(network, report, walk) -> list[Mismatch]:
    """Every declared-size mismatch of ``report`` (the walk of ``network``), explained."""
    rows = report.leaves()
    out = []
    for index, row, info in mismatches(report):
        shape = tuple(info["shape"])
        what, declared, received = info["what"], info["declared"], info["received"]
        forgot = what == "in_features" and len(shape) >= 2
        upstream = _upstream(rows, index)
        fixes = []
        if forgot:
            fixes.append(f"flatten before {row.name} (torch.flatten(x, 1) / nn.Flatten())")
            if product(shape) != declared:
                fixes.append(f"in_features={product(shape)} after flattening")
        else:
            fixes.append(f"{what}={received}")
        size = _input_for(network, report, walk, row.name, what, declared)
        if size is not None:
            fixes.append(f"the input size that gives {declared}: {format_shape(size)}")
        out.append(Mismatch(row.name, row.type, what, declared, received, shape, upstream, tuple(fixes), forgot))
    return out


def _upstream(rows, index: int):
    for row in reversed(rows[:index]):
        if row.type in _PASS_THROUGH or row.type.startswith("dropout"):
            continue
        if tuple(row.input) != tuple(row.output) or row.type.startswith(("conv", "linear")):
            return row.name, row.type, tuple(row.output)
    return None


def _input_for(network, report, walk, name: str, what: str, declared: int, limit: int = 1024):
    """A square input (same channels) on which ``name`` receives ``declared``, if one exists."""
    shape = tuple(report.input)
    if len(shape) < 2:
        return None
    for size in range(1, min(limit, 4 * max(shape[1:]) + 64) + 1):
        trial = (shape[0],) + (size,) * (len(shape) - 1)
        if trial == shape:
            continue
        try:
            other = walk(network, trial)
        except Exception:
            continue
        row = next((r for r in other.leaves() if r.name == name), None)
        if row is None:
            continue
        got = tuple(row.input)
        if what == "in_features":
            value = product(got) if len(got) >= 2 else got[-1]
        else:
            value = got[0]
        if value == declared and not mismatches_before(other, name):
            return trial
    return None


def mismatches_before(report, name: str) -> bool:
    """Whether another layer before ``name`` already disagrees (that input size is no fix)."""
    found = mismatches(report)
    return bool(found) and found[0][1].name != name
