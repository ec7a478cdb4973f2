# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Database administration for restores: scratch databases, advisory locks, properties carried over, the swap, row counts.

Used by pg_restore and by pg_backup_verify's restore test, over an autocommit
maintenance connection to a database other than the target.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import secrets
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._backup import pgtools
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError, BackupIntegrityError, BackupToolError
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import IDENTIFIER_MAX_BYTES

if _deps.HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.errors
    from psycopg2 import sql

# the other sessions on a database, autovacuum workers left out (see DatabaseAdmin.sessions); %s is the select list
_OTHER_SESSIONS_SQL = ("SELECT %s FROM pg_stat_activity WHERE datname = %%s AND pid <> pg_backend_pid() "
                       "AND backend_type IS DISTINCT FROM 'autovacuum worker'")

SCRATCH_PREFIX = 'dsr_ops_scratch_'
ASIDE_INFIX = '_before_restore_'
SCRATCH_MARK = 'dsr.ops scratch database'
# pg_restore session tuning: a scratch database is rebuilt from scratch if the server crashes,
# and the swap's own synchronous commit flushes all earlier WAL before the new data is used.
RESTORE_SESSION = '-c maintenance_work_mem=512MB -c synchronous_commit=off'
# Measured and left out (benchmarks/restore_session_pairs.py, 2 cores, median of 3 pairs):
# max_parallel_maintenance_workers=0 saved about 1-2 server CPU-seconds but no wall time (13.7 -> 13.6 s
# at 1 GB, 44.2 -> 43.5 s at 3 GB), and would idle the spare cores of a bigger restore host.
# how long the swap may try to find the target without sessions (they are terminated again on every attempt)
SWAP_SECONDS = 30
# how long sessions found on the target may take to go before the swap refuses (without terminate_connections)
SESSION_SETTLE_SECONDS = 2

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


def scratch_name(source_database):
    """A unique scratch database name, recognisable as ours (and so cleanable)."""
    stamp = mf.utcnow().strftime('%Y%m%d%H%M%S')
    base = '%s%s_%s_%s' % (SCRATCH_PREFIX, source_database, stamp, secrets.token_hex(3))
    if len(base) > IDENTIFIER_MAX_BYTES:
        base = '%s%s_%s' % (SCRATCH_PREFIX, stamp, secrets.token_hex(6))
    return base


def aside_name(target):
    """The name the replaced database is kept under."""
    stamp = mf.utcnow().strftime('%Y%m%dT%H%M%S')
    name = '%s%s%s' % (target, ASIDE_INFIX, stamp)
    return name if len(name) <= IDENTIFIER_MAX_BYTES else '%s%s%s' % (target[:IDENTIFIER_MAX_BYTES - len(ASIDE_INFIX) - len(stamp)], ASIDE_INFIX, stamp)


class Restorer:
    """Restore operations over an autocommit maintenance connection (to a database other than the target).

    ``connector`` (a _postgres.connection.Connector) reaches the other databases
    and gives the child programs their environment; ``no_owner`` restores
    without the dump's owners and privileges (the restore test's scratch copy).
    """

    def __init__(self, conn, connector, pg_bin_dir=None, jobs=2, warnings=None, commands=None, no_owner=False):
        self.conn = conn
        self.connector = connector
        self.no_owner = no_owner
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
        """Other sessions connected to database ``name``.

        Autovacuum workers are not counted: they come and go on their own (a freshly restored database draws them), and
        the server cancels them itself for ALTER DATABASE ... RENAME and DROP DATABASE.
        """
        return self._one(_OTHER_SESSIONS_SQL % 'count(*)', (name,))[0]

    def _connect_to(self, database):
        conn, dummy = self.connector.connect(database)
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
        if self.no_owner:
            argv += ['--no-owner', '--no-privileges']
        argv.append(raw_path)
        self.commands.append(pgtools.display_command(argv))
        env = self.connector.environment(database)
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
        tool = pgtools.Tool(argv, self.connector.environment())
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
        env = self.connector.environment()
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
        statements = [sql.SQL('ALTER DATABASE {} CONNECTION LIMIT {}').format(ident, sql.Literal(properties['connection_limit']))]
        if properties['owner']:
            statements.insert(0, sql.SQL('ALTER DATABASE {} OWNER TO {}').format(ident, sql.Identifier(properties['owner'])))
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

    def rename_into_place(self, scratch, target, properties=None):
        """A new target: the scratch database takes its name and ``properties`` (or loses its scratch mark), in one transaction.

        When the login role may not give the database those properties (ALTER
        DATABASE ... OWNER TO needs membership in the new owner), the restored
        data is not thrown away for it: the rename happens alone, with a warning.
        """
        rename = sql.SQL('ALTER DATABASE {} RENAME TO {}').format(sql.Identifier(scratch), sql.Identifier(target))
        plain = [rename, sql.SQL('COMMENT ON DATABASE {} IS NULL').format(sql.Identifier(target))]
        if not properties:
            self.in_one_transaction(plain)
            return
        try:
            self.in_one_transaction([rename] + self.carry_over_statements(properties, target))
        except psycopg2.errors.InsufficientPrivilege as exc:
            self.warnings.append('%s was created without the source database\'s owner and grants: %s (the login role needs '
                                 'membership in %s, or be a superuser)' % (target, (exc.pgerror or str(exc)).strip(), properties['owner']))
            self.in_one_transaction(plain)

    def fit_to_server(self, properties):
        """``properties`` recorded elsewhere, less the roles this server does not have; returns (properties, warnings)."""
        roles = {row[0] for row in self._all('SELECT rolname FROM pg_roles')}
        warnings = []
        fitted = dict(properties)
        if properties['owner'] not in roles:
            warnings.append('the source database was owned by %s, which does not exist on this server: the restored database keeps its '
                            'owner (the restoring role); restore the globals (globals=true) first to keep it' % properties['owner'])
            fitted['owner'] = None
        fitted['grants'] = [g for g in properties['grants'] if g[0] is None or g[0] in roles]
        fitted['settings'] = [s for s in properties['settings'] if s[0] is None or s[0] in roles]
        missing = sorted({g[0] for g in properties['grants'] if g[0] not in roles and g[0] is not None}
                         | {s[0] for s in properties['settings'] if s[0] not in roles and s[0] is not None})
        if missing:
            warnings.append('grants and settings for roles this server does not have were left out: %s' % ', '.join(missing))
        return fitted, warnings

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
                # the backend of a session closed a moment ago (this run's own look into the target) exits asynchronously
                settle = time.monotonic() + SESSION_SETTLE_SECONDS
                while remaining and time.monotonic() < settle:
                    time.sleep(0.1)
                    remaining = self.sessions(target)
            if remaining and not terminate:
                raise BackupInputError('%d sessions are connected to %s: stop the applications or set terminate_connections=true' % (remaining, target))
            if remaining:
                self.execute(_OTHER_SESSIONS_SQL % 'count(pg_terminate_backend(pid))', (target,))
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
