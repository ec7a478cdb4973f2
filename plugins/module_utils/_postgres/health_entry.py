# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.pg_health as a Check: its options and its run, for the module and for dsr.ops.ops_checks."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._module import Check, expect, reason
from ansible_collections.dsr.ops.plugins.module_utils._status import FAIL_ON_CHOICES, ThresholdError, gate, validate_thresholds
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (
    Connector,
    postgres_argument_spec,
    validate_connection_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._postgres.health import CHECKS, DEFAULTS, HealthCheck, StateFileError

LIBRARIES = ['psycopg2']

# statement_timeout is an int of milliseconds on the server
QUERY_TIMEOUT_MAX = 2147483

# (threshold prefix, comparison) pairs validated before connecting
_THRESHOLD_PAIRS = (
    ('connect_seconds', 'gt'),
    ('connections', 'gt'),
    ('long_query_seconds', 'gt'),
    ('long_transaction_seconds', 'gt'),
    ('lock_wait_seconds', 'gt'),
    ('replication_lag_bytes', 'gt'),
    ('replication_lag_seconds', 'gt'),
    ('slot_retained_bytes', 'gt'),
    ('xid_age', 'gt'),
    ('cache_hit_ratio', 'lt'),
    ('database_size_bytes', 'gt'),
)


def argument_spec():
    """The module's options: connection options plus checks and thresholds."""
    spec = postgres_argument_spec()
    spec.update(
        checks=dict(type='list', elements='str', choices=list(CHECKS), default=list(CHECKS)),
        fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'),
        connect_seconds_warning=dict(type='float', default=DEFAULTS['connect_seconds_warning']),
        connect_seconds_critical=dict(type='float', default=DEFAULTS['connect_seconds_critical']),
        connections_unit=dict(type='str', choices=['percent', 'count'], default='percent'),
        connections_warning=dict(type='float', default=DEFAULTS['connections_warning']),
        connections_critical=dict(type='float', default=DEFAULTS['connections_critical']),
        long_query_seconds_warning=dict(type='float', default=DEFAULTS['long_query_seconds_warning']),
        long_query_seconds_critical=dict(type='float', default=DEFAULTS['long_query_seconds_critical']),
        long_transaction_seconds_warning=dict(type='float', default=DEFAULTS['long_transaction_seconds_warning']),
        long_transaction_seconds_critical=dict(type='float', default=DEFAULTS['long_transaction_seconds_critical']),
        lock_wait_seconds_warning=dict(type='float', default=DEFAULTS['lock_wait_seconds_warning']),
        lock_wait_seconds_critical=dict(type='float', default=DEFAULTS['lock_wait_seconds_critical']),
        replication_lag_bytes_warning=dict(type='bytes', default='64MB'),
        replication_lag_bytes_critical=dict(type='bytes', default='1GB'),
        replication_lag_seconds_warning=dict(type='float', default=DEFAULTS['replication_lag_seconds_warning']),
        replication_lag_seconds_critical=dict(type='float', default=DEFAULTS['replication_lag_seconds_critical']),
        expect_standbys=dict(type='int'),
        slot_retained_bytes_warning=dict(type='bytes', default='1GB'),
        slot_retained_bytes_critical=dict(type='bytes', default='10GB'),
        xid_age_warning=dict(type='int', default=DEFAULTS['xid_age_warning']),
        xid_age_critical=dict(type='int', default=DEFAULTS['xid_age_critical']),
        cache_hit_ratio_warning=dict(type='float', default=DEFAULTS['cache_hit_ratio_warning']),
        cache_hit_ratio_critical=dict(type='float', default=DEFAULTS['cache_hit_ratio_critical']),
        cache_hit_min_blocks=dict(type='int', default=DEFAULTS['cache_hit_min_blocks']),
        database_size_bytes_warning=dict(type='bytes'),
        database_size_bytes_critical=dict(type='bytes'),
        databases=dict(type='list', elements='str'),
        primary_host=dict(type='str'),
        primary_port=dict(type='int'),
        state_file=dict(type='path'),
        include_query_text=dict(type='bool', default=False),
        query_timeout=dict(type='int', default=DEFAULTS['query_timeout']),
    )
    return spec


def validate(params):
    """Return messages for option values that cannot work, naming the option and the fix."""
    problems = validate_connection_params(params)
    for prefix, comparison in _THRESHOLD_PAIRS:
        try:
            validate_thresholds(prefix, params[prefix + '_warning'], params[prefix + '_critical'], comparison)
        except ThresholdError as exc:
            problems.append('%s_warning/%s_critical: %s' % (prefix, prefix, str(exc).split(': ', 1)[1]))
    if params['connections_unit'] == 'percent':
        for name in ('connections_warning', 'connections_critical'):
            if not 0 <= params[name] <= 100:
                problems.append('%s is a percent of max_connections (connections_unit=percent) and must be between 0 and 100, got %s; '
                                'set connections_unit=count for absolute counts' % (name, params[name]))
    if params['query_timeout'] < 1 or params['query_timeout'] > QUERY_TIMEOUT_MAX:
        problems.append('query_timeout must be at least 1 second and at most %d (the limit of statement_timeout), got %d'
                        % (QUERY_TIMEOUT_MAX, params['query_timeout']))
    if params['expect_standbys'] is not None and params['expect_standbys'] < 0:
        problems.append('expect_standbys must be 0 or more, got %d' % params['expect_standbys'])
    return problems


def run(params, check_mode, libraries):
    """Run the sub-checks and, unless in check mode, write the state file: the module's result."""
    checker = HealthCheck(params)

    def check():
        result = checker.run(Connector(params))
        result['state_file_written'] = False if check_mode else checker.write_state()
        return result

    # connection and query failures are findings of the check (reachability, unknown sub-checks), not errors
    result = expect(check, (StateFileError,), reason, libraries)
    result['changed'] = False
    return result


def gate_result(result, params):
    """The failure message for fail_on."""
    return gate(result, params['fail_on'], 'PostgreSQL health is')


CHECK = Check('pg_health', argument_spec, run, gate_result, libraries=LIBRARIES, validate=validate)
