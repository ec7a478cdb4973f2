# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Fault tests of the backup chain against a real PostgreSQL 15: kills, corruption, races.

Each module runs as its own process (as under Ansible) so it can be killed with
SIGKILL together with every process it started.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import time
from pathlib import Path

import pytest

import zstandard

from conftest import COLLECTION, ModuleRun, connect, connection_args, drop_database, recreate_database

DATABASE = 'fault_db'
SEED = int(os.environ.get('DSR_FAULT_SEED', '20261127'))


def _datagen():
    spec = importlib.util.spec_from_file_location('dsr_datagen', COLLECTION / 'tools' / 'dsr_datagen.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def registry(harness):
    """A ~60 MB DSR-shaped database ``fault_db`` owned by dsr_app."""
    recreate_database(harness, DATABASE)
    dsn = 'host=%s port=%d user=dsr_app password=%s dbname=%s' % (harness['host'], harness['port'], harness['passwords']['dsr_app'], DATABASE)
    summary = _datagen().generate(dsn, size_bytes=60 * 1024 * 1024, seed=7, log=lambda *a, **k: None)
    yield summary
    drop_database(harness, DATABASE)


def backup_args(pg, backup_dir, **extra):
    args = dict(connection_args(pg), database=DATABASE, backup_dir=str(backup_dir))
    args.update(extra)
    return args


def databases(pg):
    conn = connect(pg)
    with conn.cursor() as cur:
        cur.execute('SELECT datname FROM pg_database')
        names = {row[0] for row in cur.fetchall()}
    conn.close()
    return names


def scalar(pg, database, query):
    conn = connect(pg, database)
    with conn.cursor() as cur:
        cur.execute(query)
        value = cur.fetchone()[0]
    conn.close()
    return value


def wait_for_no_sessions(pg, database, timeout=30):
    """Wait until no session is connected to ``database`` (closed sessions' backends exit asynchronously)."""
    deadline = time.monotonic() + timeout
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()" % database
    while scalar(pg, 'postgres', query) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scalar(pg, 'postgres', query) == 0, 'sessions still connected to %s after %d s' % (database, timeout)


def processes_mentioning(text):
    """pids of running processes whose command line contains ``text``."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path('/proc', pid, 'cmdline').read_bytes().replace(b'\0', b' ').decode('utf-8', 'replace')
        except OSError:
            continue
        if text in cmdline and int(pid) != os.getpid():
            found.append(int(pid))
    return found


def assert_directory_consistent(directory, run_module, pg):
    """Every manifest points at an intact file; nothing under a final name is partial."""
    # hidden .dsr-tmp-* files of a killed run are not final names: never listed, removed by the next run
    names = [n for n in os.listdir(directory) if not n.startswith('.dsr-tmp-')]
    manifests = [n for n in names if n.endswith('.manifest.json')]
    for name in manifests:
        result = run_module('pg_backup_verify', {'path': str(Path(directory, name[:-len('.manifest.json')])), 'record': False, 'fail_on': 'never'})
        assert result['status'] == 'ok', (name, result['summary'], result['checks'])
    data_files = [n for n in names if n.endswith('.dump.zst')]
    for name in data_files:
        if name + '.manifest.json' in names:
            continue
        # published before its manifest was written: it must be whole (the next run removes it)
        with open(Path(directory, name), 'rb') as handle:
            reader = zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True)
            while reader.read(1024 * 1024):
                pass


def test_kill_backup_at_random_points(harness, registry, run_module, tmp_path):
    """SIGKILL of the module's process group at random moments never leaves a bad final file, a stuck lock or a pg_dump."""
    backup_dir = tmp_path / 'backups'
    clean = run_module('pg_backup', backup_args(harness, backup_dir))
    assert clean.get('failed') is not True, clean
    duration = clean['duration_seconds'] + 0.3
    rng = random.Random(SEED)
    killed_with_temp_files = 0
    for attempt in range(8):
        delay = rng.uniform(0.05, duration)
        run = run_module.start('pg_backup', backup_args(harness, backup_dir))
        time.sleep(delay)
        run.kill()
        deadline = time.monotonic() + 10
        while processes_mentioning(str(backup_dir)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_mentioning(str(backup_dir)) == [], 'orphaned pg_dump after kill %d at %.2f s' % (attempt, delay)
        if any(name.startswith('.dsr-tmp-') for name in os.listdir(backup_dir)):
            killed_with_temp_files += 1
        assert_directory_consistent(backup_dir, run_module, harness)

    after = run_module('pg_backup', backup_args(harness, backup_dir))
    assert after.get('failed') is not True, after
    leftovers = [n for n in os.listdir(backup_dir) if n.startswith('.dsr-tmp-')]
    assert leftovers == [], 'the next run did not clean the temporary files of killed runs'
    unlisted = [n for n in os.listdir(backup_dir) if n.endswith('.dump.zst') and n + '.manifest.json' not in os.listdir(backup_dir)]
    assert unlisted == [], 'files published without a manifest were not cleaned: %s' % unlisted
    assert_directory_consistent(backup_dir, run_module, harness)
    # at least some kills hit the run mid-way, or the test proves nothing
    assert killed_with_temp_files >= 2, 'only %d of 8 kills left temporary files: kill points missed the dump' % killed_with_temp_files


def test_two_backups_at_once(harness, registry, run_module, tmp_path):
    """Two backups of one database started together: one runs, the other is refused clearly, nothing clobbered."""
    backup_dir = tmp_path / 'backups'
    first = run_module.start('pg_backup', backup_args(harness, backup_dir))
    second = run_module.start('pg_backup', backup_args(harness, backup_dir))
    results = [first.result(), second.result()]
    failed = [r for r in results if r.get('failed')]
    succeeded = [r for r in results if not r.get('failed')]
    if not failed:
        # the second one started after the first had finished: they cannot have overlapped
        assert results[0]['path'] != results[1]['path'] or results[0]['sha256'] == results[1]['sha256']
        pytest.skip('the two runs did not overlap on this machine')
    assert len(succeeded) == 1 and len(failed) == 1
    assert 'another backup of database %s is running' % DATABASE in failed[0]['msg']
    verify = run_module('pg_backup_verify', {'path': succeeded[0]['path'], 'record': False})
    assert verify['status'] == 'ok'


@pytest.fixture(scope='module')
def good_backup(harness, registry, tmp_path_factory, module_env):
    directory = tmp_path_factory.mktemp('good')
    result = ModuleRun('pg_backup', backup_args(harness, directory), module_env, directory).result()
    assert result.get('failed') is not True, result
    return result


@pytest.mark.parametrize('where', ['start', 'middle', 'end', 'random'])
def test_flipped_byte_fails_verification_and_restore_touches_nothing(where, harness, good_backup, run_module, tmp_path):
    path = tmp_path / os.path.basename(good_backup['path'])
    shutil.copy(good_backup['path'], path)
    shutil.copy(good_backup['manifest_path'], str(path) + '.manifest.json')
    size = path.stat().st_size
    offset = {'start': 10, 'middle': size // 2, 'end': size - 3, 'random': random.Random(SEED).randrange(size)}[where]
    with open(path, 'r+b') as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x40]))

    verify = run_module('pg_backup_verify', {'path': str(path)})
    assert verify['failed'] is True
    assert verify['checks']['checksum']['status'] == 'critical'

    before = databases(harness)
    # with the restore test, the same single pass also writes the decompressed copy: it must not survive
    tested = run_module('pg_backup_verify', dict(connection_args(harness), path=str(path), restore_test=True, record=False))
    assert tested['failed'] is True
    assert tested['checks']['checksum']['status'] == 'critical'
    assert tested['checks']['restore_test']['status'] == 'skipped'
    assert databases(harness) == before
    assert not any(n.startswith('.dsr-tmp-') for n in os.listdir(tmp_path))

    restore = run_module('pg_restore', dict(connection_args(harness), path=str(path), target_database='flip_target'))
    assert restore['failed'] is True
    assert 'no database was changed' in restore['msg']
    assert 'SHA-256' in restore['msg'] or 'decompress' in restore['msg']
    assert databases(harness) == before
    assert not any(n.startswith('.dsr-tmp-') for n in os.listdir(tmp_path))


def test_restore_test_reads_the_backup_once_and_leaves_no_copy(harness, good_backup, run_module, tmp_path):
    path = tmp_path / os.path.basename(good_backup['path'])
    shutil.copy(good_backup['path'], path)
    shutil.copy(good_backup['manifest_path'], str(path) + '.manifest.json')
    before = databases(harness)
    tested = run_module('pg_backup_verify', dict(connection_args(harness), path=str(path), restore_test=True, record=False))
    assert tested.get('failed') is not True, tested
    assert tested['checks']['restore_test']['validation']['mismatches'] == []
    listings = [c for c in tested['commands'] if '--list' in c]
    assert len(listings) == 1 and 'temporary copy' in listings[0], tested['commands']
    assert databases(harness) == before
    assert not any(n.startswith('.dsr-tmp-') for n in os.listdir(tmp_path))

    # the copy cannot be written: the file's own checks still pass, the restore test is unknown, not ok
    unwritable = run_module('pg_backup_verify', dict(connection_args(harness), path=str(path), restore_test=True, record=False,
                                                     temp_dir=str(tmp_path / 'missing')))
    assert unwritable['failed'] is True
    assert [unwritable['checks'][name]['status'] for name in ('checksum', 'decompression', 'contents')] == ['ok'] * 3
    assert unwritable['checks']['restore_test']['status'] == 'unknown'
    assert str(tmp_path / 'missing') in unwritable['checks']['restore_test']['msg']
    assert databases(harness) == before


def test_restore_killed_midway_leaves_the_original_intact(harness, good_backup, run_module):
    target = 'fault_live'
    households = scalar(harness, DATABASE, 'SELECT count(*) FROM registry.households')
    created = run_module('pg_restore', dict(connection_args(harness), path=good_backup['path'], target_database=target))
    assert created.get('failed') is not True, created
    assert created['action'] == 'create'
    try:
        # kill while pg_restore works on the scratch database
        args = dict(connection_args(harness), path=good_backup['path'], target_database=target, swap=True, allow_other_database=True)
        run = run_module.start('pg_restore', args)
        deadline = time.monotonic() + 60
        while not processes_mentioning('--dbname=dsr_ops_scratch_') and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_mentioning('--dbname=dsr_ops_scratch_'), 'pg_restore never started'
        time.sleep(0.3)
        run.kill()
        deadline = time.monotonic() + 10
        while processes_mentioning('--dbname=dsr_ops_scratch_') and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_mentioning('--dbname=dsr_ops_scratch_') == [], 'orphaned pg_restore'

        assert scalar(harness, target, 'SELECT count(*) FROM registry.households') == households
        assert not [d for d in databases(harness) if d.startswith(target + '_before_restore_')]

        # the test's own session (scalar) and the killed module's are closed, but their server processes may take a
        # moment to go on a loaded machine; the swap rightly refuses to start while pg_stat_activity shows them
        wait_for_no_sessions(harness, target)
        again = run_module('pg_restore', args)
        assert again.get('failed') is not True, again.get('msg')
        assert again['dropped_stale_scratch_databases'], 'the killed run left no scratch database to clean, or it was not found'
        assert again['validation']['status'] == 'ok'
    finally:
        conn = connect(harness)
        with conn.cursor() as cur:
            for name in databases(harness):
                if name == target or name.startswith(target + '_before_restore_') or name.startswith('dsr_ops_scratch_'):
                    cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        conn.close()


def test_swap_carries_over_database_properties(harness, good_backup, run_module):
    target = 'swap_props'
    created = run_module('pg_restore', dict(connection_args(harness), path=good_backup['path'], target_database=target))
    assert created.get('failed') is not True, created
    conn = connect(harness)
    try:
        with conn.cursor() as cur:
            for statement in ('ALTER DATABASE swap_props OWNER TO dsr_app',
                              "ALTER DATABASE swap_props SET work_mem = '7MB'",
                              "ALTER ROLE dsr_monitor IN DATABASE swap_props SET statement_timeout = '9s'",
                              'ALTER DATABASE swap_props CONNECTION LIMIT 17',
                              'REVOKE ALL ON DATABASE swap_props FROM PUBLIC',
                              'GRANT CONNECT, TEMPORARY ON DATABASE swap_props TO dsr_monitor',
                              "COMMENT ON DATABASE swap_props IS 'the registry, restored'"):
                cur.execute(statement)
        marker = scalar(harness, target, "CREATE TABLE registry.only_in_old AS SELECT 1 AS x; SELECT 1")
        assert marker == 1

        refused = run_module('pg_restore', dict(connection_args(harness), path=good_backup['path'], target_database=target))
        assert refused['failed'] is True and 'set swap=true' in refused['msg']

        # a session on the target blocks the swap unless terminate_connections is set
        holder = connect(harness, target)
        blocked = run_module('pg_restore', dict(connection_args(harness), path=good_backup['path'], target_database=target, swap=True,
                                                allow_other_database=True))
        assert blocked['failed'] is True and 'terminate_connections' in blocked['msg']
        assert scalar(harness, target, "SELECT to_regclass('registry.only_in_old') IS NOT NULL") is True
        swapped = run_module('pg_restore', dict(connection_args(harness), path=good_backup['path'], target_database=target, swap=True,
                                                terminate_connections=True, allow_other_database=True))
        holder.close()
        assert swapped.get('failed') is not True, swapped
        aside = swapped['aside_database']
        assert aside.startswith(target + '_before_restore_')

        with conn.cursor() as cur:
            cur.execute("SELECT pg_get_userbyid(datdba), datconnlimit, shobj_description(oid, 'pg_database'), datacl::text "
                        "FROM pg_database WHERE datname = %s", (target,))
            owner, limit, comment, acl = cur.fetchone()
            cur.execute("SELECT coalesce(pg_get_userbyid(nullif(setrole, 0)), '-'), setconfig::text FROM pg_db_role_setting s "
                        "JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = %s ORDER BY 1", (target,))
            settings = cur.fetchall()
        assert (owner, limit, comment) == ('dsr_app', 17, 'the registry, restored')
        assert 'dsr_monitor=Tc/' in acl and '=Tc/' not in acl.replace('dsr_monitor=Tc/', '')
        assert ('-', '{work_mem=7MB}') in settings and ('dsr_monitor', '{statement_timeout=9s}') in settings
        assert scalar(harness, target, "SELECT to_regclass('registry.only_in_old') IS NULL") is True
        assert scalar(harness, aside, "SELECT to_regclass('registry.only_in_old') IS NOT NULL") is True

        dropped = run_module('pg_restore', dict(connection_args(harness), target_database=target, state='aside_dropped'))
        assert dropped['dropped'] == [aside]
        assert aside not in databases(harness)
    finally:
        with conn.cursor() as cur:
            for name in databases(harness):
                if name == target or name.startswith(target + '_before_restore_'):
                    cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        conn.close()


def test_password_appears_in_no_result(harness, good_backup, run_module, tmp_path):
    password = harness['passwords']['postgres']
    results = [
        run_module('pg_backup', backup_args(harness, tmp_path / 'b', globals=True)),
        run_module('pg_backup_verify', dict(connection_args(harness), path=good_backup['path'], restore_test=True, record=False)),
        run_module('pg_restore', dict(connection_args(harness), path=good_backup['path'], target_database=DATABASE)),  # refused: exists
        run_module('pg_backup', dict(backup_args(harness, tmp_path / 'c'), port=1)),  # unreachable
    ]
    for result in results:
        text = repr(result)
        assert password not in text
    assert results[0].get('failed') is not True and results[1]['status'] == 'ok'
    assert results[2]['failed'] is True and results[3]['failed'] is True
    # the globals dump carries no password hashes unless asked
    globals_text = Path(results[0]['globals_path']).read_text()
    assert 'SCRAM-SHA-256$' not in globals_text
    assert oct(os.stat(results[0]['globals_path']).st_mode & 0o777) == '0o600'


HUNG_PG_DUMP = """#!/bin/bash
# a pg_dump that answers --version and then hangs, as a real one does behind a lock
if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 15.99"; exit 0; fi
exec -a "hung-pg_dump $*" sleep 600
"""


def test_pg_dump_is_never_left_running_when_the_module_is_killed_alone(harness, registry, run_module, tmp_path):
    """Even if only the module process dies (not its group), pg_dump dies with it (PR_SET_PDEATHSIG).

    The pg_dump here hangs for ten minutes, as a real one does waiting for a lock;
    without that protection it would outlive the module.
    """
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'pg_dump').write_text(HUNG_PG_DUMP)
    (bin_dir / 'pg_dump').chmod(0o755)
    backup_dir = tmp_path / 'solo'
    marker = '--file=%s' % backup_dir
    run = run_module.start('pg_backup', backup_args(harness, backup_dir, pg_bin_dir=str(bin_dir)))
    assert kill_module_alone(run, marker) == [], 'pg_dump outlived the module'


def kill_module_alone(run, marker):
    """Wait for a child whose command line holds ``marker``, SIGKILL the module process only; return the children that survived it."""
    deadline = time.monotonic() + 30
    while not processes_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(marker), 'the child (%s) never started' % marker
    os.kill(run.proc.pid, 9)
    # wait(), not communicate(): a surviving child would hold the output pipes open
    run.proc.wait()
    deadline = time.monotonic() + 5
    while processes_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = processes_mentioning(marker)
    for pid in survivors:
        os.kill(pid, 9)
    run.proc.stdout.close()
    run.proc.stderr.close()
    return survivors


def test_lock_wait_timeout_bounds_a_backup_behind_a_lock(harness, registry, run_module, tmp_path):
    """A table locked by someone else fails the backup after lock_wait_timeout, cleanly, instead of hanging."""
    backup_dir = tmp_path / 'locked'
    blocker = connect(harness, DATABASE)
    blocker.autocommit = False
    try:
        with blocker.cursor() as cur:
            cur.execute('LOCK TABLE registry.grievances IN ACCESS EXCLUSIVE MODE')
        started = time.monotonic()
        result = run_module('pg_backup', backup_args(harness, backup_dir, lock_wait_timeout='1s'), timeout=120)
        elapsed = time.monotonic() - started
    finally:
        blocker.rollback()
        blocker.close()
    assert result['failed'] is True
    assert 'lock timeout' in result['msg']
    assert elapsed < 60
    assert [n for n in os.listdir(backup_dir) if not n.endswith('.lock')] == []
    bad = run_module('pg_backup', backup_args(harness, tmp_path / 'bad', lock_wait_timeout='soonish'))
    assert bad['failed'] is True and 'lock_timeout' in bad['msg'] and 'Traceback' not in bad['msg']


HUNG_PG_RESTORE = """#!/bin/bash
# a pg_restore that answers --version and otherwise hangs without reading its input
if [ "$1" = "--version" ]; then echo "pg_restore (PostgreSQL) 15.99"; exit 0; fi
exec -a "hung-pg_restore $0 $*" sleep 600
"""


def test_pg_restore_list_dies_with_the_verification(harness, good_backup, run_module, tmp_path):
    """The TOC reader of pg_backup_verify is started like every other child: killed with the module (PR_SET_PDEATHSIG)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'pg_restore').write_text(HUNG_PG_RESTORE)
    (bin_dir / 'pg_restore').chmod(0o755)
    marker = 'hung-pg_restore %s --list' % (bin_dir / 'pg_restore')
    run = run_module.start('pg_backup_verify', {'path': good_backup['path'], 'record': False, 'pg_bin_dir': str(bin_dir)})
    assert kill_module_alone(run, marker) == [], 'pg_restore --list outlived the module'


def test_a_restore_test_without_createdb_is_unknown_with_the_reason(harness, good_backup, run_module):
    """A login role that may not create databases: the restore test is unknown with the server's words, not a traceback."""
    result = run_module('pg_backup_verify', dict(connection_args(harness, user='dsr_monitor'), path=good_backup['path'],
                                                 restore_test=True, record=False, fail_on='never'))
    assert result.get('failed') is not True, result.get('msg')
    assert result['checks']['checksum']['status'] == 'ok'
    assert result['checks']['restore_test']['status'] == 'unknown'
    assert 'permission denied to create database' in result['checks']['restore_test']['msg']
    assert result['status'] == 'unknown'
