"""Names vulture (the dead-code check in .ci/guard) must treat as used.

vulture matches names, not objects: listing a name here marks every definition of that name
as used. Keep each entry justified; the "dead, to remove" ones are temporary.
"""
# ruff: noqa: B018, F821
# (bare names and attributes of the placeholder ``_`` are how vulture whitelists are written)

# --- protocols and frameworks: called by Python, sympy or pytest, never by name ---------------
tb  # the context-manager protocol: __exit__(self, exc_type, exc, tb)
_.__qualname__  # set on the generated element-wise functions (compute/scalars.py _named)
_._print_floor  # sympy's printer dispatch: _print_<ClassName>
_._print_ceiling
__getattr__  # module __getattr__ (PEP 562): layers/__init__.py's lazy exports (see below for shims)
pytestmark  # pytest reads a module's marks from this name
_.__class__  # a module's class switched to load it on first use (cli/app.py _DeferredModule)
row_shift_everywhere  # a fixture requested for its side effect (tests/test_kernels_windowed.py)
Cross  # a model the tests name on the command line (arch tests/fixtures/tiny_vit.py:Cross)

_.data_location  # a protobuf field set (onnx_model.py: an external initializer read in)

# --- used where vulture does not look ---------------------------------------------------------
groupnorm  # convcalc/network/build.py: tests/reference/networks.py builds with it (excluded above)
NotAModule  # tests/fixtures/cifar_cnn_tutorial.py: named on the command line by a bad-input test
