"""What an animation shows, as plain data.

Two grids of cells, the *source* (the array the window slides over: the input with its
padding, or the zero-inserted input of a transposed convolution's direct view) and the
*target* (the output). Each :class:`Frame` is one step of the layer's forward pass:

* window views (convolution, pooling, the direct view of a transposed convolution): the
  frame computes one output entry and its links are the source cells its window reads;
* the scatter view of a transposed convolution: the frame takes one input entry and its
  links are the output cells it is added to (``Y[s·t + d·u − p] += W[u]·X[t]``).

Coordinates are full-rank spatial indices (1, 2 or 3 numbers), 0-based, in the drawn grid:
the source grid starts at the first padding cell, so a real input entry ``t`` sits at
``t + p_before``.
"""

from __future__ import annotations

from dataclasses import dataclass

Index = tuple[int, ...]

#: Kinds of drawn cells.
INPUT, PAD, ZERO, OUTSIDE, OUTPUT, CROPPED = "input", "pad", "zero", "outside", "output", "cropped"


@dataclass(frozen=True)
class Link:
    """One kernel tap of one frame: tap ``u`` meets ``cell`` of the other grid, which holds
    the layer's entry ``entry`` (``None``: a padding zero, an inserted zero, a cell past the
    padded end, or — scatter view — an output cell the padding crops away)."""

    tap: Index
    cell: Index
    entry: Index | None


@dataclass(frozen=True)
class Frame:
    """One step: the entry it is about (output entry, or input entry in the scatter view),
    that entry's cell in its own grid, and the taps' cells in the other grid (tap order)."""

    index: Index
    cell: Index
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Grid:
    """A drawn grid: its shape and the kind of each cell (row-major, one of the kinds above)."""

    shape: Index
    kinds: tuple[str, ...]

    def kind(self, cell: Index) -> str:
        flat = 0
        for i, n in zip(cell, self.shape):
            flat = flat * n + i
        return self.kinds[flat]

    @property
    def size(self) -> int:
        return len(self.kinds)


@dataclass(frozen=True)
class Animation:
    """Everything a renderer needs: the grids, the frames in forward order, and words.

    ``view`` is ``"window"``, ``"direct"`` or ``"scatter"``; in the scatter view frames walk the
    source grid and link into the target. ``plane`` is, for 3-D layers, the output depth
    slice drawn (frames are limited to it); ``None`` otherwise.
    """

    op: str
    view: str
    settings: str
    source: Grid
    target: Grid
    frames: tuple[Frame, ...]
    notes: tuple[str, ...] = ()
    plane: int | None = None
    source_values: tuple | None = None  # numbers shown in source cells (row-major), conv --animate
    target_values: tuple | None = None
    kernel_values: tuple | None = None  # row-major over the kernel taps
    sums: tuple[str, ...] | None = None  # one line per frame: the arithmetic of that entry

    @property
    def rank(self) -> int:
        return len(self.source.shape)

    @property
    def scatter(self) -> bool:
        return self.view == "scatter"
