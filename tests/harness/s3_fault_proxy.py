# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A fault-injecting HTTP proxy for the S3 tests: a test tool, not a model of S3.

It sits between boto3 and the harness's S3 server (moto) and, for a share of
the requests chosen by a seeded random generator, misbehaves the way networks
and overloaded stores do:

* ``error500``: answers ``500 InternalError`` (S3's XML error body) without
  forwarding the request;
* ``drop``: reads the request and closes the connection with no answer;
* ``drop_after``: forwards the request (the store applies it) and closes the
  connection before the answer, so the client cannot know it succeeded;
* ``truncate``: forwards a GET and sends only the first half of the body
  before closing (a download stream cut mid-way).

Every other request is forwarded unchanged. ``faults`` counts what was injected.

    python tests/harness/s3_fault_proxy.py --upstream http://127.0.0.1:PORT --port 0 --ratio 0.2
"""

from __future__ import annotations

import argparse
import http.client
import random
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MODES = ('error500', 'drop', 'drop_after', 'truncate')
HOP_BY_HOP = {'connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'te', 'trailer', 'upgrade'}
ERROR_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
              b'<Message>We encountered an internal error. Please try again.</Message></Error>')


class FaultProxy:
    """A proxy in a background thread; ``url`` is where clients connect."""

    def __init__(self, upstream, ratio=0.2, modes=MODES, seed=1, host='127.0.0.1', port=0):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port or 80)
        self.ratio = ratio
        self.modes = tuple(modes)
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.faults = {mode: 0 for mode in MODES}
        self.requests = 0
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = 'http://%s:%d' % self.server.server_address[:2]
        self.thread = None

    def draw(self, method):
        """The fault for the next request, or None."""
        with self.lock:
            self.requests += 1
            if self.random.random() >= self.ratio:
                return None
            modes = [m for m in self.modes if m != 'truncate' or method == 'GET']
            if not modes:
                return None
            mode = self.random.choice(modes)
            self.faults[mode] += 1
            return mode

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, name='s3-fault-proxy', daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    owner = None  # set by FaultProxy

    def log_message(self, format, *args):  # noqa: A002  pylint: disable=redefined-builtin
        pass

    def _read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return b''.join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self):
        body = self._read_body()
        fault = self.owner.draw(self.command)
        if fault == 'drop':
            return self._drop()
        if fault == 'error500':
            self.send_response(500)
            self.send_header('Content-Type', 'application/xml')
            self.send_header('Content-Length', str(len(ERROR_BODY)))
            self.end_headers()
            self.wfile.write(ERROR_BODY)
            return None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body or self.command in ('PUT', 'POST'):
            headers['Content-Length'] = str(len(body))
        upstream = http.client.HTTPConnection(*self.owner.upstream, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            status, reason, answer_headers = answer.status, answer.reason, answer.getheaders()
        finally:
            upstream.close()
        if fault == 'drop_after':
            return self._drop()
        self.send_response(status, reason)
        for name, value in answer_headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != 'content-length':
                self.send_header(name, value)
        declared = next((v for n, v in answer_headers if n.lower() == 'content-length'), None)
        self.send_header('Content-Length', declared if self.command == 'HEAD' and declared else str(len(payload)))
        self.end_headers()
        if self.command == 'HEAD':
            return None
        if fault == 'truncate' and len(payload) > 1:
            self.wfile.write(payload[:len(payload) // 2])
            self.wfile.flush()
            return self._drop()
        self.wfile.write(payload)
        return None

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', 1)[0])
    parser.add_argument('--upstream', required=True)
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--ratio', type=float, default=0.2)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    proxy = FaultProxy(args.upstream, ratio=args.ratio, seed=args.seed, port=args.port)
    print(proxy.url, flush=True)
    proxy.server.serve_forever()


if __name__ == '__main__':
    main()
