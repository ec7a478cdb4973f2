# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure logic of the S3 backend: sizes, part layout, checksums, credentials, selection."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._s3 import catalog
from ansible_collections.dsr.ops.plugins.module_utils._s3.client import resolve_connection
from ansible_collections.dsr.ops.plugins.module_utils._s3.errors import S3InputError, S3IntegrityError
from ansible_collections.dsr.ops.plugins.module_utils._s3.transfer import (
    MAX_PARTS,
    composite_sha256,
    confirm_stored,
    part_size_for,
)
from ansible_collections.dsr.ops.plugins.module_utils._sizes import parse_size

MIB = 1024 * 1024


@pytest.mark.parametrize('text, expected', [
    ('16MiB', 16 * MIB), ('16M', 16 * MIB), ('64MB', 64 * 1000 ** 2), ('1GiB', 1024 ** 3), ('1.5KiB', 1536), (5242880, 5242880), ('42', 42),
])
def test_parse_size(text, expected):
    assert parse_size(text, 'part_size') == expected


@pytest.mark.parametrize('text', ['lots', '-1MiB', '0', '12 parsecs', True])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError) as caught:
        parse_size(text, 'part_size')
    assert 'part_size' in str(caught.value)


def test_part_size_grows_to_fit_ten_thousand_parts():
    assert part_size_for(100 * MIB, 16 * MIB) == 16 * MIB
    huge = 500 * 1024 ** 3
    size = part_size_for(huge, 16 * MIB)
    assert size % MIB == 0 and -(-huge // size) <= MAX_PARTS and size > 16 * MIB


def test_composite_checksum_is_sha256_of_part_digests():
    parts = [b'a' * 10, b'b' * 7]
    digests = [hashlib.sha256(p).digest() for p in parts]
    expected = base64.b64encode(hashlib.sha256(digests[0] + digests[1]).digest()).decode() + '-2'
    assert composite_sha256(digests) == expected


def _head(data, checksum=None, etag='"x"', sha=None):
    head = {'ContentLength': len(data), 'Metadata': {'sha256': sha or hashlib.sha256(data).hexdigest()}, 'ETag': etag}
    if checksum:
        head['ChecksumSHA256'] = checksum
    return head


def test_confirm_single_part():
    data = b'registry'
    whole = base64.b64encode(hashlib.sha256(data).digest()).decode()
    sha = hashlib.sha256(data).hexdigest()
    assert confirm_stored(_head(data, whole), len(data), sha) == {'size': True, 'sha256_metadata': True, 's3_checksum': True}
    assert confirm_stored(_head(data), len(data), sha)['s3_checksum'] is None
    with pytest.raises(S3IntegrityError):
        confirm_stored(_head(data, base64.b64encode(b'0' * 32).decode()), len(data), sha)


def test_confirm_multipart_accepts_composite_with_or_without_suffix():
    parts = [b'a' * 10, b'b' * 7]
    data = b''.join(parts)
    sha = hashlib.sha256(data).hexdigest()
    digests = [hashlib.sha256(p).digest() for p in parts]
    composite = composite_sha256(digests)
    for returned in (composite, composite.split('-')[0]):
        assert confirm_stored(_head(data, returned, etag='"e-2"'), len(data), sha, digests)['s3_checksum'] is True
    with pytest.raises(S3IntegrityError):
        confirm_stored(_head(data, composite_sha256(digests[::-1]), etag='"e-2"'), len(data), sha, digests)
    # an existing multipart object: layout unknown, not compared, not failed
    assert confirm_stored(_head(data, composite, etag='"e-2"'), len(data), sha)['s3_checksum'] is None


def test_confirm_refuses_wrong_size_or_metadata():
    data = b'registry'
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(S3IntegrityError):
        confirm_stored(_head(data), len(data) + 1, sha)
    with pytest.raises(S3IntegrityError):
        confirm_stored(_head(data, sha='0' * 64), len(data), sha)
    with pytest.raises(S3IntegrityError):
        confirm_stored(None, len(data), sha)


BASE = dict(access_key=None, secret_key=None, session_token=None, profile=None, region=None, endpoint_url=None, ca_bundle=None,
            retries=10, connect_timeout=10, read_timeout=60)


def test_awx_environment_with_security_token():
    env = {'AWS_ACCESS_KEY_ID': 'AKIA1', 'AWS_SECRET_ACCESS_KEY': 's3cr3t', 'AWS_SECURITY_TOKEN': 'tok', 'AWS_REGION': 'eu-west-1'}
    params, problems = resolve_connection(BASE, env)
    assert problems == []
    assert (params['access_key'], params['secret_key'], params['session_token'], params['region']) == ('AKIA1', 's3cr3t', 'tok', 'eu-west-1')


def test_given_keys_do_not_mix_with_the_environment():
    env = {'AWS_ACCESS_KEY_ID': 'AKIA1', 'AWS_SECRET_ACCESS_KEY': 's3cr3t', 'AWS_SESSION_TOKEN': 'tok'}
    params, problems = resolve_connection(dict(BASE, access_key='AKIA2'), env)
    assert params['secret_key'] is None and params['session_token'] is None
    assert any('access_key and secret_key go together' in p for p in problems)


def test_profile_from_environment_when_no_keys():
    params, problems = resolve_connection(BASE, {'AWS_PROFILE': 'backup'})
    assert problems == [] and params['profile'] == 'backup' and params['access_key'] is None


@pytest.mark.parametrize('changes, message', [
    ({'profile': 'x', 'secret_key': 'y', 'access_key': 'z'}, 'profile cannot be combined'),
    ({'endpoint_url': 'minio:9000'}, 'endpoint_url must be an http'),
    ({'endpoint_url': 'https://k:s@minio:9000'}, 'must not hold credentials'),
    ({'retries': -1}, 'retries must be 0 or more'),
    ({'retries': 10 ** 6}, 'at most 50'),
    ({'connect_timeout': 0}, 'connect_timeout must be a positive'),
])
def test_connection_problems(changes, message):
    _params, problems = resolve_connection(dict(BASE, **changes), {})
    assert any(message in p for p in problems), problems


def test_keys_and_prefix():
    data = json.loads(_manifest('20261127T020000Z', 'a'))
    data['globals'] = {'file': 'dsr_db_20261127T020000Z.dump.zst.globals.sql', 'sha256': 'b' * 64}
    keys = catalog.keys_for('prod/dsr_db/', mf.parse(data, 'test'))
    assert keys == {'object': 'prod/dsr_db/dsr_db_20261127T020000Z.dump.zst',
                    'manifest': 'prod/dsr_db/dsr_db_20261127T020000Z.dump.zst.manifest.json',
                    'verification': 'prod/dsr_db/dsr_db_20261127T020000Z.dump.zst.verify.json',
                    'globals': 'prod/dsr_db/dsr_db_20261127T020000Z.dump.zst.globals.sql'}
    for bad in ('prod', '/prod/', 'prod//x/'):
        with pytest.raises(S3InputError):
            catalog.check_prefix(bad)
    assert catalog.check_prefix('') == ''


class FakeStore:
    """Answers list_objects_v2 and small GETs from a dict, for the catalog's logic."""

    def __init__(self, objects):
        self.objects = objects

    def call(self, operation, what, **kwargs):
        assert operation == 'list_objects_v2'
        when = datetime.datetime(2026, 11, 27, tzinfo=datetime.timezone.utc)
        return {'Contents': [{'Key': k, 'Size': len(v), 'LastModified': when} for k, v in sorted(self.objects.items())
                             if k.startswith(kwargs['Prefix'])]}

    def get_small(self, bucket, key, limit):
        return self.objects[key]


def _manifest(stamp, sha, database='dsr_db'):
    started = datetime.datetime.strptime(stamp, '%Y%m%dT%H%M%SZ').replace(tzinfo=datetime.timezone.utc)
    return json.dumps({'manifest_version': 1, 'database': database, 'file': '%s_%s.dump.zst' % (database, stamp), 'format': 'custom',
                       'compression': 'zstd', 'sha256': sha * 64, 'started_at': started.isoformat(), 'stored_size_bytes': 1,
                       'raw_size_bytes': 1, 'pg_dump_version': 'pg_dump (PostgreSQL) 15.18', 'row_counts': {}}).encode()


def test_catalog_sorts_and_sorts_out():
    p = 'prod/'
    objects = {
        p + 'dsr_db_20261125T020000Z.dump.zst': b'x', p + 'dsr_db_20261125T020000Z.dump.zst.manifest.json': _manifest('20261125T020000Z', 'a'),
        p + 'dsr_db_20261125T020000Z.dump.zst.verify.json': json.dumps({'status': 'ok', 'sha256': 'a' * 64}).encode(),
        p + 'dsr_db_20261126T020000Z.dump.zst': b'x', p + 'dsr_db_20261126T020000Z.dump.zst.manifest.json': _manifest('20261126T020000Z', 'b'),
        p + 'dsr_db_20261126T020000Z.dump.zst.verify.json': json.dumps({'status': 'critical', 'sha256': 'b' * 64}).encode(),
        p + 'dsr_db_20261127T020000Z.dump.zst.manifest.json': _manifest('20261127T020000Z', 'c'),
        p + 'dsr_db_20261128T020000Z.dump.zst': b'half',
        p + 'other_db_20261127T020000Z.dump.zst': b'x', p + 'other_db_20261127T020000Z.dump.zst.manifest.json': _manifest('20261127T020000Z', 'd', 'other_db'),
        p + 'nested/dsr_db_20261129T020000Z.dump.zst.manifest.json': _manifest('20261129T020000Z', 'e'),
    }
    entries, incomplete, missing, malformed = catalog.Catalog(FakeStore(objects), 'b', p).backups('dsr_db')
    assert [catalog.describe(e)['started_at'][:10] for e in entries] == ['2026-11-26', '2026-11-25']
    assert [catalog.describe(e)['verified'] for e in entries] == [False, True]
    assert [i['key'] for i in incomplete] == [p + 'dsr_db_20261128T020000Z.dump.zst']
    assert [m['key'] for m in missing] == [p + 'dsr_db_20261127T020000Z.dump.zst']
    assert malformed == []
