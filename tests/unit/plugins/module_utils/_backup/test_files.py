# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Durable file handling (_backup/files.py): atomic, private, never clobbering."""

from __future__ import annotations

import os

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import files


def test_publish_is_atomic_and_private(tmp_path):
    final = tmp_path / 'final'
    held = files.TempFile(str(tmp_path), 'final')
    temp = held.path
    with held.writer() as handle:
        handle.write(b'data')
    assert not final.exists()
    held.publish(str(final))
    assert final.read_bytes() == b'data' and not os.path.exists(temp)
    assert final.stat().st_mode & 0o777 == 0o600
    assert files.temp_final_name(os.path.basename(temp)) == 'final'
    assert files.temp_final_name('final') is None


def test_publish_without_overwrite_never_clobbers(tmp_path):
    final = tmp_path / 'final'
    final.write_bytes(b'first')
    with files.TempFile(str(tmp_path), 'final') as held:
        with held.writer() as handle:
            handle.write(b'second')
        with pytest.raises(FileExistsError):
            files.publish(held.path, str(final), overwrite=False)
    assert final.read_bytes() == b'first'


def test_write_atomic_sets_the_mode_whatever_the_umask_and_leaves_no_temporary_file(tmp_path):
    final = tmp_path / 'report.html'
    old = os.umask(0o077)
    try:
        files.write_atomic(str(final), b'one', mode=0o640)
    finally:
        os.umask(old)
    assert final.read_bytes() == b'one' and final.stat().st_mode & 0o777 == 0o640
    files.write_atomic(str(final), b'two')
    assert final.read_bytes() == b'two' and final.stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ['report.html']


def test_write_atomic_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    final = tmp_path / 'record.json'
    final.write_bytes(b'old')

    def refuse(_temp, _final, overwrite=True):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(files, 'publish', refuse)
    with pytest.raises(OSError):
        files.write_atomic(str(final), b'new', mode=0o640)
    assert final.read_bytes() == b'old' and os.listdir(tmp_path) == ['record.json']
