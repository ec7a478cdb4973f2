# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One backup (or restore) of a database at a time.

The lock is an ``flock`` on a file in the backup directory. The kernel drops it
when the process dies, however it dies (kill -9 included), so a lock never
outlives a killed run and the next run is never blocked by a stale file.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os

from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupLockedError


class DatabaseLock:
    """Exclusive, non-blocking lock named after a database."""

    def __init__(self, directory, database, purpose='backup', what=None):
        self.path = os.path.join(directory, '.%s.lock' % database)
        self.database = database
        self.purpose = purpose
        # what the lock protects, in messages
        self.what = what or 'database %s' % database
        self._fd = None

    def acquire(self):
        """Take the lock or raise BackupLockedError naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder(fd)
            os.close(fd)
            raise BackupLockedError('another %s of %s is running (%s); wait for it to finish: '
                                    'two at once would compete for the same files' % (self.purpose, self.what, holder)) from None
        os.ftruncate(fd, 0)
        record = {'pid': os.getpid(), 'purpose': self.purpose,
                  'since': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}
        os.write(fd, json.dumps(record).encode('utf-8'))
        self._fd = fd
        return self

    @staticmethod
    def _read_holder(fd):
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            record = json.loads(os.read(fd, 4096).decode('utf-8') or '{}')
            return '%s by pid %s since %s' % (record.get('purpose', 'run'), record.get('pid', '?'), record.get('since', '?'))
        except (OSError, ValueError):
            return 'holder unknown'

    def release(self):
        """Drop the lock (closing the descriptor is what releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
