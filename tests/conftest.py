"""Shared test helpers: run the CLI in-process as a user's shell would see it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcalc.cli.app import app

GOLDEN = Path(__file__).parent / "golden"


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
