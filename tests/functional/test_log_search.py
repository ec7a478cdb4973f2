# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""log_search as a process against the Elasticsearch 8 / 9 and OpenSearch 2 stub (tests/harness/es_stub.py).

The stub is a stub: it evaluates the module's query subset over seeded documents
and speaks the three wire formats; the expected figures here are computed from
the seed list with plain Python, independently of both.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'harness'))

import es_stub  # noqa: E402  pylint: disable=wrong-import-position

NOW = datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.timezone.utc)
PASSWORD = 'stub-pass-Zq81xk'


def seed_docs():
    """Deterministic logs: errors, phrase and non-phrase auth messages, security events, inside and just outside the windows."""
    docs = []
    for minute in range(0, 180, 2):  # three hours of app logs, every two minutes
        moment = NOW - datetime.timedelta(minutes=minute, seconds=30)
        service = ['registration', 'payment', 'eligibility'][minute % 3]
        level = 'ERROR' if minute % 4 == 0 else 'INFO'
        message = 'authentication failed for user u%d' % minute if minute % 6 == 0 else (
            'payment failed, authentication token refreshed' if minute % 10 == 0 else 'request served')
        docs.append(('dsr-logs-2026.12.02', {'@timestamp': moment.strftime('%Y-%m-%dT%H:%M:%S.000Z'), 'level': level, 'service': service,
                                             'message': message, 'source_ip': '203.0.113.%d' % (minute % 5)}))
    for hour in range(0, 30):
        moment = NOW - datetime.timedelta(hours=hour, minutes=10)
        docs.append(('security-logs-2026.12', {'@timestamp': moment.strftime('%Y-%m-%dT%H:%M:%S.000Z'),
                                               'severity': 'high' if hour % 3 == 0 else 'low', 'event': 'login_anomaly'}))
    return docs


def expected(docs):
    """The runbook's figures, computed from the seed list (the phrase for authentication failures)."""
    def within(source, seconds):
        moment = datetime.datetime.fromisoformat(source['@timestamp'].replace('Z', '+00:00'))
        return NOW - datetime.timedelta(seconds=seconds) <= moment <= NOW
    app = [s for index, s in docs if index.startswith('dsr-logs')]
    sec = [s for index, s in docs if index.startswith('security-logs')]
    return {
        'errors': sum(1 for s in app if within(s, 3600) and s['level'] == 'ERROR'),
        'auth_failures': sum(1 for s in app if within(s, 3600) and 'authentication failed' in s['message']),
        'either_word': sum(1 for s in app if within(s, 3600) and ('authentication' in s['message'] or 'failed' in s['message'])),
        'security_high': sum(1 for s in sec if within(s, 86400) and s['severity'] == 'high'),
        'errors_by_service': {svc: sum(1 for s in app if within(s, 3600) and s['level'] == 'ERROR' and s['service'] == svc)
                              for svc in ('registration', 'payment', 'eligibility')},
    }


def bulk(url, docs):
    lines = []
    for index, source in docs:
        lines += [json.dumps({'index': {'_index': index}}), json.dumps(source)]
    request = urllib.request.Request(url + '/_bulk', data=('\n'.join(lines) + '\n').encode(), method='POST',
                                     headers={'Content-Type': 'application/x-ndjson', 'Authorization': _basic()})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response)['errors'] is False


def _basic():
    import base64  # pylint: disable=import-outside-toplevel
    return 'Basic ' + base64.b64encode(('elastic:%s' % PASSWORD).encode()).decode()


def stub_call(url, method, path, body=None):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None, method=method,
                                     headers={'Content-Type': 'application/json', 'Authorization': _basic()})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture(params=sorted(es_stub.FLAVORS), scope='module')
def stub(request):
    server = es_stub.StubServer(request.param, username='elastic', password=PASSWORD, now=NOW).start()
    bulk(server.url, seed_docs())
    yield server
    server.shutdown()
    server.server_close()


def args(stub_server, **extra):
    base = {'hosts': [stub_server.url], 'username': 'elastic', 'password': PASSWORD, 'now': NOW.isoformat()}
    base.update(extra)
    return base


def test_runbook_presets_count_what_python_counts(stub, run_module):
    want = expected(seed_docs())
    result = run_module('log_search', args(stub, fail_on='never', searches=[
        {'name': 'errors', 'group_by': ['service.keyword'], 'histogram_interval': '15m'}, {'name': 'auth_failures'},
        {'name': 'security_high'}]))
    assert result['reachable'] is True, result
    assert result['cluster']['product'] == es_stub.FLAVORS[stub.flavor]['product']
    checks = result['checks']
    assert checks['errors']['count'] == want['errors'] > 0
    assert checks['auth_failures']['count'] == want['auth_failures'] > 0
    # the runbook's either-word match would have counted more; the preset asks for the phrase
    assert want['either_word'] > want['auth_failures']
    assert checks['security_high']['count'] == want['security_high'] > 0
    buckets = {b['key']: b['count'] for b in checks['errors']['groups']['service.keyword']['buckets']}
    assert buckets == {key: value for key, value in want['errors_by_service'].items() if value}
    assert sum(b['count'] for b in checks['errors']['histogram']) == want['errors'] and len(checks['errors']['histogram']) >= 4
    assert [s['source']['level'] for s in checks['errors']['sample']] == ['ERROR'] * 5
    assert result['status'] == 'ok'
    # plain JSON media types, whichever the product
    sent = stub_call(stub.url, 'GET', '/_stub/requests')['requests']
    assert {entry['accept'] for entry in sent if entry['path'] != '/_bulk'} == {'application/json'}


def test_thresholds_buckets_and_gate(stub, run_module):
    result = run_module('log_search', args(stub, searches=[{'name': 'auth_failures', 'group_by': ['source_ip.keyword'],
                                                            'bucket_warning': 1, 'critical': 2}]))
    assert result['failed'] is True and result['status'] == 'critical'
    assert result['checks']['auth_failures']['flagged'], result['checks']['auth_failures']
    assert 'log search is critical' in result['msg']


def test_no_index_missing_index_and_text_field_are_unknown(stub, run_module):
    result = run_module('log_search', args(stub, fail_on='never', searches=[
        {'name': 'nothing', 'index': 'no-such-logs-*', 'field': 'level', 'value': 'ERROR', 'since': '1h'},
        {'name': 'missing', 'index': 'no-such-index', 'field': 'level', 'value': 'ERROR', 'since': '1h'},
        {'name': 'text_group', 'preset': 'errors', 'group_by': ['service']}]))
    checks = result['checks']
    assert checks['nothing']['status'] == 'unknown' and 'matches no index' in checks['nothing']['msg']
    assert checks['missing']['status'] == 'unknown' and 'index_not_found_exception' in checks['missing']['msg']
    assert checks['text_group']['status'] == 'unknown' and 'keyword' in checks['text_group']['msg']


def test_shard_failures_and_timeouts_are_partial_warnings(stub, run_module):
    stub_call(stub.url, 'POST', '/_stub/faults', {'shard_failures': 1, 'total_shards': 5})
    try:
        result = run_module('log_search', args(stub, fail_on='never', searches=[{'name': 'errors'}]))
    finally:
        stub_call(stub.url, 'DELETE', '/_stub/faults')
    check = result['checks']['errors']
    assert check['status'] == 'warning' and check['msg'].startswith('partial results: 1 of 5 shards failed'), check['msg']


def test_refused_credentials_are_unknown_and_never_echoed(stub, run_module):
    result = run_module('log_search', args(stub, password='wrong-Secret-81', fail_on='never'))
    assert result['reachable'] is False and result['status'] == 'unknown'
    # Elasticsearch's security answers a security_exception; OpenSearch's security plugin a plain-text 'Unauthorized'
    reason = 'security_exception' if es_stub.FLAVORS[stub.flavor]['product'] == 'elasticsearch' else "'Unauthorized'"
    assert 'refused the credentials (HTTP 401, %s' % reason in result['checks']['errors']['msg']
    assert 'wrong-Secret-81' not in json.dumps(result)


def test_export_pages_every_hit_once_and_closes_its_pit(stub, run_module, tmp_path):
    extra = [('dsr-logs-2026.12.02', {'@timestamp': (NOW - datetime.timedelta(seconds=i % 600)).strftime('%Y-%m-%dT%H:%M:%S.000Z'),
                                      'level': 'WARN', 'service': 'export', 'message': 'row %d' % i}) for i in range(2500)]
    bulk(stub.url, extra)
    path = str(tmp_path / 'export.ndjson')
    search = {'name': 'warns', 'index': 'dsr-logs-*', 'field': 'service.keyword', 'value': 'export', 'match_type': 'term', 'since': '1h',
              'export_path': path, 'export_page_size': 300}
    result = run_module('log_search', args(stub, searches=[search]))
    lines = [json.loads(line) for line in open(path, encoding='utf-8')]
    assert result['checks']['warns']['count'] == 2500 and result['checks']['warns']['export']['hits'] == 2500
    assert sorted(line['_source']['message'] for line in lines) == sorted('row %d' % i for i in range(2500))
    assert len({line['_id'] for line in lines}) == 2500
    stamps = [line['_source']['@timestamp'] for line in lines]
    assert stamps == sorted(stamps, reverse=True)
    assert oct(os.stat(path).st_mode & 0o777) == '0o600' and result['changed'] is True
    assert stub_call(stub.url, 'GET', '/_stub/pits')['open'] == 0
    again = run_module('log_search', args(stub, searches=[search]))
    assert again['changed'] is False
    check_mode = run_module('log_search', dict(args(stub, searches=[dict(search, export_path=str(tmp_path / 'other.ndjson'))]),
                                               _ansible_check_mode=True))
    assert not os.path.exists(str(tmp_path / 'other.ndjson')) and check_mode['checks']['warns']['export']['planned_hits'] == 2500


def test_bad_options_name_the_option(stub, run_module):
    result = run_module('log_search', args(stub, hosts=['elastic:9200'], searches=[{'name': 'errors', 'since': 'a while'}]))
    assert result['failed'] is True
    assert 'hosts[0] must be an http:// or https:// URL' in result['msg'] and 'searches[0].since: cannot read' in result['msg']
    assert 'Traceback' not in result['_stderr']


def test_a_9x_client_media_type_is_refused_by_the_8x_stub():
    server = es_stub.StubServer('es8').start()
    try:
        request = urllib.request.Request(server.url + '/', headers={'Accept': 'application/vnd.elasticsearch+json; compatible-with=9'})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        body = json.load(info.value)
        assert info.value.code == 400 and body['error']['type'] == 'media_type_header_exception'
        assert 'Accept version must be either version 8 or 7, but found 9' in body['error']['caused_by']['reason']
    finally:
        server.shutdown()
        server.server_close()
