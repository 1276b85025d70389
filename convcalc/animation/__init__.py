"""Sliding-window animations as data: which output entry each frame computes and which
input cells it reads, read off the layer's own forward pass (never a second geometry).

:mod:`.model` holds the frozen results, :mod:`.conv` / :mod:`.transpose` / :mod:`.pool` probe
the layers, :mod:`.build` turns a ``convcalc shape``-style request into an :class:`Animation`.
Drawing lives in :mod:`convcalc.render.animation`.
"""
