#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: k8s_config_restore
short_description: Apply a Kubernetes configuration backup to a namespace, proven first, in dependency order
version_added: 0.3.0
description:
  - Applies an archive made by M(dsr.ops.k8s_config_backup) to O(namespace) (the namespace it was taken from, unless told
    otherwise), the runbook's Disaster Recovery step 5 (restore configuration).
  - "The archive is proven before anything is sent: its manifest must parse, the archive must have the size and SHA-256 the
    manifest records, every file the SHA-256 recorded for it, every Secret must decrypt with O(vault_password), every file
    must hold one object of the kind and name the manifest gives it. Then (O(preflight)) the API server's dry run must
    accept every object before the first one is stored."
  - "Objects are applied by server-side apply (C(application/apply-patch+yaml)) with the field manager O(field_manager), in
    dependency order - ServiceAccounts, Roles, RoleBindings, ConfigMaps, Secrets, PersistentVolumeClaims, Services,
    NetworkPolicies, then Deployments, StatefulSets, DaemonSets, CronJobs, Jobs, and HorizontalPodAutoscalers,
    PodDisruptionBudgets and Ingresses last - so pods never start before their configuration exists."
  - RV(objects) says of each object whether it was created, configured or unchanged, from the object the API server held
    before (one GET each) and the one it answered.
  - Restoring into another namespace rewrites the namespace of the ServiceAccount subjects of RoleBindings that named the
    source namespace.
  - The API server does not roll back a restore that fails halfway (there are no transactions); applying the same archive
    again is safe (server-side apply is idempotent), and the dry run makes a failure halfway unlikely.
  - kubernetes.core's M(kubernetes.core.k8s) could apply the objects one by one, but it needs its own Python dependencies
    and one task per object; this module uses the same C(kubernetes) client and connection options and applies an archive
    as one unit (proof, order, preflight, one report).
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.kubernetes
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Proves the archive, reads the objects the namespace holds, and sends every object with C(dryRun=All), so the API
        server validates (and admission webhooks see) exactly what a real run would apply; stores nothing.
      - When the namespace does not exist yet (O(create_namespace=true)), only its creation is dry-run; the objects cannot be
        (the API server refuses a dry run into a missing namespace), so they are reported as created, with a warning and
        RV(dry_run_objects=false).
  diff_mode:
    support: full
    details:
      - One diff per created or changed object, before and after; every value of a Secret is replaced by C(<hidden>) or
        C(<hidden, changed>).
options:
  path:
    description: The archive (C(<namespace>_<time>.k8s.tar.gz)); its manifest must be beside it.
    type: path
    required: true
  namespace:
    description: The namespace to restore into. Default, the namespace the archive was taken from.
    type: str
  create_namespace:
    description: Apply the Namespace first when it does not exist (otherwise a missing namespace fails the restore).
    type: bool
    default: false
  kinds:
    description: Restore only these kinds (as in M(dsr.ops.k8s_config_backup)); default, everything in the archive.
    type: list
    elements: str
  secrets:
    description:
      - V(restore) decrypts and applies the Secrets (then O(vault_password) is required when the archive holds any);
        V(skip) restores everything else.
    type: str
    choices: [restore, skip]
    default: restore
  vault_password:
    description: The password the archive's Secrets were encrypted with. When unset, E(DSR_K8S_VAULT_PASSWORD).
    type: str
  vault_password_file:
    description: A file holding the password (its first line); an executable is refused.
    type: path
  vault_id:
    description: The vault id to decrypt with (the backup's, C(dsr-k8s-config) unless it was given another).
    type: str
    default: dsr-k8s-config
  field_manager:
    description: The field manager of the server-side apply.
    type: str
    default: dsr-ops
  force_conflicts:
    description:
      - Take over fields another field manager owns (C(force=true)). Without it, such an object fails the restore with the
        API server's conflict message naming the manager and the fields.
    type: bool
    default: false
  preflight:
    description: Send every object as a dry run first, and apply nothing unless all of them pass.
    type: bool
    default: true
notes:
  - Needs C(get) and C(patch) on every kind in the archive in O(namespace) (and C(create) where objects are missing).
seealso:
  - module: dsr.ops.k8s_config_backup
  - module: dsr.ops.k8s_health
'''

EXAMPLES = r'''
- name: What would the restore change (check mode and diff)?
  dsr.ops.k8s_config_restore:
    path: /restore/dsr-production_20261203T020000Z.k8s.tar.gz
    vault_password: "{{ dsr_k8s_vault_password }}"
  check_mode: true
  diff: true

- name: Restore the configuration into the rebuilt cluster
  dsr.ops.k8s_config_restore:
    path: /restore/dsr-production_20261203T020000Z.k8s.tar.gz
    vault_password: "{{ dsr_k8s_vault_password }}"
    create_namespace: true
'''

RETURN = r'''
namespace:
  description: The namespace restored into.
  returned: success
  type: str
  sample: dsr-production
source_namespace:
  description: The namespace the archive was taken from.
  returned: success
  type: str
  sample: dsr-production
backup:
  description: The archive applied - C(path), C(started_at), C(sha256), C(objects) (the number of files in it).
  returned: success
  type: dict
  sample: {path: /restore/dsr-production_20261203T020000Z.k8s.tar.gz, started_at: "2026-12-03T02:00:00+00:00", objects: 41}
objects:
  description: Each object applied (or dry-run), in the order sent, with C(kind), C(name), C(file) and C(action) (V(created), V(configured), V(unchanged)).
  returned: success
  type: list
  elements: dict
  sample: [{kind: ServiceAccount, name: dsr-app, file: serviceaccounts/dsr-app.yaml, action: unchanged}]
counts:
  description: How many objects were created, configured and unchanged.
  returned: success
  type: dict
  sample: {created: 0, configured: 2, unchanged: 39}
not_applied:
  description: Objects of the archive not applied (O(kinds), O(secrets=skip)), with C(kind), C(name), C(reason).
  returned: success
  type: list
  elements: dict
  sample: []
applied:
  description: Objects stored by the API server (not in check mode).
  returned: success, not in check mode, when there was something to apply
  type: int
  sample: 41
dry_run:
  description: Whether the objects were only dry-run (check mode).
  returned: success
  type: bool
  sample: false
dry_run_objects:
  description:
    - Whether the objects went through the API server's dry run.
    - False when the namespace does not exist yet (with O(create_namespace=true)) - an API server refuses a dry run into a
      missing namespace, so only the archive was proven (and its Secrets decrypted), with a warning.
  returned: check mode
  type: bool
  sample: true
created_namespace:
  description: Whether the namespace was (or, in check mode, would be) created.
  returned: O(create_namespace=true)
  type: bool
  sample: false
diff:
  description: Before and after of each created or changed object (Secret values hidden).
  returned: in diff mode
  type: list
  elements: dict
  sample: [{before_header: ConfigMap dsr-production/dsr-config, after_header: ConfigMap dsr-production/dsr-config, before: "...", after: "..."}]
applied_before_failure:
  description: The objects (C(Kind/name)) stored before a failure stopped the restore; applying the archive again is safe.
  returned: failure
  type: list
  elements: str
  sample: [ServiceAccount/dsr-app, Role/dsr-app-config-reader]
api_server:
  description: The API server (without credentials).
  returned: always
  type: str
  sample: https://api.dsr.example:6443
api_requests:
  description: Requests sent to the API server - a GET, a dry run and an apply per object.
  returned: always
  type: int
  sample: 123
requests:
  description: The requests sent, as C(METHOD path?query).
  returned: always
  type: list
  elements: str
  sample: ["PATCH /api/v1/namespaces/dsr-production/configmaps/dsr-config?fieldManager=dsr-ops&dryRun=All"]
'''

from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupError
from ansible_collections.dsr.ops.plugins.module_utils._k8s import kinds as k8s_kinds
from ansible_collections.dsr.ops.plugins.module_utils._k8s.client import (
    K8sClient, K8sError, kubernetes_argument_spec, resolve_environment, validate_connection_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._k8s.restore import ConfigRestore
from ansible_collections.dsr.ops.plugins.module_utils._k8s.vaultopts import (
    vault_argument_spec, validate_vault_params, vault_from_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule, reason
from ansible_collections.dsr.ops.plugins.module_utils._options import empty_problems


def argument_spec():
    """The Kubernetes connection, the vault, the archive and how to apply it."""
    spec = kubernetes_argument_spec()
    spec.update(vault_argument_spec())
    spec.update(
        path=dict(type='path', required=True),
        namespace=dict(type='str'),
        create_namespace=dict(type='bool', default=False),
        kinds=dict(type='list', elements='str'),
        secrets=dict(type='str', choices=['restore', 'skip'], default='restore'),
        field_manager=dict(type='str', default='dsr-ops'),
        force_conflicts=dict(type='bool', default=False),
        preflight=dict(type='bool', default=True),
    )
    return spec


def validate(params):
    """Messages naming the option and the fix."""
    problems = validate_connection_params(params) + validate_vault_params(params) + empty_problems(params, ('path',))
    if params['kinds'] is not None:
        params['kinds'], kind_problems = k8s_kinds.normalize(params['kinds'])
        problems.extend(kind_problems)
    if params['namespace'] is not None and not k8s_kinds.is_namespace(params['namespace']):
        problems.append('namespace %r is not a namespace name: lowercase letters, digits and "-", at most 63 characters' % params['namespace'])
    manager = params['field_manager'] or ''
    if not manager.strip() or len(manager) > 128:
        problems.append('field_manager must be a name of 1-128 characters, got %r' % manager)
    return problems


def main():
    module = DsrModule(argument_spec(), libraries=['kubernetes', 'yaml', 'cryptography'], secrets_from_environment=resolve_environment,
                       validate=validate, supports_check_mode=True)
    params = module.params
    if params.get('vault_password'):
        module.no_log_values.add(params['vault_password'])
    client = module.run(lambda: {'client': K8sClient.from_params(params)}, (K8sError,), str)['client']
    vault = vault_from_params(params)
    restore = ConfigRestore(client, params, check_mode=module.check_mode, vault=vault, diff=module._diff)

    def describe(exc):
        return {'msg': 'configuration restore into %s failed: %s' % (params['namespace'] or 'the archive\'s namespace', reason(exc)),
                'changed': bool(getattr(restore, 'partial', None)), 'api_requests': len(client.requests), 'requests': client.requests,
                'applied_before_failure': list(getattr(restore, 'partial', None) or [])}

    try:
        result = module.run(lambda: dict(restore.run(), warnings=restore.warnings), (K8sError, BackupError, OSError), describe)
    finally:
        client.close()
    result.update(api_server=client.host, api_requests=len(client.requests), requests=client.requests)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
