# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sidecar manifest of a backup, and the verification record beside it.

``<name>.manifest.json`` is written after the backup file is in place: a
manifest never points at a missing or partial file. ``<name>.verify.json``
records the last verification; retention reads it to keep the newest verified
backup.
"""

from __future__ import annotations

import datetime
import os
import re

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError

MANIFEST_VERSION = 1
MANIFEST_SUFFIX = '.manifest.json'
VERIFY_SUFFIX = '.verify.json'
GLOBALS_SUFFIX = '.globals.sql'
TIMESTAMP_FORMAT = '%Y%m%dT%H%M%SZ'
_NAME_RE = re.compile(r'^(?P<database>.+)_(?P<stamp>\d{8}T\d{6}Z)$')
_SAFE_DATABASE_RE = re.compile(r'^[A-Za-z0-9_.-]+$')


def utcnow():
    """The current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def isoformat(moment):
    """ISO 8601 UTC with seconds, as stored in manifests."""
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec='seconds')


def parse_time(text):
    """Parse a manifest timestamp."""
    return datetime.datetime.fromisoformat(text)


def check_database_name(database):
    """Database names become file names: refuse path separators and oddities."""
    if not database or not _SAFE_DATABASE_RE.match(database) or database.startswith('.'):
        raise BackupInputError('database %r cannot be used in a backup file name: use letters, digits, "_", "-" and "." '
                               '(and not a leading ".")' % (database,))
    return database


def backup_basename(database, moment):
    """``dsr_db_20261127T020000Z``: sorts by time, says what it holds."""
    return '%s_%s' % (check_database_name(database), moment.astimezone(datetime.timezone.utc).strftime(TIMESTAMP_FORMAT))


def manifest_path(backup_path):
    """Where the manifest of ``backup_path`` lives."""
    return backup_path + MANIFEST_SUFFIX


def verify_path(backup_path):
    """Where the verification record of ``backup_path`` lives."""
    return backup_path + VERIFY_SUFFIX


def load(path):
    """Read a manifest, refusing versions we do not know."""
    try:
        data = files.read_json(path)
    except (OSError, ValueError) as exc:
        raise BackupInputError('cannot read manifest %s: %s' % (path, exc)) from None
    if data.get('manifest_version') != MANIFEST_VERSION:
        raise BackupInputError('manifest %s has version %r; this collection reads version %d' % (path, data.get('manifest_version'), MANIFEST_VERSION))
    return data


def list_backups(directory, database):
    """Every complete backup of ``database`` in ``directory``, newest first.

    A backup counts when its manifest exists; each entry has ``path``,
    ``manifest_path``, ``manifest``, ``started_at`` (datetime) and
    ``verification`` (the record, or None).
    """
    entries = []
    if not os.path.isdir(directory):
        return entries
    for name in os.listdir(directory):
        if not name.endswith(MANIFEST_SUFFIX) or files.is_temp_name(name):
            continue
        path = os.path.join(directory, name)
        try:
            data = load(path)
        except BackupInputError:
            continue
        if data.get('database') != database:
            continue
        backup = os.path.join(directory, data['file'])
        record_path = verify_path(backup)
        record = None
        if os.path.exists(record_path):
            try:
                record = files.read_json(record_path)
            except (OSError, ValueError):
                record = None
        entries.append({'path': backup, 'manifest_path': path, 'manifest': data,
                        'started_at': parse_time(data['started_at']), 'verification': record})
    entries.sort(key=lambda e: e['started_at'], reverse=True)
    return entries


def is_verified(entry):
    """Whether the last verification of a listed backup passed."""
    record = entry.get('verification')
    return bool(record) and record.get('status') == 'ok' and record.get('sha256') == entry['manifest'].get('sha256')
