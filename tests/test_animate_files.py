"""``convcalc animate`` and ``convcalc conv --animate`` as a user runs them: the files decoded
back (Pillow) for frame count and size, a golden still per figure kind (with a tolerance),
the HTML page rendered in headless chromium, the terminal text, and bad input."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden" / "animate"
CONV = ["--in", "5x5", "--k", "3", "--stride", "2", "--pad", "1"]
NUMBERS = ["12 3 19; 25 10 1; 9 7 17", "1 2; 3 4"]


def _pillow():
    pytest.importorskip("matplotlib", reason="the [plot] extra (matplotlib) is not installed")
    return pytest.importorskip("PIL.Image", reason="the [plot] extra (Pillow) is not installed")


def test_gif_has_one_frame_per_output_entry_at_the_asked_size(cli, tmp_path):
    Image = _pillow()
    result = cli("animate", *CONV, "-o", tmp_path / "conv.gif", "--size", "320", "--fps", "4")
    assert result.code == 0, result.err
    assert "wrote" in result.err and "(9 frames)" in result.err
    with Image.open(tmp_path / "conv.gif") as gif:
        assert gif.n_frames == 9 and gif.size[0] == 320
        assert gif.info["duration"] == 250


def test_transposed_and_pooling_gifs(cli, tmp_path):
    Image = _pillow()
    assert cli("animate", "--op", "conv-transpose", "--in", "3x3", "--k", "3", "--stride", "2", "--pad", "1",
               "--output-padding", "1", "-o", tmp_path / "t.gif").code == 0
    with Image.open(tmp_path / "t.gif") as gif:
        assert gif.n_frames == 9 and gif.size[0] == 480  # scatter: one frame per input entry
    assert cli("animate", "--op", "conv-transpose", "--in", "3x3", "--k", "3", "--stride", "2", "--pad", "1",
               "--output-padding", "1", "--view", "direct", "-o", tmp_path / "d.gif").code == 0
    with Image.open(tmp_path / "d.gif") as gif:
        assert gif.n_frames == 36  # direct: one per output entry of the 6x6 output


def test_still_png_and_svg(cli, tmp_path):
    Image = _pillow()
    assert cli("animate", "--op", "maxpool", "--in", "6x6", "--k", "3", "--stride", "2", "--ceil-mode",
               "-o", tmp_path / "pool.png", "--size", "600").code == 0
    with Image.open(tmp_path / "pool.png") as png:
        assert png.format == "PNG" and png.size[0] == 600 and png.size[1] > 200
    assert cli("animate", "--op", "maxpool", "--in", "6x6", "--k", "3", "--stride", "2", "--ceil-mode",
               "-o", tmp_path / "pool.svg").code == 0
    root = ET.parse(tmp_path / "pool.svg").getroot()
    assert root.tag.endswith("svg")
    assert "step 9 of 9: output (2, 2)" in (tmp_path / "pool.svg").read_text()


def _close(path: Path, golden: Path, Image) -> None:
    """Same size, and nearly the same pixels (fonts may rasterise a little differently)."""
    if os.environ.get("CONVCALC_UPDATE_GOLDEN"):
        shutil.copy(path, golden)
    assert golden.exists(), f"missing golden image {golden}; run with CONVCALC_UPDATE_GOLDEN=1 and look at it"
    with Image.open(path) as a, Image.open(golden) as b:
        assert a.size == b.size
        x = np.asarray(a.convert("RGB"), dtype=np.int16)
        y = np.asarray(b.convert("RGB"), dtype=np.int16)
    diff = np.abs(x - y)
    assert diff.mean() < 2.0 and (diff.max(axis=2) > 64).mean() < 0.02


STILLS = {
    "conv_padding_strides": ["animate", *CONV],
    "conv_dilation_1d": ["animate", "--in", "7", "--k", "3", "--dilation", "2", "--dims", "1"],
    "transposed_scatter": ["animate", "--op", "conv-transpose", "--in", "2x2", "--k", "3", "--stride", "2"],
    "transposed_direct": ["animate", "--op", "conv-transpose", "--in", "2x2", "--k", "2", "--stride", "2",
                          "--view", "direct"],
    "maxpool_ceil": ["animate", "--op", "maxpool", "--in", "6x6", "--k", "3", "--stride", "2", "--ceil-mode"],
    "conv3d_slice": ["animate", "--in", "3x4x4", "--dims", "3", "--k", "2", "--stride", "2"],
    "conv_numbers": ["conv", *NUMBERS, "--pad", "1", "--stride", "2"],
}


@pytest.mark.parametrize("name", list(STILLS))
def test_golden_stills(cli, tmp_path, name):
    Image = _pillow()
    path = tmp_path / f"{name}.png"
    args = STILLS[name]
    if args[0] == "conv":
        result = cli(*args, "--animate", path)
    else:
        result = cli(*args, "-o", path, "--size", "600")
    assert result.code == 0, result.err
    _close(path, GOLDEN / f"{name}.png", Image)


def test_html_page_is_self_contained(cli, tmp_path):
    assert cli("animate", *CONV, "--html", tmp_path / "conv.html").code == 0
    page = (tmp_path / "conv.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page), "no network resources"
    assert page.count("http") == page.count("http://www.w3.org/2000/svg")
    assert 'max="9"' in page and "play" in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="headless chromium is not installed (Debian: apt-get install chromium)")
@pytest.mark.parametrize(("args", "frames"), [(CONV, 9), (["--op", "avgpool", "--in", "6x6", "--k", "3", "--stride",
                                                          "2", "--ceil-mode"], 9),
                                             (["--op", "conv-transpose", "--in", "3x3", "--k", "3", "--stride", "2",
                                               "--view", "direct"], 49)])
def test_html_page_renders_every_frame_in_chromium(cli, tmp_path, args, frames):
    page = tmp_path / "page.html"
    assert cli("animate", *args, "--html", page).code == 0
    with tempfile.TemporaryDirectory() as profile:
        shown = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr[-500:]
    assert re.search(rf'<body[^>]*data-frames="{frames}"', shown.stdout), "the script drew every frame"
    assert len(re.findall(r'<svg class="frame', shown.stdout)) == frames
    assert len(re.findall(r'<svg class="frame current"', shown.stdout)) == 1


def test_piped_without_a_file_prints_every_frame(cli):
    result = cli("animate", "--in", "4x4", "--k", "3")
    assert result.code == 0
    out = result.out
    assert out.startswith("conv2d · input 4x4 · k 3\n")
    assert out.count("step ") == 4 and "step 4 of 4: output (1, 1)" in out
    first = out.split("\n\n")[1].splitlines()
    assert first[0] == "step 1 of 4: output (0, 0)"
    assert [line.rstrip() for line in first[1:5]] == ["# # # .", "# # # .     @ o", "# # # .     o o", ". . . ."]


def test_conv_animate_draws_the_numbers_and_keeps_the_text(cli, tmp_path):
    Image = _pillow()
    plain = cli("conv", *NUMBERS)
    drawn = cli("conv", *NUMBERS, "--animate", tmp_path / "conv.gif")
    assert drawn.code == 0 and drawn.out == plain.out
    with Image.open(tmp_path / "conv.gif") as gif:
        assert gif.n_frames == 4
    assert cli("conv", *NUMBERS, "--animate", tmp_path / "conv.html").code == 0
    page = (tmp_path / "conv.html").read_text()
    assert "J[0, 0] = 12·1 + 3·2 + 25·3 + 10·4 = 133" in page and "J[1, 1] = 10·1 + 1·2 + 7·3 + 17·4 = 101" in page


def test_conv_animate_refuses_several_channels(cli, tmp_path):
    result = cli("conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1 | 0 1; 1 0", "--animate", tmp_path / "c.html")
    assert result.code == 2 and "one input channel" in result.err and not (tmp_path / "c.html").exists()


# ---- bad input: one line, exit 2, nothing left behind ----

def _one_line(result, *words):
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith("convcalc: error: ")
    for word in words:
        assert word in result.err


def test_unknown_extension(cli, tmp_path):
    _one_line(cli("animate", *CONV, "-o", tmp_path / "conv.jpg"), ".gif, .png, .svg or .html")
    _one_line(cli("animate", *CONV, "--html", tmp_path / "conv.txt"), ".html")
    _one_line(cli("conv", *NUMBERS, "--animate", tmp_path / "conv"), "(none)")


def test_unwritable_paths(cli, tmp_path):
    _one_line(cli("animate", *CONV, "-o", tmp_path / "missing" / "conv.gif"), "does not exist")
    (tmp_path / "dir.gif").mkdir()
    _one_line(cli("animate", *CONV, "-o", tmp_path / "dir.gif"), "not a regular file")
    (tmp_path / "link.html").symlink_to(tmp_path / "elsewhere.html")
    _one_line(cli("animate", *CONV, "--html", tmp_path / "link.html"), "not a regular file")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        _one_line(cli("animate", *CONV, "--html", locked / "conv.html"), "not writable")
    finally:
        locked.chmod(0o700)


def test_too_many_frames_suggests_max_frames(cli, tmp_path):
    _one_line(cli("animate", "--in", "64x64", "--k", "3", "-o", tmp_path / "big.gif"), "3844 frames", "--max-frames")
    assert not any(tmp_path.iterdir())


def test_bad_layer_options_are_the_shape_commands(cli):
    shape = cli("shape", "--in", "3x3", "--k", "5")
    animate = cli("animate", "--in", "3x3", "--k", "5")
    assert shape.code == animate.code == 2 and shape.err == animate.err
    _one_line(cli("animate", "--in", "5x5", "--k", "3", "--ceil-mode"), "ceil-mode")
    _one_line(cli("animate", "--in", "5x5", "--k", "3", "--size", "10"), "--size")
    _one_line(cli("animate", "--in", "5x5", "--k", "3", "--fps", "0"), "--fps")


def test_missing_matplotlib_is_one_message(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    _one_line(cli("animate", *CONV, "-o", tmp_path / "conv.gif"), "pip install 'convcalc[plot]'")
    assert not any(tmp_path.iterdir()), "a failed drawing leaves no file behind"
    assert cli("animate", *CONV, "--html", tmp_path / "conv.html").code == 0, "the HTML page needs no matplotlib"


def test_new_files_get_ordinary_permissions(cli, tmp_path):
    assert cli("animate", *CONV, "--html", tmp_path / "conv.html").code == 0
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "conv.html").stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["conv.html"]
