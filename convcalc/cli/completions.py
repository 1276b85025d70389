"""Shell completion scripts for bash, zsh and fish, as the command itself prints them,
so they stay in step with the commands.

Regenerate the committed copies with ``python -m convcalc.cli.completions completions/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The script ``convcalc --show-completion SHELL`` prints (typer's own completion scripts).

    Typer picks the shell by detection unless ``_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION``
    is set, which makes ``--show-completion`` take the shell name instead.
    """
    if shell not in SHELLS:
        raise ValueError(f"no completion support for {shell}; use one of {', '.join(SHELLS)}")
    env = dict(os.environ, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    result = subprocess.run([sys.executable, "-m", "convcalc", "--show-completion", shell], env=env,
                            capture_output=True, text=True, check=True)
    return result.stdout.rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "completions")
    target.mkdir(parents=True, exist_ok=True)
    for shell in SHELLS:
        (target / f"convcalc.{shell}").write_text(completion_script(shell), encoding="utf-8")
        print(f"wrote {target / f'convcalc.{shell}'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
