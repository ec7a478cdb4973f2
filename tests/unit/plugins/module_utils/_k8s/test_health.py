# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes health verdicts on API objects as plain dicts, with a fake client (the stub tests are functional)."""

from __future__ import annotations

import copy
import datetime

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._k8s import health as h
from ansible_collections.dsr.ops.plugins.module_utils._k8s.client import K8sApiError, K8sUnreachable

NOW = datetime.datetime(2026, 12, 3, 10, 0, tzinfo=datetime.timezone.utc)


def ago(seconds):
    return (NOW - datetime.timedelta(seconds=seconds)).strftime('%Y-%m-%dT%H:%M:%SZ')


def deployment(name='payment-service', replicas=3, status=None):
    values = {'observedGeneration': 4, 'replicas': replicas, 'updatedReplicas': replicas, 'readyReplicas': replicas,
              'availableReplicas': replicas,
              'conditions': [{'type': 'Available', 'status': 'True'},
                             {'type': 'Progressing', 'status': 'True', 'reason': 'NewReplicaSetAvailable'}]}
    values.update(status or {})
    return {'metadata': {'name': name, 'generation': 4},
            'spec': {'replicas': replicas, 'selector': {'matchLabels': {'app': name}},
                     'template': {'metadata': {'labels': {'app': name, 'tier': 'backend'}}, 'spec': {'containers': [{'name': 'app'}]}}},
            'status': values}


def pod(name, app='payment-service', phase='Running', ready=True, node='node-1', created=3600, **container):
    status = {'name': 'app', 'ready': ready, 'restartCount': container.pop('restarts', 0),
              'state': container.pop('state', {'running': {'startedAt': ago(created)}})}
    status.update(container)
    return {'metadata': {'name': name, 'labels': {'app': app}, 'creationTimestamp': ago(created)},
            'spec': {'nodeName': node, 'containers': [{'name': 'app'}]},
            'status': {'phase': phase, 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False', 'lastTransitionTime': ago(600)}],
                       'containerStatuses': [status]}}


def service(name='payment-service', app='payment-service'):
    return {'metadata': {'name': name}, 'spec': {'type': 'ClusterIP', 'selector': {'app': app}}}


def endpoint_slice(service_name, ready=(True, True)):
    return {'metadata': {'name': service_name + '-abcde', 'labels': {'kubernetes.io/service-name': service_name}},
            'endpoints': [{'addresses': ['10.0.0.%d' % i], 'conditions': {'ready': value}} for i, value in enumerate(ready)]}


THRESHOLDS = {'restart_window': 3600, 'restarts_warning': 1, 'restarts_critical': 5, 'pending_max_age': 300,
              'not_ready_grace': 120, 'oom_killed': 'warning'}


def params(**overrides):
    values = dict(namespace='dsr-production', workloads=[{'name': 'payment-service', 'kind': None}], scaled_to_zero='critical',
                  ingress=False, ingresses=None, backup_cronjob='', backup_max_age=26 * 3600, nodes=False, logs='failing',
                  log_lines=10, log_bytes=8192, log_pods=10, **THRESHOLDS)
    values.update(overrides)
    return values


class FakeClient:
    """Answers list calls from a dict of plural -> items (or an exception), and logs from a dict."""

    host = 'https://api.test:6443'

    def __init__(self, objects, logs=None):
        self.objects = objects
        self.logs = logs or {}
        self.requests = []

    def list(self, group_version, plural, namespace=None, resource=None):
        self.requests.append('GET %s %s' % (group_version, plural))
        answer = self.objects.get(plural, [])
        if isinstance(answer, Exception):
            raise answer
        return copy.deepcopy(answer)

    def pod_log(self, namespace, pod_name, container, tail_lines, limit_bytes, previous=False):
        self.requests.append('GET log %s %s %s' % (pod_name, container, previous))
        answer = self.logs.get((pod_name, container, previous), 'line 1\nline 2\n')
        if isinstance(answer, Exception):
            raise answer
        return answer


def healthy():
    return {'deployments': [deployment()], 'pods': [pod('payment-service-a'), pod('payment-service-b'), pod('payment-service-c')],
            'services': [service()], 'endpointslices': [endpoint_slice('payment-service', (True, True, True))]}


def run(objects, log_text=None, **overrides):
    client = FakeClient(objects, log_text)
    return h.HealthRun(client, params(**overrides), now=NOW).run(), client


def test_a_healthy_deployment_is_ok_with_its_service():
    result, client = run(healthy())
    assert result['status'] == 'ok', result['checks']
    assert result['checks']['payment-service']['msg'] == 'Deployment: 3/3 ready, 3/3 up to date'
    assert result['workloads']['payment-service']['services'] == [
        {'name': 'payment-service', 'type': 'ClusterIP', 'ready_endpoints': 3, 'endpoints': 3}]
    assert result['logs'] == [] and result['problem_pods'] == []
    assert result['api_requests'] == len(client.requests) == 6


def test_the_number_of_list_calls_does_not_grow_with_the_workloads():
    objects = healthy()
    names = ['svc-%d' % i for i in range(30)]
    objects['deployments'] = [deployment(name) for name in names]
    dummy, client = run(objects, workloads=[{'name': name, 'kind': None} for name in names], ingress=True, backup_cronjob='backup', nodes=True)
    assert len(client.requests) == 10


@pytest.mark.parametrize('change, status, words', [
    ({'observedGeneration': 3}, 'warning', 'generation 4 not yet observed'),
    ({'availableReplicas': 0, 'readyReplicas': 0}, 'critical', 'no available replica (0 of 3)'),
    ({'availableReplicas': 2, 'readyReplicas': 2}, 'warning', '2 of 3 replicas available'),
    ({'updatedReplicas': 1, 'replicas': 4}, 'warning', '1 of 3 replicas updated'),
    ({'replicas': 5}, 'warning', '2 old replicas pending termination'),
    ({'conditions': [{'type': 'Progressing', 'status': 'False', 'reason': 'ProgressDeadlineExceeded',
                      'message': 'ReplicaSet "payment-service-7d9f" has timed out progressing.'}]}, 'critical', 'progress deadline exceeded'),
])
def test_deployment_rollout_rules(change, status, words):
    verdict, dummy = h.deployment_verdict(deployment(status=change), 'critical')
    assert verdict.status == status
    assert words in verdict.message('ok')


def test_stale_status_is_not_judged_as_a_rollout():
    # the controller has not seen generation 4 yet: updated=1 is stale, so only the generation finding is made
    verdict, dummy = h.deployment_verdict(deployment(status={'observedGeneration': 3, 'updatedReplicas': 1}), 'critical')
    assert [text for dummy, text in verdict.reasons] == ['generation 4 not yet observed by its controller (observed 3): its status is stale']


def test_scaled_to_zero_takes_its_option():
    zero = deployment(replicas=0)
    assert h.deployment_verdict(zero, 'critical')[0].status == 'critical'
    assert h.deployment_verdict(zero, 'ok')[0].status == 'ok'
    assert 'scaled to zero' in h.deployment_verdict(zero, 'warning')[0].message('')


def statefulset(**status):
    values = {'observedGeneration': 2, 'replicas': 3, 'readyReplicas': 3, 'updatedReplicas': 3, 'availableReplicas': 3,
              'currentRevision': 'postgresql-1', 'updateRevision': 'postgresql-1'}
    values.update(status)
    return {'metadata': {'name': 'postgresql', 'generation': 2},
            'spec': {'replicas': 3, 'updateStrategy': {'type': 'RollingUpdate'}, 'selector': {'matchLabels': {'app': 'postgresql'}}},
            'status': values}


def test_statefulset_revisions_and_partitions():
    assert h.statefulset_verdict(statefulset(), 'critical')[0].status == 'ok'
    rolling, dummy = h.statefulset_verdict(statefulset(updateRevision='postgresql-2', updatedReplicas=1), 'critical')
    assert rolling.status == 'warning' and '1 of 3 replicas updated to revision postgresql-2' in rolling.message('')
    partitioned = statefulset(updateRevision='postgresql-2', updatedReplicas=1)
    partitioned['spec']['updateStrategy'] = {'type': 'RollingUpdate', 'rollingUpdate': {'partition': 2}}
    # with partition 2 only one replica (3 - 2) is to be updated: the partitioned rollout is complete
    assert h.statefulset_verdict(partitioned, 'critical')[0].status == 'ok'
    partitioned['status']['updatedReplicas'] = 0
    assert 'partitioned rollout in progress: 0 of 1' in h.statefulset_verdict(partitioned, 'critical')[0].message('')
    assert h.statefulset_verdict(statefulset(readyReplicas=0), 'critical')[0].status == 'critical'


def test_daemonset_rules():
    daemonset = {'metadata': {'name': 'node-agent', 'generation': 1},
                 'status': {'observedGeneration': 1, 'desiredNumberScheduled': 3, 'currentNumberScheduled': 3, 'updatedNumberScheduled': 3,
                            'numberReady': 3, 'numberAvailable': 3, 'numberMisscheduled': 0}}
    assert h.daemonset_verdict(daemonset, 'critical')[0].status == 'ok'
    daemonset['status'].update(numberAvailable=2, numberMisscheduled=1)
    verdict = h.daemonset_verdict(daemonset, 'critical')[0]
    assert verdict.status == 'warning' and 'misscheduled' not in verdict.message('') and '1 pods on nodes' in verdict.message('')


def test_crash_loop_is_critical_and_its_previous_log_is_read():
    objects = healthy()
    objects['pods'][1] = pod('payment-service-b', ready=False, restarts=7,
                             state={'waiting': {'reason': 'CrashLoopBackOff', 'message': 'back-off 5m0s restarting failed container'}},
                             lastState={'terminated': {'reason': 'Error', 'exitCode': 1, 'finishedAt': ago(60)}})
    result, client = run(objects, log_text={('payment-service-b', 'app', True): 'FATAL: cannot reach dsr-db\n'})
    check = result['checks']['payment-service']
    assert check['status'] == 'critical'
    assert 'payment-service-b: app: CrashLoopBackOff' in check['msg'] and '7 restarts' in check['msg']
    assert result['problem_pods'][0]['name'] == 'payment-service-b' and result['problem_pods'][0]['restarts'] == 7
    assert result['logs'] == [{'pod': 'payment-service-b', 'container': 'app', 'previous': True,
                               'lines': ['FATAL: cannot reach dsr-db'], 'truncated': False}]
    assert client.requests[-1] == 'GET log payment-service-b app True'


def test_image_pull_failure_reads_no_previous_log():
    objects = healthy()
    waiting = {'reason': 'ImagePullBackOff', 'message': 'Back-off pulling image "dsr/payment:9.9"'}
    objects['pods'][0] = pod('payment-service-a', ready=False, state={'waiting': waiting})
    result, dummy = run(objects)
    assert result['checks']['payment-service']['status'] == 'critical'
    assert 'ImagePullBackOff' in result['checks']['payment-service']['msg']
    assert result['logs'][0]['previous'] is False


def test_restarts_oom_pending_and_not_ready():
    problems = h.pod_problems(pod('p', restarts=2, lastState={'terminated': {'reason': 'OOMKilled', 'exitCode': 137, 'finishedAt': ago(300)}}),
                              NOW, THRESHOLDS, {})
    assert [status for status, dummy, dummy2, dummy3 in problems] == ['warning', 'warning']
    assert 'OOMKilled 5m ago' in problems[0][1] and '2 restarts' in problems[1][1]
    # the same restarts two hours ago are outside the window
    assert h.pod_problems(pod('p', restarts=2, lastState={'terminated': {'reason': 'OOMKilled', 'finishedAt': ago(7200)}}),
                          NOW, THRESHOLDS, {}) == []
    assert h.pod_problems(pod('p', restarts=6, lastState={'terminated': {'reason': 'Error', 'finishedAt': ago(60)}}),
                          NOW, THRESHOLDS, {})[0][0] == 'critical'
    pending = pod('p', phase='Pending', created=900, state={'waiting': {'reason': 'ContainerCreating'}})
    pending['status']['conditions'] = [{'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable',
                                        'message': '0/3 nodes are available: 3 Insufficient memory.'}]
    assert h.pod_problems(pending, NOW, THRESHOLDS, {}) == [
        ('warning', 'Pending for 15m: 0/3 nodes are available: 3 Insufficient memory.', None, False)]
    assert h.pod_problems(pod('p', phase='Pending', created=60), NOW, THRESHOLDS, {}) == []
    assert 'not ready for 10m' in h.pod_problems(pod('p', ready=False), NOW, THRESHOLDS, {})[0][1]
    assert h.pod_problems(pod('p'), NOW, THRESHOLDS, {'node-1': False})[0][:2] == ('critical', 'on node node-1, which is NotReady')


def test_a_missing_workload_is_critical_and_a_refused_list_is_unknown():
    result, dummy = run(healthy(), workloads=[{'name': 'grievance-service', 'kind': None}])
    assert result['checks']['grievance-service']['status'] == 'critical'
    assert result['checks']['grievance-service']['msg'] == \
        'not found: no Deployment or StatefulSet or DaemonSet named grievance-service in namespace dsr-production'
    refused = healthy()
    refused['statefulsets'] = K8sApiError('list', 'statefulsets.apps', 'dsr-production', 403, 'Forbidden',
                                          'statefulsets.apps is forbidden: User "system:serviceaccount:dsr:monitor" cannot list resource')
    result, dummy = run(refused, workloads=[{'name': 'postgresql', 'kind': None}])
    assert result['checks']['postgresql']['status'] == 'unknown'
    assert 'list statefulsets.apps in namespace dsr-production refused: 403 Forbidden' in result['checks']['postgresql']['msg']
    # found among the Deployments: the refused StatefulSet list does not matter
    result, dummy = run(refused)
    assert result['checks']['payment-service']['status'] == 'ok'


def test_refused_pods_make_the_workload_unknown_not_ok():
    objects = healthy()
    objects['pods'] = K8sApiError('list', 'pods', 'dsr-production', 403, 'Forbidden', 'pods is forbidden')
    result, dummy = run(objects)
    assert result['checks']['payment-service']['status'] == 'unknown'
    assert 'pods not checked: list pods in namespace dsr-production refused: 403 Forbidden' in result['checks']['payment-service']['msg']


def test_an_unreachable_server_stops_after_the_first_call_and_everything_is_unknown():
    class Down(FakeClient):
        def list(self, group_version, plural, namespace=None, resource=None):
            self.requests.append(plural)
            raise K8sUnreachable('cannot reach the Kubernetes API server https://api.test:6443: connection refused')
    client = Down({})
    result = h.HealthRun(client, params(ingress=True, backup_cronjob='postgresql-backup', nodes=True), now=NOW).run()
    assert client.requests == ['deployments']
    assert result['reachable'] is False and result['status'] == 'unknown'
    assert {check['status'] for check in result['checks'].values()} == {'unknown'}
    assert result['error'] == 'cannot reach the Kubernetes API server https://api.test:6443: connection refused'
    assert result['checks']['payment-service']['msg'] == 'cannot tell whether it exists: not checked: the API server could not be reached'
    assert result['logs'] == []


def test_a_service_without_ready_endpoints_is_critical():
    objects = healthy()
    objects['endpointslices'] = [endpoint_slice('payment-service', (False, False))]
    result, dummy = run(objects)
    assert result['checks']['payment-service']['status'] == 'critical'
    assert 'service payment-service has no ready endpoint (2 endpoints)' in result['checks']['payment-service']['msg']


def test_ingress_address_and_backends():
    objects = healthy()
    objects['ingresses'] = [{'metadata': {'name': 'dsr'}, 'spec': {'rules': [{'http': {'paths': [
        {'backend': {'service': {'name': 'payment-service'}}}, {'backend': {'service': {'name': 'gone'}}}]}}]},
        'status': {'loadBalancer': {}}}]
    result, dummy = run(objects, ingress=True)
    check = result['checks']['ingress']
    assert check['status'] == 'critical'
    assert 'routes to service gone, which does not exist' in check['msg'] and 'has no address' in check['msg']
    objects['ingresses'][0]['spec']['rules'][0]['http']['paths'].pop()
    objects['ingresses'][0]['status'] = {'loadBalancer': {'ingress': [{'ip': '203.0.113.10'}]}}
    result, dummy = run(objects, ingress=True)
    assert result['checks']['ingress']['status'] == 'ok'
    assert result['checks']['ingress']['ingresses'] == [{'name': 'dsr', 'addresses': ['203.0.113.10'], 'backends': ['payment-service']}]
    assert run(objects, ingress=True, ingresses=['dsr', 'api'])[0]['checks']['ingress']['msg'] == 'ingress api not found'


def cronjob(last_success):
    return {'metadata': {'name': 'postgresql-backup'}, 'spec': {'schedule': '0 2 * * *'},
            'status': {'lastScheduleTime': ago(3600), 'lastSuccessfulTime': last_success}}


def job(name, failed_at):
    return {'metadata': {'name': name, 'creationTimestamp': failed_at, 'ownerReferences': [{'kind': 'CronJob', 'name': 'postgresql-backup'}]},
            'status': {'conditions': [{'type': 'Failed', 'status': 'True', 'reason': 'BackoffLimitExceeded',
                                       'message': 'Job has reached the specified backoff limit', 'lastTransitionTime': failed_at}]}}


def test_backup_cronjob_age_and_failed_runs():
    objects = healthy()
    objects['cronjobs'] = [cronjob(ago(8 * 3600))]
    objects['jobs'] = [job('postgresql-backup-1', ago(30 * 3600))]
    result, dummy = run(objects, backup_cronjob='postgresql-backup')
    assert result['checks']['backup_job']['status'] == 'ok', result['checks']['backup_job']
    objects['jobs'].append(job('postgresql-backup-2', ago(3600)))
    result, dummy = run(objects, backup_cronjob='postgresql-backup')
    check = result['checks']['backup_job']
    assert check['status'] == 'warning' and '1 failed runs since the last success, the last postgresql-backup-2' in check['msg']
    objects['cronjobs'] = [cronjob(ago(30 * 3600))]
    assert 'was 30h00m ago (max 26h00m)' in run(objects, backup_cronjob='postgresql-backup')[0]['checks']['backup_job']['msg']
    objects['cronjobs'] = [cronjob(None)]
    assert run(objects, backup_cronjob='postgresql-backup')[0]['checks']['backup_job']['status'] == 'critical'
    objects['cronjobs'] = []
    assert 'not found' in run(objects, backup_cronjob='postgresql-backup')[0]['checks']['backup_job']['msg']


def test_nodes_refused_is_unknown_with_the_way_out():
    objects = healthy()
    objects['nodes'] = K8sApiError('list', 'nodes', None, 403, 'Forbidden', 'nodes is forbidden: cannot list resource "nodes" at the cluster scope')
    result, dummy = run(objects, nodes=True)
    assert result['checks']['nodes']['status'] == 'unknown'
    assert 'list nodes refused: 403 Forbidden' in result['checks']['nodes']['msg'] and 'set nodes: false' in result['checks']['nodes']['msg']


def test_logs_are_capped_in_pods_and_lines_and_a_refused_log_is_reported():
    objects = healthy()
    broken = {'state': {'waiting': {'reason': 'CrashLoopBackOff'}}, 'restarts': 3,
              'lastState': {'terminated': {'reason': 'Error', 'exitCode': 2, 'finishedAt': ago(30)}}}
    objects['pods'] = [pod('payment-service-%d' % i, ready=False, **copy.deepcopy(broken)) for i in range(5)]
    logs = {('payment-service-0', 'app', True): ''.join('line %d\n' % i for i in range(50)),
            ('payment-service-1', 'app', True): K8sApiError('get', 'pods/log', 'dsr-production', 403, 'Forbidden', 'pods "x" is forbidden')}
    result, dummy = run(objects, log_text=logs, log_pods=2, log_lines=3)
    assert len(result['logs']) == 2
    assert result['logs'][0]['lines'] == ['line 47', 'line 48', 'line 49']
    assert 'get pods/log in namespace dsr-production refused: 403 Forbidden' in result['logs'][1]['error']


def test_logs_none_reads_no_log():
    objects = healthy()
    objects['pods'][0] = pod('payment-service-a', ready=False, state={'waiting': {'reason': 'CrashLoopBackOff'}}, restarts=2,
                             lastState={'terminated': {'reason': 'Error', 'finishedAt': ago(30)}})
    result, client = run(objects, logs='none')
    assert result['logs'] == [] and not [r for r in client.requests if 'log' in r]


def test_a_previous_log_that_does_not_exist_falls_back_to_the_current_one():
    objects = healthy()
    objects['pods'][0] = pod('payment-service-a', ready=False, state={'waiting': {'reason': 'CrashLoopBackOff'}}, restarts=1)
    logs = {('payment-service-a', 'app', True): K8sApiError('get', 'pods/log', 'dsr-production', 400, 'BadRequest',
                                                            'previous terminated container "app" in pod "payment-service-a" not found')}
    result, dummy = run(objects, log_text=logs)
    assert result['logs'][0]['previous'] is False and result['logs'][0]['lines'] == ['line 1', 'line 2']


@pytest.mark.parametrize('selector, labels, expected', [
    ({'matchLabels': {'app': 'a'}}, {'app': 'a', 'x': 'y'}, True),
    ({'matchLabels': {'app': 'a'}}, {'app': 'b'}, False),
    ({'matchExpressions': [{'key': 'tier', 'operator': 'In', 'values': ['web', 'api']}]}, {'tier': 'api'}, True),
    ({'matchExpressions': [{'key': 'tier', 'operator': 'NotIn', 'values': ['web']}]}, {'tier': 'web'}, False),
    ({'matchExpressions': [{'key': 'tier', 'operator': 'Exists'}]}, {}, False),
    ({'matchExpressions': [{'key': 'canary', 'operator': 'DoesNotExist'}]}, {'app': 'a'}, True),
    ({}, {'app': 'a'}, False),
    (None, {'app': 'a'}, False),
])
def test_selectors(selector, labels, expected):
    assert h.selector_matches(selector, labels) is expected


def test_workloads_option_is_checked():
    workloads, problems = h.normalize_workloads(['a', {'name': 'b', 'kind': 'StatefulSet'}, {'name': 'c', 'kind': 'Pod'}, 'a',
                                                {'name': 'd', 'replicas': 2}, 'nodes', 3])
    assert workloads == [{'name': 'a', 'kind': None}, {'name': 'b', 'kind': 'StatefulSet'}]
    assert problems == ["workloads[2].kind must be one of Deployment, StatefulSet, DaemonSet, got 'Pod'",
                        'workloads[3]: a is given twice',
                        'workloads[4]: unknown key(s) replicas; use name and kind',
                        'workloads[5]: nodes is the name of another check; it cannot be a workload name here',
                        'workloads[6] must be a name or a dict with name (and kind)']
