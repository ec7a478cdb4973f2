# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""pg_health's decisions on canned catalog rows; the real server is in tests/integration."""

from __future__ import annotations

import json

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._postgres import health
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import PostgresConnectionError

SERVER = {'login_role': 'dsr_monitor', 'can_read_all_stats': True, 'in_recovery': False, 'version_num': 150018,
          'version': '15.18', 'uptime_seconds': 100.0, 'max_connections': 100, 'superuser_reserved_connections': 3, 'own_pid': 1}


def session(pid, **kw):
    row = {'pid': pid, 'usename': 'dsr_app', 'datname': 'dsr_db', 'application_name': 'app', 'client_addr': '10.0.0.5',
           'backend_type': 'client backend', 'state': 'idle', 'wait_event_type': None, 'wait_event': None,
           'query_seconds': 1.0, 'transaction_seconds': None, 'lock_wait_seconds': None, 'blocked_by': [], 'hidden': False, 'query': None}
    row.update(kw)
    return row


HIDDEN = dict(usename=None, backend_type=None, state=None, query_seconds=None, hidden=True)


class FakeCursor:
    """Answers each query of health.py with canned rows, keyed by a fragment of its SQL."""

    def __init__(self, answers):
        self.answers = answers
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        for fragment, rows in self.answers.items():
            if fragment in sql:
                self.rows = rows
                return
        self.rows = [{}]

    def fetchone(self):
        return self.rows[0]

    def fetchall(self):
        return self.rows


class FakeInfo:
    host, port, user, dbname, server_version = '10.0.0.1', 5432, 'dsr_monitor', 'dsr_db', 150018


class FakeConn:
    info = FakeInfo()

    def __init__(self, answers):
        self.answers = answers
        self.closed = False

    def cursor(self, cursor_factory=None):
        return FakeCursor(self.answers)

    def close(self):
        self.closed = True


def answers(server=None, sessions=(), **extra):
    data = {
        'AS login_role': [dict(SERVER, **(server or {}))],
        'FROM pg_stat_activity a': list(sessions),
        'FROM pg_stat_database WHERE datid <> 0 AND': [],
        'AS total FROM pg_stat_database': [{'total': 7}],
        'pg_database_size': [{'oid': 16384, 'datname': 'dsr_db', 'size_bytes': 1000, 'size_pretty': '1000 bytes'}],
        'FROM pg_stat_replication': [],
        'pg_last_wal_receive_lsn': [{'receive_lsn': '0/1', 'replay_lsn': '0/1', 'lag_bytes': 0, 'lag_seconds': 0, 'receiver_status': 'streaming'}],
        'FROM pg_replication_slots': [],
        'mxid_age': [{'datname': 'dsr_db', 'xid_age': 1000, 'multixact_age': 0}],
        'blks_hit': [{'blocks_hit': 990000, 'blocks_read': 10000}],
    }
    data.update(extra)
    return data


def run(options=None, now=lambda: 1000.0, **kw):
    conn = FakeConn(answers(**kw))
    result = health.HealthCheck(options or {}, now=now).run(lambda: (conn, 0.01))
    assert conn.closed
    return result


def test_healthy_server_is_ok():
    result = run(sessions=[session(2), session(3, state='active')])
    assert result['status'] == 'ok', result['summary']
    conns = result['checks']['connections']
    assert (conns['total'], conns['active'], conns['method']) == (2, 1, 'pg_stat_activity')


def test_unreachable_is_critical_and_other_checks_skipped():
    def refuse():
        raise PostgresConnectionError('unable to connect to PostgreSQL: connection refused')
    result = health.HealthCheck({}).run(refuse)
    assert result['status'] == 'critical'
    assert result['checks']['reachability']['reachable'] is False
    assert result['checks']['connections']['status'] == 'skipped'
    assert result['connection'] is None


@pytest.mark.parametrize('count, expected', [(80, 'ok'), (81, 'warning'), (95, 'warning'), (96, 'critical')])
def test_connection_thresholds_in_percent(count, expected):
    result = run(sessions=[session(i + 2) for i in range(count)])
    assert result['checks']['connections']['status'] == expected


def test_connection_thresholds_as_counts():
    result = run({'connections_unit': 'count', 'connections_warning': 3, 'connections_critical': 5}, sessions=[session(i + 2) for i in range(4)])
    assert result['checks']['connections']['status'] == 'warning'


def test_background_processes_are_not_client_connections():
    result = run(sessions=[session(2), session(3, backend_type='autovacuum worker'), session(4, backend_type='walsender')])
    assert result['checks']['connections']['total'] == 1


def test_long_query_and_transaction():
    result = run(sessions=[session(2, state='active', query_seconds=400.0, transaction_seconds=400.0),
                           session(3, state='idle in transaction', query_seconds=10.0, transaction_seconds=4000.0)])
    check = result['checks']['long_running']
    assert check['status'] == 'critical'
    assert [s['pid'] for s in check['long_queries']] == [2]
    assert [s['pid'] for s in check['long_transactions']] == [3]
    assert 'query' not in check['long_queries'][0]


def test_query_text_only_on_request():
    result = run({'include_query_text': True}, sessions=[session(2, state='active', query_seconds=400.0, query='SELECT 1')])
    assert result['checks']['long_running']['long_queries'][0]['query'] == 'SELECT 1'


def test_own_session_is_not_a_long_query():
    result = run(sessions=[session(1, state='active', query_seconds=5000.0)])
    assert result['checks']['long_running']['status'] == 'ok'


def test_hidden_sessions_make_session_checks_skipped_not_ok():
    result = run(server={'can_read_all_stats': False, 'login_role': 'dsr_limited'},
                 sessions=[session(2, **HIDDEN), session(3, **HIDDEN)])
    for name in ('long_running', 'blocked_sessions'):
        assert result['checks'][name]['status'] == 'skipped'
        assert 'pg_read_all_stats' in result['checks'][name]['msg']
    conns = result['checks']['connections']
    assert conns['method'] == 'pg_stat_database' and conns['total'] == 7 and conns['active'] is None
    assert result['can_read_all_stats'] is False


def test_visible_problem_is_reported_even_when_others_are_hidden():
    result = run(server={'can_read_all_stats': False, 'login_role': 'dsr_limited'},
                 sessions=[session(2, **HIDDEN), session(3, state='active', query_seconds=2000.0, usename='dsr_limited')])
    check = result['checks']['long_running']
    assert check['status'] == 'critical'
    assert 'pg_read_all_stats' in check['msg']


def test_blocked_session_wait_falls_back_to_query_age():
    result = run(sessions=[session(2, state='active', blocked_by=[3], lock_wait_seconds=None, query_seconds=45.0), session(3)])
    check = result['checks']['blocked_sessions']
    assert check['status'] == 'warning'
    assert check['blocked'][0]['blocked_by'] == [3]
    assert check['blocked'][0]['seconds'] == 45.0


def test_idle_caught_up_standby_has_zero_lag():
    standby = {'application_name': 's1', 'client_addr': '10.0.0.2', 'state': 'streaming', 'sync_state': 'async',
               'sent_lsn': '0/5', 'replay_lsn': '0/5', 'lag_bytes': 0, 'lag_seconds': None}
    result = run(**{'FROM pg_stat_replication': [standby]})
    check = result['checks']['replication']
    assert check['status'] == 'ok' and check['standbys'][0]['lag_seconds'] == 0.0


def test_missing_standby_is_critical_when_expected():
    result = run({'expect_standbys': 1})
    assert result['checks']['replication']['status'] == 'critical'


def test_lagging_standby():
    standby = {'application_name': 's1', 'client_addr': None, 'state': 'streaming', 'sync_state': 'async',
               'sent_lsn': '0/5', 'replay_lsn': '0/1', 'lag_bytes': 200 * 1024 * 1024, 'lag_seconds': 10.0}
    result = run(**{'FROM pg_stat_replication': [standby]})
    assert result['checks']['replication']['status'] == 'warning'


STANDBY_ROW = {'receive_lsn': '0/9', 'replay_lsn': '0/1', 'lag_bytes': 8, 'caught_up': False, 'last_replay_age_seconds': 2559.5,
               'replay_pause_state': 'not paused', 'receiver_status': 'streaming', 'sender_host': '10.0.0.1', 'sender_port': 5432,
               'slot_name': 'standby1', 'cluster_name': ''}


class PrimaryCursor:
    """The primary's pg_stat_replication row for this standby."""

    def __init__(self, rows):
        self.rows = rows

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        assert 'pg_stat_replication' in sql and args == {'slot': 'standby1', 'name': 'walreceiver'}

    def fetchall(self):
        return self.rows


class PrimaryConn:
    def __init__(self, rows):
        self.rows = rows

    def cursor(self):
        return PrimaryCursor(self.rows)

    def close(self):
        pass


def fake_connector(answer, asked):
    """A Connector class whose connect() records the options it was given and returns answer()."""
    class FakeConnector:
        def __init__(self, params):
            self.params = dict(params)

        def to(self, **changes):
            return FakeConnector(dict(self.params, **changes))

        def connect(self):
            asked.append(self.params)
            return answer()
    return FakeConnector


def test_a_quiet_standby_is_not_lagging_by_the_age_of_its_last_commit(monkeypatch):
    asked = []
    monkeypatch.setattr(health, 'Connector', fake_connector(lambda: (PrimaryConn([(0.44, 'standby1')]), 0.01), asked))
    result = run({'login_password': 'pw', 'replication_lag_seconds_warning': 60, 'replication_lag_seconds_critical': 300},
                 server={'in_recovery': True}, **{'pg_last_wal_receive_lsn': [dict(STANDBY_ROW)]})
    check = result['checks']['replication']
    assert check['status'] == 'ok' and check['lag_seconds'] == 0.44
    assert check['lag_seconds_source'] == 'primary 10.0.0.1:5432 pg_stat_replication.replay_lag'
    assert check['last_replay_age_seconds'] == 2559.5
    # the primary is asked with the same login, at the address the standby streams from
    assert asked[0]['login_host'] == '10.0.0.1' and asked[0]['login_password'] == 'pw'


def test_without_the_primary_the_lag_in_seconds_is_unknown_and_not_judged(monkeypatch):
    def refuse():
        raise health.PostgresConnectionError('unable to connect to PostgreSQL: refused')
    monkeypatch.setattr(health, 'Connector', fake_connector(refuse, []))
    result = run(server={'in_recovery': True}, **{'pg_last_wal_receive_lsn': [dict(STANDBY_ROW)]})
    check = result['checks']['replication']
    assert check['lag_seconds'] is None and check['lag_seconds_source'].startswith('unknown, the primary 10.0.0.1:5432 could not be asked')
    assert check['status'] == 'ok', 'judged on bytes only (8 bytes)'


def test_caught_up_is_zero_and_a_paused_replay_is_a_warning():
    row = dict(STANDBY_ROW, caught_up=True, lag_bytes=0, replay_pause_state='paused')
    check = run(server={'in_recovery': True}, **{'pg_last_wal_receive_lsn': [row]})['checks']['replication']
    assert check['lag_seconds'] == 0.0 and check['lag_seconds_source'].startswith('caught up')
    assert check['status'] == 'warning' and 'replay is paused' in check['msg']


def test_inactive_slot_is_a_warning_and_lost_is_critical():
    slots = [{'slot_name': 'old', 'slot_type': 'physical', 'database': None, 'active': False, 'wal_status': 'reserved', 'retained_bytes': 10},
             {'slot_name': 'ok', 'slot_type': 'physical', 'database': None, 'active': True, 'wal_status': 'reserved', 'retained_bytes': 10}]
    assert run(**{'FROM pg_replication_slots': slots})['checks']['replication_slots']['status'] == 'warning'
    slots[1]['wal_status'] = 'lost'
    assert run(**{'FROM pg_replication_slots': slots})['checks']['replication_slots']['status'] == 'critical'


def test_wraparound():
    assert run(**{'mxid_age': [{'datname': 'a', 'xid_age': 1_600_000_000, 'multixact_age': 0}]})['checks']['wraparound']['status'] == 'critical'


def test_cache_ratio_needs_enough_blocks():
    check = run(**{'blks_hit': [{'blocks_hit': 10, 'blocks_read': 5}]})['checks']['cache_hit_ratio']
    assert check['status'] == 'skipped' and 'blocks' in check['msg']
    check = run(**{'blks_hit': [{'blocks_hit': 92000, 'blocks_read': 8000}]})['checks']['cache_hit_ratio']
    assert check['status'] == 'warning' and check['ratio_percent'] == 92.0


def test_growth_from_state_file(tmp_path):
    path = tmp_path / 'state.json'
    first = health.HealthCheck({'state_file': str(path)}, now=lambda: 1000.0)
    first.run(lambda: (FakeConn(answers()), 0.01))
    assert first.write_state() is True
    assert oct(path.stat().st_mode & 0o777)  # exists
    sizes = [{'oid': 16384, 'datname': 'dsr_db', 'size_bytes': 1000 + 86400, 'size_pretty': 'x'}]
    second = health.HealthCheck({'state_file': str(path)}, now=lambda: 1000.0 + 86400)
    result = second.run(lambda: (FakeConn(answers(**{'pg_database_size': sizes})), 0.01))
    growth = result['checks']['database_sizes']['databases']['dsr_db']['growth']
    assert growth == {'bytes': 86400, 'seconds': 86400, 'bytes_per_day': 86400}


def test_recreated_database_starts_a_new_history(tmp_path):
    path = tmp_path / 'state.json'
    path.write_text(json.dumps({'version': 1, 'databases': {'dsr_db': {'size_bytes': 5, 'taken_at': 1.0, 'oid': 999}}}))
    result = run({'state_file': str(path)})
    assert 'growth' not in result['checks']['database_sizes']['databases']['dsr_db']


def test_corrupt_state_file_is_a_clear_error(tmp_path):
    path = tmp_path / 'state.json'
    path.write_text('{not json')
    with pytest.raises(health.StateFileError, match='cannot read state_file'):
        run({'state_file': str(path)})


def test_named_database_missing_is_unknown():
    check = run({'databases': ['dsr_db', 'nope']})['checks']['database_sizes']
    assert check['status'] == 'unknown' and check['missing'] == ['nope']


def test_selected_checks_only():
    result = run({'checks': ['server']})
    assert sorted(result['checks']) == ['reachability', 'server']


def test_failing_query_makes_the_sub_check_unknown():
    class Boom(FakeCursor):
        def execute(self, sql, args=None):
            if 'pg_replication_slots' in sql:
                raise health.psycopg2.errors.InsufficientPrivilege('permission denied')
            super().execute(sql, args)

    conn = FakeConn(answers())
    conn.cursor = lambda cursor_factory=None: Boom(conn.answers)
    result = health.HealthCheck({}).run(lambda: (conn, 0.01))
    assert result['checks']['replication_slots']['status'] == 'unknown'
    assert result['status'] == 'unknown'
