# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The DSR namespace ``dsr-production`` as a real cluster holds it, for ``k8s_stub.py``; test data, not a cluster.

Every object is built with the official ``kubernetes`` client's own model classes
(``V1Deployment``, ``V1Pod``, ``V1EndpointSlice``...) and serialised with
``ApiClient().sanitize_for_serialization``, so field names and shapes are the
real ones; timestamps are then written as the API server writes them
(``2026-12-03T02:00:04Z``). :func:`build` returns a :class:`Cluster` (``objects``,
a list of JSON dicts, and ``logs``, lines per pod, container and
previous-or-current) for the runbook's seven services and ``dsr-frontend``
(Deployments, their current and previous ReplicaSets and Pods owned through
``ownerReferences``), ``postgresql`` (a StatefulSet of two, headless Service,
PVCs from its claim template), ``fluent-bit`` (a DaemonSet), Services
(ClusterIP with ``clusterIP``/``clusterIPs``, one headless, one NodePort),
Endpoints and EndpointSlices, the Ingress with its load-balancer address,
ConfigMaps (with the server-made ``kube-root-ca.crt``), Secrets, ServiceAccounts,
a Role and RoleBindings, NetworkPolicies, an HPA, a PDB, PVCs, the CronJob
``postgresql-backup`` with three Jobs (the newest one's Pod and logs), Events,
three Nodes and four Namespaces.

Server-populated fields are there as a real cluster has them: ``uid``,
``resourceVersion``, ``creationTimestamp``, ``generation``, ``managedFields``
(``kubectl-client-side-apply``, ``kube-controller-manager``, ``kubelet``...),
``status``, ``clusterIP``, defaulted fields, the projected service-account
volume of Pods, and ``kubectl.kubernetes.io/last-applied-configuration`` on
what an operator applied with ``kubectl apply`` -- on the Secret
``dsr-db-credentials`` that annotation holds the password in clear, as it does
when a Secret is applied with ``stringData`` (:data:`DB_PASSWORD_KEY`).

All healthy by default; :data:`SCENARIOS` names functions that change it (see
each one's docstring). ``now`` fixes the clock; the same arguments give the
same objects. The objects are plausible, not what a real control plane would
have computed in every detail (hashes, IPs and UIDs are made up, no controller
keeps them consistent after a change).
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import random
import re
import sys
import uuid
from pathlib import Path

from kubernetes import client
from kubernetes.client import ApiClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8s_stub import fields_v1  # noqa: E402  pylint: disable=wrong-import-position

NAMESPACE = 'dsr-production'
APP_SERVICES = ('registration-service', 'data-management-service', 'eligibility-service', 'interoperability-service', 'payment-service',
                'grievance-service', 'analytics-service')
FRONTEND = 'dsr-frontend'
REPLICAS = {'registration-service': 3, 'data-management-service': 2, 'eligibility-service': 2, 'interoperability-service': 2,
            'payment-service': 3, 'grievance-service': 2, 'analytics-service': 1, FRONTEND: 2}
REGISTRY = 'registry.dsr.example/dsr'
APP_VERSION = '2.4.1'
PREVIOUS_VERSION = '2.4.0'
NODES = ('dsr-node-1', 'dsr-node-2', 'dsr-node-3')
KUBELET_VERSION = 'v1.32.4'
INGRESS_IP = '203.0.113.10'
INGRESS_HOST = 'dsr.gov.example'
BACKUP_CRONJOB = 'postgresql-backup'
BACKUP_SCHEDULE_HOUR = 2
# the Secret whose last-applied annotation holds its stringData in clear, and the key
DB_SECRET = 'dsr-db-credentials'
DB_PASSWORD_KEY = 'password'
LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'
_HASH_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'
_ISO_OFFSET = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?\+00:00$')


def _times_to_z(value):
    """sanitize_for_serialization writes ``isoformat()``; the API server writes RFC 3339 in UTC with ``Z``."""
    if isinstance(value, dict):
        return {key: _times_to_z(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_times_to_z(item) for item in value]
    if isinstance(value, str):
        match = _ISO_OFFSET.match(value)
        if match:
            return match.group(1) + (match.group(2) or '') + 'Z'
    return value


class Cluster:
    """The objects (JSON dicts) and pod logs of the fixture cluster, with helpers the scenarios use."""

    def __init__(self, now, seed=3101):
        self.now = now
        self.rng = random.Random(seed)
        self.objects = []
        self.logs = {}
        self.revision = 120000
        self._api = ApiClient()
        self._pod_ips = {}
        self.db_password = None

    # ------------------------------------------------------------ plumbing

    def serialise(self, model):
        return _times_to_z(self._api.sanitize_for_serialization(model))

    def add(self, model):
        obj = self.serialise(model) if not isinstance(model, dict) else model
        self.revision += self.rng.randint(1, 40)
        obj['metadata'].setdefault('resourceVersion', str(self.revision))
        self.objects.append(obj)
        return obj

    def touch(self, obj):
        """A new resourceVersion, as any write gets."""
        self.revision += self.rng.randint(1, 40)
        obj['metadata']['resourceVersion'] = str(self.revision)

    def find(self, kind, name, namespace=NAMESPACE):
        for obj in self.objects:
            meta = obj['metadata']
            if obj['kind'] == kind and meta['name'] == name and meta.get('namespace', namespace) == namespace:
                return obj
        return None

    def get(self, kind, name, namespace=NAMESPACE):
        obj = self.find(kind, name, namespace)
        if obj is None:
            raise KeyError('%s %s/%s is not in the fixtures' % (kind, namespace, name))
        return obj

    def select(self, kind, **labels):
        return [obj for obj in self.objects if obj['kind'] == kind
                and all((obj['metadata'].get('labels') or {}).get(key) == value for key, value in labels.items())]

    def owned_by(self, owner, kind=None):
        uid = owner['metadata']['uid']
        return [obj for obj in self.objects if (kind is None or obj['kind'] == kind)
                and any(ref.get('uid') == uid for ref in obj['metadata'].get('ownerReferences') or [])]

    def remove(self, obj):
        self.objects = [item for item in self.objects if item is not obj]
        if obj['kind'] == 'Pod':
            for key in [key for key in self.logs if key[:2] == (obj['metadata'].get('namespace'), obj['metadata']['name'])]:
                del self.logs[key]

    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, length):
        return ''.join(self.rng.choice(_HASH_ALPHABET) for _position in range(length))

    def ago(self, **delta):
        return self.now - datetime.timedelta(**delta)

    def pod_ip(self, node):
        index = NODES.index(node) + 1
        self._pod_ips[node] = self._pod_ips.get(node, 10) + self.rng.randint(1, 9)
        return '10.244.%d.%d' % (index, self._pod_ips[node])

    def stamp(self, moment):
        """A kubelet log timestamp (RFC 3339 with nanoseconds)."""
        return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.') + '%09dZ' % (moment.microsecond * 1000 + self.rng.randint(0, 999))

    def set_log(self, pod, container, lines, previous=False):
        self.logs[(pod['metadata']['namespace'], pod['metadata']['name'], container, previous)] = lines


def _owner(obj):
    return client.V1OwnerReference(api_version=obj['apiVersion'], kind=obj['kind'], name=obj['metadata']['name'], uid=obj['metadata']['uid'],
                                   controller=True, block_owner_deletion=True)


def _managed(manager, api_version, moment, fields, operation='Update', subresource=None):
    return client.V1ManagedFieldsEntry(manager=manager, operation=operation, api_version=api_version, time=moment, fields_type='FieldsV1',
                                       fields_v1=fields, subresource=subresource)


def _status_fields(status):
    return {'f:status': fields_v1({'status': status}).get('f:status', {})}


def _last_applied(manifest):
    return json.dumps(manifest, separators=(',', ':'), sort_keys=True) + '\n'


def _applied_by_kubectl(cluster, manifest_model, stored_model, created, status_manager='kube-controller-manager'):
    """Add an object an operator created with ``kubectl apply``: its last-applied annotation and managedFields."""
    manifest = cluster.serialise(manifest_model)
    stored = cluster.serialise(stored_model)
    meta = stored['metadata']
    meta.setdefault('annotations', {})[LAST_APPLIED] = _last_applied(manifest)
    applied_fields = fields_v1(manifest)
    applied_fields.setdefault('f:metadata', {}).setdefault('f:annotations', {}).update({'.': {}, 'f:%s' % LAST_APPLIED: {}})
    entries = [_managed('kubectl-client-side-apply', stored['apiVersion'], created, applied_fields)]
    if stored.get('status'):
        entries.append(_managed(status_manager, stored['apiVersion'], created + datetime.timedelta(seconds=40), _status_fields(stored['status']),
                                subresource='status'))
    meta['managedFields'] = [cluster.serialise(entry) for entry in entries]
    return cluster.add(stored)


def _meta(cluster, name, created, labels=None, annotations=None, namespace=NAMESPACE, generation=None, **extra):
    return client.V1ObjectMeta(name=name, namespace=namespace, labels=labels, annotations=annotations, uid=cluster.uid(),
                               creation_timestamp=created, generation=generation, **extra)


def _manifest_meta(name, labels=None, annotations=None, namespace=NAMESPACE):
    return client.V1ObjectMeta(name=name, namespace=namespace, labels=labels, annotations=annotations)


def _app_labels(name, component='backend'):
    return {'app': name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'dsr', 'app.kubernetes.io/component': component}


# ---------------------------------------------------------------- pod templates


def _probe(path, port, defaults, initial=20):
    return client.V1Probe(http_get=client.V1HTTPGetAction(path=path, port=port, scheme='HTTP' if defaults else None),
                          initial_delay_seconds=initial, period_seconds=10, timeout_seconds=1 if defaults else None,
                          success_threshold=1 if defaults else None, failure_threshold=3 if defaults else None)


def _app_container(name, version, defaults):
    frontend = name == FRONTEND
    port = 80 if frontend else 8080
    env = None if frontend else [
        client.V1EnvVar(name='SPRING_PROFILES_ACTIVE', value='production'),
        client.V1EnvVar(name='DB_PASSWORD', value_from=client.V1EnvVarSource(secret_key_ref=client.V1SecretKeySelector(name=DB_SECRET, key=DB_PASSWORD_KEY))),
        client.V1EnvVar(name='JAVA_TOOL_OPTIONS', value='-XX:MaxRAMPercentage=75'),
    ]
    env_from = None if frontend else [client.V1EnvFromSource(config_map_ref=client.V1ConfigMapEnvSource(name='dsr-config'))]
    return client.V1Container(
        name=name, image='%s/%s:%s' % (REGISTRY, name, version), image_pull_policy='IfNotPresent' if defaults else None,
        ports=[client.V1ContainerPort(name='http', container_port=port, protocol='TCP' if defaults else None)],
        env=env, env_from=env_from,
        resources=client.V1ResourceRequirements(requests={'cpu': '100m' if frontend else '250m', 'memory': '64Mi' if frontend else '512Mi'},
                                                limits={'memory': '128Mi' if frontend else '1Gi'}),
        readiness_probe=_probe('/' if frontend else '/actuator/health/readiness', 'http', defaults, 5 if frontend else 20),
        liveness_probe=_probe('/' if frontend else '/actuator/health/liveness', 'http', defaults, 10 if frontend else 60),
        volume_mounts=[client.V1VolumeMount(name='nginx-conf', mount_path='/etc/nginx/conf.d', read_only=True)] if frontend else None,
        termination_message_path='/dev/termination-log' if defaults else None, termination_message_policy='File' if defaults else None)


def _pod_spec(containers, defaults, volumes=None, service_account='dsr-app', restart='Always', **extra):
    return client.V1PodSpec(
        containers=containers, volumes=volumes, service_account_name=service_account,
        service_account=service_account if defaults else None,
        restart_policy=restart if defaults or restart != 'Always' else None,
        termination_grace_period_seconds=30 if defaults else None, dns_policy='ClusterFirst' if defaults else None,
        security_context=client.V1PodSecurityContext() if defaults else None, scheduler_name='default-scheduler' if defaults else None,
        image_pull_secrets=[client.V1LocalObjectReference(name='dsr-registry-pull')], **extra)


def _frontend_volumes():
    return [client.V1Volume(name='nginx-conf', config_map=client.V1ConfigMapVolumeSource(name='dsr-frontend-nginx', default_mode=420))]


def _template(name, version, defaults, template_hash=None):
    labels = _app_labels(name, 'frontend' if name == FRONTEND else 'backend')
    if template_hash:
        labels = dict(labels, **{'pod-template-hash': template_hash})
    volumes = _frontend_volumes() if name == FRONTEND else None
    if volumes and not defaults:
        volumes[0].config_map.default_mode = None
    return client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=labels),
                                    spec=_pod_spec([_app_container(name, version, defaults)], defaults, volumes=volumes))


def _pod_defaults(cluster, spec, node, defaults=True):
    """What admission and the scheduler add to a Pod: node, priority, tolerations, the service-account token volume."""
    token_volume = 'kube-api-access-%s' % cluster.suffix(5)
    spec.node_name = node
    spec.enable_service_links = True
    spec.preemption_policy = 'PreemptLowerPriority'
    spec.priority = 0
    spec.tolerations = [client.V1Toleration(key='node.kubernetes.io/not-ready', operator='Exists', effect='NoExecute', toleration_seconds=300),
                        client.V1Toleration(key='node.kubernetes.io/unreachable', operator='Exists', effect='NoExecute', toleration_seconds=300)]
    spec.volumes = (spec.volumes or []) + [client.V1Volume(name=token_volume, projected=client.V1ProjectedVolumeSource(default_mode=420, sources=[
        client.V1VolumeProjection(service_account_token=client.V1ServiceAccountTokenProjection(expiration_seconds=3607, path='token')),
        client.V1VolumeProjection(config_map=client.V1ConfigMapProjection(name='kube-root-ca.crt', items=[client.V1KeyToPath(key='ca.crt', path='ca.crt')])),
        client.V1VolumeProjection(downward_api=client.V1DownwardAPIProjection(items=[client.V1DownwardAPIVolumeFile(
            path='namespace', field_ref=client.V1ObjectFieldSelector(api_version='v1', field_path='metadata.namespace'))]))]))]
    for container in spec.containers:
        container.volume_mounts = (container.volume_mounts or []) + [
            client.V1VolumeMount(name=token_volume, mount_path='/var/run/secrets/kubernetes.io/serviceaccount', read_only=True)]
    del defaults
    return spec


def _running_status(cluster, pod_spec, node, started, ready=True):
    ip = cluster.pod_ip(node)
    host_ip = '10.20.1.%d' % (11 + NODES.index(node))
    statuses = []
    for container in pod_spec.containers:
        statuses.append(client.V1ContainerStatus(
            name=container.name, image=container.image, image_id='%s@sha256:%s' % (container.image.split(':')[0], '%064x' % cluster.rng.getrandbits(256)),
            container_id='containerd://%064x' % cluster.rng.getrandbits(256), ready=ready, started=True, restart_count=0,
            state=client.V1ContainerState(running=client.V1ContainerStateRunning(started_at=started + datetime.timedelta(seconds=6))),
            last_state=client.V1ContainerState()))
    conditions = [client.V1PodCondition(type=kind, status='True', last_transition_time=started + datetime.timedelta(seconds=offset))
                  for kind, offset in (('PodReadyToStartContainers', 5), ('Initialized', 1), ('Ready', 35), ('ContainersReady', 35), ('PodScheduled', 0))]
    return client.V1PodStatus(phase='Running', conditions=conditions, host_ip=host_ip, host_ips=[client.V1HostIP(ip=host_ip)], pod_ip=ip,
                              pod_ips=[client.V1PodIP(ip=ip)], start_time=started, container_statuses=statuses, qos_class='Burstable')


def _pod(cluster, name, owner, template_model, node, started, extra_labels=None):
    """A Pod made by a controller from a template: generateName, ownerReferences, defaults, Running and Ready."""
    spec = _pod_defaults(cluster, copy.deepcopy(template_model.spec), node)
    labels = dict(template_model.metadata.labels or {}, **(extra_labels or {}))
    meta = _meta(cluster, name, started, labels=labels, generate_name=name.rsplit('-', 1)[0] + '-', owner_references=[_owner(owner)])
    status = _running_status(cluster, spec, node, started)
    pod = cluster.serialise(client.V1Pod(api_version='v1', kind='Pod', metadata=meta, spec=spec, status=status))
    pod['metadata']['managedFields'] = [
        cluster.serialise(_managed('kube-controller-manager', 'v1', started,
                                   {'f:metadata': {'f:generateName': {}, 'f:labels': {}, 'f:ownerReferences': {}}, 'f:spec': {}})),
        cluster.serialise(_managed('kubelet', 'v1', started + datetime.timedelta(seconds=35), _status_fields(pod['status']), subresource='status'))]
    return cluster.add(pod)


# ---------------------------------------------------------------- workloads


def _deployment(cluster, name, replicas, created, revision=3):
    labels = _app_labels(name, 'frontend' if name == FRONTEND else 'backend')
    selector = client.V1LabelSelector(match_labels={'app': name})
    manifest = client.V1Deployment(api_version='apps/v1', kind='Deployment', metadata=_manifest_meta(name, labels),
                                   spec=client.V1DeploymentSpec(replicas=replicas, selector=selector, template=_template(name, APP_VERSION, False)))
    rollout = cluster.ago(days=2, hours=cluster.rng.randint(1, 20))
    generation = revision + 1
    status = client.V1DeploymentStatus(
        observed_generation=generation, replicas=replicas, updated_replicas=replicas, ready_replicas=replicas or None,
        available_replicas=replicas or None, conditions=[
            client.V1DeploymentCondition(type='Available', status='True', reason='MinimumReplicasAvailable',
                                         message='Deployment has minimum availability.', last_update_time=rollout + datetime.timedelta(minutes=1),
                                         last_transition_time=rollout + datetime.timedelta(minutes=1)),
            client.V1DeploymentCondition(type='Progressing', status='True', reason='NewReplicaSetAvailable',
                                         last_update_time=rollout + datetime.timedelta(minutes=1),
                                         last_transition_time=created, message='ReplicaSet "%s" has successfully progressed.' % name)])
    stored = client.V1Deployment(
        api_version='apps/v1', kind='Deployment',
        metadata=_meta(cluster, name, created, labels, annotations={'deployment.kubernetes.io/revision': str(revision)}, generation=generation),
        spec=client.V1DeploymentSpec(replicas=replicas, selector=selector, template=_template(name, APP_VERSION, True),
                                     strategy=client.V1DeploymentStrategy(type='RollingUpdate', rolling_update=client.V1RollingUpdateDeployment(
                                         max_surge='25%', max_unavailable='25%')),
                                     revision_history_limit=10, progress_deadline_seconds=600),
        status=status)
    deployment = _applied_by_kubectl(cluster, manifest, stored, created)
    deployment['metadata']['managedFields'].insert(1, cluster.serialise(_managed(
        'kube-controller-manager', 'apps/v1', rollout, {'f:metadata': {'f:annotations': {'f:deployment.kubernetes.io/revision': {}}}})))
    return deployment, rollout


def _replicaset(cluster, deployment, version, replicas, revision, created, template_hash=None):
    name = deployment['metadata']['name']
    template_hash = template_hash or cluster.suffix(10)
    template = _template(name, version, True, template_hash)
    labels = dict(template.metadata.labels)
    annotations = {'deployment.kubernetes.io/desired-replicas': str(deployment['spec']['replicas']), 'deployment.kubernetes.io/max-replicas': str(
        deployment['spec']['replicas'] + max(1, -(-deployment['spec']['replicas'] // 4))), 'deployment.kubernetes.io/revision': str(revision)}
    status = client.V1ReplicaSetStatus(replicas=replicas, fully_labeled_replicas=replicas or None, ready_replicas=replicas or None,
                                       available_replicas=replicas or None, observed_generation=2 if replicas else 3)
    rs = cluster.serialise(client.V1ReplicaSet(
        api_version='apps/v1', kind='ReplicaSet',
        metadata=_meta(cluster, '%s-%s' % (name, template_hash), created, labels, annotations=annotations, generation=2 if replicas else 3,
                       owner_references=[_owner(deployment)]),
        spec=client.V1ReplicaSetSpec(replicas=replicas, selector=client.V1LabelSelector(match_labels={'app': name, 'pod-template-hash': template_hash}),
                                     template=template),
        status=status))
    rs['metadata']['managedFields'] = [
        cluster.serialise(_managed('kube-controller-manager', 'apps/v1', created,
                                   {'f:metadata': {'f:annotations': {}, 'f:labels': {}, 'f:ownerReferences': {}}, 'f:spec': {}})),
        cluster.serialise(_managed('kube-controller-manager', 'apps/v1', created + datetime.timedelta(seconds=40), _status_fields(rs['status']),
                                   subresource='status'))]
    return cluster.add(rs), template


def _app_pod_log(cluster, name, started, count=30):
    lines = [(cluster.stamp(started + datetime.timedelta(seconds=4)), '  .   ____          _            __ _ _'),
             (cluster.stamp(started + datetime.timedelta(seconds=9)),
              '%s INFO 1 --- [%s] [           main] o.d.%s.Application : Started Application in 8.412 seconds (process running for 9.1)'
              % ((started + datetime.timedelta(seconds=9)).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z', name, name.split('-')[0]))]
    span = (cluster.now - started).total_seconds() - 30
    moments = sorted(started + datetime.timedelta(seconds=30 + cluster.rng.random() * span) for _line in range(count))
    for moment in moments[-count:]:
        status = cluster.rng.choice([200, 200, 200, 200, 201, 204, 404])
        path = cluster.rng.choice(['/api/v1/households', '/api/v1/members', '/api/v1/programs', '/actuator/health'])
        lines.append((cluster.stamp(moment), '%s INFO 1 --- [%s] [nio-8080-exec-%d] o.d.api.RequestLogger : GET %s %d (%d ms)'
                      % (moment.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z', name, cluster.rng.randint(1, 10), path, status, cluster.rng.randint(3, 250))))
    return lines


def _nginx_log(cluster, started, count=30):
    lines = [(cluster.stamp(started + datetime.timedelta(seconds=2)), '/docker-entrypoint.sh: Configuration complete; ready for start up')]
    span = (cluster.now - started).total_seconds() - 10
    for moment in sorted(started + datetime.timedelta(seconds=10 + cluster.rng.random() * span) for _line in range(count)):
        lines.append((cluster.stamp(moment), '10.244.%d.%d - - [%s] "GET %s HTTP/1.1" 200 %d "-" "Mozilla/5.0"'
                      % (cluster.rng.randint(1, 3), cluster.rng.randint(2, 250), moment.strftime('%d/%b/%Y:%H:%M:%S +0000'),
                         cluster.rng.choice(['/', '/static/js/main.js', '/static/css/main.css', '/favicon.ico']), cluster.rng.randint(300, 90000))))
    return lines


def _add_deployment(cluster, name, created, nodes):
    replicas = REPLICAS[name]
    deployment, rollout = _deployment(cluster, name, replicas, created)
    _replicaset(cluster, deployment, PREVIOUS_VERSION, 0, 2, cluster.ago(days=9))
    rs, template = _replicaset(cluster, deployment, APP_VERSION, replicas, 3, rollout)
    for index in range(replicas):
        node = nodes[index % len(nodes)]
        started = rollout + datetime.timedelta(seconds=20 * index + cluster.rng.randint(1, 15))
        pod = _pod(cluster, '%s-%s' % (rs['metadata']['name'], cluster.suffix(5)), rs, template, node, started)
        cluster.set_log(pod, name, _nginx_log(cluster, started) if name == FRONTEND else _app_pod_log(cluster, name, started))
    return deployment


def _add_postgresql(cluster, created):
    name = 'postgresql'
    labels = {'app': name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'dsr', 'app.kubernetes.io/component': 'database'}

    def container(defaults):
        return client.V1Container(
            name=name, image='postgres:15.10', image_pull_policy='IfNotPresent' if defaults else None,
            ports=[client.V1ContainerPort(name='postgres', container_port=5432, protocol='TCP' if defaults else None)],
            env=[client.V1EnvVar(name='POSTGRES_PASSWORD', value_from=client.V1EnvVarSource(secret_key_ref=client.V1SecretKeySelector(
                name=DB_SECRET, key=DB_PASSWORD_KEY))), client.V1EnvVar(name='PGDATA', value='/var/lib/postgresql/data/pgdata')],
            resources=client.V1ResourceRequirements(requests={'cpu': '1', 'memory': '2Gi'}, limits={'memory': '4Gi'}),
            readiness_probe=client.V1Probe(var_exec=client.V1ExecAction(command=['pg_isready', '-U', 'postgres']), period_seconds=10,
                                           timeout_seconds=1 if defaults else None, success_threshold=1 if defaults else None,
                                           failure_threshold=3 if defaults else None),
            volume_mounts=[client.V1VolumeMount(name='data', mount_path='/var/lib/postgresql/data'),
                           client.V1VolumeMount(name='config', mount_path='/etc/postgresql/conf.d')],
            termination_message_path='/dev/termination-log' if defaults else None, termination_message_policy='File' if defaults else None)

    def claim(defaults):
        return client.V1PersistentVolumeClaim(
            api_version='v1' if defaults else None, kind='PersistentVolumeClaim' if defaults else None,
            metadata=client.V1ObjectMeta(name='data'),
            spec=client.V1PersistentVolumeClaimSpec(access_modes=['ReadWriteOnce'], storage_class_name='standard',
                                                    resources=client.V1VolumeResourceRequirements(requests={'storage': '20Gi'}),
                                                    volume_mode='Filesystem' if defaults else None),
            status=client.V1PersistentVolumeClaimStatus(phase='Pending') if defaults else None)

    def spec(defaults):
        template = client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={'app': name, 'app.kubernetes.io/name': name}), spec=_pod_spec(
            [container(defaults)], defaults, service_account='dsr-app',
            volumes=[client.V1Volume(name='config', config_map=client.V1ConfigMapVolumeSource(name='postgresql-config',
                                                                                              default_mode=420 if defaults else None))]))
        return client.V1StatefulSetSpec(
            replicas=2, service_name='postgresql-headless', selector=client.V1LabelSelector(match_labels={'app': name}), template=template,
            volume_claim_templates=[claim(defaults)],
            pod_management_policy='OrderedReady' if defaults else None, revision_history_limit=10 if defaults else None,
            update_strategy=client.V1StatefulSetUpdateStrategy(type='RollingUpdate', rolling_update=client.V1RollingUpdateStatefulSetStrategy(
                partition=0)) if defaults else None,
            persistent_volume_claim_retention_policy=client.V1StatefulSetPersistentVolumeClaimRetentionPolicy(
                when_deleted='Retain', when_scaled='Retain') if defaults else None)

    revision = '%s-%s' % (name, cluster.suffix(10))
    status = client.V1StatefulSetStatus(replicas=2, ready_replicas=2, current_replicas=2, updated_replicas=2, available_replicas=2,
                                        current_revision=revision, update_revision=revision, observed_generation=1, collision_count=0)
    stored = client.V1StatefulSet(api_version='apps/v1', kind='StatefulSet', metadata=_meta(cluster, name, created, labels, generation=1),
                                  spec=spec(True), status=status)
    manifest = client.V1StatefulSet(api_version='apps/v1', kind='StatefulSet', metadata=_manifest_meta(name, labels), spec=spec(False))
    sts = _applied_by_kubectl(cluster, manifest, stored, created)
    template = spec(True).template
    for ordinal in range(2):
        pod_name = '%s-%d' % (name, ordinal)
        started = created + datetime.timedelta(minutes=ordinal + 1)
        pod_spec = copy.deepcopy(template.spec)
        pod_spec.hostname = pod_name
        pod_spec.subdomain = 'postgresql-headless'
        pod_spec.volumes = [client.V1Volume(name='data', persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
            claim_name='data-%s' % pod_name))] + pod_spec.volumes
        pod = _pod(cluster, pod_name, sts, client.V1PodTemplateSpec(metadata=template.metadata, spec=pod_spec), NODES[ordinal], started,
                   extra_labels={'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': pod_name,
                                 'apps.kubernetes.io/pod-index': str(ordinal)})
        pod['metadata']['generateName'] = name + '-'
        lines = [(cluster.stamp(started + datetime.timedelta(seconds=5)), '%s UTC [1] LOG:  starting PostgreSQL 15.10 (Debian 15.10-1.pgdg120+1) on '
                  'x86_64-pc-linux-gnu' % (started + datetime.timedelta(seconds=5)).strftime('%Y-%m-%d %H:%M:%S.000')),
                 (cluster.stamp(started + datetime.timedelta(seconds=6)), '%s UTC [1] LOG:  database system is ready to accept connections'
                  % (started + datetime.timedelta(seconds=6)).strftime('%Y-%m-%d %H:%M:%S.000'))]
        moment = max(started, cluster.ago(hours=6))
        while moment < cluster.now:
            lines.append((cluster.stamp(moment), '%s UTC [%d] LOG:  checkpoint complete: wrote %d buffers (%.1f%%); 0 WAL file(s) added'
                          % (moment.strftime('%Y-%m-%d %H:%M:%S.000'), 60 + ordinal, cluster.rng.randint(40, 900), cluster.rng.random() * 5)))
            moment += datetime.timedelta(minutes=30)
        cluster.set_log(pod, name, lines)
        _pvc(cluster, 'data-%s' % pod_name, '20Gi', created + datetime.timedelta(minutes=ordinal), {'app': name})
    return sts


def _pvc(cluster, name, size, created, labels=None, manifest=False):
    def spec(defaults):
        return client.V1PersistentVolumeClaimSpec(access_modes=['ReadWriteOnce'], storage_class_name='standard',
                                                  resources=client.V1VolumeResourceRequirements(requests={'storage': size}),
                                                  volume_mode='Filesystem' if defaults else None,
                                                  volume_name='pvc-%s' % cluster.uid() if defaults else None)
    annotations = {'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes',
                   'volume.beta.kubernetes.io/storage-provisioner': 'rancher.io/local-path', 'volume.kubernetes.io/selected-node': NODES[0],
                   'volume.kubernetes.io/storage-provisioner': 'rancher.io/local-path'}
    stored = client.V1PersistentVolumeClaim(
        api_version='v1', kind='PersistentVolumeClaim',
        metadata=_meta(cluster, name, created, labels, annotations=annotations, finalizers=['kubernetes.io/pvc-protection']), spec=spec(True),
        status=client.V1PersistentVolumeClaimStatus(phase='Bound', access_modes=['ReadWriteOnce'], capacity={'storage': size}))
    if manifest:
        applied = client.V1PersistentVolumeClaim(api_version='v1', kind='PersistentVolumeClaim', metadata=_manifest_meta(name, labels), spec=spec(False))
        return _applied_by_kubectl(cluster, applied, stored, created)
    return cluster.add(stored)


def _add_daemonset(cluster, created):
    name = 'fluent-bit'
    labels = {'app': name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'dsr', 'app.kubernetes.io/component': 'logging'}

    def spec(defaults):
        container = client.V1Container(
            name=name, image='cr.fluentbit.io/fluent/fluent-bit:3.2.2', image_pull_policy='IfNotPresent' if defaults else None,
            resources=client.V1ResourceRequirements(requests={'cpu': '50m', 'memory': '64Mi'}, limits={'memory': '128Mi'}),
            volume_mounts=[client.V1VolumeMount(name='varlog', mount_path='/var/log', read_only=True)],
            termination_message_path='/dev/termination-log' if defaults else None, termination_message_policy='File' if defaults else None)
        host_path = client.V1HostPathVolumeSource(path='/var/log', type='' if defaults else None)
        pod_spec = _pod_spec([container], defaults, service_account='default', volumes=[client.V1Volume(name='varlog', host_path=host_path)])
        pod_spec.image_pull_secrets = None
        return client.V1DaemonSetSpec(
            selector=client.V1LabelSelector(match_labels={'app': name}),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={'app': name, 'app.kubernetes.io/name': name}), spec=pod_spec),
            revision_history_limit=10 if defaults else None,
            update_strategy=client.V1DaemonSetUpdateStrategy(type='RollingUpdate', rolling_update=client.V1RollingUpdateDaemonSet(
                max_surge=0, max_unavailable=1)) if defaults else None)

    status = client.V1DaemonSetStatus(current_number_scheduled=3, desired_number_scheduled=3, number_available=3, number_misscheduled=0,
                                      number_ready=3, observed_generation=1, updated_number_scheduled=3)
    ds = _applied_by_kubectl(cluster, client.V1DaemonSet(api_version='apps/v1', kind='DaemonSet', metadata=_manifest_meta(name, labels), spec=spec(False)),
                             client.V1DaemonSet(api_version='apps/v1', kind='DaemonSet', metadata=_meta(cluster, name, created, labels, generation=1),
                                                spec=spec(True), status=status), created)
    revision = cluster.suffix(10)
    template = spec(True).template
    for node in NODES:
        pod = _pod(cluster, '%s-%s' % (name, cluster.suffix(5)), ds, template, node, created + datetime.timedelta(seconds=NODES.index(node) * 3 + 2),
                   extra_labels={'controller-revision-hash': revision, 'pod-template-generation': '1'})
        cluster.set_log(pod, name, [(cluster.stamp(created + datetime.timedelta(seconds=9)), '[2026/01/01 00:00:00] [ info] [fluent bit] version=3.2.2'),
                                    (cluster.stamp(cluster.ago(minutes=3)), '[output:es:es.0] worker #0 started')])
    return ds


# ---------------------------------------------------------------- services and networking


def _service(cluster, name, selector, ports, created, kind='ClusterIP', headless=False, node_ports=None):
    def spec(defaults):
        service_ports = []
        for index, (port_name, port, target) in enumerate(ports):
            service_ports.append(client.V1ServicePort(name=port_name, port=port, target_port=target, protocol='TCP' if defaults else None,
                                                      node_port=(node_ports or [None] * len(ports))[index] if defaults else None))
        ip = 'None' if headless else '10.96.%d.%d' % (cluster.rng.randint(0, 255), cluster.rng.randint(2, 254))
        return client.V1ServiceSpec(
            selector=selector, ports=service_ports, type=kind if defaults or kind != 'ClusterIP' else None,
            cluster_ip=ip if defaults or headless else None, cluster_ips=[ip] if defaults else None,
            ip_families=['IPv4'] if defaults else None, ip_family_policy='SingleStack' if defaults else None,
            internal_traffic_policy='Cluster' if defaults else None, session_affinity='None' if defaults else None,
            external_traffic_policy='Cluster' if defaults and kind == 'NodePort' else None,
            publish_not_ready_addresses=True if headless else None)
    labels = {'app.kubernetes.io/part-of': 'dsr', 'app.kubernetes.io/name': name}
    stored = client.V1Service(api_version='v1', kind='Service', metadata=_meta(cluster, name, created, labels), spec=spec(True),
                              status=client.V1ServiceStatus(load_balancer=client.V1LoadBalancerStatus()))
    manifest = client.V1Service(api_version='v1', kind='Service', metadata=_manifest_meta(name, labels), spec=spec(False))
    service = _applied_by_kubectl(cluster, manifest, stored, created)
    service['metadata']['managedFields'] = service['metadata']['managedFields'][:1]
    return service


def _endpoints_for(cluster, service, pods, ports):
    """The Endpoints and EndpointSlice the control plane keeps for a Service's ready Pods."""
    name = service['metadata']['name']
    created = parse_time(service['metadata']['creationTimestamp'])
    ready = [pod for pod in pods if pod['status'].get('podIP')]
    ep_ports = [client.CoreV1EndpointPort(name=port_name, port=target_port, protocol='TCP') for port_name, target_port in ports]
    addresses = [client.V1EndpointAddress(ip=pod['status']['podIP'], node_name=pod['spec']['nodeName'], target_ref=client.V1ObjectReference(
        kind='Pod', name=pod['metadata']['name'], namespace=NAMESPACE, uid=pod['metadata']['uid'])) for pod in ready if _pod_ready(pod)]
    not_ready = [client.V1EndpointAddress(ip=pod['status']['podIP'], node_name=pod['spec']['nodeName'], target_ref=client.V1ObjectReference(
        kind='Pod', name=pod['metadata']['name'], namespace=NAMESPACE, uid=pod['metadata']['uid'])) for pod in ready if not _pod_ready(pod)]
    subsets = [client.V1EndpointSubset(addresses=addresses or None, not_ready_addresses=not_ready or None, ports=ep_ports)] if ready else None
    endpoints = cluster.serialise(client.V1Endpoints(api_version='v1', kind='Endpoints', metadata=_meta(
        cluster, name, created, labels=dict(service['metadata'].get('labels') or {}),
        annotations={'endpoints.kubernetes.io/last-change-trigger-time': rfc3339_of(cluster.ago(days=2))}), subsets=subsets))
    endpoints['metadata']['managedFields'] = [cluster.serialise(_managed('kube-controller-manager', 'v1', created, {'f:metadata': {}, 'f:subsets': {}}))]
    cluster.add(endpoints)
    slice_endpoints = [client.V1Endpoint(addresses=[pod['status']['podIP']], node_name=pod['spec']['nodeName'],
                                         conditions=client.V1EndpointConditions(ready=_pod_ready(pod), serving=_pod_ready(pod), terminating=False),
                                         target_ref=client.V1ObjectReference(kind='Pod', name=pod['metadata']['name'], namespace=NAMESPACE,
                                                                             uid=pod['metadata']['uid'])) for pod in ready]
    labels = dict(service['metadata'].get('labels') or {}, **{'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
                                                              'kubernetes.io/service-name': name})
    eps = cluster.serialise(client.V1EndpointSlice(
        api_version='discovery.k8s.io/v1', kind='EndpointSlice', address_type='IPv4',
        metadata=_meta(cluster, '%s-%s' % (name, cluster.suffix(5)), created, labels, generate_name=name + '-', generation=len(ready) + 1,
                       annotations={'endpoints.kubernetes.io/last-change-trigger-time': rfc3339_of(cluster.ago(days=2))},
                       owner_references=[client.V1OwnerReference(api_version='v1', kind='Service', name=name, uid=service['metadata']['uid'],
                                                                 controller=True, block_owner_deletion=True)]),
        endpoints=slice_endpoints or None,
        ports=[client.DiscoveryV1EndpointPort(name=port_name, port=target_port, protocol='TCP') for port_name, target_port in ports]))
    eps['metadata']['managedFields'] = [cluster.serialise(_managed('kube-controller-manager', 'discovery.k8s.io/v1', created,
                                                                   {'f:addressType': {}, 'f:endpoints': {}, 'f:metadata': {}, 'f:ports': {}}))]
    if eps.get('endpoints') is None:
        eps['endpoints'] = None
    cluster.add(eps)


def refresh_endpoints(cluster, service_name, selector):
    """Rebuild a Service's Endpoints and EndpointSlice from the Pods its selector matches now (scenarios call it)."""
    service = cluster.get('Service', service_name)
    for obj in list(cluster.objects):
        labels = obj['metadata'].get('labels') or {}
        if (obj['kind'] == 'Endpoints' and obj['metadata']['name'] == service_name) or (
                obj['kind'] == 'EndpointSlice' and labels.get('kubernetes.io/service-name') == service_name):
            cluster.remove(obj)
    pods = [pod for pod in cluster.select('Pod', **selector) if pod['status'].get('phase') == 'Running']
    named = {}
    for pod in cluster.select('Pod', **selector):
        for container in pod['spec']['containers']:
            named.update({port['name']: port['containerPort'] for port in container.get('ports') or [] if port.get('name')})
    ports = []
    for port in service['spec']['ports']:
        target = port.get('targetPort', port['port'])
        ports.append((port.get('name'), named.get(target, 8080) if isinstance(target, str) else target))
    _endpoints_for(cluster, service, pods, ports)


def _pod_ready(pod):
    return any(cond['type'] == 'Ready' and cond['status'] == 'True' for cond in pod['status'].get('conditions') or [])


def rfc3339_of(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def _add_ingress(cluster, created):
    name = 'dsr-ingress'
    labels = {'app.kubernetes.io/part-of': 'dsr'}
    annotations = {'nginx.ingress.kubernetes.io/proxy-body-size': '20m', 'cert-manager.io/cluster-issuer': 'dsr-ca'}

    def backend(service):
        return client.V1IngressBackend(service=client.V1IngressServiceBackend(name=service, port=client.V1ServiceBackendPort(number=80)))

    paths = [client.V1HTTPIngressPath(path='/', path_type='Prefix', backend=backend(FRONTEND))]
    paths += [client.V1HTTPIngressPath(path='/api/%s' % service.replace('-service', ''), path_type='Prefix', backend=backend(service))
              for service in APP_SERVICES]
    spec = client.V1IngressSpec(ingress_class_name='nginx', tls=[client.V1IngressTLS(hosts=[INGRESS_HOST], secret_name='dsr-tls')],
                                rules=[client.V1IngressRule(host=INGRESS_HOST, http=client.V1HTTPIngressRuleValue(paths=paths))])
    stored = client.V1Ingress(api_version='networking.k8s.io/v1', kind='Ingress', metadata=_meta(cluster, name, created, labels, annotations, generation=1),
                              spec=spec, status=client.V1IngressStatus(load_balancer=client.V1IngressLoadBalancerStatus(
                                  ingress=[client.V1IngressLoadBalancerIngress(ip=INGRESS_IP)])))
    manifest = client.V1Ingress(api_version='networking.k8s.io/v1', kind='Ingress', metadata=_manifest_meta(name, labels, annotations), spec=spec)
    return _applied_by_kubectl(cluster, manifest, stored, created, status_manager='nginx-ingress-controller')


# ---------------------------------------------------------------- configuration


def _add_configuration(cluster, created):
    labels = {'app.kubernetes.io/part-of': 'dsr'}
    data = {'DB_HOST': 'postgresql', 'DB_PORT': '5432', 'DB_NAME': 'dsr_db', 'DB_USER': 'dsr_app', 'LOG_LEVEL': 'INFO',
            'PAYMENT_GATEWAY_URL': 'https://payments.gov.example/api', 'FEATURE_GRIEVANCE_SMS': 'true'}
    for name, content in (('dsr-config', data),
                          ('dsr-frontend-nginx', {'default.conf': 'server {\n  listen 80;\n  root /usr/share/nginx/html;\n'
                                                                  '  location / { try_files $uri /index.html; }\n}\n'}),
                          ('postgresql-config', {'dsr.conf': 'max_connections = 200\nshared_buffers = 1GB\nlog_min_duration_statement = 1000\n'})):
        manifest = client.V1ConfigMap(api_version='v1', kind='ConfigMap', metadata=_manifest_meta(name, labels), data=content)
        stored = client.V1ConfigMap(api_version='v1', kind='ConfigMap', metadata=_meta(cluster, name, created, labels), data=content)
        _applied_by_kubectl(cluster, manifest, stored, created)
    # made by the control plane in every namespace
    root = cluster.serialise(client.V1ConfigMap(api_version='v1', kind='ConfigMap', metadata=_meta(
        cluster, 'kube-root-ca.crt', cluster.ago(days=200), annotations={'kubernetes.io/description': (
            'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or '
            'kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.')}),
        data={'ca.crt': _pem('CERTIFICATE', 'kubernetes-ca')}))
    root['metadata']['managedFields'] = [cluster.serialise(_managed('kube-controller-manager', 'v1', cluster.ago(days=200),
                                                                    {'f:data': {'.': {}, 'f:ca.crt': {}}, 'f:metadata': {'f:annotations': {}}}))]
    cluster.add(root)


def _pem(kind, text):
    body = base64.b64encode(('dsr.ops k8s_fixtures placeholder %s, not a real %s' % (text, kind.lower())).encode()).decode()
    return '-----BEGIN %s-----\n%s\n-----END %s-----\n' % (kind, body, kind)


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _add_secrets(cluster, created):
    labels = {'app.kubernetes.io/part-of': 'dsr'}
    password = 'dsr-%s' % ''.join(cluster.rng.choice('abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789') for _position in range(20))
    # applied with stringData: kubectl keeps the clear text in the last-applied annotation, the server stores base64 data
    manifest = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': DB_SECRET, 'namespace': NAMESPACE, 'labels': labels}, 'type': 'Opaque',
                'stringData': {'username': 'dsr_app', DB_PASSWORD_KEY: password}}
    stored = client.V1Secret(api_version='v1', kind='Secret', metadata=_meta(cluster, DB_SECRET, created, labels), type='Opaque',
                             data={'username': _b64('dsr_app'), DB_PASSWORD_KEY: _b64(password)})
    secret = cluster.serialise(stored)
    secret['metadata']['annotations'] = {LAST_APPLIED: _last_applied(manifest)}
    secret['metadata']['managedFields'] = [cluster.serialise(_managed('kubectl-client-side-apply', 'v1', created, {
        'f:data': {'.': {}, 'f:%s' % DB_PASSWORD_KEY: {}, 'f:username': {}}, 'f:metadata': {'f:annotations': {'.': {}, 'f:%s' % LAST_APPLIED: {}},
                                                                                            'f:labels': {}}, 'f:type': {}}))]
    cluster.add(secret)
    tls_data = {'tls.crt': _b64(_pem('CERTIFICATE', INGRESS_HOST)), 'tls.key': _b64(_pem('PRIVATE KEY', INGRESS_HOST))}
    tls = cluster.serialise(client.V1Secret(api_version='v1', kind='Secret', type='kubernetes.io/tls', data=tls_data, metadata=_meta(
        cluster, 'dsr-tls', created, {'controller.cert-manager.io/fao': 'true'}, annotations={
            'cert-manager.io/certificate-name': 'dsr-tls', 'cert-manager.io/common-name': INGRESS_HOST, 'cert-manager.io/issuer-kind': 'ClusterIssuer',
            'cert-manager.io/issuer-name': 'dsr-ca'})))
    tls['metadata']['managedFields'] = [cluster.serialise(_managed('cert-manager-certificates-issuing', 'v1', created,
                                                                   {'f:data': {}, 'f:metadata': {}, 'f:type': {}}, operation='Apply'))]
    cluster.add(tls)
    docker = json.dumps({'auths': {REGISTRY.split('/', maxsplit=1)[0]: {'auth': _b64('dsr-pull:%s' % cluster.suffix(24))}}})
    pull_manifest = client.V1Secret(api_version='v1', kind='Secret', metadata=_manifest_meta('dsr-registry-pull', labels),
                                    type='kubernetes.io/dockerconfigjson',
                                    data={'.dockerconfigjson': _b64(docker)})
    pull = client.V1Secret(api_version='v1', kind='Secret', metadata=_meta(cluster, 'dsr-registry-pull', created, labels),
                           type='kubernetes.io/dockerconfigjson',
                           data={'.dockerconfigjson': _b64(docker)})
    _applied_by_kubectl(cluster, pull_manifest, pull, created)
    return password


def _add_rbac(cluster, created):
    labels = {'app.kubernetes.io/part-of': 'dsr'}
    default = cluster.serialise(client.V1ServiceAccount(api_version='v1', kind='ServiceAccount', metadata=_meta(cluster, 'default', cluster.ago(days=200))))
    cluster.add(default)
    manifest = client.V1ServiceAccount(api_version='v1', kind='ServiceAccount', metadata=_manifest_meta('dsr-app', labels),
                                       image_pull_secrets=[client.V1LocalObjectReference(name='dsr-registry-pull')])
    stored = client.V1ServiceAccount(api_version='v1', kind='ServiceAccount', metadata=_meta(cluster, 'dsr-app', created, labels),
                                     image_pull_secrets=[client.V1LocalObjectReference(name='dsr-registry-pull')])
    _applied_by_kubectl(cluster, manifest, stored, created)
    rules = [client.V1PolicyRule(api_groups=[''], resources=['configmaps'], verbs=['get', 'list', 'watch']),
             client.V1PolicyRule(api_groups=[''], resources=['secrets'], resource_names=[DB_SECRET], verbs=['get'])]
    _applied_by_kubectl(cluster, client.V1Role(api_version='rbac.authorization.k8s.io/v1', kind='Role', rules=rules,
                                               metadata=_manifest_meta('dsr-app-config-reader', labels)),
                        client.V1Role(api_version='rbac.authorization.k8s.io/v1', kind='Role', rules=rules,
                                      metadata=_meta(cluster, 'dsr-app-config-reader', created, labels)), created)
    for name, role_kind, role, subject in (
            ('dsr-app-config-reader', 'Role', 'dsr-app-config-reader', client.RbacV1Subject(kind='ServiceAccount', name='dsr-app', namespace=NAMESPACE)),
            ('dsr-monitor-view', 'ClusterRole', 'view', client.RbacV1Subject(kind='ServiceAccount', name='monitor', namespace='dsr'))):
        ref = client.V1RoleRef(api_group='rbac.authorization.k8s.io', kind=role_kind, name=role)
        _applied_by_kubectl(cluster, client.V1RoleBinding(api_version='rbac.authorization.k8s.io/v1', kind='RoleBinding',
                                                          metadata=_manifest_meta(name, labels), role_ref=ref, subjects=[subject]),
                            client.V1RoleBinding(api_version='rbac.authorization.k8s.io/v1', kind='RoleBinding', role_ref=ref, subjects=[subject],
                                                 metadata=_meta(cluster, name, created, labels)), created)


def _add_policies(cluster, created):
    labels = {'app.kubernetes.io/part-of': 'dsr'}
    policies = {
        'dsr-default-deny-ingress': client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(), policy_types=['Ingress']),
        'dsr-allow-ingress-controller': client.V1NetworkPolicySpec(
            pod_selector=client.V1LabelSelector(match_labels={'app.kubernetes.io/part-of': 'dsr'}), policy_types=['Ingress'],
            ingress=[
                client.V1NetworkPolicyIngressRule(var_from=[client.V1NetworkPolicyPeer(namespace_selector=client.V1LabelSelector(
                    match_labels={'kubernetes.io/metadata.name': 'ingress-nginx'}))]),
                client.V1NetworkPolicyIngressRule(var_from=[client.V1NetworkPolicyPeer(pod_selector=client.V1LabelSelector(
                    match_labels={'app.kubernetes.io/part-of': 'dsr'}))])]),
    }
    for name, spec in policies.items():
        _applied_by_kubectl(cluster, client.V1NetworkPolicy(api_version='networking.k8s.io/v1', kind='NetworkPolicy', metadata=_manifest_meta(name, labels),
                                                            spec=spec),
                            client.V1NetworkPolicy(api_version='networking.k8s.io/v1', kind='NetworkPolicy', spec=spec,
                                                   metadata=_meta(cluster, name, created, labels, generation=1)), created)
    hpa_spec = client.V2HorizontalPodAutoscalerSpec(
        scale_target_ref=client.V2CrossVersionObjectReference(api_version='apps/v1', kind='Deployment', name='registration-service'),
        min_replicas=3, max_replicas=10, metrics=[client.V2MetricSpec(type='Resource', resource=client.V2ResourceMetricSource(
            name='cpu', target=client.V2MetricTarget(type='Utilization', average_utilization=70)))])
    hpa_status = client.V2HorizontalPodAutoscalerStatus(
        current_replicas=3, desired_replicas=3, last_scale_time=cluster.ago(days=1, hours=3),
        current_metrics=[client.V2MetricStatus(type='Resource', resource=client.V2ResourceMetricStatus(
            name='cpu', current=client.V2MetricValueStatus(average_utilization=41, average_value='102m')))],
        conditions=[client.V2HorizontalPodAutoscalerCondition(type=kind, status=status, reason=reason, message=message,
                                                              last_transition_time=cluster.ago(days=3))
                    for kind, status, reason, message in (
                        ('AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size'),
                        ('ScalingActive', 'True', 'ValidMetricFound', 'the HPA was able to successfully calculate a replica count from cpu resource '
                         'utilization (percentage of request)'),
                        ('ScalingLimited', 'True', 'TooFewReplicas', 'the desired replica count is less than the minimum replica count'))])
    _applied_by_kubectl(cluster, client.V2HorizontalPodAutoscaler(api_version='autoscaling/v2', kind='HorizontalPodAutoscaler',
                                                                  metadata=_manifest_meta('registration-service', labels), spec=hpa_spec),
                        client.V2HorizontalPodAutoscaler(api_version='autoscaling/v2', kind='HorizontalPodAutoscaler', spec=hpa_spec, status=hpa_status,
                                                         metadata=_meta(cluster, 'registration-service', created, labels)), created)
    pdb_spec = client.V1PodDisruptionBudgetSpec(min_available=1, selector=client.V1LabelSelector(match_labels={'app': 'postgresql'}))
    pdb_status = client.V1PodDisruptionBudgetStatus(current_healthy=2, desired_healthy=1, disruptions_allowed=1, expected_pods=2, observed_generation=1,
                                                    conditions=[client.V1Condition(type='DisruptionAllowed', status='True', reason='SufficientPods',
                                                                                   message='', last_transition_time=created, observed_generation=1)])
    _applied_by_kubectl(cluster, client.V1PodDisruptionBudget(api_version='policy/v1', kind='PodDisruptionBudget', spec=pdb_spec,
                                                              metadata=_manifest_meta('postgresql', labels)),
                        client.V1PodDisruptionBudget(api_version='policy/v1', kind='PodDisruptionBudget', spec=pdb_spec, status=pdb_status,
                                                     metadata=_meta(cluster, 'postgresql', created, labels, generation=1)), created)


# ---------------------------------------------------------------- the backup CronJob


def last_backup_time(now):
    """The scheduled time of the newest run of ``0 2 * * *`` that has had five minutes to finish."""
    moment = now.replace(hour=BACKUP_SCHEDULE_HOUR, minute=0, second=0, microsecond=0)
    if moment > now - datetime.timedelta(minutes=5):
        moment -= datetime.timedelta(days=1)
    return moment


def _backup_container(defaults):
    return client.V1Container(
        name='backup', image='postgres:15.10', image_pull_policy='IfNotPresent' if defaults else None,
        command=['/bin/sh', '-c', 'pg_dump -h postgresql -U postgres -Fc dsr_db > /backups/dsr_backup_$(date +%Y%m%d_%H%M%S).dump'],
        env=[client.V1EnvVar(name='PGPASSWORD', value_from=client.V1EnvVarSource(secret_key_ref=client.V1SecretKeySelector(name=DB_SECRET,
                                                                                                                           key=DB_PASSWORD_KEY)))],
        volume_mounts=[client.V1VolumeMount(name='backups', mount_path='/backups')],
        termination_message_path='/dev/termination-log' if defaults else None, termination_message_policy='File' if defaults else None)


def _backup_pod_spec(defaults):
    spec = _pod_spec([_backup_container(defaults)], defaults, restart='OnFailure', service_account='dsr-app', volumes=[client.V1Volume(
        name='backups', persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(claim_name='dsr-backups'))])
    spec.image_pull_secrets = None
    return spec


def _add_backup(cluster, created):
    labels = {'app': BACKUP_CRONJOB, 'app.kubernetes.io/part-of': 'dsr', 'app.kubernetes.io/component': 'backup'}

    def spec(defaults):
        return client.V1CronJobSpec(
            schedule='0 2 * * *', time_zone='Etc/UTC', concurrency_policy='Forbid', successful_jobs_history_limit=3, failed_jobs_history_limit=1,
            suspend=False if defaults else None,
            job_template=client.V1JobTemplateSpec(spec=client.V1JobSpec(backoff_limit=2, template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={'app': BACKUP_CRONJOB}), spec=_backup_pod_spec(defaults)))))

    newest = last_backup_time(cluster.now)
    finished = newest + datetime.timedelta(minutes=3, seconds=cluster.rng.randint(2, 50))
    status = client.V1CronJobStatus(last_schedule_time=newest, last_successful_time=finished)
    manifest = client.V1CronJob(api_version='batch/v1', kind='CronJob', metadata=_manifest_meta(BACKUP_CRONJOB, labels), spec=spec(False))
    stored = client.V1CronJob(api_version='batch/v1', kind='CronJob', metadata=_meta(cluster, BACKUP_CRONJOB, created, labels, generation=1),
                              spec=spec(True), status=status)
    cronjob = _applied_by_kubectl(cluster, manifest, stored, created)
    for days in (2, 1, 0):
        scheduled = newest - datetime.timedelta(days=days)
        _backup_job(cluster, cronjob, scheduled, scheduled + datetime.timedelta(minutes=3, seconds=cluster.rng.randint(2, 50)) if days else finished,
                    with_pod=days == 0)
    _pvc(cluster, 'dsr-backups', '50Gi', created, labels, manifest=True)
    return cronjob


def _backup_job(cluster, cronjob, scheduled, finished, with_pod, failed=False):
    name = '%s-%d' % (BACKUP_CRONJOB, int(scheduled.timestamp()) // 60)
    uid = cluster.uid()
    selector_labels = {'batch.kubernetes.io/controller-uid': uid}
    pod_labels = {'app': BACKUP_CRONJOB, 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid,
                  'job-name': name}
    started = scheduled + datetime.timedelta(seconds=1)
    if failed:
        conditions = [client.V1JobCondition(type=kind, status='True', reason='BackoffLimitExceeded', message='Job has reached the specified backoff limit',
                                            last_probe_time=finished, last_transition_time=finished) for kind in ('FailureTarget', 'Failed')]
        status = client.V1JobStatus(start_time=started, failed=3, ready=0, terminating=0, conditions=conditions,
                                    uncounted_terminated_pods=client.V1UncountedTerminatedPods())
    else:
        conditions = [client.V1JobCondition(type=kind, status='True', reason='CompletionsReached', message='Reached expected number of succeeded pods',
                                            last_probe_time=finished, last_transition_time=finished) for kind in ('SuccessCriteriaMet', 'Complete')]
        status = client.V1JobStatus(start_time=started, completion_time=finished, succeeded=1, ready=0, terminating=0, conditions=conditions,
                                    uncounted_terminated_pods=client.V1UncountedTerminatedPods())
    template = client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels=pod_labels), spec=_backup_pod_spec(True))
    job = cluster.serialise(client.V1Job(
        api_version='batch/v1', kind='Job', metadata=_meta(cluster, name, scheduled, dict(pod_labels), generation=1, owner_references=[_owner(cronjob)],
                                                           annotations={'batch.kubernetes.io/cronjob-scheduled-timestamp': rfc3339_of(scheduled)}),
        spec=client.V1JobSpec(backoff_limit=2, completion_mode='NonIndexed', completions=1, parallelism=1, suspend=False, manual_selector=False,
                              pod_replacement_policy='TerminatingOrFailed', selector=client.V1LabelSelector(match_labels=selector_labels), template=template),
        status=status))
    job['metadata']['uid'] = uid
    job['metadata']['managedFields'] = [
        cluster.serialise(_managed('kube-controller-manager', 'batch/v1', scheduled, {'f:metadata': {}, 'f:spec': {}})),
        cluster.serialise(_managed('kube-controller-manager', 'batch/v1', finished, _status_fields(job['status']), subresource='status'))]
    cluster.add(job)
    if not with_pod:
        return job
    pod = _pod(cluster, '%s-%s' % (name, cluster.suffix(5)), job, template, NODES[1], started)
    pod['metadata']['generateName'] = name + '-'
    status = pod['status']
    container = status['containerStatuses'][0]
    container['ready'] = False
    container['started'] = False
    container['state'] = {'terminated': {'exitCode': 1 if failed else 0, 'reason': 'Error' if failed else 'Completed',
                                         'startedAt': rfc3339_of(started + datetime.timedelta(seconds=4)), 'finishedAt': rfc3339_of(finished),
                                         'containerID': container['containerID']}}
    status['phase'] = 'Failed' if failed else 'Succeeded'
    for condition in status['conditions']:
        if condition['type'] in ('Ready', 'ContainersReady', 'PodReadyToStartContainers'):
            condition['status'] = 'False'
            condition['reason'] = 'PodFailed' if failed else 'PodCompleted'
            condition['lastTransitionTime'] = rfc3339_of(finished)
    file_name = 'dsr_backup_%s.dump' % scheduled.strftime('%Y%m%d_%H%M%S')
    if failed:
        lines = [(cluster.stamp(started + datetime.timedelta(seconds=5)), 'pg_dump: error: connection to server at "postgresql" (10.96.14.20), port 5432 '
                  'failed: FATAL:  password authentication failed for user "postgres"')]
    else:
        lines = [(cluster.stamp(started + datetime.timedelta(seconds=5)), 'Starting backup of dsr_db to /backups/%s' % file_name),
                 (cluster.stamp(finished - datetime.timedelta(seconds=3)), 'pg_dump finished: /backups/%s (1.8 GB)' % file_name),
                 (cluster.stamp(finished - datetime.timedelta(seconds=1)), 'Backup completed successfully')]
    cluster.set_log(pod, 'backup', lines)
    return job


# ---------------------------------------------------------------- nodes, namespaces, events


def _node_conditions(moment, ready=True, heartbeat=None):
    heartbeat = heartbeat or moment
    conditions = [client.V1NodeCondition(type=kind, status='False', reason=reason, message=message, last_heartbeat_time=heartbeat,
                                         last_transition_time=moment - datetime.timedelta(days=30))
                  for kind, reason, message in (('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
                                                ('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
                                                ('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'))]
    if ready:
        conditions.append(client.V1NodeCondition(type='Ready', status='True', reason='KubeletReady', message='kubelet is posting ready status',
                                                 last_heartbeat_time=heartbeat, last_transition_time=moment - datetime.timedelta(days=30)))
    return conditions


def _add_nodes(cluster):
    for index, name in enumerate(NODES):
        ip = '10.20.1.%d' % (11 + index)
        created = cluster.ago(days=200 - index)
        labels = {'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name,
                  'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'dsr-standard-8', 'topology.kubernetes.io/zone': 'dsr-zone-%d' % (index + 1)}
        capacity = {'cpu': '8', 'ephemeral-storage': '203070420Ki', 'hugepages-2Mi': '0', 'memory': '32863508Ki', 'pods': '110'}
        allocatable = {'cpu': '7800m', 'ephemeral-storage': '187149533077', 'hugepages-2Mi': '0', 'memory': '31712532Ki', 'pods': '110'}
        node = cluster.serialise(client.V1Node(
            api_version='v1', kind='Node',
            metadata=_meta(cluster, name, created, labels, namespace=None,
                           annotations={'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true'}),
            spec=client.V1NodeSpec(pod_cidr='10.244.%d.0/24' % (index + 1), pod_cidrs=['10.244.%d.0/24' % (index + 1)]),
            status=client.V1NodeStatus(
                addresses=[client.V1NodeAddress(type='InternalIP', address=ip), client.V1NodeAddress(type='Hostname', address=name)],
                capacity=capacity, allocatable=allocatable, conditions=_node_conditions(cluster.ago(seconds=cluster.rng.randint(5, 40))),
                daemon_endpoints=client.V1NodeDaemonEndpoints(kubelet_endpoint=client.V1DaemonEndpoint(port=10250)),
                node_info=client.V1NodeSystemInfo(
                    architecture='amd64', boot_id=cluster.uid(), container_runtime_version='containerd://1.7.24', kernel_version='6.1.0-28-amd64',
                    kube_proxy_version='', kubelet_version=KUBELET_VERSION, machine_id='%032x' % cluster.rng.getrandbits(128), operating_system='linux',
                    os_image='Debian GNU/Linux 12 (bookworm)', system_uuid=cluster.uid()))))
        node['metadata']['managedFields'] = [
            cluster.serialise(_managed('kubelet', 'v1', created, {'f:metadata': {'f:annotations': {}, 'f:labels': {}}})),
            cluster.serialise(_managed('kubelet', 'v1', cluster.ago(minutes=1), _status_fields(node['status']), subresource='status'))]
        cluster.add(node)


def _add_namespaces(cluster):
    for name, days, labels in (('default', 200, {}), ('kube-system', 200, {}), ('dsr', 180, {'app.kubernetes.io/part-of': 'dsr'}),
                               (NAMESPACE, 180, {'app.kubernetes.io/part-of': 'dsr', 'environment': 'production'})):
        namespace = cluster.serialise(client.V1Namespace(
            api_version='v1', kind='Namespace', metadata=_meta(cluster, name, cluster.ago(days=days), dict(labels, **{'kubernetes.io/metadata.name': name}),
                                                               namespace=None),
            spec=client.V1NamespaceSpec(finalizers=['kubernetes']), status=client.V1NamespaceStatus(phase='Active')))
        cluster.add(namespace)


def add_event(cluster, obj, reason, message, kind='Normal', component='kubelet', count=1, first=None, last=None):
    """A core/v1 Event about ``obj`` as the kubelet or a controller records it."""
    last = last or cluster.now
    first = first or last
    name = '%s.%016x' % (obj['metadata']['name'], cluster.rng.getrandbits(64))
    event = client.CoreV1Event(
        api_version='v1', kind='Event', metadata=_meta(cluster, name, first, namespace=obj['metadata'].get('namespace', NAMESPACE)),
        involved_object=client.V1ObjectReference(api_version=obj['apiVersion'], kind=obj['kind'], name=obj['metadata']['name'],
                                                 namespace=obj['metadata'].get('namespace'), uid=obj['metadata']['uid'],
                                                 resource_version=obj['metadata'].get('resourceVersion'),
                                                 field_path='spec.containers{%s}' % obj['spec']['containers'][0]['name'] if obj['kind'] == 'Pod' else None),
        reason=reason, message=message, type=kind, count=count, first_timestamp=first, last_timestamp=last,
        source=client.V1EventSource(component=component, host=(obj.get('spec') or {}).get('nodeName') if component == 'kubelet' else None),
        reporting_component=component, reporting_instance=(obj.get('spec') or {}).get('nodeName', '') if component == 'kubelet' else '')
    serialised = cluster.serialise(event)
    serialised['eventTime'] = None
    return cluster.add(serialised)


# ---------------------------------------------------------------- build and scenarios


def build(scenarios=('healthy',), now=None, seed=3101):
    """The fixture cluster at ``now`` (default: the current second) with ``scenarios`` applied in order."""
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    now = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc).replace(microsecond=0)
    cluster = Cluster(now, seed)
    created = cluster.ago(days=60)
    _add_namespaces(cluster)
    _add_nodes(cluster)
    _add_rbac(cluster, created)
    cluster.db_password = _add_secrets(cluster, created)
    _add_configuration(cluster, created)
    for index, name in enumerate(APP_SERVICES + (FRONTEND,)):
        nodes = NODES[index % 3:] + NODES[:index % 3]
        _add_deployment(cluster, name, created + datetime.timedelta(minutes=index), nodes)
    _add_postgresql(cluster, created)
    _add_daemonset(cluster, created)
    for name in APP_SERVICES:
        _service(cluster, name, {'app': name}, [('http', 80, 'http')], created)
    _service(cluster, FRONTEND, {'app': FRONTEND}, [('http', 80, 'http')], created)
    _service(cluster, 'postgresql', {'app': 'postgresql'}, [('postgres', 5432, 'postgres')], created)
    _service(cluster, 'postgresql-headless', {'app': 'postgresql'}, [('postgres', 5432, 'postgres')], created, headless=True)
    _service(cluster, 'interoperability-partners', {'app': 'interoperability-service'}, [('https', 443, 'http')], created, kind='NodePort',
             node_ports=[30443])
    for name in APP_SERVICES + (FRONTEND,):
        refresh_endpoints(cluster, name, {'app': name})
    for name in ('postgresql', 'postgresql-headless'):
        refresh_endpoints(cluster, name, {'app': 'postgresql'})
    refresh_endpoints(cluster, 'interoperability-partners', {'app': 'interoperability-service'})
    _add_ingress(cluster, created)
    _add_policies(cluster, created)
    _add_backup(cluster, created)
    for scenario in scenarios:
        if scenario not in SCENARIOS:
            raise KeyError('unknown scenario %r; known: %s' % (scenario, ', '.join(sorted(SCENARIOS))))
        SCENARIOS[scenario](cluster)
    return cluster


def _pods_of_deployment(cluster, name):
    deployment = cluster.get('Deployment', name)
    pods = []
    for rs in cluster.owned_by(deployment, 'ReplicaSet'):
        pods += cluster.owned_by(rs, 'Pod')
    return deployment, pods


def _set_available(deployment, ready, moment, reason_false='MinimumReplicasUnavailable'):
    status = deployment['status']
    replicas = deployment['spec']['replicas']
    status['readyReplicas'] = ready or None
    status['availableReplicas'] = ready or None
    status['unavailableReplicas'] = (replicas - ready) or None
    max_unavailable = replicas // 4
    for condition in status['conditions']:
        if condition['type'] == 'Available':
            if replicas - ready > max_unavailable:
                condition.update({'status': 'False', 'reason': reason_false, 'message': 'Deployment does not have minimum availability.',
                                  'lastUpdateTime': rfc3339_of(moment), 'lastTransitionTime': rfc3339_of(moment)})
    for key in [key for key, value in status.items() if value is None]:
        del status[key]


def healthy(cluster):
    """Everything running, ready and up to date: the default."""
    del cluster


def crash_loop(cluster, name='payment-service', oom=False, restarts=17):
    """Every Pod of ``name``: CrashLoopBackOff, ``restartCount``, lastState terminated Error (or OOMKilled, exit 137), previous logs, BackOff events."""
    deployment, pods = _pods_of_deployment(cluster, name)
    for pod in pods:
        status = pod['status']
        container = status['containerStatuses'][0]
        finished = cluster.ago(minutes=2, seconds=cluster.rng.randint(0, 50))
        started = finished - datetime.timedelta(seconds=cluster.rng.randint(20, 40))
        container.update({'ready': False, 'started': False, 'restartCount': restarts,
                          'state': {'waiting': {'reason': 'CrashLoopBackOff', 'message': 'back-off 5m0s restarting failed container=%s pod=%s_%s(%s)'
                                                % (name, pod['metadata']['name'], NAMESPACE, pod['metadata']['uid'])}},
                          'lastState': {'terminated': {'exitCode': 137 if oom else 1, 'reason': 'OOMKilled' if oom else 'Error',
                                                       'startedAt': rfc3339_of(started), 'finishedAt': rfc3339_of(finished),
                                                       'containerID': container['containerID']}}})
        for condition in status['conditions']:
            if condition['type'] in ('Ready', 'ContainersReady'):
                condition.update({'status': 'False', 'reason': 'ContainersNotReady', 'message': 'containers with unready status: [%s]' % name,
                                  'lastTransitionTime': rfc3339_of(cluster.ago(minutes=40))})
        cluster.touch(pod)
        if oom:
            previous = [(cluster.stamp(started + datetime.timedelta(seconds=8)), 'Started Application in 8.1 seconds'),
                        (cluster.stamp(finished - datetime.timedelta(seconds=1)), 'Terminating due to java.lang.OutOfMemoryError: Java heap space')]
        else:
            previous = [(cluster.stamp(started + datetime.timedelta(seconds=3)), 'Starting %s %s' % (name, APP_VERSION)),
                        (cluster.stamp(started + datetime.timedelta(seconds=9)), 'HikariPool-1 - Exception during pool initialization.'),
                        (cluster.stamp(started + datetime.timedelta(seconds=9)), 'org.postgresql.util.PSQLException: FATAL: password authentication failed '
                         'for user "dsr_app"'),
                        (cluster.stamp(finished - datetime.timedelta(seconds=1)), 'APPLICATION FAILED TO START')]
        cluster.set_log(pod, name, previous, previous=True)
        cluster.set_log(pod, name, previous[:1])
        message = 'Back-off restarting failed container %s in pod %s_%s(%s)' % (name, pod['metadata']['name'], NAMESPACE, pod['metadata']['uid'])
        add_event(cluster, pod, 'BackOff', message, kind='Warning', count=restarts * 4, first=cluster.ago(minutes=70))
    _set_available(deployment, 0, cluster.ago(minutes=40))
    cluster.touch(deployment)
    refresh_endpoints(cluster, name, {'app': name})


def crash_loop_oom(cluster):
    """:func:`crash_loop` with the last termination OOMKilled (exit code 137)."""
    crash_loop(cluster, oom=True)


def _new_rollout(cluster, name, version, waiting=None, running_not_ready=False):
    """A rollout to ``version``: a new ReplicaSet (revision 4) with one Pod that does not become ready; generation and observedGeneration move on."""
    deployment, _pods = _pods_of_deployment(cluster, name)
    moment = cluster.ago(minutes=25)
    deployment['metadata']['generation'] += 1
    deployment['status']['observedGeneration'] = deployment['metadata']['generation']
    deployment['metadata']['annotations']['deployment.kubernetes.io/revision'] = '4'
    image = '%s/%s:%s' % (REGISTRY, name, version)
    deployment['spec']['template']['spec']['containers'][0]['image'] = image
    rs, template = _replicaset(cluster, deployment, version, 1, 4, moment)
    rs['status'] = {'replicas': 1, 'fullyLabeledReplicas': 1, 'observedGeneration': 1}
    pod = _pod(cluster, '%s-%s' % (rs['metadata']['name'], cluster.suffix(5)), rs, template, NODES[2], moment + datetime.timedelta(seconds=2))
    container = pod['status']['containerStatuses'][0]
    for condition in pod['status']['conditions']:
        if condition['type'] in ('Ready', 'ContainersReady'):
            condition.update({'status': 'False', 'reason': 'ContainersNotReady', 'message': 'containers with unready status: [%s]' % name})
    container.update({'ready': False, 'image': image})
    if waiting:
        container.update({'started': False, 'state': {'waiting': waiting}})
        container.pop('containerID', None)
        container.pop('imageID', None)
        container['imageID'] = ''
    elif running_not_ready:
        cluster.set_log(pod, name, [(cluster.stamp(moment + datetime.timedelta(seconds=20)), 'Readiness check failed: schema migration V57 pending')])
    status = deployment['status']
    status['replicas'] = deployment['spec']['replicas'] + 1
    status['updatedReplicas'] = 1
    status['unavailableReplicas'] = 1
    for condition in status['conditions']:
        if condition['type'] == 'Progressing':
            condition.update({'status': 'True', 'reason': 'ReplicaSetUpdated', 'message': 'ReplicaSet "%s" is progressing.' % rs['metadata']['name'],
                              'lastUpdateTime': rfc3339_of(moment), 'lastTransitionTime': rfc3339_of(moment)})
    cluster.touch(deployment)
    return deployment, rs, pod


def image_pull(cluster, name='eligibility-service', reason='ImagePullBackOff'):
    """A rollout of ``name`` to a tag that does not exist: its new Pod waits in ImagePullBackOff (or ErrImagePull); Failed/BackOff events."""
    image = '%s/%s:2.5.0-rc1' % (REGISTRY, name)
    message = ('Back-off pulling image "%s"' % image if reason == 'ImagePullBackOff'
               else 'rpc error: code = NotFound desc = failed to pull and unpack image "%s": not found' % image)
    _deployment_obj, _rs, pod = _new_rollout(cluster, name, '2.5.0-rc1', waiting={'reason': reason, 'message': message})
    add_event(cluster, pod, 'Failed', 'Failed to pull image "%s": rpc error: code = NotFound desc = failed to pull and unpack image "%s": not found'
              % (image, image), kind='Warning', count=6, first=cluster.ago(minutes=25))
    add_event(cluster, pod, 'BackOff', 'Back-off pulling image "%s"' % image, kind='Warning', count=90, first=cluster.ago(minutes=24))


def err_image_pull(cluster):
    """:func:`image_pull` with the waiting reason ErrImagePull."""
    image_pull(cluster, reason='ErrImagePull')


def rollout_stuck(cluster, name='grievance-service'):
    """A rollout of ``name`` whose new Pod runs but never gets ready: Progressing=False, reason ProgressDeadlineExceeded."""
    deployment, rs, _pod = _new_rollout(cluster, name, '2.5.0', running_not_ready=True)
    for condition in deployment['status']['conditions']:
        if condition['type'] == 'Progressing':
            condition.update({'status': 'False', 'reason': 'ProgressDeadlineExceeded', 'message': 'ReplicaSet "%s" has timed out progressing.'
                              % rs['metadata']['name'], 'lastUpdateTime': rfc3339_of(cluster.ago(minutes=15)),
                              'lastTransitionTime': rfc3339_of(cluster.ago(minutes=15))})


def generation_not_observed(cluster, name='analytics-service'):
    """``name``'s spec changed and the controller has not caught up: metadata.generation > status.observedGeneration."""
    deployment = cluster.get('Deployment', name)
    deployment['metadata']['generation'] = deployment['status']['observedGeneration'] + 1
    deployment['spec']['template']['spec']['containers'][0]['env'].append({'name': 'REPORT_CACHE_TTL', 'value': '600'})
    cluster.touch(deployment)


def scaled_to_zero(cluster, name='interoperability-service'):
    """``name`` scaled to 0: spec.replicas 0, no Pods, empty Endpoints and EndpointSlices (for its NodePort Service too)."""
    deployment, pods = _pods_of_deployment(cluster, name)
    for pod in pods:
        cluster.remove(pod)
    deployment['spec']['replicas'] = 0
    deployment['metadata']['generation'] += 1
    status = deployment['status']
    status['observedGeneration'] = deployment['metadata']['generation']
    for key in ('readyReplicas', 'availableReplicas', 'unavailableReplicas'):
        status.pop(key, None)
    status['replicas'] = 0
    status['updatedReplicas'] = 0
    for rs in cluster.owned_by(deployment, 'ReplicaSet'):
        rs['spec']['replicas'] = 0
        rs['status'] = {'replicas': 0, 'observedGeneration': rs['metadata']['generation']}
    cluster.touch(deployment)
    refresh_endpoints(cluster, name, {'app': name})
    if name == 'interoperability-service':
        refresh_endpoints(cluster, 'interoperability-partners', {'app': name})


def workload_missing(cluster, name='data-management-service'):
    """The Deployment ``name`` is gone with its ReplicaSets and Pods; its Service stays, with no endpoints."""
    deployment, pods = _pods_of_deployment(cluster, name)
    for obj in pods + cluster.owned_by(deployment, 'ReplicaSet') + [deployment]:
        cluster.remove(obj)
    refresh_endpoints(cluster, name, {'app': name})


def pod_pending(cluster, name='registration-service', hours=3):
    """One Pod of ``name`` Pending for ``hours``: unschedulable (Insufficient memory), no node, no container statuses, FailedScheduling events."""
    deployment, pods = _pods_of_deployment(cluster, name)
    pod = pods[-1]
    created = cluster.ago(hours=hours)
    pod['metadata']['creationTimestamp'] = rfc3339_of(created)
    pod['spec'].pop('nodeName', None)
    message = ('0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.')
    pod['status'] = {'phase': 'Pending', 'qosClass': 'Burstable', 'conditions': [
        {'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable', 'message': message, 'lastProbeTime': None,
         'lastTransitionTime': rfc3339_of(created)}]}
    cluster.touch(pod)
    for key in [key for key in cluster.logs if key[1] == pod['metadata']['name']]:
        del cluster.logs[key]
    add_event(cluster, pod, 'FailedScheduling', message, kind='Warning', component='default-scheduler', count=1, first=created,
              last=cluster.ago(minutes=4))
    _set_available(deployment, deployment['spec']['replicas'] - 1, created)
    cluster.touch(deployment)
    refresh_endpoints(cluster, name, {'app': name})


def node_not_ready(cluster, name='dsr-node-3'):
    """Node ``name`` stopped reporting: Ready Unknown (NodeStatusUnknown), unreachable taints; its Pods are marked not ready."""
    node = cluster.get('Node', name, namespace=None)
    heartbeat = cluster.ago(minutes=9)
    for condition in node['status']['conditions']:
        condition.update({'status': 'Unknown', 'reason': 'NodeStatusUnknown', 'message': 'Kubelet stopped posting node status.',
                          'lastHeartbeatTime': rfc3339_of(heartbeat), 'lastTransitionTime': rfc3339_of(cluster.ago(minutes=8))})
    node['spec']['taints'] = [{'key': 'node.kubernetes.io/unreachable', 'effect': 'NoSchedule', 'timeAdded': rfc3339_of(cluster.ago(minutes=8))},
                              {'key': 'node.kubernetes.io/unreachable', 'effect': 'NoExecute', 'timeAdded': rfc3339_of(cluster.ago(minutes=8))}]
    cluster.touch(node)
    for pod in [pod for pod in cluster.select('Pod') if pod['spec'].get('nodeName') == name and pod['status'].get('phase') == 'Running']:
        for condition in pod['status']['conditions']:
            if condition['type'] == 'Ready':
                condition.update({'status': 'False', 'lastTransitionTime': rfc3339_of(cluster.ago(minutes=8))})
        pod['status']['conditions'].append({'type': 'DisruptionTarget', 'status': 'True', 'reason': 'DeletionByTaintManager',
                                            'message': 'Taint manager: deleting due to NoExecute taint', 'lastProbeTime': None,
                                            'lastTransitionTime': rfc3339_of(cluster.ago(minutes=3))})
        cluster.touch(pod)
    add_event(cluster, node, 'NodeNotReady', 'Node %s status is now: NodeNotReady' % name, kind='Normal', component='node-controller',
              first=cluster.ago(minutes=8))


def backup_failed(cluster):
    """The newest run of ``postgresql-backup`` failed (BackoffLimitExceeded, its Pod's log says why); lastSuccessfulTime is a day older."""
    cronjob = cluster.get('CronJob', BACKUP_CRONJOB)
    newest = last_backup_time(cluster.now)
    for job in cluster.owned_by(cronjob, 'Job'):
        if job['metadata']['name'] == '%s-%d' % (BACKUP_CRONJOB, int(newest.timestamp()) // 60):
            for pod in cluster.owned_by(job, 'Pod'):
                cluster.remove(pod)
            cluster.remove(job)
    job = _backup_job(cluster, cronjob, newest, newest + datetime.timedelta(minutes=1, seconds=12), with_pod=True, failed=True)
    previous = cluster.owned_by(cronjob, 'Job')
    previous_success = max(parse_time(item['status']['completionTime']) for item in previous if item['status'].get('succeeded'))
    cronjob['status'] = {'lastScheduleTime': rfc3339_of(newest), 'lastSuccessfulTime': rfc3339_of(previous_success)}
    cluster.touch(cronjob)
    add_event(cluster, job, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', kind='Warning', component='job-controller',
              first=newest + datetime.timedelta(minutes=1, seconds=12))


def backup_stale(cluster, days=3):
    """``postgresql-backup`` suspended ``days`` ago: no Job since, lastSuccessfulTime ``days`` old."""
    cronjob = cluster.get('CronJob', BACKUP_CRONJOB)
    newest = last_backup_time(cluster.now)
    cutoff = newest - datetime.timedelta(days=days - 1)
    for job in cluster.owned_by(cronjob, 'Job'):
        if parse_time(job['metadata']['creationTimestamp']) >= cutoff:
            for pod in cluster.owned_by(job, 'Pod'):
                cluster.remove(pod)
            cluster.remove(job)
    last = newest - datetime.timedelta(days=days)
    remaining = cluster.owned_by(cronjob, 'Job')
    if not remaining:
        _backup_job(cluster, cronjob, last, last + datetime.timedelta(minutes=3), with_pod=False)
    cronjob['spec']['suspend'] = True
    cronjob['metadata']['generation'] += 1
    cronjob['status'] = {'lastScheduleTime': rfc3339_of(last), 'lastSuccessfulTime': rfc3339_of(last + datetime.timedelta(minutes=3))}
    cluster.touch(cronjob)


SCENARIOS = {
    'healthy': healthy,
    'crash_loop': crash_loop,
    'crash_loop_oom': crash_loop_oom,
    'image_pull': image_pull,
    'err_image_pull': err_image_pull,
    'rollout_stuck': rollout_stuck,
    'generation_not_observed': generation_not_observed,
    'scaled_to_zero': scaled_to_zero,
    'workload_missing': workload_missing,
    'pod_pending': pod_pending,
    'node_not_ready': node_not_ready,
    'backup_failed': backup_failed,
    'backup_stale': backup_stale,
}
