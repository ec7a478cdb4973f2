# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The lock of one database's backups (_backup/lock.py)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupLockedError
from ansible_collections.dsr.ops.plugins.module_utils._backup.lock import DatabaseLock


def test_lock_is_exclusive_and_released(tmp_path):
    with DatabaseLock(str(tmp_path), 'dsr_db'):
        with pytest.raises(BackupLockedError, match='another backup of database dsr_db is running .*pid %d' % os.getpid()):
            DatabaseLock(str(tmp_path), 'dsr_db').acquire()
        DatabaseLock(str(tmp_path), 'other_db').acquire().release()
    DatabaseLock(str(tmp_path), 'dsr_db').acquire().release()
