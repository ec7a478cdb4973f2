# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which old backups to delete: keep the last N and/or those younger than a maximum age.

Whatever the settings, the newest backup and the newest *verified* backup are
never deleted: retention must not leave a site with nothing known to restore.

Only backups that are proven are ranked and may be deleted: an entry whose
data file (or object) does not match its manifest is left alone, and so is one
dated further in the future than a clock may be off (a restored machine with a
wrong clock writes those): it is reported, not trusted as the newest. The
backup the current run made is never deleted by that run. The same rules serve
the local directory (pg_backup) and the bucket (s3_backup prune).
"""

from __future__ import annotations

import os
import stat

from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError


def ident(entry):
    """What names an entry: its path on disk, or its object key in a bucket."""
    return entry.get('path') or entry['keys']['object']


def plan(entries, keep_last=None, max_age_seconds=None, now=None, protect=None):
    """Return ``(delete, keep, warnings)``; delete and keep are lists of (entry, reason).

    ``entries`` are sorted newest first. A backup is deleted only when every
    given rule lets it go: it is not among the ``keep_last`` newest and it is
    older than ``max_age_seconds``. With no rule at all nothing is deleted.
    ``protect`` names (see :func:`ident`) the backup this run made.
    """
    if keep_last is not None and keep_last < 1:
        raise BackupInputError('keep_last must be at least 1, got %d' % keep_last)
    if max_age_seconds is not None and max_age_seconds <= 0:
        raise BackupInputError('max_age must be positive')
    now = now or mf.utcnow()
    delete, keep, warnings = [], [], []
    ranked = []
    for entry in entries:
        if entry.get('problem'):
            keep.append((entry, 'left alone: %s' % entry['problem']))
            warnings.append('retention left %s alone: %s' % (ident(entry), entry['problem']))
        elif mf.is_future(entry['started_at'], now):
            reason = 'left alone: dated %s, in the future (the clock of the machine that made it was wrong?)' % mf.isoformat(entry['started_at'])
            keep.append((entry, reason))
            ahead = (entry['started_at'] - now).total_seconds()
            warnings.append('backup %s is dated %s, %.0f s in the future: it is not counted as the newest; check the clocks and '
                            'remove it by hand if it is not wanted' % (ident(entry), mf.isoformat(entry['started_at']), ahead))
        else:
            ranked.append(entry)
    newest_verified = next((e for e in ranked if mf.is_verified(e)), None)
    for index, entry in enumerate(ranked):
        age = (now - entry['started_at']).total_seconds()
        if keep_last is None and max_age_seconds is None:
            keep.append((entry, 'no retention rule given'))
        elif index == 0:
            keep.append((entry, 'newest backup'))
        elif protect is not None and ident(entry) == protect:
            keep.append((entry, 'made by this run'))
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
    # a path is either kept or deleted, never both (names are derived from manifests' own names, so this only guards)
    kept = {ident(e) for e, dummy in keep}
    for entry, reason in [(e, r) for e, r in delete if ident(e) in kept]:
        delete.remove((entry, reason))
        warnings.append('retention did not delete %s: it is also a backup it keeps' % ident(entry))
    return delete, keep, warnings


def _removable(path):
    """Whether ``path`` is a file or symbolic link we may unlink (never a directory); False when absent."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode)


def delete_backup(entry, directory):
    """Remove one local backup: manifest first, so a half-deleted backup is never listed as complete.

    The data file is proven again first (see :func:`manifest.file_problem`);
    returns ``(removed paths, problem)`` and removes nothing when there is a problem.
    """
    manifest = entry['manifest']
    problem = mf.file_problem(directory, manifest)
    if problem is None and not stat.S_ISREG(os.lstat(entry['manifest_path']).st_mode):
        problem = '%s is not a regular file' % entry['manifest_path']
    if problem:
        return [], problem
    backup = os.path.join(directory, manifest.file)
    removed = []
    for path in (entry['manifest_path'], backup, mf.verify_path(backup), backup + mf.GLOBALS_SUFFIX):
        if _removable(path):
            os.unlink(path)
            removed.append(path)
    return removed, None


def describe(entry, reason):
    """Plain data about a backup for results."""
    manifest = entry['manifest']
    return {
        'path': entry['path'],
        'started_at': manifest.started_at if manifest else None,
        'size_bytes': manifest.stored_size_bytes if manifest else None,
        'verified': mf.is_verified(entry) if manifest else False,
        'reason': reason,
    }
