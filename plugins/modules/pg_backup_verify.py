#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: pg_backup_verify
short_description: Verify a dsr.ops PostgreSQL backup - freshness, checksum, decompression, contents, optional restore test
version_added: 0.1.0
description:
  - Checks the newest backup of a database in a directory (or a named backup file) against its
    manifest, and reports each sub-check in the shared status vocabulary (V(ok), V(warning),
    V(critical), V(unknown), V(skipped)) with an overall RV(status).
  - C(freshness) - the newest backup is younger than O(max_age) (for example V(26h) for a daily backup);
    no backup at all is V(critical); a backup dated more than five minutes in the future is V(warning) (its age
    cannot be known, a clock is wrong).
  - C(manifest) - the manifest is well-formed (schema, a time stamp with a time zone that agrees with the file name,
    and it describes the file it is named after); with O(backup_dir), every manifest of O(database) there. A malformed
    manifest is V(critical) and named; with O(backup_dir) the newest well-formed backup is still verified.
  - C(checksum) - the SHA-256 and size of the stored file match the manifest.
  - C(decompression) - the file decompresses completely, to the raw size recorded.
  - C(contents) - C(pg_restore --list) reads the archive's table of contents and finds the data of
    every table in the manifest. These three are one streaming pass, with no temporary disk.
  - C(restore_test) (with O(restore_test=true)) - restores into a scratch database created from
    C(template0) with parallel jobs, runs ANALYZE, compares every table's row count with the exact
    counts in the manifest, and drops the scratch database. Scratch databases left by killed runs
    are found (by name, a marker comment, and an advisory lock no live run holds) and dropped first.
  - Records the result beside the backup (C(<file>.verify.json)); M(dsr.ops.pg_backup) retention never
    deletes the newest backup whose record says V(ok).
  - Replaces the runbook's C(gunzip -t) and C(ls -la /backups/) checks, which only prove gzip framing.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.postgres
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Runs every read-only check; skips the restore test and does not write the verification record.
  diff_mode:
    support: none
options:
  path:
    description:
      - The backup file to verify. Exclusive with O(backup_dir).
    type: path
  backup_dir:
    description:
      - Verify the newest backup of O(database) in this directory.
    type: path
  database:
    description:
      - With O(backup_dir), the database whose backups to look at.
    type: str
  max_age:
    description:
      - The newest backup must be younger than this (for example V(26h), V(8d), or seconds); older is V(critical).
      - When unset, the age is reported and not judged.
    type: str
  decompress:
    description:
      - Decompress the file and read its table of contents. V(false) only checks the SHA-256.
    type: bool
    default: true
  restore_test:
    description:
      - Restore into a scratch database on the server given by the connection options and compare row counts.
      - The login role needs CREATEDB. The scratch restore skips owners and privileges.
      - The file is still read only once. The pass that checks it also writes the decompressed copy that
        C(pg_restore -j) needs into O(temp_dir). The copy is removed afterwards, and at once when a check fails.
    type: bool
    default: false
  jobs:
    description: Parallel jobs for the restore test.
    type: int
    default: 2
  temp_dir:
    description: Directory for the restore test's decompressed copy. Defaults to the backup's directory.
    type: path
  record:
    description: Write the verification record beside the backup (not in check mode).
    type: bool
    default: true
  fail_on:
    description:
      - V(critical) fails on V(critical) or V(unknown); V(warning) also on V(warning); V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
  pg_bin_dir:
    description:
      - Directory holding C(pg_restore) and C(vacuumdb). Defaults to the newest C(/usr/lib/postgresql/*/bin), then E(PATH).
    type: path
notes:
  - The connection options are only used by the restore test; O(login_db) defaults to V(postgres) there.
seealso:
  - module: dsr.ops.pg_backup
  - module: dsr.ops.pg_restore
'''

EXAMPLES = r'''
- name: Daily - last night's backup exists, is fresh and intact
  dsr.ops.pg_backup_verify:
    backup_dir: /backups/dsr_db
    database: dsr_db
    max_age: 26h

- name: Weekly - prove the newest backup restores, with the right row counts
  dsr.ops.pg_backup_verify:
    backup_dir: /backups/dsr_db
    database: dsr_db
    max_age: 26h
    restore_test: true
    login_host: pg-staging.dsr.internal
    login_user: dsr_restore_test
'''

RETURN = r'''
status:
  description: Overall status, the worst of the sub-checks.
  returned: always
  type: str
  sample: ok
summary:
  description: The overall status and every sub-check that is not V(ok).
  returned: always
  type: str
  sample: "ok: restore_test=skipped"
failed_checks:
  description: The sub-checks whose status failed the task under O(fail_on).
  returned: always
  type: list
  elements: str
  sample: []
path:
  description: The backup verified (null when none was found).
  returned: always
  type: str
  sample: /backups/dsr_db/dsr_db_20261127T020000Z.dump.zst
manifest_path:
  description: Its manifest.
  returned: always
  type: str
  sample: /backups/dsr_db/dsr_db_20261127T020000Z.dump.zst.manifest.json
database:
  description: The database the backup holds.
  returned: when a backup was found
  type: str
  sample: dsr_db
started_at:
  description: When the backup was taken.
  returned: when a backup was found
  type: str
  sample: "2026-11-27T02:00:00+00:00"
sha256:
  description: The SHA-256 recorded in the manifest.
  returned: when a backup was found
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
malformed_manifests:
  description: The manifests that failed their checks, each with C(manifest_path) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{manifest_path: /backups/dsr_db/dsr_db_20261127T020000Z.dump.zst.manifest.json,
            reason: "manifest ... is malformed: started_at must be an ISO 8601 time with a time zone: ..."}]
backups_found:
  description: How many backups of the database (with a well-formed manifest) the directory holds.
  returned: always
  type: int
  sample: 14
removed_stale_temp_files:
  description:
    - Temporary files that killed earlier runs left (decompressed copies of the restore test), removed by this run.
    - A file is removed only when no live run holds its lock and the process named in it is gone, so another run's work
      in progress is never touched.
  returned: always (empty unless the restore test ran)
  type: list
  elements: str
  sample: []
recorded:
  description: Whether the verification record was written.
  returned: always
  type: bool
  sample: true
commands:
  description: Commands run (no secrets).
  returned: always
  type: list
  elements: str
  sample: ["/usr/lib/postgresql/15/bin/pg_restore --list < (decompressed stream)"]
checks:
  description: One entry per sub-check with C(status), C(msg) and its figures.
  returned: always
  type: dict
  contains:
    freshness:
      description: C(age_seconds), C(max_age_seconds).
      type: dict
      returned: always
      sample: {status: ok, msg: "newest backup is 25211 s old, max_age 93600 s", age_seconds: 25211, max_age_seconds: 93600}
    manifest:
      description: C(manifests) read and how many were C(malformed).
      type: dict
      returned: always
      sample: {status: ok, msg: 14 manifests read, schema checked, manifests: 14, malformed: 0}
    checksum:
      description: C(sha256), C(size_bytes) as found, C(seconds).
      type: dict
      returned: always
      sample: {status: ok, msg: SHA-256 and size match the manifest, sha256: 9f86d0..., size_bytes: 301989888}
    decompression:
      description: C(raw_size_bytes) as found.
      type: dict
      returned: always
      sample: {status: ok, raw_size_bytes: 1073741824}
    contents:
      description: C(toc_entries), C(table_data_entries), C(missing) tables.
      type: dict
      returned: always
      sample: {status: ok, toc_entries: 61, table_data_entries: 8, missing: []}
    restore_test:
      description: C(restore_seconds), C(analyze_seconds), C(count_seconds), C(validation) (C(tables), C(mismatches), C(status)).
      type: dict
      returned: always
      sample: {status: ok, validation: {tables: 8, mismatches: [], status: ok}, restore_seconds: 41.2}
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import run_module
from ansible_collections.dsr.ops.plugins.module_utils._backup.verify_entry import CHECK


def main():
    run_module(CHECK)


if __name__ == '__main__':
    main()
