# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._textfile.errors import TextfileWriteError
from ansible_collections.dsr.ops.plugins.module_utils._textfile.metrics import run
from ansible_collections.dsr.ops.plugins.module_utils._textfile.writer import path_problem, publish_text


def temps(directory):
    return [name for name in os.listdir(directory) if files.is_temp_name(name)]


def test_write_then_unchanged(tmp_path):
    path = str(tmp_path / 'dsr.prom')
    assert publish_text(path, 'a 1\n') == (True, None)
    assert oct(os.stat(path).st_mode & 0o777) == '0o644'
    inode = os.stat(path).st_ino
    assert publish_text(path, 'a 1\n') == (False, 'a 1\n')
    assert publish_text(path, 'a 2\n') == (True, 'a 1\n')
    assert os.stat(path).st_ino != inode, 'replaced by a rename'
    assert temps(tmp_path) == []


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / 'dsr.prom')
    assert publish_text(path, 'a 1\n', check_mode=True) == (True, None)
    assert os.listdir(tmp_path) == []


def test_the_mode_is_corrected_in_place(tmp_path):
    path = tmp_path / 'dsr.prom'
    path.write_text('a 1\n')
    path.chmod(0o600)
    inode = path.stat().st_ino
    assert publish_text(str(path), 'a 1\n', check_mode=True)[0] is True
    assert oct(path.stat().st_mode & 0o777) == '0o600'
    assert publish_text(str(path), 'a 1\n')[0] is True
    assert oct(path.stat().st_mode & 0o777) == '0o644' and path.stat().st_ino == inode


def test_a_stale_temporary_file_of_a_dead_run_is_removed_and_none_ends_in_prom(tmp_path):
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    stale = tmp_path / ('%s%d-abcd1234-dsr.prom.tmp' % (files.TEMP_PREFIX, dead.pid))
    stale.write_text('half a fi')
    other = tmp_path / ('%s%d-abcd1234-other.prom.tmp' % (files.TEMP_PREFIX, dead.pid))
    other.write_text('another file\'s')
    publish_text(str(tmp_path / 'dsr.prom'), 'a 1\n')
    assert not stale.exists()
    assert other.exists(), 'only the temporary files of this path are ours to remove'


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / 'dsr.prom'
    path.write_text('old\n')

    def refuse(*_args, **_kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'replace', refuse)
    with pytest.raises(TextfileWriteError, match='cannot write .*dsr.prom: No space left on device'):
        publish_text(str(path), 'new\n')
    assert path.read_text() == 'old\n'
    assert temps(tmp_path) == []


def test_not_a_regular_file_and_no_directory(tmp_path):
    (tmp_path / 'dir.prom').mkdir()
    with pytest.raises(TextfileWriteError, match='is not a regular file'):
        publish_text(str(tmp_path / 'dir.prom'), 'a 1\n')
    with pytest.raises(TextfileWriteError, match='does not exist'):
        publish_text(str(tmp_path / 'missing' / 'dsr.prom'), 'a 1\n')


@pytest.mark.parametrize('path, ok', [('/var/lib/node_exporter/dsr.prom', True), ('dsr.prom', True), ('/x/dsr.txt', False), ('/x/.prom', False),
                                      ('', False), ('/x/.dsr-tmp-1-a-dsr.prom', False)])
def test_path_problem(path, ok):
    assert (path_problem(path) is None) == ok


def test_run_result_and_diff(tmp_path):
    params = {'path': str(tmp_path / 'dsr.prom'), 'prefix': 'dsr', 'labels': {},
              'records': [{'time': '2026-12-04T08:00:05Z', 'environment': 'p', 'check': 'backup', 'status': 'ok',
                           'figures': {'backup_size_bytes': 5}}]}
    planned = run(params, check_mode=True, diff=True)
    assert planned['changed'] is True and planned['diff']['before'] == '' and planned['diff']['before_header'] == '/dev/null'
    assert planned['summary'].startswith('would write ')
    done = run(params)
    assert done == {'path': params['path'], 'changed': True, 'metrics': 3,
                    'families': ['dsr_backup_size_bytes', 'dsr_check_last_run_timestamp_seconds', 'dsr_check_status'],
                    'summary': 'wrote %s: 3 samples in 3 families for 1 checks in 1 environments' % params['path']}
    assert run(params)['summary'].startswith('unchanged: ')
