# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.s3_backup against a real S3 API server (moto in server mode, started by the harness).

The module runs as Ansible runs it (a process reading its arguments from a file).
Backups here are random bytes with a real manifest: s3_backup moves files and
proves them by SHA-256, it never reads their contents. The fault tests put
tests/harness/s3_fault_proxy.py (500s, dropped connections, cut streams) in
front of the server. moto is not S3: nothing here asserts one of its quirks.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import subprocess
import sys
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import COLLECTION

sys.path.insert(0, str(COLLECTION / 'tests' / 'harness'))

from s3_fault_proxy import FaultProxy  # noqa: E402  pylint: disable=wrong-import-position

MIB = 1024 * 1024


def s3_client(s3):
    return boto3.client('s3', endpoint_url=s3['endpoint_url'], region_name=s3['region'], aws_access_key_id=s3['access_key'],
                        aws_secret_access_key=s3['secret_key'], config=Config(retries={'mode': 'standard', 'max_attempts': 3}))


@pytest.fixture
def bucket(s3_service):
    name = 'dsr-test-%s' % uuid.uuid4().hex[:12]
    s3_client(s3_service).create_bucket(Bucket=name)
    return name


def make_backup(directory, database='dsr_db', size=MIB, started_at=None, verified=False, seed=None):
    """A file of random bytes with a dsr.ops manifest beside it (and a passing verification record)."""
    started_at = started_at or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    name = '%s_%s.dump.zst' % (database, started_at.strftime('%Y%m%dT%H%M%SZ'))
    path = os.path.join(str(directory), name)
    data = os.urandom(size) if seed is None else (hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]
    with open(path, 'wb') as handle:
        handle.write(data)
    sha256 = hashlib.sha256(data).hexdigest()
    manifest = {'manifest_version': 1, 'database': database, 'file': name, 'started_at': started_at.isoformat(),
                'finished_at': started_at.isoformat(), 'stored_size_bytes': size, 'raw_size_bytes': size, 'sha256': sha256,
                'format': 'custom', 'compression': 'zstd', 'row_counts': {'public.households': 3},
                'pg_dump_version': 'pg_dump (PostgreSQL) 15.18'}
    with open(path + '.manifest.json', 'w', encoding='utf-8') as handle:
        json.dump(manifest, handle)
    if verified:
        with open(path + '.verify.json', 'w', encoding='utf-8') as handle:
            json.dump({'status': 'ok', 'sha256': sha256, 'verified_at': started_at.isoformat()}, handle)
    return path, sha256


def s3_args(s3, bucket, **extra):
    args = {'endpoint_url': s3['endpoint_url'], 'region': s3['region'], 'access_key': s3['access_key'], 'secret_key': s3['secret_key'],
            'bucket': bucket, 'prefix': 'test/dsr_db/'}
    args.update(extra)
    return args


def small_parts(**extra):
    args = {'multipart_threshold': '5MiB', 'part_size': '5MiB'}
    args.update(extra)
    return args


def test_multipart_upload_is_confirmed_and_idempotent(s3_service, bucket, run_module, tmp_path):
    path, sha256 = make_backup(tmp_path, size=12 * MIB + 5)
    result = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path, **small_parts()))
    assert not result.get('failed'), result
    assert result['changed'] and result['uploaded'] and result['multipart'] and result['parts'] == 3
    assert result['sha256'] == sha256 and result['size_bytes'] == 12 * MIB + 5
    assert result['confirmed']['size'] and result['confirmed']['sha256_metadata']
    assert result['objects'] == [result['key'], result['manifest_key']]
    bucket_key = 's3://%s/%s' % (bucket, result['key'])
    assert 'create_multipart_upload %s' % bucket_key in result['requests']
    assert 'upload_part %s (x3)' % bucket_key in result['requests']
    assert 'complete_multipart_upload %s' % bucket_key in result['requests']
    client = s3_client(s3_service)
    head = client.head_object(Bucket=bucket, Key=result['key'])
    assert head['Metadata']['sha256'] == sha256
    assert head['ServerSideEncryption'] == 'AES256'
    body = client.get_object(Bucket=bucket, Key=result['key'])['Body'].read()
    assert hashlib.sha256(body).hexdigest() == sha256
    manifest = json.loads(client.get_object(Bucket=bucket, Key=result['manifest_key'])['Body'].read())
    assert manifest['sha256'] == sha256

    again = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path, **small_parts()))
    assert not again.get("failed"), again["msg"]
    assert not again['changed'] and not again['uploaded'] and again['objects'] == []
    assert again['remote_sha256'] == sha256 and again['confirmed']['sha256_metadata']


def test_single_part_upload_with_tags_storage_class_and_full_proof(s3_service, bucket, run_module, tmp_path):
    path, sha256 = make_backup(tmp_path, size=300 * 1024, verified=True)
    result = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path, verify_download=True,
                                             storage_class='STANDARD_IA', tags={'environment': 'test'}))
    assert not result.get('failed'), result
    assert result['multipart'] is False and result['parts'] == 1
    assert result['confirmed']['download_sha256'] is True
    assert result['storage_class'] == 'STANDARD_IA'
    # a verification record that passed for this SHA-256 travels with the backup
    assert result['objects'][-1].endswith('.verify.json')
    tags = s3_client(s3_service).get_object_tagging(Bucket=bucket, Key=result['key'])['TagSet']
    assert {'Key': 'environment', 'Value': 'test'} in tags
    assert not [n for n in os.listdir(tmp_path) if n.startswith('.dsr-')]


def test_check_mode_writes_nothing(s3_service, bucket, run_module, tmp_path):
    path, _sha = make_backup(tmp_path, size=6 * MIB)
    result = run_module('s3_backup', dict(s3_args(s3_service, bucket, mode='upload', path=path, **small_parts()), _ansible_check_mode=True))
    assert not result.get('failed'), result
    assert result['changed'] and result['multipart'] and not result['uploaded']
    assert 'Contents' not in s3_client(s3_service).list_objects_v2(Bucket=bucket)


def test_damaged_local_backup_is_not_uploaded(s3_service, bucket, run_module, tmp_path):
    path, _sha = make_backup(tmp_path, size=11 * MIB)
    with open(path, 'r+b') as handle:
        handle.seek(7 * MIB)
        byte = handle.read(1)
        handle.seek(7 * MIB)
        handle.write(bytes([byte[0] ^ 0x01]))
    result = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path, **small_parts()))
    assert result.get('failed')
    assert 'does not match its manifest' in result['msg'] and 'aborted' in result['msg']
    client = s3_client(s3_service)
    assert 'Contents' not in client.list_objects_v2(Bucket=bucket)
    assert not client.list_multipart_uploads(Bucket=bucket).get('Uploads')
    assert 'Traceback' not in result['_stderr']


def test_download_takes_the_newest_verified_backup(s3_service, bucket, run_module, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    source = tmp_path / 'source'
    source.mkdir()
    paths = {}
    for hours, verified in ((30, True), (6, True), (1, False)):
        path, sha256 = make_backup(source, size=2 * MIB, started_at=now - datetime.timedelta(hours=hours), verified=verified)
        paths[hours] = (path, sha256)
        result = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path))
        assert not result.get('failed'), result

    dest = tmp_path / 'restore'
    fetched = run_module('s3_backup', s3_args(s3_service, bucket, mode='download', database='dsr_db', dest=str(dest), **small_parts()))
    assert not fetched.get('failed'), fetched
    assert fetched['changed'] and fetched['downloaded'] and fetched['verified']
    assert fetched['sha256'] == paths[6][1]
    assert 6 * 3600 - 60 < fetched['backup_age_seconds'] < 6 * 3600 + 600
    with open(fetched['path'], 'rb') as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == paths[6][1]
    assert oct(os.stat(fetched['path']).st_mode & 0o777) == '0o600'
    assert oct(os.stat(dest).st_mode & 0o777) == '0o700'
    with open(fetched['manifest_path'], encoding='utf-8') as handle:
        assert json.load(handle)['sha256'] == paths[6][1]

    again = run_module('s3_backup', s3_args(s3_service, bucket, mode='download', database='dsr_db', dest=str(dest)))
    assert not again.get('failed') and not again['changed'] and not again['downloaded']

    newest = run_module('s3_backup', s3_args(s3_service, bucket, mode='download', database='dsr_db', dest=str(dest), select='newest'))
    assert not newest.get('failed'), newest
    assert newest['sha256'] == paths[1][1] and not newest['verified']


def test_corrupted_object_is_refused_and_nothing_is_kept(s3_service, bucket, run_module, tmp_path):
    path, sha256 = make_backup(tmp_path, size=3 * MIB, verified=True)
    uploaded = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path))
    assert not uploaded.get('failed'), uploaded
    # bit rot in the bucket: same size, same metadata, one byte different
    with open(path, 'rb') as handle:
        data = bytearray(handle.read())
    data[len(data) // 2] ^= 0x80
    s3_client(s3_service).put_object(Bucket=bucket, Key=uploaded['key'], Body=bytes(data), Metadata={'sha256': sha256})
    dest = tmp_path / 'restore'
    result = run_module('s3_backup', s3_args(s3_service, bucket, mode='download', database='dsr_db', dest=str(dest)))
    assert result.get('failed')
    assert 'corrupted' in result['msg'] and 'nothing was kept' in result['msg']
    assert os.listdir(dest) == []


def test_object_whose_metadata_disagrees_with_its_manifest_is_not_downloaded(s3_service, bucket, run_module, tmp_path):
    path, _sha = make_backup(tmp_path, size=MIB)
    uploaded = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path))
    assert not uploaded.get('failed'), uploaded
    s3_client(s3_service).put_object(Bucket=bucket, Key=uploaded['key'], Body=b'something else')
    result = run_module('s3_backup', s3_args(s3_service, bucket, mode='download', database='dsr_db', select='newest', dest=str(tmp_path / 'r')))
    assert result.get('failed') and 'does not match its manifest' in result['msg']
    assert not (tmp_path / 'r').exists()


def test_list_and_prune_keep_the_newest_verified(s3_service, bucket, run_module, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for days, verified in ((40, False), (30, True), (20, False), (10, False), (1, False)):
        path, _sha = make_backup(tmp_path, size=64 * 1024, started_at=now - datetime.timedelta(days=days), verified=verified)
        assert not run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path)).get('failed')
    other, _sha = make_backup(tmp_path, database='other_db', size=1024)
    assert not run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=other)).get('failed')
    client = s3_client(s3_service)
    client.put_object(Bucket=bucket, Key='test/dsr_db/dsr_db_20200101T000000Z.dump.zst', Body=b'orphan')

    listed = run_module('s3_backup', s3_args(s3_service, bucket, mode='list', database='dsr_db'))
    assert not listed.get('failed'), listed
    assert listed['count'] == 5
    assert [b['started_at'] for b in listed['backups']] == sorted((b['started_at'] for b in listed['backups']), reverse=True)
    assert listed['newest_verified']['started_at'] == (now - datetime.timedelta(days=30)).isoformat()
    assert [i['key'] for i in listed['incomplete']] == ['test/dsr_db/dsr_db_20200101T000000Z.dump.zst']
    assert listed['backups'][0]['manifest']['database'] == 'dsr_db'

    planned = run_module('s3_backup', dict(s3_args(s3_service, bucket, mode='prune', database='dsr_db', keep_last=2), _ansible_check_mode=True))
    assert planned['changed'] and len(planned['retention']['deleted']) == 2
    assert run_module('s3_backup', s3_args(s3_service, bucket, mode='list', database='dsr_db'))['count'] == 5

    pruned = run_module('s3_backup', s3_args(s3_service, bucket, mode='prune', database='dsr_db', keep_last=2))
    assert not pruned.get('failed'), pruned
    deleted = sorted(d['started_at'] for d in pruned['retention']['deleted'])
    assert deleted == sorted((now - datetime.timedelta(days=d)).isoformat() for d in (40, 20))
    assert all(d['deleted_keys'][0].endswith('.manifest.json') for d in pruned['retention']['deleted'])
    kept = {k['started_at']: k['reason'] for k in pruned['retention']['kept']}
    assert kept[(now - datetime.timedelta(days=30)).isoformat()] == 'newest verified backup'
    after = run_module('s3_backup', s3_args(s3_service, bucket, mode='list'))
    assert sorted(b['database'] for b in after['backups']) == ['dsr_db', 'dsr_db', 'dsr_db', 'other_db']


def warning_text(result):
    return json.dumps(result.get('warnings') or [])


def test_a_malformed_manifest_in_the_bucket_is_skipped_and_the_others_still_count(s3_service, bucket, run_module, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for days, verified in ((3, True), (2, False), (1, True)):
        path, _sha = make_backup(tmp_path, size=64 * 1024, started_at=now - datetime.timedelta(days=days), verified=verified)
        assert not run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path)).get('failed')
    client = s3_client(s3_service)
    newest_key = 'test/dsr_db/dsr_db_%s.dump.zst' % (now - datetime.timedelta(days=1)).strftime('%Y%m%dT%H%M%SZ')
    manifest = json.loads(client.get_object(Bucket=bucket, Key=newest_key + '.manifest.json')['Body'].read())
    bad_name = 'test/dsr_db/dsr_db_%s.dump.zst' % now.strftime('%Y%m%dT%H%M%SZ')
    client.put_object(Bucket=bucket, Key=bad_name, Body=b'x' * 10)
    client.put_object(Bucket=bucket, Key=bad_name + '.manifest.json', Body=json.dumps(dict(manifest, started_at='yesterday')).encode())
    # a manifest whose file reaches outside the prefix, and one naming another backup's object
    client.put_object(Bucket=bucket, Key='test/dsr_db/dsr_db_20200101T000000Z.dump.zst.manifest.json',
                      Body=json.dumps(dict(manifest, file='../../elsewhere/x.dump.zst')).encode())
    client.put_object(Bucket=bucket, Key='test/dsr_db/dsr_db_20200102T000000Z.dump.zst.manifest.json',
                      Body=json.dumps(dict(manifest, file=newest_key.rsplit('/', 1)[1], started_at='2020-01-02T00:00:00+00:00')).encode())
    client.put_object(Bucket=bucket, Key='test/elsewhere/x.dump.zst', Body=b'not ours')

    listed = run_module('s3_backup', s3_args(s3_service, bucket, mode='list', database='dsr_db'))
    assert not listed.get('failed'), listed['msg']
    assert listed['count'] == 3 and listed['newest']['key'] == newest_key
    assert sorted(m['key'] for m in listed['malformed']) == sorted(
        [bad_name + '.manifest.json', 'test/dsr_db/dsr_db_20200101T000000Z.dump.zst.manifest.json',
         'test/dsr_db/dsr_db_20200102T000000Z.dump.zst.manifest.json'])
    assert 'is malformed' in warning_text(listed) and bad_name in warning_text(listed)

    fetched = run_module('s3_backup', s3_args(s3_service, bucket, mode='download', database='dsr_db', dest=str(tmp_path / 'dr')))
    assert not fetched.get('failed'), fetched['msg']
    assert fetched['key'] == newest_key and fetched['verified']

    pruned = run_module('s3_backup', s3_args(s3_service, bucket, mode='prune', database='dsr_db', keep_last=1))
    assert not pruned.get('failed'), pruned['msg']
    # the oldest and the middle one go (the newest is also the newest verified); nothing else is touched
    assert sorted(d['started_at'] for d in pruned['retention']['deleted']) == sorted(
        (now - datetime.timedelta(days=d)).isoformat() for d in (3, 2))
    left = {o['Key'] for o in client.list_objects_v2(Bucket=bucket)['Contents']}
    for key in (bad_name, bad_name + '.manifest.json', 'test/elsewhere/x.dump.zst', newest_key, newest_key + '.manifest.json',
                'test/dsr_db/dsr_db_20200101T000000Z.dump.zst.manifest.json'):
        assert key in left, key


def test_prune_leaves_an_object_that_does_not_match_its_manifest(s3_service, bucket, run_module, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    keys = []
    for days in (3, 2, 1):
        path, _sha = make_backup(tmp_path, size=64 * 1024, started_at=now - datetime.timedelta(days=days))
        uploaded = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path))
        assert not uploaded.get('failed'), uploaded['msg']
        keys.append(uploaded['key'])
    client = s3_client(s3_service)
    # the oldest object replaced by something else of the same size, without the backup's metadata
    client.put_object(Bucket=bucket, Key=keys[0], Body=os.urandom(64 * 1024))
    # the middle one's object replaced by one of another size
    client.put_object(Bucket=bucket, Key=keys[1], Body=b'short')
    pruned = run_module('s3_backup', s3_args(s3_service, bucket, mode='prune', database='dsr_db', keep_last=1))
    assert not pruned.get('failed'), pruned['msg']
    assert pruned['retention']['deleted'] == [] and not pruned['changed']
    reasons = {k['key']: k['reason'] for k in pruned['retention']['kept']}
    assert 'does not match its manifest' in reasons[keys[0]] and 'bytes, its manifest says' in reasons[keys[1]]
    assert 'prune left' in warning_text(pruned)
    left = {o['Key'] for o in client.list_objects_v2(Bucket=bucket)['Contents']}
    assert set(keys) <= left


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print('held', flush=True)
time.sleep(120)
"""


def test_download_removes_only_the_leftovers_of_dead_downloads(s3_service, bucket, run_module, tmp_path):
    (tmp_path / 'src').mkdir()
    path, _sha = make_backup(tmp_path / 'src', size=256 * 1024, verified=True)
    assert not run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path)).get('failed')
    dest = tmp_path / 'dr'
    dest.mkdir()
    name = os.path.basename(path)
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    leftovers = [dest / ('.dsr-tmp-%d-%s-%s' % (dead_pid, token, name)) for token in ('0badf00d', '0badf00e')]
    for leftover in leftovers:
        leftover.write_bytes(b'x' * 1000)
    other_db = dest / ('.dsr-tmp-%d-0badf00f-other_db_20261127T020000Z.dump.zst' % dead_pid)
    other_db.write_bytes(b'y')
    live = dest / ('.dsr-tmp-%d-0badf010-%s' % (os.getpid(), name))
    holder = subprocess.Popen([sys.executable, '-c', HOLD, str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        fetched = run_module('s3_backup', s3_args(s3_service, bucket, mode='download', database='dsr_db', dest=str(dest)))
        assert not fetched.get('failed'), fetched['msg']
        assert sorted(fetched['removed_stale_temp_files']) == sorted(str(p) for p in leftovers)
        assert live.exists(), "a live download's file was removed"
        assert other_db.exists(), "another database's file was removed"
        assert (dest / name).exists()
    finally:
        holder.kill()
        holder.wait()


def test_upload_and_download_through_faults(s3_service, bucket, run_module, tmp_path):
    path, sha256 = make_backup(tmp_path, size=40 * MIB + 123)
    with FaultProxy(s3_service['endpoint_url'], ratio=0.25, seed=7) as proxy:
        args = s3_args(s3_service, bucket, mode='upload', path=path, endpoint_url=proxy.url, concurrency=4, **small_parts())
        result = run_module('s3_backup', args)
        assert not result.get('failed'), result
        assert result['retry_attempts'] > 0
        assert result['confirmed']['size'] and result['confirmed']['sha256_metadata']
        dest = tmp_path / 'restore'
        fetched = run_module('s3_backup', s3_args(s3_service, bucket, mode='download', database='dsr_db', select='newest', dest=str(dest),
                                                  endpoint_url=proxy.url, **small_parts()))
        assert not fetched.get('failed'), fetched
        injected = dict(proxy.faults)
    assert sum(injected.values()) > 5, injected
    assert fetched['sha256'] == sha256 and fetched['retry_attempts'] > 0
    # what the store holds, read directly from it, is the file
    body = s3_client(s3_service).get_object(Bucket=bucket, Key=result['key'])['Body'].read()
    assert hashlib.sha256(body).hexdigest() == sha256
    with open(fetched['path'], 'rb') as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == sha256
    assert not s3_client(s3_service).list_multipart_uploads(Bucket=bucket).get('Uploads')


def test_store_down_fails_clearly_and_keeps_the_local_backup(s3_service, run_module, tmp_path):
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    path, _sha = make_backup(tmp_path, size=MIB)
    result = run_module('s3_backup', s3_args(s3_service, 'dsr-backups', mode='upload', path=path, endpoint_url='http://127.0.0.1:%d' % port,
                                             retries=2, connect_timeout=1))
    assert result.get('failed')
    assert 'cannot connect' in result['msg'] and not result['changed']
    # the bucket check: one request and exactly the two retries asked for
    assert result['retry_attempts'] == 2
    assert os.path.exists(path) and os.path.exists(path + '.manifest.json')
    assert 'Traceback' not in result['_stderr']


@pytest.mark.parametrize('args, message', [
    ({'mode': 'upload'}, 'mode=upload needs path'),
    ({'mode': 'prune', 'database': 'dsr_db'}, 'mode=prune needs keep_last or max_age'),
    ({'mode': 'download', 'dest': '/tmp/x'}, 'needs database'),
    ({'mode': 'list', 'part_size': '1MiB'}, 'part_size must be at least 5MiB'),
    ({'mode': 'list', 'part_size': 'lots'}, 'part_size: cannot read'),
    ({'mode': 'list', 'prefix': 'no-slash'}, 'prefix must be empty or a path'),
    ({'mode': 'list', 'endpoint_url': 'http://user:pw@127.0.0.1:9'}, 'endpoint_url must not hold credentials'),
    ({'mode': 'list', 'profile': 'ops'}, 'profile cannot be combined'),
    ({'mode': 'list', 'kms_key_id': 'alias/x'}, 'kms_key_id needs encryption=aws:kms'),
])
def test_bad_options_name_the_option(s3_service, bucket, run_module, args, message):
    result = run_module('s3_backup', s3_args(s3_service, bucket, **args))
    assert result.get('failed'), result
    assert message in result['msg']
    assert 'Traceback' not in result['_stderr']


def test_missing_bucket_and_missing_manifest(s3_service, run_module, tmp_path):
    path, _sha = make_backup(tmp_path, size=1024)
    missing = run_module('s3_backup', s3_args(s3_service, 'no-such-bucket-dsr', mode='list'))
    assert missing.get('failed') and 'bucket no-such-bucket-dsr does not exist' in missing['msg']
    os.unlink(path + '.manifest.json')
    bare = run_module('s3_backup', s3_args(s3_service, 'no-such-bucket-dsr', mode='upload', path=path))
    assert bare.get('failed')


def test_credentials_from_the_environment_and_no_secret_in_results(s3_service, bucket, module_env, tmp_path):
    from conftest import ModuleRun  # pylint: disable=import-outside-toplevel
    path, _sha = make_backup(tmp_path, size=1024)
    env = dict(module_env, AWS_ACCESS_KEY_ID=s3_service['access_key'], AWS_SECRET_ACCESS_KEY=s3_service['secret_key'],
               AWS_SECURITY_TOKEN='dsr-session-token-%s' % uuid.uuid4().hex)
    args = {'mode': 'upload', 'path': path, 'bucket': bucket, 'endpoint_url': s3_service['endpoint_url'], 'region': s3_service['region']}
    result = ModuleRun('s3_backup', args, env, tmp_path).result()
    assert not result.get('failed'), result
    text = json.dumps(result)
    assert s3_service['secret_key'] not in text and env['AWS_SECURITY_TOKEN'] not in text
    failed = ModuleRun('s3_backup', dict(args, bucket='no-such-bucket-dsr'), env, tmp_path).result()
    assert failed.get('failed')
    assert s3_service['secret_key'] not in json.dumps(failed)


def test_kms_encrypted_multipart_object_in_a_versioned_bucket_is_not_sent_twice(s3_service, bucket, run_module, tmp_path):
    client = s3_client(s3_service)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={'Status': 'Enabled'})
    path, sha256 = make_backup(tmp_path, size=11 * MIB)
    args = s3_args(s3_service, bucket, mode='upload', path=path, encryption='aws:kms', kms_key_id='alias/dsr-backups', **small_parts())
    first = run_module('s3_backup', args)
    assert not first.get('failed'), first['msg']
    assert first['uploaded'] and first['multipart'] and first['encryption'] == 'aws:kms'
    assert first['version_id'] and first['version_id'] != 'null'
    # an ETag is not a content hash here (multipart, KMS): the decision is the file's SHA-256
    again = run_module('s3_backup', args)
    assert not again.get('failed'), again['msg']
    assert not again['changed'] and again['version_id'] == first['version_id']
    versions = client.list_object_versions(Bucket=bucket, Prefix=first['key'])['Versions']
    assert len([v for v in versions if v['Key'] == first['key']]) == 1
    assert client.head_object(Bucket=bucket, Key=first['key'])['Metadata']['sha256'] == sha256


def test_overwrite_never_leaves_another_object_alone(s3_service, bucket, run_module, tmp_path):
    path, sha256 = make_backup(tmp_path, size=1024)
    key = 'test/dsr_db/' + os.path.basename(path)
    s3_client(s3_service).put_object(Bucket=bucket, Key=key, Body=b'someone else', Metadata={'sha256': '0' * 64})
    result = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path, overwrite='never'))
    assert not result.get('failed'), result['msg']
    assert not result['changed'] and not result['uploaded']
    assert 'overwrite=never' in json.dumps(result.get('warnings'))
    client = s3_client(s3_service)
    assert client.get_object(Bucket=bucket, Key=key)['Body'].read() == b'someone else'
    assert 'Contents' not in client.list_objects_v2(Bucket=bucket, Prefix=key + '.manifest')
    replaced = run_module('s3_backup', s3_args(s3_service, bucket, mode='upload', path=path))
    assert not replaced.get('failed'), replaced['msg']
    assert replaced['uploaded'] and replaced['remote_sha256'] == '0' * 64 and replaced['sha256'] == sha256


def test_unknown_profile_is_a_clear_failure(s3_service, module_env, tmp_path):
    from conftest import ModuleRun  # pylint: disable=import-outside-toplevel
    env = {k: v for k, v in module_env.items() if not k.startswith('AWS_')}
    env['AWS_CONFIG_FILE'] = env['AWS_SHARED_CREDENTIALS_FILE'] = str(tmp_path / 'none')
    result = ModuleRun('s3_backup', {'mode': 'list', 'bucket': 'dsr-backups', 'profile': 'no-such-profile',
                                     'endpoint_url': s3_service['endpoint_url']}, env, tmp_path).result()
    assert result.get('failed')
    assert 'no-such-profile' in result['msg'] and 'Traceback' not in result['_stderr']
