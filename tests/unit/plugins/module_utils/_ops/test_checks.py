# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""secrets_in: the credentials inside ops_checks' per-check options, found before any validation."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._ops.checks import secrets_in


def test_known_checks_no_log_options_and_unknown_ones_by_name(monkeypatch):
    monkeypatch.delenv('K8S_AUTH_API_KEY', raising=False)
    environments = [
        {'name': 'prod', 'checks': [
            {'name': 'database', 'module': 'pg_health', 'params': {'login_host': 'db.dsr', 'login_password': 'pg-s3cret', 'port': 5432}},
            {'name': 'kubernetes', 'module': 'k8s_health', 'params': {'host': 'https://k8s.dsr', 'api_key': 'k8s-t0ken', 'namespace': 'dsr-production'}},
            {'name': 'errors', 'module': 'log_search', 'params': {'hosts': ['https://es.dsr:9200'], 'password': 'es-pa55'}},
        ]},
        {'name': 'staging', 'checks': [
            {'name': 'x', 'module': 'pg_healthy', 'params': {'login_password': 'typo-s3cret', 'login_host': 'db2.dsr'}},
            {'name': 'y', 'params': {'api_token': 'no-module-t0ken'}},
            {'name': 'z', 'module': 'pg_health', 'params': 'not a dict'},
        ]},
        'not an environment',
    ]
    found = secrets_in(environments)
    assert {'pg-s3cret', 'k8s-t0ken', 'es-pa55', 'typo-s3cret', 'no-module-t0ken'} <= found
    assert not found & {'db.dsr', 'db2.dsr', 'https://k8s.dsr', 'dsr-production', '5432'}


def test_credentials_the_check_would_read_from_the_environment(monkeypatch):
    monkeypatch.setenv('K8S_AUTH_API_KEY', 'from-awx-t0ken')
    found = secrets_in([{'name': 'prod', 'checks': [{'name': 'kubernetes', 'module': 'k8s_health', 'params': {'host': 'https://k8s.dsr'}}]}])
    assert 'from-awx-t0ken' in found


def test_nothing_to_find_in_malformed_input():
    assert secrets_in(None) == set()
    assert secrets_in([{'checks': None}, {'checks': [None, 3]}]) == set()
