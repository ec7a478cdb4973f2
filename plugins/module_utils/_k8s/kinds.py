# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The kinds a configuration backup exports and a restore applies, and the order a restore applies them in.

A fixed table, not discovery: these are the stable (GA) versions every
supported Kubernetes release serves, and a table means a backup makes one list
call per kind whatever the cluster serves besides. The restore order is
Velero's idea: what others refer to first - ServiceAccounts and RBAC, then
ConfigMaps and Secrets (mounted and referenced by the pods), claims and
Services, and the workloads last, so that a Deployment's pods do not start
before their configuration exists; HPAs, PDBs and Ingresses refer to workloads
and Services, so they come after them.
"""

from __future__ import annotations

import collections
import re

Kind = collections.namedtuple('Kind', 'kind api_version plural')
_NAMESPACE_RE = re.compile(r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')

# restore order
KINDS = (
    Kind('ServiceAccount', 'v1', 'serviceaccounts'),
    Kind('Role', 'rbac.authorization.k8s.io/v1', 'roles'),
    Kind('RoleBinding', 'rbac.authorization.k8s.io/v1', 'rolebindings'),
    Kind('ConfigMap', 'v1', 'configmaps'),
    Kind('Secret', 'v1', 'secrets'),
    Kind('PersistentVolumeClaim', 'v1', 'persistentvolumeclaims'),
    Kind('Service', 'v1', 'services'),
    Kind('NetworkPolicy', 'networking.k8s.io/v1', 'networkpolicies'),
    Kind('Deployment', 'apps/v1', 'deployments'),
    Kind('StatefulSet', 'apps/v1', 'statefulsets'),
    Kind('DaemonSet', 'apps/v1', 'daemonsets'),
    Kind('CronJob', 'batch/v1', 'cronjobs'),
    Kind('Job', 'batch/v1', 'jobs'),
    Kind('HorizontalPodAutoscaler', 'autoscaling/v2', 'horizontalpodautoscalers'),
    Kind('PodDisruptionBudget', 'policy/v1', 'poddisruptionbudgets'),
    Kind('Ingress', 'networking.k8s.io/v1', 'ingresses'),
)
BY_NAME = {kind.kind: kind for kind in KINDS}
ORDER = {kind.kind: index for index, kind in enumerate(KINDS)}
# what a backup exports unless told otherwise: the list (stand-alone Jobs are one-off runs, so only on request)
DEFAULT_KINDS = tuple(kind.kind for kind in KINDS if kind.kind != 'Job')


def is_namespace(name):
    """Whether ``name`` can be a namespace (an RFC 1123 label)."""
    return isinstance(name, str) and bool(_NAMESPACE_RE.match(name))


def resource_name(kind):
    """``deployments.apps``, ``secrets``: how RBAC and the archive's directories name a kind's resource."""
    group = kind.api_version.rpartition('/')[0]
    return '%s.%s' % (kind.plural, group) if group else kind.plural


def path(kind, namespace, name=None):
    """The API path of a kind's collection in ``namespace``, or of one object."""
    base = '/api/%s' % kind.api_version if '/' not in kind.api_version else '/apis/%s' % kind.api_version
    return '%s/namespaces/%s/%s%s' % (base, namespace, kind.plural, '/' + name if name else '')


def normalize(kinds, option='kinds'):
    """``(kinds in restore order, problems)`` from a list of kind names (case-insensitive, plurals accepted)."""
    lookup = {}
    for kind in KINDS:
        for alias in (kind.kind, kind.plural, resource_name(kind)):
            lookup[alias.lower()] = kind.kind
    chosen, problems = set(), []
    for value in kinds:
        name = lookup.get(str(value).strip().lower())
        if name is None:
            problems.append('%s: %r is not a kind this module exports; choose from %s' % (option, value, ', '.join(k.kind for k in KINDS)))
        else:
            chosen.add(name)
    if not kinds:
        problems.append('%s is empty: name at least one kind (default: %s)' % (option, ', '.join(DEFAULT_KINDS)))
    return sorted(chosen, key=ORDER.get), problems
