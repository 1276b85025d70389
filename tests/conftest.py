"""Shared test helpers: run the CLI in-process as a user's shell would see it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc.cli.app import app

GOLDEN = Path(__file__).parent / "golden"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With CONVCALC_REQUIRE_TORCH=1 (CI, where torch is installed) a PyTorch cross-check that
    skipped is a failure: a torch-marked test, or any test skipped for a reason naming torch
    (``pytest.importorskip("torch")``). A torch-marked test that also needs a third-party
    counter (marked ``extra_tool``: thop, fvcore, …, not dependencies) may still skip."""
    import os

    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get("CONVCALC_REQUIRE_TORCH") != "1" or hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    torch_marked = item.get_closest_marker("torch") is not None and item.get_closest_marker("extra_tool") is None
    if torch_marked or re.search(r"\btorch\b", reason.lower()):  # not "torchinfo is not installed"
        report.outcome = "failed"
        report.longrepr = f"CONVCALC_REQUIRE_TORCH=1: this PyTorch cross-check was skipped ({reason})"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli():
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(app, [str(a) for a in args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


def golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/NAME``; set CONVCALC_UPDATE_GOLDEN=1 to rewrite."""
    import os

    path = GOLDEN / name
    if os.environ.get("CONVCALC_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with CONVCALC_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")
