# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which old backups to delete: keep the last N and/or those younger than a maximum age.

Whatever the settings, the newest backup and the newest *verified* backup are
never deleted: retention must not leave a site with nothing known to restore.
"""

from __future__ import annotations

import os

from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError


def plan(entries, keep_last=None, max_age_seconds=None, now=None):
    """Return ``(delete, keep)``: lists of (entry, reason) for entries sorted newest first.

    A backup is deleted only when every given rule lets it go: it is not among
    the ``keep_last`` newest and it is older than ``max_age_seconds``. With no
    rule at all nothing is deleted.
    """
    if keep_last is not None and keep_last < 1:
        raise BackupInputError('keep_last must be at least 1, got %d' % keep_last)
    if max_age_seconds is not None and max_age_seconds <= 0:
        raise BackupInputError('max_age must be positive')
    now = now or mf.utcnow()
    newest_verified = next((e for e in entries if mf.is_verified(e)), None)
    delete, keep = [], []
    for index, entry in enumerate(entries):
        age = (now - entry['started_at']).total_seconds()
        if keep_last is None and max_age_seconds is None:
            keep.append((entry, 'no retention rule given'))
        elif index == 0:
            keep.append((entry, 'newest backup'))
        elif entry is newest_verified:
            keep.append((entry, 'newest verified backup'))
        elif keep_last is not None and index < keep_last:
            keep.append((entry, 'among the last %d' % keep_last))
        elif max_age_seconds is not None and age <= max_age_seconds:
            keep.append((entry, 'younger than max_age'))
        else:
            reasons = []
            if keep_last is not None:
                reasons.append('beyond the last %d' % keep_last)
            if max_age_seconds is not None:
                reasons.append('older than %d s' % max_age_seconds)
            delete.append((entry, ' and '.join(reasons)))
    return delete, keep


def delete_backup(entry):
    """Remove one backup: manifest first, so a half-deleted backup is never listed as complete."""
    removed = []
    for path in (entry['manifest_path'], entry['path'], mf.verify_path(entry['path']), entry['path'] + mf.GLOBALS_SUFFIX):
        if os.path.exists(path):
            os.unlink(path)
            removed.append(path)
    return removed


def describe(entry, reason):
    """Plain data about a backup for results."""
    return {
        'path': entry['path'],
        'started_at': entry['manifest'].get('started_at'),
        'size_bytes': entry['manifest'].get('stored_size_bytes'),
        'verified': mf.is_verified(entry),
        'reason': reason,
    }
