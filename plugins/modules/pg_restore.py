#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: pg_restore
short_description: Restore a dsr.ops backup into a validated database, replacing an existing one only through an atomic swap
version_added: 0.1.0
description:
  - Verifies the backup's SHA-256 and sizes against its manifest while decompressing it into a
    seekable temporary file, before any database is touched. A corrupt backup is refused.
  - Restores into a new scratch database created from C(template0), with C(pg_restore -j)
    and C(--exit-on-error), runs ANALYZE, and compares every table's row count with the manifest.
    A failed or mismatching restore drops the scratch database and changes nothing else.
  - When O(target_database) does not exist, the validated scratch database is renamed to it.
  - When it exists and holds anything - tables, views, sequences, functions, types, large objects, extensions, schemas
    or any other object a user created - the restore is refused unless O(swap=true). Then the current
    database is renamed aside (C(<target>_before_restore_<timestamp>)) and kept, and the scratch one
    takes its name. The owner, database-level GRANTs, C(ALTER DATABASE ... SET)
    and C(ALTER ROLE ... IN DATABASE ... SET) settings, connection limit and comment of the current
    database are carried over in the same single transaction as the two renames, so a run killed at any
    moment leaves either the old database in place, untouched and open, or the new one. The target is never
    closed to connections; sessions on it fail the swap unless O(terminate_connections=true).
  - An existing target that holds nothing at all (as C(CREATE DATABASE) made it) is replaced the same way, and the
    empty one dropped - unless something appeared in it during the restore, then it is kept aside.
  - A target that does not accept connections (C(ALLOW_CONNECTIONS false), as an interrupted swap of an earlier version
    left it) cannot be looked into; it is refused without O(swap), and with it kept aside while an open database takes its place.
  - A backup of a database with another name does not replace an existing target unless O(allow_other_database=true).
  - The database kept aside is dropped only when asked, with O(state=aside_dropped).
  - Replaces the runbook's C(gunzip; psql < file), which restores single-threaded, without
    ON_ERROR_STOP and into the live database.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.postgres
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Resolves the backup, checks the versions and the target, and reports the planned action
        (create, swap, or refusal) without reading the whole backup or touching a database.
  diff_mode:
    support: none
options:
  path:
    description:
      - The backup file (made by M(dsr.ops.pg_backup), with its manifest beside it).
      - Exclusive with O(backup_dir).
    type: path
  backup_dir:
    description:
      - Restore the newest backup of O(database) found in this directory.
    type: path
  database:
    description:
      - With O(backup_dir), the database whose newest backup to restore.
    type: str
  target_database:
    description:
      - The database to restore into. Defaults to the database the backup was made from.
      - At most 63 bytes (PostgreSQL's limit; a longer name is refused rather than silently truncated).
    type: str
  carry_properties:
    description:
      - When the restore creates O(target_database), give it the owner, database-level GRANTs, C(ALTER DATABASE ... SET)
        and C(ALTER ROLE ... IN DATABASE ... SET) settings, connection limit and comment the source database had when it
        was backed up (M(dsr.ops.pg_backup) records them in the manifest), in the same transaction as the rename.
        Roles this server does not have are left out with a warning (restore the globals first, O(globals=true)).
      - V(false) leaves the new database owned by the login role, as C(CREATE DATABASE) would.
      - A swap always carries over the properties of the database it replaces.
      - A backup made by an older version records none; the task then warns and the login role owns the database.
    type: bool
    default: true
  allow_other_database:
    description:
      - Allow an existing O(target_database) that holds anything to be replaced by a backup of a database with another name
        (the manifest's C(database)). Off by default, so that a wrong O(path) cannot swap, say, a test database's backup over
        the registry.
      - Restoring into a new (or an empty) database of any name needs no such permission.
      - When the backup holds less than half the tables of the database it replaces, the task warns either way.
    type: bool
    default: false
  state:
    description:
      - V(restored) restores. V(aside_dropped) drops the databases kept aside by earlier swaps of
        O(target_database), and restores nothing.
    type: str
    choices: [restored, aside_dropped]
    default: restored
  swap:
    description:
      - Allow replacing an existing database that holds anything, through the atomic swap described above.
    type: bool
    default: false
  terminate_connections:
    description:
      - During a swap, terminate sessions connected to the target right before the one transaction that swaps; a
        client that reconnects in between makes that transaction fail harmlessly, and it is tried again for up to 30 s.
      - Without it, connected sessions fail the swap before anything is renamed.
    type: bool
    default: false
  jobs:
    description: Parallel jobs for C(pg_restore), ANALYZE and the row counts.
    type: int
    default: 2
  temp_dir:
    description:
      - Directory for the decompressed temporary copy (the raw dump size). Defaults to the backup's directory.
    type: path
  globals:
    description:
      - Replay the backup's globals dump (roles, tablespaces) with psql before restoring. Roles that
        already exist are counted in RV(globals_existing_errors); any other error fails.
    type: bool
    default: false
  no_owner:
    description:
      - Restore without owners and privileges (C(--no-owner --no-privileges)), for a server lacking the roles.
    type: bool
    default: false
  pg_bin_dir:
    description:
      - Directory holding C(pg_restore), C(vacuumdb) and C(psql). Defaults to the newest C(/usr/lib/postgresql/*/bin), then E(PATH).
    type: path
notes:
  - The module connects to O(login_db) (default V(postgres)) to create, rename and drop databases, so the
    login role needs CREATEDB and must own the target (or be a superuser) for a swap. O(login_db) must not be
    the target itself (a database cannot be renamed while the restore is connected to it); that is refused up front.
  - The manifest is untrusted input and its schema is checked first; a malformed manifest given by O(path) fails the
    task before any database is touched, and with O(backup_dir) malformed manifests are skipped with a warning.
  - The row counts compared are exact counts taken in the backup's own snapshot (see M(dsr.ops.pg_backup)).
seealso:
  - module: dsr.ops.pg_backup
  - module: dsr.ops.pg_backup_verify
'''

EXAMPLES = r'''
- name: Restore the newest backup into a new database for inspection
  dsr.ops.pg_restore:
    backup_dir: /backups/dsr_db
    database: dsr_db
    target_database: dsr_db_inspect

- name: Replace the live registry with a named backup, keeping the current one aside
  dsr.ops.pg_restore:
    path: /backups/dsr_db/dsr_db_20261127T020000Z.dump.zst
    target_database: dsr_db
    swap: true
    terminate_connections: true
  register: restored

- name: Once the restore is accepted, drop the database kept aside
  dsr.ops.pg_restore:
    target_database: dsr_db
    state: aside_dropped
'''

RETURN = r'''
backup_path:
  description: The backup restored.
  returned: state=restored
  type: str
  sample: /backups/dsr_db/dsr_db_20261127T020000Z.dump.zst
backup_started_at:
  description: When that backup was taken, which is the age of the restored data.
  returned: state=restored
  type: str
  sample: "2026-11-27T02:00:00+00:00"
target_database:
  description: The database restored into (or whose aside copies were dropped).
  returned: always
  type: str
  sample: dsr_db
action:
  description: V(create) (the target did not exist), V(swap), or V(replace_empty).
  returned: state=restored
  type: str
  sample: swap
aside_database:
  description: Where the replaced database is kept, after a swap.
  returned: state=restored, not in check mode
  type: str
  sample: dsr_db_before_restore_20261127T093012
validation:
  description: C(tables) compared, C(mismatches) (each C(table), C(expected), C(found)) and C(status).
  returned: state=restored, not in check mode
  type: dict
  sample: {tables: 8, mismatches: [], status: ok}
verify_seconds:
  description: Time to check the SHA-256 while decompressing.
  returned: state=restored, not in check mode
  type: float
  sample: 3.1
restore_seconds:
  description: Time taken by C(pg_restore).
  returned: state=restored, not in check mode
  type: float
  sample: 41.7
analyze_seconds:
  description: Time taken by ANALYZE.
  returned: state=restored, not in check mode
  type: float
  sample: 2.2
count_seconds:
  description: Time taken by the row counts.
  returned: state=restored, not in check mode
  type: float
  sample: 1.9
swap_seconds:
  description: Time taken by the rename or swap.
  returned: state=restored, not in check mode
  type: float
  sample: 0.2
duration_seconds:
  description: Total time.
  returned: state=restored, not in check mode
  type: float
  sample: 49.3
data_age_seconds:
  description: Age of the restored data (now minus the backup's start).
  returned: state=restored, not in check mode
  type: float
  sample: 27012
removed_stale_temp_files:
  description:
    - Temporary files that killed earlier runs left (decompressed copies of backups of this database in the temporary
      directory), removed by this run.
    - A file is removed only when no live run holds its lock and the process named in it is gone, so another run's work
      in progress is never touched.
  returned: state=restored, not in check mode
  type: list
  elements: str
  sample: []
dropped_stale_scratch_databases:
  description: Scratch databases of killed earlier runs that were dropped.
  returned: state=restored, not in check mode
  type: list
  elements: str
  sample: []
dropped:
  description: Databases dropped by O(state=aside_dropped) (that would be, in check mode).
  returned: state=aside_dropped
  type: list
  elements: str
  sample: [dsr_db_before_restore_20261127T093012]
globals_existing_errors:
  description: Roles or tablespaces of the globals dump that already existed.
  returned: when O(globals=true)
  type: int
  sample: 4
commands:
  description: The commands and SQL run, in order. They never hold a password.
  returned: state=restored, not in check mode
  type: list
  elements: str
  sample: ["/usr/lib/postgresql/15/bin/pg_restore --no-password --exit-on-error --jobs=2 --dbname=dsr_ops_scratch_dsr_db_... /backups/..."]
pg_restore_version:
  description: C(pg_restore --version) output.
  returned: state=restored
  type: str
  sample: pg_restore (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
manifest_sha256:
  description: The SHA-256 the backup was checked against.
  returned: state=restored
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule, reason
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupError
from ansible_collections.dsr.ops.plugins.module_utils._backup.restore import RestoreRun
from ansible_collections.dsr.ops.plugins.module_utils._options import empty_problems
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (
    PostgresError,
    identifier_problems,
    postgres_argument_spec,
    validate_connection_params,
)


def argument_spec():
    """Connection options plus which backup, where to, and how."""
    spec = postgres_argument_spec()
    spec.update(
        path=dict(type='path'),
        backup_dir=dict(type='path'),
        database=dict(type='str'),
        target_database=dict(type='str'),
        state=dict(type='str', choices=['restored', 'aside_dropped'], default='restored'),
        swap=dict(type='bool', default=False),
        terminate_connections=dict(type='bool', default=False),
        jobs=dict(type='int', default=2),
        temp_dir=dict(type='path'),
        globals=dict(type='bool', default=False),
        no_owner=dict(type='bool', default=False),
        allow_other_database=dict(type='bool', default=False),
        carry_properties=dict(type='bool', default=True),
        pg_bin_dir=dict(type='path'),
    )
    return spec


def validate(params):
    """Messages for options that cannot work, each naming the option and the fix."""
    problems = validate_connection_params(params)
    problems += empty_problems(params, ('path', 'backup_dir', 'temp_dir', 'pg_bin_dir'))
    problems += identifier_problems(params, ('database', 'target_database'))
    if params['state'] == 'restored' and not (params['path'] or params['backup_dir']):
        problems.append('give path (a backup file) or backup_dir and database (its newest backup)')
    if params['jobs'] < 1:
        problems.append('jobs must be at least 1, got %d' % params['jobs'])
    return problems


def main():
    module = DsrModule(
        argument_spec(),
        mutually_exclusive=[('path', 'backup_dir')],
        required_together=[('backup_dir', 'database')],
        libraries=lambda params: ['psycopg2'] + (['zstandard'] if params['state'] == 'restored' else []),
        validate=validate,
    )
    params = module.params
    run = RestoreRun(params, check_mode=module.check_mode)

    def failure(exc):
        if params['state'] == 'aside_dropped':
            return reason(exc)
        if run.target_changed:
            return {'msg': 'restore completed the swap but then failed: %s' % reason(exc), 'changed': True, 'commands': run.commands}
        return {'msg': 'restore failed, no database was changed: %s' % reason(exc), 'changed': False, 'commands': run.commands}

    result = module.run(run.run, (BackupError, PostgresError, OSError), failure)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
