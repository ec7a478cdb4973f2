# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A verified-by-construction PostgreSQL backup, behind dsr.ops.pg_backup.

The pipeline (chosen in docs/backup-format.md):

1. export a snapshot in a REPEATABLE READ transaction and count every table's
   rows in it while ``pg_dump --snapshot`` dumps the same snapshot;
2. ``pg_dump --format=custom --compress=0`` into a seekable temporary file, so
   the table of contents carries data offsets and ``pg_restore -j`` can work
   in parallel later;
3. stream that file through zstd (multi-threaded) into a temporary name while
   hashing the stored bytes, fsync, rename atomically, fsync the directory;
4. write the manifest last: a manifest always points at a complete file.

Every process's exit status and stderr are checked; nothing is ever left under
a final name by a failed or killed run.
"""

from __future__ import annotations

import os
import re
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._backup import codec, files, pgtools, retention
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError, BackupSpaceError, BackupToolError
from ansible_collections.dsr.ops.plugins.module_utils._backup.lock import DatabaseLock
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import libpq_environment, server_version_string

if _deps.HAS_PSYCOPG2:
    import psycopg2
    from psycopg2 import sql

CUSTOM_MAGIC = b'PGDMP'
# Raw dump plus stored copy, relative to the tables' on-disk size (heap + TOAST, no indexes).
SPACE_FACTOR = 1.6

# Tables whose rows pg_dump dumps: ordinary tables and materialized views outside the
# system schemas, and not members of an extension (pg_dump leaves those to CREATE EXTENSION).
_TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, c.relkind, c.relispopulated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""

_SIZE_SQL = """
SELECT pg_database_size(current_database())::bigint AS database_bytes,
       coalesce(sum(pg_table_size(c.oid)), 0)::bigint AS table_bytes
FROM pg_class c WHERE c.relkind IN ('r', 'm')
"""


def table_key(schema, name):
    """How a table is named in manifests: ``schema.table``."""
    return '%s.%s' % (schema, name)


def count_rows(cur):
    """Exact row counts of every dumped table, in the transaction's snapshot.

    Returns ``(counts, materialized views)``; an unpopulated materialized view counts None.
    """
    cur.execute(_TABLES_SQL)
    tables = cur.fetchall()
    counts = {}
    matviews = []
    for schema, name, relkind, populated in tables:
        key = table_key(schema, name)
        if relkind == 'm':
            matviews.append(key)
            if not populated:
                counts[key] = None
                continue
        cur.execute(sql.SQL('SELECT count(*) FROM {}.{}').format(sql.Identifier(schema), sql.Identifier(name)))
        counts[key] = cur.fetchone()[0]
    return counts, matviews


def clean_leftovers(directories, database):
    """Remove what killed runs of ``database`` left: temporary files, and files published without a manifest.

    We hold the database's lock, so no live run is writing any of them. A data
    file is renamed into place before its manifest is written; a run killed in
    between leaves a complete but unlisted file, which is removed here too.
    """
    pattern = re.compile(r'^%s_\d{8}T\d{6}Z\.dump' % re.escape(database))
    removed = []
    for directory in directories:
        if not os.path.isdir(directory):
            continue
        names = set(os.listdir(directory))
        for name in sorted(names):
            final = files.temp_final_name(name)
            orphan = (final is None and pattern.match(name) and not name.endswith((mf.MANIFEST_SUFFIX, mf.VERIFY_SUFFIX, mf.GLOBALS_SUFFIX))
                      and name + mf.MANIFEST_SUFFIX not in names)
            orphan_globals = final is None and pattern.match(name) and name.endswith(mf.GLOBALS_SUFFIX) and \
                name[:-len(mf.GLOBALS_SUFFIX)] + mf.MANIFEST_SUFFIX not in names
            if (final and pattern.match(final)) or orphan or orphan_globals:
                os.unlink(os.path.join(directory, name))
                removed.append(os.path.join(directory, name))
    return removed


class Backup:
    """Plan and run one backup. ``params`` holds the module's options."""

    def __init__(self, params, check_mode=False, now=mf.utcnow):
        self.params = params
        self.check_mode = check_mode
        self.now = now
        self.database = mf.check_database_name(params['database'])
        self.backup_dir = params['backup_dir']
        self.temp_dir = params.get('temp_dir') or self.backup_dir
        self.compression = params['compression']
        self.level = codec.validate_level(self.compression, params.get('compression_level'))
        self.threads = params.get('compression_threads') or codec.default_threads()
        self.warnings = []
        self.commands = []

    # -- helpers -------------------------------------------------------------

    def _connection_params(self):
        conn_params = dict(self.params)
        conn_params['login_db'] = self.database
        return conn_params

    def _dump_argv(self, pg_dump, snapshot, target):
        # --no-sync: the raw dump is a temporary file; what is kept (the compressed copy) is fsynced by us
        argv = [pg_dump, '--format=custom', '--compress=0', '--no-sync', '--no-password', '--snapshot=%s' % snapshot, '--file=%s' % target]
        if self.params.get('lock_wait_timeout'):
            argv.append('--lock-wait-timeout=%s' % self.params['lock_wait_timeout'])
        argv.append('--dbname=%s' % self.database)
        return argv

    def _globals_argv(self, pg_dumpall, target):
        argv = [pg_dumpall, '--globals-only', '--no-password', '--file=%s' % target]
        if not self.params.get('globals_role_passwords'):
            argv.append('--no-role-passwords')
        return argv

    def _check_space(self, cur):
        cur.execute(_SIZE_SQL)
        database_bytes, table_bytes = cur.fetchone()
        needed = int(table_bytes * SPACE_FACTOR)
        free = files.free_bytes(self.temp_dir)
        figures = {'database_bytes': database_bytes, 'table_bytes': table_bytes, 'needed_bytes': needed, 'free_bytes': free}
        if self.params.get('space_check', True) and free < needed:
            raise BackupSpaceError('not enough free space in %s: %d bytes free, about %d needed (%.1f x the %d bytes of table data: '
                                   'the uncompressed dump plus its compressed copy); free space, set temp_dir to a larger '
                                   'filesystem, or set space_check=false' % (self.temp_dir, free, needed, SPACE_FACTOR, table_bytes))
        return figures

    # -- the run -------------------------------------------------------------

    def prune(self):
        """Apply retention only (state=pruned): no connection, no dump."""
        if self.params.get('keep_last') is None and self.params.get('max_age') is None:
            raise BackupInputError('state=pruned needs keep_last and/or max_age')
        if self.check_mode:
            entries = mf.list_backups(self.backup_dir, self.database)
            delete, keep = retention.plan(entries, self.params.get('keep_last'), self.params.get('max_age'), self.now())
            outcome = {'deleted': [retention.describe(e, r) for e, r in delete], 'kept': [retention.describe(e, r) for e, r in keep]}
        else:
            with DatabaseLock(self.backup_dir, self.database, purpose='retention'):
                outcome = self._apply_retention()
        count = len(outcome['deleted'])
        return {'changed': bool(count), 'database': self.database, 'retention': outcome,
                'msg': '%s %d backups of %s, kept %d' % ('would delete' if self.check_mode else 'deleted', count, self.database, len(outcome['kept']))}

    def run(self, connect):
        """Back up the database; ``connect(params)`` returns (connection, seconds)."""
        if self.params.get('state') == 'pruned':
            return self.prune()
        started = self.now()
        basename = mf.backup_basename(self.database, started)
        final_path = os.path.join(self.backup_dir, codec.stored_name(basename, self.compression))
        result = {'changed': True, 'database': self.database, 'path': final_path,
                  'manifest_path': mf.manifest_path(final_path), 'compression': self.compression, 'format': 'custom'}

        for directory, option in ((self.backup_dir, 'backup_dir'), (self.temp_dir, 'temp_dir')):
            if os.path.exists(directory) and not os.path.isdir(directory):
                raise BackupInputError('%s %s exists and is not a directory' % (option, directory))
        created_dir = files.ensure_private_dir(self.backup_dir, self.check_mode)
        if not self.check_mode and self.temp_dir != self.backup_dir:
            files.ensure_private_dir(self.temp_dir)

        pg_dump = pgtools.find_program('pg_dump', self.params.get('pg_bin_dir'))
        dump_major, dummy, dump_version = pgtools.program_version(pg_dump)
        conn, dummy = connect(self._connection_params())
        try:
            server_version_num = conn.info.server_version
            pgtools.require_not_older(pg_dump, dump_major, server_version_num)
            with conn.cursor() as cur:
                if self.params.get('lock_wait_timeout'):
                    # our own size and row-count queries wait on table locks as pg_dump does: bound them alike
                    cur.execute('SELECT set_config(%s, %s, false)', ('lock_timeout', self.params['lock_wait_timeout']))
                space = self._check_space(cur)
            result.update(server_version=server_version_string(server_version_num), pg_dump_version=dump_version, space=space)

            plan_argv = self._dump_argv(pg_dump, '<exported snapshot>', os.path.join(self.temp_dir, '<temporary name>'))
            result['command'] = pgtools.display_command(plan_argv)
            result['retention'] = self._retention_plan()
            if self.check_mode:
                result['created_backup_dir'] = created_dir
                result['msg'] = 'would back up %s to %s' % (self.database, final_path)
                return result

            # every file this run creates, pg_dump's included, is private to its owner
            umask = os.umask(0o077)
            try:
                with DatabaseLock(self.backup_dir, self.database):
                    result['removed_stale_temp_files'] = clean_leftovers({self.backup_dir, self.temp_dir}, self.database)
                    result.update(self._dump(conn, pg_dump, dump_version, server_version_num, basename, final_path, started))
                    result['retention'] = self._apply_retention()
            finally:
                os.umask(umask)
        except psycopg2.Error as exc:
            raise BackupToolError('query on %s failed: %s' % (self.database, (exc.pgerror or str(exc)).strip())) from None
        finally:
            conn.close()
        result['warnings'] = self.warnings
        result['commands'] = self.commands
        result['msg'] = 'backed up %s to %s (%d bytes, %.1f s)' % (self.database, final_path, result['size_bytes'], result['duration_seconds'])
        return result

    def _dump(self, conn, pg_dump, dump_version, server_version_num, basename, final_path, started):
        env = libpq_environment(self._connection_params())
        raw_temp = files.temp_path(self.temp_dir, codec.stored_name(basename, 'none'))
        stored_temp = files.temp_path(self.backup_dir, os.path.basename(final_path))
        clock = time.monotonic()
        globals_path = None
        try:
            files.open_private(raw_temp).close()
            conn.autocommit = False
            with conn.cursor() as cur:
                cur.execute('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
                cur.execute('SELECT pg_export_snapshot()')
                snapshot = cur.fetchone()[0]
                argv = self._dump_argv(pg_dump, snapshot, raw_temp)
                self.commands.append(pgtools.display_command(argv))
                dump = pgtools.Tool(argv, env)
                try:
                    # counted in the same snapshot while pg_dump works
                    row_counts, matviews = count_rows(cur)
                except psycopg2.Error:
                    dump.kill()
                    raise
                stderr = dump.wait('pg_dump of %s' % self.database)
            conn.rollback()
            if stderr:
                self.warnings.append('pg_dump: %s' % stderr)
            dumped_at = time.monotonic()
            raw_size = self._check_raw_dump(raw_temp)

            with open(raw_temp, 'rb') as source, files.open_private(stored_temp) as target:
                raw_read, stored_size, sha256 = codec.compress_stream(source, target, self.compression, self.level, self.threads)
            if raw_read != raw_size:
                raise BackupToolError('the dump changed while it was compressed (%d bytes, then %d)' % (raw_size, raw_read))
            try:
                files.publish(stored_temp, final_path, overwrite=False)
            except FileExistsError:
                raise BackupInputError('a backup named %s already exists (names carry the second the backup started): '
                                       'run again in a moment' % final_path) from None
            os.unlink(raw_temp)
            stored_at = time.monotonic()

            if self.params.get('globals'):
                globals_path = self._dump_globals(env, final_path)

            finished = self.now()
            data = {
                'manifest_version': mf.MANIFEST_VERSION,
                'database': self.database,
                'file': os.path.basename(final_path),
                'format': 'custom',
                'compression': self.compression,
                'compression_level': self.level,
                'server_version': server_version_string(server_version_num),
                'server_version_num': server_version_num,
                'pg_dump_version': dump_version,
                'started_at': mf.isoformat(started),
                'finished_at': mf.isoformat(finished),
                'duration_seconds': round(stored_at - clock, 3),
                'raw_size_bytes': raw_size,
                'stored_size_bytes': stored_size,
                'sha256': sha256,
                'snapshot': snapshot,
                'row_counts': row_counts,
                'materialized_views': matviews,
                'globals': globals_path and {'file': os.path.basename(globals_path), 'sha256': files.sha256_file(globals_path)[0]},
            }
            files.write_json_atomic(mf.manifest_path(final_path), data)
        finally:
            for leftover in (raw_temp, stored_temp):
                if os.path.exists(leftover):
                    os.unlink(leftover)
        return {
            'sha256': sha256,
            'size_bytes': stored_size,
            'raw_size_bytes': raw_size,
            'duration_seconds': round(time.monotonic() - clock, 3),
            'dump_seconds': round(dumped_at - clock, 3),
            'compress_seconds': round(stored_at - dumped_at, 3),
            'tables': len(row_counts),
            'rows': sum(n for n in row_counts.values() if n),
            'globals_path': globals_path,
            'started_at': data['started_at'],
        }

    @staticmethod
    def _check_raw_dump(path):
        size = os.path.getsize(path)
        with open(path, 'rb') as handle:
            magic = handle.read(len(CUSTOM_MAGIC))
        if size == 0 or magic != CUSTOM_MAGIC:
            raise BackupToolError('pg_dump exited 0 but wrote %s: refusing to store it'
                                  % ('nothing' if size == 0 else 'something that is not a custom-format archive'))
        return size

    def _dump_globals(self, env, final_path):
        pg_dumpall = pgtools.find_program('pg_dumpall', self.params.get('pg_bin_dir'))
        target = final_path + mf.GLOBALS_SUFFIX
        temp = files.temp_path(self.backup_dir, os.path.basename(target))
        argv = self._globals_argv(pg_dumpall, temp)
        self.commands.append(pgtools.display_command(argv))
        try:
            # pg_dumpall creates its output file with the umask: make it 0600 first
            files.open_private(temp).close()
            stderr = pgtools.Tool(argv, env).wait('pg_dumpall --globals-only')
            if stderr:
                self.warnings.append('pg_dumpall: %s' % stderr)
            if os.path.getsize(temp) == 0:
                raise BackupToolError('pg_dumpall --globals-only exited 0 but wrote nothing')
            files.publish(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
        return target

    # -- retention -----------------------------------------------------------

    def _retention_plan(self):
        """What retention would delete after this run (the new backup counted as the newest)."""
        entries = mf.list_backups(self.backup_dir, self.database)
        upcoming = {'path': None, 'manifest': {'sha256': None}, 'started_at': self.now(), 'verification': None}
        delete, dummy = retention.plan([upcoming] + entries, self.params.get('keep_last'), self.params.get('max_age'), self.now())
        return {'deleted': [retention.describe(e, r) for e, r in delete], 'kept': []}

    def _apply_retention(self):
        keep_last, max_age = self.params.get('keep_last'), self.params.get('max_age')
        entries = mf.list_backups(self.backup_dir, self.database)
        delete, keep = retention.plan(entries, keep_last, max_age, self.now())
        deleted = []
        for entry, reason in delete:
            retention.delete_backup(entry)
            deleted.append(retention.describe(entry, reason))
        return {'deleted': deleted, 'kept': [retention.describe(e, r) for e, r in keep]}
