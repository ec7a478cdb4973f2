# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._report import output


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_apply_writes_then_leaves_the_same_file_alone(tmp_path):
    path = str(tmp_path / 'r.html')
    assert output.apply(path, b'one') is True
    assert _mode(path) == 0o640
    inode = os.stat(path).st_ino
    assert output.apply(path, b'one') is False
    assert os.stat(path).st_ino == inode
    os.chmod(path, 0o644)
    assert output.apply(path, b'one') is True and _mode(path) == 0o640
    assert output.apply(path, b'two') is True
    assert open(path, 'rb').read() == b'two'
    assert sorted(os.listdir(tmp_path)) == ['r.html']


def test_the_report_mode_is_0640_whatever_the_umask(tmp_path):
    path = str(tmp_path / 'r.md')
    old = os.umask(0o077)
    try:
        assert output.apply(path, b'one') is True
        output.write_atomic(str(tmp_path / 'r.delivered.json'), b'{}')
    finally:
        os.umask(old)
    assert _mode(path) == 0o640 and _mode(str(tmp_path / 'r.delivered.json')) == 0o640
    assert sorted(os.listdir(tmp_path)) == ['r.delivered.json', 'r.md']


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / 'new' / 'r.html')
    assert output.ensure_dir(str(tmp_path / 'new'), check_mode=True) is True
    assert output.apply(path, b'x', check_mode=True) is True
    assert not os.path.exists(str(tmp_path / 'new'))


def test_ensure_dir_mode(tmp_path):
    target = str(tmp_path / 'a' / 'b')
    old = os.umask(0o077)
    try:
        assert output.ensure_dir(target) is True
    finally:
        os.umask(old)
    assert _mode(target) == 0o750
    assert output.ensure_dir(target) is False


def test_a_directory_in_the_way_is_an_error(tmp_path):
    (tmp_path / 'r.html').mkdir()
    with pytest.raises(OSError):
        output.apply(str(tmp_path / 'r.html'), b'x')
