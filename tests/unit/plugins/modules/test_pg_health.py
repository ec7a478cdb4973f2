# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""pg_health's main(), driven through ansible-core's own testing helper, without a server."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import PostgresConnectionError
from ansible_collections.dsr.ops.plugins.module_utils._postgres import health_entry
from ansible_collections.dsr.ops.plugins.modules import pg_health


class refuse:  # noqa: N801  pylint: disable=invalid-name
    """A Connector whose server refuses every connection."""

    def __init__(self, params):
        self.params = params

    def __call__(self):
        raise PostgresConnectionError('unable to connect to PostgreSQL: connection refused')


def run_main(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            pg_health.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('args, fragment', [
    ({'connections_warning': 150}, 'connections_warning is a percent of max_connections'),
    ({'connections_warning': 96}, 'connections_warning/connections_critical: the critical threshold (95.0) must not be lower'),
    ({'connections_unit': 'count', 'connections_warning': 150, 'connections_critical': 200}, None),
    ({'port': 0}, 'port must be between 1 and 65535'),
    ({'expect_standbys': -1}, 'expect_standbys must be 0 or more'),
    ({'checks': ['nope']}, 'value of checks must be one or more of'),
    ({'xid_age_warning': 'old'}, "argument 'xid_age_warning' is of type"),
])
def test_bad_input_is_a_clear_message(args, fragment, capsys, monkeypatch):
    monkeypatch.setattr(health_entry, 'Connector', refuse)
    result = run_main(dict(args, login_password='s3cret-value'), capsys)
    if fragment is None:
        assert 'invalid options' not in result['msg']
        return
    assert result['failed'] is True
    assert fragment in result['msg']
    assert 's3cret-value' not in json.dumps(result)


def test_missing_psycopg2_names_the_library(capsys, monkeypatch):
    monkeypatch.setitem(_deps._ERRORS, 'psycopg2', 'Traceback: No module named psycopg2')  # pylint: disable=protected-access
    result = run_main({}, capsys)
    assert result['failed'] is True
    assert 'psycopg2' in result['msg']
    assert 'Failed to import the required Python library' in result['msg']


def test_unreachable_fails_critical_without_the_password(capsys, monkeypatch):
    monkeypatch.setattr(health_entry, 'Connector', refuse)
    result = run_main({'login_password': 's3cret-value'}, capsys)
    assert result['failed'] is True
    assert result['status'] == 'critical'
    assert result['failed_checks'] == ['reachability']
    assert 'connection refused' in result['msg']
    assert 's3cret-value' not in json.dumps(result)


def test_unreachable_with_fail_on_never_reports(capsys, monkeypatch):
    monkeypatch.setattr(health_entry, 'Connector', refuse)
    result = run_main({'fail_on': 'never'}, capsys)
    assert 'failed' not in result or result['failed'] is False
    assert result['changed'] is False
    assert result['status'] == 'critical'
