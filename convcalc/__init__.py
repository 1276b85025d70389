"""convcalc — convolution arithmetic and backprop calculator.

The engine is usable without the command line::

    from convcalc.layers import analyze_layer
    report = analyze_layer("conv", {"k": (5,), "stride": (2,), "out": 2}, (3, 32, 32))
    report.output, report.params.total, report.macs   # (2, 14, 14), 152, 29400
"""

__version__ = "0.1.0"
