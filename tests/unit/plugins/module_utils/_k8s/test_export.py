# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a configuration backup keeps of an object: Velero's and kubectl-neat's rules on plain dicts."""

from __future__ import annotations

import copy
import json

from ansible_collections.dsr.ops.plugins.module_utils._k8s import export


def live(kind, name, spec=None, applied=None, **metadata):
    meta = {'name': name, 'namespace': 'dsr-production', 'uid': 'a1b2', 'resourceVersion': '4711', 'generation': 3,
            'creationTimestamp': '2026-11-01T08:00:00Z', 'managedFields': [{'manager': 'kubectl', 'operation': 'Apply'}],
            'labels': {'app': name}}
    if applied is not None:
        meta['annotations'] = {export.LAST_APPLIED: json.dumps(applied), 'team': 'dsr'}
    meta.update(metadata)
    obj = {'apiVersion': 'v1', 'kind': kind, 'metadata': meta, 'status': {'phase': 'Active'}}
    if spec is not None:
        obj['spec'] = spec
    return obj


def test_server_fields_and_the_last_applied_annotation_go():
    secret = live('Secret', 'dsr-db-credentials', applied={'stringData': {'password': 'clear-text'}})
    secret['data'] = {'password': 'Y2xlYXItdGV4dA=='}
    cleaned = export.clean(secret)
    assert cleaned['metadata'] == {'name': 'dsr-db-credentials', 'namespace': 'dsr-production', 'labels': {'app': 'dsr-db-credentials'},
                                   'annotations': {'team': 'dsr'}}
    assert 'status' not in cleaned and 'clear-text' not in json.dumps(cleaned)
    assert export.LAST_APPLIED in secret['metadata']['annotations'], 'the argument is not changed'


def test_a_service_loses_its_allocated_ip_and_auto_assigned_node_ports():
    spec = {'type': 'NodePort', 'clusterIP': '10.96.14.2', 'clusterIPs': ['10.96.14.2'], 'selector': {'app': 'dsr-frontend'},
            'ports': [{'name': 'https', 'port': 443, 'targetPort': 8443, 'nodePort': 30443},
                      {'name': 'metrics', 'port': 9090, 'targetPort': 9090, 'nodePort': 31877}]}
    applied = {'spec': {'type': 'NodePort', 'ports': [{'name': 'https', 'port': 443, 'targetPort': 8443, 'nodePort': 30443},
                                                      {'name': 'metrics', 'port': 9090, 'targetPort': 9090}]}}
    cleaned = export.clean(live('Service', 'dsr-frontend', spec, applied))
    assert 'clusterIP' not in cleaned['spec'] and 'clusterIPs' not in cleaned['spec']
    # the port the user chose stays; the one the server assigned goes
    assert cleaned['spec']['ports'] == [{'name': 'https', 'port': 443, 'targetPort': 8443, 'nodePort': 30443},
                                        {'name': 'metrics', 'port': 9090, 'targetPort': 9090}]
    # no applied configuration: nothing says a port was chosen, so none is kept
    assert all('nodePort' not in port for port in export.clean(live('Service', 'x', copy.deepcopy(spec)))['spec']['ports'])


def test_a_headless_service_keeps_none():
    spec = {'clusterIP': 'None', 'clusterIPs': ['None'], 'selector': {'app': 'postgresql'}, 'ports': [{'port': 5432}]}
    assert export.clean(live('Service', 'postgresql-headless', spec))['spec'] == spec


def test_pvc_job_and_owned_objects():
    pvc = live('PersistentVolumeClaim', 'data-postgresql-0', {'accessModes': ['ReadWriteOnce'], 'volumeName': 'pvc-3f2a',
                                                              'resources': {'requests': {'storage': '200Gi'}}},
               annotations={'pv.kubernetes.io/bind-completed': 'yes', 'volume.kubernetes.io/storage-provisioner': 'ebs.csi.aws.com'})
    assert export.clean(pvc)['spec'] == {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': '200Gi'}}}
    assert 'annotations' not in export.clean(pvc)['metadata']
    job = live('Job', 'db-migrate', {'selector': {'matchLabels': {'controller-uid': 'a1b2'}},
                                     'template': {'metadata': {'labels': {'controller-uid': 'a1b2', 'job-name': 'db-migrate', 'app': 'm'}}}})
    cleaned = export.clean(job)
    assert 'selector' not in cleaned['spec'] and cleaned['spec']['template']['metadata']['labels'] == {'app': 'm'}
    pod = live('Pod', 'payment-service-7d9f-x2x', ownerReferences=[{'kind': 'ReplicaSet', 'name': 'payment-service-7d9f', 'controller': True}])
    assert export.skip_reason(pod) == 'owned by ReplicaSet payment-service-7d9f'
    referenced = live('ConfigMap', 'x', ownerReferences=[{'kind': 'Foo', 'name': 'y'}])
    assert export.skip_reason(referenced) is None, 'only a controller owner makes an object owned'
    assert export.skip_reason(live('ConfigMap', 'kube-root-ca.crt')) is not None
    token = live('Secret', 'monitor-token')
    token['type'] = 'kubernetes.io/service-account-token'
    assert export.skip_reason(token) == 'a service account token, made by the token controller'


def test_an_unreadable_last_applied_annotation_removes_node_ports():
    obj = live('Service', 'x', {'type': 'NodePort', 'clusterIP': '10.0.0.1', 'ports': [{'port': 80, 'nodePort': 30080}]})
    obj['metadata']['annotations'] = {export.LAST_APPLIED: '{not json'}
    cleaned = export.clean(obj)
    assert cleaned['spec'] == {'type': 'NodePort', 'ports': [{'port': 80}]}
    assert 'annotations' not in cleaned['metadata']
