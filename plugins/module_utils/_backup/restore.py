# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Restoring a dsr.ops backup into a scratch database, validating it, and swapping it in.

Used by pg_restore and by pg_backup_verify's restore test. The order is what
keeps the data safe:

1. the stored file is decompressed into a seekable temporary file and its
   SHA-256 checked on the way: a corrupt backup is refused before any
   database is touched;
2. it is restored into a new scratch database (from template0) with
   ``pg_restore -j N --exit-on-error``, analyzed, and every table's row count
   compared with the manifest;
3. only then, and only when asked, the scratch database takes the target's
   name in one transaction (``ALTER DATABASE ... RENAME`` is transactional);
   the old database is renamed aside and kept, with its owner, database-level
   grants, ``ALTER DATABASE ... SET`` settings, connection limit and comment
   carried over to the new one.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import queue
import re
import secrets
import threading
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._backup import codec, files, pgtools
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError, BackupIntegrityError, BackupToolError
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import connect, libpq_environment

if _deps.HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.errors
    from psycopg2 import sql

SCRATCH_PREFIX = 'dsr_ops_scratch_'
ASIDE_INFIX = '_before_restore_'
SCRATCH_MARK = 'dsr.ops scratch database'
# pg_restore session tuning: a scratch database is rebuilt from scratch if the server crashes,
# and the swap's own synchronous commit flushes all earlier WAL before the new data is used.
RESTORE_SESSION = '-c maintenance_work_mem=512MB -c synchronous_commit=off'
# Measured and left out (benchmarks/restore_session_pairs.py, 2 cores, median of 3 pairs):
# max_parallel_maintenance_workers=0 saved about 1-2 server CPU-seconds but no wall time (13.7 -> 13.6 s
# at 1 GB, 44.2 -> 43.5 s at 3 GB), and would idle the spare cores of a bigger restore host.
_NAME_MAX = 63
# how long the swap may try to find the target without sessions (they are terminated again on every attempt)
SWAP_SECONDS = 30

_USER_OBJECTS_SQL = """
SELECT 'tables', count(*) FROM pg_class WHERE oid >= 16384 AND relkind IN ('r', 'p', 'f')
UNION ALL SELECT 'materialized views', count(*) FROM pg_class WHERE oid >= 16384 AND relkind = 'm'
UNION ALL SELECT 'views', count(*) FROM pg_class WHERE oid >= 16384 AND relkind = 'v'
UNION ALL SELECT 'sequences', count(*) FROM pg_class WHERE oid >= 16384 AND relkind = 'S'
UNION ALL SELECT 'functions', count(*) FROM pg_proc WHERE oid >= 16384
UNION ALL SELECT 'types', count(*) FROM pg_type WHERE oid >= 16384 AND typcategory <> 'A'
                                                  AND (typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = typrelid) = 'c')
UNION ALL SELECT 'schemas', count(*) FROM pg_namespace WHERE oid >= 16384 AND nspname NOT LIKE 'pg\\_%%'
UNION ALL SELECT 'extensions', count(*) FROM pg_extension WHERE oid >= 16384
UNION ALL SELECT 'large objects', count(*) FROM pg_largeobject_metadata
UNION ALL SELECT 'operators', count(*) FROM pg_operator WHERE oid >= 16384
UNION ALL SELECT 'collations', count(*) FROM pg_collation WHERE oid >= 16384
UNION ALL SELECT 'text search objects', (SELECT count(*) FROM pg_ts_config WHERE oid >= 16384) + (SELECT count(*) FROM pg_ts_dict WHERE oid >= 16384)
UNION ALL SELECT 'foreign data objects', (SELECT count(*) FROM pg_foreign_data_wrapper WHERE oid >= 16384)
                                         + (SELECT count(*) FROM pg_foreign_server WHERE oid >= 16384)
UNION ALL SELECT 'event triggers', count(*) FROM pg_event_trigger WHERE oid >= 16384
UNION ALL SELECT 'publications', count(*) FROM pg_publication WHERE oid >= 16384
UNION ALL SELECT 'casts', count(*) FROM pg_cast WHERE oid >= 16384
UNION ALL SELECT 'conversions', count(*) FROM pg_conversion WHERE oid >= 16384
UNION ALL SELECT 'languages', count(*) FROM pg_language WHERE oid >= 16384
UNION ALL SELECT 'default privileges', count(*) FROM pg_default_acl WHERE oid >= 16384
UNION ALL SELECT 'statistics objects', count(*) FROM pg_statistic_ext WHERE oid >= 16384
"""


def describe_objects(objects):
    """``{'tables': 9, 'views': 1}`` -> ``9 tables, 1 views``."""
    return ', '.join('%d %s' % (count, kind) for kind, count in sorted(objects.items(), key=lambda item: (-item[1], item[0])))


def resolve_backup(path=None, backup_dir=None, database=None, warnings=None):
    """Find the backup to use: ``path``, else the newest of ``database`` in ``backup_dir``.

    Returns ``(path, manifest)``. A malformed manifest given by ``path`` is an
    error; malformed manifests in ``backup_dir`` are skipped with a warning.
    """
    if path:
        manifest_file = mf.manifest_path(path)
        if not os.path.exists(path):
            raise BackupInputError('backup file %s does not exist' % path)
        if not os.path.exists(manifest_file):
            raise BackupInputError('backup file %s has no manifest (%s): it is incomplete or not made by dsr.ops.pg_backup' % (path, manifest_file))
        return path, mf.load(manifest_file)
    entries, malformed = mf.scan(backup_dir, database)
    for item in malformed:
        if warnings is not None:
            warnings.append('skipped: %s' % item['reason'])
    if not entries:
        raise BackupInputError('no backup of database %s in %s%s' % (database, backup_dir, ' with a well-formed manifest' if malformed else ''))
    newest = entries[0]
    if not os.path.exists(newest['path']):
        raise BackupIntegrityError('the newest manifest %s points at %s, which is missing' % (newest['manifest_path'], newest['path']))
    return newest['path'], newest['manifest']


class BackgroundWriter:
    """Hands blocks to ``write`` in a thread of its own, in order, through a bounded queue.

    Decompressing a backup and copying the raw bytes into the temporary file
    (the kernel's page-cache copy) then use two cores instead of one: on the
    2-core benchmark machine this takes the checksum-and-decompress step of a
    1 GB restore from about 1.9 s to 1.2 s. At most ``depth`` blocks wait in
    memory. The first error of ``write`` stops the writing; ``write`` raises it
    to the producer at its next block and ``close`` raises it at the end.
    """

    def __init__(self, write, depth=8):
        self._write = write
        self._queue = queue.Queue(depth)
        self._error = None
        self._thread = threading.Thread(target=self._run, name='dsr-ops-writer', daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            block = self._queue.get()
            if block is None:
                return
            if self._error is None:
                # any error, raised again in the producer's thread by write() or close()
                try:
                    self._write(block)
                except BaseException as exc:  # pylint: disable=broad-exception-caught
                    self._error = exc

    def write(self, block):
        """Queue ``block``; raise the writer's error if writing has already failed."""
        if self._error is not None:
            raise self._error
        self._queue.put(block)

    def close(self):
        """Wait until every queued block is written; raise the writer's error, if any."""
        self.abandon()
        if self._error is not None:
            raise self._error

    def abandon(self):
        """Stop the thread after the queued blocks (used when the producer failed); never raises."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def decompress_verified(path, manifest, temp_dir, also=None):
    """Decompress ``path`` into a private temporary file, checking its SHA-256 and size on the way.

    Returns ``(files.TempFile, seconds)``: the caller removes the file when done,
    and holds its lock until then, so no other run takes it for a leftover. On
    any mismatch the temporary file is removed and BackupIntegrityError raised:
    nothing downstream ever sees bad data. The file is written by a
    BackgroundWriter while this thread decompresses. ``also``, when given, is
    called with every decompressed block too (the verification feeds
    ``pg_restore --list`` from the same single pass).
    """
    started = time.monotonic()
    temp = files.TempFile(temp_dir, os.path.basename(path) + '.raw')
    try:
        with files.naming(temp.path), temp.writer() as out:
            writer = BackgroundWriter(out.write)
            sink = writer.write
            if also is not None:
                def sink(block):
                    also(block)
                    writer.write(block)
            try:
                raw, stored, dummy = codec.decompress_to(path, manifest.compression, sink, expected_sha256=manifest.sha256)
            except BaseException:
                writer.abandon()
                raise
            writer.close()
        if stored != manifest.stored_size_bytes:
            raise BackupIntegrityError('%s is %d bytes but its manifest says %d' % (path, stored, manifest.stored_size_bytes))
        if raw != manifest.raw_size_bytes:
            raise BackupIntegrityError('%s decompresses to %d bytes but its manifest says %d' % (path, raw, manifest.raw_size_bytes))
    except BaseException:
        temp.remove()
        raise
    return temp, time.monotonic() - started


def remove_stale_copies(temp_dir, database):
    """Remove the decompressed copies that killed restores (or restore tests) of ``database`` left in ``temp_dir``."""
    pattern = re.compile(r'^%s_\d{8}T\d{6}Z\.dump(\.zst|\.gz)?\.raw$' % re.escape(database))
    return files.remove_stale_temp_files(temp_dir, pattern.match)


def scratch_name(source_database):
    """A unique scratch database name, recognisable as ours (and so cleanable)."""
    stamp = mf.utcnow().strftime('%Y%m%d%H%M%S')
    base = '%s%s_%s_%s' % (SCRATCH_PREFIX, source_database, stamp, secrets.token_hex(3))
    if len(base) > _NAME_MAX:
        base = '%s%s_%s' % (SCRATCH_PREFIX, stamp, secrets.token_hex(6))
    return base


def aside_name(target):
    """The name the replaced database is kept under."""
    stamp = mf.utcnow().strftime('%Y%m%dT%H%M%S')
    name = '%s%s%s' % (target, ASIDE_INFIX, stamp)
    return name if len(name) <= _NAME_MAX else '%s%s%s' % (target[:_NAME_MAX - len(ASIDE_INFIX) - len(stamp)], ASIDE_INFIX, stamp)


class Restorer:
    """Restore operations over an autocommit maintenance connection (to a database other than the target)."""

    def __init__(self, conn, params, pg_bin_dir=None, jobs=2, warnings=None, commands=None):
        self.conn = conn
        self.params = params
        self.pg_bin_dir = pg_bin_dir
        self.jobs = jobs
        self.warnings = warnings if warnings is not None else []
        self.commands = commands if commands is not None else []

    # -- catalog helpers -----------------------------------------------------

    def _one(self, query, args=None):
        with self.conn.cursor() as cur:
            cur.execute(query, args)
            row = cur.fetchone()
        return row

    def _all(self, query, args=None):
        with self.conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall()

    def execute(self, query, args=None):
        with self.conn.cursor() as cur:
            cur.execute(query, args)

    def database_exists(self, name):
        """Whether database ``name`` exists."""
        return self._one('SELECT 1 FROM pg_database WHERE datname = %s', (name,)) is not None

    def accepts_connections(self, name):
        """Whether database ``name`` accepts connections (``datallowconn``)."""
        return bool(self._one('SELECT datallowconn FROM pg_database WHERE datname = %s', (name,))[0])

    def user_objects(self, name):
        """What database ``name`` holds beyond what CREATE DATABASE gives it: kind -> count (connects to it).

        Every object a user creates gets an OID of at least 16384 (FirstNormalObjectId);
        a database cloned from template0 has none. Temporary schemas are not objects.
        """
        conn = self._connect_to(name)
        try:
            with conn.cursor() as cur:
                cur.execute(_USER_OBJECTS_SQL)
                return {kind: count for kind, count in cur.fetchall() if count}
        finally:
            conn.close()

    def sessions(self, name):
        """Other sessions connected to database ``name``."""
        return self._one('SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()', (name,))[0]

    def _connect_to(self, database):
        params = dict(self.params)
        params['login_db'] = database
        conn, dummy = connect(params)
        return conn

    # -- scratch databases ---------------------------------------------------

    def create_scratch(self, source_database):
        """Create an empty scratch database from template0, marked so a later run can clean it up.

        This run holds a session advisory lock named after the scratch database on
        its maintenance connection until it ends: the server releases it when the
        run dies, however it dies, which is how a later run tells a killed run's
        leftover from a live run's work in progress.
        """
        name = scratch_name(source_database)
        self.execute('SELECT pg_advisory_lock(hashtext(%s))', (name,))
        self.execute(sql.SQL('CREATE DATABASE {} TEMPLATE template0').format(sql.Identifier(name)))
        mark = json.dumps({'mark': SCRATCH_MARK, 'source': source_database, 'created': mf.isoformat(mf.utcnow())})
        self.execute(sql.SQL('COMMENT ON DATABASE {} IS {}').format(sql.Identifier(name), sql.Literal(mark)))
        return name

    def drop_database(self, name, force=False):
        """DROP DATABASE, terminating its sessions first when ``force``."""
        query = 'DROP DATABASE IF EXISTS {} WITH (FORCE)' if force else 'DROP DATABASE IF EXISTS {}'
        self.execute(sql.SQL(query).format(sql.Identifier(name)))

    def stale_scratch_databases(self, source_database):
        """Scratch databases of ``source_database`` left by killed runs: ours by name and mark, and no live run's.

        A live run holds the scratch database's advisory lock; a killed run's lock
        was released with its connection. Sessions of a killed run may linger on
        the server (an index build does not notice its client is gone), so these
        databases are dropped WITH (FORCE).
        """
        rows = self._all("SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database d WHERE d.datname LIKE %s",
                         (SCRATCH_PREFIX.replace('_', '\\_') + '%',))
        stale = []
        for name, comment in rows:
            try:
                mark = json.loads(comment or '{}')
            except ValueError:
                continue
            if mark.get('mark') != SCRATCH_MARK or mark.get('source') != source_database:
                continue
            if self._one('SELECT pg_try_advisory_lock(hashtext(%s))', (name,))[0]:
                self.execute('SELECT pg_advisory_unlock(hashtext(%s))', (name,))
                stale.append(name)
        return stale

    # -- restore and validation ----------------------------------------------

    def pg_restore(self, raw_path, database):
        """``pg_restore -j N --exit-on-error`` of a seekable custom-format file into ``database``."""
        program = pgtools.find_program('pg_restore', self.pg_bin_dir)
        argv = [program, '--no-password', '--exit-on-error', '--jobs=%d' % self.jobs, '--dbname=%s' % database]
        if self.params.get('no_owner'):
            argv += ['--no-owner', '--no-privileges']
        argv.append(raw_path)
        self.commands.append(pgtools.display_command(argv))
        env = libpq_environment(self.params)
        env['PGDATABASE'] = database
        env['PGOPTIONS'] = ' '.join(part for part in (env.get('PGOPTIONS', ''), RESTORE_SESSION) if part)
        started = time.monotonic()
        stderr = pgtools.Tool(argv, env).wait('pg_restore into %s' % database)
        if stderr:
            self.warnings.append('pg_restore: %s' % stderr)
        return time.monotonic() - started

    def restore_globals(self, globals_path):
        """Replay a globals dump with psql; roles that already exist are reported, other errors fail."""
        program = pgtools.find_program('psql', self.pg_bin_dir)
        argv = [program, '--no-password', '--no-psqlrc', '--quiet', '--dbname=postgres', '--file=%s' % globals_path]
        self.commands.append(pgtools.display_command(argv))
        tool = pgtools.Tool(argv, libpq_environment(self.params))
        stderr = tool.wait('psql replaying %s' % globals_path)
        errors = [line for line in stderr.splitlines() if 'ERROR:' in line]
        unexpected = [line for line in errors if 'already exists' not in line]
        if unexpected:
            raise BackupToolError('replaying the globals dump failed: %s' % '; '.join(unexpected[:5]))
        return len(errors)

    def analyze(self, database):
        """ANALYZE the restored database in parallel (vacuumdb --analyze-only -j N)."""
        program = pgtools.find_program('vacuumdb', self.pg_bin_dir)
        argv = [program, '--no-password', '--analyze-only', '--quiet', '--jobs=%d' % self.jobs, '--dbname=%s' % database]
        self.commands.append(pgtools.display_command(argv))
        env = libpq_environment(self.params)
        started = time.monotonic()
        pgtools.Tool(argv, env).wait('ANALYZE of %s' % database)
        return time.monotonic() - started

    def compare_row_counts(self, database, expected):
        """Count every table of the manifest in ``database`` (``jobs`` connections) and compare.

        Returns ``(mismatches, seconds)``; a mismatch is ``{table, expected, found}``.
        """
        started = time.monotonic()
        tables = sorted(expected)

        def count(batch):
            conn = self._connect_to(database)
            found = {}
            try:
                with conn.cursor() as cur:
                    for key in batch:
                        schema, name = key.split('.', 1)
                        try:
                            cur.execute(sql.SQL('SELECT count(*) FROM {}.{}').format(sql.Identifier(schema), sql.Identifier(name)))
                            found[key] = cur.fetchone()[0]
                        except psycopg2.Error as exc:
                            found[key] = 'error: %s' % (exc.pgerror or exc).strip()
            finally:
                conn.close()
            return found

        batches = [tables[i::self.jobs] for i in range(self.jobs)]
        found = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for part in pool.map(count, [b for b in batches if b]):
                found.update(part)
        mismatches = [{'table': key, 'expected': expected[key], 'found': found.get(key)}
                      for key in tables if expected[key] is not None and found.get(key) != expected[key]]
        return mismatches, time.monotonic() - started

    # -- swap -----------------------------------------------------------------

    def database_properties(self, name):
        """What a database carries that a dump does not: owner, grants, settings, limit, comment."""
        row = self._one("SELECT d.oid, pg_get_userbyid(d.datdba), d.datconnlimit, shobj_description(d.oid, 'pg_database'), d.datacl IS NULL "
                        "FROM pg_database d WHERE d.datname = %s", (name,))
        oid, owner, connlimit, comment, default_acl = row
        grants = self._all("SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable "
                           "FROM pg_database d, aclexplode(d.datacl) a WHERE d.oid = %s ORDER BY 1 NULLS FIRST, 2", (oid,))
        settings = self._all("SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END, unnest(s.setconfig) "
                             "FROM pg_db_role_setting s WHERE s.setdatabase = %s ORDER BY 1 NULLS FIRST", (oid,))
        return {'owner': owner, 'connection_limit': connlimit, 'comment': comment, 'default_acl': default_acl,
                'grants': [list(g) for g in grants], 'settings': [list(s) for s in settings]}

    @staticmethod
    def carry_over_statements(properties, database):
        """The statements that give ``database`` the owner, grants, settings, connection limit and comment in ``properties``."""
        ident = sql.Identifier(database)
        statements = [sql.SQL('ALTER DATABASE {} OWNER TO {}').format(ident, sql.Identifier(properties['owner'])),
                      sql.SQL('ALTER DATABASE {} CONNECTION LIMIT {}').format(ident, sql.Literal(properties['connection_limit']))]
        if not properties['default_acl']:
            statements.append(sql.SQL('REVOKE ALL ON DATABASE {} FROM PUBLIC').format(ident))
            for grantee, privilege, grantable in properties['grants']:
                statements.append(sql.SQL('GRANT {} ON DATABASE {} TO {}{}').format(
                    sql.SQL(privilege), ident, sql.Identifier(grantee) if grantee else sql.SQL('PUBLIC'),
                    sql.SQL(' WITH GRANT OPTION') if grantable else sql.SQL('')))
        for role, setting in properties['settings']:
            name, dummy, value = setting.partition('=')
            if role:
                statements.append(sql.SQL('ALTER ROLE {} IN DATABASE {} SET {} = {}').format(
                    sql.Identifier(role), ident, sql.Identifier(name), sql.Literal(value)))
            else:
                statements.append(sql.SQL('ALTER DATABASE {} SET {} = {}').format(ident, sql.Identifier(name), sql.Literal(value)))
        if properties['comment'] is not None:
            statements.append(sql.SQL('COMMENT ON DATABASE {} IS {}').format(ident, sql.Literal(properties['comment'])))
        else:
            statements.append(sql.SQL('COMMENT ON DATABASE {} IS NULL').format(ident))
        return statements

    def in_one_transaction(self, statements, log=True):
        """Run ``statements`` in one transaction on the maintenance connection: all of them happen, or none."""
        self.conn.autocommit = False
        try:
            with self.conn.cursor() as cur:
                for statement in statements:
                    if log:
                        self.commands.append(statement.as_string(self.conn))
                    cur.execute(statement)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        finally:
            self.conn.autocommit = True

    def rename_into_place(self, scratch, target):
        """A new target: the scratch database takes its name, and loses its scratch mark, in one transaction."""
        self.in_one_transaction([sql.SQL('ALTER DATABASE {} RENAME TO {}').format(sql.Identifier(scratch), sql.Identifier(target)),
                                 sql.SQL('COMMENT ON DATABASE {} IS NULL').format(sql.Identifier(target))])

    def swap(self, scratch, target, terminate, properties, deadline_seconds=SWAP_SECONDS):
        """Put ``scratch`` in ``target``'s place in one transaction, with ``properties`` carried over; return the aside name.

        The target is never closed to connections: a closed database outlives a
        killed run, and the next run could not even look into it. Instead the
        carry-over and both renames happen in one transaction, which PostgreSQL
        refuses while anyone else is connected to either database; a run killed
        at any moment leaves it uncommitted, so the server rolls it back: the
        target is untouched and open, and the scratch database keeps the mark by
        which the next run finds and drops it. Sessions on the target fail the
        swap unless ``terminate`` is true; then they are terminated right before
        each attempt, and the attempt is repeated (a client may reconnect in
        between) until ``deadline_seconds`` have passed.
        """
        aside = aside_name(target)
        statements = self.carry_over_statements(properties, scratch) + [
            sql.SQL('ALTER DATABASE {} RENAME TO {}').format(sql.Identifier(target), sql.Identifier(aside)),
            sql.SQL('ALTER DATABASE {} RENAME TO {}').format(sql.Identifier(scratch), sql.Identifier(target))]
        deadline = time.monotonic() + deadline_seconds
        attempts = 0
        while True:
            remaining = self.sessions(target)
            if remaining and not terminate:
                raise BackupInputError('%d sessions are connected to %s: stop the applications or set terminate_connections=true' % (remaining, target))
            if remaining:
                self.execute('SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()',
                             (target,))
            attempts += 1
            try:
                self.in_one_transaction(statements, log=attempts == 1)
                return aside
            except psycopg2.errors.ObjectInUse as exc:
                # someone (re)connected to one of the two databases in between: nothing was changed
                if time.monotonic() >= deadline:
                    last = (exc.pgerror or str(exc)).strip()
                    raise BackupToolError('the swap of %s found sessions on %s or %s for %d s (%d attempts; last: %s); nothing was '
                                          'changed: stop the applications and run again'
                                          % (target, target, scratch, deadline_seconds, attempts, last)) from None
                time.sleep(0.2)

    def aside_databases(self, target):
        """Databases kept aside by earlier swaps of ``target``."""
        pattern = '^' + re.escape(target) + re.escape(ASIDE_INFIX) + r'\d{8}T\d{6}$'
        return [row[0] for row in self._all('SELECT datname FROM pg_database WHERE datname ~ %s ORDER BY 1', (pattern,))]


def restore_and_validate(restorer, raw_path, manifest, scratch, analyze=True):
    """Restore a decompressed backup into ``scratch``, analyze, compare row counts; raise on mismatch.

    Returns a dict of timings and the validation result.
    """
    figures = {'restore_seconds': round(restorer.pg_restore(raw_path, scratch), 3)}
    if analyze:
        figures['analyze_seconds'] = round(restorer.analyze(scratch), 3)
    mismatches, seconds = restorer.compare_row_counts(scratch, manifest.row_counts or {})
    figures['count_seconds'] = round(seconds, 3)
    figures['validation'] = {'tables': len(manifest.row_counts or {}), 'mismatches': mismatches, 'status': 'ok' if not mismatches else 'critical'}
    if mismatches:
        raise BackupIntegrityError('the restored database does not match the manifest: %s' % ', '.join(
            '%s has %s rows, expected %s' % (m['table'], m['found'], m['expected']) for m in mismatches[:5]))
    return figures


class RestoreRun:
    """The whole pg_restore module: verify, restore to scratch, validate, create or swap."""

    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.warnings = []
        self.commands = []
        # set once the target has been replaced: from then on a failure is not "nothing changed"
        self.target_changed = False

    def _maintenance_params(self):
        params = dict(self.params)
        params['login_db'] = self.params.get('login_db') or 'postgres'
        return params

    def run(self):
        """Restore (state=restored) or drop kept-aside databases (state=aside_dropped)."""
        params = self._maintenance_params()
        conn, dummy = connect(params)
        try:
            restorer = Restorer(conn, params, self.params.get('pg_bin_dir'), self.params['jobs'], self.warnings, self.commands)
            if self.params['state'] == 'aside_dropped':
                return self._drop_aside(restorer)
            return self._restore(restorer)
        except psycopg2.Error as exc:
            raise BackupToolError('query failed: %s' % (exc.pgerror or str(exc)).strip()) from None
        finally:
            conn.close()

    def _drop_aside(self, restorer):
        target = self.params['target_database']
        if not target:
            raise BackupInputError('target_database is required with state=aside_dropped')
        aside = restorer.aside_databases(target)
        if not self.check_mode:
            for name in aside:
                restorer.drop_database(name)
        return {'changed': bool(aside), 'dropped': aside, 'target_database': target,
                'msg': '%s %d databases kept aside from earlier restores of %s' % ('would drop' if self.check_mode else 'dropped', len(aside), target)}

    def _restore(self, restorer):
        started = time.monotonic()
        path, manifest = resolve_backup(self.params.get('path'), self.params.get('backup_dir'), self.params.get('database'), self.warnings)
        target = self.params.get('target_database') or manifest.database
        if restorer.params['login_db'] == target:
            raise BackupInputError('login_db is %s, the database this restore replaces: the swap renames it and cannot while this '
                                   'run is connected to it; set login_db to another database (postgres, the default)' % target)
        pg_restore = pgtools.find_program('pg_restore', self.params.get('pg_bin_dir'))
        restore_major, dummy, restore_version = pgtools.program_version(pg_restore)
        dump_major = pgtools.major_version(manifest.pg_dump_version)
        if dump_major is None:
            raise BackupInputError('the manifest of %s does not say which pg_dump made it' % path)
        if restore_major < dump_major:
            raise BackupToolError('%s is version %d but the backup was made by pg_dump %d: install postgresql-client-%d or set pg_bin_dir'
                                  % (pg_restore, restore_major, dump_major, dump_major))
        exists = restorer.database_exists(target)
        objects = {}
        if exists and not restorer.accepts_connections(target):
            # it cannot be looked into; an interrupted swap of an earlier version of this module left databases so
            if not self.params['swap']:
                raise BackupInputError('database %s exists and does not accept connections (ALLOW_CONNECTIONS false), so what it holds '
                                       'cannot be checked: open it with ALTER DATABASE %s ALLOW_CONNECTIONS true, or set swap=true to '
                                       'restore beside it and keep it aside' % (target, target))
            self.warnings.append('database %s did not accept connections (ALLOW_CONNECTIONS false, as an interrupted swap leaves it); '
                                 'the restored database accepts them, and the old one is kept aside as it was' % target)
            objects = {'objects that could not be counted (the database does not accept connections)': 1}
        elif exists:
            objects = restorer.user_objects(target)
        if exists and objects and not self.params['swap']:
            raise BackupInputError('database %s exists and holds %s: restoring into it is refused; set swap=true to restore into a '
                                   'scratch database and swap it in (the current one is kept aside)' % (target, describe_objects(objects)))
        if objects and manifest.database != target and not self.params.get('allow_other_database'):
            raise BackupInputError('the backup %s is of database %s, not %s: replacing %s with another database\'s backup is refused; '
                                   'set allow_other_database=true if that is what you mean' % (path, manifest.database, target, target))
        backup_tables = len([k for k in manifest.row_counts if k not in set(manifest.materialized_views)])
        if objects.get('tables', 0) >= 4 and backup_tables < objects['tables'] / 2:
            self.warnings.append('the backup holds %d tables, the database %s it replaces holds %d: check it is the right backup '
                                 '(the current database is kept aside)' % (backup_tables, target, objects['tables']))
        action = 'swap' if exists and objects else ('replace_empty' if exists else 'create')
        result = {'changed': True, 'backup_path': path, 'backup_started_at': manifest.started_at, 'target_database': target,
                  'action': action, 'pg_restore_version': restore_version, 'manifest_sha256': manifest.sha256}
        if self.check_mode:
            result['msg'] = '%s: would verify %s, restore it into a scratch database and %s %s' % (
                target, path, {'create': 'rename it to', 'swap': 'swap it with', 'replace_empty': 'swap it with the empty'}[action], target)
            result['warnings'] = self.warnings
            return result

        stale = restorer.stale_scratch_databases(manifest.database)
        for name in stale:
            restorer.drop_database(name, force=True)
        result['dropped_stale_scratch_databases'] = stale

        temp_dir = self.params.get('temp_dir') or os.path.dirname(os.path.abspath(path))
        result['removed_stale_temp_files'] = remove_stale_copies(temp_dir, manifest.database)
        raw_copy, verify_seconds = decompress_verified(path, manifest, temp_dir)
        raw = raw_copy.path
        result['verify_seconds'] = round(verify_seconds, 3)
        scratch = None
        try:
            if self.params.get('globals'):
                globals_file = path + mf.GLOBALS_SUFFIX
                if not os.path.exists(globals_file):
                    raise BackupInputError('globals=true but the backup has no globals dump (%s)' % globals_file)
                result['globals_existing_errors'] = restorer.restore_globals(globals_file)
            scratch = restorer.create_scratch(manifest.database)
            result.update(restore_and_validate(restorer, raw, manifest, scratch))
            swap_started = time.monotonic()
            if action == 'create':
                restorer.rename_into_place(scratch, target)
                self.target_changed = True
                result['aside_database'] = None
            else:
                result['aside_database'] = restorer.swap(scratch, target, self.params['terminate_connections'],
                                                         restorer.database_properties(target))
                self.target_changed = True
                if action == 'replace_empty':
                    # empty when it was checked; dropped only if it still is (someone may have created something since)
                    late = restorer.user_objects(result['aside_database'])
                    if late:
                        self.warnings.append('%s held nothing when the restore began but holds %s now: it is kept aside as %s'
                                             % (target, describe_objects(late), result['aside_database']))
                    else:
                        restorer.drop_database(result['aside_database'])
                        result['aside_database'] = None
            scratch = None
            result['swap_seconds'] = round(time.monotonic() - swap_started, 3)
        finally:
            if scratch:
                restorer.drop_database(scratch, force=True)
            raw_copy.remove()
        result['duration_seconds'] = round(time.monotonic() - started, 3)
        result['data_age_seconds'] = round((mf.utcnow() - mf.parse_time(manifest.started_at)).total_seconds(), 0)
        result['warnings'] = self.warnings
        result['commands'] = self.commands
        result['msg'] = 'restored %s into %s (%s) in %.1f s, %d tables validated' % (
            os.path.basename(path), target, action, result['duration_seconds'], result['validation']['tables'])
        return result
