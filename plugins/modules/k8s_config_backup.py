#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: k8s_config_backup
short_description: Back up a namespace's Kubernetes configuration to a re-appliable, verified archive, Secrets encrypted
version_added: 0.3.0
description:
  - Exports the configuration of O(namespace) - the kinds of O(kinds), one list call each - as one YAML file per object in a
    C(tar.gz) archive C(<namespace>_<UTC time>.k8s.tar.gz) in O(backup_dir), with a manifest C(<archive>.manifest.json)
    holding each file's SHA-256, and a verification record C(<archive>.verify.json). M(dsr.ops.s3_backup) ships, lists,
    prunes and fetches these archives like database backups; M(dsr.ops.k8s_config_restore) applies one.
  - "Re-appliable, by Velero's restore rules and kubectl-neat's: no C(status); no C(uid), C(resourceVersion), C(generation),
    C(creationTimestamp), C(managedFields), C(selfLink), deletion fields, owner references or last-applied annotation (which
    holds a Secret's data in clear); Services without their allocated C(clusterIP)/C(clusterIPs) (a headless C(None) stays)
    and without node ports the API server assigned; PersistentVolumeClaims without the volume they were bound to; objects a
    controller owns (ReplicaSets, Pods, a CronJob's Jobs) and objects the control plane makes (C(kube-root-ca.crt),
    service-account token Secrets) are not exported. C(metadata.namespace) is left out: the manifest records it, and a
    restore can target another namespace."
  - Secrets are never written in clear - each Secret file is encrypted in ansible-vault format (1.2, AES256, vault id
    O(vault_id)) with O(vault_password), and C(ansible-vault view) opens it by hand. Without a password, Secrets are skipped
    and a warning lists them.
  - "Deterministic: keys and files sorted, the tar and gzip headers without times or owners, and an unchanged Secret keeps
    its previous ciphertext; so when the configuration is the same as in the newest archive in O(backup_dir), nothing is
    written, the task is not changed and RV(path) is that archive."
  - Written like M(dsr.ops.pg_backup) writes a dump - a temporary file, fsync, an atomic rename that never replaces another
    file, the manifest last, a lock per namespace -, then read back from disk and proven (every member's SHA-256, every
    Secret decrypted, every file parsed) before the verification record is written. Files are mode 0600, O(backup_dir)
    0700.
  - Optional retention keeps the last O(keep_last) archives and/or those younger than O(max_age), and deletes only
    archives whose manifest, name, size and magic bytes prove them to be this namespace's configuration backups.
  - Replaces the runbook's C(kubectl get all,secrets,configmaps -o yaml > file) (Configuration Backup), which writes
    Secrets in clear and cannot be applied again.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.kubernetes
  - dsr.ops.attributes
attributes:
  check_mode:
    support: full
    details:
      - Lists and exports as a real run does, compares with the newest archive and reports whether a new one would be
        written, its planned path, size and SHA-256, and what retention would delete; writes nothing.
  diff_mode:
    support: none
options:
  namespace:
    description: The namespace to back up.
    type: str
    default: dsr-production
  backup_dir:
    description:
      - Directory receiving the archives, their manifests and verification records (created mode 0700 if missing).
      - On the host running the module.
    type: path
    required: true
  kinds:
    description:
      - The kinds to export, by kind or resource name (V(Deployment), V(deployments), V(deployments.apps)).
      - Default, every kind but V(Job) - V(ServiceAccount), V(Role), V(RoleBinding), V(ConfigMap), V(Secret),
        V(PersistentVolumeClaim), V(Service), V(NetworkPolicy), V(Deployment), V(StatefulSet), V(DaemonSet), V(CronJob),
        V(HorizontalPodAutoscaler), V(PodDisruptionBudget), V(Ingress). Jobs a CronJob owns are never exported.
    type: list
    elements: str
  vault_password:
    description:
      - The password the Secrets are encrypted with (ansible-vault format). When unset, E(DSR_K8S_VAULT_PASSWORD) - the
        variable an AWX custom credential type injects (see docs/kubernetes.md).
      - Without it (and without O(vault_password_file)) Secrets are not backed up, with a warning listing them.
    type: str
  vault_password_file:
    description:
      - A file holding the password (its first line), as C(ansible-vault --vault-password-file) reads it. An executable
        (a vault client script) is refused.
    type: path
  vault_id:
    description: The vault id written in each encrypted file's header (C($ANSIBLE_VAULT;1.2;AES256;<vault_id>)).
    type: str
    default: dsr-k8s-config
  keep_last:
    description: After the backup, keep this many newest archives of O(namespace) in O(backup_dir) (at least 1).
    type: int
  max_age:
    description:
      - After the backup, delete archives older than this (V(30d), V(36h), seconds). With O(keep_last) too, an archive is
        deleted only when both rules let it go; the newest and the newest verified archive are always kept.
    type: str
notes:
  - Needs read (C(list)) access to the kinds of O(kinds) in O(namespace), Secrets included unless they are left out of O(kinds).
  - The encryption needs the C(cryptography) library (as ansible-vault itself does).
seealso:
  - module: dsr.ops.k8s_config_restore
  - module: dsr.ops.s3_backup
  - module: dsr.ops.k8s_health
'''

EXAMPLES = r'''
- name: Nightly configuration backup of the DSR namespace, Secrets encrypted, two weeks kept
  dsr.ops.k8s_config_backup:
    namespace: dsr-production
    backup_dir: /backups/k8s-config
    vault_password: "{{ dsr_k8s_vault_password }}"
    keep_last: 14
  register: config_backup

- name: Ship it off-site like the database backups
  dsr.ops.s3_backup:
    mode: upload
    bucket: dsr-backups
    prefix: production/k8s-config/
    path: "{{ config_backup.path }}"

- name: Would the configuration be backed up again (check mode)?
  dsr.ops.k8s_config_backup:
    backup_dir: /backups/k8s-config
    kinds: [Deployment, StatefulSet, ConfigMap, Service]
  check_mode: true
'''

RETURN = r'''
namespace:
  description: The namespace backed up.
  returned: always
  type: str
  sample: dsr-production
path:
  description: The archive written (planned, in check mode), or the newest archive when the configuration is unchanged.
  returned: success
  type: str
  sample: /backups/k8s-config/dsr-production_20261203T020000Z.k8s.tar.gz
manifest_path:
  description: Its manifest.
  returned: success
  type: str
  sample: /backups/k8s-config/dsr-production_20261203T020000Z.k8s.tar.gz.manifest.json
sha256:
  description: SHA-256 of the archive.
  returned: success
  type: str
  sample: 4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b
size_bytes:
  description: Size of the archive.
  returned: success
  type: int
  sample: 28311
started_at:
  description: When the archive was made (ISO 8601, UTC; also in its name); the older archive's when unchanged.
  returned: success
  type: str
  sample: "2026-12-03T02:00:00+00:00"
unchanged:
  description: Whether the configuration is the same as in the newest archive (then nothing was written).
  returned: success
  type: bool
  sample: false
previous_path:
  description: The newest earlier archive the configuration was compared with, or null.
  returned: success
  type: str
  sample: /backups/k8s-config/dsr-production_20261202T020000Z.k8s.tar.gz
objects:
  description: The files of the archive, each with C(file), C(kind), C(name), C(encrypted), C(sha256) and C(size_bytes).
  returned: success
  type: list
  elements: dict
  sample: [{file: deployments.apps/payment-service.yaml, kind: Deployment, name: payment-service, encrypted: false, sha256: "9f86...", size_bytes: 2710}]
counts:
  description: Objects exported, by kind.
  returned: success
  type: dict
  sample: {Deployment: 8, Secret: 3, ConfigMap: 3}
not_exported:
  description: Objects not exported and why (owned by a controller, made by the control plane), each with C(kind), C(name), C(reason).
  returned: success
  type: list
  elements: dict
  sample: [{kind: ConfigMap, name: kube-root-ca.crt, reason: made in every namespace by the root CA publisher}]
secrets:
  description: C(encrypted), the number of Secrets written encrypted; C(skipped), the names of those not backed up (no password); C(vault_id).
  returned: success
  type: dict
  sample: {encrypted: 3, skipped: [], vault_id: dsr-k8s-config}
verification:
  description:
    - The verification record written beside the archive after reading it back (C(status), C(sha256), C(verified_at),
      C(objects), C(secrets_decrypted)).
  returned: when an archive was written
  type: dict
  sample: {status: ok, objects: 41, secrets_decrypted: 3}
retention:
  description: C(deleted) and C(kept) archives (each with C(path), C(started_at), C(size_bytes), C(verified), C(reason)), and C(malformed) manifests left alone.
  returned: success
  type: dict
  sample: {deleted: [], kept: [], malformed: []}
created_backup_dir:
  description: Whether O(backup_dir) would be created.
  returned: in check mode, when a new archive would be written
  type: bool
  sample: false
api_server:
  description: The API server (without credentials).
  returned: always
  type: str
  sample: https://api.dsr.example:6443
api_requests:
  description: Requests sent to the API server (one list call per kind).
  returned: always
  type: int
  sample: 15
requests:
  description: The requests sent, as C(METHOD path?query).
  returned: always
  type: list
  elements: str
  sample: ["GET /apis/apps/v1/namespaces/dsr-production/deployments"]
'''

from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupError
from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration
from ansible_collections.dsr.ops.plugins.module_utils._k8s import kinds as k8s_kinds
from ansible_collections.dsr.ops.plugins.module_utils._k8s.backup import ConfigBackup
from ansible_collections.dsr.ops.plugins.module_utils._k8s.client import (
    K8sClient, K8sError, kubernetes_argument_spec, resolve_environment, validate_connection_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._k8s.vaultopts import (
    vault_argument_spec, validate_vault_params, vault_from_params,
)
from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule, reason
from ansible_collections.dsr.ops.plugins.module_utils._options import empty_problems


def argument_spec():
    """The Kubernetes connection, the vault, what to export and where."""
    spec = kubernetes_argument_spec()
    spec.update(vault_argument_spec())
    spec.update(
        namespace=dict(type='str', default='dsr-production'),
        backup_dir=dict(type='path', required=True),
        kinds=dict(type='list', elements='str'),
        keep_last=dict(type='int'),
        max_age=dict(type='str'),
    )
    return spec


def validate(params):
    """Messages naming the option and the fix."""
    problems = validate_connection_params(params) + validate_vault_params(params) + empty_problems(params, ('backup_dir',))
    chosen, kind_problems = k8s_kinds.normalize(params['kinds'] if params['kinds'] is not None else list(k8s_kinds.DEFAULT_KINDS))
    problems.extend(kind_problems)
    params['kinds'] = chosen
    namespace = params['namespace'] or ''
    if not k8s_kinds.is_namespace(namespace):
        problems.append('namespace %r is not a namespace name: lowercase letters, digits and "-", at most 63 characters' % namespace)
    if params['keep_last'] is not None and params['keep_last'] < 1:
        problems.append('keep_last must be at least 1 (the newest archive is always kept), got %d' % params['keep_last'])
    return problems


def main():
    module = DsrModule(argument_spec(), libraries=['kubernetes', 'yaml', 'cryptography'], secrets_from_environment=resolve_environment,
                       convert={'max_age': parse_duration}, validate=validate)
    params = module.params
    if params.get('vault_password'):
        module.no_log_values.add(params['vault_password'])
    client = module.run(lambda: {'client': K8sClient.from_params(params)}, (K8sError,), str)['client']
    vault = vault_from_params(params)
    backup = ConfigBackup(client, params, check_mode=module.check_mode, vault=vault)

    def describe(exc):
        return {'msg': 'configuration backup of %s failed: %s' % (params['namespace'], reason(exc)), 'changed': False,
                'api_requests': len(client.requests), 'requests': client.requests}

    try:
        result = module.run(lambda: dict(backup.run(), warnings=backup.warnings), (K8sError, BackupError, OSError), describe)
    finally:
        client.close()
    result.update(api_server=client.host, api_requests=len(client.requests), requests=client.requests)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
