"""``convcalc backprop`` as a user runs it: examples, stdin, every output format, --symbolic,
--lr, --verify torch, and the JSON contract of the README (schema convcalc/backprop/v1)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from convcalc.trace.examples import EXAMPLES, get, to_json
from tests.conftest import golden
from tests.test_backprop_worked_examples import normalised

EXAMPLE_FILES = Path(__file__).parent.parent / "examples" / "backprop"


def test_list_examples(cli):
    for args in (["--list-examples"], ["--example", "list"]):
        result = cli("backprop", *args)
        assert result.code == 0
        for name in EXAMPLES:
            assert name in result.out


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_round_trips_through_stdin(cli, name):
    printed = cli("backprop", "--example", name)
    assert printed.code == 0
    assert json.loads(printed.out) == get(name).spec
    result = cli("backprop", "-", "--json", input=printed.out)
    assert result.code == 0, result.err
    data = result.json()
    assert data["schema"] == "convcalc/backprop/v1"
    assert all(c["ok"] for c in data["checks"])


@pytest.mark.parametrize("path", sorted(EXAMPLE_FILES.glob("*.json")), ids=lambda p: p.name)
def test_example_files_run(cli, path):
    result = cli("backprop", str(path), "--format", "text")
    assert result.code == 0, result.err
    assert "finite differences: central differences" in result.out


def test_json_keys_sequential(cli):
    data = cli("backprop", "-", "--json", input=to_json(get("course").spec)).json()
    for key in (
        "schema",
        "activations",
        "loss",
        "grad_input",
        "grads",
        "grad_activations",
        "updated",
        "layers",
        "checks",
    ):
        assert key in data
    assert len(data["activations"]) == len(data["grads"]) == len(get("course").spec["layers"])
    assert data["grads"][1] is None  # relu: no parameters
    assert set(data["grads"][0]) == {"weight", "bias"} and data["grads"][0]["bias"] is None
    assert data["loss"] == "17/2"  # exact numbers as "p/q" strings
    assert "1/10" in json.dumps(data["updated"][0])


def test_json_keys_graph(cli):
    data = cli("backprop", "-", "--json", input=to_json(get("shared-weights").spec)).json()
    assert data["form"] == "graph"
    assert set(data["grads"]) == {"W"} and set(data["grad_input"]) == {"X"}
    assert {c["via"] for c in data["contributions"]["W"]} == {"Y", "Z1"}
    assert isinstance(data["activations"], dict) and "Z1" in data["activations"]


def test_floats_give_floats(cli):
    spec = json.loads(to_json(get("course").spec))
    spec["layers"][0]["weight"][0][0] = 1.5
    data = cli("backprop", "-", "--json", input=json.dumps(spec)).json()
    assert data["mode"] == "float"
    assert isinstance(data["loss"], float)
    assert all(isinstance(v, float) for v in np.asarray(data["grad_input"]).flat)


def test_latex_and_markdown(cli):
    given = to_json(get("given-delta").spec)
    latex = cli("backprop", "-", "--format", "latex", input=given)
    assert latex.code == 0
    assert "\\begin{bmatrix}" in latex.out and "\\begin{align*}" in latex.out
    assert "\\operatorname{flip}(K)" in latex.out and "\\operatorname{pad}(\\delta J)" in latex.out
    golden("backprop_given_delta.tex", normalised(latex.out))
    markdown = cli("backprop", "-", "--format", "markdown", input=given)
    assert markdown.code == 0
    assert markdown.out.startswith("# convcalc backprop") and "```text" in markdown.out
    assert "δK = I \\* δJ" in markdown.out  # '*' escaped, not emphasis
    golden("backprop_given_delta.md", normalised(markdown.out))


def test_rich_format_draws_grids_without_colour_when_piped(cli, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    result = cli("backprop", "-", "--format", "rich", input=to_json(get("course").spec))
    assert result.code == 0
    assert "┌" in result.out and "J[0,0] = 1·1 + 3·0" in result.out
    assert "\x1b[" not in result.out


def test_piped_default_is_plain_text(cli):
    result = cli("backprop", "-", input=to_json(get("course").spec))
    assert "┌" not in result.out and "FORWARD PASS" in result.out


@pytest.mark.parametrize(
    "args", [["--symbolic", "K"], ["--symbols", "K"], ["--symbolic", "conv2d.weight"], ["--symbolic", "1.weight"]]
)
def test_symbolic_chosen_tensor(cli, tmp_path, args):
    path = tmp_path / "course.json"
    path.write_text(to_json(get("course").spec), encoding="utf-8")
    result = cli("backprop", str(path), *args)
    assert result.code == 0, result.err
    assert "k₀₀" in result.out and "w₀₀" not in result.out
    assert "decided at the spec's values" in result.out


def test_symbolic_names_before_the_spec(cli, tmp_path):
    path = tmp_path / "course.json"
    path.write_text(to_json(get("course").spec), encoding="utf-8")
    result = cli("backprop", "--symbolic", "K,W", str(path), "--json")
    assert result.code == 0, result.err
    assert result.json()["symbols"] == ["K", "W"]


def test_symbolic_golden(cli):
    result = cli("backprop", "-", "--symbolic", "K", input=to_json(get("course").spec))
    assert result.code == 0
    golden("backprop_course_symbolic_K.txt", normalised(result.out))
    # δK as a polynomial in the k's: its value at the spec's K is the numeric δK
    data = cli("backprop", "-", "--symbolic", "K", "--json", input=to_json(get("course").spec)).json()
    numeric = cli("backprop", "-", "--json", input=to_json(get("course").spec)).json()
    import sympy

    K = get("course").spec["layers"][0]["weight"]
    values = {sympy.Symbol(f"k_{i}{j}"): K[i][j] for i in range(3) for j in range(3)}
    for row, num_row in zip(data["grads"][0]["weight"], numeric["grads"][0]["weight"]):
        for expr, number in zip(row, num_row):
            assert sympy.sympify(expr.replace("^", "**")).subs(values) == number


def test_symbolic_all_parameters_graph(cli):
    result = cli("backprop", "-", "--symbolic", "--json", input=to_json(get("shared-weights").spec))
    assert result.code == 0
    data = result.json()
    assert data["mode"] == "symbolic" and data["symbols"] == ["W"]
    assert "w_00" in data["grads"]["W"][0][0]


def test_lr_option_overrides_the_spec(cli):
    data = cli("backprop", "-", "--lr", "1/2", "--json", input=to_json(get("course").spec)).json()
    K = np.array(get("course").spec["layers"][0]["weight"], dtype=object)
    dK = np.vectorize(Fraction, otypes=[object])(np.array(data["grads"][0]["weight"], dtype=object))
    new = np.vectorize(lambda v: Fraction(v), otypes=[object])(np.array(data["updated"][0]["weight"], dtype=object))
    assert (new == K - dK / 2).all()
    text = cli("backprop", "-", "--lr", "0.1", input=to_json(get("mlp").spec)).out
    assert "gradient-descent update (lr = 0.1)" in text and "w1 ← w1 − lr·δw1" in text


@pytest.mark.torch
def test_verify_torch(cli):
    pytest.importorskip("torch")
    result = cli("backprop", "-", "--verify", "torch", input=to_json(get("strided").spec))
    assert result.code == 0
    assert "agree with torch" in result.out


def test_max_entries_limits_the_board(cli):
    result = cli("backprop", "-", "--max-entries", "2", input=to_json(get("course").spec))
    assert "J[0,1] = 3·1" in result.out and "J[0,2] = 0·1" not in result.out
    assert "more entries (use --max-entries to show more)" in result.out


def test_help_documents_the_spec_and_examples(cli):
    result = cli("backprop", "--help")
    assert result.code == 0
    for fragment in (
        "--example course",
        "mse_half_sum",
        "half_sum_squares",
        "conv_transpose2d",
        "batchnorm2d",
        "p/q",
        "--symbolic",
        "--verify torch",
    ):
        assert fragment in result.out
