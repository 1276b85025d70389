"""Issue 12, "output a user notices": messages that say what is wrong, options that conflict or
would be ignored (refused, naming both), consistent short flags, stdin for every spec reader,
completions of option values, and notes where convcalc changes what the user asked for."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from typer.main import get_command

from convcalc.cli.app import app

SPEC = '{"input": "4", "layers": [{"type": "fc", "out": 2}]}'


def refused(result, *words: str) -> None:
    assert result.code == 2, (result.code, result.out[-300:], result.err)
    assert result.out == "", result.out[-300:]  # refused before anything is printed
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    for word in words:
        assert word in result.err, result.err


# --- messages ------------------------------------------------------------------------------------

def test_an_empty_kernel_size_is_shown_a_kernel_size_example(cli):
    result = cli("shape", "--in", "3x32x32", "--k", "")
    refused(result, "--k (kernel size) '' is empty", "3 or 3x5")
    assert "3x32x32" not in result.err.split("empty")[1]
    refused(cli("shape", "--in", "3x32x32", "--k", "3x"), "has an empty entry", "3 or 3x5")
    refused(cli("shape", "--in", "", "--k", "3"), "--in '' is empty", "3x32x32")


def test_a_negative_expected_parameter_count_is_named_for_what_it_is(cli):
    result = cli("arch", "lenet5", "--expect-params", "-5")
    refused(result, "never negative")
    assert "not a whole number" not in result.err
    refused(cli("arch", "lenet5", "--expect-params", "many"), "not a parameter count")
    assert cli("arch", "lenet5", "--expect-params", "61,706").code == 0
    assert cli("arch", "lenet5", "--expect-params", "61707").code == 1


def test_shape_without_arguments_says_in_is_missing_with_the_usage(cli):
    result = cli("shape")
    refused(result, "--in is missing", "usage: convcalc shape --in SHAPE", "--help")
    assert "Options" not in result.err
    refused(cli("shape", "--k", "3"), "--in is missing: an input shape is required")


# --- conflicting or ignored options --------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (("shape", "--in", "8x32x32", "--k", "3", "--depthwise", "--groups", "2"), ("--depthwise", "--groups 2")),
    (("arch", "lenet5", "--optimizer", "adam"), ("--optimizer", "--training")),
    (("arch", "lenet5", "--list"), ("--list", "lenet5")),
    (("train", "4 | fc 4", "--data", "synthetic:blobs:16", "--steps", "1", "--momentum", "0.5"),
     ("--momentum", "--optimizer momentum")),
    (("train", "4 | fc 4", "--data", "synthetic:blobs:16", "--steps", "1", "--optimizer", "adam", "--momentum", "0.5"),
     ("adam would ignore it",)),
    (("run", "4 | fc 2", "--backward", "--label", "1"), ("--label", "--loss sum takes no labels")),
    (("run", "4 | fc 2", "--label", "1"), ("--label",)),
])
def test_conflicting_or_ignored_options_are_refused(cli, args, words):
    refused(cli(*args), *words)


def test_backprop_option_conflicts_are_refused(cli, tmp_path):
    spec = tmp_path / "course.json"
    spec.write_text(cli("backprop", "--example", "course").out)
    refused(cli("backprop", spec, "--symbolic", "K", "--symbols", "W"), "--symbolic K and --symbols W")
    refused(cli("backprop", spec, "--symbols", ",,,"), "names no tensor")
    refused(cli("backprop", spec, "--force"), "--force", "--symbolic")
    result = cli("backprop", spec, "--max-entries", "-5")
    assert result.code == 2 and "-5" in result.err  # -1 means all; below it is refused
    assert cli("backprop", spec, "--symbols", "K", "--force", "--format", "text").code == 0
    assert cli("backprop", spec, "--symbolic", "--symbols", "K", "--format", "text").code == 0


def test_the_accepted_combinations_still_work(cli):
    assert cli("arch", "lenet5", "--training", "--optimizer", "adam").code == 0
    assert cli("train", "4 | fc 4", "--data", "synthetic:blobs:16", "--steps", "1", "--optimizer", "momentum",
               "--momentum", "0.5", "--format", "text").code == 0
    assert cli("run", "4 | fc 2", "--backward", "--loss", "cross-entropy", "--label", "1").code == 0
    assert cli("shape", "--in", "8x32x32", "--k", "3", "--depthwise").code == 0


# --- notes where convcalc changes the network ------------------------------------------------------

def test_another_channel_count_says_the_first_conv_is_rebuilt(cli):
    result = cli("arch", "resnet18", "--in", "1x224x224", "--depth", "1", "--format", "text")
    assert result.code == 0
    text = " ".join(result.out.split())
    assert "--in has 1 channel where resnet18 is built for 3: conv1 rebuilt for 1" in text
    assert "11,683,240 parameters instead of 11,689,512" in text  # conv1: 64·1·49 instead of 64·3·49
    assert "rebuilt" not in cli("arch", "resnet18", "--in", "3x160x160", "--format", "text").out
    data = cli("arch", "resnet18", "--in", "1x224x224", "--json").json()
    assert data["totals"]["params"] == 11_683_240


def test_verify_without_torch_is_refused_before_the_table(cli, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    refused(cli("arch", "lenet5", "--verify"), "--verify needs PyTorch")


# --- the same short flag means the same option in every command ------------------------------------

#: long names that are one option under two spellings
SAME = {"--kernel-size": "--kernel"}


def _short_flags() -> dict[str, set[str]]:
    group = get_command(app)
    meanings: dict[str, set[str]] = {}
    with group.make_context("convcalc", [], resilient_parsing=True) as ctx:
        for name in group.list_commands(ctx):
            for param in group.get_command(ctx, name).params:
                names = [*param.opts, *param.secondary_opts]
                long = max(names, key=len)
                for flag in names:
                    if len(flag) == 2 and flag != "-h":
                        meanings.setdefault(flag, set()).add(SAME.get(long, long))
    return meanings


def test_each_short_flag_has_one_meaning():
    meanings = _short_flags()
    assert {flag: longs for flag, longs in meanings.items() if len(longs) > 1} == {}
    assert meanings["-s"] == {"--stride"} and meanings["-e"] == {"--explain"} and meanings["-d"] == {"--dilation"}
    assert meanings["-o"] == {"--output"} and meanings["-n"] == {"--batch"} and meanings["-b"] == {"--bias"}


# --- standard input, and --lr as a fraction in train ------------------------------------------------

def test_arch_and_run_read_a_spec_from_stdin(cli):
    assert cli("arch", "-", "--json", input=SPEC).json()["totals"]["params"] == 10
    result = cli("run", "-", "--format", "text", input=SPEC)
    assert result.code == 0 and "linear" in result.out


def test_train_takes_a_fraction_as_the_learning_rate(cli):
    base = ("train", "4 | fc 4", "--data", "synthetic:blobs:16", "--steps", "2", "--json")
    fraction, decimal = cli(*base, "--lr", "1/10").json(), cli(*base, "--lr", "0.1").json()
    assert fraction == decimal or fraction.get("history") == decimal.get("history")
    refused(cli(*base[:-1], "--lr", "1/0"))


# --- completion of option values -------------------------------------------------------------------

def complete(*words: str) -> list[str]:
    env = dict(os.environ, COMP_WORDS=" ".join(("convcalc",) + words), COMP_CWORD=str(len(words)),
               _CONVCALC_COMPLETE="complete_bash")
    result = subprocess.run([sys.executable, "-m", "convcalc"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_option_values_complete():
    assert "resnet18" in complete("arch", "res") and all(n.startswith("res") for n in complete("arch", "res"))
    assert "lenet5" in complete("train", "len") and "vgg16" in complete("run", "vgg")
    assert complete("shape", "--op", "conv-t") == ["conv-transpose"]
    assert "maxpool" in complete("animate", "--op", "max")
    assert complete("arch", "lenet5", "--as", "thop") == ["thop"]
    assert set(complete("backprop", "--example", "")) >= {"course", "mlp", "list"}
    assert complete("conv", "--format", "l") == ["latex"]
    assert complete("run", "lenet5", "--format", "") == ["rich", "text", "json"]
    assert complete("arch", "./no_such_prefix") == []  # nothing matches: the shell offers file names


# --- --help at 80 columns ----------------------------------------------------------------------------

COMMANDS = ("shape", "arch", "backprop", "conv", "pool", "conv-transpose", "im2col", "run", "train", "solve", "animate")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_every_option_name_whole_at_80_columns(cli, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "80")
    out = cli(command, "--help").out
    assert max(len(line) for line in out.splitlines()) <= 80
    names = [flag for param in _command(command).params for flag in (*param.opts, *param.secondary_opts)
             if flag.startswith("--")]
    for name in names:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", out), f"{name} is cut in {command} --help"
    assert "9223372036854775807" not in out  # whole-number ranges in short: 1<=x<2**63


def _command(name: str):
    group = get_command(app)
    with group.make_context("convcalc", [], resilient_parsing=True) as ctx:
        return group.get_command(ctx, name)


def test_epilog_prose_is_reflowed_and_long_examples_keep_their_comments_apart():
    from convcalc.cli.app import reflow_epilog

    text = ("[bold]Examples[/]\n\n  convcalc arch alexnet --table              [dim](the per-layer table, also when "
            "piped)[/]\n\nFiles: .gif (one frame per output entry), .png / .svg (every step in a grid),\n"
            "step, scrub; no network).\nExit codes: 0 ok, 2 bad input.")
    lines = reflow_epilog(text).splitlines()
    assert "  convcalc arch alexnet --table" in lines
    assert "      [dim](the per-layer table, also when piped)[/]" in lines
    assert "Files: .gif (one frame per output entry), .png / .svg (every step in a grid), step, scrub; no network)." \
        in lines
    assert lines[-1] == "Exit codes: 0 ok, 2 bad input."


def test_ranges_read_short_in_messages(cli):
    result = cli("arch", "lenet5", "--batch", "0")
    assert result.code == 2 and "1<=x<2**63" in result.err
    assert cli("arch", "lenet5", "--batch", str(2**63)).code == 2  # the bound is still checked


def test_count_include_pad_flags_work_apart_and_refuse_together(cli):
    with_pad = cli("pool", "1 2; 3 4", "--k", "2", "--mode", "avg", "--pad", "1", "--format", "plain").out
    assert with_pad == cli("pool", "1 2; 3 4", "--k", "2", "--mode", "avg", "--pad", "1", "--count-include-pad",
                           "--format", "plain").out == "1/4 1/2\n3/4 1\n"
    assert cli("pool", "1 2; 3 4", "--k", "2", "--mode", "avg", "--pad", "1", "--no-count-include-pad",
               "--format", "plain").out == "1 2\n3 4\n"
    for command in (("pool", "1 2; 3 4", "--k", "2", "--mode", "avg"), ("shape", "--op", "avgpool", "--in", "3x8x8",
                                                                     "--k", "3")):
        refused(cli(*command, "--count-include-pad", "--no-count-include-pad"), "contradict")


# --- the README's Python example prints what its comments say ---------------------------------------

def test_readme_python_example_prints_what_it_shows(tmp_path):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    (block,) = [b for b in blocks if "conv.backward" in b]
    shown = "\n".join(line[2:] for line in block.splitlines() if line.startswith("# ")) + "\n"
    result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown
    assert "Fraction(" not in shown and "3/2" in shown


def test_readme_documents_exit_code_3_as_a_bug():
    from pathlib import Path

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert 'Exit code 3 ("internal error") is reserved for a bug in convcalc itself' in readme
