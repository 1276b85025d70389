"""The numeric operation calculator: convolution, pooling, transposed convolution and im2col
on small matrices, with every output entry explained.

A thin adapter over the trace: each command reads its operands and settings the way the
command line writes them, builds the layer, and runs it as a one-layer trace
(:mod:`convcalc.trace.one_layer`). So the values are the layer types' own ``forward``
(:mod:`convcalc.layers.conv`, :mod:`convcalc.layers.pool`), and every explained entry is written
and checked by the same explainers as ``convcalc backprop``'s steps. Engines return plain
data (frozen dataclasses); rendering lives in :mod:`convcalc.render.calculator`, the commands
in :mod:`convcalc.cli.numeric`.

Modules: :mod:`.operands` (reading matrices and their layouts), :mod:`.settings` (stride,
padding words), :mod:`.entries` (the trace's entries as these documents index them),
:mod:`.conv`, :mod:`.pool`, :mod:`.transpose`, :mod:`.im2col`.
"""
