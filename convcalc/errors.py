"""The two ways a convcalc run can fail on the user's behalf.

Everything the user typed that is wrong raises :class:`InputError` (exit code 2);
a requested ``--expect*`` check that does not hold raises :class:`ExpectationFailed`
(exit code 1). The CLI turns both into one line on stderr, never a traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: a malformed value or a layer configuration PyTorch would refuse.

    The message says what is wrong and, where it can, what would be valid.
    """

    exit_code = 2


class ExpectationFailed(Exception):
    """A check asked for with ``--expect`` / ``--expect-params`` did not hold."""

    exit_code = 1
