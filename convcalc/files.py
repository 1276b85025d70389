"""The files a user names: read with one clear message per problem, written without clobbering.

Reading (:func:`read_text`, :func:`check_readable`): a missing file, a directory, a file the
process may not read and text that is not UTF-8 each get one message naming the option.

Writing (:func:`check_destination`, :func:`write_atomically`) — every command that writes a
file goes through here:

* the destination is checked *before* any work (a bad ``--save`` fails before training): the
  name is not empty, its directory exists and accepts a new file (probed by creating and
  removing a temporary file there), and an existing target is a regular file — a device
  (``/dev/null``), FIFO, socket or directory is refused, never replaced;
* a symbolic link is resolved deliberately: the file it points to is written, the link stays;
* the bytes go to a temporary file in the target's directory which then replaces the target in
  one ``os.replace`` (a failure leaves no half-written file); :func:`write_together` does this
  for several files at once (a quiz's sheet and key): all are written, or none;
* a new file gets the mode the umask gives (``0o666 & ~umask``, as ``open(..., "w")`` would),
  a replaced file keeps its mode.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from typing import IO

from convcalc.errors import InputError

MAX_TEXT_BYTES = 256 * 2**20
"""Text inputs (spec files, JSON arrays, batch files) larger than this are refused unread."""

_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def kind_of(mode: int) -> str:
    """'a directory', 'a character device', … or 'a regular file' for an ``st_mode``."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def probe(path: str) -> os.stat_result | None:
    """``os.stat(path)``, or None when there is nothing there (or the name cannot be a file:
    too long, a NUL byte, a component that is not a directory)."""
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def is_file(path: str) -> bool:
    """Whether ``path`` names an existing non-directory (never raises, unlike ``Path.is_file``
    on a name longer than the system allows)."""
    found = probe(path)
    return found is not None and not stat.S_ISDIR(found.st_mode)


def check_readable(path: str, what: str) -> str:
    """``path`` if it can be opened for reading; otherwise an InputError naming ``what``."""
    if not path:
        raise InputError(f"{what}: the file name is empty")
    found = probe(path)
    if found is None:
        raise InputError(f"{what}: cannot read '{path}': no such file")
    if stat.S_ISDIR(found.st_mode):
        raise InputError(f"{what}: '{path}' is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{what}: '{path}' is not readable (permission denied)")
    return path


def read_bytes(path: str, what: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The whole content of ``path`` (at most ``limit`` bytes; a larger file is refused)."""
    check_readable(path, what)
    try:
        with open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        raise InputError(f"{what}: cannot read '{path}': {error.strerror or error}") from None
    if len(data) > limit:
        raise InputError(f"{what}: '{path}' is larger than {limit // 2**20} MiB; "
                         "convcalc reads text inputs up to that size")
    return data


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 text (a leading byte-order mark is dropped), or an InputError saying where it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        hint = " (it looks like UTF-16: save it as UTF-8)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        byte = data[error.start]
        raise InputError(f"{what} is not UTF-8 text: byte 0x{byte:02x} at offset {error.start}{hint}") from None


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of ``path``; any problem is one InputError naming ``what`` and ``path``."""
    return decode_text(read_bytes(path, what), f"{what} '{path}'")


# --- writing ----------------------------------------------------------------------------------

def check_destination(path: str, what: str, example: str = "weights.npz") -> str:
    """Where writing ``path`` will put the bytes (symbolic links resolved), checked now.

    Refuses an empty name, a missing or read-only directory, and an existing target that is
    not a regular file. Call it before the work whose result will be written. ``example`` is
    the file name the messages suggest.
    """
    if not path or not path.strip():
        raise InputError(f"{what} '{path}': the file name is empty (give one such as {example})")
    if path.endswith(("/", os.sep)):
        raise InputError(f"{what} {path}: names a directory; give a file name (such as {path.rstrip('/')}/{example})")
    target = os.path.realpath(path)
    found = probe(target)
    if found is not None and not stat.S_ISREG(found.st_mode):
        shown = path if target == os.path.abspath(path) else f"{path} (→ {target})"
        if stat.S_ISDIR(found.st_mode):
            raise InputError(f"{what} {shown} is a directory; give a file name "
                             f"(such as {path.rstrip('/')}/{example})")
        raise InputError(f"{what} {shown} is {kind_of(found.st_mode)}, not a regular file: "
                         "convcalc only writes regular files")
    directory = os.path.dirname(target)
    where = probe(directory)
    if where is None or not stat.S_ISDIR(where.st_mode):
        raise InputError(f"{what} {path}: the directory {directory} does not exist")
    try:  # the only sure test that a file can be created there (read-only mounts, /proc, ACLs)
        handle, temporary = tempfile.mkstemp(prefix=".convcalc-", suffix=".probe", dir=directory)
    except OSError as error:
        raise InputError(f"{what} {path}: cannot create a file in {directory} ({error.strerror or error})") from None
    os.close(handle)
    os.unlink(temporary)
    return target


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: str, write: Callable[[IO[bytes]], None], what: str) -> str:
    """Write the bytes ``write(stream)`` produces to ``path`` (see the module's rules); the
    written file's real path is returned."""
    target = check_destination(path, what)
    existing = probe(target)
    mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(prefix=".convcalc-", suffix=".tmp", dir=os.path.dirname(target))
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        now = probe(target)  # it may have changed since the check: still never replace a device
        if now is not None and not stat.S_ISREG(now.st_mode):
            raise InputError(f"{what} {path} became {kind_of(now.st_mode)} while writing; nothing was written")
        os.replace(temporary, target)
    except OSError as error:
        _remove(temporary)
        raise InputError(f"{what} {path}: could not write ({error.strerror or error}); nothing was written") from None
    except BaseException:
        _remove(temporary)
        raise
    return target


def write_together(files: Sequence[tuple[str, bytes, str]]) -> list[str]:
    """Write several files all or none (``(path, data, what)`` each; ``what`` names the option).

    Every destination is checked first (:func:`check_destination`), every file's bytes go to a
    temporary file beside its target, and only when all are written are they renamed into
    place, one ``os.replace`` each — so a failure while writing (a full disk, a target that
    became a device) leaves every target as it was. The written real paths are returned.
    """
    targets = [check_destination(path, what) for path, _, what in files]
    if len(set(targets)) < len(targets):
        raise InputError(f"{' and '.join(what for _, _, what in files)} name the same file: "
                         "one would overwrite the other; give different names")
    temporaries: list[str] = []
    try:
        for target, (_, data, _) in zip(targets, files):
            existing = probe(target)
            mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~_umask()
            handle, temporary = tempfile.mkstemp(prefix=".convcalc-", suffix=".tmp", dir=os.path.dirname(target))
            temporaries.append(temporary)
            os.fchmod(handle, mode)
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
        for target, (path, _, what) in zip(targets, files):
            now = probe(target)
            if now is not None and not stat.S_ISREG(now.st_mode):
                raise InputError(f"{what} {path} became {kind_of(now.st_mode)} while writing; nothing was written")
        for temporary, target in zip(temporaries, targets):
            os.replace(temporary, target)
    except OSError as error:
        raise InputError(f"could not write {', '.join(path for path, _, _ in files)} "
                         f"({error.strerror or error}); nothing was written") from None
    finally:
        for temporary in temporaries:
            _remove(temporary)
    return targets


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def read_magic(path: str, what: str, count: int = 4) -> bytes:
    """The first ``count`` bytes of a file the user names (``what``: the option, for messages),
    so a reader can tell an .npz archive from anything np.load would take for a pickle."""
    check_readable(path, what)
    try:
        with open(path, "rb") as handle:
            return handle.read(count)
    except OSError as error:
        raise InputError(f"{what} {path}: cannot read it ({error.strerror or error})") from None
