# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The verification's own judgements (_backup/verify.py) that need no server: freshness, manifests, contents."""

from __future__ import annotations

import datetime

from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup import verify

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def manifest(started, **changes):
    data = {'manifest_version': 1, 'database': 'dsr_db', 'file': mf.backup_basename('dsr_db', started) + '.dump.zst', 'format': 'custom',
            'compression': 'zstd', 'started_at': mf.isoformat(started), 'stored_size_bytes': 10, 'raw_size_bytes': 20, 'sha256': 'a' * 64,
            'pg_dump_version': 'pg_dump (PostgreSQL) 15.18', 'row_counts': {'registry.households': 3, 'registry.members': 5},
            'materialized_views': []}
    data.update(changes)
    return mf.parse(data, 'test')


def check(params, **kwargs):
    return verify.Verification(dict({'max_age': 26 * 3600}, **params), now=lambda: NOW)._freshness(**kwargs)


def test_freshness_ok_stale_and_from_the_future():
    assert check({}, manifest=manifest(NOW - datetime.timedelta(hours=6)), entries=[]).status == 'ok'
    assert check({}, manifest=manifest(NOW - datetime.timedelta(hours=30)), entries=[]).status == 'critical'
    future = check({}, manifest=manifest(NOW + datetime.timedelta(days=3)), entries=[])
    assert future.status == 'warning' and 'in the future' in future.msg
    # within the clock-skew allowance it is simply fresh
    assert check({}, manifest=manifest(NOW + datetime.timedelta(seconds=60)), entries=[]).status == 'ok'


def test_no_backup_is_critical_and_a_malformed_named_one_has_no_age():
    assert check({'database': 'dsr_db', 'backup_dir': '/b'}, manifest=None, entries=[]).status == 'critical'
    assert check({'path': '/b/x'}, manifest=None, entries=None).status == 'skipped'


def test_the_manifest_check_names_what_is_malformed():
    assert verify.Verification._manifests(1, []).status == 'ok'
    bad = verify.Verification._manifests(1, [{'manifest_path': '/b/m', 'reason': 'manifest /b/m is malformed: x'}])
    assert bad.status == 'critical' and 'manifest /b/m is malformed' in bad.msg and bad.figures['malformed'] == 1


class FakeToc:
    def __init__(self, listing, returncode=0):
        self.listing = listing
        self.returncode = returncode

    def finish(self):
        return self.returncode, self.listing, 'pg_restore: error: not an archive' if self.returncode else ''


def test_contents_finds_each_table_of_the_manifest():
    listing = ('; Archive created\n3216; 0 16390 TABLE DATA registry households dsr_app\n'
               '3217; 0 16395 TABLE DATA registry members dsr_app\n')
    assert verify.Verification._contents(FakeToc(listing), manifest(NOW)).status == 'ok'
    missing = verify.Verification._contents(FakeToc(listing.split('3217', maxsplit=1)[0]), manifest(NOW))
    assert missing.status == 'critical' and missing.figures['missing'] == ['registry.members']
    broken = verify.Verification._contents(FakeToc('', returncode=1), manifest(NOW))
    assert broken.status == 'critical' and 'cannot read the archive' in broken.msg
