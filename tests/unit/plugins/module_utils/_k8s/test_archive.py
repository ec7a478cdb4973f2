# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The configuration archive and its manifest: deterministic bytes, members proven, k8s-config manifests kept apart from dumps."""

from __future__ import annotations

import copy
import io
import json
import tarfile

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._k8s import archive
from ansible_collections.dsr.ops.plugins.module_utils._k8s import kinds

FILES = {'configmaps/dsr-config.yaml': archive.dump_yaml({'kind': 'ConfigMap', 'metadata': {'name': 'dsr-config'}, 'data': {'b': '2', 'a': '1'}}),
         'deployments.apps/payment-service.yaml': b'kind: Deployment\n'}


def entries(files):
    return [{'file': name, 'kind': 'ConfigMap' if name.startswith('configmaps') else 'Deployment', 'name': name.split('/')[1].split('.yaml')[0],
             'sha256': archive.sha256(data), 'size_bytes': len(data), 'encrypted': False} for name, data in sorted(files.items())]


def manifest_data(data, objects):
    return {'manifest_version': 1, 'format': 'k8s-config', 'namespace': 'dsr-production', 'file': 'dsr-production_20261203T020000Z.k8s.tar.gz',
            'compression': 'gzip', 'started_at': '2026-12-03T02:00:00+00:00', 'stored_size_bytes': len(data), 'raw_size_bytes': 10240,
            'sha256': archive.sha256(data), 'objects': objects}


def test_the_same_files_give_the_same_bytes_and_yaml_is_sorted():
    one = archive.build(FILES)[0]
    two = archive.build(dict(reversed(list(FILES.items()))))[0]
    assert one == two
    assert FILES['configmaps/dsr-config.yaml'].index(b'a:') < FILES['configmaps/dsr-config.yaml'].index(b'b:')
    with tarfile.open(fileobj=io.BytesIO(one), mode='r:gz') as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(FILES)
    assert {(m.mtime, m.uid, m.gid, m.mode, m.uname) for m in members} == {(0, 0, 0, 0o600, '')}


def test_read_archive_proves_every_member(tmp_path):
    data = archive.build(FILES)[0]
    path = tmp_path / 'a.k8s.tar.gz'
    path.write_bytes(data)
    objects = entries(FILES)
    assert archive.read_archive(str(path), objects) == FILES
    wrong = copy.deepcopy(objects)
    wrong[0]['sha256'] = '0' * 64
    with pytest.raises(archive.ConfigArchiveError, match='does not match the SHA-256'):
        archive.read_archive(str(path), wrong)
    with pytest.raises(archive.ConfigArchiveError, match='which its manifest does not list'):
        archive.read_archive(str(path), objects[:1])
    with pytest.raises(archive.ConfigArchiveError, match='lacks extra/x.yaml'):
        archive.read_archive(str(path), objects + [dict(objects[0], file='extra/x.yaml')])
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(archive.ConfigArchiveError, match='cannot read'):
        archive.read_archive(str(path), objects)


def test_vault_round_trip_and_wrong_password():
    vault = archive.Vault('pw-1')
    text = vault.encrypt(b'secret: data\n')
    assert text.startswith(b'$ANSIBLE_VAULT;1.2;AES256;dsr-k8s-config\n') and b'secret' not in text
    assert vault.decrypt(text, 'x') == b'secret: data\n'
    with pytest.raises(archive.ConfigArchiveError, match='cannot be decrypted with this vault_password'):
        archive.Vault('pw-2').decrypt(text, 'x')
    with pytest.raises(archive.ConfigArchiveError, match='not in ansible-vault format'):
        vault.decrypt(b'plain', 'x')


def test_k8s_config_manifests_parse_and_are_kept_apart_from_database_backups(tmp_path):
    data = archive.build(FILES)[0]
    good = manifest_data(data, entries(FILES))
    parsed = mf.parse(good, 'm.json')
    assert parsed.format == 'k8s-config' and parsed.database == 'dsr-production' and len(parsed.objects) == 2
    for change, message in [
            (lambda m: dict(m, namespace='DSR'), 'is not a Kubernetes namespace name'),
            (lambda m: dict(m, compression='zstd'), 'compression must be one of gzip'),
            (lambda m: dict(m, file='dsr-production_20261203T020000Z.dump.gz'), 'is not the name k8s_config_backup gives'),
            (lambda m: dict(m, objects=[dict(m['objects'][0], file='../etc/passwd.yaml')]), 'is not "<resource>/<name>.yaml[.vault]"'),
            (lambda m: dict(m, objects=[dict(m['objects'][0], encrypted=True)]), 'encrypted must be true exactly for a .vault file'),
            (lambda m: dict(m, objects=[dict(m['objects'][0], name='other')]), 'is not the name in its file name'),
            (lambda m: dict(m, objects=m['objects'] + m['objects'][:1]), 'is listed twice'),
            (lambda m: dict(m, objects=None), 'objects must be a list')]:
        with pytest.raises(mf.ManifestError, match=__import__('re').escape(message)):
            mf.parse(change(copy.deepcopy(good)), 'm.json')
    # on disk: a dump reader never sees the archive, and the archive reader refuses a dump's manifest
    (tmp_path / good['file']).write_bytes(data)
    (tmp_path / (good['file'] + '.manifest.json')).write_text(json.dumps(good))
    assert mf.scan(str(tmp_path), 'dsr-production') == ([], [])
    entries_found, malformed = mf.scan(str(tmp_path), 'dsr-production', fmt='k8s-config')
    assert malformed == [] and entries_found[0]['problem'] is None
    with pytest.raises(mf.ManifestError, match='describes a Kubernetes configuration backup'):
        mf.load(str(tmp_path / (good['file'] + '.manifest.json')), fmt='custom')
    assert mf.stored_name_re(None, None).match(good['file']) and mf.stored_name_re(None, None).match('dsr_db_20261203T020000Z.dump.zst')


def test_kinds_normalize_and_order():
    chosen, problems = kinds.normalize(['deployments.apps', 'Secret', 'serviceaccounts', 'secrets'])
    assert chosen == ['ServiceAccount', 'Secret', 'Deployment'] and problems == []
    _chosen, problems = kinds.normalize(['Pod'])
    assert "'Pod' is not a kind" in problems[0]
    assert kinds.path(kinds.BY_NAME['Deployment'], 'dsr', 'x') == '/apis/apps/v1/namespaces/dsr/deployments/x'
    assert kinds.path(kinds.BY_NAME['Secret'], 'dsr') == '/api/v1/namespaces/dsr/secrets'
    assert 'Job' not in kinds.DEFAULT_KINDS and len(kinds.DEFAULT_KINDS) == 15
