# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.k8s_health as a Check: its options and its run, for the module and for dsr.ops.ops_checks."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._k8s.client import (
    K8sClient, K8sError, kubernetes_argument_spec, resolve_environment, validate_connection_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._k8s.health import DEFAULT_NAMESPACE, DEFAULT_WORKLOADS, HealthRun, normalize_workloads
from ansible_collections.dsr.ops.plugins.module_utils._module import Check, expect
from ansible_collections.dsr.ops.plugins.module_utils._status import FAIL_ON_CHOICES, gate

LIBRARIES = ['kubernetes']

CONVERT = {name: parse_duration for name in ('restart_window', 'pending_max_age', 'not_ready_grace', 'backup_max_age')}


def argument_spec():
    """The module's options: the Kubernetes connection plus what to check."""
    spec = kubernetes_argument_spec()
    spec.update(
        namespace=dict(type='str', default=DEFAULT_NAMESPACE),
        workloads=dict(type='list', elements='raw'),
        scaled_to_zero=dict(type='str', choices=['ok', 'warning', 'critical'], default='critical'),
        restart_window=dict(type='str', default='1h'),
        restarts_warning=dict(type='int', default=1),
        restarts_critical=dict(type='int', default=5),
        oom_killed=dict(type='str', choices=['ok', 'warning', 'critical'], default='warning'),
        pending_max_age=dict(type='str', default='5m'),
        not_ready_grace=dict(type='str', default='2m'),
        ingress=dict(type='bool', default=True),
        ingresses=dict(type='list', elements='str'),
        backup_cronjob=dict(type='str', default='postgresql-backup'),
        backup_max_age=dict(type='str', default='26h'),
        nodes=dict(type='bool', default=True),
        logs=dict(type='str', choices=['failing', 'none'], default='failing'),
        log_lines=dict(type='int', default=10),
        log_bytes=dict(type='int', default=8192),
        log_pods=dict(type='int', default=10),
        fail_on=dict(type='str', choices=list(FAIL_ON_CHOICES), default='critical'),
    )
    return spec


def validate(params):
    """Messages naming the option and the fix."""
    problems = validate_connection_params(params)
    workloads, workload_problems = normalize_workloads(params['workloads'] if params['workloads'] is not None else list(DEFAULT_WORKLOADS))
    problems.extend(workload_problems)
    params['workloads'] = workloads
    if not params['namespace'] or not params['namespace'].strip():
        problems.append('namespace is empty: give the namespace of the DSR environment (default dsr-production)')
    for option, low in (('restarts_warning', 1), ('restarts_critical', 1), ('log_lines', 1), ('log_bytes', 256), ('log_pods', 0)):
        if params[option] < low:
            problems.append('%s must be at least %d, got %d' % (option, low, params[option]))
    if params['restarts_critical'] < params['restarts_warning']:
        problems.append('restarts_critical (%d) must not be lower than restarts_warning (%d)' % (params['restarts_critical'], params['restarts_warning']))
    return problems


def run(params, dummy_check_mode, libraries):
    """Connect and judge the namespace: the module's result (read-only, ``changed`` false)."""
    client = expect(lambda: K8sClient.from_params(params), (K8sError,), str, libraries)
    try:
        return HealthRun(client, params).run()
    finally:
        client.close()


def gate_result(result, params):
    """The failure message for fail_on; an unreachable API server is named with its error."""
    failure = gate(result, params['fail_on'], 'Kubernetes health of %s is' % params['namespace'])
    if failure and result['error']:
        failure = 'Kubernetes health of %s is unknown: %s' % (params['namespace'], result['error'])
    return failure


CHECK = Check('k8s_health', argument_spec, run, gate_result, libraries=LIBRARIES, convert=CONVERT, validate=validate,
              secrets_from_environment=resolve_environment)
