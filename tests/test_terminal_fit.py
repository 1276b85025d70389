"""Issue 12: what a terminal shows never looks like a wrong number — wide matrices keep whole
columns around a "…" marker and say which they show, tables too wide for the terminal become one
record per layer, shortened names stay distinct, wrapped formulas indent their continuation, and
the train progress bar labels its moving average."""

from __future__ import annotations

import io
import re

import pytest

M30 = "; ".join(" ".join(str((r * 30 + c) % 97) for c in range(30)) for r in range(30))


def rich(cli, monkeypatch, width: int, *args: str) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("NO_COLOR", "1")
    result = cli(*args, "--format", "rich")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert max(len(line) for line in lines) <= width, max(lines, key=len)
    return result.out


@pytest.mark.parametrize("width", [80, 60])
def test_a_wide_matrix_keeps_whole_columns_around_a_marker(cli, monkeypatch, width):
    out = rich(cli, monkeypatch, width, "pool", M30, "--k", "2")
    title = next(line for line in out.splitlines() if "I, input (30x30)" in line)
    shown = re.search(r"columns 0–(\d+) and (\d+)–29 of 30 shown", title)
    assert shown, title
    left, right = int(shown.group(1)), int(shown.group(2))
    rows = [line.strip("│ ").split() for line in out.splitlines() if line.startswith("│")][:30]
    for r, cells in enumerate(rows):
        expected = [str((r * 30 + c) % 97) for c in range(left + 1)] + ["…"] + \
                   [str((r * 30 + c) % 97) for c in range(right, 30)]
        assert cells == expected, (r, cells)


def test_a_matrix_that_fits_is_drawn_whole(cli, monkeypatch):
    out = rich(cli, monkeypatch, 80, "conv", "1 2 3; 4 5 6; 7 8 9", "1 0; 0 1")
    assert "shown" not in out and "…" not in out
    assert "│  6   8" in out and "│ 12  14" in out


@pytest.mark.parametrize("width", [40, 60])
def test_a_narrow_terminal_gets_records_not_cropped_numbers(cli, monkeypatch, width):
    out = rich(cli, monkeypatch, width, "arch", "lenet5")
    data = cli("arch", "lenet5", "--json").json()
    words = set(re.split(r",?\s+", out))
    for layer in data["layers"]:
        assert "x".join(map(str, layer["output"])) in words  # 16x10x10 whole, never 16x10x1
    assert "2,416" in words and "48.1K" in words
    assert "one layer per record" in " ".join(out.split())


def test_run_tables_do_not_crop_numbers_either(cli, monkeypatch):
    out = rich(cli, monkeypatch, 40, "run", "lenet5")
    assert "features.c3" in out and "16x10x10" in out
    assert re.search(r"min -?\d+\.\d+", out)  # whole numbers, not '-' cut from '-2.32'


def test_shortened_names_stay_distinct(cli, monkeypatch):
    out = rich(cli, monkeypatch, 80, "arch", "inception_v3", "--depth", "3")
    data = cli("arch", "inception_v3", "--depth", "3", "--json").json()
    names = [line.split()[0] for line in out.splitlines()[2:2 + len(data["layers"])]]
    assert len(set(names)) == len(names) == len(data["layers"])
    assert any(n.startswith("Mixed_5b…") for n in names) and any(n.startswith("Mixed_5c…") for n in names)


def test_shorten_names_keeps_the_block_only_where_ends_collide():
    from convcalc.render.network import shorten_names

    names = ["Mixed_5b.branch1x1.conv", "Mixed_5c.branch1x1.conv", "layer1.0.downsample.0"]
    short = shorten_names(names, 17)
    assert short == ["Mixed_5b…1x1.conv", "Mixed_5c…1x1.conv", "…1.0.downsample.0"]
    assert all(len(s) <= 17 for s in short)


def test_hanging_lines_indent_the_continuation_and_keep_words_whole():
    from convcalc.render.fit import hanging_lines

    text = "  J = I * K   (* is cross-correlation, as in PyTorch: J[i,j] = Σ_u Σ_v I[i+u, j+v]·K[u,v])"
    lines = hanging_lines(text, 50)
    assert lines[0].startswith("  J = I * K   (*") and all(line.startswith("      ") for line in lines[1:])
    assert all(len(line) <= 50 for line in lines)
    assert " ".join(" ".join(lines).split()) == " ".join(text.split())  # nothing lost, nothing split
    assert any("I[i+u, j+v]·K[u,v])" in line for line in lines)
    assert hanging_lines("short", 50) == ["short"]


def test_backprop_rules_wrap_indented(cli, monkeypatch, tmp_path):
    spec = tmp_path / "course.json"
    spec.write_text(cli("backprop", "--example", "course").out)
    out = rich(cli, monkeypatch, 60, "backprop", str(spec))
    lines = out.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("  J = I * K"))
    assert lines[k + 1].startswith("      ") and "K[u,v])" in lines[k + 1] + lines[k + 2]


def test_the_progress_bar_shows_the_step_loss_and_labels_the_average():
    from rich.console import Console

    from convcalc.executor.training import StepRecord
    from convcalc.render.executor import RichProgress

    console = Console(file=io.StringIO(), width=120, force_terminal=False, no_color=True)
    with RichProgress(2, console) as bar:
        bar.update(StepRecord(1, 1, 1.0, 0.5), None)
        bar.update(StepRecord(2, 1, 0.5, 0.75), None)
    text = console.file.getvalue()
    assert "loss 0.5000" in text and "avg 0.9500" in text  # 0.9·1.0 + 0.1·0.5
