# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.pg_maintenance as a Check: its options and its run, for the module and for dsr.ops.ops_checks."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._module import Check, expect, reason
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (
    Connector,
    PostgresError,
    postgres_argument_spec,
    validate_connection_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._postgres.maintenance import (
    DEFAULTS,
    OPERATIONS,
    REPORTS,
    Maintenance,
    validate_options,
)

LIBRARIES = ['psycopg2']


def argument_spec():
    """The module's options: connection options plus operation, scope, guards and reports."""
    spec = postgres_argument_spec()
    spec.update(
        operation=dict(type='str', choices=list(OPERATIONS), default=DEFAULTS['operation']),
        tables=dict(type='list', elements='str'),
        schemas=dict(type='list', elements='str'),
        concurrently=dict(type='bool', default=DEFAULTS['concurrently']),
        lock_timeout=dict(type='str', default=DEFAULTS['lock_timeout']),
        statement_timeout=dict(type='str', default=DEFAULTS['statement_timeout']),
        continue_on_error=dict(type='bool', default=DEFAULTS['continue_on_error']),
        reports=dict(type='list', elements='str', choices=list(REPORTS), default=list(REPORTS)),
        top_n=dict(type='int', default=DEFAULTS['top_n']),
        dead_tuple_ratio=dict(type='float', default=DEFAULTS['dead_tuple_ratio']),
        min_dead_tuples=dict(type='int', default=DEFAULTS['min_dead_tuples']),
        include_query_text=dict(type='bool', default=DEFAULTS['include_query_text']),
    )
    return spec


def validate(params):
    """Connection problems and maintenance options that cannot work."""
    return validate_connection_params(params) + validate_options(params)


def run(params, check_mode, libraries):
    """Plan and (unless in check mode) run the operation, then the reports: the module's result.

    ``changed`` is the operation's: true when a statement ran (or, in check mode, would
    run). ``msg`` is the summary and ``failed`` whether a statement failed: both are the gate's.
    """
    runner = Maintenance(params, check_mode=check_mode)
    # an error raised before any maintenance statement ran: names, settings, connection
    return expect(lambda: runner.run(Connector(params)), (PostgresError,), reason, libraries)


def gate_result(result, dummy_params):
    """The summary as the failure message when a maintenance statement failed, or None.

    Takes ``failed`` out of ``result`` and, on failure, the summary too: the module fails
    with it as ``msg`` and the rest of the result, or exits with the summary as ``msg``,
    as it always has.
    """
    if result.pop('failed'):
        return result.pop('msg')
    return None


CHECK = Check('pg_maintenance', argument_spec, run, gate_result, libraries=LIBRARIES, validate=validate,
              mutually_exclusive=[('tables', 'schemas')])
