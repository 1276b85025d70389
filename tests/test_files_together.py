"""convcalc.files.write_together: several files (a quiz's sheet and key) written all or none."""

from __future__ import annotations

import os

import pytest

from convcalc import files
from convcalc.errors import InputError


def test_both_written_with_the_umask_mode_and_an_existing_file_keeps_its_mode(tmp_path):
    old = tmp_path / "key.json"
    old.write_text("old")
    old.chmod(0o600)
    sheet = tmp_path / "sheet.md"
    written = files.write_together([(str(sheet), b"sheet", "--output"), (str(old), b"key", "--key")])
    assert written == [os.path.realpath(sheet), os.path.realpath(old)]
    assert sheet.read_bytes() == b"sheet" and old.read_bytes() == b"key"
    mask = os.umask(0o022)
    os.umask(mask)
    assert sheet.stat().st_mode & 0o777 == 0o666 & ~mask
    assert old.stat().st_mode & 0o777 == 0o600


def test_a_failure_while_writing_the_second_leaves_both_untouched(tmp_path, monkeypatch):
    sheet, key = tmp_path / "sheet.md", tmp_path / "key.md"
    sheet.write_text("old sheet")
    real_fsync, calls = os.fsync, []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(InputError, match=r"No space left on device.*nothing was written"):
        files.write_together([(str(sheet), b"new sheet", "--output"), (str(key), b"key", "--key")])
    assert sheet.read_text() == "old sheet" and not key.exists()
    assert not list(tmp_path.glob(".convcalc-*"))


def test_refused_before_anything_is_written(tmp_path):
    (tmp_path / "dir").mkdir()
    sheet = tmp_path / "sheet.md"
    with pytest.raises(InputError, match="is a directory"):
        files.write_together([(str(sheet), b"s", "--output"), (str(tmp_path / "dir"), b"k", "--key")])
    with pytest.raises(InputError, match="name the same file"):
        files.write_together([(str(sheet), b"s", "--output"), (str(sheet), b"k", "--key")])
    assert not sheet.exists()
