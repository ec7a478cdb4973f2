# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.k8s_health as a process against the Kubernetes API stub (tests/harness/k8s_stub.py), over HTTPS with a bearer token.

The stub is a stub: it serves what the real API server serves for these reads
(shapes built with the kubernetes client's own models), nothing more. The
scenarios are the runbook's failure modes; each test asserts the verdict, the
words and the requests the module sent.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import COLLECTION, k8s_stub_server

sys.path.insert(0, str(COLLECTION / 'tests' / 'harness'))

import dsr_harness  # noqa: E402  pylint: disable=wrong-import-position

TOKEN = 'k8s-health-test-token-7c1f0e9a4b'
NAMESPACE = 'dsr-production'
SERVICES = ('registration-service', 'data-management-service', 'eligibility-service', 'interoperability-service', 'payment-service',
            'grievance-service', 'analytics-service', 'dsr-frontend', 'postgresql')


@pytest.fixture(scope='module')
def stub(tmp_path_factory):
    server = k8s_stub_server(tmp_path_factory, TOKEN, 'healthy', 'k8s')
    yield server
    server.stop()


@pytest.fixture
def scenario(stub):
    """``scenario(*names)`` loads the fixtures with those scenarios, clears faults and the request log."""
    def load(*names):
        stub.load_scenario(list(names) or ['healthy'])
        stub.clear_faults()
        stub.reset_requests()
        return stub
    return load


def args(stub, **extra):
    values = {'host': stub.url, 'api_key': TOKEN, 'ca_cert': stub.ca_cert}
    values.update(extra)
    return values


def statuses(result):
    return {name: check['status'] for name, check in result['checks'].items()}


def test_a_healthy_namespace_is_ok_in_ten_list_calls(scenario, run_module):
    stub = scenario('healthy')
    result = run_module('k8s_health', args(stub))
    assert result.get('failed') is not True, result.get('msg')
    assert result['status'] == 'ok', statuses(result)
    assert set(result['checks']) == set(SERVICES) | {'ingress', 'backup_job', 'nodes'}
    assert result['workloads']['postgresql']['kind'] == 'StatefulSet'
    assert result['workloads']['payment-service']['kind'] == 'Deployment'
    assert all(entry['ready_endpoints'] for name in SERVICES for entry in result['workloads'][name]['services']), result['workloads']
    assert result['problem_pods'] == [] and result['logs'] == []
    # what the module counted is what the stub received: one list call per kind, whatever the number of workloads
    received = stub.requests()
    assert result['api_requests'] == len(received) == 10
    assert sorted(entry['path'] for entry in received) == sorted(request.split(' ')[1].split('?')[0] for request in result['requests'])
    assert {entry['method'] for entry in received} == {'GET'}
    assert TOKEN not in repr(result)


def test_the_call_count_does_not_grow_with_the_workloads(scenario, run_module):
    stub = scenario('healthy')
    one = run_module('k8s_health', args(stub, workloads=['payment-service']))
    stub.reset_requests()
    many = run_module('k8s_health', args(stub, workloads=list(SERVICES)))
    assert one['api_requests'] == many['api_requests'] == 10
    assert len(stub.requests()) == 10


def test_crash_loop_is_critical_with_the_previous_logs_of_every_pod(scenario, run_module):
    stub = scenario('crash_loop')
    result = run_module('k8s_health', args(stub, fail_on='never'))
    check = result['checks']['payment-service']
    assert check['status'] == 'critical'
    assert 'CrashLoopBackOff' in check['msg'] and '17 restarts' in check['msg']
    assert statuses(result)['registration-service'] == 'ok'
    crashing = [pod for pod in result['problem_pods'] if pod['workload'] == 'payment-service']
    assert len(crashing) == result['workloads']['payment-service']['pods'] >= 2
    logs = [entry for entry in result['logs'] if entry['pod'].startswith('payment-service')]
    # every crashing pod's log, not the first pod's only, and the crashed (previous) instance
    assert sorted(entry['pod'] for entry in logs) == sorted(pod['name'] for pod in crashing)
    assert all(entry['previous'] is True for entry in logs)
    assert all(any('password authentication failed' in line for line in entry['lines']) for entry in logs), logs
    log_requests = [entry for entry in stub.requests() if entry['path'].endswith('/log')]
    assert len(log_requests) == len(logs)
    assert all('previous=true' in entry['query'] and 'tailLines=10' in entry['query'] for entry in log_requests), log_requests
    assert result['api_requests'] == 10 + len(logs)


def test_oom_kills_show_in_the_crash_loop(scenario, run_module):
    result = run_module('k8s_health', args(scenario('crash_loop_oom'), fail_on='never'))
    assert result['checks']['payment-service']['status'] == 'critical'
    assert 'OOMKilled (exit code 137)' in result['checks']['payment-service']['msg']
    assert any('OutOfMemoryError' in line for entry in result['logs'] for line in entry['lines'])


@pytest.mark.parametrize('name, reason', [('image_pull', 'ImagePullBackOff'), ('err_image_pull', 'ErrImagePull')])
def test_image_pull_failures_are_critical(scenario, run_module, name, reason):
    result = run_module('k8s_health', args(scenario(name), fail_on='never'))
    check = result['checks']['eligibility-service']
    assert check['status'] == 'critical' and reason in check['msg'], check
    failing = [entry for entry in result['logs'] if entry['pod'].startswith('eligibility-service')]
    # a container that never started has no previous instance to read
    assert failing and all(entry['previous'] is False for entry in failing)


def test_a_stuck_rollout_is_critical(scenario, run_module):
    result = run_module('k8s_health', args(scenario('rollout_stuck'), fail_on='never'))
    check = result['checks']['grievance-service']
    assert check['status'] == 'critical'
    assert 'progress deadline exceeded' in check['msg']


def test_an_unobserved_generation_is_a_warning_not_an_ok(scenario, run_module):
    result = run_module('k8s_health', args(scenario('generation_not_observed'), fail_on='never'))
    check = result['checks']['analytics-service']
    assert check['status'] == 'warning'
    assert 'not yet observed by its controller' in check['msg']
    assert result['workloads']['analytics-service']['generation'] > result['workloads']['analytics-service']['observed_generation']


def test_scaled_to_zero(scenario, run_module):
    stub = scenario('scaled_to_zero')
    result = run_module('k8s_health', args(stub, fail_on='never'))
    assert result['checks']['interoperability-service']['status'] == 'critical'
    assert 'scaled to zero' in result['checks']['interoperability-service']['msg']
    relaxed = run_module('k8s_health', args(stub, fail_on='never', scaled_to_zero='ok', workloads=['interoperability-service']))
    assert relaxed['checks']['interoperability-service']['status'] == 'ok'


def test_a_missing_workload_is_critical_and_fails_the_task(scenario, run_module):
    result = run_module('k8s_health', args(scenario('workload_missing')))
    assert result['failed'] is True
    assert result['checks']['data-management-service']['status'] == 'critical'
    assert result['checks']['data-management-service']['msg'] == \
        'not found: no Deployment or StatefulSet or DaemonSet named data-management-service in namespace dsr-production'
    assert 'data-management-service' in result['failed_checks']
    assert result['msg'].startswith('Kubernetes health of dsr-production is critical')


def test_pending_pods_and_not_ready_nodes(scenario, run_module):
    pending = run_module('k8s_health', args(scenario('pod_pending'), fail_on='never'))
    check = pending['checks']['registration-service']
    assert check['status'] == 'warning' and 'Pending for 3h' in check['msg'] and 'Insufficient memory' in check['msg'], check
    assert not [entry for entry in pending['logs'] if entry['pod'].startswith('registration-service')], 'a Pending pod has no log'
    node = run_module('k8s_health', args(scenario('node_not_ready'), fail_on='never'))
    assert node['checks']['nodes']['status'] == 'warning' and node['checks']['nodes']['not_ready'] == ['dsr-node-3']
    on_node = [pod for pod in node['problem_pods'] if pod['node'] == 'dsr-node-3']
    assert on_node and all(pod['status'] == 'critical' for pod in on_node)


def test_backup_job_failed_and_stale(scenario, run_module):
    # last night's run failed, so the last success is the night before's: at least 24 h 3 min old whatever the time of day
    # (with the default 26 h it is younger than that until about 04:00 UTC, and the verdict is then only the failed run)
    failed = run_module('k8s_health', args(scenario('backup_failed'), fail_on='never', backup_max_age='24h'))
    check = failed['checks']['backup_job']
    assert check['status'] == 'critical', check
    assert 'BackoffLimitExceeded' in check['msg'] and 'the last successful run of postgresql-backup was' in check['msg'], check
    assert [entry['reason'] for entry in check['failed_since_success']] == ['BackoffLimitExceeded']
    younger = run_module('k8s_health', args(scenario('backup_failed'), fail_on='never', backup_max_age='3d', workloads=['postgresql']))
    assert younger['checks']['backup_job']['status'] == 'warning', younger['checks']['backup_job']
    assert younger['checks']['backup_job']['msg'].startswith('1 failed runs since the last success')
    stale = run_module('k8s_health', args(scenario('backup_stale'), fail_on='never'))
    check = stale['checks']['backup_job']
    assert check['status'] == 'critical'
    assert 'suspended' in check['msg'] and 'max 26h00m' in check['msg'], check


def test_rbac_refusals_are_unknown_naming_what_was_refused(scenario, run_module):
    stub = scenario('healthy')
    stub.set_faults(forbid=[{'verb': 'list', 'resource': 'statefulsets'}, {'verb': 'list', 'resource': 'nodes'}])
    result = run_module('k8s_health', args(stub, fail_on='never'))
    assert result['checks']['postgresql']['status'] == 'unknown'
    assert 'list statefulsets.apps in namespace dsr-production refused: 403 Forbidden' in result['checks']['postgresql']['msg']
    assert 'cannot list resource \\"statefulsets\\"' in repr(result['checks']['postgresql']['msg']) or \
        'cannot list resource "statefulsets"' in result['checks']['postgresql']['msg']
    assert result['checks']['payment-service']['status'] == 'ok'
    assert result['checks']['nodes']['status'] == 'unknown' and 'set nodes: false' in result['checks']['nodes']['msg']
    assert result['status'] == 'unknown'
    scoped = run_module('k8s_health', args(stub, nodes=False, workloads=['payment-service']))
    assert scoped.get('failed') is not True, scoped.get('msg')
    assert 'nodes' not in scoped['checks']


def test_api_down_and_a_wrong_token_are_unknown(scenario, run_module):
    stub = scenario('healthy')
    stub.set_faults(down={'code': 503})
    down = run_module('k8s_health', args(stub))
    assert down['failed'] is True and down['status'] == 'unknown'
    assert {check['status'] for check in down['checks'].values()} == {'unknown'}
    stub.clear_faults()
    wrong = run_module('k8s_health', args(stub, api_key='not-the-token-3b9d'))
    assert wrong['failed'] is True and wrong['status'] == 'unknown'
    assert '401 Unauthorized' in wrong['checks']['payment-service']['msg']
    assert 'not-the-token-3b9d' not in repr(wrong)
    refused = run_module('k8s_health', args(stub, host='https://127.0.0.1:1'))
    assert refused['failed'] is True and refused['reachable'] is False
    assert refused['msg'].startswith('Kubernetes health of dsr-production is unknown: cannot reach the Kubernetes API server https://127.0.0.1:1')
    assert refused['api_requests'] == 1


def test_tls_is_verified(scenario, run_module, tmp_path):
    stub = scenario('healthy')
    other = dsr_harness.HarnessCA(str(tmp_path))
    result = run_module('k8s_health', args(stub, ca_cert=other.root_file))
    assert result['failed'] is True and result['reachable'] is False
    assert 'CERTIFICATE_VERIFY_FAILED' in result['msg'] or 'certificate verify failed' in result['msg'], result['msg']


def test_kubeconfig_and_k8s_auth_environment(scenario, module_env, tmp_path):
    stub = scenario('healthy')
    kubeconfig = tmp_path / 'kubeconfig'
    kubeconfig.write_text(
        'apiVersion: v1\nkind: Config\ncurrent-context: dsr\n'
        'clusters: [{name: stub, cluster: {server: "%s", certificate-authority: "%s"}}]\n'
        'users: [{name: monitor, user: {token: "%s"}}]\n'
        'contexts: [{name: dsr, context: {cluster: stub, user: monitor, namespace: %s}}]\n' % (stub.url, stub.ca_cert, TOKEN, NAMESPACE))
    kubeconfig.chmod(0o600)
    env = dict(module_env, K8S_AUTH_KUBECONFIG=str(kubeconfig))
    result = _run_with_env(env, tmp_path, {'workloads': ['payment-service']})
    assert result.get('failed') is not True, result.get('msg')
    assert result['checks']['payment-service']['status'] == 'ok'
    # the AWX bearer-token credential's variables
    env = dict(module_env, K8S_AUTH_HOST=stub.url, K8S_AUTH_API_KEY=TOKEN, K8S_AUTH_SSL_CA_CERT=stub.ca_cert, K8S_AUTH_VERIFY_SSL='true')
    result = _run_with_env(env, tmp_path, {'workloads': ['payment-service']})
    assert result.get('failed') is not True, result.get('msg')
    assert TOKEN not in repr(result)


def _run_with_env(env, workdir, module_args):
    import json  # pylint: disable=import-outside-toplevel
    args_file = workdir / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': module_args}))
    proc = subprocess.run([sys.executable, str(COLLECTION / 'plugins' / 'modules' / 'k8s_health.py'), str(args_file)],
                          env=env, cwd=str(workdir), capture_output=True, timeout=300, check=False)
    return json.loads(proc.stdout.decode())


def test_bad_options_name_the_option(scenario, run_module):
    stub = scenario('healthy')
    result = run_module('k8s_health', args(stub, host='api.dsr:6443', workloads=[{'name': 'x', 'kind': 'CronJob'}],
                                           restarts_warning=9, log_bytes=10, kubeconfig=os.devnull + '-missing'))
    assert result['failed'] is True
    for words in ("host must be the API server URL such as https://api.dsr.example:6443, got 'api.dsr:6443'",
                  "workloads[0].kind must be one of Deployment, StatefulSet, DaemonSet, got 'CronJob'",
                  'restarts_critical (5) must not be lower than restarts_warning (9)',
                  'log_bytes must be at least 256, got 10',
                  'kubeconfig: /dev/null-missing is not a file'):
        assert words in result['msg'], result['msg']
    assert 'Traceback' not in result.get('_stderr', '')
    assert stub.requests() == []
