# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A verified-by-construction PostgreSQL backup, behind dsr.ops.pg_backup.

The pipeline (chosen in docs/backup.md, section Format, from the spike in docs/backup-format-spike.md):

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
import stat
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._backup import codec, files, pgtools, retention
from ansible_collections.dsr.ops.plugins.module_utils._backup.admin import Restorer
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError, BackupSpaceError, BackupToolError
from ansible_collections.dsr.ops.plugins.module_utils._backup.lock import DatabaseLock
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import server_version_string

if _deps.HAS_PSYCOPG2:
    import psycopg2
    from psycopg2 import sql

CUSTOM_MAGIC = b'PGDMP'
# Raw dump plus stored copy, relative to the tables' on-disk size (heap + TOAST, no indexes).
SPACE_FACTOR = 1.6
# of which the raw dump (in temp_dir); the rest is the stored copy (in backup_dir)
RAW_FACTOR = 1.0

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


def clean_leftovers(directories, database, warnings=None):
    """Remove what killed runs of ``database`` left: temporary files, and a file published without a manifest.

    A temporary file is removed only when no live run holds it (see
    files.remove_stale_temp_files): a restore's decompressed copy in the same
    directory is safe while the restore runs. A data file is renamed into place
    before its manifest is written; a run killed in between leaves a complete
    but unlisted file. Only such a file newer than every complete backup is
    removed (it can only be the last run's); an older file without a manifest
    may be a backup whose manifest was lost, and is left with a warning.
    """
    pattern = mf.stored_name_re(database)
    # what a backup's temporary files are named after: the dump, its stored copy and side files, a restore's raw copy
    temp_re = re.compile(r'^%s_\d{8}T\d{6}Z\.dump' % re.escape(database))
    removed = []
    for directory in directories:
        removed += files.remove_stale_temp_files(directory, temp_re.match)
    for directory in directories:
        if not os.path.isdir(directory):
            continue
        names = set(os.listdir(directory))
        complete = [pattern.match(n[:-len(mf.MANIFEST_SUFFIX)]).group(1) for n in names if mf.is_manifest_name(n, database)]
        newest = max(complete, default='')
        for name in sorted(names):
            match = pattern.match(name)
            if match and name + mf.MANIFEST_SUFFIX not in names:
                data, side = name, ()
            elif name.endswith(mf.GLOBALS_SUFFIX) and pattern.match(name[:-len(mf.GLOBALS_SUFFIX)]) and \
                    name[:-len(mf.GLOBALS_SUFFIX)] + mf.MANIFEST_SUFFIX not in names:
                data, side = name[:-len(mf.GLOBALS_SUFFIX)], (name,)
                match = pattern.match(data)
            else:
                continue
            path = os.path.join(directory, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            if match.group(1) > newest:
                os.unlink(path)
                removed.append(path)
            elif warnings is not None and not side:
                warnings.append('%s has no manifest and is older than the newest complete backup: it was left alone (a backup '
                                'whose manifest was lost?); move it away or restore its manifest' % path)
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
        # the module checked the level (codec.validate_level); unset means the compression's default
        level = params.get('compression_level')
        self.level = codec.DEFAULT_LEVELS[self.compression] if level is None else level
        self.threads = params.get('compression_threads') or codec.default_threads()
        self.warnings = []
        self.commands = []

    # -- helpers -------------------------------------------------------------

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
        """Free space for the raw dump (in temp_dir) and the stored copy (in backup_dir), on one filesystem or two."""
        cur.execute(_SIZE_SQL)
        database_bytes, table_bytes = cur.fetchone()
        needed = int(table_bytes * SPACE_FACTOR)
        free = files.free_bytes(self.temp_dir)
        figures = {'database_bytes': database_bytes, 'table_bytes': table_bytes, 'needed_bytes': needed, 'free_bytes': free}
        if not self.params.get('space_check', True):
            return figures
        if files.filesystem_id(self.temp_dir) == files.filesystem_id(self.backup_dir):
            demands = [(self.temp_dir, free, needed, 'the uncompressed dump plus its compressed copy', SPACE_FACTOR)]
        else:
            raw_needed = int(table_bytes * RAW_FACTOR)
            stored_needed = needed - raw_needed
            stored_free = files.free_bytes(self.backup_dir)
            figures.update(needed_bytes=raw_needed, backup_dir_needed_bytes=stored_needed, backup_dir_free_bytes=stored_free)
            demands = [(self.temp_dir, free, raw_needed, 'the uncompressed dump', RAW_FACTOR),
                       (self.backup_dir, stored_free, stored_needed, 'the compressed copy', SPACE_FACTOR - RAW_FACTOR)]
        for where, available, wanted, what, factor in demands:
            if available < wanted:
                raise BackupSpaceError('not enough free space in %s: %d bytes free, about %d needed (%.1f x the %d bytes of table data: '
                                       '%s); free space, set temp_dir to a larger filesystem, or set space_check=false'
                                       % (where, available, wanted, factor, table_bytes, what))
        return figures

    # -- the run -------------------------------------------------------------

    def prune(self):
        """Apply retention only (state=pruned): no connection, no dump."""
        if self.params.get('keep_last') is None and self.params.get('max_age') is None:
            raise BackupInputError('state=pruned needs keep_last and/or max_age')
        if not os.path.isdir(self.backup_dir):
            raise BackupInputError('backup_dir %s %s: there is nothing to prune; check the path'
                                   % (self.backup_dir, 'is not a directory' if os.path.exists(self.backup_dir) else 'does not exist'))
        if self.check_mode:
            outcome = self._retention(apply=False)
        else:
            with DatabaseLock(self.backup_dir, self.database, purpose='retention'):
                outcome = self._retention(apply=True)
        count = len(outcome['deleted'])
        return {'changed': bool(count), 'database': self.database, 'retention': outcome, 'warnings': self.warnings,
                'msg': '%s %d backups of %s, kept %d' % ('would delete' if self.check_mode else 'deleted', count, self.database, len(outcome['kept']))}

    def run(self, connector):
        """Back up the database, reached through ``connector`` (a _postgres.connection.Connector)."""
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
        self.connector = connector
        conn, dummy = connector.connect(self.database)
        try:
            server_version_num = conn.info.server_version
            pgtools.require_not_older(pg_dump, dump_major, server_version_num)
            with conn.cursor() as cur:
                if self.params.get('lock_wait_timeout'):
                    # our own size and row-count queries wait on table locks as pg_dump does: bound them alike
                    cur.execute('SELECT set_config(%s, %s, false)', ('lock_timeout', self.params['lock_wait_timeout']))
                space = self._check_space(cur)
            # what a dump does not carry: a restore into a new database gives it the same owner, grants and settings
            properties = Restorer(conn, connector).database_properties(self.database)
            result.update(server_version=server_version_string(server_version_num), pg_dump_version=dump_version, space=space)

            plan_argv = self._dump_argv(pg_dump, '<exported snapshot>', os.path.join(self.temp_dir, '<temporary name>'))
            result['command'] = pgtools.display_command(plan_argv)
            result['retention'] = self._retention_plan(final_path)
            if self.check_mode:
                result['created_backup_dir'] = created_dir
                result['msg'] = 'would back up %s to %s' % (self.database, final_path)
                # what retention would leave alone, and why, is worth a warning in the plan too
                result['warnings'] = self.warnings
                return result

            # every file this run creates, pg_dump's included, is private to its owner
            umask = os.umask(0o077)
            try:
                with DatabaseLock(self.backup_dir, self.database):
                    result['removed_stale_temp_files'] = clean_leftovers({self.backup_dir, self.temp_dir}, self.database, self.warnings)
                    result.update(self._dump(conn, pg_dump, dump_version, server_version_num, basename, final_path, started, properties))
                    result['retention'] = self._retention(apply=True, protect=final_path)
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

    def _dump(self, conn, pg_dump, dump_version, server_version_num, basename, final_path, started, properties):
        env = self.connector.environment(self.database)
        # both held by this run's flock while it lives: another run never takes them for a killed run's leftovers
        raw = files.TempFile(self.temp_dir, codec.stored_name(basename, 'none'))
        stored = None
        raw_temp = raw.path
        clock = time.monotonic()
        globals_path = None
        try:
            stored = files.TempFile(self.backup_dir, os.path.basename(final_path))
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

            with files.naming(stored.path), open(raw_temp, 'rb') as source, stored.writer() as target:
                raw_read, stored_size, sha256 = codec.compress_stream(source, target, self.compression, self.level, self.threads)
            if raw_read != raw_size:
                raise BackupToolError('the dump changed while it was compressed (%d bytes, then %d)' % (raw_size, raw_read))
            try:
                stored.publish(final_path, overwrite=False)
            except FileExistsError:
                raise BackupInputError('a backup named %s already exists (names carry the second the backup started): '
                                       'run again in a moment' % final_path) from None
            raw.remove()
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
                'database_properties': properties,
            }
            files.write_json_atomic(mf.manifest_path(final_path), data)
        finally:
            for leftover in (raw, stored):
                if leftover is not None:
                    leftover.remove()
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
        # created 0600 before pg_dumpall writes into it (it would use the umask)
        with files.TempFile(self.backup_dir, os.path.basename(target)) as temp:
            argv = self._globals_argv(pg_dumpall, temp.path)
            self.commands.append(pgtools.display_command(argv))
            stderr = pgtools.Tool(argv, env).wait('pg_dumpall --globals-only')
            if stderr:
                self.warnings.append('pg_dumpall: %s' % stderr)
            if os.path.getsize(temp.path) == 0:
                raise BackupToolError('pg_dumpall --globals-only exited 0 but wrote nothing')
            temp.publish(target)
        return target

    # -- retention -----------------------------------------------------------

    def _retention_plan(self, final_path):
        """What retention would delete after this run (the new backup counted as the newest)."""
        entries, malformed = mf.scan(self.backup_dir, self.database)
        upcoming = {'path': final_path, 'manifest': None, 'started_at': self.now(), 'verification': None, 'problem': None}
        delete, dummy, notes = retention.plan([upcoming] + entries, self.params.get('keep_last'), self.params.get('max_age'),
                                              self.now(), protect=final_path)
        self.warnings.extend(notes + [m['reason'] for m in malformed])
        return {'deleted': [retention.describe(e, r) for e, r in delete], 'kept': [], 'malformed': malformed}

    def _retention(self, apply, protect=None):
        """Plan retention over the directory and, when ``apply``, delete what it lets go.

        A malformed manifest or an unproven data file is reported and left
        alone; it never stops the retention of the other backups.
        """
        entries, malformed = mf.scan(self.backup_dir, self.database)
        delete, keep, notes = retention.plan(entries, self.params.get('keep_last'), self.params.get('max_age'), self.now(), protect=protect)
        self.warnings.extend(notes)
        for item in malformed:
            self.warnings.append('retention left %s alone: %s' % (item['manifest_path'], item['reason']))
        deleted = []
        for entry, reason in delete:
            if apply:
                dummy, problem = retention.delete_backup(entry, self.backup_dir)
                if problem:
                    self.warnings.append('retention left %s alone: %s' % (entry['path'], problem))
                    keep.append((entry, 'left alone: %s' % problem))
                    continue
            deleted.append(retention.describe(entry, reason))
        return {'deleted': deleted, 'kept': [retention.describe(e, r) for e, r in keep], 'malformed': malformed}
