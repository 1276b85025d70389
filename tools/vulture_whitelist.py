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

# --- dead, to remove (issue 10); they live in files being reworked in parallel ----------------
# convcalc/layers/conv.py, convcalc/layers/pool.py, convcalc/layers/registry.py: the back-compat
# __getattr__ shims (moved kernel/helper names); pinned by tests/test_startup.py's
# test_moved_names_are_still_importable_where_they_were and
# test_old_check_helpers_keep_their_arguments_and_the_one_wording, which go with them.
given_target  # convcalc/trace/spec.py Loss.given_target: set by trace/layer_specs.py, never read

# --- newly merged (session 4), to review: -----------------------------------------------------
with_numbers  # convcalc/animation/build.py: unused so far
model_config  # convcalc/interop/keras_model.py: read for validation only
path_hint  # convcalc/interop/torch_model.py
groupnorm  # convcalc/network/build.py: the zoo's constructor kept beside the others
NotAModule  # tests/fixtures/cifar_cnn_tutorial.py: imported by name in a bad-input test
