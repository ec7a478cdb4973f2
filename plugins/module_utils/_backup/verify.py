# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Verification of a dsr.ops backup, behind dsr.ops.pg_backup_verify.

Sub-checks, each in the shared status vocabulary:

* ``freshness``: the newest backup is younger than ``max_age``;
* ``checksum``: SHA-256 and size of the stored file match the manifest;
* ``decompression``: the file decompresses completely to the recorded raw size;
* ``contents``: ``pg_restore --list`` reads the archive's table of contents and
  finds a TABLE DATA entry for every table of the manifest;
* ``restore_test`` (optional): restored into a scratch database, analyzed,
  every row count compared with the manifest, scratch database dropped.

Checksum, decompression and contents are one streaming pass over the file:
no temporary disk, flat memory. With the restore test, the same pass also
writes the seekable copy ``pg_restore -j`` needs, so the file is read and
decompressed once, not twice.
"""

from __future__ import annotations

import os
import subprocess
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps

from ansible_collections.dsr.ops.plugins.module_utils._backup import codec, files, pgtools
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupError, BackupInputError, BackupIntegrityError
from ansible_collections.dsr.ops.plugins.module_utils._backup.admin import Restorer, restore_and_validate
from ansible_collections.dsr.ops.plugins.module_utils._backup.stream import decompress_verified, remove_stale_copies
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import Connector, PostgresError
from ansible_collections.dsr.ops.plugins.module_utils._status import CRITICAL, OK, WARNING, Check, summarize

if _deps.HAS_PSYCOPG2:
    import psycopg2


def _newest_or_named(params):
    """Return ``(path, manifest, entries, malformed)``; entries is the listing when a directory was given.

    A manifest given by ``path`` that fails its checks comes back as ``manifest``
    None with the reason in ``malformed``: a finding of the verification, not an error.
    """
    if params.get('path'):
        path = params['path']
        manifest_file = mf.manifest_path(path)
        if not os.path.exists(manifest_file):
            raise BackupInputError('%s has no manifest (%s): not a complete dsr.ops backup' % (path, manifest_file))
        try:
            return path, mf.load(manifest_file, fmt='custom'), None, []
        except mf.ManifestError as exc:
            return path, None, None, [{'manifest_path': manifest_file, 'reason': str(exc)}]
    entries, malformed = mf.scan(params['backup_dir'], params['database'])
    if not entries:
        return None, None, entries, malformed
    return entries[0]['path'], entries[0]['manifest'], entries, malformed


class TocReader:
    """Feeds decompressed bytes to ``pg_restore --list`` on stdin; keeps going after it has read the TOC.

    Started like every other child (pgtools.Tool): it dies with the module, however the module dies.
    """

    def __init__(self, program):
        self.argv = [program, '--list']
        self.tool = pgtools.Tool(self.argv, None, stdin=subprocess.PIPE, collect_stdout=True)
        self.open = True

    def write(self, block):
        """Pass a block on while pg_restore still reads."""
        if not self.open:
            return
        try:
            self.tool.proc.stdin.write(block)
        except BrokenPipeError:
            # pg_restore --list stops reading once it has the table of contents
            self.open = False

    def finish(self):
        """Return (exit status, stdout, stderr)."""
        returncode, stdout, stderr = self.tool.finish()
        return returncode, stdout.decode('utf-8', 'replace'), stderr

    def abort(self):
        """Stop pg_restore when the stream broke."""
        self.tool.kill()


class _RawCopy:
    """The restore test's decompressed copy: its path once written, or why it could not be."""

    def __init__(self):
        self.temp = None
        self.problem = None

    @property
    def path(self):
        """The copy's path, or None."""
        return self.temp.path if self.temp else None

    def discard(self):
        """Remove the copy, if there is one."""
        if self.temp:
            self.temp.remove()
        self.temp = None


class Verification:
    """Verify one backup. ``params`` holds the module's options (durations already in seconds)."""

    def __init__(self, params, check_mode=False, now=mf.utcnow):
        self.params = params
        self.check_mode = check_mode
        self.now = now
        self.commands = []
        self.removed_stale = []

    def run(self):
        """Run the sub-checks; return the result dict (``status``, ``checks``, ...)."""
        path, manifest, entries, malformed = _newest_or_named(self.params)
        found = len(entries) if entries is not None else int(manifest is not None)
        result = {'path': path, 'manifest_path': mf.manifest_path(path) if path else None, 'backups_found': found,
                  'malformed_manifests': malformed}
        checks = [self._freshness(manifest, entries), self._manifests(found, malformed)]
        if manifest is None:
            reason = 'the manifest is malformed' if path else 'no backup to verify'
            for name in ('checksum', 'decompression', 'contents', 'restore_test'):
                checks.append(Check.skipped(name, reason))
            return self._finish(result, checks, None, None)
        if not os.path.exists(path):
            checks.append(Check(name='checksum', status=CRITICAL, msg='the manifest points at %s, which is missing' % path))
            return self._finish(result, checks, path, manifest)
        result.update(database=manifest.database, started_at=manifest.started_at, sha256=manifest.sha256)
        copy = _RawCopy()
        try:
            if self._restore_test_runs():
                checks += self._stream_checks_with_copy(path, manifest, copy)
            else:
                checks += self._stream_checks(path, manifest)
            checks.append(self._restore_test(manifest, copy, stream_ok=all(c.status == OK for c in checks[2:])))
        finally:
            copy.discard()
        return self._finish(result, checks, path, manifest)

    def _restore_test_runs(self):
        return bool(self.params.get('restore_test')) and self.params.get('decompress', True) and not self.check_mode

    # -- sub-checks ----------------------------------------------------------

    def _freshness(self, manifest, entries):
        max_age = self.params.get('max_age')
        if manifest is None:
            if self.params.get('path'):
                return Check.skipped('freshness', 'the manifest is malformed: the backup has no trustworthy date', age_seconds=None, max_age_seconds=max_age)
            where = '%s in %s' % (self.params.get('database'), self.params.get('backup_dir'))
            return Check('freshness', CRITICAL, 'no backup of %s' % where, age_seconds=None, max_age_seconds=max_age)
        now = self.now()
        age = (now - manifest.started).total_seconds()
        if mf.is_future(manifest.started, now):
            return Check('freshness', WARNING, 'newest backup is dated %s, %.0f s in the future: the clock of the machine that made it, '
                         'or of this one, is wrong; its age cannot be known' % (manifest.started_at, -age),
                         age_seconds=round(age), max_age_seconds=max_age)
        if max_age is None:
            return Check('freshness', OK, 'newest backup is %.0f s old (no max_age given)' % age, age_seconds=round(age), max_age_seconds=None)
        status = CRITICAL if age > max_age else OK
        return Check('freshness', status, 'newest backup is %.0f s old, max_age %.0f s' % (age, max_age), age_seconds=round(age), max_age_seconds=max_age)

    @staticmethod
    def _manifests(found, malformed):
        """Every manifest read is well-formed (with backup_dir: every manifest of the database there); ``found`` are the good ones."""
        read = found + len(malformed)
        if malformed:
            return Check('manifest', CRITICAL, '; '.join(m['reason'] for m in malformed[:5])
                         + ('' if len(malformed) <= 5 else ' (and %d more)' % (len(malformed) - 5)),
                         manifests=read, malformed=len(malformed))
        if not read:
            return Check.skipped('manifest', 'no manifest to read', manifests=0, malformed=0)
        return Check('manifest', OK, '%d manifest%s read, schema checked' % (read, '' if read == 1 else 's'), manifests=read, malformed=0)

    def _stream_checks(self, path, manifest):
        if not self.params.get('decompress', True):
            digest, size = files.sha256_file(path)
            ok = digest == manifest.sha256 and size == manifest.stored_size_bytes
            msg = 'SHA-256 and size match the manifest' if ok else 'SHA-256 or size differs from the manifest: %s, %d bytes' % (digest, size)
            return [Check('checksum', OK if ok else CRITICAL, msg, sha256=digest, size_bytes=size),
                    Check.skipped('decompression', 'decompress=false'), Check.skipped('contents', 'decompress=false')]
        program = pgtools.find_program('pg_restore', self.params.get('pg_bin_dir'))
        toc = TocReader(program)
        self.commands.append(pgtools.display_command(toc.argv) + ' < (decompressed stream)')
        started = time.monotonic()
        try:
            raw, stored, digest = codec.decompress_to(path, manifest.compression, toc.write)
        except BackupIntegrityError as exc:
            toc.abort()
            digest, size = files.sha256_file(path)
            checksum_ok = digest == manifest.sha256
            return [Check('checksum', OK if checksum_ok else CRITICAL, 'SHA-256 %s the manifest' % ('matches' if checksum_ok else 'differs from'),
                          sha256=digest, size_bytes=size),
                    Check('decompression', CRITICAL, str(exc)),
                    Check.skipped('contents', 'the archive does not decompress')]
        return self._pass_checks(manifest, digest, stored, raw, time.monotonic() - started, toc)

    def _stream_checks_with_copy(self, path, manifest, copy):
        """The stream checks in the same pass that writes the restore test's copy (``copy.path``).

        The copy is only kept when every check passed. When the pass fails, the plain
        stream checks run again to tell a checksum fault from a decompression one
        (a second read, on the failure path only).
        """
        program = pgtools.find_program('pg_restore', self.params.get('pg_bin_dir'))
        toc = TocReader(program)
        self.commands.append(pgtools.display_command(toc.argv) + ' < (decompressed stream, also written to a temporary copy)')
        temp_dir = self.params.get('temp_dir') or os.path.dirname(os.path.abspath(path))
        started = time.monotonic()
        try:
            self.removed_stale.extend(remove_stale_copies(temp_dir, manifest.database))
            copy.temp, dummy = decompress_verified(path, manifest, temp_dir, also=toc.write)
        except BackupIntegrityError:
            toc.abort()
            return self._stream_checks(path, manifest)
        except (BackupError, OSError) as exc:
            toc.abort()
            copy.problem = 'could not write the decompressed copy to %s: %s' % (temp_dir, exc)
            return self._stream_checks(path, manifest)
        checks = self._pass_checks(manifest, manifest.sha256, manifest.stored_size_bytes, manifest.raw_size_bytes,
                                   time.monotonic() - started, toc)
        if any(c.status != OK for c in checks):
            copy.discard()
        return checks

    def _pass_checks(self, manifest, digest, stored, raw, seconds, toc):
        """checksum, decompression and contents after a complete pass over the file."""
        checks = []
        checksum_ok = digest == manifest.sha256 and stored == manifest.stored_size_bytes
        checks.append(Check('checksum', OK if checksum_ok else CRITICAL,
                            'SHA-256 and size match the manifest' if checksum_ok else
                            'SHA-256 %s / %d bytes, manifest says %s / %d bytes' % (digest, stored, manifest.sha256, manifest.stored_size_bytes),
                            sha256=digest, size_bytes=stored, seconds=round(seconds, 3)))
        raw_ok = raw == manifest.raw_size_bytes
        checks.append(Check('decompression', OK if raw_ok else CRITICAL,
                            'decompresses to %d bytes%s' % (raw, '' if raw_ok else ', manifest says %d' % manifest.raw_size_bytes), raw_size_bytes=raw))
        checks.append(self._contents(toc, manifest))
        return checks

    @staticmethod
    def _contents(toc, manifest):
        returncode, stdout, stderr = toc.finish()
        if returncode != 0:
            return Check('contents', CRITICAL, 'pg_restore --list cannot read the archive: %s' % stderr.strip()[:500])
        table_data = [line for line in stdout.splitlines() if ' TABLE DATA ' in line]
        expected = manifest.row_counts or {}
        tables = len([k for k, v in expected.items() if k not in set(manifest.materialized_views or [])])
        missing = []
        listed = set()
        for line in table_data:
            parts = line.split(' TABLE DATA ', 1)[1].split(' ')
            if len(parts) >= 2:
                listed.add('%s.%s' % (parts[0], parts[1]))
        for key in expected:
            if key not in set(manifest.materialized_views or []) and key not in listed:
                missing.append(key)
        status = OK if len(table_data) >= tables and not missing else CRITICAL
        msg = '%d TABLE DATA entries for %d tables in the manifest' % (len(table_data), tables)
        if missing:
            msg += '; missing: %s' % ', '.join(missing[:10])
        return Check('contents', status, msg, toc_entries=len(stdout.splitlines()), table_data_entries=len(table_data), missing=missing)

    def _restore_test(self, manifest, copy, stream_ok):
        if not self.params.get('restore_test'):
            return Check.skipped('restore_test', 'restore_test=false')
        if not self.params.get('decompress', True):
            return Check.skipped('restore_test', 'decompress=false: the archive was not read')
        if not stream_ok:
            return Check.skipped('restore_test', 'the file failed its checksum, decompression or contents check')
        if self.check_mode:
            return Check.skipped('restore_test', 'check mode: no scratch database is created')
        if copy.problem:
            return Check.unknown('restore_test', 'could not run the restore test: %s' % copy.problem)
        connector = Connector(self.params).to(login_db=self.params.get('login_db') or 'postgres')
        started = time.monotonic()
        conn = None
        scratch = None
        try:
            conn, dummy = connector.connect()
            # the scratch copy is checked for rows, not ownership: no_owner restores it as the login role
            restorer = Restorer(conn, connector, self.params.get('pg_bin_dir'), self.params.get('jobs', 2), commands=self.commands,
                                no_owner=True)
            stale = restorer.stale_scratch_databases(manifest.database)
            for name in stale:
                restorer.drop_database(name, force=True)
            scratch = restorer.create_scratch(manifest.database)
            figures = restore_and_validate(restorer, copy.path, manifest, scratch)
            figures['dropped_stale_scratch_databases'] = stale
            return Check('restore_test', OK, 'restored into a scratch database and %d tables matched their row counts in %.1f s'
                         % (figures['validation']['tables'], time.monotonic() - started), **figures)
        except BackupIntegrityError as exc:
            return Check('restore_test', CRITICAL, str(exc))
        except (BackupError, PostgresError) as exc:
            return Check.unknown('restore_test', 'could not run the restore test: %s' % exc)
        except psycopg2.Error as exc:
            # a statement the login role may not run (CREATE DATABASE without CREATEDB, say): the server's reason
            return Check.unknown('restore_test', 'could not run the restore test: %s' % (exc.pgerror or str(exc)).strip())
        finally:
            if scratch:
                try:
                    restorer.drop_database(scratch, force=True)
                except (PostgresError, psycopg2.Error):
                    pass
            if conn is not None:
                conn.close()

    # -- result --------------------------------------------------------------

    def _finish(self, result, checks, path, manifest):
        overall, summary = summarize(checks)
        result.update(status=overall, summary=summary, checks={c.name: c.as_dict() for c in checks}, commands=self.commands,
                      removed_stale_temp_files=self.removed_stale)
        recorded = False
        would_record = bool(path and manifest and os.path.exists(path) and self.params.get('record', True))
        if would_record and not self.check_mode:
            record = {
                'status': overall,
                'verified_at': mf.isoformat(self.now()),
                'sha256': manifest.sha256,
                'checks': {c.name: c.status for c in checks},
                'restore_test': bool(self.params.get('restore_test')) and checks[-1].status == OK,
            }
            # a record is only about the file: freshness and the other manifests of the directory do not belong in it
            record['status'] = summarize([c for c in checks if c.name not in ('freshness', 'manifest')])[0]
            files.write_json_atomic(mf.verify_path(path), record)
            recorded = True
        result['recorded'] = recorded
        # writing the verification record is the one change this module makes
        result['changed'] = would_record
        return result
