# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes API stub (tests/harness/k8s_stub.py) checked from outside, with the clients people use.

The stub is a stub. These tests hold it to what real clients accept: the ``kubectl`` on the
machine (``get -o json``, ``logs``, ``apply --server-side`` with and without
``--dry-run=server``, the RBAC refusal as kubectl prints it) through a kubeconfig with the
server's URL, the harness CA and a bearer token; the official ``kubernetes`` Python client,
whose pydantic models refuse a wrong type or an unknown field, deserialising every list the
fixtures hold, for every scenario; and raw HTTPS for the exact Status bodies. Expected
names and counts come from ``k8s_fixtures.build`` (deterministic for a given ``now``),
never from what the stub answered.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import kubernetes
import pytest
import yaml

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / 'harness'))

import dsr_harness  # noqa: E402  pylint: disable=wrong-import-position
import k8s_fixtures  # noqa: E402  pylint: disable=wrong-import-position
import k8s_stub  # noqa: E402  pylint: disable=wrong-import-position


NOW = datetime.datetime(2026, 12, 2, 10, 17, 42, tzinfo=datetime.timezone.utc)
NS = k8s_fixtures.NAMESPACE
# random per run, so that finding it in an output means a leak
TOKEN = 'k8s-' + secrets.token_urlsafe(24)
USER = 'system:serviceaccount:dsr:monitor'
FORBIDDEN = ('deployments.apps is forbidden: User "system:serviceaccount:dsr:monitor" cannot list resource "deployments" in API group "apps" '
             'in the namespace "dsr-production"')


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    base = tmp_path_factory.mktemp('k8s-pki')
    ca = dsr_harness.HarnessCA(str(base))
    tls = ca.issue(str(base), 'kubernetes', ca.now - dsr_harness.DAY, ca.now + 30 * dsr_harness.DAY)
    return {'ca': ca.root_file, 'chain': tls['chain'], 'key': tls['key']}


@pytest.fixture(scope='module')
def stub(pki):
    server = k8s_stub.StubServer(token=TOKEN, user=USER, certfile=pki['chain'], keyfile=pki['key'], scenario='healthy', now=NOW).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh(request):
    """Every test starts from the healthy seed, no faults, an empty request log."""
    if 'stub' in request.fixturenames:
        server = request.getfixturevalue('stub')
        if server.scenario != ['healthy']:
            server.load_scenario(['healthy'])
        server.store.reset()


@pytest.fixture(scope='module')
def expected():
    return k8s_fixtures.build(['healthy'], now=NOW)


@pytest.fixture(scope='module')
def kubectl_bin():
    path = shutil.which('kubectl')
    if not path:
        pytest.fail('kubectl is not installed: these tests check the stub with the kubectl on the machine')
    proc = subprocess.run([path, 'version', '--client', '-o', 'json'], capture_output=True, text=True, check=False, timeout=60)
    minor = int(''.join(ch for ch in json.loads(proc.stdout)['clientVersion']['minor'] if ch.isdigit()))
    return path, minor


def needs_server_dry_run(kubectl):
    """Skip a server dry-run test on kubectl before 1.26, saying why (every other kubectl test still runs)."""
    if kubectl.minor < 26:
        pytest.skip('kubectl 1.%d (Debian\'s kubernetes-client is 1.20) checks server dry-run support in an OpenAPI v2 protobuf '
                    'document the stub does not serve; kubectl 1.26 or newer asks the server' % kubectl.minor)


class Kubectl:
    """kubectl with its own kubeconfig (0600), HOME and discovery cache in a temporary directory."""

    def __init__(self, binary, directory, server, ca, token):
        self.binary = binary
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.directory / 'kubeconfig'
        config = {'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'stub',
                  'clusters': [{'name': 'stub', 'cluster': {'server': server.url, 'certificate-authority': ca}}],
                  'users': [{'name': 'monitor', 'user': {'token': token}}],
                  'contexts': [{'name': 'stub', 'context': {'cluster': 'stub', 'user': 'monitor', 'namespace': NS}}]}
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)
        self.env = {key: value for key, value in os.environ.items() if not key.upper().endswith('_PROXY') and not key.startswith('KUBE')}
        self.env.update({'KUBECONFIG': str(self.kubeconfig), 'HOME': str(self.directory), 'NO_PROXY': '127.0.0.1,localhost'})

    def __call__(self, *args, check=True):
        proc = subprocess.run([self.binary, '--cache-dir', str(self.directory / 'cache'), *args], capture_output=True, text=True, env=self.env,
                              check=False, timeout=120, cwd=str(self.directory))
        if check and proc.returncode != 0:
            raise AssertionError('kubectl %s failed (%d): %s %s' % (' '.join(args), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc

    def json(self, *args):
        return json.loads(self(*args, '-o', 'json').stdout)


@pytest.fixture(scope='module')
def kubectl(kubectl_bin, stub, pki, tmp_path_factory):
    client = Kubectl(kubectl_bin[0], tmp_path_factory.mktemp('kubectl'), stub, pki['ca'], TOKEN)
    client.minor = kubectl_bin[1]
    return client


def api_call(stub, pki, method, path, body=None, content_type='application/json', token=TOKEN):
    """Raw HTTPS: (code, parsed JSON or text)."""
    context = ssl.create_default_context(cafile=pki['ca'])
    data = body if body is None or isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
    request = urllib.request.Request(stub.url + path, data=data, method=method, headers={'Content-Type': content_type})
    if token:
        request.add_header('Authorization', 'Bearer ' + token)
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            code, raw, kind = response.status, response.read(), response.headers.get('Content-Type', '')
    except urllib.error.HTTPError as exc:
        code, raw, kind = exc.code, exc.read(), exc.headers.get('Content-Type', '')
    return code, json.loads(raw) if kind.startswith('application/json') else raw.decode()


def control(stub, pki, path, body=None, method='POST'):
    """A ``/_stub/`` control endpoint (no token)."""
    request = urllib.request.Request(stub.url + '/_stub/' + path, data=json.dumps(body).encode() if body is not None else None, method=method)
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=pki['ca']), timeout=30) as response:
        return json.loads(response.read())


def names(objects, kind, namespace=NS):
    return sorted(obj['metadata']['name'] for obj in objects if obj['kind'] == kind and obj['metadata'].get('namespace', namespace) == namespace)


# ---------------------------------------------------------------- kubectl


def test_kubectl_get_json_lists_the_seeded_objects(kubectl, stub, expected):
    listing = kubectl.json('get', 'deploy,pods,svc', '-n', NS)
    assert listing['kind'] == 'List'
    got = {}
    for item in listing['items']:
        got.setdefault(item['kind'], []).append(item['metadata']['name'])
    assert sorted(got['Deployment']) == names(expected.objects, 'Deployment') == sorted(k8s_fixtures.APP_SERVICES + (k8s_fixtures.FRONTEND,))
    assert sorted(got['Pod']) == names(expected.objects, 'Pod')
    assert sorted(got['Service']) == names(expected.objects, 'Service')
    assert {'postgresql-headless', 'interoperability-partners', 'postgresql'} <= set(got['Service'])
    by_name = {(item['kind'], item['metadata']['name']): item for item in listing['items']}
    assert by_name[('Service', 'postgresql-headless')]['spec']['clusterIP'] == 'None'
    assert by_name[('Service', 'interoperability-partners')]['spec']['ports'][0]['nodePort'] == 30443
    assert by_name[('Service', 'payment-service')]['spec']['clusterIPs'] == [by_name[('Service', 'payment-service')]['spec']['clusterIP']]
    # every Deployment's Pods hang off one of its ReplicaSets, as the controllers leave them
    replicasets = {obj['metadata']['uid']: obj for obj in expected.objects if obj['kind'] == 'ReplicaSet'}
    for name, replicas in k8s_fixtures.REPLICAS.items():
        deployment = by_name[('Deployment', name)]
        pods = [item for item in listing['items'] if item['kind'] == 'Pod' and item['metadata'].get('labels', {}).get('app') == name]
        assert len(pods) == replicas == deployment['status']['readyReplicas']
        for pod in pods:
            owner = replicasets[pod['metadata']['ownerReferences'][0]['uid']]
            assert owner['metadata']['ownerReferences'][0]['uid'] == deployment['metadata']['uid']
    lists = [entry for entry in stub.requests() if entry['method'] == 'GET' and entry['path'].startswith(('/api/v1/namespaces', '/apis/apps/v1/namespaces'))]
    assert sorted((entry['path'], entry['params'].get('limit')) for entry in lists) == [
        ('/api/v1/namespaces/dsr-production/pods', '500'), ('/api/v1/namespaces/dsr-production/services', '500'),
        ('/apis/apps/v1/namespaces/dsr-production/deployments', '500')]


def test_kubectl_discovery_requests(kubectl_bin, stub, pki, tmp_path):
    """What kubectl asks before a get (the stub's docstring lists it): the legacy discovery documents, and nothing else.

    Google Cloud SDK's ``kubectl`` (what /usr/bin/kubectl is on this image) is a dispatcher that first asks /version
    (User-Agent ``kubectl-dispatcher``) to run the bundled kubectl of the server's minor version.
    """
    cold = Kubectl(kubectl_bin[0], tmp_path / 'cold', stub, pki['ca'], TOKEN)
    cold('get', 'deploy', '-n', NS, '-o', 'name')
    discovery = {'/api', '/apis'} | {'/apis/%s/%s' % gv if gv[0] else '/api/%s' % gv[1] for gv in k8s_stub.GROUP_VERSIONS}
    requests = stub.requests()
    kubectl_paths = {entry['path'] for entry in requests if entry['path'] != '/version'}
    assert kubectl_paths == discovery | {'/apis/apps/v1/namespaces/dsr-production/deployments'}
    assert all(entry['status'] == 200 and entry['method'] == 'GET' for entry in requests)
    assert all(entry['user_agent'].startswith('kubectl') for entry in requests)
    stub.reset_requests()
    cold('get', 'deploy', '-n', NS, '-o', 'name')
    assert {entry['path'] for entry in stub.requests()} <= discovery | {'/version', '/apis/apps/v1/namespaces/dsr-production/deployments'}


def test_kubectl_logs_tail_timestamps_and_previous(kubectl, stub, expected):
    pod = sorted((obj for obj in expected.objects if obj['kind'] == 'Pod' and obj['metadata']['labels'].get('app') == 'payment-service'),
                 key=lambda obj: obj['metadata']['name'])[0]
    name = pod['metadata']['name']
    lines = expected.logs[(NS, name, 'payment-service', False)]
    out = kubectl('logs', name, '-n', NS, '--tail=3').stdout
    assert out.splitlines() == [text for _stamp, text in lines[-3:]]
    out = kubectl('logs', name, '-n', NS, '--tail=2', '--timestamps').stdout
    assert out.splitlines() == ['%s %s' % line for line in lines[-2:]]
    log_requests = [entry for entry in stub.requests() if entry['path'].endswith('/log')]
    # kubectl names the container itself from 1.21 on; Debian's 1.20 leaves it to the server (one container: that one)
    expected_params = {'tailLines': '2', 'timestamps': 'true'}
    if kubectl.minor >= 21:
        expected_params['container'] = 'payment-service'
    assert log_requests[-1]['params'] == expected_params
    # a container that never restarted has no previous log: the kubelet's 400, through kubectl
    proc = kubectl('logs', name, '-n', NS, '--previous', check=False)
    assert proc.returncode != 0
    assert 'previous terminated container "payment-service" in pod "%s" not found' % name in proc.stderr
    # the runbook's form: kubectl picks a Pod of the Deployment by its selector
    out = kubectl('logs', 'deployment/payment-service', '-n', NS, '--tail=1').stdout
    assert len(out.splitlines()) == 1
    assert any(entry['path'] == '/api/v1/namespaces/dsr-production/pods' and entry['params'].get('labelSelector') == 'app=payment-service'
               for entry in stub.requests())


def test_kubectl_logs_previous_in_a_crash_loop(kubectl, stub, pki):
    control(stub, pki, 'scenario', {'names': ['crash_loop']})
    crashed = k8s_fixtures.build(['crash_loop'], now=NOW)
    pods = sorted(obj['metadata']['name'] for obj in crashed.objects if obj['kind'] == 'Pod' and obj['metadata']['labels'].get('app') == 'payment-service')
    previous = crashed.logs[(NS, pods[0], 'payment-service', True)]
    out = kubectl('logs', pods[0], '-n', NS, '--previous', '--tail=2').stdout
    assert out.splitlines() == [text for _stamp, text in previous[-2:]]
    assert 'password authentication failed' in kubectl('logs', pods[0], '-n', NS, '--previous').stdout
    status = kubectl.json('get', 'pod', pods[0], '-n', NS)['status']['containerStatuses'][0]
    assert status['state']['waiting']['reason'] == 'CrashLoopBackOff'
    assert status['restartCount'] == 17
    assert status['lastState']['terminated']['reason'] == 'Error'


MANIFEST = '''apiVersion: apps/v1
kind: Deployment
metadata:
  name: payment-service
  namespace: dsr-production
spec:
  replicas: 5
  selector:
    matchLabels:
      app: payment-service
  template:
    metadata:
      labels:
        app: payment-service
    spec:
      containers:
      - name: payment-service
        image: registry.dsr.example/dsr/payment-service:2.4.2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: dsr-restore-marker
  namespace: dsr-production
data:
  restored: "yes"
'''


def _manifest(kubectl):
    path = kubectl.directory / 'manifest.yaml'
    path.write_text(MANIFEST)
    return str(path)


def _snapshot(stub):
    with stub.store.lock:
        return json.dumps(sorted(stub.store.objects.items()), sort_keys=True), stub.store.revision


def test_kubectl_apply_server_dry_run_changes_nothing(kubectl, stub):
    needs_server_dry_run(kubectl)
    before = _snapshot(stub)
    proc = kubectl('apply', '--server-side', '--dry-run=server', '-f', _manifest(kubectl))
    assert proc.stdout.splitlines() == ['deployment.apps/payment-service serverside-applied (server dry run)',
                                        'configmap/dsr-restore-marker serverside-applied (server dry run)']
    assert _snapshot(stub) == before
    patches = [entry for entry in stub.requests() if entry['method'] == 'PATCH']
    assert patches and all(entry['params'].get('dryRun') == 'All' for entry in patches)
    applies = [entry for entry in patches if entry['content_type'] == 'application/apply-patch+yaml']
    assert {entry['path'] for entry in applies} == {'/apis/apps/v1/namespaces/dsr-production/deployments/payment-service',
                                                    '/api/v1/namespaces/dsr-production/configmaps/dsr-restore-marker'}
    assert all(entry['params'].get('fieldManager', '').startswith('kubectl') for entry in applies)
    assert kubectl('get', 'configmap', 'dsr-restore-marker', '-n', NS, check=False).returncode != 0


def test_kubectl_apply_shows_up_in_get(kubectl, stub):
    before = kubectl.json('get', 'deploy', 'payment-service', '-n', NS)
    proc = kubectl('apply', '--server-side', '-f', _manifest(kubectl))
    assert proc.stdout.splitlines() == ['deployment.apps/payment-service serverside-applied', 'configmap/dsr-restore-marker serverside-applied']
    # kubectl hides managedFields from 1.21 on unless asked; 1.20 has no such flag and always shows them
    after = kubectl.json('get', 'deploy', 'payment-service', '-n', NS, *(['--show-managed-fields'] if kubectl.minor >= 21 else []))
    assert after['spec']['replicas'] == 5
    assert after['spec']['template']['spec']['containers'][0]['image'].endswith(':2.4.2')
    # fields the manifest does not name stay (the stub's merge), server fields move on
    assert after['spec']['template']['spec']['containers'][0]['env'] == before['spec']['template']['spec']['containers'][0]['env']
    assert after['metadata']['generation'] == before['metadata']['generation'] + 1
    assert int(after['metadata']['resourceVersion']) > int(before['metadata']['resourceVersion'])
    assert after['metadata']['uid'] == before['metadata']['uid']
    assert any(entry['manager'] == 'kubectl' and entry['operation'] == 'Apply' for entry in after['metadata']['managedFields'])
    marker = kubectl.json('get', 'configmap', 'dsr-restore-marker', '-n', NS)
    assert marker['data'] == {'restored': 'yes'}
    assert marker['metadata']['uid'] and marker['metadata']['creationTimestamp'] == NOW.strftime('%Y-%m-%dT%H:%M:%SZ')
    # applying the same manifest again writes nothing
    revision = stub.store.revision
    kubectl('apply', '--server-side', '-f', _manifest(kubectl))
    assert kubectl.json('get', 'deploy', 'payment-service', '-n', NS)['metadata']['resourceVersion'] == after['metadata']['resourceVersion']
    assert stub.store.revision == revision


def test_kubectl_forbidden(kubectl, stub):
    stub.set_faults(forbid=[{'verb': 'list', 'resource': 'deployments', 'group': 'apps', 'namespace': NS}])
    proc = kubectl('get', 'deploy', '-n', NS, check=False)
    assert proc.returncode != 0
    assert 'Error from server (Forbidden): ' + FORBIDDEN in proc.stderr
    # only that verb on that resource is refused
    assert kubectl('get', 'deploy', 'payment-service', '-n', NS, '-o', 'name').stdout.strip() == 'deployment.apps/payment-service'
    assert len(kubectl.json('get', 'pods', '-n', NS)['items']) > 0


def test_kubectl_wrong_token(kubectl_bin, stub, pki, tmp_path):
    other = Kubectl(kubectl_bin[0], tmp_path / 'wrong', stub, pki['ca'], 'not-the-token')
    proc = other('get', 'pods', '-n', NS, check=False)
    assert proc.returncode != 0
    assert 'error: You must be logged in to the server' in proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout


# ---------------------------------------------------------------- the Python client's models


def _client(stub, pki):
    config = kubernetes.client.Configuration()
    config.host = stub.url
    config.ssl_ca_cert = pki['ca']
    config.api_key = {'authorization': TOKEN}
    config.api_key_prefix = {'authorization': 'Bearer'}
    return kubernetes.client.ApiClient(config)


LISTS = {
    'Pod': ('CoreV1Api', 'list_namespaced_pod'), 'Service': ('CoreV1Api', 'list_namespaced_service'),
    'ConfigMap': ('CoreV1Api', 'list_namespaced_config_map'), 'Secret': ('CoreV1Api', 'list_namespaced_secret'),
    'ServiceAccount': ('CoreV1Api', 'list_namespaced_service_account'), 'PersistentVolumeClaim': ('CoreV1Api', 'list_namespaced_persistent_volume_claim'),
    'Endpoints': ('CoreV1Api', 'list_namespaced_endpoints'), 'Event': ('CoreV1Api', 'list_namespaced_event'),
    'Deployment': ('AppsV1Api', 'list_namespaced_deployment'), 'StatefulSet': ('AppsV1Api', 'list_namespaced_stateful_set'),
    'DaemonSet': ('AppsV1Api', 'list_namespaced_daemon_set'), 'ReplicaSet': ('AppsV1Api', 'list_namespaced_replica_set'),
    'Job': ('BatchV1Api', 'list_namespaced_job'), 'CronJob': ('BatchV1Api', 'list_namespaced_cron_job'),
    'Ingress': ('NetworkingV1Api', 'list_namespaced_ingress'), 'NetworkPolicy': ('NetworkingV1Api', 'list_namespaced_network_policy'),
    'EndpointSlice': ('DiscoveryV1Api', 'list_namespaced_endpoint_slice'), 'Role': ('RbacAuthorizationV1Api', 'list_namespaced_role'),
    'RoleBinding': ('RbacAuthorizationV1Api', 'list_namespaced_role_binding'),
    'HorizontalPodAutoscaler': ('AutoscalingV2Api', 'list_namespaced_horizontal_pod_autoscaler'),
    'PodDisruptionBudget': ('PolicyV1Api', 'list_namespaced_pod_disruption_budget'),
}


@pytest.mark.parametrize('scenario', sorted(k8s_fixtures.SCENARIOS))
def test_python_client_deserialises_every_list(stub, pki, scenario):
    """The pydantic models of kubernetes-client refuse a wrong type or an unknown field: every object of every scenario passes them."""
    control(stub, pki, 'scenario', {'names': [scenario]})
    cluster = k8s_fixtures.build([scenario], now=NOW)
    api = _client(stub, pki)
    for kind, (api_class, method) in LISTS.items():
        result = getattr(getattr(kubernetes.client, api_class)(api), method)(NS)
        assert sorted(item.metadata.name for item in result.items) == names(cluster.objects, kind), kind
        assert result.metadata.resource_version
    core = kubernetes.client.CoreV1Api(api)
    assert sorted(node.metadata.name for node in core.list_node().items) == list(k8s_fixtures.NODES)
    assert {ns.metadata.name for ns in core.list_namespace().items} >= {NS, 'default', 'kube-system'}
    assert len(core.list_pod_for_all_namespaces().items) == len(names(cluster.objects, 'Pod'))
    assert kubernetes.client.VersionApi(api).get_code().git_version == 'v' + k8s_stub.DEFAULT_VERSION


def test_python_client_typed_fields(stub, pki):
    api = _client(stub, pki)
    apps = kubernetes.client.AppsV1Api(api)
    deployment = apps.read_namespaced_deployment('payment-service', NS)
    assert deployment.status.ready_replicas == deployment.spec.replicas == 3
    assert deployment.metadata.creation_timestamp.tzinfo is not None
    assert deployment.metadata.generation == deployment.status.observed_generation
    assert {c.type: c.status for c in deployment.status.conditions} == {'Available': 'True', 'Progressing': 'True'}
    cronjob = kubernetes.client.BatchV1Api(api).read_namespaced_cron_job(k8s_fixtures.BACKUP_CRONJOB, NS)
    assert cronjob.status.last_successful_time > cronjob.status.last_schedule_time
    ingress = kubernetes.client.NetworkingV1Api(api).read_namespaced_ingress('dsr-ingress', NS)
    assert ingress.status.load_balancer.ingress[0].ip == k8s_fixtures.INGRESS_IP
    secret = kubernetes.client.CoreV1Api(api).read_namespaced_secret(k8s_fixtures.DB_SECRET, NS)
    last_applied = json.loads(secret.metadata.annotations[k8s_fixtures.LAST_APPLIED])
    assert last_applied['stringData'][k8s_fixtures.DB_PASSWORD_KEY] == k8s_fixtures.build(['healthy'], now=NOW).db_password
    core = kubernetes.client.CoreV1Api(api)
    pod = core.list_namespaced_pod(NS, label_selector='app=payment-service').items[0]
    text = core.read_namespaced_pod_log(pod.metadata.name, NS, tail_lines=1)
    assert len(text.splitlines()) == 1
    with pytest.raises(kubernetes.client.exceptions.ApiException) as caught:
        core.read_namespaced_pod(pod.metadata.name + '-gone', NS)
    assert caught.value.status == 404
    assert json.loads(caught.value.body)['reason'] == 'NotFound'


# ---------------------------------------------------------------- Status bodies and the rest, over raw HTTPS


def test_status_bodies(stub, pki):
    assert api_call(stub, pki, 'GET', '/api/v1/namespaces/dsr-production/pods', token=None) == (401, {
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'Unauthorized', 'reason': 'Unauthorized', 'code': 401})
    assert api_call(stub, pki, 'GET', '/apis/apps/v1/namespaces/dsr-production/deployments/nope') == (404, {
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'deployments.apps "nope" not found', 'reason': 'NotFound',
        'details': {'name': 'nope', 'group': 'apps', 'kind': 'deployments'}, 'code': 404})
    assert api_call(stub, pki, 'GET', '/api/v1/namespaces/dsr-production/secrets/nope')[1]['details'] == {'name': 'nope', 'kind': 'secrets'}
    assert api_call(stub, pki, 'GET', '/apis/apps/v1/namespaces/dsr-production/widgets') == (404, '404 page not found\n')
    body = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'x', 'namespace': NS}}
    assert api_call(stub, pki, 'PATCH', '/api/v1/namespaces/dsr-production/configmaps/x', body, 'application/apply-patch+yaml') == (422, {
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
        'message': 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', 'reason': 'Invalid',
        'details': {'group': 'meta.k8s.io', 'kind': 'PatchOptions', 'causes': [
            {'reason': 'FieldValueRequired', 'message': 'Required value: is required for apply patch', 'field': 'fieldManager'}]}, 'code': 422})
    stub.set_faults(forbid=[{'verb': 'list', 'resource': 'deployments'}])
    assert api_call(stub, pki, 'GET', '/apis/apps/v1/namespaces/dsr-production/deployments') == (403, {
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': FORBIDDEN, 'reason': 'Forbidden',
        'details': {'group': 'apps', 'kind': 'deployments'}, 'code': 403})
    code, status = api_call(stub, pki, 'GET', '/apis/apps/v1/deployments')
    assert (code, status['message']) == (403, 'deployments.apps is forbidden: User "%s" cannot list resource "deployments" in API group "apps" '
                                              'at the cluster scope' % USER)
    stub.set_faults(forbid=[{'verb': 'get', 'resource': 'pods/log'}])
    pod = names(k8s_fixtures.build(['healthy'], now=NOW).objects, 'Pod')[0]
    code, status = api_call(stub, pki, 'GET', '/api/v1/namespaces/dsr-production/pods/%s/log' % pod)
    assert (code, status['message'], status['details']) == (403, 'pods "%s" is forbidden: User "%s" cannot get resource "pods/log" in API group "" '
                                                                 'in the namespace "dsr-production"' % (pod, USER), {'name': pod, 'kind': 'pods'})
    code, status = api_call(stub, pki, 'GET', '/api/v1/namespaces/dsr-production/pods?watch=true')
    assert (code, status['reason']) == (405, 'MethodNotAllowed')


def test_apply_conflict_force_and_dry_run(stub, pki):
    path = '/apis/apps/v1/namespaces/dsr-production/deployments/payment-service?fieldManager=dsr-restore'
    body = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'payment-service', 'namespace': NS}, 'spec': {'replicas': 4}}
    stub.set_faults(apply_conflicts=[{'resource': 'deployments', 'name': 'payment-service', 'manager': 'kube-controller-manager', 'field': '.spec.replicas'}])
    assert api_call(stub, pki, 'PATCH', path, body, 'application/apply-patch+yaml') == (409, {
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
        'message': 'Apply failed with 1 conflict: conflict with "kube-controller-manager" using apps/v1: .spec.replicas', 'reason': 'Conflict',
        'details': {'causes': [{'reason': 'FieldManagerConflict', 'message': 'conflict with "kube-controller-manager" using apps/v1',
                                'field': '.spec.replicas'}]}, 'code': 409})
    code, dry = api_call(stub, pki, 'PATCH', path + '&force=true&dryRun=All', yaml.safe_dump(body), 'application/apply-patch+yaml')
    assert code == 200 and dry['spec']['replicas'] == 4
    assert stub.store.get(k8s_stub.BY_PATH[('apps', 'v1', 'deployments')], NS, 'payment-service')['spec']['replicas'] == 3
    code, applied = api_call(stub, pki, 'PATCH', path + '&force=true', body, 'application/apply-patch+yaml')
    assert code == 200 and applied['spec']['replicas'] == 4
    assert [entry for entry in applied['metadata']['managedFields'] if entry['manager'] == 'dsr-restore'] == [
        {'manager': 'dsr-restore', 'operation': 'Apply', 'apiVersion': 'apps/v1', 'time': NOW.strftime('%Y-%m-%dT%H:%M:%SZ'), 'fieldsType': 'FieldsV1',
         'fieldsV1': {'f:spec': {'f:replicas': {}}}}]
    # what an export must strip before a restore: managedFields (400) and a stale resourceVersion (409)
    stale = dict(body, metadata=dict(body['metadata'], resourceVersion='1'))
    code, status = api_call(stub, pki, 'PATCH', path + '&force=true', stale, 'application/apply-patch+yaml')
    assert (code, status['reason']) == (409, 'Conflict')
    assert status['message'].startswith('Operation cannot be fulfilled on deployments.apps "payment-service": the object has been modified')
    managed = dict(body, metadata=dict(body['metadata'], managedFields=[]))
    assert api_call(stub, pki, 'PATCH', path + '&force=true', managed, 'application/apply-patch+yaml')[1]['message'] == 'metadata.managedFields must be nil'
    # a create through apply: 201, and the namespace must exist
    created = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'fresh', 'namespace': NS}, 'data': {'a': 'b'}}
    code, obj = api_call(stub, pki, 'PATCH', '/api/v1/namespaces/dsr-production/configmaps/fresh?fieldManager=dsr-restore', created,
                         'application/apply-patch+yaml')
    assert code == 201 and obj['metadata']['uid'] and obj['metadata']['resourceVersion']
    elsewhere = dict(created, metadata={'name': 'fresh', 'namespace': 'dsr-staging'})
    code, status = api_call(stub, pki, 'PATCH', '/api/v1/namespaces/dsr-staging/configmaps/fresh?fieldManager=dsr-restore', elsewhere,
                            'application/apply-patch+yaml')
    assert (code, status['message']) == (404, 'namespaces "dsr-staging" not found')


def test_selectors_pagination_and_faults(stub, pki, expected):
    code, listing = api_call(stub, pki, 'GET', '/api/v1/namespaces/dsr-production/pods?labelSelector=app%3Dpayment-service')
    assert code == 200 and listing['kind'] == 'PodList' and listing['apiVersion'] == 'v1'
    assert len(listing['items']) == k8s_fixtures.REPLICAS['payment-service']
    assert all('kind' not in item and 'apiVersion' not in item for item in listing['items'])
    code, listing = api_call(stub, pki, 'GET', '/api/v1/namespaces/dsr-production/pods?labelSelector=app+in+(postgresql,fluent-bit),app!%3Dnone')
    assert sorted(item['metadata']['name'] for item in listing['items']) == sorted(
        obj['metadata']['name'] for obj in expected.objects if obj['kind'] == 'Pod' and obj['metadata']['labels']['app'] in ('postgresql', 'fluent-bit'))
    code, listing = api_call(stub, pki, 'GET', '/api/v1/namespaces/dsr-production/pods?fieldSelector=status.phase%3DSucceeded')
    assert [item['metadata']['labels']['app'] for item in listing['items']] == [k8s_fixtures.BACKUP_CRONJOB]
    code, status = api_call(stub, pki, 'GET', '/apis/apps/v1/namespaces/dsr-production/deployments?fieldSelector=spec.replicas%3D3')
    assert (code, status['message']) == (400, '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"')
    seen, token = [], ''
    while True:
        code, page = api_call(stub, pki, 'GET', '/api/v1/namespaces/dsr-production/pods?limit=7' + ('&continue=' + token if token else ''))
        assert code == 200 and len(page['items']) <= 7
        seen += [item['metadata']['name'] for item in page['items']]
        token = page['metadata'].get('continue')
        if not token:
            break
        assert page['metadata']['remainingItemCount'] > 0
    assert seen == names(expected.objects, 'Pod')
    stub.set_faults(down={'code': 503, 'message': 'etcd cluster is unavailable or misconfigured', 'count': 2})
    unavailable = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'etcd cluster is unavailable or misconfigured',
                   'reason': 'ServiceUnavailable', 'code': 503}
    assert [api_call(stub, pki, 'GET', '/version') for attempt in range(2)] == [(503, unavailable), (503, unavailable)]
    assert api_call(stub, pki, 'GET', '/version')[0] == 200
    stub.set_faults(down={'code': 500, 'message': 'boom'})
    code, status = api_call(stub, pki, 'GET', '/api')
    assert (code, status['reason'], status['message'], status['details']) == (500, 'InternalError', 'Internal error occurred: boom',
                                                                              {'causes': [{'message': 'boom'}]})
    assert [entry['status'] for entry in control(stub, pki, 'requests', method='GET')['requests']][-5:] == [200, 503, 503, 200, 500]
