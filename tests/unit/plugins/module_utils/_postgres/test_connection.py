# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._postgres import connection as pgc


def params(**overrides):
    base = {name: None for name in pgc.postgres_argument_spec()}
    base.update(overrides)
    return base


def test_unset_options_are_left_to_libpq():
    kwargs = pgc.connection_kwargs(params(), environ={})
    # nothing but our two defaults: libpq reads PGHOST, PGUSER, PGPASSWORD, .pgpass itself
    assert kwargs == {'connect_timeout': 10, 'application_name': 'dsr.ops'}


def test_environment_timeout_and_appname_win_over_our_defaults():
    kwargs = pgc.connection_kwargs(params(), environ={'PGCONNECT_TIMEOUT': '3', 'PGAPPNAME': 'awx'})
    assert kwargs == {}


def test_options_map_to_libpq_keywords():
    kwargs = pgc.connection_kwargs(params(login_host='db1', port=5433, login_user='u', login_password='s3cret', login_db='dsr_db',
                                          ssl_mode='verify-full', ca_cert='/ca.pem', connect_timeout=4), environ={})
    assert kwargs == {'host': 'db1', 'port': 5433, 'user': 'u', 'password': 's3cret', 'dbname': 'dsr_db', 'sslmode': 'verify-full',
                      'sslrootcert': '/ca.pem', 'connect_timeout': 4, 'application_name': 'dsr.ops'}


def test_host_wins_over_socket():
    assert pgc.connection_kwargs(params(login_host='db1', login_unix_socket='/run/pg'), environ={})['host'] == 'db1'
    assert pgc.connection_kwargs(params(login_unix_socket='/run/pg'), environ={})['host'] == '/run/pg'


def test_libpq_environment_carries_password_in_env_only():
    env = pgc.Connector(params(login_host='db1', login_password='s3cret'), environ={'PATH': '/bin'}).environment()
    assert env['PGPASSWORD'] == 's3cret'
    assert env['PGHOST'] == 'db1'
    assert env['PATH'] == '/bin'


@pytest.mark.parametrize('overrides, fragment', [
    ({'port': 0}, 'port must be between 1 and 65535'),
    ({'port': 70000}, 'port must be between 1 and 65535'),
    ({'connect_timeout': 0}, 'connect_timeout must be at least 1'),
    ({'ssl_cert': '/c.pem'}, 'ssl_cert and ssl_key must be given together'),
])
def test_validate_connection_params(overrides, fragment):
    problems = pgc.validate_connection_params(params(**overrides))
    assert any(fragment in p for p in problems)


def test_valid_params_have_no_problems():
    assert pgc.validate_connection_params(params(port=5432, connect_timeout=5)) == []


def test_scrub_removes_password():
    assert pgc._scrub('FATAL: bad s3cret here', {'login_password': 's3cret'}) == 'FATAL: bad ******** here'


@pytest.mark.parametrize('num, text', [(150018, '15.18'), (90624, '9.6.24'), (160000, '16.0')])
def test_server_version_string(num, text):
    assert pgc.server_version_string(num) == text


def test_password_option_is_no_log():
    assert pgc.postgres_argument_spec()['login_password']['no_log'] is True


def test_connector_is_the_one_way_to_postgresql(monkeypatch):
    connector = pgc.Connector(params(login_host='db1', login_user='u', login_password='s3cret', login_db='dsr_db', ssl_mode='verify-full',
                                     ca_cert='/ca.pem', surplus='ignored'), environ={'PATH': '/bin'})
    assert 'surplus' not in connector.params
    env = connector.environment('scratch_db')
    assert env['PGDATABASE'] == 'scratch_db' and env['PGSSLMODE'] == 'verify-full' and env['PGPASSWORD'] == 's3cret' and env['PATH'] == '/bin'
    assert connector.environment()['PGDATABASE'] == 'dsr_db'
    primary = connector.to(login_host='db0', port=5433)
    assert primary.kwargs['host'] == 'db0' and primary.kwargs['sslrootcert'] == '/ca.pem' and connector.kwargs['host'] == 'db1'
    opened = []
    monkeypatch.setattr(pgc.psycopg2, 'connect', lambda **kwargs: opened.append(kwargs) or type('Conn', (), {'autocommit': None})())
    conn, seconds = connector.connect('other_db')
    assert opened[-1]['dbname'] == 'other_db' and opened[-1]['sslmode'] == 'verify-full' and conn.autocommit is True and seconds >= 0
    connector()
    assert opened[-1]['dbname'] == 'dsr_db'
