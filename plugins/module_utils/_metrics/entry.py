# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.metrics_check as a Check: its options and its run, for the module and for dsr.ops.ops_checks."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._module import Check
from ansible_collections.dsr.ops.plugins.module_utils._status import FAIL_ON_CHOICES, gate
from ansible_collections.dsr.ops.plugins.module_utils._metrics.checks import (
    DEFAULT_MAX_SERIES,
    DEFAULT_WINDOW,
    OUTCOMES,
    CheckDefinitionError,
    resolve_checks,
    run_checks,
)
from ansible_collections.dsr.ops.plugins.module_utils._metrics.prometheus import (
    PrometheusClient,
    prometheus_argument_spec,
    resolve_credentials,
    validate_connection_params,
)


def argument_spec():
    """The module's options: Prometheus connection options plus the checks."""
    spec = prometheus_argument_spec()
    spec.update(
        checks=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            query=dict(type='str'),
            comparison=dict(type='str', choices=['gt', 'ge', 'lt', 'le']),
            warning=dict(type='float'),
            critical=dict(type='float'),
            on_empty=dict(type='str', choices=list(OUTCOMES)),
            on_nan=dict(type='str', choices=list(OUTCOMES)),
            unit=dict(type='str'),
            description=dict(type='str'),
        )),
        rate_window=dict(type='str', default=DEFAULT_WINDOW),
        max_series=dict(type='int', default=DEFAULT_MAX_SERIES),
        fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'),
    )
    return spec


def validate(params):
    """Connection problems, check definitions that cannot run and a max_series below 1."""
    problems = validate_connection_params(params)
    try:
        resolve_checks(params['checks'], params['rate_window'])
    except CheckDefinitionError as exc:
        problems.append(str(exc))
    if params['max_series'] < 1:
        problems.append('max_series must be at least 1, got %d' % params['max_series'])
    return problems


def run(params, dummy_check_mode, dummy_libraries):
    """Query Prometheus for every check: the module's result; the API's warnings prefixed 'Prometheus: '."""
    checks = resolve_checks(params['checks'], params['rate_window'])
    client = PrometheusClient.from_params(params)
    try:
        result = run_checks(client, checks, params['max_series'])
    finally:
        client.close()
    result['prometheus_url'] = params['url']
    result['warnings'] = ['Prometheus: %s' % warning for warning in result['api_warnings']]
    result['changed'] = False
    return result


def gate_result(result, params):
    """The failure message for fail_on."""
    return gate(result, params['fail_on'], 'metrics are')


CHECK = Check('metrics_check', argument_spec, run, gate_result, validate=validate, secrets_from_environment=resolve_credentials)
