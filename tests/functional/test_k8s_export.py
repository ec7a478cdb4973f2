# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The configuration-backup cleaning rules on the whole DSR namespace as the API stub holds it (kubernetes client models)."""

from __future__ import annotations

import datetime
import importlib
import json
import sys

import pytest

from conftest import COLLECTION, _collections_root

sys.path.insert(0, str(COLLECTION / 'tests' / 'harness'))

import k8s_fixtures  # noqa: E402  pylint: disable=wrong-import-position

NOW = datetime.datetime(2026, 12, 3, 9, 0, tzinfo=datetime.timezone.utc)
CONFIG_KINDS = {'Deployment', 'StatefulSet', 'DaemonSet', 'Service', 'Ingress', 'ConfigMap', 'Secret', 'CronJob', 'ServiceAccount', 'Role',
                'RoleBinding', 'NetworkPolicy', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'PersistentVolumeClaim', 'Job'}


@pytest.fixture(scope='module')
def export(tmp_path_factory):
    """plugins/module_utils/_k8s/export.py, imported from an ansible_collections tree."""
    root = _collections_root(tmp_path_factory.mktemp('collections'))
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module('ansible_collections.dsr.ops.plugins.module_utils._k8s.export')


def test_the_exported_namespace_has_none_of_the_server_fields(export):  # pylint: disable=redefined-outer-name
    cluster = k8s_fixtures.build(['healthy'], now=NOW)
    objects = [obj for obj in cluster.objects if obj.get('kind') in CONFIG_KINDS]
    kept = [export.clean(obj) for obj in objects if export.skip_reason(obj) is None]
    skipped = {obj['metadata']['name']: export.skip_reason(obj) for obj in objects if export.skip_reason(obj)}
    kinds = {obj['kind'] for obj in kept}
    assert {'Deployment', 'StatefulSet', 'Service', 'Secret', 'ConfigMap', 'CronJob', 'Ingress'} <= kinds, kinds
    # the CronJob's Jobs are its own, and the root CA ConfigMap is the cluster's
    assert any(reason.startswith('owned by CronJob postgresql-backup') for reason in skipped.values()), skipped
    assert skipped.get('kube-root-ca.crt')
    for obj in kept:
        text = json.dumps(obj)
        assert 'status' not in obj, obj['metadata']['name']
        for field in export.SERVER_METADATA:
            assert field not in obj['metadata'], (obj['kind'], obj['metadata']['name'], field)
        assert export.LAST_APPLIED not in text
        if obj['kind'] == 'Service' and obj['spec'].get('clusterIP') != 'None':
            assert 'clusterIP' not in obj['spec'] and 'clusterIPs' not in obj['spec'], obj
    # the Secret's password was in clear in its last-applied annotation: it is in no exported field but the Secret's data
    in_clear = [obj['metadata']['name'] for obj in kept if cluster.db_password in json.dumps(obj)]
    assert in_clear == [], in_clear
    # the headless Service keeps None; the NodePort Service was applied without a nodePort, so the assigned 30443 goes
    services = {obj['metadata']['name']: obj['spec'] for obj in kept if obj['kind'] == 'Service'}
    assert any(spec.get('clusterIP') == 'None' for spec in services.values())
    assert services['interoperability-partners']['type'] == 'NodePort'
    assert [port for spec in services.values() for port in spec.get('ports', []) if 'nodePort' in port] == [], services
