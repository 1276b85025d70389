"""Instructor templates (``convcalc quiz --from FILE``) and class rosters (``--students FILE``).

A template is a JSON object::

    {"title": "CNN midterm", "seed": 2024, "difficulty": 2,
     "questions": [
       {"topic": "shape", "layer": {"in": "3x{H}x{H}", "k": "{k}", "stride": 2, "pad": 1, "out": 16},
        "vars": {"H": [28, 32, 64], "k": [3, 5]}},
       {"topic": "rf", "chain": "3x64x64 | conv 8 k{k} | maxpool k2 | conv 16 k3 s2", "vars": {"k": [3, 5]}},
       {"topic": "conv-backprop", "difficulty": 1},
       {"topic": "conv-numeric", "input": [[1, 2, 0], [0, 1, 3], [2, 1, 1]], "kernel": [[1, 0], [0, -1]]}]}

- ``topic`` names the question's topic (``convcalc quiz --list-topics``); a question with no
  other keys is drawn by the generator at its ``difficulty`` (default: the template's).
- ``layer`` (topics shape, params, macs): the layer as a ``convcalc shape --jsonl`` line.
- ``chain`` (topics rf, flatten, network): an inline chain as ``convcalc arch`` reads it.
- ``input``, ``kernel``, ``upstream``, ``stride``, ``padding``, ``k``, ``mode`` (the matrix
  topics): the question's own numbers.
- ``vars``: each placeholder ``{name}`` and the values it is drawn from, per student. A string
  that is exactly ``"{name}"`` becomes the value itself (a number stays a number).

Every question is solved by the engine before the sheet is written; a template whose layer the
engine refuses for every draw is an error naming the question.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from convcalc.errors import InputError
from convcalc.files import read_text
from convcalc.homework.generate import Slot, parse_difficulty
from convcalc.homework.topics import topic
from convcalc.jsontext import load_json

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DATA_KEYS = {
    "shape": ("layer",),
    "params": ("layer",),
    "macs": ("layer",),
    "rf": ("chain",),
    "flatten": ("chain",),
    "network": ("chain",),
    "conv-numeric": ("input", "kernel", "stride", "padding"),
    "pool-numeric": ("input", "mode", "k", "stride"),
    "conv-backprop": ("input", "kernel", "upstream", "stride", "padding"),
    "pool-backprop": ("input", "k", "stride", "upstream"),
    "relu-backprop": ("input", "upstream"),
    "batchnorm": ("input",),
}
_ASK = {"shape": "output", "params": "params", "macs": "macs"}
_TOP_KEYS = ("title", "seed", "difficulty", "questions", "description")


def _placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(_placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_placeholders(v) for v in value)) if value else set()
    return set()


def fill(template: Any, values: dict[str, Any], where: str) -> Any:
    """The template with each ``{name}`` replaced by its drawn value."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return values[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)
    if isinstance(template, dict):
        return {k: fill(v, values, where) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values, where) for v in template]
    return template


def _slot(item: Any, index: int, difficulty: int, source: str) -> Slot:
    where = f"{source}: question {index}"
    if not isinstance(item, dict):
        raise InputError(f'{where}: expected an object such as {{"topic": "shape", ...}}; got {item!r}')
    if "topic" not in item:
        raise InputError(f'{where}: "topic" is missing')
    name = topic(str(item["topic"])).name
    allowed = ("topic", "difficulty", "vars") + _DATA_KEYS[name]
    for key in item:
        if key not in allowed:
            raise InputError(f"{where}: unknown key '{key}' for topic {name}; valid keys: {', '.join(allowed)}")
    level = parse_difficulty(item["difficulty"]) if "difficulty" in item else difficulty
    data = {k: v for k, v in item.items() if k in _DATA_KEYS[name]}
    raw_vars = item.get("vars", {})
    if not isinstance(raw_vars, dict):
        raise InputError(f'{where}: "vars" must map each name to a list of values, e.g. {{"H": [28, 32]}}')
    variables = {}
    for var, choices in raw_vars.items():
        if not isinstance(choices, list) or not choices or any(isinstance(c, (dict, list)) for c in choices):
            raise InputError(f"{where}: vars '{var}' must be a non-empty list of numbers or words; got {choices!r}")
        variables[str(var)] = tuple(choices)
    missing = sorted(_placeholders(data) - set(variables))
    if missing:
        raise InputError(f'{where}: the placeholder {{{missing[0]}}} has no entry in "vars"')
    if not data:
        if variables:
            raise InputError(
                f'{where}: "vars" without a question to fill in (give {" or ".join(_DATA_KEYS[name][:1])})'
            )
        return Slot(name, level, where=where)
    if name in _ASK:
        if "layer" not in data or not isinstance(data["layer"], dict):
            raise InputError(
                f'{where}: "layer" must be an object as in convcalc shape --jsonl, e.g. '
                '{"in": "3x32x32", "k": 5, "out": 2}'
            )
        data = {"layer": data["layer"], "ask": _ASK[name]}
    elif name in ("rf", "flatten", "network") and "chain" not in data:
        raise InputError(f'{where}: "chain" is missing')
    elif name not in ("rf", "flatten", "network") and "input" not in data:
        raise InputError(f'{where}: "input" is missing (the question\'s matrix)')
    return Slot(name, level, data, variables, where)


def load_template(path: str) -> tuple[list[Slot], dict[str, Any]]:
    """The template's question slots and its settings (title, seed, difficulty)."""
    data = load_json(read_text(path, "--from"), path)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list) or not data["questions"]:
        raise InputError(
            f'{path}: a template is an object with a non-empty "questions" list (see examples/quiz/midterm.json)'
        )
    for key in data:
        if key not in _TOP_KEYS:
            raise InputError(f"{path}: unknown key '{key}'; valid keys: {', '.join(_TOP_KEYS)}")
    settings: dict[str, Any] = {"title": str(data.get("title", ""))}
    if "seed" in data:
        if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
            raise InputError(f'{path}: "seed" must be a whole number; got {data["seed"]!r}')
        settings["seed"] = data["seed"]
    difficulty = parse_difficulty(data.get("difficulty", 2))
    settings["difficulty"] = difficulty
    slots = [_slot(item, n, difficulty, path) for n, item in enumerate(data["questions"], start=1)]
    return slots, settings


def read_roster(path: str) -> list[str]:
    """Student names or ids, one a line (a CSV: the first column; a header row ``student``, ``name``
    or ``id`` is skipped). Blank lines are ignored; a student listed twice is an error."""
    text = read_text(path, "--students")
    seen: dict[str, int] = {}
    students = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        name = row[0].strip()
        if not seen and name.lower() in ("student", "name", "id", "student_id"):
            seen[""] = number
            continue
        if name in seen:
            raise InputError(f"{path} line {number}: the student '{name}' is listed twice (first on line {seen[name]})")
        seen[name] = number
        students.append(name)
    if not students:
        raise InputError(f"{path}: the roster lists no students (one name or id a line)")
    return students
