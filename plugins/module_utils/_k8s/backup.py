# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""k8s_config_backup's backend: a namespace's configuration as one verified archive beside a manifest.

One list call per kind; each object goes through :mod:`export`'s rules (owned
objects skipped, server fields removed) and loses its namespace (the manifest
records it; a restore may target another). Secrets are written only
encrypted, or skipped with a warning naming them when no vault password is
given.

The archive is written as ``pg_backup`` writes a dump: a private temporary
file beside the final name, fsync, an atomic rename that never replaces
another file, the manifest last; then it is read back from disk and checked
(every member's SHA-256, every Secret decrypted, every file parsed) and a
verification record is written beside it, which ``s3_backup`` uploads with it
and which ``select: newest_verified`` looks for. When the configuration is
the same as in the newest archive in the directory, nothing is written
(``changed`` false, ``path`` is that archive).
"""

from __future__ import annotations

import datetime
import os
import re

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup import retention
from ansible_collections.dsr.ops.plugins.module_utils._backup.lock import DatabaseLock
from ansible_collections.dsr.ops.plugins.module_utils._k8s import archive, export
from ansible_collections.dsr.ops.plugins.module_utils._k8s import kinds as k8s_kinds
from ansible_collections.dsr.ops.plugins.module_utils._k8s.archive import ConfigArchiveError

FORMAT = 'k8s-config'
SUFFIX = '.k8s.tar.gz'
# an object name that can be a file name: a DNS subdomain (what the API server accepts for these kinds)
_NAME_RE = re.compile(r'^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$')


def archive_name(namespace, moment):
    """``dsr-production_20261203T020000Z.k8s.tar.gz``."""
    return '%s_%s%s' % (namespace, moment.astimezone(datetime.timezone.utc).strftime(mf.TIMESTAMP_FORMAT), SUFFIX)


def member_name(kind, name):
    return '%s/%s.yaml%s' % (k8s_kinds.resource_name(kind), name, archive.VAULT_SUFFIX if kind.kind == 'Secret' else '')


class ConfigBackup:
    """One run of k8s_config_backup (see the module docstring)."""

    def __init__(self, client, params, check_mode=False, vault=None, now=None):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.vault = vault
        self.now = now or mf.utcnow
        self.namespace = params['namespace']
        self.backup_dir = params['backup_dir']
        self.warnings = []

    def export(self):
        """``(plaintext files, objects, skipped, skipped_secrets)`` from one list call per kind."""
        plain, objects, skipped, skipped_secrets = {}, [], [], []
        for kind_name in self.params['kinds']:
            kind = k8s_kinds.BY_NAME[kind_name]
            items = self.client.list(kind.api_version, kind.plural, namespace=self.namespace, resource=k8s_kinds.resource_name(kind))
            for item in items:
                item.setdefault('apiVersion', kind.api_version)
                item.setdefault('kind', kind.kind)
                name = (item.get('metadata') or {}).get('name')
                if not isinstance(name, str) or not _NAME_RE.match(name):
                    skipped.append({'kind': kind.kind, 'name': str(name), 'reason': 'a name that cannot be a file name'})
                    self.warnings.append('%s %r was not exported: its name cannot be a file name' % (kind.kind, name))
                    continue
                reason = export.skip_reason(item)
                if reason:
                    skipped.append({'kind': kind.kind, 'name': name, 'reason': reason})
                    continue
                if kind.kind == 'Secret' and self.vault is None:
                    skipped_secrets.append(name)
                    continue
                obj = export.clean(item)
                obj['metadata'].pop('namespace', None)
                path = member_name(kind, name)
                plain[path] = archive.dump_yaml(obj)
                objects.append({'file': path, 'kind': kind.kind, 'name': name, 'encrypted': kind.kind == 'Secret'})
        if skipped_secrets:
            self.warnings.append('no vault_password: %d Secret(s) of %s were not backed up (%s); give vault_password to back them up '
                                 'encrypted' % (len(skipped_secrets), self.namespace, ', '.join(sorted(skipped_secrets))))
        return plain, objects, skipped, skipped_secrets

    def previous(self):
        """The newest proven archive of the namespace in backup_dir with its members, or (None, None)."""
        entries, malformed = mf.scan(self.backup_dir, self.namespace, fmt=FORMAT)
        for item in malformed:
            self.warnings.append('left alone: %s' % item['reason'])
        now = self.now()
        for entry in entries:
            if entry['problem'] or mf.is_future(entry['started_at'], now):
                continue
            try:
                digest, _size = files.sha256_file(entry['path'])
                if digest != entry['manifest'].sha256:
                    raise ConfigArchiveError('%s does not match the SHA-256 of its manifest' % entry['path'])
                return entry, archive.read_archive(entry['path'], entry['manifest'].objects)
            except (ConfigArchiveError, OSError) as exc:
                self.warnings.append('the newest configuration backup cannot be compared with: %s' % exc)
                return None, None
        return None, None

    def encrypt(self, plain, objects, previous_members):
        """The stored bytes of every file: Secrets encrypted, reusing the previous ciphertext of an unchanged Secret."""
        stored = {}
        for entry in objects:
            data = plain[entry['file']]
            if entry['encrypted']:
                old = (previous_members or {}).get(entry['file'])
                if old is not None and self._decrypts_to(old, data, entry['file']):
                    data = old
                else:
                    data = self.vault.encrypt(data)
            stored[entry['file']] = data
            entry['sha256'] = archive.sha256(data)
            entry['size_bytes'] = len(data)
        return stored

    def _decrypts_to(self, ciphertext, plaintext, where):
        try:
            return self.vault.decrypt(ciphertext, where) == plaintext
        except ConfigArchiveError:
            return False  # another password (rotated): encrypt again

    def run(self):
        params = self.params
        started = self.now().replace(microsecond=0)
        plain, objects, skipped, skipped_secrets = self.export()
        previous, previous_members = self.previous()
        stored = self.encrypt(plain, objects, previous_members)
        objects.sort(key=lambda e: e['file'])
        counts = {}
        for entry in objects:
            counts[entry['kind']] = counts.get(entry['kind'], 0) + 1
        result = {
            'namespace': self.namespace, 'objects': objects, 'counts': counts, 'not_exported': skipped,
            'secrets': {'encrypted': sum(1 for e in objects if e['encrypted']), 'skipped': sorted(skipped_secrets),
                        'vault_id': self.vault.vault_id if self.vault else None},
            'changed': False, 'unchanged': False, 'previous_path': previous['path'] if previous else None,
        }
        if previous is not None and previous_members == stored:
            result.update(unchanged=True, path=previous['path'], manifest_path=previous['manifest_path'],
                          sha256=previous['manifest'].sha256, size_bytes=previous['manifest'].stored_size_bytes,
                          started_at=previous['manifest'].started_at)
            result['retention'] = self.retention(protect=previous['path'])
            return result
        final = os.path.join(self.backup_dir, archive_name(self.namespace, started))
        data, raw_size = archive.build(stored)
        result.update(changed=True, path=final, manifest_path=mf.manifest_path(final), size_bytes=len(data), sha256=archive.sha256(data),
                      started_at=mf.isoformat(started))
        if self.check_mode:
            result['created_backup_dir'] = not os.path.isdir(self.backup_dir)
            result['retention'] = self.retention(protect=final, planned=final)
            return result
        files.ensure_private_dir(self.backup_dir)
        with DatabaseLock(self.backup_dir, self.namespace + '.k8s-config', purpose='configuration backup',
                          what='namespace %s' % self.namespace):
            files.remove_stale_temp_files(self.backup_dir, lambda name: name.startswith(self.namespace + '_') and SUFFIX in name)
            if os.path.lexists(final):
                raise ConfigArchiveError('%s exists already (two backups in one second?): nothing was written; run again' % final)
            with files.TempFile(self.backup_dir, os.path.basename(final)) as temp:
                with files.naming(temp.path), temp.writer() as handle:
                    handle.write(data)
                temp.publish(final, overwrite=False)
            manifest = {
                'manifest_version': mf.MANIFEST_VERSION, 'format': FORMAT, 'namespace': self.namespace,
                'file': os.path.basename(final), 'compression': 'gzip', 'started_at': mf.isoformat(started),
                'finished_at': mf.isoformat(self.now()), 'stored_size_bytes': len(data), 'raw_size_bytes': raw_size,
                'sha256': result['sha256'], 'objects': objects, 'kinds': list(params['kinds']),
                'secrets': {'encrypted': result['secrets']['encrypted'], 'skipped': result['secrets']['skipped'],
                            'vault_id': result['secrets']['vault_id'], 'format': 'ansible-vault 1.2 AES256'},
                'api_server': self.client.host, 'tool': 'dsr.ops.k8s_config_backup',
            }
            files.write_json_atomic(mf.manifest_path(final), manifest)
            result['verification'] = self.verify(final)
            result['retention'] = self.retention(protect=final)
        return result

    def verify(self, path):
        """Read the written archive back and prove it: the manifest parses, every member matches, every Secret decrypts."""
        manifest = mf.load(mf.manifest_path(path), database=self.namespace, fmt=FORMAT)
        digest, size = files.sha256_file(path)
        if digest != manifest.sha256 or size != manifest.stored_size_bytes:
            raise ConfigArchiveError('%s as written does not match its manifest: the disk lost the write' % path)
        members = archive.read_archive(path, manifest.objects)
        for entry in manifest.objects:
            data = members[entry['file']]
            if entry['encrypted']:
                data = self.vault.decrypt(data, entry['file'])
            obj = archive.load_yaml(data, entry['file'])
            if not isinstance(obj, dict) or obj.get('kind') != entry['kind'] or (obj.get('metadata') or {}).get('name') != entry['name']:
                raise ConfigArchiveError('%s: %s does not hold %s %s' % (path, entry['file'], entry['kind'], entry['name']))
        record = {'status': 'ok', 'sha256': manifest.sha256, 'verified_at': mf.isoformat(self.now()), 'format': FORMAT,
                  'objects': len(manifest.objects), 'secrets_decrypted': sum(1 for e in manifest.objects if e['encrypted']),
                  'tool': 'dsr.ops.k8s_config_backup'}
        files.write_json_atomic(mf.verify_path(path), record)
        return record

    def retention(self, protect, planned=None):
        """Apply keep_last / max_age to the namespace's archives in backup_dir (only those proven ours); check mode plans."""
        keep_last, max_age = self.params.get('keep_last'), self.params.get('max_age')
        report = {'deleted': [], 'kept': [], 'malformed': []}
        if keep_last is None and max_age is None:
            return report
        entries, malformed = mf.scan(self.backup_dir, self.namespace, fmt=FORMAT)
        report['malformed'] = malformed
        if planned is not None:
            # check mode: the archive this run would write counts as the newest
            entries = [{'path': planned, 'started_at': self.now(), 'manifest': None, 'problem': None, 'verification': None}] + entries
        delete, keep, warnings = retention.plan(entries, keep_last=keep_last, max_age_seconds=max_age, now=self.now(), protect=protect)
        self.warnings.extend(warnings)
        report['kept'] = [self._describe(e, r) for e, r in keep if e.get('manifest') is not None]
        for entry, why in delete:
            if self.check_mode:
                report['deleted'].append(self._describe(entry, why))
                continue
            removed, problem = retention.delete_backup(entry, self.backup_dir)
            if problem:
                self.warnings.append('retention left %s alone: %s' % (entry['path'], problem))
                report['kept'].append(self._describe(entry, 'left alone: %s' % problem))
            else:
                report['deleted'].append(dict(self._describe(entry, why), removed=removed))
        return report

    @staticmethod
    def _describe(entry, why):
        return retention.describe(entry, why)
