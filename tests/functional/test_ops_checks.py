# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""dsr.ops.ops_checks as a process: the checks of several environments in one run, against the harness's real
PostgreSQL 15 and TLS endpoints and the Kubernetes API stub (tests/harness/k8s_stub.py, a stub that serves the API's
wire format for these reads, nothing more).

Each check must give what its own module gives for the same options; a check that cannot run must not stop the others;
no credential may reach the output.
"""

from __future__ import annotations

import datetime
import json

import pytest

from conftest import connection_args, k8s_stub_server


TOKEN = 'ops-checks-test-token-5e2a9c7d1f'
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


@pytest.fixture(scope='module')
def stub(tmp_path_factory):
    server = k8s_stub_server(tmp_path_factory, TOKEN, 'healthy', 'k8s')
    yield server
    server.stop()


def endpoint(tls_service, name):
    found = tls_service['endpoints'][name]
    return {'host': found['host'], 'port': found['port'], 'name': name, 'server_name': 'localhost'}


def params_of(harness, tls_service, stub):
    """The options of three checks, as a task would give them."""
    return {
        'certificates': ('cert_expiry', {'endpoints': [endpoint(tls_service, 'days90'), endpoint(tls_service, 'expired')],
                                         'ca_cert': tls_service['ca_cert'], 'now': NOW}),
        'database': ('pg_health', dict(connection_args(harness), checks=['server', 'connections'])),
        'kubernetes': ('k8s_health', {'host': stub.url, 'api_key': TOKEN, 'ca_cert': stub.ca_cert, 'namespace': 'dsr-production'}),
    }


def comparable(result):
    """What must agree between a module's own run and ops_checks': verdicts and words, not timings."""
    picked = {key: result.get(key) for key in ('status', 'summary', 'changed', 'failed_checks')}
    if 'checks' in result:
        picked['checks'] = {name: check['status'] for name, check in result['checks'].items()}
    if 'certificates' in result:
        picked['certificates'] = [(c['name'], c['status'], c.get('days_remaining')) for c in result['certificates']]
    return picked


def test_each_check_gives_what_its_own_module_gives(harness, tls_service, stub, run_module):
    stub.load_scenario(['healthy'])
    checks = params_of(harness, tls_service, stub)
    environments = [{'name': name, 'checks': [{'name': check, 'module': module, 'params': params}
                                              for check, (module, params) in checks.items()]}
                    for name in ('production', 'staging')]
    batch = run_module('ops_checks', {'environments': environments, 'parallel': 4})
    assert batch['failed'] is False if 'failed' in batch else True, batch.get('msg')
    assert batch['environments'] == 2 and batch['checks'] == 6, batch['msg']
    assert batch['msg'].startswith('ran 6 checks of 2 environments in ')
    for check, (module, params) in checks.items():
        alone = run_module(module, dict(params, fail_on='never'))
        assert alone.get('failed') is not True, alone.get('msg')
        for name in ('production', 'staging'):
            got = batch['environment_results'][name][check]
            assert got['failed'] is False, got.get('msg')
            assert comparable(got) == comparable(alone), check
    # the expired certificate is critical in both environments, and the database and cluster are healthy
    assert batch['environment_results']['staging']['certificates']['status'] == 'critical'
    assert batch['environment_results']['production']['database']['status'] == 'ok'
    assert batch['environment_results']['production']['kubernetes']['status'] == 'ok'
    assert set(batch['elapsed']['staging']) == {'certificates', 'database', 'kubernetes'}
    out = json.dumps(batch)
    assert harness['passwords']['postgres'] not in out and TOKEN not in out


def test_a_check_that_cannot_run_does_not_stop_the_others(harness, tls_service, stub, run_module):
    stub.load_scenario(['healthy'])
    environments = [
        {'name': 'bad-options', 'checks': [
            {'name': 'certificates', 'module': 'cert_expiry', 'params': {'endpoints': [endpoint(tls_service, 'days90')], 'bogus': 1}},
            {'name': 'backup', 'module': 'pg_backup_verify', 'params': {'path': '/nonexistent/x.dump', 'max_age': 'soon'}},
        ]},
        {'name': 'wrong-password', 'checks': [
            {'name': 'database', 'module': 'pg_health', 'params': dict(connection_args(harness), login_password='wrong-pw-6f1d2a')},
            {'name': 'kubernetes', 'module': 'k8s_health', 'params': {'host': stub.url, 'api_key': 'not-the-token-81c3', 'ca_cert': stub.ca_cert}},
        ]},
        {'name': 'healthy', 'checks': [
            {'name': 'certificates', 'module': 'cert_expiry', 'params': {'endpoints': [endpoint(tls_service, 'days90')],
                                                                         'ca_cert': tls_service['ca_cert']}},
        ]},
    ]
    batch = run_module('ops_checks', {'environments': environments})
    results = batch['environment_results']
    unsupported = results['bad-options']['certificates']
    assert unsupported['failed'] is True and unsupported['msg'] == 'Unsupported parameters for (dsr.ops.cert_expiry) module: bogus. ' \
        'Supported parameters include: ca_cert, contents, critical_days, endpoints, fail_on, files, hostname_mismatch, now, timeout, ' \
        'untrusted, warning_days.', unsupported['msg']
    invalid = results['bad-options']['backup']
    assert invalid['failed'] is True and 'max_age' in invalid['msg'], invalid['msg']
    # a wrong password is a finding of the check (unreachable), a refused token the Kubernetes check's unknown
    assert results['wrong-password']['database']['status'] in ('critical', 'unknown')
    assert results['wrong-password']['kubernetes']['status'] == 'unknown'
    assert results['healthy']['certificates']['status'] == 'ok' and results['healthy']['certificates']['failed'] is False
    assert sorted(batch['failed_checks']) == ['bad-options/backup', 'bad-options/certificates']
    out = json.dumps(batch)
    assert 'Traceback' not in out
    for secret in ('wrong-pw-6f1d2a', 'not-the-token-81c3', harness['passwords']['postgres']):
        assert secret not in out, secret


def test_its_own_bad_input_names_the_option(run_module):
    twice = run_module('ops_checks', {'environments': [{'name': 'a', 'checks': []}, {'name': 'a', 'checks': []}], 'parallel': 0})
    assert twice['failed'] is True
    assert 'parallel must be at least 1, got 0' in twice['msg'] and 'environments: each name once; named more than once: a' in twice['msg']
    unknown = run_module('ops_checks', {'environments': [{'name': 'a', 'checks': [{'name': 'x', 'module': 'pg_dump_all'}]}]})
    assert unknown['failed'] is True and 'pg_dump_all' in unknown['msg'] and 'module' in unknown['msg']
    empty = run_module('ops_checks', {'environments': [{'name': 'a', 'checks': []}]})
    assert empty.get('failed') is not True and empty['checks'] == 0 and empty['environment_results'] == {'a': {}}


def test_check_mode_reaches_the_checks(harness, run_module, tmp_path):
    state = tmp_path / 'pg-health-state.json'
    params = dict(connection_args(harness), checks=['server', 'database_sizes'], state_file=str(state))
    environments = [{'name': 'production', 'checks': [{'name': 'database', 'module': 'pg_health', 'params': params}]}]
    checked = run_module('ops_checks', {'environments': environments, '_ansible_check_mode': True})
    assert checked['environment_results']['production']['database']['status'] == 'ok'
    assert checked['environment_results']['production']['database']['state_file_written'] is False and not state.exists()
    real = run_module('ops_checks', {'environments': environments})
    assert real['environment_results']['production']['database']['state_file_written'] is True and state.exists()
