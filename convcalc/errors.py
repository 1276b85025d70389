"""The two ways a convcalc run can fail on the user's behalf.

Everything the user typed that is wrong raises :class:`InputError` (exit code 2);
a requested ``--expect*`` check that does not hold raises :class:`ExpectationFailed`
(exit code 1). The CLI turns both into one line on stderr, never a traceback.

An error about one setting of a layer is data: the setting (``field``, the layer's own
keyword such as ``padding_mode``), the value given and what would be valid. Its message
writes ``{field}`` where the setting is named, and each front end spells the field its own
way (:meth:`InputError.spelled`): ``--padding-mode`` on the command line, ``padding_mode``
in a backprop spec, ``layers[3].padding_mode`` — its JSON path — in an arch spec.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: How the command line spells a layer field where it is not simply ``--`` + the field with
#: dashes (``padding_mode`` → ``--padding-mode``): the flags of ``convcalc shape``.
CLI_FLAGS = {
    "kernel_size": "--k",
    "padding": "--pad",
    "out_channels": "--out",
    "out_features": "--out",
    "input": "--in",  # the input shape (a spec's "input")
}

NOT_GIVEN: Any = object()

_PLACEHOLDER = re.compile(r"\{field:([a-z_]+)\}")


def spell(template: str, speller: Callable[[str], str] | None = None) -> str:
    """``template`` with each ``{field:NAME}`` written as ``speller(NAME)`` (default: the CLI flag)."""
    say = speller or cli_flag
    return _PLACEHOLDER.sub(lambda m: say(m.group(1)), template)


class Note(str):
    """An advisory note naming settings as ``{field:NAME}``: as a string it reads with the
    command-line flags (``convcalc shape``); :meth:`spelled` writes it as another front end."""

    template: str

    def __new__(cls, template: str) -> Note:
        note = super().__new__(cls, spell(template))
        note.template = template
        return note

    def spelled(self, speller: Callable[[str], str]) -> str:
        return spell(self.template, speller)

    def __reduce__(self):
        return (Note, (self.template,))


def cli_flag(field: str) -> str:
    """The command-line flag of a layer field: ``padding_mode`` → ``--padding-mode``."""
    return CLI_FLAGS.get(field, "--" + field.replace("_", "-"))


class InputError(ValueError):
    """Bad input: a malformed value or a layer configuration PyTorch would refuse.

    The message says what is wrong and, where it can, what would be valid. With ``field``
    the message names the setting as ``{field}``; until a front end spells it, it reads as
    the command-line flag (:func:`cli_flag`). ``value`` is what was given, ``valid`` a short
    description of what would be accepted.
    """

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, value: Any = NOT_GIVEN,
                 valid: str | None = None, speller: Callable[[str], str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.valid = valid
        self.speller = speller  # how a front end writes a setting (default: the command-line flag)

    def __str__(self) -> str:
        say = self.speller or cli_flag
        message = spell(self.message, say)
        return message if self.field is None else message.replace("{field}", say(self.field))

    def __reduce__(self):  # keeps the data through pickling by multiprocessing and copy
        # a speller may be a closure: its words are written into the message (the field stays data)
        message = self.message if self.speller is None else str(self)
        return (_rebuild, (message, self.field, self.value, self.valid))

    def spelled(self, speller: Callable[[str], str]) -> InputError:
        """The same error as a front end writes it: its field and every other ``{field:NAME}``
        written ``speller(NAME)`` (``str``: the bare keyword; a spec's JSON path)."""
        return InputError(self.message, field=self.field, value=self.value, valid=self.valid, speller=speller)


def _rebuild(message, field, value, valid) -> InputError:
    return InputError(message, field=field, value=value, valid=valid)


class ExpectationFailed(Exception):
    """A check asked for with ``--expect`` / ``--expect-params`` did not hold."""

    exit_code = 1
