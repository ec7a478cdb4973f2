# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options that say where the history and incident state live, shared by ops_history and ops_incident."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec
from ansible_collections.dsr.ops.plugins.module_utils._ops.store import DirectoryStore, PostgresStore
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (Connector, identifier_problem, postgres_argument_spec,
                                                                                   validate_connection_params)

DEFAULT_DATABASE = 'dsr_ops'


def store_argument_spec():
    """The PostgreSQL connection options plus backend, directory, schema, create_schema, registry_database, keep_days, now."""
    spec = postgres_argument_spec()
    spec.update(
        backend=dict(type='str', choices=['postgresql', 'directory'], default='postgresql'),
        directory=dict(type='path'),
        schema=dict(type='str', default='dsr_ops'),
        create_schema=dict(type='bool', default=True),
        registry_database=dict(type='list', elements='str', default=['dsr_db']),
        keep_days=dict(type='int', default=90),
        now=dict(type='str'),
    )
    return spec


def libraries(params):
    """The driver only for the PostgreSQL backend."""
    return ['psycopg2'] if params['backend'] == 'postgresql' else []


def parse_now(value, option):
    try:
        return rec.parse_time(value, option)
    except rec.RecordError as exc:
        raise ValueError(str(exc)) from None


def parse_records(value, option):
    try:
        return rec.validate_all(value, option)
    except rec.RecordError as exc:
        raise ValueError('%s; fix the record or leave it out' % exc) from None


def store_problems(params):
    """Messages naming the option and the fix (login_db defaults to dsr_ops here)."""
    problems = []
    if params['backend'] == 'directory':
        if not params['directory']:
            problems.append('backend=directory needs directory (the path of the history directory)')
    else:
        params['login_db'] = params['login_db'] or DEFAULT_DATABASE
        if params['login_db'] in params['registry_database']:
            problems.append('login_db is %s, the registry\'s own database (registry_database): keep the history in an operations '
                            'database (default %s) or another schema of a separate database' % (params['login_db'], DEFAULT_DATABASE))
        problem = identifier_problem('schema', params['schema'])
        if problem:
            problems.append(problem)
        problems.extend(validate_connection_params(params))
    if params['keep_days'] < 0:
        problems.append('keep_days must be 0 (keep everything) or more, got %d' % params['keep_days'])
    return problems


def make_store(params, check_mode):
    if params['backend'] == 'directory':
        return DirectoryStore(params['directory'], check_mode=check_mode)
    return PostgresStore(Connector(params), params['schema'], params['create_schema'], check_mode=check_mode)
