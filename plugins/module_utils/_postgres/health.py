# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""PostgreSQL health checks behind dsr.ops.pg_health, usable without Ansible.

Every sub-check returns a ``Check`` with its own status and the figures behind
it. A sub-check that cannot see what it needs (a role without
``pg_read_all_stats`` gets NULLs for other users' sessions, not an error) is
``skipped`` with the reason, never a silent ``ok``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._status import (
    CRITICAL,
    OK,
    WARNING,
    Check,
    evaluate,
    summarize,
    worst,
)
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (
    Connector,
    PostgresConnectionError,
    describe,
    server_version_string,
)

if _deps.HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.extras

CHECKS = ('server', 'connections', 'database_sizes', 'long_running', 'blocked_sessions',
          'replication', 'replication_slots', 'wraparound', 'cache_hit_ratio')

# Documented defaults; the module's argument spec uses these same values.
DEFAULTS = {
    'connect_seconds_warning': 1.0,
    'connect_seconds_critical': 5.0,
    'connections_warning': 80,
    'connections_critical': 95,
    'connections_unit': 'percent',
    'long_query_seconds_warning': 300,
    'long_query_seconds_critical': 1800,
    'long_transaction_seconds_warning': 900,
    'long_transaction_seconds_critical': 3600,
    'lock_wait_seconds_warning': 30,
    'lock_wait_seconds_critical': 300,
    'replication_lag_bytes_warning': 64 * 1024 * 1024,
    'replication_lag_bytes_critical': 1024 * 1024 * 1024,
    'replication_lag_seconds_warning': 60,
    'replication_lag_seconds_critical': 300,
    'slot_retained_bytes_warning': 1024 * 1024 * 1024,
    'slot_retained_bytes_critical': 10 * 1024 * 1024 * 1024,
    'xid_age_warning': 500_000_000,
    'xid_age_critical': 1_500_000_000,
    'cache_hit_ratio_warning': 95.0,
    'cache_hit_ratio_critical': 90.0,
    'cache_hit_min_blocks': 10000,
    'database_size_bytes_warning': None,
    'database_size_bytes_critical': None,
    'expect_standbys': None,
    'include_query_text': False,
    'query_timeout': 30,
    'databases': None,
    'checks': list(CHECKS),
    'state_file': None,
    'primary_host': None,
    'primary_port': None,
}

CLIENT_BACKEND = 'client backend'
IDLE_IN_TRANSACTION = ('idle in transaction', 'idle in transaction (aborted)')
STATE_FILE_VERSION = 1

_SERVER_SQL = """
SELECT current_user AS login_role,
       r.rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS can_read_all_stats,
       pg_is_in_recovery() AS in_recovery,
       current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())::float8 AS uptime_seconds,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved_connections,
       pg_backend_pid() AS own_pid
FROM pg_roles r WHERE r.rolname = current_user
"""

# One snapshot of the sessions, evaluated in Python by several sub-checks.
_ACTIVITY_SQL = """
SELECT a.pid, a.usename, a.datname, a.application_name, a.client_addr::text AS client_addr,
       a.backend_type, a.state, a.wait_event_type, a.wait_event,
       EXTRACT(EPOCH FROM now() - a.query_start)::float8 AS query_seconds,
       EXTRACT(EPOCH FROM now() - a.xact_start)::float8 AS transaction_seconds,
       EXTRACT(EPOCH FROM now() - l.waitstart)::float8 AS lock_wait_seconds,
       pg_blocking_pids(a.pid) AS blocked_by,
       a.query = '<insufficient privilege>' AS hidden,
       CASE WHEN %(include_query_text)s THEN left(a.query, 1000) END AS query
FROM pg_stat_activity a
LEFT JOIN (SELECT pid, min(waitstart) AS waitstart FROM pg_locks WHERE NOT granted GROUP BY pid) l ON l.pid = a.pid
"""

# numbackends is visible to every role, unlike other users' pg_stat_activity rows.
_NUMBACKENDS_SQL = "SELECT coalesce(sum(numbackends), 0)::bigint AS total FROM pg_stat_database WHERE datid <> 0"

_SIZES_SQL = """
SELECT oid::bigint AS oid, datname, pg_database_size(datname) AS size_bytes, pg_size_pretty(pg_database_size(datname)) AS size_pretty
FROM pg_database
WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT')
ORDER BY datname
"""

_REPLICATION_PRIMARY_SQL = """
SELECT application_name, client_addr::text AS client_addr, state, sync_state,
       sent_lsn::text AS sent_lsn, replay_lsn::text AS replay_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes,
       EXTRACT(EPOCH FROM replay_lag)::float8 AS lag_seconds
FROM pg_stat_replication ORDER BY application_name
"""

# On a standby, now() - pg_last_xact_replay_timestamp() is the age of the last replayed commit: after a quiet
# hour it is an hour, however little is unreplayed. It is reported (last_replay_age_seconds), never judged.
_REPLICATION_STANDBY_SQL = """
SELECT pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS lag_bytes,
       pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS caught_up,
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS last_replay_age_seconds,
       pg_get_wal_replay_pause_state() AS replay_pause_state,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver_status,
       (SELECT sender_host FROM pg_stat_wal_receiver) AS sender_host,
       (SELECT sender_port FROM pg_stat_wal_receiver) AS sender_port,
       (SELECT slot_name FROM pg_stat_wal_receiver) AS slot_name,
       current_setting('cluster_name') AS cluster_name
"""

# The primary's view of one standby: its replay_lag is lag in time, measured by the primary
_PRIMARY_VIEW_SQL = """
SELECT EXTRACT(EPOCH FROM r.replay_lag)::float8 AS replay_lag, r.application_name
FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
WHERE (%(slot)s IS NOT NULL AND s.slot_name = %(slot)s) OR (%(slot)s IS NULL AND r.application_name = %(name)s)
"""

_SLOTS_SQL = """
SELECT slot_name, slot_type, database, active, wal_status,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
                       restart_lsn)::bigint AS retained_bytes
FROM pg_replication_slots ORDER BY slot_name
"""

_WRAPAROUND_SQL = """
SELECT datname, age(datfrozenxid)::bigint AS xid_age, mxid_age(datminmxid)::bigint AS multixact_age
FROM pg_database ORDER BY age(datfrozenxid) DESC
"""

_CACHE_SQL = """
SELECT coalesce(sum(blks_hit), 0)::bigint AS blocks_hit, coalesce(sum(blks_read), 0)::bigint AS blocks_read
FROM pg_stat_database WHERE datid <> 0
"""


def _state_entry_ok(entry):
    """Whether a state file entry holds what write_state() writes: an OID and a finite size and time."""
    if not isinstance(entry, dict):
        return False
    numbers = [entry.get('size_bytes'), entry.get('taken_at')]
    finite = [isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) for n in numbers]
    return isinstance(entry.get('oid'), int) and all(finite)


class StateFileError(Exception):
    """The growth state file cannot be read or written."""


def _privilege_hint(login_role):
    return ('sessions of other roles are hidden from %s: grant it pg_read_all_stats (or pg_monitor) '
            'so this check can see them' % login_role)


class HealthCheck:
    """Run the pg_health sub-checks over one connection.

    ``options`` is a dict shaped like DEFAULTS. ``now`` (a callable returning
    epoch seconds) is injectable for the growth figures.
    """

    def __init__(self, options, now=time.time):
        self.options = dict(DEFAULTS)
        self.options.update({k: v for k, v in options.items() if k in DEFAULTS})
        # the login, for the one other server a check may ask (a standby's primary, for its lag in seconds)
        self.login = {k: v for k, v in options.items() if k not in DEFAULTS}
        self.now = now
        self.server = {}
        self.sessions = []
        self.state_to_write = None

    # -- entry point ---------------------------------------------------------

    def run(self, connect):
        """Connect with ``connect()`` -> (conn, seconds) (a Connector, or any such callable) and return the result dict."""
        try:
            conn, connect_seconds = connect()
        except PostgresConnectionError as exc:
            reach = Check('reachability', CRITICAL, str(exc), reachable=False, connect_seconds=None)
            skipped = [Check.skipped(name, 'the server is unreachable') for name in self.options['checks']]
            return self._result([reach] + skipped, connection=None)
        try:
            return self._run_connected(conn, connect_seconds)
        finally:
            conn.close()

    def _run_connected(self, conn, connect_seconds):
        opts = self.options
        latency_status = evaluate(connect_seconds, opts['connect_seconds_warning'], opts['connect_seconds_critical'])
        checks = [Check('reachability', latency_status, 'connected in %.3f s' % connect_seconds,
                        reachable=True, connect_seconds=round(connect_seconds, 4))]
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute('SELECT set_config(%s, %s, false)', ('statement_timeout', '%ds' % opts['query_timeout']))
            cur.execute(_SERVER_SQL)
            self.server = dict(cur.fetchone())
            cur.execute(_ACTIVITY_SQL, {'include_query_text': opts['include_query_text']})
            self.sessions = [dict(row) for row in cur.fetchall()]
            for name in CHECKS:
                if name in opts['checks']:
                    checks.append(self._guarded(name, cur))
        return self._result(checks, connection=describe(conn))

    def _guarded(self, name, cur):
        """Run one sub-check; a failing query makes it ``unknown``, not a crash."""
        try:
            return getattr(self, '_check_' + name)(cur)
        except psycopg2.Error as exc:
            message = (exc.pgerror or str(exc)).strip()
            return Check.unknown(name, 'query failed: %s' % message)

    def _result(self, checks, connection):
        overall, summary = summarize(checks)
        return {
            'status': overall,
            'summary': summary,
            'checks': {c.name: c.as_dict() for c in checks},
            'connection': connection,
            'can_read_all_stats': self.server.get('can_read_all_stats'),
        }

    # -- helpers -------------------------------------------------------------

    def _client_sessions(self):
        return [s for s in self.sessions if s['backend_type'] == CLIENT_BACKEND and s['pid'] != self.server['own_pid']]

    def _hidden_count(self):
        return sum(1 for s in self.sessions if s['hidden'])

    def _session_view(self, session, seconds_key):
        view = {
            'pid': session['pid'],
            'user': session['usename'],
            'database': session['datname'],
            'application_name': session['application_name'],
            'client_addr': session['client_addr'],
            'state': session['state'],
            'seconds': round(session[seconds_key], 1) if session[seconds_key] is not None else None,
            'wait_event_type': session['wait_event_type'],
            'wait_event': session['wait_event'],
        }
        if self.options['include_query_text']:
            view['query'] = session['query']
        return view

    def _with_visibility(self, name, status, msg, figures):
        """Downgrade an ``ok`` built on partial visibility to ``skipped``."""
        hidden = self._hidden_count()
        figures['hidden_sessions'] = hidden if not self.server['can_read_all_stats'] else 0
        if self.server['can_read_all_stats'] or hidden == 0:
            return Check(name, status, msg, **figures)
        if status == OK:
            return Check.skipped(name, _privilege_hint(self.server['login_role']) + ' (%d hidden)' % hidden, **figures)
        return Check(name, status, msg + '; ' + _privilege_hint(self.server['login_role']), **figures)

    # -- sub-checks ----------------------------------------------------------

    def _check_server(self, cur):
        srv = self.server
        role = 'standby (in recovery)' if srv['in_recovery'] else 'primary'
        return Check('server', OK, 'PostgreSQL %s, %s' % (server_version_string(srv['version_num']), role),
                     version=srv['version'], version_num=srv['version_num'], in_recovery=srv['in_recovery'],
                     uptime_seconds=round(srv['uptime_seconds'], 0), login_role=srv['login_role'])

    def _check_connections(self, cur):
        opts = self.options
        max_connections = self.server['max_connections']
        if self.server['can_read_all_stats']:
            clients = [s for s in self.sessions if s['backend_type'] == CLIENT_BACKEND]
            total = len(clients)
            active = sum(1 for s in clients if s['state'] == 'active')
            idle_in_transaction = sum(1 for s in clients if s['state'] in IDLE_IN_TRANSACTION)
            method = 'pg_stat_activity'
            note = ''
        else:
            cur.execute(_NUMBACKENDS_SQL)
            total = int(cur.fetchone()['total'])
            active = idle_in_transaction = None
            method = 'pg_stat_database'
            note = ('; counted from pg_stat_database.numbackends (includes autovacuum workers) because %s'
                    % _privilege_hint(self.server['login_role']))
        percent = round(100.0 * total / max_connections, 1) if max_connections else None
        measured = percent if opts['connections_unit'] == 'percent' else total
        status = evaluate(measured, opts['connections_warning'], opts['connections_critical'])
        msg = '%d of max_connections %d in use (%s%%)%s' % (total, max_connections, percent, note)
        return Check('connections', status, msg, total=total, active=active, idle_in_transaction=idle_in_transaction,
                     max_connections=max_connections, percent_used=percent, unit=opts['connections_unit'],
                     warning=opts['connections_warning'], critical=opts['connections_critical'], method=method)

    def _check_database_sizes(self, cur):
        opts = self.options
        cur.execute(_SIZES_SQL)
        rows = [dict(r) for r in cur.fetchall()]
        wanted = opts['databases']
        missing = []
        if wanted:
            present = {r['datname'] for r in rows}
            missing = [d for d in wanted if d not in present]
            rows = [r for r in rows if r['datname'] in wanted]
        previous = self._load_state()
        taken_at = self.now()
        databases = {}
        statuses = []
        for row in rows:
            entry = {'size_bytes': int(row['size_bytes']), 'size_pretty': row['size_pretty']}
            before = previous.get(row['datname'])
            if before and before.get('oid') == row['oid']:
                elapsed = taken_at - before['taken_at']
                delta = entry['size_bytes'] - before['size_bytes']
                entry['growth'] = {
                    'bytes': delta,
                    'seconds': round(elapsed, 0),
                    'bytes_per_day': int(delta * 86400 / elapsed) if elapsed > 0 else None,
                }
            entry['status'] = evaluate(entry['size_bytes'], opts['database_size_bytes_warning'], opts['database_size_bytes_critical'])
            statuses.append(entry['status'])
            databases[row['datname']] = entry
        oids = {row['datname']: row['oid'] for row in rows}
        self.state_to_write = {
            'version': STATE_FILE_VERSION,
            'databases': {name: {'size_bytes': d['size_bytes'], 'taken_at': taken_at, 'oid': oids[name]} for name, d in databases.items()},
        }
        if missing:
            return Check.unknown('database_sizes', 'databases not found or not connectable by %s: %s'
                                 % (self.server['login_role'], ', '.join(missing)), databases=databases, missing=missing)
        total = sum(d['size_bytes'] for d in databases.values())
        status = worst(statuses) if statuses else OK
        parts = []
        for name, entry in databases.items():
            growth = entry.get('growth')
            since = ' (%+d bytes since last run)' % growth['bytes'] if growth else ''
            parts.append('%s %s%s' % (name, entry['size_pretty'], since))
        return Check('database_sizes', status, '%d databases: %s' % (len(databases), ', '.join(parts)),
                     databases=databases, total_bytes=total, previous_run=bool(previous))

    def _load_state(self):
        path = self.options['state_file']
        if not path or not os.path.exists(path):
            return {}
        try:
            with open(path, encoding='utf-8') as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise StateFileError('cannot read state_file %s: %s' % (path, exc)) from None
        if not isinstance(data, dict):
            raise StateFileError('state_file %s holds a JSON %s, not the object pg_health writes: point state_file at a file of '
                                 'its own (it is not overwritten)' % (path, type(data).__name__.replace('dict', 'object')))
        if data.get('version') != STATE_FILE_VERSION or not isinstance(data.get('databases'), dict):
            return {}
        # untrusted like any file read back: an entry that is not what we write is ignored (that database starts afresh);
        # a database is matched by name and OID, so a recreated (restored) database starts afresh too
        return {name: entry for name, entry in data['databases'].items() if _state_entry_ok(entry)}

    def _check_long_running(self, cur):
        opts = self.options
        clients = self._client_sessions()
        queries = [s for s in clients if s['state'] == 'active' and s['query_seconds'] is not None]
        transactions = [s for s in clients if s['transaction_seconds'] is not None]
        longest_query = max((s['query_seconds'] for s in queries), default=0.0)
        longest_xact = max((s['transaction_seconds'] for s in transactions), default=0.0)
        q_warn, q_crit = opts['long_query_seconds_warning'], opts['long_query_seconds_critical']
        t_warn, t_crit = opts['long_transaction_seconds_warning'], opts['long_transaction_seconds_critical']
        status = worst([evaluate(longest_query, q_warn, q_crit), evaluate(longest_xact, t_warn, t_crit)])
        long_queries = [self._session_view(s, 'query_seconds') for s in queries if s['query_seconds'] > q_warn]
        long_transactions = [self._session_view(s, 'transaction_seconds') for s in transactions if s['transaction_seconds'] > t_warn]
        msg = '%d queries over %s s, %d transactions over %s s (longest %.0f s / %.0f s)' % (
            len(long_queries), q_warn, len(long_transactions), t_warn, longest_query, longest_xact)
        figures = {'long_queries': long_queries, 'long_transactions': long_transactions,
                   'longest_query_seconds': round(longest_query, 1), 'longest_transaction_seconds': round(longest_xact, 1)}
        return self._with_visibility('long_running', status, msg, figures)

    def _check_blocked_sessions(self, cur):
        opts = self.options
        blocked = [s for s in self._client_sessions() if s['blocked_by']]
        for session in blocked:
            if session['lock_wait_seconds'] is None:
                # waitstart is filled lazily; the query's age bounds the wait from above
                session['lock_wait_seconds'] = session['query_seconds']
        longest = max((s['lock_wait_seconds'] or 0.0 for s in blocked), default=0.0)
        status = evaluate(longest, opts['lock_wait_seconds_warning'], opts['lock_wait_seconds_critical'])
        views = []
        for session in blocked:
            view = self._session_view(session, 'lock_wait_seconds')
            view['blocked_by'] = list(session['blocked_by'])
            views.append(view)
        msg = '%d sessions waiting on locks (longest %.0f s)' % (len(blocked), longest)
        return self._with_visibility('blocked_sessions', status, msg, {'blocked': views, 'longest_wait_seconds': round(longest, 1)})

    def _check_replication(self, cur):
        opts = self.options
        lag_b = (opts['replication_lag_bytes_warning'], opts['replication_lag_bytes_critical'])
        lag_s = (opts['replication_lag_seconds_warning'], opts['replication_lag_seconds_critical'])
        if self.server['in_recovery']:
            cur.execute(_REPLICATION_STANDBY_SQL)
            row = dict(cur.fetchone())
            row['lag_seconds'], row['lag_seconds_source'] = self._standby_lag_seconds(row)
            statuses = [evaluate(row['lag_bytes'], *lag_b)]
            if row['lag_seconds'] is not None:
                statuses.append(evaluate(row['lag_seconds'], *lag_s))
            notes = []
            if row['receiver_status'] not in (None, 'streaming'):
                statuses.append(WARNING)
            if row['replay_pause_state'] != 'not paused':
                statuses.append(WARNING)
                notes.append('replay is %s (pg_wal_replay_resume() resumes it)' % row['replay_pause_state'])
            msg = 'standby: %s bytes behind the received WAL, %s s behind in time (%s), receiver %s' % (
                row['lag_bytes'], _round(row['lag_seconds']) if row['lag_seconds'] is not None else 'unknown',
                row['lag_seconds_source'], row['receiver_status'] or 'not visible')
            for key in ('sender_host', 'sender_port', 'slot_name', 'cluster_name', 'caught_up'):
                row.pop(key)
            return Check('replication', worst(statuses), '; '.join([msg] + notes), role='standby', standbys=[], **row)
        cur.execute(_REPLICATION_PRIMARY_SQL)
        standbys = [dict(r) for r in cur.fetchall()]
        if standbys and not self.server['can_read_all_stats'] and all(s['replay_lsn'] is None for s in standbys):
            return Check.skipped('replication', _privilege_hint(self.server['login_role']), role='primary', standbys=[])
        statuses = []
        for standby in standbys:
            if standby['lag_seconds'] is None and standby['lag_bytes'] == 0:
                standby['lag_seconds'] = 0.0  # caught up and idle: PostgreSQL clears replay_lag
            standby['status'] = worst([evaluate(standby['lag_bytes'], *lag_b), evaluate(standby['lag_seconds'], *lag_s)])
            if standby['state'] != 'streaming':
                standby['status'] = worst([standby['status'], WARNING])
            statuses.append(standby['status'])
        streaming = sum(1 for s in standbys if s['state'] == 'streaming')
        expected = opts['expect_standbys']
        if expected is not None and streaming < expected:
            statuses.append(CRITICAL)
        status = worst(statuses) if statuses else OK
        worst_lag = max((s['lag_bytes'] or 0 for s in standbys), default=0)
        expectation = ' (expected %s)' % expected if expected is not None else ''
        msg = '%d standbys streaming%s, largest lag %d bytes' % (streaming, expectation, worst_lag)
        return Check('replication', status, msg, role='primary', standbys=standbys, streaming=streaming, expected_standbys=expected)

    def _standby_lag_seconds(self, row):
        """Replay lag in seconds of this standby and where the figure comes from: ``(seconds or None, source)``.

        Caught up (everything received is replayed) is 0. Otherwise the primary's
        ``pg_stat_replication.replay_lag`` for this standby, read over a connection
        to the primary (``primary_host``/``primary_port``, else where the WAL
        receiver streams from) with the same login. When the primary cannot be
        asked, the lag in time is not known: None, and only bytes are judged.
        """
        if row['caught_up']:
            return 0.0, 'caught up: all received WAL is replayed'
        host = self.options.get('primary_host') or row['sender_host']
        port = self.options.get('primary_port') or row['sender_port']
        if not host:
            return None, 'unknown, the primary is not known (set primary_host, or read as a member of pg_read_all_stats)'
        try:
            conn, dummy = Connector(self.login).to(login_host=host, port=port, login_unix_socket=None).connect()
        except PostgresConnectionError as exc:
            return None, 'unknown, the primary %s:%s could not be asked (%s)' % (host, port, exc)
        try:
            with conn.cursor() as cur:
                cur.execute(_PRIMARY_VIEW_SQL, {'slot': row['slot_name'], 'name': row['cluster_name'] or 'walreceiver'})
                views = cur.fetchall()
        except psycopg2.Error as exc:
            return None, 'unknown, the primary %s:%s did not answer (%s)' % (host, port, (exc.pgerror or str(exc)).strip())
        finally:
            conn.close()
        if len(views) != 1:
            return None, 'unknown, the primary %s:%s lists %d matching standbys' % (host, port, len(views))
        if views[0][0] is None:
            return None, 'unknown, the primary %s:%s has no replay_lag for this standby yet' % (host, port)
        return views[0][0], "primary %s:%s pg_stat_replication.replay_lag" % (host, port)

    def _check_replication_slots(self, cur):
        opts = self.options
        cur.execute(_SLOTS_SQL)
        slots = [dict(r) for r in cur.fetchall()]
        statuses = []
        for slot in slots:
            slot['status'] = evaluate(slot['retained_bytes'], opts['slot_retained_bytes_warning'], opts['slot_retained_bytes_critical'])
            if slot['retained_bytes'] is None:
                slot['status'] = OK if slot['wal_status'] is None else slot['status']
            if not slot['active']:
                # an unused slot keeps WAL forever: worth a look even while small
                slot['status'] = worst([slot['status'], WARNING])
            if slot['wal_status'] == 'lost':
                slot['status'] = CRITICAL
            statuses.append(slot['status'])
        status = worst(statuses) if statuses else OK
        inactive = [s['slot_name'] for s in slots if not s['active']]
        msg = '%d slots, %d inactive%s' % (len(slots), len(inactive), ' (%s)' % ', '.join(inactive) if inactive else '')
        return Check('replication_slots', status, msg, slots=slots)

    def _check_wraparound(self, cur):
        opts = self.options
        cur.execute(_WRAPAROUND_SQL)
        rows = [dict(r) for r in cur.fetchall()]
        oldest = rows[0] if rows else {'datname': None, 'xid_age': None}
        status = evaluate(oldest['xid_age'], opts['xid_age_warning'], opts['xid_age_critical'])
        msg = 'oldest transaction ID age %s (database %s); wraparound at about 2147483647' % (oldest['xid_age'], oldest['datname'])
        return Check('wraparound', status, msg, max_xid_age=oldest['xid_age'], database=oldest['datname'], databases=rows)

    def _check_cache_hit_ratio(self, cur):
        opts = self.options
        cur.execute(_CACHE_SQL)
        row = dict(cur.fetchone())
        blocks = row['blocks_hit'] + row['blocks_read']
        if blocks < opts['cache_hit_min_blocks']:
            return Check.skipped('cache_hit_ratio', 'only %d blocks read since statistics were reset (need %d for a meaningful ratio)'
                                 % (blocks, opts['cache_hit_min_blocks']), ratio_percent=None, **row)
        ratio = round(100.0 * row['blocks_hit'] / blocks, 2)
        status = evaluate(ratio, opts['cache_hit_ratio_warning'], opts['cache_hit_ratio_critical'], comparison='lt')
        return Check('cache_hit_ratio', status, 'buffer cache hit ratio %.2f%%' % ratio, ratio_percent=ratio, **row)

    # -- state file ----------------------------------------------------------

    def write_state(self):
        """Atomically write the sizes of this run for the next run's growth figures."""
        path = self.options['state_file']
        if not path or self.state_to_write is None:
            return False
        directory = os.path.dirname(os.path.abspath(path))
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix='.pg_health.', dir=directory)
            with os.fdopen(fd, 'w') as handle:
                json.dump(self.state_to_write, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
            raise StateFileError('cannot write state_file %s: %s' % (path, exc)) from None
        return True


def _round(value):
    return round(value, 1) if value is not None else None
