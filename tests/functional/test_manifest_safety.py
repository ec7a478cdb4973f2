# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Manifests are untrusted input: retention, verification and restore against hand-edited manifests.

Real backups of a real PostgreSQL 15 database, made by pg_backup; the manifests
beside them are then edited the way a careless hand, a corrupted disk or a
machine with a wrong clock would edit them. Retention must delete nothing it
cannot prove is this database's backup in this directory, must never delete
the newest real backup or the one the run just made, and no module may answer
with a raw exception.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

import pytest

from conftest import COLLECTION, ModuleRun, connect, connection_args, drop_database, recreate_database

DATABASE = 'manifest_db'
SEED = int(os.environ.get('DSR_FAULT_SEED', '20261202'))
UTC = datetime.timezone.utc


@pytest.fixture(scope='module')
def small_db(harness):
    """A small registry-shaped database owned by dsr_app (backups of it take a fraction of a second)."""
    recreate_database(harness, DATABASE)
    conn = connect(harness, DATABASE, user='dsr_app')
    with conn.cursor() as cur:
        cur.execute('CREATE TABLE households (id bigint PRIMARY KEY, region text NOT NULL)')
        cur.execute("INSERT INTO households SELECT g, 'region-' || (g % 17) FROM generate_series(1, 5000) g")
        cur.execute('CREATE TABLE members (id bigint PRIMARY KEY, household_id bigint REFERENCES households, name text)')
        cur.execute("INSERT INTO members SELECT g, 1 + g % 5000, md5(g::text) FROM generate_series(1, 12000) g")
    conn.close()
    yield DATABASE
    drop_database(harness, DATABASE)


def backup_args(pg, backup_dir, **extra):
    args = dict(connection_args(pg), database=DATABASE, backup_dir=str(backup_dir))
    args.update(extra)
    return args


def stamp_of(moment):
    return moment.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')


@pytest.fixture(scope='module')
def real_backups(harness, small_db, tmp_path_factory, module_env):
    """Three real backups of manifest_db, dated a day apart by renaming (name, manifest and all agree)."""
    source = tmp_path_factory.mktemp('made')
    made = ModuleRun('pg_backup', backup_args(harness, source), module_env, source).result()
    assert made.get('failed') is not True, made
    directory = tmp_path_factory.mktemp('originals')
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    names = []
    for days in (3, 2, 1):
        names.append(_copy_backup(made['path'], directory, now - datetime.timedelta(days=days)))
    return directory, names


def _copy_backup(path, directory, started):
    """Copy a real backup under the name of another start time, its manifest rewritten to agree."""
    manifest = json.loads(Path(path + '.manifest.json').read_text())
    name = '%s_%s.dump.zst' % (manifest['database'], stamp_of(started))
    shutil.copy(path, Path(directory, name))
    manifest.update(file=name, started_at=started.isoformat(timespec='seconds'))
    Path(directory, name + '.manifest.json').write_text(json.dumps(manifest))
    return name


def fresh_dir(real_backups, tmp_path, name='backups'):
    """A private copy of the three real backups; returns (directory, names oldest first)."""
    originals, names = real_backups
    directory = tmp_path / name
    shutil.copytree(originals, directory)
    return directory, list(names)


def edit_manifest(directory, name, change):
    path = Path(directory, name + '.manifest.json')
    data = json.loads(path.read_text())
    data = change(data)
    path.write_text(json.dumps(data))


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def warnings_of(result):
    """The warning texts of a module result (ansible-core 2.19 returns them as WarningSummary objects)."""
    texts = []
    for warning in result.get('warnings') or []:
        texts.append(warning if isinstance(warning, str) else json.dumps(warning))
    return texts


def no_traceback(result):
    text = json.dumps({k: v for k, v in result.items() if k != '_stderr'})
    assert 'Traceback' not in text and 'Module failed:' not in text and "object has no attribute" not in text, result.get('msg')


# -- 1: a manifest naming a file outside the directory ------------------------------------------------

@pytest.mark.parametrize('how', ['absolute', 'relative', 'renamed manifest'])
def test_retention_never_deletes_a_file_outside_the_directory(how, harness, real_backups, run_module, tmp_path):
    directory, names = fresh_dir(real_backups, tmp_path)
    victim = tmp_path / 'victim.txt'
    victim.write_text('not a backup\n')
    old = datetime.datetime(2020, 1, 1, tzinfo=UTC)
    evil = '%s_%s.dump.zst' % (DATABASE, stamp_of(old))
    target = {'absolute': str(victim), 'relative': '../victim.txt', 'renamed manifest': str(victim)}[how]
    manifest = json.loads(Path(directory, names[0] + '.manifest.json').read_text())
    manifest.update(file=target, started_at=old.isoformat())
    manifest_name = (evil if how != 'renamed manifest' else 'anything') + '.manifest.json'
    Path(directory, manifest_name).write_text(json.dumps(manifest))

    pruned = run_module('pg_backup', backup_args(harness, directory, state='pruned', keep_last=1))
    no_traceback(pruned)
    assert pruned.get('failed') is not True, pruned['msg']
    assert victim.read_text() == 'not a backup\n'
    deleted = [d['path'] for d in pruned['retention']['deleted']]
    assert str(victim) not in deleted and all(os.path.dirname(p) == str(directory) for p in deleted)
    # the two older real backups went, the newest stayed
    assert sorted(os.path.basename(p) for p in deleted) == sorted(names[:2])
    assert Path(directory, names[2]).exists()
    if how != 'renamed manifest':
        assert [m['manifest_path'] for m in pruned['retention']['malformed']] == [str(directory / manifest_name)]
        assert any('is malformed' in w and manifest_name in w for w in warnings_of(pruned))
        assert Path(directory, manifest_name).exists(), 'the malformed manifest is left for a person to look at'


# -- 2: an older manifest naming the newest backup's file ----------------------------------------------

def test_retention_never_deletes_the_newest_through_another_manifest(harness, real_backups, run_module, tmp_path):
    directory, names = fresh_dir(real_backups, tmp_path)
    newest = names[2]
    before = sha(directory / newest)
    edit_manifest(directory, names[0], lambda m: dict(m, file=newest))

    pruned = run_module('pg_backup', backup_args(harness, directory, state='pruned', keep_last=1))
    no_traceback(pruned)
    assert pruned.get('failed') is not True, pruned['msg']
    assert sha(directory / newest) == before
    deleted = [d['path'] for d in pruned['retention']['deleted']]
    kept = [d['path'] for d in pruned['retention']['kept']]
    assert not set(deleted) & set(kept)
    assert deleted == [str(directory / names[1])]
    assert (directory / names[0]).exists(), "the edited manifest's own backup is left alone with it"
    assert pruned['retention']['malformed'][0]['manifest_path'] == str(directory / (names[0] + '.manifest.json'))
    verify = run_module('pg_backup_verify', {'path': str(directory / newest), 'record': False})
    assert verify['status'] == 'ok', verify['summary']


# -- 3: a backup dated in the future ----------------------------------------------------------------

def test_a_future_dated_backup_does_not_outrank_the_one_just_made(harness, real_backups, run_module, tmp_path):
    directory, names = fresh_dir(real_backups, tmp_path)
    future = _copy_backup(str(directory / names[2]), directory, datetime.datetime(2030, 1, 1, 2, 0, tzinfo=UTC))

    made = run_module('pg_backup', backup_args(harness, directory, keep_last=1))
    no_traceback(made)
    assert made.get('failed') is not True, made['msg']
    assert Path(made['path']).exists(), 'the backup this run made was deleted by this run'
    assert (directory / future).exists()
    kept = {os.path.basename(d['path']): d['reason'] for d in made['retention']['kept']}
    assert kept[os.path.basename(made['path'])] == 'newest backup'
    assert 'in the future' in kept[future]
    assert any('in the future' in w and future in w for w in warnings_of(made))
    assert sorted(os.path.basename(d['path']) for d in made['retention']['deleted']) == sorted(names)

    # and a second run keeps its own and deletes the first run's, never the one just made
    time.sleep(1.1)  # backup names carry the second they started
    again = run_module('pg_backup', backup_args(harness, directory, keep_last=1))
    assert again.get('failed') is not True, again['msg']
    assert Path(again['path']).exists() and (directory / future).exists()

    # verification calls the future-dated backup what it is, not fresh
    verify = run_module('pg_backup_verify', {'backup_dir': str(directory), 'database': DATABASE, 'max_age': '1d', 'record': False,
                                             'fail_on': 'never'})
    assert verify['path'] == str(directory / future)
    assert verify['checks']['freshness']['status'] == 'warning'
    assert 'in the future' in verify['checks']['freshness']['msg']


def test_a_started_at_that_disagrees_with_the_name_is_malformed(harness, real_backups, run_module, tmp_path):
    directory, names = fresh_dir(real_backups, tmp_path)
    edit_manifest(directory, names[0], lambda m: dict(m, started_at='2030-01-01T00:00:00+00:00'))
    pruned = run_module('pg_backup', backup_args(harness, directory, state='pruned', keep_last=1))
    assert pruned.get('failed') is not True, pruned['msg']
    assert 'disagrees with the time' in pruned['retention']['malformed'][0]['reason']
    assert (directory / names[0]).exists() and (directory / names[2]).exists()
    assert [os.path.basename(d['path']) for d in pruned['retention']['deleted']] == [names[1]]


# -- 4: malformed manifests everywhere --------------------------------------------------------------

CORRUPTIONS = {
    'no file': lambda m: {k: v for k, v in m.items() if k != 'file'},
    'no sha256': lambda m: {k: v for k, v in m.items() if k != 'sha256'},
    'naive timestamp': lambda m: dict(m, started_at=m['started_at'].replace('+00:00', '')),
    'started_at yesterday': lambda m: dict(m, started_at='yesterday'),
    'a JSON list': lambda m: [m],
    'sizes as text': lambda m: dict(m, stored_size_bytes=str(m['stored_size_bytes'])),
    'row_counts a list': lambda m: dict(m, row_counts=list(m['row_counts'])),
}


@pytest.mark.parametrize('corruption', sorted(CORRUPTIONS))
def test_a_malformed_manifest_is_a_clear_finding_everywhere(corruption, harness, real_backups, run_module, tmp_path):
    directory, names = fresh_dir(real_backups, tmp_path)
    bad = names[2]
    edit_manifest(directory, bad, CORRUPTIONS[corruption])
    manifest_path = str(directory / (bad + '.manifest.json'))

    named = run_module('pg_backup_verify', {'path': str(directory / bad), 'record': False})
    no_traceback(named)
    assert named['status'] == 'critical' and named['failed'] is True
    assert named['checks']['manifest']['status'] == 'critical'
    assert 'manifest %s is malformed' % manifest_path in named['checks']['manifest']['msg']
    assert named['checks']['checksum']['status'] == 'skipped'

    listed = run_module('pg_backup_verify', {'backup_dir': str(directory), 'database': DATABASE, 'record': False, 'fail_on': 'never'})
    no_traceback(listed)
    assert listed['path'] == str(directory / names[1]), 'the newest well-formed backup is the one verified'
    assert listed['checks']['checksum']['status'] == 'ok'
    assert listed['checks']['manifest']['status'] == 'critical' and listed['status'] == 'critical'
    assert [m['manifest_path'] for m in listed['malformed_manifests']] == [manifest_path]

    restored = run_module('pg_restore', dict(connection_args(harness), path=str(directory / bad), target_database='manifest_never'))
    no_traceback(restored)
    assert restored['failed'] is True and 'no database was changed' in restored['msg'] and 'is malformed' in restored['msg']

    planned = run_module('pg_restore', dict(connection_args(harness), backup_dir=str(directory), database=DATABASE,
                                            target_database='manifest_never', _ansible_check_mode=True))
    no_traceback(planned)
    assert planned.get('failed') is not True, planned['msg']
    assert planned['backup_path'] == str(directory / names[1])
    assert any('skipped' in w and manifest_path in w for w in warnings_of(planned))

    pruned = run_module('pg_backup', backup_args(harness, directory, state='pruned', keep_last=1))
    no_traceback(pruned)
    assert pruned.get('failed') is not True, pruned['msg']
    assert [os.path.basename(d['path']) for d in pruned['retention']['deleted']] == [names[0]], 'one bad manifest stopped retention'
    assert (directory / bad).exists() and Path(manifest_path).exists()


# -- 5: names and paths checked up front ---------------------------------------------------------------

def test_names_and_paths_are_checked_up_front(harness, real_backups, run_module, tmp_path):
    directory, names = fresh_dir(real_backups, tmp_path)
    cases = [
        ('pg_backup', backup_args(harness, directory, temp_dir=''), 'temp_dir is empty'),
        ('pg_backup', backup_args(harness, directory, database='manifest\0db'), 'database contains a NUL byte'),
        ('pg_backup', backup_args(harness, str(directory) + '\0x'), 'backup_dir contains a NUL byte'),
        ('pg_backup', backup_args(harness, directory, login_password='secret\0'), 'login_password contains a NUL byte'),
        ('pg_backup', backup_args(harness, tmp_path / 'no' / 'such' / 'dir', state='pruned', keep_last=1), 'does not exist'),
        ('pg_backup', backup_args(harness, directory, database='d' * 64), 'at most 63 bytes'),
        ('pg_backup_verify', {'path': str(directory / names[0]), 'temp_dir': ''}, 'temp_dir is empty'),
        ('pg_restore', dict(connection_args(harness), path=str(directory / names[0]), target_database='t' * 64), 'target_database is 64 bytes'),
        ('pg_restore', dict(connection_args(harness), path=str(directory / names[0]), target_database='x', temp_dir=''), 'temp_dir is empty'),
        ('pg_restore', dict(connection_args(harness, database=DATABASE), path=str(directory / names[0]), target_database=DATABASE, swap=True),
         'login_db is %s, the database this restore replaces' % DATABASE),
    ]
    for module, args, expected in cases:
        result = run_module(module, args)
        no_traceback(result)
        assert result['failed'] is True, (module, args)
        assert expected in result['msg'], (module, expected, result['msg'])
        assert 'secret' not in json.dumps(result)


# -- property: random edits never make retention delete what it must not ------------------------------

FIELDS = ['file', 'started_at', 'sha256', 'stored_size_bytes', 'database', 'compression', 'manifest_version', 'globals', 'row_counts']


def _collection_on_path():
    root = COLLECTION.parents[1]
    if root.name == 'ansible_collections' and str(root.parent) not in sys.path:
        sys.path.insert(0, str(root.parent))
    elif root.name != 'ansible_collections':
        pytest.skip('the collection is not in an ansible_collections tree (run through scripts/test.sh)')


def _mutation(rng, directory, names, victim):
    """One random edit of one manifest (or of what lies beside it)."""
    name = rng.choice(names)
    path = Path(directory, name + '.manifest.json')
    kind = rng.randrange(9)
    if kind == 0:
        path.write_text(rng.choice(['', '{', '[]', 'null', '"text"', '{"manifest_version": 1}']))
        return
    if kind == 1:
        # a data file replaced by a symbolic link to something outside
        os.unlink(Path(directory, name))
        os.symlink(victim, Path(directory, name))
        return
    if kind == 2:
        # a copy of a manifest under another backup's (future or past) name
        other = '%s_%s.dump.zst' % (DATABASE, rng.choice(['20300101T000000Z', '20200101T000000Z', '20261201T000000Z']))
        shutil.copy(path, Path(directory, other + '.manifest.json'))
        return
    try:
        data = json.loads(path.read_text())
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    field = rng.choice(FIELDS)
    values = {
        'file': [str(victim), '../victim.txt', rng.choice(names), 'x/' + name, '', None, 7, name.replace('.zst', '.gz')],
        'started_at': ['2030-01-01T00:00:00+00:00', '2001-01-01T00:00:00+00:00', 'yesterday', '2026-12-01T00:00:00', None, 12],
        'sha256': ['', 'A' * 64, None, '0' * 64],
        'stored_size_bytes': [0, -1, 'big', None, True, 10 ** 12],
        'database': ['other_db', '../x', None, ''],
        'compression': ['gzip', 'none', 'lz4', None],
        'manifest_version': [2, '1', None],
        'globals': [{'file': '/etc/passwd', 'sha256': '0' * 64}, 'yes', None],
        'row_counts': [[], 'all', {'t': 'many'}, None],
    }[field]
    value = rng.choice(values)
    if value is None:
        data.pop(field, None)
    else:
        data[field] = value
    path.write_text(json.dumps(data))


def test_random_manifest_edits_never_lose_a_backup(harness, real_backups, tmp_path):
    """Property-style: any edit of the manifests, retention (pruned or after a new backup) never deletes what it must not."""
    _collection_on_path()
    from ansible_collections.dsr.ops.plugins.module_utils._backup.backup import Backup  # pylint: disable=import-outside-toplevel
    from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import Connector  # pylint: disable=import-outside-toplevel

    rng = random.Random(SEED)
    victim = tmp_path / 'victim.txt'
    outside = b'not a backup\n'
    rounds = int(os.environ.get('DSR_PROPERTY_ROUNDS', '120'))
    for round_number in range(rounds):
        victim.write_bytes(outside)
        directory, names = fresh_dir(real_backups, tmp_path, 'round-%d' % round_number)
        newest_sha = sha(directory / names[-1])
        for dummy in range(rng.randint(1, 4)):
            _mutation(rng, directory, names, victim)
        before = {n: (os.path.islink(directory / n), os.path.exists(directory / n)) for n in os.listdir(directory)}
        make_new = round_number % 6 == 0
        params = dict(connection_args(harness), database=DATABASE, backup_dir=str(directory), state='present' if make_new else 'pruned',
                      keep_last=rng.choice([1, 1, 2]), max_age=rng.choice([None, 3600]), compression='zstd', compression_level=None,
                      compression_threads=1, temp_dir=None, globals=False, space_check=False, pg_bin_dir=None, lock_wait_timeout=None)
        try:
            result = Backup(params).run(Connector(params))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise AssertionError('round %d raised %r' % (round_number, exc)) from None
        assert victim.read_bytes() == outside, 'round %d: a file outside the directory changed' % round_number
        for name in os.listdir(tmp_path):
            assert not name.startswith('victim') or name == 'victim.txt'
        deleted = [d['path'] for d in result['retention']['deleted']]
        kept = [d['path'] for d in result['retention']['kept']]
        assert not set(deleted) & set(kept), round_number
        for path in deleted:
            assert os.path.dirname(path) == str(directory) and os.path.basename(path) in names, (round_number, path)
            assert not before[os.path.basename(path)][0], 'round %d deleted through a symbolic link' % round_number
        if make_new:
            # the newest real backup is the one just made
            assert os.path.exists(result['path']), 'round %d: the backup just made was deleted' % round_number
        elif not before[names[-1]][0]:
            # else the newest of the three, unless the test itself swapped its data file for a link
            newest = directory / names[-1]
            assert newest.exists() and sha(newest) == newest_sha, 'round %d: the newest real backup was lost' % round_number
        shutil.rmtree(directory)


def test_check_mode_warns_about_what_retention_would_leave_alone(harness, real_backups, run_module, tmp_path):
    directory, names = fresh_dir(real_backups, tmp_path)
    edit_manifest(directory, names[0], lambda m: dict(m, started_at='yesterday'))
    planned = run_module('pg_backup', backup_args(harness, directory, keep_last=1, _ansible_check_mode=True))
    assert planned.get('failed') is not True, planned['msg']
    assert [m['manifest_path'] for m in planned['retention']['malformed']] == [str(directory / (names[0] + '.manifest.json'))]
    assert any('is malformed' in w for w in warnings_of(planned))
    assert sorted(os.listdir(directory)) == sorted(os.listdir(real_backups[0])), 'check mode changed the directory'
