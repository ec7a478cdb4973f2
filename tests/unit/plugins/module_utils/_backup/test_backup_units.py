# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The backup chain's pure parts: names, retention, codecs, locks, leftovers, durations."""

from __future__ import annotations

import datetime
import io
import json
import os
import re

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import backup, codec, files, pgtools, retention
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError, BackupIntegrityError, BackupLockedError, BackupToolError
from ansible_collections.dsr.ops.plugins.module_utils._backup.lock import DatabaseLock
from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def manifest_data(database, started, sha='a' * 64, size=1, compression='zstd'):
    """The JSON pg_backup writes, with made-up figures."""
    name = mf.backup_basename(database, started) + codec.EXTENSIONS[compression].join(['.dump', ''])
    return {'manifest_version': 1, 'database': database, 'file': name, 'format': 'custom', 'compression': compression,
            'started_at': mf.isoformat(started), 'stored_size_bytes': size, 'raw_size_bytes': size, 'sha256': sha,
            'pg_dump_version': 'pg_dump (PostgreSQL) 15.18', 'row_counts': {'registry.households': 3}, 'materialized_views': []}


def entry(days_old, verified=False, sha='5' * 64):
    started = NOW - datetime.timedelta(days=days_old)
    manifest = mf.parse(manifest_data('dsr_db', started, sha), 'm')
    return {'path': '/b/%d' % days_old, 'manifest_path': '/b/%d.manifest.json' % days_old, 'started_at': started,
            'manifest': manifest, 'verification': {'status': 'ok', 'sha256': sha} if verified else None, 'problem': None}


@pytest.mark.parametrize('text, seconds', [('26h', 93600), ('14d', 1209600), ('90', 90), ('1.5h', 5400), ('2w', 1209600), (30, 30)])
def test_parse_duration(text, seconds):
    assert parse_duration(text, 'max_age') == seconds


@pytest.mark.parametrize('text', ['soon', '-5h', '0', '5 parsecs'])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match='max_age'):
        parse_duration(text, 'max_age')


def test_backup_basename_and_database_names():
    assert mf.backup_basename('dsr_db', NOW) == 'dsr_db_20261127T020000Z'
    for bad in ('../etc', 'a/b', '', '.hidden', 'x y'):
        with pytest.raises(BackupInputError):
            mf.check_database_name(bad)


def test_retention_keep_last():
    entries = [entry(d) for d in range(5)]
    delete, keep, dummy = retention.plan(entries, keep_last=2, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/2', '/b/3', '/b/4']
    assert len(keep) == 2


def test_retention_never_deletes_newest_verified():
    entries = [entry(0), entry(1), entry(2, verified=True), entry(3, verified=True)]
    delete, dummy, dummy = retention.plan(entries, keep_last=1, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/1', '/b/3']


def test_retention_verified_record_must_match_the_file():
    stale_record = entry(2, verified=True)
    stale_record['verification']['sha256'] = 'other'
    delete, dummy, dummy = retention.plan([entry(0), stale_record], keep_last=1, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/2']


def test_retention_both_rules_must_agree():
    entries = [entry(d) for d in (0, 1, 5, 20, 40)]
    delete, dummy, dummy = retention.plan(entries, keep_last=2, max_age_seconds=10 * 86400, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/20', '/b/40']


def test_retention_max_age_alone_keeps_the_newest_even_when_old():
    entries = [entry(30), entry(40)]
    delete, keep, dummy = retention.plan(entries, max_age_seconds=86400, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/40']
    assert keep[0][1] == 'newest backup'


def test_retention_without_rules_deletes_nothing():
    assert retention.plan([entry(d) for d in range(3)], now=NOW)[0] == []


def test_retention_rejects_zero():
    with pytest.raises(BackupInputError):
        retention.plan([], keep_last=0)


@pytest.mark.parametrize('compression', ['zstd', 'gzip', 'none'])
def test_codec_round_trip(compression, tmp_path):
    data = os.urandom(3000) * 1000
    stored = tmp_path / 'x'
    with open(stored, 'wb') as out:
        raw, size, digest = codec.compress_stream(io.BytesIO(data), out, compression, codec.DEFAULT_LEVELS[compression] or 0, threads=2)
    assert raw == len(data) and size == stored.stat().st_size
    assert digest == files.sha256_file(str(stored))[0]
    chunks = []
    got = codec.decompress_to(str(stored), compression, chunks.append, expected_sha256=digest)
    assert b''.join(chunks) == data and got == (len(data), size, digest)


@pytest.mark.parametrize('compression', ['zstd', 'gzip'])
def test_codec_detects_damage(compression, tmp_path):
    stored = tmp_path / 'x'
    with open(stored, 'wb') as out:
        dummy, dummy2, digest = codec.compress_stream(io.BytesIO(b'registry ' * 100000), out, compression, 3)
    blob = bytearray(stored.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    stored.write_bytes(bytes(blob))
    with pytest.raises(BackupIntegrityError):
        codec.decompress_to(str(stored), compression, lambda b: None, expected_sha256=digest)


def test_codec_levels():
    assert codec.validate_level('zstd', None) == 1
    with pytest.raises(ValueError, match='between 1 and 9'):
        codec.validate_level('gzip', 12)


def test_publish_is_atomic_and_private(tmp_path):
    final = tmp_path / 'final'
    temp = files.temp_path(str(tmp_path), 'final')
    with files.open_private(temp) as handle:
        handle.write(b'data')
    assert not final.exists()
    files.publish(temp, str(final))
    assert final.read_bytes() == b'data' and not os.path.exists(temp)
    assert final.stat().st_mode & 0o777 == 0o600
    assert files.temp_final_name(os.path.basename(temp)) == 'final'
    assert files.temp_final_name('final') is None


def test_lock_is_exclusive_and_released(tmp_path):
    with DatabaseLock(str(tmp_path), 'dsr_db'):
        with pytest.raises(BackupLockedError, match='another backup of database dsr_db is running .*pid %d' % os.getpid()):
            DatabaseLock(str(tmp_path), 'dsr_db').acquire()
        DatabaseLock(str(tmp_path), 'other_db').acquire().release()
    DatabaseLock(str(tmp_path), 'dsr_db').acquire().release()


def test_leftovers_only_of_this_database(tmp_path):
    names = {
        files.temp_path(str(tmp_path), 'dsr_db_20261127T020000Z.dump'): True,
        files.temp_path(str(tmp_path), 'dsr_db_x_20261127T020000Z.dump'): False,  # another database
        str(tmp_path / 'dsr_db_20261126T020000Z.dump.zst'): True,  # published, no manifest
        str(tmp_path / 'dsr_db_20261125T020000Z.dump.zst'): False,  # complete backup
        str(tmp_path / 'dsr_db_20261125T020000Z.dump.zst.manifest.json'): False,
    }
    for path in names:
        open(path, 'w').close()
    removed = backup.clean_leftovers([str(tmp_path)], 'dsr_db')
    assert sorted(removed) == sorted(p for p, gone in names.items() if gone)


def test_list_backups_newest_first_ignores_other_databases(tmp_path):
    for stamp, database in (('20261125T020000Z', 'dsr_db'), ('20261126T020000Z', 'dsr_db'), ('20261127T020000Z', 'other')):
        name = '%s_%s.dump.zst' % (database, stamp)
        started = datetime.datetime.strptime(stamp, '%Y%m%dT%H%M%SZ').replace(tzinfo=UTC)
        (tmp_path / (name + '.manifest.json')).write_text(json.dumps(manifest_data(database, started)))
    listed = mf.list_backups(str(tmp_path), 'dsr_db')
    assert [os.path.basename(e['path']) for e in listed] == ['dsr_db_20261126T020000Z.dump.zst', 'dsr_db_20261125T020000Z.dump.zst']


GOOD = manifest_data('dsr_db', NOW)


@pytest.mark.parametrize('change, message', [
    (lambda m: [m], 'holds a JSON list, not an object'),
    (lambda m: 'text', 'holds a JSON string'),
    (lambda m: {k: v for k, v in m.items() if k != 'file'}, 'file must be a non-empty string'),
    (lambda m: {k: v for k, v in m.items() if k != 'sha256'}, 'sha256 must be 64 lowercase hexadecimal digits'),
    (lambda m: dict(m, sha256='A' * 64), 'sha256 must be 64'),
    (lambda m: dict(m, file='/etc/passwd'), "file '/etc/passwd' is not the name pg_backup gives"),
    (lambda m: dict(m, file='../dsr_db_20261127T020000Z.dump.zst'), 'is not the name pg_backup gives'),
    (lambda m: dict(m, file='dsr_db_20261127T020000Z.dump.gz'), 'is not the name pg_backup gives a zstd backup'),
    (lambda m: dict(m, started_at='2026-11-27T02:00:00'), 'has no time zone'),
    (lambda m: dict(m, started_at='yesterday'), 'started_at must be an ISO 8601 time'),
    (lambda m: dict(m, started_at=12), 'started_at must be an ISO 8601 time'),
    (lambda m: dict(m, started_at='2026-11-27T03:00:00+01:00'), None),
    (lambda m: dict(m, started_at='2026-11-28T02:00:00+00:00'), 'disagrees with the time 20261127T020000Z in the file name'),
    (lambda m: dict(m, stored_size_bytes='5'), 'stored_size_bytes must be a whole number'),
    (lambda m: dict(m, raw_size_bytes=True), 'raw_size_bytes must be a whole number'),
    (lambda m: dict(m, stored_size_bytes=-1), 'stored_size_bytes must be a whole number'),
    (lambda m: dict(m, database='other'), 'is not the name pg_backup gives a zstd backup of other'),
    (lambda m: dict(m, database='../x'), 'cannot be used in a backup file name'),
    (lambda m: dict(m, compression='lz4'), 'compression must be one of'),
    (lambda m: dict(m, format='plain'), 'format must be custom'),
    (lambda m: dict(m, row_counts=['a']), 'row_counts must be an object'),
    (lambda m: dict(m, row_counts={'t': 1}), 'is not "schema.table": rows'),
    (lambda m: dict(m, row_counts={'s.t': -4}), 'is not "schema.table": rows'),
    (lambda m: dict(m, materialized_views='s.v'), 'materialized_views must be a list'),
    (lambda m: dict(m, globals={'file': '/etc/shadow', 'sha256': '0' * 64}), 'globals must be null or'),
    (lambda m: dict(m, manifest_version=2), 'has version 2'),
    (lambda m: dict(m, pg_dump_version=None), 'pg_dump_version must be a non-empty string'),
])
def test_manifest_schema(change, message):
    data = change(dict(GOOD))
    if message is None:
        assert mf.parse(data, 'm.json').started == NOW
        return
    with pytest.raises(mf.ManifestError, match=re.escape(message)):
        mf.parse(data, 'm.json')


def test_manifest_must_describe_its_own_name():
    with pytest.raises(mf.ManifestError, match="as m.json it can only describe 'dsr_db_20261126T020000Z.dump.zst'"):
        mf.parse(dict(GOOD), 'm.json', name='dsr_db_20261126T020000Z.dump.zst')
    with pytest.raises(mf.ManifestError, match='a manifest of database dsr_db, not other'):
        mf.parse(dict(GOOD), 'm.json', database='other')
    assert mf.parse(dict(GOOD), 'm.json', name=GOOD['file'], database='dsr_db').file == GOOD['file']


def test_retention_leaves_unproven_and_future_backups_alone():
    future = entry(-3)
    unproven = entry(2)
    unproven['problem'] = 'the file is 3 bytes, its manifest says 1'
    entries = [future, entry(0), entry(1), unproven, entry(3)]
    delete, keep, warnings = retention.plan(entries, keep_last=1, now=NOW)
    assert [e['path'] for e, r in delete] == ['/b/1', '/b/3']
    reasons = {e['path']: r for e, r in keep}
    assert reasons['/b/0'] == 'newest backup' and 'in the future' in reasons['/b/-3'] and 'left alone' in reasons['/b/2']
    assert len(warnings) == 2


def test_retention_never_deletes_the_backup_this_run_made():
    entries = [entry(-0.001), entry(1)]
    # a backup a hair in the future (within the clock-skew allowance) outranks the one just made; the run's own stays
    delete, keep, dummy = retention.plan(entries, keep_last=1, now=NOW, protect='/b/1')
    assert delete == [] and dict((e['path'], r) for e, r in keep)['/b/1'] == 'made by this run'


def test_unknown_manifest_version_is_refused(tmp_path):
    path = tmp_path / 'm.json'
    path.write_text(json.dumps({'manifest_version': 99}))
    with pytest.raises(BackupInputError, match='version 99'):
        mf.load(str(path))


def test_old_pg_dump_is_refused():
    with pytest.raises(BackupToolError, match='older than the server'):
        pgtools.require_not_older('/x/pg_dump', 13, 150018)
    pgtools.require_not_older('/x/pg_dump', 16, 150018)


@pytest.mark.parametrize('text, major', [('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)', 15), ('pg_dump (PostgreSQL) 9.6.24', 9), ('nope', None)])
def test_major_version(text, major):
    assert pgtools.major_version(text) == major


def test_publish_without_overwrite_never_clobbers(tmp_path):
    final = tmp_path / 'final'
    final.write_bytes(b'first')
    temp = files.temp_path(str(tmp_path), 'final')
    with files.open_private(temp) as handle:
        handle.write(b'second')
    with pytest.raises(FileExistsError):
        files.publish(temp, str(final), overwrite=False)
    assert final.read_bytes() == b'first'
