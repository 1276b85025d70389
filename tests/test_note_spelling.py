"""Notes and errors name settings as data; each front end spells them its own way."""

import pickle

import pytest

from convcalc.errors import InputError, Note
from convcalc.layers.dense import Linear


def test_note_reads_as_cli_flag_and_as_spec_key():
    note = Note("no {field:out} given: assuming 3 output channels")
    assert note == "no --out given: assuming 3 output channels"
    assert note.spelled(lambda f: f"layers[2].{f}") == "no layers[2].out given: assuming 3 output channels"
    assert pickle.loads(pickle.dumps(note)).spelled(str) == "no out given: assuming 3 output channels"


def test_linear_error_spelled_by_two_front_ends():
    with pytest.raises(InputError) as caught:
        Linear(out_features=None)
    error = caught.value
    assert "{field" not in str(error)
    assert "--out_features" not in str(error) and "--in 9216 --out 4096" in str(error)
    def spec_path(field: str) -> str:  # the spec writes out_features as "out"
        return f"layers[1].{ {'out_features': 'out'}.get(field, field) }"

    spec = str(error.spelled(spec_path))
    assert "layers[1].out (the number" in spec and "layers[1].in 9216 layers[1].out 4096" in spec
    # through pickling (multiprocessing, copy) a closure speller's words are kept, not the CLI's
    again = pickle.loads(pickle.dumps(error.spelled(spec_path)))
    assert str(again) == spec and again.field == "out_features"


def test_pooling_error_names_ceil_mode_as_each_front_end_writes_it():
    """The same refusal, from ``convcalc shape`` (its flag) and from an arch chain (the layer's key)."""
    from typer.testing import CliRunner

    from convcalc.cli.app import app

    runner = CliRunner()
    shape = runner.invoke(app, ["shape", "--op", "maxpool2d", "--in", "3x4x4", "--k", "5", "--stride", "2"])
    arch = runner.invoke(app, ["arch", "3x4x4 | maxpool k5 s2"])
    assert shape.exit_code == arch.exit_code == 2
    assert "Use a kernel of at most 4 (or --ceil-mode)" in shape.output
    assert "Use a kernel of at most 4 (or ceil_mode)" in arch.output and "--ceil-mode" not in arch.output
