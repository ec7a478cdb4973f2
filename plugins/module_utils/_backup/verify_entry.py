# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.pg_backup_verify as a Check: its options and its run, for the module and for dsr.ops.ops_checks."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._module import Check, expect, reason
from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupError
from ansible_collections.dsr.ops.plugins.module_utils._backup.verify import Verification
from ansible_collections.dsr.ops.plugins.module_utils._options import empty_problems
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (
    PostgresError,
    identifier_problems,
    postgres_argument_spec,
    validate_connection_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._status import FAIL_ON_CHOICES, gate

CONVERT = {'max_age': parse_duration}


def argument_spec():
    """Connection options (for the restore test) plus what to verify and how."""
    spec = postgres_argument_spec()
    spec.update(
        path=dict(type='path'),
        backup_dir=dict(type='path'),
        database=dict(type='str'),
        max_age=dict(type='str'),
        decompress=dict(type='bool', default=True),
        restore_test=dict(type='bool', default=False),
        jobs=dict(type='int', default=2),
        temp_dir=dict(type='path'),
        record=dict(type='bool', default=True),
        fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'),
        pg_bin_dir=dict(type='path'),
    )
    return spec


def libraries(params):
    """The driver only for the restore test (nothing else connects); zstandard whenever the file is read."""
    return (['zstandard'] if params['decompress'] else []) + (['psycopg2'] if params['restore_test'] else [])


def validate(params):
    """Messages for options that cannot work, each naming the option and the fix."""
    problems = validate_connection_params(params)
    problems += empty_problems(params, ('path', 'backup_dir', 'temp_dir', 'pg_bin_dir'))
    problems += identifier_problems(params, ('database',))
    if params['jobs'] < 1:
        problems.append('jobs must be at least 1, got %d' % params['jobs'])
    return problems


def describe(exc):
    """An error that stopped the verification: fail_json keywords, the status unknown."""
    return {'msg': 'verification could not run: %s' % reason(exc), 'status': 'unknown', 'changed': False}


def run(params, check_mode, used_libraries):
    """Verify the backup (and record the verification unless in check mode): the module's result."""
    return expect(lambda: Verification(params, check_mode=check_mode).run(), (BackupError, PostgresError, OSError), describe, used_libraries)


def gate_result(result, params):
    """The failure message for fail_on."""
    return gate(result, params['fail_on'], 'backup verification is')


CHECK = Check('pg_backup_verify', argument_spec, run, gate_result, libraries=libraries, convert=CONVERT, validate=validate,
              mutually_exclusive=[('path', 'backup_dir')],
              required_one_of=[('path', 'backup_dir')],
              required_together=[('backup_dir', 'database')])
