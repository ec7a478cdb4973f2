#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: s3_backup
short_description: Keep off-site copies of dsr.ops backups in S3, proven by SHA-256 at every step
version_added: 0.2.0
description:
  - Uploads, downloads, lists and prunes the backups made by M(dsr.ops.pg_backup) in an S3 bucket or an S3-compatible
    store (MinIO, Ceph). Replaces the runbook's C(aws s3 cp) steps of Database Backup and Database Recovery.
  - O(mode=upload) sends the backup file in parts (SHA-256 of each part checked by S3 on arrival) while computing the
    whole file's SHA-256 from the same bytes; the upload is completed only when that matches the manifest, and
    aborted otherwise (no partial object ever appears). The file's SHA-256 is stored in the object's metadata
    (C(x-amz-meta-sha256)), because a multipart object's ETag and S3 checksum are not the file's hash, so the module compares
    the file's SHA-256 with the file's SHA-256. Then it confirms what S3 stored (size, metadata, S3's checksum when
    the store returns it) and, with O(verify_download=true), downloads and hashes the object again. The manifest,
    the globals dump and a passing verification record are uploaded beside it, after it.
  - O(mode=download) fetches the newest verified backup of O(database) (or a named O(key)), in parallel ranges pinned
    to the object's ETag, into a temporary file; it is renamed to its final name in O(dest) only when its SHA-256
    matches the manifest, and the manifest is written beside it. A corrupted object is refused and nothing is kept.
  - O(mode=list) lists a database's backups in the bucket, newest first, with their manifests; O(mode=prune) applies
    retention (O(keep_last), O(max_age)) and never deletes the newest backup nor the newest verified one.
  - Every call is retried with backoff on transient errors (see O(retries)).
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.aws
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the bucket (HEAD and list requests) and reports what would be uploaded, downloaded or deleted; writes
        nothing, locally or in the bucket.
  diff_mode:
    support: none
options:
  mode:
    description:
      - V(upload) a local backup, V(download) one, V(list) the backups of a database, V(prune) old ones.
    type: str
    choices: [upload, download, list, prune]
    required: true
  bucket:
    description: The bucket. It must exist (the module does not create buckets).
    type: str
    required: true
  prefix:
    description:
      - Key prefix under which the backups live, for example V(production/dsr_db/) (ending with C(/)). A backup is
        stored as C(<prefix><file name>), its manifest as C(<prefix><file name>.manifest.json).
    type: str
    default: ''
  path:
    description:
      - O(mode=upload) only. The backup file made by M(dsr.ops.pg_backup); its manifest must be beside it.
    type: path
  database:
    description:
      - The database whose backups to list, prune or download (required for O(mode=prune), and for O(mode=download)
        without O(key)). For O(mode=list), all databases under O(prefix) when unset.
    type: str
  key:
    description:
      - O(mode=download) only. The object key of the backup to fetch, instead of the newest one of O(database).
    type: str
  select:
    description:
      - O(mode=download) without O(key). V(newest_verified) takes the newest backup whose verification record (uploaded
        beside it) passed for the same SHA-256; V(newest) takes the newest backup.
    type: str
    choices: [newest_verified, newest]
    default: newest_verified
  dest:
    description:
      - O(mode=download) only. Local directory receiving the backup and its manifest (created mode 0700 if missing).
    type: path
  overwrite:
    description:
      - O(mode=upload) - V(different) uploads when no object has the key, or when its C(sha256) metadata or size differ
        from the backup's (so an unchanged multipart or KMS-encrypted object is not sent again); V(always) uploads
        anyway; V(never) leaves an existing object alone (with a warning when it differs).
      - O(mode=download) - a local file with the right SHA-256 is kept; a different one is replaced only with V(always).
    type: str
    choices: [different, always, never]
    default: different
  encryption:
    description:
      - Server-side encryption of the uploaded objects. V(none) for stores that refuse SSE headers.
    type: str
    choices: [AES256, aws:kms, none]
    default: AES256
  kms_key_id:
    description: KMS key id or ARN for O(encryption=aws:kms); the account's default S3 key when unset.
    type: str
  storage_class:
    description: Storage class of the uploaded objects.
    type: str
    choices: [STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, REDUCED_REDUNDANCY]
    default: STANDARD
  tags:
    description: Tags set on the uploaded objects.
    type: dict
  multipart_threshold:
    description:
      - Files of this size or more go up in parts; bytes or a size such as V(64MiB).
    type: str
    default: 64MiB
  part_size:
    description:
      - Size of each part of a multipart upload and of each ranged GET of a download (at least V(5MiB)); raised
        automatically when a file would need more than 10,000 parts.
      - Memory used is about (O(concurrency) + 1) times this.
    type: str
    default: 16MiB
  concurrency:
    description: Parts (or ranges) transferred at once.
    type: int
    default: 4
  part_checksums:
    description:
      - Send each part's SHA-256 for S3 to check on arrival (C(x-amz-checksum-sha256)). Turn off only for a store that
        rejects it; the file's SHA-256 in the metadata is still written and compared.
      - With it, request bodies are not hashed a second time for the SigV4 signature (botocore's
        C(payload_signing_enabled=false)) - the signed checksum header already binds the body; without it, they are.
    type: bool
    default: true
  verify_download:
    description:
      - O(mode=upload) - after the upload, download the object again (to a temporary file in O(temp_dir)) and compare
        its SHA-256 with the manifest's. The full proof, at the cost of a second transfer.
    type: bool
    default: false
  temp_dir:
    description: Where O(verify_download) writes its temporary copy. Defaults to the backup's directory.
    type: path
  keep_last:
    description: O(mode=prune) - keep this many newest backups (at least 1).
    type: int
  max_age:
    description:
      - O(mode=prune) - delete backups older than this (for example V(35d)). With O(keep_last) too, a backup is deleted
        only when both rules let it go. The newest backup and the newest verified one are always kept.
    type: str
notes:
  - A versioned bucket keeps deleted objects as noncurrent versions until its lifecycle rules expire them.
  - Tested against moto in server mode (see docs/s3.md); moto is not S3, and its answers about multipart checksums differ.
seealso:
  - module: dsr.ops.pg_backup
  - module: dsr.ops.pg_restore
  - name: Checking object integrity in Amazon S3
    description: How S3 computes and returns SHA-256 checksums, whole-object and composite.
    link: https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
'''

EXAMPLES = r'''
- name: Upload last night's backup (and its manifest) to the off-site bucket
  dsr.ops.s3_backup:
    mode: upload
    bucket: dsr-backups
    prefix: production/dsr_db/
    path: "{{ backup.path }}"
    encryption: aws:kms
    kms_key_id: alias/dsr-backups
    storage_class: STANDARD_IA
    tags:
      environment: production

- name: Fetch the newest verified backup for a restore
  dsr.ops.s3_backup:
    mode: download
    bucket: dsr-backups
    prefix: production/dsr_db/
    database: dsr_db
    dest: /var/restore/dsr_db
  register: fetched

- name: Keep 35 days in the bucket
  dsr.ops.s3_backup:
    mode: prune
    bucket: dsr-backups
    prefix: production/dsr_db/
    database: dsr_db
    max_age: 35d

- name: A MinIO store that rejects the new checksum trailers
  dsr.ops.s3_backup:
    mode: list
    bucket: dsr-backups
    endpoint_url: https://minio.dsr.example:9000
    addressing_style: path
    checksum_calculation: when_required
    database: dsr_db
'''

RETURN = r'''
bucket:
  description: The bucket.
  returned: always
  type: str
  sample: dsr-backups
mode:
  description: The mode run.
  returned: always
  type: str
  sample: upload
key:
  description: Key of the backup object uploaded or downloaded.
  returned: O(mode=upload) or O(mode=download)
  type: str
  sample: production/dsr_db/dsr_db_20261127T020000Z.dump.zst
manifest_key:
  description: Key of its manifest.
  returned: O(mode=upload) or O(mode=download)
  type: str
  sample: production/dsr_db/dsr_db_20261127T020000Z.dump.zst.manifest.json
path:
  description: The local backup file (uploaded, or downloaded to).
  returned: O(mode=upload) or O(mode=download)
  type: str
  sample: /var/restore/dsr_db/dsr_db_20261127T020000Z.dump.zst
manifest_path:
  description: The local manifest written beside a download.
  returned: O(mode=download)
  type: str
  sample: /var/restore/dsr_db/dsr_db_20261127T020000Z.dump.zst.manifest.json
removed_stale_temp_files:
  description:
    - Temporary files that killed earlier runs left (partial downloads of this database's backups in O(dest)), removed
      by this run.
    - A file is removed only when no live run holds its lock and the process named in it is gone, so another run's work
      in progress is never touched.
  returned: O(mode=download), when the backup was fetched
  type: list
  elements: str
  sample: []
created_dest:
  description: Whether O(dest) was created by this run.
  returned: O(mode=download), when the backup was fetched
  type: bool
  sample: true
globals_path:
  description: The globals dump downloaded beside the backup, when the backup has one.
  returned: O(mode=download), when the backup has a globals dump
  type: str
  sample: /var/restore/dsr_db/dsr_db_20261127T020000Z.dump.zst.globals.sql
sha256:
  description: SHA-256 of the backup file (from its manifest, and proven against the bytes sent or received).
  returned: O(mode=upload) or O(mode=download)
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
remote_sha256:
  description: The C(sha256) metadata of the object found under the key before the upload (None when there was none).
  returned: O(mode=upload)
  type: str
  sample: null
size_bytes:
  description: Size of the backup file.
  returned: O(mode=upload) or O(mode=download)
  type: int
  sample: 301989888
etag:
  description: The object's ETag (an MD5 only for single-part unencrypted objects; never used as a content hash here).
  returned: O(mode=upload) or O(mode=download), not in check mode for a new upload
  type: str
  sample: '"a1b2c3d4e5f60718293a4b5c6d7e8f90-18"'
version_id:
  description: The object's version id in a versioned bucket, else None.
  returned: O(mode=upload) or O(mode=download), not in check mode for a new upload
  type: str
  sample: 3HL4kqtJlcpXroDTDmjVBH40Nrjfkd
uploaded:
  description: Whether the backup object was sent (False when an identical one was there, or in check mode).
  returned: O(mode=upload)
  type: bool
  sample: true
downloaded:
  description: Whether the object was fetched (False when an identical local file was there, or in check mode).
  returned: O(mode=download)
  type: bool
  sample: true
multipart:
  description: Whether the upload went in parts (None when nothing was sent).
  returned: O(mode=upload)
  type: bool
  sample: true
parts:
  description: Number of parts sent.
  returned: O(mode=upload), when the backup was sent
  type: int
  sample: 18
objects:
  description: Keys written (in check mode, that would be written), backup first, then globals, manifest, verification record.
  returned: O(mode=upload)
  type: list
  elements: str
  sample: [production/dsr_db/dsr_db_20261127T020000Z.dump.zst, production/dsr_db/dsr_db_20261127T020000Z.dump.zst.manifest.json]
confirmed:
  description:
    - What was checked against S3 after the upload (or for an object already there) - C(size) and C(sha256_metadata)
      (always compared, an upload fails when they differ), C(s3_checksum) (True when the store returned a SHA-256
      checksum and it matched, None when it returned none), C(download_sha256) (with O(verify_download)).
  returned: O(mode=upload), not in check mode
  type: dict
  sample: {size: true, sha256_metadata: true, s3_checksum: true, download_sha256: true}
storage_class:
  description: The object's storage class.
  returned: O(mode=upload), not in check mode
  type: str
  sample: STANDARD_IA
encryption:
  description: The object's server-side encryption as S3 reports it.
  returned: O(mode=upload), not in check mode
  type: str
  sample: aws:kms
started_at:
  description: When the downloaded backup was taken (from its manifest, ISO 8601).
  returned: O(mode=download)
  type: str
  sample: "2026-11-27T02:00:00+00:00"
backup_age_seconds:
  description: Age of the downloaded backup's data now - the recovery point objective actually achieved by restoring it.
  returned: O(mode=download)
  type: float
  sample: 25384.2
verified:
  description: Whether the downloaded backup had a passing verification record in the bucket.
  returned: O(mode=download)
  type: bool
  sample: true
upload_seconds:
  description: Time spent sending the backup object.
  returned: O(mode=upload), when the backup was sent
  type: float
  sample: 4.2
download_seconds:
  description: Time spent fetching and hashing the backup object.
  returned: O(mode=download), when it was fetched
  type: float
  sample: 3.9
throughput_mib_s:
  description: MiB per second of the transfer.
  returned: when a backup object was transferred
  type: float
  sample: 71.4
duration_seconds:
  description: Time the whole module took.
  returned: always
  type: float
  sample: 5.1
requests:
  description:
    - The audit trail - every S3 operation made, as C(<operation> s3://<bucket>/<key or prefix>), with C((xN)) when
      repeated (the parts of an upload). In check mode, only reads.
  returned: always
  type: list
  elements: str
  sample: [head_bucket s3://dsr-backups/, head_object s3://dsr-backups/production/dsr_db/dsr_db_20261127T020000Z.dump.zst,
           "upload_part s3://dsr-backups/production/dsr_db/dsr_db_20261127T020000Z.dump.zst (x18)"]
retry_attempts:
  description: Retries made after transient errors, all calls together.
  returned: always
  type: int
  sample: 0
backups:
  description:
    - The backups of O(database) under O(prefix), newest first; each has C(key), C(manifest_key), C(database),
      C(started_at), C(size_bytes), C(sha256), C(last_modified), C(storage_class), C(verified), C(verified_at) and
      C(manifest) (the whole manifest), and C(problem) when the object's size disagrees with its manifest.
  returned: O(mode=list)
  type: list
  elements: dict
  sample: [{key: production/dsr_db/dsr_db_20261127T020000Z.dump.zst, verified: true, started_at: "2026-11-27T02:00:00+00:00"}]
count:
  description: Number of backups listed.
  returned: O(mode=list)
  type: int
  sample: 14
newest:
  description: The first of RV(backups), or None.
  returned: O(mode=list)
  type: dict
  sample: {key: production/dsr_db/dsr_db_20261127T020000Z.dump.zst}
newest_verified:
  description: The newest verified backup, or None.
  returned: O(mode=list)
  type: dict
  sample: {key: production/dsr_db/dsr_db_20261127T020000Z.dump.zst}
incomplete:
  description: Objects under the prefix that look like backups but have no manifest (an interrupted upload); not counted as backups.
  returned: O(mode=list) or O(mode=prune)
  type: list
  elements: dict
  sample: []
missing:
  description: Manifests whose backup object is missing; not counted as backups.
  returned: O(mode=list) or O(mode=prune)
  type: list
  elements: dict
  sample: []
malformed:
  description:
    - Manifests named as backups under the prefix that fail their checks (not JSON, a missing or mistyped key, a time stamp
      without a time zone or one that disagrees with the key, a C(file) other than the key less C(.manifest.json)), each with
      C(key) and C(reason). They are skipped with a warning, not counted as backups, and never deleted; the others still count.
  returned: O(mode=list) or O(mode=prune)
  type: list
  elements: dict
  sample: [{key: production/dsr_db/dsr_db_20261127T020000Z.dump.zst.manifest.json, reason: "manifest ... is malformed: ..."}]
retention:
  description:
    - C(deleted) lists the backups deleted (in check mode, that would be), each with C(key), C(started_at),
      C(size_bytes), C(verified), C(reason) and C(deleted_keys); C(kept) lists the others with the reason.
    - Only an object proven to be the backup its manifest describes is deleted - its key under O(prefix) named as a backup of
      O(database), its size and its C(sha256) metadata equal to the manifest's; any other is kept with the reason
      C(left alone) and why, and a warning. A backup dated more than five minutes in the future is kept and never ranked newest.
  returned: O(mode=prune)
  type: dict
  sample: {deleted: [], kept: [{key: production/dsr_db/dsr_db_20261127T020000Z.dump.zst, reason: newest backup}]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._sizes import parse_size
from ansible_collections.dsr.ops.plugins.module_utils._s3.client import Store, aws_argument_spec, resolve_connection
from ansible_collections.dsr.ops.plugins.module_utils._s3.errors import S3Error
from ansible_collections.dsr.ops.plugins.module_utils._s3.run import S3BackupRun
from ansible_collections.dsr.ops.plugins.module_utils._s3.transfer import MIN_PART_SIZE

_REQUIRED_BY_MODE = {
    'upload': ['path'],
    'download': ['dest'],
    'prune': ['database'],
}
_ONLY_FOR_MODE = {
    'path': ['upload'],
    'key': ['download'],
    'dest': ['download'],
    'keep_last': ['prune'],
    'max_age': ['prune'],
}


def argument_spec():
    """S3 connection options plus what to move where."""
    spec = aws_argument_spec()
    spec.update(
        mode=dict(type='str', choices=['upload', 'download', 'list', 'prune'], required=True),
        bucket=dict(type='str', required=True),
        prefix=dict(type='str', default=''),
        path=dict(type='path'),
        database=dict(type='str'),
        key=dict(type='str', no_log=False),
        select=dict(type='str', choices=['newest_verified', 'newest'], default='newest_verified'),
        dest=dict(type='path'),
        overwrite=dict(type='str', choices=['different', 'always', 'never'], default='different'),
        encryption=dict(type='str', choices=['AES256', 'aws:kms', 'none'], default='AES256'),
        kms_key_id=dict(type='str', no_log=False),
        storage_class=dict(type='str', default='STANDARD',
                           choices=['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'REDUCED_REDUNDANCY']),
        tags=dict(type='dict'),
        multipart_threshold=dict(type='str', default='64MiB'),
        part_size=dict(type='str', default='16MiB'),
        concurrency=dict(type='int', default=4),
        part_checksums=dict(type='bool', default=True),
        verify_download=dict(type='bool', default=False),
        temp_dir=dict(type='path'),
        keep_last=dict(type='int'),
        max_age=dict(type='str'),
    )
    return spec


def validate(params):
    """Messages for options that cannot work, each naming the option and the fix."""
    problems = []
    mode = params['mode']
    for name in _REQUIRED_BY_MODE.get(mode, []):
        if not params.get(name):
            problems.append('mode=%s needs %s' % (mode, name))
    if mode == 'download' and not params.get('key') and not params.get('database'):
        problems.append('mode=download needs database (to take its newest backup) or key')
    for name, modes in _ONLY_FOR_MODE.items():
        if params.get(name) is not None and mode not in modes:
            problems.append('%s is used only with mode=%s' % (name, ' or '.join(modes)))
    if mode == 'prune' and params.get('keep_last') is None and params.get('max_age') is None:
        problems.append('mode=prune needs keep_last or max_age (or both)')
    if params.get('keep_last') is not None and params['keep_last'] < 1:
        problems.append('keep_last must be at least 1 (the newest backup is always kept), got %d' % params['keep_last'])
    if params.get('max_age') is not None:
        try:
            params['max_age'] = parse_duration(params['max_age'], 'max_age')
        except ValueError as exc:
            problems.append(str(exc))
    for name in ('multipart_threshold', 'part_size'):
        try:
            params[name] = parse_size(params[name], name)
        except ValueError as exc:
            problems.append(str(exc))
    if isinstance(params['part_size'], int) and params['part_size'] < MIN_PART_SIZE:
        problems.append('part_size must be at least 5MiB (S3\'s minimum part size), got %d bytes' % params['part_size'])
    if isinstance(params['multipart_threshold'], int) and isinstance(params['part_size'], int) and params['multipart_threshold'] < params['part_size']:
        problems.append('multipart_threshold must be at least part_size')
    if params['concurrency'] < 1 or params['concurrency'] > 64:
        problems.append('concurrency must be between 1 and 64, got %d' % params['concurrency'])
    if params.get('kms_key_id') and params['encryption'] != 'aws:kms':
        problems.append('kms_key_id needs encryption=aws:kms')
    if not params['bucket'] or '/' in params['bucket']:
        problems.append('bucket must be a bucket name (no "/"; put the path in prefix), got %r' % params['bucket'])
    return problems


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params, problems = resolve_connection(module.params)
    problems += validate(params)
    if problems:
        module.fail_json(msg='invalid options: ' + '; '.join(problems))
    _deps.require(module, 'boto3')
    run = S3BackupRun(params, lambda connections: Store(params, max_pool_connections=connections), check_mode=module.check_mode)
    try:
        result = run.run()
    except S3Error as exc:
        module.fail_json(msg='s3_backup %s failed: %s' % (params['mode'], exc), changed=run.changed,
                         retry_attempts=run.store.retry_attempts if run.store else 0, requests=run.store.requests if run.store else [])
    except OSError as exc:
        # disk full, permission denied... the message names the file
        module.fail_json(msg='s3_backup %s failed: %s' % (params['mode'], exc), changed=run.changed)
    for warning in run.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
