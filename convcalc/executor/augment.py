"""Data augmentation of each training batch (``--augment crop:4,flip``), as torchvision's
``RandomCrop(size, padding=p)`` and ``RandomHorizontalFlip()`` do it in the course's CIFAR-10
tutorial:

* ``crop:P`` — pad every image by P zeros on each side of its spatial axes, then cut a window
  of the original size at a random offset in [0, 2P] per axis (per image): a shift of up to
  ±P pixels;
* ``flip``   — reverse the last (width) axis of each image with probability ½.

Only the training batches are augmented, never the validation or test splits. The random
choices come from the seed's own augmentation stream, so the same seed gives the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convcalc.errors import InputError

MAX_CROP = 1024


@dataclass(frozen=True)
class Augment:
    crop: int = 0       # P: padding of the random crop (0: none)
    flip: bool = False  # random horizontal flip

    def describe(self) -> str:
        parts = [f"random crop with padding {self.crop}"] if self.crop else []
        parts += ["random horizontal flip (p ½)"] if self.flip else []
        return ", ".join(parts)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A new batch: each image of ``x`` (N, C, *spatial) cropped and/or flipped at random."""
        out = x
        if self.crop:
            p = self.crop
            spatial = x.shape[2:]
            padded = np.pad(x, [(0, 0), (0, 0)] + [(p, p)] * len(spatial))
            offsets = rng.integers(0, 2 * p + 1, (len(x), len(spatial)))
            out = np.empty_like(x)
            for n in range(len(x)):
                window = tuple(slice(int(o), int(o) + size) for o, size in zip(offsets[n], spatial))
                out[n] = padded[(n, slice(None)) + window]
        if self.flip:
            flipped = rng.random(len(x)) < 0.5
            out = out.copy() if out is x else out
            out[flipped] = out[flipped][..., ::-1]
        return out


def parse_augment(text: str) -> Augment:
    """``crop:4,flip``, ``flip``, ``crop:2`` → Augment."""
    crop, flip = 0, False
    for part in (p.strip().lower() for p in text.split(",")):
        name, _, arg = part.partition(":")
        if name == "flip" and not arg:
            flip = True
        elif name == "crop":
            raw = arg.strip()
            if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_CROP:
                raise InputError(f"--augment {text}: crop takes the padding in pixels, a whole number 1 to {MAX_CROP} "
                                 "(e.g. crop:4)")
            crop = int(raw)
        else:
            raise InputError(f"--augment {text}: '{part}' is not one of crop:P, flip (e.g. --augment crop:4,flip)")
    return Augment(crop, flip)
