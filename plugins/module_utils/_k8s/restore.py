# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""k8s_config_restore's backend: apply a configuration archive to a namespace, proven first, in dependency order.

The archive is untrusted input until proven: its manifest must parse as a
``k8s-config`` manifest, the archive must have the size and SHA-256 the
manifest records, every member the SHA-256 recorded for it, every Secret must
decrypt, every file must hold one object of a kind this module applies, with
the name the manifest gives it. Nothing is sent before all of that holds, and
then nothing is stored before the API server's dry run accepted every object
(``preflight``): a bad object stops the restore before the first change.

Objects are applied by server-side apply with this module's field manager
(``dsr-ops`` unless told otherwise), in :data:`kinds.KINDS` order. An object
another manager owns fields of is a conflict (409) unless ``force_conflicts``.
What each object became - created, configured or unchanged - is what the API
server answered compared with what it held before (a GET first).

In check mode every object goes through the dry run only; the diff shows the
object before and after, with every Secret value replaced by a marker saying
whether it changes.
"""

from __future__ import annotations

import copy
import os

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._k8s import archive, export
from ansible_collections.dsr.ops.plugins.module_utils._k8s import kinds as k8s_kinds
from ansible_collections.dsr.ops.plugins.module_utils._k8s.archive import ConfigArchiveError

FORMAT = 'k8s-config'
# what the server sets and a comparison of "before" and "after" must ignore
_VOLATILE_METADATA = ('resourceVersion', 'managedFields', 'generation', 'uid', 'creationTimestamp', 'selfLink')


def load(path, vault, namespace=None, kinds=None, secrets='restore', warnings=None):
    """``(manifest, objects, skipped)``: the archive at ``path`` proven and parsed; objects in restore order.

    Each object is ``{kind, name, file, body}`` with ``body`` ready to apply in
    ``namespace`` (the manifest's own by default). ConfigArchiveError or
    ManifestError (both safe to show) for anything that is not as written.
    """
    warnings = [] if warnings is None else warnings
    manifest_file = mf.manifest_path(path)
    if not os.path.isfile(path):
        raise ConfigArchiveError('path %s is not a file: give a configuration archive made by dsr.ops.k8s_config_backup' % path)
    if not os.path.isfile(manifest_file):
        raise ConfigArchiveError('%s has no manifest beside it (%s): only complete dsr.ops configuration backups are restored' % (path, manifest_file))
    manifest = mf.load(manifest_file, fmt=FORMAT)
    digest, size = files.sha256_file(path)
    if size != manifest.stored_size_bytes or digest != manifest.sha256:
        raise ConfigArchiveError('%s is %d bytes with SHA-256 %s, its manifest says %d bytes, %s: the archive is damaged; nothing was applied'
                                 % (path, size, digest, manifest.stored_size_bytes, manifest.sha256))
    members = archive.read_archive(path, manifest.objects)
    target = namespace or manifest.database
    objects, skipped = [], []
    for entry in manifest.objects:
        kind = k8s_kinds.BY_NAME.get(entry['kind'])
        if kind is None:
            raise ConfigArchiveError('%s: %s is a %s, a kind this module does not apply' % (path, entry['file'], entry['kind']))
        if entry['file'] != '%s/%s.yaml%s' % (k8s_kinds.resource_name(kind), entry['name'], archive.VAULT_SUFFIX if kind.kind == 'Secret' else ''):
            raise ConfigArchiveError('%s: %s is not where a %s named %s is stored' % (path, entry['file'], kind.kind, entry['name']))
        if kinds is not None and kind.kind not in kinds:
            skipped.append({'kind': kind.kind, 'name': entry['name'], 'reason': 'not among kinds'})
            continue
        data = members[entry['file']]
        if entry['encrypted']:
            if secrets == 'skip':
                skipped.append({'kind': kind.kind, 'name': entry['name'], 'reason': 'secrets=skip'})
                continue
            if vault is None:
                raise ConfigArchiveError('%s holds %d encrypted Secret(s) and no vault_password was given: give the vault password the backup '
                                         'was made with, or secrets=skip to restore the rest without them'
                                         % (path, sum(1 for e in manifest.objects if e['encrypted'])))
            data = vault.decrypt(data, entry['file'])
        body = archive.load_yaml(data, entry['file'])
        objects.append({'kind': kind.kind, 'name': entry['name'], 'file': entry['file'],
                        'body': _checked(body, kind, entry, path, manifest.database, target)})
    objects.sort(key=lambda o: (k8s_kinds.ORDER[o['kind']], o['name']))
    if not objects:
        warnings.append('%s: nothing to apply (%d object(s) in the archive, all skipped)' % (path, len(manifest.objects)))
    return manifest, objects, skipped


def _checked(body, kind, entry, path, source_namespace, target):
    """The object of one file made ready to apply in ``target``, or ConfigArchiveError when it is not what the manifest says."""
    where = '%s: %s' % (path, entry['file'])
    if not isinstance(body, dict):
        raise ConfigArchiveError('%s does not hold one object' % where)
    if body.get('kind') != kind.kind or body.get('apiVersion') != kind.api_version:
        raise ConfigArchiveError('%s holds %s %s, not %s %s' % (where, body.get('apiVersion'), body.get('kind'), kind.api_version, kind.kind))
    metadata = body.get('metadata')
    if not isinstance(metadata, dict) or metadata.get('name') != entry['name']:
        found = metadata.get('name') if isinstance(metadata, dict) else None
        raise ConfigArchiveError('%s holds an object named %r, not %s' % (where, found, entry['name']))
    if metadata.get('namespace') not in (None, source_namespace):
        raise ConfigArchiveError('%s names namespace %s, the archive is of %s' % (where, metadata['namespace'], source_namespace))
    # the backup removed the server's fields; removing them again costs nothing and keeps a stray resourceVersion from failing the apply
    body = export.clean(body)
    body['metadata']['namespace'] = target
    if kind.kind == 'RoleBinding' and target != source_namespace:
        for subject in body.get('subjects') or []:
            if isinstance(subject, dict) and subject.get('kind') == 'ServiceAccount' and subject.get('namespace') == source_namespace:
                subject['namespace'] = target
    return body


def comparable(obj):
    """An object without what the server changes on every write, to compare before and after."""
    if obj is None:
        return None
    result = copy.deepcopy(obj)
    result.pop('status', None)
    metadata = result.get('metadata') or {}
    for key in _VOLATILE_METADATA:
        metadata.pop(key, None)
    return result


def masked(obj, other=None):
    """A Secret with every value replaced by a marker (``changed`` when it differs from ``other``'s); other objects as they are."""
    if obj is None or obj.get('kind') != 'Secret':
        return obj
    result = copy.deepcopy(obj)
    other = other or {}
    for field in ('data', 'stringData'):
        values = result.get(field)
        if isinstance(values, dict):
            theirs = other.get(field) if isinstance(other.get(field), dict) else {}
            result[field] = {key: ('<hidden>' if theirs.get(key) == value else '<hidden, changed>') for key, value in values.items()}
    return result


class ConfigRestore:
    """One run of k8s_config_restore (see the module docstring)."""

    def __init__(self, client, params, check_mode=False, vault=None, diff=False):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.vault = vault
        self.want_diff = diff
        self.warnings = []
        # the objects stored so far ("Kind/name"), for the failure message of a restore that fails halfway
        self.partial = []

    def _call(self, obj, dry_run):
        kind = k8s_kinds.BY_NAME[obj['kind']]
        namespace = obj['body']['metadata']['namespace']
        return self.client.apply(k8s_kinds.path(kind, namespace, obj['name']), obj['body'], k8s_kinds.resource_name(kind), namespace,
                                 self.params['field_manager'], force=self.params['force_conflicts'], dry_run=dry_run)

    def run(self):
        params = self.params
        manifest, objects, skipped = load(params['path'], self.vault, namespace=params.get('namespace'), kinds=params.get('kinds'),
                                          secrets=params['secrets'], warnings=self.warnings)
        target = params.get('namespace') or manifest.database
        result = {'namespace': target, 'source_namespace': manifest.database, 'backup': {
            'path': params['path'], 'started_at': manifest.started_at, 'sha256': manifest.sha256, 'objects': len(manifest.objects)},
            'not_applied': skipped, 'objects': [], 'changed': False, 'dry_run': self.check_mode}
        if params['create_namespace']:
            self._namespace(target, result)
        missing = bool(result.get('created_namespace'))
        before = {}
        for obj in objects:
            kind = k8s_kinds.BY_NAME[obj['kind']]
            # a namespace that does not exist yet holds nothing
            live = None if missing else self.client.get(k8s_kinds.path(kind, target, obj['name']), k8s_kinds.resource_name(kind), target, obj['name'])
            before[obj['file']] = live
        if self.check_mode and missing:
            # the Namespace itself was only dry-run, and an API server refuses a dry run into a namespace that does not exist
            decrypted = ' and its Secrets decrypted' if any(obj['kind'] == 'Secret' for obj in objects) else ''
            self.warnings.append('namespace %s does not exist: its creation was dry-run, the %d objects were not (an API server refuses '
                                 'a dry run into a namespace that does not exist); the archive was proven%s' % (target, len(objects), decrypted))
            result['dry_run_objects'] = False
            return self._report(result, objects, before, {obj['file']: obj['body'] for obj in objects})
        if self.check_mode or params['preflight']:
            dry = {}
            for obj in objects:
                dry[obj['file']] = self._call(obj, dry_run=True)
            if self.check_mode:
                result['dry_run_objects'] = True
                return self._report(result, objects, before, dry)
        after = {}
        for obj in objects:
            after[obj['file']] = self._call(obj, dry_run=False)
            self.partial.append('%s/%s' % (obj['kind'], obj['name']))
            result['applied'] = len(after)
        return self._report(result, objects, before, after)

    def _namespace(self, target, result):
        """With create_namespace, apply the Namespace first (a dry run in check mode)."""
        body = {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': target}}
        path = '/api/v1/namespaces/%s' % target
        live = self.client.get(path, 'namespaces', None, target)
        if live is None:
            self.client.apply(path, body, 'namespaces', None, self.params['field_manager'], force=self.params['force_conflicts'],
                              dry_run=self.check_mode)
        result['created_namespace'] = live is None

    def _report(self, result, objects, before, after):
        diffs = []
        counts = {'created': 0, 'configured': 0, 'unchanged': 0}
        for obj in objects:
            old, new = comparable(before[obj['file']]), comparable(after[obj['file']])
            action = 'created' if old is None else ('unchanged' if old == new else 'configured')
            counts[action] += 1
            result['objects'].append({'kind': obj['kind'], 'name': obj['name'], 'file': obj['file'], 'action': action})
            if action != 'unchanged' and self.want_diff:
                header = '%s %s/%s' % (obj['kind'], result['namespace'], obj['name'])
                diffs.append({'before_header': header, 'after_header': header,
                              'before': archive.dump_yaml(masked(old, new)).decode('utf-8') if old is not None else '',
                              'after': archive.dump_yaml(masked(new, old)).decode('utf-8')})
        result['counts'] = counts
        result['changed'] = bool(counts['created'] or counts['configured'] or result.get('created_namespace'))
        if self.want_diff:
            result['diff'] = diffs
        return result
