"""The numeric operation calculator: convolution, pooling, transposed convolution and im2col
on small matrices, with every output entry explained.

Engines here return plain data (frozen dataclasses): the result tensor and, per output
entry, the window of input entries and kernel entries that made it. The values always come
from the layer types' own ``forward`` (:mod:`convcalc.layers.conv`, :mod:`convcalc.layers.pool`);
the explanation is built from the window helpers of :mod:`convcalc.compute.windows`, and each
displayed sum is checked against the forward's value. Rendering lives in
:mod:`convcalc.render.calculator`; the commands in :mod:`convcalc.cli.numeric`.

Modules: :mod:`.operands` (reading matrices and their layouts), :mod:`.settings` (stride,
padding words), :mod:`.terms` (one output entry as a sum of products), :mod:`.conv`,
:mod:`.pool`, :mod:`.transpose`, :mod:`.im2col`.
"""
