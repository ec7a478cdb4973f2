# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Small servers the harness runs next to the real ones (started by dsr_harness.py).

* ``exporter``: a Prometheus exporter serving known values, as an application
  (``http_requests_total``, the ``http_request_duration_seconds`` histogram),
  node_exporter (CPU, memory, filesystems) and postgres_exporter (connections)
  would, for each *profile* (one ``instance``). Values are controlled over HTTP
  so that tests can put them below or above thresholds:

  - ``POST /control/profile`` (JSON, one profile, upserted by ``instance``),
    ``DELETE /control/profile/<instance>``;
  - ``POST /control/gauge`` ``{"name": ..., "value": 1.5 | "NaN" | "+Inf"}`` for
    ``dsr_test_gauge{name=...}``, ``DELETE /control/gauge/<name>``;
  - ``POST /control/flaky`` ``{"healthy": false}`` makes ``/metrics/flaky`` answer
    503, so Prometheus records ``up == 0`` for that scrape job;
  - ``GET /control/state``.

  Counters are integrated from the moment a rate is set, so they only grow and
  ``rate()`` over them returns the configured per-second rates.

* ``tls``: TLS servers (Python's ssl), one port per certificate chain, from a
  JSON list of ``{"port", "chain", "key"}``. Each completes the handshake and
  closes the connection.

* ``bearer-proxy``: a reverse proxy that accepts ``Authorization: Bearer <token>``
  only and forwards to Prometheus (HTTPS, basic auth), because Prometheus's own
  web server has basic auth but no bearer tokens; tokens in front of it usually
  come from such a proxy.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0)

PROFILE_DEFAULTS = {
    'job': 'dsr-api',
    'requests_2xx_per_second': 20.0,
    'requests_5xx_per_second': 0.0,
    'latency_seconds': 0.3,
    'cpus': 2,
    'cpu_busy_percent': 35.0,
    'memory_total_bytes': 8 * 1024 ** 3,
    'memory_used_percent': 45.0,
    'filesystems': {'/': 40.0},
    'filesystem_size_bytes': 100 * 1024 ** 3,
    'pg_connections': 12,
    'pg_max_connections': 100,
}

_RATES = ('requests_2xx_per_second', 'requests_5xx_per_second', 'cpu_busy_percent', 'latency_seconds', 'cpus')


def _number(value):
    if isinstance(value, str):
        return float(value)  # 'NaN', '+Inf', '-Inf'
    return float(value)


def _format(value):
    if math.isnan(value):
        return 'NaN'
    if math.isinf(value):
        return '+Inf' if value > 0 else '-Inf'
    return repr(float(value))


class Profile:
    """One monitored instance; counters integrate the rates over time."""

    def __init__(self, settings, now):
        self.settings = dict(PROFILE_DEFAULTS)
        self.counters = {'2xx': 0.0, '5xx': 0.0, 'idle': 0.0, 'user': 0.0, 'system': 0.0, 'latency_sum': 0.0,
                         'buckets': [0.0] * (len(LATENCY_BUCKETS) + 1)}
        self.since = now
        self.update(settings, now)

    def advance(self, now):
        """Add what the current rates produced since the last call."""
        elapsed = max(0.0, now - self.since)
        s = self.settings
        ok, errors = s['requests_2xx_per_second'] * elapsed, s['requests_5xx_per_second'] * elapsed
        c = self.counters
        c['2xx'] += ok
        c['5xx'] += errors
        busy = s['cpu_busy_percent'] / 100.0
        c['idle'] += (1 - busy) * elapsed
        c['user'] += busy * 0.8 * elapsed
        c['system'] += busy * 0.2 * elapsed
        observed = ok + errors
        c['latency_sum'] += observed * s['latency_seconds']
        for index, bound in enumerate(LATENCY_BUCKETS + (math.inf,)):
            if s['latency_seconds'] <= bound:
                c['buckets'][index] += observed
        self.since = now

    def update(self, settings, now):
        self.advance(now)
        self.settings.update(settings)

    def lines(self, now):
        self.advance(now)
        s, c = self.settings, self.counters
        inst = s['instance']
        app = 'job="%s",instance="%s"' % (s['job'], inst)
        out = ['http_requests_total{%s,method="GET",status="200"} %s' % (app, _format(c['2xx']))]
        if c['5xx'] > 0 or s['requests_5xx_per_second'] > 0:
            # an application that never failed exports no 5xx series at all
            out.append('http_requests_total{%s,method="GET",status="500"} %s' % (app, _format(c['5xx'])))
        for bound, count in zip(LATENCY_BUCKETS + (math.inf,), c['buckets']):
            out.append('http_request_duration_seconds_bucket{%s,le="%s"} %s' % (app, '+Inf' if math.isinf(bound) else repr(bound), _format(count)))
        out.append('http_request_duration_seconds_sum{%s} %s' % (app, _format(c['latency_sum'])))
        out.append('http_request_duration_seconds_count{%s} %s' % (app, _format(c['buckets'][-1])))
        node = 'job="node",instance="%s"' % inst
        for cpu in range(int(s['cpus'])):
            for mode in ('idle', 'user', 'system'):
                out.append('node_cpu_seconds_total{%s,cpu="%d",mode="%s"} %s' % (node, cpu, mode, _format(c[mode])))
        total = float(s['memory_total_bytes'])
        out.append('node_memory_MemTotal_bytes{%s} %s' % (node, _format(total)))
        out.append('node_memory_MemAvailable_bytes{%s} %s' % (node, _format(total * (100 - _number(s['memory_used_percent'])) / 100)))
        size = float(s['filesystem_size_bytes'])
        for mountpoint, used in sorted(s['filesystems'].items()):
            fs = '%s,device="/dev/vd%s",fstype="ext4",mountpoint="%s"' % (node, 'a' if mountpoint == '/' else 'b', mountpoint)
            out.append('node_filesystem_size_bytes{%s} %s' % (fs, _format(size)))
            out.append('node_filesystem_avail_bytes{%s} %s' % (fs, _format(size * (100 - _number(used)) / 100)))
        out.append('node_filesystem_size_bytes{%s,device="tmpfs",fstype="tmpfs",mountpoint="/run"} 1048576.0' % node)
        out.append('node_filesystem_avail_bytes{%s,device="tmpfs",fstype="tmpfs",mountpoint="/run"} 0.0' % node)
        pg = 'job="postgres",instance="%s"' % inst
        out.append('pg_stat_database_numbackends{%s,datname="dsr_db"} %s' % (pg, _format(_number(s['pg_connections']))))
        out.append('pg_stat_database_numbackends{%s,datname="postgres"} 0.0' % pg)
        out.append('pg_settings_max_connections{%s} %s' % (pg, _format(_number(s['pg_max_connections']))))
        return out


class ExporterState:
    def __init__(self, profiles):
        self.lock = threading.Lock()
        self.profiles = {}
        self.gauges = {}
        self.flaky_healthy = True
        now = time.time()
        for settings in profiles:
            self.profiles[settings['instance']] = Profile(settings, now)

    def render(self):
        with self.lock:
            now = time.time()
            lines = [
                '# TYPE http_requests_total counter',
                '# TYPE http_request_duration_seconds histogram',
                '# TYPE node_cpu_seconds_total counter',
                '# TYPE node_memory_MemTotal_bytes gauge',
                '# TYPE node_memory_MemAvailable_bytes gauge',
                '# TYPE node_filesystem_size_bytes gauge',
                '# TYPE node_filesystem_avail_bytes gauge',
                '# TYPE pg_stat_database_numbackends gauge',
                '# TYPE pg_settings_max_connections gauge',
            ]
            for name in sorted(self.profiles):
                lines += self.profiles[name].lines(now)
            lines.append('# TYPE dsr_test_gauge gauge')
            for name, value in sorted(self.gauges.items()):
                lines.append('dsr_test_gauge{name="%s"} %s' % (name, _format(value)))
            return '\n'.join(lines) + '\n'

    def snapshot(self):
        with self.lock:
            return {'profiles': {k: p.settings for k, p in self.profiles.items()},
                    'gauges': {k: _format(v) for k, v in self.gauges.items()}, 'flaky_healthy': self.flaky_healthy}


def exporter_handler(state):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002  pylint: disable=redefined-builtin
            pass

        def _send(self, code, body, content_type='application/json'):
            data = body.encode('utf-8')
            self.send_response(code)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self):
            length = int(self.headers.get('Content-Length') or 0)
            return json.loads(self.rfile.read(length) or b'{}')

        def do_GET(self):  # noqa: N802
            if self.path == '/metrics':
                self._send(200, state.render(), 'text/plain; version=0.0.4')
            elif self.path == '/metrics/flaky':
                if state.flaky_healthy:
                    self._send(200, '# TYPE dsr_flaky_ok gauge\ndsr_flaky_ok 1\n', 'text/plain; version=0.0.4')
                else:
                    self._send(503, 'made unhealthy by a test\n', 'text/plain')
            elif self.path == '/control/state':
                self._send(200, json.dumps(state.snapshot()))
            else:
                self._send(404, '{"error": "not found"}')

        def do_POST(self):  # noqa: N802
            try:
                body = self._json()
                with state.lock:
                    if self.path == '/control/profile':
                        instance = body['instance']
                        if instance in state.profiles:
                            state.profiles[instance].update(body, time.time())
                        else:
                            state.profiles[instance] = Profile(body, time.time())
                    elif self.path == '/control/gauge':
                        state.gauges[body['name']] = _number(body['value'])
                    elif self.path == '/control/flaky':
                        state.flaky_healthy = bool(body['healthy'])
                    else:
                        self._send(404, '{"error": "not found"}')
                        return
            except (KeyError, ValueError, TypeError) as exc:
                self._send(400, json.dumps({'error': 'bad control request: %s' % exc}))
                return
            self._send(200, json.dumps(state.snapshot()))

        def do_DELETE(self):  # noqa: N802
            with state.lock:
                if self.path.startswith('/control/profile/'):
                    state.profiles.pop(self.path.rsplit('/', 1)[1], None)
                elif self.path.startswith('/control/gauge/'):
                    state.gauges.pop(self.path.rsplit('/', 1)[1], None)
            self._send(200, json.dumps(state.snapshot()))

    return Handler


def serve_exporter(port, profiles_file):
    with open(profiles_file, encoding='utf-8') as handle:
        profiles = json.load(handle)
    server = ThreadingHTTPServer(('127.0.0.1', port), exporter_handler(ExporterState(profiles)))
    server.daemon_threads = True
    server.serve_forever()


def serve_tls(config_file):
    with open(config_file, encoding='utf-8') as handle:
        servers = json.load(handle)
    threads = []
    for entry in servers:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(entry['chain'], entry['key'])
        listener = socket.create_server(('127.0.0.1', entry['port']))
        thread = threading.Thread(target=_tls_loop, args=(listener, context), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()


def _tls_loop(listener, context):
    while True:
        client, _address = listener.accept()
        threading.Thread(target=_tls_one, args=(client, context), daemon=True).start()


def _tls_one(client, context):
    client.settimeout(10)
    try:
        with context.wrap_socket(client, server_side=True) as tls:
            tls.sendall(b'dsr.ops harness TLS endpoint\n')
    except (OSError, ssl.SSLError):
        pass  # clients that hang up after reading the certificate are the normal case
    finally:
        client.close()


def serve_bearer_proxy(port, token, upstream, username, password, ca_cert):
    context = ssl.create_default_context(cafile=ca_cert)
    basic = 'Basic ' + base64.b64encode(('%s:%s' % (username, password)).encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002  pylint: disable=redefined-builtin
            pass

        def _forward(self, method):
            if self.headers.get('Authorization') != 'Bearer ' + token:
                body = b'{"status":"error","errorType":"unauthorized","error":"a valid bearer token is required"}'
                self.send_response(401)
                self.send_header('WWW-Authenticate', 'Bearer')
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            length = int(self.headers.get('Content-Length') or 0)
            data = self.rfile.read(length) if length else None
            request = urllib.request.Request(upstream + self.path, data=data, method=method)
            request.add_header('Authorization', basic)
            if self.headers.get('Content-Type'):
                request.add_header('Content-Type', self.headers['Content-Type'])
            try:
                with urllib.request.urlopen(request, context=context, timeout=30) as response:
                    code, body, ctype = response.status, response.read(), response.headers.get('Content-Type', 'application/json')
            except urllib.error.HTTPError as exc:
                code, body, ctype = exc.code, exc.read(), exc.headers.get('Content-Type', 'application/json')
            self.send_response(code)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            self._forward('GET')

        def do_POST(self):  # noqa: N802
            self._forward('POST')

    server = ThreadingHTTPServer(('127.0.0.1', port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='server', required=True)
    exporter = sub.add_parser('exporter')
    exporter.add_argument('--port', type=int, required=True)
    exporter.add_argument('--profiles', required=True, help='JSON file: list of initial profiles')
    tls = sub.add_parser('tls')
    tls.add_argument('--config', required=True, help='JSON file: list of {port, chain, key}')
    proxy = sub.add_parser('bearer-proxy')
    proxy.add_argument('--port', type=int, required=True)
    proxy.add_argument('--config', required=True, help='JSON file (0600): token, upstream, username, password, ca_cert')
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.server == 'exporter':
        serve_exporter(args.port, args.profiles)
    elif args.server == 'tls':
        serve_tls(args.config)
    else:
        with open(args.config, encoding='utf-8') as handle:
            config = json.load(handle)
        serve_bearer_proxy(args.port, config['token'], config['upstream'], config['username'], config['password'], config['ca_cert'])


if __name__ == '__main__':
    main()
