# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the check history lives: a PostgreSQL table (the default) or a directory of JSON-lines files.

AWX runs each job in a throwaway execution environment, so the history has to
outlive the job: a table in an operations database (a dedicated database or
schema, never the registry's own) is the default, a directory the fallback for
ad-hoc runs. Both give back what they hold as untrusted records: every row or
line is validated again, and one that does not pass is skipped and counted.

Retention deletes only what is provably the history's own: rows of its own
table older than the cutoff; in a directory, regular files named exactly
``history-YYYY-MM-DD.jsonl``, owned by this user, whose whole day is older than
the cutoff - never a file because a record or a name inside a file said so.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import re

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._ops import incidents as inc
from ansible_collections.dsr.ops.plugins.module_utils._ops import records as rec

if _deps.HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.extras
    from psycopg2 import sql

SCHEMA_VERSION = 1
DAY_FILE_RE = re.compile(r'^history-(\d{4})-(\d{2})-(\d{2})\.jsonl$')
LINE_MAX = 256 * 1024


class StoreError(Exception):
    """The history could not be read or written (the text is safe to show)."""


def _day(moment):
    return moment.astimezone(datetime.timezone.utc).date()


class DirectoryStore:
    """One JSON-lines file per UTC day in ``directory`` (0700, files 0600), appended under an exclusive lock."""

    kind = 'directory'

    def __init__(self, directory, check_mode=False):
        self.directory = os.path.abspath(directory)
        self.check_mode = check_mode
        self.skipped = 0

    def describe(self):
        return self.directory

    def prepare(self):
        """Create the directory (0700) unless it exists; return whether it would be / was created."""
        try:
            return files.ensure_private_dir(self.directory, self.check_mode)
        except OSError as exc:
            raise StoreError('cannot create the history directory %s: %s' % (self.directory, exc.strerror)) from None

    def _path(self, day):
        return os.path.join(self.directory, 'history-%s.jsonl' % day.isoformat())

    def append(self, records):
        """Append validated records to their days' files; return how many were written."""
        by_day = {}
        for record in records:
            by_day.setdefault(_day(rec.parse_time(record['time'])), []).append(record)
        written = 0
        for day, batch in sorted(by_day.items()):
            data = b''.join(json.dumps(r, sort_keys=True, separators=(',', ':')).encode('utf-8') + b'\n' for r in batch)
            path = self._path(day)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0), 0o600)
            except OSError as exc:
                raise StoreError('cannot open %s for appending: %s' % (path, exc.strerror)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, data)
                os.fsync(fd)
            except OSError as exc:
                raise StoreError('cannot append to %s: %s' % (path, exc.strerror)) from None
            finally:
                os.close(fd)
            written += len(batch)
        return written

    def _files(self):
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError('cannot list the history directory %s: %s' % (self.directory, exc.strerror)) from None
        found = []
        for name in names:
            match = DAY_FILE_RE.match(name)
            if not match:
                continue
            try:
                day = datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                continue
            found.append((day, os.path.join(self.directory, name)))
        return sorted(found)

    def read(self, since, until, environments=None):
        """Records with ``since <= time < until`` (aware datetimes), oldest first; bad lines skipped (``self.skipped``)."""
        wanted = set(environments) if environments else None
        out = []
        for day, path in self._files():
            if day < _day(since) or day > _day(until):
                continue
            try:
                with open(path, 'rb') as handle:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
                    lines = handle.read().split(b'\n')
            except OSError as exc:
                raise StoreError('cannot read %s: %s' % (path, exc.strerror)) from None
            for line in lines:
                if not line.strip():
                    continue
                try:
                    if len(line) > LINE_MAX:
                        raise ValueError('line too long')
                    record = rec.validate(json.loads(line.decode('utf-8')), 'a line of %s' % os.path.basename(path))
                except (ValueError, UnicodeDecodeError):
                    self.skipped += 1
                    continue
                moment = rec.parse_time(record['time'])
                if since <= moment < until and (wanted is None or record['environment'] in wanted):
                    out.append(record)
        out.sort(key=lambda r: r['time'])
        return out

    def prune(self, cutoff):
        """Delete the day files whose whole day is before ``cutoff``; return (files or rows removed, names)."""
        removed = []
        uid = os.geteuid()
        for day, path in self._files():
            if datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), datetime.timezone.utc) > cutoff:
                continue
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            # a regular file of ours: never a symlink planted in the directory, never someone else's file
            if not os.path.isfile(path) or os.path.islink(path) or info.st_uid != uid:
                continue
            if not self.check_mode:
                try:
                    os.unlink(path)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        raise StoreError('cannot remove %s: %s' % (path, exc.strerror)) from None
            removed.append(os.path.basename(path))
        return len(removed), removed

    # incidents: one state file, read and rewritten (atomically) under an exclusive lock on incidents.lock

    def incidents_begin(self):
        """Lock the incident state and load it: (incidents, sequence {year: last})."""
        self.prepare()
        self._lock = None
        if not os.path.isdir(self.directory):
            return [], {}
        try:
            self._lock = os.open(os.path.join(self.directory, 'incidents.lock'), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        except OSError as exc:
            raise StoreError('cannot lock the incident state in %s: %s' % (self.directory, exc.strerror)) from None
        path = os.path.join(self.directory, 'incidents.json')
        try:
            state = files.read_json(path)
        except FileNotFoundError:
            return [], {}
        except (OSError, ValueError) as exc:
            raise StoreError('the incident state %s cannot be read (%s): move it away to start a new one' % (path, exc)) from None
        if not isinstance(state, dict) or not isinstance(state.get('incidents'), list) or not isinstance(state.get('sequence'), dict):
            raise StoreError('the incident state %s is not what dsr.ops writes: move it away to start a new one' % path)
        sequence = {}
        for year, last in state['sequence'].items():
            if not (isinstance(year, str) and year.isdigit() and isinstance(last, int) and last >= 0):
                raise StoreError('the incident sequence in %s is not valid: move the file away to start a new one' % path)
            sequence[int(year)] = last
        loaded = []
        for index, item in enumerate(state['incidents']):
            try:
                loaded.append(inc.validate_incident(item, 'incident %d of %s' % (index, path)))
            except inc.IncidentStateError:
                self.skipped += 1
        return loaded, sequence

    def incidents_commit(self, incidents, sequence, keep_since):
        """Write the state (resolved incidents older than ``keep_since`` dropped) and release the lock."""
        try:
            if not self.check_mode:
                kept = [i for i in incidents if i['status'] != 'Resolved' or rec.parse_time(i['updated_at']) >= keep_since]
                state = {'version': 1, 'sequence': {str(year): last for year, last in sorted(sequence.items())},
                         'incidents': [{key: value for key, value in i.items() if key in INCIDENT_FIELDS} for i in kept]}
                try:
                    files.write_json_atomic(os.path.join(self.directory, 'incidents.json'), state)
                except OSError as exc:
                    raise StoreError('cannot write the incident state in %s: %s' % (self.directory, exc.strerror)) from None
        finally:
            self.incidents_end()

    def incidents_end(self):
        if getattr(self, '_lock', None) is not None:
            os.close(self._lock)
            self._lock = None

    def close(self):
        self.incidents_end()


# what an incident's stored state holds
INCIDENT_FIELDS = ('id', 'environment', 'severity', 'status', 'started_at', 'updated_at', 'resolved_at', 'failing', 'notices')


class PostgresStore:
    """The table ``<schema>.check_history`` in the operations database, created on first use when allowed."""

    kind = 'postgresql'

    def __init__(self, connector, schema='dsr_ops', create=True, check_mode=False):
        self.connector = connector
        self.schema = schema
        self.create = create
        self.check_mode = check_mode
        self.skipped = 0
        self.conn = None
        self.queries = []
        self.database = None

    def describe(self):
        return '%s.check_history in database %s' % (self.schema, self.database or '?')

    def _connect(self):
        if self.conn is None:
            conn, dummy = self.connector.connect(autocommit=False)
            try:
                with conn.cursor() as cur:
                    cur.execute('SELECT current_database()')
                    self.database = cur.fetchone()[0]
                    # a history write must never hang a morning check behind a lock
                    cur.execute("SET statement_timeout = '30s'; SET lock_timeout = '10s'")
                conn.commit()
            except psycopg2.Error as exc:
                conn.close()
                raise StoreError('cannot use the history database: %s' % (exc.pgerror or str(exc)).strip()) from None
            self.conn = conn
        return self.conn

    def _ident(self, table):
        return sql.Identifier(self.schema, table)

    def _exists(self):
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                schema = sql.Identifier(self.schema).as_string(conn)
                cur.execute('SELECT to_regclass(%s), to_regclass(%s), to_regclass(%s)',
                            tuple('%s.%s' % (schema, table) for table in ('check_history', 'incidents', 'incident_sequence')))
                found = all(name is not None for name in cur.fetchone())
            conn.commit()
        except psycopg2.Error as exc:
            conn.rollback()
            raise StoreError('cannot look for %s.check_history: %s' % (self.schema, (exc.pgerror or str(exc)).strip())) from None
        return found

    def prepare(self):
        """Create the schema and table when missing (and allowed); return whether they were / would be created."""
        if self._exists():
            return False
        if not self.create:
            raise StoreError('%s.check_history does not exist in database %s: create it (create_schema=true, with a login that may '
                             'CREATE in the database) or point login_db at the operations database' % (self.schema, self.database))
        if self.check_mode:
            return True
        conn = self._connect()
        statements = [
            sql.SQL('CREATE SCHEMA IF NOT EXISTS {}').format(sql.Identifier(self.schema)),
            sql.SQL('CREATE TABLE IF NOT EXISTS {} ('
                    'id bigserial PRIMARY KEY, '
                    'recorded_at timestamptz NOT NULL, '
                    'environment text NOT NULL, '
                    'run text NOT NULL, '
                    'check_name text NOT NULL, '
                    "status text NOT NULL CHECK (status IN ('ok', 'warning', 'critical', 'unknown', 'skipped')), "
                    'summary text NOT NULL, '
                    "figures jsonb NOT NULL DEFAULT '{{}}', "
                    'job_id text)').format(self._ident('check_history')),
            sql.SQL('CREATE INDEX IF NOT EXISTS check_history_when ON {} (recorded_at, environment)').format(self._ident('check_history')),
            sql.SQL("COMMENT ON TABLE {} IS 'dsr.ops check history, schema version %d'" % SCHEMA_VERSION).format(self._ident('check_history')),
            sql.SQL('CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, environment text NOT NULL, status text NOT NULL, '
                    'updated_at timestamptz NOT NULL, state jsonb NOT NULL)').format(self._ident('incidents')),
            sql.SQL('CREATE TABLE IF NOT EXISTS {} (year int PRIMARY KEY, last int NOT NULL CHECK (last >= 0))').format(
                self._ident('incident_sequence')),
        ]
        try:
            with conn.cursor() as cur:
                # two first runs at once: CREATE ... IF NOT EXISTS is not safe against a concurrent create, the lock is
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('dsr.ops schema ' || %s))", (self.schema,))
                for statement in statements:
                    text = statement.as_string(conn)
                    self.queries.append(text)
                    cur.execute(text)
            conn.commit()
        except psycopg2.Error as exc:
            conn.rollback()
            raise StoreError('cannot create %s.check_history in database %s: %s' % (self.schema, self.database, (exc.pgerror or str(exc)).strip())) from None
        return True

    def append(self, records):
        conn = self._connect()
        rows = [(r['time'], r['environment'], r['run'], r['check'], r['status'], r['summary'], json.dumps(r['figures'], sort_keys=True), r['job_id'])
                for r in records]
        statement = sql.SQL('INSERT INTO {} (recorded_at, environment, run, check_name, status, summary, figures, job_id) VALUES %s').format(
            self._ident('check_history')).as_string(conn)
        self.queries.append(statement)
        try:
            with conn.cursor() as cur:
                psycopg2.extras.execute_values(cur, statement, rows, template='(%s, %s, %s, %s, %s, %s, %s::jsonb, %s)')
            conn.commit()
        except psycopg2.Error as exc:
            conn.rollback()
            raise StoreError('cannot write to %s.check_history: %s' % (self.schema, (exc.pgerror or str(exc)).strip())) from None
        return len(rows)

    def read(self, since, until, environments=None):
        conn = self._connect()
        query = sql.SQL('SELECT recorded_at, environment, run, check_name, status, summary, figures, job_id FROM {} '
                        'WHERE recorded_at >= %s AND recorded_at < %s').format(self._ident('check_history'))
        args = [since, until]
        if environments:
            query = query + sql.SQL(' AND environment = ANY(%s)')
            args.append(list(environments))
        query = query + sql.SQL(' ORDER BY recorded_at, id')
        try:
            with conn.cursor() as cur:
                cur.execute(query, args)
                rows = cur.fetchall()
            conn.commit()
        except psycopg2.Error as exc:
            conn.rollback()
            raise StoreError('cannot read %s.check_history: %s' % (self.schema, (exc.pgerror or str(exc)).strip())) from None
        out = []
        for when, environment, run, check, status, summary, figures, job_id in rows:
            try:
                out.append(rec.validate({'time': rec.format_time(when), 'environment': environment, 'run': run, 'check': check,
                                         'status': status, 'summary': summary, 'figures': figures, 'job_id': job_id}, 'a history row'))
            except rec.RecordError:
                self.skipped += 1
        return out

    def prune(self, cutoff):
        conn = self._connect()
        table = self._ident('check_history')
        try:
            with conn.cursor() as cur:
                if self.check_mode:
                    cur.execute(sql.SQL('SELECT count(*) FROM {} WHERE recorded_at < %s').format(table), (cutoff,))
                    count = cur.fetchone()[0]
                else:
                    statement = sql.SQL('DELETE FROM {} WHERE recorded_at < %s').format(table)
                    self.queries.append(statement.as_string(conn))
                    cur.execute(statement, (cutoff,))
                    count = cur.rowcount
            conn.commit()
        except psycopg2.Error as exc:
            conn.rollback()
            raise StoreError('cannot prune %s.check_history: %s' % (self.schema, (exc.pgerror or str(exc)).strip())) from None
        return count, []

    # incidents: one transaction holding an advisory lock, so two runs never give out the same id

    def incidents_begin(self):
        created = self.prepare()
        if self.check_mode and created:
            return [], {}
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('dsr.ops incidents ' || %s))", (self.schema,))
                cur.execute(sql.SQL("SELECT state FROM {} WHERE status <> 'Resolved' OR updated_at >= now() - interval '62 days' "
                                    'ORDER BY updated_at').format(self._ident('incidents')))
                rows = cur.fetchall()
                cur.execute(sql.SQL('SELECT year, last FROM {}').format(self._ident('incident_sequence')))
                sequence = dict(cur.fetchall())
        except psycopg2.Error as exc:
            conn.rollback()
            raise StoreError('cannot read the incidents in %s: %s' % (self.schema, (exc.pgerror or str(exc)).strip())) from None
        loaded = []
        for (state,) in rows:
            try:
                loaded.append(inc.validate_incident(state, 'a stored incident'))
            except inc.IncidentStateError:
                self.skipped += 1
        return loaded, sequence

    def incidents_commit(self, incidents, sequence, keep_since):
        conn = self._connect()
        if self.check_mode:
            conn.rollback()
            return
        try:
            with conn.cursor() as cur:
                for year, last in sorted(sequence.items()):
                    cur.execute(sql.SQL('INSERT INTO {} (year, last) VALUES (%s, %s) ON CONFLICT (year) DO UPDATE SET last = '
                                        'GREATEST({}.last, EXCLUDED.last)').format(self._ident('incident_sequence'), self._ident('incident_sequence')),
                                (year, last))
                for item in incidents:
                    state = json.dumps({key: value for key, value in item.items() if key in INCIDENT_FIELDS}, sort_keys=True)
                    cur.execute(sql.SQL('INSERT INTO {} (id, environment, status, updated_at, state) VALUES (%s, %s, %s, %s, %s::jsonb) '
                                        'ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, '
                                        'state = EXCLUDED.state').format(self._ident('incidents')),
                                (item['id'], item['environment'], item['status'], item['updated_at'], state))
                cur.execute(sql.SQL("DELETE FROM {} WHERE status = 'Resolved' AND updated_at < %s").format(self._ident('incidents')), (keep_since,))
            conn.commit()
        except psycopg2.Error as exc:
            conn.rollback()
            raise StoreError('cannot write the incidents in %s: %s' % (self.schema, (exc.pgerror or str(exc)).strip())) from None

    def incidents_end(self):
        if self.conn is not None:
            self.conn.rollback()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
