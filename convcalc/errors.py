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
                 valid: str | None = None, spelling: str | None = None,
                 speller: Callable[[str], str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.valid = valid
        self.spelling = spelling
        self.speller = speller  # how other ``{field:NAME}`` settings in the message are spelled

    def __str__(self) -> str:
        message = spell(self.message, self.speller)
        if self.field is None:
            return message
        return message.replace("{field}", self.spelling or cli_flag(self.field))

    def __reduce__(self):  # keeps the data through pickling by multiprocessing and copy
        # a speller may be a closure: the other settings are written out with it (``{field}`` stays)
        message = spell(self.message, self.speller) if self.speller is not None else self.message
        return (_rebuild, (message, self.field, self.value, self.valid, self.spelling))

    def spelled(self, name: str | None, speller: Callable[[str], str] | None = None) -> InputError:
        """The same error with its field written ``name`` (the front end's word for it) and any
        other ``{field:NAME}`` written ``speller(NAME)``."""
        return InputError(self.message, field=self.field, value=self.value, valid=self.valid, spelling=name,
                          speller=speller or self.speller)


def _rebuild(message, field, value, valid, spelling) -> InputError:
    return InputError(message, field=field, value=value, valid=valid, spelling=spelling)


class ExpectationFailed(Exception):
    """A check asked for with ``--expect`` / ``--expect-params`` did not hold."""

    exit_code = 1
