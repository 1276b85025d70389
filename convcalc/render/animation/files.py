"""Writing an output file safely: into a temporary file in the target's directory, then
``os.replace`` — a reader never sees half a file, and a failed drawing leaves nothing behind.
Existing targets that are not regular files (directories, devices, symlinks, FIFOs) are
refused. (One helper, so the project's shared safe writer can replace it in one place.)"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from convcalc.errors import InputError


def check_target(path: str) -> Path:
    """The target path, refused (InputError) when it cannot be written as a new regular file."""
    target = Path(path)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(f"cannot write {path}: it exists and is not a regular file (a directory, link or device)")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"cannot write {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise InputError(f"cannot write {path}: the directory {directory} is not writable")
    return target


def write_output(path: str, write: Callable[[Path], None]) -> Path:
    """Run ``write(temporary path)`` (same directory and suffix as ``path``), then move it into place."""
    target = check_target(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, _mode(target))
        os.replace(temporary, target)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def _mode(target: Path) -> int:
    """An existing file's permissions, else what a new file gets (0o666 less the umask)."""
    if target.exists():
        return stat.S_IMODE(os.stat(target).st_mode)
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_text(path: str, text: str) -> Path:
    return write_output(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
