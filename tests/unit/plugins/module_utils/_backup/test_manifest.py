# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Manifests (_backup/manifest.py): names, the schema every manifest is checked against, the listing."""

from __future__ import annotations

import datetime
import json
import os
import re

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def test_backup_basename_and_database_names():
    assert mf.backup_basename('dsr_db', NOW) == 'dsr_db_20261127T020000Z'
    for bad in ('../etc', 'a/b', '', '.hidden', 'x y'):
        with pytest.raises(BackupInputError):
            mf.check_database_name(bad)


def test_list_backups_newest_first_ignores_other_databases(tmp_path, make_manifest):
    for stamp, database in (('20261125T020000Z', 'dsr_db'), ('20261126T020000Z', 'dsr_db'), ('20261127T020000Z', 'other')):
        name = '%s_%s.dump.zst' % (database, stamp)
        started = datetime.datetime.strptime(stamp, '%Y%m%dT%H%M%SZ').replace(tzinfo=UTC)
        (tmp_path / (name + '.manifest.json')).write_text(json.dumps(make_manifest(database, started)))
    listed = mf.list_backups(str(tmp_path), 'dsr_db')
    assert [os.path.basename(e['path']) for e in listed] == ['dsr_db_20261126T020000Z.dump.zst', 'dsr_db_20261125T020000Z.dump.zst']


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
    (lambda m: dict(m, format='plain'), 'format must be one of custom, k8s-config'),
    (lambda m: dict(m, row_counts=['a']), 'row_counts must be an object'),
    (lambda m: dict(m, row_counts={'t': 1}), 'is not "schema.table": rows'),
    (lambda m: dict(m, row_counts={'s.t': -4}), 'is not "schema.table": rows'),
    (lambda m: dict(m, materialized_views='s.v'), 'materialized_views must be a list'),
    (lambda m: dict(m, globals={'file': '/etc/shadow', 'sha256': '0' * 64}), 'globals must be null or'),
    (lambda m: dict(m, manifest_version=2), 'has version 2'),
    (lambda m: dict(m, pg_dump_version=None), 'pg_dump_version must be a non-empty string'),
])
def test_manifest_schema(change, message, make_manifest):
    data = change(make_manifest('dsr_db', NOW))
    if message is None:
        assert mf.parse(data, 'm.json').started == NOW
        return
    with pytest.raises(mf.ManifestError, match=re.escape(message)):
        mf.parse(data, 'm.json')


def test_manifest_must_describe_its_own_name(make_manifest):
    good = make_manifest('dsr_db', NOW)
    with pytest.raises(mf.ManifestError, match="as m.json it can only describe 'dsr_db_20261126T020000Z.dump.zst'"):
        mf.parse(dict(good), 'm.json', name='dsr_db_20261126T020000Z.dump.zst')
    with pytest.raises(mf.ManifestError, match='a manifest of database dsr_db, not other'):
        mf.parse(dict(good), 'm.json', database='other')
    assert mf.parse(dict(good), 'm.json', name=good['file'], database='dsr_db').file == good['file']


def test_unknown_manifest_version_is_refused(tmp_path):
    path = tmp_path / 'm.json'
    path.write_text(json.dumps({'manifest_version': 99}))
    with pytest.raises(BackupInputError, match='version 99'):
        mf.load(str(path))
