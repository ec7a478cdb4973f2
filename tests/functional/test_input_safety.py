# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Inputs that silenced a check or crashed a module, against the real harness.

NaN thresholds (a NaN compares false with everything, so the check could never
fire), untrusted certificate chains reported as ok, a state file that is not
ours, figures past what the server accepts, and a full disk whose error did not
say which file.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import connect, connection_args, drop_database, recreate_database


def test_nan_thresholds_are_refused(harness, run_module):
    for args, option in (({'cache_hit_ratio_warning': 'nan'}, 'cache_hit_ratio'), ({'connections_critical': 'inf'}, 'connections')):
        result = run_module('pg_health', dict(connection_args(harness), **args))
        assert result['failed'] is True and 'finite number' in result['msg'] and option in result['msg'], result['msg']
    for threshold in ({'warning': 'nan', 'critical': 'nan'}, {'critical': 'nan'}, {'warning': '-inf'}):
        check = dict({'name': 'cpu', 'query': 'up'}, **threshold)
        result = run_module('metrics_check', {'url': 'http://127.0.0.1:1', 'checks': [check]})
        assert result['failed'] is True and 'finite number' in result['msg'], result['msg']
        assert 'Traceback' not in result['msg']


def test_query_timeout_beyond_the_server_limit_is_refused(harness, run_module):
    result = run_module('pg_health', dict(connection_args(harness), query_timeout=10 ** 12))
    assert result['failed'] is True and 'query_timeout' in result['msg'] and 'at most 2147483' in result['msg'], result['msg']


def test_a_state_file_that_is_not_ours_is_named_and_kept(harness, run_module, tmp_path):
    state = tmp_path / 'state.json'
    state.write_text('[1, 2]')
    result = run_module('pg_health', dict(connection_args(harness), state_file=str(state), checks=['database_sizes']))
    assert result['failed'] is True and str(state) in result['msg'] and 'not the object pg_health writes' in result['msg'], result['msg']
    assert state.read_text() == '[1, 2]'
    # entries that are not what pg_health writes are ignored, not trusted
    state.write_text(json.dumps({'version': 1, 'databases': {'dsr_db': {'oid': 'x', 'size_bytes': 'big', 'taken_at': None}}}))
    result = run_module('pg_health', dict(connection_args(harness), state_file=str(state), checks=['database_sizes'], fail_on='never'))
    assert result.get('failed') is not True, result['msg']
    assert 'growth' not in result['checks']['database_sizes']['databases'].get('dsr_db', {})


@pytest.mark.parametrize('name, expect', [('no_intermediate', 'unable to get local issuer certificate'), ('self_signed', 'self-signed')])
def test_an_untrusted_chain_is_a_warning(name, expect, tls_service, run_module):
    endpoint = tls_service['endpoints'][name]
    target = {'host': endpoint['host'], 'port': endpoint['port'], 'name': name}
    checked = run_module('cert_expiry', {'endpoints': [target], 'ca_cert': tls_service['ca_cert'], 'fail_on': 'never'})
    cert = checked['certificates'][0]
    assert cert['trusted'] is False and cert['days_remaining'] >= 89
    assert cert['status'] == 'warning' and checked['status'] == 'warning', cert['msg']
    assert 'not trusted' in cert['msg'] and expect in cert['msg'], cert['msg']
    strict = run_module('cert_expiry', {'endpoints': [target], 'ca_cert': tls_service['ca_cert'], 'untrusted': 'critical', 'fail_on': 'never'})
    assert strict['status'] == 'critical'
    ignored = run_module('cert_expiry', {'endpoints': [target], 'ca_cert': tls_service['ca_cert'], 'untrusted': 'ignore'})
    assert ignored.get('failed') is not True and ignored['status'] == 'ok'


def test_a_trusted_chain_stays_ok_and_the_system_store_is_not_a_private_ca(tls_service, run_module):
    endpoint = tls_service['endpoints']['days90']
    target = {'host': endpoint['host'], 'port': endpoint['port'], 'name': 'days90'}
    trusted = run_module('cert_expiry', {'endpoints': [target], 'ca_cert': tls_service['ca_cert']})
    assert trusted.get('failed') is not True and trusted['status'] == 'ok' and trusted['certificates'][0]['trusted'] is True
    # without the private CA the system store does not know the harness CA: a warning that says what to do
    unknown_ca = run_module('cert_expiry', {'endpoints': [target], 'fail_on': 'never'})
    assert unknown_ca['status'] == 'warning' and 'give ca_cert' in unknown_ca['certificates'][0]['msg']


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 256 KiB tmpfs (the suite runs as root); skipped where mounting is not allowed."""
    mount = tmp_path / 'tiny'
    mount.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', str(mount)], capture_output=True, check=False).returncode:
        pytest.skip('cannot mount a tmpfs here (not root?)')
    try:
        yield mount
    finally:
        subprocess.run(['umount', '-l', str(mount)], check=False)


@pytest.fixture
def megabyte_db(harness):
    """A database with about 1.5 MB of incompressible rows."""
    recreate_database(harness, 'space_db', owner='postgres')
    conn = connect(harness, 'space_db')
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE notes AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS body FROM generate_series(1, 20000) g")
    conn.close()
    yield 'space_db'
    drop_database(harness, 'space_db')


def test_full_backup_dir_found_before_the_dump_and_full_disk_names_the_file(harness, megabyte_db, run_module, tmp_path, tiny_filesystem):
    # temp_dir has room, backup_dir (another filesystem) does not: found before pg_dump runs
    refused = run_module('pg_backup', dict(connection_args(harness), database=megabyte_db, backup_dir=str(tiny_filesystem / 'b'),
                                           temp_dir=str(tmp_path / 'work')))
    assert refused['failed'] is True and 'not enough free space in %s' % (tiny_filesystem / 'b') in refused['msg'], refused['msg']
    assert 'the compressed copy' in refused['msg']
    # without the check the write fails, and the message says which file
    full = run_module('pg_backup', dict(connection_args(harness), database=megabyte_db, backup_dir=str(tiny_filesystem / 'b'),
                                        temp_dir=str(tmp_path / 'work'), space_check=False, compression='none'))
    assert full['failed'] is True and 'No space left on device' in full['msg'], full['msg']
    assert str(tiny_filesystem / 'b') in full['msg']
    assert [n for n in os.listdir(tiny_filesystem / 'b') if n != '.space_db.lock'] == [], 'a partial file was left'
