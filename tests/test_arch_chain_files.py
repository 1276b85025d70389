"""A chain too long for the command line (the system's argument limit) read from a text file or
standard input: the same network, the same report, as the inline chain."""

from __future__ import annotations

import gc
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.cli.gc_pause import collector_paused
from convcalc.engine import support
from convcalc.engine.report import AxisRF
from convcalc.network.walk import RFState

INLINE = "3x32x32 | conv 6 k5 | relu | maxpool k2 | conv 16 k5 s1 p2 | relu | avgpool k2 | flatten | fc 10"


def test_a_chain_in_a_file_is_the_inline_chain(cli, tmp_path):
    path = tmp_path / "net.txt"
    path.write_text("# LeNet-like, one layer a line\n3x32x32\nconv 6 k5 |\n| relu\n\nmaxpool k2\n"
                    "conv 16 k5 s1 p2 | relu\navgpool k2\nflatten\nfc 10\n", encoding="utf-8")
    inline, from_file = cli("arch", INLINE, "--json"), cli("arch", str(path), "--json")
    assert inline.code == from_file.code == 0
    assert from_file.json() == inline.json()


def test_a_chain_on_stdin_takes_in_and_the_json_spec_still_works(cli):
    chain = INLINE.split(" | ", 1)[1]
    piped = cli("arch", "-", "--in", "3x32x32", "--json", input=chain + "\n")
    assert piped.code == 0 and piped.json() == cli("arch", INLINE, "--json").json()
    spec = '{"input": "3x8x8", "layers": [{"type": "conv", "out": 4, "k": 3}]}'
    assert cli("arch", "-", "--json", input=spec).json()["output"] == [4, 6, 6]


@pytest.mark.parametrize("text,message", [
    ("3x32x32\nconv 6 k5\nfrobnicate 3\n", "at token 3 'frobnicate 3'"),
    ("3x32x32 | conv 6 k5 || relu\n", "empty segment"),
    ("not a network at all\n", "is neither a JSON spec"),
    ("\n# only a comment\n", "is empty"),
    ("{\"input\": \"3x8x8\", \"layers\": [}\n", "line 1"),
])
def test_bad_chain_files_say_where(cli, tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    result = cli("arch", str(path))
    assert result.code == 2 and message in result.err and "Traceback" not in result.err


def test_a_long_chain_repeats_leaves_and_walks_the_same(cli, tmp_path):
    layers = " | ".join("conv 4 k3 p1" if i % 2 == 0 else "relu" for i in range(400))
    path = tmp_path / "long.txt"
    path.write_text("4x9x9 | " + layers, encoding="utf-8")
    doc = cli("arch", str(path), "--json").json()
    assert len(doc["layers"]) == 400
    assert doc["layers"][-2]["rf"]["size"] == [1 + 2 * 200, 1 + 2 * 200]  # 200 convs of 3x3, stride 1
    assert doc["totals"]["params"] == 200 * (4 * 4 * 9 + 4)


def _general_rule(state: RFState, layer: AxisRF) -> RFState:
    """The recurrence as written in the walk's docstring, all in Fractions, beside the exact support
    composed in general (``engine.support.compose``)."""
    s, k = Fraction(layer.stride), Fraction(layer.kernel)
    inner, outer = state.support, layer.support()
    exact = None if inner is None or outer is None else support.compose(inner, outer)
    if s < 1:
        reach = Fraction(int((k - 1) * s))
        return RFState(state.size + reach * state.jump, state.jump * s,
                       state.start + ((k - 1) / 2 - layer.pad) * s * state.jump, exact)
    return RFState(state.size + (k - 1) * state.jump, state.jump * s,
                   state.start + ((k - 1) / 2 - layer.pad) * state.jump,
                   exact)


@pytest.mark.parametrize("layers", [
    [(3, 1, 1), (3, 2, 1), (4, 2, 1), (7, 3, 0), (2, 1, 0)],
    [(5, 2, 2), (4, 1, 3), (1, 1, 0)],
    [(4, Fraction(1, 2), 1), (3, 2, 1), (2, 2, 0)],  # a transposed conv first: fractional jumps
])
def test_the_whole_number_shortcut_is_the_general_rule(layers):
    fast = slow = RFState()
    for kernel, stride, pad in layers:
        layer = AxisRF(kernel, stride, pad)
        fast, slow = fast.after(layer), _general_rule(slow, layer)
        assert fast == slow
        _assert_exact(fast)


def test_the_collector_is_paused_inside_and_restored_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the caller's choice stays
    finally:
        gc.enable()


@given(st.lists(st.tuples(st.integers(1, 7), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3), st.booleans()),
                min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_the_gap_free_shortcut_keeps_the_exact_support(layers):
    """Random windows (dilation too, which leaves holes and so takes the general path), with their
    taps given as conv and pooling give them or left out: the walk's state equals the recurrences
    with the support composed in general, after every layer."""
    fast = slow = RFState()
    for kernel, stride, pad, dilation, with_taps in layers:
        taps = support.window(kernel, stride, pad, dilation) if dilation > 1 or with_taps else None
        layer = AxisRF(dilation * (kernel - 1) + 1, stride, pad, taps)
        fast = fast.after(layer)
        slow = _general_rule(slow, layer).exactly()
        assert fast == slow
        _assert_exact(fast)


def _assert_exact(state: RFState) -> None:
    """Exact numbers: an int where whole, else a Fraction (never a float, never a whole Fraction)."""
    for value in (state.size, state.jump, state.start):
        assert type(value) is (int if Fraction(value).denominator == 1 else Fraction)


@given(st.lists(st.tuples(st.integers(1, 6), st.sampled_from([Fraction(1, 2), Fraction(1, 3), 1, 2, 3]),
                          st.integers(0, 2), st.booleans()), min_size=1, max_size=6))
@settings(max_examples=150, deadline=None)
def test_receptive_field_numbers_stay_exact_through_fractional_jumps(layers):
    """Transposed convolutions (jump 1/s) mixed with windows, from a known support and from an
    unknown one: the walk's state is the general rule's, in ints where whole."""
    for start in (RFState(), RFState(support=None)):
        _check_against_general_rule(start, layers)


def _check_against_general_rule(start: RFState, layers) -> None:
    fast = slow = start
    for kernel, stride, pad, known in layers:
        taps = None
        if known and stride >= 1:
            taps = support.window(kernel, int(stride), pad)
        elif known:
            taps = support.transposed(kernel, int(1 / stride), pad)
        layer = AxisRF(kernel, stride, pad, taps)
        fast = fast.after(layer)
        slow = _general_rule(slow, layer).exactly()
        assert fast == slow
        _assert_exact(fast)
