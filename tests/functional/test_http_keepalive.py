# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""module_utils/_http.JsonHttpClient over real sockets: one kept-alive connection per client, a
connection the server closed while idle opened again (a request is never sent twice on a fresh
connection), and a proxy from the environment still used (urllib then sends the request).

The servers here are plain http.server instances of this file that count connections and
requests; they stand for no real service.
"""

from __future__ import annotations

import http.server
import importlib
import json
import sys
import threading

import pytest

from conftest import _collections_root


@pytest.fixture(scope='module')
def http_module(tmp_path_factory):
    root = _collections_root(tmp_path_factory.mktemp('collections'))
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module('ansible_collections.dsr.ops.plugins.module_utils._http')


class Counting(http.server.ThreadingHTTPServer):
    """Counts connections and requests; ``close_after`` closes each connection after that many answers, without saying so."""

    def __init__(self, close_after=None, drop_unanswered=False):
        self.connections = 0
        self.requests = []
        self.close_after = close_after
        self.drop_unanswered = drop_unanswered
        super().__init__(('127.0.0.1', 0), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def setup(self):
        super().setup()
        self.server.connections += 1
        self.answered = 0

    def _answer(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        self.server.requests.append({'method': self.command, 'path': self.path, 'body': body, 'headers': dict(self.headers.items())})
        if self.server.drop_unanswered:
            # the connection breaks before any answer: the client cannot know whether the request was acted on
            self.close_connection = True
            return
        payload = json.dumps({'n': len(self.server.requests), 'path': self.path}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.answered += 1
        if self.server.close_after is not None and self.answered >= self.server.close_after:
            self.close_connection = True

    do_GET = _answer  # noqa: N815  http.server's hook names
    do_POST = _answer  # noqa: N815

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY'):
        monkeypatch.delenv(name, raising=False)


def test_one_connection_for_many_requests(http_module, no_proxy_env):
    server = Counting()
    try:
        client = http_module.JsonHttpClient(server.url + '/prefix', 'Prometheus', 'Bearer t0ken')
        answers = [client.request('POST', '/api/v1/query', form={'query': 'up'}) for dummy in range(5)]
        answers.append(client.request('GET', '/api/v1/status/buildinfo'))
        client.close()
    finally:
        server.stop()
    assert server.connections == 1
    assert [a[0] for a in answers] == [200] * 6
    assert [a[1]['n'] for a in answers] == [1, 2, 3, 4, 5, 6]
    assert server.requests[0]['path'] == '/prefix/api/v1/query'
    assert server.requests[0]['body'] == b'query=up'
    assert server.requests[0]['headers']['Authorization'] == 'Bearer t0ken'
    assert server.requests[5]['path'] == '/prefix/api/v1/status/buildinfo'


def test_a_connection_closed_while_idle_is_opened_again(http_module, no_proxy_env):
    server = Counting(close_after=1)
    try:
        client = http_module.JsonHttpClient(server.url, 'Elasticsearch')
        answers = [client.request('GET', '/_search?q=%d' % number) for number in range(3)]
    finally:
        server.stop()
    # every request answered once, each on a connection of its own, none sent twice
    assert [a[1]['n'] for a in answers] == [1, 2, 3]
    assert [r['path'] for r in server.requests] == ['/_search?q=0', '/_search?q=1', '/_search?q=2']
    assert server.connections == 3


def test_a_request_that_broke_a_fresh_connection_is_not_sent_again(http_module, no_proxy_env):
    server = Counting(drop_unanswered=True)
    try:
        client = http_module.JsonHttpClient(server.url, 'webhook')
        with pytest.raises(http_module.HttpConnectionError) as caught:
            client.request('POST', '/hooks/dsr', body={'text': 'report'})
    finally:
        server.stop()
    assert len(server.requests) == 1
    assert 'unable to reach webhook at %s' % server.url in str(caught.value)


def test_refused_is_a_clear_message(http_module, no_proxy_env):
    server = Counting()
    url = server.url
    server.stop()
    client = http_module.JsonHttpClient(url, 'Prometheus')
    with pytest.raises(http_module.HttpConnectionError) as caught:
        client.request('GET', '/api/v1/query')
    assert str(caught.value) == 'unable to reach Prometheus at %s: Connection refused' % url


def test_a_proxy_from_the_environment_is_used(http_module, monkeypatch, no_proxy_env):
    proxy = Counting()
    target = 'http://prometheus.dsr.invalid:9090'
    try:
        monkeypatch.setenv('http_proxy', proxy.url)
        client = http_module.JsonHttpClient(target, 'Prometheus')
        status, payload, dummy_raw, dummy_headers = client.request('GET', '/api/v1/query?query=up')
        # no_proxy for the host: straight to it (here: a name that does not resolve)
        monkeypatch.setenv('no_proxy', 'prometheus.dsr.invalid')
        with pytest.raises(http_module.HttpConnectionError):
            http_module.JsonHttpClient(target, 'Prometheus').request('GET', '/api/v1/query?query=up')
    finally:
        proxy.stop()
    assert status == 200 and payload['n'] == 1
    # a proxy gets the absolute URL
    assert [r['path'] for r in proxy.requests] == [target + '/api/v1/query?query=up']
