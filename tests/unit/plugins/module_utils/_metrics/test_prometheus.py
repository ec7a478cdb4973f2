# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Prometheus client's handling of answers, credentials and options, without a server."""

from __future__ import annotations

import io
import json
import urllib.error

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._metrics import prometheus as prom


class Response(io.BytesIO):
    def __init__(self, status, body):
        super().__init__(body if isinstance(body, bytes) else json.dumps(body).encode())
        self.status = status


def client_answering(status, body, **kw):
    seen = {}

    def opener(request, timeout):
        seen['request'] = request
        if status >= 400:
            raise urllib.error.HTTPError(request.full_url, status, 'error', {}, io.BytesIO(body if isinstance(body, bytes) else json.dumps(body).encode()))
        return Response(status, body)
    return prom.PrometheusClient('https://prom.example:9090/', opener=opener, **kw), seen


def test_success_returns_data_and_warnings():
    client, seen = client_answering(200, {'status': 'success', 'data': {'resultType': 'vector', 'result': []}, 'warnings': ['w1']})
    data, warnings = client.query('up')
    assert data['resultType'] == 'vector' and warnings == ['w1']
    request = seen['request']
    assert request.full_url == 'https://prom.example:9090/api/v1/query'
    assert request.get_method() == 'POST' and request.data == b'query=up'


def test_bad_query_is_a_query_error():
    client, _unused = client_answering(400, {'status': 'error', 'errorType': 'bad_data', 'error': 'parse error at char 5'})
    with pytest.raises(prom.PrometheusQueryError, match=r'HTTP 400, bad_data: parse error at char 5'):
        client.query('sum(')


@pytest.mark.parametrize('status', [401, 403])
def test_refused_credentials_are_connection_errors(status):
    client, _unused = client_answering(status, b'Unauthorized', username='u', password='s3cret')
    with pytest.raises(prom.PrometheusConnectionError) as info:
        client.query('up')
    assert 'refused the credentials (HTTP %d)' % status in str(info.value)
    assert 's3cret' not in str(info.value)


def test_something_else_than_prometheus():
    client, _unused = client_answering(200, b'<html>Grafana</html>')
    with pytest.raises(prom.PrometheusConnectionError, match='did not answer like the Prometheus HTTP API'):
        client.query('up')


def test_unreachable():
    def opener(request, timeout):
        raise urllib.error.URLError(ConnectionRefusedError(111, 'Connection refused'))
    client = prom.PrometheusClient('http://127.0.0.1:1', opener=opener)
    with pytest.raises(prom.PrometheusConnectionError, match='unable to reach Prometheus at http://127.0.0.1:1: Connection refused'):
        client.query('up')


def test_authorization_headers():
    basic = prom.PrometheusClient('http://p', username='dsr', password='pw')
    assert basic.headers['Authorization'] == 'Basic ZHNyOnB3'
    bearer = prom.PrometheusClient('http://p', bearer_token='tok')
    assert bearer.headers['Authorization'] == 'Bearer tok'
    assert 'Authorization' not in prom.PrometheusClient('http://p').headers


@pytest.mark.parametrize('params, message', [
    ({}, 'url is required: set the url option or the PROMETHEUS_URL environment variable'),
    ({'url': 'prom:9090'}, 'must be an http:// or https:// URL'),
    ({'url': 'https://admin:hunter2@prom.example'}, 'url must not hold credentials'),
    ({'url': 'https://prom.example/?x=1'}, 'without a query string'),
    ({'url': 'http://p', 'password': 'x'}, 'password needs username'),
    ({'url': 'http://p', 'username': 'u'}, 'username needs password'),
    ({'url': 'http://p', 'username': 'u', 'password': 'x', 'bearer_token': 't'}, 'use either bearer_token or username/password'),
    ({'url': 'http://p', 'timeout': 0}, 'timeout must be more than 0'),
])
def test_validate_connection_params(params, message):
    problems = prom.validate_connection_params(params)
    assert any(message in p for p in problems)
    assert not any('hunter2' in p for p in problems)


@pytest.mark.parametrize('params, environ, expected, secrets', [
    ({}, {'PROMETHEUS_BEARER_TOKEN': 't'}, {'bearer_token': 't'}, ['t']),
    ({}, {'PROMETHEUS_USERNAME': 'u', 'PROMETHEUS_PASSWORD': 'p'}, {'username': 'u', 'password': 'p'}, ['p']),
    # an explicit option keeps the environment's credentials out entirely
    ({'username': 'u', 'password': 'p'}, {'PROMETHEUS_BEARER_TOKEN': 't'}, {'username': 'u', 'password': 'p'}, []),
    ({'username': ''}, {'PROMETHEUS_PASSWORD': 'p'}, {'username': ''}, []),
])
def test_credentials_fall_back_together(params, environ, expected, secrets):
    params = dict(params)
    found = prom.resolve_credentials(params, environ)
    assert {k: v for k, v in params.items() if v is not None} == expected
    assert found == secrets
