"""Step-by-step forward and backward traces (``convcalc backprop``).

spec, layer_specs, graph_spec   read and check a spec file (sequential or graph form)
run, graph_run                  the walk: each layer's own forward/backward, the loss, the update
explain_*                       the course's derivation of each step, checked against the layers
symbolic, selection             --symbolic: the number type (expression + value) and its limits
check, torch_check              the finite-difference check and --verify torch
model                           the Trace data the printers in convcalc.render read
examples                        ready-made specs (--example NAME)
"""
