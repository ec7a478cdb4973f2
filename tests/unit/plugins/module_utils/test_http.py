# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shared JSON-over-HTTP client: auth in headers only, safe URLs in messages, timeouts and TLS named."""

from __future__ import annotations

import io
import json
import socket
import urllib.error

import pytest

from ansible_collections.dsr.ops.plugins.module_utils import _http


class Answer(io.BytesIO):
    def __init__(self, status, body, headers=None):
        super().__init__(body)
        self.status = status
        self.headers = headers or {}


def test_safe_url_and_url_problems():
    assert _http.safe_url('https://user:pw@es.dsr:9200/prefix?x=1') == 'https://es.dsr:9200/prefix'
    assert _http.url_problems('hosts[0]', 'es.dsr:9200', 'https://es.dsr:9200', 'use username') == [
        "hosts[0] must be an http:// or https:// URL such as https://es.dsr:9200, got 'es.dsr:9200'"]
    problem = _http.url_problems('url', 'https://u:secret@p:9090', 'x', 'give username and password')
    assert problem == ['url must not hold credentials: give username and password'] and 'secret' not in problem[0]
    assert _http.url_problems('url', 'https://p:9090/prom', 'x', 'y') == []


def test_authorization_kinds():
    assert _http.authorization(username='dsr', password='pw') == 'Basic ZHNyOnB3'
    assert _http.authorization(bearer_token='tok', username='dsr') == 'Bearer tok'
    assert _http.authorization(api_key='a2V5') == 'ApiKey a2V5'
    assert _http.authorization() is None


def test_a_request_sends_json_and_reads_json_with_an_error_status_as_an_answer():
    seen = []

    def opener(request, timeout):
        seen.append((request.get_method(), request.full_url, request.get_header('Content-type'), request.data, timeout))
        raise urllib.error.HTTPError(request.full_url, 404, 'Not Found', {'X-Elastic-Product': 'Elasticsearch'},
                                     io.BytesIO(b'{"error": {"type": "index_not_found_exception"}}'))
    client = _http.JsonHttpClient('https://es.dsr:9200/', 'Elasticsearch', 'ApiKey k', timeout=7, opener=opener)
    status, payload, raw, headers = client.request('POST', '/logs-*/_search', body={'size': 0})
    assert status == 404 and payload['error']['type'] == 'index_not_found_exception'
    assert headers == {'X-Elastic-Product': 'Elasticsearch'}
    assert seen == [('POST', 'https://es.dsr:9200/logs-*/_search', 'application/json', json.dumps({'size': 0}).encode(), 7)]
    assert client.headers['Authorization'] == 'ApiKey k'


@pytest.mark.parametrize('error, words', [
    (urllib.error.URLError(ConnectionRefusedError(111, 'Connection refused')), 'unable to reach Elasticsearch at https://es.dsr:9200: Connection refused'),
    (socket.timeout('timed out'), 'no answer from Elasticsearch at https://es.dsr:9200 within 3 s (timeout)'),
])
def test_unreachable_is_a_safe_message(error, words):
    def opener(request, timeout):
        raise error
    client = _http.JsonHttpClient('https://user:pw@es.dsr:9200', 'Elasticsearch', timeout=3, opener=opener)
    with pytest.raises(_http.HttpConnectionError) as caught:
        client.request('GET', '/')
    assert str(caught.value) == words and 'pw' not in str(caught.value)


def test_a_missing_client_certificate_names_the_file(tmp_path):
    client = _http.JsonHttpClient('https://es.dsr:9200', 'Elasticsearch', client_cert=str(tmp_path / 'none.pem'))
    with pytest.raises(_http.HttpConnectionError, match='cannot load the client certificate .*none.pem'):
        client.request('GET', '/')


def test_a_body_that_is_not_json_is_none():
    client = _http.JsonHttpClient('http://p', 'Prometheus', opener=lambda request, timeout: Answer(200, b'<html>'))
    assert client.request('GET', '/')[1] is None
    assert _http.snippet(b'<html>hello</html>') == "'<html>hello</html>'"
