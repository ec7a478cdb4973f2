# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Throwaway servers for the dsr.ops test suite and sandbox: the fixture layer.

Every service here is real and runs on loopback, started and stopped by this
file: no docker, no systemd. A harness lives in one directory holding the
servers' data, logs and ``state.json`` (0600: it holds generated passwords),
which tests, integration targets and the sandbox read.

Services:

* ``postgres``: a PostgreSQL primary owned by the ``postgres`` user (initdb
  refuses root), scram-sha-256 password authentication on TCP,
  ``pg_stat_statements`` preloaded, a few roles with different privileges,
  a streaming standby made with ``pg_basebackup`` on its own slot, and
  ``ssl = on`` with a certificate from the harness CA (key 0600, owned by
  postgres; ``--no-pg-ssl`` turns it off).
* ``prometheus``: Debian's Prometheus (HTTPS and basic auth through its web
  config, scraping every second) over the test exporter of
  ``dsr_test_servers.py``, whose values tests control, plus a bearer-token
  proxy in front of it. The monitoring role's alert rules are loaded.
* ``tls``: TLS endpoints whose certificates are expired, expire in 3, 20 and
  90 days, and one whose intermediate expires before its leaf.
* ``s3``: an S3 API server, moto in server mode over HTTP (in memory, any
  credentials), for the off-site backup copies.
* ``elasticsearch``: ``es_stub.py`` (a stub of the Elasticsearch 8 / 9 and
  OpenSearch 2 REST API, not a search engine) in three flavours over HTTPS,
  with basic auth, an API key and a bearer token, seeded with DSR logs.
* ``kubernetes``: ``k8s_stub.py`` (a stub of the Kubernetes API server, not
  an API server) over HTTPS with a random bearer token (0600 file), seeded
  with the ``healthy`` scenario of ``k8s_fixtures.py`` (``dsr-production``);
  scenarios and faults are switched through its ``/_stub/`` endpoints.

Every certificate comes from one harness CA (root and intermediate) made with
``cryptography`` in ``DIR/ca``. More services are added as more ``Service``
classes with the same ``start``/``stop``/``state`` shape.

CLI::

    python tests/harness/dsr_harness.py up   --dir /tmp/dsr-harness [--services postgres,prometheus,tls,s3,elasticsearch,kubernetes] [--no-standby]
    python tests/harness/dsr_harness.py down --dir /tmp/dsr-harness
    python tests/harness/dsr_harness.py env  --dir /tmp/dsr-harness   # shell exports for psql & co
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import glob
import ipaddress
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings

STATE_FILE = 'state.json'

# Roles every harness cluster has. The passwords are generated per harness.
ROLES = {
    # a superuser with a password, for TCP logins
    'postgres': 'SUPERUSER',
    # a monitoring role: pg_monitor includes pg_read_all_stats
    'dsr_monitor': 'LOGIN',
    # a role WITHOUT pg_read_all_stats: it cannot see other users' sessions
    'dsr_limited': 'LOGIN',
    # the application's role, owner of the application database
    'dsr_app': 'LOGIN',
    'replicator': 'LOGIN REPLICATION',
}

APP_DATABASE = 'dsr_db'


class HarnessError(RuntimeError):
    """A server could not be set up; the message says which and why."""


def free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def find_pg_bindir():
    """Locate PostgreSQL's server binaries: $DSR_PG_BINDIR, else the newest Debian install."""
    explicit = os.environ.get('DSR_PG_BINDIR')
    if explicit:
        return explicit
    candidates = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'), key=lambda p: int(p.split('/')[4]) if p.split('/')[4].isdigit() else 0)
    if candidates:
        return os.path.dirname(candidates[-1])
    initdb = shutil.which('initdb')
    if initdb:
        return os.path.dirname(os.path.realpath(initdb))
    raise HarnessError('PostgreSQL server binaries not found: install postgresql-15 or set DSR_PG_BINDIR')


class Runner:
    """Runs commands as the service user: ``postgres`` when we are root."""

    def __init__(self):
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                entry = pwd.getpwnam('postgres')
            except KeyError:
                raise HarnessError('running as root but there is no postgres user: install postgresql-15') from None
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()

    def own(self, path):
        """Give ``path`` to the service user."""
        if self.as_root:
            os.chown(path, self.uid, self.gid)

    def argv(self, argv, env=None):
        """The argument list that runs ``argv`` as the service user with extra ``env``."""
        prefix = ['runuser', '-u', 'postgres', '--'] if self.as_root else []
        env_args = ['env'] + ['%s=%s' % item for item in sorted((env or {}).items())] if env else []
        return prefix + env_args + list(argv)

    def run(self, argv, env=None, check=True, timeout=300, stdin=None):
        """Run a command as the service user; raise HarnessError with its output on failure."""
        full = self.argv(argv, env)
        # the caller's libpq settings (PGPASSWORD, PGHOST, ...) must not redirect the harness's own tools
        clean = {key: value for key, value in os.environ.items() if not key.startswith('PG')}
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False, cwd='/', env=clean,
                              input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise HarnessError('%s failed (%d):\n%s%s' % (shlex.join(argv), proc.returncode, proc.stdout, proc.stderr))
        return proc


def write_private(path, text, runner=None):
    """Write a 0600 file, owned by the service user when a runner is given."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    if runner:
        runner.own(path)


HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TEST_SERVERS = os.path.join(HERE, 'dsr_test_servers.py')
ALERT_RULES = os.path.join(REPO, 'roles', 'monitoring', 'files', 'dsr-alerts.rules.yml')
DAY = datetime.timedelta(days=1)


class HarnessCA:
    """A root and an intermediate CA in ``DIR/ca``, shared by every service of a harness.

    Leaf certificates name ``localhost``, ``127.0.0.1`` and ``NAME.dsr.test``.
    EC P-256 keys: fast to make, and any TLS client speaks them.
    """

    def __init__(self, base_dir):
        # imported here: the postgres-only harness of older checkouts must not need it
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
        self.x509, self.hashes, self.serialization, self.ec = x509, hashes, serialization, ec
        self.dir = os.path.join(base_dir, 'ca')
        self.root_file = os.path.join(self.dir, 'root.pem')
        self.now = datetime.datetime.now(datetime.timezone.utc)
        if os.path.exists(self.root_file):
            self.root, self.root_key = self._load('root')
            self.intermediate, self.intermediate_key = self._load('intermediate')
        else:
            os.makedirs(self.dir, mode=0o755, exist_ok=True)
            self.root_key = self._key()
            self.root = self._sign('DSR Harness Root CA', self.root_key.public_key(), None, self.root_key,
                                   self.now - DAY, self.now + 3650 * DAY, ca=True)
            self.intermediate, self.intermediate_key = self.issue_ca('DSR Harness Issuing CA', self.now + 1825 * DAY)
            self._save('root', self.root, self.root_key)
            self._save('intermediate', self.intermediate, self.intermediate_key)

    def _key(self):
        return self.ec.generate_private_key(self.ec.SECP256R1())

    def _name(self, common_name):
        x509 = self.x509
        return x509.Name([x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, 'DSR harness'),
                          x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])

    def _sign(self, common_name, public_key, issuer, issuer_key, not_before, not_after, ca=False, sans=()):
        x509 = self.x509
        builder = (x509.CertificateBuilder()
                   .subject_name(self._name(common_name))
                   .issuer_name(issuer.subject if issuer is not None else self._name(common_name))
                   .public_key(public_key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before)
                   .not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        if sans:
            names = []
            for name in sans:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    names.append(x509.DNSName(name))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(issuer_key, self.hashes.SHA256())

    def _pem(self, certificate):
        return certificate.public_bytes(self.serialization.Encoding.PEM).decode('ascii')

    def _key_pem(self, key):
        return key.private_bytes(self.serialization.Encoding.PEM, self.serialization.PrivateFormat.PKCS8,
                                 self.serialization.NoEncryption()).decode('ascii')

    def _save(self, stem, certificate, key):
        with open(os.path.join(self.dir, stem + '.pem'), 'w', encoding='ascii') as handle:
            handle.write(self._pem(certificate))
        write_private(os.path.join(self.dir, stem + '.key'), self._key_pem(key))

    def _load(self, stem):
        with open(os.path.join(self.dir, stem + '.pem'), 'rb') as handle:
            certificate = self.x509.load_pem_x509_certificate(handle.read())
        with open(os.path.join(self.dir, stem + '.key'), 'rb') as handle:
            key = self.serialization.load_pem_private_key(handle.read(), password=None)
        return certificate, key

    def issue_ca(self, common_name, not_after):
        """A further intermediate CA under the root (for a chain whose intermediate expires first)."""
        key = self._key()
        return self._sign(common_name, key.public_key(), self.root, self.root_key, self.now - DAY, not_after, ca=True), key

    def issue(self, directory, name, not_before, not_after, issuer=None, runner=None, present_issuer=True, self_signed=False):
        """Write NAME.crt (leaf + intermediate) and NAME.key (0600) in ``directory``; return their paths and dates.

        ``present_issuer=False`` leaves the intermediate out of the chain file (a server that forgets it);
        ``self_signed=True`` signs the leaf with its own key (no CA at all).
        """
        issuer, issuer_key = issuer or (self.intermediate, self.intermediate_key)
        key = self._key()
        if self_signed:
            leaf = self._sign(name, key.public_key(), None, key, not_before, not_after,
                              sans=('localhost', '127.0.0.1', '%s.dsr.test' % name))
            issuer = leaf
        else:
            leaf = self._sign(name, key.public_key(), issuer, issuer_key, not_before, not_after,
                              sans=('localhost', '127.0.0.1', '%s.dsr.test' % name))
        chain_file = os.path.join(directory, name + '.crt')
        key_file = os.path.join(directory, name + '.key')
        with open(chain_file, 'w', encoding='ascii') as handle:
            handle.write(self._pem(leaf) + (self._pem(issuer) if present_issuer and not self_signed else ''))
        write_private(key_file, self._key_pem(key), runner)
        if runner:
            runner.own(chain_file)
        return {'chain': chain_file, 'key': key_file, 'leaf_not_after': leaf.not_valid_after_utc.strftime('%Y-%m-%dT%H:%M:%SZ'),
                'issuer_not_after': issuer.not_valid_after_utc.strftime('%Y-%m-%dT%H:%M:%SZ'), 'server_name': '%s.dsr.test' % name}


def wait_for_port(port, what, log, timeout=30):
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            if sock.connect_ex(('127.0.0.1', port)) == 0:
                return
        time.sleep(0.1)
    raise HarnessError('%s did not listen on 127.0.0.1:%d within %d s; see %s' % (what, port, timeout, log))


def spawn(argv, log, pidfile):
    """Start a background server in its own session; record its pid."""
    with open(log, 'ab') as handle:
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                cwd='/', start_new_session=True)
    with open(pidfile, 'w', encoding='ascii') as handle:
        handle.write('%d\n' % proc.pid)
    return proc.pid


def kill_pidfile(pidfile, marker):
    """Stop the process of ``pidfile`` if its command line still contains ``marker`` (no pid reuse accident)."""
    try:
        with open(pidfile, encoding='ascii') as handle:
            pid = int(handle.read().strip())
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            cmdline = handle.read().decode('utf-8', errors='replace')
    except (OSError, ValueError):
        return
    if marker not in cmdline:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not os.path.exists('/proc/%d' % pid) or _zombie(pid):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.unlink(pidfile)


def _zombie(pid):
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
            return handle.read().split(') ', 1)[1].startswith('Z')
    except (OSError, IndexError):
        return True


class Service:
    """One server of the harness. Subclasses fill ``state`` on start."""

    name = 'service'

    def __init__(self, base_dir, runner):
        self.base_dir = base_dir
        self.runner = runner
        self.state = {}

    def start(self):
        """Start the server and record how to reach it in ``self.state``."""
        raise NotImplementedError

    def stop(self, state):
        """Stop the server described by ``state`` (from a previous start)."""
        raise NotImplementedError


class PostgresService(Service):
    """A PostgreSQL 15 primary with scram-sha-256 on TCP and a streaming standby."""

    name = 'postgres'

    def __init__(self, base_dir, runner, standby=True, max_connections=40, ssl_on=True):
        super().__init__(base_dir, runner)
        self.standby = standby
        self.ssl_on = ssl_on
        self.max_connections = max_connections
        self.bindir = find_pg_bindir()
        self.dir = os.path.join(base_dir, 'postgres')
        self.socket_dir = os.path.join(self.dir, 'sock')
        self.passfile = os.path.join(self.dir, 'pgpass')

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    def _pg_ctl(self, data_dir, action, log=None):
        argv = [self._bin('pg_ctl'), '-D', data_dir, '-w', '-t', '120']
        if log:
            argv += ['-l', log]
        if action == 'stop':
            argv += ['-m', 'fast']
        return self.runner.run(argv + [action], check=action != 'stop')

    def psql(self, sql, port, database='postgres'):
        """Run SQL as the superuser through the private socket; return stdout.

        The SQL goes through stdin so that passwords in it never show in a process list.
        """
        argv = [self._bin('psql'), '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', self.socket_dir,
                '-p', str(port), '-U', 'postgres', '-d', database, '-f', '-']
        return self.runner.run(argv, stdin=sql).stdout.strip()

    def _conf(self, port, extra):
        lines = [
            "port = %d" % port,
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = '%s'" % self.socket_dir,
            "max_connections = %d" % self.max_connections,
            "shared_preload_libraries = 'pg_stat_statements'",
            "password_encryption = 'scram-sha-256'",
            "wal_level = replica",
            "max_wal_senders = 5",
            "max_replication_slots = 5",
            "hot_standby = on",
            # throwaway data: durability of the server itself is not under test
            "fsync = off",
            "synchronous_commit = off",
            "track_io_timing = on",
            "log_line_prefix = '%m [%p] %u@%d '",
        ]
        return '\n'.join(lines + extra) + '\n'

    def start(self):
        os.makedirs(self.socket_dir, mode=0o700)
        for path in (self.dir, self.socket_dir):
            self.runner.own(path)
        passwords = {role: secrets.token_urlsafe(18) for role in ROLES}
        pwfile = os.path.join(self.dir, 'initdb.pw')
        write_private(pwfile, passwords['postgres'] + '\n', self.runner)
        primary_data = os.path.join(self.dir, 'primary')
        primary_port = free_port()
        self.runner.run([self._bin('initdb'), '-D', primary_data, '-U', 'postgres', '-E', 'UTF8', '--locale=C',
                         '--auth-local=trust', '--auth-host=scram-sha-256', '--pwfile', pwfile])
        os.unlink(pwfile)
        tls = self._server_certificate() if self.ssl_on else None
        with open(os.path.join(primary_data, 'postgresql.auto.conf'), 'a', encoding='utf-8') as conf:
            # the standby inherits this file through pg_basebackup, so it serves TLS too
            conf.write(self._conf(primary_port, self._ssl_conf(tls)))
        hba = ('# dsr.ops harness: socket logins are trusted (private 0700 directory), TCP needs a password\n'
               'local all all trust\n'
               'host all all 127.0.0.1/32 scram-sha-256\n'
               'host replication replicator 127.0.0.1/32 scram-sha-256\n')
        write_private(os.path.join(primary_data, 'pg_hba.conf'), hba, self.runner)
        primary_log = os.path.join(self.dir, 'primary.log')
        self._pg_ctl(primary_data, 'start', primary_log)

        statements = []
        for role, attributes in ROLES.items():
            verb = 'ALTER' if role == 'postgres' else 'CREATE'
            statements.append("%s ROLE %s %s PASSWORD '%s'" % (verb, role, attributes, passwords[role]))
        statements += [
            'GRANT pg_monitor TO dsr_monitor',
            'CREATE DATABASE %s OWNER dsr_app' % APP_DATABASE,
            'CREATE EXTENSION IF NOT EXISTS pg_stat_statements',
        ]
        for statement in statements:
            self.psql(statement, primary_port)
        self.psql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', primary_port, APP_DATABASE)

        self.state = {
            'bindir': self.bindir,
            'version': self.psql('SHOW server_version', primary_port),
            'host': '127.0.0.1',
            'port': primary_port,
            'socket_dir': self.socket_dir,
            'data_dir': primary_data,
            'log': primary_log,
            'database': APP_DATABASE,
            'max_connections': self.max_connections,
            'passwords': passwords,
            'standby': None,
            'ssl': bool(tls),
            'ssl_cert': tls['chain'] if tls else None,
            'ssl_not_after': tls['leaf_not_after'] if tls else None,
            'ca_cert': tls['ca_cert'] if tls else None,
        }
        if self.standby:
            self.state['standby'] = self._start_standby(primary_port, passwords)
        return self.state

    def _server_certificate(self):
        """The server's certificate and key (0600, owned by postgres, as the server insists) from the harness CA."""
        directory = os.path.join(self.dir, 'tls')
        os.makedirs(directory, mode=0o755)
        ca = HarnessCA(self.base_dir)
        tls = ca.issue(directory, 'postgres', ca.now - DAY, ca.now + 120 * DAY, runner=self.runner)
        tls['ca_cert'] = ca.root_file
        return tls

    @staticmethod
    def _ssl_conf(tls):
        if not tls:
            return []
        return ["ssl = on", "ssl_cert_file = '%s'" % tls['chain'], "ssl_key_file = '%s'" % tls['key']]

    def _start_standby(self, primary_port, passwords):
        write_private(self.passfile, '127.0.0.1:%d:*:replicator:%s\n' % (primary_port, passwords['replicator']), self.runner)
        data = os.path.join(self.dir, 'standby')
        port = free_port()
        self.runner.run([self._bin('pg_basebackup'), '-h', '127.0.0.1', '-p', str(primary_port), '-U', 'replicator',
                         '-D', data, '-R', '-C', '-S', 'standby1', '-X', 'stream', '-c', 'fast'],
                        env={'PGPASSFILE': self.passfile})
        with open(os.path.join(data, 'postgresql.auto.conf'), 'a', encoding='utf-8') as conf:
            conninfo = "host=127.0.0.1 port=%d user=replicator passfile=''%s'' application_name=standby1" % (primary_port, self.passfile)
            conf.write(self._conf(port, ["cluster_name = 'standby1'", "primary_conninfo = '%s'" % conninfo]))
        log = os.path.join(self.dir, 'standby.log')
        self._pg_ctl(data, 'start', log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", primary_port) == '1':
                break
            time.sleep(0.2)
        else:
            raise HarnessError('the standby did not start streaming within 60 s; see %s' % log)
        return {'host': '127.0.0.1', 'port': port, 'data_dir': data, 'log': log, 'slot': 'standby1', 'application_name': 'standby1'}

    def stop(self, state):
        standby = state.get('standby')
        if standby:
            self._pg_ctl(standby['data_dir'], 'stop')
        self._pg_ctl(state['data_dir'], 'stop')


class TlsService(Service):
    """TLS endpoints with certificates at the thresholds that matter, from the harness CA."""

    name = 'tls'

    # name -> (leaf not_before, leaf not_after) as days from now; an hour of slack keeps
    # the whole-day figures stable through a test run
    LEAVES = {
        'expired': (-60, -2),
        'days3': (-30, 3 + 1 / 24),
        'days20': (-30, 20 + 1 / 24),
        'days90': (-30, 90 + 1 / 24),
    }
    # the leaf outlives its intermediate: the chain breaks when the intermediate expires
    INTERMEDIATE_FIRST = {'intermediate_days': 10 + 1 / 24, 'leaf_days': 60 + 1 / 24}

    def __init__(self, base_dir, runner):
        super().__init__(base_dir, runner)
        self.dir = os.path.join(base_dir, 'tls')

    def start(self):
        os.makedirs(self.dir, mode=0o755)
        ca = HarnessCA(self.base_dir)
        endpoints = {}
        for name, (start, end) in self.LEAVES.items():
            endpoints[name] = ca.issue(self.dir, name, ca.now + start * DAY, ca.now + end * DAY)
        short_ca = ca.issue_ca('DSR Harness Short-lived CA', ca.now + self.INTERMEDIATE_FIRST['intermediate_days'] * DAY)
        endpoints['intermediate_first'] = ca.issue(self.dir, 'intermediate_first', ca.now - 30 * DAY,
                                                   ca.now + self.INTERMEDIATE_FIRST['leaf_days'] * DAY, issuer=short_ca)
        # chains clients refuse whatever the dates: the intermediate left out, and no CA at all
        endpoints['no_intermediate'] = ca.issue(self.dir, 'no_intermediate', ca.now - 30 * DAY, ca.now + 90 * DAY, present_issuer=False)
        endpoints['self_signed'] = ca.issue(self.dir, 'self_signed', ca.now - 30 * DAY, ca.now + 90 * DAY, self_signed=True)
        servers = []
        for name, endpoint in endpoints.items():
            endpoint.update({'host': '127.0.0.1', 'port': free_port(), 'name': name})
            servers.append({'port': endpoint['port'], 'chain': endpoint['chain'], 'key': endpoint['key']})
        config = os.path.join(self.dir, 'servers.json')
        with open(config, 'w', encoding='utf-8') as handle:
            json.dump(servers, handle)
        log = os.path.join(self.dir, 'servers.log')
        pidfile = os.path.join(self.dir, 'servers.pid')
        spawn([sys.executable, TEST_SERVERS, 'tls', '--config', config], log, pidfile)
        for endpoint in endpoints.values():
            wait_for_port(endpoint['port'], 'TLS endpoint %s' % endpoint['name'], log)
        self.state = {'ca_cert': ca.root_file, 'endpoints': endpoints, 'pidfile': pidfile, 'log': log}
        return self.state

    def stop(self, state):
        kill_pidfile(state['pidfile'], self.dir)


class PrometheusService(Service):
    """Debian's Prometheus over HTTPS with basic auth, scraping the test exporter every second.

    A bearer-token proxy (``dsr_test_servers.py bearer-proxy``) stands in front of it for
    tests of token authentication. The exporter starts with one healthy profile,
    ``dsr-app-1``; tests add their own through its control API.
    """

    name = 'prometheus'
    USERNAME = 'dsr_monitor'
    INITIAL_PROFILES = [{'instance': 'dsr-app-1', 'job': 'dsr-api'}]

    def __init__(self, base_dir, runner):
        super().__init__(base_dir, runner)
        self.dir = os.path.join(base_dir, 'prometheus')

    @staticmethod
    def binary():
        """Prometheus from $DSR_PROMETHEUS or PATH (Debian's package installs /usr/bin/prometheus)."""
        path = os.environ.get('DSR_PROMETHEUS') or shutil.which('prometheus')
        if not path:
            raise HarnessError('prometheus not found: apt-get install --no-install-recommends prometheus (see bindep.txt)')
        return path

    def start(self):
        prometheus = self.binary()
        os.makedirs(self.dir, mode=0o755)
        ca = HarnessCA(self.base_dir)
        tls = ca.issue(self.dir, 'prometheus', ca.now - DAY, ca.now + 120 * DAY)
        password = secrets.token_urlsafe(18)
        token = secrets.token_urlsafe(24)
        with warnings.catch_warnings():
            # crypt is deprecated in 3.11 but libxcrypt's bcrypt is what Prometheus's web config needs
            warnings.simplefilter('ignore', DeprecationWarning)
            import crypt  # pylint: disable=import-outside-toplevel,deprecated-module
            password_hash = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
        if not password_hash or not password_hash.startswith('$2'):
            raise HarnessError('this system cannot make bcrypt hashes for the Prometheus web config')

        exporter_port, prom_port, proxy_port = free_port(), free_port(), free_port()
        profiles = os.path.join(self.dir, 'profiles.json')
        with open(profiles, 'w', encoding='utf-8') as handle:
            json.dump(self.INITIAL_PROFILES, handle)
        exporter_log = os.path.join(self.dir, 'exporter.log')
        exporter_pid = os.path.join(self.dir, 'exporter.pid')
        spawn([sys.executable, TEST_SERVERS, 'exporter', '--port', str(exporter_port), '--profiles', profiles], exporter_log, exporter_pid)
        wait_for_port(exporter_port, 'the test exporter', exporter_log)

        web_config = os.path.join(self.dir, 'web.yml')
        write_private(web_config, json.dumps({
            'tls_server_config': {'cert_file': tls['chain'], 'key_file': tls['key']},
            'basic_auth_users': {self.USERNAME: password_hash},
        }, indent=2) + '\n')
        targets = ['127.0.0.1:%d' % exporter_port]
        config = {
            'global': {'scrape_interval': '1s', 'scrape_timeout': '1s', 'evaluation_interval': '1s'},
            'rule_files': [ALERT_RULES] if os.path.exists(ALERT_RULES) else [],
            'scrape_configs': [
                # honor_labels: the exporter speaks for several instances, like a federation endpoint
                {'job_name': 'dsr-exporter', 'honor_labels': True, 'static_configs': [{'targets': targets}]},
                {'job_name': 'dsr-flaky', 'metrics_path': '/metrics/flaky', 'static_configs': [{'targets': targets}]},
            ],
        }
        config_file = os.path.join(self.dir, 'prometheus.yml')
        with open(config_file, 'w', encoding='utf-8') as handle:
            json.dump(config, handle, indent=2)
        log = os.path.join(self.dir, 'prometheus.log')
        pidfile = os.path.join(self.dir, 'prometheus.pid')
        spawn([prometheus, '--config.file=' + config_file, '--web.config.file=' + web_config,
               '--storage.tsdb.path=' + os.path.join(self.dir, 'data'), '--web.listen-address=127.0.0.1:%d' % prom_port,
               '--storage.tsdb.retention.time=1d', '--web.enable-lifecycle', '--log.level=warn'], log, pidfile)
        url = 'https://127.0.0.1:%d' % prom_port

        proxy_config = os.path.join(self.dir, 'bearer-proxy.json')
        write_private(proxy_config, json.dumps({'token': token, 'upstream': url, 'username': self.USERNAME,
                                                'password': password, 'ca_cert': ca.root_file}))
        proxy_log = os.path.join(self.dir, 'bearer-proxy.log')
        proxy_pid = os.path.join(self.dir, 'bearer-proxy.pid')
        spawn([sys.executable, TEST_SERVERS, 'bearer-proxy', '--port', str(proxy_port), '--config', proxy_config], proxy_log, proxy_pid)

        self.state = {
            'url': url,
            'username': self.USERNAME,
            'password': password,
            'ca_cert': ca.root_file,
            'bearer_url': 'http://127.0.0.1:%d' % proxy_port,
            'bearer_token': token,
            'exporter_url': 'http://127.0.0.1:%d' % exporter_port,
            'rules_file': config['rule_files'][0] if config['rule_files'] else None,
            'pidfiles': [pidfile, proxy_pid, exporter_pid],
            'log': log,
            'version': subprocess.run([prometheus, '--version'], capture_output=True, text=True, check=False).stdout.split('\n')[0],
        }
        wait_for_port(proxy_port, 'the bearer-token proxy', proxy_log)
        self._wait_ready(url, password, ca.root_file, log)
        return self.state

    def _wait_ready(self, url, password, ca_cert, log, timeout=60):
        """Wait until Prometheus answers and has scraped both jobs at least twice (rate() needs two samples)."""
        context = ssl.create_default_context(cafile=ca_cert)
        auth = 'Basic ' + base64.b64encode(('%s:%s' % (self.USERNAME, password)).encode()).decode()
        query = url + '/api/v1/query?query=' + urllib.request.quote('count(count_over_time(up[1m]) >= 2)')
        deadline = time.monotonic() + timeout
        last = 'no answer'
        while time.monotonic() < deadline:
            request = urllib.request.Request(query, headers={'Authorization': auth})
            try:
                with urllib.request.urlopen(request, context=context, timeout=5) as response:
                    result = json.load(response)['data']['result']
                if result and result[0]['value'][1] == '2':
                    return
                last = 'scrapes not there yet: %s' % result
            except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
                last = str(exc)
            time.sleep(0.5)
        raise HarnessError('Prometheus was not ready within %d s (%s); see %s' % (timeout, last, log))

    def stop(self, state):
        for pidfile in state['pidfiles']:
            kill_pidfile(pidfile, self.dir)


class S3Service(Service):
    """An S3 API server: moto in server mode, over plain HTTP on loopback.

    moto keeps objects in memory, accepts any credentials and answers some
    checksum questions differently from AWS (no ``-N`` suffix on multipart
    checksums, no checksum type on HEAD): tests keep objects modest and do not
    take moto's quirks for S3's behaviour.
    """

    name = 's3'
    ACCESS_KEY = 'dsr-harness-access-key'
    # created at start, like the bucket an environment's backups go to (the modules do not create buckets)
    BUCKET = 'dsr-backups'

    def __init__(self, base_dir, runner):
        super().__init__(base_dir, runner)
        self.dir = os.path.join(base_dir, 's3')

    def start(self):
        os.makedirs(self.dir, mode=0o700)
        port = free_port()
        log = os.path.join(self.dir, 'moto.log')
        pidfile = os.path.join(self.dir, 'moto.pid')
        spawn([sys.executable, '-m', 'moto.server', '-H', '127.0.0.1', '-p', str(port)], log, pidfile)
        wait_for_port(port, 'the moto S3 server', log)
        self.state = {
            'endpoint_url': 'http://127.0.0.1:%d' % port,
            'region': 'us-east-1',
            'access_key': self.ACCESS_KEY,
            # moto accepts any secret; a random one still lets tests prove it never leaks
            'secret_key': secrets.token_urlsafe(30),
            'bucket': self.BUCKET,
            'pidfile': pidfile,
            'log': log,
        }
        self._create_bucket()
        return self.state

    def _create_bucket(self):
        # only this service needs boto3
        import boto3  # pylint: disable=import-outside-toplevel
        boto3.client('s3', endpoint_url=self.state['endpoint_url'], region_name=self.state['region'],
                     aws_access_key_id=self.state['access_key'],
                     aws_secret_access_key=self.state['secret_key']).create_bucket(Bucket=self.BUCKET)

    def stop(self, state):
        kill_pidfile(state['pidfile'], 'moto.server')


class ElasticsearchService(Service):
    """The Elasticsearch 8 / 9 and OpenSearch 2 stub (``es_stub.py``: a stub, not a search engine), one process.

    Three servers (es8, es9, opensearch2) on free ports, HTTPS with a harness certificate, each
    with its own basic-auth password; the Elasticsearch ones also take an API key and a bearer
    token (OpenSearch's security plugin knows basic authentication only). All hold the same DSR
    log documents (``es_stub.dsr_documents``) around the start time, ``seed_now``; the seed is
    in ``seed.json`` so that tests compute their expected figures from it.
    """

    name = 'elasticsearch'
    USERNAME = 'dsr_log_reader'
    FLAVORS = ('es8', 'es9', 'opensearch2')

    def __init__(self, base_dir, runner):
        super().__init__(base_dir, runner)
        self.dir = os.path.join(base_dir, 'elasticsearch')

    def start(self):
        sys.path.insert(0, HERE)
        import es_stub  # pylint: disable=import-outside-toplevel
        os.makedirs(self.dir, mode=0o755)
        ca = HarnessCA(self.base_dir)
        tls = ca.issue(self.dir, 'elasticsearch', ca.now - DAY, ca.now + 120 * DAY)
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        seed_file = os.path.join(self.dir, 'seed.json')
        seed = {'now': now.strftime('%Y-%m-%dT%H:%M:%S.000Z'),
                'documents': [{'index': index, 'source': source} for index, source in es_stub.dsr_documents(now)]}
        with open(seed_file, 'w', encoding='utf-8') as handle:
            json.dump(seed, handle)
        clusters, servers = {}, []
        for flavor in self.FLAVORS:
            port = free_port()
            elastic = es_stub.FLAVORS[flavor]['product'] == 'elasticsearch'
            key_id, key = secrets.token_urlsafe(15), secrets.token_urlsafe(16)
            cluster = {'url': 'https://127.0.0.1:%d' % port, 'product': es_stub.FLAVORS[flavor]['product'],
                       'version': es_stub.FLAVORS[flavor]['number'], 'username': self.USERNAME, 'password': secrets.token_urlsafe(18),
                       'api_key': '%s:%s' % (key_id, key) if elastic else None,
                       'api_key_encoded': base64.b64encode(('%s:%s' % (key_id, key)).encode()).decode() if elastic else None,
                       'bearer_token': secrets.token_urlsafe(32) if elastic else None}
            clusters[flavor] = cluster
            servers.append({'flavor': flavor, 'port': port, 'users': {self.USERNAME: cluster['password']},
                            'api_keys': {key_id: key} if elastic else {}, 'bearer_tokens': [cluster['bearer_token']] if elastic else [],
                            'certfile': tls['chain'], 'keyfile': tls['key']})
        config = os.path.join(self.dir, 'servers.json')
        # the config holds the credentials (0600); the seed file holds none
        write_private(config, json.dumps({'servers': servers, 'seed': seed}))
        log = os.path.join(self.dir, 'stub.log')
        pidfile = os.path.join(self.dir, 'stub.pid')
        spawn([sys.executable, os.path.join(HERE, 'es_stub.py'), '--config', config], log, pidfile)
        self.state = {'ca_cert': ca.root_file, 'seed_file': seed_file, 'seed_now': seed['now'], 'documents': len(seed['documents']),
                      'clusters': clusters, 'pidfile': pidfile, 'log': log}
        for flavor, cluster in clusters.items():
            wait_for_port(int(cluster['url'].rsplit(':', 1)[1]), 'the %s stub' % flavor, log)
            self._wait_ready(cluster, ca.root_file, log)
        return self.state

    @staticmethod
    def _wait_ready(cluster, ca_cert, log, timeout=30):
        """Wait until GET / answers 200 with the basic credentials, over HTTPS verified with the harness CA."""
        context = ssl.create_default_context(cafile=ca_cert)
        auth = 'Basic ' + base64.b64encode(('%s:%s' % (cluster['username'], cluster['password'])).encode()).decode()
        deadline = time.monotonic() + timeout
        last = 'no answer'
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(urllib.request.Request(cluster['url'] + '/', headers={'Authorization': auth}),
                                            context=context, timeout=5) as response:
                    if json.load(response)['version']['number'] == cluster['version']:
                        return
            except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise HarnessError('the %s stub at %s was not ready within %d s (%s); see %s' % (cluster['product'], cluster['url'], timeout, last, log))

    def stop(self, state):
        kill_pidfile(state['pidfile'], self.dir)


class KubernetesService(Service):
    """The Kubernetes API stub (``k8s_stub.py``: a stub, not an API server) as a child process over HTTPS.

    A certificate from the harness CA, a random bearer token in a 0600 file (the stub reads it with
    ``--token-file``, so it is in no process list), the fixtures of ``k8s_fixtures.py`` with the
    ``healthy`` scenario in the namespace ``dsr-production``. Tests switch scenarios and set faults
    through the stub's unauthenticated control endpoints under ``control_url`` (``/_stub/``), and
    put it back with ``POST /_stub/scenario {"names": ["healthy"]}`` and ``DELETE /_stub/faults``.
    """

    name = 'kubernetes'
    NAMESPACE = 'dsr-production'
    SCENARIO = 'healthy'

    def __init__(self, base_dir, runner):
        super().__init__(base_dir, runner)
        self.dir = os.path.join(base_dir, 'kubernetes')

    def start(self):
        sys.path.insert(0, HERE)
        import k8s_stub  # pylint: disable=import-outside-toplevel
        os.makedirs(self.dir, mode=0o755)
        ca = HarnessCA(self.base_dir)
        tls = ca.issue(self.dir, 'kubernetes', ca.now - DAY, ca.now + 120 * DAY)
        token = secrets.token_urlsafe(32)
        token_file = os.path.join(self.dir, 'token')
        write_private(token_file, token + '\n')
        port = free_port()
        url = 'https://127.0.0.1:%d' % port
        log = os.path.join(self.dir, 'stub.log')
        pidfile = os.path.join(self.dir, 'stub.pid')
        spawn([sys.executable, os.path.join(HERE, 'k8s_stub.py'), '--port', str(port), '--cert', tls['chain'], '--key', tls['key'],
               '--token-file', token_file, '--scenario', self.SCENARIO], log, pidfile)
        self.state = {'url': url, 'token': token, 'token_file': token_file, 'user': k8s_stub.DEFAULT_USER, 'ca_cert': ca.root_file,
                      'control_url': url + '/_stub', 'namespace': self.NAMESPACE, 'scenario': self.SCENARIO,
                      'version': k8s_stub.DEFAULT_VERSION, 'pidfile': pidfile, 'log': log}
        wait_for_port(port, 'the Kubernetes API stub', log)
        self._wait_ready(self.state, log)
        return self.state

    @staticmethod
    def _wait_ready(state, log, timeout=30):
        """Wait until GET /version answers 200 with the token, over HTTPS verified with the harness CA."""
        context = ssl.create_default_context(cafile=state['ca_cert'])
        deadline = time.monotonic() + timeout
        last = 'no answer'
        while time.monotonic() < deadline:
            request = urllib.request.Request(state['url'] + '/version', headers={'Authorization': 'Bearer ' + state['token']})
            try:
                with urllib.request.urlopen(request, context=context, timeout=5) as response:
                    if json.load(response)['gitVersion'] == 'v' + state['version']:
                        return
            except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise HarnessError('the Kubernetes API stub at %s was not ready within %d s (%s); see %s' % (state['url'], timeout, last, log))

    def stop(self, state):
        kill_pidfile(state['pidfile'], self.dir)


SERVICES = {
    'postgres': PostgresService,
    'tls': TlsService,
    'prometheus': PrometheusService,
    's3': S3Service,
    'elasticsearch': ElasticsearchService,
    'kubernetes': KubernetesService,
}


def read_state(base_dir):
    """Load a running harness's state.json."""
    path = os.path.join(base_dir, STATE_FILE)
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def up(base_dir, services=('postgres',), standby=True, pg_ssl=True):
    """Start the named services in ``base_dir`` and write its state.json."""
    if os.path.exists(os.path.join(base_dir, STATE_FILE)):
        raise HarnessError('a harness already runs in %s: run "down" first' % base_dir)
    runner = Runner()
    os.makedirs(base_dir, mode=0o755, exist_ok=True)
    state = {'base_dir': base_dir, 'services': {}}
    try:
        for name in services:
            kwargs = {'standby': standby, 'ssl_on': pg_ssl} if name == 'postgres' else {}
            service = SERVICES[name](base_dir, runner, **kwargs)
            state['services'][name] = service.start()
    except BaseException:
        # leave the directory (its logs say what went wrong) but no server running
        _stop_leftovers(base_dir, runner)
        raise
    write_private(os.path.join(base_dir, STATE_FILE), json.dumps(state, indent=2, sort_keys=True))
    return state


def down(base_dir):
    """Stop every service recorded in ``base_dir`` and remove the directory."""
    runner = Runner()
    path = os.path.join(base_dir, STATE_FILE)
    if os.path.exists(path):
        state = read_state(base_dir)
        for name, service_state in state['services'].items():
            service = SERVICES[name](base_dir, runner) if name != 'postgres' else PostgresService(base_dir, runner, standby=False)
            service.stop(service_state)
    _stop_leftovers(base_dir, runner)
    shutil.rmtree(base_dir, ignore_errors=True)


def _stop_leftovers(base_dir, runner):
    """Stop any server under ``base_dir`` that a failed or killed run left behind."""
    for pidfile in glob.glob(os.path.join(base_dir, 'postgres', '*', 'postmaster.pid')):
        runner.run([os.path.join(find_pg_bindir(), 'pg_ctl'), '-D', os.path.dirname(pidfile), '-m', 'immediate', 'stop'], check=False)
    for pidfile in glob.glob(os.path.join(base_dir, '*', '*.pid')):
        kill_pidfile(pidfile, os.path.dirname(pidfile))


def shell_env(state):
    """Shell exports that point libpq tools at the harness primary as postgres."""
    pg = state['services']['postgres']
    exports = {
        'PGHOST': pg['host'],
        'PGPORT': str(pg['port']),
        'PGUSER': 'postgres',
        'PGPASSWORD': pg['passwords']['postgres'],
        'PGDATABASE': pg['database'],
    }
    return ''.join('export %s=%s\n' % (key, shlex.quote(value)) for key, value in exports.items())


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('action', choices=('up', 'down', 'env', 'state'))
    parser.add_argument('--dir', required=True, help='directory of this harness (created by up, removed by down)')
    parser.add_argument('--services', default='postgres', help='comma-separated services to start (%s)' % ', '.join(SERVICES))
    parser.add_argument('--no-standby', action='store_true', help='start the PostgreSQL primary only')
    parser.add_argument('--no-pg-ssl', action='store_true', help='PostgreSQL without ssl = on')
    args = parser.parse_args(argv)
    base_dir = os.path.abspath(args.dir)
    try:
        if args.action == 'up':
            services = [s for s in args.services.split(',') if s]
            unknown = sorted(set(services) - set(SERVICES))
            if unknown:
                parser.error('unknown services: %s' % ', '.join(unknown))
            state = up(base_dir, services, standby=not args.no_standby, pg_ssl=not args.no_pg_ssl)
            pg = state['services'].get('postgres')
            if pg:
                standby = pg['standby']
                print('postgres %s primary on 127.0.0.1:%d%s%s' % (pg['version'], pg['port'], ', standby on 127.0.0.1:%d' % standby['port'] if standby else '',
                                                                   ', ssl on' if pg.get('ssl') else ''))
            prom = state['services'].get('prometheus')
            if prom:
                print('%s on %s (bearer proxy %s, exporter %s)' % (prom['version'], prom['url'], prom['bearer_url'], prom['exporter_url']))
            es = state['services'].get('elasticsearch')
            if es:
                urls = ', '.join('%s on %s' % (flavor, cluster['url']) for flavor, cluster in sorted(es['clusters'].items()))
                print('Elasticsearch stubs (%d documents): %s' % (es['documents'], urls))
            k8s = state['services'].get('kubernetes')
            if k8s:
                print('Kubernetes API stub (scenario %s, namespace %s) on %s' % (k8s['scenario'], k8s['namespace'], k8s['url']))
            tls = state['services'].get('tls')
            if tls:
                print('TLS endpoints: %s' % ', '.join('%s on %d' % (n, e['port']) for n, e in sorted(tls['endpoints'].items())))
        elif args.action == 'down':
            down(base_dir)
        elif args.action == 'env':
            sys.stdout.write(shell_env(read_state(base_dir)))
        else:
            sys.stdout.write(json.dumps(read_state(base_dir), indent=2, sort_keys=True) + '\n')
    except HarnessError as exc:
        print('harness: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
