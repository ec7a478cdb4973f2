# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Throwaway servers for the dsr.ops test suite and sandbox: the fixture layer.

Every service here is real and runs on loopback, started and stopped by this
file: no docker, no systemd. A harness lives in one directory holding the
servers' data, logs and ``state.json`` (0600: it holds generated passwords),
which tests, integration targets and the sandbox read.

Services so far:

* ``postgres``: a PostgreSQL primary owned by the ``postgres`` user (initdb
  refuses root), scram-sha-256 password authentication on TCP,
  ``pg_stat_statements`` preloaded, a few roles with different privileges,
  and a streaming standby made with ``pg_basebackup`` on its own slot.

Later services (S3, Prometheus, TLS endpoints) are added as more ``Service``
classes with the same ``start``/``stop``/``state`` shape.

CLI::

    python tests/harness/dsr_harness.py up   --dir /tmp/dsr-harness [--services postgres] [--no-standby]
    python tests/harness/dsr_harness.py down --dir /tmp/dsr-harness
    python tests/harness/dsr_harness.py env  --dir /tmp/dsr-harness   # shell exports for psql & co
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time

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
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False, cwd='/',
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

    def __init__(self, base_dir, runner, standby=True, max_connections=40):
        super().__init__(base_dir, runner)
        self.standby = standby
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
        with open(os.path.join(primary_data, 'postgresql.auto.conf'), 'a', encoding='utf-8') as conf:
            conf.write(self._conf(primary_port, []))
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
        }
        if self.standby:
            self.state['standby'] = self._start_standby(primary_port, passwords)
        return self.state

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


SERVICES = {
    'postgres': PostgresService,
}


def read_state(base_dir):
    """Load a running harness's state.json."""
    path = os.path.join(base_dir, STATE_FILE)
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def up(base_dir, services=('postgres',), standby=True):
    """Start the named services in ``base_dir`` and write its state.json."""
    if os.path.exists(os.path.join(base_dir, STATE_FILE)):
        raise HarnessError('a harness already runs in %s: run "down" first' % base_dir)
    runner = Runner()
    os.makedirs(base_dir, mode=0o755, exist_ok=True)
    state = {'base_dir': base_dir, 'services': {}}
    try:
        for name in services:
            kwargs = {'standby': standby} if name == 'postgres' else {}
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
    """Stop any cluster under ``base_dir`` that a failed or killed run left behind."""
    for pidfile in glob.glob(os.path.join(base_dir, 'postgres', '*', 'postmaster.pid')):
        runner.run([os.path.join(find_pg_bindir(), 'pg_ctl'), '-D', os.path.dirname(pidfile), '-m', 'immediate', 'stop'], check=False)


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
    args = parser.parse_args(argv)
    base_dir = os.path.abspath(args.dir)
    try:
        if args.action == 'up':
            services = [s for s in args.services.split(',') if s]
            unknown = sorted(set(services) - set(SERVICES))
            if unknown:
                parser.error('unknown services: %s' % ', '.join(unknown))
            state = up(base_dir, services, standby=not args.no_standby)
            pg = state['services'].get('postgres')
            if pg:
                standby = pg['standby']
                print('postgres %s primary on 127.0.0.1:%d%s' % (pg['version'], pg['port'], ', standby on 127.0.0.1:%d' % standby['port'] if standby else ''))
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
