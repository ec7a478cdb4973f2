# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate DSR-shaped nginx access logs (``combined`` format) and application logs, deterministically.

What a day at a DSR front end looks like, in miniature:

* many client IPs with a long tail (a few heavy clients, tens of thousands seen once or twice);
* a few brute-force IPs hammering the login paths (``POST /api/auth/login``, ``POST /login``) with 401s
  (and the odd 403 once they are blocked);
* one burst IP sending hundreds of requests within a single minute;
* a status mix (2xx, 3xx, 404, 401/403, 429, 5xx), referrers, user agents, sizes;
* some malformed lines (truncated, binary junk, empty, a TLS handshake sent to the HTTP port), at
  ``--malformed-rate`` per line, so a parser's malformed counter has something to count;
* timestamps in order, one request every few milliseconds over ``--span`` ending at ``--end``, in
  the time zone ``--tz`` (nginx writes local time), with the little disorder nginx's workers produce.

The same ``--seed`` gives the same bytes, whatever the machine.

    python tools/access_log_gen.py --output /tmp/acl/access.log --size 1GB
    python tools/access_log_gen.py --output /tmp/acl/access.log.gz --size 1GB      # gzip'd (level 6)
    python tools/access_log_gen.py --out /tmp/sandbox/logs --size 20MB

``--out DIR`` writes what a host keeps: ``DIR/nginx/access.log`` (the last third of the span),
``DIR/nginx/access.log.1`` (the middle third), ``DIR/nginx/access.log.2.gz`` (the first third, gzip'd), and
application logs ``DIR/dsr/app.log``, ``DIR/dsr/auth.log`` and ``DIR/dsr/auth.log.1.gz`` with
``authentication failed`` lines among others, as ``/var/log/dsr/*.log`` holds them. It prints a JSON summary
(files, lines, the brute-force and burst IPs) that tests may use as hints; tests should count with
awk and grep themselves.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import random
import re
import sys

MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')

_SIZE_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$', re.IGNORECASE)
_UNITS = {'': 1, 'b': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30, 't': 1 << 40}

AGENTS = (
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36',
    'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
    'DSR-Field-App/3.2.1 (Android 13; build 3210)',
    'python-requests/2.31.0',
    'curl/8.5.0',
    'Prometheus/2.51.0',
    'kube-probe/1.29',
)
REFERERS = ('-', '-', '-', 'https://dsr.example.gov.ph/', 'https://dsr.example.gov.ph/households', 'https://www.google.com/')
STATIC = ('/static/app.js', '/static/app.css', '/static/logo.png', '/favicon.ico', '/static/fonts/inter.woff2')
ATTACK_AGENTS = ('python-requests/2.31.0', 'Hydra v9.5', 'Mozilla/5.0 (compatible; credential-checker)')


def parse_size(text):
    """Bytes for ``5MB``, ``200 MB``, ``1GB``, ``1.5GiB``, ``800k`` or ``123456`` (binary units)."""
    match = _SIZE_RE.match(str(text))
    if not match:
        raise ValueError('cannot read size %r: use a number with an optional unit, e.g. 5MB, 200MB, 1GB' % (text,))
    value = int(float(match.group(1)) * _UNITS[(match.group(2) or '')[:1].lower()])
    if value <= 0:
        raise ValueError('size must be positive, got %r' % (text,))
    return value


def parse_tz(text):
    """A ``+0800`` / ``-0500`` offset as a datetime.timezone."""
    match = re.match(r'^([+-])(\d\d)(\d\d)$', text)
    if not match:
        raise ValueError('time zone must look like +0800 or -0500, got %r' % (text,))
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return datetime.timezone(datetime.timedelta(minutes=-minutes if match.group(1) == '-' else minutes))


class Generator:
    """Draws requests; ``lines(n, start, end)`` yields ``n`` combined-format lines between two epochs."""

    def __init__(self, seed=42, ips=50000, malformed_rate=0.0005, tz='+0800', brute_force_ips=3, burst_requests=1500):
        self.rng = random.Random(seed)
        self.tz = parse_tz(tz)
        self.tz_text = tz
        rng = self.rng
        self.ips = ['%d.%d.%d.%d' % (rng.choice((49, 58, 112, 120, 122, 175, 180, 202, 203, 210)), rng.randrange(256), rng.randrange(256),
                                     rng.randrange(1, 255)) for dummy in range(ips)]
        # a few IPv6 clients too
        for index in range(0, ips, 97):
            self.ips[index] = '2001:4450:%x:%x::%x' % (rng.randrange(65536), rng.randrange(65536), rng.randrange(1, 65536))
        self.brute_force = ['185.220.%d.%d' % (101 + k, 7 + k) for k in range(brute_force_ips)]
        self.burst_ip = '45.155.205.99'
        self.burst_requests = burst_requests
        self.malformed_rate = malformed_rate
        self.stats = {'lines': 0, 'malformed': 0}
        self._stamp_cache = (None, None)

    def _client(self):
        # log-uniform over the pool: index 0 is the heaviest client, the tail is seen a handful of times
        return self.ips[int(len(self.ips) ** self.rng.random()) - 1]

    def _stamp(self, epoch):
        second = int(epoch)
        if self._stamp_cache[0] != second:
            moment = datetime.datetime.fromtimestamp(second, self.tz)
            self._stamp_cache = (second, '%02d/%s/%04d:%02d:%02d:%02d %s' % (moment.day, MONTHS[moment.month - 1], moment.year, moment.hour,
                                                                             moment.minute, moment.second, self.tz_text))
        return self._stamp_cache[1]

    def _ordinary(self):
        rng = self.rng
        roll = rng.random()
        if roll < 0.30:
            return 'GET', rng.choice(STATIC), (200 if rng.random() < 0.8 else 304)
        if roll < 0.62:
            path = '/api/v1/households/%d' % rng.randrange(1, 4000000)
            status = 200
            second = rng.random()
            if second < 0.04:
                status = 404
            elif second < 0.05:
                status = 403
            elif second < 0.058:
                status = 500
            elif second < 0.064:
                status = 502
            elif second < 0.067:
                status = 503
            elif second < 0.074:
                status = 429
            elif second < 0.09:
                status = 401
            return ('GET' if rng.random() < 0.8 else 'PUT'), path, status
        if roll < 0.80:
            return 'GET', '/api/v1/payments?program=%s&page=%d' % (rng.choice(('4ps', 'uct', 'socpen')), rng.randrange(1, 50)), \
                rng.choice((200, 200, 200, 200, 200, 200, 204, 400, 504))
        if roll < 0.86:
            # honest logins: most succeed, some mistype their password
            path = rng.choice(('/api/auth/login', '/login', '/login?next=/households'))
            return 'POST', path, (200 if rng.random() < 0.85 else 401)
        if roll < 0.90:
            return 'GET', '/login', 200
        if roll < 0.93:
            return 'GET', '/health', 200
        if roll < 0.95:
            return 'GET', rng.choice(('/wp-login.php', '/.env', '/admin/config.php', '/loginhelp')), 404
        return 'GET', '/households?page=%d' % rng.randrange(1, 200), rng.choice((200, 200, 200, 301, 302))

    def _line(self, ip, epoch, method, path, status, agent=None):
        rng = self.rng
        size = 0 if status in (204, 304) else rng.randrange(150, 48000)
        user = '-' if rng.random() < 0.97 else rng.choice(('dsr_encoder', 'juan.delacruz', 'maria.santos'))
        fields = (ip, user, self._stamp(epoch), method, path, status, size, rng.choice(REFERERS), agent or rng.choice(AGENTS))
        return '%s - %s [%s] "%s %s HTTP/1.1" %d %d "%s" "%s"\n' % fields

    def _malformed(self, ip, epoch):
        rng = self.rng
        kind = rng.randrange(5)
        if kind == 0:
            full = self._line(ip, epoch, 'GET', '/api/v1/households/1', 200)
            return full[:rng.randrange(10, len(full) - 10)] + '\n'  # truncated write
        if kind == 1:
            return '\n'
        if kind == 2:
            return ''.join(chr(rng.randrange(33, 127)) for dummy in range(rng.randrange(5, 80))) + '\n'
        if kind == 3:
            return '%s - - [%s] "GET /api/v1/households/2 HTTP/1.1" 2OO 512 "-" "curl/8.5.0"\n' % (ip, self._stamp(epoch))
        return '%s - - [%s "GET / HTTP/1.1" 200 612 "-" "-"\n' % (ip, self._stamp(epoch))

    def lines(self, count, start, end):
        """Yield ``count`` lines (malformed ones included) between epochs ``start`` and ``end``."""
        rng = self.rng
        step = (end - start) / max(count, 1)
        # brute-force campaigns: each attacker gets a window and a rate; the burst gets one minute
        attack = []
        for index, ip in enumerate(self.brute_force):
            begin = start + (end - start) * (0.15 + 0.25 * index)
            attack.append((ip, begin, begin + (end - start) * 0.2, 0.002 + 0.001 * index))
        burst_at = start + (end - start) * 0.6
        burst_at -= burst_at % 60
        burst_left = self.burst_requests
        for number in range(count):
            epoch = start + number * step
            if rng.random() < 0.01:
                epoch -= rng.random() * 1.5  # workers finish requests out of order by a second or so
            if rng.random() < self.malformed_rate:
                self.stats['malformed'] += 1
                yield self._malformed(self._client(), epoch)
                continue
            line = None
            for ip, begin, finish, rate in attack:
                if begin <= epoch < finish and rng.random() < rate:
                    path = '/api/auth/login' if rng.random() < 0.8 else '/login'
                    line = self._line(ip, epoch, 'POST', path, 401 if rng.random() < 0.93 else 403, rng.choice(ATTACK_AGENTS))
                    break
            if line is None and burst_left and burst_at <= epoch < burst_at + 55:
                burst_left -= 1
                line = self._line(self.burst_ip, epoch, 'GET', '/api/v1/households/%d' % rng.randrange(1, 4000000),
                                  rng.choice((200, 200, 200, 429)), 'python-requests/2.31.0')
            if line is None:
                method, path, status = self._ordinary()
                line = self._line(self._client(), epoch, method, path, status)
            self.stats['lines'] += 1
            yield line


def _open(path, level):
    if str(path).endswith('.gz'):
        return gzip.open(path, 'wt', encoding='utf-8', compresslevel=level, newline='\n')
    return open(path, 'w', encoding='utf-8', newline='\n')


AVERAGE_LINE = 177  # bytes, measured over 200,000 lines of seed 42


def write_access_log(path, size, generator, start, end, level=6, batch=20000):
    """Write about ``size`` bytes of uncompressed lines spanning ``start``..``end`` to ``path`` (gzip'd when it ends in .gz).

    Returns (lines, bytes) written; the size is met within a few percent.
    """
    written = 0
    lines = 0
    produced = generator.lines(max(size // AVERAGE_LINE, 1), start, end)
    with _open(path, level) as handle:
        while True:
            chunk = [line for dummy, line in zip(range(batch), produced)]
            if not chunk:
                break
            text = ''.join(chunk)
            handle.write(text)
            written += len(text)
            lines += len(chunk)
    return lines, written


def write_app_logs(directory, rng, end, lines_per_file=2000):
    """Application logs in the DSR style, with ``authentication failed`` among other messages; return their counts."""
    os.makedirs(directory, exist_ok=True)
    counts = {}
    messages = (
        ('INFO', 'request completed in %d ms'),
        ('INFO', 'user logged in'),
        ('WARN', 'slow query took %d ms'),
        ('ERROR', 'authentication failed for user %s from %s'),
        ('ERROR', 'Authentication Failed: token expired'),  # other case: a fixed-string grep is case-sensitive
        ('ERROR', 'database connection refused'),
    )
    users = ('juan.delacruz', 'maria.santos', 'admin', 'root', 'dsr_encoder')
    for name in ('app.log', 'auth.log', 'auth.log.1.gz'):
        path = os.path.join(directory, name)
        failed = 0
        with _open(path, 6) as handle:
            for index in range(lines_per_file):
                moment = datetime.datetime.fromtimestamp(end - (lines_per_file - index) * 30, datetime.timezone.utc)
                level, text = rng.choice(messages if name != 'app.log' else messages[:3] + messages[5:])
                if '%s from %s' in text:
                    text = text % (rng.choice(users), '185.220.101.7')
                    failed += 1
                elif '%d' in text:
                    text = text % rng.randrange(5, 9000)
                handle.write('%s %s [dsr-api] %s\n' % (moment.strftime('%Y-%m-%dT%H:%M:%SZ'), level, text))
        counts[name] = {'lines': lines_per_file, 'authentication_failed': failed}
    return counts


def main(argv=None):
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument('--output', help='one access log file (gzip\'d when it ends in .gz)')
    target.add_argument('--out', help='a directory to fill with nginx/access.log, access.log.1, access.log.2.gz and dsr/*.log')
    parser.add_argument('--size', default='10MB', help='uncompressed size of the access log(s), e.g. 20MB, 1GB (default 10MB)')
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--ips', type=int, default=50000, help='distinct ordinary client IPs in the pool (default 50000)')
    parser.add_argument('--malformed-rate', type=float, default=0.0005, help='share of malformed lines (default 0.0005)')
    parser.add_argument('--end', default='2026-03-16T09:00:00+08:00', help='time of the last line, ISO 8601 (default 2026-03-16T09:00:00+08:00)')
    parser.add_argument('--span', type=float, default=72, help='hours covered by the log(s) (default 72)')
    parser.add_argument('--tz', default='+0800', help='time zone offset written in $time_local (default +0800)')
    parser.add_argument('--level', type=int, default=6, help='gzip level for .gz files (default 6, as gzip)')
    args = parser.parse_args(argv)
    try:
        size = parse_size(args.size)
        end = datetime.datetime.fromisoformat(args.end).timestamp()
        generator = Generator(seed=args.seed, ips=args.ips, malformed_rate=args.malformed_rate, tz=args.tz)
    except ValueError as exc:
        parser.error(str(exc))
    start = end - args.span * 3600
    summary = {'seed': args.seed, 'brute_force_ips': generator.brute_force, 'burst_ip': generator.burst_ip, 'files': {}}
    if args.output:
        directory = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(directory, exist_ok=True)
        lines, written = write_access_log(args.output, size, generator, start, end, args.level)
        summary['files'][args.output] = {'lines': lines, 'bytes': written}
    else:
        nginx = os.path.join(args.out, 'nginx')
        os.makedirs(nginx, exist_ok=True)
        third = (end - start) / 3
        for index, name in enumerate(('access.log.2.gz', 'access.log.1', 'access.log')):
            path = os.path.join(nginx, name)
            lines, written = write_access_log(path, size // 3, generator, start + index * third, start + (index + 1) * third, args.level)
            summary['files'][path] = {'lines': lines, 'bytes': written}
        summary['app_logs'] = write_app_logs(os.path.join(args.out, 'dsr'), generator.rng, end)
    summary['malformed'] = generator.stats['malformed']
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
