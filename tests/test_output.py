"""One output path (:func:`convcalc.cli.output.emit`): JSON is indented on a terminal and one
compact line when piped, for every command; a format a view does not offer is refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from convcalc.cli.output import View, emit, json_document
from convcalc.errors import InputError

DOC = {"schema": "convcalc/example/v1", "rows": [[1, 2], [3, 4]]}


def test_json_is_compact_for_a_pipe_and_indented_for_a_terminal():
    assert json_document(DOC, terminal=False) == '{"schema": "convcalc/example/v1", "rows": [[1, 2], [3, 4]]}'
    indented = json_document(DOC, terminal=True)
    assert indented.splitlines()[0] == "{" and '  "schema": "convcalc/example/v1",' in indented
    assert json.loads(indented) == DOC
    # a view with a layout of its own uses it on a terminal only
    assert json_document(DOC, lambda d: "LAYOUT", terminal=True) == "LAYOUT"
    assert json_document(DOC, lambda d: "LAYOUT", terminal=False) != "LAYOUT"


def test_emit_follows_the_terminal(monkeypatch, capsys):
    view = View(json=lambda: DOC, text=lambda: "text")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    emit(view, "json")
    assert len(capsys.readouterr().out.splitlines()) > 1
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    emit(view, "json")
    assert capsys.readouterr().out.count("\n") == 1


def test_emit_builds_only_the_chosen_format(capsys):
    def boom() -> str:
        raise AssertionError("built a format that was not asked for")

    emit(View(text=lambda: "the text", markdown=boom, json=boom), "text")
    assert capsys.readouterr().out == "the text\n"


def test_rich_falls_back_on_text_and_a_missing_format_is_refused(capsys):
    emit(View(text=lambda: "only text"), "rich")
    assert capsys.readouterr().out == "only text\n"
    with pytest.raises(InputError, match="--format csv is not offered here: give one of text, json"):
        emit(View(text=lambda: "t", json=lambda: DOC), "csv")


@pytest.mark.parametrize("command", [
    ["shape", "--in", "3x32x32", "--k", "5", "--out", "2", "--json"],
    ["shape", "--in", "3xHxW", "--k", "3", "--stride", "2", "--pad", "1", "--json"],
    ["arch", "lenet5", "--json"],
    ["arch", "--list", "--json"],
    ["backprop", "--list-examples", "--json"],
    ["conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1 | 0 1; 1 0", "--json"],
    ["solve", "--in", "32", "--out", "16", "--json"],
])
def test_every_command_prints_one_json_line_into_a_pipe(command):
    done = subprocess.run([sys.executable, "-m", "convcalc", *command], capture_output=True, text=True, check=True)
    assert done.stdout.count("\n") == 1, done.stdout[:200]
    assert json.loads(done.stdout)["schema"].startswith("convcalc/")
