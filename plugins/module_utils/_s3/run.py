# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The four modes of dsr.ops.s3_backup: upload, download, list, prune."""

from __future__ import annotations

import os
import re
import time
from urllib.parse import urlencode

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup import retention
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError
from ansible_collections.dsr.ops.plugins.module_utils._s3 import catalog as cat
from ansible_collections.dsr.ops.plugins.module_utils._s3.errors import S3InputError, S3IntegrityError
from ansible_collections.dsr.ops.plugins.module_utils._s3.transfer import Downloader, Uploader, confirm_stored

MIB = 1024 * 1024


def _round(seconds):
    return round(seconds, 3)


def _throughput(size, seconds):
    return round(size / MIB / seconds, 1) if seconds > 0 else None


class S3BackupRun:
    """One call of the module: ``run()`` returns the result dict, raises S3Error."""

    def __init__(self, params, store_factory, check_mode=False, now=mf.utcnow):
        self.params = params
        self.check_mode = check_mode
        self.now = now
        self.warnings = []
        self._store_factory = store_factory
        self.store = None
        # set on the first write: a later failure must not report "nothing changed"
        self.changed = False

    def run(self):
        mode = self.params['mode']
        started = time.monotonic()
        self.store = self._store_factory(self.params['concurrency'] + 2)
        self.store.check_bucket(self.params['bucket'])
        result = getattr(self, '_' + mode)()
        result.update(bucket=self.params['bucket'], mode=mode, duration_seconds=_round(time.monotonic() - started),
                      retry_attempts=self.store.retry_attempts, requests=self.store.requests)
        return result

    # -- upload ---------------------------------------------------------------

    def _extra_args(self):
        params = self.params
        extra = {}
        if params['encryption'] != 'none':
            extra['ServerSideEncryption'] = params['encryption']
            if params['encryption'] == 'aws:kms' and params.get('kms_key_id'):
                extra['SSEKMSKeyId'] = params['kms_key_id']
        if params.get('storage_class'):
            extra['StorageClass'] = params['storage_class']
        if params.get('tags'):
            extra['Tagging'] = urlencode(sorted((str(k), str(v)) for k, v in params['tags'].items()))
        return extra

    def _local_backup(self):
        path = self.params['path']
        if not os.path.isfile(path):
            raise S3InputError('path %s is not a file: give the backup file made by dsr.ops.pg_backup' % path)
        manifest_path = mf.manifest_path(path)
        if not os.path.isfile(manifest_path):
            raise S3InputError('%s has no manifest beside it (%s): only complete dsr.ops backups are uploaded' % (path, manifest_path))
        try:
            manifest = mf.load(manifest_path)
        except BackupInputError as exc:
            raise S3InputError(str(exc)) from None
        size = os.path.getsize(path)
        if size != manifest.stored_size_bytes:
            raise S3IntegrityError('%s has %d bytes, its manifest says %s: the local backup is damaged; verify it with '
                                   'dsr.ops.pg_backup_verify; nothing was uploaded' % (path, size, manifest.stored_size_bytes))
        return path, manifest_path, manifest, size

    def _upload(self):
        params = self.params
        path, manifest_path, manifest, size = self._local_backup()
        prefix = cat.check_prefix(params['prefix'])
        keys = cat.keys_for(prefix, manifest)
        key = keys['object']
        sha256 = manifest.sha256
        bucket = params['bucket']
        result = {'key': key, 'manifest_key': keys['manifest'], 'sha256': sha256, 'size_bytes': size, 'path': path,
                  'uploaded': False, 'changed': False, 'objects': []}

        head = self.store.head(bucket, key)
        remote_sha = (head or {}).get('Metadata', {}).get('sha256')
        result['remote_sha256'] = remote_sha
        overwrite = params['overwrite']
        needs_upload = head is None or overwrite == 'always' or (overwrite == 'different' and (remote_sha != sha256 or head.get('ContentLength') != size))
        if head is not None and overwrite == 'never' and (remote_sha != sha256 or head.get('ContentLength') != size):
            # another object under this backup's name: leave it, and do not put this backup's manifest beside it
            self.warnings.append('s3://%s/%s exists with another SHA-256 (%s) and overwrite=never: it was left as it is, '
                                 'and nothing was uploaded' % (bucket, key, remote_sha))
            result.update(multipart=None, etag=head.get('ETag'), version_id=head.get('VersionId'))
            return result
        uploader = Uploader(self.store, bucket, key, params['part_size'], params['multipart_threshold'], params['concurrency'],
                            part_checksums=params['part_checksums'], extra_args=self._extra_args())
        metadata = {'sha256': sha256, 'dsr-database': str(manifest.database), 'dsr-started-at': str(manifest.started_at)}
        side_files = self._side_files(path, manifest_path, manifest, keys)

        if self.check_mode:
            result['changed'] = needs_upload or any(self._side_differs(f) for f in side_files)
            result['multipart'] = size >= params['multipart_threshold'] if needs_upload else None
            result['objects'] = ([key] if needs_upload else []) + [f['key'] for f in side_files if needs_upload or self._side_differs(f)]
            return result

        part_digests = None
        if needs_upload:
            sent = uploader.upload(path, sha256, metadata)
            part_digests = sent['part_digests']
            self.changed = True
            result.update(uploaded=True, changed=True, multipart=sent['multipart'], parts=sent['parts'],
                          upload_seconds=_round(sent['seconds']), throughput_mib_s=_throughput(size, sent['seconds']))
            result['objects'].append(key)
            head = self.store.head(bucket, key)
        else:
            result['multipart'] = None
        try:
            result['confirmed'] = confirm_stored(head, size, sha256, part_digests)
        except S3IntegrityError as exc:
            raise S3IntegrityError('s3://%s/%s does not hold this backup: %s' % (bucket, key, exc)) from None
        result['etag'] = head.get('ETag')
        result['version_id'] = head.get('VersionId')
        result['storage_class'] = head.get('StorageClass') or 'STANDARD'
        result['encryption'] = head.get('ServerSideEncryption')
        if params['verify_download']:
            result['confirmed']['download_sha256'] = self._verify_by_download(key, size, head.get('ETag'), sha256, os.path.dirname(path))
        for side in side_files:
            if self._side_differs(side):
                Uploader(self.store, bucket, side['key'], params['part_size'], params['multipart_threshold'], 1,
                         part_checksums=params['part_checksums'], extra_args=self._extra_args()).upload(
                             side['path'], side['sha256'], {'sha256': side['sha256']})
                result['objects'].append(side['key'])
                result['changed'] = self.changed = True
        return result

    def _side_files(self, path, manifest_path, manifest, keys):
        """The manifest, the globals dump and a passing verification record, uploaded after the backup."""
        sides = [{'path': manifest_path, 'key': keys['manifest']}]
        if manifest.globals and keys.get('globals'):
            globals_path = path + mf.GLOBALS_SUFFIX
            if os.path.isfile(globals_path):
                sides.insert(0, {'path': globals_path, 'key': keys['globals']})
        record_path = mf.verify_path(path)
        if os.path.isfile(record_path):
            try:
                record = mf.parse_record(files.read_json(record_path), manifest)
            except (OSError, ValueError):
                record = None
            if record and record.get('status') == 'ok':
                sides.append({'path': record_path, 'key': keys['verification']})
        for side in sides:
            side['sha256'] = files.sha256_file(side['path'])[0]
        return sides

    def _side_differs(self, side):
        if 'differs' not in side:
            head = self.store.head(self.params['bucket'], side['key'])
            side['differs'] = head is None or (head.get('Metadata') or {}).get('sha256') != side['sha256']
        return side['differs']

    def _verify_by_download(self, key, size, etag, sha256, directory):
        """Download the object to a temporary file, hash it, delete it: the full proof."""
        temp_dir = self.params.get('temp_dir') or directory
        downloader = Downloader(self.store, self.params['bucket'], key, self.params['part_size'], self.params['concurrency'], self.params['retries'])
        downloader.download(os.path.join(temp_dir, os.path.basename(key)), size, etag, sha256, keep=False)
        return True

    # -- list, download, prune ------------------------------------------------

    def _catalog(self):
        return cat.Catalog(self.store, self.params['bucket'], self.params['prefix'])

    def _backups(self, database):
        """The catalog's listing; every malformed manifest becomes a warning naming it, and the others still count."""
        entries, incomplete, missing, malformed = self._catalog().backups(database)
        for item in malformed:
            self.warnings.append('skipped: %s' % item['reason'])
        return entries, incomplete, missing, malformed

    def _list(self):
        entries, incomplete, missing, malformed = self._backups(self.params.get('database'))
        backups = []
        for entry in entries:
            info = cat.describe(entry)
            info['manifest'] = entry['manifest'].data
            if entry['problem']:
                info['problem'] = entry['problem']
            backups.append(info)
        newest_verified = next((b for b in backups if b['verified']), None)
        return {'changed': False, 'backups': backups, 'count': len(backups), 'newest': backups[0] if backups else None,
                'newest_verified': newest_verified, 'incomplete': incomplete, 'missing': missing, 'malformed': malformed}

    def _select(self):
        """The backup to download: by key, else the newest (verified) one of ``database``."""
        params = self.params
        entries, _incomplete, _missing, _malformed = self._backups(params.get('database'))
        if params.get('key'):
            for entry in entries:
                if entry['keys']['object'] == params['key']:
                    return entry
            raise S3InputError('s3://%s/%s is not a complete backup under prefix %r (no such object, or no manifest beside it); '
                               'list them with mode=list' % (params['bucket'], params['key'], params['prefix']))
        if params['select'] == 'newest_verified':
            chosen = next((e for e in entries if mf.is_verified(e)), None)
        else:
            chosen = entries[0] if entries else None
        if chosen is None:
            kind = 'verified backup' if params['select'] == 'newest_verified' else 'backup'
            raise S3InputError('no %s of %s under s3://%s/%s' % (kind, params['database'], params['bucket'], params['prefix']))
        return chosen

    def _download(self):
        params = self.params
        entry = self._select()
        manifest = entry['manifest']
        bucket = params['bucket']
        key = entry['keys']['object']
        dest_dir = params['dest']
        dest = os.path.join(dest_dir, manifest.file)
        size = manifest.stored_size_bytes
        age = (self.now() - entry['started_at']).total_seconds()
        result = {'key': key, 'manifest_key': entry['keys']['manifest'], 'path': dest, 'manifest_path': mf.manifest_path(dest),
                  'sha256': manifest.sha256, 'size_bytes': size, 'started_at': manifest.started_at,
                  'backup_age_seconds': round(age, 1), 'verified': mf.is_verified(entry), 'downloaded': False, 'changed': False}
        head = self.store.head(bucket, key)
        if head is None:
            raise S3InputError('s3://%s/%s disappeared while it was being selected' % (bucket, key))
        stored_sha = (head.get('Metadata') or {}).get('sha256')
        if head.get('ContentLength') != size or stored_sha != manifest.sha256:
            raise S3IntegrityError('s3://%s/%s does not match its manifest (%s bytes, sha256 %s; manifest %d bytes, %s): '
                                   'nothing was downloaded' % (bucket, key, head.get('ContentLength'), stored_sha, size, manifest.sha256))
        result['etag'] = head.get('ETag')
        result['version_id'] = head.get('VersionId')
        if os.path.exists(dest):
            local_sha, _size = files.sha256_file(dest)
            if local_sha == manifest.sha256:
                if not self.check_mode:
                    self._write_manifest(dest, manifest)
                return result
            if params['overwrite'] != 'always':
                raise S3InputError('%s exists and differs from s3://%s/%s; move it away or set overwrite=always' % (dest, bucket, key))
        result['changed'] = True
        if self.check_mode:
            return result
        created = files.ensure_private_dir(dest_dir)
        result['created_dest'] = created
        # what killed downloads of this database's backups left (never a live download's file: see files.TempFile)
        result['removed_stale_temp_files'] = files.remove_stale_temp_files(
            dest_dir, re.compile(r'^%s_\d{8}T\d{6}Z\.(dump|k8s\.tar)' % re.escape(manifest.database)).match)
        needed = size + 64 * MIB
        free = files.free_bytes(dest_dir)
        if free < needed:
            raise S3InputError('not enough space in %s for %s: %d bytes free, %d needed' % (dest_dir, key, free, needed))
        got = Downloader(self.store, bucket, key, params['part_size'], params['concurrency'], params['retries']).download(
            dest, size, head.get('ETag'), manifest.sha256, overwrite=True)
        self.changed = True
        self._write_manifest(dest, manifest)
        result.update(downloaded=True, download_seconds=_round(got['seconds']), throughput_mib_s=_throughput(size, got['seconds']))
        if manifest.globals and entry['keys'].get('globals'):
            globals_dest = os.path.join(dest_dir, manifest.globals['file'])
            globals_head = self.store.head(bucket, entry['keys']['globals'])
            if globals_head is not None:
                Downloader(self.store, bucket, entry['keys']['globals'], params['part_size'], 1, params['retries']).download(
                    globals_dest, globals_head['ContentLength'], globals_head.get('ETag'), manifest.globals['sha256'])
                result['globals_path'] = globals_dest
        return result

    @staticmethod
    def _write_manifest(dest, manifest):
        path = mf.manifest_path(dest)
        try:
            same = files.read_json(path) == manifest.data
        except (OSError, ValueError):
            same = False
        if not same:
            files.write_json_atomic(path, manifest.data)

    def _prune(self):
        params = self.params
        catalog = self._catalog()
        entries, incomplete, missing, malformed = self._backups(params['database'])
        try:
            delete, keep, notes = retention.plan(entries, params.get('keep_last'), params.get('max_age'), now=self.now())
        except BackupInputError as exc:
            raise S3InputError(str(exc)) from None
        self.warnings.extend(notes)
        deleted = []
        for entry, reason in delete:
            # the object must prove, by its size and metadata, that it is the backup the manifest describes
            problem = catalog.proof_problem(entry)
            if problem:
                self.warnings.append('prune left s3://%s/%s alone: %s' % (params['bucket'], entry['keys']['object'], problem))
                keep.append((entry, 'left alone: %s' % problem))
                continue
            info = cat.describe(entry, reason)
            if not self.check_mode:
                self.changed = True
                info['deleted_keys'] = catalog.delete(entry)
            deleted.append(info)
        return {'changed': bool(deleted), 'retention': {'deleted': deleted, 'kept': [cat.describe(e, r) for e, r in keep]},
                'incomplete': incomplete, 'missing': missing, 'malformed': malformed}
