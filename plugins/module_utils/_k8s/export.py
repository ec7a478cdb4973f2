# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a configuration backup keeps of a live object, so that it can be applied again to any cluster.

The runbook's ``kubectl get all,secrets,configmaps -o yaml`` writes what the
server holds: Pods and ReplicaSets that their controllers would recreate,
``status``, uids, resourceVersions, managedFields, the last-applied annotation
(with a Secret's data in clear), and the Service's allocated ``clusterIP``,
which makes the file fail to apply on a cluster with another service CIDR
(kubectl-neat #86 keeps it too). The rules here are Velero's restore rules and
kubectl-neat's, written down once:

* objects a controller owns (``ownerReferences`` with ``controller: true``)
  and objects a controller makes by itself (the ``kube-root-ca.crt``
  ConfigMap, service-account token Secrets) are not exported: their owner is;
* ``status`` goes, and from ``metadata`` everything the server assigns:
  ``uid``, ``resourceVersion``, ``generation``, ``creationTimestamp``,
  ``managedFields``, ``selfLink``, the deletion fields, and the annotations
  the server or a client writes on its own (last-applied, the Deployment's
  revision);
* a Service loses its allocated ``clusterIP``/``clusterIPs`` (a headless
  ``None`` stays) and the ``nodePort`` values it was not given in its applied
  configuration (Velero's rule: an auto-assigned port could collide);
* a PersistentVolumeClaim keeps its spec without the volume it was bound to
  (another cluster has other volumes), and without the binding annotations;
* a Job (not owned by a CronJob) loses its generated selector and the
  controller-uid labels, as Velero does, unless it uses ``manualSelector``.

:func:`clean` returns a new dict and never changes its argument.
"""

from __future__ import annotations

import copy
import json

LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'
SERVER_METADATA = ('uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink',
                   'deletionTimestamp', 'deletionGracePeriodSeconds', 'ownerReferences')
SERVER_ANNOTATIONS = (LAST_APPLIED, 'deployment.kubernetes.io/revision', 'pv.kubernetes.io/bind-completed',
                      'pv.kubernetes.io/bound-by-controller', 'volume.beta.kubernetes.io/storage-provisioner',
                      'volume.kubernetes.io/storage-provisioner', 'volume.kubernetes.io/selected-node',
                      'batch.kubernetes.io/job-tracking', 'endpoints.kubernetes.io/last-change-trigger-time')
JOB_LABELS = ('controller-uid', 'batch.kubernetes.io/controller-uid', 'job-name', 'batch.kubernetes.io/job-name')


def skip_reason(obj):
    """Why ``obj`` is not exported (its owner or a controller recreates it), or None."""
    metadata = obj.get('metadata') or {}
    for owner in metadata.get('ownerReferences') or []:
        if isinstance(owner, dict) and owner.get('controller'):
            return 'owned by %s %s' % (owner.get('kind'), owner.get('name'))
    kind = obj.get('kind')
    if kind == 'ConfigMap' and metadata.get('name') == 'kube-root-ca.crt':
        return 'made in every namespace by the root CA publisher'
    if kind == 'Secret' and obj.get('type') == 'kubernetes.io/service-account-token':
        return 'a service account token, made by the token controller'
    return None


def _applied(obj):
    """The object as last applied (the annotation), or {} when absent or unreadable; read only to decide what the user set."""
    text = ((obj.get('metadata') or {}).get('annotations') or {}).get(LAST_APPLIED)
    if not isinstance(text, str):
        return {}
    try:
        applied = json.loads(text)
    except ValueError:
        return {}
    return applied if isinstance(applied, dict) else {}


def clean(obj):
    """The object as it can be applied again (see the module docstring); a new dict."""
    applied = _applied(obj)
    result = copy.deepcopy(obj)
    result.pop('status', None)
    metadata = result.setdefault('metadata', {})
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get('annotations') or {}
    for key in SERVER_ANNOTATIONS:
        annotations.pop(key, None)
    if not annotations:
        metadata.pop('annotations', None)
    kind = result.get('kind')
    spec = result.get('spec')
    if kind == 'Service' and isinstance(spec, dict):
        _clean_service(spec, applied.get('spec') or {})
    elif kind == 'PersistentVolumeClaim' and isinstance(spec, dict):
        spec.pop('volumeName', None)
    elif kind == 'Job' and isinstance(spec, dict) and not spec.get('manualSelector'):
        spec.pop('selector', None)
        labels = (((spec.get('template') or {}).get('metadata') or {}).get('labels'))
        for holder in (labels, metadata.get('labels')):
            if isinstance(holder, dict):
                for key in JOB_LABELS:
                    holder.pop(key, None)
    return result


def _clean_service(spec, applied_spec):
    if spec.get('clusterIP') != 'None':
        # allocated from this cluster's service CIDR; a headless Service's None is its definition and stays
        spec.pop('clusterIP', None)
        spec.pop('clusterIPs', None)
    applied_ports = {(port.get('name'), port.get('port')): port for port in applied_spec.get('ports') or [] if isinstance(port, dict)}
    for port in spec.get('ports') or []:
        if not isinstance(port, dict) or 'nodePort' not in port:
            continue
        given = applied_ports.get((port.get('name'), port.get('port'))) or {}
        if given.get('nodePort') != port['nodePort']:
            port.pop('nodePort')
    if 'healthCheckNodePort' in spec and applied_spec.get('healthCheckNodePort') != spec['healthCheckNodePort']:
        spec.pop('healthCheckNodePort')
