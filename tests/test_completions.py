"""The committed completion scripts are what the command generates today."""

from pathlib import Path

import pytest

from convcalc.cli.completions import SHELLS, completion_script

COMPLETIONS = Path(__file__).resolve().parents[1] / "completions"


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_scripts_are_fresh(shell):
    committed = (COMPLETIONS / f"convcalc.{shell}").read_text(encoding="utf-8")
    assert committed == completion_script(shell), (
        f"completions/convcalc.{shell} is stale: run python -m convcalc.cli.completions completions/"
    )
    assert "_CONVCALC_COMPLETE" in committed
