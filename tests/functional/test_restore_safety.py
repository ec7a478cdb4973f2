# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Restore and swap safety against a real PostgreSQL 15: what "empty" means, a kill aimed at the swap, another database's backup.

Each module runs as its own process (as under Ansible), so it can be killed
with SIGKILL at a moment the test chooses by watching the server.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import psycopg2
import pytest

from conftest import ModuleRun, connect, connection_args, drop_database

SOURCE = 'restore_src'


def sql(pg, database, *statements, user='postgres'):
    conn = connect(pg, database, user=user)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            if cur.description:
                return cur.fetchall()
    finally:
        conn.close()
    return None


def databases(pg):
    return {row[0] for row in sql(pg, 'postgres', 'SELECT datname FROM pg_database')}


def drop(pg, *names):
    for name in names:
        drop_database(pg, name)


def drop_like(pg, prefix):
    drop(pg, *[d for d in databases(pg) if d.startswith(prefix)])


@pytest.fixture(scope='module')
def source_backup(harness, tmp_path_factory, module_env):
    """A backup of a small two-table database ``restore_src`` (5000 + 12000 rows)."""
    drop(harness, SOURCE)
    sql(harness, 'postgres', 'CREATE DATABASE %s OWNER dsr_app' % SOURCE)
    sql(harness, SOURCE, 'CREATE TABLE households (id bigint PRIMARY KEY, region text)',
        "INSERT INTO households SELECT g, 'r' || (g % 17) FROM generate_series(1, 5000) g",
        'CREATE TABLE members (id bigint PRIMARY KEY, household_id bigint REFERENCES households, name text)',
        'INSERT INTO members SELECT g, 1 + g % 5000, md5(g::text) FROM generate_series(1, 12000) g', user='dsr_app')
    # what a dump does not carry, and a restore into a new database must
    sql(harness, 'postgres', "ALTER DATABASE %s SET work_mem = '7MB'" % SOURCE, 'ALTER DATABASE %s CONNECTION LIMIT 42' % SOURCE,
        "COMMENT ON DATABASE %s IS 'the registry'" % SOURCE, 'REVOKE ALL ON DATABASE %s FROM PUBLIC' % SOURCE,
        'GRANT CONNECT ON DATABASE %s TO dsr_monitor' % SOURCE)
    directory = tmp_path_factory.mktemp('restore-src')
    made = ModuleRun('pg_backup', dict(connection_args(harness), database=SOURCE, backup_dir=str(directory)), module_env, directory).result()
    assert made.get('failed') is not True, made
    yield made
    drop(harness, SOURCE)


def restore_args(pg, backup, target, **extra):
    args = dict(connection_args(pg), path=backup['path'], target_database=target)
    args.update(extra)
    return args


# -- 1: "empty" means empty ----------------------------------------------------------------------------

def test_a_database_without_tables_is_not_empty(harness, source_backup, run_module):
    target = 'adv_notables'
    drop(harness, target)
    sql(harness, 'postgres', 'CREATE DATABASE %s' % target)
    sql(harness, target, "SELECT lo_from_bytea(0, 'a scanned consent form')",
        'CREATE FUNCTION eligibility_score(int) RETURNS int LANGUAGE sql AS $$ SELECT $1 * 2 $$',
        'CREATE VIEW v_today AS SELECT now() AS at',
        'CREATE SEQUENCE household_numbers')
    try:
        refused = run_module('pg_restore', restore_args(harness, source_backup, target, allow_other_database=True))
        assert refused['failed'] is True and 'set swap=true' in refused['msg'], refused['msg']
        for kind in ('1 functions', '1 large objects', '1 views', '1 sequences'):
            assert kind in refused['msg'], refused['msg']

        swapped = run_module('pg_restore', restore_args(harness, source_backup, target, swap=True, allow_other_database=True))
        assert swapped.get('failed') is not True, swapped['msg']
        assert swapped['action'] == 'swap' and swapped['aside_database'].startswith(target + '_before_restore_')
        aside = swapped['aside_database']
        kept = sql(harness, aside, "SELECT (SELECT count(*) FROM pg_largeobject_metadata), to_regproc('eligibility_score') IS NOT NULL, "
                                   "to_regclass('v_today') IS NOT NULL, to_regclass('household_numbers') IS NOT NULL")[0]
        assert kept == (1, True, True, True), 'the old database lost objects'
        assert sql(harness, target, 'SELECT count(*) FROM members')[0][0] == 12000
    finally:
        drop_like(harness, target)


def test_a_truly_empty_database_is_replaced_and_dropped(harness, source_backup, run_module):
    target = 'adv_empty'
    drop(harness, target)
    sql(harness, 'postgres', 'CREATE DATABASE %s' % target)
    try:
        replaced = run_module('pg_restore', restore_args(harness, source_backup, target))
        assert replaced.get('failed') is not True, replaced['msg']
        assert replaced['action'] == 'replace_empty' and replaced['aside_database'] is None
        assert not [d for d in databases(harness) if d.startswith(target + '_before_restore_')]
    finally:
        drop_like(harness, target)


# -- 2: a kill aimed at the swap ---------------------------------------------------------------------------

def _wait_for(predicate, seconds, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def test_a_kill_during_the_swap_leaves_the_live_database_open(harness, source_backup, run_module):
    """The kill lands inside the swap on purpose: a session held on the scratch database makes the rename wait there."""
    target = 'adv_live'
    drop_like(harness, target)
    drop_like(harness, 'dsr_ops_scratch_%s' % SOURCE)
    created = run_module('pg_restore', restore_args(harness, source_backup, target))
    assert created.get('failed') is not True and created['action'] == 'create', created
    sql(harness, target, 'CREATE TABLE only_in_live AS SELECT 1 AS x')
    holder = None
    try:
        run = run_module.start('pg_restore', restore_args(harness, source_backup, target, swap=True, terminate_connections=True,
                                                          allow_other_database=True))
        scratch = _wait_for(lambda: next((d for d in databases(harness) if d.startswith('dsr_ops_scratch_%s' % SOURCE)), None), 60)
        assert scratch, 'the restore never created its scratch database'
        # a session on the scratch database: the rename of scratch to the target must wait for it, inside the swap
        holder = _wait_for(lambda: _try_connect(harness, scratch), 30)
        assert holder, 'could not hold a session on the scratch database'
        in_swap = _wait_for(lambda: sql(harness, 'postgres', "SELECT pid, query FROM pg_stat_activity WHERE state = 'active' "
                                                             "AND query LIKE 'ALTER DATABASE %% RENAME TO %%'"), 90)
        assert in_swap, 'the restore never reached the swap'
        backend = in_swap[0][0]
        run.kill()
        # the server notices the dead client when the rename gives up waiting; until then its transaction is open
        assert _wait_for(lambda: not sql(harness, 'postgres', 'SELECT 1 FROM pg_stat_activity WHERE pid = %d' % backend), 30), \
            'the killed run\'s backend never ended'
        holder.close()
        holder = None

        state = sql(harness, 'postgres', "SELECT datallowconn FROM pg_database WHERE datname = '%s'" % target)
        assert state == [(True,)], 'the live database was left refusing connections: %s' % state
        assert sql(harness, target, "SELECT to_regclass('only_in_live') IS NOT NULL")[0][0] is True, 'the live database was replaced'
        assert not [d for d in databases(harness) if d.startswith(target + '_before_restore_')]

        again = run_module('pg_restore', restore_args(harness, source_backup, target, swap=True, terminate_connections=True,
                                                      allow_other_database=True))
        assert again.get('failed') is not True, again['msg']
        assert scratch in again['dropped_stale_scratch_databases']
        assert sql(harness, target, "SELECT to_regclass('only_in_live') IS NULL")[0][0] is True
    finally:
        if holder is not None:
            holder.close()
        drop_like(harness, target)
        drop_like(harness, 'dsr_ops_scratch_%s' % SOURCE)


def test_a_held_session_refuses_the_swap_without_terminate_connections(harness, source_backup, run_module):
    """The swap waits a moment for closed sessions to go (SESSION_SETTLE_SECONDS), but a session that stays refuses it."""
    target = 'adv_held'
    drop_like(harness, target)
    drop_like(harness, 'dsr_ops_scratch_%s' % SOURCE)
    created = run_module('pg_restore', restore_args(harness, source_backup, target))
    assert created.get('failed') is not True and created['action'] == 'create', created
    holder = connect(harness, target)
    try:
        refused = run_module('pg_restore', restore_args(harness, source_backup, target, swap=True, allow_other_database=True))
        assert refused['failed'] is True
        assert '1 sessions are connected to adv_held' in refused['msg'] and 'terminate_connections=true' in refused['msg'], refused['msg']
        assert not [d for d in databases(harness) if d.startswith(target + '_before_restore_')]
        with holder.cursor() as cur:  # the session was left alone
            cur.execute('SELECT 1')
            assert cur.fetchone() == (1,)
    finally:
        holder.close()
        drop_like(harness, target)
        drop_like(harness, 'dsr_ops_scratch_%s' % SOURCE)


def _try_connect(pg, database):
    try:
        return connect(pg, database)
    except psycopg2.Error:
        return None


def test_a_database_left_closed_is_named_and_repaired_by_the_swap(harness, source_backup, run_module):
    """A database closed by an interrupted swap of an earlier version: a clear message, and the swap puts an open one in place."""
    target = 'adv_closed'
    drop_like(harness, target)
    created = run_module('pg_restore', restore_args(harness, source_backup, target))
    assert created.get('failed') is not True, created
    sql(harness, 'postgres', 'ALTER DATABASE %s ALLOW_CONNECTIONS false' % target)
    try:
        refused = run_module('pg_restore', restore_args(harness, source_backup, target, allow_other_database=True))
        assert refused['failed'] is True and 'does not accept connections' in refused['msg'] and 'ALLOW_CONNECTIONS true' in refused['msg']
        swapped = run_module('pg_restore', restore_args(harness, source_backup, target, swap=True, allow_other_database=True))
        assert swapped.get('failed') is not True, swapped['msg']
        assert 'did not accept connections' in repr(swapped.get('warnings'))
        assert sql(harness, 'postgres', "SELECT datallowconn FROM pg_database WHERE datname = '%s'" % target) == [(True,)]
        assert sql(harness, target, 'SELECT count(*) FROM households')[0][0] == 5000
        assert swapped['aside_database'] in databases(harness)
    finally:
        drop_like(harness, target)


# -- 3: another database's backup -----------------------------------------------------------------------------

def test_another_databases_backup_is_not_swapped_over_the_target(harness, source_backup, run_module):
    target = 'adv_other'
    drop_like(harness, target)
    sql(harness, 'postgres', 'CREATE DATABASE %s' % target)
    sql(harness, target, *['CREATE TABLE t%d (id int)' % n for n in range(9)])
    try:
        refused = run_module('pg_restore', restore_args(harness, source_backup, target, swap=True))
        assert refused['failed'] is True
        assert 'is of database %s, not %s' % (SOURCE, target) in refused['msg'] and 'allow_other_database=true' in refused['msg']
        assert sql(harness, target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0] == 9

        allowed = run_module('pg_restore', restore_args(harness, source_backup, target, swap=True, allow_other_database=True))
        assert allowed.get('failed') is not True, allowed['msg']
        assert 'the backup holds 2 tables, the database %s it replaces holds 9' % target in repr(allowed.get('warnings'))
        assert allowed['aside_database'] in databases(harness)

        # its own database's backup needs no permission; a new database of any name neither
        fresh = run_module('pg_restore', restore_args(harness, source_backup, target + '_new'))
        assert fresh.get('failed') is not True and fresh['action'] == 'create', fresh
    finally:
        drop_like(harness, target)


def test_login_db_may_not_be_the_target(harness, source_backup, run_module):
    refused = run_module('pg_restore', dict(restore_args(harness, source_backup, SOURCE, swap=True), login_db=SOURCE))
    assert refused['failed'] is True and 'login_db is %s' % SOURCE in refused['msg']
    assert os.path.exists(source_backup['path'])


# -- 4 and 5: temporary files of killed runs, and a live run's file --------------------------------------------

def _scratch_databases(pg):
    return {d for d in databases(pg) if d.startswith('dsr_ops_scratch_%s' % SOURCE)}


def _new_scratch(pg, before):
    """The scratch database a run just started creates (not a killed run's leftover, which it drops)."""
    return _wait_for(lambda: next(iter(_scratch_databases(pg) - before), None), 60)


def _kill_in_swap(harness, run_module, args):
    """Start a restore, hold a session on its scratch database so that the swap waits, kill the restore there."""
    before = _scratch_databases(harness)
    run = run_module.start('pg_restore', args)
    scratch = _new_scratch(harness, before)
    holder = _wait_for(lambda: _try_connect(harness, scratch), 30) if scratch else None
    try:
        in_swap = _wait_for(lambda: sql(harness, 'postgres', "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                                                             "AND query LIKE 'ALTER DATABASE %% RENAME TO %%'"), 90)
        assert in_swap, 'the restore never reached the swap'
        run.kill()
        # the rename may now complete, but the dead client never sends COMMIT: the server rolls the swap back
        if holder is not None:
            holder.close()
            holder = None
        _wait_for(lambda: not sql(harness, 'postgres', 'SELECT 1 FROM pg_stat_activity WHERE pid = %d' % in_swap[0][0]), 30)
    finally:
        if holder is not None:
            holder.close()


def _raw_copies(directory):
    return sorted(n for n in os.listdir(directory) if n.startswith('.dsr-tmp-') and n.endswith('.raw'))


def test_killed_restores_leave_no_pile_and_a_live_restores_file_is_left_alone(harness, source_backup, run_module, tmp_path):
    directory = tmp_path / 'backups'
    directory.mkdir()
    for suffix in ('', '.manifest.json'):
        shutil.copy(source_backup['path'] + suffix, directory)
    path = str(directory / os.path.basename(source_backup['path']))
    target = 'adv_temp'
    drop_like(harness, target)
    args = dict(restore_args(harness, {'path': path}, target), swap=True, terminate_connections=True, allow_other_database=True)
    try:
        assert run_module('pg_restore', restore_args(harness, {'path': path}, target)).get('failed') is not True
        for dummy in range(5):
            _kill_in_swap(harness, run_module, args)
            # each run removes what the killed ones before it left: the pile never grows past the last one's copy
            left = _raw_copies(directory)
            assert len(left) == 1, 'killed restores left a pile of decompressed copies: %s' % left

        # a live restore waiting in its swap; pg_backup of the same database in the same directory meanwhile
        before = _scratch_databases(harness)
        live = run_module.start('pg_restore', args)
        scratch = _new_scratch(harness, before)
        holder = _wait_for(lambda: _try_connect(harness, scratch), 30)
        try:
            assert _wait_for(lambda: sql(harness, 'postgres', "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                                                              "AND query LIKE 'ALTER DATABASE %% RENAME TO %%'"), 90)
            live_copy = _raw_copies(directory)
            assert len(live_copy) == 1 and live_copy != left, 'the live restore removed the stale copy and holds its own: %s' % live_copy
            backup = run_module('pg_backup', dict(connection_args(harness), database=SOURCE, backup_dir=str(directory)))
            assert backup.get('failed') is not True, backup['msg']
            assert not any(n in p for p in backup['removed_stale_temp_files'] for n in live_copy), backup['removed_stale_temp_files']
            assert _raw_copies(directory) == live_copy, "pg_backup removed a live restore's working file"
        finally:
            holder.close()
        finished = live.result()
        assert finished.get('failed') is not True, finished['msg']
        assert sorted(os.path.basename(p) for p in finished['removed_stale_temp_files']) == left
        assert _raw_copies(directory) == []
    finally:
        drop_like(harness, target)
        drop_like(harness, 'dsr_ops_scratch_%s' % SOURCE)


# -- issue 16, item 3: a new database gets the source's owner ---------------------------------------------------

def _properties(pg, database):
    return sql(pg, 'postgres', "SELECT pg_get_userbyid(datdba), datconnlimit, shobj_description(oid, 'pg_database'), datacl::text, "
                               "(SELECT setconfig::text FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0) "
                               "FROM pg_database d WHERE datname = '%s'" % database)[0]


def test_a_new_database_gets_the_owner_grants_and_settings_of_the_source(harness, source_backup, run_module, tmp_path):
    target = 'adv_owned'
    drop_like(harness, target)
    try:
        created = run_module('pg_restore', restore_args(harness, source_backup, target))
        assert created.get('failed') is not True and created['action'] == 'create', created
        owner, limit, comment, acl, settings = _properties(harness, target)
        assert (owner, limit, comment, settings) == ('dsr_app', 42, 'the registry', '{work_mem=7MB}')
        assert 'dsr_monitor=c/' in acl and not acl.startswith('{=')
        assert any(c.endswith('OWNER TO "dsr_app"') for c in created['commands']), created['commands']

        drop(harness, target)
        plain = run_module('pg_restore', restore_args(harness, source_backup, target, carry_properties=False))
        assert plain.get('failed') is not True, plain
        assert _properties(harness, target)[0] == 'postgres'

        # a manifest naming a role this server does not have: restored, owned by the restoring role, and said so
        drop(harness, target)
        copy = tmp_path / os.path.basename(source_backup['path'])
        shutil.copy(source_backup['path'], copy)
        manifest = json.loads(Path(source_backup['manifest_path']).read_text())
        manifest['database_properties']['owner'] = 'gone_role'
        manifest['database_properties']['grants'].append(['gone_role', 'CONNECT', False])
        Path(str(copy) + '.manifest.json').write_text(json.dumps(manifest))
        fitted = run_module('pg_restore', restore_args(harness, {'path': str(copy)}, target))
        assert fitted.get('failed') is not True, fitted
        assert _properties(harness, target)[0] == 'postgres'
        assert 'gone_role, which does not exist on this server' in repr(fitted.get('warnings'))

        # and a privilege that is not a database privilege is a malformed manifest, never SQL
        drop(harness, target)
        manifest['database_properties']['grants'] = [['dsr_monitor', 'CONNECT; DROP DATABASE postgres', False]]
        Path(str(copy) + '.manifest.json').write_text(json.dumps(manifest))
        refused = run_module('pg_restore', restore_args(harness, {'path': str(copy)}, target))
        assert refused['failed'] is True and 'database_properties.grants' in refused['msg']
        assert target not in databases(harness)
    finally:
        drop_like(harness, target)


def test_a_login_that_may_not_give_the_owner_still_restores_and_says_so(harness, source_backup, run_module):
    target = 'adv_nopriv'
    drop_like(harness, target)
    sql(harness, 'postgres', 'DROP ROLE IF EXISTS adv_restorer', "CREATE ROLE adv_restorer LOGIN CREATEDB PASSWORD 'adv-restorer-pw'")
    try:
        args = dict(restore_args(harness, source_backup, target), login_user='adv_restorer', login_password='adv-restorer-pw', no_owner=True)
        restored = run_module('pg_restore', args)
        assert restored.get('failed') is not True, restored['msg']
        assert _properties(harness, target)[0] == 'adv_restorer'
        assert 'created without the source database' in repr(restored.get('warnings')) and 'dsr_app' in repr(restored.get('warnings'))
        assert sql(harness, target, 'SELECT count(*) FROM members')[0][0] == 12000
    finally:
        drop_like(harness, target)
        sql(harness, 'postgres', 'DROP ROLE IF EXISTS adv_restorer')
