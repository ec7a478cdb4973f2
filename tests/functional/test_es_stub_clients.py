# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Elasticsearch 8 / 9 and OpenSearch 2 stub (tests/harness/es_stub.py) checked from outside.

The stub is a stub. These tests hold it to what the real products show the clients users run:
the official elasticsearch-py 8.x and 9.x (pinned in tests/requirements-es-clients.txt; scripts/test.sh
installs each into DSR_ES_CLIENTS/<major>, and each runs here in its own ``python -S`` process with
only that directory on its path), Debian's curl replaying the runbook's queries over HTTPS, and the
range query's date math and rounding rules. Every expected figure is computed from the seed with
plain Python (or, for the date math, written down from the reference's rules), never read from the
stub.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import shlex
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / 'harness'))

import dsr_harness  # noqa: E402  pylint: disable=wrong-import-position
import es_stub  # noqa: E402  pylint: disable=wrong-import-position

NOW = datetime.datetime(2026, 12, 2, 10, 17, 42, 123000, tzinfo=datetime.timezone.utc)
USER = 'elastic'
# random per run, so that finding one in an output means a leak
PASSWORD = 'pw-' + secrets.token_urlsafe(16)
KEY_ID = secrets.token_urlsafe(15)
KEY = secrets.token_urlsafe(16)
TOKEN = secrets.token_urlsafe(32)
ANONYMOUS = 'unable to authenticate with provided credentials and anonymous access is not allowed for this request'

# One client call per process: reads {"url", "ca", "auth", "calls"} on stdin, prints what each call returned or the
# exception (class, HTTP status, body, headers). Secrets travel on stdin, never in argv.
CLIENT = r'''
import json, sys
import elasticsearch
spec = json.load(sys.stdin)
auth = spec["auth"]
kwargs = {"ca_certs": spec["ca"], "request_timeout": 30}
if "basic" in auth:
    kwargs["basic_auth"] = tuple(auth["basic"])
if "api_key" in auth:
    kwargs["api_key"] = tuple(auth["api_key"])
if "bearer" in auth:
    kwargs["bearer_auth"] = auth["bearer"]
client = elasticsearch.Elasticsearch(spec["url"], **kwargs)
out = {"client": elasticsearch.__versionstr__, "paths": [m.__file__ for m in (elasticsearch, sys.modules["elastic_transport"])]}
try:
    for call in spec["calls"]:
        if call["op"] == "info":
            out["info"] = client.info().body
        elif call["op"] == "search":
            out["search"] = client.search(index=call["index"], query=call["query"], size=0).body["hits"]["total"]
        elif call["op"] == "count":
            out["count"] = client.count(index=call["index"], query=call["query"]).body["count"]
        elif call["op"] == "pit":
            pit = client.open_point_in_time(index=call["index"], keep_alive="1m").body["id"]
            page = client.search(pit={"id": pit, "keep_alive": "1m"}, query=call["query"], sort=[{"@timestamp": "desc"}], size=1000).body
            out["pit"] = {"hits": len(page["hits"]["hits"]), "tiebreaker": len(page["hits"]["hits"][0]["sort"]) == 2}
            out["pit_closed"] = client.close_point_in_time(id=pit).body
except Exception as exc:  # the class and what the client kept of the answer
    meta = getattr(exc, "meta", None)
    out["error"] = {"class": type(exc).__name__, "status": getattr(meta, "status", None), "body": getattr(exc, "body", None),
                    "headers": dict(meta.headers) if meta is not None else {}}
print(json.dumps(out, default=str))
'''

# The runbook's three queries (System Monitoring -> Log Monitoring; Security Operations -> Daily Security
# Monitoring), character for character; the test only swaps the host for the stub's and adds TLS and auth.
RUNBOOK = {
    'errors': '''curl -X GET "elasticsearch:9200/dsr-logs-*/_search" -H 'Content-Type: application/json' -d'
{
  "query": {
    "bool": {
      "must": [
        {"range": {"@timestamp": {"gte": "now-1h"}}},
        {"match": {"level": "ERROR"}}
      ]
    }
  }
}\'''',
    'auth_failures': '''curl -X GET "elasticsearch:9200/dsr-logs-*/_search" -H 'Content-Type: application/json' -d'
{
  "query": {
    "bool": {
      "must": [
        {"range": {"@timestamp": {"gte": "now-1h"}}},
        {"match": {"message": "authentication failed"}}
      ]
    }
  }
}\'''',
    'security_high': '''curl -X GET "elasticsearch:9200/security-logs-*/_search" -H 'Content-Type: application/json' -d'
{
  "query": {
    "bool": {
      "must": [
        {"range": {"@timestamp": {"gte": "now-24h"}}},
        {"match": {"severity": "high"}}
      ]
    }
  }
}\'''',
}

# Documents on the edges of the date-math cases below (UTC, millisecond precision).
EDGES = ['2026-11-29T23:59:59.999Z', '2026-11-30T00:00:00.000Z', '2026-11-30T23:59:59.999Z', '2026-12-01T00:00:00.000Z',
         '2026-12-01T10:17:42.122Z', '2026-12-01T10:17:42.123Z', '2026-12-01T10:17:42.124Z', '2026-12-01T22:59:59.999Z',
         '2026-12-01T23:00:00.000Z', '2026-12-01T23:59:59.999Z', '2026-12-02T00:00:00.000Z', '2026-12-02T08:59:59.999Z',
         '2026-12-02T09:00:00.000Z', '2026-12-02T09:59:59.999Z', '2026-12-02T10:00:00.000Z', '2026-12-02T10:17:42.123Z',
         '2026-12-02T22:59:59.999Z', '2026-12-02T23:00:00.000Z', '2026-12-02T23:59:59.999Z', '2026-12-03T00:00:00.000Z',
         '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z']

# (operator, value, time_zone, the bound the reference's rules give): gte and lt round down, gt and lte round up
# to the last millisecond of the unit; time_zone moves rounding and offset-less dates, never now (NOW: a Wednesday).
DATE_MATH = [
    ('gte', 'now-1h/h', None, '2026-12-02T09:00:00.000Z'),
    ('gt', 'now-1h/h', None, '2026-12-02T09:59:59.999Z'),
    ('lt', 'now-1h/h', None, '2026-12-02T09:00:00.000Z'),
    ('lte', 'now-1h/h', None, '2026-12-02T09:59:59.999Z'),
    ('gte', 'now/d', None, '2026-12-02T00:00:00.000Z'),
    ('gt', 'now/d', None, '2026-12-02T23:59:59.999Z'),
    ('lt', 'now/d', None, '2026-12-02T00:00:00.000Z'),
    ('lte', 'now/d', None, '2026-12-02T23:59:59.999Z'),
    ('gte', 'now-1d/d', None, '2026-12-01T00:00:00.000Z'),
    ('gte', 'now-24h', None, '2026-12-01T10:17:42.123Z'),
    ('gt', 'now-24h', None, '2026-12-01T10:17:42.123Z'),
    ('lt', 'now-24h', None, '2026-12-01T10:17:42.123Z'),
    ('lte', 'now-24h', None, '2026-12-01T10:17:42.123Z'),
    ('gte', '2026-12-01||-1d/d', None, '2026-11-30T00:00:00.000Z'),
    ('gt', '2026-12-01||-1d/d', None, '2026-11-30T23:59:59.999Z'),
    ('lt', '2026-12-01||-1d/d', None, '2026-11-30T00:00:00.000Z'),
    ('lte', '2026-12-01||-1d/d', None, '2026-11-30T23:59:59.999Z'),
    ('gte', 'now/w', None, '2026-11-30T00:00:00.000Z'),
    ('lte', 'now/M', None, '2026-12-31T23:59:59.999Z'),
    ('gte', 'now/d', '+01:00', '2026-12-01T23:00:00.000Z'),
    ('lte', 'now/d', 'Europe/Berlin', '2026-12-02T22:59:59.999Z'),
    ('gte', 'now-24h', '+01:00', '2026-12-01T10:17:42.123Z'),
    # a date without ||: gt and lte fill the missing time upwards (the whole day), gte and lt downwards
    ('lte', '2026-12-01', None, '2026-12-01T23:59:59.999Z'),
    ('gt', '2026-12-01', None, '2026-12-01T23:59:59.999Z'),
    ('gte', '2026-12-01', None, '2026-12-01T00:00:00.000Z'),
    ('gte', '2026-12-02T00:00:00', '+01:00', '2026-12-01T23:00:00.000Z'),
    ('gte', '2026-12-02T00:00:00Z', '+01:00', '2026-12-02T00:00:00.000Z'),
]
COMPARE = {'gt': lambda v, b: v > b, 'gte': lambda v, b: v >= b, 'lt': lambda v, b: v < b, 'lte': lambda v, b: v <= b}


def moment(text):
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def millis(text):
    return int(round(moment(text).timestamp() * 1000))


@pytest.fixture(scope='module')
def seed():
    return es_stub.dsr_documents(NOW) + [('edges-2026', {'@timestamp': stamp, 'level': 'INFO'}) for stamp in EDGES]


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """A harness CA and a server certificate for 127.0.0.1."""
    base = tmp_path_factory.mktemp('es-pki')
    ca = dsr_harness.HarnessCA(str(base))
    tls = ca.issue(str(base), 'elasticsearch', ca.now - dsr_harness.DAY, ca.now + 30 * dsr_harness.DAY)
    return {'ca': ca.root_file, 'chain': tls['chain'], 'key': tls['key']}


@pytest.fixture(scope='module')
def stubs(pki, seed):
    """The three flavours over HTTPS with basic auth, an API key and a bearer token, seeded, at NOW."""
    servers = {}
    for flavor in es_stub.FLAVORS:
        server = es_stub.StubServer(flavor, now=NOW, users={USER: PASSWORD}, api_keys={KEY_ID: KEY}, bearer_tokens=[TOKEN],
                                    certfile=pki['chain'], keyfile=pki['key'])
        server.store.bulk(es_stub.bulk_body(seed))
        servers[flavor] = server.start()
    yield servers
    for server in servers.values():
        server.shutdown()
        server.server_close()


def clients_dir(major):
    base = os.environ.get('DSR_ES_CLIENTS') or str(HERE.parents[2] / '.venv' / 'es-clients')
    path = os.path.join(base, major)
    if not os.path.isdir(os.path.join(path, 'elasticsearch')):
        pytest.fail('elasticsearch-py %s.x is not installed in %s: scripts/test.sh installs it (dsr_es_clients in scripts/lib.sh) '
                    'from tests/requirements-es-clients.txt' % (major, path))
    return path


def run_client(major, server, pki, calls, auth=None):
    """Run the pinned elasticsearch-py ``major`` against ``server``; its JSON report."""
    path = clients_dir(major)
    env = {key: value for key, value in os.environ.items() if not key.startswith(('PYTHON', 'ELASTIC'))}
    env['PYTHONPATH'] = path
    spec = {'url': server.url, 'ca': pki['ca'], 'auth': auth or {'basic': [USER, PASSWORD]}, 'calls': calls}
    proc = subprocess.run([sys.executable, '-S', '-c', CLIENT], input=json.dumps(spec), capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for secret in (PASSWORD, KEY, TOKEN):
        assert secret not in proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    # the client really came from its directory, not from the suite's virtualenv
    assert report['client'].split('.')[0] == major and all(p.startswith(path) for p in report['paths']), report
    return report


def stub_get(server, pki, path):
    context = ssl.create_default_context(cafile=pki['ca'])
    with urllib.request.urlopen(server.url + path, context=context, timeout=10) as response:
        return json.load(response)


def stub_request(server, pki, method, path, body=None, headers=None):
    """(status, headers, body bytes) of one request over HTTPS, with the basic credentials unless headers say otherwise."""
    context = ssl.create_default_context(cafile=pki['ca'])
    headers = dict({'Content-Type': 'application/json', 'Authorization': basic(USER, PASSWORD)}, **(headers or {}))
    request = urllib.request.Request(server.url + path, data=json.dumps(body).encode() if body is not None else None, method=method,
                                     headers={k: v for k, v in headers.items() if v is not None})
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def basic(user, password):
    import base64  # pylint: disable=import-outside-toplevel
    return 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()


def api_key_header(key_id, key):
    import base64  # pylint: disable=import-outside-toplevel
    return 'ApiKey ' + base64.b64encode(('%s:%s' % (key_id, key)).encode()).decode()


def words(text):
    return re.findall(r'\w+', str(text).lower())


def app_logs(seed):
    return [source for index, source in seed if index.startswith('dsr-logs-')]


def errors_last_hour(seed):
    """ERROR documents in [NOW - 1h, NOW], what the clients' range + match query asks for."""
    low, high = millis('2026-12-02T09:17:42.123Z'), millis('2026-12-02T10:17:42.123Z')
    return sum(1 for s in app_logs(seed) if s['level'] == 'ERROR' and low <= millis(s['@timestamp']) <= high)


CLIENT_QUERY = {'bool': {'filter': [{'range': {'@timestamp': {'gte': 'now-1h', 'lte': 'now'}}}, {'match': {'level': 'ERROR'}}]}}
CALLS = [{'op': 'info'}, {'op': 'search', 'index': 'dsr-logs-*', 'query': CLIENT_QUERY}, {'op': 'count', 'index': 'dsr-logs-*', 'query': CLIENT_QUERY},
         {'op': 'pit', 'index': 'dsr-logs-*', 'query': CLIENT_QUERY}]


def clear_requests(server, pki):
    context = ssl.create_default_context(cafile=pki['ca'])
    request = urllib.request.Request(server.url + '/_stub/requests', method='DELETE')
    with urllib.request.urlopen(request, context=context, timeout=10):
        pass


@pytest.mark.parametrize('major, flavor', [('8', 'es8'), ('8', 'es9'), ('9', 'es9')])
def test_the_official_client_works_where_it_should(stubs, pki, seed, major, flavor):
    server = stubs[flavor]
    clear_requests(server, pki)
    want = errors_last_hour(seed)
    assert want > 3
    report = run_client(major, server, pki, CALLS)
    assert 'error' not in report, report
    assert report['info']['version']['number'] == es_stub.FLAVORS[flavor]['number']
    assert report['search'] == {'value': want, 'relation': 'eq'}
    assert report['count'] == want
    assert report['pit'] == {'hits': want, 'tiebreaker': True}
    assert report['pit_closed'] == {'succeeded': True, 'num_freed': 1}
    assert stub_get(server, pki, '/_stub/pits')['open'] == 0
    # it spoke its own REST compatibility version, which is why this is a test of compatibility at all
    sent = stub_get(server, pki, '/_stub/requests')['requests']
    assert {entry['accept'] for entry in sent} == {'application/vnd.elasticsearch+json; compatible-with=%s' % major}
    assert {entry['authorization_scheme'] for entry in sent} == {'Basic'}


def test_the_9x_client_is_refused_by_an_8x_server(stubs, pki):
    report = run_client('9', stubs['es8'], pki, [{'op': 'info'}])
    error = report['error']
    assert error['class'] == 'BadRequestError' and error['status'] == 400, error
    assert error['body']['error']['type'] == 'media_type_header_exception'
    assert 'Accept version must be either version 8 or 7, but found 9' in error['body']['error']['caused_by']['reason']


@pytest.mark.parametrize('major', ['8', '9'])
def test_an_elastic_client_refuses_opensearch(stubs, pki, major):
    server = stubs['opensearch2']
    clear_requests(server, pki)
    report = run_client(major, server, pki, [{'op': 'info'}])
    error = report['error']
    assert error['class'] == 'UnsupportedProductError', error
    # OpenSearch answered (200, its own GET / body); the client refused it for the missing product header
    assert error['status'] == 200 and error['body']['version']['distribution'] == 'opensearch'
    assert 'x-elastic-product' not in {key.lower() for key in error['headers']}
    assert [entry['path'] for entry in stub_get(server, pki, '/_stub/requests')['requests']] == ['/']


@pytest.mark.parametrize('flavor', ['es8', 'es9'])
def test_api_keys_and_bearer_tokens_with_the_8x_client(stubs, pki, flavor):
    server = stubs[flavor]
    for auth, scheme in (({'api_key': [KEY_ID, KEY]}, 'ApiKey'), ({'bearer': TOKEN}, 'Bearer')):
        clear_requests(server, pki)
        report = run_client('8', server, pki, [{'op': 'info'}], auth=auth)
        assert report['info']['version']['number'] == es_stub.FLAVORS[flavor]['number'], report
        assert {entry['authorization_scheme'] for entry in stub_get(server, pki, '/_stub/requests')['requests']} == {scheme}
    refusals = [
        ({'basic': [USER, 'not-the-password']}, 'unable to authenticate user [elastic] for REST request [/]', None),
        ({'api_key': [KEY_ID, 'not-the-key']}, ANONYMOUS, 'API key: invalid credentials for API key [%s]' % KEY_ID),
        ({'api_key': ['no-such-id', KEY]}, ANONYMOUS, 'API key: unable to find apikey with id no-such-id'),
        ({'bearer': 'not-the-token'}, ANONYMOUS, 'oauth2 token: invalid token'),
    ]
    for auth, reason, unsuccessful in refusals:
        error = run_client('8', server, pki, [{'op': 'info'}], auth=auth)['error']
        assert error['class'] == 'AuthenticationException' and error['status'] == 401, error
        body = error['body']['error']
        assert body['type'] == 'security_exception' and body['reason'] == reason
        assert body.get('additional_unsuccessful_credentials') == unsuccessful
        # over HTTPS the token service is on: three challenges, in the body and as headers
        challenges = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', 'ApiKey']
        assert body['header'] == {'WWW-Authenticate': challenges}
        header = {key.lower(): value for key, value in error['headers'].items()}['www-authenticate']
        assert all(challenge in header for challenge in challenges), header


def test_opensearch_knows_basic_authentication_only(stubs, pki):
    server = stubs['opensearch2']
    assert stub_request(server, pki, 'GET', '/')[0] == 200
    for authorization in (api_key_header(KEY_ID, KEY), 'Bearer ' + TOKEN, basic(USER, 'not-the-password'), None):
        status, headers, body = stub_request(server, pki, 'GET', '/', headers={'Authorization': authorization})
        assert (status, body) == (401, b'Unauthorized')
        assert headers.get_all('WWW-Authenticate') == ['Basic realm="OpenSearch Security"']
        assert headers.get('Content-Type').startswith('text/plain')
    # an Accept it does not know is ignored; such a Content-Type with a body is refused
    compat = 'application/vnd.elasticsearch+json; compatible-with=8'
    assert stub_request(server, pki, 'GET', '/', headers={'Accept': compat})[0] == 200
    status, dummy, body = stub_request(server, pki, 'POST', '/dsr-logs-*/_search', {'size': 0}, headers={'Content-Type': compat})
    assert status == 406 and json.loads(body) == {'error': 'Content-Type header [%s] is not supported' % compat, 'status': 406}


def test_https_only_with_the_right_ca(stubs, pki, tmp_path):
    curl = shutil.which('curl')
    assert curl, 'curl is missing (Debian package curl)'
    url = stubs['es8'].url + '/'
    other_ca = dsr_harness.HarnessCA(str(tmp_path)).root_file
    # the system's CAs do not know the harness CA; another CA of the same names fails the signature check
    for extra in ([], ['--cacert', other_ca]):
        refused = subprocess.run([curl, '-sS', '-o', '/dev/null'] + extra + [url], capture_output=True, text=True, check=False, timeout=30)
        assert refused.returncode in (35, 60), refused
    plain = subprocess.run([curl, '-sS', '-o', '/dev/null', url.replace('https:', 'http:')], capture_output=True, check=False, timeout=30)
    assert plain.returncode != 0
    trusted = subprocess.run([curl, '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', pki['ca'], url], capture_output=True, text=True,
                             check=False, timeout=30)
    assert (trusted.returncode, trusted.stdout) == (0, '401')


def runbook_expected(seed):
    """What the runbook's queries count as written: a lower bound only, and match as OR of words."""
    since_hour, since_day = millis('2026-12-02T09:17:42.123Z'), millis('2026-12-01T10:17:42.123Z')
    app = app_logs(seed)
    sec = [source for index, source in seed if index.startswith('security-logs-')]
    return {
        'errors': sum(1 for s in app if millis(s['@timestamp']) >= since_hour and 'error' in words(s['level'])),
        'auth_failures': sum(1 for s in app if millis(s['@timestamp']) >= since_hour
                             and {'authentication', 'failed'} & set(words(s['message']))),
        'security_high': sum(1 for s in sec if millis(s['@timestamp']) >= since_day and 'high' in words(s['severity'])),
    }


@pytest.mark.parametrize('flavor', sorted(es_stub.FLAVORS))
def test_the_runbook_curl_queries_as_written(stubs, pki, seed, flavor, tmp_path):
    curl = shutil.which('curl')
    assert curl, 'curl is missing (Debian package curl)'
    server = stubs[flavor]
    netrc = tmp_path / 'netrc'
    netrc.write_text('machine 127.0.0.1 login %s password %s\n' % (USER, PASSWORD))
    netrc.chmod(0o600)
    want = runbook_expected(seed)
    counts = {}
    for name, command in RUNBOOK.items():
        argv = shlex.split(command)
        # -d'<newline>{...}' is one word, which curl reads as -d with its value attached
        body = [word for word in argv if word.startswith('-d')][0][len('-d'):]
        json.loads(body)  # each is valid JSON as written
        assert argv[0] == 'curl' and argv[3].startswith('elasticsearch:9200/')
        argv[3] = server.url + argv[3][len('elasticsearch:9200'):]
        proc = subprocess.run([curl, '--silent', '--show-error', '--cacert', pki['ca'], '--netrc-file', str(netrc)] + argv[1:],
                              capture_output=True, text=True, check=False, timeout=30)
        assert proc.returncode == 0, proc.stderr
        answer = json.loads(proc.stdout)
        assert answer['hits']['total']['relation'] == 'eq', answer
        counts[name] = answer['hits']['total']['value']
        assert PASSWORD not in proc.stdout + proc.stderr
    assert counts == want and min(want.values()) > 0
    # what the runbook's queries count beyond the presets: a future-dated document (no upper bound) and
    # messages with only one of the two words
    assert want['errors'] == errors_last_hour(seed) + 1
    phrase = sum(1 for s in app_logs(seed) if millis(s['@timestamp']) >= millis('2026-12-02T09:17:42.123Z')
                 and 'authentication failed' in s['message'])
    assert want['auth_failures'] > phrase > 0


@pytest.mark.parametrize('operator, value, zone, bound', DATE_MATH)
def test_date_math_rounds_by_operator(operator, value, zone, bound):
    got = es_stub.date_math(value, millis('2026-12-02T10:17:42.123Z'), round_up=operator in ('gt', 'lte'), zone=es_stub.time_zone(zone))
    assert got == millis(bound), (value, operator, datetime.datetime.fromtimestamp(got / 1000, datetime.timezone.utc).isoformat())


def test_range_queries_count_by_those_bounds(stubs, pki):
    server = stubs['es8']
    for operator, value, zone, bound in DATE_MATH:
        spec = {operator: value}
        if zone:
            spec['time_zone'] = zone
        status, dummy, body = stub_request(server, pki, 'POST', '/edges-*/_count', {'query': {'range': {'@timestamp': spec}}})
        assert status == 200, body
        want = sum(1 for stamp in EDGES if COMPARE[operator](millis(stamp), millis(bound)))
        assert json.loads(body)['count'] == want, (operator, value, zone)


@pytest.mark.parametrize('value, reason', [
    ('now/2d', 'rounding `/` can only be used on single unit types [/2d]'),
    ('now+1x', 'unit [x] not supported for date math [+1x]'),
    ('now-', 'truncated date math [-]'),
    ('yesterday', 'failed to parse date field [yesterday] with format [strict_date_optional_time||epoch_millis]'),
])
def test_date_math_elasticsearch_refuses(stubs, pki, value, reason):
    status, dummy, body = stub_request(stubs['es9'], pki, 'POST', '/edges-*/_search',
                                       {'query': {'range': {'@timestamp': {'gte': value}}}})
    error = json.loads(body)['error']
    assert status == 400 and error['type'] == 'search_phase_execution_exception'
    assert error['root_cause'][0]['type'] == 'parse_exception' and reason in error['root_cause'][0]['reason']
