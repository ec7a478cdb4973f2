# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The pg_restore module's run: which backup, verify, restore into a scratch database, validate, create or swap.

The pieces live beside it: stream.py (decompress and prove), admin.py (scratch
databases, the swap, row counts), writer.py (the writer thread). The order is
what keeps the data safe:

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

import os
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._backup import pgtools
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.admin import Restorer, describe_objects, restore_and_validate
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupInputError, BackupIntegrityError, BackupToolError
from ansible_collections.dsr.ops.plugins.module_utils._backup.stream import decompress_verified, remove_stale_copies
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import Connector

if _deps.HAS_PSYCOPG2:
    import psycopg2


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
        return path, mf.load(manifest_file, fmt='custom')
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


class RestoreRun:
    """The whole pg_restore module: verify, restore to scratch, validate, create or swap."""

    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.warnings = []
        self.commands = []
        # set once the target has been replaced: from then on a failure is not "nothing changed"
        self.target_changed = False

    def run(self):
        """Restore (state=restored) or drop kept-aside databases (state=aside_dropped)."""
        # the maintenance connection: to login_db, else postgres - never the database being replaced
        connector = Connector(self.params).to(login_db=self.params.get('login_db') or 'postgres')
        conn, dummy = connector.connect()
        try:
            restorer = Restorer(conn, connector, self.params.get('pg_bin_dir'), self.params['jobs'], self.warnings, self.commands,
                                no_owner=bool(self.params.get('no_owner')))
            if self.params['state'] == 'aside_dropped':
                return self._drop_aside(restorer)
            return self._restore(restorer)
        except psycopg2.Error as exc:
            raise BackupToolError('query failed: %s' % (exc.pgerror or str(exc)).strip()) from None
        finally:
            conn.close()

    def _source_properties(self, restorer, manifest):
        """The source database's owner, grants and settings for a new target, as far as this server has the roles."""
        if not self.params.get('carry_properties', True):
            return None
        if manifest.database_properties is None:
            self.warnings.append('the manifest of this backup records no database owner or grants (made by an older version): '
                                 'the restored database belongs to the restoring role')
            return None
        properties, warnings = restorer.fit_to_server(manifest.database_properties)
        self.warnings.extend(warnings)
        return properties

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
        if restorer.connector.params['login_db'] == target:
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
                restorer.rename_into_place(scratch, target, self._source_properties(restorer, manifest))
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
