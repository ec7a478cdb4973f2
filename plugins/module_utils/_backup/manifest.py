# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sidecar manifest of a backup, and the verification record beside it.

``<name>.manifest.json`` is written after the backup file is in place: a
manifest never points at a missing or partial file. ``<name>.verify.json``
records the last verification; retention reads it to keep the newest verified
backup.

Everything read back from disk or from a bucket is untrusted input: anyone who
can write a file there, a bad disk or a wrong clock can put anything in it.
:func:`parse` is the one place a manifest is read. It checks the schema
(required keys, types, a timestamp with a time zone that agrees with the file
name) and ties the manifest to its own name: the data file it describes is the
manifest's name without ``.manifest.json``, in the same directory, named after
the database. A manifest that fails is a :class:`ManifestError` naming the file
and the fault, never an exception from deep inside a caller.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import stat

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._backup.codec import EXTENSIONS
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import identifier_problem

MANIFEST_VERSION = 1
MANIFEST_SUFFIX = '.manifest.json'
VERIFY_SUFFIX = '.verify.json'
GLOBALS_SUFFIX = '.globals.sql'
TIMESTAMP_FORMAT = '%Y%m%dT%H%M%SZ'
# how far in the future a backup may be dated before its clock is not trusted
CLOCK_SKEW_SECONDS = 300
# what the first bytes of a stored backup are, by compression
MAGIC = {'zstd': b'\x28\xb5\x2f\xfd', 'gzip': b'\x1f\x8b', 'none': b'PGDMP'}
_SAFE_DATABASE_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
# a Kubernetes namespace: an RFC 1123 label
_NAMESPACE_RE = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')
# the stored file of each format, after "<name>_<time>"; group 2 of stored_name_re is the compression's extension
FORMATS = {'custom': r'\.dump(\.zst|\.gz)?', 'k8s-config': r'\.k8s\.tar(\.gz)'}
# the compressions each format is written with
FORMAT_COMPRESSIONS = {'custom': ('zstd', 'gzip', 'none'), 'k8s-config': ('gzip',)}
_SHA256_RE = re.compile(r'^[0-9a-f]{64}$')


class ManifestError(BackupInputError):
    """A manifest that is not what pg_backup writes; ``str()`` names the file and the fault."""


def utcnow():
    """The current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def isoformat(moment):
    """ISO 8601 UTC with seconds, as stored in manifests."""
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec='seconds')


def parse_time(text):
    """Parse a timestamp this collection wrote: ISO 8601 with a time zone; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError('%r is not a timestamp' % (text,))
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError('%r has no time zone' % text)
    return moment


def check_database_name(database):
    """Database names become file names: refuse path separators and oddities."""
    if not database or not isinstance(database, str) or not _SAFE_DATABASE_RE.match(database) or database.startswith('.'):
        raise BackupInputError('database %r cannot be used in a backup file name: use letters, digits, "_", "-" and "." '
                               '(and not a leading ".")' % (database,))
    problem = identifier_problem('database', database)
    if problem:
        raise BackupInputError(problem)
    return database


def backup_basename(database, moment):
    """``dsr_db_20261127T020000Z``: sorts by time, says what it holds."""
    return '%s_%s' % (check_database_name(database), moment.astimezone(datetime.timezone.utc).strftime(TIMESTAMP_FORMAT))


def stored_name_re(database, fmt='custom'):
    """The names of the stored backups of ``database`` in format ``fmt`` (None: any format); group 1 is the time stamp.

    ``database`` None matches any safe name.
    """
    name = re.escape(database) if database is not None else r'[A-Za-z0-9_.-]+'
    tails = [FORMATS[fmt]] if fmt is not None else [FORMATS[f] for f in sorted(FORMATS)]
    return re.compile(r'^%s_(\d{8}T\d{6}Z)(?:%s)$' % (name, '|'.join(tails)))


def format_of_name(name):
    """The format a stored file's name says it is in, or None."""
    for fmt, tail in FORMATS.items():
        if re.search(r'_\d{8}T\d{6}Z%s$' % tail, name):
            return fmt
    return None


def manifest_path(backup_path):
    """Where the manifest of ``backup_path`` lives."""
    return backup_path + MANIFEST_SUFFIX


def verify_path(backup_path):
    """Where the verification record of ``backup_path`` lives."""
    return backup_path + VERIFY_SUFFIX


def is_manifest_name(name, database, fmt='custom'):
    """Whether directory entry (or key tail) ``name`` is named as a manifest of ``database``'s backups in format ``fmt``."""
    return name.endswith(MANIFEST_SUFFIX) and bool(stored_name_re(database, fmt).match(name[:-len(MANIFEST_SUFFIX)]))


@dataclasses.dataclass(frozen=True)
class Manifest:
    """A manifest whose schema was checked; ``data`` is the JSON object as it was read."""

    database: str
    file: str
    compression: str
    started_at: str
    started: datetime.datetime
    stored_size_bytes: int
    raw_size_bytes: int
    sha256: str
    pg_dump_version: str
    row_counts: dict
    materialized_views: list
    globals: dict | None
    data: dict
    database_properties: dict | None = None
    format: str = 'custom'
    # k8s-config: the archive's files, each {file, kind, name, sha256, size_bytes, encrypted}
    objects: list | None = None


def _int(data, key, fault):
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        fault('%s must be a whole number of bytes, got %r' % (key, value))
    return value


def _text(data, key, fault):
    value = data.get(key)
    if not isinstance(value, str) or not value or '\0' in value:
        fault('%s must be a non-empty string, got %r' % (key, value))
    return value


def parse(data, source, name=None, database=None):
    """Check a manifest's JSON and return a :class:`Manifest`; ManifestError otherwise.

    ``source`` names the manifest in messages (a path or an S3 key). ``name``,
    when given, is the data file the manifest must describe (its own name less
    ``.manifest.json``); ``database``, when given, the database it must be of.
    """
    def fault(reason):
        raise ManifestError('manifest %s is malformed: %s' % (source, reason))

    if not isinstance(data, dict):
        fault('it holds a JSON %s, not an object' % type(data).__name__.replace('dict', 'object').replace('str', 'string'))
    if data.get('manifest_version') != MANIFEST_VERSION:
        raise ManifestError('manifest %s has version %r; this collection reads version %d' % (source, data.get('manifest_version'), MANIFEST_VERSION))
    fmt = data.get('format')
    if fmt not in FORMATS:
        fault('format must be one of %s, got %r' % (', '.join(sorted(FORMATS)), fmt))
    if fmt == 'k8s-config':
        db = _text(data, 'namespace', fault)
        if not _NAMESPACE_RE.match(db):
            fault('namespace %r is not a Kubernetes namespace name (lowercase letters, digits and "-", at most 63)' % db)
    else:
        db = _text(data, 'database', fault)
        try:
            check_database_name(db)
        except BackupInputError as exc:
            fault(str(exc))
    if database is not None and db != database:
        fault('it is a manifest of %s %s, not %s' % ('namespace' if fmt == 'k8s-config' else 'database', db, database))
    compression = data.get('compression')
    if compression not in FORMAT_COMPRESSIONS[fmt]:
        fault('compression must be one of %s, got %r' % (', '.join(sorted(FORMAT_COMPRESSIONS[fmt])), compression))
    file_name = _text(data, 'file', fault)
    match = stored_name_re(db, fmt).match(file_name)
    if not match or (match.group(2) or '') != EXTENSIONS[compression]:
        fault('file %r is not the name %s gives a %s backup of %s (%s_<YYYYmmddTHHMMSSZ>%s%s)'
              % (file_name, 'k8s_config_backup' if fmt == 'k8s-config' else 'pg_backup', compression, db, db,
                 '.k8s.tar' if fmt == 'k8s-config' else '.dump', EXTENSIONS[compression]))
    if name is not None and file_name != name:
        fault('it describes %r, but as %s it can only describe %r' % (file_name, os.path.basename(source), name))
    started_at = data.get('started_at')
    try:
        started = parse_time(started_at)
    except (TypeError, ValueError) as exc:
        fault('started_at must be an ISO 8601 time with a time zone: %s' % exc)
    if started.astimezone(datetime.timezone.utc).strftime(TIMESTAMP_FORMAT) != match.group(1):
        fault('started_at %s disagrees with the time %s in the file name' % (started_at, match.group(1)))
    sha256 = data.get('sha256')
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        fault('sha256 must be 64 lowercase hexadecimal digits, got %r' % (sha256,))
    stored = _int(data, 'stored_size_bytes', fault)
    raw = _int(data, 'raw_size_bytes', fault)
    if fmt == 'k8s-config':
        return Manifest(database=db, file=file_name, compression=compression, started_at=started_at, started=started,
                        stored_size_bytes=stored, raw_size_bytes=raw, sha256=sha256, pg_dump_version='', row_counts={},
                        materialized_views=[], globals=None, data=data, format=fmt, objects=_archive_objects(data.get('objects'), fault))
    pg_dump_version = _text(data, 'pg_dump_version', fault)
    row_counts = data.get('row_counts')
    if not isinstance(row_counts, dict):
        fault('row_counts must be an object of table -> rows, got %r' % (type(row_counts).__name__,))
    for table, rows in row_counts.items():
        if '.' not in table or '\0' in table or not (rows is None or (isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0)):
            fault('row_counts entry %r: %r is not "schema.table": rows' % (table, rows))
    matviews = data.get('materialized_views') or []
    if not isinstance(matviews, list) or not all(isinstance(v, str) for v in matviews):
        fault('materialized_views must be a list of table names')
    globals_ = data.get('globals')
    if globals_ is not None:
        if not isinstance(globals_, dict) or globals_.get('file') != file_name + GLOBALS_SUFFIX \
                or not isinstance(globals_.get('sha256'), str) or not _SHA256_RE.match(globals_['sha256']):
            fault('globals must be null or {file: %s, sha256: <64 hex digits>}' % (file_name + GLOBALS_SUFFIX))
    properties = data.get('database_properties')
    if properties is not None:
        properties = _database_properties(properties, fault)
    return Manifest(database=db, file=file_name, compression=compression, started_at=started_at, started=started,
                    stored_size_bytes=stored, raw_size_bytes=raw, sha256=sha256, pg_dump_version=pg_dump_version,
                    row_counts=row_counts, materialized_views=matviews, globals=globals_, data=data,
                    database_properties=properties)


# a file of a configuration archive: "<plural>[.<group>]/<object name>.yaml", ".yaml.vault" when encrypted
_ARCHIVE_FILE_RE = re.compile(r'^[a-z0-9]+(\.[a-z0-9-]+)*/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\.yaml(\.vault)?$')
_KIND_RE = re.compile(r'^[A-Z][A-Za-z0-9]{0,62}$')


def _archive_objects(value, fault):
    """The file list of a k8s-config manifest, checked: the restore reads nothing else from the archive."""
    if not isinstance(value, list):
        fault('objects must be a list of the archive\'s files')
    seen = set()
    for index, entry in enumerate(value):
        where = 'objects[%d]' % index
        if not isinstance(entry, dict):
            fault('%s must be an object' % where)
        path = entry.get('file')
        if not isinstance(path, str) or not _ARCHIVE_FILE_RE.match(path) or '..' in path:
            fault('%s.file %r is not "<resource>/<name>.yaml[.vault]"' % (where, path))
        if path in seen:
            fault('%s.file %s is listed twice' % (where, path))
        seen.add(path)
        if not isinstance(entry.get('kind'), str) or not _KIND_RE.match(entry['kind']):
            fault('%s.kind must be a Kubernetes kind, got %r' % (where, entry.get('kind')))
        if not isinstance(entry.get('name'), str) or not entry['name'] or os.path.basename(path).split('.yaml')[0] != entry['name']:
            fault('%s.name %r is not the name in its file name %s' % (where, entry.get('name'), path))
        if not isinstance(entry.get('sha256'), str) or not _SHA256_RE.match(entry['sha256']):
            fault('%s.sha256 must be 64 lowercase hexadecimal digits' % where)
        _int(entry, 'size_bytes', lambda reason, where=where: fault('%s.%s' % (where, reason)))
        if not isinstance(entry.get('encrypted'), bool) or entry['encrypted'] != path.endswith('.vault'):
            fault('%s.encrypted must be true exactly for a .vault file' % where)
    return [dict(entry) for entry in value]


# database-level privileges: the only words a manifest may put into a GRANT
DATABASE_PRIVILEGES = ('CONNECT', 'CREATE', 'TEMPORARY')


def _database_properties(value, fault):
    """The source database's owner, grants, settings, connection limit and comment, checked: they become SQL on restore."""
    def name_ok(role, optional=False):
        return (optional and role is None) or (isinstance(role, str) and role and '\0' not in role and identifier_problem('role', role) is None)
    if not isinstance(value, dict) or not name_ok(value.get('owner')):
        fault('database_properties must be an object with the owner role')
    limit = value.get('connection_limit')
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < -1:
        fault('database_properties.connection_limit must be -1 or more, got %r' % (limit,))
    comment = value.get('comment')
    if comment is not None and (not isinstance(comment, str) or '\0' in comment):
        fault('database_properties.comment must be text or null')
    if not isinstance(value.get('default_acl'), bool):
        fault('database_properties.default_acl must be true or false')
    grants = value.get('grants')
    if not isinstance(grants, list) or not all(
            isinstance(g, list) and len(g) == 3 and name_ok(g[0], optional=True) and g[1] in DATABASE_PRIVILEGES and isinstance(g[2], bool)
            for g in grants):
        fault('database_properties.grants must be [role or null, one of %s, grantable] entries' % ', '.join(DATABASE_PRIVILEGES))
    settings = value.get('settings')
    if not isinstance(settings, list) or not all(
            isinstance(e, list) and len(e) == 2 and name_ok(e[0], optional=True) and isinstance(e[1], str) and '=' in e[1] and '\0' not in e[1]
            for e in settings):
        fault('database_properties.settings must be [role or null, "name=value"] entries')
    return {'owner': value['owner'], 'connection_limit': limit, 'comment': comment, 'default_acl': value['default_acl'],
            'grants': [list(g) for g in grants], 'settings': [list(e) for e in settings]}


def load(path, database=None, fmt=None):
    """Read and check the manifest at ``path`` (``<data file>.manifest.json``); ManifestError otherwise.

    ``fmt``, when given, is the only format the caller can use: another is refused by name.
    """
    try:
        data = files.read_json(path)
    except (OSError, ValueError) as exc:
        raise ManifestError('cannot read manifest %s: %s' % (path, exc)) from None
    name = os.path.basename(path)
    expected = name[:-len(MANIFEST_SUFFIX)] if name.endswith(MANIFEST_SUFFIX) else None
    manifest = parse(data, path, name=expected, database=database)
    if fmt is not None and manifest.format != fmt:
        raise ManifestError('%s describes a %s, not a %s' % (path, FORMAT_NAMES[manifest.format], FORMAT_NAMES[fmt]))
    return manifest


FORMAT_NAMES = {'custom': 'database backup (dsr.ops.pg_backup)', 'k8s-config': 'Kubernetes configuration backup (dsr.ops.k8s_config_backup)'}


def parse_record(data, manifest):
    """A verification record, or None when it is not one (untrusted like the manifest)."""
    if not isinstance(data, dict) or not isinstance(data.get('status'), str) or not isinstance(data.get('sha256'), str):
        return None
    if data.get('sha256') != manifest.sha256:
        return None
    return data


def _load_record(path, manifest):
    try:
        return parse_record(files.read_json(path), manifest)
    except (OSError, ValueError):
        return None


def file_problem(directory, manifest):
    """Why the data file of ``manifest`` in ``directory`` cannot be proven to be that backup, or None.

    Proof, as cheap as it can be: a regular file (not a symbolic link) directly
    in ``directory``, named as the manifest says, of the size the manifest
    records, starting with the magic bytes of its compression.
    """
    path = os.path.join(directory, manifest.file)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return 'the manifest is there, its backup file %s is not' % path
    except OSError as exc:
        return 'cannot look at %s: %s' % (path, exc)
    if stat.S_ISLNK(info.st_mode):
        return '%s is a symbolic link, not a backup file' % path
    if not stat.S_ISREG(info.st_mode):
        return '%s is not a regular file' % path
    if info.st_size != manifest.stored_size_bytes:
        return '%s is %d bytes, its manifest says %d' % (path, info.st_size, manifest.stored_size_bytes)
    try:
        with open(path, 'rb') as handle:
            head = handle.read(len(MAGIC[manifest.compression]))
    except OSError as exc:
        return 'cannot read %s: %s' % (path, exc)
    if head != MAGIC[manifest.compression]:
        return '%s does not start as a %s file' % (path, manifest.compression)
    return None


def scan(directory, database, fmt='custom'):
    """The backups of ``database`` in ``directory``: ``(entries, malformed)``.

    ``entries`` are the backups with a well-formed manifest, newest first; each
    has ``path``, ``manifest_path``, ``manifest`` (a :class:`Manifest`),
    ``started_at`` (datetime), ``verification`` (the record, or None) and
    ``problem`` (why its data file is not proven to be that backup, or None).
    ``malformed`` lists ``{manifest_path, reason}`` for manifests named as this
    database's that cannot be read; they are findings, never a reason to stop.
    Only backups in format ``fmt`` are listed (their names say which).
    """
    entries, malformed = [], []
    if not os.path.isdir(directory):
        return entries, malformed
    for name in sorted(os.listdir(directory)):
        if files.is_temp_name(name) or not is_manifest_name(name, database, fmt):
            continue
        path = os.path.join(directory, name)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise ManifestError('manifest %s is malformed: it is a symbolic link' % path)
            manifest = load(path, database=database, fmt=fmt)
        except ManifestError as exc:
            malformed.append({'manifest_path': path, 'reason': str(exc)})
            continue
        except OSError as exc:
            malformed.append({'manifest_path': path, 'reason': 'cannot read manifest %s: %s' % (path, exc)})
            continue
        backup = os.path.join(directory, manifest.file)
        entries.append({'path': backup, 'manifest_path': path, 'manifest': manifest, 'started_at': manifest.started,
                        'verification': _load_record(verify_path(backup), manifest),
                        'problem': file_problem(directory, manifest)})
    entries.sort(key=lambda e: e['started_at'], reverse=True)
    return entries, malformed


def list_backups(directory, database, fmt='custom'):
    """The backups of ``database`` in ``directory`` with a well-formed manifest, newest first (see :func:`scan`)."""
    return scan(directory, database, fmt)[0]


def is_future(moment, now, skew=CLOCK_SKEW_SECONDS):
    """Whether ``moment`` lies further in the future than a clock may be off."""
    return (moment - now).total_seconds() > skew


def is_verified(entry):
    """Whether the last verification of a listed backup passed."""
    record = entry.get('verification')
    return entry.get('manifest') is not None and isinstance(record, dict) and record.get('status') == 'ok' and record.get('sha256') == entry['manifest'].sha256
