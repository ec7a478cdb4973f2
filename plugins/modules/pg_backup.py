#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: pg_backup
short_description: Back up a PostgreSQL database to a verified, checksummed, atomically written file
version_added: 0.1.0
description:
  - Dumps one database with C(pg_dump) in custom format into a seekable temporary file (so the
    archive keeps the data offsets that parallel C(pg_restore -j) needs), compresses it with zstd
    (multi-threaded, the default), gzip or not at all, computes the SHA-256 of the stored bytes,
    fsyncs, and renames it to its final name atomically. A failed or killed run never leaves a
    partial file under a final name.
  - Writes a sidecar manifest C(<file>.manifest.json) last, holding the database, server and
    C(pg_dump) versions, start and end times, raw and stored sizes, the SHA-256, and the exact row
    count of every table taken in the same snapshot as the dump (the dump runs with
    C(--snapshot) on a snapshot exported by the module), for M(dsr.ops.pg_backup_verify) and
    M(dsr.ops.pg_restore) to check against.
  - Checks every process's exit status and error output, refuses an empty or malformed dump,
    refuses a C(pg_dump) older than the server, checks free space first, and holds a lock so two
    backups of one database cannot run at once (the lock dies with the process, so a killed run
    never blocks the next one; temporary files of killed runs are removed by the next run).
  - The password reaches C(pg_dump) through its environment, never its command line.
  - Backup files are created mode 0600 in a directory created mode 0700.
  - Optional retention keeps the last O(keep_last) backups and/or those younger than O(max_age), and
    never deletes the newest backup nor the newest verified one.
  - Retention treats manifests as untrusted input. It deletes only what it can prove is a backup of O(database) in
    O(backup_dir) - a manifest named C(<database>_<UTC time>.dump[.zst|.gz].manifest.json) whose schema checks out and
    whose C(file) is that name less C(.manifest.json), and a data file of that name directly in O(backup_dir) (a regular
    file, not a symbolic link) with the size and the compression magic bytes the manifest records. Anything else is left
    alone with a warning, and one malformed manifest never stops the retention of the other backups.
  - A backup dated more than five minutes in the future (a machine with a wrong clock) is kept and reported, never
    ranked as the newest; the backup a run makes is never deleted by that run.
  - Replaces the runbook's C(pg_dump > file; gzip file) snippet.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.postgres
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Connects and checks versions and free space, then reports the planned file, the command
        and what retention would delete, and writes nothing.
  diff_mode:
    support: none
options:
  state:
    description:
      - V(present) makes a new backup (and applies retention after it, when O(keep_last) or O(max_age) is set).
      - V(pruned) only applies retention to the existing backups of O(database) in O(backup_dir), without
        connecting to the server; the M(dsr.ops.backup) role uses it after verifying the new backup.
    type: str
    choices: [present, pruned]
    default: present
  database:
    description:
      - The database to back up. The module connects to it (O(login_db) is not used).
      - It becomes part of the file name, so only letters, digits, C(_), C(-) and C(.) are accepted.
    type: str
    required: true
    aliases: [name]
  backup_dir:
    description:
      - Directory receiving the backup, its manifest and verification record. Created with mode 0700 if missing
        (O(state=present)); with O(state=pruned) it must exist.
      - On the host running the module.
    type: path
    required: true
  temp_dir:
    description:
      - Directory for the uncompressed temporary dump (about the size of the table data).
        Defaults to O(backup_dir). The final file is always written in O(backup_dir).
    type: path
  compression:
    description:
      - V(zstd) (the default, multi-threaded), V(gzip), or V(none).
    type: str
    choices: [zstd, gzip, none]
    default: zstd
  compression_level:
    description:
      - Compression level; defaults to 1 for zstd (1-19) and 6 for gzip (1-9).
      - zstd 1 is the default because on registry-shaped data it was both faster and smaller than
        zstd 3 (see docs/backup-format-spike.md); measure your own data with the benchmark before raising it.
    type: int
  compression_threads:
    description:
      - zstd worker threads. Defaults to the number of CPUs.
    type: int
  globals:
    description:
      - Also dump roles and tablespaces with C(pg_dumpall --globals-only) into C(<file>.globals.sql) (mode 0600).
        Needs a superuser login.
    type: bool
    default: false
  globals_role_passwords:
    description:
      - Include role password hashes in the globals dump. Off by default (C(--no-role-passwords)).
    type: bool
    default: false
  keep_last:
    description:
      - After a successful backup, keep this many newest backups of the database (at least 1).
      - With O(max_age) too, a backup is deleted only when both rules let it go.
    type: int
  max_age:
    description:
      - After a successful backup, delete backups older than this, for example V(14d), V(36h) or seconds.
      - The newest backup and the newest verified backup are never deleted, whatever the rules say.
    type: str
  space_check:
    description:
      - Refuse to start when the free space of O(temp_dir) is below 1.6 times the database's table data
        (the uncompressed dump plus its compressed copy).
    type: bool
    default: true
  pg_bin_dir:
    description:
      - Directory holding C(pg_dump) and C(pg_dumpall). Defaults to the newest C(/usr/lib/postgresql/*/bin), then E(PATH).
    type: path
  lock_wait_timeout:
    description:
      - Passed to C(pg_dump --lock-wait-timeout) (for example V(5min)), so a table locked by someone
        else fails the backup instead of waiting forever.
    type: str
notes:
  - Runs where ansible-playbook runs and reaches the server over the network, like the other PostgreSQL modules.
  - The backup is consistent, because row counts and dump come from one exported snapshot.
seealso:
  - module: dsr.ops.pg_backup_verify
  - module: dsr.ops.pg_restore
  - name: The backup format decision
    description: Why custom format, seekable temporary file, zstd (docs/backup.md, section Format, and docs/backup-format-spike.md in the collection).
    link: https://www.postgresql.org/docs/15/app-pgdump.html
'''

EXAMPLES = r'''
- name: Nightly backup of the registry, keeping two weeks
  dsr.ops.pg_backup:
    login_host: "{{ dsr_pg_host }}"
    login_user: dsr_backup
    database: dsr_db
    backup_dir: /backups/dsr_db
    keep_last: 14
    max_age: 15d
  register: backup

- name: After verifying the new backup, apply retention
  dsr.ops.pg_backup:
    state: pruned
    database: dsr_db
    backup_dir: /backups/dsr_db
    keep_last: 14

- name: What would happen (check mode)
  dsr.ops.pg_backup:
    database: dsr_db
    backup_dir: /backups/dsr_db
  check_mode: true
'''

RETURN = r'''
database:
  description: The database backed up (or pruned).
  returned: always
  type: str
  sample: dsr_db
compression:
  description: The compression of the stored file.
  returned: O(state=present)
  type: str
  sample: zstd
format:
  description: The archive format inside it (always C(custom), for C(pg_restore -j)).
  returned: O(state=present)
  type: str
  sample: custom
created_backup_dir:
  description: Whether O(backup_dir) would be created (check mode; a real run creates it silently, mode 0700).
  returned: O(state=present), in check mode
  type: bool
  sample: false
path:
  description: The backup file (planned, in check mode).
  returned: O(state=present)
  type: str
  sample: /backups/dsr_db/dsr_db_20261127T020000Z.dump.zst
manifest_path:
  description: Its manifest.
  returned: O(state=present)
  type: str
  sample: /backups/dsr_db/dsr_db_20261127T020000Z.dump.zst.manifest.json
sha256:
  description: SHA-256 of the stored file.
  returned: success, not in check mode
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
size_bytes:
  description: Size of the stored file.
  returned: success, not in check mode
  type: int
  sample: 301989888
raw_size_bytes:
  description: Size of the uncompressed custom-format dump.
  returned: success, not in check mode
  type: int
  sample: 1073741824
duration_seconds:
  description: Time taken by the dump and its compression.
  returned: success, not in check mode
  type: float
  sample: 21.4
dump_seconds:
  description: Time taken by C(pg_dump).
  returned: success, not in check mode
  type: float
  sample: 13.2
compress_seconds:
  description: Time taken by compression, hashing and the atomic write.
  returned: success, not in check mode
  type: float
  sample: 8.2
started_at:
  description: When the backup started (ISO 8601, UTC); also in the file name.
  returned: success, not in check mode
  type: str
  sample: "2026-11-27T02:00:00+00:00"
tables:
  description: Number of tables whose rows were counted into the manifest.
  returned: success, not in check mode
  type: int
  sample: 8
rows:
  description: Total rows counted.
  returned: success, not in check mode
  type: int
  sample: 18223451
command:
  description: The C(pg_dump) command line (with a placeholder for the snapshot in check mode). It never holds a password.
  returned: O(state=present)
  type: str
  sample: /usr/lib/postgresql/15/bin/pg_dump --format=custom --compress=0 --no-password --snapshot=00000003-0000001B-1 --file=... --dbname=dsr_db
commands:
  description: Every command run, in order.
  returned: success, not in check mode
  type: list
  elements: str
  sample: ["/usr/lib/postgresql/15/bin/pg_dump --format=custom ..."]
globals_path:
  description: The globals dump, when O(globals) is true.
  returned: success, not in check mode
  type: str
  sample: /backups/dsr_db/dsr_db_20261127T020000Z.dump.zst.globals.sql
server_version:
  description: Server version.
  returned: O(state=present)
  type: str
  sample: "15.18"
pg_dump_version:
  description: C(pg_dump --version) output.
  returned: O(state=present)
  type: str
  sample: pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
space:
  description: The free-space check, C(database_bytes), C(table_bytes), C(needed_bytes), C(free_bytes).
  returned: O(state=present)
  type: dict
  sample: {database_bytes: 1320000000, table_bytes: 1010000000, needed_bytes: 1616000000, free_bytes: 80000000000}
retention:
  description:
    - C(deleted) lists the backups deleted (in check mode, those that would be), each with C(path), C(started_at),
      C(size_bytes), C(verified) and C(reason); C(kept) lists the others with the reason they were kept
      (C(left alone) and why, for a backup whose data file does not match its manifest or one dated in the future).
    - C(malformed) lists the manifests named as this database's that fail their checks, each with C(manifest_path) and
      C(reason); they and their data files are left alone (and each is a warning).
  returned: always
  type: dict
  sample: {deleted: [{path: /backups/dsr_db/dsr_db_20261101T020000Z.dump.zst, verified: true, reason: beyond the last 14 and older than 1296000 s}], kept: []}
removed_stale_temp_files:
  description: Temporary files of killed earlier runs that this run removed.
  returned: success, not in check mode
  type: list
  elements: str
  sample: []
warnings:
  description: Error output of C(pg_dump) from a run that succeeded anyway.
  returned: success, not in check mode
  type: list
  elements: str
  sample: []
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule, reason
from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._backup import codec
from ansible_collections.dsr.ops.plugins.module_utils._backup.backup import Backup
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupError
from ansible_collections.dsr.ops.plugins.module_utils._backup.manifest import check_database_name
from ansible_collections.dsr.ops.plugins.module_utils._options import empty_problems
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (
    Connector,
    PostgresError,
    postgres_argument_spec,
    validate_connection_params,
)


def argument_spec():
    """Connection options plus what to back up, where, and how."""
    spec = postgres_argument_spec()
    spec.update(
        state=dict(type='str', choices=['present', 'pruned'], default='present'),
        database=dict(type='str', required=True, aliases=['name']),
        backup_dir=dict(type='path', required=True),
        temp_dir=dict(type='path'),
        compression=dict(type='str', choices=list(codec.COMPRESSIONS), default='zstd'),
        compression_level=dict(type='int'),
        compression_threads=dict(type='int'),
        globals=dict(type='bool', default=False),
        globals_role_passwords=dict(type='bool', default=False, no_log=False),
        keep_last=dict(type='int'),
        max_age=dict(type='str'),
        space_check=dict(type='bool', default=True),
        pg_bin_dir=dict(type='path'),
        lock_wait_timeout=dict(type='str'),
    )
    return spec


def libraries(params):
    """Retention alone (state=pruned) never connects and compresses nothing: it needs no library."""
    if params['state'] == 'pruned':
        return []
    return ['psycopg2'] + (['zstandard'] if params['compression'] == 'zstd' else [])


def validate(params):
    """Messages for options that cannot work, each naming the option and the fix."""
    problems = validate_connection_params(params)
    problems += empty_problems(params, ('backup_dir', 'temp_dir', 'pg_bin_dir'))
    try:
        check_database_name(params['database'])
    except BackupError as exc:
        problems.append(str(exc))
    try:
        # the effective level, checked once: the backend takes it as given
        params['compression_level'] = codec.validate_level(params['compression'], params['compression_level'])
    except ValueError as exc:
        problems.append(str(exc))
    if params['compression_threads'] is not None and params['compression_threads'] < 1:
        problems.append('compression_threads must be at least 1, got %d' % params['compression_threads'])
    if params['keep_last'] is not None and params['keep_last'] < 1:
        problems.append('keep_last must be at least 1 (the newest backup is always kept), got %d' % params['keep_last'])
    return problems


def main():
    module = DsrModule(argument_spec(), libraries=libraries, convert={'max_age': parse_duration}, validate=validate)
    params = module.params
    result = module.run(lambda: Backup(params, check_mode=module.check_mode).run(Connector(params)),
                        # OSError: disk full, permission denied... the message names the file
                        (BackupError, PostgresError, OSError),
                        lambda exc: 'backup of %s failed: %s' % (params['database'], reason(exc)))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
