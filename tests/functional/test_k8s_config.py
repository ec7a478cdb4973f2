# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.k8s_config_backup and k8s_config_restore as processes against the Kubernetes API stub (tests/harness/k8s_stub.py).

The stub is a stub: it lists, gets and server-side applies (with dry run) the
kinds of a configuration backup in the shapes the real server uses, with a
simple merge instead of real field ownership. The tests assert on the archive
as written (files, modes, YAML, ansible-vault format opened by the real
``ansible-vault``), on what the stub holds after a restore, and on the
requests the modules sent.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile

import pytest
import yaml

from conftest import COLLECTION, _collections_root, k8s_stub_server

sys.path.insert(0, str(COLLECTION / 'tests' / 'harness'))

import k8s_fixtures  # noqa: E402  pylint: disable=wrong-import-position
import k8s_stub  # noqa: E402  pylint: disable=wrong-import-position

TOKEN = 'k8s-config-test-token-51d9c2e7aa'
VAULT_PASSWORD = 'correct horse battery staple 9431'
NAMESPACE = 'dsr-production'
DEFAULT_KINDS = 15
SERVER_FIELDS = ('uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'ownerReferences')


@pytest.fixture(scope='module')
def stub(tmp_path_factory):
    server = k8s_stub_server(tmp_path_factory, TOKEN, 'healthy', 'k8s-config')
    yield server
    server.stop()


@pytest.fixture
def fresh(stub):
    stub.load_scenario(['healthy'])
    stub.clear_faults()
    stub.reset_requests()
    return stub


def conn(stub, **extra):
    values = {'host': stub.url, 'api_key': TOKEN, 'ca_cert': stub.ca_cert}
    values.update(extra)
    return values


def backup(run_module, stub, backup_dir, **extra):
    args = conn(stub, backup_dir=str(backup_dir), vault_password=VAULT_PASSWORD)
    args.update(extra)
    return run_module('k8s_config_backup', args)


def members(path):
    with tarfile.open(path, 'r:gz') as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def stored(stub, plural, namespace, name, group=''):
    resource = next(r for r in k8s_stub.RESOURCES if r.plural == plural and r.group == group)
    return stub.store.get(resource, namespace, name)


def warnings(result):
    """The warnings' texts (ansible-core 2.19 returns each as a WarningSummary dict)."""
    return [w['event']['msg'] if isinstance(w, dict) else w for w in result.get('warnings') or []]


def patches(stub):
    return [r for r in stub.requests() if r['method'] == 'PATCH']


def test_backup_writes_a_private_verified_archive_with_no_server_fields(fresh, run_module, tmp_path):
    backup_dir = tmp_path / 'cfg'
    result = backup(run_module, fresh, backup_dir)
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is True and result['unchanged'] is False
    # one list call per kind, whatever the number of objects
    assert result['api_requests'] == len(fresh.requests()) == DEFAULT_KINDS
    assert {r['method'] for r in fresh.requests()} == {'GET'}
    path = result['path']
    assert os.path.basename(path).startswith(NAMESPACE + '_') and path.endswith('.k8s.tar.gz')
    assert stat.S_IMODE(os.stat(backup_dir).st_mode) == 0o700
    for name in (path, result['manifest_path'], path + '.verify.json'):
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
    manifest = json.loads(open(result['manifest_path'], encoding='utf-8').read())
    assert manifest['format'] == 'k8s-config' and manifest['namespace'] == NAMESPACE
    assert manifest['sha256'] == hashlib.sha256(open(path, 'rb').read()).hexdigest() == result['sha256']
    files = members(path)
    assert sorted(files) == sorted(entry['file'] for entry in manifest['objects'])
    for entry in manifest['objects']:
        assert hashlib.sha256(files[entry['file']]).hexdigest() == entry['sha256'], entry['file']
    assert result['counts']['Deployment'] == 8 and result['counts']['StatefulSet'] == 1 and result['counts']['Secret'] == 3
    assert 'ReplicaSet' not in result['counts'] and 'Pod' not in result['counts']
    skipped = {(s['kind'], s['name']): s['reason'] for s in result['not_exported']}
    assert ('ConfigMap', 'kube-root-ca.crt') in skipped
    cluster = k8s_fixtures.build(['healthy'])
    password_b64 = base64.b64encode(cluster.db_password.encode()).decode()
    for name, data in files.items():
        if name.endswith('.vault'):
            assert data.startswith(b'$ANSIBLE_VAULT;1.2;AES256;dsr-k8s-config\n'), name
            continue
        obj = yaml.safe_load(data)
        assert 'status' not in obj and 'namespace' not in obj['metadata'], name
        assert not set(SERVER_FIELDS) & set(obj['metadata']), name
        assert k8s_stub.LAST_APPLIED not in data.decode()
        if obj['kind'] == 'Service' and obj['spec'].get('clusterIP') != 'None':
            assert 'clusterIP' not in obj['spec'] and 'clusterIPs' not in obj['spec'], name
    blob = b''.join(files.values()) + open(result['manifest_path'], 'rb').read()
    assert cluster.db_password.encode() not in blob and password_b64.encode() not in blob
    record = json.loads(open(path + '.verify.json', encoding='utf-8').read())
    assert record['status'] == 'ok' and record['sha256'] == result['sha256'] and record['secrets_decrypted'] == 3
    assert VAULT_PASSWORD not in json.dumps(result) and TOKEN not in json.dumps(result)


def test_the_secret_files_open_with_ansible_vault(fresh, run_module, tmp_path):
    result = backup(run_module, fresh, tmp_path / 'cfg')
    secret = members(result['path'])['secrets/dsr-db-credentials.yaml.vault']
    (tmp_path / 'secret.vault').write_bytes(secret)
    (tmp_path / 'pw').write_text(VAULT_PASSWORD + '\n')
    (tmp_path / 'pw').chmod(0o600)
    view = subprocess.run([str(COLLECTION / '.venv' / 'bin' / 'ansible-vault') if (COLLECTION / '.venv').exists() else 'ansible-vault',
                           'view', '--vault-id', 'dsr-k8s-config@%s' % (tmp_path / 'pw'), str(tmp_path / 'secret.vault')],
                          capture_output=True, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    assert view.returncode == 0, view.stderr.decode()
    obj = yaml.safe_load(view.stdout)
    cluster = k8s_fixtures.build(['healthy'])
    assert obj['kind'] == 'Secret' and base64.b64decode(obj['data']['password']).decode() == cluster.db_password


def test_an_unchanged_namespace_writes_nothing_and_a_change_keeps_the_secret_ciphertext(fresh, run_module, tmp_path):
    backup_dir = tmp_path / 'cfg'
    first = backup(run_module, fresh, backup_dir)
    again = backup(run_module, fresh, backup_dir)
    assert again['changed'] is False and again['unchanged'] is True
    assert again['path'] == first['path'] and again['sha256'] == first['sha256']
    assert len([n for n in os.listdir(backup_dir) if n.endswith('.k8s.tar.gz')]) == 1
    # a ConfigMap changes: a new archive, whose Secrets are byte for byte the previous ones (vault's salt is not rerolled)
    config = stored(fresh, 'configmaps', NAMESPACE, 'dsr-config')
    config['data']['LOG_LEVEL'] = 'debug'
    changed = None
    for _attempt in range(3):
        changed = backup(run_module, fresh, backup_dir)
        if changed.get('failed') and 'exists already' in changed.get('msg', ''):
            continue  # the same second as the first backup
        break
    assert changed['changed'] is True and changed['path'] != first['path'], changed.get('msg')
    assert changed['previous_path'] == first['path']
    old, new = members(first['path']), members(changed['path'])
    assert [name for name in new if new[name] != old.get(name)] == ['configmaps/dsr-config.yaml']
    assert b'debug' in new['configmaps/dsr-config.yaml']


def test_without_a_password_secrets_are_skipped_with_a_warning(fresh, run_module, tmp_path):
    args = conn(fresh, backup_dir=str(tmp_path / 'cfg'))
    result = run_module('k8s_config_backup', args)
    assert result.get('failed') is not True, result.get('msg')
    assert result['secrets']['skipped'] == ['dsr-db-credentials', 'dsr-registry-pull', 'dsr-tls']
    assert 'Secret' not in result['counts']
    assert not [name for name in members(result['path']) if name.startswith('secrets/')]
    assert any('dsr-db-credentials, dsr-registry-pull, dsr-tls' in w for w in warnings(result)), warnings(result)


def test_check_mode_writes_nothing(fresh, run_module, tmp_path):
    backup_dir = tmp_path / 'cfg'
    result = run_module('k8s_config_backup', dict(conn(fresh, backup_dir=str(backup_dir), vault_password=VAULT_PASSWORD), _ansible_check_mode=True))
    assert result['changed'] is True and result['created_backup_dir'] is True
    assert not backup_dir.exists()
    real = backup(run_module, fresh, backup_dir)
    again = run_module('k8s_config_backup', dict(conn(fresh, backup_dir=str(backup_dir), vault_password=VAULT_PASSWORD), _ansible_check_mode=True))
    assert again['changed'] is False and again['path'] == real['path']


def test_a_refused_list_fails_the_backup_naming_it(fresh, run_module, tmp_path):
    fresh.set_faults(forbid=[{'verb': 'list', 'resource': 'secrets'}])
    result = backup(run_module, fresh, tmp_path / 'cfg')
    assert result['failed'] is True
    assert 'list secrets in namespace dsr-production refused: 403 Forbidden' in result['msg']
    assert not (tmp_path / 'cfg').exists() or not [n for n in os.listdir(tmp_path / 'cfg') if n.endswith('.k8s.tar.gz')]


def test_bad_options_name_the_option(fresh, run_module, tmp_path):
    result = run_module('k8s_config_backup', conn(fresh, backup_dir=str(tmp_path), kinds=['Deployment', 'Pod'], namespace='DSR',
                                                  keep_last=0))
    assert result['failed'] is True
    for words in ("kinds: 'Pod' is not a kind", "namespace 'DSR' is not a namespace name", 'keep_last must be at least 1'):
        assert words in result['msg'], result['msg']


def test_secret_round_trip_into_another_namespace(fresh, run_module, tmp_path):
    made = backup(run_module, fresh, tmp_path / 'cfg')
    fresh.reset_requests()
    args = conn(fresh, path=made['path'], namespace='dsr', vault_password=VAULT_PASSWORD)
    result = run_module('k8s_config_restore', args)
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is True and result['counts']['created'] == len(made['objects'])
    # GET + dry run + apply per object
    assert result['api_requests'] == 3 * len(made['objects']) == len(fresh.requests())
    kinds_sent = [o['kind'] for o in result['objects']]
    assert kinds_sent.index('ServiceAccount') < kinds_sent.index('Secret') < kinds_sent.index('Deployment') < kinds_sent.index('Ingress')
    assert kinds_sent.index('ConfigMap') < kinds_sent.index('StatefulSet')
    # the preflight dry run of every object came before the first stored object
    sent = patches(fresh)
    first_real = next(i for i, r in enumerate(sent) if 'dryRun=All' not in r['query'])
    assert first_real == len(made['objects']) and all('dryRun=All' in r['query'] for r in sent[:first_real])
    assert all('fieldManager=dsr-ops' in r['query'] for r in sent)
    for name in ('dsr-db-credentials', 'dsr-tls', 'dsr-registry-pull'):
        original, restored = stored(fresh, 'secrets', NAMESPACE, name), stored(fresh, 'secrets', 'dsr', name)
        assert restored['data'] == original['data'] and restored['type'] == original['type'], name
    binding = next(o for o in fresh.store.objects.values() if o['kind'] == 'RoleBinding' and o['metadata']['namespace'] == 'dsr')
    assert {s.get('namespace') for s in binding['subjects'] if s['kind'] == 'ServiceAccount'} == {'dsr'}
    assert VAULT_PASSWORD not in json.dumps(result)
    again = run_module('k8s_config_restore', args)
    assert again['changed'] is False and again['counts'] == {'created': 0, 'configured': 0, 'unchanged': len(made['objects'])}


def test_check_mode_restore_is_a_dry_run_with_secrets_hidden_in_the_diff(fresh, run_module, tmp_path):
    made = backup(run_module, fresh, tmp_path / 'cfg')
    config = stored(fresh, 'configmaps', NAMESPACE, 'dsr-config')
    config['data']['LOG_LEVEL'] = 'debug'
    secret = stored(fresh, 'secrets', NAMESPACE, 'dsr-db-credentials')
    secret['data']['password'] = base64.b64encode(b'rotated-by-hand').decode()
    before = json.dumps(sorted(fresh.store.objects.items()), sort_keys=True, default=str)
    fresh.reset_requests()
    result = run_module('k8s_config_restore', dict(conn(fresh, path=made['path'], vault_password=VAULT_PASSWORD),
                                                   _ansible_check_mode=True, _ansible_diff=True))
    assert result.get('failed') is not True, result.get('msg')
    assert result['dry_run'] is True and result['changed'] is True
    assert json.dumps(sorted(fresh.store.objects.items()), sort_keys=True, default=str) == before
    assert all('dryRun=All' in r['query'] for r in patches(fresh))
    actions = {(o['kind'], o['name']): o['action'] for o in result['objects']}
    assert actions[('ConfigMap', 'dsr-config')] == 'configured' and actions[('Secret', 'dsr-db-credentials')] == 'configured'
    assert sum(1 for a in actions.values() if a == 'configured') == 2, actions
    diffs = {d['after_header']: d for d in result['diff']}
    secret_diff = diffs['Secret dsr-production/dsr-db-credentials']
    assert 'password: <hidden, changed>' in secret_diff['after'] and 'username: <hidden>' in secret_diff['after']
    cluster = k8s_fixtures.build(['healthy'])
    text = json.dumps(result)
    assert base64.b64encode(cluster.db_password.encode()).decode() not in text and 'cm90YXRlZC1ieS1oYW5k' not in text
    assert 'LOG_LEVEL: debug' in diffs['ConfigMap dsr-production/dsr-config']['before']


def test_a_damaged_archive_or_a_wrong_password_sends_nothing(fresh, run_module, tmp_path):
    made = backup(run_module, fresh, tmp_path / 'cfg')
    fresh.reset_requests()
    wrong = run_module('k8s_config_restore', conn(fresh, path=made['path'], namespace='dsr', vault_password='not the password'))
    assert wrong['failed'] is True and 'cannot be decrypted with this vault_password' in wrong['msg'], wrong['msg']
    missing = run_module('k8s_config_restore', conn(fresh, path=made['path'], namespace='dsr'))
    assert missing['failed'] is True and 'no vault_password was given' in missing['msg'] and 'secrets=skip' in missing['msg']
    data = bytearray(open(made['path'], 'rb').read())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / 'damaged'
    damaged.mkdir()
    target = damaged / os.path.basename(made['path'])
    target.write_bytes(bytes(data))
    (damaged / (target.name + '.manifest.json')).write_bytes(open(made['manifest_path'], 'rb').read())
    broken = run_module('k8s_config_restore', conn(fresh, path=str(target), namespace='dsr', vault_password=VAULT_PASSWORD))
    assert broken['failed'] is True and 'the archive is damaged; nothing was applied' in broken['msg'], broken['msg']
    assert fresh.requests() == []


def test_a_conflict_in_the_preflight_stores_nothing_and_force_takes_over(fresh, run_module, tmp_path):
    made = backup(run_module, fresh, tmp_path / 'cfg')
    fresh.set_faults(apply_conflicts=[{'resource': 'deployments', 'name': 'payment-service', 'manager': 'helm'}])
    fresh.reset_requests()
    args = conn(fresh, path=made['path'], vault_password=VAULT_PASSWORD)
    result = run_module('k8s_config_restore', args)
    assert result['failed'] is True and '409' in result['msg'] and 'helm' in result['msg'], result['msg']
    assert result['applied_before_failure'] == []
    assert [r for r in patches(fresh) if 'dryRun=All' not in r['query']] == []
    forced = run_module('k8s_config_restore', dict(args, force_conflicts=True))
    assert forced.get('failed') is not True, forced.get('msg')
    assert all('force=true' in r['query'] for r in patches(fresh)[-len(made['objects']):])


def test_create_namespace_for_a_rebuilt_cluster(fresh, run_module, tmp_path):
    made = backup(run_module, fresh, tmp_path / 'cfg', kinds=['ConfigMap', 'Service'])
    refused = run_module('k8s_config_restore', conn(fresh, path=made['path'], namespace='dsr-dr'))
    assert refused['failed'] is True and '404' in refused['msg'] and 'dsr-dr' in refused['msg'], refused['msg']
    # check mode: the API server would refuse a dry run into the missing namespace, so only its creation is dry-run
    planned = run_module('k8s_config_restore', conn(fresh, path=made['path'], namespace='dsr-dr', create_namespace=True, _ansible_check_mode=True))
    assert planned.get('failed') is not True, planned.get('msg')
    assert planned['created_namespace'] is True and planned['dry_run_objects'] is False and planned['changed'] is True
    assert planned['counts']['created'] == len(made['objects'])
    assert any('namespace dsr-dr does not exist' in w and 'were not' in w for w in warnings(planned)), warnings(planned)
    assert stored(fresh, 'namespaces', None, 'dsr-dr') is None
    assert [r for r in patches(fresh) if 'dryRun=All' not in r['query']] == []
    created = run_module('k8s_config_restore', conn(fresh, path=made['path'], namespace='dsr-dr', create_namespace=True))
    assert created.get('failed') is not True, created.get('msg')
    assert created['created_namespace'] is True and created['counts']['created'] == len(made['objects'])
    # the namespace exists now: a check-mode run dry-runs every object again
    again = run_module('k8s_config_restore', conn(fresh, path=made['path'], namespace='dsr-dr', create_namespace=True, _ansible_check_mode=True))
    assert again['dry_run_objects'] is True and again['created_namespace'] is False and again['changed'] is False, again
    assert stored(fresh, 'configmaps', 'dsr-dr', 'dsr-config')['data'] == stored(fresh, 'configmaps', NAMESPACE, 'dsr-config')['data']


def test_restore_refuses_a_database_backup_and_a_tampered_manifest(fresh, run_module, tmp_path):
    made = backup(run_module, fresh, tmp_path / 'cfg')
    manifest = json.loads(open(made['manifest_path'], encoding='utf-8').read())
    manifest['objects'][0]['file'] = '../../etc/passwd.yaml'
    open(made['manifest_path'], 'w', encoding='utf-8').write(json.dumps(manifest))
    result = run_module('k8s_config_restore', conn(fresh, path=made['path'], vault_password=VAULT_PASSWORD))
    assert result['failed'] is True and 'is not "<resource>/<name>.yaml[.vault]"' in result['msg'], result['msg']
    assert patches(fresh) == []
    # an extra file in the archive, not in the manifest
    manifest['objects'][0]['file'] = made['objects'][0]['file']
    open(made['manifest_path'], 'w', encoding='utf-8').write(json.dumps(manifest))
    buffer = io.BytesIO()
    with tarfile.open(made['path'], 'r:gz') as src, tarfile.open(fileobj=buffer, mode='w:gz') as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member))
        extra = tarfile.TarInfo('configmaps/injected.yaml')
        payload = b'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: injected}\n'
        extra.size = len(payload)
        dst.addfile(extra, io.BytesIO(payload))
    open(made['path'], 'wb').write(buffer.getvalue())
    manifest['sha256'] = hashlib.sha256(buffer.getvalue()).hexdigest()
    manifest['stored_size_bytes'] = len(buffer.getvalue())
    open(made['manifest_path'], 'w', encoding='utf-8').write(json.dumps(manifest))
    result = run_module('k8s_config_restore', conn(fresh, path=made['path'], vault_password=VAULT_PASSWORD))
    assert result['failed'] is True and 'configmaps/injected.yaml, which its manifest does not list' in result['msg'], result['msg']
    assert patches(fresh) == []


def test_s3_backup_ships_lists_and_fetches_the_archive(fresh, run_module, tmp_path, s3_service):
    from test_s3_backup import s3_args, s3_client  # pylint: disable=import-outside-toplevel
    bucket = 'dsr-k8s-%s' % os.urandom(6).hex()
    s3_client(s3_service).create_bucket(Bucket=bucket)
    made = backup(run_module, fresh, tmp_path / 'cfg')
    prefix = 'test/k8s-config/'
    sent = run_module('s3_backup', s3_args(s3_service, bucket, prefix=prefix, mode='upload', path=made['path']))
    assert sent.get('failed') is not True, sent.get('msg')
    keys = {o['Key'] for o in s3_client(s3_service).list_objects_v2(Bucket=bucket)['Contents']}
    name = os.path.basename(made['path'])
    assert keys == {prefix + name, prefix + name + '.manifest.json', prefix + name + '.verify.json'}
    listed = run_module('s3_backup', s3_args(s3_service, bucket, prefix=prefix, mode='list', database=NAMESPACE))
    assert [b['key'] for b in listed['backups']] == [prefix + name] and listed['backups'][0]['verified'] is True
    fetched = run_module('s3_backup', s3_args(s3_service, bucket, prefix=prefix, mode='download', database=NAMESPACE, dest=str(tmp_path / 'dr')))
    assert fetched.get('failed') is not True, fetched.get('msg')
    assert fetched['sha256'] == made['sha256']
    restored = run_module('k8s_config_restore', conn(fresh, path=fetched['path'], namespace='dsr', vault_password=VAULT_PASSWORD,
                                                     _ansible_check_mode=True))
    assert restored.get('failed') is not True and restored['counts']['created'] == len(made['objects'])


def _root(tmp_path_factory):
    root = _collections_root(tmp_path_factory.mktemp('collections'))
    if root not in sys.path:
        sys.path.insert(0, root)
    return root


def test_the_vault_format_is_ansible_vaults_both_ways(tmp_path_factory):
    # here, not in the unit tests: ansible-test units forbids importing ansible.parsing next to module_utils
    archive = importlib.import_module('ansible_collections.dsr.ops.plugins.module_utils._k8s.archive') if _root(tmp_path_factory) else None
    from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel
    real = VaultLib([('dsr-k8s-config', VaultSecret(b'pw-1'))])
    ours = archive.Vault('pw-1')
    for plaintext in (b'', b'x', b'sixteen bytes!!!', b'kind: Secret\ndata: {password: c2VjcmV0}\n' * 40):
        assert bytes(real.decrypt(ours.encrypt(plaintext))) == plaintext
        assert ours.decrypt(bytes(real.encrypt(plaintext, vault_id='dsr-k8s-config')), 'x') == plaintext
    # a 1.1 file (no vault id) opens too
    assert ours.decrypt(bytes(VaultLib([('default', VaultSecret(b'pw-1'))]).encrypt(b'old', vault_id=None)), 'x') == b'old'
    text = ours.encrypt(b'kind: Secret\n')
    salt, signature, ciphertext = binascii.unhexlify(b''.join(text.split(b'\n')[1:])).split(b'\n')
    ciphertext = ciphertext[:-1] + (b'0' if ciphertext[-1:] != b'0' else b'1')
    tampered = text.split(b'\n', maxsplit=1)[0] + b'\n' + binascii.hexlify(b'\n'.join((salt, signature, ciphertext))) + b'\n'
    with pytest.raises(archive.ConfigArchiveError, match='cannot be decrypted'):
        ours.decrypt(bytes(tampered), 'x')
