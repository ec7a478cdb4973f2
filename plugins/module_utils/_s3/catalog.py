# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The backups of a database in a bucket: listing, selection, retention.

A backup in S3 is the same set of files as on disk, under ``prefix``:

* ``<name>.dump.zst``: the backup (object metadata ``sha256`` = the file's SHA-256)
* ``<name>.dump.zst.manifest.json``: its manifest, uploaded after the backup
* ``<name>.dump.zst.verify.json``: the verification record, when it was verified
* ``<name>.dump.zst.globals.sql``: the globals dump, when there is one

As on disk, a backup counts once its manifest is there; an object without a
manifest is reported as incomplete, a manifest without its object as missing.
"""

from __future__ import annotations

import json

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._s3.errors import S3InputError

# any database's backup, when no database is named
_ANY_BACKUP_RE = mf.stored_name_re(None, None)


def keys_for(prefix, manifest):
    """The object keys of one backup, from its manifest."""
    data = prefix + manifest.file
    keys = {'object': data, 'manifest': data + mf.MANIFEST_SUFFIX, 'verification': data + mf.VERIFY_SUFFIX}
    if manifest.globals:
        keys['globals'] = data + mf.GLOBALS_SUFFIX
    return keys


def check_prefix(prefix):
    """A prefix is empty or ends with ``/``, and holds no ``//`` or leading ``/``."""
    if prefix and (not prefix.endswith('/') or prefix.startswith('/') or '//' in prefix):
        raise S3InputError('prefix must be empty or a path such as production/dsr_db/ (ending with "/", no leading "/"), got %r' % prefix)
    return prefix


class Catalog:
    """Read the backups stored under one prefix of one bucket."""

    def __init__(self, store, bucket, prefix):
        self.store = store
        self.bucket = bucket
        self.prefix = check_prefix(prefix)

    def objects(self):
        """Every object directly under the prefix: key -> {size, last_modified, etag, storage_class}."""
        found = {}
        token = None
        while True:
            kwargs = dict(Bucket=self.bucket, Prefix=self.prefix)
            if token:
                kwargs['ContinuationToken'] = token
            page = self.store.call('list_objects_v2', 'listing of s3://%s/%s' % (self.bucket, self.prefix), **kwargs)
            for item in page.get('Contents') or []:
                if '/' in item['Key'][len(self.prefix):]:
                    continue
                found[item['Key']] = {'size': item.get('Size'), 'last_modified': item['LastModified'].isoformat() if item.get('LastModified') else None,
                                      'etag': item.get('ETag'), 'storage_class': item.get('StorageClass')}
            if not page.get('IsTruncated'):
                return found
            token = page.get('NextContinuationToken')

    def get_json(self, key):
        """Fetch and parse a small JSON object (manifest, verification record)."""
        return json.loads(self.store.get_small(self.bucket, key, files.MAX_JSON_BYTES).decode('utf-8'))

    def backups(self, database=None):
        """Return ``(entries, incomplete, missing, malformed)`` for ``database`` (or every database), newest first.

        Each entry has ``keys``, ``manifest`` (a checked manifest), ``started_at``
        (datetime), ``verification`` (the record or None), ``object`` (its
        listing) and ``problem`` (why the object is not proven to be the backup
        its manifest describes, or None). ``incomplete`` lists backup objects
        with no manifest, ``missing`` the manifests whose object is not there,
        ``malformed`` the manifests that fail their checks (``key``, ``reason``):
        none of them counts as a backup, and none stops the others from counting.
        """
        listing = self.objects()
        name_re = mf.stored_name_re(database, None) if database else _ANY_BACKUP_RE
        entries, missing, malformed, described = [], [], [], set()
        for key in sorted(listing):
            if not key.endswith(mf.MANIFEST_SUFFIX):
                continue
            name = key[len(self.prefix):-len(mf.MANIFEST_SUFFIX)]
            if not name_re.match(name):
                continue
            try:
                data = self.get_json(key)
            except (ValueError, UnicodeDecodeError) as exc:
                malformed.append({'key': key, 'reason': 'manifest s3://%s/%s is malformed: not JSON (%s)' % (self.bucket, key, exc)})
                continue
            try:
                manifest = mf.parse(data, 's3://%s/%s' % (self.bucket, key), name=name, database=database)
            except mf.ManifestError as exc:
                malformed.append({'key': key, 'reason': str(exc)})
                continue
            keys = keys_for(self.prefix, manifest)
            described.update(keys.values())
            if keys['object'] not in listing:
                missing.append({'key': keys['object'], 'manifest_key': key, 'reason': 'the manifest is there, the backup object is not'})
                continue
            record = None
            if keys['verification'] in listing:
                try:
                    record = mf.parse_record(self.get_json(keys['verification']), manifest)
                except (ValueError, UnicodeDecodeError):
                    record = None
            size = listing[keys['object']]['size']
            problem = None if size == manifest.stored_size_bytes else \
                's3://%s/%s is %s bytes, its manifest says %d' % (self.bucket, keys['object'], size, manifest.stored_size_bytes)
            entries.append({'keys': keys, 'manifest': manifest, 'started_at': manifest.started,
                            'verification': record, 'object': listing[keys['object']], 'problem': problem,
                            'present': {key for key in keys.values() if key in listing}})
        incomplete = []
        for key in sorted(listing):
            if key in described or key.endswith((mf.MANIFEST_SUFFIX, mf.VERIFY_SUFFIX, mf.GLOBALS_SUFFIX)):
                continue
            if not name_re.match(key[len(self.prefix):]):
                continue
            incomplete.append({'key': key, 'size_bytes': listing[key]['size'], 'reason': 'no manifest beside it (an interrupted upload?)'})
        entries.sort(key=lambda e: e['started_at'], reverse=True)
        return entries, incomplete, missing, malformed

    def proof_problem(self, entry):
        """Why ``entry``'s object cannot be proven, by its metadata, to be the backup its manifest describes (None when it can).

        Asked before an object is deleted: its size and its ``sha256`` metadata
        must agree with the manifest, or it is left alone.
        """
        if entry.get('problem'):
            return entry['problem']
        key = entry['keys']['object']
        head = self.store.head(self.bucket, key)
        if head is None:
            return 's3://%s/%s is gone' % (self.bucket, key)
        stored = (head.get('Metadata') or {}).get('sha256')
        if head.get('ContentLength') != entry['manifest'].stored_size_bytes or stored != entry['manifest'].sha256:
            return ('s3://%s/%s does not match its manifest (%s bytes, sha256 metadata %s; the manifest says %d bytes, %s)'
                    % (self.bucket, key, head.get('ContentLength'), stored, entry['manifest'].stored_size_bytes, entry['manifest'].sha256))
        return None

    def delete(self, entry):
        """Delete one backup: manifest first, so a half-deleted backup is never listed as complete."""
        deleted = []
        order = [entry['keys']['manifest'], entry['keys']['object'], entry['keys']['verification']]
        if entry['keys'].get('globals'):
            order.append(entry['keys']['globals'])
        for key in order:
            if key not in entry.get('present', order):
                continue
            self.store.call('delete_object', 'deletion of s3://%s/%s' % (self.bucket, key), Bucket=self.bucket, Key=key)
            deleted.append(key)
        return deleted


def describe(entry, reason=None):
    """Plain data about a stored backup, for results."""
    manifest = entry['manifest']
    info = {
        'key': entry['keys']['object'],
        'manifest_key': entry['keys']['manifest'],
        'database': manifest.database,
        'started_at': manifest.started_at,
        'size_bytes': entry['object'].get('size'),
        'sha256': manifest.sha256,
        'last_modified': entry['object'].get('last_modified'),
        'storage_class': entry['object'].get('storage_class'),
        'verified': mf.is_verified(entry),
        'verified_at': (entry.get('verification') or {}).get('verified_at'),
    }
    if reason is not None:
        info['reason'] = reason
    return info
